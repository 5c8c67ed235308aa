"""Plain-text posts -> Markdown articles with explicit front matter.

The plain-text shape (as in ``shared/articles/*.txt``)::

    Title line
    - Author Name
    - Feb 25            (or "Feb 25, 2025", "25 February 2025", "25/02/2025")
    - 2 min read
    <paragraphs; a short line without closing punctuation is a section heading>

Everything inferred (the year, the time, the id) is written out in the front matter so the
article never changes meaning later, and every inference is reported, never silent. The
reading time in the post is not copied: it is recomputed from the text at publish time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from feeds.config import Site
from feeds.dates import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    MONTH_NAMES,
    MONTHS,
    mentioned_dates,
    rfc3339,
)
from feeds.errors import InputError
from feeds.ids import can_fix_ids, tag_id
from feeds.slug import slugify
from feeds.text import clean_text, escape_markdown, looks_like_html, reading_minutes, word_count

HEADING_MAX_CHARS = 80
_CLOSING = tuple(".!?:;,…\"'”’)]")
_READING_TIME = re.compile(r"^\d+\s*min(?:ute)?s?(?:\s+read)?$", re.IGNORECASE)
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATE_LINE = [
    re.compile(
        rf"^(?P<month>{_MONTH_NAMES})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{{4}}))?$",
        re.I,
    ),
    re.compile(
        rf"^(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<month>{_MONTH_NAMES})\.?(?:,?\s+(?P<year>\d{{4}}))?$",
        re.I,
    ),
    re.compile(r"^(?P<day>\d{1,2})[/.](?P<month>\d{1,2})(?:[/.](?P<year>\d{4}))?$"),
    re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})$"),
]


@dataclass(frozen=True)
class ImportedPost:
    """The converted article: where it goes, its text, and what was inferred and why."""

    filename: str
    markdown: str
    title: str
    published: datetime
    notes: tuple[str, ...]


def convert_post(
    text: str, path: Path, site: Site, default_time: time, *, year: int | None, today: date
) -> ImportedPost:
    """Convert one plain-text post; ``today`` only matters when nothing else gives a year."""
    lines = [clean_text(line).rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    index = _skip_blank(lines, 0)
    if index >= len(lines):
        raise InputError(path, 1, "the post is empty; the first line must be its title")
    title, title_line = lines[index].strip(), index + 1
    if title.startswith("- "):
        raise InputError(
            path, title_line, "the first line must be the title, not a '- ' metadata line"
        )
    if looks_like_html(title):
        raise InputError(
            path, title_line, "the title contains HTML tags; titles are plain text, remove them"
        )
    index += 1

    author: str | None = None
    day: tuple[int, int, int | None] | None = None
    stated_minutes: str | None = None
    date_line = title_line
    while index < len(lines) and (lines[index].startswith("- ") or not lines[index].strip()):
        value = lines[index][2:].strip() if lines[index].startswith("- ") else ""
        if value:
            parsed = _date_line(value)
            if parsed is not None:
                day, date_line = parsed, index + 1
                if (
                    _maybe_day(parsed[2] or 2000, parsed[0], parsed[1]) is None
                ):  # 2000 was a leap year
                    raise InputError(
                        path, date_line, f"{value!r} is not a real day; correct the date line"
                    )
            elif _READING_TIME.match(value):
                stated_minutes = value
            elif author is None:
                author = value
            else:
                raise InputError(
                    path,
                    index + 1,
                    f"unexpected metadata line {value!r}; expected an author, a date or 'N min read'",
                )
        index += 1
    if day is None:
        raise InputError(
            path, title_line + 1, "no date line; add a line like '- Feb 25, 2025' under the title"
        )

    paragraphs = split_paragraphs(lines[index:])
    if not paragraphs:
        raise InputError(path, index + 1, "the post has no body text")
    body_text = "\n".join(paragraphs)

    notes: list[str] = []
    month, day_of_month, stated_year = day
    if stated_year is not None:
        published_day = _real_day(stated_year, month, day_of_month, path, date_line)
    elif year is not None:
        published_day = _real_day(year, month, day_of_month, path, date_line)
        notes.append(f"year {year} from --year")
    else:
        try:
            published_day, why = infer_year(month, day_of_month, body_text, today)
        except CannotPlaceDate as exc:
            raise InputError(path, date_line, str(exc)) from None
        notes.append(f"date {published_day.isoformat()}: {why} (use --year to override)")
    if published_day > today:
        notes.append(f"dated after today ({today.isoformat()}): publish leaves it out until then")
    published = datetime.combine(published_day, default_time, tzinfo=site.tz)

    slug = slugify(path.stem)
    article_id = tag_id(site, published_day, slug) if can_fix_ids(site) else None
    if article_id is None:
        notes.append(
            "no id written: [site] base_url is a local address; publish fixes it once it is real"
        )
    body = "\n\n".join(_paragraph(p) for p in paragraphs)
    words = word_count(body_text)
    minutes = reading_minutes(body_text)
    said = f"; the post said {stated_minutes!r}" if stated_minutes else ""
    notes.append(f"reading time {minutes} min, recomputed from {words} words{said}")
    headings = sum(1 for p in paragraphs if is_heading(p))
    notes.append(f"{headings} section heading(s), {len(paragraphs) - headings} paragraph(s)")

    front = [
        "---",
        f"title: {_yaml_string(title)}",
        f"date: {rfc3339(published)}",
    ]
    if author:
        front.append(f"author: {_yaml_string(author)}")
    if article_id:
        front.append(f"id: {_yaml_string(article_id)}")
    front += ["---", ""]
    return ImportedPost(
        filename=f"{published_day.isoformat()}-{slug}.md",
        markdown="\n".join(front) + "\n" + body + "\n",
        title=title,
        published=published,
        notes=tuple(notes),
    )


MENTION_WINDOW_YEARS = 10  # mentioned dates older than this are history, not the news
_LEAP_GAP_YEARS = 8  # the longest run of years without a 29 February (1896 -> 1904)


class CannotPlaceDate(ValueError):
    """No year gives a post's day and month within the bounds inference searches."""


def infer_year(month: int, day: int, body: str, today: date) -> tuple[date, str]:
    """The publication day for a date written without a year, and the reason, in words.

    An article is not published before the events it reports: the answer is the first such
    day on or after the latest date the body mentions. Only mentions from the last
    :data:`MENTION_WINDOW_YEARS` years up to ``today`` count: a post that recalls 9 May 1950
    or looks ahead to 2200 is not from either year. An article is not published in the
    future either: with no such mention, or when the first such day after it has not come
    yet, the answer is the latest such day on or before ``today``. Every search is bounded
    (a 29 February is never more than eight years away); :class:`CannotPlaceDate` if none.
    """
    back = max(today.year - MENTION_WINDOW_YEARS, 1)
    earliest = _maybe_day(back, today.month, today.day) or date(back, today.month, today.day - 1)
    mentioned = list(mentioned_dates(body))
    counted = [d for d in mentioned if earliest <= d <= today]
    ignored = len(mentioned) - len(counted)
    window = f"{earliest.isoformat()} to today"
    aside = f" ({ignored} mentioned date(s) outside {window} ignored)" if ignored else ""
    if counted:
        latest = max(counted)
        after = next(
            (
                candidate
                for year in range(latest.year, latest.year + _LEAP_GAP_YEARS + 1)
                if (candidate := _maybe_day(year, month, day)) is not None and candidate >= latest
            ),
            None,
        )
        if after is not None and after <= today:
            return (
                after,
                f"first such day on or after {latest.isoformat()}, the latest date the text "
                f"mentions{aside}",
            )
        why = (
            f"the first such day after {latest.isoformat()}, the latest date the text mentions, "
            f"is after today{aside}"
        )
    else:
        why = (
            f"the text mentions no date from {window}, only earlier or later ones"
            if mentioned
            else "the text mentions no dated event"
        )
    for year in range(today.year, max(today.year - _LEAP_GAP_YEARS, 0), -1):
        candidate = _maybe_day(year, month, day)
        if candidate is not None and candidate <= today:
            return candidate, f"{why}; latest such day on or before today ({today.isoformat()})"
    raise CannotPlaceDate(
        f"no year gives {MONTH_NAMES[month - 1]} {day} on or before today "
        f"({today.isoformat()}); write the year on the date line or use --year"
    )


def split_paragraphs(lines: list[str]) -> list[str]:
    """Paragraphs of a post body, each on one line.

    Posts pasted from a web page put each paragraph on one line with no blank lines between
    them; posts written in an editor separate hard-wrapped paragraphs with blank lines. When
    the body has blank lines between text, they separate paragraphs and wrapped lines are
    joined; otherwise every line is a paragraph.
    """
    text = [line.strip() for line in lines]
    while text and not text[-1]:
        text.pop()
    while text and not text[0]:
        text.pop(0)
    if "" not in text:
        return text
    paragraphs: list[str] = []
    block: list[str] = []
    for line in [*text, ""]:
        if line:
            block.append(line)
        elif block:
            paragraphs.append(" ".join(block))
            block = []
    return paragraphs


def is_heading(line: str) -> bool:
    """A short line without closing punctuation reads as a section heading."""
    return len(line) <= HEADING_MAX_CHARS and not line.endswith(_CLOSING)


def _paragraph(line: str) -> str:
    text = escape_markdown(line)
    return f"## {text}" if is_heading(line) else text


def _date_line(value: str) -> tuple[int, int, int | None] | None:
    for pattern in _DATE_LINE:
        match = pattern.match(value)
        if match:
            month_text = match["month"]
            month = int(month_text) if month_text.isdigit() else MONTHS[month_text.lower()]
            year = int(match["year"]) if match["year"] else None
            if 1 <= month <= 12:
                return month, int(match["day"]), year
    return None


def _maybe_day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _real_day(year: int, month: int, day: int, path: Path, line: int) -> date:
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise InputError(
            path,
            line,
            f"year {year} is outside {EARLIEST_YEAR} to {LATEST_YEAR}, the years feeds accept; "
            "correct the date line",
        )
    result = _maybe_day(year, month, day)
    if result is None:
        raise InputError(
            path, line, f"{year:04d}-{month:02d}-{day:02d} is not a real day; correct the date line"
        )
    return result


def _yaml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _skip_blank(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index
