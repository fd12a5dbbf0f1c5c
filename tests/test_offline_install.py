"""The offline part installs and runs with PyNaCl and pyca/cryptography as its only
dependencies (cryptography for the post-quantum recipient type).

This is what goes onto the air-gapped laptop: a wheel of the project in a fresh virtual
environment (no system site-packages, nothing from the development venv), then `keygen`
and `open` work, and no server-side package is installed or imported.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

import pytest

from leakdrop.sealing import X25519Recipient, encrypt
from leakdrop.submission import FileEntry, write_submission

REPO = Path(__file__).resolve().parents[1]
SERVER_SIDE = {
    "fastapi",
    "starlette",
    "uvicorn",
    "pikepdf",
    "pillow",
    "pil",
    "pillow-heif",
    "pillow_heif",
    "defusedxml",
    "python-multipart",
    "multipart",
    "httpx",
}
ALLOWED = {"leakdrop", "pynacl", "cryptography", "cffi", "pycparser", "pip", "setuptools", "wheel"}
_IGNORE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "demo",
    "test-artifacts",
    "node_modules",
)

#: Imports a whole role package in a fresh interpreter (`python -c PROBE leakdrop.offline`):
#: `leakdrop.cli` and every module under the package (found by walking it, so a module
#: added later is covered), with every server-side package refused by a meta_path finder.
#: Prints the package's location, the modules imported, and the top-level modules loaded.
ROLE_PROBE = """
import importlib, importlib.abc, pkgutil, sys

BLOCKED = (
    "fastapi", "starlette", "uvicorn", "pikepdf", "PIL", "pillow_heif", "defusedxml",
    "multipart", "python_multipart", "httpx", "scrubbers", "leakdrop.server", "leakdrop.pickup",
)

class RefuseServerSide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{sys.argv[1]} imported {name}")
        return None

sys.meta_path.insert(0, RefuseServerSide())
import leakdrop, leakdrop.cli
role = importlib.import_module(sys.argv[1])
modules = [m.name for m in pkgutil.walk_packages(role.__path__, role.__name__ + ".")]
for name in modules:
    importlib.import_module(name)
print(leakdrop.__file__)
print(" ".join(sorted(modules)))
print(" ".join(sorted({m.split(".")[0].lower() for m in sys.modules})))
"""


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(argv: list[str | Path], cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    result: subprocess.CompletedProcess[str] = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
        **kw,  # type: ignore[call-overload]
    )
    assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
    return result


def test_offline_part_needs_only_pynacl(
    tmp_path: Path, make_file_entry: Callable[..., FileEntry]
) -> None:
    # Build from a copy: an in-tree build would race with other runs and pick up build/.
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=_IGNORE)
    wheels = tmp_path / "wheels"
    # Build isolation fetches the build backend through pip (and its cache).
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, src], tmp_path)
    (wheel,) = wheels.glob("leakdrop-*.whl")

    env_dir = tmp_path / "laptop-venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    _run([py, "-m", "pip", "install", "-q", wheel], tmp_path)

    listed = json.loads(_run([py, "-m", "pip", "list", "--format=json"], tmp_path).stdout)
    names = {p["name"].lower() for p in listed}
    assert "leakdrop" in names and "pynacl" in names
    assert not names & SERVER_SIDE, names
    assert names <= ALLOWED, f"unexpected packages on the offline install: {names - ALLOWED}"

    # Importing every offline module pulls in nothing from the server side, and the code
    # comes from the installed wheel, not from the work tree.
    out = _run([py, "-c", ROLE_PROBE, "leakdrop.offline"], tmp_path).stdout.splitlines()
    assert out[0].startswith(str(env_dir)), out[0]
    assert not set(out[2].split()) & (SERVER_SIDE | {"scrubbers"}), out[2]

    leakdrop = env_dir / "bin" / "leakdrop"
    keygen = _run(
        [leakdrop, "keygen", "--no-passphrase", "--out", tmp_path / "id.txt"],
        tmp_path,
        start_new_session=True,
    )
    match = re.search(r"^public key: (age1\w+)$", keygen.stdout, re.M)
    assert match, keygen.stdout

    files = [
        make_file_entry("doc.pdf", b"%PDF cleaned"),
        make_file_entry("raw.bin", b"\x00\x01" * 5000, cleaned=False, reason="unknown type"),
    ]
    plain = io.BytesIO()
    write_submission(
        plain,
        submission_id="offline1",
        received_day="2024-05-01",
        message="from the source",
        files=files,
    )
    sub = tmp_path / "offline1.age"
    with sub.open("wb") as fh, encrypt(fh, [X25519Recipient.parse(match.group(1))]) as w:
        w.write(plain.getvalue())

    opened = _run(
        [leakdrop, "open", "--identity", tmp_path / "id.txt", "--out", tmp_path / "out", sub],
        tmp_path,
        start_new_session=True,
    )
    assert "NOT CLEANED" in opened.stdout
    folder = tmp_path / "out" / "offline1"
    assert (folder / "files/01-doc.pdf").read_bytes() == b"%PDF cleaned"
    assert (folder / "files/02-raw.bin").read_bytes() == b"\x00\x01" * 5000
    assert (folder / "message.txt").read_text() == "from the source"


@pytest.mark.parametrize(
    ("package", "expected"),
    [
        ("leakdrop.offline", {"opener", "keygen", "reply", "passphrase"}),
        # The online machine too: what it shares with the pickup comes from leakdrop.layout.
        ("leakdrop.online", {"fetch", "bundle", "onion_auth"}),
    ],
)
def test_role_package_imports_without_server_packages(
    tmp_path: Path, package: str, expected: set[str]
) -> None:
    # The same probe on this checkout, without building a wheel: fast enough for every run.
    env = {**_clean_env(), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", ROLE_PROBE, package],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    where, modules, loaded = result.stdout.splitlines()
    assert where == str(REPO / "leakdrop" / "__init__.py"), where
    assert {f"{package}.{name}" for name in expected} <= set(modules.split()), modules
    assert not set(loaded.split()) & (SERVER_SIDE | {"scrubbers"}), loaded
