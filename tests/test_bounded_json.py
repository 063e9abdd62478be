"""The depth scan that guards every json parse of outside input: exact on JSON, never fooled
into letting a bomb reach the recursive decoder."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.bounded_json import MAX_DEPTH, TooDeep, check_depth, loads, nesting_depth, utf8

# Strings full of what the scan must not count: brackets, quotes, backslashes, non-ASCII.
tricky_text = st.text(alphabet=st.sampled_from('[]{}"\\:, aé€\U0001f600\n\t\u2200'), max_size=12)
scalars = st.none() | st.booleans() | st.integers() | tricky_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=30,
)


def depth_of(value: object) -> int:
    """The oracle: nesting of the decoded value, by recursion on a small value."""
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


def encodings(value: object) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            json.dumps(value),
            json.dumps(value, ensure_ascii=False),
            json.dumps(value, indent=2, ensure_ascii=False),
            json.dumps(value, separators=(",", ":")),
        ]
    )


@given(json_values.flatmap(lambda v: st.tuples(st.just(v), encodings(v))))
def test_depth_is_exact_on_json(case: tuple[object, str]) -> None:
    value, text = case
    assert nesting_depth(utf8(text)) == depth_of(value)


@given(json_values, st.integers(0, 2 * MAX_DEPTH), st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_loads_accepts_up_to_the_limit_and_refuses_past_it(
    value: object, wrap: int, encoding: str
) -> None:
    wrapped = "[" * wrap + json.dumps(value, ensure_ascii=False) + "]" * wrap
    data = wrapped.encode(encoding)
    if depth_of(value) + wrap <= MAX_DEPTH:
        assert loads(data) == json.loads(data)
    else:
        with pytest.raises(TooDeep, match=f"^JSON is nested deeper than {MAX_DEPTH} levels$"):
            loads(data)


# Junk made of the characters that steer the scan, with a bomb somewhere inside: whatever
# the scan concludes, the decoder must never get to recurse past the limit.
junk = st.text(alphabet=st.sampled_from('[]{}"\\,:0a \u2200'), max_size=40)


@given(junk, junk, st.sampled_from(["[", "{", '{"a":', "[{}, "]))
def test_no_bomb_reaches_the_decoder(before: str, after: str, opener: str) -> None:
    text = before + opener * 5000 + after
    try:
        value = loads(text)
    except TooDeep:
        return
    except ValueError:  # invalid JSON, refused by the decoder without recursing deep
        return
    assert depth_of(value) <= MAX_DEPTH


def test_a_hundred_thousand_brackets_are_refused_without_recursion() -> None:
    with pytest.raises(TooDeep):
        loads("[" * 100_000)
    with pytest.raises(TooDeep):
        loads(b'{"a":' * 100_000)
    # It stops reading past the limit (within one chunk), rather than measuring the bomb.
    assert MAX_DEPTH < nesting_depth(b"[" * 100_000, stop_above=MAX_DEPTH) < 100_000


def test_brackets_in_strings_and_escaped_quotes_do_not_count() -> None:
    text = json.dumps(["[" * 100, '\\"[[[', {"k[[[": "]]]{{{"}])
    assert nesting_depth(utf8(text)) == 2
    check_depth(utf8(text))


def test_an_unterminated_string_ends_the_scan() -> None:
    # The decoder stops at the unterminated string too, before any of these brackets.
    assert nesting_depth(b'["' + b"[" * 100) == 1
    with pytest.raises(ValueError, match="Unterminated string"):
        loads(b'["' + b"[" * 100)


def test_invalid_json_stays_a_plain_value_error() -> None:
    for text in ("{not json", "", "\xff", "[1,]"):
        with pytest.raises(ValueError) as raised:
            loads(text)
        assert not isinstance(raised.value, TooDeep)
    with pytest.raises(UnicodeDecodeError):
        loads(b"[\xff]")
