"""The digest's files on disk: writing atomically, the feed of digests.

``build`` decides what a digest says and ``render`` how each file says it; this shell reads
the earlier digests (their JSON is the record the digest feed is rebuilt from, says where the
last period ended, and is what ``mail`` sends) and writes every file through a temp file and
a rename.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from feeds.config import Site
from feeds.output import write_atomically
from sources.digest.build import Digest, StorylineFeed
from sources.digest.render import (
    digest_feed,
    from_json,
    storyline_atom,
    to_html,
    to_json,
    to_markdown,
)

FEED_NAME = "digest.atom"
STORYLINES = "storylines"  # the folder of the storylines' feeds, beside the digests
UTC = ZoneInfo("UTC")  # where only a period's moments matter, not how they are worded


def read_digest(path: Path, zone: ZoneInfo) -> Digest:
    """The digest recorded in ``path`` (a ``digest-*.json``), its period worded in ``zone``.
    OSError when it cannot be read, ValueError when it is not a digest record."""
    return from_json(path.read_text(encoding="utf-8"), zone)


def _records(out_dir: Path, zone: ZoneInfo) -> list[tuple[Path, Digest]]:
    """Every digest recorded in ``out_dir`` (``digest-*.json``) with its path, by name."""
    found = []
    for path in sorted(out_dir.glob("digest-*.json")):
        try:
            found.append((path, read_digest(path, zone)))
        except (OSError, ValueError):
            continue  # not ours, or damaged: the feed is rebuilt from the rest
    return found


def latest(records: list[tuple[Path, Digest]]) -> tuple[Path, Digest] | None:
    """The latest digest: the one whose period ends last, by its own record.

    The record says what the digest covers; a file's time says only when it was last
    written or copied (a backup restored, a folder synced, an old period written again), so
    it is never used. Ends are compared as moments, whatever offset each was written with.
    Of two that end together, the shorter period (the daily digest, not the weekly one
    ending with it).
    """
    return max(records, key=lambda r: (r[1].until, r[1].since), default=None)


def latest_digest(out_dir: Path) -> Path | None:
    """The record of the latest digest in ``out_dir`` (see :func:`latest`), if any."""
    found = latest(_records(out_dir, UTC))
    return found[0] if found else None


def next_period_start(out_dir: Path, day: str) -> datetime | None:
    """Where the next digest starts by default, from the records of the earlier ones.

    After the latest daily digest's end (longer ones, such as weekly digests, do not move the
    daily series); but when the latest is for the same ``day``, at its start, so a second run
    on one day rewrites that day's digest with everything, never only the last few hours.
    """
    daily = [(p, d) for p, d in _records(out_dir, UTC) if "--" not in d.day]
    found = latest(daily)
    if found is None:
        return None
    record = found[1]
    return record.since if record.day == day else record.until


def write_digest(
    digest: Digest,
    out_dir: Path,
    formats: set[str],
    *,
    site: Site,
    base_url: str,
    storylines: Sequence[StorylineFeed] = (),
) -> list[Path]:
    """Write the chosen formats for ``digest`` and rebuild ``digest.atom`` and the feeds of
    the ``storylines`` the digest showed (``storylines/<id>.atom``); the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    renderers = {"md": to_markdown, "html": lambda d: to_html(d, site.language), "json": to_json}
    for kind in ("md", "html", "json"):
        if kind in formats or kind == "json":  # the record: the feed and the next period use it
            path = out_dir / f"digest-{digest.day}.{kind}"
            write_atomically(path, renderers[kind](digest).encode("utf-8"))
            written.append(path)
    if "atom" in formats:
        path = out_dir / FEED_NAME
        earlier = [d for _, d in _records(out_dir, site.tz)]
        write_atomically(path, digest_feed(earlier, site, base_url))
        written.append(path)
    if storylines:
        (out_dir / STORYLINES).mkdir(exist_ok=True)
    for line in storylines:  # whatever the formats: every form of the digest links them
        path = out_dir / STORYLINES / f"{line.id}.atom"
        data = storyline_atom(line, site, base_url, digest.title)
        if not path.is_file() or path.read_bytes() != data:  # unchanged: left as it was,
            write_atomically(path, data)  # so a reader asking since when is told so
        written.append(path)
    return written
