"""A small internet for tests: a network namespace with a public address, private ones, names.

The network rule (``sources/network.py``) tells a public feed from an intranet one by the
address it answers from, so testing it needs a server on a *public* address, and names that
resolve to chosen addresses, on a machine with no internet. Inside a new network and mount
namespace (``unshare --net --mount``, as root: CI runs as root) this puts 93.184.216.34 (a
global address), 10.20.30.40 (a private one), 169.254.169.254 (a cloud metadata service's),
``fd00::1`` and the loopback addresses on ``lo``, and writes an ``/etc/hosts`` seen only
inside, naming them. Nothing in communique is mocked: the resolver, the sockets and the
servers are real; only where the addresses live is staged.

``run_inside(function, tmp_path)`` runs a module-level function of a test module in a new
process inside such a namespace and fails the test with its traceback if it raises, so
the assertions stay in the test module, next to the test.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

PUBLIC = "93.184.216.34"  # a global address (example.com's, once), on lo inside only
INTRANET = "10.20.30.40"  # an RFC 1918 address: an intranet host
METADATA = "169.254.169.254"  # where cloud providers serve instance credentials
ULA = "fd00::1"  # an IPv6 unique-local address
HOSTS = f"""\
127.0.0.1 localhost
::1 localhost
{PUBLIC} news.example
{PUBLIC} mixed.example
127.0.0.1 mixed.example
127.0.0.1 sneaky.example
{INTRANET} intranet.example
{METADATA} metadata.example
"""


def unavailable() -> str | None:
    """Why no namespace can be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    for tool in ("unshare", "ip", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux, iproute2)"
    return None


def run_inside(function: Callable[[Path], None], tmp_path: Path) -> None:
    """Run ``function(tmp_path)`` inside a fresh namespace; fail with its traceback."""
    reason = unavailable()
    if reason:
        pytest.fail(f"cannot stage the network: {reason}", pytrace=False)
    command = [
        "unshare", "--net", "--mount", "--propagation", "private",
        sys.executable, __file__, function.__module__, function.__name__, str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        pytest.fail(
            f"inside the namespace, {function.__name__} failed:\n{done.stdout}{done.stderr}",
            pytrace=False,
        )


def _stage(tmp_path: Path) -> None:
    """Inside the new namespaces: bring up lo with every address, and our /etc/hosts."""
    commands = [["ip", "link", "set", "lo", "up"]]
    for address in (f"{PUBLIC}/32", f"{INTRANET}/32", f"{METADATA}/32"):
        commands.append(["ip", "addr", "add", address, "dev", "lo"])
    commands.append(["ip", "-6", "addr", "add", f"{ULA}/128", "dev", "lo"])
    hosts = tmp_path / ".netns-hosts"
    hosts.write_text(HOSTS, encoding="utf-8")
    commands.append(["mount", "--bind", str(hosts), "/etc/hosts"])
    for command in commands:
        subprocess.run(command, check=True, capture_output=True)


if __name__ == "__main__":
    module_name, function_name, where = sys.argv[1:4]
    sys.path.insert(0, str(Path(__file__).parent))
    sys.path.insert(1, str(Path(__file__).parents[1]))
    try:
        _stage(Path(where))
        getattr(importlib.import_module(module_name), function_name)(Path(where))
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
