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
import hashlib
import html
import io
import os
import shutil
import sys
import tempfile
import unicodedata
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from leakdrop._terminal import PassphraseError, Progress, ask_passphrase, read_passphrase_file
from leakdrop.container import (
    MAX_MANIFEST_BYTES,
    MESSAGE_NAME,
    ContainerError,
    Manifest,
    ManifestFile,
    extract_submission,
    parse_manifest,
    peek_submission,
    sanitise_name,
)
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

__all__ = ["OpenError", "load_identities", "open_path", "render_index", "run_open", "write_index"]

PARTIAL_PREFIX: Final = ".leakdrop-partial-"
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
            yield OpenError(f"{path}: no such file or folder")


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


def _publish_file(tmp: Path, out: Path, name: str) -> Path:
    for candidate in _free_name(out, name):
        if os.path.lexists(candidate):
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
            return candidate
        tmp.unlink()
        return candidate
    raise AssertionError


def _plain_name(source: Path) -> str:
    name = source.name
    if name.lower().endswith(".age") and len(name) > 4:
        name = name[:-4]
    return sanitise_name(name)


def _extract(stream: BinaryIO, source: Path, out: Path) -> Opened:
    tmp = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=out))
    try:
        manifest = extract_submission(stream, tmp)
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
        dest = _publish_file(tmp, out, _plain_name(source))
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return Opened(source=source, dest=dest, manifest=None)


def open_path(source: Path, identities: Sequence[Identity], out: Path) -> Opened:
    """Decrypt one age file into `out`: a submission is extracted, anything else copied."""
    size = source.stat().st_size
    progress = Progress(_shown(source.name), size, enabled=size >= _PROGRESS_MIN_BYTES)
    try:
        with source.open("rb") as raw:
            src = io.BufferedReader(_CountingRaw(raw, progress), buffer_size=_CHUNK)
            with decrypt(src, identities) as reader:
                is_submission, stream = peek_submission(reader)  # type: ignore[arg-type]
                if is_submission:
                    return _extract(stream, source, out)
                return _write_plain(stream, source, out)
    finally:
        progress.finish()


# --------------------------------------------------------------------------- report


def _shown(untrusted_text: str) -> str:
    """Text from a submission made safe for a terminal (no escape sequences, no bidi)."""
    out = []
    for ch in untrusted_text:
        cat = unicodedata.category(ch)
        if cat[0] == "C" or cat in ("Zl", "Zp"):
            out.append(f"\\u{ord(ch):04x}" if ord(ch) > 0xFF else f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError


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
        p(f"                  original name: {_shown(f.original_name)}")
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
_INDEX_STYLE: Final = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em; color: #111; background: #fff; }
h1 { font-size: 1.5em; margin: 0 0 .3em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: .5em .6em; vertical-align: top; text-align: left; }
th { background: #eee; }
tr.dirty > td:first-child { border-left: 6px solid #b00; }
pre.message { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; max-height: 24em;
  overflow: auto; font: 14px/1.4 ui-monospace, monospace; }
ul.files { margin: 0; padding-left: 1.1em; }
ul.files li { margin-bottom: .6em; }
.badge { display: inline-block; font-weight: bold; padding: 0 .4em; border-radius: 3px; }
li.ok .badge { background: #dfd; color: #050; }
li.dirty .badge, .alarm { background: #b00; color: #fff; }
.alarm { padding: .8em 1em; font-size: 1.1em; margin: 1em 0; }
li.dirty .reason { color: #900; font-weight: bold; }
.muted { color: #555; }
"""


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


def _read_listed(folder: Path) -> _Listed | None:
    try:
        with (folder / "manifest.json").open("rb") as fh:
            untrusted_data = fh.read(MAX_MANIFEST_BYTES + 1)
        manifest = parse_manifest(untrusted_data)
    except (OSError, ContainerError):
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
    return _Listed(folder.name, manifest, message, truncated)


def _file_item(folder: str, f: ManifestFile) -> str:
    ext = f.name.rpartition(".")[2].lower() if "." in f.name else ""
    label = _html(f.name)
    if ext not in _LINKED_EXTENSIONS:
        shown = (
            f'<code>{label}</code> <span class="muted">(not linked: a browser could run '
            "a file of this kind as a page; open it with a viewer)</span>"
        )
    else:
        shown = f'<a href="{_href(folder, *f.name.split("/"))}">{label}</a>'
    cls, badge = ("ok", "cleaned") if f.cleaned else ("dirty", "NOT CLEANED")
    lines = [
        f'<li class="{cls}"><span class="badge">{badge}</span> {shown} '
        f'<span class="muted">({_html(f.type)}, {_html(_size(f.size))})</span>',
        f"<br>original name: <code>{_html(f.original_name)}</code>",
    ]
    if not f.cleaned:
        reason = f.reason or "no reason given"
        lines.append(
            f'<br><span class="reason">NOT CLEANED: {_html(reason)}. It may still carry '
            "metadata that identifies the source: do not publish or forward it as it is."
            "</span>"
        )
    if f.removed:
        lines.append("<br>removed: " + ", ".join(_html(r) for r in f.removed))
    elif f.cleaned:
        lines.append("<br>removed: nothing (no metadata found)")
    if f.note:
        lines.append(f"<br>note: {_html(f.note)}")
    lines.append("</li>")
    return "".join(lines)


def _row(item: _Listed) -> str:
    m = item.manifest
    dirty = any(not f.cleaned for f in m.files)
    if item.message is None:
        message = '<span class="muted">no message</span>'
    else:
        message = f'<pre class="message">{_message_html(item.message)}</pre>'
        if item.message_truncated:
            message += (
                f'<p class="muted">(shortened: the whole message is in '
                f'<a href="{_href(item.folder, MESSAGE_NAME)}">{MESSAGE_NAME}</a>)</p>'
            )
    files = "".join(_file_item(item.folder, f) for f in m.files) or (
        '<li class="muted">no file</li>'
    )
    return (
        f'<tr class="{"dirty" if dirty else "ok"}">'
        f'<td><a href="{_href(item.folder)}/">{_html(item.folder)}</a>'
        f'<br><span class="muted">received {_html(m.received)}</span></td>'
        f"<td>{message}</td>"
        f'<td><ul class="files">{files}</ul></td></tr>\n'
    )


def render_index(listed: Sequence[_Listed]) -> str:
    """The page: no script, nothing loaded from anywhere, every text escaped."""
    dirty = sum(1 for item in listed for f in item.manifest.files if not f.cleaned)
    nfiles = sum(len(item.manifest.files) for item in listed)
    style_hash = base64.b64encode(hashlib.sha256(_INDEX_STYLE.encode()).digest()).decode()
    # The page forbids itself everything but its own style element, in case a browser
    # were ever tricked into treating submitted text as markup.
    csp = f"default-src 'none'; style-src 'sha256-{style_hash}'; form-action 'none'"
    alarm = ""
    if dirty:
        alarm = (
            f'<div class="alarm"><strong>{dirty} file(s) NOT CLEANED.</strong> They are '
            "stored as the source sent them and may carry metadata that identifies the "
            "source (author, device, location, printer). Do not publish or forward them as "
            "they are; the reason is given for each.</div>"
        )
    rows = "".join(_row(item) for item in listed)
    if not rows:
        rows = '<tr><td colspan="3" class="muted">No submission in this folder.</td></tr>'
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Submissions</title>\n"
        f"<style>{_INDEX_STYLE}</style></head>\n<body>\n"
        "<h1>Submissions</h1>\n"
        f'<p class="muted">{len(listed)} submission(s), {nfiles} file(s). Written by '
        "<code>leakdrop open</code>; rewritten at each run from every submission in this "
        "folder.</p>\n"
        f"{alarm}\n"
        "<table><thead><tr><th>Submission</th><th>Message</th><th>Files</th></tr></thead>\n"
        f"<tbody>\n{rows}</tbody></table>\n</body></html>\n"
    )


def write_index(out: Path) -> Path:
    """(Re)write OUT/index.html from every extracted submission in OUT, atomically."""
    listed = []
    for entry in out.iterdir():
        # Partial and hidden folders are not submissions; symlinks are not ours.
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        item = _read_listed(entry)
        if item is not None:
            listed.append(item)
    listed.sort(key=lambda i: (i.manifest.received, i.folder), reverse=True)
    data = render_index(listed).encode("utf-8")
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


def run_open(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        if out.exists() and not out.is_dir():
            raise OpenError(f"{out} exists and is not a folder")
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        identities = load_identities(Path(args.identity), args.passphrase_file)
    except (OpenError, PassphraseError) as exc:
        print(f"leakdrop open: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"leakdrop open: cannot create {out}: {exc.strerror}", file=sys.stderr)
        return 2

    total = failed = 0
    try:
        for item in _inputs(args.paths):
            total += 1
            if isinstance(item, OpenError):
                failed += 1
                print(f"leakdrop open: FAILED {_shown(str(item))}", file=sys.stderr)
                continue
            try:
                opened = open_path(item, identities, out)
            except (AgeError, ContainerError, OSError, OpenError) as exc:
                failed += 1
                print(
                    f"leakdrop open: FAILED {_shown(str(item))}: {_describe_error(exc)}",
                    file=sys.stderr,
                )
                continue
            _print_summary(opened)
            sys.stdout.flush()
    except KeyboardInterrupt:
        print("leakdrop open: interrupted", file=sys.stderr)
        return 130
    try:
        index = write_index(out)
        print(f"overview: {_shown(str(index))} (open it in a browser)")
    except OSError as exc:
        failed += 1
        print(f"leakdrop open: cannot write {INDEX_NAME}: {exc.strerror}", file=sys.stderr)
    if total == 0:
        print("leakdrop open: nothing to open", file=sys.stderr)
        return 1
    ok = total - failed
    print(
        f"{ok} of {total} opened" + (f", {failed} FAILED (see the FAILED lines)" if failed else "")
    )
    return 1 if failed else 0
