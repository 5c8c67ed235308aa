"""A feed's address: which URLs communique will fetch, and the one spelling it subscribes under.

A source list is read on every run, so one unusable URL in it (a port above 65535, a host
``[::1`` that does not parse, ``javascript:``) must be caught where it is written, with the
line it is on, not crash the fetcher later. And the same feed written three ways
(``HTTP://Host/feed``, ``http://host:80/feed#top``) is one subscription, so URLs are put into
one form on the way in: lower-case scheme and host, IDNA host, no default port, no fragment,
``/`` for an empty path, no ``.``/``..`` segments. Otherwise path and query are kept exactly
(servers may treat their case as significant). Credentials (``user:password@``) are
refused, in a source list already written too: a source list is a plain file that is
exported and shared, no place for a password. Pure.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

import idna

MAX_URL_LENGTH = 2048  # characters; longer is not an address anyone typed
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\xa0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]")


_CREDENTIALS = re.compile(r"^([^:/?#]*://)[^/?#]*@")


class BadFeedUrl(ValueError):
    """Not a URL communique can fetch; the message says what is wrong with it."""


def normalise_feed_url(url: str) -> str:
    """The canonical spelling of a feed URL a user gives; raises :class:`BadFeedUrl`.

    ``HTTP://Example.ORG:80/feed.xml#latest`` -> ``http://example.org/feed.xml``.
    """
    scheme, host, port, path, query, userinfo = _parts(url)
    if userinfo:
        raise BadFeedUrl(
            f"{_shown(url)} contains a user name or password; communique does not keep "
            "credentials in the source list (use a feed URL that needs none)"
        )
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, _without_dot_segments(path) or "/", query, ""))


def check_feed_url(url: str) -> None:
    """Raise :class:`BadFeedUrl` unless communique can fetch ``url`` as it is written.

    For URLs already in a source list: they are fetched as written (the database knows each
    source by that spelling). Credentials are checked apart (:func:`has_credentials`).
    """
    _parts(url)


def has_credentials(url: str) -> bool:
    """True if ``url`` carries a user name or password (``http://user:pw@host/``)."""
    return bool(_CREDENTIALS.match(url.strip()))


def _without_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4: ``/a/../ok.xml`` and ``/./ok.xml`` are ``/ok.xml``, as servers read them."""
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    kept: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    trailing = segments[-1] in {".", ".."} and kept
    return "/" + "/".join(kept) + ("/" if trailing else "")


def _parts(url: str) -> tuple[str, str, int | None, str, str, str]:
    """``(scheme, host, port, path, query, userinfo)`` of a valid http(s) URL, host normalised."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise BadFeedUrl(f"{_shown(url)} is longer than {MAX_URL_LENGTH:,} characters")
    if _UNSAFE.search(url):
        raise BadFeedUrl(f"{_shown(url)} contains spaces or control characters; encode them")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        message = str(exc)
        if "Port" in message or "port" in message:
            raise BadFeedUrl(f"{_shown(url)} has an invalid port (1 to 65535)") from None
        raise BadFeedUrl(f"{_shown(url)} is not a valid URL ({message})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc or not parts.hostname:
        raise BadFeedUrl(f"{_shown(url)} is not an absolute http(s) URL")
    if port == 0:
        raise BadFeedUrl(f"{_shown(url)} has an invalid port (1 to 65535)")
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    return scheme, _host(parts.hostname, url), port, parts.path, parts.query, userinfo


def _host(hostname: str, url: str) -> str:
    """The host in the form it is compared and fetched: lower case, IDNA, IPv6 in brackets."""
    if ":" in hostname:  # urlsplit only lets colons through inside brackets: an IPv6 literal
        try:
            return f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError:
            raise BadFeedUrl(f"{_shown(url)} has an invalid IPv6 address") from None
    host = hostname.lower().removesuffix(".")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise BadFeedUrl(f"{_shown(url)} has an invalid host name ({exc})") from None
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        raise BadFeedUrl(f"{_shown(url)} has an invalid host name")
    return host


def _shown(url: str) -> str:
    """The URL quoted for a message: credentials hidden, control characters escaped, cut short."""
    text = repr(_CREDENTIALS.sub(r"\1***@", url))
    return text if len(text) <= 120 else f"{text[:100]}…{text[-10:]}"
