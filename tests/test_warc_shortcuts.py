"""The WARC writer's shortcuts against the library ways they replace, over many inputs.

Each shortcut computes what a standard-library or warcio function computes, with less
Python on the way; these tests hold each to the original, byte for byte.
"""
from __future__ import annotations

import base64
import hashlib
import random

import pytest

from archiver.warc.base32 import b32encode


def _digests(rng: random.Random, count: int) -> list[bytes]:
    edges = [bytes(32), b"\xff" * 32] + [(1 << bit).to_bytes(32, "big") for bit in range(256)]
    return edges + [rng.randbytes(32) for _ in range(count)] + \
        [hashlib.sha256(str(n).encode()).digest() for n in range(count)]


def test_base32_of_a_digest_is_the_one_base64_writes():
    rng = random.Random(32)
    for digest in _digests(rng, 50_000):
        assert b32encode(digest) == base64.b32encode(digest), digest.hex()


@pytest.mark.parametrize("size", [0, 1, 5, 20, 31, 33, 64])
def test_base32_of_other_lengths_is_left_to_base64(size):
    rng = random.Random(size)
    for _ in range(200):
        data = rng.randbytes(size)
        assert b32encode(data) == base64.b32encode(data)
