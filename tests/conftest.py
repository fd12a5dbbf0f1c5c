"""Shared, generic fixtures for the whole suite."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from leakdrop.sealing import X25519Identity, X25519Recipient
from leakdrop.submission import FileEntry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path | None:
    """The project's shared data (../shared, or $LEAKDROP_SHARED).

    None where it is absent (tests then use self-made fixtures); under CI=true a missing
    shared folder fails the test instead.
    """
    env = os.environ.get("LEAKDROP_SHARED")
    path = Path(env) if env else REPO.parent / "shared"
    if path.is_dir():
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"shared data folder {path} is missing (CI=true)")
    return None


@dataclass(frozen=True)
class EditorKeys:
    """A fresh editor: identity, its plain identity file, and a server keys/ folder."""

    identity: X25519Identity
    recipient: X25519Recipient
    identity_file: Path
    keys_dir: Path


@pytest.fixture
def editor_identity(tmp_path: Path) -> EditorKeys:
    identity = X25519Identity.generate()
    recipient = identity.recipient()
    identity_file = tmp_path / "editor-identity.txt"
    identity_file.write_text(f"# public key: {recipient}\n{identity}\n")
    identity_file.chmod(0o600)
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    (keys_dir / "editor.txt").write_text(f"# test editor\n{recipient}\n")
    return EditorKeys(identity, recipient, identity_file, keys_dir)


@pytest.fixture
def make_file_entry() -> Callable[..., FileEntry]:
    """Build a `FileEntry` over in-memory bytes (size and SHA-256 computed)."""

    def make(
        name: str,
        data: bytes,
        *,
        cleaned: bool = True,
        detected_type: str = "txt",
        media_type: str = "text/plain",
        reason: str | None = None,
        removed: list[str] | None = None,
        note: str | None = None,
    ) -> FileEntry:
        return FileEntry(
            stored_name=name,
            original_name=name,
            detected_type=detected_type,
            media_type=media_type,
            cleaned=cleaned,
            reason=reason,
            removed=list(removed or []),
            note=note,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            open=lambda: io.BytesIO(data),
        )

    return make


@dataclass(frozen=True)
class PtyResult:
    returncode: int
    output: bytes


def _run_in_pty(
    argv: list[str],
    answers: list[tuple[bytes, bytes]],
    *,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> PtyResult:
    """Run `argv` with a pseudo-terminal as its controlling terminal.

    Each (prompt, reply) pair waits for `prompt` in the output, then types `reply`: how a
    person answers a passphrase prompt that reads /dev/tty (age, getpass).
    """
    import pty
    import select
    import signal
    import time

    pid, fd = pty.fork()
    if pid == 0:  # child
        try:
            os.execvpe(argv[0], argv, env if env is not None else dict(os.environ))
        finally:
            os._exit(127)
    output = b""
    seen = 0
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                raise TimeoutError(f"{argv[0]} still running; output so far: {output!r}")
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            output += data
            while pending and pending[0][0] in output[seen:]:
                prompt, reply = pending.pop(0)
                seen = output.index(prompt, seen) + len(prompt)
                os.write(fd, reply)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return PtyResult(os.waitstatus_to_exitcode(status), output)


@pytest.fixture
def run_in_pty() -> Callable[..., PtyResult]:
    return _run_in_pty


# The quick lane (`scripts/dev test --quick`) runs every test not marked slow. These modules
# are slow as a whole: they start real servers under load, browsers, podman builds, fuzzers,
# fresh virtual environments, or generate large media. Listed here, in one place, so that
# the lane's contents are visible at a glance; a test elsewhere marks itself.
SLOW_MODULES = frozenset(
    {
        "test_browser", "test_browser_mailbox", "test_browser_refusal", "test_pages_a11y",
        "test_docker_image", "test_docker_run", "test_docker_tor", "test_load", "test_memory",
        "test_faults", "test_fuzz_submit",
        "test_scrub_fuzz", "test_hostile", "test_fetch_hostile", "test_bundle",
        "test_offline_install", "test_editor_e2e", "test_mailbox_e2e", "test_server_process",
        "test_scrub_streamed", "test_scrub_corpus", "test_scrub_video", "test_pq",
    }
)  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
