"""A digest as an e-mail message that reads well in every mail client. Pure.

Mail clients are not browsers: Gmail does not render inline SVG, Outlook's Word engine
ignores most stylesheets, and many readers see only plain text. So the message is built with
the standard library's :mod:`email` package (no hand-written MIME) as
``multipart/alternative``:

* ``text/plain``: the digest as readable text, prose wrapped under 78 characters, each link
  numbered in the text and listed at the end (a long URL is the only thing on its line);
* ``text/html``: tables for layout and inline styles only (no stylesheet, no classes), the
  chart as HTML bars instead of SVG, no scripts and no images; every text that came from a
  feed is escaped by the template, and only http(s) links reach it (the digest drops others).

Headers: the subject says the period and the counts; ``Message-ID`` is derived from the
digest (its day and a hash of what it says), so the same digest is recognisable, and a
changed one is another message; ``List-Id`` names the digest; ``Auto-Submitted`` says no
person sent it (RFC 3834), so auto-replies stay away.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from urllib.parse import urlsplit

from feeds.templating import templates
from sources.digest.build import Digest, plural, shown_title
from sources.digest.render import chart, sections, storyline_note, to_json

WIDTH = 76  # plain-text lines stay under 78 characters (RFC 5322's recommendation)


def build_message(
    digest: Digest,
    *,
    sender: str,
    recipients: Sequence[str],
    base_url: str,
    sent_at: datetime,
    language: str = "en",
) -> EmailMessage:
    """The message for ``digest``, from ``sender`` to ``recipients``, dated ``sent_at``."""
    host = urlsplit(base_url).hostname or "localhost"
    message = EmailMessage(policy=SMTP)
    message["Subject"] = subject(digest)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id(digest, host)
    message["List-Id"] = f"{_phrase(shown_title(digest.title))} <digest.{host}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(to_text(digest), subtype="plain", charset="utf-8")
    message.add_alternative(to_mail_html(digest, language), subtype="html", charset="utf-8")
    return message


def subject(digest: Digest) -> str:
    """ "EU foreign policy digest, 10 June 2025: 5 stories from 11 items".

    The title is one line and cut to a sane length whatever the record says (a record written
    before titles were checked, or edited by hand): a header cannot hold a line break.
    """
    return f"{shown_title(digest.title)}, {digest.days}: {digest.counts}"


def message_id(digest: Digest, host: str) -> str:
    """The same digest gives the same id; a digest that says something else, another one."""
    fingerprint = hashlib.sha256(to_json(digest).encode("utf-8")).hexdigest()[:16]
    return f"<digest-{digest.day}.{fingerprint}@{host}>"


def to_text(digest: Digest) -> str:
    """The plain-text part: title, period, stories per topic, the topics and their stories,
    then the numbered links."""
    lines = [digest.title, digest.period, digest.counts, ""]
    links: list[str] = []

    def ref(url: str | None) -> str:
        if not url:
            return ""
        if url not in links:
            links.append(url)
        return f" [{links.index(url) + 1}]"

    if not digest.topics:
        lines += ["Nothing about EU foreign policy was published in this period.", ""]
    else:  # the HTML part's chart, as text
        lines.append("Stories per topic:")
        for topic in digest.topics:
            count = plural(len(topic.stories), "story", "stories")
            lines += _wrap(f"- {topic.name}: {count}", "  ")
        lines.append("")
    number = 0
    for topic in digest.topics:
        heading = f"{topic.name} ({len(topic.stories)})"
        lines += [heading, "=" * min(len(heading), WIDTH), ""]
        for story, line in (
            (story, section.storyline if n == 0 else None)
            for section in sections(topic, digest)
            for n, story in enumerate(section.stories)
        ):
            if line is not None:  # a storyline's title, then its stories
                note = storyline_note(line)
                lines += _wrap(f"Storyline: {line.title}{' (' + note + ')' if note else ''}", "  ")
                lines.append("")
            number += 1
            lines += _wrap(f"{number}. {story.title}{ref(story.link)}", "   ")
            when = story.when
            if story.continues:
                when += f" · continuing: {story.continuation}"
            elif story.status:
                when += " · new"
            lines += _wrap(when, "   ", first="   ")
            if story.excerpt:
                lines += _wrap(story.excerpt, "   ", first="   ")
            named = ", ".join(f"{name}{ref(link)}" for name, link in story.sources)
            lines += _wrap(f"Sources: {named}", "   ", first="   ")
            lines.append("")
    if links:
        lines += ["Links", "-----"]
        lines += [f"[{n}] {url}" for n, url in enumerate(links, start=1)]
        lines.append("")
    if digest.by_source:
        by_source = ", ".join(f"{name} ({count})" for name, count in digest.by_source)
        lines += _wrap(f"Items by source: {by_source}.", "")
    lines += ["", "Sent by communique."]
    return "\n".join(lines) + "\n"


def to_mail_html(digest: Digest, language: str = "en") -> str:
    """The HTML part: tables, inline styles, HTML bars for the chart; all text escaped."""
    return (
        templates("sources.digest")
        .get_template("digest-mail.html")
        .render(
            digest=digest,
            bars=chart(digest, decimals=None, least=2),
            sections=sections,
            storyline_note=storyline_note,
            language=language,
        )
    )


def _wrap(text: str, indent: str, first: str | None = None) -> list[str]:
    """``text`` wrapped under :data:`WIDTH`; a word longer than a line is cut, but not a
    link (the links are listed whole, each on a line of its own, at the end)."""
    return textwrap.wrap(
        " ".join(text.split()),
        width=WIDTH,
        initial_indent=first if first is not None else "",
        subsequent_indent=indent,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [first or ""]


def _phrase(text: str) -> str:
    """A display name safe in a header: quoted when it needs to be."""
    return str(Address(display_name=text, addr_spec="x@x")).rsplit(" <", 1)[0]
