"""The request body, read from the ASGI channel with its framing checks (first stage)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from leakdrop.server.errors import (
    ClientGoneError,
    LyingLengthError,
    MalformedRequestError,
    TooLargeError,
)

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def parse_content_length(content_length: str | None) -> int | None:
    """The declared body length (None: not declared), or MalformedRequestError."""
    if content_length is None:
        return None
    if not content_length.isascii() or not content_length.isdigit():
        raise MalformedRequestError("bad Content-Length")
    return int(content_length)


class Body:
    """The request body from the ASGI ``receive`` channel, with the framing checks.

    Refuses a body longer or shorter than its Content-Length (LyingLengthError), one
    longer than the limit (TooLargeError), a client that disconnects, goes silent for
    longer than the idle timeout, or, after `grace` seconds, has sent less than `min_rate`
    bytes per second on average (ClientGoneError). The rate is measured over the time spent
    waiting for the client only: while the server itself is slow to take the bytes (a busy
    disk), the client is not blamed for it.
    """

    def __init__(
        self,
        receive: Receive,
        *,
        declared: int | None,
        max_bytes: int,
        idle_timeout: float,
        min_rate: int = 0,
        grace: float = 0.0,
    ) -> None:
        self._receive = receive
        self.declared = declared
        self._max_bytes = max_bytes
        self._idle = idle_timeout
        self._min_rate = min_rate
        self._grace = grace
        self._waited = 0.0
        self.received = 0
        self.done = False
        self.broken = False

    def _gone(self, why: str) -> ClientGoneError:
        self.broken = True
        return ClientGoneError(why)

    async def _next(self) -> bytes:
        wait = self._idle
        too_slow = False
        if self._min_rate:
            # Waiting time this client may still use: the grace period, or as long as
            # its bytes so far would take at the minimum rate, whichever is longer.
            allowed = max(self._grace, self.received / self._min_rate) - self._waited
            if allowed <= 0:
                raise self._gone("too slow")
            if allowed < wait:
                wait, too_slow = allowed, True
        started = anyio.current_time()
        try:
            with anyio.fail_after(wait):
                message = await self._receive()
        except TimeoutError as exc:
            raise self._gone("too slow" if too_slow else "idle") from exc
        finally:
            self._waited += anyio.current_time() - started
        if message["type"] != "http.request":
            raise self._gone("disconnected")
        body = message.get("body", b"")
        self.received += len(body)
        if not message.get("more_body", False):
            self.done = True
        if self.declared is not None and (
            self.received > self.declared or (self.done and self.received != self.declared)
        ):
            self.broken = True
            raise LyingLengthError("body length differs from Content-Length")
        return bytes(body)

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.done:
            chunk = await self._next()
            if self.received > self._max_bytes:
                raise TooLargeError("body too large")
            if chunk:
                yield chunk
