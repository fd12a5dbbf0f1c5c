"""PNG and APNG: the chunks decoding needs, the image data up to its zlib stream's end."""

from __future__ import annotations

import zlib

from scrubbers._exif import exif_field_names
from scrubbers._image_common import (
    CANONICAL_ORIENTATION_TIFFS,
    MAX_CHUNKS,
    XMP_ORIENTATION,
    add_name,
    check_pixels,
    orientation_tiff,
    pillow_exif_orientation,
    safe_tag,
    shown_orientation,
    zlib_stream_end,
)
from scrubbers._types import Limits
from scrubbers.errors import CorruptFileError, LimitExceededError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Critical chunks, transparency, animation and the numeric colour-rendering chunks. No chunk
# here holds free text. Dropped among others: tEXt, zTXt, iTXt (XMP), eXIf, tIME, iCCP,
# sPLT and pCAL (named), oFFs, caBX (C2PA) and every private chunk.
_PNG_KEEP = frozenset(
    {
        b"IHDR",
        b"PLTE",
        b"IDAT",
        b"IEND",
        b"tRNS",
        b"gAMA",
        b"cHRM",
        b"sRGB",
        b"sBIT",
        b"bKGD",
        b"pHYs",
        b"cICP",
        b"acTL",
        b"fcTL",
        b"fdAT",
    }
)


def _png_chunk_name(ctype: bytes, payload: bytes) -> list[str]:
    if ctype == b"iTXt" and payload.startswith(b"XML:com.adobe.xmp\x00"):
        return ["xmp"]
    if ctype == b"eXIf":
        return exif_field_names(payload)
    if ctype == b"zTXt" and payload.startswith(b"Raw profile type exif\x00"):
        return ["exif"]
    if ctype == b"iCCP":
        return ["icc:profile"]
    return [f"png:{safe_tag(ctype)}"]


# The exact sizes of the kept chunks that hold fixed numeric fields (PNG 3rd edition, 11.2-11.3,
# APNG): by colour type where it matters (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA).
_PNG_SIZES: dict[bytes, int] = {
    b"IHDR": 13, b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9, b"cICP": 4, b"acTL": 8,
    b"fcTL": 26, b"IEND": 0,
}  # fmt: skip
_PNG_SBIT = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
_PNG_BKGD = {0: 2, 2: 6, 3: 1, 4: 2, 6: 6}
_PNG_TRNS = {0: 2, 2: 6}


def _png_size_ok(ctype: bytes, length: int, colour_type: int) -> bool:
    if ctype in _PNG_SIZES:
        return length == _PNG_SIZES[ctype]
    if ctype == b"PLTE":
        return 0 < length <= 768 and length % 3 == 0
    if ctype == b"sBIT":
        return length == _PNG_SBIT.get(colour_type)
    if ctype == b"bKGD":
        return length == _PNG_BKGD.get(colour_type)
    if ctype == b"tRNS":
        return length <= 256 if colour_type == 3 else length == _PNG_TRNS.get(colour_type)
    return True  # IDAT, fdAT (compressed image data), IEND (checked empty below)


def _png_text(ctype: bytes, payload: bytes) -> tuple[bytes, bytes] | None:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk as Pillow decodes it; None otherwise."""
    keyword, sep, rest = payload.partition(b"\x00")
    if not sep:
        return None
    try:
        if ctype == b"tEXt":
            return keyword, rest
        if ctype == b"zTXt":
            if not rest or rest[0] != 0:
                return None
            return keyword, _inflate_bounded(rest[1:])
        if ctype == b"iTXt":
            if len(rest) < 2:
                return None
            flag, method, rest = rest[0], rest[1], rest[2:]
            parts = rest.split(b"\x00", 2)
            if len(parts) != 3:
                return None
            text = parts[2]
            if flag:
                if method != 0:
                    return None
                text = _inflate_bounded(text)
            return keyword, text
    except zlib.error:
        return None
    return None


_MAX_TEXT_INFLATE = 16 << 20  # a text chunk that inflates further is not read for orientation


def _inflate_bounded(compressed: bytes) -> bytes:
    inflater = zlib.decompressobj()
    text = inflater.decompress(compressed, _MAX_TEXT_INFLATE)
    if inflater.unconsumed_tail:
        raise zlib.error("text chunk too large")
    return text


def _png_orientation(exif: bytes | None, raw_profile: bytes | None, xmp: bytes | None) -> int:
    """The orientation Pillow applies to a PNG (`Image.getexif`): the eXIf chunk, else the
    ImageMagick "Raw profile type exif" text (hex after three header lines), and, when neither
    has the tag, XMP ``tiff:Orientation``."""
    orientation = None
    if exif is not None:
        orientation = pillow_exif_orientation(exif)
    elif raw_profile is not None:
        try:
            hexdigits = b"".join(raw_profile.split(b"\n")[3:]).decode("ascii")
            orientation = pillow_exif_orientation(bytes.fromhex(hexdigits))
        except ValueError:
            orientation = None
    if orientation is None and xmp is not None:
        match = XMP_ORIENTATION.search(xmp)
        orientation = int(match[2]) if match else None
    return shown_orientation(orientation)


def clean_png(untrusted_data: bytes, limits: Limits) -> tuple[bytes, list[str]]:
    data = untrusted_data
    size = len(data)
    out = [_PNG_SIGNATURE]
    removed: list[str] = []
    pos = len(_PNG_SIGNATURE)
    chunks = 0
    saw_idat = False
    first_idat = 0  # index in `out` where the orientation eXIf goes (before image data)
    exif: bytes | None = None
    raw_profile: bytes | None = None
    xmp: bytes | None = None
    colour_type = -1
    idat_indices: list[int] = []
    frames: list[list[int]] = []  # per APNG frame, the indices in `out` of its fdAT chunks
    sequenced: list[int] = []  # indices in `out` of the fcTL and fdAT chunks
    while True:
        if pos + 12 > size:
            raise CorruptFileError("truncated PNG (no IEND)")
        chunks += 1
        if chunks > MAX_CHUNKS:
            raise LimitExceededError("too many PNG chunks")
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > size:
            raise CorruptFileError("truncated PNG chunk")
        if not ctype.isalpha():
            raise CorruptFileError("bad PNG chunk type")
        if chunks == 1 and ctype != b"IHDR":
            raise CorruptFileError("PNG does not start with IHDR")
        if ctype in _PNG_KEEP and not _png_size_ok(ctype, length, colour_type):
            # An allowlisted numeric chunk longer than its fields: the rest would be copied
            # with it, free bytes for any text. A decoder skips such a chunk; so does this.
            if ctype in (b"IHDR", b"PLTE", b"IEND"):
                raise CorruptFileError("bad PNG critical chunk size")
            add_name(removed, f"png:{safe_tag(ctype)}")
        elif ctype in _PNG_KEEP:
            # A kept chunk is copied as is: check it is the one its writer meant.
            crc = int.from_bytes(data[end - 4 : end], "big")
            if zlib.crc32(data[pos + 4 : end - 4]) != crc:
                raise CorruptFileError("PNG chunk checksum mismatch")
            if ctype == b"IHDR":
                width = int.from_bytes(data[pos + 8 : pos + 12], "big")
                height = int.from_bytes(data[pos + 12 : pos + 16], "big")
                colour_type = data[pos + 17]
                check_pixels(width, height, limits)
            if ctype in (b"IDAT", b"fcTL") and not first_idat:
                first_idat = len(out)  # APNG: before the default image's frame control too
            saw_idat = saw_idat or ctype == b"IDAT"
            if ctype == b"IDAT":
                idat_indices.append(len(out))
            elif ctype == b"fcTL":
                frames.append([])
                sequenced.append(len(out))
            elif ctype == b"fdAT":
                if not frames:
                    frames.append([])
                frames[-1].append(len(out))
                sequenced.append(len(out))
            out.append(data[pos:end])
        else:
            payload = data[pos + 8 : end - 4]
            if ctype == b"eXIf":
                exif = payload  # Pillow keeps the last one
            elif (text := _png_text(ctype, payload)) is not None:
                if text[0] == b"Raw profile type exif":
                    raw_profile = text[1]
                elif text[0] == b"XML:com.adobe.xmp":
                    xmp = text[1]
            if ctype != b"eXIf" or payload not in CANONICAL_ORIENTATION_TIFFS:
                for name in _png_chunk_name(ctype, payload):
                    add_name(removed, name)
        pos = end
        if ctype == b"IEND":
            break
    if not saw_idat:
        raise CorruptFileError("PNG without image data")
    if pos < size:
        add_name(removed, "png:trailing-data")
    trimmed = _trim_zlib_chunks(out, idat_indices, 0)
    trimmed_frames = [_trim_zlib_chunks(out, fdat, 4) for fdat in frames if fdat]
    if any(trimmed_frames):
        _renumber_frames(out, sequenced)
    if trimmed or any(trimmed_frames):
        add_name(removed, "png:data-after-image")
    orientation = _png_orientation(exif, raw_profile, xmp)
    if orientation != 1:
        # PNG 3rd edition: eXIf comes before the first IDAT.
        out.insert(first_idat, _png_chunk(b"eXIf", orientation_tiff(orientation)))
    return b"".join(out), removed


def _trim_zlib_chunks(out: list[bytes], indices: list[int], prefix: int) -> bool:
    """Cut whatever follows the end of the zlib stream in the chunks `out[indices]` (the
    IDAT chunks, or one frame's fdAT chunks after their `prefix`-byte sequence number). The
    compressed bytes up to the end are kept exactly: nothing is re-encoded. Chunks after
    the end become empty entries. True when something was cut; a stream that never ends (a
    cut-off file) is left as it is."""
    payloads = [out[index][8 + prefix : -4] for index in indices]
    end = zlib_stream_end(payloads)
    if end is None:
        return False
    last, used = end
    if used == len(payloads[last]) and last == len(indices) - 1:
        return False
    chunk = out[indices[last]]
    head = chunk[8 : 8 + prefix]
    out[indices[last]] = _png_chunk(chunk[4:8], head + payloads[last][:used]) if used else b""
    for other in indices[last + 1 :]:
        out[other] = b""  # chunks after the stream's end: nothing but room
    return True


def _renumber_frames(out: list[bytes], sequenced: list[int]) -> None:
    """APNG numbers its fcTL and fdAT chunks in one sequence that readers check (Pillow:
    "APNG contains frame sequence errors"): after dropped fdAT chunks, the later ones move
    down by as many."""
    dropped = 0
    for index in sequenced:
        chunk = out[index]
        if not chunk:
            dropped += 1
        elif dropped:
            number = (int.from_bytes(chunk[8:12], "big") - dropped) % (1 << 32)
            out[index] = _png_chunk(chunk[4:8], number.to_bytes(4, "big") + chunk[12:-4])


def _png_chunk(ctype: bytes, payload: bytes) -> bytes:
    body = ctype + payload
    return len(payload).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
