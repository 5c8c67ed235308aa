"""The database's schema: the current one, and the steps that bring an older file up to it.

A new database is made from :data:`SCHEMA` in one go, so the schema can be read in one place.
A database an older communique made is brought up to date by :data:`MIGRATIONS`, one step
per version, in order; they are kept only for that and never change once released, since
``PRAGMA user_version`` (the number of steps applied) is what an existing file records.
Both roads lead to the same tables, columns, indexes and triggers (tests/test_schema.py
checks that), and a column added by a step comes last in its table in :data:`SCHEMA` too.

Every step, and the creation, runs in a transaction of its own, and the version is read
again under the write lock: two processes opening one database at once (two ``mail`` from
cron) apply each step once.
"""

from __future__ import annotations

import sqlite3

from sources.store.connection import transaction

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
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    guid TEXT,
    link TEXT,
    norm_link TEXT,
    title TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    summary_html TEXT NOT NULL DEFAULT '',
    content_html TEXT NOT NULL DEFAULT '',
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
CREATE INDEX entries_by_link ON entries (source_id, norm_link);
CREATE INDEX entries_by_date ON entries (published_at);
CREATE INDEX entries_relevant_by_date ON entries (relevant, published_at);
CREATE INDEX entries_page_wanted ON entries (page_wanted) WHERE page_wanted = 1;
{_FTS_TABLE}{_FTS_TRIGGERS}-- a log of every failed fetch, kept as long as the items (--keep-days)
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
{_ARCHIVES_UNREAD}"""

# The steps from each older version to the next, kept to upgrade the files older versions
# made (a new database is made from SCHEMA directly): MIGRATIONS[v] takes version v to v + 1.
MIGRATIONS: dict[int, str] = {
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
}
SCHEMA_VERSION = max(MIGRATIONS) + 1


def migrate(db: sqlite3.Connection) -> None:
    """Bring the database to :data:`SCHEMA_VERSION`: a new one from :data:`SCHEMA`, an older
    one step by step. A file from a newer communique is refused, never changed."""
    while (version := _version(db)) < SCHEMA_VERSION:
        with transaction(db):
            # read again under the write lock: another process opening the same database
            # may have created or upgraded it since (two `mail` at once)
            version = _version(db)
            if version >= SCHEMA_VERSION:
                break
            script = SCHEMA if version == 0 else MIGRATIONS[version]
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
