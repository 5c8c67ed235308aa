"""The database's schema: the current one, and the steps that bring an older file up to it.

A new database is made from :data:`SCHEMA` in one go, so the schema can be read in one place.
A database an older communique made is brought up to date by :data:`MIGRATIONS`, one step
per version, in order; they are kept only for that and never change once released, since
``PRAGMA user_version`` (the number of steps applied) is what an existing file records.
Both roads lead to the same tables, columns, indexes, views and triggers
(tests/test_schema.py checks that), and a column added by a step comes last in its table in
:data:`SCHEMA` too (until a step rebuilds the table).

Every step, and the creation, runs in a transaction of its own, and the version is read
again under the write lock: two processes opening one database at once (two ``mail`` from
cron) apply each step once. A step that converts every item (12) is a function instead of a
script: it works in batches, a transaction each, so a process killed half-way leaves a
database the next open goes on converting, and it ends with ``VACUUM``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from feeds.text import html_to_text
from sources.store.connection import transaction
from sources.store.texts import pack_html, register

# Tables and triggers the current schema shares with the step that made them (while that
# step made them as they are now: a step that is released never changes).
_PRUNED = """
CREATE TABLE pruned (
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    PRIMARY KEY (source_id, key)
) WITHOUT ROWID;
"""
_ITEM_HASHES = """
CREATE TABLE item_hashes (
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    PRIMARY KEY (source_id, hash)
) WITHOUT ROWID;
CREATE INDEX item_hashes_by_entry ON item_hashes (entry_id);
"""
# The search index as versions 5 to 11 made it, over the entries table's own text columns
_FTS_TABLE = """
CREATE VIRTUAL TABLE entries_fts USING fts5(
    title, summary, text, page_text, content='entries', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
"""
_FTS_TRIGGERS = """
CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts (rowid, title, summary, text, page_text)
    VALUES (new.id, new.title, new.summary, new.text, new.page_text);
END;
CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, title, summary, text, page_text)
    VALUES ('delete', old.id, old.title, old.summary, old.text, old.page_text);
END;
CREATE TRIGGER entries_au AFTER UPDATE OF title, summary, text, page_text ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, title, summary, text, page_text)
    VALUES ('delete', old.id, old.title, old.summary, old.text, old.page_text);
    INSERT INTO entries_fts (rowid, title, summary, text, page_text)
    VALUES (new.id, new.title, new.summary, new.text, new.page_text);
END;
"""
# Since version 12 an item keeps its HTML once, compressed, and plain text only where it is
# not derived from that HTML (sources/store/texts.py); the search index is built from the
# derived texts, read through a view with the SQL function item_text (registered on every
# connection), so it holds no copy of them. The columns an older version added last are
# in their place here, since version 12 rebuilt the table.
_ENTRIES = """
CREATE TABLE {table} (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    guid TEXT,
    link TEXT,
    norm_link TEXT,
    title TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    html BLOB NOT NULL DEFAULT x'',  -- the sanitised HTML (content, else summary), compressed
    summary TEXT,  -- the summary's plain text; NULL: the same as the item's text
    text TEXT,  -- the plain text; NULL: derived from html on read (item_text)
    categories TEXT NOT NULL DEFAULT '[]',
    published_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    relevance REAL NOT NULL DEFAULT 0,
    relevant INTEGER NOT NULL DEFAULT 0,
    topics TEXT NOT NULL DEFAULT '[]',
    page_wanted INTEGER NOT NULL DEFAULT 0,  -- the item's article page is to be read
    page_text TEXT NOT NULL DEFAULT '',
    page_language TEXT NOT NULL DEFAULT '',
    page_note TEXT NOT NULL DEFAULT '',  -- why the page's text is not used
    page_at TEXT,
    UNIQUE (source_id, key)
);
"""
_ENTRIES_INDEXES = """
CREATE INDEX entries_by_link ON entries (source_id, norm_link);
CREATE INDEX entries_by_date ON entries (published_at);
CREATE INDEX entries_relevant_by_date ON entries (relevant, published_at);
CREATE INDEX entries_page_wanted ON entries (page_wanted) WHERE page_wanted = 1;
"""


def _texts(row: str) -> str:
    """The four texts search indexes, of ``row`` (``new.``, ``old.`` or "" in a SELECT)."""
    text = f"item_text({row}html, {row}text)"
    return f"{row}title, COALESCE({row}summary, {text}), {text}, {row}page_text"


_SEARCH = f"""
CREATE VIEW entries_text (id, title, summary, text, page_text) AS
    SELECT id, {_texts("")} FROM entries;
CREATE VIRTUAL TABLE entries_fts USING fts5(
    title, summary, text, page_text, content='entries_text', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts (rowid, title, summary, text, page_text)
    VALUES (new.id, {_texts("new.")});
END;
CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, title, summary, text, page_text)
    VALUES ('delete', old.id, {_texts("old.")});
END;
CREATE TRIGGER entries_au AFTER UPDATE OF title, html, summary, text, page_text ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, title, summary, text, page_text)
    VALUES ('delete', old.id, {_texts("old.")});
    INSERT INTO entries_fts (rowid, title, summary, text, page_text)
    VALUES (new.id, {_texts("new.")});
END;
"""
_PAGES = """
CREATE TABLE pages (
    url TEXT PRIMARY KEY,
    fetched_at TEXT NOT NULL,
    status TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    text TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    problem TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    retry_at TEXT
) WITHOUT ROWID;
"""
_HOST_RESTS = """
CREATE TABLE host_rests (
    host TEXT PRIMARY KEY,
    resting_until TEXT NOT NULL
) WITHOUT ROWID;
"""
_DELIVERIES = """
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL,
    message_id TEXT NOT NULL,
    recipients TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE INDEX deliveries_by_day ON deliveries (day, sent_at);
"""
_STORIES = """
CREATE TABLE story_items (
    entry_id INTEGER PRIMARY KEY REFERENCES entries(id) ON DELETE CASCADE,
    story TEXT NOT NULL,  -- sources.judge.stories.story_id of the story's first item
    day TEXT NOT NULL  -- the digest the item first appeared in
);
CREATE INDEX story_items_by_story ON story_items (story);
CREATE TABLE stories (
    id TEXT PRIMARY KEY,
    storyline TEXT NOT NULL,  -- the larger development it is part of (its first story's id)
    day TEXT NOT NULL  -- the digest it first appeared in
) WITHOUT ROWID;
CREATE INDEX stories_by_storyline ON stories (storyline);
CREATE TABLE storylines (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,  -- as the last digest that showed it named it
    day TEXT NOT NULL  -- the last digest that showed it
) WITHOUT ROWID;
"""
_ARCHIVES = """
CREATE TABLE archives (
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    read_at TEXT NOT NULL,
    PRIMARY KEY (source_id, url)
) WITHOUT ROWID;
"""
_ARCHIVES_UNREAD = """
CREATE TABLE archives_unread (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    problem TEXT NOT NULL DEFAULT '',
    retry_at TEXT,
    UNIQUE (source_id, url)
);
"""

SCHEMA = f"""
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL DEFAULT '',
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    failures INTEGER NOT NULL DEFAULT 0,  -- fetches in a row that failed
    next_due TEXT,
    gone INTEGER NOT NULL DEFAULT 0,
    redirect_target TEXT,  -- a permanent redirect seen, not yet confirmed
    redirect_seen INTEGER NOT NULL DEFAULT 0,
    last_status TEXT,
    last_fetch_at TEXT,
    last_success_at TEXT,
    last_error TEXT,
    last_error_at TEXT,
    warning TEXT,  -- what the last parse recovered from (bad XML, a rejected date)
    moved_from TEXT,  -- the URL the source moved from, until the source list follows
    network TEXT  -- the network the feed last answered from: what its links may reach
);
{_ENTRIES.format(table="entries")}{_ENTRIES_INDEXES}{_SEARCH}-- a log of every failed fetch, kept as long as the items (--keep-days)
CREATE TABLE failures (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX failures_by_source ON failures (source_id, at);
-- the keys of pruned items, so an item still listed in its feed is not stored again
{_PRUNED}-- the hash of each item's bytes in its feed, so an unchanged item is not parsed again
{_ITEM_HASHES}-- article pages read, by URL (never fetched twice)
{_PAGES}-- each host's robots.txt as last read
CREATE TABLE robots (
    host TEXT PRIMARY KEY,
    read_at TEXT NOT NULL,
    status INTEGER,  -- NULL: no answer
    body TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
-- hosts that answered 429 or 503 to a page, left alone until then
{_HOST_RESTS}-- each digest mailed, so that it is mailed once
{_DELIVERIES}-- the RFC 5005 archive documents of each source already read (they never change)
{_ARCHIVES}-- the archive documents still to read, where a history walk stopped; newest queued first
{_ARCHIVES_UNREAD}-- the story each item shown in a digest was placed in, and each story's storyline
{_STORIES}"""

# --- 11 -> 12: each text kept once ---------------------------------------------------------------

BATCH = 500  # items converted per transaction: what a process killed half-way has to redo
_CONVERTED_COLUMNS = """id, source_id, key, guid, link, norm_link, title, author, {texts},
    categories, published_at, updated_at, first_seen_at, last_seen_at, content_hash, relevance,
    relevant, topics, page_wanted, page_text, page_language, page_note, page_at"""
# a text becomes NULL only where deriving it gives the very same string
_CONVERTED_TEXTS = """pack_html(content_html),
    CASE WHEN summary = text THEN NULL ELSE summary END,
    CASE WHEN text = html_to_text(content_html) THEN NULL ELSE text END"""
_CONVERT_BATCH = f"""
INSERT INTO entries_new ({_CONVERTED_COLUMNS.format(texts="html, summary, text")})
SELECT {_CONVERTED_COLUMNS.format(texts=_CONVERTED_TEXTS)}
FROM entries WHERE id > :done ORDER BY id LIMIT :batch
"""
_SWAP = f"""
DROP TABLE entries_fts;
DROP TABLE entries;
ALTER TABLE entries_new RENAME TO entries;
{_ENTRIES_INDEXES}{_SEARCH}"""
_INDEX_BATCH = """
INSERT INTO entries_fts (rowid, title, summary, text, page_text)
SELECT id, title, summary, text, page_text FROM entries_text
WHERE id > :done ORDER BY id LIMIT :batch
"""


def _keep_each_text_once(db: sqlite3.Connection, batch: int = BATCH) -> None:
    """Version 11 -> 12: an item keeps its HTML once, compressed, its text only where that
    HTML does not give it, its summary only where it is not the text; search indexes the
    same words through the ``entries_text`` view.

    Resumable, in four parts, each made of transactions that leave a state the next open
    (running this again) carries on from: the items are copied into ``entries_new``,
    converted, ``batch`` at a time in id order (the highest id copied is where the next
    batch starts); one short transaction puts the new table in the old one's place, with an
    empty search index; the index is filled ``batch`` items at a time (the highest id it
    holds is where the next batch starts); then ``VACUUM`` (which no transaction may hold)
    gives the space back, and only then is the version set. Every text reads as it did: a
    text or summary is set to NULL only when deriving it gives the very same string."""
    register(db)
    db.create_function("pack_html", 1, pack_html, deterministic=True)
    db.create_function("html_to_text", 1, html_to_text, deterministic=True)
    with transaction(db):
        if _version(db) == 11 and not _has_table(db, "entries_new") and _is_old(db):
            db.execute(_ENTRIES.format(table="entries_new"))
    _in_batches(db, "entries_new", _CONVERT_BATCH, batch, swapped=False)
    # with foreign keys on, dropping the old table would delete the item hashes that refer
    # to it (ON DELETE CASCADE); without secure_delete its pages are freed, not zeroed, so
    # the WAL does not grow by the whole old table (VACUUM rewrites the file anyway); both
    # pragmas are set outside the transaction
    secure_delete = db.execute("PRAGMA secure_delete").fetchone()[0]
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute("PRAGMA secure_delete = OFF")
    try:
        with transaction(db):
            if _version(db) == 11 and _has_table(db, "entries_new"):
                for statement in statements(_SWAP):
                    db.execute(statement)
                if db.execute("PRAGMA foreign_key_check").fetchone():
                    raise sqlite3.DatabaseError("version 12: an item hash without its item")
    finally:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute(f"PRAGMA secure_delete = {int(secure_delete)}")
    _in_batches(db, "entries_fts_docsize", _INDEX_BATCH, batch, swapped=True)
    if _version(db) == 11:
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # VACUUM went through the WAL
        with transaction(db):
            if _version(db) == 11:
                db.execute("PRAGMA user_version = 12")


def _in_batches(
    db: sqlite3.Connection, table: str, script: str, batch: int, *, swapped: bool
) -> None:
    """Run ``script`` (an INSERT into ``table`` of the ``batch`` rows after id ``:done``),
    one transaction a batch, until no row is left: the highest id in ``table`` says where
    each batch starts. Only while version 11 is being converted, and only before the new
    table took the old one's place, or only after (``swapped``)."""
    while True:
        with transaction(db):
            if _version(db) != 11 or not _has_table(db, table) or _is_old(db) == swapped:
                return
            done = db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
            if not db.execute(script, {"done": done, "batch": batch}).rowcount:
                return


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return bool(
        db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
    )


def _is_old(db: sqlite3.Connection) -> bool:
    """Whether the entries table still has version 11's columns (not yet swapped)."""
    return any(r[1] == "content_html" for r in db.execute("PRAGMA table_info(entries)"))


# The steps from each older version to the next, kept to upgrade the files older versions
# made (a new database is made from SCHEMA directly): MIGRATIONS[v] takes version v to v + 1.
MIGRATIONS: dict[int, str | Callable[[sqlite3.Connection], None]] = {
    # 1 -> 2: remember where a moved source came from, so the source list can follow the move
    # even if the process dies between committing it and rewriting the OPML file
    1: """
    ALTER TABLE sources ADD COLUMN moved_from TEXT;
    """,
    # 2 -> 3: the keys of pruned items, so an item still listed in its feed is not stored again
    2: f"""
    {_PRUNED}
    """,
    # 3 -> 4: relevance to EU foreign policy, and topics, stored with each item
    3: """
    ALTER TABLE entries ADD COLUMN relevance REAL NOT NULL DEFAULT 0;
    ALTER TABLE entries ADD COLUMN relevant INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE entries ADD COLUMN topics TEXT NOT NULL DEFAULT '[]';
    CREATE INDEX entries_relevant_by_date ON entries (relevant, published_at);
    """,
    # 4 -> 5: the hash of each item's bytes in its feed, so an unchanged item is not parsed again
    4: f"""
    {_ITEM_HASHES}
    """,
    # 5 -> 6: the article text of an item's page, for feeds that carry a sentence; the pages read
    # (by URL, never fetched twice) and each host's robots.txt; the page text searchable
    5: f"""
    ALTER TABLE entries ADD COLUMN page_wanted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE entries ADD COLUMN page_text TEXT NOT NULL DEFAULT '';
    ALTER TABLE entries ADD COLUMN page_language TEXT NOT NULL DEFAULT '';
    ALTER TABLE entries ADD COLUMN page_note TEXT NOT NULL DEFAULT '';
    ALTER TABLE entries ADD COLUMN page_at TEXT;
    CREATE INDEX entries_page_wanted ON entries (page_wanted) WHERE page_wanted = 1;
    {_PAGES}
    CREATE TABLE robots (
        host TEXT PRIMARY KEY,
        read_at TEXT NOT NULL,
        status INTEGER,
        body TEXT NOT NULL DEFAULT '',
        resting_until TEXT
    ) WITHOUT ROWID;
    DROP TRIGGER entries_ai;
    DROP TRIGGER entries_ad;
    DROP TRIGGER entries_au;
    DROP TABLE entries_fts;
    {_FTS_TABLE}
    INSERT INTO entries_fts (entries_fts) VALUES ('rebuild');
    {_FTS_TRIGGERS}
    """,
    # 6 -> 7: each digest mailed, so that it is mailed once (sources.mail_delivery)
    6: f"""
    {_DELIVERIES}
    """,
    # 7 -> 8: the RFC 5005 archive documents of each source already read (they never change)
    7: f"""
    {_ARCHIVES}
    """,
    # 8 -> 9: the archive documents of each source still to read: where a history walk stopped
    # (a failure, a kill, its time ran out), so a later run goes on from there; the newest
    # queued (the highest id) is read first
    8: f"""
    {_ARCHIVES_UNREAD}
    """,
    # 9 -> 10: the network each source was last answered from: what its pages and archives may reach
    9: """
    ALTER TABLE sources ADD COLUMN network TEXT;
    """,
    # 10 -> 11: a host's rest (it answered 429 or 503 to a page) in a table of its own: it was kept
    # in the robots table, on a row made up for it (robots.txt never read, "read" in 1970)
    # when the host had none yet; those made-up rows go, so the robots.txt is read for real
    10: f"""
    {_HOST_RESTS}
    INSERT INTO host_rests (host, resting_until)
        SELECT host, resting_until FROM robots WHERE resting_until IS NOT NULL;
    CREATE TABLE robots_read (
        host TEXT PRIMARY KEY,
        read_at TEXT NOT NULL,
        status INTEGER,
        body TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    INSERT INTO robots_read (host, read_at, status, body)
        SELECT host, read_at, status, body FROM robots
        WHERE read_at != '1970-01-01T00:00:00+00:00';
    DROP TABLE robots;
    ALTER TABLE robots_read RENAME TO robots;
    """,
    # 11 -> 12: each text kept once (below)
    11: _keep_each_text_once,
    # 12 -> 13: stories followed from one digest to the next, and their storylines
    12: _STORIES,
}
SCHEMA_VERSION = max(MIGRATIONS) + 1


def migrate(db: sqlite3.Connection) -> None:
    """Bring the database to :data:`SCHEMA_VERSION`: a new one from :data:`SCHEMA`, an older
    one step by step. A file from a newer communique is refused, never changed."""
    while (version := _version(db)) < SCHEMA_VERSION:
        if callable(step := MIGRATIONS.get(version)):
            step(db)  # transactions of its own; it sets the version when it is done
            continue
        with transaction(db):
            # read again under the write lock: another process opening the same database
            # may have created or upgraded it since (two `mail` at once)
            version = _version(db)
            if version >= SCHEMA_VERSION or callable(step := MIGRATIONS.get(version)):
                continue
            script = SCHEMA if version == 0 else step
            for statement in statements(script):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION if version == 0 else version + 1}")
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"schema version {version} is newer than this communique ({SCHEMA_VERSION})"
        )


def _version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def statements(script: str) -> list[str]:
    """Split a script into statements (sqlite3 runs one per execute, and ``executescript``
    would commit the transaction it runs in)."""
    found, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        joined = "\n".join(current).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            found.append(joined)
            current = []
    if "\n".join(current).strip():
        found.append("\n".join(current))
    return found
