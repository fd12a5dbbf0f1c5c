"""Passphrases for the identity that opens every submission (standard library only: this
runs on the air-gapped laptop).

Generated: `GENERATED_WORDS` words drawn with `secrets` from the EFF's large word list
(7,772 plain words, 12.9 bits each: 8 words = 103 bits), joined by hyphens, as `age -p`
does with its own list when the passphrase is left empty.

Typed (or read from a file): refused unless it has at least `MIN_CHARS` characters **and**
an estimated strength of at least `MIN_BITS` bits, the smaller of two estimates:

- as characters: each character counts log2 of the pool of the classes the passphrase uses
  (26 lowercase, 26 uppercase, 10 digits, 33 others including the space), except that a
  character repeating the one before it, or continuing a run (`abc`, `321`), counts 1 bit;
- as words, when it splits into several parts (on spaces, hyphens, dots, commas,
  underscores): a part made of letters counts at most 12.9 bits, as if it were a word of
  a list of ~7,800 common words, whatever its length ("correct horse battery" is three
  words, 39 bits, however long it looks); other parts count as characters.

The rule is deliberately simple and errs on the side of refusing: an attacker who steals the
laptop's identity file can try passphrases offline, at the speed of scrypt, for as long as
they like, and what it protects is every source.
"""

from __future__ import annotations

import functools
import math
import re
import secrets
import string
from importlib import resources
from typing import Final

__all__ = [
    "GENERATED_WORDS",
    "MIN_BITS",
    "MIN_CHARS",
    "WeakPassphraseError",
    "check_strength",
    "estimate_bits",
    "generate",
]

GENERATED_WORDS: Final = 8
MIN_CHARS: Final = 12
MIN_BITS: Final = 64
_SEPARATORS: Final = re.compile(r"[\s\-_.,;:]+")
_PLAIN_WORD: Final = re.compile(r"[a-z]+")


class WeakPassphraseError(ValueError):
    """The passphrase is too weak to protect the identity (the message says why)."""


@functools.cache
def _words() -> frozenset[str]:
    text = resources.files("leakdrop").joinpath("wordlists", "eff_large_wordlist.txt")
    words = frozenset(w for w in text.read_text("utf-8").split() if _PLAIN_WORD.fullmatch(w))
    # Why the check: a damaged list would silently weaken every generated passphrase.
    if len(words) < 7700:
        raise RuntimeError(f"passphrase word list has {len(words)} words, not >= 7700")
    return words


def generate() -> str:
    """A new passphrase: `GENERATED_WORDS` words from the list, hyphen-separated."""
    words = sorted(_words())
    return "-".join(secrets.choice(words) for _ in range(GENERATED_WORDS))


def _char_bits(text: str) -> float:
    pool = 0
    for present, size in (
        (any(c in string.ascii_lowercase for c in text), 26),
        (any(c in string.ascii_uppercase for c in text), 26),
        (any(c in string.digits for c in text), 10),
        (any(not (c.isascii() and c.isalnum()) for c in text), 33),
    ):
        pool += size if present else 0
    per_char = math.log2(pool) if pool > 1 else 0.0
    bits = 0.0
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else None
        if prev is not None and abs(ord(ch) - ord(prev)) <= 1:
            bits += 1.0  # "aaaa", "abcd", "4321" add almost nothing
        else:
            bits += per_char
    return bits


def estimate_bits(passphrase: str) -> float:
    """The strength estimate described in the module's docstring, in bits."""
    bits = _char_bits(passphrase)
    parts = [p for p in _SEPARATORS.split(passphrase) if p]
    if len(parts) > 1:
        word_bits = math.log2(len(_words()))
        bits = min(
            bits,
            sum(min(_char_bits(p), word_bits) if p.isalpha() else _char_bits(p) for p in parts),
        )
    return bits


def check_strength(passphrase: bytes) -> None:
    """Raise `WeakPassphraseError` with the reason unless `passphrase` passes the rule."""
    try:
        text = passphrase.decode("utf-8")
    except UnicodeDecodeError:
        text = passphrase.decode("latin-1")
    if len(text) < MIN_CHARS:
        raise WeakPassphraseError(
            f"passphrase too short ({len(text)} characters, at least {MIN_CHARS}); "
            "leave it empty to get a generated one"
        )
    bits = estimate_bits(text)
    if bits < MIN_BITS:
        raise WeakPassphraseError(
            f"passphrase too easy to guess (about {bits:.0f} bits, at least {MIN_BITS}: "
            f"more words, or random ones); leave it empty to get a generated one of "
            f"{GENERATED_WORDS} words"
        )
