"""The explicit list of scrubbers (no subclass magic: adding a format is one line here)."""

from __future__ import annotations

from scrubbers._types import Scrubber

_REGISTRY: dict[str, Scrubber] | None = None


def _build() -> dict[str, Scrubber]:
    # Imported here, not at module import, so that sniffing and the worker set-up stay cheap.
    from scrubbers.archive import ArchiveScrubber
    from scrubbers.audio_riff import RiffAudioScrubber
    from scrubbers.avi import AviScrubber
    from scrubbers.flac import FlacScrubber
    from scrubbers.heif import HeifScrubber
    from scrubbers.images import ImageScrubber
    from scrubbers.isobmff import IsoBmffScrubber
    from scrubbers.jpeg import JpegScrubber
    from scrubbers.matroska import MatroskaScrubber
    from scrubbers.metafile import MetafileScrubber
    from scrubbers.mp3 import Mp3Scrubber
    from scrubbers.odf import OdfScrubber
    from scrubbers.ogg import OggScrubber
    from scrubbers.ooxml import OoxmlScrubber
    from scrubbers.pdf import PdfScrubber
    from scrubbers.text import TextScrubber

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
        Mp3Scrubber(),
        FlacScrubber(),
        OggScrubber(),
        RiffAudioScrubber(),
        TextScrubber(),
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
