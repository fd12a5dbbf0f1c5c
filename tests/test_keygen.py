"""`leakdrop keygen`: identities that age itself opens."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from leakdrop.offline.opener import load_identities
from leakdrop.sealing import HybridIdentity, X25519Identity

REPO = Path(__file__).resolve().parents[1]

LEAKDROP = [sys.executable, "-m", "leakdrop.cli"]
TYPED = b"typed pass, seven rivers 42%"


def _keygen(*args: str | Path, **kw: object) -> subprocess.CompletedProcess[str]:
    result: subprocess.CompletedProcess[str] = subprocess.run(
        [*LEAKDROP, "keygen", *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # no controlling terminal: nothing can be asked
        timeout=120,
        **kw,  # type: ignore[call-overload]
    )
    return result


def _printed(stdout: str) -> tuple[str, str]:
    recipient = re.search(r"^public key: (age1[0-9a-z]{58})$", stdout, re.M)
    fpr = re.search(r"^fingerprint: ([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})$", stdout, re.M)
    assert recipient and fpr, stdout
    return recipient.group(1), fpr.group(1)


def _check_identity_text(text: str, recipient: str) -> None:
    today = datetime.now(UTC).date().isoformat()
    lines = text.splitlines()
    assert lines[0] == f"# created: {today}"  # the day only, no time of day
    assert lines[1] == f"# public key: {recipient}"
    assert re.fullmatch(r"AGE-SECRET-KEY-1[0-9A-Z]{58}", lines[2])
    assert len(lines) == 3 and text.endswith("\n")


def _age_roundtrip(tmp_path: Path, recipient: str, identity_file: Path) -> None:
    sealed = tmp_path / "to-editor.age"
    subprocess.run(
        ["age", "-e", "-r", recipient, "-o", sealed], input=b"for the editor", check=True
    )
    opened = subprocess.run(
        ["age", "-d", "-i", identity_file, sealed], capture_output=True, check=True
    )
    assert opened.stdout == b"for the editor"


def test_encrypted_identity_opens_with_age(tmp_path: Path, run_in_pty: Any) -> None:
    pw = tmp_path / "pw"
    pw.write_text("correct horse battery 7#Kq staple\n")  # the final newline is not part of it
    out = tmp_path / "identity.age"
    result = _keygen("--out", out, "--passphrase-file", pw)
    assert result.returncode == 0, result.stderr
    recipient, fpr = _printed(result.stdout)
    from leakdrop.keys import fingerprint
    from leakdrop.sealing import X25519Recipient

    assert fingerprint(X25519Recipient.parse(recipient)) == fpr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    sealed = out.read_bytes()
    # Exactly what `age -p` writes: binary age, one scrypt stanza.
    assert sealed.startswith(b"age-encryption.org/v1\n-> scrypt ")
    assert sealed.split(b"\n---", 1)[0].count(b"\n-> ") == 1
    assert b"AGE-SECRET-KEY" not in sealed

    decrypted = tmp_path / "identity.txt"
    res = run_in_pty(
        ["age", "-d", "-o", str(decrypted), str(out)],
        [(b"passphrase", b"correct horse battery 7#Kq staple\r")],
    )
    assert res.returncode == 0, res.output
    _check_identity_text(decrypted.read_text(), recipient)
    _age_roundtrip(tmp_path, recipient, decrypted)


def test_prompts_twice_on_the_terminal(tmp_path: Path, run_in_pty: Any) -> None:
    out = tmp_path / "identity.age"
    res = run_in_pty(
        [*LEAKDROP, "keygen", "--out", str(out)],
        [(b"Passphrase to protect", TYPED + b"\r"), (b"Repeat", TYPED + b"\r")],
    )
    assert res.returncode == 0, res.output
    assert TYPED not in res.output  # never echoed
    pw = tmp_path / "pw"
    pw.write_bytes(TYPED)
    identities = load_identities(out, str(pw))
    recipient, _ = _printed(res.output.decode().replace("\r\n", "\n"))
    identity = identities[0]
    assert isinstance(identity, X25519Identity | HybridIdentity)
    assert str(identity.recipient()) == recipient

    mismatch = tmp_path / "other.age"
    res = run_in_pty(
        [*LEAKDROP, "keygen", "--out", str(mismatch)],
        [(b"Passphrase to protect", TYPED + b"\r"), (b"Repeat", TYPED + b"x\r")],
    )
    assert res.returncode == 1 and b"differ" in res.output
    assert not mismatch.exists()


def test_no_passphrase_writes_a_plain_identity(tmp_path: Path) -> None:
    out = tmp_path / "identity.txt"
    result = _keygen("--out", out, "--no-passphrase")
    assert result.returncode == 0, result.stderr
    recipient, _ = _printed(result.stdout)
    assert "NOT passphrase-protected" in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    _check_identity_text(out.read_text(), recipient)
    _age_roundtrip(tmp_path, recipient, out)


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "identity.txt"
    out.write_text("precious old key\n")
    result = _keygen("--out", out, "--no-passphrase")
    assert result.returncode == 1 and "already exists" in result.stderr
    assert out.read_text() == "precious old key\n"
    # A planted (dangling) symlink is not followed either.
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "target.txt")
    result = _keygen("--out", link, "--no-passphrase")
    assert result.returncode == 1
    assert not (tmp_path / "target.txt").exists()


def test_refuses_without_terminal_or_with_empty_passphrase(tmp_path: Path) -> None:
    out = tmp_path / "identity.age"
    result = _keygen("--out", out)
    assert result.returncode == 1 and "--passphrase-file" in result.stderr
    assert not out.exists()
    empty = tmp_path / "empty"
    empty.write_text("\n")
    result = _keygen("--out", out, "--passphrase-file", empty)
    assert result.returncode == 1 and "empty" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_mode_is_0600_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    out = tmp_path / "identity.txt"
    result = _keygen("--out", out, "--no-passphrase", preexec_fn=lambda: os.umask(umask))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_empty_passphrase_generates_a_strong_one_shown_once(
    tmp_path: Path, run_in_pty: Any
) -> None:
    out = tmp_path / "identity.age"
    res = run_in_pty([*LEAKDROP, "keygen", "--out", str(out)], [(b"leave empty", b"\r")])
    assert res.returncode == 0, res.output
    text = res.output.decode().replace("\r\n", "\n")
    assert "Repeat" not in text  # nothing to confirm: it is generated
    found = re.findall(r"^    ([a-z]+(?:-[a-z]+)+)$", text, re.M)
    assert len(found) == 1, text  # printed once
    generated = found[0]
    words = generated.split("-")
    listed = set((REPO / "leakdrop/wordlists/eff_large_wordlist.txt").read_text().split())
    assert len(words) == 8 and set(words) <= listed
    assert "write it down" in text and generated.encode() not in out.read_bytes()
    # It is the identity's passphrase, for `age -d` as for `open`.
    decrypted = tmp_path / "identity.txt"
    res = run_in_pty(
        ["age", "-d", "-o", str(decrypted), str(out)], [(b"passphrase", generated.encode() + b"\r")]
    )
    assert res.returncode == 0, res.output
    recipient, _ = _printed(text)
    _check_identity_text(decrypted.read_text(), recipient)
    # Two runs, two passphrases.
    other = tmp_path / "other.age"
    res = run_in_pty([*LEAKDROP, "keygen", "--out", str(other)], [(b"leave empty", b"\r")])
    assert res.returncode == 0 and generated.encode() not in res.output


@pytest.mark.parametrize(
    ("weak", "reason"),
    [
        (b"a", "too short (1 characters, at least 12)"),
        (b"aaaaaaaaaaaaaaaaaaaa", "too easy to guess"),
        (b"password123456", "too easy to guess"),
        (b"correct horse battery staple", "too easy to guess"),
    ],
)
def test_weak_passphrase_is_refused_with_its_reason(
    tmp_path: Path, run_in_pty: Any, weak: bytes, reason: str
) -> None:
    out = tmp_path / "identity.age"
    res = run_in_pty(
        [*LEAKDROP, "keygen", "--out", str(out)],
        [(b"leave empty", weak + b"\r"), (b"Repeat", weak + b"\r")],
    )
    assert res.returncode == 1, res.output
    assert reason.encode() in res.output and b"no identity written" in res.output
    assert b"leave it empty to get a generated one" in res.output
    assert not out.exists()
    # The same rule for a passphrase file.
    pw = tmp_path / "pw"
    pw.write_bytes(weak + b"\n")
    result = _keygen("--out", out, "--passphrase-file", pw)
    assert result.returncode == 1 and reason in result.stderr
    assert not out.exists()
