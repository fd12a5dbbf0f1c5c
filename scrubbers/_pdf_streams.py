"""Stream helpers for the PDF scrubber: filters, bounded decoding, JPEG images.

Streams of a hostile PDF are decompression bombs until proven otherwise: a few KiB of
Flate data can claim gigabytes. Nothing here decodes a stream without a bound, and image
data (DCT) is never decoded at all: a ``DCTDecode`` stream *is* a JPEG file, whose metadata
segments are cut out of the raw bytes.
"""

from __future__ import annotations

import zlib

import pikepdf

from scrubbers._jpeg_segments import strip_jpeg
from scrubbers.errors import CorruptFileError, LimitExceededError

_FLATE = pikepdf.Name.FlateDecode
_DCT = pikepdf.Name.DCTDecode
# Filters whose output is at most 128 times their input (RunLength's worst case): decoding
# them through qpdf after a size check on the raw bytes is bounded.
_SMALL_RATIO_FILTERS = frozenset(
    {pikepdf.Name.ASCIIHexDecode, pikepdf.Name.ASCII85Decode, pikepdf.Name.RunLengthDecode}
)
_SMALL_RATIO = 128


def filters_of(stream: pikepdf.Object) -> list[pikepdf.Object] | None:
    """The stream's filter names in order, or None when /Filter is malformed."""
    value = stream.get(pikepdf.Name.Filter)
    if value is None:
        return []
    if isinstance(value, pikepdf.Name):
        return [value]
    if isinstance(value, pikepdf.Array):
        names = list(value)
        if all(isinstance(n, pikepdf.Name) for n in names):
            return names
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
    untrusted_raw = stream.read_raw_bytes()
    if not filters:
        if len(untrusted_raw) > max_bytes:
            raise LimitExceededError("an embedded stream is too large")
        return untrusted_raw
    if filters == [_FLATE]:
        parms = parms_at(stream, 0)
        inflated = inflate_bounded(untrusted_raw, max_bytes)
        if parms is None:
            return inflated
        # A PNG/TIFF predictor only shrinks the inflated data: the bound above holds.
        return _read_decoded(stream)
    if all(f in _SMALL_RATIO_FILTERS for f in filters):
        if len(untrusted_raw) * _SMALL_RATIO ** len(filters) > max_bytes:
            raise LimitExceededError("an embedded stream may expand beyond the limit")
        return _read_decoded(stream)
    raise LimitExceededError("an embedded stream uses a filter chain that cannot be bounded")


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
