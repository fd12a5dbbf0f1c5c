"""WAV (RIFF) and AIFF/AIFF-C, cleaned by writing the container again with an allowlist.

What recorders and editors put beside the sound: ``LIST/INFO`` (artist, software, dates,
comments), ``bext`` (Broadcast Wave: originator, its reference, origination date and time,
coding history), ``iXML`` (recorder, project, scene, notes), ``cue `` and ``LIST/adtl``
(marker labels and notes), ``id3 ``/``ID3 `` chunks, ``_PMX`` (XMP), EXIF-in-RIFF (camera
make, model, the photo's file name), ``JUNK``/``PAD `` fillers (uninitialised memory); in
AIFF ``NAME``, ``AUTH``, ``(c) ``, ``ANNO``, ``COMT``, ``MARK``, ``INST``, ``APPL``, ``ID3 ``.

None of those is needed to play the file. The output holds only what is: WAV ``fmt ``,
``fact`` and ``data``; AIFF ``COMM`` and ``SSND`` (and AIFF-C's ``FVER``, written as the one
value the standard defines). The sample data is copied byte for byte. AIFF-C's free-text
compression name is written empty (readers go by its four-character code) and a sound
chunk's leading offset bytes are dropped.

A chunk that runs past the end of the file is a truncated file: not cleaned.
"""

from __future__ import annotations

import struct

from scrubbers._audio_tags import AUDIO_NOTE, safe_name
from scrubbers._types import Cleaned, Limits
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

# More chunks than any real file has; bounds the walk on a file of empty chunks.
MAX_CHUNKS = 100_000
_WAV_KEEP = (b"fmt ", b"fact", b"data")
_AIFF_KEEP = (b"COMM", b"SSND", b"FVER")
_AIFC_VERSION = 0xA2805140  # the one AIFF-C version (its FVER chunk)


def _chunk_name(prefix: str, chunk_id: bytes, body: bytes) -> str:
    name = prefix + safe_name(chunk_id.strip())
    if chunk_id == b"LIST" and len(body) >= 4:
        name += "/" + safe_name(body[:4].strip())
    return name


def _walk(
    untrusted_data: bytes, little_endian: bool, prefix: str
) -> tuple[dict[bytes, bytes], list[bytes], list[str]]:
    """(kept chunk bodies by id, their order, names of the others). Raises on bad structure."""
    size_format = "<I" if little_endian else ">I"
    declared = struct.unpack_from(size_format, untrusted_data, 4)[0]
    declared_end = 8 + declared
    removed: list[str] = []
    if declared_end > len(untrusted_data):
        raise CorruptFileError("truncated: the container ends past the file")
    keep = _WAV_KEEP if little_endian else _AIFF_KEEP
    kept: dict[bytes, bytes] = {}
    order: list[bytes] = []
    offset = 12
    end = len(untrusted_data)
    for _ in range(MAX_CHUNKS):
        if offset >= end:
            break
        chunk_id = untrusted_data[offset : offset + 4]
        size = (
            struct.unpack_from(size_format, untrusted_data, offset + 4)[0]
            if offset + 8 <= end
            else end
        )
        body_start = offset + 8
        if body_start + size > end:
            if offset >= declared_end:
                # Past the container's own end: bytes appended to the file, not chunks.
                removed.append(prefix + "trailing-data")
                break
            raise CorruptFileError("truncated: a chunk ends past the file")
        body = untrusted_data[body_start : body_start + size]
        if chunk_id in keep:
            if chunk_id in kept:
                raise CorruptFileError("a required chunk is repeated")
            kept[chunk_id] = body
            order.append(chunk_id)
        else:
            removed.append(_chunk_name(prefix, chunk_id, body))
        # Chunks start on even offsets: an odd-sized one is followed by a pad byte (which a
        # writer may forget on the very last chunk). Writers also get the container's size
        # wrong, short of its last chunks: the walk goes on to the file's end.
        offset = body_start + size + (size & 1)
    else:
        raise LimitExceededError("too many chunks")
    return kept, order, removed


def _chunk(chunk_id: bytes, body: bytes, little_endian: bool) -> bytes:
    size = struct.pack("<I" if little_endian else ">I", len(body))
    return chunk_id + size + body + (b"\x00" if len(body) & 1 else b"")


def _clean_wav(untrusted_data: bytes) -> tuple[bytes, list[str]]:
    kept, order, removed = _walk(untrusted_data, True, "riff:")
    if b"fmt " not in kept or b"data" not in kept:
        raise CorruptFileError("no fmt or data chunk")
    if order.index(b"fmt ") > order.index(b"data"):
        raise CorruptFileError("fmt chunk after the data")
    body = b"WAVE" + b"".join(_chunk(c, kept[c], True) for c in order)
    if len(body) > 0xFFFFFFFF:
        raise LimitExceededError("too large for RIFF")
    return b"RIFF" + struct.pack("<I", len(body)) + body, removed


def _clean_aiff(untrusted_data: bytes) -> tuple[bytes, list[str]]:
    form = untrusted_data[8:12]
    kept, order, removed = _walk(untrusted_data, False, "aiff:")
    if b"COMM" not in kept:
        raise CorruptFileError("no COMM chunk")
    comm = kept[b"COMM"]
    if form == b"AIFC":
        if len(comm) < 22:
            raise CorruptFileError("short COMM chunk")
        name_length = comm[22] if len(comm) > 22 else 0
        if name_length:
            removed.append("aiff:COMM/compressionName")
        # The code says what the samples are; the name after it is display text: written as
        # the empty Pascal string (its count byte and the pad byte to an even length).
        kept[b"COMM"] = comm[:22] + b"\x00\x00"
        if b"FVER" in kept and kept[b"FVER"] != struct.pack(">I", _AIFC_VERSION):
            removed.append("aiff:FVER")
        kept[b"FVER"] = struct.pack(">I", _AIFC_VERSION)
        if b"FVER" not in order:
            order.insert(0, b"FVER")
    else:
        if len(comm) < 18:
            raise CorruptFileError("short COMM chunk")
        if len(comm) > 18:
            removed.append("aiff:COMM/extra")
        kept[b"COMM"] = comm[:18]
        if b"FVER" in order:
            order.remove(b"FVER")
            removed.append("aiff:FVER")
    frames = struct.unpack_from(">I", comm, 2)[0]
    if b"SSND" not in kept:
        if frames:
            raise CorruptFileError("no SSND chunk")
    else:
        ssnd = kept[b"SSND"]
        if len(ssnd) < 8:
            raise CorruptFileError("short SSND chunk")
        data_offset = struct.unpack_from(">I", ssnd, 0)[0]
        if 8 + data_offset > len(ssnd):
            raise CorruptFileError("SSND offset past its chunk")
        if data_offset or ssnd[4:8] != b"\x00" * 4:
            removed.append("aiff:SSND/offset")
        kept[b"SSND"] = b"\x00" * 8 + ssnd[8 + data_offset :]
    body = form + b"".join(_chunk(c, kept[c], False) for c in order)
    if len(body) > 0xFFFFFFFF:
        raise LimitExceededError("too large for AIFF")
    return b"FORM" + struct.pack(">I", len(body)) + body, removed


def _clean(untrusted_data: bytes) -> tuple[bytes, list[str]]:
    if len(untrusted_data) < 12:
        raise CorruptFileError("truncated header")
    if untrusted_data[:4] == b"RIFF" and untrusted_data[8:12] == b"WAVE":
        return _clean_wav(untrusted_data)
    if untrusted_data[:4] == b"FORM" and untrusted_data[8:12] in (b"AIFF", b"AIFC"):
        return _clean_aiff(untrusted_data)
    raise UnsupportedTypeError("not WAV or AIFF")


class RiffAudioScrubber:
    file_types = ("wav", "aiff")

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        # The very pass cleaning makes: an output of the allowlisted chunks only yields none.
        return _clean(untrusted_data)[1]

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        data, removed = _clean(untrusted_data)
        return Cleaned(data, tuple(removed), note=AUDIO_NOTE)
