"""Saved web pages (HTML, XHTML): rebuilt by nh3 (Rust ammonia) from an allowlist.

What the page *shows* is kept (text, headings, lists, tables, clickable links); everything
else goes: comments (a saved page's ``<!-- saved from url=... -->`` names the intranet it came
from), ``<meta>``, scripts, styles (a ``url()`` or ``@import`` loads from elsewhere, and
``style`` attributes can hide text: all style is removed rather than parsed), event
attributes, and every element that loads something (``img``, ``link``, ``iframe``,
``object``, ``embed``, ``base``, ``form``...). A picture saved inside the page (``<img
src="data:...">``) is cleaned by the scrubber of its real type and kept; one that cannot be
cleaned, and every picture loaded from elsewhere, is removed. The page's title is
content (the tab shows it): it is kept, as text. The report of what was removed comes from a
bounded parse of the input with Python's ``html.parser``: names only; the kept links are
listed for the editors, who check them for per-recipient tracking tokens.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3  # imported with the registry: loaded before the worker is sealed

from scrubbers import _data_uri
from scrubbers._core import scrub_embedded
from scrubbers._types import MAX_LINKS, Cleaned, Limits, PassRecord
from scrubbers.errors import ScrubError, UnsupportedTypeError

#: element -> attributes kept on it (the one allowlist table).
ALLOWED: dict[str, frozenset[str]] = {
    **{
        tag: frozenset()
        for tag in (
            "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "div", "span", "blockquote",
            "pre", "code", "em", "strong", "b", "i", "u", "s", "sub", "sup", "small", "mark",
            "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr",
            "caption", "article", "section", "header", "footer", "main", "nav", "aside",
            "figure", "figcaption", "abbr", "q", "cite", "del", "ins", "time",
        )
    },
    "a": frozenset({"href"}),
    "img": frozenset({"src", "alt", "width", "height"}),  # src: a cleaned data: picture only
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan"}),
}  # fmt: skip
#: Elements removed with their content (not only their tags).
_DROPPED_WITH_CONTENT = frozenset({"script", "style", "noscript", "template", "title"})
_MAX_REPORTED = 200
_MAX_TITLE_CHARS = 1000
_SIZE = re.compile(r"\d{1,5}%?\Z")


class _Inventory(HTMLParser):
    """Names of what the sanitiser will remove, from a parse of the input."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.removed: set[str] = set()
        self.links: list[str] = []
        self.title: str | None = None
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title and self.title is not None:
            self.title = (self.title + data)[:_MAX_TITLE_CHARS]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_comment(self, data: str) -> None:
        if data.lstrip().lower().startswith("saved from url"):
            self.removed.add("html:comment:saved-from-url")
        else:
            self.removed.add("html:comment")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and self.title is None:
            self.title, self._in_title = "", True
            return
        if len(self.removed) > _MAX_REPORTED:
            return
        if tag == "meta":
            names = {k: (v or "") for k, v in attrs}
            key = names.get("name") or names.get("http-equiv") or names.get("property")
            if key is not None:
                safe = "".join(c for c in key.lower()[:40] if c.isalnum() or c in "-_:.")
                self.removed.add(f"html:meta:{safe or 'other'}")
            elif "charset" not in names:
                self.removed.add("html:meta")
            return
        if tag in ("html", "head", "body"):
            kept: frozenset[str] = frozenset()
        elif tag not in ALLOWED:
            self.removed.add(f"html:{tag if tag.isalnum() else 'element'}")
            return
        else:
            kept = ALLOWED[tag]
        for name, value in attrs:
            if tag == "img" and name == "src" and not _data_uri.is_data_uri((value or "").strip()):
                self.removed.add("html:img")  # loaded from elsewhere: a beacon
                continue
            if name in kept:
                if tag == "a" and name == "href" and value and len(self.links) < MAX_LINKS:
                    self.links.append(value)
                continue
            if name.startswith("on"):
                self.removed.add("html:attribute:event")
            elif name in ("style", "class", "id", "lang", "dir", "title"):
                self.removed.add(f"html:attribute:{name}")
            else:
                self.removed.add("html:attribute:other")

    def handle_decl(self, decl: str) -> None:
        if decl.strip().lower() != "doctype html":  # the one the output itself carries
            self.removed.add("html:doctype")

    def handle_pi(self, data: str) -> None:
        self.removed.add("html:processing-instruction")


def _decode(data: bytes) -> str:
    for codec in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


@dataclass
class _AttributeValues(PassRecord):
    """nh3's attribute filter: the values it keeps (a size only as a number: any other
    text there is drawn by no browser), with each data: picture cleaned."""

    limits: Limits
    check_only: bool
    failure: BaseException | None = None

    def __call__(self, element: str, attribute: str, value: str) -> str | None:
        # nh3 drops an attribute whose filter raises and swallows the error: a failure is
        # kept here and raised once the page is rebuilt (never a page called clean by luck).
        try:
            return self._filter(element, attribute, value)
        except ScrubError:
            self.removed.add("html:img")  # a picture that cannot be cleaned goes
            return None
        except Exception as exc:  # noqa: BLE001 - re-raised by `clean` below
            self.failure = exc
            return None

    def _filter(self, element: str, attribute: str, value: str) -> str | None:
        target = value.strip()
        if attribute == "href":
            # data: is among nh3's schemes for the values only: never a link target.
            return None if _data_uri.is_data_uri(target) else value
        if attribute in ("width", "height", "colspan", "rowspan"):
            if _SIZE.match(target):
                return value
            self.removed.add("html:invalid-value")
            return None
        if element == "img" and attribute == "src":
            if not _data_uri.is_data_uri(target):
                return None
            result = scrub_embedded(
                _data_uri.decode(target), self.limits, check_only=self.check_only
            )
            self.removed.update(result.removed)
            self.attachments.extend(result.attachments)
            self.warnings.update(result.warnings)
            return value if self.check_only else _data_uri.encode(result.data)
        return value

    def clean(self, text: str) -> str:
        body = nh3.clean(
            text,
            tags=set(ALLOWED),
            clean_content_tags=set(_DROPPED_WITH_CONTENT),
            # "*": ammonia's own generic attributes (lang, title) would otherwise stay on
            # every element, outside the table.
            attributes={"*": set(), **{tag: set(attrs) for tag, attrs in ALLOWED.items() if attrs}},
            attribute_filter=self,
            url_schemes={"http", "https", "mailto", "data"},
            link_rel=None,
            strip_comments=True,
            generic_attribute_prefixes=set(),
        )
        if self.failure is not None:
            raise self.failure
        return body


class HtmlScrubber:
    file_types = ("html",)

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        if len(untrusted_data) > limits.max_input_bytes:
            raise UnsupportedTypeError("page too large")
        text = _decode(untrusted_data)
        inventory = _Inventory()
        inventory.feed(text)
        inventory.close()
        values = _AttributeValues(limits, check_only=True)
        values.clean(text)
        return sorted(inventory.removed | values.removed)

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        if len(untrusted_data) > limits.max_input_bytes:
            raise UnsupportedTypeError("page too large")
        text = _decode(untrusted_data)
        inventory = _Inventory()
        inventory.feed(text)
        inventory.close()
        values = _AttributeValues(limits, check_only=False)
        body = values.clean(text)
        # Whitespace-collapsed and escaped: the title goes back as text, never as markup.
        title = " ".join((inventory.title or "").split())
        head = f"<title>{html.escape(title, quote=False)}</title>" if title else ""
        out = (
            f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">{head}</head><body>\n'
            + body.strip()
            + "\n</body></html>\n"
        ).encode("utf-8")
        kept = _Inventory()  # the links as the output has them (nh3 dropped the unsafe ones)
        kept.feed(body)
        kept.close()
        warnings = {"page-content", *values.warnings}
        if kept.links:
            warnings.add("hyperlinks")
        return Cleaned(
            out,
            tuple(sorted(inventory.removed | values.removed)),
            attachments=tuple(values.attachments),
            warnings=tuple(sorted(warnings)),
            links=tuple(kept.links + values.links),
        )
