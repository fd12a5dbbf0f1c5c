"""OOXML values that are free text no reader shows (issue 10, "keep only what is known to
be safe"): relationship ids and their references, content types, and the random or chosen
ids Office writes that would link copies of one document.

Each hiding place gets its own canary. Oracles, as in test_scrub_office: cleaned in the
sandboxed worker, no canary in any member of the output (decompressed, recursively) nor in
what ExifTool reads, the package still consistent and its XML well-formed, the visible text
kept, and cleaning the cleaned file gives the same bytes and an empty report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from support.fixtures_office import (
    MARK,
    RT,
    make_docx,
    make_pptx,
    make_xlsx,
    marker,
    minimal_docx,
    png_plain,
    replace_member,
)
from test_scrub_office import (
    TEXT_PARAGRAPH,
    assert_canaries_gone,
    assert_ooxml_consistent,
    docx_text,
    members,
)

from scrubbers import ScrubReport, scrub_sandboxed

_OFD = "application/vnd.openxmlformats-officedocument"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"


def _cleaned(package: bytes, tmp_path: Path) -> ScrubReport:
    """Cleaned in the worker; every canary gone; consistent, well-formed, and stable."""
    report = scrub_sandboxed(package)
    assert_canaries_gone(report, tmp_path, ".docx")
    assert_ooxml_consistent(report.data)
    for name, data in members(report.data).items():
        if name.endswith((".xml", ".rels")):
            ET.fromstring(data)  # well-formed
    again = scrub_sandboxed(report.data)
    assert again.cleaned and again.removed == () and again.data == report.data
    return report


def _rel_ids(data: bytes, rels_name: str) -> list[str]:
    root = ET.fromstring(members(data)[rels_name])
    return [rel.get("Id", "") for rel in root.iter(_RELS + "Relationship")]


# --- relationship ids ----------------------------------------------------------------------


def test_relationship_ids_renumbered_with_their_references(tmp_path: Path) -> None:
    picture_id = marker("RelIdPicture")
    link_id = marker("RelIdLink")
    body = (
        f'<w:p><w:hyperlink r:id="{link_id}"><w:r><w:t>the story</w:t></w:r></w:hyperlink></w:p>'
        '<w:p><w:r><w:drawing><wp:inline><wp:extent cx="100" cy="100"/><wp:docPr id="1" '
        'name="Picture 1"/><a:graphic><a:graphicData '
        'uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr>'
        '<pic:cNvPr id="1" name="Picture 1"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill>'
        f'<a:blip r:embed="{picture_id}"/></pic:blipFill></pic:pic></a:graphicData></a:graphic>'
        "</wp:inline></w:drawing></w:r></w:p><w:p><w:r><w:pict><v:shape><v:imagedata "
        f'o:relid="{picture_id}"/></v:shape></w:pict></w:r></w:p>' + TEXT_PARAGRAPH
    )
    docx = minimal_docx(
        body,
        rels=(
            (link_id, f"{RT}/hyperlink", "https://news.example/story", "External"),
            (picture_id, f"{RT}/image", "media/image1.png"),
        ),
        parts=(("word/media/image1.png", png_plain(), "image/png"),),
        package_rels=((marker("RelIdPackage"), f"{RT}/hyperlink", "https://x.example/"),),
    )
    assert "ooxml:relationship-id" in scrub_sandboxed(docx).removed
    report = _cleaned(docx, tmp_path)
    assert _rel_ids(report.data, "word/_rels/document.xml.rels") == ["rId1", "rId2"]
    assert _rel_ids(report.data, "_rels/.rels") == ["rId1", "rId2"]
    document = members(report.data)["word/document.xml"].decode()
    assert 'r:id="rId1"' in document and 'r:embed="rId2"' in document
    assert 'o:relid="rId2"' in document
    assert "the story" in docx_text(report.data)


def test_reference_to_no_relationship_removed(tmp_path: Path) -> None:
    body = (
        f'<w:p><w:hyperlink r:id="{marker("Dangling")}"><w:r><w:t>kept words</w:t></w:r>'
        f'</w:hyperlink><w:subDoc r:id="{marker("DanglingSubDoc")}"/></w:p>' + TEXT_PARAGRAPH
    )
    report = _cleaned(minimal_docx(body), tmp_path)
    assert "ooxml:dangling-relationship" in scrub_sandboxed(minimal_docx(body)).removed
    document = members(report.data)["word/document.xml"].decode()
    assert "subDoc" not in document  # it had no other use than its reference
    assert docx_text(report.data) == "kept wordsBody text stays."


def test_duplicate_relationship_id_keeps_the_first(tmp_path: Path) -> None:
    rel_id = marker("DuplicateId")
    docx = minimal_docx(
        f'<w:p><w:hyperlink r:id="{rel_id}"><w:r><w:t>first</w:t></w:r></w:hyperlink></w:p>',
        rels=(
            (rel_id, f"{RT}/hyperlink", "https://first.example/", "External"),
            (rel_id, f"{RT}/hyperlink", "https://second.example/", "External"),
        ),
    )
    report = _cleaned(docx, tmp_path)
    rels = members(report.data)["word/_rels/document.xml.rels"].decode()
    assert "first.example" in rels and "second.example" not in rels
    assert report.links == ("https://first.example/",)


def test_real_office_files_keep_their_references() -> None:
    # The fixtures' ids (rId1 ... in other orders, rIdV, rId11) are renumbered; every
    # reference still names a relationship of its own part.
    for package in (make_docx(), make_xlsx(), make_pptx()):
        data = scrub_sandboxed(package).data
        parts = members(data)
        for name, content in parts.items():
            if "/_rels/" not in "/" + name or name == "_rels/.rels":
                continue
            directory, base = name.rsplit("/_rels/", 1) if "/_rels/" in name else ("", name)
            source = (directory + "/" if directory else "") + base.removesuffix(".rels")
            ids = set(_rel_ids(data, name))
            assert ids == {f"rId{n}" for n in range(1, len(ids) + 1)}, name
            if source not in parts or not source.endswith(".xml"):
                continue
            for element in ET.fromstring(parts[source]).iter():
                for attribute, value in element.attrib.items():
                    if attribute.startswith("{" + RT + "}") and value:
                        assert value in ids, (source, attribute, value)


# --- content types -------------------------------------------------------------------------


def _types(data: bytes) -> list[tuple[str, str, str]]:
    root = ET.fromstring(members(data)["[Content_Types].xml"])
    return [
        (child.tag.removeprefix(_TYPES), child.get("Extension", child.get("PartName", "")),
         child.get("ContentType", ""))
        for child in root
    ]  # fmt: skip


def test_unknown_content_types_dropped_and_the_parts_typed_again(tmp_path: Path) -> None:
    canary_type = f"application/vnd.{marker('ContentType')}+xml"
    docx = minimal_docx(
        TEXT_PARAGRAPH,
        rels=(("rId1", f"{RT}/styles", "styles.xml"), ("rId2", f"{RT}/image", "media/a.png")),
        parts=(
            ("word/styles.xml", '<w:styles xmlns:w="http://schemas.openxmlformats.org/'
             'wordprocessingml/2006/main"/>', canary_type),
            ("word/media/a.png", png_plain(), f"image/{marker('ImageType')}"),
        ),
        main_type=f"{_OFD}.wordprocessingml.{marker('MainType')}",
    )  # fmt: skip
    types = members(docx)["[Content_Types].xml"].decode()
    # A Default for an extension no part has, of an unknown type: reported.
    types = types.replace(
        "</Types>", f'<Default Extension="x" ContentType="{canary_type}"/></Types>'
    )
    docx = replace_member(docx, "[Content_Types].xml", types)
    first = scrub_sandboxed(docx)
    assert "ooxml:content-type" in first.removed
    report = _cleaned(docx, tmp_path)
    kept = _types(report.data)
    assert ("Override", "/word/document.xml", f"{_OFD}.wordprocessingml.document.main+xml") in kept
    assert ("Override", "/word/styles.xml", f"{_OFD}.wordprocessingml.styles+xml") in kept
    assert ("Default", "png", "image/png") in kept
    assert docx_text(report.data) == "Body text stays."


def test_content_type_spelling_is_the_listed_one(tmp_path: Path) -> None:
    docx = minimal_docx(TEXT_PARAGRAPH, main_type=f"{_OFD}.WordprocessingML.Document.Main+XML")
    report = scrub_sandboxed(docx)
    assert "ooxml:content-type" in report.removed
    assert ("Override", "/word/document.xml", f"{_OFD}.wordprocessingml.document.main+xml") in (
        _types(report.data)
    )
    _cleaned(docx, tmp_path)


def test_unused_known_defaults_dropped_without_a_report() -> None:
    # The fixtures' Defaults for "jpeg" and "bin" (thumbnail, printer settings) of a
    # document without such parts: nothing to say beyond the removals that left them.
    report = scrub_sandboxed(minimal_docx(TEXT_PARAGRAPH))
    assert "ooxml:content-type" not in report.removed
    extensions = {name for kind, name, _ in _types(report.data) if kind == "Default"}
    assert extensions == {"rels", "xml"}
    assert MARK.encode() not in report.data
