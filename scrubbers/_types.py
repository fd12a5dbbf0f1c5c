"""Plain data shared by every scrubber: file types, limits, results."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from scrubbers.errors import LimitExceededError

if TYPE_CHECKING:
    from scrubbers._ranges import RangeSource, Sink


@dataclass(frozen=True)
class FileType:
    """A file's real type, as sniffed from its bytes (never from a name or Content-Type)."""

    name: str  # short id used in reports and the registry: "pdf", "jpeg", "docx", "unknown"
    media_type: str
    extension: str  # with the dot: ".pdf"


@dataclass(frozen=True)
class Limits:
    """Bounds applied to every parse of untrusted bytes (rule: hostile input is normal)."""

    max_input_bytes: int = 256 * 1024 * 1024  # bigger files are kept, reported not cleaned
    memory_bytes: int = 2 * 1024 * 1024 * 1024  # RLIMIT_AS of a worker
    cpu_seconds: int = 60
    wall_seconds: float = 90.0
    max_pixels: int = 100_000_000  # decoded image size (Pillow's bomb guard)
    max_output_bytes: int = 512 * 1024 * 1024
    max_zip_members: int = 10_000
    max_zip_member_bytes: int = 256 * 1024 * 1024  # uncompressed, per member
    max_zip_total_bytes: int = 1024 * 1024 * 1024  # uncompressed, whole package
    max_zip_ratio: int = 200  # uncompressed / compressed, per member
    max_xml_bytes: int = 64 * 1024 * 1024
    max_depth: int = 4  # embedded documents inside embedded documents
    max_pdf_objects: int = 1_000_000
    # Larger files of the formats that can be cleaned as a stream (`StreamingScrubber`) are
    # read by ranges instead of whole: worker memory then does not grow with the file.
    stream_above_bytes: int = 32 * 1024 * 1024
    max_streamed_bytes: int = 4 * 1024 * 1024 * 1024

    def deeper(self) -> Limits:
        """The limits for a document embedded in this one."""
        if self.max_depth <= 0:
            raise LimitExceededError("embedded documents nested too deeply")
        return dataclasses.replace(self, max_depth=self.max_depth - 1)


DEFAULT_LIMITS = Limits()

# What a scrubber must leave in place (it is the content) but that can still identify the
# person who sends the file: named to the editors (manifest, `leakdrop open`, index.html) and
# on the source's receipt. A closed set of codes, so that a compromised worker cannot put free
# text on a receipt; each server/CLI translates the code.
WARNING_CODES = frozenset(
    {
        "form-values",  # filled form fields (PDF AcroForm values, office form controls)
        "annotation-text",  # PDF annotation contents, office comments kept as content
        "hyperlinks",  # clickable links (may carry per-recipient tracking tokens)
        "page-content",  # a saved web page: its text may show who was logged in
        "embedded-not-cleaned",  # a part inside the file could not be cleaned (listed in note)
    }
)
MAX_LINKS = 200  # hyperlink targets listed for the editors, per file
MAX_LINK_CHARS = 2000


@dataclass(frozen=True)
class Attachment:
    """A file found inside another one (e.g. a PDF attachment), cleaned on its own."""

    untrusted_name: str  # as found in the container: sanitise before any use
    report: ScrubReport


@dataclass(frozen=True)
class Cleaned:
    """What a scrubber's ``remove_all`` returns."""

    data: bytes
    removed: tuple[str, ...]  # field *names* (e.g. "exif:GPS"), never values
    note: str | None = None  # e.g. "re-encoded as PNG (lossless)"
    attachments: tuple[Attachment, ...] = ()
    output_type: FileType | None = None  # when the format changed (HEIC -> PNG)
    warnings: tuple[str, ...] = ()  # codes from WARNING_CODES
    links: tuple[str, ...] = ()  # hyperlink targets kept as content, for the editors to check


# kw_only: each format's pass adds its own positional fields (package, limits) before these.
@dataclass(kw_only=True)
class PassRecord:
    """What one cleaning pass over a container (SVG, EPUB, ODF, OOXML, zip) gathers for its
    `Cleaned`: the base of each format's pass, shared by its get_meta and remove_all."""

    removed: set[str] = field(default_factory=set)
    attachments: list[Attachment] = field(default_factory=list)
    warnings: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)

    def _add_link(self, target: str) -> None:
        # A clickable link is content: named to the editors once, and the receipt warns.
        if target.strip() and target not in self.links:
            self.links.append(target)
        self.warnings.add("hyperlinks")

    def absorb(self, result: EmbeddedResult) -> bytes:
        """Take in what cleaning an embedded file found; its cleaned bytes."""
        self.removed.update(result.removed)
        self.attachments.extend(result.attachments)
        self.warnings.update(result.warnings)
        for link in result.links:
            self._add_link(link)
        return result.data

    def cleaned(self, data: bytes, *, note: str | None = None) -> Cleaned:
        """The pass's result around the cleaned bytes."""
        return Cleaned(
            data,
            tuple(sorted(self.removed)),
            note=note,
            attachments=tuple(self.attachments),
            warnings=tuple(sorted(self.warnings)),
            links=tuple(self.links),
        )


@dataclass(frozen=True)
class EmbeddedResult:
    """A file embedded in a package, cleaned (or inspected) in place: `_core.scrub_embedded`."""

    data: bytes
    removed: tuple[str, ...]  # as ``embedded:<type>/<field>``
    attachments: tuple[Attachment, ...] = ()
    warnings: tuple[str, ...] = ()
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScrubReport:
    """The outcome for one file. ``data`` is the cleaned file, or the original when not cleaned."""

    file_type: FileType
    cleaned: bool
    data: bytes = field(repr=False)
    removed: tuple[str, ...] = ()
    reason: str | None = None  # set exactly when not cleaned
    note: str | None = None
    attachments: tuple[Attachment, ...] = ()
    warnings: tuple[str, ...] = ()  # codes from WARNING_CODES
    links: tuple[str, ...] = ()  # hyperlink targets kept as content (at most MAX_LINKS)

    def to_json(self) -> dict[str, object]:
        """The report without the bytes (what goes into manifests and CLI output)."""
        return {
            "type": self.file_type.name,
            "media_type": self.file_type.media_type,
            "cleaned": self.cleaned,
            "reason": self.reason,
            "removed": list(self.removed),
            "note": self.note,
            "warnings": list(self.warnings),
            "links": list(self.links),
            "attachments": [
                {"name": a.untrusted_name, **a.report.to_json()} for a in self.attachments
            ],
        }


class StreamingScrubber(Protocol):
    """A format cleaned from a `RangeSource` into a `Sink`, for files too large for RAM.

    The same cleaning as the scrubber's ``remove_all``, and the same errors; the `Cleaned`
    returned carries no data (the output went to the sink).
    """

    def get_meta_from(self, source: RangeSource, limits: Limits) -> list[str]: ...

    def remove_all_to(self, source: RangeSource, sink: Sink, limits: Limits) -> Cleaned: ...


class Scrubber(Protocol):
    """One format family. Both methods raise `scrubbers.errors.ScrubError` subclasses only."""

    @property
    def file_types(self) -> tuple[str, ...]:
        """`FileType.name` values handled."""
        ...

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        """Names of the identifying fields present (empty when clean)."""
        ...

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        """Return the file without any of them."""
        ...
