"""PDF fixtures made with pikepdf, each identifying field holding a unique marker string.

`dirty_pdf()` builds one document with every kind of field the PDF scrubber must remove;
`FIELDS` lists, for each reported field name, the marker that must vanish from the output
bytes (raw and decoded). Markers all start with ``Marker-`` and appear nowhere else, so a
grep over the cleaned file cannot be fooled by the visible text.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pikepdf
from pikepdf import Array, Dictionary, Name, String
from PIL import Image, ImageCms

VISIBLE_TEXT = ("Visible text stays on page one", "Page two keeps its words")
VISIBLE_COMMENT = "A visible comment body"
KEPT_URI = "https://example.org/kept-link"
OLD_DATE = "19990203040506"  # a date used only in fields that must go
MARKER_PREFIX = b"Marker-"


@dataclass(frozen=True)
class Field:
    name: str  # the report's field name (exact, or a prefix ending in ":")
    marker: str | None  # a value only that field holds; None when it has no free text


FIELDS: tuple[Field, ...] = (
    Field("pdf:Info/Author", "Marker-Author-7f3a"),
    Field("pdf:Info/Creator", "Marker-Creator-b21c"),
    Field("pdf:Info/Producer", "Marker-Producer-9d0e"),
    Field("pdf:Info/Company", "Marker-Company-44aa"),
    Field("pdf:Info/MSIP_Label", "Marker-MSIP-Site-0c1d"),
    Field("pdf:Info/custom", "Marker-InfoCustom-5e6f"),
    Field("pdf:incremental-updates", "Marker-OldAuthor-1a2b"),
    Field("pdf:ID", None),
    Field("pdf:XMP", "Marker-XMP-DocID-8b7c"),
    Field("pdf:XMP(page)", "Marker-XMP-Page-3c4d"),
    Field("pdf:XMP(image)", "Marker-XMP-Image-6a7b"),
    Field("pdf:XMP(font)", "Marker-XMP-Font-2e3f"),
    Field("pdf:XMP(form)", "Marker-XMP-Form-9a8b"),
    Field("pdf:PieceInfo", "Marker-PieceInfo-7d6c"),
    Field("pdf:LastModified", None),
    Field("pdf:JavaScript", "Marker-JS-Doc-1f2e"),
    Field("pdf:OpenAction", "Marker-JS-Open-3d4c"),
    Field("pdf:AA", "Marker-JS-PageAA-5b6a"),
    Field("pdf:annotation/T", "Marker-AnnotAuthor-7a8f"),
    Field("pdf:annotation/M", None),
    Field("pdf:annotation/CreationDate", None),
    Field("pdf:annotation/NM", "Marker-AnnotNM-9e0d"),
    Field("pdf:annotation/RC", "Marker-AnnotRC-1c2b"),
    Field("pdf:annotation/Popup", None),
    Field("pdf:annotation/IRT", "Marker-ReplyAuthor-3a4f"),
    Field("pdf:Thumb", "Marker-Thumb-5e6d"),
    Field("pdf:Perms", "Marker-UR3-Signer-7c8b"),
    Field("pdf:signature", "Marker-SigName-9a0f"),
    Field("pdf:XFA", "Marker-XFA-1e2d"),
    Field("pdf:SpiderInfo", "Marker-Spider-3c4b"),
    Field("pdf:web-capture", "Marker-WebID-5a6f"),
    Field("pdf:Collection", None),
    Field("pdf:ICC-description", "Marker-ICC-Desc-7e8d"),
    Field("pdf:OutputIntents", "Marker-OutputIntent-9c0b"),
    Field("pdf:jpeg:exif:", "Marker-Exif-Artist-1a3e"),
    Field("pdf:jpeg:COM", "Marker-JpegCOM-2b4f"),
    Field("pdf:jpeg:xmp", "Marker-JpegXMP-3c5a"),
    Field("pdf:EmbeddedFiles", "Marker-AttachName-4d6b"),
    Field("pdf:AF", None),
    Field("pdf:OPI", "Marker-OPI-Path-5e7c"),
    Field("pdf:action/Launch", "Marker-LaunchPath-6f8d"),
    Field("pdf:local-file-link", "Marker-LocalUser-7a9e"),
    Field("pdf:layer-creator", "Marker-OCG-User-8b0f"),
    Field("pdf:thread-info", "Marker-Thread-Author-9c1a"),
    Field("pdf:trailer-extra", "Marker-Trailer-0d2b"),
)
# Inside the attached files (each cleaned on its own, not by the PDF's walk).
ATTACHED_JPEG_MARKER = "Marker-AttJpeg-Artist-1e3c"
ATTACHED_PDF_MARKER = "Marker-AttPdf-Author-2f4d"


def jpeg_with_metadata(artist: str, comment: str, xmp: str, size: int = 16) -> bytes:
    """A real JPEG (Pillow) with EXIF (artist, make, model), XMP and a COM segment."""
    image = Image.new("RGB", (size, size), (200, 30, 30))
    exif = Image.Exif()
    exif[0x013B] = artist  # Artist
    exif[0x010F] = "Marker-Exif-Make-0f1e"  # Make
    exif[0x0110] = "Marker-Exif-Model-1f2e"  # Model
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        quality=90,
        exif=exif.tobytes(),
        comment=comment.encode(),
        xmp=f'<x:xmpmeta xmlns:x="adobe:ns:meta/">{xmp}</x:xmpmeta>'.encode(),
    )
    return out.getvalue()


def small_pdf(author: str, text: str = "Attached document text") -> bytes:
    """A one-page PDF with an Info Author (an attached document of its own)."""
    pdf = pikepdf.new()
    _text_page(pdf, text)
    pdf.docinfo[Name.Author] = author
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _xmp(pdf: pikepdf.Pdf, body: str) -> pikepdf.Object:
    packet = (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/">'
        f"<xmpMM:DocumentID>uuid:{body}</xmpMM:DocumentID></rdf:Description>"
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )
    return pdf.make_stream(packet.encode(), Type=Name.Metadata, Subtype=Name.XML)


def _js(pdf: pikepdf.Pdf, marker: str) -> pikepdf.Object:
    return pdf.make_indirect(Dictionary(S=Name.JavaScript, JS=String(f"app.alert('{marker}');")))


def _text_page(pdf: pikepdf.Pdf, text: str, extra: bytes = b"") -> pikepdf.Page:
    font = pdf.make_indirect(
        Dictionary(
            Type=Name.Font,
            Subtype=Name.Type1,
            BaseFont=Name.Helvetica,
            Encoding=Name.WinAnsiEncoding,
        )
    )
    page = pdf.add_blank_page(page_size=(400, 400))
    content = b"BT /F1 14 Tf 20 360 Td (" + text.encode() + b") Tj ET\n" + extra
    page.obj.Contents = pdf.make_stream(content)
    page.obj.Resources = Dictionary(Font=Dictionary(F1=font))
    return page


def _sig_dict(pdf: pikepdf.Pdf, name: str) -> pikepdf.Object:
    return pdf.make_indirect(
        Dictionary(
            Type=Name.Sig,
            Filter=Name("/Adobe.PPKLite"),
            SubFilter=Name("/adbe.pkcs7.detached"),
            Name=String(name),
            M=String(f"D:{OLD_DATE}Z"),
            Location=String(name + "-Location"),
            ByteRange=Array([0, 0, 0, 0]),
            Contents=String(b"\x30\x82" + name.encode()),
        )
    )


def _filespec(pdf: pikepdf.Pdf, name: str, data: bytes) -> pikepdf.Object:
    stream = pdf.make_stream(
        data,
        Type=Name.EmbeddedFile,
        Params=Dictionary(Size=len(data), ModDate=String(f"D:{OLD_DATE}Z")),
    )
    return pdf.make_indirect(
        Dictionary(
            Type=Name.Filespec,
            F=String(name),
            UF=String(name),
            Desc=String("Marker-AttachDesc-5f7e"),
            EF=Dictionary(F=stream, UF=stream),
            AFRelationship=Name.Supplement,
        )
    )


def dirty_pdf() -> bytes:
    """Every field of `FIELDS`, in one two-page document, with an incremental update."""
    pdf = pikepdf.new()
    root = pdf.Root
    page = _text_page(
        pdf,
        VISIBLE_TEXT[0],
        b"q 60 0 0 60 20 200 cm /Im1 Do Q\n/Fx1 Do\n/CS0 cs 0.2 0.4 0.6 sc 250 20 60 60 re f\n",
    )
    _text_page(pdf, VISIBLE_TEXT[1])
    pobj = page.obj

    # Info (with old values; the incremental update below replaces it) and the trailer.
    pdf.trailer.Info = pdf.make_indirect(
        Dictionary(Author=String("Marker-OldAuthor-1a2b"), Title=String("Old title"))
    )

    # XMP on the catalog, the page, an image, a font and a form XObject.
    root.Metadata = _xmp(pdf, "Marker-XMP-DocID-8b7c")
    pobj.Metadata = _xmp(pdf, "Marker-XMP-Page-3c4d")
    font = pobj.Resources.Font.F1
    font.Metadata = _xmp(pdf, "Marker-XMP-Font-2e3f")

    # A JPEG image with EXIF/XMP/COM inside, XMP and an OPI path on the XObject.
    jpeg = jpeg_with_metadata(
        "Marker-Exif-Artist-1a3e", "Marker-JpegCOM-2b4f", "Marker-JpegXMP-3c5a"
    )
    image = pdf.make_stream(
        jpeg,
        Type=Name.XObject,
        Subtype=Name.Image,
        Width=16,
        Height=16,
        ColorSpace=Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=Name.DCTDecode,
        Metadata=_xmp(pdf, "Marker-XMP-Image-6a7b"),
        OPI=Dictionary(
            {
                "/2.0": Dictionary(
                    Type=Name.OPI, Version=2.0, F=String("C:\\Users\\Marker-OPI-Path-5e7c\\hi.tif")
                )
            }
        ),
        ID=String("Marker-WebID-5a6f"),
    )
    form = pdf.make_stream(
        b"0 0 1 rg 300 300 40 40 re f\n",
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=Array([0, 0, 400, 400]),
        Metadata=_xmp(pdf, "Marker-XMP-Form-9a8b"),
        PieceInfo=Dictionary(Illustrator=Dictionary(Private=String("Marker-PieceInfo-7d6c"))),
        LastModified=String(f"D:{OLD_DATE}Z"),
    )
    sRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    icc = pdf.make_stream(sRGB + b"desc Marker-ICC-Desc-7e8d", N=3, Alternate=Name.DeviceRGB)
    pobj.Resources.XObject = Dictionary(Im1=image, Fx1=form)
    pobj.Resources.ColorSpace = Dictionary(CS0=Array([Name.ICCBased, icc]))
    root.OutputIntents = Array(
        [
            Dictionary(
                Type=Name.OutputIntent,
                S=Name.GTS_PDFX,
                OutputConditionIdentifier=String("Custom"),
                DestOutputProfile=pdf.make_stream(sRGB + b"Marker-OutputIntent-9c0b", N=3),
            )
        ]
    )

    # Private application data, page-level web capture, thumbnail, page actions.
    root.PieceInfo = Dictionary(Word=Dictionary(Private=String("Marker-PieceInfo-7d6c")))
    pobj.PieceInfo = Dictionary(Word=Dictionary(Private=String("Marker-PieceInfo-7d6c")))
    pobj.LastModified = String(f"D:{OLD_DATE}Z")
    pobj.ID = String("Marker-WebID-5a6f")
    pobj.PZ = 1
    pobj.Thumb = pdf.make_stream(
        b"Marker-Thumb-5e6d" + bytes(48 - 17),
        Width=4,
        Height=4,
        ColorSpace=Name.DeviceRGB,
        BitsPerComponent=8,
    )
    pobj.AA = Dictionary(O=_js(pdf, "Marker-JS-PageAA-5b6a"))

    # JavaScript: document-level name tree and an open action.
    root.OpenAction = _js(pdf, "Marker-JS-Open-3d4c")

    # Markup annotation with authorship, its popup and a reply; links with bad actions.
    comment = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Text,
            Rect=Array([10, 10, 30, 30]),
            Contents=String(VISIBLE_COMMENT),
            T=String("Marker-AnnotAuthor-7a8f"),
            M=String(f"D:{OLD_DATE}Z"),
            CreationDate=String(f"D:{OLD_DATE}Z"),
            NM=String("Marker-AnnotNM-9e0d"),
            RC=String("<body><p>Marker-AnnotRC-1c2b</p></body>"),
            P=pobj,
        )
    )
    popup = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot, Subtype=Name.Popup, Rect=Array([40, 10, 140, 60]), Parent=comment
        )
    )
    comment.Popup = popup
    reply = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Text,
            Rect=Array([10, 40, 30, 60]),
            Contents=String("A reply"),
            T=String("Marker-ReplyAuthor-3a4f"),
            IRT=comment,
        )
    )
    links = [
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=Array([100, 100, 150, 120]),
            A=Dictionary(S=Name.URI, URI=String(KEPT_URI)),
        ),
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=Array([100, 130, 150, 150]),
            A=Dictionary(S=Name.Launch, F=String("C:\\Users\\Marker-LaunchPath-6f8d\\run.exe")),
        ),
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=Array([100, 160, 150, 180]),
            A=Dictionary(S=Name.URI, URI=String("file:///home/Marker-LocalUser-7a9e/plan.pdf")),
        ),
    ]

    # Signatures: a signed field (widget on the page) and usage rights (/Perms).
    sig_field = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Widget,
            FT=Name.Sig,
            T=String("Signature1"),
            Rect=Array([200, 300, 300, 340]),
            V=_sig_dict(pdf, "Marker-SigName-9a0f"),
            P=pobj,
        )
    )
    root.Perms = Dictionary(UR3=_sig_dict(pdf, "Marker-UR3-Signer-7c8b"))
    root.AcroForm = Dictionary(
        Fields=Array([sig_field]),
        SigFlags=3,
        XFA=pdf.make_stream(b"<xdp:xdp><config>Marker-XFA-1e2d</config></xdp:xdp>"),
    )

    # Attached files: a JPEG in the names tree (+ /AF), a PDF on a FileAttachment annot.
    jpeg_spec = _filespec(
        pdf,
        "photo-Marker-AttachName-4d6b.jpg",
        jpeg_with_metadata(
            ATTACHED_JPEG_MARKER, "Marker-AttJpegCOM-3a5e", "Marker-AttJpegXMP-4b6f"
        ),
    )
    pdf_spec = _filespec(pdf, "report.pdf", small_pdf(ATTACHED_PDF_MARKER))
    attach_annot = Dictionary(
        Type=Name.Annot, Subtype=Name.FileAttachment, Rect=Array([350, 10, 370, 30]), FS=pdf_spec
    )
    root.AF = Array([jpeg_spec])
    root.Names = Dictionary(
        JavaScript=Dictionary(Names=Array([String("doc"), _js(pdf, "Marker-JS-Doc-1f2e")])),
        EmbeddedFiles=Dictionary(Names=Array([String("photo.jpg"), jpeg_spec])),
        IDS=Dictionary(Names=Array([String("0123"), String("Marker-WebID-5a6f")])),
    )
    pobj.Annots = pdf.make_indirect(Array([comment, popup, reply, *links, sig_field, attach_annot]))

    # Web capture, portfolio, layers with a user name, article threads.
    root.SpiderInfo = Dictionary(
        V=1.0, C=Array([Dictionary(URL=String("http://Marker-Spider-3c4b/"))])
    )
    root.Collection = Dictionary(Type=Name.Collection)
    ocg = pdf.make_indirect(
        Dictionary(
            Type=Name.OCG,
            Name=String("Layer 1"),
            Usage=Dictionary(
                CreatorInfo=Dictionary(
                    Creator=String("Marker-OCG-User-8b0f"), Subtype=Name.Artwork
                ),
                User=Dictionary(Type=Name.Ind, Name=String("Marker-OCG-User-8b0f")),
            ),
        )
    )
    root.OCProperties = Dictionary(OCGs=Array([ocg]), D=Dictionary(ON=Array([ocg])))
    root.Threads = Array(
        [
            pdf.make_indirect(
                Dictionary(
                    Type=Name.Thread, I=Dictionary(Author=String("Marker-Thread-Author-9c1a"))
                )
            )
        ]
    )

    out = io.BytesIO()
    # Classic cross-reference table, so an incremental update can be appended by hand.
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    return append_info_update(
        out.getvalue(),
        {
            "/Author": "Marker-Author-7f3a",
            "/Creator": "Marker-Creator-b21c",
            "/Producer": "Marker-Producer-9d0e",
            "/Company": "Marker-Company-44aa",
            "/MSIP_Label_0a1b2c3d-0000-4000-8000-000000000001_SiteId": "Marker-MSIP-Site-0c1d",
            "/CustomNote": "Marker-InfoCustom-5e6f",
            "/CreationDate": f"D:{OLD_DATE}Z",
        },
    )


def append_info_update(data: bytes, info: dict[str, str]) -> bytes:
    """Append an incremental update (as Acrobat or `exiftool` write) replacing /Info.

    The previous revision, with its old Info values, stays in the file before it.
    """
    with pikepdf.open(io.BytesIO(data)) as pdf:
        size = int(pdf.trailer.Size)
    body = " ".join(f"{k} ({v})" for k, v in info.items())
    return append_update(
        data,
        {size: f"<< {body} >>"},
        f"/Info {size} 0 R /MarkerExtra (Marker-Trailer-0d2b)",
    )


def append_update(data: bytes, objects: dict[int, str], trailer_extra: str = "") -> bytes:
    """Append an incremental update: new versions of ``objects`` (number -> PDF syntax)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        size = int(pdf.trailer.Size)
        root_num = pdf.Root.objgen[0]
        ids = "".join(f"<{bytes(x).hex()}>" for x in pdf.trailer.ID)
    prev = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    body = b""
    xref = b"xref\n0 1\n0000000000 65535 f \n"
    for number, text in sorted(objects.items()):
        offset = len(data) + len(body) + 1
        body += f"\n{number} 0 obj\n{text}\nendobj".encode()
        xref += f"{number} 1\n{offset:010d} 00000 n \n".encode()
    body += b"\n"
    new_size = max(size, max(objects) + 1)
    tail = (
        f"trailer\n<< /Size {new_size} /Root {root_num} 0 R /Prev {prev} /ID [{ids}] "
        f"{trailer_extra} >>\nstartxref\n{len(data) + len(body)}\n%%EOF\n"
    ).encode()
    return data + body + xref + tail


def cyclic_pdf() -> bytes:
    """A document whose objects reference each other in a loop (and one references itself)."""
    pdf = pikepdf.new()
    _text_page(pdf, "Cyclic references")
    # Outline items are linked both ways (12.3.3): a loop through keys the standard defines.
    outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines))
    a = pdf.make_indirect(Dictionary(Title=String("First"), Parent=outlines))
    b = pdf.make_indirect(Dictionary(Title=String("Second"), Parent=outlines, Next=a, Prev=a))
    b.Metadata = _xmp(pdf, "Marker-Cycle-XMP-6d8e")
    a.Next = b
    a.Prev = a
    outlines.First, outlines.Last = a, b
    pdf.Root.Outlines = outlines
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def all_bytes(data: bytes) -> bytes:
    """The file's raw bytes followed by every stream decoded (what a grep must search)."""
    parts = [data]
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream):
                try:
                    parts.append(obj.read_bytes())
                except pikepdf.PdfError:
                    parts.append(obj.read_raw_bytes())
    return b"\n".join(parts)


# -- issue 10: what pdfLaTeX/XeLaTeX/LuaLaTeX and other writers leave in keys of their own -----


@dataclass(frozen=True)
class HidingPlace:
    name: str  # test id
    removed: str  # the report's field name
    canary: str  # a value only that place holds


HIDING_PLACES: tuple[HidingPlace, ...] = (
    # pdfTeX's \includegraphics of a PDF: the figure's path on the author's disk...
    HidingPlace("ptex-filename", "pdf:PTEX.FileName", "Marker-PtexHome-3f1a"),
    # ...and the figure's own Info dictionary, copied whole.
    HidingPlace("ptex-infodict", "pdf:PTEX.InfoDict", "Marker-PtexAuthor-8b2c"),
    # hyperref's \hypersetup{baseurl}, and writers that default it to the file's folder.
    HidingPlace("catalog-uri-base", "pdf:URI", "Marker-UriBase-5d7e"),
    # Keys of no standard, on the page and on the catalog (prefixed or not).
    HidingPlace("page-private", "pdf:ACME.PageOwner", "Marker-PagePrivate-6e8f"),
    HidingPlace("catalog-private", "pdf:ACME:Owner", "Marker-CatalogPrivate-7f9a"),
    # A comment inside the page's content stream (viewers never show it).
    HidingPlace("content-comment", "pdf:content-comment", "Marker-ContentComment-9b1c"),
)


def hiding_place_pdf(place: HidingPlace) -> bytes:
    """A two-page document with a pdfTeX-style figure, the canary in one hiding place."""
    pdf = pikepdf.new()
    figure = pdf.make_stream(b"0 0 1 rg 0 0 50 50 re f")
    figure.Type, figure.Subtype, figure.BBox = Name.XObject, Name.Form, Array([0, 0, 50, 50])
    figure.FormType = 1
    home = "Marker-PtexHome-3f1a" if place.name == "ptex-filename" else "someone"
    figure[Name("/PTEX.FileName")] = String(f"/home/{home}/paper/figures/plot.pdf")
    figure[Name("/PTEX.PageNumber")] = 1
    if place.name == "ptex-infodict":
        figure[Name("/PTEX.InfoDict")] = pdf.make_indirect(
            Dictionary(
                Author=String(place.canary),
                Creator=String("LaTeX with hyperref"),
                Producer=String("pdfTeX-1.40.25"),
                CreationDate=String("D:20240501100000+02'00'"),
            )
        )
    comment = f"% {place.canary}\n".encode() if place.name == "content-comment" else b""
    page = _text_page(
        pdf, "A figure follows", comment + b"q 2 0 0 2 100 100 cm /Fig1 Do Q\n% pdfTeX end\n"
    )
    page.obj.Resources.XObject = Dictionary(Fig1=figure)
    _text_page(pdf, "Second page")
    if place.name == "catalog-uri-base":
        pdf.Root.URI = Dictionary(Base=String(f"file:///home/{place.canary}/paper/"))
    if place.name == "page-private":
        page.obj[Name("/ACME.PageOwner")] = String(place.canary)
    if place.name == "catalog-private":
        pdf.Root[Name("/ACME:Owner")] = Dictionary(Who=String(place.canary))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


# Where the property test plants unknown keys.
UNKNOWN_KEY_PLACES = (
    "catalog",
    "pages",
    "page",
    "resources",
    "form",
    "image",
    "annotation",
    "font",
    "font-descriptor",
)


def unknown_keys_pdf(planted: list[tuple[str, str, str]], canary: str) -> bytes:
    """A document with a figure, an image, a link and an embedded-metrics font, where each
    (place, key, form) of ``planted`` holds ``canary``: as a string ("string"), inside a
    direct dictionary ("dict"), or in an indirect stream of its own ("stream")."""
    pdf = pikepdf.new()
    descriptor = pdf.make_indirect(
        Dictionary(
            Type=Name.FontDescriptor,
            FontName=Name("/Helvetica"),
            Flags=32,
            FontBBox=Array([-166, -225, 1000, 931]),
            ItalicAngle=0,
            Ascent=718,
            Descent=-207,
            CapHeight=718,
            StemV=88,
        )
    )
    page = _text_page(pdf, "Unknown keys page", b"q 20 0 0 20 50 50 cm /Im1 Do Q /Fig1 Do\n")
    font = page.obj.Resources.Font.F1
    font.FontDescriptor = descriptor
    font.FirstChar, font.LastChar = 32, 32
    font.Widths = Array([278])
    image = pdf.make_stream(bytes([0, 255, 255, 0]))
    image.Type, image.Subtype = Name.XObject, Name.Image
    image.Width, image.Height, image.ColorSpace, image.BitsPerComponent = (
        2,
        2,
        Name.DeviceGray,
        8,
    )
    figure = pdf.make_stream(b"1 0 0 rg 0 0 10 10 re f")
    figure.Type, figure.Subtype, figure.BBox = Name.XObject, Name.Form, Array([0, 0, 10, 10])
    page.obj.Resources.XObject = Dictionary(Im1=image, Fig1=figure)
    link = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=Array([10, 10, 100, 30]),
            Border=Array([0, 0, 0]),
            A=Dictionary(S=Name.URI, URI=String("https://example.org/")),
        )
    )
    page.obj.Annots = Array([link])
    targets = {
        "catalog": pdf.Root,
        "pages": pdf.Root.Pages,
        "page": page.obj,
        "resources": page.obj.Resources,
        "form": figure,
        "image": image,
        "annotation": link,
        "font": font,
        "font-descriptor": descriptor,
    }
    for place, key, form in planted:
        if form == "string":
            value: pikepdf.Object = String(canary)
        elif form == "dict":
            value = Dictionary(Note=String(canary))
        else:
            value = pdf.make_stream(canary.encode())
        targets[place][Name("/" + key)] = value
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()
