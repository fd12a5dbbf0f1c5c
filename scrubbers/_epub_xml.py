"""What the EPUB package document and its content documents share: internal references and
the trees rebuilt from scratch (indented, with only the namespaces they use)."""

from __future__ import annotations

import posixpath
import re
import urllib.parse

from scrubbers import _xml
from scrubbers._xml import Element, XmlDoc

XML_NS = _xml.XML_NS
UNKNOWN_XML = "epub:unknown-xml"
REFERENCE_SUFFIX = "epub:reference-suffix"  # a query, or a fragment where none is meaningful

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
UUID_URN = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z"
)


def is_internal(target: str) -> bool:
    """A relative reference inside the package (no scheme, no absolute path, no host)."""
    target = target.strip()
    if not target or _SCHEME.match(target) or target.startswith(("/", "\\")):
        return False
    return "\\" not in target


def resolve(base_dir: str, href: str) -> str | None:
    """The member an internal reference names (fragment and query dropped), or None."""
    if not is_internal(href):
        return None
    path = urllib.parse.unquote(href.split("#", 1)[0].split("?", 1)[0])
    if not path:
        return None
    joined = posixpath.normpath(posixpath.join(base_dir, path))
    if joined.startswith("../") or joined == "..":
        return None
    return joined


def bare_reference(href: str, *, keep_fragment: bool) -> str:
    """An internal reference without its query (a member of a zip takes none) and, unless it
    is a link into a document, without its fragment: what follows the name is free text."""
    path, hash_sign, fragment = href.partition("#")
    path = path.split("?", 1)[0]
    return path + hash_sign + fragment if keep_fragment else path


def sub(parent: Element, tag: str, attrib: dict[str, str] | None = None) -> Element:
    child = Element(tag, attrib or {})
    parent.append(child)
    return child


def indent(element: Element, level: int = 0) -> None:
    """Line breaks between the elements we build (readable, and no old whitespace kept)."""
    if len(element) and not (element.text or "").strip():
        element.text = "\n" + "  " * (level + 1)
        for child in element:
            indent(child, level + 1)
            if not (child.tail or "").strip():
                child.tail = "\n" + "  " * (level + 1)
        last = element[-1]
        last.tail = "\n" + "  " * level


def keep_used_namespaces(doc: XmlDoc, known: set[str]) -> None:
    """Keep only the declarations of `known` namespaces that the tree uses (a declared URI
    is free text)."""
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
