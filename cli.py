"""The ``communique`` command: one small function per verb; the packages do the work.

Exit codes (the same for every command):

    0  success
    1  the command ran and found a problem (``publish --check``: output is out of date)
    2  bad input, configuration or usage: one line ``path:line: what is wrong`` on stderr,
       nothing written
    3  an internal error (a bug): one line on stderr; set COMMUNIQUE_DEBUG=1 for a traceback
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import click

from feeds.build import load_and_build, publish, stale_files
from feeds.config import Config, load_config, normalise_base_url
from feeds.dates import DateFormatError, parse_when
from feeds.errors import InputError
from feeds.importer import ImportedPost, convert_post
from feeds.output import published_base_url, write_atomically
from feeds.serve import make_server

EXIT_OK, EXIT_PROBLEM, EXIT_INPUT, EXIT_BUG = 0, 1, 2, 3

EXIT_CODES_HELP = """\b
Exit codes:
  0  success
  1  the command found a problem (publish --check: output out of date)
  2  bad input, configuration or usage (one line naming file:line on stderr;
     nothing is written)
  3  internal error (please report it; COMMUNIQUE_DEBUG=1 shows a traceback)
"""


class _Group(click.Group):
    """Turns errors from any command into one stderr line and a documented exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(str(exc), err=True)  # path:line: message, as editors and CI parse it
            ctx.exit(EXIT_INPUT)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("COMMUNIQUE_DEBUG"):
                raise
            click.echo(f"communique: internal error: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(EXIT_BUG)


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
    """Publish articles as Atom, RSS and JSON feeds that work in every feed reader.

    Start with `communique publish`, then `communique serve` and subscribe to
    http://127.0.0.1:8000/atom.xml in any feed reader.
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
    help="Publish for this URL instead of [site] base_url (local previews; ids stay the site's).",
)
@click.pass_context
def publish_command(
    ctx: click.Context, now: str | None, drafts: bool, check: bool, base_url: str | None
) -> None:
    """Write atom.xml, rss.xml, feed.json, per-tag feeds and HTML pages.

    Articles are read from [publish] articles (default articles/), and the output is built
    aside and swapped into [publish] output (default public/), so a failed build leaves the
    previous output untouched. Drafts and articles dated after now are left out. Articles
    without an id get one, written into their front matter so it never changes.
    """
    config = _config(ctx, base_url)
    clock = _clock(now)
    output = config.publish.output_dir
    if check:
        problems = stale_files(load_and_build(config, now=clock, drafts=drafts), output)
        for problem in problems:
            click.echo(problem)
        if problems:
            click.echo(
                f"{len(problems)} file(s) not up to date; run `communique publish`", err=True
            )
            ctx.exit(EXIT_PROBLEM)
        click.echo(f"{output} is up to date")
        return
    build = publish(config, now=clock, drafts=drafts)
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
    click.echo(f"published {len(build.articles)} article(s){note} to {output}")
    click.echo(f"  {config.site.base_url}atom.xml  rss.xml  feed.json")


@main.command("import", epilog=EXIT_CODES_HELP)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--year",
    type=click.IntRange(1900, 2999),
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
    takes the first such day on or after the latest date the text mentions. Everything
    inferred is printed and written into the front matter.
    """
    config = _config(ctx)
    settings = config.publish
    today = _clock(now).astimezone(config.site.tz).date()
    converted: dict[Path, tuple[Path, ImportedPost]] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                path, None, f"not UTF-8 ({exc.reason}); save the file as UTF-8"
            ) from None
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
    help="Address to bind; keep loopback unless you mean it.",
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
    root = directory or _config(ctx).publish.output_dir
    if not root.is_dir():
        raise InputError(
            root, None, "nothing to serve; run `communique publish` first or pass --dir"
        )
    prefix = urlsplit(published_base_url(root) or "/").path or "/"
    try:
        server = make_server(root, host, port, prefix=prefix, verbose=not quiet)
    except OSError as exc:
        click.echo(
            f"communique: cannot listen on {host}:{port} ({exc.strerror}); try another --port",
            err=True,
        )
        ctx.exit(EXIT_INPUT)
    bound_host, bound_port = server.server_address[:2]
    click.echo(f"serving {root} at http://{bound_host}:{bound_port}{prefix} (Ctrl-C to stop)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
