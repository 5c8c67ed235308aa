"""Hostile and mistaken source lists: invalid URLs, one feed spelled many ways, entity bombs.

Each test runs the real CLI on a project in ``tmp_path`` (click's runner, or a real process
where a closed pipe matters) against a real loopback :class:`FeedServer`; nothing of ours is
mocked. What is checked is what a user sees: the exit code, the one line naming
``file:line`` and what survives in ``sources.opml`` and the database.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from feedserver import FeedServer

from cli import main
from sources.opml import parse_opml

CONFIG = """\
[site]
base_url = "https://example.org/"
[aggregate]
sources = "sources.opml"
database = "c.db"
"""


def opml(*outlines: str, prolog: str = "") -> str:
    """An OPML document with one outline element per line (line 3 onwards), so lines are known."""
    body = "\n".join(outlines)
    return f'<?xml version="1.0"?>{prolog}\n<opml version="2.0"><head/><body>\n{body}\n</body></opml>\n'


def feed(url: str, text: str = "feed") -> str:
    return f'<outline type="rss" text="{text}" xmlUrl="{url}"/>'


def items(prefix: str, n: int) -> list[dict[str, str]]:
    return [
        {
            "title": f"{prefix} {i}",
            "guid": f"{prefix}-{i}",
            "link": f"https://news.example/{prefix}/{i}",
            "pubDate": f"Mon, 0{i + 1} Jun 2025 10:00:00 +0000",
        }
        for i in range(n)
    ]


class Project:
    def __init__(self, root: Path, server: FeedServer) -> None:
        self.root = root
        self.server = server
        self.config = root / "communique.toml"
        self.config.write_text(CONFIG, encoding="utf-8")
        self.opml = root / "sources.opml"

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(
            main, ["--config", str(self.config), *args], catch_exceptions=False
        )

    def urls(self) -> list[str]:
        return [s.url for s in parse_opml(self.opml.read_bytes(), "sources.opml")]

    def count(self, sql: str) -> int:
        with contextlib.closing(sqlite3.connect(self.root / "c.db")) as db:
            return db.execute(sql).fetchone()[0]


@pytest.fixture
def server():
    with FeedServer() as feed_server:
        yield feed_server


@pytest.fixture
def project(tmp_path: Path, server: FeedServer) -> Project:
    return Project(tmp_path, server)


# --- a closed pipe, the digest's files ------------------------------------------------------


def test_a_closed_stdout_ends_the_command_quietly(project):
    project.opml.write_text(
        opml(*(feed(f"https://example.org/{i}.xml", f"Feed {i}") for i in range(3_000))),
        encoding="utf-8",
    )  # far more than a pipe buffer holds, so the writer meets the closed pipe
    writer = subprocess.Popen(
        [sys.executable, "-m", "cli", "--config", str(project.config), "sources", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=project.root,
    )
    reader = subprocess.Popen(["head", "-1"], stdin=writer.stdout, stdout=subprocess.PIPE)
    assert writer.stdout is not None
    writer.stdout.close()  # only head holds the read end
    first_line, _ = reader.communicate(timeout=60)
    _, errors = writer.communicate(timeout=60)
    assert first_line == b"Feed 0\n"
    assert errors == b""
    assert writer.returncode == 141


def test_digest_writes_its_record_where_the_help_says(project):
    project.opml.write_text(opml(), encoding="utf-8")
    help_text = project.run("digest", "--help").stdout
    assert "static/digest/" in help_text and "digests/" not in help_text
    assert "The .json file is written whatever --format says" in " ".join(help_text.split())
    result = project.run("digest", "--format", "md", "--now", "2025-06-02T12:00:00Z")
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (project.root / "static" / "digest").iterdir())
    assert written == ["digest-2025-06-02.json", "digest-2025-06-02.md"]
