"""Many sources at once against the real server, with its default settings.

50 sources at once: all sealed, all open, no mix-ups. And 50 connections that trickle a few
bytes a second while 20 sources send at once: 20 receipts, and the trickling connections
are cut (minimum upload rate after the grace period) without leaving anything.

Each source sends a PDF, a phone photo, a text note and (one in three) a Word document, each
carrying a marker unique to that source (visible text, pixels, bytes) and a message with
the same marker. Afterwards there are exactly 50 sealed submissions; each opens with the
editor's key; each holds one source's message and files and nothing of any other source;
every cleaned file is clean. While the uploads run, a new visitor asks for the home page and
gets it (within a generous bound: this checks that the server answers, not how fast).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import secrets
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pikepdf
import pytest
from PIL import Image
from support.fixtures_pdf import small_pdf
from support.live_server import (
    LiveServer,
    ServerFactory,
    docx_text,
    exiftool_json,
    live_server,
    multipart_body,
    open_submission,
    sealed_files,
    simple_docx,
    storage_listing,
)

__all__ = ["live_server"]

pytestmark = pytest.mark.timeout(420)

SOURCES = 50
#: A new visitor must get the page within this (a hung server never answers).
VISITOR_TIMEOUT = 60.0


@dataclass
class Source:
    index: int
    marker: str
    files: list[tuple[str, bytes]]
    message: str
    colour: tuple[int, int, int]


def photo(colour: tuple[int, int, int], marker: str) -> bytes:
    """A phone-like JPEG: EXIF with GPS, the owner's name; pixels of the source's colour."""
    image = Image.new("RGB", (64, 48), colour)
    exif = Image.Exif()
    exif[0x013B] = f"Owner {marker}"  # Artist
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    sink = io.BytesIO()
    image.save(sink, "JPEG", quality=95, exif=exif.tobytes())
    return sink.getvalue()


def make_source(index: int) -> Source:
    marker = f"LOAD{index:02d}x{secrets.token_hex(6)}"
    colour = (index * 5 % 256, 255 - index * 3, (index * 37) % 256)
    files = [
        (f"report-{index:02d}.pdf", small_pdf(f"Author {marker}", f"Visible {marker}")),
        (f"photo-{index:02d}.jpg", photo(colour, marker)),
        (f"notes-{index:02d}.txt", f"notes of {marker}\n".encode() * 50),
    ]
    if index % 3 == 0:
        files.append((f"memo-{index:02d}.docx", simple_docx(f"Memo {marker}", f"Clerk {marker}")))
    return Source(index, marker, files, f"Message from {marker}: see the files.", colour)


def pdf_text(path: Path) -> str:
    with pikepdf.open(path) as pdf:
        assert "/Author" not in pdf.docinfo
        return b"".join(page.Contents.read_bytes() for page in pdf.pages).decode("latin-1")


def expanded(name: str, data: bytes) -> bytes:
    """The bytes a marker could hide in: raw, plus every decompressed stream or member
    (a compressed marker would escape a plain search)."""
    parts = [data]
    if name.endswith(".pdf"):
        with pikepdf.open(io.BytesIO(data)) as pdf:
            parts += [o.read_bytes() for o in pdf.objects if isinstance(o, pikepdf.Stream)]
            parts += [str(v).encode() for v in pdf.docinfo.values()]
    elif name.endswith(".docx"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts += [archive.read(n) for n in archive.namelist()]
    return b"\n".join(parts)


async def _send(client: httpx.AsyncClient, url: str, source: Source) -> httpx.Response:
    body, content_type = multipart_body(source.files, source.message)
    return await client.post(
        f"{url}/submit?lang=en", content=body, headers={"Content-Type": content_type}
    )


async def _visitor(server: LiveServer, started: asyncio.Event) -> tuple[int, str, float]:
    await started.wait()
    # Wait until uploads are really being processed: the server holds open (nameless)
    # spool files under its storage.
    deadline = time.monotonic() + 60
    while len(server.open_fds_under(server.storage)) < 3:
        if time.monotonic() > deadline:
            raise AssertionError("the uploads never showed up in the server")
        await asyncio.sleep(0.01)
    t0 = time.monotonic()
    async with httpx.AsyncClient(timeout=VISITOR_TIMEOUT) as visitor:
        page = await visitor.get(f"{server.url}/?lang=fr")
    return page.status_code, page.text, time.monotonic() - t0


async def _run_load(
    server: LiveServer, sources: list[Source]
) -> tuple[list[httpx.Response], tuple[int, str, float]]:
    limits = httpx.Limits(max_connections=SOURCES + 5, max_keepalive_connections=0)
    started = asyncio.Event()
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        visitor = asyncio.create_task(_visitor(server, started))
        uploads = [asyncio.create_task(_send(client, server.url, s)) for s in sources]
        started.set()
        responses = await asyncio.gather(*uploads)
        visit = await visitor
    return list(responses), visit


def test_fifty_concurrent_sources(live_server: ServerFactory, tmp_path: Path) -> None:
    server = live_server()  # the defaults: nobody is refused for coming at the same time
    sources = [make_source(i) for i in range(SOURCES)]
    responses, (visit_status, visit_page, visit_seconds) = asyncio.run(_run_load(server, sources))

    # The visitor got the page while the load ran.
    assert visit_status == 200
    assert 'name="files"' in visit_page and '<html lang="fr"' in visit_page
    print(f"new visitor served in {visit_seconds:.2f} s under load")

    # Every source got its own receipt (its own file names, nobody else's).
    for source, response in zip(sources, responses, strict=True):
        assert response.status_code == 200, (source.index, response.status_code)
        for name, _ in source.files:
            assert name in response.text, (source.index, name)
        others = re.findall(r"report-(\d\d)\.pdf", response.text)
        assert set(others) == {f"{source.index:02d}"}, (source.index, others)

    sealed = sealed_files(server.storage)
    assert len(sealed) == SOURCES, f"{len(sealed)} sealed for {SOURCES} sources"
    assert storage_listing(server.storage)["incoming"] == []
    assert server.open_fds_under(server.storage) == []

    by_marker = {s.marker: s for s in sources}
    seen: set[str] = set()
    ids: set[str] = set()
    for number, path in enumerate(sealed):
        opened = open_submission(path, server.editor.identity, tmp_path / f"open{number}")
        ids.add(opened.manifest["id"])
        message = opened.message
        assert message is not None
        owners = [m for m in by_marker if m in message]
        assert len(owners) == 1, message
        source = by_marker[owners[0]]
        assert message == source.message
        assert source.marker not in seen, "two submissions for one source"
        seen.add(source.marker)
        others = [m for m in by_marker if m != source.marker]

        assert sorted(e["original_name"] for e in opened.entries) == sorted(
            n for n, _ in source.files
        )
        for name, sent in source.files:
            entry = opened.by_original(name)
            stored = opened.data(entry)
            everything = expanded(name, stored)
            # The search sees markers in what was sent (so its silence below means something).
            assert source.marker.encode() in expanded(name, sent)
            assert not any(o.encode() in everything for o in others), f"{name}: another source"
            if name.endswith(".txt"):
                assert stored == sent and entry["cleaned"] is True and entry["removed"] == []
            elif name.endswith(".pdf"):
                assert entry["cleaned"] is True and "pdf:Info/Author" in entry["removed"]
                text = pdf_text(opened.path(entry))
                assert f"Visible {source.marker}" in text
                assert f"Author {source.marker}".encode() not in everything
            elif name.endswith(".jpg"):
                assert entry["cleaned"] is True and "exif:GPS" in entry["removed"]
                tags = exiftool_json(opened.path(entry))
                assert not [k for k in tags if "GPS" in k or k.endswith(":Artist")], tags
                assert source.marker.encode() not in stored
                # Lossless cleaning: the very pixels this source sent.
                with Image.open(io.BytesIO(sent)) as a, Image.open(io.BytesIO(stored)) as b:
                    assert a.tobytes() == b.tobytes()
            else:
                assert entry["cleaned"] is True and "ooxml:docProps/core" in entry["removed"]
                assert f"Memo {source.marker}" in docx_text(stored)
                assert f"Clerk {source.marker}".encode() not in everything
    assert seen == set(by_marker)
    assert len(ids) == SOURCES, "submission ids must be unique"
    assert server.healthy()


TRICKLERS = 50
TRICKLE_SOURCES = 20


async def _trickle(port: int, stop: asyncio.Event) -> bytes:
    """An upload that announces 10 MB and sends 8 bytes every half second (16 B/s) until
    the server cuts it; returns what the server answered (possibly nothing)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    boundary = "trickle" + secrets.token_hex(8)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="slow.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    writer.write(
        (
            "POST /submit?lang=en HTTP/1.1\r\nHost: drop\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            "Content-Length: 10000000\r\n\r\n"
        ).encode()
        + head
    )
    answer = b""
    try:
        while not stop.is_set():
            writer.write(b"\x00trickle")
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(65536), timeout=0.5)
            except TimeoutError:
                continue
            if not data:
                break  # closed by the server
            answer += data
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return answer


async def _trickle_and_send(
    server: LiveServer, sources: list[Source]
) -> tuple[list[bytes], list[httpx.Response]]:
    stop = asyncio.Event()
    tricklers = [asyncio.create_task(_trickle(server.port, stop)) for _ in range(TRICKLERS)]
    # Every trickling connection is open in the server (its headers were sent first)
    # before the sources come.
    deadline = time.monotonic() + 120
    while server.open_sockets() < TRICKLERS + 1:  # and the listening socket
        if time.monotonic() > deadline:
            stop.set()
            raise AssertionError("the trickling uploads never all reached the server")
        await asyncio.sleep(0.05)
    limits = httpx.Limits(max_connections=TRICKLE_SOURCES, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        responses = await asyncio.gather(*(_send(client, server.url, s) for s in sources))
    # The tricklers end only when the server cuts them (a safety stop after 10 minutes).
    done, pending = await asyncio.wait(tricklers, timeout=600)
    stop.set()
    assert not pending, f"{len(pending)} trickling connections were never cut"
    return [t.result() for t in done], list(responses)


def test_trickling_connections_do_not_lock_out_sources(
    live_server: ServerFactory, tmp_path: Path
) -> None:
    server = live_server()  # the defaults
    sources = [make_source(SOURCES + i) for i in range(TRICKLE_SOURCES)]
    answers, responses = asyncio.run(_trickle_and_send(server, sources))

    for source, response in zip(sources, responses, strict=True):
        assert response.status_code == 200, (source.index, response.status_code)
        assert f"report-{source.index:02d}.pdf" in response.text
    # Cut by the server (too slow after the grace period), with nothing kept of them.
    assert len(answers) == TRICKLERS
    assert all(a == b"" or a.startswith(b"HTTP/1.1 400") for a in answers), answers[:3]
    sealed = sealed_files(server.storage)
    assert len(sealed) == TRICKLE_SOURCES
    markers = {s.marker for s in sources}
    for number, path in enumerate(sealed):
        opened = open_submission(path, server.editor.identity, tmp_path / f"open{number}")
        assert opened.message is not None
        [owner] = [m for m in markers if m in opened.message]
        markers.discard(owner)
        assert all("slow.bin" != e["original_name"] for e in opened.entries)
    assert markers == set()
    assert storage_listing(server.storage)["incoming"] == []
    assert server.open_fds_under(server.storage) == []
    assert server.healthy()
