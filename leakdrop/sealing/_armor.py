"""Reading age's ASCII armor: strict PEM, label ``AGE ENCRYPTED FILE``, no headers.

Strict on purpose, like age: 64-column lines of canonical padded base64, whitespace only
around the block (bounded), CRLF tolerated. Errors found after some data was decoded are
reported on the following read, so data always arrives in order before its error.
"""

from __future__ import annotations

import binascii
import re

from ._source import ByteSource
from .errors import ArmorError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
_COLUMNS = 64
_BYTES_PER_LINE = 48
_MAX_WHITESPACE = 1024
_LINE_LIMIT = _MAX_WHITESPACE + len(BEGIN) + 2
_WHITESPACE = b" \t\r\n\x0b\x0c"
_B64_PADDED = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def starts_armored(prefix: bytes) -> bool:
    """True when `prefix` (after bounded leading whitespace) opens an armored age file."""
    stripped = prefix[: _MAX_WHITESPACE + len(BEGIN)].lstrip(_WHITESPACE)
    return stripped.startswith(BEGIN)


PEEK_SIZE = _MAX_WHITESPACE + len(BEGIN)
_BINARY_MARK = b"age-encryption.org/"


def looks_armored(prefix: bytes) -> bool:
    """Choose the parser for `prefix`: armor unless it looks like a binary age header.

    Wider than `starts_armored`: a PEM-like boundary (wrong label, lowercase, spaces) or a
    BEGIN line after some garbage is sent to the armor parser, so it is reported as the armor
    error it is. A wrong guess only changes which strict parser rejects the file.
    """
    if prefix.startswith(_BINARY_MARK):
        return False
    head = prefix[:PEEK_SIZE]
    return head.lstrip(_WHITESPACE).startswith(b"-----") or b"-----BEGIN" in head


def _decode_line(untrusted_line: bytes) -> bytes:
    if _B64_PADDED.fullmatch(untrusted_line) is None or len(untrusted_line) % 4:
        raise ArmorError("invalid base64 in armor")
    try:
        decoded = binascii.a2b_base64(untrusted_line, strict_mode=True)
    except binascii.Error as exc:
        raise ArmorError("invalid base64 in armor") from exc
    # Canonical only: non-zero padding bits would let one file have many armorings.
    if binascii.b2a_base64(decoded, newline=False) != untrusted_line:
        raise ArmorError("non-canonical base64 in armor")
    return decoded


class ArmorReader:
    """Decodes an armored age file from `src`; `read(n)` returns the binary age file."""

    def __init__(self, src: ByteSource) -> None:
        self._src = src
        self._started = False
        self._done = False
        self._pending = bytearray()
        self._error: ArmorError | None = None

    def _line(self) -> bytes:
        untrusted_line = self._src.readline(_LINE_LIMIT)
        if not untrusted_line:
            raise ArmorError("armor truncated: no END line")
        if not untrusted_line.endswith(b"\n") and len(untrusted_line) == _LINE_LIMIT:
            raise ArmorError("armor line too long")
        return untrusted_line.removesuffix(b"\n").removesuffix(b"\r")

    def _start(self) -> None:
        skipped = 0
        while True:
            line = self._line()
            if line.strip(_WHITESPACE):
                break
            skipped += len(line) + 1
            if skipped > _MAX_WHITESPACE:
                raise ArmorError("too much whitespace before armor")
        if line != BEGIN:
            raise ArmorError("armor does not start with the age BEGIN line")
        self._started = True

    def _finish(self) -> None:
        self._done = True
        untrusted_rest = self._src.read_exact(_MAX_WHITESPACE)
        if untrusted_rest.strip(_WHITESPACE):
            raise ArmorError("data after the armor END line")
        if len(untrusted_rest) == _MAX_WHITESPACE:
            raise ArmorError("too much whitespace after armor")

    def _step(self) -> None:
        if not self._started:
            self._start()
        line = self._line()
        if line == END:
            self._finish()
            return
        # An empty line is never produced by age's writer; accepting it would give a second
        # encoding (and Debian age 1.1.1 does accept it: the vectors say refuse).
        if not line or len(line) > _COLUMNS:
            raise ArmorError("armor line of the wrong length")
        decoded = _decode_line(line)
        self._pending += decoded
        if len(decoded) < _BYTES_PER_LINE:
            # Only the last line may be short; it must be followed by the END line.
            if self._line() != END:
                raise ArmorError("short armor line before the end")
            self._finish()

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            raise ValueError("ArmorReader.read needs a size")
        while len(self._pending) < size and not self._done and self._error is None:
            try:
                self._step()
            except ArmorError as exc:
                self._error = exc
        if not self._pending and self._error is not None:
            raise self._error
        out = bytes(self._pending[:size])
        del self._pending[:size]
        return out
