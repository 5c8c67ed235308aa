"""The database schema: one current schema, and migrations that reach exactly it.

A new database is created from ``schema.SCHEMA`` in one go; a database made by an older
communique is upgraded by ``schema.MIGRATIONS``, one step per version. The two roads must
end at the same tables, columns (types, defaults, NOT NULL, keys), foreign keys, indexes,
views, triggers and FTS5 tables, or an old user's database would behave differently from a
new one. And an old database keeps its data: sources, items (searchable, their texts as
they were), robots.txt files, deliveries, history walks, and the hosts resting after a 429
or 503. (Version 12's conversion of every item: tests/test_stored_texts.py.)
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from sources.store.database import Store
from sources.store.schema import MIGRATIONS, SCHEMA_VERSION, statements
from sources.store.texts import register

V1 = Path(__file__).parent / "data" / "schema-v1.sql"
FEED = "https://feeds.example/eu.xml"
CONFIG = """\
[site]
base_url = "https://example.org/"
[aggregate]
sources = "sources.opml"
database = "c.db"
"""


def old_database(path: Path, version: int) -> None:
    """A database as the communique of schema ``version`` left it: version 1's schema
    (``tests/data/schema-v1.sql``, as it was made then), then each step up to ``version``
    applied as that version applied it (a step that is a function sets the version itself)."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        for statement in statements(V1.read_text(encoding="utf-8")):
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        for v in range(1, version):
            if callable(step := MIGRATIONS[v]):
                step(db)
                continue
            for statement in statements(step):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {v + 1}")


def shape(path: Path) -> dict[str, object]:
    """Everything about a database's schema that decides how it behaves, by object name."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        objects = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        found: dict[str, object] = {}
        for kind, name, table, sql in objects:
            about: dict[str, object] = {"type": kind, "table": table}
            if kind == "table":
                quoted = '"' + name.replace('"', '""') + '"'
                about["columns"] = db.execute(f"PRAGMA table_xinfo({quoted})").fetchall()
                about["foreign_keys"] = db.execute(f"PRAGMA foreign_key_list({quoted})").fetchall()
                about["indexes"] = sorted(
                    (*index[1:], db.execute(f'PRAGMA index_xinfo("{index[1]}")').fetchall())
                    for index in db.execute(f"PRAGMA index_list({quoted})")
                )
                about["definition"] = definition(sql)
            elif sql is not None:  # an index, a trigger (an automatic index has no SQL)
                about["sql"] = words(sql)
            found[name] = about
        return found


def definition(sql: str) -> tuple[object, ...]:
    """A CREATE TABLE statement as its column and constraint definitions and its options,
    without the table's name (a table rebuilt and renamed is quoted) or comments, so a
    column added by ALTER TABLE compares equal to one written in the CREATE."""
    text = re.sub(r"--[^\n]*", "", sql)
    body, close = text[text.index("(") + 1 :], 0
    depth, parts, current = 0, [], []
    for position, char in enumerate(body):
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                close = position
                break
            depth -= 1
        if char == "," and depth == 0:
            parts.append(words("".join(current)))
            current = []
        else:
            current.append(char)
    parts.append(words("".join(current)))
    return (*parts, words(body[close + 1 :]))


def words(sql: str) -> str:
    """SQL with its spacing made canonical: single spaces, none inside parentheses."""
    text = " ".join(sql.split())
    return re.sub(r"\s*([(),])\s*", r"\1", text)


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_an_old_database_is_upgraded_to_exactly_the_schema_of_a_new_one(tmp_path, version):
    with Store(tmp_path / "new.db"):
        pass
    old = tmp_path / f"v{version}.db"
    old_database(old, version)
    with contextlib.closing(sqlite3.connect(old, isolation_level=None)) as db:
        register(db)  # from version 12 the search index's triggers call item_text
        db.execute("INSERT INTO sources (url, title) VALUES (?, 'EU feed')", (FEED,))
        db.execute(
            "INSERT INTO entries (source_id, key, title, summary, text, published_at, "
            "updated_at, first_seen_at, last_seen_at, content_hash) VALUES (1, 'k', "
            "'Council sanctions', '', 'restrictive measures', ?, ?, ?, ?, 'h')",
            ("2025-02-03T10:00:00+00:00",) * 4,
        )
    with Store(old) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.source_rows()[FEED].entries == 1
        assert [hit.title for hit in store.search("restrictive")] == ["Council sanctions"]
        item = store.item(1)  # a text no HTML gives is kept as it was
        assert item is not None and (item.summary, item.text) == ("", "restrictive measures")

    new, upgraded = shape(tmp_path / "new.db"), shape(old)
    assert sorted(upgraded) == sorted(new)
    for name in new:
        assert upgraded[name] == new[name], name
    assert "host_rests" in new and "entries_fts" in new and "entries_ai" in new
    assert new["entries_text"]["type"] == "view" and "story_items" in new and "stories" in new
    assert SCHEMA_VERSION == 13


def test_a_version_9_database_keeps_its_data_and_its_resting_hosts(tmp_path):
    db_path = tmp_path / "c.db"
    old_database(db_path, 9)
    with contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as db:
        db.execute(
            "INSERT INTO sources (url, title, last_status, last_success_at, warning) "
            "VALUES (?, 'EU feed', '200', '2025-02-03T11:00:00+00:00', 'bad XML recovered')",
            (FEED,),
        )
        db.execute(
            "INSERT INTO entries (source_id, key, link, title, text, published_at, updated_at, "
            "first_seen_at, last_seen_at, content_hash, relevance, relevant, topics) "
            "VALUES (1, 'k', 'https://eu.example/a', 'Council adopts sanctions', "
            "'The Council adopted restrictive measures.', ?, ?, ?, ?, 'h', 3.5, 1, "
            """'["sanctions"]')""",
            ("2025-02-03T10:00:00+00:00",) * 4,
        )
        db.executemany(
            "INSERT INTO robots (host, read_at, status, body, resting_until) VALUES (?, ?, ?, ?, ?)",
            [
                # read, never rested
                ("https://read.example", "2025-02-03T09:00:00+00:00", 200, "User-agent: *\nDisallow: /x", None),
                # rested before its robots.txt was ever read: a made-up 1970 read
                ("https://rested.example", "1970-01-01T00:00:00+00:00", None, "", "2099-01-01T00:00:00+00:00"),
                # read, then rested
                ("https://both.example", "2025-02-03T09:00:00+00:00", 404, "", "2098-01-01T00:00:00+00:00"),
            ],
        )  # fmt: skip
        db.execute(
            "INSERT INTO deliveries (day, message_id, recipients, sent_at) "
            "VALUES ('2025-02-03', '<m@example.org>', 'a@example.org', '2025-02-04T07:00:00+00:00')"
        )
        db.execute(
            "INSERT INTO archives_unread (source_id, url, failures, problem) "
            "VALUES (1, 'https://eu.example/archive/1', 1, 'HTTP 500')"
        )
    (tmp_path / "communique.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "sources.opml").write_text(
        f'<?xml version="1.0"?><opml version="2.0"><head/><body>'
        f'<outline type="rss" text="EU feed" xmlUrl="{FEED}"/></body></opml>',
        encoding="utf-8",
    )
    config = ["--config", str(tmp_path / "communique.toml")]

    listed = CliRunner().invoke(main, [*config, "sources", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert (row["url"], row["status"], row["entries"]) == (FEED, "200", 1)
    assert row["warning"] == "bad XML recovered"
    assert row["history"]["next"] == "https://eu.example/archive/1"
    found = CliRunner().invoke(main, [*config, "search", "--json", "restrictive"])
    assert found.exit_code == 0, found.output
    assert [hit["title"] for hit in json.loads(found.stdout)] == ["Council adopts sanctions"]

    with Store(db_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        (item,) = store.relevant_items(
            datetime(2025, 2, 3, tzinfo=UTC), datetime(2025, 2, 4, tzinfo=UTC)
        )
        assert (item.relevance, item.topics) == (3.5, ("sanctions",))
        assert store.delivered("2025-02-03") == (
            "<m@example.org>",
            datetime(2025, 2, 4, 7, tzinfo=UTC),
        )
        assert store.resting_until("https://rested.example") == datetime(2099, 1, 1, tzinfo=UTC)
        assert store.resting_until("https://both.example") == datetime(2098, 1, 1, tzinfo=UTC)
        assert store.resting_until("https://read.example") is None
        read = store.robots_file("https://read.example")
        assert read is not None and (read.status, read.body) == (200, "User-agent: *\nDisallow: /x")
        assert not read.allows("https://read.example/x")
        both = store.robots_file("https://both.example")
        assert both is not None and both.status == 404
        # the made-up row is gone: the host's robots.txt is read before its first page
        assert store.robots_file("https://rested.example") is None


def test_a_database_from_a_newer_communique_is_refused_unchanged(tmp_path):
    db_path = tmp_path / "c.db"
    old_database(db_path, SCHEMA_VERSION)
    with contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = shape(db_path)
    (tmp_path / "communique.toml").write_text(CONFIG, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["--config", str(tmp_path / "communique.toml"), "search", "x"]
    )
    assert result.exit_code == 2, result.output
    assert f"schema version {SCHEMA_VERSION + 1} is newer than this communique" in result.stderr
    assert shape(db_path) == before
