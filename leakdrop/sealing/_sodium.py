"""libsodium's AEADs through PyNaCl, writing into the caller's buffers.

PyNaCl's public functions take and return `bytes` only: two extra copies of every byte
(and, above 128 KiB, fresh pages for each result). The same libsodium calls made through
PyNaCl's own cffi binding (`nacl._sodium`, private: the public functions are the fallback,
same bytes out) read the caller's buffer and write into ours. Used by the age STREAM
(`_stream`, ChaCha20-Poly1305) and by the server's upload spool (the fastest AEAD here).
"""

from __future__ import annotations

from typing import Any

import nacl.bindings  # imported first: it initialises libsodium (CPU feature detection)
import nacl.exceptions

try:
    from nacl._sodium import ffi as _ffi
    from nacl._sodium import lib as _lib
except ImportError:  # pragma: no cover - the public functions below do the same work
    _ffi = _lib = None

KEY_BYTES = 32


class AeadError(ValueError):
    """A tag did not verify (the caller translates it into its own error), or libsodium
    refused to encrypt."""


class Aead:
    """One of libsodium's AEADs (``crypto_aead_<name>_*``), in place."""

    def __init__(self, name: str, nonce_bytes: int, tag_bytes: int) -> None:
        self.name = name
        self.nonce_bytes = nonce_bytes
        self.tag = tag_bytes
        self._encrypt = getattr(nacl.bindings, f"crypto_aead_{name}_encrypt")
        self._decrypt = getattr(nacl.bindings, f"crypto_aead_{name}_decrypt")
        self._raw: tuple[Any, Any] | None = None
        if _lib is not None:
            self._raw = (
                getattr(_lib, f"crypto_aead_{name}_encrypt"),
                getattr(_lib, f"crypto_aead_{name}_decrypt"),
            )

    def _check(self, sealed: memoryview, plain: memoryview, nonce: bytes, key: bytes) -> None:
        # The raw calls have no bounds checks of their own: these are the memory safety.
        if len(sealed) != len(plain) + self.tag or len(nonce) != self.nonce_bytes:
            raise ValueError("AEAD buffer sizes")
        if len(key) != KEY_BYTES:
            raise ValueError("AEAD key size")

    def seal_into(self, out: memoryview, plaintext: memoryview, nonce: bytes, key: bytes) -> None:
        """Write the ciphertext and tag of `plaintext` into `out` (exactly that long)."""
        self._check(out, plaintext, nonce, key)
        if self._raw is None:
            out[:] = self._encrypt(plaintext.tobytes(), None, nonce, key)
            return
        rc = self._raw[0](
            _ffi.from_buffer("unsigned char[]", out, require_writable=True),
            _ffi.NULL,
            _ffi.from_buffer("unsigned char[]", plaintext),
            len(plaintext),
            _ffi.NULL,
            0,
            _ffi.NULL,
            nonce,
            key,
        )
        if rc != 0:
            raise AeadError("encryption failed")

    def open_into(
        self, out: memoryview, untrusted_sealed: memoryview, nonce: bytes, key: bytes
    ) -> None:
        """Authenticate `untrusted_sealed` and write its plaintext into `out` (exactly that
        long), or raise `AeadError` (then `out` holds nothing of use)."""
        self._check(untrusted_sealed, out, nonce, key)
        if self._raw is None:
            try:
                out[:] = self._decrypt(untrusted_sealed.tobytes(), None, nonce, key)
            except nacl.exceptions.CryptoError as exc:
                raise AeadError("tag did not verify") from exc
            return
        rc = self._raw[1](
            _ffi.from_buffer("unsigned char[]", out, require_writable=True),
            _ffi.NULL,
            _ffi.NULL,
            _ffi.from_buffer("unsigned char[]", untrusted_sealed),
            len(untrusted_sealed),
            _ffi.NULL,
            0,
            nonce,
            key,
        )
        if rc != 0:
            # libsodium wipes `out` when the tag does not verify; nothing of it is used.
            raise AeadError("tag did not verify")


#: age's payload cipher (STREAM chunks).
CHACHA20POLY1305 = Aead("chacha20poly1305_ietf", 12, 16)
