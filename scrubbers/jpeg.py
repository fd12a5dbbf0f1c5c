"""JPEG: lossless cleaning by rewriting the marker segments (see `scrubbers._jpeg_segments`).

The compressed image data is copied byte for byte: no re-compression, no generation loss,
the decoded pixels are identical. The orientation survives in a fresh EXIF that holds only
that tag, so photos taken sideways are still shown upright.
"""

from __future__ import annotations

from scrubbers._jpeg_segments import rebuild_jpeg, walk_jpeg
from scrubbers._types import Cleaned, Limits


class JpegScrubber:
    file_types = ("jpeg",)

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        # The orientation-only EXIF, the minimal JFIF and Adobe headers that `remove_all`
        # writes are not reported; any other segment, byte or tag is.
        return list(walk_jpeg(untrusted_data, max_pixels=limits.max_pixels).removed)

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        layout = walk_jpeg(untrusted_data, max_pixels=limits.max_pixels)
        data = rebuild_jpeg(untrusted_data, layout, keep_orientation=True)
        note = "lossless: compressed image data kept byte for byte"
        if layout.orientation != 1:
            note += "; orientation kept (EXIF with only that tag)"
        return Cleaned(data=data, removed=tuple(layout.removed), note=note)
