"""A date as a feed writes it, in numbers and a zone, made a UTC time. Pure.

Feeds write dates many ways (RFC 822 in RSS, RFC 3339 in Atom and JSON Feed, day-first
``10/06/2025`` in European feeds); once a format's reader has taken the numbers out of the
text, this is the one place that turns them and the zone into the UTC time feedparser's
records hold, refusing days and times no calendar has rather than rolling them over.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone


def utc_time(
    year: str,
    month: str,
    day: str,
    hour: str | None,
    minute: str | None,
    second: str | None,
    zone: str | None,
) -> time.struct_time | None:
    """The UTC time of a date written in these parts (a missing time is midnight, a zone
    other than ``+hh[:]mm``/``-hh[:]mm`` is UTC, a leap second is :59), or None when the
    parts name no real moment: month 13, 30 February, 25:00, an offset of a day or more."""
    offset = timedelta(0)
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        offset = offset if zone[0] == "+" else -offset
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0),
            min(int(second or 0), 59),
            tzinfo=timezone(offset),
        )  # fmt: skip
        return moment.astimezone(UTC).timetuple()
    except (ValueError, OverflowError):
        return None
