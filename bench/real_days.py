"""Copy one day of real reporting out of the rumca-js RSS link archive into the corpus.

The archives ``rumca-js/RSS-Link-Database-<year>`` hold, per day, what hundreds of feeds
published, as JSON (title, description, link, date, language). This keeps what a feed
carries from the world-news feeds of the outlets below, with where each item came from, as
``tests/data/real/real-YYYY-MM-DD.jsonl``. It reads a local git mirror of the archive (the
2023 one keeps its daily folders in the commits before it zipped them), one day's folder at a
time::

    python bench/real_days.py --mirror DIR --commit 08b89dd9b 2023-06-29 2023-07-11

Days kept for outside evaluation (10 to 20 December 2023, 29 January to 4 February 2024)
are refused: they are never read.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feeds.text import html_to_text  # noqa: E402

OUT = ROOT / "tests" / "data" / "real"
REPOSITORY = "rumca-js/RSS-Link-Database-2023"
# (outlet, its feeds' URLs as the archive records them), in this order: world-news feeds of
# outlets that report on Europe, as in shared/fixtures/news-2023-11-08.
OUTLETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("BBC News", ("http://feeds.bbci.co.uk/news/rss.xml", "https://feeds.bbci.co.uk/news/rss.xml")),
    ("Sky News World", ("http://feeds.skynews.com/feeds/rss/world.xml",
                        "https://feeds.skynews.com/feeds/rss/world.xml")),
    ("The Epoch Times World", ("https://feed.theepochtimes.com/world/feed",
                               "https://www.theepochtimes.com/c-world/feed")),
    ("WSJ World News", ("https://feeds.a.dj.com/rss/RSSWorldNews.xml",)),
    ("NBC News World", ("https://feeds.nbcnews.com/nbcnews/public/world",)),
    ("Washington Post World", ("https://feeds.washingtonpost.com/rss/world?itid=lk_inline_manual_36",)),
    ("New York Times World", ("https://rss.nytimes.com/services/xml/rss/nyt/World.xml",)),
    ("The Hill", ("https://thehill.com/news/feed",)),
    ("TVN24 Ze świata", ("https://tvn24.pl/wiadomosci-ze-swiata,2.xml",)),
    ("Al Jazeera", ("https://www.aljazeera.com/xml/rss/all.xml", "http://www.aljazeera.com/xml/rss/all.xml")),
    ("Bloomberg Politics", ("https://www.bloomberg.com/politics/feeds/site.xml",)),
    ("Financial Times World", ("https://www.ft.com/world?format=rss",)),
    ("Le Monde in English", ("https://www.lemonde.fr/en/rss/une.xml",)),
    ("POLITICO Europe", ("https://www.politico.eu/feed",)),
    ("The Telegraph", ("https://www.telegraph.co.uk/rss.xml",)),
    ("The Guardian", ("https://www.theguardian.com/world/rss", "https://www.theguardian.com/international/rss")),
    ("The Moscow Times", ("https://www.themoscowtimes.com/rss/news",)),
    ("NPR News", ("https://feeds.npr.org/1001/rss.xml",)),
    ("ABC News", ("http://feeds.abcnews.com/abcnews/topstories",)),
    ("Polsat News Świat", ("https://www.polsatnews.pl/rss/swiat.xml",)),
    ("CNN World", ("http://rss.cnn.com/rss/cnn_world.rss",)),
)  # fmt: skip
RESERVED = ((date(2023, 12, 10), date(2023, 12, 20)), (date(2024, 1, 29), date(2024, 2, 4)))


def reserved(day: date) -> bool:
    """Whether ``day`` is kept for outside evaluation (never read, labelled or tuned on)."""
    return any(first <= day <= last for first, last in RESERVED)


def _show(mirror: Path, commit: str, path: str) -> bytes | None:
    done = subprocess.run(
        ["git", "-C", str(mirror), "show", f"{commit}:{path}"], capture_output=True, check=False
    )
    return done.stdout if done.returncode == 0 else None


def _text(value: object) -> str:
    return " ".join(html_to_text(str(value or "")).split())


def from_mirror(mirror: Path, commit: str, day: date) -> list[tuple[dict, str, str]]:
    """Every entry of the day's feed files in a git mirror of the archive, with its path and
    the commit (only that day's folder is read)."""
    if reserved(day):
        raise SystemExit(f"{day} is kept for outside evaluation: not read")
    folder = f"{day.year}/{day:%m}/{day.isoformat()}/"
    names = subprocess.run(
        ["git", "-C", str(mirror), "ls-tree", "--name-only", commit, folder],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    entries = []
    for path in sorted(n for n in names if n.endswith("_entries.json")):
        raw = _show(mirror, commit, path)
        for entry in json.loads(raw or b"[]") if raw else []:
            if isinstance(entry, dict):
                entries.append((entry, path, commit))
    return entries


def from_copies(folder: Path, day: date) -> list[tuple[dict, str, str]]:
    """Every entry copied out of the archive one file at a time (for the years too large to
    mirror): ``*.jsonl`` files of entries carrying their own ``path`` and ``commit``."""
    if reserved(day):
        raise SystemExit(f"{day} is kept for outside evaluation: not read")
    entries = []
    for copy in sorted(folder.glob("*.jsonl")):
        for line in copy.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            entries.append((entry, entry["path"], entry["commit"]))
    return entries


def extract(
    entries: list[tuple[dict, str, str]], day: date, repository: str
) -> tuple[list[dict], list[str]]:
    """The day's items from the outlets' feeds (each link once per outlet), and the outlets."""
    by_feed = {
        url.rstrip("/"): (outlet, rank) for outlet, urls in OUTLETS for rank, url in enumerate(urls)
    }
    grouped: dict[str, list[tuple[int, int, tuple[dict, str, str]]]] = {}
    for order, (entry, path, commit) in enumerate(entries):
        found = by_feed.get(str(entry.get("source") or "").rstrip("/"))
        if found:  # an outlet's feeds in the order listed, each feed's entries as given
            grouped.setdefault(found[0], []).append((found[1], order, (entry, path, commit)))
    items: list[dict] = []
    outlets = []
    for outlet, _ in OUTLETS:
        seen: set[str] = set()
        count = 0
        for _, _, (entry, path, commit) in sorted(grouped.get(outlet, []), key=lambda g: g[:2]):
            link = str(entry.get("link") or "")
            title = _text(entry.get("title"))
            if not title or not link or link in seen:
                continue
            seen.add(link)
            count += 1
            slug = outlet.lower().replace(" ", "-").replace("ś", "s")
            items.append(
                {
                    "id": f"real:{day.isoformat()}:{slug}:{count}",
                    "source": outlet,
                    "official": False,
                    "published": entry.get("date_published") or "",
                    "title": title,
                    "summary": _text(entry.get("description")),
                    "link": link,
                    "feed": entry.get("source") or "",
                    "provenance": {"repository": repository, "commit": commit, "path": path},
                }
            )
        if count:
            outlets.append(outlet)
    return items, outlets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, help="a git mirror of the archive")
    parser.add_argument("--commit", help="with --mirror: the commit whose day folders to read")
    parser.add_argument("--copies", type=Path, help="a folder of entries copied one file at a time")
    parser.add_argument("--repository", default=REPOSITORY, help="the archive, for provenance")
    parser.add_argument("days", nargs="+", type=date.fromisoformat)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for day in args.days:
        if args.mirror:
            full = subprocess.run(
                ["git", "-C", str(args.mirror), "rev-parse", args.commit],
                capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            entries = from_mirror(args.mirror, full, day)
        else:
            entries = from_copies(args.copies, day)
        items, outlets = extract(entries, day, args.repository)
        target = OUT / f"real-{day.isoformat()}.jsonl"
        with target.open("w", encoding="utf-8") as stream:
            for item in items:
                stream.write(json.dumps(item, ensure_ascii=False) + "\n")
        print(f"{target.name}: {len(items)} items from {len(outlets)} outlets")


if __name__ == "__main__":
    main()
