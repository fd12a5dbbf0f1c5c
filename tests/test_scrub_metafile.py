"""Windows metafiles (EMF, EMF+, WMF): every hidden string goes, the drawing stays.

Fixtures are written here record by record with `struct`, every hidden field holding a
unique marker (ASCII and UTF-16). Oracles: no marker left anywhere in the output; an
independent record walker (written here, not the scrubber's) finds a well-formed file whose
size and count fields match; the drawing records are byte-identical and in order; Pillow
reads the same picture size; libwmf's ``wmf2svg`` converts the cleaned WMF; a docx holding
an EMF comes back cleaned as a whole.
"""

from __future__ import annotations

import io
import posixpath
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin
from support.fixtures_office import make_docx, make_xlsx, replace_member

from scrubbers import (
    CorruptFileError,
    LimitExceededError,
    ScrubError,
    UnsupportedTypeError,
    _metafile_records,
    scrub,
    sniff,
)
from scrubbers._core import clean
from scrubbers._types import DEFAULT_LIMITS
from scrubbers.metafile import MetafileScrubber
from scrubbers.ooxml import OoxmlScrubber

MARK = "7f3a"
SCRUBBER = MetafileScrubber()


def marker(name: str) -> str:
    return f"Marker-{name}-{MARK}"


def markers_left(data: bytes) -> bool:
    return MARK.encode() in data or MARK.encode("utf-16-le") in data


def pad4(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


# --- EMF fixtures ---------------------------------------------------------------------------


def emr(rtype: int, payload: bytes) -> bytes:
    payload = pad4(payload)
    return struct.pack("<II", rtype, 8 + len(payload)) + payload


def emf_header(description: str | None, *, header_slack: bytes = b"") -> bytes:
    """EMR_HEADER with both extensions (108 bytes), then the description."""
    desc = description.encode("utf-16-le") if description is not None else b""
    n_desc = len(desc) // 2
    header_slack = pad4(header_slack)
    size = 108 + len(pad4(desc)) + len(header_slack)
    fixed = struct.pack(
        "<II4i4i4sIIIHHIIIiiii",
        1,
        size,
        0,
        0,
        99,
        49,  # bounds, device units
        0,
        0,
        2645,
        1322,  # frame, 0.01 mm
        b" EMF",
        0x10000,
        0,  # nBytes, set by make_emf
        0,  # nRecords, set by make_emf
        3,  # handles
        0,
        n_desc,
        108 if n_desc else 0,
        0,
        1920,
        1080,
        508,
        285,
    )
    fixed += struct.pack("<III", 0, 0, 0) + struct.pack("<II", 508000, 285000)
    assert len(fixed) == 108
    return fixed + pad4(desc) + header_slack


def make_emf(
    records: list[bytes], *, description: str | None = None, header_slack: bytes = b""
) -> bytes:
    header = bytearray(emf_header(description, header_slack=header_slack))
    eof = emr(14, struct.pack("<III", 0, 16, 20))
    body = b"".join(records) + eof
    struct.pack_into("<II", header, 48, len(header) + len(body), len(records) + 2)
    return bytes(header) + body


def comment(data: bytes) -> bytes:
    return emr(70, struct.pack("<I", len(data)) + data)


def plus(rtype: int, flags: int, data: bytes) -> bytes:
    data = pad4(data)
    return struct.pack("<HHII", rtype, flags, 12 + len(data), len(data)) + data


def plus_comment(*records: bytes) -> bytes:
    return comment(b"EMF+" + b"".join(records))


def plus_header(*, dual: bool) -> bytes:
    return plus(0x4001, 1 if dual else 0, struct.pack("<IIII", 0xDBC01002, 1, 96, 96))


def plus_image(embedded: bytes, object_id: int = 0) -> bytes:
    # EmfPlusObject (image): version, type bitmap; width, height, stride, format, compressed.
    data = struct.pack("<II", 0xDBC01002, 1) + struct.pack("<IIIII", 8, 8, 0, 0x0026200A, 1)
    return plus(0x4008, (5 << 8) | object_id, data + embedded)


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", marker("PngAuthor"))
    sink = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(sink, "PNG", pnginfo=info)
    return sink.getvalue()


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x013B] = marker("JpegArtist")
    sink = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 30, 200)).save(
        sink, "JPEG", exif=exif.tobytes(), comment=marker("JpegComment").encode()
    )
    return sink.getvalue()


def font_record(face: str, junk: bytes) -> bytes:
    # EMR_EXTCREATEFONTINDIRECTW with a plain LOGFONTW: the face name field is 32 UTF-16
    # characters; writers leave whatever was in memory after the terminating NUL.
    logfont = struct.pack("<iiiii8B", -16, 0, 0, 0, 400, 0, 0, 0, 1, 0, 0, 0, 0)
    name = (face.encode("utf-16-le") + b"\x00\x00" + junk).ljust(64, b"\x00")[:64]
    return emr(82, struct.pack("<I", 1) + logfont + name)


def text_record(text: str) -> bytes:
    # EMR_EXTTEXTOUTW: bounds, graphics mode, scales, then an EMRTEXT whose string follows.
    chars = text.encode("utf-16-le")
    off_string = 8 + 16 + 4 + 8 + 40
    emrtext = struct.pack("<iiIIIiiiiI", 10, 10, len(text), off_string, 0, 0, 0, 99, 49, 0)
    return emr(84, struct.pack("<4iIff", 0, 0, 99, 49, 1, 1.0, 1.0) + emrtext + chars)


def v5_dib(*, profile: bytes = b"", linked: bool = False, compression: int = 0) -> bytes:
    """A BITMAPV5HEADER for a 2x2 32-bit bitmap, with an optional profile after it."""
    cs_type = 0x4C494E4B if linked else (0x4D424544 if profile else 0x73524742)
    header = struct.pack(
        "<IiiHHIIiiII",
        124,
        2,
        2,
        1,
        32,
        compression,
        16,
        2835,
        2835,
        0,
        0,
    )
    header += struct.pack("<IIII", 0, 0, 0, 0)  # masks
    header += struct.pack("<I", cs_type) + bytes(36) + struct.pack("<III", 0, 0, 0)
    header += struct.pack("<IIII", 4, 124 if profile else 0, len(profile), 0)
    assert len(header) == 124
    return header + profile


def stretchdibits(dib_info: bytes, bits: bytes) -> bytes:
    # EMR_STRETCHDIBITS: the bitmap info and bits follow the 80-byte fixed part.
    off_bmi = 80
    off_bits = off_bmi + len(pad4(dib_info))
    fixed = struct.pack(
        "<4iiiiiiiIIIIIIii",
        0,
        0,
        1,
        1,
        0,
        0,
        0,
        0,
        2,
        2,
        off_bmi,
        len(dib_info),
        off_bits,
        len(bits),
        0,
        0x00CC0020,
        2,
        2,
    )
    return emr(81, fixed + pad4(dib_info) + bits)


DRAWING = [
    emr(17, struct.pack("<I", 1)),  # SETMAPMODE
    emr(39, struct.pack("<IIII", 1, 0, 0x0000FF, 0)),  # CREATEBRUSHINDIRECT
    emr(37, struct.pack("<I", 1)),  # SELECTOBJECT
    emr(43, struct.pack("<4i", 5, 5, 60, 40)),  # RECTANGLE
    text_record("Visible label"),
    emr(87, struct.pack("<4iI4h", 0, 0, 9, 9, 2, 0, 0, 9, 9)),  # POLYLINE16
]


def dirty_emf() -> tuple[bytes, list[bytes]]:
    """(a kitchen-sink EMF, the drawing records its cleaned form must hold, in order)."""
    font_dirty = font_record("Arial", marker("FontJunk").encode("utf-16-le"))
    font_clean = font_record("Arial", b"")
    plain_dib = stretchdibits(v5_dib(), b"\x10" * 16)
    profile = marker("EmbeddedProfile").encode() + b"\x00"
    records = [
        DRAWING[0],
        comment(b"PRIV" + marker("PrivateComment").encode()),
        # GDI public comment: BEGINGROUP with a description string, then ENDGROUP.
        comment(
            b"GDIC"
            + struct.pack("<I4iI", 2, 0, 0, 9, 9, 10)
            + marker("Group").encode("utf-16-le")
            + b"\x00\x00"
        ),
        plus_comment(
            plus_header(dual=True),
            plus(0x4003, 0, marker("PlusComment").encode()),
            plus_image(png_with_text(), 0),
            plus_image(jpeg_with_exif(), 1),
            plus(0x401A, 0, struct.pack("<IIffff", 0, 2, 0.0, 0.0, 8.0, 8.0)),  # DrawImage
            plus(0x4888, 0, marker("PlusUnknown").encode()),
            plus(0x4002, 0, b""),  # EndOfFile
        ),
        DRAWING[1],
        font_dirty,
        DRAWING[2],
        emr(106, struct.pack("<II", 0x1013, 40) + f"%%Creator: {marker('Escape')}".encode()),
        emr(113, struct.pack("<III", 0, 40, 0) + marker("IcmProfile").encode("utf-16-le")),
        DRAWING[3],
        comment(b"GDIC" + struct.pack("<I", 3)),  # ENDGROUP
        emr(200, marker("UnknownRecord").encode()),
        stretchdibits(v5_dib(profile=profile), b"\x01" * 16),
        plain_dib,
        DRAWING[4],
        DRAWING[5],
    ]
    # The profile is blanked in place: type sRGB, no offset or size, its bytes zeroed.
    cleaned_dib = stretchdibits(v5_dib() + bytes(len(profile)), b"\x01" * 16)
    data = make_emf(
        records,
        description=f"{marker('App')}\x00{marker('Title')}\x00\x00",
        header_slack=marker("HeaderSlack").encode(),
    )
    data += marker("Trailing").encode()
    expected = [
        DRAWING[0],
        DRAWING[1],
        font_clean,
        DRAWING[2],
        DRAWING[3],
        cleaned_dib,
        plain_dib,
        DRAWING[4],
        DRAWING[5],
    ]
    return data, expected


def walk_emf(data: bytes) -> list[tuple[int, bytes]]:
    """An independent strict walk: every record in order; asserts the file is consistent."""
    assert struct.unpack_from("<I", data, 0)[0] == 1
    assert data[40:44] == b" EMF"
    records: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data):
        rtype, size = struct.unpack_from("<II", data, offset)
        assert size >= 8 and size % 4 == 0 and offset + size <= len(data)
        records.append((rtype, data[offset : offset + size]))
        offset += size
        if rtype == 14:
            break
    assert offset == len(data), "bytes after the EOF record"
    n_bytes, n_records = struct.unpack_from("<II", data, 48)
    assert n_bytes == len(data)
    assert n_records == len(records)
    n_desc, off_desc = struct.unpack_from("<II", data, 60)
    assert (n_desc, off_desc) == (0, 0)
    return records


def drawing_records(data: bytes) -> list[bytes]:
    return [raw for rtype, raw in walk_emf(data) if rtype not in (1, 14, 70)]


def plus_records(data: bytes) -> list[tuple[int, int, bytes]]:
    out = []
    for rtype, raw in walk_emf(data):
        if rtype != 70 or raw[12:16] != b"EMF+":
            continue
        data_size = struct.unpack_from("<I", raw, 8)[0]
        body = raw[16 : 12 + data_size]
        position = 0
        while position < len(body):
            ptype, flags, size, _ = struct.unpack_from("<HHII", body, position)
            assert size >= 12 and size % 4 == 0 and position + size <= len(body)
            out.append((ptype, flags, body[position : position + size]))
            position += size
    return out


# --- EMF tests ------------------------------------------------------------------------------


def test_emf_is_sniffed_and_registered() -> None:
    data, _ = dirty_emf()
    assert sniff(data).name == "emf"
    assert sniff(data).extension == ".emf"


def test_emf_every_hidden_field_removed_drawing_kept() -> None:
    data, expected = dirty_emf()
    assert markers_left(data)
    found = set(SCRUBBER.get_meta(data, DEFAULT_LIMITS))
    assert found == {
        "emf:description",
        "emf:header-slack",
        "emf:comment",
        "emf:escape",
        "emf:color-profile",
        "emf:unknown-record",
        "emf:trailing-data",
        "emf:font-name-slack",
        "emfplus:comment",
        "emfplus:unknown-record",
        "emfplus:image-metadata",
    }
    report = scrub(data)
    assert report.cleaned, report.reason
    assert report.file_type.name == "emf"
    assert set(report.removed) == found
    out = report.data
    assert not markers_left(out)
    assert drawing_records(out) == expected
    assert SCRUBBER.get_meta(out, DEFAULT_LIMITS) == []
    # Idempotent: a second pass changes nothing.
    assert SCRUBBER.remove_all(out, DEFAULT_LIMITS).data == out


def test_emfplus_images_cleaned_and_still_decodable() -> None:
    data, _ = dirty_emf()
    out = scrub(data).data
    records = plus_records(out)
    kinds = [ptype for ptype, _, _ in records]
    # Header, two image objects, DrawImage, EndOfFile: the comment and unknown record gone.
    assert kinds == [0x4001, 0x4008, 0x4008, 0x401A, 0x4002]
    for (_, flags, raw), fmt in zip(records[1:3], ("PNG", "JPEG"), strict=True):
        assert (flags >> 8) & 0x7F == 5
        size, data_size = struct.unpack_from("<II", raw, 4)
        assert size == len(raw) and data_size == size - 12
        embedded = raw[12 + 28 :]
        with Image.open(io.BytesIO(embedded)) as image:
            assert image.format == fmt
            assert image.size == (8, 8)
            image.load()
    png = records[1][2][40:]
    assert b"tEXt" not in png
    jpeg = records[2][2][40:]
    assert b"Exif" not in jpeg


def test_emf_description_only_header_rebuilt() -> None:
    data = make_emf(DRAWING, description=f"Contoso\x00{marker('Title')}\x00\x00")
    assert SCRUBBER.get_meta(data, DEFAULT_LIMITS) == ["emf:description"]
    out = SCRUBBER.remove_all(data, DEFAULT_LIMITS).data
    assert not markers_left(out)
    records = walk_emf(out)
    assert struct.unpack_from("<I", out, 4)[0] == 108  # fixed part with both extensions
    assert [raw for _, raw in records[1:-1]] == DRAWING
    # The header's picture fields are untouched.
    assert out[8:48] == data[8:48] and out[72:108] == data[72:108]


def test_emf_pixel_format_kept() -> None:
    pfd = struct.pack("<HHI", 40, 1, 0x25) + bytes(32)
    header = bytearray(emf_header(None) + pfd + marker("AfterPfd").encode("utf-16-le"))
    struct.pack_into("<I", header, 4, len(header))
    struct.pack_into("<II", header, 88, len(pfd), 108)
    body = b"".join(DRAWING) + emr(14, struct.pack("<III", 0, 16, 20))
    struct.pack_into("<II", header, 48, len(header) + len(body), len(DRAWING) + 2)
    data = bytes(header) + body
    assert SCRUBBER.get_meta(data, DEFAULT_LIMITS) == ["emf:header-slack"]
    out = SCRUBBER.remove_all(data, DEFAULT_LIMITS).data
    walk_emf(out)
    assert not markers_left(out)
    assert struct.unpack_from("<II", out, 88) == (40, 108)
    assert out[108:148] == pfd


def test_emf_pixel_format_kept_to_its_structure() -> None:
    # cbPixelFormat larger than the 40-byte descriptor: the rest is no field (a canary).
    pfd = struct.pack("<HHI", 40, 1, 0x25) + bytes(32)
    extra = marker("PfdExtra").encode("utf-16-le")
    header = bytearray(emf_header(None) + pfd + extra)
    struct.pack_into("<I", header, 4, len(header))
    struct.pack_into("<II", header, 88, len(pfd) + len(extra), 108)
    body = b"".join(DRAWING) + emr(14, struct.pack("<III", 0, 16, 20))
    struct.pack_into("<II", header, 48, len(header) + len(body), len(DRAWING) + 2)
    data = bytes(header) + body
    assert SCRUBBER.get_meta(data, DEFAULT_LIMITS) == ["emf:header-slack"]
    out = SCRUBBER.remove_all(data, DEFAULT_LIMITS).data
    walk_emf(out)
    assert not markers_left(out)
    assert struct.unpack_from("<II", out, 88) == (40, 108)
    assert out[108:148] == pfd
    assert SCRUBBER.get_meta(out, DEFAULT_LIMITS) == []


def test_clean_emf_is_left_byte_identical() -> None:
    data = make_emf(DRAWING)
    assert SCRUBBER.get_meta(data, DEFAULT_LIMITS) == []
    assert SCRUBBER.remove_all(data, DEFAULT_LIMITS).data == data


def test_pillow_reads_the_same_picture_size() -> None:
    data, _ = dirty_emf()
    out = scrub(data).data
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(out)) as after:
        assert after.format == "WMF"  # Pillow's plugin reads EMF headers too
        assert after.size == before.size
        assert after.info.get("dpi") == before.info.get("dpi")


def test_emf_color_space_file_and_profile_blanked() -> None:
    logcs = struct.pack("<4sIIII", b"PSOC", 0x400, 588, 0x4C494E4B, 4) + bytes(36 + 12)
    name = marker("ProfilePath").encode("utf-16-le").ljust(520, b"\x00")
    profile = marker("IccDescription").encode()
    record = emr(122, struct.pack("<I", 1) + logcs + name + struct.pack("<II", 0, len(profile)))
    # The profile follows cbData; emr() padded the name only, so rebuild with the data.
    record = emr(
        122,
        struct.pack("<I", 1) + logcs + name + struct.pack("<II", 0, len(profile)) + profile,
    )
    data = make_emf([*DRAWING[:3], record, DRAWING[3]])
    assert SCRUBBER.get_meta(data, DEFAULT_LIMITS) == ["emf:color-profile"]
    out = SCRUBBER.remove_all(data, DEFAULT_LIMITS).data
    assert not markers_left(out)
    records = walk_emf(out)
    rebuilt = next(raw for rtype, raw in records if rtype == 122)
    assert len(rebuilt) == 608
    assert rebuilt[12:80] == record[12:80]  # the colour space itself is kept


def test_emfplus_only_file_with_uncleanable_image_is_not_cleaned() -> None:
    unsupported = plus_image(b"\x00\x00\x01\x00" + bytes(60))  # an ICO: no cleaner
    data = make_emf([plus_comment(plus_header(dual=False), unsupported, plus(0x4002, 0, b""))])
    with pytest.raises(UnsupportedTypeError):
        SCRUBBER.remove_all(data, DEFAULT_LIMITS)
    report = scrub(data)
    assert not report.cleaned
    assert report.data == data  # kept as received


def test_dual_file_drops_emfplus_layer_it_cannot_clean() -> None:
    unsupported = plus_image(b"\x00\x00\x01\x00" + marker("IcoData").encode() + bytes(40))
    continued = plus(0x4008, 0x8000 | (5 << 8) | 1, struct.pack("<I", 99999) + bytes(64))
    for bad in (unsupported, continued):
        data = make_emf(
            [
                plus_comment(plus_header(dual=True), plus(0x4002, 0, b"")),
                *DRAWING[:3],
                plus_comment(bad),
                *DRAWING[3:],
            ]
        )
        assert "emfplus:records" in SCRUBBER.get_meta(data, DEFAULT_LIMITS)
        cleaned = SCRUBBER.remove_all(data, DEFAULT_LIMITS)
        assert cleaned.note is not None and "EMF+ layer dropped" in cleaned.note
        assert not markers_left(cleaned.data)
        assert plus_records(cleaned.data) == []
        assert drawing_records(cleaned.data) == DRAWING
        assert scrub(data).cleaned


def test_emfplus_texture_brush_is_refused_in_plus_only_files() -> None:
    brush = plus(0x4008, (1 << 8), struct.pack("<IIII", 0xDBC01002, 2, 0, 0) + bytes(32))
    data = make_emf([plus_comment(plus_header(dual=False), brush, plus(0x4002, 0, b""))])
    with pytest.raises(UnsupportedTypeError):
        SCRUBBER.get_meta(data, DEFAULT_LIMITS)
    # A solid brush is fine.
    solid = plus(0x4008, (1 << 8), struct.pack("<III", 0xDBC01002, 0, 0xFF00FF00))
    data = make_emf([plus_comment(plus_header(dual=False), solid, plus(0x4002, 0, b""))])
    assert SCRUBBER.get_meta(data, DEFAULT_LIMITS) == []


def test_emfplus_metafile_image_cleaned_recursively() -> None:
    inner = make_emf(DRAWING, description=marker("InnerDescription"))
    image = struct.pack("<II", 0xDBC01002, 2) + struct.pack("<II", 3, len(inner)) + inner
    data = make_emf([plus_comment(plus_header(dual=False), plus(0x4008, 5 << 8, image))])
    assert SCRUBBER.get_meta(data, DEFAULT_LIMITS) == ["emfplus:image-metadata"]
    out = scrub(data)
    assert out.cleaned, out.reason
    assert not markers_left(out.data)
    raw = plus_records(out.data)[1][2]
    inner_size = struct.unpack_from("<I", raw, 12 + 12)[0]
    inner_out = raw[12 + 16 : 12 + 16 + inner_size]
    assert drawing_records(inner_out) == DRAWING


def test_dib_holding_a_jpeg_is_refused() -> None:
    record = stretchdibits(v5_dib(compression=4), jpeg_with_exif())
    data = make_emf([record])
    with pytest.raises(UnsupportedTypeError):
        SCRUBBER.remove_all(data, DEFAULT_LIMITS)


# --- hostile EMF ----------------------------------------------------------------------------


def _with_record(raw: bytes) -> bytes:
    data = make_emf(DRAWING)
    eof = len(data) - 20
    return data[:eof] + raw + data[eof:]


HOSTILE_EMF = {
    "truncated": lambda: make_emf(DRAWING)[:-6],
    "no eof": lambda: make_emf(DRAWING)[:-20],
    "zero-size record (would loop)": lambda: _with_record(struct.pack("<II", 17, 0)),
    "size under 8": lambda: _with_record(struct.pack("<II", 17, 4)),
    "misaligned size": lambda: _with_record(struct.pack("<II", 17, 10) + b"\x00\x00"),
    "record past the end": lambda: _with_record(struct.pack("<II", 17, 0x7FFFFFF0)),
    "second header": lambda: _with_record(emf_header(None)),
    "header size past the end": lambda: (
        make_emf(DRAWING)[:4] + struct.pack("<I", 1 << 30) + make_emf(DRAWING)[8:]
    ),
    "description outside the header": lambda: (
        make_emf(DRAWING)[:60] + struct.pack("<II", 50, 100) + make_emf(DRAWING)[68:]
    ),
    "comment larger than its record": lambda: _with_record(
        emr(70, struct.pack("<I", 400) + b"EMF+")
    ),
    "EMF+ record past its comment (plus-only)": lambda: _with_record(
        comment(b"EMF+" + struct.pack("<HHII", 0x4001, 0, 4000, 16) + bytes(16))
    ),
    "DIB outside its record": lambda: _with_record(
        emr(81, bytes(40) + struct.pack("<IIII", 80, 4000, 0, 0) + bytes(20))
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_EMF))
def test_hostile_emf_fails_cleanly(case: str) -> None:
    untrusted = HOSTILE_EMF[case]()
    with pytest.raises((CorruptFileError, UnsupportedTypeError)):
        SCRUBBER.remove_all(untrusted, DEFAULT_LIMITS)
    report = scrub(untrusted)
    assert not report.cleaned and report.data == untrusted


def test_record_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real bound is 2 million records; lowered here so that the test stays fast.
    monkeypatch.setattr(_metafile_records, "MAX_RECORDS", 50)
    data = make_emf([DRAWING[0]] * 60)
    with pytest.raises(LimitExceededError):
        SCRUBBER.remove_all(data, DEFAULT_LIMITS)
    assert SCRUBBER.get_meta(make_emf([DRAWING[0]] * 40), DEFAULT_LIMITS) == []


def test_many_tiny_records_are_walked_in_bounded_time() -> None:
    # 200 000 records of 12 bytes: walked as runs, no per-record copies in the output.
    data = make_emf([DRAWING[0]] * 200_000)
    out = SCRUBBER.remove_all(data, DEFAULT_LIMITS).data
    assert out == data


def test_garbage_with_emf_signature_raises_only_scrub_errors() -> None:
    base = make_emf(DRAWING, description=marker("D"))
    for cut in range(0, len(base), 7):
        for noise in (b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x08\x00\x00\x00"):
            candidate = base[:cut] + noise + base[cut + 4 :]
            try:
                SCRUBBER.remove_all(candidate, DEFAULT_LIMITS)
            except ScrubError:
                pass


@settings(max_examples=250, deadline=None)
@given(
    st.sampled_from(["emf", "wmf", "wmf-bare"]),
    st.integers(min_value=0),
    st.binary(min_size=1, max_size=8),
)
def test_mutated_metafiles_fail_cleanly_or_clean_fully(kind: str, where: int, noise: bytes) -> None:
    base: dict[str, Callable[[], tuple[bytes, list[bytes]]]] = {
        "emf": dirty_emf,
        "wmf": dirty_wmf,
        "wmf-bare": lambda: dirty_wmf(placeable=False),
    }
    data = base[kind]()[0]
    cut = where % len(data)
    candidate = data[:cut] + noise + data[cut + len(noise) :]
    try:
        out = SCRUBBER.remove_all(candidate, DEFAULT_LIMITS).data
    except ScrubError:
        return
    # Whatever survived the mutation: the output is well-formed, and clean on re-reading.
    if sniff(out).name == "emf":
        walk_emf(out)
    else:
        walk_wmf(out)
    assert SCRUBBER.get_meta(out, DEFAULT_LIMITS) == []
    assert SCRUBBER.remove_all(out, DEFAULT_LIMITS).data == out


# --- WMF ------------------------------------------------------------------------------------


def wmr(function: int, params: bytes) -> bytes:
    params = params + b"\x00" * (len(params) % 2)
    return struct.pack("<IH", 3 + len(params) // 2, function) + params


def make_wmf(records: list[bytes], *, placeable: bool = True, trailing: bytes = b"") -> bytes:
    body = b"".join(records) + wmr(0x0000, b"")
    largest = max(struct.unpack_from("<I", r, 0)[0] for r in [*records, wmr(0, b"")])
    header = struct.pack("<HHHIHIH", 1, 9, 0x0300, (18 + len(body)) // 2, 2, largest, 0)
    out = header + body
    if placeable:
        head = struct.pack("<IH4hHI", 0x9AC6CDD7, 0, 0, 0, 1000, 500, 1440, 0)
        checksum = 0
        for word in struct.unpack("<10H", head):
            checksum ^= word
        out = head + struct.pack("<H", checksum) + out
    return out + trailing


WMF_DRAWING = [
    wmr(0x020B, struct.pack("<hh", 0, 0)),  # SETWINDOWORG
    wmr(0x020C, struct.pack("<hh", 500, 1000)),  # SETWINDOWEXT
    wmr(0x02FC, struct.pack("<HIH", 0, 0x00FF0000, 0)),  # CREATEBRUSHINDIRECT
    wmr(0x012D, struct.pack("<H", 0)),  # SELECTOBJECT
    wmr(0x041B, struct.pack("<hhhh", 400, 900, 100, 100)),  # RECTANGLE
    wmr(0x0521, struct.pack("<H", 7) + b"Visible" + b"\x00" + struct.pack("<hh", 200, 200)),
]


def wmf_font(face: bytes) -> bytes:
    return wmr(0x02FB, struct.pack("<5h8B", -40, 0, 0, 0, 400, 0, 0, 0, 0, 0, 0, 0, 0) + face)


def wmf_escape(function: int, data: bytes) -> bytes:
    return wmr(0x0626, struct.pack("<HH", function, len(data)) + data)


def dirty_wmf(*, placeable: bool = True) -> tuple[bytes, list[bytes]]:
    face_dirty = (b"Arial\x00" + marker("FaceJunk").encode()).ljust(32, b"\x00")[:32]
    face_clean = b"Arial".ljust(32, b"\x00")
    stretch = struct.pack("<IH8h", 0x00CC0020, 0, 2, 2, 0, 0, 2, 2, 10, 10)
    dirty_dib = wmr(
        0x0F43,
        stretch + v5_dib(profile=marker("WmfProfile").encode() + b"\x00") + b"\x02" * 16,
    )
    clean_dib = wmr(
        0x0F43, stretch + v5_dib() + bytes(len(marker("WmfProfile")) + 1) + b"\x02" * 16
    )
    records = [
        WMF_DRAWING[0],
        wmf_escape(0x000F, marker("MfComment").encode()),
        WMF_DRAWING[1],
        wmf_escape(0x1013, b"%%Creator: " + marker("PostScript").encode()),
        WMF_DRAWING[2],
        wmf_font(face_dirty),
        WMF_DRAWING[3],
        wmr(0x0999, marker("Unknown").encode()),
        dirty_dib,
        WMF_DRAWING[4],
        WMF_DRAWING[5],
    ]
    expected = [
        WMF_DRAWING[0],
        WMF_DRAWING[1],
        WMF_DRAWING[2],
        wmf_font(face_clean),
        WMF_DRAWING[3],
        clean_dib,
        WMF_DRAWING[4],
        WMF_DRAWING[5],
    ]
    data = make_wmf(records, placeable=placeable, trailing=marker("Trailing").encode())
    return data, expected


def walk_wmf(data: bytes) -> list[bytes]:
    """Independent strict walk; checks the placeable checksum and the header's fields."""
    base = 0
    if data[:4] == b"\xd7\xcd\xc6\x9a":
        checksum = 0
        for word in struct.unpack_from("<10H", data):
            checksum ^= word
        assert struct.unpack_from("<H", data, 20)[0] == checksum
        assert struct.unpack_from("<HI", data, 4)[0] == 0
        assert struct.unpack_from("<I", data, 16)[0] == 0
        base = 22
    kind, header_words, version, size, _objects, largest, members = struct.unpack_from(
        "<HHHIHIH", data, base
    )
    assert kind in (1, 2) and version in (0x0100, 0x0300)
    assert (header_words, members) == (9, 0)
    records = []
    position = base + 18
    while True:
        words, function = struct.unpack_from("<IH", data, position)
        assert words >= 3 and position + 2 * words <= len(data)
        records.append(data[position : position + 2 * words])
        position += 2 * words
        if function == 0:
            break
    assert position == len(data)
    assert size == (len(data) - base) // 2
    assert largest == max(struct.unpack_from("<I", r)[0] for r in records)
    return records[:-1]


def test_wmf_sniffed_both_header_kinds() -> None:
    assert sniff(dirty_wmf()[0]).name == "wmf"
    assert sniff(dirty_wmf(placeable=False)[0]).name == "wmf"


@pytest.mark.parametrize("placeable", [True, False])
def test_wmf_every_hidden_field_removed_drawing_kept(placeable: bool) -> None:
    data, expected = dirty_wmf(placeable=placeable)
    assert markers_left(data)
    found = set(SCRUBBER.get_meta(data, DEFAULT_LIMITS))
    assert found == {
        "wmf:comment",
        "wmf:escape",
        "wmf:font-name-slack",
        "wmf:unknown-record",
        "wmf:color-profile",
        "wmf:trailing-data",
    }
    report = scrub(data)
    assert report.cleaned, report.reason
    assert report.file_type.name == "wmf"
    assert set(report.removed) == found
    assert not markers_left(report.data)
    assert walk_wmf(report.data) == expected
    assert SCRUBBER.get_meta(report.data, DEFAULT_LIMITS) == []
    if placeable:
        assert report.data[:20] == data[:20]  # key, bounding box, units per inch kept


def test_wmf_placeable_reserved_field_and_checksum() -> None:
    data = bytearray(make_wmf(WMF_DRAWING))
    struct.pack_into("<I", data, 16, 0x7F3A7F3A)  # Reserved: a writer's stray value
    assert SCRUBBER.get_meta(bytes(data), DEFAULT_LIMITS) == ["wmf:header-slack"]
    out = SCRUBBER.remove_all(bytes(data), DEFAULT_LIMITS).data
    assert walk_wmf(out) == WMF_DRAWING  # checksum recomputed over the zeroed field
    clean_wmf = make_wmf(WMF_DRAWING)
    assert SCRUBBER.remove_all(clean_wmf, DEFAULT_LIMITS).data == clean_wmf


def test_pillow_reads_the_same_wmf_size() -> None:
    data, _ = dirty_wmf()
    out = scrub(data).data
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(out)) as after:
        assert after.format == "WMF"
        assert after.size == before.size


def test_libwmf_converts_the_cleaned_wmf(tmp_path: Path) -> None:
    wmf2svg = shutil.which("wmf2svg")
    assert wmf2svg is not None, "libwmf-bin (wmf2svg) is a test dependency (scripts/dev)"
    data, _ = dirty_wmf()
    source = tmp_path / "clean.wmf"
    source.write_bytes(scrub(data).data)
    target = tmp_path / "clean.svg"
    result = subprocess.run(
        [wmf2svg, "-o", str(target), str(source)], capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    svg = target.read_text()
    assert "Visible" in svg  # the text record survived and was drawn
    assert "<rect" in svg or "<polygon" in svg or "<path" in svg
    assert MARK not in svg


HOSTILE_WMF = {
    "truncated": lambda: make_wmf(WMF_DRAWING)[:-3],
    "no eof": lambda: make_wmf(WMF_DRAWING)[:-6],
    "zero-size record": lambda: make_wmf([*WMF_DRAWING, struct.pack("<IH", 0, 0x0213)]),
    "record past the end": lambda: make_wmf([*WMF_DRAWING, struct.pack("<IH", 0xFFFFFF, 0x213)]),
    "bad version": lambda: make_wmf(WMF_DRAWING)[:26] + b"\x00\x02" + make_wmf(WMF_DRAWING)[28:],
    "short placeable": lambda: b"\xd7\xcd\xc6\x9a" + bytes(36),
    "profile outside record": lambda: make_wmf(
        [
            wmr(
                0x0F43,
                struct.pack("<IH8h", 0, 0, 2, 2, 0, 0, 2, 2, 0, 0)
                + v5_dib()[:112]
                + struct.pack("<III", 124, 5000, 0),
            )
        ]
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_WMF))
def test_hostile_wmf_fails_cleanly(case: str) -> None:
    untrusted = HOSTILE_WMF[case]()
    with pytest.raises((CorruptFileError, UnsupportedTypeError)):
        SCRUBBER.remove_all(untrusted, DEFAULT_LIMITS)
    report = scrub(untrusted)
    assert not report.cleaned and report.data == untrusted


def test_wmf_dib_brush_with_bitmap16_is_not_misread() -> None:
    # A BS_PATTERN brush holds a Bitmap16 whose first bytes would read as a huge DIB header.
    brush = wmr(0x0142, struct.pack("<HH", 3, 0) + struct.pack("<hhhhBB", 0, 8, 8, 2, 1, 1))
    data = make_wmf([brush, *WMF_DRAWING])
    assert SCRUBBER.get_meta(data, DEFAULT_LIMITS) == []
    assert SCRUBBER.remove_all(data, DEFAULT_LIMITS).data == data


# --- inside office documents ----------------------------------------------------------------


def docx_with(name: str, picture: bytes) -> bytes:
    docx = replace_member(make_docx(), f"word/media/{name}", picture)
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    )
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        old = archive.read("word/_rels/document.xml.rels").decode()
    assert old.startswith(rels)
    new = old.replace(
        "</Relationships>",
        '<Relationship Id="rId90" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships/image" Target="media/{name}"/></Relationships>',
    )
    return replace_member(docx, "word/_rels/document.xml.rels", new)


@pytest.mark.parametrize("kind", ["emf", "wmf"])
def test_docx_with_metafile_is_cleaned_whole(kind: str) -> None:
    picture = dirty_emf()[0] if kind == "emf" else dirty_wmf()[0]
    docx = docx_with(f"image9.{kind}", picture)
    found = OoxmlScrubber().get_meta(docx, DEFAULT_LIMITS)
    assert f"embedded:{kind}/{kind}:comment" in found
    report = scrub(docx)
    assert report.cleaned, report.reason
    assert f"embedded:{kind}/{kind}:comment" in report.removed
    with zipfile.ZipFile(io.BytesIO(report.data)) as archive:
        out = archive.read(f"word/media/image2.{kind}")  # after image1.jpeg
    assert sniff(out).name == kind
    assert not markers_left(out)
    assert SCRUBBER.get_meta(out, DEFAULT_LIMITS) == []


def test_docx_with_uncleanable_metafile_is_not_cleaned() -> None:
    bad = make_emf([plus_comment(plus_header(dual=False), plus_image(b"\x00\x00\x01\x00" * 8))])
    report = scrub(docx_with("image9.emf", bad))
    assert not report.cleaned


def test_exiftool_sees_nothing_in_cleaned_metafiles(tmp_path: Path) -> None:
    # ExifTool does not parse EMF/WMF (it reports an unknown type): a weak oracle, kept so
    # that the day it learns these formats, its view is checked too.
    for kind, data in (("emf", dirty_emf()[0]), ("wmf", dirty_wmf()[0])):
        path = tmp_path / f"out.{kind}"
        path.write_bytes(clean(data, DEFAULT_LIMITS)[1].data)
        result = subprocess.run(
            ["exiftool", "-a", "-G1", "-s", "-ee", str(path)], capture_output=True, text=True
        )
        assert MARK not in result.stdout
        for tag in ("Description", "Creator", "Author", "Comment"):
            assert f" {tag} " not in result.stdout


# --- macro-enabled office packages (.docm, .xlsm) -------------------------------------------

VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE compound file: the VBA project's format


def with_macros(
    package: bytes, main: str, main_type: str, macro_type: str, *, excel: bool
) -> bytes:
    """The package turned macro-enabled the way Word (Override) or Excel (Default) does it."""
    folder = posixpath.dirname(main)
    rels_name = f"{folder}/_rels/{main.rsplit('/', 1)[1]}.rels"
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        types = archive.read("[Content_Types].xml").decode()
        rels = archive.read(rels_name).decode()
    assert main_type in types
    types = types.replace(main_type, macro_type)
    if excel:
        types = types.replace(
            'Extension="bin" ContentType="application/vnd.openxmlformats-officedocument.'
            'wordprocessingml.printerSettings"',
            'Extension="bin" ContentType="application/vnd.ms-office.vbaProject"',
        )
        assert "vnd.ms-office.vbaProject" in types
    else:
        types = types.replace(
            "</Types>",
            f'<Override PartName="/{folder}/vbaProject.bin" '
            'ContentType="application/vnd.ms-office.vbaProject"/>'
            f'<Override PartName="/{folder}/vbaData.xml" '
            'ContentType="application/vnd.ms-word.vbaData+xml"/></Types>',
        )
    rels = rels.replace(
        "</Relationships>",
        f'<Relationship Id="rId99" Type="{VBA_REL}" Target="vbaProject.bin"/></Relationships>',
    )
    project = CFB + bytes(56) + f'Name="{marker("VbaProject")}" C:\\Users\\x\\'.encode()
    vba_data = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<wne:vbaSuppData xmlns:wne="http://schemas.microsoft.com/office/word/2006/wordml">'
        f'<wne:mcds><wne:mcd wne:macroName="{marker("Macro")}"/></wne:mcds></wne:vbaSuppData>'
    )
    vba_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.microsoft.com/office/2006/relationships/'
        'wordVbaData" Target="vbaData.xml"/></Relationships>'
    )
    for name, content in (
        ("[Content_Types].xml", types),
        (rels_name, rels),
        (f"{folder}/vbaProject.bin", project),
        (f"{folder}/vbaData.xml", vba_data),
        (f"{folder}/_rels/vbaProject.bin.rels", vba_rels),
    ):
        package = replace_member(package, name, content)
    return package


OFD = "application/vnd.openxmlformats-officedocument"
MACRO_CASES: dict[str, tuple[Callable[[], bytes], str, str, str, bool]] = {
    "docm": (
        make_docx,
        "word/document.xml",
        f"{OFD}.wordprocessingml.document.main+xml",
        "application/vnd.ms-word.document.macroEnabled.main+xml",
        False,
    ),
    "xlsm": (
        make_xlsx,
        "xl/workbook.xml",
        f"{OFD}.spreadsheetml.sheet.main+xml",
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
        True,
    ),
}


@pytest.mark.parametrize("kind", sorted(MACRO_CASES))
def test_macros_removed_and_content_type_made_macro_free(kind: str) -> None:
    make, main, free_type, macro_type, excel = MACRO_CASES[kind]
    untrusted = with_macros(make(), main, free_type, macro_type, excel=excel)
    assert "ooxml:macros" in OoxmlScrubber().get_meta(untrusted, DEFAULT_LIMITS)
    report = scrub(untrusted)
    assert report.cleaned, report.reason
    assert "ooxml:macros" in report.removed
    with zipfile.ZipFile(io.BytesIO(report.data)) as archive:
        names = archive.namelist()
        types = archive.read("[Content_Types].xml").decode()
        main_rels = archive.read(f"{posixpath.dirname(main)}/_rels/{main.rsplit('/', 1)[1]}.rels")
        contents = [archive.read(name) for name in names]
    assert not any(name.casefold().startswith(posixpath.dirname(main) + "/vba") for name in names)
    assert not any("vbaProject.bin.rels" in name for name in names)
    assert not any(MARK.encode() in content for content in contents)
    assert b"vbaProject" not in main_rels
    assert "macroEnabled" not in types and f'ContentType="{free_type}"' in types
    assert "/vbaProject.bin" not in types and "/vbaData.xml" not in types
    assert OoxmlScrubber().get_meta(report.data, DEFAULT_LIMITS) == []
