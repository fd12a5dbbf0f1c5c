"""`leakdrop keygen`: create an editor's identity on the air-gapped laptop.

The identity file is the text `age-keygen` writes (a "# created:" line holding only the day,
so the file does not record when exactly the key was made, a "# public key:" line and the
`AGE-SECRET-KEY-...` line). By default it is sealed with a passphrase in exactly the format
of `age -p` (an age file with a single scrypt stanza), so `age -d` opens it too. Left
empty at the prompt, a passphrase of words is generated and printed once (as `age -p` does);
a weak one is refused with the reason (the rule: `leakdrop.offline.passphrase`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from leakdrop._files import write_new_private_file
from leakdrop._terminal import PassphraseError, ask_passphrase, read_passphrase_file
from leakdrop.keys import fingerprint
from leakdrop.offline.passphrase import WeakPassphraseError, check_strength, generate
from leakdrop.sealing import (
    AgeError,
    AnyIdentity,
    HybridIdentity,
    ScryptRecipient,
    X25519Identity,
    encrypt,
)

__all__ = ["identity_text", "run_keygen", "write_identity"]


class KeygenError(Exception):
    """The identity could not be written (the message says why)."""


def identity_text(identity: AnyIdentity, *, day: str | None = None) -> str:
    """The identity file's text, in age-keygen's layout (day-only creation stamp)."""
    created = day or datetime.now(UTC).date().isoformat()
    return f"# created: {created}\n# public key: {identity.recipient()}\n{identity}\n"


def write_identity(path: Path, identity: AnyIdentity, passphrase: bytes | None) -> None:
    """Write `identity` to the new file `path`, sealed with `passphrase` unless None."""
    text = identity_text(identity).encode("ascii")

    def fill(fh: BinaryIO) -> None:
        if passphrase is None:
            fh.write(text)
        else:
            with encrypt(fh, [ScryptRecipient(passphrase)]) as writer:
                writer.write(text)

    try:
        write_new_private_file(path, fill)
    except FileExistsError as exc:
        raise KeygenError(f"{path} already exists: refusing to overwrite an identity") from exc
    except OSError as exc:
        raise KeygenError(f"cannot write {path}: {exc.strerror}") from exc


def run_keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    generated: str | None = None
    try:
        if args.no_passphrase:
            passphrase = None
        elif args.passphrase_file:
            passphrase = read_passphrase_file(args.passphrase_file)
            check_strength(passphrase)
        else:
            passphrase = ask_passphrase(
                "Passphrase to protect the new identity (leave empty to generate one): ",
                confirm=True,
                allow_empty=True,
            )
            if passphrase:
                check_strength(passphrase)
            else:
                generated = generate()
                passphrase = generated.encode("ascii")
        identity: AnyIdentity = HybridIdentity.generate() if args.pq else X25519Identity.generate()
        write_identity(out, identity, passphrase)
    except WeakPassphraseError as exc:
        print(f"leakdrop keygen: {exc}; no identity written", file=sys.stderr)
        return 1
    except (KeygenError, PassphraseError, AgeError) as exc:
        print(f"leakdrop keygen: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("leakdrop keygen: interrupted, no identity written", file=sys.stderr)
        return 130
    if generated is not None:
        # Shown once, here, and kept nowhere: the identity is useless without it.
        print("Generated passphrase (write it down now, on paper; it is shown only once):")
        print(f"    {generated}")
    recipient = identity.recipient()
    protection = "passphrase-protected" if passphrase is not None else "NOT passphrase-protected"
    print(f"Identity written to {out} ({protection}). Keep it on this offline machine.")
    print("Public key (install it on the server as keys/<your name>.txt):")
    print(f"public key: {recipient}")
    print(f"fingerprint: {fingerprint(recipient)}")
    print("Read the fingerprint aloud to the admin installing the key; it must match.")
    return 0
