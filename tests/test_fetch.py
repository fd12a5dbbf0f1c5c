"""`leakdrop fetch` against a real pickup listener, through a real SOCKS5 relay on loopback:
resumes after broken connections, never confirms what it could not verify."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.pickup import (
    LEAKDROP,
    Pickup,
    SocksRelay,
    add_token,
    entry,
    make_submission,
    run_leakdrop,
    wait_until,
    write_token_file,
)

from leakdrop.online.fetch import FetchError, VerifyError, check_age_layout, parse_listing
from leakdrop.sealing import encrypt

ONION = "pickupexampleexampleexampleexampleexampleexamplexyzab.onion"
BIG = os.urandom(700_000)  # several STREAM chunks: a cut lands mid-file


@dataclass
class Env:
    pickup: Pickup
    storage: Path
    token_file: Path
    tokens: Path
    subs: list[Path]
    out: Path
    tmp: Path
    #: Each submission's bytes, kept before the server deletes them.
    originals: dict[str, bytes]

    def relay(self, **kw: Any) -> SocksRelay:
        return SocksRelay(("127.0.0.1", self.pickup.port), **kw).start()

    def argv(self, relay: SocksRelay, *extra: str) -> list[str]:
        return [
            "fetch",
            "--server",
            f"http://{ONION}/",
            "--socks",
            relay.address,
            "--token-file",
            str(self.token_file),
            "--out",
            str(self.out),
            "--retries",
            "3",
            *extra,
        ]

    def on_server(self) -> set[str]:
        return {p.name for p in (self.storage / "submissions").iterdir()}


@pytest.fixture
def env(tmp_path: Path, editor_identity: Any) -> Iterator[Env]:
    storage = tmp_path / "storage"
    recipients = [editor_identity.recipient]
    subs = [
        make_submission(storage, recipients, files=[entry("big.bin", BIG)]),
        make_submission(storage, recipients, message="short", days_ago=2),
    ]
    tokens = tmp_path / "tokens.json"
    token_file = write_token_file(tmp_path / "token.txt", add_token(tokens, "alice"))
    pickup = Pickup(storage, tokens, tmp_path / "pickup.log").start()
    try:
        originals = {p.name: p.read_bytes() for p in subs}
        yield Env(pickup, storage, token_file, tokens, subs, tmp_path / "usb", tmp_path, originals)
    finally:
        pickup.stop()


def _fetched(env: Env) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in env.out.iterdir() if p.is_file()}


def test_fetch_through_socks(env: Env) -> None:
    # Left by an earlier run: a partial download of a submission that is gone since.
    partial = env.out / ".partial"
    partial.mkdir(parents=True)
    stale = partial / ("ef" * 16 + ".age.part")
    stale.write_bytes(b"x" * 100)
    other = partial / "notes.txt"
    other.write_text("not ours")
    relay = env.relay()
    result = run_leakdrop(*env.argv(relay))
    assert result.returncode == 0, result.stderr
    assert _fetched(env) == env.originals
    assert env.on_server() == set()  # confirmed, deleted
    # The run's lock stays (empty, 0600); nothing else of the run is left.
    assert sorted(p.name for p in partial.iterdir()) == ["fetch.lock", other.name]
    assert "removed 1 partial download(s)" in result.stderr
    # Tor got the onion *name* (never resolved here) and credentials isolating this run.
    assert {r for r in relay.requested} == {(ONION, 80)}
    assert relay.auth and all(u.startswith(b"leakdrop-") for u in relay.auth)
    assert len(set(relay.auth)) == 1
    assert "2 of 2 fetched" in result.stderr
    assert "confirmed, deleted on the server" in result.stderr
    for sub in env.subs:
        assert (env.out / sub.name).stat().st_mode & 0o777 == 0o600

    again = run_leakdrop(*env.argv(relay))
    assert again.returncode == 0
    assert "0 submission(s) on the server" in again.stderr
    relay.stop()


def test_refusals(env: Env) -> None:
    before = env.on_server()
    no_tor = run_leakdrop(
        "fetch", "--server", f"http://{ONION}/", "--token-file", env.token_file, "--out", env.out
    )
    assert no_tor.returncode == 2 and "needs Tor" in no_tor.stderr
    assert not env.out.exists()

    for clear in ("http://pickup.example.org/", "http://192.0.2.7:8081/"):
        in_clear = run_leakdrop(
            "fetch", "--server", clear, "--token-file", env.token_file, "--out", env.out
        )
        assert in_clear.returncode == 2 and "plain http://" in in_clear.stderr
    assert not env.out.exists()

    relay = env.relay()
    wrong = write_token_file(env.tmp / "wrong.txt", "ldp1_" + "A" * 43)
    refused = run_leakdrop(*env.argv(relay), "--token-file", str(wrong))
    assert refused.returncode == 2 and "refused the token" in refused.stderr

    bob = write_token_file(env.tmp / "bob.txt", add_token(env.tokens, "bob"))
    assert run_leakdrop("token", "revoke", "bob", "--tokens", env.tokens).returncode == 0
    revoked = run_leakdrop(*env.argv(relay), "--token-file", str(bob))
    assert revoked.returncode == 2 and "refused the token" in revoked.stderr

    garbage = write_token_file(env.tmp / "garbage.txt", "hunter2")
    bad = run_leakdrop(*env.argv(relay), "--token-file", str(garbage))
    assert bad.returncode == 2 and "does not hold a leakdrop token" in bad.stderr
    assert env.on_server() == before
    assert not [p for p in env.out.iterdir() if p.is_file()]
    relay.stop()


def test_token_file_readable_by_others_is_refused(env: Env) -> None:
    # docker/PICKUP.md: "`fetch` refuses a token file others can read" (it used to warn).
    before = env.on_server()
    relay = env.relay()
    try:
        for mode in (0o644, 0o640, 0o604):
            env.token_file.chmod(mode)
            result = run_leakdrop(*env.argv(relay))
            assert result.returncode == 2, result.stderr
            assert f"refusing the token file {env.token_file}" in result.stderr
            assert f"(mode {mode:04o}); fix: chmod 600 {env.token_file}" in result.stderr
            assert relay.requested == []  # refused before anything is sent
            assert not env.out.exists()
        env.token_file.chmod(0o600)  # the fix, as printed
        fixed = run_leakdrop(*env.argv(relay))
        assert fixed.returncode == 0, fixed.stderr
        assert before and env.on_server() == set()
    finally:
        relay.stop()


def test_broken_connection_resumes_with_range(env: Env) -> None:
    relay = env.relay(cut_after=200_000)
    result = run_leakdrop(*env.argv(relay))
    assert result.returncode == 0, result.stderr
    assert relay.broke.is_set()
    assert "retrying" in result.stderr and "resuming at" in result.stderr
    assert "Range: bytes=" in relay.sent_text()
    assert _fetched(env) == env.originals
    assert env.on_server() == set()
    relay.stop()


def test_killed_fetch_resumes_next_run(env: Env) -> None:
    big = env.subs[0]
    part = env.out / ".partial" / f"{big.stem}.age.part"
    relay = env.relay(stall_after=250_000)
    proc = subprocess.Popen(
        [*LEAKDROP, *env.argv(relay)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(relay.broke.is_set, 30, "the relay to stall")
        wait_until(lambda: part.exists() and part.stat().st_size > 100_000, 30, "bytes on disk")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    relay.stop()
    have = part.stat().st_size
    assert have < big.stat().st_size
    assert not (env.out / big.name).exists()
    assert big.exists()  # nothing confirmed

    relay2 = env.relay()
    result = run_leakdrop(*env.argv(relay2))
    assert result.returncode == 0, result.stderr
    assert f"Range: bytes={have}-" in relay2.sent_text()
    assert "resuming at" in result.stderr
    assert _fetched(env) == env.originals
    assert env.on_server() == set()
    relay2.stop()


def test_corruption_is_never_confirmed(env: Env) -> None:
    big, small = env.subs
    relay = env.relay(flip_at=150_000)
    result = run_leakdrop(*env.argv(relay))
    assert result.returncode == 1
    assert "NOT VERIFIED, not confirmed" in result.stderr
    assert "SHA-256 differs" in result.stderr
    assert not (env.out / big.name).exists()
    # No garbage to resume from (the lock file is the run's own, empty).
    assert [p.name for p in (env.out / ".partial").iterdir()] == ["fetch.lock"]
    assert env.on_server() == {big.name}  # the other one went through
    assert (env.out / small.name).exists()
    relay.stop()

    clean = env.relay()
    retry = run_leakdrop(*env.argv(clean))
    assert retry.returncode == 0, retry.stderr
    assert _fetched(env) == env.originals
    assert env.on_server() == set()
    clean.stop()


def test_saved_but_unconfirmed_is_confirmed_without_download(env: Env) -> None:
    env.out.mkdir()
    for sub in env.subs:  # as if a run stopped between the rename and the confirmation
        (env.out / sub.name).write_bytes(sub.read_bytes())
    relay = env.relay()
    result = run_leakdrop(*env.argv(relay))
    assert result.returncode == 0, result.stderr
    assert env.on_server() == set()
    assert "GET /submissions/" not in relay.sent_text()
    relay.stop()


def test_different_local_file_is_kept_and_not_confirmed(env: Env) -> None:
    env.out.mkdir()
    big = env.subs[0]
    (env.out / big.name).write_bytes(b"something else")
    relay = env.relay()
    result = run_leakdrop(*env.argv(relay))
    assert result.returncode == 1
    assert (env.out / big.name).read_bytes() == b"something else"
    assert big.name in env.on_server()
    relay.stop()


# --------------------------------------------------------------------------- units


def _age_file(tmp_path: Path, editor_identity: Any, n: int) -> bytes:
    path = tmp_path / f"f{n}.age"
    with path.open("wb") as fh, encrypt(fh, [editor_identity.recipient]) as w:
        w.write(os.urandom(n))
    return path.read_bytes()


@pytest.mark.parametrize("n", [0, 1, 65536, 65537, 200_000])
def test_layout_accepts_complete_files(tmp_path: Path, editor_identity: Any, n: int) -> None:
    data = _age_file(tmp_path, editor_identity, n)
    path = tmp_path / "x.age"
    path.write_bytes(data)
    check_age_layout(path, len(data))


def test_layout_refuses_truncated_or_padded(tmp_path: Path, editor_identity: Any) -> None:
    data = _age_file(tmp_path, editor_identity, 200_000)
    header_len = data.index(b"\n---") + 1 + 48
    chunk = 65536 + 16
    path = tmp_path / "x.age"
    # Cut in the header, before the first tag, mid-tag after a full chunk, and right after
    # one (an empty final chunk after others is what a cut at a chunk boundary leaves).
    cuts = [10, header_len - 5, header_len + 8, header_len + 16 + chunk + 5]
    cuts.append(header_len + 16 + chunk + 16)
    variants = [data[:c] for c in cuts] + [data.replace(b"age-enc", b"agE-enc")]
    # The header line syntax is checked by the real parser.
    variants.append(data.replace(b"-> X25519 ", b"-> X25519  ", 1))
    for variant in variants:
        path.write_bytes(variant)
        with pytest.raises(VerifyError):
            check_age_layout(path, len(variant))
    # A cut inside the last chunk fits the layout: the announced size catches it (and
    # the announced SHA-256 catches anything the same size).
    path.write_bytes(data[:-1])
    with pytest.raises(VerifyError, match="size"):
        check_age_layout(path, len(data))
    path.write_bytes(data + b"\x00")
    with pytest.raises(VerifyError, match="size"):
        check_age_layout(path, len(data))


def test_listing_validation() -> None:
    good = {"id": "a" * 32, "size": 10, "day": "2024-05-01", "sha256": "b" * 64}
    assert parse_listing(json.dumps([good]).encode())[0].id == "a" * 32
    for bad in (
        {**good, "id": "../../etc/passwd"},
        {**good, "id": "A" * 32},
        {**good, "size": -1},
        {**good, "size": True},
        {**good, "day": "yesterday"},
        {**good, "sha256": "z" * 64},
        {**good, "extra": 1},
    ):
        with pytest.raises(FetchError):
            parse_listing(json.dumps([bad]).encode())
    for doc in (b"{}", b"nope", json.dumps([good, good]).encode()):
        with pytest.raises(FetchError):
            parse_listing(doc)
