"""Which countries, territories and regions a text names, however it names them. Pure.

News calls one place by many names: "Moldova", "Moldovan", "Chisinau"; "Türkiye" and
"Turkey"; "Kyiv" for Ukraine's government. Story grouping needs the place an item is about
as one identity, so that two retellings of one event share it whatever words they use, and
two releases drafted on one template about different countries are told apart. The names
are data (``places.toml``: every UN member state, the disputed and partly recognised
territories news writes about, and regions), looked up as whole-word phrases.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from sources.judge.phrases import PhraseIndex, phrase_tokens


@dataclass(frozen=True)
class Place:
    """One place: its id (ISO 3166 alpha-2 in lower case where one exists) and its name."""

    id: str
    name: str
    region: bool = False
    part_of: str | None = None  # Donbas is in Ukraine: the two never tell events apart


class Gazetteer:
    """Place names -> places; built once per process from ``places.toml``."""

    def __init__(self, data: dict[str, dict[str, object]]) -> None:
        self.places: dict[str, Place] = {}
        self._by_alias: dict[str, str] = {}
        for place_id, entry in data.items():
            name = str(entry.get("name", place_id))
            parent = entry.get("part_of")
            self.places[place_id] = Place(
                place_id, name, bool(entry.get("region", False)), str(parent) if parent else None
            )
            for alias in [name.lower(), *entry.get("aliases", [])]:  # type: ignore[misc]
                key = " ".join(phrase_tokens(str(alias)))
                self._by_alias.setdefault(key, place_id)
        self._index = PhraseIndex(list(self._by_alias))
        self._with_parents: dict[frozenset[str], frozenset[str]] = {}

    def with_parents(self, place_ids: frozenset[str]) -> frozenset[str]:
        """``place_ids`` and the places they are part of (asked three times for every item a
        digest groups, for few distinct sets: remembered)."""
        known = self._with_parents.get(place_ids)
        if known is None:
            parents = {self.places[p].part_of for p in place_ids if p in self.places}
            known = place_ids | frozenset(p for p in parents if p)
            if len(self._with_parents) < 100_000:
                self._with_parents[place_ids] = known
        return known

    @property
    def names(self) -> frozenset[str]:
        """Every name of every place, as whole-word phrases ("republic of moldova")."""
        return frozenset(self._by_alias)

    def mentions(self, text: str) -> list[tuple[Place, str]]:
        """Every mention of a place in ``text``, in order: ``(place, the name used)``."""
        return [
            (self.places[self._by_alias[phrase]], phrase)
            for _, _, phrase in self._index.find(phrase_tokens(text))
        ]

    def find(self, text: str) -> tuple[Place, ...]:
        """The places ``text`` names, in order of first mention, each once."""
        found: dict[str, Place] = {}
        for place, _ in self.mentions(text):
            found.setdefault(place.id, place)
        return tuple(found.values())


@cache
def gazetteer() -> Gazetteer:
    """The shipped gazetteer (read once per process)."""
    text = files("sources.judge").joinpath("places.toml").read_text(encoding="utf-8")
    return Gazetteer(tomllib.loads(text))
