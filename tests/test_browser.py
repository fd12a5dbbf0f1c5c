"""A source's visit in a real browser with JavaScript off (Debian Chromium via Playwright).

Landing page in French -> the "English" link -> three files picked (a PDF, a phone photo
with GPS, a Word document) and a message typed -> "Send" -> the receipt, read as a person
would. Then the editor opens the sealed submission with their key: every file is there and
clean, the message is the one typed. An oversize upload shows the error page in the
language the source chose. Screenshots of the landing page, the receipt and an error page
at desktop and phone widths go to test-artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    sync_playwright,
)
from support.fixtures_images import dirty_jpeg, leftovers
from support.fixtures_office import MARK, make_docx
from support.fixtures_pdf import FIELDS, all_bytes, dirty_pdf
from support.live_server import (
    ARTIFACTS,
    ServerFactory,
    live_server,
    open_submission,
    sealed_files,
    storage_listing,
)

from leakdrop.server.i18n import STRINGS

__all__ = ["live_server"]

pytestmark = pytest.mark.timeout(300)

SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser, viewport: ViewportSize) -> BrowserContext:
    # JavaScript off: Tor Browser at its "Safest" level. No locale hint is trusted by the
    # server anyway (Tor Browser always says English).
    context = browser.new_context(
        java_script_enabled=False,
        viewport=viewport,
        locale="en-US",
        is_mobile=viewport is PHONE,
        has_touch=viewport is PHONE,
    )
    context.set_default_timeout(60_000)
    return context


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000, f"{name}: suspiciously small screenshot"
    return path


def text_of(page: Page) -> str:
    # ASCII white space only: the non-breaking spaces of French typography are kept.
    return re.sub(r"[ \t\r\n]+", " ", page.inner_text("body"))


def assert_no_horizontal_scroll(page: Page, name: str) -> None:
    # On a phone, the page must fit its width (no sideways scrolling to read or to press).
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None
    assert width <= viewport["width"], f"{name}: {width}px wide in a {viewport['width']}px screen"


@pytest.fixture
def source_files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "source-files"
    folder.mkdir()
    files = {
        "rapport-conseil.pdf": dirty_pdf(),
        "IMG_20240506_070809.jpg": dirty_jpeg(tmp_path),
        "note-interne.docx": make_docx(),
    }
    paths = {}
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    return paths


def test_source_visit_french_to_english_submit_and_open(
    live_server: ServerFactory,
    browser: Browser,
    source_files: dict[str, Path],
    tmp_path: Path,
) -> None:
    server = live_server()
    fr, en = STRINGS["fr"], STRINGS["en"]
    context = new_context(browser, DESKTOP)
    page = context.new_page()

    # Landing: French by default, whatever the browser announces.
    page.goto(f"{server.url}/")
    assert page.get_attribute("html", "lang") == "fr"
    assert fr["form_title"] in text_of(page)
    assert fr["safety_title"] in text_of(page)
    shot(page, "landing-fr-desktop")

    # One link away: English.
    page.get_by_role("link", name=fr["switch_to"]).click()
    page.wait_for_load_state()
    assert page.url.endswith("?lang=en")
    assert page.get_attribute("html", "lang") == "en"
    assert en["form_title"] in text_of(page)
    shot(page, "landing-desktop")

    # Pick the files and type a message, as a person does (labels, not ids).
    page.get_by_label(en["files_label"]).set_input_files(list(source_files.values()))
    message = "Documents du conseil municipal – contrat de vidéosurveillance, voir p. 3."
    page.get_by_label(en["message_label"]).fill(message)
    page.get_by_role("button", name=en["submit"]).click()
    page.wait_for_load_state()

    # The receipt, in English.
    assert page.url.split("?")[0].endswith("/submit")
    assert page.get_attribute("html", "lang") == "en"
    body = text_of(page)
    assert page.inner_text("h1") == en["receipt_title"]
    assert en["receipt_lead"] in body
    assert en["receipt_message"].format(chars=len(message)) in body
    assert en["next_title"] in body
    for name in source_files:
        assert name in body, f"{name} not on the receipt"
    # What was removed, in plain words, visible at once; the technical names behind a
    # <details> that opens without script.
    plain = page.locator("ul.removed-plain li").all_inner_texts()
    for key in ("gps", "camera", "author", "dates", "software"):
        assert en["field:" + key] in plain, f"{key} not said: {plain}"
    assert page.locator("ul.removed code").first.is_hidden()
    for summary in page.locator("details.removed-details summary").all():
        summary.click()
    removed = page.locator("ul.removed code").all_inner_texts()
    for field in ("exif:GPS", "pdf:Info/Author", "ooxml:docProps/core"):
        assert field in removed, f"{field} not listed as removed: {removed}"
    # Field names only, never their values (an attachment's own file name is shown: it is
    # a file the source sent, listed like the others).
    assert "Jane Whistleblower" not in body
    for spec in FIELDS:
        if spec.marker is not None and spec.name != "pdf:EmbeddedFiles":
            assert spec.marker not in body, spec
    shot(page, "receipt-desktop")
    context.close()

    # The editor opens it.
    [sealed] = sealed_files(server.storage)
    assert storage_listing(server.storage)["incoming"] == []
    opened = open_submission(sealed, server.editor.identity, tmp_path / "opened")
    assert opened.message == message
    originals = {e["original_name"] for e in opened.entries}
    assert set(source_files) <= originals, originals

    photo = opened.by_original("IMG_20240506_070809.jpg")
    assert photo["cleaned"] is True
    assert leftovers(opened.path(photo)) == []  # exiftool sees no GPS, owner, camera...

    pdf = opened.by_original("rapport-conseil.pdf")
    assert pdf["cleaned"] is True
    pdf_bytes = all_bytes(opened.data(pdf))
    for spec in FIELDS:
        if spec.marker is not None:
            assert spec.marker.encode() not in pdf_bytes, spec

    docx = opened.by_original("note-interne.docx")
    assert docx["cleaned"] is True
    with zipfile.ZipFile(io.BytesIO(opened.data(docx))) as archive:
        for member in archive.namelist():
            assert MARK.encode() not in archive.read(member), member
        assert "Kept paragraph one." in archive.read("word/document.xml").decode()


def test_phone_width_landing_and_receipt(
    live_server: ServerFactory, browser: Browser, tmp_path: Path
) -> None:
    server = live_server()
    context = new_context(browser, PHONE)
    page = context.new_page()
    page.goto(f"{server.url}/")
    assert_no_horizontal_scroll(page, "landing")
    shot(page, "landing-phone")
    photo = tmp_path / "IMG_20240506_070809.jpg"
    photo.write_bytes(dirty_jpeg(tmp_path))
    page.get_by_label(STRINGS["fr"]["files_label"]).set_input_files([photo])
    page.get_by_role("button", name=STRINGS["fr"]["submit"]).click()
    page.wait_for_load_state()
    assert page.inner_text("h1") == STRINGS["fr"]["receipt_title"]
    assert page.get_attribute("html", "lang") == "fr"
    assert STRINGS["fr"]["receipt_no_message"] in text_of(page)
    assert_no_horizontal_scroll(page, "receipt")
    shot(page, "receipt-phone")
    context.close()
    assert len(sealed_files(server.storage)) == 1


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_oversize_upload_shows_error_in_chosen_language(
    live_server: ServerFactory, browser: Browser, tmp_path: Path, lang: str
) -> None:
    server = live_server("--max-submission-bytes", "64K")
    strings = STRINGS[lang]
    big = tmp_path / "scan.bin"
    big.write_bytes(b"\x00not an image\x00" * 20_000)  # ~280 KB
    for viewport, suffix in ((DESKTOP, "desktop"), (PHONE, "phone")):
        context = new_context(browser, viewport)
        page = context.new_page()
        page.goto(f"{server.url}/")
        if lang == "en":
            page.get_by_role("link", name=STRINGS["fr"]["switch_to"]).click()
            page.wait_for_load_state()
        page.get_by_label(strings["files_label"]).set_input_files([big])
        page.get_by_label(strings["message_label"]).fill("trop gros / too big")
        page.get_by_role("button", name=strings["submit"]).click()
        page.wait_for_load_state()
        assert page.get_attribute("html", "lang") == lang
        assert page.inner_text("h1") == strings["error_title"]
        body = text_of(page)
        expected = strings["err_too_large"].split("{")[0].strip()
        assert expected in body, body
        assert strings["error_nothing_kept"] in body
        # The way back keeps the language.
        back = page.get_by_role("link", name=strings["error_retry"])
        assert f"lang={lang}" in (back.get_attribute("href") or "")
        if lang == "en":
            shot(page, f"error-{suffix}")
            if viewport is PHONE:
                assert_no_horizontal_scroll(page, "error")
        context.close()
    assert sealed_files(server.storage) == []
    assert storage_listing(server.storage)["incoming"] == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_receipt_speaks_plainly_in_each_language(
    live_server: ServerFactory, browser: Browser, tmp_path: Path, lang: str
) -> None:
    """The receipt as a source reads it, JavaScript off: what was removed in plain words
    per file, the technical names one click away (a <details>, no script), what no
    cleaning removes with the warnings found in the files, a plain-text file without the
    red alarm, and the codename without a language link that would lose it."""
    server = live_server()
    strings = STRINGS[lang]
    folder = tmp_path / "files"
    folder.mkdir()
    files = {
        "rapport-conseil.pdf": dirty_pdf(),
        "IMG_20240506_070809.jpg": dirty_jpeg(tmp_path),
        "note-interne.docx": make_docx(),
        "notes.txt": "Réunion du 3 mai : contrat signé.\n".encode(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    context = new_context(browser, DESKTOP)
    page = context.new_page()
    page.goto(f"{server.url}/")
    if lang == "en":
        page.get_by_role("link", name=STRINGS["fr"]["switch_to"]).click()
        page.wait_for_load_state()
    page.get_by_label(strings["files_label"]).set_input_files([folder / n for n in files])
    page.get_by_role("button", name=strings["submit"]).click()
    page.wait_for_load_state()

    assert page.get_attribute("html", "lang") == lang
    assert page.inner_text("h1") == strings["receipt_title"]
    assert page.locator("#codename").is_visible()
    assert page.locator("a[hreflang]").count() == 0
    body = text_of(page)
    assert strings["receipt_codename_no_switch"] in body

    entries = {name: page.locator("ol.files > li").filter(has_text=name) for name in files}
    photo = entries["IMG_20240506_070809.jpg"]
    said = photo.locator("ul.removed-plain li").all_inner_texts()
    for key in ("gps", "camera", "author", "dates", "software"):
        assert strings["field:" + key] in said, (key, said)
    pdf_said = entries["rapport-conseil.pdf"].locator("ul.removed-plain li").all_inner_texts()
    for key in ("author", "software", "scripts"):
        assert strings["field:" + key] in pdf_said, (key, pdf_said)
    # The technical names are there, hidden until the source opens them.
    code = photo.locator("ul.removed code", has_text="exif:GPS")
    assert code.count() == 1 and code.is_hidden()
    photo.locator("details summary").click()
    assert code.is_visible()

    text_file = entries["notes.txt"]
    assert strings["receipt_plain_text"] in text_of_locator(text_file)
    assert strings["receipt_not_cleaned"] not in body
    assert page.locator("div.alert").count() == 0

    cannot = page.locator("section[aria-labelledby=cannot]")
    assert cannot.is_visible()
    cannot_text = text_of_locator(cannot)
    for key in ("cannot_content", "cannot_dots", "cannot_watermarks", "cannot_noise"):
        assert strings[key] in cannot_text, key
    # Links are named for every file that has some (the PDF's too, since its links are listed).
    links = re.search(re.escape(strings["warning:hyperlinks"]) + r" — ([^\n]*)", cannot_text)
    assert links and "note-interne.docx" in links.group(1), cannot_text
    shot(page, f"receipt-plain-{lang}")
    context.close()
    assert len(sealed_files(server.storage)) == 1


def text_of_locator(locator: Locator) -> str:
    return re.sub(r"[ \t\r\n]+", " ", locator.inner_text())
