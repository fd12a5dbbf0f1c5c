"""A file too large to hold in RAM, read by ranges; a cleaned file written as a stream.

Files up to the submission limit (1 GiB by default) are cleaned without ever being whole in
the worker's memory: the worker asks the parent for the ranges it needs (the parent decrypts
them from its spool, `leakdrop.server.spool`), and writes its output as it goes, either as
new bytes or as "copy this range of the input" (the media samples of a video, copied byte
for byte, never pass through the worker at all). The plaintext still never touches a disk,
and the worker stays as walled off as for a small file: it holds one socket and nothing else.

`RangeSource` slices like `bytes` (``src[a:b]``, ``len(src)``), so the format code that walks
a structure by offsets reads the same over a source as over bytes. Reads go through a small
block cache: structure walks read many short fields close together.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, overload

from scrubbers._types import Cleaned, Limits
from scrubbers.errors import CorruptFileError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: Reads `size` bytes at `offset` (fewer only at the end of the file).
ReadAt = Callable[[int, int], bytes]

#: The largest single read asked of the parent (it refuses more: a bound on its buffers).
MAX_READ = 4 * 1024 * 1024
_BLOCK = 256 * 1024
_BLOCKS = 32  # 8 MiB of cache, whatever the file's size
#: Above this, a single slice is not cached (it is read straight through).
_MAX_CACHED_READ = 4 * _BLOCK


class RangeSource:
    """A read-only file of known size, read by ranges and sliced like bytes."""

    def __init__(self, size: int, read_at: ReadAt) -> None:
        self._size = size
        self._read_at = read_at
        self._cache: OrderedDict[int, bytes] = OrderedDict()

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, key: int) -> int: ...
    @overload
    def __getitem__(self, key: slice) -> bytes: ...
    def __getitem__(self, key: int | slice) -> int | bytes:
        if isinstance(key, int):
            index = key + self._size if key < 0 else key
            if not 0 <= index < self._size:
                raise IndexError("source index out of range")
            return self.read(index, 1)[0]
        start, stop, step = key.indices(self._size)
        if step != 1:
            raise ValueError("sources are sliced with step 1 only")
        return self.read(start, max(0, stop - start))

    def read(self, offset: int, size: int) -> bytes:
        """Exactly the bytes in [offset, offset + size) clipped to the file."""
        end = min(self._size, offset + size)
        if offset >= end:
            return b""
        if end - offset > _MAX_CACHED_READ:
            return self._fetch(offset, end - offset)
        pieces = []
        position = offset
        while position < end:
            block = position // _BLOCK
            data = self._block(block)
            start = position - block * _BLOCK
            piece = data[start : start + end - position]
            if not piece:
                raise CorruptFileError("source shorter than its size")
            pieces.append(piece)
            position += len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def find(self, needle: bytes, start: int = 0, end: int | None = None) -> int:
        """The first offset of `needle` in [start, end), or -1 (read in bounded windows)."""
        stop = self._size if end is None else min(end, self._size)
        window = 4 * _BLOCK
        position = start
        while position < stop:
            chunk = self._fetch(position, min(window + len(needle) - 1, stop - position))
            found = chunk.find(needle)
            if found >= 0:
                return position + found
            position += window
        return -1

    def count(self, needle: bytes) -> int:
        """How many times `needle` occurs, non-overlapping (as ``bytes.count``)."""
        total, position = 0, 0
        while True:
            found = self.find(needle, position)
            if found < 0:
                return total
            total += 1
            position = found + len(needle)

    def _block(self, block: int) -> bytes:
        data = self._cache.get(block)
        if data is not None:
            self._cache.move_to_end(block)
            return data
        data = self._fetch(block * _BLOCK, _BLOCK)
        self._cache[block] = data
        if len(self._cache) > _BLOCKS:
            self._cache.popitem(last=False)
        return data

    def _fetch(self, offset: int, size: int) -> bytes:
        size = max(0, min(size, self._size - offset))
        pieces = []
        for start in range(offset, offset + size, MAX_READ):
            length = min(MAX_READ, offset + size - start)
            data = self._read_at(start, length)
            if len(data) != length:
                # The parent gives exactly what was asked; anything else is a broken channel.
                raise CorruptFileError("short read from the source")
            pieces.append(data)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


class SourceReader(io.RawIOBase):
    """A seekable file object over a source, for libraries that read files (qpdf)."""

    def __init__(self, source: RangeSource) -> None:
        super().__init__()
        self._source = source
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._source)}
        position = base[whence] + offset
        if position < 0:
            raise ValueError("negative seek position")
        self._position = position
        return position

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._source.read(self._position, len(view))
        view[: len(data)] = data
        self._position += len(data)
        return len(data)


class Sink(Protocol):
    """Where a streaming scrubber writes its output, in order."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append new bytes."""
        ...

    def copy(self, offset: int, size: int) -> None:
        """Append the input's bytes [offset, offset + size), unchanged."""
        ...


class Output(Sink, Protocol):
    """A sink whose output can be read back once written (the check re-reads it)."""

    def finish(self) -> RangeSource:
        """End the output; return it for reading."""
        ...


class BytesSink:
    """An output assembled in RAM (the in-process scrub of tests and of the CLI)."""

    def __init__(self, source: RangeSource | bytes) -> None:
        self._source = source
        self._out = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._out += data

    def copy(self, offset: int, size: int) -> None:
        if offset < 0 or size < 0 or offset + size > len(self._source):
            raise CorruptFileError("copy outside the input")
        self._out += self._source[offset : offset + size]

    def finish(self) -> RangeSource:
        data = bytes(self._out)
        return RangeSource(len(data), lambda offset, size: data[offset : offset + size])

    def getvalue(self) -> bytes:
        return bytes(self._out)


#: A piece of a cleaned file: new bytes, or a range (start, end) of the input copied as is.
Piece = bytes | tuple[int, int]
#: What a format walk reads from: the file in RAM, or a large one by ranges.
Data = bytes | RangeSource


def overlay(size: int, patches: list[tuple[int, bytes]]) -> list[Piece]:
    """The input of `size` bytes with each patch written over it at its offset, in order
    (a later patch wins where two overlap, as successive writes into a buffer would)."""
    # Disjoint (start, end, bytes) segments of new content, sorted by start.
    segments: list[tuple[int, int, bytes]] = []
    for start, data in patches:
        end = start + len(data)
        if start < 0 or end > size:
            raise CorruptFileError("patch outside the file")
        kept: list[tuple[int, int, bytes]] = []
        for s_start, s_end, s_data in segments:
            if s_end <= start or s_start >= end:
                kept.append((s_start, s_end, s_data))
                continue
            if s_start < start:
                kept.append((s_start, start, s_data[: start - s_start]))
            if s_end > end:
                kept.append((end, s_end, s_data[end - s_start :]))
        kept.append((start, end, data))
        segments = sorted(kept)
    pieces: list[Piece] = []
    at = 0
    for start, end, data in segments:
        if start > at:
            pieces.append((at, start))
        if data:
            pieces.append(data)
        at = end
    if at < size:
        pieces.append((at, size))
    return pieces


def join(pieces: list[Piece], untrusted_data: bytes) -> bytes:
    """The pieces as one file, for an input held in RAM."""
    view = memoryview(untrusted_data)
    return b"".join(p if isinstance(p, bytes) else view[p[0] : p[1]] for p in pieces)


def emit(pieces: list[Piece], sink: Sink) -> None:
    """The pieces into a sink: ranges of the input as copies (never through this process)."""
    for piece in pieces:
        if isinstance(piece, bytes):
            sink.write(piece)
        elif piece[1] > piece[0]:
            sink.copy(piece[0], piece[1] - piece[0])


class PiecesScrubber:
    """The four calls of a format whose clean is a list of pieces over its input (WAV/AIFF,
    FLAC, MP3, AVI): one walk, `pieces`, serves the clean in RAM, the clean by ranges and
    both checks (a check is the walk without its output)."""

    note: str | None = None

    def pieces(self, untrusted_data: Data) -> tuple[list[Piece], list[str]]:
        """(the cleaned file as pieces, names of what was removed). Raises ScrubError."""
        raise NotImplementedError

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        return self.pieces(untrusted_data)[1]

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        pieces, removed = self.pieces(untrusted_data)
        return Cleaned(join(pieces, untrusted_data), tuple(removed), note=self.note)

    def get_meta_from(self, source: RangeSource, limits: Limits) -> list[str]:
        return self.pieces(source)[1]

    def remove_all_to(self, source: RangeSource, sink: Sink, limits: Limits) -> Cleaned:
        pieces, removed = self.pieces(source)
        emit(pieces, sink)
        return Cleaned(b"", tuple(removed), note=self.note)
