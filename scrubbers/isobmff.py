"""MP4, MOV, M4V, 3GP and M4A (ISO BMFF, ISO/IEC 14496-12, and QuickTime): the box tree
rebuilt from an allowlist, every media sample kept byte for byte.

Nothing is decoded or re-encoded: the top-level boxes are copied in their order, minus the
ones not needed to play (``udta``, ``meta``/``ilst``/Apple ``mdta`` keys, XMP ``uuid``,
``free``/``skip``/``wide``, …), and ``moov`` is rewritten keeping only the boxes a player
needs. A phone's location (``©xyz``, ``com.apple.quicktime.location.ISO6709``), make, model
and software all live in ``udta`` or ``meta``, so none of them can follow. What the kept boxes
themselves carry is neutralised in place: creation and modification times of
``mvhd``/``tkhd``/``mdhd`` set to zero (the format's "unknown"), ``hdlr`` names (they carry
the encoder or the camera maker) and vendor codes emptied, the compressor name of video
sample descriptions blanked, and data references rebuilt as "in this file" (a QuickTime
alias can hold the path of the file on the recording machine).

When ``moov`` shrinks and sits before ``mdat``, or a dropped box preceded ``mdat``, the media
moves up in the file: every chunk offset (``stco``/``co64``) and explicit fragment base
(``tfhd``) is moved by the same amount, and an offset that points outside the media data
is a corrupt file, never guessed at.

The box walk is `_isobmff_boxes`, the sample-description filter `_isobmff_entries`, the
time, vendor and data-reference fields (and the names of what dropped boxes held)
`_isobmff_fields`; this module holds the allowlists, the tracks and the offsets.
"""

from __future__ import annotations

import array
import bisect
import sys

from scrubbers._isobmff_boxes import (
    MAX_BOXES,
    Box,
    Walk,
    box_header,
    box_name,
    child_boxes,
    find,
    handler_of,
    u32,
)
from scrubbers._isobmff_entries import blank_sample_entries
from scrubbers._isobmff_fields import (
    TIMES,
    blank_handler,
    note_inside,
    self_contained,
    zero_times,
)
from scrubbers._ranges import Piece, RangeSource, Sink, emit, join
from scrubbers._types import Cleaned, Limits
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

# Top-level boxes copied (``moov`` rewritten, ``moof`` patched). ``sidx``/``ssix`` address
# fragments by distance, so they are kept only while nothing after them is dropped.
_TOP_KEEP = frozenset({b"ftyp", b"moov", b"mdat", b"moof", b"styp", b"sidx", b"ssix"})
_SAMPLE_TABLE = (
    b"stsd", b"stts", b"ctts", b"cslg", b"stss", b"stps", b"stsc", b"stsz", b"stz2",
    b"stco", b"co64", b"sdtp", b"sgpd", b"sbgp", b"subs", b"padb",
)  # fmt: skip
# Container -> the children kept. A child not listed is dropped and named in the report.
_CHILDREN: dict[bytes, frozenset[bytes]] = {
    b"moov": frozenset({b"mvhd", b"trak", b"mvex"}),
    b"trak": frozenset({b"tkhd", b"tref", b"edts", b"mdia", b"tapt"}),
    b"edts": frozenset({b"elst"}),
    b"mdia": frozenset({b"mdhd", b"hdlr", b"minf", b"elng"}),
    b"minf": frozenset(
        {b"vmhd", b"smhd", b"hmhd", b"nmhd", b"sthd", b"gmhd", b"hdlr", b"dinf", b"stbl"}
    ),
    b"dinf": frozenset({b"dref"}),
    b"stbl": frozenset(_SAMPLE_TABLE),
    b"mvex": frozenset({b"mehd", b"trex", b"leva"}),
}
# Track handlers kept: pictures, sound, subtitles and chapter text, timecode. Any other
# (``meta`` timed metadata, GoPro/dashcam telemetry, ``camm`` camera motion) is a stream of
# positions and sensor readings: dropped, its samples zeroed.
_MEDIA = frozenset(
    {b"vide", b"soun", b"subt", b"sbtl", b"text", b"clcp", b"tmcd", b"subp", b"auxv"}
)


def _scan(walk: Walk) -> tuple[list[Box], list[Box]]:
    """The top-level boxes, split into kept and dropped (dropped ones named in the report)."""
    top = child_boxes(walk, 0, len(walk.data), 0, top=True)
    kinds = [box.kind for box in top]
    if b"moov" not in kinds:
        # A fragmented file still has its moov (the codec set-up); a file without one is
        # cut short or not a movie.
        raise CorruptFileError("no movie header (moov)")
    if kinds.count(b"moov") > 1:
        raise CorruptFileError("two movie headers")
    kept: list[Box] = []
    dropped: list[Box] = []
    for box in top:
        (kept if box.kind in _TOP_KEEP else dropped).append(box)
    last_drop = max((box.start for box in dropped), default=-1)
    index_boxes = [b for b in kept if b.kind in (b"sidx", b"ssix") and b.start < last_drop]
    for box in index_boxes:
        # Its references are distances past its own end: with a box removed after it they
        # would land in the wrong place. The file plays without it (fragments are found
        # by walking the boxes).
        kept.remove(box)
        dropped.append(box)
    for box in dropped:
        walk.note(box_name(box.kind))
        note_inside(walk, box, 0)
    return kept, dropped


def _has(walk: Walk, box: Box, kind: bytes) -> bool:
    return any(c.kind == kind for c in child_boxes(walk, box.payload, box.end, 1))


def _rewrite(walk: Walk, box: Box, depth: int) -> bytes:
    """A kept box, rewritten: containers from their allowlist, leaves neutralised."""
    data = walk.data
    if box.kind in _CHILDREN:
        allowed = _CHILDREN[box.kind]
        children = child_boxes(walk, box.payload, box.end, depth + 1)
        if box.kind == b"trak":
            walk.handler = handler_of(walk, box, depth)
        parts: list[bytes] = []
        for child in children:
            if child.kind == b"trak" and handler_of(walk, child, depth + 1) not in _MEDIA:
                _drop_metadata_track(walk, child, depth + 1)
            elif child.kind in allowed:
                parts.append(_rewrite(walk, child, depth + 1))
            else:
                walk.note(box_name(child.kind))
                note_inside(walk, child, depth + 1)
        joined = b"".join(parts)
        return box_header(box.kind, len(joined)) + joined
    payload = bytearray(data[box.payload : box.end])
    if box.kind in TIMES:
        zero_times(walk, box.kind, payload)
    elif box.kind == b"hdlr":
        payload = blank_handler(walk, payload)
    elif box.kind == b"dref":
        payload = self_contained(walk, payload)
    elif box.kind == b"stsd":
        payload = blank_sample_entries(walk, payload)
    elif box.kind in (b"stco", b"co64"):
        payload = _move_offsets(walk, payload, 8 if box.kind == b"co64" else 4)
    return box_header(box.kind, len(payload)) + bytes(payload)


def _drop_metadata_track(walk: Walk, trak: Box, depth: int) -> None:
    """A timed-metadata track (GoPro GPMF, Apple mebx, camm): its GPS fixes, face boxes and
    sensor readings are samples in mdat. The track goes, and its samples are zeroed where
    they lie (nothing else moves)."""
    walk.note("quicktime:track/" + box_name(handler_of(walk, trak, depth)).partition(":")[2])
    stbl = find(walk, trak, (b"mdia", b"minf", b"stbl"), depth)
    walk.hidden.extend(_sample_ranges(walk, stbl))


def _sample_ranges(walk: Walk, stbl: dict[bytes, Box]) -> list[tuple[int, int]]:
    """(start, end) of each chunk of a track, from stsc, stsz/stz2 and stco/co64."""
    data = walk.data
    offsets_box = stbl.get(b"stco") or stbl.get(b"co64")
    if offsets_box is None or b"stsc" not in stbl:
        return []
    width = 8 if offsets_box.kind == b"co64" else 4
    count = u32(data, offsets_box.payload + 4)
    if offsets_box.payload + 8 + count * width > offsets_box.end:
        raise CorruptFileError("short chunk offset table")
    base = offsets_box.payload + 8
    offsets = [int.from_bytes(data[base + i * width : base + (i + 1) * width], "big")
               for i in range(count)]  # fmt: skip
    sizes = _sample_sizes(walk, stbl)
    stsc = stbl[b"stsc"]
    runs = u32(data, stsc.payload + 4)
    if stsc.payload + 8 + runs * 12 > stsc.end:
        raise CorruptFileError("short sample-to-chunk table")
    per_chunk = [0] * count
    for i in range(runs):
        at = stsc.payload + 8 + i * 12
        first, samples = u32(data, at), u32(data, at + 4)
        last = u32(data, at + 12) if i + 1 < runs else count + 1
        if last <= first:
            # Runs must ascend (14496-12 §8.7.4); overlapping ones would cost n² here.
            raise CorruptFileError("malformed sample-to-chunk table")
        for chunk in range(max(first, 1), min(last, count + 1)):
            per_chunk[chunk - 1] = samples
    ranges = []
    sample = 0
    for offset, samples in zip(offsets, per_chunk, strict=True):
        if sample + samples > len(sizes):
            raise CorruptFileError("more samples in chunks than sizes")
        length = sum(sizes[sample : sample + samples])
        sample += samples
        if length:
            ranges.append((offset, offset + length))
    return ranges


def _sample_sizes(walk: Walk, stbl: dict[bytes, Box]) -> list[int]:
    data = walk.data
    if b"stsz" in stbl:
        box = stbl[b"stsz"]
        uniform, count = u32(data, box.payload + 4), u32(data, box.payload + 8)
        if uniform:
            if count > MAX_BOXES * 10:
                raise LimitExceededError("too many samples")
            return [uniform] * count
        if box.payload + 12 + count * 4 > box.end:
            raise CorruptFileError("short sample size table")
        return [u32(data, box.payload + 12 + i * 4) for i in range(count)]
    if b"stz2" in stbl:
        box = stbl[b"stz2"]
        field_size, count = data[box.payload + 7], u32(data, box.payload + 8)
        if (
            field_size not in (4, 8, 16)
            or box.payload + 12 + (count * field_size + 7) // 8 > box.end
        ):
            raise CorruptFileError("malformed compact sample size table")
        at = box.payload + 12
        if field_size == 16:
            return [int.from_bytes(data[at + 2 * i : at + 2 * i + 2], "big") for i in range(count)]
        if field_size == 8:
            return list(data[at : at + count])
        return [(data[at + i // 2] >> (4 if i % 2 == 0 else 0)) & 0xF for i in range(count)]
    raise CorruptFileError("track without sample sizes")


def _remap(walk: Walk, offset: int, kinds: tuple[bytes, ...]) -> int:
    i = bisect.bisect_right(walk.starts, offset) - 1
    if i >= 0:
        old_start, old_end, new_start, kind = walk.moved[i]
        if offset < old_end and kind in kinds:
            return offset - old_start + new_start
    raise CorruptFileError("an offset points outside the media data")


def _move_offsets(walk: Walk, payload: bytearray, width: int) -> bytearray:
    if len(payload) < 8:
        raise CorruptFileError("short chunk offset box")
    count = int.from_bytes(payload[4:8], "big")
    if 8 + count * width > len(payload):
        raise CorruptFileError("short chunk offset table")
    table = array.array("I" if width == 4 else "Q")
    if table.itemsize != width:
        raise UnsupportedTypeError("platform integer sizes")
    table.frombytes(bytes(payload[8 : 8 + count * width]))
    if sys.byteorder == "little":
        table.byteswap()
    for i, offset in enumerate(table):
        table[i] = _remap(walk, offset, (b"mdat",))
    if sys.byteorder == "little":
        table.byteswap()
    return payload[:8] + bytearray(table.tobytes()) + payload[8 + count * width :]


def _patch_fragment(walk: Walk, box: Box, depth: int) -> bytes:
    """A movie fragment, copied, with an explicit ``tfhd`` base offset moved with the media."""
    out = bytearray(walk.data[box.start : box.end])
    for traf in child_boxes(walk, box.payload, box.end, depth + 1):
        if traf.kind != b"traf":
            continue
        for tfhd in child_boxes(walk, traf.payload, traf.end, depth + 2):
            if tfhd.kind != b"tfhd" or tfhd.end - tfhd.payload < 16:
                continue
            flags = int.from_bytes(walk.data[tfhd.payload + 1 : tfhd.payload + 4], "big")
            if flags & 1:  # base-data-offset-present: an absolute file offset
                at = tfhd.payload + 8
                old = int.from_bytes(walk.data[at : at + 8], "big")
                new = _remap(walk, old, (b"mdat", b"moof"))
                rel = at - box.start
                out[rel : rel + 8] = new.to_bytes(8, "big")
    return bytes(out)


def _clean(data: bytes | RangeSource, build: bool) -> tuple[list[Piece], list[str]]:
    walk = Walk(data)
    kept, _ = _scan(walk)
    moov = next(box for box in kept if box.kind == b"moov")
    if _has(walk, moov, b"cmov"):
        raise UnsupportedTypeError("compressed movie header")
    media = [box for box in kept if box.kind in (b"mdat", b"moof")]
    # First pass with the media where it is: checks every offset, names every field, and
    # gives the new moov's size (offsets are numbers of a fixed width: they do not change it).
    walk.place([(box.start, box.end, box.start, box.kind) for box in media])
    sized = _rewrite(walk, moov, 0)
    if not build:
        return [], walk.removed
    moved = []
    position = 0
    for box in kept:
        if box.kind in (b"mdat", b"moof"):
            moved.append((box.start, box.end, position, box.kind))
        position += len(sized) if box.kind == b"moov" else box.end - box.start
    walk.place(moved)
    walk.hidden.clear()
    new_moov = _rewrite(walk, moov, 0)
    if walk.hidden and any(box.kind == b"moof" for box in kept):
        # Its fragments would still name the dropped track: not guessed at.
        raise UnsupportedTypeError("timed metadata in a fragmented movie")
    hidden = _hidden_by_box(walk, media)
    if len(new_moov) != len(sized):
        raise CorruptFileError("movie header changed size while moving offsets")
    pieces: list[Piece] = []
    for box in kept:
        if box.kind == b"moov":
            pieces.append(new_moov)
        elif box.kind == b"moof":
            pieces.append(_patch_fragment(walk, box, 0))
        elif box.kind == b"mdat":
            # The media samples: copied, never read here (a large file's are not in RAM);
            # the samples of a dropped metadata track become zeros.
            at = box.start
            for start, end in sorted(hidden.get(box.start, [])):
                if start > at:
                    pieces.append((at, start))
                if end > max(at, start):
                    pieces.append(bytes(end - max(at, start)))
                at = max(at, end)
            if box.end > at:
                pieces.append((at, box.end))
        else:
            pieces.append((box.start, box.end))
    return pieces, walk.removed


def _hidden_by_box(walk: Walk, media: list[Box]) -> dict[int, list[tuple[int, int]]]:
    """The metadata samples to zero, grouped by the mdat that holds each (by its start)."""
    by_box: dict[int, list[tuple[int, int]]] = {}
    for start, end in walk.hidden:
        holder = next((b for b in media if b.kind == b"mdat" and b.start <= start < b.end), None)
        if holder is None or end > holder.end:
            raise CorruptFileError("metadata samples outside the media data")
        by_box.setdefault(holder.start, []).append((start, end))
    return by_box


class IsoBmffScrubber:
    file_types = ("mp4", "mov", "m4a", "3gp")

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        del limits  # the sandbox bounds memory and time; the walk bounds its own work
        return _clean(untrusted_data, build=False)[1]

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        del limits
        pieces, removed = _clean(untrusted_data, build=True)
        return Cleaned(join(pieces, untrusted_data), tuple(removed))

    def get_meta_from(self, source: RangeSource, limits: Limits) -> list[str]:
        del limits
        return _clean(source, build=False)[1]

    def remove_all_to(self, source: RangeSource, sink: Sink, limits: Limits) -> Cleaned:
        del limits
        pieces, removed = _clean(source, build=True)
        emit(pieces, sink)
        return Cleaned(b"", tuple(removed))
