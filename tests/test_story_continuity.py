"""Stories followed from one digest to the next: a story that goes on keeps its id and says
how much is new since it was last shown; one with nothing new is left out; a digest made
again reads the same; a longer digest shows its period's stories whole."""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import json
import os
import re
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
from click.testing import CliRunner
from feedserver import FeedServer, Route
from stored_items import connect

from cli import main
from feeds.text import escape_markdown
from sources.digest.message import to_text
from sources.digest.render import from_json
from sources.follow.opml import Source, save_source_list
from sources.judge.stories import WINDOW, follow_stories, group_stories
from sources.types import StoredItem

CONFIG = """\
[site]
title = "EU Notes"
base_url = "https://notes.example.org/"
timezone = "Europe/Brussels"

[aggregate]
sources = "sources.opml"
database = "c.db"
workers = 1

[digest]
title = "Test digest"
"""
NOW = "2025-03-20T12:00:00Z"
DAY_1, DAY_2 = "2025-03-11", "2025-03-12"


@dataclass(frozen=True)
class Item:
    title: str
    when: str
    summary: str
    link: str


SANCTIONS = "Russia: Council adopts 16th package of sanctions over the war against Ukraine"
ARMENIA = "EU extends mandate of civilian mission in Armenia by two years"
MOLDOVA = "EU opens accession negotiations with Moldova on the fundamentals cluster"
SUMMIT_PREVIEW = "EU leaders to weigh €50bn Ukraine support package at Brussels summit"
SUMMIT_OUTCOME = "European Council: EU leaders agree €50 billion support package for Ukraine"
FEEDS = {
    "/council.xml": (
        "Council of the EU",
        "official",
        [
            Item(
                SANCTIONS,
                "2025-03-11T10:00:00Z",
                "The Council today adopted a 16th package of economic and individual "
                "restrictive measures against Russia over its war of aggression against "
                "Ukraine, listing 48 individuals and 35 entities and banning imports of "
                "Russian primary aluminium.",
                "https://council.example/16th-package",
            ),
            Item(
                ARMENIA,
                "2025-03-11T12:00:00Z",
                "The Council extended the mandate of the EU Mission in Armenia (EUMA), which "
                "monitors the border with Azerbaijan, until February 2027.",
                "https://council.example/euma",
            ),
            Item(
                SUMMIT_OUTCOME,
                "2025-03-12T18:00:00Z",
                "EU leaders meeting in Brussels agreed a €50 billion support package for Ukraine "
                "for 2025-2027 at the European Council summit, after Hungary lifted its veto.",
                "https://council.example/euco-ukraine-facility",
            ),
            Item(
                MOLDOVA,
                "2025-03-12T15:00:00Z",
                "The EU opened accession negotiations with Moldova on the fundamentals "
                "cluster at an intergovernmental conference in Brussels.",
                "https://council.example/moldova-cluster",
            ),
        ],
    ),
    "/wire.xml": (
        "Wire",
        "news",
        [
            Item(
                SUMMIT_PREVIEW,
                "2025-03-11T16:00:00Z",
                "EU leaders gather in Brussels for a European Council summit where they are "
                "expected to agree a €50 billion support package for Ukraine for 2025-2027, if "
                "Hungary lifts its veto.",
                "https://wire.example/euco-preview",
            ),
            Item(
                "EU adopts 16th sanctions package against Russia, bans aluminium imports",
                "2025-03-11T13:00:00Z",
                "EU governments adopted a 16th package of sanctions against Russia over the "
                "war in Ukraine, listing 48 individuals and 35 entities and banning Russian "
                "primary aluminium.",
                "https://wire.example/eu-16th-package",
            ),
        ],
    ),
    "/daily.xml": (
        "Daily",
        "news",
        [
            Item(
                "EU's 16th sanctions package on Russia: aluminium ban and 48 new listings",
                "2025-03-12T07:00:00Z",
                "The EU's 16th package of sanctions against Russia over the war in Ukraine, "
                "adopted by the Council, lists 48 individuals and 35 entities and bans "
                "imports of Russian primary aluminium.",
                "https://daily.example/16th-package-explained",
            ),
        ],
    ),
}


def feed_xml(title: str, items: list[Item]) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>',
        f"<title>{html.escape(title)}</title><link>https://example.org/</link>",
        "<description>test</description>",
    ]
    for item in items:
        when = format_datetime(datetime.fromisoformat(item.when.replace("Z", "+00:00")))
        parts.append(
            f"<item><title>{html.escape(item.title)}</title><link>{item.link}</link>"
            f'<guid isPermaLink="false">{html.escape(item.title)}</guid>'
            f"<pubDate>{when}</pubDate>"
            f"<description>{html.escape(item.summary)}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "communique.toml"
        self.config.write_text(CONFIG, encoding="utf-8")

    def ok(self, *args: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(self.config), *args])
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    def digest(self, out: Path, since: str, until: str) -> dict:
        self.ok("digest", "--out", str(out), "--now", NOW, "--since", since, "--until", until)
        return json.loads(sorted(out.glob("digest-*.json"))[-1].read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    with FeedServer() as server:
        root = tmp_path_factory.mktemp("continuity")
        sources = []
        for path, (title, category, items) in FEEDS.items():
            server.route(path, Route(body=feed_xml(title, items)))
            sources.append(Source(server.url(path), title, category))
        save_source_list(root / "sources.opml", sources)
        project = Project(root)
        project.ok("aggregate", "--all")
        yield project


def stories(document: dict) -> dict[str, dict]:
    return {s["title"]: s for t in document["topics"] for s in t["stories"]}


def files(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` (the storylines' feeds are in a folder), by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def record(out: Path, day: str) -> dict:
    return json.loads((out / f"digest-{day}.json").read_text(encoding="utf-8"))


def test_a_story_that_goes_on_keeps_its_id_and_says_what_is_new(project, tmp_path):
    out = tmp_path / "out"
    project.digest(out, DAY_1, DAY_2)
    project.digest(out, DAY_2, "2025-03-13")
    first, second = stories(record(out, DAY_1)), stories(record(out, DAY_2))

    assert first[SANCTIONS]["status"] == "new" and len(first[SANCTIONS]["sources"]) == 2
    going_on = next(s for s in second.values() if s["id"] == first[SANCTIONS]["id"])
    assert going_on["status"] == "continuing" and going_on["continues"] == DAY_1
    assert [s["source"] for s in going_on["sources"]] == ["Daily"]  # what is new
    assert second[MOLDOVA]["status"] == "new"
    assert ARMENIA not in second  # nothing new joined it: left out

    story = f"story-{going_on['id']}"
    markdown = (out / f"digest-{DAY_2}.md").read_text(encoding="utf-8")
    assert (
        f"continuing: [1 new report since 11 March 2025](<digest-{DAY_1}.html#{story}>)" in markdown
    )
    page = (out / f"digest-{DAY_2}.html").read_text(encoding="utf-8")
    assert (
        f'continuing: <a href="digest-{DAY_1}.html#{story}">1 new report since 11 March 2025</a>'
        in page
    )
    assert f'<article class="story" id="{story}">' in (out / f"digest-{DAY_1}.html").read_text(
        encoding="utf-8"
    )
    mail = to_text(from_json((out / f"digest-{DAY_2}.json").read_text(), ZoneInfo("UTC")))
    assert "continuing: 1 new report since 11 March 2025" in " ".join(mail.split())


def test_a_digest_made_again_reads_the_same(project, tmp_path):
    out = tmp_path / "out"
    project.digest(out, DAY_1, DAY_2)
    project.digest(out, DAY_2, "2025-03-13")
    before = files(out)
    project.digest(out, DAY_2, "2025-03-13")
    assert files(out) == before


def test_a_longer_digest_shows_its_period_s_stories_whole(project, tmp_path):
    out = tmp_path / "daily"
    project.digest(out, DAY_1, DAY_2)
    project.digest(out, DAY_2, "2025-03-13")
    week = stories(project.digest(tmp_path / "week", "2025-03-10", "2025-03-17"))
    assert sorted(s["source"] for s in week[SANCTIONS]["sources"]) == [
        "Council of the EU",
        "Daily",
        "Wire",
    ]
    assert week[SANCTIONS]["status"] == "new"  # nothing of it before the week


def test_a_pruned_item_takes_its_place_in_a_story_with_it(project, tmp_path):
    project.digest(tmp_path / "out", DAY_1, DAY_2)
    copy = tmp_path / "copy.db"  # the module's database stays whole for the other tests
    with (
        contextlib.closing(sqlite3.connect(project.root / "c.db")) as source,
        contextlib.closing(connect(copy)) as db,
    ):
        source.backup(db)
        db.execute("PRAGMA foreign_keys = ON")
        placed = db.execute("SELECT COUNT(*) FROM story_items").fetchone()[0]
        assert placed >= 3
        with db:
            db.execute("DELETE FROM entries WHERE title = ?", (ARMENIA,))
        assert db.execute("SELECT COUNT(*) FROM story_items").fetchone()[0] == placed - 1


def test_explain_says_which_story_a_digest_showed_the_item_in(project, tmp_path):
    out = tmp_path / "out"
    project.digest(out, DAY_1, DAY_2)
    project.digest(out, DAY_2, "2025-03-13")
    first = stories(record(out, DAY_1))[SANCTIONS]["id"]
    with contextlib.closing(connect(project.root / "c.db")) as db:
        (daily,) = db.execute("SELECT id FROM entries WHERE link LIKE 'https://daily%'").fetchone()
        (armenia,) = db.execute("SELECT id FROM entries WHERE title = ?", (ARMENIA,)).fetchone()
    said = project.ok("explain", str(daily))
    assert f"shown in: story {first} of storyline " in said
    assert f"first in the digest {DAY_2}" in said  # the item's own first digest
    assert ", where a digest placed it" in said  # the stored story, as the digest grouped it
    assert "first in the digest 2025-03-11" in project.ok("explain", str(armenia))


def test_storylines_lists_each_with_its_feed_and_every_feed_validates(project, tmp_path):
    out = tmp_path / "out"
    project.digest(out, DAY_1, DAY_2)
    assert record(out, DAY_1)["storylines"] == []  # the summit's preview alone, so far
    project.digest(out, DAY_2, "2025-03-13")
    listed = json.loads(project.ok("storylines", "--json"))
    second = record(out, DAY_2)
    assert {line["id"] for line in second["storylines"]} <= {row["id"] for row in listed}
    (summit,) = [row for row in listed if row["title"] == SUMMIT_PREVIEW]
    assert (summit["stories"], summit["first_digest"]) == (2, DAY_1)
    assert summit["last_digest"][-10:] >= DAY_2  # (a weekly digest may have shown it since)
    for row in listed:
        feed = out / "storylines" / f"{row['id']}.atom"
        assert feed.is_file(), row  # written where the digest was
        parsed = feedparser.parse(feed.read_bytes())
        assert not parsed.bozo and parsed.feed.title.endswith(row["title"])
        assert len(parsed.entries) == row["stories"]  # an entry per story
    # the page groups the summit's outcome under its storyline and links the feed
    page = (out / f"digest-{DAY_2}.html").read_text(encoding="utf-8")
    assert f'<section class="storyline" id="storyline-{summit["id"]}-' in page
    assert f'<a href="storylines/{summit["id"]}.atom" type="application/atom+xml">' in page
    assert "1 earlier story in earlier digests" in page
    markdown = (out / f"digest-{DAY_2}.md").read_text(encoding="utf-8")
    assert f"### Storyline: {escape_markdown(SUMMIT_PREVIEW)}" in markdown
    mail = to_text(from_json((out / f"digest-{DAY_2}.json").read_text(), ZoneInfo("UTC")))
    assert f"Storyline: {SUMMIT_PREVIEW}" in " ".join(mail.split())
    said = project.ok("storylines")
    assert f"{summit['id']}  {SUMMIT_PREVIEW}" in said and "2 stories, 2 items" in said


SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.mark.skipif(
    not os.environ.get("FV_MIRROR") or not (SHARED / "tools" / "feedvalidate").exists(),
    reason="the W3C feed validator is not available (set FV_MIRROR)",
)
def test_every_storyline_feed_passes_the_w3c_validator_without_warnings(project, tmp_path):
    out = tmp_path / "out"
    project.digest(out, DAY_1, DAY_2)
    project.digest(out, DAY_2, "2025-03-13")
    feeds = sorted((out / "storylines").glob("*.atom"))
    assert feeds
    for feed in feeds:
        url = f"https://notes.example.org/digest/storylines/{feed.name}"
        result = subprocess.run(
            [SHARED / "tools" / "feedvalidate", feed, url],
            env={**os.environ, "STRICT": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "errors=0 warnings=0" in result.stdout, feed.name


def test_newsboat_reads_a_storyline_feed_with_an_entry_per_story(project, tmp_path):
    from test_newsboat_e2e import Subscriber, newsboat_or_skip

    newsboat = newsboat_or_skip()
    out = tmp_path / "out"
    project.digest(out, DAY_1, DAY_2)
    project.digest(out, DAY_2, "2025-03-13")
    (line,) = [x for x in record(out, DAY_2)["storylines"] if x["title"] == SUMMIT_PREVIEW]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/{line['feed']}"
        reader = Subscriber(newsboat, tmp_path / "nb", (url,))
        assert reader.reload_unread() == 2
        reader.mark_all_read()
        project.digest(out, DAY_2, "2025-03-13")  # made again: the same feed, nothing new
        assert reader.reload_unread() == 0
        server.shutdown()
    assert sorted(r["title"] for r in reader.items()) == sorted([SUMMIT_OUTCOME, SUMMIT_PREVIEW])


def test_the_storylines_feeds_are_written_whatever_the_formats(project, tmp_path):
    out = tmp_path / "out"
    for since, until in ((DAY_1, DAY_2), (DAY_2, "2025-03-13")):
        project.ok(
            "digest", "--out", str(out), "--now", NOW, "--since", since, "--until", until,
            "--format", "md",
        )  # fmt: skip
    markdown = (out / f"digest-{DAY_2}.md").read_text(encoding="utf-8")
    assert "continuing: 1 new report since 11 March 2025" in markdown  # no page to link to
    assert f"digest-{DAY_1}.html" not in markdown
    linked = re.findall(r"\(<(storylines/[0-9a-f]+\.atom)>\)", markdown)
    assert linked and all((out / path).is_file() for path in linked)
    assert not (out / "digest.atom").exists()


def test_a_digest_made_again_for_an_older_period_keeps_the_storyline_feeds_whole(project, tmp_path):
    out = tmp_path / "out"
    project.digest(out, DAY_1, DAY_2)
    project.digest(out, DAY_2, "2025-03-13")
    (line,) = [x for x in record(out, DAY_2)["storylines"] if x["title"] == SUMMIT_PREVIEW]
    feed = out / line["feed"]
    before = feed.read_bytes()
    project.digest(out, DAY_1, DAY_2)  # the older day again: its page as it was
    assert record(out, DAY_1)["storylines"] == []
    assert feed.read_bytes() == before  # the storyline's feed as it is now, not rolled back
    assert len(feedparser.parse(before).entries) == 2


def test_a_period_overlapping_an_earlier_digest_counts_only_what_that_one_did_not_show(
    project, tmp_path
):
    out = tmp_path / "out"
    project.digest(out, DAY_1, DAY_2)
    # from 11 March 12:30 Brussels: after the Council's release, before the Wire's report
    project.digest(out, "2025-03-11T11:30:00Z", "2025-03-13")
    name = "2025-03-11--2025-03-12"
    story = next(s for s in stories(record(out, name)).values() if s["continues"] == DAY_1)
    assert story["new_reports"] == 1  # the Daily's: the Wire's was shown in that digest
    markdown = (out / f"digest-{name}.md").read_text(encoding="utf-8")
    assert "continuing: [1 new report since 11 March 2025]" in markdown


def test_a_story_spans_72_hours_however_often_digests_are_made():
    """The same link reported every day, digested day after day: the window is counted from
    the story's first item, not from the earliest one a digest still reads back."""
    start = datetime(2025, 3, 1, 9, tzinfo=UTC)
    items = [
        StoredItem(
            id=n + 1, key=f"k{n}", link="https://wire.example/ongoing",
            norm_link="https://wire.example/ongoing", title=f"Update {n} on the talks",
            author="", summary="The talks go on.", text="", published_at=start + timedelta(days=n),
            updated_at=start + timedelta(days=n), relevance=5.0, relevant=True, topics=("other",),
            source_url=f"https://s{n}.example/feed", source_title=f"S{n}",
        )
        for n in range(5)
    ]  # fmt: skip
    stored: dict[int, str] = {}
    for n, item in enumerate(items):
        earlier = [i for i in items[:n] if i.published_at >= item.published_at - WINDOW]
        starts = {
            key: min(i.published_at for i in items if stored.get(i.id) == key)
            for key in set(stored.values())
        }
        (story,) = follow_stories(
            [item], is_official=lambda i: False, earlier=earlier, stored=stored, starts=starts
        )
        stored[item.id] = story.id
    assert len(set(stored.values())) == 2  # days 0-3 (72 h), then a new story from day 4
    assert len(group_stories(items, is_official=lambda i: False)) == 2  # as one digest
