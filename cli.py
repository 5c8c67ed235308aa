"""The ``communique`` command: one small function per verb; the packages do the work.

Exit codes (the same for every command):

    0  success
    1  the command ran and found a problem (``publish --check``: output is out of date)
    2  bad input, configuration or usage: one line ``path:line: what is wrong`` on stderr,
       nothing written
    3  an internal error (a bug): one line on stderr; set COMMUNIQUE_DEBUG=1 for a traceback
  130  interrupted by Ctrl-C: one line (``communique: interrupted``); what ``aggregate``
       and ``run`` stored is kept
  141  stdout was closed early (``communique sources list | head -1``): the command stops
       quietly, as a Unix tool killed by SIGPIPE does (a shell reports 128 + 13)

``sources import`` is the one command that writes despite bad input: the valid feeds of the
file are imported, each invalid one is named (``file:line: ...``) and the exit code is 2.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import math
import os
import socket
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import click

from feeds.config import Config, load_config, normalise_base_url
from feeds.dates import EARLIEST_YEAR, LATEST_YEAR, DateFormatError, parse_when
from feeds.errors import InputError, decode_utf8
from feeds.output import published_base_url, write_atomically
from feeds.text import cut_at_word
from sources.follow.feed_url import BadFeedUrl, has_credentials, normalise_feed_url
from sources.follow.history import History, describe
from sources.follow.opml import (
    Source,
    SourceList,
    find_source,
    load_source_list,
    merge,
    moved,
    read_import,
    read_source_list,
    save_source_list,
    to_opml,
)
from sources.follow.run import RunSummary, due_sources
from sources.follow.run import run as pipeline_run
from sources.judge.relevance import Taxonomy
from sources.judge.source_rules import is_on_topic_source
from sources.pages.reader import page_mode
from sources.settings import AggregateSettings, Settings, load_settings, parse_duration
from sources.store.database import Busy, Store, StoredItem, mail_lock, run_lock

if TYPE_CHECKING:  # names in annotations only; the modules load with their commands
    from feeds.build import Build
    from feeds.websub import Ping
    from sources.digest.build import Digest

EXIT_OK, EXIT_PROBLEM, EXIT_INPUT, EXIT_BUG = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C
EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader went away
MAX_WAIT = 86_400  # seconds --wait may wait for another run: a day, a cron period at most
MAIL_WAIT = 600.0  # seconds a mail waits for another process mailing (mail --wait)
BACKGROUND = timedelta(days=30)  # items around a digest's period that weigh its words

AGGREGATE_EXIT_CODES_HELP = """\b
Exit codes:
  0  every polled source answered (or nothing was due)
  1  some sources failed or are gone, or the source list has entries that cannot
     be fetched or settings it cannot read (listed on stderr; the others were
     stored); run: or the digest could not be mailed
  2  bad input, configuration or usage, or another run holds the database
  3  internal error (please report it; COMMUNIQUE_DEBUG=1 shows a traceback)
  130  interrupted (Ctrl-C); every source stored before it is kept
"""

EXIT_CODES_HELP = """\b
Exit codes:
  0  success
  1  the command found a problem (publish --check: output out of date; digest
     --mail, mail: the digest could not be mailed, said in one line)
  2  bad input, configuration or usage (one line naming file:line on stderr;
     nothing is written)
  3  internal error (please report it; COMMUNIQUE_DEBUG=1 shows a traceback)
"""


class _Group(click.Group):
    """Turns errors from any command into one stderr line and a documented exit code."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: object,
    ) -> click.Context:
        """The group's own options (``communique --bogus``): a usage error is one line too."""
        try:
            return super().make_context(info_name, args, parent, **extra)  # type: ignore[arg-type]
        except click.UsageError as exc:
            if isinstance(exc, _NO_ARGS_IS_HELP):
                raise
            click.echo(_usage_line(exc), err=True)
            raise click.exceptions.Exit(EXIT_INPUT) from None

    def invoke(self, ctx: click.Context) -> object:
        try:
            try:
                result = super().invoke(ctx)
            except click.exceptions.Exit:
                sys.stdout.flush()  # a closed pipe shows up here, not as noise at exit
                raise
            sys.stdout.flush()
            return result
        except BrokenPipeError:
            # The reader left (`| head -1`): stop quietly like other Unix tools. Whatever is
            # still buffered goes to /dev/null so the flush at exit cannot complain either.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(EXIT_PIPE)
        except InputError as exc:
            click.echo(str(exc), err=True)  # path:line: message, as editors and CI parse it
            ctx.exit(EXIT_INPUT)
        except click.UsageError as exc:  # a subcommand's arguments, or a check in its body
            if isinstance(exc, _NO_ARGS_IS_HELP):  # `communique sources`: the help is the answer
                raise
            click.echo(_usage_line(exc), err=True)
            ctx.exit(EXIT_INPUT)
        except (KeyboardInterrupt, click.Abort):
            # Ctrl-C anywhere (a stalled `sources add`, a prompt): one line, the shell's code.
            after_echo = "\n" if sys.stderr.isatty() else ""  # not on the line of "^C"
            click.echo(f"{after_echo}communique: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException):
            raise
        except (
            OSError
        ) as exc:  # the disk, permissions, a path the system refuses: the user's to fix
            where = exc.filename or "communique"
            click.echo(
                f"{where}: {exc.strerror or exc}; check the path and its permissions", err=True
            )
            ctx.exit(EXIT_INPUT)
        except Exception as exc:
            if os.environ.get("COMMUNIQUE_DEBUG"):
                raise
            click.echo(f"communique: internal error: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(EXIT_BUG)


_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _usage_line(exc: click.UsageError) -> str:
    """``communique sources add: invalid value for URL: … (see communique sources add --help)``.

    click's own form is four lines (usage, a hint, a blank line, the error); the project's
    rule is one line for bad input, naming what to look at.
    """
    words = exc.ctx.command_path.split() if exc.ctx else []
    command = " ".join(["communique", *words[1:]])  # the same name under any runner
    message = " ".join(exc.format_message().strip().splitlines()).removesuffix(".")
    if message[1:2].islower():  # "Invalid value" -> "invalid value", but "URL" stays
        message = message[0].lower() + message[1:]
    return f"{command}: {message} (see {command} --help)"


def _now_option(function: object) -> object:
    return click.option(
        "--now",
        metavar="DATETIME",
        help="Pretend the clock says this (RFC 3339, e.g. 2025-03-01T12:00:00Z; UTC if no offset).",
    )(function)  # type: ignore[arg-type]


def _clock(now: str | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    try:
        return parse_when(now, UTC, datetime.min.time())
    except DateFormatError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None


def _base_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalise_base_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group(
    cls=_Group, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file (default: ./communique.toml; every setting has a default).",
)
@click.version_option(package_name="communique")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Publish articles as feeds that work in every reader; follow EU foreign-policy feeds.

    Publishing: `communique publish`, then `communique serve` and subscribe to
    http://127.0.0.1:8000/atom.xml in any feed reader.

    Following: `communique aggregate` polls the sources (`communique sources list`) into a
    local database; `communique digest` writes what mattered, by topic and story;
    `communique mail` sends it to your inbox; `communique run` does it all and publishes, for
    cron.
    """
    ctx.obj = config_path


def _config(ctx: click.Context, base_url: str | None = None) -> Config:
    return load_config(ctx.obj, base_url=base_url)


@main.command("publish", epilog=EXIT_CODES_HELP)
@_now_option
@click.option("--drafts", is_flag=True, help="Include drafts and future-dated articles (previews).")
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 listing every file that is not up to date."
)
@click.option(
    "--base-url",
    metavar="URL",
    callback=_base_url,
    help="Publish for this URL instead of [site] base_url (local previews; ids stay the site's; "
    "hubs are not pinged).",
)
@click.option(
    "--no-ping",
    is_flag=True,
    help="Do not tell the [publish] hubs which feeds changed (pings that failed stay pending).",
)
@click.pass_context
def publish_command(
    ctx: click.Context,
    now: str | None,
    drafts: bool,
    check: bool,
    base_url: str | None,
    no_ping: bool,
) -> None:
    """Write atom.xml, rss.xml, feed.json, per-tag feeds and HTML pages.

    Articles are read from [publish] articles (default articles/; if that default folder does
    not exist, the site is published without articles), and the output is built aside and
    swapped into [publish] output (default public/), so a failed build leaves the previous
    output untouched. Drafts and articles dated after now are left out. Articles
    without an id get one, written into their front matter so it never changes.

    With [publish] hubs set, every feed names those WebSub hubs, and each hub is told
    (POST hub.mode=publish) about every feed that changed. A hub that fails is a warning,
    not an error: its pings are kept in .communique/pending-pings.json beside the config
    and sent again by the next publish (a damaged one is renamed .corrupt-N, with a warning).

    A file is published only from inside its own folder: a symlink leading out of articles/
    or static/, and an SVG that could run script, are left out with one warning each. An
    article's first inline picture that is a site file but not what its extension says is
    not announced as its picture, with one warning.
    """
    from feeds.build import load_and_build, publish, stale_files
    from feeds.websub import Pending, pending_path, read_pending

    config = _config(ctx, base_url)
    clock = _clock(now)
    output = config.publish.output_dir
    if check:
        checked = load_and_build(config, now=clock, drafts=drafts)
        _warn_left_out(checked)
        problems = stale_files(checked, output)
        for problem in problems:
            click.echo(problem)
        if problems:
            click.echo(
                f"{len(problems)} file(s) not up to date; run `communique publish`", err=True
            )
            ctx.exit(EXIT_PROBLEM)
        click.echo(f"{output} is up to date")
        return
    ping = not no_ping and base_url is None  # a preview's feed URLs are not the hubs' topics
    pending_file = pending_path(config.path)
    pending = read_pending(pending_file) if ping else Pending()
    if pending.set_aside:  # a damaged file must not stop every publish after it
        click.echo(
            f"warning: {pending_file}: {pending.problem}; set aside as {pending.set_aside.name} "
            "(its pings are not resent)",
            err=True,
        )
    build = publish(config, now=clock, drafts=drafts)
    _warn_left_out(build)
    for article, fixed_id in build.ids_to_fix:
        click.echo(f"{article.path}: id fixed as {fixed_id}")
    if build.ids_held_back:
        click.echo(
            f"note: {build.ids_held_back} article id(s) not written into front matter while "
            f"[site] base_url is a local address; set it to the site's public URL",
            err=True,
        )
    left_out = []
    if build.drafts_left_out:
        left_out.append(f"{build.drafts_left_out} draft(s)")
    if build.future_left_out:
        left_out.append(f"{build.future_left_out} future-dated")
    note = f" ({', '.join(left_out)} left out)" if left_out else ""
    if not config.publish.articles_dir.is_dir():
        note += f" (no {config.publish.articles_dir} folder: the site has no articles)"
    click.echo(f"published {len(build.articles)} article(s){note} to {output}")
    click.echo(f"  {config.site.base_url}atom.xml  rss.xml  feed.json")
    if ping:
        _ping_hubs(config, build, pending.pings, pending_file)
    elif config.publish.hubs and base_url is not None and not no_ping:
        click.echo("note: hubs not pinged for a --base-url preview", err=True)


def _warn_left_out(build: Build) -> None:
    """One warning line per file or folder the site leaves out (see feeds/boundary.py), and
    per inline picture not announced as its article's (see feeds/picture.py)."""
    for skipped in build.skipped:
        click.echo(f"warning: {skipped}", err=True)
    for picture in build.unannounced:
        click.echo(f"warning: {picture}", err=True)


def _ping_hubs(config: Config, build: Build, pending: tuple[Ping, ...], pending_file: Path) -> None:
    """Tell each hub which feeds changed; a failing hub is one warning, kept for next time."""
    from feeds.websub import pings_due, send_pings, write_pending

    hubs = config.publish.hubs
    due = pings_due(hubs, build.changed_feeds, pending, build.feeds.values())
    write_pending(pending_file, due)  # kept first: an interrupted publish still pings next time
    report = send_pings(due)
    write_pending(pending_file, report.failed)
    for problem in report.problems:
        click.echo(
            f"warning: hub {problem.hub} failed for {problem.failed} of {problem.attempted} "
            f"feed(s): {problem.reason}; they will be pinged again on the next publish",
            err=True,
        )
    if not hubs:
        return
    if due:
        click.echo(f"pinged {report.hubs} of {len(hubs)} hub(s) for {report.feeds} feed(s)")
    else:
        click.echo(f"no feed changed: {len(hubs)} hub(s) not pinged")


@main.command("import", epilog=EXIT_CODES_HELP)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--year",
    type=click.IntRange(EARLIEST_YEAR, LATEST_YEAR),
    help="Year for dates written without one (else inferred).",
)
@click.option("--force", is_flag=True, help="Overwrite an article that already exists.")
@_now_option
@click.pass_context
def import_command(
    ctx: click.Context, files: tuple[Path, ...], year: int | None, force: bool, now: str | None
) -> None:
    """Convert plain-text posts into articles/YYYY-MM-DD-slug.md.

    A post is a title line, then '- Author', '- Feb 25' (or '- Feb 25, 2025') and
    '- N min read' lines, then paragraphs (one per line, or separated by blank lines);
    short lines without closing punctuation become section headings. A date without a year
    takes the first such day on or after the latest date the text mentions from the last ten
    years (never after today); with none, the latest such day on or before today. Everything
    inferred is printed and written into the front matter.
    """
    from feeds.importer import ImportedPost, convert_post

    config = _config(ctx)
    settings = config.publish
    today = _clock(now).astimezone(config.site.tz).date()
    converted: dict[Path, tuple[Path, ImportedPost]] = {}
    for path in files:
        text = decode_utf8(path.read_bytes(), path).removeprefix("\ufeff")
        post = convert_post(text, path, config.site, settings.default_time, year=year, today=today)
        target = settings.articles_dir / post.filename
        if target in converted:
            raise InputError(
                path, None, f"would also become {target} (like {converted[target][0]}); rename one"
            )
        if target.exists() and not force:
            raise InputError(target, None, "already exists; use --force to overwrite it")
        converted[target] = (path, post)
    settings.articles_dir.mkdir(parents=True, exist_ok=True)
    for target, (path, post) in converted.items():
        write_atomically(target, post.markdown.encode("utf-8"))
        click.echo(f"{path} -> {target}")
        for note in post.notes:
            click.echo(f"  {note}")


@main.command("serve", epilog=EXIT_CODES_HELP)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to serve (default: [publish] output).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (IPv6 too: ::1); keep loopback unless you mean it.",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0 picks a free one).",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not log requests.")
@click.pass_context
def serve_command(
    ctx: click.Context, directory: Path | None, host: str, port: int, quiet: bool
) -> None:
    """Serve the published site on 127.0.0.1, as feed readers expect.

    Feeds get their media types, every file an ETag and Last-Modified, and conditional
    requests a 304 Not Modified.

    The site is served under the path of the base_url it was published for (/blog/ for
    https://example.org/blog/), so its pages' links work.
    """
    from feeds.serve import make_server, url_host

    root = directory or _config(ctx).publish.output_dir
    if not root.is_dir():
        raise InputError(
            root, None, "nothing to serve; run `communique publish` first or pass --dir"
        )
    prefix = urlsplit(published_base_url(root) or "/").path or "/"
    try:
        server = make_server(root, host, port, prefix=prefix, verbose=not quiet)
    except OSError as exc:
        click.echo(f"communique: {_listen_problem(exc, host, port)}", err=True)
        ctx.exit(EXIT_INPUT)
    bound_host, bound_port = server.server_address[:2]
    url = f"http://{url_host(bound_host)}:{bound_port}{prefix}"
    click.echo(f"serving {root} at {url} (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _listen_problem(exc: OSError, host: str, port: int) -> str:
    """Why ``serve`` could not listen, and the fix: only a busy port calls for another port."""
    from feeds.serve import url_host

    where = f"{url_host(host.removeprefix('[').removesuffix(']'))}:{port}"
    if isinstance(exc, socket.gaierror):
        return (
            f"cannot listen on {where} ({exc.strerror}); --host must be an address of this "
            "machine, such as 127.0.0.1 or ::1"
        )
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {where} ({exc.strerror}); try another --port"
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where} ({exc.strerror}); ports below 1024 need privileges, try another --port"
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EINVAL):
        return (
            f"cannot listen on {where} ({exc.strerror}); the address is the problem: --host "
            "must be an address of this machine, such as 127.0.0.1 or ::1"
        )
    return f"cannot listen on {where} ({exc.strerror or exc})"


# --- aggregating --------------------------------------------------------------------------


def _settings(ctx: click.Context) -> Settings:
    """communique.toml, read once for the whole command (``run`` too)."""
    meta = ctx.find_root().meta
    if "settings" not in meta:
        meta["settings"] = load_settings(ctx.obj)
    return meta["settings"]


def _aggregate_settings(ctx: click.Context) -> AggregateSettings:
    return _settings(ctx).aggregate


def _existing_store(settings: AggregateSettings) -> Store:
    """The database, for a command that only looks at what was stored: opening a missing
    one would create it (and its -wal and -shm files) in a folder that had nothing."""
    if not settings.database.exists():
        raise InputError(
            settings.database, None, "no database yet; run `communique aggregate` first"
        )
    return Store(settings.database)


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


@main.command("aggregate", epilog=AGGREGATE_EXIT_CODES_HELP)
@click.option("--all", "force", is_flag=True, help="Poll every source now, not only the due ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--keep-days", type=click.IntRange(1), help="Then delete items older than this many days."
)
@click.option(
    "--wait",
    default=600.0,
    show_default=True,
    type=float,
    callback=lambda ctx, param, value: _wait_seconds(value),
    help=f"Seconds to wait for another run to finish (0 to {MAX_WAIT:,}).",
)
@click.option("-v", "--verbose", count=True, help="Log each source (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_context
def aggregate_command(
    ctx: click.Context,
    force: bool,
    as_json: bool,
    keep_days: int | None,
    wait: float,
    verbose: int,
    quiet: bool,
) -> None:
    """Poll the due sources of the source list into the local database.

    Conditional requests, per-host limits, backoff for failing sources and permanent
    redirects learnt after 3 confirmations keep it polite to shared hosts. The source list
    ([aggregate] sources, default sources.opml) is created from the shipped EU
    foreign-policy list on first use.
    """
    _logging(verbose, quiet)
    settings = _aggregate_settings(ctx)
    listed = _warn_skipped(read_source_list(settings.sources_file))  # created on first use
    try:
        summary, pruned = _aggregate(ctx, settings, force, wait, keep_days, as_json or quiet)
    except Busy as exc:
        click.echo(f"communique: {exc}", err=True)
        ctx.exit(EXIT_INPUT)
    except KeyboardInterrupt:
        # Each source is committed on its own, so what was stored stays; the parser
        # processes have been shut down on the way out (sources.workers).
        after_bar = "\n" if sys.stderr.isatty() else ""  # not on the line of "^C" or a bar
        click.echo(f"{after_bar}communique: interrupted; what was stored is kept", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    if as_json:
        click.echo(json.dumps({**summary.as_dict(), "items_pruned": pruned}, indent=2))
    elif not quiet:
        click.echo(
            f"{summary.sources} source(s): {summary.ok} ok, {summary.not_modified} not modified, "
            f"{summary.unchanged} unchanged, {summary.failed} failed, {summary.gone} gone; "
            f"items: {summary.new} new, {summary.updated} updated"
            + (f", {pruned} pruned" if pruned else "")
        )
        pages = summary.pages
        if pages.read or pages.reused or pages.kept_feed_text or pages.failed or pages.disallowed:
            click.echo(
                f"article pages: {pages.read} read, {pages.reused} already read, "
                f"{pages.kept_feed_text} not the article (feed text kept), {pages.failed} failed, "
                f"{pages.disallowed} disallowed by robots.txt, {pages.waiting} left for later"
            )
        for old, new in summary.moved:
            click.echo(f"  moved: {old} -> {new} (permanent redirect, confirmed)")
    if not as_json:  # errors are printed even with -q
        for url, message in summary.failures:
            click.echo(f"failed: {url}: {message}", err=True)
    if summary.failed or summary.gone or listed.skipped or listed.warnings:
        ctx.exit(EXIT_PROBLEM)


def _wait_seconds(value: float) -> float:
    """``--wait``: a finite number of seconds up to a day (``nan``, ``inf`` and ``1e300``
    parse as floats, and with the database busy would wait forever)."""
    if not math.isfinite(value) or not 0 <= value <= MAX_WAIT:
        raise click.BadParameter(
            f"{value!r} is not a number of seconds from 0 to {MAX_WAIT:,}", param_hint="--wait"
        )
    return value


def _aggregate(
    ctx: click.Context,
    settings: AggregateSettings,
    force: bool,
    wait: float,
    keep_days: int | None,
    silent: bool,
) -> tuple[RunSummary, int]:
    """One run under the lock: follow confirmed moves, poll, prune. ``(summary, pruned)``."""
    with run_lock(settings.database, wait=wait), Store(settings.database) as store:
        source_list = _follow_moves(store, settings)  # including moves a killed run confirmed
        taxonomy = _settings(ctx).relevance
        summary = _run_with_progress(
            store, source_list, settings, force, show=not silent, taxonomy=taxonomy
        )
        _follow_moves(store, settings)
        days = keep_days or settings.keep_days
        pruned = store.prune(days, datetime.now(UTC)) if days else 0
    return summary, pruned


def _follow_moves(store: Store, settings: AggregateSettings) -> list[Source]:
    """The source list, rewritten for every permanent move the database has confirmed."""
    listed = read_source_list(settings.sources_file)
    sources = list(listed.sources)
    moves = store.pending_moves([s.url for s in sources])
    for old, new in moves:
        sources = moved(sources, old, new)
    if moves:
        save_source_list(settings.sources_file, sources, listed.kept)
    return sources


def _warn_skipped(listed: SourceList) -> SourceList:
    """One stderr line per source-list entry that cannot be fetched (that source is left out)
    and per setting of an entry that cannot be read (the source is polled by the defaults)."""
    for skipped in listed.skipped:
        click.echo(f"warning: {skipped.problem}; skipped (fix or remove it)", err=True)
    for problem in listed.warnings:
        click.echo(f"warning: {problem}; [aggregate] full_text applies until it is fixed", err=True)
    return listed


def _run_with_progress(
    store: Store,
    sources: list[Source],
    settings: AggregateSettings,
    force: bool,
    *,
    show: bool,
    taxonomy: Taxonomy | None = None,
) -> RunSummary:
    due = len(due_sources(store, sources, datetime.now(UTC), force=force))
    if not (show and sys.stderr.isatty()) or not due:
        return asyncio.run(pipeline_run(store, sources, settings, force=force, taxonomy=taxonomy))
    with click.progressbar(length=due, label="polling", file=sys.stderr, show_pos=True) as bar:

        def progress(summary: RunSummary, done: int) -> None:
            bar.label = f"polling ({summary.new} new)"
            bar.update(done - bar.pos)

        return asyncio.run(
            pipeline_run(
                store, sources, settings, force=force, progress=progress, taxonomy=taxonomy
            )
        )


def _logging(verbose: int, quiet: bool) -> None:
    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    logging.basicConfig(
        level=level, format="%(levelname)s %(message)s", stream=sys.stderr, force=True
    )
    if verbose < 2:
        logging.getLogger("httpx").setLevel(logging.WARNING)


@main.group("sources")
def sources_group() -> None:
    """Show and edit the source list (an OPML file: [aggregate] sources)."""


@sources_group.command("list", epilog=EXIT_CODES_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def sources_list_command(ctx: click.Context, as_json: bool) -> None:
    """Every source with its last status, last success, next poll and item count, whether
    its items' article pages are read (with how many have page text, and the last page that
    could not be used, and why), and whether its history (RFC 5005 archives) is complete.
    Before there is a source list, the shipped one (nothing is written)."""
    from sources.digest.build import plural

    settings = _aggregate_settings(ctx)
    source_list = _warn_skipped(read_source_list(settings.sources_file, create=False)).sources
    if not settings.sources_file.exists():  # listing writes nothing, not even the default list
        click.echo(
            f"note: no {settings.sources_file} yet: the shipped sources, which the first "
            "`communique aggregate` or `sources add` writes there",
            err=True,
        )
    rows = {}
    pages: dict[str, tuple[int, str]] = {}
    histories = {}
    if settings.database.exists():  # listing never creates a database
        with Store(settings.database) as store:
            rows = store.source_rows()
            pages = store.page_counts()
            histories = store.histories()
    table = []
    for source in source_list:
        row = rows.get(source.url)
        status = (
            "gone"
            if row and row.gone
            else (row.last_status if row and row.last_status else "never fetched")
        )
        table.append(
            {
                "title": source.title,
                "url": source.url,
                "category": source.category,
                "status": status,
                "last_success": _when(row.last_success_at) if row else "-",
                "next_due": "never (gone)"
                if row and row.gone
                else _when(row.next_due)
                if row and row.next_due
                else "now",
                "entries": row.entries if row else 0,
                "last_error": row.last_error if row else None,
                "full_text": page_mode(source.full_text, settings.full_text),
                "entries_with_page_text": pages.get(source.url, (0, ""))[0],
                "last_page_problem": pages.get(source.url, (0, ""))[1] or None,
                "network": row.network if row else None,
                # null until the source is fetched; else how far its archives were read
                "history": (
                    histories.get(source.url, History()).as_dict(settings.max_archives)
                    if row and row.last_status
                    else None
                ),
            }
        )
    if as_json:
        click.echo(json.dumps(table, indent=2, ensure_ascii=False))
        return
    for item in table:
        click.echo(f"{item['title'] or item['url']}")
        click.echo(f"  {item['url']}")
        click.echo(
            f"  category: {item['category'] or '-'}  status: {item['status']}  last success: {item['last_success']}"
            f"  next: {item['next_due']}  entries: {item['entries']}"
        )
        if item["last_error"]:
            click.echo(f"  last error: {item['last_error']}")
        if item["network"] not in (None, "public"):  # its links may reach this network too
            click.echo(f"  network: {item['network']}")
        if item["full_text"] != "off" or item["entries_with_page_text"]:
            click.echo(
                f"  article pages: {item['full_text']}  "
                f"entries with page text: {item['entries_with_page_text']}"
            )
        if item["last_page_problem"]:
            click.echo(f"  last page problem: {item['last_page_problem']}")
        history = histories.get(item["url"])
        if history:  # a source with archives: read whole, or not yet
            read = plural(history.read, "archive document", "archive documents")
            incomplete = describe(history, settings.max_archives)
            click.echo(
                f"  history: incomplete ({read} read): {incomplete}"
                if incomplete
                else f"  history: complete ({read} read)"
            )


@sources_group.command("add", epilog=EXIT_CODES_HELP)
@click.argument("url")
@click.option("--title", help="Title to show (default: the feed's own).")
@click.option(
    "--category", default="", help="Comma-separated categories, e.g. news,foreign-policy."
)
@click.option(
    "--no-check", is_flag=True, help="Add without fetching (the feed is checked at the next poll)."
)
@click.option(
    "--full-text/--no-full-text",
    "full_text",
    default=None,
    help="Read the article page of each new item (for feeds that carry a title and a "
    "sentence), or never; default: [aggregate] full_text. Sets communique:fullText in the "
    "list, also on a feed already subscribed.",
)
@click.pass_context
def sources_add_command(
    ctx: click.Context,
    url: str,
    title: str | None,
    category: str,
    no_check: bool,
    full_text: bool | None,
) -> None:
    """Subscribe to a feed; a web page's URL works too (its feed is found by autodiscovery).

    The URL is kept in one spelling (lower-case scheme and host, no default port, no
    #fragment), so the same feed cannot be subscribed twice; adding a feed already in the
    list says so and exits 0. URLs with a user name or password are refused. A new feed is
    polled at once, with its whole history when it publishes one (RFC 5005 archives), so a
    subscription starts complete (--no-check: at the next aggregate). A history that cannot
    be read whole now (an archive fails, or [aggregate] history_time runs out) is said to be
    incomplete, and later runs read on from where it stopped; the feed is subscribed (exit 0).
    """
    from sources.digest.build import plural
    from sources.follow.subscribe import NotAFeed, find_feed

    settings = _aggregate_settings(ctx)
    try:
        url = normalise_feed_url(url)
    except BadFeedUrl as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None
    if no_check:
        found_url, found_title = url, ""
    else:
        try:
            found = find_feed(url, settings)
        except NotAFeed as exc:
            click.echo(f"communique: {exc} (or use --no-check)", err=True)
            ctx.exit(EXIT_INPUT)
        click.echo(found.note)
        found_url, found_title = found.url, found.title
    current = read_source_list(settings.sources_file)
    mode = "" if full_text is None else ("on" if full_text else "off")
    merged, _, already = merge(
        current.sources, [Source(found_url, title or found_title, category, full_text=mode)]
    )
    if already:  # idempotent, like `mkdir -p`: the feed is subscribed, which is what was asked
        listed = already[0][1]
        if mode and listed.full_text != mode:
            changed = [replace(s, full_text=mode) if s is listed else s for s in current.sources]
            save_source_list(settings.sources_file, changed, current.kept)
            click.echo(f"already subscribed: {listed.url}; article pages now {mode}")
            return
        click.echo(f"already subscribed: {listed.url}")
        return
    save_source_list(settings.sources_file, merged, current.kept)
    if settings.database.exists():
        with Store(settings.database) as store:
            store.revive(found_url)
            store.forget_move(found_url)
    click.echo(
        f"added {found_url}" + (f" ({title or found_title})" if title or found_title else "")
    )
    if no_check:
        return
    # The first poll now, with the feed's whole history where it publishes one (RFC 5005
    # archives): a new subscription starts complete, not with the last twenty items.
    source = next(s for s in merged if s.url == found_url)
    with run_lock(settings.database, wait=MAX_WAIT), Store(settings.database) as store:
        summary = asyncio.run(
            pipeline_run(store, [source], settings, force=True, taxonomy=_settings(ctx).relevance)
        )
        walked = store.history(found_url)
    history = (
        f", {plural(summary.archives, 'archive document', 'archive documents')} of its history"
        if summary.archives
        else ""
    )
    click.echo(f"stored {plural(summary.new, 'item', 'items')}{history}")
    # subscribed all the same (exit 0): the history is taken up again by later runs
    incomplete = describe(walked, settings.max_archives)
    if incomplete:
        click.echo(f"history incomplete: {incomplete}")
    for url, message in summary.failures:
        click.echo(
            f"communique: first poll of {url} failed: {message}; the next run tries again", err=True
        )


@sources_group.command("remove", epilog=EXIT_CODES_HELP)
@click.argument("url")
@click.pass_context
def sources_remove_command(ctx: click.Context, url: str) -> None:
    """Unsubscribe (stored items are kept); any spelling of the feed's URL works."""
    settings = _aggregate_settings(ctx)
    current = read_source_list(settings.sources_file, create=False)  # written only if found
    entries = [*current.sources, *current.kept]  # an entry that cannot be fetched can go too
    entry = find_source(entries, url)
    if entry is None:
        click.echo(f"communique: not subscribed to {url}; see `communique sources list`", err=True)
        ctx.exit(EXIT_INPUT)
    save_source_list(
        settings.sources_file,
        [s for s in current.sources if s is not entry],
        [s for s in current.kept if s is not entry],
    )
    click.echo(f"removed {entry.url}")


@sources_group.command("import", epilog=EXIT_CODES_HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def sources_import_command(ctx: click.Context, file: Path) -> None:
    """Merge the feeds of an OPML file into the source list (no duplicates).

    URLs are put into one spelling first, so a feed already subscribed under another
    (HTTP://Host/feed#x for http://host/feed) is skipped and counted. An entry with an
    invalid URL (bad port or host, not http(s), credentials) or a communique:fullText
    other than "on", "off" or "auto" is named with its line and skipped; the valid ones are still imported, and the exit code is then 2. A file over
    2 MiB, with over 10,000 outlines, a field over 2,048 characters or an <!ENTITY>
    declaration is refused whole.
    """
    settings = _aggregate_settings(ctx)
    incoming = read_import(file)
    current = read_source_list(settings.sources_file)
    merged, added, already = merge(current.sources, incoming.sources)
    if added:
        save_source_list(settings.sources_file, merged, current.kept)
    for skipped in incoming.skipped:
        click.echo(f"{skipped.problem}; skipped", err=True)
    counted = [
        f"{len(already)} already subscribed" if already else "",
        f"{incoming.duplicates} repeated in the file" if incoming.duplicates else "",
        f"{len(incoming.skipped)} invalid" if incoming.skipped else "",
    ]
    details = ", ".join(c for c in counted if c)
    click.echo(
        f"imported {len(added)} new source(s) of {len(incoming.sources)} from {file}"
        + (f" ({details})" if details else "")
    )
    if incoming.skipped:
        ctx.exit(EXIT_INPUT)


@sources_group.command("export", epilog=EXIT_CODES_HELP)
@click.pass_context
def sources_export_command(ctx: click.Context) -> None:
    """Write the source list to stdout as OPML 2.0 (never an entry with a password)."""
    settings = _aggregate_settings(ctx)
    # entries it cannot fetch too, as written; with no list yet, the shipped one (not written)
    listed = read_source_list(settings.sources_file, create=False)
    for skipped in listed.skipped:
        if has_credentials(skipped.source.url):
            click.echo(f"warning: {skipped.problem}; left out of the export", err=True)
    kept = [s for s in listed.kept if not has_credentials(s.url)]
    sys.stdout.buffer.write(to_opml([*listed.sources, *kept]))


@main.command("rescore", epilog=EXIT_CODES_HELP)
@click.pass_context
def rescore_command(ctx: click.Context) -> None:
    """Score every stored item again after the topics changed (nothing is fetched)."""
    settings = _aggregate_settings(ctx)
    taxonomy = _settings(ctx).relevance
    with _existing_store(settings) as store:
        on_topic = {
            s.url: is_on_topic_source(s.categories)
            for s in load_source_list(settings.sources_file, create=False)
        }
        total, changed = store.rescore(
            lambda item: taxonomy.score(
                item.title,
                item.summary,
                item.article_text,
                on_topic=on_topic.get(item.source_url, False),
            )
        )
    click.echo(f"rescored {total} item(s); {changed} changed")


@main.command("explain", epilog=EXIT_CODES_HELP)
@click.argument("item_id", metavar="ITEM", type=click.IntRange(1, 2**63 - 1))
@click.argument("other_id", metavar="[OTHER]", required=False, type=click.IntRange(1, 2**63 - 1))
@click.pass_context
def explain_command(ctx: click.Context, item_id: int, other_id: int | None) -> None:
    """Show why a stored item is (not) about EU foreign policy: score, topics, matched terms,
    and which story it joins in a digest around it (with what probability, and the runner-up).

    With two items, show whether they are one story when compared side by side, and why: the
    story model's probability, each piece of evidence and what it added, the words they
    share, and what keeps them apart (different places or figures, too far apart in time). In
    a digest an item is compared with whole stories, so the rest of a story counts too.

    ITEM and OTHER are the numbers `communique search --json` shows as "id".
    """
    settings = _aggregate_settings(ctx)
    with _existing_store(settings) as store:
        item = _stored_item(ctx, store, item_id)
        if other_id is not None:
            other = _stored_item(ctx, store, other_id)
            early = min(item.published_at, other.published_at)
            late = max(item.published_at, other.published_at)
            background = store.relevant_items(early - BACKGROUND, late + BACKGROUND)
            _explain_pair(item, other, background)
            return
    taxonomy = _settings(ctx).relevance
    on_topic = {
        s.url: is_on_topic_source(s.categories)
        for s in load_source_list(settings.sources_file, create=False)
    }
    verdict = taxonomy.score(
        item.title, item.summary, item.article_text, on_topic=on_topic.get(item.source_url, False)
    )
    click.echo(f"{item.title}")
    click.echo(f"  source: {item.source_title} ({item.source_url})")
    click.echo(
        f"  relevant: {'yes' if verdict.relevant else 'no'}  score: {verdict.score:g}  threshold: {taxonomy.threshold:g}"
    )
    if verdict.on_topic_source:
        click.echo("  the source is marked wholly on-topic (category foreign-policy)")
    click.echo(
        f"  EU anchors: {', '.join(verdict.anchors) or 'none (an item must mention the EU in its title or lede)'}"
    )
    if verdict.distant_anchors:
        click.echo(
            f"  past the lede, not counted: {', '.join(verdict.distant_anchors)} "
            "(an item is about what its title and lede are about)"
        )
    if verdict.excluded_by:
        click.echo(f"  excluded by: {verdict.excluded_by!r}")
    if verdict.roundup:
        click.echo(
            f"  roundup: {verdict.roundup!r} (a newsletter, live blog or roundup is judged "
            "on its title alone)"
        )
    if verdict.anchors and not verdict.roundup:
        click.echo(
            f"  without place names: {verdict.substance:g} (must reach the threshold too "
            "when the EU is named only below the title)"
        )
    if verdict.partners:
        click.echo(
            f"  partner in the title: {', '.join(verdict.partners)} "
            f"(the EU acting with a country outside it: +{verdict.partner_score:g})"
        )
    for topic_id, value in verdict.topic_scores.items():
        click.echo(f"  {taxonomy.name(topic_id)}: {value:g}")
        for match in verdict.matches:
            if match.topic == topic_id:
                factor = " x2" if match.where == "title" else ""
                click.echo(f"    {match.term!r} {match.weight:g}{factor} in {match.where}")
    click.echo(f"  {_page_line(item)}")
    if item.page_text:  # what was read, so a page read in the wrong encoding shows at once
        click.echo(f"  page text begins: {cut_at_word(' '.join(item.page_text.split()), 160)}")
    with _existing_store(settings) as store:
        _explain_story(item, store)


def _page_line(item: StoredItem) -> str:
    """Whether the item was read with its article page's text, and if not, why not."""
    if item.page_text:
        language = f", {item.page_language}" if item.page_language else ""
        return (
            f"text: its article page ({len(item.page_text):,} characters{language}), "
            "not only the feed's"
        )
    if item.page_note:
        return f"text: the feed's own; the article page was not used: {item.page_note}"
    return "text: the feed's own (the article page was not read)"


def _stored_item(ctx: click.Context, store: Store, item_id: int) -> StoredItem:
    item = store.item(item_id)
    if item is None:
        click.echo(
            f"communique: no stored item {item_id}; find ids with `communique search --json`",
            err=True,
        )
        ctx.exit(EXIT_INPUT)
    return item


def _explain_pair(item: StoredItem, other: StoredItem, background: list[StoredItem]) -> None:
    from sources.judge.stories import explain_pair

    verdict = explain_pair(item, other, background=background)
    click.echo(f"one story: {'yes' if verdict.one_story else 'no'}")
    for label, shown in (("A", item), ("B", other)):
        click.echo(
            f"  {label} [{shown.id}] {shown.title}  ({shown.source_title}, "
            f"{shown.published_at.isoformat()})"
        )
    if verdict.same_link:
        click.echo("  the same link: one story whatever the words")
    click.echo(
        f"  the story model gives {verdict.probability:.2f} that they report one event "
        f"(one story from {verdict.threshold:.2f}); the evidence, and what it adds:"
    )
    for name, value, added in verdict.contributions:
        click.echo(f"    {name:<15} {value:7.3f}  {added:+.2f}")
    shared = ", ".join(f"{word} {share:.2f}" for word, share in verdict.shared)
    click.echo(f"  shared words (stemmed; @ is a place): {shared or 'none'}")
    click.echo(f"  published {verdict.apart.total_seconds() / 3600:.0f} h apart")
    for reason in verdict.reasons_apart:
        click.echo(f"  apart: {reason}")


def _explain_story(item: StoredItem, store: Store) -> None:
    """Which story the item joins in a digest around it, with what probability, and the
    best other story it was compared with."""
    from sources.judge.event_identity import conflicts, signature
    from sources.judge.stories import WINDOW, place_items

    if not item.relevant:
        click.echo("  story: none (a digest groups only the items about EU foreign policy)")
        return
    nearby = store.relevant_items(item.published_at - WINDOW, item.published_at + WINDOW)
    background = store.relevant_items(
        item.published_at - BACKGROUND, item.published_at + BACKGROUND
    )
    groups, placements = place_items(nearby, background=background)
    story = next(g for g in groups if any(m.id == item.id for m in g))
    placement = placements[item.id]
    others = [m for m in story if m.id != item.id]
    first = story[0]

    def titled(members: list[StoredItem]) -> str:
        head = members[0]
        return f"[{head.id}] {cut_at_word(head.title, 80)} ({len(members)} items)"

    if placement.story is None:
        click.echo(
            f"  story: begins its own, headed by this item ({len(story)} items in all)"
            if first.id == item.id
            else f"  story: {titled(story)}"
        )
        if placement.runner_up is not None:
            click.echo(
                f"  the best story it could join gave {placement.runner_up_probability:.2f}, "
                "below the model's threshold"
            )
    else:
        click.echo(f"  story: joined {titled(story)} with {placement.probability:.2f}")
        if placement.runner_up is not None:
            runner = groups[placement.runner_up]
            click.echo(f"  runner-up: {titled(runner)} with {placement.runner_up_probability:.2f}")
    mine = signature(item)
    for story_number, member_id in placement.vetoed[:3]:
        member = next(m for g in groups for m in g if m.id == member_id)
        reason = conflicts(signature(member), mine)
        click.echo(
            f"  kept out of {titled(groups[story_number])}: {reason[0] if reason else 'conflict'}"
        )
    if others:
        click.echo(f"  with: {', '.join(str(m.id) for m in others[:12])}")


def _moment(value: str, zone: ZoneInfo, now: datetime, option: str) -> datetime:
    """``24h``/``7d`` (before now), ``YYYY-MM-DD`` (midnight in the site timezone) or RFC 3339."""
    try:
        return now - parse_duration(value)
    except OverflowError:
        raise click.BadParameter(
            f"{value!r} reaches before the year 1", param_hint=option
        ) from None
    except ValueError:
        pass
    try:
        return parse_when(value, zone, datetime.min.time())
    except DateFormatError as exc:
        raise click.BadParameter(
            f"{exc}; or write a duration such as 24h or 7d", param_hint=option
        ) from None


@main.command("digest", epilog=EXIT_CODES_HELP)
@click.option(
    "--since",
    metavar="WHEN",
    help="Start: 24h, 7d, YYYY-MM-DD or RFC 3339 (default: end of the last digest, else 24h ago).",
)
@click.option("--until", metavar="WHEN", help="End (default: now).")
@click.option(
    "--format",
    "formats",
    default="md,html,atom,json",
    show_default=True,
    help="Comma-separated: md, html, atom, json.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory (default: [digest] out, else the digest/ folder of [publish] static: "
    "static/digest/).",
)
@click.option(
    "--mail",
    is_flag=True,
    help="Also mail the digest to [mail] to (once: a digest already mailed is not sent again).",
)
@_now_option
@click.pass_context
def digest_command(
    ctx: click.Context,
    since: str | None,
    until: str | None,
    formats: str,
    out: Path | None,
    now: str | None,
    mail: bool = False,
) -> None:
    """Write what mattered in EU foreign policy in a period, by topic and by story.

    Files: digest-YYYY-MM-DD.md, .html and .json, and digest.atom (one entry per digest,
    newest first) in the output directory. The same database and period give the same bytes.

    The .json file is written whatever --format says: it is the record digest.atom is
    rebuilt from and where the next digest's default period starts.
    """
    from sources.digest.build import build_digest, plural
    from sources.digest.files import next_period_start, write_digest
    from sources.settings import digest_folder_problem

    wanted = {f.strip() for f in formats.split(",") if f.strip()}
    if not wanted or wanted - {"md", "html", "atom", "json"}:
        raise click.BadParameter("use md, html, atom and/or json", param_hint="--format")
    settings = _aggregate_settings(ctx)
    options = _settings(ctx).digest
    config = _settings(ctx).config
    site = config.site
    problem = digest_folder_problem(out, config.publish) if out else None
    if problem:  # the same rule as [digest] out's: publish would wipe or misread them
        raise click.BadParameter(f"{out} {problem}", param_hint="--out")
    zone = site.tz
    clock = _clock(now)
    end = _moment(until, zone, clock, "--until") if until else clock
    out_dir = out or options.out_dir
    if since:
        start = _moment(since, zone, clock, "--since")
    else:
        day = (end.astimezone(zone) - timedelta(microseconds=1)).date().isoformat()
        start = next_period_start(out_dir, day) or end - timedelta(hours=24)
    if start >= end:
        raise click.BadParameter(
            f"the period is empty: {start.isoformat()} is not before {end.isoformat()}",
            param_hint="--since",
        )
    sources = load_source_list(settings.sources_file)
    official = {s.url for s in sources if "official" in s.categories}
    items, background = [], []
    if settings.database.exists():
        with Store(settings.database) as store:
            items = store.relevant_items(start, end)
            background = store.relevant_items(start - BACKGROUND, end + BACKGROUND)
    digest = build_digest(
        items,
        since=start,
        until=end,
        taxonomy=_settings(ctx).relevance,
        zone=zone,
        title=options.title,
        is_official=lambda item: item.source_url in official,
        background=background,
    )
    written = write_digest(
        digest, out_dir, wanted, site=site, base_url=options.base_url or f"{site.base_url}digest/"
    )
    click.echo(
        f"{plural(digest.stories, 'story', 'stories')} from {plural(digest.items, 'item', 'items')}, {digest.period}"
    )
    for path in written:
        click.echo(f"  {path}")
    if mail:
        ctx.exit(_mail_digest(ctx, digest, resend=False, clock=clock))


def _mail_digest(
    ctx: click.Context, digest: Digest, *, resend: bool, clock: datetime, wait: float = MAIL_WAIT
) -> int:
    """Mail ``digest`` unless it was mailed already (``resend`` sends it anyway); the exit
    code: 0 sent or already sent, 1 the server did not take it or another process is mailing
    (said in one line), 130 Ctrl-C while the server took it (said whether it was mailed).

    "Mailed already?", the sending and the record are one step under a lock beside the
    database: two runs at once would both find the digest not mailed, and both send it.
    """
    from sources.digest.build import plural
    from sources.digest.delivery import Interrupted, MailFailure
    from sources.digest.delivery import send as send_mail
    from sources.digest.message import build_message

    mail = _settings(ctx).mail
    if not mail.to:
        raise click.UsageError("no [mail] to in the config: say where digests are mailed")
    site = _settings(ctx).config.site
    settings = _aggregate_settings(ctx)
    try:
        with mail_lock(settings.database, wait=wait), Store(settings.database) as store:
            earlier = store.delivered(digest.day)
            if earlier and not resend:
                click.echo(
                    f"digest {digest.day} was mailed already ({_when(earlier[1])}, {earlier[0]}); "
                    "`communique mail --resend` sends it again"
                )
                return EXIT_OK
            message = build_message(
                digest,
                sender=mail.sender,
                recipients=mail.to,
                base_url=site.base_url,
                sent_at=clock,
                language=site.language,
            )
            message_id = str(message["Message-ID"])
            try:
                delivery = send_mail(
                    message,
                    mail,
                    record=lambda: store.record_delivery(digest.day, message_id, mail.to, clock),
                )
            except Interrupted as exc:
                click.echo(f"communique: interrupted; digest {digest.day} {exc}", err=True)
                return EXIT_INTERRUPTED
            except MailFailure as exc:
                click.echo(f"communique: digest {digest.day} not mailed: {exc}", err=True)
                return EXIT_PROBLEM
    except Busy:
        click.echo(
            f"communique: digest {digest.day} not mailed: a digest is being mailed by another "
            f"process, still after {wait:g} s; try again when it ends",
            err=True,
        )
        return EXIT_PROBLEM
    click.echo(
        f"mailed digest {digest.day} to {plural(len(mail.to), 'recipient', 'recipients')} "
        f"({message_id})"
    )
    for refused in delivery.refused:
        click.echo(f"communique: refused by the server, not mailed: {refused}", err=True)
    if delivery.interrupted:
        click.echo(
            f"communique: interrupted; digest {digest.day} was mailed first "
            "(the server accepted it)",
            err=True,
        )
        return EXIT_INTERRUPTED
    return EXIT_OK


@main.command("mail", epilog=EXIT_CODES_HELP)
@click.option(
    "--digest",
    "day",
    metavar="DAY",
    help="Which digest: its day as its files name it (2026-11-27, or 2026-11-20--2026-11-26 "
    "for a longer period); default: the latest one written.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="The directory the digest was written to (digest --out; default: [digest] out, "
    "else static/digest/).",
)
@click.option("--resend", is_flag=True, help="Send it even if it was mailed already.")
@click.option(
    "--wait",
    default=MAIL_WAIT,
    show_default=True,
    type=float,
    callback=lambda ctx, param, value: _wait_seconds(value),
    help=f"Seconds to wait for another process mailing a digest (0 to {MAX_WAIT:,}).",
)
@_now_option
@click.pass_context
def mail_command(
    ctx: click.Context,
    day: str | None,
    out: Path | None,
    resend: bool,
    wait: float,
    now: str | None,
) -> None:
    """Mail a digest already written (from [digest] out, or --out) to [mail] to.

    The message has a plain-text part and an HTML part made for mail clients (tables and
    inline styles, no images, no scripts). A digest is mailed once: its delivery is recorded
    when the server accepts it, and sending it again needs --resend; two processes mailing at
    once take turns (--wait). Temporary failures are tried again for [mail] retry_for, then
    left for the next run (exit 1).
    """
    from sources.digest.build import from_json as digest_from_json

    options = _settings(ctx).digest
    site = _settings(ctx).config.site
    out_dir = out or options.out_dir
    if day is None:
        records = sorted(out_dir.glob("digest-*.json"), key=lambda p: p.stat().st_mtime_ns)
        if not records:
            click.echo(
                f"communique: no digest in {out_dir}; write one with `communique digest`",
                err=True,
            )
            ctx.exit(EXIT_INPUT)
        path = records[-1]
    else:
        path = out_dir / f"digest-{day}.json"
        if not path.is_file():
            click.echo(
                f"communique: no digest {day} in {out_dir} ({path.name} is missing); "
                "see the digest-*.json files there",
                err=True,
            )
            ctx.exit(EXIT_INPUT)
    try:
        digest = digest_from_json(path.read_text(encoding="utf-8"), site.tz)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        click.echo(f"communique: {path}: cannot read the digest ({exc})", err=True)
        ctx.exit(EXIT_INPUT)
    ctx.exit(_mail_digest(ctx, digest, resend=resend, clock=_clock(now), wait=wait))


@main.command("run", epilog=AGGREGATE_EXIT_CODES_HELP)
@click.pass_context
def run_command(ctx: click.Context) -> None:
    """Aggregate, write the digest, mail it, then publish (and ping the WebSub hubs): one
    command for cron or a timer.

    The digest is mailed when [mail] to is set, once (a digest already mailed is not sent
    again); a mail that could not be sent makes the exit code 1 and is tried by the next
    run. Without an articles folder (someone who only follows feeds), the site is published
    with the digest alone, unless [publish] articles names a folder that is missing.
    """
    from feeds.article import check_articles_dir

    config = _config(ctx)  # a bad [publish] setting stops the run before anything is fetched
    if config.publish.articles_configured:  # and so does a configured folder that is missing
        check_articles_dir(config.publish.articles_dir)
    _ = _settings(ctx).digest  # and so does a bad [digest] table
    mail = bool(_settings(ctx).mail.to)  # and a bad [mail] one
    code = EXIT_OK
    try:
        ctx.invoke(aggregate_command, quiet=True)
    except click.exceptions.Exit as exc:
        if exc.exit_code not in (EXIT_OK, EXIT_PROBLEM):
            raise
        code = exc.exit_code
    try:
        ctx.invoke(digest_command, mail=mail)
    except click.exceptions.Exit as exc:  # the digest is written; mailing it failed
        if exc.exit_code not in (EXIT_OK, EXIT_PROBLEM):
            raise
        code = max(code, exc.exit_code)
    ctx.invoke(publish_command)
    ctx.exit(code)


@main.command("search", epilog=EXIT_CODES_HELP)
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--fts",
    is_flag=True,
    help="Read QUERY as SQLite FTS5 query syntax: AND, OR, NOT, NEAR(...), prefix*, "
    "title:word, (groups).",
)
@click.pass_context
def search_command(
    ctx: click.Context, query: tuple[str, ...], limit: int, as_json: bool, fts: bool
) -> None:
    """Full-text search over stored items (titles, feed text and article pages).

    QUERY is words, as typed: an item must contain every word (EU-China, U.S., Kallas's
    and sanctions. match as written, punctuation and accents aside); text in double quotes
    is one phrase: communique search 'sanctions "Kallas visit"'. With --fts, QUERY is
    FTS5 syntax instead (sanctions OR tariffs, sanction*, NEAR(Kallas Kyiv)).
    """
    from sources.store.fts_query import echo, fts_syntax, words_query

    text = " ".join(query)
    fts_query = text if fts else words_query(text)
    if not fts_query.strip():
        raise click.BadParameter(
            f"{echo(text)!r} has no word to search for (letters or digits)", param_hint="QUERY"
        )
    settings = _aggregate_settings(ctx)
    with _existing_store(settings) as store:
        try:
            hits = store.search(fts_query, limit)
        except ValueError as exc:
            raise click.BadParameter(
                f"FTS5 cannot read {echo(text)!r} ({exc}); without --fts QUERY is plain words",
                param_hint="QUERY",
            ) from None
    if not fts and fts_syntax(text):
        click.echo(
            "note: AND, OR, NOT, NEAR(, word* and column: were searched for as words; "
            "--fts reads them as FTS5 query syntax",
            err=True,
        )
    if as_json:
        click.echo(
            json.dumps(
                [{**hit.__dict__, "published_at": hit.published_at.isoformat()} for hit in hits],
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    for hit in hits:
        click.echo(f"{_when(hit.published_at)}  {hit.title}  [{hit.source}]")
        if hit.link:
            click.echo(f"  {hit.link}")
        click.echo(f"  {hit.snippet}")
    if not hits:
        click.echo("no matches", err=True)


if __name__ == "__main__":
    main()
