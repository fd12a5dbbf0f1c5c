"""Run each scrub in a fresh, limited worker process.

qpdf, libjpeg, libheif and zlib are C/C++ parsing hostile bytes. Each file is cleaned in its
own process forked from a pre-loaded fork server, with limits on address space, CPU time and
wall time, no core dumps (a core file would hold plaintext on disk) and no right to write any
file (RLIMIT_FSIZE = 0). A crash, hang or memory blow-up kills that worker only; the file is
then reported as not cleaned and kept as received.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import resource
import threading
from multiprocessing.context import ForkServerContext

from scrubbers import _wire
from scrubbers._sniff import sniff
from scrubbers._types import DEFAULT_LIMITS, Limits, ScrubReport
from scrubbers.errors import (
    LimitExceededError,
    ScrubError,
    ScrubTimeoutError,
    WorkerCrashedError,
)

_context: ForkServerContext | None = None
_context_lock = threading.Lock()


def _get_context() -> ForkServerContext:
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            # Workers fork from a server that already imported the parsers: a fork costs
            # milliseconds instead of re-importing pikepdf and Pillow for every file.
            context.set_forkserver_preload(["scrubbers._worker_preload"])
            _context = context
        return _context


def _limit_self(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))


def _worker_main(conn: multiprocessing.connection.Connection, limits: Limits) -> None:
    _limit_self(limits)
    from scrubbers._core import scrub

    untrusted_data = conn.recv_bytes()
    report = scrub(untrusted_data, limits=limits)
    del untrusted_data
    conn.send_bytes(_wire.encode(report))
    conn.close()


def _failed(untrusted_data: bytes, error: ScrubError) -> ScrubReport:
    return ScrubReport(sniff(untrusted_data), False, untrusted_data, reason=error.reason)


def scrub_sandboxed(untrusted_data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ScrubReport:
    """Clean one file in a limited worker process; never raises for what the file contains.

    Blocking: call it from a thread when running under an event loop.
    """
    if len(untrusted_data) > limits.max_input_bytes:
        return _failed(untrusted_data, LimitExceededError())
    context = _get_context()
    parent, child = context.Pipe(duplex=True)
    worker = context.Process(target=_worker_main, args=(child, limits), daemon=True)
    worker.start()
    child.close()
    try:
        try:
            parent.send_bytes(untrusted_data)
            if not parent.poll(limits.wall_seconds):
                return _failed(untrusted_data, ScrubTimeoutError())
            answer = parent.recv_bytes(maxlength=limits.max_output_bytes * 2 + 16 * 1024 * 1024)
        except (EOFError, OSError):
            # EOF: the worker died (segfault, out of memory, CPU limit) before answering.
            worker.join(1)
            if worker.exitcode is not None and worker.exitcode < 0:
                signal_number = -worker.exitcode
                if signal_number in (24, 9):  # SIGXCPU, SIGKILL (CPU limit)
                    return _failed(untrusted_data, ScrubTimeoutError())
            return _failed(untrusted_data, WorkerCrashedError())
        try:
            return _wire.decode(answer)
        except _wire.WireError:
            return _failed(untrusted_data, WorkerCrashedError())
    finally:
        parent.close()
        if worker.is_alive():
            worker.kill()
        worker.join()
        worker.close()
