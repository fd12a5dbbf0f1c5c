"""Interop with tools nobody here wrote: Debian's `age` CLI (Go) and pyrage (Rust, rage).

Both directions, sizes around the 64 KiB chunk boundary and a few MiB, one and three
recipients, ASCII armor, and passphrase files (`age -p`, driven through a pseudo-terminal
because age reads passphrases from the terminal only).
"""

from __future__ import annotations

import io
import os
import pty
import select
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import pytest

from leakdrop.sealing import (
    AnyIdentity,
    Identity,
    NoIdentityMatchError,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    decrypt,
    encrypt,
    parse_identities_file,
    parse_recipients_file,
)

AGE = shutil.which("age") or "/usr/bin/age"
AGE_KEYGEN = shutil.which("age-keygen") or "/usr/bin/age-keygen"
CHUNK = 64 * 1024
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * 1024 * 1024 + 12345]
PTY_TIMEOUT = 60.0


def test_age_cli_is_installed() -> None:
    # No skip: scripts/dev installs Debian's age; without it this whole file is meaningless.
    assert Path(AGE).is_file() and Path(AGE_KEYGEN).is_file()


def run(*argv: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def run_with_pty(argv: list[str], passphrase: str) -> tuple[int, str]:
    """Run `argv` with a pseudo-terminal as controlling terminal, answering every
    passphrase prompt it prints. Returns (exit status, terminal output)."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is its controlling terminal, as age requires
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    output = b""
    answered = 0
    timed_out = True
    deadline = time.monotonic() + PTY_TIMEOUT
    try:
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal (it is exiting)
                data = b""
            if not data:
                timed_out = False
                break
            output += data
            while output.lower().count(b"passphrase") > answered:
                os.write(fd, passphrase.encode() + b"\n")
                answered += 1
    finally:
        os.close(fd)
    if timed_out:  # do not leave it behind
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail(f"{argv[:2]} did not finish; terminal said: {output!r}")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def finish(pid_status: tuple[int, str]) -> str:
    code, output = pid_status
    assert code == 0, output
    return output


@pytest.fixture(scope="module")
def editors(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[AnyIdentity, Path]]:
    """Three editors, keys made by `age-keygen` and read with our identity-file parser."""
    folder = tmp_path_factory.mktemp("keys")
    out = []
    for n in range(3):
        path = folder / f"editor{n}.txt"
        run(AGE_KEYGEN, "-o", str(path))
        (identity,) = parse_identities_file(path.read_text())
        # age-keygen -y derives the public key: ours must agree.
        assert run(AGE_KEYGEN, "-y", str(path)).decode().strip() == str(identity.recipient())
        out.append((identity, path))
    return out


def payload(size: int) -> bytes:
    return os.urandom(size)


def seal_ours(data: bytes, recipients: Sequence[Recipient]) -> bytes:
    buf = io.BytesIO()
    with encrypt(buf, recipients) as writer:
        writer.write(data)
    return buf.getvalue()


def open_ours(sealed: bytes, identities: Sequence[Identity]) -> bytes:
    with decrypt(io.BytesIO(sealed), identities) as reader:
        return reader.read()


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize("size", SIZES)
def test_ours_opened_by_age(
    size: int, count: int, editors: list[tuple[X25519Identity, Path]], tmp_path: Path
) -> None:
    data = payload(size)
    chosen = editors[:count]
    sealed_path = tmp_path / "sealed.age"
    sealed_path.write_bytes(seal_ours(data, [ident.recipient() for ident, _ in chosen]))
    for _, key_path in chosen:  # every editor can open it on their own
        assert run(AGE, "-d", "-i", str(key_path), str(sealed_path)) == data


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize("size", SIZES)
def test_age_opened_by_ours(
    size: int, count: int, editors: list[tuple[X25519Identity, Path]], tmp_path: Path
) -> None:
    data = payload(size)
    plain = tmp_path / "plain"
    plain.write_bytes(data)
    chosen = editors[:count]
    args = [a for ident, _ in chosen for a in ("-r", str(ident.recipient()))]
    sealed = run(AGE, "-e", *args, str(plain))
    for ident, _ in chosen:
        assert open_ours(sealed, [ident]) == data
    if count == 1:  # and nobody else
        with pytest.raises(NoIdentityMatchError):
            open_ours(sealed, [editors[2][0]])


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 3 * 1024 * 1024])
def test_age_armor_opened_by_ours(
    size: int, editors: list[tuple[X25519Identity, Path]], tmp_path: Path
) -> None:
    data = payload(size)
    plain = tmp_path / "plain"
    plain.write_bytes(data)
    recipients_file = tmp_path / "recipients.txt"
    recipients_file.write_text(
        "# two editors\n" + "".join(f"{i.recipient()}\n" for i, _ in editors[:2])
    )
    assert parse_recipients_file(recipients_file.read_text()) == [
        i.recipient() for i, _ in editors[:2]
    ]
    armored = run(AGE, "-e", "-a", "-R", str(recipients_file), str(plain))
    assert armored.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert open_ours(armored, [editors[1][0]]) == data


def test_age_passphrase_file_opened_by_ours(tmp_path: Path) -> None:
    """`age -p` (what keygen's protected identity files must look like) opens with ours."""
    data = f"# created by age -p\n{X25519Identity.generate()}\n".encode()
    plain = tmp_path / "identity.txt"
    plain.write_bytes(data)
    out = tmp_path / "identity.txt.age"
    finish(run_with_pty([AGE, "-p", "-o", str(out), str(plain)], "correct horse battery"))
    sealed = out.read_bytes()
    assert b"\n-> scrypt " in sealed
    assert open_ours(sealed, [ScryptIdentity(b"correct horse battery")]) == data
    with pytest.raises(NoIdentityMatchError):
        open_ours(sealed, [ScryptIdentity(b"wrong")])


@pytest.mark.parametrize("work_factor", [10, 18])
def test_ours_passphrase_opened_by_age(work_factor: int, tmp_path: Path) -> None:
    data = payload(CHUNK + 1)
    sealed = tmp_path / "sealed.age"
    sealed.write_bytes(seal_ours(data, [ScryptRecipient(b"hunter2 hunter2", work_factor)]))
    out = tmp_path / "opened"
    finish(run_with_pty([AGE, "-d", "-o", str(out), str(sealed)], "hunter2 hunter2"))
    assert out.read_bytes() == data
    code, said = run_with_pty([AGE, "-d", "-o", str(tmp_path / "no"), str(sealed)], "wrong")
    assert code != 0 and "incorrect passphrase" in said.lower()


def test_ours_passphrase_protected_identity_works_as_age_identity(
    editors: list[tuple[X25519Identity, Path]], tmp_path: Path
) -> None:
    """An identity file we protect with scrypt is usable by `age -d -i` (keygen's contract)."""
    ident, key_path = editors[0]
    protected = tmp_path / "identity.age"
    protected.write_bytes(seal_ours(key_path.read_bytes(), [ScryptRecipient(b"pw pw pw", 12)]))
    data = payload(1000)
    sealed = tmp_path / "msg.age"
    sealed.write_bytes(seal_ours(data, [ident.recipient()]))
    out = tmp_path / "msg"
    finish(run_with_pty([AGE, "-d", "-i", str(protected), "-o", str(out), str(sealed)], "pw pw pw"))
    assert out.read_bytes() == data


# ---------------------------------------------------------------- pyrage: a second oracle


def test_pyrage_opens_ours_three_recipients() -> None:
    keys = [pyrage.x25519.Identity.generate() for _ in range(3)]
    ours = [X25519Identity.parse(str(k)) for k in keys]
    data = payload(CHUNK + 1)
    sealed = seal_ours(data, [i.recipient() for i in ours])
    for key in keys:
        assert pyrage.decrypt(sealed, [key]) == data
    assert [str(i.recipient()) for i in ours] == [str(k.to_public()) for k in keys]


@pytest.mark.parametrize("size", [0, CHUNK, 2 * CHUNK + 3])
def test_ours_opens_pyrage(size: int) -> None:
    key = pyrage.x25519.Identity.generate()
    data = payload(size)
    sealed = pyrage.encrypt(data, [key.to_public(), pyrage.x25519.Identity.generate().to_public()])
    assert open_ours(sealed, [X25519Identity.parse(str(key))]) == data


def test_passphrase_both_ways_with_pyrage() -> None:
    data = payload(CHUNK - 1)
    sealed = pyrage.passphrase.encrypt(data, "pyrage pass")
    assert open_ours(sealed, [ScryptIdentity(b"pyrage pass")]) == data
    ours = seal_ours(data, [ScryptRecipient(b"our pass", work_factor=12)])
    assert pyrage.passphrase.decrypt(ours, "our pass") == data
