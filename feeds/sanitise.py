"""One HTML sanitiser for everything communique shows: articles' HTML and feeds' entries.

Feed readers render entry HTML out of context: a relative ``src`` points at the reader's own
host (Hugo #7272, jekyll-feed #185), and any ``<script>`` or ``on*`` attribute is an attack on
the subscriber. So every fragment goes through one nh3 pass that also resolves
``href``/``src``/``srcset``/``poster`` against the fragment's own URL. Publishing sanitises the
HTML its Markdown gives; the aggregator, every entry a feed sends: its own module, so the
aggregator loads no Markdown to sanitise.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from urllib.parse import urljoin, urlsplit

import nh3

from feeds.text import clean_text

_TAGS = set(nh3.ALLOWED_TAGS) | {"picture", "source", "video", "audio", "track"}
_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
}
for _tag, _extra in {
    "a": {"title"},
    "img": {"srcset", "sizes", "title", "loading"},
    "source": {"src", "srcset", "type", "media", "sizes"},
    "video": {
        "src",
        "poster",
        "controls",
        "width",
        "height",
        "preload",
        "loop",
        "muted",
        "playsinline",
    },
    "audio": {"src", "controls", "preload", "loop", "muted"},
    "track": {"src", "kind", "srclang", "label", "default"},
    "abbr": {"title"},
    "*": {"lang", "dir"},
}.items():
    _ATTRIBUTES.setdefault(_tag, set()).update(_extra)
_URL_ATTRIBUTES = {"href", "src", "poster", "cite"}
_SAFE_SCHEMES = {"http", "https", "mailto", "tel"}
_SAFE_SRCSET_SCHEMES = {"http", "https"}
# one srcset candidate: leading spaces/commas, a URL (no spaces), optional descriptors up to a comma
_SRCSET_CANDIDATE = re.compile(r"[\s,]*([^\s]+)((?:\s+[^,\s]+)*)\s*,?")


_BASE_URL: ContextVar[str] = ContextVar("base_url")


def _absolutise(tag: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: URLs made absolute against the fragment's base, unsafe ones dropped."""
    if attribute in _URL_ATTRIBUTES:
        value = value.strip()
        if value.startswith(("https://", "http://")):  # already absolute: the common case
            return value
        url = urljoin(_BASE_URL.get(), value)
        return url if urlsplit(url).scheme.lower() in _SAFE_SCHEMES else None
    if attribute == "srcset":
        return _absolute_srcset(value, _BASE_URL.get())
    return value


# One cleaner for the whole process: building nh3's rules on every call costs more than
# cleaning a short summary. The base URL reaches the filter through a context variable.
_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    attribute_filter=_absolutise,
    link_rel=None,
    strip_comments=True,
)


def sanitise(fragment: str, base_url: str) -> str:
    """Safe HTML: no scripts, frames, event handlers or ``javascript:`` URLs; every URL absolute.

    Also strips the characters XML cannot carry, so the result can go into any feed as is.
    """
    token = _BASE_URL.set(base_url)
    try:
        return clean_text(_CLEANER.clean(fragment))
    finally:
        _BASE_URL.reset(token)


def _absolute_srcset(value: str, base_url: str) -> str | None:
    """``srcset`` with every candidate URL absolute; unsafe candidates dropped.

    Candidates are parsed as the HTML standard does (a URL is a run of non-space characters,
    so a comma inside a URL does not split it), not by splitting on every comma.
    """
    candidates = []
    for url, descriptor in _SRCSET_CANDIDATE.findall(value):
        url = url.rstrip(",")
        absolute = urljoin(base_url, url)
        if url and urlsplit(absolute).scheme.lower() in _SAFE_SRCSET_SCHEMES:
            candidates.append(f"{absolute} {descriptor.strip()}".strip())
    return ", ".join(candidates) or None
