"""Making a digest of a period, and mailing a digest (just made, or written before).

A digest's period ends now (or ``--until``) and starts where the last daily digest ended
(or ``--since``, or a day before). What is mailed is what was written: ``mail`` reads the
digest back from its JSON record, the latest one by default (see
:func:`sources.digest.files.latest`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from feeds.dates import DateFormatError, parse_when
from sources.digest.build import (
    Digest,
    DigestStoryline,
    StorylineFeed,
    build_digest,
    digest_name,
    shown_title,
    storyline_feed,
)
from sources.digest.files import latest_digest, next_period_start, write_digest
from sources.follow.opml import load_source_list
from sources.judge.source_rules import official_sources
from sources.judge.stories import (
    WINDOW,
    Story,
    background_period,
    follow_stories,
    story_of,
)
from sources.judge.storyline_ids import storyline_ids
from sources.judge.storylines import WINDOW as STORYLINE_WINDOW
from sources.judge.storylines import storyline_title
from sources.settings import Settings, digest_folder_problem, parse_duration
from sources.store.database import Store
from sources.store.locks import Busy, mail_lock
from sources.store.stories import StorylineRow
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
    followed = Followed()
    background: list[StoredItem] = []
    day = digest_name(start, end, zone)
    if polling.database.exists():
        with Store(polling.database) as store:
            items = store.relevant_items(start, end)
            background = store.relevant_items(*background_period(start, end))
            followed = follow(store, items, start, end, day, is_official, background)
    digest = build_digest(
        items,
        since=start,
        until=end,
        taxonomy=settings.relevance,
        zone=zone,
        title=options.title,
        is_official=is_official,
        background=background,
        stories=followed.stories,
        days=followed.days,
        lines=followed.lines,
        storylines=followed.shown,
        pages={p.name[len("digest-") : -len(".html")] for p in out_dir.glob("digest-*.html")},
    )
    base_url = options.base_url or f"{site.base_url}digest/"
    written = write_digest(
        digest, out_dir, set(formats), site=site, base_url=base_url, storylines=followed.feeds
    )
    return Made(digest, written)


@dataclass(frozen=True)
class Followed:
    """A period's stories as they go on from earlier digests, and their storylines."""

    stories: tuple[Story, ...] = ()
    days: Mapping[int, str] = field(default_factory=dict)  # item id -> the digest it was in
    lines: Mapping[str, str] = field(default_factory=dict)  # story id -> storyline id
    shown: tuple[DigestStoryline, ...] = ()  # storylines of two stories or more
    feeds: tuple[StorylineFeed, ...] = ()  # their feeds


def follow(
    store: Store,
    items: list[StoredItem],
    start: datetime,
    end: datetime,
    day: str,
    is_official: Callable[[StoredItem], bool],
    background: list[StoredItem],
) -> Followed:
    """Decide the period's stories and storylines, going on from what earlier digests showed
    (read back from the store), and record them for the next digest."""
    reach = max(WINDOW, STORYLINE_WINDOW)
    placed = store.placed(start - reach, end)
    before = [i for i in store.relevant_items(start - reach, start) if i.id in placed]
    stories = follow_stories(
        items,
        is_official=is_official,
        earlier=[i for i in before if i.published_at >= start - WINDOW],
        stored={item: p.story for item, p in placed.items()},
        starts=store.story_starts({p.story for p in placed.values()}),
        background=background,
    )
    going_on = {story.id for story in stories}
    by_story: dict[str, list[StoredItem]] = {}
    for item in before:  # earlier digests' stories that did not go on: their storylines may
        if placed[item.id].story not in going_on:
            by_story.setdefault(placed[item.id].story, []).append(item)
    past = [story_of(m, is_official=is_official, id=key) for key, m in sorted(by_story.items())]
    known = {p.story: p.storyline for p in placed.values()}
    lines = storyline_ids(stories, past=past, known=known, background=background)
    store.record_stories(day, {i.id: s.id for s in stories for i in s.items}, lines)

    shown_in = {item: p.day for item, p in placed.items()}  # as digests showed them before
    days = dict(shown_in)  # and this digest's own items, for the feeds
    for story in stories:
        for item in story.items:
            days.setdefault(item.id, day)
    going_on_lines = set(known.values())
    here: dict[str, list[Story]] = {}  # each storyline's stories in this digest
    for story in sorted(stories, key=lambda s: s.id):
        here.setdefault(lines[story.id], []).append(story)
    shown, feeds, titles = [], [], {}
    for line in sorted(here):
        if line not in going_on_lines and len(here[line]) < 2:
            continue  # a story alone: no storyline to show, nor a feed, until another joins
        if line in going_on_lines:  # begun in an earlier digest: its stories from the store
            # every story for the feed, which a digest made again for an older period must
            # not roll back; those this digest's period had seen for the page
            members: dict[str, list[StoredItem]] = {}
            for item, where in store.storyline_items(line):
                members.setdefault(where.story, []).append(item)
                days.setdefault(item.id, where.day)
            told = [story_of(m, is_official=is_official, id=k) for k, m in sorted(members.items())]
            seen = sum(1 for s in told if min(i.published_at for i in s.items) < end)
        else:  # begun in this one: its stories are this digest's, each whole
            told = [
                story_of([*s.earlier, *s.items], is_official=is_official, id=s.id)
                for s in here[line]
            ]
            seen = len(told)
        if len(told) < 2:
            continue
        titles[line] = shown_title(storyline_title(told))  # one line, as every title shown
        feeds.append(storyline_feed(line, titles[line], told, days))
        if seen > 1:
            shown.append(DigestStoryline(line, titles[line], earlier=seen - len(here[line])))
    store.record_stories(day, {}, {}, titles)
    return Followed(tuple(stories), shown_in, lines, tuple(shown), tuple(feeds))


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


@dataclass(frozen=True)
class Storylines:
    """``storylines``: every storyline a digest showed, and where its feed is."""

    rows: tuple[StorylineRow, ...]
    folder: Path  # where the feeds are: [digest] out's storylines/


def list_storylines(settings: Settings) -> Storylines:
    """The storylines recorded by the digests made from the database, the latest first."""
    from sources.app.judging import existing_store
    from sources.digest.files import STORYLINES

    with existing_store(settings) as store:
        rows = tuple(store.storylines())
    return Storylines(rows, settings.digest.out_dir / STORYLINES)
