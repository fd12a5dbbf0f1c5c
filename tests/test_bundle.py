"""`leakdrop bundle`: the laptop installs from the folder alone, with pip cut off the network."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import venv
import zipfile
from pathlib import Path
from typing import Any

from support.pickup import check_offline_page, entry, run_leakdrop

from leakdrop.sealing import X25519Recipient, encrypt
from leakdrop.submission import write_submission

#: Only loopback, and a port nothing listens on: any attempt to reach an index fails fast.
DEAD_PROXY = "http://127.0.0.1:9"


def _offline_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV")) and "proxy" not in k.lower()
    }
    env.update(
        {
            "PIP_NO_INDEX": "1",
            # No pip.conf either: the one on this machine adds indexes and find-links.
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_PROXY": DEAD_PROXY,
            "HTTP_PROXY": DEAD_PROXY,
            "HTTPS_PROXY": DEAD_PROXY,
            "http_proxy": DEAD_PROXY,
            "https_proxy": DEAD_PROXY,
            "ALL_PROXY": DEAD_PROXY,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_CACHE_DIR": "1",
        }
    )
    return env


def _run(argv: list[Any], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        timeout=600,
        env=_offline_env(),
        **kw,
    )


def test_bundle_installs_offline(tmp_path: Path) -> None:
    bundle = tmp_path / "usb" / "bundle"
    made = run_leakdrop("bundle", "--out", bundle, timeout=600)
    assert made.returncode == 0, made.stderr
    wheels = sorted(p.name for p in bundle.glob("*.whl"))
    names = {w.split("-")[0].lower() for w in wheels}
    assert names == {"leakdrop", "pynacl", "cryptography", "cffi", "pycparser"}, wheels
    install_txt = (bundle / "INSTALL.txt").read_text()
    assert "pip install --no-index --find-links" in install_txt
    assert "sha256sum -c SHA256SUMS" in install_txt
    sums: dict[str, str] = {}
    for line in (bundle / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        sums[name] = digest
    assert sorted(sums) == wheels
    for name, digest in sums.items():
        assert hashlib.sha256((bundle / name).read_bytes()).hexdigest() == digest
        assert f"--hash=sha256:{digest}" in (bundle / "requirements.txt").read_text()

    # A second bundle never mixes into a folder holding one already.
    again = run_leakdrop("bundle", "--out", bundle, timeout=600)
    assert again.returncode == 1 and "not empty" in again.stderr

    laptop = tmp_path / "laptop-venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(laptop)
    py = laptop / "bin" / "python"

    # The hash-pinned install refuses a wheel altered on the stick.
    tampered = tmp_path / "tampered"
    shutil.copytree(bundle, tampered)
    (nacl,) = tampered.glob("pynacl-*.whl")
    nacl.write_bytes(nacl.read_bytes() + b"\0")
    pinned = ["--require-hashes", "-r", tampered / "requirements.txt"]
    refused = _run([py, "-m", "pip", "install", "--no-index", "--find-links", tampered, *pinned])
    assert refused.returncode != 0
    assert "hash" in (refused.stdout + refused.stderr).lower()

    # The brief's command, with pip unable to reach anything but the folder.
    installed = _run([py, "-m", "pip", "install", "--no-index", "--find-links", bundle, "leakdrop"])
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = json.loads(_run([py, "-m", "pip", "list", "--format=json"]).stdout)
    assert {p["name"].lower() for p in listed} <= {
        "leakdrop",
        "pynacl",
        "cryptography",
        "cffi",
        "pycparser",
        "pip",
        "setuptools",
    }

    leakdrop = laptop / "bin" / "leakdrop"
    keygen = _run([leakdrop, "keygen", "--no-passphrase", "--out", tmp_path / "id.txt"])
    assert keygen.returncode == 0, keygen.stderr
    match = re.search(r"^public key: (age1\w+)$", keygen.stdout, re.M)
    assert match, keygen.stdout

    plain = io.BytesIO()
    write_submission(
        plain,
        submission_id="bundled",
        received_day="2024-05-01",
        message="opened on the laptop",
        files=[entry("raw.bin", b"\x00" * 100, cleaned=False, reason="unknown type")],
    )
    sub = tmp_path / "usb" / "bundled.age"
    with sub.open("wb") as fh, encrypt(fh, [X25519Recipient.parse(match.group(1))]) as w:
        w.write(plain.getvalue())
    out = tmp_path / "submissions"
    opened = _run([leakdrop, "open", "--identity", tmp_path / "id.txt", "--out", out, sub])
    assert opened.returncode == 0, opened.stderr
    assert "NOT CLEANED" in opened.stdout
    assert (out / "bundled" / "message.txt").read_text() == "opened on the laptop"
    check_offline_page((out / "index.html").read_text())


def test_bundle_for_another_platform(tmp_path: Path) -> None:
    bundle = tmp_path / "arm"
    made = run_leakdrop(
        "bundle",
        "--out",
        bundle,
        "--platform",
        "manylinux_2_28_aarch64",
        "--python-version",
        "3.12",
        timeout=600,
    )
    assert made.returncode == 0, made.stderr
    wheels = [p.name for p in bundle.glob("*.whl")]
    (nacl,) = [w for w in wheels if w.startswith("pynacl-")]
    (cffi,) = [w for w in wheels if w.startswith("cffi-")]
    (crypto,) = [w for w in wheels if w.startswith("cryptography-")]
    assert "aarch64" in nacl and "aarch64" in cffi and "cp312" in cffi and "aarch64" in crypto
    assert "x86_64" not in " ".join(wheels)
    assert "Python 3.12 on manylinux_2_28_aarch64" in (bundle / "INSTALL.txt").read_text()


def test_bundle_as_the_readme_writes_it_after_a_plain_install(tmp_path: Path) -> None:
    """`pip install .` (not editable), then `leakdrop bundle --out DIR` from the checkout and
    from a folder with no checkout: both bundles install on a laptop cut off the network."""
    from test_offline_install import _IGNORE

    checkout = tmp_path / "checkout"
    shutil.copytree(Path(__file__).resolve().parents[1], checkout, ignore=_IGNORE)
    online = tmp_path / "online-venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(online)
    pip_env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    done = subprocess.run(
        [str(online / "bin" / "python"), "-m", "pip", "install", "-q", "."],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=600,
        env=pip_env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd in (checkout, elsewhere):
        bundle = tmp_path / f"bundle-{cwd.name}"
        made = subprocess.run(
            [str(online / "bin" / "leakdrop"), "bundle", "--out", str(bundle)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
            env=pip_env,
        )
        assert made.returncode == 0, made.stderr
        # Built from the checkout or rebuilt from the install's RECORD: every role package
        # is in the project's wheel, module for module.
        (project,) = bundle.glob("leakdrop-*.whl")
        with zipfile.ZipFile(project) as wheel:
            members = set(wheel.namelist())
        for role in ("offline", "online", "pickup"):
            for module in (checkout / "leakdrop" / role).glob("*.py"):
                assert f"leakdrop/{role}/{module.name}" in members, (cwd.name, module.name)
        laptop = tmp_path / f"laptop-{cwd.name}"
        venv.EnvBuilder(with_pip=True, clear=True).create(laptop)
        pip = [laptop / "bin" / "python", "-m", "pip", "install", "--no-index"]
        installed = _run([*pip, "--find-links", bundle, "leakdrop"])
        assert installed.returncode == 0, installed.stdout + installed.stderr
        identity = tmp_path / f"id-{cwd.name}.txt"
        keygen = _run([laptop / "bin" / "leakdrop", "keygen", "--no-passphrase", "--out", identity])
        assert keygen.returncode == 0, keygen.stderr
        assert re.search(r"^public key: age1\w+$", keygen.stdout, re.M)
