"""Archives (RFC 5005): the documents of each source's history already read, and those
still to read, so a walk stopped at any document goes on from there in a later run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sources.store.connection import Part
from sources.store.items import write_items
from sources.store.sources import source_id
from sources.store.times import from_text, to_text
from sources.types import Action, History, Relevance, Unread


class ArchivesPart(Part):
    """The archives and archives_unread tables: where each history walk stands."""

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
        now = to_text(fetched_at)
        with self.transaction() as db:
            source = source_id(db, url)
            if source is None:
                return 0, 0
            counts = write_items(db, source, actions, now, relevance or {}, pages_wanted)
            db.execute(
                "INSERT OR IGNORE INTO archives (source_id, url, read_at) VALUES (?, ?, ?)",
                (source, archive_url, now),
            )
            db.execute(
                "DELETE FROM archives_unread WHERE source_id = ? AND url = ?", (source, archive_url)
            )
            if prev_archive:  # the walk goes on: no budget (it holds one place as it moves)
                queue_archive(db, source, prev_archive, budget=None)
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
                Unread(r["url"], r["failures"], r["problem"], from_text(r["retry_at"]))
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
                (unread.failures, unread.problem, to_text(unread.retry_at), unread.url, url),
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
            (to_text(now),),
        )
        return frozenset(r[0] for r in rows)


def queue_archive(
    db: sqlite3.Connection, source: int, archive_url: str, *, budget: int | None
) -> None:
    """Queue an archive document of a source to be read, unless it was read or is queued
    already, or (``budget``) that many documents are read or queued: a feed that links a new
    archive on every poll cannot grow the queue without end."""
    seen = db.execute(
        "SELECT 1 FROM archives WHERE source_id = ? AND url = ? "
        "UNION ALL SELECT 1 FROM archives_unread WHERE source_id = ? AND url = ?",
        (source, archive_url, source, archive_url),
    ).fetchone()
    if seen:
        return
    if budget is not None:
        held = db.execute(
            "SELECT (SELECT COUNT(*) FROM archives WHERE source_id = ?) + "
            "(SELECT COUNT(*) FROM archives_unread WHERE source_id = ?)",
            (source, source),
        ).fetchone()[0]
        if held >= budget:
            return
    db.execute("INSERT INTO archives_unread (source_id, url) VALUES (?, ?)", (source, archive_url))
