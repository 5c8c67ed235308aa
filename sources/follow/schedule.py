"""When to poll a source next, and what a fetch result means for it. Pure: no I/O, no clock.

The rules, each answering a failure of some aggregator people use:

* a source is polled when due; success schedules the next poll one interval later;
* 404, 5xx, timeouts, DNS and TLS errors back off exponentially (with jitter, so failing
  sources do not come back in lock-step) up to a cap, and recover by themselves at the next
  success: a failing feed is never dropped for good (miniflux #3220);
* 429 and 503 with ``Retry-After`` wait exactly as long as the server asked, up to
  :data:`RETRY_AFTER_CAP` (7 days: a server asking for more, or for a date centuries away,
  is polled again after a week); a value that is neither delta-seconds nor an HTTP date is
  ignored (ordinary backoff applies);
* 410 Gone stops polling (the entries are kept);
* a 301/308 chain moves the source only after the same target was seen on N consecutive
  fetches (a misconfigured server should not move a subscription), and 302/307 never do
  (feedbin #100: one feed fetched through a 301 450 times a day);
* a 200 whose body is byte-identical to the last one is not parsed again.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from sources.settings import AggregateSettings
from sources.types import Outcome, SourceState

if TYPE_CHECKING:  # the fetcher's result, in annotations only: judging a fetch loads no HTTP
    from sources.http.fetch import FetchResult

RETRY_AFTER_CAP = timedelta(days=7)


def is_due(state: SourceState, now: datetime) -> bool:
    """A source is polled when it is not gone and its next poll time has come."""
    return not state.gone and (state.next_due is None or state.next_due <= now)


def backoff(failures: int, settings: AggregateSettings, jitter: float) -> timedelta:
    """Delay after the n-th consecutive failure: base * 2^(n-1), capped, with equal jitter.

    ``jitter`` in [0, 1) comes from the caller, so this stays deterministic for tests.
    """
    exponent = min(max(failures - 1, 0), 30)
    # In seconds, as a float: a long base times 2^30 would overflow timedelta before the cap.
    seconds = min(
        settings.backoff_cap.total_seconds(), settings.backoff_base.total_seconds() * 2**exponent
    )
    delay = timedelta(seconds=seconds)
    return delay / 2 + delay / 2 * jitter


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as a delay: delta-seconds or an HTTP date, at most
    :data:`RETRY_AFTER_CAP`; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # compared as a number of seconds: timedelta overflows past 999,999,999 days
        return timedelta(seconds=min(int(value[:20]), RETRY_AFTER_CAP.total_seconds()))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(when - now, timedelta(0)), RETRY_AFTER_CAP)


def body_hash(body: bytes) -> str:
    """A fingerprint of a response body, to skip parsing an unchanged feed without validators."""
    return hashlib.sha256(body).hexdigest()


def after_fetch(
    state: SourceState, result: FetchResult, settings: AggregateSettings, *, jitter: float
) -> Outcome:
    """Judge one fetch. ``result.fetched_at`` is the clock; ``jitter`` is in [0, 1)."""
    now = result.fetched_at
    state = _learn_redirect(state, result, settings)
    moved_from = None
    if state.redirect_seen >= settings.redirect_confirmations and state.redirect_target:
        moved_from = state.url
        state = replace(state, url=state.redirect_target, redirect_target=None, redirect_seen=0)

    status = result.status
    if status == 410:
        return Outcome(
            "gone",
            replace(state, gone=True, next_due=None),
            message="410 Gone",
            moved_from=moved_from,
        )
    if status in (200, 304):
        fresh = replace(
            state,
            failures=0,
            next_due=now + settings.interval,
            etag=result.etag or (state.etag if status == 304 else None),
            last_modified=result.last_modified or (state.last_modified if status == 304 else None),
            network=result.network or state.network,
        )
        if status == 304:
            return Outcome("not_modified", fresh, moved_from=moved_from)
        digest = body_hash(result.body or b"")
        if digest == state.body_hash:
            return Outcome("unchanged", fresh, moved_from=moved_from)
        return Outcome("ok", replace(fresh, body_hash=digest), parse=True, moved_from=moved_from)

    failures = state.failures + 1
    delay = backoff(failures, settings, jitter)
    if status in (429, 503):
        asked = retry_after(result.retry_after, now)
        if asked is not None:
            delay = asked
    message = result.error or f"HTTP {status}"
    failed = replace(state, failures=failures, next_due=now + delay)
    return Outcome("failed", failed, message=message, moved_from=moved_from)


def after_parse_failure(
    before: SourceState,
    outcome: Outcome,
    error: str,
    now: datetime,
    settings: AggregateSettings,
    *,
    jitter: float,
) -> Outcome:
    """A 200 whose body is not a feed (an HTML error page, garbage) is a failure: back off,
    and forget validators and body hash so the next poll fetches and parses it afresh."""
    failures = before.failures + 1
    state = replace(
        outcome.state,
        failures=failures,
        next_due=now + backoff(failures, settings, jitter),
        etag=None,
        last_modified=None,
        body_hash=None,
    )
    return Outcome("failed", state, message=error, moved_from=outcome.moved_from)


def after_error(
    before: SourceState, message: str, now: datetime, settings: AggregateSettings, *, jitter: float
) -> Outcome:
    """Something unforeseen went wrong while handling one source (a bug, or input nothing
    else anticipated): that source failed, backs off, and is fetched afresh next time
    (validators and body hash forgotten, in case what it sent caused the error)."""
    failures = before.failures + 1
    state = replace(
        before,
        failures=failures,
        next_due=now + backoff(failures, settings, jitter),
        etag=None,
        last_modified=None,
        body_hash=None,
    )
    return Outcome("failed", state, message=message)


def _learn_redirect(
    state: SourceState, result: FetchResult, settings: AggregateSettings
) -> SourceState:
    if result.status is None:  # no response: this fetch says nothing about redirects
        return state
    target = result.permanent_url
    if not target or target == state.url:
        return replace(state, redirect_target=None, redirect_seen=0)
    seen = state.redirect_seen + 1 if target == state.redirect_target else 1
    return replace(state, redirect_target=target, redirect_seen=seen)
