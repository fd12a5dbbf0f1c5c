"""Interactive features: appearances, annotations by subtype, form fields and the interactive
form, actions by type (ISO 32000-2, 12.5-12.7, 14.11.2)."""

from __future__ import annotations

from scrubbers._pdf_schema._base import OPEN, Keys, merged_keys

# 12.5.2, Table 166: entries common to all annotation dictionaries.
_ANNOT: Keys = {
    "/Type": None,
    "/Subtype": None,
    "/Rect": None,
    "/Contents": None,
    "/P": "pagenode",
    "/NM": None,
    "/M": None,
    "/F": None,
    "/AP": "appearance",
    "/AS": None,
    "/Border": None,
    "/C": None,
    "/StructParent": None,
    "/OC": "oc",
    "/AF": "filespec",
    "/ca": None,
    "/CA": None,
    "/BM": None,
    "/Lang": None,
}
# 12.5.6.2, Table 170: markup annotations.
_MARKUP: Keys = merged_keys(
    _ANNOT,
    {
        "/T": None,
        "/Popup": "annot",
        "/RC": None,
        "/CreationDate": None,
        "/IRT": "annot",
        "/Subj": None,
        "/RT": None,
        "/IT": None,
        "/ExData": OPEN,
    },
)
# 12.7.4, Tables 226-233: field dictionaries (common, variable text, buttons, text,
# choice, signature fields). A widget annotation merged with its field has both.
_FIELD: Keys = {
    "/FT": None,
    "/Parent": "field",
    "/Kids": "field",
    "/T": None,
    "/TU": None,
    "/TM": None,
    "/Ff": None,
    "/V": "fieldvalue",
    "/DV": "fieldvalue",
    "/AA": "aa",
    "/DA": None,
    "/Q": None,
    "/DS": None,
    "/RV": None,
    "/Opt": None,
    "/MaxLen": None,
    "/TI": None,
    "/I": None,
    "/Lock": "open",
    "/SV": "open",
}
# 12.6.2, Table 196: entries common to all actions; per type, Tables 202-221.
_ACTION: Keys = {"/Type": None, "/S": None, "/Next": "action"}

TABLES: dict[str, Keys] = {
    # 12.5.5, Table 170: appearance dictionaries; each entry a stream or a dictionary of
    # streams by appearance state.
    "appearance": {"/N": "appearancestate", "/R": "appearancestate", "/D": "appearancestate"},
    # 12.5.4, Table 168 (border styles), and 14.11.2.2, Table 397 (box styles).
    "borderstyle": {"/Type": None, "/W": None, "/S": None, "/D": None},
    "boxstyle": {"/C": None, "/W": None, "/S": None, "/D": None},
    # 12.5.4, Table 169: border effects.
    "bordereffect": {"/S": None, "/I": None},
    # 12.5.6.19, Table 192: appearance characteristics; 12.7.8.3, Table 250: icon fit.
    "mk": {
        "/R": None,
        "/BC": None,
        "/BG": None,
        "/CA": None,
        "/RC": None,
        "/AC": None,
        "/I": "xobject",
        "/RI": "xobject",
        "/IX": "xobject",
        "/IF": "iconfit",
        "/TP": None,
    },
    "iconfit": {"/SW": None, "/S": None, "/A": None, "/FB": None},
    # 12.5.6.2-24: annotations by subtype (Tables 171-193).
    "annot.common": _ANNOT,
    "annot.Text": merged_keys(
        _MARKUP, {"/Open": None, "/Name": None, "/State": None, "/StateModel": None}
    ),
    "annot.Link": merged_keys(
        _ANNOT,
        {
            "/A": "action",
            "/Dest": "dest",
            "/H": None,
            "/PA": "action",
            "/QuadPoints": None,
            "/BS": "borderstyle",
        },
    ),
    "annot.FreeText": merged_keys(
        _MARKUP,
        {
            "/DA": None,
            "/Q": None,
            "/DS": None,
            "/CL": None,
            "/BE": "bordereffect",
            "/RD": None,
            "/BS": "borderstyle",
            "/LE": None,
        },
    ),
    "annot.Line": merged_keys(
        _MARKUP,
        {
            "/L": None,
            "/BS": "borderstyle",
            "/LE": None,
            "/IC": None,
            "/LL": None,
            "/LLE": None,
            "/Cap": None,
            "/LLO": None,
            "/CP": None,
            "/Measure": OPEN,
            "/CO": None,
        },
    ),
    "annot.Square": merged_keys(
        _MARKUP, {"/BS": "borderstyle", "/IC": None, "/BE": "bordereffect", "/RD": None}
    ),
    "annot.Polygon": merged_keys(
        _MARKUP,
        {
            "/Vertices": None,
            "/LE": None,
            "/BS": "borderstyle",
            "/IC": None,
            "/BE": "bordereffect",
            "/Measure": OPEN,
            "/Path": None,
        },
    ),
    "annot.TextMarkup": merged_keys(_MARKUP, {"/QuadPoints": None}),
    "annot.Caret": merged_keys(_MARKUP, {"/RD": None, "/Sy": None}),
    "annot.Stamp": merged_keys(_MARKUP, {"/Name": None}),
    "annot.Ink": merged_keys(_MARKUP, {"/InkList": None, "/BS": "borderstyle", "/Path": None}),
    "annot.Popup": merged_keys(_ANNOT, {"/Parent": "annot", "/Open": None}),
    "annot.FileAttachment": merged_keys(_MARKUP, {"/FS": "filespec", "/Name": None}),
    "annot.Sound": merged_keys(_MARKUP, {"/Sound": OPEN, "/Name": None}),
    "annot.Movie": merged_keys(_ANNOT, {"/T": None, "/Movie": OPEN, "/A": OPEN}),
    "annot.Screen": merged_keys(_ANNOT, {"/T": None, "/MK": "mk", "/A": "action", "/AA": "aa"}),
    "annot.Widget": merged_keys(
        _ANNOT,
        _FIELD,
        {
            "/H": None,
            "/MK": "mk",
            "/A": "action",
            "/AA": "aa",
            "/BS": "borderstyle",
            "/Parent": "field",
        },
    ),
    "annot.PrinterMark": merged_keys(_ANNOT, {"/MN": None}),
    "annot.TrapNet": merged_keys(
        _ANNOT, {"/Version": None, "/AnnotStates": None, "/FontFauxing": "font"}
    ),
    "annot.Watermark": merged_keys(_ANNOT, {"/FixedPrint": OPEN}),
    "annot.Redact": merged_keys(
        _MARKUP,
        {
            "/QuadPoints": None,
            "/IC": None,
            "/RO": "xobject",
            "/OverlayText": None,
            "/Repeat": None,
            "/DA": None,
            "/Q": None,
        },
    ),
    "annot.Projection": _MARKUP,
    "annot.3D": merged_keys(
        _ANNOT,
        {"/3DD": OPEN, "/3DV": OPEN, "/3DA": OPEN, "/3DI": None, "/3DB": None, "/3DU": OPEN},
    ),
    "annot.RichMedia": merged_keys(_ANNOT, {"/RichMediaSettings": OPEN, "/RichMediaContent": OPEN}),
    # 12.7.4.1, Table 226 and following: a field that is not also a widget.
    "field.node": _FIELD,
    # 12.7.3, Table 224: the interactive form dictionary.
    "acroform": {
        "/Fields": "field",
        "/NeedAppearances": None,
        "/SigFlags": None,
        "/CO": "field",
        "/DR": "resources",
        "/DA": None,
        "/Q": None,
        "/XFA": OPEN,
    },
    # 12.6.4: actions by type (Tables 202-221).
    "action.GoTo": merged_keys(_ACTION, {"/D": "dest", "/SD": None}),
    "action.GoToR": merged_keys(_ACTION, {"/F": "filespec", "/D": None, "/NewWindow": None}),
    "action.GoToE": merged_keys(
        _ACTION, {"/F": "filespec", "/D": None, "/NewWindow": None, "/T": OPEN}
    ),
    "action.GoToDp": merged_keys(_ACTION, {"/Dp": OPEN}),
    "action.Launch": merged_keys(
        _ACTION, {"/F": "filespec", "/Win": OPEN, "/Mac": OPEN, "/Unix": OPEN, "/NewWindow": None}
    ),
    "action.Thread": merged_keys(_ACTION, {"/F": "filespec", "/D": "thread", "/B": "bead"}),
    "action.URI": merged_keys(_ACTION, {"/URI": None, "/IsMap": None}),
    "action.Sound": merged_keys(
        _ACTION,
        {"/Sound": OPEN, "/Volume": None, "/Synchronous": None, "/Repeat": None, "/Mix": None},
    ),
    "action.Movie": merged_keys(_ACTION, {"/Annotation": "annot", "/T": None, "/Operation": None}),
    "action.Hide": merged_keys(_ACTION, {"/T": "annot", "/H": None}),
    "action.Named": merged_keys(_ACTION, {"/N": None}),
    "action.SubmitForm": merged_keys(
        _ACTION, {"/F": "filespec", "/Fields": "field", "/Flags": None, "/CharSet": None}
    ),
    "action.ResetForm": merged_keys(_ACTION, {"/Fields": "field", "/Flags": None}),
    "action.ImportData": merged_keys(_ACTION, {"/F": "filespec"}),
    "action.SetOCGState": merged_keys(_ACTION, {"/State": "ocg", "/PreserveRB": None}),
    "action.Rendition": merged_keys(
        _ACTION, {"/R": OPEN, "/AN": "annot", "/OP": None, "/JS": "data"}
    ),
    "action.Trans": merged_keys(_ACTION, {"/Trans": "transition"}),
    "action.GoTo3DView": merged_keys(_ACTION, {"/TA": "annot", "/V": OPEN}),
    "action.JavaScript": merged_keys(_ACTION, {"/JS": "data"}),
    "action.RichMediaExecute": merged_keys(_ACTION, {"/TA": "annot", "/TI": OPEN, "/CMD": OPEN}),
    "action.common": _ACTION,
}
