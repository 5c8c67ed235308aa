"""The digest by e-mail against hostile timing and input (issue 18), through the CLI with a
real SMTP server (aiosmtpd, STARTTLS and a login) on loopback.

* two ``mail`` (or ``run``) processes at once against a slow server send one message: the
  check "mailed already?", the sending and the record are one critical section;
* Ctrl-C while the server answers the message does not lose its answer: an acceptance is
  recorded (exit 130, saying it was mailed), a refusal is not, and either way the message
  arrives once over this run and the next;
* a line break in a setting that ends up in a header is refused when the settings are read;
* ``mail --out DIR`` mails a digest written with ``digest --out DIR`` (the README's example);
* a 3,000-character feed title is cut, at a word, in every form of the digest and the mail.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from feedserver import FeedServer, Route
from test_digest import Item, feed_xml
from test_mail import PASSWORD, Mailbox, Project, Server, parse, serve_smtp

from sources.follow.opml import Source, save_source_list

COMMUNIQUE = Path(sys.executable).parent / "communique"


@dataclass
class SlowMailbox(Mailbox):
    """A server that takes ``delay`` seconds to answer each message (with ``answer``), and
    ``rcpt_delay`` seconds to answer each recipient; ``data_in`` is set when a whole message
    has arrived (the client has sent its end) and the server is yet to answer."""

    delay: float = 0.0
    rcpt_delay: float = 0.0
    answer: str = "250 2.0.0 OK queued"
    data_in: threading.Event = field(default_factory=threading.Event)
    rcpt_in: threading.Event = field(default_factory=threading.Event)
    messages: int = 0  # messages that arrived, accepted or not

    async def handle_RCPT(
        self, server: object, session: object, envelope: object, address: str, options: list
    ) -> str:
        self.rcpt_in.set()
        await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.data_in.set()
        self.messages += 1
        await asyncio.sleep(self.delay)
        if self.answer.startswith("250"):  # accepted: the message has arrived
            self.received.append(envelope.content)  # type: ignore[attr-defined]
        return self.answer


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Server]:
    with serve_smtp(Mailbox(), tmp_path) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path, smtp: Server) -> Project:
    return Project(tmp_path, smtp)


@pytest.fixture
def slow() -> SlowMailbox:
    return SlowMailbox(delay=2.0)


@pytest.fixture
def slow_smtp(slow: SlowMailbox, tmp_path: Path) -> Iterator[Server]:
    with serve_smtp(slow, tmp_path) as server:
        yield server


@pytest.fixture
def slow_project(tmp_path: Path, slow_smtp: Server) -> Project:
    return Project(tmp_path, slow_smtp)


def spawn(project: Project, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(COMMUNIQUE), "--config", str(project.config), *args],
        cwd=project.root,
        env={**os.environ, "COMMUNIQUE_SMTP_PASSWORD": PASSWORD},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stdout, stderr


def message_ids(mailbox: Mailbox) -> list[str]:
    return [parse(raw)["Message-ID"] for raw in mailbox.received]


# --- two runs at once --------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["mail"], ["run"]])
def test_two_processes_at_once_mail_the_digest_once(slow_project, slow, command):
    first = spawn(slow_project, *command)
    second = spawn(slow_project, *command)
    results = [finish(first), finish(second)]
    assert [code for code, _, _ in results] == [0, 0], results
    outputs = sorted(stdout for _, stdout, _ in results)
    assert sum("mailed digest" in out and "already" not in out for out in outputs) == 1, outputs
    assert sum("was mailed already" in out for out in outputs) == 1, outputs
    assert len(slow.received) == 1, message_ids(slow)
    assert (slow_project.root / "c.db.mail-lock").exists()  # beside the database


def test_a_mail_that_waits_too_long_for_another_says_so_in_one_line(slow_project, slow):
    slow.delay = 4.0
    first = spawn(slow_project, "mail")
    try:
        assert slow.data_in.wait(30), "the first process never sent its message"
        started = time.monotonic()
        second = slow_project.run("mail", "--wait", "0.5")
        assert time.monotonic() - started < 3
    finally:
        code, _, stderr = finish(first)
    assert second.exit_code == 1, second.output
    assert second.stdout == ""
    assert second.stderr.splitlines() == [
        f"communique: digest {slow_project.day} not mailed: a digest is being mailed by "
        "another process, still after 0.5 s; try again when it ends"
    ]
    assert code == 0, stderr
    assert len(slow.received) == 1
    again = slow_project.run("mail")  # the first one's delivery was recorded
    assert again.exit_code == 0 and "was mailed already" in again.stdout
    assert len(slow.received) == 1


@pytest.mark.parametrize("wait", ["-1", "nan", "90000"])
def test_mail_wait_must_be_a_number_of_seconds(project, smtp, wait):
    result = project.run("mail", "--wait", wait)
    assert result.exit_code == 2
    assert "--wait" in result.stderr and len(result.stderr.splitlines()) == 1
    assert smtp.mailbox.received == []


# --- Ctrl-C while the server answers -----------------------------------------------------------


def interrupt_when(process: subprocess.Popen[str], event: threading.Event) -> None:
    assert event.wait(30), "the process never got that far"
    time.sleep(0.3)  # the client is waiting for the server's answer
    process.send_signal(signal.SIGINT)


def test_ctrl_c_while_the_server_accepts_the_message_records_it(slow_project, slow):
    process = spawn(slow_project, "mail")
    interrupt_when(process, slow.data_in)
    code, stdout, stderr = finish(process)
    assert code == 130, (stdout, stderr)
    day = slow_project.day
    assert stderr.splitlines() == [
        f"communique: interrupted; digest {day} was mailed first (the server accepted it)"
    ]
    assert stdout.startswith(f"mailed digest {day} to 2 recipients (<digest-{day}.")
    assert len(slow.received) == 1
    slow.delay = 0
    again = slow_project.run("mail")
    assert again.exit_code == 0, again.output
    assert "was mailed already" in again.stdout
    assert len(slow.received) == 1  # across both runs


def test_ctrl_c_while_the_server_refuses_the_message_leaves_it_for_the_next_run(
    slow_project, slow, slow_smtp
):
    slow.answer = "451 4.3.0 Try again later"
    process = spawn(slow_project, "mail")
    interrupt_when(process, slow.data_in)
    code, stdout, stderr = finish(process)
    assert code == 130, (stdout, stderr)
    assert stdout == ""
    assert stderr.splitlines() == [
        f"communique: interrupted; digest {slow_project.day} not mailed: "
        f"127.0.0.1:{slow_smtp.port} answered 451 4.3.0 Try again later"
    ]
    assert slow.received == [] and slow.messages == 1  # no retry after the interrupt
    slow.answer, slow.delay = "250 2.0.0 OK queued", 0
    again = slow_project.run("mail")
    assert again.exit_code == 0, again.output
    assert "mailed digest" in again.stdout
    assert len(slow.received) == 1


def test_a_second_ctrl_c_does_not_wait_and_says_the_message_may_have_been_mailed(
    slow_project, slow, slow_smtp
):
    slow.delay = 3.0
    process = spawn(slow_project, "mail")
    interrupt_when(process, slow.data_in)
    time.sleep(0.2)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    code, stdout, stderr = finish(process)
    assert time.monotonic() - started < 2
    assert (code, stdout) == (130, ""), stderr
    assert stderr.splitlines() == [
        f"communique: interrupted; digest {slow_project.day} may have been mailed: stopped "
        f"before 127.0.0.1:{slow_smtp.port} answered the message (not recorded: the next run "
        "sends it again)"
    ]


def test_ctrl_c_before_the_message_is_sent_is_an_interrupt_and_nothing_else(slow_project, slow):
    """Interrupted while the server answers a recipient: the session is closed, never ended
    with a QUIT whose reply would be that pending 250, read as QUIT's own answer."""
    slow.rcpt_delay = 2.0
    process = spawn(slow_project, "mail")
    interrupt_when(process, slow.rcpt_in)
    code, stdout, stderr = finish(process)
    assert (code, stdout, stderr.splitlines()) == (130, "", ["communique: interrupted"])
    assert not slow.data_in.is_set() and slow.received == []
    slow.rcpt_delay = slow.delay = 0
    assert slow_project.run("mail").exit_code == 0
    assert len(slow.received) == 1


# --- settings that end up in headers -----------------------------------------------------------


def with_setting(project: Project, table: str, key: str, value: str) -> int:
    """Set ``[table] key`` to the TOML ``value``; the line it is on."""
    lines = project.config.read_text(encoding="utf-8").splitlines()
    lines = (
        [line for line in lines if not line.startswith(f"{key} =")] if table == "mail" else lines
    )
    at = lines.index(f"[{table}]") + 1
    lines.insert(at, f"{key} = {value}")
    project.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return at + 1


@pytest.mark.parametrize("command", [["digest"], ["mail"], ["digest", "--mail"], ["run"]])
def test_a_line_break_in_the_digest_title_is_refused_when_the_settings_are_read(
    project, smtp, command
):
    line = with_setting(project, "digest", "title", '"EU digest\\nBcc: victim@example.org"')
    before = sorted(p.name for p in (project.root / "out").iterdir())
    result = project.run(*command)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"{project.config}:{line}: [digest] title must be one line of text, without line "
        "breaks or other control characters"
    ]
    assert sorted(p.name for p in (project.root / "out").iterdir()) == before
    assert not (project.root / "c.db").exists()  # run: nothing fetched or stored either
    assert smtp.mailbox.received == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("from", '"EU digest\\n <digest@example.org>"'),
        ("from", '"digest@example.org\\r"'),
        ("from", '"EU\\u2028digest <digest@example.org>"'),
        ("to", '["analyst@example.org\\r\\n"]'),
        ("to", '"Desk\\u0085 <desk@example.org>"'),
        ("smtp_host", '"127.0.0.1\\nexample.org"'),
        ("username", '"digest\\r\\nQUIT"'),
    ],
)
def test_a_line_break_in_a_mail_setting_is_refused_with_its_line(project, smtp, key, value):
    line = with_setting(project, "mail", key, value)
    result = project.run("mail")
    assert result.exit_code == 2, result.output
    (message,) = result.stderr.splitlines()
    assert message.startswith(f"{project.config}:{line}: [mail] {key} ")
    assert "line break" in message
    assert smtp.mailbox.received == []


def test_a_record_with_a_line_break_in_its_title_is_mailed_with_a_one_line_subject(project, smtp):
    """A record written before titles were checked, or edited by hand."""
    path = project.root / "out" / f"digest-{project.day}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["title"] = "EU\r\ndigest\n"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = project.run("mail")
    assert result.exit_code == 0, result.output
    (raw,) = smtp.mailbox.received
    assert parse(raw)["Subject"] == "EU digest, 10 June 2025: 10 stories from 11 items"
    assert b"\r\nBcc" not in raw


# --- mail --out --------------------------------------------------------------------------------


def test_mail_out_mails_a_digest_written_with_digest_out(project, smtp, monkeypatch):
    """The README's example: a weekly digest written to a folder of its own, then mailed."""
    monkeypatch.chdir(project.root)
    written = project.run(
        "digest", "--since", "2026-11-20", "--until", "2026-11-27",
        "--format", "md,html", "--out", "weekly/", "--now", "2026-11-27T06:30:00Z",
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    day = "2026-11-20--2026-11-26"
    assert (project.root / "weekly" / f"digest-{day}.json").is_file()
    result = project.run("mail", "--out", "weekly/")
    assert result.exit_code == 0, result.output
    assert f"mailed digest {day}" in result.stdout
    (raw,) = smtp.mailbox.received
    assert parse(raw)["Subject"].startswith("EU foreign policy digest, 20–26 November 2026:")
    named = project.run("mail", "--out", "weekly", "--digest", day)
    assert named.exit_code == 0 and "was mailed already" in named.stdout
    missing = project.run("mail", "--out", "nowhere/")
    assert missing.exit_code == 2
    assert missing.stderr.splitlines() == [
        "communique: no digest in nowhere; write one with `communique digest`"
    ]
    assert len(smtp.mailbox.received) == 1


def test_mail_sends_the_digest_whose_period_ends_last_not_the_newest_file(project, smtp):
    """An older period written (or copied, or restored) after the latest digest is not the
    latest: ``mail`` goes by the records' own periods, as the next digest's start does."""
    out = project.root / "out"
    latest = json.loads((out / f"digest-{project.day}.json").read_text(encoding="utf-8"))
    day_before = {
        **latest,
        "day": "2025-06-09",
        "since": "2025-06-08T22:00:00+00:00",
        "until": "2025-06-09T22:00:00+00:00",
    }
    older = out / "digest-2025-06-09.json"
    older.write_text(json.dumps(day_before), encoding="utf-8")
    later = time.time() + 3600
    os.utime(older, (later, later))  # the newest file, of the older period
    result = project.run("mail")
    assert result.exit_code == 0, result.output
    assert f"mailed digest {project.day} " in result.stdout
    (raw,) = smtp.mailbox.received
    assert "10 June 2025" in parse(raw)["Subject"]


# --- a 3,000-character title -------------------------------------------------------------------

LONG = " ".join(
    ["EU foreign ministers agree new sanctions on Russia over its war against Ukraine:"]
    + [f"the Council adds measure number {n} to the package," for n in range(60)]
)[:3000]
FEED_TITLE = " ".join(f"Council press releases on foreign affairs, series {n};" for n in range(80))[
    :3000
]


def cut_between_words(title: str, whole: str) -> bool:
    """``title`` is the start of ``whole`` up to the end of a word, then an ellipsis."""
    body = title.removesuffix("…")
    return title.endswith("…") and whole.startswith(body) and whole[len(body)] in " ,;:-–—"


def test_a_3000_character_title_is_cut_at_a_word_everywhere(
    project, smtp, server: FeedServer, monkeypatch
):
    item = Item(LONG, "2025-06-10T09:00:00Z", "The Council adopted sanctions on Russia.")
    server.route("/long.xml", Route(body=feed_xml(FEED_TITLE, "https://c.example/", [item])))
    save_source_list(
        project.root / "sources.opml", [Source(server.url("/long.xml"), "", "official")]
    )
    assert project.run("aggregate", "--all", "-q").exit_code == 0
    monkeypatch.chdir(project.root)
    result = project.run(
        "digest", "--since", "2025-06-10", "--until", "2025-06-11", "--out", "long", "--mail"
    )
    assert result.exit_code == 0, result.output
    out = project.root / "long"
    files = {p.suffix: p.read_text(encoding="utf-8") for p in out.iterdir() if p.is_file()}
    document = json.loads(files[".json"])
    (topic,) = document["topics"]
    (story,) = topic["stories"]
    (source,) = story["sources"]
    (by_source,) = document["by_source"]
    for title, whole in [
        (story["title"], LONG),
        (source["title"], LONG),
        (source["source"], FEED_TITLE),
        (by_source["source"], FEED_TITLE),
    ]:
        assert 150 <= len(title) <= 201 and cut_between_words(title, whole), title
    (raw,) = smtp.mailbox.received
    mail = parse(raw)
    forms = {**files, "mail text": mail.get_body(("plain",)).get_content()}
    forms["mail html"] = mail.get_body(("html",)).get_content()
    for name, text in forms.items():
        assert LONG[:120] in " ".join(text.split()), name  # the start of it is there
        assert LONG[250:350] not in text and FEED_TITLE[250:350] not in text, name  # no more


def test_a_record_with_a_long_title_is_mailed_with_a_subject_of_sane_length(project, smtp):
    """A record written before titles were cut, or edited by hand: the subject stays short."""
    path = project.root / "out" / f"digest-{project.day}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["title"] = LONG
    path.write_text(json.dumps(document), encoding="utf-8")
    result = project.run("mail")
    assert result.exit_code == 0, result.output
    subject = parse(smtp.mailbox.received[0])["Subject"]
    assert subject.endswith("…, 10 June 2025: 10 stories from 11 items"), subject
    assert len(subject) < 260
