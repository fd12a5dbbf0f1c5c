"""The storage folder: the only place the server writes.

    STORAGE/submissions/<random>.age   finished submissions (ciphertext only)
    STORAGE/incoming/<random>.part     a sealed submission being written
    STORAGE/spool/                     nameless encrypted upload spool (see spool.py)

A submission gets its final name only by an atomic rename, after its bytes and then the
folder are fsync'ed: whatever is in ``submissions/`` is complete. ``incoming/`` and
``spool/`` are emptied at every start (leftovers of a crash; all ciphertext anyway).

Times: every file and folder time the server sets is midnight UTC of the day, so the
storage does not tell when in the day a source came. The inode change time, which no
program can set, is refreshed on every stored submission at each commit
(`leakdrop._times.blur_change_times`): all of them then carry the latest commit's, instead
of each its own exact second. That one time remains (also on the folders): mount the
storage on an encrypted volume.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from leakdrop._files import fsync_dir
from leakdrop._times import blur_change_times, day_timestamp
from leakdrop.layout import INCOMING, PART_SUFFIX, SPOOL, SUBMISSIONS, SUFFIX
from leakdrop.server.errors import ConfigError

log = logging.getLogger("leakdrop.server")

_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)


def today() -> str:
    """The day (UTC) in the manifest: no finer time is recorded anywhere."""
    return datetime.now(UTC).date().isoformat()


def _normalise_time(path: Path) -> None:
    stamp = day_timestamp()
    os.utime(path, (stamp, stamp), follow_symlinks=False)


@dataclass
class Incoming:
    """A submission being sealed: an exclusive new file in ``incoming/``."""

    fd: int
    path: Path
    name: str


class Storage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.submissions = root / SUBMISSIONS
        self.incoming = root / INCOMING
        self.spool = root / SPOOL

    def prepare(self) -> int:
        """Create the layout (0700) and sweep leftovers; returns how many were removed."""
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            for folder in (self.submissions, self.incoming, self.spool):
                folder.mkdir(mode=0o700, exist_ok=True)
                if folder.is_symlink() or not folder.is_dir():
                    raise ConfigError(f"{folder}: not a folder")
            removed = self.sweep()
            probe = self.new_incoming()
            self.discard(probe)
        except OSError as exc:
            raise ConfigError(f"{self.root}: storage not usable: {exc.strerror}") from exc
        return removed

    def sweep(self) -> int:
        """Delete everything in ``incoming/`` and ``spool/``: partial work from a crash.

        Only ever ciphertext (and, in ``incoming/``, never complete under a final name), but
        it is useless and would tell when a submission was attempted.
        """
        removed = 0
        for folder in (self.incoming, self.spool):
            for entry in os.scandir(folder):
                if entry.is_dir(follow_symlinks=False):
                    # Never created by the server: leave it to the admin, say so.
                    log.warning("storage: unexpected folder left in %s", folder.name)
                    continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
            _normalise_time(folder)
        return removed

    def free_bytes(self) -> int:
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize

    def new_incoming(self, *, readable: bool = False) -> Incoming:
        """A new exclusive file in ``incoming/`` (`readable`: also open for reading, so
        that a submission sealed in place can be read back if its plan changes)."""
        name = secrets.token_hex(16)
        path = self.incoming / f"{name}{PART_SUFFIX}"
        flags = (
            (os.O_RDWR if readable else os.O_WRONLY)
            | os.O_CREAT
            | os.O_EXCL
            | os.O_NOFOLLOW
            | _O_CLOEXEC
        )
        fd = os.open(path, flags, 0o600)
        return Incoming(fd=fd, path=path, name=name)

    def commit(self, incoming: Incoming) -> Path:
        """fsync, normalise times, rename into ``submissions/``, fsync the folders.

        Closes the descriptor. After this returns the submission survives a power cut.
        """
        final = self.submissions / f"{incoming.name}{SUFFIX}"
        try:
            os.fsync(incoming.fd)
        finally:
            os.close(incoming.fd)
            incoming.fd = -1
        _normalise_time(incoming.path)
        os.rename(incoming.path, final)
        fsync_dir(self.submissions)
        fsync_dir(self.incoming)
        # The renames changed the folders' times to now: put them back to the day.
        _normalise_time(self.submissions)
        _normalise_time(self.incoming)
        # The rename also set this file's change time to this very second, which nothing
        # can set back: give every stored submission the same one, so that none is dated.
        # The submission is stored by now: a failure here must not report it as lost.
        with contextlib.suppress(OSError):
            blur_change_times(self.submissions)
        return final

    def discard(self, incoming: Incoming) -> None:
        """Remove a partial submission (never raises: it runs on error paths)."""
        if incoming.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(incoming.fd)
            incoming.fd = -1
        with contextlib.suppress(OSError):
            os.unlink(incoming.path)
        with contextlib.suppress(OSError):
            _normalise_time(self.incoming)


#: How often (in sealed bytes) write-back of the sealed file is started while sealing.
WRITEBACK_BYTES: Final = 32 * 1024 * 1024


class DiskWriter:
    """Writes the sealed submission to its descriptor and, every `WRITEBACK_BYTES`, asks
    the kernel to start writing what came before to disk (without waiting for it).
    `start`: the descriptor's offset when writing begins."""

    def __init__(self, fd: int, start: int = 0) -> None:
        self._fd = fd
        self._written = start
        self._next_writeback = WRITEBACK_BYTES

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._written += len(data)
        if self._written >= self._next_writeback:
            self._next_writeback = self._written + WRITEBACK_BYTES
            # POSIX_FADV_DONTNEED starts write-back of the dirty pages (asynchronously) and
            # drops those already clean: the fsync before the rename then only waits for
            # the tail instead of the whole file. Ciphertext only, so nothing to hide here.
            with contextlib.suppress(OSError, AttributeError):
                os.posix_fadvise(self._fd, 0, self._written, os.POSIX_FADV_DONTNEED)
