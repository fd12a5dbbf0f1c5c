"""EMF and its EMF+ layer (MS-EMF, MS-EMFPLUS): every record walked, identifying ones
cleaned or removed, drawing records copied byte for byte (`scrubbers.metafile`)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from scrubbers._core import scrub_embedded
from scrubbers._metafile_records import (
    U16,
    U32,
    MetafileState,
    clean_dib,
    nonzero,
    pad4,
    u16,
    u32,
    zero_after_nul,
)
from scrubbers.errors import CorruptFileError, ScrubError, UnsupportedTypeError

# --- EMF record types (MS-EMF 2.1.1) -------------------------------------------------------

_EMR_HEADER = 1
_EMR_EOF = 14
_EMR_COMMENT = 70
_EMR_EXTCREATEFONTINDIRECTW = 82
_EMR_CREATECOLORSPACE = 99
_EMR_CREATECOLORSPACEW = 122
# Printer-driver escapes: private driver data (PostScript passthrough...), nothing a viewer
# draws.
_EMR_ESCAPES = {105, 106, 110}  # DRAWESCAPE, EXTESCAPE, NAMEDESCAPE
# SETICMPROFILEA/W, COLORMATCHTOTARGETW: a profile file name and/or a whole ICC profile.
_EMR_PROFILES = {112, 113, 121}
# Record types defined by MS-EMF (69, 107 and 117 are reserved and never written).
_EMR_KNOWN = set(range(1, 123)) - {69, 107, 117}
# Records holding device-independent bitmaps: (offBmi field, cbBmi field) pairs.
_EMR_DIB_FIELDS: dict[int, tuple[tuple[int, int], ...]] = {
    76: ((84, 88),),  # BITBLT
    77: ((84, 88),),  # STRETCHBLT
    78: ((84, 88), (112, 116)),  # MASKBLT (source, mask)
    79: ((96, 100), (124, 128)),  # PLGBLT (source, mask)
    80: ((48, 52),),  # SETDIBITSTODEVICE
    81: ((48, 52),),  # STRETCHDIBITS
    93: ((16, 20),),  # CREATEMONOBRUSH
    94: ((16, 20),),  # CREATEDIBPATTERNBRUSHPT
    95: ((12, 16),),  # EXTCREATEPEN
    114: ((84, 88),),  # ALPHABLEND
    116: ((84, 88),),  # TRANSPARENTBLT
}
_EMF_SIGNATURE = b" EMF"
_EMF_HEADER_BASE = 88  # without the two optional header extensions (100, 108 bytes)
_PIXEL_FORMAT_SIZE = 40  # PIXELFORMATDESCRIPTOR (MS-EMF 2.2.22), a fixed-size structure

_COMMENT_EMFPLUS = b"EMF+"

# --- EMF+ record types (MS-EMFPLUS 2.1.1.1) ------------------------------------------------

_PLUS_HEADER = 0x4001
_PLUS_COMMENT = 0x4003
_PLUS_OBJECT = 0x4008
# 0x4005-0x4007 (MultiFormatStart/Section/End) are reserved and may wrap other formats.
_PLUS_KNOWN = set(range(0x4001, 0x403B)) - {0x4005, 0x4006, 0x4007}
_PLUS_OBJECT_BRUSH = 1
_PLUS_OBJECT_PEN = 2
_PLUS_OBJECT_IMAGE = 5
_PLUS_BRUSH_TEXTURE = 2
_PLUS_IMAGE_BITMAP = 1
_PLUS_IMAGE_METAFILE = 2
_PLUS_BITMAP_COMPRESSED = 1
_PLUS_DUAL = 0x0001  # EmfPlusHeader flag: the GDI records draw the whole picture too
_PLUS_CONTINUED = 0x8000  # EmfPlusObject flag: the object continues in the next record


class _HardEmfPlusError(Exception):
    """Something in the EMF+ layer that cannot be cleaned in place."""

    def __init__(self, cause: ScrubError) -> None:
        super().__init__(cause.reason)
        self.cause = cause


@dataclass
class _Piece:
    data: bytes
    records: int
    emfplus: bool = False


class EmfCleaner:
    def __init__(self, untrusted_data: bytes, state: MetafileState) -> None:
        self.data = untrusted_data
        self.state = state
        self.pieces: list[_Piece] = []
        self.dual: bool | None = None  # from the EmfPlusHeader, once seen
        self.hard: _HardEmfPlusError | None = None

    def run(self) -> bytes:
        data, state = self.data, self.state
        size = len(data)
        header = self._header()
        offset = u32(data, 4)
        run_start, run_records = offset, 0  # records copied unchanged, as one slice
        saw_eof = False
        while offset < size:
            if offset + 8 > size:
                raise CorruptFileError("truncated EMF record")
            rtype, rsize = u32(data, offset), u32(data, offset + 4)
            # A record shorter than its own header would loop forever; misaligned or past the
            # end means a corrupt or hostile file.
            if rsize < 8 or rsize % 4 or rsize > size - offset:
                raise CorruptFileError("bad EMF record size")
            state.count()
            replacement = self._record(rtype, offset, rsize)
            if replacement is None:
                run_records += 1
            else:
                self.pieces.append(_Piece(data[run_start:offset], run_records))
                if replacement.data:
                    self.pieces.append(replacement)
                run_start, run_records = offset + rsize, 0
            offset += rsize
            if rtype == _EMR_EOF:
                saw_eof = True
                break
        if not saw_eof:
            raise CorruptFileError("EMF without an end-of-file record")
        self.pieces.append(_Piece(data[run_start:offset], run_records))
        if nonzero(data, offset):
            state.removed.add("emf:trailing-data")
        if self.hard is not None:
            # The GDI records of a dual file draw the whole picture: drop the EMF+ layer
            # rather than keep what could not be cleaned. An EMF+-only file has no such
            # fallback: it stays not cleaned.
            if not self.dual:
                raise self.hard.cause
            self.pieces = [piece for piece in self.pieces if not piece.emfplus]
            state.removed.add("emfplus:records")
            state.dropped_emfplus = True
        body = b"".join(piece.data for piece in self.pieces)
        records = 1 + sum(piece.records for piece in self.pieces)
        total = len(header) + len(body)
        U32.pack_into(header, 48, total)  # nBytes
        U32.pack_into(header, 52, records)  # nRecords
        return bytes(header) + body

    def _header(self) -> bytearray:
        """The EMR_HEADER rebuilt: fixed fields and pixel format only, no description."""
        data, state = self.data, self.state
        size = u32(data, 4)
        if u32(data, 0) != _EMR_HEADER or data[40:44] != _EMF_SIGNATURE:
            raise CorruptFileError("not an EMF header")
        if size < _EMF_HEADER_BASE or size % 4 or size > len(data):
            raise CorruptFileError("bad EMF header size")
        n_desc, off_desc = u32(data, 60), u32(data, 64)
        cb_pf, off_pf = (u32(data, 88), u32(data, 92)) if size >= 100 else (0, 0)
        # MS-EMF 2.3.4.2: the header extensions are present when the record is long enough
        # and neither the description nor the pixel format starts inside them.
        lowest = min((off for n, off in ((n_desc, off_desc), (cb_pf, off_pf)) if n), default=size)
        if size >= 108 and lowest >= 108:
            fixed = 108
        elif size >= 100 and lowest >= 100:
            fixed = 100
        else:
            fixed, cb_pf = _EMF_HEADER_BASE, 0
        scratch = bytearray(data[:size])  # fields accounted for are zeroed in it
        scratch[:fixed] = bytes(fixed)
        if n_desc:
            if off_desc < fixed or off_desc + 2 * n_desc > size:
                raise CorruptFileError("EMF description outside its header")
            # Application name and picture title: often a file path or a user-named file.
            state.removed.add("emf:description")
            scratch[off_desc : off_desc + 2 * n_desc] = bytes(2 * n_desc)
        pixel_format = b""
        if cb_pf:
            if off_pf < fixed or off_pf + cb_pf > size:
                raise CorruptFileError("EMF pixel format outside its header")
            if cb_pf > _PIXEL_FORMAT_SIZE:
                # What a larger cbPixelFormat takes in past the descriptor is no field.
                state.removed.add("emf:header-slack")
                cb_pf = _PIXEL_FORMAT_SIZE
            pixel_format = data[off_pf : off_pf + cb_pf]
            scratch[off_pf : off_pf + cb_pf] = bytes(cb_pf)
        if nonzero(scratch) or u16(data, 58):
            # Bytes no field describes (or the reserved field): whatever a writer left there.
            state.removed.add("emf:header-slack")
        header = bytearray(data[:fixed])
        U16.pack_into(header, 58, 0)  # Reserved
        U32.pack_into(header, 60, 0)  # nDescription
        U32.pack_into(header, 64, 0)  # offDescription
        if fixed >= 100:
            U32.pack_into(header, 88, len(pixel_format))
            U32.pack_into(header, 92, fixed if pixel_format else 0)
        header += pad4(pixel_format)
        U32.pack_into(header, 4, len(header))
        return header

    def _record(self, rtype: int, offset: int, rsize: int) -> _Piece | None:
        """None to keep the record unchanged, else its replacement (empty data: dropped)."""
        state = self.state
        if rtype == _EMR_HEADER:
            raise CorruptFileError("second EMF header")
        if rtype == _EMR_COMMENT:
            return self._comment(offset, rsize)
        if rtype in _EMR_ESCAPES:
            state.removed.add("emf:escape")
            return _Piece(b"", 0)
        if rtype in _EMR_PROFILES:
            state.removed.add("emf:color-profile")
            return _Piece(b"", 0)
        if rtype not in _EMR_KNOWN:
            # No reader draws it, so nothing visible is lost; it may hold anything.
            state.removed.add("emf:unknown-record")
            return _Piece(b"", 0)
        record = bytearray(self.data[offset : offset + rsize])
        if rtype in (_EMR_CREATECOLORSPACE, _EMR_CREATECOLORSPACEW):
            self._color_space(rtype, record)
        elif rtype == _EMR_EXTCREATEFONTINDIRECTW:
            self._font(record)
        elif rtype in _EMR_DIB_FIELDS:
            for off_field, size_field in _EMR_DIB_FIELDS[rtype]:
                if size_field + 4 > rsize:
                    continue  # a record without this bitmap
                bmi_offset, bmi_size = u32(record, off_field), u32(record, size_field)
                if bmi_size == 0:
                    continue
                if bmi_offset < 8 or bmi_offset + bmi_size > rsize:
                    raise CorruptFileError("EMF bitmap outside its record")
                clean_dib(record, bmi_offset, bmi_offset + bmi_size, state, "emf")
        else:
            return None
        if record == self.data[offset : offset + rsize]:
            return None
        return _Piece(bytes(record), 1)

    def _color_space(self, rtype: int, record: bytearray) -> None:
        # LOGCOLORSPACE at offset 12: its file name (MAX_PATH characters) starts at 80.
        name_length = 260 if rtype == _EMR_CREATECOLORSPACE else 520
        name = record[80 : 80 + name_length]
        if nonzero(name):
            # The profile's file name: a path on the author's machine.
            self.state.removed.add("emf:color-profile")
            record[80 : 80 + len(name)] = bytes(len(name))
        if rtype == _EMR_CREATECOLORSPACEW and len(record) > 600:
            # dwFlags, cbData and the ICC profile itself (free-text description fields):
            # dropped, the record shortened.
            if nonzero(record, 604):
                self.state.removed.add("emf:color-profile")
            del record[600:]
            record += bytes(8)
            U32.pack_into(record, 4, len(record))

    def _font(self, record: bytearray) -> None:
        # LOGFONTW face name (32 characters) at 40; for the longer variants also the full
        # name (64) at 104 and the style (32) at 232; LOGFONTEXDV also the script (32) at 296.
        fields = [(40, 64)]
        if len(record) >= 296:
            fields += [(104, 128), (232, 64)]
        if len(record) >= 360:  # LOGFONTEXDV (LOGFONTPANOSE, 332 bytes, has binary fields)
            fields.append((296, 64))
        dirty = False
        for start, length in fields:
            dirty |= zero_after_nul(record, start, length, 2)
        if dirty:
            self.state.removed.add("emf:font-name-slack")

    def _comment(self, offset: int, rsize: int) -> _Piece:
        state = self.state
        data_size = u32(self.data, offset + 8) if rsize >= 12 else 0
        if data_size > rsize - 12:
            raise CorruptFileError("EMF comment larger than its record")
        body_start = offset + 12
        if data_size < 4 or self.data[body_start : body_start + 4] != _COMMENT_EMFPLUS:
            # Private application data, GDI public comments (group descriptions, embedded
            # EPS or WMF copies), spool data: none is needed to draw the picture.
            state.removed.add("emf:comment")
            return _Piece(b"", 0)
        if self.hard is not None:
            return _Piece(self.data[offset : offset + rsize], 1, emfplus=True)
        if nonzero(self.data[body_start + data_size : offset + rsize]):
            state.removed.add("emf:record-slack")  # bytes past the comment's declared data
        body = self.data[body_start + 4 : body_start + data_size]
        try:
            records = self._emfplus(body)
        except ScrubError as exc:
            self.hard = _HardEmfPlusError(exc)
            return _Piece(self.data[offset : offset + rsize], 1, emfplus=True)
        if not records:
            return _Piece(b"", 0)
        payload = _COMMENT_EMFPLUS + b"".join(records)
        comment = struct.pack("<III", _EMR_COMMENT, 12 + len(payload), len(payload)) + payload
        return _Piece(comment, 1, emfplus=True)

    def _emfplus(self, body: bytes) -> list[bytes]:
        """The EMF+ records of one comment, cleaned. Raises ScrubError when it cannot be."""
        state = self.state
        out: list[bytes] = []
        position = 0
        while position < len(body):
            if position + 12 > len(body):
                raise CorruptFileError("truncated EMF+ record")
            rtype, flags = u16(body, position), u16(body, position + 2)
            size, data_size = u32(body, position + 4), u32(body, position + 8)
            if size < 12 or size % 4 or size > len(body) - position or data_size > size - 12:
                raise CorruptFileError("bad EMF+ record size")
            state.count()
            record = body[position : position + size]
            position += size
            if self.dual is None:
                # The EmfPlusHeader comes first; its dual flag says whether the GDI records
                # draw the whole picture as well.
                self.dual = rtype == _PLUS_HEADER and bool(flags & _PLUS_DUAL)
            if rtype == _PLUS_COMMENT:
                state.removed.add("emfplus:comment")
                continue
            if rtype not in _PLUS_KNOWN:
                state.removed.add("emfplus:unknown-record")
                continue
            if rtype == _PLUS_OBJECT:
                record = self._object(flags, record[12 : 12 + data_size], record)
            out.append(record)
        return out

    def _object(self, flags: int, payload: bytes, record: bytes) -> bytes:
        object_type = (flags >> 8) & 0x7F
        if object_type not in (_PLUS_OBJECT_IMAGE, _PLUS_OBJECT_BRUSH, _PLUS_OBJECT_PEN):
            return record  # paths, regions, fonts, formats, attributes: no free data
        if flags & _PLUS_CONTINUED:
            # Large objects are split over records; reassembling and re-splitting them is not
            # done here.
            raise UnsupportedTypeError("EMF+ object split over several records")
        if len(payload) < 8:
            raise CorruptFileError("short EMF+ object")
        if object_type == _PLUS_OBJECT_BRUSH:
            _check_brush(payload, 0)
            return record
        if object_type == _PLUS_OBJECT_PEN:
            _check_brush(payload, _pen_brush_offset(payload))
            return record
        image_type = u32(payload, 4)
        if image_type == _PLUS_IMAGE_BITMAP:
            if len(payload) < 28:
                raise CorruptFileError("short EMF+ bitmap")
            if u32(payload, 24) != _PLUS_BITMAP_COMPRESSED:
                return record  # raw pixels only
            embedded = payload[28:]
            # Records are 4-byte aligned: the writer padded the file with up to 3 zeros,
            # which are no part of formats that end on a non-zero byte.
            if embedded[:8] == b"\x89PNG\r\n\x1a\n" or embedded[:3] in (b"\xff\xd8\xff", b"GIF"):
                for _ in range(3):
                    if embedded.endswith(b"\x00"):
                        embedded = embedded[:-1]
            cleaned = self._embedded(embedded)
            if cleaned is None:
                return record
            new_payload = bytearray(payload[:28] + pad4(cleaned))
        elif image_type == _PLUS_IMAGE_METAFILE:
            if len(payload) < 16:
                raise CorruptFileError("short EMF+ metafile")
            meta_size = u32(payload, 12)
            if meta_size > len(payload) - 16:
                raise CorruptFileError("EMF+ metafile larger than its record")
            cleaned = self._embedded(payload[16 : 16 + meta_size])
            if cleaned is None:
                return record
            new_payload = bytearray(payload[:16] + pad4(cleaned))
            U32.pack_into(new_payload, 12, len(cleaned))
        else:
            raise UnsupportedTypeError("EMF+ image of unknown kind")
        header = struct.pack("<HHII", _PLUS_OBJECT, flags, 12 + len(new_payload), len(new_payload))
        return header + bytes(new_payload)

    def _embedded(self, untrusted_data: bytes) -> bytes | None:
        """The cleaned file, or None when it is to be kept as it is."""
        result = scrub_embedded(untrusted_data, self.state.limits, check_only=self.state.check_only)
        if result.removed:
            self.state.removed.add("emfplus:image-metadata")
        if self.state.check_only or result.data == untrusted_data:
            return None
        if len(result.data) > len(untrusted_data):
            # The writer sized and split its records around the original; a larger image
            # could need the continued-object form, which is not rewritten here.
            raise UnsupportedTypeError("cleaned EMF+ image larger than the original")
        return result.data


def _check_brush(payload: bytes, offset: int) -> None:
    if offset + 8 > len(payload):
        raise CorruptFileError("short EMF+ brush")
    if u32(payload, offset + 4) == _PLUS_BRUSH_TEXTURE:
        # A texture brush holds a whole image object inline (possibly a JPEG with EXIF).
        raise UnsupportedTypeError("EMF+ texture brush")


# PenDataFlags bit -> size of the optional field it adds (MS-EMFPLUS 2.2.2.35), in order;
# None: a field that starts with its own byte count.
_PEN_FIELDS: tuple[tuple[int, int | None], ...] = (
    (0x0001, 24),  # transform
    (0x0002, 4),  # start cap
    (0x0004, 4),  # end cap
    (0x0008, 4),  # join
    (0x0010, 4),  # miter limit
    (0x0020, 4),  # line style
    (0x0040, 4),  # dashed line cap
    (0x0080, 4),  # dash offset
    (0x0100, None),  # dash pattern: count of floats, then the floats
    (0x0200, 4),  # alignment
    (0x0400, None),  # compound line: count of floats, then the floats
    (0x0800, None),  # custom start cap: byte count, then the cap
    (0x1000, None),  # custom end cap: byte count, then the cap
)


def _pen_brush_offset(payload: bytes) -> int:
    """Where the brush of an EmfPlusPen object starts."""
    if len(payload) < 20:
        raise CorruptFileError("short EMF+ pen")
    pen_flags = u32(payload, 8)
    position = 20  # version, type, flags, unit, width
    for bit, length in _PEN_FIELDS:
        if not pen_flags & bit:
            continue
        if length is None:
            if position + 4 > len(payload):
                raise CorruptFileError("short EMF+ pen")
            count = u32(payload, position)
            # Dash and compound data count floats; custom caps count bytes.
            length = 4 + (count if bit >= 0x0800 else 4 * count)
        position += length
        if position > len(payload):
            raise CorruptFileError("short EMF+ pen")
    return position
