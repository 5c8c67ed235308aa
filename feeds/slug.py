"""Slugs: the URL-safe names of articles and tags."""

from __future__ import annotations

import hashlib
import re
import unicodedata


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens: "Indo-Pacific & China" -> "indo-pacific-china".

    Accents are folded rather than dropped ("Élysée" -> "elysee"), so slugs stay readable and
    plain ASCII URLs work in every reader. Text with no Latin letters at all (a Cyrillic tag)
    gets a short stable hash instead of an empty slug.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    if slug:
        return slug
    return "t-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
