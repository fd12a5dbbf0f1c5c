"""The scrypt passphrase stanza: ``-> scrypt <salt> <log2 N>``."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence

import nacl.bindings
import nacl.exceptions

from ._header import FILE_KEY_SIZE, Stanza, b64decode_unpadded, b64encode_unpadded
from .errors import HeaderError

STANZA_TYPE = "scrypt"
_LABEL = b"age-encryption.org/v1/scrypt"
_SALT_SIZE = 16
_R = 8
_P = 1
_ZERO_NONCE = bytes(12)
_TAG_SIZE = 16
_MAX_LOG_N = 30
_DECIMAL = re.compile(r"[1-9][0-9]?")  # at most 2 digits: the cap is <= 30
# hashlib.scrypt's maxmem is a C int; above this we use libsodium's scrypt instead.
_HASHLIB_MAXMEM_LIMIT = 2**31 - 1


def _scrypt(passphrase: bytes, salt: bytes, log_n: int) -> bytes:
    n = 1 << log_n
    # scrypt needs 128*r*N bytes plus small buffers; the stdlib default cap (32 MiB) is
    # below age's default work factor, so the cap is raised to what this N needs.
    maxmem = 128 * _R * (n + 2) + 128 * _R * _P + (1 << 20)
    full_salt = _LABEL + salt
    if maxmem <= _HASHLIB_MAXMEM_LIMIT:
        try:
            return hashlib.scrypt(
                passphrase, salt=full_salt, n=n, r=_R, p=_P, maxmem=maxmem, dklen=32
            )
        except (ValueError, MemoryError) as exc:
            raise HeaderError("cannot compute scrypt at this work factor") from exc
    try:
        return bytes(
            nacl.bindings.crypto_pwhash_scryptsalsa208sha256_ll(
                passphrase, full_salt, n, _R, _P, dklen=32, maxmem=maxmem
            )
        )
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError, MemoryError) as exc:
        raise HeaderError("cannot compute scrypt at this work factor") from exc


class ScryptRecipient:
    """Seal to a passphrase. age requires it to be the file's only recipient."""

    __slots__ = ("_passphrase", "_work_factor")

    def __init__(self, passphrase: bytes, work_factor: int = 18) -> None:
        if not passphrase:
            raise ValueError("empty passphrase")
        if not 1 <= work_factor <= _MAX_LOG_N:
            raise ValueError("scrypt work factor must be between 1 and 30")
        self._passphrase = bytes(passphrase)
        self._work_factor = work_factor

    def wrap(self, file_key: bytes) -> list[Stanza]:
        salt = os.urandom(_SALT_SIZE)
        key = _scrypt(self._passphrase, salt, self._work_factor)
        body = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(
            file_key, None, _ZERO_NONCE, key
        )
        args = (b64encode_unpadded(salt).decode("ascii"), str(self._work_factor))
        return [Stanza(STANZA_TYPE, args, bytes(body))]

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self._work_factor})"


class ScryptIdentity:
    """Open with a passphrase; refuses work factors above `max_work_factor` (time/memory DoS)."""

    __slots__ = ("_max_work_factor", "_passphrase")

    def __init__(self, passphrase: bytes, max_work_factor: int = 22) -> None:
        if not 1 <= max_work_factor <= _MAX_LOG_N:
            raise ValueError("max scrypt work factor must be between 1 and 30")
        self._passphrase = bytes(passphrase)
        self._max_work_factor = max_work_factor

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            # A passphrase stanza alongside others would let an attacker who knows the
            # passphrase re-target a file; age forbids it (checked for the whole header too).
            if len(stanzas) != 1:
                raise HeaderError("an scrypt stanza must be the only stanza")
            if len(stanza.args) != 2:
                raise HeaderError("scrypt stanza must have exactly two arguments")
            untrusted_salt = b64decode_unpadded(stanza.args[0])
            if len(untrusted_salt) != _SALT_SIZE:
                raise HeaderError("scrypt salt must be 16 bytes")
            # Decimal without sign, leading zero or spaces: exactly one spelling per value.
            untrusted_log_n = stanza.args[1]
            if _DECIMAL.fullmatch(untrusted_log_n) is None:
                raise HeaderError("invalid scrypt work factor")
            log_n = int(untrusted_log_n)
            # The cap bounds the CPU time and memory a file can make us spend.
            if log_n > self._max_work_factor:
                raise HeaderError("scrypt work factor too large")
            if len(stanza.body) != FILE_KEY_SIZE + _TAG_SIZE:
                raise HeaderError("scrypt stanza body must be 32 bytes")
            key = _scrypt(self._passphrase, untrusted_salt, log_n)
            try:
                file_key = nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt(
                    stanza.body, None, _ZERO_NONCE, key
                )
            except nacl.exceptions.CryptoError:
                return None  # wrong passphrase
            return bytes(file_key)
        return None

    def __repr__(self) -> str:
        return f"ScryptIdentity(max_work_factor={self._max_work_factor})"
