"""The one exception tree of `leakdrop.sealing`.

Every failure of the age layer is one of these; errors raised by PyNaCl or the standard
library are translated where they occur (``raise X from exc``), so callers handle exactly
this tree and never a third-party type.
"""

from __future__ import annotations

__all__ = [
    "AgeError",
    "ArmorError",
    "HeaderError",
    "KeyFormatError",
    "MacError",
    "NoIdentityMatchError",
    "PayloadError",
]


class AgeError(Exception):
    """Base of every sealing error."""


class KeyFormatError(AgeError):
    """A recipient, identity or key file is malformed (the message never quotes a key)."""


class HeaderError(AgeError):
    """The age header is malformed, or a stanza for our identity type is invalid."""


class ArmorError(AgeError):
    """The ASCII armor (PEM ``AGE ENCRYPTED FILE``) is malformed."""


class NoIdentityMatchError(AgeError):
    """The header is well formed but none of the given identities unwraps the file key."""


class MacError(AgeError):
    """The header MAC does not verify: the header was altered after it was sealed."""


class PayloadError(AgeError):
    """The payload is altered, truncated, or has data after its final chunk."""
