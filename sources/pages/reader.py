"""Reading the article pages of items whose feeds carry a title and a sentence.

When: per source, ``communique:fullText`` in the source list (``sources add --full-text``),
else ``[aggregate] full_text``: ``on`` reads the page of every new item, ``auto`` only of new
items whose feed text is shorter than ``[aggregate] full_text_below`` characters, ``off``
none. Only new items and items whose link changed want their page; a page read once is kept
by URL and never fetched again.

Politely: pages go through the run's own fetcher (the same per-host and overall limits,
deadlines and size cap as feeds); a host's ``robots.txt`` is read once a day and obeyed
(:mod:`sources.robots`), and a page it disallows is never requested; at most
``[aggregate] pages_per_host`` pages are read from one host in one run, newest items first,
the rest on later runs; a host that answers 429 or 503 is left alone until its Retry-After
(or the feed backoff) has passed. A page that fails fails neither its item nor the run: it is
tried again after a backoff, and given up after :data:`MAX_FAILURES` failures in a row.

The pure part (:func:`wants_page`, :func:`plan`) decides; :class:`PageReader` is the shell
that fetches, has the parser processes extract the text (:mod:`sources.page_text`), and
stores it with the item's relevance scored again on the page's text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sources.follow.inflight import InFlight
from sources.follow.schedule import backoff, retry_after
from sources.http.fetch import FetchRequest, FetchResult
from sources.http.network import PUBLIC
from sources.http.robots import RobotsFile, host_of, robots_url
from sources.pages.text import PageText, read_page
from sources.settings import AggregateSettings
from sources.store.database import Store
from sources.types import PageRecord, Relevance, WantedPage

log = logging.getLogger("communique.aggregate")
MAX_FAILURES = 4  # a page that failed this many fetches in a row is given up
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
HTML_TYPES = ("text/html", "application/xhtml+xml")
NEVER = frozenset({"refused", "url"})  # fetch failures that no later try can mend


@dataclass
class PagesSummary:
    """What the page phase of a run did, for the terminal and ``--json``."""

    read: int = 0  # pages fetched whose text is now the items'
    kept_feed_text: int = 0  # pages fetched whose text was not the article
    reused: int = 0  # pages read before (by another item, or not modified)
    failed: int = 0
    disallowed: int = 0  # robots.txt says no
    waiting: int = 0  # left for a later run (per-host cap, resting host, backoff)

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "kept_feed_text": self.kept_feed_text,
            "reused": self.reused,
            "failed": self.failed,
            "disallowed": self.disallowed,
            "waiting": self.waiting,
        }


def page_mode(source_mode: str, default: str) -> str:
    """The source's own setting, else the run's ``[aggregate] full_text`` (also when the
    source list has a value communique does not know: it is warned about, not guessed)."""
    return source_mode if source_mode in {"on", "auto", "off"} else default


def wants_page(mode: str, link: str | None, feed_text: str, below: int) -> bool:
    """Whether a new item's page is to be read, by the source's ``mode``."""
    if mode == "off" or not link or urlsplit(link).scheme not in {"http", "https"}:
        return False
    return mode == "on" or len(" ".join(feed_text.split())) < below


@dataclass(frozen=True)
class PageJob:
    """One page to act on, and every item waiting for it."""

    url: str
    entries: tuple[WantedPage, ...]
    known: PageRecord | None

    @property
    def host(self) -> str:
        return host_of(self.url)

    @property
    def entry_ids(self) -> tuple[int, ...]:
        return tuple(e.entry_id for e in self.entries)

    @property
    def reach(self) -> str:
        """The network besides the internet the page may be fetched from: its feed's own
        (:mod:`sources.network`). Items of feeds in different networks linking one page, or
        of a feed not answered yet, give it the internet only."""
        networks = {e.source_network for e in self.entries}
        only = networks.pop() if len(networks) == 1 else None
        return only or PUBLIC

    @property
    def feed_text(self) -> str:
        """The most the feed said about it (the page must say more to be used)."""
        return max((e.text or e.summary for e in self.entries), key=len, default="")


@dataclass(frozen=True)
class Plan:
    """What to do with the pages wanted now."""

    reuse: tuple[PageJob, ...]  # read before: the text is there, nothing to fetch
    fetch: tuple[PageJob, ...]  # at most the per-host cap per host, newest items first


def plan(
    wanted: Sequence[WantedPage],
    now: datetime,
    per_host: int,
    resting: frozenset[str],
    taken_before: Mapping[str, int] | None = None,
) -> Plan:
    """Sort the wanted pages into those already read, those to fetch now, and the rest (left
    for later runs).
    ``taken_before``: pages already fetched per host in this run (they count to the cap)."""
    jobs: dict[str, list[WantedPage]] = {}
    for item in wanted:  # newest first, as the store lists them
        jobs.setdefault(item.url, []).append(item)
    reuse, fetch = [], []
    taken: dict[str, int] = dict(taken_before or {})
    for url, entries in jobs.items():
        job = PageJob(url, tuple(entries), entries[0].known)
        known = job.known
        if known is not None and known.status == "200" and known.text and not known.problem:
            reuse.append(job)
            continue
        if known is not None and known.retry_at is not None and known.retry_at > now:
            continue  # its backoff has not passed: a later run
        if job.host in resting or taken.get(job.host, 0) >= per_host:
            continue  # the host rests, or gave its share this run: a later run
        taken[job.host] = taken.get(job.host, 0) + 1
        fetch.append(job)
    return Plan(tuple(reuse), tuple(fetch))


def after_failure(
    job: PageJob, status: str, problem: str, now: datetime, settings: AggregateSettings
) -> tuple[PageRecord, bool]:
    """The page's record after a failed fetch, and whether its items stop waiting for it."""
    failures = (job.known.failures if job.known else 0) + 1
    record = PageRecord(
        url=job.url,
        status=status,
        problem=problem,
        failures=failures,
        retry_at=now + backoff(failures, settings, jitter=0.5),
        etag=job.known.etag if job.known else None,
        last_modified=job.known.last_modified if job.known else None,
    )
    return record, failures >= MAX_FAILURES


def is_html(content_type: str | None) -> bool:
    """Whether a response is a web page (no Content-Type: let the extractor try)."""
    kind = (content_type or "text/html").split(";")[0].strip().lower()
    return kind in HTML_TYPES


class PageReader:
    """The page side of one run: pages are read while feeds are still being fetched.

    :meth:`pump` is called whenever a source has stored items that want their page (and
    once at the end, for pages left from earlier runs); each call plans what is wanted and
    not yet taken up in this run, within each host's cap. Each host's pages are asked for
    by as many workers as the host may serve at once, so a host that says stop (429, 503)
    is asked for no page after that answer; a page is extracted and stored while the host's
    next page is being fetched. ``fetch(request)`` awaits a :class:`FetchResult` (the run's
    fetcher); ``run_on(function, *args)`` awaits a call on the run's storing thread,
    ``extract_on(function, *args)`` one in the parser processes; ``score(item, page_text)``
    is the item's relevance read with its page's text; ``in_flight`` the run's places for
    documents between fetching and storing (:mod:`sources.follow.inflight`): a page, and a
    ``robots.txt``, holds one from its request until it is stored, so pages fetched faster
    than they are extracted wait for their request, not in memory.
    """

    def __init__(
        self,
        store: Store,
        fetch: Callable[[FetchRequest], Any],
        run_on: Callable[..., Any],
        extract_on: Callable[..., Any],
        settings: AggregateSettings,
        score: Callable[[WantedPage, str], Relevance],
        now: datetime,
        in_flight: InFlight,
    ) -> None:
        self.store, self.fetch, self.run_on, self.extract_on = store, fetch, run_on, extract_on
        self.settings, self.score, self.now = settings, score, now
        self.in_flight = in_flight
        self.summary = PagesSummary()
        self._seen: set[str] = set()  # page URLs taken up (or judged) in this run
        self._taken: dict[str, int] = {}  # pages fetched per host in this run
        self._resting: dict[str, bool] = {}
        self._robots: dict[tuple[str, str], asyncio.Task[RobotsFile | Unfetchable]] = {}
        self._queues: dict[str, list[PageJob]] = {}
        self._workers: dict[str, int] = {}
        self._stopped: set[str] = set()  # hosts that asked us to stop (429/503) in this run
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self._again = False

    def pump_soon(self) -> None:
        """Plan the pages wanted now, without waiting for it (a source was just stored)."""
        self._tasks.append(asyncio.create_task(self.pump()))

    async def pump(self) -> None:
        """Take up every page wanted now that this run has not taken up yet."""
        if self._lock.locked():
            self._again = True  # the planning under way will look once more
            return
        async with self._lock:
            self._again = True
            while self._again:
                self._again = False
                await self._plan()

    async def _plan(self) -> None:
        store, run_on, now = self.store, self.run_on, self.now
        wanted = [w for w in await run_on(store.wanted_pages) if w.url not in self._seen]
        for host in sorted({host_of(w.url) for w in wanted} - set(self._resting)):
            until = await run_on(store.resting_until, host)
            self._resting[host] = until is not None and until > now
        resting = frozenset(h for h, rests in self._resting.items() if rests)
        work = plan(wanted, now, self.settings.pages_per_host, resting, self._taken)
        for job in work.reuse:
            self._seen.add(job.url)
            known = job.known
            assert known is not None
            verdicts = {e.entry_id: self.score(e, known.text) for e in job.entries}
            await run_on(
                store.record_page, known, now, job.entry_ids, done=True, relevance=verdicts
            )
            self.summary.reused += 1
        for job in work.fetch:
            self._seen.add(job.url)
            self._taken[job.host] = self._taken.get(job.host, 0) + 1
            if (job.host, job.reach) not in self._robots:
                self._robots[(job.host, job.reach)] = asyncio.create_task(
                    _robots(store, job.host, job.reach, self.fetch, run_on, now, self.in_flight)
                )
            self._queues.setdefault(job.host, []).append(job)
            while self._workers.get(job.host, 0) < self.settings.per_host:
                self._workers[job.host] = self._workers.get(job.host, 0) + 1
                self._tasks.append(asyncio.create_task(self._worker(job.host)))

    async def finish(self) -> PagesSummary:
        """Take up what is still wanted (pages left from earlier runs too), wait for every
        page under way, and say what was done."""
        try:
            await self.pump()
            while self._tasks:
                task = self._tasks.pop()
                await task
        finally:  # interrupted: no page is left half-stored behind the run's back
            for task in self._tasks:
                task.cancel()
        left = await self.run_on(self.store.wanted_pages)
        self.summary.waiting = len({w.url for w in left})
        return self.summary

    async def _worker(self, host: str) -> None:
        queue = self._queues[host]
        try:
            while queue:
                await self._one(queue.pop(0))
        finally:
            self._workers[host] -= 1

    async def _one(self, job: PageJob) -> None:
        rules = await self._robots[(job.host, job.reach)]
        if isinstance(rules, Unfetchable):  # nowhere this page's feed may reach
            await self._refuse(job, rules.message)
            return
        if not rules.allows(job.url):
            if rules.status is not None and rules.status < 500:  # unreadable: a later run
                await self.run_on(self.store.give_up_pages, job.entry_ids, rules.problem, self.now)
                self.summary.disallowed += 1
            return
        if job.host in self._stopped:
            return
        known = job.known
        place = self.in_flight.place()  # held from the request until the page is stored
        settling: asyncio.Task[None] | None = None
        try:
            await place.take()
            if job.host in self._stopped:  # said while this page waited for its place
                return
            result: FetchResult = await self.fetch(
                FetchRequest(
                    job.url,
                    known.etag if known else None,
                    known.last_modified if known else None,
                    accept=HTML_ACCEPT,
                    reach=job.reach,
                )
            )
            if result.status in {429, 503}:
                self._stopped.add(job.host)  # at once: the host's next page is not asked for
            await place.hold(result.body)
            # the page is read and stored while the host's next page is being fetched
            settling = asyncio.create_task(self._settle(job, result))
            settling.add_done_callback(lambda _: place.give_back())
            self._tasks.append(settling)
        finally:
            if settling is None:  # not fetched, or no further than the fetch
                place.give_back()

    async def _refuse(self, job: PageJob, message: str) -> None:
        """The page cannot be fetched (the network rule refused it, or its URL is invalid):
        its items stop waiting for it. (Unless one of its feeds has not been answered yet:
        the rule may allow it once the feed's own network is known, so it is tried again.)"""
        if any(e.source_network is None for e in job.entries):
            record, done = after_failure(job, "refused", message, self.now, self.settings)
            await self.run_on(self.store.record_page, record, self.now, job.entry_ids, done=done)
        else:
            await self.run_on(self.store.give_up_pages, job.entry_ids, message, self.now)
        self.summary.disallowed += 1
        log.info("%s: %s", job.url, message)

    async def _settle(self, job: PageJob, result: FetchResult) -> None:
        store, run_on, now, summary = self.store, self.run_on, self.now, self.summary
        if result.error_kind in NEVER:
            await self._refuse(job, result.error or result.error_kind)
            return
        status = str(result.status) if result.status is not None else (result.error_kind or "error")
        if result.status in {429, 503}:
            rest = retry_after(result.retry_after, now) or self.settings.backoff_base
            await run_on(store.rest_host, job.host, now + rest)
            log.info("%s: answered %s: its pages wait until %s", job.host, status, now + rest)
            return
        if result.status == 304 and job.known is not None and job.known.text:
            known = replace(job.known, failures=0, retry_at=None)
            verdicts = {
                e.entry_id: self.score(e, known.text) for e in job.entries if not known.problem
            }
            await run_on(
                store.record_page, known, now, job.entry_ids, done=True, relevance=verdicts
            )
            summary.reused += 1
            return
        if result.status == 200 and result.body is not None:
            if not is_html(result.content_type):
                kind = (result.content_type or "").split(";")[0].strip()
                record = PageRecord(job.url, status, problem=f"not a web page ({kind})")
                await run_on(store.record_page, record, now, job.entry_ids, done=True)
                summary.failed += 1
                return
            try:
                page: PageText = await self.extract_on(
                    read_page,
                    result.body,
                    result.final_url or job.url,
                    job.feed_text,
                    result.content_type,
                )
            except Exception as exc:  # an extractor crash is this page's problem only
                page = PageText("", "", f"extraction failed: {type(exc).__name__}")
            record = PageRecord(
                url=job.url,
                status=status,
                etag=result.etag,
                last_modified=result.last_modified,
                text=page.text,
                language=page.language,
                problem=page.problem,
            )
            verdicts = (
                {e.entry_id: self.score(e, page.text) for e in job.entries} if page.usable else {}
            )
            await run_on(
                store.record_page, record, now, job.entry_ids, done=True, relevance=verdicts
            )
            if page.usable:
                summary.read += 1
            else:
                summary.kept_feed_text += 1
            log.info("%s: %s", job.url, page.problem or f"{len(page.text):,} characters read")
            return
        if result.status is not None and 400 <= result.status < 500:
            record = PageRecord(job.url, status, problem=f"the page answered {status}")
            await run_on(store.record_page, record, now, job.entry_ids, done=True)
        else:
            problem = result.error or f"the page answered {status}"
            record, done = after_failure(job, status, problem, now, self.settings)
            await run_on(store.record_page, record, now, job.entry_ids, done=done)
        summary.failed += 1
        log.info("%s: %s", job.url, record.problem)


@dataclass(frozen=True)
class Unfetchable:
    """A host no page of this feed can be fetched from: the network rule keeps the feed
    from it (:mod:`sources.network`), or its URL cannot be fetched at all."""

    message: str


async def _robots(
    store: Store,
    host: str,
    reach: str,
    fetch: Callable[[FetchRequest], Any],
    run_on: Callable[..., Any],
    now: datetime,
    in_flight: InFlight,
) -> RobotsFile | Unfetchable:
    """The host's robots.txt: as stored if read within the day, else read now and stored
    (holding a place in flight until it is). It is asked for under the same network rule
    as the page it is read for (a refused page is refused again when it is fetched,
    whatever a stored robots.txt says)."""
    known: RobotsFile | None = await run_on(store.robots_file, host)
    if known is not None and not known.stale(now):
        return known
    async with in_flight.place() as place:
        result: FetchResult = await fetch(
            FetchRequest(robots_url(host), accept="text/plain", reach=reach)
        )
        await place.hold(result.body)
        if result.error_kind in NEVER:
            return Unfetchable(result.error or result.error_kind)
        body = ""
        if result.status == 200 and result.body is not None:
            body = result.body.decode("utf-8", errors="replace")
        robots = RobotsFile(host, result.status, body, now)
        await run_on(store.save_robots_file, robots)
    return robots
