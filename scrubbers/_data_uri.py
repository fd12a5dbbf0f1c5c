"""``data:`` URIs (RFC 2397): the pictures SVG drawings and saved pages carry inside them.

Shared by the SVG and HTML scrubbers: the bytes are decoded here, cleaned by the scrubber of
their real type (`scrubbers._core.scrub_embedded`), and written back as base64 under the type
sniffed from the cleaned bytes, never the one the URI declared.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse

from scrubbers._sniff import sniff
from scrubbers.errors import CorruptFileError

_DATA_URI = re.compile(r"data:([\w.+/-]*)((?:;[\w.+-]+=[\w.+-]+)*)(;base64)?,(.*)\Z", re.S | re.I)


def is_data_uri(target: str) -> bool:
    return target[:5].lower() == "data:"


def decode(target: str) -> bytes:
    """The bytes of a ``data:`` URI (raises CorruptFileError when it is not one)."""
    match = _DATA_URI.match(target)
    if match is None:
        raise CorruptFileError("bad data: URI")
    try:
        if match.group(3):
            return base64.b64decode("".join(match.group(4).split()), validate=True)
        return urllib.parse.unquote_to_bytes(match.group(4))
    except (binascii.Error, ValueError) as exc:
        raise CorruptFileError("bad data: URI") from exc


def encode(data: bytes) -> str:
    return "data:" + sniff(data).media_type + ";base64," + base64.b64encode(data).decode()
