"""WordprocessingML values that must be what their schema type says: a language tag, a style
the package defines, an on/off, a colour, a number.

ECMA-376 Part 1 types these attribute values, and a reader makes nothing of a value outside
its type (Word refuses the file or ignores it): such a value draws nothing and is pure room
for free text, a mark per copy that a clean checking only names would keep. Each checked
attribute has its grammar here, as data (as `scrubbers._svg_values` does for SVG); a value
outside it goes, with its element where the schema requires the attribute or where an element
without it would mean something else (``<w:b/>`` is bold).

A style reference (``w:pStyle``, ``w:basedOn`` ...) must name a ``w:styleId`` of the package's
styles parts (`style_ids`): the style ids are content (the style names Word lists), a
reference to no style is free text. DrawingML text (``a:rPr/@lang``) and charts (``c:lang``)
carry a language tag too.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from typing import Final

from scrubbers import _xml
from scrubbers._ooxml_markup import W_NS
from scrubbers._ooxml_schema import INVALID_VALUE
from scrubbers._xml import Element

LANGUAGE_TAG = "ooxml:language-tag"  # a language that is no language tag
DANGLING_STYLE = "ooxml:dangling-style"  # a style reference to no style of the package

_DRAWING_NS = frozenset(
    {
        "http://schemas.openxmlformats.org/drawingml/2006/main",
        "http://purl.oclc.org/ooxml/drawingml/main",
    }
)
_CHART_NS = frozenset(
    {
        "http://schemas.openxmlformats.org/drawingml/2006/chart",
        "http://purl.oclc.org/ooxml/drawingml/chart",
    }
)

# BCP 47 (RFC 5646 §2.1) langtag and private-use tags, without the grandfathered list:
# language (2-3 letters with up to three extlangs, or 4-8 letters), script, region,
# variants, extensions, private use.
_ALNUM = "[A-Za-z0-9]"
_LANGTAG = (
    r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    rf"(?:-(?:{_ALNUM}{{5,8}}|[0-9]{_ALNUM}{{3}}))*"
    rf"(?:-[0-9A-WYZa-wyz](?:-{_ALNUM}{{2,8}})+)*"
    rf"(?:-[xX](?:-{_ALNUM}{{1,8}})+)?"
)
_PRIVATE_USE = rf"[xX](?:-{_ALNUM}{{1,8}})+"
# Word appends the Windows sort order of a locale to its tag ("es-ES_tradnl"): one of these.
_SORT_ORDER = r"(?:_(?:tradnl|phoneb|technl|radstr|modern|mathan|stroke|pronun))?"
# ST_Lang is a language tag or a Windows LCID in 4 hex digits (Part 1 §22.9.2.6).
_LANGUAGE = re.compile(rf"(?:(?:{_LANGTAG}|{_PRIVATE_USE}){_SORT_ORDER}|[0-9A-Fa-f]{{4}})")
_MAX_LANGUAGE_TAG = 35  # RFC 5646 §4.4.1: the longest tag an implementation must keep

_ON_OFF = re.compile(r"true|false|on|off|0|1")  # ST_OnOff of both editions
# ST_DecimalNumber, the twips and half-point measures, ST_UniversalMeasure and percentages:
# an integer Word reads into 32 bits, or a decimal with a unit.
_NUMBER = re.compile(r"[-+]?[0-9]{1,10}(?:\.[0-9]{1,6})?(?:mm|cm|in|pt|pc|pi|%)?")
_HEX_COLOUR = re.compile(r"auto|[0-9A-Fa-f]{6}")  # ST_HexColor
_HEX_BYTE = re.compile(r"[0-9A-Fa-f]{2}")  # ST_UcharHexNumber: a theme tint or shade
_THEME_COLOUR = re.compile(  # ST_ThemeColor
    r"dark[12]|light[12]|accent[1-6]|hyperlink|followedHyperlink|none|background[12]|text[12]"
)

# The elements whose ``w:val`` is an on/off (CT_OnOff): run, paragraph, table, section and
# style properties, and the settings Word writes. An element with a bad one goes: without the
# value it would mean "on".
_ON_OFF_ELEMENTS = frozenset(
    """b bCs i iCs caps smallCaps strike dstrike outline shadow emboss imprint noProof
    snapToGrid vanish webHidden specVanish rtl cs oMath keepNext keepLines pageBreakBefore
    widowControl suppressLineNumbers suppressAutoHyphens kinsoku wordWrap overflowPunct
    topLinePunct autoSpaceDE autoSpaceDN bidi adjustRightInd contextualSpacing mirrorIndents
    suppressOverlap titlePg rtlGutter formProt noEndnote bidiVisual hidden cantSplit tblHeader
    noWrap tcFitText hideMark semiHidden unhideWhenUsed qFormat locked personal
    personalCompose personalReply autoRedefine trackRevisions doNotTrackMoves
    doNotTrackFormatting evenAndOddHeaders mirrorMargins gutterAtTop autoHyphenation
    doNotHyphenateCaps removePersonalInformation removeDateAndTime embedTrueTypeFonts
    embedSystemFonts saveSubsetFonts bordersDoNotSurroundHeader bordersDoNotSurroundFooter
    displayBackgroundShape doNotDisplayPageBoundaries doNotUseMarginsForDrawingGridOrigin
    doNotShadeFormData printTwoOnOne strictFirstAndLastChars savePreviewPicture
    doNotValidateAgainstSchema doNotDemarcateInvalidXml alwaysShowPlaceholderText
    showXMLTags ignoreMixedContent alwaysMergeEmptyNamespace saveXmlDataOnly
    useXSLTWhenSaving saveInvalidXml doNotEmbedSmartTags relyOnVML allowPNG
    doNotSaveAsSingleFile optimizeForBrowser updateFields""".split()
)
# The elements whose ``w:val`` is a number (CT_DecimalNumber, the measures): required, so
# an element with a bad one goes.
_NUMBER_ELEMENTS = frozenset(
    """sz szCs kern position spacing w numId ilvl abstractNumId outlineLvl uiPriority start
    startOverride lvlRestart defaultTabStop hyphenationZone consecutiveHyphenLimit
    displayHorizontalDrawingGridEvery displayVerticalDrawingGridEvery
    drawingGridHorizontalSpacing drawingGridVerticalSpacing drawingGridHorizontalOrigin
    drawingGridVerticalOrigin gridBefore gridAfter gridSpan tblStyleRowBandSize
    tblStyleColBandSize""".split()
)
# Attributes that are numbers wherever WordprocessingML has them (margins, indents,
# spacing, sizes, widths, positions, border widths), optional in their elements but those
# of `_ELEMENT_REQUIRES`.
_NUMBER_ATTRIBUTES = frozenset(
    """w h code top bottom left right header footer gutter start end hanging firstLine
    leftChars rightChars startChars endChars hangingChars firstLineChars before after line
    beforeLines afterLines pos linePitch charSpace sz space num percent x y hSpace vSpace
    leftFromText rightFromText topFromText bottomFromText tblpX tblpY dxaOrig dyaOrig
    count defUIPriority uiPriority""".split()
)
_PAGE_MARGINS = frozenset({"top", "right", "bottom", "left", "header", "footer", "gutter"})
# Elements whose attribute, when its value is bad, takes the element with it (required).
_ELEMENT_REQUIRES = {
    "pgMar": _PAGE_MARGINS,
    "tab": frozenset({"val", "pos"}),
    "fldChar": frozenset({"fldCharType"}),
    "proofErr": frozenset({"type"}),
    "headerReference": frozenset({"type"}),
    "footerReference": frozenset({"type"}),
}
_WIDTH_TYPE = "nil pct dxa auto"  # ST_TblWidth
_THEME_FONT = (  # ST_Theme
    "majorEastAsia majorBidi majorAscii majorHAnsi minorEastAsia minorBidi minorAscii minorHAnsi"
)
# (element, attribute) -> the values of its enumeration (both editions' spellings).
_ENUMERATIONS: Final[dict[tuple[str, str], re.Pattern[str]]] = {
    (element, attribute): re.compile("|".join(values.split()))
    for elements, attribute, values in (
        (
            "jc",
            "val",
            "start center end both mediumKashida distribute numTab highKashida lowKashida "
            "thaiDistribute left right",
        ),
        (
            "u",
            "val",
            "single words double thick dotted dottedHeavy dash dashedHeavy dashLong "
            "dashLongHeavy dotDash dashDotHeavy dotDotDash dashDotDotHeavy wave wavyHeavy "
            "wavyDouble none",
        ),
        ("vertAlign", "val", "baseline superscript subscript"),
        (
            "highlight",
            "val",
            "black blue cyan green magenta red yellow white darkBlue darkCyan darkGreen "
            "darkMagenta darkRed darkYellow darkGray lightGray none",
        ),
        ("vAlign", "val", "top center both bottom"),
        ("vMerge", "val", "continue restart"),
        ("tab", "val", "clear start center end decimal bar num left right"),
        ("tab", "leader", "none dot hyphen underscore heavy middleDot"),
        ("spacing", "lineRule", "auto exact atLeast"),
        ("trHeight", "hRule", "auto exact atLeast"),
        ("tblW tcW tblInd tblCellSpacing wBefore wAfter top left bottom right start end", "type",
         _WIDTH_TYPE),
        ("fldChar", "fldCharType", "begin separate end"),
        ("proofErr", "type", "spellStart spellEnd gramStart gramEnd"),
        ("br", "type", "page column textWrapping"),
        ("br", "clear", "none left right all"),
        ("footnote endnote", "type", "normal separator continuationSeparator continuationNotice"),
        ("style", "type", "paragraph character table numbering"),
        ("headerReference footerReference", "type", "even default first"),
        ("rFonts", "hint", "default eastAsia cs"),
        ("rFonts", "asciiTheme", _THEME_FONT),
        ("rFonts", "hAnsiTheme", _THEME_FONT),
        ("rFonts", "eastAsiaTheme", _THEME_FONT),
        ("rFonts", "cstheme", _THEME_FONT),
    )
    for element in elements.split()
}  # fmt: skip
_ON_OFF_ATTRIBUTES = frozenset(
    """default customStyle locked semiHidden unhideWhenUsed qFormat defLockedState
    defSemiHidden defUnhideWhenUsed defQFormat tentative history beforeAutospacing
    afterAutospacing""".split()
)
_COLOUR_ATTRIBUTES = frozenset({"color", "fill"})
_THEME_COLOUR_ATTRIBUTES = frozenset({"themeColor", "themeFill"})
_THEME_BYTE_ATTRIBUTES = frozenset({"themeTint", "themeShade", "themeFillTint", "themeFillShade"})
# ST_Lang attributes, by element: CT_Language (optional: the attribute goes), CT_Lang of a
# date control and the grammar checker's writing style (required: the element goes).
_LANGUAGE_ATTRIBUTES = {
    "lang": ("val", "eastAsia", "bidi"),
    "themeFontLang": ("val", "eastAsia", "bidi"),
}
_LANGUAGE_REQUIRED = {"lid": "val", "activeWritingStyle": "lang"}
_DRAWING_LANGUAGE = ("lang", "altLang")

# Every attribute name some rule above checks (a quick test before the namespace's).
_CHECKED_ATTRIBUTES = frozenset(
    {
        "val", "lang", "eastAsia", "bidi", *_NUMBER_ATTRIBUTES, *_ON_OFF_ATTRIBUTES,
        *_COLOUR_ATTRIBUTES, *_THEME_COLOUR_ATTRIBUTES, *_THEME_BYTE_ATTRIBUTES,
        *(attribute for _, attribute in _ENUMERATIONS),
    }
)  # fmt: skip

# The elements whose ``w:val`` names a style (paragraph, run, table, numbering; a style's
# parent, next and linked style; the settings' defaults).
STYLE_REFERENCES: Final = frozenset(
    """pStyle rStyle tblStyle numStyleLink styleLink basedOn next link clickAndTypeStyle
    defaultTableStyle""".split()
)


def is_language_tag(value: str) -> bool:
    """A value of ST_Lang: a well-formed BCP 47 tag (or Word's tag with a sort order), or a
    Windows LCID; the empty value (LibreOffice's) carries nothing and stays."""
    if value == "":
        return True
    return len(value) <= _MAX_LANGUAGE_TAG and _LANGUAGE.fullmatch(value) is not None


def style_ids(root: Element) -> set[str] | None:
    """The ``w:styleId`` of every style a styles part (``w:styles``) defines; None for a
    part of another kind."""
    if _xml.namespace(root.tag) not in W_NS or _xml.local_name(root.tag) != "styles":
        return None
    ids: set[str] = set()
    for style in root:
        if _xml.local_name(style.tag) != "style" or _xml.namespace(style.tag) not in W_NS:
            continue
        ids.update(
            value
            for name, value in style.attrib.items()
            if _xml.local_name(name) == "styleId" and _xml.namespace(name) in W_NS
        )
    return ids


def _grammar(local_tag: str, attribute: str) -> re.Pattern[str] | None:
    enumeration = _ENUMERATIONS.get((local_tag, attribute))
    if enumeration is not None:
        return enumeration
    if attribute == "val":
        if local_tag in _ON_OFF_ELEMENTS:
            return _ON_OFF
        if local_tag in _NUMBER_ELEMENTS:
            return _NUMBER
        if local_tag == "color":
            return _HEX_COLOUR
        return None
    if attribute in _NUMBER_ATTRIBUTES:
        return _NUMBER
    if attribute in _ON_OFF_ATTRIBUTES:
        return _ON_OFF
    if attribute in _COLOUR_ATTRIBUTES:
        return _HEX_COLOUR
    if attribute in _THEME_COLOUR_ATTRIBUTES:
        return _THEME_COLOUR
    if attribute in _THEME_BYTE_ATTRIBUTES:
        return _HEX_BYTE
    return None


def _element_goes(local_tag: str, attribute: str) -> bool:
    """Whether a bad value of ``attribute`` takes its element with it."""
    if attribute == "val":
        return True  # a required value (CT_DecimalNumber, CT_Color ...), or an on/off
    return attribute in _ELEMENT_REQUIRES.get(local_tag, ())


def check_values(element: Element, styles: AbstractSet[str], removed: set[str]) -> bool:
    """Remove the attributes of ``element`` whose value is outside its type; True when the
    element itself must go (a required value bad, a style reference to no style).
    ``styles``: the style ids a reference may name."""
    ns = _xml.namespace(element.tag)
    if ns in W_NS:
        return _check_w_values(element, styles, removed)
    if ns in _DRAWING_NS:
        for name in _DRAWING_LANGUAGE:
            value = element.get(name)
            if value is not None and not is_language_tag(value):
                removed.add(LANGUAGE_TAG)
                del element.attrib[name]
    elif ns in _CHART_NS and _xml.local_name(element.tag) == "lang":
        if not is_language_tag(element.get("val", "")):
            removed.add(LANGUAGE_TAG)
            return True  # its value is required
    return False


def _check_w_values(element: Element, styles: AbstractSet[str], removed: set[str]) -> bool:
    local_tag = _xml.local_name(element.tag)
    for name in list(element.attrib):
        attribute = _xml.local_name(name)
        if attribute not in _CHECKED_ATTRIBUTES or _xml.namespace(name) not in W_NS:
            continue
        value = element.attrib[name]
        if attribute == "val" and local_tag in STYLE_REFERENCES:
            if value not in styles:
                removed.add(DANGLING_STYLE)
                return True
            continue
        if attribute in _LANGUAGE_ATTRIBUTES.get(local_tag, ()):
            if not is_language_tag(value):
                removed.add(LANGUAGE_TAG)
                del element.attrib[name]
            continue
        if _LANGUAGE_REQUIRED.get(local_tag) == attribute:
            if not is_language_tag(value):
                removed.add(LANGUAGE_TAG)
                return True
            continue
        grammar = _grammar(local_tag, attribute)
        if grammar is None or grammar.fullmatch(value) is not None:
            continue
        removed.add(INVALID_VALUE)
        if _element_goes(local_tag, attribute):
            return True
        del element.attrib[name]
    return False
