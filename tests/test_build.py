"""The publish pipeline: determinism, atomic output, --check, drafts, the clock and permanent ids."""

from __future__ import annotations

import json
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
    assert sample_site.run("publish", "--now", "2031-07-04T12:00:00Z").exit_code == 0
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
    assert text == (
        '---\nid: "tag:notes.example.org,2025-01-01:moving"\ntitle: Moving\n# a comment the author keeps\n---\nBody.\n'
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
    assert path.read_text().startswith('+++\nid = "tag:notes.example.org,2025-01-01:t"\ntitle')


def test_drafts_do_not_get_ids_written(site):
    path = site.article("2025-01-01-d.md", "---\ntitle: D\ndraft: true\n---\nBody.\n")
    result = site.run("publish", "--now", "2026-01-01T00:00:00Z", "--drafts")
    assert result.exit_code == 0, result.output
    assert (site.public / "d" / "index.html").exists()
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


def test_toml_id_goes_before_the_first_table_and_is_fixed_once(site):
    path = site.article(
        "2025-01-01-t.md", '+++\ntitle = "T"\n\n[[authors]]\nname = "Jo"\n+++\nBody.\n'
    )
    assert "id fixed" in site.publish().output
    text = path.read_text()
    assert text.startswith('+++\nid = "tag:notes.example.org,2025-01-01:t"\n')
    again = site.publish()
    assert "id fixed" not in again.output
    assert path.read_text() == text
    entry = feedparser.parse((site.public / "atom.xml").read_bytes()).entries[0]
    assert entry.author == "Jo"


def test_an_empty_yaml_id_is_filled_in_not_duplicated(site):
    path = site.article("2025-01-01-e.md", "---\ntitle: E\nid:\nslug: e\n---\nBody.\n")
    site.publish()
    assert (
        path.read_text()
        == '---\ntitle: E\nid: "tag:notes.example.org,2025-01-01:e"\nslug: e\n---\nBody.\n'
    )


def test_fixing_an_id_keeps_crlf_line_endings_and_the_bom(site):
    path = site.articles / "2025-01-01-w.md"
    path.write_bytes(b"\xef\xbb\xbf---\r\ntitle: W\r\n---\r\nBody.\r\n")
    site.publish()
    assert path.read_bytes() == (
        b'\xef\xbb\xbf---\r\nid: "tag:notes.example.org,2025-01-01:w"\r\ntitle: W\r\n---\r\nBody.\r\n'
    )


def test_ids_are_not_written_while_the_site_has_a_local_address(site):
    site.config.write_text(
        site.config.read_text().replace("https://notes.example.org/", "http://127.0.0.1:8000/")
    )
    path = site.article("2025-01-01-local.md", "---\ntitle: L\n---\nBody.\n")
    result = site.publish()
    assert "not written into front matter while [site] base_url is a local address" in result.output
    assert "id:" not in path.read_text()
    entry = feedparser.parse((site.public / "atom.xml").read_bytes()).entries[0]
    assert entry.id == "tag:127.0.0.1,2025-01-01:local"


def test_static_files_and_article_assets_are_published_where_links_point(site):
    (site.root / "static").mkdir()
    (site.root / "static" / "icon.png").write_bytes(b"PNG")
    site.article("2025-01-01-map.md", "---\ntitle: Map\n---\n![A map](img/map.png)\n")
    (site.articles / "2025-01-01-map" / "img").mkdir(parents=True)
    (site.articles / "2025-01-01-map" / "img" / "map.png").write_bytes(b"MAP")
    site.publish()
    assert (site.public / "icon.png").read_bytes() == b"PNG"
    assert (site.public / "map" / "img" / "map.png").read_bytes() == b"MAP"
    content = feedparser.parse((site.public / "atom.xml").read_bytes()).entries[0].content[0].value
    assert 'src="https://notes.example.org/map/img/map.png"' in content
    assert site.run("publish", "--check", "--now", "2026-01-01T00:00:00Z").exit_code == 0
    (site.root / "static" / "atom.xml").write_text("clash")
    clash = site.run("publish", "--now", "2026-01-01T00:00:00Z")
    assert clash.exit_code == 2 and "would overwrite the generated atom.xml" in clash.output


def test_default_time_applies_to_dates_without_a_time(site):
    site.config.write_text(
        site.config.read_text().replace("entries = 20", 'entries = 20\ndefault_time = "09:30"')
    )
    site.article("2025-07-01-summer.md", "---\ntitle: S\n---\nBody.\n")
    site.publish()
    assert (
        "<published>2025-07-01T09:30:00+02:00</published>" in (site.public / "atom.xml").read_text()
    )


def test_more_marker_inside_code_is_text_not_a_cut(site):
    site.article(
        "2025-01-01-code.md",
        "---\ntitle: Code\n---\nFirst paragraph.\n\n```html\n<!-- more -->\n```\n\nLast.\n",
    )
    site.publish()
    item = json.loads((site.public / "feed.json").read_text())["items"][0]
    assert "&lt;!-- more --&gt;" in item["content_html"]
    assert item["summary"] == "First paragraph."


def test_tags_that_differ_only_in_symbols_get_their_own_pages(site):
    site.article("2025-01-01-c.md", "---\ntitle: C\ntags: [C]\n---\nBody.\n")
    site.article("2025-01-02-cpp.md", "---\ntitle: Cpp\ntags: [C++]\n---\nBody.\n")
    site.publish()
    assert (site.public / "tags" / "c" / "atom.xml").exists()
    assert (site.public / "tags" / "c-plus-plus" / "atom.xml").exists()


@pytest.mark.parametrize("host", ["localhost.", "foo.localhost", "192.168.1.5", "[::1]"])
def test_ids_are_held_back_for_any_local_address(site, host):
    site.config.write_text(site.config.read_text().replace("notes.example.org", host))
    path = site.article("2025-01-01-l.md", "---\ntitle: L\n---\nBody.\n")
    site.publish()
    assert "id:" not in path.read_text()


def test_a_drafts_assets_stay_private(site):
    site.article("2025-01-01-secret.md", "---\ntitle: S\ndraft: true\n---\n![x](plan.png)\n")
    (site.articles / "2025-01-01-secret").mkdir()
    (site.articles / "2025-01-01-secret" / "plan.png").write_bytes(b"PLAN")
    (site.articles / "2025-01-01-secret" / "README.md").write_text("notes, not an article")
    site.article("2025-01-02-open.md", "---\ntitle: O\n---\nBody.\n")
    site.publish()
    assert not (site.public / "secret").exists()
    site.publish("--drafts")
    assert (site.public / "secret" / "plan.png").read_bytes() == b"PLAN"


def test_tags_that_would_share_a_page_are_refused_but_case_variants_share(site):
    site.article("2025-01-01-a.md", "---\ntitle: A\ntags: [Security]\n---\nB\n")
    site.article("2025-01-02-b.md", "---\ntitle: B\ntags: [security]\n---\nB\n")
    site.publish()
    assert (
        "<title>EU Notes: Security</title>"
        in (site.public / "tags" / "security" / "atom.xml").read_text()
    )
    site.article("2025-01-03-c.md", "---\ntitle: C\ntags: [a/b]\n---\nB\n")
    site.article("2025-01-04-d.md", "---\ntitle: D\ntags: [a-b]\n---\nB\n")
    result = site.run("publish", "--now", "2026-01-01T00:00:00Z")
    assert result.exit_code == 2 and "would share the page tags/a-b/" in result.output


def test_import_without_a_real_base_url_writes_no_id(tmp_path):
    from click.testing import CliRunner
    from conftest import SEED_POST

    from cli import main

    config = tmp_path / "communique.toml"
    config.write_text('[publish]\narticles = "articles"\n')
    result = CliRunner().invoke(main, ["--config", str(config), "import", str(SEED_POST)])
    assert result.exit_code == 0, result.output
    text = next((tmp_path / "articles").glob("*.md")).read_text()
    assert "id:" not in text
    assert "no id written" in result.output
