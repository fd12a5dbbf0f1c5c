"""OOXML values that are free text no reader shows (issue 10, "keep only what is known to
be safe"): relationship ids and their references, content types, and the random or chosen
ids Office writes that would link copies of one document.

Each hiding place gets its own canary. Oracles, as in test_scrub_office: cleaned in the
sandboxed worker, no canary in any member of the output (decompressed, recursively) nor in
what ExifTool reads, the package still consistent and its XML well-formed, the visible text
kept, and cleaning the cleaned file gives the same bytes and an empty report.
"""

from __future__ import annotations

import re
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


def test_smartart_drawing_reference_follows_the_renumbering(tmp_path: Path) -> None:
    # The diagram data part names, by id, the relationship of the *document* to the
    # diagram's cached drawing: renumbered with the document's relationships.
    dgm = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
    dsp = "http://schemas.microsoft.com/office/drawing/2008/diagram"
    ids = {kind: marker("Dgm" + kind) for kind in ("Data", "Layout", "Style", "Colors", "Drawing")}
    body = (
        '<w:p><w:r><w:drawing><wp:inline><wp:extent cx="100" cy="100"/><wp:docPr id="1" '
        f'name="Diagram 1"/><a:graphic><a:graphicData uri="{dgm}"><dgm:relIds xmlns:dgm="{dgm}" '
        f'r:dm="{ids["Data"]}" r:lo="{ids["Layout"]}" r:qs="{ids["Style"]}" '
        f'r:cs="{ids["Colors"]}"/></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>'
        "</w:p>" + TEXT_PARAGRAPH
    )
    data = (
        f'<dgm:dataModel xmlns:dgm="{dgm}" xmlns:a="http://schemas.openxmlformats.org/'
        f'drawingml/2006/main"><dgm:ptLst/><dgm:extLst><a:ext uri="{dsp}">'
        f'<dsp:dataModelExt xmlns:dsp="{dsp}" relId="{ids["Drawing"]}" minVer="http://'
        'schemas.openxmlformats.org/drawingml/2006/diagram"/></a:ext></dgm:extLst>'
        "</dgm:dataModel>"
    )
    diagram = f"{_OFD}.drawingml.diagram"
    docx = minimal_docx(
        body,
        rels=(
            (ids["Data"], f"{RT}/diagramData", "diagrams/data1.xml"),
            (ids["Layout"], f"{RT}/diagramLayout", "diagrams/layout1.xml"),
            (ids["Style"], f"{RT}/diagramQuickStyle", "diagrams/quickStyle1.xml"),
            (ids["Colors"], f"{RT}/diagramColors", "diagrams/colors1.xml"),
            (ids["Drawing"], "http://schemas.microsoft.com/office/2007/relationships/"
             "diagramDrawing", "diagrams/drawing1.xml"),
        ),
        parts=(
            ("word/diagrams/data1.xml", data, diagram + "Data+xml"),
            ("word/diagrams/layout1.xml", f'<dgm:layoutDef xmlns:dgm="{dgm}"/>',
             diagram + "Layout+xml"),
            ("word/diagrams/quickStyle1.xml", f'<dgm:styleDef xmlns:dgm="{dgm}"/>',
             diagram + "Style+xml"),
            ("word/diagrams/colors1.xml", f'<dgm:colorsDef xmlns:dgm="{dgm}"/>',
             diagram + "Colors+xml"),
            ("word/diagrams/drawing1.xml", f'<dsp:drawing xmlns:dsp="{dsp}"/>',
             "application/vnd.ms-office.drawingml.diagramDrawing+xml"),
        ),
    )  # fmt: skip
    report = _cleaned(docx, tmp_path)
    rels = ET.fromstring(members(report.data)["word/_rels/document.xml.rels"])
    by_target = {rel.get("Target"): rel.get("Id") for rel in rels}
    kept_data = members(report.data)["word/diagrams/data1.xml"].decode()
    assert f'relId="{by_target["diagrams/drawing1.xml"]}"' in kept_data
    document = members(report.data)["word/document.xml"].decode()
    assert f'r:dm="{by_target["diagrams/data1.xml"]}"' in document
    assert f'r:cs="{by_target["diagrams/colors1.xml"]}"' in document


# --- ids and names Office writes that no reader sees ----------------------------------------

W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
WP14 = "http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing"
A16 = "http://schemas.microsoft.com/office/drawing/2014/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def test_last_edit_bookmark_removed_other_bookmarks_kept(tmp_path: Path) -> None:
    # _GoBack is where the author last typed (Shift+F5), nothing references it; a named
    # bookmark is content (Insert > Bookmark lists it, links go to it).
    body = (
        f'<w:p><w:bookmarkStart w:id="{MARK}" w:name="_GoBack"/><w:bookmarkEnd w:id="{MARK}"/>'
        '<w:bookmarkStart w:id="1" w:name="Chapter1"/><w:r><w:t>Body text stays.</w:t></w:r>'
        '<w:bookmarkEnd w:id="1"/></w:p>'
    )
    report = _cleaned(minimal_docx(body), tmp_path)
    assert "ooxml:bookmark" in scrub_sandboxed(minimal_docx(body)).removed
    document = members(report.data)["word/document.xml"].decode()
    assert "_GoBack" not in document and 'w:name="Chapter1"' in document
    assert docx_text(report.data) == "Body text stays."


def test_content_control_tags_ids_and_bindings_removed(tmp_path: Path) -> None:
    # The alias is the title Word shows on the control (content); the tag, the random id and
    # the binding to a custom XML part (by GUID and XPath) are seen by no reader.
    body = (
        f'<w:sdt><w:sdtPr><w:alias w:val="Customer name"/><w:tag w:val="{marker("SdtTag")}"/>'
        f'<w:id w:val="{marker("SdtId")}"/><w:dataBinding w:prefixMappings="xmlns:ns0='
        f'\'urn:{marker("SdtNs")}\'" w:xpath="/ns0:{marker("SdtXpath")}" '
        f'w:storeItemID="{{{marker("SdtStore")}}}"/><w15:dataBinding w:xpath="/x" '
        f'w:storeItemID="{{{marker("SdtStore15")}}}"/></w:sdtPr><w:sdtContent><w:p><w:r>'
        "<w:t>Body text stays.</w:t></w:r></w:p></w:sdtContent></w:sdt>"
    )
    docx = minimal_docx(body, root_attributes=f' xmlns:w15="{W15}"')
    report = _cleaned(docx, tmp_path)
    assert "ooxml:content-control" in scrub_sandboxed(docx).removed
    document = members(report.data)["word/document.xml"].decode()
    assert 'w:alias w:val="Customer name"' in document
    assert "Body text stays." in document


def test_random_object_ids_removed(tmp_path: Path) -> None:
    body = (
        f'<w:p><w:r><w:drawing><wp:inline wp14:anchorId="{marker("AnchorId")}" '
        f'wp14:editId="{marker("EditId")}"><wp:extent cx="100" cy="100"/><wp:docPr id="1" '
        'name="Picture 1" descr="A harbour at dusk"><a:extLst><a:ext '
        'uri="{FF2B5EF4-FFF2-40B4-BE49-F238E27FC236}">'
        f'<a16:creationId id="{{{marker("CreationId")}}}"/></a:ext>'
        # A chart series' id (c16, written in the charts' own extension lists).
        '<a:ext uri="{C3380CC4-5D6E-409C-BE32-E72D297353CC}">'
        f'<c16:uniqueId val="{{0000{marker("SeriesId")}}}"/></a:ext></a:extLst></wp:docPr>'
        "</wp:inline></w:drawing></w:r></w:p>" + TEXT_PARAGRAPH
    )
    c16 = "http://schemas.microsoft.com/office/drawing/2014/chart"
    docx = minimal_docx(
        body, root_attributes=f' xmlns:wp14="{WP14}" xmlns:a16="{A16}" xmlns:c16="{c16}"'
    )
    report = _cleaned(docx, tmp_path)
    assert "ooxml:object-id" in scrub_sandboxed(docx).removed
    document = members(report.data)["word/document.xml"].decode()
    # Alt text is content: written by the author for readers who cannot see the picture.
    assert 'descr="A harbour at dusk"' in document
    assert "creationId" not in document and "FF2B5EF4" not in document
    assert "uniqueId" not in document and "C3380CC4" not in document


def test_namespace_prefixes_get_their_conventional_names(tmp_path: Path) -> None:
    chosen = marker("Prefix")  # an NCName: a prefix its writer chose
    other = marker("OtherPrefix")
    future = "http://schemas.microsoft.com/office/word/2099/wordml"
    body = (
        f'<w:p><w:r><w:rPr><{chosen}:ligatures {chosen}:val="standard"/></w:rPr>'
        "<w:t>Body text stays.</w:t></w:r>"
        f'<mc:AlternateContent><mc:Choice Requires="{other}"><w:r><{other}:x/></w:r>'
        "</mc:Choice><mc:Fallback/></mc:AlternateContent></w:p>"
    )
    docx = minimal_docx(
        body,
        root_attributes=f' xmlns:mc="{MC}" xmlns:{chosen}="{W14}" xmlns:{other}="{future}" '
        f'mc:Ignorable="{chosen} {other}"',
    )
    report = _cleaned(docx, tmp_path)
    assert "ooxml:namespace-prefix" in scrub_sandboxed(docx).removed
    document = members(report.data)["word/document.xml"].decode()
    assert f'xmlns:w14="{W14}"' in document and f'xmlns:ns1="{future}"' in document
    assert 'mc:Ignorable="w14 ns1"' in document and 'Requires="ns1"' in document
    assert '<w14:ligatures w14:val="standard"/>' in document
    assert docx_text(report.data) == "Body text stays."


def test_entry_order_and_name_case_carry_nothing() -> None:
    # n entries have n! orders, and a name its letter cases: two copies that differ only
    # there come out byte for byte the same.
    docx = minimal_docx(
        TEXT_PARAGRAPH,
        rels=(
            ("rId1", f"{RT}/hyperlink", "https://a.example/", "External"),
            ("rId2", f"{RT}/hyperlink", "https://b.example/", "External"),
        ),
    )
    types = members(docx)["[Content_Types].xml"].decode()
    rels = members(docx)["word/_rels/document.xml.rels"].decode()
    head, _, rest = types.partition("<Default ")
    entries = ["<Default " + e for e in rest.removesuffix("</Types>").split("<Default ")]
    reordered = head + "".join(reversed(entries)) + "</Types>"
    reordered = reordered.replace('PartName="/word/document.xml"', 'PartName="/Word/Document.XML"')
    a_rel, b_rel = re.findall(r"<Relationship [^>]*/>", rels)
    assert a_rel + b_rel in rels and reordered.index('"png"') < reordered.index('"rels"')
    other = replace_member(docx, "[Content_Types].xml", reordered)
    other = replace_member(
        other, "word/_rels/document.xml.rels", rels.replace(a_rel + b_rel, b_rel + a_rel)
    )
    first, second = scrub_sandboxed(docx), scrub_sandboxed(other)
    assert first.cleaned and second.cleaned
    assert first.data == second.data
    assert "ooxml:content-type" in second.removed  # the name's case, not the order
    assert "ooxml:content-type" not in first.removed
    kinds = [kind for kind, _, _ in _types(first.data)]
    assert kinds == sorted(kinds)  # Defaults, then Overrides
