"""docker/torrc checked by Debian's real tor: the config is valid and publishes two v3 onions
(the drop, and the editors' pickup with client authorization); `leakdrop onion-auth-keygen`
writes keys that tor loads on both sides.

The torrc is written for the container (/var/lib/tor/...); tor checks those folders on the host,
so the test points DataDirectory and the HiddenServiceDirs at a scratch folder and changes
nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from leakdrop.cli import main as leakdrop_main
from leakdrop.online.onion_auth import (
    OnionAuthError,
    generate_client_auth,
    onion_label,
    write_private_file,
)

REPO = Path(__file__).resolve().parents[1]
TORRC = REPO / "docker" / "torrc"
CONTAINER_DATA_DIR = "/var/lib/tor"
SERVICES = ("leakdrop", "pickup")
ONION_STARTUP_TIMEOUT = 60.0
# Any valid v3 address (the Tor Project's own): for checks that need one before tor made ours.
SAMPLE_ONION = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"


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


def _services(options: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Onion service blocks: folder name -> the HiddenService* options that follow its
    HiddenServiceDir (tor applies each of them to the last HiddenServiceDir above it)."""
    blocks: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, value in options:
        if keyword == "HiddenServiceDir":
            current = blocks.setdefault(Path(value).name, [])
            assert not current, f"two HiddenServiceDir lines for {value}"
        elif keyword.startswith("HiddenService"):
            assert current is not None, f"{keyword} before any HiddenServiceDir"
            current.append((keyword, value))
    return blocks


def _scratch_torrc(scratch: Path) -> tuple[Path, dict[str, Path]]:
    """The shipped torrc with only its folders moved under `scratch`: (torrc, {service: dir})."""
    data_dir = scratch / "data"
    data_dir.mkdir(mode=0o700)
    lines = []
    moved: dict[str, Path] = {}
    data_dirs = 0
    for raw in TORRC.read_text().splitlines():
        keyword, _, value = raw.strip().partition(" ")
        if keyword == "DataDirectory":
            assert value.strip() == CONTAINER_DATA_DIR
            raw = f"DataDirectory {data_dir}"
            data_dirs += 1
        elif keyword == "HiddenServiceDir":
            name = Path(value.strip()).name
            # The onion keys live under the DataDirectory, i.e. on the `tor-data` volume.
            assert value.strip() == f"{CONTAINER_DATA_DIR}/{name}", value
            moved[name] = data_dir / name
            raw = f"HiddenServiceDir {moved[name]}"
        lines.append(raw)
    # Exactly these, or this rewrite would test something other than the shipped file.
    assert data_dirs == 1 and tuple(moved) == SERVICES, (data_dirs, moved)
    torrc = scratch / "torrc"
    torrc.write_text("\n".join(lines) + "\n")
    return torrc, moved


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


def _authorize(hs_dir: Path, name: str, public_line: str) -> Path:
    """What the admin does: one `<editor>.auth` file in the service's authorized_clients/."""
    clients = hs_dir / "authorized_clients"
    clients.mkdir(mode=0o700, parents=True, exist_ok=True)
    hs_dir.chmod(0o700)
    auth = clients / f"{name}.auth"
    auth.write_text(public_line + "\n")
    return auth


@contextmanager
def _tor_running(tor: str, torrc: Path, log: Path, *options: str) -> Iterator[None]:
    """tor with network disabled (it makes its keys and hostnames without contacting anyone),
    logging at info level to `log` (where it says which client keys it loaded)."""
    with (log.parent / f"{log.name}.out").open("wb") as out:
        process = subprocess.Popen(
            [tor, "-f", str(torrc), "DisableNetwork", "1", "+Log", f"info file {log}", *options],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until(condition: Callable[[], bool], log: Path, what: str) -> None:
    deadline = time.monotonic() + ONION_STARTUP_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            text = log.read_text(errors="replace") if log.exists() else "(no log)"
            pytest.fail(f"tor: {what} not seen in time:\n{text[-4000:]}")
        time.sleep(0.05)  # polling interval, not a synchronisation


def _log_text(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


# --- the shipped file -----------------------------------------------------------------------------


def test_torrc_has_the_required_hardening() -> None:
    options = _options(TORRC.read_text())
    values = {keyword: value for keyword, value in options}
    # No SOCKS port: this tor must not be usable as a proxy by anything in the stack.
    assert values.get("SocksPort") == "0"
    # Addresses scrubbed from tor's own log lines.
    assert values.get("SafeLogging") == "1"
    # Nothing else listens: no relay, no control port.
    assert values.get("ORPort", "0") == "0"
    assert values.get("ControlPort", "0") == "0"
    assert values["DataDirectory"] == CONTAINER_DATA_DIR
    services = _services(options)
    # Two onion services with their own keys (own addresses): the drop and the pickup.
    assert tuple(services) == SERVICES
    for name, block in services.items():
        settings = dict(block)
        # Port 80 only (Tor Browser's default for http://x.onion/), one target each.
        ports = [value for keyword, value in block if keyword == "HiddenServicePort"]
        assert len(ports) == 1 and ports[0].split()[0] == "80", (name, ports)
        assert settings.get("HiddenServiceVersion", "3") == "3", name
        # Proof-of-work puzzles under load and rate-limited introductions: the cheapest
        # defences against a flooding adversary, on both services.
        assert settings.get("HiddenServicePoWDefensesEnabled") == "1", name
        assert settings.get("HiddenServiceEnableIntroDoSDefense") == "1", name
        # One circuit cannot open an unbounded number of streams.
        assert 0 < int(settings["HiddenServiceMaxStreams"]) <= 64, name
        assert settings.get("HiddenServiceMaxStreamsCloseCircuit") == "1", name
    # The two services forward to different places (the drop's and the pickup's networks).
    targets = {dict(block)["HiddenServicePort"].split()[1] for block in services.values()}
    assert len(targets) == 2, targets


def test_tor_verifies_the_shipped_config(tmp_path: Path) -> None:
    tor = _tor()
    torrc, hs_dirs = _scratch_torrc(tmp_path)
    # As deployed: the pickup with an editor's client-authorization key in place.
    _authorize(hs_dirs["pickup"], "alice", generate_client_auth(SAMPLE_ONION).public_line)
    result = _verify(tor, torrc)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration was valid" in result.stdout


def test_tor_rejects_a_broken_variant(tmp_path: Path) -> None:
    """--verify-config really reads the options this file relies on (not a rubber stamp)."""
    tor = _tor()
    torrc, _ = _scratch_torrc(tmp_path)
    text = torrc.read_text()
    # Only the pickup's block (the last service in the file) is broken.
    head, marker, tail = text.rpartition("HiddenServicePoWDefensesEnabled 1")
    assert marker and head.rpartition("HiddenServiceDir ")[2].split()[0].endswith("/pickup")
    torrc.write_text(head + "HiddenServicePoWDefensesEnabled 7" + tail)
    result = _verify(tor, torrc)
    assert result.returncode != 0, result.stdout


def test_tor_publishes_both_onions_and_loads_the_editors_key(tmp_path: Path) -> None:
    tor = _tor()
    torrc, hs_dirs = _scratch_torrc(tmp_path)
    alice = generate_client_auth(SAMPLE_ONION)
    _authorize(hs_dirs["pickup"], "alice", alice.public_line)
    log = tmp_path / "tor.log"
    hostnames = {name: hs_dir / "hostname" for name, hs_dir in hs_dirs.items()}

    def ready() -> bool:
        return all(p.exists() and p.read_text().strip() for p in hostnames.values()) and (
            "Loaded a client authorization key file alice.auth" in _log_text(log)
        )

    with _tor_running(tor, torrc, log):
        _wait_until(ready, log, "both hostnames and alice.auth")
    text = _log_text(log)

    # tor took the key the admin installed (a malformed one is only a warning: checked here).
    assert "Client authorization" not in "\n".join(
        line for line in text.splitlines() if "[warn]" in line
    ), text
    addresses = {}
    for name, hs_dir in hs_dirs.items():
        hostname = hostnames[name].read_text().strip()
        pubkey = v3_onion_public_key(hostname)
        # The address is the service's real key, not just a well-formed string.
        key_file = (hs_dir / "hs_ed25519_public_key").read_bytes()
        assert key_file.startswith(b"== ed25519v1-public: type0 ==")
        assert key_file[32:] == pubkey
        # tor keeps the onion keys private to itself.
        assert (hs_dir.stat().st_mode & 0o077) == 0
        addresses[name] = hostname
    # Two services, two unrelated addresses: the drop's says nothing about the pickup's.
    assert addresses["leakdrop"] != addresses["pickup"]


# --- leakdrop onion-auth-keygen -------------------------------------------------------------------


def test_onion_auth_keygen_writes_what_tor_expects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private = tmp_path / "pickup.auth_private"
    assert leakdrop_main(["onion-auth-keygen", "--onion", SAMPLE_ONION, "--out", str(private)]) == 0
    public_line = capsys.readouterr().out.strip()
    private_line = private.read_text()
    # The private key is for the editor's tor alone.
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private_line.endswith("\n") and private_line.count("\n") == 1
    label, kind, algorithm, untrusted_priv = private_line.strip().split(":")
    assert label == SAMPLE_ONION.removesuffix(".onion")
    assert (kind, algorithm) == ("descriptor", "x25519")
    kind, algorithm, untrusted_pub = public_line.split(":")
    assert (kind, algorithm) == ("descriptor", "x25519")
    # Tor's base32: RFC 4648, no padding, 52 characters for 32 bytes.
    for encoded in (untrusted_priv, untrusted_pub):
        assert len(encoded) == 52 and "=" not in encoded
    priv = base64.b32decode(untrusted_priv + "====")
    pub = base64.b32decode(untrusted_pub + "====")
    assert len(priv) == len(pub) == 32 and priv != pub
    # The public key is the private key's, as another X25519 implementation computes it.
    openssl = shutil.which("openssl")
    assert openssl, "openssl is part of Debian's base system"
    pkcs8 = bytes.fromhex("302e020100300506032b656e04220420") + priv
    der = subprocess.run(
        [openssl, "pkey", "-inform", "DER", "-pubout", "-outform", "DER"],
        input=pkcs8,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    assert der[-32:] == pub


def test_onion_auth_keygen_refuses_what_tor_would_ignore(tmp_path: Path) -> None:
    keys = generate_client_auth(SAMPLE_ONION)
    # Another suffix: tor would silently skip the file.
    with pytest.raises(OnionAuthError, match="auth_private"):
        write_private_file(tmp_path / "pickup.auth", keys)
    existing = tmp_path / "old.auth_private"
    existing.write_text("in use\n")
    with pytest.raises(OnionAuthError, match="already exists"):
        write_private_file(existing, keys)
    assert existing.read_text() == "in use\n"
    # A typo in the address (checksum) or an old v2 address: refused, nothing written.
    label = SAMPLE_ONION.removesuffix(".onion")
    typo = ("a" if label[0] != "a" else "b") + label[1:]
    for bad in (typo, "expyuzz4wqqyqhjn.onion", label.upper()[:-1]):
        with pytest.raises(OnionAuthError):
            onion_label(bad)
    assert onion_label(f"http://{SAMPLE_ONION.upper()}/") == label
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.auth_private"]


def test_the_editors_tor_loads_the_private_key(tmp_path: Path) -> None:
    """The editor's side: a client tor with ClientOnionAuthDir takes the file as written."""
    tor = _tor()
    auth_dir = tmp_path / "onion_auth"
    auth_dir.mkdir(mode=0o700)
    data_dir = tmp_path / "client-data"
    data_dir.mkdir(mode=0o700)
    assert (
        leakdrop_main(
            [
                "onion-auth-keygen",
                "--onion",
                SAMPLE_ONION,
                "--out",
                str(auth_dir / "pickup.auth_private"),
            ]
        )
        == 0
    )
    # A control: a damaged key file next to it, which tor must complain about.
    (auth_dir / "damaged.auth_private").write_text(
        f"{SAMPLE_ONION.removesuffix('.onion')}:descriptor:x25519:AAAA\n"
    )
    (auth_dir / "damaged.auth_private").chmod(0o600)
    torrc = tmp_path / "client-torrc"
    torrc.write_text(
        f"SocksPort 0\nDataDirectory {data_dir}\nClientOnionAuthDir {auth_dir}\nLog notice stdout\n"
    )
    log = tmp_path / "client.log"

    def ready() -> bool:
        return "Loaded a client authorization key file pickup.auth_private" in _log_text(log)

    with _tor_running(tor, torrc, log):
        _wait_until(ready, log, "pickup.auth_private loaded")
    text = _log_text(log)
    warnings = [line for line in text.splitlines() if "[warn]" in line]
    assert any("private key length is invalid" in line for line in warnings), text
    assert not any("pickup.auth_private" in line for line in warnings), text
