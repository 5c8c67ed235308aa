"""`communique import`: plain-text posts become articles with explicit front matter."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import feedparser
import pytest
import yaml
from conftest import SEED_POST

from feeds.importer import infer_year, is_heading


@pytest.fixture
def imported(site):
    result = site.run("import", str(SEED_POST))
    assert result.exit_code == 0, result.output
    return site, result


def front_matter(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])


def test_seed_post_becomes_an_article_with_explicit_front_matter(imported):
    site, result = imported
    target = site.articles / "2025-02-25-eu-strengthens-global-partnerships.md"
    assert target.exists()
    meta = front_matter(target)
    assert (
        meta["title"] == "European Union Strengthens Global Partnerships Amidst Geopolitical Shifts"
    )
    assert meta["author"] == "Lucas Verhoeven"
    assert str(meta["date"]) == "2025-02-25 00:00:00+01:00"
    assert meta["id"] == "tag:notes.example.org,2025-02-25:eu-strengthens-global-partnerships"
    # the inference is printed, never silent
    assert "date 2025-02-25: first such day on or after 2024-11-04" in result.output
    assert "reading time 2 min, recomputed" in result.output


def test_seed_post_publishes_with_four_section_headings_and_two_minutes(imported):
    site, _ = imported
    site.publish()
    page = (site.public / "eu-strengthens-global-partnerships" / "index.html").read_text(
        encoding="utf-8"
    )
    assert page.count("<h2>") == 4
    for heading in (
        "Deepening Security Ties with Norway",
        "Expanding Alliances in the Indo-Pacific",
        "Advancements in EU Enlargement",
        "Implications and Future Outlook",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert "2 min read" in page
    assert "25 February 2025" in page
    entry = feedparser.parse((site.public / "atom.xml").read_bytes()).entries[0]
    assert entry.author == "Lucas Verhoeven"
    assert entry.published == "2025-02-25T00:00:00+01:00"
    assert entry.content[0].value.count("<h2>") == 4


def test_importing_twice_refuses_to_overwrite_unless_forced(imported):
    site, _ = imported
    again = site.run("import", str(SEED_POST))
    assert again.exit_code == 2
    assert "already exists; use --force" in again.output
    assert site.run("import", "--force", str(SEED_POST)).exit_code == 0


def test_year_option_overrides_inference(site):
    result = site.run("import", "--year", "2026", str(SEED_POST))
    assert result.exit_code == 0, result.output
    assert (site.articles / "2026-02-25-eu-strengthens-global-partnerships.md").exists()
    assert "year 2026 from --year" in result.output


@pytest.mark.parametrize(
    ("month", "day", "body", "today", "expected"),
    [
        # the latest mentioned date is before Feb 25 in the same year
        (2, 25, "On 10 January 2025 talks began.", date(2026, 6, 1), date(2025, 2, 25)),
        # latest mention after Feb 25 of its year: next year
        (2, 25, "On May 28, 2024 ... on November 4, 2024 ...", date(2026, 6, 1), date(2025, 2, 25)),
        # the same day counts ("on or after")
        (2, 25, "Signed on 25/02/2025.", date(2026, 6, 1), date(2025, 2, 25)),
        # day-first numeric: 10/06/2025 is 10 June, so the post is 2026-02-25, not 2025
        (2, 25, "Summit of 10/06/2025.", date(2026, 6, 1), date(2026, 2, 25)),
        # ISO dates count too
        (3, 1, "Report of 2023-12-31.", date(2026, 6, 1), date(2024, 3, 1)),
        # 29 February waits for a leap year
        (2, 29, "Reported on 1 March 2025.", date(2030, 1, 1), date(2028, 2, 29)),
        # no dated event: the latest such day on or before today
        (2, 25, "Nothing dated here.", date(2026, 1, 10), date(2025, 2, 25)),
        (2, 25, "Nothing dated here.", date(2026, 3, 1), date(2026, 2, 25)),
    ],
)
def test_year_inference(month, day, body, today, expected):
    inferred, reason = infer_year(month, day, body, today)
    assert inferred == expected
    assert reason


def test_headings_are_short_lines_without_closing_punctuation():
    assert is_heading("Deepening Security Ties with Norway")
    assert not is_heading("The EU acted.")
    assert not is_heading("What comes next?")
    assert not is_heading("A" * 120)


def test_markdown_special_characters_in_prose_stay_literal(site, tmp_path):
    post = tmp_path / "specials.txt"
    post.write_text(
        "Tariffs *and* <trade> & more\n- Jo Doe\n- 3 March 2025\n\n"
        "1. Not a list item: costs rose 5% [sic] & more_than_expected.\n"
        "# Not a heading either, though it starts with a hash.\n",
        encoding="utf-8",
    )
    assert site.run("import", str(post)).exit_code == 0
    site.publish()
    page = (site.public / "specials" / "index.html").read_text(encoding="utf-8")
    assert "1. Not a list item: costs rose 5% [sic] &amp; more_than_expected." in page
    assert "# Not a heading either" in page
    assert "Tariffs *and* &lt;trade&gt; &amp; more" in page
    assert "<ol" not in page and "<h1>Not" not in page


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ":1: the post is empty"),
        ("Title\n- Jo Doe\n\nBody text.\n", ":2: no date line; add a line like '- Feb 25, 2025'"),
        ("Title\n- Jo Doe\n- Feb 30, 2025\n\nBody.\n", ":3: 'Feb 30, 2025' is not a real day"),
        ("Title\n- Jo Doe\n- Feb 25, 2025\n", "the post has no body text"),
        ("Title\n- Jo\n- Feb 25\n- Someone else\n\nBody.\n", ":4: unexpected metadata line"),
    ],
)
def test_bad_posts_get_one_line_errors_and_write_nothing(site, tmp_path, text, message):
    post = tmp_path / "bad.txt"
    post.write_text(text, encoding="utf-8")
    result = site.run("import", "--now", "2026-01-01T00:00:00Z", str(post))
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list(site.articles.iterdir()) == []


def test_hard_wrapped_paragraphs_separated_by_blank_lines_are_joined(site, tmp_path):
    post = tmp_path / "wrapped.txt"
    post.write_text(
        "Council conclusions on Moldova\n- Jo Doe\n- 3 March 2025\n\n"
        "The Council adopted conclusions\non Moldova today, welcoming\nreforms.\n\n"
        "Next steps\n\n"
        "Talks continue\nin April.\n",
        encoding="utf-8",
    )
    assert site.run("import", str(post)).exit_code == 0
    body = (site.articles / "2025-03-03-wrapped.md").read_text().split("---\n")[2]
    assert body.strip().split("\n\n") == [
        "The Council adopted conclusions on Moldova today, welcoming reforms.",
        "## Next steps",
        "Talks continue in April.",
    ]


def test_two_posts_that_would_become_one_article_are_refused(site, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.txt").write_text(
            "X\n- Jo\n- 3 March 2025\n\nBody.\n", encoding="utf-8"
        )
    result = site.run("import", str(tmp_path / "a" / "x.txt"), str(tmp_path / "b" / "x.txt"))
    assert result.exit_code == 2
    assert "would also become" in result.output
    assert list(site.articles.iterdir()) == []


def test_a_title_with_html_tags_is_refused(site, tmp_path):
    post = tmp_path / "html.txt"
    post.write_text("A <b>bold</b> title\n- Jo\n- 3 March 2025\n\nBody.\n", encoding="utf-8")
    result = site.run("import", str(post))
    assert result.exit_code == 2
    assert result.output.startswith(f"{post}:1: the title contains HTML tags")
