"""The storage layout and the pickup's protocol facts: what the drop (which writes
submissions), the pickup (which lists and deletes them, and checks tokens) and `leakdrop
fetch` (which checks what a possibly hostile pickup announces, and sends the laptop's
replies) must agree on, kept here so that `leakdrop.online` imports nothing from the pickup
or the server. Standard library only.

    STORAGE/submissions/<id>.age     finished submissions (ciphertext only)
    STORAGE/incoming/<id>.part       a sealed submission being written (the drop only)
    STORAGE/spool/                   encrypted upload spools, nameless (the drop only)
    OUT/outbox/reply-<mailbox>-<n>.age   replies `leakdrop reply` wrote, `fetch` sends
"""

from __future__ import annotations

import re
import secrets
from typing import Final

SUBMISSIONS: Final = "submissions"
INCOMING: Final = "incoming"
SPOOL: Final = "spool"
SUFFIX: Final = ".age"
PART_SUFFIX: Final = ".part"
#: A submission's id: the drop names each one `secrets.token_hex(16)`.
ID_RE: Final = re.compile(r"[0-9a-f]{32}")


def is_valid_id(untrusted_id: str) -> bool:
    return ID_RE.fullmatch(untrusted_id) is not None


#: The files `leakdrop reply` writes into OUT/outbox/ and `leakdrop fetch` sends (group 1:
#: the mailbox id); anything else in the outbox is reported, never sent.
OUTBOX_NAME: Final = re.compile(r"reply-([0-9a-f]{64})-[0-9a-f]{16}\.age")


def outbox_name(mailbox: str) -> str:
    """A new name for a reply to ``mailbox`` in the outbox (random: replies never collide)."""
    name = f"reply-{mailbox}-{secrets.token_hex(8)}.age"
    if OUTBOX_NAME.fullmatch(name) is None:
        raise ValueError("not a mailbox id")
    return name


#: Makes a leaked token recognisable (secret scanners, an editor pasting the wrong file).
TOKEN_PREFIX: Final = "ldp1_"  # noqa: S105 - a format marker, not a secret
#: base64url of 32 bytes without padding: 43 characters.
_TOKEN_RE: Final = re.compile(r"ldp1_[A-Za-z0-9_-]{43}")


def check_token_syntax(untrusted_token: str) -> bool:
    """Whether the text has a pickup token's exact shape (checked before hashing or sending)."""
    return _TOKEN_RE.fullmatch(untrusted_token) is not None
