"""What the use cases' results say on a terminal: lines, each for stdout or stderr. Pure.

The command line prints these lines in order and decides the exit code; ``--json`` output is
the result's own data. Each line says one thing a user can act on (a failure, a warning,
where a file went), in the words the README uses.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from feeds.text import cut_at_word
from sources.follow.history import describe


def when(moment: datetime | None) -> str:
    """``2025-03-01 12:00`` (UTC), or ``-``: how the commands show a moment."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


if TYPE_CHECKING:  # the records said here; their modules load with their commands
    from feeds.errors import InputError
    from sources.follow.opml import SourceList
    from sources.types import SearchHit, StoredItem

    from .digests import Made, Mailed, Storylines
    from .following import Aggregated, FirstPoll, Imported, Listing, Subscription
    from .judging import Found, ItemExplanation, PairExplanation, StoryPlace


class Line(NamedTuple):
    """One line of output; ``err``: for stderr (problems and notes), else stdout."""

    text: str
    err: bool = False


def _plural(count: int, one: str, many: str) -> str:
    from sources.digest.build import plural  # the digest's wording, loaded when needed

    return plural(count, one, many)


def source_list_warnings(listed: SourceList) -> list[Line]:
    """One line per entry that cannot be fetched (that source is left out) and per setting
    of an entry that cannot be read (the source is polled by the defaults)."""
    return [
        *(Line(f"warning: {s.problem}; skipped (fix or remove it)", True) for s in listed.skipped),
        *(
            Line(f"warning: {problem}; [aggregate] full_text applies until it is fixed", True)
            for problem in listed.warnings
        ),
    ]


def aggregated(result: Aggregated, *, as_json: bool = False, quiet: bool = False) -> list[Line]:
    """The run's summary (unless ``quiet``), and every failure (even ``quiet``)."""
    summary, pruned = result.summary, result.pruned
    if as_json:
        return [Line(json.dumps({**summary.as_dict(), "items_pruned": pruned}, indent=2))]
    lines = []
    if not quiet:
        lines.append(
            Line(
                f"{summary.sources} source(s): {summary.ok} ok, {summary.not_modified} not "
                f"modified, {summary.unchanged} unchanged, {summary.failed} failed, "
                f"{summary.gone} gone; items: {summary.new} new, {summary.updated} updated"
                + (f", {pruned} pruned" if pruned else "")
            )
        )
        pages = summary.pages
        if pages.read or pages.reused or pages.kept_feed_text or pages.failed or pages.disallowed:
            lines.append(
                Line(
                    f"article pages: {pages.read} read, {pages.reused} already read, "
                    f"{pages.kept_feed_text} not the article (feed text kept), {pages.failed} "
                    f"failed, {pages.disallowed} disallowed by robots.txt, {pages.waiting} left "
                    "for later"
                )
            )
        lines += [
            Line(f"  moved: {old} -> {new} (permanent redirect, confirmed)")
            for old, new in summary.moved
        ]
    return lines + [Line(f"failed: {url}: {message}", True) for url, message in summary.failures]


def listing(result: Listing, *, as_json: bool = False) -> list[Line]:
    """``sources list``: a note while there is no list yet, then the sources."""
    lines = []
    if result.not_written is not None:  # listing writes nothing, not even the default list
        lines.append(
            Line(
                f"note: no {result.not_written} yet: the shipped sources, which the first "
                "`communique aggregate` or `sources add` writes there",
                True,
            )
        )
    if as_json:
        return [*lines, Line(json.dumps(result.rows, indent=2, ensure_ascii=False))]
    for item in result.rows:
        lines += [Line(f"{item['title'] or item['url']}"), Line(f"  {item['url']}")]
        lines.append(
            Line(
                f"  category: {item['category'] or '-'}  status: {item['status']}  last "
                f"success: {item['last_success']}  next: {item['next_due']}  entries: "
                f"{item['entries']}"
            )
        )
        if item["last_error"]:
            lines.append(Line(f"  last error: {item['last_error']}"))
        if item["warning"]:
            lines.append(Line(f"  warning: {item['warning']}"))
        if item["network"] not in (None, "public"):  # its links may reach this network too
            lines.append(Line(f"  network: {item['network']}"))
        if item["full_text"] != "off" or item["entries_with_page_text"]:
            lines.append(
                Line(
                    f"  article pages: {item['full_text']}  "
                    f"entries with page text: {item['entries_with_page_text']}"
                )
            )
        if item["last_page_problem"]:
            lines.append(Line(f"  last page problem: {item['last_page_problem']}"))
        history = result.histories.get(str(item["url"]))
        if history:  # a source with archives: read whole, or not yet
            read = _plural(history.read, "archive document", "archive documents")
            incomplete = describe(history, result.max_archives)
            lines.append(
                Line(
                    f"  history: incomplete ({read} read): {incomplete}"
                    if incomplete
                    else f"  history: complete ({read} read)"
                )
            )
    return lines


def subscription(result: Subscription) -> list[Line]:
    """``sources add``: how the feed was found, and whether it was added."""
    lines = [Line(result.note)] if result.note else []
    source = result.source
    if result.outcome == "added":
        shown = f" ({source.title})" if source.title else ""
        return [*lines, Line(f"added {source.url}{shown}")]
    pages = f"; article pages now {source.full_text}" if result.outcome == "mode" else ""
    return [*lines, Line(f"already subscribed: {source.url}{pages}")]


def first_poll(result: FirstPoll) -> list[Line]:
    """What the first poll of a new subscription stored; an incomplete history or a failed
    poll is said, but the feed is subscribed all the same (later runs go on)."""
    summary = result.summary
    history = (
        f", {_plural(summary.archives, 'archive document', 'archive documents')} of its history"
        if summary.archives
        else ""
    )
    lines = [Line(f"stored {_plural(summary.new, 'item', 'items')}{history}")]
    incomplete = describe(result.history, result.max_archives)
    if incomplete:
        lines.append(Line(f"history incomplete: {incomplete}"))
    return lines + [
        Line(f"communique: first poll of {url} failed: {message}; the next run tries again", True)
        for url, message in summary.failures
    ]


def imported(result: Imported, file: object) -> list[Line]:
    """``sources import``: each entry skipped, then the counts."""
    incoming = result.incoming
    lines = [Line(f"{skipped.problem}; skipped", True) for skipped in incoming.skipped]
    counted = [
        f"{result.already} already subscribed" if result.already else "",
        f"{incoming.duplicates} repeated in the file" if incoming.duplicates else "",
        f"{len(incoming.skipped)} invalid" if incoming.skipped else "",
    ]
    details = ", ".join(c for c in counted if c)
    lines.append(
        Line(
            f"imported {len(result.added)} new source(s) of {len(incoming.sources)} from {file}"
            + (f" ({details})" if details else "")
        )
    )
    return lines


def left_out_of_export(problems: list[InputError]) -> list[Line]:
    """The entries ``sources export`` leaves out: they hold a password."""
    return [Line(f"warning: {problem}; left out of the export", True) for problem in problems]


def item_explanation(result: ItemExplanation) -> list[Line]:
    """``explain ITEM``: the verdict and every rule that made it, the text read, the story."""
    item, verdict, taxonomy = result.item, result.verdict, result.taxonomy
    said = [
        item.title,
        f"  source: {item.source_title} ({item.source_url})",
        f"  relevant: {'yes' if verdict.relevant else 'no'}  score: {verdict.score:g}  "
        f"threshold: {taxonomy.threshold:g}",
    ]
    if verdict.on_topic_source:
        said.append("  the source is marked wholly on-topic (category foreign-policy)")
    anchors = ", ".join(verdict.anchors)
    said.append(
        f"  EU anchors: {anchors or 'none (an item must mention the EU in its title or lede)'}"
    )
    if verdict.distant_anchors:
        said.append(
            f"  past the lede, not counted: {', '.join(verdict.distant_anchors)} "
            "(an item is about what its title and lede are about)"
        )
    if verdict.excluded_by:
        said.append(f"  excluded by: {verdict.excluded_by!r}")
    if verdict.roundup:
        said.append(
            f"  roundup: {verdict.roundup!r} (a newsletter, live blog or roundup is judged "
            "on its title alone)"
        )
    if verdict.anchors and not verdict.roundup:
        said.append(
            f"  without place names: {verdict.substance:g} (must reach the threshold too "
            "when the EU is named only below the title)"
        )
    if verdict.partners:
        said.append(
            f"  partner in the title: {', '.join(verdict.partners)} "
            f"(the EU acting with a country outside it: +{verdict.partner_score:g})"
        )
    for topic_id, value in verdict.topic_scores.items():
        said.append(f"  {taxonomy.name(topic_id)}: {value:g}")
        for match in verdict.matches:
            if match.topic == topic_id:
                factor = " x2" if match.where == "title" else ""
                said.append(f"    {match.term!r} {match.weight:g}{factor} in {match.where}")
    said.append(f"  {_page_line(item)}")
    if item.page_text:  # what was read, so a page read in the wrong encoding shows at once
        said.append(f"  page text begins: {cut_at_word(' '.join(item.page_text.split()), 160)}")
    if result.story is None:
        said.append("  story: none (a digest groups only the items about EU foreign policy)")
    else:
        said += _story_lines(item, result.story)
    placed = result.placed
    if placed is not None:
        said.append(
            f"  shown in: story {placed.story} of storyline {placed.storyline}, "
            f"first in the digest {placed.day}"
        )
    elif result.story is not None:
        said.append("  shown in: no digest yet")
    line = result.storyline
    if line is not None and line.verdict is not None:
        verdict = line.verdict
        said.append(f"  storyline: {cut_at_word(line.title, 80)} ({line.stories} stories)")
        said.append(
            f"    nearest story: {cut_at_word(line.nearest, 80)}: alike "
            f"{verdict.similarity:.2f} x closeness {verdict.closeness:.2f} = {verdict.score:.2f} "
            f"(one storyline from {verdict.threshold:.2f})"
        )
        if verdict.shared:
            words = ", ".join(word for word, _ in verdict.shared)
            said.append(f"    words that weigh most in both: {words}")
    elif line is not None:
        said.append("  storyline: its story alone")
    return [Line(text) for text in said]


def _page_line(item: StoredItem) -> str:
    """Whether the item was read with its article page's text, and if not, why not."""
    if item.page_text:
        language = f", {item.page_language}" if item.page_language else ""
        return (
            f"text: its article page ({len(item.page_text):,} characters{language}), "
            "not only the feed's"
        )
    if item.page_note:
        return f"text: the feed's own; the article page was not used: {item.page_note}"
    return "text: the feed's own (the article page was not read)"


def _titled(members: tuple[StoredItem, ...]) -> str:
    head = members[0]
    return f"[{head.id}] {cut_at_word(head.title, 80)} ({len(members)} items)"


def _story_lines(item: StoredItem, place: StoryPlace) -> list[str]:
    """Which story the item joins in a digest around it, with what probability, the best
    other story it was compared with, and the stories its identity kept it out of."""
    story, placement = place.story, place.placement
    said = []
    if placement.stored:  # a digest placed it: that placement stands, not decided again
        said.append(f"  story: {_titled(story)}, where a digest placed it")
    elif placement.story is None:
        said.append(
            f"  story: begins its own, headed by this item ({len(story)} items in all)"
            if story[0].id == item.id
            else f"  story: {_titled(story)}"
        )
        if placement.runner_up is not None:
            said.append(
                f"  the best story it could join gave {placement.runner_up_probability:.2f}, "
                "below the model's threshold"
            )
    else:
        said.append(f"  story: joined {_titled(story)} with {placement.probability:.2f}")
        if place.runner_up is not None:
            said.append(
                f"  runner-up: {_titled(place.runner_up)} with "
                f"{placement.runner_up_probability:.2f}"
            )
    said += [f"  kept out of {_titled(members)}: {reason}" for members, reason in place.kept_out]
    others = [m for m in story if m.id != item.id]
    if others:
        said.append(f"  with: {', '.join(str(m.id) for m in others[:12])}")
    return said


def pair_explanation(result: PairExplanation) -> list[Line]:
    """``explain A B``: one story or not, each piece of evidence, and what keeps them apart."""
    verdict = result.verdict
    said = [f"one story: {'yes' if verdict.one_story else 'no'}"]
    for label, shown in (("A", result.item), ("B", result.other)):
        said.append(
            f"  {label} [{shown.id}] {shown.title}  ({shown.source_title}, "
            f"{shown.published_at.isoformat()})"
        )
    if verdict.same_link:
        said.append("  the same link: one story whatever the words")
    said.append(
        f"  the story model gives {verdict.probability:.2f} that they report one event "
        f"(one story from {verdict.threshold:.2f}); the evidence, and what it adds:"
    )
    said += [
        f"    {name:<15} {value:7.3f}  {added:+.2f}" for name, value, added in verdict.contributions
    ]
    shared = ", ".join(f"{word} {share:.2f}" for word, share in verdict.shared)
    said.append(f"  shared words (stemmed; @ is a place): {shared or 'none'}")
    said.append(f"  published {verdict.apart.total_seconds() / 3600:.0f} h apart")
    said += [f"  apart: {reason}" for reason in verdict.reasons_apart]
    return [Line(text) for text in said]


def found(result: Found, *, as_json: bool = False) -> list[Line]:
    """``search``: a note when the words looked like FTS5 syntax, then the hits."""
    lines = []
    if result.looks_like_fts:
        lines.append(
            Line(
                "note: AND, OR, NOT, NEAR(, word* and column: were searched for as words; "
                "--fts reads them as FTS5 query syntax",
                True,
            )
        )
    if as_json:
        return [
            *lines,
            Line(json.dumps([_hit(hit) for hit in result.hits], indent=2, ensure_ascii=False)),
        ]
    for hit in result.hits:
        lines.append(Line(f"{when(hit.published_at)}  {hit.title}  [{hit.source}]"))
        if hit.link:
            lines.append(Line(f"  {hit.link}"))
        lines.append(Line(f"  {hit.snippet}"))
    if not result.hits:
        lines.append(Line("no matches", True))
    return lines


def _hit(hit: SearchHit) -> dict[str, object]:
    return {**hit.__dict__, "published_at": hit.published_at.isoformat()}


def made(result: Made) -> list[Line]:
    """The digest's counts and period, and each file written."""
    digest = result.digest
    files = [path for path in result.written if path.parent.name != "storylines"]
    feeds = [path for path in result.written if path.parent.name == "storylines"]
    said = [Line(f"{digest.counts}, {digest.period}"), *(Line(f"  {path}") for path in files)]
    if feeds:  # one per storyline the digest showed: named together, not one by one
        count = _plural(len(feeds), "storyline feed", "storyline feeds")
        said.append(Line(f"  {feeds[0].parent}{os.sep} ({count})"))
    return said


def mailed(result: Mailed) -> list[Line]:
    """Whether the digest was mailed (or was already), to how many, and what went wrong."""
    day = result.day
    if result.status == "already" and result.earlier:
        message_id, at = result.earlier
        return [
            Line(
                f"digest {day} was mailed already ({when(at)}, {message_id}); "
                "`communique mail --resend` sends it again"
            )
        ]
    if result.status == "interrupted":
        return [Line(f"communique: interrupted; digest {day} {result.problem}", True)]
    if result.status == "failed":
        return [Line(f"communique: digest {day} not mailed: {result.problem}", True)]
    if result.status == "busy":
        return [
            Line(
                f"communique: digest {day} not mailed: a digest is being mailed by another "
                f"process, still after {result.wait:g} s; try again when it ends",
                True,
            )
        ]
    lines = [
        Line(
            f"mailed digest {day} to {_plural(result.recipients, 'recipient', 'recipients')} "
            f"({result.message_id})"
        ),
        *(
            Line(f"communique: refused by the server, not mailed: {r}", True)
            for r in result.refused
        ),
    ]
    if result.interrupted:
        lines.append(
            Line(
                f"communique: interrupted; digest {day} was mailed first (the server accepted it)",
                True,
            )
        )
    return lines


def storylines(result: Storylines, *, as_json: bool = False) -> list[Line]:
    """``storylines``: each storyline's id, title, size, the digests it ran through, and
    its feed."""
    if as_json:
        rows = [
            {
                "id": row.id,
                "title": row.title,
                "stories": row.stories,
                "items": row.items,
                "first_digest": row.first_day,
                "last_digest": row.last_day,
                "feed": str(result.folder / f"{row.id}.atom"),
            }
            for row in result.rows
        ]
        return [Line(json.dumps(rows, indent=2, ensure_ascii=False))]
    if not result.rows:
        return [Line("no storylines yet: `communique digest` records them", True)]
    lines = []
    for row in result.rows:
        span = (
            row.first_day if row.first_day == row.last_day else f"{row.first_day} to {row.last_day}"
        )
        stories = _plural(row.stories, "story", "stories")
        lines.append(Line(f"{row.id}  {row.title}"))
        lines.append(Line(f"  {stories}, {_plural(row.items, 'item', 'items')}; digests {span}"))
        lines.append(Line(f"  {result.folder / (row.id + '.atom')}"))
    return lines
