"""A large uncleanable first file, sealed straight into the final age file as it arrives.

Sealing a submission after the whole body is received costs a second pass over every
byte (spool read, decrypt, seal, write). For the file that dominates a big upload and
that cannot be cleaned anyway (its type is unknown from its first bytes), that pass is
avoidable: age's STREAM seals chunk i under a nonce made of i and the last-chunk flag
only, so chunks can be sealed in any order and written at their final offset.

    plaintext:  [ head: manifest.json | message.txt | tar header ][ file data ... ][ rest ]
                 `head_size` bytes, reserved (64 KiB multiple)     chunk-aligned
    age file:   header+nonce | chunks of the head | chunks of the data | chunks of the rest

The age header (recipients and file key are drawn when the file begins) is written
first; each full 64 KiB chunk of the file's data is sealed and written at its offset as it
arrives; the last partial chunk stays in RAM. When the body is complete,
`DirectFile.complete` writes the rest of the tar after it
(`submission.write_submission_tail`), the final chunk, then the head's chunks
(`submission.submission_head`, which fills the reserved room exactly), and commits. The
whole strategy lives here: the pipeline only asks `direct_head_size` whether a body may use
it and calls `complete`. No plaintext byte of the file reaches the disk: only age
ciphertext.

Should the head not fit after all (an unusually large manifest), the data is read back
from the partial file (each chunk authenticated by its own tag and index) and the
submission is sealed the usual way into a new file; this one is then deleted.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator
from typing import BinaryIO, Final, cast

from leakdrop.sealing import CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, PreparedSeal
from leakdrop.server.spool import BackgroundWriter, PlaintextIntake, Prefetch
from leakdrop.server.storage import WRITEBACK_BYTES, DiskWriter, Incoming, Storage
from leakdrop.submission import (
    BLOCK,
    FileEntry,
    ReplyAddress,
    submission_head,
    write_submission_tail,
)

#: age's STREAM chunk (plaintext bytes), and one sealed chunk (plaintext and tag).
CHUNK: Final = CHUNK_SIZE
SEALED_CHUNK: Final = ENCRYPTED_CHUNK_SIZE
#: Chunks sealed and written at once by the sealing thread (1 MiB).
BATCH: Final = 16 * CHUNK
#: Batches queued between the parser thread and the sealing thread (bounded RAM).
_QUEUE_DEPTH: Final = 4
_STOP: Final = object()
#: Threads sealing and writing batches.
SEALERS: Final = 2
#: Room kept for manifest.json in the head of a submission sealed in place (DirectFile):
#: enough for the files of any ordinary submission; a bigger manifest takes the usual path.
MANIFEST_ROOM: Final = 64 * 1024
#: Room for the first file's tar header (a pax header for a long or non-ASCII name).
FIRST_HEADER_ROOM: Final = 4 * BLOCK
#: A file is sealed in place only when the body is at least this many times the head that
#: must be reserved for it (the head's unused room is spaces in manifest.json: at most a
#: few percent of such a submission).
DIRECT_MIN_FACTOR: Final = 64


def direct_head_size(max_message_bytes: int) -> int:
    """Plaintext reserved before a file sealed in place: manifest.json (its header and
    `MANIFEST_ROOM`), the longest message.txt the limits allow (its header, the message,
    block padding), the first file's header; rounded up to whole STREAM chunks."""
    message = BLOCK + -(-max_message_bytes // BLOCK) * BLOCK
    need = BLOCK + MANIFEST_ROOM + message + FIRST_HEADER_ROOM
    return -(-need // CHUNK) * CHUNK


class DirectFile(PlaintextIntake):
    """One file sealed in place into ``incoming/<name>.part`` (see the module text).

    `write` (parser thread) hashes and batches; a thread seals and writes the batches.
    After `finish`, `size`, `sha256`, `head` describe the plaintext, `chunks` full chunks
    are on disk and `tail` (< 64 KiB) is in RAM. `close` deletes the partial file unless
    `committed` was set.
    """

    def __init__(self, storage: Storage, seal: PreparedSeal, head_size: int) -> None:
        if head_size <= 0 or head_size % CHUNK:
            raise ValueError("head size must be a positive multiple of 64 KiB")
        super().__init__()
        self.seal = seal
        self.head_size = head_size
        self.base = head_size // CHUNK
        self._storage = storage
        self._pending = bytearray()
        self._queued = 0  # full chunks handed to the thread
        self.chunks = 0
        self.tail = b""
        self.closed = False
        self.committed = False
        self._error: BaseException | None = None
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self.incoming: Incoming = storage.new_incoming(readable=True)
        try:
            _pwrite_all(self.incoming.fd, seal.header, 0)
        except BaseException:
            storage.discard(self.incoming)
            raise
        self._written = 0
        self._next_writeback = WRITEBACK_BYTES
        # Two sealing threads: with pwrite each batch lands at its own offset, in whatever
        # order the threads finish (the heaviest work of the upload, spread over two cores).
        self._threads: list[threading.Thread] | None = [
            threading.Thread(target=self._loop, name="direct-sealer", daemon=True)
            for _ in range(SEALERS)
        ]
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------------ writing

    def _loop(self) -> None:
        out = bytearray(BATCH // CHUNK * SEALED_CHUNK)  # reused: no fresh pages per batch
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None:
                continue  # keep consuming so that the producer never blocks
            index, chunks = cast(tuple[int, memoryview], item)
            try:
                for start in range(0, len(chunks), BATCH):
                    batch = chunks[start : start + BATCH]
                    first = self.base + index + start // CHUNK
                    sealed = memoryview(out)[: len(batch) // CHUNK * SEALED_CHUNK]
                    self.seal.seal_chunks_into(sealed, batch, first)
                    offset = self.seal.chunk_offset(first)
                    # pwrite copies into the page cache: `out` is free again after it.
                    _pwrite_all(self.incoming.fd, sealed, offset)
                    self._written = max(self._written, offset + len(sealed))
                if self._written >= self._next_writeback:
                    self._next_writeback = self._written + WRITEBACK_BYTES
                    # Start write-back early (ciphertext only) so the final fsync is short.
                    with contextlib.suppress(OSError, AttributeError):
                        os.posix_fadvise(self.incoming.fd, 0, self._written, os.POSIX_FADV_DONTNEED)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the producer thread
                self._error = exc

    def _queue_chunks(self, chunks: memoryview) -> None:
        self._queue.put((self._queued, chunks))
        self._queued += len(chunks) // CHUNK

    def write(self, data: bytes | memoryview) -> None:
        if self._threads is None or self.sha256:
            raise ValueError("direct file already finished or closed")
        if self._error is not None:
            raise self._error
        view = self._intake(data)
        if not view:
            return
        if self._pending:
            # Complete the chunk begun by an earlier piece (the only bytes copied here).
            take = view[: CHUNK - len(self._pending)]
            self._pending += take
            view = view[len(take) :]
            if len(self._pending) < CHUNK:
                return
            self._queue_chunks(memoryview(bytes(self._pending)))
            self._pending.clear()
        # Whole chunks are sealed straight from the received (immutable) buffer.
        full = len(view) // CHUNK * CHUNK
        if full:
            self._queue_chunks(view[:full])
        self._pending += view[full:]

    def finish(self) -> None:
        if self.sha256 or self._threads is None:
            return
        self.tail = bytes(self._pending)
        self._pending = bytearray()
        self._stop_threads()
        if self._error is not None:
            raise self._error
        self.chunks = self._queued
        self.sha256 = self._hash.hexdigest()

    def _stop_threads(self) -> None:
        assert self._threads is not None
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._threads = None

    # ------------------------------------------------------------------ reading back

    def _records(self) -> Iterator[bytearray]:
        sealed_size = self.seal.chunk_offset(1) - self.seal.chunk_offset(0)
        for i in range(self.chunks):
            index = self.base + i
            untrusted = os.pread(self.incoming.fd, sealed_size, self.seal.chunk_offset(index))
            # Each chunk's tag binds its index: a chunk altered, moved or cut on disk fails.
            yield bytearray(self.seal.open_chunk(untrusted, index))
        if self.tail:
            yield bytearray(self.tail)

    def open(self) -> BinaryIO:
        """The plaintext read back from the partial file (the rare fallback path)."""
        if not self.sha256 or self.closed:
            raise ValueError("direct file not finished, or closed")
        return cast(BinaryIO, Prefetch(self._records))

    def complete(
        self,
        *,
        submission_id: str,
        received_day: str,
        message: str | None,
        entries: list[FileEntry],
        reply: ReplyAddress | None = None,
    ) -> bool:
        """Worker thread: complete the submission whose first file this is (`entries[0]`),
        and commit it. False when its head does not fit the reserved room: then nothing was
        written and the caller seals the submission the usual way."""
        direct = self
        head = submission_head(
            submission_id=submission_id,
            received_day=received_day,
            message=message,
            files=entries,
            size=direct.head_size,
            reply=reply,
        )
        if head is None:
            return False
        seal = direct.seal
        fd = direct.incoming.fd
        first_chunk = direct.base + direct.chunks
        start = seal.chunk_offset(first_chunk)
        os.lseek(fd, start, os.SEEK_SET)
        disk = BackgroundWriter(DiskWriter(fd, start).write, handed_over=True)
        try:
            with seal.writer(disk, first_chunk) as sealed:
                # The file's last partial chunk, its block padding, the other files, the
                # end of the archive and the padding: the STREAM goes on from there.
                sealed.write(direct.tail)
                write_submission_tail(
                    sealed,
                    head_size=direct.head_size,
                    files=entries,
                )
            disk.close()
        except BaseException:
            disk.abort()
            raise
        # The head goes last: its manifest needed every file's hash.
        sealed_head = seal.seal_chunks(head, 0)
        view = memoryview(sealed_head)
        offset = seal.chunk_offset(0)
        while view:
            written = os.pwrite(fd, view, offset)
            view = view[written:]
            offset += written
        direct._storage.commit(direct.incoming)
        direct.committed = True
        return True

    def close(self) -> None:
        """Stop the thread and, unless committed, delete the partial file."""
        if self.closed:
            return
        self.closed = True
        if self._threads is not None:
            self._error = self._error or InterruptedError("closed")
            self._stop_threads()
        self._pending = bytearray()
        self.tail = b""
        if not self.committed:
            self._storage.discard(self.incoming)


def _pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
