"""EPUB: a self-made book with a canary in every place a name can hide, cleaned by the real
`leakdrop scrub` command; the mat2 corpus book; hostile books."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from support.fixtures_office import BILLION_LAUGHS, MARK, jpeg_with_gps, marker, zip_bytes

from scrubbers import scrub, sniff
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError

CORPUS_BOOK = Path("/work/shared/corpus/media/mat2-dirty.epub")
LEAKDROP = [sys.executable, "-m", "leakdrop.cli"]
OPF = "{http://www.idpf.org/2007/opf}"
DC = "{http://purl.org/dc/elements/1.1/}"
NCX = "{http://www.daisy.org/z3986/2005/ncx/}"

TITLE = "The Kept Title"
CHAPTER_TEXT = "Chapter text stays."
LINK = f"https://news.example/story?ref={marker('TrackedLink')}"

CONTAINER = (
    '<?xml version="1.0"?>\n<container version="1.0" '
    'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
    '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)
OPF_TEXT = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- {marker("OpfComment")} -->
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="bookid"
  prefix="calibre: https://{marker("Prefix")}.example/">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
    <dc:title>{TITLE}</dc:title>
    <dc:language>en</dc:language>
    <dc:identifier id="bookid">{marker("Identifier")}</dc:identifier>
    <dc:identifier opf:scheme="ISBN">{marker("Isbn")}</dc:identifier>
    <dc:creator opf:file-as="{marker("FileAs")}">{marker("Creator")}</dc:creator>
    <dc:contributor>{marker("Contributor")}</dc:contributor>
    <dc:date>2024-03-05 {marker("Date")}</dc:date>
    <dc:publisher>{marker("Publisher")}</dc:publisher>
    <dc:description>{marker("Description")}</dc:description>
    <meta property="dcterms:modified">2024-03-05T10:11:12Z{marker("Modified")}</meta>
    <meta name="calibre:timestamp" content="{marker("CalibreTimestamp")}"/>
    <meta name="{marker("UnknownMetaName")}" content="{marker("UnknownMeta")}"/>
    <meta name="cover" content="cover-image"/>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="ch1" href="chapter1.xhtml" media-type="application/xhtml+xml"/>
    <item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
    <item id="cover-image" href="images/photo.jpg" media-type="image/jpeg"
      properties="cover-image"/>
    <item id="font" href="fonts/body.ttf" media-type="font/ttf"/>
    <item id="css" href="style.css" media-type="text/css"/>
    <item id="remote" href="https://{marker("RemoteItem")}.example/x.css"
      media-type="text/css"/>
  </manifest>
  <spine toc="ncx"><itemref idref="ch1"/><itemref idref="remote"/></spine>
</package>
"""
NCX_TEXT = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE ncx PUBLIC "-//NISO//DTD ncx 2005-1//EN"
  "http://www.daisy.org/z3986/2005/ncx-2005-1.dtd">
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">
  <head>
    <meta name="dtb:uid" content="{marker("NcxUid")}"/>
    <meta name="dtb:generator" content="{marker("NcxGenerator")}"/>
  </head>
  <docTitle><text>{TITLE}</text></docTitle>
  <docAuthor><text>{marker("DocAuthor")}</text></docAuthor>
  <navMap>
    <navPoint id="p1" playOrder="1"><navLabel><text>Chapter One</text></navLabel>
      <content src="chapter1.xhtml"/></navPoint>
  </navMap>
</ncx>
"""
CHAPTER = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head>
  <!-- {marker("XhtmlComment")} -->
  <?{marker("Instruction")} x?>
  <meta charset="utf-8"/>
  <meta name="author" content="{marker("MetaAuthor")}"/>
  <title>Chapter One</title>
  <link rel="stylesheet" type="text/css" href="style.css"/>
  <link rel="stylesheet" href="https://{marker("RemoteSheet")}.example/s.css"/>
  <script>var who = "{marker("Script")}";</script>
</head>
<body onload="track('{marker("OnLoad")}')">
  <section epub:type="chapter" data-x="{marker("DataAttribute")}">
    <h1 id="c1">Chapter One</h1>
    <p style="color: red; background: url(http://{marker("StyleUrl")}.example/p.png)">
      {CHAPTER_TEXT} <a href="{LINK}">a story</a> and <a href="nav.xhtml#toc">back</a>.</p>
    <img src="images/photo.jpg" alt="A photo"/>
    <img src="http://{marker("Beacon")}.example/pixel.gif" alt=""/>
    <iframe src="https://{marker("Frame")}.example/">{marker("FrameText")}</iframe>
    <p>Final <span onclick="x()">words</span>.</p>
  </section>
</body>
</html>
"""
NAV = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>Contents</title></head>
<body><nav epub:type="toc" id="toc"><ol><li><a href="chapter1.xhtml">Chapter One</a></li></ol>
</nav></body></html>
"""
CSS = f"""/* {marker("CssComment")} */
@import url("https://{marker("CssImport")}.example/more.css");
body {{ margin: 1em; background: url(https://{marker("CssUrl")}.example/bg.png); }}
h1 {{ background: url(images/photo.jpg); font-weight: bold; }}
"""


def book(
    *,
    extra: tuple[tuple[str, bytes | str], ...] = (),
    replace: dict[str, bytes | str] | None = None,
) -> bytes:
    members: list[tuple[str, bytes | str]] = [
        ("mimetype", "application/epub+zip"),
        ("META-INF/container.xml", CONTAINER),
        ("META-INF/calibre_bookmarks.txt", marker("Bookmarks")),
        ("OEBPS/content.opf", OPF_TEXT),
        ("OEBPS/toc.ncx", NCX_TEXT),
        ("OEBPS/nav.xhtml", NAV),
        ("OEBPS/chapter1.xhtml", CHAPTER),
        ("OEBPS/style.css", CSS),
        ("OEBPS/images/photo.jpg", jpeg_with_gps()),
        # Declared a TrueType font, named as one: the bytes are a JPEG with GPS.
        ("OEBPS/fonts/body.ttf", jpeg_with_gps()),
        # In no manifest: no reader shows it.
        ("OEBPS/notes-of-the-source.txt", marker("UnknownMember")),
        *extra,
    ]
    if replace:
        members = [(name, replace.get(name, data)) for name, data in members]
    return zip_bytes(members, stored=("mimetype",))


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _canaries(data: bytes) -> list[str]:
    """Canaries left in any member (or in the zip's own bytes), the kept link's apart."""
    found = []
    for name, content in _members(data).items():
        text = content.decode("utf-8", "replace").replace(LINK, "")
        if MARK in text:
            found.append(f"{name}: {sorted(set(re.findall(r'Marker-[A-Za-z]+-' + MARK, text)))}")
    if MARK.encode() in data.replace(LINK.encode(), b""):
        found.append("<zip bytes>")
    return found


def _exiftool(path: Path) -> dict[str, object]:
    out = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", "-ee", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    tags: dict[str, object] = json.loads(out)[0]
    return tags


_IDENTIFYING = re.compile(
    r"creator|contributor|author|publisher|rights|source|date|description|generator|"
    r"gps|artist|make|model|serial|comment|timestamp|file-as",
    re.I,
)


def _assert_exiftool_clean(path: Path) -> dict[str, object]:
    tags = _exiftool(path)
    for key, value in tags.items():
        group, _, tag = key.partition(":")
        if group in ("ExifTool", "System", "SourceFile"):
            continue
        assert MARK not in str(value), key
        assert not _IDENTIFYING.search(tag), (key, value)
    return tags


def _assert_valid_package(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        first, *rest = archive.infolist()
        assert (first.filename, first.compress_type, first.extra) == (
            "mimetype",
            zipfile.ZIP_STORED,
            b"",
        )
        assert archive.read(first) == b"application/epub+zip"
        for info in rest:  # pictures are compressed already: stored, the rest deflated
            picture = sniff(archive.read(info)).name in ("jpeg", "png", "gif", "webp")
            assert info.compress_type == (zipfile.ZIP_STORED if picture else zipfile.ZIP_DEFLATED)
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
        assert archive.testzip() is None
    assert data[30:38] == b"mimetype"  # the first local header, at byte 0
    members = _members(data)
    container = ET.fromstring(members["META-INF/container.xml"])
    (rootfile,) = container.iter("{urn:oasis:names:tc:opendocument:xmlns:container}rootfile")
    opf_path = rootfile.get("full-path", "")
    package = ET.fromstring(members[opf_path])
    unique = package.get("unique-identifier")
    identifiers = [e for e in package.iter(f"{DC}identifier") if e.get("id") == unique]
    assert len(identifiers) == 1 and (identifiers[0].text or "").startswith("urn:uuid:")
    base = opf_path.rpartition("/")[0]
    ids = set()
    for item in package.iter(f"{OPF}item"):
        href = item.get("href", "")
        assert f"{base}/{href}".lstrip("/") in members, href
        ids.add(item.get("id"))
    for ref in package.iter(f"{OPF}itemref"):
        assert ref.get("idref") in ids


def _run_cli(source: Path, out: Path) -> dict[str, object]:
    result = subprocess.run(
        [*LEAKDROP, "scrub", str(source), "--out", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    (entry,) = document["files"]
    assert MARK not in result.stdout.replace(LINK, "")  # names, never values
    entry_dict: dict[str, object] = entry
    return entry_dict


def test_sniffed_from_the_bytes() -> None:
    assert sniff(book()).name == "epub"
    # The mimetype member deflated, or not first: a plain zip (cleaned member by member).
    deflated = zip_bytes([("mimetype", "application/epub+zip"), ("a.txt", "x")])
    assert sniff(deflated).name == "zip"
    late = zip_bytes([("a.txt", "x"), ("mimetype", "application/epub+zip")], stored=("mimetype",))
    assert sniff(late).name == "zip"
    other = zip_bytes([("mimetype", "application/epub+zipx")], stored=("mimetype",))
    assert sniff(other).name == "zip"


def test_every_canary_removed_by_the_cli(tmp_path: Path) -> None:
    source = tmp_path / "leaked book.zip"  # the name lies: the bytes decide
    source.write_bytes(book())
    entry = _run_cli(source, tmp_path / "out")
    assert (entry["type"], entry["cleaned"], entry["reason"]) == ("epub", True, None)
    output = Path(str(entry["output"]))
    assert output.name == "leaked book.epub"
    data = output.read_bytes()
    _assert_valid_package(data)
    assert _canaries(data) == []
    tags = _assert_exiftool_clean(output)
    assert TITLE in json.dumps(tags)

    members = _members(data)
    assert "OEBPS/notes-of-the-source.txt" not in members
    assert "META-INF/calibre_bookmarks.txt" not in members
    chapter = members["OEBPS/chapter1.xhtml"].decode()
    assert CHAPTER_TEXT in chapter and "Final <span>words</span>." in chapter
    assert LINK.replace("&", "&amp;") in chapter  # the clickable link is content
    assert 'src="images/photo.jpg"' in chapter and 'epub:type="chapter"' in chapter
    assert "<script" not in chapter and "onload" not in chapter and "<iframe" not in chapter
    assert 'href="style.css"' in chapter and "DOCTYPE" not in chapter
    package = ET.fromstring(members["OEBPS/content.opf"])
    metadata = package.find(f"{OPF}metadata")
    assert metadata is not None
    assert [e.tag.rpartition("}")[2] for e in metadata] == [
        "identifier",
        "title",
        "language",
        "meta",
        "meta",
    ]
    assert metadata.findtext(f"{DC}title") == TITLE
    modified = [m for m in metadata if m.get("property") == "dcterms:modified"]
    assert [m.text for m in modified] == ["2000-01-01T00:00:00Z"]
    assert [m.get("content") for m in metadata if m.get("name") == "cover"] == ["cover-image"]
    assert "remote" not in {item.get("id") for item in package.iter(f"{OPF}item")}
    uid = metadata.findtext(f"{DC}identifier")
    ncx = ET.fromstring(members["OEBPS/toc.ncx"])
    assert [(m.get("name"), m.get("content")) for m in ncx.iter(f"{NCX}meta")] == [("dtb:uid", uid)]
    assert ncx.find(f"{NCX}docAuthor") is None
    assert ncx.findtext(f"{NCX}docTitle/{NCX}text") == TITLE
    assert ncx.find(f"{NCX}navMap/{NCX}navPoint/{NCX}content") is not None
    css = members["OEBPS/style.css"].decode()
    assert "@import" not in css and "url(images/photo.jpg)" in css and "margin: 1em" in css
    # The "font" holding a JPEG was cleaned as a JPEG: kept, without its GPS.
    assert members["OEBPS/fonts/body.ttf"].startswith(b"\xff\xd8")
    (tmp_path / "font.jpg").write_bytes(members["OEBPS/fonts/body.ttf"])
    assert not any("GPS" in key for key in _exiftool(tmp_path / "font.jpg"))

    removed = entry["removed"]
    assert isinstance(removed, list)
    for name in (
        "epub:dc:creator",
        "epub:dc:contributor",
        "epub:dc:date",
        "epub:dc:publisher",
        "epub:dc:identifier",
        "epub:meta:calibre:timestamp",
        "epub:meta",
        "epub:META-INF/calibre_bookmarks.txt",
        "epub:unknown-member",
        "epub:ncx:docAuthor",
        "epub:ncx:dtb:uid",
        "epub:xhtml:comment",
        "epub:xhtml:meta:author",
        "epub:xhtml:script",
        "epub:xhtml:event-attribute",
        "epub:xhtml:external-resource",
        "epub:css:import",
        "embedded:jpeg/exif:GPS",
    ):
        assert name in removed, name
    assert entry["warnings"] == ["hyperlinks"] and entry["links"] == [LINK]

    # Cleaning twice removes nothing more.
    again = scrub(data)
    assert again.cleaned and again.removed == (), again.removed
    assert _canaries(again.data) == []


def test_identifier_fresh_each_time() -> None:
    first, second = scrub(book()), scrub(book())
    assert first.cleaned and second.cleaned

    def uid(data: bytes) -> str:
        package = ET.fromstring(_members(data)["OEBPS/content.opf"])
        return package.findtext(f"{OPF}metadata/{DC}identifier") or ""

    assert uid(first.data) != uid(second.data)


@pytest.mark.skipif(not CORPUS_BOOK.is_file(), reason="shared corpus absent")
def test_corpus_book(tmp_path: Path) -> None:
    original = CORPUS_BOOK.read_bytes()
    report = scrub(original)
    assert report.cleaned, report.reason
    _assert_valid_package(report.data)
    for name in ("epub:dc:creator", "epub:dc:rights", "epub:dc:source", "embedded:jpeg/exif"):
        assert name in report.removed
    path = tmp_path / "book.epub"
    path.write_bytes(report.data)
    tags = _assert_exiftool_clean(path)
    text = json.dumps(tags)
    for leftover in ("Sayers", "gutenberg.org/ebooks", "Public domain", "2019"):
        assert leftover not in text
    members = _members(report.data)
    for content in members.values():
        assert b"Ebookmaker" not in content and b"HTML Tidy" not in content  # generators
    # The author's name stays where the book itself prints it (content), not in metadata.
    assert b"Sayers" not in members["OEBPS/content.opf"] + members["OEBPS/toc.ncx"]
    assert set(members) == set(_members(original))  # every member is in the manifest
    chapter = next(v for k, v in members.items() if k.endswith("58820-h-7.htm.html"))
    assert b"CHAPTER I" in chapter
    again = scrub(report.data)
    assert again.cleaned and again.removed == ()


def test_encrypted_book_unsupported() -> None:
    hostile = book(extra=(("META-INF/encryption.xml", "<encryption/>"),))
    report = scrub(hostile)
    assert not report.cleaned and report.reason == UnsupportedTypeError.reason
    assert report.data == hostile


def test_dtd_entities_refused() -> None:
    laughs = BILLION_LAUGHS.replace("w:document", "html")
    hostile = book(replace={"OEBPS/chapter1.xhtml": laughs})
    report = scrub(hostile)
    assert not report.cleaned and report.reason == CorruptFileError.reason
    # A doctype other than the standard public ones (an internal subset) is refused too.
    custom = CHAPTER.replace("<!DOCTYPE html PUBLIC", '<!DOCTYPE html [<!ENTITY a "b">] PUBLIC')
    report = scrub(book(replace={"OEBPS/chapter1.xhtml": custom}))
    assert not report.cleaned and report.reason == CorruptFileError.reason


def test_unknown_xml_encoding_is_corrupt() -> None:
    # Found by fuzzing: the parser raised LookupError, reported as a crash of the cleaner.
    broken = NAV.replace('encoding="UTF-8"', 'encoding="UF-8"')
    report = scrub(book(replace={"OEBPS/nav.xhtml": broken}))
    assert not report.cleaned and report.reason == CorruptFileError.reason


def test_zip_bomb_member_refused() -> None:
    bomb = b"\x00" * (20 * 1024 * 1024)  # a compression ratio of about 1000
    hostile = book(replace={"OEBPS/images/photo.jpg": bomb})
    report = scrub(hostile)
    assert not report.cleaned and report.reason == LimitExceededError.reason


def test_uncleanable_member_makes_the_book_not_cleaned() -> None:
    hostile = book(replace={"OEBPS/images/photo.jpg": b"\x00\x01 nothing known \x02" * 10})
    report = scrub(hostile)
    assert not report.cleaned and report.reason == UnsupportedTypeError.reason


def test_rootfile_must_be_a_member() -> None:
    container = CONTAINER.replace("OEBPS/content.opf", "OEBPS/missing.opf")
    report = scrub(book(replace={"META-INF/container.xml": container}))
    assert not report.cleaned and report.reason == CorruptFileError.reason


def test_vocabulary_attributes_keep_only_defined_tokens() -> None:
    """Manifest and spine `properties`, itemref `linear` and guide entries are kept, but
    only with the values EPUB defines: a free token (or a guide title) could carry
    anything."""
    opf = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<dc:identifier id="id">x</dc:identifier><dc:title>Book</dc:title>'
        "<dc:language>en</dc:language></metadata>"
        '<manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"'
        ' properties="CanaryProp svg"/></manifest>'
        '<spine><itemref idref="c1" linear="CanaryLinear" properties="CanarySpread"/></spine>'
        '<guide><reference type="text" title="CanaryGuideTitle" href="c1.xhtml"/></guide>'
        "</package>"
    )
    page = (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
        "<head><title>t</title></head><body><p>Hello</p></body></html>"
    )
    container = (
        '<?xml version="1.0"?><container version="1.0" '
        'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
        '<rootfile full-path="content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr("META-INF/container.xml", container)
        archive.writestr("content.opf", opf)
        archive.writestr("c1.xhtml", page)
    report = scrub(buffer.getvalue())
    assert report.cleaned, report.reason
    assert {"epub:properties:unknown-token", "epub:guide:title"} <= set(report.removed)
    members = _members(report.data)
    assert not any(b"Canary" in data for data in members.values())
    assert b'properties="svg"' in members["content.opf"]
    assert scrub(report.data).removed == ()


@pytest.mark.parametrize(
    ("member", "old", "new", "reason"),
    [
        # A member of a zip takes no query; a manifest href no fragment either.
        ("OEBPS/content.opf", 'href="chapter1.xhtml"',
         f'href="chapter1.xhtml?{marker("ManifestQuery")}"', "epub:reference-suffix"),
        ("OEBPS/content.opf", 'href="chapter1.xhtml"',
         f'href="chapter1.xhtml#{marker("ManifestFragment")}"', "epub:reference-suffix"),
        ("OEBPS/content.opf", 'href="chapter1.xhtml" media-type="application/xhtml+xml"',
         f'href="chapter1.xhtml" media-type="application/xhtml+xml; x={marker("MediaType")}"',
         "epub:manifest:media-type-parameters"),
        # An image's, a stylesheet's, a CSS url()'s reference: neither query nor fragment.
        ("OEBPS/chapter1.xhtml", 'src="images/photo.jpg"',
         f'src="images/photo.jpg?{marker("ImageQuery")}"', "epub:reference-suffix"),
        ("OEBPS/chapter1.xhtml", 'href="style.css"',
         f'href="style.css#{marker("SheetFragment")}"', "epub:reference-suffix"),
        ("OEBPS/style.css", "url(images/photo.jpg)",
         f"url('images/photo.jpg?{marker('CssQuery')}')", "epub:reference-suffix"),
        # A link keeps its fragment (a place in the document), not a query.
        ("OEBPS/chapter1.xhtml", 'href="nav.xhtml#toc"',
         f'href="nav.xhtml?{marker("LinkQuery")}#toc"', "epub:reference-suffix"),
        ("OEBPS/toc.ncx", 'src="chapter1.xhtml"',
         f'src="chapter1.xhtml?{marker("NcxQuery")}"', "epub:reference-suffix"),
        # A link to a document the book does not have names nothing but free text.
        ("OEBPS/chapter1.xhtml", 'href="nav.xhtml#toc"',
         f'href="{marker("MissingDocument")}.xhtml"', "epub:xhtml:href"),
    ],
)  # fmt: skip
def test_internal_references_keep_only_the_member_name(
    member: str, old: str, new: str, reason: str
) -> None:
    original = {"OEBPS/content.opf": OPF_TEXT, "OEBPS/chapter1.xhtml": CHAPTER,
                "OEBPS/style.css": CSS, "OEBPS/toc.ncx": NCX_TEXT}[member]  # fmt: skip
    assert original.count(old) == 1
    report = scrub(book(replace={member: original.replace(old, new)}))
    assert report.cleaned, report.reason
    assert reason in report.removed
    assert _canaries(report.data) == []
    _assert_valid_package(report.data)
    again = scrub(report.data)
    assert again.cleaned and reason not in again.removed
