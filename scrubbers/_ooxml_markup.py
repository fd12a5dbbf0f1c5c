"""Inside an OOXML part: the namespace allowlist and the element and attribute removals.

WordprocessingML, SpreadsheetML and PresentationML (and the VML Office still writes) share
one pass: tracked changes accepted, comment anchors, revision ids, document ids, password
hashes, picture file names and data connections removed; elements and attributes of any
namespace outside the allowlist removed with their declarations.
"""

from __future__ import annotations

import re

from scrubbers import _ooxml_schema, _xml
from scrubbers._ooxml_ids import is_reference
from scrubbers._ooxml_parts import (
    COMMENTS,
    CUSTOM_XML,
    EXTERNAL,
    EXTERNAL_FIELD,
    LOCAL_PATH,
    RSID,
    TRACKED,
    UNKNOWN_XML,
)
from scrubbers._ooxml_prefixes import MC_NS, PREFIX_LISTS, is_known_namespace, rename_prefixes
from scrubbers._ooxml_schema import INVALID_VALUE
from scrubbers._xml import Element
from scrubbers.errors import UnsupportedTypeError

CONTENT_CONTROL = "ooxml:content-control"
SMART_TAG = "ooxml:smartTag"

W_NS = {
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
}
SML_NS = {
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
}
_W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
_W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
_P14 = "http://schemas.microsoft.com/office/powerpoint/2010/main"
_WP14 = "http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing"
_A16 = "http://schemas.microsoft.com/office/drawing/2014/main"
_C16 = "http://schemas.microsoft.com/office/drawing/2014/chart"
_X15AC = "http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"
_XR_PREFIX = "http://schemas.microsoft.com/office/spreadsheetml/20"  # xr, xr2, xr3 ... (2014+)
_XR = "http://schemas.microsoft.com/office/spreadsheetml/2014/revision"
_VML_O = "urn:schemas-microsoft-com:office:office"
_VML_V = "urn:schemas-microsoft-com:vml"

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
    # Content controls: the tag is a developer's label no reader sees, the id a random
    # number per control, the data binding names a custom XML or properties part (removed)
    # by a GUID and an XPath. The alias stays: Word shows it as the control's title.
    "tag": CONTENT_CONTROL,
    "id": CONTENT_CONTROL,
    "dataBinding": CONTENT_CONTROL,
    # Custom markup (ECMA-376 Part 1 §17.5.1): its properties name a schema and attributes
    # by free text; the settings name the schema (a URI) and the XSLT a save goes through.
    "customXmlPr": CUSTOM_XML,
    "attachedSchema": CUSTOM_XML,
    "saveThroughXslt": CUSTOM_XML,
    "smartTagPr": SMART_TAG,
}
# Random ids Office gives each drawing object, table row and column, chart series, and slide
# edit, as w14:paraId to each paragraph: the same in every copy of one file, different in
# any other.
_OBJECT_ID_ELEMENTS = {
    (_A16, "creationId"),
    (_A16, "rowId"),
    (_A16, "colId"),
    (_C16, "uniqueId"),
    (_P14, "modId"),
}
_OBJECT_ID_ATTRIBUTES = {(_WP14, "anchorId"), (_WP14, "editId")}
OBJECT_ID = "ooxml:object-id"
# Word's "last edit position" (Shift+F5): a hidden bookmark nothing references, where the
# author last typed.
_LAST_EDIT_BOOKMARK = "_goback"
# Wrappers whose content stays in their place. Accepting an insertion = keeping its content
# without the wrapper (which names the author). Custom XML and smart tags (ECMA-376 Part 1
# §17.5.1, inline, block, row and cell level alike) wrap content in an element and
# namespace URI of the writer's choosing (``w:uri``, ``w:element``): free text no reader
# shows (Word since 2010 drops custom XML itself when it opens the file, and no longer
# makes smart tags).
_W_UNWRAP = {"ins": TRACKED, "moveTo": TRACKED, "customXml": CUSTOM_XML, "smartTag": SMART_TAG}
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


def keep_known_namespaces(
    doc: _xml.XmlDoc, removed: set[str], *, unqualified_elements: bool
) -> None:
    """Keep the elements and attributes of the namespaces of ECMA-376 (both editions), the
    Microsoft extensions Office writes (MS-DOCX, MS-XLSX, MS-PPTX, MS-ODRAWXML), legacy VML
    and the XML/XSI basics, each known by its whole URI (`is_known_namespace`). Anything else
    is no part of what Office renders (it ignores unknown markup declared ignorable, and
    refuses the rest): removed, with the declaration of its namespace (whose URI is free
    text too). In the namespaces the schema table covers, only what the schemas define is
    kept, element by element (`scrubbers._ooxml_schema`)."""
    root = doc.root
    root_uri = _xml.namespace(root.tag)
    unknown_namespace = not is_known_namespace(root_uri) and not unqualified_elements
    undefined = _ooxml_schema.covers(root_uri) and not _ooxml_schema.is_defined(root.tag)
    if unknown_namespace or undefined:
        raise UnsupportedTypeError("an office part of an unknown kind")
    known_prefixes = {p for p, uri in doc.namespaces if is_known_namespace(uri)}

    def keep(element: Element, context: str | None) -> bool:
        uri = _xml.namespace(element.tag)
        if uri == "":
            return unqualified_elements
        if not is_known_namespace(uri):
            return False
        if uri == MC_NS:
            local = _xml.local_name(element.tag)
            if local not in _MC_ELEMENTS:
                return False
            if local == "Choice":
                # A branch that requires an unknown namespace is one Office skips anyway.
                required = element.get("Requires", "").split()
                return all(p in known_prefixes for p in required)
            return True
        if _ooxml_schema.covers(uri):
            if not _ooxml_schema.is_defined(element.tag):
                return False
            if context is not None and not _ooxml_schema.may_contain(context, element.tag):
                return False
        return True

    def clean_attributes(element: Element) -> None:
        element_uri = _xml.namespace(element.tag)
        covered = _ooxml_schema.covers(element_uri)
        for name in list(element.attrib):
            uri = _xml.namespace(name)
            if uri == MC_NS and _xml.local_name(name) in _MC_ATTRIBUTES:
                _filter_prefix_list(element, name, known_prefixes, removed)
            elif element_uri == MC_NS and name in _MC_OWN_ATTRIBUTES.get(
                _xml.local_name(element.tag), ()
            ):
                continue
            elif (
                uri == MC_NS
                or (uri and not is_known_namespace(uri))
                or (covered and not _ooxml_schema.allows_attribute(element.tag, name))
                or (element_uri == MC_NS and not uri)
            ):
                del element.attrib[name]
                removed.add(UNKNOWN_XML)
            elif covered and not _ooxml_schema.value_is_valid(
                element.tag, name, element.attrib[name]
            ):
                del element.attrib[name]
                removed.add(INVALID_VALUE)

    def walk(parent: Element, context: str | None) -> None:
        """``context``: the element whose content this is (itself, or for a markup
        compatibility branch the element holding the alternatives); None outside the
        covered namespaces."""
        text_allowed = context is None or _ooxml_schema.holds_text(context)
        pieces: list[Element | str | None] = [parent.text]
        changed = False
        for child in list(parent):
            if not keep(child, context):
                removed.add(UNKNOWN_XML)
                pieces.append(child.tail)
                changed = True
                continue
            clean_attributes(child)
            uri = _xml.namespace(child.tag)
            if uri == MC_NS:
                walk(child, context)
            else:
                walk(child, child.tag if _ooxml_schema.covers(uri) else None)
            pieces.extend((child, child.tail))
        if not text_allowed and any(isinstance(p, str) and p.strip() for p in pieces):
            # Text where the schema allows only elements: shown by no reader.
            pieces = [p if not isinstance(p, str) or not p.strip() else None for p in pieces]
            removed.add(UNKNOWN_XML)
            changed = True
        if changed:
            _xml.splice(parent, pieces)

    clean_attributes(root)
    walk(root, root.tag if _ooxml_schema.covers(root_uri) else None)
    kept = [(p, uri) for p, uri in doc.namespaces if is_known_namespace(uri) or uri == ""]
    if len(kept) != len(doc.namespaces):
        removed.add(UNKNOWN_XML)
    doc.namespaces = kept
    rename_prefixes(doc, removed)


# Markup compatibility (ECMA-376 Part 3 §7): its three elements, the attributes any element
# may have (each a list of prefixes, or of prefixed names), and the Choice's own.
_MC_ELEMENTS = frozenset({"AlternateContent", "Choice", "Fallback"})
_MC_ATTRIBUTES = frozenset({*PREFIX_LISTS, "MustUnderstand"})
_MC_OWN_ATTRIBUTES = {"Choice": frozenset({"Requires"})}


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


class XmlCleaner:
    """Element-level removals; text and tails are re-joined so no visible text moves."""

    def __init__(self, removed: set[str], gone_ids: set[str], dangling_ids: set[str]) -> None:
        self.removed = removed
        self.gone_ids = gone_ids  # of relationships removed
        self.dead_ids = gone_ids | dangling_ids  # dangling: named by no relationship

    def _verdict(self, element: Element) -> tuple[str, str | None]:
        """("keep" | "drop" | "unwrap", field name to report)."""
        tag = element.tag
        if not isinstance(tag, str):
            return "drop", None
        ns, local = _xml.namespace(tag), _xml.local_name(tag)
        if ns in W_NS:
            if local in _W_DROP:
                return "drop", _W_DROP[local]
            if local in _W_UNWRAP:
                return "unwrap", _W_UNWRAP[local]
            if local == "tr" and _has_child(element, "trPr", "del"):
                return "drop", TRACKED  # accepting a deleted table row removes it
            if local == "tc" and _has_child(element, "tcPr", "cellDel"):
                return "drop", TRACKED
        if local == "docId" and ns in (_W14, _W15):
            return "drop", "ooxml:docId"
        if ns == _P14 and local == "creationId":
            return "drop", "ooxml:docId"
        if (ns, local) in _OBJECT_ID_ELEMENTS:
            return "drop", OBJECT_ID
        if ns == _W15 and local == "dataBinding":
            return "drop", CONTENT_CONTROL
        if ns == _X15AC and local == "absPath":
            return "drop", "ooxml:file-path"
        if ns == _XR and local == "revisionPtr":
            return "drop", "ooxml:docId"
        if ns in SML_NS and local == "fileSharing":
            return "drop", "ooxml:user-name"
        if any(_xml.local_name(name) in _HASH_ATTRIBUTES for name in element.attrib):
            # A password hash can be cracked offline into the author's own password.
            return "drop", "ooxml:password-hash"
        if ns in SML_NS and local in ("ddeLink", "oleLink"):
            return "drop", EXTERNAL_FIELD  # a DDE or OLE link Excel updates from elsewhere
        if local != "pageSetup" and self.dead_ids:
            refs = [n for n in element.attrib if is_reference(n)]
            dead = [n for n in refs if element.attrib[n] in self.dead_ids]
            only_dead = dead and len(dead) == len(refs) and local not in _KEPT_WITHOUT_TARGET
            if only_dead and (
                any(element.attrib[n] in self.gone_ids for n in dead) or _is_empty(element)
            ):
                # Points at a removed relationship only; or at none, and holds nothing else
                # (visible text under a broken link stays).
                return "drop", None
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
            had_children = len(child) > 0
            self.clean_children(child)
            if had_children and _xml.local_name(child.tag) == "ext" and _is_empty(child):
                pieces.append(tail)  # an extension whose content went: nothing to extend
                continue
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
        if _xml.local_name(child.tag) == container and _xml.namespace(child.tag) in W_NS:
            return any(
                _xml.local_name(g.tag) == marker and _xml.namespace(g.tag) in W_NS for g in child
            )
    return False


def _is_empty(element: Element) -> bool:
    return len(element) == 0 and not (element.text or "").strip()


def remove_last_edit_bookmark(root: Element, removed: set[str]) -> None:
    """Remove Word's ``_GoBack`` bookmark, start and end (other bookmarks are content: the
    Bookmark dialog lists them, links and cross-references go to them)."""

    def attribute(element: Element, name: str) -> str:
        return next((v for k, v in element.attrib.items() if _xml.local_name(k) == name), "")

    def is_bookmark(element: Element, kind: str) -> bool:
        return _xml.namespace(element.tag) in W_NS and _xml.local_name(element.tag) == kind

    ids = {
        attribute(element, "id")
        for element in root.iter()
        if is_bookmark(element, "bookmarkStart")
        and attribute(element, "name").casefold() == _LAST_EDIT_BOOKMARK
    }
    if not ids:
        return
    removed.add("ooxml:bookmark")
    for parent in list(root.iter()):
        doomed = [
            child
            for child in parent
            if (is_bookmark(child, "bookmarkStart") or is_bookmark(child, "bookmarkEnd"))
            and attribute(child, "id") in ids
        ]
        if doomed:
            pieces: list[Element | str | None] = [parent.text]
            for child in parent:
                if child not in doomed:
                    pieces.append(child)
                pieces.append(child.tail)
            _xml.splice(parent, pieces)


def _is_empty_alternate_content(element: Element) -> bool:
    if element.tag != f"{{{MC_NS}}}AlternateContent":
        return False
    return all(_is_empty(branch) for branch in element)


def clean_element_attributes(
    element: Element, parent: Element | None, removed: set[str], gone: set[str]
) -> None:
    local_tag = _xml.local_name(element.tag)
    for name in list(element.attrib):
        ns, local = _xml.namespace(name), _xml.local_name(name)
        reason: str | None = None
        if ns in W_NS and local.startswith("rsid"):
            reason = RSID
        elif ns in W_NS and local in ("author", "date", "initials"):
            reason = "ooxml:author"
        elif ns == _W14 and local in ("paraId", "textId"):
            reason = "ooxml:paraId"
        elif (ns, local) in _OBJECT_ID_ATTRIBUTES:
            reason = OBJECT_ID
        elif ns.startswith(_XR_PREFIX) and local == "uid":
            reason = "ooxml:revision-uid"
        elif ns == "" and local in _PIVOT_ATTRIBUTES and local_tag == "pivotCacheDefinition":
            reason = "ooxml:pivot-refresh"
        elif (
            local in _CONNECTION_ATTRIBUTES
            and (ns == "" or ns in SML_NS)
            and (_xml.namespace(element.tag) in SML_NS or _is_office_ext(element.tag))
            and element.attrib[name] != ""
        ):
            if (local_tag, local) in _CONNECTION_REQUIRED:
                element.set(name, "")
                removed.add("ooxml:data-connection")
                continue
            reason = "ooxml:data-connection"
        elif ns == _VML_O and local == "title" and element.tag == f"{{{_VML_V}}}imagedata":
            reason = "ooxml:image-file-name"
        elif is_reference(name) and local_tag == "pageSetup" and element.attrib[name] in gone:
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
            if value is not None and (LOCAL_PATH.match(value) or _PICTURE_FILE.search(value)):
                del element.attrib[text_attribute]
                removed.add("ooxml:image-file-name")


def _is_office_ext(tag: str) -> bool:
    # x14/x15/x16... spreadsheet extensions of Office 2010+ (e.g. x15:oledbPr, x15:textPr).
    return _xml.namespace(tag).startswith("http://schemas.microsoft.com/office/spreadsheetml/")
