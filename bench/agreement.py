"""How far the two labellers of each real day agree: the ceiling the grouping is judged by.

Run from the repository root::

    .venv/bin/python bench/agreement.py

For each day of ``tests/data/real/days.tsv`` with both labellers' files
(``tests/data/real/labellers/DAY-A.tsv`` and ``-B.tsv``, labelled independently under
``LABELLING.md``): Cohen's kappa of their relevance labels, and the B-cubed F1 and pairwise
F1 of one labeller's stories scored against the other's, over all items and over the items
the adjudicated labels call relevant; then the same over each part of the split, pooled.
Two careful editors split a day's news into events this alike: a program that matches one
of them as well as they match each other is as good as the labels can show.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from corpus import REAL, days  # noqa: E402

Labels = dict[str, dict[str, str]]


def read(path: Path) -> Labels:
    with path.open(encoding="utf-8") as stream:
        return {row["id"]: row for row in csv.DictReader(stream, delimiter="\t")}


def kappa(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Cohen's kappa of two yes/no labellings of the same items."""
    n = len(a)
    if not n:
        return 1.0
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def b_cubed(gold: dict[str, str], other: dict[str, str]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of ``other``'s grouping scored against ``gold``'s."""
    by_gold: dict[str, set[str]] = defaultdict(set)
    by_other: dict[str, set[str]] = defaultdict(set)
    for item, story in gold.items():
        by_gold[story].add(item)
        by_other[other[item]].add(item)
    precision = recall = 0.0
    for item in gold:
        mine, theirs = by_other[other[item]], by_gold[gold[item]]
        shared = len(mine & theirs)
        precision += shared / len(mine)
        recall += shared / len(theirs)
    n = len(gold) or 1
    p, r = precision / n, recall / n
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def pairwise_f1(gold: dict[str, str], other: dict[str, str]) -> float:
    def pairs(grouping: dict[str, str]) -> set[tuple[str, str]]:
        members: dict[str, list[str]] = defaultdict(list)
        for item, story in grouping.items():
            members[story].append(item)
        return {(x, y) for g in members.values() for x in g for y in g if x < y}

    mine, theirs = pairs(other), pairs(gold)
    if not mine and not theirs:
        return 1.0
    hit = len(mine & theirs)
    p = hit / len(mine) if mine else 1.0
    r = hit / len(theirs) if theirs else 1.0
    return 2 * p * r / (p + r) if p + r else 0.0


def compare(a: Labels, b: Labels, final: Labels) -> dict[str, float]:
    ids = list(final)
    relevant = [i for i in ids if final[i]["relevant"] == "1"]
    stories_a = {i: a[i]["story"] for i in ids}
    stories_b = {i: b[i]["story"] for i in ids}
    return {
        "items": len(ids),
        "relevant": len(relevant),
        "kappa": kappa(
            [a[i]["relevant"] == "1" for i in ids], [b[i]["relevant"] == "1" for i in ids]
        ),
        "b3_all": b_cubed(stories_a, stories_b)[2],
        "pf1_all": pairwise_f1(stories_a, stories_b),
        "b3_relevant": b_cubed(
            {i: stories_a[i] for i in relevant}, {i: stories_b[i] for i in relevant}
        )[2],
        "pf1_relevant": pairwise_f1(
            {i: stories_a[i] for i in relevant}, {i: stories_b[i] for i in relevant}
        ),
    }


def main() -> int:
    rows: dict[str, list[tuple[str, Labels, Labels, Labels]]] = defaultdict(list)
    print("day         split        items relevant  kappa  B3 all  pF1 all  B3 rel  pF1 rel")
    for day in days():
        a_path = REAL / "labellers" / f"{day.day}-A.tsv"
        b_path = REAL / "labellers" / f"{day.day}-B.tsv"
        if not (a_path.exists() and b_path.exists()):
            print(f"{day.day}  {day.split:<12} (one labelling only)")
            continue
        a, b, final = read(a_path), read(b_path), read(REAL / f"labels-{day.day}.tsv")
        figures = compare(a, b, final)
        rows[day.split].append((day.day, a, b, final))
        print(
            f"{day.day}  {day.split:<12} {figures['items']:>5} {figures['relevant']:>8}  "
            f"{figures['kappa']:.3f}  {figures['b3_all']:.3f}   {figures['pf1_all']:.3f}   "
            f"{figures['b3_relevant']:.3f}   {figures['pf1_relevant']:.3f}"
        )
    for split, parts in sorted(rows.items()):
        a, b, final = (
            {
                f"{day}:{item}": {**row, "story": f"{day}:{row['story']}"}
                for day, *labellings in parts
                for item, row in labellings[which].items()
            }
            for which in range(3)
        )  # stories never cross days: pooled, each is its day's
        figures = compare(a, b, final)
        print(
            f"{split:<24} {figures['items']:>5} {figures['relevant']:>8}  "
            f"{figures['kappa']:.3f}  {figures['b3_all']:.3f}   {figures['pf1_all']:.3f}   "
            f"{figures['b3_relevant']:.3f}   {figures['pf1_relevant']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
