"""The age payload: STREAM over ChaCha20-Poly1305 in 64 KiB chunks.

Nonce = 11-byte big-endian chunk counter + 1 flag byte (1 on the final chunk). The final
chunk flag is what makes truncation detectable: a reader that reaches end of input without
having authenticated a final chunk raises, it never reports a clean end.
"""

from __future__ import annotations

import io
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

import nacl.bindings  # imported first: it initialises libsodium (CPU feature detection)
import nacl.exceptions

from ._sodium import CHACHA20POLY1305, AeadError
from ._source import ByteSource
from .errors import AgeError, PayloadError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE = 16  # the payload nonce after the header (HKDF salt), not the STREAM nonce
_MAX_COUNTER = 1 << 88
#: Sealed chunks handed to the destination in one write (1 MiB).
_BATCH_CHUNKS = 16


def _stream_nonce(counter: int, final: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


class Writable(Protocol):
    def write(self, data: bytes | bytearray, /) -> int | None: ...


def _seal_into(out: memoryview, plaintext: memoryview, nonce: bytes, key: bytes) -> None:
    # Sealing is the hot path of the server's ingest: written into our buffer (`_sodium`).
    try:
        CHACHA20POLY1305.seal_into(out, plaintext, nonce, key)
    except AeadError as exc:
        raise PayloadError("STREAM encryption failed") from exc


def write_all(dst: Writable, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        written = dst.write(view.tobytes() if len(view) != len(data) else data)
        if written is None:
            raise BlockingIOError("age output stream must be blocking")
        view = view[written:]


def seal_full_chunks(payload_key: bytes, plaintext: ReadableBuffer, first_index: int) -> bytearray:
    """Seal `plaintext` (a whole number of 64 KiB chunks) as the NON-final chunks
    `first_index`, `first_index + 1`, ... of a STREAM payload, into one new buffer.

    STREAM chunk i depends only on the payload key, i and the final flag, so chunks may be
    sealed out of order and placed at their offset later; the caller guarantees that each
    index is sealed once and that a final chunk follows (`SealWriter(first_chunk=...)`).
    """
    view = memoryview(plaintext).cast("B")
    out = bytearray(len(view) // CHUNK_SIZE * ENCRYPTED_CHUNK_SIZE)
    seal_full_chunks_into(memoryview(out), payload_key, view, first_index)
    return out


def seal_full_chunks_into(
    target: memoryview, payload_key: bytes, plaintext: ReadableBuffer, first_index: int
) -> None:
    """`seal_full_chunks`, written into `target` (exactly the sealed size)."""
    view = memoryview(plaintext).cast("B")
    if len(view) % CHUNK_SIZE:
        raise ValueError("plaintext is not a whole number of chunks")
    count = len(view) // CHUNK_SIZE
    if len(target) != count * ENCRYPTED_CHUNK_SIZE:
        raise ValueError("target has the wrong size")
    if first_index < 0 or first_index + count > _MAX_COUNTER:
        raise PayloadError("STREAM counter exhausted")
    for i in range(count):
        chunk = view[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE]
        nonce = _stream_nonce(first_index + i, False)
        sealed = target[i * ENCRYPTED_CHUNK_SIZE : (i + 1) * ENCRYPTED_CHUNK_SIZE]
        _seal_into(sealed, chunk, nonce, payload_key)


def open_full_chunk(payload_key: bytes, untrusted_sealed: bytes, index: int) -> bytes:
    """Authenticate and decrypt one non-final full chunk sealed by `seal_full_chunks`."""
    if len(untrusted_sealed) != ENCRYPTED_CHUNK_SIZE:
        raise PayloadError("payload chunk truncated")
    try:
        return bytes(
            nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt(
                untrusted_sealed, None, _stream_nonce(index, False), payload_key
            )
        )
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, ValueError) as exc:
        raise PayloadError("payload chunk altered or truncated") from exc


class SealWriter:
    """Encrypts what is written to it; `close()` writes the final chunk.

    `close()` does not close the destination. Leaving a `with` block by an exception does
    NOT write the final chunk: an interrupted seal must stay detectably incomplete instead of
    passing for a whole (shorter) file. One 64 KiB chunk is kept between writes, and a write
    hands the destination at most 1 MiB at a time, whatever the size, each time in a buffer
    of its own that the SealWriter never changes afterwards.
    """

    def __init__(self, dst: Writable, payload_key: bytes, *, first_chunk: int = 0) -> None:
        if not 0 <= first_chunk < _MAX_COUNTER:
            raise ValueError("first chunk index out of range")
        self._dst = dst
        self._key = payload_key
        self._buf = bytearray()
        # Not 0 only when earlier chunks of the same payload were sealed elsewhere
        # (`seal_full_chunks`): each chunk's nonce is its index, whoever seals it.
        self._counter = first_chunk
        self._closed = False
        self._failed = False

    def _seal(self, plaintext: bytes, final: bool) -> bytes:
        if self._counter >= _MAX_COUNTER:
            raise PayloadError("STREAM counter exhausted")
        nonce = _stream_nonce(self._counter, final)
        sealed = nacl.bindings.crypto_aead_chacha20poly1305_ietf_encrypt(
            plaintext, None, nonce, self._key
        )
        self._counter += 1
        return sealed

    def _emit(self, plaintext: bytes, final: bool) -> None:
        write_all(self._dst, self._seal(plaintext, final))

    def _seal_batch(self, chunks: list[memoryview]) -> bytes | bytearray:
        """Full chunks (none of them final) sealed into one new buffer."""
        out = bytearray(len(chunks) * ENCRYPTED_CHUNK_SIZE)
        view = memoryview(out)
        for i, chunk in enumerate(chunks):
            if self._counter >= _MAX_COUNTER:
                raise PayloadError("STREAM counter exhausted")
            start = i * ENCRYPTED_CHUNK_SIZE
            target = view[start : start + ENCRYPTED_CHUNK_SIZE]
            _seal_into(target, chunk, _stream_nonce(self._counter, False), self._key)
            self._counter += 1
        return out

    def write(self, data: ReadableBuffer) -> int:
        if self._closed or self._failed:
            raise ValueError("write to a closed or failed SealWriter")
        view = memoryview(data).cast("B")
        total = len(view)
        # Chunks are sealed straight from `data`, up to 16 into one new buffer that goes
        # to the destination in one write and is never touched again here (so the
        # destination may keep it by reference).
        chunks: list[memoryview] = []
        try:
            if self._buf:
                room = CHUNK_SIZE - len(self._buf)
                self._buf += view[:room]
                view = view[room:]
                if not view:
                    return total  # a full buffer may still become the final chunk
                chunks.append(memoryview(bytes(self._buf)))
                self._buf.clear()
            # Only chunks with more data after them can be non-final: keep the last one.
            while len(view) > CHUNK_SIZE:
                chunks.append(view[:CHUNK_SIZE])
                view = view[CHUNK_SIZE:]
                if len(chunks) == _BATCH_CHUNKS:  # bounded, whatever the size of `data`
                    write_all(self._dst, self._seal_batch(chunks))
                    chunks.clear()
            if chunks:
                write_all(self._dst, self._seal_batch(chunks))
            self._buf += view
        except BaseException:
            self._failed = True
            raise
        return total

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        flush = getattr(self._dst, "flush", None)
        if flush is not None:
            flush()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Seal the final chunk (idempotent). Raises if a previous write failed."""
        if self._closed:
            return
        if self._failed:
            self._closed = True
            raise ValueError("SealWriter failed earlier: the output is incomplete")
        self._closed = True
        # The final chunk may be full-size, and is empty only for an empty plaintext.
        self._emit(bytes(self._buf), final=True)
        self._buf.clear()
        self.flush()

    def abort(self) -> None:
        """Stop without the final chunk: the output will never open as complete."""
        self._closed = True
        self._failed = True
        self._buf.clear()

    def __enter__(self) -> SealWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class OpenReader(io.RawIOBase):
    """Decrypted payload. Each chunk is released only after its tag verified.

    Reaching the end of input without a verified final chunk, or finding data after it,
    raises PayloadError on the read that would otherwise report end of file. Errors are
    sticky. `read(n)` may return the plaintext released before an error and raise on the
    next call; `read()` (everything) raises instead of returning partial plaintext.
    `close()` does not close the source.
    """

    def __init__(self, src: ByteSource, payload_key: bytes) -> None:
        super().__init__()
        self._src = src
        self._key = payload_key
        self._counter = 0
        self._chunk = b""
        self._pos = 0
        self._final_seen = False
        self._error: AgeError | None = None

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Drop the buffered plaintext chunk; the source stays open (the caller owns it)."""
        self._chunk = b""
        self._pos = 0
        super().close()

    def _fail(self, error: AgeError) -> AgeError:
        self._error = error
        return error

    def _open_chunk(self, untrusted_sealed: bytes, final: bool) -> bytes:
        nonce = _stream_nonce(self._counter, final)
        return bytes(
            nacl.bindings.crypto_aead_chacha20poly1305_ietf_decrypt(
                untrusted_sealed, None, nonce, self._key
            )
        )

    def _next_chunk(self) -> bool:
        """Load the next verified chunk; False at a verified end of payload."""
        if self._error is not None:
            raise self._error
        if self._final_seen:
            return False
        try:
            untrusted_sealed = self._src.read_exact(ENCRYPTED_CHUNK_SIZE)
        except AgeError as exc:  # e.g. broken armor around the payload
            raise self._fail(exc) from None
        if not untrusted_sealed:
            raise self._fail(PayloadError("payload truncated: no final chunk"))
        final = len(untrusted_sealed) < ENCRYPTED_CHUNK_SIZE
        # The final chunk can be empty only when it is the only chunk (empty plaintext);
        # otherwise an attacker could append an empty "final" chunk to a truncated file.
        if final and self._counter > 0 and len(untrusted_sealed) == TAG_SIZE:
            raise self._fail(PayloadError("payload has an empty final chunk"))
        if self._counter >= _MAX_COUNTER:
            raise self._fail(PayloadError("STREAM counter exhausted"))
        try:
            plaintext = self._open_chunk(untrusted_sealed, final)
        except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, ValueError):
            if final:
                raise self._fail(PayloadError("payload chunk altered or truncated")) from None
            # A full-size chunk may be the final one: try it as such.
            try:
                plaintext = self._open_chunk(untrusted_sealed, final=True)
            except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, ValueError):
                raise self._fail(PayloadError("payload chunk altered or truncated")) from None
            final = True
        self._counter += 1
        self._chunk = plaintext
        self._pos = 0
        if final:
            self._final_seen = True
            # Nothing may follow the final chunk. The chunk itself is authentic and is
            # released; the error is raised where end of file would have been reported.
            try:
                if self._src.read_exact(1):
                    self._error = PayloadError("data after the final payload chunk")
            except AgeError as exc:
                self._error = exc
        return True

    def _available(self) -> bool:
        """Make sure the current chunk has unread bytes; False at verified end."""
        if self.closed:
            raise ValueError("read from a closed OpenReader")
        while self._pos >= len(self._chunk):
            if not self._next_chunk():
                return False
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        target = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(target):
            try:
                if not self._available():
                    break
            except AgeError:
                if filled:
                    return filled  # the error is sticky: the next read raises it
                raise
            take = min(len(target) - filled, len(self._chunk) - self._pos)
            target[filled : filled + take] = self._chunk[self._pos : self._pos + take]
            filled += take
            self._pos += take
        if not filled and self._error is not None:
            raise self._error  # a deferred error (e.g. data after the final chunk)
        return filled

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self.readall()
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            try:
                if not self._available():
                    break
            except AgeError:
                if parts:
                    break  # sticky: raised on the next call
                raise
            if self._pos == 0 and len(self._chunk) <= wanted:
                piece = self._chunk  # whole chunk: no copy
            else:
                piece = self._chunk[self._pos : self._pos + wanted]
            self._pos += len(piece)
            wanted -= len(piece)
            parts.append(piece)
        if not parts and self._error is not None:
            raise self._error
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readall(self) -> bytes:
        """Everything up to the verified end; raises rather than return a partial payload."""
        parts: list[bytes] = []
        while self._available():
            parts.append(self._chunk[self._pos :] if self._pos else self._chunk)
            self._pos = len(self._chunk)
        if self._error is not None:
            raise self._error
        return b"".join(parts)
