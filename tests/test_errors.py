"""Bad input: one line `path:line: what is wrong and how to fix it`, exit code 2, nothing written."""

from __future__ import annotations

import pytest

GOOD = "---\ntitle: Fine\ndate: 2025-01-01\n---\nBody.\n"


def assert_input_error(site, result, where: str, message: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(where), lines[0]  # path:line: first, as editors parse it
    assert message in lines[0], lines[0]
    assert not site.public.exists(), "nothing may be written"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("---\ndate: 2025-01-01\n---\nBody.\n", 1, "missing title; add 'title: ...'"),
        ("---\ntitle: No date\n---\nBody.\n", 1, "missing date; add 'date: 2025-02-25'"),
        ("---\ntitle: T\ndate: 2025-13-45\n---\n", 3, "date: '2025-13-45' is not a real day"),
        (
            "---\ntitle: T\ndate: next tuesday\n---\n",
            3,
            "date: 'next tuesday' is not a date; write it like",
        ),
        (
            "---\ntitle: T\ndate: 02/25/2025\n---\n",
            3,
            "'02/25/2025' is not a real day",
        ),  # month-first refused
        ("---\ntitle: [unclosed\ndate: 2025-01-01\n---\n", 3, "front matter is not valid YAML"),
        ("+++\ntitle = 'T'\ndate = \n+++\n", 3, "front matter is not valid TOML"),
        ("---\ntitle: T\ndate: 2025-01-01\n", 1, "front matter is not closed"),
        ("No front matter here.\n", 1, "no front matter; start the file with a line '---'"),
        (
            "---\ntitle: T\ndate: 2025-01-02\nupdated: 2025-01-01\n---\n",
            4,
            "updated is before date",
        ),
        (
            "---\ntitle: T\ndate: 2025-01-02\nslug: Not A Slug\n---\n",
            4,
            "slug 'Not A Slug' must be lower-case",
        ),
        ("---\ntitle: T\ndate: 2025-01-02\nlang: english!\n---\n", 4, "is not a BCP 47 tag"),
        ("---\ntitle: T\ndate: 2025-01-02\ndraft: maybe\n---\n", 4, "draft must be true or false"),
        (
            "---\ntitle: T\ndate: 2025-01-01T10:00:00+25:00\n---\nB\n",
            3,
            "impossible UTC offset +25:00",
        ),
        ("---\ntitle: T\ndate: 0001-01-01\n---\nB\n", 3, "has an implausible year"),
        ("+++\ntitle = 'T'\ndate = 0001-01-01\n+++\nB\n", 3, "has an implausible year"),
        (
            "---\ntitle: T\ndate: 2025-01-01\nauthor: {name: A, uri: 5}\n---\nB\n",
            4,
            "uri '5' must be an absolute",
        ),
        (
            '---\ntitle: T\ndate: 2025-01-01\nauthor: {name: A, uri: "javascript:alert(1)"}\n---\nB\n',
            4,
            "must be an absolute http(s) or mailto URL",
        ),
        (
            "---\ntitle: T\ndate: 2025-01-01\nauthor: {name: A, uri: /me}\n---\nB\n",
            4,
            "uri '/me' must be",
        ),
        (
            "---\ntitle: Summary with <b>html</b>\ndate: 2025-01-01\n---\nB\n",
            2,
            "title contains HTML tags",
        ),
        ("---\ntitle: Empty\ndate: 2025-01-01\n---\n", 5, "the article has no body"),
        ("---\ntitle: x &amp; y\ndate: 2025-01-01\n---\nB\n", 2, "title contains HTML"),
        (
            "---\ntitle: T\ndate: 2025-01-01\nauthor: x</b>\n---\nB\n",
            4,
            "contains HTML tags or entities",
        ),
        (
            '---\ntitle: T\ndate: 2025-01-01\nid: "tag:E.ORG,2025:x"\n---\nB\n',
            4,
            "must be an absolute URI",
        ),
        (
            '---\ntitle: T\ndate: 2025-01-01\nid: "tag:e.org,2025:x[1]"\n---\nB\n',
            4,
            "must be an absolute URI",
        ),
        (
            '---\ntitle: T\ndate: 2025-01-01\nid: "urn:uuid:zzz"\n---\nB\n',
            4,
            "must be an absolute URI",
        ),
        ('---\ntitle: T\ndate: 2025-01-01\nid: "http:foo"\n---\nB\n', 4, "must be an absolute URI"),
        (
            "---\ntitle: T\ndate: 2025-01-01\nauthor: {name: A, uri: 'http:foo'}\n---\nB\n",
            4,
            "uri 'http:foo'",
        ),
        (
            "---\ntitle: T\ndate: 2025-01-01\nauthor: {name: A, email: 'a\"b@e.org'}\n---\nB\n",
            4,
            "not an email",
        ),
        ("---\ntitle: T\ndate: 2025-01-01\nlang: english\n---\nB\n", 4, "is not a BCP 47 tag"),
        (
            "---\ntitel: T\ndate: 2025-01-01\n---\nB\n",
            2,
            "unknown key 'titel'; did you mean 'title'?",
        ),
        (
            "---\ntitle: T\ndate: 2025-01-01\nupdated: 2030-01-01\n---\nB\n",
            4,
            "updated is in the future",
        ),
        (
            '---\ntitle: T\ndate: 2025-01-01\nid: "tag:bücher.example,2025:a"\n---\nB\n',
            4,
            "must be an absolute URI",
        ),
        (
            '---\ntitle: T\ndate: 2025-01-01\nid: "tag:example.org:a"\n---\nB\n',
            4,
            "must be an absolute URI",
        ),
        (
            "---\ntitle: Unsafe only\ndate: 2025-01-01\n---\n<script>x()</script>\n",
            5,
            "has no body",
        ),
    ],
)
def test_bad_article(site, text, line, message):
    good = site.article("2024-12-31-good.md", GOOD)
    path = site.article("bad.md", text)
    assert_input_error(site, site.run("publish"), f"{path}:{line}: ", message)
    assert good.read_text() == GOOD  # no id was fixed in the good article either


def test_day_first_dates_are_read_day_first(site):
    site.article("european.md", "---\ntitle: T\ndate: 10/06/2025\n---\nBody.\n")
    site.publish()
    assert "10 June 2025" in (site.public / "european" / "index.html").read_text()


def test_duplicate_ids_name_both_files(site):
    first = site.article(
        "a.md", '---\ntitle: A\ndate: 2025-01-01\nid: "tag:x.org,2025:same"\n---\n'
    )
    second = site.article(
        "b.md", '---\ntitle: B\ndate: 2025-01-02\nid: "tag:x.org,2025:same"\n---\n'
    )
    result = site.run("publish")
    assert_input_error(
        site, result, f"{second}:4: ", f"duplicate id 'tag:x.org,2025:same', also used by {first}"
    )


def test_duplicate_slugs_name_both_files(site):
    site.article("2025-01-01-same.md", "---\ntitle: A\n---\n")
    site.article("2025-01-02-same.md", "---\ntitle: B\n---\n")
    result = site.run("publish")
    assert result.exit_code == 2
    assert "duplicate id" in result.output or "duplicate slug" in result.output
    assert "2025-01-01-same.md" in result.output and "2025-01-02-same.md" in result.output


@pytest.mark.parametrize(
    ("replace", "by", "line", "message"),
    [
        (
            'base_url = "https://notes.example.org/"',
            'base_url = "/blog/"',
            4,
            "must be an absolute http(s) URL",
        ),
        (
            'base_url = "https://notes.example.org/"',
            'base_url = "ftp://x.org/"',
            4,
            "must be an absolute http(s) URL",
        ),
        (
            'timezone = "Europe/Brussels"',
            'timezone = "Europe/Atlantis"',
            7,
            "unknown timezone 'Europe/Atlantis'",
        ),
        ('language = "en"', 'language = "english language"', 6, "is not a BCP 47 tag"),
        ("entries = 20", "entries = 0", 13, "entries must be a whole number of at least 1"),
        ("entries = 20", "entrys = 20", 13, "unknown setting [publish] entrys"),
        ('title = "EU Notes"', 'title = "EU Notes', 2, "invalid TOML"),
        (
            'rights = "CC BY 4.0"',
            'rights = "CC BY 4.0"\nid = "my feed"',
            9,
            "id 'my feed' must be an absolute URI",
        ),
        ('title = "EU Notes"', 'title = "<b>EU</b> Notes"', 2, "[site] title contains HTML"),
        ('subtitle = "Test site"', 'subtitle = "A &amp; B"', 3, "[site] subtitle contains HTML"),
        (
            'timezone = "Europe/Brussels"',
            'timezone = "localtime"',
            7,
            "unknown timezone 'localtime'",
        ),
        (
            'base_url = "https://notes.example.org/"',
            'base_url = "https://e_x.org/"',
            4,
            "invalid host name",
        ),
        (
            'author = { name = "Site Author", email = "editor@example.org" }',
            'author = { name = "A</i>" }',
            5,
            "contains HTML",
        ),
        (
            'rights = "CC BY 4.0"',
            'rights = "CC BY 4.0"\nicon = "javascript:x"',
            9,
            "icon 'javascript:x' must be",
        ),
        (
            'base_url = "https://notes.example.org/"',
            'base_url = "https://user:pw@notes.example.org/"',
            4,
            "must not have a query, fragment or user name",
        ),
        (
            'author = { name = "Site Author", email = "editor@example.org" }',
            'author = { name = "Site Author", email = "not-an-email" }',
            5,
            "is not an email address",
        ),
    ],
)
def test_bad_config(site, replace, by, line, message):
    site.article("2025-01-01-good.md", GOOD)
    text = site.config.read_text()
    assert replace in text
    site.config.write_text(text.replace(replace, by))
    assert_input_error(site, site.run("publish"), f"{site.config}:{line}: ", message)


def test_missing_config_given_explicitly(site, tmp_path):
    result = site.run("--config", str(tmp_path / "nope.toml"), "publish")
    assert result.exit_code == 2
    assert "nope.toml: config file not found" in result.output


def test_bad_base_url_override_is_reported(site):
    site.article("2025-01-01-good.md", GOOD)
    result = site.run("publish", "--base-url", "localhost:8000")
    assert result.exit_code == 2
    assert "--base-url" in result.output
    assert "base_url 'localhost:8000' must be an absolute http(s) URL" in result.output
    assert not site.public.exists()


def test_config_strings_lose_control_characters_and_may_start_with_a_bom(site):
    site.article("2025-01-01-good.md", GOOD)
    text = site.config.read_text().replace('title = "EU Notes"', 'title = "EU\\u0001 Notes"')
    site.config.write_bytes(b"\xef\xbb\xbf" + text.encode())
    site.publish()
    assert "<title>EU Notes</title>" in (site.public / "atom.xml").read_text()


def test_an_internal_error_is_one_line_and_exit_code_3(site, monkeypatch):
    site.article("2025-01-01-good.md", GOOD)

    def broken(*args, **kwargs):
        raise RuntimeError("something impossible")

    monkeypatch.setattr("feeds.build.publish", broken)  # cli imports it when publishing
    result = site.run("publish")
    assert result.exit_code == 3
    assert result.output.strip() == "communique: internal error: RuntimeError: something impossible"


def test_missing_articles_directory(site):
    site.articles.rmdir()
    result = site.run("publish")
    assert result.exit_code == 2
    assert "articles directory not found" in result.output


def test_output_directory_with_foreign_files_is_never_replaced(site):
    site.article("2025-01-01-good.md", GOOD)
    site.public.mkdir()
    (site.public / "precious.txt").write_text("keep me")
    result = site.run("publish")
    assert result.exit_code == 2
    assert "output directory has files communique did not write" in result.output
    assert (site.public / "precious.txt").read_text() == "keep me"


def test_help_documents_exit_codes(site):
    for command in ([], ["publish"], ["import"], ["serve"]):
        result = site.run(*command, "--help")
        assert result.exit_code == 0
        assert "Exit codes:" in result.output and "2  bad input" in result.output


def test_an_internationalised_base_url_is_written_as_punycode(site):
    site.config.write_text(site.config.read_text().replace("notes.example.org", "bücher.example"))
    site.article("2025-01-01-good.md", GOOD)
    site.publish()
    atom = (site.public / "atom.xml").read_text()
    assert "https://xn--bcher-kva.example/good/" in atom
    assert "tag:xn--bcher-kva.example,2025-01-01:good" in atom


def test_escaped_control_characters_in_front_matter_are_dropped(site):
    site.article(
        "2025-01-01-y.md",
        '---\ntitle: "T\\x01itle"\ntags: ["t\\x02ag"]\nsummary: "s\\x03um"\n---\nB\n',
    )
    site.article("2025-01-02-t.md", '+++\ntitle = "To\\u0001ml"\n+++\nB\n')
    site.publish()
    atom = (site.public / "atom.xml").read_text()
    assert "<title>Title</title>" in atom and "<title>Toml</title>" in atom
    assert 'term="tag"' in atom


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("http://[2001:db8::1]/", "http://[2001:db8::1]/"),
        ("https://e.org/x y", "https://e.org/x%20y/"),
        ("https://E.org:443/", "https://e.org/"),
        ("https://e.org./", "https://e.org/"),
        ("https://straße.eu/", "https://xn--strae-oqa.eu/"),  # IDNA 2008, not 2003's strasse.eu
        ("http://e.org:8080/blog", "http://e.org:8080/blog/"),
    ],
)
def test_base_urls_are_written_in_canonical_form(given, canonical):
    from feeds.config import normalise_base_url

    assert normalise_base_url(given) == canonical


def test_an_oserror_is_one_line_and_exit_code_2(site):
    site.article("2025-01-01-good.md", GOOD)
    site.config.write_text(
        site.config.read_text().replace('output = "public"', 'output = "/proc/self/nope/public"')
    )
    result = site.run("publish", "--now", "2026-01-01T00:00:00Z")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "check the path and its permissions" in result.output
