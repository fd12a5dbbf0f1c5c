"""A refused upload is answered at once, and the real browser shows the answer.

With the default settings a source picks a file larger than the drop accepts (3 GiB, a
sparse file: nothing is really read from disk but what is sent) on a slow connection
(Chromium's own throttling, 256 KiB/s: the whole upload would take more than three hours).
The server answers from the declared length, before reading the body, keeps the connection
open for a moment reading and discarding (so that the browser does not see a reset before
the page), then closes. The browser, JavaScript off, shows the "too large" page in the
source's language long before its upload could have finished: the test's deadline (two
minutes) is a small fraction of the upload's time, so reading the body first would fail it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser
from support.live_server import ServerFactory, live_server, sealed_files, storage_listing
from test_browser import browser, new_context, shot, text_of

from leakdrop.server.i18n import STRINGS

__all__ = ["browser", "live_server"]

pytestmark = pytest.mark.timeout(300)

UPLOAD_BYTES_PER_SECOND = 256 * 1024
FILE_BYTES = 3 * 1024**3  # over the default 2 GiB limit
DEADLINE_MS = 120_000  # 30 MiB at the throttled rate; the file is 100 times larger


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_too_large_is_shown_before_the_upload_could_end(
    live_server: ServerFactory, browser: Browser, tmp_path: Path, lang: str
) -> None:
    server = live_server()  # the default limits, as an admin runs it
    strings = STRINGS[lang]
    big = tmp_path / "archive-complete.bin"
    with big.open("wb") as sparse:
        sparse.truncate(FILE_BYTES)
    context = new_context(browser, {"width": 1280, "height": 800})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 50,
            "downloadThroughput": -1,
            "uploadThroughput": UPLOAD_BYTES_PER_SECOND,
        },
    )
    page.goto(f"{server.url}/?lang={lang}")
    page.get_by_label(strings["files_label"]).set_input_files([big])
    with page.expect_navigation(timeout=DEADLINE_MS):
        page.get_by_role("button", name=strings["submit"]).click()
    assert page.get_attribute("html", "lang") == lang
    assert page.inner_text("h1") == strings["error_title"]
    body = text_of(page)
    assert strings["err_too_large"].split("{")[0].strip() in body, body
    assert strings["error_nothing_kept"] in body
    shot(page, f"early-refusal-{lang}")
    context.close()
    assert sealed_files(server.storage) == []
    assert storage_listing(server.storage)["incoming"] == []
