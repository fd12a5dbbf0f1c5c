"""Fuzzing POST /submit in process (the ASGI app, driven message by message).

Hypothesis builds multipart bodies from real parts (files of every cleaned type, messages,
unknown fields, raw header lines) and then breaks them: wrong or missing boundaries, odd
Content-Type and Content-Length headers, truncation, flipped bytes, the body cut into
arbitrary chunks, a client that disconnects midway. For every request:

- the app answers (no exception escapes), never with a 5xx, and with a page (HTML in the
  requested language) unless the client had already gone;
- a 200 means exactly one new sealed submission that opens with the editor's key; any other
  answer means nothing new was stored;
- nothing is left in incoming/ or spool/, and no spool file is left open.

Bounded: a fixed number of examples, no per-example deadline (a cleaning worker may be slow
on a loaded CI machine).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.fixtures_office import jpeg_with_gps, png_plain
from support.fixtures_pdf import small_pdf
from support.live_server import open_submission, simple_docx

from leakdrop.sealing import X25519Identity
from leakdrop.server import Limits, ServerConfig, create_app

pytestmark = pytest.mark.timeout(600)

LIMITS = Limits(
    max_submission_bytes=64 * 1024,
    max_files=4,
    max_message_chars=300,
    max_concurrent=4,
    min_free_bytes=0,
    idle_timeout=10.0,
    max_part_header_bytes=2048,
    max_drain_bytes=1024 * 1024,
)

REAL_FILES = [
    jpeg_with_gps(),
    png_plain(),
    small_pdf("Marker-Fuzz-Author"),
    simple_docx("fuzz", "Marker-Fuzz-Author"),
    b"plain text, kept as received\n",
    b"",
]


@dataclass
class App:
    app: Any
    storage: Path
    identity: X25519Identity
    workdir: Path


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    workdir = tmp_path_factory.mktemp("fuzz")
    identity = X25519Identity.generate()
    storage = workdir / "storage"
    config = ServerConfig(storage=storage, recipients=(identity.recipient(),), limits=LIMITS)
    yield App(create_app(config), storage, identity, workdir)


# ----------------------------------------------------------------------------- strategies

BOUNDARY_CHARS = "0123456789abcdefABCDEF'()+_,-./:=? "
safe_boundaries = st.text(BOUNDARY_CHARS, min_size=1, max_size=70).map(lambda s: s.strip() or "b")
boundaries = st.one_of(safe_boundaries, st.text(min_size=0, max_size=80))  # or anything
filenames = st.one_of(
    st.sampled_from(["a.jpg", "doc.pdf", "x.docx", "../../etc/passwd", "a\u202egpj.exe", ""]),
    st.text(max_size=60),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
)
contents = st.one_of(st.sampled_from(REAL_FILES), st.binary(max_size=2048))


@st.composite
def parts(draw: st.DrawFn, broken: bool) -> bytes:
    kinds = ["file", "file", "message", "other", "raw"] if broken else ["file", "message"]
    kind = draw(st.sampled_from(kinds))
    if kind == "file":
        name = draw(filenames)
        if not broken:
            name = "".join(c for c in name if c not in '"\r\n\x00')
        name = name.replace('"', "%22")
        head = f'Content-Disposition: form-data; name="files"; filename="{name}"\r\n'
        head += draw(st.sampled_from(["", "Content-Type: application/octet-stream\r\n"]))
        return head.encode("utf-8", "surrogatepass") + b"\r\n" + draw(contents)
    if kind == "message":
        text = st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass"))
        value = draw(st.one_of(text, st.binary(max_size=400)) if broken else text)
        return b'Content-Disposition: form-data; name="message"\r\n\r\n' + value
    if kind == "other":
        field = draw(st.text("abcxyz_[]", min_size=1, max_size=10))
        return f'Content-Disposition: form-data; name="{field}"\r\n\r\n'.encode() + draw(
            st.binary(max_size=100)
        )
    return draw(st.binary(max_size=300))  # no headers at all, or garbage


@dataclass
class Request:
    headers: list[tuple[bytes, bytes]]
    chunks: list[bytes]
    disconnect_after: int | None
    lang: str


def _maybe(draw: st.DrawFn, broken: bool) -> bool:
    """A mutation applies (often, in a broken request; never in a well-formed one)."""
    return broken and draw(st.booleans())


@st.composite
def requests(draw: st.DrawFn) -> Request:
    # A third of the requests are well-formed (so that acceptance is fuzzed too: names,
    # contents, chunking), the rest broken in one or more ways.
    broken = draw(st.integers(0, 2)) > 0
    boundary = draw(boundaries if broken else safe_boundaries)
    raw_boundary = boundary.encode("utf-8", "surrogatepass")
    body = b"".join(
        b"--" + raw_boundary + b"\r\n" + part + b"\r\n"
        for part in draw(st.lists(parts(broken), min_size=0 if broken else 1, max_size=5))
    )
    if not _maybe(draw, broken):
        body += b"--" + raw_boundary + b"--\r\n"
    if body and _maybe(draw, broken):
        body = body[: draw(st.integers(0, len(body)))]
    if body and _maybe(draw, broken):
        pos = draw(st.integers(0, len(body) - 1))
        body = body[:pos] + bytes([body[pos] ^ draw(st.integers(1, 255))]) + body[pos + 1 :]
    content_type: str | None = draw(
        st.sampled_from(
            [
                f"multipart/form-data; boundary={boundary}",
                f'multipart/form-data; boundary="{boundary}"',
            ]
        )
    )
    if _maybe(draw, broken):
        content_type = draw(
            st.one_of(
                st.sampled_from(
                    [
                        None,
                        "multipart/form-data",
                        "multipart/form-data; boundary=",
                        "application/x-www-form-urlencoded",
                        "text/plain",
                        "multipart/mixed; boundary=x",
                    ]
                ),
                st.text(max_size=100),
            )
        )
    length: str | None = str(len(body)) if draw(st.integers(0, 3)) else None
    if _maybe(draw, broken):
        length = draw(
            st.one_of(
                st.integers(0, 2 * len(body) + 10).map(str),
                st.sampled_from(["-1", "abc", "1e3", " 12", "99999999999999999999"]),
            )
        )
    headers = [(b"host", b"test")]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode("utf-8", "surrogatepass")))
    if length is not None:
        headers.append((b"content-length", length.encode()))
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=6)))
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    disconnect = draw(st.integers(0, len(chunks))) if _maybe(draw, broken) else None
    return Request(headers, chunks, disconnect, draw(st.sampled_from(["fr", "en"])))


# ----------------------------------------------------------------------------- driving


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


async def call(app: Any, request: Request) -> Answer:
    scope: MutableMapping[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/submit",
        "raw_path": b"/submit",
        "query_string": f"lang={request.lang}".encode(),
        "root_path": "",
        "headers": request.headers,
        "client": None,
        "server": ("127.0.0.1", 8080),
    }
    queue = list(request.chunks)
    sent = 0

    async def receive() -> MutableMapping[str, Any]:
        nonlocal sent
        if request.disconnect_after is not None and sent >= request.disconnect_after:
            return {"type": "http.disconnect"}
        if not queue:
            # The body is over; a well-behaved server does not ask again, but if it does,
            # the client is gone.
            return {"type": "http.disconnect"}
        chunk = queue.pop(0)
        sent += 1
        return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

    messages: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=120)
    starts = [m for m in messages if m["type"] == "http.response.start"]
    assert len(starts) == 1, messages
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Answer(starts[0]["status"], dict(starts[0].get("headers", [])), body)


def open_fds_under(root: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(root)):
            found.append(target)
    return found


@settings(
    max_examples=int(os.environ.get("LEAKDROP_FUZZ_EXAMPLES", "300")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(request=requests())
def test_fuzzed_submissions_are_answered_cleanly(app: App, request: Request) -> None:
    submissions = app.storage / "submissions"
    before = set(submissions.iterdir())
    answer = asyncio.run(call(app.app, request))
    event(f"status {answer.status}")

    assert answer.status < 500, answer
    assert answer.status in (200, 400, 413), answer.status
    client_left = request.disconnect_after is not None and request.disconnect_after < len(
        request.chunks
    )
    if answer.body or not client_left:
        # A page, in the language asked for, with the security headers.
        assert answer.headers.get(b"content-type", b"").startswith(b"text/html"), answer
        assert answer.body.startswith(b"<!DOCTYPE html>"), answer.body[:200]
        assert f'<html lang="{request.lang}">'.encode() in answer.body
    assert b"content-security-policy" in answer.headers

    after = set(submissions.iterdir())
    new = sorted(after - before)
    assert before <= after
    if answer.status == 200:
        assert len(new) == 1, new
        dest = app.workdir / "opened"
        try:
            opened = open_submission(new[0], app.identity, dest)
            # A tip is files, a message, or both.
            assert opened.entries or opened.message is not None
        finally:
            shutil.rmtree(dest, ignore_errors=True)
    else:
        assert new == [], f"status {answer.status} but {new} stored"
    assert list((app.storage / "incoming").iterdir()) == []
    assert list((app.storage / "spool").iterdir()) == []
    assert open_fds_under(app.storage) == [], "a spool file was left open"


def test_fuzz_harness_sees_a_good_submission(app: App) -> None:
    """The driver itself works: a correct body gets a receipt and a sealed file (so the
    fuzz run's many refusals are not just a broken harness)."""
    boundary = "fuzzHarnessCheck"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n'
        ).encode()
        + jpeg_with_gps()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = Request(
        [
            (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        [body[:100], body[100:]],
        None,
        "en",
    )
    before = set((app.storage / "submissions").iterdir())
    answer = asyncio.run(call(app.app, request))
    assert answer.status == 200, answer.body[:500]
    page = re.sub(rb"<[^>]+>", b"", answer.body)  # the visible text (<wbr> and all gone)
    assert b"exif:GPS" in page, page[:1500]
    new = set((app.storage / "submissions").iterdir()) - before
    assert len(new) == 1
    opened = open_submission(new.pop(), app.identity, app.workdir / "harness")
    assert opened.entries[0]["cleaned"] is True
    assert "exif:GPS" in opened.entries[0]["removed"]
