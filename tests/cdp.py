"""Just enough of the Chrome DevTools Protocol, over just enough of WebSocket, for the tests.

Standard library only. The client speaks RFC 6455 as a client must (masked frames) but only
what CDP needs: text frames out; text, continuation, ping and close frames in. CDP over one
browser-level socket: pages are attached with ``flatten`` sessions, so every command and event
carries a ``sessionId`` and one socket serves all pages.

Every wait is bounded by the client's deadline: a hung browser fails the test, never hangs it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import struct
import time
from typing import Any
from urllib.parse import urlsplit

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3


class CDPError(RuntimeError):
    """A protocol error, an error response, or a timeout."""


class WebSocket:
    """A minimal blocking WebSocket client (ws:// only)."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "ws" or parts.hostname is None or parts.port is None:
            raise CDPError(f"unsupported WebSocket URL {url!r}")
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        request = (
            f"GET {parts.path or '/'} HTTP/1.1\r\n"
            f"Host: {parts.hostname}:{parts.port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode("ascii"))
        self._buffer = b""
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        status, *lines = head.split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode("ascii")).digest()).decode()
        if " 101 " not in f"{status} " or headers.get("sec-websocket-accept") != accept:
            raise CDPError(f"WebSocket handshake with {url} failed: {head!r}")

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise CDPError("the browser closed the DevTools connection")
        self._buffer += chunk

    def _read_exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])  # FIN + opcode
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])  # MASK bit: clients always mask
        elif length < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_text(self, text: str) -> None:
        self._send_frame(0x1, text.encode("utf-8"))

    def recv_text(self, timeout: float) -> str:
        """The next whole text message; answers pings, rejects binary frames."""
        self.sock.settimeout(max(timeout, 0.001))
        fragments: list[bytes] = []
        while True:
            first, second = self._read_exactly(2)
            fin, opcode = first & 0x80, first & 0x0F
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read_exactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read_exactly(8))
            mask = self._read_exactly(4) if second & 0x80 else None
            payload = self._read_exactly(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise CDPError("the browser closed the DevTools connection")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode not in (0x0, 0x1):
                raise CDPError(f"unexpected WebSocket opcode {opcode}")
            fragments.append(payload)
            if fin:
                return b"".join(fragments).decode("utf-8")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(0x8, struct.pack("!H", 1000))
        self.sock.close()


class CDP:
    """One browser-level DevTools connection: commands, and every event received, in order."""

    def __init__(self, url: str, *, deadline: float) -> None:
        self.deadline = deadline  # time.monotonic() by which everything must be done
        self.ws = WebSocket(url, timeout=self._remaining())
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._responses: dict[int, dict[str, Any]] = {}

    def _remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CDPError("DevTools deadline passed")
        return left

    def _send(self, method: str, params: dict[str, Any] | None, session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send_text(json.dumps(message))
        return self._next_id

    def _pump(self) -> None:
        """Read one message: a response is filed by id, an event appended to ``events``."""
        try:
            message = json.loads(self.ws.recv_text(self._remaining()))
        except TimeoutError as error:
            raise CDPError("timed out waiting for the browser") from error
        if "id" in message:
            self._responses[message["id"]] = message
            return
        self.events.append(message)
        if message.get("method") == "Page.javascriptDialogOpening":
            # An open dialog blocks the page: record it (above) and dismiss it at once.
            self._send("Page.handleJavaScriptDialog", {"accept": False}, message.get("sessionId"))

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        """Send a command and wait for its result; an error response raises."""
        ident = self._send(method, params, session)
        while ident not in self._responses:
            self._pump()
        response = self._responses.pop(ident)
        if "error" in response:
            raise CDPError(f"{method} failed: {response['error']}")
        return response.get("result", {})

    def wait_for(
        self, method: str, *, session: str | None = None, since: int = 0
    ) -> dict[str, Any]:
        """The first event ``method`` of ``session`` from ``events[since]`` on, waiting if need be."""
        seen = since
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event.get("params", {})
            seen = len(self.events)
            self._pump()

    def close(self) -> None:
        self.ws.close()
