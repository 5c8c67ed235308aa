"""One aggregate run: due sources -> fetch -> judge -> parse -> decide -> store.

The shell around the pure parts: ``schedule.after_fetch`` judges each fetch,
``parse.parse_feed`` runs in a process pool (both cores; feedparser is CPU-bound) unless only
a few items changed, ``decide.decide_entries`` matches items, and ``store.record`` commits
each source in one transaction as soon as it is done, so one slow or broken source never
holds up or undoes another's work. The event loop only fetches: the database work and the
parsing of small changes run on one storing thread, so a transaction or a parse never delays
the other sources' requests. Whatever goes wrong with one source, even an exception nothing foresaw, is
recorded as that source's failure and the run goes on: a run from cron must not die, night
after night, on one hostile feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sources.follow.decide import decide_entries
from sources.follow.feed_items import FeedItems
from sources.follow.history import Unread, after_failure, next_to_read, time_ran_out
from sources.follow.item_keys import normalise_link
from sources.follow.opml import Source
from sources.follow.parse import MAX_ITEMS, ParsedFeed, parse_feed, split_feed
from sources.follow.schedule import (
    Outcome,
    SourceState,
    after_error,
    after_fetch,
    after_parse_failure,
    is_due,
)
from sources.follow.workers import parser_pool
from sources.http.fetch import Fetcher, FetchRequest, FetchResult
from sources.http.network import PUBLIC
from sources.judge.relevance import Relevance, Taxonomy, build_taxonomy
from sources.judge.source_rules import Scoring
from sources.pages.reader import (
    PageReader,
    PagesSummary,
    page_mode,
    wants_page,
)
from sources.pages.text import warm_page_reader
from sources.settings import AggregateSettings
from sources.store.database import Store

log = logging.getLogger("communique.aggregate")
INLINE_ITEMS = 5  # a changed feed with at most this many new or edited items is parsed here,
INLINE_BYTES = 64 * 1024  # if they come to no more than this
INLINE_BODY = 2 * 1024 * 1024  # and the whole body to no more (it is split here first)


@dataclass
class RunSummary:
    """What a run did, for the terminal and for ``--json``."""

    sources: int = 0
    ok: int = 0
    not_modified: int = 0
    unchanged: int = 0
    failed: int = 0
    gone: int = 0
    new: int = 0
    updated: int = 0
    items_parsed: int = 0  # entries parsed and scored (new, edited, or not yet hashed)
    items_unchanged: int = 0  # items recognised by the hash of their bytes, not parsed
    archives: int = 0  # RFC 5005 archive documents read (each once, ever)
    moved: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    pages: PagesSummary = field(default_factory=PagesSummary)

    def as_dict(self) -> dict[str, object]:
        """The summary as plain data (``--json``)."""
        return {
            "sources": self.sources,
            "ok": self.ok,
            "not_modified": self.not_modified,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "gone": self.gone,
            "items_new": self.new,
            "items_updated": self.updated,
            "moved": [{"from": a, "to": b} for a, b in self.moved],
            "failures": [{"url": u, "error": m} for u, m in self.failures],
            "archives": self.archives,
            "pages": self.pages.as_dict(),
        }


Progress = Callable[[RunSummary, int], None]  # (summary so far, sources done)


def due_sources(
    store: Store, sources: Sequence[Source], now: datetime, *, force: bool
) -> list[Source]:
    """The sources to poll now: due ones, or every one that is not gone with ``force``."""
    due = []
    for source in sources:
        state = store.state(source.url)
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
    due = due_sources(store, sources, now, force=force)
    # sources not due whose history walk stopped (a failure that has waited, a kill, its
    # time ran out): it goes on now, whether or not the current feed links anything new
    walking = store.histories_due(now) - {s.url for s in due}
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
                state = store.state(source.url)
                requests.append(FetchRequest(source.url, state.etag, state.last_modified))

            def run_on(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
                return loop.run_in_executor(storing, functools.partial(function, *args, **kwargs))

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
            )

            def scoring_of(url: str) -> _Scoring:
                return _Scoring(taxonomy, policy.on_topic(url), modes.get(url, "off"))

            # History walks (RFC 5005 archives) are tasks of their own, each bounded by
            # [aggregate] history_time: a source counts as done once its current feed is
            # stored, and a long history never holds up the other sources.
            walks: list[asyncio.Task[None]] = []

            def walk_soon(url: str, scoring: _Scoring) -> None:
                walk = _walk_history(
                    store, url, fetcher, run_on, extract_on, settings, summary, scoring,
                    pages, rng,
                )  # fmt: skip
                walks.append(asyncio.create_task(walk))

            async def poll(request: FetchRequest) -> None:
                # Fetch and handle in one task, so a body lives only until its source is stored.
                try:
                    result = await fetcher.fetch(request)
                    scoring = scoring_of(request.url)
                    pools = (pool, storing)
                    fetched = await _handle(
                        store, result, settings, rng, pools, loop, summary, scoring
                    )
                    if fetched.pages_wanted:
                        pages.pump_soon()
                    if fetched.history_url:  # the feed answered: its history, if unread
                        walk_soon(fetched.history_url, scoring)
                except Exception as exc:  # not CancelledError: Ctrl-C still stops the run
                    await loop.run_in_executor(
                        storing, _record_error, store, request.url, exc, settings, rng, summary
                    )

            for source in go_on:
                walk_soon(source.url, scoring_of(source.url))
            tasks = [asyncio.create_task(poll(r)) for r in requests]
            try:
                for task in asyncio.as_completed(tasks):
                    await task
                    done += 1
                    if progress:
                        progress(summary, done)
                await asyncio.gather(*walks)  # every poll is done: no walk is added now
            finally:  # interrupted: stop every fetch before the client and the pool go
                for task in [*tasks, *walks]:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*tasks, *walks, return_exceptions=True)

            summary.pages = await pages.finish()  # and pages left from earlier runs
    finally:
        storing.shutdown(wait=True, cancel_futures=True)  # before the store is closed
        pool.shutdown(wait=True, cancel_futures=True)
    return summary


def _record_error(
    store: Store,
    url: str,
    exc: Exception,
    settings: AggregateSettings,
    rng: random.Random,
    summary: RunSummary,
) -> None:
    """An exception while handling one source is that source's failure, recorded and backed
    off like any other (its transaction, if one was open, was rolled back)."""
    log.debug("%s: unexpected error", url, exc_info=exc)
    message = f"internal error while handling this source: {type(exc).__name__}: {exc}"
    message = message[:500].encode("utf-8", "replace").decode("utf-8")
    now = datetime.now(UTC)
    outcome = after_error(store.state(url), message, now, settings, jitter=rng.random())
    store.record(url, outcome, now, status="error")
    summary.failed += 1
    summary.failures.append((url, message))
    log.info("%s: failed: %s", url, message)


@dataclass(frozen=True)
class _Scoring:
    """How one source's items are judged: the topics, whether the source is wholly about EU
    foreign policy, and whether its items' pages are read (off, auto, on)."""

    taxonomy: Taxonomy
    on_topic: bool
    page_mode: str


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
    store: Store,
    result: FetchResult,
    settings: AggregateSettings,
    rng: random.Random,
    pools: tuple[ProcessPoolExecutor, ThreadPoolExecutor],
    loop: asyncio.AbstractEventLoop,
    summary: RunSummary,
    scoring: _Scoring,
) -> _Fetched:
    """Judge, parse, decide and store one fetch. The database work and the parsing of a small
    change run on the storing thread, a big parse in the worker pool: the event loop only
    fetches, so a feed being parsed or stored never holds up the requests of the others."""
    pool, storing = pools
    fetched = await loop.run_in_executor(
        storing, _prepare, store, result, settings, rng, scoring, summary
    )
    if fetched.pool_arguments is None:
        return fetched  # stored already: not modified, failed, or parsed here
    try:  # the worker's own taxonomy (installed once), not this one pickled again
        fetched.parsed, fetched.verdicts = await loop.run_in_executor(
            pool, parse_and_score, *fetched.pool_arguments
        )
    except Exception as exc:  # a parser crash is this source's failure, not the run's
        fetched.parsed = ParsedFeed(title="", link=None, entries=(), error=f"parser crashed: {exc}")
    await loop.run_in_executor(storing, _finish, store, result, settings, rng, summary, fetched)
    return fetched


def _prepare(
    store: Store,
    result: FetchResult,
    settings: AggregateSettings,
    rng: random.Random,
    scoring: _Scoring,
    summary: RunSummary,
) -> _Fetched:
    """On the storing thread: judge the fetch, parse it here if only a few items changed, and
    store it unless the worker pool must parse it first (``pool_arguments`` set)."""
    url = result.url
    before = store.state(url)
    fetched = _Fetched(
        before,
        after_fetch(before, result, settings, jitter=rng.random()),
        _status(result),
        page_mode=scoring.page_mode,
    )
    if not (fetched.outcome.parse and result.body is not None):
        _finish(store, result, settings, rng, summary, fetched)
        return fetched
    fetched.hashes = store.known_item_hashes(url)
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
        _finish(store, result, settings, rng, summary, fetched)
    return fetched


def _finish(
    store: Store,
    result: FetchResult,
    settings: AggregateSettings,
    rng: random.Random,
    summary: RunSummary,
    fetched: _Fetched,
) -> None:
    """On the storing thread: decide what the parsed entries are and store them."""
    url = result.url
    parsed, outcome, status = fetched.parsed, fetched.outcome, fetched.status
    if parsed is not None and parsed.error:
        outcome = after_parse_failure(
            fetched.before, outcome, parsed.error, result.fetched_at, settings, jitter=rng.random()
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
    if outcome.kind not in {"failed", "gone"}:  # a failing host is left alone
        fetched.history_url = outcome.state.url  # (a confirmed move renamed the source)
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


async def _walk_history(
    store: Store,
    url: str,
    fetcher: Fetcher,
    run_on: Callable[..., Any],
    extract_on: Callable[..., Any],
    settings: AggregateSettings,
    summary: RunSummary,
    scoring: _Scoring,
    pages: PageReader,
    rng: random.Random,
) -> None:
    """Read on in a source's history (RFC 5005 archived feeds): the archive documents the
    store holds as unread, newest first, each read once, each committed with the older one it
    links (``sources.history``). The walk stops when none is left, ``[aggregate]
    max_archives`` documents are read, or ``[aggregate] history_time`` has run out: a fetch
    still under way then is cut short, except the walk's first, which has the usual
    deadline (so a slow archive is read, one a run). A document that fails waits (backoff)
    and the walk goes on with any other; a later run goes on from where this one stopped."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + settings.history_time.total_seconds()
    tried: list[str] = []
    try:
        # an archive may reach only the internet and the network the feed answered from
        reach = (await run_on(store.state, url)).network or PUBLIC
        while True:
            history = await run_on(store.history, url)
            unread = next_to_read(history, datetime.now(UTC), settings.max_archives, tried)
            if unread is None:
                return
            tried.append(unread.url)
            first = len(tried) == 1
            in_time = first or loop.time() < ends
            if in_time:
                try:
                    in_time = await _read_archive(
                        store, url, unread, reach, None if first else ends, fetcher, run_on,
                        extract_on, settings, summary, scoring, pages, rng,
                    )  # fmt: skip
                except Exception as exc:  # storing failed: this document's, not the run's
                    log.debug("%s: archive %s: unexpected error", url, unread.url, exc_info=exc)
                    message = f"internal error: {type(exc).__name__}: {exc}"
                    await run_on(_archive_failed, store, url, unread, message, None, settings, rng)
                    continue
            if not in_time:  # the walk's time ran out before this document or while fetching it
                log.info("%s: history stops before %s: %s", url, unread.url, time_ran_out(settings))
                await run_on(store.archive_not_reached, url, unread.url, time_ran_out(settings))
                return
    except Exception as exc:  # the store unreadable: the walk ends, the run goes on
        log.info("%s: history walk ended: %s: %s", url, type(exc).__name__, exc)


async def _read_archive(
    store: Store,
    url: str,
    unread: Unread,
    reach: str,
    ends: float | None,
    fetcher: Fetcher,
    run_on: Callable[..., Any],
    extract_on: Callable[..., Any],
    settings: AggregateSettings,
    summary: RunSummary,
    scoring: _Scoring,
    pages: PageReader,
    rng: random.Random,
) -> bool:
    """Read one archive document of source ``url`` and store its items, or record why it
    could not be read; False when the walk's time (``ends``, on the loop's clock) ran out
    while it was being fetched, and nothing was recorded."""
    target = unread.url

    async def failed(message: str, result: FetchResult | None = None) -> bool:
        log.info("%s: archive %s: %s", url, target, message)
        await run_on(_archive_failed, store, url, unread, message, result, settings, rng)
        return True

    try:
        async with asyncio.timeout_at(ends):
            result = await fetcher.fetch(FetchRequest(target, reach=reach))
    except TimeoutError:
        return False
    if result.status != 200 or result.body is None:
        return await failed(result.error or f"HTTP {result.status}", result)
    try:
        parsed, verdicts = await extract_on(
            parse_and_score,
            result.body,
            result.final_url or target,
            result.content_type,
            result.fetched_at,
            None,
            scoring.on_topic,
            settings.max_items,
        )
    except Exception as exc:  # a parser crash fails this document, not the run
        return await failed(f"parser crashed: {exc}")
    if parsed.error:
        return await failed(parsed.error)
    new, updated, wanted = await run_on(
        _store_archive, store, url, target, result.fetched_at, parsed, verdicts, scoring,
        settings,
    )  # fmt: skip
    summary.new += new
    summary.updated += updated
    summary.archives += 1
    if wanted:
        pages.pump_soon()
    log.info("%s: archive %s: %d new, %d updated", url, target, new, updated)
    return True


def _archive_failed(
    store: Store,
    url: str,
    unread: Unread,
    message: str,
    result: FetchResult | None,
    settings: AggregateSettings,
    rng: random.Random,
) -> None:
    """On the storing thread: an archive document that could not be read waits (backoff)."""
    message = message.encode("utf-8", "replace").decode("utf-8")
    waiting = after_failure(
        unread,
        message,
        datetime.now(UTC),
        settings,
        jitter=rng.random(),
        status=result.status if result else None,
        retry_after_header=result.retry_after if result else None,
    )
    store.archive_failed(url, waiting)


def _store_archive(
    store: Store,
    url: str,
    document: str,
    fetched_at: datetime,
    parsed: ParsedFeed,
    verdicts: dict[str, Relevance],
    scoring: _Scoring,
    settings: AggregateSettings,
) -> tuple[int, int, int]:
    """On the storing thread: one archive document's items decided and stored;
    ``(new, updated, pages wanted)``."""
    actions = decide_entries(store.stored_entries(url), parsed.entries)
    wanted = {
        a.entry.key
        for a in actions
        if a.kind == "new"
        and wants_page(
            scoring.page_mode, a.entry.link, a.entry.text or a.entry.summary,
            settings.full_text_below,
        )
    }  # fmt: skip
    new, updated = store.record_archive(
        url,
        document,
        fetched_at,
        actions,
        prev_archive=parsed.prev_archive,
        relevance={a.entry.key: verdicts[a.entry.key] for a in actions if a.kind != "same"},
        pages_wanted=wanted,
    )
    return new, updated, len(wanted)


_worker_taxonomy: Taxonomy | None = None  # set once per worker process by use_taxonomy


def use_taxonomy(taxonomy: Taxonomy, reads_pages: bool = False) -> None:
    """Install the taxonomy that :func:`parse_and_score` uses when given none: run once in
    each worker, so the taxonomy is not pickled again with every feed. ``reads_pages``: the
    run will read article pages, so the worker loads the page extractor in the background
    while it parses feeds and waits for them, not when the first page arrives."""
    global _worker_taxonomy
    _worker_taxonomy = taxonomy
    if reads_pages:
        threading.Thread(target=warm_page_reader, daemon=True).start()


def parse_and_score(
    body: bytes,
    url: str,
    content_type: str | None,
    fetched_at: datetime,
    taxonomy: Taxonomy | None,
    on_topic: bool,
    max_items: int = MAX_ITEMS,
    known: frozenset[str] | None = None,
    items: FeedItems | None = None,
) -> tuple[ParsedFeed, dict[str, Relevance]]:
    """Parse a feed and score its entries, in a worker process: both are CPU work, and the
    main process is left to fetching and storing. ``taxonomy`` None: the one installed by
    :func:`use_taxonomy`. Verdicts travel back without their match lists (``explain``
    recomputes those). Items whose hash is in ``known`` (stored for the source) are neither
    parsed nor scored: only what changed costs anything."""
    taxonomy = taxonomy if taxonomy is not None else _worker_taxonomy
    if taxonomy is None:
        raise RuntimeError("parse_and_score needs a taxonomy: none given or installed")
    parsed = parse_feed(
        body, url, content_type, fetched_at, max_items=max_items, known=known, items=items
    )
    verdicts = {
        entry.key: taxonomy.score(
            entry.title, entry.summary, entry.text, on_topic=on_topic, explain=False
        )
        for entry in parsed.entries
    }
    return parsed, verdicts


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
