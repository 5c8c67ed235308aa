"""The network rule (issue 18): no fetch reaches a private address by any spelling or redirect.

A public feed must not make communique read the machine's own network (a router's page, a
cloud's metadata service, a database's HTTP port) into its store and a published digest. The
rule is applied by the Fetcher where each connection is made, so these tests attack it the
way it happens: a feed on a *public* address (93.184.216.34, inside a network namespace with
its own ``/etc/hosts``, ``tests/netns.py``) links pages, archives, robots.txt and feeds on
private addresses written every way a URL can write them, directly and through redirects,
and a private server on each of those addresses logs every request it gets. The private
logs must stay empty; an intranet feed (on a private address itself) still reads its own
network. Each scenario runs through the CLI, inside the namespace; the pure part of the rule
(which network an address is in) is tested directly at the end.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from feedserver import FeedServer, Route, rss
from netns import INTRANET, METADATA, PUBLIC, ULA, run_inside
from test_full_text import EU_ARTICLE, page

from cli import main
from sources.http.network import LINK_LOCAL, LOOPBACK, PRIVATE, network_of
from sources.http.network import PUBLIC as PUBLIC_NETWORK

SECRET = "Confidential router settings password hunter2"
INTERNAL_FEED = rss(
    [{"title": "Internal memo", "guid": "memo", "description": SECRET}], title="Internal"
)
CONFIG = """\
[site]
base_url = "https://example.org/"
timezone = "UTC"
[aggregate]
sources = "sources.opml"
database = "c.db"
full_text = "on"
"""
DATE = "Tue, 10 Mar 2026 09:00:00 +0000"


class PrivateServers:
    """A server on every private address (loopback v4 and v6, intranet, metadata, ULA), each
    answering a secret page, a robots.txt allowing all and an internal feed, and logging."""

    def __init__(self) -> None:
        self.servers = {
            "loopback": FeedServer("127.0.0.1"),
            "loopback6": FeedServer("::1"),
            "intranet": FeedServer(INTRANET),
            "metadata": FeedServer(METADATA),
            "ula": FeedServer(ULA),
        }
        secret_page = page("Router", [SECRET] * 3)
        for server in self.servers.values():
            server.route("/secret", Route(body=secret_page, content_type="text/html"))
            server.route("/robots.txt", Route(body=b"", content_type="text/plain"))
            server.route("/feed.xml", Route(body=INTERNAL_FEED))

    def __enter__(self) -> PrivateServers:
        for server in self.servers.values():
            server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers.values():
            server.__exit__(*exc)

    def port(self, name: str) -> int:
        return self.servers[name].port

    def requests(self) -> dict[str, list[str]]:
        return {name: [s.path for s in server.seen] for name, server in self.servers.items()}


class Reader:
    """A project in ``root`` that follows the given feeds (full text on)."""

    def __init__(self, root: Path, *feeds: str) -> None:
        self.root = root
        root.mkdir(exist_ok=True)
        self.config = root / "communique.toml"
        self.config.write_text(CONFIG, encoding="utf-8")
        outlines = "".join(f'<outline type="rss" text="f" xmlUrl="{u}"/>' for u in feeds)
        (root / "sources.opml").write_text(
            f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>',
            encoding="utf-8",
        )

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(
            main, ["--config", str(self.config), *args], catch_exceptions=False
        )

    def entries(self) -> dict[str, dict]:
        with contextlib.closing(sqlite3.connect(self.root / "c.db")) as db:
            db.row_factory = sqlite3.Row
            return {r["guid"]: dict(r) for r in db.execute("SELECT * FROM entries")}


def sneaky_links(private: PrivateServers) -> dict[str, str]:
    """Every way a public feed can point at a private address, by a name for the case."""
    lo, lo6, ula = private.port("loopback"), private.port("loopback6"), private.port("ula")
    return {
        "decimal": f"http://2130706433:{lo}/secret",
        "hex": f"http://0x7f000001:{lo}/secret",
        "short": f"http://127.1:{lo}/secret",
        "octal": f"http://0177.0.0.1:{lo}/secret",
        "unspecified": f"http://0.0.0.0:{lo}/secret",
        "name": f"http://sneaky.example:{lo}/secret",
        "localhost": f"http://localhost:{lo}/secret",
        "mixed-name": f"http://mixed.example:{lo}/secret",  # public and loopback answers
        "ipv6-loopback": f"http://[::1]:{lo6}/secret",
        "ipv4-mapped": f"http://[::ffff:127.0.0.1]:{lo}/secret",
        "ula": f"http://[{ULA}]:{ula}/secret",
        "intranet": f"http://{INTRANET}:{private.port('intranet')}/secret",
        "metadata": f"http://metadata.example:{private.port('metadata')}/secret",
    }


# --- pages --------------------------------------------------------------------------------


def _public_feed_links_private_pages(tmp_path: Path) -> None:
    with PrivateServers() as private, FeedServer(PUBLIC) as news, FeedServer(PUBLIC) as other:
        links = sneaky_links(private)
        # a public page that redirects into the local network, and a public host whose
        # robots.txt does
        news.route("/moved", Route(status=302, location=links["decimal"]))
        links["redirect"] = news.url("/moved")
        other.route("/robots.txt", Route(status=302, location=links["short"]))
        other.route("/article", Route(body=page("Elsewhere", EU_ARTICLE), content_type="text/html"))
        links["robots-redirect"] = other.url("/article")
        news.route("/article", Route(body=page("Sanctions", EU_ARTICLE), content_type="text/html"))
        items = [
            {"title": f"Item {case}", "link": link, "guid": case, "description": "One.",
             "pubDate": DATE}
            for case, link in links.items()
        ]  # fmt: skip
        items.append(
            {"title": "Control", "link": news.url("/article"), "guid": "control",
             "description": "One.", "pubDate": DATE}
        )  # fmt: skip
        news.route("/feed.xml", Route(body=rss(items)))
        reader = Reader(tmp_path / "reader", news.url("/feed.xml"))

        result = reader.run("aggregate", "--json")

        assert result.exit_code == 0, result.output
        assert private.requests() == {name: [] for name in private.servers}
        assert other.requests_for("/article") == []
        entries = reader.entries()
        assert "Chisinau" in entries["control"]["page_text"]  # public pages are read
        for case in links:
            entry = entries[case]
            assert entry["page_text"] == "" and entry["page_wanted"] == 0, (case, entry)
            expected = "invalid URL" if case == "octal" else "not fetched"  # httpx refuses it
            assert expected in entry["page_note"], (case, entry["page_note"])
        assert "loopback address" in entries["decimal"]["page_note"]
        assert "link-local address" in entries["metadata"]["page_note"]
        assert entries["redirect"]["page_note"].startswith("redirected to http://2130706433:")
        assert SECRET.split()[0] not in reader.run("search", "hunter2").output
        explained = reader.run("explain", str(entries["name"]["id"])).output
        assert "sneaky.example (127.0.0.1) is a loopback address" in explained, explained


def test_a_public_feed_reaches_no_private_page_by_any_spelling_or_redirect(tmp_path):
    run_inside(_public_feed_links_private_pages, tmp_path)


def _intranet_feed_reads_its_own_network(tmp_path: Path) -> None:
    with PrivateServers() as private:
        intranet = private.servers["intranet"]
        intranet.route("/page", Route(body=page("Memo", EU_ARTICLE), content_type="text/html"))
        intranet.route(
            "/news.xml",
            Route(
                body=rss(
                    [
                        {"title": "Own page", "link": f"http://intranet.example:{intranet.port}/page",
                         "guid": "own", "description": "One.", "pubDate": DATE},
                        {"title": "Loopback", "link": f"http://127.0.0.1:{private.port('loopback')}/secret",
                         "guid": "loopback", "description": "One.", "pubDate": DATE},
                        {"title": "Metadata", "link": f"http://{METADATA}:{private.port('metadata')}/secret",
                         "guid": "metadata", "description": "One.", "pubDate": DATE},
                    ]
                )
            ),
        )  # fmt: skip
        reader = Reader(tmp_path / "reader", f"http://intranet.example:{intranet.port}/news.xml")

        result = reader.run("aggregate", "--json")

        assert result.exit_code == 0, result.output
        entries = reader.entries()
        assert "Chisinau" in entries["own"]["page_text"]  # its own network: read
        assert "/page" in [s.path for s in intranet.seen]
        for case in ("loopback", "metadata"):  # another private network: not
            assert "not fetched" in entries[case]["page_note"], entries[case]
        requests = private.requests()
        assert requests["loopback"] == [] and requests["metadata"] == []


def test_an_intranet_feed_reads_its_own_network_and_no_other(tmp_path):
    run_inside(_intranet_feed_reads_its_own_network, tmp_path)


# --- archives -----------------------------------------------------------------------------


def _archive_feed(title: str, archive: str, guid: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{title}</title><id>urn:x:{guid}</id><updated>2026-03-10T09:00:00Z</updated>"
        f'<link rel="prev-archive" href="{archive}"/>'
        f"<entry><title>Current {guid}</title><id>urn:x:{guid}:1</id>"
        "<updated>2026-03-10T09:00:00Z</updated><summary>One.</summary></entry></feed>"
    ).encode()


def _archives_into_private_network(tmp_path: Path) -> None:
    with PrivateServers() as private, FeedServer(PUBLIC) as news:
        lo = private.port("loopback")
        news.route("/archive-1.xml", Route(status=302, location=f"http://127.0.0.1:{lo}/feed.xml"))
        news.route(
            "/a.xml", Route(body=_archive_feed("A", news.url("/archive-1.xml"), "a"),
                            content_type="application/atom+xml")
        )  # fmt: skip
        news.route(
            "/b.xml", Route(body=_archive_feed("B", f"http://127.1:{lo}/feed.xml", "b"),
                            content_type="application/atom+xml")
        )  # fmt: skip
        reader = Reader(tmp_path / "reader", news.url("/a.xml"), news.url("/b.xml"))

        result = reader.run("aggregate", "--json")

        assert private.requests() == {name: [] for name in private.servers}
        assert news.requests_for("/archive-1.xml") != []  # the public hop was asked
        titles = {e["title"] for e in reader.entries().values()}
        assert titles == {"Current a", "Current b"}, titles  # no internal memo stored
        assert json.loads(result.stdout)["archives"] == 0
        histories = {
            row["url"]: row["history"]
            for row in json.loads(reader.run("sources", "list", "--json").stdout)
        }
        for feed in (news.url("/a.xml"), news.url("/b.xml")):  # said, not silently lost
            assert histories[feed]["complete"] is False
            assert "loopback address" in histories[feed]["problem"], histories[feed]


def test_an_archive_never_leads_into_the_private_network(tmp_path):
    run_inside(_archives_into_private_network, tmp_path)


# --- autodiscovery and the feed itself ----------------------------------------------------


def _discovery_into_private_network(tmp_path: Path) -> None:
    with PrivateServers() as private, FeedServer(PUBLIC) as news:
        lo = private.port("loopback")
        news.route(
            "/page",
            Route(
                body=(
                    '<html><head><link rel="alternate" type="application/rss+xml" '
                    f'href="http://sneaky.example:{lo}/feed.xml"></head><body>Hi</body></html>'
                ).encode(),
                content_type="text/html",
            ),
        )
        news.route("/feed.xml", Route(status=302, location=f"http://[::1]:{lo}/feed.xml"))
        reader = Reader(tmp_path / "reader")

        found = reader.run("sources", "add", news.url("/page"))
        moved = reader.run("sources", "add", news.url("/feed.xml"))

        assert found.exit_code == 2, found.output
        assert "sneaky.example (127.0.0.1) is a loopback address" in found.output
        assert len(found.output.strip().splitlines()) == 1, found.output
        assert moved.exit_code == 2, moved.output
        assert f"redirected to http://[::1]:{lo}/feed.xml" in moved.output, moved.output
        assert private.requests() == {name: [] for name in private.servers}
        opml = (reader.root / "sources.opml").read_text(encoding="utf-8")
        assert "sneaky" not in opml and "feed.xml" not in opml


def test_autodiscovery_and_redirects_never_subscribe_a_private_feed(tmp_path):
    run_inside(_discovery_into_private_network, tmp_path)


def _typed_private_feed_is_allowed(tmp_path: Path) -> None:
    """What the user typed may be anywhere: an intranet feed can be subscribed, and it lives
    in the network it answered from, not the one its URL seems to name."""
    with PrivateServers() as private:
        intranet = private.servers["intranet"]
        reader = Reader(tmp_path / "reader")
        added = reader.run("sources", "add", f"http://intranet.example:{intranet.port}/feed.xml")
        assert added.exit_code == 0, added.output
        assert "Internal memo" in {e["title"] for e in reader.entries().values()}
        listed = json.loads(reader.run("sources", "list", "--json").stdout)
        assert [source["network"] for source in listed] == ["private"]
        assert "network: private" in reader.run("sources", "list").output


def test_a_feed_the_user_names_may_be_on_the_intranet(tmp_path):
    run_inside(_typed_private_feed_is_allowed, tmp_path)


# --- the pure rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("93.184.216.34", PUBLIC_NETWORK),
        ("2606:2800:220:1:248:1893:25c8:1946", PUBLIC_NETWORK),
        ("127.0.0.1", LOOPBACK),
        ("127.255.0.9", LOOPBACK),
        ("::1", LOOPBACK),
        ("0.0.0.0", LOOPBACK),  # Linux connects it to this machine
        ("::", LOOPBACK),
        ("::ffff:127.0.0.1", LOOPBACK),  # IPv4 inside IPv6 is the IPv4 address
        ("::ffff:10.0.0.1", PRIVATE),
        ("::ffff:93.184.216.34", PUBLIC_NETWORK),
        ("64:ff9b::a9fe:a9fe", LINK_LOCAL),  # NAT64 to 169.254.169.254
        ("169.254.169.254", LINK_LOCAL),
        ("fe80::1%eth0", LINK_LOCAL),
        ("10.1.2.3", PRIVATE),
        ("172.16.0.1", PRIVATE),
        ("192.168.1.1", PRIVATE),
        ("100.64.0.1", PRIVATE),  # carrier-grade NAT
        ("fd00::1", PRIVATE),
        ("224.0.0.1", PRIVATE),  # multicast is nobody's feed
        ("198.18.0.1", PRIVATE),  # benchmarking range
    ],
)
def test_each_address_belongs_to_one_network(address, network):
    assert network_of(address) == network
