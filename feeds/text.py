"""Plain text: characters XML cannot carry, text out of HTML, and cutting at a word boundary."""

from __future__ import annotations

import html
import re

# XML 1.0 allows tab, newline, carriage return and most of Unicode; everything else here
# (C0 controls, lone surrogates, U+FFFE/U+FFFF) makes a feed unparsable in strict readers.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(
    r"</(?:p|div|h[1-6]|li|blockquote|pre|tr|figure|figcaption)>|<br\s*/?>", re.I
)
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids."""
    return _XML_FORBIDDEN.sub("", text)


def html_to_text(fragment: str) -> str:
    """The readable text of an HTML fragment: tags dropped, entities decoded, spaces folded."""
    spaced = _BLOCK_END.sub(" ", fragment)
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", spaced))).strip()


def cut_at_word(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` characters at a word boundary, with an ellipsis.

    Prefers ending on a whole sentence when one ends in the last third of the allowance, so an
    excerpt reads as prose rather than as a fragment.
    """
    if len(text) <= limit:
        return text
    window = text[: limit + 1]
    sentence_end = max(window.rfind(". "), window.rfind("! "), window.rfind("? "))
    if sentence_end >= limit * 2 // 3:
        return window[: sentence_end + 1]
    cut = window.rfind(" ")
    if cut <= 0:
        cut = limit
    return window[:cut].rstrip(" ,;:-–—") + "…"


_HAS_ALNUM = re.compile(r"[^\W_]")  # the characters str.isalnum() accepts, in one regex pass


def word_count(text: str) -> int:
    """Words as a reader counts them (whitespace-separated runs containing a letter or digit)."""
    return sum(1 for word in text.split() if _HAS_ALNUM.search(word))


WORDS_PER_MINUTE = 230


def reading_minutes(text: str) -> int:
    """Minutes to read ``text`` at an adult's silent-reading pace, at least one."""
    return max(1, -(-word_count(text) // WORDS_PER_MINUTE))
