"""How the store writes times: UTC ISO 8601 text, to the second.

Text of one zone and one precision sorts as the times do, so SQL compares and orders dates
as plain strings (``published_at >= ?``) and an index on them works.
"""

from __future__ import annotations

from datetime import UTC, datetime


def to_text(moment: datetime | None) -> str | None:
    """A time as the store keeps it (None stays None)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat() if moment else None


def from_text(text: str | None) -> datetime | None:
    """A time the store kept (None or "" is None)."""
    return datetime.fromisoformat(text) if text else None
