import json
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger.encoding import (
    MAX_DEPTH,
    Tag,
    canonical_bytes,
    fast_canonical_bytes,
    hex_to_bytes,
    is_canonical,
    parse_canonical,
    parse_json,
    tagged_hash,
)
from ledger.errors import EncodingError

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "canonical.json").read_text())

# The restricted data model of docs/ledger-format.md §1.
bmp_text = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=12)
scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20)
values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(bmp_text, kids, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_canonical_vectors(vector: dict) -> None:
    assert canonical_bytes(vector["value"]).hex() == vector["canonical_hex"]
    assert (
        tagged_hash(Tag[vector["tag"]], canonical_bytes(vector["value"])).hex()
        == vector["tagged_sha256"]
    )


@given(values)
def test_fast_path_equals_rfc8785(value: object) -> None:
    expected = rfc8785.dumps(value)
    assert fast_canonical_bytes(value) == expected
    assert canonical_bytes(value) == expected
    assert parse_canonical(expected) == value


@pytest.mark.parametrize("bad", [1.5, {"a": 0.1}, 2**53, [-(2**53)], {1: "x"}, object()])
def test_values_outside_the_model_are_refused(bad: object) -> None:
    with pytest.raises(EncodingError):
        canonical_bytes(bad)


@pytest.mark.parametrize(
    "data",
    [b'{"b":1,"a":2}', b'{"a": 1}', b'{"a":1} ', b'"\\u0041"', b"[1,2,]", b"\xff", b'{"a":1.0}'],
)
def test_non_canonical_bytes_are_refused(data: bytes) -> None:
    assert not is_canonical(data)
    with pytest.raises(EncodingError):
        parse_canonical(data)


def test_tags_separate_domains() -> None:
    data = canonical_bytes({"a": 1})
    hashes = {tagged_hash(tag, data) for tag in Tag}
    assert len(hashes) == len(Tag)


@pytest.mark.parametrize(
    ("value", "location"),
    [
        ("\ud800", ""),
        ({"a": ["ok", "x\udfffy"]}, "/a/1"),
        ({"ok": 1, "\ud800": 1}, "/\\ud800"),
        ({"a/b~": {"\udc00": None}}, "/a~1b~0/\\udc00"),
    ],
)
def test_a_lone_surrogate_is_refused_by_every_encoder_with_its_location(
    value: object, location: str
) -> None:
    for encode in (canonical_bytes, fast_canonical_bytes):
        with pytest.raises(EncodingError) as caught:
            encode(value)
        assert caught.value.location == location, encode


def test_a_lone_surrogate_escape_is_refused_by_the_parser_but_a_pair_is_text() -> None:
    with pytest.raises(EncodingError) as caught:
        parse_json(b'{"k":["\\ud800"]}')
    assert caught.value.location == "/k/0"
    with pytest.raises(EncodingError) as caught:
        parse_json(b'{"\\uDBFF":1}')
    assert caught.value.location == "/\\udbff"
    assert parse_json(b'"\\ud83d\\ude00"') == "\U0001f600"  # a surrogate pair is one character
    assert parse_json(b'"\\\\ud800"') == "\\ud800"  # an escaped backslash, not a surrogate


def nested(depth: int, leaf: str = "leaf") -> object:
    value: object = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def test_nesting_up_to_the_limit_is_encoded_and_parsed_beyond_it_refused() -> None:
    at_limit = nested(MAX_DEPTH, leaf='[{\\"' * 100)  # brackets in a string do not nest
    data = canonical_bytes(at_limit)
    assert fast_canonical_bytes(at_limit) == data
    assert parse_json(data) == at_limit
    too_deep = nested(MAX_DEPTH + 1)
    for encode in (canonical_bytes, fast_canonical_bytes):
        with pytest.raises(EncodingError) as caught:
            encode(too_deep)
        assert f"more than {MAX_DEPTH} deep" in caught.value.detail
    wrapped = b"[" + data + b"]"
    with pytest.raises(EncodingError) as caught:
        parse_json(wrapped)
    first_too_deep = [i for i, c in enumerate(wrapped) if c in b"[{"][MAX_DEPTH]
    assert caught.value.location == f"line 1, column {first_too_deep + 1}"


@pytest.mark.parametrize("depth", [1_000, 200_000])
def test_deep_nesting_is_an_encoding_error_not_a_recursion_error(depth: int) -> None:
    with pytest.raises(EncodingError):
        parse_json(b"[" * depth + b"]" * depth)
    with pytest.raises(EncodingError):
        parse_json(b'{"a":' * depth + b"1" + b"}" * depth)
    with pytest.raises(EncodingError):
        fast_canonical_bytes(nested(depth))


@pytest.mark.parametrize("text", ["ab" * 31 + "\n\n", "\t" + "ab" * 31 + "\n", "ab " * 21 + " "])
def test_hex_is_exactly_lowercase_digits_without_whitespace(text: str) -> None:
    assert len(text) == 64  # and bytes.fromhex, which skips whitespace, reads fewer than 32 bytes
    with pytest.raises(EncodingError):
        hex_to_bytes(text, 32)
