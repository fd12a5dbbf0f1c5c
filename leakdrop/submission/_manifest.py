"""manifest.json: its schema, and the strict parser of an untrusted one."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from leakdrop.submission._format import (
    _DAY_RE,
    _ID_RE,
    _SHA256_RE,
    FILES_DIR,
    FORMAT,
    MAX_FIELD_CHARS,
    MAX_FILES,
    MAX_MANIFEST_BYTES,
    MAX_NAME_BYTES,
    MAX_REMOVED,
    MAX_TEXT_CHARS,
    MAX_TYPE_CHARS,
    MESSAGE_NAME,
    VERSION,
    ContainerError,
    ManifestError,
    sanitise_name,
)

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
