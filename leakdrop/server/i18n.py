"""The pages' words, in French (default) and English: the lookups (reasons, notes,
warnings, sizes, plurals) over the catalogues of words, `catalogue_fr` and `catalogue_en`.

The language comes only from ``?lang=en`` in the address (links and the form's action
carry it). Never from Accept-Language: Tor Browser always announces English, and a choice
stored in a cookie would be state kept about the source.
"""

from __future__ import annotations

import re
from typing import Final

from leakdrop.server.catalogue_en import EN
from leakdrop.server.catalogue_fr import FR

LANGS: Final = ("fr", "en")
DEFAULT_LANG: Final = "fr"


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else DEFAULT_LANG


def other_lang(lang: str) -> str:
    return "en" if lang == "fr" else "fr"


STRINGS: Final[dict[str, dict[str, str]]] = {"fr": FR, "en": EN}


#: The scrubbers' notes are fixed English phrases, joined by "; " when there are several.
#: Each known phrase -> the key of its words for the source.
_NOTE_KEYS: Final[dict[str, str]] = {
    "lossless: compressed image data kept byte for byte": "note_image_kept",
    "lossless: image data kept byte for byte, only metadata removed": "note_image_kept",
    "orientation kept (EXIF with only that tag)": "note_orientation_kept",
    "converted to PNG (lossless)": "note_converted_png",
    "converted to TIFF (lossless)": "note_converted_tiff",
    "drawing records kept byte for byte": "note_drawing_kept",
    "EMF+ layer dropped, its GDI drawing kept": "note_emf_plus_dropped",
    "ICC colour profiles replaced by device colour spaces": "note_icc_replaced",
    "empty file (0 bytes)": "note_empty",
    # Notes of the audio and plain-text scrubbers (issue 11).
    "audio data kept byte for byte, only tags removed": "note_audio_kept",
    "nothing hidden in this kind of file — check its content": "note_plain_text",
}
_MORE_IMAGES: Final = re.compile(r"([1-9][0-9]{0,5}) more image\(s\) given as separate files")
_GENERIC_REASON: Final = "reason:could not be cleaned"


def reason_text(lang: str, reason: str | None) -> str | None:
    """A scrubber's (English, value-free) reason in the page's language.

    Only reasons known here are shown: the text comes back from the cleaning worker, which
    parses hostile files; a worker taken over by one must not get to write to the source
    (say, a fake instruction). Anything else reads "could not be cleaned".
    """
    if reason is None:
        return None
    strings = STRINGS[lang]
    return strings.get("reason:" + reason, strings[_GENERIC_REASON])


def note_lines(lang: str, note: str | None) -> list[str]:
    """A scrubber's note as sentences for the source, in the page's language.

    Known phrases only, for the reason given in `reason_text`; any other phrase becomes
    one generic line (the editors read the exact note in the manifest).
    """
    if not note:
        return []
    strings = STRINGS[lang]
    lines: list[str] = []
    for phrase in note.split("; "):
        key = _NOTE_KEYS.get(phrase.strip())
        if key is not None:
            line = strings[key]
        elif (more := _MORE_IMAGES.fullmatch(phrase.strip())) is not None:
            count = int(more.group(1))
            line = (
                strings["note_more_images_one"]
                if count == 1
                else strings["note_more_images"].format(count=count)
            )
        else:
            line = strings["note_other"]
        if line not in lines:
            lines.append(line)
    return lines


def warning_lines(lang: str, codes: tuple[str, ...]) -> list[str]:
    """The scrubbers' warning codes in the page's words; a code not known here (the wire
    lets only `scrubbers.WARNING_CODES` through) is not shown."""
    strings = STRINGS[lang]
    lines = [strings["warning:" + code] for code in codes if "warning:" + code in strings]
    return list(dict.fromkeys(lines))


def human_size(lang: str, size: int) -> str:
    """`size` as people read it in their file manager: powers of 1024 named Ko/Mo/Go in
    French and KB/MB/GB in English (as Windows shows them), the number and its unit held
    together by a non-breaking space."""
    if lang == "fr":
        units = ("octet" if size in (0, 1) else "octets", "Ko", "Mo", "Go", "To")
    else:
        units = ("byte" if size == 1 else "bytes", "KB", "MB", "GB", "TB")
    value = float(size)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            text = f"{value:.0f}" if unit == units[0] or value >= 100 else f"{value:.1f}"
            if text.endswith(".0"):
                text = text[:-2]
            if lang == "fr":
                text = text.replace(".", ",")
            return f"{text}\u00a0{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def plural(lang: str, count: int, one: str, many: str) -> str:
    """The template `one` or `many` for `count`: French puts 0 and 1 in the singular."""
    singular = count in (0, 1) if lang == "fr" else count == 1
    return one if singular else many
