"""Find, and in fix mode remove, every identifying field of an open PDF.

One walk serves both directions: ``get_meta`` runs it read-only and ``remove_all`` runs it
with ``fix=True``. So whatever the cleaner removes, the verifier (which calls ``get_meta`` on
the output) also looks for: they cannot drift apart.

The walk visits *every* indirect object in the file (not only the ones reachable through
well-known slots) and every direct object inside them. Keys that only ever carry metadata
are dropped wherever they appear; references to unwanted objects (scripts, signatures, ICC
profiles) are cut at every place that holds them. A later full rewrite writes only the
objects still reachable, so what was cut is gone from the output.

Before it, `_SchemaWalker` keeps in each reachable object only the keys of
`scrubbers._pdf_schema` for its kind, and collects the content streams, which are then
re-serialised from their tokens (`scrubbers._pdf_streams.rewrite_content`).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pikepdf

from scrubbers import _pdf_schema as schema
from scrubbers._pdf_streams import (
    join_contents,
    rewrite_content,
    strip_jpeg_stream,
    strip_jpx_stream,
)

N = pikepdf.Name

# Keys that only ever hold metadata or active content, wherever they appear.
_DROP_ANYWHERE: dict[str, str] = {
    "/PieceInfo": "pdf:PieceInfo",  # private app data (Photoshop keeps IPTC/EXIF there)
    "/LastModified": "pdf:LastModified",
    "/AA": "pdf:AA",  # additional actions: scripts run on open/close/focus
    "/JS": "pdf:JavaScript",
    "/Thumb": "pdf:Thumb",  # a thumbnail can show a page as it was before an edit
    "/OPI": "pdf:OPI",  # prepress proxy: holds the high-res file's path on the author's disk
    "/AF": "pdf:AF",  # associated files (attachments are extracted before the walk)
    "/OutputIntents": "pdf:OutputIntents",  # ICC output profiles, with free-text fields
}
# Keys of the document catalog.
_CATALOG_DROP: dict[str, str] = {
    "/OpenAction": "pdf:OpenAction",
    "/Perms": "pdf:Perms",  # usage-rights / DocMDP signatures: a certificate and a date
    "/SpiderInfo": "pdf:SpiderInfo",  # web capture: source URLs and capture settings
    "/Collection": "pdf:Collection",
    "/DSS": "pdf:signature",  # document security store: certificates, OCSP, CRLs
    "/NeedsRendering": "pdf:XFA",  # asks the viewer to render the (removed) XFA
}
# Name trees of the catalog's /Names dictionary.
_NAMES_DROP: dict[str, str] = {
    "/JavaScript": "pdf:JavaScript",
    "/EmbeddedFiles": "pdf:EmbeddedFiles",
    "/IDS": "pdf:web-capture",
    "/URLS": "pdf:web-capture",
}
# Actions that run code or reach outside the document. A remote or launch target is a path
# on the author's disk ("C:\\Users\\<name>\\..."), a submit target phones home when opened.
_BAD_ACTIONS: dict[str, str] = {
    "/JavaScript": "pdf:JavaScript",
    "/Launch": "pdf:action/Launch",
    "/GoToR": "pdf:action/GoToR",
    "/GoToE": "pdf:action/GoToE",
    "/ImportData": "pdf:action/ImportData",
    "/SubmitForm": "pdf:action/SubmitForm",
}
# Authorship of markup annotations: who commented, when, and the thread of replies.
_ANNOT_AUTHORSHIP = ("/M", "/CreationDate", "/NM", "/RC", "/Popup", "/IRT")
# Standard Info keys, reported by name; any other key is "custom" (its name may itself be a
# value: Microsoft labels put the tenant's GUID in the key).
_INFO_KEYS = frozenset(
    {
        "/Title",
        "/Author",
        "/Subject",
        "/Keywords",
        "/Creator",
        "/Producer",
        "/CreationDate",
        "/ModDate",
        "/Trapped",
        "/Company",
        "/Manager",
        "/Comments",
        "/SourceModified",
    }
)
# Trailer keys that are file structure (cross-reference stream, encryption); qpdf copies any
# other key to the output, so anything else goes.
_TRAILER_KEEP = frozenset(
    {
        "/Root",
        "/Size",
        "/Prev",
        "/XRefStm",
        "/Encrypt",
        "/Type",
        "/W",
        "/Index",
        "/Length",
        "/Filter",
        "/DecodeParms",
    }
)
_DEVICE_BY_N = {1: N.DeviceGray, 3: N.DeviceRGB, 4: N.DeviceCMYK}


def scan(pdf: pikepdf.Pdf, *, fix: bool, max_stream_bytes: int, max_pixels: int) -> list[str]:
    """Names of the identifying fields in ``pdf``; with ``fix``, remove them in place."""
    budget = max_stream_bytes  # all content streams together, decoded
    if fix:
        for page in _pages(pdf):
            budget -= join_contents(pdf, page, budget)
    # The standard's tables first, on the file as it came: in both directions the same
    # objects are seen, so the verifier finds what the cleaner removed.
    schema_walker = _SchemaWalker(pdf, fix=fix)
    schema_walker.run()
    walker = _Walker(pdf, fix=fix, max_stream_bytes=max_stream_bytes, max_pixels=max_pixels)
    walker.run()
    found = schema_walker.found + walker.found
    for stream in schema_walker.content:
        names, size = rewrite_content(stream, budget, fix=fix)
        found += names
        budget -= size
    return found


def _pages(pdf: pikepdf.Pdf) -> list[pikepdf.Object]:
    try:
        return [page.obj for page in pdf.pages]
    except (pikepdf.PdfError, RuntimeError, ValueError, TypeError):
        return []  # no usable page tree: its content streams are still found by kind


class _Walker:
    def __init__(
        self, pdf: pikepdf.Pdf, *, fix: bool, max_stream_bytes: int, max_pixels: int
    ) -> None:
        self.pdf = pdf
        self.fix = fix
        self.max_stream_bytes = max_stream_bytes
        self.max_pixels = max_pixels
        self.found: list[str] = []
        root = pdf.trailer.get(N.Root)
        self.root_objgen = root.objgen if isinstance(root, pikepdf.Dictionary) else None

    def run(self) -> None:
        self._trailer()
        root = self.pdf.trailer.get(N.Root)
        if isinstance(root, pikepdf.Dictionary):
            self._catalog(root)
        for obj in self.pdf.objects:
            self._visit_tree(obj)

    # -- document level ---------------------------------------------------------------

    def _trailer(self) -> None:
        trailer = self.pdf.trailer
        for key in list(trailer.keys()):
            if key in _TRAILER_KEEP:
                continue
            if key == "/Info":
                info = trailer.get(key)
                if isinstance(info, pikepdf.Dictionary):
                    for info_key in list(info.keys()):
                        # Emptied, not only unlinked: another object may refer to it too.
                        self._drop(info, info_key, _info_field(info_key))
                else:
                    self.found.append("pdf:Info")
            elif key == "/ID":
                # qpdf keeps ID[0] of the input on save: it would link the cleaned file to
                # the original. The writer removes the ID qpdf generates, too.
                self.found.append("pdf:ID")
            else:
                self.found.append("pdf:trailer-extra")
            if self.fix:
                del trailer[key]

    def _catalog(self, root: pikepdf.Object) -> None:
        self._drop_keys(root, _CATALOG_DROP)
        names = root.get(N.Names)
        if isinstance(names, pikepdf.Dictionary):
            self._drop_keys(names, _NAMES_DROP)
        acroform = root.get(N.AcroForm)
        if isinstance(acroform, pikepdf.Dictionary) and N.XFA in acroform:
            # XFA packets carry a second XMP packet and the authoring tool.
            self._drop(acroform, "/XFA", "pdf:XFA")
        ocprops = root.get(N.OCProperties)
        if isinstance(ocprops, pikepdf.Dictionary):
            # Optional-content configurations name the application (and, as free text,
            # sometimes the person) that made them.
            configs = ocprops.get(N.Configs)
            for config in [
                ocprops.get(N.D),
                *(configs if isinstance(configs, pikepdf.Array) else []),
            ]:
                if isinstance(config, pikepdf.Dictionary) and N.Creator in config:
                    self._drop(config, "/Creator", "pdf:layer-creator")
        threads = root.get(N.Threads)
        if isinstance(threads, pikepdf.Array):
            for thread in threads:
                if isinstance(thread, pikepdf.Dictionary) and N.I in thread:
                    # Article thread info: title, author, dates.
                    self._drop(thread, "/I", "pdf:thread-info")

    # -- every object -----------------------------------------------------------------

    def _visit_tree(self, top: pikepdf.Object) -> None:
        for node in _containers(top):
            if isinstance(node, pikepdf.Array):
                self._visit_array(node)
            else:
                self._visit_dict(node)

    def _visit_dict(self, node: pikepdf.Object) -> None:
        is_root = node.is_indirect and node.objgen == self.root_objgen
        kind = _kind(node)
        is_annot = _is_annot(node)
        for key in list(node.keys()):
            value = node.get(key)
            if key == "/Metadata":
                self._drop(node, key, "pdf:XMP" if is_root else f"pdf:XMP({kind})")
            elif key in _DROP_ANYWHERE:
                self._drop(node, key, _DROP_ANYWHERE[key])
            elif key == "/EF":
                # An embedded file (the caller extracted it first, to clean it on its own).
                self._drop(node, key, "pdf:EmbeddedFiles")
            elif key in ("/ID", "/PZ") and kind in ("page", "image", "form"):
                # Web capture: the page's/XObject's content-set digest and zoom.
                self._drop(node, key, "pdf:web-capture")
            elif key == "/Ref" and kind == "form":
                # Reference XObject: the path of another file on the author's disk.
                self._drop(node, key, "pdf:external-reference")
            elif is_annot and key in _ANNOT_AUTHORSHIP:
                self._drop(node, key, "pdf:annotation/" + key[1:])
            elif is_annot and key == "/T" and node.get(N.Subtype) != N.Widget:
                # /T of a markup annotation is its author; of a widget, the form field name.
                self._drop(node, key, "pdf:annotation/T")
            elif key == "/V" and node.get(N.FT) == N.Sig:
                self._drop(node, key, "pdf:signature")
            elif key == "/Usage" and node.get(N.Type) == N.OCG:
                self._clean_layer_usage(value)
            elif key == "/Annots" and isinstance(value, pikepdf.Array):
                self._filter_annots(value)
            else:
                self._check_value(node, key, value)
        if isinstance(node, pikepdf.Stream):
            self._visit_stream(node)

    def _visit_stream(self, node: pikepdf.Object) -> None:
        if node.get(N.Type) == N.Metadata or node.get(N.Subtype) == N.XML:
            # An XMP packet. Its /Metadata keys are cut above; emptying the packet too
            # covers a hostile file that also refers to it under some other key.
            self.found.append("pdf:XMP")
            if self.fix:
                node.write(b"")
                for key in ("/Type", "/Subtype"):
                    if key in node:
                        del node[key]
        else:
            # Any stream, not only image XObjects: a DCT stream is a whole JPEG file.
            self.found.extend(
                strip_jpeg_stream(node, self.max_stream_bytes, self.max_pixels, fix=self.fix)
            )
            # A JPEG 2000 stream is a whole JP2 file too, with XML/UUID boxes (XMP, EXIF).
            self.found.extend(strip_jpx_stream(node, self.max_stream_bytes, fix=self.fix))

    def _visit_array(self, node: pikepdf.Object) -> None:
        for index in range(len(node)):
            name, replacement = _classify(node[index])
            if name is None:
                continue
            self.found.append(name)
            if self.fix:
                # Nulls keep an array's shape (name trees are key/value pairs).
                node[index] = replacement  # None is written as PDF null

    def _check_value(self, node: pikepdf.Object, key: str, value: pikepdf.Object | None) -> None:
        name, replacement = _classify(value)
        if name is None:
            return
        self.found.append(name)
        if self.fix:
            if replacement is None:
                del node[key]
            else:
                node[key] = replacement

    def _filter_annots(self, annots: pikepdf.Object) -> None:
        for index in reversed(range(len(annots))):
            annot = annots[index]
            if not isinstance(annot, pikepdf.Dictionary):
                continue
            subtype = annot.get(N.Subtype)
            if subtype == N.Popup:
                name = "pdf:annotation/Popup"  # shows the author's name in its title bar
            elif subtype == N.FileAttachment:
                name = "pdf:EmbeddedFiles"
            else:
                continue
            self.found.append(name)
            if self.fix:
                del annots[index]

    def _clean_layer_usage(self, usage: pikepdf.Object | None) -> None:
        # Optional content (layers) may name the user and the application that made them.
        if isinstance(usage, pikepdf.Dictionary):
            for key in ("/CreatorInfo", "/User"):
                if key in usage:
                    self._drop(usage, key, "pdf:layer-creator")

    # -- helpers ----------------------------------------------------------------------

    def _drop_keys(self, node: pikepdf.Object, table: dict[str, str]) -> None:
        for key, name in table.items():
            if key in node:
                self._drop(node, key, name)

    def _drop(self, node: pikepdf.Object, key: str, name: str) -> None:
        self.found.append(name)
        if self.fix:
            del node[key]


def iter_reachable_dicts(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Object]:
    """Every dictionary and stream reachable from the catalog (what a rewrite keeps).

    Objects of earlier revisions, or deleted ones, are not reachable: they are dropped by
    the rewrite, never brought back (an attachment the author deleted stays deleted).
    """
    seen: set[tuple[int, int]] = set()
    stack = [pdf.trailer.get(N.Root)]
    while stack:
        node = stack.pop()
        if not isinstance(node, (pikepdf.Dictionary, pikepdf.Stream, pikepdf.Array)):
            continue
        if node.is_indirect:
            if node.objgen in seen:  # reference cycles end here
                continue
            seen.add(node.objgen)
        if isinstance(node, pikepdf.Array):
            stack.extend(node)
        else:
            yield node
            stack.extend(node.get(k) for k in sorted(node.keys(), reverse=True))


def _containers(top: pikepdf.Object) -> Iterator[pikepdf.Object]:
    """``top`` and the direct dictionaries/arrays inside it, parents before children.

    Indirect objects are each visited from ``pdf.objects``, so only direct children are
    followed: reference cycles cannot loop and nothing is visited twice. Children are read
    after the parent was yielded, so a key the caller deleted is not descended into.
    """
    stack = [top]
    while stack:
        node = stack.pop()
        if isinstance(node, (pikepdf.Dictionary, pikepdf.Stream)):
            yield node
            children = [node.get(k) for k in list(node.keys())]
        elif isinstance(node, pikepdf.Array):
            yield node
            children = list(node)
        else:
            continue
        stack.extend(
            c
            for c in children
            if isinstance(c, (pikepdf.Dictionary, pikepdf.Array)) and not c.is_indirect
        )


def _info_field(key: str) -> str:
    if key in _INFO_KEYS:
        return "pdf:Info/" + key[1:]
    if key.startswith("/MSIP_Label"):
        return "pdf:Info/MSIP_Label"
    return "pdf:Info/custom"


def _kind(node: pikepdf.Object) -> str:
    type_ = node.get(N.Type)
    subtype = node.get(N.Subtype)
    if type_ == N.Page:
        return "page"
    if subtype == N.Image:
        return "image"
    if subtype == N.Form:
        return "form"
    if type_ in (N.Font, N.FontDescriptor) or any(
        k in node for k in ("/Length1", "/Length2", "/Length3", "/FontFile", "/FontFile2")
    ):
        return "font"
    if subtype in (N.Type1C, N.CIDFontType0C, N.OpenType):
        return "font"
    return "object"


def _is_annot(node: pikepdf.Object) -> bool:
    if isinstance(node, pikepdf.Stream):
        return False
    if node.get(N.Type) == N.Annot:
        return True
    return N.Rect in node and isinstance(node.get(N.Subtype), pikepdf.Name)


def _classify(value: pikepdf.Object | None) -> tuple[str | None, pikepdf.Object | None]:
    """Is ``value`` something to cut wherever it is referenced from?

    Returns (field name, replacement); replacement None means "remove the reference".
    """
    if isinstance(value, pikepdf.Array):
        if len(value) >= 1 and value[0] == N.ICCBased:
            return "pdf:ICC-description", _device_space(value)
        return None, None
    if not isinstance(value, (pikepdf.Dictionary, pikepdf.Stream)):
        return None, None
    type_ = value.get(N.Type)
    if type_ in (N.Sig, N.DocTimeStamp) or (N.ByteRange in value and N.Contents in value):
        # A signature dictionary: signer certificate, name, location, reason, time.
        return "pdf:signature", None
    action = value.get(N.S)
    if isinstance(action, pikepdf.Name):
        bad = _BAD_ACTIONS.get(str(action))
        if bad is not None:
            return bad, None
        if action == N.URI:
            uri = value.get(N.URI)
            if isinstance(uri, pikepdf.String) and bytes(uri)[:5].lower() == b"file:":
                # A link to a local file names a path on the author's disk.
                return "pdf:local-file-link", None
    return None, None


def _device_space(icc: pikepdf.Object) -> pikepdf.Object:
    """The colour space an ICCBased space falls back to (PDF 32000 8.6.5.5).

    The profile's description, copyright and device fields are free text written by the
    tool or person who made it; its /Alternate (or the device space with as many
    components) is what every viewer without colour management already shows.
    """
    profile = icc[1] if len(icc) >= 2 else None
    if isinstance(profile, pikepdf.Stream):
        alternate = profile.get(N.Alternate)
        if isinstance(alternate, pikepdf.Name) and alternate in _DEVICE_BY_N.values():
            return alternate
        components = profile.get(N.N)
        if isinstance(components, pikepdf.Integer) and int(components) in _DEVICE_BY_N:
            return _DEVICE_BY_N[int(components)]
    return N.DeviceRGB


# -- keys kept by the standard's tables ------------------------------------------------------

# A key's name is reported as it is when it looks like a name software writes; a key made of
# digits or a long hexadecimal run (a GUID, a serial, a tenant id) is itself a value, and is
# reported as "pdf:unknown-key" instead.
_REPORTABLE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9._:-]{0,47}")
_VALUE_LIKE_KEY = re.compile(r"[0-9]{4}|[0-9A-Fa-f]{8}")
_PAIRS = "pairs:"
# Distinct key names reported per file; past it, "pdf:unknown-key" (the report has a bound,
# and a file with thousands of invented keys must still be cleaned).
_MAX_KEY_NAMES = 100


def _key_report_name(key: str) -> str:
    name = key[1:]
    if _REPORTABLE_KEY.fullmatch(name) and not _VALUE_LIKE_KEY.search(name):
        return "pdf:" + name
    return "pdf:unknown-key"


@dataclass(frozen=True)
class _Rules:
    """What one object may hold: the keys its kinds define, with the kinds of their values."""

    explicit: Mapping[str, frozenset[str]]
    wildcard: frozenset[str] | None  # values of keys the document names (resource names)
    is_open: bool  # keys left to the writer: all kept

    def child_kinds(self, key: str) -> frozenset[str] | None:
        if self.is_open:
            return _OPEN_KINDS
        found = self.explicit.get(key)
        if found is not None:
            return found
        return self.wildcard


_OPEN_KINDS = frozenset({schema.OPEN})
# Streams of operators (7.8.2): page contents, glyph procedures, form XObjects (appearances
# included) and tiling patterns. A shading pattern is a dictionary, never a stream.
_CONTENT_KINDS = frozenset({"content", "form", "pattern"})
_REMOVED_BY_WALK = frozenset({*_DROP_ANYWHERE, "/Metadata", "/EF"})
_NONE_KINDS = frozenset({"none"})


def _table_rules(table: schema.Keys) -> dict[str, frozenset[str]]:
    return {key: frozenset({kind}) if kind else _NONE_KINDS for key, kind in table.items()}


def _resolve(kind: str, node: pikepdf.Object) -> str:
    """The concrete kind of ``node`` reached as ``kind``: a table, a generic form, or open."""
    for _ in range(8):  # dispatch chains are short (aa -> dictof:action)
        if kind == schema.OPEN:
            type_ = node.get(N.Type)
            found = schema.OPEN_TYPES.get(str(type_)) if isinstance(type_, pikepdf.Name) else None
            if found is None and isinstance(node, pikepdf.Stream):
                subtype = node.get(N.Subtype)
                if isinstance(subtype, pikepdf.Name):
                    found = schema.OPEN_SUBTYPES.get(str(subtype))
            if found is None:
                return schema.OPEN
            kind = found
            continue
        dispatch = schema.DISPATCH.get(kind)
        if dispatch is None:
            return kind
        key, choices, default = dispatch
        if kind == "pagenode" and N.Type not in node and N.Kids in node:
            return "pages"  # a page tree node without its (required) /Type
        value = node.get(key)
        kind = choices.get(str(value), default) if isinstance(value, pikepdf.Name) else default
    return schema.OPEN


class _SchemaWalker:
    """Types every object reachable from the catalog, then removes the keys its kinds lack.

    Typing comes first, over the whole graph, because one object can be reached as more than
    one kind (a widget is a field and an annotation; a shared resource dictionary): it keeps
    the keys of every kind it has. An object reached only from a place whose keys the
    standard leaves open is typed by its own /Type, or kept as it is.
    """

    def __init__(self, pdf: pikepdf.Pdf, *, fix: bool) -> None:
        self.pdf = pdf
        self.fix = fix
        self.found: list[str] = []
        self.kinds: dict[tuple[int, int], set[str]] = {}
        self.objects: dict[tuple[int, int], pikepdf.Object] = {}
        self.queue: deque[tuple[int, int]] = deque()
        self.typing = True
        self.unknown_seen = False
        self.names: set[str] = set()
        self.content: list[pikepdf.Object] = []  # streams of drawing operators
        self._rules_cache: dict[tuple[frozenset[str], bool], _Rules] = {}

    def run(self) -> None:
        root = self.pdf.trailer.get(N.Root)
        if not isinstance(root, pikepdf.Dictionary):
            return
        if root.is_indirect:
            self._note(root, frozenset({"catalog"}))
        else:
            self.typing = False
            self._walk(root, frozenset({"catalog"}))
            return
        # An object is walked again only when its new kinds change its rules (its children's
        # kinds follow from them), and pruned only when a walk met a key its rules lack.
        walked: dict[tuple[int, int], tuple[frozenset[str], bool]] = {}
        to_prune: set[tuple[int, int]] = set()
        while self.queue:
            objgen = self.queue.popleft()
            obj, kinds = self.objects[objgen], frozenset(self.kinds[objgen])
            key = self._rules_key(obj, kinds)
            if walked.get(objgen) == key:
                continue
            walked[objgen] = key
            self.unknown_seen = False
            self._walk(obj, kinds)
            if self.unknown_seen:
                to_prune.add(objgen)
            else:
                to_prune.discard(objgen)
        self.typing = False
        for objgen, (resolved, is_stream) in walked.items():
            if objgen in to_prune:
                self._walk(self.objects[objgen], frozenset(self.kinds[objgen]))
            if is_stream and not _CONTENT_KINDS.isdisjoint(resolved):
                self.content.append(self.objects[objgen])

    def _note(self, obj: pikepdf.Object, kinds: frozenset[str]) -> None:
        objgen = obj.objgen
        known = self.kinds.get(objgen)
        if known is None:
            self.kinds[objgen] = set(kinds)
            self.objects[objgen] = obj
        elif kinds <= known:
            return
        else:
            known.update(kinds)
        self.queue.append(objgen)

    def _walk(self, top: pikepdf.Object, top_kinds: frozenset[str]) -> None:
        stack = [(top, top_kinds)]
        while stack:
            node, kinds = stack.pop()
            if isinstance(node, pikepdf.Array):
                for index, item in enumerate(node):
                    if isinstance(item, (pikepdf.Dictionary, pikepdf.Stream, pikepdf.Array)):
                        item_kinds = _element_kinds(kinds, index)
                        if item_kinds:
                            self._child(item, item_kinds, stack)
                continue
            rules = self._rules(node, kinds)
            for key in list(node.keys()):
                if key in _REMOVED_BY_WALK:
                    continue  # the metadata walk removes it, under its own report name
                child = rules.child_kinds(key)
                if child is None:
                    self.unknown_seen = True
                    if not self.typing:
                        self._report(key)
                        if self.fix:
                            del node[key]
                    continue
                value = node.get(key)
                if isinstance(value, (pikepdf.Dictionary, pikepdf.Stream, pikepdf.Array)):
                    self._child(value, child, stack)

    def _report(self, key: str) -> None:
        name = _key_report_name(key)
        if name not in self.names:
            if len(self.names) >= _MAX_KEY_NAMES:
                name = "pdf:unknown-key"
            self.names.add(name)
        self.found.append(name)

    def _child(
        self,
        value: pikepdf.Object,
        kinds: frozenset[str],
        stack: list[tuple[pikepdf.Object, frozenset[str]]],
    ) -> None:
        if value.is_indirect:
            if self.typing:
                self._note(value, kinds)
        else:
            stack.append((value, kinds))

    def _rules_key(
        self, node: pikepdf.Object, kinds: frozenset[str]
    ) -> tuple[frozenset[str], bool]:
        """The concrete kinds ``node`` has (open only when it has no other), and whether it
        is a stream: all its rules depend on."""
        resolved = frozenset(_resolve(kind, node) for kind in kinds)
        concrete = resolved - _OPEN_KINDS
        return (concrete if concrete else resolved, isinstance(node, pikepdf.Stream))

    def _rules(self, node: pikepdf.Object, kinds: frozenset[str]) -> _Rules:
        cache_key = self._rules_key(node, kinds)
        rules = self._rules_cache.get(cache_key)
        if rules is None:
            concrete, is_stream = cache_key
            rules = _build_rules(concrete - _OPEN_KINDS, is_stream)
            self._rules_cache[cache_key] = rules
        return rules


def _element_kinds(kinds: frozenset[str], index: int) -> frozenset[str]:
    out = set()
    for kind in kinds:
        if kind.startswith(_PAIRS):
            if index % 2 == 1:  # [key value key value ...] of a name or number tree
                out.add(kind[len(_PAIRS) :])
        else:
            out.add(schema.ARRAY_ELEMENT.get(kind, kind))
    return frozenset(out)


def _build_rules(concrete: frozenset[str], is_stream: bool) -> _Rules:
    if not concrete:
        return _Rules({}, None, is_open=True)
    explicit: dict[str, set[str]] = {}
    wildcard: set[str] | None = None

    def add(table: Mapping[str, frozenset[str]]) -> None:
        for key, child in table.items():
            explicit.setdefault(key, set()).update(child)

    if is_stream:
        add(_table_rules(schema.STREAM))
    for kind in concrete:
        if kind.startswith("dictof:"):
            wildcard = (wildcard or set()) | {kind[len("dictof:") :]}
        elif kind.startswith(("nametree:", "numtree:")):
            tree, value = kind.split(":", 1)
            leaves = "/Names" if tree == "nametree" else "/Nums"
            add({"/Kids": frozenset({kind}), leaves: frozenset({_PAIRS + value})})
            add({"/Limits": _NONE_KINDS})
        else:
            add(_table_rules(schema.TABLES.get(kind, {})))
    return _Rules(
        {key: frozenset(child) for key, child in explicit.items()},
        frozenset(wildcard) if wildcard is not None else None,
        is_open=False,
    )


def prune_to_schema(pdf: pikepdf.Pdf, *, fix: bool) -> list[str]:
    """Names of the keys no table of `scrubbers._pdf_schema` allows where they are; with
    ``fix``, remove them (what they held becomes unreachable, and is not written)."""
    walker = _SchemaWalker(pdf, fix=fix)
    walker.run()
    return walker.found
