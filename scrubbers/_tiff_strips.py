"""How many bytes of a TIFF strip or tile its decoder reads (issue 10).

A strip's byte count may be larger than what its pixels need: libtiff reads the rows the
image has (uncompressed), or stops at the end of the compressed stream (Deflate, LZW,
PackBits, JPEG), and never looks at the rest. Those bytes are free room for anything, so the
TIFF writer (`scrubbers._tiff`) copies only what is read. Where the end cannot be found
without decoding the pixels (CCITT fax and the rarer schemes), the page is converted from
what libtiff decodes instead (`scrubbers._tiff.ConvertFromPixels`).
"""

from __future__ import annotations

from dataclasses import dataclass

from scrubbers._image_common import zlib_stream_end
from scrubbers._jpeg_segments import strip_jpeg
from scrubbers.errors import CorruptFileError

_NONE = 1
_LZW = 5
_DEFLATE = frozenset({8, 32946})
_PACKBITS = 32773
_JPEG = 7
_YCBCR = 6
_LZW_CLEAR = 256
_LZW_END = 257


@dataclass(frozen=True)
class StripLayout:
    """The fields of a page that say how much image data each strip or tile holds."""

    width: int
    height: int
    bits_per_sample: tuple[int, ...]
    planar: int  # 1: samples interleaved, 2: one plane per sample
    rows_per_strip: int
    tile: tuple[int, int] | None  # (width, length) for a tiled page
    compression: int
    photometric: int
    subsampling: tuple[int, int]  # YCbCr (horizontal, vertical)

    def strip_count_per_plane(self) -> int:
        if self.tile is not None:
            across = -(-self.width // self.tile[0])
            down = -(-self.height // self.tile[1])
            return across * down
        return -(-self.height // max(1, self.rows_per_strip))

    def decoded_size(self, index: int) -> int:
        """The bytes strip (or tile) `index` decodes to, as libtiff computes them."""
        per_plane = self.strip_count_per_plane()
        if self.tile is not None:
            width, rows = self.tile
        else:
            width = self.width
            first_row = (index % per_plane) * self.rows_per_strip
            rows = max(0, min(self.rows_per_strip, self.height - first_row))
        if self.planar == 2:
            bits = self.bits_per_sample[min(index // per_plane, len(self.bits_per_sample) - 1)]
            return -(-width * bits // 8) * rows
        horizontal, vertical = self.subsampling
        if self.photometric == _YCBCR and (horizontal, vertical) != (1, 1):
            # Chunky YCbCr: blocks of horizontal x vertical luma samples and two chroma.
            bits = self.bits_per_sample[0]
            block_samples = horizontal * vertical + 2
            row_size = -(-(-(-width // horizontal) * block_samples * bits) // 8)
            return -(-rows // vertical) * row_size
        return -(-width * sum(self.bits_per_sample) // 8) * rows

    def kept_data(self, index: int, strip: bytes, removed: list[str]) -> bytes:
        """What of strip (or tile) `index` is written: the bytes its decoder reads. A JPEG
        strip is a JPEG stream of its own (tables perhaps in JPEGTables): its segments are
        walked like a JPEG file's, comments and APPn dropped, cut after its end marker."""
        if self.compression == _JPEG:
            try:
                cleaned, names = strip_jpeg(strip)
            except CorruptFileError:
                return strip  # libtiff's reading of it is not this walker's: kept whole
            removed.extend(name for name in names if name not in removed)
            return cleaned
        if self.compression == _LZW:
            return _lzw_kept(strip, self.decoded_size(index), removed)
        return strip[: self.used_length(index, strip)]

    def used_length(self, index: int, strip: bytes) -> int:
        """How many leading bytes of `strip` the decoder reads; all of them when unknown
        (LZW: `_lzw_kept`, whose last byte is rewritten)."""
        if self.compression == _NONE:
            return min(len(strip), self.decoded_size(index))
        if self.compression in _DEFLATE:
            try:
                end = zlib_stream_end([strip])
            except CorruptFileError:
                return len(strip)  # undecodable: kept whole, as libtiff reads what it can
            return len(strip) if end is None else end[1]
        if self.compression == _PACKBITS:
            return _packbits_length(strip, self.decoded_size(index))
        return len(strip)


def _packbits_length(strip: bytes, wanted: int) -> int:
    """The bytes of a PackBits strip read until `wanted` bytes are decoded."""
    pos = decoded = 0
    while decoded < wanted and pos < len(strip):
        header = strip[pos]
        if header < 128:
            decoded += header + 1
            pos += header + 2
        elif header > 128:
            decoded += 257 - header
            pos += 2
        else:
            pos += 1  # -128: no operation
    return min(pos, len(strip))


def _lzw_kept(strip: bytes, wanted: int, removed: list[str]) -> bytes:
    """The codes of an LZW strip libtiff reads, then its end code, then zero bits to the
    byte: what follows the last code that decodes a pixel is read by no decoder once the
    rows are complete, so its bits (an end code, or anything) were free for any data.
    The end code is kept as the writer wrote it when it is one of the forms libtiff writes
    (2 bits of choice at most), written at the decoder's width otherwise."""
    end = _lzw_end(strip, wanted)
    if end is None:
        return strip
    data_bits, end_codes = end
    at, partial = divmod(data_bits, 8)
    tail = strip[at] >> (8 - partial) if partial else 0
    bits = partial
    for code, width in end_codes:
        tail = (tail << width) | code
        bits += width
    spare = -bits % 8
    kept = strip[:at] + (tail << spare).to_bytes((bits + spare) // 8, "big")
    if kept != strip[: len(kept)] and "tiff:data-after-image" not in removed:
        removed.append("tiff:data-after-image")
    return kept


def _lzw_end(strip: bytes, wanted: int) -> tuple[int, list[tuple[int, int]]] | None:
    """Where the codes of a TIFF LZW strip that libtiff decodes end (at the
    end-of-information code, or once `wanted` bytes are decoded), in bits, and the end
    codes (code, width) to write after them. Only the code widths and string lengths are
    followed, never the strings. None (all of it kept) for old-style (bit-reversed) LZW,
    malformed codes and a stream that runs to the strip's end."""
    if strip[:1] == b"\x00" and len(strip) > 1 and strip[1] & 1:
        return None  # libtiff's test for the old, LSB-first, LZW
    padded = strip + bytes(3)  # a code (9..12 bits) lies within three bytes
    total_bits = len(strip) * 8
    lengths = [1] * 258 + [0] * (4096 - 258)
    bit = 0
    width, mask, widen_at = 9, 511, 511
    free = 258
    previous = -1  # -1: the first code after a clear, which adds no string
    decoded = 0
    # One step per code, kept to plain integer operations: a scan's strips run to
    # millions of codes.
    while decoded < wanted:
        if bit + width > total_bits:
            return None  # the stream runs to the strip's end
        at = bit >> 3
        window = (padded[at] << 16) | (padded[at + 1] << 8) | padded[at + 2]
        code = (window >> (24 - (bit & 7) - width)) & mask
        bit += width
        if code == _LZW_END:
            return bit - width, [(_LZW_END, width)]
        if code == _LZW_CLEAR:
            width, mask, widen_at, free, previous = 9, 511, 511, 258, -1
            continue
        if previous >= 0:
            if code > free or free >= 4096:
                return None
            lengths[free] = lengths[previous] + 1
            free += 1
            # libtiff widens the codes one entry early (at 511, 1023, 2047).
            if free >= widen_at and width < 12:
                width += 1
                mask = widen_at = (1 << width) - 1
        elif code >= 258:
            return None
        decoded += lengths[code]
        previous = code
    return bit, _end_codes(padded, bit, width)


def _end_codes(padded: bytes, bit: int, width: int) -> list[tuple[int, int]]:
    """Decoding stopped on the size: the end code found after it, in one of the forms
    libtiff's encoder writes (one bit wider when its table just grew, or after a clear code
    at the old width when its table just filled); else one at the decoder's width."""
    for end_width in (width, min(width + 1, 12)):
        code = _lzw_code(padded, bit, end_width)
        if code == _LZW_END:
            return [(_LZW_END, end_width)]
        if code == _LZW_CLEAR and _lzw_code(padded, bit + end_width, 9) == _LZW_END:
            return [(_LZW_CLEAR, end_width), (_LZW_END, 9)]
    return [(_LZW_END, width)]


def _lzw_code(padded: bytes, bit: int, width: int) -> int:
    """The `width`-bit code at bit `bit` (most significant first)."""
    window = int.from_bytes(padded[bit // 8 : bit // 8 + 3].ljust(3, b"\x00"), "big")
    return (window >> (24 - bit % 8 - width)) & ((1 << width) - 1)
