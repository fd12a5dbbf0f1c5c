"""HKDF-SHA256 (RFC 5869) on the standard library: age derives every key with it."""

from __future__ import annotations

import hashlib
import hmac

_HASH_LEN = 32


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """Extract-then-expand; an empty salt means HashLen zero bytes (RFC 5869 §2.2)."""
    if not 0 < length <= 255 * _HASH_LEN:
        raise ValueError("HKDF output length out of range")
    prk = hmac.new(salt or bytes(_HASH_LEN), ikm, hashlib.sha256).digest()
    okm = bytearray()
    block = b""
    counter = 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return bytes(okm[:length])
