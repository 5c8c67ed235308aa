"""Dates as authors write them, and as feeds must write them.

Parsing is strict on purpose: ISO 8601 / RFC 3339, day-first numeric dates (European sources
write 10/06/2025 for 10 June; a month-first guess would silently move articles by months), and
spelled-out months in either order. Anything else is an error the author must fix, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"

_ISO = re.compile(
    r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?)?$",
    re.IGNORECASE,
)
_DAY_FIRST_NUMERIC = re.compile(r"^(?P<d>\d{1,2})[/.](?P<m>\d{1,2})[/.](?P<y>\d{4})$")
_DAY_MONTH_YEAR = re.compile(
    rf"^(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+(?P<y>\d{{4}})$", re.I
)
_MONTH_DAY_YEAR = re.compile(
    rf"^{_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})$", re.I
)

# Mentions of full dates inside running text (used to infer a missing year).
_MENTIONS = re.compile(
    rf"\b(?:{_MONTH}\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{{4}})"
    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<month2>"
    + "|".join(sorted(MONTHS, key=len, reverse=True))
    + r")\.?,?\s+(?P<y2>\d{4})"
    r"|(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2})"
    r"|(?P<d4>\d{1,2})/(?P<m4>\d{1,2})/(?P<y4>\d{4}))\b",
    re.IGNORECASE,
)


class DateFormatError(ValueError):
    """A date string in none of the accepted forms."""


ACCEPTED_FORMS = "2025-02-25, 2025-02-25T09:30:00+01:00, 25/02/2025 or 25 February 2025"


def parse_when(value: str | date | datetime, tz: tzinfo, default_time: time) -> datetime:
    """An aware datetime from what an author wrote.

    A date without a time gets ``default_time``; a time without an offset is read in the site
    timezone ``tz`` (not UTC, not the machine's zone), so the same file builds the same feed
    everywhere. A local time that ``tz`` skips or repeats (daylight saving) is an error.
    """
    if isinstance(value, date):  # TOML front matter gives real dates and datetimes
        _make_date(value.year, value.month, value.day, value.isoformat())
    if isinstance(value, datetime):
        value = value.replace(microsecond=0)
        return value if value.tzinfo else _local(value.replace(tzinfo=tz), value.isoformat())
    if isinstance(value, date):
        return _local(
            datetime.combine(value, default_time, tzinfo=tz), value.isoformat(), default=True
        )
    text = str(value).strip()
    match = _ISO.match(text)
    if match:
        day = _make_date(int(match["y"]), int(match["m"]), int(match["d"]), text)
        if match["H"] is None:
            return _local(datetime.combine(day, default_time, tzinfo=tz), text, default=True)
        try:
            clock = time(int(match["H"]), int(match["M"]), int(match["S"] or 0))
        except ValueError as exc:
            raise DateFormatError(f"{text!r} has an impossible time ({exc})") from None
        if match["tz"]:
            return datetime.combine(day, clock, tzinfo=_parse_offset(match["tz"], text))
        return _local(datetime.combine(day, clock, tzinfo=tz), text)
    for pattern in (_DAY_FIRST_NUMERIC, _DAY_MONTH_YEAR, _MONTH_DAY_YEAR):
        match = pattern.match(text)
        if match:
            groups = match.groupdict()
            month = MONTHS[groups["month"].lower()] if groups.get("month") else int(groups["m"])
            day = _make_date(int(groups["y"]), month, int(groups["d"]), text)
            return _local(datetime.combine(day, default_time, tzinfo=tz), text, default=True)
    raise DateFormatError(f"{text!r} is not a date; write it like {ACCEPTED_FORMS}")


def _local(moment: datetime, text: str, *, default: bool = False) -> datetime:
    """``moment``, a wall-clock time in a zone, if that time happened exactly once there.

    Clocks going forward skip a time (02:30 on 30 March 2025 in Brussels never happened) and
    going back repeat one (02:30 on 26 October 2025 happened at +02:00 and again at +01:00).
    Python would quietly pick an offset for either; an article's date must not be a guess,
    so both are errors that say what to write instead (a time that exists, or an offset).
    ``default`` says the time is ``[publish] default_time``, not the author's.
    """
    zone = moment.tzinfo
    name = getattr(zone, "key", None) or str(zone)
    first, second = moment.replace(fold=0), moment.replace(fold=1)
    wall = moment.replace(tzinfo=None)
    actual = first.astimezone(UTC).astimezone(zone)
    given = f"{text!r} at [publish] default_time" if default else repr(text)
    if actual.replace(tzinfo=None) != wall:
        fix = f"{wall:%Y-%m-%d}T{actual:%H:%M}" if default else f"{actual:%H:%M}"
        raise DateFormatError(
            f"{given}: {wall:%Y-%m-%d %H:%M} does not exist in {name} (clocks go forward); "
            f"write {fix} or give an offset"
        )
    if first.utcoffset() != second.utcoffset():
        raise DateFormatError(
            f"{given}: {wall:%Y-%m-%d %H:%M} happens twice in {name} (clocks go back); give "
            f"an offset: {_offset(first)} for the first, {_offset(second)} for the second"
        )
    return first


def _offset(moment: datetime) -> str:
    minutes = int((moment.utcoffset() or timedelta()).total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


EARLIEST_YEAR, LATEST_YEAR = 1990, 9998  # feeds before the web are implausible to validators


def _make_date(year: int, month: int, day: int, text: str) -> date:
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise DateFormatError(f"{text!r} has an implausible year; use one from {EARLIEST_YEAR} on")
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise DateFormatError(f"{text!r} is not a real day ({exc})") from None


def _parse_offset(offset: str, text: str) -> tzinfo:
    """A fixed offset from RFC 3339 (Z, +01:00, +0100)."""
    if offset.upper() == "Z":
        return UTC
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise DateFormatError(f"{text!r} has an impossible UTC offset {offset}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def mentioned_dates(text: str) -> Iterator[date]:
    """Every full date (with a year) that running text mentions, in order of appearance."""
    for match in _MENTIONS.finditer(text):
        g = match.groupdict()
        try:
            if g["y1"]:
                yield date(int(g["y1"]), MONTHS[g["month"].lower()], int(g["d1"]))
            elif g["y2"]:
                yield date(int(g["y2"]), MONTHS[g["month2"].lower()], int(g["d2"]))
            elif g["y3"]:
                yield date(int(g["y3"]), int(g["m3"]), int(g["d3"]))
            else:
                yield date(int(g["y4"]), int(g["m4"]), int(g["d4"]))
        except ValueError:
            continue


def rfc3339(moment: datetime) -> str:
    """RFC 3339 with the author's own offset and whole seconds (Atom, JSON Feed)."""
    return moment.replace(microsecond=0).isoformat()


def human_date(moment: datetime, zone: tzinfo) -> str:
    """``25 February 2025`` in ``zone``, whatever the machine's locale."""
    local = moment.astimezone(zone)
    return f"{local.day} {MONTH_NAMES[local.month - 1]} {local.year}"


def rss_safe(moment: datetime) -> datetime:
    """``moment`` in UTC if its offset is not whole or half hours (+05:45 is not valid RFC 822)."""
    offset = moment.utcoffset()
    if offset is not None and (offset.total_seconds() / 60) % 30:
        return moment.astimezone(UTC)
    return moment
