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
"""

from __future__ import annotations

from collections.abc import Mapping

Keys = Mapping[str, str | None]

OPEN = "open"


def _keys(*groups: Keys) -> dict[str, str | None]:
    merged: dict[str, str | None] = {}
    for group in groups:
        merged.update(group)
    return merged


# 7.3.8.2, Table 5: entries common to all stream dictionaries. /F, /FFilter and
# /FDecodeParms (the data kept in an external file) are left out on purpose: the file
# named is a path on the author's disk, and no reader fetches it.
STREAM: Keys = {
    "/Length": None,
    "/Filter": None,
    "/DecodeParms": "decodeparms",
    "/DL": None,
}

# 7.10, Tables 38-41: functions (types 0, 2, 3, 4 together).
_FUNCTION: Keys = {
    "/FunctionType": None,
    "/Domain": None,
    "/Range": None,
    "/Size": None,
    "/BitsPerSample": None,
    "/Order": None,
    "/Encode": None,
    "/Decode": None,
    "/C0": None,
    "/C1": None,
    "/N": None,
    "/Functions": "function",
    "/Bounds": None,
}

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
_MARKUP: Keys = _keys(
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
    # 7.7.2, Table 29: document catalog. /URI (a base for relative links, 12.6.4.8) is
    # left out on purpose: writers fill it with the folder the file was saved in
    # (file:///home/<user>/...). /PieceInfo (14.5) is private application data.
    "catalog": {
        "/Type": None,
        "/Version": None,
        "/Extensions": OPEN,
        "/Pages": "pages",
        "/PageLabels": "numtree:pagelabel",
        "/Names": "names",
        "/Dests": "dictof:dest",
        "/ViewerPreferences": "viewerprefs",
        "/PageLayout": None,
        "/PageMode": None,
        "/Outlines": "outline",
        "/Threads": "thread",
        "/OpenAction": "action",
        "/AA": "aa",
        "/AcroForm": "acroform",
        "/Metadata": "metadata",
        "/StructTreeRoot": "structtreeroot",
        "/MarkInfo": "markinfo",
        "/Lang": None,
        "/SpiderInfo": OPEN,
        "/OutputIntents": OPEN,
        "/OCProperties": "ocproperties",
        "/Perms": OPEN,
        "/Legal": OPEN,
        "/Requirements": OPEN,
        "/Collection": OPEN,
        "/NeedsRendering": None,
        "/DSS": OPEN,
        "/AF": "filespec",
        "/DPartRoot": OPEN,
    },
    # 7.7.3.2, Table 30: page tree nodes, with the inheritable page attributes (7.7.3.4).
    "pages": {
        "/Type": None,
        "/Parent": "pages",
        "/Kids": "pagenode",
        "/Count": None,
        "/Resources": "resources",
        "/MediaBox": None,
        "/CropBox": None,
        "/Rotate": None,
    },
    # 7.7.3.3, Table 31: page objects. /PieceInfo and /LastModified (14.5) are private
    # application data (Photoshop keeps IPTC and EXIF there).
    "page": {
        "/Type": None,
        "/Parent": "pages",
        "/Resources": "resources",
        "/MediaBox": None,
        "/CropBox": None,
        "/BleedBox": None,
        "/TrimBox": None,
        "/ArtBox": None,
        "/BoxColorInfo": "dictof:boxstyle",
        "/Contents": "content",
        "/Rotate": None,
        "/Group": "group",
        "/Thumb": "xobject",
        "/B": "bead",
        "/Dur": None,
        "/Trans": "transition",
        "/Annots": "annot",
        "/AA": "aa",
        "/Metadata": "metadata",
        "/StructParents": None,
        "/ID": None,
        "/PZ": None,
        "/SeparationInfo": "separationinfo",
        "/Tabs": None,
        "/TemplateInstantiated": None,
        "/PresSteps": "navnode",
        "/UserUnit": None,
        "/VP": "viewport",
        "/AF": "filespec",
        "/OutputIntents": OPEN,
        "/DPart": OPEN,
    },
    # 7.7.4, Table 32: the name dictionary.
    "names": {
        "/Dests": "nametree:dest",
        "/AP": "nametree:xobject",
        "/JavaScript": "nametree:action",
        "/Pages": "nametree:pagenode",
        "/Templates": "nametree:pagenode",
        "/IDS": "nametree:open",
        "/URLS": "nametree:open",
        "/EmbeddedFiles": "nametree:filespec",
        "/AlternatePresentations": "nametree:open",
        "/Renditions": "nametree:open",
    },
    # 7.8.3, Table 34: resource dictionaries.
    "resources": {
        "/ExtGState": "dictof:extgstate",
        "/ColorSpace": "dictof:colorspace",
        "/Pattern": "dictof:pattern",
        "/Shading": "dictof:shading",
        "/XObject": "dictof:xobject",
        "/Font": "dictof:font",
        "/ProcSet": None,
        "/Properties": "dictof:properties",
    },
    # 7.4, Tables 8 and 10-14: decode parameters of the standard filters.
    "decodeparms": {
        "/Predictor": None,
        "/Colors": None,
        "/BitsPerComponent": None,
        "/Columns": None,
        "/EarlyChange": None,
        "/K": None,
        "/EndOfLine": None,
        "/EncodedByteAlign": None,
        "/Rows": None,
        "/EndOfBlock": None,
        "/BlackIs1": None,
        "/DamagedRowsBeforeError": None,
        "/JBIG2Globals": "data",
        "/ColorTransform": None,
        "/Type": None,
        "/Name": None,
    },
    # 7.8.2: content streams (page contents, glyph procedures): stream keys only.
    "content": {},
    # 7.3.8: a stream of data that is not drawing (a CMap of CIDs, a script): keys only.
    "data": {},
    "function": _FUNCTION,
    # 8.4.5, Table 57: graphics state parameter dictionaries.
    "extgstate": {
        "/Type": None,
        "/LW": None,
        "/LC": None,
        "/LJ": None,
        "/ML": None,
        "/D": None,
        "/RI": None,
        "/OP": None,
        "/op": None,
        "/OPM": None,
        "/Font": "font",
        "/BG": "function",
        "/BG2": "function",
        "/UCR": "function",
        "/UCR2": "function",
        "/TR": "function",
        "/TR2": "function",
        "/HT": OPEN,
        "/FL": None,
        "/SM": None,
        "/SA": None,
        "/BM": None,
        "/SMask": "softmask",
        "/CA": None,
        "/ca": None,
        "/AIS": None,
        "/TK": None,
        "/UseBlackPtComp": None,
        "/HTO": None,
    },
    # 11.6.5.2, Table 142: soft-mask dictionaries.
    "softmask": {
        "/Type": None,
        "/S": None,
        "/G": "xobject",
        "/BC": None,
        "/TR": "function",
    },
    # 8.6: the dictionaries and streams inside colour space arrays, together: ICC profile
    # streams (8.6.5.5, Table 65), CIE-based parameters (8.6.5.2-4, Tables 62-64), tint
    # transforms (functions), DeviceN attributes (8.6.6.5, Tables 70-72), lookup tables.
    "colorspace": _keys(
        _FUNCTION,
        {
            "/N": None,
            "/Alternate": "colorspace",
            "/Range": None,
            "/Metadata": "metadata",
            "/WhitePoint": None,
            "/BlackPoint": None,
            "/Gamma": None,
            "/Matrix": None,
            "/Subtype": None,
            "/Colorants": "dictof:colorspace",
            "/Process": "devicenprocess",
            "/MixingHints": OPEN,
        },
    ),
    "devicenprocess": {"/ColorSpace": "colorspace", "/Components": None},
    # 8.7.3.1, Table 74 (tiling) and 8.7.3.3, Table 75 (shading patterns), together.
    "pattern": {
        "/Type": None,
        "/PatternType": None,
        "/PaintType": None,
        "/TilingType": None,
        "/BBox": None,
        "/XStep": None,
        "/YStep": None,
        "/Resources": "resources",
        "/Matrix": None,
        "/Shading": "shading",
        "/ExtGState": "extgstate",
    },
    # 8.7.4.5, Tables 77-83: shadings of every type, together.
    "shading": {
        "/ShadingType": None,
        "/ColorSpace": "colorspace",
        "/Background": None,
        "/BBox": None,
        "/AntiAlias": None,
        "/Domain": None,
        "/Coords": None,
        "/Matrix": None,
        "/Function": "function",
        "/Extend": None,
        "/BitsPerCoordinate": None,
        "/BitsPerComponent": None,
        "/BitsPerFlag": None,
        "/Decode": None,
        "/VerticesPerRow": None,
    },
    # 8.9.5, Table 87: image dictionaries.
    "image": {
        "/Type": None,
        "/Subtype": None,
        "/Width": None,
        "/Height": None,
        "/ColorSpace": "colorspace",
        "/BitsPerComponent": None,
        "/Intent": None,
        "/ImageMask": None,
        "/Mask": "xobject",
        "/Decode": None,
        "/Interpolate": None,
        "/Alternates": "imagealternate",
        "/SMask": "xobject",
        "/SMaskInData": None,
        "/Name": None,
        "/StructParent": None,
        "/ID": None,
        "/OPI": OPEN,
        "/Metadata": "metadata",
        "/OC": "oc",
        "/AF": "filespec",
        "/Measure": OPEN,
        "/PtData": OPEN,
    },
    # 8.9.5.4, Table 88: alternate images.
    "imagealternate": {"/Image": "xobject", "/DefaultForPrinting": None, "/OC": "oc"},
    # 8.10.2, Table 93: form XObjects. /PieceInfo and /LastModified: see "page".
    "form": {
        "/Type": None,
        "/Subtype": None,
        "/FormType": None,
        "/BBox": None,
        "/Matrix": None,
        "/Resources": "resources",
        "/Group": "group",
        "/Ref": OPEN,
        "/Metadata": "metadata",
        "/StructParent": None,
        "/StructParents": None,
        "/OPI": OPEN,
        "/OC": "oc",
        "/Name": None,
        "/AF": "filespec",
        "/Measure": OPEN,
        "/PtData": OPEN,
    },
    # 8.8.2: PostScript XObjects (deprecated, still defined).
    "psxobject": {"/Type": None, "/Subtype": None, "/Level1": "data"},
    # 8.10.3 and 11.6.6, Tables 94 and 145: group attributes (transparency groups).
    "group": {"/Type": None, "/S": None, "/CS": "colorspace", "/I": None, "/K": None},
    # 14.3.2, Table 347: metadata streams (emptied by the walk; the keys are structure).
    "metadata": {"/Type": None, "/Subtype": None},
    # 9.6.2.1, Table 109: Type 1, multiple master and TrueType fonts (9.6.3).
    "font.simple": {
        "/Type": None,
        "/Subtype": None,
        "/Name": None,
        "/BaseFont": None,
        "/FirstChar": None,
        "/LastChar": None,
        "/Widths": None,
        "/FontDescriptor": "fontdescriptor",
        "/Encoding": "encoding",
        "/ToUnicode": "cmap",
    },
    # 9.6.4, Table 110: Type 3 fonts.
    "font.type3": {
        "/Type": None,
        "/Subtype": None,
        "/Name": None,
        "/FontBBox": None,
        "/FontMatrix": None,
        "/CharProcs": "dictof:content",
        "/Encoding": "encoding",
        "/FirstChar": None,
        "/LastChar": None,
        "/Widths": None,
        "/FontDescriptor": "fontdescriptor",
        "/Resources": "resources",
        "/ToUnicode": "cmap",
    },
    # 9.7.6.1, Table 119: Type 0 (composite) fonts.
    "font.type0": {
        "/Type": None,
        "/Subtype": None,
        "/BaseFont": None,
        "/Encoding": "cmap",
        "/DescendantFonts": "font",
        "/ToUnicode": "cmap",
    },
    # 9.7.4.1, Table 115: CIDFonts.
    "font.cid": {
        "/Type": None,
        "/Subtype": None,
        "/BaseFont": None,
        "/CIDSystemInfo": "cidsysteminfo",
        "/FontDescriptor": "fontdescriptor",
        "/DW": None,
        "/W": None,
        "/DW2": None,
        "/W2": None,
        "/CIDToGIDMap": "data",
    },
    # 9.7.3, Table 114: CIDSystemInfo dictionaries.
    "cidsysteminfo": {"/Registry": None, "/Ordering": None, "/Supplement": None},
    # 9.8.1, Table 120, and 9.8.3, Tables 121-122 (CIDFonts): font descriptors.
    "fontdescriptor": {
        "/Type": None,
        "/FontName": None,
        "/FontFamily": None,
        "/FontStretch": None,
        "/FontWeight": None,
        "/Flags": None,
        "/FontBBox": None,
        "/ItalicAngle": None,
        "/Ascent": None,
        "/Descent": None,
        "/Leading": None,
        "/CapHeight": None,
        "/XHeight": None,
        "/StemV": None,
        "/StemH": None,
        "/AvgWidth": None,
        "/MaxWidth": None,
        "/MissingWidth": None,
        "/FontFile": "fontfile",
        "/FontFile2": "fontfile",
        "/FontFile3": "fontfile",
        "/CharSet": None,
        "/Style": "fontstyle",
        "/Lang": None,
        "/FD": "dictof:fontdescriptor",
        "/CIDSet": "data",
    },
    "fontstyle": {"/Panose": None},
    # 9.9, Table 124: embedded font programs.
    "fontfile": {
        "/Length1": None,
        "/Length2": None,
        "/Length3": None,
        "/Subtype": None,
        "/Metadata": "metadata",
    },
    # 9.6.5, Table 112: encoding dictionaries.
    "encoding": {"/Type": None, "/BaseEncoding": None, "/Differences": None},
    # 9.7.5.3, Table 118: embedded CMap streams (also ToUnicode, 9.10.3).
    "cmap": {
        "/Type": None,
        "/CMapName": None,
        "/CIDSystemInfo": "cidsysteminfo",
        "/WMode": None,
        "/UseCMap": "cmap",
    },
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
    "annot.Text": _keys(
        _MARKUP, {"/Open": None, "/Name": None, "/State": None, "/StateModel": None}
    ),
    "annot.Link": _keys(
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
    "annot.FreeText": _keys(
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
    "annot.Line": _keys(
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
    "annot.Square": _keys(
        _MARKUP, {"/BS": "borderstyle", "/IC": None, "/BE": "bordereffect", "/RD": None}
    ),
    "annot.Polygon": _keys(
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
    "annot.TextMarkup": _keys(_MARKUP, {"/QuadPoints": None}),
    "annot.Caret": _keys(_MARKUP, {"/RD": None, "/Sy": None}),
    "annot.Stamp": _keys(_MARKUP, {"/Name": None}),
    "annot.Ink": _keys(_MARKUP, {"/InkList": None, "/BS": "borderstyle", "/Path": None}),
    "annot.Popup": _keys(_ANNOT, {"/Parent": "annot", "/Open": None}),
    "annot.FileAttachment": _keys(_MARKUP, {"/FS": "filespec", "/Name": None}),
    "annot.Sound": _keys(_MARKUP, {"/Sound": OPEN, "/Name": None}),
    "annot.Movie": _keys(_ANNOT, {"/T": None, "/Movie": OPEN, "/A": OPEN}),
    "annot.Screen": _keys(_ANNOT, {"/T": None, "/MK": "mk", "/A": "action", "/AA": "aa"}),
    "annot.Widget": _keys(
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
    "annot.PrinterMark": _keys(_ANNOT, {"/MN": None}),
    "annot.TrapNet": _keys(
        _ANNOT, {"/Version": None, "/AnnotStates": None, "/FontFauxing": "font"}
    ),
    "annot.Watermark": _keys(_ANNOT, {"/FixedPrint": OPEN}),
    "annot.Redact": _keys(
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
    "annot.3D": _keys(
        _ANNOT,
        {"/3DD": OPEN, "/3DV": OPEN, "/3DA": OPEN, "/3DI": None, "/3DB": None, "/3DU": OPEN},
    ),
    "annot.RichMedia": _keys(_ANNOT, {"/RichMediaSettings": OPEN, "/RichMediaContent": OPEN}),
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
    "action.GoTo": _keys(_ACTION, {"/D": "dest", "/SD": None}),
    "action.GoToR": _keys(_ACTION, {"/F": "filespec", "/D": None, "/NewWindow": None}),
    "action.GoToE": _keys(_ACTION, {"/F": "filespec", "/D": None, "/NewWindow": None, "/T": OPEN}),
    "action.GoToDp": _keys(_ACTION, {"/Dp": OPEN}),
    "action.Launch": _keys(
        _ACTION, {"/F": "filespec", "/Win": OPEN, "/Mac": OPEN, "/Unix": OPEN, "/NewWindow": None}
    ),
    "action.Thread": _keys(_ACTION, {"/F": "filespec", "/D": "thread", "/B": "bead"}),
    "action.URI": _keys(_ACTION, {"/URI": None, "/IsMap": None}),
    "action.Sound": _keys(
        _ACTION,
        {"/Sound": OPEN, "/Volume": None, "/Synchronous": None, "/Repeat": None, "/Mix": None},
    ),
    "action.Movie": _keys(_ACTION, {"/Annotation": "annot", "/T": None, "/Operation": None}),
    "action.Hide": _keys(_ACTION, {"/T": "annot", "/H": None}),
    "action.Named": _keys(_ACTION, {"/N": None}),
    "action.SubmitForm": _keys(
        _ACTION, {"/F": "filespec", "/Fields": "field", "/Flags": None, "/CharSet": None}
    ),
    "action.ResetForm": _keys(_ACTION, {"/Fields": "field", "/Flags": None}),
    "action.ImportData": _keys(_ACTION, {"/F": "filespec"}),
    "action.SetOCGState": _keys(_ACTION, {"/State": "ocg", "/PreserveRB": None}),
    "action.Rendition": _keys(_ACTION, {"/R": OPEN, "/AN": "annot", "/OP": None, "/JS": "data"}),
    "action.Trans": _keys(_ACTION, {"/Trans": "transition"}),
    "action.GoTo3DView": _keys(_ACTION, {"/TA": "annot", "/V": OPEN}),
    "action.JavaScript": _keys(_ACTION, {"/JS": "data"}),
    "action.RichMediaExecute": _keys(_ACTION, {"/TA": "annot", "/TI": OPEN, "/CMD": OPEN}),
    "action.common": _ACTION,
    # 12.3.2.2: a named destination's dictionary form (its array form is typed in the walk).
    "dest": {"/D": "dest", "/SD": None},
    # 12.3.3, Tables 151-152: the outline dictionary and outline items, together.
    "outline": {
        "/Type": None,
        "/First": "outline",
        "/Last": "outline",
        "/Count": None,
        "/Title": None,
        "/Parent": "outline",
        "/Prev": "outline",
        "/Next": "outline",
        "/Dest": "dest",
        "/A": "action",
        "/SE": "structelem",
        "/C": None,
        "/F": None,
    },
    # 12.4.2, Table 159: page labels.
    "pagelabel": {"/Type": None, "/S": None, "/P": None, "/St": None},
    # 12.4.3, Tables 160-161: threads and beads. /I (thread information: title, author,
    # dates) is removed by the walk under its own name.
    "thread": {"/Type": None, "/F": "bead", "/I": OPEN, "/Metadata": "metadata"},
    "bead": {
        "/Type": None,
        "/T": "thread",
        "/N": "bead",
        "/V": "bead",
        "/P": "pagenode",
        "/R": None,
    },
    # 12.4.4, Table 162: transitions; 12.4.4.2, Table 163: navigation nodes.
    "transition": {
        "/Type": None,
        "/S": None,
        "/D": None,
        "/Dm": None,
        "/M": None,
        "/Di": None,
        "/SS": None,
        "/B": None,
    },
    "navnode": {
        "/Type": None,
        "/NA": "action",
        "/PA": "action",
        "/Next": "navnode",
        "/Prev": "navnode",
        "/Dur": None,
    },
    # 12.2, Table 147: viewer preferences.
    "viewerprefs": {
        "/HideToolbar": None,
        "/HideMenubar": None,
        "/HideWindowUI": None,
        "/FitWindow": None,
        "/CenterWindow": None,
        "/DisplayDocTitle": None,
        "/NonFullScreenPageMode": None,
        "/Direction": None,
        "/ViewArea": None,
        "/ViewClip": None,
        "/PrintArea": None,
        "/PrintClip": None,
        "/PrintScaling": None,
        "/Duplex": None,
        "/PickTrayByPDFSize": None,
        "/PrintPageRange": None,
        "/NumCopies": None,
        "/Enforce": None,
    },
    # 14.7.1, Table 353: the mark information dictionary.
    "markinfo": {"/Marked": None, "/UserProperties": None, "/Suspects": None},
    # 14.7.2, Table 354: the structure tree root.
    "structtreeroot": {
        "/Type": None,
        "/K": "structkid",
        "/IDTree": "nametree:structelem",
        "/ParentTree": "numtree:structelem",
        "/ParentTreeNextKey": None,
        "/RoleMap": "dictof:none",
        "/ClassMap": "dictof:open",
        "/Namespaces": "namespace",
        "/PronunciationLexicon": "filespec",
        "/AF": "filespec",
    },
    # 14.7.2, Table 355: structure elements. Attribute objects (/A, /C through the class
    # map) have owner-defined keys (14.7.6): open.
    "structelem": {
        "/Type": None,
        "/S": None,
        "/P": "structparent",
        "/ID": None,
        "/Ref": "structelem",
        "/Pg": "pagenode",
        "/K": "structkid",
        "/A": OPEN,
        "/C": None,
        "/R": None,
        "/T": None,
        "/Lang": None,
        "/Alt": None,
        "/E": None,
        "/ActualText": None,
        "/AF": "filespec",
        "/NS": "namespace",
        "/PhoneticAlphabet": None,
        "/Phoneme": None,
    },
    # 14.7.5.1, Table 357 (marked-content references), 14.7.5.3, Table 358 (object
    # references); 14.7.4, Table 356 (namespaces).
    "mcr": {"/Type": None, "/Pg": "pagenode", "/Stm": "xobject", "/StmOwn": OPEN, "/MCID": None},
    "objr": {"/Type": None, "/Pg": "pagenode", "/Obj": OPEN},
    "namespace": {"/Type": None, "/NS": None, "/Schema": "filespec", "/RoleMapNS": OPEN},
    # 8.11.4.2, Table 98: optional content properties; Tables 96, 97, 99, 100, 101.
    "ocproperties": {"/OCGs": "ocg", "/D": "occonfig", "/Configs": "occonfig"},
    "ocg": {"/Type": None, "/Name": None, "/Intent": None, "/Usage": OPEN},
    "ocmd": {"/Type": None, "/OCGs": "ocg", "/P": None, "/VE": "ocg"},
    "occonfig": {
        "/Name": None,
        "/Creator": None,
        "/BaseState": None,
        "/ON": "ocg",
        "/OFF": "ocg",
        "/Intent": None,
        "/AS": "ocusageapp",
        "/Order": "ocg",
        "/ListMode": None,
        "/RBGroups": "ocg",
        "/Locked": "ocg",
    },
    "ocusageapp": {"/Event": None, "/OCGs": "ocg", "/Category": None},
    # 7.11.3, Table 43: file specifications; 7.11.4, Table 44: embedded file streams.
    "filespec": {
        "/Type": None,
        "/FS": None,
        "/F": None,
        "/UF": None,
        "/DOS": None,
        "/Mac": None,
        "/Unix": None,
        "/ID": None,
        "/V": None,
        "/EF": OPEN,
        "/RF": OPEN,
        "/Desc": None,
        "/CI": OPEN,
        "/Thumb": "xobject",
        "/EP": OPEN,
        "/AFRelationship": None,
    },
    # 14.11.4, Table 400: separation information; 12.9, Table 264: viewports.
    "separationinfo": {"/Pages": "pagenode", "/DeviceColorant": None, "/ColorSpace": "colorspace"},
    "viewport": {
        "/Type": None,
        "/BBox": None,
        "/Name": None,
        "/Measure": OPEN,
        "/PtData": OPEN,
    },
    # A value that is a number, name, string or boolean by the standard but a dictionary
    # in this file: nothing in it is defined.
    "none": {},
}

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
