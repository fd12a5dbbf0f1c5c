"""AVI (RIFF ``AVI `` and OpenDML ``AVIX`` parts): identifying chunks blanked in place.

An AVI's indexes locate the frames by offset: ``idx1`` from the start of ``movi`` or of the
file (both exist in the wild, players guess which), OpenDML ``indx`` super indexes by
absolute offset. Removing bytes before ``movi`` would break whichever the player guessed.
So nothing moves: every chunk outside the allowlist (``LIST INFO`` with its software and
dates, ``IDIT`` dates, stream names ``strn``, camera data in ``strd`` and vendor chunks, the
text a muxer leaves in ``JUNK``) becomes a ``JUNK`` chunk of the same size filled with
zeros — the format's own padding, which every reader skips. The frames in ``movi`` and the
indexes are copied unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scrubbers._ranges import Data, Piece, PiecesScrubber, overlay
from scrubbers.errors import CorruptFileError, LimitExceededError

# Field names reported per file: a hostile file could hold thousands of distinct ones.
_MAX_NAMES = 200

_MAX_CHUNKS = 100_000  # outside movi, whose frames are not walked
_MAX_DEPTH = 6
# In a RIFF part ('AVI ' or 'AVIX'), in hdrl, in a stream list: what is kept.
_TOP_KEEP = frozenset({b"idx1"})
_TOP_LISTS = frozenset({b"hdrl", b"movi"})
_HDRL_KEEP = frozenset({b"avih"})
_STRL_KEEP = frozenset({b"strh", b"strf", b"indx", b"vprp"})
_JUNK = b"JUNK"


@dataclass
class _Walk:
    data: Data
    blank: list[tuple[int, int]] = field(default_factory=list)  # (chunk start, chunk end)
    removed: list[str] = field(default_factory=list)
    chunks: int = 0

    def drop(self, start: int, end: int, name: str) -> None:
        self.blank.append((start, end))
        if name not in self.removed and len(self.removed) < _MAX_NAMES:
            self.removed.append(name)


def _fourcc(raw: bytes) -> str:
    text = raw.decode("latin-1")
    if all(c.isalnum() or c in " _" for c in text):
        return text.strip() or raw.hex()
    return raw.hex()


def _chunks(walk: _Walk, start: int, end: int) -> list[tuple[bytes, int, int, int]]:
    """(fourcc, chunk start, data start, data end) of each chunk; pad bytes skipped."""
    data = walk.data
    found = []
    at = start
    while at < end:
        walk.chunks += 1
        if walk.chunks > _MAX_CHUNKS:
            raise LimitExceededError("too many AVI chunks")
        if end - at < 8:
            if not any(data[at:end]):
                break  # trailing padding
            raise CorruptFileError("truncated AVI chunk header")
        size = int.from_bytes(data[at + 4 : at + 8], "little")
        if size > end - at - 8:
            raise CorruptFileError("truncated AVI (a chunk ends past its list)")
        found.append((data[at : at + 4], at, at + 8, at + 8 + size))
        at += 8 + size + (size & 1)
    return found


def _walk_list(walk: _Walk, start: int, end: int, keep: frozenset[bytes], kind: str) -> None:
    for fourcc, chunk, body, body_end in _chunks(walk, start, end):
        list_type = walk.data[body : body + 4] if fourcc == b"LIST" else b""
        if fourcc == b"LIST" and kind == "hdrl" and list_type == b"strl":
            _walk_list(walk, body + 4, body_end, _STRL_KEEP, "strl")
        elif fourcc == b"LIST" and kind == "hdrl" and list_type == b"odml":
            continue  # OpenDML's total frame count (dmlh): needed past 1 GiB
        elif fourcc in keep:
            continue
        elif fourcc == _JUNK:
            if any(walk.data[body:body_end]):
                walk.drop(chunk, body_end, "avi:JUNK")
        else:
            _drop(walk, fourcc, list_type, chunk, body, body_end)


def _drop(walk: _Walk, fourcc: bytes, list_type: bytes, chunk: int, body: int, end: int) -> None:
    if fourcc == b"LIST":
        name = "avi:" + _fourcc(list_type)
        if list_type == b"INFO":
            # Name each INFO field (ISFT software, ICRD date, IART artist...) for the report.
            try:
                for sub, *_ in _chunks(walk, body + 4, end):
                    walk.drop(chunk, end, f"avi:INFO/{_fourcc(sub)}")
            except CorruptFileError:
                pass  # blanked whole anyway: only the report is shorter
        walk.drop(chunk, end, name)
    else:
        walk.drop(chunk, end, "avi:" + _fourcc(fourcc))


def _scan(data: Data) -> _Walk:
    walk = _Walk(data)
    parts = _chunks(walk, 0, len(data))
    if not parts:
        raise CorruptFileError("empty AVI")
    for index, (fourcc, _, body, end) in enumerate(parts):
        form = data[body : body + 4]
        if fourcc != b"RIFF" or form != (b"AVI " if index == 0 else b"AVIX"):
            raise CorruptFileError("not an AVI RIFF part")
        lists = []
        for sub, sub_start, sub_body, sub_end in _chunks(walk, body + 4, end):
            list_type = data[sub_body : sub_body + 4] if sub == b"LIST" else b""
            if sub == b"LIST" and list_type in _TOP_LISTS:
                lists.append(list_type)
                if list_type == b"hdrl":
                    _walk_list(walk, sub_body + 4, sub_end, _HDRL_KEEP, "hdrl")
            elif sub in _TOP_KEEP:
                continue
            elif sub == _JUNK:
                if any(data[sub_body:sub_end]):
                    walk.drop(sub_start, sub_end, "avi:JUNK")
            else:
                _drop(walk, sub, list_type, sub_start, sub_body, sub_end)
        if b"movi" not in lists or (index == 0 and b"hdrl" not in lists):
            raise CorruptFileError("AVI without its headers or frames")
    return walk


class AviScrubber(PiecesScrubber):
    file_types = ("avi",)

    def pieces(self, untrusted_data: Data) -> tuple[list[Piece], list[str]]:
        # Sizes are checked against the file; the sandbox bounds the rest.
        walk = _scan(untrusted_data)
        return _pieces(walk), walk.removed


def _pieces(walk: _Walk) -> list[Piece]:
    patches = []
    for start, end in walk.blank:
        # Same size, so every offset in idx1/indx still points at its frame. The chunk's
        # size field (bytes 4-8) stays.
        patches += [(start, _JUNK), (start + 8, bytes(end - start - 8))]
    return overlay(len(walk.data), patches)
