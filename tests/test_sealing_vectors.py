"""Every C2SP CCTV age vector gives exactly its expected outcome.

The vectors are copied unchanged under tests/data/age-testdata (their licence invites it);
when the shared folder is present the copy is checked against it. The 19 post-quantum
(`hybrid*`, ML-KEM-768 + X25519) vectors run like the rest.
"""

from __future__ import annotations

import filecmp
import hashlib
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from leakdrop.sealing import (
    AgeError,
    ArmorError,
    HeaderError,
    Identity,
    MacError,
    NoIdentityMatchError,
    PayloadError,
    ScryptIdentity,
    X25519Identity,
    decrypt,
    parse_identity,
)

VECTORS = Path(__file__).resolve().parent / "data" / "age-testdata"

#: The post-quantum (ML-KEM-768 + X25519) vectors, by name: run like all the others.
HYBRID = frozenset(
    {
        "armor_hybrid",
        "hybrid",
        "hybrid_and_x25519",
        "hybrid_bad_tag",
        "hybrid_currupted_enc_mlkem",
        "hybrid_currupted_enc_x25519",
        "hybrid_extra_argument",
        "hybrid_grease",
        "hybrid_identity",
        "hybrid_long_file_key",
        "hybrid_long_share",
        "hybrid_low_order",
        "hybrid_multiple_recipients",
        "hybrid_no_match",
        "hybrid_not_canonical_body",
        "hybrid_not_canonical_enc",
        "hybrid_short_share",
        "hybrid_uppercase",
        "hybrid_x25519_arg",
    }
)

EXPECTED_ERROR: dict[str, type[AgeError]] = {
    "no match": NoIdentityMatchError,
    "HMAC failure": MacError,
    "header failure": HeaderError,
    "payload failure": PayloadError,
    "armor failure": ArmorError,
}


@dataclass
class Vector:
    name: str
    expect: str
    payload: str | None
    identities: list[str]
    passphrases: list[str]
    armored: bool
    data: bytes


def load(path: Path) -> Vector:
    raw = path.read_bytes()
    head, sep, body = raw.partition(b"\n\n")
    assert sep, f"{path.name}: no blank line after the vector header"
    fields: dict[str, list[str]] = {}
    for line in head.decode("utf-8").splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return Vector(
        name=path.name,
        expect=fields["expect"][0],
        payload=fields.get("payload", [None])[0],
        identities=fields.get("identity", []),
        passphrases=fields.get("passphrase", []),
        armored=fields.get("armored") == ["yes"],
        data=body,
    )


ALL = sorted(p.name for p in VECTORS.iterdir() if p.name != "README.md")


def open_and_hash(
    vector: Vector, identities: list[Identity], armored: bool | None = None
) -> tuple[str, AgeError | None]:
    """Decrypt, hashing every byte the API released, and return (hash, error or None)."""
    digest = hashlib.sha256()
    try:
        with decrypt(io.BytesIO(vector.data), identities, armored=armored) as reader:
            while chunk := reader.read(64 * 1024):
                digest.update(chunk)
    except AgeError as exc:
        return digest.hexdigest(), exc
    return digest.hexdigest(), None


def test_vector_set_is_complete() -> None:
    assert len(ALL) == 143
    assert set(ALL) >= HYBRID


def test_copy_matches_shared_vectors(shared_dir: Path | None) -> None:
    if shared_dir is None:
        return  # outside CI the in-repo copy is authoritative (the fixture fails under CI)
    shared = shared_dir / "age-testdata"
    names = sorted(p.name for p in shared.iterdir())
    assert names == sorted(p.name for p in VECTORS.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(shared, VECTORS, names, shallow=False)
    assert mismatch == [] and errors == []


@pytest.mark.parametrize("armored", ["detected", "declared"])
@pytest.mark.parametrize("name", ALL)
def test_vector(name: str, armored: str) -> None:
    """`detected`: decrypt() finds armor by itself; `declared`: told, as the CCTV harness is."""
    vector = load(VECTORS / name)
    identities: list[Identity] = [parse_identity(i) for i in vector.identities]
    identities += [ScryptIdentity(p.encode()) for p in vector.passphrases]
    if not identities:  # e.g. armor_empty: the API needs one; an unrelated key changes nothing
        identities = [X25519Identity.generate()]
    digest, error = open_and_hash(
        vector, identities, None if armored == "detected" else vector.armored
    )
    if vector.expect == "success":
        assert error is None, f"{name}: expected success, got {error!r}"
        assert digest == vector.payload
        return
    expected = EXPECTED_ERROR[vector.expect]
    assert type(error) is expected, f"{name}: expected {expected.__name__}, got {error!r}"
    if vector.payload is not None:
        # Everything released before the failure must be exactly the authentic prefix.
        assert digest == vector.payload


def test_only_hybrid_vectors_use_post_quantum_identities() -> None:
    uses_pq = {
        n
        for n in ALL
        if any(i.startswith("AGE-SECRET-KEY-PQ-") for i in load(VECTORS / n).identities)
    }
    assert uses_pq == HYBRID
