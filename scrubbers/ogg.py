"""Ogg Vorbis, Ogg Opus and FLAC-in-Ogg, cleaned by writing the header packets again.

An Ogg stream is a run of pages, each with a checksum, that carry packets. The first
packets are headers: identification, then comments (Vorbis comments: artist, dates,
comments, pictures as ``METADATA_BLOCK_PICTURE`` or base64 ``COVERART``, and the encoder's
*vendor* string, an install fingerprint), then (Vorbis) the codebooks, or (FLAC) further
metadata blocks (pictures, application data, padding). The audio packets follow, each page
of them carrying its granule position.

The output is: the identification header (Opus: only the fields its version defines), an
empty comment header with an empty vendor, the codebooks (Vorbis) or no further block
(FLAC), on new pages; then every audio page with its body, granule and flags byte for byte,
renumbered, under a fixed stream serial, with its checksum computed again. The input's
checksums are checked first: a damaged page is not "repaired" into a valid one.

Only a single logical stream is cleaned; a multiplexed (several serials) or chained
(streams one after another) file is not, nor one that ends before its last page.
"""

from __future__ import annotations

import struct
import zlib

from scrubbers._audio_tags import AUDIO_NOTE, vorbis_comment_names
from scrubbers._types import Cleaned, Limits
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError
from scrubbers.flac import block_name

MAX_PAGES = 10_000_000
MAX_HEADER_PACKETS = 1_000
_PAGE = struct.Struct("<4sBBqIII B")
_PAGE_HEADER = 27
_CONTINUED, _BOS, _EOS = 1, 2, 4
# A constant serial: the encoder's random one would tie the cleaned file to its original.
_SERIAL = 0x4C44524F
_MAX_BODY = 255 * 255
_NO_GRANULE = -1
_REVERSED_BITS = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))
_U32 = struct.Struct("<I")


def _ogg_crc(page: bytes) -> int:
    # Ogg's CRC-32 is the unreflected one (polynomial 0x04C11DB7, no initial value, no final
    # xor); zlib's is the reflected one. Reflecting the input bytes and the result turns one
    # into the other, at zlib's speed.
    raw = ~zlib.crc32(page.translate(_REVERSED_BITS), 0xFFFFFFFF) & 0xFFFFFFFF
    return int(f"{raw:032b}"[::-1], 2)


class _Page:
    __slots__ = ("body", "flags", "granule", "lacing")

    def __init__(self, flags: int, granule: int, lacing: bytes, body: bytes) -> None:
        self.flags = flags
        self.granule = granule
        self.lacing = lacing
        self.body = body


def _read_pages(untrusted_data: bytes) -> tuple[list[_Page], list[str]]:
    pages: list[_Page] = []
    removed: list[str] = []
    offset = 0
    serial: int | None = None
    while offset < len(untrusted_data):
        if len(pages) >= MAX_PAGES:
            raise LimitExceededError("too many pages")
        if untrusted_data[offset : offset + 4] != b"OggS":
            if pages and pages[-1].flags & _EOS:
                removed.append("ogg:trailing-data")
                break
            raise CorruptFileError("damaged Ogg stream")
        if offset + _PAGE_HEADER > len(untrusted_data):
            raise CorruptFileError("truncated: page header past the end")
        _, version, flags, granule, page_serial, _, crc, count = _PAGE.unpack_from(
            untrusted_data, offset
        )
        lacing = untrusted_data[offset + _PAGE_HEADER : offset + _PAGE_HEADER + count]
        body_start = offset + _PAGE_HEADER + count
        body_end = body_start + sum(lacing)
        if len(lacing) < count or body_end > len(untrusted_data):
            raise CorruptFileError("truncated: a page ends past the file")
        if version != 0:
            raise CorruptFileError("unknown Ogg version")
        raw = bytearray(untrusted_data[offset:body_end])
        raw[22:26] = b"\x00\x00\x00\x00"
        if _ogg_crc(bytes(raw)) != crc:
            raise CorruptFileError("page checksum mismatch")
        if serial is None:
            if not flags & _BOS:
                raise CorruptFileError("no beginning-of-stream page")
            serial = page_serial
        elif page_serial != serial or flags & _BOS:
            if pages[-1].flags & _EOS:
                raise UnsupportedTypeError("chained Ogg streams")
            raise UnsupportedTypeError("multiplexed Ogg streams")
        elif pages[-1].flags & _EOS:
            raise CorruptFileError("page after the end of the stream")
        pages.append(_Page(flags, granule, lacing, untrusted_data[body_start:body_end]))
        offset = body_end
    if not pages or not pages[-1].flags & _EOS:
        raise CorruptFileError("truncated: the stream has no last page")
    return pages, removed


def _header_packets(pages: list[_Page]) -> tuple[list[bytes], int]:
    """The header packets and the index of the first audio page."""
    packets: list[bytes] = []
    current = bytearray()
    needed: int | None = None
    for index, page in enumerate(pages):
        if bool(page.flags & _CONTINUED) != bool(current):
            raise CorruptFileError("broken packet continuation")
        position = 0
        for lace in page.lacing:
            if needed is not None and len(packets) >= needed:
                # Audio must begin on a fresh page: a page mixing both is not one we rewrite.
                raise UnsupportedTypeError("audio on a header page")
            current += page.body[position : position + lace]
            position += lace
            if lace < 255:
                packets.append(bytes(current))
                current.clear()
                if len(packets) == 1:
                    needed = _header_count(packets[0])
        if needed is not None and len(packets) >= needed and not current:
            return packets, index + 1
        if len(packets) > MAX_HEADER_PACKETS:
            raise LimitExceededError("too many header packets")
    raise CorruptFileError("truncated: headers without audio")


def _header_count(first: bytes) -> int:
    if first[:7] == b"\x01vorbis":
        return 3
    if first[:8] == b"OpusHead":
        return 2
    if first[:5] == b"\x7fFLAC" and len(first) >= 9:
        count = int.from_bytes(first[7:9], "big")
        if count == 0:
            raise UnsupportedTypeError("FLAC-in-Ogg with an unknown number of headers")
        return 1 + count
    raise UnsupportedTypeError("not Vorbis, Opus or FLAC")


_EMPTY_COMMENTS = _U32.pack(0) + _U32.pack(0)


def _clean_headers(packets: list[bytes]) -> tuple[list[bytes], list[str]]:
    first = packets[0]
    if first[:7] == b"\x01vorbis":
        if len(first) != 30 or packets[1][:7] != b"\x03vorbis" or packets[2][:7] != b"\x05vorbis":
            raise CorruptFileError("bad Vorbis headers")
        removed = vorbis_comment_names(packets[1][7:])
        return [first, b"\x03vorbis" + _EMPTY_COMMENTS + b"\x01", packets[2]], removed
    if first[:8] == b"OpusHead":
        if len(first) < 19 or first[8] >> 4 != 0:
            raise UnsupportedTypeError("unknown Opus version")
        head_size = 19 if first[18] == 0 else 21 + first[9]
        if len(first) < head_size:
            raise CorruptFileError("short OpusHead")
        removed = ["opus:head-extra"] if len(first) > head_size else []
        tags = packets[1]
        if tags[:8] != b"OpusTags":
            raise CorruptFileError("no OpusTags")
        removed += vorbis_comment_names(tags[8:])
        if _comments_end(tags, 8) < len(tags):
            removed.append("opus:tags-extra")
        return [first[:head_size], b"OpusTags" + _EMPTY_COMMENTS], removed
    # FLAC: mapping header with STREAMINFO, then one metadata block per packet.
    if len(first) != 51 or first[9:13] != b"fLaC" or first[13] & 0x7F != 0:
        raise CorruptFileError("bad FLAC-in-Ogg header")
    removed = []
    for packet in packets[1:]:
        if len(packet) < 4:
            raise CorruptFileError("short metadata block")
        removed += block_name(packet[0] & 0x7F, packet[4:])
    mapping = first[:7] + b"\x00\x01" + first[9:13] + bytes([first[13] & 0x7F]) + first[14:]
    comment = bytes([0x84]) + len(_EMPTY_COMMENTS).to_bytes(3, "big") + _EMPTY_COMMENTS
    return [mapping, comment], removed


def _comments_end(packet: bytes, offset: int) -> int:
    """Where a Vorbis comment block starting at `offset` ends (for data after it)."""
    vendor = _U32.unpack_from(packet, offset)[0] if offset + 4 <= len(packet) else 0
    offset += 4 + vendor
    if offset + 4 > len(packet):
        return len(packet)
    count = _U32.unpack_from(packet, offset)[0]
    offset += 4
    for _ in range(count):
        if offset + 4 > len(packet):
            return len(packet)
        offset += 4 + _U32.unpack_from(packet, offset)[0]
    return min(offset, len(packet))


def _page(flags: int, granule: int, sequence: int, lacing: bytes, body: bytes) -> bytes:
    header = _PAGE.pack(b"OggS", 0, flags, granule, _SERIAL, sequence, 0, len(lacing))
    page = header + lacing + body
    return page[:22] + _U32.pack(_ogg_crc(page)) + page[26:]


def _packet_pages(packet: bytes, flags: int, sequence: int) -> list[bytes]:
    """One packet on pages of its own, from `sequence` on (granule 0 where it ends)."""
    lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
    pages: list[bytes] = []
    position = 0
    for start in range(0, len(lacing), 255):
        chunk = lacing[start : start + 255]
        size = sum(chunk)
        last = start + 255 >= len(lacing)
        page_flags = flags if start == 0 else _CONTINUED
        granule = 0 if last else _NO_GRANULE
        pages.append(
            _page(
                page_flags,
                granule,
                sequence + len(pages),
                chunk,
                packet[position : position + size],
            )
        )
        position += size
    return pages


def _clean(untrusted_data: bytes) -> tuple[bytes, list[str]]:
    pages, removed = _read_pages(untrusted_data)
    packets, first_audio = _header_packets(pages)
    headers, header_removed = _clean_headers(packets)
    removed += header_removed
    out: list[bytes] = []
    for index, packet in enumerate(headers):
        out += _packet_pages(packet, _BOS if index == 0 else 0, len(out))
    for page in pages[first_audio:]:
        if page.flags & _BOS:
            raise CorruptFileError("beginning-of-stream page among the audio")
        out.append(_page(page.flags, page.granule, len(out), page.lacing, page.body))
    return b"".join(out), removed


class OggScrubber:
    file_types = ("ogg", "opus")

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        return _clean(untrusted_data)[1]

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        data, removed = _clean(untrusted_data)
        return Cleaned(data, tuple(removed), note=AUDIO_NOTE)
