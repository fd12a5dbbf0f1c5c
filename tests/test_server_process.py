"""`leakdrop serve` as a real process on a loopback port: what a source's browser meets.

Checks what only a real process shows: its logs and temporary folder, its open (nameless)
spool files while an upload is in progress, the refusal to start, the demo mode, and HTTP
framing faults handled by uvicorn itself.
"""

from __future__ import annotations

import http.client
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import EditorKeys
from support.submissions import (
    BOUNDARY,
    CONTENT_TYPE,
    age_open,
    all_files,
    find_marker,
    multipart,
    part_head,
    submissions,
    tree_state,
)

from leakdrop.server.i18n import STRINGS
from leakdrop.server.spool import MAGIC as SPOOL_MAGIC

LEAKDROP = str(Path(sys.executable).with_name("leakdrop"))  # the installed entry point
EMPTY_TREE: dict[str, list[str]] = {"submissions": [], "incoming": [], "spool": []}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    port: int
    storage: Path
    tmpdir: Path
    stdout: Path
    stderr: Path

    def get(self, path: str) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", path)
        return conn.getresponse()

    def post(self, body: bytes, lang: str = "en") -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request(
            "POST", f"/submit?lang={lang}", body=body, headers={"Content-Type": CONTENT_TYPE}
        )
        response = conn.getresponse()
        text = response.read().decode()
        conn.close()
        return response.status, text

    def spool_fds(self) -> list[Path]:
        """The server's open files under the storage (nameless spool files included)."""
        found = []
        fd_dir = Path(f"/proc/{self.proc.pid}/fd")
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith(str(self.storage)):
                found.append(fd)
        return found

    def healthy(self) -> bool:
        try:
            return self.get("/healthz").read() == b"ok"
        except OSError:
            return False


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []
    # A short TMPDIR (the cleaning fork server's socket must fit in it, see ServerPool).
    short_tmp = Path(tempfile.mkdtemp(prefix="ld-"))

    def start(
        *args: str, storage: Path, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Running:
        port = free_port()
        tmpdir = short_tmp / f"tmp-{port}"
        tmpdir.mkdir()
        stdout, stderr = tmp_path / f"out-{port}.log", tmp_path / f"err-{port}.log"
        full_env = {
            **os.environ,
            "TMPDIR": str(tmpdir),
            "LEAKDROP_PORT": str(port),
            "LEAKDROP_MIN_FREE_BYTES": "0",
            **(env or {}),
        }
        with stdout.open("wb") as out, stderr.open("wb") as err:
            proc = subprocess.Popen(
                [LEAKDROP, "serve", *args], stdout=out, stderr=err, env=full_env, cwd=cwd
            )
        running = Running(proc, port, storage, tmpdir, stdout, stderr)
        started.append(running)
        wait_until(lambda: running.healthy() or proc.poll() is not None, 60, "the server to start")
        assert proc.poll() is None, stderr.read_text()
        return running

    yield start
    for running in started:
        running.proc.terminate()
        try:
            running.proc.wait(10)
        except subprocess.TimeoutExpired:
            running.proc.kill()
            running.proc.wait()
    shutil.rmtree(short_tmp, ignore_errors=True)


def test_real_server_leaves_no_plaintext_anywhere(
    start_server: Callable[..., Running], editor_identity: EditorKeys, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    server = start_server(
        storage=storage,
        env={"LEAKDROP_KEYS": str(editor_identity.keys_dir), "LEAKDROP_STORAGE": str(storage)},
    )
    # No Server or Date header from uvicorn either.
    index = server.get("/?lang=en")
    assert index.status == 200
    headers = {k.lower() for k, _ in index.getheaders()}
    assert "server" not in headers and "date" not in headers and "set-cookie" not in headers
    assert "content-security-policy" in headers

    marker = "Marker-" + os.urandom(8).hex()
    line = f"confidential {marker} line\n".encode()
    content = line * ((8 * 1024 * 1024) // len(line))
    head = part_head("files", f"{marker}-minutes.txt")
    tail = b"\r\n" + part_head("message") + f"Message {marker}".encode()
    tail += f"\r\n--{BOUNDARY}--\r\n".encode()
    body = head + content + tail

    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    sock.sendall(
        (
            f"POST /submit?lang=en HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: {CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
    )
    split = len(head) + 6 * 1024 * 1024
    sock.sendall(body[:split])

    # Mid-upload: the spool file exists (nameless) and already holds megabytes, all of it
    # ciphertext; nothing with the marker exists anywhere on disk.
    def spooled_enough() -> bool:
        return any(os.stat(fd).st_size > 4 * 1024 * 1024 for fd in server.spool_fds())

    wait_until(spooled_enough, 60, "the upload to reach the spool")
    for fd in server.spool_fds():
        data = fd.read_bytes()
        assert data.startswith(SPOOL_MAGIC)
        assert marker.encode() not in data and b"confidential" not in data
    assert tree_state(storage)["spool"] == []  # no names in the spool folder
    assert find_marker(all_files(storage) + all_files(server.tmpdir), marker) == []

    sock.sendall(body[split:])
    response = b""
    while b"</html>" not in response:
        chunk = sock.recv(65536)
        if not chunk:
            break
        response += chunk
    sock.close()
    assert response.startswith(b"HTTP/1.1 200"), response[:300]
    assert b"Receipt" in response

    # After: one sealed file; the marker is nowhere in storage, temp folder or logs.
    assert len(submissions(storage)) == 1
    server.proc.terminate()
    server.proc.wait(30)
    logs = [server.stdout, server.stderr]
    scanned = all_files(storage) + all_files(server.tmpdir) + logs
    assert find_marker(scanned, marker) == []
    log_text = server.stderr.read_text() + server.stdout.read_text()
    # No access log: no request line, no client address.
    assert "POST" not in log_text and "/submit" not in log_text and "GET /" not in log_text
    assert not re.search(r"127\.0\.0\.1:\d+ -", log_text)
    assert tree_state(storage)["incoming"] == [] and tree_state(storage)["spool"] == []

    # The marker was really submitted: the editor finds it in all three places.
    opened = age_open(submissions(storage)[0], editor_identity.identity_file, tmp_path / "o")
    entry = opened.manifest["files"][0]
    assert entry["original_name"] == f"{marker}-minutes.txt"
    assert opened.file(entry) == content
    assert opened.message == f"Message {marker}"


def test_real_server_framing_faults_leave_nothing(
    start_server: Callable[..., Running], editor_identity: EditorKeys, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    server = start_server(
        "--keys",
        str(editor_identity.keys_dir),
        "--storage",
        str(storage),
        "--max-submission-bytes",
        "4M",
        storage=storage,
    )
    # Oversize: the body is read to its end (discarded) so the browser shows the page.
    status, text = server.post(multipart([("big.bin", os.urandom(6 * 1024 * 1024))]))
    assert status == 413 and "larger than allowed" in text and '<html lang="en">' in text

    def quiet() -> bool:
        return not server.spool_fds() and tree_state(storage) == EMPTY_TREE

    full = multipart([("a.bin", os.urandom(3 * 1024 * 1024))])
    request_head = (
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: {n}\r\n\r\n"
    )
    # A client that disconnects halfway.
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(request_head.format(ct=CONTENT_TYPE, n=len(full)).encode())
    sock.sendall(full[: len(full) // 2])
    wait_until(lambda: bool(server.spool_fds()), 30, "the upload to start")
    sock.close()
    wait_until(quiet, 30, "the aborted upload to be dropped")

    # A Content-Length that claims more than is sent, then end of stream.
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(request_head.format(ct=CONTENT_TYPE, n=len(full) + 5000).encode())
    sock.sendall(full)
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(30)
    while sock.recv(65536):
        pass
    sock.close()
    wait_until(quiet, 30, "the short upload to be dropped")

    # A Content-Length that claims less: the extra bytes are not part of this request.
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(request_head.format(ct=CONTENT_TYPE, n=len(full) - 100).encode() + full)
    sock.settimeout(30)
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    sock.close()
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    wait_until(quiet, 30, "the lying upload to be dropped")

    # The server still serves, and a good upload still lands.
    status, _ = server.post(multipart([("ok.txt", b"ok")]))
    assert status == 200 and len(submissions(storage)) == 1


@pytest.mark.parametrize(
    "problem", ["missing-folder", "empty-folder", "invalid-key", "private-key", "no-keys-option"]
)
def test_refuses_to_start_with_bad_keys(
    tmp_path: Path, editor_identity: EditorKeys, problem: str
) -> None:
    keys = tmp_path / "server-keys"
    secret = str(editor_identity.identity)
    if problem != "missing-folder":
        keys.mkdir()
    if problem == "invalid-key":
        (keys / "editor.txt").write_text("age1notavalidkey\n")
    if problem == "private-key":
        (keys / "editor.txt").write_text(f"{editor_identity.recipient}\n")
        (keys / "oops.txt").write_text(f"# created by mistake\n{secret}\n")
    args = [LEAKDROP, "serve", "--storage", str(tmp_path / "st"), "--port", str(free_port())]
    if problem != "no-keys-option":
        args += ["--keys", str(keys)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKDROP_")}
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1, result.stderr
    assert "refusing to start" in result.stderr
    assert secret not in result.stderr and secret not in result.stdout
    if problem == "private-key":
        assert "PRIVATE key" in result.stderr
    # Nothing was created in the storage folder.
    assert not (tmp_path / "st").exists()


def test_refuses_to_start_where_its_cleaning_workers_cannot(
    tmp_path: Path, editor_identity: EditorKeys
) -> None:
    """Under a TMPDIR too long for the fork server's socket, every file would be kept not
    cleaned: the server says what to change instead of starting."""
    long_tmp = tmp_path / ("t" * 100)
    long_tmp.mkdir()
    storage = tmp_path / "st"
    args = [LEAKDROP, "serve", "--keys", str(editor_identity.keys_dir), "--storage", str(storage)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKDROP_")}
    env |= {"TMPDIR": str(long_tmp), "LEAKDROP_PORT": str(free_port())}
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1, result.stderr
    assert "refusing to start" in result.stderr
    assert "set TMPDIR to a folder of at most 75 bytes" in result.stderr
    assert not storage.exists()


def test_workers_that_cannot_start_give_the_sandbox_reason(tmp_path: Path) -> None:
    long_tmp = tmp_path / ("t" * 100)
    long_tmp.mkdir()
    script = (
        "import scrubbers\n"
        "if __name__ == '__main__':\n"
        "    report = scrubbers.scrub_sandboxed(b'some text\\n')\n"
        "    print(report.cleaned, report.reason, report.data == b'some text\\n')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TMPDIR": str(long_tmp)},
    )
    assert result.stdout.strip() == (
        "False the cleaning sandbox is not available on this server True"
    ), result.stderr


def test_demo_mode(start_server: Callable[..., Running], tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = {k: "" for k in ("LEAKDROP_KEYS", "LEAKDROP_STORAGE")}
    server = start_server("--demo", cwd=work, env=env, storage=work / "demo" / "storage")
    demo = work / "demo"
    identity = demo / "identity.txt"
    assert oct(identity.stat().st_mode & 0o777) == "0o600"
    assert "AGE-SECRET-KEY-1" in identity.read_text()
    assert re.search(r"^age1[0-9a-z]+$", (demo / "keys" / "demo.txt").read_text(), re.M)
    banner = server.stderr.read_text()
    assert "DEMO MODE" in banner and str(identity.resolve()) in banner
    status, text = server.post(multipart([("demo.txt", b"hello demo")]), lang="fr")
    assert status == 200 and '<html lang="fr">' in text
    # The pages say so: nobody mistakes the demo for a real drop.
    assert 'class="demo-banner"' in text and STRINGS["fr"]["demo_text"] in text
    found = submissions(demo / "storage")
    assert len(found) == 1
    opened = age_open(found[0], identity, tmp_path / "opened")
    assert opened.file(opened.manifest["files"][0]) == b"hello demo"
    # The banner's command works as printed, from another folder and with no PATH set up.
    line = next(x for x in banner.splitlines() if "Open them:" in x)
    words = shlex.split(line.split("Open them:", 1)[1])
    assert Path(words[0]).is_absolute() and Path(words[0]).is_file()
    out = tmp_path / "banner-open"
    words[words.index("OUT")] = str(out)
    done = subprocess.run(words, cwd=tmp_path, capture_output=True, text=True, env={})
    assert done.returncode == 0, done.stderr
    assert any(p.read_bytes() == b"hello demo" for p in out.rglob("*") if p.is_file())
    # A second start reuses the same identity (earlier demo submissions stay readable).
    before = identity.read_text()
    server.proc.terminate()
    server.proc.wait(30)
    again = start_server("--demo", cwd=work, env=env, storage=work / "demo" / "storage")
    assert identity.read_text() == before
    assert again.healthy()


def closed_after(sock: socket.socket, bound: float, dribble: bytes = b"") -> tuple[bytes, float]:
    """Wait until the server closes `sock` (fail after `bound` seconds), sending one byte
    of `dribble` every 0.25 s meanwhile. Returns what the server sent, and when it closed."""
    start = time.monotonic()
    received = b""
    sent = 0
    sock.settimeout(0.25)
    while time.monotonic() - start < bound:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if sent < len(dribble):
                try:
                    sock.send(dribble[sent : sent + 1])
                except (BrokenPipeError, ConnectionResetError):
                    return received, time.monotonic() - start
                sent += 1
            continue
        except ConnectionResetError:
            return received, time.monotonic() - start
        if not chunk:
            return received, time.monotonic() - start
        received += chunk
    raise AssertionError(f"connection still open after {bound} s (sent {sent} bytes)")


def read_response(sock: socket.socket) -> bytes:
    """One HTTP response with a Content-Length, read off a kept-alive connection."""
    sock.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_connection_that_never_finishes_its_headers_is_closed(
    start_server: Callable[..., Running], editor_identity: EditorKeys, tmp_path: Path
) -> None:
    """Slowloris: a partial request line and then silence, a header dribbled one byte at a
    time, or a kept-alive connection that starts a second request and stops: each holds a
    socket (behind Tor, a circuit) until the header deadline closes it. Honest requests,
    even slow ones, and a body that takes longer than the deadline, still work."""
    storage = tmp_path / "storage"
    deadline = 2.0
    server = start_server(
        "--keys",
        str(editor_identity.keys_dir),
        "--storage",
        str(storage),
        "--header-timeout",
        str(deadline),
        storage=storage,
    )
    bound = deadline + 10  # the timer, plus a loaded CI machine
    address = ("127.0.0.1", server.port)

    with socket.create_connection(address) as sock:
        sock.sendall(b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        answer, waited = closed_after(sock, bound)
    assert answer == b"", answer[:200]
    print(f"silent partial request closed after {waited:.1f} s")

    with socket.create_connection(address) as sock:
        # Bytes keep coming, but the headers never end: arriving bytes do not reset the clock.
        answer, waited = closed_after(
            sock, bound, dribble=b"GET / HTTP/1.1\r\nX-Pad: " + b"a" * 200
        )
    assert answer == b"", answer[:200]
    print(f"dribbling client closed after {waited:.1f} s")

    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = read_response(sock)
        assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"ok"), first
        # The kept-alive connection starts a second request and goes quiet. (uvicorn's own
        # keep-alive timer stops at the first byte of it.)
        sock.sendall(b"GET / HTTP/1.1\r\nHo")
        answer, waited = closed_after(sock, bound)
    assert answer == b"", answer[:200]

    # A slow but honest client: headers in pieces within the deadline, then a body sent
    # over more time than the header deadline (the body is under the idle timeout only).
    body = multipart([("slow.txt", b"slow but honest\n" * 64)], "slow")
    head = (
        f"POST /submit?lang=en HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(address) as sock:
        sock.sendall(head[:20])
        time.sleep(0.3)  # pacing of a slow circuit, not a synchronisation
        sock.sendall(head[20:])
        pieces = 8
        step = -(-len(body) // pieces)
        for start in range(0, len(body), step):
            time.sleep(deadline / pieces * 1.5)  # pacing: the body takes 1.5 x the deadline
            sock.sendall(body[start : start + step])
        reply = read_response(sock)
    assert reply.startswith(b"HTTP/1.1 200") and b"Receipt" in reply, reply[:300]
    assert len(submissions(storage)) == 1
    assert server.healthy()
