"""What the kept ISO BMFF boxes say of when, where and with what a file was made: the
creation times of ``mvhd``/``tkhd``/``mdhd`` (zeroed), ``hdlr`` vendor codes and names
(emptied), data references (rebuilt as "in this file": a QuickTime alias can hold a path),
and the names of what a dropped ``udta``/``meta`` held (``©xyz``, Apple location keys),
for the report."""

from __future__ import annotations

from scrubbers._isobmff_boxes import MAX_DEPTH, PRINTABLE, Box, Walk, box_name, child_boxes
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

_MAX_DREF_ENTRIES = 1_000
TIMES = frozenset({b"mvhd", b"tkhd", b"mdhd"})
_TIME_NAMES = {b"mvhd": "CreateDate", b"tkhd": "TrackCreateDate", b"mdhd": "MediaCreateDate"}
# A self-contained data reference: 'url ' with flag 1 ("the media is in this file").
_SELF_URL = (12).to_bytes(4, "big") + b"url " + b"\x00\x00\x00\x01"
# Apple key names as reported ("com.apple.quicktime.location.ISO6709"); others go unnamed.
_KEY_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def note_inside(walk: Walk, box: Box, depth: int) -> None:
    """Name what a dropped ``udta``/``meta`` held (``©xyz``, Apple keys), for the report."""
    if box.kind not in (b"udta", b"meta", b"keys", b"ilst") or depth > MAX_DEPTH - 2:
        return
    start = box.payload
    if box.kind == b"meta" and walk.data[start + 4 : start + 8] != b"hdlr":
        start += 4  # ISO's meta is a full box; QuickTime's is not
    if box.kind == b"keys":
        start += 8  # version, flags and entry count
    try:
        children = child_boxes(walk, start, box.end, depth + 1)
    except CorruptFileError:
        return  # dropped whole anyway: only the report is shorter
    for child in children:
        if box.kind == b"keys":
            key = walk.data[child.payload : child.end]
            if 0 < len(key) <= 64 and all(b in _KEY_CHARS for b in key):
                walk.note("quicktime:" + key.decode("ascii"))
            continue
        if child.kind == b"ilst":
            note_inside(walk, child, depth + 1)
            continue
        if child.kind in (b"hdlr", b"free") or not all(b in PRINTABLE for b in child.kind):
            continue  # ilst items of mdta files are numbered, not named: keys named them
        walk.note(box_name(child.kind))
        note_inside(walk, child, depth + 1)


def zero_times(walk: Walk, kind: bytes, payload: bytearray) -> None:
    # Version 1 has 64-bit times, version 0 32-bit ones, right after version and flags.
    width = 8 if payload[:1] == b"\x01" else 4
    if len(payload) < 4 + 2 * width:
        raise CorruptFileError(f"short {kind.decode()} box")
    span = slice(4, 4 + 2 * width)
    if any(payload[span]):
        walk.note("quicktime:" + _TIME_NAMES[kind])
        payload[span] = bytes(2 * width)


def blank_handler(walk: Walk, payload: bytearray) -> bytearray:
    # version/flags, pre_defined (QuickTime: component type), handler type, 12 reserved
    # bytes (QuickTime: manufacturer, flags, mask), then the name.
    if len(payload) < 24:
        raise CorruptFileError("short hdlr box")
    if any(payload[12:24]):
        walk.note("quicktime:HandlerVendorID")
    if bytes(payload[24:]) not in (b"", b"\x00"):
        walk.note("quicktime:HandlerName")
    return payload[:12] + bytearray(12) + bytearray(b"\x00")


def self_contained(walk: Walk, payload: bytearray) -> bytearray:
    if len(payload) < 8:
        raise CorruptFileError("short dref box")
    count = int.from_bytes(payload[4:8], "big")
    if count > _MAX_DREF_ENTRIES:
        raise LimitExceededError("too many data references")
    at = 8
    for _ in range(count):
        if at + 12 > len(payload):
            raise CorruptFileError("short data reference")
        size = int.from_bytes(payload[at : at + 4], "big")
        if size < 12 or at + size > len(payload):
            raise CorruptFileError("malformed data reference")
        if not payload[at + 11] & 1:
            raise UnsupportedTypeError("media kept in another file")
        at += size
    rebuilt = bytearray(payload[:8]) + bytearray(_SELF_URL * count)
    if rebuilt != payload:
        walk.note("quicktime:DataReference")
    return rebuilt
