"""Stream helpers for the PDF scrubber: filters, bounded decoding, JPEG images.

Streams of a hostile PDF are decompression bombs until proven otherwise: a few KiB of
Flate data can claim gigabytes. Nothing here decodes a stream without a bound, and image
data (DCT) is never decoded at all: a ``DCTDecode`` stream *is* a JPEG file, whose metadata
segments are cut out of the raw bytes.
"""

from __future__ import annotations

import base64
import warnings
import zlib

import pikepdf

from scrubbers._jpeg_segments import strip_jpeg
from scrubbers.errors import CorruptFileError, LimitExceededError

_FLATE = pikepdf.Name.FlateDecode
_DCT = pikepdf.Name.DCTDecode
_AHX = pikepdf.Name.ASCIIHexDecode
_A85 = pikepdf.Name.ASCII85Decode
# The most each filter can expand its input (7.4): ASCIIHex halves it, ASCII85's "z" makes
# four bytes of one character, RunLength makes 128 of two, an LZW code (at most 12 bits)
# stands for at most 4096 bytes. Through such a chain, decoding by qpdf after a size check
# on the raw bytes is bounded. Flate has no such bound: it is inflated here, with a limit.
_MAX_RATIO: dict[pikepdf.Object, int] = {
    _AHX: 1,
    _A85: 4,
    pikepdf.Name.RunLengthDecode: 128,
    pikepdf.Name.LZWDecode: 4096,
}
_ASCII_FILTERS = frozenset({_AHX, _A85})


# The abbreviations of inline images (8.9.7, Table 92), which some writers use on streams
# too, and qpdf decodes.
_ABBREVIATIONS = {
    "/AHx": _AHX,
    "/A85": _A85,
    "/LZW": pikepdf.Name.LZWDecode,
    "/Fl": _FLATE,
    "/RL": pikepdf.Name.RunLengthDecode,
    "/DCT": _DCT,
}


def filters_of(stream: pikepdf.Object) -> list[pikepdf.Object] | None:
    """The stream's filter names in order, or None when /Filter is malformed."""
    value = stream.get(pikepdf.Name.Filter)
    if value is None:
        return []
    names = [value] if isinstance(value, pikepdf.Name) else value
    if isinstance(names, pikepdf.Array) or isinstance(value, pikepdf.Name):
        found = list(names)
        if all(isinstance(n, pikepdf.Name) for n in found):
            return [_ABBREVIATIONS.get(str(n), n) for n in found]
    return None


def parms_at(stream: pikepdf.Object, index: int) -> pikepdf.Dictionary | None:
    """The /DecodeParms entry that goes with the filter at ``index`` (None if absent)."""
    value = stream.get(pikepdf.Name.DecodeParms)
    if value is None:
        return None
    if isinstance(value, pikepdf.Array):
        item = value[index] if index < len(value) else None
        return item if isinstance(item, pikepdf.Dictionary) else None
    if index == 0 and isinstance(value, pikepdf.Dictionary):
        return value
    return None


def inflate_bounded(untrusted_raw: bytes, max_bytes: int) -> bytes:
    """zlib-inflate at most ``max_bytes``; more is a bomb (LimitExceededError)."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(untrusted_raw, max_bytes + 1)
    except zlib.error as exc:
        raise CorruptFileError("bad Flate data") from exc
    if len(out) > max_bytes:
        raise LimitExceededError("a PDF stream expands beyond the limit")
    return out


def decoded_bytes(stream: pikepdf.Object, max_bytes: int) -> bytes:
    """The decoded data of a stream (an attached file), never more than ``max_bytes``.

    The expansion is checked *before* qpdf decodes: Flate by a bounded inflate of the raw
    bytes, the simple text filters by their worst-case ratio. Any other filter chain
    (LZW, JBIG2, Crypt...) is refused rather than decoded blind.
    """
    filters = filters_of(stream)
    if filters is None:
        raise CorruptFileError("malformed stream filter")
    untrusted_raw = bytes(stream.read_raw_bytes())
    if not filters:
        if len(untrusted_raw) > max_bytes:
            raise LimitExceededError("an embedded stream is too large")
        return untrusted_raw
    if filters[-1] == _FLATE and all(f in _ASCII_FILTERS for f in filters[:-1]):
        # ASCII layers (old Adobe files: ASCII85 over Flate) shrink: undone here first.
        untrusted_flate = untrusted_raw
        for name in filters[:-1]:
            untrusted_flate = _ascii_decode(name, untrusted_flate)
        inflated = inflate_bounded(untrusted_flate, max_bytes)
        if parms_at(stream, len(filters) - 1) is None:
            return inflated
        # A PNG/TIFF predictor only shrinks the inflated data: the bound above holds.
        return _read_decoded(stream)
    if all(f in _MAX_RATIO for f in filters):
        bound = len(untrusted_raw)
        for name in filters:
            bound *= _MAX_RATIO[name]
        if bound > max_bytes:
            raise LimitExceededError("an embedded stream may expand beyond the limit")
        return _read_decoded(stream)
    raise LimitExceededError("an embedded stream uses a filter chain that cannot be bounded")


def _ascii_decode(name: pikepdf.Object, untrusted_data: bytes) -> bytes:
    """One ASCIIHex or ASCII85 layer (7.4.2, 7.4.3), up to its end-of-data marker."""
    try:
        if name == _AHX:
            digits = bytes(untrusted_data.split(b">", 1)[0].translate(None, b" \t\r\n\f\0"))
            return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))
        body = untrusted_data.split(b"~>", 1)[0]
        return base64.a85decode(body, ignorechars=b" \t\r\n\f\0")
    except ValueError as exc:
        raise CorruptFileError("bad ASCII-encoded stream") from exc


def _read_decoded(stream: pikepdf.Object) -> bytes:
    try:
        return bytes(stream.read_bytes())
    except pikepdf.PdfError as exc:
        raise CorruptFileError("undecodable stream") from exc


def jpeg_of(
    stream: pikepdf.Object, max_bytes: int
) -> tuple[bytes, pikepdf.Dictionary | None] | None:
    """The JPEG file inside a DCT image stream, and its DCT decode parameters.

    None when the stream is not a (possibly Flate-wrapped) DCT stream. Only the outer Flate
    layer is decoded, with a bound; the JPEG itself stays compressed.
    """
    filters = filters_of(stream)
    if not filters or filters[-1] != _DCT:
        return None
    if filters == [_DCT]:
        return bytes(stream.read_raw_bytes()), parms_at(stream, 0)
    if filters == [_FLATE, _DCT] and parms_at(stream, 0) is None:
        return inflate_bounded(stream.read_raw_bytes(), max_bytes), parms_at(stream, 1)
    # Other chains around a JPEG are not produced by any real tool; refusing them keeps the
    # decoder surface small (the caller reports the file as not cleanable).
    raise CorruptFileError("unsupported filter chain around a JPEG image")


def strip_jpeg_stream(
    stream: pikepdf.Object, max_bytes: int, max_pixels: int, *, fix: bool
) -> list[str]:
    """Names of the metadata segments inside a DCT image stream; cut them out if ``fix``.

    The entropy-coded image data is kept byte for byte (lossless): only the JPEG's segments
    around it change, through the JPEG scrubber's own segment walker. No orientation EXIF is
    kept: PDF viewers ignore it (the page's matrix places the image).
    """
    found = jpeg_of(stream, max_bytes)
    if found is None:
        return []
    untrusted_jpeg, dct_parms = found
    cleaned, removed = strip_jpeg(untrusted_jpeg, max_pixels=max_pixels)
    if removed and fix:
        stream.write(cleaned, filter=_DCT, decode_parms=dct_parms)
    return [("pdf:" if name.startswith("jpeg:") else "pdf:jpeg:") + name for name in removed]


# JPEG 2000 (JPXDecode). The stream is a JP2/JPX file (boxes) or a bare codestream. Boxes
# other than the image and its description carry free text: "xml " (XMP, GML), "uuid"
# (XMP, EXIF, IPTC, GeoJP2), "uinf"/"ulst"/"url " (vendor URLs), "jp2i" (intellectual
# property), "asoc"/"lbl "/"nlst" (labels). The codestream's COM markers name the encoder
# and can hold any text. Only the compressed image data and the boxes decoding needs stay.
_JPX = pikepdf.Name.JPXDecode
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_START = b"\xff\x4f\xff\x51"  # SOC then SIZ
_JP2_KEEP = frozenset({b"jP  ", b"ftyp", b"rreq", b"jp2h", b"jp2c", b"jpch", b"jplh"})
_JP2_BOX_NAMES = {b"xml ": "xml", b"uuid": "uuid", b"jp2i": "ipr"}
_J2K_COM = 0x64
_J2K_SOT = 0x90
_MAX_BOXES = 100_000


def _jp2_boxes(untrusted_data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of each top-level box; refuses a malformed layout."""
    boxes: list[tuple[bytes, int, int]] = []
    pos = 0
    size = len(untrusted_data)
    while pos < size:
        if len(boxes) >= _MAX_BOXES or pos + 8 > size:
            raise CorruptFileError("malformed JPEG 2000 box")
        length = int.from_bytes(untrusted_data[pos : pos + 4], "big")
        box_type = untrusted_data[pos + 4 : pos + 8]
        if length == 1:
            if pos + 16 > size:
                raise CorruptFileError("malformed JPEG 2000 box")
            length = int.from_bytes(untrusted_data[pos + 8 : pos + 16], "big")
            if length < 16:
                raise CorruptFileError("malformed JPEG 2000 box")
        elif length == 0:
            length = size - pos  # the last box runs to the end
        elif length < 8:
            raise CorruptFileError("malformed JPEG 2000 box")
        if pos + length > size:
            raise CorruptFileError("truncated JPEG 2000 box")
        boxes.append((box_type, pos, pos + length))
        pos += length
    return boxes


def _strip_codestream(untrusted_data: bytes) -> tuple[bytes, list[str]]:
    """Drop the COM segments of a codestream's main header (SOC .. first SOT)."""
    if not untrusted_data.startswith(_J2K_START):
        raise CorruptFileError("not a JPEG 2000 codestream")
    out = [untrusted_data[:2]]
    removed: list[str] = []
    pos = 2
    while True:
        if pos + 4 > len(untrusted_data) or untrusted_data[pos] != 0xFF:
            raise CorruptFileError("malformed JPEG 2000 header")
        marker = untrusted_data[pos + 1]
        if marker == _J2K_SOT:
            break
        end = pos + 2 + int.from_bytes(untrusted_data[pos + 2 : pos + 4], "big")
        if end <= pos + 2 or end > len(untrusted_data):
            raise CorruptFileError("malformed JPEG 2000 header")
        if marker == _J2K_COM:
            if "jpx:comment" not in removed:
                removed.append("jpx:comment")
        else:
            out.append(untrusted_data[pos:end])
        pos = end
    out.append(untrusted_data[pos:])
    return b"".join(out), removed


def strip_jpx(untrusted_data: bytes) -> tuple[bytes, list[str]]:
    """A JPEG 2000 image without its metadata boxes and comments (image data byte for byte)."""
    if untrusted_data.startswith(_J2K_START):
        return _strip_codestream(untrusted_data)
    if not untrusted_data.startswith(_JP2_SIGNATURE):
        raise CorruptFileError("not a JPEG 2000 image")
    out: list[bytes] = []
    removed: list[str] = []
    for box_type, start, end in _jp2_boxes(untrusted_data):
        if box_type == b"jp2c":
            header = 16 if untrusted_data[start : start + 4] == b"\x00\x00\x00\x01" else 8
            codestream, names = _strip_codestream(untrusted_data[start + header : end])
            removed += names
            # Rewritten with an explicit 32-bit length (or 64-bit when that does not fit).
            total = len(codestream) + 8
            if total < 2**32:
                out.append(total.to_bytes(4, "big") + b"jp2c" + codestream)
            else:
                out.append(b"\x00\x00\x00\x01jp2c" + (total + 8).to_bytes(8, "big") + codestream)
        elif box_type in _JP2_KEEP:
            out.append(untrusted_data[start:end])
        else:
            name = "jpx:" + _JP2_BOX_NAMES.get(box_type, "box")
            if name not in removed:
                removed.append(name)
    return b"".join(out), removed


def strip_jpx_stream(stream: pikepdf.Object, max_bytes: int, *, fix: bool) -> list[str]:
    """Names of the metadata inside a JPXDecode image stream; cut them out if ``fix``."""
    filters = filters_of(stream)
    if not filters or filters[-1] != _JPX:
        return []
    if filters == [_JPX]:
        untrusted_jpx = bytes(stream.read_raw_bytes())
    elif filters == [_FLATE, _JPX] and parms_at(stream, 0) is None:
        untrusted_jpx = inflate_bounded(stream.read_raw_bytes(), max_bytes)
    else:
        raise CorruptFileError("unsupported filter chain around a JPEG 2000 image")
    cleaned, removed = strip_jpx(untrusted_jpx)
    if removed and fix:
        stream.write(cleaned, filter=_JPX, decode_parms=parms_at(stream, len(filters) - 1))
    return ["pdf:" + name for name in removed]


# Annex A, Table A.1: every operator of a content stream. qpdf keeps only these: any other
# (allowed only inside BX/EX, and ignored by every reader) draws nothing, and goes with its
# operands, as do operands left without an operator.
_OPERATORS = " ".join(
    """b B b* B* BDC BI BMC BT BX c cm CS cs d d0 d1 Do DP EI EMC ET EX f F f* G g gs h
    i ID j J K k l m M MP n q Q re RG rg ri s S SC sc SCN scn sh T* Tc Td TD Tf Tj TJ TL Tm
    Tr Ts Tw Tz v w W W* y ' \"""".split()
)


def rewrite_content(stream: pikepdf.Object, max_bytes: int, *, fix: bool) -> tuple[list[str], int]:
    """Names of what a content stream holds besides drawing; with ``fix``, the stream
    re-serialised from its tokens (comments, stray operands and unknown operators gone,
    drawing unchanged). Also returns the decoded size, for the caller's budget.

    The decoded size is bounded before qpdf parses the stream. Without ``fix`` (checking a
    file), a stream with no "%" (as `rewrite_content` writes them) is not parsed again.
    """
    untrusted_data = decoded_bytes(stream, max_bytes)
    if not fix and b"%" not in untrusted_data:
        return [], len(untrusted_data)
    with warnings.catch_warnings():
        # qpdf reports a stream ending inside an operation; what it could not place is
        # dropped, which is the point.
        warnings.simplefilter("ignore")
        try:
            instructions = pikepdf.parse_content_stream(stream, _OPERATORS)
        except pikepdf.PdfError as exc:
            raise CorruptFileError("unparsable content stream") from exc
    rewritten = pikepdf.unparse_content_stream(instructions)
    # A "%" that is not in a string (which the rewrite keeps) started a comment.
    found = ["pdf:content-comment"] if untrusted_data.count(b"%") > rewritten.count(b"%") else []
    if fix:
        stream.write(rewritten)
    return found, len(untrusted_data)


def join_contents(pdf: pikepdf.Pdf, page: pikepdf.Object, max_bytes: int) -> int:
    """A page whose /Contents is an array gets one stream with all of it (7.8.2: the
    division between the streams is at a token boundary, not an operation's), so that it
    can be parsed as one. Returns the decoded size."""
    parts = page.get(pikepdf.Name.Contents)
    if not isinstance(parts, pikepdf.Array):
        return 0
    untrusted_pieces = []
    budget = max_bytes
    for part in parts:
        if isinstance(part, pikepdf.Stream):
            untrusted_pieces.append(decoded_bytes(part, budget))
            budget -= len(untrusted_pieces[-1])
    joined = b"\n".join(untrusted_pieces)
    page[pikepdf.Name.Contents] = pdf.make_stream(joined)
    return len(joined)
