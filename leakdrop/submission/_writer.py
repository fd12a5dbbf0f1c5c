"""Writing a submission's plaintext: the pax tar, streamed file by file, and padded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from leakdrop.sealing import Writable
from leakdrop.submission._format import (
    _CHUNK,
    _ID_RE,
    _SHA256_RE,
    _ZEROS,
    BLOCK,
    FILES_DIR,
    FORMAT,
    MANIFEST_NAME,
    MAX_FIELD_CHARS,
    MAX_FILES,
    MAX_MANIFEST_BYTES,
    MAX_REMOVED,
    MAX_TEXT_CHARS,
    MAX_TYPE_CHARS,
    MESSAGE_NAME,
    VERSION,
    ContainerError,
    IntegrityError,
    _blocks_for,
    padded_size,
    sanitise_name,
)
from leakdrop.submission._manifest import (
    ReplyAddress,
    _check_day,
    parse_manifest,
)


@dataclass(frozen=True)
class FileEntry:
    """One file of a submission as the server hands it to `write_submission`."""

    stored_name: str
    original_name: str
    detected_type: str
    media_type: str
    cleaned: bool
    reason: str | None
    removed: list[str]
    note: str | None
    size: int
    sha256: str
    open: Callable[[], BinaryIO] = field(repr=False, compare=False)
    #: True only when `open()` itself proves that what it yields is exactly the byte
    #: sequence `sha256` was computed over, and raises otherwise (the server's spool: it
    #: hashed the bytes as it encrypted them, and its reader authenticates every record,
    #: its place and the end). `write_submission` then skips its own SHA-256 pass over
    #: the stream; it still checks the size.
    authenticated_stream: bool = field(default=False, compare=False)


class _CountingSink:
    def __init__(self, sink: Writable) -> None:
        self._sink = sink
        self.count = 0

    def write(self, data: bytes) -> None:
        while data:
            # A raw sink may write less than asked; loop so nothing is silently dropped.
            n = self._sink.write(data)
            if n is None:  # a non-blocking raw stream: never used here
                raise ContainerError("sink would block")
            self.count += n
            data = data[n:]


def _tar_header(name: str, size: int) -> bytes:
    import tarfile

    info = tarfile.TarInfo(name)
    info.size = size
    # Fixed metadata: nothing about the server's clock, users or umask reaches the editor
    # (and nothing about the time the source submitted beyond the day in the manifest).
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")


def _pad_block(out: _CountingSink, size: int) -> None:
    if size % BLOCK:
        out.write(_ZEROS[: BLOCK - size % BLOCK])


def _check_entry(entry: FileEntry) -> None:
    if not isinstance(entry.size, int) or isinstance(entry.size, bool) or entry.size < 0:
        raise ContainerError(f"bad size for {entry.stored_name!r}")
    if not _SHA256_RE.fullmatch(entry.sha256):
        raise ContainerError("sha256 must be 64 lowercase hex digits")
    if not all(isinstance(r, str) for r in entry.removed):
        raise ContainerError("removed must list field names (strings)")


def _clip(text: str, limit: int) -> str:
    # The writer keeps every text field within the reader's limits (and valid UTF-8: lone
    # surrogates become "?"), so a submission it writes is never refused by `open`:
    # a long reason is shortened rather than the submission lost.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip_opt(text: str | None, limit: int) -> str | None:
    return None if text is None else _clip(text, limit)


def _manifest_bytes(
    submission_id: str,
    received_day: str,
    has_message: bool,
    files: Sequence[FileEntry],
    names: Sequence[str],
    reply: ReplyAddress | None,
) -> bytes:
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "id": submission_id,
        "received": received_day,
        "message": MESSAGE_NAME if has_message else None,
        "files": [
            {
                "name": name,
                "original_name": _clip(entry.original_name, MAX_TEXT_CHARS),
                "type": _clip(entry.detected_type, MAX_TYPE_CHARS),
                "media_type": _clip(entry.media_type, MAX_TYPE_CHARS),
                "cleaned": bool(entry.cleaned),
                "reason": _clip_opt(entry.reason, MAX_TEXT_CHARS),
                "removed": [_clip(r, MAX_FIELD_CHARS) for r in entry.removed[:MAX_REMOVED]],
                "note": _clip_opt(entry.note, MAX_TEXT_CHARS),
                "size": entry.size,
                "sha256": entry.sha256,
            }
            for entry, name in zip(files, names, strict=True)
        ],
    }
    if reply is not None:
        doc["reply"] = {"mailbox": reply.mailbox, "recipient": reply.recipient}
    data = (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if len(data) > MAX_MANIFEST_BYTES:
        raise ContainerError("manifest too large")
    # Self-check: what is written must be what the reader accepts.
    parse_manifest(data)
    return data


def _write_member_stream(out: _CountingSink, name: str, entry: FileEntry) -> None:
    out.write(_tar_header(name, entry.size))
    # Without a stream that authenticates itself, the manifest's hash is checked here,
    # over the very bytes written into the tar.
    digest = None if entry.authenticated_stream else hashlib.sha256()
    remaining = entry.size
    with entry.open() as src:
        while True:
            # Ask for one byte more than still expected so an over-long stream is detected.
            chunk = src.read(min(_CHUNK, remaining + 1))
            if not chunk:
                break
            if len(chunk) > remaining:
                # The tar header already declared the size: a longer stream would corrupt
                # the archive, so stop rather than write a broken submission.
                raise IntegrityError(f"{name}: more bytes than the declared size")
            if digest is not None:
                digest.update(chunk)
            out.write(chunk)
            remaining -= len(chunk)
    if remaining:
        raise IntegrityError(f"{name}: {remaining} bytes fewer than the declared size")
    if digest is not None and digest.hexdigest() != entry.sha256:
        # The manifest (already written) promises this hash to the editor.
        raise IntegrityError(f"{name}: SHA-256 differs from the declared one")
    _pad_block(out, entry.size)


def _prepare(
    submission_id: str,
    received_day: str,
    message: str | None,
    files: Sequence[FileEntry],
    reply: ReplyAddress | None = None,
) -> tuple[bytes | None, list[str], bytes]:
    """Checked inputs: the message's bytes (None if none), the member names, the manifest."""
    if not _ID_RE.fullmatch(submission_id):
        raise ContainerError("submission id must be 1-128 characters of [A-Za-z0-9_-]")
    _check_day(received_day, ContainerError)
    if len(files) > MAX_FILES:
        raise ContainerError(f"at most {MAX_FILES} files per submission")
    for entry in files:
        _check_entry(entry)
    # A lone surrogate cannot be stored as UTF-8: it becomes "?" rather than the submission
    # being refused (nothing accepted is lost).
    message_bytes = message.encode("utf-8", "replace") if message else None
    names = _stored_names(files)
    manifest = _manifest_bytes(
        submission_id, received_day, message_bytes is not None, files, names, reply
    )

    return message_bytes, names, manifest


def _end_and_pad(out: _CountingSink) -> None:
    out.write(_ZEROS[: 2 * BLOCK])  # end-of-archive marker
    padding = padded_size(out.count) - out.count
    while padding:
        step = min(padding, _CHUNK)
        out.write(_ZEROS[:step])
        padding -= step


def submission_head(
    *,
    submission_id: str,
    received_day: str,
    message: str | None,
    files: Sequence[FileEntry],
    size: int,
    reply: ReplyAddress | None = None,
) -> bytes | None:
    """The first `size` bytes of a submission whose first file's data starts exactly at
    offset `size` (the server seals that file into place while it is still arriving):
    manifest.json, message.txt, then the first file's tar header. None when they do not
    fit in `size` bytes (then write the submission with `write_submission`).

    The room left over goes into manifest.json as trailing spaces (JSON whitespace, which
    every reader ignores): the member order, names and sizes stay exactly those
    `write_submission` produces, so strict readers (`extract_submission`) and `tar` alike
    accept it. Continue with the first file's bytes, then `write_submission_tail`.
    """
    if not files or size % BLOCK:
        raise ContainerError("a head needs a first file and a whole number of blocks")
    message_bytes, names, manifest = _prepare(submission_id, received_day, message, files, reply)
    message_part = b""
    if message_bytes is not None:
        message_part = _tar_header(MESSAGE_NAME, len(message_bytes)) + message_bytes
        message_part += _ZEROS[: _blocks_for(len(message_bytes)) - len(message_bytes)]
    first_header = _tar_header(names[0], files[0].size)
    room = size - len(message_part) - len(first_header) - len(_tar_header(MANIFEST_NAME, 0))
    if room < len(manifest) or room > MAX_MANIFEST_BYTES:
        return None
    # Spaces before the final newline: the file still ends as a text file should.
    padded = manifest[:-1] + b" " * (room - len(manifest)) + b"\n"
    parse_manifest(padded)  # self-check: what is written must be what the reader accepts
    head = _tar_header(MANIFEST_NAME, len(padded)) + padded + message_part + first_header
    if len(head) != size:  # pragma: no cover - a header size assumption broke
        raise ContainerError("submission head has the wrong size")
    return head


def write_submission_tail(sink: Writable, *, head_size: int, files: Sequence[FileEntry]) -> int:
    """After `submission_head(..., size=head_size)` and the first file's `files[0].size`
    bytes: the first file's block padding, the other files, the end-of-archive marker and
    the padding. Returns the bytes written here."""
    names = _stored_names(files)
    for entry in files:
        _check_entry(entry)
    out = _CountingSink(sink)
    out.count = head_size + files[0].size
    start = out.count
    _pad_block(out, files[0].size)
    for entry, name in zip(files[1:], names[1:], strict=True):
        _write_member_stream(out, name, entry)
    _end_and_pad(out)
    return out.count - start


def write_submission(
    sink: Writable,
    *,
    submission_id: str,
    received_day: str,
    message: str | None,
    files: Sequence[FileEntry],
    reply: ReplyAddress | None = None,
) -> int:
    """Write one submission's plaintext (padded pax tar) to `sink`; return the bytes written.

    `sink` is typically a `leakdrop.sealing.encrypt` writer. Each file is streamed from
    `entry.open()` and checked against `entry.size` and `entry.sha256` (which the manifest,
    written first, records; the hash is left to the stream when `authenticated_stream`);
    a mismatch raises `IntegrityError` and the caller must discard the partial output. An
    empty message is the same as no message.
    """
    message_bytes, names, manifest = _prepare(submission_id, received_day, message, files, reply)
    out = _CountingSink(sink)
    out.write(_tar_header(MANIFEST_NAME, len(manifest)))
    out.write(manifest)
    _pad_block(out, len(manifest))
    if message_bytes is not None:
        out.write(_tar_header(MESSAGE_NAME, len(message_bytes)))
        out.write(message_bytes)
        _pad_block(out, len(message_bytes))
    for entry, name in zip(files, names, strict=True):
        _write_member_stream(out, name, entry)
    _end_and_pad(out)
    return out.count


def _stored_names(files: Sequence[FileEntry]) -> list[str]:
    # The "NN-" prefix makes every member name unique, even when two sources' files share a
    # name or sanitising maps two names onto one.
    width = max(2, len(str(len(files))))
    return [
        f"{FILES_DIR}/{i:0{width}d}-{sanitise_name(entry.stored_name)}"
        for i, entry in enumerate(files, start=1)
    ]
