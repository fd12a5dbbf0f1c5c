"""`leakdrop bundle --out DIR`: everything the air-gapped laptop needs, in one folder.

Run on an online machine from a source checkout. Writes into DIR:

    leakdrop-<version>-py3-none-any.whl     the project, built from the source
    PyNaCl, cryptography, cffi, pycparser   binary wheels for the laptop's platform
    requirements.txt                        every wheel pinned with its SHA-256
    SHA256SUMS                              for `sha256sum -c` before installing
    INSTALL.txt                             the few commands to type on the laptop

On the laptop, `pip install --no-index --find-links DIR leakdrop` needs no network. The
platform defaults to this machine's; `--platform` (repeatable) and `--python-version` pick
another (pip then accepts binary wheels only: nothing is compiled on either machine).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

__all__ = ["BundleError", "build_bundle", "run_bundle"]

#: What a wheel build needs from the checkout (the rest, .venv and tests, stays out).
_SOURCE_ITEMS: Final = ("pyproject.toml", "README.md", "LICENSE", "leakdrop", "scrubbers")
_IGNORE: Final = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*")


class BundleError(Exception):
    """The bundle could not be made (the message says why)."""


def _default_source() -> Path:
    root = Path(__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or 'name = "leakdrop"' not in pyproject.read_text("utf-8"):
        raise BundleError(
            "not running from a leakdrop source checkout: pass --source DIR (the folder "
            "with pyproject.toml)"
        )
    return root


_MANYLINUX_RE = re.compile(r"manylinux_2_([0-9]+)_([a-z0-9_]+)")


def _compatible_platforms(platforms: list[str]) -> list[str]:
    """Each platform and the older ones its machines also run (PEP 600).

    pip takes `--platform` literally: a laptop on manylinux_2_28 runs wheels built for
    manylinux_2_17 (cffi 2, which pyca/cryptography needs, ships only those for ARM), but
    pip would not pick them unless they are named too.
    """
    out: list[str] = []
    for platform in platforms:
        out.append(platform)
        match = _MANYLINUX_RE.fullmatch(platform)
        if match:
            glibc, arch = int(match.group(1)), match.group(2)
            out += [f"manylinux_2_{minor}_{arch}" for minor in range(glibc - 1, 4, -1)]
            out += [f"manylinux2014_{arch}"]
    return list(dict.fromkeys(out))


def _pip(args: list[str], what: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode != 0:
        raise BundleError(f"{what} failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _wheel_name_version(path: Path) -> tuple[str, str]:
    # {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl (PEP 427)
    parts = path.name[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        raise BundleError(f"unexpected wheel file name {path.name}")
    return parts[0].lower().replace("_", "-"), parts[1]


def _install_text(version: str, target: str, wheels: list[Path]) -> str:
    listing = "\n".join(f"    {w.name}" for w in wheels)
    day = datetime.now(UTC).date().isoformat()
    return f"""leakdrop {version}: offline install bundle
Made on {day} for: {target}

Files:
{listing}
    requirements.txt   (every wheel pinned with its SHA-256)
    SHA256SUMS

On the air-gapped laptop (Linux or macOS; Python 3.11 or later with venv):

  1. Check that nothing changed on the way (from this folder):
         sha256sum -c SHA256SUMS            (macOS: shasum -a 256 -c SHA256SUMS)

  2. Install into a virtual environment, with no network at all:
         python3 -m venv ~/leakdrop
         ~/leakdrop/bin/pip install --no-index --find-links . \\
             --require-hashes -r requirements.txt
     (the short form works too:
         ~/leakdrop/bin/pip install --no-index --find-links /path/to/this/folder leakdrop)

  3. Create your key once (it asks for a passphrase), give the PUBLIC key and the
     fingerprint it prints to the admin:
         ~/leakdrop/bin/leakdrop keygen --out ~/leakdrop-identity.age

  4. Open what `leakdrop fetch` put on the USB stick:
         ~/leakdrop/bin/leakdrop open --identity ~/leakdrop-identity.age \\
             --out ~/submissions /media/USB-STICK/
     then open ~/submissions/index.html in a browser. Files marked NOT CLEANED may
     still identify the source: never publish or forward them as they are.

Debian/Ubuntu: `python3 -m venv` needs the python3-venv package (install it before the
laptop goes offline). If pip says "no matching distribution", the bundle was made for
another platform or Python version: make it again with --platform / --python-version.
"""


def build_bundle(
    out: Path,
    *,
    source: Path | None = None,
    platforms: list[str] | None = None,
    python_version: str | None = None,
) -> list[Path]:
    """Write the bundle into `out` (new or empty); returns the wheels written."""
    src = source if source is not None else _default_source()
    if not (src / "pyproject.toml").is_file():
        raise BundleError(f"{src}: no pyproject.toml")
    if out.exists() and any(out.iterdir()):
        # Old wheels next to new ones would make the install pick whichever pip prefers.
        raise BundleError(f"{out} is not empty: give a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="leakdrop-bundle-") as tmp:
        # Build from a copy: an in-tree build leaves build/ and *.egg-info in the checkout.
        copy = Path(tmp) / "src"
        copy.mkdir()
        for item in _SOURCE_ITEMS:
            path = src / item
            if path.is_dir():
                shutil.copytree(path, copy / item, ignore=_IGNORE)
            elif path.is_file():
                shutil.copy2(path, copy / item)
        _pip(["wheel", "--no-deps", "-q", "--wheel-dir", str(out), str(copy)], "building")
    (project,) = out.glob("leakdrop-*.whl")

    download = ["download", "-q", "--only-binary=:all:", "--dest", str(out)]
    for platform in _compatible_platforms(platforms or []):
        download += ["--platform", platform]
    if python_version:
        download += ["--python-version", python_version, "--implementation", "cp"]
    # The dependencies come from the wheel's own metadata: nothing listed twice.
    _pip([*download, str(project)], "downloading the dependencies")

    wheels = sorted(out.glob("*.whl"))
    names = {_wheel_name_version(w)[0] for w in wheels}
    for needed, why in (("pynacl", "PyNaCl"), ("cryptography", "pyca/cryptography")):
        if needed not in names:
            raise BundleError(f"{why}'s wheel is missing from the bundle")

    hashes: dict[str, list[str]] = defaultdict(list)
    versions: dict[str, str] = {}
    for wheel in wheels:
        name, version = _wheel_name_version(wheel)
        hashes[name].append(_sha256(wheel))
        versions[name] = version
    requirements = "".join(
        f"{name}=={versions[name]} " + " ".join(f"--hash=sha256:{h}" for h in hashes[name]) + "\n"
        for name in sorted(hashes)
    )
    (out / "requirements.txt").write_text(requirements, "utf-8")
    sums = "".join(f"{_sha256(w)}  {w.name}\n" for w in wheels)
    (out / "SHA256SUMS").write_text(sums, "utf-8")
    target = (
        f"Python {python_version or sysconfig.get_python_version()} on "
        f"{', '.join(platforms) if platforms else sysconfig.get_platform()}"
    )
    (out / "INSTALL.txt").write_text(
        _install_text(_wheel_name_version(project)[1], target, wheels), "utf-8"
    )
    return wheels


def run_bundle(args: argparse.Namespace) -> int:
    try:
        wheels = build_bundle(
            Path(args.out),
            source=Path(args.source) if args.source else None,
            platforms=args.platform,
            python_version=args.python_version,
        )
    except BundleError as exc:
        print(f"leakdrop bundle: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"leakdrop bundle: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 1
    for wheel in wheels:
        print(wheel.name)
    print(f"bundle written to {args.out}; see {Path(args.out) / 'INSTALL.txt'}", file=sys.stderr)
    return 0
