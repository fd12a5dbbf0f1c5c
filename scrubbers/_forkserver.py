"""Where cleaning workers come from: a fork server that imported every parser once (the
server), or this very process (a one-shot command). The fork server and every worker are
walled off by `scrubbers._confine`; this module only chooses and starts it."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from multiprocessing import spawn
from multiprocessing.context import ForkContext, ForkServerContext

from scrubbers import _confine

# How the fork server learns the path of this process's main script (see `get_context`).
PARENT_MAIN_VARIABLE = "_LEAKDROP_PARENT_MAIN"

_context: ForkServerContext | ForkContext | None = None
_context_lock = threading.Lock()


def fork_workers_from_this_process() -> None:
    """For a one-shot command (`leakdrop scrub`): fork each worker straight from this
    process instead of from a fork server that first imports every parser. The worker then
    imports only the parser its file needs. Only for a process that holds nothing but the
    files it cleans and runs no other thread: a fork copies its memory into the worker."""
    global _context
    with _context_lock:
        if _context is None:
            _confine.make_undumpable()
            with contextlib.suppress(_confine.ConfinementError):  # each worker reports it
                _confine.prepare_filter()
            _context = multiprocessing.get_context("fork")


def get_context() -> ForkServerContext | ForkContext:
    global _context
    with _context_lock:
        if _context is None:
            _confine.check_sandbox()
            # The server holds every upload in RAM, in clear, while it is processed: no
            # process of its uid (a compromised worker is one) may read its memory either.
            _confine.make_undumpable()
            context = multiprocessing.get_context("forkserver")
            # Workers fork from a server that already imported the parsers: a fork costs
            # milliseconds instead of re-importing pikepdf and Pillow for every file.
            context.set_forkserver_preload(["scrubbers._worker_preload"])
            # multiprocessing (3.11) re-runs this process's main script in every worker it
            # forks: its own "__main__" preload never receives the script's path (the fork
            # server's arguments are filtered on a key the data does not have). Each worker
            # then ran the `leakdrop` script again, argparse and all: 2 to 4 ms of a small
            # image's 5. A worker needs nothing of the main script (its target lives in this
            # module), so the fork server is told the path and marks it as already loaded.
            main_path = spawn.get_preparation_data("worker").get("init_main_from_path")
            if isinstance(main_path, str):
                os.environ[PARENT_MAIN_VARIABLE] = main_path
            _context = context
        return _context
