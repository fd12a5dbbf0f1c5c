"""What the deployment images contain: a non-root user, no set-uid program, no compiler,
package manager, perl or bash (the package list stays for scanners), a read-only root
but for the RAM-backed /tmp, and this tree's code byte for byte.

Built and run by the harness in `support.podman` (see there for what it needs:
root, podman, runc, debootstrap, age, network access to the mirrors); missing tools
skip the module, except under CI=true where they fail it.
"""

from __future__ import annotations

import json

import pytest
from support.podman import SERVER_UID, Images, _compose_service, _hardening_flags, images

__all__ = ["images"]  # the fixture

pytestmark = pytest.mark.slow


# --- what the image contains ---------------------------------------------------------------------

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
