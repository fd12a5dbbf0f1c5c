"""Post-quantum keys (age's mlkem768x25519) end to end, with the real commands and server.

`leakdrop keygen --pq` makes a passphrase-protected identity; a server whose keys/ holds
`age1pq1...` recipients seals each submission with one mlkem768x25519 stanza per editor and
nothing else; `leakdrop open` opens it, and an identity file holding both kinds opens old and
new submissions; a keys/ folder mixing the kinds is refused at start with one line; sources'
reply keys become post-quantum with the editors' keys. typage (age-encryption on npm, by
age's author: an independent age 1.3) opens what we seal and we open what it seals.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.live_server import (
    LEAKDROP,
    ServerFactory,
    live_server,
    open_submission,
    sealed_files,
    submit,
)
from support.pickup import run_leakdrop

from leakdrop.codename import derive, normalise
from leakdrop.mailboxes import Mailboxes
from leakdrop.offline.reply import ReplyError, seal_reply
from leakdrop.sealing import (
    HybridIdentity,
    HybridRecipient,
    X25519Identity,
    decrypt,
    encrypt,
    parse_identities_file,
)
from leakdrop.submission import ReplyAddress

__all__ = ["live_server"]

pytestmark = pytest.mark.timeout(300)

INTEROP = Path(__file__).resolve().parent / "interop"
STANZA_LINE = re.compile(rb"^-> (\S+)", re.MULTILINE)


def header_types(sealed: bytes) -> list[bytes]:
    header = sealed.split(b"\n--- ", 1)[0]
    return STANZA_LINE.findall(header)


def keygen_pq(tmp_path: Path, name: str) -> tuple[Path, str]:
    passphrase = tmp_path / f"{name}.pass"
    passphrase.write_text("correct horse battery staple ink\n")
    out = tmp_path / f"{name}-identity.age"
    result = run_leakdrop("keygen", "--pq", "--out", out, "--passphrase-file", passphrase)
    assert result.returncode == 0, result.stderr
    (recipient,) = re.findall(r"public key: (age1pq1[0-9a-z]+)", result.stdout)
    assert re.search(r"fingerprint: [A-Z2-7]{4}(-[A-Z2-7]{4}){3}", result.stdout)
    assert out.read_bytes().startswith(b"age-encryption.org/v1\n-> scrypt ")
    return out, recipient


def test_keygen_pq_server_and_open(live_server: ServerFactory, tmp_path: Path) -> None:
    alice_file, alice = keygen_pq(tmp_path, "alice")
    _, bob = keygen_pq(tmp_path, "bob")
    keys = tmp_path / "pq-keys"
    keys.mkdir()
    (keys / "alice.txt").write_text(alice + "\n")
    (keys / "bob.txt").write_text(f"# bob\n{bob}\n")
    server = live_server("--keys", str(keys))
    response = submit(server, [("note.txt", b"le contrat, version 3\n")], "message pq")
    assert response.status_code == 200, response.text
    (sealed,) = sealed_files(server.storage)
    data = sealed.read_bytes()
    assert header_types(data) == [b"mlkem768x25519", b"mlkem768x25519"]

    out = tmp_path / "opened"
    opened = run_leakdrop(
        "open",
        "--identity",
        alice_file,
        "--passphrase-file",
        tmp_path / "alice.pass",
        "--out",
        out,
        sealed,
    )
    assert opened.returncode == 0, opened.stderr
    texts = [p.read_bytes() for p in out.rglob("*.txt") if p.name != "message.txt"]
    assert b"le contrat, version 3\n" in texts
    messages = [p.read_text() for p in out.rglob("message.txt")]
    assert messages == ["message pq"]


def test_mixed_keys_folder_is_refused_with_one_line(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "alice.txt").write_text(f"{HybridIdentity.generate().recipient()}\n")
    (keys / "bob.txt").write_text(f"{X25519Identity.generate().recipient()}\n")
    result = subprocess.run(
        [LEAKDROP, "serve", "--keys", str(keys), "--storage", str(tmp_path / "s"), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "mixed" in line]
    assert len(lines) == 1, result.stderr
    assert "alice.txt" in lines[0] and "bob.txt" in lines[0] and "keygen --pq" in lines[0]


def test_sealing_refuses_to_mix_kinds() -> None:
    with pytest.raises(ValueError, match="cannot be mixed"):
        encrypt(
            io.BytesIO(),
            [HybridIdentity.generate().recipient(), X25519Identity.generate().recipient()],
        )


def test_one_identity_file_opens_both_kinds(tmp_path: Path) -> None:
    old, new = X25519Identity.generate(), HybridIdentity.generate()
    identities = parse_identities_file(f"# old\n{old}\n# new\n{new}\n")
    for recipient in (old.recipient(), new.recipient()):
        sink = io.BytesIO()
        with encrypt(sink, [recipient]) as writer:
            writer.write(b"either kind")
        with decrypt(io.BytesIO(sink.getvalue()), identities) as reader:
            assert reader.read() == b"either kind"


def test_reply_keys_follow_the_editors_keys(live_server: ServerFactory, tmp_path: Path) -> None:
    editor = HybridIdentity.generate()
    keys = tmp_path / "pq-keys"
    keys.mkdir()
    (keys / "editor.txt").write_text(f"{editor.recipient()}\n")
    server = live_server("--keys", str(keys))
    response = submit(server, [], "a tip, and a codename for the answer", lang="en")
    assert response.status_code == 200, response.text
    (codename,) = re.findall(r'<p id="codename"[^>]*>([^<]+)</p>', response.text)
    (sealed,) = sealed_files(server.storage)
    opened = open_submission(sealed, editor, tmp_path / "o")  # type: ignore[arg-type]
    address = ReplyAddress(**opened.manifest["reply"])
    assert address.recipient.startswith("age1pq1")
    source_keys = derive(normalise(codename.strip()), Mailboxes(server.storage).salt)
    assert address.recipient == str(source_keys.reply_recipient(post_quantum=True))
    reply = seal_reply(b"merci", address, [editor.recipient()])
    assert header_types(reply) == [b"mlkem768x25519", b"mlkem768x25519"]
    with decrypt(io.BytesIO(reply), source_keys.reply_identities()) as reader:
        assert reader.read() == b"merci"
    # A classical copy for the newsroom cannot go with a post-quantum reply key.
    with pytest.raises(ReplyError, match="post-quantum"):
        seal_reply(b"merci", address, [X25519Identity.generate().recipient()])


def typage(*args: str | Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node is not None, "node is a test dependency (scripts/dev)"
    assert (INTEROP / "node_modules" / "age-encryption").is_dir(), "run scripts/dev test"
    return subprocess.run(
        [node, INTEROP / "typage.mjs", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=INTEROP,
    )


def test_typage_opens_what_we_seal_and_we_open_what_it_seals(tmp_path: Path) -> None:
    ours = HybridIdentity.generate()
    plaintext = bytes(range(256)) * 700  # several STREAM chunks
    (tmp_path / "plain").write_bytes(plaintext)
    sink = io.BytesIO()
    with encrypt(sink, [ours.recipient()]) as writer:
        writer.write(plaintext)
    (tmp_path / "ours.age").write_bytes(sink.getvalue())
    result = typage("decrypt", str(ours), tmp_path / "ours.age", tmp_path / "by-typage")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "by-typage").read_bytes() == plaintext

    keys = typage("keygen")
    assert keys.returncode == 0, keys.stderr
    identity_text, recipient_text = keys.stdout.split()
    assert str(HybridIdentity.parse(identity_text).recipient()) == recipient_text
    assert isinstance(HybridRecipient.parse(recipient_text), HybridRecipient)
    result = typage("encrypt", recipient_text, tmp_path / "plain", tmp_path / "theirs.age")
    assert result.returncode == 0, result.stderr
    theirs = (tmp_path / "theirs.age").read_bytes()
    assert header_types(theirs) == [b"mlkem768x25519"]
    with decrypt(io.BytesIO(theirs), [HybridIdentity.parse(identity_text)]) as reader:
        assert reader.read() == plaintext
