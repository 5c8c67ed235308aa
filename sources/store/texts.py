"""An item's texts as the store keeps them: the sanitised HTML once, and plain text only
where it cannot be derived from that HTML. Pure, apart from :func:`register`.

The parser gives each entry its HTML (the content, else the summary), the summary's plain
text and the item's plain text, which is :func:`~feeds.text.html_to_text` of the HTML.
Kept as they came, an item's words were stored up to four times (both HTMLs, both texts).
So the store keeps:

* ``html``: the HTML, zlib-compressed (:func:`pack_html`): HTML compresses about threefold
  and is read back only to derive the text;
* ``text``: NULL, the text being derived from ``html`` on read by the parser's own function
  (:func:`item_text`); a value only where an older communique stored a text that is not
  the text of its HTML, kept as it was;
* ``summary``: NULL when it is the text (an entry with no content, or repeating it), else
  its plain text.

Search indexes the derived texts (the ``entries_text`` view, :mod:`sources.store.schema`),
the same four columns as before, so it ranks and cuts snippets as before; removing an item
from the index needs the words it was indexed with, derived again: a
change to :func:`~feeds.text.html_to_text` that changes any text needs a migration that
rebuilds ``entries_fts`` (tests/test_stored_texts.py guards the derivation).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from feeds.text import html_to_text

if TYPE_CHECKING:
    import sqlite3

# zlib's default level: a third of the HTML's size. Level 1 costs a quarter less time (0.6
# against 0.8 s for the 47 MB of XML of 200 real-size feeds, whose parsing takes 10 s) but
# keeps 4 % more bytes, and the store is to hold no more than the feeds it read.
_LEVEL = 6


def pack_html(html: str) -> bytes:
    """The stored form of an item's sanitised HTML (b"" for none)."""
    return zlib.compress(html.encode("utf-8"), _LEVEL) if html else b""


def unpack_html(packed: bytes | None) -> str:
    """The sanitised HTML :func:`pack_html` kept."""
    return zlib.decompress(packed).decode("utf-8") if packed else ""


_last: tuple[bytes | None, str] = (None, "")  # the last HTML derived, and its text


def item_text(packed: bytes | None, text: str | None) -> str:
    """An item's plain text: ``text`` when one was kept, else the text of its HTML.

    The last text derived is remembered: the summary and the text of one row are asked for
    one after the other (the search index's view and triggers, reading items), and an item
    being stored was derived by the parser already (:func:`remember_text`)."""
    global _last
    if text is not None:
        return text
    last_packed, last_text = _last
    if last_packed == packed:
        return last_text
    derived = html_to_text(unpack_html(packed))
    _last = (packed, derived)
    return derived


def remember_text(packed: bytes, text: str) -> None:
    """Take ``text`` as the text of ``packed`` without deriving it: the parser derived it
    with the same function (:class:`~sources.types.FeedEntry`), so the search index's
    trigger, which asks for it as the item is stored, does not derive it again (a third of
    the storing thread's time)."""
    global _last
    _last = (packed, text)


def kept_summary(summary: str, text: str) -> str | None:
    """What the ``summary`` column keeps: NULL when the summary is the item's text."""
    return None if summary == text else summary


def register(db: sqlite3.Connection) -> None:
    """Give ``db`` the SQL function ``item_text(html, text)`` (:func:`item_text`), which the
    ``entries_text`` view and the search index's triggers call."""
    db.create_function("item_text", 2, item_text, deterministic=True)
