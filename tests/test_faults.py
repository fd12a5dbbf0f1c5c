"""The real server under faults: SIGKILL mid-upload, a full disk, a scrub worker that blows
its memory or time limit, slow and silent clients.

What must hold every time: a submission lands whole or not at all; nothing readable is left
anywhere under the storage (or the server's TMPDIR); the server serves again.
"""

from __future__ import annotations

import html
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from support.fixtures_office import jpeg_with_gps
from support.fixtures_pdf import small_pdf
from support.hostile_files import pdf_stream_bomb
from support.live_server import (
    LiveServer,
    ServerFactory,
    exiftool_json,
    live_server,
    multipart_body,
    open_submission,
    plaintext_hits,
    sealed_files,
    storage_listing,
    submit,
    wait_until,
)

from leakdrop.server.i18n import STRINGS
from scrubbers.errors import LimitExceededError, ScrubTimeoutError

__all__ = ["live_server"]

pytestmark = pytest.mark.timeout(300)

MIB = 1024 * 1024


def marked_blob(marker: str, size: int) -> bytes:
    """Unknown-type bytes (kept as received, no cleaning) with the marker all through it:
    if any plaintext of it reached a disk, a grep finds it."""
    unit = f"[{marker}]".encode() + os.urandom(4096)
    return (unit * (size // len(unit) + 1))[:size]


def raw_request(port: int, body: bytes, content_type: str, *, lang: str = "en") -> bytes:
    return (
        f"POST /submit?lang={lang} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection; fails after `timeout`."""
    start = time.monotonic()
    data = b""
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            raise AssertionError(f"connection still open after {timeout:.0f} s; got {data!r}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return data, time.monotonic() - start
        if not chunk:
            return data, time.monotonic() - start
        data += chunk


def assert_no_leftovers(server: LiveServer) -> None:
    listing = storage_listing(server.storage)
    assert listing["incoming"] == [], listing
    assert listing["spool"] == [], listing
    assert server.open_fds_under(server.storage) == [], "open spool files remain"


# ----------------------------------------------------------------------------- SIGKILL


def test_sigkill_mid_upload_then_restart(live_server: ServerFactory, tmp_path: Path) -> None:
    server = live_server()
    keep_marker = f"KEEP{secrets.token_hex(8)}"
    response = submit(server, [("kept.bin", marked_blob(keep_marker, 200_000))], keep_marker)
    assert response.status_code == 200
    [kept] = sealed_files(server.storage)

    # Three uploads stopped halfway through their bodies (their spools are open)...
    markers = [f"HALF{i}x{secrets.token_hex(8)}" for i in range(3)]
    sockets = []
    for marker in markers:
        body, content_type = multipart_body([("half.bin", marked_blob(marker, 4 * MIB))], marker)
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(raw_request(server.port, body, content_type) + body[: 2 * MIB])
        sockets.append(sock)
    wait_until(
        lambda: len(server.open_fds_under(server.storage / "spool")) >= 3,
        timeout=60,
        what="three spool files open",
    )
    # ...and one big upload caught while it is being sealed into incoming/.
    big_marker = f"SEAL{secrets.token_hex(8)}"
    big_body, big_type = multipart_body([("big.bin", marked_blob(big_marker, 96 * MIB))])
    sealing = socket.create_connection(("127.0.0.1", server.port))

    def send_big() -> None:
        try:
            sealing.sendall(raw_request(server.port, big_body, big_type) + big_body)
        except OSError:
            pass  # the server died under it: expected

    sender = threading.Thread(target=send_big, daemon=True)
    sender.start()
    incoming = server.storage / "incoming"
    deadline = time.monotonic() + 120
    while not any(incoming.iterdir()):
        assert len(sealed_files(server.storage)) == 1, "sealed before the kill could land"
        assert time.monotonic() < deadline, "the big upload never reached sealing"
        time.sleep(0.002)
    server.kill()
    sender.join(30)
    for sock in [*sockets, sealing]:
        sock.close()

    assert sealed_files(server.storage) == [kept], "a partial submission got a final name"
    all_markers = [m.encode() for m in [keep_marker, big_marker, *markers]]
    roots = [server.storage, server.tmpdir]
    assert plaintext_hits(roots, all_markers) == []

    server.start()
    assert storage_listing(server.storage) == {
        "submissions": [kept.name],
        "incoming": [],
        "spool": [],
    }
    assert plaintext_hits(roots, all_markers) == []
    opened = open_submission(kept, server.editor.identity, tmp_path / "kept")
    assert opened.message == keep_marker
    # Serves again, end to end.
    page = httpx.get(f"{server.url}/?lang=en", timeout=30)
    assert page.status_code == 200
    again = submit(server, [("after.jpg", jpeg_with_gps())], "after the crash")
    assert again.status_code == 200
    assert len(sealed_files(server.storage)) == 2


# ----------------------------------------------------------------------------- disk full


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs (we run as root in CI and in the dev container)."""
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs (needs root): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def full_text(lang: str) -> str:
    return STRINGS[lang]["err_full"]


def test_disk_full_mid_upload(small_fs: Path, live_server: ServerFactory, tmp_path: Path) -> None:
    server = live_server(storage=small_fs / "storage")
    first_marker = f"FIRST{secrets.token_hex(8)}"
    first = submit(server, [("first.bin", marked_blob(first_marker, 256 * 1024))], first_marker)
    assert first.status_code == 200
    [kept] = sealed_files(server.storage)

    # Someone else fills the disk until 2 MiB are left.
    ballast = small_fs / "ballast"
    ballast.write_bytes(b"\0" * (free_bytes(small_fs) - 2 * MIB))
    big_marker = f"BIG{secrets.token_hex(8)}"
    # 3 MiB: more than is left now; after the ballast goes, it fits twice (spool + sealed).
    big_body, big_type = multipart_body([("big.bin", marked_blob(big_marker, 3 * MIB))], "big")

    # 1. Declared size: refused before a byte is stored.
    declared = httpx.post(
        f"{server.url}/submit?lang=fr",
        content=big_body,
        headers={"Content-Type": big_type},
        timeout=60,
    )
    assert declared.status_code == 507
    assert full_text("fr") in html.unescape(declared.text)
    assert '<html lang="fr"' in declared.text

    # 2. No size announced (chunked): the disk fills while it streams.
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big_body), 64 * 1024):
            yield big_body[start : start + 64 * 1024]

    streamed = httpx.post(
        f"{server.url}/submit?lang=en",
        content=chunks(),
        headers={"Content-Type": big_type},
        timeout=60,
    )
    assert streamed.status_code == 507, streamed.text[:1000]
    assert full_text("en") in html.unescape(streamed.text)

    assert sealed_files(server.storage) == [kept], "nothing partial may get a final name"
    assert_no_leftovers(server)
    assert (
        plaintext_hits([small_fs, server.tmpdir], [first_marker.encode(), big_marker.encode()])
        == []
    )
    assert open_submission(kept, server.editor.identity, tmp_path / "kept").message == first_marker

    # Space freed: the same upload goes through.
    ballast.unlink()
    again = httpx.post(
        f"{server.url}/submit?lang=en",
        content=big_body,
        headers={"Content-Type": big_type},
        timeout=60,
    )
    assert again.status_code == 200, again.text[:1000]
    assert len(sealed_files(server.storage)) == 2
    assert_no_leftovers(server)
    server.stop()  # before the tmpfs goes


# ----------------------------------------------------------------------------- scrub worker


def _worker_limit_case(server: LiveServer, tmp_path: Path, bomb: bytes, reason: str) -> None:
    photo, pdf = jpeg_with_gps(), small_pdf("Marker-Fine-Author", "Fine text")
    files = [("photo.jpg", photo), ("bomb.pdf", bomb), ("fine.pdf", pdf)]
    response = submit(server, files, "one bad file among good ones", timeout=180)
    assert response.status_code == 200, response.text[:1000]
    [sealed] = sealed_files(server.storage)
    opened = open_submission(sealed, server.editor.identity, tmp_path / "open")
    bad = opened.by_original("bomb.pdf")
    assert bad["cleaned"] is False and bad["reason"] == reason, bad
    assert opened.data(bad) == bomb, "a file that could not be cleaned is kept as received"
    for name in ("photo.jpg", "fine.pdf"):
        entry = opened.by_original(name)
        assert entry["cleaned"] is True, entry
        assert b"Marker-" not in opened.data(entry)
    assert not [
        k for k in exiftool_json(opened.path(opened.by_original("photo.jpg"))) if "GPS" in k
    ]
    assert reason in html.unescape(response.text)
    assert_no_leftovers(server)
    # The workers still work for the next source.
    assert submit(server, [("next.jpg", photo)], None).status_code == 200
    assert server.healthy()


def test_scrub_worker_out_of_memory(live_server: ServerFactory, tmp_path: Path) -> None:
    """A PDF image stream that inflates to 400 MiB, with workers limited to 400 MiB of
    address space: the worker really runs out of memory and dies."""
    server = live_server("--scrub-memory-bytes", "400M")
    bomb = pdf_stream_bomb(400 << 20, where="jpeg")
    _worker_limit_case(server, tmp_path, bomb, LimitExceededError.reason)


def test_scrub_worker_hangs(live_server: ServerFactory, tmp_path: Path) -> None:
    """A page content stream of 256 MiB of zeros takes the cleaner seconds of CPU; with a
    one-second wall time the worker is killed mid-work."""
    server = live_server("--scrub-wall-seconds", "1")
    bomb = pdf_stream_bomb(256 << 20, where="content")
    _worker_limit_case(server, tmp_path, bomb, ScrubTimeoutError.reason)


# ----------------------------------------------------------------------------- slow clients


@dataclass
class SlowUpload:
    server: LiveServer
    body: bytes
    content_type: str
    bytes_per_second: int
    finished_at: float = 0.0
    under_way: threading.Event = field(default_factory=threading.Event)
    response: bytes = b""
    error: BaseException | None = None
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.server.port)) as sock:
                sock.sendall(raw_request(self.server.port, self.body, self.content_type))
                step = max(1, self.bytes_per_second // 10)
                for start in range(0, len(self.body), step):
                    sock.sendall(self.body[start : start + step])
                    self.under_way.set()
                    time.sleep(0.1)  # the pace of a slow Tor circuit, not a synchronisation
                self.response, _ = read_until_closed(sock, 60)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        self.finished_at = time.monotonic()


def test_slow_client_does_not_block_others(live_server: ServerFactory, tmp_path: Path) -> None:
    server = live_server()
    marker = f"SLOW{secrets.token_hex(6)}"
    body, content_type = multipart_body([("slow.bin", marked_blob(marker, 30_000))], marker)
    slow = SlowUpload(server, body, content_type, bytes_per_second=4096)  # ~8 s
    slow.thread.start()
    assert slow.under_way.wait(30), "the slow upload did not start"

    finished: list[float] = []
    statuses: list[int] = []

    def quick(i: int) -> None:
        r = submit(server, [(f"quick{i}.jpg", jpeg_with_gps())], f"quick {i}", timeout=60)
        statuses.append(r.status_code)
        finished.append(time.monotonic())

    quick_threads = [threading.Thread(target=quick, args=(i,)) for i in range(5)]
    for t in quick_threads:
        t.start()
    for t in quick_threads:
        t.join(90)
    assert statuses == [200] * 5
    assert slow.thread.is_alive(), "the slow upload should still be sending"
    slow.thread.join(90)
    assert slow.error is None, slow.error
    assert slow.response.startswith(b"HTTP/1.1 200"), slow.response[:200]
    assert max(finished) < slow.finished_at
    sealed = sealed_files(server.storage)
    assert len(sealed) == 6
    messages = [
        open_submission(p, server.editor.identity, tmp_path / f"o{i}").message
        for i, p in enumerate(sealed)
    ]
    assert marker in messages


def test_idle_upload_is_dropped_and_leaves_nothing(live_server: ServerFactory) -> None:
    server = live_server("--idle-timeout", "2")
    marker = f"IDLE{secrets.token_hex(6)}"
    body, content_type = multipart_body([("idle.bin", marked_blob(marker, 4 * MIB))], marker)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        # Enough that the server has started spooling (it feeds its parser by the MiB).
        sock.sendall(raw_request(server.port, body, content_type) + body[: 2 * MIB])
        wait_until(
            lambda: len(server.open_fds_under(server.storage / "spool")) >= 1,
            timeout=30,
            what="the upload to be under way",
        )
        answer, waited = read_until_closed(sock, 30)
    assert not answer.startswith(b"HTTP/1.1 200"), answer[:200]
    print(f"idle upload dropped after {waited:.1f} s")
    wait_until(lambda: server.open_fds_under(server.storage) == [], timeout=10, what="spool closed")
    assert sealed_files(server.storage) == []
    assert_no_leftovers(server)
    assert plaintext_hits([server.storage, server.tmpdir], [marker.encode()]) == []
    assert server.healthy()


def test_idle_connection_without_headers_is_dropped(live_server: ServerFactory) -> None:
    """Slowloris: a connection that never finishes its request headers must not be kept
    open forever (each one holds a socket and a Tor circuit)."""
    server = live_server("--idle-timeout", "2", "--header-timeout", "2")
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        _, waited = read_until_closed(sock, 2 + 10)
    print(f"header-idle connection dropped after {waited:.1f} s")
    assert server.healthy()
