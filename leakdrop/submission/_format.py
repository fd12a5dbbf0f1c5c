"""The submission format's constants, errors, sizes (PADMÉ) and stored names."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from leakdrop._files import DAY, SHA256_HEX

FORMAT: Final = "leakdrop-submission"
VERSION: Final = 1

BLOCK: Final = 512
#: The manifest is read into memory, so it is bounded (a legitimate one lists at most a few
#: thousand files at a few hundred bytes each).
MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
#: pax extended headers are read into memory too; ours hold one path and maybe a size.
MAX_PAX_BYTES: Final = 16 * 1024
MAX_FILES: Final = 10_000
#: Bounds of the manifest's text fields (characters), enforced by writer and reader alike.
MAX_TEXT_CHARS: Final = 4096
MAX_TYPE_CHARS: Final = 256
MAX_FIELD_CHARS: Final = 512
MAX_REMOVED: Final = 10_000
#: Sanitised names are bounded in UTF-8 bytes: file systems allow 255 bytes per component and
#: the stored name gets an "NN-" prefix.
MAX_NAME_BYTES: Final = 120
MAX_EXT_BYTES: Final = 16
#: The padded size is never below one traditional tar record: tiny submissions (a short
#: message) all look alike.
MIN_PADDED: Final = 10 * 1024

MANIFEST_NAME: Final = "manifest.json"
MESSAGE_NAME: Final = "message.txt"
FILES_DIR: Final = "files"

_CHUNK: Final = 1024 * 1024
_ZEROS: Final = bytes(_CHUNK)
_SHA256_RE: Final = SHA256_HEX
_DAY_RE: Final = DAY
#: Submission ids become folder names on the editor's laptop: a conservative alphabet.
_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_POSIX_MAGIC: Final = b"ustar\x0000"
_REGULAR_TYPES: Final = (b"0", b"\x00")
_PAX_LEN_RE: Final = re.compile(rb"([1-9][0-9]{0,5}) ")
_PAX_TYPE: Final = b"x"
#: Characters that Windows (an editor may copy files to one) refuses in names, or that shells
#: and viewers treat specially.
_UNSAFE_CHARS: Final = frozenset('<>:"|?*/\\')


class ContainerError(Exception):
    """The submission container is malformed, unsafe or does not match its manifest."""


class ManifestError(ContainerError):
    """manifest.json is missing, too large, not JSON or not the expected schema."""


class MemberError(ContainerError):
    """A tar member is unexpected, unsafe (link, device, traversal...) or out of order."""


class IntegrityError(ContainerError):
    """A file's size or SHA-256 does not match the manifest (or the declared entry)."""


class TruncatedError(ContainerError):
    """The archive ends before its end-of-archive marker or its padding."""


# --------------------------------------------------------------------------- sizes


def padme(n: int) -> int:
    """PADMÉ (Nikitin et al., PETS 2019): round `n` up, leaking O(log log n) bits.

    With E = floor(log2 n) and S = floor(log2 E) + 1, the low E - S bits are rounded up.
    """
    if n < 0:
        raise ValueError("negative length")
    if n < 2:
        return n
    e = n.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1 if e > s else 0
    return (n + mask) & ~mask


def padded_size(n: int) -> int:
    """Total plaintext size for a tar of `n` bytes: PADMÉ, a multiple of 512, >= 10 KiB."""
    size = padme(n)
    size = -(-size // BLOCK) * BLOCK
    return max(size, MIN_PADDED)


# --------------------------------------------------------------------------- names


def _strip_unsafe(untrusted_name: str) -> str:
    out: list[str] = []
    for ch in untrusted_name:
        cat = unicodedata.category(ch)
        if cat[0] == "C" or cat in ("Zl", "Zp"):
            # Control, format (bidi overrides such as U+202E, zero-width joiners), surrogate,
            # private-use and unassigned characters: they make a name display as something
            # else than it is ("gnp.exe" shown as "exe.png") or break terminals.
            continue
        if ch in _UNSAFE_CHARS:
            out.append("_")
        elif cat == "Zs":
            out.append(" ")
        else:
            out.append(ch)
    return re.sub(" {2,}", " ", "".join(out))


def _truncate_utf8(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def sanitise_name(untrusted_name: str, *, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A file name safe to use as one path component on any editor's system.

    Keeps only the last component (both `/` and `\\` separate), drops control/format/bidi
    characters and NULs, replaces characters Windows refuses, strips leading dots, dashes
    and spaces (no hidden files, nothing that reads as a command-line option) and trailing
    dots and spaces, and bounds the length in UTF-8 bytes while keeping a short extension.
    Never returns an empty name, "." or "..". Idempotent.
    """
    name = unicodedata.normalize("NFC", untrusted_name)
    name = re.split(r"[/\\]", name)[-1]
    name = _strip_unsafe(name)
    name = name.lstrip(". -").rstrip(". ")
    if not name:
        return "file"
    if len(name.encode("utf-8")) > max_bytes:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext.encode("utf-8")) <= MAX_EXT_BYTES:
            keep = max_bytes - len(ext.encode("utf-8")) - 1
            name = _truncate_utf8(stem, keep).rstrip(". ") + "." + ext
        else:
            name = _truncate_utf8(name, max_bytes).rstrip(". ")
        name = name.lstrip(". -") or "file"
    return name


def _blocks_for(size: int) -> int:
    return -(-size // BLOCK) * BLOCK
