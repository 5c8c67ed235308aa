"""Writing without half-written results: a file via temp-and-rename, a directory via a swap.

A reader polling the feed while a publish runs must see either the old site or the new one,
never a mix, a truncated file or a 404. Files are written to a temp name and renamed; the
output directory is built beside the old one and exchanged with it in one ``renameat2``
call (Linux), falling back to two renames elsewhere.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from feeds.errors import InputError

MARKER = ".communique"
_MARKER_INTRO = "# Written by `communique publish`; this directory is replaced on every publish.\n"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` via a temp file and rename, keeping its permissions."""
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def marker_bytes(base_url: str) -> bytes:
    """The marker file: proof the directory is ours, and the URL the site was built for."""
    return f"{_MARKER_INTRO}base_url = {base_url}\n".encode()


def published_base_url(directory: Path) -> str | None:
    """The ``base_url`` the output in ``directory`` was built for, if it was built by us."""
    try:
        text = (directory / MARKER).read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("base_url = "):
            return line.removeprefix("base_url = ").strip()
    return None


def write_tree(files: Mapping[str, bytes | Path], output_dir: Path) -> None:
    """Write ``files`` (relative path -> bytes, or a file to copy) fresh, then swap them in.

    Unchanged files keep their modification time, so ``Last-Modified`` stays put for readers
    polling an unchanged feed. A non-empty directory without communique's marker file is never
    replaced: the output setting may point at something precious by mistake.
    """
    output_dir = output_dir.resolve()
    if output_dir.exists() and not output_dir.is_dir():
        raise InputError(
            output_dir, None, "output path is a file; set [publish] output to a directory"
        )
    if output_dir.is_dir() and any(output_dir.iterdir()) and not (output_dir / MARKER).exists():
        raise InputError(
            output_dir,
            None,
            "output directory has files communique did not write; empty it or choose another",
        )
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.new-", dir=output_dir.parent))
    try:
        for name, data in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, Path):
                shutil.copy2(data, target)  # the source's mtime becomes Last-Modified
            else:
                target.write_bytes(data)
                _keep_mtime_if_unchanged(target, output_dir / name, data)
        for directory in [staging, *(p for p in staging.rglob("*") if p.is_dir())]:
            directory.chmod(0o755)
        if output_dir.exists() and _exchange(staging, output_dir):
            shutil.rmtree(staging, ignore_errors=True)  # staging now holds the old output
            return
        _replace_in_two_steps(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _keep_mtime_if_unchanged(target: Path, previous: Path, data: bytes) -> None:
    try:
        stat = previous.stat()
        if stat.st_size == len(data) and previous.read_bytes() == data:
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    except OSError:
        pass


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories atomically; False where the system cannot (then nothing moved)."""
    try:
        renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except (OSError, TypeError):  # no C library to ask (Windows)
        return False
    if renameat2 is None:
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _replace_in_two_steps(staging: Path, output_dir: Path) -> None:
    retired = None
    try:
        if output_dir.exists():
            retired = Path(
                tempfile.mkdtemp(prefix=f".{output_dir.name}.old-", dir=output_dir.parent)
            )
            os.replace(output_dir, retired / "out")
        os.replace(staging, output_dir)
    except BaseException:
        if retired is not None and not output_dir.exists():
            os.replace(retired / "out", output_dir)  # put the previous output back
        raise
    finally:
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
