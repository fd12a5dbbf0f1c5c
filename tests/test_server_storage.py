"""What lands on disk: one sealed file with day-rounded times, no plaintext anywhere
in storage or spool, leftovers swept at start-up, nothing kept when sealing fails."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import EditorKeys
from support.asgi_app import Server, assert_error_page, make_server, open_only, server
from support.submissions import all_files, find_marker, multipart, submissions, tree_state

from leakdrop.server import ServerConfig, create_app

__all__ = ["make_server", "server"]  # the fixtures


# --------------------------------------------------------------------------------- storage


def test_stored_file_and_folder_times_are_the_day(server: Server) -> None:
    assert server.submit(multipart([("a.txt", b"x")])).status_code == 200
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    stored = submissions(server.storage)[0]
    assert stored.stat().st_mtime == midnight.timestamp()
    assert stored.stat().st_atime == midnight.timestamp()
    # (A folder's access time moves whenever it is listed, by anyone: only mtime is ours.)
    (mailbox,) = (server.storage / "mailboxes").iterdir()  # the source's, for replies
    for folder in ("submissions", "incoming", "spool", "mailboxes", f"mailboxes/{mailbox.name}"):
        assert (server.storage / folder).stat().st_mtime == midnight.timestamp(), folder
    assert oct(submissions(server.storage)[0].stat().st_mode & 0o777) == "0o600"


def _fs_now_ns(folder: Path, after_ns: int) -> int:
    """The file system's own clock (coarse: one tick per jiffy), once it has moved past
    `after_ns`: a probe file's change time. Polls the clock, not a sleep."""
    probe = folder / "clock-probe"
    while True:
        probe.write_bytes(b"")
        now = probe.stat().st_ctime_ns
        probe.unlink()
        if now > after_ns:
            return now


def test_change_times_do_not_date_each_submission(server: Server, tmp_path: Path) -> None:
    """The inode change time cannot be set, so each commit refreshes every stored
    submission's: a seized storage holds one change time (the latest commit's), not one
    exact time per submission."""
    assert server.submit(multipart([("a.txt", b"first")])).status_code == 200
    (first,) = submissions(server.storage)
    first_change = first.stat().st_ctime_ns
    later = _fs_now_ns(tmp_path, first_change)
    assert server.submit(multipart([("b.txt", b"second")])).status_code == 200
    stored = submissions(server.storage)
    assert len(stored) == 2
    for path in stored:
        assert path.stat().st_ctime_ns >= later, path.name
    # Refreshing the change time leaves the day-rounded times as they were.
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert {p.stat().st_mtime for p in stored} == {midnight.timestamp()}
    assert {p.stat().st_atime for p in stored} == {midnight.timestamp()}


def test_startup_sweeps_leftovers(tmp_path: Path, editor_identity: EditorKeys) -> None:
    storage = tmp_path / "storage"
    for sub in ("submissions", "incoming", "spool"):
        (storage / sub).mkdir(parents=True)
    keep = storage / "submissions" / ("ab" * 16 + ".age")
    keep.write_bytes(b"age-encryption.org/v1\n...")
    (storage / "incoming" / "deadbeef.part").write_bytes(b"partial ciphertext")
    (storage / "spool" / "spool-0123").write_bytes(b"spool ciphertext")
    config = ServerConfig(storage=storage, recipients=(editor_identity.recipient,))
    create_app(config)
    assert tree_state(storage) == {"submissions": [keep.name], "incoming": [], "spool": []}
    assert keep.read_bytes() == b"age-encryption.org/v1\n..."


def test_marker_is_nowhere_in_storage_after_submission(server: Server, tmp_path: Path) -> None:
    marker = "Marker-c0ffee-" + os.urandom(6).hex()
    body = multipart([(f"{marker}.txt", f"secret {marker} inside".encode())], message=marker)
    response = server.submit(body)
    assert response.status_code == 200
    assert find_marker(all_files(server.storage), marker) == []
    opened = open_only(server, tmp_path)
    # ...but it is all there for the editor.
    assert opened.message == marker
    assert opened.manifest["files"][0]["original_name"] == f"{marker}.txt"
    assert marker.encode() in opened.file(opened.manifest["files"][0])


def test_no_plaintext_temporary_files_while_spooling(tmp_path: Path) -> None:
    """The spool's file has no name and holds only ciphertext."""
    from leakdrop.server.spool import MAGIC as SPOOL_MAGIC
    from leakdrop.server.spool import SpoolFile, SpoolKey

    folder = tmp_path / "spool"
    folder.mkdir()
    marker = b"Marker-spool-" + os.urandom(4).hex().encode()
    spool = SpoolFile(folder, SpoolKey())
    data = (marker + b" ") * 100_000
    spool.write(data[: len(data) // 2])
    spool.write(memoryview(data)[len(data) // 2 :])
    spool.finish()
    assert list(folder.iterdir()) == []  # no name, ever
    raw = Path(f"/proc/self/fd/{spool._fd}").read_bytes()
    assert raw.startswith(SPOOL_MAGIC) and len(raw) > len(data)
    assert marker not in raw
    assert spool.sha256 == hashlib.sha256(data).hexdigest() and spool.size == len(data)
    assert spool.read_all() == data
    with spool.open() as reader:
        assert reader.read(5) == data[:5]
        assert reader.read() == data[5:]
    spool.close()
    assert spool.closed


def test_internal_failure_is_a_page_and_logs_no_name(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    # The storage loses its incoming/ folder under the server's feet: sealing fails.
    (server.storage / "incoming").rmdir()
    marker = "Marker-internal-" + os.urandom(4).hex()
    with caplog.at_level("DEBUG"):
        response = server.submit(multipart([(f"{marker}.txt", marker.encode())], marker))
    assert_error_page(response, 500, "fr", "Une erreur s’est produite")
    assert "Rien de cet envoi n’a été conservé." in response.text
    assert "submission failed: FileNotFoundError" in caplog.text
    assert marker not in caplog.text and "incoming" not in caplog.text
    assert list((server.storage / "submissions").iterdir()) == []
    assert list((server.storage / "spool").iterdir()) == []
