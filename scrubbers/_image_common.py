"""What the image cleaners (`scrubbers.images`) share: the report's names, the pixel-count
check, the orientation kept from EXIF/XMP, and the end of a zlib stream."""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence
from typing import Literal

from scrubbers._exif import ifd_entries
from scrubbers._jpeg_segments import canonical_orientation_exif
from scrubbers._types import Limits
from scrubbers.errors import CorruptFileError, LimitExceededError

MAX_CHUNKS = 1_000_000
INFLATE_STEP = 1 << 20
# The verify pass reads the cleaner's own output, whose compressed image data are the same
# bytes as the input's: inflating them again was half of a PNG's cleaning time. A few
# streams are enough (one input, one output); keyed by SHA-256 so no two streams can share
# an answer, and answers are kept only for streams that inflate.
_KNOWN_STREAM_ENDS: dict[bytes, tuple[int, int] | None] = {}
_KNOWN_STREAM_ENDS_KEPT = 8


def add_name(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)


def check_pixels(width: int, height: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise CorruptFileError("image without dimensions")
    # A bomb declares huge dimensions with little data: refuse before any reader allocates.
    if width * height > limits.max_pixels:
        raise LimitExceededError("image dimensions too large")


# The orientation is not metadata about the source but part of the picture: a photo taken
# sideways is stored sideways and shown upright by every reader that honours the tag. Dropping
# it would turn the picture (issue 10: the reference reader, Pillow, must show the same
# image). It is kept alone, in a fresh EXIF (a TIFF header and one IFD0 entry, nothing else),
# like the JPEG scrubber does.
def orientation_tiff(orientation: int) -> bytes:
    """The TIFF bytes of an EXIF holding only IFD0 Orientation (2..8)."""
    return canonical_orientation_exif(orientation)[10:]  # without APP1 marker, length, Exif\0\0


CANONICAL_ORIENTATION_TIFFS = frozenset(orientation_tiff(o) for o in range(2, 9))


def pillow_exif_orientation(untrusted_exif: bytes) -> int | None:
    """IFD0 Orientation as Pillow's `Exif.load` reads it (``Exif\0\0`` prefix optional, the
    last entry of the tag wins); None when absent or unreadable."""
    if untrusted_exif.startswith(b"Exif\x00\x00"):
        untrusted_exif = untrusted_exif[6:]
    found = None
    try:
        order: Literal["little", "big"] = "little" if untrusted_exif[:2] == b"II" else "big"
        for entry in ifd_entries(untrusted_exif):
            if entry.ifd != "ifd0":
                break
            if entry.tag == 0x0112 and entry.type in (3, 4) and entry.count >= 1:
                size = 2 if entry.type == 3 else 4
                at = entry.value_offset
                found = int.from_bytes(untrusted_exif[at : at + size], order)
    except (CorruptFileError, LimitExceededError, IndexError, ValueError):
        return found
    return found


XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')


def shown_orientation(orientation: int | None) -> int:
    """What `ImageOps.exif_transpose` does with a value: 2..8 turn or mirror, others nothing."""
    return orientation if orientation is not None and 2 <= orientation <= 8 else 1


def safe_tag(raw: bytes) -> str:
    """A chunk or block id for a report: letters and digits only, else hexadecimal."""
    if raw and all(48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or b == 32 for b in raw):
        return raw.decode("ascii").strip() or raw.hex()
    return raw.hex()


def zlib_stream_end(pieces: Sequence[bytes]) -> tuple[int, int] | None:
    """Where a zlib stream written across `pieces` ends (a PNG's IDAT chunks, one APNG
    frame's fdAT chunks, a Deflate TIFF strip): the index of the piece and how many of its
    bytes the stream uses. Decoders stop there and never show what follows: free room for
    any bytes. None when the stream never ends (a cut-off file); `CorruptFileError` when
    it cannot be inflated."""
    digest = hashlib.sha256()
    for piece in pieces:
        # Lengths too: the same bytes cut into other pieces end in another piece.
        digest.update(len(piece).to_bytes(8, "big"))
        digest.update(piece)
    key = digest.digest()
    if key in _KNOWN_STREAM_ENDS:
        return _KNOWN_STREAM_ENDS[key]
    end = _inflate_to_end(pieces)
    if len(_KNOWN_STREAM_ENDS) >= _KNOWN_STREAM_ENDS_KEPT:
        del _KNOWN_STREAM_ENDS[next(iter(_KNOWN_STREAM_ENDS))]
    _KNOWN_STREAM_ENDS[key] = end
    return end


def _inflate_to_end(pieces: Sequence[bytes]) -> tuple[int, int] | None:
    """Inflated in bounded pieces and thrown away: only the stream's end is wanted, and a
    bomb allocates nothing."""
    inflater = zlib.decompressobj()
    try:
        for index, piece in enumerate(pieces):
            view = memoryview(piece)
            fed = 0
            while fed < len(view) and not inflater.eof:
                part = view[fed : fed + INFLATE_STEP]
                fed += len(part)
                inflater.decompress(part, INFLATE_STEP)
                while inflater.unconsumed_tail and not inflater.eof:
                    inflater.decompress(inflater.unconsumed_tail, INFLATE_STEP)
            if inflater.eof:
                return index, fed - len(inflater.unused_data)
    except zlib.error as exc:
        raise CorruptFileError("corrupt compressed image data") from exc
    return None
