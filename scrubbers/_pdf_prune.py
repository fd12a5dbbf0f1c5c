"""Keep in each object reachable from the catalog only the keys ISO 32000-2 defines for its
kind (`scrubbers._pdf_schema`); report every other key by name and, in fix mode, remove it.

Part of `scrubbers._pdf_walk.scan`, which runs this first, on the file as it came. The
content streams met on the way are collected for their re-serialisation
(`scrubbers._pdf_streams.rewrite_content`).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import pikepdf

from scrubbers import _pdf_schema as schema
from scrubbers._pdf_fields import DROP_ANYWHERE

N = pikepdf.Name


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
_REMOVED_BY_WALK = frozenset({*DROP_ANYWHERE, "/Metadata", "/EF"})
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


class SchemaWalker:
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
    walker = SchemaWalker(pdf, fix=fix)
    walker.run()
    return walker.found
