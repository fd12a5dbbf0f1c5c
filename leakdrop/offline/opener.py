"""`leakdrop open`: decrypt, verify and extract submissions on the air-gapped laptop.

Each input is handled on its own: a failure (wrong key, corrupted or truncated file, a
container that does not match its manifest) prints one line on stderr and the next input is
still opened. Output never replaces anything and never looks complete before it is: a
submission is extracted into a hidden `.leakdrop-partial-*` folder inside OUT and renamed to
its final name only after the whole age file was decrypted and authenticated to its last
chunk and every file matched the manifest; on failure the partial folder is deleted.

This module is the command (the summary it prints, its exit status); decrypting and
extracting one input is `leakdrop.offline._extract`, the OUT/index.html overview
`leakdrop.offline._index`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from leakdrop._terminal import PassphraseError
from leakdrop._terminal import shown as _shown
from leakdrop.offline._extract import (
    Failed,
    Opened,
    OpenError,
    input_files,
    load_identities,
    open_path,
    opened_ids,
)
from leakdrop.offline._index import (
    INDEX_NAME,
    LANGUAGES,
    browser_decoded,
    render_index,
    size_text,
    write_index,
)
from leakdrop.sealing import (
    AgeError,
    ArmorError,
    HeaderError,
    MacError,
    NoIdentityMatchError,
    PayloadError,
)
from leakdrop.submission import ContainerError

__all__ = ["OpenError", "load_identities", "open_path", "render_index", "run_open", "write_index"]


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
        p(f"    [{mark}] {_shown(f.name)}  ({_shown(f.type)}, {size_text(f.size)})")
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
        known = opened_ids(out)
        for item in input_files(args.paths):
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
