"""OpenDocument values that are free text no reader shows (issue 10, "keep only what is known
to be safe"): attributes the ODF schema does not define for their element (even in ODF's own
namespaces), elements it does not define, xml:id values, RDFa, and manifest media types.

Each hiding place gets its own canary. Oracles, as in test_scrub_office: cleaned in the
sandboxed worker, no canary in any member of the output (decompressed, recursively) nor in
what ExifTool reads, the package still consistent and its XML well-formed, the visible text
kept, and cleaning the cleaned file gives the same bytes and an empty report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from support.fixtures_office import marker, minimal_odt, png_plain, replace_member
from test_scrub_office import assert_canaries_gone, assert_odf_consistent, members, odf_text

from scrubbers import ScrubReport, scrub_sandboxed

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_XML = "{http://www.w3.org/XML/1998/namespace}"
MANIFEST_PATH = "META-INF/manifest.xml"
_MANIFEST = "{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}"
_LOEXT = 'xmlns:loext="urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0"'
_CALCEXT = 'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"'
_TABLE_NS = 'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'


def _cleaned(package: bytes, tmp_path: Path, suffix: str = ".odt") -> ScrubReport:
    """Cleaned in the worker; every canary gone; consistent, well-formed, and stable."""
    report = scrub_sandboxed(package)
    assert_canaries_gone(report, tmp_path, suffix)
    assert_odf_consistent(report.data)
    for name, data in members(report.data).items():
        if name.endswith(".xml"):
            ET.fromstring(data)  # well-formed
    again = scrub_sandboxed(report.data)
    assert again.cleaned and again.removed == () and again.data == report.data
    return report


def _content(report: ScrubReport) -> ET.Element:
    return ET.fromstring(members(report.data)["content.xml"])


def _with_styles(odt: bytes, styles: str) -> bytes:
    """The document with these automatic styles (before its body, where ODF puts them)."""
    content = members(odt)["content.xml"].decode()
    styled = content.replace(
        "<office:body>", f"<office:automatic-styles>{styles}</office:automatic-styles><office:body>"
    )
    return replace_member(odt, "content.xml", styled)


def _minimal_ods(table: str) -> bytes:
    """A spreadsheet of one table: minimal_odt's package with a spreadsheet's media type."""
    odt = minimal_odt("")
    text, sheet = "opendocument.text", "opendocument.spreadsheet"
    content = members(odt)["content.xml"].decode()
    content = content.replace(
        "<office:text></office:text>",
        f"<office:spreadsheet {_TABLE_NS}>{table}</office:spreadsheet>",
    )
    manifest = members(odt)[MANIFEST_PATH].decode().replace(text, sheet)
    ods = replace_member(odt, "mimetype", members(odt)["mimetype"].decode().replace(text, sheet))
    return replace_member(replace_member(ods, "content.xml", content), MANIFEST_PATH, manifest)


def test_attributes_the_schema_does_not_define_removed(tmp_path: Path) -> None:
    odt = minimal_odt(
        f'<text:p text:style-name="P1" text:canary-mark="{marker("OdfTextAttr")}">Body '
        f'<text:span canary="{marker("OdfBareAttr")}" text:style-name="T1">text</text:span>'
        f'<draw:frame draw:name="F" style:xyz="{marker("OdfStyleAttr")}" '
        f'svg:width="1cm" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
        f'draw:made-up="{marker("OdfDrawAttr")}"/> stays.</text:p>'
    )
    report = _cleaned(odt, tmp_path)
    assert "odf:unknown-attribute" in report.removed
    assert odf_text(report.data) == "Body text stays."
    content = members(report.data)["content.xml"].decode()
    # What the schema defines for each element stays.
    for kept in ('text:style-name="P1"', 'text:style-name="T1"', 'draw:name="F"', "svg:width"):
        assert kept in content


def test_libreoffice_extension_attributes_the_schema_defines_kept(tmp_path: Path) -> None:
    # loext: is not in the OASIS schema; LibreOffice's extended schema defines these (the style
    # of a list item's marker, and LibreOffice's pre-ODF-1.3 name of contextual spacing).
    odt = _with_styles(
        minimal_odt(f'<text:p {_LOEXT} loext:marker-style-name="T2">Body text.</text:p>'),
        f'<style:style style:name="P1" style:family="paragraph" {_LOEXT}>'
        '<style:paragraph-properties loext:contextual-spacing="true"/></style:style>',
    )
    report = _cleaned(odt, tmp_path)
    assert "odf:unknown-attribute" not in report.removed
    content = members(report.data)["content.xml"].decode()
    assert 'loext:marker-style-name="T2"' in content
    assert 'loext:contextual-spacing="true"' in content


def test_libreoffice_element_the_schema_does_not_define_removed(tmp_path: Path) -> None:
    odt = minimal_odt(
        f"<text:p {_LOEXT}>Body <loext:canary>{marker('LoextElement')}</loext:canary>text."
        f'<loext:made-up loext:name="{marker("LoextElementAttr")}"/></text:p>'
    )
    report = _cleaned(odt, tmp_path)
    assert "odf:unknown-xml" in report.removed
    assert odf_text(report.data) == "Body text."


def test_libreoffice_attribute_the_schema_does_not_define_removed(tmp_path: Path) -> None:
    odt = minimal_odt(
        f'<text:p {_LOEXT} loext:foo="{marker("LoextAttr")}" loext:marker-style-name="T2">'
        "Body text.</text:p>"
    )
    report = _cleaned(odt, tmp_path)
    assert "odf:unknown-attribute" in report.removed
    assert odf_text(report.data) == "Body text."
    assert 'loext:marker-style-name="T2"' in members(report.data)["content.xml"].decode()


def test_officeooo_attribute_the_schema_does_not_define_on_a_style_removed(
    tmp_path: Path,
) -> None:
    odt = _with_styles(
        minimal_odt('<text:p text:style-name="P1">Body text.</text:p>'),
        f'<style:style style:name="P1" style:family="paragraph" '
        f'officeooo:bar="{marker("OfficeoooStyleAttr")}">'
        '<style:text-properties officeooo:baz="'
        f'{marker("OfficeoooPropertiesAttr")}"/></style:style>',
    )
    report = _cleaned(odt, tmp_path)
    assert "odf:unknown-attribute" in report.removed
    assert odf_text(report.data) == "Body text."
    content = members(report.data)["content.xml"].decode()
    assert 'style:name="P1"' in content
    assert 'text:style-name="P1"' in content


def test_calcext_element_the_schema_does_not_define_removed_from_a_spreadsheet(
    tmp_path: Path,
) -> None:
    ods = _with_styles(
        _minimal_ods(
            f'<table:table table:name="Sheet1" table:style-name="ta1" {_CALCEXT}>'
            "<table:table-column/><table:table-row><table:table-cell "
            'office:value-type="float" office:value="42" calcext:value-type="float">'
            "<text:p>42</text:p></table:table-cell></table:table-row>"
            f"<calcext:canary>{marker('CalcextElement')}</calcext:canary>"
            "<calcext:conditional-formats><calcext:conditional-format "
            'calcext:target-range-address="Sheet1.A1:Sheet1.A1" '
            f'calcext:made-up="{marker("CalcextAttr")}"><calcext:condition '
            'calcext:apply-style-name="Good" calcext:value="&gt;40" '
            'calcext:base-cell-address="Sheet1.A1"/></calcext:conditional-format>'
            "</calcext:conditional-formats></table:table>"
        ),
        f'<style:style style:name="ta1" style:family="table" {_TABLE_NS} '
        'xmlns:tableooo="http://openoffice.org/2009/table"><style:table-properties '
        'table:display="true" tableooo:tab-color="#ff0000"/></style:style>',
    )
    report = _cleaned(ods, tmp_path, ".ods")
    assert {"odf:unknown-xml", "odf:unknown-attribute"} <= set(report.removed)
    assert odf_text(report.data) == "42"
    content = members(report.data)["content.xml"].decode()
    # What LibreOffice's schema defines stays: the cell's type, the conditional format; and the
    # tab colour under the name LibreOffice wrote before ODF 1.3 had table:tab-color.
    assert 'calcext:value-type="float"' in content
    assert 'calcext:apply-style-name="Good"' in content
    assert 'tableooo:tab-color="#ff0000"' in content


def test_elements_the_schema_does_not_define_removed_with_their_content(tmp_path: Path) -> None:
    odt = minimal_odt(
        f"<text:p>Body<text:canary-note>{marker('OdfElement')}</text:canary-note> text."
        f'<draw:made-up draw:name="{marker("OdfDrawElement")}"/></text:p>'
    )
    report = _cleaned(odt, tmp_path)
    assert "odf:unknown-xml" in report.removed
    assert odf_text(report.data) == "Body text."


def test_xml_ids_renumbered_with_their_references(tmp_path: Path) -> None:
    first, second = marker("OdfListId"), marker("OdfShapeId")
    odt = minimal_odt(
        f'<text:list xml:id="{first}"><text:list-item><text:p>One</text:p></text:list-item>'
        f'</text:list><text:list text:continue-list="{first}"><text:list-item>'
        "<text:p>Two</text:p></text:list-item></text:list>"
        f'<text:p>Shapes<draw:rect xml:id="{second}" draw:id="{second}" draw:name="R"/>'
        f'<draw:connector draw:start-shape="{second}" draw:end-shape="{marker("OdfGone")}"/>'
        "</text:p>"
    )
    report = _cleaned(odt, tmp_path)
    assert {"odf:xml-id", "odf:dangling-reference"} <= set(report.removed)
    root = _content(report)
    lists = list(root.iter(_TEXT + "list"))
    assert lists[0].get(_XML + "id") == "id1"
    assert lists[1].get(_TEXT + "continue-list") == "id1"
    rect = next(root.iter(_DRAW + "rect"))
    assert rect.get(_XML + "id") == rect.get(_DRAW + "id") == "id2"
    connector = next(root.iter(_DRAW + "connector"))
    assert connector.get(_DRAW + "start-shape") == "id2"
    assert connector.get(_DRAW + "end-shape") is None  # dangling: removed
    assert odf_text(report.data) == "OneTwoShapes"


def test_text_ids_renumbered_with_the_note_references(tmp_path: Path) -> None:
    """text:id of notes, changed regions and index marks is free text as well; a note
    reference follows its note, a bookmark reference (a name the user gave) is kept."""
    note, mark = marker("OdfNoteId"), marker("OdfIndexMarkId")
    odt = minimal_odt(
        f'<text:p>Claim<text:note text:id="{note}" text:note-class="footnote">'
        "<text:note-citation>1</text:note-citation><text:note-body><text:p>Source</text:p>"
        "</text:note-body></text:note> see "
        f'<text:note-ref text:note-class="footnote" text:reference-format="text" '
        f'text:ref-name="{note}">1</text:note-ref>'
        f'<text:alphabetical-index-mark-start text:id="{mark}"/>term'
        f'<text:alphabetical-index-mark-end text:id="{mark}"/>'
        '<text:bookmark text:name="Budget"/><text:bookmark-ref text:reference-format="text" '
        'text:ref-name="Budget">here</text:bookmark-ref></text:p>'
    )
    report = _cleaned(odt, tmp_path)
    assert "odf:xml-id" in report.removed
    root = _content(report)
    assert next(root.iter(_TEXT + "note")).get(_TEXT + "id") == "id1"
    assert next(root.iter(_TEXT + "note-ref")).get(_TEXT + "ref-name") == "id1"
    starts = root.iter(_TEXT + "alphabetical-index-mark-start")
    ends = root.iter(_TEXT + "alphabetical-index-mark-end")
    assert next(starts).get(_TEXT + "id") == next(ends).get(_TEXT + "id") == "id2"
    assert next(root.iter(_TEXT + "bookmark-ref")).get(_TEXT + "ref-name") == "Budget"
    assert odf_text(report.data) == "Claim1Source see 1termhere"


def test_rdfa_attributes_removed(tmp_path: Path) -> None:
    odt = minimal_odt(
        '<text:p xmlns:xhtml="http://www.w3.org/1999/xhtml" '
        f'xhtml:about="urn:{marker("OdfAbout")}" xhtml:property="dc:title" '
        f'xhtml:content="{marker("OdfRdfa")}">Body text.</text:p>'
    )
    report = _cleaned(odt, tmp_path)
    assert "odf:rdf-metadata" in report.removed
    assert odf_text(report.data) == "Body text."


def test_manifest_media_types_allowlisted(tmp_path: Path) -> None:
    odt = minimal_odt(
        '<text:p>Body<draw:frame draw:name="A"><draw:image xlink:href="Pictures/a.png"/>'
        "</draw:frame> text.</text:p>",
        extra=(
            ("Pictures/a.png", png_plain(), f"image/{marker('OdfMediaType')}"),
            ("Pictures/b.png", png_plain(), "image/png"),
            ("Object 9/", b"", f"application/{marker('OdfDirType')}"),
        ),
    )
    report = _cleaned(odt, tmp_path)
    assert "odf:media-type" in report.removed
    manifest = ET.fromstring(members(report.data)["META-INF/manifest.xml"])
    types = {e.get(_MANIFEST + "full-path"): e.get(_MANIFEST + "media-type") for e in manifest}
    assert types == {
        "/": "application/vnd.oasis.opendocument.text",
        "content.xml": "text/xml",
        "Pictures/a.png": "image/png",  # the one its bytes require
        "Pictures/b.png": "image/png",
    }
    assert odf_text(report.data) == "Body text."


def test_manifest_root_media_type_is_the_package_mimetype(tmp_path: Path) -> None:
    odt = minimal_odt("<text:p>Body text.</text:p>")
    manifest = members(odt)["META-INF/manifest.xml"].decode()
    tampered = manifest.replace(
        'manifest:media-type="application/vnd.oasis.opendocument.text"',
        f'manifest:media-type="application/vnd.oasis.opendocument.text;{marker("OdfRoot")}"',
    )
    report = _cleaned(replace_member(odt, "META-INF/manifest.xml", tampered), tmp_path)
    assert "odf:media-type" in report.removed


def test_id_lists_keep_the_references_that_resolve(tmp_path: Path) -> None:
    # draw:nav-order is an IDREFS: each name follows its shape, a name of nothing goes.
    shape = marker("OdfNavShape")
    odt = minimal_odt(
        f'<text:p>Shapes<draw:rect draw:id="{shape}" draw:name="R"/>'
        '<draw:rect draw:id="id1" draw:name="S"/></text:p>'
        f'<draw:page draw:name="P" draw:nav-order="{marker("OdfNavGone")} id1  {shape}"/>'
    )
    report = _cleaned(odt, tmp_path)
    assert {"odf:xml-id", "odf:dangling-reference"} <= set(report.removed)
    root = _content(report)
    assert [r.get(_DRAW + "id") for r in root.iter(_DRAW + "rect")] == ["id1", "id2"]
    assert next(root.iter(_DRAW + "page")).get(_DRAW + "nav-order") == "id2 id1"


def test_versions_and_manifest_values_keep_only_their_grammar(tmp_path: Path) -> None:
    plain = minimal_odt("<text:p>Body text.</text:p>")
    content = members(plain)["content.xml"].decode()
    assert content.count('office:version="1.3"') == 1
    content = content.replace('office:version="1.3"', f'office:version="{marker("OdfVersion")}"')
    manifest = members(plain)[MANIFEST_PATH].decode()
    manifest = manifest.replace(
        'manifest:version="1.3"', f'manifest:version="{marker("OdfManifestVersion")}"', 1
    ).replace(
        'manifest:full-path="content.xml"',
        f'manifest:full-path="content.xml" manifest:size="{marker("OdfSize")}" '
        f'manifest:preferred-view-mode="{marker("OdfViewMode")}"',
        1,
    )
    assert manifest.count("Marker-") == 3
    odt = replace_member(replace_member(plain, "content.xml", content), MANIFEST_PATH, manifest)
    report = _cleaned(odt, tmp_path)
    assert "odf:unknown-version" in report.removed
    assert odf_text(report.data) == "Body text."
    # A version ODF has had stays as written.
    kept = scrub_sandboxed(plain)
    assert "odf:unknown-version" not in kept.removed
    assert 'office:version="1.3"' in members(kept.data)["content.xml"].decode()
    assert 'manifest:version="1.3"' in members(kept.data)[MANIFEST_PATH].decode()
