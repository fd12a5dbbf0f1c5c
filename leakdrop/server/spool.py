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
import queue
import secrets
import threading
from collections.abc import Callable
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


_FINISH: Final = object()
_ABORT: Final = object()
#: Chunks queued between the thread that parses the upload and the one that encrypts it
#: (back-pressure: a slow disk slows the upload instead of filling RAM).
_QUEUE_DEPTH: Final = 4


class SpoolFile:
    """One file of a submission, encrypted as it is written.

    `write` (from one thread) hashes the plaintext and hands it to a writer thread that
    encrypts and writes it, so that hashing and encryption use two cores. `finish` waits
    for the writer; afterwards `size`, `sha256` and `head` describe the plaintext, and
    `open()` returns a fresh decrypting reader (each from the first byte).
    """

    def __init__(self, directory: Path, key: SpoolKey) -> None:
        self._key = key
        self._fd = _open_unnamed(directory)
        self._out = io.BufferedWriter(_FdWriter(self._fd), buffer_size=_WRITE_BUFFER)
        self._seal: SealWriter = encrypt(cast(BinaryIO, self._out), [key.recipient])
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._writer: threading.Thread | None = threading.Thread(
            target=self._write_loop, name="spool-writer", daemon=True
        )
        self._writer.start()
        self.size = 0
        self.sha256 = ""
        self.closed = False

    @property
    def key(self) -> SpoolKey:
        return self._key

    @property
    def head(self) -> bytes:
        return bytes(self._head)

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _ABORT:
                self._seal.abort()
                return
            if self._error is not None:
                # Keep consuming so that the producer never blocks on a dead writer.
                if item is _FINISH:
                    return
                continue
            try:
                if item is _FINISH:
                    self._seal.close()
                    self._out.flush()
                    return
                self._seal.write(cast(memoryview, item))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the producer thread
                self._error = exc

    def write(self, data: bytes | memoryview) -> None:
        if self._writer is None or self.sha256:
            raise ValueError("spool already finished or closed")
        if self._error is not None:
            raise self._error
        if len(self._head) < HEAD_BYTES:
            self._head += data[: HEAD_BYTES - len(self._head)]
        self._hash.update(data)
        self._queue.put(data)
        self.size += len(data)

    def finish(self) -> None:
        if self.sha256 or self._writer is None:
            return
        self._queue.put(_FINISH)
        self._writer.join()
        self._writer = None
        if self._error is not None:
            raise self._error
        self.sha256 = self._hash.hexdigest()

    def open(self) -> BinaryIO:
        """A reader of the plaintext that decrypts ahead in a thread (for sealing)."""
        return cast(BinaryIO, _Prefetch(self._decrypting_reader))

    def _decrypting_reader(self) -> BinaryIO:
        if not self.sha256 or self.closed:
            raise ValueError("spool not finished, or closed")
        source = io.BufferedReader(_PreadReader(self._fd), buffer_size=_WRITE_BUFFER)
        return cast(BinaryIO, decrypt(cast(BinaryIO, source), [self._key.identity]))

    def read_all(self) -> bytes:
        with self._decrypting_reader() as reader:
            return reader.read()

    def close(self) -> None:
        """Drop the ciphertext (the file has no name: closing frees it)."""
        if self.closed:
            return
        self.closed = True
        if self._writer is not None:
            self._queue.put(_ABORT)
            self._writer.join()
            self._writer = None
        with contextlib.suppress(OSError, ValueError):
            # Flushing ciphertext into a nameless file is harmless; a full disk here is not
            # an error worth reporting (the file is being dropped anyway).
            self._out.close()
        os.close(self._fd)


class BackgroundWriter:
    """``write`` hands immutable bytes to a thread that passes them on to `target`, in
    order; `close` waits for it and re-raises its error. Lets a producer (hashing, tar)
    and a consumer (encryption) use two cores."""

    def __init__(self, target: Callable[[bytes], object]) -> None:
        self._target = target
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(
            target=self._loop, name="background-writer", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _FINISH or item is _ABORT:
                return
            if self._error is None:
                try:
                    self._target(cast(bytes, item))
                except BaseException as exc:  # noqa: BLE001 - re-raised by write/close
                    self._error = exc

    def write(self, data: bytes) -> int:
        if self._thread is None:
            raise ValueError("writer closed")
        if self._error is not None:
            raise self._error
        if not isinstance(data, bytes):  # queued by reference: must not change later
            data = bytes(data)
        self._queue.put(data)
        return len(data)

    def _stop(self, sentinel: object) -> None:
        if self._thread is not None:
            self._queue.put(sentinel)
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        self._stop(_FINISH)
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        self._stop(_ABORT)


class _Prefetch(io.RawIOBase):
    """Reads a stream ahead in a thread, so decrypting the spool overlaps with what the
    consumer does (hash, tar, encrypt to the editors)."""

    def __init__(self, opener: Callable[[], BinaryIO]) -> None:
        super().__init__()
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._stop = threading.Event()
        self._chunk = b""
        self._pos = 0
        self._eof = False
        self._thread = threading.Thread(
            target=self._run, args=(opener,), name="spool-reader", daemon=True
        )
        self._thread.start()

    def _run(self, opener: Callable[[], BinaryIO]) -> None:
        try:
            with opener() as reader:
                while not self._stop.is_set():
                    chunk = reader.read(_WRITE_BUFFER)
                    self._put(chunk)
                    if not chunk:
                        return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while self._pos >= len(self._chunk):
            if self._eof:
                return False
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            if not item:
                self._eof = True
                return False
            self._chunk, self._pos = item, 0
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            parts = []
            while self._fill():
                parts.append(self._chunk[self._pos :])
                self._pos = len(self._chunk)
            return b"".join(parts)
        if size == 0 or not self._fill():
            return b""
        if self._pos == 0 and len(self._chunk) <= size:
            piece = self._chunk
        else:
            piece = self._chunk[self._pos : self._pos + size]
        self._pos += len(piece)
        return piece

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        piece = self.read(len(memoryview(buffer)))
        memoryview(buffer).cast("B")[: len(piece)] = piece
        return len(piece)

    def close(self) -> None:
        if not self.closed:
            self._stop.set()
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()
            self._thread.join()
        super().close()


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
