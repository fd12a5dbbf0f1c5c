"""The submission format: one submission = one age file around a padded POSIX (pax) tar.

Plaintext layout (DESIGN.md)::

    manifest.json            first member, versioned, lists every file
    message.txt              the source's message, if any
    files/NN-<sanitised>     the stored (cleaned, or "not cleaned") bytes, in manifest order
    <end-of-archive>         two zero blocks
    <zero padding>           so that the plaintext size is PADMÉ-rounded (multiple of 512)

Writing streams each file from `FileEntry.open()` and never holds a whole file in memory.
Reading (`extract_submission`) is a small strict tar reader of its own instead of
`tarfile`: `tarfile` reads pax/GNU long-name headers of any size into memory (a crafted
archive can ask for gigabytes), reads ahead of the end-of-archive marker (so the padding
could not be checked exactly), and accepts member types we never write. Here only what
`write_submission` produces is accepted, every size is bounded, and any deviation raises a
`ContainerError`.

What the size still reveals: PADMÉ rounds a length L with 2^E <= L < 2^(E+1) up to a
multiple of 2^(E - floor(log2 E) - 1), so the padded size reveals only O(log log L) bits
about L (its magnitude and a few leading bits) at a cost of at most ~12% of L (less for
larger files: 6.25% from 64 KiB, 3.1% from 4 GiB). A submission of 10 MB and one of 10.5 MB
can look identical; one of 10 MB and one of 1 GB cannot.

The two calls most callers need::

    seal_submission(dst, recipients, submission_id=..., received_day=..., message=..., files=...)
    manifest = open_submission(src, identities, dest)

Below them, in one module each: the format's constants, errors and sizes (`_format`), the
manifest schema and its strict parser (`_manifest`), the writer, including the head/tail
pair of the in-place seal (`_writer`), and the strict reader (`_reader`). The offline tool
uses this package: it imports only the standard library and `leakdrop.sealing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from leakdrop.sealing import Identity, Readable, Recipient, Writable, decrypt, encrypt
from leakdrop.submission._format import (
    BLOCK,
    FILES_DIR,
    FORMAT,
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    MESSAGE_NAME,
    VERSION,
    ContainerError,
    IntegrityError,
    ManifestError,
    MemberError,
    TruncatedError,
    padded_size,
    padme,
    sanitise_name,
)
from leakdrop.submission._manifest import Manifest, ManifestFile, ReplyAddress, parse_manifest
from leakdrop.submission._reader import (
    extract_submission,
    peek_submission,
    read_manifest,
    read_manifest_and_message_digest,
)
from leakdrop.submission._writer import (
    FileEntry,
    submission_head,
    write_submission,
    write_submission_tail,
)

__all__ = [
    "BLOCK",
    "FILES_DIR",
    "FORMAT",
    "MANIFEST_NAME",
    "MAX_MANIFEST_BYTES",
    "MESSAGE_NAME",
    "VERSION",
    "ContainerError",
    "FileEntry",
    "IntegrityError",
    "Manifest",
    "ManifestError",
    "ManifestFile",
    "MemberError",
    "ReplyAddress",
    "TruncatedError",
    "extract_submission",
    "open_submission",
    "padded_size",
    "padme",
    "parse_manifest",
    "peek_submission",
    "read_manifest",
    "read_manifest_and_message_digest",
    "sanitise_name",
    "seal_submission",
    "submission_head",
    "write_submission",
    "write_submission_tail",
]


def seal_submission(
    dst: Writable,
    recipients: Sequence[Recipient],
    *,
    submission_id: str,
    received_day: str,
    message: str | None,
    files: Sequence[FileEntry],
    reply: ReplyAddress | None = None,
) -> int:
    """Write one whole submission to `dst` as an age file sealed to every recipient.

    Returns the plaintext size. An error (a file that does not match its hash, a failing
    sink) propagates before the final STREAM chunk is written, so what `dst` holds then is
    never a valid age file: the caller discards it.
    """
    with encrypt(dst, recipients) as sealed:
        return write_submission(
            sealed,
            submission_id=submission_id,
            received_day=received_day,
            message=message,
            files=files,
            reply=reply,
        )


def open_submission(src: Readable, identities: Sequence[Identity], dest: Path) -> Manifest:
    """Decrypt the age file `src` and extract the submission into the empty folder `dest`.

    Every check of `decrypt` and `extract_submission` applies (header MAC, every chunk's
    tag, the end of the payload, each member's size and SHA-256, the padding): on any
    failure an error is raised and what `dest` holds is unverified (the caller deletes it).
    """
    with decrypt(src, identities) as reader:
        return extract_submission(reader, dest)
