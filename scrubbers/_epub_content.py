"""The content documents of an EPUB: XHTML (and the SVG inside it), NCX and CSS.

Each is rebuilt from an allowlist; a reference is kept only to a member of the package, a
clickable link is content (named to the editors), anything that loads from elsewhere goes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scrubbers import _xml
from scrubbers._epub_xml import (
    REFERENCE_SUFFIX,
    UNKNOWN_XML,
    UUID_URN,
    XML_NS,
    bare_reference,
    indent,
    is_internal,
    keep_used_namespaces,
    resolve,
    sub,
)
from scrubbers._sniff_text import SVG_NS
from scrubbers._xml import Element, XmlDoc
from scrubbers.errors import CorruptFileError

NCX_NS = "http://www.daisy.org/z3986/2005/ncx/"
XHTML_NS = "http://www.w3.org/1999/xhtml"
OPS_NS = "http://www.idpf.org/2007/ops"
XLINK_NS = "http://www.w3.org/1999/xlink"

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
_LINK_SCHEMES = ("http:", "https:", "mailto:")

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


def strip_doctype(untrusted_xml: bytes) -> bytes:
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


@dataclass
class ContentCleaner:
    """Cleans the content documents of one book into the removals of its pass."""

    members: Mapping[str, bytes]  # the package: an internal reference must name one of them
    identifier: str  # the book's new dc:identifier, which the NCX repeats as dtb:uid
    removed: set[str]
    add_link: Callable[[str], None]

    def css(self, data: bytes, base_dir: str) -> bytes:
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
            group = next(i for i, g in enumerate(match.groups(), 1) if g is not None)
            target = match.group(group)
            if resolve(base_dir, target) in self.members:
                bare = bare_reference(target, keep_fragment=False)
                if bare == target:
                    return match.group(0)
                self.removed.add(REFERENCE_SUFFIX)
                whole, start = match.group(0), match.start()
                return (
                    whole[: match.start(group) - start] + bare + whole[match.end(group) - start :]
                )
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

    def ncx(self, doc: XmlDoc) -> bytes:
        root = doc.root
        if doc.comments or doc.instructions:
            self.removed.add("epub:ncx:comment")
        head = Element(f"{{{NCX_NS}}}head")
        old_head = root.find(f"{{{NCX_NS}}}head")
        uid_ok = False
        if old_head is not None:
            for meta in old_head:
                name = meta.get("name", "")
                if name == "dtb:uid" and UUID_URN.match(meta.get("content", "")):
                    uid_ok = True
                    continue
                self.removed.add(f"epub:ncx:{name}" if name in _NCX_NAMES else "epub:ncx:meta")
        if not uid_ok:
            self.removed.add("epub:ncx:dtb:uid")
        sub(head, f"{{{NCX_NS}}}meta", {"name": "dtb:uid", "content": self.identifier})
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
        indent(root)
        keep_used_namespaces(doc, {NCX_NS, XML_NS})
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
        if src is not None and not is_internal(src):
            del parent.attrib["src"]
            self.removed.add("epub:ncx:external-target")
        elif src is not None and bare_reference(src, keep_fragment=True) != src:
            parent.set("src", bare_reference(src, keep_fragment=True))
            self.removed.add(REFERENCE_SUFFIX)
        kept = []
        for child in parent:
            if _xml.namespace(child.tag) == NCX_NS and _xml.local_name(child.tag) in allowed:
                self._ncx_tree(child)
                kept.append(child)
            else:
                self.removed.add(UNKNOWN_XML)
        parent[:] = kept

    # --- XHTML -------------------------------------------------------------------------

    def xhtml(self, doc: XmlDoc, base_dir: str) -> bytes:
        if doc.comments:
            self.removed.add("epub:xhtml:comment")
        if doc.instructions:
            self.removed.add("epub:xhtml:processing-instruction")
        self._xhtml_attributes(doc.root, "html", XHTML_NS, base_dir)
        self._xhtml_tree(doc.root, base_dir)
        keep_used_namespaces(doc, set(_KNOWN_NAMESPACES))
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
                if rel == "stylesheet" and resolve(base_dir, href) in self.members:
                    return "keep"
                self.removed.add("epub:xhtml:link")
                return "drop"
            if local == "img":
                if resolve(base_dir, element.get("src", "")) in self.members:
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
                if resolve(base_dir, href) in self.members:
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
            elif attr_local in ("href", "src") and is_internal(value):
                # To a member (an image's and a stylesheet's checked with their element) or,
                # from a link, to a place in one; a link to a document the book does not
                # have names nothing but free text.
                if (
                    local == "a"
                    and resolve(base_dir, value) not in self.members
                    and not (value.startswith("#"))
                ):
                    self.removed.add("epub:xhtml:href")
                    del element.attrib[name]
                else:
                    bare = bare_reference(value, keep_fragment=local == "a")
                    if bare != value:
                        element.attrib[name] = bare
                        self.removed.add(REFERENCE_SUFFIX)
            elif attr_local == "href" and local == "a":
                if value.strip().lower().startswith(_LINK_SCHEMES):
                    self.add_link(value)  # a clickable link is content
                else:
                    self.removed.add("epub:xhtml:href")
                    del element.attrib[name]
