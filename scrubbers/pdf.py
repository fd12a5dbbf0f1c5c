"""PDF: remove every identifying trace while keeping text, fonts, vectors and pages.

How a file is cleaned (each step closes a leak named in DESIGN.md / issue 3):

1. Open with qpdf (pikepdf) from RAM, empty password. A user password means we cannot read
   the file: it is reported not cleaned. An owner password alone is no obstacle (the
   output is written unencrypted).
2. Attached files (``/EF`` of any file specification: the EmbeddedFiles name tree, ``/AF``,
   FileAttachment annotations, media clips) are decoded with a bound, cleaned on their own
   by `scrubbers` and returned as separate results; they are then cut out of the PDF.
3. Every object reachable from the catalog keeps only the keys ISO 32000-2 defines for its
   kind (`scrubbers._pdf_schema`; any other key is removed and reported by name, e.g.
   ``pdf:PTEX.FileName``). Then one walk over every object removes the fields listed in
   `scrubbers._pdf_walk` (Info, XMP everywhere, /ID, scripts and actions, annotation
   authorship, signatures, XFA, thumbnails, private app data, web capture, ICC profiles)
   and strips the metadata segments of JPEG images losslessly; content streams are
   re-serialised from their tokens (comments and what is not drawing gone).
   `pikepdf.sanitize` then runs as a second net.
4. Resources no page uses are dropped (an image removed from the page but kept in its
   resources is a classic leak), and the file is fully rewritten: only reachable objects
   are written, so earlier revisions (incremental updates), deleted objects and any bytes
   around the PDF are gone. Image and font streams are copied as they are (no decoding: no
   bombs); content streams are decoded within a bound to be re-serialised.
5. qpdf always writes a trailer /ID; we blank it out of the output (see `_drop_trailer_id`).
6. What stays because it is content but can name the source (filled form fields,
   annotation texts, hyperlinks) is reported as warnings, with the link targets.

ICC profiles: ``ICCBased`` colour spaces are replaced by their ``/Alternate`` device space
(or the device space with as many components), and ``/OutputIntents`` are removed; a
profile's description, copyright and device fields are free text.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO, cast

import pikepdf
from pikepdf import sanitize

from scrubbers._core import scrub_attachment
from scrubbers._pdf_streams import decoded_bytes
from scrubbers._pdf_walk import iter_reachable_dicts, scan
from scrubbers._ranges import RangeSource, Sink, SourceReader
from scrubbers._types import MAX_LINK_CHARS, MAX_LINKS, Attachment, Cleaned, Limits
from scrubbers.errors import CorruptFileError, LimitExceededError, ScrubError, VerificationError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

N = pikepdf.Name

_STARTXREF = re.compile(rb"startxref\s+\d+\s*%%EOF")
_FILESPEC_NAME_KEYS = ("/UF", "/F", "/Unix", "/Mac", "/DOS")
#: A streamed output keeps its last bytes in RAM until the end, where the trailer's /ID is
#: blanked (`_drop_trailer_id`): the trailer and the last cross-reference section must fit.
_STREAM_TAIL = 32 * 1024 * 1024
#: The longest "startxref <offset> %%EOF" looked at in a streamed input.
_STARTXREF_WINDOW = 4096


class EncryptedPdfError(CorruptFileError):
    """The PDF needs a password to be opened: its content cannot be read, so not cleaned."""

    reason = "encrypted with a password"


class UncheckableLinksError(ScrubError):
    """The document keeps more links, or longer ones, than the editors can be shown: a
    per-recipient token could pass unseen, so the file is not called clean."""

    reason = "too many or too long links to list for checking"


class PdfScrubber:
    file_types = ("pdf",)

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        return self.get_meta_from(untrusted_data, limits)

    def get_meta_from(self, source: bytes | RangeSource, limits: Limits) -> list[str]:
        with _open(source, limits) as pdf:
            found = _revision_fields(source, pdf)
            found += _scan(pdf, limits, fix=False)
        return found

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        out = io.BytesIO()
        cleaned = self._clean(untrusted_data, out, limits)
        return dataclasses.replace(cleaned, data=_drop_trailer_id(out.getvalue()))

    def remove_all_to(self, source: RangeSource, sink: Sink, limits: Limits) -> Cleaned:
        out = _TailHeldBack(sink)
        # A raw file object is what pikepdf writes to; its stubs ask for the wider BinaryIO.
        cleaned = self._clean(source, cast(BinaryIO, out), limits)
        out.finish()
        return cleaned

    def _clean(self, source: bytes | RangeSource, out: BinaryIO, limits: Limits) -> Cleaned:
        with _open(source, limits) as pdf:
            removed = _revision_fields(source, pdf)
            attachments = _extract_attachments(pdf, limits)
            removed += _scan(pdf, limits, fix=True)
            _second_net(pdf)
            _drop_unused_resources(pdf)
            warnings, links = _kept_but_identifying(pdf)
            _save(pdf, out)
        note = None
        if "pdf:ICC-description" in removed or "pdf:OutputIntents" in removed:
            note = "ICC colour profiles replaced by device colour spaces"
        if any(not a.report.cleaned for a in attachments):
            warnings.add("embedded-not-cleaned")
        return Cleaned(
            b"",
            tuple(removed),
            note=note,
            attachments=attachments,
            warnings=tuple(sorted(warnings)),
            links=tuple(links),
        )


class _TailHeldBack(io.RawIOBase):
    """The writer qpdf writes a streamed output into: everything but the last
    `_STREAM_TAIL` bytes goes to the sink at once; the tail, once the trailer's /ID is
    blanked in it, at the end."""

    def __init__(self, sink: Sink) -> None:
        super().__init__()
        self._sink = sink
        self._tail = bytearray()
        self._flushed = 0

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        view = memoryview(data).cast("B")
        self._tail += view
        if len(self._tail) > 2 * _STREAM_TAIL:
            cut = len(self._tail) - _STREAM_TAIL
            self._sink.write(bytes(self._tail[:cut]))
            del self._tail[:cut]
            self._flushed += cut
        return len(view)

    def finish(self) -> None:
        self._sink.write(_drop_trailer_id(bytes(self._tail), base=self._flushed))
        self._tail = bytearray()


def _scan(pdf: pikepdf.Pdf, limits: Limits, *, fix: bool) -> list[str]:
    return scan(
        pdf, fix=fix, max_stream_bytes=limits.max_output_bytes, max_pixels=limits.max_pixels
    )


@contextmanager
def _open(source: bytes | RangeSource, limits: Limits) -> Iterator[pikepdf.Pdf]:
    """Open with qpdf, from RAM or by ranges; translate its errors once, here."""
    stream: BinaryIO = (
        io.BytesIO(source)
        if isinstance(source, bytes)
        else cast(BinaryIO, io.BufferedReader(SourceReader(source), buffer_size=256 * 1024))
    )
    try:
        pdf = pikepdf.open(
            stream,
            password="",
            conversion_mode="explicit",  # every value a pikepdf.Object: type checks hold
        )
    except pikepdf.PasswordError as exc:
        raise EncryptedPdfError from exc
    except pikepdf.PdfError as exc:
        raise CorruptFileError from exc
    try:
        with pdf:
            _check_object_count(pdf, limits)
            yield pdf
    except pikepdf.PdfError as exc:
        raise CorruptFileError from exc


def _check_object_count(pdf: pikepdf.Pdf, limits: Limits) -> None:
    # Each object costs memory and walk time; a file with millions is a resource attack.
    # /Size is checked first because it is free; qpdf may reconstruct more objects than
    # the trailer claims, so the real count is checked too.
    size = pdf.trailer.get(N.Size)
    if isinstance(size, pikepdf.Integer) and int(size) > limits.max_pdf_objects:
        raise LimitExceededError("too many PDF objects")
    if len(pdf.objects) > limits.max_pdf_objects:
        raise LimitExceededError("too many PDF objects")


def _revision_fields(source: bytes | RangeSource, pdf: pikepdf.Pdf) -> list[str]:
    """An incremental update keeps the previous revision (with its old values) in the file."""
    expected = 2 if pdf.is_linearized else 1  # a linearized file has two xref sections
    if isinstance(source, bytes):
        found = len(_STARTXREF.findall(source))
    else:
        found, at = 0, source.find(b"startxref")
        while at >= 0:
            if _STARTXREF.match(source[at : at + _STARTXREF_WINDOW]):
                found += 1
            at = source.find(b"startxref", at + 9)
    if found > expected:
        return ["pdf:incremental-updates"]
    return []


def _extract_attachments(pdf: pikepdf.Pdf, limits: Limits) -> tuple[Attachment, ...]:
    """Every embedded file still part of the document, decoded with a bound and cleaned on
    its own."""
    seen: set[tuple[int, int]] = set()
    found: list[tuple[str, bytes]] = []
    budget = limits.max_input_bytes  # all attachments together, decoded
    for spec in iter_reachable_dicts(pdf):
        embedded = spec.get(N.EF)
        if not isinstance(embedded, pikepdf.Dictionary):
            continue
        for key in _FILESPEC_NAME_KEYS:
            stream = embedded.get(key)
            if isinstance(stream, pikepdf.Stream):
                break
        else:
            continue
        if stream.objgen in seen:  # one file referenced from the names tree and an annot
            continue
        seen.add(stream.objgen)
        if len(found) >= limits.max_zip_members:
            raise LimitExceededError("too many attached files")
        untrusted_data = decoded_bytes(stream, budget)
        budget -= len(untrusted_data)
        found.append((_spec_name(spec), untrusted_data))
    return tuple(Attachment(name, scrub_attachment(data, limits)) for name, data in found)


def _kept_but_identifying(pdf: pikepdf.Pdf) -> tuple[set[str], list[str]]:
    """What stays because it is the document's content, yet can name the source: filled
    form fields, annotation texts, hyperlinks (whose targets the editors must check for
    per-recipient tokens). Read from the cleaned document, so only what is written."""
    warnings: set[str] = set()
    links: list[str] = []
    for node in iter_reachable_dicts(pdf):
        if N.FT in node and _has_text(node.get(N.V)):
            warnings.add("form-values")
        if node.get(N.Type) == N.Annot or (N.Rect in node and N.Subtype in node):
            if _has_text(node.get(N.Contents)):
                warnings.add("annotation-text")
        if node.get(N.S) == N.URI:
            target = node.get(N.URI)
            if isinstance(target, pikepdf.String):
                link = str(target)
                if len(link) > MAX_LINK_CHARS:
                    raise UncheckableLinksError
                if link.strip() and link not in links:
                    links.append(link)
            warnings.add("hyperlinks")
    if len(links) > MAX_LINKS:
        raise UncheckableLinksError
    return warnings, links


def _has_text(value: pikepdf.Object | None) -> bool:
    """A value someone typed: a non-empty string, a chosen name other than Off, a list."""
    if isinstance(value, pikepdf.String):
        return bool(bytes(value).strip())
    if isinstance(value, pikepdf.Name):
        return value != N.Off
    if isinstance(value, pikepdf.Array):
        return any(_has_text(item) for item in value)
    return False


def _spec_name(spec: pikepdf.Object) -> str:
    for key in _FILESPEC_NAME_KEYS:
        value = spec.get(key)
        if isinstance(value, pikepdf.String):
            return str(value)
    return "attachment"


def _second_net(pdf: pikepdf.Pdf) -> None:
    """pikepdf's sanitizer, after our own walk: it follows action chains (/Next) and slots
    by their meaning, where our walk goes by key names. Everything it removes, the walk
    already looks for (so `get_meta` still verifies the result)."""
    if not _has_page_tree(pdf):
        return
    (
        sanitize.Sanitizer()
        .remove_javascript()
        .remove_thumbnails()
        .remove_search_index()
        .remove_web_capture()
        .remove_private_app_data()
        .remove_collection()
        .apply(pdf)
    )


def _drop_unused_resources(pdf: pikepdf.Pdf) -> None:
    # qpdf tokenises the content streams (streamed through its pipeline, not held
    # decoded) and leaves a page's resources alone when its content does not parse.
    if _has_page_tree(pdf):
        pdf.remove_unreferenced_resources()


def _has_page_tree(pdf: pikepdf.Pdf) -> bool:
    try:
        return len(pdf.pages) >= 0
    except (pikepdf.PdfError, RuntimeError, ValueError, TypeError):
        return False


def _save(pdf: pikepdf.Pdf, out: BinaryIO) -> None:
    pdf.save(
        out,
        fix_metadata_version=False,  # would touch XMP; there is none left
        compress_streams=True,
        # Copy streams as they are: decoding them all would open every bomb in the file.
        stream_decode_level=pikepdf.StreamDecodeLevel.none,
        object_stream_mode=pikepdf.ObjectStreamMode.preserve,
        recompress_flate=False,
        normalize_content=False,
        linearize=False,
        qdf=False,
        encryption=False,  # an owner password is dropped with its restrictions
        deterministic_id=True,  # no clock or randomness in the bytes (the ID is removed)
    )


def _drop_trailer_id(data: bytes, base: int = 0) -> bytes:
    """Blank the /ID qpdf always writes, in place, with spaces of the same length.

    qpdf offers no way to omit it. With deterministic_id it is a hash of the output, not
    of the input, but `get_meta` cannot tell a fresh ID from an inherited one; writing none
    (the PDF 1.7 rule: optional unless encrypted) makes the verification exact. Spaces
    keep every byte offset in the cross-reference table valid. The dictionary edited is
    the trailer that `startxref` points at, in the file qpdf just wrote. `data` is the end
    of that file from offset `base` (all of it when 0).
    """
    end = data.rfind(b"startxref")
    if end < 0:
        raise VerificationError("no startxref in the rewritten PDF")
    match = re.match(rb"startxref\s+(\d+)", data[end:])
    if match is None:
        raise VerificationError("bad startxref in the rewritten PDF")
    xref = int(match.group(1)) - base
    if xref < 0:
        raise LimitExceededError("cross-reference section too large to clean as a stream")
    if data[xref : xref + 4] == b"xref":
        start, stop = data.find(b"trailer", xref, end), end  # classic table + trailer
    else:
        start, stop = xref, data.find(b"stream", xref, end)  # cross-reference stream
    if start < 0 or stop < 0:
        raise VerificationError("no trailer in the rewritten PDF")
    found = re.compile(rb"/ID\s*\[[^\]]*\]").search(data, start, stop)
    if found is None:
        return data
    first, last = found.span()
    return data[:first] + b" " * (last - first) + data[last:]
