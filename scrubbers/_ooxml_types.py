"""``[Content_Types].xml`` of a cleaned OOXML package: only content types a specification
defines, only entries a kept part uses.

A ``ContentType`` value is a string no reader shows: one outside the types ECMA-376 and the
Microsoft extensions define (and the picture, media and embedded-document types of the
formats cleaned here) would carry anything, so its entry goes (reported); a kept part that
loses its type by it gets the one its bytes and its relationship call for. A ``Default`` for
an extension no kept part has goes too: silently when its type is a known one, as that is
what removing a part leaves behind (the printer settings' ``bin``, the thumbnail's
``jpeg``), and was reported as that removal; the value's spelling is the one listed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from typing import NamedTuple

from scrubbers import _xml
from scrubbers._ooxml_parts import CT_NS, MACRO_FREE, MACROS, TYPES_ATTRIBUTES, keep_only

CONTENT_TYPE = "ooxml:content-type"  # an entry whose content type no specification defines

_OFD = "application/vnd.openxmlformats-officedocument."
_PKG = "application/vnd.openxmlformats-package."
_MSO = "application/vnd.ms-office."
_WORD = "application/vnd.ms-word."
_EXCEL = "application/vnd.ms-excel."
_PPT = "application/vnd.ms-powerpoint."
_VISIO = "application/vnd.ms-visio."
_SUFFIXES: dict[str, tuple[str, ...]] = {
    # ECMA-376 Part 1 §15 and Part 2 (OPC), both editions use these.
    _PKG: (
        "relationships+xml", "core-properties+xml", "digital-signature-origin",
        "digital-signature-xmlsignature+xml", "digital-signature-certificate",
    ),
    _OFD: (
        "theme+xml", "themeOverride+xml", "themeManager+xml", "drawing+xml", "vmlDrawing",
        "oleObject", "obfuscatedFont", "extended-properties+xml", "custom-properties+xml",
        "customXmlProperties+xml", "drawingml.chart+xml", "drawingml.chartshapes+xml",
        "drawingml.diagramColors+xml", "drawingml.diagramData+xml",
        "drawingml.diagramLayout+xml", "drawingml.diagramStyle+xml", "theme",
        "wordprocessingml.document.main+xml", "wordprocessingml.template.main+xml",
        "wordprocessingml.document.glossary+xml", "wordprocessingml.comments+xml",
        "wordprocessingml.commentsExtended+xml", "wordprocessingml.commentsIds+xml",
        "wordprocessingml.commentsExtensible+xml", "wordprocessingml.endnotes+xml",
        "wordprocessingml.footnotes+xml", "wordprocessingml.fontTable+xml",
        "wordprocessingml.footer+xml", "wordprocessingml.header+xml",
        "wordprocessingml.numbering+xml", "wordprocessingml.settings+xml",
        "wordprocessingml.styles+xml", "wordprocessingml.webSettings+xml",
        "wordprocessingml.people+xml", "wordprocessingml.printerSettings",
        "wordprocessingml.document", "wordprocessingml.template",
        "spreadsheetml.sheet.main+xml", "spreadsheetml.template.main+xml",
        "spreadsheetml.worksheet+xml", "spreadsheetml.chartsheet+xml",
        "spreadsheetml.dialogsheet+xml", "spreadsheetml.sharedStrings+xml",
        "spreadsheetml.styles+xml", "spreadsheetml.calcChain+xml", "spreadsheetml.comments+xml",
        "spreadsheetml.connections+xml", "spreadsheetml.externalLink+xml",
        "spreadsheetml.pivotTable+xml", "spreadsheetml.pivotCacheDefinition+xml",
        "spreadsheetml.pivotCacheRecords+xml", "spreadsheetml.queryTable+xml",
        "spreadsheetml.revisionHeaders+xml", "spreadsheetml.revisionLog+xml",
        "spreadsheetml.userNames+xml", "spreadsheetml.sheetMetadata+xml",
        "spreadsheetml.table+xml", "spreadsheetml.tableSingleCells+xml",
        "spreadsheetml.volatileDependencies+xml", "spreadsheetml.printerSettings",
        "spreadsheetml.sheet", "spreadsheetml.template",
        "presentationml.presentation.main+xml", "presentationml.slideshow.main+xml",
        "presentationml.template.main+xml", "presentationml.slide+xml",
        "presentationml.slideLayout+xml", "presentationml.slideMaster+xml",
        "presentationml.notesSlide+xml", "presentationml.notesMaster+xml",
        "presentationml.handoutMaster+xml", "presentationml.presProps+xml",
        "presentationml.viewProps+xml", "presentationml.tableStyles+xml",
        "presentationml.tags+xml", "presentationml.commentAuthors+xml",
        "presentationml.comments+xml", "presentationml.slideUpdateInfo+xml",
        "presentationml.printerSettings", "presentationml.presentation",
        "presentationml.slideshow", "presentationml.template", "presentationml.slide",
    ),
    # [MS-DOCX], [MS-XLSX], [MS-PPTX], [MS-ODRAWXML], [MS-VSDX], [MS-OFFMACRO2].
    _MSO: (
        "vbaProject", "vbaProjectSignature", "vbaProjectSignatureAgile",
        "vbaProjectSignatureV3", "activeX+xml", "activeX", "chartstyle+xml",
        "chartcolorstyle+xml", "drawingml.diagramDrawing+xml", "classificationlabels+xml",
        "webextension+xml", "webextensiontaskpanes+xml",
    ),
    _WORD: (
        "document.macroEnabled.main+xml", "template.macroEnabledTemplate.main+xml",
        "stylesWithEffects+xml", "keyMapCustomizations+xml", "vbaData+xml",
        "attachedToolbars", "document.macroEnabled.12", "template.macroEnabled.12",
    ),
    _EXCEL: (
        "sheet.macroEnabled.main+xml", "template.macroEnabled.main+xml",
        "addin.macroEnabled.main+xml", "sheet.binary.macroEnabled.main",
        "controlproperties+xml", "macrosheet+xml", "intlmacrosheet+xml", "slicer+xml",
        "slicerCache+xml", "timeline+xml", "timelineCache+xml", "threadedcomments+xml",
        "person+xml", "rdrichvalue+xml", "rdrichvaluestructure+xml", "rdrichvaluetypes+xml",
        "richvaluerel+xml", "rdarray+xml", "rdsupportingpropertybag+xml",
        "rdsupportingpropertybagstructure+xml", "namedsheetviews+xml", "sheetMetadata+xml",
        "revisions+xml", "sheet.macroEnabled.12", "sheet.binary.macroEnabled.12",
    ),
    _PPT: (
        "presentation.macroEnabled.main+xml", "slideshow.macroEnabled.main+xml",
        "template.macroEnabled.main+xml", "addin.macroEnabled.main+xml", "comments+xml",
        "authors+xml", "changesinfo+xml", "revisioninfo+xml",
        "presentation.macroEnabled.12", "slideshow.macroEnabled.12",
    ),
    _VISIO: (
        "drawing.main+xml", "template.main+xml", "stencil.main+xml",
        "drawing.macroEnabled.main+xml", "template.macroEnabled.main+xml",
        "stencil.macroEnabled.main+xml", "masters+xml", "master+xml", "pages+xml", "page+xml",
        "windows+xml", "solutions+xml", "solution+xml", "validation+xml",
    ),
}  # fmt: skip
_WHOLE = (
    "application/xml", "text/xml", "application/octet-stream", "text/plain",
    # Embedded objects: legacy binaries (handed back uncleaned) and documents cleaned here.
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/vnd.visio", "application/pdf", "application/zip", "application/epub+zip",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/vnd.oasis.opendocument.graphics",
    # Fonts (obfuscated or not) and ink.
    "application/x-fontdata", "application/x-font-ttf", "application/x-font-otf",
    "application/vnd.ms-package.obfuscated-opentype", "font/ttf", "font/otf",
    "application/inkml+xml", "model/gltf-binary",
    # Pictures.
    "image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff", "image/webp",
    "image/heif", "image/svg+xml", "image/emf", "image/wmf", "image/x-emf", "image/x-wmf",
    "image/vnd.ms-photo", "image/x-icon",
    # Sound and video.
    "audio/mpeg", "audio/mp4", "audio/wav", "audio/x-wav", "audio/aiff", "audio/flac",
    "audio/ogg", "audio/x-ms-wma", "video/mp4", "video/quicktime", "video/3gpp",
    "video/x-msvideo", "video/x-matroska", "video/webm", "video/x-ms-wmv",
)  # fmt: skip
# Lookup by the case-folded value (media types are case-insensitive); the spelling kept is
# the one listed, the one Office writes, so that a value's letter case says nothing either.
_ALLOWED = {
    value.casefold(): value
    for value in (
        *(prefix + suffix for prefix, suffixes in _SUFFIXES.items() for suffix in suffixes),
        *_WHOLE,
    )
}
XML_FALLBACK = "application/xml"
RELS_TYPE = _PKG + "relationships+xml"
BINARY_TYPE = "application/octet-stream"
_FAMILIES = {"word": "wordprocessingml", "xl": "spreadsheetml", "ppt": "presentationml"}
# Relationship types whose part type is not named after them.
_PART_TYPE_NAMES = {
    "diagramQuickStyle": "drawingml.diagramStyle",
    "diagramDrawing": "drawingml.diagramDrawing",
    "chartUserShapes": "drawingml.chartshapes",
    "glossaryDocument": "document.glossary",
    "ctrlProp": "controlproperties",
    "activeXControl": "activeX",
}
_MAIN_PART_NAMES = {
    "wordprocessingml": "document.main",
    "spreadsheetml": "sheet.main",
    "presentationml": "presentation.main",
}


# The names Office gives the XML parts it writes, by the type of the relationship reaching
# them (keyed as `_ooxml_parts.REL_KEEP`): a numbered one (header1.xml, header2.xml ...) in
# its folder under the main part's, an unnumbered one (styles.xml) in its folder beside the
# part referring to it (a glossary document's styles in word/glossary/). `_ooxml_names`
# gives them out; a part of a type not listed here is ``<main folder>/part<n>.xml``.
class PartName(NamedTuple):
    folder: str
    stem: str
    numbered: bool
    extension: str = ".xml"


MAIN_PARTS = {
    "wordprocessingml": "word/document.xml",
    "spreadsheetml": "xl/workbook.xml",
    "presentationml": "ppt/presentation.xml",
}
PART_NAMES = {
    # shared
    "styles": PartName("", "styles", False),
    "stylesWithEffects": PartName("", "stylesWithEffects", False),
    "settings": PartName("", "settings", False),
    "webSettings": PartName("", "webSettings", False),
    "fontTable": PartName("", "fontTable", False),
    "numbering": PartName("", "numbering", False),
    "theme": PartName("theme", "theme", True),
    "themeOverride": PartName("theme", "themeOverride", True),
    "chart": PartName("charts", "chart", True),
    "chartStyle": PartName("charts", "style", True),
    "chartColorStyle": PartName("charts", "colors", True),
    "chartUserShapes": PartName("drawings", "drawing", True),
    "diagramData": PartName("diagrams", "data", True),
    "diagramLayout": PartName("diagrams", "layout", True),
    "diagramQuickStyle": PartName("diagrams", "quickStyle", True),
    "diagramColors": PartName("diagrams", "colors", True),
    "diagramDrawing": PartName("diagrams", "drawing", True),
    "drawing": PartName("drawings", "drawing", True),
    "vmlDrawing": PartName("drawings", "vmlDrawing", True, ".vml"),
    "control": PartName("activeX", "activeX", True),
    "activeXControl": PartName("activeX", "activeX", True),
    "ctrlProp": PartName("ctrlProps", "ctrlProp", True),
    "ink": PartName("ink", "ink", True),
    # WordprocessingML
    "footnotes": PartName("", "footnotes", False),
    "endnotes": PartName("", "endnotes", False),
    "header": PartName("", "header", True),
    "footer": PartName("", "footer", True),
    "glossaryDocument": PartName("glossary", "document", False),
    # SpreadsheetML
    "worksheet": PartName("worksheets", "sheet", True),
    "chartsheet": PartName("chartsheets", "sheet", True),
    "dialogsheet": PartName("dialogsheets", "sheet", True),
    "sharedStrings": PartName("", "sharedStrings", False),
    "calcChain": PartName("", "calcChain", False),
    "connections": PartName("", "connections", False),
    "volatileDependencies": PartName("", "volatileDependencies", False),
    "sheetMetadata": PartName("", "metadata", False),
    "table": PartName("tables", "table", True),
    "tableSingleCells": PartName("tables", "tableSingleCells", True),
    "queryTable": PartName("queryTables", "queryTable", True),
    "pivotTable": PartName("pivotTables", "pivotTable", True),
    "pivotCacheDefinition": PartName("pivotCache", "pivotCacheDefinition", True),
    "pivotCacheRecords": PartName("pivotCache", "pivotCacheRecords", True),
    "externalLink": PartName("externalLinks", "externalLink", True),
    "slicer": PartName("slicers", "slicer", True),
    "slicerCache": PartName("slicerCaches", "slicerCache", True),
    "timeline": PartName("timelines", "timeline", True),
    "timelineCache": PartName("timelineCaches", "timelineCache", True),
    "namedSheetView": PartName("namedSheetViews", "namedSheetView", True),
    # PresentationML
    "slide": PartName("slides", "slide", True),
    "slideLayout": PartName("slideLayouts", "slideLayout", True),
    "slideMaster": PartName("slideMasters", "slideMaster", True),
    "notesSlide": PartName("notesSlides", "notesSlide", True),
    "notesMaster": PartName("notesMasters", "notesMaster", True),
    "handoutMaster": PartName("handoutMasters", "handoutMaster", True),
    "presProps": PartName("", "presProps", False),
    "viewProps": PartName("", "viewProps", False),
    "tableStyles": PartName("", "tableStyles", False),
    "tags": PartName("tags", "tag", True),
}
# Word's embedded fonts, once given a neutral key (`_ooxml_fonts`).
FONT_PART = PartName("fonts", "font", True, ".odttf")
FALLBACK_PART = PartName("", "part", True)


def allowed_content_type(value: str) -> str | None:
    """The listed spelling of a content type a specification defines, else None."""
    return _ALLOWED.get(value.strip().casefold())


def document_family(main_part: str) -> str:
    """ "wordprocessingml", "spreadsheetml", "presentationml" (or "") from the main part's
    folder, as `scrubbers._sniff` tells the three apart."""
    return _FAMILIES.get(main_part.split("/", 1)[0].casefold(), "")


def font_part_type(name: str) -> str:
    # Word obfuscates the fonts it embeds (.odttf) and says so by this content type only.
    if name.casefold().endswith(".odttf"):
        return _OFD + "obfuscatedFont"
    return "application/x-fontdata"


def xml_part_type(rel_key: str, family: str) -> str:
    """The content type of an XML part reached by a relationship of type ``rel_key``, in a
    document of ``family`` ("wordprocessingml", "spreadsheetml", "presentationml"): the
    part types of ECMA-376 are named after their relationship types."""
    if rel_key == "officeDocument":
        name = _MAIN_PART_NAMES.get(family, "")
    else:
        name = _PART_TYPE_NAMES.get(rel_key, rel_key)
    prefixes = (f"{_OFD}{family}.", _OFD, f"{_OFD}drawingml.", _MSO, _WORD, _EXCEL, _PPT)
    for suffix in ("+xml", ""):  # VML is XML without "+xml"
        for prefix in prefixes:
            listed = allowed_content_type(prefix + name + suffix)
            if listed is not None:
                return listed
    return XML_FALLBACK


def clean_content_types(
    doc: _xml.XmlDoc,
    kept_parts: Mapping[str, str],
    required_type: Callable[[str], str],
    removed: set[str],
) -> None:
    """Entries only for the kept parts (their names in the cleaned package -> in the
    original: an Override follows its part's new name), with listed content types only, one
    per name, written in one order (Defaults by extension, then Overrides by part name: the
    order of the entries and the letter case of their names would carry marks too);
    ``required_type`` gives a part left without a type the one its bytes call for."""
    by_name = {"/" + original.casefold(): name for name, original in kept_parts.items()}
    used_extensions = {posixpath.splitext(name)[1][1:].casefold() for name in by_name.values()}
    defaults: dict[str, str] = {}  # extension, lower case -> content type
    overrides: dict[str, str] = {}  # "/" + member name -> content type
    retyped: set[str] = set()  # parts whose Override went: their Default may not fit them
    kept_as_written: list[tuple[str, str, str]] = []
    for child in doc.root:  # complete Defaults and Overrides only: `content_types` checked
        is_override = _is(child, "Override")
        written_key = child.get("PartName" if is_override else "Extension", "")
        value = child.get("ContentType", "")
        if is_override:
            name = by_name.get(written_key.casefold())
            if name is None:
                continue  # its part is not in the package any more (removed and reported)
            key, table = "/" + name, overrides
        else:
            key, table = written_key.casefold(), defaults
        listed = allowed_content_type(value)
        if listed is None:
            removed.add(CONTENT_TYPE)
            if is_override:
                retyped.add(key)
            continue
        if (not is_override and key not in used_extensions) or key in table:
            continue  # nothing to type, or typed already (OPC allows one entry per name)
        macro_free = MACRO_FREE.get(listed.casefold())
        if is_override and macro_free is not None:
            listed = value = macro_free
            removed.add(MACROS)
        table[key] = listed
        # A renamed part's Override is written under its new name (the rename is reported).
        renamed = is_override and key.casefold() != written_key.casefold()
        kept_as_written.append((child.tag, key if renamed else written_key, value))
    keep_only(doc, CT_NS, TYPES_ATTRIBUTES, removed)
    for name in by_name.values():
        default = defaults.get(posixpath.splitext(name)[1][1:].casefold())
        if "/" + name in overrides or (default is not None and "/" + name not in retyped):
            continue
        required = required_type(name)
        if required != default:
            overrides["/" + name] = required
    entries = [
        (f"{{{CT_NS}}}Default", {"Extension": key, "ContentType": value})
        for key, value in sorted(defaults.items())
    ] + [
        (f"{{{CT_NS}}}Override", {"PartName": key, "ContentType": value})
        for key, value in sorted(overrides.items(), key=lambda item: (item[0].casefold(), item))
    ]
    doc.root[:] = [_xml.Element(tag, attributes) for tag, attributes in entries]
    written = [(tag, *attributes.values()) for tag, attributes in entries]
    # A new order alone is not reported: it is every Office file's (Office writes the
    # entries in the order it met the parts), and says nothing the report would help with.
    if sorted(entry for entry in written if entry in kept_as_written) != sorted(kept_as_written):
        removed.add(CONTENT_TYPE)  # spelling or letter case changed


def _is(entry: _xml.Element, kind: str) -> bool:
    return _xml.local_name(entry.tag) == kind
