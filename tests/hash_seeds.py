"""A Python script's output under several string-hash seeds, for tests of determinism.

Sets and dicts of strings are ordered by hashes that change with every process, so code
that let that order decide (a float sum added in set order, a tie broken by it) prints
different things under different ``PYTHONHASHSEED`` values; the tests compare them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def outputs_under_hash_seeds(script: str, seeds: Sequence[str] = ("0", "1", "4242")) -> list[str]:
    """What ``script`` (run with ``python -c`` from the repository root) prints under each of
    ``seeds``, in order."""
    return [
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            timeout=120,
        ).stdout
        for seed in seeds
    ]
