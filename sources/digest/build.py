"""A period's stories -> :class:`Digest` -> Markdown, HTML, JSON and the digest feed. Pure.

The digest is what an analyst reads instead of thirty tabs: what mattered in EU foreign
policy in a period, by topic (in the taxonomy's stable order) and by story (each told once,
with every source that told it). Nothing here reads a clock: the same items and period give
the same bytes.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from feeds.config import Person, Site
from feeds.dates import MONTH_NAMES, human_date, rfc3339
from feeds.text import cut_at_word, escape_markdown
from feeds.writer import Entry, Feed, atom_bytes
from sources.follow.item_keys import normalise_link
from sources.judge.relevance import Taxonomy
from sources.judge.stories import Story, group_stories, rank
from sources.types import StoredItem

EXCERPT_CHARS = 300
TITLE_CHARS = 200  # a feed's or an item's title, as every form of the digest shows it


@dataclass(frozen=True)
class DigestSource:
    """One item of a story, credited to the source that published it."""

    name: str  # the source's title (the source list's, else the feed's own)
    link: str | None
    title: str  # the item's own title: what its link says besides the source's name


@dataclass(frozen=True)
class DigestStory:
    """One story as the digest shows it."""

    title: str
    link: str | None
    when: str  # in the site timezone
    excerpt: str
    told_by: tuple[DigestSource, ...]  # every item of the story, the headline's first
    relevance: float

    @property
    def sources(self) -> tuple[tuple[str, str | None], ...]:
        """``(source name, item link)`` pairs: what the forms that name no item titles show
        (the mail, the digest feed)."""
        return tuple((source.name, source.link) for source in self.told_by)


@dataclass(frozen=True)
class Credit:
    """A story's source as a page shows it. ``link`` is None when the story already links
    that address (the headline's own item is linked by the headline): one link per address,
    so a keyboard or screen-reader user meets each article once. ``detail`` is what the
    link says after the source's name (the item's title, numbered if the same source told
    two items of one title), so no two links in a story read alike."""

    name: str
    link: str | None
    detail: str


@dataclass(frozen=True)
class DigestTopic:
    """One topic section."""

    id: str
    name: str
    stories: tuple[DigestStory, ...]


@dataclass(frozen=True)
class Digest:
    """Everything a digest file says."""

    title: str
    since: datetime
    until: datetime
    day: str  # the name files and feed entries use: see digest_name
    period: str  # human-readable, in the site timezone
    topics: tuple[DigestTopic, ...]
    items: int
    by_source: tuple[tuple[str, int], ...]

    @property
    def stories(self) -> int:
        """How many stories the digest tells."""
        return sum(len(t.stories) for t in self.topics)

    @property
    def days(self) -> str:
        """The days the digest covers, in words (:func:`days_in_words`)."""
        return days_in_words(self.day)

    @property
    def description(self) -> str:
        """What the page is, in a sentence (its meta description)."""
        if not self.items:
            return f"{self.title}, {self.days}: no items about EU foreign policy."
        return (
            f"{self.title}, {self.days}: {plural(self.stories, 'story', 'stories')} "
            f"from {plural(self.items, 'item', 'items')} in "
            f"{plural(len(self.topics), 'topic', 'topics')}."
        )


def build_digest(
    items: Sequence[StoredItem],
    *,
    since: datetime,
    until: datetime,
    taxonomy: Taxonomy,
    zone: ZoneInfo,
    title: str,
    is_official: Callable[[StoredItem], bool],
    background: Sequence[StoredItem] = (),
) -> Digest:
    """Group the period's relevant items into stories, rank them, and lay them out by topic.

    ``background``: relevant items around the period, for the story grouping's word weights.
    """
    stories = rank(group_stories(items, is_official=is_official, background=background))
    by_topic: dict[str, list[Story]] = {}
    for story in stories:
        by_topic.setdefault(story.topic, []).append(story)
    topics = tuple(
        DigestTopic(
            topic_id, taxonomy.name(topic_id), tuple(_story(s, zone) for s in by_topic[topic_id])
        )
        for topic_id in sorted(by_topic, key=taxonomy.order)
    )
    sources = Counter(item.source_title for item in items)
    by_source = ((shown_title(name), count) for name, count in sources.items())
    return Digest(
        title=title,
        since=since,
        until=until,
        day=digest_name(since, until, zone),
        period=_period(since, until, zone),
        topics=topics,
        items=len(items),
        by_source=tuple(sorted(by_source, key=lambda kv: (-kv[1], kv[0]))),
    )


def shown_title(title: str) -> str:
    """A title as the digest shows it: one line of at most :data:`TITLE_CHARS` characters,
    cut at a word with an ellipsis. A feed decides its titles, and a 3,000-character one
    would fill a screen of every form of the digest, and the mail."""
    return cut_at_word(" ".join(title.split()), TITLE_CHARS, sentences=False)


DAILY = timedelta(
    hours=26
)  # a day, with room for a late run: longer periods are named by both ends


def digest_name(since: datetime, until: datetime, zone: ZoneInfo) -> str:
    """What the files and the feed entry are called: the last day of the period, or for a
    longer period (a weekly digest) its first and last day, so it never replaces a daily one."""
    last = (until.astimezone(zone) - timedelta(microseconds=1)).date().isoformat()
    if until - since <= DAILY:
        return last
    return f"{since.astimezone(zone).date().isoformat()}--{last}"


def days_in_words(day: str) -> str:
    """A digest's name (:func:`digest_name`) in words, as a reader writes a period: "10 June
    2025"; "1-28 November 2026", "28 November - 3 December 2026" and "29 December 2026 - 4
    January 2027", each with an en dash (spaced between dates that have spaces). Readers and
    screen readers get words, not "2026-11-01--2026-11-28". Any other name is returned as is."""
    try:
        dates = [date.fromisoformat(part) for part in day.split("--")]
    except ValueError:
        return day
    first, last = dates[0], dates[-1]

    def month(moment: date) -> str:
        return MONTH_NAMES[moment.month - 1]

    if first == last:
        return f"{last.day} {month(last)} {last.year}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {month(last)} {last.year}"
    if first.year == last.year:
        return f"{first.day} {month(first)} – {last.day} {month(last)} {last.year}"
    return f"{first.day} {month(first)} {first.year} – {last.day} {month(last)} {last.year}"


def plural(count: int, one: str, many: str) -> str:
    """``1 story``, ``2 stories``."""
    return f"{count} {one if count == 1 else many}"


def _story(story: Story, zone: ZoneInfo) -> DigestStory:
    headline = story.headline
    local = headline.published_at.astimezone(zone)
    return DigestStory(
        title=shown_title(headline.title),
        link=_web_link(headline.link),
        when=f"{human_date(local, zone)}, {local:%H:%M}",
        excerpt=cut_at_word(" ".join(excerpt_text(headline).split()), EXCERPT_CHARS),
        told_by=tuple(
            DigestSource(
                shown_title(item.source_title), _web_link(item.link), shown_title(item.title)
            )
            for item in story.items
        ),
        relevance=story.relevance,
    )


def credits(story: DigestStory) -> tuple[Credit, ...]:
    """How a page credits the story's sources: each article linked once (the headline's
    first; addresses compared as :func:`normalise_link` does, so a copy of the headline's link
    with tracking parameters is the headline's), each link's words unlike the others' (see
    :class:`Credit`)."""
    linked = {normalise_link(story.link)} if story.link else set()
    told: Counter[tuple[str, str]] = Counter()
    result = []
    for source in story.told_by:
        address = normalise_link(source.link) if source.link else None
        if address is None or address in linked:  # no link, or the same article's
            result.append(Credit(source.name, None, ""))
            continue
        linked.add(address)
        told[source.name, source.title] += 1
        times = told[source.name, source.title]
        detail = f"{source.title} ({times})" if times > 1 else source.title
        result.append(Credit(source.name, source.link, detail.strip()))
    return tuple(result)


_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*$")
_CUT = re.compile(r"(\.\.\.|…|\[…\]|\[\.\.\.\])\s*$")
FRAGMENT_CHARS = 60  # a summary shorter than this says too little to stand as the excerpt


def excerpt_text(item: StoredItem) -> str:
    """What a story's excerpt is cut from: the feed's summary, unless it is empty or a
    fragment (cut off with an ellipsis, no sentence end, a few words) and the article page
    was read; then the page's text. Without a page, the summary or the feed's text."""
    summary = " ".join(item.summary.split())
    fragment = (
        not summary
        or len(summary) < FRAGMENT_CHARS
        or bool(_CUT.search(summary))
        or not _SENTENCE_END.search(summary)
    )
    if item.page_text and fragment:
        return item.page_text
    return item.summary or item.text


def _web_link(link: str | None) -> str | None:
    """Only http(s) links reach a digest (the parser stores no other kind; this is a second guard)."""
    return link if link and urlsplit(link).scheme in {"http", "https"} else None


def _period(since: datetime, until: datetime, zone: ZoneInfo) -> str:
    start, end = since.astimezone(zone), until.astimezone(zone)
    return f"{human_date(start, zone)} {start:%H:%M} – {human_date(end, zone)} {end:%H:%M} ({zone.key})"


# --- renderers --------------------------------------------------------------------------------


def to_markdown(digest: Digest) -> str:
    """Clean CommonMark: every title and excerpt escaped, links in angle brackets; each
    story's sources credited as on the page (:func:`credits`)."""
    lines = [f"# {escape_markdown(digest.title)}", "", f"*{escape_markdown(digest.period)}*", ""]
    if not digest.items:
        lines += ["No items about EU foreign policy in this period.", ""]
        return "\n".join(lines)
    lines += [
        f"{plural(digest.stories, 'story', 'stories')} from {plural(digest.items, 'item', 'items')}.",
        "",
    ]
    lines += ["## At a glance", "", "Stories per topic:", ""]
    for topic in digest.topics:
        lines.append(
            f"- {escape_markdown(topic.name)}: {plural(len(topic.stories), 'story', 'stories')}"
        )
    lines.append("")
    lines.append(
        "Sources: "
        + ", ".join(f"{escape_markdown(name)} ({count})" for name, count in digest.by_source)
    )
    lines.append("")
    for topic in digest.topics:
        lines += [f"## {escape_markdown(topic.name)}", ""]
        for story in topic.stories:
            title = escape_markdown(story.title)
            heading = f"[{title}](<{_md_url(story.link)}>)" if story.link else title
            lines += [f"### {heading}", "", f"*{escape_markdown(story.when)}*", ""]
            if story.excerpt:
                lines += [escape_markdown(story.excerpt), ""]
            for credit in credits(story):  # "- [Source: item title](<link>)"
                words = escape_markdown(
                    f"{credit.name}: {credit.detail}" if credit.detail else credit.name
                )
                lines.append(
                    f"- [{words}](<{_md_url(credit.link)}>)" if credit.link else f"- {words}"
                )
            lines.append("")
    return "\n".join(lines)


def _md_url(url: str) -> str:
    """A URL safe inside CommonMark's ``<...>`` link destination (no spaces, angle brackets)."""
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("sources.digest", "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )


def to_html(digest: Digest, language: str = "en") -> str:
    """One standalone page: embedded stylesheet, no scripts, all text escaped.

    The chart is a table (topic, story count) whose bars are decorative CSS: the names and
    counts are text, for screen readers, search and copying, where an SVG was one image.
    """
    longest = max((len(t.stories) for t in digest.topics), default=1) or 1
    bars = [
        {
            "name": t.name,
            "count": len(t.stories),
            "percent": round(100 * len(t.stories) / longest, 1),
        }
        for t in digest.topics
    ]
    return (
        _environment()
        .get_template("digest.html")
        .render(digest=digest, bars=bars, credits=credits, language=language)
    )


def to_json(digest: Digest) -> str:
    """The digest as data, for other tools (and for rebuilding the digest feed)."""
    document = {
        "title": digest.title,
        "day": digest.day,
        "since": rfc3339(digest.since),
        "until": rfc3339(digest.until),
        "items": digest.items,
        "stories": digest.stories,
        "by_source": [{"source": name, "items": count} for name, count in digest.by_source],
        "topics": [
            {
                "id": topic.id,
                "name": topic.name,
                "stories": [
                    {
                        "title": story.title,
                        "link": story.link,
                        "when": story.when,
                        "excerpt": story.excerpt,
                        "relevance": story.relevance,
                        "sources": [
                            {"source": s.name, "link": s.link, "title": s.title}
                            for s in story.told_by
                        ],
                    }
                    for story in topic.stories
                ],
            }
            for topic in digest.topics
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def from_json(text: str, zone: ZoneInfo) -> Digest:
    """A digest read back from its JSON record (``mail --digest DAY`` mails the digest that
    was written, not one built again from a database that has changed since). ValueError
    when it is not such a record."""
    data = json.loads(text)
    try:
        since = datetime.fromisoformat(data["since"])
        until = datetime.fromisoformat(data["until"])
        topics = tuple(
            DigestTopic(
                str(topic["id"]),
                str(topic["name"]),
                tuple(
                    DigestStory(
                        title=str(story["title"]),
                        link=_web_link(story.get("link")),
                        when=str(story["when"]),
                        excerpt=str(story["excerpt"]),
                        told_by=tuple(
                            DigestSource(
                                str(s["source"]), _web_link(s.get("link")), str(s.get("title", ""))
                            )
                            for s in story["sources"]
                        ),
                        relevance=float(story["relevance"]),
                    )
                    for story in topic["stories"]
                ),
            )
            for topic in data["topics"]
        )
        return Digest(
            title=str(data["title"]),
            since=since,
            until=until,
            day=str(data["day"]),
            period=_period(since, until, zone),
            topics=topics,
            items=int(data["items"]),
            by_source=tuple((str(s["source"]), int(s["items"])) for s in data["by_source"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a digest record ({type(exc).__name__}: {exc})") from None


def digest_feed(digests: Sequence[dict[str, object]], site: Site, base_url: str) -> bytes:
    """``digest.atom``: one entry per digest (read back from their JSON), newest first.

    Built with the publishing package's writer, so it is exactly as valid as the site feeds.
    """
    entries = []
    for document in sorted(digests, key=lambda d: str(d["day"]), reverse=True):
        day = str(document["day"])
        until = datetime.fromisoformat(str(document["until"]))
        topics = document.get("topics") or []
        summary = (
            "; ".join(f"{t['name']}: {len(t['stories'])}" for t in topics)
            or "No items in this period."
        )  # type: ignore[index]
        content = _feed_content(topics)  # type: ignore[arg-type]
        entries.append(
            Entry(
                id=f"tag:{site.host},{day[-10:]}:digest-{day}",
                title=f"{document['title']}, {days_in_words(day)}",
                url=f"{base_url}digest-{day}.html",
                published=until,
                updated=until,
                authors=(Person(str(document["title"])),),
                content_html=content,
                summary_html=f"<p>{_escape(summary)}</p>",
                summary_text=summary,
            )
        )
    feed = Feed(
        id=f"tag:{site.host},2025:digest",
        title=f"{site.title}: digest",
        home_url=base_url,
        urls={"atom": f"{base_url}digest.atom", "rss": "", "json": ""},
        language=site.language,
        author=site.author,
        subtitle="What mattered in EU foreign policy, by topic and story",
        entries=tuple(entries),
    )
    return atom_bytes(feed)


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _feed_content(topics: list[dict[str, object]]) -> str:
    if not topics:
        return "<p>No items about EU foreign policy in this period.</p>"
    parts = []
    for topic in topics:
        parts.append(f"<h2>{_escape(str(topic['name']))}</h2><ul>")
        for story in topic["stories"]:  # type: ignore[union-attr]
            title = _escape(story["title"])
            link = story.get("link")
            headline = f'<a href="{_escape(link)}">{title}</a>' if link else title
            sources = ", ".join(_escape(s["source"]) for s in story["sources"])
            parts.append(
                f"<li>{headline} <small>({sources})</small><br>{_escape(story['excerpt'])}</li>"
            )
        parts.append("</ul>")
    return "".join(parts)
