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
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import http.client
import io
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import ssl
import stat
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import urlsplit

from leakdrop._files import DAY, SHA256_HEX, fsync_dir, sha256_file
from leakdrop._terminal import Progress, shown
from leakdrop.layout import OUTBOX_NAME, check_token_syntax, is_valid_id
from leakdrop.sealing import (
    ENCRYPTED_CHUNK_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    HeaderError,
    header_length,
)

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

_T = TypeVar("_T")

PARTIAL_DIR: Final = ".partial"
PART_SUFFIX: Final = ".age.part"
_CHUNK: Final = 256 * 1024
_MAX_LISTING: Final = 32 * 1024 * 1024
_MAX_SIZE: Final = 1 << 50
_MAX_ERROR_BODY: Final = 4096
_DAY_RE: Final = DAY
_HEX64_RE: Final = SHA256_HEX
_CONTENT_RANGE_RE: Final = re.compile(r"bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19})")
_MAX_WAIT: Final = 120.0
_RETRY_AFTER_RE: Final = re.compile(r"[0-9]{1,9}")
#: After `timeout` seconds of an answer, the server must have sent at least this many bytes
#: per second on average, or the attempt is given up (and retried): a trickle of a byte
#: now and then never trips a socket timeout, and would keep a fetch running for days.
#: 4 KiB/s is a Tor circuit at its very worst.
MIN_RATE: Final = 4 * 1024
#: Free space always left on the stick, whatever the server announces.
_FREE_MARGIN: Final = 64 * 1024 * 1024
LOCK_FILE: Final = "fetch.lock"

# age v1 layout (age-encryption.org/v1): header, 16-byte nonce, then STREAM chunks of
# 64 KiB plaintext + 16-byte tag, the last one shorter (or full) and never empty unless it
# is the only one.
_AGE_INTRO: Final = b"age-encryption.org/v1\n"
_AGE_MAX_HEADER: Final = 1024 * 1024  # the sealing package's own bound on a header

#: Tor's extended SOCKS5 error codes for onion services (tor's socks-extensions.txt).
_SOCKS_ERRORS: Final = {
    1: "general failure",
    2: "not allowed by the proxy's rules",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired (timeout)",
    7: "command not supported",
    8: "address type not supported",
    0xF0: "onion service descriptor not found (address wrong, or service offline)",
    0xF1: "onion service descriptor invalid",
    0xF2: "onion service introduction failed",
    0xF3: "onion service rendezvous failed",
    0xF4: "onion service needs client authorization: add the editors' key to "
    "Tor's ClientOnionAuthDir (see docker/PICKUP.md)",
    0xF5: "onion service client authorization is wrong (see docker/PICKUP.md)",
    0xF6: "invalid onion address",
    0xF7: "onion service introduction timed out",
}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FetchError(Exception):
    """Something stopped a fetch (the message is for the editor)."""


class AuthError(FetchError):
    """The server refused the token (wrong or revoked) or throttles us."""


class VerifyError(FetchError):
    """A download is not the complete, unaltered ciphertext the server announced."""


class _Retry(FetchError):
    """A transient failure: reconnect and resume."""


# --------------------------------------------------------------------------- SOCKS5


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise FetchError("the SOCKS proxy closed the connection")
        data += chunk
    return bytes(data)


def socks5_connect(
    proxy: tuple[str, int], host: str, port: int, timeout: float, username: str
) -> socket.socket:
    """A socket connected to `host`:`port` through a SOCKS5 proxy (RFC 1928/1929).

    The name goes to the proxy unresolved (address type 3): Tor resolves it, or for a
    .onion, looks the service up; nothing is asked of the local DNS resolver.
    """
    try:
        name = host.encode("idna") if not host.isascii() else host.encode("ascii")
    except UnicodeError as exc:
        raise FetchError(f"cannot use host name {host!r}") from exc
    if not 0 < len(name) <= 255:
        raise FetchError("host name too long for SOCKS5")
    try:
        sock = socket.create_connection(proxy, timeout=timeout)
    except OSError as exc:
        raise FetchError(
            f"cannot reach the SOCKS proxy {proxy[0]}:{proxy[1]} (is Tor running?): "
            f"{exc.strerror or exc}"
        ) from exc
    try:
        # Offer "no authentication" and "username/password": Tor accepts any credentials
        # and uses them only to isolate circuits.
        sock.sendall(b"\x05\x02\x00\x02")
        version, method = _recv_exact(sock, 2)
        if version != 5:
            raise FetchError("the proxy is not a SOCKS5 proxy")
        if method == 2:
            user = username.encode("ascii")
            password = b"leakdrop"
            sock.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
            if _recv_exact(sock, 2)[1] != 0:
                raise FetchError("the SOCKS proxy refused the credentials")
        elif method != 0:
            raise FetchError("the SOCKS proxy accepts none of our authentication methods")
        sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + port.to_bytes(2, "big"))
        _, reply, _, atyp = _recv_exact(sock, 4)
        if reply != 0:
            text = _SOCKS_ERRORS.get(reply, f"error {reply:#04x}")
            raise FetchError(f"Tor/SOCKS could not connect to {host}: {text}")
        if atyp == 1:
            _recv_exact(sock, 4 + 2)
        elif atyp == 4:
            _recv_exact(sock, 16 + 2)
        elif atyp == 3:
            _recv_exact(sock, _recv_exact(sock, 1)[0] + 2)
        else:
            raise FetchError("malformed SOCKS5 reply")
    except BaseException:
        sock.close()
        raise
    return sock


# --------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    prefix: str
    socks: tuple[str, int] | None
    timeout: float
    #: SOCKS username: random per run, so Tor gives this run circuits of its own.
    isolation: str

    @classmethod
    def parse(cls, url: str, socks: str | None, timeout: float) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"--server must be an http:// or https:// URL, not {url!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise FetchError("--server must not hold credentials, a query or a fragment")
        host = parts.hostname
        proxy = _parse_hostport(socks) if socks else None
        if host.endswith(".onion") and proxy is None:
            # Without Tor the name would go to the DNS resolver: a leak, and useless.
            raise FetchError("a .onion server needs Tor: add --socks 127.0.0.1:9050")
        if parts.scheme == "http" and not host.endswith(".onion") and not _is_loopback(host):
            # Plain HTTP is safe only inside Tor's own encryption (an onion service) or on
            # this machine: anywhere else the bearer token crosses the network in clear
            # (through Tor, an exit relay would read it).
            raise FetchError(
                "refusing to send the token over plain http:// to a server that is neither "
                "a .onion address nor this machine: use the pickup's .onion address"
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FetchError(f"bad port in {url!r}") from exc
        return cls(
            scheme=parts.scheme,
            host=host,
            port=port,
            prefix=parts.path.rstrip("/"),
            socks=proxy,
            timeout=timeout,
            isolation="leakdrop-" + secrets.token_hex(8),
        )

    def connection(self) -> http.client.HTTPConnection:
        return _Connection(self)


def _parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise FetchError(f"--socks must be HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


class _Connection(http.client.HTTPConnection):
    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(endpoint.host, endpoint.port, timeout=endpoint.timeout)
        self._endpoint = endpoint

    def connect(self) -> None:
        ep = self._endpoint
        if ep.socks is not None:
            sock = socks5_connect(ep.socks, ep.host, ep.port, ep.timeout, ep.isolation)
        else:
            try:
                sock = socket.create_connection((ep.host, ep.port), timeout=ep.timeout)
            except OSError as exc:
                raise _Retry(f"cannot connect to {ep.host}:{ep.port}: {exc}") from exc
        if ep.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=ep.host)
        self.sock = sock


class _Client:
    def __init__(self, endpoint: Endpoint, token: str) -> None:
        self.endpoint = endpoint
        self._auth = f"Bearer {token}"

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn = self.endpoint.connection()
        all_headers = {"Authorization": self._auth, **(headers or {})}
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, self.endpoint.prefix + path, body=body, headers=all_headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _Retry(f"connection failed: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        if response.status == 401:
            conn.close()
            raise AuthError("the server refused the token (wrong or revoked?)")
        if response.status == 429:
            untrusted_wait = response.getheader("Retry-After") or ""
            conn.close()
            # RFC 9110 §10.2.3: delay-seconds is 1*DIGIT, ASCII digits only (str.isdigit
            # also takes "²"); an HTTP date, or anything else, counts as one second.
            match = _RETRY_AFTER_RE.fullmatch(untrusted_wait.strip())
            raise _Throttled(min(_MAX_WAIT, float(match.group(0))) if match else 1.0)
        return conn, response


class _Throttled(_Retry):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"the server throttles logins, retry in {seconds:g} s")
        self.seconds = seconds


class _RateGuard:
    """The minimum average rate of one answer, after a grace period (`MIN_RATE`)."""

    def __init__(self, grace: float, min_rate: int = MIN_RATE) -> None:
        self._start = time.monotonic()
        self._grace = grace
        self._min_rate = min_rate
        self.received = 0

    def add(self, n: int) -> None:
        self.received += n
        elapsed = time.monotonic() - self._start
        if elapsed > self._grace and self.received < self._min_rate * elapsed:
            raise _Retry(f"the server sends too slowly ({self.received} bytes in {elapsed:.0f} s)")


def _read_small(response: http.client.HTTPResponse, limit: int, grace: float) -> bytes:
    guard = _RateGuard(grace)
    data = bytearray()
    while len(data) <= limit:
        chunk = response.read1(min(_CHUNK, limit + 1 - len(data)))
        if not chunk:
            break
        data += chunk
        guard.add(len(chunk))
    if len(data) > limit:
        raise FetchError("the server's answer is too large")
    return bytes(data)


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class Listed:
    id: str
    size: int
    day: str
    sha256: str


def parse_listing(untrusted_data: bytes) -> list[Listed]:
    """The server's listing, validated: every id becomes a file name on the editor's disk."""
    try:
        doc = json.loads(untrusted_data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FetchError("the server's listing is not JSON") from exc
    if not isinstance(doc, list):
        raise FetchError("the server's listing is not a list")
    out: list[Listed] = []
    seen: set[str] = set()
    for item in doc:
        if (
            not isinstance(item, dict)
            or set(item) != {"id", "size", "day", "sha256"}
            or not isinstance(item["id"], str)
            or not is_valid_id(item["id"])
            or not isinstance(item["size"], int)
            or isinstance(item["size"], bool)
            or not 0 < item["size"] < _MAX_SIZE
            or not isinstance(item["day"], str)
            or not _DAY_RE.fullmatch(item["day"])
            or not isinstance(item["sha256"], str)
            or not _HEX64_RE.fullmatch(item["sha256"])
            or item["id"] in seen
        ):
            raise FetchError("the server's listing holds a malformed entry")
        seen.add(item["id"])
        out.append(Listed(item["id"], item["size"], item["day"], item["sha256"]))
    return out


# --------------------------------------------------------------------------- verification


def check_age_layout(path: Path, size: int) -> None:
    """Raise VerifyError unless `path` is a binary age file of exactly `size` bytes whose
    header parses and whose payload is a nonce and a well-formed STREAM chunk sequence.

    This refuses any file of the wrong size, a damaged header, and a cut that leaves a
    final chunk shorter than a tag or empty after others. It cannot see a cut inside the
    last chunk of a file whose size is unknown, nor a flipped byte (tags need the key):
    the announced size and SHA-256, checked as well, are the guard for those.
    """
    with path.open("rb") as fh:
        actual = os.fstat(fh.fileno()).st_size
        if actual != size:
            raise VerifyError(f"size {actual} differs from the announced {size}")
        untrusted_head = fh.read(_AGE_MAX_HEADER + 128)
    if not untrusted_head.startswith(_AGE_INTRO):
        raise VerifyError("not a binary age v1 file")
    try:
        # The sealing package's own parser, as strict as `decrypt` (no key needed).
        header_len = header_length(untrusted_head)
    except HeaderError as exc:
        raise VerifyError(f"age header invalid: {exc}") from exc
    payload = size - header_len - NONCE_SIZE
    if payload < TAG_SIZE:
        raise VerifyError("age file truncated: no payload")
    full, last = divmod(payload, ENCRYPTED_CHUNK_SIZE)
    if last == 0:
        last = ENCRYPTED_CHUNK_SIZE  # a full final chunk
        full -= 1
    if last < TAG_SIZE or (full > 0 and last == TAG_SIZE):
        # A final chunk shorter than a tag, or an empty final chunk after others: what a
        # cut in the middle of a chunk leaves.
        raise VerifyError("age payload does not end on a chunk boundary: truncated?")


def _verify(path: Path, item: Listed) -> None:
    check_age_layout(path, item.size)
    if sha256_file(path) != item.sha256:
        raise VerifyError("SHA-256 differs from the one the server announced")


# --------------------------------------------------------------------------- files


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some USB file systems cannot fsync a folder
        fsync_dir(path)


def _publish(part: Path, final: Path) -> None:
    """Give the verified file its final name without ever replacing anything."""
    try:
        os.link(part, final)
    except FileExistsError as exc:
        raise FetchError(f"{final} appeared meanwhile; left {part} in place") from exc
    except OSError:
        # FAT/exFAT sticks have no hard links: rename after an existence check.
        if os.path.lexists(final):
            raise FetchError(f"{final} appeared meanwhile; left {part} in place") from None
        os.rename(part, final)
    else:
        part.unlink()
    _fsync_dir(final.parent)


def _size_text(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError


def _say(text: str) -> None:
    # Messages quote exceptions, and http.client's quote what the server sent (a status
    # line, a header): escaped, so that a hostile pickup cannot write to the terminal.
    print(f"leakdrop fetch: {shown(text)}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- download


def _download_once(client: _Client, item: Listed, part: Path, progress: Progress) -> None:
    """One attempt to complete `part`; raises _Retry on a broken connection."""
    have = part.stat().st_size if part.exists() else 0
    if have > item.size:
        part.unlink()
        have = 0
    if have == item.size:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    conn, response = client.request("GET", f"/submissions/{item.id}", headers=headers)
    try:
        if response.status == 404:
            raise FetchError("gone from the server (expired, or fetched by another editor)")
        if response.status == 206:
            match = _CONTENT_RANGE_RE.fullmatch(response.getheader("Content-Range") or "")
            if (
                match is None
                or int(match.group(1)) != have
                or int(match.group(2)) != item.size - 1
                or int(match.group(3)) != item.size
            ):
                raise FetchError("the server answered a different range than asked")
            mode = "ab"
        elif response.status == 200:
            have, mode = 0, "wb"  # no resume offered: start over
        else:
            raise FetchError(f"unexpected answer {response.status} to a download")
        if have:
            _say(f"{item.id}: resuming at {_size_text(have)}")
        progress.advance(have)
        # 0600 from the first byte: ciphertext, but nobody else's business on a shared machine.
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        flags |= os.O_APPEND if mode == "ab" else os.O_TRUNC
        # Unbuffered: what was received is on the file as soon as it arrives, so a run
        # that is killed resumes from every byte it got.
        guard = _RateGuard(client.endpoint.timeout)
        with os.fdopen(os.open(part, flags, 0o600), "wb", buffering=0) as fh:
            try:
                while have < item.size:
                    chunk = response.read1(min(_CHUNK, item.size - have))
                    if not chunk:
                        break
                    view = memoryview(chunk)
                    while view:  # a raw file may take fewer bytes than given
                        view = view[fh.write(view) or 0 :]
                    have += len(chunk)
                    progress.advance(len(chunk))
                    guard.add(len(chunk))
            except _Retry:
                os.fsync(fh.fileno())  # what arrived is kept: the next attempt resumes
                raise
            except (OSError, http.client.HTTPException) as exc:
                os.fsync(fh.fileno())
                raise _Retry(f"connection broken at {_size_text(have)}: {exc}") from exc
            os.fsync(fh.fileno())
        if have < item.size:
            raise _Retry(f"connection ended early at {_size_text(have)}")
    finally:
        conn.close()


def _confirm(client: _Client, item: Listed) -> str:
    body = json.dumps({"sha256": item.sha256}).encode()
    conn, response = client.request("POST", f"/submissions/{item.id}/confirm", body=body)
    try:
        _read_small(response, _MAX_ERROR_BODY, client.endpoint.timeout)
        if response.status == 200:
            return "confirmed, deleted on the server"
        if response.status == 404:
            return "already gone on the server (expired or fetched by another editor)"
        if response.status == 409:
            raise FetchError("the server's copy no longer matches: kept, not deleted")
        raise FetchError(f"unexpected answer {response.status} to the confirmation")
    finally:
        conn.close()


def _with_retries(retries: int, what: str, action: Callable[[], _T]) -> _T:
    attempt = 0
    while True:
        try:
            return action()
        except _Throttled as exc:
            attempt += 1
            if attempt > retries:
                raise AuthError(str(exc)) from exc
            wait = min(_MAX_WAIT, exc.seconds)
            _say(f"{what}: {exc}")
            time.sleep(wait)
        except _Retry as exc:
            attempt += 1
            if attempt > retries:
                raise FetchError(f"{exc} (gave up after {retries} retries)") from exc
            _say(f"{what}: {exc}; retrying ({attempt}/{retries})")
            # Backoff: a Tor circuit that just broke needs a moment to be rebuilt.
            time.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))


def _fetch_one(client: _Client, item: Listed, out: Path, retries: int) -> str:
    final = out / f"{item.id}.age"
    part = out / PARTIAL_DIR / f"{item.id}{PART_SUFFIX}"
    if os.path.lexists(final):
        # Fetched earlier but not confirmed (the run stopped in between): confirm now if
        # it is the same ciphertext, never overwrite it.
        _verify(final, item)
        return _with_retries(retries, item.id, lambda: _confirm(client, item))
    need = _still_needed(out, item)
    if shutil.disk_usage(out).free < need + _FREE_MARGIN:
        raise FetchError(f"not enough free space in {out} ({_size_text(need)} needed)")
    progress = Progress(item.id[:12], item.size)
    try:
        _with_retries(retries, item.id, lambda: _download_once(client, item, part, progress))
    finally:
        progress.finish()
    try:
        _verify(part, item)
    except VerifyError:
        # Corrupt: never renamed, never confirmed; the server keeps its copy. The part is
        # removed so the next run downloads it afresh instead of resuming garbage.
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    _publish(part, final)
    return _with_retries(retries, item.id, lambda: _confirm(client, item))


def _still_needed(out: Path, item: Listed) -> int:
    """Bytes `item` will still add to OUT (nothing if it was saved before)."""
    if os.path.lexists(out / f"{item.id}.age"):
        return 0
    part = out / PARTIAL_DIR / f"{item.id}{PART_SUFFIX}"
    have = part.stat().st_size if part.exists() else 0
    return item.size - min(have, item.size)


def _drop_stale_parts(folder: Path, listed: set[str]) -> None:
    """Partial downloads of submissions the server no longer lists can never complete."""
    stale = 0
    for part in folder.iterdir():
        sub_id = part.name.removesuffix(PART_SUFFIX)
        if part.name.endswith(PART_SUFFIX) and sub_id not in listed and part.is_file():
            part.unlink()
            stale += 1
    if stale:
        _say(f"removed {stale} partial download(s) of submissions no longer on the server")


@dataclass
class FetchResult:
    listed: int = 0
    fetched: int = 0
    failed: int = 0
    #: Left on the server because the stick has no room for them.
    skipped: int = 0


def fetch_all(endpoint: Endpoint, token: str, out: Path, *, retries: int = 5) -> FetchResult:
    client = _Client(endpoint, token)
    (out / PARTIAL_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)

    def listing() -> list[Listed]:
        conn, response = client.request("GET", "/submissions")
        try:
            if response.status != 200:
                raise FetchError(f"unexpected answer {response.status} to the listing")
            try:
                data = _read_small(response, _MAX_LISTING, client.endpoint.timeout)
            except (OSError, http.client.HTTPException) as exc:
                raise _Retry(f"connection broken during the listing: {exc}") from exc
            return parse_listing(data)
        finally:
            conn.close()

    items: list[Listed] = _with_retries(retries, "listing", listing)
    _drop_stale_parts(out / PARTIAL_DIR, {i.id for i in items})
    result = FetchResult(listed=len(items))
    total = sum(i.size for i in items)
    _say(f"{len(items)} submission(s) on the server, {_size_text(total)}")
    # The whole listing against the free space, once: sizes are the server's word, and a
    # server must not be able to fill the stick (a margin is always left).
    budget = shutil.disk_usage(out).free - _FREE_MARGIN
    wanted = sum(_still_needed(out, i) for i in items)
    if wanted > budget:
        _say(
            f"{_size_text(wanted)} to download but {_size_text(max(0, budget))} free in {out}"
            " (less a margin): fetching what fits, the rest stays on the server"
        )
    for n, item in enumerate(items, start=1):
        _say(f"[{n}/{len(items)}] {item.id} ({_size_text(item.size)}, {item.day})")
        need = _still_needed(out, item)
        if need > budget:
            result.skipped += 1
            _say(f"{item.id}: NOT FETCHED, no room for {_size_text(need)} (kept on the server)")
            continue
        budget -= need
        try:
            outcome = _fetch_one(client, item, out, retries)
        except AuthError:
            raise
        except VerifyError as exc:
            result.failed += 1
            _say(f"{item.id}: NOT VERIFIED, not confirmed (kept on the server): {exc}")
            continue
        except FetchError as exc:
            result.failed += 1
            _say(f"{item.id}: FAILED: {exc}")
            continue
        except OSError as exc:
            result.failed += 1
            _say(f"{item.id}: FAILED: {exc.strerror or exc}")
            continue
        result.fetched += 1
        _say(f"{item.id}: saved {out / (item.id + '.age')}, verified, {outcome}")
    return result


# --------------------------------------------------------------------------- replies

OUTBOX_DIR: Final = "outbox"
SENT_DIR: Final = "sent"
_OUTBOX_NAME: Final = OUTBOX_NAME  # the names `leakdrop reply` writes
#: The pickup's own bound (`leakdrop.mailboxes.MAX_REPLY_BYTES`), checked here first so
#: that a wrong file in the outbox is reported by name instead of sent.
_MAX_REPLY: Final = 1024 * 1024


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0


def _send_one(client: _Client, path: Path) -> None:
    match = _OUTBOX_NAME.fullmatch(path.name)
    assert match is not None
    data = path.read_bytes()
    if len(data) > _MAX_REPLY or not data.startswith(b"age-encryption.org/v1\n"):
        raise FetchError("not a reply written by `leakdrop reply` (kept in the outbox)")
    conn, response = client.request(
        "POST",
        f"/replies/{match.group(1)}",
        headers={"Content-Type": "application/octet-stream"},
        body=data,
    )
    try:
        answer = _read_small(response, _MAX_ERROR_BODY, client.endpoint.timeout)
    except (OSError, http.client.HTTPException) as exc:
        raise _Retry(f"connection broken while sending: {exc}") from exc
    finally:
        conn.close()
    if response.status == 404:
        raise FetchError("the source's mailbox does not exist (expired?); kept in the outbox")
    if response.status != 201:
        raise FetchError(f"the server refused the reply ({response.status}); kept in the outbox")
    try:
        stored = json.loads(answer.decode("utf-8")).get("sha256")
    except (ValueError, UnicodeDecodeError, AttributeError):
        stored = None
    # Why compare: "sent" is a promise to the editor; only the server's own hash of what it
    # stored keeps it.
    if stored != hashlib.sha256(data).hexdigest():
        raise FetchError("the server did not confirm these exact bytes; kept in the outbox")


def send_replies(endpoint: Endpoint, token: str, out: Path, *, retries: int = 5) -> SendResult:
    """Send every reply in OUT/outbox/ through the pickup; move each sent one to sent/."""
    outbox = out / OUTBOX_DIR
    result = SendResult()
    if not outbox.is_dir():
        return result
    pending = sorted(p for p in outbox.iterdir() if p.is_file() and _OUTBOX_NAME.fullmatch(p.name))
    if not pending:
        return result
    client = _Client(endpoint, token)
    _say(f"{len(pending)} reply(ies) to send")
    for path in pending:
        try:
            _with_retries(retries, f"reply {path.name}", functools.partial(_send_one, client, path))
            sent = outbox / SENT_DIR
            sent.mkdir(mode=0o700, exist_ok=True)
            os.replace(path, sent / path.name)
            _fsync_dir(outbox)
            _fsync_dir(sent)
        except AuthError:
            raise
        except FetchError as exc:
            result.failed += 1
            _say(f"{path.name}: NOT SENT: {exc}")
            continue
        except OSError as exc:
            result.failed += 1
            _say(f"{path.name}: NOT SENT: {exc.strerror or exc}")
            continue
        result.sent += 1
        _say(f"{path.name}: sent, stored by the server, moved to {OUTBOX_DIR}/{SENT_DIR}/")
    return result


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
        _say(str(exc))
        return 2
    except OSError as exc:
        _say(f"cannot create {args.out}: {exc.strerror}")
        return 2
    try:
        replies = send_replies(endpoint, token, out, retries=args.retries)
        result = fetch_all(endpoint, token, out, retries=args.retries)
    except AuthError as exc:
        _say(str(exc))
        return 2
    except FetchError as exc:
        _say(str(exc))
        return 1
    except KeyboardInterrupt:
        _say("interrupted; run again to resume")
        return 130
    finally:
        lock.close()
    _say(
        f"{result.fetched} of {result.listed} fetched"
        + (f", {result.failed} FAILED" if result.failed else "")
        + (f", {result.skipped} left for lack of room" if result.skipped else "")
        + (f"; {replies.sent} reply(ies) sent" if replies.sent or replies.failed else "")
        + (f", {replies.failed} NOT SENT" if replies.failed else "")
    )
    return 1 if result.failed or result.skipped or replies.failed else 0
