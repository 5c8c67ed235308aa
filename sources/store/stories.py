"""Stories followed from one digest to the next: the story each shown item was placed in,
and each story's storyline.

A digest decides its stories (:func:`sources.judge.stories.follow_stories`) and records here
where each of its items went; the next digest reads those placements back, so a story that
goes on keeps its id, and making a digest again gives the same stories. An item's placement
is written once (the first digest that showed it) and goes with the item when it is pruned.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sources.store.connection import Part
from sources.store.items import read_items
from sources.store.times import to_text
from sources.types import StoredItem


@dataclass(frozen=True)
class Placed:
    """Where a stored item was shown: its story, that story's storyline, and the digest
    (its name, such as ``2026-12-14``) the item first appeared in."""

    story: str
    storyline: str
    day: str


@dataclass(frozen=True)
class StorylineRow:
    """One storyline as ``communique storylines`` lists it."""

    id: str
    title: str
    stories: int
    items: int
    first_day: str  # the first digest that showed it
    last_day: str  # the latest


class StoriesPart(Part):
    """The story_items and stories tables."""

    def placed(self, since: datetime, until: datetime) -> dict[int, Placed]:
        """Item id -> where it was shown, for the items published from ``since`` to
        ``until`` that a digest showed."""
        rows = self.db.execute(
            "SELECT p.entry_id, p.story, COALESCE(s.storyline, p.story) AS storyline, p.day "
            "FROM story_items p JOIN entries e ON e.id = p.entry_id "
            "LEFT JOIN stories s ON s.id = p.story "
            "WHERE e.published_at >= ? AND e.published_at < ?",
            (to_text(since), to_text(until)),
        ).fetchall()
        return {r["entry_id"]: Placed(r["story"], r["storyline"], r["day"]) for r in rows}

    def story_starts(self, stories: Collection[str]) -> dict[str, datetime]:
        """Each of ``stories``' first item's date: where the story's window begins."""
        rows = self.db.execute(
            "SELECT p.story, MIN(e.published_at) AS start FROM story_items p "
            "JOIN entries e ON e.id = p.entry_id "
            "WHERE p.story IN (SELECT value FROM json_each(?)) GROUP BY p.story",
            (json.dumps(sorted(stories)),),
        ).fetchall()
        return {r["story"]: datetime.fromisoformat(r["start"]) for r in rows}

    def item_placed(self, item_id: int) -> Placed | None:
        """Where one item was shown, if a digest showed it."""
        row = self.db.execute(
            "SELECT p.story, COALESCE(s.storyline, p.story) AS storyline, p.day "
            "FROM story_items p LEFT JOIN stories s ON s.id = p.story WHERE p.entry_id = ?",
            (item_id,),
        ).fetchone()
        return Placed(row["story"], row["storyline"], row["day"]) if row else None

    def record_stories(
        self,
        day: str,
        items: Mapping[int, str],
        storylines: Mapping[str, str],
        titles: Mapping[str, str] | None = None,
    ) -> None:
        """The digest ``day`` showed ``items`` (item id -> story id) in stories whose
        storylines are ``storylines`` (story id -> storyline id), named ``titles``
        (storyline id -> title). What was recorded before is kept: an item stays where it
        first appeared, a story in its first storyline; a storyline takes the title and the
        name of the latest digest that showed it."""
        with self.transaction() as db:
            db.executemany(
                # digests compared by their last day (a weekly digest is named FIRST--LAST)
                "INSERT INTO storylines (id, title, day) VALUES (?, ?, ?) ON CONFLICT (id) "
                "DO UPDATE SET title = excluded.title, day = excluded.day "
                "WHERE substr(excluded.day, -10) >= substr(storylines.day, -10)",
                [(line, title, day) for line, title in sorted((titles or {}).items())],
            )
            db.executemany(
                "INSERT OR IGNORE INTO story_items (entry_id, story, day) VALUES (?, ?, ?)",
                [(item, story, day) for item, story in sorted(items.items())],
            )
            db.executemany(
                "INSERT OR IGNORE INTO stories (id, storyline, day) VALUES (?, ?, ?)",
                [(story, line, day) for story, line in sorted(storylines.items())],
            )

    def storyline_items(
        self, storyline: str, until: datetime | None = None
    ) -> list[tuple[StoredItem, Placed]]:
        """Every stored item of ``storyline``'s stories (published before ``until``: the
        storyline as a digest ending then saw it), oldest first, with its placement."""
        where = (
            "e.id IN (SELECT p.entry_id FROM story_items p JOIN stories s ON s.id = p.story "
            "WHERE s.storyline = ?) AND e.published_at < ?"
        )
        items = read_items(self.db, where, (storyline, to_text(until) if until else "9999"))
        placed = {
            r["entry_id"]: Placed(r["story"], storyline, r["day"])
            for r in self.db.execute(
                "SELECT p.entry_id, p.story, p.day FROM story_items p "
                "JOIN stories s ON s.id = p.story WHERE s.storyline = ?",
                (storyline,),
            )
        }
        return [(item, placed[item.id]) for item in items]

    def storylines(self) -> list[StorylineRow]:
        """Every storyline a digest showed, the latest first: its title, how many stories
        and items, and the first and last digests that showed it."""
        rows = self.db.execute(
            """SELECT l.id, l.title, l.day AS last_day, COUNT(DISTINCT s.id) AS stories,
                   COUNT(p.entry_id) AS items, MIN(substr(p.day, -10)) AS first_end
               FROM storylines l JOIN stories s ON s.storyline = l.id
               JOIN story_items p ON p.story = s.id
               GROUP BY l.id ORDER BY l.day DESC, l.id"""
        ).fetchall()
        firsts = {  # the digest named after that first end (a daily one, if any)
            (r["story_end"], r["storyline"]): r["day"]
            for r in self.db.execute(
                "SELECT s.storyline, p.day, substr(p.day, -10) AS story_end FROM story_items p "
                "JOIN stories s ON s.id = p.story ORDER BY length(p.day) DESC, p.day DESC"
            )
        }
        return [
            StorylineRow(
                r["id"],
                r["title"],
                r["stories"],
                r["items"],
                firsts.get((r["first_end"], r["id"]), r["first_end"]),
                r["last_day"],
            )
            for r in rows
        ]
