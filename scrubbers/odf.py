"""OpenDocument (.odt, .ods, .odp, .odg): remove every identifying part, field and trace.

- ``meta.xml`` (author, dates, editing time and cycles, generator, statistics, user fields)
  is replaced by an empty one, in the document and in every embedded object (``Object N/``);
- ``settings.xml`` keeps only the document's numeric and boolean configuration (layout
  compatibility switches); view settings, printer name and printer set-up blob, database
  sources, change-tracking protection key and every other string go;
- ``Thumbnails/``, ``Configurations2/``, ``ObjectReplacements/`` (preview pictures LibreOffice
  regenerates), ``layout-cache``, ``manifest.rdf``, signatures, macros (``Basic/``,
  ``Dialogs/``, ``Scripts/``, and the event bindings that call them) and members the manifest
  does not list are removed, and ``META-INF/manifest.xml`` is rewritten to match;
- in ``content.xml``/``styles.xml``: annotations (``office:annotation`` with ``dc:creator``
  and ``dc:date``) and their range ends, tracked changes (``text:tracked-changes`` holds the
  deleted text and the change authors: removed, which accepts deletions; insertions are
  already in the body and stay, their markers go), LibreOffice's revision-session ids
  (``officeooo:rsid``), stray Dublin Core fields, and local file paths in links; then every
  attribute and element the ODF schema does not define for ODF's elements, RDFa, and the
  ``xml:id`` values, renumbered with their references (_odf_schema.py);
- the manifest keeps its grammar and only known media types (_odf_manifest.py);
- embedded pictures (members or inline ``office:binary-data``) are cleaned recursively; one
  that cannot be cleaned makes the whole document "not cleaned".

`get_meta` runs the very same pass without keeping its result.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from dataclasses import dataclass

from scrubbers import _xml
from scrubbers._core import scrub_embedded
from scrubbers._odf_manifest import (
    MANIFEST,
    check_grammar,
    keep_known_media_types,
    listed_paths,
)
from scrubbers._odf_schema import UNKNOWN_XML, keep_specified, known_version, renumber_ids
from scrubbers._sniff import UNKNOWN, sniff
from scrubbers._types import Cleaned, Limits, PassRecord
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

OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
CONFIG = "urn:oasis:names:tc:opendocument:xmlns:config:1.0"
META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
DC = "http://purl.org/dc/elements/1.1/"
OFFICEOOO = "http://openoffice.org/2009/office"
XLINK = "http://www.w3.org/1999/xlink"
SCRIPT = "urn:oasis:names:tc:opendocument:xmlns:script:1.0"

DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
AUTHOR_FIELD = "odf:author-field"
EXTERNAL_FIELD = "odf:external-field"
EXTERNAL = "odf:external-target"
UNCLEANABLE = "odf:uncleanable-member"

MIMETYPE = "mimetype"
MANIFEST_PATH = "META-INF/manifest.xml"

_PATH_DROP = (
    (re.compile(r"(^|/)Thumbnails/"), "odf:Thumbnails"),
    (re.compile(r"(^|/)Configurations2/"), "odf:Configurations2"),
    (re.compile(r"(^|/)ObjectReplacements/"), "odf:ObjectReplacements"),
    (re.compile(r"(^|/)layout-cache$"), "odf:layout-cache"),
    (re.compile(r"(^|/)manifest\.rdf$"), "odf:rdf-metadata"),
    # Macros (Basic modules and dialogs, Python/JavaScript/BeanShell scripts): code is no
    # visible content, runs when the document opens, and carries the author's library names,
    # paths and whatever else they typed into it. The same as for OOXML (ooxml:macros).
    (re.compile(r"(^|/)(Basic|Dialogs|Scripts)/"), "odf:macros"),
    (
        re.compile(r"^META-INF/(documentsignatures|macrosignatures|packagesignatures)\.xml$"),
        "odf:signatures",
    ),
)
_DROP_ELEMENTS = {
    (OFFICE, "annotation"): "odf:annotation",
    (OFFICE, "annotation-end"): "odf:annotation",
    (TEXT, "tracked-changes"): "odf:tracked-changes",
    (TABLE, "tracked-changes"): "odf:tracked-changes",
    (TEXT, "change"): "odf:tracked-changes",
    (TEXT, "change-start"): "odf:tracked-changes",
    (TEXT, "change-end"): "odf:tracked-changes",
    (OFFICE, "change-info"): "odf:tracked-changes",
    # A binding of a document event to a macro (removed above); it names the macro library.
    (SCRIPT, "event-listener"): "odf:macros",
    # Fields LibreOffice fills from the user's profile (Tools > Options > User Data) and
    # from the document's creator: their text is the name itself.
    (TEXT, "initial-creator"): AUTHOR_FIELD,
    (TEXT, "creator"): AUTHOR_FIELD,
    # DDE links: the application and file a value is fetched from, again on each update.
    (OFFICE, "dde-source"): EXTERNAL_FIELD,
    (TEXT, "dde-connection-decls"): EXTERNAL_FIELD,
    (TEXT, "dde-connection-decl"): EXTERNAL_FIELD,
    (TEXT, "dde-connection"): EXTERNAL_FIELD,
    (TABLE, "dde-links"): EXTERNAL_FIELD,
    (TABLE, "dde-link"): EXTERNAL_FIELD,
}
# Elements whose xlink:href is a link the reader clicks (content, listed for the editors);
# on every other element an xlink:href is something loaded by itself (a picture, an object,
# a linked section or table): kept only when it points inside the package.
_HYPERLINK_ELEMENTS = {(TEXT, "a"), (DRAW, "a"), (OFFICE, "a")}
_INTERNAL_HREF = re.compile(r"^(?:\./)?(?!\.\./)[^:/\\][^:\\]*$|^#")
# Namespaces kept in content and styles: ODF's own, the W3C ones it uses (XLink, SVG,
# MathML, XForms, XHTML, DOM events), OpenOffice/LibreOffice extensions, Dublin Core.
_KNOWN_NS_PREFIXES = (
    "urn:oasis:names:tc:opendocument:",
    "http://www.w3.org/",
    "http://openoffice.org/",
    "urn:openoffice:names:experimental:",
    "urn:org:documentfoundation:names:experimental:",
    "http://purl.org/dc/",
    "http://docs.oasis-open.org/ns/office/",
)
_NUMERIC_TYPES = {"boolean", "short", "int", "long", "double"}
# String settings that change how the document is laid out, with a fixed set of values.
_KEPT_STRING_SETTINGS = {"PrinterIndependentLayout"}
_LOCAL_PATH = re.compile(r"^\s*(?:file:|[A-Za-z]:[\\/]|\\\\|/|\.\.[\\/])", re.I)
_FONT = re.compile(r"\.(ttf|otf|woff2?|fntdata|odttf)$", re.I)


@dataclass
class _Pass(PassRecord):
    package: Package
    limits: Limits
    check_only: bool

    def run(self) -> dict[str, bytes]:
        members = self.package.members
        self.removed.update(self.package.traces)
        if MIMETYPE not in members or MANIFEST_PATH not in members:
            raise CorruptFileError("ODF package without mimetype or manifest")
        manifest = _xml.parse(members[MANIFEST_PATH], self.limits)
        listed = listed_paths(manifest)

        # The media type alone: the sniffer reads only the member's first bytes, and
        # anything after them would be free text nobody reads.
        mimetype = (members[MIMETYPE].split() or [b""])[0]
        if not mimetype.startswith(b"application/vnd.oasis.opendocument.") or len(mimetype) > 100:
            raise CorruptFileError("bad ODF mimetype")
        if mimetype != members[MIMETYPE]:
            self.removed.add(UNKNOWN_XML)
        output: dict[str, bytes] = {MIMETYPE: mimetype}
        for name, data in members.items():
            if name in (MIMETYPE, MANIFEST_PATH):
                continue
            reason = next((r for pattern, r in _PATH_DROP if pattern.search(name)), None)
            if reason is None and name not in listed:
                # ODF readers ignore (LibreOffice even refuses) members the manifest does not
                # list: nobody would ever see what they carry.
                reason = "odf:unlisted-member"
            if reason is not None:
                self.removed.add(reason)
                continue
            cleaned = self._clean_member(name, data)
            if cleaned is not None:
                output[name] = cleaned

        # The manifest lists exactly what is left (plus the root and kept directories).
        def kept(entry: Element) -> bool:
            path = entry.get(f"{{{MANIFEST}}}full-path", "")
            if path == "/" or path in output:
                return True
            return path.endswith("/") and any(n.startswith(path) for n in output if n != path)

        manifest.root[:] = [
            entry
            for entry in manifest.root
            if _xml.local_name(entry.tag) != "file-entry" or kept(entry)
        ]
        check_grammar(manifest, self.removed)
        keep_known_media_types(manifest, output, mimetype.decode("latin-1"), self.removed)
        output[MANIFEST_PATH] = _xml.serialize(manifest)
        return output

    def _clean_member(self, name: str, data: bytes) -> bytes | None:
        """The member cleaned, or None when it is taken out (handed back on its own)."""
        # The member's type comes from its bytes, not its name or the manifest's media type.
        base = posixpath.basename(name)
        if not data.strip() or looks_like_xml(data):
            if not data.strip():
                return data
            doc = _xml.parse(data, self.limits)
            if base == "meta.xml":
                _empty_meta(doc, self.removed)
            elif base == "settings.xml":
                _filter_settings(doc, self.removed)
            else:
                self._clean_attributes(doc.root)
                self._clean_tree(doc.root)
                _keep_known_namespaces(doc, self.removed)
                keep_specified(doc.root, self.removed)
                renumber_ids(doc.root, self.removed)
            return _xml.serialize(doc)
        if sniff(data) == UNKNOWN:
            if is_font(name, data):
                return data  # typefaces, not a record of who wrote the document
            if _FONT.search(name):
                raise UnsupportedTypeError("a member named as a font is not a font")
            if name.endswith((".xml", ".rdf")):
                raise CorruptFileError("a member named as XML is not XML")
            # An OLE object or a medium no scrubber reads: handed back as received, marked
            # not cleaned; the document around it is cleaned (LibreOffice shows an empty
            # frame where it was).
            self.removed.add(UNCLEANABLE)
            self.warnings.add("embedded-not-cleaned")
            if not self.check_only:
                self.attachments.append(not_cleaned(name, data, UnsupportedTypeError.reason))
            return None
        return self.absorb(scrub_embedded(data, self.limits, check_only=self.check_only))

    def _clean_tree(self, parent: Element) -> None:
        pieces: list[Element | str | None] = [parent.text]
        for child in list(parent):
            tail = child.tail
            key = (_xml.namespace(child.tag), _xml.local_name(child.tag))
            reason = _DROP_ELEMENTS.get(key)
            if reason is None and key[0] == TEXT and key[1].startswith(("author-", "sender-")):
                reason = AUTHOR_FIELD
            if reason is None and key[0] in (DC, META):
                reason = "odf:author"  # Dublin Core/meta fields belong in meta.xml only
            if reason is not None:
                self.removed.add(reason)
                pieces.append(tail)
                continue
            self._clean_attributes(child)
            self._clean_href(child, key)
            if key == (OFFICE, "binary-data"):
                self._clean_binary_data(child)
            else:
                self._clean_tree(child)
            pieces.append(child)
            pieces.append(tail)
        _xml.splice(parent, pieces)

    def _clean_attributes(self, element: Element) -> None:
        for name in list(element.attrib):
            ns, local = _xml.namespace(name), _xml.local_name(name)
            if ns == OFFICEOOO and local in ("rsid", "paragraph-rsid"):
                del element.attrib[name]
                self.removed.add("odf:rsid")
            elif ns == XLINK and local == "href" and _LOCAL_PATH.match(element.attrib[name]):
                # A link to a file on the author's disk names their folders (often the user).
                element.attrib[name] = ""
                self.removed.add("odf:local-path")

    def _clean_href(self, element: Element, key: tuple[str, str]) -> None:
        name = f"{{{XLINK}}}href"
        target = element.get(name)
        if target is None or target == "":
            return
        if key in _HYPERLINK_ELEMENTS:
            self._add_link(target)  # a clickable link is content (local paths went above)
        elif not _INTERNAL_HREF.match(target):
            # A picture, object or linked section loaded from a server or a disk when the
            # document is opened: a beacon, or the author's folders.
            del element.attrib[name]
            self.removed.add(EXTERNAL)

    def _clean_binary_data(self, element: Element) -> None:
        text = "".join(element.itertext())
        try:
            untrusted_data = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CorruptFileError("bad inline binary data") from exc
        cleaned = self.absorb(
            scrub_embedded(untrusted_data, self.limits, check_only=self.check_only)
        )
        element[:] = []
        element.text = base64.b64encode(cleaned).decode("ascii")


def _keep_known_namespaces(doc: _xml.XmlDoc, removed: set[str]) -> None:
    """Elements and attributes of namespaces outside the allowlist go, with their
    declarations (a namespace URI is free text as well)."""

    def known(uri: str) -> bool:
        return uri.startswith(_KNOWN_NS_PREFIXES)

    if not known(_xml.namespace(doc.root.tag)):
        raise UnsupportedTypeError("an ODF member of an unknown kind")

    def strip_attributes(element: Element) -> None:
        for name in list(element.attrib):
            uri = _xml.namespace(name)
            if uri and not known(uri):
                del element.attrib[name]
                removed.add(UNKNOWN_XML)

    def walk(parent: Element) -> None:
        pieces: list[Element | str | None] = [parent.text]
        changed = False
        for child in list(parent):
            if not known(_xml.namespace(child.tag)):
                removed.add(UNKNOWN_XML)
                pieces.append(child.tail)
                changed = True
                continue
            strip_attributes(child)
            walk(child)
            pieces.extend((child, child.tail))
        if changed:
            _xml.splice(parent, pieces)

    strip_attributes(doc.root)
    walk(doc.root)
    kept = [(p, uri) for p, uri in doc.namespaces if known(uri) or uri == ""]
    if len(kept) != len(doc.namespaces):
        removed.add(UNKNOWN_XML)
    doc.namespaces = kept


def _empty_meta(doc: _xml.XmlDoc, removed: set[str]) -> None:
    root = doc.root
    if root.tag != f"{{{OFFICE}}}document-meta":
        raise CorruptFileError("bad ODF meta.xml")
    version = known_version(root.get(f"{{{OFFICE}}}version"), removed)
    has_fields = (
        len(root) != 1
        or root[0].tag != f"{{{OFFICE}}}meta"
        or len(root[0]) != 0
        or bool((root[0].text or "").strip())
        or set(root.attrib) - {f"{{{OFFICE}}}version"}
    )
    if has_fields:
        removed.add("odf:meta.xml")
    root.attrib.clear()
    if version is not None:
        root.set(f"{{{OFFICE}}}version", version)
    root[:] = [Element(f"{{{OFFICE}}}meta")]
    root.text = None
    doc.namespaces = [("office", OFFICE)]


def _filter_settings(doc: _xml.XmlDoc, removed: set[str]) -> None:
    root = doc.root
    if root.tag != f"{{{OFFICE}}}document-settings":
        raise CorruptFileError("bad ODF settings.xml")
    dropped = False
    for settings in root:
        if settings.tag != f"{{{OFFICE}}}settings":
            dropped = True
            continue
        kept_sets: list[Element] = []
        for item_set in settings:
            if (
                item_set.tag != f"{{{CONFIG}}}config-item-set"
                or item_set.get(f"{{{CONFIG}}}name") != "ooo:configuration-settings"
            ):
                dropped = True  # view settings, script and database configuration
                continue
            kept_items: list[Element] = []
            for item in item_set:
                kind = item.get(f"{{{CONFIG}}}type")
                name = item.get(f"{{{CONFIG}}}name")
                if item.tag == f"{{{CONFIG}}}config-item" and (
                    kind in _NUMERIC_TYPES or (kind == "string" and name in _KEPT_STRING_SETTINGS)
                ):
                    item.tail = None
                    kept_items.append(item)
                else:
                    dropped = True  # printer name and set-up, data sources, keys, paths
            item_set[:] = kept_items
            item_set.text = None
            item_set.tail = None
            kept_sets.append(item_set)
        settings[:] = kept_sets
        settings.text = None
        settings.tail = None
    root[:] = [child for child in root if child.tag == f"{{{OFFICE}}}settings"]
    root.text = None
    if dropped:
        removed.add("odf:settings.xml")


class OdfScrubber:
    file_types = ("odt", "ods", "odp", "odg")

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        state = _Pass(read_package(untrusted_data, limits), limits, check_only=True)
        state.run()
        return sorted(state.removed)

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        state = _Pass(read_package(untrusted_data, limits), limits, check_only=False)
        output = state.run()
        check_attachment_budget(state.attachments, limits)
        # The ODF rule: "mimetype" first and stored, so that the type can be read at a fixed
        # offset; the manifest next.
        data = write_package(output, first=(MIMETYPE, MANIFEST_PATH), stored=(MIMETYPE,))
        return state.cleaned(data)
