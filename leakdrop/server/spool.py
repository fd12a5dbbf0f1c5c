"""The upload spool: each file's bytes on disk, but only as authenticated ciphertext.

A 1 GiB upload cannot sit in RAM, and its plaintext must never touch a disk. So each file
is encrypted as it streams in, under a random key that exists only in this process's
memory (one key per file, drawn by `SpoolKey`), and the file has no name: it is opened with
``O_TMPFILE`` where the file system supports it, else created with a random name and
unlinked at once. A crash therefore leaves nothing readable and, with ``O_TMPFILE``,
nothing at all (the kernel frees unnamed files); the rare named leftovers are swept at
start-up (`leakdrop.server.storage`). The key dies with the process.

The spool is our own short-lived temporary data, read back only by the process that wrote
it, so it does not need age (whose X25519 header and 64 KiB ChaCha20-Poly1305 chunks would
cost as much as sealing the submission itself). Layout::

    MAGIC | record 0 | record 1 | ... | record n-1        (n = max(1, ceil(size / CHUNK)))
    record i = AEAD(key, nonce = i as 11 bytes big-endian | final flag, CHUNK bytes) + tag

The AEAD is AES-256-GCM where the CPU has AES instructions (libsodium refuses it
otherwise), else ChaCha20-Poly1305 (IETF). As in age's STREAM, the counter in the nonce
pins each record to its place and the flag marks the last one, and the plaintext size is
kept in RAM: a spool that was altered, reordered, truncated or extended on disk fails to
read (`SpoolIntegrityError`) instead of being sealed as the source's file.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, cast

import nacl.bindings
import nacl.exceptions

from leakdrop.server.errors import InternalError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: Plaintext bytes kept in RAM at the start of each file, to sniff its type without
#: reading the spool back.
HEAD_BYTES: Final = 4096
#: First bytes of every spool file (not secret: says what the file is to whoever finds one).
MAGIC: Final = b"leakdrop-spool/1\n"
#: Plaintext bytes per record. Not larger: PyNaCl allocates each result afresh, and above
#: glibc's mmap threshold (128 KiB) every call maps and faults in new pages (1 MiB records
#: measured 5x slower than 64 KiB ones).
CHUNK: Final = 64 * 1024
TAG: Final = 16
RECORD: Final = CHUNK + TAG
#: Records per writev/preadv call (1 MiB of plaintext).
BATCH_RECORDS: Final = 16
KEY_BYTES: Final = 32
_MAX_RECORDS: Final = 1 << 88
_O_TMPFILE: Final = getattr(os, "O_TMPFILE", 0)
_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
#: Prefix of the short-lived named spool files (only where O_TMPFILE is unsupported).
NAMED_PREFIX: Final = "spool-"


class SpoolIntegrityError(InternalError):
    """The spool on disk is not what this process wrote (altered, truncated, extended)."""


# ----------------------------------------------------------------------------- cipher

_Seal = Callable[[bytes, bytes | None, bytes, bytes], bytes]


@dataclass(frozen=True)
class _Cipher:
    name: str
    encrypt: _Seal
    decrypt: _Seal


def _choose_cipher() -> _Cipher:
    try:
        # libsodium offers AES-256-GCM only with hardware AES (constant time, ~3x faster
        # than ChaCha20-Poly1305 here); it raises UnavailableError otherwise.
        nacl.bindings.crypto_aead_aes256gcm_encrypt(b"", None, bytes(12), bytes(KEY_BYTES))
    except nacl.exceptions.UnavailableError:
        return _Cipher(
            "chacha20poly1305",
            nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt,
            nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt,
        )
    return _Cipher(
        "aes256gcm",
        nacl.bindings.crypto_aead_aes256gcm_encrypt,
        nacl.bindings.crypto_aead_aes256gcm_decrypt,
    )


CIPHER: Final = _choose_cipher()


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _records(size: int) -> int:
    """Records holding `size` plaintext bytes (an empty file is one empty final record)."""
    return max(1, -(-size // CHUNK))


def _spool_bytes_on_disk(size: int) -> int:
    return len(MAGIC) + size + TAG * _records(size)


class SpoolKey:
    """Keys for one submission's spools: each file gets its own fresh random key.

    Keys live in RAM only (in the `SpoolFile` that uses them) and never leave the process.
    One key per file, never reused, is what makes counter nonces safe.
    """

    def file_key(self) -> bytes:
        return secrets.token_bytes(KEY_BYTES)


# ----------------------------------------------------------------------------- files


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


def _write_all(fd: int, parts: list[bytes]) -> None:
    """writev every part, however the kernel splits the write (ENOSPC raises)."""
    total = sum(len(p) for p in parts)
    done = os.writev(fd, parts)
    if done == total:
        return
    rest = memoryview(b"".join(parts))[done:]
    while rest:
        rest = rest[os.write(fd, rest) :]


def _pread_exact(fd: int, buffer: memoryview, offset: int) -> None:
    filled = 0
    while filled < len(buffer):
        n = os.preadv(fd, [buffer[filled:]], offset + filled)
        if n == 0:
            raise SpoolIntegrityError("spool truncated")
        filled += n


class _SpoolReader:
    """Decrypts a finished spool from its first byte, `BATCH_RECORDS` records per call."""

    def __init__(self, fd: int, key: bytes, size: int) -> None:
        if os.fstat(fd).st_size != _spool_bytes_on_disk(size):
            # The size is known from RAM: a spool of any other length was tampered with.
            raise SpoolIntegrityError("spool has the wrong length")
        self._fd = fd
        self._key = key
        self._size = size
        self._count = _records(size)
        self._next = 0
        self._buffer = bytearray(BATCH_RECORDS * RECORD)

    def batches(self) -> Iterator[list[bytes]]:
        view = memoryview(self._buffer)
        while self._next < self._count:
            first = self._next
            count = min(BATCH_RECORDS, self._count - first)
            last = first + count == self._count
            length = count * RECORD
            if last:
                length -= CHUNK - (self._size - (self._count - 1) * CHUNK)
            _pread_exact(self._fd, view[:length], len(MAGIC) + first * RECORD)
            plain: list[bytes] = []
            for i in range(count):
                index = first + i
                untrusted_record = bytes(view[i * RECORD : min(length, (i + 1) * RECORD)])
                final = index == self._count - 1
                try:
                    plain.append(
                        CIPHER.decrypt(untrusted_record, None, _nonce(index, final), self._key)
                    )
                except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError) as exc:
                    # Never hand on bytes that are not exactly those we wrote, in order.
                    raise SpoolIntegrityError("spool record altered") from exc
            self._next = first + count
            yield plain


_FINISH: Final = object()
_ABORT: Final = object()
#: Chunks queued between a producer thread and the thread that consumes them
#: (back-pressure: a slow disk slows the upload instead of filling RAM).
_QUEUE_DEPTH: Final = 4


class SpoolFile:
    """One file of a submission, encrypted as it is written.

    `write` (from one thread) hashes the plaintext and hands it to a writer thread that
    encrypts and writes it, so that hashing and encryption use two cores. `finish` waits
    for the writer; afterwards `size`, `sha256` and `head` describe the plaintext, and
    `open()` returns a fresh reader (each from the first byte) that yields exactly the
    bytes `sha256` was computed over, or raises `SpoolIntegrityError`.
    """

    def __init__(self, directory: Path, key: SpoolKey) -> None:
        self._spool_key = key
        self._key = key.file_key()
        self._fd = _open_unnamed(directory)
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._pending = bytearray()  # plaintext of the record not yet sealed (writer thread)
        self._records = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._error: BaseException | None = None
        self.size = 0
        self.sha256 = ""
        self.closed = False
        try:
            _write_all(self._fd, [MAGIC])
        except BaseException:
            os.close(self._fd)
            raise
        self._writer: threading.Thread | None = threading.Thread(
            target=self._write_loop, name="spool-writer", daemon=True
        )
        self._writer.start()

    @property
    def key(self) -> SpoolKey:
        return self._spool_key

    @property
    def head(self) -> bytes:
        return bytes(self._head)

    # ------------------------------------------------------------------ writing

    def _seal(self, plaintext: bytes, final: bool) -> bytes:
        if self._records >= _MAX_RECORDS:
            raise SpoolIntegrityError("spool record counter exhausted")
        record = CIPHER.encrypt(plaintext, None, _nonce(self._records, final), self._key)
        self._records += 1
        return record

    def _seal_piece(self, view: memoryview) -> list[bytes]:
        records: list[bytes] = []
        pending = self._pending
        if pending:
            room = CHUNK - len(pending)
            pending += view[:room]
            view = view[room:]
            if not view:
                return records  # a full record may still turn out to be the final one
            records.append(self._seal(bytes(pending), final=False))
            pending.clear()
        # Only records with more data after them are not final: keep the last one back.
        while len(view) > CHUNK:
            records.append(self._seal(view[:CHUNK].tobytes(), final=False))
            view = view[CHUNK:]
        pending += view
        return records

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _ABORT:
                return
            if self._error is None:
                try:
                    if item is _FINISH:
                        records = [self._seal(bytes(self._pending), final=True)]
                        self._pending.clear()
                    else:
                        records = self._seal_piece(cast(memoryview, item))
                    if records:
                        _write_all(self._fd, records)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the producer thread
                    self._error = exc
            if item is _FINISH:
                return
            # After an error, keep consuming so that the producer never blocks.

    def write(self, data: bytes | memoryview) -> None:
        if self._writer is None or self.sha256:
            raise ValueError("spool already finished or closed")
        if self._error is not None:
            raise self._error
        view = memoryview(data).cast("B")
        if not isinstance(view.obj, bytes):
            # The writer thread encrypts these bytes later: they must be the very bytes
            # hashed now, so a buffer its owner could still change is copied first.
            view = memoryview(view.tobytes())
        if len(self._head) < HEAD_BYTES:
            self._head += view[: HEAD_BYTES - len(self._head)]
        self._hash.update(view)
        self._queue.put(view)
        self.size += len(view)

    def finish(self) -> None:
        if self.sha256 or self._writer is None:
            return
        self._queue.put(_FINISH)
        self._writer.join()
        self._writer = None
        if self._error is not None:
            raise self._error
        self.sha256 = self._hash.hexdigest()

    # ------------------------------------------------------------------ reading

    def _reader(self) -> _SpoolReader:
        if not self.sha256 or self.closed:
            raise ValueError("spool not finished, or closed")
        return _SpoolReader(self._fd, self._key, self.size)

    def _plaintext_batches(self) -> Iterator[bytes]:
        for batch in self._reader().batches():
            yield batch[0] if len(batch) == 1 else b"".join(batch)

    def open(self) -> BinaryIO:
        """A reader of the plaintext that decrypts ahead in a thread (for sealing)."""
        self._reader()  # fail now, not in the thread, if the spool cannot be read
        return cast(BinaryIO, _Prefetch(self._plaintext_batches))

    def read_all(self) -> bytes:
        return b"".join(piece for batch in self._reader().batches() for piece in batch)

    def close(self) -> None:
        """Drop the ciphertext (the file has no name: closing frees it)."""
        if self.closed:
            return
        self.closed = True
        if self._writer is not None:
            self._queue.put(_ABORT)
            self._writer.join()
            self._writer = None
        self._pending.clear()
        os.close(self._fd)


class BackgroundWriter:
    """``write`` hands immutable bytes to a thread that passes them on to `target`, in
    order; `close` waits for it and re-raises its error. Lets a producer (tar, encryption)
    and a consumer (the disk) work at the same time."""

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
    consumer does (tar, encrypt to the editors)."""

    def __init__(self, produce: Callable[[], Iterator[bytes]]) -> None:
        super().__init__()
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._stop = threading.Event()
        self._chunk = b""
        self._pos = 0
        self._eof = False
        self._thread = threading.Thread(
            target=self._run, args=(produce,), name="spool-reader", daemon=True
        )
        self._thread.start()

    def _run(self, produce: Callable[[], Iterator[bytes]]) -> None:
        try:
            for piece in produce():
                if self._stop.is_set():
                    return
                if piece:
                    self._put(piece)
            self._put(b"")
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
        step = BATCH_RECORDS * CHUNK
        for start in range(0, len(view), step):
            spool.write(view[start : start + step])
        spool.finish()
    except BaseException:
        spool.close()
        raise
    return spool
