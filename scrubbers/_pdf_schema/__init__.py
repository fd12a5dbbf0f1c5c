"""The keys ISO 32000-2 (PDF 2.0) defines for each kind of object, as data.

The PDF scrubber keeps, in every object reachable from the trailer, only the keys listed
here for that object's kind; any other key (``/PTEX.FileName``, ``/PTEX.InfoDict``,
vendor-prefixed keys, second-class names, keys of no version of the standard) is removed
and reported by name. Keys the standard defines but that the scrubber removes anyway
(metadata, scripts, signatures...) stay listed: `scrubbers._pdf_walk` removes them under
their own report names.

Each table maps a key to the kind of its value (how the walk types the objects it leads
to), or to None when the value is a number, name, string or boolean. The kinds:

- a name of `TABLES`: a dictionary or stream of that kind (in an array: each element);
- a name of `DISPATCH`: one of several kinds, chosen by a key of the object itself
  (``/Subtype`` of a font, ``/S`` of an action);
- ``dictof:K``: a dictionary whose keys are names chosen by the document (resource names,
  appearance states) and whose values are of kind K;
- ``nametree:K`` / ``numtree:K``: a name or number tree whose values are of kind K;
- ``open``: a dictionary whose keys the standard leaves to its writer (marked-content
  properties, structure attributes, developer extensions): its keys are kept, and what it
  leads to is typed by its own ``/Type`` where it has one (`OPEN_TYPES`).

Section numbers are those of ISO 32000-2:2020.

The tables are grouped by the part of the standard they come from: `document` (structure,
navigation), `graphics` (what pages draw with), `fonts`, `interactive` (annotations, forms,
actions); this module joins them and holds how the walk picks a table (`DISPATCH`,
`OPEN_TYPES`).
"""

from __future__ import annotations

from scrubbers._pdf_schema import document, fonts, graphics, interactive
from scrubbers._pdf_schema._base import OPEN, Keys

__all__ = [
    "ARRAY_ELEMENT",
    "DISPATCH",
    "OPEN",
    "OPEN_SUBTYPES",
    "OPEN_TYPES",
    "STREAM",
    "TABLES",
    "Keys",
]


# 7.3.8.2, Table 5: entries common to all stream dictionaries. /F, /FFilter and
# /FDecodeParms (the data kept in an external file) are left out on purpose: the file
# named is a path on the author's disk, and no reader fetches it.
STREAM: Keys = {
    "/Length": None,
    "/Filter": None,
    "/DecodeParms": "decodeparms",
    "/DL": None,
}


def _joined(*groups: dict[str, Keys]) -> dict[str, Keys]:
    tables: dict[str, Keys] = {}
    for group in groups:
        for kind, keys in group.items():
            if kind in tables:
                raise RuntimeError(f"two tables for the kind {kind!r}")
            tables[kind] = keys
    return tables


TABLES: dict[str, Keys] = _joined(
    document.TABLES,
    graphics.TABLES,
    fonts.TABLES,
    interactive.TABLES,
    {
        # A value that is a number, name, string or boolean by the standard but a dictionary
        # in this file: nothing in it is defined.
        "none": {},
    },
)

# Kinds decided by one key of the object: (key, {value: kind}, kind when absent/unknown).
DISPATCH: dict[str, tuple[str, dict[str, str], str]] = {
    # 9.5, Table 108: font types.
    "font": (
        "/Subtype",
        {
            "/Type1": "font.simple",
            "/MMType1": "font.simple",
            "/TrueType": "font.simple",
            "/Type3": "font.type3",
            "/Type0": "font.type0",
            "/CIDFontType0": "font.cid",
            "/CIDFontType2": "font.cid",
        },
        "font.simple",
    ),
    # 8.8: external objects.
    "xobject": (
        "/Subtype",
        {"/Image": "image", "/Form": "form", "/PS": "psxobject"},
        "image",
    ),
    # 12.5.6.1, Table 171: annotation types.
    "annot": (
        "/Subtype",
        {
            "/Text": "annot.Text",
            "/Link": "annot.Link",
            "/FreeText": "annot.FreeText",
            "/Line": "annot.Line",
            "/Square": "annot.Square",
            "/Circle": "annot.Square",
            "/Polygon": "annot.Polygon",
            "/PolyLine": "annot.Polygon",
            "/Highlight": "annot.TextMarkup",
            "/Underline": "annot.TextMarkup",
            "/Squiggly": "annot.TextMarkup",
            "/StrikeOut": "annot.TextMarkup",
            "/Caret": "annot.Caret",
            "/Stamp": "annot.Stamp",
            "/Ink": "annot.Ink",
            "/Popup": "annot.Popup",
            "/FileAttachment": "annot.FileAttachment",
            "/Sound": "annot.Sound",
            "/Movie": "annot.Movie",
            "/Screen": "annot.Screen",
            "/Widget": "annot.Widget",
            "/PrinterMark": "annot.PrinterMark",
            "/TrapNet": "annot.TrapNet",
            "/Watermark": "annot.Watermark",
            "/3D": "annot.3D",
            "/Redact": "annot.Redact",
            "/Projection": "annot.Projection",
            "/RichMedia": "annot.RichMedia",
        },
        "annot.common",
    ),
    # 12.7.4.1: a field's kid is a field, or a widget annotation.
    "field": ("/Subtype", {"/Widget": "annot.Widget"}, "field.node"),
    # 12.6.4.1, Table 201: action types.
    "action": (
        "/S",
        {
            name: "action." + name[1:]
            for name in (
                "/GoTo",
                "/GoToR",
                "/GoToE",
                "/GoToDp",
                "/Launch",
                "/Thread",
                "/URI",
                "/Sound",
                "/Movie",
                "/Hide",
                "/Named",
                "/SubmitForm",
                "/ResetForm",
                "/ImportData",
                "/SetOCGState",
                "/Rendition",
                "/Trans",
                "/GoTo3DView",
                "/JavaScript",
                "/RichMediaExecute",
            )
        },
        "action.common",
    ),
    # 7.7.3.1: a page tree node's kid is a node or a page.
    "pagenode": ("/Type", {"/Pages": "pages", "/Page": "page"}, "page"),
    # 14.7.2: a structure element's kid, and its parent.
    "structkid": ("/Type", {"/MCR": "mcr", "/OBJR": "objr"}, "structelem"),
    "structparent": ("/Type", {"/StructTreeRoot": "structtreeroot"}, "structelem"),
    # 8.11.2: optional content: a group or a membership dictionary.
    "oc": ("/Type", {"/OCMD": "ocmd"}, "ocg"),
    # 14.6.2: marked-content properties: optional content, or the writer's own keys.
    "properties": ("/Type", {"/OCG": "ocg", "/OCMD": "ocmd"}, OPEN),
    # 12.5.5: an appearance is a form XObject, or a dictionary of them by state.
    "appearancestate": ("/Subtype", {"/Form": "form"}, "dictof:xobject"),
    # 12.7.5.2: a field's value is a string, name or array; a signature's a dictionary
    # (removed by the walk under its own name).
    "fieldvalue": ("/Type", {}, OPEN),
    # 12.5.2 /AA and 12.6.3, Tables 197-200: additional actions, by trigger.
    "aa": ("/Type", {}, "dictof:action"),
}

# In arrays, a kind may mean something else: the page of a destination array (12.3.2.2),
# whose other elements are names and numbers.
ARRAY_ELEMENT: dict[str, str] = {"dest": "pagenode"}

# In an open dictionary, an object saying what it is gets that kind's table.
OPEN_TYPES: dict[str, str] = {
    "/Catalog": "catalog",
    "/Pages": "pages",
    "/Page": "page",
    "/Font": "font",
    "/FontDescriptor": "fontdescriptor",
    "/XObject": "xobject",
    "/ExtGState": "extgstate",
    "/Pattern": "pattern",
    "/Annot": "annot",
    "/Action": "action",
    "/Filespec": "filespec",
    "/OCG": "ocg",
    "/OCMD": "ocmd",
    "/StructElem": "structelem",
    "/StructTreeRoot": "structtreeroot",
    "/MCR": "mcr",
    "/OBJR": "objr",
    "/Outlines": "outline",
    "/Encoding": "encoding",
    "/CMap": "cmap",
    "/Group": "group",
    "/Mask": "softmask",
    "/Thread": "thread",
    "/Bead": "bead",
    "/Trans": "transition",
    "/PageLabel": "pagelabel",
}
# An open dictionary's stream without /Type: an image or form by its /Subtype.
OPEN_SUBTYPES: dict[str, str] = {"/Image": "image", "/Form": "form"}
