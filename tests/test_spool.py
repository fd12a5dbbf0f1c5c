"""The encrypted upload spool (leakdrop.server.spool) and the sealing fast path it feeds.

Every AEAD the spool can pick on this machine is exercised; tampering of every kind with
the bytes on disk must make the read fail rather than hand on other bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from leakdrop.sealing import _sodium, _stream
from leakdrop.server import spool as spool_mod
from leakdrop.server.plaintext_intake import HEAD_BYTES
from leakdrop.server.spool import (
    AEADS,
    MAGIC,
    MAX_RECORD,
    SpoolFile,
    SpoolIntegrityError,
    SpoolKey,
    spool_bytes,
)
from leakdrop.submission import FileEntry, IntegrityError, write_submission

AEAD_NAMES = list(AEADS)


def _data(size: int, seed: int = 0) -> bytes:
    return os.urandom(size)


def _spool(tmp_path: Path, pieces: list[bytes], aead: str) -> SpoolFile:
    spool = SpoolFile(tmp_path, SpoolKey(AEADS[aead]))
    for piece in pieces:
        spool.write(piece)
    spool.finish()
    return spool


def _raw(spool: SpoolFile) -> bytes:
    return Path(f"/proc/self/fd/{spool._fd}").read_bytes()


@pytest.mark.parametrize("aead", AEAD_NAMES)
def test_public_and_fast_calls_agree(
    tmp_path: Path, aead: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each AEAD through PyNaCl's public functions (the fallback) and through the calls
    into our buffers reads what the other wrote."""
    fast = AEADS[aead]
    public = spool_mod._aead(fast.name, fast.nonce_bytes, fast.tag)
    monkeypatch.setattr(public, "_raw", None)  # PyNaCl's public functions only
    data = [_data(300_000), _data(5)]
    for writer, reader in ((fast, public), (public, fast)):
        spool = SpoolFile(tmp_path, SpoolKey(writer))
        for piece in data:
            spool.write(piece)
        spool.finish()
        spool._aead = reader
        try:
            assert spool.read_all() == b"".join(data)
        finally:
            spool.close()


def test_the_default_cipher_is_the_fastest_available() -> None:
    assert spool_mod.CIPHER is next(iter(AEADS.values()))
    assert "chacha20poly1305_ietf" in AEADS  # the fallback exists everywhere


@pytest.mark.parametrize("aead", AEAD_NAMES)
@pytest.mark.parametrize(
    "sizes",
    [[], [1], [5, 0, 7], [1024 * 1024, 3], [MAX_RECORD + 5], [MAX_RECORD, MAX_RECORD]],
    ids=["empty", "one-byte", "tiny-pieces", "mib", "split", "two-max"],
)
def test_round_trip(tmp_path: Path, aead: str, sizes: list[int]) -> None:
    pieces = [_data(n, seed=i) for i, n in enumerate(sizes)]
    data = b"".join(pieces)
    spool = _spool(tmp_path, pieces, aead)
    try:
        assert list(tmp_path.iterdir()) == []  # nameless, always
        assert spool.size == len(data)
        assert spool.sha256 == hashlib.sha256(data).hexdigest()
        assert spool.head == data[:HEAD_BYTES]
        assert spool.read_all() == data
        with spool.open() as reader:
            got = bytearray()
            while chunk := reader.read(300_000):
                got += chunk
        assert got == data
        raw = _raw(spool)
        assert raw.startswith(MAGIC)
        if len(data) > 64:
            assert data[20:84] not in raw
    finally:
        spool.close()
    assert spool.closed


@pytest.mark.parametrize("aead", AEAD_NAMES)
def test_bytes_the_caller_changes_later_are_the_bytes_stored(tmp_path: Path, aead: str) -> None:
    """The hash is taken at write time and the encryption later, in another thread: a
    buffer its owner can still change must not let the two disagree."""
    buffer = bytearray(_data(200_000))
    original = bytes(buffer)
    spool = SpoolFile(tmp_path, SpoolKey(AEADS[aead]))
    spool.write(memoryview(buffer))
    buffer[:] = bytes(len(buffer))
    spool.finish()
    try:
        assert spool.sha256 == hashlib.sha256(original).hexdigest()
        assert spool.read_all() == original
    finally:
        spool.close()


def _tamper_cases() -> list[str]:
    return ["flip-ciphertext", "flip-tag", "flip-length", "truncate", "extend", "swap", "replay"]


@pytest.mark.parametrize("aead", AEAD_NAMES)
@pytest.mark.parametrize("case", _tamper_cases())
def test_tampered_spool_never_reads(tmp_path: Path, aead: str, case: str) -> None:
    tag = AEADS[aead].tag
    piece = 100_000
    pieces = [_data(piece, seed=1), _data(piece, seed=2), _data(piece, seed=3)]
    spool = _spool(tmp_path, pieces, aead)
    other = _spool(tmp_path, pieces, aead)  # same plaintext, same SpoolKey class, own key
    try:
        fd = spool._fd
        raw = _raw(spool)
        record = 4 + piece + tag
        first = len(MAGIC)
        if case == "flip-ciphertext":
            os.pwrite(fd, bytes([raw[first + 4 + 10] ^ 1]), first + 4 + 10)
        elif case == "flip-tag":
            at = first + record - 1
            os.pwrite(fd, bytes([raw[at] ^ 0x80]), at)
        elif case == "flip-length":
            os.pwrite(fd, (piece - 1).to_bytes(4, "big"), first)
        elif case == "truncate":
            os.ftruncate(fd, len(raw) - 1)
        elif case == "extend":
            os.pwrite(fd, b"\0", len(raw))
        elif case == "swap":  # records 0 and 1 exchanged: same lengths, wrong places
            os.pwrite(fd, raw[first + record : first + 2 * record], first)
            os.pwrite(fd, raw[first : first + record], first + record)
        elif case == "replay":  # another spool's records (another key) in their place
            os.pwrite(fd, _raw(other), 0)
        with pytest.raises(SpoolIntegrityError):
            spool.read_all()
        with pytest.raises(SpoolIntegrityError):
            with spool.open() as reader:
                while reader.read(1 << 20):
                    pass
    finally:
        spool.close()
        other.close()


def test_the_final_record_is_marked(tmp_path: Path) -> None:
    """Dropping the last record and fixing up what RAM knows still fails: the new last
    record was not sealed as the final one."""
    tag = spool_mod.CIPHER.tag
    spool = _spool(tmp_path, [_data(1000, 1), _data(1000, 2)], next(iter(AEADS)))
    try:
        os.ftruncate(spool._fd, len(MAGIC) + 4 + 1000 + tag)
        spool.size = 1000
        spool._disk_bytes = len(MAGIC) + 4 + 1000 + tag
        with pytest.raises(SpoolIntegrityError):
            spool.read_all()
    finally:
        spool.close()


def test_spool_bytes_and_a_tampered_spool_inside_a_submission(tmp_path: Path) -> None:
    data = _data(3 * 1024 * 1024 + 17)
    spool = spool_bytes(tmp_path, SpoolKey(), data)
    try:

        def entry(authenticated: bool) -> FileEntry:
            return FileEntry(
                stored_name="a.bin",
                original_name="a.bin",
                detected_type="unknown",
                media_type="application/octet-stream",
                cleaned=False,
                reason=None,
                removed=[],
                note=None,
                size=spool.size,
                sha256=spool.sha256,
                open=spool.open,
                authenticated_stream=authenticated,
            )

        sink = io.BytesIO()
        for authenticated in (True, False):
            sink = io.BytesIO()
            write_submission(
                sink,
                submission_id="x1",
                received_day="2024-05-01",
                message=None,
                files=[entry(authenticated)],
            )
            assert data in sink.getvalue()
        # Altered on disk: the sealing stops with the spool's error, before the bad bytes.
        at = len(MAGIC) + 4 + 2 * 1024 * 1024
        os.pwrite(spool._fd, bytes([_raw(spool)[at] ^ 1]), at)
        with pytest.raises(SpoolIntegrityError):
            write_submission(
                io.BytesIO(),
                submission_id="x1",
                received_day="2024-05-01",
                message=None,
                files=[entry(True)],
            )
    finally:
        spool.close()


def test_write_submission_still_checks_a_stream_that_does_not_authenticate_itself() -> None:
    data = b"abc"
    entry = FileEntry(
        stored_name="a.txt",
        original_name="a.txt",
        detected_type="unknown",
        media_type="text/plain",
        cleaned=False,
        reason=None,
        removed=[],
        note=None,
        size=3,
        sha256=hashlib.sha256(b"abd").hexdigest(),
        open=lambda: io.BytesIO(data),
    )
    with pytest.raises(IntegrityError):
        write_submission(
            io.BytesIO(), submission_id="x1", received_day="2024-05-01", message=None, files=[entry]
        )


@pytest.mark.parametrize(
    "writes",
    [[1], [70_000], [65536], [65536, 65536], [10, 3 * 65536 + 5, 1_000_000, 65536 * 17 + 1]],
)
def test_sealing_fast_path_writes_the_same_bytes_as_the_public_functions(
    monkeypatch: pytest.MonkeyPatch, writes: list[int]
) -> None:
    key = os.urandom(32)
    pieces = [os.urandom(n) for n in writes]

    def seal() -> tuple[bytes, list[int]]:
        out = io.BytesIO()
        sizes: list[int] = []

        class Sink:
            def write(self, data: bytes | bytearray) -> int:
                sizes.append(len(data))
                return out.write(data)

        writer = _stream.SealWriter(Sink(), key)
        for piece in pieces:
            writer.write(piece)
        writer.close()
        return out.getvalue(), sizes

    fast, fast_sizes = seal()
    monkeypatch.setattr(_sodium.CHACHA20POLY1305, "_raw", None)  # the public functions
    slow, _ = seal()
    assert fast == slow
    # Never more than 16 sealed chunks (1 MiB and their tags) in one write.
    assert max(fast_sizes) <= 16 * _stream.ENCRYPTED_CHUNK_SIZE
