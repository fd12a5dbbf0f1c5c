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
from leakdrop.sealing import X25519Recipient
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
    #: Submissions being received or processed at once; more get the "busy" page.
    max_concurrent: int = 8
    #: Files up to this size are read into RAM and cleaned; bigger ones are sealed as
    #: received and reported "too large to clean".
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
    #: Bytes of an upload that is refused early still read (and discarded) so that the
    #: browser shows our error page instead of "connection reset".
    max_drain_bytes: int = 2 * GIB

    def __post_init__(self) -> None:
        for name in (
            "max_submission_bytes",
            "max_files",
            "max_message_chars",
            "max_concurrent",
            "scrub_workers",
            "max_part_header_bytes",
            "max_part_headers",
            "scrub_memory_bytes",
            "scrub_cpu_seconds",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.scrub_max_bytes < 0 or self.min_free_bytes < 0 or self.max_drain_bytes < 0:
            raise ConfigError("sizes must not be negative")
        # `not x > 0` also refuses NaN, which compares false with everything and would
        # make a timer that never fires. The upper bounds keep values within what the
        # kernel (setrlimit) and socket timeouts accept: beyond them every worker would
        # fail to start and every file would silently go out "not cleaned".
        for name in ("idle_timeout", "header_timeout", "scrub_wall_seconds"):
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
    recipients: tuple[X25519Recipient, ...]
    host: str = "127.0.0.1"
    port: int = 8080
    limits: Limits = field(default_factory=Limits)
    #: Name of the drop shown in titles.
    name: str = "Technopoleaks"
    #: Admin's "who runs this drop and why" per language (plain text, blank-line paragraphs).
    about: dict[str, str] = field(default_factory=dict)

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
            max_concurrent=number("max_concurrent", defaults.max_concurrent),
            scrub_max_bytes=size("scrub_max_bytes", defaults.scrub_max_bytes),
            scrub_workers=number("scrub_workers", defaults.scrub_workers),
            min_free_bytes=size("min_free_bytes", defaults.min_free_bytes),
            idle_timeout=seconds("idle_timeout", defaults.idle_timeout),
            header_timeout=seconds("header_timeout", defaults.header_timeout),
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
