"""Tell a file's real type from its bytes.

Never from the file name or the client's Content-Type: a PDF renamed ``.txt`` is a PDF, and
a hostile client can claim anything.
"""

from __future__ import annotations

import io
import zipfile

from scrubbers._types import FileType

PDF = FileType("pdf", "application/pdf", ".pdf")
JPEG = FileType("jpeg", "image/jpeg", ".jpg")
PNG = FileType("png", "image/png", ".png")
GIF = FileType("gif", "image/gif", ".gif")
WEBP = FileType("webp", "image/webp", ".webp")
TIFF = FileType("tiff", "image/tiff", ".tif")
BMP = FileType("bmp", "image/bmp", ".bmp")
HEIF = FileType("heif", "image/heif", ".heic")
DOCX = FileType(
    "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"
)
XLSX = FileType(
    "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"
)
PPTX = FileType(
    "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx"
)
ODT = FileType("odt", "application/vnd.oasis.opendocument.text", ".odt")
ODS = FileType("ods", "application/vnd.oasis.opendocument.spreadsheet", ".ods")
ODP = FileType("odp", "application/vnd.oasis.opendocument.presentation", ".odp")
ODG = FileType("odg", "application/vnd.oasis.opendocument.graphics", ".odg")
ZIP = FileType("zip", "application/zip", ".zip")
UNKNOWN = FileType("unknown", "application/octet-stream", ".bin")

_ODF_MIMETYPES = {t.media_type: t for t in (ODT, ODS, ODP, ODG)}
# Templates (.ott, .ots, ...) carry the same parts; clean them as their document kind.
_ODF_MIMETYPES.update({t.media_type + "-template": t for t in (ODT, ODS, ODP, ODG)})
_OOXML_MAIN_PARTS = (
    ("word/document.xml", DOCX),
    ("xl/workbook.xml", XLSX),
    ("ppt/presentation.xml", PPTX),
)
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}

ALL_TYPES = (PDF, JPEG, PNG, GIF, WEBP, TIFF, BMP, HEIF, DOCX, XLSX, PPTX, ODT, ODS, ODP, ODG, ZIP)


def sniff(untrusted_data: bytes) -> FileType:
    head = untrusted_data[:1024]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head[:2] == b"BM" and len(head) >= 26 and head[6:10] == b"\x00\x00\x00\x00":
        return BMP
    if head[4:8] == b"ftyp" and _is_heif(head):
        return HEIF
    # PDF readers accept the header anywhere in the first KiB, so a PDF may hide behind
    # junk bytes: it must still be cleaned as a PDF.
    if b"%PDF-" in head:
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(untrusted_data)
    return UNKNOWN


def _is_heif(head: bytes) -> bool:
    size = int.from_bytes(head[0:4], "big")
    brands = {head[8:12]}
    end = min(size, len(head))
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    return bool(brands & _HEIF_BRANDS)


def _sniff_zip(untrusted_data: bytes) -> FileType:
    """Look at member names only (the central directory); nothing is decompressed but ODF's
    tiny ``mimetype`` member, read with a size bound."""
    try:
        with zipfile.ZipFile(io.BytesIO(untrusted_data)) as untrusted_zip:
            names = set(untrusted_zip.namelist())
            if "mimetype" in names:
                info = untrusted_zip.getinfo("mimetype")
                if info.file_size <= 256:
                    media = untrusted_zip.read(info).decode("ascii", "replace").strip()
                    if media in _ODF_MIMETYPES:
                        return _ODF_MIMETYPES[media]
            for part, file_type in _OOXML_MAIN_PARTS:
                if part in names:
                    return file_type
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, KeyError, EOFError):
        return UNKNOWN
    return ZIP
