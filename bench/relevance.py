"""Precision and recall of the EU foreign-policy classifier: fixture labels and the corpus.

Run from the repository root::

    .venv/bin/python bench/relevance.py [--part held-out|calibration|all] [-v]
                                        [--labels tests/data/relevance-labels.tsv]

Two labelled sets, both scored by the shipped taxonomy exactly as ``aggregate`` scores an
item of a source that is *not* marked wholly on-topic, so the classifier alone is measured:

* The fixture labels (``tests/data/relevance-labels.tsv``: feed, key, title, label, topics,
  note), made by reading each item of ``shared/fixtures/feeds``: the two sample EU-news feeds
  in full, and items from the real captures (tech, local and general news in several
  languages: hard negatives such as EU-internal regulation or world news without an EU
  role). Each item is parsed by communique's own parser. Targets: precision and recall
  >= 0.9.
* The evaluation corpus (``tests/data/corpus/``, see ``bench/corpus.py``): reporting written
  blind (official releases, retellings, items naming the EU's missions and instruments,
  off-topic near-misses) and one real day of 18 outlets. Its items have a title and a
  summary (made plain text as the parser makes it) and no text. Printed per corpus (written, real) and overall, for ``--part``
  (default held-out). Targets on the held-out part: precision and recall >= 0.95.

The exit status is 1 when a target is missed. ``-v`` lists the misclassified items, but
only those of the fixtures and of the calibration part: thresholds and term lists are tuned
on calibration alone, so held-out mistakes are counted, never shown.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import LabelledItem, load  # noqa: E402

from feeds.text import html_to_text  # noqa: E402
from sources.follow.parse import parse_feed  # noqa: E402
from sources.judge.relevance import Taxonomy, build_taxonomy  # noqa: E402

FIXTURES = ROOT.parent / "shared" / "fixtures" / "feeds"
FIXTURE_TARGET = 0.9
CORPUS_TARGET = 0.95


def ratios(counts: Counter[str]) -> tuple[float, float]:
    """Precision and recall of true/false positive/negative counts (1.0 when undefined)."""
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    return (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0)


def fixtures(taxonomy: Taxonomy, labels_path: Path, verbose: bool) -> bool | None:
    """The fixture-label evaluation; True when on target, None when the labels are stale."""
    with labels_path.open(encoding="utf-8") as stream:
        labels = list(csv.DictReader(stream, delimiter="\t"))
    now = datetime.now(UTC)
    parsed: dict[str, dict[str, object]] = {}
    counts: Counter[str] = Counter()
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
            return None
        verdict = taxonomy.score(entry.title, entry.summary, entry.text)  # type: ignore[attr-defined]
        expected = row["label"] == "1"
        counts[
            ("t" if verdict.relevant == expected else "f") + ("p" if verdict.relevant else "n")
        ] += 1
        if expected and verdict.relevant:
            labelled = {t for t in row["topics"].split(",") if t}
            topic_total += 1
            topic_hits += bool(labelled & set(verdict.topics[:2]))
        if verdict.relevant != expected:
            wrong.append(
                (row["label"], verdict.score, ",".join(verdict.topics), feed, row["title"])
            )

    precision, recall = ratios(counts)
    print(
        f"fixture labels: {len(labels)} items ({counts['tp'] + counts['fn']} about EU foreign "
        f"policy), taxonomy threshold {taxonomy.threshold:g}"
    )
    print(
        f"  true positives {counts['tp']}, false positives {counts['fp']}, "
        f"false negatives {counts['fn']}, true negatives {counts['tn']}"
    )
    if topic_total:
        print(
            f"  topic agreement: {topic_hits}/{topic_total} have a labelled topic among their top two"
        )
    for label, score, topics, feed, title in wrong if verbose else []:
        print(f"  wrong: label {label}, score {score:g} [{topics}] {feed}: {title}")
    ok = precision >= FIXTURE_TARGET and recall >= FIXTURE_TARGET
    print(
        f"  precision {precision:.3f}, recall {recall:.3f} (targets >= {FIXTURE_TARGET}): "
        f"{'OK' if ok else 'FAIL'}"
    )
    return ok


def corpus(taxonomy: Taxonomy, items: Sequence[LabelledItem], part: str, verbose: bool) -> bool:
    """The corpus evaluation of ``items``; True when on target."""
    counts: dict[str, Counter[str]] = {"written": Counter(), "real": Counter()}
    by_kind: dict[str, Counter[str]] = {}
    topic_hits = topic_total = 0
    wrong = []
    for item in items:
        # as the parser hands a summary to the scorer: tags dropped, entities decoded
        verdict = taxonomy.score(html_to_text(item.title), html_to_text(item.summary), "")
        kind = ("t" if verdict.relevant == item.relevant else "f") + (
            "p" if verdict.relevant else "n"
        )
        counts[item.corpus][kind] += 1
        by_kind.setdefault(item.kind, Counter())[kind] += 1
        if item.relevant and verdict.relevant and item.topic:
            topic_total += 1
            topic_hits += item.topic in verdict.topics[:2]
        if verdict.relevant != item.relevant and item.split == "calibration":
            wrong.append((item, verdict))

    print(f"corpus, {part} part: {len(items)} items")
    total: Counter[str] = Counter()
    for name, tally in counts.items():
        total.update(tally)
        precision, recall = ratios(tally)
        print(
            f"  {name:8} {sum(tally.values()):4} items, {tally['tp'] + tally['fn']:3} relevant: "
            f"precision {precision:.3f}, recall {recall:.3f} "
            f"(fp {tally['fp']}, fn {tally['fn']})"
        )
    precision, recall = ratios(total)
    print(
        f"  overall  {sum(total.values()):4} items, {total['tp'] + total['fn']:3} relevant: "
        f"precision {precision:.3f}, recall {recall:.3f} (fp {total['fp']}, fn {total['fn']})"
    )
    mistakes = ", ".join(
        f"{kind} {tally['fp'] + tally['fn']}/{sum(tally.values())}"
        for kind, tally in sorted(by_kind.items())
    )
    print(f"  mistakes by kind of item: {mistakes}")
    if topic_total:
        print(
            f"  topic agreement: {topic_hits}/{topic_total} kept relevant items have their "
            "labelled topic among their top two"
        )
    if verbose:
        if part != "calibration":
            print("  (held-out mistakes are counted above, never listed: nothing is tuned on them)")
        for item, verdict in wrong:
            expected = "relevant" if item.relevant else "off-topic"
            why = verdict.excluded_by or verdict.roundup or ",".join(verdict.anchors) or "no anchor"
            print(
                f"  wrong ({expected}, score {verdict.score:g} [{','.join(verdict.topics)}]; "
                f"{why}) {item.id}: {item.title}"
            )
    ok = precision >= CORPUS_TARGET and recall >= CORPUS_TARGET
    print(
        f"  precision {precision:.3f}, recall {recall:.3f} (targets >= {CORPUS_TARGET} on the "
        f"held-out part): {'OK' if ok else 'FAIL'}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--labels", type=Path, default=ROOT / "tests" / "data" / "relevance-labels.tsv"
    )
    parser.add_argument(
        "--part",
        choices=("held-out", "calibration", "all"),
        default="held-out",
        help="which part of the corpus to measure (default held-out)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="list misclassified fixture and calibration items (never held-out ones)",
    )
    args = parser.parse_args()

    taxonomy = build_taxonomy()
    fixtures_ok = fixtures(taxonomy, args.labels, args.verbose)
    if fixtures_ok is None:
        return 2
    corpus_ok = corpus(taxonomy, load(args.part), args.part, args.verbose)
    if args.part != "held-out":
        print("  (the targets are judged on the held-out part; this run is for calibration)")
        return 0 if fixtures_ok else 1
    return 0 if fixtures_ok and corpus_ok else 1


if __name__ == "__main__":
    sys.exit(main())
