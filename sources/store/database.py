"""SQLite storage for sources and their items: the only module that speaks SQL.

WAL mode, a schema version with ordered migrations, and one transaction per fetched source:
a fetch's new state (validators, schedule) and its items commit together, so a process killed
at any moment leaves either all of a source's work or none of it, and the next run picks up
exactly where the last commit left off (a committed ETag never hides uncommitted items).
Full-text search runs on an FTS5 index kept in step by triggers.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feeds.errors import InputError
from sources.http.robots import RobotsFile
from sources.types import (
    Action,
    History,
    KnownItem,
    Outcome,
    PageRecord,
    Relevance,
    SearchHit,
    SourceRow,
    SourceState,
    StoredItem,
    Unread,
    WantedPage,
)

MIGRATIONS: tuple[str, ...] = (
    # 1: sources, their items, a log of failures, and full-text search over items
    """
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL DEFAULT '',
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        next_due TEXT,
        gone INTEGER NOT NULL DEFAULT 0,
        redirect_target TEXT,
        redirect_seen INTEGER NOT NULL DEFAULT 0,
        last_status TEXT,
        last_fetch_at TEXT,
        last_success_at TEXT,
        last_error TEXT,
        last_error_at TEXT,
        warning TEXT
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
        UNIQUE (source_id, key)
    );
    CREATE INDEX entries_by_link ON entries (source_id, norm_link);
    CREATE INDEX entries_by_date ON entries (published_at);
    CREATE TABLE failures (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX failures_by_source ON failures (source_id, at);
    CREATE VIRTUAL TABLE entries_fts USING fts5(
        title, summary, text, content='entries', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
        INSERT INTO entries_fts (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
    END;
    CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
        INSERT INTO entries_fts (entries_fts, rowid, title, summary, text)
        VALUES ('delete', old.id, old.title, old.summary, old.text);
    END;
    CREATE TRIGGER entries_au AFTER UPDATE OF title, summary, text ON entries BEGIN
        INSERT INTO entries_fts (entries_fts, rowid, title, summary, text)
        VALUES ('delete', old.id, old.title, old.summary, old.text);
        INSERT INTO entries_fts (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
    END;
    """,
    # 2: remember where a moved source came from, so the source list can follow the move
    # even if the process dies between committing it and rewriting the OPML file
    """
    ALTER TABLE sources ADD COLUMN moved_from TEXT;
    """,
    # 3: the keys of pruned items, so an item still listed in its feed is not stored again
    """
    CREATE TABLE pruned (
        source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        PRIMARY KEY (source_id, key)
    ) WITHOUT ROWID;
    """,
    # 4: relevance to EU foreign policy, and topics, stored with each item
    """
    ALTER TABLE entries ADD COLUMN relevance REAL NOT NULL DEFAULT 0;
    ALTER TABLE entries ADD COLUMN relevant INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE entries ADD COLUMN topics TEXT NOT NULL DEFAULT '[]';
    CREATE INDEX entries_relevant_by_date ON entries (relevant, published_at);
    """,
    # 5: the hash of each item's bytes in its feed, so an unchanged item is not parsed again
    """
    CREATE TABLE item_hashes (
        source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        hash TEXT NOT NULL,
        entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
        PRIMARY KEY (source_id, hash)
    ) WITHOUT ROWID;
    CREATE INDEX item_hashes_by_entry ON item_hashes (entry_id);
    """,
    # 6: the article text of an item's page, for feeds that carry a sentence; the pages read
    # (by URL, never fetched twice) and each host's robots.txt; the page text searchable
    """
    ALTER TABLE entries ADD COLUMN page_wanted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE entries ADD COLUMN page_text TEXT NOT NULL DEFAULT '';
    ALTER TABLE entries ADD COLUMN page_language TEXT NOT NULL DEFAULT '';
    ALTER TABLE entries ADD COLUMN page_note TEXT NOT NULL DEFAULT '';
    ALTER TABLE entries ADD COLUMN page_at TEXT;
    CREATE INDEX entries_page_wanted ON entries (page_wanted) WHERE page_wanted = 1;
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
    CREATE VIRTUAL TABLE entries_fts USING fts5(
        title, summary, text, page_text, content='entries', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    INSERT INTO entries_fts (entries_fts) VALUES ('rebuild');
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
    """,
    # 7: each digest mailed, so that it is mailed once (sources.mail_delivery)
    """
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        message_id TEXT NOT NULL,
        recipients TEXT NOT NULL,
        sent_at TEXT NOT NULL
    );
    CREATE INDEX deliveries_by_day ON deliveries (day, sent_at);
    """,
    # 8: the RFC 5005 archive documents of each source already read (they never change)
    """
    CREATE TABLE archives (
        source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        read_at TEXT NOT NULL,
        PRIMARY KEY (source_id, url)
    ) WITHOUT ROWID;
    """,
    # 9: the archive documents of each source still to read: where a history walk stopped
    # (a failure, a kill, its time ran out), so a later run goes on from there; the newest
    # queued (the highest id) is read first
    """
    CREATE TABLE archives_unread (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        problem TEXT NOT NULL DEFAULT '',
        retry_at TEXT,
        UNIQUE (source_id, url)
    );
    """,
    # 10: the network each source was last answered from: what its pages and archives may reach
    """
    ALTER TABLE sources ADD COLUMN network TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def _iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 text: sorts as time does, so SQL can compare dates as strings."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat() if moment else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Store:
    """One SQLite database. Use as a context manager; every method is one short transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # check_same_thread off: an aggregate run does its database work on one thread of
            # its own (pipeline.run), never two at once
            self.db = sqlite3.connect(
                path, timeout=60, isolation_level=None, check_same_thread=False
            )
            self.db.row_factory = sqlite3.Row
            _wal(self.db)
            self.db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable against crashes
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise InputError(
                path, None, f"not a usable communique database ({exc}); move it aside"
            ) from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this communique ({SCHEMA_VERSION})"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction() as db:
                # read again under the write lock: another process opening the same new
                # database may have applied this migration since (two `mail` at once)
                if db.execute("PRAGMA user_version").fetchone()[0] > number:
                    continue
                for statement in _statements(MIGRATIONS[number]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")

    # --- sources ---------------------------------------------------------------------------

    def sync_sources(self, sources: Sequence[tuple[str, str]]) -> None:
        """Make sure every ``(url, title)`` of the source list has a row (state starts empty)."""
        with self.transaction() as db:
            for url, title in sources:
                db.execute(
                    "INSERT INTO sources (url, title) VALUES (?, ?) "
                    "ON CONFLICT (url) DO UPDATE SET title = excluded.title WHERE excluded.title != ''",
                    (url, "" if title == url else title),  # a URL is no title: the feed's is kept
                )

    def state(self, url: str) -> SourceState:
        """The scheduling state of one source (a fresh state if it was never fetched)."""
        row = self.db.execute("SELECT * FROM sources WHERE url = ?", (url,)).fetchone()
        if row is None:
            return SourceState(url=url)
        return SourceState(
            url=row["url"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            body_hash=row["body_hash"],
            failures=row["failures"],
            next_due=_time(row["next_due"]),
            gone=bool(row["gone"]),
            redirect_target=row["redirect_target"],
            redirect_seen=row["redirect_seen"],
            network=row["network"],
        )

    def pending_moves(self, listed: Sequence[str]) -> list[tuple[str, str]]:
        """``(old, new)`` for listed URLs whose source has moved (the list may hold both)."""
        listed_set = set(listed)
        rows = self.db.execute("SELECT moved_from, url FROM sources WHERE moved_from IS NOT NULL")
        return [(r["moved_from"], r["url"]) for r in rows if r["moved_from"] in listed_set]

    def forget_move(self, old: str) -> None:
        """The user subscribed to ``old`` again on purpose: stop following its move."""
        with self.transaction() as db:
            db.execute("UPDATE sources SET moved_from = NULL WHERE moved_from = ?", (old,))

    def revive(self, url: str) -> None:
        """Poll a source again (it was re-added after a 410, or forced)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE sources SET gone = 0, next_due = NULL, failures = 0 WHERE url = ?", (url,)
            )

    def stored_entries(self, url: str) -> list[KnownItem]:
        """Identity of every stored item of a source, for the Decider."""
        rows = self.db.execute(
            "SELECT e.id, e.key, e.norm_link, e.content_hash FROM entries e JOIN sources s ON s.id = e.source_id "
            "WHERE s.url = ?",
            (url,),
        )
        return [KnownItem(r["id"], r["key"], r["norm_link"], r["content_hash"]) for r in rows]

    def known_item_hashes(self, url: str) -> dict[str, int]:
        """The hashes of a source's stored items as its feed last listed them -> item id."""
        rows = self.db.execute(
            "SELECT h.hash, h.entry_id FROM item_hashes h JOIN sources s ON s.id = h.source_id "
            "WHERE s.url = ?",
            (url,),
        )
        return {r[0]: r[1] for r in rows}

    def record(
        self,
        url: str,
        outcome: Outcome,
        fetched_at: datetime,
        actions: Sequence[Action] = (),
        *,
        status: str,
        warning: str | None = None,
        feed_title: str = "",
        keep_warning: bool = False,
        relevance: Mapping[str, Relevance] | None = None,
        pages_wanted: Collection[str] = (),
        prev_archive: str | None = None,
        max_archives: int = 0,
    ) -> tuple[int, int]:
        """Store one fetch: new state and every item, in one transaction. ``(new, updated)``.

        ``keep_warning``: only some items were parsed, so a warning about the feed as a whole
        (its content type, its encoding) is kept unless this fetch brings one of its own.
        ``pages_wanted``: keys of new items, or items whose link changed, whose page is to be
        read (:mod:`sources.full_text`); an item whose link changed loses its old page text.
        ``prev_archive``: the newest archive document the feed links (RFC 5005); queued to be
        read unless it was, or ``max_archives`` documents are read or queued. Committed with
        the feed: a run killed before its walk leaves it queued, not lost behind an ETag.
        """
        state = outcome.state
        now = _iso(fetched_at)
        with self.transaction() as db:
            source_id = db.execute("SELECT id FROM sources WHERE url = ?", (url,)).fetchone()
            if source_id is None:
                db.execute("INSERT INTO sources (url) VALUES (?)", (url,))
                source_id = db.execute("SELECT id FROM sources WHERE url = ?", (url,)).fetchone()
            source_id = source_id[0]
            if outcome.moved_from and state.url != url:
                taken = db.execute("SELECT id FROM sources WHERE url = ?", (state.url,)).fetchone()
                if taken is not None:  # already subscribed at the new address: merge into it
                    db.execute(
                        "UPDATE entries SET source_id = ? WHERE source_id = ? AND key NOT IN "
                        "(SELECT key FROM entries WHERE source_id = ?)",
                        (taken[0], source_id, taken[0]),
                    )
                    db.execute("DELETE FROM sources WHERE id = ?", (source_id,))
                    source_id = taken[0]
            if outcome.moved_from and state.url != url:
                db.execute("UPDATE sources SET moved_from = ? WHERE id = ?", (url, source_id))
            if feed_title:  # unless the source list names it; a URL is no name (older lists)
                db.execute(
                    "UPDATE sources SET title = ? WHERE id = ? AND title IN ('', url)",
                    (feed_title, source_id),
                )
            success = outcome.kind in {"ok", "not_modified", "unchanged"}
            db.execute(
                """UPDATE sources SET url = ?, etag = ?, last_modified = ?, body_hash = ?, failures = ?,
                   next_due = ?, gone = ?, redirect_target = ?, redirect_seen = ?, network = ?,
                   last_status = ?,
                   last_fetch_at = ?, last_success_at = CASE WHEN ? THEN ? ELSE last_success_at END,
                   last_error = CASE WHEN ? THEN NULL ELSE ? END,
                   last_error_at = CASE WHEN ? THEN last_error_at ELSE ? END,
                   warning = CASE WHEN ? THEN COALESCE(?, CASE WHEN ? THEN warning END)
                                  ELSE warning END
                   WHERE id = ?""",
                (
                    state.url, state.etag, state.last_modified, state.body_hash, state.failures,
                    _iso(state.next_due), int(state.gone), state.redirect_target, state.redirect_seen,
                    state.network, status, now, success, now, success, outcome.message, success, now,
                    outcome.kind == "ok", warning, keep_warning, source_id,
                ),
            )  # fmt: skip
            if not success:
                db.execute(
                    "INSERT INTO failures (source_id, at, message) VALUES (?, ?, ?)",
                    (source_id, now, outcome.message or status),
                )
            new, updated = self._write_entries(
                db, source_id, actions, now, relevance or {}, pages_wanted
            )
            if prev_archive:
                _queue_archive(db, source_id, prev_archive, budget=max_archives)
        return new, updated

    def _write_entries(
        self,
        db: sqlite3.Connection,
        source_id: int,
        actions: Sequence[Action],
        now: str | None,
        relevance: Mapping[str, Relevance],
        pages_wanted: Collection[str],
    ) -> tuple[int, int]:
        """Insert the new items and update the changed ones; ``(new, updated)``."""
        new = updated = 0
        for action in actions:
            if action.kind == "same":  # kept as stored; the feed may list it twice
                _remember_hash(db, source_id, action.stored_id, action.entry.item_hash, only=False)
                continue
            entry = action.entry
            values = (
                entry.key, entry.guid, entry.link, entry.norm_link, entry.title, entry.author,
                entry.summary, entry.text, entry.summary_html, entry.content_html,
                json.dumps(list(entry.categories), ensure_ascii=False), entry.content_hash,
            )  # fmt: skip
            if action.kind == "new":
                if db.execute(
                    "SELECT 1 FROM pruned WHERE source_id = ? AND key = ?",
                    (source_id, entry.key),
                ).fetchone():
                    continue  # pruned with --keep-days: not new, and not to be kept
                published = _iso(entry.published) or now
                verdict = relevance.get(entry.key)
                inserted = db.execute(
                    """INSERT INTO entries (key, guid, link, norm_link, title, author, summary, text,
                       summary_html, content_html, categories, content_hash, source_id,
                       published_at, updated_at, first_seen_at, last_seen_at,
                       relevance, relevant, topics, page_wanted)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        *values, source_id, published, _iso(entry.updated) or published,
                        now, now, *_verdict_columns(verdict), int(entry.key in pages_wanted),
                    ),
                ).lastrowid  # fmt: skip
                # a new row has no earlier hashes (a deleted row's went with it)
                _remember_hash(db, source_id, inserted, entry.item_hash, only=False)
                new += 1
            else:
                db.execute(
                    """UPDATE entries SET key = ?, guid = ?, link = ?, norm_link = ?, title = ?, author = ?,
                       summary = ?, text = ?, summary_html = ?, content_html = ?, categories = ?,
                       content_hash = ?, updated_at = ?, last_seen_at = ?,
                       published_at = COALESCE(?, published_at)
                       WHERE id = ?""",
                    (
                        *values,
                        _iso(entry.updated) or now,
                        now,
                        _iso(entry.published),
                        action.stored_id,
                    ),
                )
                _remember_hash(db, source_id, action.stored_id, entry.item_hash)
                if entry.key in pages_wanted:  # a new link: its page is another one
                    db.execute(
                        "UPDATE entries SET page_wanted = 1, page_text = '', page_language = '', "
                        "page_note = '' WHERE id = ?",
                        (action.stored_id,),
                    )
                updated += 1
                self._write_relevance(db, source_id, entry.key, relevance.get(entry.key))
        return new, updated

    def record_archive(
        self,
        url: str,
        archive_url: str,
        fetched_at: datetime,
        actions: Sequence[Action],
        *,
        prev_archive: str | None = None,
        relevance: Mapping[str, Relevance] | None = None,
        pages_wanted: Collection[str] = (),
    ) -> tuple[int, int]:
        """Store the items of one RFC 5005 archive document of source ``url``, remember the
        document as read (archives do not change: it is never read again), and queue the
        older one it links, ``prev_archive``, in its place: all in one transaction, so a walk
        killed at any moment goes on from the first document not committed. The source's
        own state (validators, schedule) is the current feed's and stays as it is."""
        with self.transaction() as db:
            row = db.execute("SELECT id FROM sources WHERE url = ?", (url,)).fetchone()
            if row is None:
                return 0, 0
            counts = self._write_entries(
                db, row[0], actions, _iso(fetched_at), relevance or {}, pages_wanted
            )
            db.execute(
                "INSERT OR IGNORE INTO archives (source_id, url, read_at) VALUES (?, ?, ?)",
                (row[0], archive_url, _iso(fetched_at)),
            )
            db.execute(
                "DELETE FROM archives_unread WHERE source_id = ? AND url = ?", (row[0], archive_url)
            )
            if prev_archive:  # the walk goes on: no budget (it holds one place as it moves)
                _queue_archive(db, row[0], prev_archive, budget=None)
        return counts

    def history(self, url: str) -> History:
        """How far source ``url``'s history has been read, and what is still to read."""
        return self.histories(url).get(url, History())

    def histories(self, url: str | None = None) -> dict[str, History]:
        """Every source's history (or only ``url``'s), by source URL; the archive document to
        read next comes first in each."""
        where, params = ("WHERE s.url = ?", (url,)) if url is not None else ("", ())
        read = {
            r[0]: r[1]
            for r in self.db.execute(
                "SELECT s.url, COUNT(*) FROM archives a JOIN sources s ON s.id = a.source_id "
                f"{where} GROUP BY s.url",
                params,
            )
        }
        unread: dict[str, list[Unread]] = {}
        for r in self.db.execute(
            "SELECT s.url AS source, u.url, u.failures, u.problem, u.retry_at "
            f"FROM archives_unread u JOIN sources s ON s.id = u.source_id {where} "
            "ORDER BY u.id DESC",
            params,
        ):
            unread.setdefault(r["source"], []).append(
                Unread(r["url"], r["failures"], r["problem"], _time(r["retry_at"]))
            )
        return {
            source: History(read.get(source, 0), tuple(unread.get(source, ())))
            for source in read.keys() | unread.keys()
        }

    def archive_failed(self, url: str, unread: Unread) -> None:
        """An archive document of source ``url`` could not be read: it waits, with why."""
        with self.transaction() as db:
            db.execute(
                "UPDATE archives_unread SET failures = ?, problem = ?, retry_at = ? "
                "WHERE url = ? AND source_id = (SELECT id FROM sources WHERE url = ?)",
                (unread.failures, unread.problem, _iso(unread.retry_at), unread.url, url),
            )

    def archive_not_reached(self, url: str, archive_url: str, problem: str) -> None:
        """A walk stopped before this document (its time ran out): say why, unless the
        document failed before (that reason still stands, and so does its backoff)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE archives_unread SET problem = ? WHERE url = ? AND failures = 0 "
                "AND source_id = (SELECT id FROM sources WHERE url = ?)",
                (problem, archive_url, url),
            )

    def histories_due(self, now: datetime) -> frozenset[str]:
        """Sources with an archive document to read now: a walk to go on with (not for a
        source that is gone, or failing: its host is left alone until the feed answers)."""
        rows = self.db.execute(
            "SELECT DISTINCT s.url FROM archives_unread u JOIN sources s ON s.id = u.source_id "
            "WHERE s.gone = 0 AND s.failures = 0 AND (u.retry_at IS NULL OR u.retry_at <= ?)",
            (_iso(now),),
        )
        return frozenset(r[0] for r in rows)

    @staticmethod
    def _write_relevance(
        db: sqlite3.Connection, source_id: int, key: str, verdict: Relevance | None
    ) -> None:
        if verdict is None:
            return
        db.execute(
            "UPDATE entries SET relevance = ?, relevant = ?, topics = ? WHERE source_id = ? AND key = ?",
            (
                verdict.score,
                int(verdict.relevant),
                json.dumps(list(verdict.topics)),
                source_id,
                key,
            ),
        )

    def rescore(self, score: Callable[[StoredItem], Relevance]) -> tuple[int, int]:
        """Score every stored item again (topics changed); ``(items, items whose verdict changed)``."""
        changed = total = 0
        with self.transaction() as db:
            for item in self._items(db, "1 = 1", ()):
                verdict = score(item)
                total += 1
                if (verdict.score, verdict.relevant, list(verdict.topics)) != (
                    item.relevance,
                    item.relevant,
                    list(item.topics),
                ):
                    changed += 1
                    _write_verdict(db, item.id, verdict)
        return total, changed

    def item(self, item_id: int) -> StoredItem | None:
        """One stored item by id (as ``search`` prints it)."""
        items = self._items(self.db, "e.id = ?", (item_id,))
        return items[0] if items else None

    def relevant_items(self, since: datetime, until: datetime) -> list[StoredItem]:
        """Items about EU foreign policy published in ``[since, until)``, oldest first."""
        return self._items(
            self.db,
            "e.relevant = 1 AND e.published_at >= ? AND e.published_at < ?",
            (_iso(since), _iso(until)),
        )

    def _items(
        self, db: sqlite3.Connection, where: str, params: tuple[object, ...]
    ) -> list[StoredItem]:
        rows = db.execute(
            f"""SELECT e.id, e.key, e.link, e.norm_link, e.title, e.author, e.summary, e.text,
                       e.published_at, e.updated_at, e.relevance, e.relevant, e.topics,
                       e.page_text, e.page_language, e.page_note,
                       s.url AS source_url, s.title AS source_title
                FROM entries e JOIN sources s ON s.id = e.source_id
                WHERE {where} ORDER BY e.published_at, e.id""",
            params,
        ).fetchall()
        return [
            StoredItem(
                id=r["id"],
                key=r["key"],
                link=r["link"],
                norm_link=r["norm_link"],
                title=r["title"],
                author=r["author"],
                summary=r["summary"],
                text=r["text"],
                published_at=datetime.fromisoformat(r["published_at"]),
                updated_at=datetime.fromisoformat(r["updated_at"]),
                relevance=r["relevance"],
                relevant=bool(r["relevant"]),
                topics=tuple(json.loads(r["topics"])),
                source_url=r["source_url"],
                source_title=r["source_title"] or r["source_url"],
                page_text=r["page_text"],
                page_language=r["page_language"],
                page_note=r["page_note"],
            )
            for r in rows
        ]

    # --- article pages (sources.full_text) --------------------------------------------------

    def wanted_pages(self) -> list[WantedPage]:
        """Items whose page is to be read, newest first, with what is known of the page."""
        rows = self.db.execute(
            """SELECT e.id, e.link, e.title, e.summary, e.text, s.url AS source_url, s.network,
                      p.status, p.etag, p.last_modified, p.text AS page_text, p.language,
                      p.problem, p.failures, p.retry_at
               FROM entries e JOIN sources s ON s.id = e.source_id
               LEFT JOIN pages p ON p.url = e.link
               WHERE e.page_wanted = 1 AND e.link IS NOT NULL
               ORDER BY e.first_seen_at DESC, e.published_at DESC, e.id DESC"""
        ).fetchall()
        return [
            WantedPage(
                entry_id=r["id"],
                url=r["link"],
                title=r["title"],
                summary=r["summary"],
                text=r["text"],
                source_url=r["source_url"],
                source_network=r["network"],
                known=None
                if r["status"] is None
                else PageRecord(
                    url=r["link"],
                    status=r["status"],
                    etag=r["etag"],
                    last_modified=r["last_modified"],
                    text=r["page_text"],
                    language=r["language"],
                    problem=r["problem"],
                    failures=r["failures"],
                    retry_at=_time(r["retry_at"]),
                ),
            )
            for r in rows
        ]

    def record_page(
        self,
        page: PageRecord,
        fetched_at: datetime,
        entry_ids: Sequence[int],
        *,
        done: bool,
        relevance: Mapping[int, Relevance] | None = None,
    ) -> None:
        """Keep what reading one page gave (by URL: it is never fetched twice), and give its
        items the page's text, or the reason it is not used. ``done``: the items stop waiting
        for their page (read, or not to be read); else they wait for ``page.retry_at``."""
        now = _iso(fetched_at)
        with self.transaction() as db:
            db.execute(
                """INSERT OR REPLACE INTO pages (url, fetched_at, status, etag, last_modified, text,
                   language, problem, failures, retry_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    page.url, now, page.status, page.etag, page.last_modified, page.text,
                    page.language, page.problem, page.failures, _iso(page.retry_at),
                ),
            )  # fmt: skip
            for entry_id in entry_ids:
                db.execute(
                    "UPDATE entries SET page_text = ?, page_language = ?, page_note = ?, "
                    "page_at = ?, page_wanted = ? WHERE id = ?",
                    (
                        page.text if not page.problem else "",
                        page.language,
                        page.problem,
                        now,
                        int(not done),
                        entry_id,
                    ),
                )
                verdict = (relevance or {}).get(entry_id)
                if verdict is not None:
                    _write_verdict(db, entry_id, verdict)

    def give_up_pages(self, entry_ids: Sequence[int], note: str, at: datetime) -> None:
        """These items' pages will not be read (robots.txt, not a web page): say why."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE entries SET page_wanted = 0, page_note = ?, page_at = ? WHERE id = ?",
                [(note, _iso(at), i) for i in entry_ids],
            )

    def robots_file(self, host: str) -> RobotsFile | None:
        """A host's robots.txt as last read, if ever."""
        row = self.db.execute(
            "SELECT read_at, status, body FROM robots WHERE host = ?", (host,)
        ).fetchone()
        if row is None:
            return None
        return RobotsFile(host, row["status"], row["body"], datetime.fromisoformat(row["read_at"]))

    def save_robots_file(self, robots: RobotsFile) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO robots (host, read_at, status, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (host) DO UPDATE SET read_at = excluded.read_at, "
                "status = excluded.status, body = excluded.body",
                (robots.host, _iso(robots.read_at), robots.status, robots.body),
            )

    def resting_until(self, host: str) -> datetime | None:
        """Until when a host that answered 429 or 503 to a page is left alone."""
        row = self.db.execute("SELECT resting_until FROM robots WHERE host = ?", (host,)).fetchone()
        return _time(row["resting_until"]) if row else None

    def rest_host(self, host: str, until: datetime, at: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO robots (host, read_at, status, body, resting_until) "
                "VALUES (?, ?, NULL, '', ?) "
                "ON CONFLICT (host) DO UPDATE SET resting_until = excluded.resting_until",
                (host, "1970-01-01T00:00:00+00:00", _iso(until)),
            )

    def page_counts(self) -> dict[str, tuple[int, str]]:
        """Per source URL: how many items have page text, and the last page problem."""
        rows = self.db.execute(
            """SELECT s.url,
                      (SELECT COUNT(*) FROM entries e WHERE e.source_id = s.id AND e.page_text != '')
                          AS with_text,
                      (SELECT e.page_note FROM entries e
                       WHERE e.source_id = s.id AND e.page_note != '' AND e.page_at IS NOT NULL
                       ORDER BY e.page_at DESC, e.id DESC LIMIT 1) AS problem
               FROM sources s"""
        )
        return {r["url"]: (r["with_text"], r["problem"] or "") for r in rows}

    # --- digests mailed ----------------------------------------------------------------------

    def delivered(self, day: str) -> tuple[str, datetime] | None:
        """``(Message-ID, when)`` of the last time the digest ``day`` was mailed, if ever."""
        row = self.db.execute(
            "SELECT message_id, sent_at FROM deliveries WHERE day = ? ORDER BY sent_at DESC, id DESC",
            (day,),
        ).fetchone()
        return (row["message_id"], datetime.fromisoformat(row["sent_at"])) if row else None

    def record_delivery(
        self, day: str, message_id: str, recipients: Sequence[str], at: datetime
    ) -> None:
        """The digest ``day`` was accepted by the mail server for ``recipients``."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO deliveries (day, message_id, recipients, sent_at) VALUES (?, ?, ?, ?)",
                (day, message_id, ", ".join(recipients), _iso(at)),
            )

    # --- reading ---------------------------------------------------------------------------

    def source_rows(self) -> dict[str, SourceRow]:
        """Every source's state and item count, by URL."""
        rows = self.db.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM entries e WHERE e.source_id = s.id) AS n FROM sources s"
        )
        return {
            r["url"]: SourceRow(
                url=r["url"],
                title=r["title"],
                last_status=r["last_status"],
                last_success_at=_time(r["last_success_at"]),
                last_error=r["last_error"],
                next_due=_time(r["next_due"]),
                gone=bool(r["gone"]),
                failures=r["failures"],
                entries=r["n"],
                warning=r["warning"],
                network=r["network"],
            )
            for r in rows
        }

    def failures(self, url: str, limit: int = 20) -> list[tuple[datetime, str]]:
        """A source's most recent failures, newest first."""
        rows = self.db.execute(
            "SELECT f.at, f.message FROM failures f JOIN sources s ON s.id = f.source_id "
            "WHERE s.url = ? ORDER BY f.at DESC, f.id DESC LIMIT ?",
            (url, limit),
        )
        return [(datetime.fromisoformat(r["at"]), r["message"]) for r in rows]

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Full-text search over titles, summaries, text and page text, best matches first.

        ``query`` is FTS5 query syntax (:mod:`sources.search_query` makes it from words);
        ValueError with SQLite's reason when FTS5 cannot read it."""
        try:
            rows = self.db.execute(
                """SELECT e.id, s.title AS source, s.url, e.title, e.link, e.published_at,
                          snippet(entries_fts, -1, '[', ']', '…', 12) AS snippet
                   FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid
                   JOIN sources s ON s.id = e.source_id
                   WHERE entries_fts MATCH ? ORDER BY bm25(entries_fts, 5.0, 2.0, 1.0, 1.0), e.published_at DESC
                   LIMIT ?""",
                (query, limit),
            ).fetchall()
        except sqlite3.OperationalError as exc:  # FTS5 syntax: the caller names the query
            raise ValueError(str(exc)) from None
        return [
            SearchHit(
                r["id"],
                r["source"] or r["url"],
                r["title"],
                r["link"],
                datetime.fromisoformat(r["published_at"]),
                r["snippet"],
            )
            for r in rows
        ]

    def prune(self, keep_days: int, now: datetime) -> int:
        """Delete items first seen more than ``keep_days`` ago (and old failure records)."""
        cutoff = _iso(now - timedelta(days=keep_days))
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO pruned (source_id, key) SELECT source_id, key FROM entries "
                "WHERE published_at < ? AND first_seen_at < ?",
                (cutoff, cutoff),
            )
            deleted = db.execute(
                "DELETE FROM entries WHERE published_at < ? AND first_seen_at < ?", (cutoff, cutoff)
            ).rowcount
            db.execute("DELETE FROM failures WHERE at < ?", (cutoff,))
        return deleted

    def counts(self) -> tuple[int, int]:
        """``(sources, items)`` in the database."""
        sources = self.db.execute("SELECT COUNT(*) FROM sources").fetchone()[0]
        items = self.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
        return sources, items


def _verdict_columns(verdict: Relevance | None) -> tuple[float, int, str]:
    """The relevance, relevant and topics columns of a new item (unscored: the defaults)."""
    if verdict is None:
        return 0.0, 0, "[]"
    return verdict.score, int(verdict.relevant), json.dumps(list(verdict.topics))


def _write_verdict(db: sqlite3.Connection, entry_id: int, verdict: Relevance) -> None:
    """A stored item's relevance, verdict and topics, scored again."""
    db.execute(
        "UPDATE entries SET relevance = ?, relevant = ?, topics = ? WHERE id = ?",
        (*_verdict_columns(verdict), entry_id),
    )


def _remember_hash(
    db: sqlite3.Connection,
    source_id: int,
    entry_id: int | None,
    item_hash: str | None,
    *,
    only: bool = True,
) -> None:
    """Keep ``item_hash`` for stored item ``entry_id``: the next fetch of its feed recognises
    the item by it, unchanged, without parsing it. ``only``: the item was just written from
    these bytes, so the hashes of its earlier versions go (bytes that return to an earlier
    version must be read again)."""
    if not item_hash or entry_id is None:
        return
    if only:
        db.execute(
            "DELETE FROM item_hashes WHERE entry_id = ? AND hash != ?", (entry_id, item_hash)
        )
    db.execute(
        "INSERT OR REPLACE INTO item_hashes (source_id, hash, entry_id) VALUES (?, ?, ?)",
        (source_id, item_hash, entry_id),
    )


def _queue_archive(
    db: sqlite3.Connection, source_id: int, archive_url: str, *, budget: int | None
) -> None:
    """Queue an archive document of a source to be read, unless it was read or is queued
    already, or (``budget``) that many documents are read or queued: a feed that links a new
    archive on every poll cannot grow the queue without end."""
    seen = db.execute(
        "SELECT 1 FROM archives WHERE source_id = ? AND url = ? "
        "UNION ALL SELECT 1 FROM archives_unread WHERE source_id = ? AND url = ?",
        (source_id, archive_url, source_id, archive_url),
    ).fetchone()
    if seen:
        return
    if budget is not None:
        held = db.execute(
            "SELECT (SELECT COUNT(*) FROM archives WHERE source_id = ?) + "
            "(SELECT COUNT(*) FROM archives_unread WHERE source_id = ?)",
            (source_id, source_id),
        ).fetchone()[0]
        if held >= budget:
            return
    db.execute(
        "INSERT INTO archives_unread (source_id, url) VALUES (?, ?)", (source_id, archive_url)
    )


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3 runs one per execute)."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        joined = "\n".join(current).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            statements.append(joined)
            current = []
    if "\n".join(current).strip():
        statements.append("\n".join(current))
    return statements


class Busy(Exception):
    """Another process holds the lock: another ``aggregate``, or another mail of a digest."""


def _wal(db: sqlite3.Connection, wait: float = 60.0) -> None:
    """Put the database in WAL mode. Changing the mode takes a lock SQLite's busy timeout
    does not wait for, so two processes opening one new database at once (two `mail` from
    cron) would see "database is locked": wait for it here instead."""
    deadline = time.monotonic() + wait
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def run_lock(database: Path, *, wait: float) -> contextlib.AbstractContextManager[None]:
    """Only one aggregate run per database at a time; wait up to ``wait`` seconds for it.

    SQLite would serialise the writes anyway, but two runs would fetch every source twice
    and race on schedules; the lock makes the second run wait or stop with a clear message.
    """
    return _lock_beside(
        database,
        ".lock",
        wait,
        f"another `communique aggregate` is using {database}; try again when it ends",
    )


def mail_lock(database: Path, *, wait: float) -> contextlib.AbstractContextManager[None]:
    """Only one process mails the digests of a database at a time; wait up to ``wait`` seconds.

    "Mailed already?", the sending and the record of the delivery must be one step: two runs
    at once would both find the digest not mailed and both send it. Held by the first, the
    lock makes the second wait, then find the digest mailed (or stop with a clear message).
    """
    return _lock_beside(
        database, ".mail-lock", wait, f"another process is mailing a digest of {database}"
    )


@contextlib.contextmanager
def _lock_beside(database: Path, suffix: str, wait: float, busy: str) -> Iterator[None]:
    """A lock file beside ``database`` (flock: released by the kernel if the process dies, so
    a killed run never leaves a stale lock); :class:`Busy` with ``busy`` after ``wait`` s."""
    database.parent.mkdir(parents=True, exist_ok=True)
    lock_path = database.with_name(database.name + suffix)
    handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy(busy) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(handle)
