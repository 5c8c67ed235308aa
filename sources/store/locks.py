"""Locks beside the database: one aggregate run at a time, one mailing at a time.

A lock is a file beside the database held with ``flock``: the kernel releases it when the
process dies, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path


class Busy(Exception):
    """Another process holds the lock: another ``aggregate``, or another mail of a digest."""


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
    """A lock file beside ``database``; :class:`Busy` with ``busy`` after ``wait`` seconds."""
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
