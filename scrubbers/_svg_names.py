"""The names an SVG file gives itself (ids, classes, filter results), replaced by neutral ones.

Illustrator writes each layer's name as its id (``<g id="Calque_de_Marie">``), editors keep
labels the author typed in ids and classes, and any of them can carry a mark made for one
recipient. They are never drawn: only their use as references matters. So, in document
order, every id becomes ``i1, i2, ...``, every class ``c1, c2, ...``, every filter result
``r1, r2, ...``, and every reference follows: ``#id`` in ``href``, ``url(#id)`` in attributes,
``style`` and ``<style>`` rules, ``#id``/``.class`` selectors, filter ``in``/``in2``. A
reference to a name nothing carries, a selector naming nothing, and an attribute selector (its
quoted value is free text) are removed. A cleaned file already has these names, so cleaning it
again changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from scrubbers import _xml
from scrubbers._svg_values import FILTER_INPUTS
from scrubbers._xml import Element

XLINK = "http://www.w3.org/1999/xlink"
_URL = re.compile(r"url\(\s*([\"']?)#([^\"')\s]+)\1\s*\)", re.I)
_SELECTOR_NAME = re.compile(r"([#.])(-?[A-Za-z_][\w-]*)")
_RULE = re.compile(r"([^{}]*)\{([^{}]*)\}")
# Selectors Level 3 pseudo-classes that apply to a drawing; any other name after ":" (and
# every "::" pseudo-element) is text no renderer matches.
_PSEUDO_CLASSES = frozenset(
    """hover active focus visited link first-child last-child only-child nth-child
    nth-last-child first-of-type last-of-type only-of-type nth-of-type nth-last-of-type not
    root empty""".split()
)
_NTH_ARGUMENT = re.compile(r"\(\s*(?:odd|even|[+-]?\d*n?(?:\s*[+-]\s*\d+)?)\s*\)", re.I)
_SELECTOR_WORD = re.compile(r"(::?|[#.])?(-?[A-Za-z_][\w-]*)")


@dataclass
class _Names:
    prefix: str
    table: dict[str, str] = field(default_factory=dict)
    renamed: bool = False

    def give(self, name: str) -> str:
        new = self.table.setdefault(name, f"{self.prefix}{len(self.table) + 1}")
        self.renamed |= new != name
        return new


@dataclass
class _Renaming:
    ids: _Names = field(default_factory=lambda: _Names("i"))
    classes: _Names = field(default_factory=lambda: _Names("c"))
    results: _Names = field(default_factory=lambda: _Names("r"))
    removed: set[str] = field(default_factory=set)
    elements: frozenset[str] = frozenset()

    def report(self) -> set[str]:
        names = {
            "svg:id": self.ids.renamed,
            "svg:class": self.classes.renamed,
            "svg:filter-result": self.results.renamed,
        }
        return self.removed | {name for name, renamed in names.items() if renamed}


def rename(root: Element, style_elements: list[Element], elements: frozenset[str]) -> set[str]:
    """Rename in place; returns the report names (``svg:id`` ... when a name changed).
    ``elements``: the element names a type selector may name (the kept ones)."""
    state = _Renaming(elements=elements)
    for element in root.iter():
        _give_names(element, state)
    for element in root.iter():
        _follow_references(element, state)
    for style in style_elements:
        if style.text:
            style.text = _rename_rules(style.text, state)
    return state.report()


def _give_names(element: Element, state: _Renaming) -> None:
    name = element.get("id")
    if name is not None:
        if name in state.ids.table:
            del element.attrib["id"]  # a second element with the same id is never targeted
            state.removed.add("svg:duplicate-id")
        else:
            element.set("id", state.ids.give(name))
    classes = element.get("class")
    if classes is not None:
        tokens = list(dict.fromkeys(classes.split()))
        if tokens:
            element.set("class", " ".join(state.classes.give(t) for t in tokens))
        else:
            del element.attrib["class"]
    result = element.get("result")
    if result is not None:
        element.set("result", state.results.give(result))


def _follow_references(element: Element, state: _Renaming) -> None:
    for name in list(element.attrib):
        value = element.attrib[name]
        local, uri = _xml.local_name(name), _xml.namespace(name)
        if local == "href" and uri in ("", XLINK) and value.strip().startswith("#"):
            target = state.ids.table.get(value.strip()[1:])
            _set_or_drop(element, name, None if target is None else "#" + target, state)
        elif uri == "" and local in ("in", "in2") and value.strip() not in FILTER_INPUTS:
            # No such result: the primitive takes the previous result, as with no `in`.
            result = state.results.table.get(value.strip())
            _set_or_drop(element, name, result, state)
        elif uri == "" and local == "style":
            _set_or_drop(element, name, _rename_declarations(value, state) or None, state)
        elif uri == "" and "url(" in value.lower():
            _set_or_drop(element, name, _rename_urls(value, state), state)


def _set_or_drop(element: Element, name: str, value: str | None, state: _Renaming) -> None:
    if value is None:
        del element.attrib[name]
        state.removed.add("svg:dangling-reference")
    else:
        element.set(name, value)


def _rename_urls(css: str, state: _Renaming) -> str | None:
    """``css`` with each ``url(#id)`` renamed; None when one names no element."""
    dangling = False

    def renamed(match: re.Match[str]) -> str:
        nonlocal dangling
        target = state.ids.table.get(match.group(2))
        if target is None:
            dangling = True
            return match.group(0)
        return f"url(#{target})"

    out = _URL.sub(renamed, css)
    return None if dangling else out


def _rename_declarations(css: str, state: _Renaming) -> str:
    kept = []
    for declaration in css.split(";"):
        if not declaration.strip():
            continue
        renamed = _rename_urls(declaration, state)
        if renamed is None:
            state.removed.add("svg:dangling-reference")
        else:
            kept.append(renamed)
    return ";".join(kept)


def _rename_rules(css: str, state: _Renaming) -> str:
    rules = []
    for match in _RULE.finditer(css):
        selectors = [s for s in (_rename_selector(s, state) for s in match.group(1).split(","))
                     if s]  # fmt: skip
        declarations = _rename_declarations(match.group(2), state)
        if selectors:
            rules.append(f"{','.join(selectors)}{{{declarations}}}")
        else:
            state.removed.add("svg:style-rule")
    return "\n".join(rules) + "\n" if rules else ""


def _rename_selector(selector: str, state: _Renaming) -> str | None:
    """One selector with its names renamed; None when it names what nothing carries (it
    selects nothing) or compares attribute values (free text in quotes)."""
    if "[" in selector or "'" in selector or '"' in selector:
        state.removed.add("svg:style-rule")
        return None
    unknown = False
    tables: dict[str, Callable[[str], str | None]] = {
        "#": state.ids.table.get,
        ".": state.classes.table.get,
    }

    def renamed(match: re.Match[str]) -> str:
        nonlocal unknown
        new = tables[match.group(1)](match.group(2))
        if new is None:
            unknown = True
            return match.group(0)
        return match.group(1) + new

    out = _SELECTOR_NAME.sub(renamed, selector.strip())
    if unknown or not _words_known(out, state.elements):
        state.removed.add("svg:style-rule")
        return None
    return out


def _words_known(selector: str, elements: frozenset[str]) -> bool:
    """Every word of a renamed selector is an element we keep, a listed pseudo-class, or a
    name just given (i1, c1): nothing else is matched by a renderer, so it is free text."""
    for prefix, word in _SELECTOR_WORD.findall(_NTH_ARGUMENT.sub("()", selector)):
        if prefix == "::" or (prefix == ":" and word.lower() not in _PSEUDO_CLASSES):
            return False
        if not prefix and word not in elements:
            return False
    return True
