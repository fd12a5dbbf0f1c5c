"""Terminal helpers for the offline commands: passphrases and a progress line.

Standard library only (this runs on the air-gapped laptop).
"""

from __future__ import annotations

import getpass
import os
import time
import unicodedata
from pathlib import Path
from typing import Final, TextIO

__all__ = ["PassphraseError", "Progress", "ask_passphrase", "read_passphrase_file", "shown"]

MAX_PASSPHRASE_BYTES: Final = 4096


def shown(untrusted_text: str) -> str:
    """Text from a file or the network, safe to print on a terminal: control and format
    characters (escape sequences, carriage returns, bidirectional overrides) and line or
    paragraph separators are written as visible escapes. Why: a hostile name or server
    message could otherwise rewrite the terminal's title or screen and fake a line such as
    "all submissions verified"."""
    out = []
    for ch in untrusted_text:
        category = unicodedata.category(ch)
        if category[0] == "C" or category in ("Zl", "Zp"):
            out.append(f"\\u{ord(ch):04x}" if ord(ch) > 0xFF else f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


class PassphraseError(Exception):
    """No usable passphrase: empty, mismatched, unreadable, or no terminal to ask on."""


def read_passphrase_file(path: str | Path) -> bytes:
    """The passphrase in `path`: its bytes without one trailing newline (LF or CRLF)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_PASSPHRASE_BYTES + 1)
    except OSError as exc:
        raise PassphraseError(f"cannot read passphrase file {path}: {exc.strerror}") from exc
    if len(data) > MAX_PASSPHRASE_BYTES:
        raise PassphraseError(f"passphrase file {path} is too large")
    # Editors write these files with an editor or `echo`: the final newline is not part of
    # the passphrase (the same passphrase typed at the prompt has none).
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise PassphraseError(f"passphrase file {path} is empty")
    return data


def _have_tty() -> bool:
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def ask_passphrase(prompt: str, *, confirm: bool = False, allow_empty: bool = False) -> bytes:
    """Ask on the controlling terminal (never echoed); twice when `confirm`.

    `allow_empty`: an empty answer is returned as b"" at once (not confirmed), for the
    caller to generate one; otherwise it is refused.
    """
    # getpass silently falls back to reading stdin, with echo, when there is no terminal:
    # refuse instead, so a passphrase is never read from a pipe or shown on screen.
    if not _have_tty():
        raise PassphraseError("no terminal to ask the passphrase on: use --passphrase-file")
    try:
        first = getpass.getpass(prompt)
        if not first and allow_empty:
            return b""
        if confirm and first and getpass.getpass("Repeat the passphrase: ") != first:
            raise PassphraseError("the two passphrases differ")
    except EOFError as exc:
        raise PassphraseError("no passphrase given") from exc
    if not first:
        raise PassphraseError("empty passphrase")
    return first.encode("utf-8")


class Progress:
    """A one-line progress display on stderr, only when stderr is a terminal."""

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        import sys

        self._stream = stream if stream is not None else sys.stderr
        self._enabled = enabled and self._stream.isatty()
        self._label = label
        self._total = total
        self._done = 0
        self._last = 0.0
        self._shown = False

    def advance(self, n: int) -> None:
        self._done += n
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        mib = self._done / (1024 * 1024)
        if self._total:
            pct = min(100, self._done * 100 // self._total)
            text = f"{self._label}: {pct:3d}%  {mib:,.1f} MiB"
        else:
            text = f"{self._label}: {mib:,.1f} MiB"
        self._stream.write("\r\x1b[K" + text)
        self._stream.flush()
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False
