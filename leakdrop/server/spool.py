"""The upload spool: each file's bytes on disk, but only as authenticated ciphertext.

A 1 GiB upload cannot sit in RAM, and its plaintext must never touch a disk. So each file
is encrypted as it streams in, under a random key that exists only in this process's
memory (one key per file, drawn by `SpoolKey`), and the file has no name: it is opened with
``O_TMPFILE`` where the file system supports it, else created with a random name and
unlinked at once. A crash therefore leaves nothing readable and, with ``O_TMPFILE``,
nothing at all (the kernel frees unnamed files); the rare named leftovers are swept at
start-up (`leakdrop.server.storage`). The key dies with the process.

The spool is our own short-lived temporary data, read back only by the process that wrote
it, so it does not need age (whose 64 KiB ChaCha20-Poly1305 chunks would cost as much as
sealing the submission itself, twice). Layout::

    MAGIC | record 0 | record 1 | ... | record n-1
    record i = length (4 bytes, big-endian) | AEAD(key, nonce_i, plaintext) (length + tag)
    nonce_i  = i, big-endian, | 1 if record i is the last one else 0 (the AEAD's nonce size)

Records are the pieces as they arrive (at most `MAX_RECORD`, 1 MiB), encrypted
straight from the received buffers. The AEAD is the fastest of libsodium's on this CPU
(`AEADS`): AEGIS-256 or AES-256-GCM where the CPU has AES instructions, else
ChaCha20-Poly1305 (IETF). As in age's STREAM, the counter in the nonce pins each record to
its place and the flag marks the last one; the plaintext size and the spool's length are
kept in RAM. A spool that was altered, reordered, truncated or extended on disk fails to
read (`SpoolIntegrityError`) before any byte of the bad record is handed on, instead of
being sealed as the source's file.
"""

from __future__ import annotations

import array
import bisect
import contextlib
import io
import os
import queue
import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, cast

import nacl.bindings  # imported first: it initialises libsodium (CPU feature detection)
import nacl.exceptions

from leakdrop._files import open_unnamed, write_all

# The one in-buffer binding of libsodium's AEADs, shared with the age STREAM.
from leakdrop.sealing._sodium import Aead as SodiumAead
from leakdrop.sealing._sodium import AeadError

# The reader thread's queue is as deep as the writer threads' (back-pressure both ways).
from leakdrop.server._writer_thread import QUEUE_DEPTH as _QUEUE_DEPTH
from leakdrop.server._writer_thread import BackgroundWriter
from leakdrop.server.errors import InternalError
from leakdrop.server.plaintext_intake import PlaintextIntake

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: First bytes of every spool file (not secret: says what the file is to whoever finds one).
MAGIC: Final = b"leakdrop-spool/2\n"
#: Largest plaintext record: bigger incoming pieces are split (bounds the buffers: one
#: such buffer per file being written, one per reader).
MAX_RECORD: Final = 1024 * 1024
_LENGTH: Final = 4
KEY_BYTES: Final = 32
_MAX_RECORDS: Final = 1 << 88
#: Prefix of the short-lived named spool files (only where O_TMPFILE is unsupported).
NAMED_PREFIX: Final = "spool-"


class SpoolIntegrityError(InternalError):
    """The spool on disk is not what this process wrote (altered, truncated, extended)."""


# ----------------------------------------------------------------------------- cipher


class Aead(SodiumAead):
    """An AEAD for spool records: its record nonces, and errors as `SpoolIntegrityError`."""

    def nonce(self, index: int, final: bool) -> bytes:
        """The record's nonce: its index and whether it is the last one (as age's STREAM),
        left-padded with zeros to the AEAD's nonce size."""
        flag = b"\x01" if final else b"\x00"
        return index.to_bytes(self.nonce_bytes - 1, "big") + flag

    def seal_into(self, out: memoryview, plaintext: memoryview, nonce: bytes, key: bytes) -> None:
        try:
            super().seal_into(out, plaintext, nonce, key)
        except AeadError as exc:
            raise SpoolIntegrityError("spool encryption failed") from exc

    def open_into(
        self, out: memoryview, untrusted_sealed: memoryview, nonce: bytes, key: bytes
    ) -> None:
        """Authenticate `untrusted_sealed` and write its plaintext into `out`, or raise
        `SpoolIntegrityError` (then `out` holds nothing of use)."""
        try:
            super().open_into(out, untrusted_sealed, nonce, key)
        except AeadError as exc:
            raise SpoolIntegrityError("spool record altered") from exc


def _aead(name: str, nonce_bytes: int, tag_bytes: int) -> Aead:
    return Aead(name, nonce_bytes, tag_bytes)


def _hardware_aes() -> bool:
    try:
        # libsodium offers AES-256-GCM only where the CPU has AES instructions (it raises
        # UnavailableError otherwise): the test for "AES is fast and constant-time here".
        nacl.bindings.crypto_aead_aes256gcm_encrypt(b"", None, bytes(12), bytes(KEY_BYTES))
    except nacl.exceptions.UnavailableError:
        return False
    return True


def _available_aeads() -> dict[str, Aead]:
    """The spool's AEADs on this machine, fastest first (measured here, 1 MiB records,
    writing into our buffers: AEGIS-256 9.7 GB/s, AES-256-GCM 3.6, ChaCha20-Poly1305 1.4).
    AEGIS-256 (libsodium >= 1.0.19, PyNaCl >= 1.6) and AES-256-GCM only with hardware AES:
    in software they would be slow, and table-based AES leaks through cache timing."""
    found: dict[str, Aead] = {}
    if _hardware_aes():
        if hasattr(nacl.bindings, "crypto_aead_aegis256_encrypt"):
            found["aegis256"] = _aead("aegis256", 32, 32)
        found["aes256gcm"] = _aead("aes256gcm", 12, 16)
    found["chacha20poly1305_ietf"] = _aead("chacha20poly1305_ietf", 12, 16)
    return found


AEADS: Final = _available_aeads()
#: The AEAD new spools use.
CIPHER: Final = next(iter(AEADS.values()))


class SpoolKey:
    """Keys for one submission's spools: each file gets its own fresh random key.

    Keys live in RAM only (in the `SpoolFile` that uses them) and never leave the process.
    One key per file, never reused, is what makes counter nonces safe. `aead` is the
    cipher of these spools (`CIPHER` unless a test picks another of `AEADS`).
    """

    def __init__(self, aead: Aead | None = None) -> None:
        self.aead = aead or CIPHER

    def file_key(self) -> bytes:
        return secrets.token_bytes(KEY_BYTES)


# ----------------------------------------------------------------------------- files


def _pread_exact(fd: int, buffer: memoryview, offset: int) -> None:
    filled = 0
    while filled < len(buffer):
        n = os.preadv(fd, [buffer[filled:]], offset + filled)
        if n == 0:
            raise SpoolIntegrityError("spool truncated")
        filled += n


class _SpoolReader:
    """Decrypts a finished spool from its first byte, one record at a time."""

    def __init__(self, fd: int, aead: Aead, key: bytes, size: int, disk_bytes: int) -> None:
        if os.fstat(fd).st_size != disk_bytes:
            # Both lengths are known from RAM: a spool of any other length was tampered with.
            raise SpoolIntegrityError("spool has the wrong length")
        self._fd = fd
        self._aead = aead
        self._key = key
        self._size = size
        self._disk_bytes = disk_bytes

    def record(self, index: int, disk_offset: int, length: int, *, final: bool) -> bytearray:
        """One record's plaintext, from the place and length RAM recorded for it."""
        header = bytearray(_LENGTH)
        _pread_exact(self._fd, memoryview(header), disk_offset)
        if int.from_bytes(header, "big") != length:
            raise SpoolIntegrityError("spool record length altered")
        sealed = bytearray(length + self._aead.tag)
        _pread_exact(self._fd, memoryview(sealed), disk_offset + _LENGTH)
        plaintext = bytearray(length)
        self._aead.open_into(
            memoryview(plaintext), memoryview(sealed), self._aead.nonce(index, final), self._key
        )
        return plaintext

    def records(self) -> Iterator[bytearray]:
        """Each record's plaintext, in a new buffer that nothing else references."""
        aead = self._aead
        # Grown to the largest record met (a small file's reader stays small).
        sealed = bytearray()
        header = bytearray(_LENGTH)
        offset = len(MAGIC)
        done = 0
        index = 0
        while True:
            _pread_exact(self._fd, memoryview(header), offset)
            length = int.from_bytes(header, "big")
            # Bounds before anything is read or allocated from an on-disk length.
            if length > MAX_RECORD or done + length > self._size:
                raise SpoolIntegrityError("spool record length altered")
            if length == 0 and (index > 0 or self._size > 0):
                raise SpoolIntegrityError("spool has an empty record")
            if len(sealed) < length + aead.tag:
                sealed = bytearray(length + aead.tag)
            view = memoryview(sealed)[: length + aead.tag]
            _pread_exact(self._fd, view, offset + _LENGTH)
            final = done + length == self._size
            plaintext = bytearray(length)
            aead.open_into(memoryview(plaintext), view, aead.nonce(index, final), self._key)
            offset += _LENGTH + length + aead.tag
            done += length
            index += 1
            if final:
                if offset != self._disk_bytes:
                    raise SpoolIntegrityError("data after the last spool record")
                if plaintext:
                    yield plaintext
                return
            yield plaintext


class SpoolFile(PlaintextIntake):
    """One file of a submission, encrypted as it is written.

    `write` (from one thread) hashes the plaintext and hands it to a writer thread that
    encrypts and writes it, so that hashing and encryption use two cores. `finish` waits
    for the writer; afterwards `size`, `sha256` and `head` describe the plaintext, and
    `open()` returns a fresh reader (each from the first byte) that yields exactly the
    bytes `sha256` was computed over, or raises `SpoolIntegrityError`.
    """

    def __init__(self, directory: Path, key: SpoolKey) -> None:
        super().__init__()
        self._spool_key = key
        self._key = key.file_key()
        self._fd = open_unnamed(directory, NAMED_PREFIX)
        # Writer thread state: the last piece is held back until it is known whether it
        # is the final record; the output buffer is reused (writev copies it out). It is
        # sized to the largest record so far, not to `MAX_RECORD` up front: 99 tiny files
        # held open must not cost 99 MiB.
        self._held: memoryview | None = None
        self._aead = key.aead
        self._out = bytearray()
        self._records = 0
        self._disk_bytes = 0
        # Where each record starts, in the plaintext and on disk (RAM only, like the key):
        # what lets `read_at` decrypt any record alone, for the cleaning of large files.
        self._plain_starts = array.array("Q")
        self._disk_starts = array.array("Q")
        self._plain_written = 0
        self._recent: tuple[int, bytearray] | None = None
        self._random: _SpoolReader | None = None
        self.closed = False
        try:
            self._disk_bytes = write_all(self._fd, [MAGIC])
        except BaseException:
            os.close(self._fd)
            raise
        # Hashing here, encryption and the write in that thread: two cores per upload.
        self._writer: BackgroundWriter | None = BackgroundWriter(self._take, name="spool-writer")

    @property
    def key(self) -> SpoolKey:
        return self._spool_key

    # ------------------------------------------------------------------ writing

    def _write_record(self, plaintext: memoryview, final: bool) -> None:
        if self._records >= _MAX_RECORDS:
            raise SpoolIntegrityError("spool record counter exhausted")
        aead = self._aead
        need = len(plaintext) + aead.tag
        if len(self._out) < need:
            self._out = bytearray(need)
        sealed = memoryview(self._out)[:need]
        aead.seal_into(sealed, plaintext, aead.nonce(self._records, final), self._key)
        self._plain_starts.append(self._plain_written)
        self._disk_starts.append(self._disk_bytes)
        self._plain_written += len(plaintext)
        self._records += 1
        self._disk_bytes += write_all(self._fd, [len(plaintext).to_bytes(_LENGTH, "big"), sealed])

    def _take(self, data: bytes | bytearray | memoryview) -> None:
        # Writer thread. Only records with more data after them are not final: hold the
        # last one back.
        view = memoryview(data)
        for start in range(0, len(view), MAX_RECORD):
            if self._held is not None:
                self._write_record(self._held, final=False)
            self._held = view[start : start + MAX_RECORD]

    def write(self, data: bytes | memoryview) -> None:
        if self._writer is None or self.sha256:
            raise ValueError("spool already finished or closed")
        view = self._intake(data)
        if view:
            self._writer.write(view)

    def finish(self) -> None:
        if self.sha256 or self._writer is None:
            return
        writer, self._writer = self._writer, None
        try:
            writer.close()  # every piece taken (re-raises the thread's error)
            # The thread is done: the held piece is sealed here as the final record.
            held, self._held = self._held, None
            self._write_record(held if held is not None else memoryview(b""), True)
        finally:
            self._held = None
            self._out = bytearray()
        self.sha256 = self._hash.hexdigest()

    # ------------------------------------------------------------------ reading

    def _reader(self) -> _SpoolReader:
        if not self.sha256 or self.closed:
            raise ValueError("spool not finished, or closed")
        return _SpoolReader(self._fd, self._aead, self._key, self.size, self._disk_bytes)

    def open(self) -> BinaryIO:
        """A reader of the plaintext that decrypts ahead in a thread (for sealing)."""
        reader = self._reader()  # fail now, not in the thread, if the length is wrong
        return cast(BinaryIO, Prefetch(reader.records))

    def read_all(self) -> bytes:
        return b"".join(self._reader().records())

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to `size` plaintext bytes from `offset`: only the records they lie in are read
        and decrypted, each checked as in `open` (its index and last-record flag are in its
        nonce, its length and place come from RAM), so a large file is read in any order
        with one record in memory at a time."""
        if self._random is None:
            # Checked once (finished, not closed, the length on disk): then one pread per
            # record, not an fstat per call.
            self._random = self._reader()
        elif self.closed:
            raise ValueError("spool closed")
        reader = self._random
        if offset < 0 or size < 0:
            raise ValueError("negative offset or size")
        end = min(self.size, offset + size)
        pieces: list[bytes] = []
        position = offset
        while position < end:
            index = bisect.bisect_right(self._plain_starts, position) - 1
            record = self._record(reader, index)
            start = position - self._plain_starts[index]
            piece = record[start : start + end - position]
            pieces.append(bytes(piece))
            position += len(piece)
        return b"".join(pieces)

    def _record(self, reader: _SpoolReader, index: int) -> bytearray:
        recent = self._recent
        if recent is not None and recent[0] == index:
            return recent[1]
        final = index == self._records - 1
        end = self.size if final else self._plain_starts[index + 1]
        plaintext = reader.record(
            index, self._disk_starts[index], end - self._plain_starts[index], final=final
        )
        self._recent = (index, plaintext)
        return plaintext

    def close(self) -> None:
        """Drop the ciphertext (the file has no name: closing frees it)."""
        if self.closed:
            return
        self.closed = True
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
            self._held = None
            self._out = bytearray()
        self._recent = None
        self._random = None
        os.close(self._fd)


class Prefetch(io.RawIOBase):
    """Reads a stream ahead in a thread, so decrypting the spool overlaps with what the
    consumer does (tar, encrypt to the editors)."""

    def __init__(self, produce: Callable[[], Iterator[bytearray]]) -> None:
        super().__init__()
        self._queue: queue.Queue[bytes | bytearray | BaseException] = queue.Queue(
            maxsize=_QUEUE_DEPTH
        )
        self._stop = threading.Event()
        self._chunk: bytes | bytearray = b""
        self._pos = 0
        self._eof = False
        self._thread = threading.Thread(
            target=self._run, args=(produce,), name="spool-reader", daemon=True
        )
        self._thread.start()

    def _run(self, produce: Callable[[], Iterator[bytearray]]) -> None:
        try:
            for piece in produce():
                if self._stop.is_set():
                    return
                if piece:
                    self._put(piece)
            self._put(b"")
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            self._put(exc)

    def _put(self, item: bytes | bytearray | BaseException) -> None:
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
        """Up to `size` bytes. A whole decrypted record is returned as it is, a bytearray
        that nothing else references (one copy less per byte); treat it as read-only."""
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
        return cast(bytes, piece)

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
        for start in range(0, len(view), MAX_RECORD):
            spool.write(view[start : start + MAX_RECORD])
        spool.finish()
    except BaseException:
        spool.close()
        raise
    return spool
