"""Digests mailed: each delivery the mail server accepted, so a digest is mailed once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sources.store.connection import Part
from sources.store.times import to_text


class DeliveriesPart(Part):
    """The deliveries table: asked before a digest is mailed, told once the server accepted it."""

    def delivered(self, day: str) -> tuple[str, datetime] | None:
        """``(Message-ID, when)`` of the last time the digest ``day`` was mailed, if ever."""
        row = self.db.execute(
            "SELECT message_id, sent_at FROM deliveries WHERE day = ? "
            "ORDER BY sent_at DESC, id DESC",
            (day,),
        ).fetchone()
        return (row["message_id"], datetime.fromisoformat(row["sent_at"])) if row else None

    def record_delivery(
        self, day: str, message_id: str, recipients: Sequence[str], at: datetime
    ) -> None:
        """The digest ``day`` was accepted by the mail server for ``recipients``."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO deliveries (day, message_id, recipients, sent_at) VALUES (?, ?, ?, ?)",
                (day, message_id, ", ".join(recipients), to_text(at)),
            )
