"""Making a digest of a period, and mailing a digest (just made, or written before).

A digest's period ends now (or ``--until``) and starts where the last daily digest ended
(or ``--since``, or a day before). What is mailed is what was written: ``mail`` reads the
digest back from its JSON record, the latest one by default (see
:func:`sources.digest.files.latest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from feeds.dates import DateFormatError, parse_when
from sources.digest.build import Digest, build_digest, digest_name
from sources.digest.files import latest_digest, next_period_start, write_digest
from sources.follow.opml import load_source_list
from sources.judge.source_rules import official_sources
from sources.judge.stories import WINDOW, Story, background_period, follow_stories
from sources.settings import Settings, digest_folder_problem, parse_duration
from sources.store.database import Store
from sources.store.locks import Busy, mail_lock
from sources.types import StoredItem

from . import MAIL_WAIT
from .errors import BadOption, Refused

FORMATS = ("md", "html", "atom", "json")


def moment(value: str, zone: ZoneInfo, now: datetime, option: str) -> datetime:
    """``24h``/``7d`` (before now), ``YYYY-MM-DD`` (midnight in the site timezone) or RFC 3339."""
    try:
        return now - parse_duration(value)
    except OverflowError:
        raise BadOption(f"{value!r} reaches before the year 1", option) from None
    except ValueError:
        pass
    try:
        return parse_when(value, zone, datetime.min.time())
    except DateFormatError as exc:
        raise BadOption(f"{exc}; or write a duration such as 24h or 7d", option) from None


@dataclass(frozen=True)
class Made:
    """A digest written: what it says, and the files."""

    digest: Digest
    written: list[Path]


def make_digest(
    settings: Settings,
    *,
    clock: datetime,
    since: str | None = None,
    until: str | None = None,
    formats: frozenset[str] = frozenset(FORMATS),
    out: Path | None = None,
) -> Made:
    """Digest the relevant items of the period into ``out`` (default: ``[digest] out``);
    the same database and period give the same bytes."""
    polling, options, config = settings.aggregate, settings.digest, settings.config
    site = config.site
    problem = digest_folder_problem(out, config.publish) if out else None
    if problem:  # the same rule as [digest] out's: publish would wipe or misread them
        raise BadOption(f"{out} {problem}", "--out")
    zone = site.tz
    end = moment(until, zone, clock, "--until") if until else clock
    out_dir = out or options.out_dir
    if since:
        start = moment(since, zone, clock, "--since")
    else:
        day = (end.astimezone(zone) - timedelta(microseconds=1)).date().isoformat()
        start = next_period_start(out_dir, day) or end - timedelta(hours=24)
    if start >= end:
        raise BadOption(
            f"the period is empty: {start.isoformat()} is not before {end.isoformat()}",
            "--since",
        )
    official = official_sources(load_source_list(polling.sources_file))

    def is_official(item: StoredItem) -> bool:
        return item.source_url in official

    items: list[StoredItem] = []
    stories: list[Story] = []
    days: dict[int, str] = {}
    background: list[StoredItem] = []
    day = digest_name(start, end, zone)
    if polling.database.exists():
        with Store(polling.database) as store:
            items = store.relevant_items(start, end)
            background = store.relevant_items(*background_period(start, end))
            # the stories of earlier digests that may grow in this period, and this
            # period's items a digest placed before: placed back where they were
            placed = store.placed(start - WINDOW, end)
            earlier = [i for i in store.relevant_items(start - WINDOW, start) if i.id in placed]
            stories = follow_stories(
                items,
                is_official=is_official,
                earlier=earlier,
                stored={item: p.story for item, p in placed.items()},
                background=background,
            )
            days = {item: p.day for item, p in placed.items()}
            store.record_stories(
                day, {item.id: story.id for story in stories for item in story.items}, {}
            )
    digest = build_digest(
        items,
        since=start,
        until=end,
        taxonomy=settings.relevance,
        zone=zone,
        title=options.title,
        is_official=is_official,
        background=background,
        stories=stories,
        days=days,
    )
    base_url = options.base_url or f"{site.base_url}digest/"
    return Made(digest, write_digest(digest, out_dir, set(formats), site=site, base_url=base_url))


@dataclass(frozen=True)
class Mailed:
    """One digest's mail. ``status``: ``sent`` (``interrupted``: Ctrl-C was pressed while
    the server took it), ``already`` (mailed before: ``earlier`` is its Message-ID and
    time), ``failed`` (not taken: ``problem``; the next run tries again), ``busy`` (another
    process mailed for longer than ``wait`` seconds) or ``interrupted`` (Ctrl-C before the
    server took it: ``problem`` says whether it may have been mailed)."""

    day: str
    status: str
    problem: str = ""
    earlier: tuple[str, datetime] | None = None
    message_id: str = ""
    recipients: int = 0
    refused: tuple[str, ...] = ()
    interrupted: bool = False
    wait: float = MAIL_WAIT


def mail_digest(
    settings: Settings, digest: Digest, *, clock: datetime, resend: bool, wait: float = MAIL_WAIT
) -> Mailed:
    """Mail ``digest`` to ``[mail] to`` unless it was mailed already (``resend``: anyway).

    "Mailed already?", the sending and the record are one step under a lock beside the
    database: two runs at once would both find the digest not mailed, and both send it.
    """
    from sources.digest.delivery import Interrupted, MailFailure, send
    from sources.digest.message import build_message

    mail = settings.mail
    if not mail.to:
        raise BadOption("no [mail] to in the config: say where digests are mailed")
    site = settings.config.site
    database = settings.aggregate.database
    try:
        with mail_lock(database, wait=wait), Store(database) as store:
            earlier = store.delivered(digest.day)
            if earlier and not resend:
                return Mailed(digest.day, "already", earlier=earlier)
            message = build_message(
                digest,
                sender=mail.sender,
                recipients=mail.to,
                base_url=site.base_url,
                sent_at=clock,
                language=site.language,
            )
            message_id = str(message["Message-ID"])
            try:
                delivery = send(
                    message,
                    mail,
                    record=lambda: store.record_delivery(digest.day, message_id, mail.to, clock),
                )
            except Interrupted as exc:
                return Mailed(digest.day, "interrupted", problem=str(exc))
            except MailFailure as exc:
                return Mailed(digest.day, "failed", problem=str(exc))
    except Busy:
        return Mailed(digest.day, "busy", wait=wait)
    return Mailed(
        digest.day,
        "sent",
        message_id=message_id,
        recipients=len(mail.to),
        refused=delivery.refused,
        interrupted=delivery.interrupted,
    )


def mail_written(
    settings: Settings,
    *,
    clock: datetime,
    day: str | None = None,
    out: Path | None = None,
    resend: bool = False,
    wait: float = MAIL_WAIT,
) -> Mailed:
    """Mail the digest of ``day`` written in ``out`` (default: ``[digest] out``), else the
    latest one there, read back from its record."""
    from sources.digest.render import from_json

    out_dir = out or settings.digest.out_dir
    zone = settings.config.site.tz
    if day is None:
        path = latest_digest(out_dir)
        if path is None:
            raise Refused(f"no digest in {out_dir}; write one with `communique digest`")
    else:
        path = out_dir / f"digest-{day}.json"
        if not path.is_file():
            raise Refused(
                f"no digest {day} in {out_dir} ({path.name} is missing); "
                "see the digest-*.json files there"
            )
    try:
        digest = from_json(path.read_text(encoding="utf-8"), zone)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise Refused(f"{path}: cannot read the digest ({exc})") from None
    return mail_digest(settings, digest, clock=clock, resend=resend, wait=wait)
