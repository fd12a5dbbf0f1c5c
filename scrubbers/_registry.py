"""The explicit list of scrubbers (no subclass magic: adding a format is one line here).

Each entry names its module, its class and the `FileType` names it handles; the module is
imported only when a file of one of those types comes, so a one-file `leakdrop scrub` loads
only the parser that file needs (the server's fork server loads them all once:
`load_all`). The names written here are checked against the class's own `file_types` on
import, so the two cannot drift apart.
"""

from __future__ import annotations

import importlib
from typing import cast

from scrubbers._types import Scrubber, StreamingScrubber

# (module, class, file types handled, also cleaned as a stream above
# `Limits.stream_above_bytes`). Order is only for reading.
_SCRUBBERS: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("scrubbers.pdf", "PdfScrubber", ("pdf",), True),
    ("scrubbers.jpeg", "JpegScrubber", ("jpeg",), False),
    ("scrubbers.images", "ImageScrubber", ("png", "gif", "webp", "tiff", "bmp"), False),
    ("scrubbers.heif", "HeifScrubber", ("heif",), False),
    ("scrubbers.isobmff", "IsoBmffScrubber", ("mp4", "mov", "m4a", "3gp"), True),
    ("scrubbers.avi", "AviScrubber", ("avi",), True),
    ("scrubbers.matroska", "MatroskaScrubber", ("mkv", "webm"), True),
    ("scrubbers.metafile", "MetafileScrubber", ("emf", "wmf"), False),
    ("scrubbers.ooxml", "OoxmlScrubber", ("docx", "xlsx", "pptx"), False),
    ("scrubbers.odf", "OdfScrubber", ("odt", "ods", "odp", "odg"), False),
    ("scrubbers.epub", "EpubScrubber", ("epub",), False),
    ("scrubbers.archive", "ArchiveScrubber", ("zip",), True),
    ("scrubbers.mp3", "Mp3Scrubber", ("mp3",), True),
    ("scrubbers.flac", "FlacScrubber", ("flac",), True),
    ("scrubbers.ogg", "OggScrubber", ("ogg", "opus"), True),
    ("scrubbers.audio_riff", "RiffAudioScrubber", ("wav", "aiff"), True),
    ("scrubbers.svg", "SvgScrubber", ("svg",), False),
    ("scrubbers.html", "HtmlScrubber", ("html",), False),
    ("scrubbers.text", "TextScrubber", ("text",), False),
)


def _index() -> dict[str, tuple[str, str, bool]]:
    table: dict[str, tuple[str, str, bool]] = {}
    for module, name, types, streams in _SCRUBBERS:
        for file_type in types:
            if file_type in table:
                raise RuntimeError(f"two scrubbers claim {file_type!r}")
            table[file_type] = (module, name, streams)
    return table


_INDEX = _index()
_LOADED: dict[tuple[str, str], object] = {}

#: The types cleaned as a stream when large (`streaming_scrubber_for`), known without
#: importing a parser: the server asks, and keeps pikepdf out of its own process.
STREAMED_TYPES = frozenset(t for t, (_, _, streams) in _INDEX.items() if streams)


def _load(module: str, name: str) -> object:
    key = (module, name)
    if key not in _LOADED:
        cls = getattr(importlib.import_module(module), name)
        listed = next(types for m, n, types, _ in _SCRUBBERS if (m, n) == key)
        if tuple(cls.file_types) != listed:
            raise RuntimeError(f"{module}.{name}.file_types differs from the registry")
        _LOADED[key] = cls()
    return _LOADED[key]


def scrubber_for(file_type_name: str) -> Scrubber | None:
    entry = _INDEX.get(file_type_name)
    if entry is None:
        return None
    return cast(Scrubber, _load(entry[0], entry[1]))


def streaming_scrubber_for(file_type_name: str) -> StreamingScrubber | None:
    """The scrubber that cleans this type as a stream, if any (`Limits.stream_above_bytes`)."""
    entry = _INDEX.get(file_type_name)
    if entry is None or not entry[2]:
        return None
    return cast(StreamingScrubber, _load(entry[0], entry[1]))


def load_all() -> None:
    """Import every scrubber now (the fork server, so that each worker starts ready)."""
    for module, name, _, _ in _SCRUBBERS:
        _load(module, name)
