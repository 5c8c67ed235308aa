"""Sources: the row of each subscribed feed, its scheduling state, its moves, and the log
of its failures.

A source's state is written by name (:func:`write_state`): the validators and schedule of
a :class:`~sources.types.SourceState`, and what ``sources list`` shows of the last fetch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from sources.store.connection import Part, from_row
from sources.store.times import from_text, to_text
from sources.types import Outcome, SourceRow, SourceState

SUCCESS = frozenset({"ok", "not_modified", "unchanged"})  # outcome kinds that are no failure


class SourcesPart(Part):
    """The sources table: what the source list and the schedule read and write."""

    def sync_sources(self, sources: Sequence[tuple[str, str]]) -> None:
        """Make sure every ``(url, title)`` of the source list has a row (state starts empty)."""
        with self.transaction() as db:
            for url, title in sources:
                db.execute(
                    "INSERT INTO sources (url, title) VALUES (?, ?) ON CONFLICT (url) "
                    "DO UPDATE SET title = excluded.title WHERE excluded.title != ''",
                    (url, "" if title == url else title),  # a URL is no title: the feed's is kept
                )

    def state(self, url: str) -> SourceState:
        """The scheduling state of one source (a fresh state if it was never fetched)."""
        row = self.db.execute("SELECT * FROM sources WHERE url = ?", (url,)).fetchone()
        return SourceState(url=url) if row is None else _state(row)

    def states(self) -> dict[str, SourceState]:
        """Every source's scheduling state, by URL, in one query: a run reads them once, at
        its start, not one source at a time (a source with no row has none here)."""
        return {row["url"]: _state(row) for row in self.db.execute("SELECT * FROM sources")}

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

    def source_rows(self) -> dict[str, SourceRow]:
        """Every source's state and item count, by URL."""
        rows = self.db.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM entries e WHERE e.source_id = s.id) AS n "
            "FROM sources s"
        )
        return {
            r["url"]: from_row(
                SourceRow,
                r,
                last_success_at=from_text(r["last_success_at"]),
                next_due=from_text(r["next_due"]),
                gone=bool(r["gone"]),
                entries=r["n"],
            )
            for r in rows
        }


def _state(row: sqlite3.Row) -> SourceState:
    return from_row(SourceState, row, next_due=from_text(row["next_due"]), gone=bool(row["gone"]))


def source_id(db: sqlite3.Connection, url: str) -> int | None:
    """The row id of source ``url``, if it has a row."""
    row = db.execute("SELECT id FROM sources WHERE url = ?", (url,)).fetchone()
    return row[0] if row else None


def ensure_source(db: sqlite3.Connection, url: str) -> int:
    """The row id of source ``url``, made with an empty state if it has none yet."""
    found = source_id(db, url)
    if found is not None:
        return found
    db.execute("INSERT INTO sources (url) VALUES (?)", (url,))
    return db.execute("SELECT id FROM sources WHERE url = ?", (url,)).fetchone()[0]


def write_state(
    db: sqlite3.Connection,
    source: int,
    outcome: Outcome,
    now: str | None,
    *,
    status: str,
    warning: str | None,
    keep_warning: bool,
) -> None:
    """Source ``source`` after one fetch: its new state, and what ``sources list`` shows of
    the fetch. A success clears the last error, a failure keeps the last success; the warning
    is replaced by a fetch that parsed the feed (``keep_warning``: only some items were
    parsed, so the old one stands unless this fetch brings one of its own)."""
    state = outcome.state
    db.execute(
        """UPDATE sources SET url = :url, etag = :etag, last_modified = :last_modified,
               body_hash = :body_hash, failures = :failures, next_due = :next_due,
               gone = :gone, redirect_target = :redirect_target,
               redirect_seen = :redirect_seen, network = :network,
               last_status = :status, last_fetch_at = :now,
               last_success_at = CASE WHEN :success THEN :now ELSE last_success_at END,
               last_error = CASE WHEN :success THEN NULL ELSE :message END,
               last_error_at = CASE WHEN :success THEN last_error_at ELSE :now END,
               warning = CASE WHEN :parsed
                              THEN COALESCE(:warning, CASE WHEN :keep_warning THEN warning END)
                              ELSE warning END
           WHERE id = :id""",
        {
            "url": state.url,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "body_hash": state.body_hash,
            "failures": state.failures,
            "next_due": to_text(state.next_due),
            "gone": int(state.gone),
            "redirect_target": state.redirect_target,
            "redirect_seen": state.redirect_seen,
            "network": state.network,
            "status": status,
            "now": now,
            "success": outcome.kind in SUCCESS,
            "message": outcome.message,
            "parsed": outcome.kind == "ok",
            "warning": warning,
            "keep_warning": keep_warning,
            "id": source,
        },
    )


def log_failure(db: sqlite3.Connection, source: int, at: str | None, message: str) -> None:
    """One failed fetch in the source's failure log."""
    db.execute(
        "INSERT INTO failures (source_id, at, message) VALUES (?, ?, ?)", (source, at, message)
    )


def prune_failures(db: sqlite3.Connection, cutoff: str | None) -> None:
    """Forget failures logged before ``cutoff``: the log is kept as long as the items."""
    db.execute("DELETE FROM failures WHERE at < ?", (cutoff,))
