"""The upload spool: each file's bytes on disk, but only as age ciphertext.

A 1 GiB upload cannot sit in RAM, and its plaintext must never touch a disk. So each file
is written, as it streams in, through `leakdrop.sealing.encrypt` to a throwaway X25519 key
generated in memory for this submission only (`SpoolKey`). The file has no name: it is
opened with ``O_TMPFILE`` where the file system supports it, else created with a random
name and unlinked at once. A crash therefore leaves nothing readable and, with
``O_TMPFILE``, nothing at all (the kernel frees unnamed files); the rare named leftovers are
swept at start-up (`leakdrop.server.storage`). The key dies with the process.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, cast

from leakdrop.sealing import SealWriter, X25519Identity, decrypt, encrypt

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: Plaintext bytes kept in RAM at the start of each file, to sniff its type without
#: reading the spool back.
HEAD_BYTES: Final = 4096
_WRITE_BUFFER: Final = 1024 * 1024
_O_TMPFILE: Final = getattr(os, "O_TMPFILE", 0)
_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
#: Prefix of the short-lived named spool files (only where O_TMPFILE is unsupported).
NAMED_PREFIX: Final = "spool-"


class SpoolKey:
    """A throwaway identity for one submission's spool: lives in RAM only."""

    def __init__(self) -> None:
        self.identity = X25519Identity.generate()
        self.recipient = self.identity.recipient()


def _open_unnamed(directory: Path) -> int:
    flags = os.O_RDWR | _O_CLOEXEC
    if _O_TMPFILE:
        try:
            return os.open(directory, flags | _O_TMPFILE, 0o600)
        except OSError as exc:
            # EOPNOTSUPP/EISDIR/EINVAL: this file system has no O_TMPFILE; fall back below.
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                raise
    path = directory / f"{NAMED_PREFIX}{secrets.token_hex(16)}"
    fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.unlink(path)
    except BaseException:
        os.close(fd)
        raise
    return fd


class _FdWriter(io.RawIOBase):
    """Appends to the spool's descriptor (no name, no seek shared with readers)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def write(self, data: object, /) -> int:
        return os.write(self._fd, cast("bytes", data))

    def close(self) -> None:  # the descriptor belongs to SpoolFile
        super().close()


class _PreadReader(io.RawIOBase):
    """Reads the spool from offset 0 with pread: readers never disturb each other."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        n = os.preadv(self._fd, [memoryview(buffer).cast("B")], self._pos)
        self._pos += n
        return n


class SpoolFile:
    """One file of a submission, encrypted as it is written. Not thread-safe.

    Write with `write`, then `finish`; afterwards `size`, `sha256` and `head` describe the
    plaintext, and `open()` returns a fresh decrypting reader (each from the first byte).
    """

    def __init__(self, directory: Path, key: SpoolKey) -> None:
        self._key = key
        self._fd = _open_unnamed(directory)
        self._raw = _FdWriter(self._fd)
        self._out = io.BufferedWriter(self._raw, buffer_size=_WRITE_BUFFER)
        self._seal: SealWriter | None = encrypt(cast(BinaryIO, self._out), [key.recipient])
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self.size = 0
        self.sha256 = ""
        self.closed = False

    @property
    def head(self) -> bytes:
        return bytes(self._head)

    def write(self, data: bytes | memoryview) -> None:
        if self._seal is None:
            raise ValueError("spool already finished")
        if len(self._head) < HEAD_BYTES:
            self._head += data[: HEAD_BYTES - len(self._head)]
        self._hash.update(data)
        self._seal.write(data)
        self.size += len(data)

    def finish(self) -> None:
        if self._seal is None:
            return
        self._seal.close()
        self._out.flush()
        self._seal = None
        self.sha256 = self._hash.hexdigest()

    def open(self) -> BinaryIO:
        if self._seal is not None or self.closed:
            raise ValueError("spool not finished, or closed")
        source = io.BufferedReader(_PreadReader(self._fd), buffer_size=_WRITE_BUFFER)
        return cast(BinaryIO, decrypt(cast(BinaryIO, source), [self._key.identity]))

    def read_all(self) -> bytes:
        with self.open() as reader:
            return reader.read()

    def close(self) -> None:
        """Drop the ciphertext (the file has no name: closing frees it)."""
        if self.closed:
            return
        self.closed = True
        if self._seal is not None:
            self._seal.abort()
            self._seal = None
        with contextlib.suppress(OSError, ValueError):
            # Flushing ciphertext into a nameless file is harmless; a full disk here is not
            # an error worth reporting (the file is being dropped anyway).
            self._out.close()
        os.close(self._fd)


def spool_bytes(directory: Path, key: SpoolKey, data: bytes) -> SpoolFile:
    """A finished spool holding `data` (e.g. a cleaned file, so it need not stay in RAM)."""
    spool = SpoolFile(directory, key)
    try:
        view = memoryview(data)
        for start in range(0, len(view), _WRITE_BUFFER):
            spool.write(view[start : start + _WRITE_BUFFER])
        spool.finish()
    except BaseException:
        spool.close()
        raise
    return spool
