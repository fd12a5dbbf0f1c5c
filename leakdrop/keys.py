"""The editors' public keys on the server (`keys/`) and their spoken fingerprints.

`keys/` holds one file per editor in age's recipients-file format: `age1...` lines, `#`
comments, blank lines. The server seals every submission to all of them. Loading is strict:
a file that is not a valid recipients file stops the server with a message naming the file
and line, and above all a file holding a private key (`AGE-SECRET-KEY-...`) is refused,
because a private key must never sit on the server.

Fingerprint: SHA-256 over ``b"leakdrop-fingerprint-v1\\n"`` and the canonical recipient
string (``age1...``, ASCII), first 80 bits, written as 16 characters of RFC 4648 base32 in
four groups of four (``ABCD-EFGH-IJKL-MNOP``). It is read aloud at the key ceremony: the
editor reads the fingerprint `leakdrop keygen` printed, the admin compares it with the one
the server prints for the installed file. 80 bits put finding another key with the same
fingerprint out of reach (2^80 work) while staying short enough to read.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from leakdrop.sealing import (
    AnyRecipient,
    HybridRecipient,
    KeyFormatError,
    is_age_file,
    parse_recipient,
)

__all__ = [
    "DEMO_KEY_MARKER",
    "EditorKey",
    "KeysError",
    "fingerprint",
    "load_editor_keys",
    "load_recipients_dir",
]

#: A recipients file is a few lines; anything bigger is not one.
MAX_KEY_FILE_BYTES: Final = 64 * 1024
_FINGERPRINT_DOMAIN: Final = b"leakdrop-fingerprint-v1\n"
_IGNORED_NAMES: Final = frozenset({"readme.md", "readme", "readme.txt"})
#: The comment `leakdrop serve --demo` writes above its key. The demo's private key sits
#: unprotected next to the demo server, so a file carrying this mark is refused everywhere
#: but in the demo: pointing a real server at demo/keys, or copying demo.txt among the
#: editors' keys, must stop the server rather than seal sources' files to that key.
DEMO_KEY_MARKER: Final = "# DEMO key - never for real use"


class KeysError(Exception):
    """The keys folder or one of its files is unusable (the message names file and line)."""


@dataclass(frozen=True)
class EditorKey:
    """One recipient line of keys/, with where it came from."""

    file: Path
    line: int
    recipient: AnyRecipient

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.recipient)


def fingerprint(recipient: AnyRecipient) -> str:
    """A short fingerprint to read aloud: ``ABCD-EFGH-IJKL-MNOP`` (80 bits of SHA-256)."""
    digest = hashlib.sha256(_FINGERPRINT_DOMAIN + str(recipient).encode("ascii")).digest()
    text = base64.b32encode(digest[:10]).decode("ascii")  # 10 bytes = 80 bits = 16 chars
    return "-".join(text[i : i + 4] for i in range(0, 16, 4))


def _looks_secret(line: str) -> bool:
    # Checked before any parsing and case-insensitively (Bech32 is valid in either case):
    # an identity in the wrong place must be caught even when it is malformed or commented.
    upper = line.upper()
    return "AGE-SECRET-KEY" in upper or "AGE-PLUGIN-" in upper or "PRIVATE KEY-----" in upper


def _read_key_file(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            untrusted_data = fh.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeysError(f"{path}: cannot read: {exc.strerror}") from exc
    if len(untrusted_data) > MAX_KEY_FILE_BYTES:
        raise KeysError(f"{path}: too large for a recipients file")
    if is_age_file(untrusted_data[:64]):
        raise KeysError(
            f"{path}: this is an age-encrypted file (a passphrase-protected identity?), "
            "not a recipients file. A private key, even encrypted, must never be on the "
            "server: put only the public key (age1...) here"
        )
    try:
        return untrusted_data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeysError(f"{path}: not UTF-8 text") from exc


def _parse_key_file(path: Path, *, allow_demo: bool) -> list[EditorKey]:
    text = _read_key_file(path)
    lines = text.splitlines()
    if not allow_demo and any(line.strip() == DEMO_KEY_MARKER for line in lines):
        raise KeysError(
            f"{path}: this is the DEMO key (`leakdrop serve --demo`), whose private key "
            "lies unprotected next to the demo: never seal real submissions to it. Remove "
            "this file and put the editors' public keys (age1...) here"
        )
    for number, line in enumerate(lines, start=1):
        if _looks_secret(line):
            # Never quote the line: the message may end up in a log.
            raise KeysError(
                f"{path} line {number}: this is a PRIVATE key (AGE-SECRET-KEY / private "
                "key material). A private key must never sit on the server: delete this "
                "file now, consider that key exposed, and put only the public key "
                "(age1...) here"
            )
    keys: list[EditorKey] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            recipient = parse_recipient(stripped)
        except KeyFormatError as exc:
            raise KeysError(
                f"{path} line {number}: not a valid age recipient (age1... or age1pq1...): {exc}"
            ) from exc
        keys.append(EditorKey(file=path, line=number, recipient=recipient))
    if not keys:
        raise KeysError(f"{path}: no recipient (age1...) in this file")
    return keys


def load_editor_keys(path: Path | str, *, allow_demo: bool = False) -> list[EditorKey]:
    """Every recipient in the keys folder, with file and line; refuses anything doubtful.

    Ignores README files and dotfiles; every other entry must be a regular file (symlinks
    are followed) holding at least one valid `age1...` recipient. Refuses an empty folder,
    a private key anywhere, a malformed line, the same key listed twice, and the demo's
    key (`DEMO_KEY_MARKER`) unless `allow_demo` (only `leakdrop serve --demo` sets it).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise KeysError(f"{folder}: keys folder not found")
    keys: list[EditorKey] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name.lower() in _IGNORED_NAMES:
            continue
        if not entry.is_file():
            # A subfolder or device silently skipped could hide a key the admin meant to
            # install: the editor would never receive submissions and nobody would notice.
            raise KeysError(f"{entry}: not a regular file (keys/ holds one file per editor)")
        keys.extend(_parse_key_file(entry, allow_demo=allow_demo))
    if not keys:
        raise KeysError(
            f"{folder}: no editor key. Put each editor's public key (age1...) in a file "
            "here; see keys/README.md"
        )
    seen: dict[str, EditorKey] = {}
    for key in keys:
        text = str(key.recipient)
        if text in seen:
            first = seen[text]
            raise KeysError(
                f"{key.file} line {key.line}: same key as {first.file} line {first.line}"
            )
        seen[text] = key
    post_quantum = [k for k in keys if isinstance(k.recipient, HybridRecipient)]
    if post_quantum and len(post_quantum) != len(keys):
        classical = next(k for k in keys if not isinstance(k.recipient, HybridRecipient))
        # The age specification: a file sealed to a post-quantum recipient should not also
        # be sealed to a classical one (a quantum computer would open it through that one).
        raise KeysError(
            f"{folder}: post-quantum (age1pq1..., {post_quantum[0].file.name}) and classical "
            f"(age1..., {classical.file.name}) keys mixed: every editor moves to "
            "`leakdrop keygen --pq` at the same key ceremony; keep the old identities to open "
            'what was sealed before (README, "Post-quantum keys")'
        )
    return keys


def load_recipients_dir(path: Path | str, *, allow_demo: bool = False) -> list[AnyRecipient]:
    """The recipients the server seals to (see `load_editor_keys` for what is refused)."""
    return [key.recipient for key in load_editor_keys(path, allow_demo=allow_demo)]
