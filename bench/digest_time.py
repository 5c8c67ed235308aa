"""The time ``communique digest`` takes, whole, against the digest before storylines.

Run from the repository root::

    .venv/bin/python bench/digest_time.py [--baseline REV] [--repeat N]

Issue 22 asks that following stories from digest to digest and grouping them into
storylines leave the digest's time unchanged within 10 %. What a reader waits for is the
command: reading the period and the weeks around it from the database, the stories, the
storylines, every form of the digest and the storylines' feeds written to disk. So this
measures the command, end to end, in its own process, against the same command of
``--baseline`` (default: the commit before storylines began), both run in this run on the
same feeds:

* **real reporting**: every calibration day of the labelled corpus (``tests/data/real``,
  the single days and the days of the calibration runs; never a held-out day), served as
  each outlet's RSS feed on 127.0.0.1 and aggregated once by each version; then one digest
  per day, in date order, as cron makes them (the consecutive days of a run go on from one
  digest to the next), and, on a fresh copy of the database, the first calibration run's
  three days as one digest;
* **a busy week**: ``bench/stories.py``'s generated week (5,000 items, corpus titles with
  other places, sums and words over 40 sources), aggregated the same way, digested as one
  ``--since`` week: the widest digest and the storylines' worst case.

Each version's digests run on a fresh copy of its own database, ``--repeat`` times (the
versions taking turns; the baseline's code is compiled first, as an installed package is);
each digest's best time counts. Both versions must digest the same number of items, and
some, in every period, or the bench stops: a digest that failed or read nothing is not a
time. The exit status is 1 when the digests take more than 1.10x the baseline's.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from continuity import runs  # noqa: E402
from corpus import days as labelled_days  # noqa: E402
from corpus import load  # noqa: E402
from stories import generated  # noqa: E402

from sources.follow.opml import Source, save_source_list  # noqa: E402

REAL = ROOT / "tests" / "data" / "real"
BASELINE = "ec19bdd"  # the last commit before issue 22: stories followed, storylines
TARGET = 1.10
CONFIG = """\
[site]
title = "Digest time bench"
base_url = "https://bench.example.org/"
timezone = "UTC"

[aggregate]
sources = "sources.opml"
database = "communique.db"

[digest]
out = "digest"
"""
RUN = "import sys; sys.path.insert(0, sys.argv[1]); from cli import main; main(sys.argv[2:])"


@dataclass(frozen=True)
class Report:
    """One feed item as served."""

    source: str
    feed: str
    title: str
    summary: str
    link: str
    published: datetime
    key: str


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Requests are not the bench's output."""


def calibration_days() -> list[str]:
    """Every real day of the calibration part: the single labelled days and the days of
    the calibration runs of consecutive days."""
    single = {day.day for day in labelled_days() if day.split == "calibration"}
    return sorted(single.union(*(run.days for run in runs() if run.split == "calibration")))


def run_period() -> tuple[str, str]:
    """The first calibration run's three days as one digest (``--since``)."""
    first = next((run for run in runs() if run.split == "calibration"), None)
    if first is None:
        raise SystemExit("tests/data/real/continuity/runs.tsv names no calibration run")
    end = date.fromisoformat(first.days[-1]) + timedelta(days=1)
    return first.days[0], end.isoformat()


def real_reports(days: Sequence[str]) -> list[Report]:
    reports = []
    for day in days:
        for line in (REAL / f"real-{day}.jsonl").read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            reports.append(
                Report(
                    r["source"], r["feed"], r["title"], r.get("summary", ""), r["link"],
                    datetime.fromisoformat(r["published"]), r["id"],
                )
            )  # fmt: skip
    return reports


def week_reports() -> list[Report]:
    everything = load("all")
    base = [i for i in everything if i.relevant] or everything
    return [
        Report(i.source_title, i.source_url, i.title, i.summary, i.link, i.published_at, i.key)
        for i in generated(base, 5_000, timedelta(days=7), seed=1)
    ]


def rss(title: str, reports: Sequence[Report]) -> bytes:
    items = "".join(
        f"<item><title>{escape(r.title)}</title><link>{escape(r.link)}</link>"
        f"<description>{escape(r.summary)}</description>"
        f"<pubDate>{format_datetime(r.published)}</pubDate>"
        f'<guid isPermaLink="false">{escape(r.key)}</guid></item>'
        for r in sorted(reports, key=lambda r: (r.published, r.key), reverse=True)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://bench.example.org/</link>"
        f"<description>{escape(title)}</description>{items}</channel></rss>"
    ).encode()


def write_feeds(folder: Path, reports: Sequence[Report], base_url: str) -> list[Source]:
    """One RSS file per outlet in ``folder``; the source list that subscribes to them."""
    by_feed: dict[str, list[Report]] = defaultdict(list)
    for report in reports:
        by_feed[report.feed].append(report)
    sources = []
    for number, (_, told) in enumerate(sorted(by_feed.items())):
        (folder / f"{number}.xml").write_bytes(rss(told[0].source, told))
        sources.append(Source(f"{base_url}{number}.xml", told[0].source))
    return sources


def communique(code: Path, folder: Path, *args: str) -> tuple[float, str]:
    """Seconds ``communique ARGS`` takes with the code at ``code``, run in ``folder``, and
    what it printed. Anything but success stops the bench: a failure is not a time."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(code), *args], cwd=folder, capture_output=True, text=True
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"communique {' '.join(args)} at {code} exited {done.returncode}: {done.stderr.strip()}"
        )
    return took, done.stdout


def items_digested(printed: str) -> int:
    """How many items a digest read, from what it printed ("12 stories from 17 items, …")."""
    found = re.search(r"stories? from ([\d,]+) items?", printed)
    if not found:
        raise SystemExit(f"the digest did not say what it read: {printed[:200]!r}")
    return int(found.group(1).replace(",", ""))


def aggregated(code: Path, folder: Path, sources: Sequence[Source]) -> Path:
    """A database of ``sources`` aggregated by the code at ``code``, in ``folder``."""
    folder.mkdir(parents=True)
    (folder / "communique.toml").write_text(CONFIG, encoding="utf-8")
    save_source_list(folder / "sources.opml", sources)
    communique(code, folder, "aggregate")
    return folder / "communique.db"


def digests(
    code: Path, database: Path, folder: Path, sequences: Sequence[Sequence[tuple[str, str]]]
) -> list[tuple[float, int]]:
    """Seconds each digest takes and how many items it read: each of ``sequences`` digested
    period after period on a fresh copy of ``database``."""
    out = []
    for periods in sequences:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / "communique.toml").write_text(CONFIG, encoding="utf-8")
        shutil.copy(database, folder / "communique.db")
        for since, until in periods:
            took, printed = communique(code, folder, "digest", "--since", since, "--until", until)
            out.append((took, items_digested(printed)))
    return out


def checkout(revision: str, folder: Path) -> Path:
    """The code at ``revision`` in ``folder`` (files only: no worktree to clean up)."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", revision], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)], check=True)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default=BASELINE, help="revision to compare against")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    days = calibration_days()
    real = real_reports(days)
    daily = [(d, (date.fromisoformat(d) + timedelta(days=1)).isoformat()) for d in days]
    scenarios = {
        f"real reporting, {len(days)} calibration days ({len(real):,} items from "
        f"{len({r.source for r in real})} outlets), a digest a day, then three days as one": (
            real,
            [daily, [run_period()]],
        ),
        "generated busy week, 5,000 items, one week's digest": (
            week_reports(),
            [[("2026-03-02", "2026-03-09T12:00")]],
        ),
    }
    with tempfile.TemporaryDirectory(prefix="communique-digest-time-") as temp:
        work = Path(temp)
        versions = {"baseline": checkout(args.baseline, work / "baseline"), "now": ROOT}
        for part in ("cli.py", "feeds", "sources"):  # compiled as the baseline is
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / part)], check=True)
        served = work / "served"
        served.mkdir()
        handler = partial(_Quiet, directory=str(served))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ok = True
        try:
            for number, (name, (reports, sequences)) in enumerate(scenarios.items()):
                periods = [p for sequence in sequences for p in sequence]
                folder = served / str(number)
                folder.mkdir()
                base_url = f"http://127.0.0.1:{server.server_address[1]}/{number}/"
                sources = write_feeds(folder, reports, base_url)
                databases = {
                    v: aggregated(code, work / f"aggregate-{number}-{v}", sources)
                    for v, code in versions.items()
                }
                best: dict[str, list[float]] = {}
                read: dict[str, list[int]] = {}
                for _ in range(args.repeat):
                    for version, code in versions.items():
                        done = digests(code, databases[version], work / f"d-{version}", sequences)
                        times = [t for t, _ in done]
                        read[version] = [n for _, n in done]
                        best[version] = [
                            min(t, b) for t, b in zip(times, best.get(version, times), strict=True)
                        ]
                if read["now"] != read["baseline"] or not all(read["now"]):
                    raise SystemExit(
                        f"{name}: the digests read different or no items "
                        f"(now {read['now']}, baseline {read['baseline']}): no comparison"
                    )
                before, after = sum(best["baseline"]), sum(best["now"])
                fast = after <= TARGET * before
                ok = ok and fast
                print(
                    f"{name}: {after:.2f} s against {before:.2f} s before storylines "
                    f"({args.baseline}), {after / before:.2f}x (target <= {TARGET:.2f}x): "
                    f"{'OK' if fast else 'FAIL'}"
                )
                if len(periods) > 1:
                    print(
                        "  per digest: "
                        + ", ".join(
                            f"{s}..{u} {a:.2f}/{b:.2f}"
                            for (s, u), a, b in zip(
                                periods, best["now"], best["baseline"], strict=True
                            )
                        )
                    )
        finally:
            server.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
