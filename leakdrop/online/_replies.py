"""Sending the laptop's replies: `leakdrop fetch` posts every reply `leakdrop reply` left in
OUT/outbox/ to the pickup, and moves each one the server confirmed (by its own SHA-256 of
what it stored) to OUT/outbox/sent/.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from leakdrop.layout import OUTBOX_NAME
from leakdrop.online._client import (
    MAX_ERROR_BODY,
    AuthError,
    Client,
    Endpoint,
    FetchError,
    Retry,
    read_small,
    say,
    with_retries,
)
from leakdrop.online._download import fsync_dir_if_supported

OUTBOX_DIR: Final = "outbox"
SENT_DIR: Final = "sent"
#: The pickup's own bound (`leakdrop.mailboxes.MAX_REPLY_BYTES`), checked here first so
#: that a wrong file in the outbox is reported by name instead of sent.
_MAX_REPLY: Final = 1024 * 1024


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0


def _send_one(client: Client, path: Path) -> None:
    match = OUTBOX_NAME.fullmatch(path.name)
    assert match is not None
    data = path.read_bytes()
    if len(data) > _MAX_REPLY or not data.startswith(b"age-encryption.org/v1\n"):
        raise FetchError("not a reply written by `leakdrop reply` (kept in the outbox)")
    conn, response = client.request(
        "POST",
        f"/replies/{match.group(1)}",
        headers={"Content-Type": "application/octet-stream"},
        body=data,
    )
    try:
        answer = read_small(response, MAX_ERROR_BODY, client.endpoint.timeout)
    except (OSError, http.client.HTTPException) as exc:
        raise Retry(f"connection broken while sending: {exc}") from exc
    finally:
        conn.close()
    if response.status == 404:
        raise FetchError("the source's mailbox does not exist (expired?); kept in the outbox")
    if response.status != 201:
        raise FetchError(f"the server refused the reply ({response.status}); kept in the outbox")
    try:
        stored = json.loads(answer.decode("utf-8")).get("sha256")
    except (ValueError, UnicodeDecodeError, AttributeError):
        stored = None
    # Why compare: "sent" is a promise to the editor; only the server's own hash of what it
    # stored keeps it.
    if stored != hashlib.sha256(data).hexdigest():
        raise FetchError("the server did not confirm these exact bytes; kept in the outbox")


def send_replies(endpoint: Endpoint, token: str, out: Path, *, retries: int = 5) -> SendResult:
    """Send every reply in OUT/outbox/ through the pickup; move each sent one to sent/."""
    outbox = out / OUTBOX_DIR
    result = SendResult()
    if not outbox.is_dir():
        return result
    pending = sorted(p for p in outbox.iterdir() if p.is_file() and OUTBOX_NAME.fullmatch(p.name))
    if not pending:
        return result
    client = Client(endpoint, token)
    say(f"{len(pending)} reply(ies) to send")
    for path in pending:
        try:
            with_retries(retries, f"reply {path.name}", functools.partial(_send_one, client, path))
            sent = outbox / SENT_DIR
            sent.mkdir(mode=0o700, exist_ok=True)
            os.replace(path, sent / path.name)
            fsync_dir_if_supported(outbox)
            fsync_dir_if_supported(sent)
        except AuthError:
            raise
        except FetchError as exc:
            result.failed += 1
            say(f"{path.name}: NOT SENT: {exc}")
            continue
        except OSError as exc:
            result.failed += 1
            say(f"{path.name}: NOT SENT: {exc.strerror or exc}")
            continue
        result.sent += 1
        say(f"{path.name}: sent, stored by the server, moved to {OUTBOX_DIR}/{SENT_DIR}/")
    return result
