"""Published feeds parse back cleanly and follow Atom, RSS 2.0 and JSON Feed 1.1 element by element."""

from __future__ import annotations

import json
import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from xml.etree import ElementTree as ET

import feedparser
import pytest

ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
BASE = "https://notes.example.org/"
EXPECTED = [  # newest first
    {
        "slug": "japan-partnership",
        "title": "EU & Japan sign a <security> partnership",
        "id": "tag:notes.example.org,2025-03-01:japan-partnership",
        "published": "2025-03-01T10:30:00+01:00",
        "updated": "2025-03-02T08:00:00+01:00",
        "author": "Ana Šimić",
        "email": None,
        "tags": ["security and defence", "Indo-Pacific"],
        "summary": True,
    },
    {
        "slug": "ukraine-talks",
        "title": "Accession talks with Ukraine",
        "id": "tag:notes.example.org,2025-02-10:ukraine-talks",
        "published": "2025-02-10T00:00:00+01:00",
        "updated": "2025-02-10T00:00:00+01:00",
        "author": "Jonas Berg",
        "email": "jonas@example.org",
        "tags": ["enlargement"],
        "summary": True,
    },
    {
        "slug": "norway",
        "title": "Norway joins a security partnership",
        "id": "tag:notes.example.org,2024-05-28:norway",
        "published": "2024-05-28T00:00:00+02:00",
        "updated": "2024-05-28T00:00:00+02:00",
        "author": "Site Author",
        "email": "editor@example.org",
        "tags": ["security and defence"],
        "summary": False,  # the text before <!-- more --> is the whole article
    },
]
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$"
)


@pytest.mark.parametrize("name", ["atom.xml", "rss.xml"])
def test_feedparser_reads_every_article_back(published, name):
    parsed = feedparser.parse((published.public / name).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "EU Notes"
    assert [e.title for e in parsed.entries] == [a["title"] for a in EXPECTED]
    assert [e.link for e in parsed.entries] == [BASE + a["slug"] + "/" for a in EXPECTED]
    assert [e.id for e in parsed.entries] == [a["id"] for a in EXPECTED]
    assert [e.author_detail.name for e in parsed.entries] == [a["author"] for a in EXPECTED]
    assert [[t.term for t in e.tags] for e in parsed.entries] == [a["tags"] for a in EXPECTED]
    for entry, article in zip(parsed.entries, EXPECTED, strict=True):
        published_at = datetime.fromisoformat(article["published"])
        assert entry.published_parsed[:6] == published_at.utctimetuple()[:6]
        full_text = entry.content[0].value if "content" in entry else entry.summary
        assert "<p>" in full_text


def test_atom_elements(published):
    root = ET.parse(published.public / "atom.xml").getroot()
    assert root.tag == f"{ATOM}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert root.findtext(f"{ATOM}updated") == "2025-03-02T08:00:00+01:00"  # newest entry update
    links = {(link.get("rel"), link.get("href")) for link in root.findall(f"{ATOM}link")}
    assert ("self", BASE + "atom.xml") in links
    assert ("alternate", BASE) in links
    assert root.find(f"{ATOM}author/{ATOM}name").text == "Site Author"
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == len(EXPECTED)
    for entry, article in zip(entries, EXPECTED, strict=True):
        assert entry.findtext(f"{ATOM}id") == article["id"]
        assert entry.findtext(f"{ATOM}published") == article["published"]
        assert entry.findtext(f"{ATOM}updated") == article["updated"]
        assert RFC3339.match(entry.findtext(f"{ATOM}updated"))
        assert entry.find(f"{ATOM}author/{ATOM}name").text == article["author"]
        assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == article["tags"]
        content = entry.find(f"{ATOM}content")
        assert content.get("type") == "html"
        assert (entry.find(f"{ATOM}summary") is not None) == article["summary"]
        assert entry.find(f"{ATOM}link").get("href") == BASE + article["slug"] + "/"


def test_rss_elements(published):
    root = ET.parse(published.public / "rss.xml").getroot()
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel.findtext("link") == BASE
    self_link = channel.find(f"{ATOM}link")
    assert (self_link.get("rel"), self_link.get("href")) == ("self", BASE + "rss.xml")
    assert channel.findtext("lastBuildDate") == "Sun, 02 Mar 2025 08:00:00 +0100"
    items = channel.findall("item")
    for item, article in zip(items, EXPECTED, strict=True):
        guid = item.find("guid")
        assert guid.text == article["id"] and guid.get("isPermaLink") == "false"
        assert RFC822.match(item.findtext("pubDate"))
        assert parsedate_to_datetime(item.findtext("pubDate")) == datetime.fromisoformat(
            article["published"]
        )
        if article["email"]:
            assert item.findtext("author") == f"{article['email']} ({article['author']})"
            assert item.find(f"{DC}creator") is None
        else:
            assert item.find("author") is None
            assert item.findtext(f"{DC}creator") == article["author"]
        assert [c.text for c in item.findall("category")] == article["tags"]
        if article["summary"]:  # summary in description, full text in content:encoded
            assert len(item.findtext(f"{CONTENT}encoded")) > len(item.findtext("description"))
        else:  # no separate summary: the full text is the description
            assert item.find(f"{CONTENT}encoded") is None
            assert "maritime security" in item.findtext("description")


def check_json_feed_1_1(document: dict) -> None:
    """The JSON Feed 1.1 spec's rules (feedparser 6 does not read JSON Feed)."""
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(document["title"], str) and document["title"]
    for key in ("home_page_url", "feed_url", "description", "icon", "favicon", "language"):
        assert key not in document or isinstance(document[key], str)
    for author in document.get("authors", []):
        assert set(author) <= {"name", "url", "avatar"} and author
    assert "author" not in document  # deprecated in 1.1
    assert isinstance(document["items"], list)
    ids = [item["id"] for item in document["items"]]
    assert len(ids) == len(set(ids))
    for item in document["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert "content_html" in item or "content_text" in item
        for key in ("date_published", "date_modified"):
            if key in item:
                assert RFC3339.match(item[key])
        assert isinstance(item.get("tags", []), list)
        assert "author" not in item


def test_json_feed_elements(published):
    document = json.loads((published.public / "feed.json").read_text(encoding="utf-8"))
    check_json_feed_1_1(document)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["feed_url"] == BASE + "feed.json"
    assert document["home_page_url"] == BASE
    assert document["authors"] == [{"name": "Site Author", "url": "mailto:editor@example.org"}]
    assert document["language"] == "en"
    for item, article in zip(document["items"], EXPECTED, strict=True):
        assert set(item) <= {
            "id", "url", "external_url", "title", "content_html", "content_text", "summary", "image",
            "banner_image", "date_published", "date_modified", "authors", "tags", "language", "attachments",
        }  # fmt: skip
        assert item["id"] == article["id"]
        assert item["url"] == BASE + article["slug"] + "/"
        assert item["date_published"] == article["published"]
        assert item["date_modified"] == article["updated"]
        assert RFC3339.match(item["date_published"])
        assert item["authors"][0]["name"] == article["author"]
        assert item["tags"] == article["tags"]
        assert item["content_html"]
        assert ("summary" in item) == article["summary"]


def test_summaries_come_from_front_matter_more_marker_or_first_paragraph(published):
    items = {
        i["id"].rsplit(":", 1)[1]: i
        for i in json.loads((published.public / "feed.json").read_text())["items"]
    }
    assert items["ukraine-talks"]["summary"] == "Talks opened in Luxembourg."
    assert items["japan-partnership"]["summary"].startswith(
        "The EU and Japan signed a partnership today."
    )
    # "norway": text before <!-- more --> is the whole article, so no summary at all
    assert "summary" not in items["norway"]
    assert "<!--" not in items["norway"]["content_html"]


def test_urls_in_content_are_absolute_against_the_article(published):
    item = json.loads((published.public / "feed.json").read_text())["items"][0]
    assert 'href="https://notes.example.org/partnerships/japan/"' in item["content_html"]
    assert (
        'src="https://notes.example.org/japan-partnership/img/signing.jpg"' in item["content_html"]
    )


def test_tag_feeds_hold_only_their_articles(published):
    tag_dir = published.public / "tags" / "security-and-defence"
    parsed = feedparser.parse((tag_dir / "atom.xml").read_bytes())
    assert not parsed.bozo
    assert [e.title for e in parsed.entries] == [EXPECTED[0]["title"], EXPECTED[2]["title"]]
    assert parsed.feed.links[0].href == BASE + "tags/security-and-defence/atom.xml"
    assert (tag_dir / "rss.xml").exists() and (tag_dir / "feed.json").exists()
    assert (tag_dir / "index.html").exists()


def test_every_link_in_the_feeds_resolves_to_a_published_file(published):
    parsed = feedparser.parse((published.public / "atom.xml").read_bytes())
    urls = [e.link for e in parsed.entries] + [link.href for link in parsed.feed.links]
    for url in urls:
        path = url.removeprefix(BASE)
        target = published.public / path
        if not path or path.endswith("/"):
            target = target / "index.html"
        assert target.is_file(), url


def test_index_page_has_autodiscovery_for_each_feed(published):
    html = (published.public / "index.html").read_text(encoding="utf-8")
    for media_type, href in [
        ("application/atom+xml", "/atom.xml"),
        ("application/rss+xml", "/rss.xml"),
        ("application/feed+json", "/feed.json"),
    ]:
        assert f'<link rel="alternate" type="{media_type}"' in html
        assert f'href="{href}"' in html
    assert "<script" not in html
    assert "EU &amp; Japan sign a &lt;security&gt; partnership" in html


def test_entries_per_feed_limits_feeds_but_not_the_index(site):
    site.config.write_text(site.config.read_text().replace("entries = 20", "entries = 2"))
    for day in range(1, 6):
        site.article(f"2025-01-0{day}-day-{day}.md", f"---\ntitle: Day {day}\n---\nText {day}.\n")
    site.publish()
    parsed = feedparser.parse((site.public / "atom.xml").read_bytes())
    assert [e.title for e in parsed.entries] == ["Day 5", "Day 4"]
    assert (site.public / "index.html").read_text().count("<li>") == 5


def test_rss_plain_text_uses_hex_references_for_ampersand_and_angle_brackets(published):
    raw = (published.public / "rss.xml").read_text(encoding="utf-8")
    assert "<title>EU &#x26; Japan sign a &#x3C;security&#x3E; partnership</title>" in raw
    parsed = feedparser.parse(raw.encode())
    assert parsed.entries[0].title == "EU & Japan sign a <security> partnership"


def test_rss_has_at_most_one_author_and_names_everyone_else_in_dc_creator(site):
    site.article(
        "2025-01-01-two.md",
        "---\ntitle: Two\nauthors: [{name: A, email: a@example.org}, {name: B, email: b@example.org}]\n---\nBody.\n",
    )
    site.article(
        "2025-01-02-mixed.md",
        "---\ntitle: Mixed\nauthors: [Jo, {name: Bo, email: bo@example.org}]\n---\nB.\n",
    )
    site.article(
        "2025-01-03-one.md", "---\ntitle: One\nauthor: {name: Al, email: al@example.org}\n---\nB.\n"
    )
    site.publish()
    items = {
        i.findtext("title"): i for i in ET.parse(site.public / "rss.xml").getroot().iter("item")
    }
    assert [c.text for c in items["Two"].findall(f"{DC}creator")] == ["A", "B"]
    assert [c.text for c in items["Mixed"].findall(f"{DC}creator")] == ["Jo", "Bo"]
    assert items["Two"].find("author") is None and items["Mixed"].find("author") is None
    assert items["One"].findtext("author") == "al@example.org (Al)"
    assert items["One"].find(f"{DC}creator") is None
    atom = {
        e.findtext(f"{ATOM}title"): e
        for e in ET.parse(site.public / "atom.xml").getroot().iter(f"{ATOM}entry")
    }
    assert [a.findtext(f"{ATOM}email") for a in atom["Two"].findall(f"{ATOM}author")] == [
        "a@example.org",
        "b@example.org",
    ]


def test_an_article_in_another_language_says_so_in_atom_and_json(site):
    site.article("2025-01-01-fr.md", "---\ntitle: En français\nlang: fr-BE\n---\nBonjour.\n")
    site.article("2025-01-02-en.md", "---\ntitle: In English\n---\nHello.\n")
    site.publish()
    entries = ET.parse(site.public / "atom.xml").getroot().findall(f"{ATOM}entry")
    langs = {
        e.findtext(f"{ATOM}title"): e.get("{http://www.w3.org/XML/1998/namespace}lang")
        for e in entries
    }
    assert langs == {"En français": "fr-BE", "In English": None}
    items = json.loads((site.public / "feed.json").read_text())["items"]
    assert {i["title"]: i.get("language") for i in items} == {
        "En français": "fr-BE",
        "In English": None,
    }
    page = (site.public / "fr" / "index.html").read_text()
    assert '<article lang="fr-BE">' in page


def test_feed_without_subtitle_has_no_atom_subtitle(site):
    site.config.write_text(site.config.read_text().replace('subtitle = "Test site"\n', ""))
    site.article("2025-01-01-a.md", "---\ntitle: A\n---\nBody.\n")
    site.publish()
    assert ET.parse(site.public / "atom.xml").getroot().find(f"{ATOM}subtitle") is None
    assert (
        ET.parse(site.public / "rss.xml").getroot().find("channel").findtext("description")
        == "EU Notes"
    )


def test_characters_xml_discourages_never_reach_a_feed(site):
    site.article(
        "2025-01-01-c.md", "---\ntitle: Ctl\x7f\u0085\n---\nA\x7fb\u0085c\ufdd0d\U0001fffee.\n"
    )
    site.publish()
    for name in ("atom.xml", "rss.xml", "feed.json", "c/index.html"):
        text = (site.public / name).read_text(encoding="utf-8")
        assert not any(ch in text for ch in "\x7f\u0085\ufdd0\U0001fffe"), name
    assert "Abcde." in (site.public / "feed.json").read_text()


@pytest.mark.parametrize("name", ["rss.xml", "feed.json"])
def test_tag_feeds_in_every_format_hold_only_their_articles(published, name):
    data = (published.public / "tags" / "enlargement" / name).read_bytes()
    if name == "feed.json":
        document = json.loads(data)
        check_json_feed_1_1(document)
        assert [i["title"] for i in document["items"]] == [EXPECTED[1]["title"]]
        assert document["feed_url"] == BASE + "tags/enlargement/feed.json"
    else:
        parsed = feedparser.parse(data)
        assert not parsed.bozo
        assert [e.title for e in parsed.entries] == [EXPECTED[1]["title"]]


def test_rss_dates_with_odd_offsets_are_written_in_utc(site):
    site.config.write_text(site.config.read_text().replace("Europe/Brussels", "Asia/Kathmandu"))
    site.article("2025-01-01-k.md", "---\ntitle: K\n---\nB\n")
    site.publish()
    assert (
        "<pubDate>Tue, 31 Dec 2024 18:15:00 +0000</pubDate>"
        in (site.public / "rss.xml").read_text()
    )
    assert (
        "<published>2025-01-01T00:00:00+05:45</published>" in (site.public / "atom.xml").read_text()
    )


def test_rss_channel_description_uses_hex_references(site):
    site.config.write_text(
        site.config.read_text().replace('subtitle = "Test site"', 'subtitle = "Sub <x> y"')
    )
    site.article("2025-01-01-a.md", "---\ntitle: A\n---\nB\n")
    site.publish()
    raw = (site.public / "rss.xml").read_text()
    assert "<description>Sub &#x3C;x&#x3E; y</description>" in raw


def test_a_more_marker_first_falls_back_to_the_first_paragraph(site):
    site.article(
        "2025-01-01-m.md", "---\ntitle: M\n---\n<!-- more -->\n\nFirst paragraph.\n\nSecond.\n"
    )
    site.publish()
    item = json.loads((site.public / "feed.json").read_text())["items"][0]
    assert item["summary"] == "First paragraph."


def test_replacement_characters_never_reach_a_feed(site):
    site.article("2025-01-01-r.md", "---\ntitle: R\n---\nA &#0; b &#xFFFE; c \ufffd d.\n")
    site.publish()
    for name in ("atom.xml", "rss.xml", "feed.json"):
        assert "\ufffd" not in (site.public / name).read_text(encoding="utf-8")
