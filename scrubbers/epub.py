"""EPUB (2 and 3): the package rebuilt from an allowlist; every identifying field removed.

An EPUB is a zip whose first member is ``mimetype`` (stored, ``application/epub+zip``), with
``META-INF/container.xml`` naming the OPF package document, which lists (manifest) and orders
(spine) the content documents, styles, images and fonts. What is kept and what goes:

- ``META-INF/container.xml``: rebuilt with its first OPF rootfile only (checked to be a
  member). Every other ``META-INF/`` file goes (signatures, rights, Calibre's bookmarks,
  Apple's display options, ...); ``encryption.xml`` means the book is encrypted: unsupported.
- OPF ``<metadata>``: rebuilt with the title(s) and language(s) only; the one identifier the
  package points at (``unique-identifier``) is kept with a fresh random ``urn:uuid:`` (a
  per-recipient id names who got the book); EPUB 3's ``dcterms:modified`` is set to
  2000-01-01; a ``cover`` meta is kept when it names a manifest item. Creators,
  contributors, dates, publisher, rights, source, description, subjects, Calibre's and any
  other ``<meta>`` go. Manifest, spine and guide stay (structure), without items outside
  the package (``href`` with a scheme) or missing from it; members the manifest does not
  list go (no reader shows them).
- NCX: ``<head>`` rebuilt with ``dtb:uid`` (the same new id); ``docAuthor`` goes; the title
  and the navigation (internal targets only) stay.
- XHTML content and navigation documents: rebuilt from an allowlist of elements and
  attributes (text, headings, lists, tables, links, images and SVG covers with internal
  sources, ``epub:type``): comments, processing instructions, scripts, ``<meta>`` (but the
  charset), ``<link>`` other than an internal stylesheet, event attributes, styles loading
  from elsewhere and every external resource go. A clickable ``http(s):``/``mailto:`` link is
  content: kept, listed for the editors ("hyperlinks"). The standard XHTML/NCX public
  doctypes are dropped before parsing; any other DTD is refused (`scrubbers._xml`).
- CSS: comments and ``@import`` removed, ``url()`` kept only to a member of the package.
- Images, SVG and fonts: cleaned by their own scrubber (the type read from the bytes, never
  from the manifest's media type or the extension); fonts kept as they are. A member that
  cannot be cleaned makes the whole book "not cleaned".

The output: ``mimetype`` first and stored, everything else deflated, fixed dates, no extra
fields (`scrubbers._zip`). Removed things are reported by name from a closed vocabulary.
"""

from __future__ import annotations

import posixpath
import re
import uuid
from dataclasses import dataclass, field

from scrubbers import _xml
from scrubbers._core import scrub_embedded
from scrubbers._epub_content import NCX_NS, XHTML_NS, ContentCleaner, strip_doctype
from scrubbers._epub_xml import (
    REFERENCE_SUFFIX,
    UNKNOWN_XML,
    UUID_URN,
    XML_NS,
    bare_reference,
    indent,
    keep_used_namespaces,
    resolve,
    sub,
)
from scrubbers._sniff import TEXT, UNKNOWN, sniff
from scrubbers._sniff_text import SVG_NS
from scrubbers._types import Cleaned, Limits, PassRecord
from scrubbers._xml import Element, XmlDoc
from scrubbers._zip import (
    Package,
    check_attachment_budget,
    is_font,
    looks_like_xml,
    read_package,
    write_package,
)
from scrubbers.errors import CorruptFileError, UnsupportedTypeError

MIMETYPE = "mimetype"
EPUB_MEDIA_TYPE = b"application/epub+zip"
CONTAINER_PATH = "META-INF/container.xml"
CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
OPF_NS = "http://www.idpf.org/2007/opf"
DC_NS = "http://purl.org/dc/elements/1.1/"
OPF_MEDIA_TYPE = "application/oebps-package+xml"
MODIFIED = "2000-01-01T00:00:00Z"
UNKNOWN_MEMBER = "epub:unknown-member"

# META-INF files named in the report (anything else there is "epub:unknown-member").
_META_INF_NAMES = frozenset(
    {
        "signatures.xml",
        "rights.xml",
        "metadata.xml",
        "manifest.xml",
        "calibre_bookmarks.txt",
        "com.apple.ibooks.display-options.xml",
    }
)
_DC_NAMES = frozenset(
    {
        "creator", "contributor", "date", "publisher", "rights", "source", "description",
        "subject", "coverage", "relation", "type", "format", "identifier", "title", "language",
    }
)  # fmt: skip
# <meta> names/properties named in the report (anything else is "epub:meta").
_META_NAMES = frozenset(
    {
        "calibre:timestamp", "calibre:title_sort", "calibre:author_link_map", "calibre:series",
        "calibre:series_index", "calibre:rating", "calibre:user_metadata",
        "calibre:user_categories", "dcterms:modified", "dcterms:created", "dcterms:creator",
        "dcterms:dateCopyrighted", "belongs-to-collection", "collection-type", "file-as",
        "role", "display-seq", "title-type", "identifier-type", "marc:relators", "generator",
        "rendition:layout", "rendition:spread", "rendition:orientation", "media:duration",
        "cover", "Sigil version",
    }
)  # fmt: skip


def _new_identifier() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


# The values EPUB 3.3 defines for manifest item and spine itemref properties (the
# rendition: ones from the Fixed Layout vocabulary), and for itemref linear.
_ITEM_PROPERTIES = frozenset(
    {"cover-image", "mathml", "nav", "remote-resources", "scripted", "svg", "switch"}
)
_ITEMREF_PROPERTIES = frozenset(
    {"page-spread-left", "page-spread-right"}
    | {
        f"rendition:{name}"
        for name in (
            "page-spread-center", "page-spread-left", "page-spread-right",
            "layout-pre-paginated", "layout-reflowable", "orientation-auto",
            "orientation-landscape", "orientation-portrait", "spread-auto", "spread-both",
            "spread-landscape", "spread-none", "spread-portrait", "flow-auto",
            "flow-paginated", "flow-scrolled-continuous", "flow-scrolled-doc",
            "align-x-center",
        )
    }
)  # fmt: skip
_LINEAR = frozenset({"yes", "no"})
# OPF 2 guide types ("cover", "toc", "text", ...; "other." extensions): short words.
_GUIDE_TYPE = re.compile(r"(?:other\.)?[a-z][a-z-]{0,30}")


@dataclass
class _Pass(PassRecord):
    package: Package
    limits: Limits
    check_only: bool
    identifier: str = field(default_factory=_new_identifier)
    content: ContentCleaner = field(init=False)

    def __post_init__(self) -> None:
        self.content = ContentCleaner(
            self.package.members, self.identifier, self.removed, self._add_link
        )

    def run(self) -> dict[str, bytes]:
        members = self.package.members
        self.removed.update(self.package.traces)
        if members.get(MIMETYPE, b"").strip() != EPUB_MEDIA_TYPE:
            raise CorruptFileError("EPUB without its mimetype")
        if members[MIMETYPE] != EPUB_MEDIA_TYPE:
            self.removed.add(UNKNOWN_MEMBER)
        if "META-INF/encryption.xml" in members:
            raise UnsupportedTypeError("encrypted EPUB")
        if CONTAINER_PATH not in members:
            raise CorruptFileError("EPUB without container.xml")
        opf_path = self._container(members[CONTAINER_PATH])
        output: dict[str, bytes] = {MIMETYPE: EPUB_MEDIA_TYPE}
        output[CONTAINER_PATH] = _container_xml(opf_path)
        opf = _xml.parse(members[opf_path], self.limits)
        if opf.root.tag != f"{{{OPF_NS}}}package":
            raise CorruptFileError("EPUB package document of an unknown kind")
        opf_dir = posixpath.dirname(opf_path)
        items = self._manifest_items(opf, opf_dir)
        listed = {path for path, _ in items.values()}
        for name in members:
            if name in (MIMETYPE, CONTAINER_PATH, opf_path):
                continue
            if name.startswith("META-INF/"):
                base = name[len("META-INF/") :]
                self.removed.add(
                    f"epub:META-INF/{base}" if base in _META_INF_NAMES else UNKNOWN_MEMBER
                )
                continue
            if name not in listed:
                self.removed.add(UNKNOWN_MEMBER)
                continue
            cleaned = self._clean_member(name, members[name])
            if cleaned is not None:
                output[name] = cleaned
        output[opf_path] = self._package_document(opf, opf_dir, items, output)
        return output

    # --- container and package document ------------------------------------------------

    def _vocabulary(self, attrib: dict[str, str], key: str, allowed: frozenset[str] | None) -> None:
        """Keep only the tokens of `attrib[key]` that its vocabulary defines (EPUB 3.3
        §5.4/§5.5; `None`: a guide type, short lowercase words): any other token is free
        text a writer could fill."""
        value = attrib.get(key)
        if value is None:
            return
        tokens = value.split()
        kept = [
            t for t in tokens if (t in allowed if allowed is not None else _GUIDE_TYPE.fullmatch(t))
        ]
        if len(kept) != len(tokens):
            self.removed.add(f"epub:{key}:unknown-token")
        if kept:
            attrib[key] = " ".join(kept)
        else:
            del attrib[key]

    def _container(self, data: bytes) -> str:
        doc = _xml.parse(data, self.limits)
        for element in doc.root.iter(f"{{{CONTAINER_NS}}}rootfile"):
            path = element.get("full-path", "")
            if element.get("media-type", OPF_MEDIA_TYPE) != OPF_MEDIA_TYPE:
                continue
            if path not in self.package.members or path.startswith("META-INF/"):
                raise CorruptFileError("EPUB rootfile is not a member")
            return path
        raise CorruptFileError("EPUB without a package document")

    def _manifest_items(self, opf: XmlDoc, opf_dir: str) -> dict[str, tuple[str, Element]]:
        """Manifest id -> (member path, item), for the items inside the package."""
        items: dict[str, tuple[str, Element]] = {}
        manifest = opf.root.find(f"{{{OPF_NS}}}manifest")
        if manifest is None:
            raise CorruptFileError("EPUB without a manifest")
        for item in manifest.iter(f"{{{OPF_NS}}}item"):
            path = resolve(opf_dir, item.get("href", ""))
            item_id = item.get("id", "")
            if path is None or not item_id or path not in self.package.members:
                self.removed.add("epub:manifest:external-item")
                continue
            items[item_id] = (path, item)
        return items

    def _package_document(
        self,
        opf: XmlDoc,
        opf_dir: str,
        items: dict[str, tuple[str, Element]],
        output: dict[str, bytes],
    ) -> bytes:
        root = opf.root
        version = root.get("version", "2.0")
        unique = root.get("unique-identifier") or "uid"
        kept_items = {i: v for i, v in items.items() if v[0] in output}
        old_metadata = root.find(f"{{{OPF_NS}}}metadata")
        metadata = Element(f"{{{OPF_NS}}}metadata")
        self._metadata(old_metadata, metadata, unique, version, kept_items)
        for name in list(root.attrib):
            if name not in ("version", "unique-identifier", f"{{{XML_NS}}}lang", "dir"):
                del root.attrib[name]
                self.removed.add("epub:package-attribute")
        root.set("unique-identifier", unique)
        root.set("version", version)
        new_root: list[Element] = [metadata]
        manifest = Element(f"{{{OPF_NS}}}manifest")
        for item_id, (_, item) in kept_items.items():
            attrib = {
                k: v
                for k, v in item.attrib.items()
                if k in ("href", "media-type", "properties", "fallback", "media-overlay")
            }
            attrib["id"] = item_id
            # A manifest href takes no fragment (EPUB 3.3 §5.6.2.1), a member of a zip no
            # query; media-type parameters are free text no reading system needs.
            href = attrib.get("href", "")
            if bare_reference(href, keep_fragment=False) != href:
                attrib["href"] = bare_reference(href, keep_fragment=False)
                self.removed.add(REFERENCE_SUFFIX)
            media_type = attrib.get("media-type", "")
            if ";" in media_type:
                attrib["media-type"] = media_type.split(";", 1)[0].strip()
                self.removed.add("epub:manifest:media-type-parameters")
            self._vocabulary(attrib, "properties", _ITEM_PROPERTIES)
            if attrib.get("fallback") not in kept_items:
                attrib.pop("fallback", None)
            if attrib.get("media-overlay") not in kept_items:
                attrib.pop("media-overlay", None)
            sub(manifest, f"{{{OPF_NS}}}item", attrib)
        new_root.append(manifest)
        spine_old = root.find(f"{{{OPF_NS}}}spine")
        spine = Element(f"{{{OPF_NS}}}spine")
        if spine_old is not None:
            for key in ("toc", "page-progression-direction"):
                value = spine_old.get(key)
                if value is not None and (key != "toc" or value in kept_items):
                    spine.set(key, value)
            for ref in spine_old.iter(f"{{{OPF_NS}}}itemref"):
                idref = ref.get("idref", "")
                if idref in kept_items:
                    attrib = {"idref": idref}
                    for key in ("linear", "properties"):
                        if key in ref.attrib:
                            attrib[key] = ref.attrib[key]
                    self._vocabulary(attrib, "properties", _ITEMREF_PROPERTIES)
                    self._vocabulary(attrib, "linear", _LINEAR)
                    sub(spine, f"{{{OPF_NS}}}itemref", attrib)
        new_root.append(spine)
        guide_old = root.find(f"{{{OPF_NS}}}guide")
        if guide_old is not None:
            guide = Element(f"{{{OPF_NS}}}guide")
            for ref in guide_old.iter(f"{{{OPF_NS}}}reference"):
                href = ref.get("href", "")
                if resolve(opf_dir, href) in output:
                    attrib = {"href": bare_reference(href, keep_fragment=True)}
                    if attrib["href"] != href:
                        self.removed.add(REFERENCE_SUFFIX)
                    if "type" in ref.attrib:
                        attrib["type"] = ref.attrib["type"]
                        self._vocabulary(attrib, "type", None)
                    if "title" in ref.attrib:
                        # Free text no reader needs (the type says what the page is).
                        self.removed.add("epub:guide:title")
                    sub(guide, f"{{{OPF_NS}}}reference", attrib)
            if len(guide):
                new_root.append(guide)
        known = {f"{{{OPF_NS}}}{n}" for n in ("metadata", "manifest", "spine", "guide")}
        if any(child.tag not in known for child in root):
            self.removed.add(UNKNOWN_XML)  # bindings, collections, tours: not shown
        if opf.comments or opf.instructions:
            self.removed.add("epub:opf:comment")
        root[:] = new_root
        root.text = None
        indent(root)
        keep_used_namespaces(opf, {OPF_NS, DC_NS, XML_NS})
        return _xml.serialize(opf)

    def _metadata(
        self,
        old: Element | None,
        new: Element,
        unique: str,
        version: str,
        items: dict[str, tuple[str, Element]],
    ) -> None:
        has_identifier = False
        modified_ok = False
        children: list[Element] = []
        for child in old if old is not None else ():
            # OEB 1.x / early EPUB 2 wrap the fields in <dc-metadata> and <x-metadata>.
            if _xml.local_name(child.tag) in ("dc-metadata", "x-metadata"):
                self.removed.add("epub:metadata-wrapper")
                children.extend(child)
            else:
                children.append(child)
        for child in children:
            ns, local = _xml.namespace(child.tag), _xml.local_name(child.tag)
            text = "".join(child.itertext()).strip()
            if ns == DC_NS and local in ("title", "language") and text:
                kept = sub(new, child.tag)
                kept.text = text
                if local == "title" and child.get("id"):
                    kept.set("id", child.get("id", ""))
                if any(k != "id" for k in child.attrib):
                    self.removed.add(f"epub:dc:{local}-attribute")
                continue
            if ns == DC_NS and local == "identifier" and child.get("id") == unique:
                if has_identifier:
                    continue
                has_identifier = True
                if not UUID_URN.match(text) or len(child.attrib) > 1:
                    self.removed.add("epub:dc:identifier")
                continue
            if ns in (OPF_NS, "") and local == "meta":
                name = child.get("property") or child.get("name") or ""
                if name == "dcterms:modified" and text == MODIFIED and len(child.attrib) == 1:
                    modified_ok = True
                    continue
                if name == "cover" and child.get("content", "") in items:
                    if set(child.attrib) != {"name", "content"}:
                        self.removed.add("epub:meta:cover")
                    sub(
                        new,
                        f"{{{OPF_NS}}}meta",
                        {"name": "cover", "content": child.get("content", "")},
                    )
                    continue
                self.removed.add(f"epub:meta:{name}" if name in _META_NAMES else "epub:meta")
                continue
            if ns == DC_NS:
                self.removed.add(f"epub:dc:{local}" if local in _DC_NAMES else "epub:dc")
            else:
                self.removed.add(UNKNOWN_XML)
        if old is not None and any(k for k in old.attrib):
            self.removed.add("epub:metadata-attribute")
        if not has_identifier:
            self.removed.add("epub:dc:identifier")
        identifier = Element(f"{{{DC_NS}}}identifier", {"id": unique})
        identifier.text = self.identifier
        new.insert(0, identifier)
        if version.startswith("3"):
            if not modified_ok:
                self.removed.add("epub:meta:dcterms:modified")
            modified = sub(new, f"{{{OPF_NS}}}meta", {"property": "dcterms:modified"})
            modified.text = MODIFIED

    # --- members -----------------------------------------------------------------------

    def _clean_member(self, name: str, data: bytes) -> bytes | None:
        """The member cleaned, or None when it is removed."""
        if not data.strip():
            return data
        if looks_like_xml(data):
            doc = _xml.parse(strip_doctype(data), self.limits)
            root = doc.root.tag
            if root == f"{{{XHTML_NS}}}html":
                return self.content.xhtml(doc, posixpath.dirname(name))
            if root == f"{{{NCX_NS}}}ncx":
                return self.content.ncx(doc)
            if root == f"{{{SVG_NS}}}svg":
                return self._embedded(data)
            if _xml.local_name(root) == "html":
                # A content document outside the XHTML namespace: removing it would lose
                # text, keeping it would keep what we cannot read as XHTML.
                raise UnsupportedTypeError("an EPUB content document of an unknown kind")
            self.removed.add(UNKNOWN_MEMBER)  # SMIL overlays, page templates: not content
            return None
        kind = sniff(data)
        # Any text member is read as a stylesheet, whatever its name (a <link> may load a
        # "notes.txt" as CSS): its @import and url() go the same way.
        if kind == TEXT or (kind == UNKNOWN and name.lower().endswith(".css")):
            return self.content.css(data, posixpath.dirname(name))
        if kind == UNKNOWN:
            if is_font(name, data):
                return data  # typefaces, not a record of who made the book
            raise UnsupportedTypeError("an EPUB member no scrubber reads")
        return self._embedded(data)

    def _embedded(self, data: bytes) -> bytes:
        return self.absorb(scrub_embedded(data, self.limits, check_only=self.check_only))


def _container_xml(opf_path: str) -> bytes:
    root = Element(f"{{{CONTAINER_NS}}}container", {"version": "1.0"})
    rootfiles = sub(root, f"{{{CONTAINER_NS}}}rootfiles")
    sub(
        rootfiles,
        f"{{{CONTAINER_NS}}}rootfile",
        {"full-path": opf_path, "media-type": OPF_MEDIA_TYPE},
    )
    indent(root)
    return _xml.serialize(XmlDoc(root, [("", CONTAINER_NS)]))


class EpubScrubber:
    file_types = ("epub",)

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        state = _Pass(read_package(untrusted_data, limits), limits, check_only=True)
        state.run()
        return sorted(state.removed)

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        state = _Pass(read_package(untrusted_data, limits), limits, check_only=False)
        output = state.run()
        check_attachment_budget(state.attachments, limits)
        # The EPUB rule (OCF): "mimetype" first, stored, no extra field; then the container.
        data = write_package(output, first=(MIMETYPE, CONTAINER_PATH), stored=(MIMETYPE,))
        return state.cleaned(data)
