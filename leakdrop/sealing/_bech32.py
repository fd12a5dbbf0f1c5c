"""Bech32 (BIP 173 checksum) as age uses it for keys.

age lifts BIP 173's 90-character limit (post-quantum keys are longer); we keep a generous
bound so a hostile "key" cannot make us loop over megabytes.
"""

from __future__ import annotations

from .errors import KeyFormatError

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_REVERSE = {c: i for i, c in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_MAX_LENGTH = 4096


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GENERATOR[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or (acc << (to_bits - bits)) & maxv:
        # Non-zero or overlong padding would make two strings decode to one key.
        raise KeyFormatError("invalid Bech32 padding")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Encode; an uppercase HRP gives an all-uppercase string (age secret keys)."""
    lower_hrp = hrp.lower()
    values = _convert_bits(data, 8, 5, pad=True)
    checksum_input = _hrp_expand(lower_hrp) + values + [0] * 6
    poly = _polymod(checksum_input) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    text = lower_hrp + "1" + "".join(_CHARSET[v] for v in values + checksum)
    return text.upper() if hrp.isupper() else text


def decode(untrusted_text: str) -> tuple[str, bytes]:
    """Return (hrp as written, data). Rejects mixed case, bad characters, bad checksum."""
    if len(untrusted_text) > _MAX_LENGTH:
        raise KeyFormatError("Bech32 string too long")
    if not untrusted_text.isascii():
        raise KeyFormatError("Bech32 string has non-ASCII characters")
    # Mixed case is forbidden by BIP 173: it would give one key two spellings.
    if untrusted_text.lower() != untrusted_text and untrusted_text.upper() != untrusted_text:
        raise KeyFormatError("Bech32 string has mixed case")
    pos = untrusted_text.rfind("1")
    if pos < 1 or pos + 7 > len(untrusted_text):
        raise KeyFormatError("Bech32 separator misplaced")
    hrp = untrusted_text[:pos]
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise KeyFormatError("Bech32 prefix has invalid characters")
    lowered = untrusted_text.lower()
    try:
        values = [_REVERSE[c] for c in lowered[pos + 1 :]]
    except KeyError:
        raise KeyFormatError("Bech32 string has invalid characters") from None
    if _polymod(_hrp_expand(hrp.lower()) + values) != 1:
        raise KeyFormatError("Bech32 checksum mismatch")
    data = bytes(_convert_bits(values[:-6], 5, 8, pad=False))
    return hrp, data
