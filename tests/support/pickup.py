"""Helpers for the pickup/fetch tests: real processes on loopback, a real SOCKS5 relay.

- `make_submission`: a real sealed submission (container + age) in STORAGE/submissions,
  named and timed as the source-facing server does it.
- `Pickup`: `leakdrop pickup` as a subprocess on a free port.
- `SocksRelay`: a small SOCKS5 server (RFC 1928/1929) standing in for Tor's SOCKS port: it
  records the names it was asked to connect to and what clients sent, sends every
  connection to the pickup listener, and can break a download midway (close, stall) or
  flip one byte in it.
"""

from __future__ import annotations

import hashlib
import html.parser
import io
import os
import re
import secrets
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from leakdrop.sealing import X25519Recipient, encrypt
from leakdrop.submission import FileEntry, write_submission
from support.live_server import free_port

LEAKDROP = [sys.executable, "-m", "leakdrop.cli"]


def run_leakdrop(
    *args: str | Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LEAKDROP, *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def add_token(tokens: Path, name: str) -> str:
    result = run_leakdrop("token", "add", name, "--tokens", tokens)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("ldp1_"), result.stdout
    return token


def write_token_file(path: Path, token: str) -> Path:
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def midnight_utc(days_ago: int = 0) -> float:
    now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (now - timedelta(days=days_ago)).timestamp()


def entry(name: str, data: bytes, **kw: Any) -> FileEntry:
    return FileEntry(
        stored_name=name,
        original_name=kw.pop("original_name", name),
        detected_type=kw.pop("detected_type", "txt"),
        media_type=kw.pop("media_type", "text/plain"),
        cleaned=kw.pop("cleaned", True),
        reason=kw.pop("reason", None),
        removed=list(kw.pop("removed", [])),
        note=kw.pop("note", None),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        open=lambda: io.BytesIO(data),
    )


def make_submission(
    storage: Path,
    recipients: list[X25519Recipient],
    *,
    message: str | None = "hello",
    files: list[FileEntry] | None = None,
    days_ago: int = 0,
) -> Path:
    """Seal one submission into STORAGE/submissions/<id>.age as the server does."""
    folder = storage / "submissions"
    folder.mkdir(parents=True, exist_ok=True)
    sub_id = secrets.token_hex(16)
    stamp = midnight_utc(days_ago)
    day = datetime.fromtimestamp(stamp, UTC).date().isoformat()
    tmp = storage / f"{sub_id}.tmp"
    with tmp.open("wb") as fh, encrypt(fh, recipients) as writer:
        write_submission(
            writer,
            submission_id=sub_id,
            received_day=day,
            message=message,
            files=files if files is not None else [entry("note.txt", b"some text\n")],
        )
    os.utime(tmp, (stamp, stamp))
    final = folder / f"{sub_id}.age"
    os.rename(tmp, final)
    return final


@dataclass
class Pickup:
    storage: Path
    tokens: Path
    log: Path
    extra: tuple[str, ...] = ()
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Pickup:
        # A free port can be taken between the probe and the bind: try a few.
        for _ in range(5):
            self.port = free_port()
            with self.log.open("ab") as log:
                self.proc = subprocess.Popen(
                    [
                        *LEAKDROP,
                        "pickup",
                        "--storage",
                        str(self.storage),
                        "--tokens",
                        str(self.tokens),
                        "--port",
                        str(self.port),
                        *self.extra,
                    ],
                    stdout=log,
                    stderr=log,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            if self._wait_ready():
                return self
            self.stop()
        raise AssertionError(f"pickup did not start: {self.log.read_text()}")

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                time.sleep(0.05)  # polling for readiness, bounded by the deadline
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def get(self, path: str, token: str | None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.get(self.url + path, headers=headers, timeout=30, **kw)

    def post(self, path: str, token: str | None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.post(self.url + path, headers=headers, timeout=30, **kw)


@dataclass
class SocksRelay:
    """SOCKS5 on loopback that relays every CONNECT to `target` (the pickup listener).

    `cut_after`: the first download (GET /submissions/<id>) whose answer reaches this many
    bytes is closed there; `stall_after`: the same, but the connection stays open and
    silent (a dead circuit); `flip_at`: the byte at this offset of the first download's
    answer that reaches it is inverted.
    """

    target: tuple[str, int]
    cut_after: int | None = None
    stall_after: int | None = None
    flip_at: int | None = None
    requested: list[tuple[str, int]] = field(default_factory=list)
    auth: list[bytes] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    port: int = 0
    _sock: socket.socket | None = None
    flipped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    #: Set when a download was cut or stalled.
    broke: threading.Event = field(default_factory=threading.Event)

    def start(self) -> SocksRelay:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    @staticmethod
    def _exact(sock: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _handshake(self, client: socket.socket) -> None:
        version, count = self._exact(client, 2)
        methods = self._exact(client, count)
        assert version == 5
        if 2 in methods:
            client.sendall(b"\x05\x02")
            self._exact(client, 1)
            user = self._exact(client, self._exact(client, 1)[0])
            self._exact(client, self._exact(client, 1)[0])
            self.auth.append(user)
            client.sendall(b"\x01\x00")
        else:
            client.sendall(b"\x05\x00")
        _, cmd, _, atyp = self._exact(client, 4)
        assert cmd == 1 and atyp == 3, "the client must send a name, never an address"
        name = self._exact(client, self._exact(client, 1)[0]).decode()
        port = int.from_bytes(self._exact(client, 2), "big")
        self.requested.append((name, port))
        client.sendall(b"\x05\x00\x00\x01" + bytes(4) + bytes(2))

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        try:
            self._handshake(client)
            upstream = socket.create_connection(self.target)
            self._relay(client, upstream)
        except (OSError, ConnectionError, AssertionError):
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        request = b""
        is_download = None
        answered = 0
        while not self._stop.is_set():
            ready, _, _ = select.select([client, upstream], [], [], 0.5)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                if sock is client:
                    request += data
                    with self._lock:
                        self.sent.append(data)
                    upstream.sendall(data)
                    continue
                if is_download is None:
                    first_line = request.split(b"\r\n", 1)[0]
                    is_download = first_line.startswith(b"GET /submissions/")
                if is_download:
                    with self._lock:
                        flip = (
                            self.flip_at is not None
                            and not self.flipped
                            and answered <= self.flip_at < answered + len(data)
                        )
                        if flip:
                            self.flipped = True
                    if flip:
                        assert self.flip_at is not None
                        pos = self.flip_at - answered
                        data = data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1 :]
                    limit = self.cut_after if self.cut_after is not None else self.stall_after
                    if (
                        limit is not None
                        and not self.broke.is_set()
                        and answered + len(data) >= limit
                    ):
                        client.sendall(data[: limit - answered])
                        self.broke.set()
                        if self.stall_after is not None:
                            self._stop.wait(60)  # a dead circuit: nothing more comes
                        return
                answered += len(data)
                client.sendall(data)

    def sent_text(self) -> str:
        with self._lock:
            return b"".join(self.sent).decode("latin-1")


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    """Poll a condition with a deadline (observing a real process, not sleeping blindly)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def iter_files(root: Path) -> Iterator[Path]:
    yield from (p for p in root.rglob("*") if p.is_file())


class OfflinePage(html.parser.HTMLParser):
    """Collects what a browser would load or run from the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.handlers: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src", "action", "data", "poster", "srcset", "content"):
                self.urls.append(value or "")
            if name.startswith("on"):
                self.handlers.append(name)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_offline_page(page: str) -> OfflinePage:
    """No script, nothing loaded from anywhere; returns the parsed page."""
    parsed = OfflinePage()
    parsed.feed(page)
    assert "script" not in parsed.tags and not parsed.handlers
    assert not {"iframe", "object", "embed", "img", "link", "form", "base"} & set(parsed.tags)
    assert not re.search(r"(?i)<script|javascript:|https?://|@import|url\(", page)
    for url in parsed.urls:
        assert not re.match(r"(?i)[a-z][a-z0-9+.-]*:", url) or url.startswith("default-src")
    return parsed
