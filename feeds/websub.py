"""WebSub (W3C Recommendation): telling hubs which feeds changed, so subscribers hear at once.

Every feed names the hubs of ``[publish] hubs`` (``rel="hub"``, written by ``writer.py``).
After a publish, each hub gets ``hub.mode=publish&hub.url=<feed URL>`` for every feed whose
bytes changed; the hub then fetches the feed and pushes it to its subscribers. WebSub leaves
how a publisher notifies its hub to the hub; this form POST is PubSubHubbub 0.4's publish
notification, which public hubs accept.

A hub that cannot be reached must not fail a publish that worked, nor be forgotten: the
(hub, feed) pairs that failed are kept in a small state file beside the config and sent again
on the next publish, changed or not. The decisions (what changed, what is due) are pure
functions; :func:`send_pings` and the state file are the thin shell.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import certifi
import httpx

from feeds.errors import InputError
from feeds.output import write_atomically

PING_DEADLINE = 10.0  # seconds for one ping, connection to answer: a hanging hub cannot stall
CONNECT_TIMEOUT = 5.0
PENDING_FILE = Path(".communique") / "pending-pings.json"  # beside communique.toml
_PENDING_VERSION = 1


@dataclass(frozen=True, order=True)
class Ping:
    """One notification: tell ``hub`` that the feed at ``url`` changed."""

    hub: str
    url: str


@dataclass(frozen=True)
class HubProblem:
    """Why some pings to one hub failed; ``failed`` of ``attempted`` feeds were not accepted."""

    hub: str
    reason: str
    failed: int
    attempted: int


@dataclass(frozen=True)
class PingReport:
    """What :func:`send_pings` did: pings the hubs accepted, those to send again, and why."""

    accepted: tuple[Ping, ...]
    failed: tuple[Ping, ...]
    problems: tuple[HubProblem, ...]

    @property
    def hubs(self) -> int:
        """Hubs that accepted at least one ping."""
        return len({p.hub for p in self.accepted})

    @property
    def feeds(self) -> int:
        """Feeds at least one hub accepted a ping for."""
        return len({p.url for p in self.accepted})


# --- decisions ---------------------------------------------------------------------------


def changed_feeds(
    feeds: Mapping[str, str],
    new: Mapping[str, bytes | Path],
    old: Mapping[str, bytes | None],
) -> tuple[str, ...]:
    """The URLs of the feeds whose bytes differ from the previous output (or that are new).

    ``feeds`` maps output paths to public URLs, ``new`` is the build, ``old`` the bytes the
    previous publish left at each path (``None``: there was none). Feeds are written without
    the build time, so an unchanged site gives unchanged bytes and no ping.
    """
    changed = []
    for name, url in feeds.items():
        data = new[name]
        current = data.read_bytes() if isinstance(data, Path) else data
        if old.get(name) != current:
            changed.append(url)
    return tuple(sorted(changed))


def pings_due(
    hubs: Sequence[str],
    changed: Iterable[str],
    pending: Iterable[Ping],
    published: Iterable[str],
) -> tuple[Ping, ...]:
    """Every hub about every changed feed, plus the pings that failed last time.

    A pending ping is dropped when its hub is no longer configured or its feed no longer
    published (a removed tag): nobody can be told about it any more.
    """
    live = set(published)
    due = {Ping(hub, url) for hub in hubs for url in changed}
    due |= {p for p in pending if p.hub in hubs and p.url in live}
    return tuple(sorted(due))


def pending_path(config_path: Path) -> Path:
    """Where the pings still to send are kept: beside the config, never in the output folder
    (which every publish replaces whole)."""
    return config_path.resolve().parent / PENDING_FILE


# --- the shell: the state file and the network -------------------------------------------


@dataclass(frozen=True)
class Pending:
    """The pings a previous publish could not deliver; ``set_aside`` is where a damaged file
    was moved (its pings are then not resent), with ``problem`` saying what was wrong."""

    pings: tuple[Ping, ...] = ()
    set_aside: Path | None = None
    problem: str = ""


def parse_pending(text: str) -> tuple[Ping, ...]:
    """The pings a pending file holds; ValueError when it is not one communique wrote."""
    try:
        data = json.loads(text)
        if data.get("version") != _PENDING_VERSION:
            raise ValueError("unknown version")
        return tuple(Ping(str(p["hub"]), str(p["url"])) for p in data["pending"])
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ValueError("not a list of pending hub pings") from None


def read_pending(path: Path) -> Pending:
    """The pings a previous publish could not deliver; none if the file does not exist.

    A damaged file (a crash, a full disk, a hand edit) must not stop every publish after it,
    or ``run`` from cron would never publish again: it is renamed
    ``pending-pings.json.corrupt-N`` (nothing is lost; the caller warns) and the publish goes
    on without its pings. A file that cannot be read at all (permissions) is an error.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Pending()
    except OSError as exc:
        raise InputError(path, None, f"cannot read pending hub pings ({exc.strerror})") from None
    try:
        return Pending(parse_pending(data.decode("utf-8")))
    except UnicodeDecodeError:
        problem = "not UTF-8 text"
    except ValueError as exc:
        problem = str(exc)
    return Pending((), set_aside(path), problem)


def set_aside(path: Path) -> Path:
    """Rename ``path`` to the first free ``<name>.corrupt-N``, never over an earlier one."""
    number = 1
    while (target := path.with_name(f"{path.name}.corrupt-{number}")).exists():
        number += 1
    os.replace(path, target)
    return target


def write_pending(path: Path, pings: Sequence[Ping]) -> None:
    """Keep ``pings`` for the next publish (atomically); no pings, no file."""
    if not pings:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "version": _PENDING_VERSION,
        "pending": [{"hub": p.hub, "url": p.url} for p in sorted(set(pings))],
    }
    write_atomically(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))


def send_pings(pings: Sequence[Ping]) -> PingReport:
    """POST each ping to its hub; every hub at once, each hub's feeds one after another.

    Never raises for a hub's failure: a non-2xx answer fails that ping; a timeout or a
    connection error fails it and the hub's remaining pings too (they would wait as long).
    """
    by_hub: dict[str, list[str]] = {}
    for ping in sorted(set(pings)):
        by_hub.setdefault(ping.hub, []).append(ping.url)
    if not by_hub:
        return PingReport((), (), ())
    return asyncio.run(_send_all(by_hub))


def _user_agent() -> str:
    try:
        release = version("communique")
    except PackageNotFoundError:  # running from a source tree
        release = "0"
    return f"communique/{release} (WebSub publisher)"


async def _send_all(by_hub: dict[str, list[str]]) -> PingReport:
    tls = ssl.create_default_context(cafile=certifi.where())
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(PING_DEADLINE, connect=CONNECT_TIMEOUT),
        headers={"User-Agent": _user_agent()},
        verify=tls,
        follow_redirects=False,  # a moved hub is a setting to fix, said in the warning
        trust_env=False,  # no proxy or netrc from the environment
    ) as client:
        results = await asyncio.gather(
            *(_send_to_hub(client, hub, urls) for hub, urls in by_hub.items())
        )
    accepted: list[Ping] = []
    failed: list[Ping] = []
    problems: list[HubProblem] = []
    for hub, ok, bad, reason in results:
        accepted += (Ping(hub, url) for url in ok)
        failed += (Ping(hub, url) for url in bad)
        if bad:
            said = " ".join((reason or "failed").split())  # one warning line, whatever it holds
            problems.append(HubProblem(hub, said, len(bad), len(ok) + len(bad)))
    return PingReport(tuple(accepted), tuple(failed), tuple(problems))


async def _send_to_hub(
    client: httpx.AsyncClient, hub: str, urls: list[str]
) -> tuple[str, list[str], list[str], str | None]:
    """``(hub, accepted urls, failed urls, the first failure's reason)``."""
    ok: list[str] = []
    bad: list[str] = []
    reason: str | None = None
    for index, url in enumerate(urls):
        problem, fatal = await _ping(client, hub, url)
        if problem is None:
            ok.append(url)
            continue
        bad.append(url)
        reason = reason or problem
        if fatal:  # unreachable: the rest would only wait as long
            bad += urls[index + 1 :]
            break
    return hub, ok, bad, reason


async def _ping(client: httpx.AsyncClient, hub: str, url: str) -> tuple[str | None, bool]:
    """``(problem or None, whether the hub is unreachable)`` for one POST."""
    try:
        async with asyncio.timeout(PING_DEADLINE):
            # streamed and closed unread: a hub's answer body is never needed
            async with client.stream(
                "POST", hub, data={"hub.mode": "publish", "hub.url": url}
            ) as response:
                status = response.status_code
    except (TimeoutError, httpx.TimeoutException):
        return f"no answer within {PING_DEADLINE:g} s", True
    except httpx.ConnectError as exc:
        return f"cannot connect ({exc or type(exc).__name__})", True
    except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
        return f"{type(exc).__name__}: {exc}", True
    if 200 <= status < 300:
        return None, False
    moved = response.headers.get("Location") if 300 <= status < 400 else None
    hint = f" (moved to {moved[:200]}; update [publish] hubs)" if moved else ""
    return f"HTTP {status}{hint}", False
