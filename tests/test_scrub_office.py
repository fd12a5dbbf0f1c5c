"""Office documents (OOXML and ODF): every identifying field goes, the document stays whole.

Oracles: unique markers placed in every identifying field of self-made fixtures (none may be
left in any member of the output, decompressed, recursively), ExifTool on the output, the
visible text before/after, and the package's own consistency (relationships, content types,
manifest).
"""

from __future__ import annotations

import io
import posixpath
import re
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from support.fixtures_office import (
    BILLION_LAUGHS,
    DOCX_DELETED,
    DOCX_VISIBLE,
    MARK,
    ODT_VISIBLE,
    RT,
    jpeg_with_gps,
    make_docx,
    make_nested_docx,
    make_odt,
    make_pptx,
    make_xlsx,
    marker,
    minimal_docx,
    minimal_odt,
    png_plain,
    raw_zip,
    replace_member,
)

from scrubbers import (
    CorruptFileError,
    LimitExceededError,
    Limits,
    ScrubError,
    ScrubReport,
    UnsupportedTypeError,
    scrub,
)
from scrubbers._core import clean
from scrubbers._zip import read_package
from scrubbers.odf import OdfScrubber
from scrubbers.ooxml import OoxmlScrubber

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"


# --- helpers -------------------------------------------------------------------------------


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def all_bytes(data: bytes, depth: int = 0) -> list[tuple[str, bytes]]:
    """Every member, decompressed, and the members of zips inside it, recursively."""
    out: list[tuple[str, bytes]] = []
    for name, content in members(data).items():
        out.append((name, content))
        if content.startswith(b"PK\x03\x04") and depth < 8:
            out.extend((f"{name}!{inner}", b) for inner, b in all_bytes(content, depth + 1))
    return out


def markers_left(data: bytes) -> list[str]:
    left = []
    for name, content in all_bytes(data):
        for encoded in (MARK.encode(), MARK.encode("utf-16-le")):
            if encoded in content:
                left.append(name)
    # The archive's own bytes (comments, extra fields) too.
    if MARK.encode() in data:
        left.append("<zip bytes>")
    return left


def exiftool_tags(data: bytes, tmp_path: Path, suffix: str) -> list[tuple[str, str, str]]:
    path = tmp_path / f"out{suffix}"
    path.write_bytes(data)
    result = subprocess.run(
        ["exiftool", "-a", "-G1", "-s", "-ee", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    tags = []
    for line in result.stdout.splitlines():
        match = re.match(r"^\[([^\]]+)\]\s+(\S+)\s*:\s*(.*)$", line)
        if match:
            tags.append((match.group(1), match.group(2), match.group(3)))
    return tags


def assert_exiftool_clean(data: bytes, tmp_path: Path, suffix: str) -> None:
    tags = exiftool_tags(data, tmp_path, suffix)
    assert tags, "exiftool read nothing"
    # Only the tool's own, file-system and container-structure groups may remain: no XMP,
    # no document properties (Creator, LastModifiedBy, Company, Template, dates, edit time).
    groups = {group for group, _, _ in tags}
    assert groups <= {"ExifTool", "System", "File", "ZIP"}, sorted(groups)
    for group, tag, value in tags:
        if group == "ZIP" and tag == "ZipModifyDate":
            assert value == "1980:01:01 00:00:00"
        assert not re.search(
            r"creator|author|lastmodified|company|manager|template|totaledit|editing|"
            r"gps|artist|serial|generator|printer",
            tag,
            re.I,
        ), (group, tag)


def docx_text(data: bytes) -> str:
    """The visible text of word/document.xml: w:t outside deletions and moves-from."""
    root = ET.fromstring(members(data)["word/document.xml"])
    parts: list[str] = []

    def walk(element: ET.Element) -> None:
        if element.tag in (W + "del", W + "moveFrom"):
            return
        if element.tag == W + "t":
            parts.append(element.text or "")
        for child in element:
            walk(child)

    walk(root)
    return "".join(parts)


def odf_text(data: bytes) -> str:
    """Text of office:body minus annotations and the tracked-changes store."""
    root = ET.fromstring(members(data)["content.xml"])
    parts: list[str] = []

    def walk(element: ET.Element) -> None:
        if element.tag in (OFFICE + "annotation", TEXT + "tracked-changes", OFFICE + "binary-data"):
            parts.append(element.tail or "")
            return
        parts.append(element.text or "")
        for child in element:
            walk(child)
        parts.append(element.tail or "")

    body = root.find(OFFICE + "body")
    assert body is not None
    for child in body:
        walk(child)
    return "".join(parts)


def assert_ooxml_consistent(data: bytes) -> None:
    """Every internal relationship target exists; every part has a content type; no
    relationship file without its part (what Office checks before opening)."""
    parts = members(data)
    names = list(parts)
    assert names[0] == "[Content_Types].xml"
    folded = {n.casefold() for n in names}
    types = ET.fromstring(parts["[Content_Types].xml"])
    defaults = {e.get("Extension", "").casefold() for e in types if e.tag.endswith("Default")}
    overrides = {e.get("PartName", "").casefold() for e in types if e.tag.endswith("Override")}
    for override in overrides:
        assert override[1:] in folded, f"content type for missing part {override}"
    for name in names:
        if name == "[Content_Types].xml":
            continue
        ext = posixpath.basename(name).rsplit(".", 1)[-1].casefold()
        assert ext in defaults or "/" + name.casefold() in overrides, f"no content type: {name}"
        if "/_rels/" in "/" + name:
            directory, base = posixpath.split(name)
            source = posixpath.join(posixpath.dirname(directory), base[: -len(".rels")])
            assert source == "" or source.casefold() in folded, f"orphan rels {name}"
            for rel in ET.fromstring(parts[name]):
                if rel.get("TargetMode") == "External":
                    continue
                target = unquote(rel.get("Target", "").split("#")[0])
                resolved = posixpath.normpath(
                    target[1:]
                    if target.startswith("/")
                    else posixpath.join(posixpath.dirname(source), target)
                )
                assert resolved.casefold() in folded, f"dangling {name} -> {target}"


def assert_odf_consistent(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert infos[0].filename == "mimetype"
        assert infos[0].compress_type == zipfile.ZIP_STORED
        names = {i.filename for i in infos}
        manifest = ET.fromstring(archive.read("META-INF/manifest.xml"))
    paths = {
        e.get("{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}full-path", "") for e in manifest
    }
    for path in paths:
        assert (
            path == "/"
            or path in names
            or (path.endswith("/") and any(n.startswith(path) for n in names))
        ), f"manifest lists missing {path}"
    for name in names - {"mimetype", "META-INF/manifest.xml"}:
        assert name in paths, f"unlisted member {name}"


def assert_zip_deterministic(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.comment == b""
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.extra == b""
            assert info.comment == b""


# --- table-driven: per format, the fields that must be gone -------------------------------

CASES: dict[str, tuple[Callable[[], bytes], str, set[str]]] = {
    "docx": (
        make_docx,
        ".docx",
        {
            "ooxml:docProps/core",
            "ooxml:docProps/app",
            "ooxml:docProps/custom",
            "ooxml:thumbnail",
            "ooxml:comments",
            "ooxml:people",
            "ooxml:tracked-changes",
            "ooxml:rsid",
            "ooxml:paraId",
            "ooxml:printerSettings",
            "ooxml:customXml",
            "ooxml:attachedTemplate",
            "ooxml:sensitivity-label",
            "ooxml:docVars",
            "ooxml:password-hash",
            "ooxml:docId",
            "ooxml:nsid",
            "ooxml:permissions",
            "ooxml:image-file-name",
            "ooxml:local-path",
            "ooxml:external-target",
            "zip:timestamps",
            "zip:comment",
        },
    ),
    "xlsx": (
        make_xlsx,
        ".xlsx",
        {
            "ooxml:docProps/core",
            "ooxml:docProps/app",
            "ooxml:docProps/custom",
            "ooxml:comments",
            "ooxml:people",
            "ooxml:printerSettings",
            "ooxml:file-path",
            "ooxml:user-name",
            "ooxml:docId",
            "zip:timestamps",
        },
    ),
    "pptx": (
        make_pptx,
        ".pptx",
        {
            "ooxml:docProps/core",
            "ooxml:docProps/app",
            "ooxml:comments",
            "ooxml:password-hash",
            "ooxml:docId",
            "zip:timestamps",
        },
    ),
    "odt": (
        make_odt,
        ".odt",
        {
            "odf:meta.xml",
            "odf:settings.xml",
            "odf:annotation",
            "odf:tracked-changes",
            "odf:rsid",
            "odf:Thumbnails",
            "odf:Configurations2",
            "odf:local-path",
            "zip:timestamps",
            "zip:comment",
        },
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_fixture_fields_removed(kind: str, tmp_path: Path) -> None:
    make, suffix, expected = CASES[kind]
    original = make()
    assert markers_left(original), "fixture must carry markers"
    report = scrub(original)
    assert report.cleaned, report.reason
    assert report.file_type.name == kind
    missing = expected - set(report.removed)
    assert not missing, f"not reported: {sorted(missing)}"
    assert not [name for name in report.removed if MARK in name]  # names, never values
    assert markers_left(report.data) == []
    assert_exiftool_clean(report.data, tmp_path, suffix)
    assert_zip_deterministic(report.data)
    if kind == "odt":
        assert_odf_consistent(report.data)
    else:
        assert_ooxml_consistent(report.data)
    # The scrubber's own re-read of the output finds nothing, and the input's fields are seen.
    scrubber = OdfScrubber() if kind == "odt" else OoxmlScrubber()
    assert scrubber.get_meta(report.data, Limits()) == []
    assert expected <= set(scrubber.get_meta(original, Limits()))


@pytest.mark.parametrize("kind", sorted(CASES))
def test_cleaning_is_deterministic_and_idempotent(kind: str) -> None:
    original = CASES[kind][0]()
    first = scrub(original)
    second = scrub(original)
    assert first.cleaned and second.cleaned
    assert first.data == second.data
    again = scrub(first.data)
    assert again.cleaned
    assert again.removed == ()
    assert again.data == first.data


def test_docx_visible_text_kept_changes_accepted() -> None:
    original = make_docx()
    before = docx_text(original)
    assert before == "".join(DOCX_VISIBLE)
    report = scrub(original)
    assert report.cleaned, report.reason
    assert docx_text(report.data) == before
    document = members(report.data)["word/document.xml"].decode()
    assert DOCX_DELETED[0] not in document
    assert document.count("Moved sentence.") == 1
    for gone in (
        "w:ins",
        "w:del ",
        "w:moveFrom",
        "w:moveTo",
        "w:rPrChange",
        "w:pPrChange",
        "w:commentReference",
        "w:commentRangeStart",
        "w:permStart",
        "w:rsid",
        "w14:paraId",
    ):
        assert gone not in document, gone
    # Prefixes are kept as declared (mc:Ignorable names them by prefix).
    assert 'mc:Ignorable="w14 w15"' in document
    assert 'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml"' in document
    # The picture and the public hyperlink stay; the OLE link's local path is neutralised.
    rels = members(report.data)["word/_rels/document.xml.rels"].decode()
    assert "media/image1.jpeg" in rels
    assert "https://example.org/public" in rels
    assert 'Target="NULL"' in rels
    assert "comments.xml" not in rels


def test_docx_embedded_files_cleaned_recursively() -> None:
    report = scrub(make_docx())
    assert report.cleaned, report.reason
    assert "embedded:jpeg/exif:GPS" in report.removed or any(
        name.startswith("embedded:jpeg/") for name in report.removed
    )
    assert any(name.startswith("embedded:xlsx/ooxml:docProps/core") for name in report.removed)
    parts = members(report.data)
    inner = parts["word/embeddings/package1.xlsx"]
    assert "docProps/core.xml" not in members(inner)
    assert "Cell text stays" in members(inner)["xl/worksheets/sheet1.xml"].decode()
    # The cleaned image is still a decodable JPEG of the same size.
    from PIL import Image

    with Image.open(io.BytesIO(parts["word/media/image1.jpeg"])) as image:
        assert image.size == (16, 16)
        assert not image.getexif()


def test_odt_visible_text_kept_changes_accepted() -> None:
    original = make_odt()
    assert odf_text(original) == ODT_VISIBLE
    report = scrub(original)
    assert report.cleaned, report.reason
    assert odf_text(report.data) == ODT_VISIBLE
    parts = members(report.data)
    content = parts["content.xml"].decode()
    for gone in ("office:annotation", "tracked-changes", "text:change", "dc:creator", "rsid"):
        assert gone not in content, gone
    meta = ET.fromstring(parts["meta.xml"])
    office_meta = meta.find(OFFICE + "meta")
    assert office_meta is not None and len(office_meta) == 0
    settings = parts["settings.xml"].decode()
    assert "AddParaTableSpacing" in settings  # layout switches stay
    assert "PrinterName" not in settings and "PrinterSetup" not in settings
    assert "Thumbnails/thumbnail.png" not in parts
    assert not any(name.startswith("Configurations2/") for name in parts)
    assert "Pictures/photo.jpg" in parts
    # The embedded chart object is cleaned as part of the package; its preview picture goes.
    assert "Object 1/content.xml" in parts
    chart_meta = ET.fromstring(parts["Object 1/meta.xml"]).find(OFFICE + "meta")
    assert chart_meta is not None and len(chart_meta) == 0
    assert "ObjectReplacements/Object 1" not in parts
    assert "odf:ObjectReplacements" in report.removed
    # The inline (base64) picture was cleaned by the JPEG scrubber and put back.
    assert any(name.startswith("embedded:jpeg/") for name in report.removed)
    assert "office:binary-data" in content


def test_encrypted_odf_not_cleaned() -> None:
    manifest = (
        members(make_odt())["META-INF/manifest.xml"]
        .decode()
        .replace(
            'manifest:full-path="content.xml" manifest:media-type="text/xml"/>',
            'manifest:full-path="content.xml" manifest:media-type="text/xml">'
            '<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AA=="/>'
            "</manifest:file-entry>",
        )
    )
    assert "encryption-data" in manifest
    encrypted = replace_member(make_odt(), "META-INF/manifest.xml", manifest)
    with pytest.raises(UnsupportedTypeError):
        OdfScrubber().remove_all(encrypted, Limits())
    assert not scrub(encrypted).cleaned


def test_xlsx_and_pptx_content_kept() -> None:
    xlsx = scrub(make_xlsx())
    assert xlsx.cleaned, xlsx.reason
    parts = members(xlsx.data)
    assert "Cell text stays" in parts["xl/worksheets/sheet1.xml"].decode()
    assert 'paperSize="9"' in parts["xl/worksheets/sheet1.xml"].decode()
    assert not any("comments" in n.casefold() or "person" in n for n in parts)
    pptx = scrub(make_pptx())
    assert pptx.cleaned, pptx.reason
    parts = members(pptx.data)
    assert "Slide text stays" in parts["ppt/slides/slide1.xml"].decode()
    assert "ppt/commentAuthors.xml" not in parts
    assert "ppt/comments/comment1.xml" not in parts


# --- hostile input ------------------------------------------------------------------------


def test_billion_laughs_refused_quickly() -> None:
    hostile = replace_member(make_docx(), "word/document.xml", BILLION_LAUGHS)
    with pytest.raises((CorruptFileError, LimitExceededError)):
        OoxmlScrubber().remove_all(hostile, Limits())
    with pytest.raises((CorruptFileError, LimitExceededError)):
        OoxmlScrubber().get_meta(hostile, Limits())
    report = scrub(hostile)
    assert not report.cleaned and report.data == hostile
    # Refused at the DTD, before any expansion (the suite's timeout would catch a blow-up).


def test_odf_billion_laughs_refused() -> None:
    hostile = replace_member(make_odt(), "content.xml", BILLION_LAUGHS)
    with pytest.raises(CorruptFileError):
        OdfScrubber().remove_all(hostile, Limits())


def test_zip_bomb_member_refused() -> None:
    bomb = replace_member(make_docx(), "word/media/zeros.bin", b"\x00" * (8 * 1024 * 1024))
    with pytest.raises(LimitExceededError):
        OoxmlScrubber().remove_all(bomb, Limits())
    with pytest.raises(LimitExceededError):
        read_package(bomb, Limits(max_zip_member_bytes=1024 * 1024, max_zip_ratio=10**9))
    with pytest.raises(LimitExceededError):
        read_package(bomb, Limits(max_zip_total_bytes=2 * 1024 * 1024, max_zip_ratio=10**9))
    report = scrub(bomb)
    assert not report.cleaned and report.reason == LimitExceededError.reason


def test_too_many_members_refused() -> None:
    package = make_docx()
    with pytest.raises(LimitExceededError):
        read_package(package, Limits(max_zip_members=5))


@pytest.mark.parametrize(
    "bad_name",
    ["../evil.xml", "/etc/evil.xml", "word\\..\\..\\evil.xml", "C:/evil.xml", "word/./x.xml"],
)
def test_zip_slip_names_refused(bad_name: str) -> None:
    base = members(make_docx())
    hostile = raw_zip([*base.items(), (bad_name, b"<x/>")])
    with pytest.raises(CorruptFileError):
        OoxmlScrubber().remove_all(hostile, Limits())
    assert not scrub(hostile).cleaned


def test_duplicate_member_names_refused() -> None:
    base = list(members(make_docx()).items())
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate it writes
        twice = raw_zip([*base, ("word/document.xml", b"<other/>")])
        folded = raw_zip([*base, ("WORD/Document.xml", b"<other/>")])
    for hostile in (twice, folded):
        with pytest.raises(CorruptFileError):
            OoxmlScrubber().remove_all(hostile, Limits())


def test_nesting_bounded_by_max_depth() -> None:
    shallow = make_nested_docx(2)
    _, cleaned = clean(shallow, Limits(max_depth=4))
    assert markers_left(cleaned.data) == []
    deep = make_nested_docx(6)
    with pytest.raises(LimitExceededError):
        clean(deep, Limits(max_depth=4))
    report = scrub(deep, limits=Limits(max_depth=4))
    assert not report.cleaned and report.data == deep


def test_uncleanable_binary_part_handed_back_on_its_own() -> None:
    # An OLE object (a legacy binary no scrubber reads): taken out of the document and
    # handed back as received, marked not cleaned; the document around it is cleaned, as
    # Office keeps a document whose legacy binary parts it drops.
    blob = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    docx = make_docx(embedded_xlsx=blob)
    report = scrub(docx)
    assert report.cleaned, report.reason
    assert "ooxml:uncleanable-part" in report.removed
    assert "embedded-not-cleaned" in report.warnings
    [attachment] = report.attachments
    assert attachment.untrusted_name == "word/embeddings/Microsoft_Excel_Worksheet.xlsx"
    assert not attachment.report.cleaned and attachment.report.data == blob
    parts = members(report.data)
    assert "word/embeddings/Microsoft_Excel_Worksheet.xlsx" not in parts
    document = parts["word/document.xml"].decode()
    # The object stays (its preview is drawn), without its reference to the removed part.
    assert "<o:OLEObject" in document and 'r:id="rId11"' not in document
    assert_ooxml_consistent(report.data)


def test_unreferenced_part_dropped() -> None:
    docx = replace_member(make_docx(), "word/hidden.xml", f"<x>{MARK}</x>")
    report = scrub(docx)
    assert report.cleaned, report.reason
    assert "ooxml:unreferenced-part" in report.removed
    assert "word/hidden.xml" not in members(report.data)


def test_missing_content_types_or_garbage_fail_cleanly() -> None:
    without = raw_zip(
        [(n, b) for n, b in members(make_docx()).items() if n != "[Content_Types].xml"]
    )
    garbage = replace_member(make_docx(), "word/document.xml", b"\x00\xff not xml")
    for bad in (without, garbage, b"PK\x03\x04 truncated"):
        report = scrub(bad)
        assert not report.cleaned and report.reason and report.data == bad


def test_errors_are_scrub_errors_only() -> None:
    for bad in (b"PK\x03\x04", make_docx()[:500], make_odt()[:300]):
        for scrubber in (OoxmlScrubber(), OdfScrubber()):
            try:
                scrubber.remove_all(bad, Limits())
            except ScrubError:
                pass


# --- the shared corpus ---------------------------------------------------------------------

BROKEN = {
    "broken_xml_content_types.docx",
    "malformed_content_types.docx",
    "no_content_types.docx",
    "embedded_corrupted.docx",
    "embedded_corrupted.odt",
}
OFFICE_SUFFIXES = {".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".odg"}


def corpus_files(shared_dir: Path | None) -> list[Path]:
    if shared_dir is None:
        return []
    return sorted(
        p
        for folder in ("mat2", "exiftool")
        for p in (shared_dir / "corpus" / folder).iterdir()
        if p.suffix in OFFICE_SUFFIXES
    )


def test_corpus_office_files(shared_dir: Path | None, tmp_path: Path) -> None:
    files = corpus_files(shared_dir)
    if shared_dir is None:
        return  # outside this environment: the self-made fixtures above cover each format
    assert len(files) >= 15
    for path in files:
        original = path.read_bytes()
        report = scrub(original)
        if path.name in BROKEN:
            assert not report.cleaned, path.name
            assert report.reason and report.data == original
            continue
        assert report.cleaned, (path.name, report.reason)
        assert_exiftool_clean(report.data, tmp_path, path.suffix)
        assert_zip_deterministic(report.data)
        if path.suffix.startswith(".od"):
            assert_odf_consistent(report.data)
        else:
            assert_ooxml_consistent(report.data)
        assert scrub(report.data).removed == (), path.name


def test_corpus_mat2_leftovers(shared_dir: Path | None) -> None:
    """Where mat2 refuses (a docx with comments) or leaves an author (ODT), we do not."""
    if shared_dir is None:
        return
    corpus = shared_dir / "corpus" / "mat2"
    comment = scrub((corpus / "comment.docx").read_bytes())
    assert comment.cleaned and "ooxml:comments" in comment.removed
    parts = members(comment.data)
    assert not any("comment" in n.casefold() or "people" in n for n in parts)
    assert b"w:author" not in parts["word/document.xml"]
    for name in ("dirty.odt", "revision.odt"):
        report = scrub((corpus / name).read_bytes())
        assert report.cleaned, report.reason
        for member, content in members(report.data).items():
            if member.endswith(".xml"):
                assert b"dc:creator" not in content and b"meta:initial-creator" not in content
    revision = scrub((corpus / "revision.odt").read_bytes())
    assert "odf:tracked-changes" in revision.removed
    assert b"Hello World" not in members(revision.data)["content.xml"]  # the deleted text
    move = scrub((corpus / "revision_move.docx").read_bytes())
    document = members(move.data)["word/document.xml"].decode()
    assert document.count("The budget figures are confidential.") == 1
    assert "Alice Reviewer" not in document


# --- adversarial review: places that held identifying data -----------------------------------


def _add_part(
    package: bytes, source_rels: str, rel_type: str, target: str, part: str, ctype: str, xml: str
) -> bytes:
    """``package`` with one more part, reached by a relationship from ``source_rels``."""
    old = members(package)
    rels = (
        old[source_rels]
        .decode()
        .replace(
            "</Relationships>",
            f'<Relationship Id="rIdExtra" Type="{rel_type}" Target="{target}"/></Relationships>',
        )
    )
    types = (
        old["[Content_Types].xml"]
        .decode()
        .replace("</Types>", f'<Override PartName="/{part}" ContentType="{ctype}"/></Types>')
    )
    package = replace_member(package, source_rels, rels)
    package = replace_member(package, "[Content_Types].xml", types)
    return replace_member(package, part, xml)


def test_xlsx_data_connection_paths_and_logins_removed() -> None:
    # xl/connections.xml: the connection string ("User ID=<login>"), the .odc file and the
    # text source file paths ("C:\Users\<name>\...") all named the author.
    x = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    x15 = "http://schemas.microsoft.com/office/spreadsheetml/2010/11/main"
    connections = (
        f'<connections xmlns="{x}" xmlns:x15="{x15}">'
        f'<connection id="1" name="Query" type="1" refreshedVersion="6" '
        f'odcFile="C:\\Users\\Marker-OdcUser-{MARK}\\My Data Sources\\q.odc" '
        f'singleSignOnId="Marker-Sso-{MARK}">'
        f'<dbPr connection="Provider=SQLOLEDB;Data Source=srv;User ID=Marker-Login-{MARK}" '
        'command="SELECT 1"/>'
        '<extLst><ext uri="{DE250136-89BD-433C-8126-D09CA5730AF9}">'
        f'<x15:connection id="x"><x15:oledbPr connection="Marker-X15Conn-{MARK}"/>'
        "</x15:connection></ext></extLst></connection>"
        f'<connection id="2" name="Csv" type="6"><textPr '
        f'sourceFile="C:\\Users\\Marker-CsvUser-{MARK}\\data.csv"/></connection>'
        "</connections>"
    )
    xlsx = _add_part(
        make_xlsx(),
        "xl/_rels/workbook.xml.rels",
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/connections",
        "connections.xml",
        "xl/connections.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.connections+xml",
        connections,
    )
    assert "ooxml:data-connection" in OoxmlScrubber().get_meta(xlsx, Limits())
    report = scrub(xlsx)
    assert report.cleaned, report.reason
    assert "ooxml:data-connection" in report.removed
    assert markers_left(report.data) == []
    kept = members(report.data)["xl/connections.xml"].decode()
    # The connection itself stays (the sheets' cached values refer to it), as valid XML.
    assert 'name="Query"' in kept and 'command="SELECT 1"' in kept and 'connection=""' in kept
    assert_ooxml_consistent(report.data)


def test_odf_macros_and_their_event_bindings_removed() -> None:
    # Basic/ and Scripts/ hold code (with the author's paths, names and library names) and
    # run when the document opens; the events that call them name the macro library.
    odt = make_odt()
    module = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1"'
        ' script:language="StarBasic">Sub Main\n'
        f'  Shell("C:\\Users\\Marker-MacroUser-{MARK}\\run.bat")\nEnd Sub</script:module>'
    )
    manifest = members(odt)["META-INF/manifest.xml"].decode()
    entries = "".join(
        f'<manifest:file-entry manifest:full-path="{path}" manifest:media-type="{mt}"/>'
        for path, mt in (
            ("Basic/", ""),
            ("Basic/Standard/", ""),
            ("Basic/Standard/Module1.xml", "text/xml"),
            ("Basic/Standard/script-lb.xml", "text/xml"),
            ("Basic/script-lc.xml", "text/xml"),
            ("Scripts/python/hook.py", ""),
        )
    )
    odt = replace_member(
        odt,
        "META-INF/manifest.xml",
        manifest.replace("</manifest:manifest>", entries + "</manifest:manifest>"),
    )
    odt = replace_member(odt, "Basic/Standard/Module1.xml", module)
    odt = replace_member(odt, "Basic/Standard/script-lb.xml", f"<x>Marker-Lib-{MARK}</x>")
    odt = replace_member(odt, "Basic/script-lc.xml", f"<x>Marker-Lc-{MARK}</x>")
    odt = replace_member(odt, "Scripts/python/hook.py", f"# Marker-Py-{MARK}\n")
    content = members(odt)["content.xml"].decode()
    events = (
        '<office:event-listeners xmlns:script="urn:oasis:names:tc:opendocument:xmlns:script:1.0">'
        '<script:event-listener script:language="ooo:script" script:event-name="dom:load" '
        f'xlink:href="vnd.sun.star.script:Standard.Marker-Ev-{MARK}.Main?language=Basic'
        '&amp;location=document" xlink:type="simple"/></office:event-listeners>'
    )
    odt = replace_member(
        odt, "content.xml", content.replace("<office:body>", events + "<office:body>", 1)
    )
    assert "odf:macros" in OdfScrubber().get_meta(odt, Limits())
    report = scrub(odt)
    assert report.cleaned, report.reason
    assert "odf:macros" in report.removed
    assert markers_left(report.data) == []
    assert not any(n.startswith(("Basic/", "Scripts/")) for n in members(report.data))
    assert_odf_consistent(report.data)
    assert odf_text(report.data) == odf_text(scrub(make_odt()).data)


# --- issue 10: one test per hiding place, each with its own canary ------------------------


def assert_canaries_gone(report: ScrubReport, tmp_path: Path, suffix: str) -> None:
    """Cleaned; no canary in any member (decompressed, recursively) nor in the zip's own
    bytes; none in what ExifTool reads; the scrubber's re-read finds nothing left."""
    assert report.cleaned, report.reason
    assert markers_left(report.data) == []
    path = tmp_path / f"out{suffix}"
    path.write_bytes(report.data)
    listing = subprocess.run(
        ["exiftool", "-a", "-G1", "-s", "-ee", "-b", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert MARK.encode() not in listing
    assert_exiftool_clean(report.data, tmp_path, suffix)
    assert scrub(report.data).removed == ()


PICTURE = (
    '<w:p><w:r><w:drawing><wp:inline><wp:extent cx="100" cy="100"/><wp:docPr id="1" '
    'name="Picture 1"/><a:graphic><a:graphicData '
    'uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr>'
    '<pic:cNvPr id="1" name="Picture 1"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill>'
    "<a:blip {blip}/></pic:blipFill></pic:pic></a:graphicData></a:graphic></wp:inline>"
    "</w:drawing></w:r></w:p>"
)
TEXT_PARAGRAPH = "<w:p><w:r><w:t>Body text stays.</w:t></w:r></w:p>"


def test_font_part_holding_a_jpeg_is_cleaned_as_a_jpeg(tmp_path: Path) -> None:
    # Declared a font in [Content_Types].xml, by its name too: the bytes are a JPEG with GPS.
    docx = minimal_docx(
        TEXT_PARAGRAPH,
        rels=(("rId1", f"{RT}/font", "fonts/font1.odttf"),),
        parts=(("word/fonts/font1.odttf", jpeg_with_gps(), "application/vnd.openxmlformats-"
                "officedocument.obfuscatedFont"),),
    )  # fmt: skip
    assert markers_left(docx)
    report = scrub(docx)
    assert any(name.startswith("embedded:jpeg/") for name in report.removed)
    assert_canaries_gone(report, tmp_path, ".docx")


def test_font_part_that_is_no_font_makes_the_document_not_cleaned() -> None:
    docx = minimal_docx(
        TEXT_PARAGRAPH,
        rels=(("rId1", f"{RT}/font", "fonts/font1.odttf"),),
        parts=(("word/fonts/font1.odttf", f"\x01\x02{marker('FontBlob')}".encode(),
                "application/vnd.openxmlformats-officedocument.obfuscatedFont"),),
    )  # fmt: skip
    report = scrub(docx)
    assert not report.cleaned and report.data == docx


def test_real_obfuscated_font_kept() -> None:
    # Word's obfuscation: the first 32 bytes XORed with the GUID of the part's name.
    guid = "{0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9}"
    key = bytes.fromhex(guid.strip("{}").replace("-", ""))[::-1]
    font = b"\x00\x01\x00\x00" + bytes(60)
    obfuscated = bytes(b ^ key[i % 16] for i, b in enumerate(font[:32])) + font[32:]
    docx = minimal_docx(
        TEXT_PARAGRAPH,
        rels=(("rId1", f"{RT}/font", f"fonts/{guid}.odttf"),),
        parts=((f"word/fonts/{guid}.odttf", obfuscated,
                "application/vnd.openxmlformats-officedocument.obfuscatedFont"),),
    )  # fmt: skip
    report = scrub(docx)
    assert report.cleaned, report.reason
    assert members(report.data)[f"word/fonts/{guid}.odttf"] == obfuscated


@pytest.mark.parametrize(
    ("rel_type", "body"),
    [
        ("image", PICTURE.format(blip='r:link="rIdX"')),  # linked picture: a beacon
        ("oleObject", '<w:p><w:r><w:object><o:OLEObject Type="Link" r:id="rIdX"/>'
         "</w:object></w:r></w:p>"),
        ("frame", TEXT_PARAGRAPH),
        ("subDocument", '<w:p><w:subDoc r:id="rIdX"/></w:p>'),
    ],
)  # fmt: skip
def test_external_targets_removed(rel_type: str, body: str, tmp_path: Path) -> None:
    url = f"https://tracker.example/{marker('Beacon' + rel_type)}.png"
    docx = minimal_docx(
        body + TEXT_PARAGRAPH, rels=(("rIdX", f"{RT}/{rel_type}", url, "External"),)
    )
    report = scrub(docx)
    assert "ooxml:external-target" in report.removed
    assert url not in report.links
    assert_canaries_gone(report, tmp_path, ".docx")
    assert "Body text stays." in docx_text(report.data)
    assert_ooxml_consistent(report.data)


def test_linked_picture_keeps_its_embedded_copy() -> None:
    url = f"http://tracker.example/{marker('BlipLink')}.png"
    docx = minimal_docx(
        PICTURE.format(blip='r:embed="rId1" r:link="rId2"'),
        rels=(
            ("rId1", f"{RT}/image", "media/image1.png"),
            ("rId2", f"{RT}/image", url, "External"),
        ),
        parts=(("word/media/image1.png", png_plain(), "image/png"),),
    )
    report = scrub(docx)
    assert report.cleaned, report.reason
    document = members(report.data)["word/document.xml"].decode()
    assert 'r:embed="rId1"' in document and "r:link" not in document
    assert markers_left(report.data) == []


def test_attached_template_removed(tmp_path: Path) -> None:
    # The settings part's template path usually holds the Windows user name; it is also
    # fetched when the document opens (a beacon when it is a URL).
    docx = scrub(make_docx())
    assert "ooxml:attachedTemplate" in docx.removed
    assert b"attachedTemplate" not in members(docx.data)["word/settings.xml"]
    assert_canaries_gone(docx, tmp_path, ".docx")


@pytest.mark.parametrize("word", ["INCLUDEPICTURE", "INCLUDETEXT", "LINK", "DDE", "DDEAUTO"])
def test_simple_fields_that_load_from_elsewhere_removed(word: str, tmp_path: Path) -> None:
    path = f"C:\\Users\\{marker('Field' + word)}\\x.docx"
    docx = minimal_docx(
        f'<w:p><w:fldSimple w:instr=" {word} &quot;{path}&quot; \\d">'
        "<w:r><w:t>Last shown result.</w:t></w:r></w:fldSimple></w:p>"
    )
    report = scrub(docx)
    assert "ooxml:external-field" in report.removed
    assert docx_text(report.data) == "Last shown result."
    assert b"fldSimple" not in members(report.data)["word/document.xml"]
    assert_canaries_gone(report, tmp_path, ".docx")


def test_complex_fields_across_runs_and_paragraphs_removed(tmp_path: Path) -> None:
    # begin / instrText (split over runs, a nested field inside) / separate / result over
    # two paragraphs / end; and a harmless PAGE field that stays.
    def run(inner: str) -> str:
        return f"<w:r>{inner}</w:r>"

    begin = run('<w:fldChar w:fldCharType="begin"/>')
    separate = run('<w:fldChar w:fldCharType="separate"/>')
    end = run('<w:fldChar w:fldCharType="end"/>')
    body = (
        "<w:p>" + begin + run('<w:instrText xml:space="preserve"> INCLUDE</w:instrText>')
        + run(f'<w:instrText>TEXT "\\\\server\\{marker("UncUser")}\\</w:instrText>')
        + begin + run("<w:instrText> MERGEFIELD x </w:instrText>") + end
        + run('<w:instrText>doc.docx" </w:instrText>') + separate
        + run("<w:t>Result one.</w:t>") + "</w:p><w:p>" + run("<w:t>Result two.</w:t>")
        + end + begin + run("<w:instrText> PAGE </w:instrText>") + separate
        + run("<w:t>1</w:t>") + end + "</w:p>"
    )  # fmt: skip
    report = scrub(minimal_docx(body))
    assert "ooxml:external-field" in report.removed
    document = members(report.data)["word/document.xml"].decode()
    assert "INCLUDE" not in document and "MERGEFIELD" not in document
    assert document.count('w:fldCharType="begin"') == 1  # PAGE's
    assert "PAGE" in document
    assert docx_text(report.data) == "Result one.Result two.1"
    assert_canaries_gone(report, tmp_path, ".docx")


def test_hyperlinks_kept_and_listed(tmp_path: Path) -> None:
    url = "https://news.example/story?utm_source=copy-17"
    docx = minimal_docx(
        '<w:p><w:hyperlink r:id="rId1"><w:r><w:t>the story</w:t></w:r></w:hyperlink>'
        '<w:fldSimple w:instr=" HYPERLINK &quot;https://field.example/x&quot; ">'
        "<w:r><w:t>field link</w:t></w:r></w:fldSimple></w:p>",
        rels=(("rId1", f"{RT}/hyperlink", url, "External"),),
    )
    report = scrub(docx)
    assert report.cleaned, report.reason
    assert "hyperlinks" in report.warnings
    assert url in report.links and "https://field.example/x" in report.links
    assert url in members(report.data)["word/_rels/document.xml.rels"].decode()
    assert docx_text(report.data) == "the storyfield link"


def test_rsids_removed(tmp_path: Path) -> None:
    docx = minimal_docx(
        '<w:p w:rsidR="9C1E00AA" w:rsidRDefault="9C1E00AB"><w:r w:rsidRPr="9C1E00AC">'
        "<w:t>Body text stays.</w:t></w:r></w:p>"
    )
    report = scrub(docx)
    assert "ooxml:rsid" in report.removed
    assert_canaries_gone(report, tmp_path, ".docx")


def test_unknown_namespaces_removed_with_their_declarations(tmp_path: Path) -> None:
    ns = f"urn:vendor:{marker('NamespaceUri')}"
    docx = minimal_docx(
        f'<w:p x:owner="{marker("ForeignAttribute")}"><x:note>{marker("ForeignElement")}'
        "</x:note><w:r><w:t>Body text stays.</w:t></w:r></w:p>",
        root_attributes=f' xmlns:x="{ns}" xmlns:mc="http://schemas.openxmlformats.org/'
        'markup-compatibility/2006" mc:Ignorable="x"',
    )
    report = scrub(docx)
    assert "ooxml:unknown-xml" in report.removed
    assert_canaries_gone(report, tmp_path, ".docx")
    document = members(report.data)["word/document.xml"].decode()
    assert "mc:Ignorable" not in document  # its only prefix went with its declaration
    assert docx_text(report.data) == "Body text stays."


def _vml_pptx(vml: str) -> bytes:
    base = make_pptx()
    p_rel = "ppt/slides/_rels/slide1.xml.rels"
    rels = (
        members(base)[p_rel]
        .decode()
        .replace(
            "</Relationships>",
            f'<Relationship Id="rIdV" Type="{RT}/vmlDrawing" '
            'Target="../drawings/vmlDrawing1.vml"/></Relationships>',
        )
    )
    types = (
        members(base)["[Content_Types].xml"]
        .decode()
        .replace(
            "</Types>",
            '<Default Extension="vml" ContentType="application/vnd.openxmlformats-officedocument.'
            'vmlDrawing"/></Types>',
        )
    )
    package = replace_member(base, p_rel, rels)
    package = replace_member(package, "[Content_Types].xml", types)
    return replace_member(package, "ppt/drawings/vmlDrawing1.vml", vml)


def test_legacy_vml_with_conditional_sections_cleaned_not_refused(tmp_path: Path) -> None:
    # What Office writes for OLE previews: not well-formed XML, read by a forgiving parser.
    vml = (
        '<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:'
        'office:office"><o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="1"/>'
        '</o:shapelayout><v:shape id="_x0000_s1025" style="position:absolute">'
        "<![if gte mso 9]>"
        f'<v:imagedata src="file:///C:/Users/{marker("VmlSrc")}/pic.emf" o:title=""/>'
        "<![endif]><v:textbox><div>one<br>two</div></v:textbox></v:shape></xml>"
    )
    report = scrub(_vml_pptx(vml))
    assert "ooxml:external-target" in report.removed
    assert_canaries_gone(report, tmp_path, ".pptx")
    kept = members(report.data)["ppt/drawings/vmlDrawing1.vml"].decode()
    assert "v:textbox" in kept and "<br/>" in kept


def test_macro_enabled_document_kept_and_cleaned(tmp_path: Path) -> None:
    vba = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + marker("VbaModule").encode() * 20
    docm = minimal_docx(
        TEXT_PARAGRAPH,
        rels=(("rId1", "http://schemas.microsoft.com/office/2006/relationships/vbaProject",
               "vbaProject.bin"),),
        parts=(("word/vbaProject.bin", vba, "application/vnd.ms-office.vbaProject"),),
        main_type="application/vnd.ms-word.document.macroEnabled.main+xml",
    )  # fmt: skip
    report = scrub(docm)
    assert report.file_type.name == "docx"
    assert "ooxml:macros" in report.removed
    assert report.attachments == ()  # macros are removed, not handed back
    assert_canaries_gone(report, tmp_path, ".docx")
    types = members(report.data)["[Content_Types].xml"].decode()
    assert "macroEnabled" not in types and "wordprocessingml.document.main+xml" in types


def test_xlsx_dde_link_removed() -> None:
    x = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    link = (
        f'<externalLink xmlns="{x}"><ddeLink ddeService="cmd" '
        f'ddeTopic="/C {marker("DdeTopic")}"><ddeItems><ddeItem name="A0"/></ddeItems>'
        "</ddeLink></externalLink>"
    )
    xlsx = _add_part(
        make_xlsx(),
        "xl/_rels/workbook.xml.rels",
        f"{RT}/externalLink",
        "externalLinks/externalLink1.xml",
        "xl/externalLinks/externalLink1.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml",
        link,
    )
    report = scrub(xlsx)
    assert report.cleaned, report.reason
    assert "ooxml:external-field" in report.removed
    assert markers_left(report.data) == []


@pytest.mark.parametrize(
    "field",
    ["author-name", "author-initials", "sender-firstname", "sender-email", "initial-creator",
     "creator"],
)  # fmt: skip
def test_odf_author_fields_removed(field: str, tmp_path: Path) -> None:
    odt = minimal_odt(
        f"<text:p>Signed: <text:{field}>{marker('OdfField' + field)}</text:{field}>.</text:p>"
    )
    report = scrub(odt)
    assert "odf:author-field" in report.removed
    assert_canaries_gone(report, tmp_path, ".odt")
    assert odf_text(report.data) == "Signed: ."


@pytest.mark.parametrize("scheme", ["http://", "https://", "file:///home/", "../../"])
def test_odf_external_images_and_objects_removed(scheme: str, tmp_path: Path) -> None:
    odt = minimal_odt(
        '<text:p>Body text stays.<draw:frame draw:name="A"><draw:image xlink:type="simple" '
        f'xlink:href="{scheme}{marker("OdfImage")}/a.png"/></draw:frame>'
        '<draw:frame draw:name="B"><draw:object xlink:type="simple" '
        f'xlink:href="{scheme}{marker("OdfObject")}/b.odt"/></draw:frame>'
        '<draw:frame draw:name="C"><draw:image xlink:href="Pictures/kept.png"/></draw:frame>'
        "</text:p>",
        extra=(("Pictures/kept.png", png_plain(), "image/png"),),
    )
    report = scrub(odt)
    # A path on the author's disk is emptied as such; a URL is removed as a beacon.
    assert {"odf:external-target", "odf:local-path"} & set(report.removed)
    assert_canaries_gone(report, tmp_path, ".odt")
    assert 'xlink:href="Pictures/kept.png"' in members(report.data)["content.xml"].decode()


def test_odf_hyperlinks_kept_and_listed() -> None:
    url = "https://news.example/story?ref=copy-17"
    report = scrub(minimal_odt(f'<text:p><text:a xlink:href="{url}">story</text:a></text:p>'))
    assert report.cleaned, report.reason
    assert report.links == (url,) and "hyperlinks" in report.warnings
    assert url in members(report.data)["content.xml"].decode()


def test_odf_dde_and_unknown_namespaces_removed(tmp_path: Path) -> None:
    odt = minimal_odt(
        '<text:dde-connection-decls><text:dde-connection-decl office:name="L" '
        f'office:dde-application="soffice" office:dde-topic="C:\\{marker("DdeTopic")}" '
        'office:dde-item="x"/></text:dde-connection-decls>'
        f'<text:p xmlns:v="urn:vendor:{marker("OdfNs")}" v:who="{marker("OdfAttr")}">'
        f"Body<v:x>{marker('OdfElement')}</v:x> text.</text:p>"
    )
    report = scrub(odt)
    assert {"odf:external-field", "odf:unknown-xml"} <= set(report.removed)
    assert_canaries_gone(report, tmp_path, ".odt")
    assert odf_text(report.data) == "Body text."


def test_odf_uncleanable_member_handed_back() -> None:
    blob = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    odt = minimal_odt(
        '<text:p>Body<draw:frame><draw:object-ole xlink:href="./Object 1"/></draw:frame></text:p>',
        extra=(("Object 1", blob, "application/vnd.sun.star.oleobject"),),
    )
    report = scrub(odt)
    assert report.cleaned, report.reason
    assert "embedded-not-cleaned" in report.warnings
    [attachment] = report.attachments
    assert attachment.untrusted_name == "Object 1" and attachment.report.data == blob
    assert "Object 1" not in members(report.data)
    assert_odf_consistent(report.data)


# --- issue 10: every office document and ZIP of the corpus, wild/ included ------------------

_PACKAGE_SUFFIXES = {
    *OFFICE_SUFFIXES,
    *(".docm", ".dotx", ".dotm", ".xlsm", ".pptm", ".ppsx", ".ppsm", ".potx", ".thmx"),
    *(".vsdx", ".xlsb", ".ooxml", ".ott", ".ots", ".otp", ".zip"),
}
_ZIP_FAMILY = {"docx", "xlsx", "pptx", "odt", "ods", "odp", "odg", "zip"}
# Every refusal, with its reason. Each one is either a file that `zipfile` itself cannot read
# (checked below), or one of DELIBERATE: readable as a zip, but what it holds cannot be
# cleaned without guessing (and guessing wrong would let a name through, or break the file).
REFUSED = {
    "wild/poi-bug53475-password-is-pass.docx": UnsupportedTypeError.reason,  # OLE2, encrypted
    "wild/poi-protect.xlsx": UnsupportedTypeError.reason,  # OLE2 encrypted package
    "wild/poi-truncated62886.docx": UnsupportedTypeError.reason,  # no central directory
    "wild/poi-clusterfuzz-testcase-minimized-POIXSLFFuzzer-6254434927378432.pptx": (
        UnsupportedTypeError.reason
    ),
    "wild/poi-clusterfuzz-testcase-minimized-POIXWPFFuzzer-6442791109263360.docx": (
        UnsupportedTypeError.reason
    ),
    "wild/poi-clusterfuzz-testcase-minimized-POIFuzzer-5040805309710336.xlsx": (
        CorruptFileError.reason  # bad local header: zipfile cannot read a member
    ),
    # Deliberate:
    "wild/poi-duplicate-filename.xlsx": CorruptFileError.reason,  # two different sheet1.xml
    "wild/poi-Simple.xlsb": UnsupportedTypeError.reason,  # binary workbook parts (BIFF12)
    "wild/poi-testVarious.xlsb": UnsupportedTypeError.reason,
    "mat2/broken_xml_content_types.docx": CorruptFileError.reason,  # malformed XML
    "mat2/malformed_content_types.docx": CorruptFileError.reason,
    "mat2/no_content_types.docx": CorruptFileError.reason,
    "mat2/embedded_corrupted.docx": CorruptFileError.reason,  # main part is not XML
    "mat2/embedded_corrupted.odt": CorruptFileError.reason,  # content.xml is not XML
}
# (EPUB, a zip-based format of its own, sniffs as "epub" and is cleaned by its own scrubber:
# tests/test_scrub_epub.py, which also cleans media/mat2-dirty.epub.)
DELIBERATE = {
    "wild/poi-duplicate-filename.xlsx",
    "wild/poi-Simple.xlsb",
    "wild/poi-testVarious.xlsb",
    "mat2/broken_xml_content_types.docx",
    "mat2/malformed_content_types.docx",
    "mat2/no_content_types.docx",
    "mat2/embedded_corrupted.docx",
    "mat2/embedded_corrupted.odt",
}


def _zipfile_reads(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return False


def _all_packages(shared_dir: Path) -> list[Path]:
    from scrubbers import sniff

    found = []
    for path in sorted((shared_dir / "corpus").rglob("*")):
        if not path.is_file():
            continue
        if path.suffix.casefold() in _PACKAGE_SUFFIXES or sniff(path.read_bytes()).name in (
            _ZIP_FAMILY
        ):
            found.append(path)
    return found


@pytest.mark.slow  # about 20 s: every office file of the corpus, twice
def test_corpus_every_office_and_zip_file(shared_dir: Path | None, tmp_path: Path) -> None:
    if shared_dir is None:
        return  # outside this environment: the self-made fixtures above cover each format
    files = _all_packages(shared_dir)
    assert len(files) >= 85
    refused: dict[str, str | None] = {}
    for path in files:
        name = str(path.relative_to(shared_dir / "corpus"))
        original = path.read_bytes()
        report = scrub(original)
        if not report.cleaned:
            refused[name] = report.reason
            assert report.data == original, name  # kept as received
            if name not in DELIBERATE:
                assert not _zipfile_reads(original), f"{name}: zipfile reads it"
            continue
        out = report.data
        assert _zipfile_reads(out), name
        assert_zip_deterministic(out)
        suffix = report.file_type.extension
        if members(out):  # ExifTool reads no zip without a member (nor did it the input)
            assert_exiftool_clean(out, tmp_path, suffix)
        kind = report.file_type.name
        if kind.startswith("od"):
            assert_odf_consistent(out)
        elif kind in ("docx", "xlsx", "pptx"):
            assert_ooxml_consistent(out)
        if kind == "docx" and "word/document.xml" in members(original):
            assert docx_text(out) == docx_text(original), name
        if kind == "odt":
            assert odf_text(out) == odf_text(original), name
        again = scrub(out)
        assert again.cleaned and again.removed == (), (name, again.removed)
        for attachment in report.attachments:
            assert attachment.report.cleaned or attachment.report.reason, name
    assert refused == REFUSED


def test_parts_of_unknown_relationship_types_removed(tmp_path: Path) -> None:
    # The part allowlist: a relationship type no specification defines, to a part holding
    # well-formed XML of a known namespace, goes with its part.
    docx = minimal_docx(
        TEXT_PARAGRAPH,
        rels=(("rId1", "http://vendor.example/relationships/tracking", "tracking.xml"),),
        parts=(("word/tracking.xml", f'<w:x xmlns:w="{W[1:-1]}">{marker("Vendor")}</w:x>',
                "application/xml"),),
    )  # fmt: skip
    report = scrub(docx)
    assert "ooxml:unknown-part" in report.removed
    assert "word/tracking.xml" not in members(report.data)
    assert_canaries_gone(report, tmp_path, ".docx")
    assert_ooxml_consistent(report.data)


def test_package_parts_kept_by_element_and_attribute(tmp_path: Path) -> None:
    # [Content_Types].xml and the .rels parts have a closed grammar (OPC): anything beyond
    # it is free text no reader shows.
    docx = minimal_docx(
        TEXT_PARAGRAPH, rels=(("rId1", f"{RT}/hyperlink", "https://x.example/", "External"),)
    )
    rels = members(docx)["word/_rels/document.xml.rels"].decode()
    rels = rels.replace(
        'TargetMode="External"/>',
        f'TargetMode="External" Note="{marker("RelAttr")}"/><Extra>{marker("RelElement")}</Extra>',
    )
    types = members(docx)["[Content_Types].xml"].decode()
    types = types.replace("<Default ", f'<Default Who="{marker("TypesAttr")}" ', 1)
    docx = replace_member(docx, "word/_rels/document.xml.rels", rels)
    docx = replace_member(docx, "[Content_Types].xml", types)
    report = scrub(docx)
    assert "ooxml:unknown-xml" in report.removed
    assert_canaries_gone(report, tmp_path, ".docx")
    assert_ooxml_consistent(report.data)


STYLES_PART = (
    "word/styles.xml",
    f'<w:styles xmlns:w="{W[1:-1]}"/>',
    "application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml",
)


@pytest.mark.parametrize(
    ("rel", "reason"),
    [
        # A known last segment under a URI of no specification: the rest is free text.
        (("rId5", f"http://vendor.example/{marker('TypeUri')}/styles", "styles.xml"),
         "ooxml:unknown-part"),
        # ST_TargetMode is "Internal" or "External"; any other value is free text.
        (("rId5", f"{RT}/styles", "styles.xml", f"Internal{marker('TargetMode')}"),
         "ooxml:unknown-xml"),
        # A fragment in a reference to a part means nothing, and is kept after the name.
        (("rId5", f"{RT}/styles", f"styles.xml#{marker('Fragment')}"), "ooxml:unknown-xml"),
        # A hyperlink without TargetMode="External" to no part: free text (a relative path).
        (("rId5", f"{RT}/hyperlink", f"{marker('InternalLink')}.docx"), "ooxml:local-path"),
    ],
)  # fmt: skip
def test_relationship_values_kept_only_by_grammar(
    rel: tuple[str, str, str] | tuple[str, str, str, str], reason: str, tmp_path: Path
) -> None:
    docx = minimal_docx(TEXT_PARAGRAPH, rels=(rel,), parts=(STYLES_PART,))
    report = scrub(docx)
    assert reason in report.removed
    assert_canaries_gone(report, tmp_path, ".docx")
    assert_ooxml_consistent(report.data)


def test_internal_hyperlink_to_no_part_named_to_the_editors() -> None:
    link = "https://tracker.example/open?id=" + marker("LinkToken")
    docx = minimal_docx(TEXT_PARAGRAPH, rels=(("rId5", f"{RT}/hyperlink", link),))
    report = scrub(docx)
    assert report.cleaned
    assert report.links == (link,)
    assert "hyperlinks" in report.warnings


def test_odf_manifest_and_mimetype_kept_by_grammar(tmp_path: Path) -> None:
    odt = minimal_odt("<text:p>Body text stays.</text:p>")
    manifest = members(odt)["META-INF/manifest.xml"].decode()
    manifest = manifest.replace(
        'manifest:full-path="content.xml"',
        f'manifest:full-path="content.xml" manifest:owner="{marker("ManifestAttr")}"',
    ).replace("</manifest:manifest>", f"<!-- {marker('ManifestComment')} --></manifest:manifest>")
    odt = replace_member(odt, "META-INF/manifest.xml", manifest)
    padded = "application/vnd.oasis.opendocument.text" + " " * 300 + marker("MimetypeTail")
    odt = replace_member(odt, "mimetype", padded)
    report = scrub(odt)
    assert "odf:unknown-xml" in report.removed
    assert_canaries_gone(report, tmp_path, ".odt")
    assert members(report.data)["mimetype"] == b"application/vnd.oasis.opendocument.text"
    assert_odf_consistent(report.data)
