"""A real HTTP server on loopback whose behaviour each test scripts, and which records requests.

Tests of the aggregator talk to this server over real sockets (never to a mock of our own
HTTP code): a route maps a path to a :class:`Route` that says what to answer, and every
request is logged with its headers so tests can assert what communique sent.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "feeds"


@dataclass
class Route:
    """What one path answers. ``status`` may be changed between runs by the test."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: bool = True  # send an ETag and honour If-None-Match
    last_modified: bool = True  # send Last-Modified and honour If-Modified-Since
    location: str | None = None  # for redirects
    headers: dict[str, str] = field(default_factory=dict)
    gzip: bool = False
    drip: float = 0.0  # seconds between bytes: a server that never trips read timeouts
    delay: float = 0.0  # seconds before answering
    mtime: float = 1_700_000_000.0
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None  # full control


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]


class FeedServer:
    """``with FeedServer() as server: server.route("/a.xml", Route(...)); server.url("/a.xml")``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with outer._lock:
                    outer.seen.append(
                        Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()})
                    )
                    route = outer.routes.get(self.path)
                if route is None:
                    self._send(404, b"not found", "text/plain", {})
                elif route.handler is not None:
                    route.handler(self)
                else:
                    outer._answer(self, route)

            def _send(
                self, status: int, body: bytes, content_type: str, headers: dict[str, str]
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = (_ThreadingHTTPServer6 if ":" in host else _Server)((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host = f"[{host}]" if ":" in host else host
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, route: Route) -> Route:
        self.routes[path] = route
        return route

    def fixture(self, path: str, name: str, **options: object) -> Route:
        """Serve one of ``shared/fixtures/feeds`` at ``path``."""
        return self.route(path, Route(body=(FIXTURES / name).read_bytes(), **options))  # type: ignore[arg-type]

    def requests_for(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def _answer(self, handler: BaseHTTPRequestHandler, route: Route) -> None:
        if route.delay:
            time.sleep(route.delay)
        headers = dict(route.headers)
        if route.location:
            headers["Location"] = route.location
        if route.status != 200:
            body = (
                b""
                if route.status in (301, 302, 303, 304, 307, 308)
                else f"status {route.status}".encode()
            )
            handler._send(route.status, body, "text/plain", headers)  # type: ignore[attr-defined]
            return
        etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
        modified = formatdate(route.mtime, usegmt=True)
        if route.etag:
            headers["ETag"] = etag
        if route.last_modified:
            headers["Last-Modified"] = modified
        request = {k.lower(): v for k, v in handler.headers.items()}
        if (route.etag and request.get("if-none-match") == etag) or (
            route.last_modified and not route.etag and request.get("if-modified-since") == modified
        ):
            handler.send_response(304)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        body = route.body
        if route.gzip and "gzip" in request.get("accept-encoding", ""):
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        if route.drip:
            handler.send_response(200)
            handler.send_header("Content-Type", route.content_type)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            try:
                for byte in body:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(route.drip)
            except OSError:
                pass  # the client gave up, as it should
            return
        handler._send(200, body, route.content_type, headers)  # type: ignore[attr-defined]


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that lets a client hang up: a reader that has what it needs
    (a 404's status, a body over its cap) may close the connection while the answer is
    being written, and the traceback socketserver prints then would land in the output of
    the command under test."""

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _ThreadingHTTPServer6(_Server):
    """The same server on an IPv6 address."""

    address_family = socket.AF_INET6


def rss(
    items: list[dict[str, str]], title: str = "Test feed", link: str = "https://news.example/"
) -> bytes:
    """A small RSS 2.0 document; each item dict may have title, link, guid, description, pubDate."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{title}</title><link>{link}</link><description>test</description>",
    ]
    for item in items:
        parts.append("<item>")
        for key in ("title", "link", "guid", "description", "pubDate"):
            if key in item:
                value = item[key]
                if key == "description":
                    value = f"<![CDATA[{value}]]>"
                parts.append(f"<{key}>{value}</{key}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()
