"""Windows metafiles: EMF (with its EMF+ layer) and WMF, cleaned by rewriting their records.

Office documents very often hold their pictures as metafiles (``word/media/image1.emf``), so
a document is only "cleaned" if these are. What they carry besides the drawing:

- EMF: the header's *description* string (application name and picture title: often a file
  path or a user-named file); ``EMR_COMMENT`` records (private application data, GDI public
  comments: group descriptions, embedded EPS or WMF copies, spool data); printer escapes
  (``EMR_EXTESCAPE``... carry PostScript passthrough with its ``%%Creator`` lines); colour
  management records naming a profile file or holding an ICC profile (free-text
  descriptions); V5 bitmap headers with a linked (file path) or embedded ICC profile; the
  bytes after a font's name (writers leave uninitialised memory there); bytes after the
  end-of-file record; record types no reader knows (so no reader would show them).
- EMF+ (GDI+ records inside ``EMR_COMMENT`` records marked ``EMF+``): ``EmfPlusComment``
  records, and image objects that embed a whole PNG/JPEG/GIF/TIFF file or another metafile,
  each with its own metadata: those are cleaned recursively by their own scrubber.
- WMF: ``META_ESCAPE`` records (``MFCOMMENT`` and printer escapes: none is needed to draw),
  the same DIB and font-name leftovers, unknown records, trailing bytes.

Everything is walked with strict bounds (record sizes at least the header's, aligned, within
the file; a cap on the number of records) and written back with consistent size and count
fields. Drawing records are copied byte for byte, in order.

An EMF+ "dual" file also holds the whole drawing as plain GDI records, which every reader
falls back to. When something in its EMF+ layer cannot be cleaned (an image in an
unsupported format, an object split over several records, a texture brush), the EMF+ layer
is dropped and the GDI drawing kept; in an EMF+-only file the same makes the file not
cleaned.

`get_meta` runs the very same pass without keeping its result, so the verification step
looks for exactly what cleaning removes.
"""

from __future__ import annotations

import struct

from scrubbers._emf import EmfCleaner
from scrubbers._metafile_records import MetafileState
from scrubbers._sniff import EMF, WMF, sniff
from scrubbers._types import Cleaned, Limits
from scrubbers._wmf import clean_wmf
from scrubbers.errors import CorruptFileError, LimitExceededError, UnsupportedTypeError


class MetafileScrubber:
    file_types = ("emf", "wmf")

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        return sorted(_run(untrusted_data, limits, check_only=True).removed)

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        state = _run(untrusted_data, limits, check_only=False)
        note = "drawing records kept byte for byte"
        if state.dropped_emfplus:
            note += "; EMF+ layer dropped, its GDI drawing kept"
        return Cleaned(state.output, tuple(sorted(state.removed)), note=note)


def _run(untrusted_data: bytes, limits: Limits, *, check_only: bool) -> MetafileState:
    if len(untrusted_data) > limits.max_input_bytes:
        raise LimitExceededError("metafile too large")
    state = MetafileState(limits, check_only)
    file_type = sniff(untrusted_data)
    try:
        if file_type == EMF:
            state.output = EmfCleaner(untrusted_data, state).run()
        elif file_type == WMF:
            state.output = clean_wmf(untrusted_data, state)
        else:
            raise UnsupportedTypeError("not a metafile")
    except struct.error as exc:
        # Every read is bounds-checked first; this is the backstop for a missed one.
        raise CorruptFileError("truncated metafile record") from exc
    return state
