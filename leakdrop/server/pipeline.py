"""One submission, from request body to sealed file.

    body chunks ──► StreamingForm ──► SpoolFile per file (AEAD, in-RAM key, no name)
                                        │   (limits checked while streaming)
    body complete ──► per file, in worker threads bounded by a limiter:
                        empty / unknown type / too large ─► kept as received
                        large PDF or video ─► scrubbers.scrub_streamed_sandboxed, read
                              by ranges from the spool, output into a new spool
                        else: decrypt spool into RAM ─► scrubbers.scrub_sandboxed
                              ─► cleaned bytes into a new spool; PDF attachments too
                  ──► submission.seal_submission(editors) ─► incoming/
                  ──► fsync, rename into submissions/, fsync the folder

Everything that can take time or touch a disk runs in a thread: the event loop only moves
bytes between the socket and those threads, so other sources are never held up. Whatever
goes wrong, every spool is closed (nameless: closing frees it) and any partial sealed file
is deleted: a submission lands whole or not at all.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import anyio
import anyio.abc
import anyio.to_thread

import scrubbers
from leakdrop.sealing import prepare
from leakdrop.server.body import Body, Receive
from leakdrop.server.config import MIB, ServerConfig
from leakdrop.server.direct import CHUNK, DIRECT_MIN_FACTOR, DirectFile, direct_head_size
from leakdrop.server.errors import (
    BusyError,
    InternalError,
    MalformedRequestError,
    NoFilesError,
    ServerFullError,
    SubmissionError,
    TooLargeError,
)
from leakdrop.server.form import StreamingForm, boundary_from
from leakdrop.server.mailroom import PendingAddress
from leakdrop.server.receipt import (
    Receipt,
    ReceiptFile,
    bounded_original,
    display_name,
    stored_name,
)
from leakdrop.server.spool import (
    HEAD_BYTES,
    BackgroundWriter,
    SpoolFile,
    SpoolKey,
    spool_bytes,
)
from leakdrop.server.storage import DiskWriter, Storage, today
from leakdrop.submission import (
    MAX_MANIFEST_BYTES,
    FileEntry,
    ReplyAddress,
    seal_submission,
)

log = logging.getLogger("leakdrop.server")


#: Body bytes handed to the parser thread at once: big enough that thread hops cost
#: nothing, small enough to stay a negligible amount of RAM per upload.
FEED_BYTES: Final = 1 * MIB
#: How often (in body bytes) free space is re-checked while an upload streams.
SPACE_CHECK_BYTES: Final = 64 * MIB
TOO_LARGE_TO_CLEAN: Final = "too large to clean"
EMPTY_NOTE: Final = "empty file (0 bytes)"
#: PDFs in PDFs in PDFs: attachments are flattened this deep at most.
MAX_ATTACHMENT_DEPTH: Final = 4
_NO_SPACE: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


# ----------------------------------------------------------------------------- upload


Stream = SpoolFile | DirectFile


@dataclass
class _Upload:
    """The `FileSink` for one submission: one spool per file, in order.

    With `direct` set, the first file's first 64 KiB are held in RAM and handed to it:
    it returns a `DirectFile` (the file is sealed in place) or None (spooled as usual).
    """

    directory: Path
    key: SpoolKey
    direct: Callable[[bytes], DirectFile | None] | None = None
    files: list[tuple[str, Stream]] = field(default_factory=list)
    _current: Stream | None = None
    _deciding: bytearray | None = None
    _name: str = ""

    def file_begin(self, untrusted_name: str) -> None:
        if not self.files and self.direct is not None:
            self._deciding = bytearray()
            self._name = untrusted_name
            return
        self._start(untrusted_name, SpoolFile(self.directory, self.key))

    def _start(self, untrusted_name: str, stream: Stream) -> None:
        self.files.append((untrusted_name, stream))
        self._current = stream

    def _decide(self, complete: bool) -> None:
        assert self._deciding is not None and self.direct is not None
        data = bytes(self._deciding)
        self._deciding = None
        stream: Stream | None = None
        if not complete:
            # Only a file of at least one full chunk is worth sealing in place.
            stream = self.direct(data[:HEAD_BYTES])
        if stream is None:
            stream = SpoolFile(self.directory, self.key)
        self._start(self._name, stream)
        stream.write(data)

    def file_data(self, data: memoryview) -> None:
        if self._deciding is not None:
            self._deciding += data
            if len(self._deciding) >= CHUNK:
                self._decide(complete=False)
            return
        assert self._current is not None
        self._current.write(data)

    def file_end(self) -> None:
        if self._deciding is not None:
            self._decide(complete=True)
        assert self._current is not None
        self._current.finish()
        self._current = None


@dataclass
class _Stored:
    """One file ready for the container (its bytes in `spool`), and its receipt line."""

    entry: FileEntry
    receipt: ReceiptFile
    spool: Stream


def _close_all(stored: list[_Stored]) -> None:
    for item in stored:
        item.spool.close()


# ----------------------------------------------------------------------------- processor


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to report from a task group: a refusal first, else the first failure."""
    flat: list[BaseException] = []
    todo: list[BaseException] = [group]
    while todo:
        item = todo.pop(0)
        if isinstance(item, BaseExceptionGroup):
            todo.extend(item.exceptions)
        else:
            flat.append(item)
    for exc in flat:
        if isinstance(exc, SubmissionError):
            return exc
    return flat[0]


def _parse_length(content_length: str | None) -> int | None:
    if content_length is None:
        return None
    if not content_length.isascii() or not content_length.isdigit():
        raise MalformedRequestError("bad Content-Length")
    return int(content_length)


class Processor:
    """Receives submissions for one server (shared limits, storage and keys)."""

    def __init__(self, config: ServerConfig, storage: Storage) -> None:
        self.config = config
        self.limits = config.limits
        self.storage = storage
        self._active = 0
        #: Disk space promised to the submissions in progress (see `_admit`).
        self._reserved = 0
        #: The cleaning and sealing queue: one worker per core, first come first served
        #: (anyio wakes a limiter's waiters in the order they arrived). Files wait here,
        #: with their bytes in the encrypted spool; nobody is refused for waiting.
        self._work = anyio.CapacityLimiter(self.limits.scrub_workers)
        self._scrub_limits = dataclasses.replace(
            scrubbers.DEFAULT_LIMITS,
            max_input_bytes=max(1, self.limits.scrub_max_bytes),
            memory_bytes=self.limits.scrub_memory_bytes,
            cpu_seconds=self.limits.scrub_cpu_seconds,
            wall_seconds=self.limits.scrub_wall_seconds,
        )

    @property
    def active(self) -> int:
        return self._active

    async def submit(
        self,
        receive: Receive,
        *,
        content_type: str | None,
        content_length: str | None,
        reply: ReplyAddress | PendingAddress | None = None,
    ) -> Receipt:
        """Receive, clean and seal one submission; raise `SubmissionError` on refusal.

        `reply`: the source's reply address (returning sources), sealed into the manifest;
        a new source's `PendingAddress` is started once the body is complete and awaited once
        the files are cleaned (the codename's Argon2 runs while they are cleaned, and an
        upload that never completes costs none).

        A refusal is raised as soon as it is known, without reading the rest of the body:
        the listener sends the page, then reads and discards the rest for a short while
        before closing (`leakdrop._listener`), so the browser shows it.
        """
        body = Body(
            receive,
            declared=_parse_length(content_length),
            max_bytes=self.limits.max_body_bytes,
            idle_timeout=self.limits.idle_timeout,
            min_rate=self.limits.min_upload_rate,
            grace=self.limits.rate_grace,
        )
        if body.declared is not None and body.declared > self.limits.max_body_bytes:
            raise TooLargeError("Content-Length over the limit")
        boundary = boundary_from(content_type)
        # The spool and the sealed output both need the submission's size on disk.
        reserve = 2 * (body.declared or 0)
        self._admit(reserve)
        self._active += 1
        self._reserved += reserve
        try:
            return await self._ingest(body, boundary, reply)
        finally:
            self._active -= 1
            self._reserved -= reserve

    def _admit(self, reserve: int) -> None:
        """Busy only when the memory set aside for uploads is all taken; full when the
        free space, less what the submissions in progress were promised, cannot hold
        this one: each upload is bounded by what memory and disk really hold."""
        if self._active >= self.limits.upload_slots:
            raise BusyError("every upload slot is taken")
        free = self.storage.free_bytes() - self._reserved
        if free < self.limits.min_free_bytes + reserve:
            raise ServerFullError("free space below the threshold")

    def _direct_for(self, declared: int | None) -> Callable[[bytes], DirectFile | None] | None:
        """How the first file may be sealed in place (None: not for this body)."""
        head_size = direct_head_size(self.limits.max_message_bytes)
        if declared is None or declared < DIRECT_MIN_FACTOR * head_size:
            return None
        if head_size > MAX_MANIFEST_BYTES:
            # A huge message limit: the spare room could not all go into manifest.json.
            return None

        def direct(head: bytes) -> DirectFile | None:
            file_type = scrubbers.sniff(head)
            # Exactly the files `_process` keeps as received from their first bytes: no
            # scrubber exists for them, so nothing needs them in RAM or spooled.
            if file_type.name != "unknown" or head.startswith(b"PK\x03\x04"):
                return None
            return DirectFile(self.storage, prepare(self.config.recipients), head_size)

        return direct

    async def _ingest(
        self,
        body: Body,
        boundary: bytes,
        reply: ReplyAddress | PendingAddress | None = None,
    ) -> Receipt:
        upload = _Upload(self.storage.spool, SpoolKey(), self._direct_for(body.declared))
        form = StreamingForm(boundary, self.limits, upload)
        stored: list[_Stored] = []
        try:
            try:
                await self._receive_all(body, form)
                if isinstance(reply, PendingAddress):
                    reply.start()  # the body is complete: Argon2 overlaps with the cleaning
                message = form.message
                if not upload.files and message is None:
                    # A tip is files, a message, or both: this is neither.
                    raise NoFilesError("no file and no message")
                stored = await self._process_all(upload)
                address = await reply.get() if isinstance(reply, PendingAddress) else reply
                submission_id = secrets.token_hex(16)
                entries = [s.entry for s in stored]
                first = stored[0].spool if stored else None
                if not (
                    isinstance(first, DirectFile)
                    and await anyio.to_thread.run_sync(
                        functools.partial(
                            first.complete,
                            submission_id=submission_id,
                            received_day=today(),
                            message=message,
                            entries=entries,
                            reply=address,
                        ),
                        limiter=self._work,
                    )
                ):
                    await anyio.to_thread.run_sync(
                        self._seal, submission_id, message, entries, address, limiter=self._work
                    )
            except SubmissionError:
                raise
            except OSError as exc:
                if exc.errno in _NO_SPACE:
                    raise ServerFullError("disk full") from exc
                raise InternalError(type(exc).__name__) from exc
            except Exception as exc:
                raise InternalError(type(exc).__name__) from exc
        finally:
            for _, spool in upload.files:
                spool.close()
            _close_all(stored)
        return Receipt(
            files=tuple(s.receipt for s in stored),
            message_chars=len(message) if message is not None else None,
        )

    async def _receive_all(self, body: Body, form: StreamingForm) -> None:
        """Move body chunks to the parser thread. Receiving the next bytes overlaps with
        parsing, hashing and encrypting the previous ones (a small bounded queue between
        them keeps memory flat whatever the upload size)."""
        # One batch queued, one parsed: with the one being gathered, the RAM an upload holds
        # (`config.UPLOAD_MEMORY_BYTES`).
        sender, receiver = anyio.create_memory_object_stream[bytes](max_buffer_size=1)

        async def parse() -> None:
            async with receiver:
                async for batch in receiver:
                    await anyio.to_thread.run_sync(form.feed, batch)

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(parse)
                async with sender:
                    await self._read_batches(body, sender)
        except BaseExceptionGroup as group_error:
            raise _first(group_error) from None
        form.close()

    async def _read_batches(self, body: Body, sender: anyio.abc.ObjectSendStream[bytes]) -> None:
        batch: list[bytes] = []
        batched = 0
        next_space_check = SPACE_CHECK_BYTES
        async for chunk in body.chunks():
            batch.append(chunk)
            batched += len(chunk)
            if batched >= FEED_BYTES:
                await sender.send(b"".join(batch))
                batch.clear()
                batched = 0
            if body.received >= next_space_check:
                next_space_check += SPACE_CHECK_BYTES
                # Someone else may be filling the disk: stop before it is full.
                if self.storage.free_bytes() < self.limits.min_free_bytes // 2:
                    raise ServerFullError("free space fell below the threshold")
        if batch:
            await sender.send(b"".join(batch))

    # ------------------------------------------------------------------ cleaning

    async def _process_all(self, upload: _Upload) -> list[_Stored]:
        results: list[list[_Stored] | None] = [None] * len(upload.files)
        failures: list[BaseException] = []

        async def one(index: int, untrusted_name: str, spool: Stream) -> None:
            try:
                results[index] = await self._process(untrusted_name, spool)
            except Exception as exc:  # noqa: BLE001 - re-raised below, outside the group
                failures.append(exc)

        async with anyio.create_task_group() as group:
            for index, (untrusted_name, spool) in enumerate(upload.files):
                group.start_soon(one, index, untrusted_name, spool)
        stored = [item for result in results if result for item in result]
        if failures:
            _close_all(stored)
            raise failures[0]
        return stored

    async def _process(self, untrusted_name: str, spool: Stream) -> list[_Stored]:
        head_type = scrubbers.sniff(spool.head)
        if isinstance(spool, DirectFile):
            # Sealed in place because its first bytes have no scrubber (`_direct_for`).
            reason = scrubbers.UnsupportedTypeError.reason
            return [self._as_received(untrusted_name, spool, head_type, False, reason, None)]
        if spool.size == 0:
            return [self._as_received(untrusted_name, spool, head_type, True, None, EMPTY_NOTE)]
        if head_type.name == "unknown" and not spool.head.startswith(b"PK\x03\x04"):
            # No scrubber exists for this type (only ZIP-based formats need more than the
            # first KiB to be told apart): keep it as received without loading it in RAM.
            reason = scrubbers.UnsupportedTypeError.reason
            return [self._as_received(untrusted_name, spool, head_type, False, reason, None)]
        if (
            spool.size > self._scrub_limits.stream_above_bytes
            and head_type.name in scrubbers.STREAMED_TYPES
        ):
            # A phone video or a scanned document of any size up to the upload limit:
            # cleaned by ranges, never whole in RAM.
            return await anyio.to_thread.run_sync(
                self._scrub_streamed, untrusted_name, spool, limiter=self._work
            )
        if spool.size > self.limits.scrub_max_bytes:
            return [
                self._as_received(untrusted_name, spool, head_type, False, TOO_LARGE_TO_CLEAN, None)
            ]
        return await anyio.to_thread.run_sync(
            self._scrub, untrusted_name, spool, limiter=self._work
        )

    def _as_received(
        self,
        untrusted_name: str,
        spool: Stream,
        file_type: scrubbers.FileType,
        cleaned: bool,
        reason: str | None,
        note: str | None,
    ) -> _Stored:
        name = stored_name(untrusted_name, file_type)
        entry = FileEntry(
            stored_name=name,
            original_name=bounded_original(untrusted_name),
            detected_type=file_type.name,
            media_type=file_type.media_type,
            cleaned=cleaned,
            reason=reason,
            removed=[],
            note=note,
            size=spool.size,
            sha256=spool.sha256,
            open=spool.open,
            authenticated_stream=True,
        )
        receipt = ReceiptFile(
            display_name=display_name(untrusted_name),
            stored_name=name,
            type_name=file_type.name,
            cleaned=cleaned,
            reason=reason,
            removed=(),
            note=note,
            size=spool.size,
            plain_text=reason == scrubbers.UnsupportedTypeError.reason
            and scrubbers.is_plain_text(spool.head),
        )
        return _Stored(entry, receipt, spool)

    def _scrub(self, untrusted_name: str, spool: SpoolFile) -> list[_Stored]:
        """Worker thread: decrypt into RAM, clean in the sandbox, re-spool the result."""
        untrusted_data = spool.read_all()
        report = scrubbers.scrub_sandboxed(untrusted_data, limits=self._scrub_limits)
        del untrusted_data
        if not report.cleaned:
            # Kept exactly as received (the original spool, whose hash was taken while
            # streaming): nothing accepted is lost.
            return [
                self._as_received(
                    untrusted_name, spool, report.file_type, False, report.reason, report.note
                )
            ]
        result: list[_Stored] = []
        try:
            self._add_report(result, untrusted_name, report, spool.key, None, 0)
        except BaseException:
            _close_all(result)
            raise
        # The cleaned bytes replace the original: free its spool (and descriptor) now.
        spool.close()
        return result

    def _scrub_streamed(self, untrusted_name: str, spool: SpoolFile) -> list[_Stored]:
        """Worker thread: clean by ranges read from the spool, into a new spool."""
        output = SpoolFile(self.storage.spool, spool.key)
        result: list[_Stored] = []
        try:
            report = scrubbers.scrub_streamed_sandboxed(
                spool.size, spool.read_at, output, limits=self._scrub_limits
            )
            if not report.cleaned:
                output.close()
                return [
                    self._as_received(
                        untrusted_name, spool, report.file_type, False, report.reason, report.note
                    )
                ]
            self._describe(result, untrusted_name, report, output, None)
            name = result[-1].receipt.stored_name
            for attachment in report.attachments:
                self._add_report(
                    result, attachment.untrusted_name, attachment.report, spool.key, name, 1
                )
        except BaseException:
            if not result:
                output.close()
            _close_all(result)
            raise
        spool.close()
        return result

    def _add_report(
        self,
        result: list[_Stored],
        untrusted_name: str,
        report: scrubbers.ScrubReport,
        key: SpoolKey,
        parent: str | None,
        depth: int,
    ) -> None:
        cleaned_spool = spool_bytes(self.storage.spool, key, report.data)
        try:
            self._describe(result, untrusted_name, report, cleaned_spool, parent)
        except BaseException:
            cleaned_spool.close()
            raise
        if depth >= MAX_ATTACHMENT_DEPTH:
            return
        name = result[-1].receipt.stored_name
        for attachment in report.attachments:
            self._add_report(
                result, attachment.untrusted_name, attachment.report, key, name, depth + 1
            )

    def _describe(
        self,
        result: list[_Stored],
        untrusted_name: str,
        report: scrubbers.ScrubReport,
        cleaned_spool: SpoolFile,
        parent: str | None,
    ) -> None:
        name = stored_name(untrusted_name, report.file_type)
        note = report.note
        if parent is not None:
            note = f"attachment of {parent}" + (f"; {note}" if note else "")
        entry = FileEntry(
            stored_name=name,
            original_name=bounded_original(untrusted_name),
            detected_type=report.file_type.name,
            media_type=report.file_type.media_type,
            cleaned=report.cleaned,
            reason=report.reason,
            removed=list(report.removed),
            note=note,
            size=cleaned_spool.size,
            sha256=cleaned_spool.sha256,
            open=cleaned_spool.open,
            authenticated_stream=True,
        )
        receipt = ReceiptFile(
            display_name=display_name(untrusted_name),
            stored_name=name,
            type_name=report.file_type.name,
            cleaned=report.cleaned,
            reason=report.reason,
            removed=tuple(report.removed),
            note=report.note,
            size=cleaned_spool.size,
            attached_to=parent,
            warnings=report.warnings,
        )
        result.append(_Stored(entry, receipt, cleaned_spool))

    # ------------------------------------------------------------------ sealing

    def _seal(
        self,
        submission_id: str,
        message: str | None,
        entries: list[FileEntry],
        reply: ReplyAddress | None = None,
    ) -> None:
        """Worker thread: tar + age to every editor into incoming/, then commit.

        Three threads share the work: the spool readers decrypt ahead, this one builds the
        tar and encrypts it to the editors (no second hash: each spool authenticates what
        it yields against the hash taken while receiving), a `BackgroundWriter` writes the
        ciphertext out and starts its write-back early, so that the fsync in `commit` has
        little left to wait for.
        """
        incoming = self.storage.new_incoming()
        try:
            disk = BackgroundWriter(DiskWriter(incoming.fd).write, handed_over=True)
            try:
                # An error aborts the seal: no final chunk is ever written after an
                # incomplete plaintext.
                seal_submission(
                    disk,
                    self.config.recipients,
                    submission_id=submission_id,
                    received_day=today(),
                    message=message,
                    files=entries,
                    reply=reply,
                )
                disk.close()
            except BaseException:
                disk.abort()
                raise
            self.storage.commit(incoming)
        except BaseException:
            self.storage.discard(incoming)
            raise
