"""Placeholder: being written (see DESIGN.md)."""

from __future__ import annotations

from scrubbers._types import Cleaned, Limits
from scrubbers.errors import UnsupportedTypeError


class PdfScrubber:
    file_types = ("pdf",)

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        raise UnsupportedTypeError("not written yet")

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        raise UnsupportedTypeError("not written yet")
