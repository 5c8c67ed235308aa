"""Which due source a run fetches next: the first in the list whose host has a turn free.

A run polls its sources a few at a time (``run``: a fixed number of pollers, so memory and
tasks do not grow with the number of sources), so the choice of the next one matters. Taken
in list order alone, a stretch of one host's feeds (a ministry's dozens on one server)
would keep every poller waiting on that host's ``[aggregate] per_host`` limit while other
hosts sit idle. So the next source is the first in the list whose host has fewer than
``per_host`` of the run's fetches under way: the order in which sources queued, each for
its own host, when a run started every poll at once. Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence


class Turns:
    """The sources of one run by index, each host's in list order; ``hosts[i]`` is the host
    of source ``i`` (the key of its per-host limit)."""

    def __init__(self, hosts: Sequence[str], per_host: int) -> None:
        self._hosts = list(hosts)
        self._per_host = max(1, per_host)
        self._queued: dict[str, deque[int]] = {}
        for index, host in enumerate(self._hosts):
            self._queued.setdefault(host, deque()).append(index)
        self._under_way: dict[str, int] = {}
        # hosts with a source queued and a turn free, by the list position of that source
        self._ready = [(queue[0], host) for host, queue in self._queued.items()]
        heapq.heapify(self._ready)
        self._left = len(self._hosts)

    @property
    def left(self) -> int:
        """Sources not handed out yet."""
        return self._left

    def next(self) -> int | None:
        """The index of the source to fetch now, counted as under way for its host; None
        when every host that has a source left has ``per_host`` fetches under way."""
        if not self._ready:
            return None
        _, host = heapq.heappop(self._ready)
        queue = self._queued[host]
        index = queue.popleft()
        self._left -= 1
        self._under_way[host] = self._under_way.get(host, 0) + 1
        if queue and self._under_way[host] < self._per_host:
            heapq.heappush(self._ready, (queue[0], host))
        return index

    def done(self, index: int) -> None:
        """Source ``index``'s fetch is over: its host has a turn free for its next source."""
        host = self._hosts[index]
        before = self._under_way[host]
        self._under_way[host] = before - 1
        queue = self._queued[host]
        if queue and before == self._per_host:  # it was full, so it was not among the ready
            heapq.heappush(self._ready, (queue[0], host))
