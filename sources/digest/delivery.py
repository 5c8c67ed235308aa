"""Sending a digest by e-mail: one SMTP delivery, retried.

``[mail]`` (read by ``sources/settings.py``) says where to: ``to`` (one address or a list), ``from``, ``smtp_host``,
``smtp_port`` (default 587 with STARTTLS, 465 with TLS, 25 without), ``security``
(``"starttls"``, the default; ``"tls"``; or ``"none"``), ``username``, and ``ca_file`` (a CA
bundle for a server whose certificate a private authority signed). The password is never in
``communique.toml``, which is shared, committed and backed up: it comes from the environment
(``COMMUNIQUE_SMTP_PASSWORD``) or from a file named by ``password_file`` (its first line), and
a ``password`` key is refused with a message saying where to put it. Credentials never travel
in clear: a user name with ``security = "none"`` is refused too.

:func:`send` makes one delivery: connect, STARTTLS or TLS with certificate and host name
checked, log in, send. What the server says decides what happens next:

* a temporary failure (a 4xx reply, a refused or dropped connection, a timeout) is tried
  again after 1, 2, 4, ... seconds while the deadline (``retry_for``, default 2 minutes)
  allows, then reported as :class:`TemporaryFailure` (the digest is left for the next run);
* a permanent one (a 5xx reply, authentication refused, a certificate that does not check)
  is reported at once as :class:`PermanentFailure`, in one line.

The caller records the delivery: :func:`send` calls its ``record`` the moment the server has
accepted the message, before anything else can go wrong. The server's answer to the message
must never be lost (a message accepted but not recorded is sent again by the next run): from
the DATA command until the delivery is recorded, a first Ctrl-C is held back (the server's
answer takes at most :data:`CONNECT_TIMEOUT`). An acceptance is recorded all the same and
returned with ``Delivery.interrupted`` set, so the command stops after saying so; any other
answer is :class:`Interrupted`, never tried again. A second Ctrl-C stops at once. A session
that failed or was interrupted is closed without QUIT: the reply read for QUIT could be one
the server still owed to an earlier command (its ``250`` for the message, taken for a
refusal of QUIT).
"""

from __future__ import annotations

import contextlib
import os
import signal
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sources.settings import PASSWORD_VARIABLE, MailSettings

CONNECT_TIMEOUT = 30.0  # seconds for each connection and each reply


@dataclass(frozen=True)
class Delivery:
    """A message the server accepted: how many attempts it took, the recipients it refused
    while it accepted the rest, and whether Ctrl-C was pressed while it answered (the
    delivery is to be recorded, then the command stops)."""

    attempts: int
    refused: tuple[str, ...] = ()
    interrupted: bool = False


class MailFailure(Exception):
    """The digest was not delivered."""


class TemporaryFailure(MailFailure):
    """The server or the network may accept it later: left for the next run."""


class PermanentFailure(MailFailure):
    """Trying again will not help until something is changed (address, password, server)."""


class Interrupted(MailFailure):
    """Ctrl-C while the server was sent the message, which it did not accept (the text says
    what it answered) or did not answer before a second Ctrl-C (it may have accepted it)."""


def read_password(settings: MailSettings) -> str:
    """The password: the environment's, else the first line of ``password_file``."""
    if os.environ.get(PASSWORD_VARIABLE):
        return os.environ[PASSWORD_VARIABLE]
    if settings.password_file is not None:
        try:
            return settings.password_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, UnicodeDecodeError, IndexError) as exc:
            raise PermanentFailure(
                f"cannot read the SMTP password from {settings.password_file} ({exc}); "
                f"put it on the file's first line, or in {PASSWORD_VARIABLE}"
            ) from None
    raise PermanentFailure(
        f"[mail] username is set but no password was given: set {PASSWORD_VARIABLE} "
        "or [mail] password_file"
    )


def send(
    message: EmailMessage,
    settings: MailSettings,
    *,
    record: Callable[[], None],
    sleep: Callable[[float], Any] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """Deliver ``message`` to ``settings.to``; ``record`` is called once the server accepted
    it. Raises :class:`TemporaryFailure`, :class:`PermanentFailure` or :class:`Interrupted`
    (one line each) when no recipient got it."""
    password = read_password(settings) if settings.username else ""
    deadline = clock() + settings.retry_for
    delay, attempts = 1.0, 0
    held = _HeldInterrupt()
    while True:
        attempts += 1
        try:
            refused = _deliver(message, settings, password, held, record)
            return Delivery(attempts, refused, interrupted=held.pressed > 0)
        except KeyboardInterrupt:
            if not held.pressed or held.recorded:  # nothing to know, or known and recorded
                raise
            raise Interrupted(
                f"may have been mailed: stopped before {settings.smtp_host}:{settings.smtp_port} "
                "answered the message (not recorded: the next run sends it again)"
            ) from None
        except MailFailure as exc:
            if held.pressed:  # the server did not take it, and no retry after Ctrl-C
                raise Interrupted(f"not mailed: {exc}") from None
            if isinstance(exc, PermanentFailure):
                raise
            if clock() + delay > deadline:
                raise TemporaryFailure(
                    f"{exc} (tried {attempts} time(s) in {settings.retry_for:g} s; "
                    "the next run tries again)"
                ) from None
            sleep(delay)
            delay = min(delay * 2, 60.0)


class _HeldInterrupt:
    """Ctrl-C held back from the DATA command until the delivery is recorded (see above).

    The first Ctrl-C is noted and the wait goes on: the socket call it broke off is resumed
    (PEP 475), so the answer is read in full. A second one stops at once. Only the main
    thread can handle signals; elsewhere nothing is held.
    """

    def __init__(self) -> None:
        self.pressed = 0
        self.recorded = False  # the server accepted the message and it was recorded
        self._previous: Any = None

    def hold(self) -> None:
        if self._previous is None and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._note)

    def _note(self, signum: int, frame: object) -> None:
        self.pressed += 1
        if self.pressed > 1:
            raise KeyboardInterrupt

    def release(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class _HoldingData:
    """Mixed into the SMTP clients: Ctrl-C is held back from the DATA command on."""

    held: _HeldInterrupt

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        self.held.hold()
        return super().data(msg)  # type: ignore[misc]


class _Client(_HoldingData, smtplib.SMTP):
    pass


class _TLSClient(_HoldingData, smtplib.SMTP_SSL):
    pass


def _deliver(
    message: EmailMessage,
    settings: MailSettings,
    password: str,
    held: _HeldInterrupt,
    record: Callable[[], None],
) -> tuple[str, ...]:
    """One attempt, failures sorted into temporary and permanent; the recipients the
    server refused while it accepted the others."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    try:
        if settings.security == "tls":
            client: _Client | _TLSClient = _TLSClient(
                settings.smtp_host, settings.smtp_port, timeout=CONNECT_TIMEOUT, context=context
            )
        else:
            client = _Client(settings.smtp_host, settings.smtp_port, timeout=CONNECT_TIMEOUT)
        client.held = held
        try:
            client.ehlo()
            if settings.security == "starttls":
                if not client.has_extn("starttls"):
                    raise PermanentFailure(
                        f'{where} does not offer STARTTLS; set [mail] security to "tls" '
                        "if it speaks TLS from the start"
                    )
                client.starttls(context=context)
                client.ehlo()
            if settings.username:
                client.login(settings.username, password)
            refused = client.send_message(message, settings.sender, list(settings.to))
            record()  # accepted: recorded at once, Ctrl-C still held back
            held.recorded = True
            if not held.pressed:  # a goodbye whose answer no longer matters
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    client.quit()
        finally:
            held.release()
            client.close()  # after a failure or Ctrl-C without QUIT (see above)
        # some accepted: delivered (sending again would reach them twice); say who not
        return tuple(f"{a} ({c} {m.decode(errors='replace')})" for a, (c, m) in refused.items())
    except smtplib.SMTPAuthenticationError as exc:
        raise PermanentFailure(
            f"{where} refused the login of {settings.username!r}: {_reply(exc)}; check [mail] "
            f"username and the password ({PASSWORD_VARIABLE} or [mail] password_file)"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        text = ", ".join(
            f"{a}: {c} {m.decode(errors='replace')}" for a, (c, m) in exc.recipients.items()
        )
        if all(400 <= code < 500 for code in codes):
            raise TemporaryFailure(f"{where} deferred every recipient ({text})") from None
        raise PermanentFailure(f"{where} refused the recipients ({text})") from None
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise TemporaryFailure(f"{where} answered {_reply(exc)}") from None
        raise PermanentFailure(f"{where} answered {_reply(exc)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentFailure(f"{where}: {exc}") from None
    except ssl.SSLCertVerificationError as exc:
        raise PermanentFailure(
            f"{where}: its certificate does not check ({exc.verify_message}); "
            "name its authority with [mail] ca_file if it is a private one"
        ) from None
    except (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError, socket.gaierror) as exc:
        raise TemporaryFailure(f"{where}: {type(exc).__name__}: {exc or 'no answer'}") from None
    except ssl.SSLError as exc:
        raise PermanentFailure(f"{where}: TLS failed ({exc.reason or exc})") from None
    except OSError as exc:
        raise TemporaryFailure(f"{where}: {exc.strerror or exc}") from None


def _reply(exc: smtplib.SMTPResponseException) -> str:
    message = exc.smtp_error
    text = message.decode("utf-8", errors="replace") if isinstance(message, bytes) else str(message)
    return f"{exc.smtp_code} {' '.join(text.split())}"
