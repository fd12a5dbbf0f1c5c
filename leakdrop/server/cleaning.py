"""Cleaning, the stage after the intake: each received file, in worker threads bounded
by a limiter, kept as received or cleaned in the scrubbers' sandbox, with what the receipt
and the manifest say of it.

    empty / unknown type / too large ─► kept as received
    large PDF, video, sound or ZIP archive ─► scrubbers.scrub_streamed_sandboxed, read by
          ranges from the spool, output into a new spool
    else: decrypt spool into RAM ─► scrubbers.scrub_sandboxed ─► cleaned bytes into a new
          spool; PDF attachments too
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import anyio
import anyio.to_thread

import scrubbers
from leakdrop.server.config import Limits
from leakdrop.server.in_place import InPlaceFile
from leakdrop.server.intake import IntakeFile
from leakdrop.server.receipt import ReceiptFile, bounded_original, display_name, stored_name
from leakdrop.server.spool import SpoolFile, SpoolKey, spool_bytes
from leakdrop.submission import FileEntry

TOO_LARGE_TO_CLEAN: Final = "too large to clean"
EMPTY_NOTE: Final = "empty file (0 bytes)"
#: PDFs in PDFs in PDFs: attachments are flattened this deep at most.
MAX_ATTACHMENT_DEPTH: Final = 4


@dataclass
class StoredFile:
    """One file ready for the container (its bytes in `spool`), and its receipt line."""

    entry: FileEntry
    receipt: ReceiptFile
    spool: IntakeFile


def close_all(stored: list[StoredFile]) -> None:
    for item in stored:
        item.spool.close()


class Cleaner:
    """Cleans the files of every submission of one server, `work` bounding the threads
    (first come first served), into new spools in `spool_dir`."""

    def __init__(self, limits: Limits, spool_dir: Path, work: anyio.CapacityLimiter) -> None:
        self._spool_dir = spool_dir
        self._work = work
        self._scrub_max_bytes = limits.scrub_max_bytes
        self._scrub_limits = dataclasses.replace(
            scrubbers.DEFAULT_LIMITS,
            max_input_bytes=max(1, limits.scrub_max_bytes),
            memory_bytes=limits.scrub_memory_bytes,
            cpu_seconds=limits.scrub_cpu_seconds,
            wall_seconds=limits.scrub_wall_seconds,
        )

    async def clean_all(self, files: list[tuple[str, IntakeFile]]) -> list[StoredFile]:
        """Every received file (in order, with the files found in it), each cleaned or kept
        as received; on a failure, every new spool is closed and the first error raised."""
        results: list[list[StoredFile] | None] = [None] * len(files)
        failures: list[BaseException] = []

        async def one(index: int, untrusted_name: str, spool: IntakeFile) -> None:
            try:
                results[index] = await self._clean(untrusted_name, spool)
            except Exception as exc:  # noqa: BLE001 - re-raised below, outside the group
                failures.append(exc)

        async with anyio.create_task_group() as group:
            for index, (untrusted_name, spool) in enumerate(files):
                group.start_soon(one, index, untrusted_name, spool)
        stored = [item for result in results if result for item in result]
        if failures:
            close_all(stored)
            raise failures[0]
        return stored

    async def _clean(self, untrusted_name: str, spool: IntakeFile) -> list[StoredFile]:
        head_type = scrubbers.sniff(spool.head)
        if isinstance(spool, InPlaceFile):
            # Sealed in place because its first bytes have no scrubber (`in_place_chooser`).
            reason = scrubbers.UnsupportedTypeError.reason
            return [self._as_received(untrusted_name, spool, head_type, False, reason, None)]
        if spool.size == 0:
            return [self._as_received(untrusted_name, spool, head_type, True, None, EMPTY_NOTE)]
        if head_type.name == "unknown" and not spool.head.startswith(b"PK\x03\x04"):
            # No scrubber exists for this type (only ZIP-based formats need more than the
            # first KiB to be told apart): keep it as received without loading it in RAM.
            reason = scrubbers.UnsupportedTypeError.reason
            return [self._as_received(untrusted_name, spool, head_type, False, reason, None)]
        if spool.size > self._scrub_limits.stream_above_bytes and await self._streams(spool):
            # A phone video or a scanned document of any size up to the upload limit:
            # cleaned by ranges, never whole in RAM.
            return await anyio.to_thread.run_sync(
                self._scrub_streamed, untrusted_name, spool, limiter=self._work
            )
        if spool.size > self._scrub_max_bytes:
            return [
                self._as_received(untrusted_name, spool, head_type, False, TOO_LARGE_TO_CLEAN, None)
            ]
        return await anyio.to_thread.run_sync(
            self._scrub, untrusted_name, spool, limiter=self._work
        )

    async def _streams(self, spool: SpoolFile) -> bool:
        """Whether this large file is of a type cleaned by ranges."""
        if not spool.head.startswith(b"PK\x03\x04"):
            return scrubbers.sniff(spool.head).name in scrubbers.STREAMED_TYPES
        # A zip's type is in its central directory, at the end: an archive is cleaned by
        # ranges, an office document in RAM. Read from the spool (bounded: `sniff`), in a
        # worker thread as every decryption of a whole file is.
        source = scrubbers.RangeSource(spool.size, spool.read_at)
        file_type = await anyio.to_thread.run_sync(scrubbers.sniff, source, limiter=self._work)
        return file_type.name in scrubbers.STREAMED_TYPES

    def _as_received(
        self,
        untrusted_name: str,
        spool: IntakeFile,
        file_type: scrubbers.FileType,
        cleaned: bool,
        reason: str | None,
        note: str | None,
    ) -> StoredFile:
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
        return StoredFile(entry, receipt, spool)

    def _scrub(self, untrusted_name: str, spool: SpoolFile) -> list[StoredFile]:
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
        result: list[StoredFile] = []
        try:
            self._add_report(result, untrusted_name, report, spool.key, None, 0)
        except BaseException:
            close_all(result)
            raise
        # The cleaned bytes replace the original: free its spool (and descriptor) now.
        spool.close()
        return result

    def _scrub_streamed(self, untrusted_name: str, spool: SpoolFile) -> list[StoredFile]:
        """Worker thread: clean by ranges read from the spool, into a new spool."""
        output = SpoolFile(self._spool_dir, spool.key)
        result: list[StoredFile] = []
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
            close_all(result)
            raise
        spool.close()
        return result

    def _add_report(
        self,
        result: list[StoredFile],
        untrusted_name: str,
        report: scrubbers.ScrubReport,
        key: SpoolKey,
        parent: str | None,
        depth: int,
    ) -> None:
        cleaned_spool = spool_bytes(self._spool_dir, key, report.data)
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
        result: list[StoredFile],
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
        result.append(StoredFile(entry, receipt, cleaned_spool))
