"""How a worker sends its report to the parent.

Never pickle: the worker parses hostile files with C libraries and must be assumed
compromised, and unpickling its answer would hand it the parent. The answer is a small JSON
header (validated field by field) followed by the raw file bytes.
"""

from __future__ import annotations

import json
from typing import Any

from scrubbers._sniff import ALL_TYPES, UNKNOWN
from scrubbers._types import Attachment, FileType, ScrubReport

_TYPES = {t.name: t for t in (*ALL_TYPES, UNKNOWN)}
_MAX_HEADER = 1024 * 1024
_MAX_NAMES = 10_000


class WireError(ValueError):
    pass


def encode(report: ScrubReport) -> bytes:
    blobs: list[bytes] = []
    header = _describe(report, blobs)
    raw_header = json.dumps(header).encode()
    return len(raw_header).to_bytes(4, "big") + raw_header + b"".join(blobs)


def _describe(report: ScrubReport, blobs: list[bytes]) -> dict[str, Any]:
    blobs.append(report.data)
    return {
        "type": report.file_type.name,
        "cleaned": report.cleaned,
        "size": len(report.data),
        "removed": list(report.removed),
        "reason": report.reason,
        "note": report.note,
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
    except ValueError as exc:
        raise WireError("bad header") from exc
    view = memoryview(untrusted_answer)[4 + size :]
    offset = [0]
    report = _build(header, view, offset, depth=0)
    if offset[0] != len(view):
        raise WireError("trailing bytes")
    return report


def _text(value: object, limit: int = 300) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise WireError("bad text field")
    return value


def _build(header: object, view: memoryview, offset: list[int], depth: int) -> ScrubReport:
    if depth > 8 or not isinstance(header, dict):
        raise WireError("bad report")
    file_type: FileType | None = _TYPES.get(header.get("type"))  # type: ignore[arg-type]
    cleaned = header.get("cleaned")
    size = header.get("size")
    removed = header.get("removed")
    attachments = header.get("attachments")
    if file_type is None or not isinstance(cleaned, bool) or not isinstance(size, int):
        raise WireError("bad report fields")
    if not isinstance(removed, list) or len(removed) > _MAX_NAMES:
        raise WireError("bad removed list")
    if not isinstance(attachments, list) or len(attachments) > _MAX_NAMES:
        raise WireError("bad attachments")
    reason = None if header.get("reason") is None else _text(header.get("reason"))
    note = None if header.get("note") is None else _text(header.get("note"))
    if cleaned == (reason is not None):
        raise WireError("a report is either cleaned or has a reason")
    if size < 0 or offset[0] + size > len(view):
        raise WireError("bad size")
    data = bytes(view[offset[0] : offset[0] + size])
    offset[0] += size
    children: list[Attachment] = []
    for item in attachments:
        if not isinstance(item, dict):
            raise WireError("bad attachment")
        children.append(
            Attachment(
                _text(item.get("name"), 4096), _build(item.get("report"), view, offset, depth + 1)
            )
        )
    return ScrubReport(
        file_type,
        cleaned,
        data,
        removed=tuple(_text(name, 200) for name in removed),
        reason=reason,
        note=note,
        attachments=tuple(children),
    )
