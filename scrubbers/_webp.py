"""WebP (RIFF): the bitstream chunks, animation, and the orientation alone in a fresh EXIF."""

from __future__ import annotations

from scrubbers._exif import exif_field_names
from scrubbers._image_common import (
    CANONICAL_ORIENTATION_TIFFS,
    MAX_CHUNKS,
    XMP_ORIENTATION,
    add_name,
    check_pixels,
    orientation_tiff,
    pillow_exif_orientation,
    safe_tag,
    shown_orientation,
)
from scrubbers._types import Limits
from scrubbers.errors import CorruptFileError, LimitExceededError

_WEBP_IMAGE = frozenset({b"VP8 ", b"VP8L", b"ALPH"})
_VP8X_KEEP_FLAGS = 0x12  # alpha, animation; ICC (0x20), EXIF (0x08), XMP (0x04) go
_VP8X_KNOWN_FLAGS = 0x3E
_VP8X_EXIF_FLAG = 0x08


def _webp_frame_size(fourcc: bytes, payload: bytes, limits: Limits) -> None:
    if fourcc == b"VP8 " and len(payload) >= 10 and payload[3:6] == b"\x9d\x01\x2a":
        width = int.from_bytes(payload[6:8], "little") & 0x3FFF
        height = int.from_bytes(payload[8:10], "little") & 0x3FFF
        check_pixels(width, height, limits)
    elif fourcc == b"VP8L" and len(payload) >= 5 and payload[0] == 0x2F:
        bits = int.from_bytes(payload[1:5], "little")
        check_pixels((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, limits)
    elif fourcc in (b"VP8 ", b"VP8L"):
        raise CorruptFileError("bad WebP bitstream header")


def _riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    # The pad byte is written as zero: a non-zero one would be a byte of hidden data.
    pad = b"\x00" if len(payload) & 1 else b""
    return fourcc + len(payload).to_bytes(4, "little") + payload + pad


def _riff_chunks(data: bytes, pos: int, end: int) -> list[tuple[bytes, bytes]]:
    chunks = []
    while pos < end:
        if pos + 8 > end:
            raise CorruptFileError("truncated WebP chunk")
        fourcc = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        stop = pos + 8 + length
        if stop > end:
            raise CorruptFileError("truncated WebP chunk")
        chunks.append((fourcc, data[pos + 8 : stop]))
        if len(chunks) > MAX_CHUNKS:
            raise LimitExceededError("too many WebP chunks")
        pos = stop + (length & 1)
    return chunks


def _webp_metadata_name(fourcc: bytes, payload: bytes) -> list[str]:
    if fourcc == b"EXIF":
        return exif_field_names(payload[6:] if payload.startswith(b"Exif\x00\x00") else payload)
    if fourcc == b"XMP ":
        return ["xmp"]
    if fourcc == b"ICCP":
        return ["icc:profile"]
    return [f"webp:{safe_tag(fourcc)}"]


def clean_webp(untrusted_data: bytes, limits: Limits) -> tuple[bytes, list[str]]:
    data = untrusted_data
    if len(data) < 12:
        raise CorruptFileError("truncated WebP")
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > len(data) or end < 12:
        raise CorruptFileError("truncated WebP")
    removed: list[str] = []
    out: list[bytes] = []
    has_image = False
    vp8x_at: int | None = None  # index in `out` of the extended header
    exif: bytes | None = None
    xmp: bytes | None = None
    for fourcc, payload in _riff_chunks(data, 12, end):
        if fourcc == b"VP8X":
            vp8x_at = len(out)
            if len(payload) < 10:
                raise CorruptFileError("bad WebP VP8X chunk")
            width = int.from_bytes(payload[4:7], "little") + 1
            height = int.from_bytes(payload[7:10], "little") + 1
            check_pixels(width, height, limits)
            flags = payload[0]
            if flags & ~_VP8X_KNOWN_FLAGS or payload[1:4] != b"\x00\x00\x00" or len(payload) > 10:
                add_name(removed, "webp:VP8X")
            out.append(
                _riff_chunk(b"VP8X", bytes([flags & _VP8X_KEEP_FLAGS, 0, 0, 0]) + payload[4:10])
            )
        elif fourcc in _WEBP_IMAGE:
            _webp_frame_size(fourcc, payload, limits)
            has_image = has_image or fourcc != b"ALPH"
            out.append(_riff_chunk(fourcc, payload))
        elif fourcc == b"ANIM":
            if len(payload) != 6:
                raise CorruptFileError("bad WebP ANIM chunk")
            out.append(_riff_chunk(fourcc, payload))
        elif fourcc == b"ANMF":
            out.append(_riff_chunk(fourcc, _clean_webp_frame(payload, removed, limits)))
            has_image = True
        else:
            if fourcc == b"EXIF" and exif is None:
                exif = payload  # libwebp's demuxer (Pillow's reader) gives the first
            elif fourcc == b"XMP " and xmp is None:
                xmp = payload
            if fourcc != b"EXIF" or payload not in CANONICAL_ORIENTATION_TIFFS:
                for name in _webp_metadata_name(fourcc, payload):
                    add_name(removed, name)
    if not has_image:
        raise CorruptFileError("WebP without image data")
    if end < len(data):
        add_name(removed, "webp:trailing-data")
    # The orientation Pillow applies (EXIF is read only with the extended header, whose EXIF
    # flag announces it): kept alone, in a fresh EXIF chunk at the end, where the container
    # specification puts it.
    orientation = 1
    if vp8x_at is not None:
        found = pillow_exif_orientation(exif) if exif is not None else None
        if found is None and xmp is not None and (match := XMP_ORIENTATION.search(xmp)):
            found = int(match[2])
        orientation = shown_orientation(found)
    if orientation != 1 and vp8x_at is not None:
        header = bytearray(out[vp8x_at])
        header[8] |= _VP8X_EXIF_FLAG
        out[vp8x_at] = bytes(header)
        out.append(_riff_chunk(b"EXIF", orientation_tiff(orientation)))
    body = b"WEBP" + b"".join(out)
    return b"RIFF" + len(body).to_bytes(4, "little") + body, removed


def _clean_webp_frame(payload: bytes, removed: list[str], limits: Limits) -> bytes:
    """An animation frame: 16 bytes of position/duration, then its own image chunks."""
    if len(payload) < 16:
        raise CorruptFileError("bad WebP animation frame")
    width = int.from_bytes(payload[6:9], "little") + 1
    height = int.from_bytes(payload[9:12], "little") + 1
    check_pixels(width, height, limits)
    parts = [payload[:16]]
    has_image = False
    for fourcc, sub in _riff_chunks(payload, 16, len(payload)):
        if fourcc in _WEBP_IMAGE:
            _webp_frame_size(fourcc, sub, limits)
            has_image = has_image or fourcc != b"ALPH"
            parts.append(_riff_chunk(fourcc, sub))
        else:
            for name in _webp_metadata_name(fourcc, sub):
                add_name(removed, name)
    if not has_image:
        raise CorruptFileError("WebP animation frame without image data")
    return b"".join(parts)
