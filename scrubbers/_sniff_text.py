"""Text-based types told from a file's first bytes: plain text, SVG and HTML."""

from __future__ import annotations

import re

# --- plain text ----------------------------------------------------------------------------

# What sniffing looks at; the scrubber checks the whole file in its worker.
_TEXT_WINDOW = 64 * 1024
# C0 controls a text file may hold: tab, line feed, vertical tab, form feed, carriage
# return, and the DOS end-of-file mark. Anything else below 0x20 (NUL first) is binary.
_TEXT_CONTROLS = b"\t\n\x0b\x0c\r\x1a"
_BINARY_BYTES = bytes(b for b in range(0x20) if b not in _TEXT_CONTROLS) + b"\x7f"
_BINARY_BYTE = re.compile(b"[" + re.escape(_BINARY_BYTES) + b"]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Formats made of text that do hide things from their reader (HTML and XML comments and
# metadata, RTF info groups, PostScript comments): never "plain text".
_MARKUP_STARTS = ("<", "{\\rtf", "%!", "\\documentclass")
# A saved e-mail (RFC 5322, or an mbox's "From " line) is text, but its header block, which
# mail readers hide, names the sender's address, relays and IP addresses (Received:), the
# mail program (User-Agent:) and the sending host (Message-ID:): never "nothing hidden".
_MBOX_START = "from "
_MAIL_HEADERS = re.compile(
    r"(?:received|return-path|message-id|delivered-to|dkim-signature|mime-version|"
    r"x-mailer|user-agent|arc-seal|authentication-results)[ \t]*:",
    re.I,
)
# A PDF's header past the first KiB is no PDF for most readers, but some still find it.
_MARKUP_INSIDE = (
    "<html", "<svg", "<?xml", "<!doctype", "<head", "<body", "<meta", "<script", "%pdf-"
)  # fmt: skip


def is_plain_text(untrusted_data: bytes, *, whole: bool = False) -> bool:
    """Whether these bytes are text with no markup: ASCII, UTF-8, a Latin code page, UTF-16.

    `whole`: the bytes are the whole file, not its first window (which may cut a UTF-16
    character in two). An odd number of bytes in a whole UTF-16 file is a cut-off file.
    """
    if not untrusted_data:
        return False
    text: str
    if untrusted_data[:2] in _UTF16_BOMS:
        if whole and len(untrusted_data) % 2:
            return False
        body = untrusted_data if whole else untrusted_data[: len(untrusted_data) // 4 * 4 - 4]
        try:
            text = (body or untrusted_data[:2]).decode("utf-16")
        except UnicodeDecodeError:
            return False
        if any(ord(c) < 0x20 and c not in "\t\n\x0b\x0c\r\x1a" for c in text):
            return False
        if any(0xFDD0 <= ord(c) <= 0xFDEF or ord(c) in (0xFFFE, 0xFFFF) for c in text):
            return False
    else:
        if untrusted_data.translate(None, _BINARY_BYTES) != untrusted_data:
            return False
        # Any 8-bit code page decodes; only markup matters below.
        text = untrusted_data.decode("latin-1")
    start = text.lstrip("\ufeff\xef\xbb\xbf \t\r\n\x0b\x0c").lower()
    if start.startswith(_MARKUP_STARTS) or _is_mail(start):
        return False
    lowered = text.lower()
    return not any(marker in lowered for marker in _MARKUP_INSIDE)


def _is_mail(start: str) -> bool:
    if start.startswith(_MBOX_START):
        return True
    header_block = re.split(r"\r?\n\r?\n", start[:65536], maxsplit=1)[0]
    return any(_MAIL_HEADERS.match(line) for line in header_block.splitlines())


# --- SVG -----------------------------------------------------------------------------------

SVG_NS = "http://www.w3.org/2000/svg"
#: The root's start tag must begin within this many bytes (after the XML declaration,
#: comments, processing instructions and a doctype: editors write all of them first).
SVG_WINDOW = 64 * 1024
_XML_PROLOG_ITEM = re.compile(
    r"\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE\s[^\[>]*(?:\[.*?\]\s*)?>", re.S | re.I
)
_START_TAG = re.compile(r"<(?:([A-Za-z_][\w.-]*):)?svg(?=[\s/>])([^<>]*)>", re.S)
_NS_DECLARATION = re.compile(r"""\sxmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _decode_head(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        body = head[: len(head) // 2 * 2]
        return body.decode("utf-16", "ignore")
    # Cut anywhere, so a character may be cut in two at the end: ignored.
    return head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "ignore")


_HTML_START = re.compile(
    r"\ufeff?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])",
    re.IGNORECASE | re.DOTALL,
)


def is_svg(head: bytes) -> bool:
    """An XML document whose root element is {http://www.w3.org/2000/svg}svg (with or without
    an XML declaration): judged from the root's start tag, which must declare the namespace
    itself (nothing outside the root can)."""
    text = _decode_head(head)
    position = 0
    while True:
        item = _XML_PROLOG_ITEM.match(text, position)
        if item is None or item.end() == position:
            break
        position = item.end()
    tag = _START_TAG.match(text, position)
    if tag is None:
        return False
    prefix = tag.group(1) or ""
    for declared in _NS_DECLARATION.finditer(tag.group(2)):
        if (declared.group(1) or "") == prefix:
            return (
                declared.group(2) if declared.group(2) is not None else declared.group(3)
            ) == SVG_NS
    return False


def is_html(head: bytes) -> bool:
    """A document that starts as HTML (or XHTML): a doctype or an ``<html>`` root first."""
    return _HTML_START.match(_decode_head(head)) is not None


def is_text_file(untrusted_data: bytes) -> bool:
    """Whether `sniff` calls the file plain text, from its start and its end only.

    Cheap on a large file: the scrubber checks every byte in its worker (and decodes all of a
    UTF-16 file).
    """
    return is_plain_text(untrusted_data[:_TEXT_WINDOW]) and (
        untrusted_data[:2] in _UTF16_BOMS
        or _BINARY_BYTE.search(untrusted_data, max(0, len(untrusted_data) - _TEXT_WINDOW)) is None
    )
