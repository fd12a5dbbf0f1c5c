"""`leakdrop open`: submissions and plain age files, failures that leave nothing behind."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import re
import shlex
import stat
import subprocess
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.pickup import OfflinePage, check_offline_page

from leakdrop.sealing import ScryptRecipient, X25519Identity, X25519Recipient, encrypt
from leakdrop.submission import FileEntry, ReplyAddress, write_submission

LEAKDROP = [sys.executable, "-m", "leakdrop.cli"]
MakeEntry = Callable[..., FileEntry]

PDF = b"%PDF-1.7 cleaned content " * 40
RAW = os.urandom(200_000)


def _files(make: MakeEntry) -> list[FileEntry]:
    return [
        make(
            "Leak report.pdf",
            PDF,
            detected_type="pdf",
            media_type="application/pdf",
            removed=["Author", "Producer", "XMP"],
        ),
        make(
            "scan.heic",
            RAW,
            cleaned=False,
            detected_type="heic",
            media_type="image/heic",
            reason="HEIC decoder refused the file",
        ),
    ]


def _plaintext(
    make: MakeEntry,
    sub_id: str = "abc123",
    message: str | None = "look at p. 4\n",
    files: list[FileEntry] | None = None,
    *,
    day: str = "2024-05-01",
    reply: ReplyAddress | None = None,
) -> bytes:
    buf = io.BytesIO()
    write_submission(
        buf,
        submission_id=sub_id,
        received_day=day,
        message=message,
        files=_files(make) if files is None else files,
        reply=reply,
    )
    return buf.getvalue()


def _seal(path: Path, plaintext: bytes, recipients: list[X25519Recipient]) -> Path:
    with path.open("wb") as fh, encrypt(fh, recipients) as w:
        w.write(plaintext)
    return path


def _open(
    identity: Path, out: Path, *paths: Path, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *LEAKDROP,
            "open",
            "--identity",
            str(identity),
            *extra,
            "--out",
            str(out),
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        timeout=300,
    )


def _failed_rows(page: str) -> list[tuple[str, str]]:
    """The red rows of index.html: (file name, reason), as a person reads them."""
    rows = re.findall(r'<tr class="failed"><td>(.*?)</td><td>(.*?)</td></tr>', page)
    return [(html.unescape(name), html.unescape(reason)) for name, reason in rows]


def _visible(out: Path) -> list[str]:
    # index.html is the overview `open` rewrites at every run (tested below).
    return sorted(p.name for p in out.iterdir() if p.name != "index.html")


def _no_partial(out: Path) -> None:
    assert not [p for p in out.iterdir() if p.name.startswith(".leakdrop-partial")]


def test_opens_a_submission(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    other = X25519Identity.generate().recipient()  # a second editor: several recipients
    sub = _seal(
        tmp_path / "abc123.age", _plaintext(make_file_entry), [other, editor_identity.recipient]
    )
    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, sub)
    assert result.returncode == 0, result.stderr
    folder = out / "abc123"
    assert _visible(out) == ["abc123"]
    assert (folder / "message.txt").read_text() == "look at p. 4\n"
    assert (folder / "files/01-Leak report.pdf").read_bytes() == PDF
    assert (folder / "files/02-scan.heic").read_bytes() == RAW
    assert json.loads((folder / "manifest.json").read_text())["id"] == "abc123"
    text = result.stdout
    assert "[cleaned    ] files/01-Leak report.pdf" in text
    assert "removed: Author, Producer, XMP" in text
    assert "[NOT CLEANED] files/02-scan.heic" in text
    assert "reason: HEIC decoder refused the file" in text
    assert "!!! 1 file(s) NOT CLEANED" in text
    assert "message: yes" in text
    assert "1 of 1 opened" in text

    # Opening again neither overwrites nor duplicates (see test_open_again_is_idempotent).
    again = _open(editor_identity.identity_file, out, sub)
    assert again.returncode == 0, again.stderr
    assert _visible(out) == ["abc123"]


def test_opens_a_submission_sealed_by_age(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    tar = tmp_path / "plain.tar"
    tar.write_bytes(_plaintext(make_file_entry, sub_id="from-age", message=None))
    sub = tmp_path / "x.age"
    subprocess.run(
        ["age", "-e", "-r", str(editor_identity.recipient), "-o", str(sub), str(tar)], check=True
    )
    armored = tmp_path / "y.age"
    subprocess.run(
        ["age", "-e", "-a", "-r", str(editor_identity.recipient), "-o", str(armored), str(tar)],
        check=True,
    )
    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, sub, armored)
    assert result.returncode == 0, result.stderr
    # The same submission twice (binary and armored): opened once, both files named.
    assert _visible(out) == ["from-age"]
    assert "already opened: " in result.stdout and "1 already opened (skipped)" in result.stdout
    assert json.loads((out / "from-age/.opened-from.json").read_text()) == ["x.age", "y.age"]
    assert (out / "from-age/files/02-scan.heic").read_bytes() == RAW
    assert "message: none" in result.stdout


def test_opens_plain_age_files(tmp_path: Path, editor_identity: Any) -> None:
    notes = tmp_path / "notes.txt.age"
    subprocess.run(
        ["age", "-e", "-r", str(editor_identity.recipient), "-o", str(notes)],
        input=b"from a colleague",
        check=True,
    )
    big = _seal(tmp_path / "big.bin.age", RAW * 10, [editor_identity.recipient])
    empty = _seal(tmp_path / "empty.age", b"", [editor_identity.recipient])
    out = tmp_path / "out"
    (out).mkdir()
    (out / "notes.txt").write_text("already here")
    result = _open(editor_identity.identity_file, out, notes, big, empty)
    assert result.returncode == 0, result.stderr
    assert (out / "notes.txt").read_text() == "already here"  # never overwritten
    assert (out / "notes-2.txt").read_bytes() == b"from a colleague"
    assert (out / "big.bin").read_bytes() == RAW * 10
    assert (out / "empty").read_bytes() == b""
    assert "plain age file" in result.stdout
    _no_partial(out)


def test_folder_input_and_failures_do_not_stop_the_others(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    inbox = tmp_path / "usb"
    inbox.mkdir()
    me = [editor_identity.recipient]
    good = _plaintext(make_file_entry, sub_id="good1")
    _seal(inbox / "1-good.age", good, me)
    _seal(
        inbox / "2-wrongkey.age",
        _plaintext(make_file_entry, sub_id="wrongkey"),
        [X25519Identity.generate().recipient()],
    )
    whole = _seal(tmp_path / "whole.age", _plaintext(make_file_entry, sub_id="broken"), me)
    data = whole.read_bytes()
    header_end = data.index(b"\n---") + 60
    (inbox / "3-truncated.age").write_bytes(data[: len(data) - 70_000])
    (inbox / "4-no-final-chunk.age").write_bytes(data[: header_end + 16 + 65536 + 16])
    flipped = bytearray(data)
    flipped[header_end + 30_000] ^= 1
    (inbox / "5-flipped.age").write_bytes(bytes(flipped))
    tail = bytearray(data)
    tail[-20] ^= 1  # inside the padding, after every file
    (inbox / "6-tail-flipped.age").write_bytes(bytes(tail))
    (inbox / "7-not-age.age").write_bytes(b"hello, not encrypted")
    plain = _seal(tmp_path / "p.age", RAW * 2, me).read_bytes()
    (inbox / "7b-plain-truncated.age").write_bytes(plain[:-1000])
    _seal(inbox / "8-good.age", _plaintext(make_file_entry, sub_id="good2"), me)
    (inbox / "._8-good.age").write_bytes(b"macOS resource fork junk")  # skipped
    (inbox / "readme.txt").write_text("not an input")  # skipped: no .age

    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, inbox, tmp_path / "missing.age")
    assert result.returncode == 1
    assert _visible(out) == ["good1", "good2"]  # nothing partial, nothing looking complete
    _no_partial(out)
    errors = result.stderr.splitlines()
    failed = [line for line in errors if "FAILED" in line]
    assert len(failed) == 8, result.stderr
    assert any("2-wrongkey.age" in ln and "wrong key" in ln for ln in failed)
    assert any("3-truncated.age" in ln and "truncated" in ln for ln in failed)
    assert any("4-no-final-chunk.age" in ln and "truncated" in ln for ln in failed)
    assert any("5-flipped.age" in ln and "altered" in ln for ln in failed)
    assert any("6-tail-flipped.age" in ln and "altered" in ln for ln in failed)
    assert any("7-not-age.age" in ln and "not a valid age file" in ln for ln in failed)
    assert any("7b-plain-truncated.age" in ln and "truncated" in ln for ln in failed)
    assert any("missing.age" in ln and "no such file" in ln for ln in failed)
    assert "2 of 10 opened, 8 FAILED" in result.stdout
    assert (out / "good2/files/01-Leak report.pdf").read_bytes() == PDF


def test_container_mismatch_inside_valid_age_leaves_nothing(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    plain = bytearray(_plaintext(make_file_entry, sub_id="tampered"))
    pos = plain.index(RAW[:64])
    plain[pos + 100] ^= 0xFF  # authentic age file, but a file differs from its manifest hash
    sub = _seal(tmp_path / "t.age", bytes(plain), [editor_identity.recipient])
    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, sub)
    assert result.returncode == 1
    assert "invalid submission" in result.stderr and "SHA-256" in result.stderr
    assert _visible(out) == []


def test_passphrase_protected_identity(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry, run_in_pty: Any
) -> None:
    protected = tmp_path / "identity.age"
    with protected.open("wb") as fh, encrypt(fh, [ScryptRecipient(b"s3cret", work_factor=12)]) as w:
        w.write(editor_identity.identity_file.read_bytes())
    sub = _seal(
        tmp_path / "s.age", _plaintext(make_file_entry, sub_id="pp"), [editor_identity.recipient]
    )
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    out = tmp_path / "out"
    result = _open(protected, out, sub, extra=("--passphrase-file", str(pw)))
    assert result.returncode == 0, result.stderr
    assert _visible(out) == ["pp"]

    pw.write_text("wrong\n")
    result = _open(protected, tmp_path / "out2", sub, extra=("--passphrase-file", str(pw)))
    assert result.returncode == 2 and "wrong passphrase" in result.stderr

    # Asked on the terminal when no file is given.
    res = run_in_pty(
        [
            *LEAKDROP,
            "open",
            "--identity",
            str(protected),
            "--out",
            str(tmp_path / "out3"),
            str(sub),
        ],
        [(b"Passphrase for", b"s3cret\r")],
    )
    assert res.returncode == 0, res.output
    assert b"s3cret" not in res.output
    assert _visible(tmp_path / "out3") == ["pp"]


def test_summary_escapes_terminal_control(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    entry = make_file_entry(
        "x.txt", b"x", cleaned=False, reason="\x1b]0;pwned\x07bad\x1b[2J", removed=["\x1b[31mred"]
    )
    entry = FileEntry(**{**entry.__dict__, "original_name": "evil\u202etxt.exe\x1b[1m"})
    sub = _seal(
        tmp_path / "e.age",
        _plaintext(make_file_entry, sub_id="esc", files=[entry]),
        [editor_identity.recipient],
    )
    result = _open(editor_identity.identity_file, tmp_path / "out", sub)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "\\x1b]0;pwned" in result.stdout and "\\u202e" in result.stdout


def test_editor_with_only_age_and_tar(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    sub = _seal(tmp_path / "s.age", _plaintext(make_file_entry), [editor_identity.recipient])
    out = tmp_path / "manual"
    out.mkdir()
    age = subprocess.Popen(
        ["age", "-d", "-i", str(editor_identity.identity_file), str(sub)], stdout=subprocess.PIPE
    )
    tar = subprocess.run(["tar", "-x", "-C", str(out)], stdin=age.stdout, capture_output=True)
    assert age.stdout is not None
    age.stdout.close()
    assert age.wait() == 0 and tar.returncode == 0, tar.stderr
    assert (out / "files/01-Leak report.pdf").read_bytes() == PDF
    assert (out / "files/02-scan.heic").read_bytes() == RAW
    assert (out / "message.txt").read_text() == "look at p. 4\n"
    assert json.loads((out / "manifest.json").read_text())["files"][1]["cleaned"] is False


def test_progress_on_a_terminal(tmp_path: Path, editor_identity: Any, run_in_pty: Any) -> None:
    big = _seal(tmp_path / "big.age", os.urandom(40 * 1024 * 1024), [editor_identity.recipient])
    res = run_in_pty(
        [
            *LEAKDROP,
            "open",
            "--identity",
            str(editor_identity.identity_file),
            "--out",
            str(tmp_path / "out"),
            str(big),
        ],
        [],
    )
    assert res.returncode == 0, res.output
    assert b"big.age: " in res.output and b"%" in res.output


def test_bad_identity_or_output(tmp_path: Path, editor_identity: Any) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("not a key\n")
    result = _open(bad, tmp_path / "out", tmp_path)
    assert result.returncode == 2 and "not an age identity file" in result.stderr
    afile = tmp_path / "file"
    afile.write_text("x")
    result = _open(editor_identity.identity_file, afile, tmp_path)
    assert result.returncode == 2 and "not a folder" in result.stderr


def test_nothing_to_open(tmp_path: Path, editor_identity: Any) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _open(editor_identity.identity_file, tmp_path / "out", empty)
    assert result.returncode == 1 and "no .age file" in result.stderr


# --------------------------------------------------------------------------- index.html


def test_index_lists_every_submission(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    hostile = make_file_entry(
        "<img src=x onerror=alert(1)>.pdf",
        b"%PDF x",
        detected_type="pdf",
        media_type="application/pdf",
        removed=["Author</td><script>alert(2)</script>"],
    )
    hostile = FileEntry(**{**hostile.__dict__, "original_name": "rapport\u202egnp.exe<b>\x1b[1m"})
    page_file = make_file_entry(
        "page.html", b"<script>alert(3)</script>", cleaned=False, reason="HTML is not cleaned"
    )
    first = _seal(
        tmp_path / "first.age",
        _plaintext(
            make_file_entry,
            sub_id="first",
            message="<script>alert('m')</script>\nsee https://example.org/x & p. 4\n",
            files=[hostile, page_file],
        ),
        [editor_identity.recipient],
    )
    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, first, extra=("--lang", "en"))
    assert result.returncode == 0, result.stderr
    assert f"overview: {out / 'index.html'}" in result.stdout

    # A later run with another submission: the page lists both (rebuilt from OUT).
    second = _seal(
        tmp_path / "second.age",
        _plaintext(make_file_entry, sub_id="second", message=None),
        [editor_identity.recipient],
    )
    result = _open(editor_identity.identity_file, out, second, extra=("--lang", "en"))
    assert result.returncode == 0, result.stderr
    page = (out / "index.html").read_text()
    parsed = OfflinePage()
    parsed.feed(page)
    assert parsed.tags.count("article") == 2  # one per submission
    # Everything a source wrote is text, never markup...
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;m&#x27;)&lt;/script&gt;" in page
    assert "Author&lt;/td&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "rapport\\u202egnp.exe&lt;b&gt;\\x1b[1m" in page  # bidi/escapes made visible
    assert "\u202e" not in page and "\x1b" not in page
    # ...and a URL in a message is not a link (the page must not refer to the network).
    assert "see https://example.org/x &amp; p. 4" in page
    assert 'href="https' not in page
    text = " ".join(parsed.text)
    assert text.count("NOT CLEANED: HTML is not cleaned") == 1
    assert text.count("NOT CLEANED: HEIC decoder refused the file") == 1
    assert "2 file(s) NOT CLEANED." in text
    # Links are relative paths to the extracted files; a web page is never linked.
    assert 'href="first/files/01-_img%20src%3Dx%20onerror%3Dalert%281%29_.pdf"' in page
    assert 'href="second/files/01-Leak%20report.pdf"' in page
    assert "page.html" in page and 'href="first/files/02-page.html"' not in page
    for url in parsed.urls:
        if url.startswith(("first/", "second/")):
            assert (out / urllib.parse.unquote(url)).exists(), url
    assert "no message" in text
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_index_is_an_offline_page(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    sub = _seal(
        tmp_path / "s.age",
        _plaintext(make_file_entry, message="x" * 300_000),
        [editor_identity.recipient],
    )
    out = tmp_path / "out"
    (out / "not-a-submission").mkdir(parents=True)
    (out / "not-a-submission" / "manifest.json").write_text("{}")
    result = _open(editor_identity.identity_file, out, sub, extra=("--lang", "en"))
    assert result.returncode == 0, result.stderr
    page = (out / "index.html").read_text()
    parsed = check_offline_page(page)
    assert "not-a-submission" not in page
    assert "shortened" in page and 'href="abc123/message.txt"' in page
    # The style element's hash is what the page's own policy allows.
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in page
    assert parsed.tags.count("style") == 1
    assert (out / "index.html").stat().st_mode & 0o077 == 0


def test_index_written_even_when_nothing_opens(tmp_path: Path, editor_identity: Any) -> None:
    junk = tmp_path / "junk.age"
    junk.write_bytes(b"not age at all")
    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, junk)
    assert result.returncode == 1
    page = (out / "index.html").read_text()
    check_offline_page(page)
    assert "Aucun envoi dans ce dossier." in page  # French unless --lang en
    [(name, reason)] = _failed_rows(page)
    assert name == "junk.age" and reason.startswith("not a valid age file")


def test_index_links_only_passive_kinds(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    # A file with no extension or an unknown one may be sniffed as HTML by a browser under
    # file://: only kinds a browser shows passively get a link.
    files = [
        make_file_entry("notes", b"<script>alert(1)</script>", cleaned=False, reason="x"),
        make_file_entry("dump.bin", b"<script>alert(2)</script>", cleaned=False, reason="x"),
        make_file_entry("photo.jpg", b"\xff\xd8\xff", detected_type="jpeg"),
    ]
    sub = _seal(
        tmp_path / "s.age",
        _plaintext(make_file_entry, sub_id="links", message=None, files=files),
        [editor_identity.recipient],
    )
    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, sub)
    assert result.returncode == 0, result.stderr
    page = (out / "index.html").read_text()
    assert 'href="links/files/01-notes"' not in page and "01-notes" in page
    assert 'href="links/files/02-dump.bin"' not in page and "02-dump.bin" in page
    assert 'href="links/files/03-photo.jpg"' in page


def test_index_links_svg_only_when_cleaned(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    # A cleaned SVG has no script or external reference left (issue 11); one not cleaned
    # may run script when a browser opens it: listed, not linked.
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'
    files = [
        make_file_entry("clean.svg", svg, detected_type="svg"),
        make_file_entry("dirty.svg", svg, detected_type="svg", cleaned=False, reason="x"),
    ]
    sub = _seal(
        tmp_path / "s.age",
        _plaintext(make_file_entry, sub_id="svgs", message=None, files=files),
        [editor_identity.recipient],
    )
    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, sub)
    assert result.returncode == 0, result.stderr
    page = (out / "index.html").read_text()
    assert 'href="svgs/files/01-clean.svg"' in page
    assert 'href="svgs/files/02-dirty.svg"' not in page and "02-dirty.svg" in page


def test_index_shows_each_failure_as_a_red_row(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    # The trip: five broken or truncated files gave "0 submission(s)" and nothing else.
    usb = tmp_path / "usb"
    usb.mkdir()
    me = [editor_identity.recipient]
    data = _seal(tmp_path / "w.age", _plaintext(make_file_entry, sub_id="whole"), me).read_bytes()
    (usb / "a-truncated.age").write_bytes(data[: len(data) - 70_000])
    (usb / "b-header-only.age").write_bytes(data[: data.index(b"\n---") + 60])
    (usb / "c-empty.age").write_bytes(b"")
    (usb / "d-not-age.age").write_bytes(b"%PDF-1.7 not sealed")
    _seal(usb / "e-other-key.age", data, [X25519Identity.generate().recipient()])
    _seal(usb / "f-good.age", _plaintext(make_file_entry, sub_id="good"), me)
    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, usb, tmp_path / "gone.age")
    assert result.returncode == 1
    page = (out / "index.html").read_text()
    check_offline_page(page)
    rows = dict(_failed_rows(page))
    assert set(rows) == {
        "a-truncated.age",
        "b-header-only.age",
        "c-empty.age",
        "d-not-age.age",
        "e-other-key.age",
        str(tmp_path / "gone.age"),
    }
    assert "truncated" in rows["a-truncated.age"]
    assert "truncated" in rows["b-header-only.age"]
    assert "not a valid age file" in rows["d-not-age.age"]
    assert "wrong key" in rows["e-other-key.age"]
    assert rows[str(tmp_path / "gone.age")] == "no such file or folder"
    assert "6 fichier(s) n'ont pas pu être ouverts" in page
    assert "1 envoi(s)" in page and page.count('<article class="submission') == 1
    # The red rows say what the terminal said, one for one.
    assert result.stderr.count("FAILED") == 6


def test_open_again_is_idempotent(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    # The trip: `open` run again on the same stick gave "-2" folders and "4 submissions" for 2.
    usb = tmp_path / "usb"
    usb.mkdir()
    me = [editor_identity.recipient]
    _seal(usb / "one.age", _plaintext(make_file_entry, sub_id="one"), me)
    _seal(usb / "two.age", _plaintext(make_file_entry, sub_id="two"), me)
    _seal(usb / "notes.txt.age", b"plain notes", me)
    out = tmp_path / "out"
    first = _open(editor_identity.identity_file, out, usb)
    assert first.returncode == 0, first.stderr
    assert "3 of 3 opened" in first.stdout
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "index.html"}

    again = _open(editor_identity.identity_file, out, usb)
    assert again.returncode == 0, again.stderr
    assert _visible(out) == ["notes.txt", "one", "two"]
    assert {p: p.read_bytes() for p in before} == before  # nothing rewritten
    assert again.stdout.count("already opened: ") == 3
    assert f"already opened: {usb / 'one.age'} is in {out / 'one'} (submission one)" in (
        again.stdout
    )
    assert "0 of 3 opened, 3 already opened (skipped)" in again.stdout

    # A new submission on the stick is added; the index is rebuilt from all of them.
    _seal(usb / "three.age", _plaintext(make_file_entry, sub_id="three"), me)
    third = _open(editor_identity.identity_file, out, usb)
    assert third.returncode == 0, third.stderr
    assert _visible(out) == ["notes.txt", "one", "three", "two"]
    assert "1 of 4 opened, 3 already opened (skipped)" in third.stdout
    page = (out / "index.html").read_text()
    assert "3 envoi(s)" in page and page.count('<article class="submission') == 3

    # Same id but other content is not "the same submission": it is opened, never hidden.
    _seal(usb / "one-bis.age", _plaintext(make_file_entry, sub_id="one", message="other\n"), me)
    fourth = _open(editor_identity.identity_file, out, usb / "one-bis.age")
    assert fourth.returncode == 0, fourth.stderr
    assert (out / "one-2/message.txt").read_text() == "other\n"


def test_index_names_age_files_decodes_names_and_follows_the_language(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    # Chromium and Firefox send `Rapport "final".pdf` as `Rapport %22final%22.pdf`.
    quoted = make_file_entry("Rapport _final_.pdf", b"%PDF x", detected_type="pdf")
    quoted = FileEntry(**{**quoted.__dict__, "original_name": "Rapport %22final%22%0A<b>.pdf"})
    literal = make_file_entry("100%20.txt", b"x")  # a real "%20" in a name stays as it is
    sub = _seal(
        tmp_path / "2024-05-01-k7q.age",
        _plaintext(make_file_entry, sub_id="named", files=[quoted, literal]),
        [editor_identity.recipient],
    )
    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, sub)
    assert result.returncode == 0, result.stderr
    page = (out / "index.html").read_text()
    check_offline_page(page)
    # Decoded for reading, still escaped (the line break is made visible, the tag is text).
    assert "Rapport &quot;final&quot;\\x0a&lt;b&gt;.pdf" in page and "%22" not in page
    assert "100%20.txt" in page
    assert 'original name: Rapport "final"\\x0a<b>.pdf' in result.stdout
    # The link is the stored, sanitised name, never the decoded one.
    assert 'href="named/files/01-Rapport%20_final_.pdf"' in page
    # The row names the .age file it came from.
    assert "depuis <code>2024-05-01-k7q.age</code>" in page
    assert '<html lang="fr">' in page and "<title>Envois</title>" in page
    assert "nom d&#x27;origine" in page or "nom d'origine" in page

    english = _open(editor_identity.identity_file, out, sub, extra=("--lang", "en"))
    assert english.returncode == 0, english.stderr
    page = (out / "index.html").read_text()
    assert '<html lang="en">' in page and "<title>Submissions</title>" in page
    assert "from <code>2024-05-01-k7q.age</code>" in page
    assert "Envois" not in page
    bad = _open(editor_identity.identity_file, out, sub, extra=("--lang", "de"))
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_index_message_reads_as_prose_in_a_browser(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    from playwright.sync_api import sync_playwright

    prose = (
        (
            "Bonjour, voici le contrat signé avec la préfecture en mars ; la page 4 montre le "
            "nombre de caméras et le prix unitaire. " * 6
        )
        + "\nUn mot très long: "
        + "x" * 400
        + "\n"
    )
    sub = _seal(
        tmp_path / "s.age",
        _plaintext(make_file_entry, sub_id="prose", message=prose),
        [editor_identity.recipient],
    )
    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, sub)
    assert result.returncode == 0, result.stderr
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context(
                java_script_enabled=False, viewport={"width": 1280, "height": 800}
            )
            page = context.new_page()
            page.goto((out / "index.html").as_uri())
            measured = page.evaluate(
                """() => {
                  const m = document.querySelector('.message');
                  const s = getComputedStyle(m);
                  return {family: s.fontFamily, width: m.getBoundingClientRect().width,
                          body: document.body.getBoundingClientRect().width,
                          lineHeight: parseFloat(s.lineHeight) || 20,
                          height: m.getBoundingClientRect().height,
                          scroll: m.scrollWidth, client: m.clientWidth,
                          page: document.documentElement.scrollWidth};
                }"""
            )
            artifacts = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
            artifacts.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(artifacts / "open-index-fr.png"), full_page=True)
        finally:
            browser.close()
    assert "monospace" not in measured["family"]
    assert measured["width"] >= 0.9 * measured["body"]  # the full width, not a column
    assert measured["scroll"] <= measured["client"]  # wrapped, even the 400-letter word
    assert measured["page"] <= 1280
    # About 6 long sentences across the page: a handful of lines, not a narrow column.
    assert measured["height"] < 20 * measured["lineHeight"]


def _reply_address(seed: int) -> ReplyAddress:
    return ReplyAddress(
        mailbox=f"{seed:02x}" * 32, recipient=str(X25519Identity.generate().recipient())
    )


def test_submissions_sharing_a_reply_address_are_one_conversation(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    me = [editor_identity.recipient]
    usb = tmp_path / "usb"
    usb.mkdir()
    alice, bob = _reply_address(0xA1), _reply_address(0xB0)
    for name, day, addr, message in (
        ("a1", "2024-05-01", alice, "premier envoi d'Alice"),
        ("a2", "2024-05-01", alice, "l'annexe, même jour"),
        ("a3", "2024-05-09", alice, "la suite, une semaine après"),
        ("b1", "2024-05-03", bob, "Bob, seul envoi"),
        ("x1", "2024-05-05", None, "sans codename"),
    ):
        _seal(
            usb / f"{name}.age",
            _plaintext(make_file_entry, sub_id=name, message=message, day=day, reply=addr),
            me,
        )
    out = tmp_path / "out"
    result = _open(editor_identity.identity_file, out, usb)
    assert result.returncode == 0, result.stderr
    page = (out / "index.html").read_text()
    check_offline_page(page)
    assert "2 conversation(s)" in page
    sections = re.findall(r'<section class="conversation".*?</section>', page, re.S)
    assert len(sections) == 2
    # The conversation with the newest message comes first; inside, oldest first, by day.
    first, second = sections
    assert re.findall(r"<h3>(.*?)</h3>", first) == ["2024-05-01", "2024-05-09"]
    assert [m for m in ("premier envoi", "l&#x27;annexe", "la suite") if m in first] == [
        "premier envoi",
        "l&#x27;annexe",
        "la suite",
    ]
    assert first.index("premier envoi") < first.index("l&#x27;annexe") < first.index("la suite")
    assert "3 envoi(s) de la même source" in first
    assert "Bob, seul envoi" in second and "1 envoi(s) de la même source" in second
    # Standing alone: the submission without a reply address, said to allow no reply.
    rest = page.split(second, 1)[1]
    assert "sans codename" in rest and "pas de réponse possible" in rest
    assert "sans codename" not in first + second

    # The command shown works as shown (outbox and message file filled in).
    [shown] = re.findall(r'<p class="reply">Réponse possible : <code>(.*?)</code>', first)
    argv = shlex.split(html.unescape(shown))
    assert argv[:2] == ["leakdrop", "reply"] and argv[argv.index("--to") + 1] == str(
        out.absolute() / "a3"
    )
    (tmp_path / "reponse.txt").write_text("Merci, pouvez-vous envoyer la page 5 ?\n")
    argv[argv.index("--out") + 1] = str(tmp_path / "outbox")
    reply = subprocess.run(
        [*LEAKDROP, *argv[1:]], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert reply.returncode == 0, reply.stderr
    [sent] = (tmp_path / "outbox").iterdir()
    assert sent.name.startswith(f"reply-{alice.mailbox}-")


def test_open_creates_private_folders_all_the_way(
    tmp_path: Path, editor_identity: Any, make_file_entry: MakeEntry
) -> None:
    # The trip: with the usual umask 022, files/ came out 0755 inside a 0700 parent.
    sub = _seal(tmp_path / "s.age", _plaintext(make_file_entry), [editor_identity.recipient])
    notes = _seal(tmp_path / "n.txt.age", b"notes", [editor_identity.recipient])
    top = tmp_path / "new"
    out = top / "deeper" / "opened"
    result = subprocess.run(
        [
            *LEAKDROP,
            "open",
            "--identity",
            str(editor_identity.identity_file),
            "--out",
            str(out),
            str(sub),
            str(notes),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        umask=0o022,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    seen = [top, *top.rglob("*")]
    assert any(p.name == "files" for p in seen) and len(seen) > 8
    for path in seen:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
