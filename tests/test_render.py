"""Sanitising, URL absolutising, summaries and XML-safe text."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import feedparser
import pytest

from feeds.sanitise import sanitise
from feeds.text import cut_at_word

BASE = "https://example.org/blog/my-post/"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a href="other/">x</a>', '<a href="https://example.org/blog/my-post/other/">x</a>'),
        ('<a href="/about/">x</a>', '<a href="https://example.org/about/">x</a>'),
        ('<a href="../up.html">x</a>', '<a href="https://example.org/blog/up.html">x</a>'),
        ('<a href="#notes">x</a>', '<a href="https://example.org/blog/my-post/#notes">x</a>'),
        ('<a href="//cdn.example.net/a">x</a>', '<a href="https://cdn.example.net/a">x</a>'),
        ('<a href="https://europa.eu/">x</a>', '<a href="https://europa.eu/">x</a>'),
        ('<a href="mailto:a@example.org">x</a>', '<a href="mailto:a@example.org">x</a>'),
        (
            '<img src="map.png" alt="m">',
            '<img src="https://example.org/blog/my-post/map.png" alt="m">',
        ),
        (
            '<img srcset="a.png 1x, /b.png 2x" src="a.png">',
            '<img srcset="https://example.org/blog/my-post/a.png 1x, https://example.org/b.png 2x" '
            'src="https://example.org/blog/my-post/a.png">',
        ),
        (
            '<video poster="p.jpg" src="v.mp4" controls></video>',
            '<video poster="https://example.org/blog/my-post/p.jpg" src="https://example.org/blog/my-post/v.mp4" controls=""></video>',
        ),
        (
            '<picture><source srcset="w.webp" type="image/webp"><img src="w.png"></picture>',
            '<picture><source srcset="https://example.org/blog/my-post/w.webp" type="image/webp">'
            '<img src="https://example.org/blog/my-post/w.png"></picture>',
        ),
    ],
)
def test_every_url_is_made_absolute_against_the_article(html, expected):
    assert sanitise(html, BASE) == expected


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        '<img src="x.png" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" JaVaScRiPt:alert(1)">x</a>',
        '<iframe src="https://evil.example/"></iframe>',
        '<p onclick="alert(1)" style="background:url(javascript:alert(1))">x</p>',
        '<img srcset="javascript:alert(1) 1x">',
        '<video poster="javascript:alert(1)"></video>',
        '<svg onload="alert(1)"><circle/></svg>',
        '<object data="x.swf"></object><embed src="x.swf">',
        '<form action="https://evil.example/"><input name="q"></form>',
        '<a href="vbscript:msgbox(1)">x</a>',
        "<style>body{display:none}</style>",
    ],
)
def test_dangerous_html_is_made_inert(payload):
    cleaned = sanitise(payload, BASE).lower()
    for marker in ("<script", "onerror", "onclick", "onload", "javascript:", "vbscript:", "<iframe", "<object",
                   "<embed", "<form", "<style", "style=", "alert(1)</"):  # fmt: skip
        assert marker not in cleaned, cleaned


def test_characters_xml_forbids_are_removed():
    assert sanitise("<p>a\x00b\x0bc\x1fd\ufffee</p>", BASE) == "<p>abcde</p>"


def test_payloads_in_an_article_are_inert_in_every_published_file(site):
    site.article(
        "2025-01-01-attack.md",
        """
        ---
        title: "Nasty <script>alert('t') title\x01"
        ---
        Hello <script>alert(1)</script><img src=x onerror="alert(2)">
        <a href="javascript:alert(3)">click</a> <iframe src="https://evil.example/"></iframe>
        """,
    )
    site.publish()
    for path in site.public.rglob("*"):
        if path.suffix in {".xml", ".json", ".html"}:
            text = path.read_text(encoding="utf-8")
            decoded = (
                text.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", '"')
                .replace("&amp;", "&")
            )
            for marker in ("onerror", "javascript:", "<iframe"):
                assert marker not in decoded.lower(), (path, marker)
            if path.suffix == ".html":
                assert "<script" not in text.lower(), path
    atom = (site.public / "atom.xml").read_bytes()
    ET.fromstring(atom)  # well-formed despite the control character in the title
    assert not feedparser.parse(atom).bozo
    item = json.loads((site.public / "feed.json").read_text())["items"][0]
    assert "<script" not in item["content_html"]
    assert item["title"] == "Nasty <script>alert('t') title"  # plain text, escaped where rendered
    page = (site.public / "attack" / "index.html").read_text()
    assert "<h1>Nasty &lt;script&gt;alert(&#39;t&#39;) title</h1>" in page


def test_cut_at_word_prefers_sentences_then_words():
    text = "The Council met today. It agreed sanctions on a long list of entities and persons."
    assert cut_at_word(text, 200) == text
    assert cut_at_word(text, 30) == "The Council met today."
    assert cut_at_word("alpha beta gamma delta", 12) == "alpha beta…"


def test_long_first_paragraph_summary_is_cut_at_a_word_boundary(site):
    words = " ".join(f"word{n}" for n in range(200))
    site.article("2025-01-01-long.md", f"---\ntitle: Long\n---\n{words}\n\nSecond paragraph.\n")
    site.publish()
    item = json.loads((site.public / "feed.json").read_text())["items"][0]
    assert len(item["summary"]) <= 301
    assert item["summary"].endswith("…")
    assert item["summary"][:-1].split()[-1] in words.split()
