"""PNG, GIF, WebP, TIFF and BMP: lossless cleaning by rewriting the file's structure.

Each format is rewritten at the level of its chunks, blocks or tags, with a whitelist of what
decoding needs: the compressed pixel data is copied byte for byte, never decoded or
re-encoded. That is strictly lossless (16-bit colour, interlacing, animation timing, palettes
and lossy WebP bitstreams included, which a decode-and-re-encode through Pillow would change
or degrade), fast, and keeps decompression bombs harmless: no pixel is ever allocated, and
images whose header announces more than `Limits.max_pixels` are refused anyway.

Whatever is not on a whitelist goes: text chunks, XMP, EXIF, IPTC, Photoshop data, time
stamps, ICC profiles (their description and copyright are free text), comments, private
chunks, thumbnails, bytes after the end of the image. PNG and WebP keep one thing from their
EXIF/XMP: the orientation Pillow applies (from eXIf, ImageMagick's "Raw profile type exif"
text or XMP ``tiff:Orientation``), rewritten alone in a fresh EXIF, so the picture is shown
the same way.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Literal

from scrubbers._jpeg_segments import (
    EXIF_TAG_NAMES,
    canonical_orientation_exif,
    exif_field_names,
    ifd_entries,
)
from scrubbers._sniff import PNG, sniff
from scrubbers._types import Cleaned, Limits
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

_NOTE = "lossless: image data kept byte for byte, only metadata removed"


class ImageScrubber:
    file_types = ("png", "gif", "webp", "tiff", "bmp")

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        # The same walk as `remove_all`: whatever it would drop is what is present.
        try:
            return _clean(untrusted_data, limits)[1]
        except _OldStyleJpeg as found:
            return found.removed

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        try:
            data, removed = _clean(untrusted_data, limits)
        except _OldStyleJpeg as found:
            png = _old_style_jpeg_to_png(untrusted_data, limits)
            return Cleaned(png, tuple(found.removed), note=_OJPEG_NOTE, output_type=PNG)
        return Cleaned(data=data, removed=tuple(removed), note=_NOTE)


def _clean(untrusted_data: bytes, limits: Limits) -> tuple[bytes, list[str]]:
    cleaner = _CLEANERS.get(sniff(untrusted_data).name)
    if cleaner is None:
        raise UnsupportedTypeError("not an image type handled here")
    try:
        return cleaner(untrusted_data, limits)
    except (IndexError, ValueError) as exc:
        # A read past the end of a short file: the checks above should catch it first.
        raise CorruptFileError("malformed image structure") from exc


def _add(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)


def _check_pixels(width: int, height: int, limits: Limits) -> None:
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
def _orientation_tiff(orientation: int) -> bytes:
    """The TIFF bytes of an EXIF holding only IFD0 Orientation (2..8)."""
    return canonical_orientation_exif(orientation)[10:]  # without APP1 marker, length, Exif\0\0


_CANONICAL_ORIENTATION_TIFFS = frozenset(_orientation_tiff(o) for o in range(2, 9))


def _exif_orientation(untrusted_exif: bytes) -> int | None:
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


_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')


def _shown_orientation(orientation: int | None) -> int:
    """What `ImageOps.exif_transpose` does with a value: 2..8 turn or mirror, others nothing."""
    return orientation if orientation is not None and 2 <= orientation <= 8 else 1


def _safe_tag(raw: bytes) -> str:
    """A chunk or block id for a report: letters and digits only, else hexadecimal."""
    if raw and all(48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or b == 32 for b in raw):
        return raw.decode("ascii").strip() or raw.hex()
    return raw.hex()


# ---------------------------------------------------------------------------------------
# PNG (and APNG)
# ---------------------------------------------------------------------------------------

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
_MAX_CHUNKS = 1_000_000


def _png_chunk_name(ctype: bytes, payload: bytes) -> list[str]:
    if ctype == b"iTXt" and payload.startswith(b"XML:com.adobe.xmp\x00"):
        return ["xmp"]
    if ctype == b"eXIf":
        return exif_field_names(payload)
    if ctype == b"zTXt" and payload.startswith(b"Raw profile type exif\x00"):
        return ["exif"]
    if ctype == b"iCCP":
        return ["icc:profile"]
    return [f"png:{_safe_tag(ctype)}"]


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
_INFLATE_STEP = 1 << 20


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
        orientation = _exif_orientation(exif)
    elif raw_profile is not None:
        try:
            hexdigits = b"".join(raw_profile.split(b"\n")[3:]).decode("ascii")
            orientation = _exif_orientation(bytes.fromhex(hexdigits))
        except ValueError:
            orientation = None
    if orientation is None and xmp is not None:
        match = _XMP_ORIENTATION.search(xmp)
        orientation = int(match[2]) if match else None
    return _shown_orientation(orientation)


def _clean_png(untrusted_data: bytes, limits: Limits) -> tuple[bytes, list[str]]:
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
    while True:
        if pos + 12 > size:
            raise CorruptFileError("truncated PNG (no IEND)")
        chunks += 1
        if chunks > _MAX_CHUNKS:
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
            _add(removed, f"png:{_safe_tag(ctype)}")
        elif ctype in _PNG_KEEP:
            # A kept chunk is copied as is: check it is the one its writer meant.
            crc = int.from_bytes(data[end - 4 : end], "big")
            if zlib.crc32(data[pos + 4 : end - 4]) != crc:
                raise CorruptFileError("PNG chunk checksum mismatch")
            if ctype == b"IHDR":
                width = int.from_bytes(data[pos + 8 : pos + 12], "big")
                height = int.from_bytes(data[pos + 12 : pos + 16], "big")
                colour_type = data[pos + 17]
                _check_pixels(width, height, limits)
            if ctype in (b"IDAT", b"fcTL") and not first_idat:
                first_idat = len(out)  # APNG: before the default image's frame control too
            saw_idat = saw_idat or ctype == b"IDAT"
            if ctype == b"IDAT":
                idat_indices.append(len(out))
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
            if ctype != b"eXIf" or payload not in _CANONICAL_ORIENTATION_TIFFS:
                for name in _png_chunk_name(ctype, payload):
                    _add(removed, name)
        pos = end
        if ctype == b"IEND":
            break
    if not saw_idat:
        raise CorruptFileError("PNG without image data")
    if pos < size:
        _add(removed, "png:trailing-data")
    if _trim_image_data(out, idat_indices):
        _add(removed, "png:data-after-image")
    orientation = _png_orientation(exif, raw_profile, xmp)
    if orientation != 1:
        # PNG 3rd edition: eXIf comes before the first IDAT.
        out.insert(first_idat, _png_chunk(b"eXIf", _orientation_tiff(orientation)))
    return b"".join(out), removed


def _trim_image_data(out: list[bytes], idat_indices: list[int]) -> bool:
    """Cut whatever follows the end of the image's zlib stream in its IDAT chunks (decoders
    stop at the stream's end and never show it: free room for any bytes). The compressed
    bytes up to the end are kept exactly: nothing is re-encoded. True when something was
    cut. A stream that never ends (a cut-off file) is left as it is."""
    inflater = zlib.decompressobj()
    for n, index in enumerate(idat_indices):
        payload = out[index][8:-4]
        view = memoryview(payload)
        fed = 0
        while fed < len(view) and not inflater.eof:
            # Inflated in bounded pieces and thrown away: only the stream's end is wanted.
            piece = view[fed : fed + _INFLATE_STEP]
            fed += len(piece)
            inflater.decompress(piece, _INFLATE_STEP)
            while inflater.unconsumed_tail and not inflater.eof:
                inflater.decompress(inflater.unconsumed_tail, _INFLATE_STEP)
        if inflater.eof:
            used = fed - len(inflater.unused_data)
            later = idat_indices[n + 1 :]
            if used == len(payload) and not later:
                return False
            out[index] = _png_chunk(b"IDAT", payload[:used]) if used else b""
            for other in later:
                out[other] = b""  # IDAT chunks after the stream's end: nothing but room
            return True
    return False


def _png_chunk(ctype: bytes, payload: bytes) -> bytes:
    body = ctype + payload
    return len(payload).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")


# ---------------------------------------------------------------------------------------
# GIF
# ---------------------------------------------------------------------------------------

_NETSCAPE_IDS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _gif_sub_blocks(data: bytes, pos: int) -> tuple[int, bytes]:
    """Skip a chain of sub-blocks; return (offset after the terminator, first sub-block)."""
    size = len(data)
    first = b""
    index = 0
    while True:
        if pos >= size:
            raise CorruptFileError("truncated GIF")
        length = data[pos]
        if length == 0:
            return pos + 1, first
        if pos + 1 + length > size:
            raise CorruptFileError("truncated GIF")
        if index == 0:
            first = data[pos + 1 : pos + 1 + length]
        index += 1
        pos += 1 + length


def _gif_extension(data: bytes, pos: int, out: list[bytes], removed: list[str]) -> int:
    label = data[pos + 1]
    end, first = _gif_sub_blocks(data, pos + 2)
    if label == 0xF9:
        # Graphic control (frame delay, disposal, transparency): rebuilt with its 4 bytes.
        if len(first) < 4:
            raise CorruptFileError("bad GIF graphic control block")
        out.append(b"\x21\xf9\x04" + first[:4] + b"\x00")
    elif label == 0xFF:
        if first in _NETSCAPE_IDS:
            loop_at = pos + 2 + 1 + len(first)
            _, loop = _gif_sub_blocks(data, loop_at)
            if len(loop) >= 3 and loop[0] == 1:
                # The loop count is the only thing an animation needs: rebuilt canonical.
                out.append(b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + loop[1:3] + b"\x00")
                canonical_end = loop_at + 1 + len(loop) + 1
                if end != canonical_end or len(loop) != 3 or first != _NETSCAPE_IDS[0]:
                    _add(removed, "gif:application")
            else:
                _add(removed, "gif:application")
        elif first.startswith(b"XMP Data"):
            _add(removed, "xmp")
        elif first.startswith(b"ICCRGBG1"):
            _add(removed, "icc:profile")
        else:
            _add(removed, "gif:application")
    elif label == 0xFE:
        _add(removed, "gif:comment")
    elif label == 0x01:
        _add(removed, "gif:plain-text")
    else:
        _add(removed, f"gif:extension-0x{label:02X}")
    return end


def _clean_gif(untrusted_data: bytes, limits: Limits) -> tuple[bytes, list[str]]:
    data = untrusted_data
    size = len(data)
    if size < 13:
        raise CorruptFileError("truncated GIF")
    _check_pixels(int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little"), limits)
    packed = data[10]
    pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    if pos > size:
        raise CorruptFileError("truncated GIF")
    out = [data[:pos]]  # header, screen descriptor, global palette
    removed: list[str] = []
    frames = 0
    while True:
        if pos >= size:
            raise CorruptFileError("truncated GIF (no trailer)")
        block = data[pos]
        if block == 0x3B:
            pos += 1
            break
        if block == 0x21:
            if pos + 2 > size:
                raise CorruptFileError("truncated GIF")
            pos = _gif_extension(data, pos, out, removed)
        elif block == 0x2C:
            if pos + 11 > size:
                raise CorruptFileError("truncated GIF")
            width = int.from_bytes(data[pos + 5 : pos + 7], "little")
            height = int.from_bytes(data[pos + 7 : pos + 9], "little")
            _check_pixels(width, height, limits)
            packed = data[pos + 9]
            start = pos + 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
            end, _ = _gif_sub_blocks(data, start + 1)  # +1: the LZW minimum code size
            out.append(data[pos:end])
            frames += 1
            pos = end
        elif frames:
            # Decoders stop at an unknown block: what follows is not part of the image.
            _add(removed, "gif:trailing-data")
            pos = size
            break
        else:
            raise CorruptFileError("bad GIF block")
    if not frames:
        raise CorruptFileError("GIF without an image")
    out.append(b"\x3b")
    if pos < size:
        _add(removed, "gif:trailing-data")
    return b"".join(out), removed


# ---------------------------------------------------------------------------------------
# WebP (RIFF)
# ---------------------------------------------------------------------------------------

_WEBP_IMAGE = frozenset({b"VP8 ", b"VP8L", b"ALPH"})
_VP8X_KEEP_FLAGS = 0x12  # alpha, animation; ICC (0x20), EXIF (0x08), XMP (0x04) go
_VP8X_KNOWN_FLAGS = 0x3E
_VP8X_EXIF_FLAG = 0x08


def _webp_frame_size(fourcc: bytes, payload: bytes, limits: Limits) -> None:
    if fourcc == b"VP8 " and len(payload) >= 10 and payload[3:6] == b"\x9d\x01\x2a":
        width = int.from_bytes(payload[6:8], "little") & 0x3FFF
        height = int.from_bytes(payload[8:10], "little") & 0x3FFF
        _check_pixels(width, height, limits)
    elif fourcc == b"VP8L" and len(payload) >= 5 and payload[0] == 0x2F:
        bits = int.from_bytes(payload[1:5], "little")
        _check_pixels((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, limits)
    elif fourcc in (b"VP8 ", b"VP8L"):
        raise CorruptFileError("bad WebP bitstream header")


def _riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    # The pad byte is written as zero: a non-zero one would be a byte of hidden data.
    pad = b"\x00" if len(payload) & 1 else b""
    return fourcc + len(payload).to_bytes(4, "little") + payload + pad


def _riff_chunks(data: bytes, pos: int, end: int) -> list[tuple[bytes, bytes]]:
    chunks = []
    while pos < end:
        if pos + 8 > end:
            raise CorruptFileError("truncated WebP chunk")
        fourcc = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        stop = pos + 8 + length
        if stop > end:
            raise CorruptFileError("truncated WebP chunk")
        chunks.append((fourcc, data[pos + 8 : stop]))
        if len(chunks) > _MAX_CHUNKS:
            raise LimitExceededError("too many WebP chunks")
        pos = stop + (length & 1)
    return chunks


def _webp_metadata_name(fourcc: bytes, payload: bytes) -> list[str]:
    if fourcc == b"EXIF":
        return exif_field_names(payload[6:] if payload.startswith(b"Exif\x00\x00") else payload)
    if fourcc == b"XMP ":
        return ["xmp"]
    if fourcc == b"ICCP":
        return ["icc:profile"]
    return [f"webp:{_safe_tag(fourcc)}"]


def _clean_webp(untrusted_data: bytes, limits: Limits) -> tuple[bytes, list[str]]:
    data = untrusted_data
    if len(data) < 12:
        raise CorruptFileError("truncated WebP")
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > len(data) or end < 12:
        raise CorruptFileError("truncated WebP")
    removed: list[str] = []
    out: list[bytes] = []
    has_image = False
    vp8x_at: int | None = None  # index in `out` of the extended header
    exif: bytes | None = None
    xmp: bytes | None = None
    for fourcc, payload in _riff_chunks(data, 12, end):
        if fourcc == b"VP8X":
            vp8x_at = len(out)
            if len(payload) < 10:
                raise CorruptFileError("bad WebP VP8X chunk")
            width = int.from_bytes(payload[4:7], "little") + 1
            height = int.from_bytes(payload[7:10], "little") + 1
            _check_pixels(width, height, limits)
            flags = payload[0]
            if flags & ~_VP8X_KNOWN_FLAGS or payload[1:4] != b"\x00\x00\x00" or len(payload) > 10:
                _add(removed, "webp:VP8X")
            out.append(
                _riff_chunk(b"VP8X", bytes([flags & _VP8X_KEEP_FLAGS, 0, 0, 0]) + payload[4:10])
            )
        elif fourcc in _WEBP_IMAGE:
            _webp_frame_size(fourcc, payload, limits)
            has_image = has_image or fourcc != b"ALPH"
            out.append(_riff_chunk(fourcc, payload))
        elif fourcc == b"ANIM":
            if len(payload) != 6:
                raise CorruptFileError("bad WebP ANIM chunk")
            out.append(_riff_chunk(fourcc, payload))
        elif fourcc == b"ANMF":
            out.append(_riff_chunk(fourcc, _clean_webp_frame(payload, removed, limits)))
            has_image = True
        else:
            if fourcc == b"EXIF" and exif is None:
                exif = payload  # libwebp's demuxer (Pillow's reader) gives the first
            elif fourcc == b"XMP " and xmp is None:
                xmp = payload
            if fourcc != b"EXIF" or payload not in _CANONICAL_ORIENTATION_TIFFS:
                for name in _webp_metadata_name(fourcc, payload):
                    _add(removed, name)
    if not has_image:
        raise CorruptFileError("WebP without image data")
    if end < len(data):
        _add(removed, "webp:trailing-data")
    # The orientation Pillow applies (EXIF is read only with the extended header, whose EXIF
    # flag announces it): kept alone, in a fresh EXIF chunk at the end, where the container
    # specification puts it.
    orientation = 1
    if vp8x_at is not None:
        found = _exif_orientation(exif) if exif is not None else None
        if found is None and xmp is not None and (match := _XMP_ORIENTATION.search(xmp)):
            found = int(match[2])
        orientation = _shown_orientation(found)
    if orientation != 1 and vp8x_at is not None:
        header = bytearray(out[vp8x_at])
        header[8] |= _VP8X_EXIF_FLAG
        out[vp8x_at] = bytes(header)
        out.append(_riff_chunk(b"EXIF", _orientation_tiff(orientation)))
    body = b"WEBP" + b"".join(out)
    return b"RIFF" + len(body).to_bytes(4, "little") + body, removed


def _clean_webp_frame(payload: bytes, removed: list[str], limits: Limits) -> bytes:
    """An animation frame: 16 bytes of position/duration, then its own image chunks."""
    if len(payload) < 16:
        raise CorruptFileError("bad WebP animation frame")
    width = int.from_bytes(payload[6:9], "little") + 1
    height = int.from_bytes(payload[9:12], "little") + 1
    _check_pixels(width, height, limits)
    parts = [payload[:16]]
    has_image = False
    for fourcc, sub in _riff_chunks(payload, 16, len(payload)):
        if fourcc in _WEBP_IMAGE:
            _webp_frame_size(fourcc, sub, limits)
            has_image = has_image or fourcc != b"ALPH"
            parts.append(_riff_chunk(fourcc, sub))
        else:
            for name in _webp_metadata_name(fourcc, sub):
                _add(removed, name)
    if not has_image:
        raise CorruptFileError("WebP animation frame without image data")
    return b"".join(parts)


# ---------------------------------------------------------------------------------------
# BMP
# ---------------------------------------------------------------------------------------

_BMP_HEADERS = frozenset({12, 40, 52, 56, 64, 108, 124})
_LCS_LINKED = 0x4C494E4B  # 'LINK': the profile is a file path (often with a user name)
_LCS_EMBEDDED = 0x4D424544  # 'MBED': a whole ICC profile
_LCS_SRGB = 0x73524742


def _clean_bmp(untrusted_data: bytes, limits: Limits) -> tuple[bytes, list[str]]:
    data = untrusted_data
    if len(data) < 26:
        raise CorruptFileError("truncated BMP")
    pixel_offset = int.from_bytes(data[10:14], "little")
    header_size = int.from_bytes(data[14:18], "little")
    if header_size not in _BMP_HEADERS or 14 + header_size > len(data):
        raise CorruptFileError("unsupported or truncated BMP header")
    header = bytearray(data[14 : 14 + header_size])
    removed: list[str] = []
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        width = int.from_bytes(header[4:6], "little")
        height = int.from_bytes(header[6:8], "little")
        bits = int.from_bytes(header[10:12], "little")
        compression, image_size, colours_used, entry = 0, 0, 0, 3
    else:
        width = int.from_bytes(header[4:8], "little", signed=True)
        height = abs(int.from_bytes(header[8:12], "little", signed=True))
        bits = int.from_bytes(header[14:16], "little")
        compression = int.from_bytes(header[16:20], "little")
        image_size = int.from_bytes(header[20:24], "little")
        colours_used = int.from_bytes(header[32:36], "little")
        entry = 4
    _check_pixels(width, height, limits)
    if bits not in (1, 2, 4, 8, 16, 24, 32, 64):
        raise CorruptFileError("bad BMP bit depth")
    masks = 0
    if header_size == 40 and compression in (3, 6):  # BI_BITFIELDS / BI_ALPHABITFIELDS
        masks = 12 if compression == 3 else 16
    if header_size == 64 and compression not in (0, 1, 2):
        raise UnsupportedTypeError("OS/2 BMP compression")
    if compression in (4, 5):
        # BI_JPEG / BI_PNG: a whole JPEG or PNG file, with its own metadata, inside.
        raise UnsupportedTypeError("BMP holding a JPEG or PNG")
    if colours_used > 256 and bits <= 8:
        # A palette image whose header declares more than 256 colours: no reader can tell
        # where the palette ends (Pillow fails, "invalid palette size"; bmpsuite's
        # q/pal8oversizepal.bmp), so neither can the cleaner.
        raise CorruptFileError("BMP palette larger than 256 colours")
    if colours_used > 256 or (colours_used == 0 and bits <= 8):
        colours_used = 1 << bits if colours_used == 0 else 256
        if header_size != 12 and int.from_bytes(header[32:36], "little") > 256:
            # An optional colour table of a true-colour image, cut to 256 entries: the
            # header says so, so that it agrees with what is written.
            header[32:36] = colours_used.to_bytes(4, "little")
    palette_end = 14 + header_size + masks + colours_used * entry
    if compression in (0, 3, 6):
        pixel_bytes = ((bits * width + 31) // 32) * 4 * height
    elif compression in (1, 2) and image_size > 0:  # RLE8 / RLE4
        pixel_bytes = image_size
    else:
        raise CorruptFileError("unsupported BMP compression")
    if palette_end > pixel_offset or pixel_offset + pixel_bytes > len(data):
        raise CorruptFileError("truncated BMP")
    if header_size >= 108:
        cs_type = int.from_bytes(header[56:60], "little")
        if cs_type in (_LCS_LINKED, _LCS_EMBEDDED):
            _add(removed, "icc:profile")
            header[56:60] = _LCS_SRGB.to_bytes(4, "little")
            header[60:108] = bytes(48)  # end points and gamma, unused with sRGB
        if header_size == 124:
            if header[112:124] != bytes(12):
                _add(removed, "icc:profile")
            header[112:124] = bytes(12)  # profile offset, size, reserved
    if pixel_offset > palette_end:
        _add(removed, "bmp:hidden-data")  # a gap between palette and pixels
    if pixel_offset + pixel_bytes < len(data) and "icc:profile" not in removed:
        _add(removed, "bmp:trailing-data")
    head = bytes(header) + data[14 + header_size : palette_end]
    total = 14 + len(head) + pixel_bytes
    file_header = (
        b"BM" + total.to_bytes(4, "little") + bytes(4) + (14 + len(head)).to_bytes(4, "little")
    )
    return file_header + head + data[pixel_offset : pixel_offset + pixel_bytes], removed


# ---------------------------------------------------------------------------------------
# TIFF
# ---------------------------------------------------------------------------------------

# Tags a reader needs to decode and lay out the pixels. All numeric; none holds free text.
_TIFF_KEEP = frozenset(
    {
        254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 274, 277, 278, 279, 280, 281, 282,
        283, 284, 290, 291, 292, 293, 296, 297, 301, 317, 318, 319, 320, 321, 322, 323, 324,
        325, 332, 334, 338, 339, 340, 341, 347, 529, 530, 531, 532,
    }
)  # fmt: skip
_TIFF_NAMES = {
    **EXIF_TAG_NAMES,
    0x0132: "ModifyDate",
    0x02BC: "XMP",
    0x83BB: "IPTC",
    0x8773: "ICCProfile",
    0x014A: "SubIFD",
    0x014D: "InkNames",
    0x935C: "ImageSourceData",
}
_TIFF_FIELD = {0x02BC: "xmp", 0x83BB: "iptc", 0x8773: "icc:profile"}
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_STRIPS = ((273, 279), (324, 325))  # (offsets, byte counts) for strips and for tiles


def _tiff_name(ifd: str, tag: int) -> str:
    if ifd in ("exif", "gps", "interop"):
        return "exif:GPS" if ifd == "gps" else "exif:" + EXIF_TAG_NAMES.get(tag, f"0x{tag:04X}")
    if ifd == "subifd":
        return "tiff:SubIFD"
    if tag == 0x8769:
        return "exif"
    if tag == 0x8825:
        return "exif:GPS"
    if tag in _TIFF_FIELD:
        return _TIFF_FIELD[tag]
    return "tiff:" + _TIFF_NAMES.get(tag, f"0x{tag:04X}")


class _TiffReader:
    def __init__(self, untrusted_data: bytes) -> None:
        self.data = untrusted_data
        self.order: Literal["little", "big"] = "little" if untrusted_data[:2] == b"II" else "big"

    def first(self, field: tuple[int, int, int] | None) -> int:
        """The first number of a field (0 when absent)."""
        if field is None:
            return 0
        typ, count, at = field
        if count < 1:
            raise CorruptFileError("empty TIFF field")
        return self.numbers(typ, 1, at)[0]

    def uint(self, at: int, size: int) -> int:
        if at + size > len(self.data):
            raise CorruptFileError("TIFF value out of range")
        return int.from_bytes(self.data[at : at + size], self.order)

    def value_bytes(self, typ: int, count: int, value_at: int) -> bytes:
        size = _TYPE_SIZES.get(typ)
        if size is None:
            raise CorruptFileError("bad TIFF field type")
        length = size * count
        at = value_at if length <= 4 else self.uint(value_at, 4)
        if at + length > len(self.data):
            raise CorruptFileError("TIFF value out of range")
        return self.data[at : at + length]

    def numbers(self, typ: int, count: int, value_at: int) -> list[int]:
        size = {3: 2, 4: 4, 16: 8}.get(typ)
        if size is None:
            raise CorruptFileError("bad TIFF offset type")
        raw = self.value_bytes(typ, count, value_at)
        order = self.order
        return [int.from_bytes(raw[i : i + size], order) for i in range(0, len(raw), size)]


def _clean_tiff(untrusted_data: bytes, limits: Limits) -> tuple[bytes, list[str]]:
    reader = _TiffReader(untrusted_data)
    removed: list[str] = []
    pages: dict[str, list[tuple[int, int, int, int]]] = {}
    for entry in ifd_entries(untrusted_data):
        if entry.ifd.startswith("ifd"):
            pages.setdefault(entry.ifd, []).append(
                (entry.tag, entry.type, entry.count, entry.value_offset)
            )
        if entry.tag == 50706:
            # DNG: the raw image lives in a sub-IFD next to previews; not handled here.
            raise UnsupportedTypeError("DNG raw image")
        if not entry.ifd.startswith("ifd") or entry.tag not in _TIFF_KEEP:
            _add(removed, _tiff_name(entry.ifd, entry.tag))
    out = bytearray(untrusted_data[:4] + bytes(4))
    next_pointer_at = 4  # where the offset of the next IFD is to be written
    kept_pages = 0
    for page in pages.values():
        tags = {tag: (typ, count, at) for tag, typ, count, at in page}
        if reader.first(tags.get(254)) & 1:
            # A reduced-resolution copy (a thumbnail, perhaps of the picture before it was
            # cropped): not the image itself.
            _add(removed, "tiff:thumbnail")
            continue
        _check_pixels(reader.first(tags.get(256)), reader.first(tags.get(257)), limits)
        if reader.first(tags.get(259)) == 6:
            # Old-style JPEG (TIFF 6.0 section 22, withdrawn): the strips are pieces of a JPEG
            # whose tables live in other tags or in a whole JPEG file pointed at by offset
            # (JPEGInterchangeFormat, with its own APP segments), in ways writers disagree
            # on; only libtiff's heuristics read them. Converted instead, from what libtiff
            # decodes (through Pillow), like HEIF.
            if len(pages) > 1:
                raise UnsupportedTypeError("multi-page old-style JPEG TIFF")
            raise _OldStyleJpeg(removed)
        _write_tiff_page(reader, tags, out, next_pointer_at, limits)
        next_pointer_at = len(out) - 4
        kept_pages += 1
    if not kept_pages:
        raise CorruptFileError("TIFF without a full-size image")
    return bytes(out), removed


def _write_tiff_page(
    reader: _TiffReader,
    tags: dict[int, tuple[int, int, int]],
    out: bytearray,
    next_pointer_at: int,
    limits: Limits,
) -> None:
    order = reader.order
    kept = {tag: value for tag, value in tags.items() if tag in _TIFF_KEEP}
    new_values: dict[int, tuple[int, int, bytes]] = {}
    for offsets_tag, counts_tag in _STRIPS:
        if offsets_tag not in kept:
            continue
        if counts_tag not in kept:
            raise CorruptFileError("TIFF strips without byte counts")
        offsets = reader.numbers(*kept[offsets_tag])
        counts = reader.numbers(*kept[counts_tag])
        if len(offsets) != len(counts):
            raise CorruptFileError("TIFF strip tables disagree")
        new_offsets = []
        for offset, count in zip(offsets, counts, strict=True):
            if offset + count > len(reader.data):
                raise CorruptFileError("truncated TIFF image data")
            if len(out) + count > limits.max_output_bytes:
                raise LimitExceededError("TIFF image data too large")
            new_offsets.append(len(out))
            out += reader.data[offset : offset + count]
            if len(out) & 1:
                out += b"\x00"
        packed = b"".join(o.to_bytes(4, order) for o in new_offsets)
        new_values[offsets_tag] = (4, len(new_offsets), packed)
    if 273 not in new_values and 324 not in new_values:
        raise CorruptFileError("TIFF page without image data")
    for tag, (typ, count, at) in kept.items():
        if tag not in new_values:
            new_values[tag] = (typ, count, reader.value_bytes(typ, count, at))
    entries = sorted(new_values.items())
    # Out-of-line values first, then the directory that points at them.
    placed: list[tuple[int, int, int, bytes]] = []
    for tag, (typ, count, raw) in entries:
        if len(raw) > 4:
            at = len(out)
            out += raw + (b"\x00" if len(raw) & 1 else b"")
            placed.append((tag, typ, count, at.to_bytes(4, order)))
        else:
            placed.append((tag, typ, count, raw.ljust(4, b"\x00")))
    ifd_at = len(out)
    out[next_pointer_at : next_pointer_at + 4] = ifd_at.to_bytes(4, order)
    out += len(placed).to_bytes(2, order)
    for tag, typ, count, value in placed:
        out += tag.to_bytes(2, order) + typ.to_bytes(2, order) + count.to_bytes(4, order)
        out += value
    out += bytes(4)  # next IFD: patched when another page follows


class _OldStyleJpeg(Exception):  # a signal between two functions, not an error
    """Raised by the TIFF walk for an old-style JPEG page, with the fields the walk found."""

    def __init__(self, removed: list[str]) -> None:
        super().__init__("old-style JPEG TIFF")
        self.removed = removed


# A phrase the server knows (leakdrop/server/i18n.py `_NOTE_KEYS`): the pixels libtiff
# decodes, written losslessly, the orientation applied to them.
_OJPEG_NOTE = "converted to PNG (lossless)"
# What Pillow and libtiff raise on image data they cannot decode.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, KeyError, TypeError, IndexError)


def _old_style_jpeg_to_png(untrusted_data: bytes, limits: Limits) -> bytes:
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(untrusted_data), formats=["TIFF"]) as image:
            if image.size[0] * image.size[1] > limits.max_pixels:
                raise LimitExceededError("image dimensions too large")
            image.load()
            # The orientation tag does not follow into the PNG: applied to the pixels.
            upright = ImageOps.exif_transpose(image)
            mode = upright.mode if upright.mode in ("1", "L", "LA", "RGB", "RGBA") else "RGB"
            pixels = upright.convert(mode)
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        raise CorruptFileError("unreadable old-style JPEG TIFF") from exc
    # A new image from the pixel buffer alone: Pillow's PNG writer would otherwise copy the
    # ICC profile, DPI and text it finds in `info`.
    bare = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    bare.save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()


_CLEANERS: dict[str, Callable[[bytes, Limits], tuple[bytes, list[str]]]] = {
    "png": _clean_png,
    "gif": _clean_gif,
    "webp": _clean_webp,
    "bmp": _clean_bmp,
    "tiff": _clean_tiff,
}
