"""`leakdrop fetch` facing a hostile pickup (a fake server on loopback, the real command).

A compromised pickup, or whoever holds its onion key, must not be able to do more than
withhold submissions: it cannot write to the editor's terminal, crash the command with an
odd header, keep it running for days with a trickle, fill the stick, or get a confirmation
for bytes that were not verified. Two runs on the same folder do not interleave.
"""

from __future__ import annotations

import fcntl
import http.server
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.pickup import run_leakdrop, write_token_file

pytestmark = pytest.mark.timeout(120)

SUB_ID = "0123456789abcdef0123456789abcdef"
TOKEN = "ldp1_" + "A" * 43
FAKE = "FAKE: all 3 submissions verified and deleted"
ESCAPES = "\x1b]2;owned\x07\x1b[2J\r"


@dataclass
class Hostile:
    """What the fake server does for each request; what it was asked."""

    answer: Callable[[http.server.BaseHTTPRequestHandler], None]
    requests: list[str] = field(default_factory=list)


def listing(size: int, sha256: str = "0" * 64) -> bytes:
    return json.dumps(
        [{"id": SUB_ID, "size": size, "day": "2026-12-01", "sha256": sha256}]
    ).encode()


def send(handler: http.server.BaseHTTPRequestHandler, raw: bytes) -> None:
    handler.wfile.write(raw)
    handler.wfile.flush()


@pytest.fixture
def hostile() -> Iterator[tuple[Hostile, str]]:
    state = Hostile(answer=lambda h: None)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _any(self) -> None:
            state.requests.append(f"{self.command} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            try:
                state.answer(self)
            except OSError:
                pass  # the client gave up: that is what some tests expect
            self.close_connection = True

        do_GET = do_POST = _any

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def fetch(url: str, tmp_path: Path, *extra: str) -> tuple[int, str]:
    token_file = write_token_file(tmp_path / "token", TOKEN)
    result = run_leakdrop(
        "fetch",
        "--server",
        url,
        "--token-file",
        token_file,
        "--out",
        tmp_path / "usb",
        *extra,
        timeout=90,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stderr


def assert_no_control_characters(text: str) -> None:
    bad = [c for c in text if not c.isprintable() and c != "\n"]
    assert bad == [], repr(text)


def test_terminal_escapes_in_a_status_line_are_shown_escaped(
    hostile: tuple[Hostile, str], tmp_path: Path
) -> None:
    state, url = hostile
    state.answer = lambda h: send(h, f"{ESCAPES}{FAKE}\r\n\r\n".encode())
    status, stderr = fetch(url, tmp_path, "--retries", "0")
    assert status != 0
    assert_no_control_characters(stderr)
    assert "\\x1b" in stderr  # what the server sent is visible, as text
    assert not any(line.startswith(FAKE) for line in stderr.splitlines())


def test_terminal_escapes_in_a_header_are_shown_escaped(
    hostile: tuple[Hostile, str], tmp_path: Path
) -> None:
    state, url = hostile
    # A status code http.client cannot take, then header lines full of escapes.
    state.answer = lambda h: send(
        h, f"HTTP/1.1 2{ESCAPES}00 OK\r\nX: {ESCAPES}{FAKE}\r\n\r\n".encode()
    )
    status, stderr = fetch(url, tmp_path, "--retries", "0")
    assert status != 0
    assert_no_control_characters(stderr)


@pytest.mark.parametrize("retry_after", ["²", "-5", "1e9", "Wed, 21 Oct 2015 07:28:00 GMT", ""])
def test_odd_retry_after_is_survived(
    hostile: tuple[Hostile, str], tmp_path: Path, retry_after: str
) -> None:
    state, url = hostile
    state.answer = lambda h: send(
        h,
        # Latin-1 on the wire: http.client reads header bytes as Latin-1, so 0xB2 is "²".
        f"HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after}\r\n"
        "Content-Length: 0\r\n\r\n".encode("latin-1"),
    )
    status, stderr = fetch(url, tmp_path, "--retries", "1")
    assert status == 2, stderr
    assert "throttles" in stderr
    assert len(state.requests) == 2  # asked again once, after a bounded wait


def test_a_trickling_server_is_given_up(hostile: tuple[Hostile, str], tmp_path: Path) -> None:
    state, url = hostile
    body = listing(100)

    def trickle(h: http.server.BaseHTTPRequestHandler) -> None:
        send(h, f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        for byte in body:
            send(h, bytes([byte]))
            time.sleep(0.5)  # the hostile server's pace, not a synchronisation

    state.answer = trickle
    # A 2-second socket timeout never fires (a byte comes every half second): only the
    # minimum rate stops it. 100 bytes at this pace would take 50 s per attempt.
    status, stderr = fetch(url, tmp_path, "--retries", "1", "--timeout", "2")
    assert status == 1, stderr
    assert "too slowly" in stderr
    assert len(state.requests) == 2


def test_a_server_cannot_fill_the_stick(hostile: tuple[Hostile, str], tmp_path: Path) -> None:
    state, url = hostile
    body = listing(1 << 45)  # 32 TiB announced

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.path.endswith("/submissions"):
            send(h, f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        else:  # it would send zeros for ever
            send(h, b"HTTP/1.1 200 OK\r\nContent-Length: 35184372088832\r\n\r\n")
            while True:
                send(h, bytes(1 << 20))

    state.answer = answer
    status, stderr = fetch(url, tmp_path, "--retries", "0")
    assert status == 1, stderr
    assert "NOT FETCHED" in stderr and "kept on the server" in stderr
    assert state.requests == ["GET /submissions"]  # no download, no confirmation
    usb = tmp_path / "usb"
    assert sum(p.stat().st_size for p in usb.rglob("*") if p.is_file()) == 0


def test_what_was_not_verified_is_never_confirmed(
    hostile: tuple[Hostile, str], tmp_path: Path
) -> None:
    state, url = hostile
    garbage = b"age-encryption.org/v1\n" + secrets.token_bytes(2000)
    body = listing(len(garbage))

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        data = body if h.path.endswith("/submissions") else garbage
        send(h, f"HTTP/1.1 200 OK\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)

    state.answer = answer
    status, stderr = fetch(url, tmp_path, "--retries", "0")
    assert status == 1, stderr
    assert "NOT VERIFIED" in stderr
    assert not any("confirm" in r for r in state.requests), state.requests
    assert list((tmp_path / "usb").glob("*.age")) == []


def test_two_runs_on_one_folder_do_not_interleave(
    hostile: tuple[Hostile, str], tmp_path: Path
) -> None:
    state, url = hostile
    partial = tmp_path / "usb" / ".partial"
    partial.mkdir(parents=True)
    with (partial / "fetch.lock").open("ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as a first run holds it
        status, stderr = fetch(url, tmp_path)
    assert status == 2
    assert "another leakdrop fetch is running" in stderr
    assert state.requests == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o660, 0o604])
def test_a_token_file_others_can_read_is_refused(
    hostile: tuple[Hostile, str], tmp_path: Path, mode: int
) -> None:
    state, url = hostile
    token_file = write_token_file(tmp_path / "token", TOKEN)
    token_file.chmod(mode)
    result = run_leakdrop(
        "fetch", "--server", url, "--token-file", token_file, "--out", tmp_path / "usb"
    )
    assert result.returncode == 2, result.stderr
    assert f"chmod 600 {token_file}" in result.stderr
    assert state.requests == []  # the token never left the machine
