"""`leakdrop scrub FILE... --out DIR [--json]`: clean local files the way the server does.

Editors re-check files before publishing them. Each file is cleaned by
`scrubbers.scrub_sandboxed` (a limited worker process, like on the server: the files may be
hostile) and written to DIR under its own stem and the extension of its *real* type. Nothing
is ever overwritten (``O_EXCL``; ``-1``, ``-2`` ... suffixes), and a file that could not be
cleaned is **not** written to DIR at all: DIR only ever holds cleaned files, so nobody
publishes a dirty file from it by mistake. Attachments found in a file (PDF attachments) are
cleaned on their own and written next to it, under the same rule. A large PDF or video
(above `Limits.stream_above_bytes`) is cleaned by ranges, as on the server, into a nameless
file in DIR that gets its name only once the clean is verified.

Exit status: 0 when every file (and attachment) was cleaned, 1 when some were not (or could
not be written), 2 on usage errors (nothing done). Needs the ``server`` extra (the parsers),
not the server: this module imports `scrubbers`, never `leakdrop.server`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import scrubbers
from leakdrop._terminal import shown
from scrubbers import DEFAULT_LIMITS, ScrubReport

_PARSERS = ("pikepdf", "PIL", "pillow_heif", "defusedxml")
_MAX_SUFFIX = 10_000
_MAX_NAME_CHARS = 100
# Attachment names come from inside hostile files: keep letters, digits and a few safe
# punctuation marks; anything else (path separators, control characters, shell or terminal
# metacharacters) becomes "_".
_UNSAFE_NAME = re.compile(r"[^\w.+-]", re.ASCII)


class UsageError(Exception):
    """Bad arguments: reported with exit status 2 before anything is done."""


@dataclass
class Outcome:
    """One written (or skipped) file: an input, or an attachment found in one."""

    label: str  # what to call it in the report (input path, or "attachment NAME")
    report: ScrubReport
    name: str | None = None  # an attachment's name as found in its container (untrusted)
    output: Path | None = None
    write_error: str | None = None
    attachments: list[Outcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.report.cleaned
            and self.output is not None
            and all(child.ok for child in self.attachments)
        )

    def to_json(self) -> dict[str, object]:
        data = self.report.to_json()
        data["output"] = None if self.output is None else str(self.output)
        data["write_error"] = self.write_error
        data["attachments"] = [
            {"name": child.name, **child.to_json()} for child in self.attachments
        ]
        return data


def run_scrub(args: argparse.Namespace) -> int:
    try:
        inputs, out_dir = _check_usage(args)
    except UsageError as exc:
        print(f"leakdrop scrub: {exc}", file=sys.stderr)
        return 2
    # A one-shot command: no fork server that would first import every parser.
    scrubbers.fork_workers_from_this_process()
    outcomes = [_scrub_one(path, out_dir) for path in inputs]
    if args.json:
        document = {
            "files": [{"input": str(o.label), **o.to_json()} for o in outcomes],
            "all_cleaned": all(o.ok for o in outcomes),
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for outcome in outcomes:
            _print_outcome(outcome, sys.stdout)
        _print_summary(outcomes, sys.stdout)
    return 0 if all(o.ok for o in outcomes) else 1


def _check_usage(args: argparse.Namespace) -> tuple[list[Path], Path]:
    missing = [name for name in _PARSERS if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(
            "the parsers are not installed (" + ", ".join(missing) + "): "
            "install the server extra, e.g. pip install 'leakdrop[server]'"
        )
    inputs = [Path(name) for name in args.files]
    for path in inputs:
        if not path.is_file():
            raise UsageError(f"{path}: not a file")
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out_dir}: cannot create the folder ({exc.strerror})") from exc
    return inputs, out_dir


class _PendingOutput:
    """A streamed clean's output, in DIR but nameless (``O_TMPFILE``) until it is known to
    be clean: DIR never shows a file that was not cleaned, even half-written."""

    def __init__(self, out_dir: Path) -> None:
        self._fd = os.open(out_dir, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        self._fd_read = os.open(f"/proc/self/fd/{self._fd}", os.O_RDONLY | os.O_CLOEXEC)

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def finish(self) -> None:
        os.fsync(self._fd)

    def read_at(self, offset: int, size: int) -> bytes:
        return os.pread(self._fd_read, size, offset)

    def name(self, out_dir: Path, stem: str, extension: str) -> Path:
        """Give the file its name (never replacing one), as `_write_new` does."""
        for n in range(_MAX_SUFFIX):
            path = out_dir / (f"{stem}{extension}" if n == 0 else f"{stem}-{n}{extension}")
            # linkat(AT_SYMLINK_FOLLOW) through /proc: the documented way to name an
            # O_TMPFILE file without privileges (a plain link() would link the symlink).
            proc = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.link(str(self._fd), path, src_dir_fd=proc, follow_symlinks=True)
            except FileExistsError:
                continue
            finally:
                os.close(proc)
            return path
        raise FileExistsError(f"no free name for {stem}{extension} in {out_dir}")

    def close(self) -> None:
        os.close(self._fd_read)
        os.close(self._fd)


def _scrub_streamed(path: Path, out_dir: Path, size: int) -> Outcome:
    """A large PDF or video: read by ranges, cleaned into DIR without being whole in RAM."""
    with path.open("rb") as handle:
        fd = handle.fileno()
        output = _PendingOutput(out_dir)
        try:
            report = scrubbers.scrub_streamed_sandboxed(
                size, lambda offset, length: os.pread(fd, length, offset), output
            )
            outcome = Outcome(str(path), report)
            if report.cleaned:
                try:
                    outcome.output = output.name(
                        out_dir, path.stem or "file", report.file_type.extension
                    )
                except OSError as exc:
                    outcome.write_error = exc.strerror or str(exc)
        finally:
            output.close()
    # The attachments came in RAM (they are bounded): written as for a small file.
    _write_attachments(outcome, out_dir, path.stem or "file")
    return outcome


def _scrub_one(path: Path, out_dir: Path) -> Outcome:
    try:
        size = path.stat().st_size
        if (
            size > DEFAULT_LIMITS.stream_above_bytes
            and _is_streamed_type(path, size)
            and _can_hold_nameless(out_dir)
        ):
            return _scrub_streamed(path, out_dir, size)
        with path.open("rb") as handle:
            # One byte more than the cleaners accept, and no more: a 10 GiB file is
            # reported too large without being read into memory.
            data = handle.read(DEFAULT_LIMITS.max_input_bytes + 1)
    except OSError as exc:
        # Vanished or unreadable since the usage check: reported, not written.
        report = ScrubReport(scrubbers.sniff(b""), False, b"", reason="could not be read")
        return Outcome(str(path), report, write_error=exc.strerror)
    report = scrubbers.scrub_sandboxed(data)
    outcome = Outcome(str(path), report)
    _write(outcome, out_dir, path.stem or "file")
    return outcome


def _is_streamed_type(path: Path, size: int) -> bool:
    # Sniffed by ranges: a zip's type is in its central directory, at the end (an archive
    # is cleaned by ranges, an office document in RAM).
    with path.open("rb") as handle:
        fd = handle.fileno()
        source = scrubbers.RangeSource(size, lambda offset, length: os.pread(fd, length, offset))
        try:
            return scrubbers.sniff(source).name in scrubbers.STREAMED_TYPES
        except scrubbers.CorruptFileError:
            # Shorter than its size a moment ago (being written): read in RAM, as it is now.
            return False


def _can_hold_nameless(out_dir: Path) -> bool:
    # Not every file system has O_TMPFILE: there a large file is cleaned in RAM, up to
    # the limit of `DEFAULT_LIMITS.max_input_bytes`, and reported too large beyond it.
    try:
        os.close(os.open(out_dir, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    except OSError:
        return False
    return True


def _write(outcome: Outcome, out_dir: Path, stem: str) -> None:
    report = outcome.report
    if report.cleaned:
        try:
            outcome.output = _write_new(out_dir, stem, report.file_type.extension, report.data)
        except OSError as exc:
            outcome.write_error = exc.strerror or str(exc)
    _write_attachments(outcome, out_dir, stem)


def _write_attachments(outcome: Outcome, out_dir: Path, stem: str) -> None:
    for number, attachment in enumerate(outcome.report.attachments, start=1):
        child = Outcome(
            f"attachment {attachment.untrusted_name}",
            attachment.report,
            name=attachment.untrusted_name,
        )
        outcome.attachments.append(child)
        child_stem = f"{stem}.attachment-{number}-{_safe_stem(attachment.untrusted_name)}"
        _write(child, out_dir, child_stem)


def _safe_stem(untrusted_name: str) -> str:
    base = re.split(r"[/\\]", untrusted_name)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    stem = _UNSAFE_NAME.sub("_", stem).lstrip(".-")[:_MAX_NAME_CHARS]
    return stem or "file"


def _write_new(out_dir: Path, stem: str, extension: str, data: bytes) -> Path:
    """Create a new file (never replace one), trying ``stem-1``, ``stem-2`` ... when taken."""
    for n in range(_MAX_SUFFIX):
        path = out_dir / (f"{stem}{extension}" if n == 0 else f"{stem}-{n}{extension}")
        try:
            # O_EXCL: fails if anything exists under that name, a symlink included, so a
            # planted link cannot redirect the write. 0600: these are sensitive documents.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        except OSError:
            path.unlink(missing_ok=True)  # no half-written file left looking like a result
            raise
        return path
    raise FileExistsError(f"no free name for {stem}{extension} in {out_dir}")


def _print_outcome(outcome: Outcome, out: TextIO, indent: str = "") -> None:
    report = outcome.report
    kind = report.file_type.name.upper()
    if report.cleaned and outcome.output is not None:
        status = f"cleaned -> {outcome.output}"
    elif report.cleaned:
        status = f"cleaned, but NOT WRITTEN: {outcome.write_error}"
    else:
        reason = report.reason or "not cleaned"
        if outcome.write_error:
            reason = f"{reason} ({outcome.write_error})"
        status = f"NOT CLEANED: {reason} (not written)"
    print(f"{indent}{shown(outcome.label)}: {kind}, {status}", file=out)
    if report.removed:
        print(f"{indent}  removed: {', '.join(report.removed)}", file=out)
    elif report.cleaned:
        print(f"{indent}  removed: nothing found", file=out)
    if report.note:
        print(f"{indent}  note: {shown(report.note)}", file=out)
    for child in outcome.attachments:
        _print_outcome(child, out, indent + "  ")


def _print_summary(outcomes: list[Outcome], out: TextIO) -> None:
    bad = [o for o in outcomes if not o.ok]
    if not bad:
        print(f"{len(outcomes)} file(s) cleaned.", file=out)
    else:
        print(
            f"{len(outcomes) - len(bad)} of {len(outcomes)} file(s) fully cleaned; "
            f"{len(bad)} NOT (see above): what was not cleaned was not written.",
            file=out,
        )
