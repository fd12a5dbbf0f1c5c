"""The one exception tree of `leakdrop.server`.

Every way a submission can be refused is a `SubmissionError` subclass carrying the HTTP
status and the key of the page that explains it to the source (in their language).
Third-party errors (python-multipart, OS errors, sealing) are translated into these once, at
the boundary where they occur. No message here ever holds a file name, a field value or
anything else the source sent: these messages may reach a log.
"""

from __future__ import annotations

from typing import ClassVar


class ServerError(Exception):
    """Base of every server error."""


class ConfigError(ServerError):
    """The server cannot start with this configuration (the message says why)."""


class SubmissionError(ServerError):
    """A submission was refused or failed; nothing of it was stored."""

    status: ClassVar[int] = 500
    page: ClassVar[str] = "internal"


class MalformedRequestError(SubmissionError):
    """Not a well-formed multipart/form-data body of the form we serve."""

    status = 400
    page = "malformed"


class LyingLengthError(MalformedRequestError):
    """The body was longer or shorter than its Content-Length said."""


class NoFilesError(SubmissionError):
    status = 400
    page = "no_files"


class TooLargeError(SubmissionError):
    status = 413
    page = "too_large"


class TooManyFilesError(SubmissionError):
    status = 413
    page = "too_many_files"


class MessageTooLongError(SubmissionError):
    status = 413
    page = "message_too_long"


class ServerFullError(SubmissionError):
    """Free disk space is below the threshold, or the disk filled up (ENOSPC)."""

    status = 507
    page = "full"


class BusyError(SubmissionError):
    """Too many submissions are being received at once."""

    status = 503
    page = "busy"


class ClientGoneError(SubmissionError):
    """The client disconnected (or went silent past the idle timeout) before the end."""

    status = 400
    page = "malformed"


class InternalError(SubmissionError):
    """A bug or an unexpected failure: the submission was not stored."""
