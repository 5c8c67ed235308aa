"""The digest by e-mail (issue 12), against a real SMTP server on loopback: aiosmtpd with
STARTTLS (a certificate from a test authority made by trustme) and authentication.

The message received is parsed back and checked part by part; its HTML part is opened in
headless chromium (no request but itself, a screenshot under ``test-artifacts/``); a server
that defers (451) gets the message once; a refused login (535) is one clear line; a digest
is mailed once; a password in ``communique.toml`` is refused.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cdp import CDP
from click.testing import CliRunner, Result
from test_digest_browser import (
    HOSTILE_TITLE,
    PHONE,
    fixture_items,
    make_digest,
    render,
)

from cli import main
from sources.digest.render import to_json

USER, PASSWORD = "digest", "correct horse battery staple"


@dataclass
class Mailbox:
    """What the server was sent, and what it is told to answer first."""

    received: list[bytes] = field(default_factory=list)
    defer: list[str] = field(default_factory=list)  # replies to DATA before accepting

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if self.defer:
            return self.defer.pop(0)
        self.received.append(envelope.content)  # type: ignore[attr-defined]
        return "250 2.0.0 OK"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    mailbox: Mailbox
    port: int
    ca_file: Path


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Server]:
    with serve_smtp(Mailbox(), tmp_path) as server:
        yield server


@contextlib.contextmanager
def serve_smtp(mailbox: Mailbox, tmp_path: Path) -> Iterator[Server]:
    """``mailbox`` behind STARTTLS and a login, on a free loopback port."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path / "test-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    port = _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield Server(mailbox, port, ca_file)
    finally:
        controller.stop()


class Project:
    """A project whose database holds a day of items, and whose [mail] names the server."""

    def __init__(self, root: Path, server: Server, extra: str = "") -> None:
        self.root = root
        self.config = root / "communique.toml"
        self.config.write_text(
            '[site]\nbase_url = "https://digest.example.org/"\ntimezone = "Europe/Brussels"\n'
            'title = "EU watch"\n'
            '[aggregate]\ndatabase = "c.db"\nsources = "sources.opml"\n'
            '[digest]\nout = "out"\n'
            "[mail]\n"
            'to = ["analyst@example.org", "desk@example.org"]\n'
            'from = "EU digest <digest@example.org>"\n'
            'smtp_host = "127.0.0.1"\n'
            f"smtp_port = {server.port}\n"
            f'username = "{USER}"\n'
            f'ca_file = "{server.ca_file}"\n'
            'retry_for = "20s"\n' + extra,
            encoding="utf-8",
        )
        (root / "sources.opml").write_text(
            '<?xml version="1.0"?><opml version="2.0"><head/><body/></opml>', encoding="utf-8"
        )
        out = root / "out"
        out.mkdir()
        digest = make_digest(fixture_items())
        (out / f"digest-{digest.day}.json").write_text(to_json(digest), encoding="utf-8")
        self.day = digest.day

    def run(self, *args: str, password: str | None = PASSWORD) -> Result:
        env = {"COMMUNIQUE_SMTP_PASSWORD": password} if password is not None else {}
        return CliRunner().invoke(
            main, ["--config", str(self.config), *args], env=env, catch_exceptions=False
        )


@pytest.fixture
def project(tmp_path: Path, smtp: Server) -> Project:
    return Project(tmp_path, smtp)


def parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


class _Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_the_digest_is_mailed_as_plain_text_and_mail_client_html(project, smtp):
    result = project.run("mail", "--now", "2025-06-11T06:30:00+02:00")
    assert result.exit_code == 0, result.output
    assert f"mailed digest {project.day} to 2 recipients" in result.output
    assert len(smtp.mailbox.received) == 1
    message = parse(smtp.mailbox.received[0])

    assert message["Subject"] == "EU foreign policy digest, 10 June 2025: 10 stories from 11 items"
    assert message["From"] == "EU digest <digest@example.org>"
    assert message["To"] == "analyst@example.org, desk@example.org"
    assert message["Date"] == "Wed, 11 Jun 2025 06:30:00 +0200"
    assert message["Message-ID"].startswith(f"<digest-{project.day}.")
    assert message["Message-ID"].endswith("@digest.example.org>")
    assert message["List-Id"] == "EU foreign policy digest <digest.digest.example.org>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]

    text = message.get_body(("plain",)).get_content()
    for line in text.splitlines():  # prose wrapped; a long URL is alone on its line
        assert len(line) < 78 or line.split()[-1].startswith("http"), line
    assert "[1] https://www.eeas.europa.eu/eeas/eu-japan-security-defence-partnership_en" in text
    assert "Russia's war against Ukraine: Council adopts 18th sanctions package [" in text

    html = message.get_body(("html",)).get_content()
    tags = _Tags()
    tags.feed(html)
    names = [tag for tag, _ in tags.tags]
    assert "svg" not in names and "style" not in names and "link" not in names
    assert "script" not in names and "img" not in names
    assert not any("class" in attrs for _, attrs in tags.tags)  # every style inline
    for tag, attrs in tags.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if tag in {"td", "h1", "h2", "h3", "p", "a", "body"}:
            assert attrs.get("style"), f"<{tag}> without an inline style"
    links = [attrs["href"] for tag, attrs in tags.tags if tag == "a"]
    assert "https://www.eeas.europa.eu/eeas/eu-japan-security-defence-partnership_en" in links
    assert all(link.startswith("https://") for link in links)  # javascript: never a link
    # the hostile title is text, escaped, in both parts
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower() and "onerror=" not in html.replace("onerror=alert", "")
    assert HOSTILE_TITLE.split(" <")[0] in text
    topics = [
        t["name"]
        for t in json.loads((project.root / "out" / f"digest-{project.day}.json").read_text())[
            "topics"
        ]
    ]
    assert all(name in html for name in topics)


def test_the_html_part_renders_in_chromium_without_any_request(
    project,
    smtp,
    browser: CDP,
    tmp_path: Path,
):
    assert project.run("mail").exit_code == 0
    html = parse(smtp.mailbox.received[0]).get_body(("html",)).get_content()
    page = tmp_path / "mail.html"
    page.write_text(html, encoding="utf-8")
    rendered = render(browser, page, PHONE, "digest-mail-phone.png")
    assert rendered.problems == []
    assert rendered.requests == [page.as_uri()], "the mail must load nothing but itself"
    assert rendered.dialogs == []
    assert rendered.dom["scripts"] == 0 and rendered.dom["handlers"] == []
    assert "Security and defence" in rendered.dom["text"]
    assert rendered.dom["wide"] == [], rendered.dom["wide"][-5:]
    assert rendered.screenshot is not None and rendered.screenshot.stat().st_size > 10_000


def test_a_digest_is_mailed_once_and_again_only_with_resend(project, smtp):
    assert project.run("mail").exit_code == 0
    again = project.run("mail")
    assert again.exit_code == 0
    assert "was mailed already" in again.output and "--resend" in again.output
    assert len(smtp.mailbox.received) == 1
    resent = project.run("mail", "--resend")
    assert resent.exit_code == 0
    assert len(smtp.mailbox.received) == 2


def test_a_deferring_server_gets_the_message_once(project, smtp):
    smtp.mailbox.defer = ["451 4.3.0 Mailbox busy, try again later"]
    result = project.run("mail")
    assert result.exit_code == 0, result.output
    assert len(smtp.mailbox.received) == 1
    assert project.run("mail").exit_code == 0  # recorded: not sent again
    assert len(smtp.mailbox.received) == 1


def test_a_server_that_keeps_deferring_is_left_for_the_next_run(tmp_path, smtp):
    project = Project(tmp_path, smtp)
    project.config.write_text(
        project.config.read_text().replace('retry_for = "20s"', 'retry_for = "1s"'),
        encoding="utf-8",
    )
    smtp.mailbox.defer = ["451 4.3.0 Busy"] * 5
    result = project.run("mail")
    assert result.exit_code == 1
    assert "not mailed" in result.stderr and "451 4.3.0 Busy" in result.stderr
    assert "the next run tries again" in result.stderr
    assert smtp.mailbox.received == []
    smtp.mailbox.defer = []
    assert project.run("mail").exit_code == 0  # nothing was recorded as sent
    assert len(smtp.mailbox.received) == 1


def test_a_refused_login_is_one_clear_line(project, smtp):
    result = project.run("mail", password="wrong")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "refused the login of 'digest'" in lines[0] and "535" in lines[0]
    assert "COMMUNIQUE_SMTP_PASSWORD" in lines[0]
    assert smtp.mailbox.received == []


def test_digest_mail_sends_once(project, smtp):
    first = project.run("digest", "--mail", "--since", "2025-06-10", "--until", "2025-06-11")
    assert first.exit_code == 0, first.output
    second = project.run("digest", "--mail", "--since", "2025-06-10", "--until", "2025-06-11")
    assert second.exit_code == 0, second.output
    assert "was mailed already" in second.output
    assert len(smtp.mailbox.received) == 1


def test_a_password_in_the_config_is_refused(tmp_path, smtp):
    project = Project(tmp_path, smtp, 'password = "hunter2"\n')
    result = project.run("mail")
    assert result.exit_code == 2
    line = result.output.strip().splitlines()
    assert len(line) == 1 and "communique.toml:" in line[0]
    assert "never read from communique.toml" in line[0] and "COMMUNIQUE_SMTP_PASSWORD" in line[0]
    assert smtp.mailbox.received == []


def test_the_password_can_come_from_a_file(tmp_path, smtp):
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    project = Project(tmp_path, smtp, f'password_file = "{secret}"\n')
    result = project.run("mail", password=None)
    assert result.exit_code == 0, result.output
    assert len(smtp.mailbox.received) == 1


def test_run_mails_the_digest_it_writes_once(project, smtp):
    first = project.run("run")
    assert first.exit_code == 0, first.output
    assert len(smtp.mailbox.received) == 1
    assert project.run("run").exit_code == 0  # the same day's digest: not mailed again
    assert len(smtp.mailbox.received) == 1


def test_run_says_when_the_mail_failed_and_exits_1(project, smtp):
    result = project.run("run", password="wrong")
    assert result.exit_code == 1
    assert "not mailed" in result.stderr
    assert any((project.root / "out").glob("digest-*.html"))  # the digest is written all the same


@pytest.mark.parametrize("security", ["tls", "none"])
def test_implicit_tls_and_plain_servers(tmp_path, security):
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "test-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    mailbox, port = Mailbox(), _free_port()
    # aiosmtpd knows a STARTTLS session is secure, not one that was TLS from the start
    options = {"ssl_context": context, "auth_require_tls": False} if security == "tls" else {}
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=_authenticate, **options
    )
    controller.start()
    try:
        project = Project(tmp_path, Server(mailbox, port, ca_file), f'security = "{security}"\n')
        text = project.config.read_text(encoding="utf-8")
        if security == "none":  # no credentials over a connection in clear
            text = text.replace(f'username = "{USER}"\n', "")
        project.config.write_text(text, encoding="utf-8")
        result = project.run("mail")
        assert result.exit_code == 0, result.output
        assert len(mailbox.received) == 1
    finally:
        controller.stop()


def test_a_user_name_without_tls_is_refused(tmp_path, smtp):
    project = Project(tmp_path, smtp, 'security = "none"\n')
    result = project.run("mail")
    assert result.exit_code == 2
    assert "would send the password in clear" in result.output
    assert smtp.mailbox.received == []
