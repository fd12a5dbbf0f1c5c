"""Tag formats shared by the audio containers: ID3v2, ID3v1, APE, Lyrics3, Vorbis comments.

The scrubbers never rewrite a tag: they cut it out whole, or write the container without it.
What is read here is only the *names* of the fields, for the report (values never leave the
tag). Every length is checked against the bytes at hand; a name that is not plain ASCII is
not quoted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrubbers._ranges import Data

import re
import struct

from scrubbers._sniff import id3v2_size

# Names reported per tag: a hostile tag of a million tiny frames gets a bounded report.
MAX_NAMES = 200
_NAME = re.compile(rb"[A-Za-z0-9 _.~()+/-]{1,40}")
_ID3_FRAME = re.compile(rb"[A-Z0-9]{3,4}")
_ID3V1_SIZE = 128
_ID3V1_ENHANCED_SIZE = 227
_APE_FOOTER_SIZE = 32
_LYRICS3_V1_MAX = 5100 + 20
_U32_LE = struct.Struct("<I")


def safe_name(raw: bytes) -> str:
    """A field name for the report: itself when plain ASCII, else a neutral placeholder."""
    return raw.decode("ascii") if _NAME.fullmatch(raw) else "?"


def id3v2_names(untrusted_tag: bytes) -> list[str]:
    """``id3:TPE1``... for the frames of one whole ID3v2 tag (header included)."""
    version = untrusted_tag[3]
    flags = untrusted_tag[5]
    offset = 10
    end = len(untrusted_tag) - (10 if version == 4 and flags & 0x10 else 0)
    if flags & 0x40 and version in (3, 4):  # extended header
        raw = untrusted_tag[10:14]
        size = (
            int.from_bytes(raw, "big") + 4
            if version == 3
            else (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]
        )
        offset += size
    id_len, header_len = (3, 6) if version == 2 else (4, 10)
    names: list[str] = []
    while offset + header_len <= end and len(names) < MAX_NAMES:
        frame_id = untrusted_tag[offset : offset + id_len]
        if frame_id[:1] == b"\x00":
            break  # padding
        if not _ID3_FRAME.fullmatch(frame_id):
            names.append("id3:?")
            break
        raw = untrusted_tag[offset + id_len : offset + id_len + (3 if version == 2 else 4)]
        if version == 4:
            size = (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]
        else:
            size = int.from_bytes(raw, "big")
        names.append("id3:" + frame_id.decode("ascii"))
        offset += header_len + size
    return names or ["id3v2"]


def leading_id3v2(untrusted_data: Data) -> tuple[int, list[str]]:
    """(offset after the ID3v2 tags at the start, their frame names)."""
    offset = 0
    names: list[str] = []
    for _ in range(8):
        size = id3v2_size(untrusted_data, offset)
        if size is None:
            break
        names += id3v2_names(untrusted_data[offset : offset + size])
        offset += size
    return offset, names


def strip_trailing_tags(untrusted_data: Data, start: int, end: int) -> tuple[int, list[str]]:
    """Where the audio ends once ID3v1, APEv2, Lyrics3 and appended ID3v2 tags are cut.

    Taggers append these in any order (APE then ID3v1 is the usual pair): peel them off the
    end until none is left. Returns the new end and the names of what was cut.
    """
    names: list[str] = []
    for _ in range(16):
        tail = untrusted_data[max(start, end - _ID3V1_SIZE) : end]
        if len(tail) == _ID3V1_SIZE and tail[:3] == b"TAG":
            names.append("id3v1")
            end -= _ID3V1_SIZE
            enhanced = untrusted_data[end - _ID3V1_ENHANCED_SIZE : end]
            if end - _ID3V1_ENHANCED_SIZE >= start and enhanced[:4] == b"TAG+":
                names.append("id3v1:enhanced")
                end -= _ID3V1_ENHANCED_SIZE
            continue
        footer = untrusted_data[end - _APE_FOOTER_SIZE : end]
        if end - _APE_FOOTER_SIZE >= start and footer[:8] == b"APETAGEX":
            size, count, flags = struct.unpack_from("<III", footer, 12)
            total = size + (_APE_FOOTER_SIZE if flags & 0x80000000 else 0)
            if size < _APE_FOOTER_SIZE or end - total < start:
                break
            names += _ape_names(untrusted_data[end - size : end - _APE_FOOTER_SIZE], count)
            end -= total
            continue
        if end - 15 >= start and untrusted_data[end - 9 : end] == b"LYRICS200":
            digits = untrusted_data[end - 15 : end - 9]
            if not digits.isdigit() or end - 15 - int(digits) < start:
                break
            names.append("lyrics3")
            end -= 15 + int(digits)
            continue
        if end - 9 >= start and untrusted_data[end - 9 : end] == b"LYRICSEND":
            window_start = max(start, end - _LYRICS3_V1_MAX)
            found = untrusted_data[window_start:end].rfind(b"LYRICSBEGIN")
            if found < 0:
                break
            begin = window_start + found
            names.append("lyrics3")
            end = begin
            continue
        if end - 10 >= start and untrusted_data[end - 10 : end - 7] == b"3DI":
            raw = untrusted_data[end - 4 : end]
            if any(b & 0x80 for b in raw):
                break
            body = (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]
            if end - 20 - body < start:
                break
            names.append("id3v2:appended")
            end -= 20 + body
            continue
        break
    return end, names


def _ape_names(untrusted_items: bytes, count: int) -> list[str]:
    names: list[str] = []
    offset = 0
    for _ in range(min(count, MAX_NAMES)):
        if offset + 8 > len(untrusted_items):
            break
        value_size = _U32_LE.unpack_from(untrusted_items, offset)[0]
        key_end = untrusted_items.find(b"\x00", offset + 8, offset + 8 + 256)
        if key_end < 0:
            break
        names.append("ape:" + safe_name(untrusted_items[offset + 8 : key_end]))
        offset = key_end + 1 + value_size
    return names or ["ape"]


def vorbis_comment_names(untrusted_block: bytes, prefix: str = "vorbis:") -> list[str]:
    """``vorbis:ARTIST``... for a Vorbis comment block (vendor string first), best effort."""
    names: list[str] = []
    if len(untrusted_block) < 4:
        return names
    vendor = _U32_LE.unpack_from(untrusted_block, 0)[0]
    if vendor:
        names.append(prefix + "vendor")
    offset = 4 + vendor
    if offset + 4 > len(untrusted_block):
        return names
    count = _U32_LE.unpack_from(untrusted_block, offset)[0]
    offset += 4
    for _ in range(min(count, MAX_NAMES)):
        if offset + 4 > len(untrusted_block):
            break
        size = _U32_LE.unpack_from(untrusted_block, offset)[0]
        entry = untrusted_block[offset + 4 : offset + 4 + min(size, 64)]
        key = entry.split(b"=", 1)[0]
        names.append(prefix + safe_name(key.upper()))
        offset += 4 + size
    return names


#: The note of every cleaned audio file (translated for the source by leakdrop.server.i18n).
AUDIO_NOTE = "audio data kept byte for byte, only tags removed"
