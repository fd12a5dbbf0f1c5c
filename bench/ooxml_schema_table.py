"""Write scrubbers/_ooxml_elements.txt, the table of the elements the Office Open XML schemas
define and the attributes each may have (issue 10: keep only what the specification defines,
not a whole namespace).

Source: the schema data of the Open XML SDK (github.com/dotnet/Open-XML-SDK, ``data/``),
which Microsoft generates from the ECMA-376 schemas (WordprocessingML, SpreadsheetML,
PresentationML, DrawingML, VML, the shared types) and from the schemas of Office's own
extensions that [MS-DOCX], [MS-XLSX], [MS-PPTX] and [MS-ODRAWXML] publish (w14, w15, x14,
p14, a14, c14…): ``data/namespaces.json`` (prefix -> URI) and ``data/schemas/*.json`` (one
file per namespace; each type is named ``<prefix>:<complex type>/<prefix>:<element>``, lists
its attributes, and inherits those of its ``BaseClass``).

Licence: MIT, "Copyright (c) .NET Foundation and Contributors"; the notice is carried in the
table's header, which holds names only.

Run by hand when a new SDK release adds namespaces:

    python bench/ooxml_schema_table.py PATH/TO/Open-XML-SDK/data COMMIT \
        > scrubbers/_ooxml_elements.txt

Output: ``= PREFIX URI`` lines for the prefixes used, then one line per element, sorted:
    ELEMENT ATTRIBUTE...   (qualified names; an attribute without a prefix is unqualified,
                            as most of SpreadsheetML's and DrawingML's are)
then one line per element that may contain elements:
    > ELEMENT CHILD...     (``*`` as a child: any element, ``xsd:any`` as in ``a:ext``)
and one line ``$ ELEMENT...`` of the elements whose content is text (``w:t``, ``x:v``).
An attribute whose value the schema restricts is written ``NAME=KIND``: ``b`` xsd:boolean,
``o`` on/off, ``t`` VML true/false (``tb``: or empty), ``i`` an integer, ``f`` a decimal or
floating-point number, ``h`` hexBinary, ``eN`` one of the values of enumeration N, listed
on a line ``% N VALUE...`` (percent-encoded; ``%`` alone is the empty value). An attribute
that several types define with different kinds may hold what either allows (``i|b``); one
of them a string, or an enumeration beside a number: written without a kind (not checked).
An element defined by several types (``w:rPr`` is six) allows the union of what they allow.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

MIT_NOTICE = """\
The MIT License (MIT)

Copyright (c) .NET Foundation and Contributors

All rights reserved.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE."""


#: Elements of ECMA-376's first edition (2006) that Word still writes and the SDK's data
#: (built from the later editions) no longer lists: name -> (attributes, parents).
FIRST_EDITION = {
    # Part 4 §2.15.1.33 (a settings flag of Word 2003's smart tags; exiftool's OOXML.docx).
    "w:doNotEmbedSmartTags": (("w:val",), ("w:settings",)),
}


def _element(type_name: str) -> str:
    # "w:CT_RPr/w:rPr" -> "w:rPr"; "w:CT_Body/" (an abstract base class) -> "".
    return type_name.split("/", 1)[1]


_KINDS = {
    "BooleanValue": "b",
    "OnOffValue": "o",
    "TrueFalseValue": "t",
    "TrueFalseBlankValue": "tb",
    **dict.fromkeys(
        ("Int16Value", "Int32Value", "Int64Value", "IntegerValue", "UInt16Value",
         "UInt32Value", "UInt64Value", "ByteValue", "SByteValue"),
        "i",
    ),
    **dict.fromkeys(("DoubleValue", "DecimalValue", "SingleValue"), "f"),
    "HexBinaryValue": "h",
}  # fmt: skip
_UNCHECKED = ""


Kind = str | frozenset[str]  # a kind letter ("i|b": either), or enumeration values


def _merged(old: Kind, new: Kind) -> Kind:
    """What an attribute two types define differently may hold: a value either allows."""
    if old == _UNCHECKED or new == _UNCHECKED:
        return _UNCHECKED  # one of them is a string: anything
    if isinstance(old, frozenset) and isinstance(new, frozenset):
        return old | new
    if isinstance(old, frozenset) or isinstance(new, frozenset):
        return _UNCHECKED  # an enumeration or a number: not written (rare; not checked)
    return "|".join(sorted(set(old.split("|")) | set(new.split("|"))))


class Table:
    def __init__(self) -> None:
        self.attributes: dict[str, set[str]] = defaultdict(set)
        # (element, attribute) -> kind, or a frozenset of enumeration values
        self.kinds: dict[tuple[str, str], Kind] = {}
        self.children: dict[str, set[str]] = defaultdict(set)
        self.text: set[str] = set()


def _particle_names(particle: dict[str, object]) -> set[str]:
    found: set[str] = set()
    pending = [particle]
    while pending:
        item = pending.pop()
        if item.get("Kind") == "Any":
            found.add("*")
        elif "Name" in item:
            found.add(_element(str(item["Name"])))
        pending.extend(item.get("Items", []))  # type: ignore[arg-type]
    return found


def build(data: Path) -> tuple[dict[str, str], Table, str]:
    """(prefix -> URI of the prefixes used, the table, digest of the inputs)."""
    digest = hashlib.sha256()
    namespaces_path = data / "namespaces.json"
    digest.update(namespaces_path.read_bytes())
    prefixes = {
        entry["Prefix"]: entry["Uri"]
        for entry in json.loads(namespaces_path.read_text("utf-8-sig"))
        if entry["Prefix"]
    }
    # A BaseClass names a ClassName, which is unique within one namespace's file but not
    # across them (several namespaces have a "Group"): looked up in the type's own file first.
    by_file: list[tuple[dict[str, dict[str, object]], list[dict[str, object]]]] = []
    by_class: dict[str, list[dict[str, object]]] = defaultdict(list)
    for path in sorted((data / "schemas").glob("*.json")):
        digest.update(path.read_bytes())
        types = json.loads(path.read_text("utf-8-sig")).get("Types", [])
        local = {str(t["ClassName"]): t for t in types}
        by_file.append((local, types))
        for t in types:
            by_class[str(t["ClassName"])].append(t)

    def lineage(
        t: dict[str, object], local: dict[str, dict[str, object]]
    ) -> list[dict[str, object]]:
        found: list[dict[str, object]] = []
        while all(t is not seen for seen in found):
            found.append(t)
            base = str(t["BaseClass"])
            parent = local.get(base) or next(iter(by_class.get(base, [])), None)
            if parent is None:
                break  # OpenXmlCompositeElement and the SDK's other roots: nothing to inherit
            t = parent
        return found

    enums: dict[str, set[str]] = defaultdict(set)
    for path in sorted((data / "schemas").glob("*.json")):
        for enum in json.loads(path.read_text("utf-8-sig")).get("Enums", []):
            # Named by class, which is unique per namespace only: a name two namespaces
            # share allows the values of both.
            enums[str(enum["Name"])] |= {str(facet["Value"]) for facet in enum["Facets"]}

    def kind(attribute: dict[str, object]) -> Kind:
        declared = str(attribute["Type"])
        if declared.startswith("EnumValue<"):
            name = declared.removeprefix("EnumValue<").removesuffix(">").rsplit(".", 1)[-1]
            return frozenset(enums[name]) if name in enums else _UNCHECKED
        return _KINDS.get(declared, _UNCHECKED)

    table = Table()
    for local, types in by_file:
        for t in types:
            element = _element(str(t["Name"]))
            if not element:
                continue
            table.attributes[element]
            for ancestor in lineage(t, local):
                for attribute in ancestor.get("Attributes", []):  # type: ignore[attr-defined]
                    name = str(attribute["QName"]).removeprefix(":")
                    new = kind(attribute)
                    if name in table.attributes[element]:
                        new = _merged(table.kinds.get((element, name), _UNCHECKED), new)
                    table.attributes[element].add(name)
                    table.kinds[(element, name)] = new
                for child in ancestor.get("Children", []):  # type: ignore[attr-defined]
                    table.children[element].add(_element(str(child["Name"])))
                for child_name in ancestor.get("AdditionalElements", []):  # type: ignore[attr-defined]
                    table.children[element].add(_element(str(child_name)))
                if "Particle" in ancestor:
                    table.children[element] |= _particle_names(ancestor["Particle"])  # type: ignore[arg-type]
                if ancestor.get("IsLeafText") or ancestor["BaseClass"] == "OpenXmlLeafTextElement":
                    table.text.add(element)
    for element, (element_attributes, parents) in FIRST_EDITION.items():
        table.attributes[element] |= set(element_attributes)
        for parent in parents:
            table.children[parent].add(element)
    names = set(table.attributes) | {c for cs in table.children.values() for c in cs if c != "*"}
    used = {name.split(":", 1)[0] for name in names} | {
        a.split(":", 1)[0] for attrs in table.attributes.values() for a in attrs if ":" in a
    }
    missing = used - set(prefixes) - {"xml"}
    if missing:
        raise SystemExit(f"prefixes without a namespace: {sorted(missing)}")
    return {p: prefixes[p] for p in sorted(used) if p != "xml"}, table, digest.hexdigest()


def main() -> None:
    data, commit = Path(sys.argv[1]), sys.argv[2]
    prefixes, table, digest = build(data)
    out = sys.stdout
    out.write("# Generated by bench/ooxml_schema_table.py from the Open XML SDK's schema data\n")
    out.write(f"# (github.com/dotnet/Open-XML-SDK data/, commit {commit};\n")
    out.write(f"# SHA-256 of namespaces.json and schemas/*.json in name order: {digest}).\n")
    out.write("# Element and attribute names only. The SDK's licence:\n#\n")
    for line in MIT_NOTICE.splitlines():
        out.write(f"# {line}".rstrip() + "\n")
    for prefix, uri in prefixes.items():
        out.write(f"= {prefix} {uri}\n")
    enum_ids: dict[frozenset[str], int] = {}
    for key in sorted(table.kinds):
        value = table.kinds[key]
        if isinstance(value, frozenset) and value not in enum_ids:
            enum_ids[value] = len(enum_ids)
    for values, number in enum_ids.items():
        encoded = [quote(v, safe="") or "%" for v in sorted(values)]
        out.write(" ".join(["%", str(number), *encoded]) + "\n")
    for element in sorted(table.attributes):
        tokens = [element]
        for name in sorted(table.attributes[element]):
            value = table.kinds.get((element, name), _UNCHECKED)
            if isinstance(value, frozenset):
                value = f"e{enum_ids[value]}"
            tokens.append(f"{name}={value}" if value else name)
        out.write(" ".join(tokens) + "\n")
    for element in sorted(table.children):
        if table.children[element]:
            out.write(" ".join([">", element, *sorted(table.children[element])]) + "\n")
    out.write(" ".join(["$", *sorted(table.text)]) + "\n")


if __name__ == "__main__":
    main()
