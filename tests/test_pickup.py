"""The pickup listener as a real process on loopback: ciphertext only, behind tokens."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.live_server import free_port
from support.pickup import (
    LEAKDROP,
    Pickup,
    add_token,
    make_submission,
    midnight_utc,
    run_leakdrop,
    wait_until,
)

from leakdrop.pickup.app import parse_range

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Setup:
    pickup: Pickup
    token: str
    tokens: Path
    storage: Path
    subs: list[Path]


def _start(tmp_path: Path, editor_identity: Any, *extra: str) -> Iterator[Setup]:
    storage = tmp_path / "storage"
    subs = [
        make_submission(storage, [editor_identity.recipient], days_ago=d, message=f"m{d}")
        for d in (0, 3)
    ]
    tokens = tmp_path / "tokens.json"
    token = add_token(tokens, "alice")
    pickup = Pickup(storage, tokens, tmp_path / "pickup.log", extra=extra).start()
    try:
        yield Setup(pickup, token, tokens, storage, subs)
    finally:
        pickup.stop()


@pytest.fixture
def setup(tmp_path: Path, editor_identity: Any) -> Iterator[Setup]:
    yield from _start(tmp_path, editor_identity)


def test_list_download_confirm(setup: Setup) -> None:
    p, token = setup.pickup, setup.token
    listing = p.get("/submissions", token)
    assert listing.status_code == 200
    assert listing.headers["content-type"] == "application/json"
    by_id = {item["id"]: item for item in listing.json()}
    assert set(by_id) == {s.stem for s in setup.subs}
    for sub in setup.subs:
        data = sub.read_bytes()
        item = by_id[sub.stem]
        assert item == {
            "id": sub.stem,
            "size": len(data),
            "day": item["day"],
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    today, older = setup.subs
    assert by_id[older.stem]["day"] < by_id[today.stem]["day"]

    data = older.read_bytes()
    whole = p.get(f"/submissions/{older.stem}", token)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    part = p.get(f"/submissions/{older.stem}", token, headers={"Range": "bytes=1000-"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    assert part.content == data[1000:]
    middle = p.get(f"/submissions/{older.stem}", token, headers={"Range": "bytes=10-19"})
    assert middle.status_code == 206 and middle.content == data[10:20]
    beyond = p.get(f"/submissions/{older.stem}", token, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"

    # Confirmation names the ciphertext it verified; anything else deletes nothing.
    wrong = p.post(f"/submissions/{older.stem}/confirm", token, json={"sha256": "0" * 64})
    assert wrong.status_code == 409 and older.exists()
    for body in (b"", b"{}", b"[1]", b'{"sha256": 5}', b"x" * 10_000):
        bad = p.post(f"/submissions/{older.stem}/confirm", token, content=body)
        assert bad.status_code == 400 and older.exists()
    sha = hashlib.sha256(data).hexdigest()
    ok = p.post(f"/submissions/{older.stem}/confirm", token, json={"sha256": sha})
    assert ok.status_code == 200 and ok.json() == {"deleted": True}
    assert not older.exists()
    # Nothing remembers it: not listed, not downloadable, not confirmable.
    assert [i["id"] for i in p.get("/submissions", token).json()] == [today.stem]
    assert p.get(f"/submissions/{older.stem}", token).status_code == 404
    again = p.post(f"/submissions/{older.stem}/confirm", token, json={"sha256": sha})
    assert again.status_code == 404
    assert sorted(os.listdir(setup.storage / "submissions")) == [today.name]
    # The folder's time tells the day, not the moment of the deletion.
    assert (setup.storage / "submissions").stat().st_mtime == midnight_utc(0)


def test_headers_and_no_access_log(setup: Setup) -> None:
    p, token = setup.pickup, setup.token
    sub = setup.subs[0]
    responses = [
        p.get("/submissions", token),
        p.get(f"/submissions/{sub.stem}", token),
        p.get("/submissions", None),
        p.get("/nothing", token),
        p.get("/healthz", None),
    ]
    for r in responses:
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in r.headers["content-security-policy"]
        for absent in ("server", "date", "etag", "last-modified", "set-cookie"):
            assert absent not in r.headers
    assert responses[3].status_code == 404
    assert responses[4].text == "ok"
    setup.pickup.stop()
    log = setup.pickup.log.read_text()
    # No access log: no request line, path, id, token or client address.
    for secret in (sub.stem, "GET", "/submissions", setup.token, "127.0.0.1:"):
        if secret == "127.0.0.1:":
            # The start-up banner names the listening address; nothing else may.
            assert log.count(secret) == log.count("listening on http://127.0.0.1:") + log.count(
                "running on http://127.0.0.1:"
            )
        else:
            assert secret not in log


def test_tokens_refused(setup: Setup) -> None:
    p, token = setup.pickup, setup.token
    sub = setup.subs[0]
    for value in (None, "", "Bearer", f"Basic {token}", f"Bearer {token}x", "Bearer " + "A" * 300):
        headers = {} if value is None else {"Authorization": value}
        r = httpx.get(f"{p.url}/submissions", headers=headers, timeout=10)
        assert r.status_code == 401, value
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "id" not in r.text
        # Not even the existence of an id is told without a valid token.
        r = httpx.get(f"{p.url}/submissions/{sub.stem}", headers=headers, timeout=10)
        assert r.status_code == 401
        # A successful request resets the failure count (throttling is tested below).
        assert p.get("/submissions", token).status_code == 200

    bob = add_token(setup.tokens, "bob")
    assert p.get("/submissions", bob).status_code == 200  # picked up without a restart
    revoked = run_leakdrop("token", "revoke", "bob", "--tokens", setup.tokens)
    assert revoked.returncode == 0
    assert p.get("/submissions", bob).status_code == 401
    confirm = p.post(
        f"/submissions/{sub.stem}/confirm",
        bob,
        json={"sha256": hashlib.sha256(sub.read_bytes()).hexdigest()},
    )
    assert confirm.status_code == 401 and sub.exists()
    assert p.get("/submissions", token).status_code == 200


def test_ids_checked_before_the_file_system(setup: Setup, tmp_path: Path) -> None:
    p, token = setup.pickup, setup.token
    secret = tmp_path / "secret.age"
    secret.write_bytes(b"outside")
    folder = setup.storage / "submissions"
    link_id = "cd" * 16
    (folder / f"{link_id}.age").symlink_to(secret)
    (folder / "notes.age").write_bytes(b"not a submission name")
    for bad in (
        "..%2F..%2Fsecret",
        "%2e%2e",
        "ABCDEF" + "0" * 26,
        "0" * 31,
        "0" * 33,
        "0" * 10_000,
        "notes",
        setup.subs[0].stem + ".age",
        link_id,
    ):
        r = p.get(f"/submissions/{bad}", token)
        assert r.status_code in (404, 414), bad
        assert b"outside" not in r.content
        c = p.post(f"/submissions/{bad}/confirm", token, json={"sha256": "0" * 64})
        assert c.status_code in (404, 409, 414), bad
    listed = {i["id"] for i in p.get("/submissions", token).json()}
    assert listed == {s.stem for s in setup.subs}
    assert secret.exists() and (folder / "notes.age").exists()
    assert p.post("/submissions", token).status_code == 405
    assert p.get(f"/submissions/{setup.subs[0].stem}/confirm", token).status_code == 405


@pytest.fixture
def throttled(tmp_path: Path, editor_identity: Any) -> Iterator[Setup]:
    yield from _start(
        tmp_path,
        editor_identity,
        "--auth-free-failures",
        "3",
        "--auth-base-delay",
        "1",
        "--auth-max-delay",
        "2",
    )


def test_throttling_after_repeated_failures(throttled: Setup) -> None:
    p, token = throttled.pickup, throttled.token
    for _ in range(3):  # --auth-free-failures 3: three answered, then the lock
        assert p.get("/submissions", "ldp1_" + "A" * 43).status_code == 401
    # Locked: every request is refused without looking at the token (no oracle).
    locked = p.get("/submissions", token)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 2
    assert p.get("/submissions", "ldp1_" + "B" * 43).status_code == 429
    # The lock ends by itself; the valid token works again.
    wait_until(lambda: p.get("/submissions", token).status_code == 200, 10, "lock end")


def test_lockout_starts_where_the_documentation_says(setup: Setup) -> None:
    # docker/PICKUP.md is what admins and editors read: the code must do what it says.
    doc = (REPO / "docker/PICKUP.md").read_text()
    documented = re.search(r"After (\d+) failed attempts in a row", doc)
    assert documented, "PICKUP.md no longer states the lock-out threshold"
    assert "A lock-out affects every editor" in doc.replace("**", "")
    p, alice = setup.pickup, setup.token
    bob = add_token(setup.tokens, "bob")
    for _ in range(int(documented.group(1))):  # the defaults, as the doc states them
        assert p.get("/submissions", "ldp1_" + "A" * 43).status_code == 401
    # The next request is refused, whoever sends it: every editor is locked out.
    assert p.get("/submissions", alice).status_code == 429
    assert p.get("/submissions", bob).status_code == 429
    wait_until(lambda: p.get("/submissions", bob).status_code == 200, 10, "lock end")


def test_retention_runs_inside_the_listener(tmp_path: Path, editor_identity: Any) -> None:
    storage = tmp_path / "storage"
    old = make_submission(storage, [editor_identity.recipient], days_ago=8)
    young = make_submission(storage, [editor_identity.recipient], days_ago=6)
    tokens = tmp_path / "tokens.json"
    add_token(tokens, "alice")
    pickup = Pickup(
        storage,
        tokens,
        tmp_path / "pickup.log",
        extra=("--retention-days", "7", "--expire-every", "1"),
    ).start()
    try:
        wait_until(lambda: not old.exists(), 15, "expiry")
        assert young.exists()
        late = make_submission(storage, [editor_identity.recipient], days_ago=9)
        wait_until(lambda: not late.exists(), 15, "the next expiry pass")
        assert young.exists()
    finally:
        pickup.stop()
    log = pickup.log.read_text()
    assert "retention: expired 1 submission(s) (after 7 days)" in log
    # Never how many wait: timestamped per pass, that would date each arrival.
    assert "kept" not in log
    assert old.stem not in log and late.stem not in log


def test_configured_from_the_environment(tmp_path: Path, editor_identity: Any) -> None:
    storage = tmp_path / "storage"
    sub = make_submission(storage, [editor_identity.recipient], days_ago=5)
    tokens = tmp_path / "tokens.json"
    token = add_token(tokens, "alice")
    port = free_port()
    env = {
        **os.environ,
        "LEAKDROP_STORAGE": str(storage),
        "LEAKDROP_TOKENS": str(tokens),
        "LEAKDROP_PICKUP_PORT": str(port),
        "LEAKDROP_RETENTION_DAYS": "4",
    }
    log = (tmp_path / "env.log").open("wb")
    proc = subprocess.Popen(
        [*LEAKDROP, "pickup"], env=env, stdout=log, stderr=log, start_new_session=True
    )
    try:
        wait_until(lambda: not sub.exists(), 30, "the retention pass (4 days)")
        url = f"http://127.0.0.1:{port}/submissions"

        def answers() -> bool:
            try:
                return httpx.get(url, headers={"Authorization": f"Bearer {token}"}).is_success
            except httpx.TransportError:
                return False

        wait_until(answers, 30, "the listener on the port from LEAKDROP_PICKUP_PORT")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
    assert "retention 4 days" in (tmp_path / "env.log").read_text()


def test_refuses_to_start_without_config(tmp_path: Path) -> None:
    no_tokens = run_leakdrop("pickup", "--storage", tmp_path)
    assert no_tokens.returncode == 1 and "LEAKDROP_TOKENS" in no_tokens.stderr
    bad = tmp_path / "tokens.json"
    bad.write_text("{}")
    bad.chmod(0o600)
    broken = run_leakdrop("pickup", "--storage", tmp_path, "--tokens", bad)
    assert broken.returncode == 1 and "not a leakdrop token file" in broken.stderr
    days = run_leakdrop("pickup", "--storage", tmp_path, "--tokens", bad, "--retention-days", "0")
    assert days.returncode == 1


def test_parse_range() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-", 100) == (0, 99)
    assert parse_range("bytes=10-20", 100) == (10, 20)
    assert parse_range("bytes=10-2000", 100) == (10, 99)
    assert parse_range("bytes=100-", 100) == "unsatisfiable"
    for ignored in ("bytes=-10", "bytes=1-2,4-5", "items=1-2", "bytes=5-1", "bytes= 1-"):
        assert parse_range(ignored, 100) is None
