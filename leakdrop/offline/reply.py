"""`leakdrop reply`: seal an editor's answer to a source, on the offline laptop.

Standard library + PyNaCl (the offline install). The reply goes to the reply address that the
source's submission carries in its sealed manifest (`leakdrop.submission.ReplyAddress`): it is
sealed to the source's reply key **and** to the editors' own keys (so the newsroom can read
what it said), as one plain age file, written into the outbox folder on the USB stick. The
online machine's `leakdrop fetch` sends what is in the outbox through the pickup, which files
it under the source's mailbox.

    DIR/reply-<mailbox id>-<random>.age

The mailbox id is in the file name because the pickup needs it to file the reply; it is not
secret from the newsroom (it is in every manifest of that source) and the server stores the
reply under a keyed hash of it, never under the id itself.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from leakdrop._files import fsync_dir, write_new_private_file
from leakdrop._terminal import PassphraseError
from leakdrop.layout import outbox_name
from leakdrop.offline.opener import OpenError, load_identities
from leakdrop.sealing import (
    AgeError,
    HybridRecipient,
    Identity,
    KeyFormatError,
    Recipient,
    decrypt,
    encrypt,
    parse_recipient,
)
from leakdrop.submission import (
    MANIFEST_NAME,
    ContainerError,
    ReplyAddress,
    parse_manifest,
    read_manifest,
)

__all__ = ["ReplyError", "reply_address", "run_reply", "seal_reply"]

#: What an editor types to a source: 64 KiB of text is pages of it, and keeps the sealed
#: reply well under what the pickup accepts (`leakdrop.mailboxes.MAX_REPLY_BYTES`).
MAX_MESSAGE_BYTES: Final = 64 * 1024


class ReplyError(Exception):
    """The reply cannot be written (the message says why and what to do)."""


def reply_address(submission: Path, identities: Sequence[Identity]) -> ReplyAddress:
    """The reply address of a submission: its `.age` file or the folder `open` wrote."""
    try:
        if submission.is_dir():
            with (submission / MANIFEST_NAME).open("rb") as fh:
                manifest = parse_manifest(fh.read())
        else:
            with submission.open("rb") as fh, decrypt(fh, identities) as reader:
                manifest = read_manifest(reader)
    except FileNotFoundError as exc:
        raise ReplyError(f"{submission}: no such submission (file or opened folder)") from exc
    except OSError as exc:
        raise ReplyError(f"{submission}: {exc.strerror}") from exc
    except (AgeError, ContainerError) as exc:
        raise ReplyError(f"{submission}: not a submission this identity opens: {exc}") from exc
    if manifest.reply is None:
        raise ReplyError(f"{submission}: the source left no way to reply (sent without a codename)")
    return manifest.reply


def _editor_recipients(identities: Sequence[Identity]) -> list[Recipient]:
    found: list[Recipient] = []
    for identity in identities:
        recipient = getattr(identity, "recipient", None)
        if callable(recipient):
            found.append(recipient())
    return found


def seal_reply(message: bytes, address: ReplyAddress, editors: Sequence[Recipient]) -> bytes:
    """The reply as one age file, for the source's reply key and every editor key."""
    try:
        source = parse_recipient(address.recipient)
    except KeyFormatError as exc:
        raise ReplyError(f"the source's reply key is not usable: {exc}") from exc
    # One kind per file (the age specification: never post-quantum and classical together).
    # A source who wrote before the newsroom moved to post-quantum keys has a classical
    # reply key: the copy for the newsroom then goes to the old identities, kept for that.
    post_quantum = isinstance(source, HybridRecipient)
    editors = [e for e in editors if isinstance(e, HybridRecipient) == post_quantum]
    if not editors:
        kind = "post-quantum (AGE-SECRET-KEY-PQ-1...)" if post_quantum else "X25519"
        raise ReplyError(
            f"the identity holds no {kind} key to keep a copy for the newsroom (the "
            "source's reply key is of that kind: use the identity file that holds one)"
        )
    sink = io.BytesIO()
    with encrypt(sink, [source, *editors]) as writer:
        writer.write(message)
    return sink.getvalue()


def _read_message(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MESSAGE_BYTES + 1)
    except OSError as exc:
        raise ReplyError(f"cannot read the message file {path}: {exc.strerror}") from exc
    if len(data) > MAX_MESSAGE_BYTES:
        raise ReplyError(f"the message is longer than {MAX_MESSAGE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReplyError("the message file must be UTF-8 text") from exc
    if not text.strip():
        raise ReplyError("the message file is empty")
    return text.encode("utf-8")


def run_reply(args: argparse.Namespace) -> int:
    try:
        identities = load_identities(Path(args.identity), args.passphrase_file)
        message = _read_message(args.message_file)
        address = reply_address(Path(args.to), identities)
        editors = _editor_recipients(identities)
        sealed = seal_reply(message, address, editors)
        out = Path(args.out)
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = outbox_name(address.mailbox)
        write_new_private_file(out / name, lambda fh: fh.write(sealed))
        fsync_dir(out)
    except (ReplyError, OpenError, PassphraseError) as exc:
        print(f"leakdrop reply: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"leakdrop reply: cannot write into {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("leakdrop reply: interrupted", file=sys.stderr)
        return 130
    print(
        f"reply sealed to the source's reply key and {len(editors)} editor "
        f"key(s): {out / name}\n`leakdrop fetch --out {os.fspath(out.parent)}` sends it "
        "through the pickup."
    )
    return 0
