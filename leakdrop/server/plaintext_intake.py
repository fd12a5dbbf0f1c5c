"""What every per-file sink of an upload (`spool.SpoolFile`, `in_place.InPlaceFile`)
records of each received piece before its threads take it."""

from __future__ import annotations

import hashlib
from typing import Final

#: Plaintext bytes kept in RAM at the start of each file, to sniff its type without
#: reading the spool back.
HEAD_BYTES: Final = 4096


class PlaintextIntake:
    """The first bytes of a file (for sniffing), its size and the SHA-256 that goes into
    the manifest, taken as the pieces arrive."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self.size = 0
        self.sha256 = ""

    @property
    def head(self) -> bytes:
        return bytes(self._head)

    def _intake(self, data: bytes | memoryview) -> memoryview:
        view = memoryview(data).cast("B")
        if view and not isinstance(view.obj, bytes):
            # A thread encrypts these bytes later: they must be the very bytes hashed now,
            # so a buffer its owner could still change is copied first.
            view = memoryview(view.tobytes())
        if len(self._head) < HEAD_BYTES:
            self._head += view[: HEAD_BYTES - len(self._head)]
        self._hash.update(view)
        self.size += len(view)
        return view
