"""What the OpenDocument specification defines for each element (issue 10: keep only what is
known to be safe), and the XML ids, renumbered.

The table (``_odf_attributes.txt``, written by ``bench/odf_schema_table.py`` from the OASIS
ODF 1.2, 1.3 and 1.4 Relax-NG schemas and LibreOffice's extended schema) lists the
attributes each element may have. An element of an OASIS ODF namespace or of one of
LibreOffice's (``loext:``, ``officeooo:``, ``calcext:``, ``field:``…) keeps only those: any
other attribute, even in a known namespace (``<text:p text:canary-mark="…">``,
``loext:foo="…"``), is free text no reader shows. An element the schemas do not define in
those namespaces goes with what it holds (``<loext:anything>``); so do the elements of the
OpenOffice/LibreOffice namespaces the extended schema has nothing of (``ooo:``, ``ooow:``,
``formx:``…): no corpus file writes any, and no reader would show them. The identifying
names the schema does define (``officeooo:rsid``) are removed by odf.py.

``xml:id`` values are free text as well (LibreOffice writes random ones, which link the copies
of one document, and a sender could give each recipient their own): renamed ``id1``, ``id2``…
in document order, with every reference the schema declares (IDREF, IDREFS) following.
"""

from __future__ import annotations

from importlib import resources

from scrubbers import _xml
from scrubbers._xml import Element

UNKNOWN_ATTRIBUTE = "odf:unknown-attribute"
UNKNOWN_XML = "odf:unknown-xml"
RENAMED_ID = "odf:xml-id"
DANGLING_REFERENCE = "odf:dangling-reference"
RDF_METADATA = "odf:rdf-metadata"
UNKNOWN_VERSION = "odf:unknown-version"

#: The versions ODF has had. ``office:version`` and ``manifest:version`` are read by readers
#: as one of these; any other text there is a mark no reader shows.
ODF_VERSIONS = frozenset({"1.0", "1.1", "1.2", "1.3", "1.4"})

_OASIS_NS = "urn:oasis:names:tc:opendocument:xmlns:"
_XHTML = "http://www.w3.org/1999/xhtml"
_DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
_FORM = "urn:oasis:names:tc:opendocument:xmlns:form:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ANY = "*"
_OFFICE_VERSION = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}version"


def _clark(qname: str, prefixes: dict[str, str]) -> str:
    if ":" not in qname:
        return qname
    prefix, local = qname.split(":", 1)
    return f"{{{prefixes[prefix]}}}{local}"


def _load_table() -> tuple[dict[str, frozenset[str] | None], frozenset[str], frozenset[str]]:
    """Attributes by element (None: any attribute), ID attributes, reference attributes."""
    text = resources.files("scrubbers").joinpath("_odf_attributes.txt").read_text("utf-8")
    prefixes = {"xml": _xml.XML_NS}
    table: dict[str, frozenset[str] | None] = {}
    ids: frozenset[str] = frozenset()
    refs: frozenset[str] = frozenset()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        first, *rest = line.split()
        if first == "=":
            prefixes[rest[0]] = rest[1]
        elif first == "@ID":
            ids = frozenset(_clark(name, prefixes) for name in rest)
        elif first == "@IDREF":
            refs = frozenset(_clark(name, prefixes) for name in rest)
        else:
            allowed = None if rest == [_ANY] else frozenset(_clark(n, prefixes) for n in rest)
            table[_clark(first, prefixes)] = allowed
    return table, ids, refs


_ALLOWED, _SCHEMA_IDS, REFERENCES = _load_table()
# draw:id and form:id are the ids of ODF 1.1, which LibreOffice still writes beside xml:id,
# with the same value (the schema types them NCName, not ID); the references (draw:start-shape,
# draw:control) name either. One renaming for the three keeps each pair equal.
# text:id names a note, a changed region (beside its xml:id, with the same value) and the two
# ends of an index mark (typed string or NCName, not ID): free text too, which LibreOffice
# fills with "ftn1" or "ct" and a memory address. Renamed with the others; a note's
# reference (text:note-ref text:ref-name, which elsewhere names bookmarks: content) follows.
ID_ATTRIBUTES = (
    *sorted(_SCHEMA_IDS),
    f"{{{_DRAW}}}id",
    f"{{{_FORM}}}id",
    f"{{{_TEXT}}}id",
)
_NOTE_REF = f"{{{_TEXT}}}note-ref"
_NOTE_REF_NAME = f"{{{_TEXT}}}ref-name"
# RDFa (ODF 1.2 §19.3): statements about the text whose subjects and values are free text,
# meaningful only with manifest.rdf, which odf.py removes as metadata.
_RDFA = frozenset(f"{{{_XHTML}}}{name}" for name in ("about", "property", "datatype", "content"))
# ODF's namespaces that the schemas define elements of.
_ODF_NAMESPACES = frozenset(
    _xml.namespace(tag) for tag in _ALLOWED if tag.startswith("{" + _OASIS_NS)
)


def _is_extension(uri: str) -> bool:
    """LibreOffice's and OpenOffice's namespaces, which the OASIS schema does not cover (CSS3
    Text's is one that LibreOffice's extended schema declares and writes on paragraph styles)."""
    return uri.startswith(
        (
            "http://openoffice.org/",
            "urn:openoffice:names:experimental:",
            "urn:org:documentfoundation:names:experimental:",
            "http://www.w3.org/TR/css3-text/",
        )
    )


def _is_specified(uri: str) -> bool:
    """A namespace whose elements are all in the table: ODF's own and LibreOffice's. An element
    of one that the schemas do not define is no ODF, and no reader shows it or what it holds."""
    return uri in _ODF_NAMESPACES or _is_extension(uri)


def known_version(value: str | None, removed: set[str]) -> str | None:
    """`value` when ODF has such a version, else None (and the removal reported)."""
    if value is None or value in ODF_VERSIONS:
        return value
    removed.add(UNKNOWN_VERSION)
    return None


def keep_specified(root: Element, removed: set[str]) -> None:
    """Take out the elements and attributes the schemas do not define for ODF's elements."""
    _strip_attributes(root, removed)
    _walk(root, removed)


def _strip_attributes(element: Element, removed: set[str]) -> None:
    allowed = _ALLOWED.get(element.tag) if isinstance(element.tag, str) else None
    for name in list(element.attrib):
        if name == _OFFICE_VERSION and known_version(element.attrib[name], removed) is None:
            del element.attrib[name]
        elif name in _RDFA:
            del element.attrib[name]
            removed.add(RDF_METADATA)
        elif allowed is not None and name not in allowed:
            del element.attrib[name]
            removed.add(UNKNOWN_ATTRIBUTE)


def _walk(parent: Element, removed: set[str]) -> None:
    pieces: list[Element | str | None] = [parent.text]
    changed = False
    for child in list(parent):
        tag = child.tag
        if isinstance(tag, str) and tag not in _ALLOWED:
            if _is_specified(_xml.namespace(tag)):
                removed.add(UNKNOWN_XML)
                pieces.append(child.tail)
                changed = True
                continue
        _strip_attributes(child, removed)
        _walk(child, removed)
        pieces.extend((child, child.tail))
    if changed:
        _xml.splice(parent, pieces)


def renumber_ids(root: Element, removed: set[str]) -> None:
    """Rename the ids ``id1``, ``id2``… in document order; references follow, dangling ones go.

    The same old value gets the same new one (xml:id and draw:id of one shape stay equal), and
    a part already renumbered comes out unchanged.
    """
    renamed: dict[str, str] = {}
    for element in root.iter():
        for name in ID_ATTRIBUTES:
            value = element.get(name)
            if value is None:
                continue
            new = renamed.setdefault(value, f"id{len(renamed) + 1}")
            if new != value:
                element.set(name, new)
                removed.add(RENAMED_ID)
    for element in root.iter():
        names = set(REFERENCES.intersection(element.attrib))
        if element.tag == _NOTE_REF and _NOTE_REF_NAME in element.attrib:
            names.add(_NOTE_REF_NAME)
        for name in names:
            value = element.attrib[name]
            targets = [renamed[token] for token in value.split() if token in renamed]
            if len(targets) != len(value.split()):
                removed.add(DANGLING_REFERENCE)
            if not targets:
                del element.attrib[name]
            elif " ".join(targets) != value:
                element.set(name, " ".join(targets))
