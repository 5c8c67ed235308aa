"""The digest's files on disk: writing atomically, the feed of digests.

``digest.py`` decides what a digest says; this shell reads the earlier digests (their JSON is
the record the digest feed is rebuilt from, and says where the last period ended) and writes
every file through a temp file and a rename.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from feeds.config import Site
from feeds.output import write_atomically
from sources.digest.build import Digest, digest_feed, to_html, to_json, to_markdown

FEED_NAME = "digest.atom"


def _records(out_dir: Path) -> list[tuple[Path, dict[str, object]]]:
    """Every digest record (``digest-*.json``) in ``out_dir`` with its path, by name."""
    documents = []
    for path in sorted(out_dir.glob("digest-*.json")):
        try:
            documents.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue  # not ours, or damaged: the feed is rebuilt from the rest
    return documents


def _earlier(out_dir: Path) -> list[dict[str, object]]:
    return [document for _, document in _records(out_dir)]


def latest(
    records: list[tuple[Path, dict[str, object]]],
) -> tuple[Path, dict[str, object]] | None:
    """The latest digest: the one whose period ends last, by its own record's ``until``.

    The record says what the digest covers; a file's time says only when it was last
    written or copied (a backup restored, a folder synced, an old period written again), so
    it is never used. Ends are compared as moments, whatever offset each was written with.
    Of two that end together, the shorter period (the daily digest, not the weekly one
    ending with it). A record without a readable period is no digest.
    """
    dated = []
    for path, document in records:
        try:
            period = (
                datetime.fromisoformat(str(document["until"])),
                datetime.fromisoformat(str(document["since"])),
            )
        except (KeyError, TypeError, ValueError):
            continue
        if all(moment.tzinfo is not None for moment in period):  # else not comparable
            dated.append((period, path, document))
    if not dated:
        return None
    _, path, document = max(dated, key=lambda d: d[0])
    return path, document


def latest_digest(out_dir: Path) -> Path | None:
    """The record of the latest digest in ``out_dir`` (see :func:`latest`), if any."""
    found = latest(_records(out_dir))
    return found[0] if found else None


def next_period_start(out_dir: Path, day: str) -> datetime | None:
    """Where the next digest starts by default, from the records of the earlier ones.

    After the latest daily digest's end (longer ones, such as weekly digests, do not move the
    daily series); but when the latest is for the same ``day``, at its start, so a second run
    on one day rewrites that day's digest with everything, never only the last few hours.
    """
    daily = [(p, d) for p, d in _records(out_dir) if "--" not in str(d.get("day"))]
    found = latest(daily)
    if found is None:
        return None
    record = found[1]
    if str(record.get("day")) == day:
        return datetime.fromisoformat(str(record["since"]))
    return datetime.fromisoformat(str(record["until"]))


def write_digest(
    digest: Digest, out_dir: Path, formats: set[str], *, site: Site, base_url: str
) -> list[Path]:
    """Write the chosen formats for ``digest`` and rebuild ``digest.atom``; the paths written."""
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
        write_atomically(path, digest_feed(_earlier(out_dir), site, base_url))
        written.append(path)
    return written
