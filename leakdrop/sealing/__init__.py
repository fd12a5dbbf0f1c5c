"""age v1 (age-encryption.org/v1) on PyNaCl: seal to editors' keys, open offline.

Standard library, PyNaCl, and pyca/cryptography for the post-quantum recipient type
(ML-KEM-768 + X25519 through HPKE): this package runs on the air-gapped laptop.

    with encrypt(dst, [X25519Recipient.parse("age1...")]) as w:
        w.write(data)                       # streamed, constant memory
    with decrypt(src, [identity]) as r:     # binary or ASCII-armored
        data = r.read()                     # raises PayloadError if truncated/altered
"""

from __future__ import annotations

from ._age import (
    AnyIdentity,
    AnyRecipient,
    PreparedSeal,
    decrypt,
    encrypt,
    header_length,
    is_age_file,
    parse_identities_file,
    parse_identity,
    parse_recipient,
    parse_recipients_file,
    prepare,
)
from ._header import Identity, Recipient, Stanza
from ._hybrid import HybridIdentity, HybridRecipient
from ._scrypt import ScryptIdentity, ScryptRecipient
from ._source import Readable
from ._stream import (
    CHUNK_SIZE,
    ENCRYPTED_CHUNK_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    OpenReader,
    SealWriter,
    Writable,
)
from ._x25519 import X25519Identity, X25519Recipient
from .errors import (
    AgeError,
    ArmorError,
    HeaderError,
    KeyFormatError,
    MacError,
    NoIdentityMatchError,
    PayloadError,
)

__all__ = [
    "CHUNK_SIZE",
    "ENCRYPTED_CHUNK_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "AgeError",
    "AnyIdentity",
    "AnyRecipient",
    "ArmorError",
    "HeaderError",
    "HybridIdentity",
    "HybridRecipient",
    "Identity",
    "KeyFormatError",
    "MacError",
    "NoIdentityMatchError",
    "OpenReader",
    "PayloadError",
    "PreparedSeal",
    "Readable",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "SealWriter",
    "Stanza",
    "Writable",
    "X25519Identity",
    "X25519Recipient",
    "decrypt",
    "encrypt",
    "header_length",
    "is_age_file",
    "parse_identities_file",
    "parse_identity",
    "parse_recipient",
    "parse_recipients_file",
    "prepare",
]
