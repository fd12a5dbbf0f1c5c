"""``META-INF/manifest.xml`` of an OpenDocument package: its grammar, and its media types.

The manifest's grammar (ODF 1.3 Part 2, §4) is a root with a version and file entries with a
few attributes; each entry's media type is a free string, so it is kept only when it is one of
the types the package can hold (issue 10): ODF's own, XML, the fonts LibreOffice embeds, and
what the scrubbers clean. Any other value is replaced by the one the member's bytes require.
"""

from __future__ import annotations

from scrubbers import _xml
from scrubbers._odf_schema import ODF_VERSIONS, UNKNOWN_XML, known_version
from scrubbers._sniff import ALL_TYPES, UNKNOWN, sniff
from scrubbers._zip import is_font, looks_like_xml
from scrubbers.errors import CorruptFileError, UnsupportedTypeError

MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
MEDIA_TYPE = "odf:media-type"

_FULL_PATH = f"{{{MANIFEST}}}full-path"
_MEDIA_TYPE = f"{{{MANIFEST}}}media-type"
# Encrypted entries (with children) are refused before the grammar is checked.
_ENTRY_ATTRIBUTES = frozenset(
    f"{{{MANIFEST}}}{name}"
    for name in ("full-path", "media-type", "preferred-view-mode", "version", "size")
)
_ODF_KINDS = (
    "text", "text-template", "text-master", "text-master-template", "text-web",
    "spreadsheet", "spreadsheet-template", "presentation", "presentation-template",
    "graphics", "graphics-template", "chart", "chart-template", "formula", "formula-template",
    "image", "image-template", "database",
)  # fmt: skip
# The media types of sub-documents (``Object 1/``): ODF's kinds, and LibreOffice's for its
# configuration folder (removed with it, but listed before).
_DIRECTORY_TYPES = frozenset(
    [f"application/vnd.oasis.opendocument.{kind}" for kind in _ODF_KINDS]
    + ["application/vnd.sun.xml.ui.configuration", ""]
)
_XML_TYPES = frozenset({"text/xml", "application/xml", "application/rdf+xml"})
_FONT_TYPES = frozenset(
    {
        "application/x-font-ttf", "application/x-font-otf", "application/font-sfnt",
        "application/vnd.ms-opentype", "application/font-woff", "application/x-font-woff",
        "font/ttf", "font/otf", "font/sfnt", "font/woff", "font/woff2",
    }
)  # fmt: skip
_FILE_TYPES = _XML_TYPES | _FONT_TYPES | {t.media_type for t in ALL_TYPES} | {""}


_VIEW_MODES = frozenset({"edit", "presentation-slide-show", "read-only"})


def _is_known_value(name: str, value: str) -> bool:
    # The entries' values but the path and media type (checked on their own) have a grammar
    # (ODF 1.3 Part 2, §4.3): free text in them is a mark.
    if name == f"{{{MANIFEST}}}version":
        return value in ODF_VERSIONS
    if name == f"{{{MANIFEST}}}size":
        return value.isascii() and value.isdigit()
    if name == f"{{{MANIFEST}}}preferred-view-mode":
        return value in _VIEW_MODES
    return True


def check_grammar(doc: _xml.XmlDoc, removed: set[str]) -> None:
    """Keep the manifest's root version and its file entries with their known attributes."""
    root = doc.root
    changed = bool(set(root.attrib) - {f"{{{MANIFEST}}}version"})
    version = known_version(root.get(f"{{{MANIFEST}}}version"), removed)
    root.attrib.clear()
    if version is not None:
        root.set(f"{{{MANIFEST}}}version", version)
    entries = [child for child in root if child.tag == f"{{{MANIFEST}}}file-entry"]
    changed = changed or len(entries) != len(root) or bool((root.text or "").strip())
    for entry in entries:
        for name in list(entry.attrib):
            if name not in _ENTRY_ATTRIBUTES or not _is_known_value(name, entry.attrib[name]):
                del entry.attrib[name]
                changed = True
        changed = changed or len(entry) > 0 or bool((entry.text or "").strip())
        entry[:] = []
        entry.text = None
        entry.tail = None
    root[:] = entries
    root.text = None
    if changed or doc.namespaces != [("manifest", MANIFEST)]:
        if changed or any(uri != MANIFEST for _, uri in doc.namespaces):
            removed.add(UNKNOWN_XML)
    doc.namespaces = [("manifest", MANIFEST)]


def listed_paths(doc: _xml.XmlDoc) -> set[str]:
    """The members the manifest lists (refusing an encrypted package)."""
    if doc.root.tag != f"{{{MANIFEST}}}manifest":
        raise CorruptFileError("bad ODF manifest")
    paths: set[str] = set()
    for entry in doc.root.iter(f"{{{MANIFEST}}}file-entry"):
        if any(_xml.local_name(child.tag) == "encryption-data" for child in entry):
            # Encrypted parts cannot be read, so they cannot be cleaned.
            raise UnsupportedTypeError("encrypted ODF")
        paths.add(entry.get(_FULL_PATH, ""))
    return paths


def keep_known_media_types(
    doc: _xml.XmlDoc, members: dict[str, bytes], mimetype: str, removed: set[str]
) -> None:
    """Each entry's media type allowlisted: the package's own for the root, an ODF kind for a
    sub-document (an entry with another is dropped: its type cannot be told from one member),
    and for a member a known type, else the one its bytes require."""
    kept: list[_xml.Element] = []
    for entry in doc.root:
        path = entry.get(_FULL_PATH, "")
        media_type = entry.get(_MEDIA_TYPE)
        if media_type is None:
            kept.append(entry)
            continue
        if path == "/":
            required = mimetype
        elif path.endswith("/"):
            if media_type not in _DIRECTORY_TYPES:
                removed.add(MEDIA_TYPE)
                continue
            required = media_type
        elif media_type in _FILE_TYPES:
            required = media_type
        else:
            required = _media_type_of(path, members.get(path, b""))
        if required != media_type:
            entry.set(_MEDIA_TYPE, required)
            removed.add(MEDIA_TYPE)
        kept.append(entry)
    doc.root[:] = kept


def _media_type_of(path: str, data: bytes) -> str:
    if not data.strip():
        return ""
    if looks_like_xml(data):
        kind = sniff(data)
        return "text/xml" if kind == UNKNOWN else kind.media_type
    if is_font(path, data):
        return "application/x-font-ttf"
    kind = sniff(data)
    return "" if kind == UNKNOWN else kind.media_type
