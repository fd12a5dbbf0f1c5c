"""Plain text: nothing to remove, said so instead of "not cleaned".

A text file has no fields beside its characters; whatever identifies the writer is in the
text itself (a signature, a path, a name), which only a reader can judge. The file is passed
on unchanged, typed ``text/plain`` so that an editor sees every character, with a note that
says exactly that. Sniffing looks at the start of the file; here the whole file is checked,
so that a binary file with a text-looking start is not passed on as text.
"""

from __future__ import annotations

from scrubbers._sniff_text import is_plain_text
from scrubbers._types import Cleaned, Limits
from scrubbers.errors import UnsupportedTypeError

#: Translated for the source by leakdrop.server.i18n.
TEXT_NOTE = "nothing hidden in this kind of file — check its content"


class TextScrubber:
    file_types = ("text",)

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        if not is_plain_text(untrusted_data, whole=True):
            raise UnsupportedTypeError("binary data in a text file")
        return []

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        self.get_meta(untrusted_data, limits)
        return Cleaned(untrusted_data, (), note=TEXT_NOTE)
