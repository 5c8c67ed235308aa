"""The parsing processes of a run: started by a fork server, deaf to Ctrl-C, dead with the run.

feedparser is CPU-bound, so a run parses in worker processes. Three things keep them from
outliving or disturbing the run that started them:

* Ctrl-C in a terminal signals the whole process group: the workers ignore SIGINT (the
  fork server already does), so the run alone decides how to stop, and no worker prints a
  traceback;
* a run that ends normally, or by Ctrl-C, shuts its pool down (``run.run``);
* a run that is killed (SIGTERM, SIGKILL) cannot, and nothing in multiprocessing notices:
  each worker holds the fork server's "alive" pipe open, so the fork server outlives the
  run, and the workers wait on their task queue forever. So each worker watches the run's
  process itself (a pidfd on Linux, else a poll every second) and exits when it is gone;
  then the fork server and multiprocessing's resource tracker see their pipes close and
  exit too.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

# What the fork server imports once, before it forks any worker: this module (each worker
# starts in start_worker) and the work the run hands the workers (scoring: parse_and_score,
# use_taxonomy, and through them the parser, the taxonomy's code and the page extractor).
# multiprocessing skips a name that does not import without a word, and every worker would
# then import it again on its own; tests/test_imports.py checks that these names import and
# cover what the workers run.
PRELOAD = (__name__, "sources.follow.scoring")


def parser_pool(
    workers: int, setup: Callable[..., None] | None = None, setup_args: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """Worker processes for parsing, started by a fork server with the parser preloaded.

    Plain ``fork`` would copy a process that already runs threads (asyncio's resolver), which
    can deadlock a child; ``spawn`` would import feedparser and nh3 once per worker. A fork
    server imports them once, and forks clean workers from that. ``setup(*setup_args)`` runs
    once in each worker: what every task needs (the taxonomy) is sent once per worker, not
    pickled again with every task.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=start_worker,
        initargs=(os.getpid(), setup, setup_args),
    )


def start_worker(
    run: int, setup: Callable[..., None] | None = None, setup_args: tuple[Any, ...] = ()
) -> None:
    """Run in each worker before any task: ignore Ctrl-C, exit when the run ``run`` (a
    process id) has ended, then ``setup(*setup_args)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(run,), daemon=True).start()
    if setup is not None:
        setup(*setup_args)


def _exit_with(run: int) -> None:
    try:
        handle = os.pidfd_open(run)
    except ProcessLookupError:  # gone already
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd here: poll
        while _alive(run):
            time.sleep(1.0)
        os._exit(1)
    select.select([handle], [], [])  # readable once the process has ended
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
