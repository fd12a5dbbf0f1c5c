"""The EXIF/TIFF IFD walker: every entry of every directory, bounded, and the names of the
fields people recognise (shared by the JPEG, TIFF, PNG, WebP and HEIF scrubbers)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from scrubbers.errors import CorruptFileError, LimitExceededError

TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MAX_IFDS = 4096  # pages + sub-IFDs; a loop or a fan-out bomb stops here
_MAX_IFD_ENTRIES = 100_000
_POINTER_TAGS = {0x8769: "exif", 0x8825: "gps", 0xA005: "interop", 0x014A: "subifd"}

# Names for the tags people recognise; any other tag is reported by number.
EXIF_TAG_NAMES = {
    0x0100: "ImageWidth",
    0x0101: "ImageHeight",
    0x011A: "XResolution",
    0x011B: "YResolution",
    0x0128: "ResolutionUnit",
    0x0213: "YCbCrPositioning",
    0x0214: "ReferenceBlackWhite",
    0x829A: "ExposureTime",
    0x829D: "FNumber",
    0x8822: "ExposureProgram",
    0x8827: "ISO",
    0x8830: "SensitivityType",
    0x8832: "RecommendedExposureIndex",
    0x9000: "ExifVersion",
    0x9101: "ComponentsConfiguration",
    0x9102: "CompressedBitsPerPixel",
    0x9201: "ShutterSpeedValue",
    0x9202: "ApertureValue",
    0x9203: "BrightnessValue",
    0x9204: "ExposureCompensation",
    0x9205: "MaxApertureValue",
    0x9206: "SubjectDistance",
    0x9207: "MeteringMode",
    0x9208: "LightSource",
    0x9209: "Flash",
    0x920A: "FocalLength",
    0x9214: "SubjectArea",
    0xA000: "FlashpixVersion",
    0xA001: "ColorSpace",
    0xA002: "ExifImageWidth",
    0xA003: "ExifImageHeight",
    0xA20E: "FocalPlaneXResolution",
    0xA20F: "FocalPlaneYResolution",
    0xA210: "FocalPlaneResolutionUnit",
    0xA217: "SensingMethod",
    0xA300: "FileSource",
    0xA301: "SceneType",
    0xA401: "CustomRendered",
    0xA402: "ExposureMode",
    0xA403: "WhiteBalance",
    0xA404: "DigitalZoomRatio",
    0xA405: "FocalLengthIn35mmFormat",
    0xA406: "SceneCaptureType",
    0xA407: "GainControl",
    0xA408: "Contrast",
    0xA409: "Saturation",
    0xA40A: "Sharpness",
    0xA40C: "SubjectDistanceRange",
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0112: "Orientation",
    0x0131: "Software",
    0x0132: "ModifyDate",
    0x013B: "Artist",
    0x013C: "HostComputer",
    0x010D: "DocumentName",
    0x011D: "PageName",
    0x8298: "Copyright",
    0x83BB: "IPTC",
    0x8649: "Photoshop",
    0x02BC: "XMP",
    0x8773: "ICCProfile",
    0x9003: "DateTimeOriginal",
    0x9004: "CreateDate",
    0x9010: "OffsetTime",
    0x9011: "OffsetTimeOriginal",
    0x9012: "OffsetTimeDigitized",
    0x9290: "SubSecTime",
    0x9291: "SubSecTimeOriginal",
    0x9292: "SubSecTimeDigitized",
    0x927C: "MakerNote",
    0x9286: "UserComment",
    0x9C9B: "XPTitle",
    0x9C9C: "XPComment",
    0x9C9D: "XPAuthor",
    0x9C9E: "XPKeywords",
    0x9C9F: "XPSubject",
    0xA420: "ImageUniqueID",
    0xA430: "OwnerName",
    0xA431: "SerialNumber",
    0xA432: "LensInfo",
    0xA433: "LensMake",
    0xA434: "LensModel",
    0xA435: "LensSerialNumber",
    0xC4A5: "PrintIM",
    0xEA1C: "Padding",
    0x882A: "TimeZoneOffset",
    0xFDE8: "OwnerName",
}


@dataclass(frozen=True)
class IfdEntry:
    ifd: str  # "ifd0", "ifd1", "ifd2"..., "exif", "gps", "interop", "subifd"
    tag: int
    type: int
    count: int
    value_offset: int  # where the value (or the pointer to it) starts in the TIFF bytes


def _tiff_order(untrusted_tiff: bytes) -> Literal["little", "big"]:
    if untrusted_tiff[:4] == b"MM\x00\x2a":
        return "big"
    if untrusted_tiff[:4] == b"II\x2a\x00":
        return "little"
    raise CorruptFileError("not a TIFF structure")


def ifd_entries(untrusted_tiff: bytes) -> Iterator[IfdEntry]:
    """Every entry of every IFD reachable from the header: the page chain, EXIF, GPS,
    interoperability and sub-IFDs. Bounded: each IFD is visited once, at most `_MAX_IFDS`.

    Raises `CorruptFileError` on a malformed structure.
    """
    order = _tiff_order(untrusted_tiff)
    size = len(untrusted_tiff)

    def u16(at: int) -> int:
        return int.from_bytes(untrusted_tiff[at : at + 2], order)

    def u32(at: int) -> int:
        return int.from_bytes(untrusted_tiff[at : at + 4], order)

    queue: list[tuple[str, int]] = [("ifd0", u32(4))]
    seen: set[int] = set()
    page = 0
    entries = 0
    while queue:
        if len(queue) > _MAX_IFDS:
            raise LimitExceededError("too many TIFF directories")
        kind, offset = queue.pop(0)
        if offset == 0:
            continue
        # A cycle (an IFD pointing back at itself) would loop forever: visit once.
        if offset in seen:
            continue
        seen.add(offset)
        if len(seen) > _MAX_IFDS:
            raise LimitExceededError("too many TIFF directories")
        if offset + 2 > size:
            raise CorruptFileError("IFD offset out of range")
        count = u16(offset)
        if offset + 2 + 12 * count + 4 > size:
            raise CorruptFileError("IFD runs past the end")
        entries += count
        if entries > _MAX_IFD_ENTRIES:
            raise LimitExceededError("too many TIFF tags")
        for index in range(count):
            at = offset + 2 + 12 * index
            tag, typ, n = u16(at), u16(at + 2), u32(at + 4)
            entry = IfdEntry(kind, tag, typ, n, at + 8)
            yield entry
            child = _POINTER_TAGS.get(tag)
            if child is not None and typ in (4, 13) and n >= 1:
                if n == 1:
                    queue.append((child, u32(at + 8)))
                elif n * 4 <= size:
                    values_at = u32(at + 8)
                    if values_at + 4 * n > size:
                        raise CorruptFileError("sub-IFD list out of range")
                    queue.extend((child, u32(values_at + 4 * i)) for i in range(n))
        if kind.startswith("ifd"):
            page += 1
            queue.append((f"ifd{page}", u32(offset + 2 + 12 * count)))


def _entry_name(entry: IfdEntry) -> str | None:
    if entry.tag in _POINTER_TAGS:
        return None  # the pointer itself says nothing; what it points to is named
    if entry.ifd == "gps":
        return "exif:GPS"
    if entry.ifd == "interop":
        return "exif:Interop"
    if entry.ifd not in ("ifd0", "exif"):
        # IFD1 of EXIF is the embedded thumbnail: a whole JPEG with its own metadata,
        # sometimes showing the picture before it was cropped.
        return "exif:Thumbnail"
    name = EXIF_TAG_NAMES.get(entry.tag)
    return f"exif:{name}" if name else f"exif:0x{entry.tag:04X}"


def exif_field_names(untrusted_tiff: bytes) -> list[str]:
    """Names of the fields in an EXIF block (the TIFF structure after ``Exif\\0\\0``).

    Never empty: an EXIF block that cannot be parsed is still reported as ``exif``.
    """
    try:
        names = {n for e in ifd_entries(untrusted_tiff) if (n := _entry_name(e))}
    except (CorruptFileError, LimitExceededError):
        return ["exif"]
    return sorted(names) or ["exif"]


def exif_orientation(untrusted_tiff: bytes) -> int:
    """The IFD0 Orientation (1..8) of an EXIF block; 1 when absent or invalid."""
    try:
        order = _tiff_order(untrusted_tiff)
        for entry in ifd_entries(untrusted_tiff):
            if entry.ifd == "ifd0" and entry.tag == 0x0112 and entry.type == 3:
                at = entry.value_offset
                value = int.from_bytes(untrusted_tiff[at : at + 2], order)
                return value if 1 <= value <= 8 else 1
            if entry.ifd != "ifd0":
                break
    except (CorruptFileError, LimitExceededError):
        return 1
    return 1
