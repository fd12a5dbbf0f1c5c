"""Returning sources end to end, every part a real process: a source submits and gets a
codename, the editor fetches, opens and replies offline, `fetch` delivers the reply, the
source reads it with the codename typed sloppily, writes again through the one-time form,
the follow-up arrives with the same reply address, the source deletes the reply.

The server runs under strace: no write to any file, during the whole flow, holds the
codename, the mailbox id or the reply's text (the sockets, which carry the pages, are the
only place they may go).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.live_server import free_port
from support.pickup import (
    LEAKDROP,
    Pickup,
    SocksRelay,
    add_token,
    run_leakdrop,
    write_token_file,
)

from leakdrop.codename import derive, normalise
from leakdrop.mailboxes import Mailboxes

ONION = "editorsexampleexampleexampleexampleexampleexampleabcd.onion"
REPLY_TEXT = "Merci ! Quelle version du contrat est-ce ? Réponse-témoin 7f3a"


@dataclass(frozen=True)
class Traced:
    url: str
    storage: Path
    trace: Path
    stop: Callable[[], None]  # then the trace is complete


@pytest.fixture
def traced_server(tmp_path: Path, editor_identity: Any) -> Iterator[Traced]:
    """`leakdrop serve` under strace."""
    strace = shutil.which("strace")
    assert strace is not None, "strace is a test dependency (scripts/dev)"
    storage = tmp_path / "storage"
    trace = tmp_path / "serve.trace"
    log = (tmp_path / "serve.log").open("wb")
    port = free_port()
    proc = subprocess.Popen(
        [
            strace,
            "-f",
            "-qq",
            "-y",  # each descriptor with what it is: a path, or socket:[...]
            "-xx",
            "-s",
            "1000000",
            "-e",
            "trace=write,pwrite64,writev,pwritev,pwritev2,sendto,sendmsg",
            "-o",
            str(trace),
            *LEAKDROP,
            "serve",
            "--keys",
            str(editor_identity.keys_dir),
            "--storage",
            str(storage),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={"LEAKDROP_MIN_FREE_BYTES": "0", "PATH": "/usr/bin:/bin"},
    )
    url = f"http://127.0.0.1:{port}"

    def stop() -> None:
        if proc.poll() is not None:
            return
        # The whole group: strace passes a signal on, but the server must get it itself.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "source server did not start"
                time.sleep(0.1)  # polling for readiness, bounded by the deadline
        yield Traced(url, storage, trace, stop)
    finally:
        stop()
        log.close()


_WRITE = re.compile(
    r"^\d+\s+(?:write|pwrite64|writev|pwritev|pwritev2|sendto|sendmsg)"
    r"\(\d+<((?:\\x[0-9a-f]{2})*)>, (.*)$",
    re.M,
)
_STRING = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')


def _unhex(text: str) -> bytes:
    return bytes.fromhex(text.replace("\\x", ""))


def _writes(trace: Path) -> list[tuple[str, bytes]]:
    """(what the descriptor is, bytes) of every write the trace saw."""
    found = []
    for match in _WRITE.finditer(trace.read_text("latin-1")):
        target = _unhex(match.group(1)).decode("utf-8", "replace")
        data = b"".join(_unhex(m.group(1)) for m in _STRING.finditer(match.group(2)))
        found.append((target, data))
    return found


def _is_file(target: str) -> bool:
    return not target.startswith(("socket:", "pipe:", "anon_inode:", "/dev/"))


def _fetch(relay: SocksRelay, token_file: Path, usb: Path) -> subprocess.CompletedProcess[str]:
    result = run_leakdrop(
        "fetch",
        "--server",
        f"http://{ONION}",
        "--socks",
        relay.address,
        "--token-file",
        token_file,
        "--out",
        usb,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _submit(url: str, query: str, files: list[tuple[str, bytes]], message: str) -> httpx.Response:
    return httpx.post(
        f"{url}/submit?{query}",
        files=[("files", (n, d, "application/octet-stream")) for n, d in files],
        data={"message": message},
        timeout=120,
    )


def _manifests(laptop: Path) -> list[dict[str, Any]]:
    return [
        json.loads((folder / "manifest.json").read_text())
        for folder in laptop.iterdir()
        if folder.is_dir()
    ]


def test_codename_reply_follow_up_delete(
    tmp_path: Path, editor_identity: Any, traced_server: Traced
) -> None:
    url, storage, trace = traced_server.url, traced_server.storage, traced_server.trace
    receipt = _submit(url, "lang=fr", [("note.txt", b"first document\n")], "premier envoi")
    assert receipt.status_code == 200, receipt.text[:2000]
    found = re.search(r'<p id="codename"[^>]*>([^<]+)</p>', receipt.text)
    assert found, receipt.text
    codename = html.unescape(found.group(1))
    assert len(codename.split()) == 7
    # No link to the other language: following it would lose the codename.
    assert "?lang=en" not in receipt.text.split("<main", 1)[0]

    tokens = tmp_path / "tokens.json"
    token_file = write_token_file(tmp_path / "token.txt", add_token(tokens, "alice"))
    pickup = Pickup(storage, tokens, tmp_path / "pickup.log").start()
    relay = SocksRelay(("127.0.0.1", pickup.port)).start()
    usb = tmp_path / "usb"
    laptop = tmp_path / "laptop"
    try:
        _fetch(relay, token_file, usb)
        (first,) = usb.glob("*.age")

        # The editor answers, offline, to the address in the sealed manifest.
        message = tmp_path / "reply.txt"
        message.write_text(REPLY_TEXT + "\n", encoding="utf-8")
        replied = run_leakdrop(
            "reply",
            "--identity",
            editor_identity.identity_file,
            "--to",
            first,
            "--message-file",
            message,
            "--out",
            usb / "outbox",
        )
        assert replied.returncode == 0, replied.stderr
        sent = _fetch(relay, token_file, usb)
        assert "1 reply(ies) sent" in sent.stderr, sent.stderr
        assert [p.name for p in (usb / "outbox").iterdir()] == ["sent"]
        assert len(list((usb / "outbox" / "sent").iterdir())) == 1

        # The source comes back, typing the words in capitals with extra spaces.
        typed = "  " + "   ".join(codename.upper().split()) + " "
        page = httpx.post(f"{url}/mailbox?lang=fr", data={"codename": typed}, timeout=60)
        assert page.status_code == 200, page.text
        assert html.escape(REPLY_TEXT, quote=False) in page.text
        followup = re.search(r'action="/submit\?lang=fr&amp;followup=([^"]+)"', page.text)
        delete = re.search(r'name="token" value="([^"]+)"', page.text)
        assert followup and delete

        wrong = httpx.post(
            f"{url}/mailbox?lang=fr", data={"codename": "pas le bon nom de code"}, timeout=60
        )
        assert wrong.status_code == 404 and "Aucune boîte aux lettres" in wrong.text

        again = _submit(
            url,
            f"lang=fr&followup={followup.group(1)}",
            [("annexe.txt", b"the annex\n")],
            "voici l'annexe",
        )
        assert again.status_code == 200, again.text[:2000]
        assert 'id="codename"' not in again.text and "conversation" in again.text
        reused = _submit(
            url, f"lang=fr&followup={followup.group(1)}", [("x.txt", b"x\n")], "encore"
        )
        assert reused.status_code == 400 and "expiré ou a déjà servi" in reused.text
        assert len(list((storage / "submissions").iterdir())) == 1  # the reused one: nothing

        _fetch(relay, token_file, usb)
    finally:
        relay.stop()
        pickup.stop()

    opened = run_leakdrop("open", "--identity", editor_identity.identity_file, "--out", laptop, usb)
    assert opened.returncode == 0, opened.stderr
    manifests = _manifests(laptop)
    assert len(manifests) == 2
    addresses = {json.dumps(m["reply"], sort_keys=True) for m in manifests}
    assert len(addresses) == 1  # one conversation: the follow-up has the same reply address
    keys = derive(normalise(codename), Mailboxes(storage).salt)
    assert manifests[0]["reply"]["mailbox"] == keys.mailbox_id.hex()

    # The source deletes what it read: the reply is gone from the storage.
    gone = httpx.post(f"{url}/mailbox/delete?lang=fr", data={"token": delete.group(1)}, timeout=60)
    assert gone.status_code == 200 and "1\u00a0réponse a été effacée" in gone.text
    assert not [p for p in (storage / "mailboxes").rglob("*.age")]
    later = httpx.post(f"{url}/mailbox?lang=fr", data={"codename": codename}, timeout=60)
    assert later.status_code == 200 and "Pas encore de réponse" in later.text

    # Nothing identifying in any file the server wrote, nor in the logs.
    needles = [
        codename.encode(),
        codename.upper().encode(),
        keys.mailbox_id.hex().encode(),
        keys.mailbox_id,
        REPLY_TEXT.encode(),
        "Réponse-témoin".encode("utf-16-le"),
    ]
    traced_server.stop()
    writes = _writes(trace)
    # The trace sees what it must: the receipt page went out on a socket with the codename,
    # and the sealed submissions went into the storage.
    assert any(codename.encode() in data for target, data in writes if not _is_file(target))
    assert any(target.startswith(str(storage)) for target, _ in writes)
    for path, data in [(t, d) for t, d in writes if _is_file(t)]:
        for needle in needles:
            assert needle not in data, (path, needle)
    for log in (tmp_path / "serve.log", tmp_path / "pickup.log"):
        text = log.read_bytes()
        for needle in needles:
            assert needle not in text, (log, needle)


def test_many_lookups_at_once_are_answered(tmp_path: Path, traced_server: Traced) -> None:
    url = traced_server.url

    def look(n: int) -> int:
        words = " ".join(["mot"] * 6 + [f"essai{chr(97 + n)}"])
        return httpx.post(f"{url}/mailbox", data={"codename": words}, timeout=120).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(look, range(20)))
    # Every one answered with a page: unknown codename (or, past the queue, busy).
    assert set(statuses) <= {404, 503} and statuses.count(404) >= 2, statuses
    assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/mailbox", {"codename": ""}),
        ("/mailbox", {"codename": "x" * 5000}),
        ("/mailbox", {"other": "field"}),
        ("/mailbox/delete", {"token": "forged"}),
        ("/mailbox/delete", {}),
    ],
)
def test_bad_mailbox_requests_get_pages(
    traced_server: Traced, path: str, data: dict[str, str]
) -> None:
    url = traced_server.url
    response = httpx.post(f"{url}{path}?lang=en", data=data, timeout=60)
    assert 400 <= response.status_code < 500, response.status_code
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>" in response.text and "Traceback" not in response.text
