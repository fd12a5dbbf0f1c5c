"""The submission container: round trip, padding, names, GNU tar, hostile archives."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakdrop import submission
from leakdrop.submission import (
    ContainerError,
    FileEntry,
    IntegrityError,
    ManifestError,
    MemberError,
    TruncatedError,
    _format,
    _reader,
    extract_submission,
    padded_size,
    padme,
    peek_submission,
    sanitise_name,
    write_submission,
)

MakeEntry = Callable[..., FileEntry]


def _submission(files: list[FileEntry], message: str | None = "hello editors\n") -> bytes:
    sink = io.BytesIO()
    n = write_submission(
        sink, submission_id="sub-123", received_day="2024-05-01", message=message, files=files
    )
    assert n == len(sink.getvalue())
    return sink.getvalue()


def _archive_end(data: bytes) -> int:
    """Offset just past the end-of-archive marker, found with the stdlib reader."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        last = tf.getmembers()[-1]
    return last.offset_data + -(-last.size // 512) * 512 + 1024


# --------------------------------------------------------------------------- padding


def test_padme_known_values() -> None:
    # Values from the PADMÉ definition: E = floor(log2 L), S = floor(log2 E) + 1, the low
    # E - S bits are rounded up.
    assert [padme(n) for n in (0, 1, 2, 3, 7, 8, 9, 10, 11)] == [0, 1, 2, 3, 7, 8, 10, 10, 12]
    assert padme(1000) == 1024  # E=9, S=4: multiple of 32 -> 1024
    assert padme(1_000_000) == 1_015_808  # E=19, S=5: multiple of 16384 (62 * 16384)
    assert padme(2**30 + 1) == 2**30 + 2**25  # E=30, S=5: multiple of 2**25


@given(st.integers(min_value=1, max_value=2**40))
def test_padme_bounds(n: int) -> None:
    p = padme(n)
    assert n <= p <= n + n // 8  # at most 12.5% (the README says <= 12%, in practice less)
    assert padme(p) == p  # padded sizes are fixed points
    s = padded_size(n)
    assert s % 512 == 0 and s >= max(n, _format.MIN_PADDED)


def test_padme_leaks_few_sizes() -> None:
    # Between 1 MiB and 2 MiB only a handful of distinct padded sizes exist.
    sizes = {padme(n) for n in range(2**20, 2**21, 97)}
    assert len(sizes) <= 33  # 2**20 / 2**15 steps, plus the end point


# --------------------------------------------------------------------------- round trip


def test_round_trip_manifest_and_files(tmp_path: Path, make_file_entry: MakeEntry) -> None:
    pdf = b"%PDF-1.7 cleaned" * 100
    raw = bytes(range(256)) * 50
    files = [
        make_file_entry(
            "report.pdf",
            pdf,
            detected_type="pdf",
            media_type="application/pdf",
            removed=["Author", "Producer"],
        ),
        make_file_entry(
            "report.pdf",
            raw,
            cleaned=False,
            detected_type="unknown",
            media_type="application/octet-stream",
            reason="unsupported file type",
            note="keep away from the web",
        ),
        make_file_entry("empty.txt", b""),
    ]
    data = _submission(files)
    assert len(data) == padded_size(_archive_end(data))
    manifest = extract_submission(io.BytesIO(data), tmp_path)

    assert manifest.id == "sub-123" and manifest.received == "2024-05-01"
    assert manifest.message == "message.txt"
    assert (tmp_path / "message.txt").read_text() == "hello editors\n"
    names = [f.name for f in manifest.files]
    assert names == ["files/01-report.pdf", "files/02-report.pdf", "files/03-empty.txt"]
    assert (tmp_path / "files/01-report.pdf").read_bytes() == pdf
    assert (tmp_path / "files/02-report.pdf").read_bytes() == raw
    assert (tmp_path / "files/03-empty.txt").read_bytes() == b""
    second = manifest.files[1]
    assert second.cleaned is False and second.reason == "unsupported file type"
    assert second.note == "keep away from the web" and second.type == "unknown"
    assert manifest.files[0].removed == ("Author", "Producer")

    doc = json.loads((tmp_path / "manifest.json").read_text())
    assert doc["format"] == "leakdrop-submission" and doc["version"] == 1
    assert doc["files"][0] == {
        "name": "files/01-report.pdf",
        "original_name": "report.pdf",
        "type": "pdf",
        "media_type": "application/pdf",
        "cleaned": True,
        "reason": None,
        "removed": ["Author", "Producer"],
        "note": None,
        "size": len(pdf),
        "sha256": hashlib.sha256(pdf).hexdigest(),
    }


def test_member_order_and_fixed_metadata(make_file_entry: MakeEntry) -> None:
    data = _submission([make_file_entry("a.txt", b"a"), make_file_entry("b.txt", b"bb")])
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        members = tf.getmembers()
    assert [m.name for m in members] == [
        "manifest.json",
        "message.txt",
        "files/01-a.txt",
        "files/02-b.txt",
    ]
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)
        assert m.isreg()
    # Everything after the end-of-archive marker is zero padding.
    assert data[_archive_end(data) - 1024 :].count(0) == len(data) - _archive_end(data) + 1024


def test_no_message_and_no_files(tmp_path: Path) -> None:
    data = _submission([], message=None)
    assert len(data) == _format.MIN_PADDED
    manifest = extract_submission(io.BytesIO(data), tmp_path)
    assert manifest.message is None and manifest.files == ()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


_PERIOD = bytes(range(251)) * (2 * 1024 * 1024 // 251 + 2)


class _Pattern(io.RawIOBase):
    """A large deterministic stream that never exists in memory as a whole."""

    def __init__(self, size: int, record: list[int]) -> None:
        super().__init__()
        self._left = size
        self._pos = 0
        self._record = record

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._left, len(_PERIOD) - 251)
        self._record.append(len(view))
        offset = self._pos % 251
        view[:n] = _PERIOD[offset : offset + n]
        self._pos += n
        self._left -= n
        return n


class _HashSink:
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0
        self.largest_write = 0

    def write(self, data: bytes | bytearray, /) -> int:
        self.digest.update(data)
        self.size += len(data)
        self.largest_write = max(self.largest_write, len(data))
        return len(data)


def _pattern_bytes(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def test_streams_large_file_in_bounded_chunks(tmp_path: Path) -> None:
    size = 24 * 1024 * 1024 + 123
    reads: list[int] = []
    expected = _pattern_bytes(size)  # only for the reference hash
    entry = FileEntry(
        stored_name="big.bin",
        original_name="big.bin",
        detected_type="unknown",
        media_type="application/octet-stream",
        cleaned=False,
        reason="too big to clean",
        removed=[],
        note=None,
        size=size,
        sha256=hashlib.sha256(expected).hexdigest(),
        open=lambda: io.BufferedReader(_Pattern(size, reads), buffer_size=64 * 1024),
    )
    sink = _HashSink()
    total = write_submission(
        sink,
        submission_id="big",
        received_day="2024-01-02",
        message=None,
        files=[entry],
    )
    assert total == sink.size and total % 512 == 0 and total >= size
    # Nothing close to the whole file was ever requested or written at once.
    assert max(reads) <= 1024 * 1024 + 1
    assert sink.largest_write <= 1024 * 1024

    # And the same archive, written to disk, extracts and verifies.
    path = tmp_path / "big.tar"
    with path.open("wb") as fh:
        write_submission(
            fh,
            submission_id="big",
            received_day="2024-01-02",
            message=None,
            files=[FileEntry(**{**entry.__dict__, "open": lambda: io.BytesIO(expected)})],
        )
    out = tmp_path / "out"
    out.mkdir()
    with path.open("rb") as fh:
        manifest = extract_submission(fh, out)
    assert manifest.files[0].size == size
    assert (out / "files/01-big.bin").read_bytes() == expected


def test_gnu_tar_extracts_it(tmp_path: Path, make_file_entry: MakeEntry) -> None:
    files = [
        make_file_entry("Überwachung ü.pdf", b"pdf bytes"),
        make_file_entry("x" * 300 + ".docx", b"docx bytes"),
        make_file_entry("../../etc/passwd", b"not a passwd"),
    ]
    path = tmp_path / "sub.tar"
    path.write_bytes(_submission(files))
    out = tmp_path / "gnu"
    out.mkdir()
    subprocess.run(["tar", "-xf", path, "-C", out], check=True, capture_output=True)
    manifest = json.loads((out / "manifest.json").read_text())
    for f, expected in zip(manifest["files"], [b"pdf bytes", b"docx bytes", b"not a passwd"]):
        assert (out / f["name"]).read_bytes() == expected
    assert (out / "message.txt").read_text() == "hello editors\n"
    assert manifest["files"][0]["name"] == "files/01-Überwachung ü.pdf"
    assert manifest["files"][2]["name"] == "files/03-passwd"
    assert manifest["files"][2]["original_name"] == "../../etc/passwd"
    # Our own reader agrees on the non-ASCII and long (pax "path") names.
    ours = tmp_path / "ours"
    ours.mkdir()
    extracted = extract_submission(io.BytesIO(path.read_bytes()), ours)
    for f in extracted.files:
        assert (ours / f.name).read_bytes() == (out / f.name).read_bytes()
    listing = subprocess.run(
        ["tar", "--numeric-owner", "-tvf", path], check=True, capture_output=True, text=True
    ).stdout
    assert all(" 0/0 " in line and "1970-01-01" in line for line in listing.splitlines())


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("hostile", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\alice\\Desktop\\leak.docx", "leak.docx"),
        ("/absolute/path.pdf", "path.pdf"),
        (".bashrc", "bashrc"),
        ("...", "file"),
        ("", "file"),
        ("..", "file"),
        ("dir/", "file"),
        ("a\x00b.txt", "ab.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # right-to-left override removed
        ("zero\u200bwidth.png", "zerowidth.png"),
        ("bell\x07\x1b[31mred.txt", "bell[31mred.txt"),
        ("-rf.txt", "rf.txt"),
        ('what?<>:"|*.txt', "what_______.txt"),
        ("trailing dots... ", "trailing dots"),
        ("tab\tand   spaces.txt", "taband spaces.txt"),
        ("e\u0301te\u0301.txt", "été.txt"),  # NFC
    ],
)
def test_sanitise_name(hostile: str, safe: str) -> None:
    assert sanitise_name(hostile) == safe


def test_sanitise_name_bounds_length_and_keeps_extension() -> None:
    name = sanitise_name("é" * 200 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= 120
    assert sanitise_name("a" * 500).encode() == b"a" * 120


@settings(max_examples=400)
@given(st.text(max_size=300))
def test_sanitise_name_properties(untrusted: str) -> None:
    name = sanitise_name(untrusted)
    assert name and name not in (".", "..")
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert not name.startswith((".", "-", " "))
    assert len(name.encode("utf-8")) <= 120
    assert all(unicodedata.category(ch)[0] != "C" for ch in name)
    assert sanitise_name(name) == name  # idempotent: the reader re-checks stored names so


def test_duplicate_names_stay_unique(tmp_path: Path, make_file_entry: MakeEntry) -> None:
    files = [make_file_entry(n, n.encode()) for n in ["a.txt", "a.txt", "../a.txt", ".a.txt"]]
    manifest = extract_submission(io.BytesIO(_submission(files)), tmp_path)
    assert [f.name for f in manifest.files] == [
        "files/01-a.txt",
        "files/02-a.txt",
        "files/03-a.txt",
        "files/04-a.txt",
    ]


def test_width_grows_past_99_files(tmp_path: Path, make_file_entry: MakeEntry) -> None:
    files = [make_file_entry("f.txt", str(i).encode()) for i in range(101)]
    manifest = extract_submission(io.BytesIO(_submission(files)), tmp_path)
    assert manifest.files[0].name == "files/001-f.txt"
    assert (tmp_path / "files/101-f.txt").read_bytes() == b"100"


# --------------------------------------------------------------------------- writer checks


def test_writer_refuses_entry_that_lies(make_file_entry: MakeEntry) -> None:
    good = make_file_entry("a.txt", b"abc")
    longer = FileEntry(**{**good.__dict__, "open": lambda: io.BytesIO(b"abcd")})
    shorter = FileEntry(**{**good.__dict__, "open": lambda: io.BytesIO(b"ab")})
    other = FileEntry(**{**good.__dict__, "open": lambda: io.BytesIO(b"xyz")})
    for entry in (longer, shorter, other):
        with pytest.raises(IntegrityError):
            _submission([entry])
    with pytest.raises(ContainerError):
        write_submission(
            io.BytesIO(),
            submission_id="../x",
            received_day="2024-01-01",
            message=None,
            files=[],
        )
    with pytest.raises(ContainerError):
        write_submission(
            io.BytesIO(), submission_id="ok", received_day="2024-13-01", message=None, files=[]
        )


# --------------------------------------------------------------------------- hostile archives


def _manifest(files: list[dict[str, Any]], message: bool = False) -> bytes:
    return json.dumps(
        {
            "format": "leakdrop-submission",
            "version": 1,
            "id": "evil",
            "received": "2024-01-01",
            "message": "message.txt" if message else None,
            "files": files,
        }
    ).encode()


def _file(name: str, data: bytes) -> dict[str, Any]:
    return {
        "name": name,
        "original_name": "x",
        "type": "txt",
        "media_type": "text/plain",
        "cleaned": True,
        "reason": None,
        "removed": [],
        "note": None,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _craft(members: list[tuple[tarfile.TarInfo, bytes]], pad: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buf.getvalue()
    # tarfile pads to a 10 KiB record: cut back to the end marker, then pad our way.
    end = _archive_end(raw) if members else 1024
    raw = raw[:end]
    return raw + bytes(padded_size(end) - end) if pad else raw


def _reg(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _evil_cases(tmp_path: Path) -> dict[str, tuple[bytes, type[ContainerError]]]:
    data = b"payload"
    ok_manifest = _manifest([_file("files/01-a.txt", data)])
    symlink = _reg("files/01-a.txt")
    symlink.type, symlink.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hardlink = _reg("files/01-a.txt")
    hardlink.type, hardlink.linkname = tarfile.LNKTYPE, "manifest.json"
    device = _reg("files/01-a.txt")
    device.type = tarfile.CHRTYPE
    directory = _reg("files/01-a.txt")
    directory.type = tarfile.DIRTYPE
    escape = str(tmp_path / "escaped.txt")
    return {
        "traversal member": (
            _craft([(_reg("manifest.json"), ok_manifest), (_reg("../escaped.txt"), data)]),
            MemberError,
        ),
        "absolute member": (
            _craft([(_reg("manifest.json"), ok_manifest), (_reg(escape), data)]),
            MemberError,
        ),
        "traversal in manifest": (
            _craft(
                [
                    (_reg("manifest.json"), _manifest([_file("files/../../escaped.txt", data)])),
                    (_reg("files/../../escaped.txt"), data),
                ]
            ),
            ManifestError,
        ),
        "symlink": (_craft([(_reg("manifest.json"), ok_manifest), (symlink, b"")]), MemberError),
        "hardlink": (_craft([(_reg("manifest.json"), ok_manifest), (hardlink, b"")]), MemberError),
        "device": (_craft([(_reg("manifest.json"), ok_manifest), (device, b"")]), MemberError),
        "directory": (
            _craft([(_reg("manifest.json"), ok_manifest), (directory, b"")]),
            MemberError,
        ),
        "extra member": (
            _craft(
                [
                    (_reg("manifest.json"), ok_manifest),
                    (_reg("files/01-a.txt"), data),
                    (_reg("files/02-extra.sh"), b"rm -rf ~"),
                ]
            ),
            MemberError,
        ),
        "duplicate member": (
            _craft(
                [
                    (_reg("manifest.json"), ok_manifest),
                    (_reg("files/01-a.txt"), data),
                    (_reg("files/01-a.txt"), data),
                ]
            ),
            MemberError,
        ),
        "missing member": (_craft([(_reg("manifest.json"), ok_manifest)]), MemberError),
        "sha mismatch": (
            _craft([(_reg("manifest.json"), ok_manifest), (_reg("files/01-a.txt"), b"PAYLOAD")]),
            IntegrityError,
        ),
        "size mismatch": (
            _craft([(_reg("manifest.json"), ok_manifest), (_reg("files/01-a.txt"), b"payload!")]),
            IntegrityError,
        ),
        "manifest not first": (
            _craft([(_reg("files/01-a.txt"), data), (_reg("manifest.json"), ok_manifest)]),
            MemberError,
        ),
        "manifest not json": (_craft([(_reg("manifest.json"), b"{nope")]), ManifestError),
        "manifest wrong format": (
            _craft([(_reg("manifest.json"), ok_manifest.replace(b"leakdrop-", b"other-"))]),
            ManifestError,
        ),
        "manifest duplicate key": (
            _craft([(_reg("manifest.json"), ok_manifest[:-1] + b', "id": "x"}')]),
            ManifestError,
        ),
        "manifest case-duplicate names": (
            _craft(
                [
                    (
                        _reg("manifest.json"),
                        _manifest([_file("files/01-a.txt", data), _file("files/01-A.txt", data)]),
                    ),
                ]
            ),
            ManifestError,
        ),
        "no padding": (
            _craft([(_reg("manifest.json"), ok_manifest), (_reg("files/01-a.txt"), data)], False),
            TruncatedError,
        ),
    }


def test_extraction_refuses_crafted_archives(tmp_path: Path) -> None:
    cases = _evil_cases(tmp_path)
    for label, (data, error) in cases.items():
        dest = tmp_path / label.replace(" ", "-")
        dest.mkdir()
        with pytest.raises(error):
            extract_submission(io.BytesIO(data), dest)
        # Nothing was ever written outside the destination folder.
        assert not (tmp_path / "escaped.txt").exists(), label
        assert not Path("/etc/passwd").is_symlink()
        for p in dest.rglob("*"):
            assert not p.is_symlink(), label


def test_extraction_refuses_non_zero_padding_and_truncation(
    tmp_path: Path, make_file_entry: MakeEntry
) -> None:
    data = _submission([make_file_entry("a.txt", b"abc")])
    end = _archive_end(data)
    cases: list[tuple[bytes, type[ContainerError]]] = [
        (data[:-1] + b"\x01", MemberError),  # smuggled bytes in the padding
        (data + bytes(512), MemberError),  # longer than the padding rule allows
        (data[:-512], TruncatedError),  # padding cut short
        (data[: end - 2048], TruncatedError),  # archive cut inside
        (data[:700], TruncatedError),  # inside the manifest
        (b"", TruncatedError),
    ]
    for i, (variant, error) in enumerate(cases):
        dest = tmp_path / f"d{i}"
        dest.mkdir()
        with pytest.raises(error):
            extract_submission(io.BytesIO(variant), dest)


def test_extraction_refuses_oversized_pax_header(tmp_path: Path) -> None:
    info = tarfile.TarInfo("manifest.json")
    info.pax_headers = {"comment": "x" * 100_000}
    data = _craft([(info, _manifest([]))])
    with pytest.raises(MemberError):
        extract_submission(io.BytesIO(data), tmp_path)


def test_extraction_needs_empty_destination(tmp_path: Path, make_file_entry: MakeEntry) -> None:
    (tmp_path / "existing").write_text("keep")
    with pytest.raises(ContainerError):
        extract_submission(io.BytesIO(_submission([make_file_entry("a", b"a")])), tmp_path)
    assert (tmp_path / "existing").read_text() == "keep"


# --------------------------------------------------------------------------- detection


def test_peek_submission(make_file_entry: MakeEntry) -> None:
    data = _submission([make_file_entry("a.txt", b"abc")])
    verdict, replay = peek_submission(io.BytesIO(data))
    assert verdict is True and replay.read() == data

    other_tar = io.BytesIO()
    with tarfile.open(fileobj=other_tar, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("manifest.json")
        body = b'{"format": "something-else"}'
        info.size = len(body)
        tf.addfile(info, io.BytesIO(body))
    for plain in (b"", b"short", b"x" * 5000, other_tar.getvalue()):
        verdict, replay = peek_submission(io.BytesIO(plain))
        assert verdict is False and replay.read() == plain


def test_writer_keeps_text_within_reader_limits(tmp_path: Path, make_file_entry: MakeEntry) -> None:
    entry = make_file_entry(
        "a.txt",
        b"a",
        cleaned=False,
        reason="r" * 10_000,
        note="bad \udcff surrogate",
        removed=["f" * 2000, "Author"],
    )
    manifest = extract_submission(io.BytesIO(_submission([entry])), tmp_path)
    (f,) = manifest.files
    assert f.reason is not None and len(f.reason) == _format.MAX_TEXT_CHARS
    assert f.reason.endswith("…") and f.note == "bad ? surrogate"
    assert f.removed == ("f" * 511 + "…", "Author")


def test_reader_takes_huge_sizes_from_pax() -> None:
    # Files of 8 GiB and more carry their size in a pax record; nothing this big is built.
    info = tarfile.TarInfo("files/01-huge.bin")
    info.size = 2**34 + 5
    header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")
    assert len(header) > 512  # a pax header block precedes the ustar one
    member = _reader._read_member_header(_reader._Blocks(io.BytesIO(header)))
    assert member is not None and (member.name, member.size) == ("files/01-huge.bin", 2**34 + 5)


# --- the two library calls: seal_submission / open_submission -------------------------------


def test_seal_and_open_submission_round_trip_and_interop_with_age(
    tmp_path: Path, make_file_entry: MakeEntry
) -> None:
    """What the server writes with `seal_submission` opens with `open_submission`, and the
    Debian `age` tool decrypts the same file to the same tar."""
    from leakdrop.sealing import X25519Identity

    identity = X25519Identity.generate()
    entries = [make_file_entry("01-a.txt", b"alpha\n"), make_file_entry("02-b.bin", bytes(70_000))]
    sealed = tmp_path / "s.age"
    with sealed.open("wb") as dst:
        size = submission.seal_submission(
            dst,
            [identity.recipient()],
            submission_id="abc",
            received_day="2024-05-01",
            message="hello\n",
            files=entries,
        )
    assert size == padded_size(size)
    out = tmp_path / "out"
    out.mkdir()
    with sealed.open("rb") as src:
        manifest = submission.open_submission(src, [identity], out)
    assert [f.name for f in manifest.files] == ["files/01-01-a.txt", "files/02-02-b.bin"]
    assert (out / "message.txt").read_text() == "hello\n"
    assert (out / "files" / "02-02-b.bin").read_bytes() == bytes(70_000)
    key = tmp_path / "key.txt"
    key.write_text(f"{identity}\n")
    plain = subprocess.run(
        ["age", "-d", "-i", str(key), str(sealed)], capture_output=True, check=True
    ).stdout
    assert len(plain) == size
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        assert tar.getnames()[:2] == ["manifest.json", "message.txt"]


def test_seal_submission_leaves_no_valid_age_file_on_a_bad_file(
    tmp_path: Path, make_file_entry: MakeEntry
) -> None:
    from leakdrop.sealing import X25519Identity, decrypt
    from leakdrop.sealing.errors import PayloadError

    identity = X25519Identity.generate()
    good = make_file_entry("01-a.txt", b"alpha\n")
    lying = FileEntry(**{**good.__dict__, "sha256": "0" * 64})
    sink = io.BytesIO()
    with pytest.raises(IntegrityError):
        submission.seal_submission(
            sink,
            [identity.recipient()],
            submission_id="abc",
            received_day="2024-05-01",
            message=None,
            files=[lying],
        )
    # The final STREAM chunk was never written: the partial file does not decrypt.
    with pytest.raises(PayloadError):
        with decrypt(io.BytesIO(sink.getvalue()), [identity]) as reader:
            while reader.read(1 << 16):
                pass


def test_open_submission_refuses_a_truncated_file(
    tmp_path: Path, make_file_entry: MakeEntry
) -> None:
    from leakdrop.sealing import X25519Identity
    from leakdrop.sealing.errors import AgeError

    identity = X25519Identity.generate()
    sink = io.BytesIO()
    submission.seal_submission(
        sink,
        [identity.recipient()],
        submission_id="abc",
        received_day="2024-05-01",
        message="m",
        files=[make_file_entry("01-a.txt", b"alpha\n" * 20_000)],
    )
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises((AgeError, ContainerError)):
        submission.open_submission(io.BytesIO(sink.getvalue()[:-100]), [identity], out)
