"""What one aggregate run did: counts for the terminal, ``--json`` and the progress line.

Its own module because both halves of a run add to it: the polls of the current feeds
(``run``) and the history walks (``archives``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sources.pages.reader import PagesSummary


@dataclass
class RunSummary:
    """What a run did, for the terminal and for ``--json``."""

    sources: int = 0
    ok: int = 0
    not_modified: int = 0
    unchanged: int = 0
    failed: int = 0
    gone: int = 0
    new: int = 0
    updated: int = 0
    items_parsed: int = 0  # entries parsed and scored (new, edited, or not yet hashed)
    items_unchanged: int = 0  # items recognised by the hash of their bytes, not parsed
    archives: int = 0  # RFC 5005 archive documents read (each once, ever)
    moved: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    pages: PagesSummary = field(default_factory=PagesSummary)

    def as_dict(self) -> dict[str, object]:
        """The summary as plain data (``--json``)."""
        return {
            "sources": self.sources,
            "ok": self.ok,
            "not_modified": self.not_modified,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "gone": self.gone,
            "items_new": self.new,
            "items_updated": self.updated,
            "moved": [{"from": a, "to": b} for a, b in self.moved],
            "failures": [{"url": u, "error": m} for u, m in self.failures],
            "archives": self.archives,
            "pages": self.pages.as_dict(),
        }
