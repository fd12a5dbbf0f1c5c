"""A small buffered reader over any binary stream, with the exact operations the parsers need.

It never reads more than asked from the underlying stream except in bounded blocks while
looking for a line end, and it never returns a line longer than the caller's limit, so a
hostile file cannot make a parser buffer without bound.
"""

from __future__ import annotations

from typing import Protocol

_LINE_BLOCK = 4096


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes | None: ...


class ByteSource:
    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._buf = bytearray()
        self._eof = False

    def _read_raw(self, size: int) -> bytes:
        data = self._raw.read(size)
        if data is None:
            # A non-blocking stream with nothing ready: we need blocking semantics.
            raise BlockingIOError("age input stream must be blocking")
        if not data:
            self._eof = True
        return bytes(data)

    def peek(self, size: int) -> bytes:
        """Up to `size` bytes without consuming them (fewer only at end of input)."""
        while len(self._buf) < size and not self._eof:
            self._buf += self._read_raw(size - len(self._buf))
        return bytes(self._buf[:size])

    def readline(self, limit: int) -> bytes:
        """One line including its LF, at most `limit` bytes.

        Returns fewer bytes without LF at end of input, or exactly `limit` bytes without LF
        when the line is longer than the limit: the caller treats both as malformed.
        """
        start = 0
        while True:
            end = self._buf.find(b"\n", start, limit)
            if end >= 0:
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return line
            if len(self._buf) >= limit or self._eof:
                line = bytes(self._buf[:limit])
                del self._buf[:limit]
                return line
            start = len(self._buf)
            self._buf += self._read_raw(_LINE_BLOCK)

    def read_exact(self, size: int) -> bytes:
        """Exactly `size` bytes, or fewer only at end of input."""
        if len(self._buf) >= size:
            out = bytes(self._buf[:size])
            del self._buf[:size]
            return out
        acc = self._buf
        self._buf = bytearray()
        while len(acc) < size and not self._eof:
            data = self._read_raw(size - len(acc))
            if not acc and len(data) == size:
                return data  # common case for the payload: one read, no copy
            acc += data
        return bytes(acc)
