"""Issue 10: inside the namespaces the OOXML schemas cover, only what they define is kept,
element by element (scrubbers/_ooxml_schema.py): an element they do not define, an element
where its parent may not have it, an attribute its element does not define, text where the
content is elements. Each hiding place has its own canary, searched for in every member,
decompressed, and in what ExifTool reads."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from support.fixtures_office import make_xlsx, marker, minimal_docx
from test_scrub_office import assert_canaries_gone, docx_text, members
from test_scrub_office_ids import _cleaned

from scrubbers import _ooxml_schema, scrub_sandboxed

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
X = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT_W = "http://purl.oclc.org/ooxml/wordprocessingml/main"


def _run(properties: str = "", text: str = "Body text stays.") -> str:
    return f"<w:p><w:r><w:rPr>{properties}</w:rPr><w:t>{text}</w:t></w:r></w:p>"


def test_element_the_schema_does_not_define_removed(tmp_path: Path) -> None:
    # In the w: namespace, beside a defined property that stays.
    undefined = f'<w:vendor{marker("Element")} w:val="{marker("ElementValue")}"/>'
    report = _cleaned(minimal_docx(_run(f"<w:b/>{undefined}")), tmp_path)
    assert "ooxml:unknown-xml" in report.removed
    document = members(report.data)["word/document.xml"].decode()
    assert "<w:b />" in document or "<w:b/>" in document
    assert docx_text(report.data) == "Body text stays."


def test_element_in_a_place_its_parent_may_not_have_removed(tmp_path: Path) -> None:
    # w:t is defined, but not inside run properties: no reader shows it there.
    report = _cleaned(minimal_docx(_run(f"<w:t>{marker('Misplaced')}</w:t>")), tmp_path)
    assert "ooxml:unknown-xml" in report.removed
    assert docx_text(report.data) == "Body text stays."


def test_attributes_the_element_does_not_define_removed(tmp_path: Path) -> None:
    # Qualified in w: (which w:p has attributes of), and unqualified.
    paragraph = (
        f'<w:p w:vendorMark="{marker("QualifiedAttribute")}" '
        f'mark="{marker("BareAttribute")}"><w:r><w:t>Body text stays.</w:t></w:r></w:p>'
    )
    report = _cleaned(minimal_docx(paragraph), tmp_path)
    assert "ooxml:unknown-xml" in report.removed
    assert docx_text(report.data) == "Body text stays."


def test_text_where_the_content_is_elements_removed(tmp_path: Path) -> None:
    # Before the run (text of w:p) and after it (the run's tail), and inside w:rPr.
    paragraph = (
        f"<w:p>{marker('ParagraphText')}<w:r><w:rPr>{marker('PropertiesText')}</w:rPr>"
        f"<w:t>Body text stays.</w:t></w:r>{marker('RunTail')}</w:p>"
    )
    report = _cleaned(minimal_docx(paragraph), tmp_path)
    assert "ooxml:unknown-xml" in report.removed
    assert docx_text(report.data) == "Body text stays."


def test_inside_a_markup_compatibility_branch_checked_against_its_holder(
    tmp_path: Path,
) -> None:
    # The branch's content is the run properties' content: a defined w14 property stays,
    # an undefined one goes.
    branch = (
        f'<mc:AlternateContent xmlns:mc="{MC}"><mc:Choice Requires="w14">'
        '<w14:ligatures w14:val="standard"/>'
        f"<w14:vendor{marker('BranchElement')}/></mc:Choice></mc:AlternateContent>"
    )
    docx = minimal_docx(_run(branch), root_attributes=f' xmlns:w14="{W14}"')
    report = _cleaned(docx, tmp_path)
    assert "ooxml:unknown-xml" in report.removed
    assert "w14:ligatures" in members(report.data)["word/document.xml"].decode()


def test_values_outside_their_schema_type_removed(tmp_path: Path) -> None:
    # An enumeration (w:conformance, xml:space, w:highlight), an on/off flag of an extension
    # (w14:noSpellErr), an integer (w:pgSz's w:code): each value the schema restricts.
    body = (
        f'<w:p w14:noSpellErr="{marker("OnOff")}"><w:r><w:rPr>'
        f'<w:highlight w:val="{marker("Enumeration")}"/></w:rPr>'
        f'<w:t xml:space="{marker("XmlSpace")}">Body text stays.</w:t></w:r></w:p>'
        f'<w:sectPr><w:pgSz w:w="11906" w:h="16838" w:code="{marker("Integer")}"/></w:sectPr>'
    )
    root = f' xmlns:w14="{W14}" w:conformance="{marker("Conformance")}"'
    report = _cleaned(minimal_docx(body, root_attributes=root), tmp_path)
    assert "ooxml:invalid-value" in report.removed
    document = members(report.data)["word/document.xml"].decode()
    assert 'w:w="11906"' in document  # the valid values beside them stay
    assert docx_text(report.data) == "Body text stays."


@pytest.mark.parametrize(
    ("tag", "name", "value", "valid"),
    [
        (f"{{{W}}}document", f"{{{W}}}conformance", "strict", True),
        (f"{{{W}}}document", f"{{{W}}}conformance", "Strict", False),
        (f"{{{W}}}t", "{http://www.w3.org/XML/1998/namespace}space", "preserve", True),
        (f"{{{X}}}c", "s", "12", True),
        (f"{{{X}}}c", "s", "12a", False),
        (f"{{{X}}}c", "r", "anything", True),  # a string: not checked here
        (f"{{{W}}}b", f"{{{W}}}val", "off", True),
        (f"{{{W}}}b", f"{{{W}}}val", "no", False),
    ],
)
def test_table_value_types(tag: str, name: str, value: str, valid: bool) -> None:
    assert _ooxml_schema.value_is_valid(tag, name, value) is valid


def test_markup_compatibility_keeps_only_its_own_names(tmp_path: Path) -> None:
    # Markup compatibility has three elements and a handful of attributes (ECMA-376 Part 3):
    # any other name in its namespace, or a bare attribute on its elements, is free text.
    branch = (
        f'<mc:AlternateContent xmlns:mc="{MC}" mc:vendor="{marker("McAttribute")}" '
        f'note="{marker("BareMcAttribute")}"><mc:Choice Requires="w14" '
        f'owner="{marker("ChoiceAttribute")}"><w14:ligatures w14:val="standard"/></mc:Choice>'
        f"<mc:Fallback/><mc:vendor{marker('McElement')}/></mc:AlternateContent>"
    )
    docx = minimal_docx(_run(branch), root_attributes=f' xmlns:w14="{W14}"')
    report = _cleaned(docx, tmp_path)
    assert "ooxml:unknown-xml" in report.removed
    document = members(report.data)["word/document.xml"].decode()
    assert 'Requires="w14"' in document and "w14:ligatures" in document


def test_spreadsheet_cell_keeps_only_its_attributes(tmp_path: Path) -> None:
    # SpreadsheetML's attributes are unqualified: one the cell does not define goes, with an
    # undefined element beside the cell's value.
    source = io.BytesIO(make_xlsx())
    out = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(
                    b'<c r="A1" t="inlineStr">',
                    f'<c r="A1" t="inlineStr" owner="{marker("CellAttribute")}">'
                    f"<vendor{marker('CellElement')}/>".encode(),
                )
            zout.writestr(info, data)
    report = scrub_sandboxed(out.getvalue())
    assert_canaries_gone(report, tmp_path, ".xlsx")
    assert "ooxml:unknown-xml" in report.removed
    assert b"Cell text stays" in members(report.data)["xl/worksheets/sheet1.xml"]


def test_strict_namespaces_read_as_the_transitional_ones() -> None:
    # The Strict edition renames namespaces, not elements.
    assert _ooxml_schema.covers(STRICT_W)
    assert _ooxml_schema.is_defined(f"{{{STRICT_W}}}rPr")
    assert not _ooxml_schema.is_defined(f"{{{STRICT_W}}}vendorMark")
    assert _ooxml_schema.may_contain(f"{{{STRICT_W}}}r", f"{{{STRICT_W}}}t")


@pytest.mark.parametrize(
    ("parent", "child", "allowed"),
    [
        (f"{{{W}}}r", f"{{{W}}}t", True),
        (f"{{{W}}}rPr", f"{{{W}}}b", True),
        (f"{{{W}}}rPr", f"{{{W14}}}ligatures", True),
        (f"{{{W}}}rPr", f"{{{W}}}t", False),
        (f"{{{W}}}t", f"{{{W}}}r", False),  # text only
        # xsd:any: an extension holds the elements of any extension namespace.
        (
            "{http://schemas.openxmlformats.org/drawingml/2006/main}ext",
            "{http://schemas.microsoft.com/office/drawing/2010/main}useLocalDpi",
            True,
        ),
    ],
)
def test_table_reads_the_schemas(parent: str, child: str, allowed: bool) -> None:
    assert _ooxml_schema.may_contain(parent, child) is allowed


def test_table_attributes_and_text() -> None:
    assert _ooxml_schema.allows_attribute(f"{{{X}}}c", "r")
    assert not _ooxml_schema.allows_attribute(f"{{{X}}}c", "owner")
    assert _ooxml_schema.allows_attribute(
        f"{{{W}}}t", "{http://www.w3.org/XML/1998/namespace}space"
    )
    assert _ooxml_schema.holds_text(f"{{{W}}}t")
    assert not _ooxml_schema.holds_text(f"{{{W}}}p")


# Removed by the rules before the schema's pass, under their own names: Excel's revision
# ids (xr:uid attributes, the xr:revisionPtr element, which the SDK places nowhere).
_REMOVED_BEFORE = (
    "http://schemas.microsoft.com/office/spreadsheetml/2014/revision",
    "http://schemas.microsoft.com/office/spreadsheetml/2015/revision2",
    "http://schemas.microsoft.com/office/spreadsheetml/2016/revision",
)


def test_every_name_office_writes_in_the_corpus_is_in_the_table(shared_dir: Path | None) -> None:
    """The table against real files: every element and attribute of a covered namespace in
    the corpus's Word, Excel and PowerPoint files (ExifTool's, mat2's, Apache POI's...) is
    defined where it is, so the schema's pass takes nothing from what Office wrote."""
    if shared_dir is None:
        pytest.skip("no shared corpus outside CI")
    undefined: set[tuple[str, str, str]] = set()
    packages = 0
    for path in sorted((shared_dir / "corpus").rglob("*")):
        try:
            package = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError):
            continue  # not a zip, or one damaged beyond reading (refused anyway)
        with package:
            if "[Content_Types].xml" not in package.namelist():
                continue
            packages += 1
            for name in package.namelist():
                try:
                    data = package.read(name) if name.endswith(".xml") else b""
                except (zipfile.BadZipFile, OSError):
                    continue  # a damaged member (mat2's corrupted samples): refused anyway
                if data:
                    undefined |= _undefined_names(path.name, data)
    assert packages >= 40
    assert sorted(undefined) == []


def _undefined_names(file_name: str, data: bytes) -> set[tuple[str, str, str]]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return set()  # VML with Office's conditional comments: read by the scrubber only
    found: set[tuple[str, str, str]] = set()

    def walk(element: ET.Element, context: str | None) -> None:
        for child in element:
            uri = child.tag[1:].split("}")[0] if child.tag.startswith("{") else ""
            if uri == MC:
                walk(child, context)
                continue
            if not _ooxml_schema.covers(uri) or uri.startswith(_REMOVED_BEFORE):
                walk(child, None)
                continue
            if not _ooxml_schema.is_defined(child.tag):
                found.add((file_name, child.tag, ""))
            elif context is not None and not _ooxml_schema.may_contain(context, child.tag):
                found.add((file_name, child.tag, f"in {context}"))
            for attribute, value in child.attrib.items():
                if attribute.startswith((f"{{{MC}}}", *(f"{{{u}" for u in _REMOVED_BEFORE))):
                    continue
                if not _ooxml_schema.allows_attribute(child.tag, attribute):
                    found.add((file_name, child.tag, attribute))
                elif not _ooxml_schema.value_is_valid(child.tag, attribute, value):
                    found.add((file_name, child.tag, f"{attribute}={value!r}"))
            walk(child, child.tag)

    walk(root, root.tag if _ooxml_schema.covers(root.tag[1:].split("}")[0]) else None)
    return found
