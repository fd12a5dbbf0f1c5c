"""Word's hidden bookmark names: renumbered, so that none carries the number Word drew.

Word names the bookmarks it makes for itself ``_Hlk`` (a hyperlink to a place in the
document), ``_Toc`` (a table-of-contents entry), ``_Ref`` (a cross-reference) and ``_Hlt``
(an older hyperlink target), each followed by a random number drawn at that edit: the same in
every copy of one file, different in any other, and any number is a free mark. They are
hidden (the Bookmark dialog lists them only on request), so the number is nothing a reader
sees: each becomes ``_Hlk1``, ``_Hlk2`` ... per kind, in the order the names first appear
(parts by name, then document order), with every reference following: ``w:anchor``
(hyperlinks to a place), and the REF, PAGEREF, HYPERLINK \\l ... field instructions
(``w:instrText``, ``w:fldSimple/@w:instr``). One mapping serves the whole package, as a
footnote may point at a bookmark of the body.

A bookmark named by its author (no leading underscore) is content: the dialog lists it and
links go to it by that name; it stays as written, and is not reported.
"""

from __future__ import annotations

import re

from scrubbers import _xml
from scrubbers._ooxml_markup import W_NS
from scrubbers._xml import Element

BOOKMARK_NAME = "ooxml:bookmark-name"  # a hidden bookmark's random number (and references)

_HIDDEN_NAME = re.compile(r"(?<!\w)_(Hlk|Hlt|Toc|Ref)\w*")
# Where a bookmark is named: by the bookmark itself, by a hyperlink to it, by a field code.
_NAMING_ATTRIBUTES = {"bookmarkStart": "name", "hyperlink": "anchor", "fldSimple": "instr"}


class HiddenBookmarks:
    """The package's hidden bookmark names, old -> new, given as they are first seen."""

    def __init__(self, removed: set[str]) -> None:
        self.removed = removed
        self.renamed: dict[str, str] = {}
        self.counts: dict[str, int] = {}

    def rename(self, root: Element) -> None:
        """Rewrite every hidden bookmark name of one part, in document order."""
        for element in root.iter():
            if not isinstance(element.tag, str) or _xml.namespace(element.tag) not in W_NS:
                continue
            local = _xml.local_name(element.tag)
            if local == "instrText":
                if element.text:
                    element.text = _HIDDEN_NAME.sub(self._new_name, element.text)
                continue
            wanted = _NAMING_ATTRIBUTES.get(local)
            for name, value in element.attrib.items():
                if _xml.local_name(name) == wanted and _xml.namespace(name) in W_NS:
                    element.set(name, _HIDDEN_NAME.sub(self._new_name, value))

    def _new_name(self, match: re.Match[str]) -> str:
        old = match.group(0)
        new = self.renamed.get(old)
        if new is None:
            kind = match.group(1)
            self.counts[kind] = self.counts.get(kind, 0) + 1
            new = f"_{kind}{self.counts[kind]}"
            self.renamed[old] = new
        if new != old:
            self.removed.add(BOOKMARK_NAME)
        return new
