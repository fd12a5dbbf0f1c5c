"""Per-file intake, the stage after the streaming form: each file of a submission goes,
as its bytes arrive, into an encrypted spool (`spool.SpoolFile`) or, for a large
uncleanable first file, is sealed in place (`in_place.InPlaceFile`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from leakdrop.server.in_place import CHUNK, InPlaceFile
from leakdrop.server.plaintext_intake import HEAD_BYTES
from leakdrop.server.spool import SpoolFile, SpoolKey

#: Where one received file's bytes are: both keep `size`, `sha256`, `head` and `open`.
IntakeFile = SpoolFile | InPlaceFile


@dataclass
class Intake:
    """The `form.FileSink` for one submission: one spool per file, in order.

    With `in_place` set (`in_place.in_place_chooser`), the first file's first 64 KiB are
    held in RAM and handed to it: it returns an `InPlaceFile` (the file is sealed in place)
    or None (spooled as usual).
    """

    directory: Path
    key: SpoolKey
    in_place: Callable[[bytes], InPlaceFile | None] | None = None
    files: list[tuple[str, IntakeFile]] = field(default_factory=list)
    _current: IntakeFile | None = None
    _deciding: bytearray | None = None
    _name: str = ""

    def file_begin(self, untrusted_name: str) -> None:
        if not self.files and self.in_place is not None:
            self._deciding = bytearray()
            self._name = untrusted_name
            return
        self._start(untrusted_name, SpoolFile(self.directory, self.key))

    def _start(self, untrusted_name: str, stream: IntakeFile) -> None:
        self.files.append((untrusted_name, stream))
        self._current = stream

    def _decide(self, complete: bool) -> None:
        assert self._deciding is not None and self.in_place is not None
        data = bytes(self._deciding)
        self._deciding = None
        stream: IntakeFile | None = None
        if not complete:
            # Only a file of at least one full chunk is worth sealing in place.
            stream = self.in_place(data[:HEAD_BYTES])
        if stream is None:
            stream = SpoolFile(self.directory, self.key)
        self._start(self._name, stream)
        stream.write(data)

    def file_data(self, data: memoryview) -> None:
        if self._deciding is not None:
            self._deciding += data
            if len(self._deciding) >= CHUNK:
                self._decide(complete=False)
            return
        assert self._current is not None
        self._current.write(data)

    def file_end(self) -> None:
        if self._deciding is not None:
            self._decide(complete=True)
        assert self._current is not None
        self._current.finish()
        self._current = None

    def close(self) -> None:
        """Close every file's spool (nameless: closing frees it) or partial sealed file."""
        for _, stream in self.files:
            stream.close()
