"""The ISO BMFF box walk (ISO/IEC 14496-12 §4.2, and QuickTime's variants): boxes found
between two offsets, each checked to fit, over a file in RAM or read by ranges
(`RangeSource`), and the walk's state shared by the rewrite (what was removed, where the
media moved)."""

from __future__ import annotations

from dataclasses import dataclass, field

from scrubbers._ranges import RangeSource
from scrubbers.errors import CorruptFileError, LimitExceededError

# Field names reported per file: a hostile file could hold thousands of distinct ones.
_MAX_NAMES = 200

MAX_DEPTH = 12
MAX_BOXES = 1_000_000  # top-level plus moov's boxes; a fragmented file has 2 per fragment
PRINTABLE = frozenset(range(0x20, 0x7F)) | {0xA9}  # QuickTime's user-data types start with ©


@dataclass
class Box:
    kind: bytes
    start: int  # of the header
    payload: int
    end: int


@dataclass
class Walk:
    data: bytes | RangeSource
    removed: list[str] = field(default_factory=list)
    boxes: int = 0
    handler: bytes = b""
    # (old start, old end, new start) of each kept mdat/moof, sorted by old start.
    moved: list[tuple[int, int, int, bytes]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    # (old start, old end) of the samples of dropped metadata tracks, zeroed in the output.
    hidden: list[tuple[int, int]] = field(default_factory=list)

    def place(self, moved: list[tuple[int, int, int, bytes]]) -> None:
        self.moved = moved
        self.starts = [m[0] for m in moved]

    def note(self, name: str) -> None:
        if name not in self.removed and len(self.removed) < _MAX_NAMES:
            self.removed.append(name)


def box_name(kind: bytes) -> str:
    # Report names travel in a closed ASCII alphabet (scrubbers._wire): © is spelt (c).
    if all(b in PRINTABLE for b in kind):
        return "quicktime:" + kind.decode("latin-1").replace("©", "(c)")
    return "quicktime:" + kind.hex()


def child_boxes(walk: Walk, start: int, end: int, depth: int, top: bool = False) -> list[Box]:
    """The boxes between two offsets (ISO/IEC 14496-12 §4.2), each checked to fit."""
    if depth > MAX_DEPTH:
        raise LimitExceededError("boxes nested too deeply")
    data = walk.data
    boxes: list[Box] = []
    at = start
    while at < end:
        walk.boxes += 1
        if walk.boxes > MAX_BOXES:
            raise LimitExceededError("too many boxes")
        if end - at < 8:
            if not top and data[at:end] == b"\x00" * (end - at):
                break  # QuickTime pads some containers with a zero terminator
            raise CorruptFileError("truncated box header")
        size = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        header = 8
        if size == 1:
            if end - at < 16:
                raise CorruptFileError("truncated box header")
            size = int.from_bytes(data[at + 8 : at + 16], "big")
            header = 16
        elif size == 0:
            if not top and kind == b"\x00\x00\x00\x00":
                break  # the QuickTime terminator inside a container
            size = end - at  # the box runs to the end of the file (or of its parent)
        if kind == b"uuid":
            header += 16
        if size < header:
            raise CorruptFileError("malformed box size")
        if size > end - at:
            raise CorruptFileError("truncated file (a box ends past its end)")
        boxes.append(Box(kind, at, at + header, at + size))
        at += size
    return boxes


def box_header(kind: bytes, payload_size: int) -> bytes:
    size = payload_size + 8
    if size < 1 << 32:
        return size.to_bytes(4, "big") + kind
    return (1).to_bytes(4, "big") + kind + (size + 8).to_bytes(8, "big")


def handler_of(walk: Walk, trak: Box, depth: int) -> bytes:
    for child in child_boxes(walk, trak.payload, trak.end, depth + 1):
        if child.kind == b"mdia":
            for grand in child_boxes(walk, child.payload, child.end, depth + 2):
                if grand.kind == b"hdlr" and grand.end - grand.payload >= 12:
                    return walk.data[grand.payload + 8 : grand.payload + 12]
    return b""


def find(walk: Walk, box: Box, path: tuple[bytes, ...], depth: int) -> dict[bytes, Box]:
    """The children of the container at ``path`` under ``box``, by type (first of each)."""
    current = box
    for kind in path:
        found = [
            c for c in child_boxes(walk, current.payload, current.end, depth + 1) if c.kind == kind
        ]
        if not found:
            raise CorruptFileError(f"track without {kind.decode()}")
        current, depth = found[0], depth + 1
    table: dict[bytes, Box] = {}
    for child in child_boxes(walk, current.payload, current.end, depth + 1):
        table.setdefault(child.kind, child)
    return table


def u32(data: bytes | RangeSource, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "big")
