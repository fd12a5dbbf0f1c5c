"""Editors' access tokens: shown once, stored hashed, revocable, throttled on failure."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from support.pickup import run_leakdrop

from leakdrop.layout import check_token_syntax
from leakdrop.pickup.tokens import (
    AuthThrottle,
    TokenError,
    TokenStore,
    add_token,
    load_tokens,
    revoke_token,
)


def test_cli_add_list_revoke(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    added = run_leakdrop("token", "add", "alice", "--tokens", tokens)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert check_token_syntax(token)
    assert "shown only now" in added.stderr

    # Only the hash is stored, in a file nobody else can read.
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    text = tokens.read_text()
    assert token not in text and token[5:] not in text
    (stored,) = json.loads(text)["tokens"]
    assert stored["name"] == "alice"
    assert stored["sha256"] == hashlib.sha256(token.encode()).hexdigest()

    bob = run_leakdrop("token", "add", "bob", "--tokens", tokens).stdout.strip()
    assert bob != token
    listed = run_leakdrop("token", "list", "--tokens", tokens)
    assert listed.returncode == 0
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["alice", "bob"]
    assert stored["sha256"] not in listed.stdout  # list shows names, never hashes

    again = run_leakdrop("token", "add", "alice", "--tokens", tokens)
    assert again.returncode == 1 and "already has a token" in again.stderr

    revoked = run_leakdrop("token", "revoke", "alice", "--tokens", tokens)
    assert revoked.returncode == 0, revoked.stderr
    assert [e.name for e in load_tokens(tokens)] == ["bob"]
    missing = run_leakdrop("token", "revoke", "alice", "--tokens", tokens)
    assert missing.returncode == 1 and "no token named" in missing.stderr

    no_file = run_leakdrop("token", "list")
    assert no_file.returncode == 2 and "LEAKDROP_TOKENS" in no_file.stderr


@pytest.mark.parametrize("name", ["", "-rf", "a b", "../x", "é", "x" * 65, "a\nb"])
def test_bad_names_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(TokenError):
        add_token(tmp_path / "tokens.json", name)
    assert not (tmp_path / "tokens.json").exists()


def test_store_checks_and_follows_revocation(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    alice = add_token(path, "alice")
    bob = add_token(path, "bob")
    store = TokenStore(path)
    assert store.check(alice) == "alice"
    assert store.check(bob) == "bob"
    # Same shape, wrong secret; wrong shapes are refused before hashing.
    forged = alice[:-1] + ("A" if alice[-1] != "A" else "B")
    for wrong in (forged, "", alice + "x", alice.upper(), " " + alice, "ldp1_", "x" * 10_000):
        assert store.check(wrong) is None, wrong
    # The hash itself is not a token (a stolen token file lets nobody in).
    stored = load_tokens(path)[0].sha256
    assert store.check(stored) is None

    revoke_token(path, "alice")  # while the store is in use: reloaded on the next check
    assert store.check(alice) is None
    assert store.check(bob) == "bob"


def test_broken_or_unsafe_file_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    alice = add_token(path, "alice")
    store = TokenStore(path)
    assert store.check(alice) == "alice"
    good = path.read_text()

    path.write_text(good.replace('"version": 1', '"version": 2'))
    assert store.check(alice) is None  # unreadable file: nobody in, not everybody

    path.write_text(good)
    assert store.check(alice) == "alice"

    os.chmod(path, 0o666)  # others could add a token of their own
    with pytest.raises(TokenError, match="writable by group or others"):
        load_tokens(path)
    assert store.check(alice) is None


def test_throttle_forgets_failures_with_time() -> None:
    # One bad request every five minutes, for a day: never a lock-out (the lock is global,
    # so an attacker with no token could otherwise keep every editor out for ever).
    now = [1000.0]
    throttle = AuthThrottle(free_failures=3, base_delay=2, decay_seconds=60, clock=lambda: now[0])
    for _ in range(24 * 12):
        throttle.failure()
        assert throttle.retry_after() == 0
        now[0] += 300
    # A burst is still throttled, and a quiet period after it clears the count.
    for _ in range(4):
        throttle.failure()
    assert throttle.retry_after() > 0
    now[0] += 4 * 60 + 2
    throttle.failure()
    assert throttle.retry_after() == 0


def test_throttle_backs_off_globally() -> None:
    now = [1000.0]
    throttle = AuthThrottle(free_failures=3, base_delay=2, max_delay=10, clock=lambda: now[0])
    for _ in range(2):
        throttle.failure()
        assert throttle.retry_after() == 0
    throttle.failure()  # the 3rd in a row: "after 3 failed attempts" the lock starts
    assert throttle.retry_after() == 2
    now[0] += 2
    assert throttle.retry_after() == 0
    throttle.failure()
    assert throttle.retry_after() == 4  # doubles
    throttle.failure()
    throttle.failure()
    assert throttle.retry_after() == 10  # capped
    now[0] += 10
    throttle.success()
    throttle.failure()
    assert throttle.retry_after() == 0  # a success starts the count again
