"""End to end, as a subscriber: publish, serve on loopback, read the feeds with newsboat.

The site is published and served by the real ``communique`` commands; newsboat fetches the
feeds over HTTP exactly as a subscriber's reader would, and the test reads what newsboat
stored. Only 127.0.0.1 is used, and every file lives under pytest's ``tmp_path``: newsboat
gets explicit ``-u``/``-c``/``-C`` paths and a temporary HOME, so it never touches a real one.

Facts about newsboat 2.21's cache (SQLite, schema version 2.11) this test relies on:

* ``rss_feed(rssurl PRIMARY KEY, url, title, lastmodified, is_rtl, etag)``: one row per
  subscribed URL; ``url`` is the feed's home link; ``etag`` the last validator received.
* ``rss_item(id, guid, title, author, url, feedurl, pubDate, content, unread, ...,
  deleted, base)``: ``pubDate`` in Unix seconds, ``unread`` 1 for an item not yet read,
  ``deleted`` 1 for an item the user deleted; ``feedurl`` is the ``rssurl`` it came from.
* Items are keyed by ``guid`` across the whole cache, not per feed: an item whose guid is
  already stored is updated in place (its ``feedurl`` included). Atom and RSS carry the same
  ids, so one cache subscribed to both keeps each article once. Hence each format gets its
  own subscriber (its own cache) for the per-feed checks, and a third subscribes to both.
* ``-x reload`` exits 0 even when a download or parse fails; failures only reach the log
  (``-l 3 -d FILE``: ERROR and USERERROR lines), so the log is checked after every run.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.e2e

COMMUNIQUE = Path(sys.executable).parent / "communique"
SEED = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "articles"
    / "eu-strengthens-global-partnerships.txt"
)
NOW = "2026-01-01T00:00:00Z"
ZONE = "Europe/Brussels"
SITE_AUTHOR = "Site Author"
TIMEOUT = 60  # seconds, for every subprocess.run
SERVER_START_TIMEOUT = 10.0
ITEM_COLUMNS = "feedurl, guid, title, author, url, pubDate, content, unread, deleted"


@dataclass(frozen=True)
class Article:
    """One article as the subscriber must see it."""

    slug: str
    title: str
    author: str | None  # None: no author in the front matter, so the site author applies
    day: date
    tags: tuple[str, ...] = ()
    body: str = ""

    @property
    def shown_author(self) -> str:
        return self.author or SITE_AUTHOR

    def url(self, base_url: str) -> str:
        return f"{base_url}{self.slug}/"

    def guid(self) -> str:
        """README: an entry's id is ``tag:<host>,<first-publish-date>:<slug>``."""
        return f"tag:127.0.0.1,{self.day.isoformat()}:{self.slug}"

    def timestamp(self) -> int:
        """A date alone is midnight ([publish] default_time) in the site timezone."""
        moment = datetime(self.day.year, self.day.month, self.day.day, tzinfo=ZoneInfo(ZONE))
        return int(moment.timestamp())

    def markdown(self) -> str:
        lines = ["---", f'title: "{self.title}"', f"date: {self.day.isoformat()}"]
        if self.author is not None:
            lines.append(f'author: "{self.author}"')
        if self.tags:
            lines.append("tags: [" + ", ".join(self.tags) + "]")
        return "\n".join([*lines, "---", self.body, ""])


WRITTEN = (
    Article(
        slug="eu-japan-partnership",
        title="EU and Japan sign a security & defence partnership",
        author="Ana Šimić",
        day=date(2025, 7, 14),  # summer time: +02:00 in Brussels
        tags=("Security and defence", "Indo-Pacific"),
        body="Japan is the first Asian country to sign such a partnership.\n\n"
        "Maritime security and cyber defence come first.\n",
    ),
    Article(
        slug="sixteenth-sanctions-package",
        title="The <sixteenth> sanctions package & what it changes",
        author="Pieter de Vries",
        day=date(2025, 3, 10),
        body="The Council adopted the sixteenth package of restrictive measures.\n",
    ),
    Article(
        slug="black-sea-security",
        title="Black Sea security after the grain corridor",
        author="Jean-Luc Dupont",
        day=date(2025, 11, 3),
        body="Shipping lanes, mines and insurance: what changed in the Black Sea.\n",
    ),
    Article(
        slug="editors-note",
        title="An editor’s note on sources",
        author=None,
        day=date(2025, 12, 31),
        body="Every article links to its primary sources.\n",
    ),
)
IMPORTED = Article(
    slug="eu-strengthens-global-partnerships",
    title="European Union Strengthens Global Partnerships Amidst Geopolitical Shifts",
    author="Lucas Verhoeven",
    day=date(2025, 2, 25),  # "Feb 25": the first such day after the last date the text mentions
    body="In response to evolving global dynamics",
)
ALL_ARTICLES = (*WRITTEN, IMPORTED)
TAG_SLUG = "indo-pacific"  # the tag feed subscribed to: only the first article has it
TAGGED = tuple(a for a in ALL_ARTICLES if "Indo-Pacific" in a.tags)


def newsboat_or_skip() -> str:
    path = shutil.which("newsboat")
    if path is None:
        reason = (
            "newsboat is not installed (apt-get install -y newsboat); "
            "the subscriber end-to-end test needs it"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, and CI is set", pytrace=False)
        pytest.skip(reason)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def communique(config: Path, *args: str) -> str:
    result = subprocess.run(
        [str(COMMUNIQUE), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, (
        f"communique {' '.join(args)} exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result.stdout


@contextmanager
def serving(config: Path, directory: Path, port: int, logs: Path) -> Iterator[subprocess.Popen]:
    """``communique serve`` on 127.0.0.1:port until the block ends, whatever happens in it."""
    out, err = logs / "serve.out", logs / "serve.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [
                *(str(COMMUNIQUE), "--config", str(config), "serve", "--dir", str(directory)),
                *("--port", str(port), "--host", "127.0.0.1", "-q"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        banner = f"at http://127.0.0.1:{port}/"
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"communique serve exited {process.returncode} before serving\n"
                    f"stdout:\n{out.read_text()}\nstderr:\n{err.read_text()}",
                    pytrace=False,
                )
            # The banner proves it is our server on the port, not whatever else took it.
            if banner in out.read_text():
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"communique serve did not accept connections on port {port} within "
                    f"{SERVER_START_TIMEOUT}s\nstdout:\n{out.read_text()}\n"
                    f"stderr:\n{err.read_text()}",
                    pytrace=False,
                )
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


class Subscriber:
    """One newsboat user: own urls, config, cache, log and HOME, all under ``root``."""

    def __init__(self, newsboat: Path | str, root: Path, urls: tuple[str, ...]) -> None:
        self.newsboat = str(newsboat)
        self.root = root
        self.urls = urls
        home = root / "home"
        for directory in (home, home / ".config", home / ".local/share", home / ".cache"):
            directory.mkdir(parents=True, exist_ok=True)
        (root / "urls").write_text("".join(f"{url}\n" for url in urls), encoding="utf-8")
        self.cache = root / "cache.db"
        self.runs = 0
        self.env = {
            key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")
        }
        self.env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local/share"),
            XDG_CACHE_HOME=str(home / ".cache"),
            NO_PROXY="127.0.0.1",
            no_proxy="127.0.0.1",
            LC_ALL="C.UTF-8",  # newsboat converts text to the locale's charset
        )
        self.configure(always_download=False)

    def configure(self, *, always_download: bool) -> None:
        """``always-download`` makes newsboat ignore ETag/Last-Modified: a full fetch and parse."""
        quoted = " ".join(f'"{url}"' for url in self.urls)
        lines = [
            "download-timeout 10",
            "download-retries 1",
            "reload-threads 1",
            "use-proxy no",
            # An item whose content changed becomes unread again: a changed republish shows.
            f"reset-unread-on-update {quoted}",
        ]
        if always_download:
            lines.append(f"always-download {quoted}")
        (self.root / "config").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def run(self, *commands: str) -> str:
        """``newsboat -x COMMANDS``; fails on a non-zero exit or any error in the log."""
        self.runs += 1
        log = self.root / f"newsboat-{self.runs}.log"
        result = subprocess.run(
            [
                *(self.newsboat, "-u", str(self.root / "urls"), "-c", str(self.cache)),
                *("-C", str(self.root / "config"), "-l", "3", "-d", str(log), "-x", *commands),
            ],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        log_text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        assert result.returncode == 0 and "ERROR" not in log_text, (
            f"newsboat -x {' '.join(commands)} for {self.urls} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\nlog:\n{log_text}"
        )
        return result.stdout

    def reload_unread(self) -> int:
        """Reload, then newsboat's own count of unread articles."""
        output = self.run("reload", "print-unread")
        words = output.split()
        assert words[1:] == ["unread", "articles"], f"unexpected print-unread output: {output!r}"
        return int(words[0])

    def query(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.cache) as connection:
            return connection.execute(sql).fetchall()

    def items(self) -> list[sqlite3.Row]:
        connection = sqlite3.connect(self.cache)
        connection.row_factory = sqlite3.Row
        try:
            return connection.execute(
                f"SELECT {ITEM_COLUMNS} FROM rss_item WHERE deleted = 0 ORDER BY guid"
            ).fetchall()
        finally:
            connection.close()

    def feeds(self) -> dict[str, tuple]:
        rows = self.query("SELECT rssurl, url, title, etag FROM rss_feed")
        return {row[0]: row[1:] for row in rows}

    def mark_all_read(self) -> None:
        """What reading every article does in newsboat."""
        connection = sqlite3.connect(self.cache)
        try:
            with connection:
                connection.execute("UPDATE rss_item SET unread = 0")
        finally:
            connection.close()

    def state(self) -> tuple[list[tuple], dict[str, tuple]]:
        """Everything a subscriber sees; feedurl only when one URL is subscribed (see module)."""
        single = len(self.urls) == 1
        items = [tuple(row)[0 if single else 1 :] for row in self.items()]
        return items, self.feeds()


def check_items(
    subscriber: Subscriber,
    base_url: str,
    expected: tuple[Article, ...],
    *,
    feed_url: str | None,
) -> None:
    """Every expected article exactly once, with its title, author, link and date."""
    items = subscriber.items()
    where = f"newsboat cache of {subscriber.urls}"
    if feed_url is not None:
        assert {row["feedurl"] for row in items} == {feed_url}, where
    else:
        assert {row["feedurl"] for row in items} <= set(subscriber.urls), where
    counts = Counter(row["guid"] for row in items)
    assert [guid for guid, n in counts.items() if n != 1] == [], f"duplicate guids in {where}"
    assert set(counts) == {a.guid() for a in expected}, where
    by_guid = {row["guid"]: row for row in items}
    for article in expected:
        row = by_guid[article.guid()]
        seen = {key: row[key] for key in ("title", "author", "url", "pubDate")}
        assert seen == {
            "title": article.title,
            "author": article.shown_author,
            "url": article.url(base_url),
            "pubDate": article.timestamp(),
        }, f"{article.slug} in {where}"
        assert article.body.split("\n")[0] in row["content"], f"{article.slug} body in {where}"
        assert row["unread"] == 1, f"{article.slug} is new to a new subscriber in {where}"


def test_newsboat_subscriber_sees_every_article_once_and_no_repeats(tmp_path: Path) -> None:
    newsboat = newsboat_or_skip()
    assert COMMUNIQUE.exists(), f"{COMMUNIQUE} not found; install the project (pip install -e .)"
    assert SEED.is_file(), f"seed article {SEED} not found; clone shared/ beside the repository"

    port = free_port()
    base_url = f"http://127.0.0.1:{port}/"
    site = tmp_path / "site"
    articles = site / "articles"
    articles.mkdir(parents=True)
    config = site / "communique.toml"
    config.write_text(
        "[site]\n"
        'title = "Test site"\n'
        f'base_url = "{base_url}"\n'
        f'author = {{ name = "{SITE_AUTHOR}" }}\n'
        f'timezone = "{ZONE}"\n'
        "[publish]\n"
        'articles = "articles"\n'
        'output = "public"\n',
        encoding="utf-8",
    )
    for article in WRITTEN:
        path = articles / f"{article.day.isoformat()}-{article.slug}.md"
        path.write_text(article.markdown(), encoding="utf-8")
    communique(config, "import", "--now", NOW, str(SEED))
    assert (articles / f"{IMPORTED.day.isoformat()}-{IMPORTED.slug}.md").is_file()

    published = communique(config, "publish", "--now", NOW)
    assert f"published {len(ALL_ARTICLES)} article(s)" in published
    public = site / "public"

    atom, rss = f"{base_url}atom.xml", f"{base_url}rss.xml"
    tag_atom = f"{base_url}tags/{TAG_SLUG}/atom.xml"
    subscribers = {
        "atom": Subscriber(newsboat, tmp_path / "nb-atom", (atom,)),
        "rss": Subscriber(newsboat, tmp_path / "nb-rss", (rss,)),
        "both": Subscriber(newsboat, tmp_path / "nb-both", (atom, rss)),
        "tag": Subscriber(newsboat, tmp_path / "nb-tag", (tag_atom,)),
    }

    with serving(config, public, port, tmp_path) as server:
        # 1. First reload: a new subscriber sees every article, once, as published.
        for subscriber in subscribers.values():
            assert subscriber.reload_unread() == len(subscriber.items())
        for name, url in (("atom", atom), ("rss", rss)):
            check_items(subscribers[name], base_url, ALL_ARTICLES, feed_url=url)
            assert {k: v[:2] for k, v in subscribers[name].feeds().items()} == {
                url: (base_url, "Test site")
            }
        # Both formats carry the same ids, so subscribing to both shows each article once.
        check_items(subscribers["both"], base_url, ALL_ARTICLES, feed_url=None)
        assert set(subscribers["both"].feeds()) == {atom, rss}
        check_items(subscribers["tag"], base_url, TAGGED, feed_url=tag_atom)

        # 2. Polling again finds nothing new. (newsboat 2.21 stores a feed's ETag and
        #    Last-Modified only from its second fetch on: on the first the feed row does not
        #    exist yet when it writes them.)
        for name, subscriber in subscribers.items():
            items = [tuple(row) for row in subscriber.items()]
            assert subscriber.reload_unread() == len(items), name
            assert [tuple(row) for row in subscriber.items()] == items, name
            assert all(etag for _, _, etag in subscriber.feeds().values()), name

        # 3. The subscriber reads everything; the unchanged site is published again.
        for subscriber in subscribers.values():
            subscriber.mark_all_read()
        before = {name: s.state() for name, s in subscribers.items()}
        republished = communique(config, "publish", "--now", NOW)
        assert "id fixed" not in republished, "ids were written on the first publish"
        assert f"published {len(ALL_ARTICLES)} article(s)" in republished

        # 4. A reader polling with ETag/Last-Modified (identical bytes: 304), then one
        #    downloading in full: nothing new, nothing unread again, no item added or
        #    changed, and the same ETag (republishing unchanged articles keeps the bytes).
        for always_download in (False, True):
            for name, subscriber in subscribers.items():
                subscriber.configure(always_download=always_download)
                unread = subscriber.reload_unread()
                assert unread == 0, f"{name}: {unread} article(s) unread again after republish"
                assert subscriber.state() == before[name], (
                    f"{name}: cache changed after an unchanged republish "
                    f"(always-download {always_download})"
                )
        assert server.poll() is None, "communique serve stopped while serving"
