"""ISO BMFF sample descriptions (``stsd``) filtered: vendor codes and compressor names
blanked, and only the boxes a decoder needs kept inside each picture or sound entry."""

from __future__ import annotations

from scrubbers._isobmff_boxes import MAX_BOXES, MAX_DEPTH, Walk, box_header, box_name
from scrubbers.errors import CorruptFileError, LimitExceededError

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
    walk: Walk, data: bytes | bytearray, start: int, allowed: frozenset[bytes], depth: int
) -> bytes:
    """The boxes of data[start:] whose type is allowed (``wave`` filtered in turn); others
    are named and dropped, and so are trailing bytes too short to be a box."""
    if depth > MAX_DEPTH:
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
        if walk.boxes > MAX_BOXES:
            raise LimitExceededError("too many boxes")
        if kind not in allowed:
            walk.note(box_name(kind))
        elif kind == b"wave":
            inner = _kept_boxes(walk, data[at + 8 : at + size], 0, _WAVE_CHILDREN, depth + 1)
            out += box_header(kind, len(inner)) + inner
        else:
            out += data[at : at + size]
        at += size
    return bytes(out)


def blank_sample_entries(walk: Walk, payload: bytearray) -> bytearray:
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
