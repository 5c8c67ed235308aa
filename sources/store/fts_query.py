"""What an analyst types into ``communique search``, as an SQLite FTS5 query. Pure.

An analyst types words: ``EU-China summit``, ``Kallas's visit``, ``U.S. tariffs``,
``sanctions.``. Handed to FTS5 as they are, each of these is a syntax error (``-``, ``'``,
``.`` and ``,`` are operators or nothing FTS5 knows), so the query is read as words by
default: every word becomes an FTS5 string of its own, which FTS5 splits with the same
tokenizer as the text, so ``EU-China`` is the phrase *EU China* and ``sanctions.`` is
*sanctions*; text in double quotes is one phrase; an item must contain them all.

FTS5's own syntax (``AND``, ``OR``, ``NOT``, ``NEAR(...)``, ``prefix*``, ``title:``) is
there with ``--fts``. It is never guessed from the words: a query means the same thing
whatever it contains, and an analyst searching for "NOT" or "C++" gets words, not an error.
:func:`fts_syntax` only says when a query looks written for FTS5, so the command can say
once that ``--fts`` exists.
"""

from __future__ import annotations

import re

ECHO_CHARS = 80  # a query is quoted back in messages at most this long
# a "phrase" (to the next quote, or to the end when none closes it), else a word
_TERM = re.compile(r'"([^"]*)(?:"|$)|([^\s"]+)')
_TOKEN_CHARACTER = re.compile(r"[^\W_]")  # what FTS5's unicode61 tokenizer keeps
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OPERATOR = re.compile(
    r"(?:^|\s)(?:AND|OR|NOT)\s+\S|(?:^|\s)NEAR\(|\w\*(?:\s|$)|"
    r"(?:^|\s)\{?(?:title|summary|text|page_text)\}?\s*:",
)


def words_query(text: str) -> str:
    """The FTS5 query that finds items containing every word and "quoted phrase" of
    ``text``; "" when ``text`` has no letter or digit to search for."""
    terms = []
    for match in _TERM.finditer(_CONTROL.sub(" ", text)):
        term = " ".join((match.group(1) if match.group(1) is not None else match.group(2)).split())
        if _TOKEN_CHARACTER.search(term):  # punctuation alone is no word: FTS5 drops it
            terms.append(f'"{term}"')
    return " ".join(terms)


def fts_syntax(text: str) -> bool:
    """Whether ``text`` looks written in FTS5's query syntax (an upper-case ``AND``/``OR``/
    ``NOT`` before a word, ``NEAR(``, a word ending in ``*``, a column filter)."""
    return bool(_OPERATOR.search(text))


def echo(text: str) -> str:
    """``text`` as messages quote it: on one line, at most :data:`ECHO_CHARS` characters."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    return line if len(line) <= ECHO_CHARS else line[: ECHO_CHARS - 1] + "…"
