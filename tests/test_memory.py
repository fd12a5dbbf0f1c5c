"""Nothing a stranger sends can take the server's memory (the real server, default settings).

A header flood (one connection sending megabytes of tiny header lines as fast as it can) is
cut at the header caps; 8 uploads of 99 tiny files each, held open after their last file,
keep their files in the encrypted spool, not in RAM. Together they leave the server's
resident memory (its high-water mark, VmHWM) less than 64 MiB above where it was.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
from pathlib import Path

import pytest
from support.live_server import LiveServer, ServerFactory, live_server, wait_until

__all__ = ["live_server"]

pytestmark = pytest.mark.timeout(300)

MIB = 1024 * 1024
MAX_GROWTH = 64 * MIB
HELD_UPLOADS = 8
TINY_FILES = 99
#: What the flood tries to send: 27 MB of header lines (took 350 MiB before the caps).
FLOOD_BYTES = 27_000_000


def status_kib(server: LiveServer, field: str) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


def header_flood(port: int) -> int:
    """Header lines until the server closes; returns the bytes it took."""
    sent = 0
    line = b"X-Flood: a\r\n" * 4096
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: drop\r\n")
        try:
            while sent < FLOOD_BYTES:
                sock.sendall(line)
                sent += len(line)
        except OSError:  # reset or broken pipe: the server closed the connection
            return sent
        # Everything was sent: the server must still close without answering.
        sock.settimeout(60)
        with contextlib.suppress(OSError):
            assert sock.recv(65536) == b""
    return sent


def held_upload(port: int) -> socket.socket:
    """99 one-byte files, then the start of a 100th (enough bytes for the server to parse
    the first 99), and no more: the connection is left open."""
    boundary = "held" + secrets.token_hex(8)
    body = bytearray()
    for index in range(TINY_FILES):
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="tiny-{index}.txt"\r\nContent-Type: text/plain\r\n\r\nx\r\n'
        ).encode()
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="last.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    # The server hands the parser whole batches of 1 MiB: fill one.
    body += secrets.token_bytes(MIB + 64 * 1024)
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(
        (
            "POST /submit?lang=en HTTP/1.1\r\nHost: drop\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body) + 10 * MIB}\r\n\r\n"
        ).encode()
        + bytes(body)
    )
    return sock


def test_header_flood_and_held_uploads_stay_under_64_mib(live_server: ServerFactory) -> None:
    server = live_server()
    assert server.healthy()
    before = status_kib(server, "VmRSS")

    flood_result: list[int] = []
    flood = threading.Thread(target=lambda: flood_result.append(header_flood(server.port)))
    flood.start()
    held = [held_upload(server.port) for _ in range(HELD_UPLOADS)]
    try:
        # Every tiny file of every held upload is in the server: one open spool each, plus
        # the 100th file being written.
        wait_until(
            lambda: len(server.open_fds_under(server.storage)) >= HELD_UPLOADS * (TINY_FILES + 1),
            timeout=120,
            what="the held uploads' files to reach the spool",
        )
        flood.join(120)
        assert not flood.is_alive()
        peak = status_kib(server, "VmHWM")
    finally:
        for sock in held:
            sock.close()
    [flood_bytes] = flood_result
    assert flood_bytes < FLOOD_BYTES, "the header flood was never cut"
    growth = peak - before
    print(
        f"server RSS {before / MIB:.0f} MiB -> peak {peak / MIB:.0f} MiB "
        f"(+{growth / MIB:.1f} MiB); flood cut after {flood_bytes / 1024:.0f} KiB"
    )
    assert growth < MAX_GROWTH, f"memory grew by {growth / MIB:.0f} MiB"
    assert server.healthy()
    # The held uploads leave nothing once they are gone.
    wait_until(
        lambda: server.open_fds_under(server.storage) == [],
        timeout=120,
        what="the held uploads' spools to be freed",
    )
