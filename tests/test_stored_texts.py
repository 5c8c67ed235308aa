"""Each text stored once (issue 21, point 2), through the CLI against a loopback feed server.

An item keeps its sanitised HTML once, compressed, and plain text only where it cannot be
derived from that HTML; the search index is built from the derived texts and holds no copy
of them. Search still finds the words only an item's content, only its summary or only its
article page has. A database version 11 left is converted in place, in batches (a
conversion killed half-way is finished by the next open), and reads as before: the same
search hits and snippets, explanations and digest bytes (``mail`` sends the digest's files,
so the same bytes make the same message).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from feedserver import FeedServer, Route
from stored_items import connect
from test_full_text import EU_ARTICLE, page
from test_schema import old_database, shape

from cli import main
from sources.store.database import Store
from sources.store.fts_query import words_query
from sources.store.schema import SCHEMA_VERSION
from sources.store.texts import unpack_html

COMMUNIQUE = Path(sys.executable).parent / "communique"
CONFIG = """\
[site]
base_url = "https://example.org/"
timezone = "UTC"
[aggregate]
sources = "sources.opml"
database = "c.db"
workers = 1
full_text = "auto"
"""
LONG = (
    " The decision was taken by the foreign ministers of the member states meeting in Brussels,"
    " after weeks of talks with the European Commission and the European External Action"
    " Service; diplomats said Hungary had asked for changes before agreeing on Monday."
) * 3  # a content longer than full_text_below: no article page is read for it
ITEMS = [
    {  # a word only its content has, and a content the summary is not
        "guid": "content",
        "title": "Council adopts a new package of sanctions against Russia",
        "description": "<p>The Council adopted restrictive measures.</p>",
        "content": "<p>The package bans exports of <b>dual-use goods</b> &amp; freezes "
        f"assets of a zanzibarite trader.<br>Sanctions&nbsp;apply at once.</p><p>{LONG}</p>",
    },
    {  # a word only its summary has
        "guid": "summary",
        "title": "High Representative Kallas visits Kyiv",
        "description": "<p>Kaja Kallas spoke of quillwort diplomacy in Kyiv.</p>",
        "content": f"<ul><li>Kallas met President Zelensky.</li><li>Support to Ukraine.</li></ul>"
        f"<p>{LONG}</p>",
    },
    {  # a word only its article page has: the feed gives one sentence
        "guid": "page",
        "title": "EU opens accession negotiations with Moldova",
        "description": "Accession talks open.",
        "page": [*EU_ARTICLE, "Observers called the xylograph of the agreement historic."],
    },
    {  # a summary alone: the summary is the text
        "guid": "alone",
        "title": "EU and Japan strengthen their security and defence partnership",
        "description": "<p>The EU and Japan agreed to deepen cooperation on maritime security "
        "and cyber defence, foreign ministers said.</p>",
    },
    {  # a content repeating its summary
        "guid": "repeat",
        "title": "EU imposes tariffs on Chinese steel after anti-dumping inquiry",
        "description": "<p>The Commission imposed duties on steel from China.</p>",
        "content": "<p>The Commission imposed duties on steel from China.</p>",
    },
    {
        "guid": "sport",
        "title": "Local football club wins the cup",
        "description": "<p>The final ended 2-1 after extra time.</p>",
    },
]


def feed(server: FeedServer, items: list[dict]) -> bytes:
    """RSS 2.0 with ``content:encoded``, each item linking to its page on ``server``."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        "<title>EU news</title><link>https://news.example/</link><description>t</description>"
    ]
    for day, item in enumerate(items, start=10):
        content = item.get("content")
        parts.append(
            f"<item><title>{item['title']}</title><guid>{item['guid']}</guid>"
            f"<link>{server.url('/news/' + item['guid'])}</link>"
            f"<pubDate>{day} Mar 2025 09:00:00 +0000</pubDate>"
            f"<description><![CDATA[{item['description']}]]></description>"
            + (f"<content:encoded><![CDATA[{content}]]></content:encoded>" if content else "")
            + "</item>"
        )
    return ("".join(parts) + "</channel></rss>").encode()


class Project:
    """A tmp project with communique.toml, a source list of one feed, and c.db."""

    def __init__(self, root: Path, feed_url: str = "https://news.example/feed.xml") -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root, self.config, self.db_path = root, root / "communique.toml", root / "c.db"
        self.config.write_text(CONFIG, encoding="utf-8")
        (root / "sources.opml").write_text(
            '<?xml version="1.0"?><opml version="2.0"><head/><body>'
            f'<outline type="rss" text="EU news" xmlUrl="{feed_url}"/></body></opml>',
            encoding="utf-8",
        )

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["--config", str(self.config), *args])

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result

    def search(self, *query: str) -> list[tuple[int, str, str]]:
        hits = json.loads(self.ok("search", "--json", *query).stdout)
        return [(hit["id"], hit["title"], hit["snippet"]) for hit in hits]

    def titles(self, *query: str) -> list[str]:
        return sorted(title for _, title, _ in self.search(*query))

    def query(self, sql: str, *params: object) -> list[tuple]:
        with contextlib.closing(connect(self.db_path)) as db, db:
            return db.execute(sql, params).fetchall()

    def index_holds_the_derived_texts(self) -> None:
        """FTS5 compares its index with the texts its view derives (an error if not): an
        item's words can be taken out of the index again when it changes or goes."""
        self.query("INSERT INTO entries_fts (entries_fts, rank) VALUES ('integrity-check', 1)")


def serve(server: FeedServer, items: list[dict]) -> Route:
    for item in items:
        if "page" in item:
            body = page(item["title"], item["page"])
            server.route(f"/news/{item['guid']}", Route(body=body, content_type="text/html"))
    return server.route("/feed.xml", Route(body=feed(server, items)))


@pytest.fixture
def aggregated(tmp_path: Path, server: FeedServer) -> Project:
    """The items of :data:`ITEMS` aggregated by a real run, the article page read."""
    serve(server, ITEMS)
    project = Project(tmp_path / "a", server.url("/feed.xml"))
    project.ok("aggregate")
    return project


def by_guid(project: Project, sql: str) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in project.query(sql)}


# --- the stored form ----------------------------------------------------------------------


def test_each_text_is_kept_once_and_search_finds_content_summary_and_page_words(aggregated):
    columns = [row[1] for row in aggregated.query("PRAGMA table_info(entries)")]
    assert "html" in columns and "summary_html" not in columns and "content_html" not in columns
    stored = by_guid(aggregated, "SELECT guid, html, summary, text, page_text FROM entries")
    assert {guid: row[2] for guid, row in stored.items()} == dict.fromkeys(stored)  # no text
    kept_summaries = {guid: row[1] for guid, row in stored.items() if row[1] is not None}
    assert kept_summaries == {  # where the summary is not the text
        "content": "The Council adopted restrictive measures.",
        "summary": "Kaja Kallas spoke of quillwort diplomacy in Kyiv.",
    }
    html = unpack_html(stored["content"][0])
    assert html.startswith("<p>The package bans exports of <b>dual-use goods</b> &amp;")
    assert "xylograph" in stored["page"][3]

    with Store(aggregated.db_path) as store:
        item = store.item(aggregated.query("SELECT id FROM entries WHERE guid = 'content'")[0][0])
    assert item is not None and item.summary == "The Council adopted restrictive measures."
    assert item.text.startswith(
        "The package bans exports of dual-use goods & freezes assets of a zanzibarite trader. "
        "Sanctions apply at once. The decision was taken"
    )

    (hit,) = aggregated.search("zanzibarite")
    assert hit[1] == ITEMS[0]["title"] and "[zanzibarite]" in hit[2]
    assert aggregated.titles("quillwort") == [ITEMS[1]["title"]]
    assert aggregated.titles("xylograph") == [ITEMS[2]["title"]]
    assert aggregated.titles('"dual-use goods"', "sanctions") == [ITEMS[0]["title"]]
    assert aggregated.titles("--fts", "text:zanzibarite") == [ITEMS[0]["title"]]
    assert aggregated.titles("--fts", "summary:zanzibarite") == []
    assert aggregated.titles("--fts", "summary:quillwort") == [ITEMS[1]["title"]]
    assert aggregated.titles("--fts", "text:quillwort") == []
    assert aggregated.titles("--fts", "page_text:xylograph") == [ITEMS[2]["title"]]
    assert aggregated.titles("--fts", "NEAR(Japan maritime, 12)") == [ITEMS[3]["title"]]
    aggregated.index_holds_the_derived_texts()


def test_an_item_that_changes_or_goes_takes_its_words_out_of_the_index(aggregated, server):
    changed = [{**ITEMS[0], "content": f"<p>Now a walrusine trader.</p><p>{LONG}</p>"}, *ITEMS[1:]]
    server.route("/feed.xml", Route(body=feed(server, changed)))
    aggregated.ok("aggregate", "--all")
    assert aggregated.titles("zanzibarite") == []
    assert aggregated.titles("walrusine") == [ITEMS[0]["title"]]
    aggregated.index_holds_the_derived_texts()
    aggregated.query("UPDATE entries SET first_seen_at = '2025-03-20T00:00:00+00:00'")
    aggregated.ok("aggregate", "--all", "--keep-days", "30")  # pruned: gone from the index too
    assert aggregated.query("SELECT COUNT(*) FROM entries") == [(0,)]
    assert aggregated.titles("walrusine") == [] and aggregated.titles("quillwort") == []
    assert aggregated.query("SELECT COUNT(*) FROM entries_fts_docsize") == [(0,)]
    aggregated.index_holds_the_derived_texts()


def test_the_text_of_an_items_html_is_derived_as_the_index_was_built_from_it():
    """The index takes an item's words out with the words derived again from its HTML, so
    deriving must give what it gave when the item was indexed: a change here changes the
    texts of every stored item, and needs a migration that rebuilds ``entries_fts``."""
    from feeds.text import html_to_text

    html = (
        "<h2>Title</h2><p>One &amp; two&nbsp;&lt;three&gt;</p><ul><li>a</li><li>b</li></ul>"
        "line<br>break<br/>again <b>bold</b>text\n\t<div>x</div><td>cell</td>&#8364;&eacute;"
    )
    assert html_to_text(html) == "Title One & two <three> a b line break again boldtext x cell€é"


# --- version 11 converted -----------------------------------------------------------------

# What version 11's search ran, over its own text columns (sources/store/items.py then)
V11_SEARCH = """SELECT e.id, e.title, snippet(entries_fts, -1, '[', ']', '…', 12)
    FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid
    JOIN sources s ON s.id = e.source_id
    WHERE entries_fts MATCH ? ORDER BY bm25(entries_fts, 5.0, 2.0, 1.0, 1.0), e.published_at DESC
    LIMIT ?"""
V11_TEXTS = "SELECT id, summary, text FROM entries ORDER BY id"
QUERIES = [
    ["Kallas"],
    ["EU"],
    ["the"],
    ["zanzibarite"],
    ["quillwort"],
    ["xylograph"],
    ["legacy"],
    ['"foreign ministers"'],
    ["--fts", "summary:Council OR text:Moldova"],
    ["--fts", "Kyiv NOT Kallas"],
    ["--fts", "sanction*"],
]


def version_11_copy(project: Project, root: Path) -> Project:
    """A database as version 11 would have kept ``project``'s: every text in its own
    column (the summary's HTML, which nothing read, left empty), the search index over
    them; and one item whose text an older parser stored otherwise than its HTML says."""
    old = Project(root)
    old_database(old.db_path, 11)
    with contextlib.closing(connect(old.db_path)) as db, db:
        db.create_function("unpack_html", 1, unpack_html)
        db.execute("ATTACH DATABASE ? AS new", (str(project.db_path),))
        db.execute("INSERT INTO sources SELECT * FROM new.sources")
        db.execute(
            """INSERT INTO entries (id, source_id, key, guid, link, norm_link, title, author,
                   summary, text, summary_html, content_html, categories, published_at,
                   updated_at, first_seen_at, last_seen_at, content_hash, relevance, relevant,
                   topics, page_wanted, page_text, page_language, page_note, page_at)
               SELECT id, source_id, key, guid, link, norm_link, title, author,
                   COALESCE(summary, item_text(html, text)), item_text(html, text), '',
                   unpack_html(html), categories, published_at, updated_at, first_seen_at,
                   last_seen_at, content_hash, relevance, relevant, topics, page_wanted,
                   page_text, page_language, page_note, page_at
               FROM new.entries"""
        )
        db.execute("INSERT INTO pages SELECT * FROM new.pages")
        db.execute(
            "INSERT INTO entries (source_id, key, title, summary, text, content_html, "
            "published_at, updated_at, first_seen_at, last_seen_at, content_hash) "
            "VALUES (1, 'legacy', 'An item from long ago', 'A legacy summary.', "
            "'Its legacy text, not its HTML''s.', '<p>Other words</p>', "
            "'2020-01-01T00:00:00+00:00', '2020-01-01T00:00:00+00:00', "
            "'2020-01-01T00:00:00+00:00', '2020-01-01T00:00:00+00:00', 'h')"
        )
    return old


def version_11_reads(path: Path, queries: list[list[str]]) -> dict[str, object]:
    """What version 11 read from its database: search hits and snippets (its query, with
    what the CLI makes of the words), and the summary and text of every item."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        searches = {}
        for query in queries:
            fts = query[1] if query[0] == "--fts" else words_query(" ".join(query))
            searches[" ".join(query)] = db.execute(V11_SEARCH, (fts, 20)).fetchall()
        return {"searches": searches, "texts": db.execute(V11_TEXTS).fetchall()}


def converted_texts(path: Path) -> list[tuple[int, str, str]]:
    """Every item's summary and text as the store reads them now."""
    with Store(path) as store:
        ids = [row[0] for row in store.db.execute("SELECT id FROM entries ORDER BY id")]
        return [(i, item.summary, item.text) for i in ids if (item := store.item(i))]


def reads(project: Project, out: Path) -> dict[str, object]:
    """Everything a user reads of a store: search hits with their snippets, every item's
    explanation, a digest's files, byte for byte."""
    ids = [row[0] for row in project.query("SELECT id FROM entries ORDER BY id")]
    project.ok(
        "digest", "--since", "2025-03-01", "--until", "2025-04-01", "--out", str(out),
        "--now", "2025-04-02T00:00:00Z",
    )  # fmt: skip
    return {
        "searches": {" ".join(q): project.search(*q) for q in QUERIES},
        "explain": {i: project.ok("explain", str(i)).stdout for i in ids},
        "pairs": project.ok("explain", str(ids[0]), str(ids[1])).stdout,
        "digest": {
            str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
        },
    }


def test_a_version_11_database_is_converted_and_reads_as_before(aggregated, tmp_path):
    old = version_11_copy(aggregated, tmp_path / "old")
    before = version_11_reads(old.db_path, QUERIES)
    assert before["searches"]["zanzibarite"] and before["searches"]["legacy"]
    size = old.db_path.stat().st_size

    converted = reads(old, tmp_path / "old-digest")  # the first command converts it
    fresh = reads(aggregated, tmp_path / "digest")

    assert old.query("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    with Store(tmp_path / "new.db"):
        pass
    assert shape(old.db_path) == shape(tmp_path / "new.db")
    old.index_holds_the_derived_texts()
    assert old.query("PRAGMA freelist_count") == [(0,)]  # VACUUMed
    # smaller than it was, not counting what later versions added (the digest's stories)
    added = old.query(
        "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN "
        "('story_items', 'stories', 'story_items_by_story', 'stories_by_storyline', "
        "'storylines')"
    )[0][0]
    assert old.db_path.stat().st_size - added < size
    # search: the hits, their order and their snippets as version 11's query gave them
    assert {
        query: [(i, title, snippet) for i, title, snippet in hits]
        for query, hits in converted["searches"].items()
    } == {query: [tuple(hit) for hit in hits] for query, hits in before["searches"].items()}
    assert converted_texts(old.db_path) == [tuple(row) for row in before["texts"]]
    # the legacy item keeps its text, every other text is derived again
    assert old.query("SELECT guid, summary IS NULL, text IS NULL FROM entries ORDER BY id") == [
        ("content", 0, 1),
        ("summary", 0, 1),
        ("page", 1, 1),
        ("alone", 1, 1),
        ("repeat", 1, 1),
        ("sport", 1, 1),
        (None, 0, 0),
    ]
    # explanations and the digest, byte for byte, as for the same items stored anew
    del converted["explain"][max(converted["explain"])]  # the legacy item, only here
    assert converted["explain"] == fresh["explain"]
    assert converted["pairs"] == fresh["pairs"]
    assert converted["digest"] == fresh["digest"]
    files = [name for name in converted["digest"] if "/" not in name]  # storylines/ apart
    assert len(files) == 4 and b"Kallas" in converted["digest"]["digest.atom"]


# --- a conversion killed half-way ---------------------------------------------------------

ITEMS_TO_CONVERT = 4000


def large_version_11_database(path: Path) -> None:
    """Version 11 with enough items for a conversion to be caught half-way, each with its
    own words in its HTML, text and summary."""
    old_database(path, 11)
    words = " ".join(f"word{k}" for k in range(60))
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN")
        db.execute("INSERT INTO sources (url, title) VALUES ('https://news.example/f', 'f')")
        db.executemany(
            "INSERT INTO entries (source_id, key, title, summary, text, summary_html, "
            "content_html, published_at, updated_at, first_seen_at, last_seen_at, "
            "content_hash) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'h')",
            [
                (
                    f"k{i}", f"Item {i}", f"Summary sentinel{i}.", f"Text{i} {words}",
                    f"<p>Summary sentinel{i}.</p>", f"<p>Text{i} {words}</p>",
                    *[f"2025-03-{1 + i % 28:02d}T09:00:00+00:00"] * 4,
                )
                for i in range(ITEMS_TO_CONVERT)
            ],
        )  # fmt: skip
        db.execute("COMMIT")


def conversion(path: Path) -> tuple[str, int]:
    """Where a conversion stands, read from outside: ``("copying", items converted)``,
    ``("indexing", items in the new search index)``, else ``("", 0)``."""
    with contextlib.suppress(sqlite3.Error):  # not begun yet, or the file is being replaced
        uri = f"file:{path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            if "entries_new" in tables:
                return "copying", db.execute("SELECT COUNT(*) FROM entries_new").fetchone()[0]
            if "entries_text" in tables:
                indexed = db.execute("SELECT COUNT(*) FROM entries_fts_docsize").fetchone()[0]
                return "indexing", indexed
    return "", 0


@pytest.mark.parametrize("stage", ["copying", "indexing"])
def test_a_conversion_killed_half_way_is_finished_by_the_next_open(tmp_path, stage):
    project = Project(tmp_path)
    large_version_11_database(project.db_path)
    queries = [["sentinel17"], ["word5"], ["Text42", "word7"], ["--fts", "sentinel1*"]]
    before = version_11_reads(project.db_path, queries)

    process = subprocess.Popen(
        [str(COMMUNIQUE), "--config", str(project.config), "search", "sentinel17"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not ((at := conversion(project.db_path))[0] == stage and 0 < at[1] < ITEMS_TO_CONVERT):
        assert process.poll() is None, (at, process.communicate())
        assert time.monotonic() < deadline, "the conversion never got there"
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert project.query("PRAGMA user_version") == [(11,)]  # half-way: still version 11
    left = conversion(project.db_path)
    assert left[0] == stage and 0 < left[1] < ITEMS_TO_CONVERT

    after = {" ".join(q): project.search(*q) for q in queries}  # the next open finishes it
    assert after == {q: [tuple(hit) for hit in hits] for q, hits in before["searches"].items()}
    assert after["sentinel17"] and len(after["word5"]) == 20
    assert project.query("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    with Store(tmp_path / "new.db"):
        pass
    assert shape(project.db_path) == shape(tmp_path / "new.db")
    project.index_holds_the_derived_texts()
    assert project.query("PRAGMA freelist_count") == [(0,)]  # VACUUMed
    assert converted_texts(project.db_path) == [tuple(row) for row in before["texts"]]
    assert project.query("SELECT COUNT(*) FROM entries WHERE text IS NOT NULL") == [(0,)]
