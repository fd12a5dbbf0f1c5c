"""`leakdrop fetch`: download new submissions from the pickup listener, through Tor.

Runs on the newsroom's online machine with the base install only (standard library +
PyNaCl, and not even a key: everything fetched is ciphertext). For each submission listed:

1. download into ``OUT/.partial/<id>.age.part``, resuming with ``Range: bytes=N-`` after a
   broken connection (within this run, and in the next run if this one was stopped);
2. verify: the size the server announced, the SHA-256 it announced (re-read from OUT, so
   what is checked is what sits on the stick), and that the bytes are a complete age file
   (the header parses, and the STREAM chunk layout fits the size exactly: a truncated or
   padded file cannot pass). Tags cannot be checked without a key; the SHA-256 stands in;
3. fsync, rename to ``OUT/<id>.age``, fsync the folder;
4. only then ``POST confirm`` with the SHA-256, and the server deletes its copy.

A file that fails verification is deleted from ``.partial`` and never confirmed: the
server keeps its copy. Progress goes to stderr.

Tor: ``--socks HOST:PORT`` sends every connection through Tor's SOCKS5 port, handing it the
host *name* (never resolved here: resolving a .onion name would leak it to DNS). A random
SOCKS username per run puts this run on its own circuits (Tor's IsolateSOCKSAuth).

This module is the command (token file, lock, summary); the HTTP client and its defences
against a hostile pickup are `leakdrop.online._client`, the download loop
`leakdrop.online._download`, sending replies `leakdrop.online._replies`.
"""

from __future__ import annotations

import argparse
import fcntl
import io
import os
import shlex
import stat
from pathlib import Path
from typing import Final

from leakdrop.layout import check_token_syntax
from leakdrop.online._client import AuthError, Endpoint, FetchError, say, socks5_connect
from leakdrop.online._download import (
    PARTIAL_DIR,
    Listed,
    VerifyError,
    check_age_layout,
    fetch_all,
    parse_listing,
)
from leakdrop.online._replies import send_replies

__all__ = [
    "AuthError",
    "Endpoint",
    "FetchError",
    "Listed",
    "VerifyError",
    "check_age_layout",
    "fetch_all",
    "parse_listing",
    "run_fetch",
    "socks5_connect",
]

LOCK_FILE: Final = "fetch.lock"


def _read_token(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            untrusted_data = fh.read(4097)
    except OSError as exc:
        raise FetchError(f"cannot read token file {path}: {exc.strerror}") from exc
    if stat.S_IMODE(st.st_mode) & 0o077:
        # Refused, not warned about: a token others can read is a token others can use,
        # and a warning scrolls past in a script.
        raise FetchError(
            f"refusing the token file {path}: group or others may read it "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); fix: chmod 600 {shlex.quote(path)}"
        )
    token = untrusted_data.decode("ascii", "replace").strip()
    if not check_token_syntax(token):
        raise FetchError(f"{path} does not hold a leakdrop token (ldp1_...)")
    return token


def _lock(out: Path) -> io.BufferedWriter:
    """Hold OUT for this run: two fetches writing the same partial files and confirming
    the same submissions would corrupt each other's downloads."""
    # In the working folder, next to the partial downloads it protects, out of sight.
    (out / PARTIAL_DIR).mkdir(mode=0o700, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    handle = os.fdopen(os.open(out / PARTIAL_DIR / LOCK_FILE, flags, 0o600), "ab")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise FetchError(
            f"another leakdrop fetch is running on {out}: wait for it to finish"
        ) from exc
    return handle


def run_fetch(args: argparse.Namespace) -> int:
    try:
        if not args.server:
            raise FetchError("no server: use --server URL or LEAKDROP_PICKUP_URL")
        if not args.token_file:
            raise FetchError("no token: use --token-file FILE or LEAKDROP_TOKEN_FILE")
        if args.retries < 0 or args.timeout <= 0:
            raise FetchError("--retries must be >= 0 and --timeout > 0")
        endpoint = Endpoint.parse(args.server, args.socks, args.timeout)
        token = _read_token(args.token_file)
        out = Path(args.out)
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = _lock(out)
    except FetchError as exc:
        say(str(exc))
        return 2
    except OSError as exc:
        say(f"cannot create {args.out}: {exc.strerror}")
        return 2
    try:
        replies = send_replies(endpoint, token, out, retries=args.retries)
        result = fetch_all(endpoint, token, out, retries=args.retries)
    except AuthError as exc:
        say(str(exc))
        return 2
    except FetchError as exc:
        say(str(exc))
        return 1
    except KeyboardInterrupt:
        say("interrupted; run again to resume")
        return 130
    finally:
        lock.close()
    say(
        f"{result.fetched} of {result.listed} fetched"
        + (f", {result.failed} FAILED" if result.failed else "")
        + (f", {result.skipped} left for lack of room" if result.skipped else "")
        + (f"; {replies.sent} reply(ies) sent" if replies.sent or replies.failed else "")
        + (f", {replies.failed} NOT SENT" if replies.failed else "")
    )
    return 1 if result.failed or result.skipped or replies.failed else 0
