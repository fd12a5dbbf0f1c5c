"""Office Open XML (.docx, .xlsx, .pptx): remove every identifying part, field and trace.

The package is rebuilt from what its relationship graph reaches, minus the parts that only
describe the people and machines behind the document:

- parts: core/app/custom properties, thumbnail, comments (all generations: comments,
  commentsExtended/Ids/Extensible, threaded comments, pptx comment authors), people/persons,
  printer settings, custom XML, sensitivity labels, digital signatures, shared-workbook and
  co-authoring revision logs, mail-merge sources, macros (VBA project, its data and
  signature, key-map customisations, toolbars: the main part's content type becomes the
  macro-free one), and parts nothing references (invisible to Office, so no reader would
  ever notice what they carry);
- relationships to those parts, the attached-template relationship (its path usually holds
  the Windows user name), and local file paths of external links (made "NULL");
- inside the remaining XML: tracked changes (deletions removed, insertions accepted, property
  changes dropped), comment anchors, editing-permission ranges (editor names), revision-session
  ids (``w:rsid*``, ``w:rsids``), paragraph ids, numbering ids (``w:nsid``, ``w:tmpl``),
  document ids (``w14:docId``, ``xr:revisionPtr``, ``p14:creationId``), ``x15ac:absPath``
  (the folder the workbook was saved in), shared-workbook user names, pivot-cache refresher,
  password hashes, document variables, picture file names, data-connection strings and
  paths (``xl/connections.xml``), and elements pointing at a removed relationship;
- embedded files (images, embedded documents) are cleaned recursively by their own scrubber;
  one that cannot be cleaned makes the whole document "not cleaned".

`get_meta` runs the very same pass without keeping its result, so what the verification step
looks for is exactly what cleaning removes.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from scrubbers import _xml
from scrubbers._core import scrub_embedded
from scrubbers._sniff import UNKNOWN, sniff
from scrubbers._types import Attachment, Cleaned, Limits
from scrubbers._xml import Element
from scrubbers._zip import (
    Package,
    check_attachment_budget,
    is_font,
    looks_like_xml,
    not_cleaned,
    read_package,
    write_package,
)
from scrubbers.errors import CorruptFileError, UnsupportedTypeError

CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = "[Content_Types].xml"
PACKAGE_RELS = "_rels/.rels"

_W = {
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
}
_R = {
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
}
_SML = {
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
}
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
_W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
_P14 = "http://schemas.microsoft.com/office/powerpoint/2010/main"
_X15AC = "http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"
_XR_PREFIX = "http://schemas.microsoft.com/office/spreadsheetml/20"  # xr, xr2, xr3 ... (2014+)
_XR = "http://schemas.microsoft.com/office/spreadsheetml/2014/revision"
_VML_O = "urn:schemas-microsoft-com:office:office"
_VML_V = "urn:schemas-microsoft-com:vml"

TRACKED = "ooxml:tracked-changes"
EXTERNAL = "ooxml:external-target"  # something Office loads by itself from elsewhere
EXTERNAL_FIELD = "ooxml:external-field"  # INCLUDEPICTURE, INCLUDETEXT, LINK, DDE, DDEAUTO
UNCLEANABLE = "ooxml:uncleanable-part"  # taken out, handed back on its own, not cleaned
UNKNOWN_XML = "ooxml:unknown-xml"  # elements/attributes of namespaces outside the allowlist
COMMENTS = "ooxml:comments"
RSID = "ooxml:rsid"
MACROS = "ooxml:macros"

# Relationship types (last path segment, or the last two for the package-level ones) whose
# target part, and the relationship itself, are removed.
_REL_DROP = {
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
    "customXml": "ooxml:customXml",
    "customXmlProps": "ooxml:customXml",
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
_REL_KEEP = frozenset(
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
_CT_DROP = {
    "core-properties": "ooxml:docProps/core",
    "extended-properties": "ooxml:docProps/app",
    "custom-properties": "ooxml:docProps/custom",
    "customXmlProperties": "ooxml:customXml",
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
_MACRO_FREE = {
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

_PATH_DROP = (
    (re.compile(r"^customXml/", re.I), "ooxml:customXml"),
    (re.compile(r"^docMetadata/", re.I), "ooxml:sensitivity-label"),
    (re.compile(r"^_xmlsignatures/", re.I), "ooxml:digital-signature"),
    (re.compile(r"(^|/)printerSettings/", re.I), "ooxml:printerSettings"),
    (re.compile(r"^docProps/thumbnail\.", re.I), "ooxml:thumbnail"),
    (re.compile(r"^docProps/core\.xml$", re.I), "ooxml:docProps/core"),
    (re.compile(r"^docProps/app\.xml$", re.I), "ooxml:docProps/app"),
    (re.compile(r"^docProps/custom\.xml$", re.I), "ooxml:docProps/custom"),
)

# WordprocessingML elements removed with their content.
_W_DROP = {
    **dict.fromkeys(
        (
            "del",
            "moveFrom",
            "delText",
            "delInstrText",
            "moveFromRangeStart",
            "moveFromRangeEnd",
            "moveToRangeStart",
            "moveToRangeEnd",
            "customXmlInsRangeStart",
            "customXmlInsRangeEnd",
            "customXmlDelRangeStart",
            "customXmlDelRangeEnd",
            "customXmlMoveFromRangeStart",
            "customXmlMoveFromRangeEnd",
            "customXmlMoveToRangeStart",
            "customXmlMoveToRangeEnd",
            "rPrChange",
            "pPrChange",
            "sectPrChange",
            "tblPrChange",
            "tblPrExChange",
            "trPrChange",
            "tcPrChange",
            "tblGridChange",
            "numberingChange",
            "cellIns",
            "cellDel",
            "cellMerge",
        ),
        TRACKED,
    ),
    **dict.fromkeys(
        ("commentRangeStart", "commentRangeEnd", "commentReference", "annotationRef"), COMMENTS
    ),
    "permStart": "ooxml:permissions",
    "permEnd": "ooxml:permissions",
    "rsids": RSID,
    "attachedTemplate": "ooxml:attachedTemplate",
    "docVars": "ooxml:docVars",
    "mailMerge": "ooxml:mail-merge",
    "nsid": "ooxml:nsid",
    "tmpl": "ooxml:nsid",
}
# Accepting an insertion = keeping its content without the wrapper (which names the author).
_W_UNWRAP = {"ins", "moveTo"}
_HASH_ATTRIBUTES = {
    "hash",
    "salt",
    "hashValue",
    "saltValue",
    "password",
    "workbookPassword",
    "revisionsPassword",
    "workbookHashValue",
    "workbookSaltValue",
    "revisionsHashValue",
    "revisionsSaltValue",
}
_PIVOT_ATTRIBUTES = {"refreshedBy", "refreshedDate", "refreshedDateIso"}
# External data connections (xl/connections.xml, and the x15/x16 extensions that mirror
# them): the connection string names the server, the database and often "User ID=<login>";
# the .odc and source-file paths name folders on the author's machine ("C:\Users\<name>\My
# Data Sources\..."); the single-sign-on id names a credential-store entry. The cached values
# in the sheets stay; only refreshing needs the connection, and it must be set up again.
_CONNECTION_ATTRIBUTES = {"connection", "odcFile", "sourceFile", "singleSignOnId"}
_CONNECTION_REQUIRED = {("dbPr", "connection")}  # required by the schema: emptied, not removed
_PICTURE_FILE = re.compile(
    r"[\\/]|\.(jpe?g|png|gif|bmp|tiff?|heic|heif|webp|emf|wmf|svg|ico|pdf)\s*$", re.I
)
# An absolute or parent-relative file reference: it names folders on the author's machine.
_LOCAL_PATH = re.compile(r"^\s*(?:file:|[A-Za-z]:[\\/]|\\\\|/|\.\.[\\/])", re.I)
_URL_SCHEME = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]+:")


def _rel_key(rel_type: str) -> str:
    parts = rel_type.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] in ("metadata", "digital-signature"):
        return parts[-2] + "/" + parts[-1]
    return parts[-1]


def _ct_key(content_type: str) -> str:
    base = content_type.split(";")[0].strip()
    base = base.removesuffix("+xml")
    return base.rsplit(".", 1)[-1]


def _is_local_path(target: str) -> bool:
    if _LOCAL_PATH.match(target):
        return True
    # Anything that is not a URL with a scheme (http:, mailto:) is a path relative to where
    # the document was saved.
    scheme = _URL_SCHEME.match(target)
    return scheme is None and target.strip() not in ("", "NULL") and not target.startswith("#")


@dataclass
class _Rel:
    element: Element
    rel_id: str
    key: str
    external: bool
    target: str | None  # resolved part name (internal), None when outside the package


@dataclass
class _Pass:
    """One cleaning pass over a package (shared by get_meta and remove_all)."""

    package: Package
    limits: Limits
    check_only: bool
    removed: set[str] = field(default_factory=set)
    attachments: list[Attachment] = field(default_factory=list)
    warnings: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)

    def run(self) -> dict[str, bytes]:
        members = self.package.members
        self.removed.update(self.package.traces)
        folded = {name.casefold(): name for name in members}
        if CONTENT_TYPES not in members:
            raise CorruptFileError("OOXML package without [Content_Types].xml")
        if PACKAGE_RELS not in members:
            raise CorruptFileError("OOXML package without relationships")
        types_doc = _xml.parse(members[CONTENT_TYPES], self.limits)
        defaults, overrides = _content_types(types_doc)

        def content_type(name: str) -> str:
            return overrides.get(
                "/" + name.casefold(), defaults.get(posixpath.splitext(name)[1][1:].casefold(), "")
            )

        # Parts removed for what they are, wherever they sit.
        drop: dict[str, str] = {}
        for name in members:
            if name == CONTENT_TYPES or _rels_source(name) is not None:
                continue
            reason = _CT_DROP.get(_ct_key(content_type(name)))
            for pattern, path_reason in _PATH_DROP:
                if reason is None and pattern.search(name):
                    reason = path_reason
            if reason is not None:
                drop[name] = reason

        # Walk the relationship graph from the package root; removed parts are not entered.
        rels_docs: dict[str, tuple[_xml.XmlDoc, list[_Rel]]] = {}
        reachable: set[str] = set()
        queue = [""]
        while queue:
            source = queue.pop()
            rels_name = _rels_name(source)
            if rels_name not in members or rels_name in rels_docs:
                continue
            doc = _xml.parse(members[rels_name], self.limits)
            rels = _relationships(doc, source, folded)
            rels_docs[rels_name] = (doc, rels)
            for rel in rels:
                if rel.external:
                    continue
                if rel.key in _REL_DROP and rel.target is not None:
                    drop.setdefault(rel.target, _REL_DROP[rel.key])
                elif rel.key not in _REL_KEEP and rel.target is not None:
                    drop.setdefault(rel.target, UNKNOWN_PART)
                if rel.target is not None and rel.target not in drop:
                    if rel.target not in reachable:
                        reachable.add(rel.target)
                        queue.append(rel.target)

        for rel in rels_docs.get(PACKAGE_RELS, (None, []))[1]:
            if rel.key == "officeDocument" and rel.target is not None:
                if looks_like_xml(members[rel.target]):
                    continue
                if content_type(rel.target).casefold().endswith("xml"):
                    raise CorruptFileError("main part declared as XML is not XML")
                # XLSB and the like: a binary main part, which no scrubber here reads.
                raise UnsupportedTypeError("binary office document")
        # Every reachable part's type comes from its bytes, never from the declaration. A
        # binary part that no scrubber can vouch for (OLE objects, ActiveX state, audio and
        # video) is taken out and handed back on its own, not cleaned: the document around it
        # (and the part's preview picture) stays and is cleaned, as Office itself keeps a
        # document whose legacy binary parts it drops.
        for name in sorted(reachable):
            if name in drop or name not in members:
                continue
            data = members[name]
            if _part_kind(name, data) != "unknown":
                continue
            if _declared_font(name, content_type(name)):
                # The declaration lies about what the part is: refuse to call it clean.
                raise UnsupportedTypeError("a part declared as a font is not a font")
            if content_type(name).casefold().endswith("xml"):
                raise CorruptFileError("a part declared as XML is not XML")
            drop[name] = UNCLEANABLE
            self.warnings.add("embedded-not-cleaned")
            if not self.check_only:
                self.attachments.append(not_cleaned(name, data, UnsupportedTypeError.reason))

        output: dict[str, bytes] = {}
        for name in members:
            if name == CONTENT_TYPES or _rels_source(name) is not None:
                continue
            if name in drop:
                self.removed.add(drop[name])
            elif name not in reachable:
                self.removed.add("ooxml:unreferenced-part")
            else:
                output[name] = b""  # placeholder, filled below

        # Relationships: drop those of removed types or to removed parts; neutralise local
        # paths of external targets. Remember the ids dropped per source part, so that the
        # elements using them can go too.
        dropped_ids: dict[str, set[str]] = {}
        for rels_name, (doc, rels) in rels_docs.items():
            source = _rels_source(rels_name) or ""
            if source and source not in output:
                continue
            gone: set[str] = set()
            for rel in rels:
                if rel.key in _REL_DROP:
                    self.removed.add(_REL_DROP[rel.key])
                    gone.add(rel.rel_id)
                elif rel.key not in _REL_KEEP and not rel.external:
                    self.removed.add(UNKNOWN_PART)
                    gone.add(rel.rel_id)
                elif not rel.external and rel.target is not None and rel.target in drop:
                    gone.add(rel.rel_id)
                elif not rel.external and rel.target is None and rel.key != "hyperlink":
                    # To a part the package does not have: Office repairs it away, and the
                    # editors' tools may choke on it.
                    gone.add(rel.rel_id)
                elif rel.external and rel.key != "hyperlink":
                    # Loaded by itself when the file is opened (linked pictures, OLE links,
                    # frames, templates, sub-documents, external workbooks): a beacon that
                    # tells whoever serves it which copy was opened, and where.
                    self.removed.add(EXTERNAL)
                    gone.add(rel.rel_id)
                elif rel.external and _is_local_path(rel.element.get("Target", "")):
                    self.removed.add("ooxml:local-path")
                    rel.element.set("Target", "NULL")
                elif rel.external:
                    # A clickable link is content; the editors check it for tracking tokens.
                    self._add_link(rel.element.get("Target", ""))
            doc.root[:] = [
                child
                for child in doc.root
                if child.get("Id") not in gone or _xml.local_name(child.tag) != "Relationship"
            ]
            dropped_ids[source] = gone
            _keep_only(doc, REL_NS, {"Relationship": _REL_ATTRIBUTES}, self.removed)
            output[rels_name] = _xml.serialize(doc)

        # Content types: no entry for a part that is not in the package any more.
        kept_parts = {"/" + name.casefold() for name in output}
        types_doc.root[:] = [
            child
            for child in types_doc.root
            if _xml.local_name(child.tag) != "Override"
            or child.get("PartName", "").casefold() in kept_parts
        ]
        for child in types_doc.root:
            macro_free = _MACRO_FREE.get(child.get("ContentType", "").casefold())
            if _xml.local_name(child.tag) == "Override" and macro_free is not None:
                child.set("ContentType", macro_free)
                self.removed.add(MACROS)
        _keep_only(types_doc, CT_NS, _TYPES_ATTRIBUTES, self.removed)
        output[CONTENT_TYPES] = _xml.serialize(types_doc)

        for name in list(output):
            if name == CONTENT_TYPES or _rels_source(name) is not None:
                continue
            data = members[name]
            kind = _part_kind(name, data)
            if kind == "xml":
                vml = _is_vml(name, content_type(name))
                output[name] = self._clean_xml(data, dropped_ids.get(name, set()), vml=vml)
            elif kind == "font":
                # Embedded fonts are typefaces, not a record of who wrote the document.
                output[name] = data
            else:
                result = scrub_embedded(data, self.limits, check_only=self.check_only)
                self.removed.update(result.removed)
                self.attachments.extend(result.attachments)
                self.warnings.update(result.warnings)
                for link in result.links:
                    self._add_link(link)
                output[name] = result.data
        return output

    def _add_link(self, target: str) -> None:
        if target.strip() and target not in self.links:
            self.links.append(target)
        self.warnings.add("hyperlinks")

    def _clean_xml(self, untrusted_xml: bytes, gone_ids: set[str], *, vml: bool) -> bytes:
        if not untrusted_xml.strip():
            return untrusted_xml  # an empty part carries nothing (and Office tolerates it)
        if vml:
            untrusted_xml = _vml_as_xml(untrusted_xml)
        doc = _xml.parse(untrusted_xml, self.limits)
        _neutralise_fields(doc.root, self.removed, self._add_link)
        _XmlCleaner(self.removed, gone_ids).clean_children(doc.root)
        self._clean_attributes(doc.root, None, gone_ids)
        _keep_known_namespaces(doc, self.removed, unqualified_elements=vml)
        return _xml.serialize(doc)

    def _clean_attributes(self, element: Element, parent: Element | None, gone: set[str]) -> None:
        _clean_element_attributes(element, parent, self.removed, gone)
        for child in element:
            self._clean_attributes(child, element, gone)


# The two package parts of OPC (ECMA-376 Part 2, §9.3 and §10.1), by element and attribute:
# nothing else survives in them (an extra attribute or element is free text Office ignores).
_REL_ATTRIBUTES = frozenset({"Id", "Type", "Target", "TargetMode"})
_TYPES_ATTRIBUTES = {
    "Default": frozenset({"Extension", "ContentType"}),
    "Override": frozenset({"PartName", "ContentType"}),
}


def _keep_only(
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


def _content_types(doc: _xml.XmlDoc) -> tuple[dict[str, str], dict[str, str]]:
    if _xml.local_name(doc.root.tag) != "Types":
        raise CorruptFileError("bad [Content_Types].xml")
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}
    for child in doc.root:
        kind = _xml.local_name(child.tag)
        ctype = child.get("ContentType")
        if kind == "Default" and ctype is not None and "Extension" in child.attrib:
            defaults[child.attrib["Extension"].casefold()] = ctype
        elif kind == "Override" and ctype is not None and "PartName" in child.attrib:
            overrides[child.attrib["PartName"].casefold()] = ctype
        else:
            # Refuse what we do not understand: a content-type file Office would reject.
            raise CorruptFileError("bad [Content_Types].xml")
    return defaults, overrides


def _rels_source(name: str) -> str | None:
    """The part a .rels member describes ("" for the package), or None for other members."""
    directory, base = posixpath.split(name)
    if posixpath.basename(directory) != "_rels" or not base.endswith(".rels"):
        return None
    return posixpath.join(posixpath.dirname(directory), base[: -len(".rels")])


def _rels_name(source: str) -> str:
    directory, base = posixpath.split(source)
    return posixpath.join(directory, "_rels", base + ".rels")


def _relationships(doc: _xml.XmlDoc, source: str, folded: dict[str, str]) -> list[_Rel]:
    if _xml.local_name(doc.root.tag) != "Relationships":
        raise CorruptFileError("bad relationships part")
    rels: list[_Rel] = []
    base = posixpath.dirname(source)
    for child in doc.root:
        if _xml.local_name(child.tag) != "Relationship":
            continue
        rel_id = child.get("Id", "")
        key = _rel_key(child.get("Type", ""))
        raw_target = child.get("Target", "")
        if child.get("TargetMode", "Internal") == "External":
            rels.append(_Rel(child, rel_id, key, True, None))
            continue
        path = unquote(raw_target.split("#", 1)[0])
        resolved = posixpath.normpath(
            path[1:] if path.startswith("/") else posixpath.join(base, path)
        )
        target = None if resolved.startswith("..") else folded.get(resolved.casefold())
        rels.append(_Rel(child, rel_id, key, False, target))
    return rels


def _part_kind(name: str, untrusted_data: bytes) -> str:
    """ "xml", "embedded" (a file type with a scrubber), "font" or "unknown", from the bytes."""
    if not untrusted_data.strip() or looks_like_xml(untrusted_data):
        return "xml"
    if sniff(untrusted_data) != UNKNOWN:
        return "embedded"
    if is_font(name, untrusted_data):
        return "font"
    return "unknown"


def _declared_font(name: str, content_type: str) -> bool:
    lowered = content_type.casefold()
    return "font" in lowered or name.casefold().endswith((".odttf", ".fntdata", ".ttf", ".otf"))


def _is_vml(name: str, content_type: str) -> bool:
    return "vmldrawing" in content_type.casefold() or name.casefold().endswith(".vml")


# Legacy VML as Office writes it is not well-formed XML: conditional sections for old
# browsers (``<![if gte mso 9]>`` ... ``<![endif]>``, whose content Office reads) and HTML's
# unclosed ``<br>`` in text boxes. Office reads it with a forgiving parser; so do we, by
# turning it into the XML it means before the strict parse.
_VML_CONDITIONAL = re.compile(rb"<!\[(?:if[^\]>]*|endif)\]>", re.I)
_VML_BR = re.compile(rb"<br\s*>", re.I)


def _vml_as_xml(untrusted_xml: bytes) -> bytes:
    return _VML_BR.sub(b"<br/>", _VML_CONDITIONAL.sub(b"", untrusted_xml))


# Field instructions that make Word fetch something when the document is opened or its
# fields updated (IMPORT and INCLUDE are the old names of INCLUDEPICTURE and INCLUDETEXT).
_EXTERNAL_FIELDS = {"INCLUDEPICTURE", "INCLUDETEXT", "LINK", "DDE", "DDEAUTO", "IMPORT", "INCLUDE"}
_FIELD_WORD = re.compile(r"^\s*([A-Za-z]+)")
_HYPERLINK_FIELD = re.compile(r'^\s*HYPERLINK\s+(?:\\[a-z]\s+)*"([^"]+)"', re.I)


def _field_word(instruction: str) -> str:
    match = _FIELD_WORD.match(instruction)
    return match.group(1).upper() if match else ""


@dataclass
class _Field:
    begin: int  # index in the document-order list of field markers
    instruction: list[str] = field(default_factory=list)
    separate: int | None = None


def _neutralise_fields(root: Element, removed: set[str], add_link: Callable[[str], None]) -> None:
    """Remove the instructions of fields that load from elsewhere, keeping their last result
    (the text or picture Word showed) as plain content. Simple fields (``w:fldSimple``) are
    unwrapped; complex ones (``w:fldChar`` begin/separate/end around ``w:instrText``, which
    may span paragraphs and nest) lose their markers and instruction."""
    markers: list[Element] = []
    parents: dict[Element, Element] = {}
    simple: list[Element] = []
    for parent in root.iter():
        for child in parent:
            parents[child] = parent
            tag = child.tag
            if not isinstance(tag, str) or _xml.namespace(tag) not in _W:
                continue
            local = _xml.local_name(tag)
            if local in ("fldChar", "instrText"):
                markers.append(child)
            elif local == "fldSimple":
                simple.append(child)
    # root.iter() is document order, so `markers` is too.
    stack: list[_Field] = []
    finished: list[tuple[_Field, int]] = []
    for index, marker in enumerate(markers):
        local = _xml.local_name(marker.tag)
        if local == "instrText":
            if stack and stack[-1].separate is None:
                stack[-1].instruction.append(marker.text or "")
            continue
        kind = next(
            (v for k, v in marker.attrib.items() if _xml.local_name(k) == "fldCharType"), ""
        )
        if kind == "begin":
            stack.append(_Field(index))
        elif kind == "separate" and stack:
            stack[-1].separate = index
        elif kind == "end" and stack:
            finished.append((stack.pop(), index))
    doomed: set[int] = set()
    for fld, end in finished:
        instruction = "".join(fld.instruction)
        if _field_word(instruction) in _EXTERNAL_FIELDS:
            last = fld.separate if fld.separate is not None else end
            doomed.update(range(fld.begin, last + 1))
            doomed.add(end)
            removed.add(EXTERNAL_FIELD)
        else:
            link = _HYPERLINK_FIELD.match(instruction)
            if link:
                add_link(link.group(1))
    for index in sorted(doomed):
        marker = markers[index]
        parents[marker].remove(marker)
    for element in simple:
        instruction = next(
            (v for k, v in element.attrib.items() if _xml.local_name(k) == "instr"), ""
        )
        if _field_word(instruction) in _EXTERNAL_FIELDS:
            removed.add(EXTERNAL_FIELD)
            parent = parents[element]
            pieces: list[Element | str | None] = [parent.text]
            for sibling in list(parent):
                if sibling is element:
                    pieces.append(sibling.text)
                    for grandchild in list(sibling):
                        pieces.extend((grandchild, grandchild.tail))
                else:
                    pieces.append(sibling)
                pieces.append(sibling.tail)
            _xml.splice(parent, pieces)
            for grandchild in parent:
                parents[grandchild] = parent
        else:
            link = _HYPERLINK_FIELD.match(instruction)
            if link:
                add_link(link.group(1))


# Namespaces whose elements and attributes are kept: those of ECMA-376 (both editions), the
# Microsoft extensions Office writes (MS-DOCX, MS-XLSX, MS-PPTX, MS-ODRAWXML: all under
# schemas.microsoft.com/office/), legacy VML, and the XML/XSI basics. Anything else is no
# part of what Office renders (it ignores unknown markup declared ignorable, and refuses the
# rest): removed, with the declaration of its namespace (whose URI is free text too).
_KNOWN_NS_PREFIXES = (
    "http://schemas.openxmlformats.org/",
    "http://purl.oclc.org/ooxml/",
    "http://schemas.microsoft.com/office/",
    "urn:schemas-microsoft-com:",
    "http://www.w3.org/XML/1998/namespace",
    "http://www.w3.org/2001/XMLSchema-instance",
    "http://www.w3.org/2001/XMLSchema",
    "http://purl.org/dc/",
    "http://schemas.microsoft.com/ink/",
    "http://www.w3.org/2003/InkML",
)
_MC_PREFIX_LISTS = ("Ignorable", "ProcessContent", "PreserveElements", "PreserveAttributes")


def _known_namespace(uri: str) -> bool:
    return uri.startswith(_KNOWN_NS_PREFIXES)


def _keep_known_namespaces(
    doc: _xml.XmlDoc, removed: set[str], *, unqualified_elements: bool
) -> None:
    if not _known_namespace(_xml.namespace(doc.root.tag)) and not unqualified_elements:
        raise UnsupportedTypeError("an office part of an unknown kind")
    known_prefixes = {p for p, uri in doc.namespaces if _known_namespace(uri)}

    def keep(element: Element) -> bool:
        uri = _xml.namespace(element.tag)
        if uri == "":
            return unqualified_elements
        if not _known_namespace(uri):
            return False
        if uri == _MC and _xml.local_name(element.tag) == "Choice":
            # A branch that requires an unknown namespace is one Office skips anyway.
            required = element.get("Requires", "").split()
            return all(p in known_prefixes for p in required)
        return True

    def walk(parent: Element) -> None:
        pieces: list[Element | str | None] = [parent.text]
        changed = False
        for child in list(parent):
            if not keep(child):
                removed.add(UNKNOWN_XML)
                pieces.append(child.tail)
                changed = True
                continue
            for name in list(child.attrib):
                uri = _xml.namespace(name)
                if uri and not _known_namespace(uri):
                    del child.attrib[name]
                    removed.add(UNKNOWN_XML)
                elif uri == _MC and _xml.local_name(name) in _MC_PREFIX_LISTS:
                    _filter_prefix_list(child, name, known_prefixes, removed)
            walk(child)
            pieces.extend((child, child.tail))
        if changed:
            _xml.splice(parent, pieces)

    for name in list(doc.root.attrib):
        uri = _xml.namespace(name)
        if uri and not _known_namespace(uri):
            del doc.root.attrib[name]
            removed.add(UNKNOWN_XML)
        elif uri == _MC and _xml.local_name(name) in _MC_PREFIX_LISTS:
            _filter_prefix_list(doc.root, name, known_prefixes, removed)
    walk(doc.root)
    kept = [(p, uri) for p, uri in doc.namespaces if _known_namespace(uri) or uri == ""]
    if len(kept) != len(doc.namespaces):
        removed.add(UNKNOWN_XML)
    doc.namespaces = kept


def _filter_prefix_list(element: Element, name: str, known: set[str], removed: set[str]) -> None:
    # mc:Ignorable="w14 x" names prefixes: one whose declaration goes must go from the list.
    items = element.attrib[name].split()
    kept = [item for item in items if item.split(":", 1)[0] in known]
    if kept != items:
        removed.add(UNKNOWN_XML)
        if kept:
            element.set(name, " ".join(kept))
        else:
            del element.attrib[name]


# OLE objects and controls whose part was taken out: the element stays without its reference
# (the attribute is optional in the schemas), so that its preview picture (VML shape, p:pic
# fallback, objectPr image) is still drawn where the object was.
_KEPT_WITHOUT_TARGET = frozenset({"OLEObject", "oleObj", "oleObject", "control"})


class _XmlCleaner:
    """Element-level removals; text and tails are re-joined so no visible text moves."""

    def __init__(self, removed: set[str], gone_ids: set[str]) -> None:
        self.removed = removed
        self.gone_ids = gone_ids

    def _verdict(self, element: Element) -> tuple[str, str | None]:
        """("keep" | "drop" | "unwrap", field name to report)."""
        tag = element.tag
        if not isinstance(tag, str):
            return "drop", None
        ns, local = _xml.namespace(tag), _xml.local_name(tag)
        if ns in _W:
            if local in _W_DROP:
                return "drop", _W_DROP[local]
            if local in _W_UNWRAP:
                return "unwrap", TRACKED
            if local == "tr" and _has_child(element, "trPr", "del"):
                return "drop", TRACKED  # accepting a deleted table row removes it
            if local == "tc" and _has_child(element, "tcPr", "cellDel"):
                return "drop", TRACKED
        if local == "docId" and ns in (_W14, _W15):
            return "drop", "ooxml:docId"
        if ns == _P14 and local == "creationId":
            return "drop", "ooxml:docId"
        if ns == _X15AC and local == "absPath":
            return "drop", "ooxml:file-path"
        if ns == _XR and local == "revisionPtr":
            return "drop", "ooxml:docId"
        if ns in _SML and local == "fileSharing":
            return "drop", "ooxml:user-name"
        if any(_xml.local_name(name) in _HASH_ATTRIBUTES for name in element.attrib):
            # A password hash can be cracked offline into the author's own password.
            return "drop", "ooxml:password-hash"
        if ns in _SML and local in ("ddeLink", "oleLink"):
            return "drop", EXTERNAL_FIELD  # a DDE or OLE link Excel updates from elsewhere
        if local != "pageSetup" and self.gone_ids:
            refs = [n for n in element.attrib if _xml.namespace(n) in _R]
            dead = [n for n in refs if element.attrib[n] in self.gone_ids]
            if dead and len(dead) == len(refs) and local not in _KEPT_WITHOUT_TARGET:
                return "drop", None  # points at a removed relationship only
            for name in dead:
                del element.attrib[name]  # a:blip r:embed kept, its r:link to a URL gone
        return "keep", None

    def clean_children(self, parent: Element) -> None:
        pieces: list[Element | str | None] = [parent.text]
        for child in list(parent):
            tail = child.tail
            verdict, reason = self._verdict(child)
            if reason is not None and verdict != "keep":
                self.removed.add(reason)
            if verdict == "drop":
                pieces.append(tail)
                continue
            self.clean_children(child)
            if verdict == "unwrap":
                pieces.append(child.text)
                for grandchild in list(child):
                    grand_tail = grandchild.tail
                    pieces.append(grandchild)
                    pieces.append(grand_tail)
                pieces.append(tail)
                continue
            if _is_empty_alternate_content(child):
                pieces.append(tail)
                continue
            pieces.append(child)
            pieces.append(tail)
        _xml.splice(parent, pieces)


def _has_child(element: Element, container: str, marker: str) -> bool:
    for child in element:
        if _xml.local_name(child.tag) == container and _xml.namespace(child.tag) in _W:
            return any(
                _xml.local_name(g.tag) == marker and _xml.namespace(g.tag) in _W for g in child
            )
    return False


def _is_empty_alternate_content(element: Element) -> bool:
    if element.tag != f"{{{_MC}}}AlternateContent":
        return False
    return all(len(branch) == 0 and not (branch.text or "").strip() for branch in element)


def _clean_element_attributes(
    element: Element, parent: Element | None, removed: set[str], gone: set[str]
) -> None:
    local_tag = _xml.local_name(element.tag)
    for name in list(element.attrib):
        ns, local = _xml.namespace(name), _xml.local_name(name)
        reason: str | None = None
        if ns in _W and local.startswith("rsid"):
            reason = RSID
        elif ns in _W and local in ("author", "date", "initials"):
            reason = "ooxml:author"
        elif ns == _W14 and local in ("paraId", "textId"):
            reason = "ooxml:paraId"
        elif ns.startswith(_XR_PREFIX) and local == "uid":
            reason = "ooxml:revision-uid"
        elif ns == "" and local in _PIVOT_ATTRIBUTES and local_tag == "pivotCacheDefinition":
            reason = "ooxml:pivot-refresh"
        elif (
            local in _CONNECTION_ATTRIBUTES
            and (ns == "" or ns in _SML)
            and (_xml.namespace(element.tag) in _SML or _is_office_ext(element.tag))
            and element.attrib[name] != ""
        ):
            if (local_tag, local) in _CONNECTION_REQUIRED:
                element.set(name, "")
                removed.add("ooxml:data-connection")
                continue
            reason = "ooxml:data-connection"
        elif ns == _VML_O and local == "title" and element.tag == f"{{{_VML_V}}}imagedata":
            reason = "ooxml:image-file-name"
        elif ns in _R and local_tag == "pageSetup" and element.attrib[name] in gone:
            reason = "ooxml:printerSettings"
        elif (
            _xml.namespace(element.tag) in (_VML_V, _VML_O)
            and local in ("src", "href", "althref")
            and ns in ("", _VML_O)
        ):
            # VML names a linked picture (or a click target) by URL or path directly, not
            # through a relationship: fetched by itself when the shape is drawn.
            reason = EXTERNAL
        if reason is not None:
            del element.attrib[name]
            removed.add(reason)
    # Word and PowerPoint store the inserted picture's file name (often a camera file name or
    # a full path) as the shape name, and older versions the path as its description.
    is_picture = (
        local_tag == "cNvPr" and parent is not None and (_xml.local_name(parent.tag) == "nvPicPr")
    )
    if is_picture or local_tag == "docPr":
        shape_name = element.get("name")
        if shape_name is not None and _PICTURE_FILE.search(shape_name):
            element.set("name", "Picture " + element.get("id", ""))
            removed.add("ooxml:image-file-name")
    if local_tag in ("cNvPr", "docPr"):
        for text_attribute in ("descr", "title"):
            value = element.get(text_attribute)
            if value is not None and (_LOCAL_PATH.match(value) or _PICTURE_FILE.search(value)):
                del element.attrib[text_attribute]
                removed.add("ooxml:image-file-name")


def _is_office_ext(tag: str) -> bool:
    # x14/x15/x16... spreadsheet extensions of Office 2010+ (e.g. x15:oledbPr, x15:textPr).
    return _xml.namespace(tag).startswith("http://schemas.microsoft.com/office/spreadsheetml/")


class OoxmlScrubber:
    file_types = ("docx", "xlsx", "pptx")

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        package = read_package(untrusted_data, limits)
        state = _Pass(package, limits, check_only=True)
        state.run()
        return sorted(state.removed)

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        package = read_package(untrusted_data, limits)
        state = _Pass(package, limits, check_only=False)
        output = state.run()
        check_attachment_budget(state.attachments, limits)
        data = write_package(output, first=(CONTENT_TYPES, PACKAGE_RELS))
        return Cleaned(
            data,
            tuple(sorted(state.removed)),
            attachments=tuple(state.attachments),
            warnings=tuple(sorted(state.warnings)),
            links=tuple(state.links),
        )
