"""The one error type a user must fix: bad input, reported as ``path:line: message``.

Every loader raises :class:`InputError` instead of letting a library exception escape, so the
command line can print one clear line and exit with code 2 without writing anything.
"""

from __future__ import annotations

import re
from pathlib import Path


class InputError(Exception):
    """Bad input in a file the user controls (config, article, plain-text post)."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        return f"{where}: {self.message}"


def line_of_key(text: str, key: str, *, section: str | None = None) -> int | None:
    """The line on which ``key`` is assigned in YAML or TOML ``text``, if it can be found.

    YAML and TOML parsers give line numbers for syntax errors but not for values that parse
    fine and are wrong (a relative URL, an unknown timezone). A textual search is enough to
    point the user at the right line; ``section`` restricts the search to one TOML table.
    """
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*[:=]")
    in_section = section is None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if section is not None and stripped.startswith("["):
            in_section = stripped.strip("[] ") == section
            continue
        if in_section and pattern.match(line):
            return number
    return None


def toml_error(exc: Exception, *, first_line: int = 1) -> tuple[int | None, str]:
    """``(line in the file, message without tomllib's own position)`` for a TOML syntax error.

    ``first_line`` is where the TOML text starts in the file (2 for front matter after ``+++``).
    """
    text = str(exc)
    match = re.search(r"\s*\(at line (\d+), column \d+\)", text)
    if not match:
        return None, text
    return int(match.group(1)) + first_line - 1, text.replace(match.group(0), "")


def decode_utf8(data: bytes, path: Path | str) -> str:
    """``data`` as UTF-8 text (a BOM is kept), or an :class:`InputError` at the first bad byte.

    Editors can jump to a line; "not UTF-8" alone leaves the author searching the whole file
    for one Windows-1252 quote. The column counts characters, as editors do.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line_start = data.rfind(b"\n", 0, start) + 1
        line = data.count(b"\n", 0, start) + 1
        column = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
        raise InputError(
            path,
            line,
            f"not UTF-8 (byte 0x{data[start]:02x} at column {column}); save the file as UTF-8",
        ) from None
