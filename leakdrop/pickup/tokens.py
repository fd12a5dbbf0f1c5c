"""Editors' access tokens for the pickup listener (`leakdrop token add|revoke|list`).

A token is 256 random bits, shown once when it is created and never stored: the token file
keeps only the SHA-256 of each token with the editor's name and the day it was made. A slow
hash (scrypt) would add nothing here: a 256-bit random secret cannot be guessed from its
hash, unlike a password. Checking a presented token hashes it and compares it with *every*
stored hash in constant time, so neither the answer time nor an early exit tells anything
about which stored hash came close.

File format (JSON, mode 0600, replaced atomically)::

    {"format": "leakdrop-tokens", "version": 1,
     "tokens": [{"name": "alice", "sha256": "<64 hex>", "created": "YYYY-MM-DD"}]}

`AuthThrottle` slows down guessing. There is no client identity to throttle per client (every
request comes from the local tor daemon), so it is global per listener: after a few failures
in a row every request is refused with 429 for a delay that doubles with each further
failure, *without looking at the token* (a throttled answer must not be an oracle).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from leakdrop._files import DAY, SHA256_HEX, fsync_dir
from leakdrop.layout import TOKEN_PREFIX, check_token_syntax

__all__ = [
    "AuthThrottle",
    "TokenEntry",
    "TokenError",
    "TokenStore",
    "add_token",
    "hash_token",
    "list_tokens",
    "load_tokens",
    "revoke_token",
    "run_token",
]

FORMAT: Final = "leakdrop-tokens"
VERSION: Final = 1
_TOKEN_BYTES: Final = 32
_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HEX64_RE: Final = SHA256_HEX
_DAY_RE: Final = DAY
MAX_TOKENS: Final = 1000
MAX_FILE_BYTES: Final = 1024 * 1024


class TokenError(Exception):
    """The token file is unusable or a token command cannot be done (message for the admin)."""


@dataclass(frozen=True)
class TokenEntry:
    name: str
    sha256: str
    created: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


# --------------------------------------------------------------------------- the file


def _parse(untrusted_data: bytes, path: Path) -> list[TokenEntry]:
    try:
        doc = json.loads(untrusted_data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise TokenError(f"{path}: not a token file (invalid JSON)") from exc
    if (
        not isinstance(doc, dict)
        or doc.get("format") != FORMAT
        or doc.get("version") != VERSION
        or not isinstance(doc.get("tokens"), list)
    ):
        raise TokenError(f"{path}: not a leakdrop token file (version {VERSION})")
    entries: list[TokenEntry] = []
    names: set[str] = set()
    for item in doc["tokens"]:
        if (
            not isinstance(item, dict)
            or set(item) != {"name", "sha256", "created"}
            or not isinstance(item["name"], str)
            or not _NAME_RE.fullmatch(item["name"])
            or not isinstance(item["sha256"], str)
            or not _HEX64_RE.fullmatch(item["sha256"])
            or not isinstance(item["created"], str)
            or not _DAY_RE.fullmatch(item["created"])
        ):
            raise TokenError(f"{path}: malformed token entry")
        if item["name"] in names:
            raise TokenError(f"{path}: name {item['name']!r} appears twice")
        names.add(item["name"])
        entries.append(TokenEntry(item["name"], item["sha256"], item["created"]))
    if len(entries) > MAX_TOKENS:
        raise TokenError(f"{path}: more than {MAX_TOKENS} tokens")
    return entries


def _check_mode(st: os.stat_result, path: Path) -> None:
    # Whoever can write this file can let themselves in: refuse a file (or a symlink
    # target) others may change. Reading the hashes gives nothing away.
    if not stat.S_ISREG(st.st_mode):
        raise TokenError(f"{path}: not a regular file")
    if st.st_mode & 0o022:
        raise TokenError(
            f"{path}: writable by group or others (mode {st.st_mode & 0o777:o}): chmod 600 {path}"
        )


def load_tokens(path: Path) -> list[TokenEntry]:
    """The entries of the token file; a missing file has none."""
    try:
        with path.open("rb") as fh:
            _check_mode(os.fstat(fh.fileno()), path)
            untrusted_data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise TokenError(f"{path}: cannot read: {exc.strerror}") from exc
    if len(untrusted_data) > MAX_FILE_BYTES:
        raise TokenError(f"{path}: too large for a token file")
    return _parse(untrusted_data, path)


def _save(path: Path, entries: Sequence[TokenEntry]) -> None:
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "tokens": [{"name": e.name, "sha256": e.sha256, "created": e.created} for e in entries],
    }
    data = (json.dumps(doc, indent=2) + "\n").encode("ascii")
    folder = path.parent
    # mkstemp creates the file 0600: the hashes are never readable by others, even for the
    # instant before the rename.
    fd, tmp = tempfile.mkstemp(prefix=".tokens-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # Atomic: a listener reloading the file sees the old list or the new one, never a
        # half-written one (a half-written file would lock every editor out).
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def add_token(path: Path, name: str) -> str:
    """Create a token for `name`; returns it (the only time it exists in clear)."""
    if not _NAME_RE.fullmatch(name):
        raise TokenError("a name is 1-64 characters of A-Z a-z 0-9 . _ - (starting with one")
    entries = load_tokens(path)
    if any(e.name == name for e in entries):
        raise TokenError(f"{name!r} already has a token: revoke it first")
    if len(entries) >= MAX_TOKENS:
        raise TokenError(f"at most {MAX_TOKENS} tokens")
    token = _new_token()
    day = datetime.now(UTC).date().isoformat()
    _save(path, [*entries, TokenEntry(name, hash_token(token), day)])
    return token


def revoke_token(path: Path, name: str) -> None:
    entries = load_tokens(path)
    kept = [e for e in entries if e.name != name]
    if len(kept) == len(entries):
        raise TokenError(f"no token named {name!r}")
    _save(path, kept)


def list_tokens(path: Path) -> list[TokenEntry]:
    return load_tokens(path)


# --------------------------------------------------------------------------- the listener


class TokenStore:
    """The token file as the listener sees it: reloaded whenever it changes on disk, so a
    `leakdrop token revoke` takes effect at the next request without a restart."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int, int] | None = None
        self._hashes: tuple[tuple[bytes, str], ...] = ()
        self.reload()

    def _file_stamp(self) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def reload(self) -> None:
        with self._lock:
            stamp = self._file_stamp()
            entries = load_tokens(self._path)
            self._hashes = tuple((bytes.fromhex(e.sha256), e.name) for e in entries)
            self._stamp = stamp

    def _fresh(self) -> tuple[tuple[bytes, str], ...]:
        if self._file_stamp() != self._stamp:
            try:
                self.reload()
            except TokenError:
                # A broken file must fail closed: nobody gets in until it is fixed.
                with self._lock:
                    self._hashes = ()
                    self._stamp = None
                raise
        return self._hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def check(self, untrusted_token: str) -> str | None:
        """The editor's name if the token is valid and not revoked, else None."""
        try:
            hashes = self._fresh()
        except TokenError:
            return None
        if not check_token_syntax(untrusted_token):
            return None
        presented = hashlib.sha256(untrusted_token.encode("ascii")).digest()
        found: str | None = None
        for stored, name in hashes:
            # Every stored hash is compared, each in constant time: no early exit.
            if hmac.compare_digest(presented, stored):
                found = name
        return found


class AuthThrottle:
    """Global backoff after failed authentications (see the module docstring).

    After `free_failures` failures in a row (each answered normally) the listener is locked
    for `base_delay` seconds, then `base_delay * 2**k` after each further failure (capped at
    `max_delay`), as docker/PICKUP.md says: with the default 5, the 6th request is refused.
    A success while unlocked resets the count. The lock is the listener's, so it stops
    every editor, not only whoever failed.
    The count also leaks away, one failure per `decay_seconds` of quiet (a leaky bucket):
    without it, one bad request every few minutes, forever, would keep every editor out.
    """

    def __init__(
        self,
        *,
        free_failures: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        decay_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = free_failures
        self._base = base_delay
        self._max = max_delay
        self._decay = decay_seconds
        self._clock = clock
        self._failures = 0.0
        self._last = clock()
        self._locked_until = 0.0
        self._lock = threading.Lock()

    def retry_after(self) -> float:
        """Seconds left of the current lock, 0 when requests may be checked."""
        with self._lock:
            return max(0.0, self._locked_until - self._clock())

    def failure(self) -> None:
        with self._lock:
            now = self._clock()
            leaked = (now - self._last) / self._decay if self._decay > 0 else 0.0
            self._failures = max(0.0, self._failures - leaked) + 1
            self._last = now
            excess = math.ceil(self._failures) - self._free
            if excess >= 0:
                delay = min(self._max, self._base * 2 ** min(excess, 30))
                self._locked_until = now + delay

    def success(self) -> None:
        with self._lock:
            self._failures = 0.0


# --------------------------------------------------------------------------- command


def run_token(args: argparse.Namespace) -> int:
    if not args.tokens:
        print(
            "leakdrop token: no token file: use --tokens FILE or LEAKDROP_TOKENS", file=sys.stderr
        )
        return 2
    path = Path(args.tokens)
    try:
        if args.action == "add":
            token = add_token(path, args.name)
            print(
                f"Token for {args.name} (shown only now; give it to the editor over a safe "
                "channel, they save it in a file for `leakdrop fetch --token-file`):",
                file=sys.stderr,
            )
            print(token, flush=True)
        elif args.action == "revoke":
            revoke_token(path, args.name)
            print(f"revoked the token of {args.name}", file=sys.stderr)
        else:
            entries = list_tokens(path)
            for entry in entries:
                print(f"{entry.name}\tcreated {entry.created}")
            print(f"{len(entries)} token(s)", file=sys.stderr)
    except TokenError as exc:
        print(f"leakdrop token: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"leakdrop token: {path}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0
