"""Reading a decrypted submission: a small strict tar reader (see the package's notes)."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from leakdrop.sealing import Readable
from leakdrop.submission._format import (
    _CHUNK,
    _PAX_LEN_RE,
    _PAX_TYPE,
    _POSIX_MAGIC,
    _REGULAR_TYPES,
    BLOCK,
    FILES_DIR,
    FORMAT,
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    MAX_PAX_BYTES,
    MESSAGE_NAME,
    ContainerError,
    IntegrityError,
    ManifestError,
    MemberError,
    TruncatedError,
    _blocks_for,
    padded_size,
)
from leakdrop.submission._manifest import (
    Manifest,
    ManifestFile,
    _load_manifest_json,
    parse_manifest,
)

# --------------------------------------------------------------------------- reading


class _Blocks:
    """Exact reads from the decrypted stream, with the offset and typed truncation errors."""

    def __init__(self, reader: Readable) -> None:
        self._reader = reader
        self.offset = 0

    def read_upto(self, n: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        while got < n:
            chunk = self._reader.read(n - got)
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        self.offset += got
        return b"".join(parts)

    def read_exact(self, n: int, what: str) -> bytes:
        data = self.read_upto(n)
        if len(data) != n:
            raise TruncatedError(f"archive ends inside {what}")
        return data

    def chunks(self, n: int, what: str) -> Iterator[bytes]:
        remaining = n
        while remaining:
            chunk = self.read_exact(min(_CHUNK, remaining), what)
            remaining -= len(chunk)
            yield chunk


def _parse_pax(untrusted_data: bytes) -> dict[str, str]:
    """Parse pax extended-header records ("LEN key=value\\n"), strictly."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(untrusted_data):
        match = _PAX_LEN_RE.match(untrusted_data, pos)
        if not match:
            raise MemberError("malformed pax header")
        length = int(match.group(1))
        record = untrusted_data[pos : pos + length]
        if len(record) != length or not record.endswith(b"\n"):
            raise MemberError("malformed pax record")
        key, eq, value = record[match.end() - pos : -1].partition(b"=")
        if not eq:
            raise MemberError("malformed pax record")
        try:
            key_s, value_s = key.decode("ascii"), value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MemberError("pax record is not UTF-8") from exc
        if key_s in records:
            raise MemberError(f"duplicate pax key {key_s!r}")
        records[key_s] = value_s
        pos += length
    return records


@dataclass
class _Member:
    name: str
    size: int


def _read_member_header(blocks: _Blocks) -> _Member | None:
    """Next regular-file member, or None at the end-of-archive marker."""
    import tarfile

    overrides: dict[str, str] = {}
    saw_pax = False
    while True:
        header = blocks.read_exact(BLOCK, "a member header")
        if header.count(0) == BLOCK:
            if saw_pax:
                raise MemberError("pax header not followed by a member")
            return None
        try:
            info = tarfile.TarInfo.frombuf(header, "utf-8", "strict")
        except (tarfile.HeaderError, UnicodeDecodeError, ValueError) as exc:
            raise MemberError(f"invalid tar header: {exc}") from exc
        if header[257:265] != _POSIX_MAGIC:
            raise MemberError("not a POSIX (ustar/pax) tar header")
        if info.type == _PAX_TYPE and not saw_pax:
            # Only a bounded local pax header (long or non-ASCII path, huge size) is ours.
            if info.size > MAX_PAX_BYTES:
                raise MemberError("pax header too large")
            raw = blocks.read_exact(_blocks_for(info.size), "a pax header")[: info.size]
            overrides = _parse_pax(raw)
            unknown = set(overrides) - {"path", "size", "mtime"}
            if unknown:
                raise MemberError(f"unexpected pax keys {sorted(unknown)}")
            saw_pax = True
            continue
        if info.type not in _REGULAR_TYPES:
            # Links, directories, devices, FIFOs, GNU/global headers, sparse files: none of
            # them is ever written by write_submission, and links/devices are how hostile
            # archives escape the destination folder or hang the extractor.
            raise MemberError(f"{info.name!r}: member type {info.type!r} is not a regular file")
        name = overrides.get("path", info.name)
        size = info.size
        if "size" in overrides:
            if not re.fullmatch(r"[0-9]{1,19}", overrides["size"]):
                raise MemberError("bad pax size")
            size = int(overrides["size"])
        return _Member(name=name, size=size)


class _ExclusiveFile:
    """A new file under the destination, refused if anything already sits there."""

    def __init__(self, path: Path) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        self.fd = os.open(path, flags, 0o600)

    def write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def close(self) -> None:
        os.close(self.fd)


def _copy_member(blocks: _Blocks, member: _Member, path: Path) -> str:
    digest = hashlib.sha256()
    out = _ExclusiveFile(path)
    try:
        for chunk in blocks.chunks(member.size, member.name):
            digest.update(chunk)
            out.write_all(chunk)
    finally:
        out.close()
    blocks.read_exact(_blocks_for(member.size) - member.size, member.name)
    return digest.hexdigest()


def peek_submission(reader: Readable) -> tuple[bool, BinaryIO]:
    """Tell whether a decrypted stream is a leakdrop submission, without losing any byte.

    A submission is a tar whose first member is manifest.json with
    `"format": "leakdrop-submission"`. Returns the answer and a reader that yields the whole
    stream again from its first byte.
    """
    import tarfile

    blocks = _Blocks(reader)
    head = blocks.read_upto(BLOCK)
    verdict = False
    if len(head) == BLOCK:
        try:
            info = tarfile.TarInfo.frombuf(head, "utf-8", "strict")
        except (tarfile.HeaderError, UnicodeDecodeError, ValueError):
            info = None
        if (
            info is not None
            and head[257:265] == _POSIX_MAGIC
            and info.name == MANIFEST_NAME
            and info.type in _REGULAR_TYPES
            and 0 < info.size <= MAX_MANIFEST_BYTES
        ):
            body = blocks.read_upto(info.size)
            head += body
            if len(body) == info.size:
                try:
                    doc = _load_manifest_json(body)
                except ManifestError:
                    doc = None
                verdict = isinstance(doc, dict) and doc.get("format") == FORMAT
    return verdict, io.BufferedReader(_Replay(head, reader), buffer_size=_CHUNK)


class _Replay(io.RawIOBase):
    def __init__(self, prefix: bytes, rest: Readable) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(target), len(self._prefix))
            target[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(target)) or b""
        target[: len(data)] = data
        return len(data)


def read_manifest(reader: Readable) -> Manifest:
    """Only the manifest of a decrypted submission (its first member), nothing written.

    The rest of the stream is not read, so a truncation after the manifest goes unnoticed:
    use it to learn where to reply, never to vouch for the files (`extract_submission`).
    """
    return _read_first_member(_Blocks(reader))


def _read_first_member(blocks: _Blocks) -> Manifest:
    first = _read_member_header(blocks)
    if first is None or first.name != MANIFEST_NAME:
        raise MemberError("the first member is not manifest.json")
    if first.size > MAX_MANIFEST_BYTES:
        raise ManifestError("manifest.json too large")
    manifest = parse_manifest(blocks.read_exact(first.size, MANIFEST_NAME))
    blocks.read_exact(_blocks_for(first.size) - first.size, MANIFEST_NAME)
    return manifest


def read_manifest_and_message_digest(reader: Readable) -> tuple[Manifest, str | None]:
    """The manifest and the SHA-256 of message.txt (None without a message), nothing written.

    The manifest lists each file's hash but not the message's: this is what tells two
    submissions apart without reading their files. Like `read_manifest`, it vouches for
    nothing after the message.
    """
    blocks = _Blocks(reader)
    manifest = _read_first_member(blocks)
    if manifest.message is None:
        return manifest, None
    member = _read_member_header(blocks)
    if member is None or member.name != MESSAGE_NAME:
        raise MemberError(f"{MESSAGE_NAME} is listed but missing from the archive")
    digest = hashlib.sha256()
    for chunk in blocks.chunks(member.size, MESSAGE_NAME):
        digest.update(chunk)
    return manifest, digest.hexdigest()


def extract_submission(reader: Readable, dest: Path) -> Manifest:
    """Extract a decrypted submission into the existing, empty folder `dest`.

    Writes manifest.json, message.txt (if any) and files/... with exclusive creation (never
    follows or replaces anything). Reads the stream to its very end, so a decrypting reader
    gets the chance to report a truncated or altered payload (its errors propagate
    unchanged), and checks the end-of-archive marker and the zero padding exactly. Any
    deviation raises a `ContainerError`; the caller deletes `dest` then (what was written so
    far is unverified).
    """
    if any(dest.iterdir()):
        raise ContainerError(f"{dest} is not empty")
    blocks = _Blocks(reader)

    first = _read_member_header(blocks)
    if first is None or first.name != MANIFEST_NAME:
        raise MemberError("the first member is not manifest.json")
    if first.size > MAX_MANIFEST_BYTES:
        raise ManifestError("manifest.json too large")
    manifest_bytes = blocks.read_exact(first.size, MANIFEST_NAME)
    blocks.read_exact(_blocks_for(first.size) - first.size, MANIFEST_NAME)
    manifest = parse_manifest(manifest_bytes)
    out = _ExclusiveFile(dest / MANIFEST_NAME)
    try:
        out.write_all(manifest_bytes)
    finally:
        out.close()

    # The members must be exactly these, in this order: anything else (an extra file, a
    # duplicate, a different name) is refused before a byte of it is written.
    expected: list[tuple[str, ManifestFile | None]] = []
    if manifest.message is not None:
        expected.append((MESSAGE_NAME, None))
    expected.extend((f.name, f) for f in manifest.files)
    if manifest.files:
        # Plaintext from a source: no other user of the laptop may list it.
        (dest / FILES_DIR).mkdir(mode=0o700)
        os.chmod(dest / FILES_DIR, 0o700)

    for want_name, want in expected:
        member = _read_member_header(blocks)
        if member is None:
            raise MemberError(f"{want_name} is listed but missing from the archive")
        if member.name != want_name:
            raise MemberError(f"unexpected member {member.name!r} (expected {want_name!r})")
        if want is not None and member.size != want.size:
            raise IntegrityError(
                f"{member.name}: size {member.size} differs from the manifest's {want.size}"
            )
        sha = _copy_member(blocks, member, dest / want_name)
        if want is not None and sha != want.sha256:
            raise IntegrityError(f"{member.name}: SHA-256 differs from the manifest")

    extra = _read_member_header(blocks)
    if extra is not None:
        raise MemberError(f"member {extra.name!r} is not in the manifest")
    # _read_member_header consumed the first zero block; the marker has two.
    end = blocks.offset + BLOCK
    if blocks.read_exact(BLOCK, "the end-of-archive marker").count(0) != BLOCK:
        raise MemberError("data after the end-of-archive marker")
    _check_padding(blocks, padded_size(end))
    return manifest


def _check_padding(blocks: _Blocks, total: int) -> None:
    while True:
        chunk = blocks.read_upto(_CHUNK)
        if not chunk:
            break
        if chunk.count(0) != len(chunk):
            raise MemberError("non-zero bytes in the padding")
        if blocks.offset > total:
            raise MemberError("padding longer than the format allows")
    if blocks.offset != total:
        raise TruncatedError(f"padding ends at {blocks.offset} bytes, expected {total}")
