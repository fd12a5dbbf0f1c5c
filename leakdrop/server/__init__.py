"""The source-facing server (FastAPI on uvicorn).

    app = create_app(ServerConfig(storage=..., recipients=...))   # an ASGI application

`leakdrop serve` (`leakdrop.server.run.run_serve`) checks the keys and the storage, hardens
the process and runs it. See `leakdrop.server.pipeline` for the path of an upload.
"""

from leakdrop.server.app import CSP, create_app
from leakdrop.server.config import Limits, ServerConfig, parse_size
from leakdrop.server.errors import (
    BusyError,
    ClientGoneError,
    ConfigError,
    InternalError,
    LyingLengthError,
    MalformedRequestError,
    MessageTooLongError,
    NoFilesError,
    ServerError,
    ServerFullError,
    SubmissionError,
    TooLargeError,
    TooManyFilesError,
)

__all__ = [
    "CSP",
    "BusyError",
    "ClientGoneError",
    "ConfigError",
    "InternalError",
    "Limits",
    "LyingLengthError",
    "MalformedRequestError",
    "MessageTooLongError",
    "NoFilesError",
    "ServerConfig",
    "ServerError",
    "ServerFullError",
    "SubmissionError",
    "TooLargeError",
    "TooManyFilesError",
    "create_app",
    "parse_size",
]
