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
