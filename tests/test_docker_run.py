"""The drop running in its hardened container, end to end.

A file is submitted from inside the container's own network namespace (`podman exec`
running Python against 127.0.0.1); the sealed submission must appear in the storage volume,
open with the editor's key (`age -d` + `tar`), and be the only thing written. Then the
compose file's `pickup` service, with a token made by `leakdrop token add` in the image,
lists, downloads and confirms it over its API, and it is gone from the volume.

Built and run by the harness in `support.podman` (see there for what it needs:
root, podman, runc, debootstrap, age, network access to the mirrors); missing tools
skip the module, except under CI=true where they fail it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import re
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.podman import (
    SERVER_UID,
    Images,
    _compose_service,
    _container,
    _editor_keys,
    _hardening_flags,
    _logs,
    _volume,
    _wait_healthy,
    images,
)

__all__ = ["images"]  # the fixture

pytestmark = pytest.mark.slow


# --- the drop, end to end ------------------------------------------------------------------------

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


# --- the editors' pickup -------------------------------------------------------------------------

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
