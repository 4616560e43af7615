"""Base32 (RFC 4648) of sha256 digests, the bytes `base64.b32encode` gives, made in C.

Every record's digests are written in base32, and Python 3.11's `base64.b32encode` is a
Python loop over 5-byte groups (binascii has no base32). A 32-byte digest is one integer
of 52 groups of 5 bits (after 4 zero bits of padding); a few shifts and masks on that
integer move every group into a byte of its own, and `bytes.translate` turns each of
those bytes into its letter. Other lengths are left to `base64.b32encode`.
"""
from __future__ import annotations

import base64

DIGEST_SIZE = 32                     # bytes of a sha256 digest
_GROUPS = 52                         # 5-bit groups of 32 bytes and 4 zero bits
_SLOTS = 64                          # bytes the groups are spread over: a power of two
_PADDING = b"===="                   # 52 letters are padded to 56, a multiple of 8
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_LETTER_OF = bytes(_ALPHABET[value % 32] for value in range(256))   # only 0-31 occur


def _spreading_steps() -> tuple[tuple[int, int, int], ...]:
    """(low mask, high mask, shift) of each halving step.

    Before a step the groups sit in blocks of 2h packed 5-bit groups, each block at the
    start of 16h bits of room; the step keeps each block's low h groups where they are
    and shifts its high h groups up by 3h bits, to the start of the block's upper half.
    After the step with h = 1, group i is byte i of the integer.
    """
    steps = []
    half = _SLOTS // 2
    while half:
        field = (1 << (5 * half)) - 1
        low = high = 0
        for start in range(0, 8 * _SLOTS, 16 * half):
            low |= field << start
            high |= field << (start + 5 * half)
        steps.append((low, high, 3 * half))
        half //= 2
    return tuple(steps)


_STEPS = _spreading_steps()


def b32encode(data: bytes) -> bytes:
    """`base64.b32encode(data)`, for 32 bytes without a Python loop over their groups."""
    if len(data) != DIGEST_SIZE:
        return base64.b32encode(data)
    spread = int.from_bytes(data, "big") << 4
    for low, high, shift in _STEPS:
        spread = (spread & low) | ((spread & high) << shift)
    groups = spread.to_bytes(_SLOTS, "big")[_SLOTS - _GROUPS:]
    return groups.translate(_LETTER_OF) + _PADDING
