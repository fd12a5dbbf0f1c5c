"""The PDF scrubber, checked from outside: exiftool, qpdf, pdftotext, pdffonts and a grep of
every byte (raw and decoded) for the marker values planted in the fixtures."""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pikepdf import Array, Dictionary, Name
from support import fixtures_pdf as fx

from scrubbers import Limits, ScrubReport, scrub, scrub_sandboxed
from scrubbers import _pdf_schema as schema
from scrubbers._sniff import sniff
from scrubbers._types import MAX_LINK_CHARS, MAX_LINKS
from scrubbers.errors import CorruptFileError, LimitExceededError
from scrubbers.pdf import EncryptedPdfError, PdfScrubber, UncheckableLinksError

LIMITS = Limits()
MARKER_RE = re.compile(rb"Marker-[A-Za-z0-9-]+")
CORPUS_DIRS = ("mat2", "exiftool", "pikepdf", "wild")
# Corpus PDFs that may stay not cleaned: only where qpdf (the reference reader) fails too, or
# finds no page (`qpdf --show-npages`: 0).
_NO_PAGE_TREE = CorruptFileError.reason  # pikepdf refuses to open a file without pages
EXPECTED_REFUSALS: dict[str, str] = {
    "wild/pdfjs-bug1020226.pdf": CorruptFileError.reason,  # qpdf: unable to find /Root
    "wild/pdfjs-issue15590.pdf": _NO_PAGE_TREE,  # page tree root without /Kids
    "wild/pdfjs-issue9418.pdf": _NO_PAGE_TREE,  # /Pages points at a missing object
    "wild/pdfjs-poppler-395-0-fuzzed.pdf": _NO_PAGE_TREE,
    "wild/pdfjs-issue19484_1.pdf": EncryptedPdfError.reason,  # a user password
    "wild/pdfjs-issue21579.pdf": EncryptedPdfError.reason,
    "wild/pdfjs-issue3371.pdf": EncryptedPdfError.reason,
    "wild/pdfjs-issue6010_1.pdf": EncryptedPdfError.reason,
}

# exiftool -a -G1 -s -ee: what must not be in a cleaned PDF.
FORBIDDEN_TAGS = frozenset(
    {
        "Author",
        "Creator",
        "Producer",
        "Company",
        "Title",
        "Subject",
        "Keywords",
        "CreateDate",
        "ModifyDate",
        "MetadataDate",
        "CreatorTool",
        "DocumentID",
        "InstanceID",
        "OriginalDocumentID",
        "XMPToolkit",
        "SourceModified",
        "SigningDate",
        "SigningAuthority",
        "SigningLocation",
        "AnnotationUsageRights",
        "DocumentUsageRights",
        "FormUsageRights",
        "SignatureUsageRights",
        "Make",
        "Model",
        "SerialNumber",
        "Artist",
        "Comment",
        "By-line",
        "ProfileDescription",
        "ProfileCopyright",
        "DeviceMfgDesc",
        "DeviceModelDesc",
    }
)
FORBIDDEN_GROUP = re.compile(r"^(XMP|IPTC|ICC|EXIF|IFD|GPS|Photoshop|MakerNotes|XMP-)", re.I)
ALLOWED_GROUPS = (
    "ExifTool",
    "System",
    "File",
    "PDF",
    "JFIF",
    "Adobe",
    "Composite",
    "Jpeg2000",  # a JPX image's structure (size, components); its text boxes are forbidden
)


# -- helpers ---------------------------------------------------------------------------------


def exiftool_tags(data: bytes, tmp_path: Path) -> list[tuple[str, str, str]]:
    """(group, tag, value) for every tag exiftool reads from the file."""
    path = tmp_path / "exiftool-input.pdf"
    path.write_bytes(data)
    out = subprocess.run(
        ["exiftool", "-a", "-G1", "-s", "-ee", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tags = []
    for line in out.splitlines():
        found = re.match(r"^\[([^\]]+)\]\s+(\S+)\s*:\s?(.*)$", line)
        assert found, line
        tags.append((found.group(1), found.group(2), found.group(3)))
    return tags


def exiftool_leftovers(data: bytes, tmp_path: Path) -> list[str]:
    left = []
    for group, tag, _value in exiftool_tags(data, tmp_path):
        if group in ("ExifTool", "System", "File"):
            continue
        if tag in FORBIDDEN_TAGS or FORBIDDEN_GROUP.match(group) or group not in ALLOWED_GROUPS:
            left.append(f"[{group}] {tag}")
    return left


def run_tool(
    argv: list[str], data: bytes, tmp_path: Path, name: str
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / name
    path.write_bytes(data)
    return subprocess.run([*argv, str(path)], capture_output=True, text=True, check=False)


def pdftotext(data: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    done = subprocess.run(["pdftotext", "-q", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode("utf-8", "replace")


def pdffonts(data: bytes, tmp_path: Path, name: str) -> list[str]:
    done = run_tool(["pdffonts"], data, tmp_path, name)
    assert done.returncode == 0, done.stderr
    # name, type, encoding, emb, sub, uni (object numbers change with the rewrite)
    return sorted(" ".join(line.split()[:-2]) for line in done.stdout.splitlines()[2:])


def qpdf_check(data: bytes, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_tool(["qpdf", "--check"], data, tmp_path, "check.pdf")


def page_count(data: bytes) -> int:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return len(pdf.pages)


def trailer_id(data: bytes) -> pikepdf.Object | None:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        value = pdf.trailer.get(Name.ID)
        return None if value is None else pikepdf.Array([bytes(v) for v in value])


def assert_content_preserved(before: bytes, after: bytes, tmp_path: Path) -> None:
    check = qpdf_check(after, tmp_path)
    if check.returncode == 3 and qpdf_check(before, tmp_path).returncode != 0:
        # A damaged input (a fuzzed file): a stream that was already undecodable is copied
        # as it was, and qpdf still warns about it; the rest must be sound.
        assert "error decoding stream data" in check.stderr + check.stdout
    else:
        assert check.returncode == 0, check.stdout + check.stderr
    assert page_count(after) == page_count(before)
    assert pdftotext(after, tmp_path, "after.pdf") == pdftotext(before, tmp_path, "before.pdf")
    assert pdffonts(after, tmp_path, "after.pdf") == pdffonts(before, tmp_path, "before.pdf")


def reported(report: ScrubReport, name: str) -> bool:
    if name.endswith(":"):
        return any(r.startswith(name) for r in report.removed)
    return name in report.removed


# -- the self-made document with every field -------------------------------------------------


@dataclass(frozen=True)
class Dirty:
    data: bytes
    everything: bytes  # raw + decoded streams of the input
    report: ScrubReport
    out_everything: bytes


@pytest.fixture(scope="module")
def dirty() -> Dirty:
    data = fx.dirty_pdf()
    report = scrub(data)
    assert report.cleaned, report.reason
    return Dirty(data, fx.all_bytes(data), report, fx.all_bytes(report.data))


@pytest.mark.parametrize("field", fx.FIELDS, ids=lambda f: f.name)
def test_each_field_is_reported_and_its_value_gone(dirty: Dirty, field: fx.Field) -> None:
    assert reported(dirty.report, field.name), dirty.report.removed
    if field.marker is not None:
        marker = field.marker.encode()
        assert marker in dirty.everything  # the fixture really planted it
        assert marker not in dirty.out_everything


def test_no_planted_value_survives_anywhere(dirty: Dirty) -> None:
    assert MARKER_RE.search(dirty.everything)
    assert MARKER_RE.findall(dirty.out_everything) == []
    assert fx.OLD_DATE.encode() in dirty.everything
    assert fx.OLD_DATE.encode() not in dirty.out_everything


def test_report_names_fields_never_values(dirty: Dirty) -> None:
    text = repr(dirty.report.to_json())
    assert "Marker-" not in text.replace("photo-Marker-AttachName-4d6b.jpg", "")
    assert all(name.startswith("pdf:") for name in dirty.report.removed)


def test_exiftool_sees_nothing_left(dirty: Dirty, tmp_path: Path) -> None:
    assert {"[PDF] Author", "[PDF] Company", "[XMP-xmpMM] DocumentID"} <= set(
        exiftool_leftovers(dirty.data, tmp_path)
    )
    assert exiftool_leftovers(dirty.report.data, tmp_path) == []


def test_text_pages_fonts_and_validity_kept(dirty: Dirty, tmp_path: Path) -> None:
    assert_content_preserved(dirty.data, dirty.report.data, tmp_path)
    text = pdftotext(dirty.report.data, tmp_path, "out.pdf")
    assert all(line in text for line in fx.VISIBLE_TEXT)


def test_visible_content_and_harmless_parts_kept(dirty: Dirty) -> None:
    with pikepdf.open(io.BytesIO(dirty.report.data)) as pdf:
        page = pdf.pages[0]
        annots = list(page.obj.Annots)
        subtypes = [a.Subtype for a in annots]
        assert Name.Popup not in subtypes and Name.FileAttachment not in subtypes
        comment = next(a for a in annots if a.Subtype == Name.Text and "/IRT" not in a)
        assert str(comment.Contents) == fx.VISIBLE_COMMENT
        uris = [str(a.A.URI) for a in annots if "/A" in a and a.A.get("/S") == Name.URI]
        assert uris == [fx.KEPT_URI]
        # A widget's /T is its form field name, not an author: kept.
        assert str(pdf.Root.AcroForm.Fields[0].T) == "Signature1"
        assert "/V" not in pdf.Root.AcroForm.Fields[0]
        # The image is still there, still a JPEG (DCT), and the colour space is a device one.
        image = page.obj.Resources.XObject.Im1
        assert image.Filter == Name.DCTDecode
        assert image.read_raw_bytes().startswith(b"\xff\xd8")
        assert page.obj.Resources.ColorSpace.CS0 == Name.DeviceRGB


def test_jpeg_image_data_kept_byte_for_byte(dirty: Dirty) -> None:
    def scans(jpeg: bytes) -> bytes:
        return jpeg[jpeg.index(b"\xff\xda") :]  # from the first SOS on: the compressed pixels

    with (
        pikepdf.open(io.BytesIO(dirty.data)) as before,
        pikepdf.open(io.BytesIO(dirty.report.data)) as after,
    ):
        old = before.pages[0].obj.Resources.XObject.Im1.read_raw_bytes()
        new = after.pages[0].obj.Resources.XObject.Im1.read_raw_bytes()
    assert len(new) < len(old)
    assert scans(new) == scans(old)


def test_trailer_id_not_linkable(dirty: Dirty) -> None:
    original = trailer_id(dirty.data)
    assert original is not None
    assert trailer_id(dirty.report.data) is None
    for part in original:
        assert bytes(part).hex().encode() not in dirty.report.data.lower()
        assert bytes(part) not in dirty.out_everything


def test_earlier_revision_gone(dirty: Dirty) -> None:
    assert len(re.findall(rb"startxref", dirty.data)) == 2
    assert len(re.findall(rb"startxref", dirty.report.data)) == 1
    assert b"/Prev" not in dirty.report.data


def test_attachments_are_cleaned_separately(dirty: Dirty) -> None:
    by_name = {a.untrusted_name: a.report for a in dirty.report.attachments}
    assert set(by_name) == {"photo-Marker-AttachName-4d6b.jpg", "report.pdf"}
    photo, report = by_name["photo-Marker-AttachName-4d6b.jpg"], by_name["report.pdf"]
    assert photo.cleaned and photo.file_type.name == "jpeg", photo.reason
    assert report.cleaned and report.file_type.name == "pdf", report.reason
    assert fx.ATTACHED_JPEG_MARKER.encode() in dirty.everything
    assert fx.ATTACHED_JPEG_MARKER.encode() not in photo.data
    assert MARKER_RE.findall(photo.data) == []
    assert fx.ATTACHED_PDF_MARKER.encode() in dirty.everything
    assert MARKER_RE.findall(fx.all_bytes(report.data)) == []
    assert "pdf:Info/Author" in report.removed
    with pikepdf.open(io.BytesIO(dirty.report.data)) as pdf:
        assert len(pdf.attachments) == 0
        assert not any(
            isinstance(o, (pikepdf.Dictionary, pikepdf.Stream)) and ("/EF" in o or "/AF" in o)
            for o in pdf.objects
        )


def test_get_meta_lists_everything_then_nothing(dirty: Dirty) -> None:
    before = set(PdfScrubber().get_meta(dirty.data, LIMITS))
    assert before == set(dirty.report.removed)
    assert PdfScrubber().get_meta(dirty.report.data, LIMITS) == []


def test_output_is_deterministic(dirty: Dirty) -> None:
    assert scrub(dirty.data).data == dirty.report.data


def test_sandboxed_worker_gives_the_same_result(dirty: Dirty) -> None:
    report = scrub_sandboxed(dirty.data)
    assert report.cleaned, report.reason
    assert report.data == dirty.report.data
    assert report.removed == dirty.report.removed
    assert [a.untrusted_name for a in report.attachments] == [
        a.untrusted_name for a in dirty.report.attachments
    ]


# -- hostile and odd files -------------------------------------------------------------------


def _encrypted(user: str, owner: str) -> bytes:
    pdf = pikepdf.open(io.BytesIO(fx.small_pdf("Marker-Encrypted-Author-5a1b")))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user=user, owner=owner))
    return out.getvalue()


def test_user_password_means_not_cleaned_and_kept() -> None:
    data = _encrypted("user-secret", "owner-secret")
    report = scrub(data)
    assert not report.cleaned
    assert report.reason == EncryptedPdfError.reason
    assert report.data == data
    assert issubclass(EncryptedPdfError, CorruptFileError)


def test_owner_password_only_is_opened_and_cleaned(tmp_path: Path) -> None:
    data = _encrypted("", "owner-secret")
    report = scrub(data)
    assert report.cleaned, report.reason
    assert "pdf:Info/Author" in report.removed
    with pikepdf.open(io.BytesIO(report.data)) as pdf:
        assert not pdf.is_encrypted
    assert b"Marker-Encrypted" not in fx.all_bytes(report.data)
    assert qpdf_check(report.data, tmp_path).returncode == 0


def test_cyclic_references() -> None:
    data = fx.cyclic_pdf()
    report = scrub(data)
    assert report.cleaned, report.reason
    assert b"Marker-Cycle-XMP" in fx.all_bytes(data)
    assert b"Marker-Cycle-XMP" not in fx.all_bytes(report.data)
    with pikepdf.open(io.BytesIO(report.data)) as pdf:
        loop = pdf.Root.Outlines.First
        assert loop.Next.Next.objgen == loop.objgen and loop.Prev.objgen == loop.objgen


def test_object_count_limit() -> None:
    report = scrub(fx.dirty_pdf(), limits=Limits(max_pdf_objects=10))
    assert not report.cleaned
    assert report.reason == LimitExceededError.reason


def _pdf_with_stream(
    extra: pikepdf.Object | None = None, **page_resources: pikepdf.Object
) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    if page_resources:
        pdf.pages[0].obj.Resources = Dictionary(
            XObject=Dictionary({"/" + k: v for k, v in page_resources.items()})
        )
        pdf.pages[0].obj.Contents = pdf.make_stream(b"q 10 0 0 10 0 0 cm /Im0 Do Q")
    if extra is not None:
        pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array(["bomb.bin", extra])))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


BOMB = zlib.compress(bytes(64 * 1024 * 1024), 9)  # 64 MiB of zeros in ~64 KiB


def test_attachment_bomb_is_bounded() -> None:
    pdf = pikepdf.new()
    stream = pikepdf.Stream(pdf, BOMB)
    stream.Filter = Name.FlateDecode
    spec = Dictionary(Type=Name.Filespec, F="bomb.bin", EF=Dictionary(F=stream))
    pdf.add_blank_page()
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array(["bomb.bin", spec])))
    out = io.BytesIO()
    pdf.save(out)
    report = scrub(out.getvalue(), limits=Limits(max_input_bytes=8 * 1024 * 1024))
    assert not report.cleaned
    assert report.reason == LimitExceededError.reason


def test_image_streams_are_copied_not_decoded() -> None:
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, BOMB)
    image.Filter = Name.FlateDecode
    image.Type, image.Subtype = Name.XObject, Name.Image
    image.Width, image.Height = 8192, 8192
    image.ColorSpace, image.BitsPerComponent = Name.DeviceGray, 8
    pdf.add_blank_page()
    pdf.pages[0].obj.Resources = Dictionary(XObject=Dictionary(Im0=image))
    pdf.pages[0].obj.Contents = pdf.make_stream(b"q 10 0 0 10 0 0 cm /Im0 Do Q")
    out = io.BytesIO()
    pdf.save(out)
    report = scrub(out.getvalue())
    assert report.cleaned, report.reason
    with pikepdf.open(io.BytesIO(report.data)) as cleaned:
        assert cleaned.pages[0].obj.Resources.XObject.Im0.read_raw_bytes() == BOMB


def test_attachments_too_deep_are_kept_not_cleaned() -> None:
    report = scrub(fx.dirty_pdf(), limits=Limits(max_depth=0))
    assert report.cleaned, report.reason
    assert len(report.attachments) == 2
    for attachment in report.attachments:
        assert not attachment.report.cleaned
        assert attachment.report.reason == LimitExceededError.reason
        assert attachment.report.data  # kept as found, for the editors


def test_unused_resources_dropped() -> None:
    pdf = pikepdf.new()
    _page = fx._text_page(pdf, "Only text is drawn")
    hidden = pdf.make_stream(b"Marker-Unused-Image-7b2c" + bytes(100))
    hidden.Type, hidden.Subtype = Name.XObject, Name.Image
    hidden.Width, hidden.Height, hidden.ColorSpace, hidden.BitsPerComponent = (
        2,
        2,
        Name.DeviceGray,
        8,
    )
    pdf.pages[0].obj.Resources.XObject = Dictionary(Unused=hidden)
    out = io.BytesIO()
    pdf.save(out)
    report = scrub(out.getvalue())
    assert report.cleaned, report.reason
    assert b"Marker-Unused-Image" not in fx.all_bytes(report.data)


def test_junk_before_header_is_still_a_pdf() -> None:
    data = b"junk before the header\n" + fx.small_pdf("Marker-Junk-Author-3c9d")
    assert sniff(data).name == "pdf"
    report = scrub(data)
    assert report.cleaned, report.reason
    assert report.data.startswith(b"%PDF-")
    assert b"junk before" not in report.data
    assert b"Marker-Junk" not in fx.all_bytes(report.data)


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n" + b"\x00garbage" * 50, b"%PDF-1.4\n1 0 obj << /Type /Catalog"],
    ids=["garbage", "truncated"],
)
def test_broken_files_fail_cleanly(data: bytes) -> None:
    report = scrub(data)
    assert not report.cleaned
    assert report.reason
    assert report.data == data


# -- public corpus -----------------------------------------------------------------------------


def _corpus_files() -> list[str]:
    import os

    env = os.environ.get("LEAKDROP_SHARED")
    base = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"
    found = sorted(
        f"{d}/{p.name}" for d in CORPUS_DIRS for p in (base / "corpus" / d).glob("*.pdf")
    )
    return found or ["(corpus missing)"]


def _corpus(shared_dir: Path | None, name: str) -> bytes:
    if shared_dir is None:
        pytest.skip("shared corpus absent (outside CI the self-made fixtures cover PDF)")
    path = shared_dir / "corpus" / name
    assert path.is_file(), path
    return path.read_bytes()


@pytest.mark.parametrize("name", _corpus_files())
def test_corpus_pdf_cleaned(shared_dir: Path | None, name: str, tmp_path: Path) -> None:
    data = _corpus(shared_dir, name)
    report = scrub(data)
    if name in EXPECTED_REFUSALS:
        assert not report.cleaned, "now cleaned: take it out of EXPECTED_REFUSALS"
        assert report.reason == EXPECTED_REFUSALS[name]
        assert report.data == data
        pages = run_tool(["qpdf", "--show-npages"], data, tmp_path, "refused.pdf")
        assert pages.returncode == 2 or pages.stdout.strip() == "0", pages.stdout
        return
    assert report.cleaned, report.reason
    assert report.removed
    assert exiftool_leftovers(report.data, tmp_path) == []
    assert_content_preserved(data, report.data, tmp_path)
    assert trailer_id(report.data) is None
    assert PdfScrubber().get_meta(report.data, LIMITS) == []
    if "pdf:ICC-description" not in report.removed:
        # Same pixels on the first pages (an ICC profile replaced by its device space
        # changes the colours, as it is meant to).
        first = ["pdftoppm", "-q", "-r", "20", "-l", "2"]
        (tmp_path / "in.pdf").write_bytes(data)
        (tmp_path / "out.pdf").write_bytes(report.data)
        subprocess.run([*first, str(tmp_path / "in.pdf"), str(tmp_path / "in")], check=False)
        subprocess.run([*first, str(tmp_path / "out.pdf"), str(tmp_path / "out")], check=False)
        before = [p.read_bytes() for p in sorted(tmp_path.glob("in-*.ppm"))]
        after = [p.read_bytes() for p in sorted(tmp_path.glob("out-*.ppm"))]
        assert after == before


def test_corpus_specifics(shared_dir: Path | None, tmp_path: Path) -> None:
    if shared_dir is None:
        pytest.skip("shared corpus absent (outside CI the self-made fixtures cover PDF)")
    corpus = shared_dir / "corpus"

    dirty = (corpus / "mat2/dirty.pdf").read_bytes()
    report = scrub(dirty)
    assert "pdf:incremental-updates" in report.removed
    assert len(re.findall(rb"startxref", dirty)) == 2
    assert len(re.findall(rb"startxref", report.data)) == 1
    for value in (b"4a1a79c8-404e-4d38-9580-5bc081036e61", b"PDFeXpress", b"pdfTeX-1.40"):
        assert value in fx.all_bytes(dirty)
        assert value not in fx.all_bytes(report.data)

    photoshop = (corpus / "exiftool/PDF.pdf").read_bytes()
    report = scrub(photoshop)
    assert "pdf:PieceInfo" in report.removed
    groups = {g for g, _t, _v in exiftool_tags(photoshop, tmp_path)}
    assert "IPTC" in groups
    for value in (b"Phil Harvey", b"A witty caption"):
        assert value in fx.all_bytes(photoshop)
        assert value not in fx.all_bytes(report.data)

    form = (corpus / "pikepdf/form_dd0293.pdf").read_bytes()
    report = scrub(form)
    assert {"pdf:JavaScript", "pdf:XFA", "pdf:Perms"} <= set(report.removed)
    with pikepdf.open(io.BytesIO(report.data)) as pdf:
        assert "/Perms" not in pdf.Root
        assert "/XFA" not in pdf.Root.get("/AcroForm", Dictionary())
        names = pdf.Root.get("/Names", Dictionary())
        assert "/JavaScript" not in names
        for obj in pdf.objects:
            if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
                assert "/JS" not in obj and "/AA" not in obj
                assert obj.get("/S") != Name.JavaScript

    rle = (corpus / "pikepdf/rle.pdf").read_bytes()
    report = scrub(rle)
    assert "pdf:Thumb" in report.removed
    with pikepdf.open(io.BytesIO(rle)) as pdf:
        assert any("/Thumb" in page.obj for page in pdf.pages)
    with pikepdf.open(io.BytesIO(report.data)) as pdf:
        assert not any("/Thumb" in page.obj for page in pdf.pages)

    graph = (corpus / "pikepdf/graph.pdf").read_bytes()
    report = scrub(graph)
    assert "pdf:incremental-updates" in report.removed
    assert b"Wikimedia" not in fx.all_bytes(report.data)


def test_metadata_referenced_under_other_keys_is_emptied_too() -> None:
    pdf = pikepdf.new()
    fx._text_page(pdf, "Aliased metadata")
    info = pdf.make_indirect(Dictionary(Author=pikepdf.String("Marker-Alias-Author-8c3d")))
    xmp = pdf.make_stream(b"<x:xmpmeta>Marker-Alias-XMP-9d4e</x:xmpmeta>")
    xmp.Type, xmp.Subtype = Name.Metadata, Name.XML
    pdf.trailer.Info = info
    pdf.Root.Metadata = xmp
    pdf.Root.SomePrivateKey = Dictionary(Info=info, Packet=xmp)  # the same objects again
    out = io.BytesIO()
    pdf.save(out)
    report = scrub(out.getvalue())
    assert report.cleaned, report.reason
    assert MARKER_RE.findall(fx.all_bytes(out.getvalue()))
    assert MARKER_RE.findall(fx.all_bytes(report.data)) == []


def test_attachment_deleted_in_a_later_revision_is_not_brought_back() -> None:
    pdf = pikepdf.new()
    fx._text_page(pdf, "Revised document")
    spec = fx._filespec(pdf, "old-draft.pdf", fx.small_pdf("Marker-Deleted-Draft-1b5f"))
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array(["old-draft.pdf", spec])))
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    with pikepdf.open(io.BytesIO(out.getvalue())) as first:
        root_number = first.Root.objgen[0]
        catalog = Dictionary({k: first.Root[k] for k in first.Root.keys() if k != "/Names"})
        new_root = catalog.unparse().decode()
    data = fx.append_update(out.getvalue(), {root_number: new_root})
    with pikepdf.open(io.BytesIO(data)) as revised:
        assert "/Names" not in revised.Root  # the attachment is deleted in the last revision
    report = scrub(data)
    assert report.cleaned, report.reason
    assert report.attachments == ()
    assert b"Marker-Deleted-Draft" in fx.all_bytes(data)
    assert b"Marker-Deleted-Draft" not in fx.all_bytes(report.data)


# --- adversarial review --------------------------------------------------------------------


def _box(box_type: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + box_type + payload


def _with_j2k_comment(codestream: bytes, text: bytes) -> bytes:
    # A COM segment right after SIZ, as encoders write their name (and any text a user sets).
    siz_end = 4 + int.from_bytes(codestream[4:6], "big")
    com = b"\xff\x64" + (4 + len(text)).to_bytes(2, "big") + b"\x00\x01" + text
    return codestream[:siz_end] + com + codestream[siz_end:]


def _jpx_pdf(jpx: bytes) -> bytes:
    pdf = pikepdf.new()
    page = fx._text_page(pdf, "Page with a JPEG 2000 picture", b"q 16 0 0 16 0 0 cm /Im0 Do Q")
    image = pikepdf.Stream(pdf, jpx, Type=Name.XObject, Subtype=Name.Image, Filter=Name.JPXDecode)
    image.Width, image.Height = 16, 16
    page.obj.Resources.XObject = Dictionary(Im0=image)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _jpx_of(data: bytes) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        image = pdf.pages[0].obj.Resources.XObject.Im0
        return bytes(image.read_raw_bytes())


@pytest.mark.parametrize("wrapped", [True, False], ids=["jp2-file", "bare-codestream"])
def test_jpeg2000_image_metadata_removed_pixels_kept(wrapped: bool) -> None:
    # A JPXDecode stream is a whole JP2 file: XMP/EXIF in "xml "/"uuid" boxes, and encoder or
    # user text in the codestream's COM markers. They used to pass through untouched.
    from PIL import Image

    sink = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 90)).save(sink, "JPEG2000", no_jp2=True)
    codestream = _with_j2k_comment(sink.getvalue(), b"Marker-J2kComment-5a1f")
    if wrapped:
        sink = io.BytesIO()
        Image.new("RGB", (16, 16), (200, 30, 90)).save(sink, "JPEG2000")
        jp2 = sink.getvalue()
        start = jp2.index(b"jp2c") - 4
        jpx = (
            jp2[:start]
            + _box(b"xml ", b"<x:xmpmeta>Marker-JpxXmp-8c2d</x:xmpmeta>")
            + _box(b"uuid", b"JpgTiffExif->JP2" + b"Exif\x00\x00Marker-JpxExif-1e4b")
            + _box(b"jp2c", codestream)
        )
    else:
        jpx = codestream
    before = Image.open(io.BytesIO(jpx))
    before.load()
    data = _jpx_pdf(jpx)
    assert any(n.startswith("pdf:jpx:") for n in PdfScrubber().get_meta(data, Limits()))
    report = scrub(data)
    assert report.cleaned, report.reason
    assert "pdf:jpx:comment" in report.removed
    if wrapped:
        assert {"pdf:jpx:xml", "pdf:jpx:uuid"} <= set(report.removed)
    assert b"Marker-" not in fx.all_bytes(report.data)
    after = Image.open(io.BytesIO(_jpx_of(report.data)))
    assert after.tobytes() == before.tobytes()
    assert PdfScrubber().get_meta(report.data, Limits()) == []


def test_malformed_jpeg2000_box_is_not_cleaned() -> None:
    data = _jpx_pdf(b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00\x00\xff\xffxml short")
    report = scrub(data)
    assert not report.cleaned and report.data == data


def test_optional_content_configuration_creator_removed() -> None:
    pdf = pikepdf.new()
    fx._text_page(pdf, "Layered page")
    layer = pdf.make_indirect(Dictionary(Type=Name.OCG, Name=pikepdf.String("Layer 1")))
    pdf.Root.OCProperties = Dictionary(
        OCGs=Array([layer]),
        D=Dictionary(Creator=pikepdf.String("Marker-OCCreator-2b7e"), ON=Array([layer])),
        Configs=Array(
            [pdf.make_indirect(Dictionary(Creator=pikepdf.String("Marker-OCConfig-6d1a")))]
        ),
    )
    out = io.BytesIO()
    pdf.save(out)
    report = scrub(out.getvalue())
    assert report.cleaned, report.reason
    assert "pdf:layer-creator" in report.removed
    assert b"Marker-OC" not in fx.all_bytes(report.data)
    with pikepdf.open(io.BytesIO(report.data)) as cleaned:
        assert len(cleaned.Root.OCProperties.OCGs) == 1  # the layers themselves stay


# --- issue 10: keys kept by the standard's tables --------------------------------------------


def qdf_bytes(data: bytes, tmp_path: Path) -> bytes:
    """The file as `qpdf --qdf --object-streams=disable` writes it: every stream decoded,
    every object in the clear (what a raw byte search must run over)."""
    source, target = tmp_path / "qdf-in.pdf", tmp_path / "qdf-out.pdf"
    source.write_bytes(data)
    done = subprocess.run(
        ["qpdf", "--qdf", "--object-streams=disable", str(source), str(target)],
        capture_output=True,
        check=False,
    )
    assert done.returncode in (0, 3), done.stderr  # 3: warnings only
    return target.read_bytes()


def exiftool_values(data: bytes, tmp_path: Path) -> str:
    return "\n".join(v for _g, _t, v in exiftool_tags(data, tmp_path))


@pytest.mark.parametrize("place", fx.HIDING_PLACES, ids=lambda p: p.name)
def test_hiding_place_of_latex_and_private_keys(place: fx.HidingPlace, tmp_path: Path) -> None:
    data = fx.hiding_place_pdf(place)
    canary = place.canary.encode()
    assert canary in qdf_bytes(data, tmp_path)  # the fixture really planted it
    report = scrub(data)
    assert report.cleaned, report.reason
    assert place.removed in report.removed, report.removed
    assert canary not in qdf_bytes(report.data, tmp_path)
    assert canary not in report.data
    assert exiftool_leftovers(report.data, tmp_path) == []
    assert place.canary not in exiftool_values(report.data, tmp_path)
    assert_content_preserved(data, report.data, tmp_path)
    assert PdfScrubber().get_meta(report.data, LIMITS) == []


def test_latex_figure_keeps_drawing_without_its_pdftex_keys(tmp_path: Path) -> None:
    data = fx.hiding_place_pdf(fx.HIDING_PLACES[0])
    report = scrub(data)
    assert {"pdf:PTEX.FileName", "pdf:PTEX.PageNumber"} <= set(report.removed)
    with pikepdf.open(io.BytesIO(report.data)) as pdf:
        figure = pdf.pages[0].obj.Resources.XObject.Fig1
        assert figure.Subtype == Name.Form and list(figure.BBox) == [0, 0, 50, 50]
        assert not any(str(k).startswith("/PTEX") for k in figure.keys())
    assert render(report.data, tmp_path, "after") == render(data, tmp_path, "before")


def render(data: bytes, tmp_path: Path, name: str) -> list[bytes]:
    """Each page rasterised by poppler (pdftoppm), as PPM bytes."""
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(data)
    subprocess.run(
        ["pdftoppm", "-q", "-r", "36", str(source), str(tmp_path / name)],
        check=True,
        capture_output=True,
    )
    return [p.read_bytes() for p in sorted(tmp_path.glob(f"{name}-*.ppm"))]


def test_rendering_unchanged_by_the_tables(dirty: Dirty, tmp_path: Path) -> None:
    # The dirty fixture's colour space is ICC-based (replaced by its device space): compare
    # the pages without images, and the self-made documents that draw with device colours.
    for data in (
        fx.unknown_keys_pdf([], "unused"),
        fx.hiding_place_pdf(fx.HIDING_PLACES[1]),
        fx.cyclic_pdf(),
    ):
        report = scrub(data)
        assert report.cleaned, report.reason
        before = render(data, tmp_path, "before")
        assert before and render(report.data, tmp_path, "after") == before
        for page in tmp_path.glob("*.ppm"):
            page.unlink()


def test_unreachable_objects_are_not_written(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    fx._text_page(pdf, "Orphans")
    orphan = pdf.make_indirect(Dictionary(Note=pikepdf.String("Marker-Orphan-2c4e")))
    assert orphan.is_indirect
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    # qpdf itself drops unreferenced objects on a rewrite: put one back by hand.
    data = fx.append_update(out.getvalue(), {99: "<< /Note (Marker-Orphan-2c4e) >>"})
    assert b"Marker-Orphan" in data
    report = scrub(data)
    assert report.cleaned, report.reason
    assert b"Marker-Orphan" not in qdf_bytes(report.data, tmp_path)


def test_too_many_invented_key_names_are_counted_not_named() -> None:
    pdf = pikepdf.new()
    fx._text_page(pdf, "Many keys")
    for index in range(300):
        pdf.Root[Name(f"/Private{chr(65 + index % 26)}{chr(65 + index // 26)}")] = index
    out = io.BytesIO()
    pdf.save(out)
    report = scrub(out.getvalue())
    assert report.cleaned, report.reason
    assert "pdf:unknown-key" in report.removed
    assert len(report.removed) < 150
    report = scrub_sandboxed(out.getvalue())  # and the worker's answer stays within bounds
    assert report.cleaned, report.reason


_KNOWN_KEYS = frozenset(
    key[1:] for table in (*schema.TABLES.values(), schema.STREAM) for key in table
)


@settings(max_examples=60, deadline=None, database=None)
@given(
    planted=st.lists(
        st.tuples(
            st.sampled_from(fx.UNKNOWN_KEY_PLACES),
            st.from_regex(r"[A-Za-z][A-Za-z0-9._:]{0,20}", fullmatch=True).filter(
                lambda key: key not in _KNOWN_KEYS
            ),
            st.sampled_from(("string", "dict", "stream")),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_unknown_keys_at_random_places_never_survive(planted: list[tuple[str, str, str]]) -> None:
    canary = "Marker-Planted-4e5f"
    data = fx.unknown_keys_pdf(planted, canary)
    assert canary.encode() in fx.all_bytes(data)
    report = scrub(data)
    assert report.cleaned, report.reason
    with tempfile.TemporaryDirectory() as tmp:
        assert canary.encode() not in qdf_bytes(report.data, Path(tmp))
    assert page_count(report.data) == 1


def _content_pdf(pdf: pikepdf.Pdf, parts: list[bytes]) -> bytes:
    page = fx._text_page(pdf, "Drawn in pieces")
    streams = [pdf.make_stream(part) for part in parts]
    page.obj.Contents = Array([page.obj.Contents, *streams])
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_content_streams_rewritten_from_tokens_drawing_unchanged(tmp_path: Path) -> None:
    # An operation split over two streams of the page's array (allowed: 7.8.2), an operator
    # of no standard holding a canary, stray operands at the end, comments everywhere.
    data = _content_pdf(
        pikepdf.new(),
        [
            b"% Marker-Comment-One-1a2b\nq 1 0 0 rg 50 50 100",
            b"100 re f Q\n0 0 1 RG 4 w 20 20 m 300 300 l S\n"
            b"(Marker-Operand-3c4d) MarkerOperator-5e6f\n"
            b"BI /W 2 /H 2 /BPC 8 /CS /G ID \x00\xff\xff\x00 EI\n7 8 % Marker-Comment-Two-7a8b",
        ],
    )
    report = scrub(data)
    assert report.cleaned, report.reason
    assert "pdf:content-comment" in report.removed
    decoded = qdf_bytes(report.data, tmp_path)
    assert re.findall(rb"Marker-\S+", decoded) == []
    assert render(report.data, tmp_path, "after") == render(data, tmp_path, "before")
    with pikepdf.open(io.BytesIO(report.data)) as pdf:
        contents = pdf.pages[0].obj.Contents
        assert isinstance(contents, pikepdf.Stream)  # one stream, parsed as one
        assert b"50 50 100 100 re" in contents.read_bytes()
    assert PdfScrubber().get_meta(report.data, LIMITS) == []


def test_percent_inside_a_string_is_text_not_a_comment(tmp_path: Path) -> None:
    pdf = pikepdf.new()
    fx._text_page(pdf, "Growth: 12% a year")
    out = io.BytesIO()
    pdf.save(out)
    report = scrub(out.getvalue())
    assert report.cleaned, report.reason
    assert "pdf:content-comment" not in report.removed
    assert "12% a year" in pdftotext(report.data, tmp_path, "out.pdf")


# --- issue 10: what stays but can identify, named to the editors ----------------------------


def test_dirty_document_warns_of_its_link_and_comment(dirty: Dirty) -> None:
    assert {"hyperlinks", "annotation-text"} <= set(dirty.report.warnings)
    assert fx.KEPT_URI in dirty.report.links
    assert scrub_sandboxed(dirty.data).links == dirty.report.links


def _form_pdf(value: str | None, links: int = 0, link_length: int = 20) -> bytes:
    pdf = pikepdf.new()
    page = fx._text_page(pdf, "A form")
    field = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Widget,
            FT=Name.Tx,
            T=pikepdf.String("name"),
            Rect=Array([20, 20, 200, 40]),
            P=page.obj,
        )
    )
    if value is not None:
        field.V = pikepdf.String(value)
    annots = [field]
    for index in range(links):
        target = f"https://example.org/{index}/".ljust(link_length, "x")
        annots.append(
            pdf.make_indirect(
                Dictionary(
                    Type=Name.Annot,
                    Subtype=Name.Link,
                    Rect=Array([20, 60, 200, 80]),
                    A=Dictionary(S=Name.URI, URI=pikepdf.String(target)),
                )
            )
        )
    page.obj.Annots = Array(annots)
    pdf.Root.AcroForm = Dictionary(Fields=Array([field]))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_filled_form_field_is_kept_and_named_as_a_warning() -> None:
    report = scrub(_form_pdf("Jane Marker-Typed-Name"))
    assert report.cleaned, report.reason
    assert report.warnings == ("form-values",)
    assert b"Jane Marker-Typed-Name" in fx.all_bytes(report.data)  # content: kept
    empty = scrub(_form_pdf(None))
    assert empty.cleaned and empty.warnings == ()


def test_links_listed_for_the_editors() -> None:
    report = scrub(_form_pdf(None, links=3))
    assert report.cleaned, report.reason
    assert report.warnings == ("hyperlinks",)
    assert set(report.links) == {f"https://example.org/{i}/".ljust(20, "x") for i in range(3)}
    assert scrub_sandboxed(_form_pdf(None, links=3)).links == report.links


@pytest.mark.parametrize(
    ("links", "length"), [(MAX_LINKS + 1, 20), (1, MAX_LINK_CHARS + 1)], ids=["many", "long"]
)
def test_links_that_cannot_all_be_shown_mean_not_cleaned(links: int, length: int) -> None:
    data = _form_pdf(None, links=links, link_length=length)
    report = scrub(data)
    assert not report.cleaned
    assert report.reason == UncheckableLinksError.reason
    assert report.data == data
