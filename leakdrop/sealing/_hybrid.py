"""Hybrid post-quantum recipients (``age1pq1...``) and identities (``AGE-SECRET-KEY-PQ-1...``).

The C2SP age specification's ``mlkem768x25519`` type (age 1.3): the file key is sealed with
HPKE (RFC 9180) SealBase, KEM MLKEM768-X25519 (draft-ietf-hpke-pq, the X-Wing combiner),
HKDF-SHA256, ChaCha20-Poly1305, ``info = "age-encryption.org/mlkem768x25519"``, empty aad.
The stanza is ``-> mlkem768x25519 <base64 enc, 1120 bytes>`` with the 32-byte HPKE
ciphertext as its body.

The identity is a 32-byte seed, expanded as the KEM specifies: SHAKE256(seed, 96 bytes),
the first 64 the ML-KEM-768 seed (d || z, FIPS 203), the last 32 the X25519 secret. The
recipient is the ML-KEM-768 encapsulation key (1184 bytes) followed by the X25519 public
key (32 bytes). ML-KEM, X25519 and HPKE come from pyca/cryptography (OpenSSL): nothing of
the post-quantum part is written here.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Final

import nacl.bindings
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from . import _bech32
from ._header import FILE_KEY_SIZE, Stanza, b64decode_unpadded, b64encode_unpadded
from ._x25519 import _scalarmult
from .errors import HeaderError, KeyFormatError

STANZA_TYPE: Final = "mlkem768x25519"
RECIPIENT_HRP: Final = "age1pq"
IDENTITY_HRP: Final = "AGE-SECRET-KEY-PQ-"
SEED_SIZE: Final = 32
_INFO: Final = b"age-encryption.org/mlkem768x25519"
_MLKEM_PUBLIC_SIZE: Final = 1184
_X25519_SIZE: Final = 32
_PUBLIC_SIZE: Final = _MLKEM_PUBLIC_SIZE + _X25519_SIZE
_ENC_SIZE: Final = 1088 + _X25519_SIZE  # ML-KEM-768 ciphertext, then the X25519 share
_TAG_SIZE: Final = 16
_SUITE: Final = hpke.Suite(
    hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305
)


def _is_low_order(point: bytes) -> bool:
    """Whether an X25519 point gives the all-zero shared secret with every scalar."""
    try:
        _scalarmult(os.urandom(_X25519_SIZE), point)
    except HeaderError:
        return True
    return False


class HybridRecipient:
    """A post-quantum public key: files sealed to it open only with the matching identity."""

    __slots__ = ("_key", "_public_bytes")

    def __init__(self, public_bytes: bytes) -> None:
        if len(public_bytes) != _PUBLIC_SIZE:
            raise KeyFormatError("ML-KEM-768 + X25519 public key must be 1216 bytes")
        mlkem_part, x25519_part = (
            public_bytes[:_MLKEM_PUBLIC_SIZE],
            public_bytes[_MLKEM_PUBLIC_SIZE:],
        )
        # As for X25519 recipients: a low-order point would make the classical half public.
        if _is_low_order(x25519_part):
            raise KeyFormatError("the X25519 part of the recipient is a low-order point")
        try:
            # FIPS 203's encapsulation-key check (coefficients reduced mod q) is done here.
            mlkem_key = mlkem.MLKEM768PublicKey.from_public_bytes(mlkem_part)
        except ValueError as exc:
            raise KeyFormatError("not a valid ML-KEM-768 public key") from exc
        self._key = hpke.MLKEM768X25519PublicKey(
            mlkem_key, x25519.X25519PublicKey.from_public_bytes(x25519_part)
        )
        self._public_bytes = bytes(public_bytes)

    @classmethod
    def parse(cls, text: str) -> HybridRecipient:
        """Parse ``age1pq1...`` (lowercase, as age writes it)."""
        hrp, data = _bech32.decode(text)
        if hrp != RECIPIENT_HRP:
            raise KeyFormatError("not an age post-quantum recipient (expected age1pq1...)")
        return cls(data)

    @property
    def public_bytes(self) -> bytes:
        return self._public_bytes

    def wrap(self, file_key: bytes) -> list[Stanza]:
        sealed = _SUITE.encrypt(file_key, self._key, info=_INFO)
        enc, body = sealed[:_ENC_SIZE], sealed[_ENC_SIZE:]
        return [Stanza(STANZA_TYPE, (b64encode_unpadded(enc).decode("ascii"),), body)]

    def __str__(self) -> str:
        return _bech32.encode(RECIPIENT_HRP, self._public_bytes)

    def __repr__(self) -> str:
        return f"HybridRecipient({str(self)[:24]}...)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HybridRecipient) and other._public_bytes == self._public_bytes

    def __hash__(self) -> int:
        return hash(self._public_bytes)


class HybridIdentity:
    """A post-quantum secret key (its 32-byte seed). Its repr never shows the secret."""

    __slots__ = ("_key", "_public_bytes", "_seed")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise KeyFormatError("post-quantum identity seed must be 32 bytes")
        self._seed = bytes(seed)
        expanded = hashlib.shake_256(self._seed).digest(64 + _X25519_SIZE)
        mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        x25519_key = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
        self._key = hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key)
        x25519_public = bytes(nacl.bindings.crypto_scalarmult_base(expanded[64:]))
        self._public_bytes = mlkem_key.public_key().public_bytes_raw() + x25519_public

    @classmethod
    def generate(cls) -> HybridIdentity:
        return cls(os.urandom(SEED_SIZE))

    @classmethod
    def parse(cls, text: str) -> HybridIdentity:
        """Parse ``AGE-SECRET-KEY-PQ-1...`` (uppercase, as age writes it)."""
        hrp, data = _bech32.decode(text)
        if hrp != IDENTITY_HRP:
            raise KeyFormatError("not an age post-quantum identity (AGE-SECRET-KEY-PQ-1...)")
        return cls(data)

    def recipient(self) -> HybridRecipient:
        return HybridRecipient(self._public_bytes)

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue  # other recipient types (and grease) are not ours
            if len(stanza.args) != 1:
                raise HeaderError("mlkem768x25519 stanza must have exactly one argument")
            untrusted_enc = b64decode_unpadded(stanza.args[0])
            if len(untrusted_enc) != _ENC_SIZE:
                raise HeaderError("mlkem768x25519 enc must be 1120 bytes")
            # Checked before decrypting: the spec's defence against partitioning oracles,
            # and a longer body would smuggle a longer "file key".
            if len(stanza.body) != FILE_KEY_SIZE + _TAG_SIZE:
                raise HeaderError("mlkem768x25519 stanza body must be 32 bytes")
            # An X25519 share of low order makes the classical half of the shared secret
            # all zeros: the KEM forbids it; a file that holds one is broken, not "not ours".
            if _is_low_order(untrusted_enc[-_X25519_SIZE:]):
                raise HeaderError("mlkem768x25519 share is a low-order X25519 point")
            try:
                file_key = _SUITE.decrypt(untrusted_enc + stanza.body, self._key, info=_INFO)
            except InvalidTag:
                continue  # sealed to someone else (ML-KEM decapsulation never fails openly)
            except ValueError as exc:
                raise HeaderError("mlkem768x25519 stanza cannot be opened") from exc
            return bytes(file_key)
        return None

    def __str__(self) -> str:
        return _bech32.encode(IDENTITY_HRP, self._seed)

    def __repr__(self) -> str:
        return f"HybridIdentity(recipient={str(self.recipient())[:24]}...)"
