"""A large uncleanable first file sealed in place as it arrives (leakdrop.server.direct).

Real app through httpx, real sealing, opened with `age -d` + `tar` and `leakdrop open`.
The limits keep the reserved head small (a 1000-character message: 128 KiB of head) so
that a 9 MiB upload is already "large" (at least 64 heads).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import EditorKeys
from support.fixtures_office import jpeg_with_gps
from support.submissions import (
    CONTENT_TYPE,
    age_open,
    all_files,
    find_marker,
    multipart,
    submissions,
    tree_state,
)

from leakdrop import submission
from leakdrop.sealing import decrypt, encrypt, parse_identities_file, prepare
from leakdrop.server import Limits, ServerConfig, create_app
from leakdrop.server.direct import DIRECT_MIN_FACTOR, direct_head_size

MESSAGE_CHARS = 1000
HEAD = direct_head_size(4 * MESSAGE_CHARS)
BIG = DIRECT_MIN_FACTOR * HEAD + 1234  # not a whole number of chunks


def big_unknown(marker: bytes) -> bytes:
    data = bytearray(os.urandom(BIG))
    data[:16] = b"\x00\x9fNOTATYPE\x00\x00\x00\x00\x00\x00"
    data[5_000_000 : 5_000_000 + len(marker)] = marker
    return bytes(data)


class Drop:
    def __init__(self, tmp_path: Path, editor: EditorKeys) -> None:
        self.storage = tmp_path / "storage"
        self.editor = editor
        config = ServerConfig(
            storage=self.storage,
            recipients=(editor.recipient,),
            limits=Limits(min_free_bytes=0, max_message_chars=MESSAGE_CHARS),
        )
        self.app = create_app(config)

    def submit(self, body: bytes) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://drop") as c:
                return await c.post(
                    "/submit?lang=en", content=body, headers={"Content-Type": CONTENT_TYPE}
                )

        return anyio.run(go)

    def plaintext(self) -> bytes:
        found = submissions(self.storage)
        assert len(found) == 1, found
        identities = parse_identities_file(self.editor.identity_file.read_text())
        with found[0].open("rb") as src, decrypt(src, identities) as reader:
            return reader.read()


@pytest.fixture
def drop(tmp_path: Path, editor_identity: EditorKeys) -> Drop:
    return Drop(tmp_path, editor_identity)


def data_offsets(plain: bytes) -> dict[str, int]:
    with tarfile.open(fileobj=io.BytesIO(plain)) as archive:
        return {m.name: m.offset_data for m in archive.getmembers()}


def leakdrop_open(stored: Path, identity_file: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("leakdrop")),
            "open",
            "--identity",
            str(identity_file),
            "--out",
            str(out),
            str(stored),
        ],
        capture_output=True,
        text=True,
    )


def test_large_unknown_first_file_is_sealed_in_place(drop: Drop, tmp_path: Path) -> None:
    marker = b"Marker-Direct-Seal-7f3a"
    big = big_unknown(marker)
    jpeg = jpeg_with_gps()
    message = "Bonjour « éditeurs »,\nvoici le dossier.\n"
    response = drop.submit(multipart([("dump.bin", big), ("photo.jpg", jpeg)], message=message))
    assert response.status_code == 200, response.text
    state = tree_state(drop.storage)
    assert len(state["submissions"]) == 1 and not state["incoming"] and not state["spool"]
    # Nothing readable anywhere: the big file went to disk only as age ciphertext.
    assert find_marker(all_files(drop.storage), marker.decode()) == []

    plain = drop.plaintext()
    # Sealed in place: the first file's data starts exactly at the reserved head (a chunk
    # boundary), and the head's spare room is spaces at the end of manifest.json.
    offsets = data_offsets(plain)
    assert offsets["files/01-dump.bin"] == HEAD
    assert list(offsets) == [
        "manifest.json",
        "message.txt",
        "files/01-dump.bin",
        "files/02-photo.jpg",
    ]
    assert len(plain) == submission.padded_size(len(plain))

    opened = age_open(submissions(drop.storage)[0], drop.editor.identity_file, tmp_path / "o")
    raw_manifest = (opened.root / "manifest.json").read_bytes()
    assert raw_manifest.endswith(b" \n") and len(raw_manifest) > 2 * len(raw_manifest.rstrip())
    files = opened.manifest["files"]
    assert [f["name"] for f in files] == ["files/01-dump.bin", "files/02-photo.jpg"]
    assert [f["cleaned"] for f in files] == [False, True]
    assert files[0]["reason"] == "unsupported file type"
    assert files[0]["size"] == len(big)
    assert files[0]["sha256"] == hashlib.sha256(big).hexdigest()
    assert opened.file(files[0]) == big
    stored_jpeg = opened.file(files[1])
    assert files[1]["sha256"] == hashlib.sha256(stored_jpeg).hexdigest()
    assert "exif:GPS" in files[1]["removed"] and stored_jpeg != jpeg
    assert opened.message == message

    out = tmp_path / "leakdrop-open"
    result = leakdrop_open(submissions(drop.storage)[0], drop.editor.identity_file, out)
    assert result.returncode == 0, result.stderr
    assert (out.rglob("01-dump.bin").__next__()).read_bytes() == big


@pytest.mark.parametrize("case", ["cleanable-first", "small-body"])
def test_usual_path_when_the_first_file_does_not_qualify(
    drop: Drop, tmp_path: Path, case: str
) -> None:
    jpeg = jpeg_with_gps()
    if case == "cleanable-first":
        big = big_unknown(b"x")
        parts = [("photo.jpg", jpeg), ("dump.bin", big)]
    else:
        big = big_unknown(b"x")[: BIG // 2]  # below DIRECT_MIN_FACTOR heads
        parts = [("dump.bin", big), ("photo.jpg", jpeg)]
    assert drop.submit(multipart(parts, message="hello")).status_code == 200
    plain = drop.plaintext()
    offsets = data_offsets(plain)
    name = "files/02-dump.bin" if case == "cleanable-first" else "files/01-dump.bin"
    assert offsets[name] != HEAD
    # The usual layout: manifest.json without spare room.
    manifest_size = offsets["message.txt"] - 512 - offsets["manifest.json"]
    assert manifest_size < 2048
    opened = age_open(submissions(drop.storage)[0], drop.editor.identity_file, tmp_path / "o")
    entry = next(f for f in opened.manifest["files"] if f["name"] == name)
    assert opened.file(entry) == big and entry["sha256"] == hashlib.sha256(big).hexdigest()


def test_head_that_does_not_fit_falls_back_to_reading_the_sealed_chunks(
    drop: Drop, tmp_path: Path
) -> None:
    # 40 files with 1000-character names (4 UTF-8 bytes each): a manifest far bigger than
    # the reserved room.
    big = big_unknown(b"y")
    parts: list[tuple[bytes | str, bytes]] = [("dump.bin", big)]
    parts += [(f"{i:02d}" + "\U0001d11e" * 998, f"note {i}\n".encode()) for i in range(40)]
    response = drop.submit(multipart(parts, message="m"))
    assert response.status_code == 200, response.text
    state = tree_state(drop.storage)
    assert len(state["submissions"]) == 1 and not state["incoming"] and not state["spool"]
    plain = drop.plaintext()
    assert data_offsets(plain)["files/01-dump.bin"] != HEAD
    out = tmp_path / "leakdrop-open"
    result = leakdrop_open(submissions(drop.storage)[0], drop.editor.identity_file, out)
    assert result.returncode == 0, result.stderr
    manifest = submission.parse_manifest((next(out.rglob("manifest.json"))).read_bytes())
    assert len(manifest.files) == 41
    assert manifest.files[0].sha256 == hashlib.sha256(big).hexdigest()
    assert next(out.rglob("01-dump.bin")).read_bytes() == big


async def _cut_upload(app: Any, chunks: list[bytes], total: int, seen: list[list[str]]) -> int:
    queue = list(chunks)
    storage_incoming: Callable[[], list[str]] = seen.pop()  # type: ignore[assignment]

    async def receive() -> dict[str, Any]:
        if queue:
            if len(queue) == 1:
                # Just before the disconnect: the partial sealed file is there.
                seen.append(storage_incoming())
            return {"type": "http.request", "body": queue.pop(0), "more_body": True}
        return {"type": "http.disconnect"}

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/submit",
        "raw_path": b"/submit",
        "query_string": b"lang=en",
        "root_path": "",
        "headers": [
            (b"content-type", CONTENT_TYPE.encode()),
            (b"host", b"drop"),
            (b"content-length", str(total).encode()),
        ],
        "client": None,
        "server": ("drop", 80),
    }
    await app(scope, receive, send)
    return status[0]


def test_disconnect_in_the_middle_of_a_streamed_file_leaves_nothing(drop: Drop) -> None:
    full = multipart([("dump.bin", big_unknown(b"z")), ("b.txt", b"b")], message="m")
    # Cut inside dump.bin, after 8 MiB: the parser queue holds at most 5 batches of 1 MiB,
    # so when the last piece is asked for, the first MiB was parsed (the file's first
    # 64 KiB decided how it is stored) and the partial sealed file must exist.
    cut = full[: len(full) - 1000]
    assert len(cut) > 8 * 1024 * 1024
    chunks = [cut[i : i + 1024 * 1024] for i in range(0, len(cut), 1024 * 1024)]
    seen: list[Any] = [lambda: sorted(p.name for p in (drop.storage / "incoming").iterdir())]
    status = anyio.run(_cut_upload, drop.app, chunks, len(full), seen)
    assert status == 400
    # It was being sealed in place (a .part in incoming/), and is gone now.
    assert len(seen[0]) == 1 and seen[0][0].endswith(".part")
    assert tree_state(drop.storage) == {"submissions": [], "incoming": [], "spool": []}


def test_prepared_seal_chunks_out_of_order_open_with_age(
    tmp_path: Path, editor_identity: EditorKeys
) -> None:
    """The sealing primitive alone: chunks sealed in any order at their offsets, then the
    run that ends the payload, make a file `age -d` opens, byte for byte."""
    data = os.urandom(5 * 65536 + 100)
    seal = prepare([editor_identity.recipient])
    out = bytearray(seal.header)
    tail = io.BytesIO()
    with seal.writer(tail, 3) as writer:
        writer.write(data[3 * 65536 :])
    later = seal.seal_chunks(data[: 3 * 65536], 0)
    out += later + tail.getvalue()
    path = tmp_path / "x.age"
    path.write_bytes(bytes(out))
    opened = subprocess.run(
        ["age", "-d", "-i", str(editor_identity.identity_file), str(path)],
        capture_output=True,
        check=True,
    ).stdout
    assert opened == data
    # Same result as the one-pass writer would give, apart from the random key and nonce.
    one_pass = io.BytesIO()
    with encrypt(one_pass, [editor_identity.recipient]) as writer:
        writer.write(data)
    assert len(one_pass.getvalue()) == len(out)
    # A chunk sealed under the wrong index does not open.
    wrong = bytearray(seal.header) + seal.seal_chunks(data[:65536], 1)
    wrong += seal.seal_chunks(data[65536 : 3 * 65536], 1) + tail.getvalue()
    path.write_bytes(bytes(wrong))
    bad = subprocess.run(
        ["age", "-d", "-i", str(editor_identity.identity_file), str(path)], capture_output=True
    )
    assert bad.returncode != 0


@pytest.mark.parametrize("message", [None, "un message"])
def test_head_and_tail_make_a_submission_the_strict_reader_accepts(
    tmp_path: Path, message: str | None
) -> None:
    data = os.urandom(3 * 65536 + 7)
    entry = submission.FileEntry(
        stored_name="x.bin",
        original_name="x.bin",
        detected_type="unknown",
        media_type="application/octet-stream",
        cleaned=False,
        reason="unsupported file type",
        removed=[],
        note=None,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        open=lambda: io.BytesIO(data),
    )
    common: dict[str, Any] = {
        "submission_id": "abc",
        "received_day": "2026-01-02",
        "message": message,
        "files": [entry],
    }
    # Too small for the manifest: None (the caller takes the usual path).
    assert submission.submission_head(**common, size=1024) is None
    head = submission.submission_head(**common, size=65536)
    assert head is not None and len(head) == 65536
    out = io.BytesIO()
    out.write(head + data)
    submission.write_submission_tail(out, head_size=len(head), files=[entry])
    plain = out.getvalue()
    assert len(plain) == submission.padded_size(len(plain))
    dest = tmp_path / "x"
    dest.mkdir()
    manifest = submission.extract_submission(io.BytesIO(plain), dest)
    assert manifest.message == (None if message is None else "message.txt")
    assert (dest / manifest.files[0].name).read_bytes() == data
    # tar agrees.
    tar_dest = tmp_path / "tar"
    tar_dest.mkdir()
    subprocess.run(["tar", "-x", "-C", str(tar_dest)], input=plain, check=True)
    assert (tar_dest / "files" / "01-x.bin").read_bytes() == data
