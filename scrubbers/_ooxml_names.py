"""Part names of an OOXML package: neutral names for the parts whose names are free text.

A part's name is any name its writer chose (``word/header_<anything>.xml``): no reader shows
it, Office finds the part through the relationships only, and a cleaning that keeps it keeps
whatever mark it was given. Every part gets the name Office itself gives its kind, numbered
(where Office numbers them) in the natural order of the old names, so that a cleaned
package's names map to themselves:

- the XML parts by the type of the relationship reaching them (`_ooxml_types.PART_NAMES`:
  ``word/document.xml``, ``word/header1.xml``, ``ppt/slides/slide1.xml`` ...; a kind not
  listed is ``<main folder>/part<n>.xml``);
- Word's obfuscated fonts ``<main folder>/fonts/font<n>.odttf`` (once given a neutral key,
  `_ooxml_fonts`; a font no font table gives a key keeps its name, the key Word reads it by);
- the binary parts (pictures, sound and video, embedded documents), which Office calls
  ``image1.png``, ``media1.mp4``, ``Microsoft_Word_Document1.docx`` by the order it met
  them: ``<main folder>/media/image<n>``, ``media/media<n>`` and ``embeddings/package<n>``
  (kind and extension from the bytes, as the part's type).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping

from scrubbers._ooxml_types import (
    FALLBACK_PART,
    FONT_PART,
    MAIN_PARTS,
    PART_NAMES,
    PartName,
    document_family,
)
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


class _Names:
    """The names given so far, and the next number of each numbered kind."""

    def __init__(self, main_folder: str, kept: Iterable[str]) -> None:
        self.main_folder = main_folder
        self.taken = {name.casefold() for name in kept}
        self.counts: dict[tuple[str, str], int] = {}

    def claim(self, name: str) -> bool:
        if name.casefold() in self.taken:
            return False
        self.taken.add(name.casefold())
        return True

    def numbered(self, kind: PartName) -> str:
        folder = posixpath.join(self.main_folder, kind.folder)
        number = self.counts.get((folder, kind.stem), 0)
        while True:
            number += 1
            name = posixpath.join(folder, f"{kind.stem}{number}{kind.extension}")
            if self.claim(name):
                break
        self.counts[(folder, kind.stem)] = number
        return name


def in_natural_order(names: Iterable[str]) -> list[str]:
    """Names by their natural order (``header2`` before ``header10``), as Office numbers."""
    return sorted(names, key=lambda n: (_natural_key(n), n))


def _unnumbered_names(
    parts: Mapping[str, tuple[str, str]], main_part: str, main_folder: str
) -> dict[str, str]:
    """The name each unnumbered part's kind calls for, beside the unnumbered part referring
    to it (a glossary document's styles), else in the main part's folder."""
    wanted: dict[str, str] = {}
    for name in parts:  # in the order they were reached: a part's referrer comes first
        key, source = parts[name]
        kind = PART_NAMES.get(key)
        if name == main_part or kind is None or kind.numbered:
            continue
        folder = posixpath.dirname(wanted[source]) if source in wanted else main_folder
        wanted[name] = posixpath.join(folder, kind.folder, kind.stem + kind.extension)
    return wanted


def neutral_names(
    xml_parts: Mapping[str, tuple[str, str]],
    fonts: Iterable[str],
    binary_parts: Mapping[str, bytes],
    main_part: str,
    kept: Iterable[str],
) -> dict[str, str]:
    """Old name -> new name of every part renamed here: ``xml_parts``, name -> (the type of
    the relationship reaching it, keyed as `_ooxml_parts.REL_KEEP`, and the part it belongs
    to), in the order they were reached; ``fonts``: the fonts given a neutral key; ``kept``:
    the names of the other parts, which no new name may take."""
    main_name = MAIN_PARTS.get(document_family(main_part), "")
    top = main_part.split("/", 1)[0] if "/" in main_part else ""
    main_folder = posixpath.dirname(main_name) if main_name else top
    names = _Names(main_folder, kept)
    renamed: dict[str, str] = {}
    fallback: list[str] = []
    if main_part in xml_parts:
        if main_name and names.claim(main_name):
            renamed[main_part] = main_name
        else:
            fallback.append(main_part)
    # One name for two parts: the one already called so keeps it, else the first in order.
    wanted = _unnumbered_names(xml_parts, main_part, main_folder)
    for name in sorted(wanted, key=lambda n: (wanted[n] != n, _natural_key(n), n)):
        if names.claim(wanted[name]):
            renamed[name] = wanted[name]
        else:
            fallback.append(name)
    for name in in_natural_order(xml_parts):
        kind = PART_NAMES.get(xml_parts[name][0])
        if name == main_part or name in wanted:
            continue
        if kind is None or not kind.numbered:
            fallback.append(name)
            continue
        renamed[name] = names.numbered(kind)
    for name in in_natural_order(fallback):
        renamed[name] = names.numbered(FALLBACK_PART)
    for name in in_natural_order(fonts):
        renamed[name] = names.numbered(FONT_PART)
    for name in in_natural_order(binary_parts):
        folder, stem, extension = _folder_stem_extension(name, binary_parts[name])
        renamed[name] = names.numbered(PartName(folder, stem, True, extension))
    return renamed


def relative_target(source: str, target: str) -> str:
    """A relationship's Target for ``target`` from ``source`` ("" for the package)."""
    return posixpath.relpath(target, posixpath.dirname(source) or ".")
