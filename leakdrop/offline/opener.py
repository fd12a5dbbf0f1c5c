"""`leakdrop open`: decrypt, verify and extract submissions on the air-gapped laptop.

Each input is handled on its own: a failure (wrong key, corrupted or truncated file, a
container that does not match its manifest) prints one line on stderr and the next input is
still opened. Output never replaces anything and never looks complete before it is: a
submission is extracted into a hidden `.leakdrop-partial-*` folder inside OUT and renamed to
its final name only after the whole age file was decrypted and authenticated to its last
chunk and every file matched the manifest; on failure the partial folder is deleted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import filecmp
import hashlib
import html
import io
import json
import os
import re
import shlex
import shutil
import stat
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from leakdrop._terminal import PassphraseError, Progress, ask_passphrase, read_passphrase_file
from leakdrop._terminal import shown as _shown
from leakdrop.sealing import (
    AgeError,
    ArmorError,
    HeaderError,
    Identity,
    KeyFormatError,
    MacError,
    NoIdentityMatchError,
    PayloadError,
    ScryptIdentity,
    decrypt,
    is_age_file,
    parse_identities_file,
)
from leakdrop.submission import (
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    MESSAGE_NAME,
    ContainerError,
    Manifest,
    ManifestFile,
    extract_submission,
    parse_manifest,
    peek_submission,
    read_manifest_and_message_digest,
    sanitise_name,
)

__all__ = ["OpenError", "load_identities", "open_path", "render_index", "run_open", "write_index"]

PARTIAL_PREFIX: Final = ".leakdrop-partial-"
#: In each submission folder: the `.age` file name(s) it was opened from (a JSON list).
OPENED_FROM_NAME: Final = ".opened-from.json"
_MAX_OPENED_FROM_BYTES: Final = 64 * 1024
_MAX_OPENED_FROM_NAMES: Final = 20
MAX_IDENTITY_BYTES: Final = 1024 * 1024
_CHUNK: Final = 1024 * 1024
#: Show progress only for inputs that take a noticeable time.
_PROGRESS_MIN_BYTES: Final = 16 * 1024 * 1024


class OpenError(Exception):
    """An input or the identity cannot be used (the message is for the editor)."""


@dataclass(frozen=True)
class Opened:
    """What one input became."""

    source: Path
    dest: Path
    manifest: Manifest | None  # None for a plain age file
    #: True when `dest` held this very submission (or file) already: nothing was added.
    already: bool = False


@dataclass(frozen=True)
class Failed:
    """An input that could not be opened: shown as a red row of the index."""

    name: str
    reason: str


# --------------------------------------------------------------------------- identity


def load_identities(path: Path, passphrase_file: str | None) -> Sequence[Identity]:
    """The identities in `path`, a plain or passphrase-protected (`age -p`) identity file."""
    try:
        with path.open("rb") as fh:
            untrusted_data = fh.read(MAX_IDENTITY_BYTES + 1)
    except OSError as exc:
        raise OpenError(f"cannot read identity file {path}: {exc.strerror}") from exc
    if len(untrusted_data) > MAX_IDENTITY_BYTES:
        raise OpenError(f"{path} is too large for an identity file")
    if is_age_file(untrusted_data[:64]):
        if passphrase_file is not None:
            passphrase = read_passphrase_file(passphrase_file)
        else:
            passphrase = ask_passphrase(f"Passphrase for {_shown(str(path))}: ")
        try:
            with decrypt(io.BytesIO(untrusted_data), [ScryptIdentity(passphrase)]) as reader:
                untrusted_data = reader.read()
        except NoIdentityMatchError as exc:
            raise OpenError(f"wrong passphrase for identity file {path}") from exc
        except AgeError as exc:
            raise OpenError(f"cannot decrypt identity file {path}: {exc}") from exc
    try:
        identities = parse_identities_file(untrusted_data.decode("utf-8"))
    except (UnicodeDecodeError, KeyFormatError) as exc:
        raise OpenError(f"{path} is not an age identity file: {exc}") from exc
    if not identities:
        raise OpenError(f"{path} holds no identity (AGE-SECRET-KEY-...)")
    return list(identities)


# --------------------------------------------------------------------------- inputs


def _inputs(paths: Sequence[str]) -> Iterator[Path | OpenError]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                # Dotfiles are skipped: macOS leaves "._name.age" companions on USB sticks,
                # and our own partial outputs are hidden.
                if p.suffix.lower() == ".age" and not p.name.startswith(".") and p.is_file()
            )
            if not found:
                print(f"leakdrop open: no .age file in {_shown(str(path))}", file=sys.stderr)
            yield from found
        elif path.is_file():
            yield path
        else:
            yield OpenError(str(path))


class _CountingRaw(io.RawIOBase):
    """Counts ciphertext bytes as the decryptor reads them, for the progress line."""

    def __init__(self, raw: BinaryIO, progress: Progress) -> None:
        super().__init__()
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        data = self._raw.read(len(target))
        target[: len(data)] = data
        self._progress.advance(len(data))
        return len(data)


# --------------------------------------------------------------------------- output


def _free_name(out: Path, name: str) -> Iterator[Path]:
    stem, dot, ext = name.partition(".") if not name.startswith(".") else (name, "", "")
    yield out / name
    for n in range(2, 10_000):
        yield out / f"{stem}-{n}{dot}{ext}"
    raise OpenError(f"no free name for {name} in {out}")


def _publish_dir(tmp: Path, out: Path, name: str) -> Path:
    for candidate in _free_name(out, name):
        if os.path.lexists(candidate):
            continue  # never replace an earlier extraction
        # rename(2) fails on a non-empty directory or a file created meanwhile.
        os.rename(tmp, candidate)
        return candidate
    raise AssertionError  # _free_name raises when exhausted


def _same_content(a: Path, b: Path) -> bool:
    try:
        st = os.lstat(b)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != os.stat(a).st_size:
        return False
    return filecmp.cmp(a, b, shallow=False)


def _publish_file(tmp: Path, out: Path, name: str) -> tuple[Path, bool]:
    """Give `tmp` its name; (the file, True) when an earlier run already wrote these bytes."""
    for candidate in _free_name(out, name):
        if os.path.lexists(candidate):
            if _same_content(tmp, candidate):
                tmp.unlink()
                return candidate, True
            continue
        try:
            # link(2) is atomic and never replaces an existing file...
            os.link(tmp, candidate)
        except FileExistsError:
            continue
        except OSError:
            # ...but FAT/exFAT USB sticks have no hard links: fall back to rename after
            # the existence check above.
            os.rename(tmp, candidate)
            return candidate, False
        tmp.unlink()
        return candidate, False
    raise AssertionError


def _plain_name(source: Path) -> str:
    name = source.name
    if name.lower().endswith(".age") and len(name) > 4:
        name = name[:-4]
    return sanitise_name(name)


def _read_age_files(folder: Path) -> list[str]:
    """The `.age` file names a submission folder was opened from (see `_record_age_file`)."""
    try:
        with (folder / OPENED_FROM_NAME).open("rb") as fh:
            untrusted_doc = json.loads(fh.read(_MAX_OPENED_FROM_BYTES))
    except (OSError, ValueError):
        return []
    if not isinstance(untrusted_doc, list):
        return []
    return [n for n in untrusted_doc if isinstance(n, str)][:_MAX_OPENED_FROM_NAMES]


def _record_age_file(folder: Path, name: str) -> None:
    """Remember that `folder` came from the `.age` file `name`, for the index.

    Kept beside manifest.json, which must stay the byte-exact one the server sealed.
    """
    names = _read_age_files(folder)
    if name in names or len(names) >= _MAX_OPENED_FROM_NAMES:
        return
    data = json.dumps([*names, name], ensure_ascii=False).encode("utf-8")
    fd, tmp_name = tempfile.mkstemp(prefix=PARTIAL_PREFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, folder / OPENED_FROM_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _opened_ids(out: Path) -> dict[str, list[Path]]:
    """The submissions already in `out`, by submission id (folders may be named id-2...)."""
    known: dict[str, list[Path]] = {}
    for entry in _submission_folders(out):
        manifest = _folder_manifest(entry)
        if manifest is not None:
            known.setdefault(manifest.id, []).append(entry)
    return known


def _folder_manifest(folder: Path) -> Manifest | None:
    try:
        with (folder / MANIFEST_NAME).open("rb") as fh:
            untrusted_data = fh.read(MAX_MANIFEST_BYTES + 1)
        return parse_manifest(untrusted_data)
    except (OSError, ContainerError):
        return None  # not one of ours (or damaged after extraction)


def _submission_folders(out: Path) -> Iterator[Path]:
    for entry in sorted(out.iterdir()):
        # Partial and hidden folders are not submissions; symlinks are not ours.
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        yield entry


def _already_opened(
    source: Path, identities: Sequence[Identity], known: dict[str, list[Path]]
) -> tuple[Path, Manifest] | None:
    """The folder holding this very submission, found from its manifest alone.

    Only the first chunk is decrypted: re-reading a stick does not cost a full decryption
    per submission. "The same" is the whole manifest (id, files, sizes, SHA-256) and the
    message, not only the id, so a different submission under a known id is still opened,
    never hidden.
    """
    with source.open("rb") as raw, decrypt(raw, identities) as reader:
        is_submission, stream = peek_submission(reader)
        if not is_submission:
            return None
        manifest, message_digest = read_manifest_and_message_digest(stream)
    for folder in known.get(manifest.id, []):
        if _folder_manifest(folder) == manifest and _file_digest(folder, manifest) == (
            message_digest
        ):
            return folder, manifest
    return None


def _file_digest(folder: Path, manifest: Manifest) -> str | None:
    if manifest.message is None:
        return None
    digest = hashlib.sha256()
    try:
        with (folder / manifest.message).open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return "unreadable"  # matches no digest: the submission is opened again
    return digest.hexdigest()


def _extract(stream: BinaryIO, source: Path, out: Path) -> Opened:
    tmp = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=out))
    try:
        manifest = extract_submission(stream, tmp)
        _record_age_file(tmp, source.name)
        dest = _publish_dir(tmp, out, manifest.id)
    except BaseException:
        # Unverified output is removed, not left looking like a finished submission.
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Opened(source=source, dest=dest, manifest=manifest)


def _write_plain(stream: BinaryIO, source: Path, out: Path) -> Opened:
    fd, tmp_name = tempfile.mkstemp(prefix=PARTIAL_PREFIX, dir=out)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            while chunk := stream.read(_CHUNK):
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        # Only now, with the last chunk authenticated, does the file get its real name.
        dest, already = _publish_file(tmp, out, _plain_name(source))
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return Opened(source=source, dest=dest, manifest=None, already=already)


def open_path(
    source: Path,
    identities: Sequence[Identity],
    out: Path,
    known: dict[str, list[Path]] | None = None,
) -> Opened:
    """Decrypt one age file into `out`: a submission is extracted, anything else copied.

    A submission already opened into `out` (`known`: `_opened_ids(out)`) is not extracted
    again: the result says `already` and names its folder.
    """
    if known is None:
        known = _opened_ids(out)
    found = _already_opened(source, identities, known)
    if found is not None:
        _record_age_file(found[0], source.name)
        return Opened(source=source, dest=found[0], manifest=found[1], already=True)
    size = source.stat().st_size
    progress = Progress(_shown(source.name), size, enabled=size >= _PROGRESS_MIN_BYTES)
    try:
        with source.open("rb") as raw:
            src = io.BufferedReader(_CountingRaw(raw, progress), buffer_size=_CHUNK)
            with decrypt(src, identities) as reader:
                is_submission, stream = peek_submission(reader)
                if is_submission:
                    opened = _extract(stream, source, out)
                    assert opened.manifest is not None
                    known.setdefault(opened.manifest.id, []).append(opened.dest)
                    return opened
                return _write_plain(stream, source, out)
    finally:
        progress.finish()


# --------------------------------------------------------------------------- report


def _size(n: int) -> str:
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


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, NoIdentityMatchError):
        return "not sealed to this identity (wrong key?)"
    if isinstance(exc, MacError):
        return "header authentication failed: the file was altered or is corrupted"
    if isinstance(exc, HeaderError | ArmorError):
        return f"not a valid age file or corrupted header ({exc})"
    if isinstance(exc, PayloadError):
        return f"encrypted content truncated or altered ({exc})"
    if isinstance(exc, ContainerError):
        return f"invalid submission ({exc})"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return str(exc)


def _print_summary(opened: Opened) -> None:
    p = print
    if opened.already:
        p(
            f"already opened: {_shown(str(opened.source))} is in {_shown(str(opened.dest))}"
            + (f" (submission {opened.manifest.id})" if opened.manifest else "")
            + ", skipped"
        )
        return
    if opened.manifest is None:
        p(f"opened {_shown(str(opened.source))} -> {_shown(str(opened.dest))} (plain age file)")
        return
    m = opened.manifest
    p(f"opened {_shown(str(opened.source))} -> {_shown(str(opened.dest))}/")
    p(f"  submission {m.id}, received {m.received}")
    p("  message: " + ("yes, message.txt" if m.message else "none"))
    p(f"  files: {len(m.files)}")
    for f in m.files:
        mark = "cleaned    " if f.cleaned else "NOT CLEANED"
        p(f"    [{mark}] {_shown(f.name)}  ({_shown(f.type)}, {_size(f.size)})")
        p(f"                  original name: {_shown(browser_decoded(f.original_name))}")
        if f.removed:
            p("                  removed: " + ", ".join(_shown(r) for r in f.removed))
        elif f.cleaned:
            p("                  removed: nothing (no metadata found)")
        if f.reason:
            p(f"                  reason: {_shown(f.reason)}")
        if f.note:
            p(f"                  note: {_shown(f.note)}")
    dirty = [f for f in m.files if not f.cleaned]
    if dirty:
        p(f"  !!! {len(dirty)} file(s) NOT CLEANED: they may still carry metadata that")
        p("  !!! identifies the source. Do not publish or forward them as they are:")
        for f in dirty:
            p(f"  !!!   {_shown(f.name)}: {_shown(f.reason or 'no reason given')}")


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
    manifest = _folder_manifest(folder)
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
    return _Listed(folder.name, manifest, message, truncated, tuple(_read_age_files(folder)))


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
        f'<span class="muted">({_html(f.type)}, {_html(_size(f.size))})</span>',
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
    listed = [item for entry in _submission_folders(out) if (item := _read_listed(entry))]
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


# --------------------------------------------------------------------------- command


def make_private_dirs(path: Path) -> None:
    """`path` and every missing parent, created 0700 whatever the umask.

    `Path.mkdir(parents=True)` gives the parents the umask's mode (often 0755): a folder
    that will hold plaintext submissions must not be listable by other users, nor any
    folder on the way to it that `open` created. Existing folders are left as they are.
    """
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)


def run_open(args: argparse.Namespace) -> int:
    out = Path(args.out)
    lang = getattr(args, "lang", None) or "fr"
    try:
        if lang not in LANGUAGES:
            raise OpenError(f"unknown index language {lang!r}: fr or en")
        if out.exists() and not out.is_dir():
            raise OpenError(f"{out} exists and is not a folder")
        make_private_dirs(out)
        identities = load_identities(Path(args.identity), args.passphrase_file)
    except (OpenError, PassphraseError) as exc:
        print(f"leakdrop open: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"leakdrop open: cannot create {out}: {exc.strerror}", file=sys.stderr)
        return 2

    total = already = 0
    failures: list[Failed] = []
    try:
        known = _opened_ids(out)
        for item in _inputs(args.paths):
            total += 1
            if isinstance(item, OpenError):
                failures.append(Failed(str(item), "no such file or folder"))
                print(
                    f"leakdrop open: FAILED {_shown(str(item))}: no such file or folder",
                    file=sys.stderr,
                )
                continue
            try:
                opened = open_path(item, identities, out, known)
            except (AgeError, ContainerError, OSError, OpenError) as exc:
                reason = _describe_error(exc)
                failures.append(Failed(item.name, reason))
                print(f"leakdrop open: FAILED {_shown(str(item))}: {reason}", file=sys.stderr)
                continue
            already += opened.already
            _print_summary(opened)
            sys.stdout.flush()
    except KeyboardInterrupt:
        print("leakdrop open: interrupted", file=sys.stderr)
        return 130
    failed = len(failures)
    try:
        index = write_index(out, failures, lang=lang, identity=str(Path(args.identity).absolute()))
        print(f"overview: {_shown(str(index))} (open it in a browser)")
    except OSError as exc:
        failed += 1
        print(f"leakdrop open: cannot write {INDEX_NAME}: {exc.strerror}", file=sys.stderr)
    if total == 0:
        print("leakdrop open: nothing to open", file=sys.stderr)
        return 1
    ok = total - len(failures) - already
    print(
        f"{ok} of {total} opened"
        + (f", {already} already opened (skipped)" if already else "")
        + (f", {failed} FAILED (see the FAILED lines)" if failed else "")
    )
    return 1 if failed else 0
