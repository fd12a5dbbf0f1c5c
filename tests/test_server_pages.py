"""The source-facing app's pages: landing page, security headers, languages and
typography, response sizes, the demo banner.

Driven in-process with httpx over ASGI (`support.asgi_app`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import EditorKeys
from support.asgi_app import Server, assert_security_headers, html_lang, make_server, server
from support.fixtures_office import jpeg_with_gps, make_docx
from support.fixtures_pdf import small_pdf
from support.html_tree import by_class, text_of
from support.html_tree import parse as parse_html
from support.submissions import multipart

from leakdrop.server import Limits, ServerConfig, create_app
from leakdrop.server.i18n import STRINGS

__all__ = ["make_server", "server"]  # the fixtures


# ----------------------------------------------------------------------------------- pages


def test_landing_page_is_french_by_default_and_english_one_link_away(server: Server) -> None:
    fr = server.request("GET", "/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert fr.status_code == 200
    assert html_lang(fr) == "fr"  # Accept-Language is ignored (Tor Browser says English)
    assert 'action="/submit?lang=fr"' in fr.text
    assert 'href="/?lang=en"' in fr.text
    en = server.request("GET", "/?lang=en")
    assert html_lang(en) == "en"
    assert 'action="/submit?lang=en"' in en.text
    assert 'href="/?lang=fr"' in en.text
    assert html_lang(server.request("GET", "/?lang=de")) == "fr"
    for page in (fr, en):
        text = page.text
        assert "<script" not in text.lower()
        assert 'enctype="multipart/form-data"' in text and 'method="post"' in text
        # Every field is labelled; the file input takes several files.
        for field in ("files", "message"):
            assert f'<label for="{field}">' in text and f'id="{field}"' in text
        assert re.search(r'<input type="file" id="files" name="files" multiple', text)
        assert '<meta name="viewport"' in text
        # The only resource is the self-hosted stylesheet; no absolute URL anywhere.
        assert re.findall(r'(?:href|src)="(/static/[^"]+)"', text) == ["/static/style.css"]
        assert not re.search(r'(?:href|src|action)="(?:https?:)?//', text)
    assert "Tor" in fr.text and "imprimantes" in fr.text and "capteur" in fr.text
    assert "Tor Browser" in en.text and "printers" in en.text and "sensor" in en.text


def test_admin_about_text_is_shown_escaped(tmp_path: Path, editor_identity: EditorKeys) -> None:
    from leakdrop.server.config import load_about

    about = tmp_path / "about"
    about.mkdir()
    (about / "fr.txt").write_text("Le collectif <b>Technopolice</b> tient ce site.\n\nDeux.")
    (about / "en.txt").write_text("Run by the Technopolice campaign.")
    config = ServerConfig(
        storage=tmp_path / "st",
        recipients=(editor_identity.recipient,),
        about=load_about(about),
    )
    server = Server(create_app(config), tmp_path / "st", editor_identity)
    fr = server.request("GET", "/").text
    assert "<p>Le collectif &lt;b&gt;Technopolice&lt;/b&gt; tient ce site.</p>" in fr
    assert "<p>Deux.</p>" in fr
    assert "Run by the Technopolice campaign." in server.request("GET", "/?lang=en").text


def test_security_headers_on_every_response(server: Server) -> None:
    body = multipart([("note.txt", b"hello")])
    responses = {
        "index": server.request("GET", "/"),
        "index-en": server.request("GET", "/?lang=en"),
        "receipt": server.submit(body),
        "error": server.submit(b"garbage", lang="en"),
        "not-found": server.request("GET", "/nope"),
        "static": server.request("GET", "/static/style.css"),
        "static-missing": server.request("GET", "/static/other.css"),
        "healthz": server.request("GET", "/healthz"),
        "method": server.request("PUT", "/"),
        "submit-get": server.request("GET", "/submit?lang=en"),
    }
    for name, response in responses.items():
        assert_security_headers(response)
    assert responses["receipt"].status_code == 200
    assert responses["error"].status_code == 400
    assert responses["not-found"].status_code == 404
    assert html_lang(responses["not-found"]) == "fr"
    assert responses["static"].status_code == 200
    assert responses["static"].headers["content-type"].startswith("text/css")
    assert responses["healthz"].text == "ok"
    assert responses["method"].status_code == 405
    assert responses["submit-get"].status_code == 303
    assert responses["submit-get"].headers["location"] == "/?lang=en"


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
def test_api_docs_are_off(server: Server, path: str) -> None:
    response = server.request("GET", path + "?lang=en")
    assert response.status_code == 404
    assert html_lang(response) == "en"
    assert "swagger" not in response.text.lower() and "openapi" not in response.text.lower()
    assert_security_headers(response)


# ------------------------------------------------------------------------------ typography


def every_page(make_server: Callable[..., Server], lang: str) -> dict[str, httpx.Response]:
    """Every page a source can meet, in `lang`: landing, receipts (first, with every kind
    of file line, follow-up), mailbox, conversation, deletion, and each error page."""
    server = make_server(max_files=6, max_submission_bytes=64 * 1024, max_message_chars=200)
    q = f"?lang={lang}"
    pages: dict[str, httpx.Response] = {}
    pages["index"] = server.request("GET", "/" + q)
    kinds = [
        ("IMG_0042.jpg", jpeg_with_gps()),
        ("note.docx", make_docx()),
        ("notes.txt", b"plain notes\n"),
        ("data.bin", b"\x00\x01raw"),
        ("empty.txt", b""),
    ]
    pages["receipt"] = server.submit(multipart(kinds, "m"), lang=lang)
    codename = re.search(r'<p id="codename"[^>]*>([^<]+)</p>', pages["receipt"].text)
    assert codename, pages["receipt"].text
    pages["mailbox"] = server.request("GET", "/mailbox" + q)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    pages["mailbox-invalid"] = server.request(
        "POST", "/mailbox" + q, content=b"codename=x", headers=form
    )
    pages["conversation"] = server.request(
        "POST", "/mailbox" + q, content=f"codename={codename.group(1)}".encode(), headers=form
    )
    followup = re.search(r"followup=([^\"&]+)\"", pages["conversation"].text)
    assert followup, pages["conversation"].text
    pages["receipt-followup"] = server.submit_to(
        f"/submit{q}&followup={followup.group(1)}", multipart([("a.txt", b"x")], "two")
    )
    delete = re.search(r'name="token" value="([^"]+)"', pages["conversation"].text)
    token = delete.group(1) if delete else "none"
    pages["deleted"] = server.request(
        "POST", "/mailbox/delete" + q, content=f"token={token}".encode(), headers=form
    )
    pages["error-token"] = server.submit_to(f"/submit{q}&followup=forged", multipart([], "m"))
    pages["error-no-files"] = server.submit(multipart([]), lang=lang)
    pages["error-too-large"] = server.submit(multipart([("big.bin", b"x" * 100_000)]), lang=lang)
    pages["error-too-many-files"] = server.submit(
        multipart([(f"f{i}.bin", b"x") for i in range(7)]), lang=lang
    )
    pages["error-message-too-long"] = server.submit(multipart([], "m" * 500), lang=lang)
    pages["error-malformed"] = server.submit(b"garbage", lang=lang)
    pages["error-not-found"] = server.request("GET", "/nowhere" + q)
    pages["error-method"] = server.request("DELETE", "/" + q)
    for name, response in pages.items():
        assert response.headers["content-type"].startswith("text/html"), name
    return pages


def visible_text(html: str) -> str:
    """The page's text in document order, without code (field names are technical) or
    markup."""
    import html as html_module

    text = re.sub(r"<code>.*?</code>", " ", html, flags=re.DOTALL)
    return html_module.unescape(re.sub(r"<[^>]+>", "", text))


_NBSP = "\u00a0\u202f"


def typography_problems(lang: str, text: str) -> list[str]:
    problems = [
        f"straight apostrophe: {m.group()!r}" for m in re.finditer(r".{0,20}'.{0,20}", text)
    ]
    if lang == "fr":
        problems += [
            f"no non-breaking space before {m.group(1)!r}: {m.group(0)!r}"
            for m in re.finditer(rf".{{0,20}}[^{_NBSP}]([:;?!])", text)
        ]
        problems += ["« without a non-breaking space" for m in re.finditer(rf"«[^{_NBSP}]", text)]
        problems += ["» without a non-breaking space" for m in re.finditer(rf"[^{_NBSP}]»", text)]
        problems += [
            f"English unit {m.group()!r}"
            for m in re.finditer(r"\b(?:[KMGT]i?B|[KMGT]io|bytes?)\b", text)
        ]
    else:
        problems += [f"'can not': {m.group()!r}" for m in re.finditer(r"\bcan not\b", text, re.I)]
        problems += [
            f"French unit {m.group()!r}"
            for m in re.finditer(r"\b(?:[KMG]o|[KMGT]io|octets?|[KMGT]iB)\b", text)
        ]
    return problems


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_typography_of_every_page_and_string(make_server: Callable[..., Server], lang: str) -> None:
    problems = [
        f"{name}: {problem}"
        for name, response in every_page(make_server, lang).items()
        for problem in typography_problems(lang, visible_text(response.text))
    ]
    # Strings no page above shows (other reasons, notes, categories) are checked as text.
    problems += [
        f"{key}: {problem}"
        for key, value in STRINGS[lang].items()
        for problem in typography_problems(lang, value)
    ]
    assert problems == [], "\n".join(problems)
    # The checker is live: each rule finds its fault.
    assert len(typography_problems("fr", "Raison : l'envoi « x » 2 GB ; ok!")) == 7
    assert len(typography_problems("en", "It can not be 2 Go")) == 2


def test_sizes_and_plurals_in_each_language() -> None:
    from leakdrop.server.i18n import human_size

    assert human_size("fr", 0) == "0\u00a0octet" and human_size("en", 1) == "1\u00a0byte"
    assert human_size("fr", 2 * 1024**3) == "2\u00a0Go"
    assert human_size("en", 2 * 1024**3) == "2\u00a0GB"
    assert human_size("fr", 1536 * 1024) == "1,5\u00a0Mo"
    assert human_size("en", 1536) == "1.5\u00a0KB"
    assert human_size("en", 700) == "700\u00a0bytes"


def test_method_page_is_not_page_not_found(server: Server) -> None:
    for lang in STRINGS:
        response = server.request("DELETE", f"/?lang={lang}")
        assert response.status_code == 405
        title = re.search(r"<title>(.*?) · ", response.text)
        assert title and title.group(1) == STRINGS[lang]["method_title"]
        assert STRINGS[lang]["not_found_title"] not in response.text


# -------------------------------------------------------------------------- response sizes


@pytest.mark.slow  # about 8 s on two cores
def test_every_page_has_the_size_of_its_bucket(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    """Over Tor an observer next to the source sees how many bytes come back: a receipt
    for a PDF, a photo with GPS and a text file, every error page and every other page
    have the same size."""
    from leakdrop.server.pages import PAGE_BUCKET_BYTES

    sizes: dict[str, int] = {}
    for lang in STRINGS:
        for name, response in every_page(make_server, lang).items():
            sizes[f"{name}-{lang}"] = len(response.content)
            assert int(response.headers["content-length"]) == len(response.content)
        server = make_server()
        for name, files in {
            "pdf": [("rapport.pdf", small_pdf("Marker-Author"))],
            "photo": [("IMG_20240506_070809.jpg", jpeg_with_gps())],
            "text": [("notes.txt", b"plain notes\n")],
        }.items():
            response = server.submit(multipart(files), lang=lang)
            assert response.status_code == 200
            sizes[f"receipt-{name}-{lang}"] = len(response.content)
    assert set(sizes.values()) == {PAGE_BUCKET_BYTES}, sizes
    # Past the first bucket, sizes double: a long receipt tells little of its length.
    from leakdrop.server.pages import padded

    # Counted in UTF-8 bytes, as sent.
    assert len(padded("é" * (PAGE_BUCKET_BYTES // 2 + 1)).encode()) == 2 * PAGE_BUCKET_BYTES
    assert len(padded("x" * (2 * PAGE_BUCKET_BYTES + 1)).encode()) == 4 * PAGE_BUCKET_BYTES


def test_demo_pages_say_so_and_real_ones_do_not(
    tmp_path: Path, editor_identity: EditorKeys
) -> None:
    for demo in (True, False):
        config = ServerConfig(
            storage=tmp_path / f"storage-{demo}",
            recipients=(editor_identity.recipient,),
            limits=Limits(min_free_bytes=0),
            demo=demo,
        )
        server = Server(create_app(config), config.storage, editor_identity)
        for lang in STRINGS:
            pages = [
                server.request("GET", f"/?lang={lang}"),
                server.request("GET", f"/mailbox?lang={lang}"),
                server.request("GET", f"/nowhere?lang={lang}"),
                server.submit(multipart([("a.txt", b"x")]), lang=lang),
            ]
            for page in pages:
                banner = by_class(parse_html(page.text), "p", "demo-banner")
                if demo:
                    assert len(banner) == 1, page.text[:400]
                    assert STRINGS[lang]["demo_text"] in text_of(banner[0])
                else:
                    assert banner == []


def test_file_limit_of_one_reads_in_the_singular(make_server: Callable[..., Server]) -> None:
    server = make_server(max_files=1)
    for lang in STRINGS:
        page = server.request("GET", f"/?lang={lang}").text
        hint = re.search(r'<p class="hint" id="files-hint">(.*?)</p>', page)
        assert hint, page
        assert hint.group(1).startswith(STRINGS[lang]["files_hint_one"].split("{")[0])
