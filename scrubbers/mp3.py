"""MP3 (MPEG audio), cleaned by keeping the audio frames and nothing around them.

Tags live outside the frames: ID3v2 in front (artist, pictures, comments, the encoding
software, dates, private frames), and ID3v1, APEv2, Lyrics3 at the end. The scrubber walks
the frames by their headers from the first to the last, so it keeps exactly the frames and
drops whatever else sits before, between (junk) or after them.

The first frame of most files is not sound but a Xing/Info (or VBRI) header with the frame
count and seek table players need for the duration of a variable-bitrate file, and LAME's tag
(encoder delays for gapless playback). It is kept, rebuilt from its known fields; the
encoder's version string in it (``LAME3.100``, ``Lavc60.31``: an install fingerprint) keeps
only its family (``LAME``, which players check before reading the delays), and the tag's
checksum is computed again. LAME also fills the unused bits of some frames with its version
string: that is inside the sound frames, which are kept byte for byte.
"""

from __future__ import annotations

from scrubbers._audio_tags import AUDIO_NOTE, leading_id3v2, strip_trailing_tags
from scrubbers._ranges import Data, Piece, PiecesScrubber
from scrubbers._sniff import mpeg_frame_length
from scrubbers.errors import CorruptFileError

# Junk a stream may hold before its first frame or between two frames, in all: a tagger's
# padding, a broken concatenation. More is not an MP3 the scrubber can vouch for.
MAX_JUNK = 1024 * 1024
_LAME_FAMILIES = (b"LAME", b"Lavf", b"Lavc", b"GOGO", b"L3.9")
_LAME_TAG_SIZE = 36  # from the version string to the tag's CRC, included
_VBRI_OFFSET = 36  # from the frame start: header (4) + 32 bytes


def _crc16(data: bytes) -> int:
    # CRC-16/ARC (reflected 0x8005, initial 0), as LAME computes its tag's checksum.
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _side_info_size(header: bytes) -> int:
    mpeg1 = (header[1] >> 3) & 3 == 3
    mono = header[3] >> 6 == 3
    if mpeg1:
        return 17 if mono else 32
    return 9 if mono else 17


def _rebuild_info_frame(frame: bytes) -> tuple[bytes, list[str]] | None:
    """The Xing/Info/VBRI frame with its known fields only; None when it is a sound frame."""
    if (frame[1] >> 1) & 3 != 1:  # layer III only
        return None
    fields_start = 4 + (0 if frame[1] & 1 else 2) + _side_info_size(frame)
    tag = frame[fields_start : fields_start + 4]
    if tag in (b"Xing", b"Info"):
        flags = int.from_bytes(frame[fields_start + 4 : fields_start + 8], "big")
        fields_end = fields_start + 8
        fields_end += 4 * bool(flags & 1) + 4 * bool(flags & 2) + 100 * bool(flags & 4)
        fields_end += 4 * bool(flags & 8)
        if fields_end > len(frame):
            raise CorruptFileError("Xing header past its frame")
        out = bytearray(len(frame))
        out[:fields_end] = frame[:fields_end]
        removed: list[str] = []
        lame = frame[fields_end : fields_end + _LAME_TAG_SIZE]
        if len(lame) == _LAME_TAG_SIZE and lame[:4] in _LAME_FAMILIES:
            version = lame[:4] + b" " * 5
            if lame[:9] != version:
                removed.append("mp3:encoder-version")
            rebuilt = version + lame[9:34]
            out[fields_end : fields_end + 34] = rebuilt
            crc = _crc16(bytes(out[: fields_end + 34]))
            out[fields_end + 34 : fields_end + 36] = crc.to_bytes(2, "big")
            fields_end += _LAME_TAG_SIZE
        elif frame[fields_end : fields_end + 9].strip(b"\x00 "):
            removed.append("mp3:encoder")
        if frame[fields_end:].strip(b"\x00\xff\x55\xaa"):
            removed.append("mp3:info-frame-data")
        return bytes(out), removed
    vbri = frame[_VBRI_OFFSET : _VBRI_OFFSET + 26]
    if vbri[:4] == b"VBRI" and len(vbri) == 26:
        entries = int.from_bytes(vbri[18:20], "big")
        entry_size = int.from_bytes(vbri[22:24], "big")
        fields_end = _VBRI_OFFSET + 26 + entries * entry_size
        if fields_end > len(frame):
            raise CorruptFileError("VBRI header past its frame")
        out = bytearray(len(frame))
        out[:fields_end] = frame[:fields_end]
        return bytes(out), (["mp3:info-frame-data"] if frame[fields_end:].strip(b"\x00") else [])
    return None


def _next_frame(untrusted_data: Data, offset: int, end: int) -> int | None:
    """The first offset from `offset` where a frame starts that is followed by another frame
    or by the end of the audio."""
    limit = min(end, offset + MAX_JUNK)
    while offset < limit:
        offset = untrusted_data.find(b"\xff", offset, limit)
        if offset < 0:
            return None
        length = mpeg_frame_length(untrusted_data, offset)
        if length is not None and (
            offset + length == end or mpeg_frame_length(untrusted_data, offset + length)
        ):
            return offset
        offset += 1
    return None


def _clean(untrusted_data: Data) -> tuple[list[Piece], list[str]]:
    start, removed = leading_id3v2(untrusted_data)
    end, trailing = strip_trailing_tags(untrusted_data, start, len(untrusted_data))
    removed += trailing
    first = _next_frame(untrusted_data, start, end)
    if first is None:
        raise CorruptFileError("truncated: no complete MPEG audio frame")
    if untrusted_data[start:first].strip(b"\x00"):
        removed.append("mp3:junk")
    pieces: list[Piece] = []
    junk = 0
    offset = first
    while offset < end:
        length = mpeg_frame_length(untrusted_data, offset)
        if length is None or offset + length > end:
            resumed = _next_frame(untrusted_data, offset + 1, end)
            if resumed is None:
                if offset + (length or 0) > end and length is not None:
                    raise CorruptFileError("truncated: the last frame ends past the file")
                removed.append("mp3:trailing-data")
                break
            junk += resumed - offset
            if junk > MAX_JUNK:
                raise CorruptFileError("damaged MPEG stream")
            removed.append("mp3:junk")
            offset = resumed
            continue
        if not pieces:
            frame = untrusted_data[offset : offset + length]
            rebuilt = _rebuild_info_frame(frame)
            if rebuilt is not None:
                frame = rebuilt[0]
                removed += rebuilt[1]
            pieces.append(frame)
        else:
            # The sound frames themselves: copied as ranges (a run of frames is one range).
            last = pieces[-1]
            if isinstance(last, tuple) and last[1] == offset:
                pieces[-1] = (last[0], offset + length)
            else:
                pieces.append((offset, offset + length))
        offset += length
    return pieces, removed


class Mp3Scrubber(PiecesScrubber):
    file_types = ("mp3",)
    note = AUDIO_NOTE

    def pieces(self, untrusted_data: Data) -> tuple[list[Piece], list[str]]:
        return _clean(untrusted_data)
