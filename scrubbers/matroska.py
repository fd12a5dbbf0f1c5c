"""Matroska and WebM: identifying elements blanked in place, every block kept byte for byte.

Matroska locates its parts by position: the ``SeekHead`` and the ``Cues`` give offsets of
level-1 elements and clusters from the start of the segment. Rather than move anything (and
rewrite every position), each element outside the allowlist becomes an EBML ``Void``
element of exactly the same size with zeros for content: the format's own padding, skipped
by every reader, so all positions stay true. What goes: ``Tags`` (title, encoder, creation
time, ffmpeg's per-track ones), ``Info``'s ``DateUTC``, ``Title``, ``MuxingApp``/
``WritingApp``, segment UUIDs and file names (they link a file to its siblings), track
names and codec names/settings, ``Chapters`` and ``Attachments`` (cover art, fonts, any file
a muxer attached). An attachment is not lost: it comes back as a separate, cleaned file. A
``CRC-32`` of a master whose content changed is blanked too (it would no longer match).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from scrubbers._core import scrub_attachment
from scrubbers._ranges import Piece, RangeSource, Sink, emit, join, overlay
from scrubbers._types import Attachment, Cleaned, Limits
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

# Field names reported per file: a hostile file could hold thousands of distinct ones.
_MAX_NAMES = 200

_MAX_ELEMENTS = 5_000_000
_MAX_DEPTH = 16
_MAX_ATTACHMENTS = 1_000

EBML, SEGMENT = 0x1A45DFA3, 0x18538067
SEEKHEAD, INFO, TRACKS, CUES = 0x114D9B74, 0x1549A966, 0x1654AE6B, 0x1C53BB6B
CLUSTER, CHAPTERS, TAGS, ATTACHMENTS = 0x1F43B675, 0x1043A770, 0x1254C367, 0x1941A469
VOID, CRC32 = 0xEC, 0xBF
_LEVEL1 = frozenset({SEEKHEAD, INFO, TRACKS, CUES, CLUSTER, CHAPTERS, TAGS, ATTACHMENTS})
_DROPPED_LEVEL1 = frozenset({CHAPTERS, TAGS, ATTACHMENTS})
_SEEK, _SEEK_ID = 0x4DBB, 0x53AB
_TRACK_ENTRY = 0xAE
# Info: the timing only. Everything else there names a program, a moment or a file.
_INFO_KEEP = frozenset({0x2AD7B1, 0x4489})  # TimestampScale, Duration
# TrackEntry: what a player needs; Name, CodecName/Settings/URLs and AttachmentLink go.
_TRACK_KEEP = frozenset(
    {
        0xD7, 0x73C5, 0x83, 0xB9, 0x88, 0x55AA, 0x55AB, 0x55AC, 0x55AD, 0x55AE, 0x55AF,
        0x9C, 0x6DE7, 0x6DF8, 0x23E383, 0x234E7A, 0x23314F, 0x537F, 0x55EE, 0x22B59C,
        0x22B59D, 0x86, 0x63A2, 0xAA, 0x6FAB, 0x56AA, 0x56BB, 0x6624, 0xE0, 0xE1, 0xE2,
        0x6D80, 0x41E4, 0xC0, 0xC6, 0xC9, 0xCA, 0xCB, 0xCD, 0xC7, 0xC8,
    }
)  # fmt: skip
_NAMES = {
    0x7BA9: "Title", 0x4461: "DateUTC", 0x4D80: "MuxingApp", 0x5741: "WritingApp",
    0x73A4: "SegmentUUID", 0x7384: "SegmentFilename", 0x3CB923: "PrevUUID",
    0x3C83AB: "PrevFilename", 0x3EB923: "NextUUID", 0x3E83BB: "NextFilename",
    0x4444: "SegmentFamily", 0x6924: "ChapterTranslate", 0x536E: "Name",
    0x258688: "CodecName", 0x3A9697: "CodecSettings", 0x3B4040: "CodecInfoURL",
    0x26B240: "CodecDownloadURL", 0x7446: "AttachmentLink", TAGS: "Tags",
    ATTACHMENTS: "Attachments", CHAPTERS: "Chapters", VOID: "Void",
}  # fmt: skip
_TAG, _SIMPLE_TAG, _TAG_NAME = 0x7373, 0x67C8, 0x45A3
_ATTACHED_FILE, _FILE_NAME, _FILE_DATA = 0x61A7, 0x466E, 0x465C
_TAG_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(frozen=True)
class _El:
    eid: int
    start: int
    body: int
    end: int


@dataclass
class _Walk:
    data: bytes | RangeSource
    blank: list[tuple[int, int]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    count: int = 0
    attached: list[tuple[str, bytes]] = field(default_factory=list)

    def drop(self, el: _El, name: str | None = None) -> None:
        self.blank.append((el.start, el.end))
        label = "mkv:" + (name or _NAMES.get(el.eid, f"{el.eid:X}"))
        if label not in self.removed and len(self.removed) < _MAX_NAMES:
            self.removed.append(label)

    def note(self, name: str) -> None:
        if name not in self.removed and len(self.removed) < _MAX_NAMES:
            self.removed.append(name)


def _vint(data: bytes | RangeSource, at: int, end: int, *, is_id: bool) -> tuple[int, int, bool]:
    """(value, length, all ones) of an EBML variable-length integer (RFC 8794 §4)."""
    if at >= end:
        raise CorruptFileError("truncated EBML element")
    first = data[at]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > (4 if is_id else 8) or at + length > end:
        raise CorruptFileError("malformed EBML element")
    raw = int.from_bytes(data[at : at + length], "big")
    if is_id:
        return raw, length, False
    value = raw & ((1 << (7 * length)) - 1)
    return value, length, value == (1 << (7 * length)) - 1


def _children(walk: _Walk, start: int, end: int, depth: int) -> list[_El]:
    if depth > _MAX_DEPTH:
        raise LimitExceededError("EBML nested too deeply")
    data = walk.data
    found: list[_El] = []
    at = start
    while at < end:
        walk.count += 1
        if walk.count > _MAX_ELEMENTS:
            raise LimitExceededError("too many EBML elements")
        eid, id_len, _ = _vint(data, at, end, is_id=True)
        size, size_len, unknown = _vint(data, at + id_len, end, is_id=False)
        body = at + id_len + size_len
        if unknown:
            if eid not in (SEGMENT, CLUSTER):
                raise UnsupportedTypeError("EBML element of unknown size")
            stop = _unknown_end(walk, eid, body, end, depth)
        else:
            if size > end - body:
                raise CorruptFileError("truncated Matroska (an element ends past its parent)")
            stop = body + size
        found.append(_El(eid, at, body, stop))
        at = stop
    return found


def _unknown_end(walk: _Walk, eid: int, body: int, end: int, depth: int) -> int:
    """Where a live-recorded segment or cluster of unknown size ends (RFC 9559 §6.2)."""
    if eid == SEGMENT:
        return end
    # A cluster ends where the next level-1 element (or a new segment) starts.
    at = body
    data = walk.data
    while at < end:
        walk.count += 1
        if walk.count > _MAX_ELEMENTS:
            raise LimitExceededError("too many EBML elements")
        child, id_len, _ = _vint(data, at, end, is_id=True)
        if child in _LEVEL1 or child in (EBML, SEGMENT):
            return at
        size, size_len, unknown = _vint(data, at + id_len, end, is_id=False)
        if unknown or size > end - (at + id_len + size_len):
            raise CorruptFileError("truncated Matroska cluster")
        at += id_len + size_len + size
    del depth
    return end


def _keep_only(walk: _Walk, el: _El, keep: frozenset[int], depth: int) -> None:
    before = len(walk.blank)
    crcs = []
    for child in _children(walk, el.body, el.end, depth + 1):
        if child.eid in keep:
            continue
        if child.eid == CRC32:
            crcs.append(child)
        elif child.eid == VOID:
            _check_void(walk, child)
        elif el.eid == TRACKS and child.eid == _TRACK_ENTRY:
            _keep_only(walk, child, _TRACK_KEEP, depth + 1)
        else:
            walk.drop(child)
    if len(walk.blank) > before:
        walk.blank.extend((c.start, c.end) for c in crcs)  # would no longer match


def _check_void(walk: _Walk, el: _El) -> None:
    if any(walk.data[el.body : el.end]):
        walk.drop(el)  # padding that still holds old bytes (an earlier header, a tag)


def _seek_head(walk: _Walk, el: _El, depth: int) -> None:
    before = len(walk.blank)
    crcs = []
    for child in _children(walk, el.body, el.end, depth + 1):
        if child.eid == CRC32:
            crcs.append(child)
        elif child.eid == VOID:
            _check_void(walk, child)
        elif child.eid == _SEEK:
            target = None
            for part in _children(walk, child.body, child.end, depth + 2):
                if part.eid == _SEEK_ID:
                    target = int.from_bytes(walk.data[part.body : part.end], "big")
            if target in _DROPPED_LEVEL1:
                walk.blank.append((child.start, child.end))  # points at padding now
        else:
            walk.drop(child)
    if len(walk.blank) > before:
        walk.blank.extend((c.start, c.end) for c in crcs)


def _tag_names(walk: _Walk, el: _El, depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    for child in _children(walk, el.body, el.end, depth + 1):
        if child.eid in (_TAG, _SIMPLE_TAG):
            _tag_names(walk, child, depth + 1)
        elif child.eid == _TAG_NAME:
            name = walk.data[child.body : child.end].rstrip(b"\x00").upper()
            if 0 < len(name) <= 40 and all(b in _TAG_NAME_CHARS for b in name):
                walk.note("mkv:Tags/" + name.decode("ascii"))


def _attachments(walk: _Walk, el: _El, depth: int) -> None:
    for child in _children(walk, el.body, el.end, depth + 1):
        if child.eid != _ATTACHED_FILE:
            continue
        if len(walk.attached) >= _MAX_ATTACHMENTS:
            raise LimitExceededError("too many attached files")
        name, payload = "attachment", b""
        for part in _children(walk, child.body, child.end, depth + 2):
            if part.eid == _FILE_NAME:
                name = walk.data[part.body : part.end].decode("utf-8", "replace") or name
            elif part.eid == _FILE_DATA:
                payload = walk.data[part.body : part.end]
        walk.attached.append((name, payload))


def _segment(walk: _Walk, segment: _El) -> None:
    before = len(walk.blank)
    crcs = []
    kinds = set()
    for el in _children(walk, segment.body, segment.end, 1):
        kinds.add(el.eid)
        if el.eid == SEEKHEAD:
            _seek_head(walk, el, 1)
        elif el.eid in (INFO, TRACKS):
            _keep_only(walk, el, _INFO_KEEP if el.eid == INFO else frozenset(), 1)
        elif el.eid in (CLUSTER, CUES):
            continue  # the frames and their index: copied unchanged
        elif el.eid == VOID:
            _check_void(walk, el)
        elif el.eid == CRC32:
            crcs.append(el)
        else:
            if el.eid == TAGS:
                _tag_names(walk, el, 1)
            elif el.eid == ATTACHMENTS:
                _attachments(walk, el, 1)
            walk.drop(el)
    if not {INFO, TRACKS} <= kinds:
        raise CorruptFileError("Matroska segment without its headers")
    if len(walk.blank) > before:
        walk.blank.extend((c.start, c.end) for c in crcs)


def _scan(data: bytes | RangeSource) -> _Walk:
    walk = _Walk(data)
    top = _children(walk, 0, len(data), 0)
    if not top or top[0].eid != EBML:
        raise CorruptFileError("no EBML header")
    segments = 0
    for el in top:
        if el.eid == SEGMENT:
            segments += 1
            _segment(walk, el)
        elif el.eid == VOID:
            _check_void(walk, el)
        elif el.eid != EBML:
            raise CorruptFileError("unexpected top-level EBML element")
    if segments == 0:
        raise CorruptFileError("no Matroska segment")
    return walk


def _void(length: int) -> bytes:
    """A Void element of exactly ``length`` bytes (ID, size, zeros)."""
    for width in range(1, 9):
        payload = length - 1 - width
        if 0 <= payload <= (1 << (7 * width)) - 2:
            size = (payload | (1 << (7 * width))).to_bytes(width, "big")
            return b"\xec" + size + bytes(payload)
    raise CorruptFileError("element too small to blank")


class MatroskaScrubber:
    file_types = ("mkv", "webm")

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        del limits  # sizes are checked against the file; the sandbox bounds the rest
        return _scan(untrusted_data).removed

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        walk = _scan(untrusted_data)
        cleaned = _cleaned(walk, limits)
        return dataclasses.replace(cleaned, data=join(_pieces(walk), untrusted_data))

    def get_meta_from(self, source: RangeSource, limits: Limits) -> list[str]:
        del limits
        return _scan(source).removed

    def remove_all_to(self, source: RangeSource, sink: Sink, limits: Limits) -> Cleaned:
        walk = _scan(source)
        cleaned = _cleaned(walk, limits)
        emit(_pieces(walk), sink)
        return cleaned


def _pieces(walk: _Walk) -> list[Piece]:
    # Same size: every position stays true.
    return overlay(len(walk.data), [(start, _void(end - start)) for start, end in walk.blank])


def _cleaned(walk: _Walk, limits: Limits) -> Cleaned:
    attachments = tuple(
        Attachment(name, scrub_attachment(payload, limits)) for name, payload in walk.attached
    )
    note = None
    if attachments:
        note = f"{len(attachments)} attached file(s) given as separate files"
    return Cleaned(b"", tuple(walk.removed), note, attachments)
