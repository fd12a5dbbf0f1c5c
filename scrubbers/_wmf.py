"""WMF (MS-WMF), with or without its placeable header: every record walked, identifying ones
cleaned or removed, drawing records copied byte for byte (`scrubbers.metafile`)."""

from __future__ import annotations

import struct

from scrubbers._metafile_records import (
    U16,
    U32,
    MetafileState,
    clean_dib,
    nonzero,
    u16,
    u32,
    zero_after_nul,
)
from scrubbers.errors import CorruptFileError

# --- WMF record functions (MS-WMF 2.1.1.1) -------------------------------------------------

_META_EOF = 0x0000
_META_ESCAPE = 0x0626
_META_CREATEFONTINDIRECT = 0x02FB
_META_DIBCREATEPATTERNBRUSH = 0x0142
_BS_PATTERN = 3
_MFCOMMENT = 0x000F
_META_KNOWN = {
    0x0000, 0x0035, 0x0037, 0x0102, 0x0103, 0x0104, 0x0105, 0x0106, 0x0107, 0x0108, 0x0127,
    0x0139, 0x0142, 0x0149, 0x0201, 0x0209, 0x020A, 0x020B, 0x020C, 0x020D, 0x020E, 0x020F,
    0x0211, 0x0213, 0x0214, 0x0220, 0x0228, 0x0231, 0x0234, 0x0324, 0x0325, 0x0410, 0x0412,
    0x0415, 0x0416, 0x0418, 0x0419, 0x041B, 0x041F, 0x0429, 0x0436, 0x0521, 0x0538, 0x0548,
    0x061C, 0x061D, 0x001E, 0x081A, 0x0B23, 0x0626, 0x012A, 0x012B, 0x012C, 0x012D, 0x012E,
    0x0817, 0x0830, 0x0922, 0x0A32, 0x0D33, 0x0940, 0x0B41, 0x0F43, 0x01F0, 0x00F7, 0x01F9,
    0x02FA, 0x02FB, 0x02FC, 0x06FF,
    # Obsolete, but they create objects: dropping one would shift every later object index.
    0x00F8, 0x02FD, 0x06FE,
    0x062F,  # DRAWTEXT (Windows 3.0), visible text
}  # fmt: skip
# Records with a DIB: function -> (offset of the DIB in the record, size in words of the
# record variant *without* a bitmap, or 0 when there is none).
_META_DIB: dict[int, tuple[int, int]] = {
    0x0940: (22, 12),  # DIBBITBLT
    0x0B41: (26, 14),  # DIBSTRETCHBLT
    0x0F43: (28, 0),  # STRETCHDIB
    0x0D33: (24, 0),  # SETDIBTODEV
    0x0142: (10, 0),  # DIBCREATEPATTERNBRUSH
}
_WMF_PLACEABLE_KEY = 0x9AC6CDD7
_WMF_PLACEABLE_SIZE = 22
_WMF_HEADER_SIZE = 18


def clean_wmf(untrusted_data: bytes, state: MetafileState) -> bytes:
    data = untrusted_data
    size = len(data)
    placeable = b""
    position = 0
    if size >= 4 and u32(data, 0) == _WMF_PLACEABLE_KEY:
        if size < _WMF_PLACEABLE_SIZE + _WMF_HEADER_SIZE:
            raise CorruptFileError("truncated WMF header")
        head = bytearray(data[:_WMF_PLACEABLE_SIZE])
        if u16(head, 4) or u32(head, 16):
            # HWmf and Reserved must be zero: anything there was put by the writer.
            state.removed.add("wmf:header-slack")
        U16.pack_into(head, 4, 0)
        U32.pack_into(head, 16, 0)
        checksum = 0
        for word in struct.unpack_from("<10H", head):
            checksum ^= word
        U16.pack_into(head, 20, checksum)
        placeable = bytes(head)
        position = _WMF_PLACEABLE_SIZE
    if size < position + _WMF_HEADER_SIZE:
        raise CorruptFileError("truncated WMF header")
    header = bytearray(data[position : position + _WMF_HEADER_SIZE])
    kind, header_words, version = struct.unpack_from("<3H", header)
    if kind not in (1, 2) or header_words != 9 or version not in (0x0100, 0x0300):
        raise CorruptFileError("not a WMF header")
    if u16(header, 16):
        state.removed.add("wmf:header-slack")  # NumberOfMembers: must be 0
    position += _WMF_HEADER_SIZE

    pieces: list[bytes] = []
    run_start = position
    largest = 0
    saw_eof = False
    while position < size:
        if position + 6 > size:
            raise CorruptFileError("truncated WMF record")
        words, function = u32(data, position), u16(data, position + 4)
        # Sizes count 16-bit words; a record shorter than its own header would loop.
        if words < 3 or words > (size - position) // 2:
            raise CorruptFileError("bad WMF record size")
        state.count()
        length = 2 * words
        replacement = _wmf_record(data, position, length, function, state)
        if replacement is not None:
            pieces.append(data[run_start:position])
            pieces.append(replacement)
            run_start = position + length
        if replacement is None:
            largest = max(largest, words)
        elif replacement:
            largest = max(largest, len(replacement) // 2)
        position += length
        if function == _META_EOF:
            saw_eof = True
            break
    if not saw_eof:
        raise CorruptFileError("WMF without an end-of-file record")
    pieces.append(data[run_start:position])
    if nonzero(data, position):
        state.removed.add("wmf:trailing-data")
    body = b"".join(pieces)
    U32.pack_into(header, 6, (_WMF_HEADER_SIZE + len(body)) // 2)  # Size, in words
    U32.pack_into(header, 12, largest)  # MaxRecord, in words
    U16.pack_into(header, 16, 0)
    return placeable + bytes(header) + body


def _wmf_record(
    data: bytes, position: int, length: int, function: int, state: MetafileState
) -> bytes | None:
    """None to keep the record unchanged, else its replacement (b"": dropped)."""
    if function == _META_ESCAPE:
        # MFCOMMENT holds anything (including a whole EMF copy of the picture); printer
        # escapes hold driver data (PostScript passthrough, document names): drop both.
        escape = u16(data, position + 6) if length >= 8 else None
        state.removed.add("wmf:comment" if escape == _MFCOMMENT else "wmf:escape")
        return b""
    if function not in _META_KNOWN:
        state.removed.add("wmf:unknown-record")
        return b""
    record = bytearray(data[position : position + length])
    if function == _META_CREATEFONTINDIRECT:
        if zero_after_nul(record, 24, 32, 1):
            state.removed.add("wmf:font-name-slack")
    elif function in _META_DIB:
        dib_offset, plain_words = _META_DIB[function]
        if function == _META_DIBCREATEPATTERNBRUSH and u16(record, 6) == _BS_PATTERN:
            return None  # a BS_PATTERN brush holds a Bitmap16 (bits only), not a DIB
        if plain_words == 0 or length // 2 != plain_words:
            clean_dib(record, dib_offset, length, state, "wmf")
    else:
        return None
    if record == data[position : position + length]:
        return None
    return bytes(record)
