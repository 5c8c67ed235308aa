"""Plain text: characters XML cannot carry, text out of HTML, and cutting at a word boundary."""

from __future__ import annotations

import html
import html.entities
import re

# XML 1.0 forbids C0 controls (but tab, newline, carriage return), lone surrogates and
# U+FFFE/U+FFFF: strict readers refuse the whole feed. It also discourages DEL, the C1
# controls and every Unicode noncharacter, and U+FFFD only marks text already lost; the W3C
# validator reports them all, so all are dropped.
_NONCHARACTERS = "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
# Two classes, not one: a class of characters all below U+10000 is a bitmap to Python's
# regular expressions, one lookup a character, while a class that also names the astral
# noncharacters is a list of ranges tried in turn, 8x slower over the megabytes of text a
# run reads. The astral class is searched only in text that has an astral character.
_XML_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffd\ufffe\uffff]"
)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ASTRAL_FORBIDDEN = re.compile("[" + _NONCHARACTERS[2:] + "]")
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(
    r"</(?:p|div|h[1-6]|li|blockquote|pre|tr|figure|figcaption)>|<br\s*/?>", re.I
)
_SPACE = re.compile(r"\s+")
_HTML_END_TAG = re.compile(r"</[A-Za-z][A-Za-z0-9]*\s*>")
_ENTITY = re.compile(r"&(#?\w+);")


_ASCII_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids or discourages (see above)."""
    if text.isascii():  # most text: a much smaller character class to search
        return _ASCII_FORBIDDEN.sub("", text)
    text = _XML_FORBIDDEN.sub("", text)
    return _ASTRAL_FORBIDDEN.sub("", text) if _ASTRAL.search(text) else text


def html_to_text(fragment: str) -> str:
    """The readable text of an HTML fragment: tags dropped, entities decoded, spaces folded."""
    spaced = _BLOCK_END.sub(" ", fragment)
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", spaced))).strip()


def cut_at_word(text: str, limit: int, *, sentences: bool = True) -> str:
    """``text`` shortened to at most ``limit`` characters at a word boundary, with an ellipsis.

    Prefers ending on a whole sentence when one ends in the last third of the allowance, so an
    excerpt reads as prose rather than as a fragment. ``sentences=False`` (a title) always
    ends with the ellipsis: a title cut at a full stop would not show that it was cut.
    """
    if len(text) <= limit:
        return text
    window = text[: limit + 1]
    sentence_end = max(window.rfind(". "), window.rfind("! "), window.rfind("? "))
    if sentences and sentence_end >= limit * 2 // 3:
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


def looks_like_html(text: str) -> bool:
    """True for text with an HTML end tag (``</b>``) or entity (``&amp;``): markup, not text.

    Titles and tags are plain text in Atom, RSS and JSON Feed alike; one that carries tags
    shows them literally in some readers and as markup in others (the W3C validator warns).
    """
    if _HTML_END_TAG.search(text):
        return True
    return any(
        name.startswith("#") or name in html.entities.name2codepoint or name == "apos"
        for name in _ENTITY.findall(text)
    )


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~#!])")


_MARKDOWN_LINE_START = re.compile(r"^(\d+)([.)])(?=\s|$)|^([-+=])(?=\s|$)")


def escape_markdown(text: str) -> str:
    """One line of prose safe in CommonMark: every character with a meaning there escaped,
    and a start that would open a list (``1. ``, ``- ``) or a heading underline made literal."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))
    return _MARKDOWN_LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", escaped)
