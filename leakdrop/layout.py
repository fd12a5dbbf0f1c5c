"""The storage layout and the pickup's naming rules: the facts that the drop (which writes
submissions), the pickup (which lists and deletes them) and `leakdrop fetch` (which checks
what a possibly hostile pickup announces) must agree on. Standard library only.

    STORAGE/submissions/<id>.age     finished submissions (ciphertext only)
    STORAGE/incoming/<id>.part       a sealed submission being written (the drop only)
    STORAGE/spool/                   encrypted upload spools, nameless (the drop only)
"""

from __future__ import annotations

import re
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
