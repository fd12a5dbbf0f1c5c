"""HTML pages: Jinja2 with autoescaping on for every template (all text is escaped,
including the file names the source sent and the admin's texts)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import jinja2
import markupsafe

from leakdrop.server import fields
from leakdrop.server.config import ServerConfig
from leakdrop.server.i18n import (
    STRINGS,
    human_size,
    note_lines,
    other_lang,
    plural,
    reason_text,
    warning_lines,
)
from leakdrop.server.mailroom import Conversation
from leakdrop.server.receipt import Receipt

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
STATIC: Final = Path(__file__).resolve().parent / "static"

#: Error page keys -> (title key, text key).
_ERRORS: Final = {
    "malformed": "err_malformed",
    "no_files": "err_no_files",
    "too_large": "err_too_large",
    "too_many_files": "err_too_many_files",
    "message_too_long": "err_message_too_long",
    "full": "err_full",
    "busy": "err_busy",
    "internal": "err_internal",
    "not_found": "err_not_found",
    "method": "err_method",
    "token": "err_token",
}


#: Every page is padded to this many bytes, or to the next power of two above it: over Tor,
#: an observer next to the source sees how large the answer is, and a receipt's size would
#: tell the kind and number of files and fields. The receipts of one to a few files, each
#: error page and the landing page all fit in the first bucket, so all look alike.
PAGE_BUCKET_BYTES: Final = 16 * 1024

_BREAK_AFTER: Final = re.compile(r"(?<=[/:])")


def breakable(text: str) -> markupsafe.Markup:
    """`text` escaped, with a line-break opportunity after each ``/`` and ``:``: a long
    field name (``embedded:xlsx/ooxml:docProps/custom``) wraps between its parts instead
    of mid-word or across the next column of the list."""
    return markupsafe.Markup("<wbr>").join(
        markupsafe.escape(part) for part in _BREAK_AFTER.split(text)
    )


def _found(files: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Each warning found in the source's files, with the files it was found in."""
    found: dict[str, list[str]] = {}
    for f in files:
        for line in f["warning_lines"]:
            found.setdefault(line, []).append(f["display_name"])
    return list(found.items())


def padded(page: str) -> str:
    """`page` with white space after ``</html>`` (where it changes nothing) up to its size
    bucket, counted in UTF-8 bytes as it is sent."""
    size = len(page.encode("utf-8"))
    bucket = PAGE_BUCKET_BYTES
    while bucket < size:
        bucket *= 2
    return page + "\n" * (bucket - size)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


class Pages:
    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["breakable"] = breakable
        limits = config.limits
        self._numbers = {
            lang: {
                "max_files": str(limits.max_files),
                "max_chars": f"{limits.max_message_chars:,}".replace(
                    ",", "\u202f" if lang == "fr" else ","
                ),
                "max_size": human_size(lang, limits.max_submission_bytes),
            }
            for lang in STRINGS
        }

    def _render(self, name: str, lang: str, path: str | None, **context: Any) -> str:
        """`path`: where the language link leads (None: no link, the page cannot be left
        without losing what it shows)."""
        other = other_lang(lang)
        page = self._env.get_template(name).render(
            lang=lang,
            other=other,
            t=STRINGS[lang],
            site_name=self._config.name,
            demo=self._config.demo,
            switch_href=None if path is None else f"{quote(path)}?lang={other}",
            **context,
        )
        return padded(page)

    def _text(self, lang: str, key: str) -> str:
        return STRINGS[lang][key].format(**self._numbers[lang])

    def _files_hint(self, lang: str) -> str:
        strings = STRINGS[lang]
        many = self._config.limits.max_files
        hint = plural(lang, many, strings["files_hint_one"], strings["files_hint"])
        return hint.format(**self._numbers[lang])

    def index(self, lang: str) -> str:
        about = self._config.about.get(lang) or next(iter(self._config.about.values()), None)
        return self._render(
            "index.html",
            lang,
            "/",
            about=_paragraphs(about or STRINGS[lang]["about_default"]),
            files_hint=self._files_hint(lang),
            message_hint=self._text(lang, "message_hint"),
            max_chars=self._config.limits.max_message_chars,
        )

    def receipt(
        self,
        lang: str,
        receipt: Receipt,
        *,
        codename: str | None = None,
        followup: bool = False,
        mailbox_failed: bool = False,
    ) -> str:
        strings = STRINGS[lang]
        # Plain text: judged from its first bytes when no scrubber took it, or passed by
        # the text scrubber (which checked every byte); either way nothing is hidden in it.
        plain = {id(f): f.plain_text or f.type_name == "text" for f in receipt.files}
        files = [
            {
                "display_name": f.display_name,
                "stored_name": f.stored_name,
                # Type names (pdf, jpeg, docx) read the same in both languages; "unknown"
                # does not.
                "type_name": (
                    strings["type_text"]
                    if plain[id(f)]
                    else strings["type_unknown"]
                    if f.type_name == "unknown"
                    else f.type_name
                ),
                "cleaned": f.cleaned,
                # A plain-text file has nothing hidden to clean: not the not-cleaned alarm.
                "plain_text": plain[id(f)],
                "reason_text": reason_text(lang, f.reason),
                "removed": f.removed,
                "removed_plain": [strings["field:" + key] for key, _ in fields.group(f.removed)],
                "removed_details": plural(
                    lang,
                    len(f.removed),
                    strings["receipt_removed_details_one"],
                    strings["receipt_removed_details_many"],
                ).format(count=len(f.removed)),
                "warning_lines": warning_lines(lang, f.warnings),
                "note_lines": note_lines(lang, f.note),
                "size_text": human_size(lang, f.size),
                "empty": f.size == 0,
                "attached_to": f.attached_to,
            }
            for f in receipt.files
        ]
        if receipt.message_chars is None:
            message_text = STRINGS[lang]["receipt_no_message"]
        else:
            message_text = plural(
                lang,
                receipt.message_chars,
                strings["receipt_message_one"],
                strings["receipt_message"],
            ).format(chars=receipt.message_chars)
        return self._render(
            "receipt.html",
            lang,
            # The language link of a receipt leads home: a POST cannot be re-done by a link.
            # A receipt with a codename has none: leaving it would lose the codename.
            None if codename else "/",
            codename=codename,
            followup=followup,
            mailbox_failed=mailbox_failed,
            files=files,
            not_cleaned=[f for f in files if not f["cleaned"] and not f["plain_text"]],
            found=_found(files),
            message_text=message_text,
        )

    def error(self, lang: str, page: str, *, submission: bool) -> str:
        strings = STRINGS[lang]
        title = strings.get(f"{page}_title", strings["error_title"])
        return self._render(
            "error.html",
            lang,
            "/",
            title=title,
            text=self._text(lang, _ERRORS.get(page, "err_internal")),
            submission=submission,
        )

    def mailbox(self, lang: str, problem: str | None = None) -> str:
        """The codename form; `problem`: the key of what went wrong with the last try."""
        return self._render(
            "mailbox.html",
            lang,
            "/mailbox",
            problem=None if problem is None else STRINGS[lang][problem],
        )

    def conversation(self, lang: str, conversation: Conversation) -> str:
        return self._render(
            "conversation.html",
            lang,
            # The other language: the codename again (a POST is not re-done by a link).
            "/mailbox",
            replies=conversation.replies,
            followup_token=conversation.followup_token,
            delete_token=conversation.delete_token,
            files_hint=self._files_hint(lang),
            message_hint=self._text(lang, "message_hint"),
            max_chars=self._config.limits.max_message_chars,
        )

    def deleted(self, lang: str, count: int) -> str:
        strings = STRINGS[lang]
        key = "deleted_none" if count == 0 else "deleted_one" if count == 1 else "deleted_many"
        return self._render("deleted.html", lang, "/", text=strings[key].format(count=count))
