"""One fetch of a source, stored in one transaction: its new state, its failure if it
failed, its items as the Decider said, and the archive document its feed links.

Committed together, a fetch's validators (ETag, Last-Modified, body hash) never hide items
that were not stored: a process killed at any moment leaves all of a fetch or none of it,
and the next run picks up exactly where the last commit left off.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sources.store.archives import queue_archive
from sources.store.connection import Part
from sources.store.items import write_items
from sources.store.sources import SUCCESS, ensure_source, log_failure, source_id, write_state
from sources.store.times import to_text
from sources.types import Action, Outcome, Relevance

QUIET = frozenset({"not_modified", "unchanged"})  # fetches that change nothing but the state
QuietFetch = tuple[str, Outcome, datetime, str]  # (url, outcome, fetched_at, status)


class FetchesPart(Part):
    """Where a feed's fetch is written: the sources, items, failures and archive tables."""

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
        read (:mod:`sources.pages.reader`); an item whose link changed loses its old page text.
        ``prev_archive``: the newest archive document the feed links (RFC 5005); queued to be
        read unless it was, or ``max_archives`` documents are read or queued. Committed with
        the feed: a run killed before its walk leaves it queued, not lost behind an ETag.
        """
        new_url = outcome.state.url
        now = to_text(fetched_at)
        with self.transaction() as db:
            source = ensure_source(db, url)
            if outcome.moved_from and new_url != url:
                taken = source_id(db, new_url)
                if taken is not None:  # already subscribed at the new address: merge into it
                    db.execute(
                        "UPDATE entries SET source_id = ? WHERE source_id = ? AND key NOT IN "
                        "(SELECT key FROM entries WHERE source_id = ?)",
                        (taken, source, taken),
                    )
                    db.execute("DELETE FROM sources WHERE id = ?", (source,))
                    source = taken
                db.execute("UPDATE sources SET moved_from = ? WHERE id = ?", (url, source))
            if feed_title:  # unless the source list names it; a URL is no name (older lists)
                db.execute(
                    "UPDATE sources SET title = ? WHERE id = ? AND title IN ('', url)",
                    (feed_title, source),
                )
            write_state(
                db, source, outcome, now, status=status, warning=warning, keep_warning=keep_warning
            )
            if outcome.kind not in SUCCESS:
                log_failure(db, source, now, outcome.message or status)
            counts = write_items(db, source, actions, now, relevance or {}, pages_wanted)
            if prev_archive:
                queue_archive(db, source, prev_archive, budget=max_archives)
        return counts

    def record_unchanged(self, fetches: Sequence[QuietFetch]) -> None:
        """Store fetches that changed nothing, many in one transaction: each ``(url, outcome,
        fetched_at, status)`` a 304 or a body the same as the last (``outcome.kind``
        ``not_modified`` or ``unchanged``, no move). What :meth:`record` writes for such a
        fetch, its source's state (validators, schedule) and what ``sources list`` shows of
        it, is all that changes: a run of them costs a transaction per batch, not per source."""
        with self.transaction() as db:
            for url, outcome, fetched_at, status in fetches:
                if outcome.kind not in QUIET or outcome.moved_from:
                    raise ValueError(f"{url}: a {outcome.kind} fetch is not stored in a batch")
                source = ensure_source(db, url)
                now = to_text(fetched_at)
                write_state(
                    db, source, outcome, now, status=status, warning=None, keep_warning=False
                )
