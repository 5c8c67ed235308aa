"""``communique.toml`` -> frozen :class:`Config` records, validated with ``path:line`` errors.

Every setting has a default (see README), so a directory of articles publishes with no config
at all. Values are checked here, once, so the rest of the code can trust them: ``base_url`` is
absolute http(s), ``language`` is a BCP 47 tag, ``timezone`` is a real IANA zone.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feeds.errors import InputError, line_of_key

DEFAULT_CONFIG_NAME = "communique.toml"

# RFC 5646 well-formedness (language[-script][-region][-variant...][-extension...][-x-private]).
LANGUAGE_TAG = re.compile(
    r"^(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|\d{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-x(?:-[A-Za-z0-9]{1,8})+)?$"
)
EMAIL_ADDRESS = re.compile(r"^[^@\s<>()]+@[^@\s<>()]+\.[^@\s<>()]+$")


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
    entries_per_feed: int = 20
    default_time: time = time(0, 0)


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
}
_PUBLISH_KEYS = {"articles", "output", "entries", "default_time"}
# Tables later parts of communique read; accepted here so one file configures everything.
_OTHER_TABLES = {"aggregate", "digest", "topics"}


def load_config(path: Path | None, *, base_url: str | None = None) -> Config:
    """Read and validate a config file; ``None`` means ``./communique.toml`` if it exists.

    Relative paths in the file are resolved against the file's directory, so
    ``communique --config site/communique.toml publish`` works from anywhere. ``base_url``
    overrides the file's value (a local preview publishes for ``http://127.0.0.1:PORT/``).
    """
    explicit = path is not None
    path = Path(path) if explicit else Path(DEFAULT_CONFIG_NAME)
    if not path.exists():
        if explicit:
            raise InputError(path, None, "config file not found; check the --config path")
        data: dict[str, Any] = {}
        text = ""
    else:
        text = _read_text(path)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = _toml_error_line(str(exc))
            raise InputError(path, line, f"invalid TOML ({exc}); fix the syntax") from None
    root = path.resolve().parent
    return _build(data, text, path, root, base_url)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not UTF-8 ({exc.reason}); save the file as UTF-8") from None
    except OSError as exc:
        raise InputError(path, None, f"cannot read ({exc.strerror})") from None


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _build(data: dict[str, Any], text: str, path: Path, root: Path, base_url: str | None) -> Config:
    def fail(section: str | None, key: str | None, message: str) -> InputError:
        line = line_of_key(text, key, section=section) if key else None
        return InputError(path, line, message)

    for table, value in data.items():
        if table not in {"site", "publish"} | _OTHER_TABLES or not isinstance(value, dict):
            raise fail(
                None, table, f"unknown setting {table!r}; use the tables [site] and [publish]"
            )
    site_data = data.get("site", {})
    publish_data = data.get("publish", {})
    for section, keys, given in (
        ("site", _SITE_KEYS, site_data),
        ("publish", _PUBLISH_KEYS, publish_data),
    ):
        for key in given:
            if key not in keys:
                known = ", ".join(sorted(keys))
                raise fail(section, key, f"unknown setting [{section}] {key}; known: {known}")

    def text_value(key: str, default: str) -> str:
        value = site_data.get(key, default)
        if not isinstance(value, str):
            raise fail("site", key, f"[site] {key} must be a string in quotes")
        return value.strip()

    def checked_url(url: str, key: str | None) -> str:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise fail(
                "site",
                key,
                f"base_url {url!r} must be an absolute http(s) URL such as https://example.org/",
            )
        if parts.query or parts.fragment:
            raise fail("site", key, f"base_url {url!r} must not have a query or fragment")
        return url if url.endswith("/") else url + "/"

    defaults = Site()
    configured = checked_url(text_value("base_url", defaults.base_url), "base_url")
    url = configured if base_url is None else checked_url(base_url, None)

    language = text_value("language", defaults.language)
    if not LANGUAGE_TAG.match(language):
        raise fail(
            "site", "language", f"language {language!r} is not a BCP 47 tag; write e.g. en or en-GB"
        )
    zone = text_value("timezone", defaults.timezone)
    try:
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
    icon = text_value("icon", "")
    site = Site(
        title=title,
        subtitle=text_value("subtitle", ""),
        base_url=url,
        author=_author(site_data.get("author"), title, fail),
        language=language,
        timezone=zone,
        rights=text_value("rights", ""),
        icon=icon,
        id=text_value("id", ""),
        # ids written during a --base-url preview must be the real site's, not the preview's
        id_host=urlsplit(configured).hostname or "",
    )
    return Config(site=site, publish=_publish(publish_data, root, fail), path=path)


def _author(value: Any, site_title: str, fail: Any) -> Person:
    if value is None:
        return Person(site_title)
    if isinstance(value, str):
        value = {"name": value}
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("name"), str)
        or not value["name"].strip()
    ):
        raise fail("site", "author", 'author needs a name: author = { name = "…", email = "…" }')
    unknown = set(value) - {"name", "email", "uri"}
    if unknown:
        raise fail(
            "site", "author", f"unknown author field(s) {sorted(unknown)}; use name, email, uri"
        )
    email = value.get("email") or None
    if email is not None and not EMAIL_ADDRESS.match(str(email)):
        raise fail("site", "author", f"author email {email!r} is not an email address")
    uri = value.get("uri") or None
    if uri is not None and urlsplit(str(uri)).scheme not in {"http", "https", "mailto"}:
        raise fail("site", "author", f"author uri {uri!r} must be an absolute URL")
    return Person(value["name"].strip(), email, uri)


def _publish(data: dict[str, Any], root: Path, fail: Any) -> PublishSettings:
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
    return PublishSettings(
        articles_dir=directory("articles", defaults.articles_dir),
        output_dir=directory("output", defaults.output_dir),
        entries_per_feed=entries,
        default_time=clock,
    )
