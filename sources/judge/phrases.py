"""Finding many whole-word phrases in text at once: the taxonomy's terms, place names. Pure.

Relevance looks for hundreds of weighted terms in every item, and story grouping for every
name of every country; both need "whole words, longest phrase first" at the cost of a
dictionary lookup per word, not a regular expression per phrase.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+|[^\w\s]")


def phrase_tokens(text: str) -> list[str]:
    """Words and single punctuation marks, lower case: "EU-China" -> eu, -, china."""
    return _TOKEN.findall(text.lower())


class PhraseIndex:
    """Finds whole-word phrases in token lists with a dictionary, not a regular expression.

    One alternation of hundreds of phrases costs milliseconds per item (Python's regex
    engine tries every alternative at every position); a lookup by first word costs
    microseconds. A trailing ``*`` on a phrase's last word matches any ending.
    """

    def __init__(self, phrases: list[str]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], bool, str]]] = {}
        self._by_prefix: dict[str, list[tuple[str, str]]] = {}  # one-word wildcards, by 3 letters
        for phrase in phrases:
            wildcard = phrase.endswith("*")
            words = tuple(phrase_tokens(phrase.rstrip("*")))
            if not words:
                continue
            if wildcard and len(words) == 1:
                self._by_prefix.setdefault(words[0][:3], []).append((words[0], phrase))
            else:
                self._by_first.setdefault(words[0], []).append((words, wildcard, phrase))
        for candidates in self._by_first.values():
            candidates.sort(key=lambda c: -len(c[0]))

    def find(self, tokens: list[str]) -> list[tuple[int, int, str]]:
        """``(start, end, phrase)`` of non-overlapping matches, longest first at each position."""
        found: list[tuple[int, int, str]] = []
        by_first, by_prefix = self._by_first, self._by_prefix
        count = len(tokens)
        # Most tokens start no phrase: one comprehension finds the few that may, far faster
        # than stepping through every token in a loop (and most lists hold none at all).
        # The test runs once per distinct word, not once per token (a text repeats its words:
        # a long one has a third as many distinct words as tokens).
        if by_prefix:
            starts = {t for t in set(tokens) if t in by_first or t[:3] in by_prefix}
        else:
            starts = by_first.keys() & set(tokens)
        if not starts:
            return found
        candidates = [i for i, token in enumerate(tokens) if token in starts]
        after = 0  # where the last match ended
        for start in candidates:
            if start < after:  # inside the last match
                continue
            token = tokens[start]
            best: tuple[int, str] | None = None
            for words, wildcard, phrase in by_first.get(token, ()):
                end = start + len(words)
                if end > count:
                    continue
                last_ok = (
                    tokens[end - 1].startswith(words[-1])
                    if wildcard
                    else tokens[end - 1] == words[-1]
                )
                if last_ok and tokens[start : end - 1] == list(words[:-1]):
                    best = (end, phrase)
                    break
            if best is None:
                for prefix, phrase in by_prefix.get(token[:3], ()):
                    if token.startswith(prefix):
                        best = (start + 1, phrase)
                        break
            if best is None:
                continue
            found.append((start, best[0], best[1]))
            after = best[0]
        return found
