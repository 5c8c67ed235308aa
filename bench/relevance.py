"""Precision and recall of the EU foreign-policy classifier on labelled fixture items.

Run from the repository root::

    .venv/bin/python bench/relevance.py [--labels tests/data/relevance-labels.tsv] [-v]

The labels (``tests/data/relevance-labels.tsv``: feed, key, title, label, topics, note) were
made by reading each item of ``shared/fixtures/feeds``: the two sample EU-news feeds in full,
and items from the real captures (tech, local and general news in several languages, which
carry hard negatives such as EU-internal regulation or world news without an EU role). Every
item is parsed by communique's own parser and scored by the shipped taxonomy exactly as
``aggregate`` would for a source that is *not* marked wholly on-topic, so the classifier
alone is measured. Targets: precision >= 0.9 and recall >= 0.9; the exit status is 1 below
either.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sources.parse import parse_feed  # noqa: E402
from sources.relevance import build_taxonomy  # noqa: E402

FIXTURES = ROOT.parent / "shared" / "fixtures" / "feeds"
TARGET = 0.9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--labels", type=Path, default=ROOT / "tests" / "data" / "relevance-labels.tsv"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every misclassified item"
    )
    args = parser.parse_args()

    with args.labels.open(encoding="utf-8") as stream:
        labels = list(csv.DictReader(stream, delimiter="\t"))
    taxonomy = build_taxonomy()
    now = datetime.now(UTC)
    parsed: dict[str, dict[str, object]] = {}
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    topic_hits = topic_total = 0
    wrong = []
    for row in labels:
        feed = row["feed"]
        if feed not in parsed:
            result = parse_feed(
                (FIXTURES / feed).read_bytes(), f"http://127.0.0.1/{feed}", None, now
            )
            index: dict[str, object] = {}
            for entry in result.entries:
                for key in (entry.guid, entry.link):
                    if key:
                        index.setdefault(key, entry)
            parsed[feed] = index
        entry = parsed[feed].get(row["key"])
        if entry is None:
            print(
                f"{feed}: no item {row['key']!r}; is the labels file out of date?", file=sys.stderr
            )
            return 2
        verdict = taxonomy.score(entry.title, entry.summary, entry.text)  # type: ignore[attr-defined]
        expected = row["label"] == "1"
        kind = ("t" if verdict.relevant == expected else "f") + ("p" if verdict.relevant else "n")
        counts[kind] += 1
        if expected and verdict.relevant:
            labelled = {t for t in row["topics"].split(",") if t}
            topic_total += 1
            topic_hits += bool(labelled & set(verdict.topics[:2]))
        if verdict.relevant != expected:
            wrong.append(
                (row["label"], verdict.score, ",".join(verdict.topics), feed, row["title"])
            )

    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(
        f"relevance: {len(labels)} labelled items ({tp + fn} about EU foreign policy), taxonomy threshold {taxonomy.threshold:g}"
    )
    print(
        f"  true positives {tp}, false positives {fp}, false negatives {fn}, true negatives {counts['tn']}"
    )
    if topic_total:
        print(
            f"  topic agreement on true positives: {topic_hits}/{topic_total} have a labelled topic among their top two"
        )
    for label, score, topics, feed, title in wrong if args.verbose else []:
        print(f"  wrong: label {label}, score {score:g} [{topics}] {feed}: {title}")
    verdict_line = "OK" if precision >= TARGET and recall >= TARGET else "FAIL"
    print(f"precision {precision:.3f}, recall {recall:.3f} (targets >= {TARGET}): {verdict_line}")
    return 0 if verdict_line == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
