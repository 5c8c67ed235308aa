"""communique.toml is read once a command (issue 20): one settings loader for [site],
[publish], [aggregate], [digest], [mail] and the topics, through the real command.

The config file is a named pipe that gives its text once: a command that opened the file a
second time would wait for a writer that never comes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

COMMUNIQUE = Path(sys.executable).parent / "communique"
CONFIG = """\
[site]
base_url = "https://notes.example.org/"
timezone = "Europe/Brussels"

[aggregate]
sources = "sources.opml"
database = "c.db"

[digest]
title = "Once"

[topics.competition]
name = "Competition policy"
terms = { "tech giant" = 5 }
"""


def give_once(fifo: Path, text: str) -> threading.Thread:
    """A writer that hands ``text`` to the first reader of ``fifo``, then closes it."""

    def write() -> None:
        with contextlib.suppress(OSError), fifo.open("w", encoding="utf-8") as pipe:
            pipe.write(text)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


@pytest.mark.parametrize(
    "command",
    [
        ["sources", "list"],
        ["digest", "--since", "2025-03-10", "--until", "2025-03-11", "--format", "md"],
    ],
)
def test_the_config_file_is_read_once_a_command(tmp_path, command):
    config = tmp_path / "communique.toml"
    os.mkfifo(config)
    writer = give_once(config, CONFIG)
    try:
        result = subprocess.run(
            [str(COMMUNIQUE), "--config", str(config), *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(command)}` opened communique.toml again after reading it")
    finally:
        if writer.is_alive():  # the command never opened it: let the writer go
            os.close(os.open(config, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(5)
    assert result.returncode == 0, result.stderr
    if command[0] == "digest":  # the file's [digest] title and [site] timezone were used
        (written,) = (tmp_path / "static" / "digest").glob("digest-*.md")
        assert written.name == "digest-2025-03-10.md"
        assert written.read_text(encoding="utf-8").startswith("# Once")
