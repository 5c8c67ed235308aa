"""Hostile input and misconfiguration on the publishing side: nothing deletes an article,
nothing hangs, nothing is silently misread. Every case goes through the command line."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from conftest import CONFIG, NOW, Site
from feedserver import FeedServer, Route, rss
from test_serve import get, serving

from cli import main
from feeds.importer import CannotPlaceDate, infer_year
from sources.follow.opml import Source, save_source_list

PRECIOUS = "2025-01-02-precious.md"
PRECIOUS_TEXT = "---\ntitle: Precious\ndate: 2025-01-02\n---\nDo not lose me.\n"


def configured(site: Site, publish_table: str) -> None:
    """The test site's config with its [publish] table replaced."""
    site.config.write_text(
        CONFIG.split("[publish]")[0] + "[publish]\n" + publish_table, encoding="utf-8"
    )


def line_of(site: Site, key: str) -> int:
    lines = site.config.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(f"{key} ="))


# --- 1. no output setting can delete an article, a static file or the project ---------


@pytest.mark.parametrize(
    ("table", "blamed", "says"),
    [
        ('output = "articles"\n', "output", "is the articles folder"),
        ('output = "./articles/"\n', "output", "is the articles folder"),
        ('output = "public/../articles"\n', "output", "is the articles folder"),
        ('output = "articles/site"\n', "output", "is inside the articles folder"),
        ('articles = "public/articles"\noutput = "public"\n', "output", "contains the articles"),
        ('articles = "public"\n', "articles", "is the articles folder"),  # default output
        ('output = "link"\n', "output", "is the articles folder"),  # a symlink to articles/
        ('output = "static"\n', "output", "is the static folder"),
        ('output = "static/out"\n', "output", "is inside the static folder"),
        ('output = "."\n', "output", "is the project folder"),
        ('output = ".."\n', "output", "contains the project"),
    ],
)
def test_an_output_folder_that_overlaps_input_is_refused_and_nothing_is_lost(
    site, table, blamed, says
):
    configured(site, table)
    articles = site.root / ("public/articles" if "public/articles" in table else "articles")
    articles.mkdir(parents=True, exist_ok=True)
    (articles / PRECIOUS).write_text(PRECIOUS_TEXT, encoding="utf-8")
    (site.root / "static").mkdir()
    (site.root / "static" / "logo.png").write_bytes(b"PNG")
    (site.root / "link").symlink_to(site.root / "articles")
    before = sorted(p for p in site.root.rglob("*"))
    for _ in range(3):
        result = site.run("publish", "--now", NOW)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"{site.config}:{line_of(site, blamed)}: [publish] output")
        assert says in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert (articles / PRECIOUS).read_text(encoding="utf-8") == PRECIOUS_TEXT
    assert (site.root / "static" / "logo.png").read_bytes() == b"PNG"
    assert sorted(p for p in site.root.rglob("*")) == before  # nothing written anywhere


@pytest.mark.parametrize(
    "table",
    [
        'articles = "public/articles"\noutput = "public"\n',
        'articles = "public"\n',  # the default output, public, is the articles folder
        'articles = "site"\noutput = "site/out"\n',
        'articles = "public/a"\nstatic = "site/s"\noutput = "public"\n',
        'articles = "."\n',  # every folder of the project is inside the articles folder
    ],
)
def test_the_output_folder_suggested_is_never_one_that_is_refused(site, table):
    configured(site, table)
    (site.root / re.search(r'articles = "(.+)"', table)[1]).mkdir(parents=True, exist_ok=True)
    result = site.run("publish", "--now", NOW)
    assert result.exit_code == 2, result.output
    refused = re.search(r"\[publish\] output \((.+?)\)", result.output)[1]
    suggested = re.search(r"choose a folder of its own, such as (\S+)\n", result.output)[1]
    assert (site.root / suggested).resolve() != Path(refused)
    configured(site, table.replace('output = "', 'old = "') + f'output = "{suggested}"\n')
    lines = site.config.read_text(encoding="utf-8").replace("old = ", "# old = ")
    site.config.write_text(lines, encoding="utf-8")
    check = site.run("publish", "--check", "--now", NOW)  # writes nothing, wherever it points
    assert check.exit_code == 1, check.output  # accepted: only out of date


@pytest.mark.parametrize("command", ["serve", "import"])
def test_every_command_that_reads_the_config_refuses_a_dangerous_output(site, command):
    configured(site, 'output = "articles"\n')
    post = site.root / "post.txt"
    post.write_text("T\n- Jo\n- 3 March 2025\n\nBody.\n", encoding="utf-8")
    result = site.run(command, *([str(post)] if command == "import" else []))
    assert result.exit_code == 2
    assert "[publish] output" in result.output and "is the articles folder" in result.output
    assert list(site.articles.iterdir()) == []


def test_an_output_folder_beside_the_articles_still_publishes(site):
    configured(site, 'articles = "content/articles"\noutput = "content/public"\n')
    articles = site.root / "content" / "articles"
    articles.mkdir(parents=True)
    (articles / PRECIOUS).write_text(PRECIOUS_TEXT, encoding="utf-8")
    for _ in range(2):
        assert site.run("publish", "--now", NOW).exit_code == 0
    assert (site.root / "content" / "public" / "precious" / "index.html").exists()
    assert (articles / PRECIOUS).read_text(encoding="utf-8").endswith(PRECIOUS_TEXT[4:])


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("public/digest", "inside [publish] output"),
        ("articles/digests", "inside [publish] articles"),
    ],
)
def test_a_digest_folder_that_publishing_would_wipe_or_read_is_refused(site, out, says):
    site.config.write_text(CONFIG + f'\n[digest]\nout = "{out}"\n', encoding="utf-8")
    (site.articles / PRECIOUS).write_text(PRECIOUS_TEXT, encoding="utf-8")
    result = site.run("digest", "--now", NOW)
    assert result.exit_code == 2, result.output
    line = CONFIG.count("\n") + 3
    assert result.output.startswith(f"{site.config}:{line}: [digest] out"), result.output
    assert says in result.output
    assert not (site.root / out).exists()


@pytest.mark.parametrize(
    ("table", "blamed", "says"),
    [
        ('[aggregate]\ndatabase = "public/communique.db"\n', "database", "[aggregate] database"),
        ('[aggregate]\nsources = "public/sources.opml"\n', "sources", "[aggregate] sources"),
        ('[aggregate]\nsources = "./public/../public/s.opml"\n', "sources", "[aggregate] sources"),
        ('[digest]\nout = "public/digest"\n', "out", "[digest] out"),
    ],
)
def test_an_output_folder_holding_the_database_or_source_list_is_refused(site, table, blamed, says):
    site.config.write_text(CONFIG + "\n" + table, encoding="utf-8")
    site.public.mkdir()
    kept = {
        site.public / "communique.db": b"SQLite format 3\x00 every item ever fetched",
        site.public
        / "sources.opml": b"<opml><body><outline xmlUrl='https://x.example/'/></body></opml>",
        site.public / "s.opml": b"<opml><body/></opml>",
    }
    for path, data in kept.items():
        path.write_bytes(data)
    for command in (["publish", "--now", NOW], ["aggregate"], ["run"]):
        result = site.run(*command)
        assert result.exit_code == 2, result.output
        line = line_of(site, blamed)
        assert result.output.startswith(f"{site.config}:{line}: {says} "), result.output
        assert "is inside [publish] output" in result.output
        assert len(result.output.strip().splitlines()) == 1
    for path, data in kept.items():
        assert path.read_bytes() == data
    assert sorted(p.name for p in site.public.iterdir()) == sorted(p.name for p in kept)


def test_a_database_and_source_list_beside_the_output_still_publish(site):
    site.config.write_text(
        CONFIG + '\n[aggregate]\ndatabase = "data/c.db"\nsources = "public-sources.opml"\n',
        encoding="utf-8",
    )
    assert site.run("publish", "--now", NOW).exit_code == 0


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("public/dg", "inside [publish] output"),
        ("public", "inside [publish] output"),
        ("articles", "inside [publish] articles"),
        ("articles/x/../digests", "inside [publish] articles"),
    ],
)
def test_digest_out_option_gets_the_same_check_as_the_setting(site, out, says, monkeypatch):
    monkeypatch.chdir(site.root)  # --out is relative to the working directory
    (site.articles / PRECIOUS).write_text(PRECIOUS_TEXT, encoding="utf-8")
    before = sorted(site.root.rglob("*"))
    result = site.run("digest", "--now", NOW, "--out", out)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("communique digest: invalid value for --out: "), result.output
    assert says in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert sorted(site.root.rglob("*")) == before  # nothing written
    assert site.run("publish", "--now", NOW).exit_code == 0  # and publishing still works


def test_digest_out_option_elsewhere_is_written(site, monkeypatch):
    monkeypatch.chdir(site.root)
    result = site.run("digest", "--now", NOW, "--out", "digests")
    assert result.exit_code == 0, result.output
    assert any((site.root / "digests").glob("digest-*.json"))


# --- 4 and 6. importing: no hang, history and the far future do not set the year ------


def post(tmp_path: Path, body: str, day_line: str = "- Feb 25") -> Path:
    path = tmp_path / "speech.txt"
    path.write_text(f"A speech\n- Jo Doe\n{day_line}\n\n{body}\n", encoding="utf-8")
    return path


def test_a_mention_of_the_last_day_of_9999_does_not_hang_import(site, tmp_path):
    path = post(tmp_path, "The treaty runs until 31 December 9999, they said.")
    command = Path(sys.executable).parent / "communique"
    result = subprocess.run(
        [str(command), "--config", str(site.config), "import", "--now", NOW, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert (site.articles / "2025-02-25-speech.md").exists()
    assert "mentions no date from 2016-01-01 to today, only earlier or later" in result.stdout


@pytest.mark.parametrize(
    ("body", "now", "expected", "why"),
    [
        # history: the 1950 declaration is not when the speech was given
        (
            "Europe Day recalls 9 May 1950.",
            NOW,
            "2025-02-25",
            "mentions no date from 2016-01-01 to today, only",
        ),
        # a look far ahead is not a publication year either
        (
            "A plan for 1 January 2200.",
            NOW,
            "2025-02-25",
            "mentions no date from 2016-01-01 to today, only",
        ),
        # recent mentions still count, old ones beside them are ignored
        ("Since 9 May 1950, and on 4 November 2024.", NOW, "2025-02-25", "on or after 2024-11-04"),
        # the first Feb 25 after the mention has not come yet: the latest one that has
        ("On 1 March 2025 talks began.", "2026-01-10T00:00:00Z", "2025-02-25", "is after today"),
    ],
)
def test_import_infers_the_year_from_recent_mentions_only_and_publish_keeps_it(
    site, tmp_path, body, now, expected, why
):
    result = site.run("import", "--now", now, str(post(tmp_path, body)))
    assert result.exit_code == 0, result.output
    target = site.articles / f"{expected}-speech.md"
    assert target.exists(), result.output
    assert f"date {expected}: " in result.output and why in result.output
    published = site.run("publish", "--now", now)
    assert published.exit_code == 0, published.output
    assert "published 1 article(s) to" in published.output  # not left out as future-dated
    assert (site.public / "speech" / "index.html").exists()


@pytest.mark.parametrize("stated", ["- 9 May 1950", "- 31 December 9999", "- Feb 25, 1066"])
def test_an_implausible_stated_year_is_refused_with_its_line(site, tmp_path, stated):
    path = post(tmp_path, "Body.", day_line=stated)
    result = site.run("import", "--now", NOW, str(path))
    assert result.exit_code == 2
    assert result.output.startswith(f"{path}:3: year ")
    assert "is outside 1990 to 9998" in result.output
    assert list(site.articles.iterdir()) == []


def test_a_day_inference_cannot_place_is_an_error_not_a_loop():
    with pytest.raises(CannotPlaceDate, match="no year gives February 29 on or before today"):
        infer_year(2, 29, "Nothing dated.", date(3, 1, 1))
    # and a 29 February is found however far the last leap year is (1896 -> 1904)
    assert infer_year(2, 29, "", date(1903, 12, 31)) == (
        date(1896, 2, 29),
        "the text mentions no dated event; latest such day on or before today (1903-12-31)",
    )


# --- 5. front matter keeps the text written (YAML 1.2 core booleans only) -------------


def test_yaml_11_booleans_numbers_and_sexagesimals_stay_the_text_written(site):
    site.article(
        "2025-01-02-norway.md",
        """
        ---
        title: yes
        date: 2025-01-02
        author: {name: no, email: no@example.org}
        tags: [NO, on, off, 1:30, 012, 3.10, Y]
        summary: off
        slug: on
        lang: no
        ---
        Body.
        """,
    )
    site.publish()
    feed = json.loads((site.public / "feed.json").read_text(encoding="utf-8"))
    item = feed["items"][0]
    assert item["title"] == "yes"
    assert item["tags"] == ["NO", "on", "off", "1:30", "012", "3.10", "Y"]
    assert item["summary"] == "off"
    assert item["url"] == "https://notes.example.org/on/"
    assert [author["name"] for author in item["authors"]] == ["no"]
    assert item["language"] == "no"
    assert (site.public / "tags" / "no" / "atom.xml").exists()
    assert not (site.public / "tags" / "false").exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("title: true", "title true is not text; put it in quotes"),
        ("title: ~", "missing title"),
        (
            "tags: [security, FALSE]",
            'tag false is not text; remove it, or put it in quotes, e.g. tags: ["false"]',
        ),
        (
            "tags: [null]",
            'tag null is not text; remove it, or put it in quotes, e.g. tags: ["null"]',
        ),
        (
            "tags: [a, ~]",
            'tag null is not text; remove it, or put it in quotes, e.g. tags: ["null"]',
        ),
        ("tags: [[a, b]]", "tag [a, b] is not a word; list each tag once, e.g. tags: [security,"),
        ("summary: True", "summary true is not text; put it in quotes"),
        ("slug: false", "slug false is not text; put it in quotes"),
        ("id: true", "id true must be an absolute URI"),
        ("draft: yes", "draft must be true or false, not 'yes'"),
        ("author: null", None),  # no author: the site's
    ],
)
def test_yaml_12_booleans_where_text_belongs_are_refused_with_their_line(site, line, message):
    head = "" if line.startswith("title") else "title: T\n"
    site.article("2025-01-02-a.md", f"---\n{head}date: 2025-01-02\n{line}\n---\nBody.\n")
    result = site.run("publish", "--now", NOW)
    if message is None:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2
    number = 4 if head else 3  # the line written last, after --- and date (and title)
    assert result.output.startswith(f"{site.articles / '2025-01-02-a.md'}:{number}: ")
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not re.search(r"\b(None|True|False)\b|\['", result.output)  # never Python's spelling


def test_draft_true_still_means_a_draft(site):
    site.article("2025-01-02-a.md", "---\ntitle: T\ndate: 2025-01-02\ndraft: TRUE\n---\nBody.\n")
    assert "(1 draft(s) left out)" in site.publish().output


# --- 7. local times that never happened, or happened twice, are refused ---------------


@pytest.mark.parametrize(
    ("matter", "message"),
    [
        (
            "---\ntitle: T\ndate: 2025-03-30T02:30:00\n---\n",
            ":3: date: '2025-03-30T02:30:00': 2025-03-30 02:30 does not exist in Europe/Brussels "
            "(clocks go forward); write 03:30 or give an offset",
        ),
        (
            "+++\ntitle = 'T'\ndate = 2025-03-30T02:00:00\n+++\n",  # a TOML local date-time
            ":3: date: '2025-03-30T02:00:00': 2025-03-30 02:00 does not exist in Europe/Brussels",
        ),
        (
            "---\ntitle: T\ndate: 2025-10-25\nupdated: 2025-10-26 02:30\n---\n",
            ":4: updated: '2025-10-26 02:30': 2025-10-26 02:30 happens twice in Europe/Brussels "
            "(clocks go back); give an offset: +02:00 for the first, +01:00 for the second",
        ),
    ],
)
def test_a_local_time_daylight_saving_skips_or_repeats_is_refused(site, matter, message):
    site.article("2025-01-02-a.md", matter + "Body.\n")
    result = site.run("publish", "--now", NOW)
    assert result.exit_code == 2
    assert result.output.startswith(f"{site.articles / '2025-01-02-a.md'}{message}")
    assert len(result.output.strip().splitlines()) == 1
    assert not site.public.exists()


def test_a_default_time_in_the_gap_names_the_setting(site):
    site.config.write_text(site.config.read_text() + 'default_time = "02:30"\n')
    site.article("2025-03-30-a.md", "---\ntitle: T\n---\nBody.\n")
    result = site.run("publish", "--now", NOW)
    assert result.exit_code == 2
    assert "'2025-03-30' at [publish] default_time: 2025-03-30 02:30 does not exist" in (
        result.output
    )
    assert "write 2025-03-30T03:30 or give an offset" in result.output


def test_the_same_times_with_an_offset_or_outside_the_change_publish(site):
    site.article("2025-03-30-a.md", "---\ntitle: A\ndate: 2025-03-30T02:30:00+01:00\n---\nA.\n")
    site.article("2025-03-30-b.md", "---\ntitle: B\ndate: 2025-03-30T03:30:00\n---\nB.\n")
    site.article("2025-10-26-c.md", "---\ntitle: C\ndate: 2025-10-26T02:30+01:00\n---\nC.\n")
    site.publish()
    feed = json.loads((site.public / "feed.json").read_text(encoding="utf-8"))
    assert {item["title"]: item["date_published"] for item in feed["items"]} == {
        "A": "2025-03-30T02:30:00+01:00",
        "B": "2025-03-30T03:30:00+02:00",
        "C": "2025-10-26T02:30:00+01:00",
    }


# --- 13. someone who only follows feeds: `run` publishes the digest, every night -------


FOLLOWER_CONFIG = """\
[site]
title = "Following"
base_url = "https://follow.example.org/"

[aggregate]
sources = "sources.opml"
database = "c.db"
workers = 1
"""


@pytest.fixture
def follower(tmp_path: Path) -> Iterator[tuple[Path, FeedServer]]:
    """A folder with a source list (one loopback feed) and no articles folder."""
    with FeedServer() as server:
        today = datetime.now(UTC)
        server.route(
            "/news.xml",
            Route(
                body=rss(
                    [
                        {
                            "title": "EU foreign ministers agree sanctions",
                            "link": "https://news.example/sanctions",
                            "description": "The Council of the EU adopted sanctions today.",
                            "pubDate": format_datetime(today - timedelta(hours=2)),
                        }
                    ]
                )
            ),
        )
        save_source_list(tmp_path / "sources.opml", [Source(server.url("/news.xml"), "News")])
        (tmp_path / "communique.toml").write_text(FOLLOWER_CONFIG, encoding="utf-8")
        yield tmp_path, server


def test_run_without_articles_publishes_the_digest_night_after_night(follower):
    root, _ = follower
    for _ in range(2):
        result = CliRunner().invoke(main, ["--config", str(root / "communique.toml"), "run"])
        assert result.exit_code == 0, (result.output, result.stderr)
        assert "published 0 article(s) (no " in result.output
        assert "folder: the site has no articles)" in result.output
        assert (root / "public" / "index.html").is_file()
        feed = json.loads((root / "public" / "feed.json").read_text(encoding="utf-8"))
        assert feed["items"] == []
        published = root / "public" / "digest"
        assert (published / "digest.atom").read_bytes() == (
            root / "static" / "digest" / "digest.atom"
        ).read_bytes()
        assert any(p.suffix == ".html" for p in published.iterdir())
    assert not (root / "articles").exists()  # nothing invented


def test_a_configured_articles_folder_that_is_missing_is_still_an_error(follower):
    root, server = follower
    config = root / "communique.toml"
    config.write_text(FOLLOWER_CONFIG + '\n[publish]\narticles = "posts"\n', encoding="utf-8")
    for command in (["run"], ["publish"]):
        result = CliRunner().invoke(main, ["--config", str(config), *command])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"{root / 'posts'}: articles directory not found")
        assert len(result.stderr.splitlines()) == 1
    assert not (root / "public").exists()
    # run stopped before doing anything: nothing fetched, stored or digested
    assert server.requests_for("/news.xml") == []
    assert not (root / "c.db").exists()
    assert not (root / "static").exists()


def test_the_shipped_config_works_for_someone_who_only_follows_feeds(follower):
    """A follower who copies the repository's communique.toml has no articles folder: the
    nightly run must still publish (the articles line is the default, commented out)."""
    root, server = follower
    shipped = (Path(__file__).resolve().parents[1] / "communique.toml").read_text("utf-8")
    assert re.search(r"^#\s*articles = ", shipped, re.MULTILINE)
    config = root / "communique.toml"
    config.write_text(
        shipped.replace('sources = "sources.opml"', 'sources = "sources.opml"\nworkers = 1', 1),
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--config", str(config), "run"])
    assert result.exit_code == 0, (result.output, result.stderr)
    assert server.requests_for("/news.xml")
    assert (root / "public" / "index.html").is_file()


def test_run_refuses_a_dangerous_output_before_fetching_anything(follower):
    root, server = follower
    config = root / "communique.toml"
    config.write_text(FOLLOWER_CONFIG + '\n[publish]\noutput = "static"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "run"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{config}:11: [publish] output")
    assert server.requests_for("/news.xml") == []
    assert not (root / "c.db").exists()


def test_publish_in_a_folder_without_articles_says_so(tmp_path):
    (tmp_path / "communique.toml").write_text(FOLLOWER_CONFIG, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["--config", str(tmp_path / "communique.toml"), "publish", "--now", NOW]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("published 0 article(s) (no ")
    atom = (tmp_path / "public" / "atom.xml").read_bytes()
    assert feedparser.parse(atom).bozo == 0


# --- 11. messages that point at the problem; serve answers as HTTP says ---------------

LATIN_1 = "Café".encode("cp1252")  # b"Caf\xe9": what Windows editors still save


@pytest.mark.parametrize("what", ["article", "config", "post"])
def test_a_file_that_is_not_utf8_names_the_line_and_column_of_the_first_bad_byte(
    site, tmp_path, what
):
    if what == "article":
        path = site.articles / "2025-01-02-a.md"
        path.write_bytes(b"---\ntitle: A\n---\nFirst line.\nThe " + LATIN_1 + b" opened.\n")
        args, line, column = ("publish", "--now", NOW), 5, 8
    elif what == "config":
        path = site.config
        path.write_bytes(b"[site]\n" + b'title = "' + LATIN_1 + b'"\n')
        args, line, column = ("publish", "--now", NOW), 2, 13
    else:
        path = tmp_path / "post.txt"
        path.write_bytes(b"\xef\xbb\xbfA post\n- Jo\n- 3 March 2025\n\n\xe9t\xe9.\n")  # BOM
        args, line, column = ("import", "--now", NOW, str(path)), 5, 1
    result = site.run(*args)
    assert result.exit_code == 2
    assert result.output == (
        f"{path}:{line}: not UTF-8 (byte 0xe9 at column {column}); save the file as UTF-8\n"
    )
    assert not site.public.exists()
    assert not any(site.articles.glob("*post*"))


@pytest.fixture
def served(published) -> Iterator[int]:
    with serving(published.public) as (port, banner):
        assert f"http://127.0.0.1:{port}/" in banner
        yield port


def test_serve_answers_404_for_a_file_name_with_a_trailing_slash(served):
    assert get(served, "/style.css")[0].status == 200
    for path in ("/style.css/", "/atom.xml/", "/norway/index.html/", "/style.css//"):
        response, body = get(served, path)
        assert response.status == 404, path
        assert body == b"Not found\n"
    assert get(served, "/norway/")[0].status == 200  # folders still end in a slash


def test_serve_ignores_an_if_modified_since_in_the_future(served):
    last_modified = get(served, "/atom.xml")[0].getheader("Last-Modified")
    assert get(served, "/atom.xml", {"If-Modified-Since": last_modified})[0].status == 304
    tomorrow = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    response, body = get(served, "/atom.xml", {"If-Modified-Since": tomorrow})
    assert response.status == 200 and body.startswith(b"<?xml")


def ipv6_loopback_port() -> int | None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            return probe.getsockname()[1]
    except OSError:
        return None


@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_serve_listens_on_ipv6_loopback(published, host):
    port = ipv6_loopback_port()
    if port is None:
        pytest.skip("this machine has no IPv6 loopback")
    command = [str(Path(sys.executable).parent / "communique"), "serve", "-q"]
    process = subprocess.Popen(
        [*command, "--dir", str(published.public), "--host", host, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        banner = process.stdout.readline().decode()
        assert f"at http://[::1]:{port}/ " in banner, process.stderr.read().decode()
        connection = http.client.HTTPConnection("::1", port, timeout=5)
        connection.request("GET", "/feed.json")
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["title"] == "EU Notes"
        connection.close()
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_serve_on_an_address_this_machine_lacks_blames_the_address(published):
    # 192.0.2.1 is reserved for documentation (RFC 5737): never a local address; binding to
    # it fails locally, nothing is sent
    result = published.run("serve", "--host", "192.0.2.1", "--port", "8000")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "communique: cannot listen on 192.0.2.1:8000 (Cannot assign requested address); the "
        "address is the problem: --host must be an address of this machine, such as 127.0.0.1 "
        "or ::1"
    ]
