"""The publish pipeline: load -> choose -> render -> feeds and pages -> temp dir -> swap into place.

:func:`build_site` is pure: articles and settings in, a mapping of output paths to bytes out.
:func:`publish` is the thin shell around it: it reads articles, hands the files to
``output.py`` (written aside and swapped in, so a failed build leaves the previous output
untouched) and fixes new articles' ids in their front matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from feeds.article import Article, load_articles, with_front_matter_field
from feeds.config import Config, Site
from feeds.errors import InputError, line_of_key
from feeds.ids import entry_id
from feeds.output import MARKER, write_atomically, write_tree
from feeds.render import RenderedArticle, render_article
from feeds.site import STYLESHEET, FeedLink, article_page, feed_links, list_page, stylesheet
from feeds.slug import slugify
from feeds.writer import FILENAMES, Entry, Feed, feed_documents, newest_first


@dataclass(frozen=True)
class Build:
    """What a publish produces: output files, what was left out, and ids to fix in sources."""

    files: dict[str, bytes]
    articles: tuple[RenderedArticle, ...]
    drafts_left_out: int
    future_left_out: int
    ids_to_fix: tuple[tuple[Article, str], ...]


def _check_unique(articles: Sequence[Article], site: Site) -> None:
    """Two articles with one id (or one URL) would merge in every reader: name both files."""
    for what, key in (("id", lambda a: entry_id(a, site)), ("slug", lambda a: a.slug)):
        seen: dict[str, Article] = {}
        for article in articles:
            value = key(article)
            if value in seen:
                other = seen[value]
                line = line_of_key(article.path.read_text(encoding="utf-8-sig"), what) or 1
                raise InputError(
                    article.path,
                    line,
                    f"duplicate {what} {value!r}, also used by {other.path}; give one of them another {what}",
                )
            seen[value] = article


def build_site(
    articles: Sequence[Article], config: Config, *, now: datetime, drafts: bool = False
) -> Build:
    """Every output file for ``articles`` as of ``now``; no I/O, no clock."""
    site = config.site
    _check_unique(articles, site)
    chosen = [a for a in articles if drafts or (not a.draft and a.date <= now)]
    rendered = sorted(
        (render_article(a, site, entry_id(a, site)) for a in chosen),
        key=lambda r: (-r.article.date.timestamp(), r.id),
    )
    files: dict[str, bytes] = {STYLESHEET: stylesheet()}

    site_feed = _feed(site, "", site.title, site.id, rendered, config.publish.entries_per_feed)
    site_links = feed_links(site, site_feed.urls, site.title)
    files.update(feed_documents(site_feed))
    files["index.html"] = list_page(site, "Articles", site.base_url, rendered, site_links)
    for item in rendered:
        files[f"{item.article.slug}/index.html"] = article_page(site, item, site_links)

    names: dict[str, str] = {}
    by_tag: dict[str, list[RenderedArticle]] = {}
    for item in rendered:  # newest first, so each tag list is too
        for name in item.article.tags:
            names.setdefault(slugify(name), name)
            by_tag.setdefault(slugify(name), []).append(item)
    for slug, tagged in sorted(by_tag.items()):
        name = names[slug]
        prefix = f"tags/{slug}/"
        title = f"{site.title}: {name}"
        feed_id = f"{site.id}/tags/{slug}" if site.id else ""
        tag_feed = _feed(site, prefix, title, feed_id, tagged, config.publish.entries_per_feed)
        for filename, data in feed_documents(tag_feed).items():
            files[prefix + filename] = data
        links: list[FeedLink] = feed_links(site, tag_feed.urls, title) + site_links
        files[prefix + "index.html"] = list_page(
            site, f"Tagged “{name}”", tag_feed.home_url, tagged, links
        )

    return Build(
        files=files,
        articles=tuple(rendered),
        drafts_left_out=sum(1 for a in articles if a.draft and not drafts),
        future_left_out=sum(1 for a in articles if not drafts and not a.draft and a.date > now),
        ids_to_fix=tuple(
            (r.article, r.id) for r in rendered if r.article.id is None and not r.article.draft
        ),
    )


def _feed(
    site: Site,
    prefix: str,
    title: str,
    feed_id: str,
    rendered: Sequence[RenderedArticle],
    limit: int,
) -> Feed:
    urls = {kind: f"{site.base_url}{prefix}{name}" for kind, name in FILENAMES.items()}
    entries = newest_first([_entry(r, site) for r in rendered])[:limit]
    icon = site.icon
    if icon and "://" not in icon:
        icon = site.base_url + icon.lstrip("/")
    return Feed(
        id=feed_id or urls["atom"],
        title=title,
        home_url=site.base_url + prefix,
        urls=urls,
        language=site.language,
        author=site.author,
        subtitle=site.subtitle,
        rights=site.rights,
        icon=icon,
        entries=entries,
    )


def _entry(rendered: RenderedArticle, site: Site) -> Entry:
    article = rendered.article
    return Entry(
        id=rendered.id,
        title=article.title,
        url=rendered.url,
        published=article.date,
        updated=rendered.updated,
        authors=article.authors,
        content_html=rendered.content_html,
        summary_html=rendered.summary_html,
        summary_text=rendered.summary_text,
        categories=article.tags,
        language=article.lang,
    )


# --- the shell: reading and writing -------------------------------------------------------


def load_and_build(config: Config, *, now: datetime, drafts: bool = False) -> Build:
    """Read the articles directory and build everything in memory."""
    settings = config.publish
    articles = load_articles(settings.articles_dir, config.site, settings.default_time)
    return build_site(articles, config, now=now, drafts=drafts)


def publish(config: Config, *, now: datetime, drafts: bool = False) -> Build:
    """Build, write the output aside, swap it into place, then fix new ids in front matter."""
    build = load_and_build(config, now=now, drafts=drafts)
    write_tree(build.files, config.publish.output_dir)
    for article, fixed_id in build.ids_to_fix:
        raw = article.path.read_text(encoding="utf-8-sig")
        write_atomically(
            article.path,
            with_front_matter_field(raw, article.front_matter, "id", fixed_id).encode(),
        )
    return build


def stale_files(build: Build, output_dir: Path) -> list[str]:
    """What ``publish --check`` reports: output files missing, different or extra, ids unfixed."""
    problems = []
    existing = _existing_files(output_dir) - {MARKER}
    for name, data in sorted(build.files.items()):
        path = output_dir / name
        if name not in existing:
            problems.append(f"{path}: missing")
        elif path.read_bytes() != data:
            problems.append(f"{path}: out of date")
    problems += [
        f"{output_dir / name}: not produced by this build"
        for name in sorted(existing - build.files.keys())
    ]
    problems += [
        f"{article.path}: id not fixed yet (would be {new_id})"
        for article, new_id in build.ids_to_fix
    ]
    return problems


def _existing_files(directory: Path) -> set[str]:
    if not directory.is_dir():
        return set()
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
