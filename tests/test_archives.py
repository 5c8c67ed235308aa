"""RFC 5005 archived feeds (issue 13): a new subscriber can reach every article.

45 articles with 20 per feed: a follower written here with feedparser starts at the current
feed and walks ``prev-archive`` (Atom, RSS) or ``next_url`` (JSON Feed) to the end, and sees
all 45, each once; a new article changes the current feed and no archive; an archive page is
added when a page fills.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
from datetime import date, timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from feedserver import Route

from cli import main

BASE = "https://notes.example.org/"  # the test site's base_url (conftest.CONFIG)
SHARED = Path(__file__).resolve().parents[2] / "shared"


def write_articles(site, upto: int, start: int = 1) -> None:
    """Articles a01 … a{upto}, a day apart, the highest number the newest."""
    for number in range(start, upto + 1):
        day = date(2025, 1, 1) + timedelta(days=number)
        site.article(
            f"a{number:02d}.md",
            f"""
            ---
            title: Article {number}
            date: {day.isoformat()} 09:00
            tags: [policy]
            ---

            Body of article {number}.
            """,
        )


def follow(public: Path, start: str) -> tuple[dict[str, int], int]:
    """What an RFC 5005 reader sees: every entry (by the article it links to) reached from
    ``start`` through ``prev-archive`` links, and how many documents it read."""
    seen: dict[str, int] = {}
    path, documents = public / start, 0
    while True:
        parsed = feedparser.parse(path.read_bytes())
        documents += 1
        for entry in parsed.entries:
            slug = entry.link.rstrip("/").rsplit("/", 1)[-1]
            seen[slug] = seen.get(slug, 0) + 1
        older = [link.href for link in parsed.feed.get("links", []) if link.rel == "prev-archive"]
        if not older:
            return seen, documents
        assert older[0].startswith(BASE)
        path = public / older[0][len(BASE) :]


@pytest.fixture
def history(site):
    write_articles(site, 45)
    site.publish()
    return site


def test_a_follower_walks_the_archives_to_every_article_once(history):
    for start in ("atom.xml", "rss.xml"):
        seen, documents = follow(history.public, start)
        assert sorted(seen) == sorted(f"a{n:02d}" for n in range(1, 46)), start
        assert documents == 3  # the current feed and two full pages of 20
    current = (history.public / "atom.xml").read_bytes()
    assert b"fh:complete" not in current and b"fh:archive" not in current
    assert b'rel="prev-archive"' in current
    for page in ("archive/atom-1.xml", "archive/atom-2.xml", "archive/rss-2.xml"):
        data = (history.public / page).read_bytes()
        assert b"<fh:archive/>" in data and b'rel="current"' in data, page
    parsed = feedparser.parse((history.public / "archive" / "atom-2.xml").read_bytes())
    assert len(parsed.entries) == 20
    assert {link.rel for link in parsed.feed.links} >= {"self", "current", "prev-archive"}


@pytest.mark.skipif(
    not os.environ.get("FV_MIRROR") or not (SHARED / "tools" / "feedvalidate").exists(),
    reason="the W3C feed validator is not available (set FV_MIRROR)",
)
def test_current_and_archive_documents_pass_the_w3c_validator_without_warnings(history):
    for name in (
        "atom.xml", "rss.xml", "archive/atom-1.xml", "archive/atom-2.xml", "archive/rss-1.xml",
        "archive/rss-2.xml", "tags/policy/archive/atom-2.xml",
    ):  # fmt: skip
        result = subprocess.run(
            [SHARED / "tools" / "feedvalidate", history.public / name, BASE + name],
            env={**os.environ, "STRICT": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "errors=0 warnings=0" in result.stdout, name


def test_json_feed_pages_reach_every_article(history):
    seen: dict[str, int] = {}
    path = history.public / "feed.json"
    while True:
        document = json.loads(path.read_text(encoding="utf-8"))
        for item in document["items"]:
            seen[item["url"]] = seen.get(item["url"], 0) + 1
        if "next_url" not in document:
            break
        assert document["next_url"].startswith(BASE)
        path = history.public / document["next_url"][len(BASE) :]
    assert len(seen) == 45


def test_a_new_article_changes_the_current_feed_and_no_archive(history):
    before = history.snapshot()
    write_articles(history, 46, start=46)
    history.publish()
    after = history.snapshot()
    archives = {name for name in before if name.startswith("archive/")}
    assert archives == {name for name in after if name.startswith("archive/")}
    assert all(before[name] == after[name] for name in archives)
    assert before["atom.xml"] != after["atom.xml"]


def test_a_full_page_adds_one_archive_and_only_links_the_one_before(site):
    write_articles(site, 59)
    site.publish()
    before = site.snapshot()
    write_articles(site, 60, start=60)
    site.publish()
    after = site.snapshot()
    added = {n for n in after if n.startswith("archive/")} - {
        n for n in before if n.startswith("archive/")
    }
    assert added == {"archive/atom-3.xml", "archive/rss-3.xml", "archive/feed-3.json"}
    assert before["archive/atom-1.xml"] == after["archive/atom-1.xml"]
    old, new = before["archive/atom-2.xml"], after["archive/atom-2.xml"]
    assert old != new and b'rel="next-archive"' in new
    assert [e.id for e in feedparser.parse(old).entries] == [
        e.id for e in feedparser.parse(new).entries
    ]
    seen, documents = follow(site.public, "atom.xml")
    assert len(seen) == 60 and documents == 4


def test_a_site_with_fewer_articles_than_a_feed_has_no_archives(site):
    write_articles(site, 5)
    site.publish()
    assert not (site.public / "archive").exists()
    assert b"prev-archive" not in (site.public / "atom.xml").read_bytes()


# --- the aggregator follows archives --------------------------------------------------------


def test_sources_add_reads_a_served_sites_whole_history_once(history, tmp_path, server):
    """The published site, served on loopback: subscribing reads all 45 articles (the current
    feed and its two archive pages), and the next poll reads the current feed alone."""
    base = server.url("/")
    history.config.write_text(
        history.config.read_text(encoding="utf-8").replace(BASE, base), encoding="utf-8"
    )
    history.publish()
    for path in sorted(history.public.rglob("*")):
        if path.is_file():
            relative = path.relative_to(history.public).as_posix()
            server.route(
                "/" + relative, Route(body=path.read_bytes(), content_type="application/xml")
            )
    reader = tmp_path / "reader"
    reader.mkdir()
    (reader / "communique.toml").write_text(
        '[site]\nbase_url = "https://reader.example.org/"\n'
        '[aggregate]\nsources = "sources.opml"\ndatabase = "c.db"\n',
        encoding="utf-8",
    )
    (reader / "sources.opml").write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body/></opml>', encoding="utf-8"
    )

    def cli(*args: str) -> str:
        result = CliRunner().invoke(
            main, ["--config", str(reader / "communique.toml"), *args], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        return result.output

    added = cli("sources", "add", server.url("/atom.xml"))
    assert "stored 45 items, 2 archive documents of its history" in added
    with contextlib.closing(sqlite3.connect(reader / "c.db")) as db:
        links = [row[0] for row in db.execute("SELECT link FROM entries")]
    assert len(links) == len(set(links)) == 45
    archive_requests = [s for s in server.seen if "/archive/" in s.path]
    assert len(archive_requests) == 2
    summary = json.loads(cli("aggregate", "--all", "--json"))
    assert summary["archives"] == 0 and summary["items_new"] == 0
    assert len([s for s in server.seen if "/archive/" in s.path]) == 2  # not read again

    # 15 more articles fill a third page: the next poll reads that one archive document only
    write_articles(history, 60, start=46)
    history.publish()
    for path in sorted(history.public.rglob("*")):
        if path.is_file():
            relative = path.relative_to(history.public).as_posix()
            server.route(
                "/" + relative, Route(body=path.read_bytes(), content_type="application/xml")
            )
    before = len([s for s in server.seen if "/archive/" in s.path])
    summary = json.loads(cli("aggregate", "--all", "--json"))
    assert summary["archives"] == 1 and summary["items_new"] == 15
    assert len([s for s in server.seen if "/archive/" in s.path]) == before + 1
