"""Part names of an OOXML package: neutral names for the parts whose names are free text.

A part's name is any name its writer chose (``word/media/<anything>.png``): no reader shows
it, Office finds the part through the relationships only, and a cleaning that keeps it keeps
whatever mark it was given. The binary parts (pictures, sound and video, embedded documents)
are the ones the standard leaves unnamed: Office itself calls them ``image1.png``,
``media1.mp4``, ``Microsoft_Word_Document1.docx`` by the order it met them. They get
``<main folder>/media/image<n>``, ``media/media<n>`` and ``embeddings/package<n>`` (kind and
extension from the bytes, as the part's type; the order is the old names' natural order, so
that a cleaned package's names map to themselves).

Not renamed: the XML parts, as those of the main part, the styles, the slides and sheets are
the names the specifications give them; and the fonts, as Word's obfuscation key is the
GUID of the font part's name (ECMA-376 Part 1 §17.8.1): a new name would need the font
obfuscated again.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping

from scrubbers._sniff import sniff

PART_NAME = "ooxml:part-name"  # a part renamed (its relationships' targets following)

# Extensions Office writes for a type whose sniffed extension is spelled otherwise: kept, so
# that an Office file's ``image1.jpeg`` is no rename.
_SAME_TYPE = {".jpg": (".jpeg", ".jpe"), ".tif": (".tiff",), ".heic": (".heif",)}
_DIGITS = re.compile(r"(\d+)")


def _natural_key(name: str) -> tuple[tuple[int, str], ...]:
    return tuple(
        (int(piece), "") if piece.isdigit() else (-1, piece)
        for piece in _DIGITS.split(name.casefold())
    )


def _folder_stem_extension(name: str, untrusted_data: bytes) -> tuple[str, str, str]:
    written = posixpath.splitext(name)[1].casefold()
    kind = sniff(untrusted_data)
    extension = written if written in _SAME_TYPE.get(kind.extension, ()) else kind.extension
    major = kind.media_type.split("/", 1)[0]
    if major == "image":
        return "media", "image", extension
    if major in ("audio", "video"):
        return "media", "media", extension
    return "embeddings", "package", extension


def neutral_names(
    binary_parts: Mapping[str, bytes], main_part: str, kept: Iterable[str]
) -> dict[str, str]:
    """Old name -> new name for the binary parts but fonts; ``kept``: the names of the other
    parts, which no new name may take."""
    top = main_part.split("/", 1)[0] if "/" in main_part else ""
    taken = {name.casefold() for name in kept}
    counts: dict[tuple[str, str], int] = {}
    renamed: dict[str, str] = {}
    for name in sorted(binary_parts, key=lambda n: (_natural_key(n), n)):
        folder, stem, extension = _folder_stem_extension(name, binary_parts[name])
        number = counts.get((folder, stem), 0)
        while True:
            number += 1
            new = posixpath.join(top, folder, f"{stem}{number}{extension}")
            if new.casefold() not in taken:
                break
        counts[(folder, stem)] = number
        taken.add(new.casefold())
        renamed[name] = new
    return renamed


def relative_target(source: str, target: str) -> str:
    """A relationship's Target for ``target`` from ``source`` ("" for the package)."""
    return posixpath.relpath(target, posixpath.dirname(source) or ".")
