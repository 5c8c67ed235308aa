"""Stories followed from one digest to the next: a story that goes on keeps its id and says
how much is new since it was last shown; one with nothing new is left out; a digest made
again reads the same; a longer digest shows its period's stories whole."""

from __future__ import annotations

import contextlib
import html
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from feedserver import FeedServer, Route
from stored_items import connect

from cli import main
from sources.digest.message import to_text
from sources.digest.render import from_json
from sources.follow.opml import Source, save_source_list

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
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    project.digest(out, DAY_2, "2025-03-13")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


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
    assert "story: joined [" in said  # the stored story, as the digest grouped it
    assert "first in the digest 2025-03-11" in project.ok("explain", str(armenia))
