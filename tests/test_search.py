"""`communique search` takes what an analyst types, and commands that only look create nothing
(issue 18, points 9 and 13f). Through the CLI, on a store filled by a real `aggregate` run
against a loopback feed server.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path

import pytest
import stored_items
from click.testing import CliRunner, Result
from feedserver import FeedServer, Route, rss

from cli import main
from sources.store.database import Store
from sources.store.fts_query import words_query

CONFIG = """\
[site]
base_url = "https://example.org/"
timezone = "UTC"
[aggregate]
sources = "sources.opml"
database = "c.db"
"""

TITLES = [
    "EU-China summit opens in Beijing",
    "China and the EU hold a summit of a kind",  # both words, not the hyphenated pair
    "Kallas's visit to Kyiv ends with a pledge",
    "U.S. tariffs hit European steel",
    "Tariffs on us all, says the steel lobby",  # "us", not "U.S."
    "Russia, Ukraine and the grain corridor",
    "Ukraine asks Russia to return the grain",  # both words, not next to each other
    "Council adopts new sanctions.",
]


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


@pytest.fixture
def store(tmp_path: Path, server: FeedServer) -> Path:
    """A project whose database holds one item per title of :data:`TITLES`."""
    items = [
        {
            "title": title,
            "link": f"https://news.example/{i}",
            "guid": f"item-{i}",
            "description": "A report.",
            "pubDate": f"Tue, 1{i} Mar 2026 09:00:00 +0000",
        }
        for i, title in enumerate(TITLES)
    ]
    server.route("/feed.xml", Route(body=rss(items)))
    config = tmp_path / "communique.toml"
    config.write_text(CONFIG, encoding="utf-8")
    (tmp_path / "sources.opml").write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body>'
        f'<outline type="rss" text="feed" xmlUrl="{server.url("/feed.xml")}"/></body></opml>',
        encoding="utf-8",
    )
    result = run(config, "aggregate")
    assert result.exit_code == 0, result.output
    return config


def titles(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return sorted(hit["title"] for hit in json.loads(result.stdout))


@pytest.mark.parametrize(
    ("query", "found"),
    [
        (["EU-China", "summit"], ["EU-China summit opens in Beijing"]),
        (["Kallas's visit"], ["Kallas's visit to Kyiv ends with a pledge"]),
        (["U.S.", "tariffs"], ["U.S. tariffs hit European steel"]),
        # a shell needs quotes around a comma or an apostrophe: they make words, not a phrase
        (
            ["Russia, Ukraine"],
            ["Russia, Ukraine and the grain corridor", "Ukraine asks Russia to return the grain"],
        ),
        (['"Russia, Ukraine"'], ["Russia, Ukraine and the grain corridor"]),
        (["sanctions."], ["Council adopts new sanctions."]),
        # double quotes inside the query make a phrase; the other words are words
        (['grain "Ukraine asks"'], ["Ukraine asks Russia to return the grain"]),
        # words in any order, accents and case aside
        (["KYIV", "kallas"], ["Kallas's visit to Kyiv ends with a pledge"]),
    ],
)
def test_what_an_analyst_types_is_searched_as_words(store, query, found):
    result = run(store, "search", "--json", *query)
    assert titles(result) == found
    assert result.stderr == ""


def test_plain_output_lists_the_hit(store):
    result = run(store, "search", "EU-China", "summit")
    assert result.exit_code == 0, result.output
    assert "EU-China summit opens in Beijing" in result.stdout


def test_fts_syntax_is_there_with_the_option(store):
    either = run(store, "search", "--json", "--fts", "Beijing OR sanctions")
    assert titles(either) == ["Council adopts new sanctions.", "EU-China summit opens in Beijing"]
    prefix = run(store, "search", "--json", "--fts", "sanction*")
    assert titles(prefix) == ["Council adopts new sanctions."]


def test_fts_syntax_without_the_option_is_words_and_says_so(store):
    result = run(store, "search", "--json", "Beijing", "OR", "sanctions")
    assert titles(result) == []  # no item has all three words
    assert result.stderr.count("\n") == 1 and "--fts" in result.stderr


def test_an_fts_syntax_error_is_one_line_with_the_query_cut_short(store):
    long_query = "EU-China " * 700  # 6,300 characters
    result = run(store, "search", "--fts", long_query)
    assert result.exit_code == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("communique search: invalid value for QUERY: FTS5 cannot read")
    assert "…" in result.stderr and len(result.stderr) < 300, result.stderr
    assert "without --fts" in result.stderr


def test_a_long_query_of_words_is_searched_and_not_echoed(store):
    result = run(store, "search", "EU-China " * 700)  # 700 times the same phrase
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 3 and "EU-China summit opens" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("query", [",,,", '""', " - ", "\x00", "…"])
def test_a_query_without_a_word_is_a_one_line_usage_error(store, query):
    result = run(store, "search", query)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "has no word to search for" in result.stderr


# --- commands that only look create nothing ---------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["explain", "1"], ["explain", "1", "2"], ["search", "sanctions"], ["rescore"]],
)
def test_a_command_that_reads_the_database_creates_nothing_in_an_empty_folder(
    tmp_path, monkeypatch, args
):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert "communique.db: no database yet; run `communique aggregate` first" in result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("args", [["sources", "list"], ["sources", "list", "--json"]])
def test_sources_list_in_an_empty_folder_shows_the_shipped_list_and_writes_nothing(
    tmp_path, monkeypatch, args
):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "https://www.eeas.europa.eu/" in result.stdout
    assert result.stderr.count("\n") == 1 and "sources.opml yet" in result.stderr
    assert os.listdir(tmp_path) == []


def test_sources_export_and_remove_in_an_empty_folder_write_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exported = CliRunner().invoke(main, ["sources", "export"], catch_exceptions=False)
    assert exported.exit_code == 0 and "https://www.eeas.europa.eu/" in exported.stdout
    removed = CliRunner().invoke(
        main, ["sources", "remove", "https://not.subscribed.example/feed"], catch_exceptions=False
    )
    assert removed.exit_code == 2 and "not subscribed" in removed.stderr
    assert os.listdir(tmp_path) == []


def test_explain_on_a_database_without_a_source_list_writes_no_list(store):
    (store.parent / "sources.opml").unlink()
    result = run(store, "explain", "1")
    assert result.exit_code == 0, result.output
    assert not (store.parent / "sources.opml").exists()


class _PruningMeanwhile:
    """The store's connection, through which another process deletes every item right after
    search has read its ranked hits (an aggregate --keep-days running at the same time)."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db, self.path, self.ranked = db, path, False

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        cursor = self.db.execute(sql, *args)
        if "ORDER BY" in sql and not self.ranked:
            self.ranked = True
            with contextlib.closing(stored_items.connect(self.path)) as other:
                other.execute("DELETE FROM entries")
                other.commit()
        return cursor

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)


def test_search_reads_its_hits_and_their_snippets_from_one_state_of_the_store(store):
    database = store.parent / "c.db"
    with Store(database) as opened:
        opened.db = _PruningMeanwhile(opened.db, database)  # type: ignore[assignment]
        hits = opened.search(words_query("sanctions"))
    assert hits and all(hit.snippet for hit in hits)  # as they were when the search began
    with Store(database) as opened:
        assert opened.search(words_query("sanctions")) == []  # gone since
