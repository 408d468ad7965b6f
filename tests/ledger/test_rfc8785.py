"""Every encoder and the canonical-form checker against ``rfc8785``, the reference, over all of
Unicode: keys and strings beyond the Basic Multilingual Plane, and lone surrogates, which the
reference refuses and tradeledger must refuse too, saying where (docs/ledger-format.md §1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given
from hypothesis import strategies as st

from ledger.encoding import canonical_bytes, fast_canonical_bytes, parse_canonical, parse_json
from ledger.errors import EncodingError

# Where code-point order and UTF-16 code-unit order part (the top of the BMP against characters
# beyond it, whose UTF-16 form starts with a surrogate D800-DBFF), and the characters RFC 8785
# §3.2.2.2 escapes or leaves alone; drawn often so that the rare orderings come up every run.
EDGE_CHARACTERS = st.sampled_from(
    [
        "\x00", "\x1f", '"', "\\", "/", "\x7f", "\x80", "é", "\u2028", "日",
        "\ud7ff", "\ue000", "\uf8ff", "\ufb33", "\uffff",
        "\U00010000", "\U0001f600", "\U00020bb7", "\U0010ffff", "a", "~",
    ]
)  # fmt: skip
unicode_text = st.text(st.characters(codec="utf-8") | EDGE_CHARACTERS, max_size=8)
# Short keys of a few characters either side of the parting make two keys of one object meet
# there often: U+E000-U+FFFF against characters beyond U+FFFF.
# Beyond U+FFFF: one per UTF-8 lead byte, F0 to F4.
ORDER_CHARACTERS = st.sampled_from(
    ["a", "\ue000", "\uffff", "\U00010000", "\U0001f600", "\U00040000", "\U000e0001", "\U0010ffff"]
)
unicode_keys = st.text(ORDER_CHARACTERS, min_size=1, max_size=2) | unicode_text
lone_surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
text_with_a_lone_surrogate = st.builds(
    lambda before, surrogate, after: before + surrogate + after,
    unicode_text,
    lone_surrogate,
    unicode_text,
)
safe_integers = st.integers(-(2**53) + 1, 2**53 - 1)


def json_values(
    keys: st.SearchStrategy[str], strings: st.SearchStrategy[str]
) -> st.SearchStrategy[Any]:
    """JSON values of the canonical model with keys and strings drawn from those given."""
    scalars = st.none() | st.booleans() | safe_integers | strings
    return st.recursive(
        scalars,
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(keys, kids, max_size=5),
        max_leaves=24,
    )


model_values = json_values(unicode_keys, unicode_text)
# Mostly Unicode text, now and then a lone surrogate in a key or a string, anywhere.
maybe_surrogate_keys = unicode_keys | unicode_keys | unicode_keys | text_with_a_lone_surrogate
maybe_surrogate_text = unicode_text | unicode_text | unicode_text | text_with_a_lone_surrogate


def _pointer_token(key: str) -> str:
    """RFC 6901 token of ``key``, a lone surrogate written as ``\\udXXX`` (ledger-format.md §1)."""
    token = key.replace("~", "~0").replace("/", "~1")
    return "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF else c for c in token)


def _has_lone_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _points_at_a_lone_surrogate(value: Any, location: str | None) -> bool:
    """Whether the JSON pointer ``location`` names a string, or ends in a key, holding one."""
    assert location is not None
    last_key = None
    for token in location.split("/")[1:] if location else []:
        if isinstance(value, list):
            value = value[int(token)]
            last_key = None
        else:
            (last_key,) = [k for k in value if _pointer_token(k) == token]
            value = value[last_key]
    return (last_key is not None and _has_lone_surrogate(last_key)) or (
        isinstance(value, str) and _has_lone_surrogate(value)
    )


@given(json_values(maybe_surrogate_keys, maybe_surrogate_text))
@example({"\ue000": 1, "\U0001f600": 2})
@example({"a": [{"\uffff": None, "\U00010000": True}]})
@example({"ok": "x", "k": ["\U0001f600\udc00"]})
@example([{"\uefff": 0, "\U00040000": 1, "\U000e0001": 2, "\U0010ffff": 3, "\U000c0000": 4}])
def test_every_encoder_and_the_checker_are_rfc8785_over_all_of_unicode(value: Any) -> None:
    try:
        expected = rfc8785.dumps(value)
    except ValueError:  # the reference refuses a lone surrogate; so must every encoder, located
        for encode in (canonical_bytes, fast_canonical_bytes):
            with pytest.raises(EncodingError) as caught:
                encode(value)
            assert _points_at_a_lone_surrogate(value, caught.value.location), encode
        # As JSON text (escapes in insertion order) the parser finds the same one.
        with pytest.raises(EncodingError) as parsed:
            parse_json(json.dumps(value).encode())
        assert parsed.value.location == caught.value.location
        return
    assert fast_canonical_bytes(value) == expected
    assert canonical_bytes(value) == expected
    assert parse_canonical(expected) == value


def _member(key: str, value: Any) -> bytes:
    return bytes(rfc8785.dumps(key)) + b":" + bytes(rfc8785.dumps(value))


@given(st.dictionaries(unicode_keys, model_values, min_size=2, max_size=6))
@example({"\ue000": 1, "\U0001f600": 2})
def test_parse_canonical_refuses_the_members_in_any_other_order(obj: dict[str, Any]) -> None:
    canonical = bytes(rfc8785.dumps(obj))
    assert parse_canonical(canonical) == obj
    # Python's sort_keys order, by code point, is RFC 8785's only for keys within the BMP.
    by_code_point = b"{" + b",".join(_member(k, obj[k]) for k in sorted(obj)) + b"}"
    reversed_order = b"{" + b",".join(_member(k, obj[k]) for k in sorted(obj)[::-1]) + b"}"
    for variant in (by_code_point, reversed_order):
        if variant != canonical:
            with pytest.raises(EncodingError):
                parse_canonical(variant)


def test_a_key_beyond_the_bmp_sorts_by_its_leading_surrogate() -> None:
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+E000 (RFC 8785 §3.2.3), although its
    # code point (and its UTF-8 bytes) come after.
    value = {"\ue000": "private use", "\U0001f600": "smiley", "a": 1}
    canonical = '{"a":1,"\U0001f600":"smiley","\ue000":"private use"}'.encode()
    assert fast_canonical_bytes(value) == canonical
    assert canonical_bytes(value) == canonical
    assert parse_canonical(canonical) == value
    by_code_point = '{"a":1,"\ue000":"private use","\U0001f600":"smiley"}'.encode()
    with pytest.raises(EncodingError):
        parse_canonical(by_code_point)


def test_a_key_that_is_not_a_string_is_refused_where_keys_are_re_sorted() -> None:
    # json.dumps writes the integer key 1 as "1"; re-sorting must not crash on it either, but
    # refuse it as canonical_bytes does, at the object's pointer.
    value = {"\U0001f600": 0, "\uffff": {1: 0}}
    for encode in (canonical_bytes, fast_canonical_bytes):
        with pytest.raises(EncodingError, match="not a string") as caught:
            encode(value)
        assert caught.value.location == "/\uffff"
