"""`communique aggregate` over real HTTP: a scripted server on 127.0.0.1, the CLI in-process.

Every test writes its own ``communique.toml`` and ``sources.opml`` in ``tmp_path``, runs the
command through click's runner, and asserts three things: what the command reported (exit
code and ``--json`` summary), what it stored (through the public :class:`sources.store.Store`
API and ``sources list --json``), and what the server saw (conditional headers, User-Agent,
Accept-Encoding, how often each path was requested). Nothing leaves the loopback interface.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner, Result
from feedserver import FIXTURES, Route, rss

from cli import main
from sources.follow.opml import Source, parse_opml, save_source_list
from sources.store.database import Store

SECOND = timedelta(seconds=1)

ITEMS = [
    {
        "title": "Council adopts sanctions package",
        "link": "https://news.example/sanctions",
        "guid": "https://news.example/sanctions",
        "description": "The Council adopted a new package of restrictive measures.",
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
EXTRA = {
    "title": "EU and Japan strengthen partnership",
    "link": "https://news.example/japan",
    "guid": "https://news.example/japan",
    "description": "A security and defence partnership with Japan.",
    "pubDate": "Wed, 05 Feb 2025 08:00:00 +0000",
}


# --- harness --------------------------------------------------------------------------------


class Aggregator:
    """One project directory: a config, a source list, a database, and the CLI run on them."""

    def __init__(self, root: Path, settings: dict[str, object]) -> None:
        self.root = root
        self.config = root / "communique.toml"
        self.opml = root / "sources.opml"
        self.db = root / "c.db"
        lines = [
            "[site]",
            'base_url = "https://example.org/"',
            "[aggregate]",
            'sources = "sources.opml"',
            'database = "c.db"',
        ]
        for key, value in settings.items():
            lines.append(f"{key} = {json.dumps(value)}")
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def subscribe(self, *urls: str) -> list[str]:
        save_source_list(
            self.opml, [Source(url, title=f"Source {i}") for i, url in enumerate(urls)]
        )
        return list(urls)

    def opml_urls(self) -> list[str]:
        return [s.url for s in parse_opml(self.opml.read_bytes(), self.opml)]

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(
            main, ["--config", str(self.config), *args], catch_exceptions=False
        )

    def aggregate(self, *args: str, expect: int | None = None) -> Run:
        """``aggregate --json``; the clock before and after, to bracket stored times."""
        before = datetime.now(UTC).replace(microsecond=0)
        started = time.monotonic()
        result = self.cli("aggregate", "--json", *args)
        elapsed = time.monotonic() - started
        after = datetime.now(UTC)
        assert result.exit_code in (0, 1), result.output
        if expect is not None:
            assert result.exit_code == expect, result.output
        return Run(result.exit_code, json.loads(result.stdout), before, after, elapsed)

    def sources_list(self) -> dict[str, dict[str, object]]:
        result = self.cli("sources", "list", "--json")
        assert result.exit_code == 0, result.output
        return {row["url"]: row for row in json.loads(result.stdout)}

    def store(self) -> Store:
        return Store(self.db)


class Run:
    """One ``aggregate --json`` run: exit code, summary, and when it ran."""

    def __init__(
        self, code: int, summary: dict, before: datetime, after: datetime, elapsed: float
    ) -> None:
        self.code = code
        self.summary = summary
        self.before = before
        self.after = after
        self.elapsed = elapsed

    def counts(self) -> dict[str, int]:
        keys = ("sources", "ok", "not_modified", "unchanged", "failed", "gone")
        return {k: self.summary[k] for k in keys} | {
            "new": self.summary["items_new"],
            "updated": self.summary["items_updated"],
        }

    def failure(self, url: str) -> str:
        messages = [f["error"] for f in self.summary["failures"] if f["url"] == url]
        assert len(messages) == 1, self.summary
        return messages[0]

    def around(self, delay: timedelta) -> tuple[datetime, datetime]:
        """The window a time ``delay`` after a moment of this run must fall in (stored to the second)."""
        return self.before + delay - SECOND, self.after + delay


def counts(**values: int) -> dict[str, int]:
    base = dict.fromkeys(("sources", "ok", "not_modified", "unchanged", "failed", "gone"), 0)
    return base | {"new": 0, "updated": 0} | values


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Aggregator]:
    def make(**settings: object) -> Aggregator:
        # one parsing process is plenty for a handful of small feeds and starts faster
        return Aggregator(tmp_path, {"workers": 1, **settings})

    return make


def entry_count(agg: Aggregator, url: str) -> int:
    with agg.store() as store:
        return store.source_rows()[url].entries


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused, never a remote address)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def send(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
) -> None:
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


def assert_polite_headers(seen_headers: dict[str, str]) -> None:
    agent = seen_headers["user-agent"]
    assert agent.startswith("communique/"), agent
    assert "https://example.org/" in agent, agent  # names its home page (the site's base_url)
    encodings = {e.strip() for e in seen_headers["accept-encoding"].split(",")}
    assert {"gzip", "deflate"} <= encodings
    assert "application/rss+xml" in seen_headers["accept"]


# --- conditional requests -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("etag", "last_modified"), [(True, True), (False, True)], ids=["etag+lm", "lm-only"]
)
def test_validators_are_sent_back_and_a_304_changes_nothing(server, project, etag, last_modified):
    route = server.route(
        "/feed.xml", Route(body=rss(ITEMS), etag=etag, last_modified=last_modified)
    )
    agg = project()
    (url,) = agg.subscribe(server.url("/feed.xml"))

    first = agg.aggregate(expect=0)
    assert first.counts() == counts(sources=1, ok=1, new=2)
    with agg.store() as store:
        state = store.state(url)
        stored = store.stored_entries(url)
    expected_lm = formatdate(route.mtime, usegmt=True)
    assert state.last_modified == expected_lm
    if etag:
        assert state.etag and state.etag.startswith('"')
    else:
        assert state.etag is None
    (request,) = server.requests_for("/feed.xml")
    assert "if-none-match" not in request.headers
    assert "if-modified-since" not in request.headers
    assert_polite_headers(request.headers)

    second = agg.aggregate("--all", expect=0)
    assert second.counts() == counts(sources=1, not_modified=1)
    conditional = server.requests_for("/feed.xml")[1].headers
    assert conditional.get("if-modified-since") == expected_lm
    if etag:
        assert conditional.get("if-none-match") == state.etag
    else:
        assert "if-none-match" not in conditional
    assert_polite_headers(conditional)
    with agg.store() as store:
        assert store.stored_entries(url) == stored
        row = store.source_rows()[url]
        assert store.state(url).etag == state.etag  # a 304 keeps the validators
        assert store.state(url).last_modified == expected_lm
    assert row.last_status == "304"
    assert row.entries == 2
    assert row.next_due is not None and second.before < row.next_due

    # nothing is due an hour early: no request at all
    third = agg.aggregate(expect=0)
    assert third.counts() == counts()
    assert len(server.requests_for("/feed.xml")) == 2


@pytest.mark.parametrize(
    "ignores_validators", [False, True], ids=["no-validators", "validators-ignored"]
)
def test_identical_body_is_unchanged_and_not_reparsed(server, project, ignores_validators):
    # either no validators at all, or an ETag the server never honours (always 200)
    headers = {"ETag": '"v1"'} if ignores_validators else {}
    server.route(
        "/plain.xml", Route(body=rss(ITEMS), etag=False, last_modified=False, headers=headers)
    )
    agg = project()
    (url,) = agg.subscribe(server.url("/plain.xml"))

    assert agg.aggregate(expect=0).counts() == counts(sources=1, ok=1, new=2)
    with agg.store() as store:
        stored = store.stored_entries(url)
        state = store.state(url)
    assert state.last_modified is None and state.body_hash
    assert state.etag == ('"v1"' if ignores_validators else None)

    for _ in range(2):
        again = agg.aggregate("--all", expect=0)
        assert again.counts() == counts(sources=1, unchanged=1)
    for request in server.requests_for("/plain.xml")[1:]:
        assert request.headers.get("if-none-match") == ('"v1"' if ignores_validators else None)
        assert "if-modified-since" not in request.headers
    with agg.store() as store:
        assert store.stored_entries(url) == stored
        assert store.state(url).body_hash == state.body_hash
        row = store.source_rows()[url]
    assert row.last_status == "200" and row.entries == 2 and row.last_error is None


def test_changed_body_brings_new_items_and_updates_in_place(server, project):
    route = server.route("/feed.xml", Route(body=rss(ITEMS)))
    agg = project()
    (url,) = agg.subscribe(server.url("/feed.xml"))
    agg.aggregate(expect=0)
    with agg.store() as store:
        old_etag = store.state(url).etag
        before = {e.key: e for e in store.stored_entries(url)}

    edited = dict(ITEMS[0], description="The Council adopted its sixteenth package.")
    route.body = rss([edited, ITEMS[1], EXTRA])
    run = agg.aggregate("--all", expect=0)
    assert run.counts() == counts(sources=1, ok=1, new=1, updated=1)
    assert server.requests_for("/feed.xml")[1].headers["if-none-match"] == old_etag
    with agg.store() as store:
        after = {e.key: e for e in store.stored_entries(url)}
        assert store.state(url).etag != old_etag
        assert [hit.title for hit in store.search("Japan")] == [EXTRA["title"]]
        assert [hit.title for hit in store.search("sixteenth")] == [ITEMS[0]["title"]]
    assert len(after) == 3
    first_key = "guid:" + ITEMS[0]["guid"]
    assert after[first_key].id == before[first_key].id  # updated in place, not duplicated
    assert after[first_key].content_hash != before[first_key].content_hash
    second_key = "guid:" + ITEMS[1]["guid"]
    assert after[second_key] == before[second_key]
    found = agg.cli("search", "--json", "Japan")
    assert found.exit_code == 0, found.output
    assert [(h["title"], h["link"]) for h in json.loads(found.stdout)] == [
        (EXTRA["title"], EXTRA["link"])
    ]


# --- redirects ------------------------------------------------------------------------------


def test_permanent_redirect_chain_moves_the_source_after_three_confirmations(server, project):
    server.route("/old.xml", Route(status=301, location="/mid.xml"))
    server.route("/mid.xml", Route(status=308, location=server.url("/new.xml")))
    server.route("/new.xml", Route(body=rss(ITEMS)))
    agg = project()
    (old,) = agg.subscribe(server.url("/old.xml"))
    new = server.url("/new.xml")

    for confirmation in (1, 2):
        run = agg.aggregate("--all", expect=0)
        assert run.summary["moved"] == []
        if confirmation == 1:
            assert run.counts() == counts(sources=1, ok=1, new=2)
        else:  # validators sent to the old URL reach the new one through the chain
            assert run.counts() == counts(sources=1, not_modified=1)
            assert server.requests_for("/new.xml")[-1].headers.get("if-none-match")
        with agg.store() as store:
            state = store.state(old)
            rows = store.source_rows()
        assert state.url == old
        assert state.redirect_target == new
        assert state.redirect_seen == confirmation
        assert set(rows) == {old}
        assert agg.opml_urls() == [old]

    third = agg.aggregate("--all", expect=0)
    assert third.summary["moved"] == [{"from": old, "to": new}]
    assert third.counts()["new"] == 0
    assert agg.opml_urls() == [new]
    with agg.store() as store:
        rows = store.source_rows()
        state = store.state(new)
    assert set(rows) == {new}
    assert rows[new].entries == 2 and rows[new].title == "Source 0"
    assert state.url == new and state.redirect_target is None and state.redirect_seen == 0
    assert agg.sources_list()[new]["entries"] == 2
    exported = agg.cli("sources", "export")
    assert exported.exit_code == 0 and [s.url for s in parse_opml(exported.stdout_bytes, "-")] == [
        new
    ]

    # the next poll goes straight to the new address
    paths_before = len(server.seen)
    fourth = agg.aggregate("--all", expect=0)
    assert fourth.counts()["new"] == 0 and fourth.summary["moved"] == []
    assert [s.path for s in server.seen[paths_before:]] == ["/new.xml"]
    assert len(server.requests_for("/old.xml")) == 3


def test_permanent_redirect_must_be_seen_on_consecutive_fetches(server, project):
    route = server.route("/old.xml", Route(status=301, location="/new.xml"))
    server.route("/new.xml", Route(body=rss(ITEMS)))
    agg = project()
    (old,) = agg.subscribe(server.url("/old.xml"))
    new = server.url("/new.xml")

    agg.aggregate("--all", expect=0)
    agg.aggregate("--all", expect=0)
    with agg.store() as store:
        assert store.state(old).redirect_seen == 2
    route.status, route.body = 200, rss(ITEMS)  # the server stops redirecting once
    agg.aggregate("--all", expect=0)
    with agg.store() as store:
        assert (store.state(old).redirect_target, store.state(old).redirect_seen) == (None, 0)
    route.status = 301
    for expected in (1, 2):
        assert agg.aggregate("--all", expect=0).summary["moved"] == []
        with agg.store() as store:
            assert store.state(old).redirect_seen == expected
    assert agg.aggregate("--all", expect=0).summary["moved"] == [{"from": old, "to": new}]
    assert agg.opml_urls() == [new]


def test_killed_between_move_commit_and_list_rewrite_duplicates_nothing(server, project):
    server.route("/old.xml", Route(status=301, location="/new.xml"))
    server.route("/new.xml", Route(body=rss(ITEMS)))
    release = threading.Event()

    def hold(handler: BaseHTTPRequestHandler) -> None:
        release.wait(20)  # keeps the run open after the move was committed
        body = rss([EXTRA])
        with contextlib.suppress(OSError):
            send(
                handler,
                200,
                body,
                {"Content-Type": "application/rss+xml", "Content-Length": str(len(body))},
            )

    server.route("/slow.xml", Route(handler=hold))
    agg = project()
    old, slow = agg.subscribe(server.url("/old.xml"), server.url("/slow.xml"))
    new = server.url("/new.xml")
    release.set()
    for _ in range(2):
        agg.aggregate("--all", expect=0)
    release.clear()

    process = subprocess.Popen(
        [sys.executable, "-c", "from cli import main; main()", "--config", str(agg.config),
         "aggregate", "--all", "--json"],
        cwd=agg.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with agg.store() as store:
                if new in store.source_rows() and server.requests_for("/slow.xml")[2:]:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the move was never committed")
        os.killpg(process.pid, signal.SIGKILL)  # our own session: the run and its workers only
        process.wait(10)
    finally:
        release.set()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    assert agg.opml_urls() == [old, slow]  # the window: database moved, list not yet

    agg.aggregate("--all", expect=0)
    with agg.store() as store:
        rows = store.source_rows()
        hits = store.search("sanctions")
    assert sum(rows[u].entries for u in (old, new) if u in rows) == 2
    assert len(hits) == 1


@pytest.mark.parametrize(
    ("chain", "moves_to"),
    [((302, 301), None), ((307, 308), None), ((301, 302), "/hop1.xml"), ((308, 307), "/hop1.xml")],
    ids=["302-301", "307-308", "301-302", "308-307"],
)
def test_mixed_redirect_chains_move_only_as_far_as_they_stay_permanent(
    server, project, chain, moves_to
):
    path = "/start.xml"
    for i, status in enumerate(chain, start=1):
        server.route(path, Route(status=status, location=f"/hop{i}.xml"))
        path = f"/hop{i}.xml"
    server.route(path, Route(body=rss(ITEMS)))
    agg = project()
    (url,) = agg.subscribe(server.url("/start.xml"))
    runs = [agg.aggregate("--all", expect=0) for _ in range(3)]
    if moves_to is None:
        assert [r.summary["moved"] for r in runs] == [[], [], []]
        assert agg.opml_urls() == [url]
        with agg.store() as store:
            assert store.state(url).redirect_target is None
    else:
        target = server.url(moves_to)
        assert runs[2].summary["moved"] == [{"from": url, "to": target}]
        assert agg.opml_urls() == [target]
        assert entry_count(agg, target) == 2


def test_permanent_move_onto_an_existing_subscription_merges_without_duplicates(server, project):
    server.route("/old.xml", Route(status=301, location="/new.xml"))
    server.route("/new.xml", Route(body=rss(ITEMS)))
    agg = project()
    old, new = agg.subscribe(server.url("/old.xml"), server.url("/new.xml"))
    for _ in range(2):
        assert agg.aggregate("--all", expect=0).summary["moved"] == []
    assert entry_count(agg, old) == entry_count(agg, new) == 2

    third = agg.aggregate("--all", expect=0)
    assert third.summary["moved"] == [{"from": old, "to": new}]
    assert agg.opml_urls() == [new]
    with agg.store() as store:
        rows = store.source_rows()
        keys = [e.key for e in store.stored_entries(new)]
        assert len(store.search("sanctions")) == 1
    assert set(rows) == {new} and rows[new].title == "Source 1"
    assert sorted(keys) == sorted({"guid:" + item["guid"] for item in ITEMS})
    assert agg.aggregate("--all", expect=0).counts() == counts(sources=1, not_modified=1)


def test_redirect_loops_and_non_http_targets_fail_cleanly(server, project):
    server.route("/loop-a.xml", Route(status=301, location="/loop-b.xml"))
    server.route("/loop-b.xml", Route(status=308, location="/loop-a.xml"))
    server.route("/ftp.xml", Route(status=301, location="ftp://127.0.0.1/feed.xml"))
    server.route("/ok.xml", Route(body=rss(ITEMS)))
    agg = project()
    loop, ftp, ok = agg.subscribe(*(server.url(p) for p in ("/loop-a.xml", "/ftp.xml", "/ok.xml")))
    run = agg.aggregate(expect=1)
    assert run.counts() == counts(sources=3, ok=1, failed=2, new=2)
    assert "more than 10 redirects" in run.failure(loop)
    assert "non-HTTP" in run.failure(ftp)
    with agg.store() as store:
        rows = store.source_rows()
        assert store.state(loop).redirect_target is None  # a failed chain teaches nothing
    assert rows[loop].last_status == rows[ftp].last_status == "redirects"
    assert len(server.requests_for("/loop-a.xml")) == 6  # bounded: 11 hops in all
    assert rows[ok].entries == 2


@pytest.mark.parametrize("status", [302, 307])
def test_temporary_redirects_never_move_the_source(server, project, status):
    server.route("/feed.xml", Route(status=status, location="/elsewhere.xml"))
    server.route("/elsewhere.xml", Route(body=rss(ITEMS)))
    agg = project()
    (url,) = agg.subscribe(server.url("/feed.xml"))

    for _ in range(4):
        run = agg.aggregate("--all", expect=0)
        assert run.summary["moved"] == []
        with agg.store() as store:
            state = store.state(url)
            assert set(store.source_rows()) == {url}
        assert (state.url, state.redirect_target, state.redirect_seen) == (url, None, 0)
    assert agg.opml_urls() == [url]
    assert len(server.requests_for("/feed.xml")) == 4
    assert entry_count(agg, url) == 2
    # the conditional request goes to the subscribed URL and is forwarded along the redirect
    last = server.requests_for("/elsewhere.xml")[-1].headers
    assert last.get("if-none-match") and last.get("if-modified-since")


# --- failures -------------------------------------------------------------------------------


def test_gone_source_is_never_polled_again_and_keeps_its_entries(server, project):
    route = server.route("/feed.xml", Route(body=rss(ITEMS)))
    agg = project()
    (url,) = agg.subscribe(server.url("/feed.xml"))
    agg.aggregate(expect=0)

    route.status = 410
    gone = agg.aggregate("--all", expect=1)
    assert gone.counts() == counts(sources=1, gone=1)
    assert "410" in gone.failure(url)
    with agg.store() as store:
        state = store.state(url)
        row = store.source_rows()[url]
    assert state.gone and state.next_due is None
    assert row.gone and row.entries == 2 and row.last_status == "410"
    listed = agg.sources_list()[url]
    assert listed["status"] == "gone" and listed["last_error"] == "410 Gone"
    assert listed["next_due"] == "never (gone)"
    assert listed["entries"] == 2

    route.status = 200  # even if it came back, a gone source is not asked again
    for args in ((), ("--all",)):
        assert agg.aggregate(*args, expect=0).counts() == counts()
    assert len(server.requests_for("/feed.xml")) == 2
    assert entry_count(agg, url) == 2

    # re-subscribing (remove, then add) is how a user brings a gone source back
    assert agg.cli("sources", "remove", url).exit_code == 0
    added = agg.cli("sources", "add", url)  # its first poll is part of subscribing
    assert added.exit_code == 0 and "stored 0 items" in added.output, added.output
    route.body = rss([*ITEMS, EXTRA])
    revived = agg.aggregate("--all", expect=0)
    assert revived.counts() == counts(sources=1, ok=1, new=1)
    assert entry_count(agg, url) == 3


def test_not_found_backs_off_exponentially_then_recovers(server, project):
    route = server.route("/feed.xml", Route(status=404))
    agg = project(backoff_base="1h", backoff_cap="3h", interval="1h")
    (url,) = agg.subscribe(server.url("/feed.xml"))

    first = agg.aggregate(expect=1)
    assert first.counts() == counts(sources=1, failed=1)
    assert first.failure(url) == "HTTP 404"
    with agg.store() as store:
        state = store.state(url)
        row = store.source_rows()[url]
    assert state.failures == 1 and not state.gone
    # backoff n=1: base/2 .. base (equal jitter)
    assert (
        first.before + timedelta(minutes=30) - SECOND
        <= state.next_due
        <= first.after + timedelta(hours=1)
    )
    assert (row.last_status, row.last_error, row.failures) == ("404", "HTTP 404", 1)
    assert agg.sources_list()[url]["last_error"] == "HTTP 404"

    # not due yet: a plain run does not touch it
    assert agg.aggregate(expect=0).counts() == counts()
    assert len(server.requests_for("/feed.xml")) == 1

    second = agg.aggregate("--all", expect=1)
    assert second.counts() == counts(sources=1, failed=1)
    with agg.store() as store:
        state = store.state(url)
        row = store.source_rows()[url]
    assert state.failures == 2
    # backoff n=2: base .. 2 * base
    assert (
        second.before + timedelta(hours=1) - SECOND
        <= state.next_due
        <= second.after + timedelta(hours=2)
    )
    assert (row.last_status, row.last_error, row.failures) == ("404", "HTTP 404", 2)

    third = agg.aggregate("--all", expect=1)
    with agg.store() as store:
        state = store.state(url)
    # n=3 would be 2h..4h; the cap (3 h) bounds it: 1.5 h .. 3 h
    assert state.failures == 3
    assert (
        third.before + timedelta(minutes=90) - SECOND
        <= state.next_due
        <= third.after + timedelta(hours=3)
    )

    route.status, route.body = 200, rss(ITEMS)
    recovered = agg.aggregate("--all", expect=0)
    assert recovered.counts() == counts(sources=1, ok=1, new=2)
    with agg.store() as store:
        state = store.state(url)
        row = store.source_rows()[url]
    low, high = recovered.around(timedelta(hours=1))
    assert state.failures == 0 and low <= state.next_due <= high
    assert (row.last_status, row.last_error, row.entries) == ("200", None, 2)
    assert row.last_success_at is not None and recovered.before <= row.last_success_at
    listed = agg.sources_list()[url]
    assert (listed["status"], listed["last_error"]) == ("200", None)


@pytest.mark.parametrize(
    ("status", "header", "delay"),
    [
        (429, "120", timedelta(seconds=120)),
        (503, "7200", timedelta(hours=2)),
        (429, "date:600", timedelta(seconds=600)),
    ],
    ids=["429-seconds", "503-seconds", "429-http-date"],
)
def test_retry_after_is_honoured(server, project, status, header, delay):
    if header.startswith("date:"):
        header = formatdate(time.time() + int(header[5:]), usegmt=True)
    route = server.route("/feed.xml", Route(status=status, headers={"Retry-After": header}))
    agg = project(backoff_base="1m")  # a backoff far from every Retry-After here
    (url,) = agg.subscribe(server.url("/feed.xml"))

    run = agg.aggregate(expect=1)
    assert run.counts() == counts(sources=1, failed=1)
    assert run.failure(url) == f"HTTP {status}"
    with agg.store() as store:
        state = store.state(url)
    assert agg.sources_list()[url]["last_error"] == f"HTTP {status}"
    low, high = run.around(delay)
    assert low - SECOND <= state.next_due <= high + SECOND, (state.next_due, low, high)
    assert state.failures == 1

    # a second 429/503 still waits what the server asks, not the (growing) backoff
    route.headers = {"Retry-After": "300"}
    again = agg.aggregate("--all", expect=1)
    with agg.store() as store:
        state = store.state(url)
    low, high = again.around(timedelta(seconds=300))
    assert low <= state.next_due <= high and state.failures == 2


def test_service_unavailable_without_retry_after_backs_off(server, project):
    server.route("/feed.xml", Route(status=503))
    agg = project(backoff_base="1h")
    (url,) = agg.subscribe(server.url("/feed.xml"))
    run = agg.aggregate(expect=1)
    with agg.store() as store:
        state = store.state(url)
    assert (
        run.before + timedelta(minutes=30) - SECOND
        <= state.next_due
        <= run.after + timedelta(hours=1)
    )


def test_drip_fed_response_hits_the_deadline_and_the_run_stays_bounded(server, project):
    # 4,000 bytes at one byte per 10 ms: 40 s, and never a read timeout
    server.route("/slow.xml", Route(body=rss(ITEMS) + b" " * 4000, drip=0.01))
    server.route("/a.xml", Route(body=rss(ITEMS)))
    server.route("/b.xml", Route(body=rss([EXTRA])))
    agg = project(deadline="1s", read_timeout="5s")
    slow, a, b = agg.subscribe(server.url("/slow.xml"), server.url("/a.xml"), server.url("/b.xml"))

    run = agg.aggregate(expect=1)
    assert run.elapsed < 10, run.elapsed
    assert run.counts() == counts(sources=3, ok=2, failed=1, new=3)
    assert "within 1 s" in run.failure(slow)
    with agg.store() as store:
        rows = store.source_rows()
        assert store.state(slow).failures == 1
    assert rows[slow].last_status == "deadline"
    assert agg.sources_list()[slow]["last_error"] == run.failure(slow)
    assert (rows[a].entries, rows[b].entries, rows[slow].entries) == (2, 1, 0)
    assert len(server.requests_for("/slow.xml")) == 1


def test_stalled_response_times_out_and_backs_off(server, project):
    server.route("/stalled.xml", Route(body=rss(ITEMS), delay=5))  # headers never come in time
    server.route("/ok.xml", Route(body=rss(ITEMS)))
    agg = project(read_timeout="0.5s", deadline="20s", backoff_base="1h")
    stalled, ok = agg.subscribe(server.url("/stalled.xml"), server.url("/ok.xml"))
    run = agg.aggregate(expect=1)
    assert run.elapsed < 4  # the server would take 5 s
    assert run.counts() == counts(sources=2, ok=1, failed=1, new=2)
    assert "timed out" in run.failure(stalled)
    with agg.store() as store:
        state = store.state(stalled)
        row = store.source_rows()[stalled]
    assert row.last_status == "timeout" and state.failures == 1
    assert entry_count(agg, ok) == 2
    assert (
        run.before + timedelta(minutes=30) - SECOND
        <= state.next_due
        <= run.after + timedelta(hours=1)
    )


def test_a_body_that_is_not_a_feed_forgets_its_validators(server, project):
    page = b"<!doctype html><html><head><title>Down</title></head><body>Maintenance</body></html>"
    route = server.route("/feed.xml", Route(body=page, content_type="text/html"))
    agg = project()
    (url,) = agg.subscribe(server.url("/feed.xml"))
    first = agg.aggregate(expect=1)
    assert first.failure(url).startswith("not a feed")
    with agg.store() as store:
        state = store.state(url)
    assert (state.etag, state.last_modified, state.body_hash) == (None, None, None)
    assert state.failures == 1

    # the next poll is unconditional, so the same page is judged again, not answered by a 304
    assert agg.aggregate("--all", expect=1).counts() == counts(sources=1, failed=1)
    second = server.requests_for("/feed.xml")[1].headers
    assert "if-none-match" not in second and "if-modified-since" not in second
    route.body, route.content_type = rss(ITEMS), "application/rss+xml"
    assert agg.aggregate("--all", expect=0).counts() == counts(sources=1, ok=1, new=2)


def _chunked_padding(handler: BaseHTTPRequestHandler) -> None:
    """200 with no Content-Length: the size cap must be enforced while streaming."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"<!-- padding padding padding padding -->\n" * 25
    try:
        for _ in range(40):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        handler.wfile.write(b"0\r\n\r\n")
    except OSError:
        pass  # the client stopped reading, as it should


def test_oversized_bodies_fail_however_they_are_sent(server, project):
    big = rss(ITEMS) + b"<!--" + b"x" * 20_000 + b"-->"
    server.route("/declared.xml", Route(body=big))  # Content-Length says too much
    server.route("/chunked.xml", Route(handler=_chunked_padding))  # no Content-Length
    bomb = rss(ITEMS).replace(b"<channel>", b"<channel><!--" + b"0" * 200_000 + b"-->")
    server.route("/bomb.xml", Route(body=bomb, gzip=True))  # small on the wire, large decoded
    server.route("/small.xml", Route(body=rss(ITEMS)))
    agg = project(max_bytes=2000)
    declared, chunked, bombed, small = agg.subscribe(
        *(server.url(p) for p in ("/declared.xml", "/chunked.xml", "/bomb.xml", "/small.xml"))
    )
    assert len(gzip.compress(bomb)) < 2000 < len(bomb)

    run = agg.aggregate(expect=1)
    assert run.counts() == counts(sources=4, ok=1, failed=3, new=2)
    with agg.store() as store:
        rows = store.source_rows()
        for url in (declared, chunked, bombed):
            assert run.failure(url) == "response larger than 2000 bytes"
            assert rows[url].last_status == "too_large" and rows[url].entries == 0
            assert rows[url].last_error == "response larger than 2000 bytes"
    assert rows[small].entries == 2


def _deflated(body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(request: BaseHTTPRequestHandler) -> None:
        data = zlib.compress(body)
        send(
            request,
            200,
            data,
            {
                "Content-Type": "application/rss+xml",
                "Content-Encoding": "deflate",
                "Content-Length": str(len(data)),
            },
        )

    return handler


def test_gzip_and_deflate_bodies_are_decoded_and_ingested(server, project):
    body = (FIXTURES / "sample-eu-external-action.xml").read_bytes()
    expected = len(feedparser.parse(body).entries)
    server.route("/gzip.xml", Route(body=body, gzip=True))
    server.route("/deflate.xml", Route(handler=_deflated(body)))
    agg = project()
    gz, deflated = agg.subscribe(server.url("/gzip.xml"), server.url("/deflate.xml"))

    run = agg.aggregate(expect=0)
    assert run.counts() == counts(sources=2, ok=2, new=2 * expected)
    assert "gzip" in server.requests_for("/gzip.xml")[0].headers["accept-encoding"]
    with agg.store() as store:
        rows = store.source_rows()
        assert store.search("sanctions")  # decoded text reached the full-text index
    assert rows[gz].entries == rows[deflated].entries == expected > 0

    again = agg.aggregate("--all", expect=0)  # the gzip route answers 304, deflate unchanged
    assert again.counts() == counts(sources=2, not_modified=1, unchanged=1)


def _truncated(name: str) -> bytes:
    body = (FIXTURES / name).read_bytes()
    cut = body.index(b"</item>", len(body) // 2) + len(b"</item>") + 20
    return body[:cut]


def test_malformed_feeds_keep_entries_and_record_a_warning(server, project):
    namespaced = (FIXTURES / "ffp-malformed_rss_namespaced.xml").read_bytes()
    truncated = _truncated("sample-eu-external-action.xml")
    whole = (FIXTURES / "sample-eu-external-action.xml").read_bytes()
    server.route("/namespaced.xml", Route(body=namespaced))
    route = server.route("/truncated.xml", Route(body=truncated))
    agg = project()
    ns_url, cut_url = agg.subscribe(server.url("/namespaced.xml"), server.url("/truncated.xml"))

    run = agg.aggregate(expect=0)
    assert run.counts()["ok"] == 2 and run.counts()["failed"] == 0
    with agg.store() as store:
        rows = store.source_rows()
        assert store.search("namespaced") or store.search("Entry")
    for url, body in ((ns_url, namespaced), (cut_url, truncated)):
        parsed = feedparser.parse(body)
        assert parsed.bozo
        assert rows[url].entries >= len(parsed.entries)
        assert rows[url].entries > 0
        assert rows[url].warning, url
        assert rows[url].last_status == "200" and rows[url].last_error is None
    assert rows[ns_url].entries == 2  # feedparser alone finds none
    assert rows[cut_url].entries < len(feedparser.parse(whole).entries)

    # the feed is repaired upstream: the rest arrives, nothing is lost, the warning clears
    route.body = whole
    full = {"guid:" + e.id for e in feedparser.parse(whole).entries}
    repaired = agg.aggregate("--all", expect=0)
    assert repaired.counts()["new"] >= len(full) - rows[cut_url].entries
    with agg.store() as store:
        row = store.source_rows()[cut_url]
        keys = [e.key for e in store.stored_entries(cut_url)]
    assert full <= set(keys) and len(keys) == len(set(keys))
    assert row.warning is None and row.last_error is None


def test_repaired_feed_warning_is_readable(server, project):
    server.route(
        "/namespaced.xml", Route(body=(FIXTURES / "ffp-malformed_rss_namespaced.xml").read_bytes())
    )
    agg = project()
    (url,) = agg.subscribe(server.url("/namespaced.xml"))
    agg.aggregate(expect=0)
    with agg.store() as store:
        warning = store.source_rows()[url].warning
    assert warning and "repaired" in warning
    assert not warning.startswith("str:"), warning


@pytest.mark.parametrize("content_type", ["application/rss+xml", "application/xml", "text/xml"])
def test_wrong_declared_encoding_is_read_as_utf8(server, project, content_type):
    fixture = (FIXTURES / "miniflux-windows-1252-incorrect-prolog.xml").read_bytes()
    assert fixture.startswith(b'<?xml version="1.0" encoding="windows-1252"?>')
    assert feedparser.parse(fixture).feed.title != "Euro €"  # the trap this test is about
    server.route("/euro.xml", Route(body=fixture, content_type=content_type))
    with_item = fixture.replace(
        b"</channel>",
        "<item><title>Euro € exchange rate</title><link>https://news.example/euro</link>"
        "<description>Price: 5 €</description></item></channel>".encode(),
    )
    server.route("/euro-items.xml", Route(body=with_item, content_type=content_type))
    agg = project()
    agg.subscribe()  # an empty list; `sources add` reads the feed's own title
    url, items_url = server.url("/euro.xml"), server.url("/euro-items.xml")
    stored = []
    for address in (url, items_url):
        added = agg.cli("sources", "add", address)  # which polls it a first time
        assert added.exit_code == 0, added.output
        assert "(Euro €)" in added.output
        stored.append(added.output.strip().splitlines()[-1])
    assert stored == ["stored 0 items", "stored 1 item"]
    assert [s.title for s in parse_opml(agg.opml.read_bytes(), agg.opml)] == ["Euro €"] * 2

    run = agg.aggregate("--all", expect=0)
    assert run.counts() == counts(sources=2, not_modified=2)
    with agg.store() as store:
        rows = store.source_rows()
        hits = store.search("exchange")
    assert rows[url].title == rows[items_url].title == "Euro €"
    assert agg.sources_list()[url]["title"] == "Euro €"
    assert [hit.title for hit in hits] == ["Euro € exchange rate"]
    assert "5 €" in hits[0].snippet or "€" in hits[0].title


@pytest.mark.parametrize(
    "content_type", ["application/rss+xml; charset=windows-1252", "text/xml; charset=windows-1252"]
)
def test_wrong_charset_in_the_content_type_header_is_read_as_utf8(server, project, content_type):
    body = (
        (FIXTURES / "miniflux-windows-1252-incorrect-prolog.xml")
        .read_bytes()
        .replace(
            b"</channel>",
            "<item><title>Euro € exchange rate</title><guid>euro-1</guid></item></channel>".encode(),
        )
    )
    server.route("/euro.xml", Route(body=body, content_type=content_type))
    agg = project()
    (url,) = agg.subscribe(server.url("/euro.xml"))
    assert agg.aggregate(expect=0).counts() == counts(sources=1, ok=1, new=1)
    with agg.store() as store:
        hits = store.search("exchange")
        assert store.source_rows()[url].warning is None
    assert [hit.title for hit in hits] == ["Euro € exchange rate"]


# --- many sources ---------------------------------------------------------------------------


def _hang_up(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True  # closes the socket without a response


def test_one_failing_source_never_stops_the_others(server, project):
    good = server.route("/good.xml", Route(body=rss(ITEMS)))
    server.route("/other.xml", Route(body=rss([EXTRA])))
    agg = project(backoff_base="1h")
    urls = agg.subscribe(server.url("/good.xml"), server.url("/other.xml"))
    first = agg.aggregate(expect=0)
    assert first.counts() == counts(sources=2, ok=2, new=3)

    server.route("/500.xml", Route(status=500))
    server.route("/404.xml", Route(status=404))
    server.route("/hangup.xml", Route(handler=_hang_up))
    server.route(
        "/html.xml",
        Route(
            body=b"<!doctype html><html><body><p>Maintenance</p></body></html>",
            content_type="text/html",
        ),
    )
    bad_gzip = {
        "Content-Type": "application/rss+xml",
        "Content-Encoding": "gzip",
        "Content-Length": "9",
    }
    server.route("/badgzip.xml", Route(handler=lambda h: send(h, 200, b"not gzip!", bad_gzip)))
    broken = {
        server.url("/500.xml"): "500",
        server.url("/404.xml"): "404",
        server.url("/hangup.xml"): "protocol",
        server.url("/html.xml"): "not a feed",
        server.url("/badgzip.xml"): "protocol",
        f"http://127.0.0.1:{closed_port()}/feed.xml": "connect",
        f"https://127.0.0.1:{server.port}/tls.xml": "tls",  # TLS spoken to a plain HTTP port
    }
    agg.subscribe(*broken, *urls)
    good.body = rss(
        [
            *ITEMS,
            dict(EXTRA, guid="https://news.example/japan-2", link="https://news.example/japan-2"),
        ]
    )

    run = agg.aggregate("--all", expect=1)
    assert run.counts() == counts(sources=9, ok=1, not_modified=1, failed=7, new=1)
    with agg.store() as store:
        rows = store.source_rows()
        for url, status in broken.items():
            assert rows[url].last_status == status, (url, rows[url])
            assert rows[url].last_error and run.failure(url) == rows[url].last_error
            assert rows[url].failures == 1
    assert rows[urls[0]].entries == 3 and rows[urls[1]].entries == 1
    listed = agg.sources_list()
    assert {listed[u]["status"] for u in broken} == set(broken.values())

    # only the healthy sources are due again; with them all ok the exit code is 0
    assert agg.aggregate(expect=0).counts() == counts()
    agg.subscribe(*urls)
    assert agg.aggregate("--all", expect=0).counts() == counts(sources=2, not_modified=2)


def _counting(
    body: bytes, state: dict[str, int], lock: threading.Lock
) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(request: BaseHTTPRequestHandler) -> None:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.3)
        with lock:
            state["now"] -= 1
        send(
            request,
            200,
            body,
            {"Content-Type": "application/rss+xml", "Content-Length": str(len(body))},
        )

    return handler


def test_requests_to_one_host_are_limited(server, project):
    state = {"now": 0, "max": 0}
    lock = threading.Lock()
    paths = [f"/feed{i}.xml" for i in range(6)]
    for i, path in enumerate(paths):
        body = rss([dict(ITEMS[0], guid=f"g{i}", link=f"https://news.example/{i}")])
        server.route(path, Route(handler=_counting(body, state, lock)))
    agg = project(per_host=2, concurrency=16)
    agg.subscribe(*(server.url(p) for p in paths))
    run = agg.aggregate(expect=0)
    assert run.counts() == counts(sources=6, ok=6, new=6)
    assert state["max"] == 2  # polite to a shared host, yet concurrent


def test_sources_answering_304_share_the_hosts_connections(server, project):
    """A 304 is read to its end, so its connection serves the host's next source: a run of
    304s opens no more connections than the per-host limit (closing each cost a connection,
    for HTTPS a TLS handshake, per source)."""
    connections: list[int] = []  # the client port of every request: one per connection

    def counted(route: Route) -> Route:
        def answer(handler: BaseHTTPRequestHandler) -> None:
            connections.append(handler.client_address[1])
            server._answer(handler, route)

        return Route(handler=answer)

    paths = [f"/feed{i}.xml" for i in range(12)]
    for i, path in enumerate(paths):
        body = rss([dict(ITEMS[0], guid=f"g{i}", link=f"https://news.example/{i}")])
        server.route(path, counted(Route(body=body)))
    agg = project(per_host=2, concurrency=16)
    agg.subscribe(*(server.url(p) for p in paths))
    assert agg.aggregate(expect=0).counts() == counts(sources=12, ok=12, new=12)
    connections.clear()
    assert agg.aggregate("--all", expect=0).counts() == counts(sources=12, not_modified=12)
    assert len(connections) == 12
    assert len(set(connections)) <= 2


def test_every_fixture_ingests_at_least_what_feedparser_finds(server, project):
    fixtures = sorted(FIXTURES.glob("*.xml"))
    assert len(fixtures) >= 20
    expected = {}
    for path in fixtures:
        body = path.read_bytes()
        route = f"/fixtures/{path.name}"
        server.route(route, Route(body=body, content_type="application/xml"))
        expected[server.url(route)] = len(feedparser.parse(body).entries)
    agg = project(per_host=8, workers=2)
    agg.subscribe(*expected)

    run = agg.aggregate(expect=0)
    assert run.counts()["ok"] == len(fixtures), run.summary["failures"]
    with agg.store() as store:
        rows = store.source_rows()
    short = {
        url.rsplit("/", 1)[1]: (rows[url].entries, count)
        for url, count in expected.items()
        if rows[url].entries < count
    }
    assert short == {}
    assert run.summary["items_new"] == sum(rows[url].entries for url in expected)
    assert run.summary["items_new"] >= sum(expected.values())

    again = agg.aggregate("--all", expect=0)  # every fixture route has validators
    assert again.counts() == counts(sources=len(fixtures), not_modified=len(fixtures))


def test_a_304_that_sends_a_body_anyway_does_not_spoil_the_host_s_next_answer():
    """A misconfigured server sends bytes after its 304 ("Content-Length: 13"): the protocol
    says a 304 has no body, so those bytes would be read as the answer to the next request
    on that connection. Such a connection is not kept; one that ends with its headers is."""
    import asyncio

    from sources.http.fetch import Fetcher, FetchRequest
    from sources.settings import AggregateSettings

    feed = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    connections = []

    def answer(connection: socket.socket) -> None:
        pending = b""
        with connection:
            while data := connection.recv(65536):
                pending += data
                while b"\r\n\r\n" in pending:
                    request, pending = pending.split(b"\r\n\r\n", 1)
                    line = request.split(b"\r\n")[0]
                    if b"/noisy.xml" in line:
                        connection.sendall(
                            b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 13\r\n\r\n'
                            b"not modified\n"
                        )
                    elif b"/quiet.xml" in line:
                        connection.sendall(b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n')
                    else:
                        connection.sendall(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                            b"Content-Length: %d\r\n\r\n%s" % (len(feed), feed)
                        )

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connections.append(connection)
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()

    async def fetch_in_turn(first: str) -> list[tuple[int, str | None]]:
        async with Fetcher(AggregateSettings(concurrency=1, per_host=1)) as fetcher:
            results = [
                await fetcher.fetch(FetchRequest(f"http://127.0.0.1:{port}/{first}", '"x"')),
                await fetcher.fetch(FetchRequest(f"http://127.0.0.1:{port}/feed.xml")),
            ]
        return [(r.status, r.error_kind) for r in results]

    try:
        assert asyncio.run(fetch_in_turn("noisy.xml")) == [(304, None), (200, None)]
        assert len(connections) == 2  # the noisy 304's connection was not kept
        assert asyncio.run(fetch_in_turn("quiet.xml")) == [(304, None), (200, None)]
        assert len(connections) == 3  # the quiet one's was: one connection for both
    finally:
        listener.close()
