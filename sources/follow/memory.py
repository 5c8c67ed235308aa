"""Memory a process has freed, given back to the system after a big document.

Parsing a multi-megabyte feed builds a hundred megabytes of short-lived objects (feedparser's
dictionaries, lxml's tree, the entries' texts). Python frees them, but glibc's allocator
keeps the pages for reuse: a parser process that once read an 8 MB feed stays at 115 MB
where it began at 40, and each of a run's processes sits at the size of the largest document
it ever handled. Handing the free pages back (``malloc_trim``) after each big document keeps
a run's memory at what it is working on now, for a millisecond or two each time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable

BIG = 1024 * 1024  # a document this size or larger is followed by giving memory back


def _trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    try:
        library = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return library.malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _trim()


def give_back_memory(size: int) -> None:
    """After a document of ``size`` bytes is done with: if it was big, collect what only the
    cycle collector frees and return the free pages to the system (nowhere else: for a
    small document it would cost more than it gives)."""
    if size < BIG:
        return
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
