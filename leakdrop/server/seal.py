"""Sealing, the stage after cleaning: one submission to the editors, then its commit.

Two strategies share one interface, `SealStrategy`: `OrdinarySeal` (tar + age of every
cleaned file, read back from its spool, into ``incoming/``) and `in_place.InPlaceSeal`
(a large uncleanable first file was sealed as it arrived: only the rest is left to seal).
Either lands the submission whole in ``submissions/`` (`storage.Storage.commit`) or not
at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from leakdrop.sealing import Recipient
from leakdrop.server._writer_thread import BackgroundWriter
from leakdrop.server.storage import DiskWriter, Storage
from leakdrop.submission import FileEntry, ReplyAddress, seal_submission


@dataclass(frozen=True)
class SubmissionContents:
    """What one sealed submission holds (its manifest, message and files)."""

    submission_id: str
    received_day: str
    message: str | None
    entries: list[FileEntry]
    reply: ReplyAddress | None = None


class SealStrategy(Protocol):
    def seal(self, contents: SubmissionContents) -> None:
        """Worker thread: seal `contents` to every editor and commit it, or raise with
        nothing left behind."""


class OrdinarySeal:
    """Tar + age to every editor into ``incoming/``, then commit.

    Three threads share the work: the spool readers decrypt ahead, the calling one builds
    the tar and encrypts it to the editors (no second hash: each spool authenticates what
    it yields against the hash taken while receiving), a `BackgroundWriter` writes the
    ciphertext out and starts its write-back early, so that the fsync in `commit` has
    little left to wait for.
    """

    def __init__(self, storage: Storage, recipients: Sequence[Recipient]) -> None:
        self._storage = storage
        self._recipients = recipients

    def seal(self, contents: SubmissionContents) -> None:
        incoming = self._storage.new_incoming()
        try:
            disk = BackgroundWriter(DiskWriter(incoming.fd).write, handed_over=True)
            try:
                # An error aborts the seal: no final chunk is ever written after an
                # incomplete plaintext.
                seal_submission(
                    disk,
                    self._recipients,
                    submission_id=contents.submission_id,
                    received_day=contents.received_day,
                    message=contents.message,
                    files=contents.entries,
                    reply=contents.reply,
                )
                disk.close()
            except BaseException:
                disk.abort()
                raise
            self._storage.commit(incoming)
        except BaseException:
            self._storage.discard(incoming)
            raise
