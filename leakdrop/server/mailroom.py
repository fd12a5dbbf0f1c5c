"""Returning sources on the server: codenames in, replies out, follow-up tokens in memory.

What the server holds about a returning source, and for how long:
- the codename: only while one request derives from it (`leakdrop.codename`), never
  written, logged or sent back (it is shown once, on the first receipt);
- the derived keys: for that request only; the reply key's secret decrypts the replies in
  memory and is dropped with the request;
- a follow-up or delete token: 32 random bytes mapped **in memory** to the mailbox for
  `TOKEN_LIFETIME` seconds, used once. A restart forgets them all (the source types the
  codename again). The token is never the codename nor derived from it.

Argon2id costs 256 MiB and about half a second: at most `MAX_DERIVATIONS` run at once (a
thread each), the others wait their turn. Look-ups (`POST /mailbox`, one short form away
from a flood) wait in a bounded queue, beyond which the source gets the "busy" page; a new
submission's codename waits without that bound, because each already holds one of the
upload slots that bound submissions, and a source whose files arrived is never refused.
That bounds what strangers can make the server spend, whatever they send.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from leakdrop.codename import SourceKeys, derive, new_codename, normalise
from leakdrop.mailboxes import MailboxError, Mailboxes, NoSuchMailboxError
from leakdrop.sealing import AgeError, decrypt
from leakdrop.server.errors import BusyError, InternalError
from leakdrop.submission import ReplyAddress

__all__ = [
    "Conversation",
    "Mailroom",
    "PendingAddress",
    "ShownReply",
    "TokenError",
    "reply_address",
]

MAX_DERIVATIONS: Final = 2
#: Derivations waiting for a slot: 32 x 0.5 s is a 8-second wait at worst, past which a
#: source is better told to come back than left staring at a blank page.
MAX_WAITING: Final = 32
TOKEN_LIFETIME: Final = 30 * 60
#: Tokens alive at once; the oldest is forgotten first. 20,000 x ~200 B = 4 MB at most.
MAX_TOKENS: Final = 20_000
#: Shown replies: a text an editor typed (see `leakdrop.offline.reply.MAX_MESSAGE_BYTES`).
MAX_SHOWN_BYTES: Final = 64 * 1024


class TokenError(Exception):
    """The follow-up or delete form has expired or was already used."""


@dataclass(frozen=True)
class ShownReply:
    day: str
    text: str | None  # None: this reply could not be opened (shown as such, never hidden)


@dataclass(frozen=True)
class Conversation:
    replies: tuple[ShownReply, ...]
    followup_token: str
    delete_token: str


@dataclass(frozen=True)
class _Grant:
    mailbox_id: bytes
    reply: ReplyAddress
    replies: tuple[str, ...]  # for a delete token: the names shown
    kind: str  # "followup" or "delete"
    expires: float


def reply_address(keys: SourceKeys, *, post_quantum: bool = False) -> ReplyAddress:
    recipient = keys.reply_recipient(post_quantum=post_quantum)
    return ReplyAddress(mailbox=keys.mailbox_id.hex(), recipient=str(recipient))


class Mailroom:
    def __init__(self, mailboxes: Mailboxes, *, post_quantum: bool = False) -> None:
        """`post_quantum`: the editors' keys are; sources' reply keys are made so too."""
        self._mailboxes = mailboxes
        self._post_quantum = post_quantum
        # The pool's own queue is first-in first-out: its two threads bound the memory.
        self._threads = ThreadPoolExecutor(MAX_DERIVATIONS, thread_name_prefix="codename")
        self._lookups = 0
        self._tokens: OrderedDict[str, _Grant] = OrderedDict()

    async def _derive(self, normalised: str) -> SourceKeys:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, derive, normalised, self._mailboxes.salt)

    async def _lookup(self, normalised: str) -> SourceKeys:
        if self._lookups >= MAX_DERIVATIONS + MAX_WAITING:
            raise BusyError("codename queue full")
        self._lookups += 1
        try:
            return await self._derive(normalised)
        finally:
            self._lookups -= 1

    # ------------------------------------------------------------ first submission

    def new_source(self, lang: str) -> tuple[str, PendingAddress]:
        """A fresh codename and the derivation of its reply address, to be started once the
        upload has fully arrived (`PendingAddress.start`): an upload held open, or one that
        never ends, costs no Argon2 time or memory. The mailbox is made by `open_mailbox`
        once the submission is stored: a failed one leaves nothing."""
        codename = new_codename(lang)
        normalised = normalise(codename)
        return codename, PendingAddress(lambda: self._address(normalised))

    async def _address(self, normalised: str) -> ReplyAddress:
        return reply_address(await self._derive(normalised), post_quantum=self._post_quantum)

    def open_mailbox(self, address: ReplyAddress) -> bool:
        """Create the mailbox; False when it could not be (the receipt then says so)."""
        try:
            self._mailboxes.create(bytes.fromhex(address.mailbox))
        except MailboxError:
            return False
        return True

    # ------------------------------------------------------------ coming back

    async def open_conversation(self, untrusted_codename: str) -> Conversation:
        """Replies of the codename's mailbox, decrypted in memory, oldest first.

        Raises CodenameError for what cannot be a codename, NoSuchMailboxError when no
        mailbox has this codename."""
        keys = await self._lookup(normalise(untrusted_codename))
        try:
            stored = self._mailboxes.replies(keys.mailbox_id)
        except NoSuchMailboxError:
            raise
        except MailboxError as exc:
            raise InternalError(type(exc).__name__) from exc
        identities = keys.reply_identities()
        shown: list[ShownReply] = []
        for reply in stored:
            text: str | None
            try:
                with decrypt(io.BytesIO(reply.data), identities) as reader:
                    data = reader.read(MAX_SHOWN_BYTES + 1)
                text = data[:MAX_SHOWN_BYTES].decode("utf-8", "replace")
            except AgeError:
                text = None
            shown.append(ShownReply(day=reply.day, text=text))
        address = reply_address(keys, post_quantum=self._post_quantum)
        names = tuple(r.name for r in stored)
        return Conversation(
            replies=tuple(shown),
            followup_token=self._grant(keys.mailbox_id, address, (), "followup"),
            delete_token=self._grant(keys.mailbox_id, address, names, "delete"),
        )

    def _grant(
        self, mailbox_id: bytes, address: ReplyAddress, names: tuple[str, ...], kind: str
    ) -> str:
        self._forget_expired()
        while len(self._tokens) >= MAX_TOKENS:
            self._tokens.popitem(last=False)
        token = secrets.token_urlsafe(32)
        self._tokens[token] = _Grant(
            mailbox_id, address, names, kind, time.monotonic() + TOKEN_LIFETIME
        )
        return token

    def _forget_expired(self) -> None:
        now = time.monotonic()
        while self._tokens:
            first = next(iter(self._tokens.values()))
            if first.expires > now:
                break
            self._tokens.popitem(last=False)

    def _take(self, untrusted_token: str | None, kind: str) -> _Grant:
        self._forget_expired()
        grant = self._tokens.get(untrusted_token or "")
        if grant is None or grant.kind != kind:
            raise TokenError("expired or already used")
        del self._tokens[untrusted_token or ""]  # once only
        return grant

    def take_followup(self, untrusted_token: str | None) -> ReplyAddress:
        grant = self._take(untrusted_token, "followup")
        # The mailbox is refreshed: a source who keeps writing keeps it from expiring.
        self.open_mailbox(grant.reply)
        return grant.reply

    def delete_read(self, untrusted_token: str | None) -> int:
        grant = self._take(untrusted_token, "delete")
        try:
            return self._mailboxes.delete_replies(grant.mailbox_id, list(grant.replies))
        except NoSuchMailboxError:
            return 0
        except MailboxError as exc:
            raise InternalError(type(exc).__name__) from exc


class PendingAddress:
    """A new source's reply address, derived only when `start` is called (the pipeline
    calls it when the body is complete, so that the derivation overlaps with cleaning)."""

    def __init__(self, derive: Callable[[], Coroutine[Any, Any, ReplyAddress]]) -> None:
        self._derive = derive
        self._task: asyncio.Task[ReplyAddress] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._derive())

    async def get(self) -> ReplyAddress:
        self.start()
        assert self._task is not None
        return await self._task

    def cancel(self) -> None:
        """Drop a derivation the submission no longer needs (it failed)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def result(self) -> ReplyAddress | None:
        """The address once derived, else None (not started, running, cancelled, failed)."""
        task = self._task
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()
