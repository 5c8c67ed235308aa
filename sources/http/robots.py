"""Whether a site's ``robots.txt`` lets communique fetch a page. Pure.

Site owners notice readers that fetch pages their ``robots.txt`` disallows, and say so. So
before any article page is fetched, its host's ``robots.txt`` is read (once per host per day,
kept in the store) and obeyed for communique's product token. What the answer means follows
RFC 9309: a 2xx body is the rules; a 4xx (no file, or none for us) allows everything; a 5xx
or no answer at all disallows everything until it is read again, since the site may be down
or refusing us.

The rules are read as RFC 9309 says, not as :mod:`urllib.robotparser` reads them (it looks
for its agent *inside* each group's line, so ``User-Agent: Communique/2.0`` did not name
communique while ``User-agent: unique`` did, and it lets the first matching rule win):

* a group is ours when one of its ``User-agent`` lines is our product token, compared
  without case and without what follows a ``/`` (``Communique/2.0`` is ``communique``);
  every group that is ours counts, else every ``*`` group, else nothing is disallowed;
* of the rules of those groups whose path matches, the longest wins, ``Allow`` on a tie;
  ``*`` in a path matches any characters and a final ``$`` the end of the URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit, urlunsplit

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
        return allowed(rules_for(self.body[:MAX_ROBOTS_BYTES], agent), url)

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


@dataclass(frozen=True)
class Rule:
    """One ``Allow`` or ``Disallow`` line of a group that applies to us."""

    allow: bool
    path: str  # as written, percent-encoding normalised


def rules_for(body: str, agent: str = AGENT) -> tuple[Rule, ...]:
    """The rules of every group in ``body`` that names ``agent`` (else of every ``*``
    group): RFC 9309 combines the groups that match."""
    groups: list[tuple[set[str], list[Rule]]] = []
    in_agents = False  # the previous record was a user-agent line: a group's lines go on
    for line in body.removeprefix("\ufeff").splitlines():
        key, colon, value = line.split("#", 1)[0].partition(":")
        if not colon:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            if not in_agents:
                groups.append((set(), []))
            groups[-1][0].add(product_token(value))
            in_agents = True
        elif key in {"allow", "disallow"}:
            in_agents = False
            if groups and value:  # an empty Disallow disallows nothing
                groups[-1][1].append(Rule(key == "allow", _normalise(value)))
    token = product_token(agent)
    ours = [rules for agents, rules in groups if token in agents]
    if not ours:
        ours = [rules for agents, rules in groups if "*" in agents]
    return tuple(rule for rules in ours for rule in rules)


def product_token(user_agent: str) -> str:
    """``Communique/2.0 (+https://...)`` -> ``communique``: what a group line names."""
    return (
        user_agent.strip().split("/", 1)[0].split(None, 1)[0].lower() if user_agent.strip() else ""
    )


def allowed(rules: tuple[Rule, ...], url: str) -> bool:
    """Whether ``url`` may be fetched: the longest matching rule decides, Allow on a tie."""
    parts = urlsplit(url)
    target = _normalise((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    best: Rule | None = None
    for rule in rules:
        if _matches(rule.path, target) and (
            best is None
            or len(rule.path) > len(best.path)
            or (len(rule.path) == len(best.path) and rule.allow)
        ):
            best = rule
    return best is None or best.allow


def _matches(pattern: str, target: str) -> bool:
    """``pattern`` (``*`` any characters, a final ``$`` the end) matches the start of
    ``target``. Each piece between stars is taken at its first place after the last: for
    stars alone that is never wrong, and it never backtracks, so no pattern a site writes
    (``/*a*a*a*a*b``) can take a run's time."""
    anchored = pattern.endswith("$")
    first, *rest = (pattern[:-1] if anchored else pattern).split("*")
    if not target.startswith(first):
        return False
    position = len(first)
    if not rest:
        return not anchored or position == len(target)
    *middle, last = rest
    for piece in middle:
        found = target.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    if anchored:
        return len(target) - len(last) >= position and target.endswith(last)
    return target.find(last, position) >= 0


_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


def _normalise(path: str) -> str:
    """One spelling for comparing: characters outside printable ASCII percent-encoded as
    UTF-8, escapes in upper case (``/caf%c3%a9`` and ``/café`` are one path)."""
    encoded = quote(path, safe="".join(chr(c) for c in range(0x21, 0x7F)))
    return _ESCAPE.sub(lambda m: m.group(0).upper(), encoded)
