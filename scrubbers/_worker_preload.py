"""Imported once by the fork server so that each worker starts with the parsers loaded."""

from scrubbers import _core as _core
from scrubbers._registry import scrubber_for

try:
    # Building the registry imports pikepdf, Pillow and pillow-heif in the fork server.
    scrubber_for("pdf")
except Exception:  # noqa: BLE001, S110
    # A format module that fails to import must not take the fork server down with it (then
    # no file could be handled at all): each worker retries, and reports its files not
    # cleaned with a reason.
    pass
