"""Run each scrub in a fresh, limited worker process.

qpdf, libjpeg, libheif and zlib are C/C++ parsing hostile bytes. Each file is cleaned in its
own process forked from a pre-loaded fork server, with limits on address space, CPU time and
wall time, no core dumps (a core file would hold plaintext on disk) and no right to write any
file (RLIMIT_FSIZE = 0). A crash, hang or memory blow-up kills that worker only; the file is
then reported as not cleaned and kept as received. Each worker is also walled off from the
other workers and from the server (`_confine`: not dumpable, no capabilities, a seccomp
filter that kills it on a forbidden call); the server and the fork server are not dumpable.

The worker is assumed compromised once it has parsed the file, so the parent:
- bounds every read and write on the socket by the wall-time deadline (a worker that sends
  half an answer and stops cannot hang the server), and bounds the answer's size;
- decodes the answer with `_wire` (no pickle) and checks it against what it knows: a file
  reported not cleaned is always the parent's own copy of the original, and a cleaned file
  must sniff as the type claimed;
- kills the worker's whole process group at the end, so nothing it forked outlives it.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import socket
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from scrubbers import _confine, _wire
from scrubbers._core import scrub, scrub_streamed
from scrubbers._forkserver import get_context
from scrubbers._ranges import MAX_READ, RangeSource, ReadAt
from scrubbers._sniff import sniff
from scrubbers._types import DEFAULT_LIMITS, Limits, ScrubReport
from scrubbers.errors import (
    ForbiddenOperationError,
    LimitExceededError,
    SandboxUnavailableError,
    ScrubError,
    ScrubTimeoutError,
    WorkerCrashedError,
)

# What runs in the worker once its limits are set: read the input from the socket, answer on
# it. Production uses `_serve`; tests pass their own (a crash, a hang, a lying answer) to
# exercise the parent against a misbehaving worker. It must be a module-level function (it
# is sent to the fork server by reference).
WorkerTarget = Callable[[socket.socket, Limits], None]

_FRAME = 8  # big-endian length before each message
_CHUNK = 1024 * 1024
# A streamed clean's read or copy request: offset and size.
_RANGE = struct.Struct(">QQ")
_INPUT, _OUTPUT = 0, 1
# A streamed output may be larger than its input by this much (a PDF rewritten with fresh
# cross-reference tables), never more: a worker cannot fill the disk.
_STREAM_SLACK = 64 * 1024 * 1024
_EXIT_OUT_OF_MEMORY = 3
_EXIT_FAILED = 4
_EXIT_NO_SANDBOX = 5

# --- worker side -------------------------------------------------------------------------


def send_frame(sock: socket.socket, payload: bytes) -> None:
    """Worker side: send one length-prefixed message."""
    sock.sendall(len(payload).to_bytes(_FRAME, "big"))
    sock.sendall(payload)


def recv_frame(sock: socket.socket) -> bytes:
    """Worker side: read one length-prefixed message (the parent is trusted)."""
    size = int.from_bytes(_recv_exact(sock, _FRAME), "big")
    return _recv_exact(sock, size)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], min(size - got, _CHUNK))
        if n == 0:
            raise EOFError("peer closed")
        got += n
    return bytes(buffer)


def _serve(sock: socket.socket, limits: Limits) -> None:
    untrusted_data = recv_frame(sock)
    report = scrub(untrusted_data, limits=limits)
    del untrusted_data
    send_frame(sock, _wire.encode(report))


class _Channel:
    """Worker side of a streamed clean: the input and the output, both through the socket.

    Messages to the parent are frames whose first byte says what they are: ``R`` a read
    (which file, offset, size: the answer is one frame of exactly those bytes), ``W`` output
    bytes, ``C`` a range of the input to copy to the output, ``F`` the output is complete
    (it may then be read back with ``R``), ``D`` the report, last.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._written = 0

    def reader(self, which: int) -> ReadAt:
        def read_at(offset: int, size: int) -> bytes:
            send_frame(self._sock, b"R" + bytes([which]) + _RANGE.pack(offset, size))
            return recv_frame(self._sock)

        return read_at

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _CHUNK):
            piece = view[start : start + _CHUNK]
            send_frame(self._sock, b"W" + bytes(piece))
            self._written += len(piece)

    def copy(self, offset: int, size: int) -> None:
        send_frame(self._sock, b"C" + _RANGE.pack(offset, size))
        self._written += size

    def finish(self) -> RangeSource:
        send_frame(self._sock, b"F")
        return RangeSource(self._written, self.reader(_OUTPUT))


def _serve_streamed(sock: socket.socket, limits: Limits) -> None:
    size = int.from_bytes(recv_frame(sock), "big")
    channel = _Channel(sock)
    report = scrub_streamed(RangeSource(size, channel.reader(_INPUT)), channel, limits=limits)
    send_frame(sock, b"D" + _wire.encode(report))


def _limit_self(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))


def _silence_output() -> None:
    # Parser libraries print warnings, and an uncaught exception prints a traceback; either
    # may quote bytes of the submission. They must not reach the server's logs.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _worker_main(sock: socket.socket, limits: Limits, target: WorkerTarget) -> None:
    try:
        # Its own process group: the parent kills the group, so a process the worker forks
        # (a compromised parser could) dies with it.
        os.setpgid(0, 0)
        _silence_output()
        try:
            # Before the address-space limit: building the filter needs some memory, and a
            # small RLIMIT_AS must fail the parse, not the walls.
            _confine.confine_worker()
        except _confine.ConfinementError:
            os._exit(_EXIT_NO_SANDBOX)
        _limit_self(limits)
        target(sock, limits)
        sock.close()
    except MemoryError:
        # RLIMIT_AS reached: say so with the exit code (the parent maps it to a reason).
        os._exit(_EXIT_OUT_OF_MEMORY)
    except BaseException:  # noqa: BLE001 - any failure: exit quietly, status says failed
        os._exit(_EXIT_FAILED)
    os._exit(0)


# --- parent side -------------------------------------------------------------------------


def _failed(untrusted_data: bytes, error: ScrubError) -> ScrubReport:
    return ScrubReport(sniff(untrusted_data), False, untrusted_data, reason=error.reason)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ScrubTimeoutError()
    return left


def _send(sock: socket.socket, payload: bytes, deadline: float) -> None:
    view = memoryview(payload)
    sent = 0
    while sent < len(view):
        sock.settimeout(_remaining(deadline))
        # MSG_NOSIGNAL: a dead worker gives EPIPE, never a SIGPIPE that would kill a server
        # that did not ignore it.
        sent += sock.send(view[sent : sent + _CHUNK], socket.MSG_NOSIGNAL)


def _recv(sock: socket.socket, size: int, deadline: float) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        sock.settimeout(_remaining(deadline))
        n = sock.recv_into(view[got:], min(size - got, _CHUNK))
        if n == 0:
            raise EOFError("worker closed the socket")
        got += n
    return bytes(buffer)


def _max_answer(limits: Limits) -> int:
    # The cleaned file, its attachments (bounded by the input's size), and the JSON header.
    return limits.max_output_bytes + limits.max_input_bytes + 16 * 1024 * 1024


def _exchange(sock: socket.socket, untrusted_data: bytes, limits: Limits, deadline: float) -> bytes:
    _send(sock, len(untrusted_data).to_bytes(_FRAME, "big"), deadline)
    _send(sock, untrusted_data, deadline)
    size = int.from_bytes(_recv(sock, _FRAME, deadline), "big")
    if size > _max_answer(limits):
        raise _wire.WireError("answer too large")
    return _recv(sock, size, deadline)


def _reason_from_exit(exitcode: int | None) -> ScrubError:
    if exitcode == -signal.SIGXCPU:
        return ScrubTimeoutError()  # RLIMIT_CPU
    if exitcode in (_EXIT_OUT_OF_MEMORY, -signal.SIGKILL):
        # RLIMIT_AS hit in Python, or the kernel's OOM killer.
        return LimitExceededError()
    if exitcode == -_confine.FORBIDDEN_SIGNAL:
        return ForbiddenOperationError()  # killed by its seccomp filter
    if exitcode == _EXIT_NO_SANDBOX:
        return SandboxUnavailableError()
    return WorkerCrashedError()


def _checked(answer: ScrubReport, untrusted_data: bytes) -> ScrubReport:
    if not answer.cleaned:
        # Whatever the worker sent back, the file kept is the one received.
        return ScrubReport(
            sniff(untrusted_data), False, untrusted_data, reason=answer.reason, note=answer.note
        )
    if sniff(answer.data) != answer.file_type:
        raise _wire.WireError("cleaned data is not of the type claimed")
    return answer


def _in_worker(
    limits: Limits,
    target: WorkerTarget,
    exchange: Callable[[socket.socket, float], ScrubReport],
    failed: Callable[[ScrubError], ScrubReport],
) -> ScrubReport:
    """Start one limited worker, run `exchange` with it against the wall-time deadline, and
    turn every way it can fail into a `failed` report with its reason. Kills the worker's
    whole group at the end, whatever happened."""
    deadline = time.monotonic() + limits.wall_seconds
    parent, child = socket.socketpair()
    try:
        worker = get_context().Process(
            target=_worker_main, args=(child, limits, target), daemon=True
        )
        worker.start()
    except (SandboxUnavailableError, OSError) as exc:
        # No fork server here (`check_sandbox`), or no process could be started (fork
        # failed under load): keep the file, say why.
        parent.close()
        child.close()
        return failed(exc if isinstance(exc, SandboxUnavailableError) else WorkerCrashedError())
    child.close()
    try:
        return exchange(parent, deadline)
    except ScrubError as exc:  # the deadline passed, or an answer over its bound
        return failed(exc)
    except TimeoutError:  # socket.timeout: the deadline passed inside a call
        return failed(ScrubTimeoutError())
    except _wire.WireError:
        return failed(WorkerCrashedError())
    except (EOFError, OSError):
        # The worker died before answering in full (segfault, memory or CPU limit). Its
        # exit status says which; it is dead or dying, so this wait is short.
        worker.join(max(0.0, min(5.0, deadline - time.monotonic())))
        return failed(_reason_from_exit(worker.exitcode))
    finally:
        parent.close()
        _kill(worker)


def scrub_sandboxed(
    untrusted_data: bytes,
    *,
    limits: Limits = DEFAULT_LIMITS,
    _worker_target: WorkerTarget = _serve,
) -> ScrubReport:
    """Clean one file in a limited worker process; never raises for what the file contains.

    Blocking: call it from a thread when running under an event loop. ``_worker_target`` is
    for tests only (see `WorkerTarget`).
    """
    if len(untrusted_data) > limits.max_input_bytes:
        return _failed(untrusted_data, LimitExceededError())

    def exchange(sock: socket.socket, deadline: float) -> ScrubReport:
        answer = _exchange(sock, untrusted_data, limits, deadline)
        return _checked(_wire.decode(answer), untrusted_data)

    return _in_worker(
        limits, _worker_target, exchange, lambda error: _failed(untrusted_data, error)
    )


def _kill(worker: multiprocessing.process.BaseProcess) -> None:
    assert worker.pid is not None
    # Always, even after a normal answer: a compromised worker may have forked a process
    # that outlives it. The group id is the worker's pid; while any member of the group
    # lives, the kernel does not hand that number to another process.
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already (or the worker died before making it)
    worker.kill()
    worker.join()
    worker.close()


# --- streamed cleaning of large files (parent side) -------------------------------------


class StreamTarget(Protocol):
    """Where the parent puts a streamed clean's output (the server: an encrypted spool)."""

    def write(self, data: bytes | memoryview) -> None: ...

    def finish(self) -> None: ...

    def read_at(self, offset: int, size: int) -> bytes: ...


def _recv_message(sock: socket.socket, deadline: float, limit: int) -> bytes:
    size = int.from_bytes(_recv(sock, _FRAME, deadline), "big")
    if size == 0 or size > limit:
        raise _wire.WireError("bad message size")
    return _recv(sock, size, deadline)


def _stream_exchange(
    sock: socket.socket,
    size: int,
    read_at: ReadAt,
    output: StreamTarget,
    limits: Limits,
    deadline: float,
) -> tuple[ScrubReport, int]:
    """Serve one worker's reads and take its output until its report (bounded throughout:
    the worker is assumed compromised); the report and the size of the output taken."""
    _send(sock, (8).to_bytes(_FRAME, "big") + size.to_bytes(8, "big"), deadline)
    written = 0
    finished = False
    max_output = min(size, limits.max_streamed_bytes) + _STREAM_SLACK
    limit = max(_max_answer(limits), _CHUNK + 1)
    while True:
        message = _recv_message(sock, deadline, limit)
        tag, body = message[:1], memoryview(message)[1:]
        if tag == b"R" and len(body) == 1 + _RANGE.size:
            which = body[0]
            offset, length = _RANGE.unpack(body[1:])
            if length > MAX_READ or which not in (_INPUT, _OUTPUT):
                raise _wire.WireError("bad read")
            if which == _OUTPUT and not finished:
                raise _wire.WireError("output read before it was finished")
            end = size if which == _INPUT else written
            if offset > end:
                raise _wire.WireError("read outside the file")
            length = min(length, end - offset)
            data = (read_at if which == _INPUT else output.read_at)(offset, length)
            _send(sock, len(data).to_bytes(_FRAME, "big"), deadline)
            _send(sock, data, deadline)
        elif tag in (b"W", b"C") and not finished:
            if tag == b"W":
                pieces: Iterable[bytes | memoryview] = (body,)
                written += len(body)
            else:
                if len(body) != _RANGE.size:
                    raise _wire.WireError("bad copy")
                offset, length = _RANGE.unpack(body)
                if offset + length > size:
                    raise _wire.WireError("copy outside the input")
                written += length
                pieces = _ranges_of(read_at, offset, length)
            if written > max_output:
                raise LimitExceededError("output too large")
            for piece in pieces:
                _remaining(deadline)
                output.write(piece)
        elif tag == b"F" and not finished and len(body) == 0:
            output.finish()
            finished = True
        elif tag == b"D":
            report = _wire.decode(bytes(body))
            if report.cleaned and (not finished or report.data):
                raise _wire.WireError("a streamed report claims an output it did not finish")
            return report, written
        else:
            raise _wire.WireError("unexpected message")


def _ranges_of(read_at: ReadAt, offset: int, length: int) -> Iterator[bytes]:
    end = offset + length
    while offset < end:
        data = read_at(offset, min(_CHUNK, end - offset))
        if not data:
            raise _wire.WireError("input shorter than its size")
        offset += len(data)
        yield data


def scrub_streamed_sandboxed(
    size: int,
    read_at: ReadAt,
    output: StreamTarget,
    *,
    limits: Limits = DEFAULT_LIMITS,
    _worker_target: WorkerTarget = _serve_streamed,
) -> ScrubReport:
    """Clean a large file read by ranges in a limited worker; its output goes to `output`.

    `read_at(offset, size)` gives the input's bytes (the server decrypts them from its
    spool); the worker never holds the whole file. The report carries no data: when it says
    cleaned, `output` holds the cleaned file, checked by the worker's own re-read and, here,
    by its sniffed type; otherwise the caller keeps the file as received and drops
    `output`. Never raises for what the file contains. Blocking, like `scrub_sandboxed`
    (whose ``_worker_target`` this one's mirrors, for tests).
    """
    # By ranges: a zip's type is in its central directory, at the end (`sniff`).
    file_type = sniff(RangeSource(size, read_at))

    def failed(error: ScrubError) -> ScrubReport:
        return ScrubReport(file_type, False, b"", reason=error.reason)

    def exchange(sock: socket.socket, deadline: float) -> ScrubReport:
        answer, written = _stream_exchange(sock, size, read_at, output, limits, deadline)
        if not answer.cleaned:
            return ScrubReport(file_type, False, b"", reason=answer.reason, note=answer.note)
        if answer.file_type != file_type:
            return failed(WorkerCrashedError())
        try:
            out_type = sniff(RangeSource(written, output.read_at))
        except (OSError, ValueError, ScrubError):
            return failed(WorkerCrashedError())
        if out_type != file_type:
            return failed(WorkerCrashedError())
        return answer

    return _in_worker(limits, _worker_target, exchange, failed)
