"""Write scrubbers/_odf_attributes.txt, the ODF attribute table the OpenDocument scrubber
keeps attributes by (issue 10: keep only what the specification defines for each element).

Source: the OASIS OpenDocument Relax-NG schemas, as published at
docs.oasis-open.org/office/OpenDocument/ (the copies read were those of The Document
Foundation's odftoolkit repository, validator/src/main/resources/schema/odf1.N/, SHA-256
below):

- OpenDocument-v1.2-os-schema.rng (ODF 1.2, OASIS Standard, 29 September 2011): LibreOffice
  still writes its attributes (ca5d2510858c6f922b20cd27dc76d34959c1a976b9dfc6b5caeadbebfc83dbbb);
- OpenDocument-v1.3-schema.rng (ODF 1.3, OASIS Standard, 27 April 2021;
  40bad03efdbb02825230d357da0aa6ac679934c5bf56c6281752c0c24d58e4e6);
- OpenDocument-v1.4-schema.rng (ODF 1.4, OASIS Standard, 11 March 2024): what LibreOffice 25.2 on
  writes (it uses fo:hyphenation-keep, for one;
  b4f3850341d0cd3aecb896bfec995435364c90ba713d870bbd82e40fb00fd141).

Licence: Copyright (c) OASIS Open 2002-2024, under the OASIS IPR Policy, whose notice in
each schema allows copies and derivative works that explain or implement it, provided the
notice is kept; the table is such a derivative (element and attribute names only) and
begins with that notice, as ODF 1.2's schema words it.

And LibreOffice's extended schema, for the elements and attributes of its own namespaces
(``loext:``, ``calcext:``, ``officeooo:``, ``field:``…): the grammar LibreOffice's own tests
check its "extended" files against, which includes the OASIS ODF 1.4 schema and adds to it:

- schema/libreoffice/OpenDocument-v1.4+libreoffice-schema.rng of github.com/LibreOffice/core,
  commit f8b9cd8fd13897094a014ad06df406f0c78adc62
  (54f0c2fea6dbba6849e245af2ce8053bcfb75e8032c9b251dac0809707c7620f). Its header is the OASIS
  copyright and notice above (the file is a derivative of the OASIS schema); the rest of
  LibreOffice's repository is under MPL-2.0. Only names are taken, and the table says so.
  (The copy read: the file's text as a stored copy of the repository holds it, 140,467
  characters, saved as UTF-8.) Its predecessor for ODF 1.3, OpenDocument-v1.3+libreoffice-
  schema.rng (commit 05f863844d9a5613250e8d787e32752b270ec4d3), defines no name this one lacks.

A schema with ``<include>`` is read as Relax-NG does: the included grammar (the file of that
name among the arguments), its defines replaced by those inside the ``<include>``, then the
schema's own defines added to it (``combine``).

The table is the union over the versions. Run by hand when a version is added:

    python bench/odf_schema_table.py OpenDocument-v1.2-os-schema.rng \
        OpenDocument-v1.3-schema.rng OpenDocument-v1.4-schema.rng \
        OpenDocument-v1.4+libreoffice-schema.rng > scrubbers/_odf_attributes.txt

Output, one line per element the schemas define, sorted:
    ELEMENT ATTRIBUTE...   (qualified names with the schemas' own prefixes)
after lines ``= PREFIX URI`` for the prefixes used (``xml`` is XML's own), with ``*``
as an attribute for an element that allows any attribute (foreign content), and
two more lines: ``@ID`` and ``@IDREF`` followed by the attributes whose values are XML IDs,
and references to them (IDREF and IDREFS), on any element.
"""

from __future__ import annotations

import hashlib
import os
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator

RNG = "{http://relaxng.org/ns/structure/1.0}"
ANY = "*"

#: The extended schemas read, by SHA-256: the table names each one's origin, so a file not
#: listed here (a newer one) is refused until its origin is written down.
LIBREOFFICE_SCHEMAS = {
    "54f0c2fea6dbba6849e245af2ce8053bcfb75e8032c9b251dac0809707c7620f": (
        "github.com/LibreOffice/core schema/libreoffice/OpenDocument-v1.4+libreoffice-schema.rng"
        " at commit f8b9cd8fd13897094a014ad06df406f0c78adc62"
    ),
}
#: LibreOffice's schema declares this bare attribute as "just a test-case for user-defined
#: attributes" (its own comment): LibreOffice writes no such thing, and a bare attribute on a
#: cell style would be free text.
NOT_WRITTEN = frozenset({"proName"})
#: Names LibreOffice wrote before ODF 1.3 gave them an OASIS one (its "ODF 1.2 extended" files,
#: LibreOffice up to 6.4; its import still reads them): the current extended schema lists only
#: the standard name, and corpus files carry the old one (contextual spacing of paragraph
#: styles, the media type of pictures; and a sheet's tab colour). Each is allowed wherever the
#: standard name is.
RENAMED_BY_ODF_1_3 = {
    "loext:contextual-spacing": "style:contextual-spacing",
    "loext:mime-type": "draw:mime-type",
    "tableooo:tab-color": "table:tab-color",
}


def _checked(name: str, prefixes: dict[str, str]) -> str:
    """The name as the schema writes it (the table keeps the schemas' prefixes, which all
    three declare alike), once its prefix is known to be declared."""
    if ":" not in name:
        return name
    prefix, _ = name.split(":", 1)
    if prefix != "xml" and prefix not in prefixes:
        raise ValueError(f"undeclared prefix in {name}")
    return name


class _Schema:
    def __init__(self, path: str, paths: list[str]) -> None:
        self.path = path
        self.prefixes: dict[str, str] = {}
        for _, (prefix, uri) in ET.iterparse(path, events=("start-ns",)):
            self.prefixes[prefix] = uri
        root = ET.parse(path).getroot()
        self.includes: list[_Schema] = []
        # The patterns in force: the grammar's start and defines, an included grammar's among
        # them (less those the <include> replaces).
        self.starts: list[ET.Element] = []
        self.defines: dict[str, list[ET.Element]] = defaultdict(list)
        for include in root.iter(f"{RNG}include"):
            included = _Schema(_included_path(include.get("href", ""), paths), paths)
            self.includes.append(included)
            self.prefixes = {**included.prefixes, **self.prefixes}
            replaced = {d.get("name", "") for d in include.iter(f"{RNG}define")}
            self.starts.extend(included.starts)
            for name, defines in included.defines.items():
                if name not in replaced:
                    self.defines[name].extend(defines)
        self.starts.extend(root.iter(f"{RNG}start"))
        for define in root.iter(f"{RNG}define"):
            self.defines[define.get("name", "")].append(define)

    def patterns(self) -> Iterator[ET.Element]:
        yield from self.starts
        for defines in self.defines.values():
            yield from defines

    def elements(self) -> Iterator[ET.Element]:
        for pattern in self.patterns():
            yield from pattern.iter(f"{RNG}element")

    def names(self, node: ET.Element) -> list[str]:
        """The names an element or attribute pattern matches (`*` for a wildcard)."""
        if node.get("name") is not None:
            return [_checked(node.get("name", ""), self.prefixes)]
        first = node[0]
        found: list[str] = []
        for name_class in first.iter():
            if name_class.tag in (f"{RNG}anyName", f"{RNG}nsName"):
                return [ANY]
            if name_class.tag == f"{RNG}name":
                found.append(_checked((name_class.text or "").strip(), self.prefixes))
        return found

    def attributes(self, element: ET.Element) -> set[str]:
        """The attributes an element pattern allows: its own, through refs, not its children's."""
        found: set[str] = set()
        seen: set[str] = set()
        pending = list(element)[1:] if element.get("name") is None else list(element)
        while pending:
            node = pending.pop()
            if node.tag == f"{RNG}element":
                continue
            if node.tag == f"{RNG}attribute":
                found.update(set(self.names(node)) - NOT_WRITTEN)
                continue
            if node.tag == f"{RNG}ref":
                name = node.get("name", "")
                if name not in seen:
                    seen.add(name)
                    for define in self.defines[name]:
                        pending.extend(define)
                continue
            pending.extend(node)
        return found

    def typed_attributes(self, kinds: tuple[str, ...]) -> set[str]:
        """Attributes whose value is one of these XML datatypes (directly or by a define)."""
        typed_defines = {
            name
            for name, defines in self.defines.items()
            if any(
                len(define) == 1
                and define[0].tag == f"{RNG}data"
                and define[0].get("type") in kinds
                for define in defines
            )
        }
        found: set[str] = set()
        attributes = (a for p in self.patterns() for a in p.iter(f"{RNG}attribute"))
        for attribute in attributes:
            values = [child for child in attribute if child.tag in (f"{RNG}ref", f"{RNG}data")]
            if values and all(
                (v.tag == f"{RNG}ref" and v.get("name") in typed_defines)
                or (v.tag == f"{RNG}data" and v.get("type") in kinds)
                for v in values
            ):
                found.update(n for n in self.names(attribute) if n != ANY)
        return found


def _notice(path: str) -> list[str]:
    """The schema's opening comment (its title, copyright and the OASIS notice)."""
    with open(path, encoding="utf-8") as schema:
        text = schema.read()
    start = text.index("<!--") + len("<!--")
    return [line.strip() for line in text[start : text.index("-->", start)].strip().splitlines()]


def _included_path(href: str, paths: list[str]) -> str:
    """The argument that is the file an ``<include>`` names, found by its file name (the copies
    read need not be laid out as LibreOffice's repository lays them out)."""
    for path in paths:
        if os.path.basename(path) == os.path.basename(href):
            return path
    raise ValueError(f"{href} is included: give it as an argument too")


def _origin(path: str) -> str:
    """Where an extended schema comes from, by its SHA-256 (LIBREOFFICE_SCHEMAS)."""
    with open(path, "rb") as schema:
        digest = hashlib.sha256(schema.read()).hexdigest()
    if digest not in LIBREOFFICE_SCHEMAS:
        raise ValueError(f"{path}: add its origin to LIBREOFFICE_SCHEMAS (SHA-256 {digest})")
    return f"{LIBREOFFICE_SCHEMAS[digest]} (SHA-256 {digest})"


def main(paths: list[str]) -> None:
    table: dict[str, set[str]] = defaultdict(set)
    ids: set[str] = set()
    refs: set[str] = set()
    prefixes: dict[str, str] = {}
    extended: list[str] = []
    for path in paths:
        schema = _Schema(path, paths)
        if schema.includes:
            extended.append(_origin(path))
        prefixes.update(schema.prefixes)
        for element in schema.elements():
            allowed = schema.attributes(element)
            for name in schema.names(element):
                if name != ANY:
                    table[name].update(allowed)
        ids |= schema.typed_attributes(("ID",))
        refs |= schema.typed_attributes(("IDREF", "IDREFS"))
    if extended:
        for allowed in table.values():
            allowed.update(old for old, new in RENAMED_BY_ODF_1_3.items() if new in allowed)
    print("# Generated by bench/odf_schema_table.py from the OASIS OpenDocument 1.2, 1.3 and")
    print("# 1.4 Relax-NG schemas, Copyright (c) OASIS Open 2002-2024. The notice of ODF 1.2's:")
    for line in _notice(paths[0]):
        print(f"# {line}".rstrip())
    for origin in extended:
        print("# The names of LibreOffice's namespaces from its extended schema, whose header is")
        print("# the OASIS copyright and notice above (LibreOffice is otherwise under MPL-2.0):")
        print(f"# {origin};")
        print(f"# with LibreOffice's names from before ODF 1.3: {', '.join(RENAMED_BY_ODF_1_3)}.")
    used = {n.split(":")[0] for name, allowed in table.items() for n in (name, *allowed)}
    for prefix in sorted(used & set(prefixes)):
        print(f"= {prefix} {prefixes[prefix]}")
    for name in sorted(table):
        attributes = sorted(table[name])
        if ANY in attributes:
            attributes = [ANY]
        print(" ".join([name, *attributes]))
    print(" ".join(["@ID", *sorted(ids)]))
    print(" ".join(["@IDREF", *sorted(refs)]))


if __name__ == "__main__":
    main(sys.argv[1:])
