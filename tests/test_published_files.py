"""What a publish copies: never a file a symlink brings in from outside its folder, never a
picture that is not what its name says, never an SVG that could run script on the site.
Every case goes through the command line, and the whole output is searched for secrets."""

from __future__ import annotations

import json
import textwrap
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


# --- pictures are what their names say -------------------------------------------------


AVIF = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"
AVIS = b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00avis"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
GIF = b"GIF89a\x01\x00\x01\x00"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 "


@pytest.mark.parametrize(
    ("name", "data", "media_type"),
    [
        ("a.png", PNG, "image/png"),
        ("a.jpg", JPEG, "image/jpeg"),
        ("a.JPEG", JPEG, "image/jpeg"),
        ("a.gif", GIF, "image/gif"),
        ("a.webp", WEBP, "image/webp"),
        ("a.avif", AVIF, "image/avif"),
        ("b.avif", AVIS, "image/avif"),
        ("a.svg", SVG.encode(), "image/svg+xml"),
        ("b.svg", f'<?xml version="1.0"?>\n<!-- made by hand -->\n{SVG}'.encode(), "image/svg+xml"),
    ],
)
def test_a_picture_that_is_what_its_name_says_is_published(site, name, data, media_type):
    a = article(site, "2025-01-01-a.md", f"image: {name}\n")
    a.with_suffix("").mkdir()
    (a.with_suffix("") / name).write_bytes(data)

    site.publish()

    assert (site.public / "a" / name).read_bytes() == data
    rss = (site.public / "rss.xml").read_text(encoding="utf-8")
    assert f'type="{media_type}"' in rss


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("a.png", b"root:x:0:0:root:/root:/bin/bash\n", "is not a PNG picture (it is text)"),
        ("a.png", JPEG, "is a JPEG picture, not PNG; rename it a.jpg (and the image: line)"),
        ("a.jpg", PNG, "is a PNG picture, not JPEG; rename it a.png"),
        ("a.gif", b"", "is not a GIF picture (the file is empty)"),
        ("a.webp", b"RIFF\x24\x00\x00\x00WAVEfmt ", "is not a WebP picture"),
        ("a.avif", HEIC, "is not an AVIF picture (it is an ISO media file of brand 'heic'"),
        ("a.png", SVG.encode(), "is an SVG picture, not PNG; rename it a.svg"),
        ("a.png", b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe", "its bytes are none of PNG, JPEG"),
        ("a.svg", PNG, "is a PNG picture, not SVG"),
        ("a.svg", b"just words", "is not well-formed XML, so it cannot be checked for script"),
        ("a.svg", b'<html xmlns="http://www.w3.org/1999/xhtml"/>', "its root element is <html>"),
    ],
)
def test_a_picture_that_is_not_what_its_name_says_is_one_error_line(site, name, data, says):
    a = article(site, "2025-01-01-a.md", f"image: {name}\n")
    a.with_suffix("").mkdir()
    (a.with_suffix("") / name).write_bytes(data)

    result = site.run("publish", "--now", NOW)

    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"{a}:4: image {name!r}: {a.with_suffix('') / name} "), lines[0]
    assert says in lines[0], lines[0]
    assert not site.public.exists()


# --- SVG that could run script on the site's origin ------------------------------------

XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
SCRIPTED = {
    "script": (f"<svg {SVG_NS}><script>alert(1)</script></svg>", "has a <script> element"),
    "onload": (f'<svg {SVG_NS} onload="alert(1)"/>', "has an event attribute onload= on <svg>"),
    "onclick": (f'<svg {SVG_NS}><rect onClick="alert(1)"/></svg>', "event attribute onClick="),
    "javascript": (
        f'<svg {SVG_NS}><a href="javascript:alert(1)"><text>x</text></a></svg>',
        "has a script URL in href= on <a>",
    ),
    "entities and whitespace": (
        f'<svg {SVG_NS} {XLINK}><a xlink:href=" &#x6A;ava&#x09;script&#58;alert(1)">'
        "<text>x</text></a></svg>",
        "has a script URL in href= on <a>",
    ),
    "xml:base": (
        f'<svg {SVG_NS}><a xml:base="JavaScript:" href="alert(1)"><text>x</text></a></svg>',
        "has a script URL in base= on <a>",
    ),
    "foreignObject": (
        f'<svg {SVG_NS}><foreignObject><p xmlns="http://www.w3.org/1999/xhtml">hi</p>'
        "</foreignObject></svg>",
        "has a <foreignObject> element",
    ),
    "html": (
        f'<svg {SVG_NS}><h:img xmlns:h="http://www.w3.org/1999/xhtml" src="x"/></svg>',
        "has an HTML <img> element",
    ),
    "animated event": (
        f'<svg {SVG_NS}><set attributeName="onmouseover" to="alert(1)"/></svg>',
        "animates the event attribute onmouseover",
    ),
    "animated link": (
        f'<svg {SVG_NS}><a><animate attributeName="href" values="javascript:alert(1)"/>'
        "<text>x</text></a></svg>",
        "has a script URL in values= on <animate>",
    ),
    "external use": (
        f'<svg {SVG_NS}><use href="https://evil.example/x.svg#a"/></svg>',
        "has a <use> of another document (https://evil.example/x.svg#a)",
    ),
    "entity declaration": (
        f'<!DOCTYPE svg [<!ENTITY x "&#60;script>alert(1)&#60;/script>">]><svg {SVG_NS}>&x;</svg>',
        "declares entities or attributes in its DOCTYPE",
    ),
    "attribute default": (
        f'<!DOCTYPE svg [<!ATTLIST svg onload CDATA "alert(1)">]><svg {SVG_NS}/>',
        "declares entities or attributes in its DOCTYPE",
    ),
    "xslt": (
        f'<?xml-stylesheet type="text/xsl" href="x.xsl"?><svg {SVG_NS}/>',
        "has an xml-stylesheet instruction",
    ),
    "utf-16 entity": (
        f'<!DOCTYPE svg [<!ENTITY x "y">]><svg {SVG_NS}>&x;</svg>',
        "declares entities or attributes in its DOCTYPE",
    ),
}


def svg_bytes(case: str) -> bytes:
    text = SCRIPTED[case][0]
    return ("\ufeff" + text).encode("utf-16-le") if case.startswith("utf-16") else text.encode()


@pytest.mark.parametrize("case", sorted(SCRIPTED))
def test_a_scripted_svg_picture_is_one_error_line(site, case):
    a = article(site, "2025-01-01-a.md", "image: logo.svg\n")
    a.with_suffix("").mkdir()
    (a.with_suffix("") / "logo.svg").write_bytes(svg_bytes(case))

    result = site.run("publish", "--now", NOW)

    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"{a}:4: image 'logo.svg': {a.with_suffix('') / 'logo.svg'} ")
    assert SCRIPTED[case][1] in lines[0], lines[0]
    assert not site.public.exists()


@pytest.mark.parametrize("case", sorted(SCRIPTED))
def test_a_scripted_svg_among_static_files_or_assets_is_left_out_with_one_warning(site, case):
    a = article(site, "2025-01-01-a.md")
    a.with_suffix("").mkdir()
    static = site.root / "static"
    static.mkdir()
    scripted = [a.with_suffix("") / "chart.SVG", static / "logo.svg"]  # as warned: sorted
    for path in scripted:
        path.write_bytes(svg_bytes(case))
    (static / "plain.svg").write_text(SVG, encoding="utf-8")

    result = site.run("publish", "--now", NOW)

    assert result.exit_code == 0, result.output
    said = warnings(result)
    assert len(said) == 2, result.stderr
    for path, line in zip(scripted, sorted(said), strict=True):
        assert line.startswith(f"warning: {path} "), line
        assert SCRIPTED[case][1] in line and line.endswith("; not published"), line
    assert not (site.public / "logo.svg").exists()
    assert not (site.public / "a" / "chart.SVG").exists()
    assert (site.public / "plain.svg").read_text(encoding="utf-8") == SVG
    assert b"alert" not in output_bytes(site)


def test_a_plain_svg_with_the_usual_doctype_and_metadata_is_published(site):
    drawing = textwrap.dedent(
        f"""\
        <?xml version="1.0" encoding="UTF-8" standalone="no"?>
        <!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN"
          "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
        <svg {SVG_NS} {XLINK} xmlns:dc="http://purl.org/dc/elements/1.1/" width="10" height="10">
          <title>Map &amp; key</title>
          <metadata><dc:title>Map</dc:title></metadata>
          <defs><circle id="dot" r="1"/></defs>
          <use xlink:href="#dot" x="5" y="5"/>
          <a href="https://example.org/map"><text>Map</text></a>
          <style>circle {{ fill: #036; }}</style>
        </svg>
        """
    )
    a = article(site, "2025-01-01-a.md", "image: map.svg\n")
    a.with_suffix("").mkdir()
    (a.with_suffix("") / "map.svg").write_text(drawing, encoding="utf-8")

    result = site.publish()

    assert warnings(result) == []
    assert (site.public / "a" / "map.svg").read_text(encoding="utf-8") == drawing
