"""Sources' mailboxes: where the editors' sealed replies wait (standard library only).

    STORAGE/codename.secret              salt for Argon2id (16 bytes) + key of the folder
                                         names (32 bytes); 0600, made once per drop
    STORAGE/mailboxes/<name>/            one per codename, made at its first submission
    STORAGE/mailboxes/<name>/NNNNNN.age  the replies, plain age files, sealed offline
                                         to the source's reply key and to the editors

<name> is BLAKE2b-256 of the mailbox id keyed with the drop's secret: the mailbox id is in
the sealed manifests (the editors need it to reply), and the folder name must not be it, so
that a manifest that leaks from the newsroom side does not point at a folder without the
server's storage too. No file links a mailbox to a submission: the mailbox is created
empty, with the day as its only time, like everything else the server writes.

Both the source-facing server (creates mailboxes, shows and deletes replies) and the pickup
(files replies) use this module; it holds no key and decrypts nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from leakdrop._files import fsync_dir, write_new_private_file
from leakdrop._times import blur_change_times, day_timestamp

__all__ = [
    "MAILBOX_ID_BYTES",
    "MAX_REPLY_BYTES",
    "MailboxError",
    "Mailboxes",
    "NoSuchMailboxError",
    "Reply",
]

MAILBOX_ID_BYTES: Final = 32
SECRET_FILE: Final = "codename.secret"  # noqa: S105 - a file name, not a secret
FOLDER: Final = "mailboxes"
#: A reply is a text an editor typed: 1 MiB of ciphertext is far more than one, and bounds
#: what the pickup (and a stolen pickup token) can make the server store per request.
MAX_REPLY_BYTES: Final = 1024 * 1024
#: Replies kept per mailbox: a bound on what a stolen pickup token can pile up in one.
MAX_REPLIES: Final = 200
_SALT_BYTES: Final = 16
_KEY_BYTES: Final = 32
_REPLY_NAME: Final = re.compile(r"(\d{6})\.age")


class MailboxError(Exception):
    """The mailbox storage cannot do what was asked (the message says why)."""


class NoSuchMailboxError(MailboxError):
    """No mailbox for this id: wrong codename, or a reply to a mailbox that never existed."""


@dataclass(frozen=True)
class Reply:
    name: str
    day: str  # YYYY-MM-DD (UTC): the only time kept
    data: bytes


def _set_day(path: Path) -> None:
    stamp = day_timestamp()
    os.utime(path, (stamp, stamp), follow_symlinks=False)


class Mailboxes:
    def __init__(self, storage_root: Path) -> None:
        self.root = storage_root
        self.folder = storage_root / FOLDER
        self._secret_path = storage_root / SECRET_FILE
        self._secret: bytes | None = None

    def prepare(self) -> None:
        """Create the folder and the per-drop secret (once). Raises MailboxError."""
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.folder.is_symlink() or not self.folder.is_dir():
                raise MailboxError(f"{self.folder}: not a folder")
            if not self._secret_path.exists():
                # Written aside, then linked: the server and the pickup may start together,
                # and neither may ever read a half-written secret.
                value = secrets.token_bytes(_SALT_BYTES + _KEY_BYTES)
                tmp = self.root / f".{SECRET_FILE}.{secrets.token_hex(8)}"
                write_new_private_file(tmp, lambda fh: fh.write(value))
                try:
                    with contextlib.suppress(FileExistsError):  # the other one was first
                        os.link(tmp, self._secret_path)
                finally:
                    tmp.unlink()
                fsync_dir(self.root)
            self._load_secret()
            _set_day(self.folder)
            _set_day(self._secret_path)
        except OSError as exc:
            raise MailboxError(f"{self.folder}: mailboxes not usable: {exc.strerror}") from exc

    def _load_secret(self) -> bytes:
        if self._secret is None:
            try:
                fd = os.open(self._secret_path, os.O_RDONLY | os.O_NOFOLLOW)
                with os.fdopen(fd, "rb") as fh:
                    value = fh.read(_SALT_BYTES + _KEY_BYTES + 1)
            except OSError as exc:
                raise MailboxError(f"{self._secret_path}: {exc.strerror}") from exc
            # Why refuse rather than regenerate: a new salt silently orphans every mailbox.
            if len(value) != _SALT_BYTES + _KEY_BYTES:
                raise MailboxError(f"{self._secret_path}: damaged (restore it from the backup)")
            self._secret = value
        return self._secret

    @property
    def salt(self) -> bytes:
        """The Argon2id salt for codenames (`leakdrop.codename.derive`)."""
        return self._load_secret()[:_SALT_BYTES]

    def _path(self, mailbox_id: bytes) -> Path:
        if len(mailbox_id) != MAILBOX_ID_BYTES:
            raise NoSuchMailboxError("a mailbox id is 32 bytes")
        key = self._load_secret()[_SALT_BYTES:]
        name = hashlib.blake2b(mailbox_id, key=key, digest_size=32).hexdigest()
        return self.folder / name

    def create(self, mailbox_id: bytes) -> None:
        """Make the mailbox if it does not exist (at a submission under a codename)."""
        path = self._path(mailbox_id)
        try:
            path.mkdir(mode=0o700, exist_ok=True)
            _set_day(path)
            fsync_dir(self.folder)
            _set_day(self.folder)
        except OSError as exc:
            raise MailboxError(f"mailbox not created: {exc.strerror}") from exc

    def exists(self, mailbox_id: bytes) -> bool:
        path = self._path(mailbox_id)
        return path.is_dir() and not path.is_symlink()

    def _existing(self, mailbox_id: bytes) -> Path:
        path = self._path(mailbox_id)
        if not (path.is_dir() and not path.is_symlink()):
            raise NoSuchMailboxError("no mailbox with this id")
        return path

    def _reply_names(self, path: Path) -> list[str]:
        return sorted(n for n in os.listdir(path) if _REPLY_NAME.fullmatch(n))

    def file_reply(self, mailbox_id: bytes, untrusted_data: bytes) -> str:
        """Store one sealed reply; returns its name. The mailbox must exist."""
        # Why only the magic: the pickup cannot decrypt; the source's page can, and shows
        # nothing for a reply that does not open. This only keeps junk off the disk.
        if not untrusted_data.startswith(b"age-encryption.org/v1\n"):
            raise MailboxError("a reply must be an age file")
        if len(untrusted_data) > MAX_REPLY_BYTES:
            raise MailboxError(f"a reply is at most {MAX_REPLY_BYTES} bytes")
        path = self._existing(mailbox_id)
        names = self._reply_names(path)
        if len(names) >= MAX_REPLIES:
            raise MailboxError(f"this mailbox already holds {MAX_REPLIES} unread replies")
        number = int(names[-1][:6]) + 1 if names else 1
        name = f"{number:06d}.age"
        tmp = path / f".{secrets.token_hex(8)}.part"
        try:
            write_new_private_file(tmp, lambda fh: fh.write(untrusted_data))
            _set_day(tmp)
            os.link(tmp, path / name)  # never replaces: a concurrent reply gets an error
            tmp.unlink()
            fsync_dir(path)
            _set_day(path)
            with contextlib.suppress(OSError):
                blur_change_times(path)
        except FileExistsError as exc:
            raise MailboxError("another reply was filed at the same moment: send again") from exc
        except OSError as exc:
            raise MailboxError(f"reply not stored: {exc.strerror}") from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return name

    def replies(self, mailbox_id: bytes) -> list[Reply]:
        """Every reply, oldest first. Raises NoSuchMailboxError."""
        path = self._existing(mailbox_id)
        found: list[Reply] = []
        for name in self._reply_names(path):
            try:
                fd = os.open(path / name, os.O_RDONLY | os.O_NOFOLLOW)
                with os.fdopen(fd, "rb") as fh:
                    day = time.strftime("%Y-%m-%d", time.gmtime(os.fstat(fh.fileno()).st_mtime))
                    data = fh.read(MAX_REPLY_BYTES + 1)
            except FileNotFoundError:
                continue  # deleted meanwhile
            except OSError as exc:
                raise MailboxError(f"reply not readable: {exc.strerror}") from exc
            found.append(Reply(name=name, day=day, data=data[:MAX_REPLY_BYTES]))
        return found

    def delete_replies(self, mailbox_id: bytes, names: list[str]) -> int:
        """Delete the named replies (those the source has read); returns how many."""
        path = self._existing(mailbox_id)
        deleted = 0
        for name in names:
            if not _REPLY_NAME.fullmatch(name):
                continue
            with contextlib.suppress(FileNotFoundError):
                (path / name).unlink()
                deleted += 1
        try:
            fsync_dir(path)
            _set_day(path)
        except OSError as exc:
            raise MailboxError(f"replies not deleted: {exc.strerror}") from exc
        return deleted

    def expire(self, days: int, *, now: float | None = None) -> int:
        """Delete replies older than `days`, and mailboxes unused for `days` and empty.

        Returns how many files and folders were removed. A mailbox's own time is the day
        of its last submission or reply (set by `create` and `file_reply`).
        """
        limit = (time.time() if now is None else now) - days * 86400
        removed = 0
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                box = Path(entry.path)
                box_mtime = entry.stat(follow_symlinks=False).st_mtime  # before unlinks touch it
                for name in self._reply_names(box):
                    with contextlib.suppress(OSError):
                        if (box / name).stat().st_mtime < limit:
                            (box / name).unlink()
                            removed += 1
                with contextlib.suppress(OSError):
                    if not any(box.iterdir()) and box_mtime < limit:
                        box.rmdir()
                        removed += 1
                    elif box.exists():
                        os.utime(box, (box_mtime, box_mtime), follow_symlinks=False)
        return removed
