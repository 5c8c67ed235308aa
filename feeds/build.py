"""The publish pipeline: load -> choose -> render -> feeds and pages -> temp dir -> swap into place.

:func:`build_site` is pure: articles and settings in, a mapping of output paths to bytes out.
:func:`publish` is the thin shell around it: it reads articles, hands the files to
``output.py`` (written aside and swapped in, so a failed build leaves the previous output
untouched) and fixes new articles' ids in their front matter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from feeds import archive, svg
from feeds.article import (
    ARTICLE_SUFFIXES,
    Article,
    load_articles,
    parse_article,
    read_source,
    with_front_matter_field,
)
from feeds.boundary import Skipped, walk
from feeds.config import Config, Site
from feeds.errors import InputError
from feeds.ids import can_fix_ids, entry_id
from feeds.output import MARKER, marker_bytes, write_atomically, write_tree
from feeds.picture import HEAD_BYTES, Unannounced, is_web_url, mismatch, site_path, told_by_head
from feeds.render import RenderedArticle, render_article
from feeds.site import (
    STYLESHEET,
    article_page,
    list_page,
    site_feeds,
    stylesheet,
    tag_feeds,
    tag_page,
)
from feeds.slug import tag_dir
from feeds.websub import changed_feeds
from feeds.writer import FILENAMES, WRITERS, Entry, Feed, feed_documents


@dataclass(frozen=True)
class Build:
    """What a publish produces: output files, what was left out, and ids to fix in sources.

    ``files`` maps output paths to bytes, or to a source file to copy (static files and
    article assets). ``ids_to_fix`` is empty when ids must not be written yet (see
    :func:`can_fix_ids`). ``feeds`` maps the path of each feed document to its public URL
    (the WebSub topic); ``changed_feeds`` is filled by :func:`publish`: the URLs of the feeds
    whose bytes differ from what the output folder held before. ``skipped`` are the files and
    folders left out (symlinks leading out of their folder, scripted SVG), one warning each;
    ``unannounced`` the first inline pictures not announced as their article's, one warning each.
    """

    files: dict[str, bytes | Path]
    articles: tuple[RenderedArticle, ...]
    drafts_left_out: int
    future_left_out: int
    ids_to_fix: tuple[tuple[Article, str], ...]
    ids_held_back: int = 0
    feeds: dict[str, str] = field(default_factory=dict)
    changed_feeds: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    unannounced: tuple[Unannounced, ...] = ()


@dataclass(frozen=True)
class Assets:
    """What :func:`find_assets` found: files to copy, and what it left out (output path ->
    why; a folder left out is keyed by its own output path)."""

    files: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, Skipped] = field(default_factory=dict)


def _check_unique(articles: Sequence[Article], site: Site) -> None:
    """Two articles at one URL, or with one id, would merge in every reader: name both files."""
    for what, key in (("slug", lambda a: a.slug), ("id", lambda a: entry_id(a, site))):
        seen: dict[str, Article] = {}
        for article in articles:
            value = key(article)
            if value in seen:
                raise InputError(
                    article.path,
                    article.line_of(what),
                    f"duplicate {what} {value!r}, also used by {seen[value].path}; "
                    f"give one of them another {what}",
                )
            seen[value] = article


def build_site(
    articles: Sequence[Article],
    config: Config,
    *,
    now: datetime,
    drafts: bool = False,
    assets: Assets | None = None,
    unread: Sequence[Skipped] = (),
    pictures: Mapping[str, bytes] | None = None,
) -> Build:
    """Every output file for ``articles`` as of ``now``; no I/O, no clock.

    ``assets`` are the files to copy (see :func:`find_assets`); only those of published
    articles are copied (a draft's images stay private), and an asset that would replace a
    generated file is an error. ``unread`` are the links in the articles folder that lead out
    of it; ``pictures`` the first bytes of each picture file among ``assets``, by output path
    (see :func:`_picture_heads`).
    """
    assets = assets or Assets()
    site = config.site
    _check_unique(articles, site)
    chosen = [a for a in articles if drafts or (not a.draft and a.date <= now)]
    for article in chosen:
        if article.updated and article.updated > now and not drafts:
            raise InputError(
                article.path,
                article.line_of("updated"),
                "updated is in the future; a feed cannot say it changed later than now",
            )
    unpublished = {a.slug for a in articles} - {a.slug for a in chosen}
    copied = {n: p for n, p in assets.files.items() if n.split("/", 1)[0] not in unpublished}
    rendered, unannounced = _announced_pictures(
        sorted(  # newest first; the id breaks ties so the order never depends on the disk
            (render_article(a, site, entry_id(a, site)) for a in chosen),
            key=lambda r: (-r.article.date.timestamp(), r.id),
        ),
        site,
        copied,
        pictures or {},
    )
    files: dict[str, bytes | Path] = {MARKER: marker_bytes(site.base_url), STYLESHEET: stylesheet()}

    per_feed = config.publish.entries_per_feed
    site_feed = _feed(site, "", site.title, site.id, rendered, config)
    site_links = (site_feeds(site, site_feed.urls),)
    files.update(_with_archives(site_feed, "", rendered, site, per_feed))
    feeds = {FILENAMES[kind]: url for kind, url in site_feed.urls.items()}
    files["index.html"] = list_page(site, "Articles", site.base_url, rendered, site_links)
    for item in rendered:
        files[f"{item.article.slug}/index.html"] = article_page(site, item, site_links)

    by_tag: dict[str, list[RenderedArticle]] = {}
    for item in rendered:  # newest first, so each tag list is too
        for name in item.article.tags:
            by_tag.setdefault(tag_dir(name), []).append(item)
    names = _tag_names(rendered)
    for prefix, tagged in sorted(by_tag.items()):
        name = names[prefix]
        title = f"{site.title}: {name}"
        tag_scheme = site.id.split(":", 1)[0].lower()
        feed_id = (
            f"{site.id}/{prefix.rstrip('/')}" if tag_scheme in {"tag", "http", "https"} else ""
        )
        tag_feed = _feed(site, prefix, title, feed_id, tagged, config)
        files.update(_with_archives(tag_feed, prefix, tagged, site, per_feed))
        feeds.update({prefix + FILENAMES[kind]: url for kind, url in tag_feed.urls.items()})
        links = (tag_feeds(tag_feed.urls, title, name), *site_links)
        files[prefix + "index.html"] = tag_page(site, name, tag_feed.home_url, tagged, links)

    _check_images(articles, assets, pictures or {})
    skipped = {*unread}
    skipped.update(s for n, s in assets.skipped.items() if n.split("/", 1)[0] not in unpublished)
    for name, source in sorted(copied.items()):
        if name in files or any(other.startswith(name + "/") for other in files):
            raise InputError(
                source, None, f"would overwrite the generated {name}; rename or move the file"
            )
        files[name] = source

    unfixed = tuple(
        (r.article, r.id) for r in rendered if r.article.id is None and not r.article.draft
    )
    fixable = can_fix_ids(site)
    return Build(
        files=files,
        articles=tuple(rendered),
        drafts_left_out=sum(1 for a in articles if a.draft and not drafts),
        future_left_out=sum(1 for a in articles if not drafts and not a.draft and a.date > now),
        ids_to_fix=unfixed if fixable else (),
        ids_held_back=0 if fixable else len(unfixed),
        feeds=feeds,
        skipped=tuple(sorted(skipped)),
        unannounced=tuple(sorted(unannounced)),
    )


def front_matter_pictures(articles: Sequence[Article]) -> dict[str, Article]:
    """The output path of each picture a front matter names as a file, and its article."""
    return {f"{a.slug}/{a.image}": a for a in articles if a.image and not is_web_url(a.image)}


def _check_images(
    articles: Sequence[Article], assets: Assets, pictures: Mapping[str, bytes]
) -> None:
    """A picture named in front matter must be a file published beside its article, and be
    what its name says: feeds announce its type from the extension, and a feed naming a
    picture the site never publishes shows readers a broken image. One left out (a symlink
    leading out of the articles folder, a scripted SVG) is an error here, not a warning."""
    for name, article in front_matter_pictures(articles).items():
        image = article.image or ""
        left_out = next(
            (s for n, s in assets.skipped.items() if name == n or name.startswith(n + "/")),
            None,
        )
        problem = None
        if left_out is not None:
            problem = f": {left_out.path} {left_out.reason}"
        elif name not in assets.files:
            problem = (
                f" not found; put the picture at {article.path.with_suffix('') / image} "
                "or correct the name"
            )
        elif not name.lower().endswith(".svg"):  # an SVG was read whole: see find_assets
            said = mismatch(image, pictures.get(name, b""))
            problem = f": {assets.files[name]} {said}" if said else None
        if problem:
            raise InputError(article.path, article.line_of("image"), f"image {image!r}{problem}")


def _announced_pictures(
    rendered: Sequence[RenderedArticle],
    site: Site,
    copied: Mapping[str, Path],
    pictures: Mapping[str, bytes],
) -> tuple[list[RenderedArticle], list[Unannounced]]:
    """The articles with each first inline picture that is a file of the site checked, and
    the ones not announced. Such a picture that is not what its extension says is not the
    article's picture (readers would be told its type from the extension), and no other is
    promoted in its place: the article is announced without one until the file is fixed.
    A picture on another host is not fetched, and one the site does not publish is not ours
    to judge; a front-matter image is checked, as an error, by :func:`_check_images`."""
    kept, unannounced = [], []
    for item in rendered:
        inline = item.image if item.image and not item.article.image else None
        name = site_path(inline, site.base_url) if inline else None
        said = None
        if name is not None and name in copied and told_by_head(name):
            said = mismatch(name, pictures.get(name, b""), "the link to it")
        if said:
            unannounced.append(Unannounced(copied[name], said, item.article.path))
            item = replace(item, image=None)
        kept.append(item)
    return kept, unannounced


def _tag_names(rendered: Sequence[RenderedArticle]) -> dict[str, str]:
    """The display name of each tag page; two different tags on one page is an error.

    Spellings that differ only in case ("Security", "security") share a page, named by the
    alphabetically first spelling so it does not change as articles are added; tags whose
    names differ otherwise but slugify alike ("a/b", "a-b") would silently merge.
    """
    spellings: dict[str, dict[str, Article]] = {}
    for item in rendered:
        for name in item.article.tags:
            spellings.setdefault(tag_dir(name), {}).setdefault(name, item.article)
    names = {}
    for prefix, variants in spellings.items():
        distinct = {name.casefold() for name in variants}
        if len(distinct) > 1:
            first, second = sorted(variants)[:2]
            raise InputError(
                variants[second].path,
                variants[second].line_of("tags"),
                f"tag {second!r} and tag {first!r} (in {variants[first].path}) would share the page "
                f"{prefix}; spell them the same or make them differ in letters",
            )
        names[prefix] = sorted(variants)[0]
    return names


def _feed(
    site: Site,
    prefix: str,
    title: str,
    feed_id: str,
    rendered: Sequence[RenderedArticle],
    config: Config,
) -> Feed:
    urls = {kind: f"{site.base_url}{prefix}{name}" for kind, name in FILENAMES.items()}
    entries = tuple(_entry(r, site) for r in rendered[: config.publish.entries_per_feed])
    return Feed(
        id=feed_id or urls["atom"],
        title=title,
        home_url=site.base_url + prefix,
        urls=urls,
        language=site.language,
        author=site.author,
        subtitle=site.subtitle,
        rights=site.rights,
        icon=site.icon,
        entries=entries,
        hubs=config.publish.hubs,
    )


def _with_archives(
    feed: Feed, prefix: str, rendered: Sequence[RenderedArticle], site: Site, size: int
) -> dict[str, bytes]:
    """The current feed's documents (in folder ``prefix``) and its RFC 5005 archive pages:
    the current feed links its newest page, each page the ones around it."""
    full = archive.pages(rendered, size)
    base = site.base_url + prefix
    current = replace(feed, paging=archive.current_links(base, len(full)))
    files = {prefix + name: data for name, data in feed_documents(current).items()}
    for number, entries in full:
        page = replace(
            feed,
            urls=archive.urls(base, number),
            entries=tuple(_entry(r, site) for r in entries),
            paging=archive.page_links(base, number, len(full), feed.urls),
            archive=True,
            hubs=(),  # hubs are told about the current feed; an archive never changes
        )
        for kind, path in archive.paths(prefix, number).items():
            files[path] = WRITERS[kind](page)
    return files


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
        image=rendered.image,
    )


# --- the shell: reading and writing -------------------------------------------------------


def find_assets(config: Config, articles: Sequence[Article]) -> Assets:
    """Files to copy: ``[publish] static`` to the site root, and each article's asset folder.

    An article's assets live in a folder named like its file without the extension
    (``articles/2025-02-25-talks.md`` -> ``articles/2025-02-25-talks/map.png``) and are
    published beside its page (``talks/map.png``), where its relative links point. A file
    whose real path leaves the folder it is published from is left out (see boundary.py),
    and so is an SVG that could run script on the site's origin (see svg.py): each is one
    warning.
    """
    found = Assets()

    def add(prefix: str, folder: Path, within: Path, wanted: Callable[[Path], bool]) -> None:
        files, skipped = walk(folder, within, wanted)
        for item in skipped:
            relative = item.path.relative_to(folder).as_posix()
            found.skipped[prefix + relative if relative != "." else prefix.rstrip("/")] = item
        for path in files:
            name = prefix + path.relative_to(folder).as_posix()
            problem = svg.unsafe(path.read_bytes()) if path.suffix.lower() == ".svg" else None
            if problem:
                found.skipped[name] = Skipped(path, problem)
            else:
                found.files[name] = path

    static, articles_dir = config.publish.static_dir, config.publish.articles_dir
    add("", static, static.resolve(), lambda _: True)
    for article in articles:
        add(
            f"{article.slug}/",
            article.path.with_suffix(""),
            articles_dir.resolve(),
            lambda path: path.suffix not in ARTICLE_SUFFIXES,
        )
    return found


def _picture_heads(assets: Assets) -> dict[str, bytes]:
    """The first bytes of each picture file to copy, to tell what it really is.

    Every one is read, not only those front matter names: which file is an article's first
    inline picture is known only once its body is rendered, inside the pure build. A few
    kilobytes of each picture cost little beside copying it whole.
    """
    heads = {}
    for name, path in assets.files.items():
        if told_by_head(name):
            with path.open("rb") as stream:
                heads[name] = stream.read(HEAD_BYTES)
    return heads


def load_and_build(config: Config, *, now: datetime, drafts: bool = False) -> Build:
    """Read the articles directory and build everything in memory.

    With no articles folder and the setting left at its default, the site has no articles
    (someone who only follows feeds still gets the index page, the feeds and the digest in
    ``static/``); a folder named in the config that is missing is an error.
    """
    settings = config.publish
    articles, unread = (
        load_articles(settings.articles_dir, config.site, settings.default_time)
        if settings.articles_dir.is_dir() or settings.articles_configured
        else ([], [])
    )
    assets = find_assets(config, articles)
    return build_site(
        articles,
        config,
        now=now,
        drafts=drafts,
        assets=assets,
        unread=unread,
        pictures=_picture_heads(assets),
    )


def publish(config: Config, *, now: datetime, drafts: bool = False) -> Build:
    """Build, write the output aside, swap it into place, then fix new ids in front matter.

    The feeds the previous output held are read first, so the result says which feeds
    changed (WebSub hubs are told about those).
    """
    build = load_and_build(config, now=now, drafts=drafts)
    rewritten = [
        (article.path, _with_id(article, fixed_id, config))
        for article, fixed_id in build.ids_to_fix
    ]
    output = config.publish.output_dir
    before = {name: _read_or_none(output / name) for name in build.feeds}
    write_tree(build.files, output)
    for path, text in rewritten:  # the real file: a symlinked article stays a symlink
        write_atomically(path.resolve(), text.encode("utf-8"))
    return replace(build, changed_feeds=changed_feeds(build.feeds, build.files, before))


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _with_id(article: Article, fixed_id: str, config: Config) -> str:
    """The article's source with its id added, checked by parsing it again before any write."""
    raw = read_source(article.path)
    text = with_front_matter_field(raw, article.front_matter, "id", fixed_id)
    again = parse_article(text, article.path, config.site, config.publish.default_time)
    if again.id != fixed_id:
        raise InputError(
            article.path,
            1,
            f"could not add the id to the front matter; add id: {fixed_id!r} by hand",
        )
    return text


def stale_files(build: Build, output_dir: Path) -> list[str]:
    """What ``publish --check`` reports: output files missing, different or extra, ids unfixed."""
    problems = []
    existing = _existing_files(output_dir)
    for name, data in sorted(build.files.items()):
        path = output_dir / name
        if name not in existing:
            problems.append(f"{path}: missing")
        elif path.read_bytes() != (data.read_bytes() if isinstance(data, Path) else data):
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
