"""Every setting ``sources`` reads from ``communique.toml``, read and parsed once a command.

:func:`load_settings` reads the file once (with ``feeds.config``'s reader, whose
:class:`~feeds.config.ConfigFile` gives every error its ``path:line``), validates ``[site]``
and ``[publish]`` at once, and each other table the first time a command asks for it:
``[aggregate]`` (how the sources are polled), ``[digest]`` (where digests go and what they are
called), ``[mail]`` (where they are mailed) and ``[topics]``/``[relevance]`` (the taxonomy). So
a command fails on exactly the tables it uses (``aggregate`` is not stopped by a bad
``[mail]``), and never reads the file twice.

Defaults are polite to shared hosts (europa.eu serves most official sources): two requests
at a time per host, an hourly poll, exponential backoff up to a day for failing feeds. The
default paths of the database, the source list and the digest folder are ``feeds.kept``'s,
which the publishing side guards with the same names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from feeds.config import (
    Config,
    ConfigFile,
    PublishSettings,
    config_from,
    normalise_base_url,
    read_config_file,
)
from feeds.errors import InputError, line_of_key
from feeds.kept import DATABASE, DIGEST_FOLDER, SOURCE_LIST
from sources.judge.relevance import Taxonomy, build_taxonomy

MIB = 1024 * 1024
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


MAX_ITEMS = 5_000  # entries read from one feed ([aggregate] max_items); more: the feed fails


@dataclass(frozen=True)
class AggregateSettings:
    """How ``communique aggregate`` polls: where, how often, how hard."""

    sources_file: Path = Path(SOURCE_LIST)
    database: Path = Path(DATABASE)
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


@dataclass(frozen=True)
class DigestSettings:
    """Where digests go, what they are called, where they will be published."""

    out_dir: Path = PublishSettings().static_dir / DIGEST_FOLDER
    title: str = "EU foreign policy digest"
    base_url: str = ""  # default: <[site] base_url>digest/


PASSWORD_VARIABLE = "COMMUNIQUE_SMTP_PASSWORD"
SECURITY = ("starttls", "tls", "none")
PORTS = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True)
class MailSettings:
    """Where and how digests are mailed; ``to`` empty means they are not.

    The password is not here: it never comes from ``communique.toml`` and is read (from
    :data:`PASSWORD_VARIABLE` or ``password_file``) only when a digest is mailed.
    """

    to: tuple[str, ...] = ()
    sender: str = ""
    smtp_host: str = "localhost"
    smtp_port: int = 587
    security: str = "starttls"
    username: str = ""
    password_file: Path | None = None
    ca_file: Path | None = None
    retry_for: float = 120.0  # seconds in which temporary failures are tried again


@dataclass(frozen=True)
class Settings:
    """Everything a ``sources`` command reads from ``communique.toml``: the file read once.

    ``config`` (``[site]``, ``[publish]``) is validated when the file is loaded; each other
    table when it is first used, then kept (see the module's docstring).
    """

    file: ConfigFile
    config: Config

    @cached_property
    def aggregate(self) -> AggregateSettings:
        """``[aggregate]``."""
        return _aggregate(self.file, self.config.site.base_url)

    @cached_property
    def digest(self) -> DigestSettings:
        """``[digest]``."""
        return _digest(self.file, self.config.publish)

    @cached_property
    def mail(self) -> MailSettings:
        """``[mail]``."""
        return _mail(self.file)

    @cached_property
    def relevance(self) -> Taxonomy:
        """The taxonomy: the shipped topics, with ``[topics]`` and ``[relevance]``."""
        return _taxonomy(self.file)


def load_settings(config_path: Path | None) -> Settings:
    """Read ``communique.toml`` (``None``: ``./communique.toml``) and validate ``[site]`` and
    ``[publish]``; an :class:`~feeds.errors.InputError` names the file and line."""
    file = read_config_file(config_path)
    return Settings(file, config_from(file))


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


def _aggregate(file: ConfigFile, site_url: str) -> AggregateSettings:
    """``[aggregate]``; paths are relative to the config file, like ``[publish]``'s."""
    table = file.table("aggregate", _KEYS)
    root = file.root
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
            raise file.error("aggregate", key, f"[aggregate] {key} {exc}") from None
    for key in ("concurrency", "per_host", "max_bytes", "max_items", "pages_per_host"):
        if values.get(key) == 0:
            raise file.error("aggregate", key, f"[aggregate] {key} must be at least 1")

    home = values.pop("home_page", None) or site_url
    for key in ("connect_timeout", "read_timeout", "deadline"):  # whole durations, in seconds
        if key in values:
            values[key] = values[key].total_seconds()
    if "sources" in values:
        values["sources_file"] = values.pop("sources")
    placed = replace(  # the default files, beside the config file
        defaults, sources_file=root / defaults.sources_file, database=root / defaults.database
    )
    return replace(
        placed, user_agent=f"communique/{_version()} (feed aggregator; +{home})", **values
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("communique")
    except PackageNotFoundError:  # running from a source tree
        return "0"


def _taxonomy(file: ConfigFile) -> Taxonomy:
    """The topic taxonomy: the shipped one, extended or replaced by ``[topics]``/``[relevance]``."""
    try:
        return build_taxonomy({k: file.data[k] for k in ("topics", "relevance") if k in file.data})
    except ValueError as exc:
        raise InputError(file.path, _table_line(file.text, str(exc)), str(exc)) from None


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


def _digest(file: ConfigFile, publish: PublishSettings) -> DigestSettings:
    """``[digest] out``, ``title`` and ``base_url``; paths relative to the config file.

    By default digests go to ``<[publish] static>/digest``, so ``publish`` (and ``run``)
    puts them on the site at ``<base_url>digest/``, where ``digest.atom`` says it is.
    """
    table = file.table("digest", ("out", "title", "base_url"))
    for key in table:
        if not isinstance(table[key], str) or not table[key].strip():
            raise file.error("digest", key, f"[digest] {key} must be text in quotes")
    problem = one_line_problem(table.get("title", ""))  # the title is the mail's subject
    if problem:
        raise file.error("digest", "title", f"[digest] title {problem}")
    base_url = ""
    if "base_url" in table:
        try:
            base_url = normalise_base_url(table["base_url"])
        except ValueError as exc:
            raise file.error("digest", "base_url", str(exc)) from None
    if "out" in table:
        out_dir = (file.root / table["out"]).resolve()
    else:
        out_dir = publish.static_dir / DIGEST_FOLDER
    problem = digest_folder_problem(out_dir, publish)
    if problem:
        raise file.error("digest", "out", f"[digest] out ({out_dir}) {problem}")
    return DigestSettings(
        out_dir=out_dir, title=table.get("title", DigestSettings.title), base_url=base_url
    )


def digest_folder_problem(out_dir: Path, publish: PublishSettings) -> str | None:
    """Why digests cannot be written to ``out_dir``, or None; for ``[digest] out`` and ``--out``.

    Inside the output folder they would be deleted by the next publish (which replaces that
    folder whole); inside the articles folder every later publish would read them as articles.
    """
    out = out_dir.resolve()
    for key, folder, why in (
        ("output", publish.output_dir, "each publish replaces that folder whole"),
        ("articles", publish.articles_dir, "its Markdown files would be read as articles"),
    ):
        if out.is_relative_to(folder.resolve()):
            return (
                f"is inside [publish] {key} ({folder.resolve()}): {why}; leave it unset "
                "(static/digest, published with the site) or choose a folder of its own"
            )
    return None


_MAIL_KEYS = (
    "to",
    "from",
    "smtp_host",
    "smtp_port",
    "security",
    "username",
    "password_file",
    "ca_file",
    "retry_for",
)


def _mail(file: ConfigFile) -> MailSettings:
    """``[mail]``, validated; paths are relative to the config file."""
    if "password" in file.data.get("mail", {}):
        raise file.error(
            "mail",
            "password",
            "[mail] password: a password is never read from communique.toml; set "
            f"{PASSWORD_VARIABLE} in the environment or name a file with [mail] password_file",
        )
    table = file.table("mail", _MAIL_KEYS)
    if not table:
        return MailSettings()
    to = table.get("to", [])
    recipients = [to] if isinstance(to, str) else to
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise file.error("mail", "to", "[mail] to must be an address in quotes, or a list of them")
    for address in recipients:
        problem = one_line_problem(address)  # each is in the To header
        if problem:
            raise file.error("mail", "to", f"[mail] to {problem} ({address!r})")
        if not _address(address):
            raise file.error("mail", "to", f"[mail] to: {address!r} is not an e-mail address")
    sender = table.get("from", "")
    problem = one_line_problem(sender) if isinstance(sender, str) else None
    if problem:
        raise file.error("mail", "from", f"[mail] from {problem}")
    if recipients and not (isinstance(sender, str) and _address(sender)):
        raise file.error(
            "mail",
            "from",
            '[mail] from must be the sender\'s address, e.g. "Digest <me@example.org>"',
        )
    security = table.get("security", "starttls")
    if security not in SECURITY:
        raise file.error(
            "mail",
            "security",
            f'[mail] security is {security!r}; write "starttls", "tls" or "none"',
        )
    port = table.get("smtp_port", PORTS[security])
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise file.error("mail", "smtp_port", "[mail] smtp_port must be a port number, 1 to 65535")
    host = table.get("smtp_host", "localhost")
    if not isinstance(host, str) or not host.strip():
        raise file.error("mail", "smtp_host", "[mail] smtp_host must be a host name in quotes")
    username = table.get("username", "")
    if not isinstance(username, str):
        raise file.error("mail", "username", "[mail] username must be text in quotes")
    for key, value in (("smtp_host", host), ("username", username)):
        problem = one_line_problem(value)
        if problem:
            raise file.error("mail", key, f"[mail] {key} {problem}")
    if username and security == "none":
        raise file.error(
            "mail",
            "username",
            '[mail] username with security = "none" would send the password in clear; '
            'use "starttls" or "tls"',
        )
    files: dict[str, Path | None] = {}
    for key in ("password_file", "ca_file"):
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise file.error("mail", key, f"[mail] {key} must be a file path in quotes")
        files[key] = (file.root / value).resolve() if value else None
    try:
        retry_for = parse_duration(table.get("retry_for", "2m")).total_seconds()
    except ValueError as exc:
        raise file.error("mail", "retry_for", f"[mail] retry_for {exc}") from None
    return MailSettings(
        to=tuple(recipients),
        sender=sender,
        smtp_host=host.strip(),
        smtp_port=port,
        security=security,
        username=username,
        password_file=files["password_file"],
        ca_file=files["ca_file"],
        retry_for=retry_for,
    )


def _address(text: str) -> bool:
    from email.headerregistry import Address  # the mail's own parsing, loaded for [mail] only
    from email.utils import getaddresses

    found = getaddresses([text])
    if len(found) != 1 or "@" not in found[0][1]:
        return False
    try:
        Address(addr_spec=found[0][1])
    except (ValueError, IndexError):
        return False
    return True
