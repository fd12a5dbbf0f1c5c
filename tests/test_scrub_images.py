"""Images: JPEG (lossless marker rewrite), PNG/GIF/WebP/TIFF/BMP (structure rewrite), HEIF
(to lossless PNG). ExifTool is the outside oracle; Pillow and pillow-heif check the pixels."""

from __future__ import annotations

import io
import os
import subprocess
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, ImageOps, ImageSequence, TiffImagePlugin
from support import fixtures_images as fx

from scrubbers import (
    DEFAULT_LIMITS,
    CorruptFileError,
    LimitExceededError,
    ScrubError,
    scrub,
    scrub_sandboxed,
    sniff,
)
from scrubbers._exif import ifd_entries
from scrubbers._image_common import zlib_stream_end
from scrubbers._jpeg_segments import canonical_orientation_exif, strip_jpeg
from scrubbers._registry import scrubber_for

SHARED = Path(
    os.environ.get("LEAKDROP_SHARED", Path(__file__).resolve().parents[1].parent / "shared")
)
CORPUS = SHARED / "corpus"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp", ".heic")


def frames(data: bytes) -> list[tuple[object, ...]]:
    """Everything Pillow decodes: mode, size, pixels, palette, per-frame duration."""
    with Image.open(io.BytesIO(data)) as image:
        out: list[tuple[object, ...]] = []
        # A JPEG's extra MPF images (which cleaning removes) are not the picture itself.
        first_only = image.format in ("JPEG", "MPO")
        for frame in [image] if first_only else ImageSequence.Iterator(image):
            palette = frame.getpalette() if frame.mode in ("P", "PA") else None
            out.append(
                (frame.mode, frame.size, frame.tobytes(), palette, frame.info.get("duration"))
            )
        return out


def check_clean(tmp_path: Path, data: bytes, name: str = "out") -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert fx.leftovers(path) == []
    assert fx.SECRET.encode() not in data


# --- table: per format, the fixture and the fields that must be reported and gone ----------

CASES: list[tuple[str, Callable[[Path], bytes], set[str]]] = [
    (
        "jpeg",
        lambda tmp: fx.dirty_jpeg(tmp),
        {"exif:GPS", "exif:Make", "exif:Model", "exif:SerialNumber", "exif:Artist",
         "exif:Thumbnail", "xmp", "iptc", "icc:profile", "jpeg:COM", "jpeg:MPF",
         "jpeg:JUMBF", "jpeg:trailing-data"},
    ),
    (
        "jpeg-progressive",
        lambda tmp: fx.dirty_jpeg(tmp, progressive=True, orientation=3),
        {"exif:GPS", "exif:Make", "xmp", "iptc", "jpeg:COM", "jpeg:trailing-data"},
    ),
    ("jpeg-odd", lambda tmp: fx.odd_jpeg(), {"jpeg:COM", "jpeg:extraneous-bytes"}),
    (
        "png-rgb",
        lambda tmp: fx.dirty_png("RGB"),
        {"png:tEXt", "png:zTXt", "png:iTXt", "png:tIME", "png:prVt", "icc:profile",
         "exif:GPS", "exif:Make", "png:trailing-data"},
    ),
    ("png-rgba", lambda tmp: fx.dirty_png("RGBA"), {"png:tEXt", "icc:profile", "exif:GPS"}),
    ("png-palette", lambda tmp: fx.dirty_png("P"), {"png:tEXt", "icc:profile"}),
    ("png-16bit", lambda tmp: fx.dirty_png("I;16"), {"png:tEXt", "icc:profile"}),
    ("png-1bit", lambda tmp: fx.dirty_png("1"), {"png:tEXt", "exif:Artist"}),
    ("apng", lambda tmp: fx.dirty_apng(), {"png:tEXt"}),
    (
        "gif-animated",
        lambda tmp: fx.dirty_gif(),
        {"gif:comment", "xmp", "icc:profile", "gif:trailing-data"},
    ),
    ("gif-still", lambda tmp: fx.dirty_gif(animated=False), {"gif:comment", "xmp"}),
    (
        "webp-lossless",
        lambda tmp: fx.dirty_webp("lossless"),
        {"exif:GPS", "exif:Make", "xmp", "icc:profile"},
    ),
    ("webp-lossy", lambda tmp: fx.dirty_webp("lossy"), {"exif:GPS", "xmp", "icc:profile"}),
    ("webp-animated", lambda tmp: fx.dirty_webp("animated"), {"exif:Artist", "xmp"}),
    (
        "tiff-lzw",
        lambda tmp: fx.dirty_tiff(tmp),
        {"tiff:Make", "tiff:Model", "tiff:Artist", "tiff:Copyright", "tiff:Software",
         "tiff:ModifyDate", "exif:GPS", "exif:SerialNumber", "exif:DateTimeOriginal", "xmp",
         "iptc", "icc:profile"},
    ),
    ("tiff-raw-16bit", lambda tmp: fx.dirty_tiff(tmp, "I;16", "raw"), {"tiff:Make", "exif:GPS"}),
    ("tiff-palette", lambda tmp: fx.dirty_tiff(tmp, "P", "tiff_adobe_deflate"), {"tiff:Artist"}),
    ("bmp", lambda tmp: fx.dirty_bmp(), {"icc:profile"}),
    ("bmp-palette", lambda tmp: fx.dirty_bmp("P"), {"icc:profile"}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "fields"), CASES, ids=[c[0] for c in CASES])
def test_fields_gone_and_pixels_identical(
    tmp_path: Path, name: str, make: Callable[[Path], bytes], fields: set[str]
) -> None:
    dirty = make(tmp_path)
    (tmp_path / "in").write_bytes(dirty)
    assert fx.leftovers(tmp_path / "in"), "the fixture must be dirty for the test to mean much"
    scrubber = scrubber_for(sniff(dirty).name)
    assert scrubber is not None
    assert fields <= set(scrubber.get_meta(dirty, DEFAULT_LIMITS))

    report = scrub(dirty)

    assert report.cleaned, report.reason
    assert fields <= set(report.removed)
    assert report.file_type == sniff(dirty)
    check_clean(tmp_path, report.data)
    assert scrubber.get_meta(report.data, DEFAULT_LIMITS) == []
    assert frames(report.data) == frames(dirty)
    # Cleaning is idempotent: a second pass finds nothing and changes nothing.
    again = scrub(report.data)
    assert again.cleaned and again.removed == () and again.data == report.data


# --- JPEG specifics -----------------------------------------------------------------------


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_entropy_data_kept_byte_for_byte(tmp_path: Path, progressive: bool) -> None:
    dirty = fx.dirty_jpeg(tmp_path, progressive=progressive)
    report = scrub(dirty)
    assert report.cleaned
    out = report.data
    scan = out[fx.first_scan_offset(out) :]
    start = fx.first_scan_offset(dirty)
    assert scan.endswith(b"\xff\xd9")
    assert dirty[start : start + len(scan)] == scan
    with Image.open(io.BytesIO(out)) as image:
        assert image.format == "JPEG"
        assert image.info.get("progressive", 0) == (1 if progressive else 0)


def test_jpeg_restart_markers_fill_and_stray_bytes_decode_identically() -> None:
    dirty = fx.odd_jpeg()
    assert b"\xff\xd0" in dirty  # restart markers are really there
    report = scrub(dirty)
    assert report.cleaned
    assert b"junk" not in report.data
    assert frames(report.data) == frames(dirty)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_jpeg_orientation_kept_alone(tmp_path: Path, orientation: int) -> None:
    dirty = fx.dirty_jpeg(tmp_path, orientation=orientation)
    report = scrub(dirty)
    assert report.cleaned
    with Image.open(io.BytesIO(report.data)) as image:
        exif = image.getexif()
        if orientation == 1:
            assert len(exif) == 0 and "exif" not in image.info
        else:
            assert dict(exif) == {0x0112: orientation}
            assert not exif.get_ifd(0x8769) and not exif.get_ifd(0x8825)
    path = tmp_path / "out.jpg"
    path.write_bytes(report.data)
    tags = {(group, tag) for group, tag, _ in fx.exiftool_tags(path)}
    assert (("IFD0", "Orientation") in tags) == (orientation != 1)
    assert not [
        t for t in tags if t[0] in ("IFD1", "ExifIFD", "GPS", "IFD0") and t[1] != "Orientation"
    ]


def test_jpeg_get_meta_counts_any_tag_but_the_lone_orientation() -> None:
    buffer = io.BytesIO()
    fx.picture().save(buffer, "JPEG")
    plain = buffer.getvalue()
    jpeg = scrubber_for("jpeg")
    assert jpeg is not None
    assert jpeg.get_meta(plain, DEFAULT_LIMITS) == []
    only_orientation = fx.insert_after_soi(plain, canonical_orientation_exif(6))
    assert jpeg.get_meta(only_orientation, DEFAULT_LIMITS) == []
    exif = fx.exif_block(orientation=6)
    for tag in list(exif):
        if tag not in (0x0112,):
            del exif[tag]
    exif[0x0131] = "x"  # one more tag than orientation: metadata
    with_software = fx.insert_after_soi(
        plain, fx.jpeg_segment(0xE1, b"Exif\x00\x00" + exif.tobytes()[6:])
    )
    assert "exif:Software" in jpeg.get_meta(with_software, DEFAULT_LIMITS)
    twice = fx.insert_after_soi(only_orientation, canonical_orientation_exif(3))
    assert jpeg.get_meta(twice, DEFAULT_LIMITS) == ["exif:Orientation"]


def test_strip_jpeg_for_pdf_streams(tmp_path: Path) -> None:
    dirty = fx.dirty_jpeg(tmp_path)
    stripped, removed = strip_jpeg(dirty)
    assert {"exif:GPS", "xmp", "jpeg:COM", "jpeg:trailing-data"} <= set(removed)
    assert b"Exif" not in stripped  # no orientation EXIF either: PDF viewers ignore it
    assert frames(stripped) == frames(dirty)[:1]
    with_orientation, _ = strip_jpeg(dirty, keep_orientation=True)
    assert with_orientation.count(b"Exif\x00\x00") == 1
    again, removed_again = strip_jpeg(stripped)
    assert again == stripped and removed_again == []


# --- PNG and WebP: where metadata hides, and the orientation ------------------------------


def _exif_with(canary: str, orientation: int) -> bytes:
    """EXIF (TIFF bytes, no ``Exif\0\0``) with Artist = canary and an orientation."""
    exif = Image.Exif()
    exif[0x013B] = canary  # Artist
    exif[0x0112] = orientation
    return exif.tobytes()[6:]


def _raw_profile(exif: bytes) -> bytes:
    # What ImageMagick writes: "\nexif\n<length>\n" then the hex of Exif\0\0 + TIFF, 72 a line.
    hexed = (b"Exif\x00\x00" + exif).hex()
    lines = "\n".join(hexed[i : i + 72] for i in range(0, len(hexed), 72))
    return f"\nexif\n{len(exif) + 6:8d}\n{lines}\n".encode()


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, chunks = 8, []
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def _png_decompressed(data: bytes) -> bytes:
    """Every chunk of a PNG, the compressed ones (zTXt, compressed iTXt, iCCP, the IDAT
    stream) inflated: what a byte search must look through."""
    import zlib

    out, idat = [data], b""
    for ctype, payload in _png_chunks(data):
        if ctype == b"IDAT":
            idat += payload
        elif ctype in (b"zTXt", b"iCCP"):
            out.append(zlib.decompress(payload.split(b"\x00", 1)[1][1:]))
        elif ctype == b"iTXt":
            rest = payload.split(b"\x00", 1)[1]
            text = rest[2:].split(b"\x00", 2)[2]
            out.append(zlib.decompress(text) if rest[0] else text)
    out.append(zlib.decompress(idat))
    return b"\n".join(out)


def _png_with_hidden(hiding: str, canary: str, orientation: int) -> bytes:
    """A PNG with the canary (and an orientation) in one of the places metadata hides."""
    buffer = io.BytesIO()
    fx.picture(size=(40, 24)).save(buffer, "PNG")
    plain = buffer.getvalue()
    exif = _exif_with(canary, orientation)
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        '22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/" tiff:Orientation="{orientation}">'
        f"<dc:creator><rdf:Seq><rdf:li>{canary}</rdf:li></rdf:Seq></dc:creator>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    import zlib

    chunk = {
        "eXIf": lambda: fx.png_chunk(b"eXIf", exif),
        "tEXt-raw-profile": lambda: fx.png_chunk(
            b"tEXt", b"Raw profile type exif\x00" + _raw_profile(exif)
        ),
        "zTXt-raw-profile": lambda: fx.png_chunk(
            b"zTXt", b"Raw profile type exif\x00\x00" + zlib.compress(_raw_profile(exif))
        ),
        "iTXt-raw-profile": lambda: fx.png_chunk(
            b"iTXt",
            b"Raw profile type exif\x00\x01\x00\x00\x00" + zlib.compress(_raw_profile(exif)),
        ),
        "iTXt-xmp": lambda: fx.png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp),
        "iTXt-xmp-compressed": lambda: fx.png_chunk(
            b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(xmp)
        ),
        "zTXt-xmp": lambda: fx.png_chunk(
            b"zTXt", b"XML:com.adobe.xmp\x00\x00" + zlib.compress(xmp)
        ),
    }[hiding]()
    # ImageMagick writes its text after the image data; the eXIf chunk goes before it.
    at = plain.index(b"IDAT") - 4 if hiding == "eXIf" else plain.rindex(b"IEND") - 4
    return plain[:at] + chunk + plain[at:]


_PNG_HIDING = [
    "eXIf", "tEXt-raw-profile", "zTXt-raw-profile", "iTXt-raw-profile", "iTXt-xmp",
    "iTXt-xmp-compressed", "zTXt-xmp",
]  # fmt: skip


def _upright(data: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image.convert("RGB"))
        return upright.size, upright.tobytes()


@pytest.mark.parametrize("orientation", [1, 6])
@pytest.mark.parametrize("hiding", _PNG_HIDING)
def test_png_metadata_hiding_places_emptied_orientation_kept(
    tmp_path: Path, hiding: str, orientation: int
) -> None:
    # The places ImageMagick, exiftool and Adobe put EXIF and XMP in a PNG (wild corpus:
    # pillow-exif_imagemagick_orientation.png, pillow-xmp_tags_orientation.png): a unique
    # canary in each, gone from the output by exiftool and by a byte search of every chunk
    # inflated (plain and hex, as the raw profile stores it); the orientation, which Pillow
    # reads from each of them, kept alone in a fresh eXIf so the picture shows the same.
    canary = f"Canary-{hiding}-{orientation}"
    dirty = _png_with_hidden(hiding, canary, orientation)
    with Image.open(io.BytesIO(dirty)) as image:
        image.load()
        assert image.getexif().get(0x0112) == orientation  # Pillow does read it from there
    report = scrub(dirty)
    assert report.cleaned, report.reason
    assert report.removed  # reported
    out = tmp_path / "out.png"
    out.write_bytes(report.data)
    assert fx.leftovers(out) == []
    assert not [t for t in fx.exiftool_tags(out) if canary in t[2]]
    inflated = _png_decompressed(report.data)
    for form in (canary.encode(), canary.encode().hex().encode()):
        assert form not in inflated
    assert _upright(report.data) == _upright(dirty)
    kept = [payload for ctype, payload in _png_chunks(report.data) if ctype == b"eXIf"]
    if orientation == 1:
        assert kept == []
    else:
        assert kept == [canonical_orientation_exif(orientation)[10:]]
        ctypes = [ctype for ctype, _ in _png_chunks(report.data)]
        assert ctypes.index(b"eXIf") < ctypes.index(b"IDAT")
    again = scrub(report.data)
    assert again.cleaned and again.removed == () and again.data == report.data


@pytest.mark.parametrize("orientation", [1, 2, 3, 8])
def test_webp_orientation_kept_alone(tmp_path: Path, orientation: int) -> None:
    canary = f"Canary-webp-{orientation}"
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x013B] = canary
    exif[0x0112] = orientation
    fx.picture(size=(40, 24)).save(buffer, "WEBP", lossless=True, exif=exif)
    dirty = buffer.getvalue()
    report = scrub(dirty)
    assert report.cleaned, report.reason
    assert canary.encode() not in report.data
    out = tmp_path / "out.webp"
    out.write_bytes(report.data)
    assert fx.leftovers(out) == []
    assert _upright(report.data) == _upright(dirty)
    with Image.open(io.BytesIO(report.data)) as image:
        assert dict(image.getexif()) == ({} if orientation == 1 else {0x0112: orientation})
    again = scrub(report.data)
    assert again.cleaned and again.removed == () and again.data == report.data


# --- HEIF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [8, 12])
def test_heif_converted_to_lossless_png(tmp_path: Path, bits: int) -> None:
    dirty = fx.dirty_heif(bits)
    info = pillow_heif.open_heif(io.BytesIO(dirty))[0].info
    assert info.get("exif") and info.get("xmp") and info.get("icc_profile")
    report = scrub(dirty)
    assert report.cleaned, report.reason
    assert report.file_type.name == "png"
    assert report.note is not None and "converted to PNG (lossless)" in report.note
    assert {"exif:GPS", "exif:Make", "xmp", "icc:profile"} <= set(report.removed)
    check_clean(tmp_path, report.data)
    decoded = pillow_heif.open_heif(io.BytesIO(dirty), convert_hdr_to_8bit=False)[0]
    width, height, depth, colour, samples = fx.png_pixels(report.data)
    assert (width, height) == decoded.size
    assert colour == 2 and depth == (16 if bits > 8 else 8)
    row = width * 3 * depth // 8
    expected = b"".join(
        bytes(decoded.data[y * decoded.stride : y * decoded.stride + row]) for y in range(height)
    )
    if depth == 16:  # pillow-heif gives little-endian samples, PNG stores big-endian
        expected = b"".join(
            expected[i + 1 : i + 2] + expected[i : i + 1] for i in range(0, len(expected), 2)
        )
    assert samples == expected


# --- hostile input ------------------------------------------------------------------------


def _jpeg_with_size(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    fx.picture(size=(16, 16)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def _png_bomb() -> bytes:
    import zlib

    header = (100_000).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"
    idat = zlib.compress(b"\x00" * 1_000_000, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + fx.png_chunk(b"IHDR", header)
        + fx.png_chunk(b"IDAT", idat)
        + fx.png_chunk(b"IEND", b"")
    )


def _gif_bomb() -> bytes:
    data = bytearray(fx.dirty_gif(animated=False))
    data[6:10] = b"\xff\xff\xff\xff"
    return bytes(data)


def _webp_bomb() -> bytes:
    data = bytearray(fx.dirty_webp("lossless"))
    vp8x = data.index(b"VP8X") + 8
    data[vp8x + 4 : vp8x + 10] = b"\xff\x3f\x00\xff\x3f\x00"  # 16384 x 16384
    return bytes(data)


def _bmp_bomb() -> bytes:
    data = bytearray(fx.dirty_bmp())
    data[18:26] = (60_000).to_bytes(4, "little") * 2
    return bytes(data)


def _tiff_bomb(tmp: Path) -> bytes:
    buffer = io.BytesIO()
    fx.picture(size=(8, 8)).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    assert data[:2] == b"II"
    ifd = int.from_bytes(data[4:8], "little")
    for index in range(int.from_bytes(data[ifd : ifd + 2], "little")):
        at = ifd + 2 + 12 * index
        if int.from_bytes(data[at : at + 2], "little") in (256, 257):
            data[at + 2 : at + 4] = (4).to_bytes(2, "little")  # LONG
            data[at + 8 : at + 12] = (60_000).to_bytes(4, "little")
    return bytes(data)


BOMBS: list[tuple[str, Callable[[Path], bytes]]] = [
    ("jpeg-65535", lambda tmp: _jpeg_with_size(65535, 65535)),
    ("png", lambda tmp: _png_bomb()),
    ("gif", lambda tmp: _gif_bomb()),
    ("webp", lambda tmp: _webp_bomb()),
    ("bmp", lambda tmp: _bmp_bomb()),
    ("tiff", _tiff_bomb),
]


@pytest.mark.parametrize(("name", "make"), BOMBS, ids=[b[0] for b in BOMBS])
def test_bombs_refused_without_allocating(
    tmp_path: Path, name: str, make: Callable[[Path], bytes]
) -> None:
    bomb = make(tmp_path)
    scrubber = scrubber_for(sniff(bomb).name)
    assert scrubber is not None
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceededError):
            scrubber.remove_all(bomb, DEFAULT_LIMITS)
        report = scrub(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not report.cleaned and report.reason == LimitExceededError.reason
    assert report.data == bomb  # kept as received, never lost
    assert peak < 16 * len(bomb) + 8 * 1024 * 1024  # no pixel buffer was allocated


def test_bomb_in_sandboxed_worker() -> None:
    report = scrub_sandboxed(_jpeg_with_size(65535, 65535))
    assert not report.cleaned and report.reason == LimitExceededError.reason


TRUNCATABLE: list[tuple[str, Callable[[Path], bytes]]] = [
    ("jpeg", lambda tmp: fx.dirty_jpeg(tmp)[:-2000]),
    ("png", lambda tmp: fx.dirty_png()),
    ("gif", lambda tmp: fx.dirty_gif()),
    ("webp", lambda tmp: fx.dirty_webp("lossy")),
    ("tiff", lambda tmp: fx.dirty_tiff(tmp)),
    ("bmp", lambda tmp: fx.dirty_bmp()),
    ("heif", lambda tmp: fx.dirty_heif()),
]


@pytest.mark.parametrize(("name", "make"), TRUNCATABLE, ids=[t[0] for t in TRUNCATABLE])
def test_truncated_files_fail_cleanly(
    tmp_path: Path, name: str, make: Callable[[Path], bytes]
) -> None:
    whole = make(tmp_path)
    if name in ("png", "gif", "webp", "bmp"):
        whole = scrub(whole).data  # no appended bytes: any cut is a real truncation
    file_type = sniff(whole)
    scrubber = scrubber_for(file_type.name)
    assert scrubber is not None
    for cut in (len(whole) // 3, len(whole) // 2, len(whole) - 5):
        truncated = whole[:cut]
        if sniff(truncated) != file_type:
            continue
        with pytest.raises(ScrubError) as info:
            scrubber.remove_all(truncated, DEFAULT_LIMITS)
        assert isinstance(info.value, (CorruptFileError, LimitExceededError)), info.value
        report = scrub(truncated)
        assert not report.cleaned and report.reason == CorruptFileError.reason
        assert report.data == truncated


def test_jpeg_without_end_marker_is_corrupt() -> None:
    buffer = io.BytesIO()
    fx.picture().save(buffer, "JPEG")
    with pytest.raises(CorruptFileError):
        strip_jpeg(buffer.getvalue()[:-2])


@pytest.mark.parametrize(
    "garbage",
    [b"\xff\xd8\xff", b"\xff\xd8\xff\xe1\xff\xff", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30,
     b"GIF89a\x01", b"RIFF\x04\x00\x00\x00WEBP", b"II*\x00\xff\xff\xff\x7f",
     b"MM\x00*\x00\x00\x00\x08\xff\xff", b"BM" + b"\x00" * 30],
)  # fmt: skip
def test_garbage_headers_fail_cleanly(garbage: bytes) -> None:
    report = scrub(garbage)
    assert not report.cleaned
    assert report.reason in (CorruptFileError.reason, LimitExceededError.reason)


def test_tiff_ifd_loop_is_bounded() -> None:
    # IFD0 at 8 with one entry, whose "next IFD" points back at itself.
    entry = (
        (256).to_bytes(2, "little")
        + (3).to_bytes(2, "little")
        + (1).to_bytes(4, "little")
        + (8).to_bytes(4, "little")
    )
    data = (
        b"II*\x00"
        + (8).to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + entry
        + (8).to_bytes(4, "little")
    )
    report = scrub(data)
    assert not report.cleaned


# --- public corpus ------------------------------------------------------------------------


def _corpus_images() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        p for folder in ("exiftool", "mat2") if (CORPUS / folder).is_dir()
        for p in (CORPUS / folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
    )  # fmt: skip


def test_corpus_present_in_ci() -> None:
    if os.environ.get("CI") == "true":
        assert _corpus_images(), f"the shared corpus is missing at {CORPUS}"
    elif not _corpus_images():
        pytest.skip("no shared corpus outside CI; self-made fixtures cover each format")


@pytest.mark.parametrize("path", _corpus_images(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_image_cleaned(tmp_path: Path, path: Path) -> None:
    dirty = path.read_bytes()
    report = scrub(dirty)
    # Every image of the corpus can be cleaned: including mat2's "clean.tif", which despite
    # its name carries Olympus maker notes with a serial number, and is cleaned for real.
    assert report.cleaned, f"{path.name}: {report.reason}"
    check_clean(tmp_path, report.data, "out" + (report.file_type.extension))
    if report.file_type == sniff(dirty):
        assert frames(report.data) == frames(dirty)


def test_mutated_images_never_escape_the_error_tree(tmp_path: Path) -> None:
    """Flip, cut and insert bytes in every fixture: each outcome is a clean file or one of
    our errors (the sandbox fuzz test covers crashes; this covers the Python side quickly)."""
    import random

    from scrubbers._core import clean

    seeds = [
        fx.dirty_jpeg(tmp_path),
        fx.odd_jpeg(),
        fx.dirty_png(),
        fx.dirty_apng(),
        fx.dirty_gif(),
        fx.dirty_webp("animated"),
        fx.dirty_tiff(tmp_path),
        fx.dirty_bmp(),
        fx.dirty_heif(),
    ]
    rng = random.Random(1234)
    outcomes = {"cleaned": 0, "refused": 0}
    for _ in range(1500):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 6)):
            at = rng.randrange(len(data))
            choice = rng.randrange(3)
            if choice == 0:
                data[at] = rng.randrange(256)
            elif choice == 1:
                data = data[: max(at, 16)]
            else:
                data[at:at] = rng.randbytes(rng.randrange(1, 5))
        try:
            clean(bytes(data), DEFAULT_LIMITS)
            outcomes["cleaned"] += 1
        except ScrubError:
            outcomes["refused"] += 1
    assert outcomes["cleaned"] > 0 and outcomes["refused"] > 0


# --- adversarial review --------------------------------------------------------------------


def _jpeg_with_padded_segment(marker: int) -> bytes:
    """A JPEG whose kept segment (tables, frame or scan header) hides text past its content."""
    sink = io.BytesIO()
    Image.new("RGB", (8, 8), (9, 120, 200)).save(sink, "JPEG")
    jpeg = sink.getvalue()
    if marker == 0xDD:  # no restart interval in the file: add one, padded
        payload = b"\x00\x00Marker-Slack-4e2a"
        return jpeg[:2] + b"\xff\xdd" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]
    start = jpeg.index(bytes([0xFF, marker]))
    length = int.from_bytes(jpeg[start + 2 : start + 4], "big")
    payload = jpeg[start + 4 : start + 2 + length] + b"Marker-Slack-4e2a"
    segment = bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:start] + segment + jpeg[start + 2 + length :]


@pytest.mark.parametrize("marker", [0xDB, 0xC4, 0xC0, 0xDA, 0xDD], ids=hex)
def test_jpeg_text_hidden_in_kept_segment_slack_is_refused(marker: int) -> None:
    # Decoders never read past a table's content, and the lossless rewrite copies kept
    # segments whole: the hidden bytes used to reach the "cleaned" output.
    data = _jpeg_with_padded_segment(marker)
    report = scrub(data)
    assert not report.cleaned
    assert report.data == data  # kept as received, and said to be not cleaned


# --- AVIF (issue 10): read with Pillow's AVIF plugin, given as a lossless PNG -------------


def _avif_with_gps(tmp_path: Path) -> bytes:
    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4, y * 5, 128) for y in range(48) for x in range(64)])
    exif = Image.Exif()
    exif[0x010F] = "CanaryAvifMake"
    exif[0x0110] = "CanaryAvifModel"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 23.0)  # GPSLatitude
    out = io.BytesIO()
    image.save(out, "AVIF", exif=exif.tobytes(), quality=100)
    path = tmp_path / "photo.avif"
    path.write_bytes(out.getvalue())
    return out.getvalue()


def test_avif_converted_to_png_with_nothing_but_its_pixels(tmp_path: Path) -> None:
    data = _avif_with_gps(tmp_path)
    assert sniff(data).name == "heif"
    report = scrub_sandboxed(data)
    assert report.cleaned, report.reason
    assert report.file_type.name == "png" and "PNG" in (report.note or "")
    assert any(name.startswith("exif:") for name in report.removed)
    assert b"CanaryAvif" not in report.data
    out = tmp_path / "clean.png"
    out.write_bytes(report.data)
    dump = subprocess.run(
        ["exiftool", "-a", "-G1", "-s", str(out)], capture_output=True, text=True, check=True
    ).stdout
    assert "Canary" not in dump and "GPS" not in dump and "EXIF" not in dump, dump
    with Image.open(io.BytesIO(data)) as original, Image.open(out) as cleaned:
        assert cleaned.size == original.size
        assert cleaned.convert("RGB").tobytes() == original.convert("RGB").tobytes()


def test_corpus_avif(shared_dir: Path | None) -> None:
    """Pillow's AVIF test files: each still image cleaned, pixels as Pillow decodes them; the
    animated one refused as unsupported, never as "corrupt"."""
    if shared_dir is None:
        pytest.skip("../shared is absent here (CI=true fails instead)")
    files = sorted((shared_dir / "corpus" / "wild").glob("pillow-avif*"))
    assert len(files) >= 5
    for path in files:
        data = path.read_bytes()
        report = scrub_sandboxed(data)
        with Image.open(path) as original:
            animated = int(getattr(original, "n_frames", 1)) > 1
            if animated:
                assert not report.cleaned and report.reason == "unsupported file type", path
                continue
            assert report.cleaned, (path.name, report.reason)
            upright = ImageOps.exif_transpose(original)
            with Image.open(io.BytesIO(report.data)) as cleaned:
                assert not cleaned.info.get("icc_profile") and not cleaned.info.get("exif")
                assert cleaned.size == upright.size, path.name
                assert cleaned.tobytes() == upright.convert(cleaned.mode).tobytes(), path.name


# --- BMP palette sizes --------------------------------------------------------------------


def _bmp_with_colours_used(mode: str, declared: int, table: int) -> bytes:
    """A BITMAPINFOHEADER BMP whose header declares `declared` colours, with `table` palette
    entries actually written before the pixels."""
    buffer = io.BytesIO()
    fx.picture(mode, size=(12, 5)).save(buffer, "BMP")
    data = bytearray(buffer.getvalue())
    offset = int.from_bytes(data[10:14], "little")
    palette = bytes(data[54:offset])
    pixels = bytes(data[offset:])
    palette = (palette + bytes(4 * table))[: 4 * table]
    data[46:50] = declared.to_bytes(4, "little")
    head = bytes(data[14:54]) + palette
    return (
        b"BM"
        + (14 + len(head) + len(pixels)).to_bytes(4, "little")
        + bytes(4)
        + (14 + len(head)).to_bytes(4, "little")
        + head
        + pixels
    )


def test_bmp_palette_over_256_colours_refused_as_pillow_does() -> None:
    # bmpsuite q/pal8oversizepal.bmp: an 8-bit image declaring 300 colours. Pillow fails
    # ("invalid palette size"); the cleaner used to cut the palette to 256 entries but keep
    # the header's 300, an output no reader could open.
    dirty = _bmp_with_colours_used("P", 300, 300)
    with pytest.raises(ValueError, match="palette"), Image.open(io.BytesIO(dirty)) as image:
        image.load()
    report = scrub(dirty)
    assert not report.cleaned and report.reason == CorruptFileError.reason
    assert report.data == dirty


def test_bmp_true_colour_table_cut_to_256_agrees_with_its_header() -> None:
    # A 24-bit image may carry an optional colour table; cut to 256 entries, the header's
    # count must say 256 too, and the pixels stay the same.
    dirty = _bmp_with_colours_used("RGB", 300, 300)
    report = scrub(dirty)
    assert report.cleaned, report.reason
    assert int.from_bytes(report.data[46:50], "little") == 256
    assert frames(report.data) == frames(dirty)


def test_apng_orientation_before_the_first_frame() -> None:
    frames_in = [fx.picture("RGBA", size=(20, 10), seed=s) for s in range(2)]
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 3
    exif[0x013B] = "Canary-apng"
    frames_in[0].save(
        buffer, "PNG", save_all=True, append_images=frames_in[1:], duration=100, exif=exif
    )
    dirty = buffer.getvalue()
    report = scrub(dirty)
    assert report.cleaned, report.reason
    assert b"Canary-apng" not in report.data
    ctypes = [ctype for ctype, _ in _png_chunks(report.data)]
    assert ctypes.index(b"eXIf") < min(ctypes.index(b"fcTL"), ctypes.index(b"IDAT"))
    assert frames(report.data) == frames(dirty)
    with Image.open(io.BytesIO(report.data)) as image:
        assert dict(image.getexif()) == {0x0112: 3}


@pytest.mark.parametrize("ctype", [b"gAMA", b"pHYs", b"cHRM", b"sRGB", b"bKGD", b"tRNS"])
def test_png_allowlisted_chunk_padded_with_text_is_dropped(tmp_path: Path, ctype: bytes) -> None:
    # An allowlisted chunk is copied as is: one longer than its numeric fields would carry
    # whatever follows them. Its size is checked; a padded one goes, reported.
    canary = b"Canary-padded-" + ctype
    buffer = io.BytesIO()
    fx.picture(size=(16, 8)).save(buffer, "PNG")
    plain = buffer.getvalue()
    fields = {b"gAMA": 4, b"pHYs": 9, b"cHRM": 32, b"sRGB": 1, b"bKGD": 6, b"tRNS": 6}[ctype]
    at = plain.index(b"IDAT") - 4
    dirty = plain[:at] + fx.png_chunk(ctype, bytes(fields) + canary) + plain[at:]
    report = scrub(dirty)
    assert report.cleaned, report.reason
    assert f"png:{ctype.decode()}" in report.removed
    assert canary not in _png_decompressed(report.data)
    assert frames(report.data) == frames(plain)
    well_formed = plain[:at] + fx.png_chunk(ctype, bytes([0] * (fields - 1) + [1])) + plain[at:]
    kept = scrub(well_formed)
    assert kept.cleaned and kept.data == well_formed  # the right size is kept


def test_bytes_after_the_image_stream_inside_idat_are_cut() -> None:
    """Decoders stop at the end of the zlib stream: bytes after it inside IDAT (or a whole
    IDAT after it) are never shown, free room for a tracking id. Cut; the compressed stream
    itself is kept byte for byte."""
    image = Image.new("RGB", (40, 30))
    image.putdata([(x * 6, y * 8, 77) for y in range(30) for x in range(40)])
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    png = buffer.getvalue()
    at = png.index(b"IDAT") - 4
    length = int.from_bytes(png[at : at + 4], "big")
    stream = png[at + 8 : at + 8 + length]
    tail = png[at + 12 + length :]

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload).to_bytes(4, "big")
        return len(payload).to_bytes(4, "big") + kind + payload + crc

    for dirty in (
        png[:at] + chunk(b"IDAT", stream + b"CanaryIdatTail") + tail,
        png[:at] + chunk(b"IDAT", stream) + chunk(b"IDAT", b"CanaryIdatExtra") + tail,
    ):
        report = scrub_sandboxed(dirty)
        assert report.cleaned, report.reason
        assert "png:data-after-image" in report.removed
        assert b"Canary" not in report.data and stream in report.data
        assert frames(report.data) == frames(png)
        assert scrub(report.data).removed == ()


def _apng(canary_tail: bytes, canary_chunk: bytes) -> tuple[bytes, bytes]:
    """(clean APNG, the same with the second frame's fdAT stream followed by `canary_tail`
    and an extra fdAT chunk of `canary_chunk`, the sequence numbers after it moved up)."""
    buffer = io.BytesIO()
    pictures = [fx.picture("RGBA", seed=s) for s in range(3)]
    pictures[0].save(buffer, "PNG", save_all=True, append_images=pictures[1:], duration=100)
    clean = buffer.getvalue()
    chunks = _png_chunks(clean)
    dirty, number, fdat_seen = [], 0, 0
    for ctype, payload in chunks:
        if ctype in (b"fcTL", b"fdAT"):
            payload = number.to_bytes(4, "big") + payload[4:]
            number += 1
        if ctype == b"fdAT":
            fdat_seen += 1
        if ctype == b"fdAT" and fdat_seen == 1:
            dirty.append((ctype, payload + canary_tail))
            dirty.append((ctype, number.to_bytes(4, "big") + canary_chunk))
            number += 1
        else:
            dirty.append((ctype, payload))
    data = clean[:8] + b"".join(fx.png_chunk(ctype, payload) for ctype, payload in dirty)
    return clean, data


def test_bytes_after_a_frame_stream_inside_fdat_are_cut() -> None:
    """Issue 10: like IDAT, an APNG frame's fdAT chunks hold one zlib stream; bytes after its
    end (or whole fdAT chunks after it) are never shown. Cut, the later chunks renumbered."""
    clean, dirty = _apng(b"CanaryFdatTail", b"CanaryFdatExtra")
    assert frames(dirty) == frames(clean)  # the hiding place decodes like the original
    report = scrub_sandboxed(dirty)
    assert report.cleaned, report.reason
    assert "png:data-after-image" in report.removed
    assert b"Canary" not in report.data
    assert frames(report.data) == frames(clean)
    assert report.data == clean  # the frames' compressed bytes kept exactly, numbered again
    assert scrub(report.data).removed == ()


def _tiff_with_strip_slack(
    compression: str | None, canary: bytes, mode: str = "RGB"
) -> tuple[bytes, bytes]:
    """(a TIFF of five strips, the same with `canary` after each strip's data, inside its
    byte count: room no decoder reads)."""
    buffer = io.BytesIO()
    strip_bytes = 8 * (64 // 8 if mode == "1" else 64 * 3)  # 8 rows of 64 pixels a strip
    with pytest.MonkeyPatch.context() as patch:
        # Pillow's own writer (uncompressed) makes one strip; libtiff's honours strip_size.
        patch.setattr(TiffImagePlugin, "WRITE_LIBTIFF", True)
        fx.picture("RGB", (64, 40)).convert(mode).save(
            buffer, "TIFF", compression=compression, strip_size=strip_bytes
        )
    clean = buffer.getvalue()
    tags = {e.tag: e for e in ifd_entries(clean) if e.ifd == "ifd0"}

    def table(tag: int) -> tuple[int, int, list[int]]:
        entry = tags[tag]
        size = 2 if entry.type == 3 else 4
        at = entry.value_offset
        if entry.count * size > 4:
            at = int.from_bytes(clean[at : at + 4], "little")
        raw = clean[at : at + entry.count * size]
        return (
            at,
            size,
            [int.from_bytes(raw[i : i + size], "little") for i in range(0, len(raw), size)],
        )

    offsets_at, offset_size, offsets = table(273)
    counts_at, count_size, counts = table(279)
    assert len(offsets) == 5
    dirty = bytearray(clean)
    for index, (offset, count) in enumerate(zip(offsets, counts, strict=True)):
        moved = len(dirty)
        dirty += clean[offset : offset + count] + canary
        at = offsets_at + index * offset_size
        dirty[at : at + offset_size] = moved.to_bytes(offset_size, "little")
        at = counts_at + index * count_size
        dirty[at : at + count_size] = (count + len(canary)).to_bytes(count_size, "little")
    return clean, bytes(dirty)


@pytest.mark.parametrize(
    "compression", [None, "tiff_deflate", "tiff_adobe_deflate", "tiff_lzw", "packbits", "jpeg"]
)
def test_tiff_strip_slack_is_cut(tmp_path: Path, compression: str | None) -> None:
    """Issue 10: a strip's byte count may cover more than its decoder reads (the rows of an
    uncompressed strip, the end of a Deflate, LZW, PackBits or JPEG stream). Only what is read is
    copied: a canary there does not survive; the pixels are the same."""
    clean, dirty = _tiff_with_strip_slack(compression, b"CanaryStripSlack" + fx.SECRET.encode())
    assert frames(dirty) == frames(clean)  # the hiding place decodes like the original
    report = scrub_sandboxed(dirty)
    assert report.cleaned, report.reason
    assert "tiff:data-after-image" in report.removed
    assert b"CanaryStripSlack" not in report.data
    assert frames(report.data) == frames(clean)
    path = tmp_path / "out.tif"
    path.write_bytes(report.data)
    # ExifTool names a JPEG page's strips (and its tables) as if they were a preview image.
    jpeg_strips = {f"[IFD0] {name}" for name in ("PreviewImageStart", "PreviewImageLength")}
    jpeg_strips |= {"[IFD0] PreviewImage", "[IFD0] JPEGTables"}
    assert set(fx.leftovers(path)) <= (jpeg_strips if compression == "jpeg" else set())
    assert fx.SECRET.encode() not in report.data
    again = scrub(report.data)
    assert again.data == report.data and "tiff:data-after-image" not in again.removed
    # A strip that holds exactly its data is kept as it is.
    assert "tiff:data-after-image" not in scrub(clean).removed


def _old_style_jpeg_tiff(pages: list[Image.Image]) -> bytes:
    """A TIFF of old-style JPEG pages (compression 6, TIFF 6.0 section 22), each pointing at
    a whole JPEG file (JPEGInterchangeFormat, as Microsoft's writers did) that carries the
    source's name in a comment and EXIF."""
    exif = Image.Exif()
    exif[0x013B] = fx.SECRET
    jpegs = []
    for page in pages:
        buffer = io.BytesIO()
        page.save(buffer, "JPEG", quality=90, subsampling=0, comment=fx.SECRET, exif=exif)
        jpegs.append((page.size, buffer.getvalue()))
    out = bytearray(b"II*\x00" + bytes(4))
    at = []
    for _, jpeg in jpegs:
        at.append(len(out))
        out += jpeg + b"\x00" * (len(jpeg) & 1)
    pointer = 4
    for ((width, height), jpeg), offset in zip(jpegs, at, strict=True):
        bits_at = len(out)
        out += (8).to_bytes(2, "little") * 3
        entries = [
            (256, 4, 1, width), (257, 4, 1, height), (258, 3, 3, bits_at), (259, 3, 1, 6),
            (262, 3, 1, 6), (273, 4, 1, offset), (277, 3, 1, 3), (278, 4, 1, height),
            (279, 4, 1, len(jpeg)), (284, 3, 1, 1), (512, 3, 1, 1), (513, 4, 1, offset),
            (514, 4, 1, len(jpeg)),
        ]  # fmt: skip
        out[pointer : pointer + 4] = len(out).to_bytes(4, "little")
        out += len(entries).to_bytes(2, "little")
        for tag, kind, count, value in entries:
            out += tag.to_bytes(2, "little") + kind.to_bytes(2, "little")
            out += count.to_bytes(4, "little") + value.to_bytes(4, "little")
        pointer = len(out)
        out += bytes(4)
    return bytes(out)


def test_multi_page_old_style_jpeg_tiff_converted_to_a_multi_page_tiff(tmp_path: Path) -> None:
    """A scanned document in old-style JPEG stays one file of its pages, in order: each page
    as libtiff decodes it, in a Deflate TIFF that is itself cleaned; one page: a PNG."""
    pages = [fx.picture("RGB", (64, 48), seed=seed) for seed in range(3)]
    original = _old_style_jpeg_tiff(pages)
    assert len(frames(original)) == 3  # libtiff reads it
    report = scrub_sandboxed(original)
    assert report.cleaned, report.reason
    assert report.file_type.name == "tiff" and report.note == "converted to TIFF (lossless)"
    assert fx.SECRET.encode() not in report.data
    assert [frame[:3] for frame in frames(report.data)] == [f[:3] for f in frames(original)]
    check_clean(tmp_path, report.data)
    assert scrub(report.data).removed == ()  # nothing beyond what the pixels need
    single = scrub(_old_style_jpeg_tiff(pages[:1]))
    assert single.cleaned and single.file_type.name == "png"
    assert [f[:3] for f in frames(single.data)] == [f[:3] for f in frames(original)][:1]


def test_tiff_jpeg_tables_and_strips_lose_their_comments(tmp_path: Path) -> None:
    """A JPEG page's JPEGTables and each strip are JPEG streams: a COM segment (free text)
    fits in either. Only the tables, frame and scans are kept; the pixels are the same."""
    buffer = io.BytesIO()
    fx.picture("RGB", (64, 40)).save(buffer, "TIFF", compression="jpeg", strip_size=64 * 24)
    clean = buffer.getvalue()
    comment = b"\xff\xfe" + (2 + len(fx.SECRET)).to_bytes(2, "big") + fx.SECRET.encode()
    tags = {e.tag: e for e in ifd_entries(clean) if e.ifd == "ifd0"}
    tables_at = int.from_bytes(clean[tags[347].value_offset :][:4], "little")
    tables = clean[tables_at : tables_at + tags[347].count]
    # The tables moved to the end with a comment after SOI; so is the first strip.
    building = bytearray(clean)
    building[tags[347].value_offset - 4 : tags[347].value_offset + 4] = (
        len(tables) + len(comment)
    ).to_bytes(4, "little") + len(building).to_bytes(4, "little")
    building += tables[:2] + comment + tables[2:]
    offsets_at = int.from_bytes(clean[tags[273].value_offset :][:4], "little")
    counts_at = int.from_bytes(clean[tags[279].value_offset :][:4], "little")
    strip_at = int.from_bytes(clean[offsets_at : offsets_at + 4], "little")
    count = int.from_bytes(clean[counts_at : counts_at + 4], "little")
    strip = clean[strip_at : strip_at + count]
    building[offsets_at : offsets_at + 4] = len(building).to_bytes(4, "little")
    building[counts_at : counts_at + 4] = (count + len(comment)).to_bytes(4, "little")
    building += strip[:2] + comment + strip[2:]
    dirty = bytes(building)
    assert frames(dirty) == frames(clean) and dirty.count(fx.SECRET.encode()) == 2
    report = scrub_sandboxed(dirty)
    assert report.cleaned, report.reason
    assert "jpeg:COM" in report.removed
    assert fx.SECRET.encode() not in report.data
    assert frames(report.data) == frames(clean)
    assert scrub(report.data).removed == ()


def test_zlib_stream_end_answers_for_the_exact_pieces() -> None:
    """The answer is remembered (the verify pass reads the same image data again), so it
    must depend on how the bytes are cut into chunks, not only on the bytes."""
    stream = zlib.compress(os.urandom(3000))
    data = stream + b"room after the end"
    cut = len(stream) // 2
    for _ in range(2):  # the second round is answered from memory
        assert zlib_stream_end([data]) == (0, len(stream))
        assert zlib_stream_end([data[:cut], data[cut:]]) == (1, len(stream) - cut)
        assert zlib_stream_end([stream[:cut]]) is None
        with pytest.raises(CorruptFileError):
            zlib_stream_end([b"\x78\x9c" + b"\xff" * 40])


def _strips(data: bytes) -> list[tuple[int, int]]:
    """(offset, byte count) of each strip of page 1."""
    tags = {e.tag: e for e in ifd_entries(data) if e.ifd == "ifd0"}

    def numbers(tag: int) -> list[int]:
        entry = tags[tag]
        size = 2 if entry.type == 3 else 4
        at = entry.value_offset
        if entry.count * size > 4:
            at = int.from_bytes(data[at : at + 4], "little")
        raw = data[at : at + entry.count * size]
        return [int.from_bytes(raw[i : i + size], "little") for i in range(0, len(raw), size)]

    return list(zip(numbers(273), numbers(279), strict=True))


def test_lzw_bits_after_the_last_code_are_rewritten() -> None:
    """Once an LZW strip's rows are decoded, libtiff reads nothing more: the end code and the
    bits that fill the last byte were room for a few bits per strip. Found with libtiff as
    the oracle (setting them does not change the pixels); two files that differ only there
    come out identical, pixels unchanged."""
    clean, _ = _tiff_with_strip_slack("tiff_lzw", b"")
    ones, pattern = bytearray(clean), bytearray(clean)
    attacked = 0
    for offset, count in _strips(clean):
        last = offset + count - 1
        unread = 0
        for bits in range(1, 8):  # the low bits of the last byte, as many as are unread
            trial = bytearray(clean)
            trial[last] ^= (1 << bits) - 1
            if frames(bytes(trial)) != frames(clean):
                break
            unread = bits
        ones[last] |= (1 << unread) - 1
        pattern[last] = (pattern[last] & ~((1 << unread) - 1)) | (0b1010101 & ((1 << unread) - 1))
        attacked += ones[last] != pattern[last]
    assert attacked, "no strip with unread bits: the attack did not happen"
    assert frames(bytes(ones)) == frames(bytes(pattern)) == frames(clean)
    report = scrub(bytes(ones))
    assert report.cleaned, report.reason
    assert "tiff:data-after-image" in report.removed
    assert frames(report.data) == frames(clean)
    assert scrub(bytes(pattern)).data == report.data  # nothing of the hidden bits left
    again = scrub(report.data)
    assert again.data == report.data and again.removed == ()
    # libtiff's own strips are kept as they are.
    kept = scrub(clean)
    assert "tiff:data-after-image" not in kept.removed
    assert [kept.data[o : o + n] for o, n in _strips(kept.data)] == [
        clean[o : o + n] for o, n in _strips(clean)
    ]


@pytest.mark.parametrize("compression", ["group4", "group3"])
def test_ccitt_fax_pages_are_converted_from_their_pixels(compression: str) -> None:
    """A CCITT strip's data end only where its decoder has read every row: what follows is
    room nothing reads, which no walk can find. Such a page is converted from what libtiff
    decodes (bilevel, lossless): the canary goes, the pixels stay."""
    canary = b"CanaryFaxSlack" + fx.SECRET.encode()
    clean, dirty = _tiff_with_strip_slack(compression, canary, mode="1")
    assert frames(dirty) == frames(clean)  # the hiding place decodes like the original
    report = scrub_sandboxed(dirty)
    assert report.cleaned, report.reason
    assert report.note == "converted to PNG (lossless)"
    assert sniff(report.data).name == "png"
    assert b"CanaryFaxSlack" not in report.data
    with Image.open(io.BytesIO(report.data)) as out, Image.open(io.BytesIO(clean)) as original:
        assert out.convert("1").tobytes() == original.convert("1").tobytes()
    again = scrub(report.data)
    assert again.cleaned and again.data == report.data and again.removed == ()
