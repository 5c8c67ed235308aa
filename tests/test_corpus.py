"""The evaluation corpus stays what the benchmarks say it is: its size, its splits, its sources."""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from corpus import REAL, days, load
from real_days import reserved


def test_no_written_story_is_on_both_sides_of_the_split_and_the_rule_is_the_documented_one():
    sides: dict[str, set[str]] = defaultdict(set)
    for item in load("all", parts=("written",)):
        sides[item.story].add(item.split)
        if item.kind != "offtopic":
            key = (min(item.story, item.pair) if item.pair else item.story).removeprefix("w:")
        else:
            key = item.story
        even = hashlib.sha1(key.encode()).digest()[0] % 2 == 0
        assert item.split == ("calibration" if even else "held-out"), item.id
    assert all(len(s) == 1 for s in sides.values())


def test_the_written_corpus_is_as_big_and_as_hard_as_issue_9_asks():
    written = load("all", parts=("written",))
    stories: dict[str, set[str]] = defaultdict(set)
    for item in written:
        if item.kind == "told":
            stories[item.story].add(item.source)
    twins = {tuple(sorted((i.story, i.pair))) for i in written if i.kind == "template"}
    assert len(written) >= 400
    assert sum(2 <= len(s) <= 4 for s in stories.values()) >= 50
    assert len(twins) >= 30


def test_the_real_days_are_as_many_and_as_varied_as_issue_19_asks():
    listed = days()
    assert len(listed) >= 12
    assert sum(d.kind == "summit" for d in listed) >= 4
    assert sum(d.kind == "ordinary" for d in listed) >= 3
    years = {d.day[:4] for d in listed}
    assert len(years) >= 3, years
    for split in ("calibration", "held-out"):
        kinds = {d.kind for d in listed if d.split == split}
        assert kinds == {"summit", "ordinary"}, (split, kinds)
    for day in listed:
        assert not reserved(date.fromisoformat(day.day)), day.day  # kept for outside evaluation
        items = [i for i in load("all", parts=("real",)) if i.day == day.day]
        assert len({i.source for i in items}) >= 15, day.day
        assert {i.split for i in items} == {day.split}  # a day is on one side, whole


def test_every_real_day_was_labelled_twice_and_adjudicated_with_the_same_items():
    for day in days():
        with (REAL / f"real-{day.day}.jsonl").open(encoding="utf-8") as stream:
            records = [json.loads(line) for line in stream]
        ids = [r["id"] for r in records]
        for name in (
            f"labels-{day.day}.tsv",
            f"labellers/{day.day}-A.tsv",
            f"labellers/{day.day}-B.tsv",
        ):
            with (REAL / name).open(encoding="utf-8") as stream:
                labelled = [row["id"] for row in csv.DictReader(stream, delimiter="\t")]
            assert sorted(labelled) == sorted(ids), name
        for record in records:  # only what a feed carries, with where it came from
            assert set(record) <= {
                "id", "source", "official", "published", "title", "summary", "link", "feed",
                "provenance",
            }, record["id"]  # fmt: skip
            assert record["provenance"]["repository"].startswith("rumca-js/RSS-Link-Database-")
            assert len(record["provenance"]["commit"]) == 40 and record["provenance"]["path"]


def test_every_run_of_days_was_labelled_twice_and_adjudicated_on_the_items_its_kind_says():
    """A run labelled on ``every item`` holds each item of its days; one labelled on its
    ``candidates`` holds exactly what bench/candidates.py picks; both labellers and the
    adjudicated labels hold the same items, story ids shared across the run's days."""
    from candidates import candidates
    from continuity import LABELLERS, RUNS, runs

    listed = runs()
    assert {r.split for r in listed} == {"calibration", "held-out"}
    assert {r.labelled for r in listed} == {"every item", "candidates"}
    for run in listed:
        for day in run.days:
            assert not reserved(date.fromisoformat(day)), day  # kept for outside evaluation
            if run.every_item:
                with (REAL / f"real-{day}.jsonl").open(encoding="utf-8") as stream:
                    ids = [json.loads(line)["id"] for line in stream]
            else:
                ids = [r["id"] for r in candidates(day)]
            for path in (RUNS / f"labels-{day}.tsv", LABELLERS / f"A-{day}.tsv",
                         LABELLERS / f"B-{day}.tsv"):  # fmt: skip
                with path.open(encoding="utf-8") as stream:
                    rows = list(csv.DictReader(stream, delimiter="\t"))
                assert sorted(r["id"] for r in rows) == sorted(ids), path.name
                for row in rows:
                    assert row["relevant"] in {"0", "1"}, (path.name, row["id"])
                    assert bool(row["storyline"]) == (row["relevant"] == "1"), row["id"]
                    assert row["story"].startswith("S"), (path.name, row["id"])
