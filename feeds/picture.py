"""An article's picture: which one it is, where it is published and what type it has.

Readers show a picture beside an entry only when the feed names it (Media RSS ``media:thumbnail``
in Atom and RSS, ``image`` in JSON Feed) and social sites only when the page does
(``og:image``); none of them look inside the content. So each article gets one picture: the
``image`` its front matter names, else the first ``<img>`` of its body. Its URL is always
absolute, because a reader resolves a relative one against its own host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urljoin, urlsplit

# Picture types by file extension: a fixed table, so the output never depends on the
# machine's /etc/mime.types. Only these are accepted for a file named in front matter.
IMAGE_TYPES = {
    ".avif": "image/avif",
    ".gif": "image/gif",
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}
# What each picture type is called in messages, and the extension to suggest for it.
PICTURE_KINDS = {
    ".avif": "AVIF",
    ".gif": "GIF",
    ".jpeg": "JPEG",
    ".jpg": "JPEG",
    ".png": "PNG",
    ".svg": "SVG",
    ".webp": "WebP",
}
_EXTENSION = {
    "AVIF": ".avif",
    "GIF": ".gif",
    "JPEG": ".jpg",
    "PNG": ".png",
    "SVG": ".svg",
    "WebP": ".webp",
}
HEAD_BYTES = 4096  # enough to recognise every type (an AVIF's ftyp box lists its brands first)
# An SVG as text: optional XML declaration, comments, processing instructions and a DOCTYPE
# (its internal subset too), then an <svg> root, with or without a prefix.
_SVG_START = re.compile(
    r"^\s*(?:<\?[^>]*\?>\s*|<!--.*?-->\s*|<!DOCTYPE(?:[^\[>]|\[[^\]]*\])*>\s*)*"
    r"<(?:[A-Za-z_][\w.-]*:)?svg[\s/>]",
    re.DOTALL,
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Characters a URL may carry as they are; spaces and non-ASCII letters get percent-encoded.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


def is_web_url(value: str) -> bool:
    """An absolute http(s) URL with a host: the only kind every reader can fetch."""
    parts = urlsplit(value)
    return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)


def check_front_matter_image(value: str, folder: str) -> str:
    """The front-matter ``image`` in a normal form, or :class:`ValueError` saying what to write.

    ``value`` is either an http(s) URL or a path inside the article's own folder (``folder``,
    shown in messages), where the files published beside the article live. A path that leaves
    that folder, an absolute path and other URL schemes are refused: the picture must be
    something the site publishes or a reader can fetch.
    """
    if _SCHEME.match(value):
        if not is_web_url(value):
            raise ValueError(
                f"image {value!r} is not an http(s) URL; give an https:// address "
                f"or the name of a picture file in {folder}"
            )
        return value
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value:
        raise ValueError(
            f"image {value!r} must name a file in the article's folder {folder} "
            "(e.g. image: map.png) or be an http(s) URL"
        )
    if any(part.startswith((".", "_")) for part in path.parts):
        raise ValueError(
            f"image {value!r} is a hidden name (starting with '.' or '_'), which is never "
            "published; rename the file"
        )
    if path.suffix.lower() not in IMAGE_TYPES:
        kinds = ", ".join(sorted(IMAGE_TYPES))
        raise ValueError(f"image {value!r} is not a picture file; use one of {kinds}")
    return path.as_posix()


def image_url(image: str, page_url: str) -> str:
    """The absolute URL of a front-matter ``image``: a URL as given, a file beside the page."""
    if is_web_url(image):
        return web_url(image)
    return urljoin(page_url, quote(image, safe="/"))


def web_url(url: str) -> str:
    """``url`` with spaces and non-ASCII characters percent-encoded, as URL attributes need."""
    return quote(url, safe=_URL_SAFE)


def media_type(url: str) -> str | None:
    """The picture's media type from its extension, or None when the URL does not say."""
    return IMAGE_TYPES.get(PurePosixPath(urlsplit(url).path).suffix.lower())


class _FirstImage(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.src: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.src is None and tag == "img":
            src = dict(attrs).get("src") or ""
            if is_web_url(src.strip()):
                self.src = web_url(src.strip())


def first_image(html: str) -> str | None:
    """The ``src`` of the first ``<img>`` with an http(s) URL in sanitised, absolute HTML."""
    parser = _FirstImage()
    parser.feed(html)
    parser.close()
    return parser.src


def site_path(url: str, base_url: str) -> str | None:
    """The output path ``url`` names on the site at ``base_url`` (``map.png`` beside the
    article ``x`` is ``x/map.png``), or None when it is on another host or above the site.

    Both URLs are percent-encoded (see :func:`web_url`, config's ``normalise_base_url``), so
    the paths compare as they are and only the rest is decoded into a file name; a query or
    fragment still names the same file.
    """
    parts, base = urlsplit(url), urlsplit(base_url)
    if (parts.scheme.lower(), parts.netloc.lower()) != (base.scheme, base.netloc):
        return None
    if not parts.path.startswith(base.path):
        return None
    return unquote(parts.path[len(base.path) :]) or None


def told_by_head(name: str) -> bool:
    """Whether the first bytes of the picture file ``name`` tell if it is what its extension
    says. An SVG is not checked by its head: every one published is parsed whole (svg.py),
    which refuses one that is not SVG."""
    suffix = PurePosixPath(name).suffix.lower()
    return suffix in PICTURE_KINDS and suffix != ".svg"


def sniff(head: bytes) -> str | None:
    """What a picture file is, from its first bytes (:data:`HEAD_BYTES` are plenty): one of
    the names in :data:`PICTURE_KINDS`, or None when it is none of them.

    The extension decides the media type feeds announce, so a file must be what its name
    says: a text file linked as ``map.png`` would be announced as ``image/png``.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp" and {b"avif", b"avis"} & set(_brands(head)):
        return "AVIF"
    if _SVG_START.match(head.decode("utf-8", errors="replace").removeprefix("\ufeff")):
        return "SVG"
    return None


def _brands(head: bytes) -> list[bytes]:
    """The major and compatible brands of an ISO media file's leading ``ftyp`` box."""
    end = min(int.from_bytes(head[:4], "big"), len(head))
    return [head[8:12], *(head[at : at + 4] for at in range(16, end - 3, 4))]


def mismatch(name: str, head: bytes, named_in: str = "the image: line") -> str | None:
    """Why the picture file ``name`` (with its first bytes ``head``) is not what its
    extension says, and what to do (renaming means changing ``named_in`` too); None when it
    is. For an SVG, see svg.py as well."""
    expected = PICTURE_KINDS[PurePosixPath(name).suffix.lower()]
    actual = sniff(head)
    if actual == expected:
        return None
    if actual is not None:
        better = PurePosixPath(name).with_suffix(_EXTENSION[actual]).name
        return f"is {a_kind(actual)} picture, not {expected}; rename it {better} (and {named_in})"
    return f"is not {a_kind(expected)} picture ({_what_it_is(head)}); put the picture itself there"


@dataclass(frozen=True, order=True)
class Unannounced:
    """An article's first inline picture, a file of the site, that is not what its extension
    says: feeds would announce its type from the extension, so the article is announced
    without a picture. One warning line; the file and the text linking it are still published
    (a picture in the text is content, not the picture the article declares)."""

    path: Path  # the picture file as found (in the article's folder or the static folder)
    reason: str  # what :func:`mismatch` says: "is not a PNG picture (it is text); put …"
    article: Path

    def __str__(self) -> str:
        return f"{self.path} {self.reason}; not announced as the picture of {self.article}"


def a_kind(kind: str) -> str:
    """``"a PNG"``, ``"an SVG"``: the article as the name is spoken."""
    return f"an {kind}" if kind in {"AVIF", "SVG"} else f"a {kind}"


def _what_it_is(head: bytes) -> str:
    if not head:
        return "the file is empty"
    if head[4:8] == b"ftyp":
        brand = head[8:12].decode("ascii", errors="replace").strip()
        return f"it is an ISO media file of brand {brand!r}, not a picture feeds can show"
    text = head.decode("utf-8", errors="replace")
    if "\x00" in text or text.count("\ufffd") > 1:  # one: a character cut at the head's end
        return "its bytes are none of PNG, JPEG, GIF, WebP, AVIF or SVG"
    return "it is text"
