"""Hostile input and misconfiguration on the publishing side: nothing deletes an article,
nothing hangs, nothing is silently misread. Every case goes through the command line."""

from __future__ import annotations

import pytest
from conftest import CONFIG, NOW, Site

PRECIOUS = "2025-01-02-precious.md"
PRECIOUS_TEXT = "---\ntitle: Precious\ndate: 2025-01-02\n---\nDo not lose me.\n"


def configured(site: Site, publish_table: str) -> None:
    """The test site's config with its [publish] table replaced."""
    site.config.write_text(
        CONFIG.split("[publish]")[0] + "[publish]\n" + publish_table, encoding="utf-8"
    )


def line_of(site: Site, key: str) -> int:
    lines = site.config.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(f"{key} ="))


# --- 1. no output setting can delete an article, a static file or the project ---------


@pytest.mark.parametrize(
    ("table", "blamed", "says"),
    [
        ('output = "articles"\n', "output", "is the articles folder"),
        ('output = "./articles/"\n', "output", "is the articles folder"),
        ('output = "public/../articles"\n', "output", "is the articles folder"),
        ('output = "articles/site"\n', "output", "is inside the articles folder"),
        ('articles = "public/articles"\noutput = "public"\n', "output", "contains the articles"),
        ('articles = "public"\n', "articles", "is the articles folder"),  # default output
        ('output = "link"\n', "output", "is the articles folder"),  # a symlink to articles/
        ('output = "static"\n', "output", "is the static folder"),
        ('output = "static/out"\n', "output", "is inside the static folder"),
        ('output = "."\n', "output", "is the project folder"),
        ('output = ".."\n', "output", "contains the project"),
    ],
)
def test_an_output_folder_that_overlaps_input_is_refused_and_nothing_is_lost(
    site, table, blamed, says
):
    configured(site, table)
    articles = site.root / ("public/articles" if "public/articles" in table else "articles")
    articles.mkdir(parents=True, exist_ok=True)
    (articles / PRECIOUS).write_text(PRECIOUS_TEXT, encoding="utf-8")
    (site.root / "static").mkdir()
    (site.root / "static" / "logo.png").write_bytes(b"PNG")
    (site.root / "link").symlink_to(site.root / "articles")
    before = sorted(p for p in site.root.rglob("*"))
    for _ in range(3):
        result = site.run("publish", "--now", NOW)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"{site.config}:{line_of(site, blamed)}: [publish] output")
        assert says in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert (articles / PRECIOUS).read_text(encoding="utf-8") == PRECIOUS_TEXT
    assert (site.root / "static" / "logo.png").read_bytes() == b"PNG"
    assert sorted(p for p in site.root.rglob("*")) == before  # nothing written anywhere


@pytest.mark.parametrize("command", ["serve", "import"])
def test_every_command_that_reads_the_config_refuses_a_dangerous_output(site, command):
    configured(site, 'output = "articles"\n')
    post = site.root / "post.txt"
    post.write_text("T\n- Jo\n- 3 March 2025\n\nBody.\n", encoding="utf-8")
    result = site.run(command, *([str(post)] if command == "import" else []))
    assert result.exit_code == 2
    assert "[publish] output" in result.output and "is the articles folder" in result.output
    assert list(site.articles.iterdir()) == []


def test_an_output_folder_beside_the_articles_still_publishes(site):
    configured(site, 'articles = "content/articles"\noutput = "content/public"\n')
    articles = site.root / "content" / "articles"
    articles.mkdir(parents=True)
    (articles / PRECIOUS).write_text(PRECIOUS_TEXT, encoding="utf-8")
    for _ in range(2):
        assert site.run("publish", "--now", NOW).exit_code == 0
    assert (site.root / "content" / "public" / "precious" / "index.html").exists()
    assert (articles / PRECIOUS).read_text(encoding="utf-8").endswith(PRECIOUS_TEXT[4:])
