"""A returning source in the real browser, JavaScript off (Debian Chromium via Playwright).

French first: a tip is sent, the receipt shows the codename (read off the page, as the
source would copy it onto paper); the editor answers with `leakdrop reply` and the reply is
filed as the pickup files it; the source opens the mailbox page, types the codename in
capitals with extra spaces, reads the reply, writes again through the one-time form (the
follow-up is sealed with the same reply address), and deletes the reply, which is then gone
from the server. A wrong codename gets a clear page. Screenshots of each page go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from support.live_server import ServerFactory, live_server, open_submission, sealed_files
from support.pickup import run_leakdrop
from test_browser import assert_no_horizontal_scroll, browser, new_context, shot, text_of

from leakdrop.codename import derive, normalise
from leakdrop.mailboxes import Mailboxes
from leakdrop.sealing import X25519Identity, decrypt
from leakdrop.server.i18n import STRINGS
from leakdrop.submission import Manifest, read_manifest

__all__ = ["browser", "live_server"]

pytestmark = pytest.mark.timeout(300)

REPLY_TEXT = "Merci\u00a0! Quelle version du contrat est-ce\u00a0? <b>pas du HTML</b> 5e1c"
FIRST_TIP = "Le contrat de vidéosurveillance algorithmique a été signé hier. témoin-a91f"
FOLLOW_UP = "C'est la version 3, signée le 2 mai. témoin-b72e"


def manifest_of(sealed: Path, identity: X25519Identity) -> Manifest:
    with sealed.open("rb") as raw, decrypt(raw, [identity]) as plain:
        return read_manifest(plain)


def test_returning_source_in_the_browser(
    live_server: ServerFactory, browser: Browser, tmp_path: Path
) -> None:
    server = live_server()
    fr = STRINGS["fr"]
    context = new_context(browser, {"width": 1280, "height": 800})
    page = context.new_page()

    # First visit: a message alone is a tip.
    page.goto(f"{server.url}/")
    page.get_by_label(fr["message_label"]).fill(FIRST_TIP)
    page.get_by_role("button", name=fr["submit"]).click()
    page.wait_for_load_state()
    codename = page.inner_text("#codename").strip()
    assert len(codename.split()) == 7, codename
    assert fr["receipt_codename_title"] in text_of(page)
    shot(page, "mailbox-receipt-with-codename")

    # The editor answers offline, to the address in the sealed manifest.
    (first,) = sealed_files(server.storage)
    opened = open_submission(first, server.editor.identity, tmp_path / "opened")
    assert opened.message == FIRST_TIP
    message_file = tmp_path / "reply.txt"
    message_file.write_text(REPLY_TEXT, encoding="utf-8")
    outbox = tmp_path / "usb" / "outbox"
    replied = run_leakdrop(
        "reply",
        "--identity",
        server.editor.identity_file,
        "--to",
        first,
        "--message-file",
        message_file,
        "--out",
        outbox,
    )
    assert replied.returncode == 0, replied.stderr
    (reply_file,) = outbox.iterdir()
    keys = derive(normalise(codename), Mailboxes(server.storage).salt)
    # Filed as the pickup files what `fetch` sends (the HTTP way: tests/test_mailbox_e2e.py).
    Mailboxes(server.storage).file_reply(keys.mailbox_id, reply_file.read_bytes())

    # A wrong codename: a clear page, nothing else.
    page.goto(f"{server.url}/")
    page.get_by_role("link", name=fr["mailbox_link"]).click()
    page.wait_for_load_state()
    wrong = " ".join(reversed(codename.split()))
    page.get_by_label(fr["mailbox_label"]).fill(wrong)
    page.get_by_role("button", name=fr["mailbox_submit"]).click()
    page.wait_for_load_state()
    assert fr["mailbox_unknown"] in text_of(page)
    shot(page, "mailbox-unknown-codename")

    # The source comes back, typing the words sloppily.
    page.goto(f"{server.url}/mailbox?lang=fr")
    page.get_by_label(fr["mailbox_label"]).fill("  " + "   ".join(codename.upper().split()))
    page.get_by_role("button", name=fr["mailbox_submit"]).click()
    page.wait_for_load_state()
    assert page.inner_text("h1") == fr["conversation_title"]
    body = text_of(page)
    assert REPLY_TEXT.replace("\u00a0", " ") in body.replace("\u00a0", " "), body
    assert page.locator(".reply-text b").count() == 0  # shown as text, never as markup
    assert codename not in page.content()  # never sent back
    shot(page, "mailbox-conversation")

    # A follow-up through the one-time form.
    page.get_by_label(fr["message_label"]).fill(FOLLOW_UP)
    page.get_by_role("button", name=fr["submit"]).click()
    page.wait_for_load_state()
    assert page.locator("#codename").count() == 0  # the source already has one
    shot(page, "mailbox-followup-receipt")
    sealed = sealed_files(server.storage)
    assert len(sealed) == 2
    manifests = [manifest_of(p, server.editor.identity) for p in sealed]
    assert manifests[0].reply is not None
    assert manifests[0].reply.mailbox == keys.mailbox_id.hex()
    assert manifests[0].reply == manifests[1].reply  # one conversation
    messages = {
        open_submission(p, server.editor.identity, tmp_path / f"opened-{n}").message
        for n, p in enumerate(sealed)
    }
    assert messages == {FIRST_TIP, FOLLOW_UP}

    # Delete the reply read.
    page.goto(f"{server.url}/mailbox?lang=fr")
    page.get_by_label(fr["mailbox_label"]).fill(codename)
    page.get_by_role("button", name=fr["mailbox_submit"]).click()
    page.wait_for_load_state()
    page.get_by_role("button", name=fr["delete_submit"]).click()
    page.wait_for_load_state()
    assert page.inner_text("h1") == fr["deleted_title"]
    assert fr["deleted_one"].replace("\u00a0", " ") in text_of(page).replace("\u00a0", " ")
    shot(page, "mailbox-deleted")
    assert Mailboxes(server.storage).replies(keys.mailbox_id) == []
    context.close()


def test_mailbox_page_on_a_phone(live_server: ServerFactory, browser: Browser) -> None:
    server = live_server()
    en = STRINGS["en"]
    context = new_context(browser, {"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{server.url}/mailbox?lang=en")
    assert page.get_attribute("html", "lang") == "en"
    assert re.search(en["mailbox_lead"][:20], text_of(page))
    assert_no_horizontal_scroll(page, "mailbox")
    shot(page, "mailbox-phone")
    context.close()
