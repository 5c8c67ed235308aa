"""Stored items: writing a feed's entries as the Decider said, reading items back, their
relevance verdicts, full-text search (FTS5, kept in step by triggers), and pruning.

An item's columns are passed by name: an entry becomes a mapping of column to value once
(:func:`_entry_columns`), and the INSERT and UPDATE name each placeholder, so a column
added later cannot shift the others. Its texts are kept once (:mod:`sources.store.texts`):
the compressed HTML, and plain text only where it is not derived from it; reads derive the
summary and text with the same SQL function the search index is built with
(:data:`TEXTS`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta

from sources.store.connection import Part, from_row, snapshot
from sources.store.sources import prune_failures
from sources.store.texts import kept_summary, remember_text
from sources.store.times import to_text
from sources.types import Action, FeedEntry, KnownItem, Relevance, SearchHit, StoredItem

# An item's summary and text as every read gives them, over ``entries e``: derived from its
# HTML where they were not kept, by the function the search index's view uses.
TEXTS = (
    "COALESCE(e.summary, item_text(e.html, e.text)) AS summary, item_text(e.html, e.text) AS text"
)


# best matches first: the title weighs most, then the summary, the text and the page's text
_RANK = "bm25(entries_fts, 5.0, 2.0, 1.0, 1.0)"


class ItemsPart(Part):
    """The items of every source, as the Decider, ``rescore``, ``search`` and the digest
    read them."""

    def stored_entries(self, url: str) -> list[KnownItem]:
        """What the Decider matches a fetch of source ``url`` against: its stored items."""
        rows = self.db.execute(
            "SELECT e.id, e.key, e.norm_link, e.content_hash FROM entries e "
            "JOIN sources s ON s.id = e.source_id WHERE s.url = ?",
            (url,),
        )
        return [KnownItem(r["id"], r["key"], r["norm_link"], r["content_hash"]) for r in rows]

    def known_item_hashes(self, url: str) -> dict[str, int]:
        """The hashes of a source's stored items as its feed last listed them -> item id."""
        rows = self.db.execute(
            "SELECT h.hash, h.entry_id FROM item_hashes h JOIN sources s ON s.id = h.source_id "
            "WHERE s.url = ?",
            (url,),
        )
        return {r[0]: r[1] for r in rows}

    def rescore(self, score: Callable[[StoredItem], Relevance]) -> tuple[int, int]:
        """Score every stored item again (topics changed); ``(items, items whose verdict changed)``."""
        changed = total = 0
        with self.transaction() as db:
            for item in read_items(db, "1 = 1", ()):
                verdict = score(item)
                total += 1
                if (verdict.score, verdict.relevant, list(verdict.topics)) != (
                    item.relevance,
                    item.relevant,
                    list(item.topics),
                ):
                    changed += 1
                    write_verdict(db, item.id, verdict)
        return total, changed

    def item(self, item_id: int) -> StoredItem | None:
        """One stored item by id (as ``search`` prints it)."""
        items = read_items(self.db, "e.id = ?", (item_id,))
        return items[0] if items else None

    def relevant_items(self, since: datetime, until: datetime) -> list[StoredItem]:
        """Items about EU foreign policy published in ``[since, until)``, oldest first."""
        return read_items(
            self.db,
            "e.relevant = 1 AND e.published_at >= ? AND e.published_at < ?",
            (to_text(since), to_text(until)),
        )

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Full-text search over titles, summaries, text and page text, best matches first.

        ``query`` is FTS5 query syntax (:mod:`sources.store.fts_query` makes it from words);
        ValueError with SQLite's reason when FTS5 cannot read it."""
        ranked = f"""SELECT e.id, s.title AS source, s.url, e.title, e.link, e.published_at
            FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid
            JOIN sources s ON s.id = e.source_id
            WHERE entries_fts MATCH ? ORDER BY {_RANK}, e.published_at DESC LIMIT ?"""
        try:
            with snapshot(self.db):  # the hits and their snippets from one state of the store
                return self._hits(ranked, query, limit)
        except sqlite3.OperationalError as exc:  # FTS5 syntax: the caller names the query
            raise ValueError(str(exc)) from None

    def _hits(self, ranked: str, query: str, limit: int) -> list[SearchHit]:
        rows = self.db.execute(ranked, (query, limit)).fetchall()
        # then the snippets of these hits alone, each made from the item's texts as derived
        # from its HTML, rather than of every item that matches
        snippets = dict(
            self.db.execute(
                "SELECT rowid, snippet(entries_fts, -1, '[', ']', '…', 12) FROM entries_fts "
                "WHERE entries_fts MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
                (query, json.dumps([r["id"] for r in rows])),
            ).fetchall()
        )
        return [
            SearchHit(
                r["id"],
                r["source"] or r["url"],
                r["title"],
                r["link"],
                datetime.fromisoformat(r["published_at"]),
                snippets[r["id"]],
            )
            for r in rows
        ]

    def prune(self, keep_days: int, now: datetime) -> int:
        """Delete items first seen more than ``keep_days`` ago (and old failure records);
        their keys are kept, so a feed still listing one does not bring it back."""
        cutoff = to_text(now - timedelta(days=keep_days))
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO pruned (source_id, key) SELECT source_id, key FROM entries "
                "WHERE published_at < ? AND first_seen_at < ?",
                (cutoff, cutoff),
            )
            deleted = db.execute(
                "DELETE FROM entries WHERE published_at < ? AND first_seen_at < ?", (cutoff, cutoff)
            ).rowcount
            prune_failures(db, cutoff)
            # a story whose items are all gone goes too, and a storyline with no story left
            db.execute("DELETE FROM stories WHERE id NOT IN (SELECT story FROM story_items)")
            db.execute("DELETE FROM storylines WHERE id NOT IN (SELECT storyline FROM stories)")
        return deleted


def write_items(
    db: sqlite3.Connection,
    source_id: int,
    actions: Sequence[Action],
    now: str | None,
    relevance: Mapping[str, Relevance],
    pages_wanted: Collection[str],
) -> tuple[int, int]:
    """Insert the new items of source ``source_id`` and update the changed ones, in the
    caller's transaction (a feed's fetch, or an archive document); ``(new, updated)``.

    ``relevance``: verdicts by entry key; ``pages_wanted``: keys of items whose article page
    is to be read (an updated item among them has a new link, so its old page text goes)."""
    new = updated = 0
    for action in actions:
        entry = action.entry
        if action.kind == "same":  # kept as stored; the feed may list it twice
            _remember_hash(db, source_id, action.stored_id, entry.item_hash, only=False)
            continue
        verdict = relevance.get(entry.key)
        if action.kind == "new":
            if db.execute(
                "SELECT 1 FROM pruned WHERE source_id = ? AND key = ?", (source_id, entry.key)
            ).fetchone():
                continue  # pruned with --keep-days: not new, and not to be kept
            published = to_text(entry.published) or now
            inserted = db.execute(
                """INSERT INTO entries (key, guid, link, norm_link, title, author, html,
                       summary, text, categories, content_hash, source_id,
                       published_at, updated_at, first_seen_at, last_seen_at,
                       relevance, relevant, topics, page_wanted)
                   VALUES (:key, :guid, :link, :norm_link, :title, :author, :html,
                       :summary, :text, :categories, :content_hash, :source_id,
                       :published_at, :updated_at, :now, :now,
                       :relevance, :relevant, :topics, :page_wanted)""",
                {
                    **_entry_columns(entry),
                    **_verdict_columns(verdict),
                    "source_id": source_id,
                    "published_at": published,
                    "updated_at": to_text(entry.updated) or published,
                    "now": now,
                    "page_wanted": int(entry.key in pages_wanted),
                },
            ).lastrowid
            # a new row has no earlier hashes (a deleted row's went with it)
            _remember_hash(db, source_id, inserted, entry.item_hash, only=False)
            new += 1
            continue
        db.execute(
            """UPDATE entries SET key = :key, guid = :guid, link = :link, norm_link = :norm_link,
                   title = :title, author = :author, html = :html, summary = :summary,
                   text = :text, categories = :categories, content_hash = :content_hash,
                   updated_at = :updated_at, last_seen_at = :now,
                   published_at = COALESCE(:published_at, published_at)
               WHERE id = :id""",
            {
                **_entry_columns(entry),
                "updated_at": to_text(entry.updated) or now,
                "now": now,
                "published_at": to_text(entry.published),
                "id": action.stored_id,
            },
        )
        _remember_hash(db, source_id, action.stored_id, entry.item_hash)
        if entry.key in pages_wanted:  # a new link: its page is another one
            db.execute(
                "UPDATE entries SET page_wanted = 1, page_text = '', page_language = '', "
                "page_note = '' WHERE id = ?",
                (action.stored_id,),
            )
        if verdict is not None and action.stored_id is not None:
            write_verdict(db, action.stored_id, verdict)
        updated += 1
    return new, updated


def write_verdict(db: sqlite3.Connection, entry_id: int, verdict: Relevance) -> None:
    """A stored item's relevance, verdict and topics, scored again."""
    db.execute(
        "UPDATE entries SET relevance = :relevance, relevant = :relevant, topics = :topics "
        "WHERE id = :id",
        {**_verdict_columns(verdict), "id": entry_id},
    )


def read_items(db: sqlite3.Connection, where: str, params: tuple[object, ...]) -> list[StoredItem]:
    """The items matching ``where`` (SQL over ``entries e``), oldest first."""
    rows = db.execute(
        f"""SELECT e.id, e.key, e.link, e.norm_link, e.title, e.author, {TEXTS},
                   e.published_at, e.updated_at, e.relevance, e.relevant, e.topics,
                   e.page_text, e.page_language, e.page_note,
                   s.url AS source_url, s.title AS source_title
            FROM entries e JOIN sources s ON s.id = e.source_id
            WHERE {where} ORDER BY e.published_at, e.id""",
        params,
    ).fetchall()
    return [
        from_row(
            StoredItem,
            r,
            published_at=datetime.fromisoformat(r["published_at"]),
            updated_at=datetime.fromisoformat(r["updated_at"]),
            relevant=bool(r["relevant"]),
            topics=tuple(json.loads(r["topics"])),
            source_title=r["source_title"] or r["source_url"],
        )
        for r in rows
    ]


def _entry_columns(entry: FeedEntry) -> dict[str, object]:
    """The columns of an item that its feed entry gives, by name: its text is the text of
    its HTML (:class:`FeedEntry`), so none is kept, and its summary only when it is not the
    text."""
    remember_text(entry.html, entry.text)  # the index's trigger reads it, not derives it
    return {
        "key": entry.key,
        "guid": entry.guid,
        "link": entry.link,
        "norm_link": entry.norm_link,
        "title": entry.title,
        "author": entry.author,
        "html": entry.html,
        "summary": kept_summary(entry.summary, entry.text),
        "text": None,
        "categories": json.dumps(list(entry.categories), ensure_ascii=False),
        "content_hash": entry.content_hash,
    }


def _verdict_columns(verdict: Relevance | None) -> dict[str, object]:
    """The relevance, relevant and topics columns (an item not scored: the defaults)."""
    if verdict is None:
        return {"relevance": 0.0, "relevant": 0, "topics": "[]"}
    return {
        "relevance": verdict.score,
        "relevant": int(verdict.relevant),
        "topics": json.dumps(list(verdict.topics)),
    }


def _remember_hash(
    db: sqlite3.Connection,
    source_id: int,
    entry_id: int | None,
    item_hash: str | None,
    *,
    only: bool = True,
) -> None:
    """Keep ``item_hash`` for stored item ``entry_id``: the next fetch of its feed recognises
    the item by it, unchanged, without parsing it. ``only``: the item was just written from
    these bytes, so the hashes of its earlier versions go (bytes that return to an earlier
    version must be read again)."""
    if not item_hash or entry_id is None:
        return
    if only:
        db.execute(
            "DELETE FROM item_hashes WHERE entry_id = ? AND hash != ?", (entry_id, item_hash)
        )
    db.execute(
        "INSERT OR REPLACE INTO item_hashes (source_id, hash, entry_id) VALUES (?, ?, ?)",
        (source_id, item_hash, entry_id),
    )
