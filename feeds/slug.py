"""Slugs: the URL-safe names of articles and tags."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SYMBOLS = {"+": "plus", "&": "and", "#": "sharp", "@": "at"}


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens: "Indo-Pacific & China" -> "indo-pacific-china".

    Accents are folded rather than dropped ("Élysée" -> "elysee"), so slugs stay readable and
    plain ASCII URLs work in every reader. Text with no Latin letters at all (a Cyrillic tag)
    gets a short stable hash instead of an empty slug. Symbols that carry meaning are spelled
    out, so "C++" and "C" or "R&D" and "R-D" do not share a tag page.
    """
    spelled = text
    for symbol, word in _SYMBOLS.items():
        spelled = spelled.replace(symbol, f" {word} ")
    folded = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    if slug:
        return slug
    return "t-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def tag_dir(name: str) -> str:
    """Where a tag's feeds and page live, relative to the site root: ``tags/<slug>/``."""
    return f"tags/{slugify(name)}/"
