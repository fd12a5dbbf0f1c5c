"""Sniff, pick the scrubber, clean, then re-read the output and check it.

Also the recursion for files found inside other files (`scrub_embedded` for a package's
parts, `scrub_attachment` for files handed back on their own): format modules import it from
here. The direction is one way: format modules -> `_core` -> `_registry`, and the registry
reaches the format modules only by name (`importlib`, when a file of their type comes), so no
module imports one that imports it back.
"""

from __future__ import annotations

from scrubbers._ranges import Output, RangeSource
from scrubbers._registry import scrubber_for, streaming_scrubber_for
from scrubbers._sniff import is_polyglot, is_polyglot_source, sniff
from scrubbers._types import (
    DEFAULT_LIMITS,
    MAX_LINKS,
    WARNING_CODES,
    Cleaned,
    EmbeddedResult,
    FileType,
    Limits,
    ScrubReport,
)
from scrubbers.errors import (
    AmbiguousTypeError,
    CorruptFileError,
    LimitExceededError,
    ScrubError,
    UnsupportedTypeError,
    VerificationError,
)


def clean(untrusted_data: bytes, limits: Limits) -> tuple[FileType, Cleaned]:
    """Clean one file in this process. Raises `ScrubError` subclasses only.

    The archive scrubber calls this for each member; packages whose parts keep their place
    (office documents, EPUB) use `scrub_embedded`.
    """
    file_type = sniff(untrusted_data)
    scrubber = scrubber_for(file_type.name)
    if scrubber is None:
        raise UnsupportedTypeError(file_type.name)
    if len(untrusted_data) > limits.max_input_bytes:
        raise LimitExceededError("input too large")
    if is_polyglot(untrusted_data, file_type):
        # Cleaning it as its first type would drop the other format's content unseen.
        raise AmbiguousTypeError(file_type.name)
    try:
        cleaned = scrubber.remove_all(untrusted_data, limits)
        if len(cleaned.data) > limits.max_output_bytes:
            raise LimitExceededError("output too large")
        # The check re-parses the output: the same translations apply to it.
        _verify(cleaned, cleaned.output_type or file_type, limits)
    except ScrubError:
        raise
    except MemoryError as exc:
        raise LimitExceededError("out of memory") from exc
    except RecursionError as exc:
        raise CorruptFileError("structure nested too deeply") from exc
    except Exception as exc:
        # A parser bug on a hostile file: callers (and embedding scrubbers) see one error
        # tree only. The file is reported not cleaned, never passed through as clean.
        raise ScrubError(type(exc).__name__) from exc
    return file_type, cleaned


def _verify(cleaned: Cleaned, expected: FileType, limits: Limits) -> None:
    # Trust nothing the writer claims: re-sniff and re-read the output with the same parser
    # that found the fields, and refuse to call the file clean if any is still there.
    out_type = sniff(cleaned.data)
    if out_type != expected:
        raise VerificationError(f"output sniffed as {out_type.name}, expected {expected.name}")
    if is_polyglot(cleaned.data, out_type):
        # A second format in the output would carry its own metadata past this check.
        raise VerificationError("output readable as two formats")
    scrubber = scrubber_for(out_type.name)
    if scrubber is None:
        raise VerificationError("no scrubber for the output")
    left = scrubber.get_meta(cleaned.data, limits)
    if left:
        raise VerificationError("fields left: " + ", ".join(sorted(set(left))))


def scrub(untrusted_data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ScrubReport:
    """Clean one file in this process; never raises for anything the file contains.

    A file that cannot be cleaned comes back unchanged with ``cleaned=False`` and a reason,
    so the caller can still keep it (nothing accepted is lost).
    """
    file_type = sniff(untrusted_data)
    try:
        _, cleaned = clean(untrusted_data, limits)
    except ScrubError as exc:
        return ScrubReport(file_type, False, untrusted_data, reason=exc.reason)
    except Exception:  # noqa: BLE001 - see below
        # Sniffing or the registry itself failed (e.g. a format module that cannot be
        # imported): the file must still come back, as received.
        return ScrubReport(file_type, False, untrusted_data, reason=ScrubError.reason)
    return ScrubReport(
        cleaned.output_type or file_type,
        True,
        cleaned.data,
        removed=tuple(sorted(set(cleaned.removed))),
        note=cleaned.note,
        attachments=cleaned.attachments,
        warnings=tuple(sorted(set(cleaned.warnings) & WARNING_CODES)),
        links=tuple(dict.fromkeys(cleaned.links))[:MAX_LINKS],
    )


def scrub_attachment(untrusted_data: bytes, limits: Limits) -> ScrubReport:
    """Clean a file found inside another one and handed back on its own (a PDF's attachment,
    a Matroska attachment); never raises for what it contains."""
    try:
        deeper = limits.deeper()
    except LimitExceededError as exc:
        # Too deeply nested to clean: kept, and said to be not cleaned (never dropped).
        return ScrubReport(sniff(untrusted_data), False, untrusted_data, reason=exc.reason)
    return scrub(untrusted_data, limits=deeper)


def meta_of(untrusted_data: bytes, limits: Limits) -> tuple[FileType, list[str]]:
    """The sniffed type of a file and the identifying fields it holds (nothing is written).

    Raises `UnsupportedTypeError` when no scrubber reads that type.
    """
    file_type = sniff(untrusted_data)
    scrubber = scrubber_for(file_type.name)
    if scrubber is None:
        raise UnsupportedTypeError(f"embedded {file_type.name}")
    return file_type, scrubber.get_meta(untrusted_data, limits)


def scrub_embedded(untrusted_data: bytes, limits: Limits, *, check_only: bool) -> EmbeddedResult:
    """Clean (or, with ``check_only``, inspect) a file embedded in a package, recursively.

    A file that cannot be cleaned makes the whole package "not cleaned": the error propagates
    (never call a file clean when part of it is not). Nesting is bounded by ``limits.deeper()``.
    Removed names are reported as ``embedded:<type>/<field>``.
    """
    inner_limits = limits.deeper()
    if check_only:
        file_type, left = meta_of(untrusted_data, inner_limits)
        return EmbeddedResult(
            untrusted_data, tuple(f"embedded:{file_type.name}/{name}" for name in left)
        )
    file_type, cleaned = clean(untrusted_data, inner_limits)
    if cleaned.output_type is not None and cleaned.output_type != file_type:
        # The package names the member's type (extension, content type): a converted file
        # would no longer match it.
        raise UnsupportedTypeError(f"embedded {file_type.name} would change format")
    return EmbeddedResult(
        cleaned.data,
        tuple(f"embedded:{file_type.name}/{name}" for name in cleaned.removed),
        cleaned.attachments,
        cleaned.warnings,
        cleaned.links,
    )


def scrub_streamed(source: RangeSource, output: Output, *, limits: Limits) -> ScrubReport:
    """Clean a large file read by ranges, writing the result to `output`.

    The same promise as `scrub`: never raises for what the file contains. The report carries
    no data: the cleaned file is what went to `output` (when ``cleaned``; otherwise the
    caller keeps the file as received and discards whatever the output holds).
    """
    file_type = sniff(source)
    try:
        cleaned = _clean_streamed(source, output, file_type, limits)
    except ScrubError as exc:
        return ScrubReport(file_type, False, b"", reason=exc.reason)
    except MemoryError:
        return ScrubReport(file_type, False, b"", reason=LimitExceededError.reason)
    except RecursionError:
        return ScrubReport(file_type, False, b"", reason=CorruptFileError.reason)
    except Exception:  # noqa: BLE001 - a parser bug on a hostile file: never "cleaned"
        return ScrubReport(file_type, False, b"", reason=ScrubError.reason)
    return ScrubReport(
        file_type,
        True,
        b"",
        removed=tuple(sorted(set(cleaned.removed))),
        note=cleaned.note,
        attachments=cleaned.attachments,
        warnings=tuple(sorted(set(cleaned.warnings) & WARNING_CODES)),
        links=tuple(dict.fromkeys(cleaned.links))[:MAX_LINKS],
    )


def _clean_streamed(
    source: RangeSource, output: Output, file_type: FileType, limits: Limits
) -> Cleaned:
    scrubber = streaming_scrubber_for(file_type.name)
    if scrubber is None:
        raise LimitExceededError("too large to clean for this file type")
    if len(source) > limits.max_streamed_bytes:
        raise LimitExceededError("input too large")
    if is_polyglot_source(source, file_type):
        raise AmbiguousTypeError(file_type.name)
    cleaned = scrubber.remove_all_to(source, output, limits)
    result = output.finish()
    if cleaned.output_type not in (None, file_type):
        raise VerificationError("a streamed file changed type")
    # The same checks as `_verify`, on the output read back by ranges.
    out_type = sniff(result)
    if out_type != file_type:
        raise VerificationError(f"output sniffed as {out_type.name}, expected {file_type.name}")
    if is_polyglot_source(result, out_type):
        raise VerificationError("output readable as two formats")
    left = scrubber.get_meta_from(result, limits)
    if left:
        raise VerificationError("fields left: " + ", ".join(sorted(set(left))))
    return cleaned
