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
import urllib.parse
import uuid
from dataclasses import dataclass, field

from scrubbers import _xml
from scrubbers._sniff import SVG_NS, TEXT, UNKNOWN, sniff
from scrubbers._types import Cleaned, Limits, PassRecord
from scrubbers._xml import Element, XmlDoc
from scrubbers._zip import (
    Package,
    check_attachment_budget,
    is_font,
    looks_like_xml,
    read_package,
    scrub_embedded,
    write_package,
)
from scrubbers.errors import CorruptFileError, UnsupportedTypeError

MIMETYPE = "mimetype"
EPUB_MEDIA_TYPE = b"application/epub+zip"
CONTAINER_PATH = "META-INF/container.xml"
CONTAINER_NS = "urn:oasis:names:tc:opendocument:xmlns:container"
OPF_NS = "http://www.idpf.org/2007/opf"
DC_NS = "http://purl.org/dc/elements/1.1/"
NCX_NS = "http://www.daisy.org/z3986/2005/ncx/"
XHTML_NS = "http://www.w3.org/1999/xhtml"
OPS_NS = "http://www.idpf.org/2007/ops"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = _xml.XML_NS
OPF_MEDIA_TYPE = "application/oebps-package+xml"
MODIFIED = "2000-01-01T00:00:00Z"
UNKNOWN_MEMBER = "epub:unknown-member"
UNKNOWN_XML = "epub:unknown-xml"

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
_NCX_NAMES = frozenset(
    {"dtb:uid", "dtb:depth", "dtb:generator", "dtb:totalPageCount", "dtb:maxPageNumber"}
)
# The only doctypes dropped before parsing: the standard public ones (an external DTD named,
# no internal subset). Anything else reaches `_xml.parse`, which refuses every DTD.
_Q = r"""["']"""
_STANDARD_DOCTYPE = re.compile(
    r"<!DOCTYPE\s+(?:html|ncx)"
    r"(?:\s+PUBLIC\s+" + _Q + r"(?:-//W3C//DTD XHTML 1\.1//EN|-//W3C//DTD XHTML 1\.0 "
    r"(?:Strict|Transitional|Frameset)//EN|-//NISO//DTD ncx 2005-1//EN|"
    r"-//W3C//DTD XHTML 1\.1 plus MathML 2\.0 plus SVG 1\.1//EN)" + _Q + r"\s+"
    r"" + _Q + r"http://www\.(?:w3\.org/TR/xhtml(?:11|1)/DTD/xhtml(?:11|1-strict|"
    r"1-transitional|1-frameset)\.dtd|w3\.org/Math/DTD/mathml2/xhtml-math11-f\.dtd|"
    r"daisy\.org/z3986/2005/ncx-2005-1\.dtd)" + _Q + r")?\s*>",
)
_XML_DECL = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>)?\s*")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_LINK_SCHEMES = ("http:", "https:", "mailto:")
_UUID_URN = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z"
)

# --- XHTML allowlist -----------------------------------------------------------------------

_GLOBAL_ATTRIBUTES = frozenset({"id", "class", "title", "lang", "dir", "style"})
_TEXT_ELEMENTS = (
    "body", "head", "title", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "div",
    "span", "blockquote", "pre", "code", "em", "strong", "b", "i", "u", "s", "sub", "sup",
    "small", "big", "mark", "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody",
    "tfoot", "tr", "caption", "article", "section", "header", "footer", "main", "nav",
    "aside", "figure", "figcaption", "abbr", "q", "cite", "del", "ins", "tt", "var", "kbd",
    "samp", "dfn", "bdi", "bdo", "ruby", "rt", "rp", "wbr", "center", "address", "hgroup",
)  # fmt: skip
_XHTML_ALLOWED: dict[str, frozenset[str]] = {
    **{tag: frozenset() for tag in _TEXT_ELEMENTS},
    "html": frozenset(),
    "a": frozenset({"href"}),
    "img": frozenset({"src", "alt", "width", "height"}),
    "td": frozenset({"colspan", "rowspan", "align", "valign"}),
    "th": frozenset({"colspan", "rowspan", "align", "valign", "scope"}),
    "col": frozenset({"span", "width"}),
    "colgroup": frozenset({"span", "width"}),
    "ol": frozenset({"start", "type", "reversed"}),
    "li": frozenset({"value"}),
    "link": frozenset({"rel", "href", "type"}),
    "meta": frozenset({"charset"}),
    "style": frozenset({"type"}),
}
_SVG_ALLOWED: dict[str, frozenset[str]] = {
    "svg": frozenset({"width", "height", "viewBox", "preserveAspectRatio", "version"}),
    "image": frozenset({"width", "height", "x", "y", "preserveAspectRatio", "href"}),
    "g": frozenset(),
    "title": frozenset(),
}
# Removed with their content (not unwrapped): code, things that load or embed, forms.
_DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "noscript", "template", "object", "embed", "iframe", "frame", "frameset",
        "applet", "form", "input", "button", "select", "textarea", "audio", "video",
        "source", "track", "canvas", "base", "map", "area", "param", "math", "picture",
    }
)  # fmt: skip
_KNOWN_NAMESPACES = frozenset({XHTML_NS, OPS_NS, SVG_NS, XLINK_NS, XML_NS})

# --- CSS -----------------------------------------------------------------------------------

_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.S)
_CSS_IMPORT = re.compile(r"@import\b[^;{}]*;?", re.I)
_CSS_URL = re.compile(r"url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\"'\s]*))\s*\)", re.I)
_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6}\s?|.)", re.S)
_CSS_LOADERS = re.compile(r"(?:image-set|image|cross-fade|element|src)\s*\(", re.I)


def _unescape_css(css: str) -> str:
    def one(match: re.Match[str]) -> str:
        text = match.group(1)
        if text[0] in "0123456789abcdefABCDEF":
            try:
                return chr(int(text.strip(), 16))
            except (ValueError, OverflowError):
                return "\ufffd"
        return text

    return _CSS_ESCAPE.sub(one, css)


def _new_identifier() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _is_internal(target: str) -> bool:
    """A relative reference inside the package (no scheme, no absolute path, no host)."""
    target = target.strip()
    if not target or _SCHEME.match(target) or target.startswith(("/", "\\")):
        return False
    return "\\" not in target


def _resolve(base_dir: str, href: str) -> str | None:
    """The member an internal reference names (fragment and query dropped), or None."""
    if not _is_internal(href):
        return None
    path = urllib.parse.unquote(href.split("#", 1)[0].split("?", 1)[0])
    if not path:
        return None
    joined = posixpath.normpath(posixpath.join(base_dir, path))
    if joined.startswith("../") or joined == "..":
        return None
    return joined


def _strip_doctype(untrusted_xml: bytes) -> bytes:
    """Drop a standard XHTML or NCX public doctype (only that exact text)."""
    prolog = _XML_DECL.match(untrusted_xml)
    start = prolog.end() if prolog else 0
    head = untrusted_xml[start : start + 400]
    if not head.startswith(b"<!DOCTYPE"):
        return untrusted_xml
    text = head.decode("ascii", "replace")
    match = _STANDARD_DOCTYPE.match(text)
    if match is None:
        return untrusted_xml  # left for `_xml.parse` to refuse
    return untrusted_xml[:start] + untrusted_xml[start + match.end() :]


def _clear(element: Element) -> None:
    element.text = None
    element.tail = None


def _sub(parent: Element, tag: str, attrib: dict[str, str] | None = None) -> Element:
    child = Element(tag, attrib or {})
    parent.append(child)
    return child


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
            path = _resolve(opf_dir, item.get("href", ""))
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
            self._vocabulary(attrib, "properties", _ITEM_PROPERTIES)
            if attrib.get("fallback") not in kept_items:
                attrib.pop("fallback", None)
            if attrib.get("media-overlay") not in kept_items:
                attrib.pop("media-overlay", None)
            _sub(manifest, f"{{{OPF_NS}}}item", attrib)
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
                    _sub(spine, f"{{{OPF_NS}}}itemref", attrib)
        new_root.append(spine)
        guide_old = root.find(f"{{{OPF_NS}}}guide")
        if guide_old is not None:
            guide = Element(f"{{{OPF_NS}}}guide")
            for ref in guide_old.iter(f"{{{OPF_NS}}}reference"):
                href = ref.get("href", "")
                if _resolve(opf_dir, href) in output:
                    attrib = {"href": href}
                    if "type" in ref.attrib:
                        attrib["type"] = ref.attrib["type"]
                        self._vocabulary(attrib, "type", None)
                    if "title" in ref.attrib:
                        # Free text no reader needs (the type says what the page is).
                        self.removed.add("epub:guide:title")
                    _sub(guide, f"{{{OPF_NS}}}reference", attrib)
            if len(guide):
                new_root.append(guide)
        known = {f"{{{OPF_NS}}}{n}" for n in ("metadata", "manifest", "spine", "guide")}
        if any(child.tag not in known for child in root):
            self.removed.add(UNKNOWN_XML)  # bindings, collections, tours: not shown
        if opf.comments or opf.instructions:
            self.removed.add("epub:opf:comment")
        root[:] = new_root
        root.text = None
        _indent(root)
        self._keep_namespaces(opf, {OPF_NS, DC_NS, XML_NS})
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
                kept = _sub(new, child.tag)
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
                if not _UUID_URN.match(text) or len(child.attrib) > 1:
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
                    _sub(
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
            modified = _sub(new, f"{{{OPF_NS}}}meta", {"property": "dcterms:modified"})
            modified.text = MODIFIED

    def _keep_namespaces(self, doc: XmlDoc, known: set[str]) -> None:
        used = {_xml.namespace(e.tag) for e in doc.root.iter()}
        on_attributes = {_xml.namespace(a) for e in doc.root.iter() for a in e.attrib}
        used |= on_attributes
        kept = [(p, u) for p, u in doc.namespaces if u in known and u in used]
        defaults = {u for p, u in kept if p == ""}
        # A second prefix for the default namespace is needed only by attributes.
        kept = [(p, u) for p, u in kept if p == "" or u not in defaults or u in on_attributes]
        # The default namespace first: the serialiser then writes those elements unprefixed
        # (some reading systems look for <package>, not <opf:package>).
        doc.namespaces = sorted(kept, key=lambda item: item[0] != "")

    # --- members -----------------------------------------------------------------------

    def _clean_member(self, name: str, data: bytes) -> bytes | None:
        """The member cleaned, or None when it is removed."""
        if not data.strip():
            return data
        if looks_like_xml(data):
            doc = _xml.parse(_strip_doctype(data), self.limits)
            root = doc.root.tag
            if root == f"{{{XHTML_NS}}}html":
                return self._xhtml(doc, posixpath.dirname(name))
            if root == f"{{{NCX_NS}}}ncx":
                return self._ncx(doc)
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
            return self._css(data, posixpath.dirname(name))
        if kind == UNKNOWN:
            if is_font(name, data):
                return data  # typefaces, not a record of who made the book
            raise UnsupportedTypeError("an EPUB member no scrubber reads")
        return self._embedded(data)

    def _embedded(self, data: bytes) -> bytes:
        result = scrub_embedded(data, self.limits, check_only=self.check_only)
        self.removed.update(result.removed)
        self.attachments.extend(result.attachments)
        self.warnings.update(result.warnings)
        for link in result.links:
            self._add_link(link)
        return result.data

    def _css(self, data: bytes, base_dir: str) -> bytes:
        try:
            css = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CorruptFileError("EPUB stylesheet is not UTF-8") from exc
        cleaned = self._clean_css(css, base_dir)
        return cleaned.encode("utf-8")

    def _clean_css(self, css: str, base_dir: str) -> str:
        if "/*" in css:
            self.removed.add("epub:css:comment")
            css = _CSS_COMMENT.sub(" ", css)
        if _CSS_IMPORT.search(css):
            self.removed.add("epub:css:import")
            css = _CSS_IMPORT.sub("", css)

        def url(match: re.Match[str]) -> str:
            target = next(g for g in match.groups() if g is not None)
            if _resolve(base_dir, target) in self.package.members:
                return match.group(0)
            self.removed.add("epub:css:external-reference")
            return "none"

        css = _CSS_URL.sub(url, css)
        lowered = css.lower()
        decoded = _unescape_css(css).lower() if "\\" in css else lowered
        # What the two checks above could not see: escaped "url(" or "@import", a broken
        # url( they did not match, a function loading from a string. Drop the whole sheet.
        if (
            decoded.count("url(") != len(_CSS_URL.findall(css))
            or "@import" in decoded
            or _CSS_LOADERS.search(decoded.replace("url(", ""))
            or "<" in css
        ):
            self.removed.add("epub:css:external-reference")
            return ""
        return css

    # --- NCX ---------------------------------------------------------------------------

    def _ncx(self, doc: XmlDoc) -> bytes:
        root = doc.root
        if doc.comments or doc.instructions:
            self.removed.add("epub:ncx:comment")
        head = Element(f"{{{NCX_NS}}}head")
        old_head = root.find(f"{{{NCX_NS}}}head")
        uid_ok = False
        if old_head is not None:
            for meta in old_head:
                name = meta.get("name", "")
                if name == "dtb:uid" and _UUID_URN.match(meta.get("content", "")):
                    uid_ok = True
                    continue
                self.removed.add(f"epub:ncx:{name}" if name in _NCX_NAMES else "epub:ncx:meta")
        if not uid_ok:
            self.removed.add("epub:ncx:dtb:uid")
        _sub(head, f"{{{NCX_NS}}}meta", {"name": "dtb:uid", "content": self.identifier})
        kept: list[Element] = [head]
        for child in root:
            local = _xml.local_name(child.tag)
            if _xml.namespace(child.tag) != NCX_NS:
                self.removed.add(UNKNOWN_XML)
            elif local in ("docTitle", "navMap", "pageList", "navList"):
                self._ncx_tree(child)
                kept.append(child)
            elif local != "head":
                self.removed.add(f"epub:ncx:{local}" if local == "docAuthor" else UNKNOWN_XML)
        for name in list(root.attrib):
            if name not in ("version", f"{{{XML_NS}}}lang", "dir"):
                del root.attrib[name]
                self.removed.add(UNKNOWN_XML)
        root[:] = kept
        root.text = None
        _indent(root)
        self._keep_namespaces(doc, {NCX_NS, XML_NS})
        return _xml.serialize(doc)

    def _ncx_tree(self, parent: Element) -> None:
        allowed = {
            "navPoint": ("id", "playOrder", "class"),
            "pageTarget": ("id", "playOrder", "class", "type", "value"),
            "navTarget": ("id", "playOrder", "class", "value"),
            "navLabel": (),
            "docTitle": (),
            "text": (),
            "content": ("src",),
            "navInfo": (),
            "navMap": ("id",),
            "pageList": ("id", "class"),
            "navList": ("id", "class"),
        }
        for name in list(parent.attrib):
            if name not in allowed.get(_xml.local_name(parent.tag), ()):
                del parent.attrib[name]
                self.removed.add("epub:ncx:attribute")
        src = parent.get("src")
        if src is not None and not _is_internal(src):
            del parent.attrib["src"]
            self.removed.add("epub:ncx:external-target")
        kept = []
        for child in parent:
            if _xml.namespace(child.tag) == NCX_NS and _xml.local_name(child.tag) in allowed:
                self._ncx_tree(child)
                kept.append(child)
            else:
                self.removed.add(UNKNOWN_XML)
        parent[:] = kept

    # --- XHTML -------------------------------------------------------------------------

    def _xhtml(self, doc: XmlDoc, base_dir: str) -> bytes:
        if doc.comments:
            self.removed.add("epub:xhtml:comment")
        if doc.instructions:
            self.removed.add("epub:xhtml:processing-instruction")
        self._xhtml_attributes(doc.root, "html", XHTML_NS, base_dir)
        self._xhtml_tree(doc.root, base_dir)
        self._keep_namespaces(doc, set(_KNOWN_NAMESPACES))
        return _xml.serialize(doc)

    def _xhtml_tree(self, parent: Element, base_dir: str) -> None:
        pieces: list[Element | str | None] = [parent.text]
        for child in list(parent):
            tail = child.tail
            ns, local = _xml.namespace(child.tag), _xml.local_name(child.tag)
            verdict = self._xhtml_verdict(child, ns, local, base_dir)
            if verdict == "drop":
                pieces.append(tail)
                continue
            if verdict == "unwrap":
                self._xhtml_tree(child, base_dir)
                pieces.append(child.text)
                pieces.extend(
                    piece for grandchild in list(child) for piece in (grandchild, grandchild.tail)
                )
                pieces.append(tail)
                continue
            self._xhtml_attributes(child, local, ns, base_dir)
            if ns == XHTML_NS and local == "style":
                child.text = self._clean_css("".join(child.itertext()), base_dir)
                child[:] = []
            else:
                self._xhtml_tree(child, base_dir)
            pieces.extend((child, tail))
        _xml.splice(parent, pieces)

    def _xhtml_verdict(self, element: Element, ns: str, local: str, base_dir: str) -> str:
        """ "keep", "drop" (with its content) or "unwrap" (its content kept)."""
        if ns == XHTML_NS:
            if local in _DROPPED_WITH_CONTENT:
                self.removed.add(f"epub:xhtml:{local}")
                return "drop"
            if local == "meta":
                if set(element.attrib) == {"charset"}:
                    return "keep"
                name = (element.get("name") or element.get("http-equiv") or "").lower()
                known = name in ("author", "generator", "description", "keywords", "copyright")
                self.removed.add(f"epub:xhtml:meta:{name}" if known else "epub:xhtml:meta")
                return "drop"
            if local == "link":
                rel = element.get("rel", "").strip().lower()
                href = element.get("href", "")
                if rel == "stylesheet" and _resolve(base_dir, href) in self.package.members:
                    return "keep"
                self.removed.add("epub:xhtml:link")
                return "drop"
            if local == "img":
                if _resolve(base_dir, element.get("src", "")) in self.package.members:
                    return "keep"
                self.removed.add("epub:xhtml:external-resource")
                return "drop"
            if local == "style" and element.get("type", "text/css").lower() != "text/css":
                self.removed.add("epub:xhtml:style")
                return "drop"
            if local in _XHTML_ALLOWED:
                return "keep"
            self.removed.add("epub:xhtml:element")
            return "unwrap"
        if ns == SVG_NS:
            if local == "image":
                href = element.get(f"{{{XLINK_NS}}}href") or element.get("href") or ""
                if _resolve(base_dir, href) in self.package.members:
                    return "keep"
                self.removed.add("epub:xhtml:external-resource")
                return "drop"
            if local in _SVG_ALLOWED:
                return "keep"
            self.removed.add("epub:xhtml:svg-element")
            return "drop"
        self.removed.add(UNKNOWN_XML)
        return "drop"

    def _xhtml_attributes(self, element: Element, local: str, ns: str, base_dir: str) -> None:
        table = _XHTML_ALLOWED if ns == XHTML_NS else _SVG_ALLOWED
        allowed = table.get(local, frozenset())
        for name in list(element.attrib):
            attr_ns, attr_local = _xml.namespace(name), _xml.local_name(name)
            value = element.attrib[name]
            keep = False
            if attr_ns == "":
                if attr_local.lower().startswith("on"):
                    self.removed.add("epub:xhtml:event-attribute")
                    del element.attrib[name]
                    continue
                keep = attr_local in allowed or (
                    ns == XHTML_NS and attr_local in _GLOBAL_ATTRIBUTES
                )
                if ns == SVG_NS and attr_local in ("id", "class"):
                    keep = True
            elif attr_ns == XML_NS and attr_local in ("lang", "space"):
                keep = True
            elif attr_ns == OPS_NS and attr_local == "type":
                keep = True
            elif attr_ns == XLINK_NS and attr_local == "href" and local == "image":
                keep = True
            if not keep:
                self.removed.add("epub:xhtml:attribute")
                del element.attrib[name]
                continue
            if attr_local == "style":
                cleaned = self._clean_css(value, base_dir)
                if cleaned != value:
                    element.attrib[name] = cleaned
            elif attr_local == "href" and local == "a":
                if _is_internal(value) or value.startswith("#"):
                    continue
                if value.strip().lower().startswith(_LINK_SCHEMES):
                    self._add_link(value)  # a clickable link is content
                else:
                    self.removed.add("epub:xhtml:href")
                    del element.attrib[name]


def _container_xml(opf_path: str) -> bytes:
    root = Element(f"{{{CONTAINER_NS}}}container", {"version": "1.0"})
    rootfiles = _sub(root, f"{{{CONTAINER_NS}}}rootfiles")
    _sub(
        rootfiles,
        f"{{{CONTAINER_NS}}}rootfile",
        {"full-path": opf_path, "media-type": OPF_MEDIA_TYPE},
    )
    _indent(root)
    return _xml.serialize(XmlDoc(root, [("", CONTAINER_NS)]))


def _indent(element: Element, level: int = 0) -> None:
    """Line breaks between the elements we build (readable, and no old whitespace kept)."""
    if len(element) and not (element.text or "").strip():
        element.text = "\n" + "  " * (level + 1)
        for child in element:
            _indent(child, level + 1)
            if not (child.tail or "").strip():
                child.tail = "\n" + "  " * (level + 1)
        last = element[-1]
        last.tail = "\n" + "  " * level


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
