"""A zip's central directory, read for sniffing: bounded, and without `zipfile`.

Runs in the server on hostile bytes (`scrubbers._sniff`): the end records and the directory
are walked here with a cap on the entries, and nothing is inflated but a few hundred bytes
of one small member. The walk reads by slices, so a large file read by ranges (a
`RangeSource`: a big archive is told from a big office document by its directory, at its
end) is walked the same way, a field at a time, never whole.
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrubbers._ranges import Data

# More central-directory entries than any office document has (the OOXML/ODF scrubbers bound
# members at `Limits.max_zip_members`, 10 000, as well): past this the walk stops, bounded.
MAX_SNIFF_ENTRIES = 20_000
_MAX_MIMETYPE_BYTES = 256

_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s2B4HL2L2H")
LOCAL_SIGNATURE = b"PK\x03\x04"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_RECORD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_RECORD_SIGNATURE = b"PK\x06\x06"


def find_eocd(untrusted_data: Data) -> tuple[int, int, int, int] | None:
    """(end of the central directory, entry count, directory size, directory offset)."""
    # The record is 22 bytes plus a comment of at most 64 KiB, at the very end.
    window_start = max(0, len(untrusted_data) - (_EOCD.size + 0xFFFF))
    tail = untrusted_data[window_start:]
    found = tail.rfind(_EOCD_SIGNATURE)
    if found < 0 or found + _EOCD.size > len(tail):
        return None
    position = window_start + found
    _, _, _, _, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, found)
    # Zip64 (more than 65 535 members or 4 GiB): the real values sit in a record just before
    # the end record, found through the locator right before it.
    locator = position - _ZIP64_LOCATOR.size
    record = locator - _ZIP64_RECORD.size
    if record >= 0 and untrusted_data[locator : locator + 4] == _ZIP64_LOCATOR_SIGNATURE:
        fields = _ZIP64_RECORD.unpack(untrusted_data[record : record + _ZIP64_RECORD.size])
        if fields[0] != _ZIP64_RECORD_SIGNATURE:
            return None
        return record, fields[7], fields[8], fields[9]
    return position, entries, cd_size, cd_offset


def _central_directory_start(untrusted_data: Data) -> int | None:
    found = find_eocd(untrusted_data)
    if found is None:
        return None
    cd_end, entries, cd_size, _ = found
    # The directory ends where the end records start (prepended data included); a record
    # whose directory does not fit, or does not start with an entry, is not a zip.
    start = cd_end - cd_size
    if entries == 0 or start < 0:
        return None
    if untrusted_data[start : start + 4] != _CENTRAL_SIGNATURE:
        return None
    return start


def has_zip_directory(untrusted_data: Data) -> bool:
    return _central_directory_start(untrusted_data) is not None


def zip_entries(untrusted_data: Data) -> dict[str, tuple[int, int, int]] | None:
    """Names -> (compression, compressed size, local header offset); None if not a zip.

    At most `MAX_SNIFF_ENTRIES` entries are read; past that the dict is cut short.
    """
    start = _central_directory_start(untrusted_data)
    if start is None:
        return None
    # Offsets in the directory count from the start of the zip, which is `start - cd_offset`
    # bytes into the data when something was prepended.
    found = find_eocd(untrusted_data)
    assert found is not None
    base = start - found[3]
    entries: dict[str, tuple[int, int, int]] = {}
    offset = start
    end = found[0]
    while offset + _CENTRAL.size <= end and len(entries) < MAX_SNIFF_ENTRIES:
        fields = _CENTRAL.unpack(untrusted_data[offset : offset + _CENTRAL.size])
        if fields[0] != _CENTRAL_SIGNATURE:
            break
        flags, method, compressed = fields[5], fields[6], fields[10]
        name_len, extra_len, comment_len = fields[12], fields[13], fields[14]
        local_offset = fields[18]
        raw_name = untrusted_data[offset + _CENTRAL.size : offset + _CENTRAL.size + name_len]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        entries.setdefault(name, (method, compressed, base + local_offset))
        offset += _CENTRAL.size + name_len + extra_len + comment_len
    return entries


def read_small_member(untrusted_data: Data, method: int, compressed: int, local: int) -> bytes:
    if local < 0 or local + _LOCAL.size > len(untrusted_data):
        return b""
    fields = _LOCAL.unpack(untrusted_data[local : local + _LOCAL.size])
    if fields[0] != LOCAL_SIGNATURE:
        return b""
    data_start = local + _LOCAL.size + fields[10] + fields[11]
    # Read at most a few hundred bytes whatever the sizes claim (a decompression bomb named
    # "mimetype" yields 256 bytes here, not gigabytes).
    raw = untrusted_data[data_start : data_start + min(compressed, 4 * _MAX_MIMETYPE_BYTES)]
    if method == 0:
        return raw[:_MAX_MIMETYPE_BYTES]
    if method == 8:
        try:
            return zlib.decompressobj(-15).decompress(raw, _MAX_MIMETYPE_BYTES)
        except zlib.error:
            return b""
    return b""


def is_empty_zip(untrusted_data: bytes) -> bool:
    # A zip of no member is its end record alone (and its comment).
    if not untrusted_data.startswith(_EOCD_SIGNATURE) or len(untrusted_data) < _EOCD.size:
        return False
    fields = _EOCD.unpack_from(untrusted_data, 0)
    entries, cd_size, comment_length = int(fields[4]), int(fields[5]), int(fields[7])
    return entries == 0 and cd_size == 0 and _EOCD.size + comment_length == len(untrusted_data)
