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
checksums are checked too: a damaged page is not "repaired" into a valid one.

Every page changes (its serial, hence its checksum), so no input range is copied as is: the
stream is walked one page at a time, in RAM or by ranges (`RangeSource`) for a large file,
and written out in chunks, with memory that does not grow with the file (only the header
packets are held, as they are written again).

Only a single logical stream is cleaned; a multiplexed (several serials) or chained
(streams one after another) file is not, nor one that ends before its last page.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from scrubbers._audio_tags import AUDIO_NOTE, vorbis_comment_names
from scrubbers._ranges import BytesSink, Data, RangeSource, Sink
from scrubbers._types import Cleaned, Limits
from scrubbers.errors import (
    CorruptFileError,
    LimitExceededError,
    ScrubError,
    UnsupportedTypeError,
)
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
# Output pages are handed to the sink in runs of about this size: one write a page would be
# one message to the parent for every few KiB of a large file.
_WRITE_BYTES = 1024 * 1024


def _ogg_crc(*parts: bytes) -> int:
    """The checksum of a page given in parts (header, lacing, body: never joined)."""
    # Ogg's CRC-32 is the unreflected one (polynomial 0x04C11DB7, no initial value, no final
    # xor); zlib's is the reflected one. Reflecting the input bytes and the result turns one
    # into the other, at zlib's speed.
    crc = 0xFFFFFFFF
    for part in parts:
        crc = zlib.crc32(part.translate(_REVERSED_BITS), crc)
    return int(f"{~crc & 0xFFFFFFFF:032b}"[::-1], 2)


class _Page:
    __slots__ = ("body", "flags", "granule", "lacing")

    def __init__(self, flags: int, granule: int, lacing: bytes, body: bytes) -> None:
        self.flags = flags
        self.granule = granule
        self.lacing = lacing
        self.body = body


class _PageWalk:
    """The pages of the one logical stream, each checked as it is read, one at a time."""

    def __init__(self, untrusted_data: Data) -> None:
        self._data = untrusted_data
        self.trailing_data = False

    def __iter__(self) -> Iterator[_Page]:
        data = self._data
        offset = 0
        count = 0
        serial: int | None = None
        last_flags = 0
        while offset < len(data):
            if count >= MAX_PAGES:
                raise LimitExceededError("too many pages")
            header = data[offset : offset + _PAGE_HEADER]
            if header[:4] != b"OggS":
                if count and last_flags & _EOS:
                    self.trailing_data = True
                    break
                raise CorruptFileError("damaged Ogg stream")
            if len(header) < _PAGE_HEADER:
                raise CorruptFileError("truncated: page header past the end")
            _, version, flags, granule, page_serial, _, crc, segments = _PAGE.unpack(header)
            lacing = data[offset + _PAGE_HEADER : offset + _PAGE_HEADER + segments]
            body_start = offset + _PAGE_HEADER + segments
            body_end = body_start + sum(lacing)
            if len(lacing) < segments or body_end > len(data):
                raise CorruptFileError("truncated: a page ends past the file")
            if version != 0:
                raise CorruptFileError("unknown Ogg version")
            body = data[body_start:body_end]
            if _ogg_crc(header[:22], b"\x00\x00\x00\x00", header[26:], lacing, body) != crc:
                raise CorruptFileError("page checksum mismatch")
            if serial is None:
                if not flags & _BOS:
                    raise CorruptFileError("no beginning-of-stream page")
                serial = page_serial
            elif page_serial != serial or flags & _BOS:
                if last_flags & _EOS:
                    raise UnsupportedTypeError("chained Ogg streams")
                raise UnsupportedTypeError("multiplexed Ogg streams")
            elif last_flags & _EOS:
                raise CorruptFileError("page after the end of the stream")
            count += 1
            last_flags = flags
            yield _Page(flags, granule, lacing, body)
            offset = body_end
        if not count or not last_flags & _EOS:
            raise CorruptFileError("truncated: the stream has no last page")


class _HeaderPackets:
    """The header packets, gathered from the first pages until the last one is whole."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []
        self._current = bytearray()
        self._needed: int | None = None

    def complete(self) -> bool:
        return self._needed is not None and len(self.packets) >= self._needed

    def add(self, page: _Page) -> None:
        if bool(page.flags & _CONTINUED) != bool(self._current):
            raise CorruptFileError("broken packet continuation")
        position = 0
        for lace in page.lacing:
            if self.complete():
                # Audio must begin on a fresh page: a page mixing both is not one we rewrite.
                raise UnsupportedTypeError("audio on a header page")
            self._current += page.body[position : position + lace]
            position += lace
            if lace < 255:
                self.packets.append(bytes(self._current))
                self._current.clear()
                if len(self.packets) == 1:
                    self._needed = _header_count(self.packets[0])
        if not self.complete() and len(self.packets) > MAX_HEADER_PACKETS:
            raise LimitExceededError("too many header packets")


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


class _PageWriter:
    """The cleaned stream's pages, numbered from 0 under `_SERIAL`, into a sink."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._sequence = 0
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def page(self, flags: int, granule: int, lacing: bytes, body: bytes) -> None:
        fields = (b"OggS", 0, flags, granule, _SERIAL, self._sequence)
        crc = _ogg_crc(_PAGE.pack(*fields, 0, len(lacing)), lacing, body)
        self._pending += (_PAGE.pack(*fields, crc, len(lacing)), lacing, body)
        self._pending_bytes += _PAGE_HEADER + len(lacing) + len(body)
        self._sequence += 1
        if self._pending_bytes >= _WRITE_BYTES:
            self.flush()

    def packet(self, packet: bytes, flags: int) -> None:
        """One packet on pages of its own (granule 0 on the page where it ends)."""
        lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
        position = 0
        for start in range(0, len(lacing), 255):
            chunk = lacing[start : start + 255]
            size = sum(chunk)
            last = start + 255 >= len(lacing)
            page_flags = flags if start == 0 else _CONTINUED
            granule = 0 if last else _NO_GRANULE
            self.page(page_flags, granule, chunk, packet[position : position + size])
            position += size

    def flush(self) -> None:
        if self._pending:
            self._sink.write(b"".join(self._pending))
            self._pending.clear()
            self._pending_bytes = 0


def _clean(untrusted_data: Data, sink: Sink | None) -> list[str]:
    """Write the cleaned stream to `sink` (None: only check it); return what was removed."""
    walk = _PageWalk(untrusted_data)
    headers = _HeaderPackets()
    writer = None if sink is None else _PageWriter(sink)
    removed: list[str] = []
    failed: ScrubError | None = None
    for page in walk:
        if failed is not None:
            # A fault in the headers is reported only once every page is checked: a damaged
            # page further on is the fault reported, whatever the headers hold.
            continue
        try:
            if headers.complete():
                if writer is not None:
                    writer.page(page.flags, page.granule, page.lacing, page.body)
                continue
            headers.add(page)
            if headers.complete():
                cleaned, removed = _clean_headers(headers.packets)
                for index, packet in enumerate(cleaned):
                    if writer is not None:
                        writer.packet(packet, _BOS if index == 0 else 0)
        except ScrubError as error:
            failed = error
    if failed is not None:
        raise failed
    if not headers.complete():
        raise CorruptFileError("truncated: headers without audio")
    if writer is not None:
        writer.flush()
    return (["ogg:trailing-data"] if walk.trailing_data else []) + removed


class OggScrubber:
    file_types = ("ogg", "opus")

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        return _clean(untrusted_data, None)

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        sink = BytesSink(untrusted_data)
        removed = _clean(untrusted_data, sink)
        return Cleaned(sink.getvalue(), tuple(removed), note=AUDIO_NOTE)

    def get_meta_from(self, source: RangeSource, limits: Limits) -> list[str]:
        return _clean(source, None)

    def remove_all_to(self, source: RangeSource, sink: Sink, limits: Limits) -> Cleaned:
        removed = _clean(source, sink)
        return Cleaned(b"", tuple(removed), note=AUDIO_NOTE)
