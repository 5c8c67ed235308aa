"""Following the sources: the aggregate run and the source list (list, add, remove, import,
export).

The source list (an OPML file) says what is followed; the database says what each source
did. :func:`aggregate` matches the two under the run lock: permanent moves the database has
confirmed are written into the list before and after the poll, so the list never names a
feed that moved away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from feeds.errors import InputError
from sources.app.text import when
from sources.follow.feed_url import has_credentials
from sources.follow.history import as_dict
from sources.follow.opml import (
    Source,
    SourceList,
    find_source,
    merge,
    moved,
    read_import,
    read_source_list,
    save_source_list,
    to_opml,
)
from sources.follow.run import Progress, RunSummary, due_sources
from sources.follow.run import run as pipeline_run
from sources.pages.reader import page_mode
from sources.settings import AggregateSettings, Settings
from sources.store.database import Store
from sources.store.locks import Busy, run_lock
from sources.types import History, SourceRow

from .errors import Refused

# A progress display for a run: given the number of sources due, the callback it wants
# (or None: nothing shown), for as long as the run lasts.
ProgressDisplay = Callable[[int], AbstractContextManager[Progress | None]]


def source_list(settings: Settings, *, create: bool = True) -> SourceList:
    """The source list; with ``create``, written from the shipped one on first use.

    Its ``skipped`` entries cannot be fetched (left out) and its ``warnings`` name settings
    of an entry that cannot be read (the defaults apply): the command says so first.
    """
    return read_source_list(settings.aggregate.sources_file, create=create)


@dataclass(frozen=True)
class Aggregated:
    """One aggregate run: what it did, and how many old items it deleted."""

    summary: RunSummary
    pruned: int


def aggregate(
    settings: Settings,
    *,
    force: bool = False,
    wait: float,
    keep_days: int | None = None,
    progress: ProgressDisplay | None = None,
) -> Aggregated:
    """One run under the lock: follow confirmed moves, poll the due sources (all with
    ``force``), follow the moves the run confirmed, prune. Another run holding the lock
    for longer than ``wait`` seconds is :class:`Refused`."""
    taxonomy = settings.relevance  # bad topics stop the run before anything is written
    polling = settings.aggregate
    try:
        with run_lock(polling.database, wait=wait), Store(polling.database) as store:
            sources = _follow_moves(store, polling)  # including moves a killed run confirmed
            shown = nullcontext(None)
            if progress is not None:
                shown = progress(len(due_sources(store, sources, datetime.now(UTC), force=force)))
            with shown as callback:
                summary = asyncio.run(
                    pipeline_run(
                        store, sources, polling, force=force, progress=callback, taxonomy=taxonomy
                    )
                )
            _follow_moves(store, polling)
            days = keep_days or polling.keep_days
            pruned = store.prune(days, datetime.now(UTC)) if days else 0
    except Busy as exc:
        raise Refused(str(exc)) from None
    return Aggregated(summary, pruned)


def _follow_moves(store: Store, settings: AggregateSettings) -> list[Source]:
    """The source list, rewritten for every permanent move the database has confirmed."""
    listed = read_source_list(settings.sources_file)
    sources = list(listed.sources)
    moves = store.pending_moves([s.url for s in sources])
    for old, new in moves:
        sources = moved(sources, old, new)
    if moves:
        save_source_list(settings.sources_file, sources, listed.kept)
    return sources


@dataclass(frozen=True)
class Listing:
    """``sources list``: the list as read, a row per source, and each source's history."""

    listed: SourceList
    rows: list[dict[str, object]]
    histories: dict[str, History]
    max_archives: int
    not_written: Path | None  # the source list's path, while there is none (shipped one shown)


def list_sources(settings: Settings) -> Listing:
    """Every source with what the database knows of it; writes nothing (no list, no
    database) when there is none yet."""
    polling = settings.aggregate
    listed = source_list(settings, create=False)
    rows: dict[str, SourceRow] = {}
    pages: dict[str, tuple[int, str]] = {}
    histories: dict[str, History] = {}
    if polling.database.exists():
        with Store(polling.database) as store:
            rows = store.source_rows()
            pages = store.page_counts()
            histories = store.histories()
    table = [
        _row(source, rows.get(source.url), pages, histories, polling) for source in listed.sources
    ]
    missing = None if polling.sources_file.exists() else polling.sources_file
    return Listing(listed, table, histories, polling.max_archives, missing)


def _row(
    source: Source,
    row: SourceRow | None,
    pages: dict[str, tuple[int, str]],
    histories: dict[str, History],
    settings: AggregateSettings,
) -> dict[str, object]:
    """One source as ``sources list --json`` shows it."""
    gone = bool(row and row.gone)
    if gone:
        status, next_due = "gone", "never (gone)"
    else:
        status = row.last_status if row and row.last_status else "never fetched"
        next_due = when(row.next_due) if row and row.next_due else "now"
    count, problem = pages.get(source.url, (0, ""))
    return {
        "title": source.title,
        "url": source.url,
        "category": source.category,
        "status": status,
        "last_success": when(row.last_success_at) if row else "-",
        "next_due": next_due,
        "entries": row.entries if row else 0,
        "last_error": row.last_error if row else None,
        "warning": row.warning if row else None,  # what the last parse recovered from
        "full_text": page_mode(source.full_text, settings.full_text),
        "entries_with_page_text": count,
        "last_page_problem": problem or None,
        "network": row.network if row else None,
        # null until the source is fetched; else how far its archives were read
        "history": (
            as_dict(histories.get(source.url, History()), settings.max_archives)
            if row and row.last_status
            else None
        ),
    }


@dataclass(frozen=True)
class Subscription:
    """``sources add``: the source as listed now, and what changed.

    ``outcome`` is ``added``, ``already`` (subscribed before; nothing written) or
    ``mode`` (subscribed before; its article-page setting is now ``source.full_text``).
    """

    source: Source
    outcome: str
    note: str = ""  # how the feed was found ("" when it was not looked for)


def subscribe(
    settings: Settings,
    url: str,
    *,
    title: str | None = None,
    category: str = "",
    check: bool = True,
    full_text: bool | None = None,
) -> Subscription:
    """Subscribe to the feed at ``url`` (already in its one spelling) or the one its page
    names; ``check`` finds it first (a page that names none is :class:`Refused`)."""
    from sources.follow.subscribe import NotAFeed, find_feed

    polling = settings.aggregate
    note, found_url, found_title = "", url, ""
    if check:
        try:
            found = find_feed(url, polling)
        except NotAFeed as exc:
            raise Refused(f"{exc} (or use --no-check)") from None
        note, found_url, found_title = found.note, found.url, found.title
    current = read_source_list(polling.sources_file)
    mode = "" if full_text is None else ("on" if full_text else "off")
    wanted = Source(found_url, title or found_title, category, full_text=mode)
    merged, _, already = merge(current.sources, [wanted])
    if already:  # idempotent, like `mkdir -p`: the feed is subscribed, which is what was asked
        listed = already[0][1]
        if not mode or listed.full_text == mode:
            return Subscription(listed, "already", note)
        changed = [replace(s, full_text=mode) if s is listed else s for s in current.sources]
        save_source_list(polling.sources_file, changed, current.kept)
        return Subscription(replace(listed, full_text=mode), "mode", note)
    save_source_list(polling.sources_file, merged, current.kept)
    if polling.database.exists():
        with Store(polling.database) as store:
            store.revive(found_url)
            store.forget_move(found_url)
    return Subscription(next(s for s in merged if s.url == found_url), "added", note)


@dataclass(frozen=True)
class FirstPoll:
    """A new subscription's first poll: what it stored, and how far its history was read."""

    summary: RunSummary
    history: History
    max_archives: int


def first_poll(settings: Settings, source: Source, *, wait: float) -> FirstPoll:
    """Poll ``source`` now, with its whole history where it publishes one (RFC 5005
    archives): a new subscription starts complete, not with the last twenty items."""
    polling = settings.aggregate
    with run_lock(polling.database, wait=wait), Store(polling.database) as store:
        summary = asyncio.run(
            pipeline_run(store, [source], polling, force=True, taxonomy=settings.relevance)
        )
        walked = store.history(source.url)
    return FirstPoll(summary, walked, polling.max_archives)


def unsubscribe(settings: Settings, url: str) -> Source:
    """Take the source at ``url`` (any spelling) out of the list; its items are kept."""
    polling = settings.aggregate
    current = read_source_list(polling.sources_file, create=False)  # written only if found
    entry = find_source([*current.sources, *current.kept], url)  # unfetchable ones too
    if entry is None:
        raise Refused(f"not subscribed to {url}; see `communique sources list`")
    save_source_list(
        polling.sources_file,
        [s for s in current.sources if s is not entry],
        [s for s in current.kept if s is not entry],
    )
    return entry


@dataclass(frozen=True)
class Imported:
    """``sources import``: the file as read, and which of its feeds were new."""

    incoming: SourceList
    added: list[Source]
    already: int


def import_sources(settings: Settings, file: Path) -> Imported:
    """Merge the feeds of an OPML file into the source list, each feed once."""
    polling = settings.aggregate
    incoming = read_import(file)
    current = read_source_list(polling.sources_file)
    merged, added, already = merge(current.sources, incoming.sources)
    if added:
        save_source_list(polling.sources_file, merged, current.kept)
    return Imported(incoming, added, len(already))


def export_sources(settings: Settings) -> tuple[bytes, list[InputError]]:
    """The source list as OPML 2.0, and the entries left out because they hold a password.

    Entries that cannot be fetched are exported as written; with no list yet, the shipped
    one (nothing is written)."""
    listed = source_list(settings, create=False)
    left_out = [s.problem for s in listed.skipped if has_credentials(s.source.url)]
    kept = [s for s in listed.kept if not has_credentials(s.url)]
    return to_opml([*listed.sources, *kept]), left_out
