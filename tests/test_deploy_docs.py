"""The deployment's settings template and guides (issue 16): docker/.env.example lists what
docker/compose.yaml reads, secrets stay out of the repository, the backup commands never
write the onion keys in clear, the isolation claimed is the isolation documented, and no
install instruction asks PyPI for a `leakdrop` it does not publish.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_compose import _run_config

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"

_COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^}]*))?\}")
_ENV_LINE = re.compile(r"^#?([A-Z][A-Z0-9_]*)=(.*)$")


def _compose_variables() -> dict[str, set[str]]:
    """Every ${VAR…} of compose.yaml (comments included: a commented-out one is a setting
    too) -> the defaults it is given (`:-default`)."""
    found: dict[str, set[str]] = {}
    for name, operator, value in _COMPOSE_VARIABLE.findall(COMPOSE_FILE.read_text()):
        defaults = found.setdefault(name, set())
        if operator in (":-", "-"):
            defaults.add(value)
    return found


def _env_example() -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _ENV_LINE.match(line.strip())
        if match:
            assert match.group(1) not in settings, f"{match.group(1)} twice in .env.example"
            settings[match.group(1)] = match.group(2)
    return settings


def test_env_example_lists_every_compose_variable_and_nothing_else() -> None:
    compose, example = _compose_variables(), _env_example()
    assert set(compose) - set(example) == set(), "in compose.yaml, not in .env.example"
    assert set(example) - set(compose) == set(), "in .env.example, compose.yaml ignores it"


def test_env_example_shows_compose_defaults_with_a_comment() -> None:
    compose = _compose_variables()
    lines = ENV_EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        match = _ENV_LINE.match(line.strip())
        if not match:
            continue
        name, value = match.groups()
        # The default, commented out: copying the file changes nothing until a line is edited.
        assert line.startswith("#"), name
        if compose[name]:
            assert compose[name] == {value}, (name, value, compose[name])
        # A comment saying what it does, right above (or above its sibling's line).
        above = [text for text in lines[:index] if not _ENV_LINE.match(text.strip())]
        assert above and above[-1].startswith("# "), name


def test_compose_limit_defaults_are_the_servers_own() -> None:
    from leakdrop.server.config import Limits, parse_size

    defaults = Limits()
    compose = {name: values.pop() for name, values in _compose_variables().items() if values}
    sizes = ("max_submission_bytes", "min_free_bytes", "min_upload_rate")
    for field in sizes:
        assert parse_size(compose[f"LEAKDROP_{field.upper()}"]) == getattr(defaults, field)
    counts = ("max_files", "max_message_chars", "scrub_cpu_seconds")
    for field in counts:
        assert int(compose[f"LEAKDROP_{field.upper()}"]) == getattr(defaults, field)
    times = ("rate_grace", "idle_timeout", "header_timeout", "scrub_wall_seconds")
    for field in times:
        assert float(compose[f"LEAKDROP_{field.upper()}"]) == getattr(defaults, field)
    assert defaults.max_concurrent is None and compose["LEAKDROP_MAX_CONCURRENT"] == "0"


def test_env_example_copied_to_docker_env_is_read_by_compose(tmp_path: Path) -> None:
    """`cp .env.example .env` and uncommenting every line: Compose, run from another folder,
    reads docker/.env next to compose.yaml and every value reaches a container."""
    compose = tmp_path / "docker" / "compose.yaml"
    compose.parent.mkdir()
    compose.write_text(COMPOSE_FILE.read_text())
    settings = _env_example()
    settings["LEAKDROP_NAME"] = "Fuites"
    settings["LEAKDROP_AUTH_MAX_DELAY"] = "120"
    settings["LEAKDROP_MAX_FILES"] = "20"
    (compose.parent / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    result = _run_config(compose)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services["leakdrop"]["environment"]["LEAKDROP_NAME"] == "Fuites"
    assert services["leakdrop"]["environment"]["LEAKDROP_MAX_FILES"] == "20"
    assert services["pickup"]["environment"]["LEAKDROP_AUTH_MAX_DELAY"] == "120"


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(
        [git, "-C", str(REPO), *args], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize(
    "path",
    [
        "docker/.env",
        "keys/alice.txt",
        "alice.auth",
        "docker/alice.auth",
        "pickup.auth_private",
        "leakdrop-identity.age",
        "onion-keys.tar.age",
        "onion-keys.tar",
    ],
)
def test_gitignore_keeps_deployment_secrets_out(path: str) -> None:
    assert _git("check-ignore", "-q", "--no-index", path).returncode == 0, path


@pytest.mark.parametrize("path", ["docker/.env.example", "keys/README.md", "docker/compose.yaml"])
def test_gitignore_keeps_the_templates(path: str) -> None:
    assert _git("check-ignore", "-q", "--no-index", path).returncode == 1, path


def _dockerfile_secrets() -> set[str]:
    text = (DOCKER / "Dockerfile").read_text()
    return set(re.findall(r"--mount=type=secret,(?:[^\s]*,)?id=([A-Za-z0-9_.-]+)", text))


def test_compose_builds_get_the_dockerfiles_build_secrets() -> None:
    """`docker compose up --build` behind a TLS proxy: every build secret the Dockerfile
    mounts is declared on both builds, from a file the admin names in docker/.env."""
    wanted = _dockerfile_secrets()
    assert "extra_ca" in wanted
    result = _run_config(COMPOSE_FILE, LEAKDROP_EXTRA_CA="/etc/proxy-ca.pem")
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    for name in ("leakdrop", "tor"):
        declared = {
            entry if isinstance(entry, str) else entry["source"]
            for entry in config["services"][name]["build"].get("secrets", [])
        }
        assert wanted <= declared, name
        # Build secrets only: no running service gets the CA.
        assert not config["services"][name].get("secrets"), name
    assert config["secrets"]["extra_ca"]["file"] == "/etc/proxy-ca.pem"


def test_without_a_proxy_ca_the_build_secret_is_empty() -> None:
    result = _run_config(COMPOSE_FILE)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["secrets"]["extra_ca"]["file"] == "/dev/null"
    # The Dockerfile uses the secret only when it is not empty (an empty one: no CA added).
    assert "[ -s /run/secrets/extra_ca ]" in (DOCKER / "Dockerfile").read_text()


def _section(path: Path, title: str) -> str:
    text = path.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", text, re.M | re.S)


def _commands(block: str) -> list[str]:
    """Logical commands: continuation lines (a trailing backslash or pipe) joined."""
    commands: list[str] = []
    current = ""
    for raw in block.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        current += " " + line.rstrip("\\").strip()
        if line.endswith(("\\", "|", "&&")):
            continue
        commands.append(current.strip())
        current = ""
    assert not current, current
    return commands


def _inline_commands(text: str) -> list[str]:
    return [code for code in re.findall(r"`([^`\n]+)`", text) if code.startswith("docker ")]


BACKUP = _section(DOCKER / "DEPLOY.md", "Backup and restore")
ONION_VOLUME = "leakdrop_tor-data"


def test_backup_blocks_are_valid_shell() -> None:
    blocks = _shell_blocks(BACKUP)
    assert len(blocks) >= 2
    bash = shutil.which("bash")
    assert bash is not None
    for block in blocks:
        result = subprocess.run([bash, "-n"], input=block, capture_output=True, text=True)
        assert result.returncode == 0, (block, result.stderr)


def test_every_volume_of_compose_has_a_backup_and_a_restore() -> None:
    result = _run_config(COMPOSE_FILE)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    commands = [c for block in _shell_blocks(BACKUP) for c in _commands(block)]
    for volume in config["volumes"]:
        name = f"{config['name']}_{volume}"
        backups = [c for c in commands if f"{name}:/v:ro" in c and "tar -C /v -cf -" in c]
        restores = [c for c in commands if f"{name}:/v " in c and "tar -C /v -xf -" in c]
        assert backups and restores, name


def _owner(config: dict[str, object], service: str) -> str:
    services = config["services"]
    assert isinstance(services, dict)
    user: str = services[service]["user"]
    return user


def test_restores_give_each_volume_the_owner_its_service_runs_as() -> None:
    result = _run_config(COMPOSE_FILE)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    commands = [c for block in _shell_blocks(BACKUP) for c in _commands(block)]
    # tor's uid in compose.yaml is the one the image's /var/lib/tor belongs to.
    assert (
        f"install -d -o {_owner(config, 'tor').split(':')[0]} "
        in (DOCKER / "Dockerfile").read_text()
    )
    owners = {
        "tor-data": _owner(config, "tor"),
        "storage": _owner(config, "leakdrop"),
        "pickup-tokens": _owner(config, "pickup"),
    }
    for volume, owner in owners.items():
        (restore,) = [c for c in commands if f"_{volume}:/v " in c and "-xf -" in c]
        assert f"chown -R {owner} /v" in restore, restore
        # Private to that user: tor refuses a key folder that others can read.
        assert "chmod -R u=rwX,go= /v" in restore, restore


def test_onion_keys_are_never_written_in_clear() -> None:
    """Every command of the section that reads the onion-keys volume with tar pipes tar's
    standard output straight into `age -p` (or `age -r`), and writes nowhere else."""
    commands = [c for block in _shell_blocks(BACKUP) for c in _commands(block)]
    commands += _inline_commands(BACKUP)
    reading = [c for c in commands if ONION_VOLUME in c and re.search(r"\btar\b[^|]*-c", c)]
    assert reading, "no backup command for the onion keys"
    for command in reading:
        producer, pipe, rest = command.partition("|")
        assert pipe, command
        # tar writes to its standard output, nothing to a file, and no host folder is mounted
        # where a clear copy could land.
        assert re.search(r"\btar -C /v -cf - ", producer), command
        assert ">" not in producer, command
        assert producer.count(" -v ") == 1 and ":ro " in producer, command
        assert re.match(r"\s*age (-p|-r \S+) > \S+\.age$", rest), command
    # Nothing else takes the keys out: no `docker compose cp tor:…`, no clear tar file.
    assert "cp tor:" not in BACKUP
    assert not re.search(r"onion[^\s]*\.tar\b(?!\.age)", BACKUP)


def test_onion_key_backup_pipeline_really_encrypts(tmp_path: Path) -> None:
    """The documented pipeline, run with the volume as a folder (the container's part is
    the same tar): the archive is age ciphertext, and it holds the key once decrypted."""
    age = shutil.which("age")
    if age is None:
        pytest.skip("age is not installed")
    (command,) = [
        c
        for block in _shell_blocks(BACKUP)
        for c in _commands(block)
        if ONION_VOLUME in c and "-cf -" in c
    ]
    producer, _, _ = command.partition("|")
    tar_part = producer[producer.index("tar -C /v") :].strip()
    volume = tmp_path / "v"
    (volume / "leakdrop").mkdir(parents=True)
    (volume / "pickup" / "authorized_clients").mkdir(parents=True)
    secret = b"== ed25519v1-secret: type0 ==\x00\x00\x00" + bytes(range(64))
    (volume / "leakdrop" / "hs_ed25519_secret_key").write_bytes(secret)
    (volume / "pickup" / "hs_ed25519_secret_key").write_bytes(secret[::-1])
    identity = tmp_path / "backup-key.txt"
    subprocess.run(["age-keygen", "-o", str(identity)], capture_output=True, check=True)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(identity)], capture_output=True, text=True, check=True
    ).stdout.strip()
    # `age -p` asks for the passphrase on the terminal; `age -r` is the documented
    # alternative and encrypts the same way.
    out = tmp_path / "onion-keys.tar.age"
    pipeline = f"{tar_part.replace('/v', str(volume), 1)} | {age} -r {recipient} > {out}"
    subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], check=True, timeout=60)
    data = out.read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n")
    assert bytes(range(64)) not in data
    clear = subprocess.run(
        [age, "-d", "-i", str(identity), str(out)], capture_output=True, check=True
    ).stdout
    assert bytes(range(64)) in clear and b"leakdrop/hs_ed25519_secret_key" in clear


def _internal_subnets() -> list[str]:
    result = _run_config(COMPOSE_FILE)
    assert result.returncode == 0, result.stderr
    networks = json.loads(result.stdout)["networks"]
    subnets = [
        pool["subnet"]
        for network in networks.values()
        if network.get("internal")
        for pool in network["ipam"]["config"]
    ]
    assert len(subnets) == 2
    return subnets


def test_deploy_guide_has_the_host_firewall_rule_for_the_compose_subnets() -> None:
    isolation = _section(DOCKER / "DEPLOY.md", "Isolation")
    subnets = _internal_subnets()
    assert f"ip saddr {{ {', '.join(subnets)} }} drop" in isolation
    assert "type filter hook input" in isolation
    for subnet in subnets:
        assert f"iptables -I INPUT -s {subnet} -j DROP" in isolation, subnet
    for block in _shell_blocks(isolation)[1:]:
        assert subprocess.run(["bash", "-n"], input=block, text=True).returncode == 0


@pytest.mark.parametrize("path", ["README.md", "docker/DEPLOY.md", "docker/compose.yaml"])
def test_no_sentence_overclaims_the_isolation(path: str) -> None:
    text = " ".join((REPO / path).read_text().split())
    for claim in ("reach anything outside", "cannot reach the internet at all", "no route out"):
        assert claim not in text, (path, claim)


_PYPI_INSTALL = re.compile(r"pip3? install\b[^`\n]*?(?<![/=.\w-])leakdrop(?![\w/.-])")


def test_no_install_instruction_asks_pypi_for_leakdrop() -> None:
    """There is no `leakdrop` on PyPI: `pip install leakdrop` would install whatever someone
    registers under that name. Installs use the checkout or the offline bundle."""
    for md in REPO.rglob("*.md"):
        if any(part in (".venv", "node_modules") for part in md.parts):
            continue
        for line in md.read_text().splitlines():
            assert "pip install leakdrop" not in line, (md, line)
            for match in _PYPI_INSTALL.finditer(line):
                assert "--no-index" in match.group(0), (md, line)
