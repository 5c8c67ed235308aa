"""The aggregator's pure parts: link identity, the Decider, the scheduler, parsing, discovery.

No network, no database, no clock: every function here takes the time (and the jitter) as
an argument, so each rule of issue 3 is pinned with exact values.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from sources.follow.decide import decide_entries
from sources.follow.discover import discover_feeds, looks_like_html
from sources.follow.item_keys import entry_key, normalise_link
from sources.follow.parse import parse_feed
from sources.follow.schedule import (
    RETRY_AFTER_CAP,
    after_fetch,
    backoff,
    body_hash,
    is_due,
    retry_after,
)
from sources.http.fetch import FetchResult
from sources.settings import AggregateSettings
from sources.store.texts import pack_html, unpack_html
from sources.types import FeedEntry, KnownItem, SourceState

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "feeds"
NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
SETTINGS = AggregateSettings()  # base 5 min, cap 24 h, interval 1 h, 3 confirmations


# --- identity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example/a/1", "https://news.example/a/1"),
        ("HTTPS://NEWS.Example/a/1", "https://news.example/a/1"),
        ("https://news.example/A/1", "https://news.example/A/1"),  # paths are case-sensitive
        ("https://www.news.example/a/1", "https://news.example/a/1"),
        ("https://news.example:443/a/1", "https://news.example/a/1"),
        ("http://news.example:80/a/1", "https://news.example/a/1"),
        ("http://news.example/a/1", "https://news.example/a/1"),
        ("https://news.example:8443/a/1", "https://news.example:8443/a/1"),
        ("http://news.example:443/a/1", "https://news.example:443/a/1"),  # not http's default
        ("https://news.example/a/1#comments", "https://news.example/a/1"),
        ("https://news.example/a/1?utm_source=rss&utm_medium=feed", "https://news.example/a/1"),
        ("https://news.example/a/1?UTM_Campaign=x", "https://news.example/a/1"),
        ("https://news.example/a/1?fbclid=abc&gclid=def", "https://news.example/a/1"),
        ("https://news.example/a/1?b=2&a=1", "https://news.example/a/1?a=1&b=2"),
        ("https://news.example/a/1?id=7&utm_source=x#top", "https://news.example/a/1?id=7"),
        ("https://news.example/a/1?q=a+b", "https://news.example/a/1?q=a+b"),
        ("https://news.example/a/1?q=a%20b", "https://news.example/a/1?q=a+b"),
        ("https://news.example/a/1?flag=", "https://news.example/a/1?flag="),
        ("https://news.example", "https://news.example/"),
        ("  https://news.example/a/1  ", "https://news.example/a/1"),
        ("mailto:press@news.example", "mailto:press@news.example"),  # not http(s): as given
        ("/relative/path", "/relative/path"),
    ],
)
def test_normalise_link(url, expected):
    assert normalise_link(url) == expected


def test_normalise_link_makes_the_variants_of_one_link_equal():
    variants = [
        "https://news.example/eu/sanctions?id=14",
        "http://news.example/eu/sanctions?id=14",
        "HTTPS://News.Example:443/eu/sanctions?id=14#top",
        "https://www.news.example/eu/sanctions?utm_source=rss&id=14&fbclid=x",
    ]
    assert len({normalise_link(v) for v in variants}) == 1
    assert normalise_link(variants[0]) != normalise_link("https://news.example/eu/sanctions?id=15")
    assert normalise_link(variants[0]) != normalise_link("https://news.example/eu/Sanctions?id=14")


def test_entry_key_prefers_guid_then_normalised_link_then_title_and_date():
    assert entry_key("  urn:eeas:1 ", "https://a.example/x", "T", None) == "guid:urn:eeas:1"
    assert entry_key("   ", "http://A.example/x?utm_source=y#f", "T", None) == (
        "link:https://a.example/x"
    )
    assert entry_key(None, "https://a.example/x", "T", None) == entry_key(
        None, "http://www.a.example/x#more", "Other title", "2025-01-01"
    )
    hashed = entry_key(None, None, "Council conclusions", "2025-06-10T12:00:00+00:00")
    assert hashed.startswith("hash:")
    assert hashed == entry_key(None, "", "Council conclusions", "2025-06-10T12:00:00+00:00")
    assert hashed != entry_key(None, None, "Council conclusions", "2025-06-11T12:00:00+00:00")
    assert hashed != entry_key(None, None, "Council statement", "2025-06-10T12:00:00+00:00")
    assert entry_key(None, None, "T", None) == entry_key(None, None, "T", None)


# --- decide -------------------------------------------------------------------------------------


def entry(guid: str | None, link: str | None, content: str = "c", title: str = "T") -> FeedEntry:
    return FeedEntry(
        key=entry_key(guid, link, title, None),
        guid=guid,
        link=link,
        norm_link=normalise_link(link) if link else None,
        title=title,
        author="",
        html=pack_html(content),
        summary="",
        text=content,
        categories=(),
        published=None,
        updated=None,
        content_hash="hash-of-" + content,
    )


def stored(id: int, parsed: FeedEntry) -> KnownItem:
    return KnownItem(id, parsed.key, parsed.norm_link, parsed.content_hash)


def kinds(actions) -> list[tuple[str, int | None]]:
    return [(a.kind, a.stored_id) for a in actions]


def test_decide_new_same_and_updated():
    a = entry("urn:a", "https://n.example/a")
    b = entry("urn:b", "https://n.example/b")
    assert kinds(decide_entries([], [a, b])) == [("new", None), ("new", None)]
    b_changed = entry("urn:b", "https://n.example/b", content="new text")
    c = entry("urn:c", "https://n.example/c")
    actions = decide_entries([stored(1, a), stored(2, b)], [a, b_changed, c])
    assert kinds(actions) == [("same", 1), ("updated", 2), ("new", None)]
    assert [x.entry for x in actions] == [a, b_changed, c]


@pytest.mark.parametrize(
    "new_link",
    [
        "https://n.example/a",
        "https://n.example/a?utm_source=rss&utm_medium=feed",
        "https://n.example/a#comments",
        "http://n.example/a",
        "HTTPS://WWW.N.EXAMPLE/a",
    ],
)
def test_decide_a_changed_guid_with_the_same_link_is_the_same_item(new_link):
    old = entry("urn:cms-v1:17", "https://n.example/a")
    moved = entry("https://n.example/?p=17", new_link)  # same content: only the guid changed
    actions = decide_entries([stored(5, old)], [moved])
    assert kinds(actions) == [("updated", 5)]  # updated, so the stored key follows the feed


def test_decide_a_new_item_sharing_a_link_never_takes_an_item_that_kept_its_guid():
    """Feeds whose every item links to the home page: the new item is new, in either order."""
    home = "https://agency.example/"
    old = entry("urn:item:1", home, content="first")
    newer = entry("urn:item:2", home, content="second")
    for batch in ([newer, old], [old, newer]):
        actions = {
            a.entry.key: (a.kind, a.stored_id) for a in decide_entries([stored(1, old)], batch)
        }
        assert actions == {old.key: ("same", 1), newer.key: ("new", None)}


def test_decide_a_link_shared_in_the_batch_identifies_nothing():
    old = entry("urn:old", "https://n.example/a")
    first = entry("urn:new-1", "https://n.example/a", content="one")
    second = entry("urn:new-2", "https://n.example/a?utm_source=x", content="two")
    assert kinds(decide_entries([stored(3, old)], [first, second])) == [
        ("new", None),
        ("new", None),
    ]


def test_decide_the_feeds_home_page_link_identifies_nothing():
    """An item that left a feed whose items all link home is not overwritten by a new one."""
    home = "https://agency.example/"
    gone_from_feed = entry("urn:item:1", home, content="first")
    newer = entry("urn:item:2", home, content="second")
    actions = decide_entries([stored(1, gone_from_feed)], [newer], home_link=normalise_link(home))
    assert kinds(actions) == [("new", None)]
    # without the home-page hint the same batch reads as a changed guid
    assert kinds(decide_entries([stored(1, gone_from_feed)], [newer])) == [("updated", 1)]


def test_decide_a_link_shared_by_stored_items_identifies_nothing():
    a = entry("urn:a", "https://n.example/shared")
    b = entry("urn:b", "https://n.example/shared", content="other")
    c = entry("urn:c", "https://n.example/shared", content="third")
    assert kinds(decide_entries([stored(1, a), stored(2, b)], [c])) == [("new", None)]


def test_decide_items_without_links_match_by_key_only():
    old = entry("urn:a", None, content="x")
    assert kinds(decide_entries([stored(1, old)], [entry("urn:b", None, content="x")])) == [
        ("new", None)
    ]
    assert kinds(decide_entries([stored(1, old)], [old])) == [("same", 1)]


def test_decide_prefers_a_key_match_over_a_link_match():
    a = entry("urn:a", "https://n.example/shared")
    b = entry("urn:b", "https://n.example/shared", content="other")
    assert kinds(decide_entries([stored(1, a), stored(2, b)], [b, a])) == [
        ("same", 2),
        ("same", 1),
    ]


# --- schedule: backoff, Retry-After, is_due -----------------------------------------------------


def test_backoff_doubles_with_equal_jitter_and_is_capped():
    base = SETTINGS.backoff_base
    assert base == timedelta(minutes=5)
    for failures in range(1, 9):
        full = base * 2 ** (failures - 1)
        assert backoff(failures, SETTINGS, 0.0) == full / 2
        assert backoff(failures, SETTINGS, 0.5) == full * 3 / 4
        assert full / 2 <= backoff(failures, SETTINGS, 0.999) < full
    assert backoff(0, SETTINGS, 0.0) == backoff(1, SETTINGS, 0.0)
    cap = SETTINGS.backoff_cap
    for failures in (10, 50, 1000):
        assert backoff(failures, SETTINGS, 0.0) == cap / 2
        assert cap / 2 <= backoff(failures, SETTINGS, 0.999) < cap
    small = replace(SETTINGS, backoff_base=timedelta(seconds=10), backoff_cap=timedelta(minutes=1))
    assert [backoff(n, small, 0.0).total_seconds() for n in range(1, 6)] == [5, 10, 20, 30, 30]


def test_retry_after_seconds_and_http_dates():
    assert retry_after("120", NOW) == timedelta(seconds=120)
    assert retry_after(" 0 ", NOW) == timedelta(0)
    assert retry_after(format_datetime(NOW + timedelta(minutes=3), usegmt=True), NOW) == (
        timedelta(minutes=3)
    )
    assert retry_after("Tue, 01 Jul 2025 12:10:00 GMT", NOW) == timedelta(minutes=10)
    assert retry_after("Tue, 01 Jul 2025 11:00:00 GMT", NOW) == timedelta(0)  # in the past
    assert retry_after(str(365 * 86400), NOW) == RETRY_AFTER_CAP
    for unreadable in (None, "", "soon", "-5", "1.5", "Tue, 01 Jul 2025 12:10:00"):
        assert retry_after(unreadable, NOW) is None, unreadable


def test_is_due():
    assert is_due(SourceState("https://a.example/f"), NOW)
    assert is_due(SourceState("https://a.example/f", next_due=NOW), NOW)
    assert is_due(SourceState("https://a.example/f", next_due=NOW - timedelta(seconds=1)), NOW)
    assert not is_due(SourceState("https://a.example/f", next_due=NOW + timedelta(seconds=1)), NOW)
    assert not is_due(SourceState("https://a.example/f", gone=True), NOW)


# --- schedule: after_fetch ----------------------------------------------------------------------

URL = "https://feeds.example/rss"
NEW_URL = "https://feeds.example/new-rss"


def fetched(status: int | None, **fields) -> FetchResult:
    return FetchResult(url=URL, fetched_at=NOW, status=status, **fields)


def test_after_fetch_200_parses_and_stores_validators_and_body_hash():
    before = SourceState(URL, failures=3, next_due=NOW)
    outcome = after_fetch(
        before, fetched(200, body=b"<rss/>", etag='"v1"', last_modified="X"), SETTINGS, jitter=0.5
    )
    assert outcome.kind == "ok"
    assert outcome.parse
    assert outcome.state.etag == '"v1"'
    assert outcome.state.last_modified == "X"
    assert outcome.state.body_hash == body_hash(b"<rss/>")
    assert outcome.state.failures == 0
    assert outcome.state.next_due == NOW + SETTINGS.interval
    assert outcome.moved_from is None


def test_after_fetch_200_with_an_identical_body_is_not_parsed_again():
    before = SourceState(URL, body_hash=body_hash(b"<rss>same</rss>"))
    outcome = after_fetch(before, fetched(200, body=b"<rss>same</rss>"), SETTINGS, jitter=0.5)
    assert (outcome.kind, outcome.parse) == ("unchanged", False)
    assert outcome.state.next_due == NOW + SETTINGS.interval
    changed = after_fetch(before, fetched(200, body=b"<rss>other</rss>"), SETTINGS, jitter=0.5)
    assert (changed.kind, changed.parse) == ("ok", True)


def test_after_fetch_200_without_validators_forgets_the_old_ones():
    before = SourceState(URL, etag='"old"', last_modified="old")
    outcome = after_fetch(before, fetched(200, body=b"x"), SETTINGS, jitter=0.5)
    assert (outcome.state.etag, outcome.state.last_modified) == (None, None)


def test_after_fetch_304_keeps_validators_and_costs_no_parse():
    before = SourceState(URL, etag='"v1"', last_modified="L", body_hash="h", failures=2)
    outcome = after_fetch(before, fetched(304), SETTINGS, jitter=0.5)
    assert (outcome.kind, outcome.parse) == ("not_modified", False)
    assert (outcome.state.etag, outcome.state.last_modified, outcome.state.body_hash) == (
        '"v1"',
        "L",
        "h",
    )
    assert outcome.state.failures == 0
    assert outcome.state.next_due == NOW + SETTINGS.interval
    renewed = after_fetch(before, fetched(304, etag='"v2"'), SETTINGS, jitter=0.5)
    assert renewed.state.etag == '"v2"'


def test_after_fetch_410_marks_the_source_gone():
    outcome = after_fetch(SourceState(URL, next_due=NOW), fetched(410), SETTINGS, jitter=0.5)
    assert outcome.kind == "gone"
    assert outcome.state.gone
    assert outcome.state.next_due is None
    assert outcome.message == "410 Gone"
    assert not is_due(outcome.state, NOW + timedelta(days=365))


@pytest.mark.parametrize("status", [404, 500, 502, 503, 429])
def test_after_fetch_failures_back_off_exponentially(status):
    state = SourceState(URL)
    delays = []
    for n in range(1, 5):
        outcome = after_fetch(state, fetched(status), SETTINGS, jitter=0.0)
        assert outcome.kind == "failed"
        assert outcome.message == f"HTTP {status}"
        assert outcome.state.failures == n
        delays.append(outcome.state.next_due - NOW)
        state = outcome.state
    assert delays == [timedelta(minutes=m) for m in (2.5, 5, 10, 20)]
    recovered = after_fetch(state, fetched(200, body=b"x"), SETTINGS, jitter=0.0)
    assert (recovered.kind, recovered.state.failures) == ("ok", 0)
    assert recovered.state.next_due == NOW + SETTINGS.interval


def test_after_fetch_network_errors_back_off_with_their_message():
    result = fetched(None, error_kind="timeout", error="timed out (ReadTimeout)")
    outcome = after_fetch(SourceState(URL), result, SETTINGS, jitter=1 - 1e-9)
    assert outcome.kind == "failed"
    assert outcome.message == "timed out (ReadTimeout)"
    assert timedelta(minutes=2.5) <= outcome.state.next_due - NOW <= timedelta(minutes=5)


@pytest.mark.parametrize("status", [429, 503])
def test_after_fetch_429_and_503_wait_as_long_as_retry_after_says(status):
    outcome = after_fetch(SourceState(URL), fetched(status, retry_after="7200"), SETTINGS, jitter=0)
    assert outcome.kind == "failed"
    assert outcome.state.next_due == NOW + timedelta(hours=2)
    when = format_datetime(NOW + timedelta(minutes=45), usegmt=True)
    dated = after_fetch(SourceState(URL), fetched(status, retry_after=when), SETTINGS, jitter=0)
    assert dated.state.next_due == NOW + timedelta(minutes=45)
    unreadable = after_fetch(
        SourceState(URL), fetched(status, retry_after="later"), SETTINGS, jitter=0
    )
    assert unreadable.state.next_due == NOW + timedelta(minutes=2.5)  # plain backoff


def test_after_fetch_retry_after_is_ignored_for_other_failures():
    outcome = after_fetch(SourceState(URL), fetched(404, retry_after="7200"), SETTINGS, jitter=0)
    assert outcome.state.next_due == NOW + timedelta(minutes=2.5)


def moved_fetch(target: str | None = NEW_URL, status: int = 200) -> FetchResult:
    return fetched(
        status,
        body=b"x",
        final_url=target or URL,
        permanent_url=target,
        redirects=((301, target),) if target else (),
    )


def test_after_fetch_learns_a_permanent_redirect_after_three_consecutive_confirmations():
    state = SourceState(URL)
    for seen in (1, 2):
        outcome = after_fetch(state, moved_fetch(), SETTINGS, jitter=0.5)
        assert outcome.moved_from is None
        assert (outcome.state.url, outcome.state.redirect_target) == (URL, NEW_URL)
        assert outcome.state.redirect_seen == seen
        state = outcome.state
    third = after_fetch(state, moved_fetch(), SETTINGS, jitter=0.5)
    assert third.moved_from == URL
    assert third.state.url == NEW_URL
    assert (third.state.redirect_target, third.state.redirect_seen) == (None, 0)


def test_after_fetch_redirect_learning_resets_on_a_fetch_that_was_not_redirected():
    state = SourceState(URL)
    for result in (moved_fetch(), moved_fetch(), moved_fetch(None), moved_fetch(), moved_fetch()):
        outcome = after_fetch(state, result, SETTINGS, jitter=0.5)
        assert outcome.moved_from is None
        state = outcome.state
    assert (state.url, state.redirect_seen) == (URL, 2)
    assert after_fetch(state, moved_fetch(), SETTINGS, jitter=0.5).moved_from == URL


def test_after_fetch_redirect_learning_restarts_when_the_target_changes():
    state = SourceState(URL)
    for target in (NEW_URL, NEW_URL, "https://feeds.example/third", NEW_URL, NEW_URL):
        outcome = after_fetch(state, moved_fetch(target), SETTINGS, jitter=0.5)
        assert outcome.moved_from is None
        state = outcome.state
    assert (state.redirect_target, state.redirect_seen) == (NEW_URL, 2)


def test_after_fetch_temporary_redirects_never_move_the_source():
    state = SourceState(URL)
    for _ in range(5):
        result = fetched(200, body=b"x", final_url=NEW_URL, redirects=((302, NEW_URL),))
        outcome = after_fetch(state, result, SETTINGS, jitter=0.5)
        assert outcome.moved_from is None
        state = outcome.state
    assert (state.url, state.redirect_target, state.redirect_seen) == (URL, None, 0)


def test_after_fetch_a_fetch_without_response_neither_confirms_nor_resets_a_redirect():
    state = SourceState(URL, redirect_target=NEW_URL, redirect_seen=2)
    result = fetched(None, error_kind="connect", error="cannot connect")
    outcome = after_fetch(state, result, SETTINGS, jitter=0.5)
    assert (outcome.state.redirect_target, outcome.state.redirect_seen) == (NEW_URL, 2)
    assert after_fetch(outcome.state, moved_fetch(), SETTINGS, jitter=0.5).moved_from == URL


def test_after_fetch_the_confirmation_count_is_a_setting():
    quick = replace(SETTINGS, redirect_confirmations=1)
    assert after_fetch(SourceState(URL), moved_fetch(), quick, jitter=0.5).moved_from == URL


# --- parse --------------------------------------------------------------------------------------


def parse(body: bytes, url: str = "https://feeds.example/rss", content_type: str | None = None):
    return parse_feed(body, url, content_type, NOW)


def rss_doc(items: str, channel: str = "<link>https://site.example/</link>") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Feed</title>{channel}<description>d</description>{items}</channel></rss>"
    ).encode()


def test_parse_keeps_entries_recovered_from_malformed_xml_with_a_warning():
    body = rss_doc(
        "<item><title>EU & Japan <sign></title><link>https://site.example/1</link></item>"
        "<item><title>Second</title><link>https://site.example/2</link>"
    )  # a bare &, a stray tag, an unclosed item
    parsed = parse(body)
    assert parsed.error is None
    assert parsed.warning  # recorded, e.g. "SAXParseException: ... not well-formed"
    assert [e.link for e in parsed.entries] == ["https://site.example/1", "https://site.example/2"]
    assert parsed.entries[0].title.startswith("EU & Japan")


def test_parse_repairs_a_feed_with_rss_prefixed_tags():
    fixture = FIXTURES / "ffp-malformed_rss_namespaced.xml"
    if not fixture.exists():
        pytest.skip("shared fixtures not present")
    parsed = parse(fixture.read_bytes())
    assert parsed.entries
    assert parsed.warning


def test_parse_well_formed_feed_has_no_warning():
    parsed = parse(rss_doc("<item><title>A</title><link>https://site.example/a</link></item>"))
    assert parsed.warning is None
    assert parsed.title == "Feed"
    assert parsed.link == "https://site.example/"


def test_parse_not_a_feed_is_an_error_not_an_empty_feed():
    for body in (b"<html><body>Service unavailable</body></html>", b"\x00\x01garbage", b""):
        parsed = parse(body, content_type="text/html")
        assert parsed.error
        assert parsed.entries == ()


def test_parse_resolves_relative_links_against_the_feed_url_and_xml_base():
    body = rss_doc(
        "<item><title>A</title><link>/news/a.html</link>"
        "<description><![CDATA[<a href='/about/'>about</a> <img src='/img/a.png'>]]></description>"
        "</item>",
        channel="<link>/</link>",
    )
    (item,) = parse(body, "https://feeds.example/site/rss").entries
    assert item.link == "https://feeds.example/news/a.html"
    assert 'href="https://feeds.example/about/"' in unpack_html(item.html)
    assert 'src="https://feeds.example/img/a.png"' in unpack_html(item.html)

    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example/base/">
<title>Blog</title><id>urn:blog</id><updated>2025-01-01T00:00:00Z</updated>
<entry xml:base="https://blog.example/entries/7/"><title>One</title><id>urn:e1</id>
<link href="post.html"/><updated>2025-01-02T00:00:00Z</updated>
<content type="html">&lt;img src="pic.png"&gt; &lt;a href="../8/"&gt;next&lt;/a&gt;</content></entry>
<entry><title>Two</title><id>urn:e2</id><link href="two.html"/><updated>2025-01-02T00:00:00Z</updated>
<summary type="html">&lt;a href="more.html"&gt;more&lt;/a&gt;</summary></entry>
</feed>"""
    one, two = parse(atom, "https://feeds.example/atom.xml").entries
    assert one.link == "https://blog.example/entries/7/post.html"
    assert 'src="https://blog.example/entries/7/pic.png"' in unpack_html(one.html)
    assert 'href="https://blog.example/entries/8/"' in unpack_html(one.html)
    assert two.link == "https://blog.example/base/two.html"
    assert 'href="https://blog.example/base/more.html"' in unpack_html(two.html)


def test_parse_resolves_relative_links_in_an_rss_item_against_the_item_link():
    """A feed served from a feed host (feedburner) whose items live on the site: an image
    written relative to the article page must point at the site, not at the feed host."""
    body = rss_doc(
        "<item><title>Post</title><link>https://www.site.example/2025/post/</link>"
        "<description><![CDATA[<img src='img/map.png'> <a href='../other/'>o</a>]]>"
        "</description></item>"
    )
    (item,) = parse(body, "https://feeds.feedburner.example/site").entries
    assert 'src="https://www.site.example/2025/post/img/map.png"' in unpack_html(item.html)
    assert 'href="https://www.site.example/2025/other/"' in unpack_html(item.html)


def test_parse_sanitises_entry_html():
    body = rss_doc(
        "<item><title>A</title><link>https://site.example/a</link><description><![CDATA["
        "<p onclick='steal()'>Text<script>alert(1)</script></p>"
        "<img src='https://site.example/i.png' onerror='alert(2)'>"
        "<a href='javascript:alert(3)'>js</a><iframe src='https://evil.example/'></iframe>"
        "<style>body{display:none}</style>]]></description></item>"
    )
    (item,) = parse(body).entries
    html = unpack_html(item.html).lower()
    for forbidden in (
        "<script",
        "alert(",
        "onclick",
        "onerror",
        "javascript:",
        "<iframe",
        "<style",
    ):
        assert forbidden not in html, forbidden
    assert "Text" in unpack_html(item.html)
    assert 'src="https://site.example/i.png"' in unpack_html(item.html)
    assert "alert" not in item.text


def test_parse_titles_are_plain_text():
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">&lt;em&gt;Blog&lt;/em&gt;</title>
<id>urn:b</id><updated>2025-01-01T00:00:00Z</updated>
<entry><title type="html">&lt;b&gt;Bold&lt;/b&gt;   move</title><id>urn:1</id>
<updated>2025-01-01T00:00:00Z</updated></entry>
<entry><title type="text">Tariffs &lt; 5% &amp; rising</title><id>urn:2</id>
<updated>2025-01-01T00:00:00Z</updated></entry>
</feed>"""
    parsed = parse(atom, "https://feeds.example/atom.xml")
    assert parsed.title == "Blog"
    html_title, text_title = (e.title for e in parsed.entries)
    assert html_title == "Bold move"
    assert text_title == "Tariffs < 5% & rising"  # prose with < and & survives
    rss_title = parse(rss_doc("<item><title>&lt;b&gt;EU&lt;/b&gt; summit</title></item>"))
    assert rss_title.entries[0].title == "EU summit"


@pytest.mark.parametrize(
    "title",
    [
        "&lt;b&gt;Summit&lt;/b&gt; ends&lt;script&gt;track()&lt;/script&gt;",  # RSS
        "Summit ends&lt;style&gt;b{color:red}&lt;/style&gt;",  # RSS
        "&lt;img src=x onerror=alert(1)&gt;Summit ends",  # RSS
        "atom:&lt;b&gt;Summit&lt;/b&gt; ends&lt;script&gt;track()&lt;/script&gt;",
    ],
)
def test_parse_titles_never_keep_markup_or_script_text(title):
    """Markup feedparser does not recognise as HTML (script, style, an unclosed img) and the
    content of script/style in HTML titles never reach the stored plain-text title."""
    if title.startswith("atom:"):
        body = (
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>'
            "<id>urn:f</id><updated>2025-01-01T00:00:00Z</updated><entry>"
            f'<title type="html">{title.removeprefix("atom:")}</title><id>urn:1</id>'
            "<updated>2025-01-01T00:00:00Z</updated></entry></feed>"
        ).encode()
    else:
        body = rss_doc(f"<item><title>{title}</title><guid>urn:a</guid></item>")
    assert parse(body).entries[0].title == "Summit ends"


def test_parse_entry_without_title_gets_one_from_its_text():
    body = rss_doc(
        "<item><link>https://site.example/a</link>"
        "<description>The Council adopted conclusions.</description></item>"
    )
    assert parse(body).entries[0].title == "The Council adopted conclusions."


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("10/06/2025 14:00", datetime(2025, 6, 10, 14, 0, tzinfo=UTC)),  # day first
        ("10.06.2025", datetime(2025, 6, 10, tzinfo=UTC)),
        ("25/02/2025 09:30:15 +01:00", datetime(2025, 2, 25, 8, 30, 15, tzinfo=UTC)),
        ("Tue, 10 Jun 2025 14:00:00 +0200", datetime(2025, 6, 10, 12, 0, tzinfo=UTC)),
        ("Tue, 10 Jun 2025 14:00:00 GMT", datetime(2025, 6, 10, 14, 0, tzinfo=UTC)),
        ("2025-06-10T14:00:00-05:00", datetime(2025, 6, 10, 19, 0, tzinfo=UTC)),
        ("Tue, 01 Jul 2025 20:00:00 +0000", NOW),  # up to a day ahead: clamped to the fetch
        ("Tue, 10 Jun 2031 14:00:00 +0200", None),  # years ahead: no date (first seen)
        ("not a date", None),
    ],
)
def test_parse_dates(date, expected):
    body = rss_doc(f"<item><title>A</title><guid>urn:a</guid><pubDate>{date}</pubDate></item>")
    (item,) = parse(body).entries
    assert item.published == expected
    if expected is not None:
        assert item.published.utcoffset() == timedelta(0)


def test_parse_a_feed_listing_one_item_twice_gives_it_once():
    item = "<item><title>A</title><guid>urn:a</guid></item>"
    assert len(parse(rss_doc(item + item)).entries) == 1


def test_parse_identity_fields():
    body = rss_doc(
        "<item><title>A</title><guid isPermaLink='false'>urn:eeas:42</guid>"
        "<link>https://www.site.example/a?utm_source=rss#top</link></item>"
        "<item><title>B</title><link>https://site.example/b?utm_source=rss</link></item>"
        "<item><title>C</title><description>no guid, no link</description></item>"
    )
    a, b, c = parse(body).entries
    assert (a.key, a.guid) == ("guid:urn:eeas:42", "urn:eeas:42")
    assert a.norm_link == "https://site.example/a"
    assert (b.key, b.guid) == ("link:https://site.example/b", None)
    assert c.key.startswith("hash:")
    assert c.content_hash != parse(rss_doc(
        "<item><title>C</title><description>changed</description></item>"
    )).entries[0].content_hash  # fmt: skip


def test_parse_a_guid_is_kept_verbatim_whatever_url_the_feed_came_from():
    body = rss_doc(
        "<item><title>A</title><guid isPermaLink='false'>4711</guid></item>"
        "<item><title>B</title><guid>post-17</guid><link>https://site.example/b</link></item>"
    )
    old = parse(body, "http://site.example/rss.xml").entries
    new = parse(body, "https://feeds.site.example/v2/rss").entries
    assert [e.guid for e in old] == ["4711", "post-17"]
    assert [e.key for e in old] == [e.key for e in new]


def test_parse_a_utf8_feed_with_a_wrong_single_byte_declaration():
    body = (
        '<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel><title>F</title>'
        "<item><title>Budget of 5 € for Česko</title><guid>urn:1</guid></item></channel></rss>"
    ).encode()
    assert parse(body).entries[0].title == "Budget of 5 € for Česko"


# --- discover -----------------------------------------------------------------------------------


def test_discover_prefers_atom_then_rss_and_resolves_against_the_page():
    page = """<!doctype html><html><head>
    <link rel="stylesheet" href="/style.css">
    <link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.xml">
    <link rel="alternate" type="application/feed+json" href="feed.json">
    <link rel="alternate" type="application/atom+xml" title="Atom" href="/feed.xml">
    <link rel="alternate" hreflang="fr" href="/fr/">
    <link rel="alternate" type="application/rss+xml" href="/rss.xml">
    </head><body><a rel="alternate" type="application/rss+xml" href="/not-a-link-tag">x</a>
    </body></html>"""
    found = discover_feeds(page, "https://site.example/news/index.html")
    assert [(f.url, f.type, f.title) for f in found] == [
        ("https://site.example/feed.xml", "application/atom+xml", "Atom"),
        ("https://site.example/rss.xml", "application/rss+xml", "RSS"),
        ("https://site.example/news/feed.json", "application/feed+json", ""),
    ]


def test_discover_variants():
    page = """<html><head><base href="https://cdn.site.example/en/">
    <LINK REL="Alternate Feed" TYPE="Application/RSS+XML; charset=utf-8" HREF="rss">
    <link rel="alternate" type="application/atom+xml" href="">
    </head></html>"""
    assert [f.url for f in discover_feeds(page, "https://site.example/")] == [
        "https://cdn.site.example/en/rss"
    ]
    assert discover_feeds("<html><head><title>No feeds</title></head></html>", "https://a/") == []
    assert discover_feeds("not even html <", "https://a/") == []


def test_looks_like_html():
    assert looks_like_html(b"anything", "text/html; charset=utf-8")
    assert looks_like_html(b"  <!DOCTYPE html><html>", None)
    assert looks_like_html(b"<html lang='en'>", "application/octet-stream")
    assert not looks_like_html(b'<?xml version="1.0"?><rss/>', "application/rss+xml")
    assert not looks_like_html(b"<rss version='2.0'>", None)


# --- packaging ----------------------------------------------------------------------------------


def test_every_third_party_import_of_sources_is_a_declared_dependency():
    """README's fresh-machine install must give a working aggregator (httpx was once missing)."""
    declared = {
        d.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().lower()
        for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    for module in ("feedparser", "nh3", "httpx"):
        assert module in declared, module
