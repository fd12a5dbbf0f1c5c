"""The explicit list of scrubbers (no subclass magic: adding a format is one line here)."""

from __future__ import annotations

from scrubbers._types import Scrubber

_REGISTRY: dict[str, Scrubber] | None = None


def _build() -> dict[str, Scrubber]:
    # Imported here, not at module import, so that sniffing and the worker set-up stay cheap.
    from scrubbers.archive import ArchiveScrubber
    from scrubbers.avi import AviScrubber
    from scrubbers.heif import HeifScrubber
    from scrubbers.images import ImageScrubber
    from scrubbers.isobmff import IsoBmffScrubber
    from scrubbers.jpeg import JpegScrubber
    from scrubbers.matroska import MatroskaScrubber
    from scrubbers.metafile import MetafileScrubber
    from scrubbers.odf import OdfScrubber
    from scrubbers.ooxml import OoxmlScrubber
    from scrubbers.pdf import PdfScrubber

    scrubbers: list[Scrubber] = [
        PdfScrubber(),
        JpegScrubber(),
        ImageScrubber(),
        HeifScrubber(),
        IsoBmffScrubber(),
        AviScrubber(),
        MatroskaScrubber(),
        MetafileScrubber(),
        OoxmlScrubber(),
        OdfScrubber(),
        ArchiveScrubber(),
    ]
    table: dict[str, Scrubber] = {}
    for scrubber in scrubbers:
        for name in scrubber.file_types:
            if name in table:
                raise RuntimeError(f"two scrubbers claim {name!r}")
            table[name] = scrubber
    return table


def scrubber_for(file_type_name: str) -> Scrubber | None:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _build()
    return _REGISTRY.get(file_type_name)
