"""Undoing a response's ``Content-Encoding`` with the size cap applied as bytes are produced. Pure.

A compression bomb is small on the wire and huge decoded: a 2 KB body sent as ``gzip, gzip``
(gzip of a 1 MB gzip of 1 GiB of zeros) decodes to 1 GiB. A decoder that inflates a whole
network chunk and only then compares sizes holds the expansion of that chunk in memory
(httpx's does: 2 GB before the cap was checked). Here every stage of the chain asks zlib for
at most :data:`STEP` bytes at a time (``decompress(data, max_length)``, then its
``unconsumed_tail``), hands them on at once, and counts them; so memory stays below the cap
plus one step per stage, whatever a chunk expands to, and the work stops the moment any stage
passes the cap.

Only what communique advertises is accepted (``Accept-Encoding: gzip, deflate``; ``identity``
is no coding): anything else, or a chain of more than :data:`MAX_CODINGS`, is refused rather
than guessed at.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

MAX_CODINGS = 2  # gzip over gzip is the most any server needs (and more than most send)
STEP = 64 * 1024  # the most one zlib call may produce

_ALIASES = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}


class TooLarge(Exception):
    """A stage of decoding produced more bytes than the cap."""


class BadEncoding(Exception):
    """The body's encoding is not one communique accepts, or the compressed data is corrupt."""


def codings(headers: Sequence[str]) -> list[str]:
    """The codings applied to a body, in the order they were applied (the header's order).

    ``identity`` is dropped; unknown codings and chains longer than :data:`MAX_CODINGS` raise
    :class:`BadEncoding` (with a message naming what was sent).
    """
    found = []
    for header in headers:
        for token in header.split(","):
            name = token.strip().lower()
            if not name or name == "identity":
                continue
            if name not in _ALIASES:
                raise BadEncoding(
                    f"unsupported Content-Encoding {token.strip()[:40]!r} (only gzip and deflate)"
                )
            found.append(_ALIASES[name])
    if len(found) > MAX_CODINGS:
        raise BadEncoding(
            f"Content-Encoding chain of {len(found)} codings ({', '.join(found[:8])}"
            f"{', …' if len(found) > 8 else ''}); at most {MAX_CODINGS} are accepted"
        )
    return found


class BoundedDecoder:
    """``feed`` raw chunks, then ``finish``; ``body()`` is the decoded bytes.

    Every stage (the last one's output is the body) may produce at most ``limit`` bytes in
    all; past that :class:`TooLarge` is raised before more is inflated. Intermediate stages
    are bounded too: a legitimate compressed stream is never larger than what it encodes.
    """

    def __init__(self, applied: Sequence[str], limit: int) -> None:
        self.limit = limit
        # Undo the codings in reverse order of application.
        self._stages = [_Stage(name) for name in reversed(applied)]
        self._produced = [0] * len(self._stages)
        self._raw = 0
        self._chunks: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        """Decode one chunk of the raw body, as far as it goes."""
        self._raw += len(data)
        if self._raw > self.limit:
            raise TooLarge(f"more than {self.limit} bytes on the wire")
        self._push(0, data)

    def finish(self) -> None:
        """The raw body has ended: drain what the stages still hold."""
        for index in range(len(self._stages)):
            self._drain(index, final=True)

    def body(self) -> bytes:
        return b"".join(self._chunks)

    def _push(self, index: int, data: bytes) -> None:
        if index == len(self._stages):
            self._size += len(data)
            if self._size > self.limit:
                raise TooLarge(f"more than {self.limit} bytes decoded")
            if data:
                self._chunks.append(data)
            return
        stage = self._stages[index]
        stage.give(data)
        self._drain(index, final=False)

    def _drain(self, index: int, *, final: bool) -> None:
        stage = self._stages[index]
        while True:
            out = stage.take(STEP, final=final)
            if not out:
                return
            self._produced[index] += len(out)
            if self._produced[index] > self.limit:
                raise TooLarge(f"more than {self.limit} bytes decoded")
            self._push(index + 1, out)


class _Stage:
    """One zlib decoder fed piecemeal and drained at most ``STEP`` bytes per call.

    ``deflate`` is meant to be zlib-wrapped (RFC 9110), but some servers send raw deflate;
    the first two bytes tell which (a zlib header is a multiple of 31 with method 8). A gzip
    body may hold several members one after another; each is decoded in turn, and anything
    else after the end of the stream is ignored.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._pending = b""  # input not yet handed to zlib
        self._z: zlib._Decompress | None = (
            zlib.decompressobj(16 + zlib.MAX_WBITS) if name == "gzip" else None
        )

    def give(self, data: bytes) -> None:
        self._pending += data

    def take(self, most: int, *, final: bool) -> bytes:
        if self._z is None:  # deflate, wrapper not yet known
            if len(self._pending) < 2 and not final:
                return b""
            self._z = zlib.decompressobj(
                zlib.MAX_WBITS if _zlib_header(self._pending) else -zlib.MAX_WBITS
            )
        while True:
            data, self._pending = self._pending, b""
            if self._z.eof:
                if self.name == "gzip" and not final and b"\x1f\x8b".startswith(data):
                    self._pending = data  # perhaps the start of another member
                    return b""
                if self.name != "gzip" or not data.startswith(b"\x1f\x8b"):
                    return b""  # anything after the end of the stream is ignored, as httpx does
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the next gzip member
            try:
                out = self._z.decompress(data, most)
            except zlib.error as exc:
                raise BadEncoding(f"corrupt {self.name} body ({exc})") from None
            self._pending = self._z.unused_data if self._z.eof else self._z.unconsumed_tail
            if out or not (self._z.eof and self._pending):
                return out


def _zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
