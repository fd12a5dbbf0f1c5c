"""Unit tests of leakdrop.sealing: round trips, keys, and a typed error for every attack."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leakdrop.sealing import (
    AgeError,
    ArmorError,
    HeaderError,
    KeyFormatError,
    MacError,
    NoIdentityMatchError,
    PayloadError,
    ScryptIdentity,
    ScryptRecipient,
    SealWriter,
    X25519Identity,
    X25519Recipient,
    _bech32,  # white-box: build malformed keys
    decrypt,
    encrypt,
    is_age_file,
    parse_identities_file,
    parse_recipients_file,
)

CHUNK = 64 * 1024
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 7]
REPO = Path(__file__).resolve().parents[1]


def seal(data: bytes, recipients: list[X25519Recipient] | list[ScryptRecipient]) -> bytes:
    out = io.BytesIO()
    with encrypt(out, recipients) as writer:
        writer.write(data)
    return out.getvalue()


def open_all(sealed: bytes, identities: list[X25519Identity] | list[ScryptIdentity]) -> bytes:
    with decrypt(io.BytesIO(sealed), identities) as reader:
        return reader.read()


def read_in_pieces(sealed: bytes, identity: X25519Identity, size: int) -> bytes:
    """Read with read(size) until EOF; any error propagates."""
    out = bytearray()
    with decrypt(io.BytesIO(sealed), [identity]) as reader:
        while piece := reader.read(size):
            out += piece
    return bytes(out)


@pytest.fixture(scope="module")
def ident() -> X25519Identity:
    return X25519Identity.generate()


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_sizes(size: int, ident: X25519Identity) -> None:
    data = os.urandom(size)
    sealed = seal(data, [ident.recipient()])
    assert is_age_file(sealed[:64])
    assert open_all(sealed, [ident]) == data
    assert read_in_pieces(sealed, ident, 1000) == data
    # Ciphertext size is exactly header + nonce + per-chunk tags: nothing else leaks.
    chunks = max(1, -(-size // CHUNK))
    header_len = sealed.index(b"\n---") + len("\n--- ") + 43 + 1
    assert len(sealed) == header_len + 16 + size + 16 * chunks


def test_odd_writes_and_buffer_types(ident: X25519Identity) -> None:
    data = os.urandom(5 * CHUNK + 123)
    out = io.BytesIO()
    rng = random.Random(1)
    with encrypt(out, [ident.recipient()]) as writer:
        pos = 0
        while pos < len(data):
            step = rng.choice([1, 7, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
            piece = data[pos : pos + step]
            kind = rng.choice([bytes, bytearray, memoryview])
            assert writer.write(kind(piece)) == len(piece)
            pos += step
    assert open_all(out.getvalue(), [ident]) == data


def test_readinto(ident: X25519Identity) -> None:
    data = os.urandom(2 * CHUNK + 5)
    sealed = seal(data, [ident.recipient()])
    buf = bytearray(CHUNK + 3)
    got = bytearray()
    with decrypt(io.BytesIO(sealed), [ident]) as reader:
        while n := reader.readinto(buf):
            got += buf[:n]
    assert bytes(got) == data


def test_several_recipients_each_can_open() -> None:
    editors = [X25519Identity.generate() for _ in range(3)]
    data = os.urandom(CHUNK + 1)
    sealed = seal(data, [e.recipient() for e in editors])
    assert sealed.count(b"\n-> X25519 ") == 3
    for editor in editors:
        assert open_all(sealed, [editor]) == data
    with pytest.raises(NoIdentityMatchError):
        open_all(sealed, [X25519Identity.generate()])


def test_scrypt_round_trip_and_wrong_passphrase() -> None:
    sealed = seal(b"identity file", [ScryptRecipient(b"correct horse", work_factor=10)])
    assert b"\n-> scrypt " in sealed and sealed.count(b"\n->") == 1
    assert open_all(sealed, [ScryptIdentity(b"correct horse")]) == b"identity file"
    with pytest.raises(NoIdentityMatchError):
        open_all(sealed, [ScryptIdentity(b"wrong horse")])
    # The cap bounds the work a hostile file can demand.
    with pytest.raises(HeaderError):
        open_all(sealed, [ScryptIdentity(b"correct horse", max_work_factor=9)])


def test_scrypt_must_be_alone(ident: X25519Identity) -> None:
    with pytest.raises(ValueError, match="only recipient"):
        encrypt(io.BytesIO(), [ScryptRecipient(b"pw", work_factor=10), ident.recipient()])
    with pytest.raises(ValueError):
        encrypt(io.BytesIO(), [])
    with pytest.raises(ValueError):
        decrypt(io.BytesIO(seal(b"x", [ident.recipient()])), [])


def test_armored_input_is_detected(ident: X25519Identity) -> None:
    import base64

    data = os.urandom(1000)
    sealed = seal(data, [ident.recipient()])
    b64 = base64.b64encode(sealed).decode()
    armored = "-----BEGIN AGE ENCRYPTED FILE-----\n"
    armored += "\n".join(textwrap.wrap(b64, 64)) + "\n-----END AGE ENCRYPTED FILE-----\n"
    assert is_age_file(armored.encode()[:64])
    assert open_all(armored.encode(), [ident]) == data
    broken = armored.replace("\n", "\n ", 2).encode()  # a space at a line start
    with pytest.raises(ArmorError):
        open_all(broken, [ident])


def test_is_age_file() -> None:
    assert is_age_file(b"age-encryption.org/v1\n-> X25519 abc")
    assert is_age_file(b"\n -----BEGIN AGE ENCRYPTED FILE-----\n")
    assert not is_age_file(b"age-encryption.org/v2\n")
    assert not is_age_file(b"%PDF-1.7")
    assert not is_age_file(b"")


# ---------------------------------------------------------------- keys


def test_key_encoding_round_trip(ident: X25519Identity) -> None:
    text = str(ident)
    assert text.startswith("AGE-SECRET-KEY-1") and text.isupper() and len(text) == 74
    assert str(X25519Identity.parse(text)) == text
    rec = str(ident.recipient())
    assert rec.startswith("age1") and rec.islower() and len(rec) == 62
    assert X25519Recipient.parse(rec) == ident.recipient()
    assert X25519Recipient.parse(rec).public_key == ident.recipient().public_key
    assert len(ident.recipient().public_key) == 32
    # The secret never appears in a repr (logs, tracebacks).
    assert text not in repr(ident) and text[16:40] not in repr(ident)


def mixed_case(text: str) -> str:
    """Uppercase one letter of the data part (digits have no case)."""
    pos = next(i for i in range(4, len(text)) if text[i].isalpha())
    return text[:pos] + text[pos].upper() + text[pos + 1 :]


def test_key_parse_rejects(ident: X25519Identity) -> None:
    rec = str(ident.recipient())
    sec = str(ident)
    bad = [
        rec.upper(),  # recipients are lowercase
        sec.lower(),  # identities are uppercase
        mixed_case(rec),
        rec[:-1] + ("q" if rec[-1] != "q" else "p"),  # checksum
        rec[:-2],
        "age1",
        "",
        _bech32.encode("age", bytes(31)),  # wrong length
        _bech32.encode("agx", ident.recipient().public_key),  # wrong prefix
    ]
    for text in bad:
        with pytest.raises(KeyFormatError):
            X25519Recipient.parse(text)
    with pytest.raises(KeyFormatError):
        X25519Identity.parse(rec)
    with pytest.raises(KeyFormatError):
        X25519Recipient.parse(sec)


def test_low_order_recipient_is_refused() -> None:
    # 0 and 1 are low-order points: sealing to them would expose the file key.
    for point in (bytes(32), b"\x01" + bytes(31)):
        with pytest.raises(KeyFormatError):
            X25519Recipient(point)
        with pytest.raises(KeyFormatError):
            X25519Recipient.parse(_bech32.encode("age", point))


def test_recipients_file(ident: X25519Identity) -> None:
    other = X25519Identity.generate().recipient()
    text = f"# editor one\n{ident.recipient()}\r\n\n# editor two\n{other}\n"
    assert parse_recipients_file(text) == [ident.recipient(), other]
    with pytest.raises(KeyFormatError, match="no recipients"):
        parse_recipients_file("# only a comment\n\n")
    with pytest.raises(KeyFormatError, match="line 2") as info:
        parse_recipients_file(f"{other}\n{ident}\n")
    assert "SECRET" in str(info.value)
    assert str(ident) not in str(info.value)  # never echo a secret key
    with pytest.raises(KeyFormatError, match="line 1"):
        parse_recipients_file(f" {other}\n")  # age does not trim lines


def test_identities_file(ident: X25519Identity) -> None:
    other = X25519Identity.generate()
    text = f"# created: today\n# public key: {ident.recipient()}\n{ident}\n\n{other}\n"
    parsed = parse_identities_file(text)
    assert [str(i) for i in parsed] == [str(ident), str(other)]
    # A fixed replacement would equal the random key's own last character one run in 32.
    last = str(other)[-1]
    garbled = str(other)[:-1] + ("Q" if last != "Q" else "P")
    with pytest.raises(KeyFormatError, match="line 2") as info:
        parse_identities_file(f"{ident}\n{garbled}\n")
    assert garbled not in str(info.value) and str(ident) not in str(info.value)
    with pytest.raises(KeyFormatError, match="no identities"):
        parse_identities_file("")


# ---------------------------------------------------------------- attacks: typed errors


@pytest.fixture(scope="module")
def two_chunks(ident: X25519Identity) -> tuple[bytes, bytes]:
    data = os.urandom(CHUNK + 100)
    return data, seal(data, [ident.recipient()])


def header_end(sealed: bytes | bytearray) -> int:
    return sealed.index(b"\n", sealed.index(b"\n--- ") + 1) + 1


def test_wrong_key(two_chunks: tuple[bytes, bytes]) -> None:
    with pytest.raises(NoIdentityMatchError):
        open_all(two_chunks[1], [X25519Identity.generate()])


def test_altered_header_byte(ident: X25519Identity, two_chunks: tuple[bytes, bytes]) -> None:
    sealed = two_chunks[1]
    with pytest.raises(HeaderError):
        open_all(sealed.replace(b"age-encryption.org/v1", b"age-encryption.org/v2", 1), [ident])
    # Another recipient's stanza altered: ours still unwraps, the MAC catches the change.
    other = X25519Identity.generate()
    multi = bytearray(seal(b"secret", [ident.recipient(), other.recipient()]))
    second = multi.index(b"\n-> X25519 ", multi.index(b"\n-> X25519 ") + 1)
    body_pos = multi.index(b"\n", second + 1) + 1
    multi[body_pos] = ord("A") if multi[body_pos] != ord("A") else ord("B")
    with pytest.raises(MacError):
        open_all(bytes(multi), [ident])


def test_bad_mac(ident: X25519Identity, two_chunks: tuple[bytes, bytes]) -> None:
    sealed = bytearray(two_chunks[1])
    pos = sealed.index(b"\n--- ") + 5
    sealed[pos] = ord("A") if sealed[pos] != ord("A") else ord("B")
    with pytest.raises(MacError):
        open_all(bytes(sealed), [ident])


@pytest.mark.parametrize("cut", [1, 16, 17, 100, 101, CHUNK + 16, CHUNK + 17])
def test_truncated_payload(
    ident: X25519Identity, two_chunks: tuple[bytes, bytes], cut: int
) -> None:
    sealed = two_chunks[1][:-cut]
    with pytest.raises(PayloadError):
        open_all(sealed, [ident])
    with pytest.raises(PayloadError):
        read_in_pieces(sealed, ident, 4096)


def test_truncated_at_a_chunk_boundary_is_detected(ident: X25519Identity) -> None:
    # Two full chunks; cutting the second leaves a valid *non-final* first chunk.
    data = os.urandom(2 * CHUNK)
    sealed = seal(data, [ident.recipient()])
    cut = sealed[: header_end(sealed) + 16 + CHUNK + 16]
    with pytest.raises(PayloadError, match="no final chunk"):
        open_all(cut, [ident])
    # With read(n) the authentic first chunk is released, and the next read raises.
    with decrypt(io.BytesIO(cut), [ident]) as reader:
        assert reader.read(CHUNK) == data[:CHUNK]
        with pytest.raises(PayloadError):
            reader.read(CHUNK)
        with pytest.raises(PayloadError):  # sticky
            reader.read(1)


def test_every_truncation_raises(ident: X25519Identity) -> None:
    """A truncated file never reads to EOF without raising, wherever it is cut."""
    data = os.urandom(CHUNK + 50)
    sealed = seal(data, [ident.recipient()])
    payload_start = header_end(sealed) + 16
    cuts = set(range(0, payload_start + 40)) | set(range(len(sealed) - 60, len(sealed)))
    cuts |= set(range(payload_start + CHUNK, payload_start + CHUNK + 40))
    for cut in sorted(cuts):
        with pytest.raises(AgeError):
            read_in_pieces(sealed[:cut], ident, 777)


def test_flipped_payload_byte(ident: X25519Identity, two_chunks: tuple[bytes, bytes]) -> None:
    data, sealed = two_chunks
    start = header_end(sealed) + 16
    for pos in (start, start + 5000, start + CHUNK + 15, start + CHUNK + 16 + 3, len(sealed) - 1):
        altered = bytearray(sealed)
        altered[pos] ^= 0x01
        with pytest.raises(PayloadError):
            open_all(bytes(altered), [ident])
    # Flip in the second chunk: the first (authentic) chunk may be released, never more.
    altered = bytearray(sealed)
    altered[-5] ^= 0x80
    got = bytearray()
    with pytest.raises(PayloadError), decrypt(io.BytesIO(bytes(altered)), [ident]) as reader:
        while piece := reader.read(CHUNK):
            got += piece
    assert bytes(got) == data[:CHUNK]


def test_payload_nonce_altered(ident: X25519Identity, two_chunks: tuple[bytes, bytes]) -> None:
    altered = bytearray(two_chunks[1])
    altered[header_end(altered)] ^= 0x01
    with pytest.raises(PayloadError):
        open_all(bytes(altered), [ident])


@pytest.mark.parametrize(
    "extra",
    [b"\x00", os.urandom(17), os.urandom(CHUNK + 16)],
    # Random bytes in ids would differ between xdist workers, which then refuse to run.
    ids=["one-byte", "tag-sized", "a-whole-chunk"],
)
def test_data_appended_after_final_chunk(
    ident: X25519Identity, two_chunks: tuple[bytes, bytes], extra: bytes
) -> None:
    with pytest.raises(PayloadError):
        open_all(two_chunks[1] + extra, [ident])
    with pytest.raises(PayloadError):
        read_in_pieces(two_chunks[1] + extra, ident, 4096)


def test_empty_payload_edge_cases(ident: X25519Identity) -> None:
    sealed = seal(b"", [ident.recipient()])
    assert open_all(sealed, [ident]) == b""
    with pytest.raises(PayloadError):
        open_all(sealed[:-16], [ident])  # no chunk at all
    with pytest.raises(HeaderError):
        open_all(sealed[: header_end(sealed) + 10], [ident])  # nonce cut short


def test_interrupted_seal_never_opens_as_complete(ident: X25519Identity) -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), encrypt(out, [ident.recipient()]) as writer:
        writer.write(os.urandom(3 * CHUNK))
        raise RuntimeError("source disconnected")
    assert writer.closed
    with pytest.raises(PayloadError):
        open_all(out.getvalue(), [ident])
    with pytest.raises(ValueError):
        writer.write(b"more")


def test_unclosed_writer_leaves_no_final_chunk(ident: X25519Identity) -> None:
    out = io.BytesIO()
    writer: SealWriter = encrypt(out, [ident.recipient()])
    writer.write(b"x" * 10)
    del writer  # never closed: the file must not look complete
    with pytest.raises(PayloadError):
        open_all(out.getvalue(), [ident])


def test_random_corruption_raises_only_typed_errors(ident: X25519Identity) -> None:
    """Third-party exceptions (PyNaCl, binascii) never escape: only the AgeError tree."""
    rng = random.Random(7)
    base = seal(os.urandom(300), [ident.recipient(), X25519Identity.generate().recipient()])
    for _ in range(400):
        altered = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(altered))
            altered[pos] = rng.randrange(256)
        if bytes(altered) == base:
            continue
        with pytest.raises(AgeError):
            open_all(bytes(altered), [ident])


def test_works_with_only_pynacl(tmp_path: Path) -> None:
    """The air-gapped laptop has PyNaCl and pyca/cryptography and nothing else: import and
    round-trip (classical and post-quantum) with a path holding only nacl, cryptography, the
    cffi backend and the leakdrop package, no site-packages."""
    import nacl

    site = Path(nacl.__file__).resolve().parents[1]
    only = tmp_path / "site"
    only.mkdir()
    (only / "nacl").symlink_to(site / "nacl")
    (only / "cryptography").symlink_to(site / "cryptography")
    for backend in site.glob("_cffi_backend*"):
        (only / backend.name).symlink_to(backend)
    code = textwrap.dedent(
        """
        import io, sys
        import leakdrop.sealing as s
        for i in (s.X25519Identity.generate(), s.HybridIdentity.generate()):
            out = io.BytesIO()
            with s.encrypt(out, [i.recipient()]) as w:
                w.write(b"x" * 100000)
            assert s.decrypt(io.BytesIO(out.getvalue()), [i]).read() == b"x" * 100000
        third = {m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names)
        print(sorted(third))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={"PYTHONPATH": f"{only}:{REPO}", "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    # nacl's compiled module registers itself as "_sodium"; "__main__" is the -c script.
    # cryptography's compiled module registers itself as "_openssl".
    allowed = {
        "__main__",
        "leakdrop",
        "nacl",
        "_sodium",
        "_cffi_backend",
        "cryptography",
        "_openssl",
    }
    assert set(eval(proc.stdout)) <= allowed


def test_scrypt_libsodium_path_matches_hashlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Work factors 21-22 exceed hashlib's maxmem (a C int) and go through libsodium's
    scrypt: both must derive the same key (checked at a small N)."""
    from leakdrop.sealing import _scrypt

    salt = bytes(range(16))
    via_hashlib = _scrypt._scrypt(b"pass", salt, 10)
    monkeypatch.setattr(_scrypt, "_HASHLIB_MAXMEM_LIMIT", 0)
    assert _scrypt._scrypt(b"pass", salt, 10) == via_hashlib
    sealed = seal(b"key file", [ScryptRecipient(b"pass", work_factor=10)])
    monkeypatch.undo()
    assert open_all(sealed, [ScryptIdentity(b"pass")]) == b"key file"
