"""The submission container: one submission = one age file around a padded POSIX (pax) tar.

Plaintext layout (DESIGN.md)::

    manifest.json            first member, versioned, lists every file
    message.txt              the source's message, if any
    files/NN-<sanitised>     the stored (cleaned, or "not cleaned") bytes, in manifest order
    <end-of-archive>         two zero blocks
    <zero padding>           so that the plaintext size is PADMÉ-rounded (multiple of 512)

Writing streams each file from `FileEntry.open()` and never holds a whole file in memory.
Reading (`extract_submission`) is a small strict tar reader of its own instead of
`tarfile`: `tarfile` reads pax/GNU long-name headers of any size into memory (a crafted
archive can ask for gigabytes), reads ahead of the end-of-archive marker (so the padding
could not be checked exactly), and accepts member types we never write. Here only what
`write_submission` produces is accepted, every size is bounded, and any deviation raises a
`ContainerError`.

What the size still reveals: PADMÉ rounds a length L with 2^E <= L < 2^(E+1) up to a
multiple of 2^(E - floor(log2 E) - 1), so the padded size reveals only O(log log L) bits
about L (its magnitude and a few leading bits) at a cost of at most ~12% of L (less for
larger files: 6.25% from 64 KiB, 3.1% from 4 GiB). A submission of 10 MB and one of 10.5 MB
can look identical; one of 10 MB and one of 1 GB cannot.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, Final

__all__ = [
    "FORMAT",
    "MAX_MANIFEST_BYTES",
    "VERSION",
    "ContainerError",
    "FileEntry",
    "IntegrityError",
    "Manifest",
    "ManifestError",
    "ManifestFile",
    "MemberError",
    "ReplyAddress",
    "TruncatedError",
    "extract_submission",
    "padded_size",
    "padme",
    "parse_manifest",
    "peek_submission",
    "read_manifest",
    "read_manifest_and_message_digest",
    "sanitise_name",
    "submission_head",
    "write_submission",
    "write_submission_tail",
]

FORMAT: Final = "leakdrop-submission"
VERSION: Final = 1

BLOCK: Final = 512
#: The manifest is read into memory, so it is bounded (a legitimate one lists at most a few
#: thousand files at a few hundred bytes each).
MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
#: pax extended headers are read into memory too; ours hold one path and maybe a size.
MAX_PAX_BYTES: Final = 16 * 1024
MAX_FILES: Final = 10_000
#: Bounds of the manifest's text fields (characters), enforced by writer and reader alike.
MAX_TEXT_CHARS: Final = 4096
MAX_TYPE_CHARS: Final = 256
MAX_FIELD_CHARS: Final = 512
MAX_REMOVED: Final = 10_000
#: Sanitised names are bounded in UTF-8 bytes: file systems allow 255 bytes per component and
#: the stored name gets an "NN-" prefix.
MAX_NAME_BYTES: Final = 120
MAX_EXT_BYTES: Final = 16
#: The padded size is never below one traditional tar record: tiny submissions (a short
#: message) all look alike.
MIN_PADDED: Final = 10 * 1024

MANIFEST_NAME: Final = "manifest.json"
MESSAGE_NAME: Final = "message.txt"
FILES_DIR: Final = "files"

_CHUNK: Final = 1024 * 1024
_ZEROS: Final = bytes(_CHUNK)
_SHA256_RE: Final = re.compile(r"[0-9a-f]{64}")
_DAY_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: Submission ids become folder names on the editor's laptop: a conservative alphabet.
_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_POSIX_MAGIC: Final = b"ustar\x0000"
_REGULAR_TYPES: Final = (b"0", b"\x00")
_PAX_LEN_RE: Final = re.compile(rb"([1-9][0-9]{0,5}) ")
_PAX_TYPE: Final = b"x"
#: Characters that Windows (an editor may copy files to one) refuses in names, or that shells
#: and viewers treat specially.
_UNSAFE_CHARS: Final = frozenset('<>:"|?*/\\')


class ContainerError(Exception):
    """The submission container is malformed, unsafe or does not match its manifest."""


class ManifestError(ContainerError):
    """manifest.json is missing, too large, not JSON or not the expected schema."""


class MemberError(ContainerError):
    """A tar member is unexpected, unsafe (link, device, traversal...) or out of order."""


class IntegrityError(ContainerError):
    """A file's size or SHA-256 does not match the manifest (or the declared entry)."""


class TruncatedError(ContainerError):
    """The archive ends before its end-of-archive marker or its padding."""


# --------------------------------------------------------------------------- sizes


def padme(n: int) -> int:
    """PADMÉ (Nikitin et al., PETS 2019): round `n` up, leaking O(log log n) bits.

    With E = floor(log2 n) and S = floor(log2 E) + 1, the low E - S bits are rounded up.
    """
    if n < 0:
        raise ValueError("negative length")
    if n < 2:
        return n
    e = n.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1 if e > s else 0
    return (n + mask) & ~mask


def padded_size(n: int) -> int:
    """Total plaintext size for a tar of `n` bytes: PADMÉ, a multiple of 512, >= 10 KiB."""
    size = padme(n)
    size = -(-size // BLOCK) * BLOCK
    return max(size, MIN_PADDED)


# --------------------------------------------------------------------------- names


def _strip_unsafe(untrusted_name: str) -> str:
    out: list[str] = []
    for ch in untrusted_name:
        cat = unicodedata.category(ch)
        if cat[0] == "C" or cat in ("Zl", "Zp"):
            # Control, format (bidi overrides such as U+202E, zero-width joiners), surrogate,
            # private-use and unassigned characters: they make a name display as something
            # else than it is ("gnp.exe" shown as "exe.png") or break terminals.
            continue
        if ch in _UNSAFE_CHARS:
            out.append("_")
        elif cat == "Zs":
            out.append(" ")
        else:
            out.append(ch)
    return re.sub(" {2,}", " ", "".join(out))


def _truncate_utf8(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def sanitise_name(untrusted_name: str, *, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A file name safe to use as one path component on any editor's system.

    Keeps only the last component (both `/` and `\\` separate), drops control/format/bidi
    characters and NULs, replaces characters Windows refuses, strips leading dots, dashes
    and spaces (no hidden files, nothing that reads as a command-line option) and trailing
    dots and spaces, and bounds the length in UTF-8 bytes while keeping a short extension.
    Never returns an empty name, "." or "..". Idempotent.
    """
    name = unicodedata.normalize("NFC", untrusted_name)
    name = re.split(r"[/\\]", name)[-1]
    name = _strip_unsafe(name)
    name = name.lstrip(". -").rstrip(". ")
    if not name:
        return "file"
    if len(name.encode("utf-8")) > max_bytes:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext.encode("utf-8")) <= MAX_EXT_BYTES:
            keep = max_bytes - len(ext.encode("utf-8")) - 1
            name = _truncate_utf8(stem, keep).rstrip(". ") + "." + ext
        else:
            name = _truncate_utf8(name, max_bytes).rstrip(". ")
        name = name.lstrip(". -") or "file"
    return name


def _stored_names(files: Sequence[FileEntry]) -> list[str]:
    # The "NN-" prefix makes every member name unique, even when two sources' files share a
    # name or sanitising maps two names onto one.
    width = max(2, len(str(len(files))))
    return [
        f"{FILES_DIR}/{i:0{width}d}-{sanitise_name(entry.stored_name)}"
        for i, entry in enumerate(files, start=1)
    ]


# --------------------------------------------------------------------------- writing


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
    def __init__(self, sink: BinaryIO) -> None:
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


def write_submission_tail(sink: BinaryIO, *, head_size: int, files: Sequence[FileEntry]) -> int:
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
    sink: BinaryIO,
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


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class ReplyAddress:
    """Where the editors' replies to this submission's source go (submissions made under a
    codename): the source's mailbox id (64 hex digits) and reply key (an age recipient).
    Both come from the codename (`leakdrop.codename`); neither is secret from the editors."""

    mailbox: str
    recipient: str


@dataclass(frozen=True)
class ManifestFile:
    """One file as listed in manifest.json (all text is untrusted: escape before display)."""

    name: str
    original_name: str
    type: str
    media_type: str
    cleaned: bool
    reason: str | None
    removed: tuple[str, ...]
    note: str | None
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """A validated manifest.json."""

    version: int
    id: str
    received: str
    message: str | None
    files: tuple[ManifestFile, ...]
    reply: ReplyAddress | None = None


_TOP_KEYS: Final = frozenset({"format", "version", "id", "received", "message", "files"})
#: Keys a manifest may have beside the required ones (added in later releases: a reader
#: that predates them refuses the manifest rather than ignoring what it does not know).
_OPTIONAL_TOP_KEYS: Final = frozenset({"reply"})
#: age1... (X25519, 62 characters) or age1pq1... (ML-KEM-768 + X25519, about 1,960).
_RECIPIENT_RE: Final = re.compile(r"age1(?:pq1)?[02-9ac-hj-np-z]{6,2100}")
_FILE_KEYS: Final = frozenset(
    {
        "name",
        "original_name",
        "type",
        "media_type",
        "cleaned",
        "reason",
        "removed",
        "note",
        "size",
        "sha256",
    }
)


def _check_day(value: object, error: type[ContainerError]) -> str:
    if not isinstance(value, str) or not _DAY_RE.fullmatch(value):
        raise error("received must be a day, YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        raise error("received is not a valid day") from exc
    return value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        # Two "sha256" keys would let one parser see a different hash than another.
        if key in result:
            raise ManifestError(f"duplicate key {key!r} in manifest")
        result[key] = value
    return result


def _reject_constant(name: str) -> object:
    raise ManifestError(f"non-standard JSON constant {name}")


def _str(
    obj: dict[str, Any], key: str, *, optional: bool = False, limit: int = MAX_TEXT_CHARS
) -> Any:
    value = obj[key]
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ManifestError(f"manifest field {key!r} must be a string (at most {limit} chars)")
    return value


def _safe_member_name(untrusted_name: str) -> bool:
    # A stored name must be exactly what write_submission produces: "files/" + one
    # sanitised component. This is what keeps extraction inside the destination folder
    # (no "..", no absolute path, no separators, no hidden or control-character names).
    prefix = FILES_DIR + "/"
    if not untrusted_name.startswith(prefix):
        return False
    component = untrusted_name[len(prefix) :]
    return (
        bool(component)
        and len(component.encode("utf-8")) <= MAX_NAME_BYTES + 8
        and sanitise_name(component, max_bytes=MAX_NAME_BYTES + 8) == component
    )


def _parse_file(untrusted: object) -> ManifestFile:
    if not isinstance(untrusted, dict) or set(untrusted) != _FILE_KEYS:
        raise ManifestError(f"each file entry must have exactly the keys {sorted(_FILE_KEYS)}")
    name = _str(untrusted, "name")
    if not _safe_member_name(name):
        raise ManifestError(f"unsafe stored name in manifest: {name!r}")
    cleaned = untrusted["cleaned"]
    if not isinstance(cleaned, bool):
        raise ManifestError("'cleaned' must be true or false")
    removed = untrusted["removed"]
    if (
        not isinstance(removed, list)
        or len(removed) > MAX_REMOVED
        or not all(isinstance(r, str) and len(r) <= MAX_FIELD_CHARS for r in removed)
    ):
        raise ManifestError("'removed' must be a list of field names")
    size = untrusted["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or size >= 1 << 63:
        raise ManifestError("'size' must be a non-negative integer")
    sha256 = _str(untrusted, "sha256")
    if not _SHA256_RE.fullmatch(sha256):
        raise ManifestError("'sha256' must be 64 lowercase hex digits")
    return ManifestFile(
        name=name,
        original_name=_str(untrusted, "original_name"),
        type=_str(untrusted, "type", limit=MAX_TYPE_CHARS),
        media_type=_str(untrusted, "media_type", limit=MAX_TYPE_CHARS),
        cleaned=cleaned,
        reason=_str(untrusted, "reason", optional=True),
        removed=tuple(removed),
        note=_str(untrusted, "note", optional=True),
        size=size,
        sha256=sha256,
    )


def _load_manifest_json(untrusted_data: bytes) -> Any:
    try:
        return json.loads(
            untrusted_data.decode("utf-8"),
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ManifestError(f"manifest.json is not valid UTF-8 JSON: {exc}") from exc


def parse_manifest(untrusted_data: bytes) -> Manifest:
    """Parse and validate manifest.json bytes; raise `ManifestError` on any deviation."""
    if len(untrusted_data) > MAX_MANIFEST_BYTES:
        raise ManifestError("manifest.json too large")
    doc = _load_manifest_json(untrusted_data)
    if not isinstance(doc, dict):
        raise ManifestError("manifest.json must hold a JSON object")
    if doc.get("format") != FORMAT:
        raise ManifestError("manifest.json is not a leakdrop submission manifest")
    version = doc.get("version")
    if version != VERSION or isinstance(version, bool):
        raise ManifestError(f"unsupported manifest version {version!r} (this tool reads 1)")
    if not _TOP_KEYS <= set(doc) <= _TOP_KEYS | _OPTIONAL_TOP_KEYS:
        raise ManifestError(
            f"manifest must have the keys {sorted(_TOP_KEYS)} and may have "
            f"{sorted(_OPTIONAL_TOP_KEYS)}, no other"
        )
    submission_id = doc["id"]
    if not isinstance(submission_id, str) or not _ID_RE.fullmatch(submission_id):
        raise ManifestError("manifest id must be 1-128 characters of [A-Za-z0-9_-]")
    received = _check_day(doc["received"], ManifestError)
    message = doc["message"]
    if message not in (None, MESSAGE_NAME):
        raise ManifestError(f"'message' must be null or {MESSAGE_NAME!r}")
    untrusted_files = doc["files"]
    if not isinstance(untrusted_files, list) or len(untrusted_files) > MAX_FILES:
        raise ManifestError(f"'files' must be a list of at most {MAX_FILES} entries")
    files = tuple(_parse_file(f) for f in untrusted_files)
    seen: set[str] = set()
    for f in files:
        # Case- and normalisation-insensitive: on macOS/Windows file systems two names that
        # differ only so would land on the same file.
        key = unicodedata.normalize("NFD", f.name).casefold()
        if key in seen:
            raise ManifestError(f"duplicate stored name in manifest: {f.name!r}")
        seen.add(key)
    return Manifest(
        version=VERSION,
        id=submission_id,
        received=received,
        message=message,
        files=files,
        reply=_parse_reply(doc.get("reply")),
    )


def _parse_reply(untrusted: object) -> ReplyAddress | None:
    if untrusted is None:
        return None
    if not isinstance(untrusted, dict) or set(untrusted) != {"mailbox", "recipient"}:
        raise ManifestError("'reply' must hold exactly 'mailbox' and 'recipient'")
    mailbox, recipient = untrusted["mailbox"], untrusted["recipient"]
    if not isinstance(mailbox, str) or not _SHA256_RE.fullmatch(mailbox):
        raise ManifestError("'reply.mailbox' must be 64 lowercase hex digits")
    # Why a strict shape: the opener prints it and `leakdrop reply` seals to it.
    if not isinstance(recipient, str) or not _RECIPIENT_RE.fullmatch(recipient):
        raise ManifestError("'reply.recipient' must be an age recipient (age1...)")
    return ReplyAddress(mailbox=mailbox, recipient=recipient)


# --------------------------------------------------------------------------- reading


class _Blocks:
    """Exact reads from the decrypted stream, with the offset and typed truncation errors."""

    def __init__(self, reader: BinaryIO) -> None:
        self._reader = reader
        self.offset = 0

    def read_upto(self, n: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        while got < n:
            chunk = self._reader.read(n - got)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        self.offset += got
        return b"".join(parts)

    def read_exact(self, n: int, what: str) -> bytes:
        data = self.read_upto(n)
        if len(data) != n:
            raise TruncatedError(f"archive ends inside {what}")
        return data

    def chunks(self, n: int, what: str) -> Iterator[bytes]:
        remaining = n
        while remaining:
            chunk = self.read_exact(min(_CHUNK, remaining), what)
            remaining -= len(chunk)
            yield chunk


def _blocks_for(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _parse_pax(untrusted_data: bytes) -> dict[str, str]:
    """Parse pax extended-header records ("LEN key=value\\n"), strictly."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(untrusted_data):
        match = _PAX_LEN_RE.match(untrusted_data, pos)
        if not match:
            raise MemberError("malformed pax header")
        length = int(match.group(1))
        record = untrusted_data[pos : pos + length]
        if len(record) != length or not record.endswith(b"\n"):
            raise MemberError("malformed pax record")
        key, eq, value = record[match.end() - pos : -1].partition(b"=")
        if not eq:
            raise MemberError("malformed pax record")
        try:
            key_s, value_s = key.decode("ascii"), value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MemberError("pax record is not UTF-8") from exc
        if key_s in records:
            raise MemberError(f"duplicate pax key {key_s!r}")
        records[key_s] = value_s
        pos += length
    return records


@dataclass
class _Member:
    name: str
    size: int


def _read_member_header(blocks: _Blocks) -> _Member | None:
    """Next regular-file member, or None at the end-of-archive marker."""
    import tarfile

    overrides: dict[str, str] = {}
    saw_pax = False
    while True:
        header = blocks.read_exact(BLOCK, "a member header")
        if header.count(0) == BLOCK:
            if saw_pax:
                raise MemberError("pax header not followed by a member")
            return None
        try:
            info = tarfile.TarInfo.frombuf(header, "utf-8", "strict")
        except (tarfile.HeaderError, UnicodeDecodeError, ValueError) as exc:
            raise MemberError(f"invalid tar header: {exc}") from exc
        if header[257:265] != _POSIX_MAGIC:
            raise MemberError("not a POSIX (ustar/pax) tar header")
        if info.type == _PAX_TYPE and not saw_pax:
            # Only a bounded local pax header (long or non-ASCII path, huge size) is ours.
            if info.size > MAX_PAX_BYTES:
                raise MemberError("pax header too large")
            raw = blocks.read_exact(_blocks_for(info.size), "a pax header")[: info.size]
            overrides = _parse_pax(raw)
            unknown = set(overrides) - {"path", "size", "mtime"}
            if unknown:
                raise MemberError(f"unexpected pax keys {sorted(unknown)}")
            saw_pax = True
            continue
        if info.type not in _REGULAR_TYPES:
            # Links, directories, devices, FIFOs, GNU/global headers, sparse files: none of
            # them is ever written by write_submission, and links/devices are how hostile
            # archives escape the destination folder or hang the extractor.
            raise MemberError(f"{info.name!r}: member type {info.type!r} is not a regular file")
        name = overrides.get("path", info.name)
        size = info.size
        if "size" in overrides:
            if not re.fullmatch(r"[0-9]{1,19}", overrides["size"]):
                raise MemberError("bad pax size")
            size = int(overrides["size"])
        return _Member(name=name, size=size)


class _ExclusiveFile:
    """A new file under the destination, refused if anything already sits there."""

    def __init__(self, path: Path) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        self.fd = os.open(path, flags, 0o600)

    def write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def close(self) -> None:
        os.close(self.fd)


def _copy_member(blocks: _Blocks, member: _Member, path: Path) -> str:
    digest = hashlib.sha256()
    out = _ExclusiveFile(path)
    try:
        for chunk in blocks.chunks(member.size, member.name):
            digest.update(chunk)
            out.write_all(chunk)
    finally:
        out.close()
    blocks.read_exact(_blocks_for(member.size) - member.size, member.name)
    return digest.hexdigest()


def peek_submission(reader: BinaryIO) -> tuple[bool, BinaryIO]:
    """Tell whether a decrypted stream is a leakdrop submission, without losing any byte.

    A submission is a tar whose first member is manifest.json with
    `"format": "leakdrop-submission"`. Returns the answer and a reader that yields the whole
    stream again from its first byte.
    """
    import tarfile

    blocks = _Blocks(reader)
    head = blocks.read_upto(BLOCK)
    verdict = False
    if len(head) == BLOCK:
        try:
            info = tarfile.TarInfo.frombuf(head, "utf-8", "strict")
        except (tarfile.HeaderError, UnicodeDecodeError, ValueError):
            info = None
        if (
            info is not None
            and head[257:265] == _POSIX_MAGIC
            and info.name == MANIFEST_NAME
            and info.type in _REGULAR_TYPES
            and 0 < info.size <= MAX_MANIFEST_BYTES
        ):
            body = blocks.read_upto(info.size)
            head += body
            if len(body) == info.size:
                try:
                    doc = _load_manifest_json(body)
                except ManifestError:
                    doc = None
                verdict = isinstance(doc, dict) and doc.get("format") == FORMAT
    return verdict, io.BufferedReader(_Replay(head, reader), buffer_size=_CHUNK)


class _Replay(io.RawIOBase):
    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(target), len(self._prefix))
            target[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(target))
        target[: len(data)] = data
        return len(data)


def read_manifest(reader: BinaryIO) -> Manifest:
    """Only the manifest of a decrypted submission (its first member), nothing written.

    The rest of the stream is not read, so a truncation after the manifest goes unnoticed:
    use it to learn where to reply, never to vouch for the files (`extract_submission`).
    """
    return _read_first_member(_Blocks(reader))


def _read_first_member(blocks: _Blocks) -> Manifest:
    first = _read_member_header(blocks)
    if first is None or first.name != MANIFEST_NAME:
        raise MemberError("the first member is not manifest.json")
    if first.size > MAX_MANIFEST_BYTES:
        raise ManifestError("manifest.json too large")
    manifest = parse_manifest(blocks.read_exact(first.size, MANIFEST_NAME))
    blocks.read_exact(_blocks_for(first.size) - first.size, MANIFEST_NAME)
    return manifest


def read_manifest_and_message_digest(reader: BinaryIO) -> tuple[Manifest, str | None]:
    """The manifest and the SHA-256 of message.txt (None without a message), nothing written.

    The manifest lists each file's hash but not the message's: this is what tells two
    submissions apart without reading their files. Like `read_manifest`, it vouches for
    nothing after the message.
    """
    blocks = _Blocks(reader)
    manifest = _read_first_member(blocks)
    if manifest.message is None:
        return manifest, None
    member = _read_member_header(blocks)
    if member is None or member.name != MESSAGE_NAME:
        raise MemberError(f"{MESSAGE_NAME} is listed but missing from the archive")
    digest = hashlib.sha256()
    for chunk in blocks.chunks(member.size, MESSAGE_NAME):
        digest.update(chunk)
    return manifest, digest.hexdigest()


def extract_submission(reader: BinaryIO, dest: Path) -> Manifest:
    """Extract a decrypted submission into the existing, empty folder `dest`.

    Writes manifest.json, message.txt (if any) and files/... with exclusive creation (never
    follows or replaces anything). Reads the stream to its very end, so a decrypting reader
    gets the chance to report a truncated or altered payload (its errors propagate
    unchanged), and checks the end-of-archive marker and the zero padding exactly. Any
    deviation raises a `ContainerError`; the caller deletes `dest` then (what was written so
    far is unverified).
    """
    if any(dest.iterdir()):
        raise ContainerError(f"{dest} is not empty")
    blocks = _Blocks(reader)

    first = _read_member_header(blocks)
    if first is None or first.name != MANIFEST_NAME:
        raise MemberError("the first member is not manifest.json")
    if first.size > MAX_MANIFEST_BYTES:
        raise ManifestError("manifest.json too large")
    manifest_bytes = blocks.read_exact(first.size, MANIFEST_NAME)
    blocks.read_exact(_blocks_for(first.size) - first.size, MANIFEST_NAME)
    manifest = parse_manifest(manifest_bytes)
    out = _ExclusiveFile(dest / MANIFEST_NAME)
    try:
        out.write_all(manifest_bytes)
    finally:
        out.close()

    # The members must be exactly these, in this order: anything else (an extra file, a
    # duplicate, a different name) is refused before a byte of it is written.
    expected: list[tuple[str, ManifestFile | None]] = []
    if manifest.message is not None:
        expected.append((MESSAGE_NAME, None))
    expected.extend((f.name, f) for f in manifest.files)
    if manifest.files:
        # Plaintext from a source: no other user of the laptop may list it.
        (dest / FILES_DIR).mkdir(mode=0o700)
        os.chmod(dest / FILES_DIR, 0o700)

    for want_name, want in expected:
        member = _read_member_header(blocks)
        if member is None:
            raise MemberError(f"{want_name} is listed but missing from the archive")
        if member.name != want_name:
            raise MemberError(f"unexpected member {member.name!r} (expected {want_name!r})")
        if want is not None and member.size != want.size:
            raise IntegrityError(
                f"{member.name}: size {member.size} differs from the manifest's {want.size}"
            )
        sha = _copy_member(blocks, member, dest / want_name)
        if want is not None and sha != want.sha256:
            raise IntegrityError(f"{member.name}: SHA-256 differs from the manifest")

    extra = _read_member_header(blocks)
    if extra is not None:
        raise MemberError(f"member {extra.name!r} is not in the manifest")
    # _read_member_header consumed the first zero block; the marker has two.
    end = blocks.offset + BLOCK
    if blocks.read_exact(BLOCK, "the end-of-archive marker").count(0) != BLOCK:
        raise MemberError("data after the end-of-archive marker")
    _check_padding(blocks, padded_size(end))
    return manifest


def _check_padding(blocks: _Blocks, total: int) -> None:
    while True:
        chunk = blocks.read_upto(_CHUNK)
        if not chunk:
            break
        if chunk.count(0) != len(chunk):
            raise MemberError("non-zero bytes in the padding")
        if blocks.offset > total:
            raise MemberError("padding longer than the format allows")
    if blocks.offset != total:
        raise TruncatedError(f"padding ends at {blocks.offset} bytes, expected {total}")
