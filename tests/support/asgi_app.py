"""The source-facing app in-process, driven with httpx over ASGI, for the server tests;
and the checks they share (security headers, error pages, nothing stored). No tests here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from conftest import EditorKeys

from leakdrop.server import CSP, Limits, ServerConfig, create_app
from support.submissions import CONTENT_TYPE, age_open, submissions, tree_state

EMPTY_TREE: dict[str, list[str]] = {"submissions": [], "incoming": [], "spool": []}


@dataclass
class Server:
    app: Any
    storage: Path
    editor: EditorKeys

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://drop") as c:
                return await c.request(method, url, **kwargs)

        return anyio.run(go)

    def submit_to(self, url: str, body: bytes) -> httpx.Response:
        return self.request("POST", url, content=body, headers={"Content-Type": CONTENT_TYPE})

    def submit(
        self, body: bytes, *, lang: str | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        url = "/submit" + (f"?lang={lang}" if lang else "")
        return self.request(
            "POST", url, content=body, headers={"Content-Type": CONTENT_TYPE, **(headers or {})}
        )


@pytest.fixture
def make_server(tmp_path: Path, editor_identity: EditorKeys) -> Callable[..., Server]:
    def make(**limits: Any) -> Server:
        storage = tmp_path / "storage"
        limits.setdefault("min_free_bytes", 0)
        config = ServerConfig(
            storage=storage, recipients=(editor_identity.recipient,), limits=Limits(**limits)
        )
        return Server(create_app(config), storage, editor_identity)

    return make


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    return make_server()


def html_lang(response: httpx.Response) -> str:
    match = re.search(r'<html lang="([a-z]+)">', response.text)
    assert match, response.text[:200]
    return match.group(1)


def assert_security_headers(response: httpx.Response) -> None:
    h = response.headers
    assert h["content-security-policy"] == CSP
    assert CSP == (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-content-type-options"] == "nosniff"
    assert h["cache-control"] == "no-store"
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["cross-origin-resource-policy"] == "same-origin"
    assert "camera=()" in h["permissions-policy"]
    for banned in ("server", "etag", "set-cookie", "last-modified", "date"):
        assert banned not in h, banned


def open_only(server: Server, tmp_path: Path, name: str = "opened") -> Any:
    found = submissions(server.storage)
    assert len(found) == 1, found
    return age_open(found[0], server.editor.identity_file, tmp_path / name)


def assert_nothing_stored(server: Server) -> None:
    assert tree_state(server.storage) == EMPTY_TREE


def assert_error_page(response: httpx.Response, status: int, lang: str, phrase: str) -> None:
    assert response.status_code == status, response.text
    assert html_lang(response) == lang
    assert phrase in response.text, response.text
    assert '<link rel="stylesheet" href="/static/style.css">' in response.text
    assert_security_headers(response)
