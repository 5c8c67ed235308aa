"""The feeds of ``bench/aggregate.py --scale``: a population of real-size feeds, on disk.

Real feed collections are not a few dozen kilobytes each: most feeds are small (ten to
fifty items, tens of kB), some carry full articles (hundreds of kB) and a few are
multi-megabyte (hundreds of full articles, or a thousand or two long summaries). Issue 21
measured 2,000 real feeds at 450 MB of XML; a benchmark of memory, store size and parsing
cost at scale needs bodies of that size and spread, not a population of small ones.

Source ``i``'s feed depends on ``i`` alone (and on this file), so the first 200 sources of
the 10,000-source population are the 200-source population, and every run serves the same
bytes. Each block of 100 consecutive sources holds the same mix, shuffled within the block
(seeded), so every size has the same distribution, not just a similar one:

* 12 copies of the shared fixtures (``../shared/fixtures/feeds/*.xml``: real captures in
  RSS 0.9x/1.0/2.0, Atom and RDF, in UTF-8, UTF-16, ISO-8859-1, Windows-1251/1252 and KOI8-R,
  a malformed one; taken in turn, each under many names as issue 21's measurement did);
* 73 small feeds: log-normal sizes, median 30 kB, clamped to 3-150 kB; 10-50 items;
* 13 large feeds: log-uniform 150 kB-1.5 MB;
* 2 huge feeds: log-uniform 2-8 MB (below communique's 10 MiB cap on a body).

Each generated feed has a style of its own: RSS 2.0 (three in four) or Atom; full articles
(``content:encoded`` or Atom ``content``: 40% of small feeds, 80-85% of the others) whose
description is an excerpt, the first paragraphs, or the whole article again, else long
summaries only; bare HTML, a CMS's (classes, figures with ``srcset``, embedded videos and
tweets with their scripts, which the sanitiser must remove) or text pasted into one (inline
styles on every paragraph); media and comment elements or not. Titles and text are drawn
from the words of real reporting (the 701 entries of ``../shared/fixtures/news-2023-11-08``,
by their frequency: a real vocabulary, not a handful of words repeated); links with and
without tracking parameters, guids of every kind, categories, authors, dates going back as
far as the feed is long.

The mix is calibrated against issue 21's measurement of 200 real feeds (45 MB of XML, 6,578
items; stored: content HTML 0.57 of the XML's bytes, text 0.38, summary HTML 0.31, summary
0.21): the first 200 sources here are 47 MB with 6,622 items, and communique stores 0.57,
0.42, 0.35 and 0.26 of their bytes in those columns.

The generated bodies are written once to a cache directory (``cache_dir``: one per version
of this file, in the temporary directory), so runs after the first start at once and the
server reads each body from disk when it sends it: 10,000 sources are about 2 GB of XML,
too much to hold in a server's memory. Writes are atomic (a temporary name, then a rename),
so a run that is interrupted, or two runs at once, leave no half-written feed.
"""

from __future__ import annotations

import hashlib
import html
import math
import os
import random
import re
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "feeds"
NEWS = ROOT.parent / "shared" / "fixtures" / "news-2023-11-08"
SEED = 20250421
BLOCK = 100
MIX = (("fixture", 12), ("small", 73), ("large", 13), ("huge", 2))  # per BLOCK sources
NOW = datetime(2025, 4, 21, 9, 0, tzinfo=UTC)
OVERHEAD = 520  # bytes of markup around one item's texts (title, link, guid, date, ...)
AUTHORS = ("Press office", "Spokesperson", "Editorial team", "Anna Kowalska", "Jean Martin")
SECTIONS = ("news", "press", "analysis", "commentary", "blog", "world", "europe", "policy")
CATEGORIES = (
    "Foreign affairs",
    "Enlargement",
    "Security and defence",
    "Sanctions",
    "Human rights",
    "Trade",
    "Energy",
    "Middle East",
    "Africa",
    "Asia",
    "Ukraine",
    "Elections",
    "Climate",
    "Economy",
    "Migration",
)


@dataclass(frozen=True)
class Recipe:
    """What source ``index`` serves: a fixture (``fixture`` names it) or a generated feed of
    about ``target`` bytes."""

    index: int
    kind: str  # fixture, small, large, huge
    target: int = 0
    fixture: str = ""


def fixtures() -> list[Path]:
    """The shared fixture feeds, in name order."""
    found = sorted(FIXTURES.glob("*.xml"))
    if not found:
        raise SystemExit(f"{FIXTURES}: no fixture feeds (the shared fixtures are missing)")
    return found


def recipe(index: int) -> Recipe:
    """Source ``index``'s feed: its kind from its block's shuffled mix, its size seeded."""
    block, slot = divmod(index, BLOCK)
    kinds = [kind for kind, count in MIX for _ in range(count)]
    random.Random(SEED * 7919 + block).shuffle(kinds)
    kind = kinds[slot]
    if kind == "fixture":
        names = fixtures()
        ordinal = block * dict(MIX)["fixture"] + kinds[:slot].count("fixture")
        return Recipe(index, kind, fixture=names[ordinal % len(names)].name)
    rng = random.Random(SEED + index)
    if kind == "small":
        target = min(max(rng.lognormvariate(math.log(30_000), 0.85), 3_000), 150_000)
    elif kind == "large":
        target = math.exp(rng.uniform(math.log(150_000), math.log(1_500_000)))
    else:
        target = math.exp(rng.uniform(math.log(2_000_000), math.log(8_000_000)))
    return Recipe(index, kind, target=int(target))


# --- text -----------------------------------------------------------------------------------


@cache
def _words() -> tuple[str, ...]:
    """Every word of the real reporting in ``NEWS``, as often as it occurs there (drawing
    from this tuple draws words by their real frequency)."""
    words: list[str] = []
    for path in sorted(NEWS.glob("*.xml")):
        for item in ET.parse(path).getroot().iter("item"):
            for tag in ("title", "description"):
                text = re.sub(r"<[^>]+>", " ", item.findtext(tag) or "")
                words.extend(word.rstrip(".?!:;") for word in text.split())
    words = [word for word in words if word and "]]>" not in word]
    if not words:
        raise SystemExit(f"{NEWS}: no entries to draw words from")
    return tuple(words)


def _sentence(rng: random.Random, length: int) -> str:
    text = " ".join(rng.choices(_words(), k=length))
    return text[:1].upper() + text[1:] + "."


def _text(rng: random.Random, size: int) -> str:
    """Sentences of plain text, about ``size`` characters."""
    sentences, written = [], 0
    while written < size:
        sentence = _sentence(rng, rng.randint(8, 28))
        sentences.append(sentence)
        written += len(sentence) + 1
    return " ".join(sentences)


@dataclass(frozen=True)
class Style:
    """How one generated feed writes its items (drawn once per feed): real feeds differ
    less in their words than in how much markup and repetition surround them."""

    site: str
    atom: bool
    full: bool  # full articles (content:encoded, Atom content), else summaries only
    markup: str  # plain (bare tags), cms (classes, figures, embeds), pasted (inline styles)
    description: str  # with full articles: excerpt, lede (first paragraphs) or full (again)
    media: bool  # media:content and media:thumbnail on each item
    comments: bool  # comments, wfw:commentRss and slash:comments on each item


PASTED_P = '<p dir="ltr" style="line-height:1.38;margin-top:0pt;margin-bottom:0pt;">'
PASTED_SPAN = (
    '<span style="font-size:11pt;font-family:Arial,sans-serif;color:#000000;'
    "background-color:transparent;font-weight:400;font-style:normal;font-variant:normal;"
    'text-decoration:none;vertical-align:baseline;white-space:pre-wrap;">'
)


def _url(rng: random.Random, style: Style) -> str:
    words = "-".join(rng.choices(_words(), k=rng.randint(3, 8))).lower()
    url = f"{style.site}/{rng.choice(SECTIONS)}/{rng.randrange(10**6)}-{re.sub(r'[^a-z0-9-]', '', words)}"
    return url + ("?utm_source=feed&amp;utm_medium=rss" if rng.random() < 0.25 else "")


def _inline(rng: random.Random, size: int, style: Style) -> str:
    """Sentences with links and emphasis, about ``size`` characters of HTML."""
    parts, written = [], 0
    target = ' target="_blank" rel="noreferrer noopener"' if style.markup != "plain" else ""
    while written < size:
        sentence = html.escape(_sentence(rng, rng.randint(8, 28)), quote=False)
        roll = rng.random()
        if roll < 0.25:
            words = sentence.split(" ")
            cut = rng.randrange(len(words))
            span = rng.randint(1, 4)
            linked = " ".join(words[cut : cut + span])
            words[cut : cut + span] = [f'<a href="{_url(rng, style)}"{target}>{linked}</a>']
            sentence = " ".join(words)
        elif roll < 0.31:
            sentence = f"<strong>{sentence}</strong>"
        elif roll < 0.35:
            sentence = f"<em>{sentence}</em>"
        parts.append(sentence)
        written += len(sentence) + 1
    return " ".join(parts)


def _paragraph(rng: random.Random, size: int, style: Style) -> str:
    """One paragraph of about ``size`` characters of HTML, marked up as ``style`` does."""
    if style.markup == "pasted":
        spans = [
            PASTED_SPAN + _inline(rng, size // 2, style) + "</span>"
            for _ in range(rng.randint(1, 2))
        ]
        return PASTED_P + "".join(spans) + "</p>"
    return "<p>" + _inline(rng, size, style) + "</p>"


def _figure(rng: random.Random, style: Style, slug: str) -> str:
    image = f"{style.site}/wp-content/uploads/2025/04/{slug[:40]}-{rng.randrange(1000)}"
    caption = html.escape(_sentence(rng, rng.randint(6, 16)), quote=False)
    if style.markup == "plain":
        return f'<p><img src="{image}.jpg" alt="" /></p><p><em>{caption}</em></p>'
    widths = (300, 768, 1024, 1536, 2048)
    srcset = ", ".join(f"{image}-{w}x{w * 9 // 16}.jpg?ssl=1 {w}w" for w in widths)
    return (
        f'<figure class="wp-block-image size-large"><img decoding="async" loading="lazy" '
        f'width="1024" height="576" src="{image}-1024x576.jpg?ssl=1" alt="" '
        f'class="wp-image-{rng.randrange(10**5)}" srcset="{srcset}" '
        f'sizes="(max-width: 1024px) 100vw, 1024px" /><figcaption class="wp-element-caption">'
        f"{caption}</figcaption></figure>"
    )


def _embed(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return (
            '<blockquote class="twitter-tweet"><p lang="en" dir="ltr">'
            f"{html.escape(_sentence(rng, 18), quote=False)}</p>&mdash; {rng.choice(AUTHORS)} "
            f'<a href="https://twitter.com/x/status/{rng.randrange(10**18)}">April 20, 2025</a>'
            '</blockquote><script async src="https://platform.twitter.com/widgets.js" '
            'charset="utf-8"></script>'
        )
    video = "".join(
        rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=11)
    )
    return (
        '<figure class="wp-block-embed is-type-video is-provider-youtube wp-block-embed-youtube '
        'wp-embed-aspect-16-9 wp-has-aspect-ratio"><div class="wp-block-embed__wrapper">'
        f'<iframe title="{html.escape(_sentence(rng, 6))}" width="500" height="281" '
        f'src="https://www.youtube.com/embed/{video}?feature=oembed" frameborder="0" '
        'allow="accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; '
        'picture-in-picture; web-share" referrerpolicy="strict-origin-when-cross-origin" '
        "allowfullscreen></iframe></div></figure>"
    )


def _article(rng: random.Random, size: int, style: Style, slug: str) -> list[str]:
    """A full article of about ``size`` characters of HTML, block by block, as a CMS (or a
    text pasted into one) writes it."""
    cms = style.markup != "plain"
    blocks, written = [], 0
    while written < size:
        roll = rng.random()
        if roll < 0.07 and written:
            heading = html.escape(_sentence(rng, rng.randint(3, 8)).rstrip("."), quote=False)
            kind = ' class="wp-block-heading"' if cms else ""
            block = f"<h2{kind}>{heading}</h2>"
        elif roll < 0.12:
            items = "".join(
                f"<li>{_inline(rng, rng.randint(60, 200), style)}</li>"
                for _ in range(rng.randint(3, 6))
            )
            block = f'<ul class="wp-block-list">{items}</ul>' if cms else f"<ul>{items}</ul>"
        elif roll < 0.15:
            block = f"<blockquote>{_paragraph(rng, rng.randint(150, 400), style)}</blockquote>"
        elif roll < (0.22 if cms else 0.17):
            block = _figure(rng, style, slug)
        elif roll < (0.24 if cms else 0.175):
            block = _embed(rng)
        else:
            block = _paragraph(rng, rng.randint(250, 1000), style)
        blocks.append(block)
        written += len(block) + 1
    if cms and rng.random() < 0.5:
        blocks.append(
            f'<p>The post <a href="{style.site}/{slug}/">{slug.replace("-", " ")}</a> '
            f'appeared first on <a href="{style.site}">{style.site[12:]}</a>.</p>'
        )
    return blocks


# --- feeds ----------------------------------------------------------------------------------


def _style(rng: random.Random, index: int, kind: str) -> Style:
    """How generated feed ``index`` of ``kind`` writes its items."""
    full = rng.random() < {"small": 0.4, "large": 0.8, "huge": 0.85}[kind]
    markup = rng.choices(("plain", "cms", "pasted"), weights=(30, 50, 20))[0]
    description = rng.choices(("excerpt", "lede", "full"), weights=(50, 25, 25))[0]
    return Style(
        site=f"https://www.source{index}.example.eu",
        atom=rng.random() < 0.25,
        full=full,
        markup=markup,
        description=description if full else "",
        media=rng.random() < 0.5,
        comments=rng.random() < 0.35,
    )


def _count(rng: random.Random, kind: str, style: Style, target: int) -> int:
    """How many items a feed of about ``target`` bytes has."""
    if kind == "small":  # 10-50 items, fewer when they would not fit in the target size
        count = rng.randint(10, 30 if style.full else 50)
        return min(count, max(3, target // (2_500 if style.full else 1_100)))
    if style.full:
        return rng.randint(15, 80) if kind == "large" else rng.randint(50, 300)
    return min(target // rng.randint(2_500, 6_000), 2_000)  # long summaries, many of them


def _item(
    rng: random.Random, index: int, number: int, moment: datetime, style: Style, size: int
) -> dict:
    """One item dated ``moment`` whose texts take about ``size`` characters."""
    title = _sentence(rng, rng.randint(5, 14)).rstrip(".")
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower())[:60].strip("-") or str(number)
    link = f"{style.site}/{rng.choice(SECTIONS)}/{moment:%Y/%m}/{slug}-{number}"
    if rng.random() < 0.3:
        link += "?utm_source=rss&utm_medium=rss&utm_campaign=" + slug[:20]
    roll = rng.random()  # the guid: WordPress's ?p=, the link, none, or a UUID
    if roll < 0.45:
        guid: str | None = f"{style.site}/?p={index * 100_000 + number}"
    elif roll < 0.85:
        guid = link
    else:
        guid = None if roll < 0.95 else f"urn:uuid:{_uuid(index, number)}"
    content = None
    if not style.full:
        summary = "\n".join(
            _paragraph(rng, max(size // 2, 120), style) for _ in range(1 + (size > 900))
        )
    elif style.description == "full":  # the article twice: escaped, and in content
        blocks = _article(rng, max(int(size / 2.2), 300), style, slug)
        content = summary = "\n".join(blocks)
    elif style.description == "lede":  # the first paragraphs, then the whole article
        blocks = _article(rng, max(size * 4 // 5, 300), style, slug)
        content = "\n".join(blocks)
        summary = "\n".join(blocks[: rng.randint(1, 2)])
    else:  # an excerpt of the text, as WordPress writes it
        excerpt = html.escape(_text(rng, rng.randint(200, 450)), quote=False)
        summary = f"<p>{excerpt} [&#8230;]</p>" if rng.random() < 0.7 else excerpt
        content = "\n".join(_article(rng, max(size - len(summary), 200), style, slug))
    return {
        "number": number,
        "title": title,
        "link": link,
        "guid": guid,
        "date": moment,
        "summary": summary,
        "content": content,
        "categories": rng.sample(CATEGORIES, rng.randint(0, 4)),
        "author": rng.choice((*AUTHORS, "")),
        "image": f"{style.site}/wp-content/uploads/{moment:%Y/%m}/{slug[:40]}",
        "comments": rng.randrange(40),
    }


def _uuid(index: int, number: int) -> str:
    digest = hashlib.md5(f"{SEED}/{index}/{number}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def generated_feed(item: Recipe) -> bytes:
    """The feed of a generated ``item`` recipe: RSS 2.0 or Atom, about its target size."""
    rng = random.Random(SEED * 31 + item.index)
    style = _style(rng, item.index, item.kind)
    count = _count(rng, item.kind, style, item.target)
    extra = OVERHEAD + 450 * style.media + 250 * style.comments
    size = max(item.target // max(count, 1) - extra, 150)
    title = f"Source {item.index}: " + _sentence(rng, rng.randint(2, 6)).rstrip(".")
    moment = NOW - timedelta(minutes=rng.randint(10, 3000))
    spacing = max(60, int(60 * 24 * 30 / count))  # minutes: about a month of items, or more
    entries = []
    for number in range(count):
        entries.append(_item(rng, item.index, number, moment, style, size))
        moment -= timedelta(minutes=rng.randint(spacing // 4, spacing * 2))
    if style.atom:
        return _atom(title, style, item.index, entries)
    return _rss(title, style, entries)


NAMESPACES = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:media="http://search.yahoo.com/mrss/" xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
    'xmlns:slash="http://purl.org/rss/1.0/modules/slash/" '
    'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'
)


def _media(entry: dict) -> str:
    esc = html.escape
    return (
        f'<media:content url="{entry["image"]}-1024x576.jpg" medium="image" width="1024" '
        f'height="576"><media:title type="html">{esc(entry["title"])}</media:title>'
        f"</media:content>"
        f'<media:thumbnail url="{entry["image"]}-150x150.jpg" width="150" height="150"/>'
    )


def _rss(title: str, style: Style, entries: list[dict]) -> bytes:
    esc = html.escape
    site = style.site
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<rss version="2.0" {NAMESPACES}>',
        f"<channel><title>{esc(title)}</title><link>{site}/</link>"
        f'<atom:link href="{site}/feed/" rel="self" type="application/rss+xml"/>'
        "<description>News, analysis and statements</description><language>en</language>"
        f"<lastBuildDate>{format_datetime(entries[0]['date'], usegmt=True)}</lastBuildDate>"
        "<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>1</sy:updateFrequency>"
        "<generator>https://wordpress.org/?v=6.7.2</generator>",
    ]
    for entry in entries:
        parts.append(f"<item><title>{esc(entry['title'])}</title>")
        parts.append(f"<link>{esc(entry['link'])}</link>")
        if style.comments:
            parts.append(
                f"<comments>{esc(entry['link'])}#respond</comments>"
                f"<wfw:commentRss>{esc(entry['link'])}/feed/</wfw:commentRss>"
                f"<slash:comments>{entry['comments']}</slash:comments>"
            )
        if entry["guid"] == entry["link"]:
            parts.append(f"<guid>{esc(entry['guid'])}</guid>")
        elif entry["guid"]:
            parts.append(f'<guid isPermaLink="false">{esc(entry["guid"])}</guid>')
        parts.append(f"<pubDate>{format_datetime(entry['date'], usegmt=True)}</pubDate>")
        if entry["author"]:
            parts.append(f"<dc:creator><![CDATA[{entry['author']}]]></dc:creator>")
        parts.extend(f"<category><![CDATA[{c}]]></category>" for c in entry["categories"])
        parts.append(f"<description>{esc(entry['summary'])}</description>")
        if entry["content"]:
            parts.append(f"<content:encoded><![CDATA[{entry['content']}]]></content:encoded>")
        if style.media:
            parts.append(_media(entry))
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


def _atom(title: str, style: Style, index: int, entries: list[dict]) -> bytes:
    esc = html.escape
    site = style.site
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/" '
        'xml:lang="en">',
        f"<title>{esc(title)}</title><id>tag:source{index}.example.eu,2025:feed</id>",
        f'<link rel="alternate" href="{site}/"/><link rel="self" href="{site}/atom.xml"/>',
        f"<updated>{entries[0]['date'].isoformat()}</updated>",
    ]
    for entry in entries:
        identifier = entry["guid"] or f"tag:source{index}.example.eu,2025:{entry['number']}"
        parts.append(f"<entry><title>{esc(entry['title'])}</title><id>{esc(identifier)}</id>")
        parts.append(f'<link rel="alternate" href="{esc(entry["link"])}"/>')
        if style.comments:
            parts.append(
                f'<link rel="replies" type="text/html" href="{esc(entry["link"])}#comments" '
                f'thr:count="{entry["comments"]}" xmlns:thr="http://purl.org/syndication/thread/1.0"/>'
            )
        parts.append(f"<published>{entry['date'].isoformat()}</published>")
        parts.append(f"<updated>{entry['date'].isoformat()}</updated>")
        if entry["author"]:
            parts.append(f"<author><name>{esc(entry['author'])}</name></author>")
        parts.extend(f'<category term="{esc(c)}"/>' for c in entry["categories"])
        parts.append(f'<summary type="html">{esc(entry["summary"])}</summary>')
        if entry["content"]:
            parts.append(f'<content type="html">{esc(entry["content"])}</content>')
        if style.media:
            parts.append(_media(entry))
        parts.append("</entry>")
    parts.append("</feed>")
    return "\n".join(parts).encode("utf-8")


# --- the cache on disk ----------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """One source's body on disk, as the servers send it."""

    index: int
    kind: str
    path: Path
    size: int
    content_type: str
    etag: str


def version() -> str:
    """What the bodies depend on: this file and the fixtures' names and sizes."""
    digest = hashlib.sha1(Path(__file__).read_bytes())
    for path in fixtures():
        digest.update(f"{path.name}:{path.stat().st_size}\n".encode())
    for path in sorted(NEWS.glob("*.xml")):
        digest.update(f"{path.name}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:12]


def cache_dir() -> Path:
    """Where the generated bodies of this version are kept between runs."""
    return Path(tempfile.gettempdir()) / f"communique-bench-scale-{version()}"


def content_type(body_start: bytes) -> str:
    """What a server would say a generated body is (fixtures are sent as application/xml)."""
    if b"<feed" in body_start:
        return "application/atom+xml; charset=utf-8"
    return "application/rss+xml; charset=utf-8"


def population(count: int, directory: Path, progress: bool = False) -> list[Served]:
    """The first ``count`` sources' bodies, generating (once) those not yet in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = version()
    served = []
    made = 0
    for index in range(count):
        item = recipe(index)
        etag = f'"{stamp}-{index}"'
        if item.kind == "fixture":
            path = FIXTURES / item.fixture
            served.append(
                Served(index, item.kind, path, path.stat().st_size, "application/xml", etag)
            )
            continue
        path = directory / f"{index:05d}.xml"
        if not path.exists():
            body = generated_feed(item)
            partial = path.with_name(f".{path.name}.{os.getpid()}")
            partial.write_bytes(body)
            partial.replace(path)
            made += 1
            if progress and made % 500 == 0:
                print(f"  generated {made} feeds (up to source {index + 1})", flush=True)
        with path.open("rb") as file:
            start = file.read(400)
        served.append(
            Served(index, item.kind, path, path.stat().st_size, content_type(start), etag)
        )
    return served
