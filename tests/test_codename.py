"""Returning sources, the offline half: codenames, derived keys, mailboxes, `leakdrop reply`.

The reply is checked with the audited `age` tool, given the source's identity derived the
documented way (leakdrop.codename): a reply is plain age, nothing of ours is needed to read it.
"""

from __future__ import annotations

import io
import math
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from leakdrop.codename import (
    SALT_BYTES,
    WORDS,
    CodenameError,
    derive,
    new_codename,
    normalise,
    word_list,
)
from leakdrop.mailboxes import MailboxError, Mailboxes, NoSuchMailboxError
from leakdrop.sealing import X25519Identity, decrypt, encrypt
from leakdrop.submission import (
    ContainerError,
    ReplyAddress,
    parse_manifest,
    read_manifest,
    write_submission,
)

LEAKDROP = [sys.executable, "-m", "leakdrop.cli"]
SALT = bytes(range(SALT_BYTES))


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_word_lists_give_about_90_bits(lang: str) -> None:
    words = word_list(lang)
    assert len(words) >= 7000
    assert all(w.isascii() and w.isalpha() and w.islower() for w in words)
    assert WORDS * math.log2(len(words)) >= 89.5
    codename = new_codename(lang)
    parts = codename.split(" ")
    assert len(parts) == WORDS and all(p in words for p in parts)
    assert normalise(codename) == codename  # what is shown is already canonical


def test_codenames_differ() -> None:
    assert len({new_codename("fr") for _ in range(50)}) == 50


def test_typing_back_tolerates_what_people_do() -> None:
    canonical = "abaisse abandon abaque abattre abbaye acajou acheter"
    for typed in (
        "ABAISSE ABANDON ABAQUE ABATTRE ABBAYE ACAJOU ACHETER",
        "  abaisse   abandon\tabaque abattre abbaye acajou acheter \n",
        "abaisse-abandon-abaque-abattre-abbaye-acajou-acheter",
        "Abaissé abandon abaque âbattre abbaye acajou achéter",
        "abaisse – abandon, abaque. abattre abbaye acajou acheter",
    ):
        assert normalise(typed) == canonical, typed


@pytest.mark.parametrize("typed", ["", "   ", "--", "abaisse 1234", "mot\x00mot", "a" * 401])
def test_what_cannot_be_a_codename(typed: str) -> None:
    with pytest.raises(CodenameError):
        normalise(typed)


def test_derivation_is_deterministic_and_separated() -> None:
    one = derive("abaisse abandon abaque abattre abbaye acajou acheter", SALT)
    again = derive("abaisse abandon abaque abattre abbaye acajou acheter", SALT)
    other_salt = derive("abaisse abandon abaque abattre abbaye acajou acheter", bytes(16))
    other_word = derive("abaisse abandon abaque abattre abbaye acajou achetez", SALT)
    assert one == again
    assert len(one.mailbox_id) == 32 and len(one.reply_seed) == 32
    assert one.mailbox_id != one.reply_seed
    assert len({one.mailbox_id, other_salt.mailbox_id, other_word.mailbox_id}) == 3
    assert "abaisse" not in repr(one) and one.mailbox_id.hex() not in repr(one)
    assert str(one.reply_recipient()).startswith("age1")
    with pytest.raises(ValueError, match="salt"):
        derive("abaisse", b"short")


def test_mailbox_storage(tmp_path: Path) -> None:
    boxes = Mailboxes(tmp_path)
    boxes.prepare()
    secret = tmp_path / "codename.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_bytes()) == 48
    assert Mailboxes(tmp_path).salt == boxes.salt  # kept: a new salt would orphan them all
    keys = derive("abaisse abandon abaque abattre abbaye acajou acheter", boxes.salt)
    assert not boxes.exists(keys.mailbox_id)
    with pytest.raises(NoSuchMailboxError):
        boxes.file_reply(keys.mailbox_id, b"age-encryption.org/v1\n...")
    boxes.create(keys.mailbox_id)
    boxes.create(keys.mailbox_id)  # a follow-up under the same codename
    (folder,) = (tmp_path / "mailboxes").iterdir()
    assert keys.mailbox_id.hex() not in folder.name  # a keyed hash, never the id
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    with pytest.raises(MailboxError, match="age file"):
        boxes.file_reply(keys.mailbox_id, b"plain text")
    first = boxes.file_reply(keys.mailbox_id, b"age-encryption.org/v1\nfirst")
    second = boxes.file_reply(keys.mailbox_id, b"age-encryption.org/v1\nsecond")
    replies = boxes.replies(keys.mailbox_id)
    assert [r.name for r in replies] == [first, second]
    assert [r.data[-6:] for r in replies] == [b"\nfirst", b"second"]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert {r.day for r in replies} == {today}
    for path in [folder, *folder.iterdir()]:
        assert path.stat().st_mtime % 86400 == 0  # the day, never the moment
    assert boxes.delete_replies(keys.mailbox_id, [first, "../../codename.secret"]) == 1
    assert [r.name for r in boxes.replies(keys.mailbox_id)] == [second]
    assert secret.exists()
    # Retention: the reply goes after `days`, then the empty mailbox.
    assert boxes.expire(90) == 0
    assert boxes.expire(90, now=time.time() + 91 * 86400) == 2
    assert not boxes.exists(keys.mailbox_id)


def test_damaged_secret_is_refused_not_replaced(tmp_path: Path) -> None:
    Mailboxes(tmp_path).prepare()
    (tmp_path / "codename.secret").write_bytes(b"short")
    with pytest.raises(MailboxError, match="damaged"):
        Mailboxes(tmp_path).prepare()


def test_manifest_carries_the_reply_address(make_file_entry: Any) -> None:
    address = ReplyAddress(mailbox="ab" * 32, recipient=str(X25519Identity.generate().recipient()))
    buf = io.BytesIO()
    write_submission(
        buf,
        submission_id="s1",
        received_day="2026-01-02",
        message="hello",
        files=[make_file_entry("a.txt", b"text")],
        reply=address,
    )
    manifest = read_manifest(io.BytesIO(buf.getvalue()))
    assert manifest.reply == address
    buf = io.BytesIO()
    write_submission(buf, submission_id="s2", received_day="2026-01-02", message="x", files=[])
    assert read_manifest(io.BytesIO(buf.getvalue())).reply is None


@pytest.mark.parametrize(
    "reply",
    [
        '{"mailbox": "ab", "recipient": "age1qqqqqqqq"}',
        '{"mailbox": "' + "AB" * 32 + '", "recipient": "age1qqqqqqqq"}',
        '{"mailbox": "' + "ab" * 32 + '", "recipient": "AGE-SECRET-KEY-1XYZ"}',
        '{"mailbox": "' + "ab" * 32 + '", "recipient": "age1qqqqqqqq", "extra": 1}',
        '"age1qqqqqqqq"',
    ],
)
def test_malformed_reply_address_is_refused(reply: str) -> None:
    doc = (
        '{"format": "leakdrop-submission", "version": 1, "id": "x", "received": "2026-01-02",'
        f' "message": null, "files": [], "reply": {reply}}}'
    )
    with pytest.raises(ContainerError):
        parse_manifest(doc.encode())


def _submission(path: Path, editor: Any, address: ReplyAddress | None) -> Path:
    buf = io.BytesIO()
    write_submission(
        buf,
        submission_id="conv1",
        received_day="2026-01-02",
        message="the annex is on p. 4",
        files=[],
        reply=address,
    )
    with path.open("wb") as fh, encrypt(fh, [editor.recipient]) as writer:
        writer.write(buf.getvalue())
    return path


def test_reply_end_to_end_offline(tmp_path: Path, editor_identity: Any) -> None:
    boxes = Mailboxes(tmp_path / "storage")
    boxes.prepare()
    codename = new_codename("fr")
    keys = derive(normalise(codename.upper()), boxes.salt)
    boxes.create(keys.mailbox_id)
    address = ReplyAddress(mailbox=keys.mailbox_id.hex(), recipient=str(keys.reply_recipient()))
    submission = _submission(tmp_path / "in.age", editor_identity, address)
    message = tmp_path / "reply.txt"
    message.write_text("Merci. Quelle version du contrat est-ce ?\n", encoding="utf-8")
    outbox = tmp_path / "usb" / "outbox"
    result = subprocess.run(
        [
            *LEAKDROP,
            "reply",
            "--identity",
            str(editor_identity.identity_file),
            "--to",
            str(submission),
            "--message-file",
            str(message),
            "--out",
            str(outbox),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (sealed_file,) = outbox.iterdir()
    assert sealed_file.name.startswith(f"reply-{keys.mailbox_id.hex()}-")
    assert str(sealed_file) in result.stdout
    assert stat.S_IMODE(sealed_file.stat().st_mode) == 0o600
    sealed = sealed_file.read_bytes()
    assert b"contrat" not in sealed
    # Filed as the pickup files it, read back as the source's page reads it.
    boxes.file_reply(keys.mailbox_id, sealed)
    (stored,) = boxes.replies(keys.mailbox_id)
    # The audited age tool opens it with the source's identity, derived the documented way.
    source_identity = tmp_path / "source-identity.txt"
    source_identity.write_text(f"{keys.reply_identity()}\n")
    opened = subprocess.run(
        ["age", "-d", "-i", str(source_identity)],
        input=stored.data,
        capture_output=True,
        timeout=60,
    )
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.decode() == message.read_text(encoding="utf-8")
    # The newsroom keeps what it said.
    with decrypt(io.BytesIO(sealed), [editor_identity.identity]) as reader:
        assert reader.read() == message.read_bytes()


def test_reply_refused_without_reply_address(tmp_path: Path, editor_identity: Any) -> None:
    submission = _submission(tmp_path / "in.age", editor_identity, None)
    message = tmp_path / "reply.txt"
    message.write_text("hello")
    result = subprocess.run(
        [
            *LEAKDROP,
            "reply",
            "--identity",
            str(editor_identity.identity_file),
            "--to",
            str(submission),
            "--message-file",
            str(message),
            "--out",
            str(tmp_path / "outbox"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "without a codename" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "outbox").exists() or not os.listdir(tmp_path / "outbox")
