"""What a run holds between fetching and storing: bounded by its limits, not its sources.

A fetched body waits for a parser process, then its parsed items wait for the storing
thread. Were nothing to hold the fetching back while parsing is behind, a run would hold
every body it had fetched, and its memory would grow with the number of sources. So every
document a run fetches (a feed, an archive document, an article page, a ``robots.txt``):

* takes a **place** before its request is sent, and gives it back once what it brought is
  stored (or dropped): at most :attr:`Bounds.places` documents are in flight;
* once its body has arrived, takes the body's size in **bytes** of :attr:`Bounds.budget`
  before it is parsed, until it is stored: the bodies being parsed or stored, and so the
  items made of them, come to at most the budget. A body waits for its bytes (in the order
  bodies arrived) while bigger ones are being parsed, and while one waits no new place is
  given: fetching stops until parsing has caught up. A body larger than the budget takes
  all of it, so it is parsed and stored alone.

Peak memory then depends on ``[aggregate] concurrency``, ``workers`` and ``max_bytes``,
never on the number of sources.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class Bounds:
    """How much one run may hold between fetching and storing."""

    places: int  # documents being fetched, or fetched and not yet stored
    budget: int  # bytes of bodies being parsed or stored
    pollers: int  # feeds polled at once (the other places: archive documents, pages)


def bounds(concurrency: int, workers: int, max_bytes: int) -> Bounds:
    """The bounds for ``concurrency`` fetches at a time, ``workers`` parser processes and
    bodies of at most ``max_bytes``.

    Pollers: one for every fetch at a time and two for each parser (one being parsed, one
    waiting), so neither the network nor the parsers wait for the other. Places: twice the
    fetches and parsers, so archive documents and article pages find some beside the polls.
    Budget: one largest body, whatever the number of parsers. Parsing takes about twelve
    times a body's size at its peak, so the memory of what is being parsed is bounded by
    the budget, not by the parsers: many small feeds are parsed side by side, a
    multi-megabyte one with little beside it (two 9 MB feeds at once took 230 MB)."""
    fetching, parsing = max(1, concurrency), max(1, workers)
    return Bounds(
        places=2 * (fetching + parsing),
        budget=max(1, max_bytes),
        pollers=fetching + 2 * parsing,
    )


class InFlight:
    """The places and bytes of one run (in its event loop): :meth:`place` per document."""

    def __init__(self, bounds: Bounds) -> None:
        self.bounds = bounds
        self.documents = 0  # places taken
        self.bytes = 0  # bytes taken by bodies being parsed or stored
        self._for_places: deque[asyncio.Future[None]] = deque()
        self._for_bytes: deque[tuple[asyncio.Future[None], int]] = deque()

    def place(self) -> Place:
        """A place for one document, not taken yet (:meth:`Place.take`, or ``async with``)."""
        return Place(self)

    def _place_free(self) -> bool:
        return self.documents < self.bounds.places and not self._for_bytes

    def _bytes_free(self, size: int) -> bool:
        return self.bytes + size <= self.bounds.budget

    async def _take_place(self) -> None:
        if not self._for_places and self._place_free():
            self.documents += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._for_places.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():
                with contextlib.suppress(ValueError):  # (unless a give-back dropped it)
                    self._for_places.remove(waiter)
            else:  # given a place just as it was cancelled
                self._give_back(1, 0)
            raise

    async def _take_bytes(self, size: int) -> None:
        if not self._for_bytes and self._bytes_free(size):
            self.bytes += size
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._for_bytes.append((waiter, size))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():
                with contextlib.suppress(ValueError):
                    self._for_bytes.remove((waiter, size))
                self._give_back(0, 0)  # places may be free now that it no longer waits
            else:  # given its bytes just as it was cancelled
                self._give_back(0, size)
            raise

    def _give_back(self, documents: int, size: int) -> None:
        self.documents -= documents
        self.bytes -= size
        while self._for_bytes:  # bodies first, in the order they arrived
            waiter, wanted = self._for_bytes[0]
            if not waiter.done():  # (else it was dropped while it waited)
                if not self._bytes_free(wanted):
                    break
                self.bytes += wanted
                waiter.set_result(None)
            self._for_bytes.popleft()
        while self._for_places and self._place_free():
            waiter = self._for_places.popleft()
            if not waiter.done():  # (else its taker was cancelled while it waited)
                self.documents += 1
                waiter.set_result(None)


class Place:
    """One document's place, and the bytes its body takes: taken before its request is
    sent, given back once what it brought is stored (twice, or untaken: nothing happens)."""

    def __init__(self, in_flight: InFlight) -> None:
        self._in_flight = in_flight
        self._taken = False
        self._bytes = 0

    async def take(self) -> None:
        """Wait until the run may fetch one more document."""
        await self._in_flight._take_place()
        self._taken = True

    async def hold(self, body: bytes | None) -> None:
        """The document's body has arrived: wait until it may be parsed (its size, at most
        the whole budget, is free), and count it until the place is given back."""
        if not self._taken or not body or self._bytes:
            return
        size = min(len(body), self._in_flight.bounds.budget)
        await self._in_flight._take_bytes(size)
        self._bytes = size

    def give_back(self) -> None:
        """What the document brought is stored or dropped: another may be fetched."""
        if self._taken:
            self._taken = False
            self._in_flight._give_back(1, self._bytes)
            self._bytes = 0

    async def __aenter__(self) -> Place:
        await self.take()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.give_back()
