"""Tell a file's real type from its bytes.

Never from the file name or the client's Content-Type: a PDF renamed ``.txt`` is a PDF, and
a hostile client can claim anything.

Sniffing runs in the parent process (the server), outside the sandbox, on hostile bytes: it
must stay cheap and bounded whatever the input. So it reads fixed-size headers only, and walks
a zip's central directory itself with a cap on the number of entries, instead of handing the
bytes to `zipfile` (which builds an object per entry: a 256 MiB zip of empty members would
cost gigabytes of memory in the server).
"""

from __future__ import annotations

from scrubbers._ranges import Data, RangeSource
from scrubbers._sniff_text import SVG_WINDOW, is_html, is_svg, is_text_file
from scrubbers._sniff_zip import (
    LOCAL_SIGNATURE,
    has_zip_directory,
    is_empty_zip,
    read_small_member,
    zip_entries,
)
from scrubbers._types import FileType

PDF = FileType("pdf", "application/pdf", ".pdf")
JPEG = FileType("jpeg", "image/jpeg", ".jpg")
PNG = FileType("png", "image/png", ".png")
GIF = FileType("gif", "image/gif", ".gif")
WEBP = FileType("webp", "image/webp", ".webp")
TIFF = FileType("tiff", "image/tiff", ".tif")
BMP = FileType("bmp", "image/bmp", ".bmp")
HEIF = FileType("heif", "image/heif", ".heic")
# Windows metafiles (RFC 7903 media types): Office documents embed them as pictures.
EMF = FileType("emf", "image/emf", ".emf")
WMF = FileType("wmf", "image/wmf", ".wmf")
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
MP4 = FileType("mp4", "video/mp4", ".mp4")
MOV = FileType("mov", "video/quicktime", ".mov")
M4A = FileType("m4a", "audio/mp4", ".m4a")
THREE_GP = FileType("3gp", "video/3gpp", ".3gp")
MKV = FileType("mkv", "video/x-matroska", ".mkv")
WEBM = FileType("webm", "video/webm", ".webm")
AVI = FileType("avi", "video/x-msvideo", ".avi")
MP3 = FileType("mp3", "audio/mpeg", ".mp3")
FLAC = FileType("flac", "audio/flac", ".flac")
# Ogg Vorbis and FLAC-in-Ogg share the container's media type; Opus has its own extension.
OGG = FileType("ogg", "audio/ogg", ".ogg")
OPUS = FileType("opus", "audio/ogg", ".opus")
WAV = FileType("wav", "audio/wav", ".wav")
AIFF = FileType("aiff", "audio/aiff", ".aif")
# Written out as .txt whatever the source called it (.csv, .md): an editor then sees it in a
# text viewer, where nothing (a Markdown comment, say) can be hidden by rendering.
TEXT = FileType("text", "text/plain", ".txt")
SVG = FileType("svg", "image/svg+xml", ".svg")
HTML = FileType("html", "text/html", ".html")
EPUB = FileType("epub", "application/epub+zip", ".epub")
UNKNOWN = FileType("unknown", "application/octet-stream", ".bin")

_EPUB_MIMETYPE = b"application/epub+zip"
_ODF_MIMETYPES = {t.media_type: t for t in (ODT, ODS, ODP, ODG)}
# Templates (.ott, .ots, ...) carry the same parts; clean them as their document kind.
_ODF_MIMETYPES.update({t.media_type + "-template": t for t in (ODT, ODS, ODP, ODG)})
_OOXML_MAIN_PARTS = (
    ("word/document.xml", DOCX),
    ("xl/workbook.xml", XLSX),
    ("ppt/presentation.xml", PPTX),
)
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# ISO BMFF brands of movies and sound (the major brand decides; else the first compatible
# one known). Still-image brands (HEIF's above, AVIF, JPEG 2000, Canon CR3) are not here:
# an ftyp naming none of these is not a movie.
_MOVIE_BRANDS = {
    b"qt  ": MOV,
    **{b: M4A for b in (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ")},
    **{b: THREE_GP for b in (
        b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3gp8", b"3gp9", b"3g2a", b"3g2b", b"3g2c",
        b"3ge6", b"3ge7", b"3gg6", b"3gs7", b"3gr6", b"kddi",
    )},
    **{b: MP4 for b in (
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
        b"mp41", b"mp42", b"mp71", b"avc1", b"M4V ", b"M4VH", b"M4VP", b"F4V ", b"f4v ",
        b"F4P ", b"dash", b"msdh", b"msix", b"cmfc", b"cmf2", b"MSNV", b"XAVC", b"mmp4",
        b"MQT ", b"NDAS", b"NDSC", b"NDSH", b"NDSM", b"NDSP", b"NDSS", b"NDXC", b"NDXH",
        b"NDXM", b"NDXP", b"NDXS", b"CAEP", b"caqv", b"iso ", b"hvc1", b"av01",
    )},
}  # fmt: skip
# A QuickTime movie older than ftyp starts with one of its top-level atoms.
_QT_FIRST_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"

ALL_TYPES = (
    PDF, JPEG, PNG, GIF, WEBP, TIFF, BMP, HEIF, EMF, WMF, DOCX, XLSX, PPTX, ODT, ODS, ODP, ODG, ZIP,
    MP4, MOV, M4A, THREE_GP, MKV, WEBM, AVI,
    MP3, FLAC, OGG, OPUS, WAV, AIFF, SVG, HTML, TEXT, EPUB,
)  # fmt: skip
_ZIP_FAMILY = frozenset({DOCX, XLSX, PPTX, ODT, ODS, ODP, ODG, ZIP, EPUB})

# PDF readers accept the header anywhere in the first KiB.
_PDF_WINDOW = 1024

#: What `sniff` needs of a large file read by ranges: every type decided from the start
#: (all the streamed ones are) is decided within this many bytes.
SNIFF_HEAD_BYTES = 64 * 1024


def sniff(untrusted_data: Data) -> FileType:
    """The file's type, from the signature at its start (the format that owns byte 0).

    A file that another format's reader would also accept is still typed by its first
    signature here; `is_polyglot` tells the cleaner to refuse it. A large file read by
    ranges is typed from its first `SNIFF_HEAD_BYTES` (all the streamed types are decided
    there), except a zip's, whose central directory at the end tells an archive from an
    office document: read by ranges, bounded as for bytes.
    """
    whole = untrusted_data
    if isinstance(untrusted_data, RangeSource):
        untrusted_data = untrusted_data[:SNIFF_HEAD_BYTES]
    head = untrusted_data[:_PDF_WINDOW]
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
    if head[4:8] == b"ftyp":
        return _movie_brand(head)
    if head[4:8] in _QT_FIRST_ATOMS and int.from_bytes(head[0:4], "big") not in range(2, 8):
        return MOV
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return AVI
    if head.startswith(_EBML_MAGIC):
        return _ebml_doctype(head)
    if head.startswith(LOCAL_SIGNATURE):
        return _sniff_zip(whole)
    if is_empty_zip(untrusted_data):
        return ZIP
    if _is_emf(head):
        return EMF
    if _is_wmf(head):
        return WMF
    # PDF readers accept the header anywhere in the first KiB, so a PDF may hide behind
    # junk bytes: it must still be cleaned as a PDF.
    if b"%PDF-" in head:
        return PDF
    audio = _sniff_audio(untrusted_data)
    if audio is not None:
        return audio
    if is_svg(untrusted_data[:SVG_WINDOW]):
        return SVG
    if is_html(untrusted_data[:SVG_WINDOW]):  # saved pages, XHTML
        return HTML
    if is_text_file(untrusted_data):
        return TEXT
    return UNKNOWN


def is_polyglot(untrusted_data: bytes, file_type: FileType) -> bool:
    """Whether a reader of another supported format would also open these bytes.

    Such a file is refused rather than cleaned as its first type: cleaning it as, say, a JPEG
    would silently drop the PDF or zip the source also put in it (nothing accepted may be
    lost), and an output that still parses as a second format could carry that format's
    metadata past the check, to whichever viewer an editor opens it with.
    """
    # Not for a plain archive: there the header can only sit inside the zip's own structure
    # (a member stored uncompressed, say a PDF, is the usual case); every member is cleaned
    # by its own scrubber and the archive rewritten with deflated members, and the output is
    # checked again.
    pdf_header = b"%PDF-" in untrusted_data[:_PDF_WINDOW]
    if file_type not in (PDF, UNKNOWN, ZIP) and pdf_header:
        return True
    # Zip readers start from the end of the file, so anything with a valid zip directory at
    # its end is also a zip (the classic "GIFAR" and PDF+zip polyglots).
    return (
        file_type not in _ZIP_FAMILY and file_type != UNKNOWN and has_zip_directory(untrusted_data)
    )


def is_polyglot_source(source: RangeSource, file_type: FileType) -> bool:
    """`is_polyglot` for a large file read by ranges: its start and its end only."""
    if is_polyglot(source[:_PDF_WINDOW], file_type):
        return True
    if file_type in _ZIP_FAMILY or file_type == UNKNOWN:
        return False
    return has_zip_directory(source)


def _is_heif(head: bytes) -> bool:
    size = int.from_bytes(head[0:4], "big")
    brands = {head[8:12]}
    end = min(size, len(head))
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    return bool(brands & _HEIF_BRANDS)


def _movie_brand(head: bytes) -> FileType:
    size = int.from_bytes(head[0:4], "big")
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    for brand in brands:
        if brand in _MOVIE_BRANDS:
            return _MOVIE_BRANDS[brand]
    return UNKNOWN


def _ebml_doctype(head: bytes) -> FileType:
    # The EBML header's DocType (ID 0x4282) says which Matroska profile this is; a fixed
    # window is enough (the header is a few dozen bytes).
    at = head.find(b"\x42\x82", 4, 64)
    if at < 0 or at + 3 > len(head):
        return UNKNOWN
    length_byte = head[at + 2]
    if not length_byte & 0x80:
        return UNKNOWN
    doctype = head[at + 3 : at + 3 + (length_byte & 0x7F)].rstrip(b"\x00")
    return {b"matroska": MKV, b"webm": WEBM}.get(doctype, UNKNOWN)


def _is_emf(head: bytes) -> bool:
    # EMR_HEADER (record type 1) first, and the " EMF" signature at its fixed offset 40.
    return len(head) >= 88 and head[0:4] == b"\x01\x00\x00\x00" and head[40:44] == b" EMF"


_WMF_PLACEABLE_KEY = b"\xd7\xcd\xc6\x9a"


def _is_wmf(head: bytes) -> bool:
    # Either the "placeable" Aldus header's key, or a bare META_HEADER: type 1 (memory) or
    # 2 (disk), header size 9 words, version 1.0 or 3.0.
    if head.startswith(_WMF_PLACEABLE_KEY):
        return len(head) >= 40
    return (
        len(head) >= 18
        and head[0:2] in (b"\x01\x00", b"\x02\x00")
        and head[2:4] == b"\x09\x00"
        and head[4:6] in (b"\x00\x01", b"\x00\x03")
    )


def has_member(untrusted_data: Data, name: str) -> bool:
    """Whether the zip's central directory names this member (nothing is inflated)."""
    entries = zip_entries(untrusted_data)
    return entries is not None and name in entries


def _sniff_zip(untrusted_data: Data) -> FileType:
    """Look at member names only; nothing is decompressed but ODF's tiny ``mimetype``."""
    entries = zip_entries(untrusted_data)
    if entries is None:
        return UNKNOWN
    if "mimetype" in entries:
        method, _, local = entries["mimetype"]
        media = read_small_member(untrusted_data, *entries["mimetype"])
        # EPUB (OCF): "mimetype" is the first member, stored, with exactly this content; a
        # zip that only names it elsewhere stays a plain zip (its members are cleaned).
        first = min(offset for _, _, offset in entries.values())
        if method == 0 and local == first and media == _EPUB_MIMETYPE:
            return EPUB
        text = media.decode("ascii", "replace").strip()
        if text in _ODF_MIMETYPES:
            return _ODF_MIMETYPES[text]
    for part, file_type in _OOXML_MAIN_PARTS:
        if part in entries:
            return file_type
    return ZIP


# --- audio ---------------------------------------------------------------------------------

# Bounds a chain of ID3v2 tags before the audio (taggers sometimes leave two or three).
_MAX_ID3_CHAIN = 8


def id3v2_size(untrusted_data: bytes | RangeSource, offset: int) -> int | None:
    """Length of the ID3v2 tag at `offset` (header, body and footer), or None if none is."""
    header = untrusted_data[offset : offset + 10]
    if len(header) < 10 or header[:3] != b"ID3" or header[3] not in (2, 3, 4):
        return None
    if header[4] == 0xFF or any(b & 0x80 for b in header[6:10]):
        return None
    body = (header[6] << 21) | (header[7] << 14) | (header[8] << 7) | header[9]
    footer = 10 if header[3] == 4 and header[5] & 0x10 else 0
    return 10 + body + footer


def skip_id3v2(untrusted_data: bytes) -> int:
    """Offset of the first byte after the ID3v2 tags at the start (0 when there is none)."""
    offset = 0
    for _ in range(_MAX_ID3_CHAIN):
        size = id3v2_size(untrusted_data, offset)
        if size is None:
            break
        offset += size
    return offset


_MPEG_BITRATES = {
    # (MPEG-1?, layer) -> kbit/s by index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mpeg_frame_length(untrusted_data: bytes | RangeSource, offset: int) -> int | None:
    """Length of the MPEG audio frame whose header starts at `offset`, or None if none does.

    Free-format frames (bitrate index 0) have no length in their header: not accepted.
    """
    header = untrusted_data[offset : offset + 4]
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    layer = 4 - ((header[1] >> 1) & 3)  # 4 would be the reserved value 0
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 3
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    padding = (header[2] >> 1) & 1
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    if layer == 3 and not mpeg1:
        return 72 * bitrate // rate + padding
    return 144 * bitrate // rate + padding


def _sniff_audio(untrusted_data: bytes) -> FileType | None:
    head = untrusted_data[:12]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return AIFF
    if head[:4] == b"OggS":
        return _sniff_ogg(untrusted_data)
    # Taggers put ID3v2 in front of FLAC files too; what follows tells the format.
    start = skip_id3v2(untrusted_data)
    if untrusted_data[start : start + 4] == b"fLaC":
        return FLAC
    length = mpeg_frame_length(untrusted_data, start)
    if length is not None:
        # One plausible header is 11 bits of chance: the next frame must follow it (or the
        # file end there, or a tag start).
        after = start + length
        following = untrusted_data[after : after + 3]
        if mpeg_frame_length(untrusted_data, after) is not None or following in (b"", b"TAG"):
            return MP3
    if start > 0:
        # ID3v2 in front of something that is not MPEG audio at once: a stream with junk
        # before its first frame, still an MP3 for the scrubber to judge.
        return MP3
    return None


def _sniff_ogg(untrusted_data: bytes) -> FileType | None:
    # The first page holds the first stream's identification packet alone.
    if len(untrusted_data) < 28 or untrusted_data[5] & 0x02 == 0:
        return None
    segments = untrusted_data[26]
    packet = untrusted_data[27 + segments : 27 + segments + 8]
    if packet[:7] == b"\x01vorbis" or packet[:5] == b"\x7fFLAC":
        return OGG
    if packet.startswith(b"OpusHead"):
        return OPUS
    return None
