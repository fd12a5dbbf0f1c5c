"""Saved web pages: a page with a canary in every field, cleaned by `leakdrop scrub`."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from scrubbers import scrub_sandboxed, sniff

LEAKDROP = [sys.executable, "-m", "leakdrop.cli"]
CANARIES = {
    "saved": "CANARY-SAVED-FROM-1",
    "author": "CANARY-AUTHOR-2",
    "generator": "CANARY-GENERATOR-3",
    "script": "CANARY-SCRIPT-4",
    "onload": "CANARY-ONLOAD-5",
    "img": "CANARY-IMG-6",
    "link": "CANARY-LINK-7",
    "iframe": "CANARY-IFRAME-8",
    "gps": "CANARY-GPS-9",
    "style": "CANARY-STYLE-10",
}
HREF = "https://example.org/CANARY-HREF-KEPT"


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (8, 8), "red")
    exif = Image.Exif()
    exif[0x010E] = CANARIES["gps"]  # ImageDescription
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 24.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _page() -> bytes:
    c = CANARIES
    data_uri = "data:image/jpeg;base64," + base64.b64encode(_jpeg_with_gps()).decode()
    return f"""<!-- saved from url=(0042)http://intranet.{c["saved"]}/ -->
<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta name="author" content="{c["author"]}">
<meta name="generator" content="{c["generator"]}">
<title>Internal page</title>
<link rel="stylesheet" href="http://{c["link"]}/s.css">
<style>body {{ background: url(http://{c["style"]}/x.png) }}</style>
<script>var user = "{c["script"]}";</script>
</head><body onload="track('{c["onload"]}')">
<h1>Camera rollout</h1>
<p>Twelve cameras are installed at the station.</p>
<img src="http://{c["img"]}/pixel.gif">
<img src="{data_uri}">
<iframe src="//{c["iframe"]}/frame"></iframe>
<table><tr><td>Gare</td><td>PTZ-300</td></tr></table>
<p><a href="{HREF}">the tender</a></p>
</body></html>
""".encode()


def test_sniffed_as_html() -> None:
    assert sniff(_page()).name == "html"
    assert sniff(b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"/>').name == (
        "html"
    )


def test_saved_page_through_the_cli(tmp_path: Path) -> None:
    source = tmp_path / "page.html"
    source.write_bytes(_page())
    result = subprocess.run(
        [*LEAKDROP, "scrub", str(source), "--out", str(tmp_path / "out"), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (cleaned,) = (tmp_path / "out").iterdir()
    data = cleaned.read_bytes()
    for canary in CANARIES.values():
        assert canary.encode() not in data, canary
        assert canary not in result.stdout, canary  # names, never values
    assert HREF.encode() in data  # the link is content
    assert b"Twelve cameras are installed" in data and b"PTZ-300" in data
    assert b"<script" not in data and b"onload" not in data and b"<!--" not in data
    tags = json.loads(
        subprocess.run(
            ["exiftool", "-j", "-a", "-G1", str(cleaned)], capture_output=True, check=True
        ).stdout
    )[0]
    assert not [k for k in tags if k.startswith("HTML") and "meta" in k.lower()]
    for value in tags.values():
        assert not any(c in str(value) for c in CANARIES.values())


def test_report_and_idempotence() -> None:
    report = scrub_sandboxed(_page())
    assert report.cleaned and report.file_type.name == "html"
    for name in ("html:comment:saved-from-url", "html:meta:author", "html:meta:generator",
                 "html:script", "html:attribute:event", "html:img", "html:link",
                 "html:iframe", "html:style"):  # fmt: skip
        assert name in report.removed, name
    assert set(report.warnings) >= {"page-content", "hyperlinks"}
    again = scrub_sandboxed(report.data)
    assert again.cleaned and again.removed == ()
    assert again.data == report.data


def test_corpus_pages(tmp_path: Path, shared_dir: Path | None) -> None:
    if shared_dir is None:
        return
    for name in ("exiftool-HTML.html", "mat2-dirty.html"):
        path = shared_dir / "corpus" / "media" / name
        report = scrub_sandboxed(path.read_bytes())
        assert report.cleaned, (name, report.reason)
        assert b"<meta name" not in report.data.lower()
        assert b"<!--" not in report.data


def test_generic_attributes_are_not_kept_outside_the_table() -> None:
    """ammonia keeps `title` and `lang` on every element unless told otherwise: a page
    with them must still come out cleaned, without them."""
    page = (
        b'<html><body><p title="CanaryTitleAttr" lang="fr" data-u="CanaryData">text</p>'
        b'<table summary="CanarySummary"><tr><td abbr="CanaryAbbr">x</td></tr></table>'
        b"</body></html>"
    )
    report = scrub_sandboxed(page)
    assert report.cleaned, report.reason
    assert b"Canary" not in report.data and b"text" in report.data
    assert "html:attribute:title" in report.removed


def test_title_is_kept_as_text_and_links_are_listed() -> None:
    """The title is what the tab shows (content): kept, escaped, never as markup. The kept
    links are listed for the editors (per-recipient tracking tokens hide in them)."""
    page = (
        b"<html><head><title>Tender &amp; <b>rollout</b> </title><script>x()</script></title>"
        b"</head><body><p><a href='https://example.org/t?u=CANARY-TOKEN'>t</a>"
        b"<a href='javascript:steal()'>j</a></p></body></html>"
    )
    report = scrub_sandboxed(page)
    assert report.cleaned, report.reason
    head = report.data.split(b"<body>")[0]
    assert b"<title>Tender &amp; rollout</title>" in head  # its text only
    assert b"<script" not in report.data and b"x()" not in report.data
    assert report.links == ("https://example.org/t?u=CANARY-TOKEN",)
    assert "hyperlinks" in report.warnings
    again = scrub_sandboxed(report.data)
    assert again.cleaned and again.removed == () and again.data == report.data


def test_pictures_saved_in_the_page_are_cleaned_and_kept(tmp_path: Path) -> None:
    """A data: picture is part of the page: kept, cleaned by the JPEG scrubber (its EXIF
    description and GPS go). A picture that cannot be cleaned, and a data: link, go."""
    jpeg = base64.b64encode(_jpeg_with_gps()).decode()
    page = (
        f'<html><body><p><img src="data:image/png;base64,{jpeg}" alt="the plan" width="8">'
        '<img src="data:image/png;base64,AAAA" width="CANARY-WIDTH">'
        '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a></p></body></html>'
    ).encode()
    report = scrub_sandboxed(page)
    assert report.cleaned, report.reason
    assert "html:img" in report.removed  # the one that cannot be cleaned
    assert any(name.startswith("embedded:jpeg/") for name in report.removed), report.removed
    assert b"CANARY" not in report.data and b"data:text/html" not in report.data
    (kept,) = re.findall(rb'<img src="data:image/jpeg;base64,([^"]+)"[^>]*>', report.data)
    picture = tmp_path / "picture.jpg"
    picture.write_bytes(base64.b64decode(kept))
    assert CANARIES["gps"].encode() not in picture.read_bytes()
    exiftool = ["exiftool", "-j", "-a", "-G1", str(picture)]
    tags = json.loads(subprocess.run(exiftool, capture_output=True, check=True).stdout)[0]
    assert not [key for key in tags if "GPS" in key or "ImageDescription" in key], tags
    assert b'alt="the plan"' in report.data and b'width="8"' in report.data
    again = scrub_sandboxed(report.data)
    assert again.cleaned and again.removed == () and again.data == report.data


def test_sizes_keep_only_numbers() -> None:
    page = (
        b'<html><body><table><tr><td colspan="CANARY-COL" rowspan="2">x</td></tr></table>'
        b"</body></html>"
    )
    report = scrub_sandboxed(page)
    assert report.cleaned, report.reason
    assert b"CANARY" not in report.data and b'rowspan="2"' in report.data
    assert "html:invalid-value" in report.removed
    again = scrub_sandboxed(report.data)
    assert again.cleaned and again.removed == () and again.data == report.data
