"""SVG (issue 11): an Inkscape-style drawing with a unique canary in every identifying place,
cleaned by the real `leakdrop scrub` command, checked with ExifTool and a raw byte search;
hostile SVGs end "not cleaned" with a typed reason; the shared corpus's SVGs go through."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from scrubbers import CorruptFileError, LimitExceededError, Limits, UnsupportedTypeError, scrub
from scrubbers import sniff as sniff_type

LEAKDROP = [sys.executable, "-m", "leakdrop.cli"]
SVG_NS = "http://www.w3.org/2000/svg"
CANARIES = [f"CANARY{i}" for i in range(1, 19)]


def _gps_jpeg() -> bytes:
    image = Image.new("RGB", (4, 4), (200, 10, 10))
    exif = Image.Exif()
    exif[0x010F] = "CANARY15"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 24.0)
    gps[3] = "E"
    gps[4] = (2.0, 21.0, 7.0)
    exif[0x013B] = "CANARY16"  # Artist
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _inkscape_svg() -> bytes:
    jpeg = base64.b64encode(_gps_jpeg()).decode()
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Created with Inkscape by CANARY1 -->
<?xml-stylesheet href="http://CANARY17.example/s.css"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:svg="http://www.w3.org/2000/svg"
   xmlns:xlink="http://www.w3.org/1999/xlink"
   xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
   xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
   xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:cc="http://creativecommons.org/ns#"
   xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
   xmlns:foo="http://vendor.example/CANARY18"
   width="200" height="100" viewBox="0 0 200 100" version="1.1"
   inkscape:export-filename="/home/CANARY2/network.png" inkscape:version="1.2 (CANARY3)"
   sodipodi:docname="CANARY4-network.svg" onload="alert('CANARY5')">
  <title>CANARY6 network</title>
  <desc>drawn by CANARY7</desc>
  <metadata><rdf:RDF><cc:Work><dc:creator><cc:Agent><dc:title>CANARY8</dc:title>
  </cc:Agent></dc:creator></cc:Work></rdf:RDF></metadata>
  <sodipodi:namedview inkscape:window-width="1366" pagecolor="#CANARY9"/>
  <style>@import url(http://CANARY10.example/x.css); rect {{ fill: red }}</style>
  <script>fetch('http://CANARY11.example/')</script>
  <defs><linearGradient id="grad"><stop offset="0" stop-color="#00f"/></linearGradient></defs>
  <g id="layer1" inkscape:label="CANARY12 layer" inkscape:groupmode="layer">
    <rect id="box" x="10" y="10" width="50" height="30" style="fill:url(#grad);stroke:#000"/>
    <path id="wire" d="M 60 25 L 140 25" foo:bar="CANARY13"
       style="stroke:#000;background:url(http://CANARY14.example/t.png)"/>
    <circle id="node" cx="160" cy="25" r="10" fill="url(#grad)" onclick="x()"/>
    <text id="label" x="10" y="80">Router <tspan id="t2">A</tspan></text>
    <image id="photo" x="100" y="50" width="4" height="4"
       xlink:href="data:image/jpeg;base64,{jpeg}"/>
    <image id="beacon" x="0" y="0" width="1" height="1"
       xlink:href="http://tracker.example/pixel.png"/>
    <use id="copy" xlink:href="#box" x="0" y="40"/>
    <a id="link" href="https://example.org/page"><rect id="r2" width="5" height="5"/></a>
    <foreignObject width="10" height="10"><p>hidden</p></foreignObject>
    <foo:widget>vendor data</foo:widget>
  </g>
</svg>
""".encode()


# The drawing's ids in document order: cleaned, each is renamed i1, i2, ... (`_svg_names`).
DRAWING_IDS = ["grad", "layer1", "box", "wire", "node", "label", "t2", "photo", "beacon",
               "copy", "link", "r2"]  # fmt: skip
NEW_ID = {old: f"i{number}" for number, old in enumerate(DRAWING_IDS, start=1)}


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LEAKDROP, "scrub", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def _exiftool(path: Path) -> dict[str, object]:
    out = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", str(path)], capture_output=True, check=True, timeout=60
    )
    tags: dict[str, object] = json.loads(out.stdout)[0]
    return tags


def test_inkscape_svg_cleaned_by_the_cli(tmp_path: Path) -> None:
    source = tmp_path / "network diagram.svg"
    source.write_bytes(_inkscape_svg())
    assert all(c.encode() in source.read_bytes() or c in ("CANARY15", "CANARY16") for c in CANARIES)
    result = _run(source, "--out", tmp_path / "out", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    (entry,) = json.loads(result.stdout)["files"]
    assert (entry["type"], entry["cleaned"]) == ("svg", True)
    output = Path(entry["output"])
    assert output.name == "network diagram.svg"
    data = output.read_bytes()
    # A raw byte search: no canary anywhere (the embedded JPEG's were in its EXIF).
    for canary in CANARIES:
        assert canary.encode() not in data, canary
        assert canary not in result.stdout, canary  # names only, never values
    assert b"tracker.example" not in data and b"inkscape" not in data and b"sodipodi" not in data
    removed = set(entry["removed"])
    assert {
        "svg:inkscape:export-filename",
        "svg:inkscape:version",
        "svg:sodipodi:docname",
        "svg:sodipodi:namedview",
        "svg:metadata",
        "svg:comment",
        "svg:processing-instruction",
        "svg:script",
        "svg:event-attribute",
        "svg:foreignObject",
        "svg:external-reference",
        "svg:style",
        "svg:title",
        "svg:desc",
        "svg:unknown-namespace",
        "svg:namespace-declaration",
    } <= removed
    assert any(r.startswith("embedded:jpeg/") for r in removed)
    assert entry["warnings"] == ["hyperlinks"] and entry["links"] == ["https://example.org/page"]

    # ExifTool, an independent reader, finds nothing but the drawing's own size and ids.
    tags = _exiftool(output)
    groups = {key.split(":")[0] for key in tags if ":" in key}
    assert groups <= {"ExifTool", "System", "File", "SVG", "Composite"}, groups
    assert not [k for k in tags if k.startswith("SVG") and ("Title" in k or "Desc" in k)]

    # Still valid SVG with every drawing element, internal references intact.
    root = ET.fromstring(data)
    assert root.tag == f"{{{SVG_NS}}}svg"
    ids = {e.get("id") for e in root.iter()} - {None}
    assert ids == set(NEW_ID.values())
    use = next(e for e in root.iter() if e.get("id") == NEW_ID["copy"])
    assert use.get("{http://www.w3.org/1999/xlink}href") == "#" + NEW_ID["box"]
    box = next(e for e in root.iter() if e.get("id") == NEW_ID["box"])
    assert box.get("style") == f"fill:url(#{NEW_ID['grad']});stroke:#000"
    beacon = next(e for e in root.iter() if e.get("id") == NEW_ID["beacon"])
    assert not [k for k in beacon.attrib if k.endswith("href")]
    wire = next(e for e in root.iter() if e.get("id") == NEW_ID["wire"])
    assert wire.get("style") == "stroke:#000"
    photo = next(e for e in root.iter() if e.get("id") == NEW_ID["photo"])
    href = photo.get("{http://www.w3.org/1999/xlink}href", "")
    assert href.startswith("data:image/jpeg;base64,")
    inner = base64.b64decode(href.partition(",")[2])
    embedded = tmp_path / "inner.jpg"
    embedded.write_bytes(inner)
    inner_tags = _exiftool(embedded)
    assert not [k for k in inner_tags if "GPS" in k or k.endswith(("Make", "Artist"))]
    assert "".join(next(e for e in root.iter() if e.get("id") == NEW_ID["label"]).itertext()) == (
        "Router A"
    )

    # Cleaning twice removes nothing more.
    again = scrub(data)
    assert again.cleaned and again.removed == ()
    assert again.data == data


def test_cleaned_svg_renders_in_a_browser(tmp_path: Path) -> None:
    # An independent renderer: Chromium draws the cleaned file; the red JPEG and the
    # gradient-filled rectangle are both there.
    import shutil

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed")
    report = scrub(_inkscape_svg())
    assert report.cleaned
    page = tmp_path / "clean.svg"
    page.write_bytes(report.data)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         "--window-size=200,100", page.as_uri()],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    # Chromium is installed by the README's test command: a missing screenshot is a failure.
    assert shot.exists(), "chromium could not take a screenshot"
    with Image.open(shot) as image:
        pixels = image.convert("RGB")
        gradient, picture = pixels.getpixel((30, 20)), pixels.getpixel((101, 51))
        assert isinstance(gradient, tuple) and isinstance(picture, tuple)
        assert gradient[2] > 200  # the rectangle's blue gradient
        assert picture[0] > 150  # the cleaned JPEG


def test_sniffed_from_bytes() -> None:
    assert sniff_type(b'<svg xmlns="http://www.w3.org/2000/svg"/>').name == "svg"
    assert sniff_type(b'<!-- x -->\n<s:svg xmlns:s="http://www.w3.org/2000/svg"/>').name == "svg"
    # Not SVG by its namespace, or no namespace at all: not sniffed as SVG (nor as text).
    assert sniff_type(b'<svg xmlns="http://www.w3.org/1337/svg"/>').name == "unknown"
    assert sniff_type(b"<svg><rect/></svg>").name == "unknown"
    # .svgz (gzip): unsupported, said so.
    import gzip

    report = scrub(gzip.compress(_inkscape_svg()))
    assert (report.cleaned, report.reason) == (False, UnsupportedTypeError.reason)


def test_external_dtd_doctype_dropped() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'
    )
    report = scrub(data)
    assert report.cleaned and "svg:doctype" in report.removed
    assert b"DOCTYPE" not in report.data


def _deep(depth: int) -> bytes:
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg">' + b"<g>" * depth + b"</g>" * depth + b"</svg>"
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_deep(5000), LimitExceededError.reason),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "CANARY"><!ENTITY b "&a;&a;&a;">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>',
            CorruptFileError.reason,
        ),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><g></svg>', CorruptFileError.reason),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/png;base64,'
            b'iVBORw0KGgo="/></svg>',
            CorruptFileError.reason,
        ),
    ],
    ids=["deep", "billion-laughs", "truncated", "broken-data-uri"],
)
def test_hostile_svg_not_cleaned_with_a_reason(data: bytes, reason: str) -> None:
    report = scrub(data)
    assert (report.cleaned, report.reason) == (False, reason)
    assert report.data == data


def test_huge_svg_not_cleaned() -> None:
    data = _deep(10) + b" " * 2000
    report = scrub(data, limits=Limits(max_xml_bytes=1000))
    assert (report.cleaned, report.reason) == (False, LimitExceededError.reason)


def test_style_element_kept_when_safe() -> None:
    data = (
        b'<svg xmlns="http://www.w3.org/2000/svg"><style>/* by CANARY */ .a { fill: url(#g);'
        b" -inkscape-x: 1 } rect, .b > circle { stroke: #000 }</style><rect class='a'/></svg>"
    )
    report = scrub(data)
    assert report.cleaned
    assert b"CANARY" not in report.data and b"-inkscape" not in report.data
    # Class a is renamed c1; #g names no element, so its url() goes; .b selects nothing.
    assert b".c1{}" in report.data and b"rect{stroke:#000}" in report.data
    assert b"url(" not in report.data and b".b" not in report.data
    assert {"svg:css-comment", "svg:css-property", "svg:class", "svg:dangling-reference",
            "svg:style-rule"} <= set(report.removed)  # fmt: skip


def test_corpus_svg(tmp_path: Path, shared_dir: Path | None) -> None:
    if shared_dir is None:
        return  # the self-made drawing above covers the format
    media = shared_dir / "corpus" / "media"
    # mat2's test SVG with its namespace changed: not SVG, refused, never passed through.
    weird = scrub((media / "mat2-weird.svg").read_bytes())
    assert (weird.cleaned, weird.reason) == (False, UnsupportedTypeError.reason)
    # ExifTool's: uses the prefix "c2pa:" without declaring it, so it is not well-formed
    # XML (ExifTool itself reads it with a lenient parser): refused as corrupt.
    xmp = scrub((media / "exiftool-XMP.svg").read_bytes())
    assert (xmp.cleaned, xmp.reason) == (False, CorruptFileError.reason)
    dirty_path = shared_dir / "corpus" / "mat2" / "dirty.svg"
    report = scrub(dirty_path.read_bytes())
    assert report.cleaned, report.reason
    out = tmp_path / "clean.svg"
    out.write_bytes(report.data)
    tags = _exiftool(out)
    assert {k.split(":")[0] for k in tags if ":" in k} <= {
        "ExifTool", "System", "File", "SVG", "Composite"
    }  # fmt: skip
    before = ET.fromstring(dirty_path.read_bytes())
    after = ET.fromstring(report.data)
    for shape in ("path", "rect", "circle", "text", "tspan", "g"):
        tag = f"{{{SVG_NS}}}{shape}"
        assert len(list(after.iter(tag))) == len(list(before.iter(tag))), shape


def test_damaged_svg_fails_with_a_typed_reason() -> None:
    # Flipped bytes, cuts, insertions: a clean file or one of the scrubbers' own reasons,
    # never a parser bug ("could not be cleaned").
    import random

    from scrubbers import ScrubError

    data = _inkscape_svg()
    rng = random.Random("svg")
    for _ in range(150):
        damaged = bytearray(data)
        position = rng.randrange(len(damaged))
        action = rng.randrange(3)
        if action == 0:
            damaged[position] ^= 1 << rng.randrange(8)
        elif action == 1:
            del damaged[position:]
        else:
            damaged[position:position] = rng.randbytes(rng.randrange(1, 40))
        report = scrub(bytes(damaged))
        assert report.reason != ScrubError.reason
        if report.cleaned:
            assert not [c for c in CANARIES if c.encode() in report.data]


def test_links_other_than_web_and_mail_removed() -> None:
    data = (
        b'<svg xmlns="http://www.w3.org/2000/svg">'
        b'<a href="javascript:alert(1)" target="CANARYwin"><rect id="a" width="1" height="1"/></a>'
        b'<a href="file:///home/CANARYuser/x.pdf"><rect id="b" width="1" height="1"/></a>'
        b'<a href="mailto:desk@example.org" target="_blank"><rect width="1" height="1"/></a>'
        b"</svg>"
    )
    report = scrub(data)
    assert report.cleaned
    assert b"CANARY" not in report.data and b"javascript" not in report.data
    assert report.links == ("mailto:desk@example.org",) and report.warnings == ("hyperlinks",)
    assert b'target="_blank"' in report.data
    assert {"svg:external-reference", "svg:unknown-attribute"} <= set(report.removed)


def test_free_text_in_names_and_values_does_not_survive() -> None:
    """A mark made for one recipient hides where a viewer ignores it: in the names the file
    gives itself (Illustrator writes layer names as ids) and in values an attribute cannot
    have. Each canary below sits in such a place; none may survive the clean, and what is
    drawn (the shapes, their fills, the filter chain) must stay."""
    data = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
    width="100" height="50" xml:lang="CANARYLANG">
  <style>.CANARYCLASS2 { fill: #0f0 } rect[data-x="CANARYSEL"] { stroke: red }
  #CANARYID1 { stroke-width: 2 }</style>
  <defs>
    <linearGradient id="CANARYID2"><stop offset="0" stop-color="#00f"/></linearGradient>
    <filter id="CANARYID3"><feGaussianBlur stdDeviation="1" result="CANARYRESULT"/>
      <feBlend in="SourceGraphic" in2="CANARYRESULT" mode="CANARYMODE"/></filter>
  </defs>
  <g id="Calque_CANARYID1" class="CANARYCLASS2 CANARYCLASS3">
    <rect id="CANARYID1" x="CANARYX" y="1" width="10" height="10" fill="url(#CANARYID2)"
      filter="url(#CANARYID3)" stroke="CANARYCOLOUR" opacity="0.5"/>
    <use xlink:href="#CANARYNOWHERE" x="20"/>
    <circle cx="30" cy="20" r="5" style="fill:url(#CANARYDANGLING);stroke:#000"
      transform="rotate(CANARYANGLE)" preserveAspectRatio="CANARYASPECT"/>
    <text x="40" y="40" style="font-family:Helvetica;font-weight:CANARYWEIGHT">drawn</text>
  </g>
</svg>"""
    report = scrub(data)
    assert report.cleaned, report.reason
    assert b"CANARY" not in report.data, report.data
    assert {"svg:id", "svg:class", "svg:filter-result", "svg:invalid-value",
            "svg:dangling-reference", "svg:style-rule"} <= set(report.removed)  # fmt: skip
    root = ET.fromstring(report.data)
    by_id = {e.get("id"): e for e in root.iter() if e.get("id")}
    gradient, blur_filter, group, rect = (by_id[f"i{n}"] for n in (1, 2, 3, 4))
    assert gradient.tag == f"{{{SVG_NS}}}linearGradient" and group.get("class") == "c1 c2"
    assert rect.get("fill") == "url(#i1)" and rect.get("filter") == "url(#i2)"
    assert rect.get("x") is None and rect.get("stroke") is None and rect.get("opacity") == "0.5"
    blur, blend = (e for e in blur_filter if e.tag.endswith(("feGaussianBlur", "feBlend")))
    assert blur.get("result") == "r1" and blend.get("in2") == "r1"
    assert blend.get("in") == "SourceGraphic" and blend.get("mode") is None
    css = next(e for e in root.iter() if e.tag.endswith("style")).text or ""
    assert ".c1{fill:#0f0}" in css and "#i4{stroke-width:2}" in css and "stroke:red" not in css
    assert b"font-family:Helvetica" in report.data and b"drawn" in report.data
    again = scrub(report.data)
    assert again.cleaned and again.removed == () and again.data == report.data


def test_selector_words_no_renderer_matches_do_not_survive() -> None:
    """A pseudo-class or element name no renderer knows selects nothing: pure room for a
    mark. Rules with one go; rules a renderer uses stay."""
    data = (
        b'<svg xmlns="http://www.w3.org/2000/svg"><style>rect:CANARYPSEUDO{fill:red} '
        b"rect::CANARYELEMENT{fill:red} CANARYTAG{fill:red} rect:nth-child(2n+1){fill:#00f} "
        b"rect:not(.a):hover{stroke:#000}</style><rect class='a' width='5' height='5'/></svg>"
    )
    report = scrub(data)
    assert report.cleaned, report.reason
    assert b"CANARY" not in report.data and "svg:style-rule" in report.removed
    assert b"rect:nth-child(2n+1){fill:#00f}" in report.data
    assert b"rect:not(.c1):hover{stroke:#000}" in report.data
    again = scrub(report.data)
    assert again.cleaned and again.removed == () and again.data == report.data
