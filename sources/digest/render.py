"""A :class:`Digest` as Markdown, a standalone HTML page, its JSON record and the digest
feed. Pure.

Every form says the same thing in its reader's terms: titles and excerpts escaped for each
format, one link per article, the chart as text with decorative bars. The JSON record is also
read back here (:func:`from_json`), beside the one function that writes it, so its shape is
defined in one place. The same digest gives the same bytes.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from feeds.config import Person, Site
from feeds.dates import rfc3339
from feeds.templating import templates
from feeds.text import escape_markdown
from feeds.writer import Entry, Feed, atom_bytes
from sources.digest.build import (
    Digest,
    DigestSource,
    DigestStory,
    DigestStoryline,
    DigestTopic,
    StorylineFeed,
    days_in_words,
    period_in_words,
    plural,
    web_link,
)
from sources.follow.item_keys import normalise_link


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


@dataclass(frozen=True)
class Section:
    """What a topic shows in turn: one story, or a storyline's stories under its title."""

    storyline: DigestStoryline | None
    stories: tuple[DigestStory, ...]


def sections(topic: DigestTopic, digest: Digest) -> tuple[Section, ...]:
    """A topic's stories in their ranked order, each storyline's gathered where its best
    story stands (every form of the digest shows the same groups)."""
    shown = {line.id: line for line in digest.storylines}
    members: dict[str, list[DigestStory]] = {}
    for story in topic.stories:
        if story.storyline in shown:
            members.setdefault(story.storyline, []).append(story)
    result = []
    for story in topic.stories:
        line = shown.get(story.storyline)
        if line is None:
            result.append(Section(None, (story,)))
        elif members[line.id][0] is story:  # where its best story stands
            result.append(Section(line, tuple(members[line.id])))
    return tuple(result)


def _md_story(story: DigestStory, level: str) -> list[str]:
    title = escape_markdown(story.title)
    heading = f"[{title}](<{_md_url(story.link)}>)" if story.link else title
    when = escape_markdown(story.when)
    if story.continues:  # "· continuing: [4 new reports since 9 June 2025](<…>)"
        words = escape_markdown(story.continuation)
        if story.continues_page:
            words = f"[{words}](<{_md_url(earlier_page(story))}>)"
        when += f" · continuing: {words}"
    elif story.status:
        when += " · new"
    lines = [f"{level} {heading}", "", f"*{when}*", ""]
    if story.excerpt:
        lines += [escape_markdown(story.excerpt), ""]
    for credit in credits(story):  # "- [Source: item title](<link>)"
        words = escape_markdown(f"{credit.name}: {credit.detail}" if credit.detail else credit.name)
        lines.append(f"- [{words}](<{_md_url(credit.link)}>)" if credit.link else f"- {words}")
    lines.append("")
    return lines


def storyline_note(line: DigestStoryline) -> str:
    """What a storyline's group says under its title: how much of it came before."""
    if not line.earlier:
        return ""
    return f"{plural(line.earlier, 'earlier story', 'earlier stories')} in earlier digests"


def to_markdown(digest: Digest) -> str:
    """Clean CommonMark: every title and excerpt escaped, links in angle brackets; each
    story's sources credited as on the page (:func:`credits`)."""
    lines = [f"# {escape_markdown(digest.title)}", "", f"*{escape_markdown(digest.period)}*", ""]
    if not digest.items:
        lines += ["No items about EU foreign policy in this period.", ""]
        return "\n".join(lines)
    lines += [f"{digest.counts}.", ""]
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
        for section in sections(topic, digest):
            line = section.storyline
            if line is None:
                lines += _md_story(section.stories[0], "###")
                continue
            lines += [f"### Storyline: {escape_markdown(line.title)}", ""]
            note = storyline_note(line)
            follow = f"[Follow this storyline (Atom feed)](<{_md_url(line.feed)}>)"
            lines += [f"{follow}{' · ' + escape_markdown(note) if note else ''}", ""]
            for story in section.stories:
                lines += _md_story(story, "####")
    return "\n".join(lines)


def earlier_page(story: DigestStory, base_url: str = "") -> str:
    """Where a story that goes on was last shown: its place on that digest's page (relative
    to this digest's, which is in the same folder, unless ``base_url`` is given)."""
    return f"{base_url}digest-{story.continues}.html#{story.anchor}"


def _md_url(url: str) -> str:
    """A URL safe inside CommonMark's ``<...>`` link destination (no spaces, angle brackets)."""
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")


@dataclass(frozen=True)
class Bar:
    """One topic in the chart of stories per topic: its name, its count, and its bar's length
    in percent of the longest."""

    name: str
    count: int
    percent: float


def chart(digest: Digest, *, decimals: int | None = 1, least: float = 0) -> tuple[Bar, ...]:
    """The chart of stories per topic, for the page and the mail. ``decimals``: how the
    length is rounded (1 for a CSS width; None, a whole number, for the ``width`` attribute a
    mail client's table takes); ``least``: the shortest bar drawn (mail clients ignore CSS
    ``min-width``, so a topic of one story among many would get no bar at all)."""
    longest = max((len(t.stories) for t in digest.topics), default=1) or 1
    return tuple(
        Bar(t.name, len(t.stories), max(round(100 * len(t.stories) / longest, decimals), least))
        for t in digest.topics
    )


def to_html(digest: Digest, language: str = "en") -> str:
    """One standalone page: embedded stylesheet, no scripts, all text escaped.

    The chart is a table (topic, story count) whose bars are decorative CSS: the names and
    counts are text, for screen readers, search and copying, where an SVG was one image.
    """
    return (
        templates("sources.digest")
        .get_template("digest.html")
        .render(
            digest=digest,
            bars=chart(digest),
            credits=credits,
            earlier_page=earlier_page,
            sections=sections,
            storyline_note=storyline_note,
            language=language,
        )
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
        "storylines": [
            {"id": line.id, "title": line.title, "earlier": line.earlier, "feed": line.feed}
            for line in digest.storylines
        ],
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
                        "id": story.id,
                        "status": story.status,
                        "continues": story.continues or None,
                        "new_reports": story.new_reports,
                        "continues_page": story.continues_page,
                        "storyline": story.storyline or None,
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
                        link=web_link(story.get("link")),
                        when=str(story["when"]),
                        excerpt=str(story["excerpt"]),
                        told_by=tuple(
                            DigestSource(
                                str(s["source"]), web_link(s.get("link")), str(s.get("title", ""))
                            )
                            for s in story["sources"]
                        ),
                        relevance=float(story["relevance"]),
                        id=str(story.get("id") or ""),
                        continues=str(story.get("continues") or ""),
                        new_reports=(
                            int(story["new_reports"])
                            if story.get("new_reports") is not None
                            else None
                        ),
                        continues_page=bool(story.get("continues_page")),
                        storyline=str(story.get("storyline") or ""),
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
            period=period_in_words(since, until, zone),
            topics=topics,
            items=int(data["items"]),
            by_source=tuple((str(s["source"]), int(s["items"])) for s in data["by_source"]),
            storylines=tuple(
                DigestStoryline(str(line["id"]), str(line["title"]), int(line.get("earlier", 0)))
                for line in data.get("storylines", ())
            ),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a digest record ({type(exc).__name__}: {exc})") from None


def digest_feed(digests: Sequence[Digest], site: Site, base_url: str) -> bytes:
    """``digest.atom``: one entry per digest (read back from their JSON), newest first.

    Built with the publishing package's writer, so it is exactly as valid as the site feeds.
    """
    entries = []
    for digest in sorted(digests, key=lambda d: d.day, reverse=True):
        day = digest.day
        summary = (
            "; ".join(f"{t.name}: {len(t.stories)}" for t in digest.topics)
            or "No items in this period."
        )
        entries.append(
            Entry(
                id=f"tag:{site.host},{day[-10:]}:digest-{day}",
                title=f"{digest.title}, {days_in_words(day)}",
                url=f"{base_url}digest-{day}.html",
                published=digest.until,
                updated=digest.until,
                authors=(Person(digest.title),),
                content_html=_feed_content(digest.topics),
                summary_html=f"<p>{_escape(summary)}</p>",
                summary_text=summary,
            )
        )
    return _atom(
        site,
        base_url,
        "digest",
        "digest.atom",
        "digest",
        "What mattered in EU foreign policy, by topic and story",
        entries,
    )


def storyline_atom(line: StorylineFeed, site: Site, base_url: str, digest_title: str) -> bytes:
    """``storylines/<id>.atom``: one entry per story of the storyline, updated as the story
    grows, each linking to where a digest last showed it; ids made from the storyline's
    and the stories' own, so a reader sees a story that grows as the same entry."""
    entries = []
    for story in line.stories:
        sources = ", ".join(_escape(s.name) for s in story.told_by)
        items = "".join(
            f'<li><a href="{_escape(s.link)}">{_escape(s.name)}: {_escape(s.title)}</a></li>'
            if s.link
            else f"<li>{_escape(s.name)}: {_escape(s.title)}</li>"
            for s in story.told_by
        )
        summary = f"{plural(len(story.told_by), 'report', 'reports')} ({sources})"
        shown = f"{base_url}digest-{story.day}.html#story-{story.id}" if story.day else base_url
        entries.append(
            Entry(
                # ids from the story's own id alone: never from a date an item gives, which
                # would change when that item is pruned (a reader would see the story twice)
                id=f"tag:{site.host},2025:story-{story.id}",
                title=story.title,
                url=story.link or shown,
                published=story.first,
                updated=story.last,
                authors=(Person(digest_title),),
                content_html=(
                    f"<p>{_escape(story.excerpt)}</p><ul>{items}</ul>"
                    f'<p><a href="{_escape(shown)}">In the digest</a></p>'
                ),
                summary_html=f"<p>{summary}</p>",
                summary_text=" ".join(html.unescape(summary).split()),
            )
        )
    return _atom(
        site,
        base_url,
        f"storyline-{line.id}",
        f"storylines/{line.id}.atom",
        line.title,
        "A developing story in EU foreign policy, followed from digest to digest",
        entries,
    )


def _atom(
    site: Site,
    base_url: str,
    name: str,
    path: str,
    title: str,
    subtitle: str,
    entries: Sequence[Entry],
) -> bytes:
    """An Atom feed of the digest's folder (``path`` in it), written by the publishing
    package's writer, so it is exactly as valid as the site's feeds."""
    feed = Feed(
        id=f"tag:{site.host},2025:{name}",
        title=f"{site.title}: {title}",
        home_url=base_url,
        urls={"atom": f"{base_url}{path}", "rss": "", "json": ""},
        language=site.language,
        author=site.author,
        subtitle=subtitle,
        entries=tuple(entries),
    )
    return atom_bytes(feed)


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _feed_content(topics: Sequence[DigestTopic]) -> str:
    if not topics:
        return "<p>No items about EU foreign policy in this period.</p>"
    parts = []
    for topic in topics:
        parts.append(f"<h2>{_escape(topic.name)}</h2><ul>")
        for story in topic.stories:
            title = _escape(story.title)
            headline = f'<a href="{_escape(story.link)}">{title}</a>' if story.link else title
            sources = ", ".join(_escape(s.name) for s in story.told_by)
            going_on = (
                f" <small>Continuing: {_escape(story.continuation)}.</small>"
                if story.continues
                else ""
            )
            parts.append(
                f"<li>{headline} <small>({sources})</small>{going_on}<br>{_escape(story.excerpt)}</li>"
            )
        parts.append("</ul>")
    return "".join(parts)
