"""The submit path end to end: cleaned, sealed, and opened again with the audited `age`
binary and `tar`, and with `leakdrop open`; hostile file names; a message alone.

Real sealing, real scrubbers (sandboxed worker processes), real storage in tmp_path.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.asgi_app import Server, html_lang, make_server, open_only, server
from support.fixtures_office import jpeg_with_gps, make_docx
from support.fixtures_pdf import small_pdf
from support.submissions import age_open, multipart, part_head, submissions, tree_state

from leakdrop.server.i18n import STRINGS

__all__ = ["make_server", "server"]  # the fixtures


# ------------------------------------------------------------------------------ round trip


def test_submission_is_cleaned_sealed_and_opens_with_age_and_leakdrop_open(
    server: Server, tmp_path: Path
) -> None:
    jpeg = jpeg_with_gps()
    pdf = small_pdf("Marker-PdfAuthor-Jean-Dupont")
    docx = make_docx()
    text = b"\x00\x01 notes in a format no scrubber knows\n"
    message = "Bonjour,\r\nvoici les documents du marché « vidéoprotection ».\r\n"
    body = multipart(
        [
            ("IMG_0042.JPG", jpeg),
            ("contrat.jpg", pdf),  # a PDF named .jpg: the bytes decide
            ("rapport final.docx", docx),
            ("notes", text),
        ],
        message=message,
    )
    response = server.submit(body, lang="en")
    assert response.status_code == 200, response.text
    assert html_lang(response) == "en"
    assert "Receipt" in response.text
    # The storage holds one sealed file and nothing else.
    state = tree_state(server.storage)
    assert len(state["submissions"]) == 1 and not state["incoming"] and not state["spool"]
    assert re.fullmatch(r"[0-9a-f]{32}\.age", state["submissions"][0])
    stored = submissions(server.storage)[0]
    assert stored.read_bytes().startswith(b"age-encryption.org/v1\n")

    opened = age_open(stored, server.editor.identity_file, tmp_path / "opened")
    manifest = opened.manifest
    assert manifest["format"] == "leakdrop-submission"
    assert manifest["received"] == datetime.now(UTC).date().isoformat()
    # The id is random and is not the storage name.
    assert re.fullmatch(r"[0-9a-f]{32}", manifest["id"])
    assert manifest["id"] + ".age" != stored.name
    assert manifest["id"] not in response.text and stored.stem not in response.text
    assert opened.message == message.replace("\r\n", "\n")
    files = manifest["files"]
    assert [f["original_name"] for f in files] == [
        "IMG_0042.JPG",
        "contrat.jpg",
        "rapport final.docx",
        "notes",
    ]
    assert [f["name"] for f in files] == [
        "files/01-IMG_0042.JPG",
        "files/02-contrat.pdf",
        "files/03-rapport final.docx",
        "files/04-notes",
    ]
    assert [f["type"] for f in files] == ["jpeg", "pdf", "docx", "unknown"]
    assert [f["cleaned"] for f in files] == [True, True, True, False]
    assert files[3]["reason"] == "unsupported file type"
    for entry in files:
        data = opened.file(entry)
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    # Cleaned for real: the identifying values are gone from the stored bytes.
    assert "exif:GPS" in files[0]["removed"]
    stored_jpeg = opened.file(files[0])
    assert b"Marker-" not in stored_jpeg and stored_jpeg != jpeg
    assert files[1]["removed"], files[1]
    assert b"Jean-Dupont" not in opened.file(files[1])
    assert files[2]["removed"]
    assert opened.file(files[3]) == text  # kept exactly as received
    # The receipt says the same thing, names escaped: the unknown binary file is passed on
    # as it is, under the not-cleaned alarm (plain text has its own test).
    assert response.text.count('class="not-cleaned"') == 1
    assert response.text.count('class="plain-text"') == 0
    assert "<code>exif:<wbr>GPS</code>" in response.text  # break opportunities only
    assert "contrat.pdf" in response.text

    # `leakdrop open` (the editors' tool) opens the same file.
    out = tmp_path / "leakdrop-open"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("leakdrop")),
            "open",
            "--identity",
            str(server.editor.identity_file),
            "--out",
            str(out),
            str(stored),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "NOT CLEANED" in result.stdout
    extracted = {p.name: p.read_bytes() for p in out.rglob("files/*")}
    assert extracted["02-contrat.pdf"] == opened.file(files[1])
    assert extracted["04-notes"] == text


CORPUS = [
    "exiftool/GPS.jpg",
    "exiftool/Canon.jpg",
    "exiftool/PNG.png",
    "mat2/dirty.pdf",
    "mat2/dirty.docx",
    "mat2/dirty.odt",
    "mat2/dirty.heic",
    "mat2/embedded_corrupted.docx",
    "pikepdf/form_dd0293.pdf",
]


def test_corpus_files_round_trip(
    make_server: Callable[..., Server], tmp_path: Path, shared_dir: Path | None
) -> None:
    if shared_dir is not None:
        corpus = [(Path(name).name, (shared_dir / "corpus" / name).read_bytes()) for name in CORPUS]
    else:  # outside this environment: self-made files of the same kinds
        corpus = [
            ("gps.jpg", jpeg_with_gps()),
            ("doc.pdf", small_pdf("Marker-Author")),
            ("doc.docx", make_docx()),
        ]
    server = make_server()
    response = server.submit(multipart(corpus, message="corpus"))
    assert response.status_code == 200, response.text
    opened = open_only(server, tmp_path)
    files = opened.manifest["files"]
    originals = [f["original_name"] for f in files if not (f["note"] or "").startswith("attach")]
    assert originals == [name for name, _ in corpus]
    by_name = dict(corpus)
    for entry in files:
        data = opened.file(entry)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["cleaned"] == (entry["reason"] is None)
        if not entry["cleaned"]:
            # Nothing accepted is lost: a file that could not be cleaned is kept as sent.
            assert data == by_name[entry["original_name"]], entry["name"]
            assert entry["removed"] == []
        # The receipt lists every file, and flags each one not cleaned.
        assert entry["name"].split("-", 1)[1] in response.text
    not_cleaned = [f for f in files if not f["cleaned"]]
    assert response.text.count('class="not-cleaned"') == len(not_cleaned)
    if shared_dir is not None:
        by_original = {f["original_name"]: f for f in files}
        assert by_original["GPS.jpg"]["cleaned"] and "exif:GPS" in by_original["GPS.jpg"]["removed"]
        assert by_original["dirty.pdf"]["cleaned"]
        assert not by_original["embedded_corrupted.docx"]["cleaned"]
        # The stored name carries the extension of what is stored (HEIC may be re-encoded
        # to another format when its ICC profile cannot be removed in place).
        heic = by_original["dirty.heic"]
        extension = {"heif": ".heic", "png": ".png", "jpeg": ".jpg", "tiff": ".tif"}
        assert heic["name"].endswith(extension[heic["type"]]), heic


def test_pdf_attachments_become_files_of_their_own(server: Server, tmp_path: Path) -> None:
    from support.fixtures_pdf import dirty_pdf

    response = server.submit(multipart([("dossier.pdf", dirty_pdf())]))
    assert response.status_code == 200, response.text
    files = open_only(server, tmp_path).manifest["files"]
    assert files[0]["original_name"] == "dossier.pdf" and files[0]["type"] == "pdf"
    attachments = files[1:]
    assert attachments, "the PDF's attachments must be kept as files"
    for entry in attachments:
        assert entry["note"].startswith("attachment of dossier.pdf")
    assert "dossier.pdf" in response.text


def test_empty_file_is_accepted_and_flagged(server: Server, tmp_path: Path) -> None:
    response = server.submit(multipart([("vide.pdf", b""), ("b.txt", b"data")]))
    assert response.status_code == 200
    assert "est vide (0\u00a0octet)" in response.text
    files = open_only(server, tmp_path).manifest["files"]
    assert files[0]["size"] == 0 and files[0]["cleaned"] is True
    assert files[0]["note"] == "empty file (0 bytes)"
    assert files[0]["sha256"] == hashlib.sha256(b"").hexdigest()


def test_message_only_tip_is_sealed_like_a_short_submission(server: Server, tmp_path: Path) -> None:
    """A message alone is a submission (the form asks for files, a message, or both);
    sealed, it is exactly as big as a submission of one small file."""
    text = "Le marché de vidéosurveillance a été attribué sans appel d’offres."
    # What a browser sends with no file picked: the empty file part, then the message.
    body = part_head("files", "") + b"\r\n" + multipart([], message=text)
    response = server.submit(body, lang="en")
    assert response.status_code == 200, response.text
    assert STRINGS["en"]["receipt_message"].format(chars=len(text)) in response.text
    opened = open_only(server, tmp_path)
    assert opened.message == text
    assert opened.manifest["files"] == []
    [message_only] = submissions(server.storage)
    size = message_only.stat().st_size
    message_only.rename(tmp_path / "message-only.age")
    assert server.submit(multipart([("a.txt", b"short note")])).status_code == 200
    [with_file] = submissions(server.storage)
    assert with_file.stat().st_size == size


# --------------------------------------------------------------------------- hostile names


HOSTILE_NAMES: list[tuple[str, bytes | str]] = [
    ("traversal", "../../etc/passwd"),
    ("windows-traversal", "..\\..\\boot.ini"),
    ("nul", b"inno\x00cent.pdf"),
    ("long", "A" * 10_000 + ".pdf"),
    ("rtl-override", "facture\u202efdp.exe"),
    ("markup", '<script>alert(1)</script>"&.txt'),
    ("dot", ".."),
    ("dashes", "--rm -rf.txt"),
]


@pytest.mark.parametrize(("label", "name"), HOSTILE_NAMES, ids=[n for n, _ in HOSTILE_NAMES])
def test_hostile_file_names(server: Server, tmp_path: Path, label: str, name: bytes | str) -> None:
    data = b"%PDF-1.4 not really\n" if label == "long" else b"payload " + label.encode()
    response = server.submit(multipart([(name, data)]), lang="en")
    assert response.status_code == 200, response.text
    opened = open_only(server, tmp_path)
    entry = opened.manifest["files"][0]
    stored = entry["name"]
    assert stored.startswith("files/01-")
    base = stored.removeprefix("files/01-")
    assert "/" not in base and "\\" not in base and "\x00" not in base
    assert "\u202e" not in base and not base.startswith((".", "-"))
    assert 0 < len(base.encode()) <= 120
    assert opened.file(entry) == data
    # Only the sealed manifest knows the original name (bounded).
    assert len(entry["original_name"]) <= 1000
    # The receipt shows the name escaped and without bidi/control characters.
    text = response.text
    assert "<script>alert" not in text
    assert "\u202e" not in text and "\x00" not in text
    if label == "markup":
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    if label == "long":
        assert "A" * 300 not in text
    # Nothing was written outside the storage's own folders.
    assert sorted(p.name for p in server.storage.iterdir()) == [
        "codename.secret",
        "incoming",
        "mailboxes",
        "spool",
        "submissions",
    ]
