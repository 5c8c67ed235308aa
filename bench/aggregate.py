"""Benchmark ``communique aggregate``: N feeds on loopback, 50 ms of latency per response.

Run from the repository root::

    .venv/bin/python bench/aggregate.py                 # 200 feeds (about a minute)
    .venv/bin/python bench/aggregate.py --feeds 1000    # the memory target's size
    .venv/bin/python bench/aggregate.py --latency 0.1 --repeat 1

What is served: every fixture of ``../shared/fixtures/feeds/*.xml`` once, and generated
feeds up to N (seeded random, so every run serves the same bytes): RSS 2.0 and Atom,
10-50 items each, some with one-paragraph summaries (press releases), some with full HTML
content (think tanks), links with and without tracking parameters, guids of every kind.
The feeds are spread over many loopback addresses (127.0.0.2, 127.0.0.3, ...: all of
127.0.0.0/8 reaches ``lo`` on Linux), a few feeds per address (``--per-host``, default 4),
so communique's per-host limit (2 at a time) is never what is measured; communique runs
with its default limits (16 requests at a time overall). The servers run in a process of
their own (one accept loop for every address, a thread per connection, keep-alive), and
every response, 304 included, waits ``--latency`` seconds (default 0.05) before it is
sent. In ``validators`` mode a response carries ``ETag`` and ``Last-Modified`` and a
matching ``If-None-Match`` (or, without one, ``If-Modified-Since``) gets a 304; in ``none``
mode there are no validators and every request gets the full body, byte-identical to the
last one.

What is measured, in this order, in the same run and against the same servers:

1. baseline: ``feedparser.parse(url)`` over the N URLs one after the other (feedparser's
   defaults: its own sanitiser and relative-link resolution, nothing stored);
2. cold: ``communique aggregate --all --json`` on an empty database (every item new);
3. not modified: the same command again; every source answers 304;
4. unchanged: the servers drop their validators; every source answers 200 with the same
   body as before, which communique must recognise by its hash and not parse.

Every measurement is a fresh process: the baseline is this script re-invoked with
``--baseline-worker``, and communique is its installed ``communique`` command, so what is timed
is what a user runs, and each has its own clean peak RSS. Times are wall times from starting
the process to its exit: interpreter start, imports, the parser pool's fork server and opening
the database are part of what a user waits for, so they are counted, for the baseline too;
the cost of starting a process that does nothing (``communique --version``) is printed for
comparison, and so is the CPU time of each run (the aggregate process exactly, its parser
processes sampled from /proc). Runs 2-4 are repeated ``--repeat`` times (cold ones on a fresh
database each time) and the best is kept; the baseline, tens of seconds of sequential work,
runs once. Each run is checked before it counts: the JSON summary must say every source was
ok / not modified / unchanged, and the servers must have answered exactly N requests with
the expected status, else the benchmark stops with an error.

Peak memory is the ``ru_maxrss`` of the ``aggregate`` process (from ``wait4``). Linux
carries a parent's peak RSS into a child's ``ru_maxrss`` across fork and exec, which is why
the feeds are generated and served by a separate process: the process that starts the
measured ones stays far smaller than any of them (the report says so if it ever is not).
The parser processes are separate; their peak RSS (``VmHWM``, sampled from /proc every
0.1 s) is printed too, so the whole footprint is visible.

The targets are ratios, not seconds, for the reason ``bench/publish.py`` gives: a budget in
seconds fails on a slow CI runner and hides a regression on a fast laptop, while runs made
on the same machine, in the same minute, against the same servers cancel the machine out.
The issue sets them: the cold run at least 8x faster than the sequential baseline
(concurrent fetching and two parsing processes against one thread that waits for every
response), and the not-modified and unchanged runs each at least 10x faster than the cold
run (a 304 or an identical body must cost nearly nothing). Peak memory must stay under
300 MB at 1,000 feeds (the limit is checked at every size). The exit status is 1 when a
target is missed.

One bound is printed with the results: with 16 requests at a time and ``--latency`` per
response, no run can take less than process start + ``ceil(N / 16) x latency`` (about
0.3 + 0.65 s for 200 feeds at 50 ms), however little it does per response. The 304 and
unchanged targets therefore need a cold run of at least ten times that, and the cold
target on top of them a baseline of at least eighty times it; whether the targets can be
met together at all depends on that arithmetic more than on the code, so it is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import ipaddress
import json
import math
import os
import random
import resource
import selectors
import shutil
import socketserver
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "feeds"
DEFAULT_FEEDS = 200
DEFAULT_LATENCY = 0.05
DEFAULT_PER_HOST = 4
SEED = 20250301
COLD_TARGET = 8.0  # baseline / cold
WARM_TARGET = 10.0  # cold / not modified, cold / unchanged
MEMORY_LIMIT_MB = 300.0
MEMORY_AT = 1000  # the issue states the memory limit for this many feeds
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)  # generated items are dated before this
LAST_MODIFIED = formatdate(1_740_000_000, usegmt=True)
BENCH_LINE = "BENCH-RESULT "
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")

CONFIG = """\
[site]
title = "Aggregate bench"
base_url = "https://bench.example.org/"

[aggregate]
sources = "sources.opml"
database = "communique.db"
"""

VOCABULARY = """
the european union council commission parliament member states foreign policy security
defence partnership agreement negotiations summit declaration minister high representative
strategy cooperation sanctions trade energy climate migration border neighbourhood region
stability resilience crisis response mission operation budget instrument funding support
reform accession candidate country dialogue talks framework implementation review report
regulation proposal vote majority unanimity presidency agenda priority challenge threat
investment infrastructure supply chain market industry technology digital cyber maritime
space humanitarian aid development rights democracy rule law court election observers civil
society media freedom press statement conference ceremony week month year since after
before during while although because therefore however moreover significant important key
major new further joint common shared global local national international bilateral
multilateral strategic political economic social Ukraine Moldova Georgia Balkans Sahel
Indo-Pacific Arctic NATO OSCE G7 Kyiv Brussels Strasbourg Luxembourg
"""
WORDS = VOCABULARY.split()
CATEGORIES = (
    "Foreign Affairs Council",
    "Enlargement",
    "Security and defence",
    "Sanctions",
    "Human rights",
    "Trade",
    "Humanitarian aid",
    "Middle East",
    "Africa",
    "Asia",
    "Eastern Partnership",
    "Global Gateway",
)


# --- the feeds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    """One feed as served at ``/feeds/NAME.xml``: its bytes, type, validator and item count."""

    name: str
    body: bytes
    content_type: str
    items: int | None = None  # None for fixtures: the baseline counts what feedparser finds
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"')


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choices(WORDS, k=words))
    return text[0].upper() + text[1:] + "."


def _paragraph(rng: random.Random, words: int, site: str) -> str:
    sentences, written = [], 0
    while written < words:
        length = min(rng.randint(8, 22), words - written) or 1
        sentence = html.escape(_sentence(rng, length))
        if rng.random() < 0.15:
            sentence += f' <a href="{site}/news/{rng.randrange(10**6)}">{rng.choice(WORDS)}</a>.'
        elif rng.random() < 0.1:
            sentence = f"<strong>{sentence}</strong>"
        sentences.append(sentence)
        written += length
    return "<p>" + " ".join(sentences) + "</p>"


def _full_content(rng: random.Random, site: str, slug: str) -> str:
    blocks = [_paragraph(rng, rng.randint(40, 110), site) for _ in range(rng.randint(3, 8))]
    if rng.random() < 0.5:
        items = "".join(f"<li>{html.escape(_sentence(rng, 6))}</li>" for _ in range(4))
        blocks.insert(2, f"<ul>{items}</ul>")
    if rng.random() < 0.5:  # a relative image: resolved against the item link
        blocks.insert(1, f'<p><img src="../images/{slug}.jpg" alt="{slug}"></p>')
    return "\n".join(blocks)


def generated_feed(index: int) -> Feed:
    """The ``index``-th generated feed: RSS or Atom, 10-50 items, deterministic."""
    rng = random.Random(SEED + index)
    atom = rng.random() < 0.25
    full = rng.random() < 0.35  # full HTML content, else a one-paragraph summary per item
    count = rng.randint(10, 50)
    site = f"https://www.source{index}.example.eu"
    title = f"Source {index}: " + _sentence(rng, 4).rstrip(".")
    moment = NOW - timedelta(hours=rng.randint(1, 48))
    entries = []
    for number in range(count):
        moment -= timedelta(hours=rng.randint(2, 60), minutes=rng.randint(0, 59))
        slug = "-".join([*rng.sample(WORDS, 3), str(number)]).lower()
        link = f"{site}/press/{moment.year}/{slug}"
        if rng.random() < 0.3:
            link += "?utm_source=rss&utm_medium=feed&utm_campaign=press"
        guid_kind = rng.random()
        guid = (
            f"urn:uuid:{hashlib.md5(f'{index}/{number}'.encode()).hexdigest()}"
            if guid_kind < 0.6
            else (link if guid_kind < 0.85 else None)
        )
        entries.append(
            {
                "title": _sentence(rng, rng.randint(5, 14)).rstrip("."),
                "link": link,
                "guid": guid,
                "date": moment,
                "summary": _paragraph(rng, rng.randint(25, 70), site),
                "content": _full_content(rng, site, slug) if full else None,
                "categories": rng.sample(CATEGORIES, rng.randint(0, 3)),
                "author": rng.choice(["Press office", "EEAS", "Spokesperson", ""]),
            }
        )
    body = _atom(title, site, index, entries) if atom else _rss(title, site, entries)
    kind = "application/atom+xml" if atom else "application/rss+xml"
    return Feed(f"gen-{index:04d}", body, f"{kind}; charset=utf-8", count)


def _rss(title: str, site: str, entries: list[dict]) -> bytes:
    esc = html.escape
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">',
        f"<channel><title>{esc(title)}</title><link>{site}/</link>"
        "<description>Press releases and statements</description><language>en</language>",
    ]
    for entry in entries:
        parts.append(f"<item><title>{esc(entry['title'])}</title>")
        parts.append(f"<link>{esc(entry['link'])}</link>")
        if entry["guid"] == entry["link"]:
            parts.append(f"<guid>{esc(entry['guid'])}</guid>")
        elif entry["guid"]:
            parts.append(f'<guid isPermaLink="false">{esc(entry["guid"])}</guid>')
        parts.append(f"<pubDate>{format_datetime(entry['date'], usegmt=True)}</pubDate>")
        if entry["author"]:
            parts.append(f"<dc:creator>{esc(entry['author'])}</dc:creator>")
        parts.extend(f"<category>{esc(c)}</category>" for c in entry["categories"])
        parts.append(f"<description>{esc(entry['summary'])}</description>")
        if entry["content"]:
            parts.append(f"<content:encoded><![CDATA[{entry['content']}]]></content:encoded>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


def _atom(title: str, site: str, index: int, entries: list[dict]) -> bytes:
    esc = html.escape
    updated = entries[0]["date"].isoformat() if entries else NOW.isoformat()
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">',
        f"<title>{esc(title)}</title><id>tag:source{index}.example.eu,2025:feed</id>",
        f'<link rel="alternate" href="{site}/"/><updated>{updated}</updated>',
    ]
    for number, entry in enumerate(entries):
        identifier = entry["guid"] or f"tag:source{index}.example.eu,2025:{number}"
        parts.append(f"<entry><title>{esc(entry['title'])}</title><id>{esc(identifier)}</id>")
        parts.append(f'<link rel="alternate" href="{esc(entry["link"])}"/>')
        parts.append(f"<published>{entry['date'].isoformat()}</published>")
        parts.append(f"<updated>{entry['date'].isoformat()}</updated>")
        if entry["author"]:
            parts.append(f"<author><name>{esc(entry['author'])}</name></author>")
        parts.extend(f'<category term="{esc(c)}"/>' for c in entry["categories"])
        parts.append(f'<summary type="html">{esc(entry["summary"])}</summary>')
        if entry["content"]:
            parts.append(f'<content type="html">{esc(entry["content"])}</content>')
        parts.append("</entry>")
    parts.append("</feed>")
    return "\n".join(parts).encode("utf-8")


def make_feeds(count: int) -> list[Feed]:
    """Every fixture once (up to ``count``), then generated feeds up to ``count``."""
    paths = sorted(FIXTURES.glob("*.xml"))[:count]
    fixtures = [Feed(path.stem, path.read_bytes(), "application/xml") for path in paths]
    return fixtures + [generated_feed(i) for i in range(count - len(fixtures))]


# --- the servers ----------------------------------------------------------------------------


class FeedServers:
    """Threaded HTTP servers on ``127.0.0.2``, ``127.0.0.3``, ... with one accept loop.

    ``mode`` is ``validators`` (ETag and Last-Modified; 304 when they match) or ``none``.
    ``counts`` tallies the answers since the last :meth:`reset`.
    """

    def __init__(self, feeds: list[Feed], latency: float, per_host: int) -> None:
        self.latency = latency
        self.mode = "validators"
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.urls: list[str] = []
        self._servers: list[ThreadingHTTPServer] = []
        routes: dict[tuple[str, str], Feed] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
            timeout = 120

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                feed = routes.get((self.server.server_address[0], self.path))
                time.sleep(outer.latency)
                if feed is None:
                    outer._count("404")
                    self._answer(404, b"not found", {"Content-Type": "text/plain"})
                    return
                headers = {"Content-Type": feed.content_type}
                if outer.mode == "validators":
                    headers["ETag"] = feed.etag
                    headers["Last-Modified"] = LAST_MODIFIED
                    match = self.headers.get("If-None-Match")
                    since = self.headers.get("If-Modified-Since")
                    if match == feed.etag or (match is None and since == LAST_MODIFIED):
                        outer._count("304")
                        self._answer(304, b"", headers)
                        return
                outer._count("200")
                self._answer(200, feed.body, headers)

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        hosts = math.ceil(len(feeds) / per_host)
        for number in range(hosts):
            address = str(ipaddress.IPv4Address("127.0.0.2") + number)
            server = ThreadingHTTPServer((address, 0), Handler, bind_and_activate=False)
            server.daemon_threads = True
            server.block_on_close = False
            server.request_queue_size = 128
            # TCPServer's bind, not HTTPServer's: that one looks the address up in the DNS
            # (socket.getfqdn), which takes most of a second per address without a resolver.
            socketserver.TCPServer.server_bind(server)
            server.server_name, server.server_port = address, server.server_address[1]
            server.server_activate()
            self._servers.append(server)
            port = server.server_address[1]
            for feed in feeds[number * per_host : (number + 1) * per_host]:
                path = f"/feeds/{feed.name}.xml"
                routes[(address, path)] = feed
                self.urls.append(f"http://{address}:{port}{path}")
        self.hosts = hosts
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _count(self, status: str) -> None:
        with self._lock:
            self.counts[status] += 1

    def _accept(self) -> None:
        with selectors.DefaultSelector() as selector:
            for server in self._servers:
                selector.register(server.socket, selectors.EVENT_READ, server)
            while not self._stop.is_set():
                for key, _ in selector.select(0.2):
                    server = key.data
                    try:
                        request, client = server.get_request()
                    except OSError:
                        continue
                    server.process_request(request, client)  # one thread per connection

    def reset(self, mode: str) -> None:
        with self._lock:
            self.mode = mode
            self.counts = Counter()

    def tally(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def __enter__(self) -> FeedServers:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for server in self._servers:
            server.server_close()


# --- processes: the servers and the baseline ------------------------------------------------


def serve_worker(count: int, latency: float, per_host: int) -> int:
    """Serve the feeds until stdin closes, obeying ``mode M`` and ``counts`` lines on stdin.

    The servers live in their own process so that the process that starts the measured ones
    stays small: on Linux a child's ``ru_maxrss`` starts from its parent's peak RSS (it is
    carried across fork and exec), so a parent holding every feed would hide the peak of
    the process being measured.
    """
    started = time.perf_counter()
    feeds = make_feeds(count)
    with FeedServers(feeds, latency, per_host) as servers:
        info = {
            "urls": servers.urls,
            "hosts": servers.hosts,
            "fixtures": sum(1 for feed in feeds if feed.items is None),
            "items": sum(feed.items or 0 for feed in feeds),
            "sizes": sorted(len(feed.body) for feed in feeds),
            "seconds": time.perf_counter() - started,
        }
        print(json.dumps(info), flush=True)
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command == "mode":
                servers.reset(argument)
                print("ok", flush=True)
            elif command == "counts":
                print(json.dumps(servers.tally()), flush=True)
    return 0


class ServerProcess:
    """The parent's handle on :func:`serve_worker`: URLs, mode switches and answer counts."""

    def __init__(self, count: int, latency: float, per_host: int) -> None:
        command = _worker(["--serve", str(count), "--latency", repr(latency)])
        self._process = subprocess.Popen(
            [*command, "--per-host", str(per_host)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_environment(),
        )
        line = self._process.stdout.readline()
        if not line:
            raise SystemExit(f"the feed servers did not start (exit {self._process.wait()})")
        self.info = json.loads(line)
        self.urls: list[str] = self.info["urls"]

    def _ask(self, command: str) -> str:
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        answer = self._process.stdout.readline().strip()
        if not answer:
            raise SystemExit("the feed servers stopped answering")
        return answer

    def reset(self, mode: str) -> None:
        """Switch every server to ``mode`` and zero the answer counts."""
        self._ask(f"mode {mode}")

    def counts(self) -> Counter[str]:
        """Answers by status since the last :meth:`reset`."""
        return Counter(json.loads(self._ask("counts")))

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def baseline_worker(url_file: str) -> int:
    """``feedparser.parse(url)`` for every URL, one after the other; prints what it saw."""
    import feedparser

    entries, bad = [], []
    for url in Path(url_file).read_text().split():
        parsed = feedparser.parse(url)
        entries.append(len(parsed.entries))
        if parsed.get("status") != 200:
            bad.append(f"{url}: {parsed.get('status')} {parsed.get('bozo_exception', '')}")
    print(BENCH_LINE + json.dumps({"entries": entries, "bad": bad}))
    return 0


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Measured:
    """One process: wall time from start to exit, output, peak RSS and CPU time."""

    wall: float
    code: int
    stdout: str
    stderr: str
    peak_mb: float  # ru_maxrss of the process (wait4)
    cpu: float  # user + system seconds of the process (wait4)
    helpers_peak_mb: float  # largest sampled VmHWM among its descendants (parser processes)
    helpers_cpu: float  # their CPU seconds, sampled (misses at most their last 0.1 s)

    @property
    def report(self) -> dict:
        """What a ``--baseline-worker`` printed."""
        for line in self.stdout.splitlines():
            if line.startswith(BENCH_LINE):
                return json.loads(line[len(BENCH_LINE) :])
        return {}


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                pids = [int(p) for p in children.read_text().split()]
            except (OSError, ValueError):
                continue
            found.extend(pids)
            todo.extend(pids)
    return found


def _usage(pid: int) -> tuple[float, float] | None:
    """``(VmHWM in MB, CPU seconds)`` of a running process, from /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    peak = next((int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmHWM:")), 0)
    return peak / 1024, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _environment() -> dict[str, str]:
    """The environment of every process started: no proxy may take these loopback requests."""
    environment = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    environment.pop("COMMUNIQUE_DEBUG", None)
    return environment


def _max_rss_mb(usage: resource.struct_rusage) -> float:
    return usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def measure(command: list[str], cwd: Path) -> Measured:
    """Run ``command``, timing it from start to exit; its peak RSS and CPU come from ``wait4``.

    ``wait4`` counts the process and the descendants it reaped. The parser processes are
    children of multiprocessing's fork server, which the aggregate process does not reap, so
    their peak RSS and CPU are sampled from /proc instead (``VmHWM`` is a high-water mark,
    so sampling loses little).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        helpers: dict[int, tuple[float, float]] = {}
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, env=_environment())
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                for child in _descendants(process.pid):
                    usage = _usage(child)
                    if usage:
                        old = helpers.get(child, (0.0, 0.0))
                        helpers[child] = (max(old[0], usage[0]), max(old[1], usage[1]))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return Measured(
        wall=wall,
        code=process.returncode,
        stdout=stdout,
        stderr=stderr,
        peak_mb=_max_rss_mb(usage),
        cpu=usage.ru_utime + usage.ru_stime,
        helpers_peak_mb=max((peak for peak, _ in helpers.values()), default=0.0),
        helpers_cpu=sum(cpu for _, cpu in helpers.values()),
    )


def _worker(arguments: list[str]) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *arguments]


def _communique() -> str:
    script = Path(sysconfig.get_path("scripts")) / "communique"
    if not script.exists():
        raise SystemExit(f"{script} not found: install communique here (pip install -e .)")
    return str(script)


# --- aggregate runs -------------------------------------------------------------------------


@dataclass
class Run:
    """One checked ``aggregate`` run."""

    measured: Measured
    summary: dict

    @property
    def wall(self) -> float:
        return self.measured.wall


EXPECTED_STATUS = {"ok": "200", "not_modified": "304", "unchanged": "200"}


def aggregate(servers: ServerProcess, mode: str, config: Path, expect: str, label: str) -> Run:
    """``communique aggregate --all --json`` in a fresh process, checked against ``expect``."""
    count = len(servers.urls)
    servers.reset(mode)
    command = [_communique(), "--config", str(config), "aggregate", "--all", "--json"]
    measured = measure(command, config.parent)
    served = servers.counts()
    try:
        summary = json.loads(measured.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(measured.stdout + measured.stderr)
        raise SystemExit(f"{label}: no JSON summary (exit {measured.code})") from None
    status = EXPECTED_STATUS[expect]
    problems = []
    if summary.get(expect) != count or summary.get("sources") != count:
        problems.append(
            f"summary: {summary.get('sources')} sources, "
            + ", ".join(f"{k} {summary.get(k)}" for k in ("ok", "not_modified", "unchanged"))
            + f" (expected {count} {expect})"
        )
    if served[status] != count or sum(served.values()) != count:
        problems.append(f"servers answered {dict(served)} (expected {count} x {status})")
    if expect != "ok" and (summary.get("items_new") or summary.get("items_updated")):
        problems.append(
            f"{summary.get('items_new')} new and {summary.get('items_updated')} updated items "
            "though nothing changed upstream"
        )
    problems += [f"failed: {f['url']}: {f['error']}" for f in summary.get("failures", [])[:10]]
    if problems or measured.code != 0:
        sys.stderr.write(measured.stderr[-4000:] + "\n")
        raise SystemExit(
            f"{label}: the run did not do what it is meant to measure (exit {measured.code}):"
            + "".join(f"\n  {problem}" for problem in problems)
        )
    return Run(measured, summary)


def _show(label: str, what: str, measured: Measured, extra: str = "") -> None:
    helpers = f" + {measured.helpers_cpu:.2f}" if measured.helpers_cpu >= 0.005 else ""
    print(
        f"{label:<9} {what:<30} {measured.wall:6.2f} s  (CPU {measured.cpu:.2f}{helpers} s"
        + (f"; {extra})" if extra else ")")
    )


def _times(runs: list[Run]) -> str:
    return ", ".join(f"{run.wall:.2f}" for run in runs)


# --- command line ---------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _latency(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 5:
        raise argparse.ArgumentTypeError("must be between 0 and 5 seconds")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--feeds",
        type=_positive_int,
        default=DEFAULT_FEEDS,
        help=f"feeds to serve (default {DEFAULT_FEEDS})",
    )
    parser.add_argument(
        "--latency",
        type=_latency,
        default=DEFAULT_LATENCY,
        help=f"seconds added to every response (default {DEFAULT_LATENCY:g})",
    )
    parser.add_argument(
        "--per-host",
        type=_positive_int,
        default=DEFAULT_PER_HOST,
        help=f"feeds per loopback address (default {DEFAULT_PER_HOST})",
    )
    parser.add_argument(
        "--repeat",
        type=_positive_int,
        default=None,
        help="runs of each aggregate measurement, best kept (default 3; 1 above 500 feeds)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (database, config)"
    )
    parser.add_argument("--baseline-worker", metavar="URLS", help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=_positive_int, metavar="N", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.baseline_worker:
        return baseline_worker(args.baseline_worker)
    if args.serve:
        return serve_worker(args.serve, args.latency, args.per_host)

    from sources.opml import Source, to_opml
    from sources.settings import AggregateSettings

    limits = AggregateSettings()  # the bench's config sets none: communique's defaults
    count = args.feeds
    repeat = args.repeat or (3 if count <= 500 else 1)
    print(
        f"communique aggregate benchmark: python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs (load {os.getloadavg()[0]:.2f}), {count} feeds, "
        f"{args.latency * 1000:g} ms latency"
    )
    temp = Path(tempfile.mkdtemp(prefix=f"communique-bench-aggregate-{count}-"))
    try:
        with ServerProcess(count, args.latency, args.per_host) as servers:
            info = servers.info
            sizes = info["sizes"]
            print(
                f"serving {count} feeds ({info['fixtures']} fixtures, {count - info['fixtures']} "
                f"generated with {info['items']} items; {sum(sizes) / 1e6:.1f} MB, median "
                f"{sizes[len(sizes) // 2] / 1e3:.0f} kB, largest {sizes[-1] / 1e3:.0f} kB) on "
                f"{info['hosts']} loopback addresses, {args.per_host} per address"
            )
            print(
                f"communique's default limits: {limits.concurrency} requests at a time, "
                f"{limits.per_host} per host; {limits.workers or os.cpu_count()} parsing processes"
            )
            (temp / "urls.txt").write_text("\n".join(servers.urls) + "\n")
            sources = [Source(url=url) for url in servers.urls]
            (temp / "sources.opml").write_bytes(to_opml(sources, title="bench"))
            config = temp / "communique.toml"
            config.write_text(CONFIG)

            startup = min(
                (measure([_communique(), "--version"], temp) for _ in range(3)),
                key=lambda m: m.wall,
            )
            if startup.code != 0:
                raise SystemExit(f"communique --version failed: {startup.stderr.strip()}")
            _show("start", "communique --version", startup)

            servers.reset("validators")
            baseline = measure(_worker(["--baseline-worker", str(temp / "urls.txt")]), temp)
            report, served = baseline.report, servers.counts()
            if baseline.code != 0 or not report or report["bad"] or served["200"] != count:
                sys.stderr.write(baseline.stderr[-4000:])
                raise SystemExit(
                    f"baseline failed (exit {baseline.code}, answers {dict(served)}): "
                    + "; ".join(report.get("bad", [])[:5])
                )
            entries = sum(report["entries"])
            _show("baseline", "feedparser.parse(url) in turn", baseline, f"{entries} entries")

            colds: list[Run] = []
            for attempt in range(repeat):
                for name in ("communique.db", "communique.db-wal", "communique.db-shm"):
                    (temp / name).unlink(missing_ok=True)
                colds.append(aggregate(servers, "validators", config, "ok", f"cold {attempt + 1}"))
            cold = min(colds, key=lambda run: run.wall)
            stored = f"{cold.summary['items_new']} items stored"
            _show("cold", "empty database, all new", cold.measured, f"{stored}; {_times(colds)}")
            warm = [
                aggregate(servers, "validators", config, "not_modified", f"304 {i + 1}")
                for i in range(repeat)
            ]
            not_modified = min(warm, key=lambda run: run.wall)
            _show("304", "every source not modified", not_modified.measured, _times(warm))
            same = [
                aggregate(servers, "none", config, "unchanged", f"unchanged {i + 1}")
                for i in range(repeat)
            ]
            unchanged = min(same, key=lambda run: run.wall)
            _show("unchanged", "no validators, same bodies", unchanged.measured, _times(same))
    finally:
        if args.keep:
            print(f"kept {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)

    def peak_of(runs: list[Run]) -> float:
        return max(run.measured.peak_mb for run in runs)

    peak = peak_of([*colds, *warm, *same])
    parsers = max(run.measured.helpers_peak_mb for run in colds)
    own = _max_rss_mb(resource.getrusage(resource.RUSAGE_SELF))
    print(
        f"peak RSS: aggregate process {peak:.0f} MB (cold {peak_of(colds):.0f}, 304 "
        f"{peak_of(warm):.0f}, unchanged {peak_of(same):.0f}), and each of its parser "
        f"processes up to {parsers:.0f} MB; baseline {baseline.peak_mb:.0f} MB"
        + (
            f" (this process peaked at {own:.0f} MB, more than a child's lowest possible "
            "ru_maxrss: these figures are upper bounds)"
            if own >= min(startup.peak_mb, peak)
            else ""
        )
    )
    floor = startup.wall + math.ceil(count / limits.concurrency) * args.latency
    print(
        f"bound: no run beats process start + ceil({count}/{limits.concurrency}) x "
        f"{args.latency * 1000:g} ms = {floor:.2f} s, so the 304 target needs a cold run of "
        f">= {WARM_TARGET * floor:.1f} s and then the cold target a baseline of "
        f">= {COLD_TARGET * WARM_TARGET * floor:.0f} s (load now {os.getloadavg()[0]:.2f})"
    )

    def cpu(run: Run) -> float:
        return run.measured.cpu + run.measured.helpers_cpu

    def less(run: Run) -> str:
        work = (cpu(cold) - startup.cpu) / max(cpu(run) - startup.cpu, 1e-3)
        return f"{cpu(cold) / cpu(run):.1f}x less; {work:.0f}x less after start"

    print(
        f"CPU (no target): cold {cpu(cold):.2f} s, 304 {cpu(not_modified):.2f} s "
        f"({less(not_modified)}), unchanged {cpu(unchanged):.2f} s ({less(unchanged)}); "
        f"process start {startup.cpu:.2f} s; baseline {baseline.cpu:.2f} s"
    )

    checks = [
        ("cold vs baseline", baseline.wall / cold.wall, COLD_TARGET),
        ("304 vs cold", cold.wall / not_modified.wall, WARM_TARGET),
        ("unchanged vs cold", cold.wall / unchanged.wall, WARM_TARGET),
    ]
    ok = True
    for name, ratio, target in checks:
        ok &= ratio >= target
        verdict = "OK" if ratio >= target else "FAIL"
        print(f"{name:<17} {ratio:5.1f}x faster; target >= {target:g}x: {verdict}")
    memory_ok = peak < MEMORY_LIMIT_MB
    ok &= memory_ok
    note = "" if count >= MEMORY_AT else f" (set for {MEMORY_AT} feeds)"
    print(
        f"{'peak memory':<17} {peak:5.0f} MB; target < {MEMORY_LIMIT_MB:g} MB{note}: "
        + ("OK" if memory_ok else "FAIL")
    )
    print(
        f"aggregate {count} feeds: baseline {baseline.wall:.2f} s, cold {cold.wall:.2f} s "
        f"({checks[0][1]:.1f}x), 304 {not_modified.wall:.2f} s ({checks[1][1]:.1f}x), "
        f"unchanged {unchanged.wall:.2f} s ({checks[2][1]:.1f}x), peak {peak:.0f} MB: "
        + ("OK" if ok else "FAIL")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
