"""Which storyline each of a digest's stories belongs to, kept from one digest to the next.
Pure.

Storylines are decided afresh each time from the stories around a digest
(:func:`sources.judge.storylines.group_storylines`), the earlier digests' stories
included. Their ids must not move with that decision: a reader subscribes to a storyline's
feed by its id. So a story keeps the storyline it was first shown in, and a storyline keeps
the id of its first story; a new story joins the storyline of the earliest known story it is
grouped with, else a storyline of its own, named after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sources.judge.stories import Story
from sources.judge.storylines import group_storylines
from sources.types import StoredItem


def _first(story: Story) -> tuple[object, ...]:
    """A story's place in time: its first item, earlier digests' included."""
    first = min((*story.earlier, *story.items), key=lambda i: (i.published_at, i.id))
    return (first.published_at, first.id, story.id)


def storyline_ids(
    stories: Sequence[Story],
    *,
    past: Sequence[Story] = (),
    known: Mapping[str, str] | None = None,
    background: Sequence[StoredItem] = (),
) -> dict[str, str]:
    """Story id -> storyline id for ``stories`` (a digest's).

    ``past``: earlier digests' stories near in time that did not go on in this period (their
    storylines may); ``known``: the storyline each story shown before was recorded in."""
    known = known or {}
    together = [*past, *stories]
    lines: dict[str, str] = {}
    for group in group_storylines(together, background=background):
        members = sorted((together[k] for k in group), key=_first)
        earliest_known = next((known[s.id] for s in members if s.id in known), None)
        line = earliest_known or members[0].id
        for story in members:
            lines[story.id] = known.get(story.id, line)
    return {story.id: lines[story.id] for story in stories}
