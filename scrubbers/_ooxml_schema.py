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
- an attribute whose value the schema restricts (a boolean, a number, hexBinary, one of an
  enumeration's values: ``w:conformance``, ``xml:space``, ``w:highlight``) and which holds
  anything else goes (``ooxml:invalid-value``): Office refuses such a value, so no file it
  opens loses anything, and free text cannot ride on a flag;
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

import re
from collections.abc import Callable
from importlib import resources
from urllib.parse import unquote

from scrubbers import _xml

INVALID_VALUE = "ooxml:invalid-value"  # a value outside its schema type
_ANY = "*"
_INTEGER = re.compile(r"[+-]?\d{1,20}")
_NUMBER = re.compile(r"[+-]?(?:\d{1,40}(?:\.\d{0,40})?|\.\d{1,40})(?:[eE][+-]?\d{1,4})?|-?INF|NaN")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_CHOICES = {
    "b": frozenset({"true", "false", "1", "0"}),  # xsd:boolean
    "o": frozenset({"true", "false", "on", "off", "1", "0"}),  # ST_OnOff
    "t": frozenset({"t", "f", "true", "false"}),  # VML's ST_TrueFalse
    "tb": frozenset({"t", "f", "true", "false", ""}),
}
_GRAMMARS = {"i": _INTEGER, "f": _NUMBER, "h": _HEX}
ValueCheck = Callable[[str], bool]
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
        self.values: dict[tuple[str, str], ValueCheck] = {}
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

    enums: dict[str, frozenset[str]] = {}

    def check(kind: str) -> ValueCheck:
        if "|" in kind:
            either = [check(one) for one in kind.split("|")]
            return lambda value: any(one(value) for one in either)
        if kind.startswith("e"):
            return enums[kind[1:]].__contains__
        if kind in _CHOICES:
            return _CHOICES[kind].__contains__
        grammar = _GRAMMARS[kind]
        # XML Schema collapses whitespace around a number or a token before reading it.
        return lambda value: grammar.fullmatch(value.strip()) is not None

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
        elif first == "%":
            enums[rest[0]] = frozenset("" if v == "%" else unquote(v) for v in rest[1:])
        else:
            plain = [token.split("=", 1)[0] for token in rest]
            allowed = names(plain)
            checks = [
                (attribute, check(kind))
                for token in rest
                if "=" in token
                for name, kind in [token.split("=", 1)]
                for attribute in clark(name)
            ]
            for element in clark(first):
                table.attributes[element] = allowed
                for attribute, value_check in checks:
                    table.values[(element, attribute)] = value_check
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


def value_is_valid(tag: str, name: str, value: str) -> bool:
    """Whether an attribute's value is one its type allows (any, for a string)."""
    value_check = _TABLE.values.get((tag, name))
    return value_check is None or value_check(value)


def holds_text(tag: str) -> bool:
    return tag in _TABLE.text
