"""The OPC package of an OOXML document: which parts and relationships a cleaned one keeps.

The relationship, content-type and path tables that decide what a part is (ECMA-376 Part 1
§15 and the Microsoft extensions), the report names of everything removed, and the reading
and rewriting of the two package parts themselves (ECMA-376 Part 2: ``[Content_Types].xml``
and the ``.rels`` parts). The walk over the package is `scrubbers.ooxml`'s.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote

from scrubbers import _xml
from scrubbers._sniff import UNKNOWN, sniff
from scrubbers._xml import Element
from scrubbers._zip import is_font, looks_like_xml
from scrubbers.errors import CorruptFileError

CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = "[Content_Types].xml"
PACKAGE_RELS = "_rels/.rels"

TRACKED = "ooxml:tracked-changes"
EXTERNAL = "ooxml:external-target"  # something Office loads by itself from elsewhere
EXTERNAL_FIELD = "ooxml:external-field"  # INCLUDEPICTURE, INCLUDETEXT, LINK, DDE, DDEAUTO
UNCLEANABLE = "ooxml:uncleanable-part"  # taken out, handed back on its own, not cleaned
UNKNOWN_XML = "ooxml:unknown-xml"  # elements/attributes of namespaces outside the allowlist
COMMENTS = "ooxml:comments"
RSID = "ooxml:rsid"
MACROS = "ooxml:macros"
CUSTOM_XML = "ooxml:customXml"  # custom XML parts, and the custom markup naming them

# Relationship types (last path segment, or the last two for the package-level ones) whose
# target part, and the relationship itself, are removed.
REL_DROP = {
    "metadata/core-properties": "ooxml:docProps/core",
    "extended-properties": "ooxml:docProps/app",
    "custom-properties": "ooxml:docProps/custom",
    "metadata/thumbnail": "ooxml:thumbnail",
    "comments": COMMENTS,
    "commentsExtended": COMMENTS,
    "commentsIds": COMMENTS,
    "commentsExtensible": COMMENTS,
    "threadedComment": COMMENTS,
    "commentAuthors": COMMENTS,
    "people": "ooxml:people",
    "person": "ooxml:people",
    "authors": "ooxml:people",
    "printerSettings": "ooxml:printerSettings",
    "customXml": CUSTOM_XML,
    "customXmlProps": CUSTOM_XML,
    "attachedTemplate": "ooxml:attachedTemplate",
    "classificationlabels": "ooxml:sensitivity-label",
    "digital-signature/origin": "ooxml:digital-signature",
    "digital-signature/signature": "ooxml:digital-signature",
    "digital-signature/certificate": "ooxml:digital-signature",
    "usernames": "ooxml:revisions",
    "revisionHeaders": "ooxml:revisions",
    "revisionLog": "ooxml:revisions",
    "revisionInfo": "ooxml:revisions",
    "changesInfo": "ooxml:revisions",
    "mailMergeSource": "ooxml:mail-merge",
    "mailMergeHeaderSource": "ooxml:mail-merge",
    "recipientData": "ooxml:mail-merge",
    # Macros (.docm/.xlsm/.pptm): the VBA project is no visible content, and it carries the
    # module names, the author's project name and paths; its signature carries a certificate.
    "vbaProject": MACROS,
    "wordVbaData": MACROS,
    "vbaProjectSignature": MACROS,
    "vbaProjectSignatureAgile": MACROS,
    "vbaProjectSignatureV3": MACROS,
    "keyMapCustomizations": MACROS,
    "attachedToolbars": MACROS,
    "xlMacrosheet": MACROS,  # Excel 4 (XLM) macro sheets
    "xlIntlMacrosheet": MACROS,
    "metadata/auxThumbnail": "ooxml:thumbnail",
}

# Relationship types (keyed as above) whose parts are kept and cleaned: the part types of
# ECMA-376 Part 1 §15 (document content, not document properties), those of the Microsoft
# extensions Office writes ([MS-DOCX], [MS-XLSX], [MS-PPTX], [MS-ODRAWXML]) and the Visio
# package ([MS-VSDX]), plus hyperlinks. A relationship of any other type, and the part it
# reaches, is removed and reported as "ooxml:unknown-part": what Office does not know it
# does not show, and it may hold anything.
REL_KEEP = frozenset(
    {
        # shared (§15.2)
        "officeDocument", "image", "hyperlink", "oleObject", "package", "font", "theme",
        "themeOverride", "chart", "chartUserShapes", "chartStyle", "chartColorStyle",
        "diagramData", "diagramLayout", "diagramQuickStyle", "diagramColors", "diagramDrawing",
        "drawing", "vmlDrawing", "media", "audio", "video", "control", "ctrlProp",
        "activeXControl", "activeXControlBinary", "hdphoto", "model3d", "ink", "sourceObject",
        "styles", "stylesWithEffects", "settings", "webSettings", "fontTable", "numbering",
        # WordprocessingML (§15.3, [MS-DOCX])
        "footnotes", "endnotes", "header", "footer", "glossaryDocument", "subDocument",
        "aFChunk", "frame",
        # SpreadsheetML (§15.4, [MS-XLSX])
        "worksheet", "chartsheet", "dialogsheet", "sharedStrings", "calcChain", "table",
        "tableSingleCells", "queryTable", "pivotTable", "pivotCacheDefinition",
        "pivotCacheRecords", "externalLink", "externalLinkPath", "connections",
        "volatileDependencies", "sheetMetadata", "slicer", "slicerCache", "timeline",
        "timelineCache", "rdRichValue", "rdRichValueStructure", "rdRichValueTypes",
        "richValueRel", "rdArray", "rdSupportingPropertyBag", "rdSupportingPropertyBagStructure",
        "FeaturePropertyBag", "namedSheetView",
        # PresentationML (§15.5, [MS-PPTX])
        "slide", "slideLayout", "slideMaster", "notesSlide", "notesMaster", "handoutMaster",
        "presProps", "viewProps", "tableStyles", "tags", "slideUpdateInfo",
        "legacyDocTextInfo",
        # Visio ([MS-VSDX]) and themes (.thmx)
        "document", "masters", "master", "pages", "page", "windows", "solutions", "solution",
        "validation", "recalcDocument", "themeManager",
    }
)  # fmt: skip
UNKNOWN_PART = "ooxml:unknown-part"

# Content types (suffix after the last '.', '+xml' removed) of parts removed wherever they
# are, even when nothing references them by a relationship of the types above.
CT_DROP = {
    "core-properties": "ooxml:docProps/core",
    "extended-properties": "ooxml:docProps/app",
    "custom-properties": "ooxml:docProps/custom",
    "customXmlProperties": CUSTOM_XML,
    "comments": COMMENTS,
    "commentsExtended": COMMENTS,
    "commentsIds": COMMENTS,
    "commentsExtensible": COMMENTS,
    "threadedcomments": COMMENTS,
    "commentAuthors": COMMENTS,
    "people": "ooxml:people",
    "person": "ooxml:people",
    "authors": "ooxml:people",
    "printerSettings": "ooxml:printerSettings",
    "userNames": "ooxml:revisions",
    "revisionHeaders": "ooxml:revisions",
    "revisionLog": "ooxml:revisions",
    "classificationlabels": "ooxml:sensitivity-label",
    "digital-signature-xmlsignature": "ooxml:digital-signature",
    "digital-signature-origin": "ooxml:digital-signature",
    "digital-signature-certificate": "ooxml:digital-signature",
    # Not "vbaProject" itself: Excel declares it as the Default for every ".bin" part, so an
    # embedded OLE object could fall under it; the relationship type identifies it instead.
    "vbaData": MACROS,
    "vbaProjectSignature": MACROS,
    "vbaProjectSignatureAgile": MACROS,
    "vbaProjectSignatureV3": MACROS,
    "keyMapCustomizations": MACROS,
    "attachedToolbars": MACROS,
}

# Main-part content types of macro-enabled packages -> their macro-free equivalents (the
# cleaned package has no macros, and Office refuses a .docx whose main part claims some).
MACRO_FREE = {
    "application/vnd.ms-word.document.macroenabled.main+xml": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    ),
    "application/vnd.ms-word.template.macroenabledtemplate.main+xml": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"
    ),
    "application/vnd.ms-excel.sheet.macroenabled.main+xml": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    ),
    "application/vnd.ms-excel.template.macroenabled.main+xml": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml"
    ),
    "application/vnd.ms-powerpoint.presentation.macroenabled.main+xml": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
    ),
    "application/vnd.ms-powerpoint.slideshow.macroenabled.main+xml": (
        "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml"
    ),
    "application/vnd.ms-powerpoint.template.macroenabled.main+xml": (
        "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml"
    ),
}

PATH_DROP = (
    (re.compile(r"^customXml/", re.I), CUSTOM_XML),
    (re.compile(r"^docMetadata/", re.I), "ooxml:sensitivity-label"),
    (re.compile(r"^_xmlsignatures/", re.I), "ooxml:digital-signature"),
    (re.compile(r"(^|/)printerSettings/", re.I), "ooxml:printerSettings"),
    (re.compile(r"^docProps/thumbnail\.", re.I), "ooxml:thumbnail"),
    (re.compile(r"^docProps/core\.xml$", re.I), "ooxml:docProps/core"),
    (re.compile(r"^docProps/app\.xml$", re.I), "ooxml:docProps/app"),
    (re.compile(r"^docProps/custom\.xml$", re.I), "ooxml:docProps/custom"),
)

# An absolute or parent-relative file reference: it names folders on the author's machine.
LOCAL_PATH = re.compile(r"^\s*(?:file:|[A-Za-z]:[\\/]|\\\\|/|\.\.[\\/])", re.I)
_URL_SCHEME = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]+:")


# Where relationship types are defined: ECMA-376 (package and document level, both
# editions) and the Microsoft extensions ([MS-DOCX], [MS-XLSX], [MS-PPTX], [MS-VSDX]:
# office/<year>[/<month>]/relationships, visio/2010/relationships). A type under any other
# URI is unknown whatever its last segment: the rest of the URI would be free text kept in
# the package. Case-insensitive, as some writers spell "officedocument".
_REL_TYPE = re.compile(
    r"(?:http://schemas\.openxmlformats\.org/(?:officeDocument|package)/2006/relationships"
    r"|http://purl\.oclc\.org/ooxml/officeDocument/relationships"
    r"|http://schemas\.microsoft\.com/(?:office|visio)/20\d\d(?:/\d\d)?/relationships)"
    r"/((?:metadata/|digital-signature/)?[A-Za-z][A-Za-z0-9-]*)",
    re.I,
)


def _rel_key(rel_type: str) -> str:
    """The type's key in the tables above ("" for a type of no known specification)."""
    match = _REL_TYPE.fullmatch(rel_type)
    return match.group(1) if match else ""


def ct_key(content_type: str) -> str:
    base = content_type.split(";")[0].strip()
    base = base.removesuffix("+xml")
    return base.rsplit(".", 1)[-1]


def is_local_path(target: str) -> bool:
    if LOCAL_PATH.match(target):
        return True
    # Anything that is not a URL with a scheme (http:, mailto:) is a path relative to where
    # the document was saved.
    scheme = _URL_SCHEME.match(target)
    return scheme is None and target.strip() not in ("", "NULL") and not target.startswith("#")


@dataclass
class Relationship:
    element: Element
    rel_id: str
    key: str
    external: bool
    target: str | None  # resolved part name (internal), None when outside the package


# The two package parts of OPC (ECMA-376 Part 2, §9.3 and §10.1), by element and attribute:
# nothing else survives in them (an extra attribute or element is free text Office ignores).
REL_ATTRIBUTES = frozenset({"Id", "Type", "Target", "TargetMode"})
TYPES_ATTRIBUTES = {
    "Default": frozenset({"Extension", "ContentType"}),
    "Override": frozenset({"PartName", "ContentType"}),
}


def keep_only(
    doc: _xml.XmlDoc, ns: str, allowed: dict[str, frozenset[str]], removed: set[str]
) -> None:
    root = doc.root
    before = (len(root), len(root.attrib), len(doc.namespaces))
    root.attrib.clear()
    root.text = None
    root[:] = [
        child
        for child in root
        if _xml.namespace(child.tag) == ns and _xml.local_name(child.tag) in allowed
    ]
    changed = (len(root), 0) != before[:2]
    for child in root:
        child.tail = None
        child.text = None
        names = allowed[_xml.local_name(child.tag)]
        for name in list(child.attrib):
            if name not in names:
                del child.attrib[name]
                changed = True
        if len(child):
            child[:] = []
            changed = True
    doc.namespaces = [("", ns)]
    if changed or before[2] != 1:
        removed.add(UNKNOWN_XML)


def content_types(doc: _xml.XmlDoc) -> tuple[dict[str, str], dict[str, str]]:
    if _xml.local_name(doc.root.tag) != "Types":
        raise CorruptFileError("bad [Content_Types].xml")
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}
    for child in doc.root:
        kind = _xml.local_name(child.tag)
        ctype = child.get("ContentType")
        if kind == "Default" and ctype is not None and "Extension" in child.attrib:
            # The first entry for a name counts, as in the cleaned file (OPC allows one).
            defaults.setdefault(child.attrib["Extension"].casefold(), ctype)
        elif kind == "Override" and ctype is not None and "PartName" in child.attrib:
            overrides.setdefault(child.attrib["PartName"].casefold(), ctype)
        else:
            # Refuse what we do not understand: a content-type file Office would reject.
            raise CorruptFileError("bad [Content_Types].xml")
    return defaults, overrides


def rels_source(name: str) -> str | None:
    """The part a .rels member describes ("" for the package), or None for other members."""
    directory, base = posixpath.split(name)
    if posixpath.basename(directory) != "_rels" or not base.endswith(".rels"):
        return None
    return posixpath.join(posixpath.dirname(directory), base[: -len(".rels")])


def rels_part_of(source: str) -> str:
    directory, base = posixpath.split(source)
    return posixpath.join(directory, "_rels", base + ".rels")


def relationships(
    doc: _xml.XmlDoc, source: str, folded: dict[str, str], removed: set[str]
) -> list[Relationship]:
    if _xml.local_name(doc.root.tag) != "Relationships":
        raise CorruptFileError("bad relationships part")
    rels: list[Relationship] = []
    base = posixpath.dirname(source)
    for child in doc.root:
        if _xml.local_name(child.tag) != "Relationship":
            continue
        rel_id = child.get("Id", "")
        key = _rel_key(child.get("Type", ""))
        if child.get("TargetMode", "Internal") not in ("Internal", "External"):
            # ST_TargetMode has these two values; any other is free text (read as Internal).
            del child.attrib["TargetMode"]
            removed.add(UNKNOWN_XML)
        raw_target = child.get("Target", "")
        if "#" in raw_target and key != "hyperlink" and child.get("TargetMode") != "External":
            # A fragment means nothing in a reference to a part: free text after the name.
            raw_target = raw_target.split("#", 1)[0]
            child.set("Target", raw_target)
            removed.add(UNKNOWN_XML)
        if child.get("TargetMode", "Internal") == "External":
            rels.append(Relationship(child, rel_id, key, True, None))
            continue
        path = unquote(raw_target.split("#", 1)[0])
        resolved = posixpath.normpath(
            path[1:] if path.startswith("/") else posixpath.join(base, path)
        )
        target = None if resolved.startswith("..") else folded.get(resolved.casefold())
        if target is None and key == "hyperlink":
            # A hyperlink to no part points outside the package whatever its mode says (a
            # path or a URL, free text): made External, and then cleaned or listed as one.
            child.set("TargetMode", "External")
            rels.append(Relationship(child, rel_id, key, True, None))
            continue
        rels.append(Relationship(child, rel_id, key, False, target))
    return rels


def part_kind(name: str, untrusted_data: bytes, font_key: bytes | None = None) -> str:
    """ "xml", "embedded" (a file type with a scrubber), "font" or "unknown", from the bytes;
    ``font_key``: the obfuscation key the font table gives the part, if any."""
    if not untrusted_data.strip() or looks_like_xml(untrusted_data):
        return "xml"
    if sniff(untrusted_data) != UNKNOWN:
        return "embedded"
    if is_font(name, untrusted_data, font_key):
        return "font"
    return "unknown"


def declared_font(name: str, content_type: str) -> bool:
    lowered = content_type.casefold()
    return "font" in lowered or name.casefold().endswith((".odttf", ".fntdata", ".ttf", ".otf"))
