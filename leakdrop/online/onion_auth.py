"""`leakdrop onion-auth-keygen`: an editor's key for the pickup's Tor client authorization.

The pickup onion service (docker/torrc) has client authorization: tor encrypts its
descriptor to the x25519 public keys in ``authorized_clients/*.auth``, so without one of the
matching private keys its address cannot even be looked up. Tor's two file formats
(tor(1), "CLIENT AUTHORIZATION"; rend-spec-v3 for the address):

    server  authorized_clients/<editor>.auth
            descriptor:x25519:<base32 public key>
    client  <ClientOnionAuthDir>/<name>.auth_private
            <56-character address>:descriptor:x25519:<base32 private key>

base32 is RFC 4648 without padding (52 characters for 32 bytes). The editor runs this on
their own online machine (the one that runs `leakdrop fetch`): the private key is written
there, 0600, and only the public line leaves it. Standard library + PyNaCl only (libsodium's
X25519, the same curve and clamping as tor's).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import nacl.public

from leakdrop._files import write_new_private_file

__all__ = [
    "ClientAuthKeys",
    "OnionAuthError",
    "authorized_client_line",
    "generate_client_auth",
    "onion_label",
    "run_onion_auth_add",
    "run_onion_auth_keygen",
    "write_private_file",
]

_LABEL_LEN: Final = 56
_PRIVATE_SUFFIX: Final = ".auth_private"
_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)


class OnionAuthError(Exception):
    """A bad onion address or an output file that cannot be written (the message says why)."""


@dataclass(frozen=True)
class ClientAuthKeys:
    #: For the admin: the whole content of the server's ``authorized_clients/<name>.auth``.
    public_line: str
    #: For the editor's tor only: the whole content of ``<ClientOnionAuthDir>/<x>.auth_private``.
    private_line: str


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def onion_label(untrusted_address: str) -> str:
    """The 56-character label of a v3 onion address (with or without ".onion", any case).

    Checked in full (base32, version byte, checksum): the label goes into a file tor reads,
    and a mistyped address would leave the editor with a key that silently never applies.
    """
    label = untrusted_address.strip().lower().removesuffix(".onion")
    if label.startswith(("http://", "https://")):
        label = label.split("://", 1)[1].split("/", 1)[0].removesuffix(".onion")
    if len(label) != _LABEL_LEN or not all(c in "abcdefghijklmnopqrstuvwxyz234567" for c in label):
        raise OnionAuthError("not a v3 onion address (56 characters of a-z and 2-7)")
    raw = base64.b32decode(label.upper())
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34:]
    # rend-spec-v3: CHECKSUM = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2], VERSION 3.
    if version != b"\x03":
        raise OnionAuthError("not a v3 onion address (wrong version)")
    if hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2] != checksum:
        raise OnionAuthError("not a valid onion address (checksum mismatch: a typo?)")
    return label


def generate_client_auth(onion_address: str) -> ClientAuthKeys:
    """A fresh x25519 key pair for `onion_address`, in tor's two file formats."""
    label = onion_label(onion_address)
    key = nacl.public.PrivateKey.generate()
    return ClientAuthKeys(
        public_line=f"descriptor:x25519:{_b32(bytes(key.public_key))}",
        private_line=f"{label}:descriptor:x25519:{_b32(bytes(key))}",
    )


def write_private_file(path: Path, keys: ClientAuthKeys) -> None:
    """Write the private line to the new file `path` (0600; never replaces a file)."""
    if not path.name.endswith(_PRIVATE_SUFFIX) or path.name == _PRIVATE_SUFFIX:
        # tor reads only *.auth_private files in ClientOnionAuthDir and ignores the rest
        # without a word: a wrong name would look like a server that is down.
        raise OnionAuthError(f"{path}: the file name must end in {_PRIVATE_SUFFIX}")
    line = (keys.private_line + "\n").encode("ascii")
    try:
        write_new_private_file(path, lambda fh: fh.write(line))
    except FileExistsError as exc:
        raise OnionAuthError(f"{path} already exists: refusing to overwrite a key") from exc
    except OSError as exc:
        raise OnionAuthError(f"cannot write {path}: {exc.strerror}") from exc


def run_onion_auth_keygen(args: argparse.Namespace) -> int:
    try:
        keys = generate_client_auth(args.onion)
        write_private_file(Path(args.out), keys)
    except OnionAuthError as exc:
        print(f"leakdrop onion-auth-keygen: {exc}", file=sys.stderr)
        return 1
    print(
        f"Private key written to {args.out} (keep it; your tor reads it from its "
        "ClientOnionAuthDir). Give the admin this line, for "
        "/var/lib/tor/pickup/authorized_clients/<your name>.auth (it is public):",
        file=sys.stderr,
    )
    print(keys.public_line, flush=True)
    return 0


_PUBLIC_PREFIX: Final = "descriptor:x25519:"
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def authorized_client_line(untrusted_line: str) -> str:
    """An editor's public line, checked in full, as tor's ``authorized_clients/*.auth`` wants.

    Takes what `onion-auth-keygen` printed (``descriptor:x25519:<key>``) or the bare key.
    Why so strict: tor only logs "Unknown format of client authorization file" for a bad
    file and goes on publishing the pickup, *without client authorization* if that was the
    only file (a doubled prefix, from pasting the whole line after "descriptor:x25519:",
    was exactly that).
    """
    line = untrusted_line.strip()
    key = line.removeprefix(_PUBLIC_PREFIX)
    if key.startswith(_PUBLIC_PREFIX) or key.lower().startswith("descriptor:"):
        raise OnionAuthError(
            "the line starts with descriptor:x25519: twice: give the line exactly as "
            "onion-auth-keygen printed it"
        )
    if ":" in key:
        raise OnionAuthError(
            "this looks like a private key (address:descriptor:x25519:…): it never leaves "
            "the editor's machine; give the public line onion-auth-keygen printed"
        )
    if len(key) != 52 or not all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in key):
        raise OnionAuthError(
            "not an x25519 public key (52 characters of A-Z and 2-7 after descriptor:x25519:)"
        )
    raw = base64.b32decode(key + "====")
    if len(raw) != 32 or _b32(raw) != key:
        raise OnionAuthError("not a canonical x25519 public key")
    return _PUBLIC_PREFIX + key


def run_onion_auth_add(args: argparse.Namespace) -> int:
    """Validate an editor's line; write ``DIR/NAME.auth`` (0600), or print it for a pipe."""
    try:
        name = args.name
        if not name or not set(name) <= _NAME_CHARS or len(name) > 64:
            raise OnionAuthError("the name must be 1-64 of a-z, 0-9, - and _ (it names the file)")
        line = authorized_client_line(args.line)
        content = (line + "\n").encode("ascii")
        if args.dir is None:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            return 0
        path = Path(args.dir) / f"{name}.auth"
        try:
            write_new_private_file(path, lambda fh: fh.write(content))
        except FileExistsError as exc:
            raise OnionAuthError(f"{path} already exists: remove it first to replace it") from exc
        except OSError as exc:
            raise OnionAuthError(f"cannot write {path}: {exc.strerror}") from exc
    except OnionAuthError as exc:
        print(f"leakdrop onion-auth-add: {exc}", file=sys.stderr)
        return 1
    print(f"{path} written: restart tor to apply it", file=sys.stderr)
    return 0
