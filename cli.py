"""The ``communique`` command: the group, its error handling, and the following commands.

Each command turns its options into one call of a use case (``sources/app/``) and prints the
lines its result reads as (``sources/app/text.py``); the publishing commands are
``feeds/commands.py``'s. Errors become one line and an exit code here, whatever raised them.

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

import contextlib
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feeds.commands import (
    EXIT_BUG,
    EXIT_CODES_HELP,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PIPE,
    EXIT_PROBLEM,
    clock_at,
    import_command,
    now_option,
    publish_command,
    publish_site,
    serve_command,
)
from feeds.errors import InputError
from sources.app import MAIL_WAIT, RUN_WAIT, text
from sources.app.errors import BadOption, Refused
from sources.app.text import Line
from sources.settings import Settings, load_settings

if TYPE_CHECKING:  # names in annotations only; the modules load with their commands
    from sources.app.digests import Mailed
    from sources.app.following import ProgressDisplay
    from sources.follow.run import Progress, RunSummary

MAX_WAIT = 86_400  # seconds --wait may wait for another run: a day, a cron period at most

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


class _Command(click.Command):
    """A command whose use case refused an option: the same usage line as click's own."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BadOption as exc:
            if exc.option is None:
                raise click.UsageError(str(exc), ctx=ctx) from None
            raise click.BadParameter(str(exc), ctx=ctx, param_hint=exc.option) from None


class _Sources(click.Group):
    """``communique sources``: its commands are :class:`_Command` too."""

    command_class = _Command


class _Group(click.Group):
    """Turns errors from any command into one stderr line and a documented exit code."""

    command_class = _Command

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
        except Refused as exc:  # bad input that is no file's line: a URL, an item id
            click.echo(f"communique: {exc}", err=True)
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


for _publishing in (publish_command, import_command, serve_command):
    main.add_command(_publishing)


# --- following ------------------------------------------------------------------------------


def _settings(ctx: click.Context) -> Settings:
    """communique.toml, read once for the whole command (``run`` too)."""
    meta = ctx.find_root().meta
    if "settings" not in meta:
        meta["settings"] = load_settings(ctx.obj)
    return meta["settings"]


def _say(lines: list[Line]) -> None:
    for line in lines:
        click.echo(line.text, err=line.err)


def _wait_seconds(value: float) -> float:
    """``--wait``: a finite number of seconds up to a day (``nan``, ``inf`` and ``1e300``
    parse as floats, and with the database busy would wait forever)."""
    if not math.isfinite(value) or not 0 <= value <= MAX_WAIT:
        raise click.BadParameter(
            f"{value!r} is not a number of seconds from 0 to {MAX_WAIT:,}", param_hint="--wait"
        )
    return value


def _wait_option(default: float, waiting_for: str) -> Callable[[Callable[..., None]], object]:
    return click.option(
        "--wait",
        default=default,
        show_default=True,
        type=float,
        callback=lambda ctx, param, value: _wait_seconds(value),
        help=f"Seconds to wait for {waiting_for} (0 to {MAX_WAIT:,}).",
    )


@main.command("aggregate", epilog=AGGREGATE_EXIT_CODES_HELP)
@click.option("--all", "force", is_flag=True, help="Poll every source now, not only the due ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--keep-days", type=click.IntRange(1), help="Then delete items older than this many days."
)
@_wait_option(RUN_WAIT, "another run to finish")
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
    progress = None if as_json or quiet else _progress_bar
    settings = _settings(ctx)
    ctx.exit(
        _aggregate(
            settings,
            force=force,
            wait=wait,
            keep_days=keep_days,
            progress=progress,
            as_json=as_json,
            quiet=quiet,
        )
    )


def _aggregate(
    settings: Settings,
    *,
    force: bool = False,
    wait: float = RUN_WAIT,
    keep_days: int | None = None,
    progress: ProgressDisplay | None = None,
    as_json: bool = False,
    quiet: bool = False,
) -> int:
    """Read the source list (saying what in it cannot be used), run, say what happened:
    ``aggregate`` and ``run``. The exit code: 1 when a source failed or is gone, or the
    list has entries or settings that cannot be used."""
    from sources.app import following

    listed = following.source_list(settings)  # created on first use
    _say(text.source_list_warnings(listed))
    try:
        result = following.aggregate(
            settings, force=force, wait=wait, keep_days=keep_days, progress=progress
        )
    except KeyboardInterrupt:
        # Each source is committed on its own, so what was stored stays; the parser
        # processes have been shut down on the way out (sources.workers).
        after_bar = "\n" if sys.stderr.isatty() else ""  # not on the line of "^C" or a bar
        click.echo(f"{after_bar}communique: interrupted; what was stored is kept", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    _say(text.aggregated(result, as_json=as_json, quiet=quiet))
    summary = result.summary
    problem = summary.failed or summary.gone or listed.skipped or listed.warnings
    return EXIT_PROBLEM if problem else EXIT_OK


@contextlib.contextmanager
def _progress_bar(due: int) -> Iterator[Progress | None]:
    """A bar on stderr while ``due`` sources are polled, on a terminal only."""
    if not sys.stderr.isatty() or not due:
        yield None
        return
    with click.progressbar(length=due, label="polling", file=sys.stderr, show_pos=True) as bar:

        def progress(summary: RunSummary, done: int) -> None:
            bar.label = f"polling ({summary.new} new)"
            bar.update(done - bar.pos)

        yield progress


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


@main.group("sources", cls=_Sources)
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
    from sources.app import following

    listing = following.list_sources(_settings(ctx))
    _say(text.source_list_warnings(listing.listed) + text.listing(listing, as_json=as_json))


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
    from sources.app import following
    from sources.follow.feed_url import BadFeedUrl, normalise_feed_url

    settings = _settings(ctx)
    try:
        url = normalise_feed_url(url)
    except BadFeedUrl as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None
    added = following.subscribe(
        settings, url, title=title, category=category, check=not no_check, full_text=full_text
    )
    _say(text.subscription(added))
    if added.outcome == "added" and not no_check:
        _say(text.first_poll(following.first_poll(settings, added.source, wait=MAX_WAIT)))


@sources_group.command("remove", epilog=EXIT_CODES_HELP)
@click.argument("url")
@click.pass_context
def sources_remove_command(ctx: click.Context, url: str) -> None:
    """Unsubscribe (stored items are kept); any spelling of the feed's URL works."""
    from sources.app import following

    click.echo(f"removed {following.unsubscribe(_settings(ctx), url).url}")


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
    from sources.app import following

    imported = following.import_sources(_settings(ctx), file)
    _say(text.imported(imported, file))
    if imported.incoming.skipped:
        ctx.exit(EXIT_INPUT)


@sources_group.command("export", epilog=EXIT_CODES_HELP)
@click.pass_context
def sources_export_command(ctx: click.Context) -> None:
    """Write the source list to stdout as OPML 2.0 (never an entry with a password)."""
    from sources.app import following

    opml, left_out = following.export_sources(_settings(ctx))
    _say(text.left_out_of_export(left_out))
    sys.stdout.buffer.write(opml)


@main.command("rescore", epilog=EXIT_CODES_HELP)
@click.pass_context
def rescore_command(ctx: click.Context) -> None:
    """Score every stored item again after the topics changed (nothing is fetched)."""
    from sources.app import judging

    total, changed = judging.rescore(_settings(ctx))
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
    from sources.app import judging

    settings = _settings(ctx)
    if other_id is None:
        _say(text.item_explanation(judging.explain_item(settings, item_id)))
    else:
        _say(text.pair_explanation(judging.explain_pair(settings, item_id, other_id)))


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
@now_option
@click.pass_context
def digest_command(
    ctx: click.Context,
    since: str | None,
    until: str | None,
    formats: str,
    out: Path | None,
    now: str | None,
    mail: bool,
) -> None:
    """Write what mattered in EU foreign policy in a period, by topic and by story.

    Files: digest-YYYY-MM-DD.md, .html and .json, and digest.atom (one entry per digest,
    newest first) in the output directory, and a feed per storyline the digest showed
    (storylines/ID.atom). The same database and period give the same bytes.

    Stories go on from one digest to the next: each is marked new or continuing (with what
    is new since the digest that last showed it), and stories that are parts of one larger
    development are shown together under their storyline.

    The .json file is written whatever --format says: it is the record digest.atom is
    rebuilt from and where the next digest's default period starts.
    """
    from sources.app import digests

    wanted = frozenset(f.strip() for f in formats.split(",") if f.strip())
    if not wanted or wanted - set(digests.FORMATS):
        raise click.BadParameter("use md, html, atom and/or json", param_hint="--format")
    settings, clock = _settings(ctx), clock_at(now)
    made = digests.make_digest(
        settings, clock=clock, since=since, until=until, formats=wanted, out=out
    )
    _say(text.made(made))
    if mail:
        ctx.exit(_mailed(digests.mail_digest(settings, made.digest, clock=clock, resend=False)))


def _mailed(mailed: Mailed) -> int:
    """Say how the mail went; the exit code: 0 sent or already sent, 1 the server did not
    take it or another process is mailing, 130 Ctrl-C while the server took it."""
    _say(text.mailed(mailed))
    if mailed.status in ("failed", "busy"):
        return EXIT_PROBLEM
    if mailed.status == "interrupted" or mailed.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK


@main.command("mail", epilog=EXIT_CODES_HELP)
@click.option(
    "--digest",
    "day",
    metavar="DAY",
    help="Which digest: its day as its files name it (2026-11-27, or 2026-11-20--2026-11-26 "
    "for a longer period); default: the latest one (its period ends last).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="The directory the digest was written to (digest --out; default: [digest] out, "
    "else static/digest/).",
)
@click.option("--resend", is_flag=True, help="Send it even if it was mailed already.")
@_wait_option(MAIL_WAIT, "another process mailing a digest")
@now_option
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
    from sources.app.digests import mail_written

    settings, clock = _settings(ctx), clock_at(now)
    mailed = mail_written(settings, clock=clock, day=day, out=out, resend=resend, wait=wait)
    ctx.exit(_mailed(mailed))


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
    from sources.app import digests
    from sources.app.run import prepare

    settings = _settings(ctx)
    mails = prepare(settings)  # a bad table stops the run before anything is fetched
    _logging(0, True)
    code = _aggregate(settings, quiet=True)
    clock = datetime.now(UTC)  # the digest ends when the run has stored what it fetched
    made = digests.make_digest(settings, clock=clock)
    _say(text.made(made))
    if mails:
        mailed = digests.mail_digest(settings, made.digest, clock=clock, resend=False)
        code = max(code, _mailed(mailed))
    publish_site(settings.config, datetime.now(UTC), drafts=False, preview=False, no_ping=False)
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
    from sources.app import judging

    found = judging.search(_settings(ctx), " ".join(query), limit=limit, fts=fts)
    _say(text.found(found, as_json=as_json))


@main.command("storylines", epilog=EXIT_CODES_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def storylines_command(ctx: click.Context, as_json: bool) -> None:
    """List the storylines the digests showed, the latest first.

    A storyline is a larger development several stories are parts of (a summit's previews,
    decisions and reactions), followed from one digest to the next. Each has a feed,
    storylines/ID.atom in the digest folder ([digest] out), with an entry per story as it
    appears or grows: subscribe to one developing storyline in any feed reader.
    """
    from sources.app import digests

    _say(text.storylines(digests.list_storylines(_settings(ctx)), as_json=as_json))


if __name__ == "__main__":
    main()
