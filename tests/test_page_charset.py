"""Article pages are read in the encoding their server and head declare (issue 18, point 8):
a UTF-8 page whose charset is only in the HTTP header was stored as Latin-1 ("europÃ©enne"),
so `search européenne` missed it. Through the CLI against a real loopback server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from feedserver import FeedServer, Route, rss

from cli import main
from sources.pages.charset import decode_page

CONFIG = """\
[site]
base_url = "https://example.org/"
timezone = "UTC"
[aggregate]
sources = "sources.opml"
database = "c.db"
full_text = "on"
pages_per_host = 10
"""


def french_page(word: str, meta: str = "") -> str:
    """A news page in French whose article names ``word`` (accented) and the Union."""
    paragraphs = [
        f"La haute représentante a présenté mardi à Bruxelles le rapport {word} sur "
        "l’action extérieure de l’Union, après la réunion des ministres.",
        "Les vingt-sept États membres ont adopté un nouveau train de mesures restrictives "
        "et prolongé la mission de conseil en Géorgie jusqu’à la fin de l’année prochaine.",
        "Selon des diplomates, la Hongrie a levé ses réserves lundi soir, après des semaines "
        "de négociations difficiles sur la facilité pour la paix.",
    ]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="fr"><head>{meta}<title>Rapport {word}</title></head>'
        "<body><header><nav><a href='/'>Accueil</a></nav></header>"
        f"<main><article><h1>Rapport {word}</h1>{body}</article></main>"
        "<footer><p>Tous droits réservés.</p></footer></body></html>"
    )


# (path, the word only its page has, bytes, Content-Type header)
PAGES = [
    # the case of the issue: UTF-8, the charset only in the header
    ("/header-utf8", "européenne", french_page("européenne").encode(), "text/html; charset=utf-8"),
    # windows-1252 said only in the header: the closing quote is 0x92, a control character in Latin-1
    (
        "/header-cp1252",
        "Élysée",
        french_page("Élysée").encode("cp1252"),
        "text/html; charset=windows-1252",
    ),
    # the header wins over a <meta> that says otherwise
    (
        "/header-beats-meta",
        "Sénégal",
        french_page("Sénégal", '<meta charset="iso-8859-1">').encode(),
        "text/html; charset=UTF-8",
    ),
    # no declaration anywhere: UTF-8 when the bytes are UTF-8
    ("/undeclared-utf8", "Côte", french_page("Côte").encode(), "text/html"),
    # no declaration anywhere and not UTF-8: windows-1252
    ("/undeclared-cp1252", "Nîmes", french_page("Nîmes").encode("cp1252"), "text/html"),
    # a server's default charset=iso-8859-1 on a UTF-8 page (as feeds are read)
    (
        "/default-latin1",
        "Zürich",
        french_page("Zürich").encode(),
        "text/html; charset=ISO-8859-1",
    ),
    # the <meta> alone, as before
    (
        "/meta-only",
        "Québec",
        french_page(
            "Québec", '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
        ).encode("cp1252"),
        "text/html",
    ),
]


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


@pytest.fixture
def aggregated(tmp_path: Path, server: FeedServer) -> Path:
    """One feed of short items, each linking to one of :data:`PAGES`, aggregated once."""
    for path, _, body, content_type in PAGES:
        server.route(path, Route(body=body, content_type=content_type))
    items = [
        {
            "title": f"Item {path}",
            "link": server.url(path),
            "guid": path,
            "description": "Une phrase.",
            "pubDate": "Tue, 10 Mar 2026 09:00:00 +0000",
        }
        for path, *_ in PAGES
    ]
    server.route("/feed.xml", Route(body=rss(items)))
    config = tmp_path / "communique.toml"
    config.write_text(CONFIG, encoding="utf-8")
    (tmp_path / "sources.opml").write_text(
        '<?xml version="1.0"?><opml version="2.0"><head/><body>'
        f'<outline type="rss" text="feed" xmlUrl="{server.url("/feed.xml")}"/></body></opml>',
        encoding="utf-8",
    )
    result = run(config, "aggregate", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pages"]["read"] == len(PAGES)
    return config


def test_each_page_is_read_in_its_declared_encoding_and_found_by_its_words(aggregated):
    for path, word, *_ in PAGES:
        found = run(aggregated, "search", "--json", word)
        assert found.exit_code == 0, (path, found.output)
        hits = json.loads(found.stdout)
        assert [hit["title"] for hit in hits] == [f"Item {path}"], path
        explained = run(aggregated, "explain", str(hits[0]["id"]))
        assert explained.exit_code == 0, (path, explained.output)
        lines = explained.output.splitlines()
        begins = next(line for line in lines if "page text begins" in line)
        assert f"le rapport {word} sur l’action extérieure de l’Union, après" in begins, (
            path,
            begins,
        )
        assert "Ã" not in explained.output and "\x92" not in explained.output, path


@pytest.mark.parametrize(
    ("body", "content_type", "text"),
    [
        (b"\xef\xbb\xbf" + "é".encode(), "text/html; charset=windows-1252", "é"),  # BOM first
        (b"\xff\xfe" + "é".encode("utf-16-le"), None, "é"),
        (b"\xfe\xff" + "é".encode("utf-16-be"), "text/html; charset=utf-8", "é"),
        ("é".encode("cp1252"), "text/html; charset=utf-7", "é"),  # not a web encoding: ignored
        ("é".encode("cp1252"), "text/html; charset=rot13", "é"),
        ("Ж".encode("koi8-r"), "text/html; charset=koi8-r", "Ж"),
        (b'<meta charset="utf-16">' + "é".encode(), None, '<meta charset="utf-16">é'),
        (b"<meta charset=x-bogus><meta charset=windows-1251>" + "Ж".encode("cp1251"), None, "Ж"),
        (b"<body><p>&lt;<meta charset=koi8-r>" + "é".encode(), None, "é"),  # not in the head
        (b"caf\x81", "text/html", "caf\ufffd"),  # a byte windows-1252 leaves undefined
    ],
)
def test_the_encoding_is_chosen_by_bom_header_meta_then_utf8_then_windows_1252(
    body, content_type, text
):
    assert decode_page(body, content_type).endswith(text)
