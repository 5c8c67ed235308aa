"""What a publish must never destroy, and where the files of the other commands are kept.

Every publish replaces the output folder whole. So the output folder must not be, hold or sit
inside the project, the articles or the static folder, and it must not hold what the other
commands keep beside the site: the database (everything ever fetched), the source list (the
subscriptions) and the digest folder.

The default names of those three live here, and only here: ``feeds`` is the publishing wing
and never imports ``sources``, yet it must guard their files with the same defaults the
``sources`` settings use; ``sources/settings.py`` reads them from this module, so the two can
never drift apart.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # an annotation only: feeds/config.py imports this module
    from feeds.config import PublishSettings

DATABASE = "communique.db"  # [aggregate] database
SOURCE_LIST = "sources.opml"  # [aggregate] sources
DIGEST_FOLDER = "digest"  # [digest] out: by default this folder of [publish] static

# (table, key, default path; None for <[publish] static>/digest). The values are read raw
# here; the settings that use them check them and say what is wrong with their line.
_KEPT = (
    ("aggregate", "database", DATABASE),
    ("aggregate", "sources", SOURCE_LIST),
    ("digest", "out", None),
)


def kept_paths(data: dict[str, Any], root: Path, static_dir: Path) -> list[tuple[str, str, Path]]:
    """``(table, key, resolved path)`` of the database, the source list and the digest folder.

    These are the user's, not built: the database holds everything ever fetched, the source
    list the subscriptions. A value that is not a path in quotes is left to the settings
    that read it, which say so with its line.
    """
    kept = []
    for section, key, default in _KEPT:
        table = data.get(section, {})
        value = table.get(key, default) if isinstance(table, dict) else default
        if value is None:
            kept.append((section, key, (static_dir / DIGEST_FOLDER).resolve()))
        elif isinstance(value, str) and value.strip():
            kept.append((section, key, (root / value).resolve()))
    return kept


def kept_inside_output(setting: str, path: Path, output_dir: Path) -> str | None:
    """Why ``path`` (named by ``setting``) cannot be kept there, if the output folder holds it.

    Every publish replaces the output folder whole, so a database, a source list or a digest
    folder inside it would be deleted (and the source list silently recreated from the
    shipped default at the next run).
    """
    path, output = path.resolve(), output_dir.resolve()
    if not path.is_relative_to(output):
        return None
    return (
        f"{setting} ({path}) is inside [publish] output ({output}): each publish replaces "
        "that folder whole and would delete it; keep it outside the output folder"
    )


def output_overlap(settings: PublishSettings, root: Path) -> tuple[str, str] | None:
    """``(the setting it collides with, why)`` if publishing would destroy input.

    Every publish replaces the whole output folder with a fresh build, so an output folder
    that is, holds or sits inside the articles or static folder, or holds the project (and its
    config file), would lose those files on the second publish. Paths are compared resolved,
    so ``./articles/``, ``..`` detours and symlinks are caught.
    """
    problem = _overlap(settings, root)
    if problem is None:
        return None
    key, relation = problem
    shown = f"[publish] output ({settings.output_dir.resolve()})"
    lost = "the config file and everything beside it" if key == "output" else f"your {key} files"
    return (
        key,
        f"{shown} {relation}; publishing replaces the output folder and would delete {lost}: "
        f"choose a folder of its own{_suggestion(settings, root)}",
    )


def _overlap(settings: PublishSettings, root: Path) -> tuple[str, str] | None:
    """``(the setting it collides with, how)``: the decision of :func:`output_overlap`."""
    output = settings.output_dir.resolve()
    root = root.resolve()
    if root.is_relative_to(output):
        relation = "is the project folder" if output == root else f"contains the project {root}"
        return "output", relation
    for key, folder in (("articles", settings.articles_dir), ("static", settings.static_dir)):
        other = folder.resolve()
        if output == other:
            return key, f"is the {key} folder"
        if other.is_relative_to(output):
            return key, f"contains the {key} folder {other}"
        if output.is_relative_to(other):
            return key, f"is inside the {key} folder {other}"
    return None


# Output folders to suggest, the first that would be accepted: never the one refused.
_OUTPUT_NAMES = ("public", "site", "output", "www")


def _suggestion(settings: PublishSettings, root: Path) -> str:
    """``", such as site"``: an output folder that this very check would accept, or nothing.

    Suggesting ``public`` when ``public`` is the folder refused (articles kept in it) would
    send the user round in a circle.
    """
    refused = settings.output_dir.resolve()
    for name in (*_OUTPUT_NAMES, f"../{root.name}-public"):
        candidate = (root / name).resolve()
        if candidate != refused and _overlap(replace(settings, output_dir=candidate), root) is None:
            return f", such as {name}"
    return ""
