"""Retention: old submissions are deleted, nothing else; only counts are reported."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from support.pickup import make_submission, midnight_utc, run_leakdrop

from leakdrop.pickup.expiry import expire_submissions


def _storage(tmp_path: Path, editor_identity: Any) -> tuple[Path, list[Path], list[Path]]:
    storage = tmp_path / "storage"
    recipients = [editor_identity.recipient]
    old = [make_submission(storage, recipients, days_ago=d) for d in (30, 31, 400)]
    young = [make_submission(storage, recipients, days_ago=d) for d in (0, 1, 29)]
    return storage, old, young


def test_expire_command_deletes_old_only(tmp_path: Path, editor_identity: Any) -> None:
    storage, old, young = _storage(tmp_path, editor_identity)
    folder = storage / "submissions"
    # Things that are not submissions are never touched, however old.
    stranger = folder / "README.txt"
    stranger.write_text("admin notes")
    os.utime(stranger, (midnight_utc(100), midnight_utc(100)))
    target = tmp_path / "elsewhere.age"
    target.write_bytes(b"not in storage")
    os.utime(target, (midnight_utc(100), midnight_utc(100)))
    link = folder / ("ab" * 16 + ".age")
    link.symlink_to(target)
    os.utime(link, (midnight_utc(100), midnight_utc(100)), follow_symlinks=False)

    result = run_leakdrop("expire", "--storage", storage, "--days", "30")
    assert result.returncode == 0, result.stderr
    assert "expired 3 submission(s), 3 kept" in result.stdout
    assert "2 unexpected entries left alone" in result.stdout
    for path in old:
        assert not path.exists()
        # Counts only: no id, no day, no size in what the admin sees.
        assert path.stem not in result.stdout + result.stderr
    for path in young:
        assert path.exists()
    assert stranger.exists() and link.is_symlink() and target.exists()

    again = run_leakdrop("expire", "--storage", storage, "--days", "30")
    assert "expired 0 submission(s), 3 kept" in again.stdout


def test_default_and_env_retention(tmp_path: Path, editor_identity: Any) -> None:
    storage, old, young = _storage(tmp_path, editor_identity)
    default = run_leakdrop("expire", env={"LEAKDROP_STORAGE": str(storage)})
    assert "expired 3 submission(s), 3 kept (retention 30 days)" in default.stdout
    assert not any(p.exists() for p in old)
    from_env = run_leakdrop("expire", "--storage", storage, env={"LEAKDROP_RETENTION_DAYS": "2"})
    assert "expired 1 submission(s), 2 kept (retention 2 days)" in from_env.stdout
    assert [p.exists() for p in young] == [True, True, False]


@pytest.mark.parametrize("days", ["0", "-1", "abc", "99999"])
def test_bad_days_refused(tmp_path: Path, editor_identity: Any, days: str) -> None:
    storage, old, young = _storage(tmp_path, editor_identity)
    result = run_leakdrop("expire", "--storage", storage, "--days", days)
    assert result.returncode == 2
    assert all(p.exists() for p in old + young)


def test_boundary_is_whole_days(tmp_path: Path, editor_identity: Any) -> None:
    storage = tmp_path / "storage"
    sub = make_submission(storage, [editor_identity.recipient], days_ago=0)
    day = midnight_utc(0)
    # Received today: kept for 30 days to the second, deleted from then on.
    assert expire_submissions(storage, 30, now=day + 30 * 86400 - 1).expired == 0
    assert sub.exists()
    assert expire_submissions(storage, 30, now=day + 30 * 86400).expired == 1
    assert not sub.exists()


def _fs_now_ns(folder: Path, after_ns: int) -> int:
    """The file system's own (coarse) clock once it has moved past `after_ns`."""
    probe = folder / "clock-probe"
    while True:
        probe.write_bytes(b"")
        now = probe.stat().st_ctime_ns
        probe.unlink()
        if now > after_ns:
            return now


def test_pass_refreshes_change_times_of_what_it_keeps(tmp_path: Path, editor_identity: Any) -> None:
    """A change time cannot be set back to the day: each pass gives every kept submission
    (and the folder) a fresh one, so none still tells the second it arrived."""
    storage, _, young = _storage(tmp_path, editor_identity)
    newest = max(p.stat().st_ctime_ns for p in young)
    later = _fs_now_ns(tmp_path, newest)
    mtimes = {p: p.stat().st_mtime_ns for p in young}
    expire_submissions(storage, 30)
    for path in young:
        st = path.stat()
        assert st.st_ctime_ns >= later, path.name
        # Retention still counts from the day the server wrote, untouched.
        assert st.st_mtime_ns == mtimes[path]
        assert st.st_atime_ns == mtimes[path]
    assert (storage / "submissions").stat().st_ctime_ns >= later


def test_listener_log_never_counts_what_is_waiting(tmp_path: Path, editor_identity: Any) -> None:
    """The pickup logs a line per retention pass, timestamped by whatever collects its log
    (Docker): a count of waiting submissions per pass would date each arrival to the hour."""
    from leakdrop.pickup.app import PickupApp, PickupConfig

    storage, _, young = _storage(tmp_path, editor_identity)
    app = PickupApp(PickupConfig(storage=storage, tokens=tmp_path / "tokens.json"))
    line = app.expire(30)
    assert "expired 3 submission(s)" in line
    assert "kept" not in line and "3 kept" not in line
    # Nothing expired: nothing worth a line that would only say "still waiting".
    assert app.expire(30) == ""
    assert all(p.exists() for p in young)
