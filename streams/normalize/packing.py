"""Packed words: how fingerprints carry lists of 32-bit word hashes in JSON.

Packed = base64 (standard alphabet, "=" padding) of the words as little-endian uint32: 5.3 characters
a word where a JSON list of numbers takes ~11, and one string to store and compare.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np


def pack_words(words: Any) -> str:
    """The packed text of 32-bit words (any sequence of ints in 0 .. 2**32 - 1)."""
    return base64.b64encode(np.asarray(words, dtype="<u4").tobytes()).decode("ascii")


def unpack_words(packed: str) -> np.ndarray:
    """The uint32 words of a packed string. As lenient as binascii: it ignores characters outside
    the alphabet and raises binascii.Error (a ValueError) for what it cannot decode."""
    return np.frombuffer(binascii.a2b_base64(packed), dtype="<u4")
