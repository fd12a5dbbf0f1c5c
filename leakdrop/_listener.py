"""What both listeners (the source drop and the editors' pickup) do to their process and to
uvicorn: no access log, no core dumps, not dumpable, a deadline on request headers."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import resource
import socket
import sys
from typing import Any, Final

_PR_SET_DUMPABLE: Final = 4

#: No access log, no client addresses, no timestamps of requests: uvicorn's access logger
#: is cut off here as well as by ``access_log=False``.
LOG_CONFIG: Final[dict[str, Any]] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "leakdrop": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        # The multipart parser's warnings add nothing for an admin.
        "python_multipart": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}


def harden_process() -> None:
    """No core dumps (a core file would put plaintext on disk) and, on Linux, not
    dumpable: other processes of the same user cannot ptrace it or read its memory."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Each file being received holds a descriptor (its spool): allow many at once.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


#: Request headers (request line included) a browser never comes near: a few KiB, a few
#: dozen lines. Above either, the connection is closed.
MAX_HEADER_BYTES: Final = 32 * 1024
MAX_HEADER_LINES: Final = 64
#: Seconds a connection is kept open, reading and discarding, after a response sent before
#: the request's body was all read (see `header_deadline_protocol`).
REFUSAL_LINGER: Final = 5.0


def header_deadline_protocol(
    seconds: float,
    *,
    max_header_bytes: int = MAX_HEADER_BYTES,
    max_header_lines: int = MAX_HEADER_LINES,
    linger: float = REFUSAL_LINGER,
    max_linger_bytes: int = 1 << 62,
) -> type[asyncio.Protocol]:
    """uvicorn's httptools HTTP protocol, plus bounds on each request's headers and a
    lingering close after an early answer.

    Slowloris: uvicorn waits for request headers forever (its keep-alive timer runs only
    between requests and stops at the first byte of the next one; the app's idle timeout
    covers only the body). A client that opens a connection and sends a partial request
    line, or one byte now and then, would hold a socket, a descriptor and, behind Tor, a
    circuit, for good: a few hundred of them and real sources are refused. So the clock
    starts when the server begins waiting for a request (connection opened, or previous
    response sent on a kept-alive connection), is not reset by incoming bytes (a dribble
    counts as silence), stops when the headers are complete, and closes the connection
    when it runs out. The body is the app's business (`Limits.idle_timeout`).

    Header floods: llhttp has no bound of its own on the headers, and uvicorn keeps every
    line in a list until the request starts (27 MB of tiny lines in a second took 350 MiB).
    Bytes received while the headers are incomplete, and header lines, are counted; above
    `max_header_bytes` or `max_header_lines` the connection is closed, unanswered.

    Early answers: a refusal ("busy", "too large") is sent before the body is read. Closing
    right after it, with body bytes unread, makes the kernel reset the connection, and a
    browser that gets the reset before it has read the page shows "connection reset". So
    when a response completes while its request body is still coming, the connection stays
    open for `linger` seconds (uvicorn discards the body bytes that arrive, up to
    `max_linger_bytes`), then closes: long enough for the page to reach the browser, even
    over Tor, and far shorter than reading up to the whole body.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._header_timer: asyncio.TimerHandle | None = None
            self._header_bytes = 0
            self._header_lines = 0
            self._linger_timer: asyncio.TimerHandle | None = None
            self._linger_bytes = 0

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            self._header_bytes = 0
            self._header_lines = 0
            self._header_timer = self.loop.call_later(seconds, self._headers_too_slow)

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _close_quietly(self) -> None:
            # No answer: nobody is there to read one, and a 408 or 431 would invite a retry.
            if not self.transport.is_closing():
                self.transport.close()

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            self._close_quietly()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            # A stream server is always handed a full Transport; uvicorn's protocol needs one.
            if not isinstance(transport, asyncio.Transport):
                raise TypeError("an HTTP connection needs a stream transport")
            super().connection_made(transport)
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            if self.transport.is_closing():
                return
            if self._linger_timer is not None:
                self._linger_bytes += len(data)
                if self._linger_bytes > max_linger_bytes:
                    self._close_quietly()
                    return
            waiting = self._header_timer is not None
            super().data_received(data)
            # Still waiting for the end of the headers after this piece: all of it was
            # header bytes (a piece that completes them may carry body bytes: not counted).
            if waiting and self._header_timer is not None:
                self._header_bytes += len(data)
                if self._header_bytes > max_header_bytes:
                    self._cancel_header_timer()
                    self._close_quietly()

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_lines += 1
            if self._header_lines > max_header_lines:
                self._cancel_header_timer()
                self._close_quietly()
                return
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            if self.transport.is_closing():
                return
            self._cancel_header_timer()
            super().on_headers_complete()

        # The rest of a piece is still parsed after a close in a callback above: nothing
        # of it may start a request.
        def on_body(self, body: bytes) -> None:
            if not self.transport.is_closing():
                super().on_body(body)

        def on_message_complete(self) -> None:
            if not self.transport.is_closing():
                super().on_message_complete()

        def on_response_complete(self) -> None:
            cycle = self.cycle
            if cycle is not None and cycle.more_body and not self.transport.is_closing():
                # Answered before the end of the body: linger, then close (see above).
                self.server_state.total_requests += 1
                self.flow.resume_reading()
                self._cancel_header_timer()
                if self._linger_timer is None:
                    self._linger_timer = self.loop.call_later(linger, self._close_quietly)
                return
            # A pipelined request already has its headers; else the connection now waits
            # for the next request's, under the same deadline.
            waits_for_headers = not self.pipeline
            super().on_response_complete()
            if waits_for_headers and not self.transport.is_closing():
                self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            if self._linger_timer is not None:
                self._linger_timer.cancel()
                self._linger_timer = None
            super().connection_lost(exc)

    return HeaderDeadlineProtocol


def security_headers(csp: str) -> tuple[tuple[bytes, bytes], ...]:
    """Headers on every response of both listeners: nothing cached anywhere (a shared
    computer must not keep a receipt), nothing framed, sniffed, referred or allowed."""
    return (
        (b"content-security-policy", csp.encode()),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"cache-control", b"no-store"),
        (b"pragma", b"no-cache"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (
            b"permissions-policy",
            b"accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
            b"microphone=(), payment=(), usb=(), interest-cohort=()",
        ),
    )


def open_listener(command: str, host: str, port: int) -> socket.socket | None:
    """The listening socket, bound before anything says "listening"; None after one line on
    stderr saying why not (a port in use is a mistake an admin fixes, not a traceback)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            text = f"port {port} on {host} is already in use"
        else:
            text = f"cannot listen on {host}:{port}: {exc.strerror}"
        print(f"leakdrop {command}: refusing to start: {text}", file=sys.stderr)
        return None


def serve_and_announce(config: Any, listener: socket.socket, announcement: str) -> None:
    """Run uvicorn (``config``: its Config) on the listener, and write ``announcement`` to
    standard error once it serves.

    Said after uvicorn's start-up, when its signal handlers are in place, not before: a
    Ctrl+C in between went to whatever handler the process had inherited, and one started in
    the background of a shell inherits SIGINT ignored (the Ctrl+C was lost and the server
    kept serving)."""
    import uvicorn

    class _AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if not self.should_exit:
                print(announcement, file=sys.stderr, flush=True)

    _AnnouncingServer(config).run(sockets=[listener])
