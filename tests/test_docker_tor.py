"""The tor image and the compose file's networks, for real.

- tor publishes both onion services, keeps their addresses across containers, and loads an
  editor's client-authorization key made by the image's `leakdrop onion-auth-keygen`.
- The three services on copies of the compose file's two internal networks: tor reaches the
  drop and the pickup at the addresses its torrc forwards to and does not route between the
  networks; the drop has no route to the pickup (nor the pickup to the drop), and neither
  has a route out.

Built and run by the harness in `support.podman` (see there for what it needs:
root, podman, runc, debootstrap, age, network access to the mirrors); missing tools
skip the module, except under CI=true where they fail it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.podman import (
    CACHE,
    ONION_SERVICES,
    REPO,
    TOR_UID,
    Images,
    _compose_config,
    _compose_service,
    _container,
    _editor_keys,
    _hardening_flags,
    _internal_networks,
    _tor_running,
    _volume,
    _wait_for_log,
    _wait_healthy,
    images,
)

__all__ = ["images"]  # the fixture

pytestmark = pytest.mark.slow


# --- tor -----------------------------------------------------------------------------------------


def _v3_onion(hostname: str) -> bool:
    """Same rule as tests/test_torrc.py: base32(pubkey | checksum | 0x03) + ".onion"."""
    import base64

    label = hostname.removesuffix(".onion")
    if not hostname.endswith(".onion") or len(label) != 56 or label != label.lower():
        return False
    raw = base64.b32decode(label.upper())
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34:]
    return (
        version == b"\x03"
        and checksum == (hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2])
    )


def test_tor_image_publishes_two_stable_onions_with_client_auth(images: Images) -> None:
    podman = images.podman
    config = json.loads(podman.text("image", "inspect", images.tor))[0]["Config"]
    assert config["User"] == f"{TOR_UID}:{TOR_UID}"
    flags = _hardening_flags(_compose_service("tor"))
    version = podman.run("run", "--rm", *flags, images.tor, "--version").stdout.decode()
    # Proof-of-work defences need tor 0.4.8 or later.
    match = re.search(r"Tor version (\d+)\.(\d+)\.(\d+)", version)
    assert match and tuple(map(int, match.groups())) >= (0, 4, 8), version
    # No set-uid/set-gid program left to gain privileges with (a property of the image: looked
    # for as root, so that no folder is out of reach).
    privileged = podman.text(
        "run", "--rm", "--network", "none", "--user", "0:0", "--entrypoint", "find",
        images.tor, "/", "-xdev", "-type", "f", "-perm", "/6000",
    )  # fmt: skip
    assert privileged == ""
    # No package manager, perl nor bash (the entry point and health check are /bin/sh, dash);
    # the package list stays for image scanners.
    leftovers = podman.text(
        "run", "--rm", *flags, "--entrypoint", "sh", images.tor, "-c",
        "for t in apt apt-get dpkg dpkg-query perl bash; do command -v $t; done;"
        " test -f /var/lib/dpkg/status && echo status",
    )  # fmt: skip
    assert leftovers == "status", leftovers
    with _volume(podman) as (volume, mountpoint):
        tor_args = (*flags, "--volume", f"{volume}:/var/lib/tor", images.tor)
        with _tor_running(podman, *tor_args) as (tor_name, first):
            assert all(_v3_onion(hostname) for hostname in first.values()), first
            # Two services, two unrelated addresses.
            assert first["leakdrop"] != first["pickup"]
            # The editor makes a client-authorization key for the pickup's address with the
            # image's `leakdrop onion-auth-keygen`; only the public line leaves the container.
            keygen = podman.text(
                "run", "--rm", *_hardening_flags(_compose_service("pickup")), images.server,
                "onion-auth-keygen", "--onion", first["pickup"],
                "--out", "/tmp/pickup.auth_private",
            )  # fmt: skip
            assert re.fullmatch(r"descriptor:x25519:[A-Z2-7]{52}", keygen), keygen
            # The admin installs it exactly as docker/PICKUP.md says.
            podman.run(
                "exec", "-i", tor_name, "sh", "-c",
                "cat > /var/lib/tor/pickup/authorized_clients/alice.auth",
                stdin=keygen.encode() + b"\n",
            )  # fmt: skip
        # The volume, not the container, holds the identity: a new container keeps it. This
        # one (the documented restart) logs at info level, which names the client keys read.
        with _tor_running(podman, *tor_args, "+Log", "info stdout") as (tor_name, second):
            logs = _wait_for_log(
                podman, tor_name, "Loaded a client authorization key file alice.auth"
            )
        assert second == first
        assert "Client authorization" not in "\n".join(
            line for line in logs.splitlines() if "[warn]" in line
        ), logs
        for service in ONION_SERVICES:
            hs_dir = mountpoint / service
            assert hs_dir.stat().st_uid == TOR_UID
            assert (hs_dir.stat().st_mode & 0o077) == 0
        auth = mountpoint / "pickup" / "authorized_clients" / "alice.auth"
        assert auth.read_text() == keygen + "\n" and auth.stat().st_uid == TOR_UID


# --- the two services on the compose file's internal network -------------------------------------

CONNECT = r"""
import errno, socket, sys
probe = socket.socket()
probe.settimeout(5)
try:
    probe.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except OSError as exc:
    print(errno.errorcode.get(exc.errno, "timeout") if exc.errno else "timeout")
"""


NOWHERE = ("192.0.2.1", "80")  # TEST-NET-1: never a real host


def _torrc_targets() -> dict[str, tuple[str, str]]:
    """Onion service folder name -> (host, port) that docker/torrc forwards port 80 to."""
    targets: dict[str, tuple[str, str]] = {}
    service = None
    for line in (REPO / "docker" / "torrc").read_text().splitlines():
        words = line.split()
        if words[:1] == ["HiddenServiceDir"]:
            service = Path(words[1]).name
        elif words[:2] == ["HiddenServicePort", "80"] and service is not None:
            host, _, port = words[2].rpartition(":")
            targets[service] = (host, port)
    assert set(targets) == set(ONION_SERVICES), targets
    return targets


HEALTHZ = r"""
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as connection:
    connection.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
sys.stdout.write(data.decode())
"""


def _healthz_from(
    images: Images, container: str, service: dict[str, Any], host: str, port: str
) -> str:
    """What tor's onion service does for each visitor: connect to the target from tor's own
    network namespace. The tor image has no Python nor bash: the probe is the server image's
    Python, joined to the tor container's network (`--network container:`)."""
    flags = _hardening_flags(service, f"container:{container}")
    return images.podman.text(
        "run", "--rm", *flags, "--entrypoint", "python3", images.server, "-c", HEALTHZ,
        host, port,
    )  # fmt: skip


def test_tor_reaches_both_listeners_and_the_drop_cannot_reach_the_pickup(
    images: Images, tmp_path: Path
) -> None:
    """The compose file's networks, for real: tor reaches the drop and the pickup at the
    addresses its torrc forwards to; the drop has no route to the pickup (nor the pickup to
    the drop), and neither has a way out."""
    podman = images.podman
    config = _compose_config()
    drop, pickup, tor = (config["services"][name] for name in ("leakdrop", "pickup", "tor"))
    internal = [name for name, network in config["networks"].items() if network.get("internal")]
    assert sorted(internal) == ["onion", "pickup"], internal
    subnets = {name: config["networks"][name]["ipam"]["config"][0]["subnet"] for name in internal}
    # Only tor has a way out (an egress network, not reproduced here: no Tor network here).
    for service in (drop, pickup):
        assert set(service["networks"]) <= set(internal), service["networks"]
    _, keys = _editor_keys(tmp_path)
    targets = _torrc_targets()
    drop_address = (drop["networks"]["onion"]["ipv4_address"], drop["environment"]["LEAKDROP_PORT"])
    pickup_address = (
        pickup["networks"]["pickup"]["ipv4_address"],
        pickup["environment"]["LEAKDROP_PICKUP_PORT"],
    )
    # The compose file and the torrc agree (tests/test_compose.py too): probe those addresses.
    assert targets == {"leakdrop": drop_address, "pickup": pickup_address}

    with (
        (CACHE / "lock").open("w") as lock,
        _volume(podman) as (storage, _),
        _volume(podman) as (tokens, _),
        _volume(podman) as (tor_data, _),
    ):
        # One run at a time may hold the compose subnets.
        fcntl.flock(lock, fcntl.LOCK_EX)
        with _internal_networks(podman, subnets) as networks:

            def on(service: dict[str, Any]) -> list[str]:
                """The service's flags on every internal network compose.yaml puts it on (as
                read from the file: a change there changes what is probed here)."""
                joined = [n for n in service["networks"] if n in networks]
                return _hardening_flags(
                    service,
                    *(f"{networks[n]}:ip={service['networks'][n]['ipv4_address']}" for n in joined),
                )

            with (
                _container(
                    podman,
                    *on(drop),
                    "--volume", f"{keys}:{drop['environment']['LEAKDROP_KEYS']}:ro",
                    "--volume", f"{storage}:{drop['environment']['LEAKDROP_STORAGE']}",
                    images.server,
                ) as server,
                _container(
                    podman,
                    *on(pickup),
                    "--volume", f"{storage}:{pickup['environment']['LEAKDROP_STORAGE']}",
                    "--volume",
                    f"{tokens}:{Path(pickup['environment']['LEAKDROP_TOKENS']).parent}",
                    images.server,
                    *pickup["command"],
                ) as pickup_name,
            ):  # fmt: skip
                _wait_healthy(podman, server)
                _wait_healthy(podman, pickup_name)

                def probe(container: str, address: tuple[str, str]) -> str:
                    return podman.text("exec", container, "python3", "-c", CONNECT, *address)

                # No default route on an internal network: nowhere to send anything, and in
                # particular no way from the source-facing drop to the pickup listener.
                assert probe(server, NOWHERE) == "ENETUNREACH"
                assert probe(server, pickup_address) == "ENETUNREACH"
                assert probe(pickup_name, NOWHERE) == "ENETUNREACH"
                assert probe(pickup_name, drop_address) == "ENETUNREACH"
                # Controls: each listener does answer on its own network.
                assert probe(server, drop_address) == "connected"
                assert probe(pickup_name, pickup_address) == "connected"
                with _tor_running(
                    podman, *on(tor), "--volume", f"{tor_data}:/var/lib/tor",
                    images.tor,
                ) as (tor_name, hostnames):  # fmt: skip
                    assert all(_v3_onion(h) for h in hostnames.values()), hostnames
                    # tor, on both networks, never routes between them.
                    forwarding = podman.text(
                        "exec", tor_name, "cat", "/proc/sys/net/ipv4/ip_forward"
                    )
                    responses = {
                        service: _healthz_from(images, tor_name, drop, *target)
                        for service, target in targets.items()
                    }
    assert forwarding == "0"
    for service, response in responses.items():
        assert response.startswith("HTTP/1.1 200"), (service, response)
        assert response.endswith("ok"), (service, response)
