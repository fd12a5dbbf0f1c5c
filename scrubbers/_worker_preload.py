"""Imported once by the fork server so that each worker starts with the parsers loaded."""

# Imported by every worker as it unpickles its process object: once, here.
import multiprocessing.popen_forkserver  # noqa: F401
import os
import sys

from scrubbers import _confine
from scrubbers import _core as _core
from scrubbers._forkserver import PARENT_MAIN_VARIABLE
from scrubbers._registry import load_all

# Each worker skips re-running the parent's main script when this process's main module
# already bears its path (multiprocessing.spawn's check; why: scrubbers._forkserver).
_parent_main = os.environ.pop(PARENT_MAIN_VARIABLE, None)
if _parent_main is not None:
    sys.modules["__main__"].__file__ = _parent_main

# The fork server is started by exec, which makes it dumpable again: it holds no file, but
# every worker is a copy of its memory until it sets its own walls.
_confine.make_undumpable()

try:
    # Loaded here, not in each worker: the binding finds and loads libseccomp (ctypes), and
    # the rules every worker shares are built once.
    _confine.prepare_filter()
except _confine.ConfinementError:  # pragma: no cover - each worker then reports it
    pass

try:
    # Every parser (pikepdf, Pillow, pillow-heif, nh3, ...) imported once, in the fork server.
    load_all()
except Exception:  # noqa: BLE001, S110
    # A format module that fails to import must not take the fork server down with it (then
    # no file could be handled at all): each worker retries, and reports its files not
    # cleaned with a reason.
    pass
