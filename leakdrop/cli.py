"""The `leakdrop` command.

Sub-commands import their implementation lazily: `keygen` and `open` run on the air-gapped
laptop where only PyNaCl is installed, so nothing from the server side may be imported here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def _port(text: str) -> int:
    # Checked here so that a port out of range is one line of usage, not an OverflowError
    # from the socket layer after the server said it was starting.
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range (1-65535): {port}")
    return port


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("leakdrop")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


class _VersionAction(argparse.Action):
    """`--version`, looked up only when asked (importlib.metadata costs 20 ms at every
    start of every command otherwise)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(
            option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0,
            help="print the installed version and exit",
        )  # fmt: skip

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"leakdrop {_version()}")  # stdout, as argparse's own version action
        parser.exit()


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leakdrop",
        description="Technopoleaks: anonymous document drop (server and offline tools).",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("keygen", help="create an editor identity (run on the offline laptop)")
    p.add_argument("--out", required=True, help="identity file to write (must not exist)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--passphrase-file", help="read the passphrase from this file")
    g.add_argument("--no-passphrase", action="store_true", help="write the identity unencrypted")
    p.add_argument(
        "--pq",
        action="store_true",
        help="a post-quantum identity (ML-KEM-768 + X25519, age1pq1... recipient)",
    )

    p = sub.add_parser("open", help="decrypt and extract submissions (offline)")
    p.add_argument(
        "--identity", required=True, help="identity file (plain or passphrase-protected)"
    )
    p.add_argument("--passphrase-file", help="passphrase of the identity file")
    p.add_argument("--out", required=True, help="folder to extract into")
    p.add_argument(
        "--lang",
        choices=("fr", "en"),
        default=_env("LEAKDROP_LANG", "fr"),
        help="language of index.html: fr or en (fr) [env LEAKDROP_LANG]",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="submission files or folders")

    p = sub.add_parser("reply", help="seal a reply to a source, into the outbox (offline)")
    p.add_argument(
        "--identity", required=True, help="identity file (plain or passphrase-protected)"
    )
    p.add_argument("--passphrase-file", help="passphrase of the identity file")
    p.add_argument(
        "--to",
        required=True,
        metavar="SUBMISSION",
        help="the submission answered: its .age file or the folder `open` wrote",
    )
    p.add_argument("--message-file", required=True, help="the reply, a UTF-8 text file")
    p.add_argument("--out", required=True, help="outbox folder (normally USB/outbox)")

    p = sub.add_parser("scrub", help="remove metadata from local files")
    p.add_argument("files", nargs="+", metavar="FILE", help="files to clean (left unchanged)")
    p.add_argument("--out", required=True, help="folder for the cleaned files")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("serve", help="run the source-facing server")
    p.add_argument(
        "--keys",
        default=_env("LEAKDROP_KEYS"),
        help="folder of recipient files [env LEAKDROP_KEYS]",
    )
    p.add_argument(
        "--storage", default=_env("LEAKDROP_STORAGE"), help="storage folder [env LEAKDROP_STORAGE]"
    )
    p.add_argument(
        "--host",
        default=_env("LEAKDROP_HOST", "127.0.0.1"),
        help="address to listen on [env LEAKDROP_HOST]",
    )
    # argparse applies `type` to a string default too, so a bad LEAKDROP_PORT is reported by
    # `serve` as a usage error instead of crashing every sub-command while the parser is built.
    p.add_argument(
        "--port", type=_port, default=_env("LEAKDROP_PORT", "8080"), help="[env LEAKDROP_PORT]"
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="create a demo identity and storage under ./demo and serve on 127.0.0.1",
    )
    # Limits and texts: parsed and checked by leakdrop.server.config (unset = its default).
    for option, env, text in (
        (
            "--max-submission-bytes",
            "LEAKDROP_MAX_SUBMISSION_BYTES",
            "files per submission, bytes (1G)",
        ),
        ("--max-files", "LEAKDROP_MAX_FILES", "files per submission (100)"),
        ("--max-message-chars", "LEAKDROP_MAX_MESSAGE_CHARS", "message length (100000)"),
        (
            "--max-concurrent",
            "LEAKDROP_MAX_CONCURRENT",
            "cap on uploads received at once; more: busy (none: the memory budget decides)",
        ),
        (
            "--receive-memory-bytes",
            "LEAKDROP_RECEIVE_MEMORY_BYTES",
            "RAM for uploads in progress, 3 MiB each (768M: 256 at once)",
        ),
        (
            "--min-upload-rate",
            "LEAKDROP_MIN_UPLOAD_RATE",
            "bytes/s an upload must average after the grace period (4K)",
        ),
        ("--rate-grace", "LEAKDROP_RATE_GRACE", "seconds before the rate is checked (30)"),
        ("--scrub-max-bytes", "LEAKDROP_SCRUB_MAX_BYTES", "bigger files are not cleaned (256M)"),
        ("--scrub-workers", "LEAKDROP_SCRUB_WORKERS", "cleaning processes at once (CPUs)"),
        ("--min-free-bytes", "LEAKDROP_MIN_FREE_BYTES", "free space kept; below: full (512M)"),
        ("--idle-timeout", "LEAKDROP_IDLE_TIMEOUT", "seconds a silent upload is kept (120)"),
        (
            "--header-timeout",
            "LEAKDROP_HEADER_TIMEOUT",
            "seconds to send a request's headers, at most the idle timeout (30)",
        ),
        (
            "--scrub-memory-bytes",
            "LEAKDROP_SCRUB_MEMORY_BYTES",
            "address space of each cleaning process (2G)",
        ),
        (
            "--scrub-cpu-seconds",
            "LEAKDROP_SCRUB_CPU_SECONDS",
            "CPU seconds to clean one file; then: not cleaned (60)",
        ),
        (
            "--scrub-wall-seconds",
            "LEAKDROP_SCRUB_WALL_SECONDS",
            "seconds to clean one file; then: not cleaned (90)",
        ),
        ("--about", "LEAKDROP_ABOUT", "folder with fr.txt/en.txt: who runs this drop and why"),
        ("--name", "LEAKDROP_NAME", "name of the drop shown on the pages (Technopoleaks)"),
    ):
        p.add_argument(option, default=_env(env), help=f"{text} [env {env}]")

    _add_editor_commands(sub)
    return parser


def _add_editor_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The editors' side: tokens, the pickup listener, fetch, expiry, the offline bundle."""
    tokens_help = "token file (hashes only) [env LEAKDROP_TOKENS]"
    p = sub.add_parser("token", help="manage the editors' pickup access tokens (admin)")
    tsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (
        ("add", "create a token for an editor; it is shown once"),
        ("revoke", "revoke an editor's token (takes effect at the next request)"),
        ("list", "list the names holding a token"),
    ):
        tp = tsub.add_parser(action, help=text)
        if action != "list":
            tp.add_argument("name", metavar="NAME", help="the editor the token is for")
        tp.add_argument("--tokens", default=_env("LEAKDROP_TOKENS"), help=tokens_help)

    p = sub.add_parser("pickup", help="serve the editors' pickup listener (ciphertext only)")
    p.add_argument(
        "--storage", default=_env("LEAKDROP_STORAGE"), help="storage folder [env LEAKDROP_STORAGE]"
    )
    p.add_argument("--tokens", default=_env("LEAKDROP_TOKENS"), help=tokens_help)
    p.add_argument(
        "--host",
        default=_env("LEAKDROP_PICKUP_HOST", "127.0.0.1"),
        help="address to listen on [env LEAKDROP_PICKUP_HOST]",
    )
    p.add_argument(
        "--port",
        default=_env("LEAKDROP_PICKUP_PORT", "8081"),
        help="[env LEAKDROP_PICKUP_PORT]",
    )
    for option, env, text in (
        ("--retention-days", "LEAKDROP_RETENTION_DAYS", "delete submissions after N days (30)"),
        (
            "--reply-retention-days",
            "LEAKDROP_REPLY_RETENTION_DAYS",
            "delete replies, and mailboxes unused, after N days (90)",
        ),
        ("--expire-every", "LEAKDROP_EXPIRE_EVERY", "seconds between retention passes (3600)"),
        ("--auth-free-failures", "LEAKDROP_AUTH_FREE_FAILURES", "failures before backoff (5)"),
        ("--auth-base-delay", "LEAKDROP_AUTH_BASE_DELAY", "first lockout, seconds (1)"),
        ("--auth-max-delay", "LEAKDROP_AUTH_MAX_DELAY", "longest lockout, seconds (300)"),
    ):
        p.add_argument(option, default=_env(env), help=f"{text} [env {env}]")

    p = sub.add_parser("expire", help="delete submissions older than the retention period")
    p.add_argument(
        "--storage", default=_env("LEAKDROP_STORAGE"), help="storage folder [env LEAKDROP_STORAGE]"
    )
    p.add_argument(
        "--days",
        default=_env("LEAKDROP_RETENTION_DAYS"),
        help="retention in days (30) [env LEAKDROP_RETENTION_DAYS]",
    )

    p = sub.add_parser("fetch", help="download new submissions from the pickup listener")
    p.add_argument(
        "--server",
        default=_env("LEAKDROP_PICKUP_URL"),
        help="the pickup's address, http://….onion/ [env LEAKDROP_PICKUP_URL]",
    )
    p.add_argument(
        "--token-file",
        default=_env("LEAKDROP_TOKEN_FILE"),
        help="file with the token [env LEAKDROP_TOKEN_FILE]",
    )
    p.add_argument("--out", required=True, help="folder to download into (e.g. a USB stick)")
    p.add_argument(
        "--socks",
        default=_env("LEAKDROP_SOCKS"),
        help="Tor's SOCKS port, HOST:PORT (e.g. 127.0.0.1:9050); required for .onion",
    )
    p.add_argument("--retries", type=int, default=5, help="reconnections per file (5)")
    p.add_argument("--timeout", type=float, default=120.0, help="network timeout, seconds")

    p = sub.add_parser(
        "onion-auth-keygen",
        help="create an editor's Tor client-authorization key for the pickup onion service",
    )
    p.add_argument("--onion", required=True, help="the pickup's address (….onion)")
    p.add_argument(
        "--out",
        required=True,
        help="private key file to write, NAME.auth_private (for your tor's ClientOnionAuthDir)",
    )

    p = sub.add_parser(
        "onion-auth-add",
        help="check an editor's client-authorization line and write NAME.auth for the pickup",
    )
    p.add_argument("name", help="the editor's name (the file is NAME.auth)")
    p.add_argument("line", help="the descriptor:x25519:… line onion-auth-keygen printed")
    p.add_argument(
        "--dir",
        default=None,
        help="the pickup's authorized_clients folder (without it: print the checked line)",
    )

    p = sub.add_parser("bundle", help="write an offline install bundle for the laptop")
    p.add_argument("--out", required=True, help="empty or new folder (e.g. a USB stick)")
    p.add_argument(
        "--platform",
        action="append",
        help="laptop platform tag, e.g. manylinux_2_28_x86_64 (repeatable; default: this one)",
    )
    p.add_argument("--python-version", help="laptop Python, e.g. 3.11 (default: this one)")
    p.add_argument(
        "--source",
        help="project source folder (default: the checkout here, else the installed copy)",
    )


#: Sub-commands whose every file is written and closed, and every worker reaped, when they
#: return: the installed command then skips the interpreter's teardown (see `console_main`).
_ONE_SHOT = frozenset({"scrub"})


def console_main() -> NoReturn:
    """The installed ``leakdrop`` command (and ``python -m leakdrop``).

    After a one-shot command, the process ends with ``os._exit`` once stdout and stderr
    are flushed: tearing down every imported module is a tenth of what `leakdrop scrub`
    takes on a small file, and nothing is left for it to do.
    """
    args = _build_parser().parse_args()
    code = _run(args)
    if args.command in _ONE_SHOT:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    return _run(_build_parser().parse_args(argv))


def _run(args: argparse.Namespace) -> int:
    if args.command == "keygen":
        from leakdrop.offline.keygen import run_keygen

        return run_keygen(args)
    if args.command == "open":
        from leakdrop.offline.opener import run_open

        return run_open(args)
    if args.command == "reply":
        from leakdrop.offline.reply import run_reply

        return run_reply(args)
    if args.command == "scrub":
        from leakdrop.scrub_cmd import run_scrub

        return run_scrub(args)
    if args.command == "serve":
        from leakdrop.server.run import run_serve

        # Ctrl+C is how an admin stops a server in a terminal: an exit, not a traceback.
        with contextlib.suppress(KeyboardInterrupt):
            return run_serve(args)
        return 0
    if args.command == "token":
        from leakdrop.pickup.tokens import run_token

        return run_token(args)
    if args.command == "pickup":
        from leakdrop.pickup.run import run_pickup

        with contextlib.suppress(KeyboardInterrupt):
            return run_pickup(args)
        return 0
    if args.command == "expire":
        from leakdrop.pickup.expiry import run_expire

        return run_expire(args)
    if args.command == "fetch":
        from leakdrop.online.fetch import run_fetch

        return run_fetch(args)
    if args.command == "onion-auth-add":
        from leakdrop.online.onion_auth import run_onion_auth_add

        return run_onion_auth_add(args)
    if args.command == "onion-auth-keygen":
        from leakdrop.online.onion_auth import run_onion_auth_keygen

        return run_onion_auth_keygen(args)
    if args.command == "bundle":
        from leakdrop.online.bundle import run_bundle

        return run_bundle(args)
    raise AssertionError(args.command)  # argparse rejects unknown commands


if __name__ == "__main__":
    console_main()
