"""The items a labeller sees for a run labelled by its candidates only.

Run from the repository root::

    .venv/bin/python bench/candidates.py --out DIR 2023-03-22 2023-03-23 2023-03-24

Labelling every item of three days (about 2,200) for stories that go on from day to day
costs two labellers hours, and the continuity targets count relevant items only. So the runs
marked ``candidates`` in ``tests/data/real/continuity/runs.tsv`` were labelled on the items
whose title or lede names what an EU foreign-policy item nearly always names (the EU and its
institutions and leaders, Europe, NATO, Ukraine, sanctions, the neighbourhood, trade
defence; :data:`CANDIDATE`): about a seventh of a day's items, of which 2 to 12 % a run
(7 % in all) are relevant by the rules. On the corpus's fully labelled days (the single days and the runs
labelled ``every item``) this keeps 192 of the 194 relevant items; the two it misses
("German ministers dash to China … over EV duties", "… N Ireland protocol deal") name none
of it. Each day's candidates are written as ``DIR/items-DAY.tsv`` (id, outlet, time UTC,
title, lede), in time order, as a labeller reads them.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import date, datetime
from pathlib import Path

REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "real"
LEDE_CHARS = 400  # what a labeller reads of an item's summary
CANDIDATE = re.compile(
    r"\b(EU|E\.U|EU's|Brexit|Northern Ireland|European|Europe\w*|Europ\w*|Brussels|Commission"
    r"|Council|Parliament|MEPs?|Borrell|von der Leyen|Michel|Metsola|Kallas|sanction\w*|NATO"
    r"|Nato|Ukrain\w*|Zelensk\w*|Kyiv|Moldova\w*|Georgia|Balkans?|Serbia\w*|Kosovo"
    r"|enlargement|accession|Orb[aá]n|Hungar\w*|Unia|Unii|UE|Bruksel\w*|Mercosur|tariff\w*"
    r"|anti-subsidy|Tunisia|Belarus\w*)\b"
)


def lede(record: dict[str, str]) -> str:
    """The start of an item's summary, on one line."""
    return " ".join((record.get("summary") or "").split())[:LEDE_CHARS]


def candidates(day: str) -> list[dict[str, str]]:
    """The day's items (``real-DAY.jsonl``) whose title or lede may make them relevant."""
    with (REAL / f"real-{day}.jsonl").open(encoding="utf-8") as stream:
        records = [json.loads(line) for line in stream]
    records.sort(key=lambda r: (r["published"], r["id"]))
    return [r for r in records if CANDIDATE.search(f"{r['title']} {lede(r)}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where items-DAY.tsv go")
    parser.add_argument("days", nargs="+", type=date.fromisoformat)
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    for day in (d.isoformat() for d in options.days):
        chosen = candidates(day)
        with (options.out / f"items-{day}.tsv").open("w", encoding="utf-8") as stream:
            stream.write("id\toutlet\ttime\ttitle\tlede\n")
            for r in chosen:
                at = datetime.fromisoformat(r["published"]).strftime("%H:%M")
                title = " ".join(r["title"].split())
                stream.write(f"{r['id']}\t{r['source']}\t{at}\t{title}\t{lede(r)}\n")
        print(f"items-{day}.tsv: {len(chosen)} candidates")


if __name__ == "__main__":
    main()
