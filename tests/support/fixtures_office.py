"""Office documents made in the tests, by writing their zip members and XML directly.

Every identifying field carries a unique marker ending in ``MARK`` ("Marker-<field>-9c1e"),
so a test can look for the suffix in every member of the output (decompressed, recursively)
and be sure nothing of it is left. Visible text never contains the marker.
"""

from __future__ import annotations

import base64
import io
import zipfile

from PIL import Image

MARK = "9c1e"


def marker(field: str) -> str:
    return f"Marker-{field}-{MARK}"


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# Visible text of the docx body after accepting all changes (what must survive).
DOCX_VISIBLE = ["Kept paragraph one. ", "Inserted words.", "Moved sentence.", "Commented text."]
DOCX_DELETED = ["Deleted secret words.", "Moved sentence."]


def zip_bytes(members: list[tuple[str, bytes | str]], *, stored: tuple[str, ...] = ()) -> bytes:
    """A zip with real-world noise: current-ish dates, an archive comment."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2023, 5, 17, 9, 41, 12))
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, data.encode() if isinstance(data, str) else data)
        archive.comment = marker("ZipComment").encode()
    return sink.getvalue()


def jpeg_with_gps() -> bytes:
    """A small JPEG whose EXIF holds an artist name, a camera serial and a GPS position."""
    image = Image.new("RGB", (16, 16), (200, 40, 40))
    exif = Image.Exif()
    exif[0x013B] = marker("ImageArtist")  # Artist
    exif[0x010F] = marker("CameraMake")  # Make
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 7.0), 3: "E", 4: (4.0, 53.0, 2.0)}  # GPS IFD
    sink = io.BytesIO()
    image.save(sink, "JPEG", exif=exif.tobytes(), comment=marker("JpegComment").encode())
    return sink.getvalue()


def png_plain() -> bytes:
    sink = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 10)).save(sink, "PNG")
    return sink.getvalue()


def _core_xml(who: str) -> str:
    return (
        XML_HEAD + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>{marker(who + 'Creator')}</dc:creator>"
        f"<cp:lastModifiedBy>{marker(who + 'LastModifiedBy')}</cp:lastModifiedBy>"
        f"<dc:title>{marker(who + 'Title')}</dc:title>"
        '<dcterms:created xsi:type="dcterms:W3CDTF">2023-05-17T09:41:12Z</dcterms:created>'
        '<dcterms:modified xsi:type="dcterms:W3CDTF">2023-05-18T10:00:00Z</dcterms:modified>'
        "<cp:revision>7</cp:revision></cp:coreProperties>"
    )


def _app_xml(who: str) -> str:
    return (
        XML_HEAD + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'extended-properties"><Template>'
        f"{marker(who + 'Template')}</Template><TotalTime>93</TotalTime>"
        f"<Company>{marker(who + 'Company')}</Company><Manager>{marker(who + 'Manager')}</Manager>"
        "<Application>Microsoft Office Word</Application></Properties>"
    )


def _custom_xml() -> str:
    return (
        XML_HEAD + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
        'docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" '
        f'name="MSIP_Label_{MARK}_SetBy"><vt:lpwstr>{marker("LabelSetBy")}</vt:lpwstr>'
        "</property></Properties>"
    )


def _rels(*rels: tuple[str, str, str] | tuple[str, str, str, str]) -> str:
    body = "".join(
        f'<Relationship Id="{r[0]}" Type="{r[1]}" Target="{r[2]}"'
        + (f' TargetMode="{r[3]}"' if len(r) > 3 else "")
        + "/>"
        for r in rels
    )
    return XML_HEAD + f'<Relationships xmlns="{RELS}">{body}</Relationships>'


def _types(defaults: dict[str, str], overrides: dict[str, str]) -> str:
    body = "".join(f'<Default Extension="{e}" ContentType="{c}"/>' for e, c in defaults.items())
    body += "".join(f'<Override PartName="{p}" ContentType="{c}"/>' for p, c in overrides.items())
    return (
        XML_HEAD
        + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        + body
        + "</Types>"
    )


_OFD = "application/vnd.openxmlformats-officedocument"
_MS_XL = "application/vnd.ms-excel"
_XL_PRINTER = f"{_OFD}.spreadsheetml.printerSettings"
_LABELS = "application/vnd.ms-office.classificationlabels+xml"
_DEFAULTS = {
    "rels": "application/vnd.openxmlformats-package.relationships+xml",
    "xml": "application/xml",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "bin": f"{_OFD}.wordprocessingml.printerSettings",
    "xlsx": f"{_OFD}.spreadsheetml.sheet",
}
_PROPS = {
    "/docProps/core.xml": "application/vnd.openxmlformats-package.core-properties+xml",
    "/docProps/app.xml": f"{_OFD}.extended-properties+xml",
    "/docProps/custom.xml": f"{_OFD}.custom-properties+xml",
}
_PACKAGE_RELS = (
    (
        "rId2",
        "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
        "docProps/core.xml",
    ),
    ("rId3", f"{RT}/extended-properties", "docProps/app.xml"),
    ("rId4", f"{RT}/custom-properties", "docProps/custom.xml"),
    (
        "rId5",
        "http://schemas.openxmlformats.org/package/2006/relationships/metadata/thumbnail",
        "docProps/thumbnail.jpeg",
    ),
)


def make_xlsx(who: str = "Xlsx") -> bytes:
    """A workbook with properties, a legacy comment, a threaded comment with its person,
    the folder it was saved in, shared-workbook user, revision pointer, printer settings."""
    x = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    workbook = (
        XML_HEAD + f'<workbook xmlns="{x}" xmlns:r="{R}" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac" '
        'xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision" '
        'mc:Ignorable="x15ac xr">'
        f'<fileSharing userName="{marker(who + "SharingUser")}"/>'
        '<mc:AlternateContent><mc:Choice Requires="x15">'
        f'<x15ac:absPath url="C:\\Users\\{marker(who + "AbsPathUser")}\\Documents\\"/>'
        "</mc:Choice></mc:AlternateContent>"
        f'<xr:revisionPtr revIDLastSave="0" documentId="8_{{{marker(who + "DocumentId")}}}"/>'
        '<sheets><sheet name="Budget" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    sheet = (
        XML_HEAD + f'<worksheet xmlns="{x}" xmlns:r="{R}" '
        'xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Cell text stays</t></is></c>'
        '</row></sheetData><pageSetup paperSize="9" r:id="rId3"/></worksheet>'
    )
    comments = (
        XML_HEAD + f'<comments xmlns="{x}"><authors><author>{marker(who + "CommentAuthor")}'
        '</author></authors><commentList><comment ref="A1" authorId="0"><text><r><t>'
        f"{marker(who + 'CommentText')}</t></r></text></comment></commentList></comments>"
    )
    tc = "http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"
    threaded = (
        XML_HEAD + f'<ThreadedComments xmlns="{tc}"><threadedComment ref="A1" '
        'dT="2023-05-17T09:41:12.00" personId="{0}" id="{1}">'
        f"<text>{marker(who + 'ThreadedText')}</text></threadedComment></ThreadedComments>"
    )
    persons = (
        XML_HEAD + f'<personList xmlns="{tc}"><person displayName="'
        f'{marker(who + "PersonName")}" id="{{0}}" userId="{marker(who + "PersonUserId")}" '
        'providerId="AD"/></personList>'
    )
    return zip_bytes(
        [
            (
                "[Content_Types].xml",
                _types(
                    _DEFAULTS,
                    {
                        **_PROPS,
                        "/xl/workbook.xml": f"{_OFD}.spreadsheetml.sheet.main+xml",
                        "/xl/worksheets/sheet1.xml": f"{_OFD}.spreadsheetml.worksheet+xml",
                        "/xl/comments1.xml": f"{_OFD}.spreadsheetml.comments+xml",
                        "/xl/threadedComments/threadedComment1.xml": _MS_XL
                        + ".threadedcomments+xml",
                        "/xl/persons/person.xml": _MS_XL + ".person+xml",
                        "/xl/printerSettings/printerSettings1.bin": _XL_PRINTER,
                    },
                ),
            ),
            (
                "_rels/.rels",
                _rels(("rId1", f"{RT}/officeDocument", "xl/workbook.xml"), *_PACKAGE_RELS[:3]),
            ),
            ("docProps/core.xml", _core_xml(who)),
            ("docProps/app.xml", _app_xml(who)),
            ("docProps/custom.xml", _custom_xml()),
            ("xl/workbook.xml", workbook),
            (
                "xl/_rels/workbook.xml.rels",
                _rels(
                    ("rId1", f"{RT}/worksheet", "worksheets/sheet1.xml"),
                    (
                        "rId2",
                        "http://schemas.microsoft.com/office/2017/10/relationships/person",
                        "persons/person.xml",
                    ),
                ),
            ),
            ("xl/worksheets/sheet1.xml", sheet),
            (
                "xl/worksheets/_rels/sheet1.xml.rels",
                _rels(
                    ("rId1", f"{RT}/comments", "../comments1.xml"),
                    (
                        "rId2",
                        "http://schemas.microsoft.com/office/2017/10/relationships/threadedComment",
                        "../threadedComments/threadedComment1.xml",
                    ),
                    ("rId3", f"{RT}/printerSettings", "../printerSettings/printerSettings1.bin"),
                ),
            ),
            ("xl/comments1.xml", comments),
            ("xl/threadedComments/threadedComment1.xml", threaded),
            ("xl/persons/person.xml", persons),
            (
                "xl/printerSettings/printerSettings1.bin",
                b"\x00" * 32 + marker(who + "Printer").encode("utf-16-le"),
            ),
        ]
    )


def make_docx(*, embedded_xlsx: bytes | None = None) -> bytes:
    """The kitchen-sink Word document (see the module docstring)."""
    w14 = "http://schemas.microsoft.com/office/word/2010/wordml"
    w15 = "http://schemas.microsoft.com/office/word/2012/wordml"
    ns = (
        f'xmlns:w="{W}" xmlns:r="{R}" xmlns:w14="{w14}" xmlns:w15="{w15}" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
        'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
        'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture" '
        'xmlns:o="urn:schemas-microsoft-com:office:office" '
        'mc:Ignorable="w14 w15"'
    )
    author = marker("ChangeAuthor")
    track = f'w:author="{author}" w:date="2023-05-17T09:41:00Z"'
    drawing = (
        '<w:r><w:drawing><wp:inline><wp:extent cx="100" cy="100"/><wp:docPr id="1" '
        f'name="Picture 1" descr="C:\\Users\\{marker("PicPathUser")}\\Pictures\\x.jpg"/>'
        '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:pic><pic:nvPicPr><pic:cNvPr id="1" '
        f'name="IMG_{marker("PicName")}.jpg" descr="C:\\Users\\{marker("PicDescr")}\\x.jpg"/>'
        '<pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:embed="rId10"/></pic:blipFill>'
        "</pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"
    )
    document = (
        XML_HEAD + f"<w:document {ns}><w:body>"
        '<w:p w:rsidR="9C1E0001" w:rsidRDefault="9C1E0002" w14:paraId="9C1E0003" '
        'w14:textId="9C1E0004"><w:pPr><w:rPr><w:ins ' + track + ' w:id="1"/></w:rPr>'
        f'<w:pPrChange {track} w:id="2"><w:pPr/></w:pPrChange></w:pPr>'
        '<w:r w:rsidRPr="9C1E0005"><w:rPr><w:b/>'
        f'<w:rPrChange {track} w:id="3"><w:rPr/></w:rPrChange></w:rPr>'
        '<w:t xml:space="preserve">Kept paragraph one. </w:t></w:r>'
        f'<w:ins {track} w:id="4"><w:r><w:t>Inserted words.</w:t></w:r></w:ins>'
        f'<w:del {track} w:id="5"><w:r><w:delText>Deleted secret words.</w:delText></w:r>'
        "</w:del></w:p>"
        f'<w:p><w:moveFromRangeStart w:id="6" w:name="move1" {track}/>'
        f'<w:moveFrom {track} w:id="7"><w:r><w:t>Moved sentence.</w:t></w:r></w:moveFrom>'
        '<w:moveFromRangeEnd w:id="6"/></w:p>'
        f'<w:p><w:moveToRangeStart w:id="8" w:name="move1" {track}/>'
        f'<w:moveTo {track} w:id="9"><w:r><w:t>Moved sentence.</w:t></w:r></w:moveTo>'
        '<w:moveToRangeEnd w:id="8"/></w:p>'
        f'<w:p><w:permStart w:id="10" w:ed="CORP\\{marker("PermEditor")}"/>'
        '<w:commentRangeStart w:id="0"/><w:r><w:t>Commented text.</w:t></w:r>'
        '<w:commentRangeEnd w:id="0"/><w:r><w:commentReference w:id="0"/></w:r>'
        '<w:permEnd w:id="10"/></w:p>'
        f"<w:p>{drawing}</w:p>"
        '<w:p><w:r><w:object><o:OLEObject Type="Embed" ProgID="Excel.Sheet.12" '
        'ShapeID="_x0000_i1025" r:id="rId11"/></w:object></w:r></w:p>'
        '<w:sectPr w:rsidR="9C1E0006"><w:pgSz w:w="12240" w:h="15840"/></w:sectPr>'
        "</w:body></w:document>"
    )
    comments = (
        XML_HEAD + f'<w:comments {ns}><w:comment w:id="0" w:author="{marker("CommentAuthor")}" '
        'w:date="2023-05-17T09:41:00Z" w:initials="MC"><w:p w14:paraId="9C1E0007">'
        f"<w:r><w:annotationRef/></w:r><w:r><w:t>{marker('CommentText')}</w:t></w:r></w:p>"
        "</w:comment></w:comments>"
    )
    comments_ext = (
        XML_HEAD + f'<w15:commentsEx {ns}><w15:commentEx w15:paraId="9C1E0007" w15:done="0"/>'
        "</w15:commentsEx>"
    )
    people = (
        XML_HEAD + f'<w15:people {ns}><w15:person w15:author="{marker("PeopleAuthor")}">'
        f'<w15:presenceInfo w15:providerId="AD" w15:userId="S::{marker("PeopleUserId")}"/>'
        "</w15:person></w15:people>"
    )
    settings = (
        XML_HEAD + f"<w:settings {ns}>"
        '<w:attachedTemplate r:id="rId1"/>'
        f'<w:docVars><w:docVar w:name="User" w:val="{marker("DocVar")}"/></w:docVars>'
        '<w:documentProtection w:edit="readOnly" w:enforcement="1" '
        f'w:hashValue="{marker("PasswordHash")}" w:saltValue="c2FsdA=="/>'
        '<w:rsids><w:rsidRoot w:val="9C1E0008"/><w:rsid w:val="9C1E0009"/></w:rsids>'
        f'<w14:docId w14:val="{marker("W14DocId")}"/><w15:docId w15:val="{{{marker("DocId")}}}"/>'
        "</w:settings>"
    )
    numbering = (
        XML_HEAD + f'<w:numbering {ns}><w:abstractNum w:abstractNumId="0">'
        '<w:nsid w:val="9C1E000A"/><w:multiLevelType w:val="hybridMultilevel"/>'
        '<w:tmpl w:val="9C1E000B"/></w:abstractNum></w:numbering>'
    )
    wp = f"{_OFD}.wordprocessingml"
    members: list[tuple[str, bytes | str]] = [
        (
            "[Content_Types].xml",
            _types(
                _DEFAULTS,
                {
                    **_PROPS,
                    "/word/document.xml": f"{wp}.document.main+xml",
                    "/word/comments.xml": f"{wp}.comments+xml",
                    "/word/commentsExtended.xml": f"{wp}.commentsExtended+xml",
                    "/word/people.xml": f"{wp}.people+xml",
                    "/word/settings.xml": f"{wp}.settings+xml",
                    "/word/numbering.xml": f"{wp}.numbering+xml",
                    "/customXml/itemProps1.xml": f"{_OFD}.customXmlProperties+xml",
                    "/docMetadata/LabelInfo.xml": _LABELS,
                },
            ),
        ),
        (
            "_rels/.rels",
            _rels(
                ("rId1", f"{RT}/officeDocument", "word/document.xml"),
                *_PACKAGE_RELS,
                (
                    "rId6",
                    "http://schemas.microsoft.com/office/2020/02/relationships/"
                    "classificationlabels",
                    "docMetadata/LabelInfo.xml",
                ),
            ),
        ),
        ("docProps/core.xml", _core_xml("Docx")),
        ("docProps/app.xml", _app_xml("Docx")),
        ("docProps/custom.xml", _custom_xml()),
        ("docProps/thumbnail.jpeg", jpeg_with_gps()),
        (
            "docMetadata/LabelInfo.xml",
            XML_HEAD
            + '<clbl:labelList xmlns:clbl="http://schemas.microsoft.com/office/2020/mipLabelMetadata">'
            f'<clbl:label id="{{{marker("LabelId")}}}" enabled="1" method="Standard" '
            f'siteId="{{{marker("TenantId")}}}"/></clbl:labelList>',
        ),
        ("word/document.xml", document),
        (
            "word/_rels/document.xml.rels",
            _rels(
                ("rId1", f"{RT}/comments", "comments.xml"),
                (
                    "rId2",
                    "http://schemas.microsoft.com/office/2011/relationships/commentsExtended",
                    "commentsExtended.xml",
                ),
                (
                    "rId3",
                    "http://schemas.microsoft.com/office/2011/relationships/people",
                    "people.xml",
                ),
                ("rId4", f"{RT}/settings", "settings.xml"),
                ("rId5", f"{RT}/numbering", "numbering.xml"),
                ("rId6", f"{RT}/customXml", "../customXml/item1.xml"),
                ("rId7", f"{RT}/printerSettings", "printerSettings/printerSettings1.bin"),
                ("rId8", f"{RT}/hyperlink", "https://example.org/public", "External"),
                (
                    "rId9",
                    f"{RT}/oleObject",
                    f"file:///C:/Users/{marker('LinkUser')}/Documents/budget.xlsx",
                    "External",
                ),
                ("rId10", f"{RT}/image", "media/image1.jpeg"),
                ("rId11", f"{RT}/package", "embeddings/Microsoft_Excel_Worksheet.xlsx"),
                (
                    "rId12",
                    f"{RT}/hyperlink",
                    f"file:///C:/Users/{marker('HyperlinkUser')}/notes.docx",
                    "External",
                ),
            ),
        ),
        ("word/comments.xml", comments),
        ("word/commentsExtended.xml", comments_ext),
        ("word/people.xml", people),
        ("word/settings.xml", settings),
        (
            "word/_rels/settings.xml.rels",
            _rels(
                (
                    "rId1",
                    f"{RT}/attachedTemplate",
                    f"file:///C:\\Users\\{marker('TemplateUser')}\\AppData\\Roaming\\Microsoft\\"
                    "Templates\\Normal.dotm",
                    "External",
                ),
            ),
        ),
        ("word/numbering.xml", numbering),
        (
            "word/printerSettings/printerSettings1.bin",
            b"\x00" * 16 + marker("DocxPrinter").encode("utf-16-le"),
        ),
        ("word/media/image1.jpeg", jpeg_with_gps()),
        ("word/embeddings/Microsoft_Excel_Worksheet.xlsx", embedded_xlsx or make_xlsx("Inner")),
        ("customXml/item1.xml", XML_HEAD + f"<root><owner>{marker('CustomXml')}</owner></root>"),
        (
            "customXml/itemProps1.xml",
            XML_HEAD + '<ds:datastoreItem ds:itemID="{' + marker("CustomXmlId") + '}" '
            'xmlns:ds="http://schemas.openxmlformats.org/officeDocument/2006/customXml"/>',
        ),
        (
            "customXml/_rels/item1.xml.rels",
            _rels(
                ("rId1", f"{RT}/customXmlProps", "itemProps1.xml"),
            ),
        ),
    ]
    return zip_bytes(members)


def make_nested_docx(depth: int) -> bytes:
    """A docx embedding a docx embedding ... ``depth`` levels deep."""
    inner = make_xlsx("Deepest")
    for _ in range(depth):
        inner = make_docx(embedded_xlsx=inner)
    return inner


def make_pptx() -> bytes:
    p = "http://schemas.openxmlformats.org/presentationml/2006/main"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    presentation = (
        XML_HEAD + f'<p:presentation xmlns:p="{p}" xmlns:r="{R}" xmlns:a="{a}">'
        '<p:sldIdLst><p:sldId id="256" r:id="rId1"/></p:sldIdLst>'
        f'<p:modifyVerifier cryptProviderType="rsaAES" hashValue="{marker("PptHash")}" '
        'saltValue="c2FsdA==" spinValue="100000"/></p:presentation>'
    )
    p14 = "http://schemas.microsoft.com/office/powerpoint/2010/main"
    slide = (
        XML_HEAD + f'<p:sld xmlns:p="{p}" xmlns:a="{a}" xmlns:r="{R}" xmlns:p14="{p14}"><p:cSld>'
        "<p:spTree><p:sp><p:txBody><a:p><a:r><a:t>Slide text stays</a:t></a:r></a:p>"
        "</p:txBody></p:sp></p:spTree></p:cSld><p:extLst><p:ext "
        'uri="{BB962C8B-B14F-4D97-AF65-F5344CB8AC3E}"><p14:creationId val="9'
        '1234567"/></p:ext></p:extLst></p:sld>'
    )
    comments = (
        XML_HEAD + f'<p:cmLst xmlns:p="{p}"><p:cm authorId="0" dt="2023-05-17T09:41:12.000" '
        f'idx="1"><p:pos x="10" y="10"/><p:text>{marker("PptCommentText")}</p:text></p:cm>'
        "</p:cmLst>"
    )
    authors = (
        XML_HEAD + f'<p:cmAuthorLst xmlns:p="{p}"><p:cmAuthor id="0" '
        f'name="{marker("PptCommentAuthor")}" initials="MA" lastIdx="1" clrIdx="0"/>'
        "</p:cmAuthorLst>"
    )
    pml = f"{_OFD}.presentationml"
    return zip_bytes(
        [
            (
                "[Content_Types].xml",
                _types(
                    _DEFAULTS,
                    {
                        **_PROPS,
                        "/ppt/presentation.xml": f"{pml}.presentation.main+xml",
                        "/ppt/slides/slide1.xml": f"{pml}.slide+xml",
                        "/ppt/comments/comment1.xml": f"{pml}.comments+xml",
                        "/ppt/commentAuthors.xml": f"{pml}.commentAuthors+xml",
                    },
                ),
            ),
            (
                "_rels/.rels",
                _rels(("rId1", f"{RT}/officeDocument", "ppt/presentation.xml"), *_PACKAGE_RELS[:3]),
            ),
            ("docProps/core.xml", _core_xml("Pptx")),
            ("docProps/app.xml", _app_xml("Pptx")),
            ("docProps/custom.xml", _custom_xml()),
            ("ppt/presentation.xml", presentation),
            (
                "ppt/_rels/presentation.xml.rels",
                _rels(
                    ("rId1", f"{RT}/slide", "slides/slide1.xml"),
                    ("rId2", f"{RT}/commentAuthors", "commentAuthors.xml"),
                ),
            ),
            ("ppt/slides/slide1.xml", slide),
            (
                "ppt/slides/_rels/slide1.xml.rels",
                _rels(
                    ("rId1", f"{RT}/comments", "../comments/comment1.xml"),
                ),
            ),
            ("ppt/comments/comment1.xml", comments),
            ("ppt/commentAuthors.xml", authors),
        ]
    )


ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:officeooo="http://openoffice.org/2009/office" '
    'xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" office:version="1.3"'
)
ODT_VISIBLE = "Before note after note. Inserted by a reviewer. Plain last line."


def _annotation(field: str) -> str:
    return (
        f"<office:annotation><dc:creator>{marker(field + 'Author')}</dc:creator>"
        "<dc:date>2023-05-17T09:41:12</dc:date>"
        f"<text:p>{marker(field + 'Text')}</text:p></office:annotation>"
    )


def make_odt() -> bytes:
    content = (
        XML_HEAD.replace(' standalone="yes"', "") + f"<office:document-content {ODF_NS}>"
        '<office:automatic-styles><style:style style:name="T1" style:family="text">'
        '<style:text-properties officeooo:rsid="009c1e01" officeooo:paragraph-rsid="009c1e02"/>'
        "</style:style></office:automatic-styles>"
        "<office:body><office:text><text:tracked-changes>"
        '<text:changed-region text:id="ct1"><text:insertion><office:change-info>'
        f"<dc:creator>{marker('InsertAuthor')}</dc:creator><dc:date>2023-05-17T09:41:12</dc:date>"
        "</office:change-info></text:insertion></text:changed-region>"
        '<text:changed-region text:id="ct2"><text:deletion><office:change-info>'
        f"<dc:creator>{marker('DeleteAuthor')}</dc:creator><dc:date>2023-05-17T09:41:12</dc:date>"
        f"</office:change-info><text:p>{marker('DeletedText')}</text:p></text:deletion>"
        "</text:changed-region></text:tracked-changes>"
        f"<text:p>Before note {_annotation('Note')}after note. "
        '<text:change-start text:change-id="ct1"/>Inserted by a reviewer.'
        '<text:change-end text:change-id="ct1"/><text:change text:change-id="ct2"/></text:p>'
        '<text:p> Plain last line.<draw:frame draw:name="Image1"><draw:image '
        'xlink:href="Pictures/photo.jpg" xlink:type="simple"/></draw:frame>'
        f'<text:a xlink:href="file:///home/{marker("LinkUser")}/notes.odt">'
        "</text:a></text:p>"
        '<text:p><draw:frame draw:name="Inline"><draw:image><office:binary-data>'
        f"{base64.b64encode(jpeg_with_gps()).decode()}</office:binary-data></draw:image>"
        '</draw:frame><draw:frame draw:name="Object1"><draw:object '
        'xlink:href="./Object 1" xlink:type="simple"/><draw:image '
        'xlink:href="./ObjectReplacements/Object 1" xlink:type="simple"/></draw:frame></text:p>'
        "</office:text></office:body></office:document-content>"
    )
    styles = (
        XML_HEAD.replace(' standalone="yes"', "") + f"<office:document-styles {ODF_NS}>"
        '<office:master-styles><style:master-page style:name="Standard"><style:header>'
        f"<text:p>{_annotation('HeaderNote')}</text:p></style:header></style:master-page>"
        "</office:master-styles></office:document-styles>"
    )
    meta = (
        XML_HEAD.replace(' standalone="yes"', "") + f"<office:document-meta {ODF_NS}><office:meta>"
        f"<meta:initial-creator>{marker('InitialCreator')}</meta:initial-creator>"
        f"<dc:creator>{marker('OdfCreator')}</dc:creator>"
        "<meta:creation-date>2023-05-17T09:41:12</meta:creation-date>"
        "<dc:date>2023-05-18T09:41:12</dc:date><meta:editing-duration>PT51S</meta:editing-duration>"
        f"<meta:generator>{marker('Generator')}</meta:generator>"
        f'<meta:user-defined meta:name="Owner">{marker("UserDefined")}</meta:user-defined>'
        "</office:meta></office:document-meta>"
    )
    settings = (
        XML_HEAD.replace(' standalone="yes"', "") + f"<office:document-settings {ODF_NS}>"
        '<office:settings><config:config-item-set config:name="ooo:view-settings">'
        '<config:config-item config:name="ViewAreaTop" config:type="long">0</config:config-item>'
        '</config:config-item-set><config:config-item-set config:name="ooo:configuration-settings">'
        '<config:config-item config:name="PrinterName" config:type="string">'
        f"{marker('PrinterName')}</config:config-item>"
        '<config:config-item config:name="PrinterSetup" config:type="base64Binary">'
        f"{base64.b64encode(marker('PrinterSetup').encode()).decode()}</config:config-item>"
        '<config:config-item config:name="AddParaTableSpacing" config:type="boolean">true'
        "</config:config-item></config:config-item-set></office:settings>"
        "</office:document-settings>"
    )
    manifest_entries = [
        ("/", "application/vnd.oasis.opendocument.text"),
        ("content.xml", "text/xml"),
        ("styles.xml", "text/xml"),
        ("meta.xml", "text/xml"),
        ("settings.xml", "text/xml"),
        ("Pictures/photo.jpg", "image/jpeg"),
        ("Thumbnails/thumbnail.png", "image/png"),
        ("Configurations2/", "application/vnd.sun.xml.ui.configuration"),
        ("Configurations2/accelerator/current.xml", ""),
        ("Object 1/", "application/vnd.oasis.opendocument.chart"),
        ("Object 1/content.xml", "text/xml"),
        ("Object 1/meta.xml", "text/xml"),
        ("ObjectReplacements/Object 1", "application/x-openoffice-gdimetafile"),
    ]
    manifest = (
        XML_HEAD.replace(' standalone="yes"', "")
        + '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.3">'
        + "".join(
            f'<manifest:file-entry manifest:full-path="{p}" manifest:media-type="{t}"/>'
            for p, t in manifest_entries
        )
        + "</manifest:manifest>"
    )
    return zip_bytes(
        [
            ("mimetype", "application/vnd.oasis.opendocument.text"),
            ("content.xml", content),
            ("styles.xml", styles),
            ("meta.xml", meta),
            ("settings.xml", settings),
            ("Pictures/photo.jpg", jpeg_with_gps()),
            ("Thumbnails/thumbnail.png", png_plain()),
            ("Configurations2/accelerator/current.xml", marker("Config2")),
            (
                "Object 1/content.xml",
                XML_HEAD + f"<office:document-content {ODF_NS}>"
                f"<office:body><office:chart>{_annotation('ChartNote')}</office:chart></office:body>"
                "</office:document-content>",
            ),
            ("Object 1/meta.xml", meta.replace("-9c1e", "-Chart-9c1e")),
            ("ObjectReplacements/Object 1", b"VCLMTF" + marker("Replacement").encode()),
            ("META-INF/manifest.xml", manifest),
        ],
        stored=("mimetype",),
    )


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + ']>\n<w:document xmlns:w="'
    + W
    + '"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>'
    "</w:body></w:document>"
)


def replace_member(package: bytes, name: str, data: bytes | str) -> bytes:
    """The same package with one member's content replaced (or added)."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        members: list[tuple[str, bytes | str]] = [
            (info.filename, archive.read(info))
            for info in archive.infolist()
            if info.filename != name
        ]
    members.append((name, data))
    return zip_bytes(members, stored=("mimetype",))


def raw_zip(members: list[tuple[str, bytes]]) -> bytes:
    """A zip written without any checks (hostile names, duplicates)."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2023, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return sink.getvalue()


WORD_MAIN = f"{_OFD}.wordprocessingml.document.main+xml"
DOCX_NS = (
    f'xmlns:w="{W}" xmlns:r="{R}" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture" '
    'xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office"'
)


def minimal_docx(
    body: str,
    *,
    rels: tuple[tuple[str, str, str] | tuple[str, str, str, str], ...] = (),
    parts: tuple[tuple[str, bytes | str, str], ...] = (),
    main_type: str = WORD_MAIN,
    root_attributes: str = "",
    package_rels: tuple[tuple[str, str, str], ...] = (),
) -> bytes:
    """A Word document of one body and the given relationships and parts (name, data,
    content type), for tests of one hiding place each."""
    document = (
        XML_HEAD + f"<w:document {DOCX_NS}{root_attributes}><w:body>{body}</w:body></w:document>"
    )
    overrides = {"/word/document.xml": main_type, **{"/" + n: t for n, _, t in parts}}
    members: list[tuple[str, bytes | str]] = [
        ("[Content_Types].xml", _types(_DEFAULTS, overrides)),
        (
            "_rels/.rels",
            _rels(("rId1", f"{RT}/officeDocument", "word/document.xml"), *package_rels),
        ),
        ("word/document.xml", document),
        ("word/_rels/document.xml.rels", _rels(*rels)),
        *((name, data) for name, data, _ in parts),
    ]
    return zip_bytes(members)


def minimal_odt(body: str, *, extra: tuple[tuple[str, bytes | str, str], ...] = ()) -> bytes:
    """An ODF text document of one body (office:text content) and extra members."""
    content = (
        XML_HEAD.replace(' standalone="yes"', "") + f"<office:document-content {ODF_NS}>"
        f"<office:body><office:text>{body}</office:text></office:body>"
        "</office:document-content>"
    )
    entries = [("/", "application/vnd.oasis.opendocument.text"), ("content.xml", "text/xml")]
    entries += [(name, media) for name, _, media in extra]
    manifest = (
        XML_HEAD.replace(' standalone="yes"', "")
        + '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.3">'
        + "".join(
            f'<manifest:file-entry manifest:full-path="{p}" manifest:media-type="{t}"/>'
            for p, t in entries
        )
        + "</manifest:manifest>"
    )
    return zip_bytes(
        [
            ("mimetype", "application/vnd.oasis.opendocument.text"),
            ("content.xml", content),
            *((name, data) for name, data, _ in extra),
            ("META-INF/manifest.xml", manifest),
        ],
        stored=("mimetype",),
    )
