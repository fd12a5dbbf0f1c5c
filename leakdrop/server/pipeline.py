"""One submission, from request body to sealed file: the upload path, one stage per
module, top to bottom.

    body.Body            the ASGI body, with its framing checks (length, idle, rate)
    ──► form             streamed to the form parser in a thread (limits checked while
                         streaming)
    ──► intake.Intake    per file: an encrypted spool (spool.SpoolFile: AEAD, in-RAM
                         key, no name), or sealed in place (in_place.InPlaceFile)
    body complete ──► cleaning.Cleaner, per file in worker threads bounded by a limiter:
                         kept as received, or cleaned in the scrubbers' sandbox
    ──► seal.SealStrategy  seal.OrdinarySeal, or in_place.InPlaceSeal when the first
                         file was sealed as it arrived ─► incoming/
    ──► storage.Storage.commit  fsync, rename into submissions/, fsync the folder

Everything that can take time or touch a disk runs in a thread: the event loop only moves
bytes between the socket and those threads, so other sources are never held up. Whatever
goes wrong, every spool is closed (nameless: closing frees it) and any partial sealed file
is deleted: a submission lands whole or not at all.
"""

from __future__ import annotations

import errno
import logging
import secrets
from typing import Final

import anyio
import anyio.to_thread

from leakdrop.server.body import Body, Receive, parse_content_length
from leakdrop.server.cleaning import Cleaner, StoredFile, close_all
from leakdrop.server.config import ServerConfig
from leakdrop.server.errors import (
    BusyError,
    InternalError,
    NoFilesError,
    ServerFullError,
    SubmissionError,
    TooLargeError,
)
from leakdrop.server.form import StreamingForm, boundary_from, receive_form
from leakdrop.server.in_place import InPlaceFile, InPlaceSeal, in_place_chooser
from leakdrop.server.intake import Intake
from leakdrop.server.mailroom import PendingAddress
from leakdrop.server.receipt import Receipt
from leakdrop.server.seal import OrdinarySeal, SealStrategy, SubmissionContents
from leakdrop.server.spool import SpoolKey
from leakdrop.server.storage import Storage, today
from leakdrop.submission import ReplyAddress

log = logging.getLogger("leakdrop.server")

_NO_SPACE: Final = frozenset({errno.ENOSPC, errno.EDQUOT})


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
        self._cleaner = Cleaner(self.limits, storage.spool, self._work)
        self._ordinary_seal = OrdinarySeal(storage, config.recipients)

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
            declared=parse_content_length(content_length),
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

    def _check_space(self) -> None:
        # Someone else may be filling the disk while an upload streams: stop before it
        # is full.
        if self.storage.free_bytes() < self.limits.min_free_bytes // 2:
            raise ServerFullError("free space fell below the threshold")

    async def _ingest(
        self,
        body: Body,
        boundary: bytes,
        reply: ReplyAddress | PendingAddress | None = None,
    ) -> Receipt:
        in_place = in_place_chooser(
            self.storage,
            self.config.recipients,
            max_message_bytes=self.limits.max_message_bytes,
            declared=body.declared,
        )
        intake = Intake(self.storage.spool, SpoolKey(), in_place)
        form = StreamingForm(boundary, self.limits, intake)
        stored: list[StoredFile] = []
        try:
            try:
                await receive_form(body, form, self._check_space)
                if isinstance(reply, PendingAddress):
                    reply.start()  # the body is complete: Argon2 overlaps with the cleaning
                message = form.message
                if not intake.files and message is None:
                    # A tip is files, a message, or both: this is neither.
                    raise NoFilesError("no file and no message")
                stored = await self._cleaner.clean_all(intake.files)
                address = await reply.get() if isinstance(reply, PendingAddress) else reply
                contents = SubmissionContents(
                    submission_id=secrets.token_hex(16),
                    received_day=today(),
                    message=message,
                    entries=[s.entry for s in stored],
                    reply=address,
                )
                sealing: SealStrategy = self._ordinary_seal
                first = stored[0].spool if stored else None
                if isinstance(first, InPlaceFile):
                    sealing = InPlaceSeal(first, self._ordinary_seal)
                await anyio.to_thread.run_sync(sealing.seal, contents, limiter=self._work)
            except SubmissionError:
                raise
            except OSError as exc:
                if exc.errno in _NO_SPACE:
                    raise ServerFullError("disk full") from exc
                raise InternalError(type(exc).__name__) from exc
            except Exception as exc:
                raise InternalError(type(exc).__name__) from exc
        finally:
            intake.close()
            close_all(stored)
        return Receipt(
            files=tuple(s.receipt for s in stored),
            message_chars=len(message) if message is not None else None,
        )
