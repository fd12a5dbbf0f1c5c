"""OUT/index.html, the overview `leakdrop open` rewrites: every submission folder in OUT,
conversations grouped by reply address, this run's failures as red rows.

No script, nothing loaded from anywhere, every text escaped (and shown with its control and
bidi characters made visible): the page lists what hostile sources sent.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import os
import re
import shlex
import tempfile
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from leakdrop._terminal import shown as _shown
from leakdrop.offline._extract import (
    PARTIAL_PREFIX,
    Failed,
    folder_manifest,
    read_age_files,
    submission_folders,
)
from leakdrop.submission import MESSAGE_NAME, Manifest, ManifestFile


def size_text(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError


#: What a browser percent-encodes in an uploaded file's name (WHATWG HTML, "multipart/form-data
#: encoding algorithm": LF, CR and the double quote), and nothing else: a name that really
#: holds "%20" keeps it.
_BROWSER_ESCAPES: Final = re.compile(r"%(0[aAdD]|22)")


def browser_decoded(untrusted_name: str) -> str:
    """A file name as the source's computer had it, before the browser encoded it.

    For display only: the result still holds whatever the source sent (quotes, line
    breaks) and must go through `_shown`/`_html`; paths use the sanitised stored name.
    """
    return _BROWSER_ESCAPES.sub(lambda m: chr(int(m.group(1), 16)), untrusted_name)


# --------------------------------------------------------------------------- index.html

INDEX_NAME: Final = "index.html"
LANGUAGES: Final = ("fr", "en")
_MAX_MESSAGE_SHOWN: Final = 256 * 1024
#: Files a browser would run as a page (scripts, file:// access): listed, never linked.
#: Only files a browser shows passively are linked. An allowlist, not a list of dangerous
#: kinds: a file with no or an unknown extension may be sniffed as HTML under file:// and
#: run script from a hostile source on the editors' laptop.
_LINKED_EXTENSIONS: Final = frozenset(
    {
        "pdf",
        "jpg",
        "jpeg",
        "png",
        "gif",
        "webp",
        "bmp",
        "tif",
        "tiff",
        "heic",
        "txt",
        "docx",
        "xlsx",
        "pptx",
        "odt",
        "ods",
        "odp",
        "odg",
        "emf",
        "wmf",
    }
)
#: Linked only when their scrubber cleaned them (uncleaned, they are active content).
_LINKED_IF_CLEANED: Final = frozenset({"svg"})
_INDEX_STYLE: Final = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em; color: #111; background: #fff; }
h1 { font-size: 1.5em; margin: 0 0 .3em; }
h2 { font-size: 1.25em; margin: 1.6em 0 .4em; }
h3 { font-size: 1em; margin: 1em 0 .3em; color: #333; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: .5em .6em; vertical-align: top; text-align: left; }
th { background: #eee; }
tr.failed > td { background: #fde8e8; color: #700; }
tr.failed > td:first-child { border-left: 6px solid #b00; font-weight: bold; }
section.conversation { border-left: 4px solid #36c; padding-left: 1em; margin: 1.5em 0; }
p.reply code { white-space: pre-wrap; overflow-wrap: anywhere; }
article.submission { border: 1px solid #bbb; padding: .6em .8em; margin: .6em 0; }
article.dirty { border-left: 6px solid #b00; }
article .meta { margin: 0 0 .4em; }
div.message { white-space: pre-wrap; overflow-wrap: break-word; font: inherit; margin: .4em 0;
  max-height: 40em; overflow: auto; background: #f6f6f6; padding: .5em .7em; }
ul.files { margin: .4em 0 0; padding-left: 1.1em; }
ul.files li { margin-bottom: .6em; }
.badge { display: inline-block; font-weight: bold; padding: 0 .4em; border-radius: 3px; }
li.ok .badge { background: #dfd; color: #050; }
li.dirty .badge, .alarm { background: #b00; color: #fff; }
.alarm { padding: .8em 1em; font-size: 1.1em; margin: 1em 0; }
li.dirty .reason { color: #900; font-weight: bold; }
.muted { color: #555; }
"""

#: The page's words. Values are HTML: placeholders are filled with escaped text only.
_TEXT: Final[dict[str, dict[str, str]]] = {
    "fr": {
        "title": "Envois",
        "summary": "{subs} envoi(s), {files} fichier(s), {convs} conversation(s). Page écrite "
        "par <code>leakdrop open</code> ; réécrite à chaque passage à partir de tous les "
        "envois de ce dossier.",
        "alarm": "<strong>{n} fichier(s) NON NETTOYÉ(S).</strong> Ils sont conservés tels que "
        "la source les a envoyés et peuvent contenir des métadonnées qui l'identifient "
        "(auteur, appareil, lieu, imprimante). Ne les publiez pas et ne les transmettez pas "
        "tels quels ; la raison est donnée pour chacun.",
        "failed": "{n} fichier(s) n'ont pas pu être ouverts",
        "failed_note": "Lors de ce passage de <code>leakdrop open</code> ; rien n'en a été "
        "gardé. Corrigez la cause puis relancez la même commande.",
        "file": "Fichier",
        "reason": "Raison",
        "conversation": "Conversation {i} : {n} envoi(s) de la même source",
        "reply": "Réponse possible :",
        "alone": "Envois sans codename",
        "alone_note": "La source n'a pas de boîte aux lettres : pas de réponse possible.",
        "none": "Aucun envoi dans ce dossier.",
        "received": "reçu le {day}",
        "from": "depuis {names}",
        "no_message": "pas de message",
        "shortened": "(raccourci : le message entier est dans {link})",
        "no_file": "aucun fichier",
        "not_linked": "(pas de lien : un navigateur pourrait exécuter un fichier de ce type "
        "comme une page ; ouvrez-le avec une visionneuse)",
        "cleaned": "nettoyé",
        "dirty": "NON NETTOYÉ",
        "original": "nom d'origine",
        "dirty_reason": "NON NETTOYÉ : {reason}. Il peut encore contenir des métadonnées qui "
        "identifient la source : ne le publiez pas et ne le transmettez pas tel quel.",
        "no_reason": "aucune raison donnée",
        "removed": "retiré : {what}",
        "removed_nothing": "retiré : rien (aucune métadonnée trouvée)",
        "note": "note : {note}",
        "message_file": "reponse.txt",
    },
    "en": {
        "title": "Submissions",
        "summary": "{subs} submission(s), {files} file(s), {convs} conversation(s). Written "
        "by <code>leakdrop open</code>; rewritten at each run from every submission in this "
        "folder.",
        "alarm": "<strong>{n} file(s) NOT CLEANED.</strong> They are stored as the source "
        "sent them and may carry metadata that identifies the source (author, device, "
        "location, printer). Do not publish or forward them as they are; the reason is "
        "given for each.",
        "failed": "{n} file(s) could not be opened",
        "failed_note": "In this run of <code>leakdrop open</code>; nothing of them was kept. "
        "Fix the cause, then run the same command again.",
        "file": "File",
        "reason": "Reason",
        "conversation": "Conversation {i}: {n} submission(s) from the same source",
        "reply": "Reply possible:",
        "alone": "Submissions without a codename",
        "alone_note": "The source has no mailbox: no reply possible.",
        "none": "No submission in this folder.",
        "received": "received {day}",
        "from": "from {names}",
        "no_message": "no message",
        "shortened": "(shortened: the whole message is in {link})",
        "no_file": "no file",
        "not_linked": "(not linked: a browser could run a file of this kind as a page; open "
        "it with a viewer)",
        "cleaned": "cleaned",
        "dirty": "NOT CLEANED",
        "original": "original name",
        "dirty_reason": "NOT CLEANED: {reason}. It may still carry metadata that identifies "
        "the source: do not publish or forward it as it is.",
        "no_reason": "no reason given",
        "removed": "removed: {what}",
        "removed_nothing": "removed: nothing (no metadata found)",
        "note": "note: {note}",
        "message_file": "reply.txt",
    },
}


def _html(untrusted_text: str) -> str:
    """Text for the page: control/bidi characters made visible, then HTML-escaped."""
    return html.escape(_shown(untrusted_text), quote=True)


def _message_html(untrusted_text: str) -> str:
    # Line breaks and tabs stay line breaks; every other control character is shown.
    return "\n".join(_html(line) for line in untrusted_text.replace("\t", "    ").split("\n"))


def _href(*parts: str) -> str:
    return html.escape("/".join(urllib.parse.quote(p, safe="") for p in parts), quote=True)


@dataclass(frozen=True)
class _Listed:
    folder: str
    manifest: Manifest
    message: str | None
    message_truncated: bool
    age_files: tuple[str, ...] = ()


def _read_listed(folder: Path) -> _Listed | None:
    manifest = folder_manifest(folder)
    if manifest is None:
        return None  # not one of ours (or damaged after extraction): not listed
    message = None
    truncated = False
    if manifest.message is not None:
        try:
            with (folder / manifest.message).open("rb") as fh:
                raw = fh.read(_MAX_MESSAGE_SHOWN + 1)
        except OSError:
            raw = b"(message.txt could not be read)"
        truncated = len(raw) > _MAX_MESSAGE_SHOWN
        message = raw[:_MAX_MESSAGE_SHOWN].decode("utf-8", "replace")
    return _Listed(folder.name, manifest, message, truncated, tuple(read_age_files(folder)))


def _file_item(folder: str, f: ManifestFile, t: dict[str, str]) -> str:
    ext = f.name.rpartition(".")[2].lower() if "." in f.name else ""
    label = _html(f.name)
    # A cleaned SVG has no script, event, external reference or foreign content left (the
    # scrubber's allowlist), so a browser shows it passively; one not cleaned may run script.
    linked = ext in _LINKED_EXTENSIONS or (ext in _LINKED_IF_CLEANED and f.cleaned)
    if not linked:
        shown = f'<code>{label}</code> <span class="muted">{t["not_linked"]}</span>'
    else:
        shown = f'<a href="{_href(folder, *f.name.split("/"))}">{label}</a>'
    cls, badge = ("ok", t["cleaned"]) if f.cleaned else ("dirty", t["dirty"])
    lines = [
        f'<li class="{cls}"><span class="badge">{badge}</span> {shown} '
        f'<span class="muted">({_html(f.type)}, {_html(size_text(f.size))})</span>',
        f"<br>{t['original']}: <code>{_html(browser_decoded(f.original_name))}</code>",
    ]
    if not f.cleaned:
        reason = _html(f.reason) if f.reason else t["no_reason"]
        lines.append(f'<br><span class="reason">{t["dirty_reason"].format(reason=reason)}</span>')
    if f.removed:
        lines.append("<br>" + t["removed"].format(what=", ".join(_html(r) for r in f.removed)))
    elif f.cleaned:
        lines.append("<br>" + t["removed_nothing"])
    if f.note:
        lines.append("<br>" + t["note"].format(note=_html(f.note)))
    lines.append("</li>")
    return "".join(lines)


def _article(item: _Listed, t: dict[str, str]) -> str:
    m = item.manifest
    dirty = any(not f.cleaned for f in m.files)
    if item.message is None:
        message = f'<p class="muted">{t["no_message"]}</p>'
    else:
        message = f'<div class="message">{_message_html(item.message)}</div>'
        if item.message_truncated:
            link = f'<a href="{_href(item.folder, MESSAGE_NAME)}">{MESSAGE_NAME}</a>'
            message += f'<p class="muted">{t["shortened"].format(link=link)}</p>'
    files = "".join(_file_item(item.folder, f, t) for f in m.files) or (
        f'<li class="muted">{t["no_file"]}</li>'
    )
    meta = [
        f'<a href="{_href(item.folder)}/">{_html(item.folder)}</a>',
        t["received"].format(day=_html(m.received)),
    ]
    if item.age_files:
        names = ", ".join(f"<code>{_html(n)}</code>" for n in item.age_files)
        meta.append(t["from"].format(names=names))
    return (
        f'<article class="submission {"dirty" if dirty else "ok"}">'
        f'<p class="meta">{" · ".join(meta)}</p>\n'
        f"{message}\n"
        f'<ul class="files">{files}</ul></article>\n'
    )


def _failed_table(failures: Sequence[Failed], t: dict[str, str]) -> str:
    rows = "".join(
        f'<tr class="failed"><td>{_html(f.name)}</td><td>{_html(f.reason)}</td></tr>\n'
        for f in failures
    )
    return (
        f'<h2 id="failed">{t["failed"].format(n=len(failures))}</h2>\n'
        f'<p class="muted">{t["failed_note"]}</p>\n'
        f"<table><thead><tr><th>{t['file']}</th><th>{t['reason']}</th></tr></thead>\n"
        f"<tbody>\n{rows}</tbody></table>\n"
    )


def _conversations(listed: Sequence[_Listed]) -> tuple[list[list[_Listed]], list[_Listed]]:
    """Submissions grouped by reply address (oldest first within one), and those without."""
    groups: dict[tuple[str, str], list[_Listed]] = {}
    alone = []
    for item in listed:
        reply = item.manifest.reply
        if reply is None:
            alone.append(item)
        else:
            groups.setdefault((reply.mailbox, reply.recipient), []).append(item)
    conversations = [
        sorted(g, key=lambda i: (i.manifest.received, i.folder)) for g in groups.values()
    ]
    # The conversation with the newest message first, as the lone submissions are.
    conversations.sort(key=lambda g: (g[-1].manifest.received, g[-1].folder), reverse=True)
    alone.sort(key=lambda i: (i.manifest.received, i.folder), reverse=True)
    return conversations, alone


def _conversation(
    number: int, items: Sequence[_Listed], out: Path, identity: str, t: dict[str, str]
) -> str:
    command = shlex.join(
        [
            "leakdrop",
            "reply",
            "--identity",
            identity,
            "--to",
            str(out / items[-1].folder),
            "--message-file",
            t["message_file"],
            "--out",
            "USB/outbox",
        ]
    )
    parts = [
        f'<section class="conversation" id="conversation-{number}">\n'
        f"<h2>{t['conversation'].format(i=number, n=len(items))}</h2>\n"
        f'<p class="reply">{t["reply"]} <code>{_html(command)}</code></p>\n'
    ]
    day = None
    for item in items:
        if item.manifest.received != day:
            day = item.manifest.received
            parts.append(f"<h3>{_html(day)}</h3>\n")
        parts.append(_article(item, t))
    parts.append("</section>\n")
    return "".join(parts)


def render_index(
    listed: Sequence[_Listed],
    failures: Sequence[Failed] = (),
    *,
    lang: str = "fr",
    out: Path = Path("."),
    identity: str = "IDENTITY",
) -> str:
    """The page: no script, nothing loaded from anywhere, every text escaped.

    `out` and `identity` only fill in the `leakdrop reply` command shown for conversations.
    """
    t = _TEXT[lang]
    dirty = sum(1 for item in listed for f in item.manifest.files if not f.cleaned)
    nfiles = sum(len(item.manifest.files) for item in listed)
    conversations, alone = _conversations(listed)
    style_hash = base64.b64encode(hashlib.sha256(_INDEX_STYLE.encode()).digest()).decode()
    # The page forbids itself everything but its own style element, in case a browser
    # were ever tricked into treating submitted text as markup.
    csp = f"default-src 'none'; style-src 'sha256-{style_hash}'; form-action 'none'"
    body = [
        f"<h1>{t['title']}</h1>\n",
        '<p class="muted">'
        + t["summary"].format(subs=len(listed), files=nfiles, convs=len(conversations))
        + "</p>\n",
    ]
    if dirty:
        body.append(f'<div class="alarm">{t["alarm"].format(n=dirty)}</div>\n')
    if failures:
        body.append(_failed_table(failures, t))
    for number, items in enumerate(conversations, 1):
        body.append(_conversation(number, items, out, identity, t))
    if alone:
        if conversations:
            body.append(f"<h2>{t['alone']}</h2>\n")
        body.append(f'<p class="muted">{t["alone_note"]}</p>\n')
        body.extend(_article(item, t) for item in alone)
    if not listed:
        body.append(f'<p class="muted">{t["none"]}</p>\n')
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{t['title']}</title>\n"
        f"<style>{_INDEX_STYLE}</style></head>\n<body>\n"
        f"{''.join(body)}</body></html>\n"
    )


def write_index(
    out: Path,
    failures: Sequence[Failed] = (),
    *,
    lang: str = "fr",
    identity: str = "IDENTITY",
) -> Path:
    """(Re)write OUT/index.html from every extracted submission in OUT, atomically.

    `failures`: the inputs of this run that could not be opened (their rows come first).
    """
    listed = [item for entry in submission_folders(out) if (item := _read_listed(entry))]
    data = render_index(listed, failures, lang=lang, out=out.absolute(), identity=identity).encode(
        "utf-8"
    )
    fd, tmp_name = tempfile.mkstemp(prefix=PARTIAL_PREFIX, suffix=".html", dir=out)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, out / INDEX_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return out / INDEX_NAME
