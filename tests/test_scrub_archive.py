"""ZIP archives (issue 10): every member cleaned by its own scrubber, the archive rewritten.

Oracles: unique canaries in each member and in the archive's own fields (none may be left in
any member of the output, decompressed, recursively, nor in the archive's bytes), ExifTool on
the output, and the members that could not be cleaned handed back byte for byte.
"""

from __future__ import annotations

import io
import struct
import subprocess
import zipfile
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image
from support.fixtures_office import MARK, jpeg_with_gps, make_docx, make_odt, marker, png_plain
from test_scrub_office import assert_zip_deterministic, markers_left, members

from scrubbers import LimitExceededError, Limits, scrub
from scrubbers._core import clean
from scrubbers.archive import ArchiveScrubber


def dirty_zip(entries: list[tuple[str, bytes]], *, links: tuple[str, ...] = ()) -> bytes:
    """A zip with what archivers write: dates, Unix permissions, an extended-timestamp and a
    uid/gid extra field, member comments, an archive comment (each with a canary)."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2024, 5, 17, 9, 41, 12))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            mode = 0o120777 if name in links else 0o100777
            info.external_attr = (0o40755 << 16) | 0x10 if name.endswith("/") else mode << 16
            # 0x5455 extended timestamp, 0x7875 Unix uid/gid (1000/1000).
            info.extra = struct.pack("<HHBl", 0x5455, 5, 1, 1715938872) + struct.pack(
                "<HHBBIBI", 0x7875, 11, 1, 4, 1000, 4, 1000
            )
            info.comment = marker("MemberComment").encode()
            archive.writestr(info, data)
        archive.comment = marker("ArchiveComment").encode()
    return sink.getvalue()


def exiftool_output(data: bytes, tmp_path: Path) -> bytes:
    path = tmp_path / "out.zip"
    path.write_bytes(data)
    return subprocess.run(
        ["exiftool", "-a", "-G1", "-s", "-ee", "-b", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout


def test_every_member_cleaned_and_archive_normalised(tmp_path: Path) -> None:
    inner = dirty_zip([("deep/photo.jpg", jpeg_with_gps())])
    original = dirty_zip(
        [
            ("photos/", b""),
            ("photos/IMG_0001.jpg", jpeg_with_gps()),
            ("report.docx", make_docx()),
            ("notes.odt", make_odt()),
            ("nested.zip", inner),
            ("plain.png", png_plain()),
            ("empty.txt", b""),
        ]
    )
    assert markers_left(original)
    report = scrub(original)
    assert report.cleaned, report.reason
    assert report.file_type.name == "zip"
    assert markers_left(report.data) == []
    assert MARK.encode() not in exiftool_output(report.data, tmp_path)
    assert_zip_deterministic(report.data)
    with zipfile.ZipFile(io.BytesIO(report.data)) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    assert set(infos) == {
        "photos/",
        "photos/IMG_0001.jpg",
        "report.docx",
        "notes.odt",
        "nested.zip",
        "plain.png",
        "empty.txt",
    }
    for name, info in infos.items():
        assert info.create_system == 3
        assert info.external_attr >> 16 == (0o40755 if name.endswith("/") else 0o100644)
    # Compressed already (pictures, packages): stored, as deflating them again gains nothing.
    stored = {name for name, info in infos.items() if info.compress_type == zipfile.ZIP_STORED}
    pictures_and_packages = {"photos/IMG_0001.jpg", "plain.png", "report.docx", "notes.odt"}
    assert stored == pictures_and_packages | {"nested.zip", "photos/"}
    removed = set(report.removed)
    assert {"zip:comment", "zip:timestamps", "zip:extra-fields", "zip:permissions"} <= removed
    assert "embedded:jpeg/exif:GPS" in removed or any(
        n.startswith("embedded:jpeg/") for n in removed
    )
    assert any(n.startswith("embedded:docx/ooxml:docProps") for n in removed)
    assert any(n.startswith("embedded:zip/embedded:jpeg/") for n in removed)
    # The members are still what they were: a decodable picture, an office document.
    cleaned = members(report.data)
    with Image.open(io.BytesIO(cleaned["photos/IMG_0001.jpg"])) as image:
        assert image.size == (16, 16) and not image.getexif()
    assert scrub(cleaned["report.docx"]).removed == ()
    # Idempotent and deterministic.
    assert scrub(original).data == report.data
    again = scrub(report.data)
    assert again.cleaned and again.removed == () and again.data == report.data


def test_uncleanable_members_handed_back_as_received() -> None:
    text = f"\x00\x01 no format a scrubber knows. {marker('PlainText')}\n".encode()
    broken = b"\xff\xd8\xff\xe0" + b"\x00" * 40  # a JPEG signature, then nothing readable
    original = dirty_zip(
        [("a/letter.txt", text), ("b/broken.jpg", broken), ("c.jpg", jpeg_with_gps())]
    )
    report = scrub(original)
    assert report.cleaned, report.reason
    assert "embedded-not-cleaned" in report.warnings
    assert "zip:uncleanable-member" in report.removed
    by_name = {a.untrusted_name: a.report for a in report.attachments}
    assert set(by_name) == {"a/letter.txt", "b/broken.jpg"}
    assert by_name["a/letter.txt"].data == text and not by_name["a/letter.txt"].cleaned
    assert by_name["b/broken.jpg"].data == broken and by_name["b/broken.jpg"].reason
    assert set(members(report.data)) == {"c.jpg"}  # what is left in the archive is clean
    assert markers_left(report.data) == []
    assert report.note and "1 file(s) inside cleaned" in report.note


def test_attachments_of_members_keep_their_path() -> None:
    blob = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    report = scrub(dirty_zip([("x/doc.docx", make_docx(embedded_xlsx=blob))]))
    assert report.cleaned, report.reason
    names = [a.untrusted_name for a in report.attachments]
    assert names == ["x/doc.docx/word/embeddings/Microsoft_Excel_Worksheet.xlsx"]


def test_symbolic_link_member_not_extracted_as_a_link() -> None:
    target = f"/home/{marker('LinkOwner')}/secret".encode()
    original = dirty_zip([("link", target)], links=("link",))
    report = scrub(dirty_zip([("link", target), ("p.png", png_plain())], links=("link",)))
    assert report.cleaned, report.reason
    assert [a.untrusted_name for a in report.attachments] == ["link"]
    assert markers_left(report.data) == []
    # Only a link inside: nothing can be cleaned, the archive is kept as received.
    alone = scrub(original)
    assert not alone.cleaned and alone.data == original


def test_converted_member_gets_its_new_extension() -> None:
    sink = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (32, 32), (1, 2, 3))).save(sink, quality=80)
    report = scrub(dirty_zip([("p.heic", sink.getvalue()), ("p.png", png_plain())]))
    assert report.cleaned, report.reason
    assert set(members(report.data)) == {"p.png", "p-1.png"}


def test_zip_bomb_refused_without_inflating() -> None:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", bytes(64 * 1024 * 1024))
    bomb = sink.getvalue()
    assert len(bomb) < 200_000
    report = scrub(bomb)
    assert not report.cleaned and report.reason == LimitExceededError.reason
    assert report.data == bomb


def test_limits_on_members_and_depth() -> None:
    many = dirty_zip([(f"f{i}.png", png_plain()) for i in range(30)])
    with pytest.raises(LimitExceededError):
        clean(many, Limits(max_zip_members=10))
    # Zips in zips past the depth limit: the too-deep one is handed back, not cleaned.
    nested = dirty_zip([("photo.jpg", jpeg_with_gps())])
    for level in range(5):
        nested = dirty_zip([(f"level{level}.zip", nested), ("p.png", png_plain())])
    report = scrub(nested, limits=Limits(max_depth=3))
    assert report.cleaned, report.reason
    assert markers_left(report.data) == []
    assert [a.report.cleaned for a in report.attachments] == [False]
    assert report.attachments[0].untrusted_name.count("/") == 2


def test_one_inflation_budget_for_nested_archives() -> None:
    # Each level alone is within the total, together they are not: the inner members are
    # not inflated past the budget (handed back, not cleaned), nothing multiplies it.
    payload = Image.new("RGB", (300, 300), (5, 5, 5))
    sink = io.BytesIO()
    payload.save(sink, "PNG", compress_level=0)
    picture = sink.getvalue()
    inner = dirty_zip([("big.png", picture)])
    outer = dirty_zip([("inner.zip", inner), ("other.png", picture)])
    budget = len(picture) + len(inner) + len(picture) // 2
    report = scrub(outer, limits=Limits(max_zip_total_bytes=budget))
    assert report.cleaned, report.reason
    assert [a.untrusted_name for a in report.attachments] == ["inner.zip"]


@pytest.mark.parametrize("bad", ["../evil.png", "/abs.png", "a\\..\\b.png"])
def test_unsafe_names_refused(bad: str) -> None:
    hostile = dirty_zip([(bad, png_plain())])
    report = scrub(hostile)
    assert not report.cleaned and report.data == hostile


def test_epub_like_package_not_broken_member_by_member() -> None:
    epub = dirty_zip([("mimetype", b"application/epub+zip"), ("c.png", png_plain())])
    report = scrub(epub)
    assert not report.cleaned and report.data == epub


def test_empty_and_broken_archives() -> None:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.comment = marker("EmptyComment").encode()
    empty = scrub(sink.getvalue())
    assert empty.cleaned, empty.reason
    assert markers_left(empty.data) == [] and empty.data != sink.getvalue()
    for bad in (dirty_zip([("a.png", png_plain())])[:60], b"PK\x03\x04" + bytes(30)):
        report = scrub(bad)
        assert not report.cleaned and report.data == bad


def test_get_meta_sees_what_cleaning_removes() -> None:
    original = dirty_zip([("a.jpg", jpeg_with_gps()), ("b.bin", b"\x00hello")])
    found = set(ArchiveScrubber().get_meta(original, Limits()))
    assert "zip:comment" in found and "zip:uncleanable-member" in found
    assert any(n.startswith("embedded:jpeg/") for n in found)
    report = scrub(original)
    assert ArchiveScrubber().get_meta(report.data, Limits()) == []


def test_what_is_handed_back_stays_within_the_answer_bound() -> None:
    original = dirty_zip([("a.txt", b"x" * 5000), ("b.png", png_plain())])
    assert scrub(original).cleaned
    report = scrub(original, limits=Limits(max_input_bytes=len(original) + 100))
    assert not report.cleaned and report.reason == LimitExceededError.reason


def test_stored_pdf_member_cleaned_not_taken_for_a_polyglot(tmp_path: Path) -> None:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(100, 100))
    pdf.docinfo["/Author"] = marker("PdfAuthor")
    sink = io.BytesIO()
    pdf.save(sink)
    archive_sink = io.BytesIO()
    with zipfile.ZipFile(archive_sink, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("memo.pdf", sink.getvalue())
    original = archive_sink.getvalue()
    assert b"%PDF-" in original[:1024]
    report = scrub(original)
    assert report.cleaned, report.reason
    assert "embedded:pdf/pdf:Info/Author" in report.removed or any(
        n.startswith("embedded:pdf/") for n in report.removed
    )
    assert markers_left(report.data) == []
    assert b"%PDF-" not in report.data[:1024]
