import json
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger.encoding import (
    MAX_DEPTH,
    Tag,
    b64decode,
    canonical_bytes,
    fast_canonical_bytes,
    hex_to_bytes,
    is_canonical,
    parse_canonical,
    parse_json,
    sha256_hex,
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
    assert fast_canonical_bytes(value, parsed=True) == expected  # the prebuilt C encoder
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
    for encode in (
        canonical_bytes,
        fast_canonical_bytes,
        lambda v: fast_canonical_bytes(v, parsed=True),
    ):
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


def _path_of(depth: int) -> str:
    """The JSON pointer of the innermost container of ``nested(depth)``, from the outside in."""
    return "".join("/0" if i % 2 else "/k" for i in reversed(range(1, depth)))


@pytest.mark.parametrize(
    ("value", "detail", "location"),
    [
        (["ok", "\ud800"], "a string holds a lone surrogate (not Unicode text)", "/1"),
        ({"ok": {"\udfff": 1}}, "a key holds a lone surrogate (not Unicode text)", "/ok/\\udfff"),
        ({"n": [2**53]}, "integer 9007199254740992 is outside the safe range", "/n/0"),
        ({"n": -(2**53)}, "integer -9007199254740992 is outside the safe range", "/n"),
        (
            {"a": [1.5]},
            "floating-point numbers are not part of the canonical data model; "
            "write amounts as decimal strings",
            "/a/0",
        ),
        ({"a": {2}}, "set cannot be encoded", "/a"),
        ([{1: "x"}], "object key 1 is not a string", "/0"),
        (nested(MAX_DEPTH + 1), f"values nest more than {MAX_DEPTH} deep", _path_of(MAX_DEPTH + 1)),
    ],
)
def test_canonical_bytes_says_what_it_refuses_and_where(
    value: object, detail: str, location: str
) -> None:
    with pytest.raises(EncodingError) as caught:
        canonical_bytes(value)
    assert (caught.value.detail, caught.value.location) == (detail, location)


def test_canonical_bytes_are_canonical_and_hash_as_sha256() -> None:
    data = canonical_bytes({"b": [1, "x"], "a": None})
    assert data == b'{"a":null,"b":[1,"x"]}'
    assert is_canonical(data)
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_a_value_beyond_the_bmp_does_not_hide_a_key_beyond_it() -> None:
    # The last U+1F600 is in a value, the first in a key that UTF-16 sorts before U+E000: the
    # scan for keys beyond the BMP must start at the first one, not the last.
    value = {"\ue000": 1, "\U0001f600": "\U0001f600"}
    assert fast_canonical_bytes(value) == rfc8785.dumps(value)
    assert fast_canonical_bytes(value) == '{"\U0001f600":"\U0001f600","\ue000":1}'.encode()
    assert fast_canonical_bytes(value, parsed=True) == rfc8785.dumps(value)


@pytest.mark.parametrize("text", ["YW*Jj", "YWJj\n", "YWJ", "YW Jj", "YWI=YWI="])
def test_base64_is_strict_and_says_what_it_refuses(text: str) -> None:
    assert b64decode("YWJj") == b"abc"
    with pytest.raises(EncodingError) as caught:
        b64decode(text)
    assert caught.value.detail == "value is not valid base64"
    with pytest.raises(EncodingError) as caught:
        b64decode(text, "the signature")
    assert caught.value.detail == "the signature is not valid base64"


def test_hex_refusals_say_how_many_digits() -> None:
    assert hex_to_bytes("00ff10", 3) == b"\x00\xff\x10"
    with pytest.raises(EncodingError) as caught:
        hex_to_bytes("00FF10", 3)
    assert caught.value.detail == "value must be 6 lowercase hex digits"
    with pytest.raises(EncodingError) as caught:
        hex_to_bytes("00ff1", 3, "the root")
    assert caught.value.detail == "the root must be 6 lowercase hex digits"


def test_fast_canonical_bytes_locates_a_too_deep_value_as_canonical_bytes_does() -> None:
    with pytest.raises(EncodingError) as caught:
        fast_canonical_bytes(nested(MAX_DEPTH + 1))
    assert caught.value.location == _path_of(MAX_DEPTH + 1)


def test_every_key_beyond_the_bmp_is_looked_at_not_only_the_last() -> None:
    # U+1F600 in a value, then in a key, then in that key's value: the scan must not jump from
    # the first to the last occurrence and miss the key in between.
    value = {"a": "\U0001f600", "\ue000": 1, "\U0001f601": "\U0001f600"}
    assert fast_canonical_bytes(value) == rfc8785.dumps(value)


def test_many_brackets_side_by_side_are_not_deep() -> None:
    wide = [[], {}] * MAX_DEPTH
    data = canonical_bytes(wide)
    assert data.count(b"[") + data.count(b"{") > MAX_DEPTH
    assert parse_json(data) == wide
    assert parse_canonical(data) == wide
    assert fast_canonical_bytes(wide) == data


@pytest.mark.parametrize(
    "data",
    [
        b"\n" + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        b'\n{"a":\n  ' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"\n}\n\n",
    ],
)
def test_parse_json_locates_a_too_deep_bracket_by_line_and_column(data: bytes) -> None:
    offset = [i for i, c in enumerate(data) if c in b"[{"][MAX_DEPTH]
    before = data[:offset].decode()
    line, column = before.count("\n") + 1, len(before.split("\n")[-1]) + 1
    with pytest.raises(EncodingError) as caught:
        parse_json(data)
    assert caught.value.detail == f"object: values nest more than {MAX_DEPTH} deep"
    assert caught.value.location == f"line {line}, column {column}"


def test_parse_json_and_parse_canonical_say_what_they_refuse() -> None:
    def detail(parse: object, *args: object) -> str:
        with pytest.raises(EncodingError) as caught:
            parse(*args)  # type: ignore[operator]
        return caught.value.detail

    assert detail(parse_json, b"[9007199254740992]") == (
        "object: integer 9007199254740992 is outside the safe range"
    )
    assert detail(parse_json, b"[1.5]", "the entry") == (
        "the entry: the number 1.5 is not an integer; the canonical model has no floats"
    )
    assert detail(parse_json, b"[1,]").startswith("object is not valid JSON: ")
    assert detail(parse_canonical, b"[1.5]", "the entry").startswith("the entry: the number")
    assert detail(parse_canonical, b"[1,]", "the entry").startswith("the entry is not valid JSON")
    assert detail(parse_canonical, b"[1, 2]") == (
        "object is not in the canonical encoding (RFC 8785)"
    )
    assert detail(parse_canonical, b'{"b":1,"a":2}', "the entry") == (
        "the entry is not in the canonical encoding (RFC 8785)"
    )


def test_a_closed_list_before_a_deep_one_does_not_hide_its_depth() -> None:
    # [[[], [[...63 deep...]]]]: the deep list starts at depth 2, after a list of depth 3 closed.
    deep = b"[[[]," + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"]]"
    with pytest.raises(EncodingError) as caught:
        parse_json(deep)
    assert caught.value.detail == f"object: values nest more than {MAX_DEPTH} deep"
    assert parse_json(deep[1:-1]) is not None  # one level less is within the limit


@pytest.mark.parametrize("text", ["YWJj=", "YWJj==", "YWI=a"])
def test_base64_with_padding_after_a_complete_group_is_refused(text: str) -> None:
    # binascii's strict_mode takes "YWJj=" as "abc": one value, two spellings
    with pytest.raises(EncodingError, match=r"^value is not (canonical|valid) base64$"):
        b64decode(text, "value")
