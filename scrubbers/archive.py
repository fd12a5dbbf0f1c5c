"""ZIP archives: every member cleaned by its own scrubber, the archive itself rewritten.

Sources put many files in one ZIP. Each member goes through the scrubbers like a file of its
own (recursively: a ZIP in a ZIP is an archive again), within the limits: depth
(`Limits.max_depth`), member count, per-member size and compression ratio, checked on what the
archive declares before anything is inflated, and one budget of inflated bytes
(`Limits.max_zip_total_bytes`) shared by the whole tree of nested archives and packages, so
that nesting cannot multiply it.

The archive is written anew (`_zip.PackageWriter`): no archive or member comments, no extra
fields (timestamps, uid/gid), fixed dates and permissions, members sorted by name. A member
whose type changes when cleaned (HEIC becomes PNG) gets the new extension.

A member that cannot be cleaned (no scrubber for its type, a corrupt file, a symbolic link,
one too deeply nested) is taken out and handed back on its own, as received, marked not
cleaned, under its name in the archive: the receipt and the manifest list it with its reason,
and what is left in the archive is clean ("cleaned" stays a promise). Nothing is lost.

An archive above `Limits.stream_above_bytes` is cleaned the same way by ranges
(`remove_all_to`): the directory and each member read from the source, each member cleaned in
RAM and written to the sink, the directory last, so the worker holds one member at a time,
never the archive; the output is the in-RAM one, byte for byte. The members handed back on
their own are the one thing held in RAM whatever the archive's size: past
`Limits.max_zip_member_bytes` of them (or `max_input_bytes`, if lower), the whole archive is
not cleaned (and kept as received).

Whole-archive refusals (kept as received, not cleaned): what `zipfile` cannot read, encrypted
members, names that would escape the folder on extraction or that are ambiguous (duplicates),
bounds exceeded (zip bombs), and zip-based formats that are no plain archive (EPUB, JAR-like
packages with a ``mimetype`` member, and OOXML packages of kinds we do not clean): cleaning
their members one by one would break them.
"""

from __future__ import annotations

import dataclasses
import posixpath
import zipfile
from dataclasses import dataclass

from scrubbers._core import clean, meta_of
from scrubbers._ranges import BytesSink, Data, RangeSource, Sink
from scrubbers._sniff import has_member
from scrubbers._types import Attachment, Cleaned, Limits, PassRecord
from scrubbers._zip import (
    ARCHIVE_METHODS,
    PackageWriter,
    attachment_bytes,
    check_attachment_budget,
    checked_infos,
    is_symlink,
    not_cleaned,
    open_archive,
    read_member,
    zip_errors,
)
from scrubbers.errors import LimitExceededError, ScrubError, UnsupportedTypeError
from scrubbers.ooxml import OoxmlScrubber

UNCLEANABLE = "zip:uncleanable-member"


@dataclass
class _Pass(PassRecord):
    limits: Limits
    check_only: bool
    # Cleaned by ranges: the attachments are in RAM when the archive is not, so they are
    # bounded as they come (None: in RAM, where `check_attachment_budget` bounds them).
    max_attachment_bytes: int | None = None
    cleaned_members: int = 0
    attachments_held: int = 0

    def run(self, untrusted_data: Data, writer: PackageWriter) -> None:
        with zip_errors(), open_archive(untrusted_data, self.limits) as archive:
            infos, traces = checked_infos(archive, self.limits, ARCHIVE_METHODS)
            self.removed.update(traces)
            names = {info.filename for info in infos}
            if "mimetype" in names:
                # ODF is sniffed before this; anything else with a mimetype member (EPUB,
                # ...) is a package format whose members cannot be cleaned one by one.
                raise UnsupportedTypeError("zip-based package format")
            # What is left of the budget after this archive's own members is all that the
            # members may inflate in turn (nested archives, office packages).
            declared = sum(info.file_size for info in infos)
            inner = dataclasses.replace(
                self.limits.deeper(),
                max_zip_total_bytes=max(0, self.limits.max_zip_total_bytes - declared),
            )
            taken: set[str] = {name.casefold() for name in names}
            for info in sorted(infos, key=lambda i: i.filename):
                if info.is_dir():
                    writer.add_directory(info.filename)
                    continue
                data = read_member(archive, info)
                handed_back = len(self.attachments)
                self._member(writer, info, data, inner, taken)
                self._hold(self.attachments[handed_back:])
        if infos and not writer.entries and not self.check_only:
            # Nothing of it could be cleaned: the archive as received is the honest answer.
            raise UnsupportedTypeError("no member of the archive could be cleaned")
        writer.finish()

    def _hold(self, attachments: list[Attachment]) -> None:
        if self.max_attachment_bytes is None:
            return
        self.attachments_held += attachment_bytes(attachments)
        if self.attachments_held > self.max_attachment_bytes:
            raise LimitExceededError("too much to hand back on its own")

    def _member(
        self,
        writer: PackageWriter,
        info: zipfile.ZipInfo,
        untrusted_data: bytes,
        limits: Limits,
        taken: set[str],
    ) -> None:
        name = info.filename
        if not untrusted_data:
            writer.add(name, b"")  # an empty file carries nothing
            return
        if is_symlink(info):
            # Its "content" is a path on the author's machine, and extracting it would
            # create a link: no file to clean.
            self._not_cleaned(name, untrusted_data, UnsupportedTypeError.reason)
            return
        if self.check_only:
            try:
                file_type, left = meta_of(untrusted_data, limits)
            except ScrubError:
                self.removed.add(UNCLEANABLE)
                return
            self.removed.update(f"embedded:{file_type.name}/{field}" for field in left)
            return
        try:
            file_type, cleaned = clean(untrusted_data, limits)
        except ScrubError as exc:
            self._not_cleaned(name, untrusted_data, exc.reason)
            return
        self.cleaned_members += 1
        self.removed.update(f"embedded:{file_type.name}/{field}" for field in cleaned.removed)
        self.warnings.update(cleaned.warnings)
        self.links.extend(link for link in cleaned.links if link not in self.links)
        self.attachments.extend(
            Attachment(f"{name}/{a.untrusted_name}", a.report) for a in cleaned.attachments
        )
        out_type = cleaned.output_type
        if out_type is not None and out_type != file_type:
            name = _renamed(name, out_type.extension, taken)
        writer.add(name, cleaned.data)

    def _not_cleaned(self, name: str, untrusted_data: bytes, reason: str) -> None:
        self.removed.add(UNCLEANABLE)
        self.warnings.add("embedded-not-cleaned")
        if not self.check_only:
            self.attachments.append(not_cleaned(name, untrusted_data, reason))


def _renamed(name: str, extension: str, taken: set[str]) -> str:
    stem = posixpath.splitext(name)[0]
    candidate = stem + extension
    number = 0
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{stem}-{number}{extension}"
    taken.add(candidate.casefold())
    return candidate


def _is_office_package(untrusted_data: Data) -> bool:
    return has_member(untrusted_data, "[Content_Types].xml")


def _in_ram(untrusted_data: Data, limits: Limits) -> bytes:
    # A package cleaned as a whole (`OoxmlScrubber`) is held in RAM, as under the threshold.
    if isinstance(untrusted_data, bytes):
        return untrusted_data
    if len(untrusted_data) > limits.max_input_bytes:
        raise LimitExceededError("input too large")
    return untrusted_data[:]


class ArchiveScrubber:
    file_types = ("zip",)

    def get_meta(self, untrusted_data: bytes, limits: Limits) -> list[str]:
        return self.get_meta_from(untrusted_data, limits)

    def get_meta_from(self, source: Data, limits: Limits) -> list[str]:
        if _is_office_package(source):
            return OoxmlScrubber().get_meta(_in_ram(source, limits), limits)
        state = _Pass(limits, check_only=True)
        state.run(source, PackageWriter(BytesSink(b"")))
        return sorted(state.removed)

    def remove_all(self, untrusted_data: bytes, limits: Limits) -> Cleaned:
        if _is_office_package(untrusted_data):
            # An OOXML package of another kind (Visio, a theme, a bare OPC package): its
            # parts are cleaned as a package, never one by one as files.
            return OoxmlScrubber().remove_all(untrusted_data, limits)
        sink = BytesSink(b"")
        state = _Pass(limits, check_only=False)
        state.run(untrusted_data, PackageWriter(sink))
        check_attachment_budget(state.attachments, limits)
        return _cleaned(state, sink.getvalue())

    def remove_all_to(self, source: RangeSource, sink: Sink, limits: Limits) -> Cleaned:
        if _is_office_package(source):
            cleaned = OoxmlScrubber().remove_all(_in_ram(source, limits), limits)
            sink.write(cleaned.data)
            return dataclasses.replace(cleaned, data=b"")
        budget = min(limits.max_zip_member_bytes, limits.max_input_bytes)
        state = _Pass(limits, check_only=False, max_attachment_bytes=budget)
        state.run(source, PackageWriter(sink))
        return _cleaned(state, b"")


def _cleaned(state: _Pass, data: bytes) -> Cleaned:
    kept_out = len([a for a in state.attachments if not a.report.cleaned])
    note = f"{state.cleaned_members} file(s) inside cleaned"
    if kept_out:
        note += f"; {kept_out} could not be cleaned: given as separate files, not cleaned"
    return state.cleaned(data, note=note)
