"""A ``communique:fullText`` communique does not know is named with its line, never dropped
in silence (issue 18, point 13g): `sources import` skips that entry, imports the rest and
exits 2; in the working list the feed is polled by ``[aggregate] full_text`` with a warning,
and the line is kept as written. Through the CLI, polling a real loopback server.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result
from feedserver import Route, rss
from test_full_text import EU_ARTICLE, page

from cli import main
from sources.follow.opml import parse_opml

CONFIG = """\
[site]
base_url = "https://example.org/"
[aggregate]
sources = "sources.opml"
database = "c.db"
full_text = "on"
"""
HEAD = '<?xml version="1.0"?>\n<opml version="2.0" xmlns:communique="urn:communique:opml">'


def outline(url: str, full_text: str) -> str:
    return f'<outline type="rss" text="f" xmlUrl="{url}" communique:fullText="{full_text}"/>'


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def test_import_names_the_line_of_an_unknown_full_text_and_imports_the_rest(tmp_path):
    config = tmp_path / "communique.toml"
    config.write_text(CONFIG, encoding="utf-8")
    (tmp_path / "sources.opml").write_text(f"{HEAD}<head/><body/></opml>\n", encoding="utf-8")
    incoming = tmp_path / "list.opml"
    incoming.write_text(
        "\n".join(
            [
                HEAD,
                "<head/><body>",
                outline("https://a.example/feed", "on"),
                outline("https://b.example/feed", "bogus"),
                outline("https://c.example/feed", "auto"),
                "</body></opml>",
            ]
        ),
        encoding="utf-8",
    )
    result = run(config, "sources", "import", str(incoming))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f'{incoming}:5: communique:fullText must be "on", "off" or "auto", not "bogus"; skipped'
    ]
    assert "imported 2 new source(s) of 2" in result.stdout and "1 invalid" in result.stdout
    listed = parse_opml((tmp_path / "sources.opml").read_bytes(), "sources.opml")
    assert [(s.url, s.full_text) for s in listed] == [
        ("https://a.example/feed", "on"),
        ("https://c.example/feed", "auto"),
    ]


def test_the_working_list_warns_polls_by_the_default_and_keeps_the_line(tmp_path, server):
    config = tmp_path / "communique.toml"
    config.write_text(CONFIG, encoding="utf-8")
    server.route("/news/1", Route(body=page("Sanctions", EU_ARTICLE), content_type="text/html"))
    item = {"title": "One", "link": server.url("/news/1"), "guid": "one", "description": "One."}
    server.route("/feed.xml", Route(body=rss([item])))
    working = tmp_path / "sources.opml"
    working.write_text(
        f"{HEAD}\n<head/><body>\n{outline(server.url('/feed.xml'), 'Always')}\n</body></opml>\n",
        encoding="utf-8",
    )
    warning = (
        f'warning: {working}:4: communique:fullText must be "on", "off" or "auto", not '
        '"Always"; [aggregate] full_text applies until it is fixed'
    )
    polled = run(config, "aggregate")
    assert polled.exit_code == 1, polled.output  # the list has a problem; the feed was polled
    assert polled.stderr.splitlines() == [warning]
    with contextlib.closing(sqlite3.connect(tmp_path / "c.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone() == (1,)
    assert len(server.requests_for("/news/1")) == 1  # full_text = "on" from the config
    listed = run(config, "sources", "list")
    assert listed.exit_code == 0 and listed.stderr.splitlines() == [warning]
    assert "article pages: on" in listed.stdout
    # a command that rewrites the list keeps the line as the user wrote it
    added = run(config, "sources", "add", "https://other.example/feed", "--no-check")
    assert added.exit_code == 0, added.output
    assert 'communique:fullText="Always"' in working.read_text(encoding="utf-8")


def test_the_known_values_are_read_without_a_word(tmp_path, server):
    config = tmp_path / "communique.toml"
    config.write_text(CONFIG, encoding="utf-8")
    values = ("on", "OFF", "auto", "true", "")
    for i in range(len(values)):
        server.route(f"/{i}.xml", Route(body=rss([])))
    (tmp_path / "sources.opml").write_text(
        "\n".join(
            [
                HEAD,
                "<head/><body>",
                *(outline(server.url(f"/{i}.xml"), v) for i, v in enumerate(values)),
                "</body></opml>",
            ]
        ),
        encoding="utf-8",
    )
    polled = run(config, "aggregate")
    assert polled.exit_code == 0 and polled.stderr == "", polled.output
