"""What a source's OPML categories mean for its items, and how an item is scored. Pure.

Two rules read the categories of the source list, both ignoring case, as OPML category
values are written by hand (``Official``, ``foreign-policy``):

* a source in ``foreign-policy`` or ``on-topic`` is wholly about EU foreign policy: every
  item of it is kept (see :mod:`sources.judge.relevance`);
* a source in ``official`` speaks for an institution: its item heads a story it belongs to.

:class:`Scoring` is the one way an item is scored, whether it was just fetched, read with
its article page, rescored after the topics changed, or explained: the taxonomy, with the
item's source looked up among the wholly on-topic ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sources.judge.relevance import Relevance, Taxonomy

ON_TOPIC_CATEGORIES = frozenset({"foreign-policy", "on-topic"})
OFFICIAL_CATEGORY = "official"


class Categorised(Protocol):
    """A source of the source list: its URL and its categories."""

    @property
    def url(self) -> str: ...

    @property
    def categories(self) -> tuple[str, ...]: ...


class FromSource(Protocol):
    """An item as far as scoring reads it: its words and the source it came from."""

    @property
    def title(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def source_url(self) -> str: ...


def is_on_topic_source(categories: Iterable[str]) -> bool:
    """A source whose categories say it is wholly about EU foreign policy (any case)."""
    return any(c.lower() in ON_TOPIC_CATEGORIES for c in categories)


def is_official_source(categories: Iterable[str]) -> bool:
    """A source whose categories say it is official (``official``, in any case)."""
    return any(c.lower() == OFFICIAL_CATEGORY for c in categories)


def official_sources(sources: Iterable[Categorised]) -> frozenset[str]:
    """The URLs of the official sources among ``sources``."""
    return frozenset(s.url for s in sources if is_official_source(s.categories))


@dataclass(frozen=True)
class Scoring:
    """The taxonomy and the sources whose items are all on-topic: how any item is scored."""

    taxonomy: Taxonomy
    on_topic_sources: frozenset[str] = frozenset()

    @classmethod
    def for_sources(cls, taxonomy: Taxonomy, sources: Iterable[Categorised]) -> Scoring:
        """The scoring of the items of ``sources`` (any other source is not on-topic)."""
        return cls(taxonomy, frozenset(s.url for s in sources if is_on_topic_source(s.categories)))

    def on_topic(self, source_url: str) -> bool:
        """Whether the source at ``source_url`` is wholly about EU foreign policy."""
        return source_url in self.on_topic_sources

    def score(self, item: FromSource, text: str, *, explain: bool = True) -> Relevance:
        """``item`` scored with ``text`` as its text (the feed's, or its article page's)."""
        return self.taxonomy.score(
            item.title,
            item.summary,
            text,
            on_topic=self.on_topic(item.source_url),
            explain=explain,
        )
