"""The feeds of ``bench/aggregate.py --scale``: a population of real-size feeds, on disk.

Real feed collections are not a few dozen kilobytes each: most feeds are small (ten to
fifty items, tens of kB), some carry full articles (hundreds of kB) and a few are
multi-megabyte (hundreds of full-content items, or thousands of short ones). Issue 21
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

Large and huge feeds mostly carry full articles (``content:encoded`` or Atom ``content``,
with an excerpt as the description, as WordPress writes them), else thousands of short items
(below communique's 5,000-item cap). Generated items are realistic in what a parser and a
store see: titles and text drawn from the words of real reporting (the 701 entries of
``../shared/fixtures/news-2023-11-08``, by their frequency: a real vocabulary, not a
handful of words repeated), HTML with paragraphs, links, emphasis, headings, lists, quotes,
figures with ``srcset``, the odd embedded tweet with its script (which the sanitiser must
remove), links with and without tracking parameters, guids of every kind, categories,
authors, dates going back as far as the feed is long; a quarter are Atom.

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


def _paragraph(rng: random.Random, size: int, site: str) -> str:
    """One ``<p>`` of about ``size`` characters, with the odd link and emphasis."""
    parts, written = [], 0
    while written < size:
        sentence = html.escape(_sentence(rng, rng.randint(8, 28)), quote=False)
        roll = rng.random()
        if roll < 0.12:
            words = sentence.split(" ")
            cut = rng.randrange(len(words))
            words[cut] = (
                f'<a href="{site}/{rng.choice(SECTIONS)}/{rng.randrange(10**6)}">{words[cut]}</a>'
            )
            sentence = " ".join(words)
        elif roll < 0.18:
            sentence = f"<strong>{sentence}</strong>"
        elif roll < 0.22:
            sentence = f"<em>{sentence}</em>"
        parts.append(sentence)
        written += len(sentence) + 1
    return "<p>" + " ".join(parts) + "</p>"


def _article(rng: random.Random, size: int, site: str, slug: str) -> str:
    """A full article in HTML of about ``size`` characters, as a CMS writes it."""
    blocks, written = [], 0
    while written < size:
        roll = rng.random()
        if roll < 0.07 and written:
            block = f"<h2>{html.escape(_sentence(rng, rng.randint(3, 8)).rstrip('.'))}</h2>"
        elif roll < 0.12:
            items = "".join(
                f"<li>{html.escape(_sentence(rng, rng.randint(5, 14)))}</li>"
                for _ in range(rng.randint(3, 6))
            )
            block = f"<ul>{items}</ul>"
        elif roll < 0.15:
            block = f"<blockquote><p>{html.escape(_sentence(rng, 20))}</p></blockquote>"
        elif roll < 0.19:
            image = f"{site}/wp-content/uploads/2025/04/{slug}-{rng.randrange(100)}"
            block = (
                f'<figure class="wp-block-image size-large"><img loading="lazy" width="1024" '
                f'height="576" src="{image}-1024x576.jpg" alt="" srcset="{image}-1024x576.jpg '
                f'1024w, {image}-300x169.jpg 300w, {image}-768x432.jpg 768w" '
                f'sizes="(max-width: 1024px) 100vw, 1024px" /><figcaption>'
                f"{html.escape(_sentence(rng, 9))}</figcaption></figure>"
            )
        elif roll < 0.2:
            block = (
                '<blockquote class="twitter-tweet"><p lang="en" dir="ltr">'
                f"{html.escape(_sentence(rng, 18))}</p>&mdash; {rng.choice(AUTHORS)} "
                f'<a href="https://twitter.com/x/status/{rng.randrange(10**18)}">'
                "April 20, 2025</a></blockquote>"
                '<script async src="https://platform.twitter.com/widgets.js" '
                'charset="utf-8"></script>'
            )
        else:
            block = _paragraph(rng, rng.randint(300, 1100), site)
        blocks.append(block)
        written += len(block) + 1
    return "\n".join(blocks)


# --- feeds ----------------------------------------------------------------------------------


def _layout(rng: random.Random, kind: str, target: int) -> tuple[bool, int]:
    """(full articles?, number of items) for a feed of about ``target`` bytes."""
    if kind == "small":  # 10-50 items, fewer when they would not fit in the target size
        full = rng.random() < 0.4
        count = rng.randint(10, 30 if full else 50)
        return full, min(count, max(3, target // (2_000 if full else 900)))
    full = rng.random() < (0.8 if kind == "large" else 0.85)
    if full:
        return True, rng.randint(15, 100) if kind == "large" else rng.randint(50, 400)
    return False, min(target // rng.randint(900, 2200), 4_000)


def _item(
    rng: random.Random, index: int, number: int, moment: datetime, site: str, full: bool, size: int
) -> dict:
    """One item dated ``moment`` whose texts take about ``size`` characters."""
    title = _sentence(rng, rng.randint(5, 14)).rstrip(".")
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower())[:60].strip("-") or str(number)
    link = f"{site}/{rng.choice(SECTIONS)}/{moment:%Y/%m}/{slug}-{number}"
    if rng.random() < 0.3:
        link += "?utm_source=rss&utm_medium=rss&utm_campaign=" + slug[:20]
    roll = rng.random()  # the guid: WordPress's ?p=, the link, none, or a UUID
    if roll < 0.45:
        guid: str | None = f"{site}/?p={index * 100_000 + number}"
    elif roll < 0.85:
        guid = link
    else:
        guid = None if roll < 0.95 else f"urn:uuid:{_uuid(index, number)}"
    if full:
        excerpt = html.escape(_text(rng, rng.randint(200, 450)), quote=False)
        summary = f"<p>{excerpt} [&#8230;]</p>" if rng.random() < 0.7 else excerpt
        content = _article(rng, max(size - len(summary), 200), site, slug)
    else:
        summary = "\n".join(
            _paragraph(rng, max(size // 2, 120), site) for _ in range(1 + (size > 900))
        )
        content = None
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
    }


def _uuid(index: int, number: int) -> str:
    digest = hashlib.md5(f"{SEED}/{index}/{number}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def generated_feed(item: Recipe) -> bytes:
    """The feed of a generated ``item`` recipe: RSS 2.0 or Atom, about its target size."""
    rng = random.Random(SEED * 31 + item.index)
    atom = rng.random() < 0.25
    full, count = _layout(rng, item.kind, item.target)
    size = max(item.target // max(count, 1) - OVERHEAD, 150)
    site = f"https://www.source{item.index}.example.eu"
    title = f"Source {item.index}: " + _sentence(rng, rng.randint(2, 6)).rstrip(".")
    moment = NOW - timedelta(minutes=rng.randint(10, 3000))
    spacing = max(60, int(60 * 24 * 30 / count))  # minutes: about a month of items, or more
    entries = []
    for number in range(count):
        entries.append(_item(rng, item.index, number, moment, site, full, size))
        moment -= timedelta(minutes=rng.randint(spacing // 4, spacing * 2))
    return _atom(title, site, item.index, entries) if atom else _rss(title, site, entries)


def _rss(title: str, site: str, entries: list[dict]) -> bytes:
    esc = html.escape
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">',
        f"<channel><title>{esc(title)}</title><link>{site}/</link>"
        f'<atom:link href="{site}/feed/" rel="self" type="application/rss+xml"/>'
        "<description>News, analysis and statements</description><language>en</language>"
        f"<lastBuildDate>{format_datetime(entries[0]['date'], usegmt=True)}</lastBuildDate>",
    ]
    for entry in entries:
        parts.append(f"<item><title>{esc(entry['title'])}</title>")
        parts.append(f"<link>{esc(entry['link'])}</link>")
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
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


def _atom(title: str, site: str, index: int, entries: list[dict]) -> bytes:
    esc = html.escape
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">',
        f"<title>{esc(title)}</title><id>tag:source{index}.example.eu,2025:feed</id>",
        f'<link rel="alternate" href="{site}/"/><link rel="self" href="{site}/atom.xml"/>',
        f"<updated>{entries[0]['date'].isoformat()}</updated>",
    ]
    for entry in entries:
        identifier = entry["guid"] or f"tag:source{index}.example.eu,2025:{entry['number']}"
        parts.append(f"<entry><title>{esc(entry['title'])}</title><id>{esc(identifier)}</id>")
        parts.append(f'<link rel="alternate" href="{esc(entry["link"])}"/>')
        parts.append(f"<published>{entry['date'].isoformat()}</published>")
        parts.append(f"<updated>{entry['date'].isoformat()}</updated>")
        if entry["author"]:
            parts.append(f"<author><name>{esc(entry['author'])}</name></author>")
        parts.extend(f'<category term="{esc(c)}"/>' for c in entry["categories"])
        parts.append(f'<summary type="html">{esc(entry["summary"])}</summary>')
        if entry["content"]:
            parts.append(f'<content type="html">{esc(entry["content"])}</content>')
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
