"""`leakdrop serve`: check everything, harden the process, then run uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import logging.config
import resource
import sys
import threading
from pathlib import Path
from typing import Any, Final

from leakdrop.keys import fingerprint
from leakdrop.server.errors import ConfigError

log = logging.getLogger("leakdrop.server")

DEMO_DIR: Final = Path("demo")
_PR_SET_DUMPABLE: Final = 4

#: No access log, no client addresses, no timestamps of requests: uvicorn's access logger
#: is cut off here as well as by ``access_log=False``.
LOG_CONFIG: Final[dict[str, Any]] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "leakdrop": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        # The multipart parser's warnings add nothing for an admin.
        "python_multipart": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}


def harden_process() -> None:
    """No core dumps (a core file would put plaintext on disk) and, on Linux, not
    dumpable: other processes of the same user cannot ptrace it or read its memory."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Each file being received holds a descriptor (its spool): allow many at once.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3


def tune_malloc() -> None:
    """Keep glibc from mmap'ing (and page-faulting in) every 1 MiB buffer of an upload:
    with the default threshold, fresh buffers cost more than the encryption of their
    bytes. Buffers up to 4 MiB come from the heap; bigger ones (whole files being cleaned)
    are still mapped and returned to the system when freed."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 4 * 1024 * 1024)
        libc.mallopt(_M_TRIM_THRESHOLD, 32 * 1024 * 1024)


def prepare_demo(folder: Path) -> tuple[Path, Path]:
    """Create (if absent) a demo identity, its public key in keys/, and a storage."""
    from leakdrop.keygen import write_identity
    from leakdrop.sealing import X25519Identity, parse_identities_file

    keys = folder / "keys"
    storage = folder / "storage"
    identity_path = folder / "identity.txt"
    folder.mkdir(mode=0o700, exist_ok=True)
    keys.mkdir(mode=0o700, exist_ok=True)
    storage.mkdir(mode=0o700, exist_ok=True)
    if identity_path.exists():
        identity = parse_identities_file(identity_path.read_text("utf-8"))[0]
    else:
        identity = X25519Identity.generate()
        write_identity(identity_path, identity, None)
    (keys / "demo.txt").write_text(f"# DEMO key - never for real use\n{identity.recipient()}\n")
    banner = "=" * 72
    print(
        f"{banner}\n"
        "  DEMO MODE - NOT FOR REAL USE\n"
        f"  The demo PRIVATE key is in {identity_path.resolve()}\n"
        "  (unprotected, next to the server): anyone with it reads every submission.\n"
        f"  Submissions go to {(storage / 'submissions').resolve()}\n"
        f"  Open them: leakdrop open --identity {identity_path} --out OUT "
        f"{storage / 'submissions'}\n"
        f"{banner}",
        file=sys.stderr,
        flush=True,
    )
    return keys, storage


def header_deadline_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's httptools HTTP protocol, plus a deadline on each request's headers.

    Slowloris: uvicorn waits for request headers forever (its keep-alive timer runs only
    between requests and stops at the first byte of the next one; the app's idle timeout
    covers only the body). A client that opens a connection and sends a partial request
    line, or one byte now and then, would hold a socket, a descriptor and, behind Tor, a
    circuit, for good: a few hundred of them and real sources are refused. So the clock
    starts when the server begins waiting for a request (connection opened, or previous
    response sent on a kept-alive connection), is not reset by incoming bytes (a dribble
    counts as silence), stops when the headers are complete, and closes the connection
    when it runs out. The body is the app's business (`Limits.idle_timeout`).
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._header_timer: asyncio.TimerHandle | None = None

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            self._header_timer = self.loop.call_later(seconds, self._headers_too_slow)

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            # No answer: nobody is there to read one, and a 408 would invite a retry.
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm_header_timer()

        def on_headers_complete(self) -> None:
            self._cancel_header_timer()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            # A pipelined request already has its headers; else the connection now waits
            # for the next request's, under the same deadline.
            waits_for_headers = not self.pipeline
            super().on_response_complete()
            if waits_for_headers and not self.transport.is_closing():
                self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

    return HeaderDeadlineProtocol


def _warm_up() -> None:
    # Start the scrubbers' fork server now, not when the first source is waiting.
    import scrubbers

    with contextlib.suppress(Exception):
        scrubbers.scrub_sandboxed(b"warm-up")


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from leakdrop.server.app import create_app
    from leakdrop.server.config import ServerConfig

    try:
        if args.demo:
            keys, storage = prepare_demo(DEMO_DIR)
            # The demo's private key sits next to it: never listen beyond this machine.
            args.host = "127.0.0.1"
        else:
            if not args.keys:
                raise ConfigError("no keys folder: use --keys DIR or LEAKDROP_KEYS")
            if not args.storage:
                raise ConfigError("no storage folder: use --storage DIR or LEAKDROP_STORAGE")
            keys, storage = Path(args.keys), Path(args.storage)
        config = ServerConfig.from_args(args, keys=keys, storage=storage)
        # The C parser, named: uvicorn's "auto" would fall back to h11 without a word, and
        # without the header deadline.
        protocol = header_deadline_protocol(config.limits.header_deadline)
        harden_process()
        tune_malloc()
        logging.config.dictConfig(LOG_CONFIG)
        app = create_app(config)
    except ImportError as exc:
        print(
            f"leakdrop serve: refusing to start: {exc.name} is missing (install leakdrop[server])",
            file=sys.stderr,
        )
        return 1
    except (ConfigError, OSError) as exc:
        text = str(exc) if isinstance(exc, ConfigError) else f"{exc.strerror}"
        print(f"leakdrop serve: refusing to start: {text}", file=sys.stderr)
        return 1
    print(f"leakdrop serve: sealing to {len(config.recipients)} editor key(s):", file=sys.stderr)
    for recipient in config.recipients:
        print(f"  {recipient}  fingerprint {fingerprint(recipient)}", file=sys.stderr)
    print(
        f"leakdrop serve: listening on http://{config.host}:{config.port}/",
        file=sys.stderr,
        flush=True,
    )
    threading.Thread(target=_warm_up, name="scrub-warm-up", daemon=True).start()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_config=LOG_CONFIG,
            access_log=False,
            server_header=False,
            date_header=False,
            proxy_headers=False,
            lifespan="off",
            http=protocol,
            # No WebSocket route exists: no upgrade code path for a client to reach.
            ws="none",
            timeout_keep_alive=5,
            timeout_graceful_shutdown=30,
        )
    )
    server.run()
    return 0
