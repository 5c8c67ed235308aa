"""A small static server for the published output, correct where feed readers look.

Readers poll: they send ``If-None-Match`` / ``If-Modified-Since`` and expect ``304 Not
Modified`` when nothing changed, and they pick a parser by ``Content-Type``. The stdlib server
sends neither validators nor feed media types, so this handler adds them. It binds to
127.0.0.1 unless told otherwise: it is a preview and a test server, not a public web server.
"""

from __future__ import annotations

import hashlib
import ipaddress
import posixpath
import socket
import time
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from feeds.writer import FILENAMES, MEDIA_TYPES

FILE_MEDIA_TYPES = {
    ".xml": "application/xml",
    ".atom": "application/atom+xml; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
}
FEED_MEDIA_TYPES = {FILENAMES[kind]: f"{MEDIA_TYPES[kind]}; charset=utf-8" for kind in FILENAMES}


def media_type(path: Path) -> str:
    """The Content-Type for a file; feeds get their registered feed types."""
    return FEED_MEDIA_TYPES.get(path.name) or FILE_MEDIA_TYPES.get(
        path.suffix.lower(), "application/octet-stream"
    )


def etag_of(data: bytes) -> str:
    """A strong validator from the bytes themselves, so a republish of the same bytes keeps it."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def not_modified(headers: dict[str, str], etag: str, mtime: float, now: float) -> bool:
    """RFC 9110: If-None-Match wins when present; otherwise If-Modified-Since by whole seconds.

    An If-Modified-Since later than ``now`` is invalid and ignored (RFC 9110 section 13.1.3):
    a client with a fast clock would otherwise get 304 for a file changed since.
    """
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        candidates = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in candidates or etag in candidates
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        return int(mtime) <= since <= now
    return False


class _Handler(BaseHTTPRequestHandler):
    root: Path
    prefix: str = "/"  # the path of the site's base_url: pages link to /blog/style.css
    server_version = "communique"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        if getattr(self.server, "verbose", True):
            super().log_message(format, *args)

    def _resolve(self) -> tuple[Path | None, str | None]:
        """(file to send, or a path to redirect to); None, None for 404."""
        raw_path = unquote(urlsplit(self.path).path)
        if self.prefix != "/" and raw_path in ("/", "", self.prefix.rstrip("/")):
            return None, quote(self.prefix)
        if not raw_path.startswith(self.prefix) or "\x00" in raw_path:
            return None, None
        clean = posixpath.normpath("/" + raw_path[len(self.prefix) :])
        parts = [p for p in clean.split("/") if p and p not in (".", "..")]
        if any(part.startswith(".") for part in parts):
            return None, None
        target = self.root.joinpath(*parts)
        try:
            target.resolve().relative_to(self.root.resolve())
            if target.is_dir():
                if not raw_path.endswith("/"):
                    return None, quote(raw_path + "/")
                target = target / "index.html"
            elif raw_path.endswith("/"):  # /style.css/ names a folder, and there is none
                return None, None
            return (target if target.is_file() else None), None
        except (ValueError, OSError):  # outside the root, or a name the file system refuses
            return None, None

    def _respond(self, *, send_body: bool) -> None:
        target, redirect = self._resolve()
        if redirect is not None:
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if target is None:
            body = b"Not found\n"
            self.send_response(HTTPStatus.NOT_FOUND)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)
            return
        data = target.read_bytes()
        mtime = target.stat().st_mtime
        etag = etag_of(data)
        headers = {key.lower(): value for key, value in self.headers.items()}
        fresh = not_modified(headers, etag, mtime, time.time())
        status = HTTPStatus.NOT_MODIFIED if fresh else HTTPStatus.OK
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(mtime, usegmt=True))
        self.send_header("Cache-Control", "no-cache")
        if status == HTTPStatus.NOT_MODIFIED:
            self.end_headers()
            return
        self.send_header("Content-Type", media_type(target))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if send_body:
            self.wfile.write(data)


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def is_ipv6(host: str) -> bool:
    """Whether ``host`` is an IPv6 address literal (``::1``, ``[::1]``), not a name."""
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).version == 6
    except ValueError:
        return False


def url_host(host: str) -> str:
    """``host`` as a URL writes it: IPv6 literals in brackets."""
    return f"[{host}]" if is_ipv6(host) else host


def make_server(
    directory: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    prefix: str = "/",
    verbose: bool = True,
) -> ThreadingHTTPServer:
    """A server for ``directory`` at URL path ``prefix``, bound but not yet serving.

    ``port=0`` picks a free port; an IPv6 ``host`` (``::1``) gets an IPv6 socket. ``prefix`` is the path of the site's ``base_url``
    (``/blog/`` for https://example.org/blog/), so the pages' site-relative links resolve.
    """
    prefix = unquote(prefix)  # compared with decoded request paths
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    handler = type("Handler", (_Handler,), {"root": Path(directory).resolve(), "prefix": prefix})
    host = host.removeprefix("[").removesuffix("]")  # [::1] as in URLs
    server_class = _IPv6Server if is_ipv6(host) else ThreadingHTTPServer
    server = server_class((host, port), handler)
    server.daemon_threads = True
    server.verbose = verbose  # type: ignore[attr-defined]
    return server
