"""What the source is told about each stored file, and the names files are stored under."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

import scrubbers
from leakdrop.submission import sanitise_name

#: Manifest entries keep the original name, but bounded (the sanitised name is what is
#: stored; a 10 000-character name would only bloat the manifest).
MAX_ORIGINAL_NAME_CHARS: Final = 1000
_EXT_RE: Final = re.compile(r"\.[0-9A-Za-z]{1,8}")
#: Extensions that already name the sniffed type (kept as the source wrote them).
_EXT_ALIASES: Final = {
    "jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "tiff": (".tif", ".tiff"),
    "heif": (".heic", ".heif", ".hif"),
    "mp4": (".mp4", ".m4v"),
    "mov": (".mov", ".qt"),
    "m4a": (".m4a", ".m4b"),
    "3gp": (".3gp", ".3g2"),
}


@dataclass(frozen=True)
class ReceiptFile:
    """What the receipt page says about one stored file (names are the source's own)."""

    display_name: str
    stored_name: str
    type_name: str
    cleaned: bool
    reason: str | None
    removed: tuple[str, ...]
    note: str | None
    size: int
    attached_to: str | None = None
    #: Codes from `scrubbers.WARNING_CODES`: what the file still holds because it is content.
    warnings: tuple[str, ...] = ()
    #: Not cleaned for want of a scrubber, and its first bytes read as plain text: there is
    #: no hidden metadata to remove, only content to check.
    plain_text: bool = False


@dataclass(frozen=True)
class Receipt:
    files: tuple[ReceiptFile, ...]
    message_chars: int | None


# ----------------------------------------------------------------------------- names


def display_name(untrusted_name: str, limit: int = 200) -> str:
    """The name for the receipt page: no control or bidi characters, bounded length."""
    text = "".join(ch for ch in untrusted_name if unicodedata.category(ch)[0] != "C")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stored_name(untrusted_name: str, file_type: scrubbers.FileType) -> str:
    """`sanitise_name` with the extension of the sniffed type (the bytes decide, not the
    name: a PDF called ``photo.jpg`` is stored as ``photo.pdf``)."""
    name = sanitise_name(untrusted_name)
    if file_type.name == "unknown":
        return name
    wanted = _EXT_ALIASES.get(file_type.name, (file_type.extension,))
    stem, dot, ext = name.rpartition(".")
    if dot and stem and _EXT_RE.fullmatch("." + ext):
        if "." + ext.lower() in wanted:
            return name
        name = stem
    return sanitise_name(name + file_type.extension)


def bounded_original(untrusted_name: str) -> str:
    if len(untrusted_name) <= MAX_ORIGINAL_NAME_CHARS:
        return untrusted_name
    return untrusted_name[: MAX_ORIGINAL_NAME_CHARS - 1] + "…"
