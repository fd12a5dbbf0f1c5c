"""HEIC/HEIF: converted to PNG (lossless), with nothing but the pixels.

Re-encoding as HEIF would mean a second lossy HEVC pass; a lossless PNG keeps the decoded
pixels exactly, at their full bit depth (10- and 12-bit photos become 16-bit PNGs). The new
file is written from the pixel buffer alone, so the EXIF (GPS, device, dates), XMP, the ICC
profile of the ``colr`` box, thumbnails, depth maps and auxiliary images cannot follow.
The rotation and mirroring boxes (``irot``/``imir``) are applied by libheif while decoding,
so the picture keeps its orientation.

A file with several top-level images (rare: image collections) gives the primary image as
the cleaned file and each other one as a separate, cleaned PNG attachment: nothing is lost.
"""

from __future__ import annotations

import array
import io
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from scrubbers._exif import exif_field_names
from scrubbers._sniff import PNG
from scrubbers._types import Attachment, Cleaned, Limits, ScrubReport
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

_NOTE = "converted to PNG (lossless)"
_MAX_TOP_LEVEL_IMAGES = 64
_IDAT_SIZE = 1 << 20
# What pillow-heif / libheif raise on a malformed file (SyntaxError: "unsupported feature",
# EOFError: truncated data found while decoding).
_HEIF_ERRORS = (
    RuntimeError,
    ValueError,
    OSError,
    EOFError,
    SyntaxError,
    KeyError,
    TypeError,
    IndexError,
)
# pillow-heif mode -> (PNG colour type, channels)
_PNG_COLOUR = {"L": (0, 1), "LA": (4, 2), "RGB": (2, 3), "RGBA": (6, 4)}


class HeifScrubber:
    file_types = ("heif",)

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        if _is_avif(untrusted_data):
            with _open_avif(untrusted_data, limits) as image:
                return _image_meta(image.info)
        heif = _open(untrusted_data)
        names: list[str] = []
        try:
            images = list(heif)
            for image in images:
                for name in _image_meta(image.info):
                    if name not in names:
                        names.append(name)
        except _HEIF_ERRORS as exc:
            raise CorruptFileError("unreadable HEIF") from exc
        if len(images) > 1:
            names.append("heif:extra-images")
        return names

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        if _is_avif(untrusted_data):
            return _avif_to_png(untrusted_data, limits)
        removed = self.get_meta(untrusted_data, limits)
        if "heif:extra-images" in removed:
            removed.remove("heif:extra-images")  # not removed: given back as attachments
        heif = _open(untrusted_data)
        try:
            images = list(heif)
            primary_index = int(heif.primary_index)
            if len(images) > _MAX_TOP_LEVEL_IMAGES:
                raise LimitExceededError("too many images in the HEIF file")
            # Bound the total before decoding anything: a file may hold many huge images.
            total = sum(int(image.size[0]) * int(image.size[1]) for image in images)
            if total > limits.max_pixels:
                raise LimitExceededError("image dimensions too large")
            primary = _to_png(images[primary_index])
            attachments = tuple(
                Attachment(
                    untrusted_name=f"image-{number}.png",
                    report=ScrubReport(PNG, True, _to_png(image), note=_NOTE),
                )
                for number, image in enumerate(images, start=1)
                if number - 1 != primary_index
            )
        except _HEIF_ERRORS as exc:
            raise CorruptFileError("unreadable HEIF") from exc
        except MemoryError as exc:
            raise LimitExceededError("out of memory") from exc
        note = _NOTE
        if attachments:
            note += f"; {len(attachments)} more image(s) given as separate files"
        return Cleaned(primary, tuple(removed), note, attachments, output_type=PNG)


# AV1 still images. This build of libheif (pillow-heif's wheels) has no AV1 decoder, so AVIF
# is read with Pillow's own AVIF plugin (libavif). Any HEVC brand sends a file to libheif.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_AVIF_NOTE = "converted to PNG (lossless, 8 bits per channel as decoded)"


def _brands(untrusted_data: bytes) -> set[bytes]:
    size = min(int.from_bytes(untrusted_data[0:4], "big"), len(untrusted_data), 4096)
    brands = {untrusted_data[8:12]}
    brands.update(untrusted_data[i : i + 4] for i in range(16, size - 3, 4))
    return brands


def _is_avif(untrusted_data: bytes) -> bool:
    brands = _brands(untrusted_data)
    return bool(brands & _AVIF_BRANDS) and not brands & _HEVC_BRANDS


@contextmanager
def _open_avif(untrusted_data: bytes, limits: Limits) -> Iterator[Any]:
    from PIL import Image, UnidentifiedImageError, features

    if not features.check("avif"):
        raise UnsupportedTypeError("AVIF is not supported (no AVIF decoder)")
    _check_boxes(untrusted_data)
    try:
        image = Image.open(io.BytesIO(untrusted_data), formats=["AVIF"])
    except (UnidentifiedImageError, *_HEIF_ERRORS) as exc:
        raise CorruptFileError("unreadable AVIF") from exc
    with image:
        if int(getattr(image, "n_frames", 1)) > 1:
            # An animation: each frame would have to become an image of its own.
            raise UnsupportedTypeError("AVIF image sequences are not supported")
        if image.size[0] * image.size[1] > limits.max_pixels:
            raise LimitExceededError("image dimensions too large")
        yield image


def _avif_to_png(untrusted_data: bytes, limits: Limits) -> Cleaned:
    from PIL import Image, ImageOps

    with _open_avif(untrusted_data, limits) as image:
        removed = _image_meta(image.info)
        try:
            image.load()
            # The rotation and mirroring (irot/imir) come to Pillow as an EXIF orientation:
            # applied to the pixels, since the EXIF does not follow.
            upright = ImageOps.exif_transpose(image)
            mode = upright.mode if upright.mode in ("L", "LA", "RGB", "RGBA") else "RGBA"
            pixels = upright.convert(mode)
        except _HEIF_ERRORS as exc:
            raise CorruptFileError("unreadable AVIF") from exc
    # A new image from the pixel buffer alone: Pillow's PNG writer would otherwise copy the
    # ICC profile it finds in `info`.
    bare = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    bare.save(out, "PNG", optimize=False, compress_level=6)
    return Cleaned(out.getvalue(), tuple(removed), _AVIF_NOTE, output_type=PNG)


def _check_boxes(untrusted_data: bytes) -> None:
    """Every top-level ISO BMFF box ends inside the file (ISO/IEC 14496-12 §4.2).

    libheif decodes an HEVC stream cut short without complaint, giving a picture with its
    bottom rows grey: "cleaned" would then hand the editors a damaged copy as if it were the
    source's. A truncated file is said to be corrupt instead, and kept as received.
    """
    at, end = 0, len(untrusted_data)
    while at < end:
        if end - at < 8:
            raise CorruptFileError("truncated HEIF box header")
        size = int.from_bytes(untrusted_data[at : at + 4], "big")
        header = 8
        if size == 1:  # 64-bit largesize follows the type
            if end - at < 16:
                raise CorruptFileError("truncated HEIF box header")
            size = int.from_bytes(untrusted_data[at + 8 : at + 16], "big")
            header = 16
        elif size == 0:  # the box runs to the end of the file
            return
        if size < header:
            raise CorruptFileError("malformed HEIF box size")
        if size > end - at:
            raise CorruptFileError("truncated HEIF")
        at += size


def _open(untrusted_data: bytes) -> Any:
    import pillow_heif

    _check_boxes(untrusted_data)

    # libheif's own security limits (image size, box nesting, item counts) apply too:
    # pillow_heif.options.DISABLE_SECURITY_LIMITS is never set by this package.
    try:
        return pillow_heif.open_heif(io.BytesIO(untrusted_data), convert_hdr_to_8bit=False)
    except _HEIF_ERRORS as exc:
        if "security limit" in str(exc).lower():
            raise LimitExceededError("HEIF beyond libheif's limits") from exc
        raise CorruptFileError("unreadable HEIF") from exc


def _image_meta(info: dict[str, Any]) -> list[str]:
    names: list[str] = []
    exif = info.get("exif")
    if exif:
        raw = bytes(exif)
        names.extend(exif_field_names(raw[6:] if raw.startswith(b"Exif\x00\x00") else raw))
    if info.get("xmp"):
        names.append("xmp")
    if info.get("icc_profile"):
        names.append("icc:profile")
    if info.get("metadata"):
        names.append("heif:metadata")
    if info.get("thumbnails"):
        names.append("heif:thumbnail")
    if info.get("depth_images"):
        names.append("heif:depth-image")
    if info.get("aux"):
        names.append("heif:auxiliary-image")
    return names


def _to_png(image: Any) -> bytes:
    """Decode one image and write a PNG from its pixel buffer only."""
    width, height = int(image.size[0]), int(image.size[1])
    base, _, depth = str(image.mode).partition(";")
    if base not in _PNG_COLOUR or depth not in ("", "16"):
        raise UnsupportedTypeError("HEIF pixel format")
    colour_type, channels = _PNG_COLOUR[base]
    bits = 16 if depth == "16" else 8
    stride = int(image.stride)
    row_bytes = width * channels * bits // 8
    pixels = memoryview(image.data)  # decodes here
    if stride < row_bytes or len(pixels) < stride * height:
        raise CorruptFileError("short HEIF pixel buffer")
    compressor = zlib.compressobj(6)
    chunks = []
    for y in range(height):
        row = pixels[y * stride : y * stride + row_bytes]
        if bits == 16:
            # pillow-heif gives native-endian 16-bit samples (scaled to the full range);
            # PNG stores them big-endian.
            samples = array.array("H", row.tobytes())
            if sys.byteorder == "little":
                samples.byteswap()
            row_out = samples.tobytes()
        else:
            row_out = row.tobytes()
        chunks.append(compressor.compress(b"\x00" + row_out))  # filter type 0 (none)
    chunks.append(compressor.flush())
    header = (
        width.to_bytes(4, "big")
        + height.to_bytes(4, "big")
        + bytes([bits, colour_type, 0, 0, 0])  # deflate, adaptive filters, no interlace
    )
    compressed = b"".join(chunks)
    idat = [
        _png_chunk(b"IDAT", compressed[at : at + _IDAT_SIZE])
        for at in range(0, len(compressed), _IDAT_SIZE)
    ]
    return b"".join(
        [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", header), *idat, _png_chunk(b"IEND", b"")]
    )


def _png_chunk(ctype: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(ctype + payload)
    return len(payload).to_bytes(4, "big") + ctype + payload + crc.to_bytes(4, "big")
