"""`leakdrop serve`: check everything, harden the process, then run uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import logging.config
import sys
import threading
from pathlib import Path
from typing import Final

from leakdrop._listener import (
    LOG_CONFIG,
    harden_process,
    header_deadline_protocol,
    open_listener,
    serve_and_announce,
)
from leakdrop.keys import DEMO_KEY_MARKER, fingerprint
from leakdrop.server.errors import ConfigError

log = logging.getLogger("leakdrop.server")

DEMO_DIR: Final = Path("demo")

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
    from leakdrop.offline.keygen import write_identity
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
    # The mark makes every non-demo server refuse this key (leakdrop.keys.DEMO_KEY_MARKER).
    (keys / "demo.txt").write_text(f"{DEMO_KEY_MARKER}\n{identity.recipient()}\n")
    banner = "=" * 72
    # The command is printed so that it works as printed: the venv's own `leakdrop` (which is
    # seldom on the PATH) and absolute folders.
    script = Path(sys.executable).parent / "leakdrop"
    command = str(script) if script.is_file() else "leakdrop"
    print(
        f"{banner}\n"
        "  DEMO MODE - NOT FOR REAL USE\n"
        f"  The demo PRIVATE key is in {identity_path.resolve()}\n"
        "  (unprotected, next to the server): anyone with it reads every submission.\n"
        f"  Submissions go to {(storage / 'submissions').resolve()}\n"
        f"  Open them: {command} open --identity {identity_path.resolve()} --out OUT "
        f"{(storage / 'submissions').resolve()}\n"
        f"{banner}",
        file=sys.stderr,
        flush=True,
    )
    return keys, storage


def _warm_up() -> None:
    # Start the scrubbers' fork server now, not when the first source is waiting.
    import scrubbers

    with contextlib.suppress(Exception):
        scrubbers.scrub_sandboxed(b"warm-up")


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from leakdrop.server.app import create_app
    from leakdrop.server.config import ServerConfig
    from scrubbers import SandboxUnavailableError, check_sandbox

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
        # Before anything is created, and long before the first source: a server whose
        # cleaning workers cannot start would keep every file not cleaned.
        check_sandbox()
        # The C parser, named: uvicorn's "auto" would fall back to h11 without a word, and
        # without the header deadline.
        limits = config.limits
        protocol = header_deadline_protocol(
            limits.header_deadline,
            max_header_bytes=limits.max_header_bytes,
            max_header_lines=limits.max_header_lines,
            linger=limits.refusal_linger,
            max_linger_bytes=limits.max_drain_bytes,
        )
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
    except (ConfigError, SandboxUnavailableError, OSError) as exc:
        text = (
            str(exc)
            if isinstance(exc, ConfigError | SandboxUnavailableError)
            else f"{exc.strerror}"
        )
        print(f"leakdrop serve: refusing to start: {text}", file=sys.stderr)
        return 1
    listener = open_listener("serve", config.host, config.port)
    if listener is None:
        return 1
    print(f"leakdrop serve: sealing to {len(config.recipients)} editor key(s):", file=sys.stderr)
    for recipient in config.recipients:
        print(f"  {recipient}  fingerprint {fingerprint(recipient)}", file=sys.stderr)
    threading.Thread(target=_warm_up, name="scrub-warm-up", daemon=True).start()
    config_uvicorn = uvicorn.Config(
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
        # From the same memory budget as the uploads (`Limits.connection_limit`): above
        # it, uvicorn answers 503 without running the app.
        limit_concurrency=config.limits.connection_limit,
        timeout_graceful_shutdown=30,
    )
    try:
        serve_and_announce(
            config_uvicorn,
            listener,
            f"leakdrop serve: listening on http://{config.host}:{config.port}/",
        )
    except KeyboardInterrupt:  # a second Ctrl+C during the graceful shutdown
        pass
    return 0
