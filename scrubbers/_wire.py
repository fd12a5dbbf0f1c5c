"""How a worker sends its report to the parent.

Never pickle: the worker parses hostile files with C libraries and must be assumed
compromised, and unpickling its answer would hand it the parent. The answer is a small JSON
header (validated field by field) followed by the raw file bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from scrubbers._sniff import ALL_TYPES, UNKNOWN
from scrubbers._types import MAX_LINK_CHARS, MAX_LINKS, WARNING_CODES, Attachment, ScrubReport

_TYPES = {t.name: t for t in (*ALL_TYPES, UNKNOWN)}
_MAX_HEADER = 1024 * 1024
_MAX_NAMES = 10_000
_MAX_TEXT = 300
_MAX_NAME = 120
_MAX_REMOVED = 1_000
# Removed-field names are kinds made by our code ("pdf:Info/Author", "embedded:jpeg/exif:GPS"),
# and they reach the source's receipt page and the editors' index. A compromised worker must
# not be able to put free text there (a name, an HTML or terminal payload, a long message):
# only this alphabet, bounded, and a bounded count.
_NAME_ALPHABET = "A-Za-z0-9:/_.()+-"
_FIELD_NAME = re.compile(rf"[A-Za-z0-9][{_NAME_ALPHABET}]{{0,{_MAX_NAME - 1}}}")
_NOT_IN_ALPHABET = re.compile(rf"[^{_NAME_ALPHABET}]")


class WireError(ValueError):
    pass


def encode(report: ScrubReport) -> bytes:
    blobs: list[bytes] = []
    header = _describe(report, blobs)
    raw_header = json.dumps(header).encode()
    return len(raw_header).to_bytes(4, "big") + raw_header + b"".join(blobs)


def _printable(text: str | None, limit: int) -> str | None:
    # The decoder refuses what it would not show; a scrubber's odd note (a newline, say)
    # must not turn a cleaned file into a "crashed" one, so the trusted side normalises.
    if text is None:
        return None
    return "".join(c if c.isprintable() else " " for c in text)[:limit]


def _field_name(name: str) -> str:
    # Same idea as `_printable`: the trusted side maps an odd character to "_" rather than
    # making the decoder refuse a cleaned file.
    safe = _NOT_IN_ALPHABET.sub("_", name)[:_MAX_NAME]
    return safe if _FIELD_NAME.fullmatch(safe) else ("x" + safe)[:_MAX_NAME]


def _describe(report: ScrubReport, blobs: list[bytes]) -> dict[str, Any]:
    blobs.append(report.data)
    return {
        "type": report.file_type.name,
        "cleaned": report.cleaned,
        "size": len(report.data),
        "removed": list(dict.fromkeys(_field_name(name) for name in report.removed)),
        "reason": _printable(report.reason, _MAX_TEXT),
        "note": _printable(report.note, _MAX_TEXT),
        "warnings": sorted(set(report.warnings) & WARNING_CODES),
        "links": [_printable(link, MAX_LINK_CHARS) for link in report.links[:MAX_LINKS]],
        "attachments": [
            {"name": a.untrusted_name, "report": _describe(a.report, blobs)}
            for a in report.attachments
        ],
    }


def decode(untrusted_answer: bytes) -> ScrubReport:
    if len(untrusted_answer) < 4:
        raise WireError("short answer")
    size = int.from_bytes(untrusted_answer[:4], "big")
    if size > _MAX_HEADER or 4 + size > len(untrusted_answer):
        raise WireError("bad header size")
    try:
        header = json.loads(untrusted_answer[4 : 4 + size])
    except (ValueError, RecursionError) as exc:
        # RecursionError: "[[[[..." a megabyte deep would otherwise escape to the caller.
        raise WireError("bad header") from exc
    view = memoryview(untrusted_answer)[4 + size :]
    offset = [0]
    report = _build(header, view, offset, depth=0)
    if offset[0] != len(view):
        raise WireError("trailing bytes")
    return report


def _text(value: object, limit: int = _MAX_TEXT) -> str:
    # Reasons, notes and field names are shown to editors on a terminal and in a browser:
    # no control characters (terminal escapes), no bidi overrides, bounded length.
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise WireError("bad text field")
    return value


def _removed_name(value: object) -> str:
    if not isinstance(value, str) or not _FIELD_NAME.fullmatch(value):
        raise WireError("bad removed-field name")
    return value


def _name(value: object) -> str:
    # An attachment's name comes from the file itself, so it may hold anything; consumers
    # sanitise it before use. Here it is only bounded.
    if not isinstance(value, str) or len(value) > 4096:
        raise WireError("bad name")
    return value


def _build(header: object, view: memoryview, offset: list[int], depth: int) -> ScrubReport:
    if depth > 8 or not isinstance(header, dict):
        raise WireError("bad report")
    type_name = header.get("type")
    # A list or dict here would make the lookup itself raise TypeError.
    file_type = _TYPES.get(type_name) if isinstance(type_name, str) else None
    cleaned = header.get("cleaned")
    size = header.get("size")
    removed = header.get("removed")
    attachments = header.get("attachments")
    if file_type is None or not isinstance(cleaned, bool):
        raise WireError("bad report fields")
    if not isinstance(size, int) or isinstance(size, bool):
        raise WireError("bad size")
    if not isinstance(removed, list) or len(removed) > _MAX_REMOVED:
        raise WireError("bad removed list")
    if not isinstance(attachments, list) or len(attachments) > _MAX_NAMES:
        raise WireError("bad attachments")
    reason = None if header.get("reason") is None else _text(header.get("reason"))
    note = None if header.get("note") is None else _text(header.get("note"))
    if cleaned == (reason is not None):
        raise WireError("a report is either cleaned or has a reason")
    if size < 0 or offset[0] + size > len(view):
        raise WireError("bad size")
    warnings = header.get("warnings", [])
    if not isinstance(warnings, list) or not all(
        isinstance(code, str) and code in WARNING_CODES for code in warnings
    ):
        raise WireError("bad warnings")
    links = header.get("links", [])
    if not isinstance(links, list) or len(links) > MAX_LINKS:
        raise WireError("bad links")
    data = bytes(view[offset[0] : offset[0] + size])
    offset[0] += size
    children: list[Attachment] = []
    for item in attachments:
        if not isinstance(item, dict):
            raise WireError("bad attachment")
        children.append(
            Attachment(_name(item.get("name")), _build(item.get("report"), view, offset, depth + 1))
        )
    return ScrubReport(
        file_type,
        cleaned,
        data,
        removed=tuple(_removed_name(name) for name in removed),
        reason=reason,
        note=note,
        attachments=tuple(children),
        warnings=tuple(warnings),
        links=tuple(_text(link, MAX_LINK_CHARS) for link in links),
    )
