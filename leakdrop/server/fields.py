"""What a removed field is, in the source's terms: the scrubbers name fields for the
editors (``exif:GPS``, ``pdf:Info/Author``, ``embedded:xlsx/ooxml:docProps/core``); the
receipt groups them into a few plain categories ("GPS position", "author name", "dates").

Language-free: a field name -> a category key; `leakdrop.server.i18n` has the words. A
name no rule knows goes to `OTHER` ("other hidden data"): a field the source cannot place
is still listed, never dropped.
"""

from __future__ import annotations

import re
from typing import Final

OTHER: Final = "other"

#: Categories in the order the receipt lists them: what most plainly identifies a person
#: first.
CATEGORIES: Final = (
    "gps",
    "camera",
    "author",
    "paths",
    "dates",
    "software",
    "properties",
    "comments",
    "history",
    "ids",
    "thumbnails",
    "attachments",
    "scripts",
    "signatures",
    "printer",
    "colour",
    "blocks",
    "settings",
    "filesystem",
    OTHER,
)

#: A field inside an embedded document or image keeps its container's path in front
#: (``embedded:jpeg/``, ``pdf:jpeg:``): what it is lies in the last part.
_CONTAINER: Final = re.compile(r"^(?:embedded:[A-Za-z0-9_.+-]+/|pdf:jpeg:)+")

#: (category, pattern searched in the field name without its container path), first match
#: wins: a name can hit several (``exif:LensSerialNumber`` is a camera's, not an id).
_RULES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (category, re.compile(pattern, re.IGNORECASE))
    for category, pattern in (
        ("gps", r"^exif:GPS|^xmp:.*(?:GPS|Location)|:location"),
        (
            "camera",
            r"^exif:(?:Make|Model|SerialNumber|Lens\w*|MakerNote|BodySerialNumber"
            r"|CameraSerialNumber|ImageUniqueID|OwnerName)$",
        ),
        (
            "author",
            r"^exif:(?:Artist|XPAuthor|Copyright)$|^pdf:Info/Author$|^pdf:annotation/T$"
            r"|^ooxml:(?:people|author|user-name|commentAuthors)$|^odf:(?:creator|initial-creator)",
        ),
        (
            "paths",
            r"^ooxml:(?:local-path|file-path|external-target|image-file-name|attachedTemplate"
            r"|external-field|data-connection|mail-merge)$|^pdf:(?:local-file-link|external-reference"
            r"|action/GoToR|action/GoToE)$|^exif:(?:HostComputer|DocumentName|PageName)$",
        ),
        (
            "dates",
            r"(?-i:Date|(?<!Exposure)Time)|^zip:timestamps$|^pdf:LastModified$"
            r"|^pdf:annotation/M$|^png:tIME$",
        ),
        ("software", r"^exif:Software$|^pdf:Info/(?:Creator|Producer)$|^pdf:layer-creator$"),
        (
            "properties",
            r"^pdf:Info\b|^pdf:thread-info$|^ooxml:(?:docProps|customXml|smartTag|docVars|sensitivity-label)"
            r"|^odf:(?:meta\.xml|rdf-metadata)$|^exif:(?:ImageDescription|XPTitle|XPSubject"
            r"|XPKeywords)$",
        ),
        (
            "comments",
            r"COM$|comment|annotation|^png:(?:tEXt|zTXt|iTXt)$|^gif:extension-0xFE$",
        ),
        (
            "history",
            r"revisions|tracked-changes|incremental-updates|^ooxml:(?:revision-uid|bookmark)$",
        ),
        (
            # Values no reader sees that a writer chose per copy: ids, and the names and
            # types the package format lets it choose freely.
            "ids",
            r"^pdf:ID$|^ooxml:(?:docId|rsid|nsid|paraId|object-id|content-control"
            r"|relationship-id|dangling-relationship|namespace-prefix|content-type|bookmark-name"
            r"|part-name|font-key)$|^odf:(?:rsid|xml-id|dangling-reference|unknown-version)$",
        ),
        (
            "thumbnails",
            r"thumb|^jpeg:MPF$|^heif:extra-images$|trailing-data|extraneous-bytes",
        ),
        ("attachments", r"^pdf:(?:EmbeddedFiles|AF|Collection)$"),
        (
            "scripts",
            r"JavaScript|macros|^pdf:(?:OpenAction|AA|XFA|action/\w+)$|^ooxml:pivot-refresh$",
        ),
        ("signatures", r"signature|^pdf:Perms$|password-hash|^ooxml:permissions$"),
        ("printer", r"printerSettings|^exif:PrintIM$|^pdf:OPI$"),
        ("colour", r"icc|color-profile|^pdf:OutputIntents$"),
        (
            "blocks",
            r"^xmp|XMP|^iptc$|IPTC|^png:eXIf$|^webp:EXIF$|^jpeg:APP13$|Photoshop|^jpeg:JUMBF$|PieceInfo|SpiderInfo"
            r"|web-capture|^exif$",
        ),
        ("settings", r"^exif:|^jpeg:APP|^jfif|^odf:settings\.xml$"),
        ("filesystem", r"^zip:(?:permissions|extra-fields)$"),
    )
)


def category(field: str) -> str:
    """The category key of one removed field's name."""
    leaf = _CONTAINER.sub("", field)
    for key, pattern in _RULES:
        if pattern.search(leaf):
            return key
    return OTHER


def group(removed: tuple[str, ...] | list[str]) -> list[tuple[str, list[str]]]:
    """(category, its field names) for every category present, in `CATEGORIES` order;
    every name of `removed` is in exactly one group."""
    found: dict[str, list[str]] = {}
    for field in removed:
        found.setdefault(category(field), []).append(field)
    return [(key, found[key]) for key in CATEGORIES if key in found]
