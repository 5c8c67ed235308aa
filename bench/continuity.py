"""Stories followed from one digest to the next, on runs of three consecutive labelled days.

Run from the repository root::

    .venv/bin/python bench/continuity.py [--part held-out|calibration|all] [-v]

Each run (``tests/data/real/continuity/runs.tsv``) is three consecutive days of real
reporting, labelled as one run by two labellers under ``LABELLING-continuity.md`` and
adjudicated: story ids are shared across the days, so a story that goes on from one day to
the next is known. Here each day is digested in turn exactly as ``communique digest`` does
it day after day (:func:`sources.judge.stories.follow_stories`): the earlier days' items are
placed back in the stories they were shown in, and the day's items join those or begin
their own. Measured, over the labelled relevant items (as the digest sees them) and over
every labelled item (the whole day's news, many more stories that go on; for a run labelled
on its candidates only, ``bench/candidates.py``, the items that name the EU, Europe, NATO,
Ukraine and the like):

* **linked**: of the labelled stories that go on to a later day, the share whose later
  items the digest put in the story that showed their first appearance (target >= 90 %);
* **wrong links**: of the times the digest showed a story again on a later day (a link),
  the share where none of that day's items is of a labelled story its earlier days showed:
  a link that joins different events (target <= 5 %).

Beside them, the two labellers' agreement on the same measures (one labeller's run taken
as the truth for the other's). The exit status is 1 when a held-out target is missed.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import LabelledItem, labelled_day, stored  # noqa: E402

from sources.judge.stories import follow_stories  # noqa: E402

REAL = ROOT / "tests" / "data" / "real"
RUNS = REAL / "continuity"
LABELLERS = REAL / "labellers" / "continuity"
TARGET_LINKED, TARGET_WRONG = 0.90, 0.05


@dataclass(frozen=True)
class Run:
    name: str
    days: tuple[str, ...]
    split: str
    labelled: str  # "every item", or "candidates": the items bench/candidates.py picks

    @property
    def every_item(self) -> bool:
        """Whether every item of the days is labelled (else only the candidates for
        relevance are, and only the relevant items are measured)."""
        return self.labelled == "every item"


def runs() -> list[Run]:
    with (RUNS / "runs.tsv").open(encoding="utf-8") as stream:
        return [
            Run(row["run"], tuple(row["days"].split(",")), row["split"], row["labelled"])
            for row in csv.DictReader(stream, delimiter="\t")
        ]


def labels(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8") as stream:
        return {row["id"]: row for row in csv.DictReader(stream, delimiter="\t")}


def run_items(run: Run, labelled: dict[str, Path]) -> list[LabelledItem]:
    """The run's items, each day's from its capture, with the labels in ``labelled[day]``
    (story ids shared by the run's days, as labelled)."""
    return [
        item
        for day in run.days
        for item in labelled_day(
            day, labelled[day], split=run.split, only_labelled=not run.every_item
        )
    ]


def followed(run: Run, items: list[LabelledItem]) -> dict[str, str]:
    """Item id -> the story id the digests of the run's days, made one after the other,
    showed it in."""
    records = stored(items)
    by_id = {r.id: item for r, item in zip(records, items, strict=True)}
    shown: dict[int, str] = {}
    for day in run.days:
        today = [r for r in records if by_id[r.id].day == day]
        before = [r for r in records if r.id in shown]
        for story in follow_stories(
            today,
            is_official=lambda r: by_id[r.id].official,
            earlier=before,
            stored=shown,
            background=records,
        ):
            for r in story.items:
                shown[r.id] = story.id
    return {by_id[r].id: story for r, story in shown.items()}


@dataclass
class Tally:
    going_on: int = 0  # labelled stories with items on two days or more
    linked: int = 0  # ... whose later items went to their first appearance's story
    links: int = 0  # a story shown again on a later day
    wrong: int = 0  # ... with none of the labelled stories its earlier days showed

    def add(self, other: Tally) -> None:
        for name in ("going_on", "linked", "links", "wrong"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def line(self) -> str:
        linked = self.linked / self.going_on if self.going_on else 1.0
        wrong = self.wrong / self.links if self.links else 0.0
        return (
            f"linked {self.linked}/{self.going_on} ({linked:.0%}), "
            f"wrong links {self.wrong}/{self.links} ({wrong:.0%})"
        )


def score(items: list[LabelledItem], system: dict[str, str], days: tuple[str, ...]) -> Tally:
    """The two measures (module docstring) of ``system`` (item id -> story) on ``items``."""
    order = {day: n for n, day in enumerate(days)}
    tally = Tally()
    by_gold: dict[str, list[LabelledItem]] = defaultdict(list)
    for item in items:
        by_gold[item.story].append(item)
    for members in by_gold.values():
        first = min(order[m.day] for m in members)
        later = [m for m in members if order[m.day] > first]
        if not later:
            continue
        tally.going_on += 1
        firsts = {system[m.id] for m in members if order[m.day] == first}
        tally.linked += any(system[m.id] in firsts for m in later)
    by_system: dict[str, list[LabelledItem]] = defaultdict(list)
    for item in items:
        by_system[system[item.id]].append(item)
    for members in by_system.values():
        days_in = sorted({order[m.day] for m in members})
        for later in days_in[1:]:  # a link: the story shown again on a later day
            before = {m.story for m in members if order[m.day] < later}
            now = {m.story for m in members if order[m.day] == later}
            tally.links += 1
            tally.wrong += not (now & before)  # none of it is what was shown before
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("held-out", "calibration", "all"), default="held-out")
    parser.add_argument("-v", action="store_true", help="list the misses (calibration only)")

    options = parser.parse_args()

    chosen = [r for r in runs() if options.part in ("all", r.split)]
    totals = {"relevant": Tally(), "all": Tally()}
    agreement = {"relevant": Tally(), "all": Tally()}
    for run in chosen:
        final = {day: RUNS / f"labels-{day}.tsv" for day in run.days}
        items = run_items(run, final)
        print(
            f"== {run.name} ({run.split}): {len(items)} items, "
            f"{sum(i.relevant for i in items)} relevant"
        )
        for scope in ("relevant", "all"):  # "all": every labelled item of the run
            chosen_items = [i for i in items if i.relevant] if scope == "relevant" else items
            system = followed(run, chosen_items)
            tally = score(chosen_items, system, run.days)
            totals[scope].add(tally)
            print(f"   {scope:8} communique: {tally.line()}")
            if options.v and run.split == "calibration":
                misses(chosen_items, system, run.days)
            # the labellers: A's run as the truth for B's stories, as if B were the system
            a_items = run_items(run, {d: LABELLERS / f"A-{d}.tsv" for d in run.days})
            b_marks = {
                i.id: i.story
                for i in run_items(run, {d: LABELLERS / f"B-{d}.tsv" for d in run.days})
            }
            ids = {i.id for i in chosen_items}
            a_scope = [i for i in a_items if i.id in ids]
            between = score(a_scope, {i.id: b_marks[i.id] for i in a_scope}, run.days)
            agreement[scope].add(between)
            print(f"   {scope:8} labeller B against A: {between.line()}")
    print()
    missed = False
    for scope in ("relevant", "all"):
        tally = totals[scope]
        linked = tally.linked / tally.going_on if tally.going_on else 1.0
        wrong = tally.wrong / tally.links if tally.links else 0.0
        print(f"{options.part}, {scope} items: {tally.line()}")
        print(f"   labellers' agreement: {agreement[scope].line()}")
        if scope == "relevant":
            ok = linked >= TARGET_LINKED and wrong <= TARGET_WRONG
            missed = missed or not ok
            print(
                f"   targets: linked >= {TARGET_LINKED:.0%}, wrong links <= {TARGET_WRONG:.0%}: "
                f"{'OK' if ok else 'MISSED'}"
            )
    if options.part == "held-out" and missed:
        sys.exit(1)


def misses(items: list[LabelledItem], system: dict[str, str], days: tuple[str, ...]) -> None:
    """The stories that go on but were not linked, and the wrong links, titles shown."""
    order = {day: n for n, day in enumerate(days)}
    by_gold: dict[str, list[LabelledItem]] = defaultdict(list)
    for item in items:
        by_gold[item.story].append(item)
    for story, members in sorted(by_gold.items()):
        first = min(order[m.day] for m in members)
        later = [m for m in members if order[m.day] > first]
        firsts = {system[m.id] for m in members if order[m.day] == first}
        if later and not any(system[m.id] in firsts for m in later):
            print(f"      not linked {story}: " + " | ".join(m.title[:60] for m in members[:4]))
    counts = Counter(system.values())
    del counts


if __name__ == "__main__":
    main()
