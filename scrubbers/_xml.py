"""Parse untrusted XML safely and write it back without changing what readers see.

Parsing goes through ``defusedxml`` with DTDs forbidden outright: office formats never use a
DTD, and refusing one at its first byte stops entity expansion ("billion laughs") and external
entities before any work is done. Size and nesting depth are bounded (limits rule).

Serialising keeps every namespace prefix the document declared, all on the root element:
OOXML's ``mc:Ignorable="w14 wp14"`` names prefixes inside an attribute value, so a writer that
renames prefixes (``ns0``) or drops "unused" declarations produces files Word refuses to open.
Comments and processing instructions are not kept: they are invisible and may carry anything.
"""

from __future__ import annotations

import functools
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

import defusedxml
import defusedxml.ElementTree as DET

from scrubbers._types import Limits
from scrubbers.errors import CorruptFileError, LimitExceededError

Element = ET.Element

XML_NS = "http://www.w3.org/XML/1998/namespace"
# Deep enough for nested tables in real documents; bounded so that the recursive cleaners and
# the serialiser stay far below Python's recursion limit on hostile input.
MAX_DEPTH = 400


@dataclass
class XmlDoc:
    root: Element
    # (prefix, uri) in the order the document declared them, on any element ("" = default).
    namespaces: list[tuple[str, str]] = field(default_factory=list)
    # Comments and processing instructions met (and dropped): counted, so that a scrubber
    # can report them (SVG: "svg:comment"), never kept.
    comments: int = 0
    instructions: int = 0


def parse(untrusted_xml: bytes, limits: Limits) -> XmlDoc:
    """Parse one XML part. Raises CorruptFileError / LimitExceededError only."""
    if len(untrusted_xml) > limits.max_xml_bytes:
        raise LimitExceededError("XML part too large")
    namespaces: list[tuple[str, str]] = []
    depth = 0
    comments = instructions = 0
    root: Element | None = None
    try:
        events = DET.iterparse(
            io.BytesIO(untrusted_xml),
            events=("start", "end", "start-ns", "comment", "pi"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        for event, item in events:
            if event == "start-ns":
                prefix, uri = item
                namespaces.append((prefix or "", uri))
            elif event == "comment":
                comments += 1
            elif event == "pi":
                instructions += 1
            elif event == "start":
                depth += 1
                if depth > MAX_DEPTH:
                    raise LimitExceededError("XML nested too deeply")
                if root is None:
                    root = item
            else:
                depth -= 1
    except (
        ET.ParseError,
        defusedxml.DefusedXmlException,
        UnicodeError,
        LookupError,  # an encoding name Python does not know: <?xml encoding="UF-8"?>
        ValueError,
    ) as exc:
        # DTDForbidden covers billion laughs and external entities: refused before expansion.
        raise CorruptFileError("malformed XML") from exc
    if root is None:
        raise CorruptFileError("empty XML")
    return XmlDoc(root, namespaces, comments, instructions)


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(text: str) -> str:
    return (
        _escape_text(text)
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


# Every walk asks each element's and attribute's namespace, a few distinct names tens of
# thousands of times per document: remembered (bounded, as a hostile file may use many).
@functools.lru_cache(maxsize=4096)
def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def _used_uris(root: Element) -> Iterator[tuple[str, bool]]:
    """Namespace URIs used by tags (False) and attribute names (True)."""
    for element in root.iter():
        if isinstance(element.tag, str):
            yield _split(element.tag)[0], False
        for name in element.attrib:
            yield _split(name)[0], True


def serialize(doc: XmlDoc) -> bytes:
    """Write the tree back as UTF-8 with every declared prefix kept, declared on the root."""
    declared: dict[str, str] = {}  # prefix -> uri, all emitted on the root element
    for prefix, uri in doc.namespaces:
        # A prefix re-bound deeper to another URI keeps its first binding; the other URI gets
        # a prefix of its own below.
        declared.setdefault(prefix, uri)
    element_prefix: dict[str, str] = {}  # uri -> prefix for tags ("" = default namespace)
    attribute_prefix: dict[str, str] = {}  # uri -> non-empty prefix for attribute names
    for prefix, uri in declared.items():
        element_prefix.setdefault(uri, prefix)
        if prefix:
            attribute_prefix.setdefault(uri, prefix)
    counter = 0

    def fresh_prefix(uri: str) -> str:
        nonlocal counter
        while True:
            counter += 1
            candidate = f"ns{counter}"
            if candidate not in declared:
                declared[candidate] = uri
                attribute_prefix.setdefault(uri, candidate)
                element_prefix.setdefault(uri, candidate)
                return candidate

    no_ns_elements = False
    for uri, is_attribute in _used_uris(doc.root):
        if uri == XML_NS:
            continue
        if uri == "":
            no_ns_elements = no_ns_elements or not is_attribute
        elif is_attribute and uri not in attribute_prefix:
            # Attributes cannot use the default namespace: give the URI a real prefix.
            fresh_prefix(uri)
        elif uri not in element_prefix:
            fresh_prefix(uri)
    if no_ns_elements and "" in declared:
        # An element without a namespace would inherit the default one: prefix that one.
        default_uri = declared.pop("")
        element_prefix[default_uri] = attribute_prefix.get(default_uri) or fresh_prefix(default_uri)

    def qname(name: str, *, attribute: bool) -> str:
        uri, local = _split(name)
        if uri == "":
            return local
        if uri == XML_NS:
            return "xml:" + local
        prefix = attribute_prefix[uri] if attribute else element_prefix[uri]
        return f"{prefix}:{local}" if prefix else local

    out: list[str] = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n']

    def write(element: Element, is_root: bool) -> None:
        tag = qname(element.tag, attribute=False)
        out.append("<" + tag)
        if is_root:
            for prefix, uri in declared.items():
                name = f"xmlns:{prefix}" if prefix else "xmlns"
                out.append(f' {name}="{_escape_attr(uri)}"')
        for name, value in element.attrib.items():
            out.append(f' {qname(name, attribute=True)}="{_escape_attr(value)}"')
        if len(element) == 0 and not element.text:
            out.append("/>")
        else:
            out.append(">")
            if element.text:
                out.append(_escape_text(element.text))
            for child in element:
                write(child, False)
                if child.tail:
                    out.append(_escape_text(child.tail))
            out.append(f"</{tag}>")

    write(doc.root, True)
    return "".join(out).encode("utf-8")


def local_name(tag: object) -> str:
    return _split(tag)[1] if isinstance(tag, str) else ""


def namespace(tag: object) -> str:
    return _split(tag)[0] if isinstance(tag, str) else ""


def splice(parent: Element, pieces: list[Element | str | None]) -> None:
    """Rebuild ``parent``'s children from elements and strings, in order.

    Dropping or unwrapping an element must not move or lose the text around it (ODF keeps
    visible text in tails: ``<text:p>a<office:annotation/>b</text:p>``).
    """
    parent[:] = []
    parent.text = None
    last: Element | None = None
    for piece in pieces:
        if piece is None or isinstance(piece, str):
            if not piece:
                continue
            if last is None:
                parent.text = (parent.text or "") + piece
            else:
                last.tail = (last.tail or "") + piece
        else:
            piece.tail = None
            parent.append(piece)
            last = piece
