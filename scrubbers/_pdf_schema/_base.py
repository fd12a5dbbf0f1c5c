"""What every table of the schema is made of (`scrubbers._pdf_schema`)."""

from __future__ import annotations

from collections.abc import Mapping

Keys = Mapping[str, str | None]

OPEN = "open"


def merged_keys(*groups: Keys) -> dict[str, str | None]:
    merged: dict[str, str | None] = {}
    for group in groups:
        merged.update(group)
    return merged
