"""Remove identifying metadata from untrusted documents.

A library of its own (it imports nothing from ``leakdrop``): bytes in, a cleaned file and a
report out. The file's real type is sniffed from its bytes; one scrubber per format family is
picked from an explicit registry. The report lists the *names* of the fields removed, never
their values, and says plainly when a file was not cleaned and why.

    report = scrub_sandboxed(untrusted_bytes)   # in a limited worker process
    report = scrub(untrusted_bytes)             # in this process (already sandboxed callers)
"""

from scrubbers._core import scrub
from scrubbers._sandbox import scrub_sandboxed
from scrubbers._sniff import is_plain_text, sniff
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
    "AmbiguousTypeError",
    "Attachment",
    "Cleaned",
    "CorruptFileError",
    "FileType",
    "ForbiddenOperationError",
    "LimitExceededError",
    "Limits",
    "SandboxUnavailableError",
    "ScrubError",
    "ScrubReport",
    "ScrubTimeoutError",
    "Scrubber",
    "UnsupportedTypeError",
    "VerificationError",
    "WorkerCrashedError",
    "is_plain_text",
    "scrub",
    "scrub_sandboxed",
    "sniff",
]
