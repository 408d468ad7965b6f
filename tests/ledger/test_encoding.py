import json
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger.encoding import (
    Tag,
    canonical_bytes,
    fast_canonical_bytes,
    hex_to_bytes,
    is_canonical,
    parse_canonical,
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


@pytest.mark.parametrize("text", ["ab" * 31 + "\n\n", "\t" + "ab" * 31 + "\n", "ab " * 21 + " "])
def test_hex_is_exactly_lowercase_digits_without_whitespace(text: str) -> None:
    assert len(text) == 64  # and bytes.fromhex, which skips whitespace, reads fewer than 32 bytes
    with pytest.raises(EncodingError):
        hex_to_bytes(text, 32)
