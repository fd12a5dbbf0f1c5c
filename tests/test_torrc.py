"""docker/torrc checked by Debian's real tor: the config is valid and publishes a v3 onion.

The torrc is written for the container (/var/lib/tor/...); tor checks those folders on the host,
so the test points DataDirectory and HiddenServiceDir at a scratch folder and changes nothing
else.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TORRC = REPO / "docker" / "torrc"
ONION_STARTUP_TIMEOUT = 60.0


def _tor() -> str:
    tor = shutil.which("tor")
    if tor is None:
        message = "Debian's `tor` is not installed (scripts/dev test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return tor


def _options(text: str) -> list[tuple[str, str]]:
    """(keyword, value) pairs in file order, as tor reads them (comments and blanks skipped)."""
    pairs = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, value = line.partition(" ")
        pairs.append((keyword, value.strip()))
    return pairs


def _for_host(scratch: Path) -> tuple[Path, Path]:
    """Write the shipped torrc with only its two folders moved under `scratch`."""
    data_dir = scratch / "data"
    data_dir.mkdir(mode=0o700)
    hs_dir = data_dir / "leakdrop"
    lines = []
    replaced = {"DataDirectory": 0, "HiddenServiceDir": 0}
    for raw in TORRC.read_text().splitlines():
        keyword = raw.strip().partition(" ")[0]
        if keyword == "DataDirectory":
            raw = f"DataDirectory {data_dir}"
        elif keyword == "HiddenServiceDir":
            raw = f"HiddenServiceDir {hs_dir}"
        if keyword in replaced:
            replaced[keyword] += 1
        lines.append(raw)
    # Exactly one of each, or this rewrite would test something other than the shipped file.
    assert replaced == {"DataDirectory": 1, "HiddenServiceDir": 1}, replaced
    torrc = scratch / "torrc"
    torrc.write_text("\n".join(lines) + "\n")
    return torrc, hs_dir


def _verify(tor: str, torrc: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tor, "--verify-config", "-f", str(torrc)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def v3_onion_public_key(hostname: str) -> bytes:
    """The ed25519 key of a v3 onion address; AssertionError unless the address is valid.

    rend-spec-v3: base32(PUBKEY | CHECKSUM | VERSION) + ".onion", VERSION = 3,
    CHECKSUM = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2].
    """
    assert hostname.endswith(".onion"), hostname
    label = hostname.removesuffix(".onion")
    assert len(label) == 56 and label == label.lower(), hostname
    raw = base64.b32decode(label.upper())
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34:]
    assert version == b"\x03", hostname
    expected = hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2]
    assert checksum == expected, f"bad checksum in {hostname}"
    return pubkey


def test_torrc_has_the_required_hardening() -> None:
    options = _options(TORRC.read_text())
    values = {keyword: value for keyword, value in options}
    # No SOCKS port: this tor must not be usable as a proxy by anything in the stack.
    assert values.get("SocksPort") == "0"
    # Addresses scrubbed from tor's own log lines.
    assert values.get("SafeLogging") == "1"
    # Proof-of-work puzzles under load: the cheapest defence against a flooding adversary.
    assert values.get("HiddenServicePoWDefensesEnabled") == "1"
    assert values.get("HiddenServiceVersion", "3") == "3"
    # The onion keys live under the DataDirectory, i.e. on the persistent `tor-data` volume.
    assert values["HiddenServiceDir"].startswith(values["DataDirectory"] + "/")
    # One onion service, port 80 only (Tor Browser's default for http://x.onion/).
    ports = [value for keyword, value in options if keyword == "HiddenServicePort"]
    assert len(ports) == 1 and ports[0].split()[0] == "80", ports
    # Nothing else listens: no relay, no control port.
    assert values.get("ORPort", "0") == "0"
    assert values.get("ControlPort", "0") == "0"


def test_tor_verifies_the_shipped_config(tmp_path: Path) -> None:
    tor = _tor()
    torrc, _ = _for_host(tmp_path)
    result = _verify(tor, torrc)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration was valid" in result.stdout


def test_tor_rejects_a_broken_variant(tmp_path: Path) -> None:
    """--verify-config really reads the options this file relies on (not a rubber stamp)."""
    tor = _tor()
    torrc, _ = _for_host(tmp_path)
    text = torrc.read_text()
    assert "HiddenServicePoWDefensesEnabled 1" in text
    torrc.write_text(
        text.replace("HiddenServicePoWDefensesEnabled 1", "HiddenServicePoWDefensesEnabled 7")
    )
    result = _verify(tor, torrc)
    assert result.returncode != 0, result.stdout


def test_tor_publishes_a_v3_onion_with_network_disabled(tmp_path: Path) -> None:
    tor = _tor()
    torrc, hs_dir = _for_host(tmp_path)
    hostname_file = hs_dir / "hostname"
    # DisableNetwork: tor creates the service keys and hostname without contacting anyone.
    log = tmp_path / "tor.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [tor, "-f", str(torrc), "DisableNetwork", "1"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + ONION_STARTUP_TIMEOUT
        while not (hostname_file.exists() and hostname_file.read_text().strip()):
            if process.poll() is not None:
                pytest.fail(
                    f"tor exited ({process.returncode}) before the hostname:\n{log.read_text()}"
                )
            assert time.monotonic() < deadline, "tor wrote no onion hostname in time"
            time.sleep(0.05)  # polling interval, not a synchronisation
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    hostname = hostname_file.read_text().strip()
    pubkey = v3_onion_public_key(hostname)
    # The address is the service's real key, not just a well-formed string.
    key_file = (hs_dir / "hs_ed25519_public_key").read_bytes()
    assert key_file.startswith(b"== ed25519v1-public: type0 ==")
    assert key_file[32:] == pubkey
    # tor keeps the onion keys private to itself.
    assert (hs_dir.stat().st_mode & 0o077) == 0
