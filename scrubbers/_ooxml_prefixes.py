"""Namespace prefixes of an OOXML part: the conventional ones, whatever the writer chose.

A prefix is a name its writer chose (``xmlns:anything="...wordml"``), declared on the root
and listed again in ``mc:Ignorable``: free text no reader shows, that a cleaning which keeps
the declarations keeps too. Each namespace gets the prefix Office gives it (the one in the
specifications' examples), one the table does not know gets ``ns1``, ``ns2`` ... in order;
the prefix lists of markup compatibility (ECMA-376 Part 3) follow.
"""

from __future__ import annotations

import re

from scrubbers import _xml

MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
PREFIX_LISTS = ("Ignorable", "ProcessContent", "PreserveElements", "PreserveAttributes")
NAMESPACE_PREFIX = "ooxml:namespace-prefix"  # a prefix other than the conventional one

_OXML = "http://schemas.openxmlformats.org/"
_MSO = "http://schemas.microsoft.com/office/"
_CONVENTIONAL = {
    MC_NS: "mc",
    _OXML + "wordprocessingml/2006/main": "w",
    _OXML + "officeDocument/2006/relationships": "r",
    _OXML + "officeDocument/2006/math": "m",
    _OXML + "officeDocument/2006/customXml": "ds",
    _OXML + "officeDocument/2006/docPropsVTypes": "vt",
    _OXML + "officeDocument/2006/bibliography": "b",
    _OXML + "schemaLibrary/2006/main": "sl",
    _OXML + "drawingml/2006/main": "a",
    _OXML + "drawingml/2006/picture": "pic",
    _OXML + "drawingml/2006/chart": "c",
    _OXML + "drawingml/2006/chartDrawing": "cdr",
    _OXML + "drawingml/2006/diagram": "dgm",
    _OXML + "drawingml/2006/lockedCanvas": "lc",
    _OXML + "drawingml/2006/wordprocessingDrawing": "wp",
    _OXML + "drawingml/2006/spreadsheetDrawing": "xdr",
    _OXML + "spreadsheetml/2006/main": "x",
    _OXML + "presentationml/2006/main": "p",
    _OXML + "package/2006/relationships": "rel",
    "urn:schemas-microsoft-com:vml": "v",
    "urn:schemas-microsoft-com:office:office": "o",
    "urn:schemas-microsoft-com:office:word": "w10",
    "urn:schemas-microsoft-com:office:excel": "x",
    "urn:schemas-microsoft-com:office:powerpoint": "p",
    "urn:schemas-microsoft-com:office:activation": "oa",
    "urn:schemas-microsoft-com:mac:vml": "mv",
    "http://macVmlSchemaUri": "mv",
    _MSO + "mac/office/2008/main": "mo",
    _MSO + "mac/excel/2008/main": "mx",
    _MSO + "2004/12/omml": "m",
    _MSO + "visio/2012/theme": "vt",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://purl.org/dc/dcmitype/": "dcmitype",
    _OXML + "package/2006/metadata/core-properties": "cp",
    "http://www.w3.org/2001/XMLSchema-instance": "xsi",
    "http://www.w3.org/2001/XMLSchema": "xsd",
    _MSO + "word/2006/wordml": "wne",
    _MSO + "word/2010/wordml": "w14",
    _MSO + "word/2012/wordml": "w15",
    _MSO + "word/2015/wordml/symex": "w16se",
    _MSO + "word/2016/wordml/cid": "w16cid",
    _MSO + "word/2018/wordml": "w16",
    _MSO + "word/2018/wordml/cex": "w16cex",
    _MSO + "word/2020/wordml/sdtdatahash": "w16sdtdh",
    _MSO + "word/2023/wordml/word16du": "w16du",
    _MSO + "word/2024/wordml/sdtformatlock": "w16sdtfl",
    _MSO + "word/2010/wordprocessingCanvas": "wpc",
    _MSO + "word/2010/wordprocessingDrawing": "wp14",
    _MSO + "word/2010/wordprocessingGroup": "wpg",
    _MSO + "word/2010/wordprocessingInk": "wpi",
    _MSO + "word/2010/wordprocessingShape": "wps",
    _MSO + "drawing/2008/diagram": "dsp",
    _MSO + "drawing/2010/main": "a14",
    _MSO + "drawing/2012/main": "a15",
    _MSO + "drawing/2014/main": "a16",
    _MSO + "drawing/2016/ink": "aink",
    _MSO + "drawing/2016/SVG/main": "asvg",
    _MSO + "drawing/2017/decorative": "adec",
    _MSO + "drawing/2018/hyperlinkcolor": "ahyp",
    _MSO + "drawing/2017/model3d": "am3d",
    _MSO + "drawing/2014/chartex": "cx",
    _MSO + "drawing/2015/9/8/chartex": "cx1",
    _MSO + "drawing/2015/10/21/chartex": "cx2",
    _MSO + "drawing/2016/5/9/chartex": "cx3",
    _MSO + "drawing/2016/5/10/chartex": "cx4",
    _MSO + "drawing/2016/5/11/chartex": "cx5",
    _MSO + "drawing/2016/5/12/chartex": "cx6",
    _MSO + "drawing/2016/5/13/chartex": "cx7",
    _MSO + "drawing/2016/5/14/chartex": "cx8",
    _MSO + "drawing/2007/8/2/chart": "c14",
    _MSO + "drawing/2012/chart": "c15",
    _MSO + "drawing/2014/chart": "c16",
    _MSO + "drawing/2014/chart/ac": "c16ac",
    _MSO + "drawing/2015/06/chart": "c16r2",
    _MSO + "drawing/2017/03/chart": "c16r3",
    _MSO + "drawing/2012/chartStyle": "cs",
    _MSO + "thememl/2012/main": "thm15",
    _MSO + "2006/activeX": "ax",
    _MSO + "2019/extlst": "oel",
    _MSO + "excel/2006/main": "xm",
    _MSO + "spreadsheetml/2009/9/main": "x14",
    _MSO + "spreadsheetml/2009/9/ac": "x14ac",
    _MSO + "spreadsheetml/2011/1/ac": "x12ac",
    _MSO + "spreadsheetml/2018/calcfeatures": "xcalcf",
    _MSO + "spreadsheetml/2010/11/main": "x15",
    _MSO + "spreadsheetml/2010/11/ac": "x15ac",
    _MSO + "spreadsheetml/2014/revision": "xr",
    _MSO + "spreadsheetml/2015/revision2": "xr2",
    _MSO + "spreadsheetml/2016/revision3": "xr3",
    _MSO + "spreadsheetml/2016/revision5": "xr5",
    _MSO + "spreadsheetml/2016/revision6": "xr6",
    _MSO + "spreadsheetml/2016/revision10": "xr10",
    _MSO + "spreadsheetml/2017/revision16": "xr16",
    _MSO + "spreadsheetml/2015/02/main": "x16r2",
    _MSO + "spreadsheetml/2017/richdata": "xlrd",
    _MSO + "spreadsheetml/2017/dynamicarray": "xda",
    _MSO + "spreadsheetml/2016/pivotdefaultlayout": "xpdl",
    _MSO + "powerpoint/2010/main": "p14",
    _MSO + "powerpoint/2012/main": "p15",
    _MSO + "powerpoint/2015/main": "p16",
    _MSO + "powerpoint/2015/09/main": "p159",
    _MSO + "powerpoint/2018/8/main": "p188",
}

# Namespaces of the specifications that Office declares without a conventional prefix of its
# own, and the XML ones whose attributes appear undeclared (``xml:space``).
_KNOWN_WITHOUT_PREFIX = frozenset(
    {
        "http://www.w3.org/XML/1998/namespace",
        _OXML + "drawingml/2006/compatibility",
        _OXML + "officeDocument/2006/sharedTypes",
        _OXML + "officeDocument/2006/characteristics",
        _OXML + "officeDocument/2006/extended-properties",
        _OXML + "officeDocument/2006/custom-properties",
        _OXML + "package/2006/content-types",
        _OXML + "package/2006/digital-signature",
        "http://schemas.microsoft.com/ink/2010/main",
        "http://www.w3.org/2003/InkML",
    }
)
# The Strict edition names the transitional namespaces of ECMA-376 without the year:
# http://schemas.openxmlformats.org/<area>/2006/<name> is http://purl.oclc.org/ooxml/<area>/<name>.
_STRICT = frozenset(
    "http://purl.oclc.org/ooxml/" + uri.removeprefix(_OXML).replace("/2006/", "/", 1)
    for uri in (*_CONVENTIONAL, *_KNOWN_WITHOUT_PREFIX)
    if uri.startswith(_OXML)
)
# A namespace of an Office version newer than the table (Office keeps adding them: read as
# markup it may skip, as Office does), in the shape of those the table has:
# http://schemas.microsoft.com/office/<application>/<year>[/<n>...]/<one of their names>. The
# shape leaves a writer the year and the numbers, not a free text.
_FUTURE_OFFICE = re.compile(
    r"http://schemas\.microsoft\.com/office/(?:word|drawing|spreadsheetml|powerpoint|excel"
    r"|thememl|visio)/20\d\d(?:/\d{1,2}){0,3}/(?P<name>[A-Za-z0-9]+)"
)
_OFFICE_NAMES = frozenset(uri.rsplit("/", 1)[1] for uri in _CONVENTIONAL if uri.startswith(_MSO))


# Where the specifications' namespaces live; a URI elsewhere is unknown even when the table
# gives it a prefix (``http://macVmlSchemaUri``, Mac Office's placeholder, names nothing).
_KNOWN_HOSTS = (
    "http://schemas.openxmlformats.org/",
    "http://purl.oclc.org/ooxml/",
    "http://schemas.microsoft.com/office/",
    "urn:schemas-microsoft-com:",
    "http://www.w3.org/XML/1998/namespace",
    "http://www.w3.org/2001/XMLSchema-instance",
    "http://www.w3.org/2001/XMLSchema",
    "http://purl.org/dc/",
    "http://schemas.microsoft.com/ink/",
    "http://www.w3.org/2003/InkML",
)


def is_known_namespace(uri: str) -> bool:
    """Whether a namespace is one of the specifications' (ECMA-376 both editions, the
    Microsoft extensions, VML, Dublin Core, XML Schema): one under a known host but of any
    other path is a free text there (``http://schemas.microsoft.com/office/<mark>``)."""
    if not uri.startswith(_KNOWN_HOSTS):
        return False
    if uri in _CONVENTIONAL or uri in _KNOWN_WITHOUT_PREFIX or uri in _STRICT:
        return True
    future = _FUTURE_OFFICE.fullmatch(uri)
    return future is not None and future.group("name") in _OFFICE_NAMES


def canonical_prefixes(namespaces: list[tuple[str, str]]) -> dict[str, str]:
    """Declared prefix -> the one it becomes (its first binding decides, as when written;
    the default namespace, which has no name, stays)."""
    renamed: dict[str, str] = {"": ""}
    given: dict[str, str] = {}  # uri -> new prefix
    taken = set(_CONVENTIONAL.values())
    counter = 0
    for prefix, uri in namespaces:
        if prefix in renamed:
            continue
        new = given.get(uri)
        if new is None:
            new = _CONVENTIONAL.get(uri, "")
            if not new or new in given.values():
                counter += 1
                while f"ns{counter}" in taken:
                    counter += 1
                new = f"ns{counter}"
            given[uri] = new
        renamed[prefix] = new
    return renamed


def rename_prefixes(doc: _xml.XmlDoc, removed: set[str]) -> None:
    """Give every declared prefix its conventional name, in the declarations and in the
    markup-compatibility attributes that list prefixes."""
    renamed = canonical_prefixes(doc.namespaces)
    if all(old == new for old, new in renamed.items()):
        return
    removed.add(NAMESPACE_PREFIX)
    namespaces: list[tuple[str, str]] = []
    for prefix, uri in doc.namespaces:
        entry = (renamed[prefix], uri)
        if entry not in namespaces:
            namespaces.append(entry)
    doc.namespaces = namespaces
    for element in doc.root.iter():
        for name, value in element.attrib.items():
            is_list = _xml.namespace(name) == MC_NS and _xml.local_name(name) in PREFIX_LISTS
            is_requires = name == "Requires" and element.tag == f"{{{MC_NS}}}Choice"
            if is_list or is_requires:
                element.set(name, _rename_list(value, renamed))


def _rename_list(value: str, renamed: dict[str, str]) -> str:
    items: list[str] = []
    for item in value.split():
        prefix, colon, local = item.partition(":")
        new = renamed.get(prefix, prefix) + colon + local
        if new not in items:
            items.append(new)
    return " ".join(items)
