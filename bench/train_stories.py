"""Learn the story model (``sources/judge/pair-model.json``) from the calibration part of the corpus.

Run from the repository root (needs the ``train`` extra: scikit-learn)::

    .venv/bin/python bench/train_stories.py            # cross-validate, then write the model
    .venv/bin/python bench/train_stories.py --check    # exit 1 if the shipped file differs

Two logistic regressions (scikit-learn, L2, seeded; the same corpus gives the same bytes):

1. **pairs**: for every item, the earlier items the grouping would compare it with (its
   blocking partners) and every earlier item of its own story, labelled by whether the two
   report one event; features :data:`sources.pair_model.PAIR_FEATURES`;
2. **joins**: the items of each group replayed in time order against the stories *as
   labelled so far* (what the grouping would have built had it been right until then): for
   each item, every story holding one of its partners, labelled by whether it is the item's
   own; features :data:`sources.pair_model.JOIN_FEATURES`, with the pair probabilities of
   the first regression.

Groups are the written corpus's calibration items (two weeks, one group) and each real
calibration day. The regularisation and the join threshold are chosen by leave-one-group-out
validation (each real day, and the written part, held out in turn): the best B-cubed F1 of
the stories of relevant items (real days' and written, each counted once) whose pairwise
precision on the real days' relevant items reaches 0.90; all three figures are printed for
every choice tried. No held-out day is read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import LabelledItem, load, stored  # noqa: E402
from stories import score  # noqa: E402

from sources.judge.event_identity import conflicts  # noqa: E402
from sources.judge.pair_model import (  # noqa: E402
    JOIN_FEATURES,
    PAIR_FEATURES,
    Regression,
    StoryModel,
    StoryState,
    join_features,
    looks_apart,
    pair_features,
)
from sources.judge.stories import COMPARED_MEMBERS, _Streaming  # noqa: E402

MODEL = ROOT / "sources" / "judge" / "pair-model.json"
SEED = 1
STRENGTHS = (0.1, 1.0, 10.0)  # inverse L2 regularisation tried
THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7)
MIN_PRECISION = 0.90


def groups(items: Sequence[LabelledItem]) -> dict[str, list[LabelledItem]]:
    """Calibration items by group: the written part, and each real day."""
    out: dict[str, list[LabelledItem]] = defaultdict(list)
    for item in items:
        out["written" if item.corpus == "written" else item.day].append(item)
    return dict(sorted(out.items()))


class View:
    """Items grouped as one digest would group them, profiled once, with the grouping's own
    candidate search: every item of a group, or only its relevant ones (what a digest
    groups), with the whole group as the background for word rarity."""

    def __init__(self, items: Sequence[LabelledItem], background: Sequence[LabelledItem]) -> None:
        self.labelled = sorted(items, key=lambda i: (i.published, i.id))
        records = stored(self.labelled)
        by_key = {i.id: i for i in self.labelled}
        extra = [r for r in stored(background) if r.key not in by_key]
        extra = [replace(r, id=r.id + len(records)) for r in extra]  # ids apart from the items'
        dummy = StoryModel(pair=_flat(PAIR_FEATURES), join=_flat(JOIN_FEATURES), trained_on=())
        self.streaming = _Streaming(records, extra, _window(), dummy)
        self.gold = [by_key[r.key].story for r in self.streaming.items]
        self.partners = [self.streaming._partners(j) for j in range(len(self.gold))]

    def pair_rows(self) -> tuple[list[tuple[float, ...]], list[int]]:
        rows, labels = [], []
        profiles = self.streaming.profiles
        seen_story: dict[str, list[int]] = defaultdict(list)
        for j, story in enumerate(self.gold):
            others = set(self.partners[j]) | set(seen_story[story][-COMPARED_MEMBERS:])
            for i in sorted(others):
                rows.append(pair_features(profiles[i], profiles[j]))
                labels.append(int(self.gold[i] == story))
            seen_story[story].append(j)
        return rows, labels

    def join_rows(self, pair: Regression) -> tuple[list[tuple[float, ...]], list[int]]:
        rows, labels = [], []
        profiles = self.streaming.profiles
        states: dict[str, StoryState] = {}
        for j, story in enumerate(self.gold):
            candidates = sorted({self.gold[i] for i in self.partners[j]})
            for name in candidates:
                state = states[name]
                members = state.members[-COMPARED_MEMBERS:]
                if any(conflicts(profiles[m].signature, profiles[j].signature) for m in members):
                    continue
                if looks_apart(profiles[j], state):
                    continue
                chances = [
                    pair.probability(pair_features(profiles[m], profiles[j])) for m in members
                ]
                rows.append(join_features(profiles[j], state, chances))
                labels.append(int(name == story))
            states.setdefault(story, StoryState()).add(j, profiles[j])
        return rows, labels

    def predict(self, model: StoryModel) -> dict[str, str]:
        """Item id -> predicted story, grouping with ``model`` as the digest does."""
        streaming = _Streaming(self.streaming.items, (), _window(), model)
        streaming.profiles, streaming.hours = self.streaming.profiles, self.streaming.hours
        streaming.run()
        return {
            item.key: f"P{number}"
            for number, members in enumerate(streaming.groups())
            for item in members
        }


class Group:
    """One group (a real day, or the written part): its items seen as all of them, and as the
    relevant ones a digest groups."""

    def __init__(self, name: str, items: Sequence[LabelledItem]) -> None:
        self.name = name
        self.labelled = sorted(items, key=lambda i: (i.published, i.id))
        self.everything = View(self.labelled, ())
        self.relevant = View([i for i in self.labelled if i.relevant], self.labelled)


def _window():
    from sources.judge.stories import WINDOW

    return WINDOW


def _flat(names: Sequence[str]) -> Regression:
    n = len(names)
    return Regression(tuple(names), (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0, 0.5)


def fit(
    rows: list[tuple[float, ...]], labels: list[int], names: Sequence[str], strength: float
) -> Regression:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array(rows, dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=strength, max_iter=2000, random_state=SEED)
    model.fit((x - mean) / scale, np.array(labels))
    return Regression(
        features=tuple(names),
        mean=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(v), 6) for v in scale),
        weights=tuple(round(float(v), 6) for v in model.coef_[0]),
        intercept=round(float(model.intercept_[0]), 6),
        threshold=0.5,
    )


def train(train_groups: Sequence[Group], strength: float, threshold: float) -> StoryModel:
    rows, labels = [], []
    for group in train_groups:
        r, lab = group.everything.pair_rows()
        rows.extend(r)
        labels.extend(lab)
    pair = fit(rows, labels, PAIR_FEATURES, strength)
    rows, labels = [], []
    for group in train_groups:
        for view in (group.everything, group.relevant):
            r, lab = view.join_rows(pair)
            rows.extend(r)
            labels.extend(lab)
    join = fit(rows, labels, JOIN_FEATURES, strength)
    join = Regression(join.features, join.mean, join.scale, join.weights, join.intercept, threshold)
    return StoryModel(pair=pair, join=join, trained_on=tuple(g.name for g in train_groups))


def pooled(results: list[tuple[Sequence[LabelledItem], dict[str, str]]]) -> dict[str, float]:
    """Figures over several groups' items together (stories never cross groups)."""
    items = [i for group, _ in results for i in group]
    predicted = {k: f"{n}:{v}" for n, (_, p) in enumerate(results) for k, v in p.items()}
    return score(items, predicted)


def cross_validate(all_groups: Sequence[Group]) -> tuple[float, float, dict]:
    """The strength and threshold with the best leave-one-group-out B-cubed F1 (all items)
    among those whose pairwise precision reaches the floor, and every figure tried."""
    table = {}
    for strength in STRENGTHS:
        held: dict[float, list[tuple[list[LabelledItem], dict[str, str]]]] = defaultdict(list)
        for k, group in enumerate(all_groups):
            others = [g for n, g in enumerate(all_groups) if n != k]
            if not others:
                continue
            base = train(others, strength, 0.5)
            for threshold in THRESHOLDS:
                model = StoryModel(
                    base.pair,
                    Regression(*[*_fields(base.join)[:-1], threshold]),
                    base.trained_on,
                )
                held[threshold].append(
                    (group, group.everything.predict(model), group.relevant.predict(model))
                )
        for threshold, results in held.items():
            table[(strength, threshold)] = (
                pooled([(g.everything.labelled, every) for g, every, _ in results]),
                pooled([(_relevant(g.labelled, "real"), rel) for g, _, rel in results]),
                pooled([(_relevant(g.labelled, "written"), rel) for g, _, rel in results]),
            )
    ok = [k for k, (_, real, _) in table.items() if real["precision"] >= MIN_PRECISION]
    best = max(
        ok or table,
        key=lambda k: (table[k][1]["b_f1"] + table[k][2]["b_f1"], table[k][0]["b_f1"], k[1]),
    )
    return best[0], best[1], table


def _relevant(items: Sequence[LabelledItem], corpus: str) -> list[LabelledItem]:
    return [i for i in items if i.relevant and i.corpus == corpus]


def _fields(r: Regression) -> tuple:
    return (r.features, r.mean, r.scale, r.weights, r.intercept, r.threshold)


def to_json(model: StoryModel) -> str:
    def part(r: Regression) -> dict[str, object]:
        return {
            "features": list(r.features),
            "mean": list(r.mean),
            "scale": list(r.scale),
            "weights": list(r.weights),
            "intercept": r.intercept,
            "threshold": r.threshold,
        }

    return (
        json.dumps(
            {
                "about": "communique's story model; regenerate with bench/train_stories.py",
                "trained_on": list(model.trained_on),
                "pair": part(model.pair),
                "join": part(model.join),
            },
            indent=1,
        )
        + "\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the shipped file differs")
    args = parser.parse_args()
    calibration = load("calibration")
    all_groups = [Group(name, items) for name, items in groups(calibration).items()]
    print(f"calibration groups: {', '.join(f'{g.name} ({len(g.labelled)})' for g in all_groups)}")
    strength, threshold, table = cross_validate(all_groups)
    print("leave-one-group-out: all items | real days' relevant items | written relevant items")
    for (c, t), figures in sorted(table.items()):
        mark = " <- chosen" if (c, t) == (strength, threshold) else ""
        shown = " | ".join(
            f"P {f['precision']:.3f} R {f['recall']:.3f} B3 {f['b_f1']:.3f}" for f in figures
        )
        print(f"  C={c:<5g} join>={t:.2f}: {shown}{mark}")
    model = train(all_groups, strength, threshold)
    text = to_json(model)
    if args.check:
        same = MODEL.exists() and MODEL.read_text(encoding="utf-8") == text
        print(f"{MODEL.name}: {'the same' if same else 'DIFFERS from what the corpus gives'}")
        return 0 if same else 1
    MODEL.write_text(text, encoding="utf-8")
    print(f"wrote {MODEL.relative_to(ROOT)} (C={strength:g}, join threshold {threshold:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
