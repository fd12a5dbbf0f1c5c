"""Helpers shared by the server tests (no tests here)."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOUNDARY = "----leakdropTestBoundary7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def part_head(name: str, filename: bytes | str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'.encode()
    if filename is not None:
        raw = filename.encode("utf-8") if isinstance(filename, str) else filename
        disposition += b'; filename="' + raw + b'"'
    return (
        f"--{BOUNDARY}\r\n".encode()
        + b"Content-Disposition: "
        + disposition
        + b"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )


def multipart(files: Sequence[tuple[bytes | str, bytes]], message: str | None = None) -> bytes:
    """A form body exactly as a browser builds it (file names raw, not escaped)."""
    out = b""
    for filename, data in files:
        out += part_head("files", filename) + data + b"\r\n"
    if message is not None:
        out += part_head("message") + message.encode("utf-8") + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def stream_parts(head: bytes, size: int, tail: bytes, chunk: int = 64 * 1024) -> Iterator[bytes]:
    yield head
    block = os.urandom(chunk)
    sent = 0
    while sent < size:
        n = min(chunk, size - sent)
        yield block[:n]
        sent += n
    yield tail


def all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def tree_state(storage: Path) -> dict[str, list[str]]:
    return {
        sub: sorted(p.name for p in (storage / sub).iterdir())
        for sub in ("submissions", "incoming", "spool")
    }


def submissions(storage: Path) -> list[Path]:
    return sorted((storage / "submissions").glob("*.age"))


def marker_variants(marker: str) -> list[bytes]:
    """The marker as it could appear on disk: UTF-8, UTF-16 (both orders), URL-encoded."""
    return [
        marker.encode("utf-8"),
        marker.encode("utf-16-le"),
        marker.encode("utf-16-be"),
        marker.replace("-", "%2D").encode(),
    ]


def find_marker(paths: Sequence[Path], marker: str) -> list[str]:
    hits = []
    variants = marker_variants(marker)
    for path in paths:
        if marker in str(path):
            hits.append(f"name: {path}")
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if any(v in data for v in variants):
            hits.append(f"content: {path}")
    return hits


@dataclass
class Opened:
    manifest: dict[str, Any]
    root: Path

    def file(self, entry: dict[str, Any]) -> bytes:
        return (self.root / str(entry["name"])).read_bytes()

    @property
    def message(self) -> str | None:
        path = self.root / "message.txt"
        return path.read_text("utf-8") if path.exists() else None


def age_open(submission: Path, identity_file: Path, dest: Path) -> Opened:
    """Open with the audited tools only: `age -d` then tar (member names checked first)."""
    dest.mkdir(parents=True)
    plain = subprocess.run(
        ["age", "-d", "-i", str(identity_file), str(submission)],
        capture_output=True,
        check=True,
    ).stdout
    tar_path = dest.parent / (dest.name + ".tar")
    tar_path.write_bytes(plain)
    with tarfile.open(tar_path) as archive:
        names = archive.getnames()
        for name in names:
            assert not name.startswith("/") and ".." not in name.split("/"), name
        assert names[0] == "manifest.json"
    subprocess.run(["tar", "-x", "-f", str(tar_path), "-C", str(dest)], check=True)
    tar_path.unlink()
    manifest = json.loads((dest / "manifest.json").read_text("utf-8"))
    return Opened(manifest, dest)
