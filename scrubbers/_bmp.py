"""BMP: headers, palette and pixel rows; colour profiles and gaps go."""

from __future__ import annotations

from scrubbers._image_common import add_name, check_pixels
from scrubbers._types import Limits
from scrubbers.errors import CorruptFileError, UnsupportedTypeError

_BMP_HEADERS = frozenset({12, 40, 52, 56, 64, 108, 124})
_LCS_LINKED = 0x4C494E4B  # 'LINK': the profile is a file path (often with a user name)
_LCS_EMBEDDED = 0x4D424544  # 'MBED': a whole ICC profile
_LCS_SRGB = 0x73524742


def clean_bmp(untrusted_data: bytes, limits: Limits) -> tuple[bytes, list[str]]:
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
    check_pixels(width, height, limits)
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
            add_name(removed, "icc:profile")
            header[56:60] = _LCS_SRGB.to_bytes(4, "little")
            header[60:108] = bytes(48)  # end points and gamma, unused with sRGB
        if header_size == 124:
            if header[112:124] != bytes(12):
                add_name(removed, "icc:profile")
            header[112:124] = bytes(12)  # profile offset, size, reserved
    if pixel_offset > palette_end:
        add_name(removed, "bmp:hidden-data")  # a gap between palette and pixels
    if pixel_offset + pixel_bytes < len(data) and "icc:profile" not in removed:
        add_name(removed, "bmp:trailing-data")
    head = bytes(header) + data[14 + header_size : palette_end]
    total = 14 + len(head) + pixel_bytes
    file_header = (
        b"BM" + total.to_bytes(4, "little") + bytes(4) + (14 + len(head)).to_bytes(4, "little")
    )
    return file_header + head + data[pixel_offset : pixel_offset + pixel_bytes], removed
