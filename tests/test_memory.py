"""A process gives the memory a big document took back to the system once it is done."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sources.follow import memory

PROGRAM = """
import sys
from sources.follow.memory import BIG, give_back_memory

def resident():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS:")) // 1024

# what parsing a big feed leaves: texts of a few hundred bytes to a few kilobytes, from C's
# allocator (Python's own takes only the smallest objects), most freed, a few kept
pieces = [bytes(600 + n % 3000) for n in range(150_000)]
pieces = [p for n, p in enumerate(pieces) if n % 97 == 0]
before = resident()
give_back_memory(int(sys.argv[1]))
print(before, resident())
"""


def resident_before_and_after(size: int) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(size)], capture_output=True, text=True, check=True
    ).stdout
    before, after = map(int, out.split())
    return before, after


@pytest.mark.skipif(memory._MALLOC_TRIM is None, reason="no malloc_trim in this C library")
def test_after_a_big_document_the_freed_memory_goes_back_to_the_system():
    before, after = resident_before_and_after(memory.BIG)
    assert before - after >= 50, (before, after)  # MB


def test_after_a_small_document_nothing_is_done():
    before, after = resident_before_and_after(memory.BIG - 1)
    assert abs(before - after) < 10, (before, after)
