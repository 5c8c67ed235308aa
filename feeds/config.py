"""``communique.toml`` -> frozen :class:`Config` records, validated with ``path:line`` errors.

Every setting has a default (see README), so a directory of articles publishes with no config
at all. Values are checked here, once, so the rest of the code can trust them: ``base_url`` is
absolute http(s), ``language`` is a BCP 47 tag, ``timezone`` is a real IANA zone.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import idna

from feeds.errors import InputError, decode_utf8, line_of_key, toml_error
from feeds.kept import kept_inside_output, kept_paths, output_overlap
from feeds.text import clean_text, looks_like_html

DEFAULT_CONFIG_NAME = "communique.toml"

# RFC 5646 well-formedness (language[-script][-region][-variant...][-extension...][-x-private]).
LANGUAGE_TAG = re.compile(
    r"^(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3})"  # ISO 639 codes only: feeds' validators refuse others
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|\d{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-x(?:-[A-Za-z0-9]{1,8})+)?$"
)
EMAIL_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


@dataclass(frozen=True)
class Person:
    """An author: Atom needs a name; RSS needs an email (else ``dc:creator`` carries the name)."""

    name: str
    email: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class Site:
    """What the feeds say about the site as a whole."""

    title: str = "communique"
    subtitle: str = ""
    base_url: str = "http://127.0.0.1:8000/"
    author: Person = field(default_factory=lambda: Person("communique"))
    language: str = "en"
    timezone: str = "UTC"
    rights: str = ""
    icon: str = ""
    id: str = ""
    id_host: str = ""
    favicon: str = ""  # the pages' <link rel="icon">, an absolute URL; "" means none

    @property
    def tz(self) -> ZoneInfo:
        """The site timezone: dates written without an offset are read in it."""
        return ZoneInfo(self.timezone)

    @property
    def host(self) -> str:
        """The host in new ``tag:`` ids: the configured site's, never a preview's ``--base-url``."""
        return self.id_host or urlsplit(self.base_url).hostname or "localhost"


@dataclass(frozen=True)
class PublishSettings:
    """Where articles are read from and feeds are written to."""

    articles_dir: Path = Path("articles")
    output_dir: Path = Path("public")
    static_dir: Path = Path("static")
    entries_per_feed: int = 20
    default_time: time = time(0, 0)
    articles_configured: bool = False  # set in the file: a missing folder is then an error
    hubs: tuple[str, ...] = ()  # WebSub hubs: named in every feed, pinged when a feed changes


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``path`` is the file it came from (or where it would be)."""

    site: Site = field(default_factory=Site)
    publish: PublishSettings = field(default_factory=PublishSettings)
    path: Path = Path(DEFAULT_CONFIG_NAME)


_SITE_KEYS = {
    "title",
    "subtitle",
    "base_url",
    "author",
    "language",
    "timezone",
    "rights",
    "icon",
    "id",
    "favicon",
}
_PUBLISH_KEYS = {"articles", "output", "static", "entries", "default_time", "hubs"}
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`\[\]]+$")
# RFC 4151 as strict validators read it: a lower-case DNS name (or an email), a date, and
# a specific part of URI characters.
_TAG_URI = re.compile(
    r"^tag:(?:[a-z0-9.-]+|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9.-]+),\d{4}(?:-\d{2}(?:-\d{2})?)?:"
    r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$"
)
_UUID_URN = re.compile(
    r"^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def is_uri(value: str) -> bool:
    """An absolute URI that feed validators accept as an id or link.

    ``tag:`` URIs follow RFC 4151, ``urn:uuid:`` a real UUID, http(s) URIs need a host.
    """
    lowered = value.lower()
    if lowered.startswith("tag:"):
        return bool(_TAG_URI.match(value))
    if lowered.startswith("urn:uuid:"):
        return bool(_UUID_URN.match(value))
    if lowered.startswith(("http:", "https:")) and not urlsplit(value).hostname:
        return False
    return bool(_URI.match(value))


def person(value: Any) -> Person:
    """A :class:`Person` from a name or ``{name, email, uri}``; ValueError says what is wrong.

    Shared by the site author and article authors so both are held to the same rules: a name,
    a real-looking email, and a ``uri`` that is absolute http(s) or mailto (a ``javascript:``
    or relative uri would reach readers verbatim).
    """
    if isinstance(value, str):
        value = {"name": value}
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("name"), str)
        or not value["name"].strip()
    ):
        raise ValueError('needs a name: name, or { name = "…", email = "…", uri = "…" }')
    unknown = set(value) - {"name", "email", "uri"}
    if unknown:
        raise ValueError(f"has unknown field(s) {sorted(unknown)}; use name, email, uri")
    email = value.get("email") or None
    if email is not None and (not isinstance(email, str) or not EMAIL_ADDRESS.match(email)):
        raise ValueError(f"email {email!r} is not an email address")
    uri = value.get("uri") or None
    if uri is not None and (
        not isinstance(uri, str)
        or not is_uri(uri)
        or urlsplit(uri).scheme not in {"http", "https", "mailto"}
    ):
        raise ValueError(f"uri {uri!r} must be an absolute http(s) or mailto URL")
    name = " ".join(clean_text(value["name"]).split())
    if looks_like_html(name):
        raise ValueError(f"name {name!r} contains HTML tags or entities; names are plain text")
    return Person(name, email, uri)


def normalise_base_url(url: str) -> str:
    """``url`` checked and in canonical form, ending in ``/``; ValueError says what is wrong.

    Absolute http(s) with a valid host; no query, fragment or password. The host is written
    the way ``tag:`` ids and feed validators need it: lower case, IDNA 2008 (punycode) for
    international names, no trailing dot, IPv6 in brackets; no default port; the path
    percent-encoded.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise ValueError(
            f"base_url {url!r} must be an absolute http(s) URL such as https://example.org/"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"base_url {url!r} must not have a query, fragment or user name")
    scheme = parts.scheme.lower()
    host = canonical_host(parts.hostname, url)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"base_url {url!r} has an invalid port") from None
    netloc = host if port in (None, {"http": 80, "https": 443}[scheme]) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe="/-._~!$&'()*+,;=:@")
    return f"{scheme}://{netloc}{path if path.endswith('/') else path + '/'}"


def canonical_host(host: str, url: str) -> str:
    """A host name as URLs and ``tag:`` ids must carry it (see :func:`normalise_base_url`)."""
    host = host.rstrip(".").lower()
    try:
        return f"[{ipaddress.IPv6Address(host)}]"
    except ValueError:
        pass
    if _IPV4.match(host):
        return str(ipaddress.IPv4Address(host))
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"base_url {url!r} has an invalid host name ({exc})") from None
    if not all(_LABEL.match(label) for label in ascii_host.split(".")):
        raise ValueError(
            f"base_url {url!r} has an invalid host name; use letters, digits and hyphens"
        )
    return ascii_host


# Tables later parts of communique read; accepted here so one file configures everything.
_OTHER_TABLES = {"aggregate", "digest", "mail", "topics", "relevance"}
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class ConfigFile:
    """``communique.toml`` as read: its path, its tables and its text.

    Read once per command and handed to every loader, so each table's errors name the line
    they are on (``path:line: what is wrong``) through one helper, :meth:`error`.
    """

    path: Path
    data: dict[str, Any]
    text: str

    @property
    def root(self) -> Path:
        """The folder relative paths in the file are resolved against."""
        return self.path.resolve().parent

    def error(self, section: str | None, key: str | None, message: str) -> InputError:
        """The one-line error for ``[section] key``, at its line when it can be found."""
        line = line_of_key(self.text, key, section=section) if key else None
        return InputError(self.path, line, message)

    def table(self, section: str, known: Collection[str]) -> dict[str, Any]:
        """``[section]`` (empty if absent); a key not in ``known`` is refused with its line."""
        values: dict[str, Any] = self.data.get(section, {})
        for key in values:
            if key not in known:
                known_keys = ", ".join(sorted(known))
                raise self.error(
                    section, key, f"unknown setting [{section}] {key}; known: {known_keys}"
                )
        return values


def read_config_file(path: Path | None) -> ConfigFile:
    """The config file, parsed; ``None`` means ``./communique.toml``.

    A missing default file is an empty config (every setting has a default); a missing file
    named with ``--config`` is an error. Shared by every part of communique that has settings.
    """
    explicit = path is not None
    path = Path(path) if explicit else Path(DEFAULT_CONFIG_NAME)
    if not path.exists():
        if explicit:
            raise InputError(path, None, "config file not found; check the --config path")
        return ConfigFile(path, {}, "")
    text = _read_text(path)
    try:
        return ConfigFile(path, tomllib.loads(text), text)
    except tomllib.TOMLDecodeError as exc:
        line, message = toml_error(exc)
        raise InputError(path, line, f"invalid TOML ({message}); fix the syntax") from None


def load_config(path: Path | None, *, base_url: str | None = None) -> Config:
    """Read and validate a config file; ``None`` means ``./communique.toml`` if it exists.

    Relative paths in the file are resolved against the file's directory, so
    ``communique --config site/communique.toml publish`` works from anywhere. ``base_url``
    overrides the file's value (a local preview publishes for ``http://127.0.0.1:PORT/``).
    """
    return config_from(read_config_file(path), base_url=base_url)


def _read_text(path: Path) -> str:
    try:
        return decode_utf8(path.read_bytes(), path).removeprefix("\ufeff")
    except OSError as exc:
        raise InputError(path, None, f"cannot read ({exc.strerror})") from None


def config_from(file: ConfigFile, *, base_url: str | None = None) -> Config:
    """``[site]`` and ``[publish]`` of a file already read, validated (see :func:`load_config`)."""
    data, path, root, fail = file.data, file.path, file.root, file.error
    for table, value in data.items():
        if table not in {"site", "publish"} | _OTHER_TABLES or not isinstance(value, dict):
            raise fail(
                None, table, f"unknown setting {table!r}; use the tables [site] and [publish]"
            )
    site_data = file.table("site", _SITE_KEYS)
    file.table("publish", _PUBLISH_KEYS)

    def text_value(key: str, default: str) -> str:
        value = site_data.get(key, default)
        if not isinstance(value, str):
            raise fail("site", key, f"[site] {key} must be a string in quotes")
        return clean_text(value).strip()

    defaults = Site()
    try:
        configured = normalise_base_url(text_value("base_url", defaults.base_url))
    except ValueError as exc:
        raise fail("site", "base_url", str(exc)) from None
    url = configured if base_url is None else normalise_base_url(base_url)  # ValueError if bad

    language = text_value("language", defaults.language)
    if not LANGUAGE_TAG.match(language):
        raise fail(
            "site", "language", f"language {language!r} is not a BCP 47 tag; write e.g. en or en-GB"
        )
    zone = text_value("timezone", defaults.timezone)
    try:
        # a named zone, never "localtime": the same file must build the same feed everywhere
        if zone == "localtime" or (zone not in available_timezones() and zone != "UTC"):
            raise ZoneInfoNotFoundError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail(
            "site",
            "timezone",
            f"unknown timezone {zone!r}; use an IANA name such as Europe/Brussels",
        ) from None

    title = text_value("title", defaults.title)
    if not title:
        raise fail("site", "title", "[site] title must not be empty")
    for key in ("title", "subtitle", "rights"):
        if looks_like_html(text_value(key, "")):
            raise fail(
                "site", key, f"[site] {key} contains HTML tags or entities; write plain text"
            )
    icon = quote(text_value("icon", ""), safe="/-._~!$&'()*+,;=:@%?#")
    if icon and urlsplit(urljoin(url, icon)).scheme not in {"http", "https"}:
        raise fail("site", "icon", f"icon {icon!r} must be a path under base_url or an http(s) URL")
    feed_id = text_value("id", "")
    if feed_id and not is_uri(feed_id):
        raise fail(
            "site",
            "id",
            f"id {feed_id!r} must be an absolute URI such as tag:example.org,2025:feed",
        )
    try:
        author = person(site_data["author"]) if "author" in site_data else Person(title)
    except ValueError as exc:
        raise fail("site", "author", f"[site] author {exc}") from None
    publish = _publish(data, root, fail)
    try:
        favicon = _favicon(text_value("favicon", ""), publish.static_dir)
    except ValueError as exc:
        raise fail("site", "favicon", str(exc)) from None
    site = Site(
        title=title,
        subtitle=text_value("subtitle", ""),
        base_url=url,
        author=author,
        language=language,
        timezone=zone,
        rights=text_value("rights", ""),
        icon=urljoin(url, icon) if icon else "",
        id=feed_id,
        # ids written during a --base-url preview must be the real site's, not the preview's
        id_host=urlsplit(configured).hostname or "",
        favicon=urljoin(url, favicon) if favicon else "",
    )
    return Config(site=site, publish=publish, path=path)


DEFAULT_FAVICON = "favicon.ico"


def _favicon(value: str, static_dir: Path) -> str:
    """``[site] favicon`` as a URL relative to ``base_url``, or absolute; "" for none.

    A path names a file in the static folder, which is published at the site root, so the
    path is also its URL; a missing file would be the very 404 the setting is there to end,
    so it is an error here. Unset, ``favicon.ico`` in the static folder is used if there is
    one (browsers fetch it anyway; an empty icon would hide it) and it is published (not a
    symlink leading out of the static folder), else none. ValueError says what is wrong.
    """
    if not value:
        default = static_dir / DEFAULT_FAVICON
        published = default.is_file() and default.resolve().is_relative_to(static_dir.resolve())
        return DEFAULT_FAVICON if published else ""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        if (
            parts.scheme.lower() not in {"http", "https"}
            or not parts.hostname
            or _NOT_IN_URL.search(value)
        ):
            raise ValueError(
                f"[site] favicon {value!r} must be a file in the static folder (such as "
                "favicon.svg) or an absolute http(s) URL"
            )
        return value
    relative = value.lstrip("/")
    static = static_dir.resolve()
    file = (static / relative).resolve()
    if (
        not file.is_relative_to(static)
        or not file.is_file()
        or any(part.startswith(".") for part in file.relative_to(static).parts)
    ):
        raise ValueError(
            f"[site] favicon {value!r} is not a file in the static folder ({static}); "
            "put the icon there, or give an absolute http(s) URL"
        )
    return quote(file.relative_to(static).as_posix(), safe="/-._~!$&'()*+,;=:@")


def _publish(everything: dict[str, Any], root: Path, fail: Any) -> PublishSettings:
    data = everything.get("publish", {})
    defaults = PublishSettings()

    def directory(key: str, default: Path) -> Path:
        value = data.get(key, str(default))
        if not isinstance(value, str) or not value.strip():
            raise fail("publish", key, f"[publish] {key} must be a directory path in quotes")
        return (root / value).resolve()

    entries = data.get("entries", defaults.entries_per_feed)
    if not isinstance(entries, int) or isinstance(entries, bool) or entries < 1:
        raise fail("publish", "entries", "[publish] entries must be a whole number of at least 1")
    clock_text = data.get("default_time", "00:00")
    try:
        clock = time.fromisoformat(str(clock_text))
    except ValueError:
        raise fail(
            "publish", "default_time", f"default_time {clock_text!r} must look like 09:00"
        ) from None
    settings = PublishSettings(
        articles_dir=directory("articles", defaults.articles_dir),
        output_dir=directory("output", defaults.output_dir),
        static_dir=directory("static", defaults.static_dir),
        entries_per_feed=entries,
        default_time=clock,
        articles_configured="articles" in data,
        hubs=_hubs(data.get("hubs", []), fail),
    )
    problem = output_overlap(settings, root)
    if problem:
        other, message = problem  # blame the output line, else the setting it collides with
        raise fail("publish", "output" if "output" in data else other, message)
    for section, key, kept in kept_paths(everything, root, settings.static_dir):
        message = kept_inside_output(f"[{section}] {key}", kept, settings.output_dir)
        if message:  # blame the line that put it there: the kept path, else the output
            given = key in everything.get(section, {})
            raise fail(section if given else "publish", key if given else "output", message)
    _check_input_folders(data, root, settings, fail)
    return settings


def _check_input_folders(
    data: dict[str, Any], root: Path, settings: PublishSettings, fail: Any
) -> None:
    """Refuse an articles or static folder written inside the project (the config's folder)
    that a symlink leads out of (see boundary.py).

    Everything in those folders is published, so ``static`` linked to ``/`` would publish the
    machine; a folder written outside the project in communique.toml is the owner's choice
    and taken as it is. An error, not a warning: left out, the site would be published
    without its articles (or static files) and replace the live one.
    """
    for key, folder in (("articles", settings.articles_dir), ("static", settings.static_dir)):
        value = data.get(key, key)  # the defaults are the folders "articles" and "static"
        written = Path(os.path.normpath(root / value))
        if not written.is_relative_to(root) or folder.is_relative_to(root):
            continue
        leads = f"leads through a symlink to {folder}, outside the project {root}"
        if key in data:
            raise fail(
                "publish",
                key,
                f"[publish] {key} {written} {leads}; write {folder} there to publish that "
                "folder, or move it into the project",
            )
        raise InputError(
            written,
            None,
            f'the {key} folder {leads}; set [publish] {key} = "{folder}" in communique.toml '
            "to publish that folder, or move it into the project",
        )


_HUB_EXAMPLE = 'hubs = ["https://websub.example/"]'
_NOT_IN_URL = re.compile(r"[\s<>\"{}|\\^`]")


def _hubs(value: Any, fail: Any) -> tuple[str, ...]:
    """``[publish] hubs``: WebSub hub URLs, absolute http(s), each once.

    They are written into every feed (``rel="hub"``) and receive a POST after each publish
    that changed a feed, so they are checked as strictly as ``base_url``: no user name or
    password (warnings print the URL), no fragment, ASCII only (the feeds must stay valid).
    """
    if not isinstance(value, list):
        raise fail("publish", "hubs", f"[publish] hubs must be a list of URLs: {_HUB_EXAMPLE}")
    hubs: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise fail("publish", "hubs", f"[publish] hubs must be a list of URLs: {_HUB_EXAMPLE}")
        url = item.strip()
        if not url.isascii():
            raise fail(
                "publish",
                "hubs",
                f"hub {item!r} must be ASCII: write the host in punycode (xn--…) and "
                "percent-encode the path",
            )
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme.lower() not in {"http", "https"}
            or not parts.hostname
            or _NOT_IN_URL.search(url)
        ):
            raise fail(
                "publish",
                "hubs",
                f"hub {item!r} must be an absolute http(s) URL such as https://websub.example/",
            )
        if parts.username is not None or parts.password is not None or "#" in url:
            raise fail(
                "publish", "hubs", f"hub {url!r} must not have a user name, password or fragment"
            )
        if url in hubs:
            raise fail("publish", "hubs", f"hub {url!r} is listed twice; list each hub once")
        hubs.append(url)
    return tuple(hubs)
