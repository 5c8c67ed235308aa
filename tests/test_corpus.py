"""The evaluation corpus stays what the benchmarks say it is: its size, and a split by story."""

from __future__ import annotations

import hashlib
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from corpus import load


def test_no_story_is_on_both_sides_of_the_split_and_the_rule_is_the_documented_one():
    sides: dict[str, set[str]] = defaultdict(set)
    for item in load("all"):
        sides[item.story].add(item.split)
        if item.corpus == "written" and item.kind != "offtopic":
            key = (min(item.story, item.pair) if item.pair else item.story).removeprefix("w:")
        else:
            key = item.story
        even = hashlib.sha1(key.encode()).digest()[0] % 2 == 0
        assert item.split == ("calibration" if even else "held-out"), item.id
    assert all(len(s) == 1 for s in sides.values())


def test_the_corpus_is_as_big_and_as_hard_as_the_issue_asks():
    items = load("all")
    written = [i for i in items if i.corpus == "written"]
    stories: dict[str, set[str]] = defaultdict(set)
    for item in written:
        if item.kind == "told":
            stories[item.story].add(item.source)
    twins = {tuple(sorted((i.story, i.pair))) for i in written if i.kind == "template"}
    assert len(written) >= 400
    assert sum(2 <= len(s) <= 4 for s in stories.values()) >= 50
    assert len(twins) >= 30
    assert sum(i.corpus == "real" for i in items) == 701
