"""The publish pipeline: determinism, atomic output, --check, drafts, the clock and permanent ids."""

from __future__ import annotations

import os

import feedparser
import pytest

from feeds.build import publish
from feeds.config import load_config
from feeds.output import write_tree


def test_two_publishes_of_unchanged_articles_are_byte_identical(published):
    first = published.snapshot()
    published.publish()
    assert published.snapshot() == first


def test_output_does_not_depend_on_the_clock(sample_site):
    sample_site.publish()
    first = sample_site.snapshot()
    sample_site.run("publish", "--now", "2031-07-04T12:00:00Z")
    assert sample_site.snapshot() == first


def test_unchanged_files_keep_their_modification_time(published):
    atom = published.public / "atom.xml"
    os.utime(atom, (1_000_000_000, 1_000_000_000))
    published.publish()
    assert atom.stat().st_mtime == 1_000_000_000


def test_a_failed_build_leaves_the_previous_output_untouched(published):
    before = published.snapshot()
    published.article("2025-04-01-broken.md", "---\ntitle: Broken\ndate: someday\n---\n")
    result = published.run("publish", "--now", "2026-01-01T00:00:00Z")
    assert result.exit_code == 2
    assert published.snapshot() == before
    assert sorted(p.name for p in published.root.iterdir()) == [
        "articles",
        "communique.toml",
        "public",
    ]


def test_a_crash_while_writing_leaves_the_previous_output_untouched(published, monkeypatch):
    before = published.snapshot()

    def explode(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pathlib.Path.write_bytes", explode)
    with pytest.raises(OSError):
        write_tree({"atom.xml": b"new"}, published.public)
    monkeypatch.undo()
    assert published.snapshot() == before
    assert not [p for p in published.root.iterdir() if p.name.startswith(".public")]


def test_check_reports_stale_output_and_exits_1(sample_site):
    result = sample_site.run("publish", "--check", "--now", "2026-01-01T00:00:00Z")
    assert result.exit_code == 1
    assert "atom.xml: missing" in result.output
    assert "id not fixed yet" in result.output
    sample_site.publish()
    ok = sample_site.run("publish", "--check", "--now", "2026-01-01T00:00:00Z")
    assert ok.exit_code == 0, ok.output
    sample_site.article("2025-05-01-new.md", "---\ntitle: New\n---\nBody.\n")
    stale = sample_site.run("publish", "--check", "--now", "2026-01-01T00:00:00Z")
    assert stale.exit_code == 1
    assert "atom.xml: out of date" in stale.output
    assert "new/index.html: missing" in stale.output


def test_drafts_and_future_articles_are_left_out_unless_asked(site):
    site.article("2025-01-01-live.md", "---\ntitle: Live\n---\nBody.\n")
    site.article("2025-01-02-draft.md", "---\ntitle: Draft\ndraft: true\n---\nBody.\n")
    site.article("2025-06-01-future.md", "---\ntitle: Future\n---\nBody.\n")
    result = site.run("publish", "--now", "2025-03-01T00:00:00Z")
    assert "1 draft(s), 1 future-dated left out" in result.output
    titles = [e.title for e in feedparser.parse((site.public / "atom.xml").read_bytes()).entries]
    assert titles == ["Live"]
    assert not (site.public / "draft").exists()
    site.run("publish", "--now", "2025-03-01T00:00:00Z", "--drafts")
    titles = [e.title for e in feedparser.parse((site.public / "atom.xml").read_bytes()).entries]
    assert titles == ["Future", "Draft", "Live"]
    # once the clock passes its date, the future article appears
    site.run("publish", "--now", "2025-06-01T00:00:00+02:00")
    titles = [e.title for e in feedparser.parse((site.public / "atom.xml").read_bytes()).entries]
    assert titles == ["Future", "Live"]


def test_ids_are_fixed_in_front_matter_on_first_publish_and_survive_a_move(site):
    path = site.article(
        "2025-01-01-moving.md", "---\ntitle: Moving\n# a comment the author keeps\n---\nBody.\n"
    )
    first = site.publish()
    assert "id fixed as tag:notes.example.org,2025-01-01:moving" in first.output
    text = path.read_text()
    assert text.startswith(
        '---\ntitle: Moving\n# a comment the author keeps\nid: "tag:notes.example.org,2025-01-01:moving"\n---\n'
    )
    # the site moves to another domain and the file is renamed: the id does not change
    site.config.write_text(site.config.read_text().replace("notes.example.org", "new.example.net"))
    path.rename(site.articles / "2025-01-01-renamed.md")
    site.publish()
    entry = feedparser.parse((site.public / "atom.xml").read_bytes()).entries[0]
    assert entry.id == "tag:notes.example.org,2025-01-01:moving"
    assert entry.link == "https://new.example.net/renamed/"


def test_toml_front_matter_gets_a_toml_id_line(site):
    path = site.article("t.md", "+++\ntitle = 'T'\ndate = 2025-01-01\n+++\nBody.\n")
    site.publish()
    assert 'id = "tag:notes.example.org,2025-01-01:t"\n+++' in path.read_text()


def test_drafts_do_not_get_ids_written(site):
    path = site.article("2025-01-01-d.md", "---\ntitle: D\ndraft: true\n---\n")
    site.run("publish", "--now", "2026-01-01T00:00:00Z", "--drafts")
    assert "id:" not in path.read_text()


def test_publish_is_usable_as_a_library(sample_site):
    from datetime import UTC, datetime

    config = load_config(sample_site.config)
    build = publish(config, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert [a.article.slug for a in build.articles] == [
        "japan-partnership",
        "ukraine-talks",
        "norway",
    ]
    assert (sample_site.public / "feed.json").exists()


def test_an_empty_site_still_publishes_valid_feeds(site):
    site.publish()
    parsed = feedparser.parse((site.public / "atom.xml").read_bytes())
    assert not parsed.bozo and parsed.entries == []
    assert "No articles yet." in (site.public / "index.html").read_text()


def test_a_local_preview_writes_the_real_sites_id_not_the_preview_hosts(site):
    path = site.article("2025-01-01-a.md", "---\ntitle: A\n---\nBody.\n")
    site.run("publish", "--now", "2026-01-01T00:00:00Z", "--base-url", "http://127.0.0.1:8000/")
    assert 'id: "tag:notes.example.org,2025-01-01:a"' in path.read_text()
    entry = feedparser.parse((site.public / "atom.xml").read_bytes()).entries[0]
    assert entry.link == "http://127.0.0.1:8000/a/"
