"""Small file-system steps shared by the server, the pickup and the offline tools
(standard library only: the offline part imports it too)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Final

_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)
_O_TMPFILE: Final = getattr(os, "O_TMPFILE", 0)

#: A SHA-256 as the manifests, listings and token files write it: 64 lowercase hex digits.
SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
#: A day as the formats record it (never a time of day: rule 2): YYYY-MM-DD.
DAY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's content, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in `path` durable (the folder's entry, not only the file)."""
    fd = os.open(path, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_private_file(path: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Create `path`, let `fill` write it, fsync it; on any failure remove it again.

    O_EXCL: never replace an existing file (a key in use, an identity whose loss loses
    every submission sealed to it); O_NOFOLLOW: never write through a planted symlink;
    0600 from the first byte, whatever the umask. Raises `FileExistsError` or `OSError`
    from the creation for the caller to translate.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        # A half-written secret must not be mistaken for a usable one.
        with contextlib.suppress(OSError):
            path.unlink()
        raise


def open_unnamed(directory: Path, named_prefix: str) -> int:
    """A new read-write file in `directory` that has no name: ``O_TMPFILE`` where the file
    system supports it (a crash leaves nothing), else created as `named_prefix` plus a
    random name and unlinked at once (a crash between the two leaves a named file, for the
    owner of the folder to sweep)."""
    flags = os.O_RDWR | _O_CLOEXEC
    if _O_TMPFILE:
        try:
            return os.open(directory, flags | _O_TMPFILE, 0o600)
        except OSError as exc:
            # EOPNOTSUPP/EISDIR/EINVAL: this file system has no O_TMPFILE; fall back below.
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                raise
    path = directory / f"{named_prefix}{secrets.token_hex(16)}"
    fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.unlink(path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, parts: list[Any]) -> int:
    """writev every part, however the kernel splits the write (ENOSPC raises)."""
    total = sum(len(p) for p in parts)
    done = os.writev(fd, parts)
    if done < total:
        rest = memoryview(b"".join(parts))[done:]
        while rest:
            rest = rest[os.write(fd, rest) :]
    return total


def pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    """pwrite all of `data` at `offset`, however the kernel splits the write."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
