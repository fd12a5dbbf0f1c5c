"""The project's promise, checked from the outside on every file we have.

For EVERY file of ../shared/corpus/{mat2,exiftool,pikepdf} (real files from those projects'
test suites) and for self-made dirty files of each format, `scrub_sandboxed` must either
- clean it, and then ExifTool, an independent reader, finds none of the identifying tags of
  the table below in the output, and the content survives (PDF: opens without repair, same
  pages, same text; lossless images: same pixels; office documents: fixed zip dates); or
- not clean it, and then only for the files listed in EXPECTED_NOT_CLEANED, with one of the
  reasons listed there, and with the original bytes kept.

Under CI=true a missing corpus is a failure (the shared_dir fixture), not a skip.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pillow_heif
import pytest
from defusedxml import ElementTree
from PIL import Image, ImageOps

from scrubbers import (
    CorruptFileError,
    ScrubReport,
    UnsupportedTypeError,
    scrub_sandboxed,
)
from scrubbers.pdf import EncryptedPdfError

REPO = Path(__file__).resolve().parents[1]
_env = os.environ.get("LEAKDROP_SHARED")
CORPUS = (Path(_env) if _env else REPO.parent / "shared") / "corpus"
CORPUS_DIRS = ("mat2", "exiftool", "pikepdf")
_WILD_OFFICE = ("poi-", "odfpy-")

# --- the table: what must be gone -----------------------------------------------------------

# Tag names (ExifTool's, any group) that identify a person, a device, a place, a moment or
# the software install behind a file.
FORBIDDEN_NAMES = frozenset(
    {
        # people and organisations
        "Author", "Creator", "LastModifiedBy", "Company", "Manager", "Artist", "Copyright",
        "CopyrightNotice", "Rights", "OwnerName", "CameraOwnerName", "By-line", "Initial-creator",
        "InitialCreator", "XPAuthor", "Contributor", "Publisher", "HostComputer",
        # devices
        "Make", "Model", "LensMake", "LensModel", "UniqueCameraModel", "LocalizedCameraModel",
        "CameraID", "ImageUniqueID",
        # moments
        "DateTimeOriginal", "CreateDate", "ModifyDate", "MetadataDate", "DateCreated",
        "DigitalCreationDate", "TimeCreated", "DateTimeDigitized", "Creation-date", "Date",
        "SubSecDateTimeOriginal", "SubSecCreateDate", "SubSecModifyDate", "GPSDateStamp",
        "Editing-duration", "TotalEditTime", "EditingDuration", "Editing-cycles",
        "RevisionNumber",
        # software (an install fingerprint) and templates (paths with user names)
        "Producer", "Software", "CreatorTool", "Generator", "Application", "AppVersion",
        "Template", "ProcessingSoftware",
        # identifiers
        "DocumentID", "InstanceID", "OriginalDocumentID", "DerivedFromDocumentID",
        "DerivedFromInstanceID", "HistoryInstanceID", "PreservedFileName",
        # free text
        "Comment", "UserComment", "XPComment", "XPKeywords", "XPSubject", "XPTitle",
        "ImageDescription", "Title", "Subject", "Keywords", "Description", "Headline",
        "Caption-Abstract", "Credit", "Source", "Instructions", "Label", "Rating",
        # ICC free text (see _icc_allowed for a standard profile's own)
        "ProfileDescription", "ProfileCopyright", "DeviceMfgDesc", "DeviceModelDesc",
        "ViewingCondDesc",
    }
)  # fmt: skip
# Any tag whose name contains these.
FORBIDDEN_PARTS = re.compile(r"GPS|Serial|Thumbnail|Preview|Owner|Location|City|Country")
# Whole ExifTool family-0 groups that must not appear at all.
FORBIDDEN_FAMILY0 = frozenset(
    {"IPTC", "MakerNotes", "Photoshop", "FlashPix", "JUMBF", "MPF", "Trailer", "APP12"}
)
FORBIDDEN_FAMILY1 = frozenset({"IFD1", "XMP-xmpMM", "XMP-exif", "XMP-photoshop"})
# XMP is allowed only for what a standard requires (PDF/A and PDF/X identification).
XMP_ALLOWED = frozenset(
    {
        "XMP-x:XMPToolkit",
        "XMP-pdfaid:Part",
        "XMP-pdfaid:Conformance",
        "XMP-pdfaid:Amd",
        "XMP-pdfx:GTS_PDFXVersion",
        "XMP-pdfxid:GTS_PDFXVersion",
        "XMP-pdfx:GTS_PDFXConformance",
        "XMP-dc:Format",
    }
)
ICC_TEXT = frozenset(
    {
        "ProfileDescription",
        "ProfileCopyright",
        "DeviceMfgDesc",
        "DeviceModelDesc",
        "ViewingCondDesc",
    }
)

# --- the table: what may stay not cleaned, and why -----------------------------------------

_CORRUPT = {CorruptFileError.reason}
_ENCRYPTED = {EncryptedPdfError.reason}
_UNSUPPORTED = {UnsupportedTypeError.reason}
EXPECTED_NOT_CLEANED: dict[str, set[str]] = {
    # Broken packages that must fail cleanly (mat2 refuses them as well).
    "mat2/broken_xml_content_types.docx": _CORRUPT,
    "mat2/malformed_content_types.docx": _CORRUPT,
    "mat2/no_content_types.docx": _CORRUPT,
    # An embedded document that cannot be cleaned: the package cannot be called clean.
    "mat2/embedded_corrupted.docx": _CORRUPT,
    "mat2/embedded_corrupted.odt": _CORRUPT,
    # wild/: other projects' broken test files. Issue 10: a refusal only where the reference
    # reader fails too; test_wild_refusals_fail_in_the_reference_reader checks each entry.
    # PDFs, qpdf --show-npages: "unable to find /Root dictionary" (EOF after endobj).
    "wild/pdfjs-bug1020226.pdf": _CORRUPT,
    # PDFs, qpdf --show-npages: 0 pages (the page tree's /Count is null or missing).
    "wild/pdfjs-issue15590.pdf": _CORRUPT,
    "wild/pdfjs-issue9418.pdf": _CORRUPT,
    "wild/pdfjs-poppler-395-0-fuzzed.pdf": _CORRUPT,
    # PDFs, qpdf --show-npages: "invalid password" (a user password is needed to read them).
    "wild/pdfjs-issue19484_1.pdf": _ENCRYPTED,
    "wild/pdfjs-issue21579.pdf": _ENCRYPTED,
    "wild/pdfjs-issue3371.pdf": _ENCRYPTED,
    "wild/pdfjs-issue6010_1.pdf": _ENCRYPTED,
    # Images, Pillow Image.open(...).load() fails: OSError "cannot load this image" (APNG
    # declaring zero frames).
    "wild/pillow-apng-syntax_num_frames_zero.png": _CORRUPT,
    # Pillow: DecompressionBombError (a width of about 2**31: the header is broken).
    "wild/pillow-bmpsuite-b-badwidth.bmp": _CORRUPT,
    # Pillow: ValueError "invalid palette size" (300 colours for an 8-bit palette).
    "wild/pillow-bmpsuite-q-pal8oversizepal.bmp": _CORRUPT,
    # Pillow: UnidentifiedImageError (no IHDR after the signature).
    "wild/pillow-broken.png": _CORRUPT,
    # Pillow (libtiff): OSError "decoder error -2" (strip byte counts past the end).
    "wild/pillow-crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif": _CORRUPT,
    "wild/pillow-crash-0e16d3bfb83be87356d026d66919deaefca44dac.tif": _CORRUPT,
    # Pillow: DecompressionBombError (4.4 gigapixels declared in a small file).
    "wild/pillow-decompression_bomb.gif": _CORRUPT,
    # Pillow: ValueError "Unable to seek to frame" (BigTIFF header, first IFD far past the
    # end): refused as unsupported, since BigTIFF is not handled at all.
    "wild/pillow-seek_too_large.tif": _UNSUPPORTED,
    # Pillow: OSError "Truncated File Read" / "image file is truncated".
    "wild/pillow-truncated_end_chunk.png": _CORRUPT,
    "wild/pillow-truncated_image.png": _CORRUPT,
    # Pillow: OSError "image file is truncated" (the primary image's scan is cut short; only
    # LOAD_TRUNCATED_IMAGES, which pads with grey, reads it).
    "wild/pillow-ultrahdr.jpg": _CORRUPT,
    # Pillow: UnidentifiedImageError (a zero-width screen).
    "wild/pillow-zero_width.gif": _CORRUPT,
    # An animated AVIF (image sequence): Pillow reads it, but image sequences are not
    # supported (one PNG per frame would not be the same file); refused on purpose, and the
    # one exception of the reference-reader test (_SEQUENCES_NOT_SUPPORTED).
    "wild/pillow-avif-star.avifs": _UNSUPPORTED,
}
# Files the reference reader opens that are refused on purpose: image sequences.
_SEQUENCES_NOT_SUPPORTED = frozenset({"wild/pillow-avif-star.avifs"})

LOSSLESS = {"png", "gif", "tiff", "bmp", "webp", "jpeg"}
pillow_heif.register_heif_opener()  # to read HEIC inputs in the content checks

# --- cases: corpus files and self-made dirty files -----------------------------------------


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    found = sorted(p for d in CORPUS_DIRS for p in (CORPUS / d).iterdir() if p.is_file())
    # wild/: the images and PDFs of other projects' test suites (Pillow, pdf.js); its
    # office documents have their own test (test_scrub_office), with their refusals.
    wild = CORPUS / "wild"
    if wild.is_dir():
        found += sorted(
            p
            for p in wild.iterdir()
            if p.is_file() and p.name != "README.md" and not p.name.startswith(_WILD_OFFICE)
        )
    return found


def _exiftool_write(path: Path, *args: str) -> None:
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", *args, str(path)], check=True, timeout=60
    )


_DIRT = [
    "-Artist=Jane Source",
    "-Make=PhoneCorp",
    "-Model=PC-1",
    "-SerialNumber=SN123456",
    "-DateTimeOriginal=2024:05:01 10:00:00",
    "-GPSLatitude=48.8566",
    "-GPSLatitudeRef=N",
    "-GPSLongitude=2.3522",
    "-GPSLongitudeRef=E",
    "-XMP-dc:Creator=Jane Source",
    "-XMP-xmpMM:DocumentID=uuid:1234",
    "-Comment=call me at home",
]


def _self_made(tmp: Path) -> dict[str, bytes]:
    made: dict[str, bytes] = {}
    photo = Image.new("RGB", (64, 48), (120, 30, 200))
    for name, fmt, extra in (
        ("self/photo.jpg", "JPEG", {}),
        ("self/photo.png", "PNG", {}),
        ("self/photo.tif", "TIFF", {}),
        ("self/photo.webp", "WEBP", {"lossless": True}),
        ("self/photo.gif", "GIF", {}),
    ):
        path = tmp / Path(name).name
        photo.save(path, fmt, **extra)
        args = [a for a in _DIRT if fmt not in ("GIF",) or a.startswith(("-XMP", "-Comment"))]
        _exiftool_write(path, *args)
        made[name] = path.read_bytes()
    heic = tmp / "photo.heic"
    pillow_heif.from_pillow(photo).save(heic, quality=80)
    _exiftool_write(heic, "-Make=PhoneCorp", "-Model=PC-1", "-GPSLatitude=48.8566",
                    "-GPSLatitudeRef=N", "-XMP-dc:Creator=Jane Source")  # fmt: skip
    made["self/photo.heic"] = heic.read_bytes()
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(300, 300))
    pdf.docinfo["/Author"] = "Jane Source"
    pdf.docinfo["/Producer"] = "Leaky Writer 1.0"
    pdf_path = tmp / "doc.pdf"
    pdf.save(pdf_path)
    # ExifTool only appends an update: the old Info stays in the file, under the new one.
    _exiftool_write(pdf_path, "-PDF:Title=Memo of J. Source", "-XMP-dc:Creator=Jane Source")
    made["self/doc.pdf"] = pdf_path.read_bytes()
    made["self/doc.docx"] = _dirty_docx()
    made["self/doc.odt"] = _dirty_odt()
    return made


def _dirty_docx() -> bytes:
    out = io.BytesIO()
    ct = "http://schemas.openxmlformats.org/package/2006/content-types"
    rel = "http://schemas.openxmlformats.org/package/2006/relationships"
    off = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr(
            "[Content_Types].xml",
            f'<?xml version="1.0"?><Types xmlns="{ct}">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxml'
            'formats-officedocument.wordprocessingml.document.main+xml"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxml'
            'formats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxml'
            'formats-officedocument.extended-properties+xml"/></Types>',
        )
        package.writestr(
            "_rels/.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{rel}">'
            f'<Relationship Id="rId1" Type="{off}/officeDocument" Target="word/document.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
            'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
            f'<Relationship Id="rId3" Type="{off}/extended-properties" '
            'Target="docProps/app.xml"/></Relationships>',
        )
        package.writestr(
            "word/document.xml",
            f'<?xml version="1.0"?><w:document xmlns:w="{w}"><w:body>'
            '<w:p w:rsidR="00A1B2C3"><w:r><w:t>Visible words stay.</w:t></w:r></w:p>'
            "</w:body></w:document>",
        )
        package.writestr(
            "docProps/core.xml",
            '<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.'
            'org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/'
            '1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/'
            'XMLSchema-instance"><dc:creator>Jane Source</dc:creator><cp:lastModifiedBy>Jane '
            'Source</cp:lastModifiedBy><dcterms:created xsi:type="dcterms:W3CDTF">2024-05-01T'
            "10:00:00Z</dcterms:created></cp:coreProperties>",
        )
        package.writestr(
            "docProps/app.xml",
            '<?xml version="1.0"?><Properties xmlns="http://schemas.openxmlformats.org/'
            'officeDocument/2006/extended-properties"><Company>City Hall</Company>'
            "<Manager>Boss</Manager><Application>Microsoft Office Word</Application>"
            "</Properties>",
        )
    return out.getvalue()


def _dirty_odt() -> bytes:
    out = io.BytesIO()
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    text = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    meta = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
    dc = "http://purl.org/dc/elements/1.1/"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr(
            "mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED
        )
        package.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
            'opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" '
            'manifest:media-type="application/vnd.oasis.opendocument.text"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type='
            '"text/xml"/><manifest:file-entry manifest:full-path="meta.xml" '
            'manifest:media-type="text/xml"/></manifest:manifest>',
        )
        package.writestr(
            "content.xml",
            f'<?xml version="1.0"?><office:document-content xmlns:office="{office}" '
            f'xmlns:text="{text}" xmlns:dc="{dc}"><office:body><office:text>'
            "<text:p>Visible words stay.<office:annotation><dc:creator>Jane Source"
            "</dc:creator><text:p>note</text:p></office:annotation></text:p>"
            "</office:text></office:body></office:document-content>",
        )
        package.writestr(
            "meta.xml",
            f'<?xml version="1.0"?><office:document-meta xmlns:office="{office}" '
            f'xmlns:meta="{meta}" xmlns:dc="{dc}"><office:meta>'
            "<meta:initial-creator>Jane Source</meta:initial-creator>"
            "<dc:creator>Jane Source</dc:creator><meta:generator>LeakyOffice/1.0"
            "</meta:generator></office:meta></office:document-meta>",
        )
    return out.getvalue()


# --- running everything once ---------------------------------------------------------------


@dataclass
class Case:
    name: str  # "mat2/dirty.pdf", "self/photo.jpg"
    original: Path
    report: ScrubReport
    output: Path | None
    tags_in: dict[str, object]
    tags_out: dict[str, object]


def _exiftool_json(paths: list[Path]) -> dict[str, dict[str, object]]:
    if not paths:
        return {}
    # -G0:1: family 0 *and* 1 group names (maker notes are family 0 "MakerNotes").
    result = subprocess.run(
        ["exiftool", "-a", "-G0:1", "-s", "-ee", "-j", "-m", *map(str, paths)],
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr.decode(errors="replace")
    return {item["SourceFile"]: item for item in json.loads(result.stdout or b"[]")}


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path | None) -> dict[str, Case]:
    tmp = tmp_path_factory.mktemp("corpus")
    inputs: dict[str, Path] = {}
    (tmp / "in").mkdir()
    for name, data in _self_made(tmp).items():
        path = tmp / "in" / name.replace("/", "__")
        path.write_bytes(data)
        inputs[name] = path
    if shared_dir is not None:
        for path in _corpus_files():
            inputs[f"{path.parent.name}/{path.name}"] = path
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = dict(
            zip(inputs, pool.map(lambda p: scrub_sandboxed(p.read_bytes()), inputs.values()))
        )
    (tmp / "out").mkdir()
    outputs: dict[str, Path] = {}
    for name, report in reports.items():
        if report.cleaned:
            out = tmp / "out" / (name.replace("/", "__") + report.file_type.extension)
            out.write_bytes(report.data)
            outputs[name] = out
    tags = _exiftool_json([*inputs.values(), *outputs.values()])
    return {
        name: Case(
            name,
            inputs[name],
            reports[name],
            outputs.get(name),
            tags.get(str(inputs[name]), {}),
            tags.get(str(outputs[name]), {}) if name in outputs else {},
        )
        for name in inputs
    }


def _names() -> list[str]:
    made = [
        *(f"self/photo.{ext}" for ext in ("jpg", "png", "tif", "webp", "gif", "heic")),
        *(f"self/doc.{ext}" for ext in ("pdf", "docx", "odt")),
    ]
    return made + [f"{p.parent.name}/{p.name}" for p in _corpus_files()]


# --- the oracle ----------------------------------------------------------------------------


def _shipped_icc_tags() -> list[dict[str, object]]:
    """ICC tags of the standard profiles the scrubbers ship (if any): those may remain."""
    profiles = sorted((REPO / "scrubbers").glob("*.icc"))
    found = _exiftool_json(profiles)
    return [
        {k.split(":")[-1]: v for k, v in tags.items() if k.startswith("ICC_Profile")}
        for tags in found.values()
    ]


def _icc_allowed(name: str, value: object, shipped: list[dict[str, object]]) -> bool:
    return any(profile.get(name) == value for profile in shipped)


def forbidden_tags(tags: dict[str, object], shipped_icc: list[dict[str, object]]) -> list[str]:
    """The identifying tags ExifTool reports (group:name, never the values)."""
    left = []
    # IFD1 is forbidden as the EXIF thumbnail's directory (JPEG, PNG, WebP...). In a TIFF,
    # ExifTool names every page's directory IFD0, IFD1, IFD2... in chain order: there IFD1 is
    # the second page, whose layout tags (width, strips, compression) are the picture. A page
    # stays subject to every other rule (Software, ModifyDate, Thumbnail...), and a TIFF
    # directory marked as a reduced-resolution copy (NewSubfileType bit 0: a thumbnail or an
    # overview) is still forbidden whole.
    tiff = tags.get("File:FileType") in ("TIFF", "BTF")
    reduced = {
        key.split(":")[1]
        for key, value in tags.items()
        if key.endswith(":SubfileType") and "Reduced-resolution" in str(value)
    }
    for key, value in tags.items():
        parts = key.split(":")
        if len(parts) < 2:
            continue  # SourceFile
        name = parts[-1]
        family0 = parts[0]
        family1 = parts[1] if len(parts) == 3 else parts[0]
        if family0 == "ExifTool" or family1 == "System":
            continue  # the tool's version; this copy's file-system dates and name
        if value == "0000:00:00 00:00:00":
            continue  # a date zeroed by the cleaner (QuickTime's "unknown") dates nothing
        if family0 == "QuickTime" and name in ("PreviewTime", "PreviewDuration"):
            continue  # movie-header timings (where a preview would start), not a preview
        if family0 == "XMP":
            if f"{family1}:{name}" not in XMP_ALLOWED:
                left.append(key)
            continue
        if name == "HasXFA" and value != "No":
            left.append(key)  # XFA packets carry a second XMP and the authoring tool
            continue
        if family0 == "ICC_Profile" and name in ICC_TEXT:
            if not _icc_allowed(name, value, shipped_icc):
                left.append(key)
            continue
        tiff_page = tiff and family0 == "EXIF" and re.fullmatch(r"IFD\d+", family1) is not None
        if tiff_page and family1 in reduced:
            left.append(key)
            continue
        if (
            family0 in FORBIDDEN_FAMILY0
            or (family1 in FORBIDDEN_FAMILY1 and not tiff_page)
            or name in FORBIDDEN_NAMES
            or FORBIDDEN_PARTS.search(name)
        ):
            left.append(key)
    return sorted(left)


@pytest.fixture(scope="module")
def shipped_icc() -> list[dict[str, object]]:
    return _shipped_icc_tags()


@pytest.mark.parametrize("name", _names())
def test_cleaned_and_clean_or_not_cleaned_as_listed(
    name: str, cases: dict[str, Case], shipped_icc: list[dict[str, object]]
) -> None:
    case = cases[name]
    report = case.report
    if name in EXPECTED_NOT_CLEANED:
        assert not report.cleaned, "expected not cleaned (update the table if it now is)"
        assert report.reason in EXPECTED_NOT_CLEANED[name]
        assert report.data == case.original.read_bytes()  # kept as received
        return
    assert report.cleaned, f"not cleaned: {report.reason}"
    assert case.output is not None
    assert case.tags_out, "ExifTool could not read the output"
    assert forbidden_tags(case.tags_out, shipped_icc) == []
    _check_content(case)


def _reference_reads(path: Path) -> bool:
    """Whether the reference reader opens a file: qpdf for PDFs (--show-npages succeeds, with
    at least one page, without a password), Pillow for images (open, then decode every
    frame, default settings)."""
    if path.suffix.lower() == ".pdf":
        result = subprocess.run(
            ["qpdf", "--show-npages", str(path)], capture_output=True, timeout=120, check=False
        )
        pages = result.stdout.decode(errors="replace").strip()
        return result.returncode in (0, 3) and pages.isdigit() and int(pages) > 0
    try:
        with Image.open(path) as image:
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                image.load()
    except Exception:  # noqa: BLE001 (any failure of the reader is what is looked for)
        return False
    return True


def test_wild_refusals_fail_in_the_reference_reader(shared_dir: Path | None) -> None:
    # Issue 10: a readable file must not be refused. Every wild/ entry of the table must be
    # unreadable by the reference reader too, so that the table cannot hide a readable file;
    # the image sequences we do not support are the one, listed, exception (and must stay
    # readable: else they belong with the others).
    if shared_dir is None:
        pytest.skip("no shared corpus outside CI")
    wild = [name for name in EXPECTED_NOT_CLEANED if name.startswith("wild/")]
    assert wild
    for name in wild:
        path = CORPUS / name
        assert path.is_file(), name
        readable = _reference_reads(path)
        assert readable == (name in _SEQUENCES_NOT_SUPPORTED), name
    assert _SEQUENCES_NOT_SUPPORTED <= set(wild)


def test_self_made_files_were_dirty(cases: dict[str, Case]) -> None:
    # The oracle must be able to fail: each self-made file carried forbidden tags.
    for name, case in cases.items():
        if name.startswith("self/"):
            assert forbidden_tags(case.tags_in, []), name


def test_corpus_was_read(cases: dict[str, Case], shared_dir: Path | None) -> None:
    corpus = [n for n in cases if not n.startswith("self/")]
    if shared_dir is None:
        assert corpus == []  # outside this environment: self-made files only
        return
    assert len(corpus) >= 40, "the shared corpus is incomplete"
    dirty = [n for n in corpus if forbidden_tags(cases[n].tags_in, [])]
    assert len(dirty) >= 35  # most corpus files carry identifying metadata to begin with


def test_fixed_zip_dates_across_all_office_outputs(cases: dict[str, Case]) -> None:
    # Zip member dates are the time of writing unless fixed: the same for every member of
    # every cleaned package, whatever the input.
    stamps = set()
    for case in cases.values():
        if case.output is None or case.report.file_type.extension not in (
            ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".odg"
        ):  # fmt: skip
            continue
        with zipfile.ZipFile(case.output) as package:
            assert package.comment == b"", case.name
            for info in package.infolist():
                stamps.add(info.date_time)
                assert info.extra == b"", (case.name, info.filename)
    assert len(stamps) == 1, stamps


# --- content checks ------------------------------------------------------------------------


def _check_content(case: Case) -> None:
    assert case.output is not None
    kind = case.report.file_type.name
    if kind == "pdf":
        _check_pdf(case.original, case.output)
    elif kind in LOSSLESS and case.report.file_type == _sniffed(case.original):
        _check_pixels(case.original, case.output, kind)
    elif kind == "png" and getattr(_sniffed(case.original), "name", None) == "tiff":
        # Old-style JPEG TIFF, converted to a lossless PNG of what libtiff decodes: the same
        # pixels as Pillow shows the original, upright.
        assert list(_frames(case.output)) == list(_frames(case.original))
    elif kind in ("png", "heif") or case.report.file_type != _sniffed(case.original):
        # Converted (HEIC -> PNG, or re-encoded): same picture size, readable.
        with Image.open(case.original) as before, Image.open(case.output) as after:
            assert ImageOps.exif_transpose(after).size == ImageOps.exif_transpose(before).size
    elif kind == "docx":
        assert _docx_text(case.output) == _docx_text(case.original, accepted=True)
    elif kind == "odt":
        assert _odt_text(case.output) == _odt_text(case.original)


def _sniffed(path: Path) -> object:
    from scrubbers import sniff

    return sniff(path.read_bytes())


_UNDECODABLE = re.compile(r"error decoding stream data for object (\d+) (\d+):")
_REPROCESSED = "stream will be re-processed without filtering to avoid data loss"


def _check_pdf(original: Path, output: Path) -> None:
    check = subprocess.run(["qpdf", "--check", str(output)], capture_output=True, timeout=120)
    with pikepdf.open(original) as before, pikepdf.open(output) as after:
        if check.returncode != 0:
            _check_inherited_stream_damage(check, before, after)
        assert len(after.pages) == len(before.pages)

    def text(path: Path) -> str:
        result = subprocess.run(
            ["pdftotext", "-q", str(path), "-"], capture_output=True, timeout=120, check=False
        )
        return " ".join(result.stdout.decode(errors="replace").split())

    assert text(output) == text(original)


def _check_inherited_stream_damage(
    check: subprocess.CompletedProcess[bytes], before: pikepdf.Pdf, after: pikepdf.Pdf
) -> None:
    """`qpdf --check` may warn (exit 3) only about streams whose data does not decode in the
    original already: the scrubber copies streams byte for byte and cannot mend a fuzzed
    ASCII85 font (pdfjs-PDFBOX-3148-2-fuzzed.pdf). Every other warning, or a damaged stream
    the original does not have byte for byte, is damage done by cleaning: a failure. The file
    must still open without repair (no xref reconstruction: that is another warning)."""
    report = check.stdout.decode(errors="replace") + check.stderr.decode(errors="replace")
    assert check.returncode == 3, report[-2000:]
    warnings = [line for line in report.splitlines() if line.startswith("WARNING: ")]
    assert warnings, report[-2000:]
    damaged = set()
    for line in warnings:
        if (found := _UNDECODABLE.search(line)) is not None:
            damaged.add((int(found[1]), int(found[2])))
        else:
            assert line.endswith(_REPROCESSED), report[-2000:]
    inherited = {
        bytes(obj.read_raw_bytes())
        for obj in before.objects
        if isinstance(obj, pikepdf.Stream) and not _decodes(obj)
    }
    for objgen in damaged:
        stream = after.get_object(objgen)
        assert isinstance(stream, pikepdf.Stream)
        assert bytes(stream.read_raw_bytes()) in inherited, (objgen, report[-2000:])


def _decodes(stream: pikepdf.Stream) -> bool:
    try:
        stream.read_bytes()
    except pikepdf.PdfError:
        return False
    return True


def _frames(path: Path) -> Iterator[bytes]:
    with Image.open(path) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            tags = getattr(image, "tag_v2", None)
            if tags is not None and int(tags.get(254, 0)) & 1:
                # A TIFF directory marked reduced-resolution (NewSubfileType bit 0): an overview
                # or a thumbnail of the page before it, which Pillow lists as a frame but no
                # viewer shows as a page. The scrubber drops those on purpose (a thumbnail may
                # show the picture before it was cropped; ExifTool's "Thumbnail" rule): the
                # pages themselves are compared, every one of them.
                continue
            yield ImageOps.exif_transpose(image.convert("RGBA")).tobytes()


def _check_pixels(original: Path, output: Path, kind: str) -> None:
    if kind == "jpeg":
        # The entropy-coded data is kept: decoding gives the very same pixels (orientation
        # kept in a fresh EXIF, or applied: compare upright pictures).
        with Image.open(original) as before, Image.open(output) as after:
            upright_before = ImageOps.exif_transpose(before).convert("RGB")
            upright_after = ImageOps.exif_transpose(after).convert("RGB")
            assert upright_after.size == upright_before.size
            assert upright_after.tobytes() == upright_before.tobytes()
        return
    assert list(_frames(output)) == list(_frames(original))


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_text(path: Path, *, accepted: bool = False) -> str:
    """The visible text; `accepted`: as if every tracked change were accepted."""
    with zipfile.ZipFile(path) as package:
        root = ElementTree.fromstring(package.read("word/document.xml"))
    dropped = {f"{_W}del", f"{_W}moveFrom"} if accepted else set()
    pieces: list[str] = []

    def walk(element: object) -> None:
        tag = element.tag  # type: ignore[attr-defined]
        if tag in dropped:
            return
        if tag == f"{_W}t" and element.text:  # type: ignore[attr-defined]
            pieces.append(element.text)  # type: ignore[attr-defined]
        for child in element:  # type: ignore[attr-defined]
            walk(child)

    walk(root)
    return "".join(pieces)


_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"


def _odt_text(path: Path) -> str:
    """Body text, without annotations and tracked deletions (accepted view)."""
    with zipfile.ZipFile(path) as package:
        root = ElementTree.fromstring(package.read("content.xml"))
    skipped = {f"{_OFFICE}annotation", f"{_OFFICE}annotation-end", f"{_TEXT}tracked-changes"}
    pieces: list[str] = []

    def walk(element: object) -> None:
        if element.tag in skipped:  # type: ignore[attr-defined]
            if element.tail:  # type: ignore[attr-defined]
                pieces.append(element.tail)  # type: ignore[attr-defined]
            return
        if element.text:  # type: ignore[attr-defined]
            pieces.append(element.text)  # type: ignore[attr-defined]
        for child in element:  # type: ignore[attr-defined]
            walk(child)
        if element.tail:  # type: ignore[attr-defined]
            pieces.append(element.tail)  # type: ignore[attr-defined]

    walk(root)
    return " ".join("".join(pieces).split())
