"""WordprocessingML values that are free text no reader shows (issue 10, "keep only what is
known to be safe"), found by our own canary attack through `leakdrop scrub`: custom XML and
smart-tag markup, language tags, style references, and values outside their schema type.

Oracles as in test_scrub_office_ids: cleaned in the sandboxed worker, no canary in any member
of the output (decompressed, recursively) nor in what ExifTool reads, the package consistent
and its XML well-formed, the visible text kept, and cleaning the cleaned file gives the same
bytes and an empty report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support.fixtures_office import RT, W, make_pptx, marker, minimal_docx, replace_member
from test_scrub_office import (
    TEXT_PARAGRAPH,
    assert_canaries_gone,
    assert_ooxml_consistent,
    docx_text,
    members,
)
from test_scrub_office_ids import _OFD, _cleaned

from scrubbers import scrub_sandboxed
from scrubbers._ooxml_values import is_language_tag

_STYLES_TYPE = f"{_OFD}.wordprocessingml.styles+xml"
_SETTINGS_TYPE = f"{_OFD}.wordprocessingml.settings+xml"
_NUMBERING_TYPE = f"{_OFD}.wordprocessingml.numbering+xml"


def _part(root: str, content: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:{root} xmlns:w="{W}">{content}</w:{root}>'
    )


# --- custom XML and smart tags -------------------------------------------------------------


def _custom(level: str, content: str) -> str:
    """A w:customXml around ``content``, every free-text value of it a canary."""
    return (
        f'<w:customXml w:uri="urn:{marker(level + "Uri")}" w:element="{marker(level + "El")}">'
        f'<w:customXmlPr><w:placeholder w:val="{marker(level + "Placeholder")}"/>'
        f'<w:attr w:uri="urn:{marker(level + "AttrUri")}" w:name="{marker(level + "AttrName")}" '
        f'w:val="{marker(level + "AttrVal")}"/></w:customXmlPr>{content}</w:customXml>'
    )


def test_custom_xml_unwrapped_at_every_level(tmp_path: Path) -> None:
    # Inline (around a run), block (around paragraphs and tables), row and cell level: the
    # content takes the markup's place, the uri, element name and attributes go.
    cell = "<w:tc><w:p><w:r><w:t>cell</w:t></w:r></w:p></w:tc>"
    body = _custom(
        "Block",
        "<w:p>"
        + _custom("Inline", "<w:r><w:t>inline words</w:t></w:r>")
        + '</w:p><w:tbl><w:tblGrid><w:gridCol w:w="2000"/></w:tblGrid>'
        + _custom("Row", "<w:tr>" + _custom("Cell", cell) + "</w:tr>")
        + "</w:tbl>",
    )
    settings = _part(
        "settings",
        f'<w:attachedSchema w:val="urn:{marker("Schema")}"/>'
        f'<w:saveThroughXslt w:solutionID="{marker("Xslt")}"/>',
    )
    docx = minimal_docx(
        body + TEXT_PARAGRAPH,
        rels=(("rId1", f"{RT}/settings", "settings.xml"),),
        parts=(("word/settings.xml", settings, _SETTINGS_TYPE),),
    )
    assert "ooxml:customXml" in scrub_sandboxed(docx).removed
    report = _cleaned(docx, tmp_path)
    document = members(report.data)["word/document.xml"].decode()
    assert "customXml" not in document
    assert "<w:body><w:p><w:r><w:t>inline words</w:t></w:r></w:p><w:tbl>" in document
    assert "<w:tr><w:tc><w:p><w:r><w:t>cell</w:t>" in document  # row and cell in place
    assert "attachedSchema" not in members(report.data)["word/settings.xml"].decode()
    assert docx_text(report.data) == "inline wordscellBody text stays."


def test_smart_tags_unwrapped(tmp_path: Path) -> None:
    body = (
        f'<w:p><w:smartTag w:uri="urn:{marker("SmartUri")}" w:element="{marker("SmartEl")}">'
        f'<w:smartTagPr><w:attr w:name="{marker("SmartName")}" w:val="{marker("SmartVal")}"/>'
        "</w:smartTagPr><w:r><w:t>Paris</w:t></w:r></w:smartTag></w:p>" + TEXT_PARAGRAPH
    )
    report = _cleaned(minimal_docx(body), tmp_path)
    assert "ooxml:smartTag" in scrub_sandboxed(minimal_docx(body)).removed
    assert "smartTag" not in members(report.data)["word/document.xml"].decode()
    assert docx_text(report.data) == "ParisBody text stays."


# --- language tags -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "en-US", "zh-Hans", "uz-Cyrl-UZ", "zxx", "x-none", "es-ES_tradnl", "de-CH-1996",
        "sgn-ase", "es-419", "en-a-bbb-x-private", "0409", "041D", "",
    ],
)  # fmt: skip
def test_language_tags_word_writes_are_kept(value: str) -> None:
    assert is_language_tag(value)


@pytest.mark.parametrize(
    "value",
    [
        marker("LanguageTag"), "en_US", "en-", "e", "en-US-", "english please", "12345",
        "en-x", "es-ES_canary", "a" * 36, "en-US-x-" + "-".join(["abcdefgh"] * 4),
    ],
)  # fmt: skip
def test_values_that_are_no_language_tag_are_refused(value: str) -> None:
    assert not is_language_tag(value)


@pytest.mark.xfail(
    strict=True,
    reason="open: a language tag is checked for RFC 5646 well-formedness, not against the "
    "IANA subtag registry, so a 5-8 letter language and variants still spell words",
)
def test_a_well_formed_tag_naming_no_registered_subtag_refused() -> None:
    # The canaries of the other tests are longer than any subtag.
    assert not is_language_tag("Marker-LangVal-9c1e")


def test_language_values_outside_bcp47_removed(tmp_path: Path) -> None:
    body = (
        f'<w:p><w:r><w:rPr><w:lang w:val="{marker("LanguageValue")}" w:eastAsia="zh-CN" '
        f'w:bidi="{marker("LanguageBidi")}"/></w:rPr><w:t>words</w:t></w:r></w:p>'
        f'<w:sdt><w:sdtPr><w:date><w:lid w:val="{marker("DateLanguage")}"/></w:date></w:sdtPr>'
        "<w:sdtContent><w:p><w:r><w:t>1 May</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        + TEXT_PARAGRAPH
    )
    settings = _part(
        "settings",
        f'<w:themeFontLang w:val="en-US" w:eastAsia="{marker("ThemeLang")}"/>'
        f'<w:activeWritingStyle w:appName="MSWord" w:lang="{marker("WritingLang")}" '
        'w:vendorID="64" w:dllVersion="131078" w:nlCheck="1" w:checkStyle="1"/>',
    )
    docx = minimal_docx(
        body,
        rels=(("rId1", f"{RT}/settings", "settings.xml"),),
        parts=(("word/settings.xml", settings, _SETTINGS_TYPE),),
    )
    assert "ooxml:language-tag" in scrub_sandboxed(docx).removed
    report = _cleaned(docx, tmp_path)
    document = members(report.data)["word/document.xml"].decode()
    assert '<w:lang w:eastAsia="zh-CN"/>' in document  # the valid one stays
    assert "w:lid" not in document  # its value is required: the element goes
    settings_out = members(report.data)["word/settings.xml"].decode()
    assert '<w:themeFontLang w:val="en-US"/>' in settings_out
    assert "activeWritingStyle" not in settings_out
    assert docx_text(report.data) == "words1 MayBody text stays."


def test_drawingml_language_outside_bcp47_removed(tmp_path: Path) -> None:
    slide = (
        '<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree>'
        f'<p:sp><p:txBody><a:p><a:r><a:rPr lang="{marker("SlideLang")}" altLang="en-US"/>'
        "<a:t>Slide text stays</a:t></a:r><a:endParaRPr "
        f'lang="fr-FR" altLang="{marker("SlideAltLang")}"/></a:p></p:txBody></p:sp>'
        "</p:spTree></p:cSld></p:sld>"
    )
    pptx = replace_member(make_pptx(), "ppt/slides/slide1.xml", slide)
    report = scrub_sandboxed(pptx)
    assert "ooxml:language-tag" in report.removed
    assert_canaries_gone(report, tmp_path, ".pptx")
    out = members(report.data)["ppt/slides/slide1.xml"].decode()
    assert '<a:rPr altLang="en-US"/>' in out and '<a:endParaRPr lang="fr-FR"/>' in out
    again = scrub_sandboxed(report.data)
    assert again.removed == () and again.data == report.data


# --- style references ----------------------------------------------------------------------


def _styled_docx(body: str, *, styles: str, numbering: str = "") -> bytes:
    rels: list[tuple[str, str, str]] = [("rId1", f"{RT}/styles", "styles.xml")]
    parts = [("word/styles.xml", _part("styles", styles), _STYLES_TYPE)]
    if numbering:
        rels.append(("rId2", f"{RT}/numbering", "numbering.xml"))
        parts.append(("word/numbering.xml", _part("numbering", numbering), _NUMBERING_TYPE))
    return minimal_docx(body, rels=tuple(rels), parts=tuple(parts))


_STYLES = (
    '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/>'
    "</w:style>"
    '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/>'
    '<w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:link w:val="Heading1Char"/></w:style>'
    '<w:style w:type="character" w:styleId="Heading1Char"><w:name w:val="Heading 1 Char"/>'
    '<w:link w:val="Heading1"/></w:style>'
    '<w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/></w:style>'
    '<w:style w:type="numbering" w:styleId="Bullets"><w:name w:val="Bullets"/></w:style>'
)


def test_style_references_to_no_style_removed(tmp_path: Path) -> None:
    body = (
        '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:rPr>'
        '<w:rStyle w:val="Heading1Char"/></w:rPr><w:t>Title</w:t></w:r></w:p>'
        f'<w:p><w:pPr><w:pStyle w:val="{marker("PStyle")}"/></w:pPr><w:r><w:rPr>'
        f'<w:rStyle w:val="{marker("RStyle")}"/></w:rPr><w:t>Text</w:t></w:r></w:p>'
        f'<w:tbl><w:tblPr><w:tblStyle w:val="{marker("TblStyle")}"/></w:tblPr><w:tblGrid>'
        '<w:gridCol w:w="2000"/></w:tblGrid><w:tr><w:tc><w:p><w:r><w:t>cell</w:t></w:r></w:p>'
        "</w:tc></w:tr></w:tbl>" + TEXT_PARAGRAPH
    )
    styles = _STYLES + (
        '<w:style w:type="paragraph" w:styleId="Quote"><w:name w:val="Quote"/>'
        f'<w:basedOn w:val="{marker("BasedOn")}"/><w:next w:val="{marker("Next")}"/>'
        f'<w:link w:val="{marker("Link")}"/></w:style>'
    )
    numbering = (
        '<w:abstractNum w:abstractNumId="0"><w:styleLink w:val="Bullets"/></w:abstractNum>'
        f'<w:abstractNum w:abstractNumId="1"><w:numStyleLink w:val="{marker("NumStyle")}"/>'
        '</w:abstractNum><w:abstractNum w:abstractNumId="2"><w:lvl w:ilvl="0">'
        f'<w:pStyle w:val="{marker("LevelStyle")}"/></w:lvl></w:abstractNum>'
    )
    docx = _styled_docx(body, styles=styles, numbering=numbering)
    assert "ooxml:dangling-style" in scrub_sandboxed(docx).removed
    report = _cleaned(docx, tmp_path)
    document = members(report.data)["word/document.xml"].decode()
    assert '<w:pStyle w:val="Heading1"/>' in document
    assert '<w:rStyle w:val="Heading1Char"/>' in document
    assert document.count("Style w:val=") == 2  # the two dangling ones and tblStyle went
    styles_out = members(report.data)["word/styles.xml"].decode()
    assert '<w:basedOn w:val="Normal"/><w:next w:val="Normal"/>' in styles_out
    assert '<w:link w:val="Heading1Char"/>' in styles_out
    assert 'w:styleId="Quote"><w:name w:val="Quote"/></w:style>' in styles_out
    assert '<w:styleLink w:val="Bullets"/>' in members(report.data)["word/numbering.xml"].decode()
    assert docx_text(report.data) == "TitleTextcellBody text stays."


def test_style_reference_without_a_styles_part_removed(tmp_path: Path) -> None:
    body = f'<w:p><w:pPr><w:pStyle w:val="{marker("Orphan")}"/></w:pPr></w:p>' + TEXT_PARAGRAPH
    report = _cleaned(minimal_docx(body), tmp_path)
    assert "pStyle" not in members(report.data)["word/document.xml"].decode()


def test_style_ids_are_content_and_kept(tmp_path: Path) -> None:
    # A style id is what Word lists as the style's name when the style has none: content,
    # kept with the references to it.
    styles = '<w:style w:type="paragraph" w:styleId="MyOwnStyle"/>'
    body = '<w:p><w:pPr><w:pStyle w:val="MyOwnStyle"/></w:pPr><w:r><w:t>x</w:t></w:r></w:p>'
    report = scrub_sandboxed(_styled_docx(body, styles=styles))
    assert "ooxml:dangling-style" not in report.removed
    assert '<w:pStyle w:val="MyOwnStyle"/>' in members(report.data)["word/document.xml"].decode()


# --- values outside their schema type ------------------------------------------------------


def test_values_outside_their_type_removed(tmp_path: Path) -> None:
    body = (
        "<w:p><w:pPr>"
        f'<w:ind w:left="720" w:hanging="{marker("Hanging")}"/>'
        f'<w:shd w:val="clear" w:color="auto" w:fill="{marker("Fill")}"/>'
        f'<w:keepNext w:val="{marker("KeepNext")}"/>'
        f'<w:spacing w:line="240" w:lineRule="{marker("LineRule")}"/>'
        f'<w:jc w:val="{marker("Justification")}"/>'
        "</w:pPr><w:r><w:rPr>"
        f'<w:b w:val="{marker("Bold")}"/><w:i w:val="on"/>'
        f'<w:color w:val="{marker("Colour")}" w:themeColor="{marker("Theme")}"/>'
        f'<w:sz w:val="{marker("Size")}"/><w:szCs w:val="24"/>'
        f'<w:u w:val="single" w:color="FF0000" w:themeShade="{marker("Shade")}"/>'
        "</w:rPr><w:t>styled</w:t></w:r></w:p>"
        "<w:sectPr>"
        f'<w:pgMar w:top="1440" w:right="{marker("Margin")}" w:bottom="1440" w:left="1440" '
        'w:header="720" w:footer="720" w:gutter="0"/><w:pgSz w:w="12240" w:h="15840"/>'
        "</w:sectPr>"
    )
    docx = minimal_docx(body)
    assert "ooxml:invalid-value" in scrub_sandboxed(docx).removed
    report = _cleaned(docx, tmp_path)
    document = members(report.data)["word/document.xml"].decode()
    assert '<w:ind w:left="720"/>' in document  # an optional attribute goes alone
    assert '<w:shd w:val="clear" w:color="auto"/>' in document
    assert '<w:spacing w:line="240"/>' in document and "<w:jc" not in document
    assert "keepNext" not in document and "<w:b " not in document  # "<w:b/>" is bold
    assert '<w:i w:val="on"/>' in document and '<w:szCs w:val="24"/>' in document
    assert "<w:color" not in document and "<w:sz " not in document  # required values
    assert '<w:u w:val="single" w:color="FF0000"/>' in document
    assert "pgMar" not in document and '<w:pgSz w:w="12240" w:h="15840"/>' in document
    assert docx_text(report.data) == "styled"


def test_corpus_like_values_are_kept() -> None:
    # What Word and LibreOffice write stays byte for byte (and is not reported).
    body = (
        '<w:p><w:pPr><w:jc w:val="both"/><w:spacing w:before="100" w:beforeAutospacing="1" '
        'w:after="0" '
        'w:line="240" w:lineRule="auto"/><w:ind w:left="1440" w:hanging="360"/>'
        '<w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:rPr>'
        '<w:rFonts w:ascii="Times New Roman" w:hAnsi="Times New Roman" w:hint="eastAsia" '
        'w:eastAsiaTheme="minorEastAsia"/><w:b w:val="0"/><w:u w:val="wavyDouble"/>'
        '<w:color w:val="454545" w:themeColor="text1" w:themeTint="BF"/><w:kern w:val="2"/>'
        '<w:spacing w:val="-10"/><w:w w:val="90"/><w:lang w:val="en-US" w:eastAsia="zh-Hans" '
        'w:bidi="ar-SA"/></w:rPr><w:t>kept</w:t></w:r></w:p>'
        '<w:sectPr><w:pgSz w:w="12240" w:h="15840"/><w:pgMar w:top="1440" w:right="1440" '
        'w:bottom="1440" w:left="1440" w:header="720" w:footer="720" w:gutter="0"/>'
        '<w:cols w:space="720"/><w:docGrid w:linePitch="360"/></w:sectPr>'
    )
    report = scrub_sandboxed(minimal_docx(body))
    assert report.cleaned
    assert not {"ooxml:invalid-value", "ooxml:language-tag"} & set(report.removed)
    document = ET.fromstring(members(report.data)["word/document.xml"])
    original = ET.fromstring(members(minimal_docx(body))["word/document.xml"])
    assert ET.tostring(document) == ET.tostring(original)
    assert_ooxml_consistent(report.data)
