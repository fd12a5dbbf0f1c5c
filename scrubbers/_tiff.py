"""TIFF: the numeric tags decoding needs and the image data; old-style JPEG and the
compressions whose end only a decoder finds (CCITT fax and the rarer ones) converted."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Literal

from scrubbers._exif import EXIF_TAG_NAMES, TIFF_TYPE_SIZES, ifd_entries
from scrubbers._image_common import add_name, check_pixels
from scrubbers._jpeg_segments import strip_jpeg_tables
from scrubbers._sniff import PNG, TIFF
from scrubbers._tiff_strips import StripLayout
from scrubbers._types import Cleaned, Limits
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

if TYPE_CHECKING:
    from PIL import Image

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
_JPEG_TABLES = 347
_STRIPS = ((273, 279), (324, 325))  # (offsets, byte counts) for strips and for tiles
# Compressions whose strips `scrubbers._tiff_strips` cuts at the end of what the decoder reads:
# none, LZW, JPEG, Deflate (and Adobe's code for it), PackBits.
_ENDS_FOUND_WITHOUT_DECODING = frozenset({1, 5, 7, 8, 32946, 32773})


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
        size = TIFF_TYPE_SIZES.get(typ)
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


def clean_tiff(untrusted_data: bytes, limits: Limits) -> tuple[bytes, list[str]]:
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
            add_name(removed, _tiff_name(entry.ifd, entry.tag))
    out = bytearray(untrusted_data[:4] + bytes(4))
    next_pointer_at = 4  # where the offset of the next IFD is to be written
    kept_pages = 0
    for page in pages.values():
        tags = {tag: (typ, count, at) for tag, typ, count, at in page}
        if reader.first(tags.get(254)) & 1:
            # A reduced-resolution copy (a thumbnail, perhaps of the picture before it was
            # cropped): not the image itself.
            add_name(removed, "tiff:thumbnail")
            continue
        check_pixels(reader.first(tags.get(256)), reader.first(tags.get(257)), limits)
        if (reader.first(tags.get(259)) or 1) not in _ENDS_FOUND_WITHOUT_DECODING:
            # Old-style JPEG (TIFF 6.0 section 22, withdrawn): the strips are pieces of a JPEG
            # whose tables live in other tags or in a whole JPEG file pointed at by offset
            # (JPEGInterchangeFormat, with its own APP segments), in ways writers disagree
            # on; only libtiff's heuristics read them. CCITT fax (a scanner's bilevel pages)
            # and the rarer schemes: only decoding the rows tells where a strip's data end,
            # and what follows is room no decoder reads. Converted instead, from what
            # libtiff decodes (through Pillow), like HEIF.
            raise ConvertFromPixels(removed)
        _write_tiff_page(reader, tags, out, next_pointer_at, limits, removed)
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
    removed: list[str],
) -> None:
    order = reader.order
    kept = {tag: value for tag, value in tags.items() if tag in _TIFF_KEEP}
    layout = _strip_layout(reader, kept)
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
        new_counts = []
        for index, (offset, count) in enumerate(zip(offsets, counts, strict=True)):
            if offset + count > len(reader.data):
                raise CorruptFileError("truncated TIFF image data")
            if len(out) + count > limits.max_output_bytes:
                raise LimitExceededError("TIFF image data too large")
            # Only the bytes the decoder reads: the rest of a strip is room for anything.
            kept_data = layout.kept_data(index, reader.data[offset : offset + count], removed)
            new_offsets.append(len(out))
            new_counts.append(len(kept_data))
            out += kept_data
            if len(out) & 1:
                out += b"\x00"
        packed = b"".join(o.to_bytes(4, order) for o in new_offsets)
        new_values[offsets_tag] = (4, len(new_offsets), packed)
        if new_counts != counts:
            add_name(removed, "tiff:data-after-image")
            packed = b"".join(c.to_bytes(4, order) for c in new_counts)
            new_values[counts_tag] = (4, len(new_counts), packed)
    if 273 not in new_values and 324 not in new_values:
        raise CorruptFileError("TIFF page without image data")
    for tag, (typ, count, at) in kept.items():
        if tag not in new_values:
            new_values[tag] = (typ, count, reader.value_bytes(typ, count, at))
    if _JPEG_TABLES in new_values and TIFF_TYPE_SIZES.get(new_values[_JPEG_TABLES][0]) == 1:
        # A JPEG stream of its own, where APPn and comment segments fit as well as tables.
        typ, count, raw = new_values[_JPEG_TABLES]
        try:
            tables, names = strip_jpeg_tables(raw)
        except CorruptFileError:
            tables, names = raw, []  # libtiff's reading of it is not this walker's: kept
        for name in names:
            add_name(removed, name)
        new_values[_JPEG_TABLES] = (typ, len(tables), tables)
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


def _strip_layout(reader: _TiffReader, tags: dict[int, tuple[int, int, int]]) -> StripLayout:
    width, height = reader.first(tags.get(256)), reader.first(tags.get(257))
    samples = max(1, reader.first(tags.get(277)))
    bits = tuple(reader.numbers(*tags[258])) if 258 in tags else (1,)
    # One value for all samples is a common writer's shortcut; libtiff reads it so too.
    bits = (bits + (bits[0],) * samples)[:samples]
    rows = reader.first(tags.get(278)) if 278 in tags else height
    tile = (reader.first(tags.get(322)), reader.first(tags.get(323))) if 322 in tags else None
    if tile is not None and (tile[0] <= 0 or tile[1] <= 0):
        raise CorruptFileError("TIFF tile without dimensions")
    subsampling = tuple(reader.numbers(*tags[530])) if 530 in tags else (2, 2)
    return StripLayout(
        width=width,
        height=height,
        bits_per_sample=bits,
        planar=reader.first(tags.get(284)) or 1,
        rows_per_strip=max(1, min(rows, height)),
        tile=tile,
        compression=reader.first(tags.get(259)) or 1,
        photometric=reader.first(tags.get(262)),
        subsampling=(subsampling[0], subsampling[-1]) if len(subsampling) >= 1 else (2, 2),
    )


class ConvertFromPixels(Exception):  # a signal between two functions, not an error
    """Raised by the TIFF walk for a page whose image data can only be cleaned by decoding
    it (old-style JPEG, CCITT fax, the rarer compressions), with the fields the walk found."""

    def __init__(self, removed: list[str]) -> None:
        super().__init__("TIFF to convert from its pixels")
        self.removed = removed


# Phrases the server knows (leakdrop/server/i18n.py `_NOTE_KEYS`): the pixels libtiff
# decodes, written losslessly, the orientation applied to them.
OJPEG_PNG_NOTE = "converted to PNG (lossless)"
OJPEG_TIFF_NOTE = "converted to TIFF (lossless)"
# What Pillow and libtiff raise on image data they cannot decode.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, KeyError, TypeError, IndexError)


def converted_from_pixels(untrusted_data: bytes, removed: list[str], limits: Limits) -> Cleaned:
    """A TIFF of `ConvertFromPixels` pages as what libtiff decodes: one page becomes a PNG (the
    universal lossless format), several pages a multi-page TIFF, Deflate-compressed (a
    scanned document or fax stays one file in its order), itself cleaned by `clean_tiff`.
    `removed`: what the walk found in the original."""
    pages = _decoded_pages(untrusted_data, limits)
    if len(pages) == 1:
        out = io.BytesIO()
        pages[0].save(out, "PNG", optimize=False, compress_level=6)
        return Cleaned(out.getvalue(), tuple(removed), note=OJPEG_PNG_NOTE, output_type=PNG)
    # Pillow is loaded only for the files that need decoding (see `_decoded_pages`).
    from PIL import TiffImagePlugin

    out = io.BytesIO()
    with TiffImagePlugin.AppendingTiffWriter(out) as writer:
        for page in pages:
            page.save(writer, "TIFF", compression="tiff_adobe_deflate")
            writer.newFrame()
            if writer.tell() > limits.max_output_bytes:
                raise LimitExceededError("converted TIFF too large")
    # Through the structural cleaner too: whatever tag Pillow's writer adds beyond what
    # the pixels need goes (and is not reported: it was never the source's).
    data, _ = clean_tiff(out.getvalue(), limits)
    return Cleaned(data, tuple(removed), note=OJPEG_TIFF_NOTE, output_type=TIFF)


def _decoded_pages(untrusted_data: bytes, limits: Limits) -> list[Image.Image]:
    """The full-size pages as libtiff decodes them (through Pillow), upright, each a new
    image made from its pixel buffer alone: Pillow's writers would otherwise copy the ICC
    profile, DPI and text they find in `info`."""
    # Pillow is loaded only for the files that need decoding, like in heif.py: the
    # structural cleaners never touch a pixel.
    from PIL import Image, ImageOps, TiffImagePlugin, UnidentifiedImageError

    pages = []
    total = 0
    try:
        with Image.open(io.BytesIO(untrusted_data), formats=["TIFF"]) as image:
            if not isinstance(image, TiffImagePlugin.TiffImageFile):
                raise CorruptFileError("not read as a TIFF")
            for index in range(image.n_frames):
                image.seek(index)
                if image.tag_v2.get(254, 0) & 1 and image.n_frames > 1:
                    continue  # a reduced-resolution copy, dropped as `clean_tiff` does
                total += image.size[0] * image.size[1]
                if total > limits.max_pixels:
                    raise LimitExceededError("image dimensions too large")
                image.load()
                # The orientation tag does not follow: applied to the pixels.
                upright = ImageOps.exif_transpose(image)
                mode = upright.mode if upright.mode in ("1", "L", "LA", "RGB", "RGBA") else "RGB"
                pixels = upright.convert(mode)
                pages.append(Image.frombytes(pixels.mode, pixels.size, pixels.tobytes()))
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        raise CorruptFileError("TIFF image data libtiff cannot decode") from exc
    if not pages:
        raise CorruptFileError("TIFF without a full-size image")
    return pages
