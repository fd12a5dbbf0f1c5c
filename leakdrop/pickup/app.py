"""The pickup listener: a small ASGI application that serves only ciphertext to editors.

Routes (all but ``/healthz`` need ``Authorization: Bearer <token>``)::

    GET  /submissions                  [{"id", "size", "day", "sha256"}, ...]
    GET  /submissions/{id}             the age file (Range: bytes=N- supported)
    POST /submissions/{id}/confirm     {"sha256": "..."} -> the file is deleted
    POST /replies/{mailbox id}         an age file (a reply, sealed offline) -> filed
                                       under the source's mailbox: {"sha256": "..."}
    GET  /healthz                      "ok" (for the container's health check)

Replies go one way: the pickup files them and never serves one back (only the source,
with the codename, reads them, on the source-facing server). An unknown mailbox is
refused with 404, so an editor learns at once that a reply could not be delivered.

It is its own application object on its own port (and its own onion service, with Tor
client authorization): the source-facing app has no route to any of this, and this one has
none to anything a source sees. It is written directly against ASGI, without a framework,
so every byte of every answer is visible here: no access log, no exception text, no
framework error pages, no docs routes.

Authentication comes first on every route: without a valid token nothing is learnt, not
even whether an id exists. Failures are throttled globally (see `leakdrop.pickup.tokens`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from leakdrop._files import SHA256_HEX
from leakdrop._listener import security_headers
from leakdrop.mailboxes import MAX_REPLY_BYTES, MailboxError, Mailboxes, NoSuchMailboxError
from leakdrop.pickup.expiry import expire_submissions
from leakdrop.pickup.store import (
    HashCache,
    delete_submission,
    is_valid_id,
    open_submission,
    scan_submissions,
)
from leakdrop.pickup.tokens import AuthThrottle, TokenStore

__all__ = ["PickupApp", "PickupConfig", "parse_range"]

log = logging.getLogger("leakdrop.pickup")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The same headers as the source-facing server; the pickup serves no page, so its policy
#: allows nothing at all.
SECURITY_HEADERS: Final = security_headers(
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_SEND_CHUNK: Final = 256 * 1024
_MAX_BODY: Final = 4096
_MAX_AUTH_HEADER: Final = 256
_RANGE_RE: Final = re.compile(r"bytes=([0-9]{1,19})-([0-9]{0,19})")
_SHA_RE: Final = SHA256_HEX


@dataclass(frozen=True)
class PickupConfig:
    storage: Path
    tokens: Path
    free_failures: int = 5
    base_delay: float = 1.0
    max_delay: float = 300.0
    reply_days: int = 90


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(first, last) byte positions for a single `bytes=` range, None to send the whole
    file, or "unsatisfiable". Multi-range, suffix and malformed headers are ignored (RFC
    9110 allows that): the client then gets the whole file and its checksum still holds."""
    if header is None:
        return None
    match = _RANGE_RE.fullmatch(header.strip())
    if match is None:
        return None
    first = int(match.group(1))
    if first >= size:
        return "unsatisfiable"
    last = int(match.group(2)) if match.group(2) else size - 1
    if last < first:
        return None
    return first, min(last, size - 1)


class PickupApp:
    def __init__(self, config: PickupConfig) -> None:
        self.config = config
        self.tokens = TokenStore(config.tokens)
        self.throttle = AuthThrottle(
            free_failures=config.free_failures,
            base_delay=config.base_delay,
            max_delay=config.max_delay,
        )
        self.hashes = HashCache()
        self._storage = config.storage
        self.mailboxes = Mailboxes(config.storage)
        self.mailboxes.prepare()

    # ------------------------------------------------------------------ plumbing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: not served
        started = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._route(scope, receive, guarded)
        except Exception as exc:  # noqa: BLE001 - only the type is logged, never the text
            log.error("internal error (%s)", type(exc).__name__)
            if not started:
                await _answer(send, 500, {"error": "internal error"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _authenticate(self, scope: Scope) -> tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]:
        """(0, ...) when authenticated, else the status, body and headers to answer."""
        wait = self.throttle.retry_after()
        if wait > 0:
            # Locked: the token is not even looked at, so a throttled answer tells nothing.
            return (
                429,
                {"error": "too many failed attempts, try later"},
                [(b"retry-after", str(math.ceil(wait)).encode())],
            )
        untrusted_value = _header(scope, b"authorization")
        token = None
        if untrusted_value is not None and len(untrusted_value) <= _MAX_AUTH_HEADER:
            scheme, _, rest = untrusted_value.partition(" ")
            if scheme.lower() == "bearer":
                token = rest.strip()
        if token is not None and self.tokens.check(token) is not None:
            self.throttle.success()
            return 0, {}, []
        self.throttle.failure()
        return 401, {"error": "unauthorized"}, [(b"www-authenticate", b'Bearer realm="pickup"')]

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        if path == "/healthz":
            if method != "GET":
                await _answer(send, 405, {"error": "method not allowed"})
                return
            await _answer(send, 200, "ok")
            return

        status, body, extra = self._authenticate(scope)
        if status:
            await _answer(send, status, body, extra)
            return

        parts = path.split("/")
        if len(parts) == 3 and parts[1] == "replies":
            if method != "POST":
                await _answer(send, 405, {"error": "method not allowed"})
                return
            await self._file_reply(receive, send, parts[2])
            return
        # ["", "submissions"], ["", "submissions", id], ["", "submissions", id, "confirm"]
        if len(parts) < 2 or parts[1] != "submissions" or len(parts) > 4:
            await _answer(send, 404, {"error": "not found"})
            return
        if len(parts) == 2:
            if method != "GET":
                await _answer(send, 405, {"error": "method not allowed"})
                return
            await self._list(send)
            return
        untrusted_id = parts[2]
        # Strict shape before anything touches the file system.
        if not is_valid_id(untrusted_id):
            await _answer(send, 404, {"error": "not found"})
            return
        if len(parts) == 3 and method in ("GET", "HEAD"):
            await self._download(scope, receive, send, untrusted_id, head=method == "HEAD")
        elif len(parts) == 4 and parts[3] == "confirm" and method == "POST":
            await self._confirm(receive, send, untrusted_id)
        elif len(parts) == 3 or (len(parts) == 4 and parts[3] == "confirm"):
            await _answer(send, 405, {"error": "method not allowed"})
        else:
            await _answer(send, 404, {"error": "not found"})

    # ------------------------------------------------------------------ routes

    def _listing(self) -> list[dict[str, Any]]:
        found, _ = scan_submissions(self._storage)
        self.hashes.keep_only(found)
        listing = []
        for sub in found:
            digest = self.hashes.get(sub)
            if digest is None:
                continue  # deleted while we looked
            listing.append({"id": sub.id, "size": sub.size, "day": sub.day, "sha256": digest})
        return listing

    async def _list(self, send: Send) -> None:
        listing = await asyncio.to_thread(self._listing)
        await _answer(send, 200, listing)

    async def _download(
        self, scope: Scope, receive: Receive, send: Send, sub_id: str, *, head: bool
    ) -> None:
        opened = await asyncio.to_thread(open_submission, self._storage, sub_id)
        if opened is None:
            await _answer(send, 404, {"error": "not found"})
            return
        fd, info = opened
        try:
            size = info.size
            wanted = parse_range(_header(scope, b"range"), size)
            if wanted == "unsatisfiable":
                await _answer(
                    send,
                    416,
                    {"error": "range not satisfiable"},
                    [(b"content-range", f"bytes */{size}".encode())],
                )
                return
            headers = [
                (b"content-type", b"application/octet-stream"),
                (b"accept-ranges", b"bytes"),
            ]
            if isinstance(wanted, tuple):
                first, last = wanted
                status = 206
                headers.append((b"content-range", f"bytes {first}-{last}/{size}".encode()))
            else:
                first, last, status = 0, size - 1, 200
            length = last - first + 1
            headers.append((b"content-length", str(length).encode()))
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": _with_security(headers),
                }
            )
            if head or length == 0:
                await send({"type": "http.response.body", "body": b""})
                return
            await self._stream(fd, first, length, receive, send)
        finally:
            os.close(fd)

    async def _stream(
        self, fd: int, offset: int, length: int, receive: Receive, send: Send
    ) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            # A client that hangs up (Tor circuit gone) stops the transfer: no point reading
            # a gigabyte nobody receives.
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return

        watcher = asyncio.create_task(watch())
        try:
            remaining = length
            while remaining and not gone.is_set():
                chunk = await asyncio.to_thread(os.pread, fd, min(_SEND_CHUNK, remaining), offset)
                if not chunk:
                    break  # truncated under us: the client sees a short body and resumes
                offset += len(chunk)
                remaining -= len(chunk)
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": remaining > 0}
                )
            if remaining and not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    def _delete_if(self, sub_id: str, untrusted_sha: str) -> int:
        opened = open_submission(self._storage, sub_id)
        if opened is None:
            return 404
        fd, info = opened
        os.close(fd)
        digest = self.hashes.get(info)
        # The client names the exact ciphertext it verified: a deletion can never follow a
        # download of something else (a stale or damaged copy).
        if digest is None or digest != untrusted_sha:
            return 409
        self.hashes.forget(info)
        return 200 if delete_submission(info.path) else 404

    async def _confirm(self, receive: Receive, send: Send, sub_id: str) -> None:
        untrusted_body = await _read_body(receive, _MAX_BODY)
        sha = None
        if untrusted_body is not None:
            with contextlib.suppress(ValueError, UnicodeDecodeError, RecursionError):
                doc = json.loads(untrusted_body.decode("utf-8"))
                if isinstance(doc, dict) and isinstance(doc.get("sha256"), str):
                    sha = doc["sha256"]
        if sha is None or not _SHA_RE.fullmatch(sha):
            await _answer(send, 400, {"error": 'body must be {"sha256": "<64 hex>"}'})
            return
        status = await asyncio.to_thread(self._delete_if, sub_id, sha)
        if status == 200:
            await _answer(send, 200, {"deleted": True})
        elif status == 409:
            await _answer(send, 409, {"error": "sha256 differs from the stored ciphertext"})
        else:
            await _answer(send, 404, {"error": "not found"})

    async def _file_reply(self, receive: Receive, send: Send, untrusted_mailbox: str) -> None:
        if not _SHA_RE.fullmatch(untrusted_mailbox):
            await _answer(send, 404, {"error": "no such mailbox"})
            return
        untrusted_body = await _read_body(receive, MAX_REPLY_BYTES)
        if untrusted_body is None:
            await _answer(send, 413, {"error": f"a reply is at most {MAX_REPLY_BYTES} bytes"})
            return
        try:
            await asyncio.to_thread(
                self.mailboxes.file_reply, bytes.fromhex(untrusted_mailbox), untrusted_body
            )
        except NoSuchMailboxError:
            await _answer(send, 404, {"error": "no such mailbox"})
            return
        except MailboxError as exc:
            # Our own messages only (never the reply's bytes): safe to send to the editor.
            await _answer(send, 400, {"error": str(exc)})
            return
        # What was stored, for the editor's `fetch` to compare with what it sent.
        await _answer(send, 201, {"sha256": hashlib.sha256(untrusted_body).hexdigest()})

    def expire(self, days: int) -> str:
        """One retention pass (called by the listener's timer); returns the line to log,
        "" when nothing expired (see `ExpiryResult.describe_for_log`: never the number of
        submissions waiting)."""
        result = expire_submissions(self._storage, days)
        line = result.describe_for_log()
        try:
            replies = self.mailboxes.expire(self.config.reply_days)
        except OSError as exc:
            return f"{line}; mailbox retention failed ({type(exc).__name__})".lstrip("; ")
        # Like the submissions': what went, never how many are waiting.
        if replies:
            line = f"{line}; expired {replies} reply file(s) or empty mailbox(es)".lstrip("; ")
        return line


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            try:
                return bytes(value).decode("latin-1")
            except UnicodeDecodeError:
                return None
    return None


def _with_security(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [*headers, *SECURITY_HEADERS]


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body)


async def _answer(
    send: Send,
    status: int,
    body: Any,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    if isinstance(body, str):
        data = body.encode()
        ctype = b"text/plain; charset=utf-8"
    else:
        data = json.dumps(body, separators=(",", ":")).encode()
        ctype = b"application/json"
    headers = [(b"content-type", ctype), (b"content-length", str(len(data)).encode())]
    headers.extend(extra or [])
    await send(
        {"type": "http.response.start", "status": status, "headers": _with_security(headers)}
    )
    await send({"type": "http.response.body", "body": data})
