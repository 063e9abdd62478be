"""JSON from outside the hub, parsed only once its nesting is known to be shallow.

`json.loads` recurses once per `[` or `{`: a body of 100,000 brackets ends in RecursionError,
which no `except ValueError` catches. `loads` first measures the nesting with a linear scan
(no recursion, early exit) and refuses anything deeper than `MAX_DEPTH` with `TooDeep`.
Pure and I/O-free.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

# Our deepest legitimate document (a signaling offer's tracks, a bridge room's members) is 3
# levels deep; 32 leaves room for any future shape and is far from the ~1000 of the stack.
MAX_DEPTH = 32

# The scan reads UTF-8 bytes: no byte of a multi-byte character is ASCII, so no bracket or
# quote hides in one, and deleting every other byte is one C call.
# A complete string, escapes included (possessive, so a long string cannot backtrack).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_OTHER_BYTES = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_STEP = tuple({ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}.get(b, 0) for b in range(256))
_CHUNK = 1 << 16


class TooDeep(ValueError):
    """JSON nested deeper than allowed; refused before it was parsed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON is nested deeper than {limit} levels")
        self.limit = limit


def utf8(data: str | bytes) -> bytes:
    """`data` as UTF-8, decoding bytes as json.loads does (UTF-8, -16 or -32)."""
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    encoding = json.detect_encoding(data)
    return data if encoding == "utf-8" else data.decode(encoding).encode("utf-8")


def nesting_depth(raw: bytes, stop_above: int | None = None) -> int:
    """How deep the UTF-8 JSON `raw` nests (a scalar is 0, `[]` is 1, `[{}]` is 2).

    Exact for valid JSON; for invalid JSON, exact up to where a JSON decoder stops. With
    `stop_above`, returns a depth past it as soon as it sees one (a bomb is not read
    through). Linear, in C but for one step per bracket: a 1 MB body of `[],` takes about
    twice as long as json.loads (a Python loop per token took six times as long).
    """
    brackets = _STRING.sub(b"", raw).translate(None, _OTHER_BYTES)
    # A quote left opens a string that never closes: the decoder stops there.
    brackets = brackets.partition(b'"')[0]
    depth = deepest = 0
    for start in range(0, len(brackets), _CHUNK):
        chunk = brackets[start : start + _CHUNK]
        deepest = max(deepest, max(accumulate(map(_STEP.__getitem__, chunk), initial=depth)))
        if stop_above is not None and deepest > stop_above:
            break
        depth += chunk.count(b"[") + chunk.count(b"{") - chunk.count(b"]") - chunk.count(b"}")
    return deepest


def check_depth(raw: bytes, limit: int = MAX_DEPTH) -> None:
    """Raise `TooDeep` when the UTF-8 JSON `raw` nests deeper than `limit`."""
    # Fewer opening brackets than the limit cannot nest past it: most bodies stop here.
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return
    if nesting_depth(raw, stop_above=limit) > limit:
        raise TooDeep(limit)


def loads(data: str | bytes, max_depth: int = MAX_DEPTH) -> object:
    """`json.loads` for untrusted input: `TooDeep` past `max_depth`, else as `json.loads`
    (ValueError for invalid JSON, including bytes that are not UTF-8, -16 or -32)."""
    raw = utf8(data)
    check_depth(raw, max_depth)
    return json.loads(raw)
