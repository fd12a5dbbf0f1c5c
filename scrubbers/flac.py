"""FLAC, cleaned by writing its metadata blocks again with an allowlist.

A FLAC file is ``fLaC``, metadata blocks, then audio frames. Blocks that carry who and
where: ``VORBIS_COMMENT`` (artist, title, dates, comments, the encoder's vendor string),
``PICTURE`` (cover art: a whole JPEG or PNG with its own EXIF), ``APPLICATION`` (private data
of any program), ``CUESHEET``, ``PADDING`` (room for later tags: whatever bytes a writer left),
and taggers' ID3v2 in front and ID3v1/APE behind. Kept: ``STREAMINFO`` (required, first)
only. ``SEEKTABLE`` goes too: its points are free 18-byte records no player checks against
the frames (a writer could put anything there), and players seek without it. The frames
are copied byte for byte.
"""

from __future__ import annotations

from scrubbers._audio_tags import (
    AUDIO_NOTE,
    leading_id3v2,
    strip_trailing_tags,
    vorbis_comment_names,
)
from scrubbers._ranges import Data, Piece, PiecesScrubber
from scrubbers.errors import CorruptFileError, LimitExceededError

MAX_BLOCKS = 10_000
_STREAMINFO = 0
_VORBIS_COMMENT = 4
_BLOCK_NAMES = {
    1: "flac:padding",
    2: "flac:application",
    3: "flac:seektable",
    5: "flac:cuesheet",
    6: "flac:picture",
}
_STREAMINFO_SIZE = 34


def block_name(block_type: int, body: bytes) -> list[str]:
    """Report names for a metadata block that is not kept."""
    if block_type == _VORBIS_COMMENT:
        return vorbis_comment_names(body)  # an empty one (no vendor, no field) held nothing
    if block_type == 1 and not body.strip(b"\x00"):
        return []  # zeros: nothing was in it
    return [_BLOCK_NAMES.get(block_type, f"flac:block-{block_type}")]


# Where the last frame may start, counted back from the end: far more than any real frame
# (STREAMINFO's maximum frame size, when known, bounds it more tightly).
_MAX_FRAME_BYTES = 4 * 1024 * 1024


def _crc_table(polynomial: int, width: int) -> tuple[int, ...]:
    top = 1 << (width - 1)
    mask = (1 << width) - 1
    table = []
    for byte in range(256):
        crc = byte << (width - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ polynomial) & mask if crc & top else (crc << 1) & mask
        table.append(crc)
    return tuple(table)


_CRC8 = _crc_table(0x07, 8)
_CRC16 = _crc_table(0x8005, 16)


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = _CRC8[crc ^ byte]
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[(crc >> 8) ^ byte]
    return crc


def _frame_header_ok(frames: bytes, offset: int) -> bool:
    """Whether a valid frame header (its CRC-8 included) starts at `offset`."""
    header = frames[offset : offset + 16]
    if len(header) < 6 or header[0] != 0xFF or header[1] & 0xFE != 0xF8:
        return False
    block_code, rate_code = header[2] >> 4, header[2] & 0x0F
    if block_code == 0 or rate_code == 15 or header[3] & 0x01 or (header[3] >> 4) > 10:
        return False
    # The frame or sample number, UTF-8 style: the first byte's leading ones give the
    # length (none: one byte; a single one is a continuation byte, invalid here).
    ones = (~header[4] & 0xFF).bit_length()
    leading = 8 - ones
    if leading == 1 or leading > 7:
        return False
    length = max(leading, 1)
    position = 4 + length
    position += {6: 1, 7: 2}.get(block_code, 0) + {12: 1, 13: 2, 14: 2}.get(rate_code, 0)
    if position >= len(header):
        return False
    return _crc8(header[:position]) == header[position]


def _check_last_frame(frames: bytes, max_frame: int) -> None:
    """A file cut inside its last frame fails that frame's CRC-16: not cleaned then."""
    window = max_frame + 16 if max_frame else _MAX_FRAME_BYTES
    offset = len(frames)
    floor = max(0, len(frames) - window)
    while offset > floor:
        offset = frames.rfind(b"\xff", floor, offset)
        if offset < 0:
            break
        if _frame_header_ok(frames, offset) and _crc16(frames[offset:-2]) == int.from_bytes(
            frames[-2:], "big"
        ):
            return
    raise CorruptFileError("truncated: the last frame is cut")


def _clean(untrusted_data: Data) -> tuple[list[Piece], list[str]]:
    start, removed = leading_id3v2(untrusted_data)
    if untrusted_data[start : start + 4] != b"fLaC":
        raise CorruptFileError("no FLAC signature")
    offset = start + 4
    kept: list[tuple[int, bytes]] = []
    for _ in range(MAX_BLOCKS):
        header = untrusted_data[offset : offset + 4]
        if len(header) < 4:
            raise CorruptFileError("truncated metadata")
        last = header[0] & 0x80
        block_type = header[0] & 0x7F
        size = int.from_bytes(header[1:4], "big")
        body = untrusted_data[offset + 4 : offset + 4 + size]
        if len(body) < size:
            raise CorruptFileError("truncated metadata block")
        if not kept:
            if block_type != _STREAMINFO or size != _STREAMINFO_SIZE:
                raise CorruptFileError("STREAMINFO is not the first block")
            kept.append((block_type, body))
        elif block_type in (_STREAMINFO, 127):
            raise CorruptFileError("invalid metadata block")
        else:
            removed += block_name(block_type, body)
        offset += 4 + size
        if last:
            break
    else:
        raise LimitExceededError("too many metadata blocks")
    end, trailing = strip_trailing_tags(untrusted_data, offset, len(untrusted_data))
    removed += trailing
    # Every frame header starts with the 14-bit sync code 0b11111111111110.
    first = untrusted_data[offset : offset + 2]
    if end - offset < 2 or first[0] != 0xFF or first[1] & 0xFE != 0xF8:
        raise CorruptFileError("truncated: no audio frames after the metadata")
    max_frame = int.from_bytes(kept[0][1][7:10], "big")
    # Only the end is read: the frames themselves are copied as one range.
    window = max_frame + 16 if max_frame else _MAX_FRAME_BYTES
    _check_last_frame(untrusted_data[max(offset, end - window) : end], max_frame)
    out: list[Piece] = [b"fLaC"]
    for index, (block_type, body) in enumerate(kept):
        flag = 0x80 if index == len(kept) - 1 else 0
        out.append(bytes([flag | block_type]) + len(body).to_bytes(3, "big") + body)
    out.append((offset, end))
    return out, removed


class FlacScrubber(PiecesScrubber):
    file_types = ("flac",)
    note = AUDIO_NOTE

    def pieces(self, untrusted_data: Data) -> tuple[list[Piece], list[str]]:
        return _clean(untrusted_data)
