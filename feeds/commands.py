"""The publishing commands (``publish``, ``import``, ``serve``) and what every command shares.

``cli.py`` adds these commands to the ``communique`` group, whose error handling turns bad
input into one line and these exit codes. What every command shares is here too: the exit
codes, ``--now``, ``--base-url`` and the configuration named by ``--config``. This module is
the publishing wing's, so it never imports ``sources``.
"""

from __future__ import annotations

import errno
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from feeds.config import Config, load_config, normalise_base_url
from feeds.dates import EARLIEST_YEAR, LATEST_YEAR, DateFormatError, parse_when
from feeds.errors import InputError, decode_utf8
from feeds.output import published_base_url, write_atomically

if TYPE_CHECKING:  # names in annotations only; the modules load with their commands
    from feeds.build import Build
    from feeds.websub import Ping

EXIT_OK, EXIT_PROBLEM, EXIT_INPUT, EXIT_BUG = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C
EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader went away

EXIT_CODES_HELP = """\b
Exit codes:
  0  success
  1  the command found a problem (publish --check: output out of date; digest
     --mail, mail: the digest could not be mailed, said in one line)
  2  bad input, configuration or usage (one line naming file:line on stderr;
     nothing is written)
  3  internal error (please report it; COMMUNIQUE_DEBUG=1 shows a traceback)
"""


def now_option(function: object) -> object:
    return click.option(
        "--now",
        metavar="DATETIME",
        help="Pretend the clock says this (RFC 3339, e.g. 2025-03-01T12:00:00Z; UTC if no offset).",
    )(function)  # type: ignore[arg-type]


def clock_at(now: str | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    try:
        return parse_when(now, UTC, datetime.min.time())
    except DateFormatError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None


def base_url_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalise_base_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def configured(ctx: click.Context, base_url: str | None = None) -> Config:
    return load_config(ctx.obj, base_url=base_url)


@click.command("publish", epilog=EXIT_CODES_HELP)
@now_option
@click.option("--drafts", is_flag=True, help="Include drafts and future-dated articles (previews).")
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 listing every file that is not up to date."
)
@click.option(
    "--base-url",
    metavar="URL",
    callback=base_url_option,
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
    from feeds.build import load_and_build, stale_files

    config = configured(ctx, base_url)
    clock = clock_at(now)
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
    publish_site(config, clock, drafts=drafts, preview=base_url is not None, no_ping=no_ping)


def publish_site(
    config: Config, clock: datetime, *, drafts: bool, preview: bool, no_ping: bool
) -> None:
    """Publish the site and say so: ``publish`` and the end of ``run``. A ``preview`` (for
    another base URL) pings no hub: its feed URLs are not the hubs' topics."""
    from feeds.build import publish
    from feeds.websub import Pending, pending_path, read_pending

    ping = not no_ping and not preview
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
    click.echo(f"published {len(build.articles)} article(s){note} to {config.publish.output_dir}")
    click.echo(f"  {config.site.base_url}atom.xml  rss.xml  feed.json")
    if ping:
        _ping_hubs(config, build, pending.pings, pending_file)
    elif config.publish.hubs and preview and not no_ping:
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


@click.command("import", epilog=EXIT_CODES_HELP)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--year",
    type=click.IntRange(EARLIEST_YEAR, LATEST_YEAR),
    help="Year for dates written without one (else inferred).",
)
@click.option("--force", is_flag=True, help="Overwrite an article that already exists.")
@now_option
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

    config = configured(ctx)
    settings = config.publish
    today = clock_at(now).astimezone(config.site.tz).date()
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


@click.command("serve", epilog=EXIT_CODES_HELP)
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

    root = directory or configured(ctx).publish.output_dir
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
