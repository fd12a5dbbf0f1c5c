"""What the EMF and WMF cleaners share: the pass state, bounded reads, the DIB header check
and the zeroing of what lies past a string field's NUL."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from scrubbers._types import Limits
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

# Far more records than any real picture holds (complex charts have ~10^5); bounds the
# Python-level work and the bookkeeping on a hostile file made of tiny records.
MAX_RECORDS = 2_000_000

U16 = struct.Struct("<H")
U32 = struct.Struct("<I")

# --- DIB headers (MS-WMF 2.2.2.3 / BITMAPV5HEADER) -----------------------------------------

_BI_JPEG = 4
_BI_PNG = 5
_LCS_SRGB = 0x73524742  # 'sRGB'
_PROFILE_LINKED = 0x4C494E4B  # 'LINK': a file path to a profile
_PROFILE_EMBEDDED = 0x4D424544  # 'MBED': a whole ICC profile


@dataclass
class MetafileState:
    limits: Limits
    check_only: bool
    removed: set[str] = field(default_factory=set)
    records: int = 0
    output: bytes = b""
    dropped_emfplus: bool = False

    def count(self) -> None:
        self.records += 1
        if self.records > MAX_RECORDS:
            raise LimitExceededError("too many metafile records")


def u32(data: bytes | bytearray, offset: int) -> int:
    value: int = U32.unpack_from(data, offset)[0]
    return value


def u16(data: bytes | bytearray, offset: int) -> int:
    value: int = U16.unpack_from(data, offset)[0]
    return value


def nonzero(data: bytes | bytearray, start: int = 0) -> bool:
    # bytes.count runs in C: no per-byte Python work on a hostile multi-megabyte tail.
    return data.count(0, start) != max(len(data) - start, 0)


def pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


# --- shared record helpers ------------------------------------------------------------------


def clean_dib(record: bytearray, start: int, end: int, state: MetafileState, prefix: str) -> None:
    """Check the bitmap header at ``record[start:end]``; blank a V5 header's ICC profile.

    A DIB may be compressed as a whole JPEG or PNG file (BI_JPEG, BI_PNG: printer
    passthrough), which brings its own EXIF: not cleanable in place, so refused.
    """
    if end - start < 4:
        return
    header_size = u32(record, start)
    if header_size < 40 or start + 40 > end:
        return  # BITMAPCOREHEADER (12 bytes): sizes and bit depth only
    compression = u32(record, start + 16)
    if compression in (_BI_JPEG, _BI_PNG):
        raise UnsupportedTypeError("metafile bitmap holding a JPEG or PNG file")
    if header_size < 124 or start + 124 > end:
        return  # no profile fields before BITMAPV5HEADER
    cs_type = u32(record, start + 56)
    profile_offset = u32(record, start + 112)
    profile_size = u32(record, start + 116)
    if cs_type not in (_PROFILE_LINKED, _PROFILE_EMBEDDED) and not profile_size:
        return
    # A linked profile is a file path on the author's machine; an embedded one has free-text
    # description and copyright fields. The bitmap is drawn as sRGB instead.
    state.removed.add(f"{prefix}:color-profile")
    if profile_size:
        profile_start = start + profile_offset
        if profile_offset < 124 or profile_start + profile_size > len(record):
            raise CorruptFileError("bitmap colour profile outside its record")
        record[profile_start : profile_start + profile_size] = bytes(profile_size)
    U32.pack_into(record, start + 56, _LCS_SRGB)
    U32.pack_into(record, start + 112, 0)
    U32.pack_into(record, start + 116, 0)


def zero_after_nul(record: bytearray, start: int, length: int, width: int) -> bool:
    """Zero what follows the terminating NUL of a fixed-size string field.

    Writers copy these fields from uninitialised buffers: what lies past the NUL is never
    shown, and may be any memory of the author's process (paths, names, other documents).
    Returns whether anything non-zero was there.
    """
    end = min(start + length, len(record))
    position = start
    while position + width <= end:
        if record[position : position + width] == b"\x00" * width:
            break
        position += width
    tail = record[position:end]
    if tail.count(0) == len(tail):
        return False
    record[position:end] = bytes(len(tail))
    return True
