"""The age v1 header: stanzas, strict parsing, encoding and the header MAC.

Everything here is strict on purpose: one header must have exactly one byte encoding, so the
MAC binds what every implementation sees (canonical unpadded base64, LF only, bounded lines).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ._hkdf import hkdf_sha256
from ._source import ByteSource
from .errors import HeaderError

INTRO = b"age-encryption.org/v1\n"
_STANZA_PREFIX = b"->"
_FOOTER_PREFIX = b"---"
COLUMNS_PER_LINE = 64
BYTES_PER_LINE = COLUMNS_PER_LINE // 4 * 3
FILE_KEY_SIZE = 16
MAC_SIZE = 32

# Limits for untrusted headers. A post-quantum stanza argument is ~1.5 KB; nothing legitimate
# comes near these, and they bound both memory and the number of unwrap attempts.
MAX_LINE = 16 * 1024
MAX_HEADER = 1024 * 1024
MAX_STANZAS = 4096

_B64_UNPADDED = re.compile(rb"[A-Za-z0-9+/]*")


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: `-> type args...` and its body."""

    type: str
    args: tuple[str, ...]
    body: bytes


@runtime_checkable
class Recipient(Protocol):
    """Something that can wrap a file key (age's Recipient)."""

    def wrap(self, file_key: bytes) -> list[Stanza]: ...


@runtime_checkable
class Identity(Protocol):
    """Something that can unwrap a file key (age's Identity).

    Returns None when no stanza is for this identity; raises HeaderError when a stanza of its
    type is malformed (a broken header must not pass for "not mine").
    """

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None: ...


def b64encode_unpadded(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).rstrip(b"=")


def b64decode_unpadded(untrusted_text: bytes | str) -> bytes:
    """Canonical standard base64 without padding, as age requires everywhere in the header."""
    raw = (
        untrusted_text.encode("ascii", "replace")
        if isinstance(untrusted_text, str)
        else untrusted_text
    )
    # Only the alphabet: no '=', CR, LF or spaces, which lenient decoders would skip.
    if _B64_UNPADDED.fullmatch(raw) is None or len(raw) % 4 == 1:
        raise HeaderError("invalid base64 in header")
    try:
        decoded = binascii.a2b_base64(raw + b"=" * (-len(raw) % 4), strict_mode=True)
    except binascii.Error as exc:
        raise HeaderError("invalid base64 in header") from exc
    # Non-zero trailing bits would give one value two spellings (header malleability).
    if b64encode_unpadded(decoded) != raw:
        raise HeaderError("non-canonical base64 in header")
    return decoded


def _valid_arg(arg: bytes) -> bool:
    return bool(arg) and all(33 <= c <= 126 for c in arg)


def encode_stanza(stanza: Stanza) -> bytes:
    parts = [stanza.type, *stanza.args]
    if not all(_valid_arg(p.encode("ascii", "replace")) for p in parts):
        raise ValueError("stanza type and arguments must be non-empty printable ASCII")
    out = bytearray(b"-> " + " ".join(parts).encode("ascii") + b"\n")
    encoded = b64encode_unpadded(stanza.body)
    # The body always ends with a line shorter than 64 columns, possibly empty.
    for i in range(0, len(encoded) + 1, COLUMNS_PER_LINE):
        out += encoded[i : i + COLUMNS_PER_LINE] + b"\n"
    return bytes(out)


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    key = hkdf_sha256(file_key, b"", b"header")
    return hmac.new(key, mac_input, hashlib.sha256).digest()


def encode_header(stanzas: Sequence[Stanza], file_key: bytes) -> bytes:
    """The full header, MAC line included."""
    mac_input = INTRO + b"".join(encode_stanza(s) for s in stanzas) + _FOOTER_PREFIX
    mac = header_mac(file_key, mac_input)
    return mac_input + b" " + b64encode_unpadded(mac) + b"\n"


@dataclass(frozen=True)
class Header:
    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes  # the header bytes up to and including "---"
    length: int  # the whole header's bytes, MAC line included: where the payload nonce starts

    def verify_mac(self, file_key: bytes) -> bool:
        return hmac.compare_digest(header_mac(file_key, self.mac_input), self.mac)


def _read_line(src: ByteSource, raw: bytearray) -> bytes:
    line = src.readline(MAX_LINE)
    if not line.endswith(b"\n"):
        raise HeaderError("header truncated or line too long")
    raw += line
    if len(raw) > MAX_HEADER:
        raise HeaderError("header too large")
    return line[:-1]


def _parse_stanza(opening: bytes, src: ByteSource, raw: bytearray) -> Stanza:
    parts = opening.split(b" ")
    # "-> type [args]": the prefix alone, at least a type, every argument non-empty and
    # printable (an empty argument means a double space, i.e. a second encoding).
    if parts[0] != _STANZA_PREFIX or len(parts) < 2 or not all(map(_valid_arg, parts[1:])):
        raise HeaderError("malformed stanza line")
    body = bytearray()
    while True:
        line = _read_line(src, raw)
        chunk = b64decode_unpadded(line)
        if len(chunk) > BYTES_PER_LINE:
            raise HeaderError("stanza body line longer than 64 columns")
        body += chunk
        # A stanza body always ends with a short line: that is its only terminator.
        if len(chunk) < BYTES_PER_LINE:
            break
    type_, *args = (p.decode("ascii") for p in parts[1:])
    return Stanza(type_, tuple(args), bytes(body))


def parse_header(src: ByteSource) -> Header:
    """Parse a binary age header from `src`, leaving it positioned at the payload nonce."""
    raw = bytearray()
    intro = src.readline(len(INTRO))
    raw += intro
    if intro != INTRO:
        raise HeaderError("not an age v1 file (unknown or malformed version line)")
    stanzas: list[Stanza] = []
    while True:
        line = _read_line(src, raw)
        if line.startswith(_FOOTER_PREFIX):
            parts = line.split(b" ")
            if parts[0] != _FOOTER_PREFIX or len(parts) != 2:
                raise HeaderError("malformed header MAC line")
            mac = b64decode_unpadded(parts[1])
            if len(mac) != MAC_SIZE:
                raise HeaderError("header MAC has the wrong size")
            mac_input = bytes(raw[: len(raw) - len(line) - 1]) + _FOOTER_PREFIX
            return Header(tuple(stanzas), mac, mac_input, len(raw))
        if not line.startswith(_STANZA_PREFIX):
            raise HeaderError("malformed header line")
        if len(stanzas) >= MAX_STANZAS:
            raise HeaderError("too many stanzas")
        stanzas.append(_parse_stanza(line, src, raw))
