"""age v1 files: the header, the payload and the armor put together."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import _armor
from ._header import (
    FILE_KEY_SIZE,
    INTRO,
    Identity,
    Recipient,
    Stanza,
    encode_header,
    parse_header,
)
from ._hkdf import hkdf_sha256
from ._hybrid import IDENTITY_HRP as _PQ_IDENTITY_HRP
from ._hybrid import RECIPIENT_HRP as _PQ_RECIPIENT_HRP
from ._hybrid import STANZA_TYPE as _HYBRID
from ._hybrid import HybridIdentity, HybridRecipient
from ._scrypt import STANZA_TYPE as _SCRYPT
from ._source import ByteSource, Readable
from ._stream import (
    ENCRYPTED_CHUNK_SIZE,
    NONCE_SIZE,
    OpenReader,
    SealWriter,
    Writable,
    open_full_chunk,
    seal_full_chunks,
    seal_full_chunks_into,
    write_all,
)
from ._x25519 import X25519Identity, X25519Recipient
from .errors import HeaderError, KeyFormatError, MacError, NoIdentityMatchError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

_PAYLOAD_LABEL = b"payload"
_KEY_FILE_LIMIT = 16 * 1024 * 1024  # as age: a key file bigger than this is not a key file
_SECRET_KEY_PREFIX = "AGE-SECRET-KEY-"  # noqa: S105 - a format marker, not a secret


def _check_scrypt_alone(stanzas: Sequence[Stanza]) -> None:
    # A passphrase stanza must be alone: otherwise whoever holds the passphrase could not
    # tell that others can also open (and re-seal) the file. age enforces this on both sides.
    if len(stanzas) > 1 and any(s.type == _SCRYPT for s in stanzas):
        raise HeaderError("an scrypt stanza must be the only stanza")


@dataclass(frozen=True)
class PreparedSeal:
    """An age file whose header is fixed but whose payload is sealed piecewise, at known
    offsets (the server seals a large upload straight into place as it arrives).

    `header` is the whole header plus the payload nonce: chunk i of the payload starts at
    `chunk_offset(i)`. Use `seal_chunks` for non-final full chunks (any order, each index
    once) and `writer(dst, first_chunk)` for the run of chunks that ends the payload.
    """

    header: bytes
    payload_key: bytes = field(repr=False)

    def chunk_offset(self, index: int) -> int:
        return len(self.header) + index * ENCRYPTED_CHUNK_SIZE

    def seal_chunks(self, plaintext: ReadableBuffer, first_index: int) -> bytearray:
        return seal_full_chunks(self.payload_key, plaintext, first_index)

    def seal_chunks_into(
        self, target: memoryview, plaintext: ReadableBuffer, first_index: int
    ) -> None:
        seal_full_chunks_into(target, self.payload_key, plaintext, first_index)

    def open_chunk(self, untrusted_sealed: bytes, index: int) -> bytes:
        return open_full_chunk(self.payload_key, untrusted_sealed, index)

    def writer(self, dst: Writable, first_chunk: int) -> SealWriter:
        return SealWriter(dst, self.payload_key, first_chunk=first_chunk)


def prepare(recipients: Sequence[Recipient]) -> PreparedSeal:
    """Draw a file key and payload nonce, wrap the key to every recipient (see `encrypt`)."""
    if not recipients:
        raise ValueError("at least one recipient is required")
    file_key = os.urandom(FILE_KEY_SIZE)
    stanzas: list[Stanza] = []
    for recipient in recipients:
        stanzas.extend(recipient.wrap(file_key))
    try:
        _check_scrypt_alone(stanzas)
    except HeaderError as exc:
        raise ValueError("a passphrase (scrypt) recipient must be the only recipient") from exc
    kinds = {s.type == _HYBRID for s in stanzas}
    if len(kinds) > 1:
        # The specification: a file sealed to a post-quantum recipient SHOULD NOT also be
        # sealed to a classical one, which a quantum computer would open; the protection
        # would be only as strong as the weakest recipient.
        raise ValueError(
            "post-quantum (age1pq1...) and classical (age1...) recipients cannot be mixed"
        )
    nonce = os.urandom(NONCE_SIZE)
    return PreparedSeal(
        encode_header(stanzas, file_key) + nonce, hkdf_sha256(file_key, nonce, _PAYLOAD_LABEL)
    )


def encrypt(dst: Writable, recipients: Sequence[Recipient]) -> SealWriter:
    """Start an age file on `dst` sealed to every recipient; write plaintext, then close()."""
    prepared = prepare(recipients)
    write_all(dst, prepared.header)
    return prepared.writer(dst, 0)


def decrypt(
    src: Readable, identities: Sequence[Identity], *, armored: bool | None = None
) -> OpenReader:
    """Open an age file. Header, identity match and MAC are checked here; payload errors are
    raised while reading the returned OpenReader.

    `armored`: None detects ASCII armor from the first bytes; True/False force a parser.
    """
    if not identities:
        raise ValueError("at least one identity is required")
    source = ByteSource(src)
    if armored is None:
        armored = _armor.looks_armored(source.peek(_armor.PEEK_SIZE))
    if armored:
        source = ByteSource(_armor.ArmorReader(source))
    header = parse_header(source)
    _check_scrypt_alone(header.stanzas)
    file_key: bytes | None = None
    for identity in identities:
        file_key = identity.unwrap(header.stanzas)
        if file_key is not None:
            break
    if file_key is None:
        raise NoIdentityMatchError("no identity matched any of the file's recipients")
    if len(file_key) != FILE_KEY_SIZE:
        raise HeaderError("unwrapped file key has the wrong size")
    # Only now is the header authenticated: before this, nothing in it may be trusted.
    if not header.verify_mac(file_key):
        raise MacError("header MAC mismatch: the header was altered")
    untrusted_nonce = source.read_exact(NONCE_SIZE)
    if len(untrusted_nonce) != NONCE_SIZE:
        raise HeaderError("file truncated before the payload nonce")
    return OpenReader(source, hkdf_sha256(file_key, untrusted_nonce, _PAYLOAD_LABEL))


def header_length(untrusted_prefix: bytes) -> int:
    """Where the payload starts in a binary age file beginning with these bytes: the header
    is parsed as strictly as `decrypt` does (no key needed). Raises `HeaderError`."""
    return parse_header(ByteSource(io.BytesIO(untrusted_prefix))).length


def is_age_file(prefix: bytes) -> bool:
    """Whether `prefix` (the first bytes of a file, >= 64 of them when the file has them)
    starts a binary age v1 file or an ASCII-armored one."""
    return prefix.startswith(INTRO) or _armor.starts_armored(prefix)


def _key_lines(text: str) -> list[tuple[int, str]]:
    if len(text) > _KEY_FILE_LIMIT:
        raise KeyFormatError("key file too large")
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        # age's key-file format: '#' comments and empty lines; nothing else is skipped.
        if not line or line.startswith("#"):
            continue
        lines.append((number, line))
    return lines


AnyRecipient = X25519Recipient | HybridRecipient
AnyIdentity = X25519Identity | HybridIdentity


def parse_recipient(text: str) -> AnyRecipient:
    """``age1pq1...`` (post-quantum) or ``age1...`` (X25519)."""
    if text.startswith(_PQ_RECIPIENT_HRP + "1"):
        return HybridRecipient.parse(text)
    return X25519Recipient.parse(text)


def parse_identity(text: str) -> AnyIdentity:
    """``AGE-SECRET-KEY-PQ-1...`` (post-quantum) or ``AGE-SECRET-KEY-1...`` (X25519)."""
    if text.upper().startswith(_PQ_IDENTITY_HRP + "1"):
        return HybridIdentity.parse(text)
    return X25519Identity.parse(text)


def parse_recipients_file(text: str) -> list[AnyRecipient]:
    """Parse age's recipients-file format. Errors name the line, never its content."""
    recipients: list[AnyRecipient] = []
    for number, line in _key_lines(text):
        if line.strip().upper().startswith(_SECRET_KEY_PREFIX):
            # A private key on the server would defeat the offline-key design.
            raise KeyFormatError(f"line {number}: this is a SECRET key, not a recipient")
        try:
            recipients.append(parse_recipient(line))
        except KeyFormatError as exc:
            raise KeyFormatError(
                f"line {number}: not an age recipient (age1... or age1pq1...)"
            ) from exc
    if not recipients:
        raise KeyFormatError("no recipients found")
    return recipients


def parse_identities_file(text: str) -> list[AnyIdentity]:
    """Parse an age identity file. Errors name the line, never its content (it is secret)."""
    identities: list[AnyIdentity] = []
    for number, line in _key_lines(text):
        try:
            identities.append(parse_identity(line))
        except KeyFormatError as exc:
            raise KeyFormatError(
                f"line {number}: not an age identity (AGE-SECRET-KEY-1... or "
                "AGE-SECRET-KEY-PQ-1...)"
            ) from exc
    if not identities:
        raise KeyFormatError("no identities found")
    return identities
