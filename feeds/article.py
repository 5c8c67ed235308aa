"""Markdown files with YAML (``---``) or TOML (``+++``) front matter -> :class:`Article` records.

Loading only reads and checks: every problem becomes an :class:`InputError` naming the file and
line, so a bad article stops the build before anything is written. Rendering lives in
``render.py``; choosing which articles to publish lives in ``build.py``.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any

import yaml

from feeds.boundary import Skipped, walk
from feeds.config import LANGUAGE_TAG, Person, Site, is_uri, person
from feeds.dates import DateFormatError, parse_when
from feeds.errors import InputError, decode_utf8, toml_error
from feeds.picture import check_front_matter_image
from feeds.slug import slugify
from feeds.text import clean_text, looks_like_html

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster


class _YamlLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader that keeps every plain scalar as the text written, except YAML 1.2 core
    booleans and nulls.

    PyYAML follows YAML 1.1, where ``yes``, ``no``, ``on``, ``off``, ``y`` and ``n`` are booleans
    (``tags: [NO]`` - Norway - became ``false``), ``1:30`` is the number 90, ``012`` is 10 and
    ``3.10`` is 3.1: an author's title or tag would silently change. Only YAML 1.2 core
    ``true``/``false`` and ``null``/``~`` keep a meaning of their own (``draft: true``).
    Numbers stay text because no front-matter field is a number, and dates stay text for the
    one strict date parser in dates.py, which reports the line and never guesses.
    """


_CORE_RESOLVERS = (
    ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), "tTfF"),
    ("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]),
)
_YamlLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in _CORE_RESOLVERS:
    _YamlLoader.add_implicit_resolver(_tag, _pattern, list(_first))

ARTICLE_SUFFIXES = (".md", ".markdown")
_FILENAME = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-(?P<slug>.+)$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TOP_LEVEL_KEY = re.compile(r"""^["']?([A-Za-z0-9_-]+)["']?\s*[:=]""")
_DELIMITERS = {"---": "yaml", "+++": "toml"}
RESERVED_SLUGS = frozenset({"tags"})
KNOWN_KEYS = (
    "title",
    "date",
    "updated",
    "author",
    "authors",
    "tags",
    "summary",
    "slug",
    "id",
    "draft",
    "lang",
    "image",
)


@dataclass(frozen=True)
class Article:
    """One article as its author wrote it, checked but not yet rendered."""

    path: Path
    title: str
    date: datetime
    updated: datetime | None
    authors: tuple[Person, ...]
    tags: tuple[str, ...]
    summary: str | None
    slug: str
    id: str | None
    draft: bool
    lang: str | None
    body: str
    front_matter: str  # "yaml" or "toml": how to write a fixed id back into the file
    key_lines: dict[str, int] = field(default_factory=dict, compare=False)  # key -> file line
    body_line: int = 1
    # the front-matter picture: an http(s) URL, or a path inside the article's folder
    image: str | None = None

    def line_of(self, key: str) -> int:
        """The file line where ``key`` is set, else the first line (for error messages)."""
        return self.key_lines.get(key, 1)


def article_paths(directory: Path) -> tuple[list[Path], list[Skipped]]:
    """``(article files, links skipped)`` under ``directory``, sorted.

    Hidden names are skipped, and so is anything inside an article's asset folder (the
    folder named like an article file), where a README is an attachment, not an article.
    A file or folder whose real path leaves the articles folder is never read: it is skipped
    and named (see boundary.py).
    """
    within = directory.resolve()
    candidates, skipped = walk(directory, within, lambda p: p.suffix in ARTICLE_SUFFIXES)
    folders = {p.with_suffix("") for p in candidates}

    def in_asset_folder(path: Path) -> bool:
        return any(parent in folders for parent in path.parents)

    return (
        [p for p in candidates if not in_asset_folder(p)],
        [s for s in skipped if not in_asset_folder(s.path)],
    )


def check_articles_dir(directory: Path) -> None:
    """Raise :class:`InputError` unless the articles folder exists (``run`` checks it before
    fetching anything, so a mistyped folder costs nothing)."""
    if not directory.is_dir():
        raise InputError(
            directory, None, "articles directory not found; create it or set [publish] articles"
        )


def load_articles(
    directory: Path, site: Site, default_time: time
) -> tuple[list[Article], list[Skipped]]:
    """Every article under ``directory``, sorted by path, and the links left unread."""
    check_articles_dir(directory)
    paths, skipped = article_paths(directory)
    return [load_article(p, site, default_time) for p in paths], skipped


def read_source(path: Path) -> str:
    """A file's exact text: BOM and line endings kept, so a rewrite changes only what it means to."""
    try:
        return decode_utf8(path.read_bytes(), path)
    except OSError as exc:
        raise InputError(path, None, f"cannot read ({exc.strerror})") from None


def load_article(path: Path, site: Site, default_time: time) -> Article:
    """Read one article file; raises :class:`InputError` with the offending line."""
    return parse_article(read_source(path), path, site, default_time)


def split_front_matter(raw: str, path: Path) -> tuple[str, list[str], int]:
    """``(format, all lines, index of the closing delimiter)``; front matter starts on line 2."""
    lines = raw.removeprefix("\ufeff").splitlines(keepends=True)
    first = lines[0].strip() if lines else ""
    if first not in _DELIMITERS:
        raise InputError(
            path, 1, "no front matter; start the file with a line '---' (YAML) or '+++' (TOML)"
        )
    for number, line in enumerate(lines[1:], start=1):
        if line.strip() == first or (first == "---" and line.strip() == "..."):
            return _DELIMITERS[first], lines, number
    raise InputError(path, 1, f"front matter is not closed; add a line '{first}' after it")


def _key_lines(kind: str, matter_lines: list[str]) -> dict[str, int]:
    """Top-level keys and the file line each is set on (TOML: before the first table)."""
    found: dict[str, int] = {}
    for number, line in enumerate(matter_lines, start=2):
        if kind == "toml" and line.lstrip().startswith("["):
            break
        if line[:1].isspace():
            continue
        match = _TOP_LEVEL_KEY.match(line)
        if match:
            found.setdefault(match.group(1), number)
    return found


def parse_article(raw: str, path: Path, site: Site, default_time: time) -> Article:
    """Check and convert front matter; the body is kept as Markdown source.

    Characters XML forbids (stray control characters pasted from word processors) are dropped
    first: they can never reach a feed, and YAML would otherwise reject the whole file.
    """
    kind, lines, closing = split_front_matter(clean_text(raw), path)
    matter_lines = lines[1:closing]
    data = _parse_matter(kind, "".join(matter_lines), path)
    key_lines = _key_lines(kind, matter_lines)

    def fail(key: str | None, message: str) -> InputError:
        return InputError(path, key_lines.get(key or "", 1), message)

    for key in data:
        close = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1, cutoff=0.75)
        if str(key) not in KNOWN_KEYS and close:  # other keys (layout, …) are the author's own
            raise fail(str(key), f"unknown key {key!r}; did you mean {close[0]!r}?")

    from_name = _FILENAME.match(path.stem)
    title = data.get("title")
    if title is None or (isinstance(title, str) and not title.strip()):
        raise fail("title", "missing title; add 'title: ...' to the front matter")
    if not isinstance(title, str):
        raise fail("title", f"title {_written(title)} is not text; put it in quotes")
    title = " ".join(str(title).split())
    if looks_like_html(title):
        raise fail(
            "title",
            "title contains HTML tags; titles are plain text in every reader, remove the tags",
        )

    def when(key: str, value: Any) -> datetime:
        try:
            return parse_when(value, site.tz, default_time)
        except DateFormatError as exc:
            raise fail(key, f"{key}: {exc}") from None

    if data.get("date") not in (None, ""):
        published = when("date", data["date"])
    elif from_name:
        published = when("date", from_name["date"])
    else:
        raise fail(None, "missing date; add 'date: 2025-02-25' or name the file YYYY-MM-DD-slug.md")
    updated = when("updated", data["updated"]) if data.get("updated") not in (None, "") else None
    if updated is not None and updated < published:
        raise fail(
            "updated", "updated is before date; an article cannot change before it is published"
        )

    if data.get("slug") is not None and not isinstance(data["slug"], str):
        raise fail("slug", f"slug {_written(data['slug'])} is not text; put it in quotes")
    if data.get("slug"):
        slug = data["slug"]
    else:
        slug = slugify(from_name["slug"] if from_name else path.stem)
    if not _SLUG.match(slug):
        raise fail("slug", f"slug {slug!r} must be lower-case letters, digits and single hyphens")
    if slug in RESERVED_SLUGS:
        raise fail("slug", f"slug {slug!r} is reserved for tag feeds; choose another slug")

    article_id = data.get("id")
    if article_id in (None, ""):
        article_id = None
    elif not isinstance(article_id, str) or not is_uri(article_id.strip()):
        raise fail(
            "id",
            f"id {_written(article_id)} must be an absolute URI such as "
            "tag:example.org,2025-02-25:slug",
        )
    else:
        article_id = article_id.strip()

    draft = data.get("draft", False)
    if not isinstance(draft, bool):
        raise fail("draft", f"draft must be true or false, not {_written(draft)}")
    lang = data.get("lang")
    if lang is not None and (not isinstance(lang, str) or not LANGUAGE_TAG.match(lang)):
        raise fail("lang", f"lang {_written(lang)} is not a BCP 47 tag; write e.g. en or fr-BE")
    summary = data.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise fail("summary", f"summary {_written(summary)} is not text; put it in quotes")
    image = data.get("image")
    if image is not None and not isinstance(image, str):
        raise fail("image", f"image {_written(image)} is not text; put it in quotes")
    if image and image.strip():
        try:
            image = check_front_matter_image(image.strip(), f"{path.with_suffix('')}/")
        except ValueError as exc:
            raise fail("image", str(exc)) from None
    else:
        image = None

    return Article(
        path=path,
        title=title,
        date=published,
        updated=updated,
        authors=_authors(data, site, fail),
        tags=_tags(data.get("tags"), fail),
        summary=" ".join(summary.split()) or None if summary else None,
        slug=slug,
        id=article_id,
        draft=draft,
        lang=lang,
        body="".join(lines[closing + 1 :]),
        front_matter=kind,
        key_lines=key_lines,
        body_line=closing + 2,
        image=image,
    )


def _parse_matter(kind: str, matter: str, path: Path) -> dict[str, Any]:
    if kind == "yaml":
        try:
            data = yaml.load(matter, Loader=_YamlLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 2 if mark is not None else 1
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise InputError(
                path, line, f"front matter is not valid YAML ({problem}); fix the syntax"
            ) from None
    else:
        try:
            data = tomllib.loads(matter)
        except tomllib.TOMLDecodeError as exc:
            line, message = toml_error(exc, first_line=2)
            raise InputError(
                path, line or 1, f"front matter is not valid TOML ({message}); fix the syntax"
            ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(path, 2, "front matter must be key: value pairs")
    return _clean(data)


def _clean(value: Any) -> Any:
    """Every string in parsed front matter without XML-forbidden characters: YAML and TOML
    escapes (``"\\u0001"``) create them only after parsing."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    return value


def _authors(data: dict[str, Any], site: Site, fail: Any) -> tuple[Person, ...]:
    people: list[Person] = []
    for key in ("author", "authors"):
        value = data.get(key)
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            try:
                people.append(person(item))
            except ValueError as exc:
                raise fail(key, f"{key} {exc}") from None
    return tuple(people) or (site.author,)


def _written(value: Any) -> str:
    """A parsed value as the author most likely wrote it, for messages (``true``, not ``True``;
    ``null``, never Python's ``None``; ``[a, b]``, not ``['a', 'b']``)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_bare(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_bare(item)}" for key, item in value.items()) + "}"
    return repr(value) if isinstance(value, str) else str(value)


def _bare(value: Any) -> str:
    """A value inside a written list or mapping: text as it stands, as in ``[a, b]``."""
    return value if isinstance(value, str) else _written(value)


def _tags(value: Any, fail: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise fail("tags", "tags must be a list of words, e.g. tags: [security, ukraine]")
    for tag in value:
        if isinstance(tag, list | dict):
            raise fail(
                "tags",
                f"tag {_written(tag)} is not a word; list each tag once, "
                "e.g. tags: [security, ukraine]",
            )
        if not isinstance(tag, str):
            quoted = json.dumps(_written(tag), ensure_ascii=False)
            raise fail(
                "tags",
                f"tag {_written(tag)} is not text; remove it, or put it in quotes, "
                f"e.g. tags: [{quoted}]",
            )
    seen: dict[str, str] = {}
    for tag in value:
        name = " ".join(str(tag).split())
        if looks_like_html(name):
            raise fail("tags", f"tag {name!r} contains HTML tags; remove them")
        if name:
            seen.setdefault(slugify(name), name)
    return tuple(seen.values())


def with_front_matter_field(raw: str, kind: str, key: str, value: str) -> str:
    """``raw`` with top-level ``key`` set to ``value``, every other byte untouched.

    Used to fix an article's id on first publish. Editing one line keeps the author's own
    formatting, comments, BOM and line endings, which a parse-and-dump round trip would
    destroy. An existing (empty) top-level ``key`` line is replaced; otherwise the line goes
    right after the opening delimiter, the one place that is top level in YAML and TOML alike.
    """
    bom = "\ufeff" if raw.startswith("\ufeff") else ""
    lines = raw.removeprefix("\ufeff").splitlines(keepends=True)
    first = lines[0] if lines else ""
    newline = first[len(first.rstrip("\r\n")) :] or "\n"
    quoted = json.dumps(value, ensure_ascii=False)  # a valid YAML and TOML basic string
    new_line = (f"{key}: {quoted}" if kind == "yaml" else f"{key} = {quoted}") + newline
    delimiter = first.strip()
    for number, text in enumerate(lines[1:], start=1):
        stripped = text.strip()
        if (
            stripped == delimiter
            or (delimiter == "---" and stripped == "...")
            or (kind == "toml" and stripped.startswith("["))
        ):
            break
        match = _TOP_LEVEL_KEY.match(text)
        if match and match.group(1) == key and not text[:1].isspace():
            lines[number] = new_line
            return bom + "".join(lines)
    lines.insert(1, new_line)
    return bom + "".join(lines)
