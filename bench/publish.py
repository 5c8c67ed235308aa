"""Benchmark ``communique publish``: generated sites of 500 and 5,000 articles.

Run from the repository root::

    .venv/bin/python bench/publish.py                   # sizes 500 and 5,000
    .venv/bin/python bench/publish.py --sizes 200,2000 --repeat 2

Each size is measured in a fresh Python process (this script re-invoked with ``--worker``),
so the peak resident set size (``ru_maxrss``) belongs to that size alone and no cache from a
smaller run helps a larger one. The worker writes N deterministic articles (seeded random;
400-800 words; a heading, a link, a relative image and a list each; dates spread over six
years; one to four tags from 30 names, so there are 30 tag feeds and pages) into a temporary
directory, warms the interpreter with an untimed publish of a tiny site, then times
``publish(config, now=...)`` with ``time.perf_counter``: best of ``--repeat`` runs, each
into an empty output directory. Every article has an ``id:`` in its front matter, so publish
never rewrites the sources. Peak memory is reported two ways: the process's peak RSS, and
the ``tracemalloc`` peak of one more, traced, publish (Python allocations made by the build;
tracing slows the build, so that run is not timed; ``--no-tracemalloc`` skips it).

The pass/fail target is the *ratio* time(largest) / time(smallest), not an absolute time.
Absolute times depend on the machine, its load and the disk, so a fixed budget in seconds
would fail on a slow CI runner and hide a regression on a fast laptop. Both sizes run on the
same machine in the same run, so the ratio cancels the machine out and measures what the code
controls: how the build scales. Publishing is linear in principle (every article is rendered
once, every feed holds a fixed number of entries), so 10x the articles should take 10x the
time; the target allows 10% on top of linear (11 for 500 -> 5,000). Anything quadratic (a
per-article scan of all articles, a page that grows with the site rendered once per
article) shows up as a ratio well above that long before it is slow enough to notice by hand.
The exit status is 1 when the ratio misses the target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

DEFAULT_SIZES = (500, 5000)
SEED = 20250225
SLACK = 1.1  # allowed time ratio = SLACK x size ratio: 11 for 500 -> 5,000
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=ZoneInfo("Europe/Brussels"))
FIRST_DAY = date(2019, 1, 1)
DAYS = (date(2024, 12, 31) - FIRST_DAY).days
HOST = "bench.example.org"

CONFIG = f"""\
[site]
title = "Bench"
base_url = "https://{HOST}/"
author = {{ name = "Bench Author" }}
timezone = "Europe/Brussels"

[publish]
articles = "articles"
output = "public"
entries = 20
"""

TAGS = [
    "security and defence",
    "enlargement",
    "Indo-Pacific",
    "Ukraine",
    "trade",
    "climate",
    "energy",
    "migration",
    "human rights",
    "sanctions",
    "development aid",
    "Western Balkans",
    "Eastern Partnership",
    "Middle East",
    "Africa",
    "Latin America",
    "China",
    "United States",
    "NATO",
    "cybersecurity",
    "space",
    "maritime security",
    "critical raw materials",
    "digital policy",
    "humanitarian aid",
    "elections",
    "diplomacy",
    "Arctic",
    "Global Gateway",
    "multilateralism",
]
AUTHORS = ["Lucas Verhoeven", "Ana Marić", "Jonas Keller", "Élise Dubois", "Marta Kowalska"]
WORDS = [
    "the",
    "european",
    "union",
    "council",
    "commission",
    "parliament",
    "member",
    "states",
    "foreign",
    "policy",
    "security",
    "defence",
    "partnership",
    "agreement",
    "negotiations",
    "summit",
    "declaration",
    "minister",
    "high",
    "representative",
    "strategy",
    "cooperation",
    "sanctions",
    "trade",
    "energy",
    "climate",
    "migration",
    "border",
    "neighbourhood",
    "region",
    "stability",
    "resilience",
    "crisis",
    "response",
    "mission",
    "operation",
    "budget",
    "instrument",
    "funding",
    "support",
    "reform",
    "accession",
    "candidate",
    "country",
    "dialogue",
    "talks",
    "framework",
    "implementation",
    "review",
    "report",
    "regulation",
    "proposal",
    "vote",
    "majority",
    "unanimity",
    "presidency",
    "capital",
    "agenda",
    "priority",
    "challenge",
    "threat",
    "risk",
    "investment",
    "infrastructure",
    "supply",
    "chain",
    "market",
    "industry",
    "technology",
    "digital",
    "cyber",
    "maritime",
    "space",
    "humanitarian",
    "aid",
    "development",
    "rights",
    "democracy",
    "rule",
    "law",
    "court",
    "election",
    "observers",
    "civil",
    "society",
    "media",
    "freedom",
    "press",
    "statement",
    "conference",
    "ceremony",
    "week",
    "month",
    "year",
    "decade",
    "since",
    "after",
    "before",
    "during",
    "while",
    "although",
    "because",
    "therefore",
    "however",
    "moreover",
    "significant",
    "important",
    "key",
    "major",
    "new",
    "further",
    "joint",
    "common",
    "shared",
    "global",
    "local",
    "national",
    "international",
    "bilateral",
    "multilateral",
    "strategic",
    "political",
    "economic",
    "social",
]


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choices(WORDS, k=words))
    return text[0].upper() + text[1:] + "."


def _paragraph(rng: random.Random, words: int) -> tuple[str, int]:
    sentences, written = [], 0
    while written < words:
        length = min(rng.randint(8, 24), words - written) or 1
        sentences.append(_sentence(rng, length))
        written += length
    return " ".join(sentences), written


def article_text(rng: random.Random, index: int) -> tuple[str, str]:
    """``(file name, file text)`` of the ``index``-th article: front matter and Markdown body."""
    day = FIRST_DAY + timedelta(days=rng.randrange(DAYS + 1))
    slug = "-".join([*rng.sample(WORDS, 3), str(index)])
    title = _sentence(rng, rng.randint(4, 10)).rstrip(".").title()
    tags = rng.sample(TAGS, rng.randint(1, 4))
    author = rng.choice(AUTHORS)
    target = rng.randint(400, 800)

    blocks, words = [], 0
    paragraph, count = _paragraph(rng, rng.randint(40, 90))
    blocks.append(paragraph)
    words += count
    if rng.random() < 0.2:
        blocks.append("<!-- more -->")
    blocks.append(f"## {_sentence(rng, rng.randint(3, 7)).rstrip('.')}")
    paragraph, count = _paragraph(rng, rng.randint(40, 90))
    blocks.append(
        paragraph + f" See [the full statement](https://example.eu/press/{index}.html) "
        f"and [an earlier note](../{slug}-background/) for context."
    )
    words += count + 8
    blocks.append(f"![Figure {index}: {rng.choice(WORDS)}](images/{slug}.png)")
    items = [_sentence(rng, rng.randint(4, 10)) for _ in range(rng.randint(3, 6))]
    blocks.append("\n".join(f"- {item}" for item in items))
    words += sum(len(item.split()) for item in items)
    while words < target:
        paragraph, count = _paragraph(rng, min(rng.randint(50, 120), target - words))
        blocks.append(paragraph)
        words += count

    front_matter = "\n".join(
        [
            "---",
            f'title: "{title}"',
            f"date: {day.isoformat()}",
            f'author: "{author}"',
            "tags: [" + ", ".join(f'"{tag}"' for tag in tags) + "]",
            f'id: "tag:{HOST},{day.isoformat()}:{slug}"',
            "---",
        ]
    )
    return f"{day.isoformat()}-{slug}.md", front_matter + "\n\n" + "\n\n".join(blocks) + "\n"


def make_site(root: Path, count: int, seed: int = SEED) -> tuple[Path, int]:
    """Write ``count`` articles and a config under ``root``; ``(config path, source bytes)``."""
    rng = random.Random(seed)
    articles = root / "articles"
    articles.mkdir(parents=True)
    total = 0
    for index in range(count):
        name, text = article_text(rng, index)
        data = text.encode("utf-8")
        (articles / name).write_bytes(data)
        total += len(data)
    config = root / "communique.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return config, total


def _rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _current_rss_mb() -> float | None:
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def worker(count: int, repeat: int, traced: bool) -> dict[str, object]:
    """Measure one size in this (fresh) process; returns what the parent prints."""
    from feeds.build import publish
    from feeds.config import load_config

    with tempfile.TemporaryDirectory(prefix=f"communique-bench-{count}-") as temp:
        root = Path(temp)
        # Warm-up: imports, Jinja template compilation and other first-call costs, untimed.
        warm = load_config(make_site(root / "warm", 5, seed=SEED + 1)[0])
        publish(warm, now=NOW)

        started = time.perf_counter()
        config_path, source_bytes = make_site(root / "site", count)
        generate_seconds = time.perf_counter() - started
        config = load_config(config_path)
        output = config.publish.output_dir
        rss_before = _current_rss_mb()

        times = []
        build = None
        for _ in range(repeat):
            shutil.rmtree(output, ignore_errors=True)
            build = None  # let the previous build go before the next one is made
            started = time.perf_counter()
            build = publish(config, now=NOW)
            times.append(time.perf_counter() - started)
        assert build is not None
        rss_peak = _rss_mb()

        if len(build.articles) != count:
            raise SystemExit(f"expected {count} articles published, got {len(build.articles)}")
        if build.ids_to_fix:
            raise SystemExit(f"{len(build.ids_to_fix)} articles would be rewritten; fix their ids")
        files = len(build.files)
        output_bytes = sum(len(data) for data in build.files.values())
        tags = sum(1 for name in build.files if name.startswith("tags/") and name.endswith(".json"))

        traced_peak = None
        if traced:
            shutil.rmtree(output, ignore_errors=True)
            build = None
            tracemalloc.start()
            publish(config, now=NOW)
            traced_peak = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
            tracemalloc.stop()

    return {
        "size": count,
        "times": times,
        "best": min(times),
        "generate_seconds": generate_seconds,
        "source_mb": source_bytes / (1024 * 1024),
        "output_mb": output_bytes / (1024 * 1024),
        "files": files,
        "tag_feeds": tags,
        "rss_before_mb": rss_before,
        "rss_peak_mb": rss_peak,
        "tracemalloc_peak_mb": traced_peak,
    }


def run_size(count: int, repeat: int, traced: bool) -> dict[str, object]:
    """Run :func:`worker` for one size in a fresh interpreter and read back its JSON line."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(count)]
    command += ["--repeat", str(repeat)]
    if not traced:
        command.append("--no-tracemalloc")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"benchmark worker for {count} articles failed ({result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give sizes like 500,5000") from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must be whole numbers of at least 1")
    return sizes


def _default_repeat(count: int) -> int:
    return 3 if count <= 1000 else 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=list(DEFAULT_SIZES),
        help="comma-separated article counts (default: 500,5000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="timed runs per size, best kept (default: 3 up to 1,000 articles, else 2)",
    )
    parser.add_argument(
        "--no-tracemalloc",
        dest="traced",
        action="store_false",
        help="skip the extra traced publish that measures the tracemalloc peak",
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")

    if args.worker is not None:
        repeat = args.repeat or _default_repeat(args.worker)
        print(json.dumps(worker(args.worker, repeat, args.traced)))
        return 0

    print(f"communique publish benchmark: python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    results = []
    for count in args.sizes:
        repeat = args.repeat or _default_repeat(count)
        result = run_size(count, repeat, args.traced)
        results.append(result)
        times = ", ".join(f"{t:.2f}" for t in result["times"])
        traced = result["tracemalloc_peak_mb"]
        before = result["rss_before_mb"]
        print(
            f"{count:>6} articles: best {result['best']:.2f} s of {repeat} ({times}) -> "
            f"{count / result['best']:.0f} art/s; "
            f"{result['files']} files, {result['output_mb']:.1f} MB out "
            f"({result['source_mb']:.1f} MB sources, {result['tag_feeds']} tag feeds)"
        )
        print(
            f"{'':>15} peak RSS {result['rss_peak_mb']:.0f} MB"
            + (f" (before build {before:.0f} MB)" if before is not None else "")
            + (f", tracemalloc peak {traced:.0f} MB" if traced is not None else "")
        )

    peak = max(r["rss_peak_mb"] for r in results)
    rates = ", ".join(f"{r['size']} -> {r['size'] / r['best']:.0f} art/s" for r in results)
    if len(results) < 2:
        print(f"publish: {rates}, peak {peak:.0f} MB (one size: no ratio to check)")
        return 0
    small, large = results[0], results[-1]
    ratio = large["best"] / small["best"]
    target = SLACK * large["size"] / small["size"]
    ok = ratio <= target
    print(
        f"time({large['size']}) / time({small['size']}) = {ratio:.2f}; "
        f"target <= {target:g} ({large['size'] / small['size']:g} would be linear): "
        + ("OK" if ok else "FAIL")
    )
    print(f"publish: {rates}, ratio {ratio:.2f} (target <= {target:g}), peak {peak:.0f} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
