"""Fetching feeds over HTTP: httpx, asynchronous, bounded, and never raising.

This module does I/O and reports what happened; it decides nothing. Every fetch is bounded
four ways: connect/read/write timeouts (httpx), a total deadline (a server that sends one
byte a second never trips httpx's timeouts), a size cap on the decoded body enforced as it is
decoded (``sources.inflate``: a compression bomb never expands in memory), and a concurrency
limit overall and per host (politeness towards shared hosts such as europa.eu). Redirects are
followed by hand so the chain, and whether it was permanent all the way, is known: the
scheduler learns moved feeds from it.

Whatever a server or a source list holds (an invalid URL or port, a redirect to
``javascript:``, absurd or garbled headers), :meth:`Fetcher.fetch` returns a failure for that
source and never raises: one hostile source must not stop a run.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import certifi
import httpcore
import httpx

from sources.http.inflate import BadEncoding, BoundedDecoder, TooLarge, codings
from sources.http.network import ANYWHERE, PUBLIC, RefusedAddress, check, network_of
from sources.settings import AggregateSettings

MAX_REDIRECTS = 10
MAX_URL = 8192  # characters; longer redirect targets are refused (httpx refuses 64 KiB)
MAX_VALIDATOR = 1024  # an ETag or Last-Modified longer than this is not kept
PERMANENT = frozenset({301, 308})
NO_BODY = frozenset({204, 304})  # answers that have no body, whatever their headers say
REDIRECTS = frozenset({301, 302, 303, 307, 308})
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/feed+json;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


@dataclass(frozen=True)
class FetchRequest:
    """What to fetch, with the validators from the last successful fetch."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    accept: str | None = None  # another Accept header than a feed's (an article page's)
    # The network besides the internet this request may reach (:mod:`sources.network`):
    # what the user typed goes anywhere, what a document links to only where it lives.
    reach: str = ANYWHERE


@dataclass(frozen=True)
class FetchResult:
    """What happened. ``error_kind`` is set when no HTTP response was completed."""

    url: str
    fetched_at: datetime
    status: int | None = None
    final_url: str | None = None
    permanent_url: str | None = None  # where an unbroken chain of 301/308 led, if anywhere
    redirects: tuple[tuple[int, str], ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    retry_after: str | None = None
    body: bytes | None = field(default=None, repr=False)
    error_kind: str | None = None  # timeout, deadline, dns, tls, connect, too_large,
    # protocol, redirects, url, refused (the network rule), error
    network: str | None = None  # where the first answer came from (sources.network)
    error: str | None = None
    elapsed: float = 0.0


class Fetcher:
    """One HTTP client and its limits, shared by every fetch of a run."""

    def __init__(self, settings: AggregateSettings) -> None:
        self.settings = settings
        self._global = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        # One client (connection pool) per host: httpcore looks at every connection of a
        # pool on each request it assigns, so one pool holding the connections to hundreds
        # of hosts costs CPU that grows with their square; per host it holds two. The TLS
        # context (the CA bundle, tens of milliseconds to load) is made once for all.
        self._clients: dict[tuple[str, str, str], httpx.AsyncClient] = {}
        self._tls = ssl.create_default_context(cafile=certifi.where())

    def _client(self, url: str, reach: str) -> httpx.AsyncClient:
        """The client that holds the connections to ``url``'s host for requests that may
        reach ``reach`` (made on first use): the network rule is its connection's."""
        parts = urlsplit(url)
        key = (parts.scheme.lower(), parts.netloc.lower(), reach)
        client = self._clients.get(key)
        if client is None:
            settings = self.settings
            client = self._clients[key] = httpx.AsyncClient(
                transport=_GuardedTransport(self._tls, settings.per_host, reach),
                timeout=httpx.Timeout(
                    connect=settings.connect_timeout,
                    read=settings.read_timeout,
                    write=settings.read_timeout,
                    pool=settings.deadline,
                ),
                headers={
                    "User-Agent": settings.user_agent,
                    "Accept": ACCEPT,
                    "Accept-Encoding": "gzip, deflate",
                },
                follow_redirects=False,
                event_hooks={"response": [_hide_location]},
                trust_env=False,  # no proxy or netrc from the environment: fetch what was asked
            )
        return client

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def _host_limit(self, url: str) -> asyncio.Semaphore:
        host = limited_host(url)
        if host not in self._hosts:
            self._hosts[host] = asyncio.Semaphore(self.settings.per_host)
        return self._hosts[host]

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch one feed within every limit; failures come back as a result, never raised."""
        # The host slot first: waiting for a busy host must not hold one of the global slots.
        async with self._host_limit(request.url), self._global:
            started = time.monotonic()
            fetched_at = datetime.now(UTC)
            try:
                async with asyncio.timeout(self.settings.deadline):
                    result = await self._fetch(request, fetched_at)
            except TimeoutError:
                result = _failure(
                    request,
                    fetched_at,
                    "deadline",
                    f"no complete response within {self.settings.deadline:g} s",
                )
            except httpx.TimeoutException as exc:
                result = _failure(
                    request, fetched_at, "timeout", f"timed out ({type(exc).__name__})"
                )
            except httpx.ConnectError as exc:
                result = _failure(request, fetched_at, *_connect_error(exc))
            except RefusedAddress as exc:
                result = _failure(request, fetched_at, "refused", str(exc))
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                result = _failure(request, fetched_at, "url", f"invalid URL: {_short(exc)}")
            except httpx.HTTPError as exc:
                result = _failure(request, fetched_at, "protocol", f"{type(exc).__name__}: {exc}")
            except (OSError, ssl.SSLError) as exc:
                result = _failure(request, fetched_at, "connect", str(exc) or type(exc).__name__)
            except Exception as exc:  # anything else a hostile server or URL provokes
                while isinstance(exc, ExceptionGroup) and exc.exceptions:
                    exc = exc.exceptions[0]  # anyio wraps what went wrong in a group
                result = _failure(
                    request, fetched_at, "error", f"{type(exc).__name__}: {_short(exc)}"
                )
            return _with_elapsed(result, time.monotonic() - started)

    async def _fetch(self, request: FetchRequest, fetched_at: datetime) -> FetchResult:
        url = request.url
        problem = _url_problem(url)
        if problem:
            return _failure(request, fetched_at, "url", f"invalid URL {_clip(url)!r} ({problem})")
        headers = {"Accept": request.accept} if request.accept else {}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        hops: list[tuple[int, str]] = []
        permanent_url: str | None = None
        still_permanent = True
        reach, network = request.reach, None
        for _ in range(MAX_REDIRECTS + 1):
            client = self._client(url, reach)
            try:
                response = await client.send(
                    client.build_request("GET", url, headers=headers), stream=True
                )
            except RefusedAddress as exc:
                if hops:  # say where the chain led, not only the address
                    raise RefusedAddress(f"redirected to {_clip(url)}: {exc}") from None
                raise
            try:
                if network is None:  # the first answer: where the URL asked for lives
                    network = _peer_network(response)
                    if reach == ANYWHERE:  # what it redirects to may reach its network only
                        reach = network or PUBLIC
                location = response.headers.get(_LOCATION)
                if response.status_code in REDIRECTS and location:
                    target, problem = _redirect_target(url, location)
                    if problem:
                        return _failure(request, fetched_at, "redirects", problem)
                    hops.append((response.status_code, target))
                    still_permanent = still_permanent and response.status_code in PERMANENT
                    if still_permanent:
                        permanent_url = target
                    url = target
                    continue
                body = await self._read_body(response) if response.status_code == 200 else None
                if response.status_code in NO_BODY and not _announces_body(response):
                    await _to_the_end(response)  # its end is read: the connection is kept
            except TooLarge:
                return _failure(
                    request,
                    fetched_at,
                    "too_large",
                    f"response larger than {self.settings.max_bytes} bytes",
                )
            except BadEncoding as exc:
                return _failure(request, fetched_at, "protocol", str(exc))
            finally:
                await response.aclose()
            return FetchResult(
                url=request.url,
                fetched_at=fetched_at,
                status=response.status_code,
                final_url=url,
                permanent_url=permanent_url,
                redirects=tuple(hops),
                etag=_validator(response.headers.get("ETag")),
                last_modified=_validator(response.headers.get("Last-Modified")),
                content_type=_header(response.headers.get("Content-Type")),
                retry_after=_header(response.headers.get("Retry-After")),
                body=body,
                network=network,
            )
        return _failure(request, fetched_at, "redirects", f"more than {MAX_REDIRECTS} redirects")

    async def _read_body(self, response: httpx.Response) -> bytes:
        """The decoded body; raises :class:`TooLarge` as soon as any stage of decoding passes
        the cap, :class:`BadEncoding` for a coding that is not gzip or deflate (or a chain of
        more than two). The raw stream is decoded here, not by httpx, which would inflate a
        whole chunk before the size could be checked."""
        limit = self.settings.max_bytes
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isascii() and declared.isdigit() and int(declared[:20]) > limit:
            raise TooLarge(declared[:40])  # said so up front (the raw size; decoded is larger)
        decoder = BoundedDecoder(codings(response.headers.get_list("Content-Encoding")), limit)
        async for chunk in response.aiter_raw():
            decoder.feed(chunk)
        decoder.finish()
        return decoder.body()


def limited_host(url: str) -> str:
    """The host whose ``[aggregate] per_host`` limit a fetch of ``url`` counts against."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # an invalid URL: fetching it fails at once, under any slot
        return ""


def _announces_body(response: httpx.Response) -> bool:
    """Whether a response that has no body by the protocol (304, 204) says it sends one
    anyway (a length, or chunks): a misconfigured server's. Its connection is not kept, as
    the bytes it then sends would be read as the answer to the host's next request."""
    length = response.headers.get("Content-Length", "0").strip()
    return "Transfer-Encoding" in response.headers or length not in ("", "0")


async def _to_the_end(response: httpx.Response) -> None:
    """Read a response without a body (304, 204) to its end. httpcore keeps a connection for
    the host's next request only once the response on it has been read to the end, and
    closes it otherwise: a run of 304s would open a connection (for HTTPS a TLS handshake)
    per source. Nothing is read from the network: the protocol says such a response ends
    with its headers."""
    async for _ in response.aiter_raw():
        pass


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Where every connection is made, the network rule is applied: the host is resolved
    once, every address it resolves to is checked (:func:`sources.network.check`), and the
    connection goes to those checked addresses, never to the name, so a name cannot resolve
    to a public address for the check and to a private one for the connection. TLS still
    names and verifies the host (httpcore starts TLS with the request's host name)."""

    def __init__(self, reach: str) -> None:
        self.reach = reach
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        host = host.removeprefix("[").removesuffix("]")
        try:
            async with asyncio.timeout(timeout):
                answers = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no address for {host} in time") from None
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"DNS lookup failed for {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(answer[4][0]) for answer in answers))
        check(host, addresses, self.reach)
        problem: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                problem = exc
        raise problem

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("communique connects over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over a connection pool whose connections are made by
    :class:`_GuardedBackend` (httpx offers no public way to choose the pool's backend)."""

    def __init__(self, tls: ssl.SSLContext, per_host: int, reach: str) -> None:
        super().__init__(verify=tls, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls,
            max_connections=per_host,
            max_keepalive_connections=per_host,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(reach),
        )


def _peer_network(response: httpx.Response) -> str | None:
    """The network of the address the response came from (None if it cannot be told)."""
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    return network_of(peer[0]) if peer else None


_LOCATION = "X-Communique-Location"


async def _hide_location(response: httpx.Response) -> None:
    """Move ``Location`` out of httpx's sight: httpx builds the next request from it even
    when not following redirects, and raises for a target it cannot parse (``javascript:``,
    port 99999), losing the response. Redirects are followed, and judged, here instead."""
    location = response.headers.get("Location")
    if location is not None:
        del response.headers["Location"]
        response.headers[_LOCATION] = location


def _redirect_target(url: str, location: str) -> tuple[str, str | None]:
    """Where a ``Location`` leads, and why it cannot be followed (None if it can)."""
    try:
        target = urljoin(url, location.strip())
    except ValueError as exc:
        return location, f"redirect to an invalid URL {_clip(location)!r} ({_short(exc)})"
    if urlsplit(target).scheme not in {"http", "https"}:
        return target, f"redirect to a non-HTTP URL {_clip(target)!r}"
    if len(target) > MAX_URL:
        return target, f"redirect to a URL of {len(target)} characters (at most {MAX_URL})"
    problem = _url_problem(target)
    if problem:
        return target, f"redirect to an invalid URL {_clip(target)!r} ({problem})"
    return target, None


def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be fetched (no host, a port out of range, …), or None."""
    try:
        parts = urlsplit(url)
        if not parts.hostname:
            return "no host"
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        return _short(exc)
    return None


def _validator(value: str | None) -> str | None:
    """An ETag or Last-Modified to send back next time, or None if it is not sendable: a
    garbled one would make every later request of the source fail."""
    if not value or len(value) > MAX_VALIDATOR or not _printable_ascii(value):
        return None
    return value


def _header(value: str | None) -> str | None:
    """A header value as the rest of communique sees it: bounded, printable ASCII only."""
    if value is None:
        return None
    value = value[:MAX_VALIDATOR]
    return value if _printable_ascii(value) else None


def _printable_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _clip(text: str, most: int = 200) -> str:
    return text if len(text) <= most else text[:most] + "…"


def _short(exc: BaseException) -> str:
    return _clip(str(exc) or type(exc).__name__)


def _failure(request: FetchRequest, fetched_at: datetime, kind: str, message: str) -> FetchResult:
    return FetchResult(url=request.url, fetched_at=fetched_at, error_kind=kind, error=message)


def _with_elapsed(result: FetchResult, elapsed: float) -> FetchResult:
    return replace(result, elapsed=elapsed)


def _connect_error(exc: httpx.ConnectError) -> tuple[str, str]:
    """Name the failure the way a user can act on it: DNS, TLS or the connection itself."""
    text = str(exc)
    lowered = text.lower()
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ssl.SSLError) or "ssl" in lowered or "certificate" in lowered:
        return "tls", f"TLS error: {text}"
    if "name or service not known" in lowered or "nodename" in lowered or "getaddrinfo" in lowered:
        return "dns", f"DNS lookup failed: {text}"
    return "connect", f"cannot connect: {text or type(exc).__name__}"
