"""The CPU work of a run, done in its parser processes: a feed parsed and its items scored.

``run`` and ``archives`` hand :func:`parse_and_score` to the worker pool (or call it in
process for a small change); the fork server preloads this module (``workers.PRELOAD``), so
each worker has the parser, the taxonomy's code and the page extractor before its first task.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sources.follow.feed_items import FeedItems
from sources.follow.memory import give_back_memory
from sources.follow.parse import MAX_ITEMS, ParsedFeed, parse_feed
from sources.judge.relevance import Relevance, Taxonomy
from sources.pages.text import warm_page_reader


@dataclass(frozen=True)
class SourceScoring:
    """How one source's items are judged: the topics, whether the source is wholly about EU
    foreign policy, and whether its items' pages are read (off, auto, on)."""

    taxonomy: Taxonomy
    on_topic: bool
    page_mode: str


_worker_taxonomy: Taxonomy | None = None  # set once per worker process by use_taxonomy


def _test_parse_delay() -> float:
    """Test hook: seconds each :func:`parse_and_score` sleeps first, from the environment
    variable ``COMMUNIQUE_TEST_PARSE_DELAY`` (unset, or not a number: none). Read once, when
    this module is imported (by the run, and by the fork server before it starts a parser
    process): a test sets it for one ``communique`` process to make parsing slower than
    fetching, and sees that the run holds its fetching back."""
    try:
        return max(0.0, float(os.environ.get("COMMUNIQUE_TEST_PARSE_DELAY", "0")))
    except ValueError:
        return 0.0


_TEST_PARSE_DELAY = _test_parse_delay()


def use_taxonomy(taxonomy: Taxonomy, reads_pages: bool = False) -> None:
    """Install the taxonomy that :func:`parse_and_score` uses when given none: run once in
    each worker, so the taxonomy is not pickled again with every feed. ``reads_pages``: the
    run will read article pages, so the worker loads the page extractor in the background
    while it parses feeds and waits for them, not when the first page arrives."""
    global _worker_taxonomy
    _worker_taxonomy = taxonomy
    if reads_pages:
        threading.Thread(target=warm_page_reader, daemon=True).start()


def parse_and_score(
    body: bytes,
    url: str,
    content_type: str | None,
    fetched_at: datetime,
    taxonomy: Taxonomy | None,
    on_topic: bool,
    max_items: int = MAX_ITEMS,
    known: frozenset[str] | None = None,
    items: FeedItems | None = None,
) -> tuple[ParsedFeed, dict[str, Relevance]]:
    """Parse a feed and score its entries, in a worker process: both are CPU work, and the
    main process is left to fetching and storing. ``taxonomy`` None: the one installed by
    :func:`use_taxonomy`. Verdicts travel back without their match lists (``explain``
    recomputes those). Items whose hash is in ``known`` (stored for the source) are neither
    parsed nor scored: only what changed costs anything."""
    if _TEST_PARSE_DELAY:
        time.sleep(_TEST_PARSE_DELAY)
    in_worker = taxonomy is None  # the pool's task: the worker's own taxonomy
    taxonomy = taxonomy if taxonomy is not None else _worker_taxonomy
    if taxonomy is None:
        raise RuntimeError("parse_and_score needs a taxonomy: none given or installed")
    parsed = parse_feed(
        body, url, content_type, fetched_at, max_items=max_items, known=known, items=items
    )
    verdicts = {
        entry.key: taxonomy.score(
            entry.title, entry.summary, entry.text, on_topic=on_topic, explain=False
        )
        for entry in parsed.entries
    }
    if in_worker:  # what parsing built is garbage now; the result is small (a parse on the
        give_back_memory(len(body))  # run's storing thread leaves that to the run itself)
    return parsed, verdicts
