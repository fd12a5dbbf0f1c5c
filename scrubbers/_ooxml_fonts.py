"""Word's embedded fonts: a neutral obfuscation key for each.

Word stores an embedded font obfuscated (ECMA-376 Part 1 §17.8.1): the first 32 bytes XORed
with a GUID it draws for the document, written in the font table (``w:fontKey`` of
``w:embedRegular``, ``w:embedBold``, ``w:embedItalic``, ``w:embedBoldItalic``). A value no
reader shows, drawn per copy: a tracking id. Each font gets the key of its order instead
({00000000-0000-0000-0000-000000000001} ...), its bytes obfuscated again with it (the same
font once restored, byte for byte), and the entries naming it follow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from scrubbers import _xml
from scrubbers._ooxml_ids import is_reference
from scrubbers._ooxml_markup import W_NS
from scrubbers._ooxml_parts import Relationship
from scrubbers._types import Limits
from scrubbers._xml import Element
from scrubbers._zip import font_key, looks_like_xml, xor_font_key

FONT_KEY = "ooxml:font-key"  # a font's obfuscation key replaced by a neutral one

_EMBEDS = frozenset({"embedRegular", "embedBold", "embedItalic", "embedBoldItalic"})


def _embeds(root: Element) -> Iterator[tuple[Element, str, str]]:
    """The font table's entries naming an embedded font: (element, relationship id, the
    ``w:fontKey`` attribute's Clark name)."""
    for element in root.iter():
        namespace = _xml.namespace(element.tag)
        if namespace not in W_NS or _xml.local_name(element.tag) not in _EMBEDS:
            continue
        rel_id = next((value for name, value in element.attrib.items() if is_reference(name)), "")
        yield element, rel_id, f"{{{namespace}}}fontKey"


def font_keys(
    untrusted_xml: bytes, rels: Iterable[Relationship], limits: Limits
) -> dict[str, bytes]:
    """Font part -> the key a font table (its XML and its relationships) obfuscates it with,
    as the first entry naming it says."""
    targets = {rel.rel_id: rel.target for rel in rels if rel.target is not None}
    keys: dict[str, bytes] = {}
    if not untrusted_xml.strip() or not looks_like_xml(untrusted_xml):
        return keys  # no entry (and a font table that is no XML is refused later)
    for element, rel_id, key_name in _embeds(_xml.parse(untrusted_xml, limits).root):
        target = targets.get(rel_id)
        key = font_key(element.get(key_name, ""))
        if target is not None and key is not None:
            keys.setdefault(target, key)
    return keys


def neutral_key(number: int) -> str:
    """The key of the ``number``-th font (from 1), written as Word writes a GUID."""
    return f"{{00000000-0000-0000-0000-{number:012X}}}"


def rekeyed(untrusted_font: bytes, old_key: bytes, new_key: str) -> bytes:
    """The font obfuscated with ``old_key``, obfuscated with ``new_key`` instead."""
    neutral = font_key(new_key)
    assert neutral is not None  # a `neutral_key`
    return xor_font_key(xor_font_key(untrusted_font, old_key), neutral)


def rekey_entries(root: Element, new_keys: Mapping[str, str], removed: set[str]) -> None:
    """The font table's entries follow their fonts' new keys (``new_keys``: relationship id,
    as written, -> key; empty for any other part)."""
    if not new_keys:
        return
    for element, rel_id, key_name in _embeds(root):
        new_key = new_keys.get(rel_id)
        if new_key is not None and element.get(key_name) != new_key:
            element.set(key_name, new_key)
            removed.add(FONT_KEY)
