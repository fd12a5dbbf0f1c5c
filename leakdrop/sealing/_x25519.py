"""X25519 recipients (``age1...``) and identities (``AGE-SECRET-KEY-...``) on PyNaCl."""

from __future__ import annotations

import os
from collections.abc import Sequence

import nacl.bindings
import nacl.exceptions

from . import _bech32
from ._header import FILE_KEY_SIZE, Stanza, b64decode_unpadded, b64encode_unpadded
from ._hkdf import hkdf_sha256
from .errors import HeaderError, KeyFormatError

_KEY_SIZE = 32
_RECIPIENT_HRP = "age"
_IDENTITY_HRP = "AGE-SECRET-KEY-"
_LABEL = b"age-encryption.org/v1/X25519"
_STANZA_TYPE = "X25519"
_ZERO_NONCE = bytes(12)
_TAG_SIZE = 16


def _scalarmult(secret: bytes, point: bytes) -> bytes:
    """X25519 that refuses the all-zero shared secret (low-order or identity points).

    An all-zero secret means the peer chose a point that makes the "shared" key public;
    libsodium reports it as a failure, which PyNaCl raises as its RuntimeError.
    """
    try:
        shared = nacl.bindings.crypto_scalarmult(secret, point)
    except nacl.exceptions.RuntimeError as exc:
        raise HeaderError("X25519 share is a low-order point") from exc
    if shared == bytes(_KEY_SIZE):
        raise HeaderError("X25519 share is a low-order point")
    return bytes(shared)


def _wrap_key(shared: bytes, share: bytes, recipient_pk: bytes) -> bytes:
    return hkdf_sha256(shared, share + recipient_pk, _LABEL)


class X25519Recipient:
    """A public key: files sealed to it open only with the matching identity."""

    __slots__ = ("_public_key",)

    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != _KEY_SIZE:
            raise KeyFormatError("X25519 public key must be 32 bytes")
        # A low-order public key would make every file key sealed to it recoverable by
        # anyone: refuse it when loading, not only when sealing.
        try:
            _scalarmult(os.urandom(_KEY_SIZE), public_key)
        except HeaderError as exc:
            raise KeyFormatError("X25519 recipient is a low-order point") from exc
        self._public_key = bytes(public_key)

    @classmethod
    def parse(cls, text: str) -> X25519Recipient:
        """Parse ``age1...`` (lowercase, as age writes it)."""
        hrp, data = _bech32.decode(text)
        if hrp != _RECIPIENT_HRP:
            raise KeyFormatError("not an age X25519 recipient (expected age1...)")
        if len(data) != _KEY_SIZE:
            raise KeyFormatError("age X25519 recipient has the wrong length")
        return cls(data)

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def wrap(self, file_key: bytes) -> list[Stanza]:
        ephemeral = os.urandom(_KEY_SIZE)
        share = bytes(nacl.bindings.crypto_scalarmult_base(ephemeral))
        try:
            shared = _scalarmult(ephemeral, self._public_key)
        except HeaderError as exc:  # unreachable: the constructor checked the point
            raise KeyFormatError("X25519 recipient is a low-order point") from exc
        key = _wrap_key(shared, share, self._public_key)
        body = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(
            file_key, None, _ZERO_NONCE, key
        )
        return [Stanza(_STANZA_TYPE, (b64encode_unpadded(share).decode("ascii"),), bytes(body))]

    def __str__(self) -> str:
        return _bech32.encode(_RECIPIENT_HRP, self._public_key)

    def __repr__(self) -> str:
        return f"X25519Recipient({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other._public_key == self._public_key

    def __hash__(self) -> int:
        return hash(self._public_key)


class X25519Identity:
    """A secret key. Its repr never shows the secret."""

    __slots__ = ("_public_key", "_secret_key")

    def __init__(self, secret_key: bytes) -> None:
        if len(secret_key) != _KEY_SIZE:
            raise KeyFormatError("X25519 secret key must be 32 bytes")
        self._secret_key = bytes(secret_key)
        self._public_key = bytes(nacl.bindings.crypto_scalarmult_base(self._secret_key))

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(os.urandom(_KEY_SIZE))

    @classmethod
    def parse(cls, text: str) -> X25519Identity:
        """Parse ``AGE-SECRET-KEY-...`` (uppercase, as age writes it)."""
        hrp, data = _bech32.decode(text)
        if hrp != _IDENTITY_HRP:
            raise KeyFormatError("not an age X25519 identity (expected AGE-SECRET-KEY-...)")
        if len(data) != _KEY_SIZE:
            raise KeyFormatError("age X25519 identity has the wrong length")
        return cls(data)

    def recipient(self) -> X25519Recipient:
        return X25519Recipient(self._public_key)

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != _STANZA_TYPE:
                continue  # other recipient types (and grease) are not ours
            if len(stanza.args) != 1:
                raise HeaderError("X25519 stanza must have exactly one argument")
            untrusted_share = b64decode_unpadded(stanza.args[0])
            if len(untrusted_share) != _KEY_SIZE:
                raise HeaderError("X25519 share must be 32 bytes")
            # Checked before decrypting: a longer body would smuggle a longer "file key".
            if len(stanza.body) != FILE_KEY_SIZE + _TAG_SIZE:
                raise HeaderError("X25519 stanza body must be 32 bytes")
            shared = _scalarmult(self._secret_key, untrusted_share)
            key = _wrap_key(shared, untrusted_share, self._public_key)
            try:
                file_key = nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt(
                    stanza.body, None, _ZERO_NONCE, key
                )
            except nacl.exceptions.CryptoError:
                continue  # sealed to someone else
            return bytes(file_key)
        return None

    def __str__(self) -> str:
        return _bech32.encode(_IDENTITY_HRP, self._secret_key)

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={self.recipient()})"
