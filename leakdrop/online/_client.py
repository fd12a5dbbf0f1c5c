"""The HTTP client of `leakdrop fetch`, and its defences against a hostile pickup.

Every connection goes through Tor's SOCKS5 port when one is given (the host *name* handed
over, never resolved here: resolving a .onion name would leak it to DNS), or straight to
this machine; plain http:// only to a .onion name or to this machine (the bearer token
would otherwise cross the network in clear). What the server says is bounded: answers by
size and by a minimum average rate (a trickle never trips a socket timeout), throttling
waits by `_MAX_WAIT`, transient failures by a number of retries with backoff; and every
message that quotes it is escaped before it reaches the terminal.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import secrets
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar
from urllib.parse import urlsplit

from leakdrop._terminal import shown

_T = TypeVar("_T")

READ_CHUNK: Final = 256 * 1024
MAX_ERROR_BODY: Final = 4096
_MAX_WAIT: Final = 120.0
_RETRY_AFTER_RE: Final = re.compile(r"[0-9]{1,9}")
#: After `timeout` seconds of an answer, the server must have sent at least this many bytes
#: per second on average, or the attempt is given up (and retried): a trickle of a byte
#: now and then never trips a socket timeout, and would keep a fetch running for days.
#: 4 KiB/s is a Tor circuit at its very worst.
MIN_RATE: Final = 4 * 1024

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


class Retry(FetchError):
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
                raise Retry(f"cannot connect to {ep.host}:{ep.port}: {exc}") from exc
        if ep.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=ep.host)
        self.sock = sock


class Client:
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
            raise Retry(f"connection failed: {exc}") from exc
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
            raise Throttled(min(_MAX_WAIT, float(match.group(0))) if match else 1.0)
        return conn, response


class Throttled(Retry):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"the server throttles logins, retry in {seconds:g} s")
        self.seconds = seconds


class RateGuard:
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
            raise Retry(f"the server sends too slowly ({self.received} bytes in {elapsed:.0f} s)")


def read_small(response: http.client.HTTPResponse, limit: int, grace: float) -> bytes:
    guard = RateGuard(grace)
    data = bytearray()
    while len(data) <= limit:
        chunk = response.read1(min(READ_CHUNK, limit + 1 - len(data)))
        if not chunk:
            break
        data += chunk
        guard.add(len(chunk))
    if len(data) > limit:
        raise FetchError("the server's answer is too large")
    return bytes(data)


def say(text: str) -> None:
    # Messages quote exceptions, and http.client's quote what the server sent (a status
    # line, a header): escaped, so that a hostile pickup cannot write to the terminal.
    print(f"leakdrop fetch: {shown(text)}", file=sys.stderr, flush=True)


def with_retries(retries: int, what: str, action: Callable[[], _T]) -> _T:
    attempt = 0
    while True:
        try:
            return action()
        except Throttled as exc:
            attempt += 1
            if attempt > retries:
                raise AuthError(str(exc)) from exc
            wait = min(_MAX_WAIT, exc.seconds)
            say(f"{what}: {exc}")
            time.sleep(wait)
        except Retry as exc:
            attempt += 1
            if attempt > retries:
                raise FetchError(f"{exc} (gave up after {retries} retries)") from exc
            say(f"{what}: {exc}; retrying ({attempt}/{retries})")
            # Backoff: a Tor circuit that just broke needs a moment to be rebuilt.
            time.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
