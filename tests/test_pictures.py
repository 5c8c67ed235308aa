"""An article's picture: front-matter ``image`` or its first ``<img>``, in every feed and on its page.

Atom and RSS carry it as Media RSS (``media:content`` and ``media:thumbnail``), JSON Feed as
the item's ``image``, the page as ``og:image``; always an absolute URL, and a picture named
in front matter is published beside the article.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import feedparser
import pytest

BASE = "https://notes.example.org/"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"  # enough of a PNG to tell the copy is this file
MEDIA = "http://search.yahoo.com/mrss/"


def picture(site, article: Path, name: str, data: bytes = PNG) -> Path:
    """A picture file in the article's own folder, where its published files live."""
    path = article.with_suffix("") / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def feed_pictures(site, prefix: str = "") -> dict[str, dict[str, object]]:
    """Each entry's picture as every format states it, keyed by the entry's link."""
    found: dict[str, dict[str, object]] = {}
    for name in ("atom.xml", "rss.xml"):
        parsed = feedparser.parse((site.public / prefix / name).read_bytes())
        assert not parsed.bozo, parsed.bozo_exception
        for entry in parsed.entries:
            found.setdefault(entry.link, {})[name] = (
                [t["url"] for t in entry.get("media_thumbnail", [])],
                [
                    (c["url"], c.get("medium"), c.get("type"))
                    for c in entry.get("media_content", [])
                ],
            )
    document = json.loads((site.public / prefix / "feed.json").read_text(encoding="utf-8"))
    for item in document["items"]:
        found.setdefault(item["url"], {})["feed.json"] = item.get("image")
    return found


def og_images(site, slug: str) -> list[str]:
    page = (site.public / slug / "index.html").read_text(encoding="utf-8")
    return re.findall(r'<meta property="og:image" content="([^"]*)">', page)


def assert_picture(site, slug: str, url: str, media_type: str | None, prefix: str = "") -> None:
    stated = feed_pictures(site, prefix)[f"{BASE}{slug}/"]
    for name in ("atom.xml", "rss.xml"):
        assert stated[name] == ([url], [(url, "image", media_type)]), name
    assert stated["feed.json"] == url
    assert og_images(site, slug) == [url]


def test_a_front_matter_image_is_in_every_format_and_published_beside_the_article(site):
    article = site.article(
        "2025-03-01-japan.md",
        """
        ---
        title: EU and Japan sign a partnership
        date: 2025-03-01
        tags: [asia]
        image: maps/signing map.png
        ---
        The EU and Japan signed a partnership today.

        ![An inline picture that the front matter overrides](inline.jpg)
        """,
    )
    picture(site, article, "maps/signing map.png")
    site.publish()

    url = f"{BASE}japan/maps/signing%20map.png"
    assert_picture(site, "japan", url, "image/png")
    assert_picture(site, "japan", url, "image/png", prefix="tags/asia")
    assert (site.public / "japan" / "maps" / "signing map.png").read_bytes() == PNG


def test_without_front_matter_the_first_inline_picture_is_the_articles(site):
    site.article(
        "2025-02-10-talks.md",
        """
        +++
        title = "Accession talks"
        date = 2025-02-10
        +++
        Talks opened.

        <img src="data:image/png;base64,iVBORw0KGgo=" alt="dropped by the sanitiser">

        ![The table](img/table.webp)

        ![A later picture](https://cdn.example.net/later.jpg)
        """,
    )
    site.publish()

    assert_picture(site, "talks", f"{BASE}talks/img/table.webp", "image/webp")


def test_an_image_url_in_front_matter_is_used_as_given(site):
    site.article(
        "2025-01-05-cdn.md",
        """
        ---
        title: A picture elsewhere
        date: 2025-01-05
        image: https://cdn.example.net/photos/4711?size=large
        ---
        Body.
        """,
    )
    site.publish()

    # no extension: the type is not guessed
    assert_picture(site, "cdn", "https://cdn.example.net/photos/4711?size=large", None)


def test_an_article_without_a_picture_has_none_of_the_picture_elements(site):
    site.article("2025-01-01-plain.md", "---\ntitle: Plain\ndate: 2025-01-01\n---\nText only.\n")
    site.publish()

    for name in ("atom.xml", "rss.xml"):
        data = (site.public / name).read_bytes()
        assert MEDIA.encode() not in data and b"media:" not in data, name
    document = json.loads((site.public / "feed.json").read_text(encoding="utf-8"))
    assert "image" not in document["items"][0]
    assert og_images(site, "plain") == []
    assert "og:image" not in (site.public / "index.html").read_text(encoding="utf-8")


def test_only_articles_with_a_picture_get_one(site):
    with_picture = site.article(
        "2025-01-02-with.md", "---\ntitle: With\ndate: 2025-01-02\nimage: a.gif\n---\nBody.\n"
    )
    picture(site, with_picture, "a.gif", b"GIF89a")
    site.article("2025-01-01-without.md", "---\ntitle: Without\ndate: 2025-01-01\n---\nBody.\n")
    site.publish()

    stated = feed_pictures(site)
    assert stated[f"{BASE}without/"] == {
        "atom.xml": ([], []),
        "rss.xml": ([], []),
        "feed.json": None,
    }
    assert stated[f"{BASE}with/"]["feed.json"] == f"{BASE}with/a.gif"
    assert og_images(site, "without") == []


def assert_one_error_line(site, result, where: str, message: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(where), lines[0]
    assert message in lines[0], lines[0]
    assert not site.public.exists(), "nothing may be written"


def test_a_missing_image_file_is_one_error_line_naming_the_article_and_line(site):
    article = site.article(
        "2025-01-01-lost.md", "---\ntitle: Lost\ndate: 2025-01-01\nimage: map.png\n---\nBody.\n"
    )
    picture(site, article, "other.png")  # the folder exists, the named file does not
    result = site.run("publish", "--now", "2026-01-01T00:00:00Z")

    assert_one_error_line(
        site,
        result,
        f"{article}:4:",
        f"image 'map.png' not found; put the picture at {article.with_suffix('') / 'map.png'}",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://example.org/a.png", "is not an http(s) URL"),
        ('"javascript:alert(1)"', "is not an http(s) URL"),
        ("https:///no-host.png", "is not an http(s) URL"),
        ("../elsewhere/a.png", "must name a file in the article's folder"),
        ("/static/a.png", "must name a file in the article's folder"),
        ("_private.png", "is a hidden name"),
        ("notes.pdf", "is not a picture file"),
        ("[a.png]", "is not text; put it in quotes"),
    ],
)
def test_an_image_that_cannot_be_published_is_refused(site, value, message):
    article = site.article(
        "2025-01-01-bad.md", f"---\ntitle: Bad\ndate: 2025-01-01\nimage: {value}\n---\nBody.\n"
    )
    result = site.run("publish", "--now", "2026-01-01T00:00:00Z")

    assert_one_error_line(site, result, f"{article}:4:", message)


def test_a_failed_publish_leaves_the_previous_output_alone(site):
    article = site.article(
        "2025-01-01-a.md", "---\ntitle: A\ndate: 2025-01-01\nimage: a.png\n---\nBody.\n"
    )
    picture(site, article, "a.png")
    site.publish()
    before = site.snapshot()
    (article.with_suffix("") / "a.png").unlink()

    result = site.run("publish", "--now", "2026-01-01T00:00:00Z")

    assert result.exit_code == 2, result.output
    assert "image 'a.png' not found" in result.output
    assert site.snapshot() == before


def warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning: ")]


@pytest.mark.parametrize(
    ("where", "data", "says"),
    [
        ("asset", b"Map of the Caspian, to be drawn\n", "is not a PNG picture (it is text)"),
        ("asset", b"\xff\xd8\xff\xe0\x00\x10JFIF", "is a JPEG picture, not PNG; rename it map.jpg"),
        ("static", b"<html><body>not found</body></html>\n", "is not a PNG picture (it is text)"),
    ],
)
def test_a_first_inline_picture_of_the_site_that_is_not_what_its_name_says_is_not_announced(
    site, where, data, says
):
    # the article's own file (published beside its page), or a static file at the site's root
    src, published = ("map.png", "bad/map.png") if where == "asset" else ("/map.png", "map.png")
    bad = site.article(
        "2025-01-02-bad.md",
        f"""
        ---
        title: A picture that is not one
        date: 2025-01-02
        ---
        ![The map]({src})

        ![A later picture, never promoted](https://cdn.example.net/later.jpg)
        """,
    )
    path = (bad.with_suffix("") if where == "asset" else site.root / "static") / "map.png"
    path.parent.mkdir()
    path.write_bytes(data)
    good = site.article(
        "2025-01-01-good.md",
        "---\ntitle: A real picture\ndate: 2025-01-01\n---\n![Chart](chart.png)\n",
    )
    picture(site, good, "chart.png")

    result = site.run("publish", "--now", "2026-01-01T00:00:00Z")

    assert result.exit_code == 0, result.output
    said = warnings(result)
    assert len(said) == 1, result.stderr
    assert said[0].startswith(f"warning: {path} {says}"), said[0]
    assert str(bad) in said[0], said[0]
    assert feed_pictures(site)[f"{BASE}bad/"] == {
        "atom.xml": ([], []),
        "rss.xml": ([], []),
        "feed.json": None,
    }
    assert og_images(site, "bad") == []
    # the file and the text linking it are published as they are: only the announcement goes
    assert (site.public / published).read_bytes() == data
    page = (site.public / "bad" / "index.html").read_text(encoding="utf-8")
    assert f'src="{BASE}{published}"' in page
    assert_picture(site, "good", f"{BASE}good/chart.png", "image/png")
