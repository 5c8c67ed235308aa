"""Shared fixtures: a site in a temp dir, and the CLI run in-process through click's runner."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chromium import browser  # noqa: F401 -- the browser tests' fixture, for every module
from click.testing import CliRunner, Result
from feedserver import FeedServer

from cli import main

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED_POST = SHARED / "articles" / "eu-strengthens-global-partnerships.txt"
NOW = "2026-01-01T00:00:00Z"

CONFIG = """\
[site]
title = "EU Notes"
subtitle = "Test site"
base_url = "https://notes.example.org/"
author = { name = "Site Author", email = "editor@example.org" }
language = "en"
timezone = "Europe/Brussels"
rights = "CC BY 4.0"

[publish]
articles = "articles"
output = "public"
entries = 20
"""


class Site:
    """A throwaway site: a config file, an articles dir, and a way to run commands on it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "communique.toml"
        self.articles = root / "articles"
        self.public = root / "public"
        self.articles.mkdir()
        self.config.write_text(CONFIG, encoding="utf-8")

    def article(self, name: str, text: str) -> Path:
        path = self.articles / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(
            main, ["--config", str(self.config), *args], catch_exceptions=False
        )

    def publish(self, *args: str) -> Result:
        result = self.run("publish", "--now", NOW, *args)
        assert result.exit_code == 0, result.output
        return result

    def snapshot(self) -> dict[str, bytes]:
        return {
            p.relative_to(self.public).as_posix(): p.read_bytes()
            for p in sorted(self.public.rglob("*"))
            if p.is_file()
        }


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


@pytest.fixture
def sample_site(site: Site) -> Site:
    """Three articles: YAML and TOML front matter, tags, a name-only and an emailed author."""
    site.article(
        "2025-03-01-japan-partnership.md",
        """
        ---
        title: "EU & Japan sign a <security> partnership"
        date: 2025-03-01T10:30:00+01:00
        updated: 2025-03-02T08:00:00+01:00
        author: Ana Šimić
        tags: [security and defence, Indo-Pacific]
        ---
        The EU and Japan signed a [partnership](/partnerships/japan/) today.

        ![Signing](img/signing.jpg)

        A second paragraph with more detail.
        """,
    )
    site.article(
        "2025-02-10-ukraine-talks.md",
        """
        +++
        title = "Accession talks with Ukraine"
        date = 2025-02-10
        tags = ["enlargement"]
        authors = [{ name = "Jonas Berg", email = "jonas@example.org" }]
        summary = "Talks opened in Luxembourg."
        +++
        Accession talks opened on 25 June 2024.

        <!-- more -->

        They cover the rule of law first.
        """,
    )
    site.article(
        "norway.md",
        """
        ---
        title: Norway joins a security partnership
        date: 2024-05-28
        tags: security and defence
        ---
        Norway and the EU signed a partnership.

        It covers maritime security.<!-- more -->
        """,
    )
    return site


@pytest.fixture
def published(sample_site: Site) -> Site:
    sample_site.publish()
    return sample_site


RunFn = Callable[..., Result]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A loopback feed server for one test (modules that need another kind override it)."""
    with FeedServer() as feeds:
        yield feeds
