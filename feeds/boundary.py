"""Which files a publish may read, so that a symlink cannot put a secret on the public site.

``ln -s ../smtp-password static/robots.txt`` or ``ln -s /etc/shadow articles/a/notes.txt``
would otherwise publish the target's bytes. Files are published from two folders,
``[publish] static`` and ``[publish] articles`` (articles and their asset folders), and a file
or folder found in one is used only when its real path, every symlink followed, lies inside
that same folder: a link may point elsewhere in it, never at the config, the database, the
password file or anything else beside them. One leading outside is left out and named in one
warning line. Names starting with ``.`` or ``_`` are never published, so they are not
followed either.

The two folders themselves must lie in the project (the folder holding communique.toml)
unless communique.toml names them elsewhere: config.py refuses one a symlink leads out of.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Skipped:
    """A file or folder a publish leaves out, and why: one warning line, the publish goes on."""

    path: Path  # as found in the folder (the symlink, not its target)
    reason: str  # what follows the path in a sentence: "is a symlink to …", "has a <script> …"

    def __str__(self) -> str:
        return f"{self.path} {self.reason}; not published"


def outside(path: Path, real: Path, folder: Path) -> Skipped:
    """Why a symlink leading out of the folder being published is left out."""
    return Skipped(path, f"is a symlink to {real}, outside {folder} (copy it there to publish it)")


def is_hidden_name(name: str) -> bool:
    """Names starting with ``.`` or ``_`` are the author's scratch space: never published."""
    return name.startswith((".", "_"))


def walk(
    folder: Path, within: Path, wanted: Callable[[Path], bool] = lambda _: True
) -> tuple[list[Path], list[Skipped]]:
    """``(files, skipped)`` under ``folder``: files sorted, as paths under ``folder``.

    Symlinks are followed while their real path stays inside ``within`` (resolved: the static
    or articles folder that ``folder`` is or lies in); a linked folder is entered once, and
    never from inside itself, so a loop ends. A link leading outside is skipped and named, and a
    folder it leads to is never listed. ``wanted`` picks files by path: a link to a file that
    is not wanted is passed over without a word.
    """
    files: list[Path] = []
    skipped: list[Skipped] = []
    try:
        start = folder.resolve()
    except (OSError, RuntimeError):  # a link loop: nothing there to publish
        return [], []
    if not start.is_relative_to(within):
        return [], [outside(folder, start, within)]
    if not start.is_dir():
        return [], []
    stack = [(folder, (start,))]
    followed: set[Path] = set()  # each linked folder once: crossed links cannot multiply a tree
    while stack:
        directory, chain = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError:
            continue  # unreadable: as before, nothing of it is published
        for entry in entries:
            if is_hidden_name(entry.name):
                continue
            path = directory / entry.name
            if entry.is_symlink():
                try:
                    real = path.resolve()
                except (OSError, RuntimeError):
                    continue  # a link loop leads nowhere
                if not real.is_relative_to(within):
                    if real.is_dir() or wanted(path):
                        skipped.append(outside(path, real, within))
                    continue
                if real.is_dir():
                    if real not in chain and real not in followed:
                        followed.add(real)
                        stack.append((path, (*chain, real)))
                elif real.is_file() and wanted(path):
                    files.append(path)
            elif entry.is_dir(follow_symlinks=False):
                stack.append((path, (*chain, chain[-1] / entry.name)))
            elif entry.is_file(follow_symlinks=False) and wanted(path):
                files.append(path)
    return sorted(files), sorted(skipped)
