"""One aggregate run: due sources -> fetch -> judge -> parse -> decide -> store.

The shell around the pure parts: ``schedule.after_fetch`` judges each fetch,
``parse.parse_feed`` runs in a process pool (both cores; feedparser is CPU-bound) unless only
a few items changed, ``decide.decide_entries`` matches items, and ``store.record`` commits
each source in one transaction as soon as it is done, so one slow or broken source never
holds up or undoes another's work. The event loop only fetches: the database work and the
parsing of small changes run on one storing thread, so a transaction or a parse never delays
the other sources' requests. Whatever goes wrong with one source, even an exception nothing
foresaw, is recorded as that source's failure and the run goes on: a run from cron must not
die, night after night, on one hostile feed. Sources' histories (RFC 5005 archives) are
walked alongside, each in a task of its own (``archives``).

What a run holds at once depends on its limits, not on its number of sources: the due
sources are polled by a few pollers (``inflight.Bounds.pollers``), each taking the next
source whose host has a turn free (``turns``), and every document fetched, feeds, archive
documents and article pages alike, holds a place and its body's bytes from its request until
it is stored (``inflight``), so fetching waits while parsing is behind.

What a poll that changed nothing costs is kept to its request: every source's state is read
in one query when the run starts; a 304 leaves the event loop with others (:data:`QUIET_CHUNK`
at a time), to be judged on the storing thread, and its new state, like that of a body the
same as last time, is written with others in one transaction (``quiet``); and a source's
history walk starts only if it has an archive document to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sources.follow.archives import HistoryWalker
from sources.follow.decide import decide_entries
from sources.follow.feed_items import FeedItems
from sources.follow.inflight import InFlight, bounds
from sources.follow.item_keys import normalise_link
from sources.follow.memory import give_back_memory
from sources.follow.opml import Source
from sources.follow.parse import ParsedFeed, split_feed
from sources.follow.quiet import QuietFetches
from sources.follow.schedule import (
    after_error,
    after_fetch,
    after_parse_failure,
    is_due,
)
from sources.follow.scoring import SourceScoring, parse_and_score, use_taxonomy
from sources.follow.summary import RunSummary
from sources.follow.turns import Turns
from sources.follow.workers import parser_pool
from sources.http.fetch import Fetcher, FetchRequest, FetchResult, limited_host
from sources.judge.relevance import Taxonomy, build_taxonomy
from sources.judge.source_rules import Scoring
from sources.pages.reader import PageReader, page_mode, wants_page
from sources.settings import AggregateSettings
from sources.store.database import Store
from sources.store.fetches import QUIET
from sources.types import Outcome, Relevance, SourceState

log = logging.getLogger("communique.aggregate")
INLINE_ITEMS = 5  # a changed feed with at most this many new or edited items is parsed here,
INLINE_BYTES = 64 * 1024  # if they come to no more than this
INLINE_BODY = 2 * 1024 * 1024  # and the whole body to no more (it is split here first)
QUIET_CHUNK = 64  # 304s handed to the storing thread at once (a hop each costs ~0.1 ms)
QUIET_WAIT = 0.5  # seconds the first of them waits for the others


Progress = Callable[[RunSummary, int], None]  # (summary so far, sources done)


def due_sources(
    store: Store, sources: Sequence[Source], now: datetime, *, force: bool
) -> list[Source]:
    """The sources to poll now: due ones, or every one that is not gone with ``force``."""
    return _due(sources, store.states(), now, force=force)


def _due(
    sources: Sequence[Source], states: dict[str, SourceState], now: datetime, *, force: bool
) -> list[Source]:
    due = []
    for source in sources:
        state = states.get(source.url) or SourceState(url=source.url)
        if (force and not state.gone) or is_due(state, now):
            due.append(source)
    return due


async def run(
    store: Store,
    sources: Sequence[Source],
    settings: AggregateSettings,
    *,
    force: bool = False,
    progress: Progress | None = None,
    rng: random.Random | None = None,
    taxonomy: Taxonomy | None = None,
) -> RunSummary:
    """Poll the due sources among ``sources`` and store what changed, each item scored."""
    rng = rng or random.Random()
    taxonomy = taxonomy or build_taxonomy()
    policy = Scoring.for_sources(taxonomy, sources)
    modes = {s.url: page_mode(s.full_text, settings.full_text) for s in sources}
    store.sync_sources([(s.url, s.title) for s in sources])
    now = datetime.now(UTC)
    states = store.states()  # one query, not one per source
    due = _due(sources, states, now, force=force)
    states = {s.url: states[s.url] for s in due if s.url in states}  # those polled, only
    # sources not due whose history walk stopped (a failure that has waited, a kill, its
    # time ran out): it goes on now, whether or not the current feed links anything new
    walking = store.histories_due(now) - {s.url for s in due}
    # sources with an archive document unread: the others' walks would find nothing to read
    unread = frozenset(url for url, history in store.histories().items() if history.unread)
    go_on = [s for s in sources if s.url in walking]
    summary = RunSummary(sources=len(due))
    if not due and not go_on:
        return summary
    workers = settings.workers or os.cpu_count() or 1
    loop = asyncio.get_running_loop()
    done = 0
    # The taxonomy (120 kB pickled) goes to each worker once, not with every feed.
    reads_pages = any(modes.get(s.url, "off") != "off" for s in [*due, *go_on])
    pool = parser_pool(
        max(1, min(workers, len(due) + len(go_on))), use_taxonomy, (taxonomy, reads_pages)
    )
    # One thread does all the run's database work, in the order it is asked for: the event
    # loop, which only fetches, is never held up by a transaction or a small parse.
    storing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="communique-store")
    try:
        async with Fetcher(settings) as fetcher:
            requests = []
            for source in due:
                state = states.get(source.url) or SourceState(url=source.url)
                requests.append(FetchRequest(source.url, state.etag, state.last_modified))
            in_flight = InFlight(bounds(settings.concurrency, workers, settings.max_bytes))
            side = _Storing(store, settings, rng, summary, states, unread)

            def run_on(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
                # after the quiet fetches waiting: the database takes writes in the run's order
                call = functools.partial(function, *args, **kwargs)
                return loop.run_in_executor(storing, side.after_quiet, call)

            def extract_on(function: Callable[..., Any], *args: Any) -> Any:
                return loop.run_in_executor(pool, function, *args)

            # the items' article pages (sources.full_text), read while other feeds are fetched
            pages = PageReader(
                store,
                fetcher.fetch,
                run_on,
                extract_on,
                settings,
                functools.partial(policy.score, explain=False),
                datetime.now(UTC),
                in_flight,
            )

            def scoring_of(url: str) -> SourceScoring:
                return SourceScoring(taxonomy, policy.on_topic(url), modes.get(url, "off"))

            # History walks (RFC 5005 archives) are tasks of their own, each bounded by
            # [aggregate] history_time: a source counts as done once its current feed is
            # stored, and a long history never holds up the other sources.
            walks: list[asyncio.Task[None]] = []
            walker = HistoryWalker(
                store, fetcher, run_on, extract_on, settings, summary, pages, rng, in_flight
            )

            def walk_soon(url: str, scoring: SourceScoring) -> None:
                walks.append(asyncio.create_task(walker.walk(url, scoring)))

            # The due sources are polled by a few pollers, each taking the next source whose
            # host has a turn free (turns), not by a task each: what a run holds at once
            # depends on its limits (inflight), not on how many sources it has.
            turns = Turns([limited_host(r.url) for r in requests], settings.per_host)
            turn_free = asyncio.Event()  # a host's fetch ended: its next source may go

            async def next_source() -> int | None:
                while (index := turns.next()) is None:
                    if not turns.left:
                        return None
                    turn_free.clear()
                    await turn_free.wait()
                return index

            async def poll(index: int) -> None:
                # Fetched and handled under one place: the body counts until it is stored.
                request = requests[index]
                async with in_flight.place() as place:
                    try:
                        try:
                            result = await fetcher.fetch(request)
                        finally:
                            turns.done(index)
                            turn_free.set()
                        if result.status == 304:  # nothing to parse: stored with others
                            keep_quiet(result)
                            return
                        await place.hold(result.body)
                        scoring = scoring_of(request.url)
                        fetched = await _handle(side, result, (pool, storing), loop, scoring)
                        if fetched.pages_wanted:
                            pages.pump_soon()
                        if fetched.history_url:  # the feed answered: its history, if unread
                            walk_soon(fetched.history_url, scoring)
                        size = len(result.body or b"")
                        del result, fetched  # the body and its items, before memory goes back
                        give_back_memory(size)
                    except Exception as exc:  # not CancelledError: Ctrl-C still stops the run
                        await run_on(side.record_error, request.url, exc)

            # 304s go to the storing thread QUIET_CHUNK at a time, or once the first of them
            # has waited QUIET_WAIT seconds: one hop for many, each judged and stored there
            quiet: list[FetchResult] = []
            settling: list[asyncio.Task[None]] = []
            timer: asyncio.TimerHandle | None = None

            def keep_quiet(result: FetchResult) -> None:
                nonlocal timer
                quiet.append(result)
                if len(quiet) >= QUIET_CHUNK:
                    settle_quiet()
                elif timer is None:
                    timer = loop.call_later(QUIET_WAIT, settle_quiet)

            def settle_quiet() -> None:
                nonlocal timer
                if timer is not None:
                    timer.cancel()
                    timer = None
                if quiet:
                    settling.append(asyncio.create_task(settle(quiet.copy())))
                    quiet.clear()

            async def settle(results: list[FetchResult]) -> None:
                for url in await loop.run_in_executor(storing, side.settle_quiet, results):
                    walk_soon(url, scoring_of(url))

            async def poller() -> None:
                nonlocal done
                while (index := await next_source()) is not None:
                    await poll(index)
                    done += 1
                    if progress:
                        progress(summary, done)

            for source in go_on:
                walk_soon(source.url, scoring_of(source.url))
            polling = min(in_flight.bounds.pollers, len(due))
            pollers = [asyncio.create_task(poller()) for _ in range(polling)]
            try:
                await asyncio.gather(*pollers)
                settle_quiet()
                await asyncio.gather(*settling)
                await run_on(side.quiet.write)  # the last quiet fetches
                await asyncio.gather(*walks)  # every poll is done: no walk is added now
            finally:  # interrupted: stop every fetch before the client and the pool go
                if timer is not None:
                    timer.cancel()
                for task in [*pollers, *settling, *walks]:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*pollers, *settling, *walks, return_exceptions=True)

            summary.pages = await pages.finish()  # and pages left from earlier runs
    finally:
        storing.shutdown(wait=True, cancel_futures=True)  # before the store is closed
        pool.shutdown(wait=True, cancel_futures=True)
    return summary


class _Storing:
    """What the run's work on its storing thread shares: the store, the settings, the run's
    jitter and summary, the sources' states as read when the run started (each taken by its
    source's fetch, so a source another one moved onto is read again), the sources that have
    an archive document unread, and the quiet fetches waiting for their transaction."""

    def __init__(
        self,
        store: Store,
        settings: AggregateSettings,
        rng: random.Random,
        summary: RunSummary,
        states: dict[str, SourceState],
        unread: frozenset[str],
    ) -> None:
        self.store, self.settings, self.rng, self.summary = store, settings, rng, summary
        self.states, self.unread = states, unread
        self.quiet = QuietFetches(store, summary, self.record_error)

    def before(self, url: str) -> SourceState:
        """The source's state before this fetch."""
        state = self.states.pop(url, None)
        return state if state is not None else self.store.state(url)

    def after_quiet(self, call: Callable[[], Any]) -> Any:
        """``call()``, once the quiet fetches waiting are written."""
        self.quiet.write()
        return call()

    def settle_quiet(self, results: Sequence[FetchResult]) -> list[str]:
        """Judge and store fetches that brought no body (304s), each as :func:`_prepare`
        would; the sources whose history to walk."""
        walk = []
        for result in results:
            try:
                fetched = _prepare(self, result, None)
            except Exception as exc:  # as in a poll: this source's failure, not the run's
                self.record_error(result.url, exc)
                continue
            if fetched.history_url:
                walk.append(fetched.history_url)
        return walk

    def record_error(self, url: str, exc: Exception) -> None:
        """An exception while handling one source is that source's failure, recorded and
        backed off like any other (its transaction, if one was open, was rolled back)."""
        self.quiet.write()
        log.debug("%s: unexpected error", url, exc_info=exc)
        message = f"internal error while handling this source: {type(exc).__name__}: {exc}"
        message = message[:500].encode("utf-8", "replace").decode("utf-8")
        now = datetime.now(UTC)
        outcome = after_error(
            self.before(url), message, now, self.settings, jitter=self.rng.random()
        )
        self.store.record(url, outcome, now, status="error")
        self.summary.failed += 1
        self.summary.failures.append((url, message))
        log.info("%s: failed: %s", url, message)


@dataclass
class _Fetched:
    """One source's fetch as judged and, when it changed a little, parsed on the storing
    thread; what the worker pool must still parse is ``pool_arguments``."""

    before: SourceState
    outcome: Outcome
    status: str
    hashes: dict[str, int] = field(default_factory=dict)
    parsed: ParsedFeed | None = None
    verdicts: dict[str, Relevance] = field(default_factory=dict)
    pool_arguments: tuple[object, ...] | None = None
    page_mode: str = "off"  # whether new items' pages are to be read (sources.full_text)
    pages_wanted: int = 0  # items stored that want their page
    history_url: str | None = None  # the feed answered: walk its history under this URL


async def _handle(
    side: _Storing,
    result: FetchResult,
    pools: tuple[ProcessPoolExecutor, ThreadPoolExecutor],
    loop: asyncio.AbstractEventLoop,
    scoring: SourceScoring,
) -> _Fetched:
    """Judge, parse, decide and store one fetch. The database work and the parsing of a small
    change run on the storing thread, a big parse in the worker pool: the event loop only
    fetches, so a feed being parsed or stored never holds up the requests of the others."""
    pool, storing = pools
    fetched = await loop.run_in_executor(storing, _prepare, side, result, scoring)
    if fetched.pool_arguments is None:
        return fetched  # stored already: not modified, failed, or parsed here
    try:  # the worker's own taxonomy (installed once), not this one pickled again
        fetched.parsed, fetched.verdicts = await loop.run_in_executor(
            pool, parse_and_score, *fetched.pool_arguments
        )
    except Exception as exc:  # a parser crash is this source's failure, not the run's
        fetched.parsed = ParsedFeed(title="", link=None, entries=(), error=f"parser crashed: {exc}")
    await loop.run_in_executor(storing, _finish, side, result, fetched)
    fetched.pool_arguments = fetched.parsed = None  # the body and its items: done with
    fetched.verdicts, fetched.hashes = {}, {}
    return fetched


def _prepare(side: _Storing, result: FetchResult, scoring: SourceScoring | None) -> _Fetched:
    """On the storing thread: judge the fetch, parse it here if only a few items changed, and
    store it unless the worker pool must parse it first (``pool_arguments`` set). ``scoring``
    None: the fetch brought no body, so nothing is parsed."""
    url, settings = result.url, side.settings
    before = side.before(url)
    fetched = _Fetched(
        before,
        after_fetch(before, result, settings, jitter=side.rng.random()),
        _status(result),
        page_mode=scoring.page_mode if scoring else "off",
    )
    if not (fetched.outcome.parse and result.body is not None and scoring):
        _finish(side, result, fetched)
        return fetched
    fetched.hashes = side.store.known_item_hashes(url)
    known = frozenset(fetched.hashes)
    feed_url = result.final_url or url
    taxonomy, on_topic = scoring.taxonomy, scoring.on_topic
    arguments = (result.body, feed_url, result.content_type, result.fetched_at)
    try:
        items = _small_change(result, feed_url, known, settings.max_items)
        if items is not None:  # a few new or edited items: cheaper here than in a worker
            fetched.parsed, fetched.verdicts = parse_and_score(
                *arguments, taxonomy, on_topic, settings.max_items, known, items
            )
        else:
            fetched.pool_arguments = (*arguments, None, on_topic, settings.max_items, known)
    except Exception as exc:  # a parser crash is this source's failure, not the run's
        fetched.parsed = ParsedFeed(title="", link=None, entries=(), error=f"parser crashed: {exc}")
    if fetched.pool_arguments is None:
        _finish(side, result, fetched)
    return fetched


def _finish(side: _Storing, result: FetchResult, fetched: _Fetched) -> None:
    """On the storing thread: decide what the parsed entries are and store them (a fetch that
    changed nothing waits for its batch, :mod:`sources.follow.quiet`)."""
    store, settings, summary = side.store, side.settings, side.summary
    url = result.url
    parsed, outcome, status = fetched.parsed, fetched.outcome, fetched.status
    if parsed is None and outcome.kind in QUIET and not outcome.moved_from:
        side.quiet.add(url, outcome, result.fetched_at, status)
        if url in side.unread:  # it answered: its history goes on
            fetched.history_url = url
        return
    side.quiet.write()  # the run's writes, in the order it made them
    if parsed is not None and parsed.error:
        outcome = after_parse_failure(
            fetched.before,
            outcome,
            parsed.error,
            result.fetched_at,
            settings,
            jitter=side.rng.random(),
        )
        status = parsed.status
    actions = []
    pages_wanted: set[str] = set()
    if parsed and not parsed.error:
        home = normalise_link(parsed.link) if parsed.link else None
        hashes = fetched.hashes
        listed = {hashes[h] for h in parsed.unchanged if h in hashes}
        stored = store.stored_entries(url)
        actions = decide_entries(stored, parsed.entries, home_link=home, unchanged=listed)
        if fetched.page_mode != "off":
            links = {s.id: s.norm_link for s in stored}
            pages_wanted = {
                a.entry.key
                for a in actions
                if (
                    a.kind == "new"
                    or (a.kind == "updated" and links[a.stored_id] != a.entry.norm_link)
                )
                and wants_page(
                    fetched.page_mode,
                    a.entry.link,
                    a.entry.text or a.entry.summary,
                    settings.full_text_below,
                )
            }
    verdicts = fetched.verdicts
    new, updated = store.record(
        url,
        outcome,
        result.fetched_at,
        actions,
        status=status,
        warning=parsed.warning if parsed else None,
        keep_warning=bool(parsed and parsed.unchanged),
        feed_title=parsed.title if parsed and not parsed.error else "",
        relevance={a.entry.key: verdicts[a.entry.key] for a in actions if a.kind != "same"},
        pages_wanted=pages_wanted,
        prev_archive=parsed.prev_archive if parsed and not parsed.error else None,
        max_archives=settings.max_archives,
    )
    fetched.pages_wanted = len(pages_wanted)
    if outcome.moved_from:  # onto a source of the list, maybe: its state is read again
        side.states.pop(outcome.state.url, None)
    if outcome.kind not in {"failed", "gone"} and (  # a failing host is left alone
        outcome.moved_from  # (a confirmed move renamed the source)
        or url in side.unread
        or (parsed and not parsed.error and parsed.prev_archive)
    ):  # it has an archive document to read
        fetched.history_url = outcome.state.url
    summary.new += new
    summary.updated += updated
    if parsed and not parsed.error:
        summary.items_parsed += len(parsed.entries)
        summary.items_unchanged += len(parsed.unchanged)
    kind = outcome.kind
    setattr(summary, kind, getattr(summary, kind) + 1)
    if outcome.moved_from:
        summary.moved.append((outcome.moved_from, outcome.state.url))
    if kind in {"failed", "gone"}:
        summary.failures.append((url, outcome.message or status))
        log.info("%s: failed: %s", url, outcome.message or status)
    else:
        log.info(
            "%s: %s, %d new, %d updated; %d parsed, %d unchanged by hash",
            url,
            status,
            new,
            updated,
            len(parsed.entries) if parsed else 0,
            len(parsed.unchanged) if parsed else 0,
        )


def _small_change(
    result: FetchResult, url: str, known: frozenset[str], max_items: int
) -> FeedItems | None:
    """The feed split into items, if it is one seen before whose new or edited items are few
    and small (:data:`INLINE_ITEMS`, :data:`INLINE_BYTES`): parsing those in the run's own
    process costs milliseconds, where starting the parser processes costs tenths of a second.
    Anything bigger goes to a worker, as does a body too large to split here cheaply."""
    body = result.body or b""
    if not known or len(body) > INLINE_BODY:
        return None
    items = split_feed(body, url, result.content_type)
    if items is None or len(items.items) > max_items:
        return None  # too many: the worker says so, as for any feed
    changed = [i for i, h in enumerate(items.hashes) if h not in known]
    if len(changed) > INLINE_ITEMS or sum(items.sizes[i] for i in changed) > INLINE_BYTES:
        return None
    return items


def _status(result: FetchResult) -> str:
    if result.status is None:
        return result.error_kind or "error"
    return str(result.status)
