"""ZIP archives cleaned by ranges (above `Limits.stream_above_bytes`): the same cleaning as in
RAM, one member at a time in the worker, never the archive.

Oracles: the in-RAM clean of the same archive (byte for byte, and the same report), canaries
in the members' metadata (absent from every member of the output, decompressed,
recursively), and a large archive through the real server and `leakdrop scrub`.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from support.fixtures_office import jpeg_with_gps, make_docx, marker, png_plain, zip_bytes
from support.live_server import (
    ServerFactory,
    live_server,
    open_submission,
    sealed_files,
    submit,
)
from test_scrub_archive import dirty_zip
from test_scrub_office import markers_left, members
from test_scrub_streamed import _leakdrop_scrub, assert_same_as_in_ram, streamed

from scrubbers import (
    DEFAULT_LIMITS,
    STREAMED_TYPES,
    BytesSink,
    LimitExceededError,
    Limits,
    RangeSource,
    ScrubReport,
    scrub,
    scrub_streamed,
    sniff,
)

__all__ = ["live_server"]  # the fixture


def _source(data: bytes) -> RangeSource:
    return RangeSource(len(data), lambda offset, size: data[offset : offset + size])


def in_process(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[ScrubReport, bytes]:
    source = _source(data)
    sink = BytesSink(source)
    report = scrub_streamed(source, sink, limits=limits)
    return report, sink.getvalue()


def _noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _stored_and_deflated() -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr("photos/", b"")
        archive.writestr("photos/a.jpg", jpeg_with_gps(), compress_type=zipfile.ZIP_STORED)
        archive.writestr("photos/b.png", png_plain(), compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("notes.txt", "plain notes\n" * 100, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("empty.txt", b"")
    return sink.getvalue()


ARCHIVES: dict[str, Callable[[], bytes]] = {
    "stored and deflated, a directory, an empty member": _stored_and_deflated,
    "nested zip": lambda: dirty_zip(
        [("inner.zip", dirty_zip([("deep/photo.jpg", jpeg_with_gps())])), ("a.png", png_plain())]
    ),
    "an uncleanable member": lambda: dirty_zip(
        [("blob.bin", _noise(200_000, 1)), ("photo.jpg", jpeg_with_gps())]
    ),
    "office document and photo": lambda: dirty_zip(
        [("report.docx", make_docx()), ("IMG_0001.jpg", jpeg_with_gps()), ("dir/", b"")]
    ),
    "no member cleanable": lambda: zip_bytes([("blob.bin", _noise(5000, 2))]),
    "bzip2 and lzma members": lambda: _compressed_with(zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA),
    "an OPC package of another kind": lambda: zip_bytes(
        [(n, d) for n, d in members(make_docx()).items() if n != "word/document.xml"]
    ),
}


def _compressed_with(*methods: int) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for number, method in enumerate(methods):
            archive.writestr(f"photo{number}.jpg", jpeg_with_gps(), compress_type=method)
    return sink.getvalue()


@pytest.mark.parametrize("name", list(ARCHIVES))
def test_streamed_archive_is_the_in_ram_clean(name: str) -> None:
    data = ARCHIVES[name]()
    assert "zip" in STREAMED_TYPES
    assert_same_as_in_ram(data)
    whole = scrub(data)
    report, output = in_process(data)
    assert report.to_json() == whole.to_json()
    if whole.cleaned:
        assert output == whole.data
        assert markers_left(output) == []


def test_canaries_in_members_absent_from_the_streamed_output() -> None:
    data = dirty_zip([("IMG_0001.jpg", jpeg_with_gps()), ("report.docx", make_docx())])
    assert markers_left(data)
    report, output = streamed(data)
    assert report.cleaned, report.reason
    assert markers_left(output) == []
    assert set(members(output)) == {"IMG_0001.jpg", "report.docx"}
    assert any(name.startswith("embedded:jpeg/") for name in report.removed)
    assert any(name.startswith("embedded:docx/") for name in report.removed)


def test_attachments_past_their_bound_leave_the_archive_not_cleaned() -> None:
    """What cannot be cleaned is handed back in RAM: by ranges, past the bound, the whole
    archive is kept as received instead (nothing is lost)."""
    data = zip_bytes(
        [("a.bin", _noise(600_000, 3)), ("b.bin", _noise(600_000, 4)), ("c.png", png_plain())]
    )
    limits = Limits(max_zip_member_bytes=1024 * 1024)
    assert scrub(data, limits=limits).cleaned  # in RAM, bounded by the input's size
    report, _ = in_process(data, limits)
    assert not report.cleaned
    assert report.reason == LimitExceededError.reason
    assert report.attachments == ()
    one_blob = zip_bytes([("a.bin", _noise(600_000, 3)), ("c.png", png_plain())])
    report, _ = in_process(one_blob, limits)
    assert report.cleaned and [a.untrusted_name for a in report.attachments] == ["a.bin"]


def test_a_directory_larger_than_its_members_need_is_refused() -> None:
    data = _stored_and_deflated()
    report, _ = in_process(data, Limits(max_zip_members=1))
    assert not report.cleaned and report.reason == LimitExceededError.reason


def test_a_large_zip_is_told_apart_by_its_directory_read_by_ranges() -> None:
    """The head of a large zip names no type (its directory is at the end): by ranges, an
    archive is a zip (cleaned as a stream), an office document stays what it is."""
    padding = [("pad.bin", _noise(200_000, 5))]
    archive = zip_bytes([*padding, ("photo.jpg", jpeg_with_gps())], stored=("pad.bin",))
    docx = members(make_docx())
    document = zip_bytes([*padding, *docx.items()], stored=("pad.bin",))
    head = 64 * 1024
    for data, expected in ((archive, "zip"), (document, "docx")):
        assert sniff(data[:head]).name == "unknown"
        assert sniff(_source(data)) == sniff(data)
        assert sniff(data).name == expected


def _large_archive(size: int) -> bytes:
    """Pages of text (stored), a photo and a document with their canaries; above the
    streaming threshold. Letters and spaces only: no chance of a canary's hex digits."""
    rng = random.Random(6)
    letters = bytes(b"ghijklmnopqrstuvwxyz "[i % 21] for i in range(256))
    count = size // 4_000_000 + 1
    pages = [
        (f"scans/page{n:03}.txt", rng.randbytes(4_000_000).translate(letters)) for n in range(count)
    ]
    names = tuple(name for name, _ in pages)
    entries: list[tuple[str, bytes | str]] = [
        *pages,
        ("IMG_0001.jpg", jpeg_with_gps()),
        ("report.docx", make_docx()),
    ]
    return zip_bytes(entries, stored=names)


def test_large_archive_cleaned_through_the_server(
    live_server: ServerFactory, tmp_path: Path
) -> None:
    data = _large_archive(40 * 1000 * 1000)
    assert len(data) > DEFAULT_LIMITS.stream_above_bytes
    server = live_server()  # default settings
    response = submit(server, [("scans.zip", data)])
    assert response.status_code == 200, response.text
    assert 'class="not-cleaned"' not in response.text
    [sealed] = sealed_files(server.storage)
    opened = open_submission(sealed, server.editor.identity, tmp_path / "opened")
    entry = opened.by_original("scans.zip")
    assert entry["cleaned"], entry
    cleaned = opened.data(entry)
    assert markers_left(cleaned) == []
    assert marker("ImageArtist").encode() not in cleaned
    assert members(cleaned)["scans/page000.txt"] == members(data)["scans/page000.txt"]


def test_large_archive_is_cleaned_by_ranges_where_ram_would_refuse_it(
    live_server: ServerFactory, tmp_path: Path
) -> None:
    """Below its size, the server's in-RAM limit: the archive is still cleaned (by ranges),
    while a large office document, not a streamed type, is kept too large to clean."""
    data = _large_archive(40 * 1000 * 1000)
    pad = [("pad.bin", _noise(40 * 1000 * 1000, 7))]
    document = zip_bytes([*pad, *members(make_docx()).items()], stored=("pad.bin",))
    server = live_server("--scrub-max-bytes", "16M")
    response = submit(server, [("scans.zip", data), ("big.docx", document)])
    assert response.status_code == 200, response.text
    [sealed] = sealed_files(server.storage)
    opened = open_submission(sealed, server.editor.identity, tmp_path / "opened")
    archive = opened.by_original("scans.zip")
    assert archive["cleaned"], archive
    assert markers_left(opened.data(archive)) == []
    kept = opened.by_original("big.docx")
    assert not kept["cleaned"] and kept["reason"] == "too large to clean", kept


def test_scrub_command_cleans_a_large_archive_by_ranges(tmp_path: Path) -> None:
    data = _large_archive(40 * 1000 * 1000)
    original = tmp_path / "scans.zip"
    original.write_bytes(data)
    out = tmp_path / "out"
    result = _leakdrop_scrub(original, "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)  # a report
    [written] = list(out.iterdir())
    assert written.name == "scans.zip"
    cleaned = written.read_bytes()
    assert markers_left(cleaned) == []
    assert cleaned == scrub(data).data
