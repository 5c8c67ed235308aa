"""Storylines on the labelled corpus, and what deciding them costs on a busy week.

Run from the repository root::

    .venv/bin/python bench/storylines.py [--part held-out|calibration|all] [-v] [--scan]
                                         [--no-timing]

Quality: each real day's relevant items (as labelled, so that the storyline step is measured
without relevance's mistakes), with all of the day's items as the background for word
weights, as ``bench/stories.py`` groups them. Two figures, both scored item by item against
the labelled storylines (``tests/data/real/LABELLING.md``, section 4):

(a) **over the labelled stories**: the day's stories as the labellers drew them, grouped into
    storylines (:func:`sources.judge.storylines.group_storylines`): the storyline step alone;
(b) **end to end**: the story grouping's own stories of the same items
    (:func:`sources.judge.stories.group_stories`, as a digest groups them), then storylines.

Printed for each: B-cubed precision, recall and F1, and pairwise precision and recall of
same-storyline item pairs; beside them, the two labellers' agreement on storylines over the
same items (``tests/data/real/labellers/``: labeller B's storylines scored against A's; an
item a labeller did not call relevant is a storyline of its own). Target on the held-out
part: B-cubed F1 >= 0.85, for (a) and for (b).

Over consecutive days: the same two figures on the runs of three consecutive days
(``tests/data/real/continuity``, storylines labelled across the days), each run's relevant
items digested day after day as ``communique digest`` does it: (a) the labelled stories of
each day, (b) the stories followed from digest to digest
(:func:`sources.judge.stories.follow_stories`); each day's storylines decided with the
earlier days' stories that did not go on (:func:`sources.judge.storyline_ids.storyline_ids`,
a story keeping the storyline it was first shown in).

On the calibration part, also: the same with the days set back to back as one week (each
day's stories a daily digest's, the storylines decided over the week), where every storyline
that crosses days is wrong (the days are months apart): how far storylines chain in time.
``-v`` lists the storylines split and merged; ``--scan`` prints the figures at other
thresholds, the threshold the calibration rule picks (the best sum of (a)'s and (b)'s F1;
:data:`sources.judge.storylines.THRESHOLD` is what it picked), and the rule left one day out.
Both are for the calibration part only.

Speed: the story grouping of a week, then the storylines of its stories with the same
background, each timed, on ``bench/stories.py``'s generated busy week (5,000 items, nearly
all alike: the storylines' worst case) and on real reporting (the eight calibration days back
to back, every item counted as relevant). Target: storylines within 10 % of the story
grouping's time (the digest's time unchanged within 10 %). The exit status is 1 when a target
is missed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from agreement import b_cubed, pairwise_f1, read  # noqa: E402
from continuity import LABELLERS, RUNS, run_items, runs  # noqa: E402
from corpus import REAL, LabelledItem, days, load, stored  # noqa: E402
from stories import generated, score  # noqa: E402

from sources.judge.stories import Story, follow_stories, group_stories, story_of  # noqa: E402
from sources.judge.storyline_ids import storyline_ids  # noqa: E402
from sources.judge.storylines import THRESHOLD, group_storylines  # noqa: E402
from sources.types import StoredItem  # noqa: E402

TARGET_B3 = 0.85
TARGET_TIME_SHARE = 0.10
SCANNED = (0.06, 0.08, 0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.18, 0.20, 0.25)


def labelled_stories(records: Sequence[StoredItem], gold: dict[str, LabelledItem]) -> list[Story]:
    """The labellers' stories of ``records`` as :class:`Story` records: members in time
    order, the earliest the headline, the labelled topic most of them have."""
    members: dict[str, list[StoredItem]] = defaultdict(list)
    for record in records:
        members[gold[record.key].story].append(record)
    stories = []
    for _, items in sorted(members.items()):
        items.sort(key=lambda r: (r.published_at, r.id))
        topics = Counter(gold[r.key].topic for r in items)
        stories.append(
            Story(
                headline=items[0],
                items=tuple(items),
                topic=min(topics, key=lambda t: (-topics[t], t)),
                relevance=max(r.relevance for r in items),
            )
        )
    return stories


def storylines(
    items: Sequence[LabelledItem],
    *,
    own_stories: bool,
    threshold: float = THRESHOLD,
    one_week: bool = False,
) -> dict[str, str]:
    """Item id -> predicted storyline of each relevant item of ``items``: each real day on its
    own, its relevant items grouped into stories (the labelled ones, or ``own_stories``: the
    story grouping's), the stories into storylines, with all of the day's items (relevant or
    not) as the background, as ``bench/stories.py`` groups them.

    ``one_week``: the days set back to back instead (:func:`back_to_back`), each day's
    stories grouped on their own (a daily digest's) and the storylines decided over all of
    them at once, with all the days' items as the background."""
    by_day: dict[str, list[LabelledItem]] = defaultdict(list)
    for item in back_to_back(items) if one_week else items:
        by_day[item.day].append(item)
    windows = [list(by_day.values())] if one_week else [[m] for _, m in sorted(by_day.items())]
    predicted = {}
    for number, days_of in enumerate(windows):
        everything = [i for members in days_of for i in members]
        gold = {i.id: i for i in everything}
        records = stored(everything)
        stories: list[Story] = []
        for members in days_of:
            day = {i.id for i in members}
            relevant = [r for r in records if r.relevant and r.key in day]
            if own_stories:
                stories += group_stories(relevant, is_official=lambda r: False, background=records)
            else:
                stories += labelled_stories(relevant, gold)
        lines = group_storylines(stories, background=records, threshold=threshold)
        for line_number, line in enumerate(lines):
            for index in line:
                for member in stories[index].items:
                    predicted[member.key] = f"{number}:L{line_number}"
    return predicted


def run_storylines(
    items: Sequence[LabelledItem], days_of_run: Sequence[str], *, own_stories: bool
) -> dict[str, str]:
    """Item id -> predicted storyline of each relevant item of one run of consecutive days,
    digested day after day: each day's stories (the labelled ones, or ``own_stories``: those
    followed from the earlier days' digests), then their storylines beside the earlier
    days' stories that did not go on, each story keeping the storyline it was first shown
    in; all the run's items are the background."""
    records = stored(list(items))
    gold = {i.id: i for i in items}
    day_of = {r.id: gold[r.key].day for r in records}
    relevant = [r for r in records if r.relevant]
    shown: dict[int, str] = {}  # item id -> story id, as the digests showed them
    known: dict[str, str] = {}  # story id -> storyline id
    predicted: dict[str, str] = {}
    for day in days_of_run:
        today = [r for r in relevant if day_of[r.id] == day]
        if own_stories:
            before = [r for r in relevant if r.id in shown]
            stories = follow_stories(
                today, is_official=lambda r: gold[r.key].official, earlier=before,
                stored=shown, background=records,
            )  # fmt: skip
        else:
            stories = [
                replace(s, id=gold[s.items[0].key].story) for s in labelled_stories(today, gold)
            ]
        going_on = {s.id for s in stories}
        by_story: dict[str, list[StoredItem]] = defaultdict(list)
        for r in relevant:
            if r.id in shown and shown[r.id] not in going_on:
                by_story[shown[r.id]].append(r)
        past = [
            story_of(m, is_official=lambda r: gold[r.key].official, id=k)
            for k, m in sorted(by_story.items())
        ]
        lines = storyline_ids(stories, past=past, known=known, background=records)
        for story in stories:
            known.setdefault(story.id, lines[story.id])
            for member in story.items:
                shown[member.id] = story.id
                predicted[member.key] = lines[story.id]
    return predicted


def runs_of(part: str) -> list[tuple[str, tuple[str, ...], list[LabelledItem]]]:
    """The runs of consecutive days of ``part``: name, days, and labelled items (story and
    storyline ids scoped by the run)."""
    out = []
    for run in runs():
        if part in ("all", run.split):
            labels = {day: RUNS / f"labels-{day}.tsv" for day in run.days}
            items = [
                replace(
                    i,
                    story=f"{run.name}:{i.story}",
                    storyline=f"{run.name}:{i.storyline}" if i.storyline else "",
                )
                for i in run_items(run, labels)
            ]
            out.append((run.name, run.days, items))
    return out


def run_agreement(part: str) -> tuple[float, float, float, float] | None:
    """The labellers' agreement on storylines over the relevant items of the part's runs."""
    return _agreement(
        (
            run.name,
            LABELLERS / f"A-{day}.tsv",
            LABELLERS / f"B-{day}.tsv",
            RUNS / f"labels-{day}.tsv",
        )
        for run in runs()
        if part in ("all", run.split)
        for day in run.days
    )


def _agreement(
    labellings: Iterable[tuple[str, Path, Path, Path]],
) -> tuple[float, float, float, float] | None:
    """B-cubed P, R, F1 and pairwise F1 of labeller B's storylines scored against labeller
    A's, over the items the adjudicated labels call relevant: ``labellings`` gives, for each
    day, the scope of its storyline ids and the paths of A's, B's and the final labels. An
    item a labeller did not call relevant is a storyline of its own."""
    first: dict[str, str] = {}
    second: dict[str, str] = {}
    for scope, a_path, b_path, final in labellings:
        a, b = read(a_path), read(b_path)
        for item, row in read(final).items():
            if row["relevant"] == "1":
                first[item] = f"{scope}:{a[item]['storyline'] or item}"
                second[item] = f"{scope}:{b[item]['storyline'] or item}"
    if not first:
        return None
    return (*b_cubed(first, second), pairwise_f1(first, second))


def back_to_back(items: Sequence[LabelledItem]) -> list[LabelledItem]:
    """The real days of ``items`` moved to follow each other from the first, each day's
    items as far apart as they were: a week of reporting in which storylines may cross
    days, and every one that does is wrong (the days are months apart)."""
    days_of = sorted({i.day for i in items})
    first = date.fromisoformat(days_of[0])
    shift = {
        day: first + timedelta(days=k) - date.fromisoformat(day) for k, day in enumerate(days_of)
    }
    return [replace(i, published=i.published + shift[i.day]) for i in items]


def crossing(items: Sequence[LabelledItem], predicted: dict[str, str]) -> int:
    """How many predicted storylines hold relevant items of more than one day."""
    days_of: dict[str, set[str]] = defaultdict(set)
    for item in items:
        days_of[predicted[item.id]].add(item.day)
    return sum(1 for d in days_of.values() if len(d) > 1)


def measured(items: Sequence[LabelledItem], predicted: dict[str, str]) -> dict[str, float]:
    """The figures of ``predicted`` against the labelled storylines, item by item."""
    return score([replace(i, story=i.storyline) for i in items], predicted)


def line(name: str, figures: dict[str, float]) -> str:
    return (
        f"  {name}: B-cubed P {figures['b_precision']:.3f} R {figures['b_recall']:.3f} "
        f"F1 {figures['b_f1']:.3f}; pairwise precision {figures['precision']:.3f} "
        f"recall {figures['recall']:.3f} ({figures['hit']} of {figures['gold_pairs']} "
        f"same-storyline pairs found, {figures['found_pairs']} made)"
    )


def agreement(part: str) -> tuple[float, float, float, float] | None:
    """The labellers' agreement on storylines over the part's relevant items: B-cubed P, R,
    F1 and pairwise F1 of labeller B's storylines scored against labeller A's."""
    chosen = [day for day in days() if part in ("all", day.split)]
    paths = [[REAL / "labellers" / f"{day.day}-{who}.tsv" for who in "AB"] for day in chosen]
    if not all(p.exists() for pair in paths for p in pair):
        return None
    return _agreement(
        (day.day, a, b, REAL / f"labels-{day.day}.tsv")
        for day, (a, b) in zip(chosen, paths, strict=True)
    )


def mistakes(items: Sequence[LabelledItem], predicted: dict[str, str]) -> None:
    """The labelled storylines split over several predicted ones, and the predicted ones
    that merge several labelled ones, story by story."""

    def show(groups: dict[str, list[LabelledItem]], other: dict[str, str], what: str) -> None:
        for name, members in sorted(groups.items()):
            if len({other[m.id] for m in members}) < 2:
                continue
            print(f"    {what} {name}:")
            seen = set()
            for m in sorted(members, key=lambda m: (other[m.id], m.published, m.id)):
                if (m.story, other[m.id]) not in seen:
                    seen.add((m.story, other[m.id]))
                    told = sum(1 for x in members if x.story == m.story)
                    print(f"      [{other[m.id]}] {m.story} ({told} items) {m.title[:90]}")

    gold: dict[str, list[LabelledItem]] = defaultdict(list)
    mine: dict[str, list[LabelledItem]] = defaultdict(list)
    for item in items:
        gold[item.storyline].append(item)
        mine[predicted[item.id]].append(item)
    show(gold, predicted, "split")
    show(mine, {i.id: i.storyline for i in items}, "merged")


def timing(items: Sequence[StoredItem]) -> tuple[float, float, int, int]:
    """Seconds to group ``items`` (all relevant) into stories, as a digest does, and those
    stories into storylines, with ``items`` as the background; how many of each."""
    started = time.perf_counter()
    stories = group_stories(items, is_official=lambda i: False, background=items)
    grouping = time.perf_counter() - started
    started = time.perf_counter()
    lines = group_storylines(stories, background=items)
    return grouping, time.perf_counter() - started, len(stories), len(lines)


def busy_weeks() -> dict[str, list[StoredItem]]:
    """The weeks timed: ``bench/stories.py``'s generated busy week (5,000 items in 7 days,
    corpus titles with other places, sums and words: near-alike stories everywhere, the
    storylines' worst case), and real reporting (the eight calibration days back to back,
    every item counted as relevant)."""
    everything = load("all")
    base = [i for i in everything if i.relevant] or everything
    real = back_to_back(load("calibration", parts=("real",)))
    return {
        "generated busy week, 5,000 items": generated(base, 5_000, timedelta(days=7), seed=1),
        f"real reporting, 8 days back to back, {len(real):,} items": [
            replace(r, relevant=True) for r in stored(real)
        ],
    }


def scan(everything: Sequence[LabelledItem], part: Sequence[LabelledItem]) -> float:
    """The figures at each of :data:`SCANNED`, per day and with the days back to back, and
    the threshold the calibration rule picks: the best sum of (a)'s and (b)'s B-cubed F1 per
    day (a tie: the lower, since a false storyline costs little); then the same rule
    left-one-day-out (each day measured at the threshold the other days pick)."""
    print("threshold: per day (a) B3 P R F1 | (b) B3 P R F1 || back to back (a) F1, (b) F1")
    days_of = sorted({i.day for i in part})
    made = {
        (own, t): storylines(everything, own_stories=own, threshold=t)
        for own in (False, True)
        for t in SCANNED
    }

    def f1(items: Sequence[LabelledItem], threshold: float) -> float:
        return sum(measured(items, made[(own, threshold)])["b_f1"] for own in (False, True))

    def best(items: Sequence[LabelledItem]) -> float:
        return max(SCANNED, key=lambda t: (round(f1(items, t), 9), -t))

    chosen = best(part)
    for threshold in SCANNED:
        shown = " | ".join(
            f"{f['b_precision']:.3f} {f['b_recall']:.3f} {f['b_f1']:.3f}"
            for own in (False, True)
            for f in [measured(part, made[(own, threshold)])]
        )
        week = " ".join(
            f"{measured(part, w)['b_f1']:.3f} ({crossing(part, w)} across days)"
            for own in (False, True)
            for w in [storylines(everything, own_stories=own, threshold=threshold, one_week=True)]
        )
        mark = "  <- picked" if threshold == chosen else ""
        print(f"  {threshold:.2f}: {shown} || {week}{mark}")
    left_out: dict[bool, dict[str, str]] = {False: {}, True: {}}
    for day in days_of:
        picked = best([i for i in part if i.day != day])
        for own in (False, True):
            left_out[own].update({i.id: made[(own, picked)][i.id] for i in part if i.day == day})
    for own, name in ((False, "(a)"), (True, "(b)")):
        print(line(f"left one day out, {name}", measured(part, left_out[own])))
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", default="held-out", choices=["held-out", "calibration", "all"])
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--scan", action="store_true", help="other thresholds (calibration)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    if args.part != "calibration" and (args.verbose or args.scan):
        parser.error("-v and --scan are for the calibration part: nothing is tuned on held-out")

    everything = load(args.part, parts=("real",))
    part = [i for i in everything if i.relevant]
    print(
        f"storylines on the {args.part} part: {len(part)} relevant items of "
        f"{len({i.day for i in part})} real days, {len({i.story for i in part})} stories, "
        f"{len({i.storyline for i in part})} storylines (threshold {THRESHOLD})"
    )
    ok = True
    for name, own in (("(a) over the labelled stories", False), ("(b) end to end", True)):
        predicted = storylines(everything, own_stories=own)
        figures = measured(part, predicted)
        print(line(name, figures))
        ok = ok and figures["b_f1"] >= TARGET_B3
        if args.verbose:
            mistakes(part, predicted)
    agreed = agreement(args.part)
    if agreed:
        p, r, f1, pf1 = agreed
        print(
            f"  labellers' agreement: B-cubed P {p:.3f} R {r:.3f} F1 {f1:.3f}; pairwise F1 {pf1:.3f}"
        )
    chosen_runs = runs_of(args.part)
    run_items_ = [i for _, _, items in chosen_runs for i in items if i.relevant]
    if chosen_runs:
        print(
            f"over consecutive days: {len(run_items_)} relevant items of {len(chosen_runs)} "
            f"runs of three days, {len({i.storyline for i in run_items_})} storylines"
        )
    for name, own in (("(a) over the labelled stories", False), ("(b) end to end", True)):
        if not chosen_runs:
            break
        predicted = {}
        for run_name, days_of_run, items in chosen_runs:
            lines = run_storylines(items, days_of_run, own_stories=own)
            predicted.update({k: f"{run_name}:{v}" for k, v in lines.items()})
        figures = measured(run_items_, predicted)
        print(line(name, figures))
        ok = ok and figures["b_f1"] >= TARGET_B3
    agreed = run_agreement(args.part)
    if agreed:
        p, r, f1, pf1 = agreed
        print(
            f"  labellers' agreement: B-cubed P {p:.3f} R {r:.3f} F1 {f1:.3f}; pairwise F1 {pf1:.3f}"
        )
    print(
        f"target (B-cubed F1 >= {TARGET_B3}, (a) and (b), days and runs; set for the held-out "
        f"part): {'OK' if ok else 'FAIL'}"
    )
    if args.part == "calibration":
        for name, own in (("(a)", False), ("(b)", True)):
            week = storylines(everything, own_stories=own, one_week=True)
            print(
                line(f"days back to back, {name}", measured(part, week))
                + f"; {crossing(part, week)} storylines across days"
            )
    if args.scan:
        chosen = scan(everything, part)
        if chosen != THRESHOLD:
            print(f"the rule picks {chosen}, not the shipped {THRESHOLD}")
            ok = False
    if not args.no_timing:
        for name, items in busy_weeks().items():
            grouping, lining, stories, lines = timing(items)
            share = lining / grouping
            fast = share <= TARGET_TIME_SHARE
            print(
                f"{name}: stories {grouping:.2f} s ({stories:,}), storylines {lining:.3f} s "
                f"({lines:,}): {share:.1%} of the story grouping's time "
                f"(target <= {TARGET_TIME_SHARE:.0%}): {'OK' if fast else 'FAIL'}"
            )
            ok = ok and fast
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
