"""Imported once by the fork server so that each worker starts with the parsers loaded."""

from scrubbers import _core as _core
from scrubbers._registry import scrubber_for

# Building the registry imports pikepdf, Pillow and pillow-heif in the fork server.
scrubber_for("pdf")
