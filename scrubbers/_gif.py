"""GIF: image descriptors and their LZW data, graphic control and the loop count."""

from __future__ import annotations

from scrubbers._image_common import add_name, check_pixels
from scrubbers._types import Limits
from scrubbers.errors import CorruptFileError

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
                    add_name(removed, "gif:application")
            else:
                add_name(removed, "gif:application")
        elif first.startswith(b"XMP Data"):
            add_name(removed, "xmp")
        elif first.startswith(b"ICCRGBG1"):
            add_name(removed, "icc:profile")
        else:
            add_name(removed, "gif:application")
    elif label == 0xFE:
        add_name(removed, "gif:comment")
    elif label == 0x01:
        add_name(removed, "gif:plain-text")
    else:
        add_name(removed, f"gif:extension-0x{label:02X}")
    return end


def clean_gif(untrusted_data: bytes, limits: Limits) -> tuple[bytes, list[str]]:
    data = untrusted_data
    size = len(data)
    if size < 13:
        raise CorruptFileError("truncated GIF")
    check_pixels(int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little"), limits)
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
            check_pixels(width, height, limits)
            packed = data[pos + 9]
            start = pos + 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
            end, _ = _gif_sub_blocks(data, start + 1)  # +1: the LZW minimum code size
            out.append(data[pos:end])
            frames += 1
            pos = end
        elif frames:
            # Decoders stop at an unknown block: what follows is not part of the image.
            add_name(removed, "gif:trailing-data")
            pos = size
            break
        else:
            raise CorruptFileError("bad GIF block")
    if not frames:
        raise CorruptFileError("GIF without an image")
    out.append(b"\x3b")
    if pos < size:
        add_name(removed, "gif:trailing-data")
    return b"".join(out), removed
