"""Which characters a fetched web page's bytes are. Pure.

A page says its encoding in up to three places, and they disagree often enough to matter:
a byte-order mark, the HTTP ``Content-Type`` header, and a ``<meta charset>`` (or
``http-equiv``) in its head. An HTML parser given bytes sees only the last, and guesses
Latin-1 without it, so a UTF-8 page whose charset is only in the header was stored as
"europÃ©enne" and could not be found by searching for "européenne". The bytes are therefore
decoded here, the way browsers do (the WHATWG Encoding Standard, roughly), before any parser
sees them:

1. a byte-order mark (UTF-8, UTF-16LE, UTF-16BE);
2. the HTTP header's ``charset``;
3. a ``<meta charset>`` or ``<meta http-equiv="Content-Type">`` before ``<body``;
4. UTF-8, if the bytes are valid UTF-8;
5. windows-1252, which every byte sequence is.

Labels are read as browsers read them: ``iso-8859-1`` and ``us-ascii`` mean windows-1252, and
a ``<meta>`` that says UTF-16 means UTF-8 (a document whose head is readable as ASCII is not
UTF-16). A label that is not a web encoding (``utf-7``, Python's ``rot13`` or ``zlib``) is
ignored, as a browser ignores it. One exception to the order, the rule communique already
applies to feeds: a single-byte declaration (``iso-8859-1``, ``windows-1252``, ``us-ascii``)
on bytes that are valid UTF-8 with non-ASCII text is UTF-8. Servers that add a default
``charset=iso-8859-1`` to every page are common; real Latin-1 text with accents is almost
never valid UTF-8, so the rule does not misread it.
"""

from __future__ import annotations

import codecs
import re

HEAD_BYTES = 64 * 1024  # a <meta> declaration is looked for in this much of the page
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# labels Python does not know, or reads differently from a browser, as Python codec names
_ALIASES = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "x-sjis": "cp932",
    "shift_jis": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "euc_kr": "cp949",
    "utf-16": "utf-16-le",
}
# the web's encodings (WHATWG), by their Python codec names; any other label is ignored
_WEB_ENCODINGS = frozenset(
    {
        "utf-8",
        "utf-16-le",
        "utf-16-be",
        "cp866",
        *(f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)),
        "koi8-r",
        "koi8-u",
        "mac-roman",
        "mac-cyrillic",
        "cp874",
        *(f"cp{n}" for n in range(1250, 1259)),
        "gb18030",
        "big5hkscs",
        "euc_jp",
        "iso2022_jp",
        "cp932",
        "cp949",
    }
)
_SINGLE_BYTE_DECLARED = frozenset({"cp1252", "iso8859-1", "ascii"})  # before aliasing
_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.IGNORECASE)
_META = re.compile(rb"<meta\b([^>]*)>", re.IGNORECASE)
_BODY = re.compile(rb"<body\b", re.IGNORECASE)
_ATTRIBUTE = re.compile(
    rb"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"""
)


def decode_page(body: bytes, content_type: str | None) -> str:
    """The text of the page ``body``, served with the HTTP ``content_type`` (None: no header)."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    declared = header_charset(content_type)
    if declared is None:
        declared = meta_charset(body)
    if declared is not None:
        label, encoding = declared
        if label in _SINGLE_BYTE_DECLARED and not body.isascii():
            text = _as_utf8(body)
            if text is not None:
                return text
        return body.decode(encoding, errors="replace")
    text = _as_utf8(body)
    return text if text is not None else body.decode("cp1252", errors="replace")


def header_charset(content_type: str | None) -> tuple[str, str] | None:
    """``(label's codec, codec to decode with)`` of the header's ``charset``; None when it has
    none a browser would use."""
    match = _CHARSET.search(content_type or "")
    return web_encoding(match.group(1)) if match else None


def meta_charset(body: bytes) -> tuple[str, str] | None:
    """The encoding the page's head declares in a ``<meta>``, as :func:`header_charset`.

    Only the head counts (what comes before ``<body``, within :data:`HEAD_BYTES`): a
    ``<meta>`` quoted in an article's text declares nothing.
    """
    head = body[:HEAD_BYTES]
    start = _BODY.search(head)
    if start is not None:
        head = head[: start.start()]
    for tag in _META.finditer(head):
        attributes = {  # one of the three value groups matched; the others are empty
            name.lower(): b"".join(values) for name, *values in _ATTRIBUTE.findall(tag.group(1))
        }
        label = attributes.get(b"charset")
        if label is None and attributes.get(b"http-equiv", b"").strip().lower() == b"content-type":
            match = _CHARSET.search(attributes.get(b"content", b"").decode("ascii", "replace"))
            label = match.group(1).encode("ascii") if match else None
        if label is None:
            continue
        found = web_encoding(label.decode("ascii", "replace"))
        if found is None:
            continue
        if found[1].startswith("utf-16"):  # a head readable as ASCII is not UTF-16
            return ("utf-8", "utf-8")
        return found
    return None


def web_encoding(label: str) -> tuple[str, str] | None:
    """``(the label's Python codec, the codec a browser decodes it with)``, or None for a
    label that names no web encoding."""
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        name = label.strip().lower()
    encoding = _ALIASES.get(name, name)
    return (name, encoding) if encoding in _WEB_ENCODINGS else None


def _as_utf8(body: bytes) -> str | None:
    """The bytes read as UTF-8, or None when they are not valid UTF-8."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None
