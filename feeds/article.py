"""Markdown files with YAML (``---``) or TOML (``+++``) front matter -> :class:`Article` records.

Loading only reads and checks: every problem becomes an :class:`InputError` naming the file and
line, so a bad article stops the build before anything is written. Rendering lives in
``render.py``; choosing which articles to publish lives in ``build.py``.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any

import yaml

from feeds.config import EMAIL_ADDRESS, LANGUAGE_TAG, Person, Site
from feeds.dates import DateFormatError, parse_when
from feeds.errors import InputError, line_of_key
from feeds.slug import slugify
from feeds.text import clean_text

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster


class _YamlLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader that leaves dates as text, for the one strict date parser in dates.py.

    PyYAML's own timestamps raise bare ValueErrors without a line and read some values that
    are not dates at all; dates.py reports the line and never guesses.
    """


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

_FILENAME = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-(?P<slug>.+)$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_DELIMITERS = {"---": "yaml", "+++": "toml"}
RESERVED_SLUGS = frozenset({"tags"})


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


def load_articles(directory: Path, site: Site, default_time: time) -> list[Article]:
    """Every ``*.md`` under ``directory`` (hidden files and folders skipped), sorted by path."""
    if not directory.is_dir():
        raise InputError(
            directory, None, "articles directory not found; create it or set [publish] articles"
        )
    paths = sorted(
        p
        for p in directory.rglob("*.md")
        if not any(part.startswith((".", "_")) for part in p.relative_to(directory).parts)
    )
    return [load_article(p, site, default_time) for p in paths]


def load_article(path: Path, site: Site, default_time: time) -> Article:
    """Read one article file; raises :class:`InputError` with the offending line."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not UTF-8 ({exc.reason}); save the file as UTF-8") from None
    except OSError as exc:
        raise InputError(path, None, f"cannot read ({exc.strerror})") from None
    return parse_article(raw, path, site, default_time)


def split_front_matter(raw: str, path: Path) -> tuple[str, str, str]:
    """``(format, front matter text, body)``; the front matter starts on line 2 of the file."""
    lines = raw.splitlines(keepends=True)
    first = lines[0].strip() if lines else ""
    if first not in _DELIMITERS:
        raise InputError(
            path, 1, "no front matter; start the file with a line '---' (YAML) or '+++' (TOML)"
        )
    for number, line in enumerate(lines[1:], start=1):
        if line.strip() == first or (first == "---" and line.strip() == "..."):
            return _DELIMITERS[first], "".join(lines[1:number]), "".join(lines[number + 1 :])
    raise InputError(path, 1, f"front matter is not closed; add a line '{first}' after it")


def parse_article(raw: str, path: Path, site: Site, default_time: time) -> Article:
    """Check and convert front matter; the body is kept as Markdown source.

    Characters XML forbids (stray control characters pasted from word processors) are dropped
    first: they can never reach a feed, and YAML would otherwise reject the whole file.
    """
    kind, matter, body = split_front_matter(clean_text(raw), path)
    data = _parse_matter(kind, matter, path)

    def fail(key: str | None, message: str) -> InputError:
        line = line_of_key(matter, key, start_line=2) if key else None
        return InputError(path, line or 1, message)

    from_name = _FILENAME.match(path.stem)
    title = data.get("title")
    if title is None or (isinstance(title, str) and not title.strip()):
        raise fail("title", "missing title; add 'title: ...' to the front matter")
    if not isinstance(title, str | int | float):
        raise fail("title", "title must be text")
    title = clean_text(str(title)).strip()

    def when(key: str, value: Any) -> datetime:
        try:
            return parse_when(value, site.tz, default_time)
        except DateFormatError as exc:
            raise fail(key, f"{key}: {exc}") from None

    if "date" in data and data["date"] not in (None, ""):
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

    slug = data.get("slug") or (from_name["slug"] if from_name else path.stem)
    slug = str(slug) if data.get("slug") else slugify(str(slug))
    if not _SLUG.match(slug):
        raise fail("slug", f"slug {slug!r} must be lower-case letters, digits and single hyphens")
    if slug in RESERVED_SLUGS:
        raise fail("slug", f"slug {slug!r} is reserved for tag feeds; choose another slug")

    article_id = data.get("id")
    if article_id is not None:
        if not isinstance(article_id, str) or not _URI.match(article_id):
            raise fail(
                "id",
                f"id {article_id!r} must be an absolute URI such as tag:example.org,2025-02-25:slug",
            )
        article_id = article_id.strip()

    draft = data.get("draft", False)
    if not isinstance(draft, bool):
        raise fail("draft", "draft must be true or false")
    lang = data.get("lang")
    if lang is not None and (not isinstance(lang, str) or not LANGUAGE_TAG.match(lang)):
        raise fail("lang", f"lang {lang!r} is not a BCP 47 tag; write e.g. en or fr-BE")
    summary = data.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise fail("summary", "summary must be text")

    return Article(
        path=path,
        title=title,
        date=published,
        updated=updated,
        authors=_authors(data, site, fail),
        tags=_tags(data.get("tags"), fail),
        summary=clean_text(summary).strip() or None if summary else None,
        slug=slug,
        id=article_id,
        draft=draft,
        lang=lang,
        body=body,
        front_matter=kind,
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
            match = re.search(r"line (\d+)", str(exc))
            line = int(match.group(1)) + 1 if match else 1
            raise InputError(
                path, line, f"front matter is not valid TOML ({exc}); fix the syntax"
            ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(path, 2, "front matter must be key: value pairs")
    return data


def _authors(data: dict[str, Any], site: Site, fail: Any) -> tuple[Person, ...]:
    given: list[Any] = []
    for key in ("author", "authors"):
        value = data.get(key)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            given.append((key, item))
    people: list[Person] = []
    for key, item in given:
        if isinstance(item, str) and item.strip():
            people.append(Person(clean_text(item).strip()))
        elif isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"].strip():
            email = item.get("email") or None
            if email is not None and not EMAIL_ADDRESS.match(str(email)):
                raise fail(key, f"author email {email!r} is not an email address")
            people.append(Person(clean_text(item["name"]).strip(), email, item.get("uri") or None))
        else:
            raise fail(key, f"{key} must be a name or {{name: ..., email: ...}}")
    return tuple(people) or (site.author,)


def _tags(value: Any, fail: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(t, str | int) for t in value):
        raise fail("tags", "tags must be a list of words, e.g. tags: [security, ukraine]")
    seen: dict[str, str] = {}
    for tag in value:
        name = clean_text(str(tag)).strip()
        if name and slugify(name) not in seen:
            seen[slugify(name)] = name
    return tuple(seen.values())


def with_front_matter_field(raw: str, kind: str, key: str, value: str) -> str:
    """``raw`` with ``key`` set to ``value`` as the last front-matter line, all else untouched.

    Used to fix an article's id on first publish: appending one line keeps the author's own
    formatting and comments, which a parse-and-dump round trip would destroy.
    """
    newline = "\r\n" if "\r\n" in raw else "\n"
    quoted = json.dumps(value, ensure_ascii=False)  # a valid YAML and TOML basic string
    line = f"{key}: {quoted}" if kind == "yaml" else f"{key} = {quoted}"
    lines = raw.splitlines(keepends=True)
    delimiter = lines[0].strip().lstrip("\ufeff")
    for number, text in enumerate(lines[1:], start=1):
        if text.strip() == delimiter or (delimiter == "---" and text.strip() == "..."):
            lines.insert(number, line + newline)
            return "".join(lines)
    raise ValueError("front matter is not closed")
