"""The labelled evaluation corpus of ``tests/data/corpus/``, read for the benchmarks.

Two parts, one format:

* ``written.jsonl``: two weeks of EU external action told the way it is told: official
  releases and news reports of one event written blind, each from a short description of the
  event by a writer who saw neither the other retellings nor communique's code; pairs of
  releases drafted on one template about different events; single reports naming the EU's
  missions and instruments; off-topic items that look close.
* ``real-2023-11-08.jsonl``: the 701 real entries of ``shared/fixtures/news-2023-11-08``
  (18 outlets, one day), copied with their outlet, labelled by hand.

``labels.tsv`` gives every item its relevance (1/0), topic, story (items with one story id
report one event; an empty story is an item alone) and split: ``calibration`` (what
thresholds and term lists may be tuned on) or ``held-out`` (what the benchmarks report).
Splits go by story, so the retellings of one event are never on both sides: an item's
split is ``calibration`` when the first byte of the SHA-1 of its story id is even, else
``held-out``. The id hashed is the event's (``E042``, without ``w:``) for written events, the
lower of the two for template twins (so both fall on one side), and the full id otherwise
(``real:S001``, or an item's own id when it is alone). The labels were made before any threshold was tuned, by
people (helpers) who saw neither the code nor each other's work.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "corpus"
PARTS = ("written.jsonl", "real-2023-11-08.jsonl")


@dataclass(frozen=True)
class LabelledItem:
    """One corpus item with its labels."""

    id: str
    corpus: str  # written or real
    source: str
    official: bool
    published: datetime
    title: str
    summary: str
    link: str
    relevant: bool
    topic: str
    story: str  # the item's own id when it reports an event alone
    split: str
    kind: str  # told, template, single, offtopic-told, offtopic, real
    pair: str  # for template releases: the story id of the twin event


def load(split: str = "all") -> list[LabelledItem]:
    """The corpus items of ``split`` (calibration, held-out or all), oldest first."""
    with (CORPUS / "labels.tsv").open(encoding="utf-8") as stream:
        labels = {row["id"]: row for row in csv.DictReader(stream, delimiter="\t")}
    items = []
    for part in PARTS:
        with (CORPUS / part).open(encoding="utf-8") as stream:
            for line in stream:
                record = json.loads(line)
                label = labels[record["id"]]
                if split != "all" and label["split"] != split:
                    continue
                items.append(
                    LabelledItem(
                        id=record["id"],
                        corpus=part.split(".")[0].split("-")[0],
                        source=record["source"],
                        official=bool(record.get("official")),
                        published=datetime.fromisoformat(record["published"]),
                        title=record["title"],
                        summary=record["summary"],
                        link=record["link"],
                        relevant=label["relevant"] == "1",
                        topic=label["topic"],
                        story=label["story"] or record["id"],
                        split=label["split"],
                        kind=label["kind"],
                        pair=label.get("pair", ""),
                    )
                )
    return sorted(items, key=lambda i: (i.published, i.id))
