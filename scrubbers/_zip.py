"""Bounded reading and deterministic writing of zip packages (OOXML, ODF, EPUB, archives).

The files those packages embed are cleaned by the core (`scrubbers._core.scrub_embedded`).

Reading trusts nothing the archive declares: member count, per-member and total uncompressed
size and the compression ratio are checked before anything is inflated, and inflation itself
stops at the declared size. Names that could escape a directory when someone later extracts
the file (absolute, ``..``, backslashes, drive letters) or that are ambiguous (duplicates,
also case-insensitively: OPC part names are case-insensitive) make the package refused.

Writing is deterministic: a fixed member order, date 1980-01-01 00:00, no extra fields (they
carry timestamps and the writer's uid/gid), no comments, fixed creator system and permissions.
Two cleanings of the same file give the same bytes, and nothing of the original archive's
layout (order, dates, tool fingerprints, data hidden between members) survives.

A large archive is read by ranges (`open_archive` over a `RangeSource`) and written to a
`Sink` member by member (`PackageWriter`): one member at a time in RAM, never the archive.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from lzma import LZMAError

from scrubbers._ranges import BytesSink, Data, Sink, SourceReader
from scrubbers._sniff import sniff
from scrubbers._sniff_zip import find_eocd
from scrubbers._types import Attachment, Limits, ScrubReport
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_UNIX = 3
_FILE_MODE = 0o100644 << 16
_DIR_MODE = (0o40755 << 16) | 0x10  # and the MS-DOS directory bit
_CHUNK = 1024 * 1024
# Below this size a high compression ratio is normal (XML of repeated tags compresses very
# well) and cannot hurt: the per-member and total caps still hold.
_RATIO_FLOOR = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
# `zipfile` reads the whole central directory at once and makes an object of each entry
# before the member count can be checked: for an archive read by ranges, its declared size is
# bounded first (a name, a few extra fields: far less than this per member).
_DIRECTORY_BYTES_PER_MEMBER = 1024


@dataclass(frozen=True)
class Package:
    """The members of a zip package, by name, in central-directory order (directories left out)."""

    members: dict[str, bytes]
    # Zip-level identifying fields present: "zip:timestamps", "zip:extra-fields", "zip:comment".
    traces: tuple[str, ...]


def _check_name(name: str) -> None:
    # Zip-slip: such a name could write outside the target directory when the editors (or a
    # tool of theirs) extract the file; no office package needs one, so refuse the package.
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or _DRIVE.match(name)
        or any(part in ("..", ".") for part in name.split("/"))
    ):
        raise CorruptFileError("unsafe member name in zip")


OFFICE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# What `zipfile` inflates itself; an archive may use any of them (office packages do not).
ARCHIVE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_S_IFMT = 0o170000
_S_IFLNK = 0o120000


@contextmanager
def zip_errors() -> Iterator[None]:
    """Translate what `zipfile` and the inflaters raise on a broken archive."""
    try:
        yield
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, KeyError) as exc:
        raise CorruptFileError("corrupt zip") from exc
    except (ValueError, NotImplementedError, RuntimeError, LZMAError) as exc:
        raise CorruptFileError("unreadable zip") from exc


def open_archive(untrusted_data: Data, limits: Limits) -> zipfile.ZipFile:
    """`zipfile` over the archive in RAM, or over a large one read by ranges (its directory
    bounded first). Call under `zip_errors`."""
    if isinstance(untrusted_data, bytes):
        return zipfile.ZipFile(io.BytesIO(untrusted_data))
    found = find_eocd(untrusted_data)
    if found is not None:
        if found[1] > limits.max_zip_members:
            raise LimitExceededError("too many zip members")
        if found[2] > limits.max_zip_members * _DIRECTORY_BYTES_PER_MEMBER:
            raise LimitExceededError("zip directory too large")
    return zipfile.ZipFile(io.BufferedReader(SourceReader(untrusted_data)))


def is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == _UNIX and (info.external_attr >> 16) & _S_IFMT == _S_IFLNK


def checked_infos(
    archive: zipfile.ZipFile, limits: Limits, methods: tuple[int, ...] = OFFICE_METHODS
) -> tuple[list[zipfile.ZipInfo], tuple[str, ...]]:
    """Every entry, directories included, after all the bounds were checked on what the
    archive declares (nothing inflated yet); and the zip-level traces found."""
    infos = archive.infolist()
    if len(infos) > limits.max_zip_members:
        raise LimitExceededError("too many zip members")
    traces: set[str] = set()
    if archive.comment:
        traces.add("zip:comment")
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        _check_name(name)
        # Two members with the same (case-folded) name: readers disagree on which one
        # counts, so we could clean one while the editors' software shows the other.
        folded = name.casefold()
        if folded in seen:
            raise CorruptFileError("duplicate member name in zip")
        seen.add(folded)
        if info.flag_bits & 0x1:
            raise UnsupportedTypeError("encrypted zip member")
        if info.compress_type not in methods:
            raise UnsupportedTypeError("unsupported zip compression")
        # Decompression bombs: check the declared sizes before inflating anything.
        if info.file_size > limits.max_zip_member_bytes:
            raise LimitExceededError("zip member too large")
        total += info.file_size
        if total > limits.max_zip_total_bytes:
            raise LimitExceededError("zip package too large")
        if info.file_size > _RATIO_FLOOR and (
            info.file_size > limits.max_zip_ratio * max(info.compress_size, 1)
        ):
            raise LimitExceededError("zip member compression ratio too high")
        if info.date_time != FIXED_DATE:
            traces.add("zip:timestamps")
        if info.extra:
            traces.add("zip:extra-fields")
        if info.comment:
            traces.add("zip:comment")
        if info.create_system != _UNIX or info.external_attr not in (_FILE_MODE, _DIR_MODE):
            traces.add("zip:permissions")
    return infos, tuple(sorted(traces))


def read_package(untrusted_data: bytes, limits: Limits) -> Package:
    """Read all members with every bound applied. Raises ScrubError subclasses only."""
    with zip_errors(), zipfile.ZipFile(io.BytesIO(untrusted_data)) as archive:
        infos, traces = checked_infos(archive, limits)
        members: dict[str, bytes] = {}
        for info in infos:
            if not info.is_dir():
                members[info.filename] = read_member(archive, info)
    return Package(members, traces)


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    # The inflater stops at the declared size and checks the CRC at the end; the running
    # count is a second bound that does not depend on zipfile's internals.
    chunks: list[bytes] = []
    count = 0
    with archive.open(info) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            count += len(chunk)
            if count > info.file_size:
                raise LimitExceededError("zip member larger than declared")
            chunks.append(chunk)
    return b"".join(chunks)


class _SinkFile:
    """The file `zipfile` writes into, over a sink: the member being written is held back
    until it is complete (`zipfile` goes back to its local header to fill in the CRC and
    sizes), then sent on with `commit`. Memory: one compressed member, never the archive."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._sent = 0  # bytes already in the sink: no longer writable
        self._held = bytearray()
        self._position = 0

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET or not self._sent <= offset <= self._sent + len(self._held):
            raise io.UnsupportedOperation("seek outside the member being written")
        self._position = offset
        return offset

    def write(self, data: bytes) -> int:
        start = self._position - self._sent
        self._held[start : start + len(data)] = data
        self._position += len(data)
        return len(data)

    def commit(self) -> None:
        self._sink.write(self._held)
        self._sent += len(self._held)
        self._held = bytearray()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class PackageWriter:
    """Writes members one by one, deterministically: date 1980-01-01 00:00, no extra fields
    (they carry timestamps and the writer's uid/gid), no comments, Unix creator, fixed
    permissions (0644 files, 0755 directories). Each member goes to `sink` once written."""

    def __init__(self, sink: Sink) -> None:
        self._file = _SinkFile(sink)
        self._archive = zipfile.ZipFile(self._file, "w")
        self.entries = 0

    def add(self, name: str, data: bytes, *, stored: bool = False) -> None:
        """`stored`: uncompressed whatever the data (an ODF or EPUB mimetype); already
        compressed media (`is_compressed_media`) are stored too, the rest deflated."""
        info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
        info.create_system = _UNIX
        info.external_attr = _FILE_MODE
        stored = stored or is_compressed_media(data)
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        self._archive.writestr(info, data, compresslevel=6)
        self._file.commit()
        self.entries += 1

    def add_directory(self, name: str) -> None:
        info = zipfile.ZipInfo(name.rstrip("/") + "/", date_time=FIXED_DATE)
        info.create_system = _UNIX
        info.external_attr = _DIR_MODE
        self._archive.writestr(info, b"")
        self._file.commit()
        self.entries += 1

    def finish(self) -> None:
        """Write the central directory (the end of the archive)."""
        self._archive.close()
        self._file.commit()


# Formats whose data are compressed already: deflated again they shrink by nothing, and
# deflating a 600 KB photo was 13 of an office document's 30 ms. Stored, as LibreOffice
# stores pictures; the choice follows from the bytes alone, like everything in the output.
_COMPRESSED_MEDIA = frozenset(
    {"jpeg", "png", "gif", "webp", "heif", "mp4", "mov", "m4a", "3gp", "mkv", "webm", "mp3"}
    | {"flac", "ogg", "opus", "zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "odg", "epub"}
)


def is_compressed_media(data: bytes) -> bool:
    """Whether `data` is in a format that is compressed already (sniffed from its bytes;
    XML, the bulk of a package, is never)."""
    return not looks_like_xml(data) and sniff(data).name in _COMPRESSED_MEDIA


def write_package(
    members: Mapping[str, bytes],
    *,
    first: Iterable[str] = (),
    stored: Iterable[str] = (),
) -> bytes:
    """Write members deterministically: ``first`` (if present) in that order, then the rest
    sorted by name; ``stored`` members uncompressed, the others deflated."""
    stored_names = set(stored)
    head = [name for name in first if name in members]
    order = head + sorted(name for name in members if name not in head)
    sink = BytesSink(b"")
    writer = PackageWriter(sink)
    for name in order:
        writer.add(name, members[name], stored=name in stored_names)
    writer.finish()
    return sink.getvalue()


# What a part's bytes are, whatever the package declares ([Content_Types].xml, the manifest's
# media type, the extension): a "font" holding a JPEG is a JPEG (issue 10).
_FONT_SIGNATURES = (b"\x00\x01\x00\x00", b"true", b"typ1", b"OTTO", b"ttcf", b"wOFF", b"wOF2")
_CFB_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2 compound file (legacy binary)
_GUID_HEX = re.compile(r"[0-9a-fA-F]{32}")


def looks_like_xml(untrusted_data: bytes) -> bool:
    """An XML document (any encoding Office and LibreOffice write: UTF-8 with or without a BOM,
    UTF-16 with a BOM), judged from the first bytes."""
    head = untrusted_data[:64]
    if head.startswith((b"\xff\xfe<\x00", b"\xfe\xff\x00<")):
        return True
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n").startswith(b"<")


def is_cfb(untrusted_data: bytes) -> bool:
    return untrusted_data.startswith(_CFB_SIGNATURE)


def font_key(guid: str) -> bytes | None:
    """The XOR key of Word's font obfuscation (ECMA-376 Part 1 §17.8.1) from a GUID as
    written ("{0A1B2C3D-...}", in a ``w:fontKey`` or a part's name): its 16 bytes in reverse
    order; None when the text holds no GUID."""
    found = _GUID_HEX.search(guid.replace("-", ""))
    return None if found is None else bytes.fromhex(found.group(0))[::-1]


def xor_font_key(untrusted_data: bytes, key: bytes) -> bytes:
    """Word's obfuscation of a font's first 32 bytes by ``key`` (`font_key`): the same XOR
    obfuscates and restores it."""
    head = bytes(byte ^ key[i % 16] for i, byte in enumerate(untrusted_data[:32]))
    return head + untrusted_data[32:]


def is_font(name: str, untrusted_data: bytes, obfuscation_key: bytes | None = None) -> bool:
    """A TrueType/OpenType/WOFF font, an Embedded OpenType (PowerPoint's .fntdata), or Word's
    obfuscated font (.odttf: the first 32 bytes XORed with ``obfuscation_key``, the key its
    font table gives, or with the GUID of the part's name)."""
    if untrusted_data.startswith(_FONT_SIGNATURES):
        return True
    # EOT: a fixed header whose magic number 0x504C sits at offset 34, and whose first field
    # is the total size (the font data follows the header).
    if len(untrusted_data) > 82 and untrusted_data[34:36] == b"LP":
        declared = int.from_bytes(untrusted_data[0:4], "little")
        if declared == len(untrusted_data):
            return True
    return font_obfuscation_key(name, untrusted_data, obfuscation_key) is not None


def font_obfuscation_key(
    name: str, untrusted_data: bytes, obfuscation_key: bytes | None = None
) -> bytes | None:
    """The key that restores Word's obfuscated font: ``obfuscation_key`` (its font table's),
    else the GUID of the part's name; None if neither does."""
    if len(untrusted_data) < 32:
        return None
    for key in (obfuscation_key, font_key(name.rsplit("/", 1)[-1])):
        if key is not None and xor_font_key(untrusted_data[:32], key).startswith(_FONT_SIGNATURES):
            return key
    return None


def not_cleaned(untrusted_name: str, untrusted_data: bytes, reason: str) -> Attachment:
    """A part taken out of a package because no scrubber can vouch for it, handed back on its
    own, as received, marked not cleaned (nothing accepted is lost; the package stays clean)."""
    report = ScrubReport(sniff(untrusted_data), False, untrusted_data, reason=reason)
    return Attachment(untrusted_name, report)


def attachment_bytes(attachments: Iterable[Attachment]) -> int:
    """What handing these back costs: their bytes and those of the files found in them."""
    total = 0
    pending = list(attachments)
    while pending:
        attachment = pending.pop()
        total += len(attachment.report.data)
        pending.extend(attachment.report.attachments)
    return total


def check_attachment_budget(attachments: Iterable[Attachment], limits: Limits) -> None:
    """The worker's answer holds the attachments beside the cleaned file, within the input's
    size (`_sandbox._max_answer`): past that, refuse here, with a reason, rather than have the
    answer refused as too large."""
    if attachment_bytes(attachments) > limits.max_input_bytes:
        raise LimitExceededError("too much to hand back on its own")
