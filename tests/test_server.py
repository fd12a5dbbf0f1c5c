"""The source-facing app, driven with httpx against the real ASGI application.

Real sealing, real scrubbers (sandboxed worker processes), real storage in tmp_path; the
sealed submissions are opened with the audited `age` binary and `tar`, and with
`leakdrop open`.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import EditorKeys
from fixtures_office import jpeg_with_gps, make_docx
from fixtures_pdf import small_pdf
from html_tree import Node, by_class, text_of
from html_tree import parse as parse_html
from test_server_support import (
    BOUNDARY,
    CONTENT_TYPE,
    age_open,
    all_files,
    find_marker,
    multipart,
    part_head,
    submissions,
    tree_state,
)

from leakdrop.server import CSP, Limits, ServerConfig, create_app
from leakdrop.server.i18n import STRINGS

REPO = Path(__file__).resolve().parents[1]
EMPTY_TREE: dict[str, list[str]] = {"submissions": [], "incoming": [], "spool": []}


@dataclass
class Server:
    app: Any
    storage: Path
    editor: EditorKeys

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://drop") as c:
                return await c.request(method, url, **kwargs)

        return anyio.run(go)

    def submit_to(self, url: str, body: bytes) -> httpx.Response:
        return self.request("POST", url, content=body, headers={"Content-Type": CONTENT_TYPE})

    def submit(
        self, body: bytes, *, lang: str | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        url = "/submit" + (f"?lang={lang}" if lang else "")
        return self.request(
            "POST", url, content=body, headers={"Content-Type": CONTENT_TYPE, **(headers or {})}
        )


@pytest.fixture
def make_server(tmp_path: Path, editor_identity: EditorKeys) -> Callable[..., Server]:
    def make(**limits: Any) -> Server:
        storage = tmp_path / "storage"
        limits.setdefault("min_free_bytes", 0)
        config = ServerConfig(
            storage=storage, recipients=(editor_identity.recipient,), limits=Limits(**limits)
        )
        return Server(create_app(config), storage, editor_identity)

    return make


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    return make_server()


def html_lang(response: httpx.Response) -> str:
    match = re.search(r'<html lang="([a-z]+)">', response.text)
    assert match, response.text[:200]
    return match.group(1)


def assert_security_headers(response: httpx.Response) -> None:
    h = response.headers
    assert h["content-security-policy"] == CSP
    assert CSP == (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-content-type-options"] == "nosniff"
    assert h["cache-control"] == "no-store"
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["cross-origin-resource-policy"] == "same-origin"
    assert "camera=()" in h["permissions-policy"]
    for banned in ("server", "etag", "set-cookie", "last-modified", "date"):
        assert banned not in h, banned


def open_only(server: Server, tmp_path: Path, name: str = "opened") -> Any:
    found = submissions(server.storage)
    assert len(found) == 1, found
    return age_open(found[0], server.editor.identity_file, tmp_path / name)


# ------------------------------------------------------------------------------ pages


def test_landing_page_is_french_by_default_and_english_one_link_away(server: Server) -> None:
    fr = server.request("GET", "/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert fr.status_code == 200
    assert html_lang(fr) == "fr"  # Accept-Language is ignored (Tor Browser says English)
    assert 'action="/submit?lang=fr"' in fr.text
    assert 'href="/?lang=en"' in fr.text
    en = server.request("GET", "/?lang=en")
    assert html_lang(en) == "en"
    assert 'action="/submit?lang=en"' in en.text
    assert 'href="/?lang=fr"' in en.text
    assert html_lang(server.request("GET", "/?lang=de")) == "fr"
    for page in (fr, en):
        text = page.text
        assert "<script" not in text.lower()
        assert 'enctype="multipart/form-data"' in text and 'method="post"' in text
        # Every field is labelled; the file input takes several files.
        for field in ("files", "message"):
            assert f'<label for="{field}">' in text and f'id="{field}"' in text
        assert re.search(r'<input type="file" id="files" name="files" multiple', text)
        assert '<meta name="viewport"' in text
        # The only resource is the self-hosted stylesheet; no absolute URL anywhere.
        assert re.findall(r'(?:href|src)="(/static/[^"]+)"', text) == ["/static/style.css"]
        assert not re.search(r'(?:href|src|action)="(?:https?:)?//', text)
    assert "Tor" in fr.text and "imprimantes" in fr.text and "capteur" in fr.text
    assert "Tor Browser" in en.text and "printers" in en.text and "sensor" in en.text


def test_admin_about_text_is_shown_escaped(tmp_path: Path, editor_identity: EditorKeys) -> None:
    from leakdrop.server.config import load_about

    about = tmp_path / "about"
    about.mkdir()
    (about / "fr.txt").write_text("Le collectif <b>Technopolice</b> tient ce site.\n\nDeux.")
    (about / "en.txt").write_text("Run by the Technopolice campaign.")
    config = ServerConfig(
        storage=tmp_path / "st",
        recipients=(editor_identity.recipient,),
        about=load_about(about),
    )
    server = Server(create_app(config), tmp_path / "st", editor_identity)
    fr = server.request("GET", "/").text
    assert "<p>Le collectif &lt;b&gt;Technopolice&lt;/b&gt; tient ce site.</p>" in fr
    assert "<p>Deux.</p>" in fr
    assert "Run by the Technopolice campaign." in server.request("GET", "/?lang=en").text


def test_security_headers_on_every_response(server: Server) -> None:
    body = multipart([("note.txt", b"hello")])
    responses = {
        "index": server.request("GET", "/"),
        "index-en": server.request("GET", "/?lang=en"),
        "receipt": server.submit(body),
        "error": server.submit(b"garbage", lang="en"),
        "not-found": server.request("GET", "/nope"),
        "static": server.request("GET", "/static/style.css"),
        "static-missing": server.request("GET", "/static/other.css"),
        "healthz": server.request("GET", "/healthz"),
        "method": server.request("PUT", "/"),
        "submit-get": server.request("GET", "/submit?lang=en"),
    }
    for name, response in responses.items():
        assert_security_headers(response)
    assert responses["receipt"].status_code == 200
    assert responses["error"].status_code == 400
    assert responses["not-found"].status_code == 404
    assert html_lang(responses["not-found"]) == "fr"
    assert responses["static"].status_code == 200
    assert responses["static"].headers["content-type"].startswith("text/css")
    assert responses["healthz"].text == "ok"
    assert responses["method"].status_code == 405
    assert responses["submit-get"].status_code == 303
    assert responses["submit-get"].headers["location"] == "/?lang=en"


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
def test_api_docs_are_off(server: Server, path: str) -> None:
    response = server.request("GET", path + "?lang=en")
    assert response.status_code == 404
    assert html_lang(response) == "en"
    assert "swagger" not in response.text.lower() and "openapi" not in response.text.lower()
    assert_security_headers(response)


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


def test_stored_file_and_folder_times_are_the_day(server: Server) -> None:
    assert server.submit(multipart([("a.txt", b"x")])).status_code == 200
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    stored = submissions(server.storage)[0]
    assert stored.stat().st_mtime == midnight.timestamp()
    assert stored.stat().st_atime == midnight.timestamp()
    # (A folder's access time moves whenever it is listed, by anyone: only mtime is ours.)
    (mailbox,) = (server.storage / "mailboxes").iterdir()  # the source's, for replies
    for folder in ("submissions", "incoming", "spool", "mailboxes", f"mailboxes/{mailbox.name}"):
        assert (server.storage / folder).stat().st_mtime == midnight.timestamp(), folder
    assert oct(submissions(server.storage)[0].stat().st_mode & 0o777) == "0o600"


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
    from fixtures_pdf import dirty_pdf

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


# ------------------------------------------------------------------------------ hostile names

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


# ------------------------------------------------------------------------------ refusals


def assert_nothing_stored(server: Server) -> None:
    assert tree_state(server.storage) == EMPTY_TREE


def assert_error_page(response: httpx.Response, status: int, lang: str, phrase: str) -> None:
    assert response.status_code == status, response.text
    assert html_lang(response) == lang
    assert phrase in response.text, response.text
    assert '<link rel="stylesheet" href="/static/style.css">' in response.text
    assert_security_headers(response)


def test_oversize_by_content_length(make_server: Callable[..., Server]) -> None:
    server = make_server(max_submission_bytes=64 * 1024)
    body = multipart([("big.bin", os.urandom(300 * 1024))])
    assert_error_page(server.submit(body, lang="en"), 413, "en", "larger than allowed")
    assert_error_page(server.submit(body), 413, "fr", "dépasse la taille maximale")
    assert_nothing_stored(server)


def test_oversize_while_streaming_without_content_length(
    make_server: Callable[..., Server],
) -> None:
    server = make_server(max_submission_bytes=256 * 1024)
    sent = 0

    async def chunked() -> AsyncIterator[bytes]:
        nonlocal sent
        yield part_head("files", "big.bin")
        for _ in range(64):  # 4 MiB: refused long before the end
            sent += 64 * 1024
            yield os.urandom(64 * 1024)
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    response = server.submit(chunked(), lang="en")  # type: ignore[arg-type]
    assert_error_page(response, 413, "en", "larger than allowed")
    assert_nothing_stored(server)


def test_files_over_the_limit_even_when_body_fits(make_server: Callable[..., Server]) -> None:
    # Two files of 40 KiB each under a 64 KiB limit: refused while the second streams in.
    server = make_server(max_submission_bytes=64 * 1024)
    body = multipart([("a.bin", os.urandom(40 * 1024)), ("b.bin", os.urandom(40 * 1024))])
    assert_error_page(server.submit(body, lang="en"), 413, "en", "larger than allowed")
    assert_nothing_stored(server)


def test_too_many_files(make_server: Callable[..., Server]) -> None:
    server = make_server(max_files=3)
    ok = server.submit(multipart([(f"{i}.txt", b"x") for i in range(3)]))
    assert ok.status_code == 200
    submissions(server.storage)[0].unlink()
    response = server.submit(multipart([(f"{i}.txt", b"x") for i in range(4)]), lang="en")
    assert_error_page(response, 413, "en", "Too many files (at most 3")
    assert_nothing_stored(server)


def test_message_too_long(make_server: Callable[..., Server]) -> None:
    server = make_server(max_message_chars=100)
    body = multipart([("a.txt", b"x")], message="é" * 101)
    assert_error_page(server.submit(body, lang="en"), 413, "en", "message is too long")
    assert_nothing_stored(server)
    ok = server.submit(multipart([("a.txt", b"x")], message="é" * 100))
    assert ok.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        f"--{BOUNDARY}--\r\n".encode(),  # no part at all
        multipart([], message=" \r\n\t "),  # a blank message is no message
        # What a browser sends when nothing was picked nor typed: an empty file part with
        # an empty name, and an empty message.
        part_head("files", "") + b"\r\n" + multipart([], message=""),
    ],
    ids=["no-part", "blank-message", "browser-empty-form"],
)
def test_empty_submission_is_refused(server: Server, body: bytes) -> None:
    assert_error_page(server.submit(body, lang="en"), 400, "en", "Nothing was sent")
    assert_error_page(server.submit(body), 400, "fr", "Rien n’a été envoyé")
    assert_nothing_stored(server)


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


MALFORMED: list[tuple[str, bytes, str]] = [
    ("garbage", b"this is not multipart at all", CONTENT_TYPE),
    ("truncated", multipart([("a.txt", b"abc")])[:-30], CONTENT_TYPE),
    ("no-closing-boundary", part_head("files", "a.txt") + b"abc", CONTENT_TYPE),
    ("urlencoded", b"files=abc", "application/x-www-form-urlencoded"),
    ("no-boundary", multipart([("a.txt", b"abc")]), "multipart/form-data"),
    ("bad-boundary", multipart([("a.txt", b"abc")]), "multipart/form-data; boundary=" + "x" * 80),
    ("unknown-field", part_head("extra") + b"v\r\n" + f"--{BOUNDARY}--\r\n".encode(), CONTENT_TYPE),
    (
        "two-messages",
        multipart([("a", b"x")], "m")[: -len(BOUNDARY) - 6]
        + b"\r\n"
        + part_head("message")
        + b"again\r\n"
        + f"--{BOUNDARY}--\r\n".encode(),
        CONTENT_TYPE,
    ),
    (
        "no-disposition",
        f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nabc\r\n--{BOUNDARY}--\r\n".encode(),
        CONTENT_TYPE,
    ),
    (
        "header-too-long",
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="'.encode()
        + b"a" * (70 * 1024)
        + f'"\r\n\r\nabc\r\n--{BOUNDARY}--\r\n'.encode(),
        CONTENT_TYPE,
    ),
    (
        "message-not-utf8",
        multipart([("a.txt", b"abc")]).replace(
            f"--{BOUNDARY}--".encode(),
            part_head("message")[2:].join([b"--", b""])
            + b"\xff\xfe\r\n"
            + f"--{BOUNDARY}--".encode(),
            1,
        ),
        CONTENT_TYPE,
    ),
]


@pytest.mark.parametrize(("label", "body", "ctype"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests(server: Server, label: str, body: bytes, ctype: str) -> None:
    response = server.submit(body, lang="en", headers={"Content-Type": ctype})
    assert_error_page(response, 400, "en", "incomplete or malformed")
    assert_nothing_stored(server)


@pytest.mark.parametrize("declared_delta", [+1000, -10], ids=["claims-more", "claims-less"])
def test_lying_content_length(server: Server, declared_delta: int) -> None:
    body = multipart([("a.txt", b"abc" * 100)])
    response = server.submit(
        body, lang="en", headers={"Content-Length": str(len(body) + declared_delta)}
    )
    assert_error_page(response, 400, "en", "incomplete or malformed")
    assert_nothing_stored(server)


def test_bad_content_length_header(server: Server) -> None:
    body = multipart([("a.txt", b"abc")])
    response = server.submit(body, lang="en", headers={"Content-Length": "12abc"})
    assert_error_page(response, 400, "en", "incomplete or malformed")


# ------------------------------------------------------------------------------ raw ASGI


async def call_asgi(
    app: Any, receive: Callable[[], Any], *, lang: str = "en", content_length: int | None = None
) -> tuple[int | None, bytes]:
    status: int | None = None
    body = b""
    headers = [(b"content-type", CONTENT_TYPE.encode()), (b"host", b"drop")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/submit",
        "raw_path": b"/submit",
        "query_string": f"lang={lang}".encode(),
        "root_path": "",
        "headers": headers,
        "client": None,
        "server": ("drop", 80),
    }
    await app(scope, receive, send)
    return status, body


def scripted_receive(chunks: list[bytes], then: dict[str, Any]) -> Callable[[], Any]:
    queue = list(chunks)

    async def receive() -> dict[str, Any]:
        if queue:
            return {"type": "http.request", "body": queue.pop(0), "more_body": True}
        return then

    return receive


def test_client_disconnecting_halfway_leaves_nothing(server: Server) -> None:
    full = multipart([("a.pdf", small_pdf("x")), ("b.bin", os.urandom(3 * 1024 * 1024))])
    cut = full[: len(full) // 2]
    chunks = [cut[i : i + 65536] for i in range(0, len(cut), 65536)]
    receive = scripted_receive(chunks, {"type": "http.disconnect"})
    status, _ = anyio.run(lambda: call_asgi(server.app, receive, content_length=len(full)))
    assert status == 400
    assert_nothing_stored(server)
    # The server still serves.
    assert server.submit(multipart([("c.txt", b"c")])).status_code == 200


def test_idle_client_is_dropped(make_server: Callable[..., Server]) -> None:
    server = make_server(idle_timeout=0.3)
    body = multipart([("a.bin", os.urandom(200_000))])

    async def main() -> tuple[int | None, bytes]:
        first = True
        never = anyio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": body[:100_000], "more_body": True}
            await never.wait()  # a silent client: never sends another byte
            raise AssertionError("unreachable")

        return await call_asgi(server.app, receive, content_length=len(body))

    status, _ = anyio.run(main)
    assert status == 400
    assert_nothing_stored(server)


def test_busy_and_concurrent_uploads(make_server: Callable[..., Server]) -> None:
    """Two uploads proceed at once (one stalled mid-body does not hold the other up);
    a third gets the "busy" page; the stalled one then completes."""
    server = make_server(max_concurrent=2)
    slow_body = multipart([("slow.txt", b"slow " * 50_000)], message="slow")
    half = len(slow_body) // 2

    async def main() -> dict[str, Any]:
        resume = anyio.Event()
        first_half_read = anyio.Event()
        results: dict[str, Any] = {}
        state = {"step": 0}

        async def slow_receive() -> dict[str, Any]:
            state["step"] += 1
            if state["step"] == 1:
                return {"type": "http.request", "body": slow_body[:half], "more_body": True}
            first_half_read.set()
            await resume.wait()
            return {"type": "http.request", "body": slow_body[half:], "more_body": False}

        async def slow() -> None:
            results["slow"] = await call_asgi(server.app, slow_receive)

        transport = httpx.ASGITransport(app=server.app)
        async with anyio.create_task_group() as group:
            group.start_soon(slow)
            await first_half_read.wait()
            async with httpx.AsyncClient(transport=transport, base_url="http://d") as client:
                # Another source's upload completes while the first is stalled.
                fast = await client.post(
                    "/submit?lang=en",
                    content=multipart([("fast.txt", b"fast")]),
                    headers={"Content-Type": CONTENT_TYPE},
                )
                results["fast"] = fast.status_code
                results["stored_while_stalled"] = len(submissions(server.storage))
                # Fill the second slot with another stalled upload, then one more: busy.
                resume2 = anyio.Event()
                started2 = anyio.Event()

                async def receive2() -> dict[str, Any]:
                    started2.set()
                    await resume2.wait()
                    return {"type": "http.request", "body": multipart([("x", b"x")])}

                async def second() -> None:
                    results["second"] = await call_asgi(server.app, receive2)

                group.start_soon(second)
                await started2.wait()
                busy = await client.post(
                    "/submit?lang=en",
                    content=multipart([("busy.txt", b"busy")]),
                    headers={"Content-Type": CONTENT_TYPE},
                )
                results["busy"] = busy
                resume2.set()
            resume.set()
        return results

    results = anyio.run(main)
    assert results["fast"] == 200
    assert results["stored_while_stalled"] == 1
    assert_error_page(results["busy"], 503, "en", "receiving many submissions")
    assert results["slow"][0] == 200
    assert results["second"][0] == 200
    assert len(submissions(server.storage)) == 3


def test_server_full_below_free_space_threshold(make_server: Callable[..., Server]) -> None:
    server = make_server(min_free_bytes=1 << 62)
    response = server.submit(multipart([("a.txt", b"abc")]), lang="en")
    assert_error_page(response, 507, "en", "not have enough space")
    assert_error_page(
        server.submit(multipart([("a.txt", b"abc")])), 507, "fr", "plus assez de place"
    )
    assert_nothing_stored(server)


def test_startup_sweeps_leftovers(tmp_path: Path, editor_identity: EditorKeys) -> None:
    storage = tmp_path / "storage"
    for sub in ("submissions", "incoming", "spool"):
        (storage / sub).mkdir(parents=True)
    keep = storage / "submissions" / ("ab" * 16 + ".age")
    keep.write_bytes(b"age-encryption.org/v1\n...")
    (storage / "incoming" / "deadbeef.part").write_bytes(b"partial ciphertext")
    (storage / "spool" / "spool-0123").write_bytes(b"spool ciphertext")
    config = ServerConfig(storage=storage, recipients=(editor_identity.recipient,))
    create_app(config)
    assert tree_state(storage) == {"submissions": [keep.name], "incoming": [], "spool": []}
    assert keep.read_bytes() == b"age-encryption.org/v1\n..."


def test_marker_is_nowhere_in_storage_after_submission(server: Server, tmp_path: Path) -> None:
    marker = "Marker-c0ffee-" + os.urandom(6).hex()
    body = multipart([(f"{marker}.txt", f"secret {marker} inside".encode())], message=marker)
    response = server.submit(body)
    assert response.status_code == 200
    assert find_marker(all_files(server.storage), marker) == []
    opened = open_only(server, tmp_path)
    # ...but it is all there for the editor.
    assert opened.message == marker
    assert opened.manifest["files"][0]["original_name"] == f"{marker}.txt"
    assert marker.encode() in opened.file(opened.manifest["files"][0])


def test_no_plaintext_temporary_files_while_spooling(tmp_path: Path) -> None:
    """The spool's file has no name and holds only ciphertext."""
    from leakdrop.server.spool import MAGIC as SPOOL_MAGIC
    from leakdrop.server.spool import SpoolFile, SpoolKey

    folder = tmp_path / "spool"
    folder.mkdir()
    marker = b"Marker-spool-" + os.urandom(4).hex().encode()
    spool = SpoolFile(folder, SpoolKey())
    data = (marker + b" ") * 100_000
    spool.write(data[: len(data) // 2])
    spool.write(memoryview(data)[len(data) // 2 :])
    spool.finish()
    assert list(folder.iterdir()) == []  # no name, ever
    raw = Path(f"/proc/self/fd/{spool._fd}").read_bytes()
    assert raw.startswith(SPOOL_MAGIC) and len(raw) > len(data)
    assert marker not in raw
    assert spool.sha256 == hashlib.sha256(data).hexdigest() and spool.size == len(data)
    assert spool.read_all() == data
    with spool.open() as reader:
        assert reader.read(5) == data[:5]
        assert reader.read() == data[5:]
    spool.close()
    assert spool.closed


def test_scrub_runs_off_the_event_loop(make_server: Callable[..., Server]) -> None:
    """While a file is being cleaned, the loop keeps answering other requests."""
    server = make_server()
    from fixtures_pdf import dirty_pdf

    pdf = dirty_pdf()

    async def main() -> list[float]:
        transport = httpx.ASGITransport(app=server.app)
        timings: list[float] = []
        done = anyio.Event()
        async with httpx.AsyncClient(transport=transport, base_url="http://d") as client:

            async def upload() -> None:
                r = await client.post(
                    "/submit",
                    content=multipart([(f"{i}.pdf", pdf) for i in range(4)]),
                    headers={"Content-Type": CONTENT_TYPE},
                )
                assert r.status_code == 200
                done.set()

            async with anyio.create_task_group() as group:
                group.start_soon(upload)
                while not done.is_set():
                    start = time.perf_counter()
                    assert (await client.get("/healthz")).text == "ok"
                    timings.append(time.perf_counter() - start)
                    await anyio.sleep(0)
        return timings

    timings = anyio.run(main)
    # Many health checks were answered during the upload (not one long stall).
    assert len(timings) >= 5, timings


def test_internal_failure_is_a_page_and_logs_no_name(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    # The storage loses its incoming/ folder under the server's feet: sealing fails.
    (server.storage / "incoming").rmdir()
    marker = "Marker-internal-" + os.urandom(4).hex()
    with caplog.at_level("DEBUG"):
        response = server.submit(multipart([(f"{marker}.txt", marker.encode())], marker))
    assert_error_page(response, 500, "fr", "Une erreur s’est produite")
    assert "Rien de cet envoi n’a été conservé." in response.text
    assert "submission failed: FileNotFoundError" in caplog.text
    assert marker not in caplog.text and "incoming" not in caplog.text
    assert list((server.storage / "submissions").iterdir()) == []
    assert list((server.storage / "spool").iterdir()) == []


# ----------------------------------------------------------------- settings and the worker


def serve_args(argv: list[str]) -> Any:
    from leakdrop.cli import _build_parser

    return _build_parser().parse_args(["serve", *argv])


def test_worker_limits_and_header_timeout_from_options_and_environment(
    editor_identity: EditorKeys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leakdrop.server.config import MIB

    keys, storage = editor_identity.keys_dir, tmp_path / "st"
    args = serve_args(
        [
            "--scrub-memory-bytes=400M",
            "--scrub-cpu-seconds=7",
            "--scrub-wall-seconds=2.5",
            "--header-timeout=12",
        ]
    )
    limits = ServerConfig.from_args(args, keys=keys, storage=storage).limits
    assert (limits.scrub_memory_bytes, limits.scrub_cpu_seconds) == (400 * MIB, 7)
    assert (limits.scrub_wall_seconds, limits.header_timeout) == (2.5, 12.0)
    assert limits.header_deadline == 12.0
    # Unset: the scrubbers' own defaults; the header deadline never outlasts the idle one.
    import scrubbers

    config = ServerConfig.from_args(serve_args(["--idle-timeout=2"]), keys=keys, storage=storage)
    limits_ = config.limits
    assert limits_.scrub_memory_bytes == scrubbers.DEFAULT_LIMITS.memory_bytes
    assert limits_.scrub_cpu_seconds == scrubbers.DEFAULT_LIMITS.cpu_seconds
    assert limits_.scrub_wall_seconds == scrubbers.DEFAULT_LIMITS.wall_seconds
    assert (limits_.header_timeout, limits_.header_deadline) == (30.0, 2.0)
    # The same from the environment (read when the parser is built).
    for name, value in (
        ("LEAKDROP_SCRUB_MEMORY_BYTES", "1G"),
        ("LEAKDROP_SCRUB_CPU_SECONDS", "11"),
        ("LEAKDROP_SCRUB_WALL_SECONDS", "13.5"),
        ("LEAKDROP_HEADER_TIMEOUT", "9"),
    ):
        monkeypatch.setenv(name, value)
    env_limits = ServerConfig.from_args(serve_args([]), keys=keys, storage=storage).limits
    assert (env_limits.scrub_memory_bytes, env_limits.scrub_cpu_seconds) == (1024 * MIB, 11)
    assert (env_limits.scrub_wall_seconds, env_limits.header_deadline) == (13.5, 9.0)


@pytest.mark.parametrize(
    "argv",
    [
        ["--scrub-memory-bytes=0"],
        ["--scrub-memory-bytes=lots"],
        ["--scrub-memory-bytes=99999T"],
        ["--scrub-cpu-seconds=0"],
        ["--scrub-cpu-seconds=1.5"],
        ["--scrub-cpu-seconds=1000000"],
        ["--scrub-wall-seconds=0"],
        ["--scrub-wall-seconds=-3"],
        ["--scrub-wall-seconds=nan"],
        ["--scrub-wall-seconds=inf"],
        ["--header-timeout=0"],
        ["--header-timeout=soon"],
        ["--idle-timeout=nan"],
    ],
)
def test_bad_worker_limits_are_refused(
    argv: list[str], editor_identity: EditorKeys, tmp_path: Path
) -> None:
    from leakdrop.server import ConfigError

    option = argv[0].split("=")[0].removeprefix("--").replace("-", "_")
    with pytest.raises(ConfigError, match=option):
        ServerConfig.from_args(serve_args(argv), keys=editor_identity.keys_dir, storage=tmp_path)


def noise_png() -> bytes:
    """Two megabytes that do not compress: the worker must allocate to receive them."""
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.frombytes("RGB", (800, 800), os.urandom(800 * 800 * 3)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("limit", "fr_reason", "en_reason"),
    [
        (
            {"scrub_memory_bytes": 1024 * 1024},
            "trop grand ou trop complexe pour être nettoyé sans risque",
            "too large or too complex to clean safely",
        ),
        ({"scrub_wall_seconds": 0.001}, "le nettoyage a pris trop de temps", "cleaning timed out"),
    ],
)
def test_worker_limits_reach_the_worker(
    make_server: Callable[..., Server],
    tmp_path: Path,
    limit: dict[str, Any],
    fr_reason: str,
    en_reason: str,
) -> None:
    """A worker held to 1 MiB of address space cannot take a 2 MB image in; one given a
    millisecond cannot answer in time. Either way the file is kept as received."""
    png = noise_png()
    server = make_server(**limit)
    response = server.submit(multipart([("big.png", png), ("note.txt", b"text")]))
    assert response.status_code == 200, response.text
    assert f"NON NETTOYÉ</strong> — Raison\u00a0: {fr_reason}" in response.text
    opened = open_only(server, tmp_path)
    entry = opened.manifest["files"][0]
    assert entry["cleaned"] is False and entry["reason"] == en_reason
    assert opened.file(entry) == png
    # The default limits clean the same file.
    (server.storage / "submissions" / submissions(server.storage)[0].name).unlink()
    default = make_server()
    assert "NON NETTOYÉ" not in default.submit(multipart([("big.png", png)])).text


# ------------------------------------------------------------------------- receipt notes


def test_receipt_notes_and_reasons_are_in_the_page_language(server: Server) -> None:
    from fixtures_images import dirty_jpeg

    jpeg = dirty_jpeg(server.storage.parent, orientation=6)
    body = multipart([("photo.jpg", jpeg), ("data.bin", b"\x00\x01raw")])
    fr = server.submit(body, lang="fr").text
    assert "Remarque\u00a0: L’image elle-même est intacte" in fr
    assert "L’orientation de la photo a été gardée" in fr
    assert "Raison\u00a0: type de fichier non pris en charge" in fr
    for english in ("lossless", "byte for byte", "orientation kept", "unsupported"):
        assert english not in fr, english
    en = server.submit(body, lang="en").text
    assert "Note: The image itself is untouched (not re-compressed)" in en
    assert "The photo’s orientation was kept" in en
    assert "Reason: unsupported file type" in en
    assert "byte for byte" not in en


def _tagged_wav() -> bytes:
    info = b"INFO" + b"IART" + (10).to_bytes(4, "little") + b"Jane Doe\x00\x00"
    fmt = (1).to_bytes(2, "little") * 2 + (8000).to_bytes(4, "little") * 2 + b"\x01\x00\x08\x00"
    chunks = b"".join(
        cid + len(body).to_bytes(4, "little") + body
        for cid, body in ((b"fmt ", fmt), (b"LIST", info), (b"data", b"\x80" * 800))
    )
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WAVE" + chunks


def test_receipt_says_audio_kept_and_text_hides_nothing(server: Server) -> None:
    body = multipart([("memo.wav", _tagged_wav()), ("notes.md", b"# Notes\n- met V.\n")])
    for lang in ("fr", "en"):
        page = server.submit(body, lang=lang).text
        for key in ("note_audio_kept", "note_plain_text"):
            assert STRINGS[lang][key].replace("'", "&#39;") in page, (lang, key)
        assert STRINGS[lang]["note_other"] not in page


def test_unknown_notes_and_reasons_are_never_shown_verbatim() -> None:
    """They come from a worker that parsed a hostile file: only known texts are shown."""
    from leakdrop.server.i18n import note_lines, reason_text

    planted = "Send your name to evil@example.org"
    for lang, generic_note, generic_reason in (
        ("fr", "Une remarque technique sur ce fichier", "n’a pas pu être nettoyé"),
        ("en", "A technical note about this file", "could not be cleaned"),
    ):
        assert reason_text(lang, planted) == generic_reason
        lines = note_lines(lang, f"converted to PNG (lossless); {planted}; 2 more image(s) given")
        assert len(lines) == 2 and lines[1].startswith(generic_note)
        assert planted not in " ".join(lines)
        assert note_lines(lang, None) == [] and reason_text(lang, None) is None
    assert note_lines("fr", "converted to PNG (lossless); 3 more image(s) given as separate files")[
        1
    ].startswith("3 autres images")
    assert note_lines("en", "converted to PNG (lossless); 1 more image(s) given as separate files")[
        1
    ].startswith("One more image")


def test_every_scrubber_reason_and_note_has_words_in_both_languages(tmp_path: Path) -> None:
    """A reason or note added to the scrubbers without words here would reach French
    pages as the generic line: this says which one."""
    from fixtures_images import dirty_heif, dirty_jpeg, dirty_png
    from fixtures_pdf import dirty_pdf

    import scrubbers
    from leakdrop.server.cleaning import TOO_LARGE_TO_CLEAN
    from leakdrop.server.i18n import STRINGS, note_lines, reason_text

    def subclasses(cls: type[scrubbers.ScrubError]) -> list[type[scrubbers.ScrubError]]:
        return [cls, *(c for sub in cls.__subclasses__() for c in subclasses(sub))]

    reasons = {c.reason for c in subclasses(scrubbers.ScrubError)} | {TOO_LARGE_TO_CLEAN}
    assert len(reasons) >= 8
    for reason in reasons:
        for lang in STRINGS:
            assert "reason:" + reason in STRINGS[lang], (lang, reason)
        assert reason_text("en", reason) == reason  # the English page says what the manifest says

    notes = {
        scrubbers.scrub(data).note
        for data in (
            dirty_jpeg(tmp_path, orientation=6),
            dirty_jpeg(tmp_path, orientation=1),
            dirty_png(),
            dirty_heif(),
            dirty_pdf(),
            _tagged_wav(),
            b"plain text\n",
        )
    }
    assert len(notes - {None}) >= 4, notes
    for note in notes - {None}:
        for lang in STRINGS:
            generic = STRINGS[lang]["note_other"]
            assert generic not in note_lines(lang, note), (lang, note)


def test_removed_field_names_break_between_their_parts(server: Server) -> None:
    response = server.submit(multipart([("doc.docx", make_docx())]), lang="en")
    assert response.status_code == 200
    names = re.findall(r"<li><code>(.*?)</code></li>", response.text)
    assert names, response.text
    assert "ooxml:<wbr>docProps/<wbr>core" in names
    for name in names:
        # Each break opportunity follows a separator; the text itself is unchanged.
        assert name.replace("<wbr>", "").count(":") == name.count(":<wbr>") + name.endswith(":")
        assert "<" not in name.replace("<wbr>", "")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def _fs_now_ns(folder: Path, after_ns: int) -> int:
    """The file system's own clock (coarse: one tick per jiffy), once it has moved past
    `after_ns`: a probe file's change time. Polls the clock, not a sleep."""
    probe = folder / "clock-probe"
    while True:
        probe.write_bytes(b"")
        now = probe.stat().st_ctime_ns
        probe.unlink()
        if now > after_ns:
            return now


def test_change_times_do_not_date_each_submission(server: Server, tmp_path: Path) -> None:
    """The inode change time cannot be set, so each commit refreshes every stored
    submission's: a seized storage holds one change time (the latest commit's), not one
    exact time per submission."""
    assert server.submit(multipart([("a.txt", b"first")])).status_code == 200
    (first,) = submissions(server.storage)
    first_change = first.stat().st_ctime_ns
    later = _fs_now_ns(tmp_path, first_change)
    assert server.submit(multipart([("b.txt", b"second")])).status_code == 200
    stored = submissions(server.storage)
    assert len(stored) == 2
    for path in stored:
        assert path.stat().st_ctime_ns >= later, path.name
    # Refreshing the change time leaves the day-rounded times as they were.
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert {p.stat().st_mtime for p in stored} == {midnight.timestamp()}
    assert {p.stat().st_atime for p in stored} == {midnight.timestamp()}


# ------------------------------------------------------------------- receipt in plain words


def _receipt_files(html: str) -> dict[str, Node]:
    """The receipt's file entries, by the name the source gave."""
    [files] = by_class(parse_html(html), "ol", "files")
    entries = [c for c in files.children if c.tag == "li"]
    return {text_of(by_class(e, "p", "name")[0]): e for e in entries}


def test_field_categories_keep_every_name_and_have_words(tmp_path: Path) -> None:
    """Every field the scrubbers remove from the fixtures has a plain category (none falls
    to "other"); an unknown name is listed under "other", never dropped."""
    from fixtures_images import dirty_heif, dirty_jpeg, dirty_png
    from fixtures_pdf import dirty_pdf

    import scrubbers
    from leakdrop.server import fields
    from scrubbers._types import WARNING_CODES

    names: set[str] = set()
    for data in (dirty_pdf(), dirty_jpeg(tmp_path), dirty_png(), dirty_heif(), make_docx()):
        names |= set(scrubbers.scrub(data).removed)
    assert len(names) > 60, names
    # "Other" is for what is unknown by nature: private PNG chunks, unknown trailer keys.
    other = sorted(n for n in names if fields.category(n) == fields.OTHER)
    assert [n for n in other if not re.fullmatch(r"png:[a-z]\w+|pdf:trailer-extra", n)] == []
    planted = ("zzz:never-seen", "embedded:docx/embedded:jpeg/exif:GPS", "exif:Make")
    groups = fields.group(planted)
    assert [key for key, _ in groups] == ["gps", "camera", fields.OTHER]
    assert sorted(n for _, group in groups for n in group) == sorted(planted)
    for lang in STRINGS:
        for key in fields.CATEGORIES:
            assert STRINGS[lang]["field:" + key], (lang, key)
        for code in WARNING_CODES:
            assert "warning:" + code in STRINGS[lang], (lang, code)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_receipt_says_what_was_removed_in_plain_words_per_file(server: Server, lang: str) -> None:
    strings = STRINGS[lang]
    body = multipart(
        [
            ("IMG_0042.jpg", jpeg_with_gps()),
            ("contrat.pdf", small_pdf("Marker-PdfAuthor-Jean-Dupont")),
            ("note.docx", make_docx()),
        ]
    )
    response = server.submit(body, lang=lang)
    assert response.status_code == 200, response.text
    files = _receipt_files(response.text)
    expected = {
        "IMG_0042.jpg": ("gps", "camera", "author"),
        "contrat.pdf": ("author", "ids"),
        "note.docx": ("author", "properties", "comments", "dates", "paths"),
    }
    for name, categories in expected.items():
        entry = files[name]
        [plain] = by_class(entry, "ul", "removed-plain")
        said = [text_of(li) for li in plain.children if li.tag == "li"]
        for key in categories:
            assert strings["field:" + key] in said, (name, key, said)
        # Each category once, and the technical names only behind <details>.
        assert len(said) == len(set(said))
        [details] = [n for n in entry.walk() if n.tag == "details"]
        codes = [text_of(c) for c in details.walk() if c.tag == "code"]
        all_codes = [c for c in entry.walk() if c.tag == "code"]
        assert codes and len(all_codes) == len(codes)
        [summary] = [n for n in details.children if n.tag == "summary"]
        count = len(codes)
        assert text_of(summary) == strings["receipt_removed_details_many"].format(count=count)
    jpeg_codes = [text_of(c) for c in files["IMG_0042.jpg"].walk() if c.tag == "code"]
    assert "exif:GPS" in jpeg_codes
    assert "Jean-Dupont" not in response.text


def test_receipt_lists_what_no_cleaning_removes_and_the_files_warnings(server: Server) -> None:
    for lang in STRINGS:
        strings = STRINGS[lang]
        body = multipart([("note.docx", make_docx()), ("IMG.jpg", jpeg_with_gps())])
        root = parse_html(server.submit(body, lang=lang).text)
        [section] = [
            n
            for n in root.walk()
            if n.tag == "section" and n.attrs.get("aria-labelledby") == "cannot"
        ]
        said = text_of(section)
        for key in ("cannot_content", "cannot_dots", "cannot_watermarks", "cannot_noise"):
            assert strings[key] in said, (lang, key)
        # The docx keeps its hyperlinks (content): said, with the file it is in.
        [found] = by_class(section, "ul", "found")
        [line] = [text_of(li) for li in found.children if li.tag == "li"]
        assert line == f"{strings['warning:hyperlinks']} — note.docx", line


def test_plain_text_is_no_alarm_and_unknown_binary_is(server: Server) -> None:
    body = multipart([("notes.txt", "Réunion du 3 mai\n".encode()), ("data.bin", b"\x00\x01raw")])
    for lang in STRINGS:
        strings = STRINGS[lang]
        html = server.submit(body, lang=lang).text
        files = _receipt_files(html)
        assert files["notes.txt"].attrs["class"] == "plain-text"
        assert strings["receipt_plain_text"] in text_of(files["notes.txt"])
        assert f"{strings['receipt_type']} {strings['type_text']}" in text_of(files["notes.txt"])
        assert strings["receipt_not_cleaned"] not in text_of(files["notes.txt"])
        assert files["data.bin"].attrs["class"] == "not-cleaned"
        assert strings["receipt_not_cleaned"] in text_of(files["data.bin"])
        # The red warning at the top names the binary file only.
        [alert] = [n for n in by_class(parse_html(html), "div", "alert")]
        assert "data.bin" in text_of(alert) and "notes.txt" not in text_of(alert)
    # A text file with metadata of its own (RTF's author) is not called plain text.
    rtf = multipart([("lettre.rtf", b"{\\rtf1{\\info{\\author Jean}}Bonjour}")])
    assert _receipt_files(server.submit(rtf, lang="en").text)["lettre.rtf"].attrs["class"] == (
        "not-cleaned"
    )


# ------------------------------------------------------------------------ typography


def every_page(make_server: Callable[..., Server], lang: str) -> dict[str, httpx.Response]:
    """Every page a source can meet, in `lang`: landing, receipts (first, with every kind
    of file line, follow-up), mailbox, conversation, deletion, and each error page."""
    server = make_server(max_files=6, max_submission_bytes=64 * 1024, max_message_chars=200)
    q = f"?lang={lang}"
    pages: dict[str, httpx.Response] = {}
    pages["index"] = server.request("GET", "/" + q)
    kinds = [
        ("IMG_0042.jpg", jpeg_with_gps()),
        ("note.docx", make_docx()),
        ("notes.txt", b"plain notes\n"),
        ("data.bin", b"\x00\x01raw"),
        ("empty.txt", b""),
    ]
    pages["receipt"] = server.submit(multipart(kinds, "m"), lang=lang)
    codename = re.search(r'<p id="codename"[^>]*>([^<]+)</p>', pages["receipt"].text)
    assert codename, pages["receipt"].text
    pages["mailbox"] = server.request("GET", "/mailbox" + q)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    pages["mailbox-invalid"] = server.request(
        "POST", "/mailbox" + q, content=b"codename=x", headers=form
    )
    pages["conversation"] = server.request(
        "POST", "/mailbox" + q, content=f"codename={codename.group(1)}".encode(), headers=form
    )
    followup = re.search(r"followup=([^\"&]+)\"", pages["conversation"].text)
    assert followup, pages["conversation"].text
    pages["receipt-followup"] = server.submit_to(
        f"/submit{q}&followup={followup.group(1)}", multipart([("a.txt", b"x")], "two")
    )
    delete = re.search(r'name="token" value="([^"]+)"', pages["conversation"].text)
    token = delete.group(1) if delete else "none"
    pages["deleted"] = server.request(
        "POST", "/mailbox/delete" + q, content=f"token={token}".encode(), headers=form
    )
    pages["error-token"] = server.submit_to(f"/submit{q}&followup=forged", multipart([], "m"))
    pages["error-no-files"] = server.submit(multipart([]), lang=lang)
    pages["error-too-large"] = server.submit(multipart([("big.bin", b"x" * 100_000)]), lang=lang)
    pages["error-too-many-files"] = server.submit(
        multipart([(f"f{i}.bin", b"x") for i in range(7)]), lang=lang
    )
    pages["error-message-too-long"] = server.submit(multipart([], "m" * 500), lang=lang)
    pages["error-malformed"] = server.submit(b"garbage", lang=lang)
    pages["error-not-found"] = server.request("GET", "/nowhere" + q)
    pages["error-method"] = server.request("DELETE", "/" + q)
    for name, response in pages.items():
        assert response.headers["content-type"].startswith("text/html"), name
    return pages


def visible_text(html: str) -> str:
    """The page's text in document order, without code (field names are technical) or
    markup."""
    import html as html_module

    text = re.sub(r"<code>.*?</code>", " ", html, flags=re.DOTALL)
    return html_module.unescape(re.sub(r"<[^>]+>", "", text))


_NBSP = "\u00a0\u202f"


def typography_problems(lang: str, text: str) -> list[str]:
    problems = [
        f"straight apostrophe: {m.group()!r}" for m in re.finditer(r".{0,20}'.{0,20}", text)
    ]
    if lang == "fr":
        problems += [
            f"no non-breaking space before {m.group(1)!r}: {m.group(0)!r}"
            for m in re.finditer(rf".{{0,20}}[^{_NBSP}]([:;?!])", text)
        ]
        problems += ["« without a non-breaking space" for m in re.finditer(rf"«[^{_NBSP}]", text)]
        problems += ["» without a non-breaking space" for m in re.finditer(rf"[^{_NBSP}]»", text)]
        problems += [
            f"English unit {m.group()!r}"
            for m in re.finditer(r"\b(?:[KMGT]i?B|[KMGT]io|bytes?)\b", text)
        ]
    else:
        problems += [f"'can not': {m.group()!r}" for m in re.finditer(r"\bcan not\b", text, re.I)]
        problems += [
            f"French unit {m.group()!r}"
            for m in re.finditer(r"\b(?:[KMG]o|[KMGT]io|octets?|[KMGT]iB)\b", text)
        ]
    return problems


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_typography_of_every_page_and_string(make_server: Callable[..., Server], lang: str) -> None:
    problems = [
        f"{name}: {problem}"
        for name, response in every_page(make_server, lang).items()
        for problem in typography_problems(lang, visible_text(response.text))
    ]
    # Strings no page above shows (other reasons, notes, categories) are checked as text.
    problems += [
        f"{key}: {problem}"
        for key, value in STRINGS[lang].items()
        for problem in typography_problems(lang, value)
    ]
    assert problems == [], "\n".join(problems)
    # The checker is live: each rule finds its fault.
    assert len(typography_problems("fr", "Raison : l'envoi « x » 2 GB ; ok!")) == 7
    assert len(typography_problems("en", "It can not be 2 Go")) == 2


def test_sizes_and_plurals_in_each_language() -> None:
    from leakdrop.server.i18n import human_size

    assert human_size("fr", 0) == "0\u00a0octet" and human_size("en", 1) == "1\u00a0byte"
    assert human_size("fr", 2 * 1024**3) == "2\u00a0Go"
    assert human_size("en", 2 * 1024**3) == "2\u00a0GB"
    assert human_size("fr", 1536 * 1024) == "1,5\u00a0Mo"
    assert human_size("en", 1536) == "1.5\u00a0KB"
    assert human_size("en", 700) == "700\u00a0bytes"


def test_method_page_is_not_page_not_found(server: Server) -> None:
    for lang in STRINGS:
        response = server.request("DELETE", f"/?lang={lang}")
        assert response.status_code == 405
        title = re.search(r"<title>(.*?) · ", response.text)
        assert title and title.group(1) == STRINGS[lang]["method_title"]
        assert STRINGS[lang]["not_found_title"] not in response.text


# ------------------------------------------------------------------- response sizes


@pytest.mark.slow  # about 8 s on two cores
def test_every_page_has_the_size_of_its_bucket(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    """Over Tor an observer next to the source sees how many bytes come back: a receipt
    for a PDF, a photo with GPS and a text file, every error page and every other page
    have the same size."""
    from leakdrop.server.pages import PAGE_BUCKET_BYTES

    sizes: dict[str, int] = {}
    for lang in STRINGS:
        for name, response in every_page(make_server, lang).items():
            sizes[f"{name}-{lang}"] = len(response.content)
            assert int(response.headers["content-length"]) == len(response.content)
        server = make_server()
        for name, files in {
            "pdf": [("rapport.pdf", small_pdf("Marker-Author"))],
            "photo": [("IMG_20240506_070809.jpg", jpeg_with_gps())],
            "text": [("notes.txt", b"plain notes\n")],
        }.items():
            response = server.submit(multipart(files), lang=lang)
            assert response.status_code == 200
            sizes[f"receipt-{name}-{lang}"] = len(response.content)
    assert set(sizes.values()) == {PAGE_BUCKET_BYTES}, sizes
    # Past the first bucket, sizes double: a long receipt tells little of its length.
    from leakdrop.server.pages import padded

    # Counted in UTF-8 bytes, as sent.
    assert len(padded("é" * (PAGE_BUCKET_BYTES // 2 + 1)).encode()) == 2 * PAGE_BUCKET_BYTES
    assert len(padded("x" * (2 * PAGE_BUCKET_BYTES + 1)).encode()) == 4 * PAGE_BUCKET_BYTES


def test_demo_pages_say_so_and_real_ones_do_not(
    tmp_path: Path, editor_identity: EditorKeys
) -> None:
    for demo in (True, False):
        config = ServerConfig(
            storage=tmp_path / f"storage-{demo}",
            recipients=(editor_identity.recipient,),
            limits=Limits(min_free_bytes=0),
            demo=demo,
        )
        server = Server(create_app(config), config.storage, editor_identity)
        for lang in STRINGS:
            pages = [
                server.request("GET", f"/?lang={lang}"),
                server.request("GET", f"/mailbox?lang={lang}"),
                server.request("GET", f"/nowhere?lang={lang}"),
                server.submit(multipart([("a.txt", b"x")]), lang=lang),
            ]
            for page in pages:
                banner = by_class(parse_html(page.text), "p", "demo-banner")
                if demo:
                    assert len(banner) == 1, page.text[:400]
                    assert STRINGS[lang]["demo_text"] in text_of(banner[0])
                else:
                    assert banner == []


def test_name_and_about_from_the_environment_compose_sets(
    tmp_path: Path, editor_identity: EditorKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What docker/compose.yaml passes: LEAKDROP_NAME, and LEAKDROP_ABOUT empty (no folder
    set: the built-in text) or the mounted folder."""
    storage = tmp_path / "st"
    monkeypatch.setenv("LEAKDROP_NAME", "")
    monkeypatch.setenv("LEAKDROP_ABOUT", "")
    config = ServerConfig.from_args(serve_args([]), keys=editor_identity.keys_dir, storage=storage)
    assert config.name == "Technopoleaks" and config.about == {}
    about = tmp_path / "about"
    about.mkdir()
    (about / "fr.txt").write_text("Tenue par la rédaction de <Métropole>.\n\nAdresse : …")
    monkeypatch.setenv("LEAKDROP_NAME", "Fuites de la Métropole")
    monkeypatch.setenv("LEAKDROP_ABOUT", str(about))
    config = ServerConfig.from_args(serve_args([]), keys=editor_identity.keys_dir, storage=storage)
    page = Server(create_app(config), storage, editor_identity).request("GET", "/?lang=en").text
    assert "<title>Send documents · Fuites de la Métropole</title>" in page
    assert "Tenue par la rédaction de &lt;Métropole&gt;." in page


def test_file_limit_of_one_reads_in_the_singular(make_server: Callable[..., Server]) -> None:
    server = make_server(max_files=1)
    for lang in STRINGS:
        page = server.request("GET", f"/?lang={lang}").text
        hint = re.search(r'<p class="hint" id="files-hint">(.*?)</p>', page)
        assert hint, page
        assert hint.group(1).startswith(STRINGS[lang]["files_hint_one"].split("{")[0])
