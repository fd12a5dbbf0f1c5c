"""PNG, GIF, WebP, TIFF and BMP: lossless cleaning by rewriting the file's structure.

Each format is rewritten at the level of its chunks, blocks or tags, with a whitelist of
what decoding needs: the compressed pixel data is copied byte for byte up to the end of its
stream (what follows, never read by a decoder, goes), never decoded or re-encoded; a TIFF
whose data end only a decoder finds (old-style JPEG, CCITT fax) alone is converted
(`scrubbers._tiff`). That is strictly lossless
(16-bit colour, interlacing, animation timing, palettes and lossy WebP bitstreams included,
which a decode-and-re-encode through Pillow would change or degrade), fast, and keeps
decompression bombs harmless: no pixel is ever allocated, and images whose header announces
more than `Limits.max_pixels` are refused anyway.

Whatever is not on a whitelist goes: text chunks, XMP, EXIF, IPTC, Photoshop data, time
stamps, ICC profiles (their description and copyright are free text), comments, private
chunks, thumbnails, bytes after the end of the image. PNG and WebP keep one thing from their
EXIF/XMP: the orientation Pillow applies (from eXIf, ImageMagick's "Raw profile type exif"
text or XMP ``tiff:Orientation``), rewritten alone in a fresh EXIF, so the picture is shown
the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from scrubbers._bmp import clean_bmp
from scrubbers._gif import clean_gif
from scrubbers._png import clean_png
from scrubbers._sniff import sniff
from scrubbers._tiff import ConvertFromPixels, clean_tiff, converted_from_pixels
from scrubbers._types import Cleaned, Limits
from scrubbers._webp import clean_webp
from scrubbers.errors import CorruptFileError, UnsupportedTypeError

_NOTE = "lossless: image data kept byte for byte, only metadata removed"


class ImageScrubber:
    file_types = ("png", "gif", "webp", "tiff", "bmp")

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        # The same walk as `remove_all`: whatever it would drop is what is present.
        try:
            return _clean(untrusted_data, limits)[1]
        except ConvertFromPixels as found:
            return found.removed

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        try:
            data, removed = _clean(untrusted_data, limits)
        except ConvertFromPixels as found:
            return converted_from_pixels(untrusted_data, found.removed, limits)
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


_CLEANERS: dict[str, Callable[[bytes, Limits], tuple[bytes, list[str]]]] = {
    "png": clean_png,
    "gif": clean_gif,
    "webp": clean_webp,
    "bmp": clean_bmp,
    "tiff": clean_tiff,
}
