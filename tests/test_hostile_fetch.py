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
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from feedserver import FeedServer, Route, rss

from cli import main
from sources.follow.opml import Source, save_source_list
from sources.store.database import Store

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

    The peak is the command's own and that of every descendant it waited for (the parser
    workers too), and nothing else the test ran. It is taken by a small Python process that
    starts the command and reports ``RUSAGE_CHILDREN``: Linux carries a parent's resident
    size into the peak of a child it forks (at exec), so a command started straight from
    pytest, grown large by earlier tests, would report pytest's size, not its own.
    """
    out, err, peak = cwd / "child.out", cwd / "child.err", cwd / "child.peak"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", _MEASURE, str(peak), *command],
            cwd=cwd,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    try:
        while True:
            pid, status, _ = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            assert time.monotonic() < deadline, "the command did not finish"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.returncode = os.waitstatus_to_exitcode(status)
    peak_mb = int(peak.read_text()) // 1024  # kilobytes on Linux
    return process.returncode, peak_mb, out.read_text(), err.read_text()


_MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "with open(sys.argv[1], 'w') as peak:\n"
    "    peak.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


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


# --- one bad source never stops a run -------------------------------------------------------


def hostile_sources(server: FeedServer) -> tuple[list[str], list[str]]:
    """``(hostile, good)`` source URLs: each hostile one broke every run before."""
    routes = {
        "/js.xml": Route(status=302, location="javascript:alert(1)"),
        "/port.xml": Route(status=301, location="http://127.0.0.1:99999/"),
        "/ipv6.xml": Route(status=307, location="http://[::1/"),
        "/long.xml": Route(status=302, location="http://127.0.0.1/" + "a" * 10_000),
        "/slow-down.xml": Route(status=429, headers={"Retry-After": "9" * 20}),
        "/length.xml": Route(handler=raw(200, [("Content-Length", "9" * 30)], rss(GOOD_ITEMS))),
        "/negative.xml": Route(handler=raw(200, [("Content-Length", "-5")], rss(GOOD_ITEMS))),
        "/bad-link.xml": Route(
            body=rss([{"title": "Bad link", "link": "http://[::1/", "guid": "urn:bad"}])
        ),  # a feed, not hostile: the item is kept, its link is not
        "/good.xml": Route(body=rss(GOOD_ITEMS)),
        # a valid feed whose validators are not ASCII: kept, they would poison the next request
        "/etag.xml": Route(
            body=rss(GOOD_ITEMS, title="Accents"),
            etag=False,
            last_modified=False,
            headers={"ETag": '"\xe9t\xe9"', "Last-Modified": "lundi, 3 f\xe9vrier 2025"},
        ),
    }
    for path, route in routes.items():
        server.route(path, route)
    paths = ("/js.xml", "/port.xml", "/ipv6.xml", "/long.xml", "/slow-down.xml", "/length.xml")
    hostile = [server.url(p) for p in (*paths, "/negative.xml")]
    good = [server.url(p) for p in ("/good.xml", "/etag.xml", "/bad-link.xml")]
    return hostile, good


def test_hostile_sources_fail_alone_run_after_run(server, project):
    hostile, good = hostile_sources(server)
    unfetchable = "http://127.0.0.1:99999/feed"  # an invalid port in the list itself
    project.subscribe(*hostile, unfetchable, *good)

    for run in range(3):
        started = datetime.now(UTC).replace(microsecond=0)
        result = project.cli("aggregate", "--json", *(["--all"] if run else []))
        assert result.exit_code == 1, result.output
        assert f"{unfetchable!r} has an invalid port" in result.stderr  # skipped, named
        summary = json.loads(result.stdout)
        assert sorted(f["url"] for f in summary["failures"]) == sorted(hostile), summary
        assert summary["failed"] == len(hostile)
        assert summary["ok"] + summary["unchanged"] + summary["not_modified"] == len(good)
        assert all("internal error" not in f["error"] for f in summary["failures"]), summary
        rows = project.rows()
        assert rows[good[0]].entries == len(GOOD_ITEMS)
        assert rows[good[1]].entries == len(GOOD_ITEMS)
        assert rows[good[2]].entries == 1
        for url in hostile:  # recorded, and backed off
            assert rows[url].failures == run + 1, (url, rows[url])
            assert rows[url].last_error
            assert rows[url].next_due > started

    errors = {url: rows[url].last_error for url in hostile}
    assert "non-HTTP URL 'javascript:alert(1)'" in errors[hostile[0]]
    assert "invalid URL 'http://127.0.0.1:99999/'" in errors[hostile[1]]
    assert "invalid URL 'http://[::1/'" in errors[hostile[2]]
    assert "10017 characters" in errors[hostile[3]]
    assert errors[hostile[4]] == "HTTP 429"
    # Retry-After of 10^20 seconds: polled again after the documented cap of 7 days
    next_due = rows[hostile[4]].next_due
    assert timedelta(days=6) < next_due - datetime.now(UTC) <= timedelta(days=7)


def test_plain_run_from_cron_survives_hostile_sources(server, project):
    hostile, good = hostile_sources(server)
    project.subscribe(*hostile, *good)
    (project.root / "articles").mkdir()
    result = project.cli("run")
    assert result.exit_code == 1, result.output
    assert project.rows()[good[0]].entries == len(GOOD_ITEMS)


def test_an_unforeseen_error_in_one_source_is_recorded_as_its_failure(server, project):
    """Nothing known raises any more, so the database is made to: a trigger refuses one
    item, as a full disk or a corrupt page would refuse a write. That source's transaction
    rolls back whole (none of its items is half stored), its failure is recorded and backed
    off, and the other source is stored, run after run."""
    boom = {"title": "Boom", "guid": "urn:boom", "description": "refused by the database"}
    server.route("/good.xml", Route(body=rss(GOOD_ITEMS)))
    server.route("/boom.xml", Route(body=rss([*GOOD_ITEMS, boom], title="Boom feed")))
    good, broken = project.subscribe(server.url("/good.xml"), server.url("/boom.xml"))
    with Store(project.db):  # the schema, so the trigger has a table to sit on
        pass
    with contextlib.closing(sqlite3.connect(project.db)) as db, db:
        db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON entries WHEN NEW.title = 'Boom' "
            "BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )

    for run in range(2):
        result = project.cli("aggregate", "--json", *(["--all"] if run else []))
        assert result.exit_code == 1, result.output
        (failure,) = json.loads(result.stdout)["failures"]
        assert failure["url"] == broken
        assert "internal error while handling this source: IntegrityError: boom" in failure["error"]
        rows = project.rows()
        assert rows[good].entries == len(GOOD_ITEMS)
        assert rows[broken].entries == 0  # the whole source rolled back
        assert rows[broken].failures == run + 1
        assert rows[broken].next_due > datetime.now(UTC)


@pytest.mark.parametrize("wait", ["-1", "nan", "inf", "-inf", "1e300", "86401"])
def test_a_wait_that_is_negative_endless_or_over_a_day_is_a_usage_error(project, wait):
    project.subscribe()
    result = project.cli("aggregate", "--wait", wait)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("communique aggregate: invalid value for --wait: ")
    assert "from 0 to 86,400" in result.stderr and result.stderr.count("\n") == 1
    assert not project.db.exists()


def test_a_wait_of_a_day_is_accepted(server, project):
    server.route("/good.xml", Route(body=rss(GOOD_ITEMS)))
    (url,) = project.subscribe(server.url("/good.xml"))
    result = project.cli("aggregate", "--wait", "86400", "--json")
    assert result.exit_code == 0, result.output
    assert project.rows()[url].entries == len(GOOD_ITEMS)


# --- implausible dates ----------------------------------------------------------------------

BAD_DATES = {
    "year-one": "Mon, 01 Jan 0001 00:00:00 GMT",
    "offset": "Mon, 03 Feb 2025 10:00:00 +9999",
    "negative-year": "-0001-01-01T00:00:00Z",
    "five-digit-year": "10000-01-01T00:00:00Z",
    "before-1990": "Sun, 31 Dec 1989 12:00:00 GMT",
    "far-future": "Tue, 10 Jun 2031 14:00:00 +0200",
}


def aggregated_dates(project) -> tuple[datetime, dict[str, datetime], datetime]:
    """Aggregate, then ``(time before, stored date of each "Summit" item, time after)``."""
    before = datetime.now(UTC).replace(microsecond=0)
    result = project.cli("aggregate", "--json")
    after = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    found = project.cli("search", "--json", "--limit", "50", "Summit")
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    return before, {h["title"]: datetime.fromisoformat(h["published_at"]) for h in hits}, after


def test_implausible_dates_are_first_seen_times_with_a_warning(server, project):
    items = [
        {"title": f"Summit {name}", "guid": f"urn:{name}", "pubDate": date}
        for name, date in BAD_DATES.items()
    ]
    items.append({"title": "Summit fine", "guid": "urn:fine", "pubDate": "Mon, 03 Feb 2025 10:00:00 +1400"})  # fmt: skip
    server.route("/dates.xml", Route(body=rss(items)))
    (url,) = project.subscribe(server.url("/dates.xml"))

    before, dates, after = aggregated_dates(project)
    assert dates["Summit fine"] == datetime(2025, 2, 2, 20, 0, tzinfo=UTC)  # +14:00 is real
    for name in BAD_DATES:
        assert before <= dates[f"Summit {name}"] <= after, (name, dates[f"Summit {name}"])
    warning = project.rows()[url].warning
    assert warning and f"{len(BAD_DATES)} implausible date(s)" in warning, warning


def test_sources_list_shows_the_warning_of_a_sources_last_parse(server, project):
    items = [
        {"title": "Summit far", "guid": "urn:far", "pubDate": BAD_DATES["far-future"]},
        {"title": "Summit fine", "guid": "urn:fine", "pubDate": "Mon, 03 Feb 2025 10:00:00 +0000"},
    ]
    server.route("/dates.xml", Route(body=rss(items)))
    server.route("/clean.xml", Route(body=rss(GOOD_ITEMS)))
    dated, clean = project.subscribe(server.url("/dates.xml"), server.url("/clean.xml"))
    assert project.cli("aggregate").exit_code == 0

    listed = project.cli("sources", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {row["url"]: row for row in json.loads(listed.stdout)}
    warning = rows[dated]["warning"]
    assert warning == project.rows()[dated].warning  # what the store keeps, as it keeps it
    assert "1 implausible date(s)" in warning and BAD_DATES["far-future"] in warning, warning
    assert rows[clean]["warning"] is None
    table = project.cli("sources", "list")
    assert table.exit_code == 0, table.output
    assert f"  warning: {warning}\n" in table.stdout
    assert table.stdout.count("  warning: ") == 1


# --- interrupting a run ---------------------------------------------------------------------


def session_processes(session: int) -> list[str]:
    """Processes still alive in a session (ours: the run, its fork server and its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session and fields[0] != "Z":  # field 6 (session), not a zombie
            found.append(f"{entry.name} {stat.split(')')[0]})")
    return found


def wait_until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def committed(project: Project, url: str) -> bool:
    """The source's items are stored (read without opening the database while it is created)."""
    if not project.db.exists():
        return False
    uri = f"file:{project.db}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM entries e JOIN sources s ON s.id = e.source_id "
                "WHERE s.url = ?",
                (url,),
            ).fetchone()
    except sqlite3.Error:  # the schema is being created
        return False
    return count == len(GOOD_ITEMS)


@pytest.fixture
def stalled_run(server, project) -> Iterator[tuple[subprocess.Popen, Project, str]]:
    """A run that stored one source and waits for another that never answers."""
    release = threading.Event()

    def stall(handler: BaseHTTPRequestHandler) -> None:
        release.wait(30)

    server.route("/stall.xml", Route(handler=stall))
    server.route("/good.xml", Route(body=rss(GOOD_ITEMS)))
    _, good = project.subscribe(server.url("/stall.xml"), server.url("/good.xml"))
    project.config.write_text(
        project.config.read_text().replace('read_timeout = "2s"', 'read_timeout = "60s"')
        .replace('deadline = "10s"', 'deadline = "60s"'),
        encoding="utf-8",
    )  # fmt: skip
    process = subprocess.Popen(
        project.command("aggregate"),
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a session of its own: its processes can be found and reaped
    )
    try:
        stored = wait_until(
            lambda: committed(project, good) and bool(server.requests_for("/stall.xml"))
        )
        assert stored, process.poll()
        assert len(session_processes(process.pid)) >= 3  # the run, its fork server, a worker
        yield process, project, good
    finally:
        release.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)


def test_ctrl_c_prints_one_line_exits_130_and_leaves_no_process(stalled_run):
    process, project, good = stalled_run
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert stderr.decode().splitlines() == ["communique: interrupted; what was stored is kept"]
    assert wait_until(lambda: not session_processes(process.pid), 5), session_processes(process.pid)
    assert project.rows()[good].entries == len(GOOD_ITEMS)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_run_leaves_no_worker_behind(stalled_run, sig):
    process, project, good = stalled_run
    process.send_signal(sig)
    process.wait(timeout=20)
    assert wait_until(lambda: not session_processes(process.pid), 10), session_processes(
        process.pid
    )
    assert project.rows()[good].entries == len(GOOD_ITEMS)


def test_ctrl_c_during_sources_add_is_one_line_and_exit_130(server, project):
    release = threading.Event()
    server.route("/stall.xml", Route(handler=lambda handler: release.wait(30)))
    project.subscribe()
    before = project.opml.read_bytes()
    process = subprocess.Popen(
        project.command("sources", "add", server.url("/stall.xml")),
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert wait_until(lambda: bool(server.requests_for("/stall.xml"))), process.poll()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        release.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr
    assert stderr.decode().splitlines() == ["communique: interrupted"]
    assert stdout == b""
    assert project.opml.read_bytes() == before


IMPOSSIBLE_DATES = {
    "month-13": "2025-13-45T00:00:00Z",  # feedparser alone: 2026-01-01
    "hour-25": "2025-03-03T25:61:61Z",  # feedparser alone: 2025-03-04T02:02:01
    "february-30": "2025-02-30T10:00:00Z",
    "day-zero": "2025-03-00T10:00:00+01:00",
    "minute-60": "2025-03-03T10:60:00Z",
}


def test_impossible_feed_dates_are_first_seen_times_with_a_warning(server, project):
    def entry(title: str, date: str) -> str:
        return f"<entry><id>urn:{title}</id><title>Summit {title}</title><updated>{date}</updated></entry>"

    dates = {**IMPOSSIBLE_DATES, "fine": "2025-03-03T23:59:59Z", "leap": "2016-12-31T23:59:60Z"}
    body = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Dates</title><id>urn:dates</id><updated>2025-03-03T00:00:00Z</updated>"
        + "".join(entry(name, date) for name, date in dates.items())
        + "</feed>"
    ).encode()
    server.route("/dates.atom", Route(body=body, content_type="application/atom+xml"))
    (url,) = project.subscribe(server.url("/dates.atom"))

    before, stored, after = aggregated_dates(project)
    assert stored["Summit fine"] == datetime(2025, 3, 3, 23, 59, 59, tzinfo=UTC)
    assert stored["Summit leap"] == datetime(2017, 1, 1, tzinfo=UTC)  # a real leap second
    for name in IMPOSSIBLE_DATES:
        assert before <= stored[f"Summit {name}"] <= after, (name, stored[f"Summit {name}"])
    warning = project.rows()[url].warning
    assert warning and f"{len(IMPOSSIBLE_DATES)} implausible date(s)" in warning, warning
    assert "month, day, time" in warning


# --- many tiny items ------------------------------------------------------------------------


def tiny_items(count: int) -> bytes:
    """An RSS feed of ``count`` items of about 95 bytes: 105,000 of them fit under 10 MiB."""
    item = (
        "<item><title>t{0}</title><guid>urn:x:{0}</guid><link>https://n.example/{0}</link></item>"
    )
    body = "".join(item.format(i) for i in range(count))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Tiny</title>{body}</channel></rss>'.encode()  # fmt: skip


def test_a_feed_of_100000_tiny_items_fails_without_being_parsed(server, project):
    body = tiny_items(105_000)
    assert 9_000_000 < len(body) < 10 * 1024 * 1024  # under the byte cap: that cap alone let it in
    server.route("/tiny.xml", Route(body=body))
    server.route("/good.xml", Route(body=rss(GOOD_ITEMS)))
    tiny, good = project.subscribe(server.url("/tiny.xml"), server.url("/good.xml"))

    code, peak_mb, stdout, stderr = run_child(project.command("aggregate", "--json"), project.root)
    assert code == 1, stderr
    assert peak_mb < 150, f"peak RSS {peak_mb} MB"  # parsed, it took over 400 MB
    summary = json.loads(stdout)
    assert summary["failures"] == [
        {
            "url": tiny,
            "error": "feed has 105,000 entries; at most 5,000 are read "
            "(raise [aggregate] max_items to read it)",
        }
    ]
    rows = project.rows()
    assert rows[tiny].last_status == "too many entries" and rows[tiny].entries == 0
    assert rows[tiny].next_due > datetime.now(UTC)  # backed off like any failure
    assert rows[good].entries == len(GOOD_ITEMS)


def test_max_items_is_a_setting_and_sources_add_says_the_same(server, project):
    server.route("/thirty.xml", Route(body=tiny_items(30)))
    url = server.url("/thirty.xml")
    project.subscribe()
    settings = project.config.read_text(encoding="utf-8")

    project.config.write_text(settings + "max_items = 29\n", encoding="utf-8")
    added = project.cli("sources", "add", url)
    assert added.exit_code == 2, added.output
    assert added.stderr.startswith(f"communique: {url}: feed has 30 entries; at most 29 are read")
    project.subscribe(url)
    result = project.cli("aggregate", "--json")
    assert result.exit_code == 1
    assert "feed has 30 entries" in json.loads(result.stdout)["failures"][0]["error"]

    project.config.write_text(settings + "max_items = 30\n", encoding="utf-8")
    result = project.cli("aggregate", "--json", "--all")
    assert result.exit_code == 0, result.output
    assert project.rows()[url].entries == 30


def test_max_items_of_zero_is_refused_with_its_line(project):
    project.config.write_text(project.config.read_text() + "max_items = 0\n", encoding="utf-8")
    result = project.cli("aggregate")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{project.config}:9: [aggregate] max_items must be at least 1")
