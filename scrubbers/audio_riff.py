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
chunk's leading offset bytes are dropped. The sound chunk is never read: it is copied as a
range, so an hour-long recording is cleaned by ranges like a video (`_ranges`).

A chunk that runs past the end of the file is a truncated file: not cleaned.
"""

from __future__ import annotations

import struct

from scrubbers._audio_tags import AUDIO_NOTE, safe_name
from scrubbers._ranges import Data, Piece, PiecesScrubber
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

# More chunks than any real file has; bounds the walk on a file of empty chunks.
MAX_CHUNKS = 100_000
_WAV_KEEP = (b"fmt ", b"fact", b"data")
_AIFF_KEEP = (b"COMM", b"SSND", b"FVER")
_AIFC_VERSION = 0xA2805140  # the one AIFF-C version (its FVER chunk)
_PCM, _IEEE_FLOAT = 1, 3  # WAVE format tags whose fmt chunk has no extension


#: The sound itself, never read here: a large recording is copied by range (`_ranges`).
_SOUND = (b"data", b"SSND")


def _chunk_name(prefix: str, chunk_id: bytes, head: bytes) -> str:
    name = prefix + safe_name(chunk_id.strip())
    if chunk_id == b"LIST" and len(head) >= 4:
        name += "/" + safe_name(head[:4].strip())
    return name


def _walk(
    untrusted_data: Data, little_endian: bool, prefix: str
) -> tuple[dict[bytes, tuple[int, int]], list[bytes], list[str]]:
    """(kept chunk bodies by id, as (start, end) ranges; their order; names of the others).
    Raises on bad structure."""
    size_format = "<I" if little_endian else ">I"
    declared = struct.unpack(size_format, untrusted_data[4:8])[0]
    declared_end = 8 + declared
    removed: list[str] = []
    if declared_end > len(untrusted_data):
        raise CorruptFileError("truncated: the container ends past the file")
    keep = _WAV_KEEP if little_endian else _AIFF_KEEP
    kept: dict[bytes, tuple[int, int]] = {}
    order: list[bytes] = []
    offset = 12
    end = len(untrusted_data)
    for _ in range(MAX_CHUNKS):
        if offset >= end:
            break
        header = untrusted_data[offset : offset + 8]
        chunk_id = header[:4]
        size = struct.unpack(size_format, header[4:8])[0] if len(header) == 8 else end
        body_start = offset + 8
        if body_start + size > end:
            if offset >= declared_end:
                # Past the container's own end: bytes appended to the file, not chunks.
                removed.append(prefix + "trailing-data")
                break
            raise CorruptFileError("truncated: a chunk ends past the file")
        if chunk_id in keep:
            if chunk_id in kept:
                raise CorruptFileError("a required chunk is repeated")
            kept[chunk_id] = (body_start, body_start + size)
            order.append(chunk_id)
        else:
            head = untrusted_data[body_start : body_start + min(size, 4)]
            removed.append(_chunk_name(prefix, chunk_id, head))
        # Chunks start on even offsets: an odd-sized one is followed by a pad byte (which a
        # writer may forget on the very last chunk). Writers also get the container's size
        # wrong, short of its last chunks: the walk goes on to the file's end.
        offset = body_start + size + (size & 1)
    else:
        raise LimitExceededError("too many chunks")
    return kept, order, removed


def _chunk(chunk_id: bytes, body: list[Piece], little_endian: bool) -> list[Piece]:
    length = sum(len(p) if isinstance(p, bytes) else p[1] - p[0] for p in body)
    size = struct.pack("<I" if little_endian else ">I", length)
    return [chunk_id + size, *body, *([b"\x00"] if length & 1 else [])]


def _container(magic: bytes, form: bytes, parts: list[Piece], little_endian: bool) -> list[Piece]:
    length = len(form) + sum(len(p) if isinstance(p, bytes) else p[1] - p[0] for p in parts)
    if length > 0xFFFFFFFF:
        raise LimitExceededError("too large for RIFF/AIFF")
    return [magic + struct.pack("<I" if little_endian else ">I", length) + form, *parts]


def _clean_wav(untrusted_data: Data) -> tuple[list[Piece], list[str]]:
    kept, order, removed = _walk(untrusted_data, True, "riff:")
    if b"fmt " not in kept or b"data" not in kept:
        raise CorruptFileError("no fmt or data chunk")
    if order.index(b"fmt ") > order.index(b"data"):
        raise CorruptFileError("fmt chunk after the data")
    parts: list[Piece] = []
    for c in order:
        start, end = kept[c]
        body: Piece = (start, end) if c in _SOUND else _wav_fields(c, untrusted_data[start:end])
        if isinstance(body, bytes) and len(body) < end - start:
            removed.append(f"riff:{c.strip().decode()}/extra")
        parts += _chunk(c, [body], True)
    return _container(b"RIFF", b"WAVE", parts, True), removed


def _wav_fields(chunk_id: bytes, body: bytes) -> bytes:
    """A kept chunk cut to the fields its format defines: bytes after them are read by no
    player and could carry anything."""
    if chunk_id == b"fact":
        if len(body) < 4:
            raise CorruptFileError("short fact chunk")
        return body[:4]  # dwSampleLength
    # fmt: WAVEFORMAT (16 bytes), or WAVEFORMATEX whose cbSize counts the codec's own
    # extension (ADPCM coefficients, WAVE_FORMAT_EXTENSIBLE's mask and GUID).
    if len(body) < 16:
        raise CorruptFileError("short fmt chunk")
    if len(body) < 18 or struct.unpack("<H", body[:2])[0] in (_PCM, _IEEE_FLOAT):
        return body[:16]  # plain samples: no extension is defined
    extension = struct.unpack("<H", body[16:18])[0]
    if 18 + extension > len(body):
        raise CorruptFileError("fmt extension past its chunk")
    return body[: 18 + extension]


def _clean_aiff(untrusted_data: Data) -> tuple[list[Piece], list[str]]:
    form = untrusted_data[8:12]
    kept, order, removed = _walk(untrusted_data, False, "aiff:")
    if b"COMM" not in kept:
        raise CorruptFileError("no COMM chunk")
    small = {c: untrusted_data[a:b] for c, (a, b) in kept.items() if c not in _SOUND}
    comm = small[b"COMM"]
    if form == b"AIFC":
        if len(comm) < 22:
            raise CorruptFileError("short COMM chunk")
        name_length = comm[22] if len(comm) > 22 else 0
        if name_length:
            removed.append("aiff:COMM/compressionName")
        # The code says what the samples are; the name after it is display text: written as
        # the empty Pascal string (its count byte and the pad byte to an even length).
        small[b"COMM"] = comm[:22] + b"\x00\x00"
        if b"FVER" in small and small[b"FVER"] != struct.pack(">I", _AIFC_VERSION):
            removed.append("aiff:FVER")
        small[b"FVER"] = struct.pack(">I", _AIFC_VERSION)
        if b"FVER" not in order:
            order.insert(0, b"FVER")
    else:
        if len(comm) < 18:
            raise CorruptFileError("short COMM chunk")
        if len(comm) > 18:
            removed.append("aiff:COMM/extra")
        small[b"COMM"] = comm[:18]
        if b"FVER" in order:
            order.remove(b"FVER")
            removed.append("aiff:FVER")
    frames = struct.unpack(">I", comm[2:6])[0]
    sound: list[Piece] = []
    if b"SSND" not in kept:
        if frames:
            raise CorruptFileError("no SSND chunk")
    else:
        start, end = kept[b"SSND"]
        if end - start < 8:
            raise CorruptFileError("short SSND chunk")
        ssnd_head = untrusted_data[start : start + 8]
        data_offset = struct.unpack(">I", ssnd_head[:4])[0]
        if 8 + data_offset > end - start:
            raise CorruptFileError("SSND offset past its chunk")
        if data_offset or ssnd_head[4:8] != b"\x00" * 4:
            removed.append("aiff:SSND/offset")
        sound = [b"\x00" * 8, (start + 8 + data_offset, end)]
    parts: list[Piece] = []
    for c in order:
        parts += _chunk(c, sound if c == b"SSND" else [small[c]], False)
    return _container(b"FORM", form, parts, False), removed


def _clean(untrusted_data: Data) -> tuple[list[Piece], list[str]]:
    if len(untrusted_data) < 12:
        raise CorruptFileError("truncated header")
    head = untrusted_data[:12]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _clean_wav(untrusted_data)
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _clean_aiff(untrusted_data)
    raise UnsupportedTypeError("not WAV or AIFF")


class RiffAudioScrubber(PiecesScrubber):
    file_types = ("wav", "aiff")
    note = AUDIO_NOTE

    def pieces(self, untrusted_data: Data) -> tuple[list[Piece], list[str]]:
        # The very pass cleaning makes: an output of the allowlisted chunks only yields none.
        return _clean(untrusted_data)
