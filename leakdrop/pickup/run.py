"""`leakdrop pickup`: check the configuration, then serve the pickup app with uvicorn.

Also runs the retention timer: a pass at start and one every `--expire-every` seconds.
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import sys
import threading
from pathlib import Path
from typing import Any, Final

from leakdrop._listener import (
    LOG_CONFIG,
    harden_process,
    header_deadline_protocol,
    open_listener,
    serve_and_announce,
)
from leakdrop.pickup.expiry import parse_days
from leakdrop.pickup.tokens import TokenError

__all__ = ["run_pickup"]

log = logging.getLogger("leakdrop.pickup")

#: Editors' clients send their headers at once; anything slower is not one of them.
HEADER_TIMEOUT_SECONDS: Final = 30.0


class _ConfigError(Exception):
    pass


def _number(text: str | None, name: str, default: float, low: float, high: float) -> float:
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError as exc:
        raise _ConfigError(f"{name} must be a number, not {text!r}") from exc
    if not low <= value <= high:
        raise _ConfigError(f"{name} must be between {low:g} and {high:g}")
    return value


def _expiry_loop(app: Any, days: int, every: float, stop: threading.Event) -> None:
    while True:
        try:
            line = app.expire(days)
            if line:
                log.info("retention: %s (after %d days)", line, days)
        except OSError as exc:
            log.error("retention pass failed (%s)", type(exc).__name__)
        if stop.wait(every):
            return


def run_pickup(args: argparse.Namespace) -> int:
    import uvicorn

    from leakdrop.layout import SUBMISSIONS
    from leakdrop.mailboxes import MailboxError
    from leakdrop.pickup.app import PickupApp, PickupConfig

    try:
        if not args.storage:
            raise _ConfigError("no storage folder: use --storage DIR or LEAKDROP_STORAGE")
        if not args.tokens:
            raise _ConfigError("no token file: use --tokens FILE or LEAKDROP_TOKENS")
        try:
            days = parse_days(args.retention_days)
        except ValueError as exc:
            raise _ConfigError(f"--retention-days: {exc}") from exc
        every = _number(args.expire_every, "--expire-every", 3600, 1, 86_400)
        try:
            reply_days = parse_days(args.reply_retention_days or "90")
        except ValueError as exc:
            raise _ConfigError(f"--reply-retention-days: {exc}") from exc
        port = int(_number(args.port, "--port", 8081, 1, 65_535))
        config = PickupConfig(
            storage=Path(args.storage),
            tokens=Path(args.tokens),
            free_failures=int(_number(args.auth_free_failures, "--auth-free-failures", 5, 1, 1000)),
            base_delay=_number(args.auth_base_delay, "--auth-base-delay", 1.0, 0.01, 3600),
            max_delay=_number(args.auth_max_delay, "--auth-max-delay", 300.0, 0.01, 86_400),
            reply_days=reply_days,
        )
        # The source-facing server creates the layout too; whichever starts first does it.
        (config.storage / SUBMISSIONS).mkdir(mode=0o700, parents=True, exist_ok=True)
        harden_process()
        logging.config.dictConfig(LOG_CONFIG)
        app = PickupApp(config)
    except (_ConfigError, TokenError, MailboxError) as exc:
        print(f"leakdrop pickup: refusing to start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"leakdrop pickup: refusing to start: {exc.strerror}", file=sys.stderr)
        return 1
    if len(app.tokens) == 0:
        print(
            "leakdrop pickup: WARNING: no editor token yet, nobody can fetch. Create one with "
            f"`leakdrop token add NAME --tokens {config.tokens}` (no restart needed)",
            file=sys.stderr,
        )
    listener = open_listener("pickup", args.host, port)
    if listener is None:
        return 1
    stop = threading.Event()
    threading.Thread(
        target=_expiry_loop, args=(app, days, every, stop), name="retention", daemon=True
    ).start()
    announcement = (
        f"leakdrop pickup: listening on http://{args.host}:{port}/ (retention {days} days)"
    )
    config_uvicorn = uvicorn.Config(
        app,
        host=args.host,
        port=port,
        log_config=LOG_CONFIG,
        access_log=False,
        # Slowloris guard: the pickup is behind Tor too.
        http=header_deadline_protocol(HEADER_TIMEOUT_SECONDS),
        ws="none",
        server_header=False,
        date_header=False,
        proxy_headers=False,
        lifespan="off",
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
    )
    try:
        serve_and_announce(config_uvicorn, listener, announcement)
    finally:
        stop.set()
    return 0
