"""Headless Debian chromium for the browser tests: started, driven over DevTools, ended.

Shared by ``test_digest_browser.py`` and ``test_accessibility.py``; ``conftest.py`` makes the
``browser`` fixture available to every test module. Each module that uses it starts its own
chromium, with a fresh profile (and HOME) under the test's temporary directory, no host name
resolution and no background networking, as its own process group, ended whatever happens.
With chromium missing the tests are skipped, or fail when ``CI`` is set: CI installs it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cdp import CDP, CDPError

STARTUP_TIMEOUT = 10.0  # seconds for chromium to open its DevTools port
PAGE_TIMEOUT = 10.0  # seconds for everything about one page, screenshot included
FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers have a small /dev/shm
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--password-store=basic",
    # no network even if the page asked; only the tests' own loopback servers, by address
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-port=0",  # chromium picks a free port and writes DevToolsActivePort
)


def in_ci() -> bool:
    """CI installs every tool the tests need: there, a missing one is a failure, not a skip."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def chromium_or_skip() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = (
            "chromium is not installed (apt-get install -y chromium); the browser tests need it"
        )
        if in_ci():
            pytest.fail(f"{reason}, and CI is set", pytrace=False)
        pytest.skip(reason)
    return path


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End chromium's whole process group (browser, zygotes, renderers): TERM, then KILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):  # a leader that ignored TERM, or stragglers
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=5)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CDP]:
    """Headless chromium with a fresh profile, as this test module's own subprocess group."""
    executable = chromium_or_skip()
    root = tmp_path_factory.mktemp("chromium")
    profile, home = root / "profile", root / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),  # chromium writes ~/.pki and more: never the real HOME
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "LANG": "C.UTF-8",
    }
    log_path = root / "chromium.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    client = None
    try:
        active_port = profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            lines = active_port.read_text().split("\n") if active_port.exists() else []
            if len(lines) >= 2 and lines[0].isdigit() and lines[1].startswith("/devtools/"):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(
                    f"chromium did not open its DevTools port within {STARTUP_TIMEOUT} s "
                    f"(exit status {process.poll()}); its log ends:\n{tail}",
                    pytrace=False,
                )
            time.sleep(0.05)
        client = CDP(
            f"ws://127.0.0.1:{lines[0]}{lines[1]}", deadline=time.monotonic() + PAGE_TIMEOUT
        )
        yield client
    finally:
        if client is not None:
            client.close()
        _stop(process)


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    scale: float
    mobile: bool
    dark: bool = False


def describe(event: dict[str, Any]) -> str | None:
    """A console message, an exception, or a log entry worth failing for; else None."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled":  # the pages have no scripts: any call is wrong
        args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
        return f"console.{params['type']}: {args}"
    if method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        return f"exception: {details.get('exception', {}).get('description') or details['text']}"
    if method == "Log.entryAdded" and params["entry"]["level"] in ("warning", "error"):
        entry = params["entry"]
        return f"log {entry['level']} ({entry['source']}): {entry['text']} {entry.get('url', '')}"
    return None


@dataclass(frozen=True)
class Tab:
    """One page opened by :func:`open_tab`: its DevTools session, and where its events start."""

    cdp: CDP
    session: str
    mark: int  # index into ``cdp.events`` of the first event after navigation began

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.cdp.call(method, params, session=self.session)

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """The value of ``expression`` in the page, by DevTools (the page's CSP does not
        apply to DevTools' own evaluation); an exception fails the test."""
        evaluated = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
        )
        assert "exceptionDetails" not in evaluated, evaluated["exceptionDetails"]
        return evaluated["result"].get("value")

    def events(self) -> list[dict[str, Any]]:
        """Every event of this page since it began to load, late ones included."""
        self.call("Runtime.evaluate", {"expression": "1"})  # a round trip: flush late events
        return [e for e in self.cdp.events[self.mark :] if e.get("sessionId") == self.session]


@contextlib.contextmanager
def open_tab(cdp: CDP, url: str, viewport: Viewport) -> Iterator[Tab]:
    """``url`` loaded in a new tab at ``viewport``'s size and colour scheme; closed after."""
    cdp.deadline = time.monotonic() + PAGE_TIMEOUT
    target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for domain in ("Runtime", "Log", "Network", "Page"):
            cdp.call(f"{domain}.enable", session=session)
        metrics = {
            "width": viewport.width,
            "height": viewport.height,
            "deviceScaleFactor": viewport.scale,
            "mobile": viewport.mobile,
        }
        cdp.call("Emulation.setDeviceMetricsOverride", metrics, session=session)
        scheme = "dark" if viewport.dark else "light"
        cdp.call(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
            session=session,
        )
        mark = len(cdp.events)  # about:blank's own events are not the page's
        navigated = cdp.call("Page.navigate", {"url": url}, session=session)
        assert "errorText" not in navigated, f"chromium could not open {url}: {navigated}"
        cdp.wait_for("Page.loadEventFired", session=session, since=mark)
        yield Tab(cdp, session, mark)
    finally:
        with contextlib.suppress(CDPError):  # best effort: the fixture ends chromium anyway
            cdp.call("Target.closeTarget", {"targetId": target})
