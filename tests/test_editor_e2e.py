"""End to end on loopback, with every part a real process: sources submit to `leakdrop
serve`, the editor fetches through a SOCKS relay with `leakdrop fetch` from `leakdrop
pickup`, opens offline with `leakdrop open`; the server keeps nothing that was fetched."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.live_server import free_port
from support.pickup import (
    LEAKDROP,
    Pickup,
    SocksRelay,
    add_token,
    check_offline_page,
    run_leakdrop,
    write_token_file,
)

ONION = "editorsexampleexampleexampleexampleexampleexampleabcd.onion"


@pytest.fixture
def source_server(tmp_path: Path, editor_identity: Any) -> Iterator[str]:
    storage = tmp_path / "storage"
    log = (tmp_path / "serve.log").open("wb")
    port = free_port()
    proc = subprocess.Popen(
        [
            *LEAKDROP,
            "serve",
            "--keys",
            str(editor_identity.keys_dir),
            "--storage",
            str(storage),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(url + "/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "source server did not start"
                time.sleep(0.05)  # polling for readiness, bounded by the deadline
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _jpeg_with_exif() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (32, 24), (200, 30, 30))
    exif = Image.Exif()
    exif[0x013B] = "Source Name"  # Artist
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _submit(url: str, files: list[tuple[str, bytes]], message: str) -> None:
    response = httpx.post(
        url + "/submit",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        data={"message": message},
        timeout=120,
    )
    assert response.status_code == 200, response.text[:2000]


def test_sources_submit_editor_fetches_and_opens(
    tmp_path: Path, editor_identity: Any, source_server: str
) -> None:
    storage = tmp_path / "storage"
    submissions = storage / "submissions"
    _submit(
        source_server,
        [
            ("notes.txt", b"Plain notes from the source\n"),
            # Random-looking but fixed: random bytes could now and then look like a type.
            ("blob.bin", b"BLOB" + random.Random(7).randbytes(150_000)),
            ("photo.jpg", _jpeg_with_exif()),
        ],
        "Premier envoi <b>gras</b>",
    )
    _submit(source_server, [("second.txt", b"second\n")], "Second envoi")
    sent = {p.name: p.read_bytes() for p in submissions.iterdir()}
    assert len(sent) == 2

    tokens = tmp_path / "tokens.json"
    token_file = write_token_file(tmp_path / "token.txt", add_token(tokens, "alice"))
    pickup = Pickup(storage, tokens, tmp_path / "pickup.log").start()
    relay = SocksRelay(("127.0.0.1", pickup.port)).start()
    usb = tmp_path / "usb"
    try:
        # Refused first: a wrong token, then a revoked one; nothing is deleted.
        wrong = write_token_file(tmp_path / "wrong.txt", "ldp1_" + "x" * 43)
        revoked = write_token_file(tmp_path / "bob.txt", add_token(tokens, "bob"))
        assert run_leakdrop("token", "revoke", "bob", "--tokens", tokens).returncode == 0
        for bad in (wrong, revoked):
            result = run_leakdrop(
                "fetch",
                "--server",
                f"http://{ONION}",
                "--socks",
                relay.address,
                "--token-file",
                bad,
                "--out",
                usb,
            )
            assert result.returncode == 2 and "refused the token" in result.stderr
        assert {p.name for p in submissions.iterdir()} == set(sent)

        fetched = run_leakdrop(
            "fetch",
            "--server",
            f"http://{ONION}",
            "--socks",
            relay.address,
            "--token-file",
            token_file,
            "--out",
            usb,
        )
        assert fetched.returncode == 0, fetched.stderr
    finally:
        relay.stop()
        pickup.stop()
    # The server kept nothing it handed over.
    assert list(submissions.iterdir()) == []
    assert {p.name: p.read_bytes() for p in usb.glob("*.age")} == sent

    # The laptop: only the wheel's offline part is needed (see test_bundle.py for that).
    laptop = tmp_path / "laptop"
    opened = subprocess.run(
        [
            sys.executable,
            "-m",
            "leakdrop.cli",
            "open",
            "--identity",
            str(editor_identity.identity_file),
            "--out",
            str(laptop),
            "--lang",
            "en",
            str(usb),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        timeout=300,
    )
    assert opened.returncode == 0, opened.stderr
    assert "2 of 2 opened" in opened.stdout
    folders = [p for p in laptop.iterdir() if p.is_dir()]
    assert len(folders) == 2
    texts = {f.read_bytes() for folder in folders for f in (folder / "files").iterdir()}
    assert b"Plain notes from the source\n" in texts and b"second\n" in texts

    page = (laptop / "index.html").read_text()
    parsed = check_offline_page(page)
    assert parsed.tags.count("article") == 2
    assert "Premier envoi &lt;b&gt;gras&lt;/b&gt;" in page and "Second envoi" in page
    text = " ".join(parsed.text)
    # The photo was cleaned; the random blob could not be: it is marked, with the server's
    # reason, and counted at the top. The text files have nothing hidden, and say so.
    assert text.count("NOT CLEANED: unsupported file type") == 1
    assert "1 file(s) NOT CLEANED." in text
    assert page.count("note: nothing hidden in this kind of file — check its content") == 2
    assert "cleaned" in parsed.text and "exif:Artist" in page
    assert "Source Name" not in page
    for folder in folders:
        assert f'href="{folder.name}/"' in page
