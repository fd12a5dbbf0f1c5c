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
- values that are free text no reader shows: relationship ids (renumbered rId1, rId2 ... per
  ``.rels``, every reference following; one to no relationship removed), content types
  outside the specifications' list (``_ooxml_types``), namespace prefixes (given their
  conventional names, ``_ooxml_prefixes``), namespace URIs of no specification (removed with
  their markup), part names (each part given the one Office gives its kind, in order,
  ``_ooxml_names``), Word's font obfuscation keys (neutral ones, ``_ooxml_fonts``);
- inside the remaining XML: tracked changes (deletions removed, insertions accepted, property
  changes dropped), comment anchors, editing-permission ranges (editor names), revision-session
  ids (``w:rsid*``, ``w:rsids``), paragraph ids, numbering ids (``w:nsid``, ``w:tmpl``),
  document ids (``w14:docId``, ``xr:revisionPtr``, ``p14:creationId``), ``x15ac:absPath``
  (the folder the workbook was saved in), shared-workbook user names, pivot-cache refresher,
  password hashes, document variables, picture file names, data-connection strings and
  paths (``xl/connections.xml``), Word's last-edit bookmark (``_GoBack``), content-control
  tags, ids and data bindings, the random numbers of Word's hidden bookmarks (``_Hlk``,
  ``_Toc``, ``_Ref``: renumbered, ``_ooxml_bookmarks``), random object ids
  (``wp14:anchorId``, ``a16:creationId`` ...), and elements pointing at a removed relationship;
  custom XML and smart-tag markup (unwrapped: its content stays); values outside their schema
  type (language tags, on/off, numbers, colours) and style references to no style of the
  package (``_ooxml_values``);
- embedded files (images, embedded documents) are cleaned recursively by their own scrubber;
  one that cannot be cleaned makes the whole document "not cleaned".

`get_meta` runs the very same pass without keeping its result, so what the verification step
looks for is exactly what cleaning removes.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from scrubbers import _xml
from scrubbers._core import scrub_embedded
from scrubbers._ooxml_bookmarks import HiddenBookmarks
from scrubbers._ooxml_fields import is_vml, neutralise_fields, vml_as_xml
from scrubbers._ooxml_fonts import font_keys, neutral_key, rekey_entries, rekeyed
from scrubbers._ooxml_ids import (
    DANGLING,
    dangling_references,
    drop_duplicates,
    rename_diagram_drawing,
    rename_references,
    renumber,
)
from scrubbers._ooxml_markup import (
    SML_NS,
    XmlCleaner,
    clean_element_attributes,
    keep_known_namespaces,
    remove_last_edit_bookmark,
)
from scrubbers._ooxml_names import PART_NAME, in_natural_order, neutral_names, relative_target
from scrubbers._ooxml_parts import (
    CONTENT_TYPES,
    CT_DROP,
    EXTERNAL,
    PACKAGE_RELS,
    PATH_DROP,
    REL_ATTRIBUTES,
    REL_DROP,
    REL_KEEP,
    REL_NS,
    UNCLEANABLE,
    UNKNOWN_PART,
    Relationship,
    content_types,
    ct_key,
    declared_font,
    is_local_path,
    keep_only,
    part_kind,
    relationships,
    rels_part_of,
    rels_source,
)
from scrubbers._ooxml_types import (
    BINARY_TYPE,
    RELS_TYPE,
    allowed_content_type,
    clean_content_types,
    document_family,
    font_part_type,
    xml_part_type,
)
from scrubbers._ooxml_values import check_values, style_ids
from scrubbers._sniff import sniff
from scrubbers._types import Cleaned, Limits, PassRecord
from scrubbers._xml import Element
from scrubbers._zip import (
    Package,
    check_attachment_budget,
    font_obfuscation_key,
    looks_like_xml,
    not_cleaned,
    read_package,
    write_package,
)
from scrubbers.errors import CorruptFileError, UnsupportedTypeError

# Relationship types of the parts that define the styles of WordprocessingML.
_STYLES = frozenset({"styles", "stylesWithEffects"})


@dataclass
class _Pass(PassRecord):
    """One cleaning pass over a package (shared by get_meta and remove_all)."""

    package: Package
    limits: Limits
    check_only: bool
    # The style ids the package's styles parts define, once cleaned: a style reference of
    # any other part must name one of them.
    styles: set[str] = field(default_factory=set)

    def run(self) -> dict[str, bytes]:
        members = self.package.members
        self.removed.update(self.package.traces)
        folded = {name.casefold(): name for name in members}
        if CONTENT_TYPES not in members:
            raise CorruptFileError("OOXML package without [Content_Types].xml")
        if PACKAGE_RELS not in members:
            raise CorruptFileError("OOXML package without relationships")
        types_doc = _xml.parse(members[CONTENT_TYPES], self.limits)
        defaults, overrides = content_types(types_doc)

        def content_type(name: str) -> str:
            return overrides.get(
                "/" + name.casefold(), defaults.get(posixpath.splitext(name)[1][1:].casefold(), "")
            )

        # Parts removed for what they are, wherever they sit.
        drop: dict[str, str] = {}
        for name in members:
            if name == CONTENT_TYPES or rels_source(name) is not None:
                continue
            reason = CT_DROP.get(ct_key(content_type(name)))
            for pattern, path_reason in PATH_DROP:
                if reason is None and pattern.search(name):
                    reason = path_reason
            if reason is not None:
                drop[name] = reason

        # Walk the relationship graph from the package root; removed parts are not entered.
        rels_docs: dict[str, tuple[_xml.XmlDoc, list[Relationship]]] = {}
        reachable: set[str] = set()
        # A SmartArt data part names a relationship of the part holding the diagram.
        diagram_holder: dict[str, str] = {}
        reached_by: dict[str, str] = {}  # part -> the type of the first relationship to it
        reached_from: dict[str, str] = {}  # part -> the source of that relationship
        queue = [""]
        while queue:
            source = queue.pop()
            rels_name = rels_part_of(source)
            if rels_name not in members or rels_name in rels_docs:
                continue
            doc = _xml.parse(members[rels_name], self.limits)
            drop_duplicates(doc.root, self.removed)
            rels = relationships(doc, source, folded, self.removed)
            rels_docs[rels_name] = (doc, rels)
            for rel in rels:
                if rel.external:
                    continue
                if rel.target is not None and rel.target not in reached_by:
                    reached_by[rel.target] = rel.key
                    reached_from[rel.target] = source
                if rel.key == "diagramData" and rel.target is not None:
                    diagram_holder.setdefault(rel.target, source)
                if rel.key in REL_DROP and rel.target is not None:
                    drop.setdefault(rel.target, REL_DROP[rel.key])
                elif rel.key not in REL_KEEP and rel.target is not None:
                    drop.setdefault(rel.target, UNKNOWN_PART)
                if rel.target is not None and rel.target not in drop:
                    if rel.target not in reachable:
                        reachable.add(rel.target)
                        queue.append(rel.target)

        main_part = ""
        for rel in rels_docs.get(PACKAGE_RELS, (None, []))[1]:
            if rel.key == "officeDocument" and rel.target is not None:
                main_part = rel.target
                if looks_like_xml(members[rel.target]):
                    continue
                if content_type(rel.target).casefold().endswith("xml"):
                    raise CorruptFileError("main part declared as XML is not XML")
                # XLSB and the like: a binary main part, which no scrubber here reads.
                raise UnsupportedTypeError("binary office document")
        # Word's fonts are obfuscated by the key their font table gives (`_ooxml_fonts`).
        table_keys: dict[str, bytes] = {}
        for name in sorted(reachable):
            if reached_by.get(name) == "fontTable" and name not in drop:
                rels = rels_docs.get(rels_part_of(name), (None, []))[1]
                table_keys = font_keys(members[name], rels, self.limits) | table_keys
        # Every reachable part's type comes from its bytes, never from the declaration. A
        # binary part that no scrubber can vouch for (OLE objects, ActiveX state, audio and
        # video) is taken out and handed back on its own, not cleaned: the document around it
        # (and the part's preview picture) stays and is cleaned, as Office itself keeps a
        # document whose legacy binary parts it drops.
        for name in sorted(reachable):
            if name in drop or name not in members:
                continue
            data = members[name]
            if part_kind(name, data, table_keys.get(name)) != "unknown":
                continue
            if declared_font(name, content_type(name)):
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
            if name == CONTENT_TYPES or rels_source(name) is not None:
                continue
            if name in drop:
                self.removed.add(drop[name])
            elif name not in reachable:
                self.removed.add("ooxml:unreferenced-part")
            else:
                output[name] = b""  # placeholder, filled below

        # The parts' names are free text: each gets the one of its kind and order
        # (`_ooxml_names`), the relationships to it and from it following.
        kinds = {name: part_kind(name, members[name], table_keys.get(name)) for name in output}
        # A font the font table gives a key gets a neutral one, of its order.
        font_keys_used: dict[str, bytes] = {}
        for name in output:
            if kinds[name] == "font" and name in table_keys:
                found = font_obfuscation_key(name, members[name], table_keys[name])
                if found is not None:
                    font_keys_used[name] = found
        new_keys = {
            name: neutral_key(number)
            for number, name in enumerate(in_natural_order(font_keys_used), 1)
        }
        xml_parts = {
            name: (key, reached_from[name])
            for name, key in reached_by.items()
            if name in output and kinds[name] == "xml"
        }
        binary = {name: members[name] for name in output if kinds[name] == "embedded"}
        new_names = {
            old: new
            for old, new in neutral_names(
                xml_parts,
                font_keys_used,
                binary,
                main_part,
                (n for n in output if n not in xml_parts and n not in binary and n not in new_keys),
            ).items()
            if new != old
        }

        # Relationships: drop those of removed types or to removed parts; neutralise local
        # paths of external targets. Remember the ids dropped per source part, so that the
        # elements using them can go too.
        dropped_ids: dict[str, set[str]] = {}
        renamed_ids: dict[str, dict[str, str]] = {}
        for rels_name, (doc, rels) in rels_docs.items():
            source = rels_source(rels_name) or ""
            if source and source not in output:
                continue
            gone: set[str] = set()
            for rel in rels:
                if rel.key in REL_DROP:
                    self.removed.add(REL_DROP[rel.key])
                    gone.add(rel.rel_id)
                elif rel.key not in REL_KEEP and not rel.external:
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
                elif rel.external and is_local_path(rel.element.get("Target", "")):
                    self.removed.add("ooxml:local-path")
                    rel.element.set("Target", "NULL")
                elif rel.external:
                    # A clickable link is content; the editors check it for tracking tokens.
                    self._add_link(rel.element.get("Target", ""))
                if not rel.external and rel.target is not None and rel.rel_id not in gone:
                    new_source = new_names.get(source, source)
                    new_target = new_names.get(rel.target, rel.target)
                    if (new_source, new_target) != (source, rel.target):
                        target = relative_target(new_source, new_target)
                        if rel.element.get("Target") != target:
                            rel.element.set("Target", target)
                            self.removed.add(PART_NAME)
            doc.root[:] = [
                child
                for child in doc.root
                if child.get("Id") not in gone or _xml.local_name(child.tag) != "Relationship"
            ]
            dropped_ids[source] = gone
            keep_only(doc, REL_NS, {"Relationship": REL_ATTRIBUTES}, self.removed)
            renamed_ids[source] = renumber(doc.root, self.removed)
            output[rels_name] = _xml.serialize(doc)

        original: dict[str, str] = {}  # output name -> member name
        for name in list(output):
            described = rels_source(name)
            new = (
                rels_part_of(new_names[described])
                if described in new_names
                else new_names.get(name)
            )
            original[name if new is None else new] = name
            if new is not None:
                output[new] = output.pop(name)
                self.removed.add(PART_NAME)

        family = document_family(main_part)

        def required_type(name: str) -> str:
            if rels_source(name) is not None:
                return RELS_TYPE
            data = members[original[name]]
            kind = kinds[original[name]]
            if kind == "xml":
                return xml_part_type(reached_by.get(original[name], ""), family)
            if kind == "font":
                return font_part_type(name)
            return allowed_content_type(sniff(data).media_type) or BINARY_TYPE

        clean_content_types(types_doc, original, required_type, self.removed)
        output[CONTENT_TYPES] = _xml.serialize(types_doc)

        # By name, not in the order the zip lists them: the hidden bookmarks are numbered
        # as first seen, and the cleaned package lists its members sorted.
        bookmarks = HiddenBookmarks(self.removed)

        # The styles parts first: what they define once cleaned is what the style
        # references of the other parts are checked against, with no second parse.
        def is_styles(name: str) -> bool:
            return name in original and reached_by.get(original[name]) in _STYLES

        for name in sorted(output, key=lambda n: (not is_styles(n), n)):
            if name == CONTENT_TYPES or rels_source(name) is not None:
                continue
            old = original[name]
            data = members[old]
            kind = kinds[old]
            if kind == "xml":
                vml = is_vml(old, content_type(old))
                holder = diagram_holder.get(old)
                # The font table's entries name the fonts' new keys, by relationship id.
                entry_keys = {
                    rel.rel_id: new_keys[rel.target]
                    for rel in rels_docs.get(rels_part_of(old), (None, []))[1]
                    if rel.target in new_keys
                }
                output[name] = self._clean_xml(
                    data,
                    dropped_ids.get(old, set()),
                    renamed_ids.get(old, {}),
                    None if holder is None else renamed_ids.get(holder, {}),
                    bookmarks,
                    entry_keys,
                    vml=vml,
                )
            elif kind == "font" and old in new_keys:
                output[name] = rekeyed(data, font_keys_used[old], new_keys[old])
            elif kind == "font":
                # Embedded fonts are typefaces, not a record of who wrote the document.
                output[name] = data
            else:
                result = scrub_embedded(data, self.limits, check_only=self.check_only)
                output[name] = self.absorb(result)
        return output

    def _clean_xml(
        self,
        untrusted_xml: bytes,
        gone_ids: set[str],
        renamed_ids: dict[str, str],
        holder_renamed_ids: dict[str, str] | None,
        bookmarks: HiddenBookmarks,
        entry_keys: dict[str, str],
        *,
        vml: bool,
    ) -> bytes:
        """``renamed_ids``: the part's relationship ids, old -> new; ``holder_renamed_ids``:
        those of the part holding the diagram, for a SmartArt data part; ``bookmarks``: the
        package's hidden bookmark names; ``entry_keys``: the new keys of the fonts its
        relationships reach, by relationship id (old)."""
        if not untrusted_xml.strip():
            return untrusted_xml  # an empty part carries nothing (and Office tolerates it)
        if vml:
            untrusted_xml = vml_as_xml(untrusted_xml)
        doc = _xml.parse(untrusted_xml, self.limits)
        # A reference to no relationship goes (Office would repair it away): the element
        # with it too when it holds nothing else.
        dangling = dangling_references(doc.root, renamed_ids) - gone_ids
        if dangling:
            self.removed.add(DANGLING)
        neutralise_fields(doc.root, self.removed, self._add_link)
        remove_last_edit_bookmark(doc.root, self.removed)
        bookmarks.rename(doc.root)
        XmlCleaner(self.removed, gone_ids, dangling).clean_children(doc.root)
        defined = style_ids(doc.root)
        if defined is not None:
            self.styles |= defined
        # A styles part's own references (a style's parent, next and linked style) name its
        # own styles. A SpreadsheetML part has no value checked there (its cells' are its own).
        styles = self.styles if defined is None else defined
        checked = _xml.namespace(doc.root.tag) not in SML_NS
        self._clean_attributes(doc.root, None, gone_ids, styles if checked else None)
        rekey_entries(doc.root, entry_keys, self.removed)
        rename_references(doc.root, renamed_ids, self.removed)
        if holder_renamed_ids is not None:
            rename_diagram_drawing(doc.root, holder_renamed_ids, self.removed)
        keep_known_namespaces(doc, self.removed, unqualified_elements=vml)
        return _xml.serialize(doc)

    def _clean_attributes(
        self, element: Element, parent: Element | None, gone: set[str], styles: set[str] | None
    ) -> None:
        """``styles``: the style ids a reference may name; None: no value to check."""
        clean_element_attributes(element, parent, self.removed, gone)
        doomed: list[Element] = []
        for child in element:
            # Most elements of a story have no attribute (runs, paragraphs, texts, property
            # groups): not even asked.
            if styles is not None and child.attrib and check_values(child, styles, self.removed):
                doomed.append(child)
            else:
                self._clean_attributes(child, element, gone, styles)
        if doomed:
            pieces: list[Element | str | None] = [element.text]
            for child in list(element):
                if not any(child is gone_child for gone_child in doomed):
                    pieces.append(child)
                pieces.append(child.tail)
            _xml.splice(element, pieces)


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
        return state.cleaned(data)
