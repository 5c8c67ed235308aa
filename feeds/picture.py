"""An article's picture: which one it is, where it is published and what type it has.

Readers show a picture beside an entry only when the feed names it (Media RSS ``media:thumbnail``
in Atom and RSS, ``image`` in JSON Feed) and social sites only when the page does
(``og:image``); none of them look inside the content. So each article gets one picture: the
``image`` its front matter names, else the first ``<img>`` of its body. Its URL is always
absolute, because a reader resolves a relative one against its own host.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import quote, urljoin, urlsplit

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
