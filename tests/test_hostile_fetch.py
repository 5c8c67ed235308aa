"""Hostile servers and source lists against `communique aggregate` and `sources add`.

Each test serves something a hostile or broken server sends (a compression bomb, redirects to
`javascript:` or to port 99999, absurd headers, impossible dates, a response that never
comes) from a real server on 127.0.0.1 and runs the real command, in-process through click or
as a child process when its memory, its signals or its worker processes are what is tested.
The promises: one bad source is that source's recorded failure and never stops a run; no
body, however encoded, grows memory past the size cap; Ctrl-C ends a run with one line, exit
130, and no process left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from feedserver import FeedServer, Route, rss

from cli import main
from sources.opml import Source, save_source_list
from sources.store import Store

COMMUNIQUE = Path(sys.executable).parent / "communique"
RSS_LIMIT_MB = 300
GOOD_ITEMS = [
    {
        "title": "Council adopts sanctions package",
        "link": "https://news.example/sanctions",
        "guid": "https://news.example/sanctions",
        "description": "The Council adopted restrictive measures.",
        "pubDate": "Mon, 03 Feb 2025 10:00:00 +0000",
    },
    {
        "title": "High Representative visits Kyiv",
        "link": "https://news.example/kyiv",
        "guid": "https://news.example/kyiv",
        "description": "The High Representative met the foreign minister.",
        "pubDate": "Tue, 04 Feb 2025 09:30:00 +0000",
    },
]


# --- harness --------------------------------------------------------------------------------


class Project:
    """A tmp directory with communique.toml, sources.opml and c.db; the CLI run on them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "communique.toml"
        self.opml = root / "sources.opml"
        self.db = root / "c.db"
        self.config.write_text(
            "[site]\n"
            'base_url = "https://example.org/"\n'
            "[aggregate]\n"
            'sources = "sources.opml"\n'
            'database = "c.db"\n'
            "workers = 1\n"
            'read_timeout = "2s"\n'
            'deadline = "10s"\n',
            encoding="utf-8",
        )

    def subscribe(self, *urls: str) -> list[str]:
        save_source_list(self.opml, [Source(url, f"Source {i}") for i, url in enumerate(urls)])
        return list(urls)

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["--config", str(self.config), *args])

    def rows(self) -> dict:
        with Store(self.db) as store:
            return store.source_rows()

    def command(self, *args: str) -> list[str]:
        return [str(COMMUNIQUE), "--config", str(self.config), *args]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as feeds:
        yield feeds


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def raw(status: int, headers: list[tuple[str, str]], body: bytes = b"", close: bool = True):
    """A route handler that sends exactly these headers (no Content-Length unless given)."""

    def handle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for key, value in headers:
            handler.send_header(key, value)
        if close:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(body)

    return handle


def run_child(command: list[str], cwd: Path, timeout: float = 120) -> tuple[int, int, str, str]:
    """Run a command to its end: ``(exit code, peak RSS in MB, stdout, stderr)``.

    The peak comes from ``wait4`` on this very child, so it covers the child and every
    descendant it waited for (the parser workers too), and nothing else the test ran.
    """
    out, err = cwd / "child.out", cwd / "child.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=stdout, stderr=stderr, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            assert time.monotonic() < deadline, "the command did not finish"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.returncode = os.waitstatus_to_exitcode(status)
    peak_mb = usage.ru_maxrss // 1024  # kilobytes on Linux
    return process.returncode, peak_mb, out.read_text(), err.read_text()


# --- compression bombs ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """gzip of a single-member gzip of 1 GiB of zeros: about 12 KB, built in a second or two."""
    inner = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    megabyte = bytes(1 << 20)
    parts = [inner.compress(megabyte) for _ in range(1024)]
    parts.append(inner.flush())
    outer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = outer.compress(b"".join(parts)) + outer.flush()
    assert len(body) < 20_000
    return body


def serve_bomb(server: FeedServer, body: bytes) -> str:
    server.route(
        "/bomb.xml",
        Route(
            handler=raw(
                200,
                [
                    ("Content-Type", "application/rss+xml"),
                    ("Content-Encoding", "gzip, gzip"),
                    ("Content-Length", str(len(body))),
                ],
                body,
            )
        ),
    )
    return server.url("/bomb.xml")


def test_a_gzip_in_gzip_bomb_is_refused_with_memory_near_the_cap(server, project, bomb):
    bombed = serve_bomb(server, bomb)
    server.route("/good.xml", Route(body=rss(GOOD_ITEMS)))
    good = server.url("/good.xml")
    project.subscribe(bombed, good)

    code, peak_mb, stdout, stderr = run_child(project.command("aggregate", "--json"), project.root)
    assert code == 1, stderr
    assert peak_mb < RSS_LIMIT_MB, f"peak RSS {peak_mb} MB"
    summary = json.loads(stdout)
    assert summary["failures"] == [
        {"url": bombed, "error": f"response larger than {10 * 1024 * 1024} bytes"}
    ]
    assert summary["items_new"] == len(GOOD_ITEMS)
    rows = project.rows()
    assert rows[bombed].last_status == "too_large"
    assert rows[bombed].entries == 0
    assert rows[good].entries == len(GOOD_ITEMS)


def test_sources_add_refuses_a_bomb_in_one_line_with_memory_near_the_cap(server, project, bomb):
    bombed = serve_bomb(server, bomb)
    project.subscribe()

    code, peak_mb, _, stderr = run_child(project.command("sources", "add", bombed), project.root)
    assert code == 2, stderr
    assert peak_mb < RSS_LIMIT_MB, f"peak RSS {peak_mb} MB"
    assert stderr.count("\n") == 1, stderr
    assert bombed in stderr and "larger than" in stderr, stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("encoding", "encode", "message"),
    [
        ("gzip, gzip, gzip", lambda b: _gzip(_gzip(_gzip(b))), "chain of 3 codings"),
        ("br", lambda b: b, "unsupported Content-Encoding 'br'"),
        ("gzip", lambda b: _gzip(b)[:10] + b"\xff" * 50, "corrupt gzip body"),
    ],
    ids=["three-codings", "brotli", "corrupt"],
)
def test_encodings_not_accepted_are_that_sources_failure(
    server, project, encoding, encode, message
):
    body = encode(rss(GOOD_ITEMS))
    server.route("/odd.xml", encoded(encoding, body))
    server.route("/good.xml", Route(body=rss(GOOD_ITEMS)))
    odd, good = project.subscribe(server.url("/odd.xml"), server.url("/good.xml"))

    result = project.cli("aggregate", "--json")
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert [f["url"] for f in summary["failures"]] == [odd]
    assert message in summary["failures"][0]["error"]
    assert project.rows()[good].entries == len(GOOD_ITEMS)


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip, gzip", lambda b: _gzip(_gzip(b))),
        ("deflate, gzip", lambda b: _gzip(zlib.compress(b))),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
        ("identity, gzip", lambda b: _gzip(b[:100]) + _gzip(b[100:])),  # two gzip members
    ],
)
def test_encodings_a_server_may_legitimately_send_are_decoded(server, project, encoding, encode):
    body = encode(rss(GOOD_ITEMS))
    server.route("/feed.xml", encoded(encoding, body))
    (url,) = project.subscribe(server.url("/feed.xml"))
    result = project.cli("aggregate", "--json")
    assert result.exit_code == 0, result.output
    assert project.rows()[url].entries == len(GOOD_ITEMS)


def encoded(encoding: str, body: bytes) -> Route:
    headers = [("Content-Encoding", encoding), ("Content-Length", str(len(body)))]
    return Route(handler=raw(200, headers, body))


def _gzip(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()
