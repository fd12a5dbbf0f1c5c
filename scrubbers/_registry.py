"""The explicit list of scrubbers (no subclass magic: adding a format is one line here)."""

from __future__ import annotations

from scrubbers._types import Scrubber, StreamingScrubber

_REGISTRY: dict[str, Scrubber] | None = None
_STREAMING: dict[str, StreamingScrubber] | None = None
#: The types `streaming_scrubber_for` knows, without importing their parsers (the server
#: asks, and keeps pikepdf out of its own process).
STREAMED_TYPES = frozenset({"pdf", "mp4", "mov", "m4a", "3gp", "mkv", "webm", "avi", "wav", "aiff"})


def _build() -> dict[str, Scrubber]:
    # Imported here, not at module import, so that sniffing and the worker set-up stay cheap.
    from scrubbers.archive import ArchiveScrubber
    from scrubbers.audio_riff import RiffAudioScrubber
    from scrubbers.avi import AviScrubber
    from scrubbers.flac import FlacScrubber
    from scrubbers.heif import HeifScrubber
    from scrubbers.html import HtmlScrubber
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
    from scrubbers.svg import SvgScrubber
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
        SvgScrubber(),
        HtmlScrubber(),
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


def _build_streaming() -> dict[str, StreamingScrubber]:
    from scrubbers.audio_riff import RiffAudioScrubber
    from scrubbers.avi import AviScrubber
    from scrubbers.isobmff import IsoBmffScrubber
    from scrubbers.matroska import MatroskaScrubber
    from scrubbers.pdf import PdfScrubber

    # The formats whose large files are routinely sent (phone videos, scanned documents) and
    # whose structure can be walked by offsets; each is also in `_build`, for small files.
    streaming: list[tuple[tuple[str, ...], StreamingScrubber]] = [
        (PdfScrubber.file_types, PdfScrubber()),
        (IsoBmffScrubber.file_types, IsoBmffScrubber()),
        (MatroskaScrubber.file_types, MatroskaScrubber()),
        (AviScrubber.file_types, AviScrubber()),
        (RiffAudioScrubber.file_types, RiffAudioScrubber()),
    ]
    table = {name: scrubber for names, scrubber in streaming for name in names}
    if set(table) != STREAMED_TYPES:
        raise RuntimeError("STREAMED_TYPES does not list the streaming scrubbers")
    return table


def streaming_scrubber_for(file_type_name: str) -> StreamingScrubber | None:
    """The scrubber that cleans this type as a stream, if any (`Limits.stream_above_bytes`)."""
    global _STREAMING
    if _STREAMING is None:
        _STREAMING = _build_streaming()
    return _STREAMING.get(file_type_name)
