"""A run's history walks: reading on in sources' RFC 5005 archived feeds.

The pure part (where a walk stands, what it reads next, how a failed document waits) is
``history``; this shell fetches the documents, has them parsed and scored in the worker pool
and stores them on the run's storing thread. Each walk is a task of its own, bounded by
``[aggregate] history_time``: a long history never holds up the other sources.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sources.follow.decide import decide_entries
from sources.follow.history import Unread, after_failure, next_to_read, time_ran_out
from sources.follow.inflight import InFlight
from sources.follow.parse import ParsedFeed
from sources.follow.scoring import SourceScoring, parse_and_score
from sources.follow.summary import RunSummary
from sources.http.fetch import Fetcher, FetchRequest, FetchResult, limited_host
from sources.http.network import PUBLIC
from sources.judge.relevance import Relevance
from sources.pages.reader import PageReader, wants_page
from sources.settings import AggregateSettings
from sources.store.database import Store

log = logging.getLogger("communique.aggregate")


@dataclass(frozen=True)
class HistoryWalker:
    """What every history walk of one run shares: the store, the fetcher, the storing thread
    (``run_on``) and the worker pool (``extract_on``), the settings, the run's summary, the
    page reader to wake when items want their page, the run's jitter, and its places for
    documents in flight (each archive document holds one from its request until it is
    stored, as a feed does)."""

    store: Store
    fetcher: Fetcher
    run_on: Callable[..., Any]
    extract_on: Callable[..., Any]
    settings: AggregateSettings
    summary: RunSummary
    pages: PageReader
    rng: random.Random
    in_flight: InFlight
    # At most per_host walks at a time per host: a document holds its place while it waits
    # for a turn of its host, so walks of many sources on one host would fill the run's
    # places and keep every other host's feeds waiting behind archives. Polls are capped per
    # host by their turns; walks by this.
    host_walks: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    async def walk(self, url: str, scoring: SourceScoring) -> None:
        """:meth:`_walk`, once fewer than ``per_host`` walks of the same host are under way
        (the wait counts against the walk's time: a host's walks take no longer for it)."""
        ends = asyncio.get_running_loop().time() + self.settings.history_time.total_seconds()
        host = limited_host(url)
        turns = self.host_walks.setdefault(host, asyncio.Semaphore(self.settings.per_host))
        async with turns:
            await self._walk(url, scoring, ends)

    async def _walk(self, url: str, scoring: SourceScoring, ends: float) -> None:
        """Read on in a source's history (RFC 5005 archived feeds): the archive documents the
        store holds as unread, newest first, each read once, each committed with the older one
        it links (``sources.history``). The walk stops when none is left, ``[aggregate]
        max_archives`` documents are read, or ``[aggregate] history_time`` has run out: a fetch
        still under way then is cut short, except the walk's first, which has the usual
        deadline (so a slow archive is read, one a run). A document that fails waits (backoff)
        and the walk goes on with any other; a later run goes on from where this one stopped."""
        store, run_on, settings = self.store, self.run_on, self.settings
        loop = asyncio.get_running_loop()
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
                        in_time = await self._read(
                            url, unread, reach, None if first else ends, scoring
                        )
                    except Exception as exc:  # storing failed: this document's, not the run's
                        log.debug("%s: archive %s: unexpected error", url, unread.url, exc_info=exc)
                        message = f"internal error: {type(exc).__name__}: {exc}"
                        await run_on(self._failed, url, unread, message, None)
                        continue
                if not in_time:  # the time ran out before this document or while fetching it
                    why = time_ran_out(settings)
                    log.info("%s: history stops before %s: %s", url, unread.url, why)
                    await run_on(store.archive_not_reached, url, unread.url, why)
                    return
        except Exception as exc:  # the store unreadable: the walk ends, the run goes on
            log.info("%s: history walk ended: %s: %s", url, type(exc).__name__, exc)

    async def _read(
        self, url: str, unread: Unread, reach: str, ends: float | None, scoring: SourceScoring
    ) -> bool:
        """Read one archive document of source ``url`` and store its items, or record why it
        could not be read; False when the walk's time (``ends``, on the loop's clock) ran out
        while it waited for its place or was being fetched, and nothing was recorded."""
        target = unread.url
        # held from before the request until the document is stored, as a feed's place is;
        # waiting for it counts against the walk's time, as waiting for the fetcher does
        place = self.in_flight.place()

        async def failed(message: str, result: FetchResult | None = None) -> bool:
            log.info("%s: archive %s: %s", url, target, message)
            await self.run_on(self._failed, url, unread, message, result)
            return True

        try:
            try:
                async with asyncio.timeout_at(ends):
                    await place.take()
                    result = await self.fetcher.fetch(FetchRequest(target, reach=reach))
            except TimeoutError:
                return False
            await place.hold(result.body)
            if result.status != 200 or result.body is None:
                return await failed(result.error or f"HTTP {result.status}", result)
            try:
                parsed, verdicts = await self.extract_on(
                    parse_and_score,
                    result.body,
                    result.final_url or target,
                    result.content_type,
                    result.fetched_at,
                    None,
                    scoring.on_topic,
                    self.settings.max_items,
                )
            except Exception as exc:  # a parser crash fails this document, not the run
                return await failed(f"parser crashed: {exc}")
            if parsed.error:
                return await failed(parsed.error)
            new, updated, wanted = await self.run_on(
                self._store, url, target, result.fetched_at, parsed, verdicts, scoring
            )
        finally:
            place.give_back()
        self.summary.new += new
        self.summary.updated += updated
        self.summary.archives += 1
        if wanted:
            self.pages.pump_soon()
        log.info("%s: archive %s: %d new, %d updated", url, target, new, updated)
        return True

    def _failed(self, url: str, unread: Unread, message: str, result: FetchResult | None) -> None:
        """On the storing thread: an archive document that could not be read waits (backoff)."""
        message = message.encode("utf-8", "replace").decode("utf-8")
        waiting = after_failure(
            unread,
            message,
            datetime.now(UTC),
            self.settings,
            jitter=self.rng.random(),
            status=result.status if result else None,
            retry_after_header=result.retry_after if result else None,
        )
        self.store.archive_failed(url, waiting)

    def _store(
        self,
        url: str,
        document: str,
        fetched_at: datetime,
        parsed: ParsedFeed,
        verdicts: dict[str, Relevance],
        scoring: SourceScoring,
    ) -> tuple[int, int, int]:
        """On the storing thread: one archive document's items decided and stored;
        ``(new, updated, pages wanted)``."""
        store = self.store
        actions = decide_entries(store.stored_entries(url), parsed.entries)
        wanted = {
            a.entry.key
            for a in actions
            if a.kind == "new"
            and wants_page(
                scoring.page_mode, a.entry.link, a.entry.text or a.entry.summary,
                self.settings.full_text_below,
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
