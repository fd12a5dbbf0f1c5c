"""The in-place seal: a large uncleanable first file sealed straight into the final age
file as it arrives, one `seal.SealStrategy`.

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
arrives (`InPlaceFile`, the file's intake); the last partial chunk stays in RAM. When the
body is complete, `InPlaceSeal` writes the rest of the tar after it
(`submission.write_submission_tail`), the final chunk, then the head's chunks
(`submission.submission_head`, which fills the reserved room exactly), and commits. The
whole strategy lives here: the intake only asks `in_place_chooser` whether a body may use
it, the pipeline seals with `InPlaceSeal` when the first file took it. No plaintext byte
of the file reaches the disk: only age ciphertext.

Should the head not fit after all (an unusually large manifest), the data is read back
from the partial file (each chunk authenticated by its own tag and index) and the
submission is sealed by the ordinary strategy into a new file; this one is then deleted.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO, Final, cast

import scrubbers
from leakdrop._files import pwrite_all
from leakdrop.sealing import CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, PreparedSeal, Recipient, prepare
from leakdrop.server._writer_thread import BackgroundWriter, WorkerThreads
from leakdrop.server.plaintext_intake import PlaintextIntake
from leakdrop.server.seal import SealStrategy, SubmissionContents
from leakdrop.server.spool import Prefetch
from leakdrop.server.storage import WRITEBACK_BYTES, DiskWriter, Storage
from leakdrop.submission import (
    BLOCK,
    MAX_MANIFEST_BYTES,
    submission_head,
    write_submission_tail,
)

#: age's STREAM chunk (plaintext bytes), and one sealed chunk (plaintext and tag).
CHUNK: Final = CHUNK_SIZE
SEALED_CHUNK: Final = ENCRYPTED_CHUNK_SIZE
#: Chunks sealed and written at once by a sealing thread (1 MiB).
BATCH: Final = 16 * CHUNK
#: Threads sealing and writing batches.
SEALERS: Final = 2
#: Room kept for manifest.json in the head of a submission sealed in place: enough for
#: the files of any ordinary submission; a bigger manifest takes the ordinary seal.
MANIFEST_ROOM: Final = 64 * 1024
#: Room for the first file's tar header (a pax header for a long or non-ASCII name).
FIRST_HEADER_ROOM: Final = 4 * BLOCK
#: A file is sealed in place only when the body is at least this many times the head that
#: must be reserved for it (the head's unused room is spaces in manifest.json: at most a
#: few percent of such a submission).
IN_PLACE_MIN_FACTOR: Final = 64


def in_place_head_size(max_message_bytes: int) -> int:
    """Plaintext reserved before a file sealed in place: manifest.json (its header and
    `MANIFEST_ROOM`), the longest message.txt the limits allow (its header, the message,
    block padding), the first file's header; rounded up to whole STREAM chunks."""
    message = BLOCK + -(-max_message_bytes // BLOCK) * BLOCK
    need = BLOCK + MANIFEST_ROOM + message + FIRST_HEADER_ROOM
    return -(-need // CHUNK) * CHUNK


def in_place_chooser(
    storage: Storage,
    recipients: Sequence[Recipient],
    *,
    max_message_bytes: int,
    declared: int | None,
) -> Callable[[bytes], InPlaceFile | None] | None:
    """How the first file of a body of `declared` bytes may be sealed in place: given its
    first bytes, an `InPlaceFile` or None (spooled as usual). None: not for this body."""
    head_size = in_place_head_size(max_message_bytes)
    if declared is None or declared < IN_PLACE_MIN_FACTOR * head_size:
        return None
    if head_size > MAX_MANIFEST_BYTES:
        # A huge message limit: the spare room could not all go into manifest.json.
        return None

    def choose(head: bytes) -> InPlaceFile | None:
        file_type = scrubbers.sniff(head)
        # Exactly the files the cleaning keeps as received from their first bytes: no
        # scrubber exists for them, so nothing needs them in RAM or spooled.
        if file_type.name != "unknown" or head.startswith(b"PK\x03\x04"):
            return None
        return InPlaceFile(storage, prepare(recipients), head_size)

    return choose


#: Whole chunks of the file handed to a sealing thread: the index of the first (counted
#: from the file's first chunk) and their bytes.
_Chunks = tuple[int, memoryview]


class _SealBuffer(threading.local):
    """Each sealing thread's output buffer, reused: no fresh pages per batch."""

    def __init__(self) -> None:
        self.out = bytearray(BATCH // CHUNK * SEALED_CHUNK)


class InPlaceFile(PlaintextIntake):
    """One file sealed in place into ``incoming/<name>.part`` (see the module text).

    `write` (parser thread) hashes and batches; `SEALERS` threads seal and write the
    batches. After `finish`, `size`, `sha256`, `head` describe the plaintext, `chunks` full
    chunks are on disk and `tail` (< 64 KiB) is in RAM. `close` deletes the partial file
    unless `commit` was called.
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
        self._queued = 0  # full chunks handed to the threads
        self.chunks = 0
        self.tail = b""
        self.closed = False
        self.committed = False
        self.incoming = storage.new_incoming(readable=True)
        try:
            pwrite_all(self.incoming.fd, seal.header, 0)
        except BaseException:
            storage.discard(self.incoming)
            raise
        self._written = 0
        self._next_writeback = WRITEBACK_BYTES
        self._buffers = _SealBuffer()
        # Two sealing threads: with pwrite each batch lands at its own offset, in whatever
        # order the threads finish (the heaviest work of the upload, spread over two cores).
        self._sealers: WorkerThreads[_Chunks] | None = WorkerThreads(
            self._seal_chunks, threads=SEALERS, name="in-place-sealer"
        )

    # ------------------------------------------------------------------ writing

    def _seal_chunks(self, item: _Chunks) -> None:
        # A sealing thread.
        index, chunks = item
        out = self._buffers.out
        for start in range(0, len(chunks), BATCH):
            batch = chunks[start : start + BATCH]
            first = self.base + index + start // CHUNK
            sealed = memoryview(out)[: len(batch) // CHUNK * SEALED_CHUNK]
            self.seal.seal_chunks_into(sealed, batch, first)
            offset = self.seal.chunk_offset(first)
            # pwrite copies into the page cache: `out` is free again after it.
            pwrite_all(self.incoming.fd, sealed, offset)
            self._written = max(self._written, offset + len(sealed))
        if self._written >= self._next_writeback:
            self._next_writeback = self._written + WRITEBACK_BYTES
            # Start write-back early (ciphertext only) so the final fsync is short.
            with contextlib.suppress(OSError, AttributeError):
                os.posix_fadvise(self.incoming.fd, 0, self._written, os.POSIX_FADV_DONTNEED)

    def _queue_chunks(self, sealers: WorkerThreads[_Chunks], chunks: memoryview) -> None:
        sealers.put((self._queued, chunks))
        self._queued += len(chunks) // CHUNK

    def write(self, data: bytes | memoryview) -> None:
        sealers = self._sealers
        if sealers is None or self.sha256:
            raise ValueError("in-place file already finished or closed")
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
            self._queue_chunks(sealers, memoryview(bytes(self._pending)))
            self._pending.clear()
        # Whole chunks are sealed straight from the received (immutable) buffer.
        full = len(view) // CHUNK * CHUNK
        if full:
            self._queue_chunks(sealers, view[:full])
        self._pending += view[full:]

    def finish(self) -> None:
        if self.sha256 or self._sealers is None:
            return
        self.tail = bytes(self._pending)
        self._pending = bytearray()
        sealers, self._sealers = self._sealers, None
        sealers.close()  # every batch sealed and written (re-raises a thread's error)
        self.chunks = self._queued
        self.sha256 = self._hash.hexdigest()

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
            raise ValueError("in-place file not finished, or closed")
        return cast(BinaryIO, Prefetch(self._records))

    def commit(self) -> None:
        """Worker thread: the sealed file is complete; commit it to the storage."""
        self._storage.commit(self.incoming)
        self.committed = True

    def close(self) -> None:
        """Stop the threads and, unless committed, delete the partial file."""
        if self.closed:
            return
        self.closed = True
        if self._sealers is not None:
            self._sealers.abort()
            self._sealers = None
        self._pending = bytearray()
        self.tail = b""
        if not self.committed:
            self._storage.discard(self.incoming)


class InPlaceSeal:
    """The `SealStrategy` of a submission whose first file is an `InPlaceFile`: only the
    rest of the tar and the head are left to seal. Falls back to `ordinary` when the head
    does not fit the reserved room (then nothing was written here)."""

    def __init__(self, first: InPlaceFile, ordinary: SealStrategy) -> None:
        self._first = first
        self._ordinary = ordinary

    def seal(self, contents: SubmissionContents) -> None:
        first = self._first
        head = submission_head(
            submission_id=contents.submission_id,
            received_day=contents.received_day,
            message=contents.message,
            files=contents.entries,
            size=first.head_size,
            reply=contents.reply,
        )
        if head is None:
            self._ordinary.seal(contents)
            return
        seal = first.seal
        fd = first.incoming.fd
        first_chunk = first.base + first.chunks
        start = seal.chunk_offset(first_chunk)
        os.lseek(fd, start, os.SEEK_SET)
        disk = BackgroundWriter(DiskWriter(fd, start).write, handed_over=True)
        try:
            with seal.writer(disk, first_chunk) as sealed:
                # The file's last partial chunk, its block padding, the other files, the
                # end of the archive and the padding: the STREAM goes on from there.
                sealed.write(first.tail)
                write_submission_tail(
                    sealed,
                    head_size=first.head_size,
                    files=contents.entries,
                )
            disk.close()
        except BaseException:
            disk.abort()
            raise
        # The head goes last: its manifest needed every file's hash.
        pwrite_all(fd, seal.seal_chunks(head, 0), seal.chunk_offset(0))
        first.commit()
