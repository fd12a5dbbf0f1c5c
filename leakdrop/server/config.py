"""Server settings: limits, storage and keys, the admin's texts.

Every setting has a command-line option and a ``LEAKDROP_*`` environment variable (see
``leakdrop serve --help``); `ServerConfig.from_args` validates them all before anything
listens, so a wrong setting stops the server at start instead of failing a source later.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import scrubbers
from leakdrop.keys import KeysError, load_recipients_dir
from leakdrop.sealing import AnyRecipient
from leakdrop.server.errors import ConfigError

KIB: Final = 1024
MIB: Final = 1024 * KIB
GIB: Final = 1024 * MIB

_SIZE_RE: Final = re.compile(r"\s*([0-9]+)\s*([KMGT]?)(i?B)?\s*", re.IGNORECASE)
_UNITS: Final = {"": 1, "K": KIB, "M": MIB, "G": GIB, "T": 1024 * GIB}
#: Longest timeout or time limit accepted (one day).
MAX_SECONDS: Final = 86_400
#: Largest worker address space accepted (far above any machine's RAM, within rlim_t).
MAX_RLIMIT_BYTES: Final = 1 << 50
#: The admin's texts are shown on the landing page; they are small.
MAX_ABOUT_BYTES: Final = 64 * KIB
#: RAM one upload in progress may hold at most: the batch being gathered from the socket,
#: the batch queued for the parser thread and the one it parses (`pipeline.FEED_BYTES`
#: each); the spool's pieces are views into that last batch, and its cipher buffer is
#: sized to the piece (`spool.SpoolFile`). A trickling upload holds far less. Measured:
#: tests/test_memory.py.
UPLOAD_MEMORY_BYTES: Final = 3 * MIB
#: Connections beyond the uploads, for the pages (landing, stylesheet, receipts in flight)
#: and connections still sending their headers (at most `max_header_bytes` each).
PAGE_CONNECTIONS: Final = 64


def parse_size(text: str) -> int:
    """``"1G"``, ``"512MiB"``, ``"1048576"`` -> bytes (binary units)."""
    match = _SIZE_RE.fullmatch(text)
    if match is None:
        raise ConfigError(f"not a size: {text!r} (examples: 1048576, 512M, 1GiB)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


@dataclass(frozen=True)
class Limits:
    """Bounds enforced while the upload streams (never after the fact)."""

    #: Sum of the files' bytes in one submission (leaks are often big: 1 GiB).
    max_submission_bytes: int = 1 * GIB
    max_files: int = 100
    #: Characters of the message (also bounded in bytes while streaming: 4 per character).
    max_message_chars: int = 100_000
    #: RAM set aside for uploads being received (`UPLOAD_MEMORY_BYTES` each): 768 MiB
    #: receive 256 uploads at once. Receiving costs a socket and this memory, not CPU.
    receive_memory_bytes: int = 768 * MIB
    #: A cap on uploads received at once, below what `receive_memory_bytes` allows (None:
    #: that budget alone decides). More get the "busy" page.
    max_concurrent: int | None = None
    #: Files up to this size are read into RAM and cleaned; bigger ones are sealed as
    #: received and reported "too large to clean" -- except `scrubbers.STREAMED_TYPES`
    #: (PDFs, videos, WAV/AIFF/FLAC/MP3/Ogg recordings), which above
    #: `scrubbers.Limits.stream_above_bytes` are cleaned by ranges at any size.
    scrub_max_bytes: int = 256 * MIB
    #: Cleaning workers at once (each is a process holding one file in memory).
    scrub_workers: int = max(1, os.cpu_count() or 1)
    #: Below this much free space on the storage file system, refuse with "full" (507). A
    #: submission needs about twice its size while it is processed (spool + sealed output).
    min_free_bytes: int = 512 * MIB
    #: A client that sends nothing for this long is dropped (slow Tor circuits are fine; a
    #: silent connection holding a slot is not).
    idle_timeout: float = 120.0
    #: Seconds a connection gets to send the headers of a request, counted from when the
    #: server starts waiting for them (connection opened, or previous response sent); at
    #: most `idle_timeout`. A request's headers are a few hundred bytes: a client that has
    #: not sent them by then is holding a socket (and a Tor circuit) open, not uploading.
    header_timeout: float = 30.0
    #: After `rate_grace` seconds of waiting for the body, an upload must have arrived at
    #: this average rate (bytes per second) or it is dropped, nothing kept. Tor circuits
    #: carry tens to hundreds of KiB/s; 4 KiB/s is a circuit at its worst, and a client
    #: that holds an upload slot open with a trickle is cut after the grace period.
    min_upload_rate: int = 4 * KIB
    rate_grace: float = 30.0
    #: A request's headers (request line included): total bytes and number of lines.
    #: Browsers send under 2 KiB in about 15 lines; above these, the connection is closed.
    max_header_bytes: int = 32 * KIB
    max_header_lines: int = 64
    #: Each cleaning worker's address space (RLIMIT_AS): a parser bomb dies there, not in
    #: the server. Lower it on a small machine (workers x this must fit in its RAM).
    scrub_memory_bytes: int = scrubbers.DEFAULT_LIMITS.memory_bytes
    #: CPU seconds of one cleaning (RLIMIT_CPU) and its wall-clock bound (a worker that
    #: sleeps or waits costs no CPU but still holds a worker slot).
    scrub_cpu_seconds: int = scrubbers.DEFAULT_LIMITS.cpu_seconds
    scrub_wall_seconds: float = scrubbers.DEFAULT_LIMITS.wall_seconds
    #: One header line of a part (a long file name must fit: it is cut when stored).
    max_part_header_bytes: int = 64 * KIB
    max_part_headers: int = 8
    #: After a refusal that comes before the end of the body, the page is sent at once and
    #: the rest of the body is read and discarded for `refusal_linger` seconds (at most
    #: `max_drain_bytes`), then the connection is closed: the browser has the page before
    #: the close (closing with unread bytes resets the connection, and a browser that gets
    #: the reset before reading the page shows "connection reset" instead).
    max_drain_bytes: int = 2 * GIB
    refusal_linger: float = 5.0

    def __post_init__(self) -> None:
        for name in (
            "max_submission_bytes",
            "max_files",
            "max_message_chars",
            "receive_memory_bytes",
            "scrub_workers",
            "max_part_header_bytes",
            "max_part_headers",
            "scrub_memory_bytes",
            "scrub_cpu_seconds",
            "max_header_bytes",
            "max_header_lines",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ConfigError("max_concurrent must be at least 1")
        if self.receive_memory_bytes < UPLOAD_MEMORY_BYTES:
            raise ConfigError(f"receive_memory_bytes must be at least {UPLOAD_MEMORY_BYTES}")
        if self.min_upload_rate < 0:
            raise ConfigError("min_upload_rate must not be negative")
        if self.scrub_max_bytes < 0 or self.min_free_bytes < 0 or self.max_drain_bytes < 0:
            raise ConfigError("sizes must not be negative")
        # `not x > 0` also refuses NaN, which compares false with everything and would
        # make a timer that never fires. The upper bounds keep values within what the
        # kernel (setrlimit) and socket timeouts accept: beyond them every worker would
        # fail to start and every file would silently go out "not cleaned".
        for name in (
            "idle_timeout",
            "header_timeout",
            "scrub_wall_seconds",
            "rate_grace",
            "refusal_linger",
        ):
            value = getattr(self, name)
            if not (value > 0 and value <= MAX_SECONDS):
                raise ConfigError(f"{name} must be a number of seconds in (0, {MAX_SECONDS}]")
        if self.scrub_cpu_seconds > MAX_SECONDS:
            raise ConfigError(f"scrub_cpu_seconds must be at most {MAX_SECONDS}")
        if self.scrub_memory_bytes > MAX_RLIMIT_BYTES:
            raise ConfigError(f"scrub_memory_bytes must be at most {MAX_RLIMIT_BYTES}")

    @property
    def header_deadline(self) -> float:
        """Seconds to send a request's headers: never longer than a silence is allowed."""
        return min(self.header_timeout, self.idle_timeout)

    @property
    def upload_slots(self) -> int:
        """Uploads received at once: what the memory budget holds, or the cap if lower.
        (Free disk space bounds them too, per upload, as they come: `Processor`.)"""
        slots = self.receive_memory_bytes // UPLOAD_MEMORY_BYTES
        if self.max_concurrent is not None:
            slots = min(slots, self.max_concurrent)
        return slots

    @property
    def connection_limit(self) -> int:
        """uvicorn's ``limit_concurrency``: the uploads plus the pages (above it uvicorn
        answers 503 without running the app)."""
        return self.upload_slots + PAGE_CONNECTIONS

    @property
    def max_message_bytes(self) -> int:
        return 4 * self.max_message_chars

    @property
    def max_body_bytes(self) -> int:
        """The whole request body: files, message and the multipart framing around them."""
        framing = (self.max_files + 2) * (2 * self.max_part_header_bytes + 512)
        return self.max_submission_bytes + self.max_message_bytes + framing


@dataclass(frozen=True)
class ServerConfig:
    storage: Path
    recipients: tuple[AnyRecipient, ...]
    host: str = "127.0.0.1"
    port: int = 8080
    limits: Limits = field(default_factory=Limits)
    #: Name of the drop shown in titles.
    name: str = "Technopoleaks"
    #: Admin's "who runs this drop and why" per language (plain text, blank-line paragraphs).
    about: dict[str, str] = field(default_factory=dict)
    #: ``--demo``: every page says, visibly, that this drop is a demonstration.
    demo: bool = False

    @staticmethod
    def from_args(args: argparse.Namespace, *, keys: Path, storage: Path) -> ServerConfig:
        try:
            # The demo's key is accepted by the demo alone (see keys.DEMO_KEY_MARKER).
            demo = getattr(args, "demo", False) is True
            recipients = tuple(load_recipients_dir(keys, allow_demo=demo))
        except KeysError as exc:
            raise ConfigError(str(exc)) from exc
        defaults = Limits()

        def size(name: str, default: int) -> int:
            value = getattr(args, name, None)
            if value in (None, ""):
                return default
            try:
                return parse_size(str(value))
            except ConfigError as exc:
                raise ConfigError(f"{name}: {exc}") from exc

        def number(name: str, default: int) -> int:
            value = getattr(args, name, None)
            if value in (None, ""):
                return default
            try:
                return int(str(value))
            except ValueError as exc:
                raise ConfigError(f"{name}: not a whole number: {value!r}") from exc

        def seconds(name: str, default: float) -> float:
            value = getattr(args, name, None)
            if value in (None, ""):
                return default
            try:
                return float(str(value))
            except ValueError as exc:
                raise ConfigError(f"{name}: not a number of seconds: {value!r}") from exc

        limits = Limits(
            max_submission_bytes=size("max_submission_bytes", defaults.max_submission_bytes),
            max_files=number("max_files", defaults.max_files),
            max_message_chars=number("max_message_chars", defaults.max_message_chars),
            receive_memory_bytes=size("receive_memory_bytes", defaults.receive_memory_bytes),
            # 0 or unset: no cap beyond the memory budget.
            max_concurrent=number("max_concurrent", 0) or None,
            scrub_max_bytes=size("scrub_max_bytes", defaults.scrub_max_bytes),
            scrub_workers=number("scrub_workers", defaults.scrub_workers),
            min_free_bytes=size("min_free_bytes", defaults.min_free_bytes),
            idle_timeout=seconds("idle_timeout", defaults.idle_timeout),
            header_timeout=seconds("header_timeout", defaults.header_timeout),
            min_upload_rate=size("min_upload_rate", defaults.min_upload_rate),
            rate_grace=seconds("rate_grace", defaults.rate_grace),
            scrub_memory_bytes=size("scrub_memory_bytes", defaults.scrub_memory_bytes),
            scrub_cpu_seconds=number("scrub_cpu_seconds", defaults.scrub_cpu_seconds),
            scrub_wall_seconds=seconds("scrub_wall_seconds", defaults.scrub_wall_seconds),
        )
        about_dir = getattr(args, "about", None)
        return ServerConfig(
            storage=storage,
            recipients=recipients,
            host=args.host,
            port=int(args.port),
            limits=limits,
            name=getattr(args, "name", None) or "Technopoleaks",
            about=load_about(Path(about_dir)) if about_dir else {},
            demo=demo,
        )


def load_about(folder: Path) -> dict[str, str]:
    """``fr.txt`` / ``en.txt`` from the admin's folder (at least one must exist)."""
    about: dict[str, str] = {}
    if not folder.is_dir():
        raise ConfigError(f"{folder}: about folder not found")
    for lang in ("fr", "en"):
        path = folder / f"{lang}.txt"
        if not path.exists():
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        if len(data) > MAX_ABOUT_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_ABOUT_BYTES} bytes")
        try:
            about[lang] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text") from exc
    if not about:
        raise ConfigError(f"{folder}: needs fr.txt and/or en.txt")
    return about
