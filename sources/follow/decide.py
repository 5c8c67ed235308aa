"""What to do with each parsed entry, given what is stored: the aggregator's Decider. Pure.

An entry is the stored item with the same key (guid, else normalised link, else a hash of
title and date); failing that, the stored item with the same normalised link (the feed
changed its guids). A matched entry whose content changed is updated in place; one that did
not change is left alone, so re-running a fetch changes nothing that did not change upstream.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sources.types import Action, FeedEntry, KnownItem


def decide_entries(
    stored: Sequence[KnownItem],
    parsed: Sequence[FeedEntry],
    *,
    home_link: str | None = None,
    unchanged: Collection[int] = (),
) -> list[Action]:
    """One action per parsed entry, in feed order.

    Keys are matched first, for the whole batch, and only then links: an item that kept its
    guid is never taken by a newer item that merely shares its link. A link identifies an item
    only if it is unique (among stored items and in the batch) and is not the feed's home
    page: feeds whose every item links to the home page would otherwise merge their items.

    ``unchanged``: stored items the feed still lists byte for byte (recognised by hash, not
    parsed). They are part of the batch: claimed, so no new item takes them by link, and an
    entry with the key of one of them is that item listed twice, kept as stored.
    """
    by_key = {s.key: s for s in stored}
    listed = set(unchanged)
    matches: list[KnownItem | None] = [by_key.get(entry.key) for entry in parsed]
    claimed = {m.id for m in matches if m is not None} | listed
    batch_links = [e.norm_link for e in parsed] + [s.norm_link for s in stored if s.id in listed]
    shared = _repeated([s.norm_link for s in stored]) | _repeated(batch_links)
    if home_link:
        shared.add(home_link)
    by_link: dict[str, KnownItem] = {}
    for item in stored:
        if item.norm_link and item.id not in claimed and item.norm_link not in shared:
            by_link[item.norm_link] = item
    actions = []
    seen: set[int] = set()
    for entry, match in zip(parsed, matches, strict=True):
        if match is None and entry.norm_link and entry.norm_link in by_link:  # a changed guid
            match = by_link.pop(entry.norm_link)
        if match is not None and match.id in listed:  # listed twice: the stored one stands
            actions.append(Action("same", entry, match.id))
            continue
        if match is None or match.id in seen:
            actions.append(Action("new", entry))
            continue
        seen.add(match.id)
        if match.content_hash == entry.content_hash and match.key == entry.key:
            actions.append(Action("same", entry, match.id))
        else:
            actions.append(Action("updated", entry, match.id))
    return actions


def _repeated(links: Sequence[str | None]) -> set[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for link in links:
        if link:
            (repeated if link in seen else seen).add(link)
    return repeated
