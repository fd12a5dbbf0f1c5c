"""Adding an editor's onion key cannot silently turn the pickup's client authorization off.

`leakdrop onion-auth-add` checks the line `onion-auth-keygen` printed (a doubled prefix, the
README's old trap, is refused with the reason); the tor container's entry point
(`docker/tor-start`, run here with Debian's tor) refuses to start tor with a malformed or
misnamed `.auth` file, and says how many editor keys are in force.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.pickup import run_leakdrop

from leakdrop.online.onion_auth import OnionAuthError, authorized_client_line, generate_client_auth

REPO = Path(__file__).resolve().parents[1]
TOR_START = REPO / "docker" / "tor-start"
ONION = "pickupexampleexampleexampleexampleexampleexamplexyzab.onion"


def public_line() -> str:
    # A real v3 address is needed by keygen: derive one from a fresh ed25519 key.
    import base64
    import hashlib

    import nacl.signing

    key = bytes(nacl.signing.SigningKey.generate().verify_key)
    checksum = hashlib.sha3_256(b".onion checksum" + key + b"\x03").digest()[:2]
    address = base64.b32encode(key + checksum + b"\x03").decode().lower() + ".onion"
    return generate_client_auth(address).public_line


def test_the_printed_line_and_the_bare_key_are_accepted() -> None:
    line = public_line()
    assert authorized_client_line(line) == line
    assert authorized_client_line("  " + line.removeprefix("descriptor:x25519:") + "\n") == line


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda line: "descriptor:x25519:" + line, "twice"),
        (lambda line: line[:-1], "52 characters"),
        (lambda line: line.lower(), "52 characters"),
        (lambda line: ONION.removesuffix(".onion") + ":" + line, "private key"),
        (lambda line: line[:-1] + "1", "52 characters"),
        (lambda line: "", "52 characters"),
    ],
)
def test_wrong_lines_are_refused_with_the_reason(mangle: object, why: str) -> None:
    with pytest.raises(OnionAuthError, match=why):
        authorized_client_line(mangle(public_line()))  # type: ignore[operator]


def test_the_command_writes_the_file_or_refuses(tmp_path: Path) -> None:
    line = public_line()
    folder = tmp_path / "authorized_clients"
    folder.mkdir()
    doubled = run_leakdrop("onion-auth-add", "alice", "descriptor:x25519:" + line, "--dir", folder)
    assert doubled.returncode == 1 and "twice" in doubled.stderr
    assert list(folder.iterdir()) == []
    added = run_leakdrop("onion-auth-add", "alice", line, "--dir", folder)
    assert added.returncode == 0, added.stderr
    written = folder / "alice.auth"
    assert written.read_text() == line + "\n"
    assert written.stat().st_mode & 0o777 == 0o600
    again = run_leakdrop("onion-auth-add", "alice", line, "--dir", folder)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad_name = run_leakdrop("onion-auth-add", "../bob", line, "--dir", folder)
    assert bad_name.returncode == 1 and "name" in bad_name.stderr
    printed = run_leakdrop("onion-auth-add", "bob", line)  # for a pipe into the container
    assert printed.returncode == 0 and printed.stdout == line + "\n"


def tor_start(tmp_path: Path, auth_files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    tor = shutil.which("tor")
    assert tor is not None, "tor is a test dependency (scripts/dev)"
    data, service = tmp_path / "data", tmp_path / "pickup"
    clients = service / "authorized_clients"
    clients.mkdir(parents=True)
    data.mkdir()
    for folder in (data, service, clients):
        folder.chmod(0o700)
    for name, content in auth_files.items():
        (clients / name).write_text(content)
    torrc = tmp_path / "torrc"
    torrc.write_text(
        f"DataDirectory {data}\nSocksPort 0\nHiddenServiceDir {service}\n"
        "HiddenServicePort 80 127.0.0.1:8081\n"
    )
    return subprocess.run(
        ["sh", str(TOR_START), "--verify-config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": os.environ["PATH"],
            "LEAKDROP_TOR_AUTH_DIR": str(clients),
            "LEAKDROP_TORRC": str(torrc),
        },
    )


def test_tor_starts_with_good_keys_and_says_how_many(tmp_path: Path) -> None:
    result = tor_start(tmp_path, {"alice.auth": public_line() + "\n", "bob.auth": public_line()})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "client authorization on, 2 editor key(s)" in result.stderr
    assert "Configuration was valid" in result.stdout


def test_tor_without_keys_starts_with_a_warning(tmp_path: Path) -> None:
    result = tor_start(tmp_path, {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING: no client-authorization key" in result.stderr


@pytest.mark.parametrize(
    "files",
    [
        {"alice.auth": "descriptor:x25519:descriptor:x25519:" + "A" * 52 + "\n"},
        {"alice.auth": ""},
        {"alice.txt": "LINE"},
        {"alice.auth": "LINE\nLINE\n"},
    ],
    ids=["doubled-prefix", "empty", "wrong-name", "two-lines"],
)
def test_tor_refuses_to_start_with_a_bad_file(tmp_path: Path, files: dict[str, str]) -> None:
    line = public_line()
    result = tor_start(tmp_path, {k: v.replace("LINE", line) for k, v in files.items()})
    assert result.returncode == 78, result.stdout + result.stderr
    (name,) = files
    assert name in result.stderr
    assert "Configuration was valid" not in result.stdout  # tor itself never ran
