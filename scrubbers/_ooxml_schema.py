"""What the Office Open XML schemas define, element by element (issue 10: keep only what is
known to be safe, not whatever a known namespace holds).

The table (``_ooxml_elements.txt``, written by ``bench/ooxml_schema_table.py`` from the Open
XML SDK's data, which Microsoft generates from the ECMA-376 schemas and from those of
Office's own extensions) lists, for every element of the namespaces it covers (``w:``,
``x:``, ``p:``, ``a:``, ``c:``, VML, ``w14:``, ``x14:``…), the attributes it may have, the
elements it may contain, and whether its content is text. In those namespaces:

- an element the schemas do not define (``<w:vendorMark w:val="…"/>``) goes with what it
  holds: Office refuses such a file or, in an ignorable namespace, skips the element; either
  way it is free text no reader shows;
- an element where its parent may not have it (``<w:t>`` inside ``<w:rPr>``) goes too;
- an attribute its element does not define goes, even in a known namespace;
- text inside an element whose content is elements, not text, goes (only whitespace, which
  no reader keeps, stays).

Markup compatibility (``mc:AlternateContent``, ``mc:Choice``, ``mc:Fallback``) is
transparent: a branch's content is checked against the element holding the alternatives.
Namespaces the table has no schema for (Visio's, Mac Excel's, Dublin Core, XML Schema in a
map part) keep the namespace-level allowlist of `scrubbers._ooxml_prefixes`.

The Strict edition of ECMA-376 renames the namespaces, not the elements: its URIs are read
as the transitional ones.
"""

from __future__ import annotations

from importlib import resources

from scrubbers import _xml

_ANY = "*"
_TRANSITIONAL = "http://schemas.openxmlformats.org/"
_STRICT = "http://purl.oclc.org/ooxml/"


def _strict(uri: str) -> str | None:
    # http://schemas.openxmlformats.org/<area>/2006/<name> is
    # http://purl.oclc.org/ooxml/<area>/<name> in the Strict edition.
    if not uri.startswith(_TRANSITIONAL) or "/2006/" not in uri:
        return None
    return _STRICT + uri.removeprefix(_TRANSITIONAL).replace("/2006/", "/", 1)


class _Table:
    def __init__(self) -> None:
        self.attributes: dict[str, frozenset[str]] = {}
        self.children: dict[str, frozenset[str]] = {}
        self.text: frozenset[str] = frozenset()
        self.namespaces: frozenset[str] = frozenset()


def _load() -> _Table:
    text = resources.files("scrubbers").joinpath("_ooxml_elements.txt").read_text("utf-8")
    prefixes = {"xml": [_xml.XML_NS]}

    def clark(qname: str) -> list[str]:
        if ":" not in qname:
            return [qname]
        prefix, local = qname.split(":", 1)
        return [f"{{{uri}}}{local}" for uri in prefixes[prefix]]

    def names(qnames: list[str]) -> frozenset[str]:
        return frozenset(name for qname in qnames for name in clark(qname))

    table = _Table()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        first, *rest = line.split()
        if first == "=":
            strict = _strict(rest[1])
            prefixes[rest[0]] = [rest[1]] if strict is None else [rest[1], strict]
        elif first == ">":
            allowed = names(rest[1:])
            for element in clark(rest[0]):
                table.children[element] = allowed
        elif first == "$":
            table.text = names(rest)
        else:
            allowed = names(rest)
            for element in clark(first):
                table.attributes[element] = allowed
    table.namespaces = frozenset(
        uri for prefix, uris in prefixes.items() if prefix != "xml" for uri in uris
    )
    return table


_TABLE = _load()


def covers(uri: str) -> bool:
    """Whether the table has a schema for this namespace."""
    return uri in _TABLE.namespaces


def is_defined(tag: str) -> bool:
    """An element of a covered namespace is kept only if the schemas define it."""
    return tag in _TABLE.attributes


def may_contain(parent_tag: str, child_tag: str) -> bool:
    """Whether the schemas allow this child in this parent (both of covered namespaces)."""
    allowed = _TABLE.children.get(parent_tag)
    if allowed is None:
        return False  # an element of empty content
    return child_tag in allowed or _ANY in allowed


def allows_attribute(tag: str, name: str) -> bool:
    return name in _TABLE.attributes.get(tag, ())


def holds_text(tag: str) -> bool:
    return tag in _TABLE.text
