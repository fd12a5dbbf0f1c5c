"""`leakdrop scrub FILE... --out DIR [--json]`, run as the real command in a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pikepdf
from PIL import Image

from scrubbers import UnsupportedTypeError

LEAKDROP = [sys.executable, "-m", "leakdrop.cli"]


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LEAKDROP, "scrub", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def _dirty_pdf(*, attachment: bytes | None = None) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    pdf.docinfo["/Author"] = "Jane Source"
    if attachment is not None:
        pdf.attachments["notes from jane.png"] = pikepdf.AttachedFileSpec(pdf, attachment)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _png() -> bytes:
    out = io.BytesIO()
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("Author", "Jane Source")
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def test_renamed_file_is_cleaned_by_its_real_type(tmp_path: Path) -> None:
    source = tmp_path / "holiday notes.txt"  # a PDF in disguise
    source.write_bytes(_dirty_pdf())
    result = _run(source, "--out", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in written] == ["holiday notes.pdf"]
    assert b"Jane Source" not in written[0].read_bytes()
    assert "PDF, cleaned ->" in result.stdout
    assert "pdf:Info/Author" in result.stdout
    assert "Jane Source" not in result.stdout  # field names only, never values
    assert written[0].stat().st_mode & 0o077 == 0  # private to the editor


def test_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"already here")
    (out / "a-1.png").write_bytes(b"this too")
    os.symlink(tmp_path / "target-of-link", out / "a-2.png")
    source = tmp_path / "a.png"
    source.write_bytes(_png())
    result = _run(source, source, "--out", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (out / "a.png").read_bytes() == b"already here"
    assert (out / "a-1.png").read_bytes() == b"this too"
    assert not (tmp_path / "target-of-link").exists()  # the planted link was not followed
    assert (out / "a-3.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "a-4.png").read_bytes() == (out / "a-3.png").read_bytes()


def test_not_cleaned_files_are_not_written(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(_png())
    text = tmp_path / "letter.txt"
    text.write_bytes(b"\x00\x01 no format a scrubber knows")
    result = _run(good, text, "--out", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png"]
    assert f"NOT CLEANED: {UnsupportedTypeError.reason} (not written)" in result.stdout
    assert "1 of 2 file(s) fully cleaned" in result.stdout


def test_json_report(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(_png())
    text = tmp_path / "letter.txt"
    text.write_bytes(b"\x00\x01 no format a scrubber knows")
    result = _run(good, text, "--out", tmp_path / "out", "--json", cwd=tmp_path)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["all_cleaned"] is False
    first, second = document["files"]
    assert first["input"] == str(good)
    assert first["output"] == str(tmp_path / "out" / "good.png")
    assert (first["type"], first["cleaned"], first["reason"]) == ("png", True, None)
    assert first["removed"]
    assert (second["type"], second["cleaned"], second["output"]) == ("unknown", False, None)
    assert second["reason"] == UnsupportedTypeError.reason


def test_pdf_attachments_are_written_separately(tmp_path: Path) -> None:
    source = tmp_path / "report.pdf"
    source.write_bytes(_dirty_pdf(attachment=_png()))
    result = _run(source, "--out", tmp_path / "out", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    (entry,) = document["files"]
    (attachment,) = entry["attachments"]
    assert attachment["name"] == "notes from jane.png"
    assert attachment["cleaned"] is True
    written = Path(attachment["output"])
    assert written.parent == tmp_path / "out"
    assert written.name == "report.attachment-1-notes_from_jane.png"
    assert b"Jane Source" not in written.read_bytes()
    assert b"Jane Source" not in Path(entry["output"]).read_bytes()


def test_usage_errors_do_nothing(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(_png())
    missing = _run(good, tmp_path / "missing.pdf", "--out", tmp_path / "out", cwd=tmp_path)
    assert missing.returncode == 2
    assert "not a file" in missing.stderr
    assert not (tmp_path / "out").exists()
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    not_a_dir = _run(good, "--out", blocker, cwd=tmp_path)
    assert not_a_dir.returncode == 2
    assert "not a folder" in not_a_dir.stderr
    no_out = _run(good, cwd=tmp_path)
    assert no_out.returncode == 2


def test_scrub_command_does_not_import_the_server(tmp_path: Path) -> None:
    code = (
        "import sys, argparse; from leakdrop.scrub_cmd import run_scrub; "
        f"run_scrub(argparse.Namespace(files=[{str(tmp_path / 'x.bin')!r}], "
        f"out={str(tmp_path / 'out')!r}, json=True)); "
        "assert not any(m.startswith(('leakdrop.server', 'fastapi', 'uvicorn')) "
        "for m in sys.modules), 'server imported'"
    )
    (tmp_path / "x.bin").write_bytes(b"bytes")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
