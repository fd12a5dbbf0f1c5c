"""The download loop of `leakdrop fetch`: list, download with resume, verify, publish,
confirm.

Each submission is downloaded into ``OUT/.partial/<id>.age.part`` (resumed with ``Range``
after a broken connection, in this run or the next), verified (announced size and SHA-256,
re-read from OUT, and the age layout), fsynced and renamed to ``OUT/<id>.age``; only then is
it confirmed, and the server deletes its copy. A file that fails verification is deleted
from ``.partial`` and never confirmed. The whole listing is weighed against the free space
once: sizes are the server's word, and it must not be able to fill the stick.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from leakdrop._files import DAY, SHA256_HEX, fsync_dir, sha256_file
from leakdrop._terminal import Progress
from leakdrop.layout import is_valid_id
from leakdrop.online._client import (
    MAX_ERROR_BODY,
    READ_CHUNK,
    AuthError,
    Client,
    Endpoint,
    FetchError,
    RateGuard,
    Retry,
    read_small,
    say,
    with_retries,
)
from leakdrop.sealing import (
    ENCRYPTED_CHUNK_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    HeaderError,
    header_length,
)

PARTIAL_DIR: Final = ".partial"
PART_SUFFIX: Final = ".age.part"
_MAX_LISTING: Final = 32 * 1024 * 1024
_MAX_SIZE: Final = 1 << 50
_DAY_RE: Final = DAY
_HEX64_RE: Final = SHA256_HEX
_CONTENT_RANGE_RE: Final = re.compile(r"bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19})")
#: Free space always left on the stick, whatever the server announces.
_FREE_MARGIN: Final = 64 * 1024 * 1024

# age v1 layout (age-encryption.org/v1): header, 16-byte nonce, then STREAM chunks of
# 64 KiB plaintext + 16-byte tag, the last one shorter (or full) and never empty unless it
# is the only one.
_AGE_INTRO: Final = b"age-encryption.org/v1\n"
_AGE_MAX_HEADER: Final = 1024 * 1024  # the sealing package's own bound on a header


class VerifyError(FetchError):
    """A download is not the complete, unaltered ciphertext the server announced."""


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class Listed:
    id: str
    size: int
    day: str
    sha256: str


def parse_listing(untrusted_data: bytes) -> list[Listed]:
    """The server's listing, validated: every id becomes a file name on the editor's disk."""
    try:
        doc = json.loads(untrusted_data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FetchError("the server's listing is not JSON") from exc
    if not isinstance(doc, list):
        raise FetchError("the server's listing is not a list")
    out: list[Listed] = []
    seen: set[str] = set()
    for item in doc:
        if (
            not isinstance(item, dict)
            or set(item) != {"id", "size", "day", "sha256"}
            or not isinstance(item["id"], str)
            or not is_valid_id(item["id"])
            or not isinstance(item["size"], int)
            or isinstance(item["size"], bool)
            or not 0 < item["size"] < _MAX_SIZE
            or not isinstance(item["day"], str)
            or not _DAY_RE.fullmatch(item["day"])
            or not isinstance(item["sha256"], str)
            or not _HEX64_RE.fullmatch(item["sha256"])
            or item["id"] in seen
        ):
            raise FetchError("the server's listing holds a malformed entry")
        seen.add(item["id"])
        out.append(Listed(item["id"], item["size"], item["day"], item["sha256"]))
    return out


# --------------------------------------------------------------------------- verification


def check_age_layout(path: Path, size: int) -> None:
    """Raise VerifyError unless `path` is a binary age file of exactly `size` bytes whose
    header parses and whose payload is a nonce and a well-formed STREAM chunk sequence.

    This refuses any file of the wrong size, a damaged header, and a cut that leaves a
    final chunk shorter than a tag or empty after others. It cannot see a cut inside the
    last chunk of a file whose size is unknown, nor a flipped byte (tags need the key):
    the announced size and SHA-256, checked as well, are the guard for those.
    """
    with path.open("rb") as fh:
        actual = os.fstat(fh.fileno()).st_size
        if actual != size:
            raise VerifyError(f"size {actual} differs from the announced {size}")
        untrusted_head = fh.read(_AGE_MAX_HEADER + 128)
    if not untrusted_head.startswith(_AGE_INTRO):
        raise VerifyError("not a binary age v1 file")
    try:
        # The sealing package's own parser, as strict as `decrypt` (no key needed).
        header_len = header_length(untrusted_head)
    except HeaderError as exc:
        raise VerifyError(f"age header invalid: {exc}") from exc
    payload = size - header_len - NONCE_SIZE
    if payload < TAG_SIZE:
        raise VerifyError("age file truncated: no payload")
    full, last = divmod(payload, ENCRYPTED_CHUNK_SIZE)
    if last == 0:
        last = ENCRYPTED_CHUNK_SIZE  # a full final chunk
        full -= 1
    if last < TAG_SIZE or (full > 0 and last == TAG_SIZE):
        # A final chunk shorter than a tag, or an empty final chunk after others: what a
        # cut in the middle of a chunk leaves.
        raise VerifyError("age payload does not end on a chunk boundary: truncated?")


def _verify(path: Path, item: Listed) -> None:
    check_age_layout(path, item.size)
    if sha256_file(path) != item.sha256:
        raise VerifyError("SHA-256 differs from the one the server announced")


# --------------------------------------------------------------------------- files


def fsync_dir_if_supported(path: Path) -> None:
    with contextlib.suppress(OSError):  # some USB file systems cannot fsync a folder
        fsync_dir(path)


def _publish(part: Path, final: Path) -> None:
    """Give the verified file its final name without ever replacing anything."""
    try:
        os.link(part, final)
    except FileExistsError as exc:
        raise FetchError(f"{final} appeared meanwhile; left {part} in place") from exc
    except OSError:
        # FAT/exFAT sticks have no hard links: rename after an existence check.
        if os.path.lexists(final):
            raise FetchError(f"{final} appeared meanwhile; left {part} in place") from None
        os.rename(part, final)
    else:
        part.unlink()
    fsync_dir_if_supported(final.parent)


def _size_text(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError


# --------------------------------------------------------------------------- download


def _download_once(client: Client, item: Listed, part: Path, progress: Progress) -> None:
    """One attempt to complete `part`; raises Retry on a broken connection."""
    have = part.stat().st_size if part.exists() else 0
    if have > item.size:
        part.unlink()
        have = 0
    if have == item.size:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    conn, response = client.request("GET", f"/submissions/{item.id}", headers=headers)
    try:
        if response.status == 404:
            raise FetchError("gone from the server (expired, or fetched by another editor)")
        if response.status == 206:
            match = _CONTENT_RANGE_RE.fullmatch(response.getheader("Content-Range") or "")
            if (
                match is None
                or int(match.group(1)) != have
                or int(match.group(2)) != item.size - 1
                or int(match.group(3)) != item.size
            ):
                raise FetchError("the server answered a different range than asked")
            mode = "ab"
        elif response.status == 200:
            have, mode = 0, "wb"  # no resume offered: start over
        else:
            raise FetchError(f"unexpected answer {response.status} to a download")
        if have:
            say(f"{item.id}: resuming at {_size_text(have)}")
        progress.advance(have)
        # 0600 from the first byte: ciphertext, but nobody else's business on a shared machine.
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        flags |= os.O_APPEND if mode == "ab" else os.O_TRUNC
        # Unbuffered: what was received is on the file as soon as it arrives, so a run
        # that is killed resumes from every byte it got.
        guard = RateGuard(client.endpoint.timeout)
        with os.fdopen(os.open(part, flags, 0o600), "wb", buffering=0) as fh:
            try:
                while have < item.size:
                    chunk = response.read1(min(READ_CHUNK, item.size - have))
                    if not chunk:
                        break
                    view = memoryview(chunk)
                    while view:  # a raw file may take fewer bytes than given
                        view = view[fh.write(view) or 0 :]
                    have += len(chunk)
                    progress.advance(len(chunk))
                    guard.add(len(chunk))
            except Retry:
                os.fsync(fh.fileno())  # what arrived is kept: the next attempt resumes
                raise
            except (OSError, http.client.HTTPException) as exc:
                os.fsync(fh.fileno())
                raise Retry(f"connection broken at {_size_text(have)}: {exc}") from exc
            os.fsync(fh.fileno())
        if have < item.size:
            raise Retry(f"connection ended early at {_size_text(have)}")
    finally:
        conn.close()


def _confirm(client: Client, item: Listed) -> str:
    body = json.dumps({"sha256": item.sha256}).encode()
    conn, response = client.request("POST", f"/submissions/{item.id}/confirm", body=body)
    try:
        read_small(response, MAX_ERROR_BODY, client.endpoint.timeout)
        if response.status == 200:
            return "confirmed, deleted on the server"
        if response.status == 404:
            return "already gone on the server (expired or fetched by another editor)"
        if response.status == 409:
            raise FetchError("the server's copy no longer matches: kept, not deleted")
        raise FetchError(f"unexpected answer {response.status} to the confirmation")
    finally:
        conn.close()


def _fetch_one(client: Client, item: Listed, out: Path, retries: int) -> str:
    final = out / f"{item.id}.age"
    part = out / PARTIAL_DIR / f"{item.id}{PART_SUFFIX}"
    if os.path.lexists(final):
        # Fetched earlier but not confirmed (the run stopped in between): confirm now if
        # it is the same ciphertext, never overwrite it.
        _verify(final, item)
        return with_retries(retries, item.id, lambda: _confirm(client, item))
    need = _still_needed(out, item)
    if shutil.disk_usage(out).free < need + _FREE_MARGIN:
        raise FetchError(f"not enough free space in {out} ({_size_text(need)} needed)")
    progress = Progress(item.id[:12], item.size)
    try:
        with_retries(retries, item.id, lambda: _download_once(client, item, part, progress))
    finally:
        progress.finish()
    try:
        _verify(part, item)
    except VerifyError:
        # Corrupt: never renamed, never confirmed; the server keeps its copy. The part is
        # removed so the next run downloads it afresh instead of resuming garbage.
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    _publish(part, final)
    return with_retries(retries, item.id, lambda: _confirm(client, item))


def _still_needed(out: Path, item: Listed) -> int:
    """Bytes `item` will still add to OUT (nothing if it was saved before)."""
    if os.path.lexists(out / f"{item.id}.age"):
        return 0
    part = out / PARTIAL_DIR / f"{item.id}{PART_SUFFIX}"
    have = part.stat().st_size if part.exists() else 0
    return item.size - min(have, item.size)


def _drop_stale_parts(folder: Path, listed: set[str]) -> None:
    """Partial downloads of submissions the server no longer lists can never complete."""
    stale = 0
    for part in folder.iterdir():
        sub_id = part.name.removesuffix(PART_SUFFIX)
        if part.name.endswith(PART_SUFFIX) and sub_id not in listed and part.is_file():
            part.unlink()
            stale += 1
    if stale:
        say(f"removed {stale} partial download(s) of submissions no longer on the server")


@dataclass
class FetchResult:
    listed: int = 0
    fetched: int = 0
    failed: int = 0
    #: Left on the server because the stick has no room for them.
    skipped: int = 0


def fetch_all(endpoint: Endpoint, token: str, out: Path, *, retries: int = 5) -> FetchResult:
    client = Client(endpoint, token)
    (out / PARTIAL_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)

    def listing() -> list[Listed]:
        conn, response = client.request("GET", "/submissions")
        try:
            if response.status != 200:
                raise FetchError(f"unexpected answer {response.status} to the listing")
            try:
                data = read_small(response, _MAX_LISTING, client.endpoint.timeout)
            except (OSError, http.client.HTTPException) as exc:
                raise Retry(f"connection broken during the listing: {exc}") from exc
            return parse_listing(data)
        finally:
            conn.close()

    items: list[Listed] = with_retries(retries, "listing", listing)
    _drop_stale_parts(out / PARTIAL_DIR, {i.id for i in items})
    result = FetchResult(listed=len(items))
    total = sum(i.size for i in items)
    say(f"{len(items)} submission(s) on the server, {_size_text(total)}")
    # The whole listing against the free space, once: sizes are the server's word, and a
    # server must not be able to fill the stick (a margin is always left).
    budget = shutil.disk_usage(out).free - _FREE_MARGIN
    wanted = sum(_still_needed(out, i) for i in items)
    if wanted > budget:
        say(
            f"{_size_text(wanted)} to download but {_size_text(max(0, budget))} free in {out}"
            " (less a margin): fetching what fits, the rest stays on the server"
        )
    for n, item in enumerate(items, start=1):
        say(f"[{n}/{len(items)}] {item.id} ({_size_text(item.size)}, {item.day})")
        need = _still_needed(out, item)
        if need > budget:
            result.skipped += 1
            say(f"{item.id}: NOT FETCHED, no room for {_size_text(need)} (kept on the server)")
            continue
        budget -= need
        try:
            outcome = _fetch_one(client, item, out, retries)
        except AuthError:
            raise
        except VerifyError as exc:
            result.failed += 1
            say(f"{item.id}: NOT VERIFIED, not confirmed (kept on the server): {exc}")
            continue
        except FetchError as exc:
            result.failed += 1
            say(f"{item.id}: FAILED: {exc}")
            continue
        except OSError as exc:
            result.failed += 1
            say(f"{item.id}: FAILED: {exc.strerror or exc}")
            continue
        result.fetched += 1
        say(f"{item.id}: saved {out / (item.id + '.age')}, verified, {outcome}")
    return result
