"""The ``[aggregate]`` table of ``communique.toml`` -> a frozen :class:`AggregateSettings`.

Defaults are polite to shared hosts (europa.eu serves most official sources): two requests
at a time per host, an hourly poll, exponential backoff up to a day for failing feeds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from feeds.config import load_config, read_config_file
from feeds.errors import InputError, line_of_key
from sources.follow.parse import MAX_ITEMS
from sources.judge.relevance import Taxonomy, build_taxonomy

MIB = 1024 * 1024
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


@dataclass(frozen=True)
class AggregateSettings:
    """How ``communique aggregate`` polls: where, how often, how hard."""

    sources_file: Path = Path("sources.opml")
    database: Path = Path("communique.db")
    concurrency: int = 16
    per_host: int = 2
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float = 60.0  # the whole fetch of one feed, however slowly bytes arrive
    max_bytes: int = 10 * MIB
    max_items: int = MAX_ITEMS  # entries read from one feed; a feed with more fails
    interval: timedelta = timedelta(hours=1)
    backoff_base: timedelta = timedelta(minutes=5)
    backoff_cap: timedelta = timedelta(hours=24)
    redirect_confirmations: int = 3
    keep_days: int = 0  # 0 keeps everything
    workers: int = 0  # parsing processes; 0 means one per CPU
    user_agent: str = "communique/0.1"
    full_text: str = "off"  # read items' pages: off, auto (short feed text only) or on
    full_text_below: int = 500  # auto: a feed text shorter than this many characters
    pages_per_host: int = 5  # article pages read from one host in one run; the rest wait
    max_archives: int = 100  # RFC 5005 archive documents read from one source's history
    history_time: timedelta = timedelta(minutes=2)  # one run's walk of one source's history


def parse_duration(value: Any) -> timedelta:
    """``90``, ``"90s"``, ``"30m"``, ``"1h"``, ``"7d"`` -> timedelta; ValueError otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 30m, 1h or 7d")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{value!r} must be longer than zero")
    return timedelta(seconds=seconds)


_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line_problem(value: str) -> str | None:
    """Why ``value`` cannot be a one-line setting, or None.

    A setting that ends up in a mail header (``[digest] title`` in the subject, ``[mail]
    from`` and ``to``) or in an SMTP command must be one line: a line break there would
    start another header (or command), so the mail library refuses it with an exception
    at the moment of sending, long after the setting was read. Python's own idea of a line
    break (:meth:`str.splitlines`: also vertical tab, form feed, U+0085, U+2028, U+2029)
    is what that library checks, so every control character and line separator is refused.
    """
    if _NOT_ONE_LINE.search(value):
        return "must be one line of text, without line breaks or other control characters"
    return None


_KEYS = {
    "sources": "a file path",
    "database": "a file path",
    "concurrency": "a whole number",
    "per_host": "a whole number",
    "connect_timeout": "a duration",
    "read_timeout": "a duration",
    "deadline": "a duration",
    "max_bytes": "a whole number",
    "max_items": "a whole number",
    "interval": "a duration",
    "backoff_base": "a duration",
    "backoff_cap": "a duration",
    "keep_days": "a whole number",
    "workers": "a whole number",
    "home_page": "a URL",
    "full_text": "off, auto or on",
    "full_text_below": "a whole number",
    "pages_per_host": "a whole number",
    "max_archives": "a whole number",
    "history_time": "a duration",
}
FULL_TEXT_MODES = ("off", "auto", "on")


def load_aggregate_settings(config_path: Path | None) -> AggregateSettings:
    """Read ``[aggregate]``; paths are relative to the config file, like ``[publish]``'s."""
    path, data, text = read_config_file(config_path)
    site = load_config(config_path).site  # validates the rest of the file too
    table = data.get("aggregate", {})
    root = path.resolve().parent

    def fail(key: str, message: str) -> InputError:
        return InputError(path, line_of_key(text, key, section="aggregate"), message)

    for key in table:
        if key not in _KEYS:
            raise fail(key, f"unknown setting [aggregate] {key}; known: {', '.join(sorted(_KEYS))}")
    defaults = AggregateSettings()
    values: dict[str, Any] = {}
    for key, kind in _KEYS.items():
        if key not in table:
            continue
        value = table[key]
        try:
            if kind == "a file path":
                if not isinstance(value, str) or not value.strip():
                    raise ValueError("must be a file path in quotes")
                values[key] = (root / value).resolve()
            elif kind == "a whole number":
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError("must be a whole number, zero or more")
                values[key] = value
            elif kind == "a duration":
                values[key] = parse_duration(value)
            elif kind == "off, auto or on":
                if value not in FULL_TEXT_MODES:
                    raise ValueError(f'is {value!r}; write "off", "auto" or "on"')
                values[key] = value
            else:
                values[key] = str(value)
        except ValueError as exc:
            raise fail(key, f"[aggregate] {key} {exc}") from None
    for key in ("concurrency", "per_host", "max_bytes", "max_items", "pages_per_host"):
        if values.get(key) == 0:
            raise fail(key, f"[aggregate] {key} must be at least 1")

    home = values.get("home_page") or site.base_url
    seconds = {
        k: values[k].total_seconds()
        for k in ("connect_timeout", "read_timeout", "deadline")
        if k in values
    }
    return AggregateSettings(
        sources_file=values.get("sources", root / defaults.sources_file),
        database=values.get("database", root / defaults.database),
        concurrency=values.get("concurrency", defaults.concurrency),
        per_host=values.get("per_host", defaults.per_host),
        connect_timeout=seconds.get("connect_timeout", defaults.connect_timeout),
        read_timeout=seconds.get("read_timeout", defaults.read_timeout),
        deadline=seconds.get("deadline", defaults.deadline),
        max_bytes=values.get("max_bytes", defaults.max_bytes),
        max_items=values.get("max_items", defaults.max_items),
        interval=values.get("interval", defaults.interval),
        backoff_base=values.get("backoff_base", defaults.backoff_base),
        backoff_cap=values.get("backoff_cap", defaults.backoff_cap),
        keep_days=values.get("keep_days", defaults.keep_days),
        workers=values.get("workers", defaults.workers),
        user_agent=f"communique/{_version()} (feed aggregator; +{home})",
        full_text=values.get("full_text", defaults.full_text),
        full_text_below=values.get("full_text_below", defaults.full_text_below),
        pages_per_host=values.get("pages_per_host", defaults.pages_per_host),
        max_archives=values.get("max_archives", defaults.max_archives),
        history_time=values.get("history_time", defaults.history_time),
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("communique")
    except PackageNotFoundError:  # running from a source tree
        return "0"


def load_taxonomy(config_path: Path | None) -> Taxonomy:
    """The topic taxonomy: the shipped one, extended or replaced by ``[topics]``/``[relevance]``."""
    path, data, text = read_config_file(config_path)
    try:
        return build_taxonomy({k: data[k] for k in ("topics", "relevance") if k in data})
    except ValueError as exc:
        raise InputError(path, _table_line(text, str(exc)), str(exc)) from None


def _table_line(text: str, message: str) -> int | None:
    """The line of the ``[table]`` a message names (``[topics.x.terms]`` -> its header or key)."""
    match = re.search(r"\[([\w.-]+)\]", message)
    if not match:
        return None
    name = match.group(1)
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() == f"[{name}]":
            return number
    parent, _, key = name.rpartition(".")
    return line_of_key(text, key, section=parent) if parent else None
