"""Entries built by build_entry are exactly what parse_entry reads back from their bytes."""

from __future__ import annotations

import hashlib

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.encoding import parse_json
from ledger.entries import build_entry, parse_entry
from ledger.errors import EncodingError
from ledger.keys import SigningKey
from ledger.timefmt import parse_time
from tests.chainbuilder import signed_envelope

KEYS = [SigningKey.generate() for _ in range(3)]

subjects = st.none() | st.text(min_size=1, max_size=40).filter(
    lambda s: all(not 0xD800 <= ord(c) <= 0xDFFF for c in s)
)
refs = st.lists(
    st.binary(min_size=8, max_size=8).map(lambda b: hashlib.sha256(b).hexdigest()),
    max_size=3,
    unique=True,
)


@settings(max_examples=60, deadline=None)
@given(
    payload=st.binary(max_size=200),
    subject=subjects,
    refs=refs,
    cosigners=st.integers(min_value=0, max_value=2),
)
def test_a_built_entry_equals_the_entry_parsed_from_its_bytes(
    payload: bytes, subject: str | None, refs: list[str], cosigners: int
) -> None:
    built = build_entry(
        "co.issued",
        "jp-jcci",
        KEYS[0],
        payload,
        "application/json",
        consortium_id="tradeledger-dev",
        subject=subject,
        refs=refs,
        cosigners=KEYS[1 : 1 + cosigners],
    )
    parsed = parse_entry(built.envelope, payload)
    assert built == parsed
    assert built.entry_hash == parsed.entry_hash
    assert built.signatures == parsed.signatures
    assert len(built.signatures) == 1 + cosigners
    # the signed bytes are RFC 8785, whatever the subject holds (quotes, controls, non-ASCII)
    assert built.signed_bytes == rfc8785.dumps(parse_json(built.signed_bytes))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"entry_type": "Not A Type"},
        {"author": ""},
        {"subject": ""},
        {"subject": 7},
        {"subject": "\ud800"},
        {"refs": ["nothex"]},
        {"content_type": 1.5},
        {"consortium_id": "Not An Id"},
        {"consortium_id": "tradeledger-dev\n"},
        {"nonce": "00" * 16 + "\n"},
    ],
)
def test_a_bad_field_is_refused_when_building_as_when_parsing(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "entry_type": "co.issued",
        "author": "jp-jcci",
        "signing_key": KEYS[0],
        "payload": b"{}",
        "content_type": "application/json",
        "consortium_id": "tradeledger-dev",
        **kwargs,
    }
    with pytest.raises(EncodingError):
        build_entry(**args)  # type: ignore[arg-type]


def test_the_consortium_id_is_required_and_signed() -> None:
    with pytest.raises(TypeError):
        build_entry("co.issued", "jp-jcci", KEYS[0], b"{}", "application/json")  # type: ignore[call-arg]
    entry = build_entry(
        "co.issued", "jp-jcci", KEYS[0], b"{}", "application/json", consortium_id="c-one"
    )
    assert entry.consortium_id == "c-one"
    assert b'"consortium_id":"c-one"' in entry.signed_bytes
    other = build_entry(
        "co.issued",
        "jp-jcci",
        KEYS[0],
        b"{}",
        "application/json",
        consortium_id="c-two",
        timestamp=parse_time(entry.timestamp),
        nonce=entry.nonce,
    )
    assert other.signed_bytes == entry.signed_bytes.replace(b"c-one", b"c-two")


def test_an_entry_without_a_consortium_id_is_refused() -> None:
    entry = build_entry(
        "co.issued", "jp-jcci", KEYS[0], b"{}", "application/json", consortium_id="c-one"
    )
    signed = entry.signed_dict()
    del signed["consortium_id"]
    with pytest.raises(EncodingError) as caught:
        parse_entry(signed_envelope(signed, KEYS[0]))
    assert caught.value.location == "/signed" and "missing consortium_id" in caught.value.detail


@pytest.mark.parametrize(
    ("field", "location"),
    [
        ("consortium_id", "/signed/consortium_id"),
        ("type", "/signed/type"),
        ("nonce", "/signed/nonce"),
        ("refs", "/signed/refs"),
        ("content_type", "/signed/payload"),
        ("digest", "/signed/payload"),
    ],
)
def test_a_field_with_a_trailing_newline_is_refused(field: str, location: str) -> None:
    entry = build_entry(
        "co.issued",
        "jp-jcci",
        KEYS[0],
        b"{}",
        "application/json",
        consortium_id="c-one",
        refs=["ab" * 32],
    )
    signed = entry.signed_dict()
    if field == "refs":
        signed["refs"] = ["ab" * 32 + "\n"]
    elif field in ("content_type", "digest"):
        signed["payload"][field] += "\n"
    else:
        signed[field] += "\n"
    with pytest.raises(EncodingError) as caught:
        parse_entry(signed_envelope(signed, KEYS[0]))
    assert caught.value.location == location
