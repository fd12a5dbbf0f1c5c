"""Decrypting, verifying and extracting one input of `leakdrop open` into OUT.

An input is extracted into a hidden `.leakdrop-partial-*` folder inside OUT and renamed to
its final name only after the whole age file was decrypted and authenticated to its last
chunk and every file matched the manifest; on failure the partial folder is deleted. A
submission already in OUT (same manifest, same message) is found from the head of its age
file alone and not extracted again. The identity file is read here too (plain or
passphrase-protected).
"""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import io
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from leakdrop._terminal import Progress, ask_passphrase, read_passphrase_file
from leakdrop._terminal import shown as _shown
from leakdrop.sealing import (
    AgeError,
    Identity,
    KeyFormatError,
    NoIdentityMatchError,
    ScryptIdentity,
    decrypt,
    is_age_file,
    parse_identities_file,
)
from leakdrop.submission import (
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    ContainerError,
    Manifest,
    extract_submission,
    parse_manifest,
    peek_submission,
    read_manifest_and_message_digest,
    sanitise_name,
)

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


def input_files(paths: Sequence[str]) -> Iterator[Path | OpenError]:
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


def read_age_files(folder: Path) -> list[str]:
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
    names = read_age_files(folder)
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


def opened_ids(out: Path) -> dict[str, list[Path]]:
    """The submissions already in `out`, by submission id (folders may be named id-2...)."""
    known: dict[str, list[Path]] = {}
    for entry in submission_folders(out):
        manifest = folder_manifest(entry)
        if manifest is not None:
            known.setdefault(manifest.id, []).append(entry)
    return known


def folder_manifest(folder: Path) -> Manifest | None:
    try:
        with (folder / MANIFEST_NAME).open("rb") as fh:
            untrusted_data = fh.read(MAX_MANIFEST_BYTES + 1)
        return parse_manifest(untrusted_data)
    except (OSError, ContainerError):
        return None  # not one of ours (or damaged after extraction)


def submission_folders(out: Path) -> Iterator[Path]:
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
        if folder_manifest(folder) == manifest and _file_digest(folder, manifest) == (
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

    A submission already opened into `out` (`known`: `opened_ids(out)`) is not extracted
    again: the result says `already` and names its folder.
    """
    if known is None:
        known = opened_ids(out)
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
