"""Build dirty images inside the tests: real encoders (Pillow, pillow-heif) and ExifTool write
the metadata, so the fixtures look like what cameras, phones and editors produce."""

from __future__ import annotations

import io
import random
import re
import struct
import subprocess
import zlib
from pathlib import Path

import pillow_heif
from PIL import Image, ImageCms

SECRET = "Jane Whistleblower"

# ExifTool arguments putting identifying data everywhere it can in a file.
EXIFTOOL_DIRT = [
    "-Make=LeakCam",
    "-Model=LC-9000",
    "-SerialNumber=SN123456789",
    "-LensSerialNumber=LENS42",
    "-OwnerName=" + SECRET,
    "-Artist=" + SECRET,
    "-Copyright=(c) " + SECRET,
    "-Software=SecretEditor 1.0",
    "-ImageDescription=Taken at the office",
    "-DateTimeOriginal=2024:05:06 07:08:09",
    "-CreateDate=2024:05:06 07:08:09",
    "-ModifyDate=2024:05:06 07:08:10",
    "-GPSLatitude=48.8566",
    "-GPSLatitudeRef=N",
    "-GPSLongitude=2.3522",
    "-GPSLongitudeRef=E",
    "-XMP-dc:Creator=" + SECRET,
    "-XMP-xmpMM:DocumentID=xmp.did:0123456789",
]
IPTC_DIRT = ["-IPTC:By-line=" + SECRET, "-IPTC:City=Paris", "-IPTC:Keywords=leak"]

# What `exiftool -a -G1 -s -ee` may still show on a cleaned file. Any other group (EXIF
# sub-directories, GPS, XMP-*, IPTC, ICC*, Photoshop, maker notes, MPF, FlashPix...) fails.
ALLOWED_GROUPS = frozenset(
    {
        "ExifTool",
        "System",
        "File",
        "Composite",
        "JFIF",
        "Adobe",
        "PNG",
        "PNG-pHYs",
        "GIF",
        "RIFF",
        "IFD0",
    }
)
# Tags that name a person, a device, a place or a time: never allowed, whatever the group.
FORBIDDEN_TAGS = re.compile(
    r"^(Make|Model|.*SerialNumber|OwnerName|Artist|Copyright.*|DateTimeOriginal|CreateDate|"
    r"ModifyDate|DateCreated|Software|ImageDescription|UserComment|Comment|ThumbnailImage|"
    r"PreviewImage|ProfileDescription|ProfileCopyright|DeviceMfgDesc|DeviceModelDesc|By-line|"
    r"Caption-Abstract|Creator|Author|Title|XMPToolkit|DocumentID|InstanceID|HostComputer|"
    r"Keywords|City|GPS.*|MPImage.*|MakerNote.*|Warning)$"
)
# In IFD0 of a cleaned JPEG only the orientation may remain; TIFF keeps its layout tags.
IFD0_ALLOWED = frozenset(
    {
        "Orientation", "SubfileType", "ImageWidth", "ImageHeight", "BitsPerSample",
        "Compression", "PhotometricInterpretation", "StripOffsets", "SamplesPerPixel",
        "RowsPerStrip", "StripByteCounts", "XResolution", "YResolution", "PlanarConfiguration",
        "ResolutionUnit", "Predictor", "ColorMap", "ExtraSamples", "SampleFormat", "TileWidth",
        "TileLength", "TileOffsets", "TileByteCounts", "FillOrder",
    }
)  # fmt: skip


def exiftool_tags(path: Path) -> list[tuple[str, str, str]]:
    """(group, tag, value) for every tag ExifTool finds, embedded documents included."""
    out = subprocess.run(
        ["exiftool", "-a", "-G1", "-s", "-ee", "-m", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tags = []
    for line in out.splitlines():
        match = re.match(r"^\[([^\]]+)\]\s+(\S+)\s*:\s?(.*)$", line)
        if match:
            tags.append((match.group(1), match.group(2), match.group(3)))
    return tags


def leftovers(path: Path) -> list[str]:
    """Identifying tags ExifTool still sees in a (cleaned) file: empty when clean."""
    bad = []
    for group, tag, value in exiftool_tags(path):
        if group in ("ExifTool", "System"):
            continue
        page_directory = re.fullmatch(r"IFD\d+", group) is not None  # TIFF pages
        if (group not in ALLOWED_GROUPS and not page_directory) or FORBIDDEN_TAGS.match(tag):
            bad.append(f"[{group}] {tag}")
        elif page_directory and tag not in IFD0_ALLOWED:
            bad.append(f"[{group}] {tag}")
        elif SECRET in value:
            bad.append(f"[{group}] {tag} (value)")
    return bad


def exiftool_write(path: Path, args: list[str]) -> None:
    subprocess.run(
        ["exiftool", "-q", "-m", "-overwrite_original", *args, str(path)],
        check=True,
        capture_output=True,
    )


def picture(mode: str = "RGB", size: tuple[int, int] = (96, 64), seed: int = 1) -> Image.Image:
    """A deterministic noisy gradient (compresses like a photo, unlike a flat colour)."""
    rng = random.Random(seed)
    width, height = size
    rgb = Image.new("RGB", size)
    rgb.putdata(
        [
            ((x * 5 + rng.randrange(30)) % 256, (y * 7 + rng.randrange(30)) % 256, (x * y) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    if mode == "RGB":
        return rgb
    if mode == "P":
        return rgb.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    if mode == "RGBA":
        rgba = rgb.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize(size))
        return rgba
    return rgb.convert(mode)


def icc_profile() -> bytes:
    """A real ICC profile (its description is free text)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_block(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "LeakCam"
    exif[0x0110] = "LC-9000"
    exif[0x013B] = SECRET
    exif[0x0131] = "SecretEditor 1.0"
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0xA431] = "SN123456789"  # BodySerialNumber
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 23.76)
    return exif


# --- JPEG ---------------------------------------------------------------------------------


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def insert_after_soi(jpeg: bytes, *segments: bytes) -> bytes:
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def first_scan_offset(jpeg: bytes) -> int:
    """Offset of the first SOS marker, found by walking segment lengths (an EXIF thumbnail
    holds its own SOS bytes, so a plain search would find the wrong one)."""
    pos = 2
    while True:
        while jpeg[pos] == 0xFF and jpeg[pos + 1] == 0xFF:
            pos += 1
        if jpeg[pos] != 0xFF:  # stray bytes between segments
            pos = jpeg.index(b"\xff", pos)
            continue
        marker = jpeg[pos + 1]
        if marker == 0xDA:
            return pos
        pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")


def dirty_jpeg(tmp: Path, *, orientation: int = 6, progressive: bool = False) -> bytes:
    """A JPEG with EXIF (GPS, serial, thumbnail), XMP, IPTC, ICC, COM, JUMBF, MPF and an
    extra image after the end marker."""
    buffer = io.BytesIO()
    picture().save(
        buffer,
        "JPEG",
        quality=90,
        progressive=progressive,
        exif=exif_block(orientation),
        icc_profile=icc_profile(),
        comment=b"shot by " + SECRET.encode(),
    )
    path = tmp / "dirty.jpg"
    path.write_bytes(buffer.getvalue())
    thumb = tmp / "thumb.jpg"
    picture(size=(16, 12), seed=2).save(thumb, "JPEG")
    exiftool_write(path, [*EXIFTOOL_DIRT, *IPTC_DIRT, f"-ThumbnailImage<={thumb}"])
    data = path.read_bytes()
    mpf = jpeg_segment(0xE2, b"MPF\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00")
    jumbf = jpeg_segment(0xEB, b"JP\x00\x01\x00\x00\x00\x01" + b"c2pa claim by " + SECRET.encode())
    data = insert_after_soi(data, mpf, jumbf)
    extra = io.BytesIO()
    picture(size=(32, 32), seed=3).save(extra, "JPEG", comment=SECRET.encode())
    return data + extra.getvalue()


def odd_jpeg() -> bytes:
    """Progressive, restart markers, fill bytes and stray bytes between segments."""
    buffer = io.BytesIO()
    picture(size=(80, 56), seed=4).save(
        buffer, "JPEG", quality=85, progressive=True, restart_marker_blocks=2, comment=b"x"
    )
    data = buffer.getvalue()
    first_dht = data.index(b"\xff\xc4")
    # Fill bytes before a marker, and stray bytes between two segments.
    data = data[:first_dht] + b"junk" + b"\xff\xff\xff" + data[first_dht:]
    return data


# --- PNG ----------------------------------------------------------------------------------


def png_chunk(ctype: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(ctype + payload)
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", crc)


def dirty_png(mode: str = "RGB") -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    info.add_text("Comment", "made at the office", zip=True)
    info.add_itxt("Description", SECRET + " wrote this", lang="en")
    image = picture(mode if mode != "I;16" else "L")
    if mode == "I;16":
        image = image.convert("I").point(lambda v: v * 257).convert("I;16")
    buffer = io.BytesIO()
    image.save(
        buffer,
        "PNG",
        pnginfo=info,
        exif=exif_block(),
        icc_profile=icc_profile(),
        xmp=f"<x:xmpmeta><dc:creator>{SECRET}</dc:creator></x:xmpmeta>".encode(),
        **({"transparency": 0} if mode == "P" else {}),
    )
    data = buffer.getvalue()
    iend = data.rindex(b"IEND") - 4
    extra = png_chunk(b"tIME", b"\x07\xe8\x05\x06\x07\x08\x09") + png_chunk(
        b"prVt", SECRET.encode()
    )
    return data[:iend] + extra + data[iend:] + b"appended " + SECRET.encode()


def dirty_apng() -> bytes:
    frames = [picture("RGBA", seed=s) for s in range(3)]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "PNG",
        save_all=True,
        append_images=frames[1:],
        duration=[100, 200, 300],
        loop=0,
        pnginfo=_png_text(),
    )
    return buffer.getvalue()


def _png_text() -> object:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    return info


# --- GIF ----------------------------------------------------------------------------------


def _gif_app_extension(app_id: bytes, payload: bytes) -> bytes:
    blocks = b"".join(
        bytes([len(payload[i : i + 255])]) + payload[i : i + 255]
        for i in range(0, len(payload), 255)
    )
    return b"\x21\xff" + bytes([len(app_id)]) + app_id + blocks + b"\x00"


def dirty_gif(animated: bool = True) -> bytes:
    frames = [picture("P", size=(40, 30), seed=s) for s in range(3 if animated else 1)]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "GIF",
        save_all=animated,
        append_images=frames[1:],
        duration=[120, 80, 250] if animated else 100,
        loop=0,
        comment=b"by " + SECRET.encode(),
        optimize=False,
        disposal=1,
    )
    data = buffer.getvalue()
    xmp = _gif_app_extension(b"XMP DataXMP", f"<x:xmpmeta>{SECRET}</x:xmpmeta>".encode())
    icc = _gif_app_extension(b"ICCRGBG1012", icc_profile())
    # After the global colour table: header 13 bytes + palette.
    packed = data[10]
    at = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    trailer = data.rindex(b"\x3b")
    return data[:at] + xmp + icc + data[at:trailer] + b"\x3b" + b"after " + SECRET.encode()


# --- WebP ---------------------------------------------------------------------------------


def dirty_webp(kind: str) -> bytes:
    buffer = io.BytesIO()
    common = {
        "exif": exif_block(),
        "icc_profile": icc_profile(),
        "xmp": f"<x:xmpmeta>{SECRET}</x:xmpmeta>".encode(),
    }
    if kind == "lossless":
        picture("RGBA").save(buffer, "WEBP", lossless=True, **common)
    elif kind == "lossy":
        picture().save(buffer, "WEBP", quality=80, **common)
    else:
        frames = [picture("RGBA", seed=s) for s in range(3)]
        frames[0].save(
            buffer,
            "WEBP",
            save_all=True,
            append_images=frames[1:],
            duration=[100, 150, 200],
            lossless=True,
            **common,
        )
    return buffer.getvalue()


# --- TIFF ---------------------------------------------------------------------------------


def dirty_tiff(tmp: Path, mode: str = "RGB", compression: str = "tiff_lzw") -> bytes:
    pages = [picture(mode if mode != "I;16" else "L", seed=s) for s in range(2)]
    if mode == "I;16":
        pages = [p.convert("I").point(lambda v: v * 257).convert("I;16") for p in pages]
    path = tmp / "dirty.tif"
    pages[0].save(
        path,
        "TIFF",
        save_all=True,
        append_images=pages[1:],
        compression=compression,
        icc_profile=icc_profile(),
    )
    exiftool_write(path, [*EXIFTOOL_DIRT, *IPTC_DIRT, "-Orientation#=6"])
    return path.read_bytes()


# --- BMP ----------------------------------------------------------------------------------


def dirty_bmp(mode: str = "RGB") -> bytes:
    """A BMP with a V5 header carrying an embedded ICC profile, plus appended bytes."""
    buffer = io.BytesIO()
    picture(mode, size=(37, 21)).save(buffer, "BMP")
    data = buffer.getvalue()
    info = bytearray(data[14:54])
    profile = icc_profile()
    rest = data[54:]  # palette + pixels
    v5 = bytearray(124)
    v5[:40] = info
    v5[0:4] = struct.pack("<I", 124)
    v5[56:60] = struct.pack("<I", 0x4D424544)  # 'MBED'
    v5[108:112] = struct.pack("<I", 4)  # intent
    pixel_offset = 14 + 124 + (int.from_bytes(data[10:14], "little") - 54)
    profile_at = 124 + len(rest)  # from the start of the info header
    v5[112:116] = struct.pack("<I", profile_at)
    v5[116:120] = struct.pack("<I", len(profile))
    body = bytes(v5) + rest + profile + b"tail " + SECRET.encode()
    header = (
        b"BM" + struct.pack("<I", 14 + len(body)) + b"\x00" * 4 + struct.pack("<I", pixel_offset)
    )
    return header + body


# --- HEIF ---------------------------------------------------------------------------------


def dirty_heif(bits: int = 8) -> bytes:
    image = picture(size=(64, 48))
    buffer = io.BytesIO()
    heif = pillow_heif.from_pillow(image)
    if bits > 8:
        heif = pillow_heif.from_bytes(
            "RGB;16",
            image.size,
            b"".join((v * 257).to_bytes(2, "little") for v in image.tobytes()),
        )
    heif.save(
        buffer,
        quality=90,
        exif=exif_block(orientation=1).tobytes(),
        xmp=f"<x:xmpmeta>{SECRET}</x:xmpmeta>".encode(),
        icc_profile=icc_profile(),
    )
    return buffer.getvalue()


def png_pixels(png: bytes) -> tuple[int, int, int, int, bytes]:
    """Decode a non-interlaced PNG written with filter 0 only (as the HEIF converter writes
    them): (width, height, bit depth, colour type, raw samples)."""
    pos, idat = 8, b""
    width = height = bits = colour = 0
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        ctype = png[pos + 4 : pos + 8]
        payload = png[pos + 8 : pos + 8 + length]
        if ctype == b"IHDR":
            width, height = struct.unpack(">II", payload[:8])
            bits, colour = payload[8], payload[9]
        elif ctype == b"IDAT":
            idat += payload
        pos += 12 + length
    raw = zlib.decompress(idat)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    row = width * channels * bits // 8
    rows = []
    for y in range(height):
        line = raw[y * (row + 1) : (y + 1) * (row + 1)]
        assert line[0] == 0, "only filter 0 is decoded here"
        rows.append(line[1:])
    return width, height, bits, colour, b"".join(rows)
