"""The finished submissions as the pickup side sees them (standard library only).

    STORAGE/submissions/<id>.age   written by the source-facing server by atomic rename;
                                   ciphertext only, mtime = midnight UTC of the day received

This module never writes a submission: it lists, hashes, opens and deletes them. Only names
of exactly the server's shape (32 lowercase hex digits + ".age", regular files, no symlinks)
are ever touched: an id from a request is checked against that shape before it is joined to
a path, so no request can name anything else on the disk.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from leakdrop._files import fsync_dir
from leakdrop._times import day_timestamp
from leakdrop.layout import ID_RE, SUBMISSIONS, SUFFIX, is_valid_id

__all__ = [
    "ID_RE",
    "SUBMISSIONS",
    "SUFFIX",
    "HashCache",
    "SubmissionFile",
    "delete_submission",
    "is_valid_id",
    "open_submission",
    "scan_submissions",
    "submission_path",
]

_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_HASH_CHUNK: Final = 1024 * 1024

Stamp = tuple[str, int, int, int, int]


def submission_path(storage: Path, submission_id: str) -> Path:
    # The check happens here too, not only in the callers: no path is ever built from an
    # unchecked id ("../", NUL, a 10 000-character name).
    if not is_valid_id(submission_id):
        raise ValueError("invalid submission id")
    return storage / SUBMISSIONS / f"{submission_id}{SUFFIX}"


@dataclass(frozen=True)
class SubmissionFile:
    id: str
    path: Path
    size: int
    mtime: float
    #: (id, device, inode, size, mtime): this version of this file, for caches. The id is
    #: part of it because inodes are reused and padded sizes and day-rounded times collide
    #: by design: without it a new submission could inherit a deleted one's hash. Not the
    #: change time: it is refreshed on every submission at each commit and retention pass
    #: (`leakdrop._times`), and a submission is never rewritten in place (a new one is a
    #: new random id); were one altered on disk, the editor's check of the SHA-256 fails.
    stamp: Stamp

    @property
    def day(self) -> str:
        return datetime.fromtimestamp(self.mtime, UTC).date().isoformat()


def _stamp(sub_id: str, st: os.stat_result) -> Stamp:
    return (sub_id, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def scan_submissions(storage: Path) -> tuple[list[SubmissionFile], int]:
    """Finished submissions (sorted by day, then id) and the number of other entries."""
    folder = storage / SUBMISSIONS
    found: list[SubmissionFile] = []
    other = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            sub_id = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else ""
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted meanwhile (confirm, expiry)
            if not is_valid_id(sub_id) or not stat.S_ISREG(st.st_mode):
                other += 1
                continue
            found.append(
                SubmissionFile(
                    id=sub_id,
                    path=Path(entry.path),
                    size=st.st_size,
                    mtime=st.st_mtime,
                    stamp=_stamp(sub_id, st),
                )
            )
    found.sort(key=lambda s: (s.mtime, s.id))
    return found, other


def open_submission(storage: Path, submission_id: str) -> tuple[int, SubmissionFile] | None:
    """An open read-only descriptor on the submission and its details, or None if absent."""
    path = submission_path(storage, submission_id)
    try:
        # O_NOFOLLOW: a symlink planted in submissions/ is never followed out of it.
        fd = os.open(path, os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW)
    except (FileNotFoundError, IsADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symlink: never followed
            return None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return None
    except BaseException:
        os.close(fd)
        raise
    info = SubmissionFile(submission_id, path, st.st_size, st.st_mtime, _stamp(submission_id, st))
    return fd, info


def delete_submission(path: Path) -> bool:
    """Unlink one submission and make the removal durable; False if it was already gone.

    Nothing remembers it afterwards: there is no index, and the folder's own times are put
    back to midnight so they do not tell when the deletion happened.
    """
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    folder = path.parent
    fsync_dir(folder)
    stamp = day_timestamp()
    with contextlib.suppress(OSError):
        os.utime(folder, (stamp, stamp))
    return True


def _sha256_of(path: Path, stamp: Stamp) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb", buffering=0) as fh:
        if _stamp(stamp[0], os.fstat(fh.fileno())) != stamp:
            return None  # replaced meanwhile: hash what is listed, or nothing
        digest = hashlib.sha256()
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
        return digest.hexdigest()


class HashCache:
    """SHA-256 of each listed ciphertext, computed once per file version, in RAM only.

    Entries for files that are gone are dropped at every listing and at deletion, so the
    cache never outlives the files it describes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[Stamp, str] = {}

    def get(self, sub: SubmissionFile) -> str | None:
        with self._lock:
            cached = self._known.get(sub.stamp)
        if cached is not None:
            return cached
        digest = _sha256_of(sub.path, sub.stamp)
        if digest is not None:
            with self._lock:
                self._known[sub.stamp] = digest
        return digest

    def keep_only(self, present: list[SubmissionFile]) -> None:
        stamps = {s.stamp for s in present}
        with self._lock:
            for stamp in [k for k in self._known if k not in stamps]:
                del self._known[stamp]

    def forget(self, sub: SubmissionFile) -> None:
        with self._lock:
            self._known.pop(sub.stamp, None)
