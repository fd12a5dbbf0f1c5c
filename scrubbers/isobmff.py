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
"""

from __future__ import annotations

import array
import bisect
import sys
from dataclasses import dataclass, field

from scrubbers._ranges import Piece, RangeSource, Sink, emit, join
from scrubbers._types import Cleaned, Limits
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

# Field names reported per file: a hostile file could hold thousands of distinct ones.
_MAX_NAMES = 200

_MAX_DEPTH = 12
_MAX_BOXES = 1_000_000  # top-level plus moov's boxes; a fragmented file has 2 per fragment
_MAX_DREF_ENTRIES = 1_000

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
_TIMES = frozenset({b"mvhd", b"tkhd", b"mdhd"})
_TIME_NAMES = {b"mvhd": "CreateDate", b"tkhd": "TrackCreateDate", b"mdhd": "MediaCreateDate"}
# A self-contained data reference: 'url ' with flag 1 ("the media is in this file").
_SELF_URL = (12).to_bytes(4, "big") + b"url " + b"\x00\x00\x00\x01"
# Apple key names as reported ("com.apple.quicktime.location.ISO6709"); others go unnamed.
_KEY_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_PRINTABLE = frozenset(range(0x20, 0x7F)) | {0xA9}  # QuickTime's user-data types start with ©


@dataclass
class _Box:
    kind: bytes
    start: int  # of the header
    payload: int
    end: int


@dataclass
class _Walk:
    data: bytes | RangeSource
    removed: list[str] = field(default_factory=list)
    boxes: int = 0
    handler: bytes = b""
    # (old start, old end, new start) of each kept mdat/moof, sorted by old start.
    moved: list[tuple[int, int, int, bytes]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    # (old start, old end) of the samples of dropped metadata tracks, zeroed in the output.
    hidden: list[tuple[int, int]] = field(default_factory=list)

    def place(self, moved: list[tuple[int, int, int, bytes]]) -> None:
        self.moved = moved
        self.starts = [m[0] for m in moved]

    def note(self, name: str) -> None:
        if name not in self.removed and len(self.removed) < _MAX_NAMES:
            self.removed.append(name)


def _name(kind: bytes) -> str:
    # Report names travel in a closed ASCII alphabet (scrubbers._wire): © is spelt (c).
    if all(b in _PRINTABLE for b in kind):
        return "quicktime:" + kind.decode("latin-1").replace("©", "(c)")
    return "quicktime:" + kind.hex()


def _children(walk: _Walk, start: int, end: int, depth: int, top: bool = False) -> list[_Box]:
    """The boxes between two offsets (ISO/IEC 14496-12 §4.2), each checked to fit."""
    if depth > _MAX_DEPTH:
        raise LimitExceededError("boxes nested too deeply")
    data = walk.data
    boxes: list[_Box] = []
    at = start
    while at < end:
        walk.boxes += 1
        if walk.boxes > _MAX_BOXES:
            raise LimitExceededError("too many boxes")
        if end - at < 8:
            if not top and data[at:end] == b"\x00" * (end - at):
                break  # QuickTime pads some containers with a zero terminator
            raise CorruptFileError("truncated box header")
        size = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        header = 8
        if size == 1:
            if end - at < 16:
                raise CorruptFileError("truncated box header")
            size = int.from_bytes(data[at + 8 : at + 16], "big")
            header = 16
        elif size == 0:
            if not top and kind == b"\x00\x00\x00\x00":
                break  # the QuickTime terminator inside a container
            size = end - at  # the box runs to the end of the file (or of its parent)
        if kind == b"uuid":
            header += 16
        if size < header:
            raise CorruptFileError("malformed box size")
        if size > end - at:
            raise CorruptFileError("truncated file (a box ends past its end)")
        boxes.append(_Box(kind, at, at + header, at + size))
        at += size
    return boxes


def _header(kind: bytes, payload_size: int) -> bytes:
    size = payload_size + 8
    if size < 1 << 32:
        return size.to_bytes(4, "big") + kind
    return (1).to_bytes(4, "big") + kind + (size + 8).to_bytes(8, "big")


def _scan(walk: _Walk) -> tuple[list[_Box], list[_Box]]:
    """The top-level boxes, split into kept and dropped (dropped ones named in the report)."""
    top = _children(walk, 0, len(walk.data), 0, top=True)
    kinds = [box.kind for box in top]
    if b"moov" not in kinds:
        # A fragmented file still has its moov (the codec set-up); a file without one is
        # cut short or not a movie.
        raise CorruptFileError("no movie header (moov)")
    if kinds.count(b"moov") > 1:
        raise CorruptFileError("two movie headers")
    kept: list[_Box] = []
    dropped: list[_Box] = []
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
        walk.note(_name(box.kind))
        _note_inside(walk, box, 0)
    return kept, dropped


def _note_inside(walk: _Walk, box: _Box, depth: int) -> None:
    """Name what a dropped ``udta``/``meta`` held (``©xyz``, Apple keys), for the report."""
    if box.kind not in (b"udta", b"meta", b"keys", b"ilst") or depth > _MAX_DEPTH - 2:
        return
    start = box.payload
    if box.kind == b"meta" and walk.data[start + 4 : start + 8] != b"hdlr":
        start += 4  # ISO's meta is a full box; QuickTime's is not
    if box.kind == b"keys":
        start += 8  # version, flags and entry count
    try:
        children = _children(walk, start, box.end, depth + 1)
    except CorruptFileError:
        return  # dropped whole anyway: only the report is shorter
    for child in children:
        if box.kind == b"keys":
            key = walk.data[child.payload : child.end]
            if 0 < len(key) <= 64 and all(b in _KEY_CHARS for b in key):
                walk.note("quicktime:" + key.decode("ascii"))
            continue
        if child.kind == b"ilst":
            _note_inside(walk, child, depth + 1)
            continue
        if child.kind in (b"hdlr", b"free") or not all(b in _PRINTABLE for b in child.kind):
            continue  # ilst items of mdta files are numbered, not named: keys named them
        walk.note(_name(child.kind))
        _note_inside(walk, child, depth + 1)


def _has(walk: _Walk, box: _Box, kind: bytes) -> bool:
    return any(c.kind == kind for c in _children(walk, box.payload, box.end, 1))


def _rewrite(walk: _Walk, box: _Box, depth: int) -> bytes:
    """A kept box, rewritten: containers from their allowlist, leaves neutralised."""
    data = walk.data
    if box.kind in _CHILDREN:
        allowed = _CHILDREN[box.kind]
        children = _children(walk, box.payload, box.end, depth + 1)
        if box.kind == b"trak":
            walk.handler = _handler_of(walk, box, depth)
        parts: list[bytes] = []
        for child in children:
            if child.kind == b"trak" and _handler_of(walk, child, depth + 1) not in _MEDIA:
                _drop_metadata_track(walk, child, depth + 1)
            elif child.kind in allowed:
                parts.append(_rewrite(walk, child, depth + 1))
            else:
                walk.note(_name(child.kind))
                _note_inside(walk, child, depth + 1)
        joined = b"".join(parts)
        return _header(box.kind, len(joined)) + joined
    payload = bytearray(data[box.payload : box.end])
    if box.kind in _TIMES:
        _zero_times(walk, box.kind, payload)
    elif box.kind == b"hdlr":
        payload = _blank_handler(walk, payload)
    elif box.kind == b"dref":
        payload = _self_contained(walk, payload)
    elif box.kind == b"stsd":
        payload = _blank_sample_entries(walk, payload)
    elif box.kind in (b"stco", b"co64"):
        payload = _move_offsets(walk, payload, 8 if box.kind == b"co64" else 4)
    return _header(box.kind, len(payload)) + bytes(payload)


def _handler_of(walk: _Walk, trak: _Box, depth: int) -> bytes:
    for child in _children(walk, trak.payload, trak.end, depth + 1):
        if child.kind == b"mdia":
            for grand in _children(walk, child.payload, child.end, depth + 2):
                if grand.kind == b"hdlr" and grand.end - grand.payload >= 12:
                    return walk.data[grand.payload + 8 : grand.payload + 12]
    return b""


def _find(walk: _Walk, box: _Box, path: tuple[bytes, ...], depth: int) -> dict[bytes, _Box]:
    """The children of the container at ``path`` under ``box``, by type (first of each)."""
    current = box
    for kind in path:
        found = [
            c for c in _children(walk, current.payload, current.end, depth + 1) if c.kind == kind
        ]
        if not found:
            raise CorruptFileError(f"track without {kind.decode()}")
        current, depth = found[0], depth + 1
    table: dict[bytes, _Box] = {}
    for child in _children(walk, current.payload, current.end, depth + 1):
        table.setdefault(child.kind, child)
    return table


def _drop_metadata_track(walk: _Walk, trak: _Box, depth: int) -> None:
    """A timed-metadata track (GoPro GPMF, Apple mebx, camm): its GPS fixes, face boxes and
    sensor readings are samples in mdat. The track goes, and its samples are zeroed where
    they lie (nothing else moves)."""
    walk.note("quicktime:track/" + _name(_handler_of(walk, trak, depth)).partition(":")[2])
    stbl = _find(walk, trak, (b"mdia", b"minf", b"stbl"), depth)
    walk.hidden.extend(_sample_ranges(walk, stbl))


def _u32(data: bytes | RangeSource, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "big")


def _sample_ranges(walk: _Walk, stbl: dict[bytes, _Box]) -> list[tuple[int, int]]:
    """(start, end) of each chunk of a track, from stsc, stsz/stz2 and stco/co64."""
    data = walk.data
    offsets_box = stbl.get(b"stco") or stbl.get(b"co64")
    if offsets_box is None or b"stsc" not in stbl:
        return []
    width = 8 if offsets_box.kind == b"co64" else 4
    count = _u32(data, offsets_box.payload + 4)
    if offsets_box.payload + 8 + count * width > offsets_box.end:
        raise CorruptFileError("short chunk offset table")
    base = offsets_box.payload + 8
    offsets = [int.from_bytes(data[base + i * width : base + (i + 1) * width], "big")
               for i in range(count)]  # fmt: skip
    sizes = _sample_sizes(walk, stbl)
    stsc = stbl[b"stsc"]
    runs = _u32(data, stsc.payload + 4)
    if stsc.payload + 8 + runs * 12 > stsc.end:
        raise CorruptFileError("short sample-to-chunk table")
    per_chunk = [0] * count
    for i in range(runs):
        at = stsc.payload + 8 + i * 12
        first, samples = _u32(data, at), _u32(data, at + 4)
        last = _u32(data, at + 12) if i + 1 < runs else count + 1
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


def _sample_sizes(walk: _Walk, stbl: dict[bytes, _Box]) -> list[int]:
    data = walk.data
    if b"stsz" in stbl:
        box = stbl[b"stsz"]
        uniform, count = _u32(data, box.payload + 4), _u32(data, box.payload + 8)
        if uniform:
            if count > _MAX_BOXES * 10:
                raise LimitExceededError("too many samples")
            return [uniform] * count
        if box.payload + 12 + count * 4 > box.end:
            raise CorruptFileError("short sample size table")
        return [_u32(data, box.payload + 12 + i * 4) for i in range(count)]
    if b"stz2" in stbl:
        box = stbl[b"stz2"]
        field_size, count = data[box.payload + 7], _u32(data, box.payload + 8)
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


def _zero_times(walk: _Walk, kind: bytes, payload: bytearray) -> None:
    # Version 1 has 64-bit times, version 0 32-bit ones, right after version and flags.
    width = 8 if payload[:1] == b"\x01" else 4
    if len(payload) < 4 + 2 * width:
        raise CorruptFileError(f"short {kind.decode()} box")
    span = slice(4, 4 + 2 * width)
    if any(payload[span]):
        walk.note("quicktime:" + _TIME_NAMES[kind])
        payload[span] = bytes(2 * width)


def _blank_handler(walk: _Walk, payload: bytearray) -> bytearray:
    # version/flags, pre_defined (QuickTime: component type), handler type, 12 reserved
    # bytes (QuickTime: manufacturer, flags, mask), then the name.
    if len(payload) < 24:
        raise CorruptFileError("short hdlr box")
    if any(payload[12:24]):
        walk.note("quicktime:HandlerVendorID")
    if bytes(payload[24:]) not in (b"", b"\x00"):
        walk.note("quicktime:HandlerName")
    return payload[:12] + bytearray(12) + bytearray(b"\x00")


def _self_contained(walk: _Walk, payload: bytearray) -> bytearray:
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


# Boxes a picture or sound sample entry may hold, by what they are: decoder configuration
# (ISO/IEC 14496-15 and the codecs' own bindings), bitrate, pixel aspect, clean aperture,
# colour and HDR signalling, channel layout, protection scheme, spatial media. Anything else
# inside a sample entry (a vendor's box, an encoder's note) is dropped and named.
_ENTRY_CHILDREN = frozenset(
    {
        b"avcC", b"hvcC", b"lhvC", b"av1C", b"vpcC", b"dvcC", b"dvvC", b"dvwC", b"vvcC",
        b"btrt", b"pasp", b"clap", b"colr", b"fiel", b"gama", b"mdcv", b"clli", b"amve",
        b"ccst", b"st3d", b"sv3d", b"SA3D", b"esds", b"dOps", b"dfLa", b"dac3", b"dec3",
        b"dac4", b"alac", b"chan", b"chnl", b"wave", b"sinf", b"mhaC", b"ddts", b"glbl",
        b"m4ds", b"damr", b"d263", b"jp2h", b"SMI ", b"ARES", b"strf", b"pcmC", b"enda",
    }
)  # fmt: skip
# QuickTime's ``wave`` box (sound decompression parameters) holds boxes of its own.
_WAVE_CHILDREN = frozenset(
    {b"frma", b"esds", b"enda", b"chan", b"alac", b"mp4a", b"dOps", b"dfLa", b"\0\0\0\0"}
)
# Fixed part of a sample entry after its box header: VisualSampleEntry (ISO/IEC 14496-12
# §12.1.3), AudioSampleEntry (§12.2.3; QuickTime's version 1 and 2 sound descriptions are
# 16 and 36 bytes longer).
_VIDEO_FIXED = 78
_AUDIO_FIXED = 28
_AUDIO_EXTRA = {0: 0, 1: 16, 2: 36}


def _kept_boxes(
    walk: _Walk, data: bytes | bytearray, start: int, allowed: frozenset[bytes], depth: int
) -> bytes:
    """The boxes of data[start:] whose type is allowed (``wave`` filtered in turn); others
    are named and dropped, and so are trailing bytes too short to be a box."""
    if depth > _MAX_DEPTH:
        raise LimitExceededError("boxes nested too deep")
    out = bytearray()
    at = start
    while at < len(data):
        if len(data) - at < 8:
            if any(data[at:]):
                walk.note("quicktime:sample-entry-trailing-bytes")
            break
        size = int.from_bytes(data[at : at + 4], "big")
        kind = bytes(data[at + 4 : at + 8])
        if size < 8 or at + size > len(data):
            raise CorruptFileError("malformed box inside a sample description")
        walk.boxes += 1
        if walk.boxes > _MAX_BOXES:
            raise LimitExceededError("too many boxes")
        if kind not in allowed:
            walk.note(_name(kind))
        elif kind == b"wave":
            inner = _kept_boxes(walk, data[at + 8 : at + size], 0, _WAVE_CHILDREN, depth + 1)
            out += _header(kind, len(inner)) + inner
        else:
            out += data[at : at + size]
        at += size
    return bytes(out)


def _blank_sample_entries(walk: _Walk, payload: bytearray) -> bytearray:
    """The sample descriptions, with their vendor fields blanked and, for pictures and
    sound, only the allowed boxes inside each entry (`_ENTRY_CHILDREN`).

    A sample entry: 6 reserved bytes and a data reference index, then (QuickTime's
    version, revision and) a 4-byte vendor code at +12, for video a 32-byte compressor
    name at +42. In ISO files those bytes are reserved zeros; in QuickTime files they name
    the encoder ("FFmpeg", "Lavc…") or the camera maker.
    """
    if len(payload) < 8:
        raise CorruptFileError("short stsd box")
    count = int.from_bytes(payload[4:8], "big")
    out = bytearray(payload[:8])
    at = 8
    for _ in range(count):
        if at + 8 > len(payload):
            raise CorruptFileError("short sample description")
        size = int.from_bytes(payload[at : at + 4], "big")
        if size < 8 or at + size > len(payload):
            raise CorruptFileError("malformed sample description")
        entry = bytearray(payload[at : at + size])
        body = 8
        if (
            walk.handler in (b"vide", b"soun")
            and size - 8 >= 16
            and any(entry[body + 12 : body + 16])
        ):
            walk.note("quicktime:VendorID")
            entry[body + 12 : body + 16] = bytes(4)
        if walk.handler == b"vide" and size - 8 >= 74 and any(entry[body + 42 : body + 74]):
            walk.note("quicktime:CompressorName")
            entry[body + 42 : body + 74] = bytes(32)
        fixed = None
        if walk.handler == b"vide":
            fixed = body + _VIDEO_FIXED
        elif walk.handler == b"soun":
            if size < body + _AUDIO_FIXED:
                raise CorruptFileError("short sound description")
            version = int.from_bytes(entry[body + 8 : body + 10], "big")
            if version not in _AUDIO_EXTRA:
                raise CorruptFileError("unknown sound description version")
            fixed = body + _AUDIO_FIXED + _AUDIO_EXTRA[version]
        if fixed is not None:
            if fixed > size:
                raise CorruptFileError("short sample description")
            children = _kept_boxes(walk, entry, fixed, _ENTRY_CHILDREN, 0)
            entry = entry[:fixed] + children
            entry[0:4] = len(entry).to_bytes(4, "big")
        out += entry
        at += size
    return out


def _remap(walk: _Walk, offset: int, kinds: tuple[bytes, ...]) -> int:
    i = bisect.bisect_right(walk.starts, offset) - 1
    if i >= 0:
        old_start, old_end, new_start, kind = walk.moved[i]
        if offset < old_end and kind in kinds:
            return offset - old_start + new_start
    raise CorruptFileError("an offset points outside the media data")


def _move_offsets(walk: _Walk, payload: bytearray, width: int) -> bytearray:
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


def _patch_fragment(walk: _Walk, box: _Box, depth: int) -> bytes:
    """A movie fragment, copied, with an explicit ``tfhd`` base offset moved with the media."""
    out = bytearray(walk.data[box.start : box.end])
    for traf in _children(walk, box.payload, box.end, depth + 1):
        if traf.kind != b"traf":
            continue
        for tfhd in _children(walk, traf.payload, traf.end, depth + 2):
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
    walk = _Walk(data)
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


def _hidden_by_box(walk: _Walk, media: list[_Box]) -> dict[int, list[tuple[int, int]]]:
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
