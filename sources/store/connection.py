"""The SQLite connection every part of the store shares, and how it is opened and written.

WAL mode, so readers never wait for the one writer; ``synchronous=NORMAL``, which with WAL
is durable against a crash of the process; foreign keys on, so deleting a source deletes
its items; every write one ``BEGIN IMMEDIATE`` transaction, rolled back on any error,
so a process killed at any moment leaves either all of a write or none of it; and the SQL
function ``item_text`` that search's index and item reads derive texts with
(:mod:`sources.store.texts`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from sources.store.texts import register

T = TypeVar("T")


def connect(path: Path) -> sqlite3.Connection:
    """Open (or create) the database file at ``path`` in autocommit mode: transactions are
    begun explicitly by :func:`transaction`."""
    # check_same_thread off: an aggregate run does its database work on one thread of its
    # own (follow/run.py), never two at once
    db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    _wal(db)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    register(db)
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (Ctrl-C included)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextlib.contextmanager
def snapshot(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN ... COMMIT without a write lock: the reads inside see one state of the
    database, whatever another process commits meanwhile (WAL readers never wait)."""
    db.execute("BEGIN")
    try:
        yield db
    finally:
        db.execute("COMMIT")


def from_row(record: type[T], row: sqlite3.Row, /, **given: Any) -> T:
    """The ``record`` (a dataclass) whose fields are read from the columns of ``row`` of the
    same names, except those ``given`` (a time kept as text, a 0/1 flag, a column named
    otherwise): every record the store hands out is made the same way, and a column added
    to a record and to its query needs no third change here."""
    columns = row.keys()
    values = {
        f.name: given[f.name] if f.name in given else row[f.name]
        for f in dataclasses.fields(record)  # type: ignore[arg-type]
        if f.name in given or f.name in columns
    }
    return record(**values)


class Part:
    """What each part of the store (sources, items, pages, ...) builds on: the one
    connection, and a transaction on it. The parts never call each other's methods; SQL one
    write shares between concerns is a function of the owning part's module taking ``db``."""

    db: sqlite3.Connection

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        return transaction(self.db)


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
