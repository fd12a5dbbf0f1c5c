"""`leakdrop bundle --out DIR`: everything the air-gapped laptop needs, in one folder.

Run on an online machine. Writes into DIR:

    leakdrop-<version>-py3-none-any.whl     the project: built from the source checkout, or
                                            rebuilt from the installed distribution
    PyNaCl, cryptography, cffi, pycparser   binary wheels for the laptop's platform
    requirements.txt                        every wheel pinned with its SHA-256
    SHA256SUMS                              for `sha256sum -c` before installing
    INSTALL.txt                             the few commands to type on the laptop

On the laptop, `pip install --no-index --find-links DIR leakdrop` needs no network. The
platform defaults to this machine's; `--platform` (repeatable) and `--python-version` pick
another (pip then accepts binary wheels only: nothing is compiled on either machine).

Where the project's wheel comes from, first match wins:

1. `--source DIR`;
2. the current folder or one of its parents, when it is a leakdrop checkout (a
   pyproject.toml whose project is named leakdrop): the README's command, typed in the
   checkout after a plain `pip install .`;
3. the checkout this module runs from (an editable install);
4. the installed distribution itself, when there is no checkout at all (leakdrop installed
   from a wheel): its files, each checked against the SHA-256 its RECORD holds, are packed
   back into the wheel they were installed from (pip regenerates the console script from
   entry_points.txt, so it is left out). A file changed since the install is refused.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
import zipfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from leakdrop._files import sha256_file

__all__ = ["BundleError", "build_bundle", "find_checkout", "rebuild_installed_wheel", "run_bundle"]

#: What a wheel build needs from the checkout (the rest, .venv and tests, stays out).
_SOURCE_ITEMS: Final = ("pyproject.toml", "README.md", "LICENSE", "leakdrop", "scrubbers")
_IGNORE: Final = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*")
#: The `leakdrop` package folder this module runs from (it is leakdrop/online/bundle.py).
_RUNNING_PACKAGE: Final = Path(__file__).resolve().parents[1]


class BundleError(Exception):
    """The bundle could not be made (the message says why)."""


def _is_checkout(folder: Path) -> bool:
    """Whether `folder` holds leakdrop's pyproject.toml (its [project] name is leakdrop)."""
    pyproject = folder / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text("utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    name = project.get("name") if isinstance(project, dict) else None
    return isinstance(name, str) and re.sub(r"[-_.]+", "-", name).lower() == "leakdrop"


def find_checkout(cwd: Path | None = None) -> Path | None:
    """The leakdrop checkout to build from, or None when there is none.

    The current folder or its nearest parent that is a checkout comes first (the README
    says to run the command in the checkout, which works with a plain `pip install .`),
    then the checkout this module is imported from (an editable install).
    """
    here = (cwd if cwd is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _is_checkout(folder):
            return folder
    own = _RUNNING_PACKAGE.parent
    return own if _is_checkout(own) else None


#: What an installer adds to a dist-info folder: never part of the wheel it installed.
_INSTALLER_FILES: Final = frozenset({"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"})
#: A fixed time for every member: the same installed files give the same wheel, byte for byte.
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def _wheel_tag(wheel_metadata: str) -> str:
    """The file-name tag (PEP 425 compressed) from the WHEEL file's Tag lines."""
    tags = [
        line.partition(":")[2].strip()
        for line in wheel_metadata.splitlines()
        if line.lower().startswith("tag:")
    ]
    parts = [tag.split("-") for tag in tags]
    if not parts or any(len(p) != 3 for p in parts):
        raise BundleError(f"the installed WHEEL file has no usable Tag line: {tags}")
    return "-".join(".".join(dict.fromkeys(p[i] for p in parts)) for i in range(3))


def rebuild_installed_wheel(wheel_dir: Path, name: str = "leakdrop") -> Path:
    """Pack the installed distribution `name` back into a wheel in `wheel_dir`.

    Every file comes from the installation's RECORD and must still have the SHA-256 it was
    installed with; bytecode and the installer's own files stay out, and so do the console
    scripts (pip writes them again from entry_points.txt). Refused when a file cannot be
    placed back (data files outside site-packages) or the install is an editable one.
    """
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise BundleError(
            f"no leakdrop checkout here and no installed {name} distribution: pass --source "
            "DIR (the folder with pyproject.toml)"
        ) from None
    if not _is_installed_wheel(dist):
        raise BundleError(
            f"no leakdrop checkout here, and the installed {name} is not one installed from a "
            "wheel: run the command in the checkout, or pass --source DIR"
        )
    files = dist.files
    if not files:
        raise BundleError(f"the installed {name} has no RECORD: reinstall it, or pass --source")
    root = Path(str(dist.locate_file(""))).resolve()
    if name == "leakdrop" and (root / "leakdrop").resolve() != _RUNNING_PACKAGE:
        # Another copy first on the path: the bundle would not hold the code that runs.
        raise BundleError(
            f"the installed leakdrop ({root}) is not the one running ({_RUNNING_PACKAGE}):"
            " pass --source DIR"
        )
    scripts = {
        ep.name for ep in dist.entry_points if ep.group in ("console_scripts", "gui_scripts")
    }
    members: dict[str, bytes] = {}
    wheel_metadata: str | None = None
    for entry in files:
        parts = entry.parts
        if ".." in parts:
            if parts[-1].removesuffix(".exe") in scripts:
                continue
            raise BundleError(
                f"the installed {name} has a file outside site-packages ({entry}) that a "
                "rebuilt wheel cannot place: pass --source DIR"
            )
        if "__pycache__" in parts or entry.suffix in (".pyc", ".pyo"):
            continue
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in _INSTALLER_FILES:
            continue
        if entry.hash is None or entry.hash.mode != "sha256":
            raise BundleError(f"the installed {name}'s RECORD gives no SHA-256 for {entry}")
        data = (root / Path(*parts)).read_bytes()
        if _record_hash(data) != f"sha256={entry.hash.value}":
            raise BundleError(
                f"{root / Path(*parts)} changed since it was installed (its SHA-256 differs "
                f"from the RECORD's): reinstall {name}, or pass --source DIR"
            )
        member = "/".join(parts)
        members[member] = data
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "WHEEL":
            wheel_metadata = data.decode("utf-8")
    dist_info = [m for m in members if m.split("/")[0].endswith(".dist-info")]
    if wheel_metadata is None or not dist_info:
        raise BundleError(f"the installed {name} has no WHEEL file: pass --source DIR")
    if not any(m.startswith("leakdrop/") for m in members):
        raise BundleError(f"the installed {name} holds no leakdrop package: pass --source DIR")
    info_dir = dist_info[0].split("/")[0]

    version = dist.version
    stem = f"{re.sub(r'[-_.]+', '_', dist.metadata['Name']).lower()}-{version}"
    wheel = wheel_dir / f"{stem}-{_wheel_tag(wheel_metadata)}.whl"
    record_name = f"{info_dir}/RECORD"
    # The dist-info folder goes last, as the wheel format recommends.
    order = sorted(members, key=lambda m: (m.split("/")[0] == info_dir, m))
    record = "".join(f"{m},{_record_hash(members[m])},{len(members[m])}\n" for m in order)
    record += f"{record_name},,\n"
    with zipfile.ZipFile(wheel, "x", zipfile.ZIP_DEFLATED) as zf:
        for member, data in [*((m, members[m]) for m in order), (record_name, record.encode())]:
            info = zipfile.ZipInfo(member, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return wheel


def _is_installed_wheel(dist: importlib.metadata.Distribution) -> bool:
    """Installed from a wheel (or a plain `pip install .`), not in editable mode."""
    direct_url = dist.read_text("direct_url.json")
    if direct_url:
        try:
            dir_info = json.loads(direct_url).get("dir_info", {})
        except (ValueError, AttributeError):
            return False
        if isinstance(dir_info, dict) and dir_info.get("editable"):
            return False
    return dist.read_text("WHEEL") is not None


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
    """Write the bundle into `out` (new or empty); returns the wheels written.

    Without `source`, the wheel is built from the checkout `find_checkout` finds, else
    rebuilt from the installed distribution (`rebuild_installed_wheel`).
    """
    src = source if source is not None else find_checkout()
    if src is not None and not (src / "pyproject.toml").is_file():
        raise BundleError(f"{src}: no pyproject.toml")
    if out.exists() and any(out.iterdir()):
        # Old wheels next to new ones would make the install pick whichever pip prefers.
        raise BundleError(f"{out} is not empty: give a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)

    if src is None:
        rebuild_installed_wheel(out)
    else:
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
        hashes[name].append(sha256_file(wheel))
        versions[name] = version
    requirements = "".join(
        f"{name}=={versions[name]} " + " ".join(f"--hash=sha256:{h}" for h in hashes[name]) + "\n"
        for name in sorted(hashes)
    )
    (out / "requirements.txt").write_text(requirements, "utf-8")
    sums = "".join(f"{sha256_file(w)}  {w.name}\n" for w in wheels)
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
