"""JSON Feed sources (issue 18, point 10): followed like Atom and RSS, hostile ones safely.

Everything goes through the CLI against a real loopback server: communique's own published
``feed.json`` gives the items its ``atom.xml`` gives, and its ``next_url`` pages are walked as
the history; a JSON Feed 1.0 document, a hostile one, bodies that are not feeds (named once,
in one line), autodiscovery from a page, and a feed polled again unchanged.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from feedserver import FeedServer, Route
from stored_items import readable

from cli import main

BASE = "https://notes.example.org/"  # the test site's base_url (conftest.CONFIG)
JSON_TYPE = "application/feed+json"


class Reader:
    """Someone who follows feeds: a config, a source list and a database in ``root``."""

    def __init__(self, root: Path, max_items: int = 5_000) -> None:
        root.mkdir(exist_ok=True)
        self.root = root
        self.config = root / "communique.toml"
        self.config.write_text(
            '[site]\nbase_url = "https://reader.example.org/"\n'
            f'[aggregate]\nsources = "sources.opml"\ndatabase = "c.db"\nworkers = 1\n'
            f"max_items = {max_items}\n",
            encoding="utf-8",
        )
        (root / "sources.opml").write_text(
            '<?xml version="1.0"?><opml version="2.0"><head/><body/></opml>', encoding="utf-8"
        )

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["--config", str(self.config), *args])

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result

    def rows(self, source: str) -> dict[str, dict[str, str]]:
        """The stored items of one source, by guid."""
        with contextlib.closing(sqlite3.connect(self.root / "c.db")) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT e.* FROM entries e JOIN sources s ON s.id = e.source_id WHERE s.url = ?",
                (source,),
            ).fetchall()
        return {row["guid"]: readable(row) for row in rows}

    def source(self, url: str) -> dict[str, str]:
        with contextlib.closing(sqlite3.connect(self.root / "c.db")) as db:
            db.row_factory = sqlite3.Row
            return dict(db.execute("SELECT * FROM sources WHERE url = ?", (url,)).fetchone())

    def counts(self) -> tuple[int, int]:
        """One verbose run: ``(entries parsed, items recognised unchanged)`` from the log."""
        result = self.ok("aggregate", "--all", "-v")
        found = re.search(r"(\d+) parsed, (\d+) unchanged by hash", result.stderr)
        assert found, result.stderr
        return int(found[1]), int(found[2])


def serve_folder(server: FeedServer, folder: Path) -> None:
    """Every file of a published site, with the media type a static server gives it."""
    types = {".json": JSON_TYPE, ".xml": "application/xml", ".html": "text/html"}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            server.route(
                "/" + path.relative_to(folder).as_posix(),
                Route(body=path.read_bytes(), content_type=types.get(path.suffix, "text/plain")),
            )


def served_from(site, server: FeedServer) -> None:
    """Publish ``site`` for the server's address and serve it (links resolve to the server)."""
    site.config.write_text(
        site.config.read_text(encoding="utf-8").replace(BASE, server.url("/")), encoding="utf-8"
    )
    site.publish()
    serve_folder(server, site.public)


def json_feed(items: list[dict[str, object]], **fields: object) -> bytes:
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "JSON news", **fields}
    document["items"] = items
    return json.dumps(document).encode()


# --- communique's own feed.json ------------------------------------------------------------


def test_own_feed_json_gives_the_items_its_atom_feed_gives(published, tmp_path, server):
    served_from(published, server)
    reader = Reader(tmp_path / "reader")
    atom, feed_json = server.url("/atom.xml"), server.url("/feed.json")
    added = reader.ok("sources", "add", feed_json)
    assert f"{feed_json} is a feed" in added.stdout
    assert "added" in added.stdout and "(EU Notes)" in added.stdout
    assert "stored 3 items" in added.stdout
    reader.ok("sources", "add", atom)
    from_json, from_atom = reader.rows(feed_json), reader.rows(atom)
    assert len(from_json) == 3 and set(from_json) == set(from_atom)
    fields = ("title", "link", "published_at", "updated_at", "author", "content_html", "text")
    for guid, row in from_json.items():
        assert {f: row[f] for f in fields} == {f: from_atom[guid][f] for f in fields}, guid
        assert row["categories"] == from_atom[guid]["categories"]
    japan = next(r for r in from_json.values() if "Japan" in r["title"])
    assert japan["author"] == "Ana Šimić" and japan["published_at"].startswith("2025-03-01T09:30")
    assert json.loads(japan["categories"]) == ["security and defence", "Indo-Pacific"]
    found = reader.ok("search", "Luxembourg")
    assert "Accession talks with Ukraine" in found.stdout
    assert reader.source(feed_json)["last_status"] == "200"


def test_sources_add_walks_the_next_url_pages_of_a_published_history(site, tmp_path, server):
    for number in range(1, 46):
        day = date(2025, 1, 1) + timedelta(days=number)
        site.article(
            f"a{number:02d}.md",
            f"---\ntitle: Article {number}\ndate: {day.isoformat()} 09:00\n---\nBody {number}.\n",
        )
    served_from(site, server)
    reader = Reader(tmp_path / "reader")
    added = reader.ok("sources", "add", server.url("/feed.json"))
    assert "stored 45 items, 2 archive documents of its history" in added.stdout
    titles = {row["title"] for row in reader.rows(server.url("/feed.json")).values()}
    assert titles == {f"Article {n}" for n in range(1, 46)}
    assert len([s for s in server.seen if s.path.startswith("/archive/feed-")]) == 2
    summary = json.loads(reader.ok("aggregate", "--all", "--json").stdout)
    assert summary["archives"] == 0 and summary["items_new"] == 0


# --- other JSON feeds ----------------------------------------------------------------------


def test_a_json_feed_1_0_with_numeric_ids_and_a_single_author(tmp_path, server):
    document = {
        "version": "https://jsonfeed.org/version/1",
        "title": "Old style",
        "home_page_url": "https://old.example/",
        "author": {"name": "Feed  Author"},
        "items": [
            {
                "id": 12345678901234567890123,
                "url": "/posts/1",
                "title": "First",
                "content_text": "One & two.\n\nThree <four>.",
                "date_published": "2025-06-10T08:00:00-02:00",
            },
            {
                "id": 7.5,
                "url": "https://old.example/posts/2",
                "content_html": '<p>See <a href="/more">more</a></p>',
                "author": {"name": "Item Author", "url": "https://old.example/me"},
                "date_modified": "2025-06-11",
            },
        ],
    }
    server.route("/feed.json", Route(body=json.dumps(document).encode(), content_type="text/plain"))
    reader = Reader(tmp_path / "reader")
    url = server.url("/feed.json")
    reader.ok("sources", "add", "--no-check", url)
    reader.ok("aggregate")
    rows = reader.rows(url)
    assert set(rows) == {"12345678901234567890123", "7.5"}
    first, second = rows["12345678901234567890123"], rows["7.5"]
    assert first["link"] == server.url("/posts/1")  # relative to the feed's URL
    assert first["author"] == "Feed Author"  # the feed's author, when the item names none
    assert first["content_html"] == "<p>One &amp; two.</p><p>Three &lt;four&gt;.</p>"
    assert first["published_at"].startswith("2025-06-10T10:00:00")
    assert second["author"] == "Item Author"
    assert second["title"] == "See more"  # no title: the start of its text, as for XML
    assert 'href="https://old.example/more"' in second["content_html"]
    assert second["published_at"].startswith("2025-06-11T00:00:00")
    assert reader.source(url)["title"] == "Old style"


def test_a_hostile_json_feed_is_read_without_harm(tmp_path, server):
    items = [
        {
            "id": "script",
            "url": "https://news.example/1",
            "title": "Safe <script>alert(1)</script>title",
            "content_html": '<p onclick="steal()">Text<script>alert(2)</script>'
            '<a href="javascript:alert(3)">x</a><img src="/i.png" onerror="alert(4)"></p>',
        },
        {"id": "typed", "url": "https://news.example/2", "title": ["a", "list"], "summary": 5},
        {"id": {"an": "object"}, "url": "https://news.example/3", "title": "Id of a wrong type"},
        "an item that is text",
        {
            "id": "odd",
            "title": "Lone \ud800 surrogate and NUL \x00",
            "url": "https://news.example/4",
            "tags": ["ok", 3, None],
            "date_published": "2025-13-45T25:61:00Z",
            "date_modified": "99999-01-01T00:00:00Z",
            "authors": "not a list",
        },
        {"id": "future", "url": "https://news.example/5", "date_published": "2999-01-01T00:00Z"},
        {"id": "HUGE", "url": "https://news.example/6", "title": "Huge number"},
        {"id": "deep", "title": "Deep", "_ext": json.loads("[" * 200 + "]" * 200)},
    ]
    body = json_feed(items, title={"not": "text"}, next_url=42)
    body = body.replace(b'"HUGE"', b"9" * 5000)  # more digits than Python converts
    body = body.replace(b'"id": "deep"', b'"id": "deep", "n": NaN')
    body = body[:-1] + b', "junk": "\xff\xfe"}'  # invalid UTF-8 at the end
    server.route("/feed.json", Route(body=body, content_type="application/json"))
    reader = Reader(tmp_path / "reader")
    url = server.url("/feed.json")
    added = reader.ok("sources", "add", url)
    assert "stored 7 items" in added.stdout
    rows = reader.rows(url)
    stored = "\n".join(str(v) for row in rows.values() for v in row.values())
    for danger in ("<script", "alert(", "onclick", "onerror", "javascript:", "\x00"):
        assert danger not in stored
    assert rows["script"]["title"] == "Safe title"
    assert rows["script"]["content_html"].startswith("<p>Text<a")
    assert rows["typed"]["title"] == "https://news.example/2"  # no usable title, text or summary
    assert rows["odd"]["title"] == "Lone surrogate and NUL"
    assert json.loads(rows["odd"]["categories"]) == ["ok"]
    assert rows["odd"]["published_at"] == rows["odd"]["first_seen_at"]  # no usable date
    assert rows["future"]["published_at"] == rows["future"]["first_seen_at"]
    assert rows["9" * 5000]["title"] == "Huge number"
    assert rows[None]["title"] == "Id of a wrong type"  # identified by its link instead
    warning = reader.source(url)["warning"]
    assert "invalid UTF-8 at byte" in warning
    assert "field(s) of the wrong type ignored" in warning and "1 item(s) skipped" in warning
    assert "unreadable date(s)" in warning and "implausible date(s)" in warning


# --- not a feed: said once, with what was found --------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "found"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [}', JSON_TYPE,
         "not a feed (JSON error at line 1, column 59: Expecting value)"),
        (b"[1, 2]", "application/json", "not a feed (JSON whose top level is a list)"),
        (b'{"data": []}', "application/json",
         "not a feed (a JSON object without JSON Feed's version or items)"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "not a feed (JSON nested too deeply)"),
        (b"hello, not a feed", "text/plain",
         "not a feed (a text/plain document, neither XML nor JSON)"),
        (b'<?xml version="1.0"?>\n<notes>\n<note>a & b</note></notes>', "application/xml",
         "not a feed (XML error at line 3, column 10: xmlParseEntityRef: no name)"),
        (b"<?xml version='1.0'?><config><a/></config>", "application/xml",
         "not a feed (XML whose root is <config>, not RSS, RDF or Atom)"),
        (b"", "application/xml", "not a feed (an empty response)"),
    ],
)  # fmt: skip
def test_what_is_not_a_feed_is_named_once_in_one_line(tmp_path, server, body, content_type, found):
    server.route("/x", Route(body=body, content_type=content_type))
    reader = Reader(tmp_path / "reader")
    result = reader.run("sources", "add", server.url("/x"))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"communique: {server.url('/x')}: {found}")
    assert result.stderr.count("not a feed") == 1 and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    # the same words are the source's failure when it is polled
    reader.ok("sources", "add", "--no-check", server.url("/x"))
    polled = reader.run("aggregate")
    assert polled.exit_code == 1
    assert reader.source(server.url("/x"))["last_status"] == "not a feed"


def test_a_json_feed_over_the_item_limits_is_refused_before_it_is_read(tmp_path, server):
    reader = Reader(tmp_path / "reader", max_items=3)
    items = [{"id": str(n), "title": f"Item {n}"} for n in range(4)]
    server.route("/four.json", Route(body=json_feed(items), content_type=JSON_TYPE))
    result = reader.run("sources", "add", server.url("/four.json"))
    assert result.exit_code == 2
    assert "feed has 4 entries; at most 3 are read (raise [aggregate] max_items" in result.stderr
    # 3 items, but a million values beside them: not decoded at all
    body = json_feed(items[:3], _filler=[{}] * 1_000_000)
    server.route("/values.json", Route(body=body, content_type=JSON_TYPE))
    result = reader.run("sources", "add", server.url("/values.json"))
    assert result.exit_code == 2
    assert (
        "feed has about 2,000,0" in result.stderr and "JSON values; at most 1,300" in result.stderr
    )


# --- autodiscovery and polling -------------------------------------------------------------


def test_a_json_feed_is_found_from_the_page_that_links_it(tmp_path, server):
    page = (
        "<!doctype html><html><head><title>Blog</title>"
        '<link rel="alternate" type="application/feed+json" title="Blog (JSON)" href="/f.json">'
        "</head><body>Blog</body></html>"
    )
    server.route("/blog/", Route(body=page.encode(), content_type="text/html; charset=utf-8"))
    items = [{"id": "1", "url": "https://blog.example/1", "title": "Hello"}]
    server.route("/f.json", Route(body=json_feed(items, title="The blog"), content_type=JSON_TYPE))
    reader = Reader(tmp_path / "reader")
    added = reader.ok("sources", "add", server.url("/blog/"))
    assert f"chose its application/feed+json feed {server.url('/f.json')}" in added.stdout
    assert f"added {server.url('/f.json')} (The blog)" in added.stdout
    assert "stored 1 item" in added.stdout
    assert [r["title"] for r in reader.rows(server.url("/f.json")).values()] == ["Hello"]


def test_an_unchanged_json_feed_is_not_read_or_stored_again(tmp_path, server):
    items = [
        {"id": f"urn:{n}", "url": f"https://news.example/{n}", "title": f"Item {n}",
         "content_html": f"<p>Body {n}</p>", "date_published": f"2025-09-0{n}T10:00:00Z"}
        for n in range(1, 6)
    ]  # fmt: skip
    route = server.route(
        "/feed.json",
        Route(body=json_feed(items), content_type=JSON_TYPE, etag=False, last_modified=False),
    )
    reader = Reader(tmp_path / "reader")
    reader.ok("sources", "add", "--no-check", server.url("/feed.json"))
    assert reader.counts() == (5, 0)
    before = reader.rows(server.url("/feed.json"))
    # the same items, re-indented, keys and items reordered, the header changed
    reordered = [dict(reversed(list(item.items()))) for item in reversed(items)]
    route.body = json.dumps(
        {"items": reordered, "title": "JSON news, renamed", "version": "https://jsonfeed.org/version/1.1"},
        indent=4,
    ).encode()  # fmt: skip
    assert reader.counts() == (0, 5)
    assert reader.rows(server.url("/feed.json")) == before
    route.body = json_feed([{"id": "urn:6", "title": "Item 6"}, *items])
    assert reader.counts() == (1, 5)
    after = reader.rows(server.url("/feed.json"))
    assert set(after) == {*before, "urn:6"}
    assert all(after[guid] == row for guid, row in before.items())
