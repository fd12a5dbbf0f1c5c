"""Remove identifying metadata from untrusted documents.

A library of its own (it imports nothing from ``leakdrop``): bytes in, a cleaned file and a
report out. The file's real type is sniffed from its bytes; one scrubber per format family is
picked from an explicit registry. The report lists the *names* of the fields removed, never
their values, and says plainly when a file was not cleaned and why.

    report = scrub_sandboxed(untrusted_bytes)   # in a limited worker process
    report = scrub(untrusted_bytes)             # in this process (already sandboxed callers)

A file too large for RAM (a phone video, a scanned PDF: `Limits.stream_above_bytes`) is
read by ranges and its output written as it goes, with worker memory that does not grow
with the file's size:

    report = scrub_streamed_sandboxed(size, read_at, output)
"""

from scrubbers._confine import check_sandbox
from scrubbers._core import scrub, scrub_streamed
from scrubbers._forkserver import fork_workers_from_this_process
from scrubbers._ranges import BytesSink, RangeSource
from scrubbers._registry import STREAMED_TYPES
from scrubbers._sandbox import (
    StreamTarget,
    scrub_sandboxed,
    scrub_streamed_sandboxed,
)
from scrubbers._sniff import SNIFF_HEAD_BYTES, sniff
from scrubbers._sniff_text import is_plain_text
from scrubbers._types import (
    DEFAULT_LIMITS,
    Attachment,
    Cleaned,
    FileType,
    Limits,
    Scrubber,
    ScrubReport,
)
from scrubbers.errors import (
    AmbiguousTypeError,
    CorruptFileError,
    ForbiddenOperationError,
    LimitExceededError,
    SandboxUnavailableError,
    ScrubError,
    ScrubTimeoutError,
    UnsupportedTypeError,
    VerificationError,
    WorkerCrashedError,
)

__all__ = [
    "DEFAULT_LIMITS",
    "SNIFF_HEAD_BYTES",
    "STREAMED_TYPES",
    "AmbiguousTypeError",
    "Attachment",
    "BytesSink",
    "Cleaned",
    "CorruptFileError",
    "FileType",
    "ForbiddenOperationError",
    "LimitExceededError",
    "Limits",
    "RangeSource",
    "SandboxUnavailableError",
    "ScrubError",
    "ScrubReport",
    "ScrubTimeoutError",
    "Scrubber",
    "StreamTarget",
    "UnsupportedTypeError",
    "VerificationError",
    "WorkerCrashedError",
    "check_sandbox",
    "fork_workers_from_this_process",
    "is_plain_text",
    "scrub",
    "scrub_sandboxed",
    "scrub_streamed",
    "scrub_streamed_sandboxed",
    "sniff",
]
