"""The scrubbers framework: sniffing, polyglots, the wire format, and the sandbox.

Sandbox tests replace the worker's job (never a part of the parent) through the test-only
``_worker_target`` seam: a real worker process, with its real limits, that segfaults, hangs,
spins, allocates without end, forks, or answers garbage. Each must end as "not cleaned" with
the right reason, the original bytes kept, no process left behind, and the next file cleaned
as usual.
"""

from __future__ import annotations

import ctypes
import errno
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pikepdf
import pillow_heif
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from scrubbers import (
    AmbiguousTypeError,
    ForbiddenOperationError,
    LimitExceededError,
    Limits,
    ScrubReport,
    ScrubTimeoutError,
    UnsupportedTypeError,
    WorkerCrashedError,
    _confine,
    _sniff,
    _sniff_zip,
    _wire,
    scrub,
    scrub_sandboxed,
    sniff,
)
from scrubbers._sandbox import recv_frame, send_frame
from scrubbers._types import Attachment

# --- self-made fixtures --------------------------------------------------------------------


def _image(fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(out, fmt, **kwargs)
    return out.getvalue()


def _pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    pdf.docinfo["/Author"] = "Jane Source"
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _heif() -> bytes:
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (16, 16), (10, 200, 10))).save(out, quality=90)
    return out.getvalue()


def _zip(members: list[tuple[str, bytes]], *, stored_first: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for index, (name, data) in enumerate(members):
            method = zipfile.ZIP_STORED if stored_first and index == 0 else zipfile.ZIP_DEFLATED
            package.writestr(name, data, compress_type=method)
    return out.getvalue()


def _ooxml(main_part: str) -> bytes:
    return _zip(
        [
            ("[Content_Types].xml", b'<?xml version="1.0"?><Types/>'),
            ("_rels/.rels", b'<?xml version="1.0"?><Relationships/>'),
            (main_part, b'<?xml version="1.0"?><x/>'),
        ]
    )


def _odf(media_type: str) -> bytes:
    return _zip([("mimetype", media_type.encode()), ("content.xml", b"<x/>")], stored_first=True)


FIXTURES: dict[str, Callable[[], bytes]] = {
    "pdf": _pdf,
    "jpeg": lambda: _image("JPEG"),
    "png": lambda: _image("PNG"),
    "gif": lambda: _image("GIF"),
    "webp": lambda: _image("WEBP", lossless=True),
    "tiff": lambda: _image("TIFF"),
    "bmp": lambda: _image("BMP"),
    "heif": _heif,
    "docx": lambda: _ooxml("word/document.xml"),
    "xlsx": lambda: _ooxml("xl/workbook.xml"),
    "pptx": lambda: _ooxml("ppt/presentation.xml"),
    "odt": lambda: _odf("application/vnd.oasis.opendocument.text"),
    "ods": lambda: _odf("application/vnd.oasis.opendocument.spreadsheet"),
    "odp": lambda: _odf("application/vnd.oasis.opendocument.presentation"),
    "odg": lambda: _odf("application/vnd.oasis.opendocument.graphics"),
    "epub": lambda: _zip(
        [("mimetype", b"application/epub+zip"), ("a.css", b"")], stored_first=True
    ),
    "zip": lambda: _zip([("notes.bin", b"\x00hello"), ("photo.bin", b"\x00" * 10)]),
    "svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>',
    "html": lambda: b"<!-- saved from url=(0022)http://intranet.x/ -->\n<html><p>x</p></html>",
    "text": lambda: b"Dear editors,\nplain text has nothing hidden to clean.\n",
    "unknown": lambda: b"\x00\x01 a format no scrubber knows \x02\x03",
}


# --- sniffing ------------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", sorted(FIXTURES))
def test_sniff_reads_the_bytes_not_the_name(tmp_path: Path, type_name: str) -> None:
    # Renamed to .txt (and given a lying name): only the bytes decide.
    path = tmp_path / "innocent-notes.txt"
    path.write_bytes(FIXTURES[type_name]())
    assert sniff(path.read_bytes()).name == type_name


def test_pdf_behind_junk_is_a_pdf() -> None:
    # Readers accept the header anywhere in the first KiB: so does the sniffer.
    assert sniff(b"junk junk\n" * 50 + _pdf()).name == "pdf"
    assert sniff(b"x" * 1100 + _pdf()).name == "unknown"


def test_odf_mimetype_anywhere_and_deflated() -> None:
    # LibreOffice writes `mimetype` first and stored; other writers (mat2's corpus) do not.
    media = b"application/vnd.oasis.opendocument.text"
    late = _zip([("content.xml", b"<x/>"), ("mimetype", media)])
    assert sniff(late).name == "odt"
    template = _zip([("mimetype", media + b"-template")])
    assert sniff(template).name == "odt"
    other = _zip([("mimetype", b"application/epub+zip"), ("content.xml", b"<x/>")])
    assert sniff(other).name == "zip"  # EPUB's mimetype must be first and stored


def test_mimetype_bomb_is_read_bounded() -> None:
    bomb = _zip([("mimetype", b"application/vnd.oasis.opendocument.text" + b" " * 50_000_000)])
    assert len(bomb) < 200_000
    tracemalloc.start()
    try:
        file_type = sniff(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert file_type.name == "odt"  # the first bytes are read, and only those
    assert peak < 5 * 1024 * 1024  # not 50 MB inflated


def test_zip_directory_walk_is_capped() -> None:
    # The sniffer runs in the server itself: a zip of very many members must not cost it
    # memory in proportion. Past the cap, a main part listed last is not looked for.
    members = [(f"m{i}", b"") for i in range(_sniff_zip.MAX_SNIFF_ENTRIES + 5)]
    late_main = _zip([*members, ("word/document.xml", b"<x/>")])
    assert sniff(late_main).name == "zip"
    early_main = _zip([("word/document.xml", b"<x/>"), *members])
    assert sniff(early_main).name == "docx"


def test_zip64_directory_is_understood() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("word/document.xml", b"<x/>")
        for i in range(70_000):  # > 65 535 entries: zipfile writes the zip64 end records
            package.writestr(zipfile.ZipInfo(f"{i}"), b"")
    data = out.getvalue()
    assert b"PK\x06\x06" in data[-200:]
    assert sniff(data).name == "docx"


@pytest.mark.parametrize(
    "untrusted",
    [b"", b"PK\x03\x04", b"PK\x03\x04" + b"\x00" * 100 + b"PK\x05\x06" + b"\xff" * 18],
)
def test_truncated_zips_sniff_without_error(untrusted: bytes) -> None:
    assert sniff(untrusted).name in ("unknown", "zip")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from(sorted(FIXTURES)))
def test_sniff_never_raises(noise: bytes, type_name: str) -> None:
    # Arbitrary bytes, and real files with noise spliced in (zip directories included).
    data = FIXTURES[type_name]()
    cut = len(noise) % (len(data) + 1)
    for candidate in (noise, data[:cut] + noise + data[cut + len(noise) :], data + noise):
        file_type = sniff(candidate)
        _sniff.is_polyglot(candidate, file_type)


# --- polyglots and unsupported types -------------------------------------------------------


def _jpeg_with_comment(comment: bytes) -> bytes:
    jpeg = _image("JPEG")
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return jpeg[:2] + segment + jpeg[2:]


POLYGLOTS: dict[str, Callable[[], bytes]] = {
    # A PDF reader finds "%PDF-" in the first KiB and opens a PDF; an image viewer a JPEG.
    "jpeg+pdf": lambda: _jpeg_with_comment(b"%PDF-1.4 " + _pdf()[:400]),
    # Zip readers start from the end: an image or PDF with a zip appended is both.
    "png+zip": lambda: _image("PNG") + FIXTURES["zip"](),
    "pdf+zip": lambda: _pdf() + FIXTURES["docx"](),
    "gif+docx": lambda: _image("GIF") + FIXTURES["docx"](),
    # A docx whose first (stored) member starts with a PDF header.
    "docx+pdf": lambda: _zip(
        [("a.bin", b"%PDF-1.7\n" + b"0" * 50), *[(n, b"<x/>") for n in ("word/document.xml",)]],
        stored_first=True,
    ),
}


@pytest.mark.parametrize("kind", sorted(POLYGLOTS))
def test_polyglots_are_refused_and_kept(kind: str) -> None:
    untrusted = POLYGLOTS[kind]()
    file_type = sniff(untrusted)
    assert file_type.name == kind.split("+")[0]
    assert _sniff.is_polyglot(untrusted, file_type)
    report = scrub_sandboxed(untrusted)
    assert not report.cleaned
    assert report.reason == AmbiguousTypeError.reason
    assert report.data == untrusted  # nothing accepted is lost


def test_not_polyglots() -> None:
    # A zip signature with no directory behind it, or "%PDF-" after the first KiB, is just
    # bytes: no false alarm on ordinary files.
    png = _image("PNG") + b"PK\x05\x06" + b"\x00" * 18
    assert not _sniff.is_polyglot(png, sniff(png))
    late = _jpeg_with_comment(b"x" * 1200 + b"%PDF-1.4")
    assert not _sniff.is_polyglot(late, sniff(late))
    docx = FIXTURES["docx"]()
    assert not _sniff.is_polyglot(docx, sniff(docx))


def test_zip_that_is_no_office_document_is_not_cleaned() -> None:
    untrusted = FIXTURES["zip"]()
    for report in (scrub(untrusted), scrub_sandboxed(untrusted)):
        assert report.file_type.name == "zip"
        assert not report.cleaned
        assert report.reason == UnsupportedTypeError.reason
        assert report.data == untrusted


def test_unknown_bytes_are_kept_as_received() -> None:
    untrusted = FIXTURES["unknown"]()
    report = scrub_sandboxed(untrusted)
    assert (report.cleaned, report.reason, report.data) == (
        False,
        UnsupportedTypeError.reason,
        untrusted,
    )
    assert report.to_json()["removed"] == []


def test_too_large_input_never_reaches_a_worker() -> None:
    untrusted = FIXTURES["png"]()
    report = scrub_sandboxed(untrusted, limits=Limits(max_input_bytes=len(untrusted) - 1))
    assert not report.cleaned
    assert report.reason == LimitExceededError.reason
    assert report.data == untrusted


# --- wire format ---------------------------------------------------------------------------


def _report(**changes: object) -> ScrubReport:
    base: dict[str, object] = {
        "file_type": _sniff.PDF,
        "cleaned": True,
        "data": b"%PDF-1.7 cleaned",
        "removed": ("pdf:Info/Author", "xmp"),
        "note": "rewritten",
    }
    base.update(changes)
    return ScrubReport(**base)  # type: ignore[arg-type]


def test_wire_round_trip_with_nested_attachments() -> None:
    inner = _report(
        file_type=_sniff.UNKNOWN,
        cleaned=False,
        data=b"raw",
        removed=(),
        reason="unsupported file type",
        note=None,
    )
    middle = _report(file_type=_sniff.DOCX, data=b"PK docx", attachments=(Attachment("x", inner),))
    report = _report(attachments=(Attachment("../../evil\x1b[2J.docx", middle),))
    decoded = _wire.decode(_wire.encode(report))
    assert decoded == report


def test_wire_normalises_odd_text_on_the_trusted_side() -> None:
    # A scrubber's note with a newline must not make its clean file look "crashed".
    report = _report(note="line one\nline two\x1b[31m", removed=("a\tb",))
    decoded = _wire.decode(_wire.encode(report))
    assert decoded.note == "line one line two [31m"
    assert decoded.removed == ("a_b",)


def test_wire_field_names_are_restricted_on_the_trusted_side() -> None:
    # Whatever a scrubber names a field, only the safe alphabet crosses the wire.
    odd = ("<b>Jane Doe</b>", "x" * 500, "\u202eevil", ":leading")
    decoded = _wire.decode(_wire.encode(_report(removed=odd)))
    for name in decoded.removed:
        assert len(name) <= 120
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9:/_.()+-]*", name), name


def _answer(header: object, blob: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(4, "big") + raw + blob


GOOD_HEADER = {
    "type": "pdf",
    "cleaned": True,
    "size": 3,
    "removed": ["xmp"],
    "reason": None,
    "note": None,
    "attachments": [],
}


def _with(**changes: object) -> dict[str, object]:
    return {**GOOD_HEADER, **changes}


MALFORMED: dict[str, bytes] = {
    "empty": b"",
    "short": b"\x00\x00",
    "header size past the end": (100).to_bytes(4, "big") + b"{}",
    "header size huge": (2**31).to_bytes(4, "big") + b"{}",
    "not json": (5).to_bytes(4, "big") + b"{nope",
    "not utf-8": (3).to_bytes(4, "big") + b"\xff\xfe\xfd",
    "deep json": (400_000).to_bytes(4, "big") + b"[" * 400_000,
    "huge integer": (5000).to_bytes(4, "big") + b"9" * 5000,
    "not an object": _answer([1, 2, 3]),
    "type is a list": _answer(_with(type=["pdf"]), b"abc"),
    "unknown type": _answer(_with(type="exe"), b"abc"),
    "cleaned not bool": _answer(_with(cleaned="yes"), b"abc"),
    "size is bool": _answer(_with(size=True), b"a"),
    "size negative": _answer(_with(size=-1), b"abc"),
    "size past the end": _answer(_with(size=10), b"abc"),
    "size is float": _answer(_with(size=3.0), b"abc"),
    "trailing bytes": _answer(GOOD_HEADER, b"abcdef"),
    "cleaned with a reason": _answer(_with(reason="corrupt"), b"abc"),
    "not cleaned without reason": _answer(_with(cleaned=False), b"abc"),
    "reason not text": _answer(_with(cleaned=False, reason=42), b"abc"),
    "terminal escape in note": _answer(_with(note="\x1b]0;pwned\x07"), b"abc"),
    "bidi override in reason": _answer(_with(cleaned=False, reason="ok\u202etxt.exe"), b"abc"),
    "long note": _answer(_with(note="n" * 301), b"abc"),
    "removed not a list": _answer(_with(removed="xmp"), b"abc"),
    "removed holds a number": _answer(_with(removed=[1]), b"abc"),
    "removed too many": _answer(_with(removed=["x"] * 10_001), b"abc"),
    # A compromised worker must not write free text onto the receipt page through the
    # removed-field list: no spaces, markup, non-ASCII, or long names.
    "removed name with a space": _answer(_with(removed=["Jane Doe"]), b"abc"),
    "removed name with markup": _answer(_with(removed=["<img src=x>"]), b"abc"),
    "removed name not ascii": _answer(_with(removed=["exif:caf\u00e9"]), b"abc"),
    "removed name too long": _answer(_with(removed=["exif:" + "a" * 116]), b"abc"),
    "removed name empty": _answer(_with(removed=[""]), b"abc"),
    "removed over a thousand": _answer(_with(removed=[f"x{i}" for i in range(1001)]), b"abc"),
    "attachment not an object": _answer(_with(attachments=[1]), b"abc"),
    "attachment name missing": _answer(_with(attachments=[{"report": GOOD_HEADER}]), b"abcabc"),
    "attachment report missing": _answer(_with(attachments=[{"name": "a"}]), b"abc"),
}


def _nested(depth: int) -> dict[str, object]:
    header: dict[str, object] = _with(size=0)
    for _ in range(depth):
        header = _with(size=0, attachments=[{"name": "a", "report": header}])
    return header


MALFORMED["attachments nested too deep"] = _answer(_nested(12))


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_wire_rejects_malformed_answers(case: str) -> None:
    with pytest.raises(_wire.WireError):
        _wire.decode(MALFORMED[case])


def test_wire_accepts_its_bounds() -> None:
    assert _wire.decode(_answer(_nested(8))).cleaned
    assert _wire.decode(_answer(_with(note="n" * 300), b"abc")).note == "n" * 300
    longest = "embedded:docx/embedded:jpeg/" + "a" * 92
    assert _wire.decode(_answer(_with(removed=[longest]), b"abc")).removed == (longest,)
    many = [f"x{i}" for i in range(1000)]
    assert len(_wire.decode(_answer(_with(removed=many), b"abc")).removed) == 1000


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_wire_decode_raises_only_wire_errors(data: st.DataObject) -> None:
    good = _wire.encode(
        _report(attachments=(Attachment("a.docx", _report(file_type=_sniff.DOCX)),))
    )
    choice = data.draw(st.sampled_from(["random", "flip", "cut", "splice"]))
    if choice == "random":
        untrusted = data.draw(st.binary(max_size=512))
    elif choice == "flip":
        position = data.draw(st.integers(0, len(good) - 1))
        bit = data.draw(st.integers(0, 7))
        untrusted = good[:position] + bytes([good[position] ^ (1 << bit)]) + good[position + 1 :]
    elif choice == "cut":
        untrusted = good[: data.draw(st.integers(0, len(good)))]
    else:
        position = data.draw(st.integers(0, len(good)))
        untrusted = good[:position] + data.draw(st.binary(max_size=64)) + good[position:]
    try:
        decoded = _wire.decode(untrusted)
    except _wire.WireError:
        return
    assert isinstance(decoded, ScrubReport)
    assert decoded.cleaned == (decoded.reason is None)


# --- sandbox: helpers ----------------------------------------------------------------------


def _descendants(root: int) -> set[int]:
    """Every live (or unreaped) process below `root`, from /proc (no psutil)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue  # exited while we looked
        fields = stat[stat.rindex(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


@pytest.fixture
def no_leftover_processes() -> Iterator[None]:
    # The fork server (and multiprocessing's resource tracker) are long-lived helpers of
    # this process; workers are their children. After each test the set of processes below
    # us must be what it was before: no worker, nothing a worker forked, no zombie.
    scrub_sandboxed(b"warm up")
    before = _descendants(os.getpid())
    yield
    after = _descendants(os.getpid())
    assert after <= before, f"left behind: {sorted(after - before)}"


def _parent_still_works() -> None:
    untrusted = b"\x00\x01 no known format, after a bad worker"
    report = scrub_sandboxed(untrusted)
    # "unsupported", not "crashed": a real worker answered in full.
    assert (report.cleaned, report.reason, report.data) == (
        False,
        UnsupportedTypeError.reason,
        untrusted,
    )
    png = FIXTURES["png"]()
    assert scrub_sandboxed(png).file_type.name == "png"


# --- sandbox: worker targets (module level: sent to the fork server by reference) ----------


def target_segfault(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    ctypes.string_at(0)  # reads address 0: SIGSEGV, as a parser bug in C would


def target_abort(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    os.abort()


def target_hang(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    threading.Event().wait()


def target_hang_before_reading(sock: socket.socket, limits: Limits) -> None:
    threading.Event().wait()


def target_spin(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    while True:
        pass


def target_allocate(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    hoard = [bytearray(64 * 1024 * 1024) for _ in range(10_000)]
    send_frame(sock, bytes(len(hoard)))


def target_garbage(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    send_frame(sock, b"\x00\x00\x00\x05{nope")


def target_huge_length(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    sock.sendall((2**62).to_bytes(8, "big"))
    threading.Event().wait()


def target_half_answer(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    sock.sendall((1000).to_bytes(8, "big") + b"x" * 10)
    threading.Event().wait()


def target_claims_clean_pdf(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    lie = ScrubReport(_sniff.PDF, True, b"GIF89a not a pdf at all", removed=("pdf:Info",))
    send_frame(sock, _wire.encode(lie))


def target_swaps_the_original(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    lie = ScrubReport(_sniff.UNKNOWN, False, b"", reason="corrupt or unreadable file")
    send_frame(sock, _wire.encode(lie))


def _report_back(sock: socket.socket, reason: str) -> None:
    # A test worker's finding travels back as a not-cleaned reason (the parent passes the
    # worker's reason through, and keeps its own copy of the file).
    send_frame(sock, _wire.encode(ScrubReport(_sniff.UNKNOWN, False, b"", reason=reason)))


def target_forks(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    if os.fork() == 0:
        os._exit(0)
    _report_back(sock, "forked")


def target_execs(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    os.execv("/bin/true", ["true"])


def target_opens_a_socket(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    _report_back(sock, "socket opened")


def target_opens_for_writing(sock: socket.socket, limits: Limits) -> None:
    path = recv_frame(sock).decode()
    with open(path, "ab"):
        pass
    _report_back(sock, "opened for writing")


def target_deletes(sock: socket.socket, limits: Limits) -> None:
    os.unlink(recv_frame(sock).decode())
    _report_back(sock, "deleted")


def target_signals_its_parent(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    os.kill(os.getppid(), 0)  # signal 0 only asks whether it may; even that is refused
    _report_back(sock, "may signal")


def target_signals_itself(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    os.kill(os.getpid(), 0)
    _report_back(sock, f"signalled itself, pid {os.getpid()}")


def target_ptraces_its_parent(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace(16, os.getppid(), 0, 0)  # PTRACE_ATTACH
    _report_back(sock, "ptrace returned")


class _IoVec(ctypes.Structure):
    _fields_ = (("base", ctypes.c_void_p), ("length", ctypes.c_size_t))


def _process_vm_readv(pid: int, address: int, size: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(size)
    local = _IoVec(ctypes.cast(buffer, ctypes.c_void_p), size)
    remote = _IoVec(address, size)
    result: int = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    return result


HOLDER_NAME = b"ld-holder"


def target_holds_a_secret(sock: socket.socket, limits: Limits) -> None:
    # Another source's file, being cleaned: in this worker's memory until it is killed. Its
    # name tells its peer (and the test) that the secret is in place.
    secret = recv_frame(sock)
    ctypes.CDLL(None).prctl(15, HOLDER_NAME, 0, 0, 0)  # PR_SET_NAME
    threading.Event().wait()
    del secret


def _holder(exclude: int) -> int | None:
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != exclude:
            try:
                if Path("/proc", entry, "comm").read_bytes().strip() == HOLDER_NAME:
                    return int(entry)
            except OSError:
                continue
    return None


def target_reads_its_peers_memory(sock: socket.socket, limits: Limits) -> None:
    # What a parser exploit would do: find a sibling worker and read its memory.
    recv_frame(sock)
    peer = _holder(os.getpid())
    if peer is None:
        _report_back(sock, "no peer")
        return
    try:
        with open(f"/proc/{peer}/mem", "rb") as memory:
            memory.read(1)
    except OSError as exc:
        _report_back(sock, f"mem: {errno.errorcode.get(exc.errno or 0, '?')}")
        return
    _report_back(sock, "mem: opened")


def target_process_vm_readv_its_peer(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    peer = _holder(os.getpid())
    _process_vm_readv(peer or 1, 0x400000, 16)
    _report_back(sock, "process_vm_readv returned")


def target_reports_its_walls(sock: socket.socket, limits: Limits) -> None:
    recv_frame(sock)
    status = dict(
        line.split(":\t", 1) for line in Path("/proc/self/status").read_text().splitlines()
    )
    started = threading.Event()
    thread = threading.Thread(target=started.set)
    thread.start()  # threads stay allowed (libheif decodes with them)
    thread.join()
    _report_back(
        sock,
        f"dumpable={_confine.is_dumpable()} CapEff={status['CapEff'].strip()} "
        f"Seccomp={status['Seccomp'].strip()} thread={started.is_set()}",
    )


# --- sandbox: tests ------------------------------------------------------------------------

QUICK = Limits(wall_seconds=3.0, cpu_seconds=30)

BAD_WORKERS = {
    "segfault": (target_segfault, QUICK, WorkerCrashedError.reason),
    "abort": (target_abort, QUICK, WorkerCrashedError.reason),
    "hang": (target_hang, Limits(wall_seconds=1.0), ScrubTimeoutError.reason),
    "cpu": (target_spin, Limits(cpu_seconds=1, wall_seconds=30.0), ScrubTimeoutError.reason),
    "memory": (
        target_allocate,
        Limits(memory_bytes=1024 * 1024 * 1024, wall_seconds=30.0),
        LimitExceededError.reason,
    ),
    "garbage": (target_garbage, QUICK, WorkerCrashedError.reason),
    "huge length": (target_huge_length, QUICK, WorkerCrashedError.reason),
    "half answer": (target_half_answer, Limits(wall_seconds=1.0), ScrubTimeoutError.reason),
    "lies about type": (target_claims_clean_pdf, QUICK, WorkerCrashedError.reason),
}


@pytest.mark.usefixtures("no_leftover_processes")
@pytest.mark.parametrize("case", sorted(BAD_WORKERS))
def test_bad_worker_gives_not_cleaned_with_reason(case: str) -> None:
    target, limits, reason = BAD_WORKERS[case]
    untrusted = _pdf()
    report = scrub_sandboxed(untrusted, limits=limits, _worker_target=target)
    assert not report.cleaned
    assert report.reason == reason
    assert report.data == untrusted
    assert report.file_type.name == "pdf"
    _parent_still_works()


@pytest.mark.usefixtures("no_leftover_processes")
def test_parent_send_is_bounded_by_the_deadline() -> None:
    # A worker that never reads: 8 MiB do not fit in the socket buffer, so the parent's
    # send would block forever without the deadline.
    untrusted = b"\x00" * (8 * 1024 * 1024)
    report = scrub_sandboxed(
        untrusted, limits=Limits(wall_seconds=1.0), _worker_target=target_hang_before_reading
    )
    assert (report.cleaned, report.reason) == (False, ScrubTimeoutError.reason)
    assert report.data == untrusted


@pytest.mark.usefixtures("no_leftover_processes")
def test_not_cleaned_answer_always_returns_the_original() -> None:
    untrusted = _pdf()
    report = scrub_sandboxed(untrusted, limits=QUICK, _worker_target=target_swaps_the_original)
    assert not report.cleaned
    assert report.data == untrusted
    assert report.file_type.name == "pdf"  # the parent's own sniff, not the worker's claim


FORBIDDEN_CALLS = {
    "fork": target_forks,
    "exec": target_execs,
    "new socket": target_opens_a_socket,
    "signal another process": target_signals_its_parent,
    "ptrace": target_ptraces_its_parent,
    "process_vm_readv": target_process_vm_readv_its_peer,
}


@pytest.mark.usefixtures("no_leftover_processes")
@pytest.mark.parametrize("case", sorted(FORBIDDEN_CALLS))
def test_a_forbidden_call_kills_the_worker_with_a_clear_reason(case: str) -> None:
    untrusted = _pdf()
    report = scrub_sandboxed(untrusted, limits=QUICK, _worker_target=FORBIDDEN_CALLS[case])
    assert (report.cleaned, report.reason) == (False, ForbiddenOperationError.reason)
    assert report.data == untrusted
    assert report.file_type.name == "pdf"
    _parent_still_works()


@pytest.mark.usefixtures("no_leftover_processes")
def test_a_worker_cannot_create_nor_change_files(tmp_path: Path) -> None:
    new = tmp_path / "written-by-a-worker"
    report = scrub_sandboxed(
        str(new).encode(), limits=QUICK, _worker_target=target_opens_for_writing
    )
    assert report.reason == ForbiddenOperationError.reason
    assert not new.exists()
    kept = tmp_path / "sealed-submission"
    kept.write_bytes(b"ciphertext")
    for target in (target_opens_for_writing, target_deletes):
        report = scrub_sandboxed(str(kept).encode(), limits=QUICK, _worker_target=target)
        assert report.reason == ForbiddenOperationError.reason
        assert kept.read_bytes() == b"ciphertext"
    _parent_still_works()


def test_worker_walls_are_up() -> None:
    report = scrub_sandboxed(b"x", limits=QUICK, _worker_target=target_reports_its_walls)
    # Seccomp 2: a filter is loaded. CapEff 0: not even a root server's worker keeps
    # CAP_SYS_PTRACE, which would open every other process's memory to it.
    assert report.reason == "dumpable=False CapEff=0000000000000000 Seccomp=2 thread=True"
    # The server itself (this process) holds the uploads in clear: not dumpable either.
    assert not _confine.is_dumpable()


def test_each_worker_may_signal_itself_only() -> None:
    """The filter's shared rules are built once in the fork server and each worker adds
    the rule naming its own pid to its own copy: a pid added by one worker must not reach
    the next one (it would be killed for signalling itself)."""
    pids = set()
    for _ in range(3):
        report = scrub_sandboxed(b"x", limits=QUICK, _worker_target=target_signals_itself)
        assert report.reason is not None
        assert report.reason.startswith("signalled itself, pid ")
        pids.add(report.reason)
    assert len(pids) == 3  # three workers, each with its own pid
    report = scrub_sandboxed(_pdf(), limits=QUICK, _worker_target=target_signals_its_parent)
    assert report.reason == ForbiddenOperationError.reason


def test_task_count_reads_the_uid_and_threads_of_every_process() -> None:
    """`limit_tasks` sets RLIMIT_NPROC above this count (for any uid but root's, which the
    kernel exempts): it must count what the kernel counts, every task of the uid."""
    expected = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        if int(fields["Uid"].split()[0]) == os.getuid():
            expected += int(fields["Threads"])
    done = threading.Event()
    threads = [threading.Thread(target=done.wait) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        counted = _confine._tasks_of(os.getuid())
    finally:
        done.set()
        for thread in threads:
            thread.join()
    # Other processes may start or end between the two counts; these three threads may not.
    assert counted >= 4 and abs(counted - (expected + 3)) <= 8, (counted, expected)
    assert _confine._tasks_of(2**31 - 2) == 0  # a uid nothing runs as


def _secret_in_memory(pid: int, secret: bytes) -> bool:
    # Only a process with CAP_SYS_PTRACE may do this (the test as root): proof that the
    # secret really was there for the peer to find.
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb") as memory:
        for line in maps:
            addresses, perms = line.split()[:2]
            if not perms.startswith("r"):
                continue
            start, end = (int(a, 16) for a in addresses.split("-"))
            try:
                memory.seek(start)
                if secret in memory.read(end - start):
                    return True
            except OSError:
                continue
    return False


@pytest.mark.usefixtures("no_leftover_processes")
def test_a_worker_cannot_read_another_workers_memory() -> None:
    secret = b"another source's file: " + os.urandom(16).hex().encode()
    held: list[ScrubReport] = []
    holder = threading.Thread(
        target=lambda: held.append(
            scrub_sandboxed(
                secret, limits=Limits(wall_seconds=20.0), _worker_target=target_holds_a_secret
            )
        )
    )
    holder.start()
    pid: int | None = None
    try:
        # A bounded wait for the holder to have its secret (its name changes then).
        deadline = time.monotonic() + 15
        while (pid := _holder(os.getpid())) is None:
            assert time.monotonic() < deadline, "the holding worker never started"
            time.sleep(0.01)
        if os.geteuid() == 0:
            assert _secret_in_memory(pid, secret)
        report = scrub_sandboxed(b"x", limits=QUICK, _worker_target=target_reads_its_peers_memory)
        # EACCES: the kernel's answer for a process that is not dumpable, to a reader
        # without CAP_SYS_PTRACE (the same uid is not enough).
        assert report.reason == "mem: EACCES"
        report = scrub_sandboxed(
            b"x", limits=QUICK, _worker_target=target_process_vm_readv_its_peer
        )
        assert report.reason == ForbiddenOperationError.reason
        assert _holder(os.getpid()) == pid, "the holder died with its peer"
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGTERM)  # the holder's time is up
        holder.join()
    assert held[0].reason == WorkerCrashedError.reason  # killed: not cleaned, file kept
    assert held[0].data == secret


def _big_pdf(stream_bytes: int) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    pdf.pages[0].Contents = pdf.make_stream(b"% filler\n" * (stream_bytes // 10))
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


@pytest.mark.usefixtures("no_leftover_processes")
def test_real_pipeline_under_a_tiny_address_space() -> None:
    # No test seam: the real worker, under an RLIMIT_AS below what it already maps, gets a
    # 40 MB file. Its first large allocation fails; the parent reports it, keeps the file.
    untrusted = _big_pdf(40 * 1024 * 1024)
    report = scrub_sandboxed(untrusted, limits=Limits(memory_bytes=32 * 1024 * 1024))
    assert not report.cleaned
    assert report.reason == LimitExceededError.reason
    assert report.data == untrusted
    _parent_still_works()


def test_concurrent_sandboxed_scrubs() -> None:
    # The server calls this from several threads at once.
    inputs = [FIXTURES["unknown"]() + bytes([i]) for i in range(8)]
    results: list[ScrubReport | None] = [None] * len(inputs)

    def work(index: int) -> None:
        results[index] = scrub_sandboxed(inputs[index])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for untrusted, result in zip(inputs, results, strict=True):
        assert result is not None
        assert (result.reason, result.data) == (UnsupportedTypeError.reason, untrusted)


def test_registry_names_every_scrubber_and_agrees_with_each_class() -> None:
    """The registry imports parsers lazily from a table: every module holding a scrubber is
    in it, and each entry's types are the class's own (`load_all` raises otherwise)."""
    import ast
    from pathlib import Path

    from scrubbers import _registry

    _registry.load_all()
    listed = {(module, name) for module, name, _, _ in _registry._SCRUBBERS}
    found = set()
    for path in (Path(_registry.__file__).parent).glob("[!_]*.py"):  # not the protocols
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any(
                isinstance(item, ast.FunctionDef) and item.name in ("remove_all", "pieces")
                for item in node.body
            ):
                found.add((f"scrubbers.{path.stem}", node.name))
    assert found == listed
    assert {"pdf", "mp4", "wav"} <= _registry.STREAMED_TYPES
    assert "docx" not in _registry.STREAMED_TYPES


_MAIN_COUNTING_ITS_RUNS = """
import sys
from pathlib import Path

with Path(sys.argv[1]).open("a") as runs:
    runs.write("ran\\n")

if __name__ == "__main__":
    from scrubbers import scrub_sandboxed

    for _ in range(3):
        assert scrub_sandboxed(b"plain text\\n").cleaned
"""


def test_workers_do_not_run_the_main_script_again(tmp_path: Path) -> None:
    """multiprocessing runs the parent's main script again in every worker unless the fork
    server already bears its path (its own "__main__" preload never gets it): for the
    server, the `leakdrop` script and argparse before each file. Run once, by the parent."""
    script = tmp_path / "main_script.py"
    script.write_text(_MAIN_COUNTING_ITS_RUNS)
    runs = tmp_path / "runs"
    short_tmp = tempfile.mkdtemp(prefix="ld-")  # the fork server's socket lives there
    try:
        subprocess.run(
            [sys.executable, str(script), str(runs)],
            env=os.environ | {"TMPDIR": short_tmp},
            check=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(short_tmp)
    assert runs.read_text() == "ran\n"
