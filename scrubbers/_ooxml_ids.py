"""Relationship ids of an OOXML package: renumbered, so that none is free text.

A relationship's ``Id`` (ECMA-376 Part 2 §9.3.2.2) is any XML ID its writer chose, and the
part it belongs to names it again in every reference (``r:id``, ``r:embed``, ``r:link``,
``r:dm`` ... and VML's ``o:relid``): a value no reader shows, which would carry a mark per
copy through any cleaning that keeps it. Each ``.rels`` part's ids become ``rId1``,
``rId2`` ... in document order, and the references of its source part follow; a reference to
no relationship of that part is one Office repairs away, and goes.
"""

from __future__ import annotations

from scrubbers import _xml
from scrubbers._xml import Element

RELATIONSHIP_ID = "ooxml:relationship-id"  # an Id (and its references) renumbered
DANGLING = "ooxml:dangling-relationship"  # a reference to no relationship of its part

# The relationships namespace of both editions: every attribute in it names a relationship
# of the part's own .rels (r:id, r:embed, r:link, r:pict, r:dm, r:lo, r:qs, r:cs, ...).
R_NS = frozenset(
    {
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        "http://purl.oclc.org/ooxml/officeDocument/relationships",
    }
)
_ORDER_ATTRIBUTES = ("Type", "Target", "TargetMode")
_VML_O = "urn:schemas-microsoft-com:office:office"
# SmartArt: the diagram data part names the relationship, in the .rels of the part that
# holds the diagram, to its cached drawing ([MS-ODRAWXML] 2.6.x, dsp:dataModelExt/@relId).
_DIAGRAM_DRAWING = "http://schemas.microsoft.com/office/drawing/2008/diagram"


def is_reference(name: str) -> bool:
    """Whether an attribute (Clark name) names a relationship of its part's .rels."""
    uri = _xml.namespace(name)
    return uri in R_NS or (uri == _VML_O and _xml.local_name(name) == "relid")


def drop_duplicates(rels_root: Element, removed: set[str]) -> None:
    """A second relationship of an id already given is one no reference can name (OPC
    forbids it): removed before anything follows it."""
    seen: set[str] = set()
    kept: list[Element] = []
    for child in rels_root:
        rel_id = child.get("Id", "")
        if rel_id in seen:
            removed.add(RELATIONSHIP_ID)
            continue
        seen.add(rel_id)
        kept.append(child)
    rels_root[:] = kept


def renumber(rels_root: Element, removed: set[str]) -> dict[str, str]:
    """Sort the relationships of one .rels part (ids unique) and give them the ids rId1,
    rId2 ... in that order; the old id -> new id."""
    renamed: dict[str, str] = {}
    # Their order means nothing to a reader, and n relationships have n! orders to choose
    # from: one order, by type, target and mode (not reported by itself, like the order of
    # the zip members: every writer has its own).
    rels_root[:] = sorted(
        rels_root, key=lambda rel: tuple(rel.get(name, "") for name in _ORDER_ATTRIBUTES)
    )
    for number, child in enumerate(rels_root, 1):
        old, new = child.get("Id", ""), f"rId{number}"
        renamed[old] = new
        if old != new:
            child.set("Id", new)
            removed.add(RELATIONSHIP_ID)
    return renamed


def dangling_references(root: Element, renamed: dict[str, str]) -> set[str]:
    """The ids the part's references name that its .rels does not have ("" names none on
    purpose: PowerPoint's click actions carry ``r:id=""``)."""
    return {
        value
        for element in root.iter()
        for name, value in element.attrib.items()
        if is_reference(name) and value != "" and value not in renamed
    }


def rename_references(root: Element, renamed: dict[str, str], removed: set[str]) -> None:
    """Rewrite every reference through ``renamed``; one to no relationship goes."""
    for element in root.iter():
        for name in list(element.attrib):
            if not is_reference(name):
                continue
            value = element.attrib[name]
            if value == "":
                continue
            if value not in renamed:
                del element.attrib[name]
                removed.add(DANGLING)
            elif renamed[value] != value:
                element.set(name, renamed[value])


def rename_diagram_drawing(
    root: Element, holder_renamed: dict[str, str], removed: set[str]
) -> None:
    """Rewrite the diagram data part's reference to its cached drawing through the ids of
    the part holding the diagram; a stale one goes (Office draws the diagram again)."""
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag != f"{{{_DIAGRAM_DRAWING}}}dataModelExt":
                continue
            value = child.get("relId", "")
            if value in holder_renamed:
                child.set("relId", holder_renamed[value])
            else:
                parent.remove(child)
                removed.add(DANGLING)
