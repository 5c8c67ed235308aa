"""Whether a site's ``robots.txt`` lets communique fetch a page. Pure.

Site owners notice readers that fetch pages their ``robots.txt`` disallows, and say so. So
before any article page is fetched, its host's ``robots.txt`` is read (once per host per day,
kept in the store) and obeyed for communique's product token. What the answer means follows
RFC 9309: a 2xx body is the rules; a 4xx (no file, or none for us) allows everything; a 5xx
or no answer at all disallows everything until it is read again, since the site may be down
or refusing us.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

AGENT = "communique"  # the product token robots.txt rules name
READ_EVERY = timedelta(days=1)  # a host's robots.txt is read at most this often
UNREACHABLE_RETRY = timedelta(hours=1)  # a 5xx or failed read is tried again after this
MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309: parse at least 500 KiB; the rest is ignored


@dataclass(frozen=True)
class RobotsFile:
    """One host's ``robots.txt`` as it was read: HTTP status (None: no answer) and body."""

    host: str  # scheme://host[:port]
    status: int | None
    body: str
    read_at: datetime

    def stale(self, now: datetime) -> bool:
        """Whether to read it again."""
        every = UNREACHABLE_RETRY if self.status is None or self.status >= 500 else READ_EVERY
        return now - self.read_at >= every

    def allows(self, url: str, agent: str = AGENT) -> bool:
        """Whether ``agent`` may fetch ``url`` by these rules."""
        if self.status is None or self.status >= 500:
            return False
        if self.status >= 400:
            return True
        parser = RobotFileParser()
        parser.parse(self.body[:MAX_ROBOTS_BYTES].splitlines())
        return parser.can_fetch(agent, url)

    @property
    def problem(self) -> str:
        """Why a disallowed page was not fetched, in a few words."""
        if self.status is None or self.status >= 500:
            return f"{self.host}/robots.txt could not be read; pages wait until it can"
        return f"{self.host}/robots.txt disallows this page"


def robots_url(page_url: str) -> str:
    """Where the rules for ``page_url`` are: ``/robots.txt`` of its scheme, host and port."""
    parts = urlsplit(page_url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


def host_of(page_url: str) -> str:
    """``scheme://host[:port]``: the unit robots.txt rules, limits and backoff apply to."""
    parts = urlsplit(page_url)
    return f"{parts.scheme}://{parts.netloc}".lower()
