"""Fonts: simple, Type 3, composite and CID fonts, font descriptors, embedded font programs,
encodings and CMaps (ISO 32000-2, 9.5-9.10)."""

from __future__ import annotations

from scrubbers._pdf_schema._base import Keys

TABLES: dict[str, Keys] = {
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
}
