"""How a use case refuses what it was asked: in one line, and nothing is written.

The application layer knows no click. The command line says :class:`Refused` as
``communique: <message>`` and :class:`BadOption` as its usage line naming the option (``see
communique <command> --help``), both with exit code 2.
"""

from __future__ import annotations


class Refused(Exception):
    """Bad input that is no file's line: a source not subscribed, an item not stored."""


class BadOption(Exception):
    """A command-line value the use case cannot take; ``option`` names it (None: the
    command as a whole, such as ``mail`` without ``[mail] to``)."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option
