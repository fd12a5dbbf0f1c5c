"""keys/: loading the editors' recipients on the server, and fingerprints."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from leakdrop.keys import KeysError, fingerprint, load_editor_keys, load_recipients_dir
from leakdrop.sealing import X25519Identity, X25519Recipient

REPO = Path(__file__).resolve().parents[1]


def _recipient() -> X25519Recipient:
    return X25519Identity.generate().recipient()


def test_loads_one_file_per_editor(tmp_path: Path) -> None:
    alice, bob, bob2 = _recipient(), _recipient(), _recipient()
    (tmp_path / "alice.txt").write_text(f"# Alice, desk A\n\n{alice}\n")
    (tmp_path / "bob").write_text(f"{bob}\r\n  {bob2}  \n# old laptop\n")
    (tmp_path / "README.md").write_text("AGE-SECRET-KEY-1 is explained here, ignored\n")
    (tmp_path / ".hidden.swp").write_text("garbage")
    loaded = load_recipients_dir(tmp_path)
    assert [str(r) for r in loaded] == [str(alice), str(bob), str(bob2)]
    keys = load_editor_keys(tmp_path)
    assert [(k.file.name, k.line) for k in keys] == [("alice.txt", 3), ("bob", 1), ("bob", 2)]


def test_accepts_age_keygen_y_output(tmp_path: Path) -> None:
    identity = tmp_path / "id.txt"
    subprocess.run(["age-keygen", "-o", identity], check=True, capture_output=True)
    public = subprocess.run(
        ["age-keygen", "-y", identity], check=True, capture_output=True, text=True
    ).stdout
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "carol.txt").write_text(public)
    assert [str(r) for r in load_recipients_dir(keys)] == [public.strip()]


@pytest.mark.parametrize(
    "content",
    [
        "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n",
        "# public key: age1xyz\n{secret}\n",
        "{public}\n# {secret}\n",
        "{public}\n{secret_lower}\n",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
    ],
)
def test_refuses_private_keys(tmp_path: Path, content: str) -> None:
    identity = X25519Identity.generate()
    secret = str(identity)
    text = content.format(secret=secret, secret_lower=secret.lower(), public=identity.recipient())
    (tmp_path / "dave.txt").write_text(text)
    with pytest.raises(KeysError) as info:
        load_recipients_dir(tmp_path)
    message = str(info.value)
    assert "dave.txt" in message and "line" in message
    assert "must never" in message and "server" in message
    assert secret not in message and secret.lower() not in message  # never echoed


def test_refuses_passphrase_protected_identity(tmp_path: Path) -> None:
    # What `leakdrop keygen` writes by default: an age file. Still a private key.
    from leakdrop.sealing import ScryptRecipient, encrypt

    with (
        (tmp_path / "erin.age").open("wb") as fh,
        encrypt(fh, [ScryptRecipient(b"pw", work_factor=10)]) as w,
    ):
        w.write(f"{X25519Identity.generate()}\n".encode())
    with pytest.raises(KeysError, match=r"erin\.age.*(encrypted|private)"):
        load_recipients_dir(tmp_path)


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("age1notarealkey\n", 1),
        ("# ok\n{public}\nage1{public_tail}x\n", 3),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host\n", 1),
        ("{public} trailing words\n", 1),
    ],
)
def test_refuses_invalid_recipients(tmp_path: Path, content: str, line: int) -> None:
    public = str(_recipient())
    (tmp_path / "frank.txt").write_text(content.format(public=public, public_tail=public[4:]))
    with pytest.raises(KeysError, match=rf"frank\.txt line {line}: not a valid"):
        load_recipients_dir(tmp_path)


def test_refuses_empty_and_odd_folders(tmp_path: Path) -> None:
    with pytest.raises(KeysError, match="not found"):
        load_recipients_dir(tmp_path / "missing")
    with pytest.raises(KeysError, match="no editor key"):
        load_recipients_dir(tmp_path)
    (tmp_path / "README.md").write_text("only docs\n")
    with pytest.raises(KeysError, match="no editor key"):
        load_recipients_dir(tmp_path)
    (tmp_path / "gina.txt").write_text("# just a comment\n\n")
    with pytest.raises(KeysError, match=r"gina\.txt: no recipient"):
        load_recipients_dir(tmp_path)
    (tmp_path / "gina.txt").write_text(f"{_recipient()}\n")
    (tmp_path / "subdir").mkdir()
    with pytest.raises(KeysError, match="subdir: not a regular file"):
        load_recipients_dir(tmp_path)
    (tmp_path / "subdir").rmdir()
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe age1")
    with pytest.raises(KeysError, match=r"bin\.txt: not UTF-8"):
        load_recipients_dir(tmp_path)


def test_refuses_the_same_key_twice(tmp_path: Path) -> None:
    public = _recipient()
    (tmp_path / "a.txt").write_text(f"{public}\n")
    (tmp_path / "b.txt").write_text(f"# copy\n{public}\n")
    with pytest.raises(KeysError, match=r"b\.txt line 2: same key as .*a\.txt line 1"):
        load_recipients_dir(tmp_path)


def test_repository_keys_folder_is_valid() -> None:
    # keys/ ships documentation; whatever a deployment adds must load (and so hold no secret).
    assert "AGE-SECRET-KEY" in (REPO / "keys" / "README.md").read_text()
    try:
        keys = load_recipients_dir(REPO / "keys")
    except KeysError as exc:
        assert "no editor key" in str(exc)
    else:
        assert keys


def test_fingerprint_definition() -> None:
    recipient = _recipient()
    digest = hashlib.sha256(b"leakdrop-fingerprint-v1\n" + str(recipient).encode()).digest()
    letters = base64.b32encode(digest[:10]).decode()
    expected = "-".join(letters[i : i + 4] for i in range(0, 16, 4))
    assert fingerprint(recipient) == expected
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", expected)
    assert fingerprint(X25519Recipient.parse(str(recipient))) == expected
    assert fingerprint(_recipient()) != expected


def test_demo_key_refused_unless_demo(tmp_path: Path) -> None:
    """The demo's private key sits unprotected next to the demo server: its public key
    must never end up sealing real submissions (`serve --keys demo/keys`, or demo.txt
    copied into the real keys/)."""
    from leakdrop.server.run import prepare_demo

    keys, _ = prepare_demo(tmp_path / "demo")
    with pytest.raises(KeysError, match="demo"):
        load_recipients_dir(keys)
    # Copied among real editors' keys: refused just the same, naming the file.
    real = tmp_path / "keys"
    real.mkdir()
    (real / "alice.txt").write_text(f"{_recipient()}\n")
    (real / "demo.txt").write_bytes((keys / "demo.txt").read_bytes())
    with pytest.raises(KeysError, match=r"demo\.txt"):
        load_recipients_dir(real)
    # Only the demo itself accepts it.
    assert len(load_recipients_dir(keys, allow_demo=True)) == 1


def test_serve_refuses_the_demo_key(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    from leakdrop.server.run import prepare_demo

    prepare_demo(work / "demo")
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("leakdrop")),
            "serve",
            "--keys",
            str(work / "demo" / "keys"),
            "--storage",
            str(tmp_path / "st"),
            "--host",
            "0.0.0.0",  # what an accidental production start would use
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=work,
    )
    assert result.returncode == 1, result.stderr
    assert "refusing to start" in result.stderr and "demo" in result.stderr
    assert not (tmp_path / "st").exists()
