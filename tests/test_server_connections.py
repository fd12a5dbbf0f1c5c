"""Clients over raw ASGI: one that vanishes halfway, one that stalls, several at once, and
the event loop staying free while files are cleaned."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
from support.asgi_app import Server, assert_error_page, assert_nothing_stored, make_server, server
from support.fixtures_pdf import small_pdf
from support.submissions import CONTENT_TYPE, multipart, submissions

__all__ = ["make_server", "server"]  # the fixtures


# -------------------------------------------------------------------------------- raw ASGI


async def call_asgi(
    app: Any, receive: Callable[[], Any], *, lang: str = "en", content_length: int | None = None
) -> tuple[int | None, bytes]:
    status: int | None = None
    body = b""
    headers = [(b"content-type", CONTENT_TYPE.encode()), (b"host", b"drop")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/submit",
        "raw_path": b"/submit",
        "query_string": f"lang={lang}".encode(),
        "root_path": "",
        "headers": headers,
        "client": None,
        "server": ("drop", 80),
    }
    await app(scope, receive, send)
    return status, body


def scripted_receive(chunks: list[bytes], then: dict[str, Any]) -> Callable[[], Any]:
    queue = list(chunks)

    async def receive() -> dict[str, Any]:
        if queue:
            return {"type": "http.request", "body": queue.pop(0), "more_body": True}
        return then

    return receive


def test_client_disconnecting_halfway_leaves_nothing(server: Server) -> None:
    full = multipart([("a.pdf", small_pdf("x")), ("b.bin", os.urandom(3 * 1024 * 1024))])
    cut = full[: len(full) // 2]
    chunks = [cut[i : i + 65536] for i in range(0, len(cut), 65536)]
    receive = scripted_receive(chunks, {"type": "http.disconnect"})
    status, _ = anyio.run(lambda: call_asgi(server.app, receive, content_length=len(full)))
    assert status == 400
    assert_nothing_stored(server)
    # The server still serves.
    assert server.submit(multipart([("c.txt", b"c")])).status_code == 200


def test_idle_client_is_dropped(make_server: Callable[..., Server]) -> None:
    server = make_server(idle_timeout=0.3)
    body = multipart([("a.bin", os.urandom(200_000))])

    async def main() -> tuple[int | None, bytes]:
        first = True
        never = anyio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": body[:100_000], "more_body": True}
            await never.wait()  # a silent client: never sends another byte
            raise AssertionError("unreachable")

        return await call_asgi(server.app, receive, content_length=len(body))

    status, _ = anyio.run(main)
    assert status == 400
    assert_nothing_stored(server)


def test_busy_and_concurrent_uploads(make_server: Callable[..., Server]) -> None:
    """Two uploads proceed at once (one stalled mid-body does not hold the other up);
    a third gets the "busy" page; the stalled one then completes."""
    server = make_server(max_concurrent=2)
    slow_body = multipart([("slow.txt", b"slow " * 50_000)], message="slow")
    half = len(slow_body) // 2

    async def main() -> dict[str, Any]:
        resume = anyio.Event()
        first_half_read = anyio.Event()
        results: dict[str, Any] = {}
        state = {"step": 0}

        async def slow_receive() -> dict[str, Any]:
            state["step"] += 1
            if state["step"] == 1:
                return {"type": "http.request", "body": slow_body[:half], "more_body": True}
            first_half_read.set()
            await resume.wait()
            return {"type": "http.request", "body": slow_body[half:], "more_body": False}

        async def slow() -> None:
            results["slow"] = await call_asgi(server.app, slow_receive)

        transport = httpx.ASGITransport(app=server.app)
        async with anyio.create_task_group() as group:
            group.start_soon(slow)
            await first_half_read.wait()
            async with httpx.AsyncClient(transport=transport, base_url="http://d") as client:
                # Another source's upload completes while the first is stalled.
                fast = await client.post(
                    "/submit?lang=en",
                    content=multipart([("fast.txt", b"fast")]),
                    headers={"Content-Type": CONTENT_TYPE},
                )
                results["fast"] = fast.status_code
                results["stored_while_stalled"] = len(submissions(server.storage))
                # Fill the second slot with another stalled upload, then one more: busy.
                resume2 = anyio.Event()
                started2 = anyio.Event()

                async def receive2() -> dict[str, Any]:
                    started2.set()
                    await resume2.wait()
                    return {"type": "http.request", "body": multipart([("x", b"x")])}

                async def second() -> None:
                    results["second"] = await call_asgi(server.app, receive2)

                group.start_soon(second)
                await started2.wait()
                busy = await client.post(
                    "/submit?lang=en",
                    content=multipart([("busy.txt", b"busy")]),
                    headers={"Content-Type": CONTENT_TYPE},
                )
                results["busy"] = busy
                resume2.set()
            resume.set()
        return results

    results = anyio.run(main)
    assert results["fast"] == 200
    assert results["stored_while_stalled"] == 1
    assert_error_page(results["busy"], 503, "en", "receiving many submissions")
    assert results["slow"][0] == 200
    assert results["second"][0] == 200
    assert len(submissions(server.storage)) == 3


def test_scrub_runs_off_the_event_loop(make_server: Callable[..., Server]) -> None:
    """While a file is being cleaned, the loop keeps answering other requests."""
    server = make_server()
    from support.fixtures_pdf import dirty_pdf

    pdf = dirty_pdf()

    async def main() -> list[float]:
        transport = httpx.ASGITransport(app=server.app)
        timings: list[float] = []
        done = anyio.Event()
        async with httpx.AsyncClient(transport=transport, base_url="http://d") as client:

            async def upload() -> None:
                r = await client.post(
                    "/submit",
                    content=multipart([(f"{i}.pdf", pdf) for i in range(4)]),
                    headers={"Content-Type": CONTENT_TYPE},
                )
                assert r.status_code == 200
                done.set()

            async with anyio.create_task_group() as group:
                group.start_soon(upload)
                while not done.is_set():
                    start = time.perf_counter()
                    assert (await client.get("/healthz")).text == "ok"
                    timings.append(time.perf_counter() - start)
                    await anyio.sleep(0)
        return timings

    timings = anyio.run(main)
    # Many health checks were answered during the upload (not one long stall).
    assert len(timings) >= 5, timings
