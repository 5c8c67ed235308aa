"""Fetches that changed nothing (a 304, or the same body as last time), stored in batches.

Such a fetch changes its source's state alone (validators, next poll, what ``sources list``
shows of it), so a run of them need not cost a transaction each. On the run's storing
thread they wait here, at most :data:`BATCH` of them for at most :data:`WAIT` seconds, and
are written together in one transaction (``Store.record_unchanged``); the run writes them
before any other write of its own, so the database takes the run's writes in the order the
run made them. A run killed meanwhile loses the ones waiting, and that is harmless: their
sources are still due, and the next run polls them again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from sources.follow.summary import RunSummary
from sources.store.database import Store
from sources.store.fetches import QuietFetch
from sources.types import Outcome

log = logging.getLogger("communique.aggregate")
BATCH = 500  # fetches written in one transaction
WAIT = 2.0  # seconds the first of them waits for the others (checked as others come)


class QuietFetches:
    """The quiet fetches waiting for their transaction (used on the storing thread only).
    ``failed(url, exc)`` records a source whose fetch could not be written as failed."""

    def __init__(
        self, store: Store, summary: RunSummary, failed: Callable[[str, Exception], None]
    ) -> None:
        self.store, self.summary, self.failed = store, summary, failed
        self._waiting: list[QuietFetch] = []
        self._since = 0.0

    def add(self, url: str, outcome: Outcome, fetched_at: datetime, status: str) -> None:
        """One more fetch that changed nothing; written now if the batch is full or old."""
        if not self._waiting:
            self._since = time.monotonic()
        self._waiting.append((url, outcome, fetched_at, status))
        if len(self._waiting) >= BATCH or time.monotonic() - self._since >= WAIT:
            self.write()

    def write(self) -> None:
        """Write every fetch waiting, in one transaction. If that fails, each is written in
        a transaction of its own, as it would have been alone: what fails is its source's
        failure only, as for any fetch."""
        waiting, self._waiting = self._waiting, []
        if not waiting:
            return
        try:
            self.store.record_unchanged(waiting)
            written = waiting
        except Exception:
            written = []
            for fetch in waiting:
                try:
                    self.store.record_unchanged([fetch])
                except Exception as exc:
                    self.failed(fetch[0], exc)
                else:
                    written.append(fetch)
        for url, outcome, _, status in written:
            setattr(self.summary, outcome.kind, getattr(self.summary, outcome.kind) + 1)
            log.info("%s: %s, 0 new, 0 updated; 0 parsed, 0 unchanged by hash", url, status)
