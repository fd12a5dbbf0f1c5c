"""Malicious files against the real server: each answered, nothing lost, the server stands.

Every hostile file is submitted together with a normal phone photo. For each: the answer is
a receipt (200), the submission is sealed whole, the photo is cleaned (no GPS left), the
hostile file is either refused by the cleaner and kept byte for byte as received ("not
cleaned"), or — where the design makes it harmless (a stream copied without inflating) —
cleaned for real (its marker gone, the output still a valid file). The server answers a new
visitor afterwards. The files where the design promises a refusal (sizes beyond the limits,
entity expansion, two formats in one) must be refused.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pikepdf
import pytest
from support.fixtures_office import jpeg_with_gps
from support.hostile_files import (
    POLYGLOT_PAYLOAD,
    billion_laughs_docx,
    cyclic_pdf,
    jpeg_huge_header,
    jpeg_zip_polyglot,
    pdf_stream_bomb,
    pdf_zip_polyglot,
    png_bomb,
    truncated_docx,
    truncated_jpeg,
    truncated_pdf,
    zip_bomb_docx,
)
from support.live_server import (
    LiveServer,
    Opened,
    ServerPool,
    exiftool_json,
    open_submission,
    sealed_files,
    storage_listing,
    submit,
)

pytestmark = pytest.mark.timeout(300)

NORMAL_NAME = "IMG_20240506_070809.jpg"


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    build: Callable[[], bytes]
    #: "refused": must be sealed as received, not cleaned. "either": cleaned is allowed
    #: (then it must really be clean and valid), refused too.
    expect: str
    #: Bytes that must not be in a cleaned output.
    secret: bytes = b"Marker-"


CASES = [
    Case("png-bomb-50000x50000", "bomb.png", png_bomb, "refused"),
    Case("docx-zip-bomb-300MiB", "bomb.docx", zip_bomb_docx, "refused"),
    Case("docx-billion-laughs", "laughs.docx", billion_laughs_docx, "refused"),
    Case(
        "pdf-content-stream-bomb-64MiB",
        "content-bomb.pdf",
        lambda: pdf_stream_bomb(64 << 20, where="content"),
        "either",
    ),
    Case(
        "pdf-xmp-stream-bomb-256MiB",
        "xmp-bomb.pdf",
        lambda: pdf_stream_bomb(256 << 20, where="xmp"),
        "either",
    ),
    Case(
        "pdf-flate-jpeg-bomb-256MiB",
        "jpeg-bomb.pdf",
        lambda: pdf_stream_bomb(256 << 20, where="jpeg"),
        "either",
    ),
    Case("pdf-cyclic-references", "cyclic.pdf", cyclic_pdf, "either"),
    Case("jpeg-65535x65535-header", "huge.jpg", jpeg_huge_header, "refused"),
    Case("jpeg-truncated", "cut.jpg", truncated_jpeg, "either"),
    Case("pdf-truncated", "cut.pdf", truncated_pdf, "either"),
    Case("docx-truncated", "cut.docx", truncated_docx, "refused"),
    Case("polyglot-pdf-zip", "poly.pdf", pdf_zip_polyglot, "refused", POLYGLOT_PAYLOAD),
    Case("polyglot-jpeg-zip", "poly.jpg", jpeg_zip_polyglot, "refused", POLYGLOT_PAYLOAD),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    pool = ServerPool(tmp_path_factory.mktemp("hostile"))
    try:
        yield pool()
    finally:
        pool.stop_all()


def _receipt_items(page: str) -> list[tuple[str, str]]:
    """(class, text) of each file item on the receipt."""
    return [
        (m.group(1), html.unescape(re.sub(r"<[^>]+>", " ", m.group(2))))
        for m in re.finditer(
            r'<li class="(cleaned|not-cleaned)">(.*?)</li>\s*(?=<li class|</ol>)', page, re.S
        )
    ]


def _submit_and_open(
    server: LiveServer, files: list[tuple[str, bytes]], message: str, dest: Path
) -> tuple[httpx.Response, Opened]:
    before = set(sealed_files(server.storage))
    response = submit(server, files, message, timeout=240)
    after = set(sealed_files(server.storage))
    assert response.status_code == 200, (response.status_code, response.text[:2000])
    new = sorted(after - before)
    assert len(new) == 1, f"expected one new sealed submission, got {new}"
    # Nothing half-done next to it.
    listing = storage_listing(server.storage)
    assert listing["incoming"] == [] and listing["spool"] == [], listing
    return response, open_submission(new[0], server.editor.identity, dest)


def _check_normal_photo(opened: Opened, sent: bytes) -> None:
    entry = opened.by_original(NORMAL_NAME)
    assert entry["cleaned"] is True, entry
    assert "exif:GPS" in entry["removed"], entry
    tags = exiftool_json(opened.path(entry))
    leftover = sorted(k for k in tags if "GPS" in k or "Artist" in k or "Make" in k)
    assert leftover == [], leftover
    assert b"Marker-" not in opened.data(entry)
    assert opened.data(entry) != sent


def _check_hostile(opened: Opened, case: Case, sent: bytes) -> None:
    entry = opened.by_original(case.filename)
    stored = opened.data(entry)
    assert entry["sha256"] == hashlib.sha256(stored).hexdigest()
    if entry["cleaned"]:
        assert case.expect == "either", f"{case.name} must be refused, was 'cleaned': {entry}"
        assert case.secret not in stored, f"{case.name}: cleaned output still holds the marker"
        assert b"Marker-" not in stored
        if entry["type"] == "pdf":
            with pikepdf.open(opened.path(entry)) as pdf:  # a valid PDF came out
                assert len(pdf.pages) >= 1
    else:
        # Nothing accepted is lost: the file is kept exactly as received, and says why.
        assert stored == sent, f"{case.name}: not-cleaned file differs from what was sent"
        assert entry["reason"], entry


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_file_is_answered_and_nothing_is_lost(
    server: LiveServer, case: Case, tmp_path: Path
) -> None:
    photo = jpeg_with_gps()
    hostile = case.build()
    message = f"hostile case {case.name}"
    response, opened = _submit_and_open(
        server, [(NORMAL_NAME, photo), (case.filename, hostile)], message, tmp_path / "open"
    )
    assert opened.message == message
    assert len(opened.entries) == 2, opened.entries
    _check_normal_photo(opened, photo)
    _check_hostile(opened, case, hostile)

    # The receipt tells the truth about the hostile file.
    items = dict((text.split()[0], cls) for cls, text in _receipt_items(response.text))
    hostile_entry = opened.by_original(case.filename)
    expected_class = "cleaned" if hostile_entry["cleaned"] else "not-cleaned"
    assert items.get(case.filename) == expected_class, (items, case.filename)
    assert items.get(NORMAL_NAME) == "cleaned", items

    # Still standing: a new visitor gets the form.
    page = httpx.get(f"{server.url}/?lang=en", timeout=30)
    assert page.status_code == 200 and 'name="files"' in page.text


def test_all_hostile_files_in_one_submission(server: LiveServer, tmp_path: Path) -> None:
    """Every hostile file at once, with the normal photo first and last: one sealed
    submission holding all of them, the photos cleaned."""
    photo = jpeg_with_gps()
    built = {case.filename: case.build() for case in CASES}
    files = [(NORMAL_NAME, photo), *list(built.items())]
    _, opened = _submit_and_open(server, files, "everything at once", tmp_path / "open")
    assert sorted(e["original_name"] for e in opened.entries) == sorted(n for n, _ in files)
    _check_normal_photo(opened, photo)
    for case in CASES:
        _check_hostile(opened, case, built[case.filename])
    assert server.healthy()
