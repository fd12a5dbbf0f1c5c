"""A pure JPEG marker walker and a lossless stripper (no pixel is decoded).

Used for JPEG files (`scrubbers.jpeg`) and for JPEG streams inside PDFs (``DCTDecode``).
The entropy-coded data is copied byte for byte: cleaning never re-compresses a photo.

What is kept is what decoding needs: the frame header (SOFn), quantisation, Huffman and
arithmetic tables, restart interval, scans (SOS + their entropy-coded data), DNL, the
hierarchical markers, JPEG-LS parameters, and two canonical segments rebuilt from scratch:
a minimal JFIF APP0 (its presence changes how libjpeg guesses the colour space) and a minimal
Adobe APP14 (its colour-transform byte changes how the pixels decode). Everything else goes:
every other APPn (EXIF, XMP, ICC, MPF, FlashPix, JUMBF, Photoshop/IPTC...), COM, stray bytes
between segments and everything after the first image's end marker (MPF stores more images
there). Optionally a fresh EXIF holding only the orientation tag is added, so that photos do
not turn sideways.

The EXIF/TIFF IFD walker used to name EXIF fields lives here too (shared with the TIFF, PNG,
WebP and HEIF scrubbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from scrubbers.errors import CorruptFileError, LimitExceededError

__all__ = [
    "JpegLayout",
    "canonical_orientation_exif",
    "exif_field_names",
    "exif_orientation",
    "ifd_entries",
    "rebuild_jpeg",
    "strip_jpeg",
    "walk_jpeg",
]

_SOI = 0xD8
_EOI = 0xD9
_SOS = 0xDA
_DQT = 0xDB
_DHT = 0xC4
_DRI = 0xDD
_APP0 = 0xE0
_APP1 = 0xE1
_APP14 = 0xEE
_COM = 0xFE
# Frame headers: SOF0..SOF15 except DHT (C4), JPG (C8, reserved) and DAC (CC); F7 = JPEG-LS.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}
# Segments that carry only decoding parameters (numbers, no free text): kept verbatim.
_TABLE_MARKERS = frozenset({0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xF8})
_RST_MARKERS = frozenset(range(0xD0, 0xD8))

_JFIF_ID = b"JFIF\x00"
_EXIF_IDS = (b"Exif\x00\x00", b"Exif\x00\xff")
_ADOBE_ID = b"Adobe"
# A JFIF 1.01 header without units, 1:1 aspect and no thumbnail.
CANONICAL_JFIF = b"\xff\xe0\x00\x10" + _JFIF_ID + b"\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def _canonical_adobe(transform: int) -> bytes:
    # Version 100, no flags: only the transform byte matters to decoders.
    return b"\xff\xee\x00\x0e" + _ADOBE_ID + b"\x00\x64\x00\x00\x00\x00" + bytes([transform])


def canonical_orientation_exif(orientation: int) -> bytes:
    """A whole APP1 segment: EXIF with one IFD0 entry, Orientation (0x0112), nothing else."""
    if not 2 <= orientation <= 8:
        raise ValueError("orientation must be 2..8 (1 needs no EXIF at all)")
    tiff = (
        b"MM\x00\x2a\x00\x00\x00\x08"  # big-endian TIFF header, IFD0 at offset 8
        + b"\x00\x01"  # one entry
        + b"\x01\x12\x00\x03\x00\x00\x00\x01"  # tag 0x0112, SHORT, count 1
        + bytes([0, orientation, 0, 0])
        + b"\x00\x00\x00\x00"  # no next IFD (no thumbnail)
    )
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


_CANONICAL_EXIFS = frozenset(canonical_orientation_exif(o) for o in range(2, 9))
_CANONICAL_ADOBES = frozenset(_canonical_adobe(t) for t in range(3))


# ---------------------------------------------------------------------------------------
# EXIF / TIFF IFDs
# ---------------------------------------------------------------------------------------

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MAX_IFDS = 4096  # pages + sub-IFDs; a loop or a fan-out bomb stops here
_MAX_IFD_ENTRIES = 100_000
_POINTER_TAGS = {0x8769: "exif", 0x8825: "gps", 0xA005: "interop", 0x014A: "subifd"}

# Names for the tags people recognise; any other tag is reported by number.
EXIF_TAG_NAMES = {
    0x0100: "ImageWidth",
    0x0101: "ImageHeight",
    0x011A: "XResolution",
    0x011B: "YResolution",
    0x0128: "ResolutionUnit",
    0x0213: "YCbCrPositioning",
    0x0214: "ReferenceBlackWhite",
    0x829A: "ExposureTime",
    0x829D: "FNumber",
    0x8822: "ExposureProgram",
    0x8827: "ISO",
    0x8830: "SensitivityType",
    0x8832: "RecommendedExposureIndex",
    0x9000: "ExifVersion",
    0x9101: "ComponentsConfiguration",
    0x9102: "CompressedBitsPerPixel",
    0x9201: "ShutterSpeedValue",
    0x9202: "ApertureValue",
    0x9203: "BrightnessValue",
    0x9204: "ExposureCompensation",
    0x9205: "MaxApertureValue",
    0x9206: "SubjectDistance",
    0x9207: "MeteringMode",
    0x9208: "LightSource",
    0x9209: "Flash",
    0x920A: "FocalLength",
    0x9214: "SubjectArea",
    0xA000: "FlashpixVersion",
    0xA001: "ColorSpace",
    0xA002: "ExifImageWidth",
    0xA003: "ExifImageHeight",
    0xA20E: "FocalPlaneXResolution",
    0xA20F: "FocalPlaneYResolution",
    0xA210: "FocalPlaneResolutionUnit",
    0xA217: "SensingMethod",
    0xA300: "FileSource",
    0xA301: "SceneType",
    0xA401: "CustomRendered",
    0xA402: "ExposureMode",
    0xA403: "WhiteBalance",
    0xA404: "DigitalZoomRatio",
    0xA405: "FocalLengthIn35mmFormat",
    0xA406: "SceneCaptureType",
    0xA407: "GainControl",
    0xA408: "Contrast",
    0xA409: "Saturation",
    0xA40A: "Sharpness",
    0xA40C: "SubjectDistanceRange",
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0112: "Orientation",
    0x0131: "Software",
    0x0132: "ModifyDate",
    0x013B: "Artist",
    0x013C: "HostComputer",
    0x010D: "DocumentName",
    0x011D: "PageName",
    0x8298: "Copyright",
    0x83BB: "IPTC",
    0x8649: "Photoshop",
    0x02BC: "XMP",
    0x8773: "ICCProfile",
    0x9003: "DateTimeOriginal",
    0x9004: "CreateDate",
    0x9010: "OffsetTime",
    0x9011: "OffsetTimeOriginal",
    0x9012: "OffsetTimeDigitized",
    0x9290: "SubSecTime",
    0x9291: "SubSecTimeOriginal",
    0x9292: "SubSecTimeDigitized",
    0x927C: "MakerNote",
    0x9286: "UserComment",
    0x9C9B: "XPTitle",
    0x9C9C: "XPComment",
    0x9C9D: "XPAuthor",
    0x9C9E: "XPKeywords",
    0x9C9F: "XPSubject",
    0xA420: "ImageUniqueID",
    0xA430: "OwnerName",
    0xA431: "SerialNumber",
    0xA432: "LensInfo",
    0xA433: "LensMake",
    0xA434: "LensModel",
    0xA435: "LensSerialNumber",
    0xC4A5: "PrintIM",
    0xEA1C: "Padding",
    0x882A: "TimeZoneOffset",
    0xFDE8: "OwnerName",
}


@dataclass(frozen=True)
class IfdEntry:
    ifd: str  # "ifd0", "ifd1", "ifd2"..., "exif", "gps", "interop", "subifd"
    tag: int
    type: int
    count: int
    value_offset: int  # where the value (or the pointer to it) starts in the TIFF bytes


def _tiff_order(untrusted_tiff: bytes) -> Literal["little", "big"]:
    if untrusted_tiff[:4] == b"MM\x00\x2a":
        return "big"
    if untrusted_tiff[:4] == b"II\x2a\x00":
        return "little"
    raise CorruptFileError("not a TIFF structure")


def ifd_entries(untrusted_tiff: bytes) -> Iterator[IfdEntry]:
    """Every entry of every IFD reachable from the header: the page chain, EXIF, GPS,
    interoperability and sub-IFDs. Bounded: each IFD is visited once, at most `_MAX_IFDS`.

    Raises `CorruptFileError` on a malformed structure.
    """
    order = _tiff_order(untrusted_tiff)
    size = len(untrusted_tiff)

    def u16(at: int) -> int:
        return int.from_bytes(untrusted_tiff[at : at + 2], order)

    def u32(at: int) -> int:
        return int.from_bytes(untrusted_tiff[at : at + 4], order)

    queue: list[tuple[str, int]] = [("ifd0", u32(4))]
    seen: set[int] = set()
    page = 0
    entries = 0
    while queue:
        if len(queue) > _MAX_IFDS:
            raise LimitExceededError("too many TIFF directories")
        kind, offset = queue.pop(0)
        if offset == 0:
            continue
        # A cycle (an IFD pointing back at itself) would loop forever: visit once.
        if offset in seen:
            continue
        seen.add(offset)
        if len(seen) > _MAX_IFDS:
            raise LimitExceededError("too many TIFF directories")
        if offset + 2 > size:
            raise CorruptFileError("IFD offset out of range")
        count = u16(offset)
        if offset + 2 + 12 * count + 4 > size:
            raise CorruptFileError("IFD runs past the end")
        entries += count
        if entries > _MAX_IFD_ENTRIES:
            raise LimitExceededError("too many TIFF tags")
        for index in range(count):
            at = offset + 2 + 12 * index
            tag, typ, n = u16(at), u16(at + 2), u32(at + 4)
            entry = IfdEntry(kind, tag, typ, n, at + 8)
            yield entry
            child = _POINTER_TAGS.get(tag)
            if child is not None and typ in (4, 13) and n >= 1:
                if n == 1:
                    queue.append((child, u32(at + 8)))
                elif n * 4 <= size:
                    values_at = u32(at + 8)
                    if values_at + 4 * n > size:
                        raise CorruptFileError("sub-IFD list out of range")
                    queue.extend((child, u32(values_at + 4 * i)) for i in range(n))
        if kind.startswith("ifd"):
            page += 1
            queue.append((f"ifd{page}", u32(offset + 2 + 12 * count)))


def _entry_name(entry: IfdEntry) -> str | None:
    if entry.tag in _POINTER_TAGS:
        return None  # the pointer itself says nothing; what it points to is named
    if entry.ifd == "gps":
        return "exif:GPS"
    if entry.ifd == "interop":
        return "exif:Interop"
    if entry.ifd not in ("ifd0", "exif"):
        # IFD1 of EXIF is the embedded thumbnail: a whole JPEG with its own metadata,
        # sometimes showing the picture before it was cropped.
        return "exif:Thumbnail"
    name = EXIF_TAG_NAMES.get(entry.tag)
    return f"exif:{name}" if name else f"exif:0x{entry.tag:04X}"


def exif_field_names(untrusted_tiff: bytes) -> list[str]:
    """Names of the fields in an EXIF block (the TIFF structure after ``Exif\\0\\0``).

    Never empty: an EXIF block that cannot be parsed is still reported as ``exif``.
    """
    try:
        names = {n for e in ifd_entries(untrusted_tiff) if (n := _entry_name(e))}
    except (CorruptFileError, LimitExceededError):
        return ["exif"]
    return sorted(names) or ["exif"]


def exif_orientation(untrusted_tiff: bytes) -> int:
    """The IFD0 Orientation (1..8) of an EXIF block; 1 when absent or invalid."""
    try:
        order = _tiff_order(untrusted_tiff)
        for entry in ifd_entries(untrusted_tiff):
            if entry.ifd == "ifd0" and entry.tag == 0x0112 and entry.type == 3:
                at = entry.value_offset
                value = int.from_bytes(untrusted_tiff[at : at + 2], order)
                return value if 1 <= value <= 8 else 1
            if entry.ifd != "ifd0":
                break
    except (CorruptFileError, LimitExceededError):
        return 1
    return 1


# ---------------------------------------------------------------------------------------
# JPEG markers
# ---------------------------------------------------------------------------------------


@dataclass
class JpegLayout:
    """What the walk found. ``kept`` are byte ranges of the input to copy verbatim."""

    kept: list[tuple[int, int]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # field names, in order of discovery
    had_jfif: bool = False
    adobe_transform: int | None = None
    orientation: int = 1
    width: int = 0
    height: int = 0
    saw_exif: bool = False
    # The input's first EXIF is exactly the orientation-only one `rebuild_jpeg` writes.
    canonical_exif: bool = False


_MAX_SEGMENTS = 65_536


def _add(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)


def _u16(data: bytes, at: int) -> int:
    return (data[at] << 8) | data[at + 1]


def _app_names(marker: int, payload: bytes) -> list[str]:
    """Name an APPn segment (all of them are removed, bar the canonical ones)."""
    if marker == _APP0:
        if payload.startswith(_JFIF_ID):
            return ["jfif:thumbnail"]  # only non-canonical JFIF gets here (see `walk_jpeg`)
        if payload.startswith(b"JFXX\x00"):
            return ["jfif:thumbnail"]
        return ["jpeg:APP0"]
    if marker == _APP1:
        if payload[:6] in _EXIF_IDS:
            return exif_field_names(payload[6:])
        if payload.startswith((b"http://ns.adobe.com/xap/1.0/", b"http://ns.adobe.com/xmp/")):
            return ["xmp"]
        return ["jpeg:APP1"]
    if marker == 0xE2:
        if payload.startswith(b"ICC_PROFILE\x00"):
            return ["icc:profile"]
        if payload.startswith(b"MPF\x00"):
            return ["jpeg:MPF"]
        if payload.startswith(b"FPXR\x00"):
            return ["jpeg:FlashPix"]
        return ["jpeg:APP2"]
    if marker == 0xEB and payload.startswith(b"JP"):
        return ["jpeg:JUMBF"]  # C2PA content credentials: signer, device, edit history
    if marker == 0xED:
        names = ["jpeg:APP13"]
        if payload.startswith(b"Photoshop 3.0\x00") and b"8BIM\x04\x04" in payload:
            names.append("iptc")
        return names
    if marker == _APP14:
        return ["jpeg:APP14"]
    return [f"jpeg:APP{marker - _APP0}"]


def walk_jpeg(untrusted_data: bytes, *, max_pixels: int | None = None) -> JpegLayout:
    """Walk the markers of the first image. Raises `CorruptFileError` on anything a decoder
    could not read (truncation included), `LimitExceededError` when the frame header
    announces more than ``max_pixels`` (a bomb is refused before anyone allocates it)."""
    data = untrusted_data
    size = len(data)
    if not data.startswith(b"\xff\xd8"):
        raise CorruptFileError("no JPEG start marker")
    layout = JpegLayout()
    removed = layout.removed
    pos = 2
    saw_frame = False
    saw_scan = False
    seen_jfif_segment = False
    segments = 0
    while True:
        segments += 1
        if segments > _MAX_SEGMENTS:
            # Real files have a few dozen; millions of tiny ones would only eat memory.
            raise LimitExceededError("too many JPEG segments")
        if pos >= size:
            raise CorruptFileError("truncated JPEG (no end marker)")
        if data[pos] != 0xFF:
            # Bytes between segments: decoders skip them with a warning; they are a
            # hiding place, so they go.
            nxt = data.find(b"\xff", pos)
            if nxt < 0:
                raise CorruptFileError("truncated JPEG (no end marker)")
            _add(removed, "jpeg:extraneous-bytes")
            pos = nxt
        while pos < size and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= size:
            raise CorruptFileError("truncated JPEG (no end marker)")
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            if not (saw_frame and saw_scan):
                raise CorruptFileError("JPEG without a frame or a scan")
            break
        if marker == 0x00 or marker in _RST_MARKERS or marker == 0x01:
            # Stray stuffing or restart markers outside a scan carry nothing we need.
            _add(removed, "jpeg:extraneous-bytes")
            continue
        if marker == _SOI:
            raise CorruptFileError("nested JPEG start marker")
        if pos + 2 > size:
            raise CorruptFileError("truncated JPEG segment")
        length = _u16(data, pos)
        end = pos + length
        if length < 2 or end > size:
            raise CorruptFileError("bad or truncated JPEG segment length")
        payload = data[pos + 2 : end]
        seg_start = pos - 2  # the 0xFF right before the marker (fill bytes are dropped)
        _check_no_slack(marker, payload)
        pos = end
        if marker in _SOF_MARKERS:
            if len(payload) < 6:
                raise CorruptFileError("short frame header")
            height, width = _u16(payload, 1), _u16(payload, 3)
            if width == 0 or height == 0:
                # Height 0 means "defined later by DNL", which common decoders refuse.
                raise CorruptFileError("JPEG frame without dimensions")
            if max_pixels is not None and width * height > max_pixels:
                raise LimitExceededError("image dimensions too large")
            if not saw_frame:
                layout.width, layout.height = width, height
            saw_frame = True
            layout.kept.append((seg_start, end))
        elif marker in _TABLE_MARKERS:
            layout.kept.append((seg_start, end))
        elif marker == _SOS:
            if not saw_frame:
                raise CorruptFileError("scan before frame header")
            saw_scan = True
            pos = _skip_entropy_data(data, pos)
            layout.kept.append((seg_start, pos))
        elif 0xE0 <= marker <= 0xEF:
            _note_app(layout, marker, payload, data[seg_start:end])
            if marker == _APP0 and payload.startswith(_JFIF_ID):
                if seen_jfif_segment:
                    _add(removed, "jpeg:APP0")
                seen_jfif_segment = True
        elif marker == _COM:
            _add(removed, "jpeg:COM")
        else:
            _add(removed, f"jpeg:marker-0x{marker:02X}")
    if pos < size:
        # MPF's extra images (depth maps, previews) and anything appended live here.
        removed.append("jpeg:trailing-data")
    return layout


def _check_no_slack(marker: int, payload: bytes) -> None:
    """Refuse a kept segment that is longer than what it declares.

    Bytes past a table's or header's content are invisible to every decoder, so they are a
    place to hide text that a segment-level copy would carry along. libjpeg refuses such a
    file too ("Bogus marker length"), so no real encoder writes one: refusing (the file is
    kept, reported not cleaned) loses nothing.
    """
    if marker in _SOF_MARKERS:
        used = 6 + 3 * payload[5] if len(payload) >= 6 else len(payload)
    elif marker == _SOS:
        used = 1 + 2 * payload[0] + 3 if payload else 0
    elif marker == _DRI:
        used = 2
    elif marker == _DQT:
        used = _dqt_length(payload)
    elif marker == _DHT:
        used = _dht_length(payload)
    else:
        return
    if used != len(payload):
        raise CorruptFileError("JPEG segment length does not match its content")


def _dqt_length(payload: bytes) -> int:
    pos = 0
    while pos < len(payload):
        precision = payload[pos] >> 4
        step = 1 + (128 if precision else 64)
        if pos + step > len(payload):
            return -1
        pos += step
    return pos


def _dht_length(payload: bytes) -> int:
    pos = 0
    while pos < len(payload):
        if pos + 17 > len(payload):
            return -1
        pos += 17 + sum(payload[pos + 1 : pos + 17])
    return pos


def _note_app(layout: JpegLayout, marker: int, payload: bytes, segment: bytes) -> None:
    if marker == _APP0 and payload.startswith(_JFIF_ID) and len(payload) >= 14:
        layout.had_jfif = True
        if segment != CANONICAL_JFIF:
            thumb_w, thumb_h = payload[12], payload[13]
            if thumb_w * thumb_h or len(payload) > 14:
                _add(layout.removed, "jfif:thumbnail")
        return
    if marker == _APP14 and payload.startswith(_ADOBE_ID) and len(payload) >= 12:
        if layout.adobe_transform is None:
            layout.adobe_transform = payload[11] if payload[11] <= 2 else 0
        if segment not in _CANONICAL_ADOBES:
            _add(layout.removed, "jpeg:APP14")
        return
    if marker == _APP1 and payload[:6] in _EXIF_IDS:
        first_exif = not layout.saw_exif
        layout.saw_exif = True
        if segment in _CANONICAL_EXIFS and first_exif:
            # Our own orientation-only EXIF: not metadata (it is what `rebuild_jpeg` writes).
            layout.canonical_exif = True
            layout.orientation = payload[6 + 8 + 2 + 8 + 1]
            return
        if first_exif:
            layout.orientation = exif_orientation(payload[6:])
        for name in exif_field_names(payload[6:]):
            _add(layout.removed, name)
        return
    for name in _app_names(marker, payload):
        _add(layout.removed, name)


def _skip_entropy_data(data: bytes, pos: int) -> int:
    """Return the offset of the first marker after a scan's entropy-coded data.

    Inside the data 0xFF is followed by 0x00 (a stuffed byte), by RSTn (restart markers are
    part of the scan) or by more 0xFF fill bytes; anything else starts the next marker.
    """
    size = len(data)
    while True:
        ff = data.find(b"\xff", pos)
        if ff < 0:
            raise CorruptFileError("truncated JPEG scan (no end marker)")
        after = ff + 1
        while after < size and data[after] == 0xFF:
            after += 1
        if after >= size:
            raise CorruptFileError("truncated JPEG scan (no end marker)")
        follower = data[after]
        if follower == 0x00 or follower in _RST_MARKERS:
            pos = after + 1
            continue
        return ff


def rebuild_jpeg(untrusted_data: bytes, layout: JpegLayout, *, keep_orientation: bool) -> bytes:
    """Write the cleaned file: canonical headers, then the kept segments byte for byte."""
    parts = [b"\xff\xd8"]
    if layout.had_jfif:
        parts.append(CANONICAL_JFIF)
    if keep_orientation and layout.orientation != 1:
        parts.append(canonical_orientation_exif(layout.orientation))
    if layout.adobe_transform is not None:
        parts.append(_canonical_adobe(layout.adobe_transform))
    parts.extend(untrusted_data[start:end] for start, end in layout.kept)
    parts.append(b"\xff\xd9")
    return b"".join(parts)


def strip_jpeg(
    untrusted_data: bytes, *, keep_orientation: bool = False, max_pixels: int | None = None
) -> tuple[bytes, list[str]]:
    """Remove every metadata segment of a JPEG losslessly; return (jpeg, removed names).

    The entropy-coded data and every table are kept byte for byte, so the decoded pixels are
    identical. ``keep_orientation`` adds a fresh EXIF with only the orientation tag (for
    JPEG files; PDF viewers ignore EXIF, so JPEG streams inside PDFs do not need it).

    Raises `CorruptFileError` (unreadable or truncated) or `LimitExceededError` (frame
    larger than ``max_pixels``).
    """
    layout = walk_jpeg(untrusted_data, max_pixels=max_pixels)
    removed = list(layout.removed)
    if not keep_orientation and layout.canonical_exif:
        removed.append("exif:Orientation")
    return rebuild_jpeg(untrusted_data, layout, keep_orientation=keep_orientation), removed
