"""Find, and in fix mode remove, every identifying field of an open PDF.

One walk serves both directions: ``get_meta`` runs it read-only and ``remove_all`` runs it
with ``fix=True``. So whatever the cleaner removes, the verifier (which calls ``get_meta`` on
the output) also looks for: they cannot drift apart.

The walk visits *every* indirect object in the file (not only the ones reachable through
well-known slots) and every direct object inside them. Keys that only ever carry metadata
are dropped wherever they appear; references to unwanted objects (scripts, signatures, ICC
profiles) are cut at every place that holds them. A later full rewrite writes only the
objects still reachable, so what was cut is gone from the output.

Before it, `scrubbers._pdf_prune.SchemaWalker` keeps in each reachable object only the keys of
`scrubbers._pdf_schema` for its kind, and collects the content streams, which are then
re-serialised from their tokens (`scrubbers._pdf_streams.rewrite_content`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pikepdf

from scrubbers._pdf_fields import (
    ANNOT_AUTHORSHIP,
    BAD_ACTIONS,
    CATALOG_DROP,
    DROP_ANYWHERE,
    INFO_KEYS,
    NAMES_DROP,
    TRAILER_KEEP,
)
from scrubbers._pdf_prune import SchemaWalker
from scrubbers._pdf_streams import (
    join_contents,
    rewrite_content,
    strip_jpeg_stream,
    strip_jpx_stream,
)

N = pikepdf.Name

_DEVICE_BY_N = {1: N.DeviceGray, 3: N.DeviceRGB, 4: N.DeviceCMYK}
_COMPOUND = (pikepdf.Array, pikepdf.Dictionary, pikepdf.Stream)


def scan(pdf: pikepdf.Pdf, *, fix: bool, max_stream_bytes: int, max_pixels: int) -> list[str]:
    """Names of the identifying fields in ``pdf``; with ``fix``, remove them in place."""
    budget = max_stream_bytes  # all content streams together, decoded
    if fix:
        for page in _pages(pdf):
            budget -= join_contents(pdf, page, budget)
    # The standard's tables first, on the file as it came: in both directions the same
    # objects are seen, so the verifier finds what the cleaner removed.
    schema_walker = SchemaWalker(pdf, fix=fix)
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
            if key in TRAILER_KEEP:
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
        self._drop_keys(root, CATALOG_DROP)
        names = root.get(N.Names)
        if isinstance(names, pikepdf.Dictionary):
            self._drop_keys(names, NAMES_DROP)
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
        ordered = list(node.keys())
        keys = frozenset(ordered)
        kind = _kind(node, keys)
        is_annot = _is_annot(node, keys)
        for key in ordered:
            value = node.get(key)
            if key == "/Metadata":
                self._drop(node, key, "pdf:XMP" if is_root else f"pdf:XMP({kind})")
            elif key in DROP_ANYWHERE:
                self._drop(node, key, DROP_ANYWHERE[key])
            elif key == "/EF":
                # An embedded file (the caller extracted it first, to clean it on its own).
                self._drop(node, key, "pdf:EmbeddedFiles")
            elif key in ("/ID", "/PZ") and kind in ("page", "image", "form"):
                # Web capture: the page's/XObject's content-set digest and zoom.
                self._drop(node, key, "pdf:web-capture")
            elif key == "/Ref" and kind == "form":
                # Reference XObject: the path of another file on the author's disk.
                self._drop(node, key, "pdf:external-reference")
            elif is_annot and key in ANNOT_AUTHORSHIP:
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
        # One read of the whole array, and only its compound items classified: arrays are
        # mostly numbers (glyph widths, coordinates), thousands per file.
        for index, item in enumerate(list(node)):
            if not isinstance(item, _COMPOUND):
                continue
            name, replacement = _classify(item)
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
    if key in INFO_KEYS:
        return "pdf:Info/" + key[1:]
    if key.startswith("/MSIP_Label"):
        return "pdf:Info/MSIP_Label"
    return "pdf:Info/custom"


# Keys and names as str: pikepdf compares a Name with a str, and building a Name for each
# lookup (``pikepdf.Name.Type``) costs more than the lookup itself; these run for every
# dictionary and every value of the file.
_FONT_PROGRAM_KEYS = frozenset({"/Length1", "/Length2", "/Length3", "/FontFile", "/FontFile2"})
_FONT_TYPES = ("/Font", "/FontDescriptor")
_FONT_SUBTYPES = ("/Type1C", "/CIDFontType0C", "/OpenType")
_SIGNATURE_TYPES = ("/Sig", "/DocTimeStamp")


def _kind(node: pikepdf.Object, keys: frozenset[str]) -> str:
    type_ = node.get("/Type") if "/Type" in keys else None
    subtype = node.get("/Subtype") if "/Subtype" in keys else None
    if type_ == "/Page":
        return "page"
    if subtype == "/Image":
        return "image"
    if subtype == "/Form":
        return "form"
    if type_ in _FONT_TYPES or not _FONT_PROGRAM_KEYS.isdisjoint(keys):
        return "font"
    if subtype in _FONT_SUBTYPES:
        return "font"
    return "object"


def _is_annot(node: pikepdf.Object, keys: frozenset[str]) -> bool:
    if isinstance(node, pikepdf.Stream):
        return False
    if "/Type" in keys and node.get("/Type") == "/Annot":
        return True
    return "/Rect" in keys and isinstance(node.get("/Subtype"), pikepdf.Name)


def _classify(value: pikepdf.Object | None) -> tuple[str | None, pikepdf.Object | None]:
    """Is ``value`` something to cut wherever it is referenced from?

    Returns (field name, replacement); replacement None means "remove the reference".
    """
    if isinstance(value, pikepdf.Array):
        if len(value) >= 1 and value[0] == "/ICCBased":
            return "pdf:ICC-description", _device_space(value)
        return None, None
    if not isinstance(value, (pikepdf.Dictionary, pikepdf.Stream)):
        return None, None
    keys = value.keys()
    if ("/Type" in keys and value.get("/Type") in _SIGNATURE_TYPES) or (
        "/ByteRange" in keys and "/Contents" in keys
    ):
        # A signature dictionary: signer certificate, name, location, reason, time.
        return "pdf:signature", None
    action = value.get("/S") if "/S" in keys else None
    if isinstance(action, pikepdf.Name):
        bad = BAD_ACTIONS.get(str(action))
        if bad is not None:
            return bad, None
        if action == "/URI":
            uri = value.get("/URI")
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
