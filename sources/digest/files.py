"""The digest's files on disk: the ``[digest]`` settings, writing atomically, the feed of digests.

``build`` decides what a digest says and ``render`` how each file says it; this shell reads
the earlier digests (their JSON is the record the digest feed is rebuilt from, says where the
last period ended, and is what ``mail`` sends) and writes every file through a temp file and
a rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from feeds.config import PublishSettings, Site, load_config, normalise_base_url, read_config_file
from feeds.dates import rfc3339
from feeds.errors import InputError, line_of_key
from feeds.output import write_atomically
from sources.digest.build import Digest
from sources.digest.render import digest_feed, from_json, to_html, to_json, to_markdown
from sources.settings import one_line_problem

FEED_NAME = "digest.atom"


@dataclass(frozen=True)
class DigestSettings:
    """Where digests go, what they are called, where they will be published."""

    out_dir: Path = Path("static/digest")
    title: str = "EU foreign policy digest"
    base_url: str = ""  # default: <[site] base_url>digest/


def load_digest_settings(config_path: Path | None) -> DigestSettings:
    """``[digest] out``, ``title`` and ``base_url``; paths relative to the config file.

    By default digests go to ``<[publish] static>/digest``, so ``publish`` (and ``run``)
    puts them on the site at ``<base_url>digest/``, where ``digest.atom`` says they are.
    """
    path, data, text = read_config_file(config_path)
    publish = load_config(config_path).publish
    static_dir = publish.static_dir
    table = data.get("digest", {})
    root = path.resolve().parent

    def fail(key: str, message: str) -> InputError:
        return InputError(path, line_of_key(text, key, section="digest"), message)

    for key in table:
        if key not in {"out", "title", "base_url"}:
            raise fail(key, f"unknown setting [digest] {key}; known: base_url, out, title")
        if not isinstance(table[key], str) or not table[key].strip():
            raise fail(key, f"[digest] {key} must be text in quotes")
    problem = one_line_problem(table.get("title", ""))  # the title is the mail's subject
    if problem:
        raise fail("title", f"[digest] title {problem}")
    base_url = ""
    if "base_url" in table:
        try:
            base_url = normalise_base_url(table["base_url"])
        except ValueError as exc:
            raise fail("base_url", str(exc)) from None
    defaults = DigestSettings()
    out_dir = (root / table["out"]).resolve() if "out" in table else static_dir / "digest"
    problem = digest_folder_problem(out_dir, publish)
    if problem:
        raise fail("out", f"[digest] out ({out_dir}) {problem}")
    return DigestSettings(
        out_dir=out_dir,
        title=table.get("title", defaults.title),
        base_url=base_url,
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


def read_digest(path: Path, zone: ZoneInfo) -> Digest:
    """The digest recorded in ``path`` (a ``digest-*.json``), its period worded in ``zone``.
    OSError when it cannot be read, ValueError when it is not a digest record."""
    return from_json(path.read_text(encoding="utf-8"), zone)


def _earlier(out_dir: Path, zone: ZoneInfo) -> list[Digest]:
    digests = []
    for path in sorted(out_dir.glob("digest-*.json")):
        try:
            digests.append(read_digest(path, zone))
        except (OSError, ValueError):
            continue  # not ours, or damaged: the feed is rebuilt from the rest
    return digests


def next_period_start(out_dir: Path, day: str) -> datetime | None:
    """Where the next digest starts by default, from the records of the earlier ones.

    After the latest daily digest's end (longer ones, such as weekly digests, do not move the
    daily series); but when the latest is for the same ``day``, at its start, so a second run
    on one day rewrites that day's digest with everything, never only the last few hours.
    """
    # only the days and ends matter here, not how the period is worded
    daily = [d for d in _earlier(out_dir, ZoneInfo("UTC")) if "--" not in d.day]
    if not daily:
        return None
    latest = max(daily, key=lambda d: rfc3339(d.until))  # the end as its record writes it
    return latest.since if latest.day == day else latest.until


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
        write_atomically(path, digest_feed(_earlier(out_dir, site.tz), site, base_url))
        written.append(path)
    return written
