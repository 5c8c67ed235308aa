"""What a publish copies: never a file a symlink brings in from outside its folder.
Every case goes through the command line, and the whole output is searched for secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import NOW, Site

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 2 2"><circle r="1"/></svg>'
SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'


@pytest.fixture
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the project, holding what must never be published."""
    folder = tmp_path_factory.mktemp("elsewhere")
    (folder / "shadow").write_text("root:SECRET-SHADOW:19000:0:99999:7:::\n", encoding="utf-8")
    (folder / "post.md").write_text(
        "---\ntitle: SECRET-POST\ndate: 2025-01-03\n---\nSECRET-POST-BODY\n", encoding="utf-8"
    )
    (folder / "articles").mkdir()
    (folder / "articles" / "2025-01-04-far.md").write_text(
        "---\ntitle: SECRET-FAR\ndate: 2025-01-04\n---\nSECRET-FAR-BODY\n", encoding="utf-8"
    )
    return folder


def article(site: Site, name: str, front: str = "") -> Path:
    title = name.removesuffix(".md")[11:].upper() or "A"
    return site.article(name, f"---\ntitle: {title}\ndate: 2025-01-01\n{front}---\nBody.\n")


def output_bytes(site: Site) -> bytes:
    """Every byte of every file under the output folder, hidden ones too."""
    return b"".join(p.read_bytes() for p in sorted(site.public.rglob("*")) if p.is_file())


def warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning: ")]


# --- symlinks: nothing from outside the folder a file is published from -------------------


def test_links_leading_out_of_their_folder_are_left_out_with_one_warning_each(site, elsewhere):
    (site.root / "smtp-password").write_text("SECRET-SMTP\n", encoding="utf-8")  # in the project
    (site.root / "communique.db").write_bytes(b"SQLite format 3\x00SECRET-DB")
    a = article(site, "2025-01-01-a.md")
    assets = a.with_suffix("")
    assets.mkdir()
    (assets / "map.txt").write_text("a real attachment\n", encoding="utf-8")
    static = site.root / "static"
    static.mkdir()
    (static / "site.txt").write_text("a real static file\n", encoding="utf-8")
    links = {
        static / "robots.txt": Path("../smtp-password"),  # relative, inside the project
        static / "conf.toml": site.config,
        static / "db": site.root / "communique.db",
        static / "etc": elsewhere,  # a folder
        static / "root": Path(".."),  # the whole project, through a folder link
        assets / "notes.txt": elsewhere / "shadow",
        assets / "docs": elsewhere,
        site.articles / "2025-01-03-post.md": elsewhere / "post.md",  # an article file
        site.articles / "more": elsewhere / "articles",  # a folder of articles
        site.articles / "up": Path(".."),  # the project, holding static/ and the config
    }
    for link, target in links.items():
        link.symlink_to(target)

    for _ in range(2):  # the second publish replaces the first: the same, still exit 0
        result = site.run("publish", "--now", NOW)
        assert result.exit_code == 0, result.output
        said = warnings(result)
        assert len(said) == len(links), result.stderr
        for link in links:
            line = next(w for w in said if w.startswith(f"warning: {link} is a symlink to "))
            assert line.endswith("; not published"), line
        published = output_bytes(site)
        assert b"SECRET" not in published
        assert b"real attachment" in published and b"real static file" in published
    assert (site.public / "a" / "map.txt").is_file()
    assert "SECRET" not in (site.public / "feed.json").read_text(encoding="utf-8")
    assert json.loads((site.public / "feed.json").read_bytes())["items"][0]["title"] == "A"


def test_links_that_stay_inside_their_folder_are_published(site):
    a = article(site, "2025-01-01-a.md")
    b = article(site, "2025-01-02-b.md")
    (a.with_suffix("")).mkdir()
    (a.with_suffix("") / "map.png").write_bytes(PNG)
    (b.with_suffix("")).mkdir()
    (b.with_suffix("") / "map.png").symlink_to(Path("../2025-01-01-a/map.png"))
    drafts = site.root / "articles" / "drafts"
    drafts.mkdir()
    real_post = drafts / "real.txt"
    real_post.write_text("---\ntitle: Linked\ndate: 2025-01-05\n---\nLinked body.\n")
    (site.articles / "2025-01-05-linked.md").symlink_to(Path("drafts/real.txt"))
    static = site.root / "static"
    (static / "docs").mkdir(parents=True)
    (static / "docs" / "guide.txt").write_text("guide\n", encoding="utf-8")
    (static / "manual").symlink_to(Path("docs"))  # a folder link inside static/
    (static / "docs" / "loop").symlink_to(Path(".."))  # back to static/: a loop, walked once
    (static / "readme.txt").symlink_to(Path("docs/guide.txt"))

    result = site.publish()

    assert warnings(result) == []
    assert (site.public / "b" / "map.png").read_bytes() == PNG
    assert (site.public / "manual" / "guide.txt").read_text(encoding="utf-8") == "guide\n"
    assert (site.public / "readme.txt").read_text(encoding="utf-8") == "guide\n"
    assert (site.public / "linked" / "index.html").is_file()
    # the id is written into the file the link names; the link stays a link
    assert (site.articles / "2025-01-05-linked.md").is_symlink()
    assert real_post.read_text(encoding="utf-8").startswith('---\nid: "tag:notes.example.org')


def test_a_picture_linked_from_outside_its_folder_is_an_error_naming_the_line(site, elsewhere):
    (elsewhere / "passwd.png").write_bytes(PNG + b"SECRET-PICTURE")
    a = article(site, "2025-01-01-a.md", "image: map.png\n")
    a.with_suffix("").mkdir()
    link = a.with_suffix("") / "map.png"
    link.symlink_to(elsewhere / "passwd.png")

    result = site.run("publish", "--now", NOW)

    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        f"{a}:4: image 'map.png': {link} is a symlink to {elsewhere / 'passwd.png'}, "
        f"outside {site.articles} (copy it there to publish it)"
    ]
    assert not site.public.exists()


def test_a_picture_in_a_folder_linked_from_outside_is_an_error_too(site, elsewhere):
    (elsewhere / "map.png").write_bytes(PNG)
    a = article(site, "2025-01-01-a.md", "image: pics/map.png\n")
    a.with_suffix("").mkdir()
    (a.with_suffix("") / "pics").symlink_to(elsewhere)

    result = site.run("publish", "--now", NOW)

    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"{a}:4: image 'pics/map.png': {a.with_suffix('')}/pics is ")
    assert not site.public.exists()


@pytest.mark.parametrize("key", ["static", "articles"])
def test_an_input_folder_linked_out_of_the_project_is_refused_until_the_config_names_it(
    site, elsewhere, key
):
    folder = site.root / key
    if folder.exists():
        folder.rmdir()
    real = elsewhere / "articles" if key == "articles" else elsewhere
    folder.symlink_to(real)

    result = site.run("publish", "--now", NOW)

    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert f"[publish] {key} " in lines[0] and "leads through a symlink to " in lines[0]
    assert str(real) in lines[0] and "outside the project" in lines[0]
    assert not site.public.exists()

    # written in communique.toml, a folder outside the project is the owner's choice
    text = site.config.read_text(encoding="utf-8").replace('articles = "articles"\n', "")
    site.config.write_text(text + f'{key} = "{real}"\n', encoding="utf-8")
    assert site.run("publish", "--now", NOW).exit_code == 0
    if key == "articles":
        assert (site.public / "far" / "index.html").is_file()
    else:
        assert (site.public / "shadow").is_file()


def test_a_favicon_ico_linked_from_outside_static_is_not_named_by_the_pages(site, elsewhere):
    (site.root / "static").mkdir()
    (site.root / "static" / "favicon.ico").symlink_to(elsewhere / "shadow")
    article(site, "2025-01-01-a.md")

    result = site.run("publish", "--now", NOW)

    assert result.exit_code == 0, result.output
    assert len(warnings(result)) == 1
    assert not (site.public / "favicon.ico").exists()
    assert 'rel="icon" href="data:,"' in (site.public / "index.html").read_text(encoding="utf-8")
