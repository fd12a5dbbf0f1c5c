"""A pure JPEG marker walker and a lossless stripper (no pixel is decoded).

Used for JPEG files (`scrubbers.jpeg`), for JPEG streams inside PDFs (``DCTDecode``) and
for a JPEG TIFF's strips and tables (`scrubbers._tiff`).
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

EXIF fields are named by the IFD walker of `scrubbers._exif`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scrubbers._exif import exif_field_names, exif_orientation
from scrubbers.errors import CorruptFileError, LimitExceededError

__all__ = [
    "JpegLayout",
    "canonical_orientation_exif",
    "rebuild_jpeg",
    "strip_jpeg",
    "strip_jpeg_tables",
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


def strip_jpeg_tables(untrusted_tables: bytes) -> tuple[bytes, list[str]]:
    """An abbreviated table-specification stream (a TIFF's JPEGTables: SOI, tables, EOI)
    with nothing but its tables, each checked for slack; return (stream, removed names).

    Raises `CorruptFileError` on anything else than markers and tables.
    """
    data = untrusted_tables
    if not data.startswith(b"\xff\xd8"):
        raise CorruptFileError("no JPEG start marker")
    parts = [b"\xff\xd8"]
    removed: list[str] = []
    pos = 2
    while True:
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise CorruptFileError("bad JPEG tables")
        marker = data[pos + 1]
        if marker == _EOI:
            break
        length = _u16(data, pos + 2) if pos + 4 <= len(data) else 0
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise CorruptFileError("bad or truncated JPEG segment length")
        if marker in _TABLE_MARKERS:
            _check_no_slack(marker, data[pos + 4 : end])
            parts.append(data[pos:end])
        else:
            _add(removed, "jpeg:COM" if marker == _COM else f"jpeg:marker-0x{marker:02X}")
        pos = end
    if pos + 2 < len(data):
        _add(removed, "jpeg:trailing-data")
    parts.append(b"\xff\xd9")
    return b"".join(parts), removed
