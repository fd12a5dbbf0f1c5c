"""Malicious files, made by the tests (no tests here).

Every builder writes the bytes itself (struct, zlib, zipfile, pikepdf): the point of each is
the structure an attacker controls — a header that lies about the size, a stream that
inflates a thousand times, an XML entity that expands exponentially, two formats in one file.
Each carries a ``Marker-`` string in a place that must never survive cleaning, so a test can
tell "cleaned" from "passed through".
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib

import pikepdf

from support.fixtures_office import jpeg_with_gps
from support.fixtures_pdf import cyclic_pdf, small_pdf
from support.live_server import simple_docx

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


@functools.cache
def zeros_deflated(size: int, wbits: int = zlib.MAX_WBITS) -> bytes:
    """`size` zero bytes, deflated (about 1000:1): the body of every bomb here."""
    block = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    out = bytearray()
    left = size
    while left:
        n = min(left, len(block))
        out += comp.compress(block[:n])
        left -= n
    return bytes(out + comp.flush())


def png_bomb(side: int = 50_000) -> bytes:
    """A PNG announcing side x side RGB pixels (7.5 GB decoded for 50 000) over 64 MiB of
    deflated zeros: refused from its header, before anything is inflated."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"tEXt", b"Author\x00Marker-PngBomb-Author")
        + _png_chunk(b"IDAT", zeros_deflated(64 << 20))
        + _png_chunk(b"IEND", b"")
    )


def docx_with_document(document_xml: bytes, author: str) -> bytes:
    """`simple_docx` with its word/document.xml replaced (deflated)."""
    base = zipfile.ZipFile(io.BytesIO(simple_docx("placeholder", author)))
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in base.namelist():
            data = document_xml if name == "word/document.xml" else base.read(name)
            archive.writestr(name, data)
    return sink.getvalue()


def zip_bomb_docx() -> bytes:
    """A docx whose document.xml inflates to 300 MiB (ratio ~1000:1)."""
    head = (
        b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
        b'openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>'
    )
    document = head + b" " * (300 << 20) + b"</w:t></w:r></w:p></w:body></w:document>"
    return docx_with_document(document, "Marker-ZipBomb-Author")


def billion_laughs_docx() -> bytes:
    """The classic: ten levels of ten entity references, 10^9 "lol"s once expanded."""
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">' for i in range(1, 10)
    )
    document = (
        '<?xml version="1.0"?><!DOCTYPE w:document [' + entities + "]>"
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
    )
    return docx_with_document(document.encode(), "Marker-Laughs-Author")


def pdf_stream_bomb(size: int, *, where: str) -> bytes:
    """A one-page PDF with one FlateDecode stream of `size` zero bytes.

    where = "content" (the page's content stream), "xmp" (the document metadata) or
    "jpeg" (an image whose filters are Flate then DCT: a cleaner that strips JPEG metadata
    must inflate it first).
    """
    pdf = pikepdf.new()
    page = pdf.add_blank_page()
    if where == "jpeg":
        raw = zlib.compress(b"\xff\xd8" + bytes(size), 9)
        stream = pikepdf.Stream(pdf, raw)
        stream.Filter = pikepdf.Array([pikepdf.Name.FlateDecode, pikepdf.Name.DCTDecode])
    else:
        stream = pikepdf.Stream(pdf, zeros_deflated(size))
        stream.Filter = pikepdf.Name.FlateDecode
    if where == "content":
        page.Contents = pdf.make_indirect(stream)
    elif where == "xmp":
        stream.Type = pikepdf.Name.Metadata
        stream.Subtype = pikepdf.Name.XML
        pdf.Root.Metadata = pdf.make_indirect(stream)
    elif where == "jpeg":
        stream.Type = pikepdf.Name.XObject
        stream.Subtype = pikepdf.Name.Image
        stream.Width, stream.Height = 100, 100
        stream.ColorSpace = pikepdf.Name.DeviceRGB
        stream.BitsPerComponent = 8
        page.Resources = pikepdf.Dictionary(
            XObject=pikepdf.Dictionary(Im0=pdf.make_indirect(stream))
        )
    else:
        raise ValueError(where)
    pdf.docinfo[pikepdf.Name.Author] = "Marker-PdfBomb-Author"
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def jpeg_huge_header(width: int = 65535, height: int = 65535) -> bytes:
    """A real small JPEG whose frame header claims width x height (4.3 G pixels)."""
    data = bytearray(jpeg_with_gps())
    pos = 2
    while pos + 4 <= len(data):
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            data[pos + 5 : pos + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        pos += 2 + length
    raise AssertionError("no frame header")


def zip_with(name: str, data: bytes) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr(name, data)
    return sink.getvalue()


POLYGLOT_PAYLOAD = b"Marker-Polyglot-Zip-Payload"


def pdf_zip_polyglot() -> bytes:
    """A PDF that is also a ZIP (the central directory at the end is what unzip reads)."""
    return small_pdf("Marker-PolyPdf-Author") + zip_with("hidden.txt", POLYGLOT_PAYLOAD)


def jpeg_zip_polyglot() -> bytes:
    return jpeg_with_gps() + zip_with("hidden.txt", POLYGLOT_PAYLOAD)


def truncated_jpeg() -> bytes:
    whole = jpeg_with_gps()
    return whole[: len(whole) // 2]


def truncated_pdf() -> bytes:
    whole = small_pdf("Marker-TruncPdf-Author")
    return whole[: len(whole) * 2 // 3]


def truncated_docx() -> bytes:
    whole = simple_docx("cut short", "Marker-TruncDocx-Author")
    return whole[: len(whole) * 2 // 3]


__all__ = [
    "POLYGLOT_PAYLOAD",
    "billion_laughs_docx",
    "cyclic_pdf",
    "jpeg_huge_header",
    "jpeg_zip_polyglot",
    "pdf_stream_bomb",
    "pdf_zip_polyglot",
    "png_bomb",
    "truncated_docx",
    "truncated_jpeg",
    "truncated_pdf",
    "zeros_deflated",
    "zip_bomb_docx",
]
