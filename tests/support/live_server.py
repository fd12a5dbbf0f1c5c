"""The real `leakdrop serve` process on a loopback port, for the tests under pressure
(browser, accessibility, load, faults, hostile files). No tests here.

Everything a test needs to treat the server as a black box: start it (with a fresh editor
key, its own TMPDIR and log files), wait for it by polling, kill it, send multipart bodies,
open what it sealed with the editor's identity (`leakdrop.submission.open_submission`, the
code of `leakdrop open`), and look for
plaintext where none may be.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from leakdrop import submission
from leakdrop.sealing import X25519Identity

REPO = Path(__file__).resolve().parents[2]
#: The installed entry point of the interpreter running the tests (its venv's, whichever).
LEAKDROP = str(Path(sys.executable).with_name("leakdrop"))
ARTIFACTS = REPO / "test-artifacts"
STORAGE_DIRS = ("submissions", "incoming", "spool")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll `condition` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


# ----------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class Editor:
    identity: X25519Identity
    identity_file: Path
    keys_dir: Path


def make_editor(folder: Path) -> Editor:
    folder.mkdir(parents=True, exist_ok=True)
    identity = X25519Identity.generate()
    identity_file = folder / "editor-identity.txt"
    identity_file.write_text(f"{identity}\n")
    identity_file.chmod(0o600)
    keys_dir = folder / "keys"
    keys_dir.mkdir()
    (keys_dir / "editor.txt").write_text(f"{identity.recipient()}\n")
    return Editor(identity, identity_file, keys_dir)


# ----------------------------------------------------------------------------- server


@dataclass
class LiveServer:
    """One `leakdrop serve` process; `start()` may be called again after `kill()`."""

    workdir: Path
    editor: Editor
    storage: Path
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0
    #: The server's TMPDIR, when not ``workdir/tmp``: see `ServerPool`.
    tmp_root: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tmpdir(self) -> Path:
        return self.tmp_root or self.workdir / "tmp"

    @property
    def log(self) -> Path:
        return self.workdir / f"server-{self.runs}.log"

    def logs(self) -> str:
        return "\n".join(
            p.read_text("utf-8", "replace") for p in sorted(self.workdir.glob("server-*.log"))
        )

    def start(self, timeout: float = 60.0) -> LiveServer:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.port = self.port or free_port()
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        self.runs += 1
        env = {
            **os.environ,
            # Anything the server (or a library under it) writes to "temporary" files lands
            # here, where the tests look for plaintext.
            "TMPDIR": str(self.tmpdir),
            **self.env,
        }
        argv = [
            LEAKDROP,
            "serve",
            "--keys",
            str(self.editor.keys_dir),
            "--storage",
            str(self.storage),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *self.args,
        ]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"leakdrop serve exited at start:\n{self.logs()}")
            return self.healthy()

        wait_until(up, timeout=timeout, what="the server to answer /healthz")
        return self

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=5).text == "ok"
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: what a power cut or the OOM killer does (no clean-up runs)."""
        if self.proc is not None and self.proc.poll() is None:
            # The whole session: the server and its scrub workers / fork server.
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
        # Leftover workers of the session (the fork server exits with its parent).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def open_sockets(self) -> int:
        """How many sockets the server holds (its listener and every connection)."""
        assert self.proc is not None
        count = 0
        for fd in Path(f"/proc/{self.proc.pid}/fd").iterdir():
            try:
                count += os.readlink(fd).startswith("socket:")
            except OSError:
                continue
        return count

    def open_fds_under(self, root: Path) -> list[str]:
        """Targets of the server's open descriptors inside `root` (nameless spools too)."""
        assert self.proc is not None
        found = []
        for fd in Path(f"/proc/{self.proc.pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith(str(root)):
                found.append(target)
        return found


ServerFactory = Callable[..., LiveServer]


class ServerPool:
    """Starts servers under `base` (each with its own editor key) and stops them all."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.started: list[LiveServer] = []
        # The servers' TMPDIR: a short folder, not one under `base`. The cleaning fork
        # server's socket lives there and must fit in 107 bytes (`leakdrop serve` refuses
        # to start otherwise), which pytest's per-test folders exceed under pytest-xdist.
        self.tmp_base = Path(tempfile.mkdtemp(prefix="ld-"))

    def __call__(
        self, *args: str, storage: Path | None = None, env: dict[str, str] | None = None
    ) -> LiveServer:
        workdir = self.base / f"server{len(self.started)}"
        editor = make_editor(workdir / "editor")
        server = LiveServer(
            workdir=workdir,
            editor=editor,
            storage=storage or workdir / "storage",
            args=args,
            tmp_root=self.tmp_base / str(len(self.started)),
            # Test storages sit on whatever disk CI has: the free-space refusal is tested
            # on its own (test_faults), with a file system of known size.
            env={"LEAKDROP_MIN_FREE_BYTES": "0", **(env or {})},
        )
        self.started.append(server)
        return server.start()

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()
        shutil.rmtree(self.tmp_base, ignore_errors=True)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Factory: ``live_server(*extra_args, storage=None, env=None)`` starts a server."""
    pool = ServerPool(tmp_path)
    yield pool
    pool.stop_all()


# ----------------------------------------------------------------------------- requests


def multipart_body(
    files: Sequence[tuple[str, bytes]],
    message: str | None = None,
    boundary: str | None = None,
) -> tuple[bytes, str]:
    """(body, content type) as a browser sends the form."""
    boundary = boundary or "----leakdropProof" + secrets.token_hex(8)
    out = bytearray()
    for name, data in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        out += data + b"\r\n"
    if message is not None:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="message"\r\n\r\n{message}\r\n'
        ).encode()
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def submit(
    server: LiveServer,
    files: Sequence[tuple[str, bytes]],
    message: str | None = None,
    *,
    lang: str = "en",
    timeout: float = 120.0,
) -> httpx.Response:
    body, content_type = multipart_body(files, message)
    return httpx.post(
        f"{server.url}/submit?lang={lang}",
        content=body,
        headers={"Content-Type": content_type},
        timeout=timeout,
    )


# ----------------------------------------------------------------------------- opening


@dataclass
class Opened:
    manifest: dict[str, Any]
    root: Path

    @property
    def message(self) -> str | None:
        path = self.root / "message.txt"
        return path.read_text("utf-8") if path.exists() else None

    @property
    def entries(self) -> list[dict[str, Any]]:
        return list(self.manifest["files"])

    def by_original(self, original_name: str) -> dict[str, Any]:
        found = [e for e in self.entries if e["original_name"] == original_name]
        assert len(found) == 1, (original_name, [e["original_name"] for e in self.entries])
        return found[0]

    def path(self, entry: dict[str, Any]) -> Path:
        return self.root / str(entry["name"])

    def data(self, entry: dict[str, Any]) -> bytes:
        return self.path(entry).read_bytes()


def open_submission(sealed: Path, identity: X25519Identity, dest: Path) -> Opened:
    """Decrypt and extract as `leakdrop open` does (any tampering or truncation raises)."""
    dest.mkdir(parents=True)
    with sealed.open("rb") as src:
        submission.open_submission(src, [identity], dest)
    manifest = json.loads((dest / "manifest.json").read_text("utf-8"))
    return Opened(manifest, dest)


def sealed_files(storage: Path) -> list[Path]:
    return sorted((storage / "submissions").iterdir())


def storage_listing(storage: Path) -> dict[str, list[str]]:
    return {d: sorted(p.name for p in (storage / d).iterdir()) for d in STORAGE_DIRS}


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def plaintext_hits(roots: Iterable[Path], needles: Iterable[bytes]) -> list[str]:
    """Files under `roots` whose name or bytes hold any needle."""
    wanted = [n for n in needles if n]
    hits = []
    for root in roots:
        if not root.exists():
            continue
        for path in files_under(root):
            if any(n.decode("latin-1") in path.name for n in wanted):
                hits.append(f"name: {path}")
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            for needle in wanted:
                if needle in data:
                    hits.append(f"{path}: {needle!r}")
    return hits


# ----------------------------------------------------------------------------- files


def simple_docx(body_text: str, author: str) -> bytes:
    """A minimal, valid Word document: visible text and a core.xml author."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    members = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
            'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
            "</Relationships>"
        ),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<w:document xmlns:w="{w}"><w:body><w:p><w:r><w:t>{body_text}</w:t></w:r></w:p>'
            "</w:body></w:document>"
        ),
        "docProps/core.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
            'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:creator>{author}</dc:creator><cp:lastModifiedBy>{author}</cp:lastModifiedBy>"
            '<dcterms:created xsi:type="dcterms:W3CDTF">2024-05-06T07:08:09Z</dcterms:created>'
            "</cp:coreProperties>"
        ),
    }
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2024, 5, 6, 7, 8, 10)), text)
    return sink.getvalue()


def docx_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("word/document.xml").decode("utf-8")


def exiftool_json(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["exiftool", "-json", "-a", "-G1", "-ee", "-m", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)[0]
    return result
