"""Hostile and mistaken source lists: invalid URLs, one feed spelled many ways, entity bombs.

Each test runs the real CLI on a project in ``tmp_path`` (click's runner, or a real process
where a closed pipe matters) against a real loopback :class:`FeedServer`; nothing of ours is
mocked. What is checked is what a user sees: the exit code, the one line naming
``file:line`` and what survives in ``sources.opml`` and the database.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner, Result
from feedserver import FeedServer, Route, rss

from cli import main
from sources.follow.opml import parse_opml

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
def project(tmp_path: Path, server: FeedServer) -> Project:
    return Project(tmp_path, server)


# --- invalid URLs -------------------------------------------------------------------------

INVALID = [
    ("http://127.0.0.1:99999/feed", "invalid port"),
    ("http://[::1/", "not a valid URL"),
    ("ftp://files.example/feed.xml", "not an absolute http(s) URL"),
    ("javascript:alert(1)", "not an absolute http(s) URL"),
    ("http:///feed.xml", "not an absolute http(s) URL"),
    ("http://exa mple.org/feed", "spaces or control characters"),
    ("http://-bad-.example/feed", "invalid host name"),
]


def test_import_keeps_the_valid_entries_and_names_each_invalid_line(project, server):
    server.route("/a.xml", Route(body=rss(items("a", 2))))
    server.route("/b.xml", Route(body=rss(items("b", 3))))
    project.opml.write_text(opml(feed(server.url("/a.xml"))), encoding="utf-8")
    other = project.root / "other.opml"
    lines = [feed(url) for url, _ in INVALID]
    other.write_text(opml(*lines[:3], feed(server.url("/b.xml")), *lines[3:]), encoding="utf-8")

    result = project.run("sources", "import", str(other))

    assert result.exit_code == 2, result.output
    errors = result.stderr.splitlines()
    assert len(errors) == len(INVALID)
    expected_lines = [3, 4, 5, 7, 8, 9, 10]  # the outline's own line; line 6 is the good one
    for error, line, (_, message) in zip(errors, expected_lines, INVALID, strict=True):
        assert error.startswith(f"{other}:{line}: "), error
        assert message in error and "skipped" in error
    assert "imported 1 new source(s) of 1" in result.stdout
    assert "7 invalid" in result.stdout
    assert project.urls() == [server.url("/a.xml"), server.url("/b.xml")]

    aggregated = project.run("aggregate", "--json")  # the invalid entries cannot break a run
    assert aggregated.exit_code == 0, aggregated.output
    assert json.loads(aggregated.stdout)["ok"] == 2
    assert project.count("SELECT COUNT(*) FROM entries") == 5


def test_an_invalid_entry_in_the_working_list_is_skipped_with_a_warning(project, server):
    server.route("/ok.xml", Route(body=rss(items("ok", 2))))
    project.opml.write_text(
        opml(
            feed("http://127.0.0.1:99999/feed", "bad port"),
            feed(server.url("/ok.xml")),
            feed("http://[::1/", "bad host"),
        ),
        encoding="utf-8",
    )
    for _ in range(2):  # run after run
        result = project.run("aggregate", "--all", "--json")
        assert result.exit_code == 1, result.output  # a problem found; the good source polled
        summary = json.loads(result.stdout)
        assert (summary["sources"], summary["failed"]) == (1, 0)
        assert result.stderr.splitlines() == [
            f"warning: {project.opml}:3: 'http://127.0.0.1:99999/feed' has an invalid port "
            "(1 to 65535); skipped (fix or remove it)",
            f"warning: {project.opml}:5: 'http://[::1/' is not a valid URL (Invalid IPv6 URL); "
            "skipped (fix or remove it)",
        ]
    assert project.count("SELECT COUNT(*) FROM entries") == 2

    listed = project.run("sources", "list")
    assert listed.exit_code == 0 and f"{project.opml}:3:" in listed.stderr

    # A command that rewrites the list keeps the user's lines, even those it cannot use.
    added = project.run("sources", "add", "--no-check", server.url("/new.xml"))
    assert added.exit_code == 0, added.output
    written = project.opml.read_text(encoding="utf-8")
    assert "http://127.0.0.1:99999/feed" in written and "http://[::1/" in written
    removed = project.run("sources", "remove", "http://127.0.0.1:99999/feed")
    assert removed.exit_code == 0, removed.output
    assert "99999" not in project.opml.read_text(encoding="utf-8")


@pytest.mark.parametrize(("url", "message"), INVALID)
def test_sources_add_refuses_an_invalid_url_naming_the_argument(project, url, message):
    project.opml.write_text(opml(feed("https://example.org/feed.xml")), encoding="utf-8")
    before = project.opml.read_bytes()
    for check in ([], ["--no-check"]):
        result = project.run("sources", "add", *check, url)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("communique sources add: invalid value for URL: ")
        assert message in result.stderr and result.stderr.count("\n") == 1
        assert "Traceback" not in result.output
    assert project.opml.read_bytes() == before


# --- one feed, many spellings -------------------------------------------------------------


def spellings(server: FeedServer) -> list[str]:
    url = server.url("/ok.xml")  # http://127.0.0.1:PORT/ok.xml
    return [url + "#frag", url.replace("http://", "HTTP://"), url.replace("/ok.xml", "/ok.xml#")]


def test_the_same_feed_spelled_differently_is_subscribed_once(project, server):
    server.route("/ok.xml", Route(body=rss(items("ok", 3))))
    project.opml.write_text(opml(), encoding="utf-8")
    url = server.url("/ok.xml")
    first = project.run("sources", "add", url + "#latest")
    assert first.exit_code == 0, first.output
    assert f"added {url} " in first.stdout  # the fragment is dropped
    for other in spellings(server):
        again = project.run("sources", "add", other)
        assert again.exit_code == 0, again.output
        assert again.stdout.splitlines()[-1] == f"already subscribed: {url}"
    assert project.urls() == [url]

    credentials = project.run("sources", "add", url.replace("http://", "http://user:pw@"))
    assert credentials.exit_code == 2
    assert "user name or password" in credentials.stderr
    assert "pw" not in credentials.output.replace("password", "")  # the secret is not echoed
    assert project.urls() == [url]

    result = project.run("aggregate", "--json")
    assert result.exit_code == 0, result.output
    assert project.count("SELECT COUNT(*) FROM entries") == 3  # one copy of every item


def test_import_normalises_urls_and_counts_duplicates(project, server):
    server.route("/ok.xml", Route(body=rss(items("ok", 3))))
    url = server.url("/ok.xml")
    project.opml.write_text(opml(feed(url)), encoding="utf-8")
    host = url.split("/")[2]
    other = project.root / "other.opml"
    other.write_text(
        opml(
            *(feed(u) for u in spellings(server)),
            feed(url.replace("http://", "http://user:pw@")),
            feed("HTTP://Example.ORG:80/Path/Feed.xml?Q=A#x"),
            feed("https://example.org/Path/Feed.xml?Q=A"),
        ),
        encoding="utf-8",
    )
    result = project.run("sources", "import", str(other))
    assert result.exit_code == 2, result.output  # the line with credentials
    assert result.stderr.splitlines() == [
        f"{other}:6: 'http://***@{host}/ok.xml' contains a user name or password; communique "
        "does not keep credentials in the source list (use a feed URL that needs none); skipped"
    ]
    assert "imported 2 new source(s) of 3" in result.stdout
    assert "1 already subscribed, 2 repeated in the file, 1 invalid" in result.stdout
    assert project.urls() == [
        url,
        "http://example.org/Path/Feed.xml?Q=A",  # path and query case kept
        "https://example.org/Path/Feed.xml?Q=A",  # another scheme is another URL
    ]
    assert "user:pw" not in project.opml.read_text(encoding="utf-8")


def test_a_source_stored_under_an_older_spelling_keeps_working(project, server):
    server.route("/ok.xml", Route(body=rss(items("ok", 2))))
    url = server.url("/ok.xml")
    old = url.replace("http://", "HTTP://") + "#written-before-urls-were-normalised"
    project.opml.write_text(opml(feed(old)), encoding="utf-8")
    assert project.run("aggregate").exit_code == 0
    again = project.run("sources", "add", url)
    assert again.exit_code == 0
    assert again.stdout.splitlines()[-1] == f"already subscribed: {old}"
    assert project.urls() == [old]  # not rewritten: its items are stored under this spelling
    listed = json.loads(project.run("sources", "list", "--json").stdout)
    assert [(row["url"], row["entries"]) for row in listed] == [(old, 2)]
    assert project.run("sources", "remove", url).exit_code == 0  # any spelling removes it
    assert project.urls() == []


def test_a_list_already_holding_several_spellings_polls_the_feed_once(project, server):
    """A hand-edited list (or one from an older version) with one feed three ways, and once
    with a password: the first spelling is polled, the others are named with their line and
    the line of the first, and no password is ever printed."""
    server.route("/ok.xml", Route(body=rss(items("ok", 3))))
    url = server.url("/ok.xml")
    host = url.split("/")[2]
    secret = url.replace("http://", "http://user:s3cret@")
    project.opml.write_text(
        opml(
            feed(url),  # line 3: the one polled
            feed(url.replace("http://", "HTTP://") + "#x"),  # line 4
            feed(secret),  # line 5
            feed(url.replace("/ok.xml", "/./sub/../ok.xml")),  # line 6
            feed(url),  # line 7: the very same spelling again
        ),
        encoding="utf-8",
    )
    expected = [
        f"warning: {project.opml}:4: the same feed as line 3 ({url}), spelled differently; "
        "skipped (fix or remove it)",
        f"warning: {project.opml}:5: 'http://***@{host}/ok.xml' contains a user name or "
        "password; communique does not keep credentials in the source list (use a feed URL "
        "that needs none); skipped (fix or remove it)",
        f"warning: {project.opml}:6: the same feed as line 3 ({url}), spelled differently; "
        "skipped (fix or remove it)",
        f"warning: {project.opml}:7: the same feed as line 3 ({url}), spelled differently; "
        "skipped (fix or remove it)",
    ]
    for run in range(2):
        result = project.run("aggregate", "--json", *(["--all"] if run else []))
        assert result.exit_code == 1, result.output  # the list needs fixing
        assert result.stderr.splitlines() == expected
        assert json.loads(result.stdout)["sources"] == 1
        assert len(server.requests_for("/ok.xml")) == run + 1  # polled once a run
        assert project.count("SELECT COUNT(*) FROM entries") == 3  # one copy of every item

    listed = project.run("sources", "list")
    assert listed.exit_code == 0
    assert listed.stderr.splitlines() == expected
    assert listed.stdout.count(url) == 1
    as_json = project.run("sources", "list", "--json")
    assert [row["url"] for row in json.loads(as_json.stdout)] == [url]
    exported = project.run("sources", "export")
    assert exported.exit_code == 0
    assert exported.stderr.splitlines() == [
        expected[1].replace("skipped (fix or remove it)", "left out of the export")
    ]
    for result in (listed, as_json, exported):
        assert "s3cret" not in result.output and "user:" not in result.output
    assert exported.stdout.count("ok.xml") == 4  # the polled one, the others as written

    # the user's lines are kept when the list is rewritten, and go one by one
    assert project.run("sources", "add", "--no-check", server.url("/new.xml")).exit_code == 0
    assert project.opml.read_text(encoding="utf-8").count("ok.xml") == 5
    assert project.run("sources", "remove", secret).exit_code == 0
    assert "s3cret" not in project.opml.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("/./ok.xml", "/ok.xml"),
        ("/a/../ok.xml", "/ok.xml"),
        ("/a/b/../../ok.xml", "/ok.xml"),
        ("/../ok.xml", "/ok.xml"),
        ("/feeds/./", "/feeds/"),
        ("/feeds/x/..", "/feeds/"),
        ("/a/.../ok.xml", "/a/.../ok.xml"),  # not a dot segment
        ("/a/..b/ok.xml", "/a/..b/ok.xml"),
    ],
)
def test_dot_segments_are_one_spelling(project, written, canonical):
    project.opml.write_text(opml(), encoding="utf-8")
    result = project.run("sources", "add", "--no-check", f"http://example.org{written}")
    assert result.exit_code == 0, result.output
    assert project.urls() == [f"http://example.org{canonical}"]
    again = project.run("sources", "add", "--no-check", f"http://example.org{canonical}")
    assert again.stdout.splitlines()[-1] == f"already subscribed: http://example.org{canonical}"


# --- autodiscovery ------------------------------------------------------------------------

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>EU Watch</title><id>urn:euwatch</id>
<updated>2025-06-01T00:00:00Z</updated></feed>"""


def page(*hrefs: str) -> Route:
    links = "".join(
        f'<link rel="alternate" type="application/atom+xml" href="{href}">' for href in hrefs
    )
    return Route(
        body=f"<!doctype html><html><head>{links}</head><body>Blog</body></html>".encode(),
        content_type="text/html; charset=utf-8",
    )


def test_autodiscovery_passes_over_unusable_candidates(project, server):
    project.opml.write_text(opml(), encoding="utf-8")
    server.route(
        "/blog/", page("file:///etc/passwd", "javascript:alert(1)", "/down.xml", "/feed.xml")
    )
    server.route("/down.xml", Route(status=503))
    server.route("/feed.xml", Route(body=ATOM, content_type="application/atom+xml"))
    result = project.run("sources", "add", server.url("/blog/"))
    assert result.exit_code == 0, result.output
    assert f"added {server.url('/feed.xml')} (EU Watch)" in result.stdout
    assert "passed over" in result.stdout and "HTTP 503" in result.stdout
    assert project.urls() == [server.url("/feed.xml")]


def test_autodiscovery_fetches_at_most_five_candidates(project, server):
    project.opml.write_text(opml(), encoding="utf-8")
    before = project.opml.read_bytes()
    server.route("/blog/", page(*(f"/broken{i}.xml" for i in range(8)), "/feed.xml"))
    server.route("/feed.xml", Route(body=ATOM, content_type="application/atom+xml"))
    result = project.run("sources", "add", server.url("/blog/"))
    assert result.exit_code == 2
    assert "fetched 5 of 9" in result.stderr
    fetched = [s.path for s in server.seen if s.path.startswith("/broken")]
    assert fetched == [f"/broken{i}.xml" for i in range(5)]
    assert server.requests_for("/feed.xml") == []
    assert project.opml.read_bytes() == before


# --- size limits and entities -------------------------------------------------------------


def import_refused(project: Project, document: str | bytes) -> Result:
    project.opml.write_text(opml(feed("https://example.org/feed.xml")), encoding="utf-8")
    before = project.opml.read_bytes()
    other = project.root / "other.opml"
    other.write_bytes(document.encode() if isinstance(document, str) else document)
    result = project.run("sources", "import", str(other))
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(f"{other}:")
    assert project.opml.read_bytes() == before
    return result


def test_billion_laughs_is_refused_without_expanding_anything(project):
    entities = ['<!ENTITY a "lol">'] + [
        f'<!ENTITY {chr(98 + i)} "{f"&{chr(97 + i)};" * 10}">' for i in range(9)
    ]
    prolog = "\n<!DOCTYPE opml [\n" + "\n".join(entities) + "\n]>"
    result = import_refused(project, opml(feed("https://example.org/&j;", "&j;"), prolog=prolog))
    assert result.stderr.startswith(f"{project.root / 'other.opml'}:3: declares XML entities")


def test_entities_are_refused_in_any_encoding(project):
    document = opml(
        feed("https://example.org/&e;"), prolog='\n<!DOCTYPE opml [<!ENTITY e "a.xml">]>'
    )
    utf16 = document.replace('version="1.0"?>', 'version="1.0" encoding="UTF-16"?>', 1)
    result = import_refused(project, utf16.encode("utf-16"))
    assert "declares XML entities" in result.stderr


def test_entity_expansion_under_expats_limit_is_refused(project):
    """800 KB that expat would expand a hundredfold (83 MB in the issue) into sources.opml."""
    entity = "EU foreign policy " * 14  # 252 characters per 3-byte reference
    titles = "&t;" * 60
    outlines = [feed(f"https://example.org/{i}.xml", titles) for i in range(3_200)]  # about 800 KB
    document = opml(*outlines, prolog=f'\n<!DOCTYPE opml [<!ENTITY t "{entity}">]>')
    assert 700_000 < len(document) < 900_000
    expanded = ET.fromstring(document)  # expat, the parser the issue found this with, expands it
    assert sum(len(o.get("text")) for o in expanded.iter("outline")) > 40_000_000
    del expanded
    result = import_refused(project, document)
    assert ":2: declares XML entities" in result.stderr
    assert project.opml.stat().st_size < 1_000


def test_entities_in_the_working_list_stop_the_run_before_anything_is_fetched(project, server):
    project.opml.write_text(
        opml(feed(server.url("/&x;")), prolog='\n<!DOCTYPE opml [<!ENTITY x "ok.xml">]>'),
        encoding="utf-8",
    )
    result = project.run("aggregate")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{project.opml}:2: declares XML entities")
    assert server.seen == []


def test_a_list_over_two_mebibytes_is_refused(project):
    padding = "<!--" + "x" * (2 * 1024 * 1024) + "-->"
    result = import_refused(project, opml(feed("https://example.org/a.xml"), padding))
    assert "larger than 2.0 MiB" in result.stderr


def test_more_than_ten_thousand_outlines_are_refused(project):
    outlines = [feed(f"https://example.org/{i}.xml") for i in range(10_001)]
    result = import_refused(project, opml(*outlines))
    assert result.stderr.startswith(f"{project.root / 'other.opml'}:10003: more than 10,000")


@pytest.mark.parametrize("attribute", ["text", "xmlUrl", "htmlUrl"])
def test_a_field_over_2048_characters_is_refused(project, attribute):
    attributes = {"type": "rss", "text": "t", "xmlUrl": "https://example.org/f.xml"}
    attributes[attribute] = "https://example.org/" + "a" * 2048
    outline = "<outline " + " ".join(f'{k}="{v}"' for k, v in attributes.items()) + "/>"
    result = import_refused(project, opml(feed("https://example.org/ok.xml"), outline))
    assert f":4: {attribute} is 2,068 characters long; the limit is 2,048" in result.stderr


def test_an_import_that_would_overflow_the_list_is_refused(project):
    project.opml.write_text(
        opml(*(feed(f"https://example.org/mine{i}.xml") for i in range(6_000))), encoding="utf-8"
    )
    before = project.opml.read_bytes()
    other = project.root / "other.opml"
    other.write_text(
        opml(*(feed(f"https://example.org/theirs{i}.xml") for i in range(6_000))), encoding="utf-8"
    )
    result = project.run("sources", "import", str(other))
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"{project.opml}: would have 12,000 outlines; a source list may have 10,000\n"
    )
    assert project.opml.read_bytes() == before


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


# --- usage errors: one line, exit 2 -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "start", "says"),
    [
        (["--bogus"], "communique: ", "--bogus"),
        (["bogus"], "communique: ", "'bogus'"),
        (
            ["sources", "add", "http://127.0.0.1:99999/feed"],
            "communique sources add: ",
            "invalid value for URL: 'http://127.0.0.1:99999/feed' has an invalid port (1 to 65535)",
        ),
        (["sources", "add"], "communique sources add: ", "missing argument 'URL'"),
        (["sources", "import", "nowhere.opml"], "communique sources import: ", "nowhere.opml"),
        (
            ["digest", "--format", "pdf"],
            "communique digest: ",
            "invalid value for --format: use md",
        ),
        (["explain", "0"], "communique explain: ", "invalid value for 'ITEM'"),
        (["search", "--limit", "x", "eu"], "communique search: ", "'x' is not a valid integer"),
    ],
)
def test_usage_errors_are_one_line_naming_the_command_and_its_help(project, args, start, says):
    result = project.run(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(start) and says in line, line
    assert line.endswith(f"(see {start.removesuffix(': ')} --help)"), line
    assert not (project.root / "c.db").exists()


def test_a_usage_error_is_one_line_from_the_installed_command_too(tmp_path):
    command = Path(sys.executable).parent / "communique"
    done = subprocess.run(
        [str(command), "sources", "add", "--bogus"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.startswith("communique sources add: no such option")
    assert done.stderr.count("\n") == 1, done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_a_group_without_a_command_still_shows_its_help(project):
    result = project.run("sources")
    assert "Commands:" in result.output and "add" in result.output
