"""The upload form, parsed as a stream (never through Starlette's ``request.form()``).

Starlette's form parsing spools uploaded files to a plaintext temporary file: exactly what
must never happen here. Instead the body is fed, chunk by chunk, to python-multipart's
push parser; each file's bytes go straight to the handler (the encrypted spool), and every
limit is checked as the bytes arrive, so a refusal comes before the disk or RAM fills.

The form has exactly two fields: ``files`` (one part per file; a browser sends an empty
part with an empty file name when none was picked) and an optional ``message``. Anything
else is a malformed request: this endpoint serves one form, not arbitrary clients.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, Protocol

import anyio
import anyio.abc
import anyio.to_thread
import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from leakdrop.server.body import Body
from leakdrop.server.config import MIB, Limits
from leakdrop.server.errors import (
    MalformedRequestError,
    MessageTooLongError,
    SubmissionError,
    TooLargeError,
    TooManyFilesError,
)

FILES_FIELD: Final = "files"
MESSAGE_FIELD: Final = "message"
#: RFC 2046: 1-70 characters from this set (the parser itself allows 256).
_BOUNDARY_RE: Final = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
#: Parts that are neither a file nor the message are refused, but empty "no file picked"
#: parts are skipped: bound them too, or a client could send millions.
_EXTRA_PARTS: Final = 8
#: Body bytes handed to the parser thread at once: big enough that thread hops cost
#: nothing, small enough to stay a negligible amount of RAM per upload.
FEED_BYTES: Final = 1 * MIB
#: How often (in body bytes) free space is re-checked while an upload streams.
SPACE_CHECK_BYTES: Final = 64 * MIB


class FileSink(Protocol):
    """Where a file's bytes go (the encrypted spool)."""

    def file_begin(self, untrusted_name: str) -> None: ...
    def file_data(self, data: memoryview) -> None: ...
    def file_end(self) -> None: ...


def boundary_from(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type, or MalformedRequestError."""
    if not content_type:
        raise MalformedRequestError("no Content-Type")
    media, params = parse_options_header(content_type)
    if media != b"multipart/form-data":
        raise MalformedRequestError("not multipart/form-data")
    boundary = params.get(b"boundary", b"")
    if not _BOUNDARY_RE.fullmatch(boundary):
        raise MalformedRequestError("missing or invalid boundary")
    return boundary


class StreamingForm:
    """Push parser for the upload form. Call `feed` per chunk, then `close`.

    Raises `SubmissionError` subclasses only (from `feed` and `close`).
    """

    def __init__(self, boundary: bytes, limits: Limits, sink: FileSink) -> None:
        self._limits = limits
        self._sink = sink
        self._parser = python_multipart.MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_end": self._end,
            },
            max_header_count=limits.max_part_headers,
            max_header_size=limits.max_part_header_bytes,
        )
        self._ended = False
        self._parts = 0
        self.files = 0
        self.file_bytes = 0
        self._message: bytearray | None = None
        self._message_seen = False
        # Current part.
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._kind: str | None = None  # "file", "pending" (empty name, no byte yet), "message"
        self._pending_name = ""

    # --------------------------------------------------------------- public

    def feed(self, data: bytes) -> None:
        if self._ended:
            return  # epilogue after the closing boundary: ignored, like the parser does
        try:
            self._parser.write(data)
        except FormParserError as exc:
            raise MalformedRequestError("multipart syntax") from exc

    def close(self) -> None:
        if not self._ended:
            raise MalformedRequestError("body ended before the closing boundary")

    @property
    def message(self) -> str | None:
        """The message, newlines normalised, or None when absent or blank."""
        if self._message is None:
            return None
        try:
            text = self._message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedRequestError("message is not UTF-8") from exc
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if len(text) > self._limits.max_message_chars:
            raise MessageTooLongError("message too long")
        return text if text.strip() else None

    # --------------------------------------------------------------- callbacks

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > self._limits.max_files + _EXTRA_PARTS:
            raise TooManyFilesError("too many parts")
        self._headers = {}
        self._kind = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        name = bytes(self._field).strip().lower()
        if name in self._headers:
            raise MalformedRequestError("repeated part header")
        self._headers[name] = bytes(self._value).strip()
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        disposition = self._headers.get(b"content-disposition")
        if disposition is None:
            raise MalformedRequestError("part without Content-Disposition")
        kind, params = parse_options_header(disposition)
        if kind != b"form-data":
            raise MalformedRequestError("part is not form-data")
        name = params.get(b"name")
        filename = params.get(b"filename")
        # The part's Content-Type is never looked at: the client may claim anything, and
        # the real type is sniffed from the bytes.
        if name == FILES_FIELD.encode() and filename is not None:
            # Browsers send the name as UTF-8; anything else is shown with replacement
            # characters rather than refused (the file itself still matters).
            untrusted_name = filename.decode("utf-8", "replace")
            if untrusted_name:
                self._begin_file(untrusted_name)
            else:
                self._kind = "pending"
                self._pending_name = untrusted_name
        elif name == MESSAGE_FIELD.encode() and filename is None:
            if self._message_seen:
                raise MalformedRequestError("two messages")
            self._message_seen = True
            self._message = bytearray()
            self._kind = "message"
        else:
            raise MalformedRequestError("unexpected form field")

    def _begin_file(self, untrusted_name: str) -> None:
        if self.files >= self._limits.max_files:
            raise TooManyFilesError("too many files")
        self.files += 1
        self._kind = "file"
        self._sink.file_begin(untrusted_name)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if end <= start:
            return
        if self._kind == "pending":
            # An empty file name but content: a real file from an odd client.
            self._begin_file(self._pending_name)
        if self._kind == "file":
            self.file_bytes += end - start
            if self.file_bytes > self._limits.max_submission_bytes:
                raise TooLargeError("files too large")
            self._sink.file_data(memoryview(data)[start:end])
        elif self._kind == "message":
            assert self._message is not None
            if len(self._message) + (end - start) > self._limits.max_message_bytes:
                raise MessageTooLongError("message too long")
            self._message += data[start:end]
        else:  # pragma: no cover - the parser calls headers_finished before any data
            raise MalformedRequestError("data before headers")

    def _part_end(self) -> None:
        if self._kind == "file":
            self._sink.file_end()
        self._kind = None

    def _end(self) -> None:
        self._ended = True


# ----------------------------------------------------------------------------- receiving


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


async def receive_form(body: Body, form: StreamingForm, check_space: Callable[[], None]) -> None:
    """Move body chunks to the parser thread, then `close` the form. Receiving the next
    bytes overlaps with parsing, hashing and encrypting the previous ones (a small bounded
    queue between them keeps memory flat whatever the upload size). `check_space` runs
    every `SPACE_CHECK_BYTES` and raises to stop the upload."""
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
                await _read_batches(body, sender, check_space)
    except BaseExceptionGroup as group_error:
        raise _first(group_error) from None
    form.close()


async def _read_batches(
    body: Body, sender: anyio.abc.ObjectSendStream[bytes], check_space: Callable[[], None]
) -> None:
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
            check_space()
    if batch:
        await sender.send(b"".join(batch))
