"""Stored items as they read, for tests that look into the database file itself.

The store keeps an item's sanitised HTML once, compressed, and derives its text from it
(sources/store/texts.py): a row read with plain SQL has ``html`` bytes and NULL texts.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sources.store.texts import item_text, register, unpack_html


def connect(path: Path) -> sqlite3.Connection:
    """A plain connection that can read the search index too (its view derives texts)."""
    db = sqlite3.connect(path)
    register(db)
    return db


def readable(row: sqlite3.Row) -> dict[str, object]:
    """An ``entries`` row with its texts as every reader sees them: ``content_html`` (the
    HTML, unpacked) in place of ``html``, the summary and the text derived where not kept."""
    item = dict(row)
    text = item_text(item["html"], item["text"])
    summary = item["summary"] if item["summary"] is not None else text
    packed = item.pop("html")
    return item | {"content_html": unpack_html(packed), "summary": summary, "text": text}
