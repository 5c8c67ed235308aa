"""`communique serve`: feed media types, validators, 304s, and nothing outside the output dir."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from feeds.serve import make_server


@pytest.fixture
def server(published):
    httpd = make_server(published.public, "127.0.0.1", 0, verbose=False)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield httpd.server_address[1], published
    httpd.shutdown()
    httpd.server_close()


def get(port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/feed.json", "application/feed+json; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/norway/", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/tags/enlargement/atom.xml", "application/atom+xml; charset=utf-8"),
    ],
)
def test_media_types(server, path, media_type):
    port, _ = server
    response, body = get(port, path)
    assert response.status == 200
    assert response.getheader("Content-Type") == media_type
    assert int(response.getheader("Content-Length")) == len(body)


def test_etag_and_last_modified_give_304(server):
    port, site = server
    response, body = get(port, "/atom.xml")
    etag, last_modified = response.getheader("ETag"), response.getheader("Last-Modified")
    assert etag.startswith('"') and last_modified.endswith("GMT")
    assert body == (site.public / "atom.xml").read_bytes()
    assert get(port, "/atom.xml", {"If-None-Match": etag})[0].status == 304
    assert get(port, "/atom.xml", {"If-None-Match": f'"other", {etag}'})[0].status == 304
    assert get(port, "/atom.xml", {"If-Modified-Since": last_modified})[0].status == 304
    not_modified, empty = get(port, "/atom.xml", {"If-None-Match": etag})
    assert empty == b"" and not_modified.getheader("ETag") == etag
    # If-None-Match wins over If-Modified-Since (RFC 9110)
    assert (
        get(port, "/atom.xml", {"If-None-Match": '"stale"', "If-Modified-Since": last_modified})[
            0
        ].status
        == 200
    )
    assert (
        get(port, "/atom.xml", {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0].status
        == 200
    )


def test_republishing_unchanged_keeps_validators(server):
    port, site = server
    os.utime(site.public / "rss.xml", (1_000_000_000, 1_000_000_000))  # a publish long ago
    before = get(port, "/rss.xml")[0]
    site.publish()
    after = get(port, "/rss.xml")[0]
    assert before.getheader("ETag") == after.getheader("ETag")
    assert before.getheader("Last-Modified") == after.getheader("Last-Modified")


def test_head_404_redirect_and_no_escape(server):
    port, site = server
    head, body = get(port, "/atom.xml", method="HEAD")
    assert head.status == 200 and body == b""
    assert get(port, "/missing.xml")[0].status == 404
    redirect = get(port, "/norway")[0]
    assert redirect.status == 301 and redirect.getheader("Location") == "/norway/"
    (site.root / "secret.txt").write_text("secret")
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/.communique", "/..%2fsecret.txt"):
        assert get(port, path)[0].status == 404, path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(directory: Path, cwd: Path | None = None) -> Iterator[tuple[int, str]]:
    """``communique serve --dir DIRECTORY`` as a real process: ``(port, its banner line)``."""
    port = free_port()
    command = Path(sys.executable).parent / "communique"
    process = subprocess.Popen(
        [str(command), "serve", "--dir", str(directory), "--port", str(port), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
    )
    try:
        yield port, process.stdout.readline().decode()
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_serve_command_binds_loopback_and_serves(published):
    port = free_port()
    command = Path(sys.executable).parent / "communique"
    process = subprocess.Popen(
        [str(command), "--config", str(published.config), "serve", "--port", str(port), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                response, _ = get(port, "/feed.json")
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)
        assert response.status == 200
        assert response.getheader("Content-Type").startswith("application/feed+json")
        assert f"http://127.0.0.1:{port}/" in process.stdout.readline().decode()
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_a_site_under_a_path_is_served_under_that_path(published):
    httpd = make_server(published.public, "127.0.0.1", 0, prefix="/blog/", verbose=False)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        port = httpd.server_address[1]
        assert get(port, "/blog/atom.xml")[0].status == 200
        assert get(port, "/blog/style.css")[0].status == 200
        root = get(port, "/")[0]
        assert root.status == 301 and root.getheader("Location") == "/blog/"
        assert get(port, "/atom.xml")[0].status == 404
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_serve_uses_the_path_the_site_was_published_for(site):
    site.config.write_text(
        site.config.read_text().replace("https://notes.example.org/", "https://example.org/blog/")
    )
    site.article("2025-01-01-a.md", "---\ntitle: A\n---\nBody.\n")
    site.publish(
        "--base-url", "http://127.0.0.1:9/"
    )  # a preview at the root, whatever the config says
    assert (site.public / ".communique").read_text().endswith("base_url = http://127.0.0.1:9/\n")
    with serving(site.public, cwd=site.root.parent) as (port, banner):
        assert f"http://127.0.0.1:{port}/ " in banner
        assert get(port, "/a/")[0].status == 200


def test_a_busy_port_is_one_line_and_exit_code_2(published):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = published.run("serve", "--port", str(port))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"communique: cannot listen on 127.0.0.1:{port} (Address already in use); try another --port"
    ]


def test_odd_paths_are_404_not_crashes(server):
    port, _ = server
    assert get(port, "//")[0].status == 200  # the root, however many slashes
    for path in ("/" + "a" * 5000, "/" + "a/" * 3000, "/%00", "/a%2f..%2f..%2fetc/passwd"):
        assert get(port, path)[0].status in (404, 301), path


def test_serve_command_mounts_a_published_path_prefix(site):
    site.config.write_text(
        site.config.read_text().replace(
            "https://notes.example.org/", "https://example.org/my%20blog/"
        )
    )
    site.article("2025-01-01-a.md", "---\ntitle: A\n---\nBody.\n")
    site.publish()
    with serving(site.public) as (port, banner):
        assert f"http://127.0.0.1:{port}/my%20blog/" in banner
        assert get(port, "/my%20blog/atom.xml")[0].status == 200
        assert get(port, "/my%20blog/a/")[0].status == 200
        root = get(port, "/")[0]
        assert root.status == 301 and root.getheader("Location") == "/my%20blog/"
