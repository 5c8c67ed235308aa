"""WebSub: feeds name their hubs, and `publish` tells real loopback hubs which feeds changed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest
from conftest import SHARED, Site

from feeds import websub

BASE = "https://notes.example.org/"
PENDING = Path(".communique") / "pending-pings.json"
FEED_FILES = ("atom.xml", "rss.xml", "feed.json")


@dataclass(frozen=True)
class Received:
    """One POST the hub received."""

    path: str
    content_type: str
    form: dict[str, list[str]]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client closing a kept-alive connection unread is normal: not worth a traceback."""


class Hub:
    """A WebSub hub on loopback that records every ping; ``status`` and ``delay`` are scripted."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 204
        self.delay = 0.0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._lock:
                    outer.received.append(
                        Received(
                            self.path,
                            self.headers.get("Content-Type", ""),
                            parse_qs(body.decode("ascii"), strict_parsing=True),
                        )
                    )
                    status, delay = outer.status, outer.delay
                if delay:
                    time.sleep(delay)
                answer = b"" if status == 204 else f"status {status}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hub"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Hub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def topics(self) -> list[str]:
        """The feed URLs pinged so far, in order; and a check that each ping is well formed."""
        with self._lock:
            received = list(self.received)
        for ping in received:
            assert ping.path == "/hub"
            assert ping.content_type == "application/x-www-form-urlencoded"
            assert ping.form["hub.mode"] == ["publish"]
            assert len(ping.form["hub.url"]) == 1
        return [ping.form["hub.url"][0] for ping in received]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub() as server:
        yield server


@pytest.fixture
def other_hub() -> Iterator[Hub]:
    with Hub() as server:
        yield server


def with_hubs(site: Site, *urls: str) -> Site:
    listed = ", ".join(json.dumps(url) for url in urls)
    text = site.config.read_text(encoding="utf-8")
    site.config.write_text(text + f"hubs = [{listed}]\n", encoding="utf-8")
    return site


def feed_urls(site: Site) -> set[str]:
    """Every feed document in the output, as its public URL."""
    return {
        BASE + p.relative_to(site.public).as_posix()
        for p in site.public.rglob("*")
        if p.name in FEED_FILES
    }


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hub"


# --- the feeds name their hubs --------------------------------------------------------------


def test_every_feed_names_its_hubs_in_all_three_formats(sample_site, hub):
    hubs = [hub.url, "https://websub.example/hub?key=a&x=1"]
    with_hubs(sample_site, *hubs).publish("--no-ping")
    documents = sorted(p for p in sample_site.public.rglob("*") if p.name in FEED_FILES)
    assert len(documents) == 3 * 4  # the site's feeds and three tags', three formats each
    for path in documents:
        url = BASE + path.relative_to(sample_site.public).as_posix()
        if path.suffix == ".json":
            document = json.loads(path.read_bytes())
            assert document["hubs"] == [{"type": "WebSub", "url": h} for h in hubs]
            assert document["feed_url"] == url
            continue
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        links = parsed.feed.links
        assert [link.href for link in links if link.rel == "hub"] == hubs, path
        assert [link.href for link in links if link.rel == "self"] == [url], path
        folder = path.parent.relative_to(sample_site.public).as_posix()
        home = BASE if folder == "." else f"{BASE}{folder}/"
        assert parsed.feed.link == home, path  # RSS <link> stays the page, never a hub


def test_without_hubs_no_feed_mentions_one(published):
    for path in published.public.rglob("*"):
        if path.name in FEED_FILES:
            assert b"hub" not in path.read_bytes(), path
    assert not (published.root / ".communique").exists()


@pytest.mark.skipif(
    not os.environ.get("FV_MIRROR") or not (SHARED / "tools" / "feedvalidate").exists(),
    reason="the W3C feed validator is not available (set FV_MIRROR)",
)
def test_feeds_with_hubs_pass_the_w3c_validator_without_warnings(sample_site, hub):
    with_hubs(sample_site, hub.url, "https://websub.example/").publish("--no-ping")
    for name in ("atom.xml", "rss.xml", "tags/enlargement/atom.xml", "tags/enlargement/rss.xml"):
        result = subprocess.run(
            [SHARED / "tools" / "feedvalidate", sample_site.public / name, BASE + name],
            env={**os.environ, "STRICT": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "errors=0 warnings=0" in result.stdout


# --- pinging --------------------------------------------------------------------------------


def test_a_first_publish_pings_every_feed_once_on_every_hub(sample_site, hub, other_hub):
    result = with_hubs(sample_site, hub.url, other_hub.url).publish()
    expected = feed_urls(sample_site)
    assert len(expected) == 12
    for server in (hub, other_hub):
        assert sorted(server.topics()) == sorted(expected)  # each feed exactly once
    assert "pinged 2 of 2 hub(s) for 12 feed(s)" in result.stdout
    assert result.stderr == ""
    assert not (sample_site.root / PENDING).exists()


def test_an_unchanged_publish_pings_nothing(sample_site, hub):
    with_hubs(sample_site, hub.url).publish()
    assert hub.topics()
    hub.clear()
    result = sample_site.publish()
    assert hub.topics() == []
    assert "no feed changed: 1 hub(s) not pinged" in result.stdout


def test_a_new_article_pings_exactly_the_feeds_that_changed(sample_site, hub):
    with_hubs(sample_site, hub.url).publish()
    before = sample_site.snapshot()
    hub.clear()
    sample_site.article(
        "2025-04-01-trade.md",
        """
        ---
        title: A trade agreement
        date: 2025-04-01
        tags: [enlargement, trade]
        ---
        The EU signed a trade agreement.
        """,
    )
    result = sample_site.publish()
    after = sample_site.snapshot()
    changed = {
        BASE + name
        for name in after
        if name.rsplit("/", 1)[-1] in FEED_FILES and before.get(name) != after[name]
    }
    expected = {
        BASE + prefix + name
        for prefix in ("", "tags/enlargement/", "tags/trade/")
        for name in FEED_FILES
    }
    assert changed == expected  # the site's feeds and the article's tags', nothing else
    assert sorted(hub.topics()) == sorted(expected)
    assert "pinged 1 of 1 hub(s) for 9 feed(s)" in result.stdout


def test_a_failing_hub_warns_once_exits_0_and_is_pinged_again_next_time(
    sample_site, hub, other_hub
):
    hub.status = 500
    first = with_hubs(sample_site, hub.url, other_hub.url).run(
        "publish", "--now", "2026-01-01T00:00:00Z"
    )
    assert first.exit_code == 0, first.output
    warnings = first.stderr.splitlines()
    assert len(warnings) == 1, first.stderr
    assert warnings[0].startswith(f"warning: hub {hub.url} failed for 12 of 12 feed(s): HTTP 500")
    assert "pinged again on the next publish" in warnings[0]
    assert "pinged 1 of 2 hub(s) for 12 feed(s)" in first.stdout
    assert len(hub.topics()) == 12  # it answered each ping: each was tried
    assert (sample_site.root / PENDING).is_file()

    hub.status = 202
    hub.clear()
    other_hub.clear()
    second = sample_site.publish()  # nothing changed, but the failed pings are due
    assert sorted(hub.topics()) == sorted(feed_urls(sample_site))
    assert other_hub.topics() == []  # it already knows
    assert second.stderr == ""
    assert "pinged 1 of 2 hub(s) for 12 feed(s)" in second.stdout
    assert not (sample_site.root / PENDING).exists()

    hub.clear()
    sample_site.publish()
    assert hub.topics() == []  # delivered once, forgotten


def test_an_unreachable_hub_is_one_warning_and_the_others_are_still_pinged(sample_site, hub):
    gone = closed_port_url()
    result = with_hubs(sample_site, gone, hub.url).run("publish", "--now", "2026-01-01T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(
        f"warning: hub {gone} failed for 12 of 12 feed(s): cannot connect"
    )
    assert len(hub.topics()) == 12
    pending = json.loads((sample_site.root / PENDING).read_text(encoding="utf-8"))["pending"]
    assert {(p["hub"], p["url"]) for p in pending} == {
        (gone, url) for url in feed_urls(sample_site)
    }


def test_a_hub_that_does_not_answer_in_time_is_given_up(sample_site, hub, monkeypatch):
    monkeypatch.setattr(websub, "PING_DEADLINE", 0.3)
    hub.delay = 2.0
    started = time.monotonic()
    result = with_hubs(sample_site, hub.url).run("publish", "--now", "2026-01-01T00:00:00Z")
    assert time.monotonic() - started < 1.8  # one deadline, not one per feed
    assert result.exit_code == 0, result.output
    assert "failed for 12 of 12 feed(s): no answer within 0.3 s" in result.stderr
    assert len(hub.topics()) == 1  # the rest were not sent to a hub that does not answer
    pending = json.loads((sample_site.root / PENDING).read_text(encoding="utf-8"))["pending"]
    assert len(pending) == 12


def test_no_ping_sends_nothing_and_keeps_what_is_pending(sample_site, hub):
    hub.status = 503
    with_hubs(sample_site, hub.url).publish()
    pending = (sample_site.root / PENDING).read_bytes()
    hub.status = 204
    hub.clear()
    result = sample_site.publish("--no-ping")
    assert hub.topics() == []
    assert "pinged" not in result.stdout
    assert (sample_site.root / PENDING).read_bytes() == pending
    sample_site.publish()
    assert len(hub.topics()) == 12


def test_no_ping_on_a_changed_site_sends_nothing(sample_site, hub):
    with_hubs(sample_site, hub.url).publish("--no-ping")
    assert feed_urls(sample_site) and hub.topics() == []


def test_check_and_previews_never_ping(sample_site, hub):
    with_hubs(sample_site, hub.url)
    check = sample_site.run("publish", "--now", "2026-01-01T00:00:00Z", "--check")
    assert check.exit_code == 1  # nothing published yet
    preview = sample_site.publish("--base-url", "http://127.0.0.1:8000/")
    assert "hubs not pinged for a --base-url preview" in preview.stderr
    assert hub.topics() == []
    assert not (sample_site.root / PENDING).exists()


def test_pending_pings_of_a_hub_no_longer_configured_are_dropped(sample_site, hub, other_hub):
    hub.status = 500
    with_hubs(sample_site, hub.url).publish()
    text = sample_site.config.read_text(encoding="utf-8").replace(hub.url, other_hub.url)
    sample_site.config.write_text(text, encoding="utf-8")
    hub.clear()
    sample_site.publish()  # the feeds changed: they name another hub now
    assert hub.topics() == []
    assert len(other_hub.topics()) == 12
    assert not (sample_site.root / PENDING).exists()


def test_a_damaged_pending_file_is_set_aside_with_one_warning_and_the_site_published(
    sample_site, hub
):
    """A damaged state file used to stop every publish (exit 2), so `run` from cron never
    published again: it is renamed, nothing lost, and the publish goes on."""
    with_hubs(sample_site, hub.url)
    pending = sample_site.root / PENDING
    pending.parent.mkdir()
    for number, damage in enumerate((b"{not json", b'{"version": 1}', b"\xff\xfe{"), start=1):
        pending.write_bytes(damage)
        hub.clear()
        result = sample_site.run("publish", "--now", "2026-01-01T00:00:00Z")
        assert result.exit_code == 0, result.output
        aside = pending.with_name(f"pending-pings.json.corrupt-{number}")
        said = "not UTF-8 text" if number == 3 else "not a list of pending hub pings"
        assert result.stderr.splitlines() == [
            f"warning: {pending}: {said}; set aside as {aside.name} (its pings are not resent)"
        ]
        assert aside.read_bytes() == damage  # nothing is lost, an earlier one is not replaced
        assert not pending.exists()  # the hub accepted every ping: nothing left pending
        assert (sample_site.public / "atom.xml").exists()
    assert len(hub.received) == 0  # the last two publishes changed no feed
    assert sorted(p.name for p in pending.parent.iterdir()) == [
        f"pending-pings.json.corrupt-{n}" for n in (1, 2, 3)
    ]


def test_the_first_publish_after_a_damaged_pending_file_pings_every_changed_feed(sample_site, hub):
    with_hubs(sample_site, hub.url)
    (sample_site.root / PENDING).parent.mkdir()
    (sample_site.root / PENDING).write_text("[]", encoding="utf-8")
    result = sample_site.run("publish", "--now", "2026-01-01T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert sorted(hub.topics()) == sorted(feed_urls(sample_site))


# --- the setting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ('"https://websub.example/"', "[publish] hubs must be a list of URLs"),
        ("[1]", "[publish] hubs must be a list of URLs"),
        ('["websub.example/hub"]', "must be an absolute http(s) URL"),
        ('["ftp://websub.example/"]', "must be an absolute http(s) URL"),
        ('["https://websub.example/a b"]', "must be an absolute http(s) URL"),
        ('["https://hüb.example/"]', "must be ASCII: write the host in punycode"),
        ('["https://websub.example:port/"]', "must be an absolute http(s) URL"),
        ('["https://me:secret@websub.example/"]', "must not have a user name, password"),
        ('["https://websub.example/#x"]', "must not have a user name, password or fragment"),
        ('["https://a.example/", "https://a.example/"]', "is listed twice"),
    ],
)
def test_a_bad_hubs_setting_is_one_line_naming_it(site, value, says):
    text = site.config.read_text(encoding="utf-8")
    site.config.write_text(text + f"hubs = {value}\n", encoding="utf-8")
    line = len(text.splitlines()) + 1
    result = site.run("publish", "--now", "2026-01-01T00:00:00Z")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"{site.config}:{line}: "), result.output
    assert says in result.output
    assert len(result.output.splitlines()) == 1
    assert not site.public.exists()
