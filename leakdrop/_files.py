"""Small file-system steps shared by the server, the pickup and the offline tools
(standard library only: the offline part imports it too)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Final

_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)

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
