"""Where a source's history walk (RFC 5005 archives) stands, and what to read next. Pure.

A history is read one archive document at a time, newest first, and a walk can stop at any
document: it failed (a 500, a bomb, not a feed), the run was killed, ``[aggregate]
history_time`` ran out, or ``[aggregate] max_archives`` documents were read. So the store
keeps, per source, the archive documents still to read (the one a walk stopped at, and a new
one the current feed links), each committed together with the document that linked it; a
later run reads on from there. A document that failed waits like a failing feed (the
schedule's backoff, or ``Retry-After``): a broken archive is not asked for on every run.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta

from sources.follow.schedule import backoff, retry_after
from sources.settings import AggregateSettings
from sources.types import History, Unread

NOT_READ_YET = "not read yet"  # the walk stopped before it (a run killed, a new archive)


def as_dict(history: History, max_archives: int) -> dict[str, object]:
    """The history as plain data (``sources list --json``)."""
    first = history.unread[0] if history.unread else None
    return {
        "complete": history.complete,
        "archives_read": history.read,
        "next": first.url if first else None,
        "problem": problem(history, max_archives),
        "retry_at": first.retry_at.isoformat() if first and first.retry_at else None,
    }


def next_to_read(
    history: History, now: datetime, max_archives: int, tried: Collection[str] = ()
) -> Unread | None:
    """The archive document a walk reads next: the first unread one that is not waiting
    after a failure nor ``tried`` already in this walk; None when there is none or
    ``max_archives`` documents have been read."""
    if history.read >= max_archives:
        return None
    for unread in history.unread:
        if unread.url in tried:
            continue
        if unread.retry_at is None or unread.retry_at <= now:
            return unread
    return None


def after_failure(
    unread: Unread,
    message: str,
    now: datetime,
    settings: AggregateSettings,
    *,
    jitter: float,
    status: int | None = None,
    retry_after_header: str | None = None,
) -> Unread:
    """An archive document that could not be read waits as a failing feed does: the
    schedule's backoff, or as long as a 429 or 503 asked (``Retry-After``)."""
    failures = unread.failures + 1
    delay: timedelta = backoff(failures, settings, jitter)
    if status in (429, 503):
        asked = retry_after(retry_after_header, now)
        if asked is not None:
            delay = asked
    return replace(unread, failures=failures, problem=message[:500], retry_at=now + delay)


def time_ran_out(settings: AggregateSettings) -> str:
    """Why a walk stopped before a document, when it was its time that ran out."""
    return f"[aggregate] history_time ({settings.history_time.total_seconds():g} s) ran out"


def problem(history: History, max_archives: int) -> str | None:
    """Why the history is not complete, in a few words (None when it is)."""
    if history.complete:
        return None
    if history.read >= max_archives:
        return f"[aggregate] max_archives ({max_archives}) documents read"
    return history.unread[0].problem or NOT_READ_YET


def describe(history: History, max_archives: int) -> str | None:
    """One line for ``sources add`` and ``sources list``: why the history is incomplete and
    what happens next (None when it is complete)."""
    if history.complete:
        return None
    first = history.unread[0]
    if history.read >= max_archives:
        return (
            f"{max_archives} archive documents read ([aggregate] max_archives); {first.url} "
            "and older ones are not read unless it is raised"
        )
    if first.failures:
        return f"archive {first.url} failed ({first.problem}); a later run goes on from there"
    if first.problem:  # the walk's time ran out before it
        return f"{first.problem} before archive {first.url}; the next run goes on from there"
    return f"archive {first.url} {NOT_READ_YET}; the next run goes on from there"
