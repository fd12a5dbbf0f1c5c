"""Word field codes that load from elsewhere, and legacy VML read as the XML it means."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from scrubbers import _xml
from scrubbers._ooxml_markup import W_NS
from scrubbers._ooxml_parts import EXTERNAL_FIELD
from scrubbers._xml import Element


def is_vml(name: str, content_type: str) -> bool:
    return "vmldrawing" in content_type.casefold() or name.casefold().endswith(".vml")


# Legacy VML as Office writes it is not well-formed XML: conditional sections for old
# browsers (``<![if gte mso 9]>`` ... ``<![endif]>``, whose content Office reads) and HTML's
# unclosed ``<br>`` in text boxes. Office reads it with a forgiving parser; so do we, by
# turning it into the XML it means before the strict parse.
_VML_CONDITIONAL = re.compile(rb"<!\[(?:if[^\]>]*|endif)\]>", re.I)
_VML_BR = re.compile(rb"<br\s*>", re.I)


def vml_as_xml(untrusted_xml: bytes) -> bytes:
    return _VML_BR.sub(b"<br/>", _VML_CONDITIONAL.sub(b"", untrusted_xml))


# Field instructions that make Word fetch something when the document is opened or its
# fields updated (IMPORT and INCLUDE are the old names of INCLUDEPICTURE and INCLUDETEXT).
_EXTERNAL_FIELDS = {"INCLUDEPICTURE", "INCLUDETEXT", "LINK", "DDE", "DDEAUTO", "IMPORT", "INCLUDE"}
_FIELD_WORD = re.compile(r"^\s*([A-Za-z]+)")
_HYPERLINK_FIELD = re.compile(r'^\s*HYPERLINK\s+(?:\\[a-z]\s+)*"([^"]+)"', re.I)


def _field_word(instruction: str) -> str:
    match = _FIELD_WORD.match(instruction)
    return match.group(1).upper() if match else ""


@dataclass
class _Field:
    begin: int  # index in the document-order list of field markers
    instruction: list[str] = field(default_factory=list)
    separate: int | None = None


def neutralise_fields(root: Element, removed: set[str], add_link: Callable[[str], None]) -> None:
    """Remove the instructions of fields that load from elsewhere, keeping their last result
    (the text or picture Word showed) as plain content. Simple fields (``w:fldSimple``) are
    unwrapped; complex ones (``w:fldChar`` begin/separate/end around ``w:instrText``, which
    may span paragraphs and nest) lose their markers and instruction."""
    markers: list[Element] = []
    parents: dict[Element, Element] = {}
    simple: list[Element] = []
    for parent in root.iter():
        for child in parent:
            parents[child] = parent
            tag = child.tag
            if not isinstance(tag, str) or _xml.namespace(tag) not in W_NS:
                continue
            local = _xml.local_name(tag)
            if local in ("fldChar", "instrText"):
                markers.append(child)
            elif local == "fldSimple":
                simple.append(child)
    # root.iter() is document order, so `markers` is too.
    stack: list[_Field] = []
    finished: list[tuple[_Field, int]] = []
    for index, marker in enumerate(markers):
        local = _xml.local_name(marker.tag)
        if local == "instrText":
            if stack and stack[-1].separate is None:
                stack[-1].instruction.append(marker.text or "")
            continue
        kind = next(
            (v for k, v in marker.attrib.items() if _xml.local_name(k) == "fldCharType"), ""
        )
        if kind == "begin":
            stack.append(_Field(index))
        elif kind == "separate" and stack:
            stack[-1].separate = index
        elif kind == "end" and stack:
            finished.append((stack.pop(), index))
    doomed: set[int] = set()
    for fld, end in finished:
        instruction = "".join(fld.instruction)
        if _field_word(instruction) in _EXTERNAL_FIELDS:
            last = fld.separate if fld.separate is not None else end
            doomed.update(range(fld.begin, last + 1))
            doomed.add(end)
            removed.add(EXTERNAL_FIELD)
        else:
            link = _HYPERLINK_FIELD.match(instruction)
            if link:
                add_link(link.group(1))
    for index in sorted(doomed):
        marker = markers[index]
        parents[marker].remove(marker)
    for element in simple:
        instruction = next(
            (v for k, v in element.attrib.items() if _xml.local_name(k) == "instr"), ""
        )
        if _field_word(instruction) in _EXTERNAL_FIELDS:
            removed.add(EXTERNAL_FIELD)
            parent = parents[element]
            pieces: list[Element | str | None] = [parent.text]
            for sibling in list(parent):
                if sibling is element:
                    pieces.append(sibling.text)
                    for grandchild in list(sibling):
                        pieces.extend((grandchild, grandchild.tail))
                else:
                    pieces.append(sibling)
                pieces.append(sibling.tail)
            _xml.splice(parent, pieces)
            for grandchild in parent:
                parents[grandchild] = parent
        else:
            link = _HYPERLINK_FIELD.match(instruction)
            if link:
                add_link(link.group(1))
