"""The one exception tree of `scrubbers`.

Every failure a scrubber can meet on a file is one of these; third-party exceptions (pikepdf,
Pillow, zipfile, XML parsers) are translated into them at the boundary with ``raise ... from``.
`scrubbers.scrub` turns them into a report that says the file was *not* cleaned, and why.
"""

from __future__ import annotations


class ScrubError(Exception):
    """Base class. ``reason`` is a short, value-free phrase shown to the source and editors."""

    reason = "could not be cleaned"


class UnsupportedTypeError(ScrubError):
    reason = "unsupported file type"


class AmbiguousTypeError(UnsupportedTypeError):
    """The bytes are valid as two formats at once (a polyglot): which one is "the file"?"""

    reason = "ambiguous file type (readable as two formats)"


class CorruptFileError(ScrubError):
    reason = "corrupt or unreadable file"


class LimitExceededError(ScrubError):
    """A resource bound was hit: size, pixels, members, nesting, expansion ratio."""

    reason = "too large or too complex to clean safely"


class ScrubTimeoutError(LimitExceededError):
    reason = "cleaning timed out"


class WorkerCrashedError(ScrubError):
    reason = "the cleaner crashed on this file"


class ForbiddenOperationError(WorkerCrashedError):
    """The worker was killed by its seccomp filter: the file made it run foreign code."""

    reason = "the cleaner tried a forbidden operation"


class SandboxUnavailableError(WorkerCrashedError):
    """The worker's walls (seccomp, capabilities) could not be set up on this machine: it
    refused to parse the file rather than parse it unconfined."""

    reason = "the cleaning sandbox is not available on this server"


class VerificationError(ScrubError):
    """The cleaned output, re-read, still carries fields the scrubber knows of."""

    reason = "metadata remained after cleaning"
