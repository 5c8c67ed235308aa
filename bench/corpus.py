"""The labelled evaluation corpus, read for the benchmarks and the model's training.

Two parts, one record:

* ``tests/data/corpus/written.jsonl`` (the project's own): two weeks of EU external action
  told the way it is told, written blind: official releases and news reports of one event,
  each from a short description of the event by a writer who saw neither the other
  retellings nor communique's code; pairs of releases drafted on one template about
  different events; single reports; off-topic items that look close. ``labels.tsv`` gives
  each its relevance, topic, story and split. Written items split by story: an item's split
  is ``calibration`` when the first byte of the SHA-1 of its story id is even, else
  ``held-out`` (the id hashed is the event's, ``E042`` without ``w:``, for written events,
  the lower of the two for template twins, and the item's own otherwise).
* ``tests/data/real/`` (GPL-3.0 data, see its ``NOTICE.md``): whole days of real reporting
  from the world-news feeds of 15 to 20 outlets, copied from the rumca-js RSS link
  archives (``bench/real_days.py``), one ``real-DAY.jsonl`` per day, labelled by two
  labellers each under ``LABELLING.md`` and adjudicated (``labels-DAY.tsv``; the labellers'
  own files are in ``labellers/``). Real days split **by day** (``days.tsv``): every item of
  a day is on that day's side, so nothing tuned on one day's reporting of an event is
  measured on the same reporting.

Thresholds, term lists and the story model are tuned on the calibration part only; the
benchmarks report the held-out part.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feeds.text import html_to_text  # noqa: E402
from sources.follow.item_keys import normalise_link  # noqa: E402
from sources.types import StoredItem  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "corpus"
REAL = ROOT / "tests" / "data" / "real"


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
    day: str = ""  # real items: the day they were captured
    storyline: str = ""  # real relevant items: the larger development the story is part of


@dataclass(frozen=True)
class Day:
    """One real day of the corpus and its side of the split."""

    day: str
    split: str
    kind: str  # summit (one summit or crisis with several EU events) or ordinary
    note: str


def days() -> list[Day]:
    """The real days, as ``tests/data/real/days.tsv`` lists them."""
    with (REAL / "days.tsv").open(encoding="utf-8") as stream:
        return [
            Day(r["day"], r["split"], r["kind"], r["note"])
            for r in csv.DictReader(stream, delimiter="\t")
        ]


def load(split: str = "all", *, parts: tuple[str, ...] = ("written", "real")) -> list[LabelledItem]:
    """The corpus items of ``split`` (calibration, held-out or all), oldest first."""
    items = []
    if "written" in parts:
        items.extend(_written(split))
    if "real" in parts:
        for day in days():
            if split in ("all", day.split):
                items.extend(real_day(day))
    return sorted(items, key=lambda i: (i.published, i.id))


def _written(split: str) -> list[LabelledItem]:
    with (CORPUS / "labels.tsv").open(encoding="utf-8") as stream:
        labels = {row["id"]: row for row in csv.DictReader(stream, delimiter="\t")}
    items = []
    with (CORPUS / "written.jsonl").open(encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            label = labels[record["id"]]
            if split != "all" and label["split"] != split:
                continue
            items.append(
                _item(
                    record,
                    "written",
                    relevant=label["relevant"] == "1",
                    topic=label["topic"],
                    story=label["story"] or record["id"],
                    split=label["split"],
                    kind=label["kind"],
                    pair=label.get("pair", ""),
                )
            )
    return items


def real_day(day: Day) -> list[LabelledItem]:
    """One real day's items with their adjudicated labels."""
    return labelled_day(
        day.day, REAL / f"labels-{day.day}.tsv", split=day.split, scope=f"real:{day.day}:"
    )


def labelled_day(
    day: str, labels: Path, *, split: str, scope: str = "", only_labelled: bool = False
) -> list[LabelledItem]:
    """The items captured on ``day`` (``real-DAY.jsonl``) with the labels in ``labels``; story
    and storyline ids prefixed with ``scope`` (a day's ids are its own; a run's are shared
    by its days). ``only_labelled``: ``labels`` holds the labelled candidates of the day only
    (``bench/candidates.py``), and the day's other items are left out."""
    with labels.open(encoding="utf-8") as stream:
        marks = {row["id"]: row for row in csv.DictReader(stream, delimiter="\t")}
    items = []
    with (REAL / f"real-{day}.jsonl").open(encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            if only_labelled and record["id"] not in marks:
                continue
            label = marks[record["id"]]
            items.append(
                _item(
                    record,
                    "real",
                    relevant=label["relevant"] == "1",
                    topic=label["topic"],
                    story=f"{scope}{label['story']}",
                    split=split,
                    kind="real",
                    pair="",
                    day=day,
                    storyline=f"{scope}{label['storyline']}" if label["storyline"] else "",
                )
            )
    return items


def _item(record: dict[str, Any], corpus: str, **labels: Any) -> LabelledItem:
    """A corpus item: what its record (a ``*.jsonl`` line) says, and its ``labels``."""
    return LabelledItem(
        id=record["id"],
        corpus=corpus,
        source=record["source"],
        official=bool(record.get("official")),
        published=datetime.fromisoformat(record["published"]),
        title=record["title"],
        summary=record["summary"],
        link=record["link"],
        **labels,
    )


def stored(items: list[LabelledItem] | tuple[LabelledItem, ...]) -> list[StoredItem]:
    """Corpus items as the store hands them to the digest (ids in the order given)."""
    return [
        StoredItem(
            id=number,
            key=item.id,
            link=item.link,
            norm_link=normalise_link(item.link) if item.link else None,
            title=html_to_text(item.title),  # as the parser stores them
            author="",
            summary=html_to_text(item.summary),
            text="",
            published_at=item.published.astimezone(UTC),
            updated_at=item.published.astimezone(UTC),
            relevance=5.0,
            relevant=item.relevant,
            topics=(item.topic,) if item.topic else (),
            source_url=f"corpus:{item.source}",
            source_title=item.source,
        )
        for number, item in enumerate(items, start=1)
    ]
