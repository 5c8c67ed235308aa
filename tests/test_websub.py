"""WebSub: every feed names the hubs of [publish] hubs, in all three formats."""

from __future__ import annotations

import json
import os
import subprocess

import feedparser
import pytest
from conftest import SHARED, Site

BASE = "https://notes.example.org/"
FEED_FILES = ("atom.xml", "rss.xml", "feed.json")


def with_hubs(site: Site, *urls: str) -> Site:
    listed = ", ".join(json.dumps(url) for url in urls)
    text = site.config.read_text(encoding="utf-8")
    site.config.write_text(text + f"hubs = [{listed}]\n", encoding="utf-8")
    return site


# --- the feeds name their hubs --------------------------------------------------------------


def test_every_feed_names_its_hubs_in_all_three_formats(sample_site):
    hubs = ["https://websub.example/", "https://websub.example/hub?key=a&x=1"]
    with_hubs(sample_site, *hubs).publish()
    documents = sorted(p for p in sample_site.public.rglob("*") if p.name in FEED_FILES)
    assert len(documents) == 3 * 4  # the site's feeds and three tags', three formats each
    for path in documents:
        url = BASE + path.relative_to(sample_site.public).as_posix()
        if path.suffix == ".json":
            document = json.loads(path.read_bytes())
            assert document["hubs"] == [{"type": "WebSub", "url": h} for h in hubs]
            assert document["feed_url"] == url
            continue
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        links = parsed.feed.links
        assert [link.href for link in links if link.rel == "hub"] == hubs, path
        assert [link.href for link in links if link.rel == "self"] == [url], path
        folder = path.parent.relative_to(sample_site.public).as_posix()
        home = BASE if folder == "." else f"{BASE}{folder}/"
        assert parsed.feed.link == home, path  # RSS <link> stays the page, never a hub


def test_without_hubs_no_feed_mentions_one(published):
    for path in published.public.rglob("*"):
        if path.name in FEED_FILES:
            assert b"hub" not in path.read_bytes(), path
    assert not (published.root / ".communique").exists()


@pytest.mark.skipif(
    not os.environ.get("FV_MIRROR") or not (SHARED / "tools" / "feedvalidate").exists(),
    reason="the W3C feed validator is not available (set FV_MIRROR)",
)
def test_feeds_with_hubs_pass_the_w3c_validator_without_warnings(sample_site):
    with_hubs(sample_site, "http://127.0.0.1:9/hub", "https://websub.example/").publish()
    for name in ("atom.xml", "rss.xml", "tags/enlargement/atom.xml", "tags/enlargement/rss.xml"):
        result = subprocess.run(
            [SHARED / "tools" / "feedvalidate", sample_site.public / name, BASE + name],
            env={**os.environ, "STRICT": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "errors=0 warnings=0" in result.stdout


# --- the setting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ('"https://websub.example/"', "[publish] hubs must be a list of URLs"),
        ("[1]", "[publish] hubs must be a list of URLs"),
        ('["websub.example/hub"]', "must be an absolute http(s) URL"),
        ('["ftp://websub.example/"]', "must be an absolute http(s) URL"),
        ('["https://websub.example/a b"]', "must be an absolute http(s) URL"),
        ('["https://hüb.example/"]', "must be ASCII: write the host in punycode"),
        ('["https://websub.example:port/"]', "must be an absolute http(s) URL"),
        ('["https://me:secret@websub.example/"]', "must not have a user name, password"),
        ('["https://websub.example/#x"]', "must not have a user name, password or fragment"),
        ('["https://a.example/", "https://a.example/"]', "is listed twice"),
    ],
)
def test_a_bad_hubs_setting_is_one_line_naming_it(site, value, says):
    text = site.config.read_text(encoding="utf-8")
    site.config.write_text(text + f"hubs = {value}\n", encoding="utf-8")
    line = len(text.splitlines()) + 1
    result = site.run("publish", "--now", "2026-01-01T00:00:00Z")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"{site.config}:{line}: "), result.output
    assert says in result.output
    assert len(result.output.splitlines()) == 1
    assert not site.public.exists()
