"""Guards on what each part of communique loads, and on what the built package holds.

Each check runs in a fresh interpreter (a subprocess) and reads its ``sys.modules``: within
the test process every module is loaded already, so nothing could fail there. What the
guards keep true:

* the judging modules are pure: no HTTP client, no feed parser, no database, none of the
  rooms that do I/O (they import the records and each other);
* rendering a digest needs neither an HTTP client nor a feed parser, nor the store;
* the publishing package (``feeds/``) never imports the aggregator (``sources/``);
* the ``aggregate`` command, run for real, loads no Markdown, no Jinja and no mail code;
* the fork server's preload names modules that exist and that hold what the workers run
  (multiprocessing skips a name that does not import, silently);
* the wheel holds every subpackage and every data file (templates, taxonomies, the default
  source list, the story model, stylesheets).
"""

from __future__ import annotations

import ast
import json
import pkgutil
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest
from feedserver import FeedServer, Route, rss

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("feeds", "sources")

# the libraries that fetch, parse and sanitise feeds, or store: what a pure module never loads
HTTP_FEEDS_DATABASE = ("httpx", "feedparser", "nh3", "sqlite3", "_sqlite3")
# the rooms that fetch, follow feeds or store: the pure rooms import none of them
IO_ROOMS = ("sources.store", "sources.http", "sources.follow")


def loaded(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` from the repository."""
    dump = "import json, sys; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{dump}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def within(modules: Iterable[str], names: Iterable[str]) -> list[str]:
    """The ``modules`` that are one of ``names`` or inside one of them (``a.b`` is in ``a``)."""
    names = tuple(names)
    return sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names))


def modules_of(package: str) -> list[str]:
    """Every module of ``package`` (found on disk, so a new module is guarded too)."""
    path = REPO.joinpath(*package.split("."))
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(path)]) if not m.ispkg]


# --- pure rooms -----------------------------------------------------------------------------


@pytest.mark.parametrize("module", modules_of("sources.judge"))
def test_judging_loads_no_http_feed_parser_or_database(module: str) -> None:
    modules = loaded(f"import {module}")
    assert within(modules, HTTP_FEEDS_DATABASE) == []
    assert within(modules, IO_ROOMS) == []


@pytest.mark.parametrize("module", ["sources.digest.render", "sources.digest.message"])
def test_digest_rendering_loads_no_http_feed_parser_or_store(module: str) -> None:
    modules = loaded(f"import {module}")
    assert within(modules, HTTP_FEEDS_DATABASE) == []
    assert within(modules, ("sources.store", "sources.http")) == []
    # credits compare links as the aggregator keys them: that one pure module of follow/
    follow = set(within(modules, ["sources.follow"])) - {"sources.follow"}
    assert follow <= {"sources.follow.item_keys"}


# --- feeds/ never imports sources/ --------------------------------------------------------


@pytest.mark.parametrize("module", ["feeds", *modules_of("feeds")])
def test_each_feeds_module_loads_nothing_from_sources(module: str) -> None:
    assert within(loaded(f"import {module}"), ["sources"]) == []


def test_no_import_of_sources_anywhere_in_feeds() -> None:
    """Also the imports inside functions, which loading a module does not run."""
    found = []
    for path in sorted((REPO / "feeds").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [f"{path.name}:{node.lineno}: {n}" for n in within(names, ["sources"])]
    assert found == []


# --- the aggregate command --------------------------------------------------------------------


def test_aggregate_loads_no_markdown_jinja_or_mail(tmp_path: Path) -> None:
    """The real command, on a real feed on loopback: what it loads is what it imports at the
    top of cli.py, in the use case and in every lazy import on the way."""
    from sources.follow.opml import Source, save_source_list

    (tmp_path / "communique.toml").write_text(
        '[site]\nbase_url = "https://example.org/"\n'
        '[aggregate]\nsources = "sources.opml"\ndatabase = "c.db"\nworkers = 1\n',
        encoding="utf-8",
    )
    item = {
        "title": "EU foreign ministers agree new sanctions on Russia",
        "link": "https://news.example/sanctions",
        "description": "The Council adopted a new package of sanctions.",
        "pubDate": "Wed, 05 Feb 2025 08:00:00 +0000",
    }
    out = tmp_path / "modules.json"
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        "from cli import main\n"
        "main()\n"
    )
    with FeedServer() as server:
        server.route("/feed.xml", Route(body=rss([item])))
        save_source_list(tmp_path / "sources.opml", [Source(server.url("/feed.xml"), title="A")])
        config = str(tmp_path / "communique.toml")
        result = subprocess.run(
            [sys.executable, "-c", code, "--config", config, "aggregate", "--json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["items_new"] == 1  # it did aggregate
    modules = set(json.loads(out.read_text(encoding="utf-8")))
    assert within(modules, ["markdown_it", "jinja2"]) == []
    mail = ["smtplib", "sources.digest.delivery", "sources.digest.message"]
    assert within(modules, mail) == []


# --- the fork server's preload ----------------------------------------------------------------


def test_forkserver_preload_names_modules_that_hold_what_workers_run() -> None:
    from sources.follow.scoring import parse_and_score, use_taxonomy
    from sources.follow.workers import PRELOAD, start_worker
    from sources.pages.text import read_page

    assert PRELOAD
    # each name on its own: a name that does not import fails here, not silently in a run
    for name in PRELOAD:
        assert name in loaded(f"import {name}")
    modules = loaded("\n".join(f"import {name}" for name in PRELOAD))
    # what a worker unpickles: its start, its setup, and the tasks the run gives it
    for function in (start_worker, use_taxonomy, parse_and_score, read_page):
        assert function.__module__ in modules, function.__qualname__


# --- the built wheel --------------------------------------------------------------------------


def test_wheel_holds_every_subpackage_and_data_file(tmp_path: Path) -> None:
    """Built as a user builds it (``pip wheel``, isolated build), from a copy of what the
    package is made of, so no build folder is left in the repository."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "cli.py"):
        shutil.copy2(REPO / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    wheels = tmp_path / "wheel"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w", str(wheels)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = wheels.glob("communique-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())

    files = [
        path.relative_to(REPO).as_posix()
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]
    packages = [f for f in files if f.endswith("/__init__.py")]
    data = [f for f in files if not f.endswith(".py")]
    assert {"feeds/__init__.py", "sources/judge/__init__.py"} <= set(packages)
    assert {"sources/judge/topics.toml", "sources/digest/templates/digest.html"} <= set(data)
    assert [p for p in packages if p not in names] == []  # every subpackage
    assert [d for d in data if d not in names] == []  # every template, taxonomy, model, list
    assert [f for f in files if f not in names] == []  # and every module
    assert "cli.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
