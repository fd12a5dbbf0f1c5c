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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrubbers._ranges import RangeSource

import re
import struct
import zlib

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
# More central-directory entries than any office document has (the OOXML/ODF scrubbers bound
# members at `Limits.max_zip_members`, 10 000, as well): past this the walk stops, bounded.
_MAX_SNIFF_ENTRIES = 20_000
_MAX_MIMETYPE_BYTES = 256

_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_RECORD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_RECORD_SIGNATURE = b"PK\x06\x06"


def sniff(untrusted_data: bytes) -> FileType:
    """The file's type, from the signature at its start (the format that owns byte 0).

    A file that another format's reader would also accept is still typed by its first
    signature here; `is_polyglot` tells the cleaner to refuse it.
    """
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
    if head.startswith(_LOCAL_SIGNATURE):
        return _sniff_zip(untrusted_data)
    if _is_empty_zip(untrusted_data):
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
    if _is_svg(untrusted_data[:SVG_WINDOW]):
        return SVG
    if _HTML_START.match(_decode_head(untrusted_data[:SVG_WINDOW])):  # saved pages, XHTML
        return HTML
    if is_plain_text(untrusted_data[:_TEXT_WINDOW]) and (
        untrusted_data[:2] in _UTF16_BOMS
        or _BINARY_BYTE.search(untrusted_data, max(0, len(untrusted_data) - _TEXT_WINDOW)) is None
    ):
        # The start and the end only, to stay cheap on a large file: the scrubber checks
        # every byte in its worker (and decodes all of a UTF-16 file).
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
        file_type not in _ZIP_FAMILY and file_type != UNKNOWN and _has_zip_directory(untrusted_data)
    )


#: What `sniff` needs of a large file read by ranges: every type decided from the start
#: (all the streamed ones are) is decided within this many bytes.
SNIFF_HEAD_BYTES = 64 * 1024


def is_polyglot_source(source: RangeSource, file_type: FileType) -> bool:
    """`is_polyglot` for a large file read by ranges: its start and its end only."""
    if is_polyglot(source[:_PDF_WINDOW], file_type):
        return True
    if file_type in _ZIP_FAMILY or file_type == UNKNOWN:
        return False
    tail_start = max(0, len(source) - (_EOCD.size + 0xFFFF))
    tail = source[tail_start:]
    found = _find_eocd(tail)
    if found is None:
        return False
    cd_end, entries, cd_size, _ = found
    start = tail_start + cd_end - cd_size
    return entries != 0 and start >= 0 and source[start : start + 4] == _CENTRAL_SIGNATURE


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


def _find_eocd(untrusted_data: bytes) -> tuple[int, int, int, int] | None:
    """(end of the central directory, entry count, directory size, directory offset)."""
    # The record is 22 bytes plus a comment of at most 64 KiB, at the very end.
    window_start = max(0, len(untrusted_data) - (_EOCD.size + 0xFFFF))
    position = untrusted_data.rfind(_EOCD_SIGNATURE, window_start)
    if position < 0 or position + _EOCD.size > len(untrusted_data):
        return None
    _, _, _, _, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(untrusted_data, position)
    # Zip64 (more than 65 535 members or 4 GiB): the real values sit in a record just before
    # the end record, found through the locator right before it.
    locator = position - _ZIP64_LOCATOR.size
    record = locator - _ZIP64_RECORD.size
    if record >= 0 and untrusted_data[locator : locator + 4] == _ZIP64_LOCATOR_SIGNATURE:
        fields = _ZIP64_RECORD.unpack_from(untrusted_data, record)
        if fields[0] != _ZIP64_RECORD_SIGNATURE:
            return None
        return record, fields[7], fields[8], fields[9]
    return position, entries, cd_size, cd_offset


def _central_directory_start(untrusted_data: bytes) -> int | None:
    found = _find_eocd(untrusted_data)
    if found is None:
        return None
    cd_end, entries, cd_size, _ = found
    # The directory ends where the end records start (prepended data included); a record
    # whose directory does not fit, or does not start with an entry, is not a zip.
    start = cd_end - cd_size
    if entries == 0 or start < 0:
        return None
    if untrusted_data[start : start + 4] != _CENTRAL_SIGNATURE:
        return None
    return start


def _has_zip_directory(untrusted_data: bytes) -> bool:
    return _central_directory_start(untrusted_data) is not None


def _zip_entries(untrusted_data: bytes) -> dict[str, tuple[int, int, int]] | None:
    """Names -> (compression, compressed size, local header offset); None if not a zip.

    At most `_MAX_SNIFF_ENTRIES` entries are read; past that the dict is cut short.
    """
    start = _central_directory_start(untrusted_data)
    if start is None:
        return None
    # Offsets in the directory count from the start of the zip, which is `start - cd_offset`
    # bytes into the data when something was prepended.
    found = _find_eocd(untrusted_data)
    assert found is not None
    base = start - found[3]
    entries: dict[str, tuple[int, int, int]] = {}
    offset = start
    end = found[0]
    while offset + _CENTRAL.size <= end and len(entries) < _MAX_SNIFF_ENTRIES:
        fields = _CENTRAL.unpack_from(untrusted_data, offset)
        if fields[0] != _CENTRAL_SIGNATURE:
            break
        flags, method, compressed = fields[5], fields[6], fields[10]
        name_len, extra_len, comment_len = fields[12], fields[13], fields[14]
        local_offset = fields[18]
        raw_name = untrusted_data[offset + _CENTRAL.size : offset + _CENTRAL.size + name_len]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        entries.setdefault(name, (method, compressed, base + local_offset))
        offset += _CENTRAL.size + name_len + extra_len + comment_len
    return entries


def _read_small_member(untrusted_data: bytes, method: int, compressed: int, local: int) -> bytes:
    if local < 0 or local + _LOCAL.size > len(untrusted_data):
        return b""
    fields = _LOCAL.unpack_from(untrusted_data, local)
    if fields[0] != _LOCAL_SIGNATURE:
        return b""
    data_start = local + _LOCAL.size + fields[10] + fields[11]
    # Read at most a few hundred bytes whatever the sizes claim (a decompression bomb named
    # "mimetype" yields 256 bytes here, not gigabytes).
    raw = untrusted_data[data_start : data_start + min(compressed, 4 * _MAX_MIMETYPE_BYTES)]
    if method == 0:
        return raw[:_MAX_MIMETYPE_BYTES]
    if method == 8:
        try:
            return zlib.decompressobj(-15).decompress(raw, _MAX_MIMETYPE_BYTES)
        except zlib.error:
            return b""
    return b""


def _is_empty_zip(untrusted_data: bytes) -> bool:
    # A zip of no member is its end record alone (and its comment).
    if not untrusted_data.startswith(_EOCD_SIGNATURE) or len(untrusted_data) < _EOCD.size:
        return False
    fields = _EOCD.unpack_from(untrusted_data, 0)
    entries, cd_size, comment_length = int(fields[4]), int(fields[5]), int(fields[7])
    return entries == 0 and cd_size == 0 and _EOCD.size + comment_length == len(untrusted_data)


def has_member(untrusted_data: bytes, name: str) -> bool:
    """Whether the zip's central directory names this member (nothing is inflated)."""
    entries = _zip_entries(untrusted_data)
    return entries is not None and name in entries


def _sniff_zip(untrusted_data: bytes) -> FileType:
    """Look at member names only; nothing is decompressed but ODF's tiny ``mimetype``."""
    entries = _zip_entries(untrusted_data)
    if entries is None:
        return UNKNOWN
    if "mimetype" in entries:
        method, _, local = entries["mimetype"]
        media = _read_small_member(untrusted_data, *entries["mimetype"])
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


# --- plain text ----------------------------------------------------------------------------

# What sniffing looks at; the scrubber checks the whole file in its worker.
_TEXT_WINDOW = 64 * 1024
# C0 controls a text file may hold: tab, line feed, vertical tab, form feed, carriage
# return, and the DOS end-of-file mark. Anything else below 0x20 (NUL first) is binary.
_TEXT_CONTROLS = b"\t\n\x0b\x0c\r\x1a"
_BINARY_BYTES = bytes(b for b in range(0x20) if b not in _TEXT_CONTROLS) + b"\x7f"
_BINARY_BYTE = re.compile(b"[" + re.escape(_BINARY_BYTES) + b"]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Formats made of text that do hide things from their reader (HTML and XML comments and
# metadata, RTF info groups, PostScript comments): never "plain text".
_MARKUP_STARTS = ("<", "{\\rtf", "%!", "\\documentclass")
# A PDF's header past the first KiB is no PDF for most readers, but some still find it.
_MARKUP_INSIDE = (
    "<html", "<svg", "<?xml", "<!doctype", "<head", "<body", "<meta", "<script", "%pdf-"
)  # fmt: skip


def is_plain_text(untrusted_data: bytes, *, whole: bool = False) -> bool:
    """Whether these bytes are text with no markup: ASCII, UTF-8, a Latin code page, UTF-16.

    `whole`: the bytes are the whole file, not its first window (which may cut a UTF-16
    character in two). An odd number of bytes in a whole UTF-16 file is a cut-off file.
    """
    if not untrusted_data:
        return False
    text: str
    if untrusted_data[:2] in _UTF16_BOMS:
        if whole and len(untrusted_data) % 2:
            return False
        body = untrusted_data if whole else untrusted_data[: len(untrusted_data) // 4 * 4 - 4]
        try:
            text = (body or untrusted_data[:2]).decode("utf-16")
        except UnicodeDecodeError:
            return False
        if any(ord(c) < 0x20 and c not in "\t\n\x0b\x0c\r\x1a" for c in text):
            return False
        if any(0xFDD0 <= ord(c) <= 0xFDEF or ord(c) in (0xFFFE, 0xFFFF) for c in text):
            return False
    else:
        if untrusted_data.translate(None, _BINARY_BYTES) != untrusted_data:
            return False
        # Any 8-bit code page decodes; only markup matters below.
        text = untrusted_data.decode("latin-1")
    start = text.lstrip("\ufeff\xef\xbb\xbf \t\r\n\x0b\x0c").lower()
    if start.startswith(_MARKUP_STARTS):
        return False
    lowered = text.lower()
    return not any(marker in lowered for marker in _MARKUP_INSIDE)


# --- SVG -----------------------------------------------------------------------------------

SVG_NS = "http://www.w3.org/2000/svg"
#: The root's start tag must begin within this many bytes (after the XML declaration,
#: comments, processing instructions and a doctype: editors write all of them first).
SVG_WINDOW = 64 * 1024
_XML_PROLOG_ITEM = re.compile(
    r"\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE\s[^\[>]*(?:\[.*?\]\s*)?>", re.S | re.I
)
_START_TAG = re.compile(r"<(?:([A-Za-z_][\w.-]*):)?svg(?=[\s/>])([^<>]*)>", re.S)
_NS_DECLARATION = re.compile(r"""\sxmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _decode_head(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        body = head[: len(head) // 2 * 2]
        return body.decode("utf-16", "ignore")
    # Cut anywhere, so a character may be cut in two at the end: ignored.
    return head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "ignore")


_HTML_START = re.compile(
    r"\ufeff?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])",
    re.IGNORECASE | re.DOTALL,
)


def _is_svg(head: bytes) -> bool:
    """An XML document whose root element is {http://www.w3.org/2000/svg}svg (with or without
    an XML declaration): judged from the root's start tag, which must declare the namespace
    itself (nothing outside the root can)."""
    text = _decode_head(head)
    position = 0
    while True:
        item = _XML_PROLOG_ITEM.match(text, position)
        if item is None or item.end() == position:
            break
        position = item.end()
    tag = _START_TAG.match(text, position)
    if tag is None:
        return False
    prefix = tag.group(1) or ""
    for declared in _NS_DECLARATION.finditer(tag.group(2)):
        if (declared.group(1) or "") == prefix:
            return (
                declared.group(2) if declared.group(2) is not None else declared.group(3)
            ) == SVG_NS
    return False
