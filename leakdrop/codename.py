"""A returning source's codename, and what is derived from it (standard library + PyNaCl).

The codename is the only secret a source keeps: seven words drawn with `secrets` from a
diceware list of the page's language (7,772 English words, 7,775 French: 7 x 12.9 = 90
bits). The server shows it once on the receipt and never stores, logs or sends it back.

From it, in memory only and for the time of one request:

    seed        = Argon2id(normalise(codename), salt)       # salt: random, per drop
    mailbox id  = BLAKE2b-256(key=seed, "leakdrop mailbox id v1")
    reply seed  = BLAKE2b-256(key=seed, "leakdrop reply key v1")
    reply key   = age X25519 identity whose secret scalar is the reply seed

The mailbox id names where the editors' replies are filed (on disk only through a keyed hash,
see `leakdrop.mailboxes`); the reply key's public half travels, sealed, in the manifest of
every submission made under the codename, so the editors can seal replies to it. No private
key of a source is ever stored. The two outputs are domain-separated BLAKE2b PRFs keyed by
the seed: knowing the mailbox id (the pickup sees it when an editor files a reply) tells
nothing about the reply key.

Argon2id cost (`OPSLIMIT`, `MEMLIMIT`): see DESIGN.md, "Codenames". libsodium's Argon2id
runs on one thread; 4 passes over 256 MiB take about 0.45 s on one core of the reference
2-core machine. The server runs at most two derivations at once (a queue), so the memory a
stranger can make it spend on codenames is bounded at 512 MiB.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Final

import nacl.pwhash.argon2id

from leakdrop.sealing import (
    AnyIdentity,
    AnyRecipient,
    HybridIdentity,
    X25519Identity,
)

__all__ = [
    "MEMLIMIT",
    "OPSLIMIT",
    "SALT_BYTES",
    "WORDS",
    "CodenameError",
    "SourceKeys",
    "derive",
    "new_codename",
    "normalise",
    "word_list",
]

WORDS: Final = 7
OPSLIMIT: Final = 4
MEMLIMIT: Final = 256 * 1024 * 1024
SALT_BYTES: Final = nacl.pwhash.argon2id.SALTBYTES
#: Seven words of at most 9 letters and their spaces fit easily; more is not a codename, and
#: a bound keeps a stranger's 2 MB "codename" away from the normaliser and Argon2.
MAX_TYPED_CHARS: Final = 400

#: diceware's list names, per page language. The lists ship in the `diceware` package
#: (GPL-3.0-or-later, maintained on PyPI): `en_eff` is the EFF's large list (CC BY 3.0 US),
#: `fr` is diceware's French list; both are 7,776 common words chosen to be easy to type.
_LISTS: Final = {"en": "wordlist_en_eff.txt", "fr": "wordlist_fr.txt"}
#: Only plain lowercase words: a hyphenated word ("t-shirt") would change under
#: `normalise`, and an accented or capitalised one is harder to copy onto paper.
_PLAIN_WORD: Final = re.compile(r"[a-z]{3,}")
_SEPARATORS: Final = re.compile(r"[\s\-\u2010-\u2015_.,;:]+")
_MAILBOX_LABEL: Final = b"leakdrop mailbox id v1"
_REPLY_LABEL: Final = b"leakdrop reply key v1"


class CodenameError(ValueError):
    """What was typed cannot be a codename (empty, too long, not words)."""


@functools.cache
def word_list(lang: str) -> tuple[str, ...]:
    """The words a codename is drawn from, for `lang` ("fr" or "en")."""
    try:
        name = _LISTS[lang]
    except KeyError:
        raise ValueError(f"no codename word list for language {lang!r}") from None
    text = resources.files("diceware").joinpath("wordlists", name).read_text("utf-8")
    words: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if parts and _PLAIN_WORD.fullmatch(parts[-1]):
            words.append(parts[-1])
    # Why the check: a damaged or replaced list would silently weaken every codename.
    if len(set(words)) < 7000:
        raise RuntimeError(f"codename word list {name} has {len(set(words))} words, not >= 7000")
    return tuple(sorted(set(words)))


def new_codename(lang: str) -> str:
    """Seven words, space-separated, drawn uniformly with `secrets`."""
    words = word_list(lang)
    return " ".join(secrets.choice(words) for _ in range(WORDS))


def normalise(untrusted_typed: str) -> str:
    """The canonical form of a typed codename: what Argon2 is given.

    Tolerates what a person copying words from paper does: capitals, accents ("É" for
    "e"), extra or missing spaces between words written with hyphens, dots or commas, and
    leading or trailing blanks. Raises CodenameError for what cannot be a codename.
    """
    if len(untrusted_typed) > MAX_TYPED_CHARS:
        raise CodenameError("too long to be a codename")
    decomposed = unicodedata.normalize("NFKD", untrusted_typed)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = [w for w in _SEPARATORS.split(plain) if w]
    if not words:
        raise CodenameError("empty codename")
    if not all(w.isascii() and w.isalpha() for w in words):
        raise CodenameError("a codename is made of words only")
    return " ".join(words)


@dataclass(frozen=True, repr=False)
class SourceKeys:
    """What one codename opens. Lives in memory for one request; repr shows nothing."""

    mailbox_id: bytes
    reply_seed: bytes

    def reply_identity(self, *, post_quantum: bool = False) -> AnyIdentity:
        """The source's reply key: the seed *is* the identity, X25519 or (when the editors'
        keys are post-quantum, so that replies are protected as submissions are) the
        hybrid ML-KEM-768 + X25519 one."""
        if post_quantum:
            return HybridIdentity(self.reply_seed)
        return X25519Identity(self.reply_seed)

    def reply_identities(self) -> list[AnyIdentity]:
        """Both kinds, to open what was sealed before and after a move to post-quantum keys."""
        return [self.reply_identity(post_quantum=True), self.reply_identity()]

    def reply_recipient(self, *, post_quantum: bool = False) -> AnyRecipient:
        return self.reply_identity(post_quantum=post_quantum).recipient()

    def __repr__(self) -> str:
        return "SourceKeys(<secret>)"


def _prf(seed: bytes, label: bytes) -> bytes:
    return hashlib.blake2b(label, key=seed, digest_size=32).digest()


def derive(normalised: str, salt: bytes) -> SourceKeys:
    """Argon2id then the domain-separated outputs. `normalised` comes from `normalise`."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"the codename salt must be {SALT_BYTES} bytes")
    seed = nacl.pwhash.argon2id.kdf(
        32, normalised.encode("ascii"), salt, opslimit=OPSLIMIT, memlimit=MEMLIMIT
    )
    return SourceKeys(mailbox_id=_prf(seed, _MAILBOX_LABEL), reply_seed=_prf(seed, _REPLY_LABEL))
