"""Entries built by build_entry are exactly what parse_entry reads back from their bytes."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import pickle

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.encoding import parse_json
from ledger.entries import add_signatures, build_entry, parse_entry
from ledger.errors import EncodingError, EntryRejected
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


# -- every refusal of parse_entry, by its class, sentence and location -----------------------

BASE = build_entry(
    "co.issued",
    "jp-jcci",
    KEYS[0],
    b"{}",
    "application/json",
    consortium_id="c-one",
    subject="jp-jcci/CO-1",
    refs=["ab" * 32],
    timestamp=parse_time("2026-11-01T09:00:00.000000Z"),
    nonce="0f" * 16,
)
SIGNED_SHAPE = "the entry's signed object: "
PAYLOAD = "/signed/payload"
REFS = "refs must be at most 64 distinct entry hashes"


def _with(path: str, value: object) -> dict[str, object]:
    """BASE's signed object with the field at ``path`` ("payload/size") set, or deleted."""
    signed = BASE.signed_dict()
    *parents, last = path.split("/")
    target = signed
    for p in parents:
        target = target[p]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return signed


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "detail", "location"),
    [
        ("consortium_id", DELETE, SIGNED_SHAPE + "missing consortium_id", "/signed"),
        ("zz", 1, SIGNED_SHAPE + "unexpected zz", "/signed"),
        ("v", 2, "unsupported entry version", "/signed/v"),
        ("consortium_id", 7, "consortium_id must be a consortium id", "/signed/consortium_id"),
        ("consortium_id", "c", "consortium_id must be a consortium id", "/signed/consortium_id"),
        (
            "consortium_id",
            "c" * 64,
            "consortium_id must be a consortium id",
            "/signed/consortium_id",
        ),
        ("type", 7, "entry type must look like 'co.issued'", "/signed/type"),
        ("type", "co", "entry type must look like 'co.issued'", "/signed/type"),
        ("author", 7, "author must be an organisation id", "/signed/author"),
        ("author", "", "author must be an organisation id", "/signed/author"),
        ("key_id", 7, "key_id must be 16 hex digits", "/signed/key_id"),
        ("key_id", "0" * 15, "key_id must be 16 hex digits", "/signed/key_id"),
        ("nonce", 7, "nonce must be 32 hex digits", "/signed/nonce"),
        ("nonce", "0" * 31, "nonce must be 32 hex digits", "/signed/nonce"),
        ("subject", "", "subject must be a document id or null", "/signed/subject"),
        ("subject", 7, "subject must be a document id or null", "/signed/subject"),
        ("subject", "s" * 201, "subject must be a document id or null", "/signed/subject"),
        ("refs", "ab" * 32, REFS, "/signed/refs"),
        ("refs", [7], REFS, "/signed/refs"),
        ("refs", ["ab" * 32, "ab" * 32], REFS, "/signed/refs"),
        ("refs", [f"{i:064x}" for i in range(65)], REFS, "/signed/refs"),
        ("payload", "x", "payload must have content_type, digest and size", PAYLOAD),
        ("payload/size", DELETE, "payload must have content_type, digest and size", PAYLOAD),
        ("payload/extra", 1, "payload must have content_type, digest and size", PAYLOAD),
        ("payload/content_type", 7, "payload content_type is not a media type", PAYLOAD),
        ("payload/content_type", "json", "payload content_type is not a media type", PAYLOAD),
        ("payload/digest", 7, "payload digest must be SHA-256 hex", PAYLOAD),
        ("payload/digest", "0" * 63, "payload digest must be SHA-256 hex", PAYLOAD),
        ("payload/size", "2", "payload size is out of range", PAYLOAD),
        ("payload/size", True, "payload size is out of range", PAYLOAD),
        ("payload/size", -1, "payload size is out of range", PAYLOAD),
        ("payload/size", 4 * 1024 * 1024 + 1, "payload size is out of range", PAYLOAD),
    ],
)
def test_parse_entry_says_which_field_is_wrong_and_why(
    path: str, value: object, detail: str, location: str
) -> None:
    with pytest.raises(EncodingError) as caught:
        parse_entry(signed_envelope(_with(path, value), KEYS[0]))
    assert (caught.value.detail, caught.value.location) == (detail, location)


def test_missing_and_unexpected_fields_are_all_named_sorted() -> None:
    signed = _with("nonce", DELETE)
    del signed["author"]
    with pytest.raises(EncodingError) as caught:
        parse_entry(signed_envelope(signed, KEYS[0]))
    assert caught.value.detail == SIGNED_SHAPE + "missing author, nonce"
    signed = _with("zz", 1)
    signed["aa"] = 2
    with pytest.raises(EncodingError) as caught:
        parse_entry(signed_envelope(signed, KEYS[0]))
    assert caught.value.detail == SIGNED_SHAPE + "unexpected aa, zz"


def test_a_timestamp_that_is_not_the_ledger_time_format_is_refused() -> None:
    with pytest.raises(EncodingError) as caught:
        parse_entry(signed_envelope(_with("timestamp", "2026-11-01T09:00:00Z"), KEYS[0]))
    assert caught.value.detail == "timestamp must look like 2026-11-22T10:00:00.000000Z"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("consortium_id", "c" * 63),
        ("type", "customs.import_declaration"),
        ("subject", None),
        ("subject", "s" * 200),
        ("refs", []),
        ("refs", [f"{i:064x}" for i in range(64)]),
        ("payload/content_type", "application/xml; charset=utf-8"),
        ("payload/size", 0),
        ("payload/size", 4 * 1024 * 1024),
    ],
)
def test_parse_entry_accepts_fields_at_their_limits(path: str, value: object) -> None:
    signed = _with(path, value)
    entry = parse_entry(signed_envelope(signed, KEYS[0]))
    assert entry.signed_dict() == signed
    assert entry.payload is None


def test_a_payload_that_does_not_match_the_digest_or_size_is_rejected() -> None:
    assert parse_entry(BASE.envelope, b"{}").payload == b"{}"
    for wrong in (b"{} ", b"[]"):  # wrong size; right size, wrong digest
        with pytest.raises(EntryRejected) as caught:
            parse_entry(BASE.envelope, wrong)
        assert (
            caught.value.detail == "the payload does not match the entry's payload digest and size"
        )


def test_an_entry_not_signed_by_its_own_key_id_is_rejected() -> None:
    signed = _with("key_id", KEYS[1].key_id)
    with pytest.raises(EntryRejected) as caught:
        parse_entry(signed_envelope(signed, KEYS[0]))
    assert caught.value.detail == "the entry carries no signature by its own key_id"


def _envelope_with_signatures(signatures: object) -> bytes:
    """BASE's envelope with its signature list replaced (canonical JSON otherwise)."""
    return json.dumps(
        {"signatures": signatures, "signed": BASE.signed_dict()},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


SIG = base64.b64encode(BASE.signatures[0][1]).decode()
KID = BASE.key_id


@pytest.mark.parametrize(
    ("signatures", "detail", "location"),
    [
        ([], "an entry needs at least one signature", "/signatures"),
        (["x"], "a signature is {key_id, sig}", "/signatures/0"),
        ([{"key_id": KID}], "a signature is {key_id, sig}", "/signatures/0"),
        ([{"key_id": KID, "sig": SIG, "x": 1}], "a signature is {key_id, sig}", "/signatures/0"),
        ([{"key_id": 7, "sig": SIG}], "a signature is {key_id, sig}", "/signatures/0"),
        ([{"key_id": KID[:-1], "sig": SIG}], "a signature is {key_id, sig}", "/signatures/0"),
        ([{"key_id": KID, "sig": 7}], "a signature is {key_id, sig}", "/signatures/0"),
        (
            [{"key_id": KID, "sig": SIG}, {"key_id": "f" * 16, "sig": 7}],
            "a signature is {key_id, sig}",
            "/signatures/1",
        ),
        ([{"key_id": KID, "sig": "AA=A"}], "a signature is not valid base64", "/signatures/0"),
        (
            [{"key_id": KID, "sig": base64.b64encode(b"x" * 63).decode()}],
            "an Ed25519 signature is 64 bytes",
            "/signatures/0",
        ),
        (
            [{"key_id": "f" * 16, "sig": SIG}, {"key_id": "0" * 16, "sig": SIG}],
            "signatures must be sorted by key_id with no key twice",
            "/signatures",
        ),
        (
            [{"key_id": KID, "sig": SIG}, {"key_id": KID, "sig": SIG}],
            "signatures must be sorted by key_id with no key twice",
            "/signatures",
        ),
    ],
)
def test_parse_entry_says_which_signature_is_wrong(
    signatures: object, detail: str, location: str | None
) -> None:
    with pytest.raises(EncodingError) as caught:
        parse_entry(_envelope_with_signatures(signatures))
    assert (caught.value.detail, caught.value.location) == (detail, location)


def test_a_non_canonical_base64_signature_is_located() -> None:
    # the same 64 bytes with other unused trailing bits: valid base64, not the canonical one
    bits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = SIG[:-3] + bits[bits.index(SIG[-3]) ^ 1] + "=="
    with pytest.raises(EncodingError) as caught:
        parse_entry(_envelope_with_signatures([{"key_id": KID, "sig": twin}]))
    assert (caught.value.detail, caught.value.location) == (
        "a signature is not canonical base64",
        "/signatures/0",
    )


@pytest.mark.parametrize(
    ("envelope", "detail"),
    [
        (b"[]", "an entry is an object with exactly signatures and signed"),
        (b'{"signed":{}}', "an entry is an object with exactly signatures and signed"),
        (
            b'{"signatures":[],"signed":{},"x":1}',
            "an entry is an object with exactly signatures and signed",
        ),
        (
            b'{"signatures":[],"signed":[]}',
            "an entry's signed must be an object and signatures a list",
        ),
        (
            b'{"signatures":{},"signed":{}}',
            "an entry's signed must be an object and signatures a list",
        ),
        (BASE.envelope + b" ", "the entry is not in the canonical encoding (RFC 8785)"),
        (
            BASE.envelope.replace(b'{"signatures":', b'{ "signatures":'),
            "the entry is not in the canonical encoding (RFC 8785)",
        ),
        (
            BASE.envelope.replace(b"jp-jcci/CO-1", b"jp-jcci\\/CO-1"),  # an escape JSON allows
            "the entry is not in the canonical encoding (RFC 8785)",
        ),
    ],
)
def test_parse_entry_refuses_what_is_not_a_canonical_envelope(envelope: bytes, detail: str) -> None:
    with pytest.raises(EncodingError) as caught:
        parse_entry(envelope)
    assert caught.value.detail == detail


def test_a_value_no_json_holds_is_refused_when_building() -> None:
    with pytest.raises(EncodingError) as caught:
        build_entry(
            "co.issued",
            "jp-jcci",
            KEYS[0],
            b"{}",
            b"application/json",
            consortium_id="c-one",  # type: ignore[arg-type]
        )
    assert caught.value.detail == (
        "the entry cannot be encoded: Object of type bytes is not JSON serializable"
    )


# -- the other ways an entry is made: more signatures, without its bytes, through pickle -----


def test_add_signatures_gives_the_entry_built_with_those_cosigners() -> None:
    cosigned = build_entry(
        "co.issued",
        "jp-jcci",
        KEYS[0],
        b"{}",
        "application/json",
        consortium_id="c-one",
        subject="jp-jcci/CO-1",
        refs=["ab" * 32],
        timestamp=parse_time(BASE.timestamp),
        nonce=BASE.nonce,
        cosigners=KEYS[1:],
    )
    added = add_signatures(BASE, [KEYS[2], KEYS[1], KEYS[0]])  # KEYS[0] signs again: no twin
    assert added == cosigned
    assert added.payload == b"{}"
    assert [k for k, _ in added.signatures] == sorted(k.key_id for k in KEYS)
    assert added.entry_hash != BASE.entry_hash and added.signed_bytes == BASE.signed_bytes


def test_slim_drops_the_bytes_but_keeps_a_membership_change_payload() -> None:
    slim = BASE.slim()
    assert slim == dataclasses.replace(
        BASE,
        envelope=b"",
        signed_bytes=b"",
        signatures=((BASE.key_id, b""),),
        payload=None,
    )
    change = build_entry(
        "config.update",
        "jp-jcci",
        KEYS[0],
        b'{"changes":[]}',
        "application/json",
        consortium_id="c-one",
    )
    assert change.slim().payload == b'{"changes":[]}'
    assert change.slim().signed_bytes == b""


def test_with_payload_reads_the_envelope_again_with_the_payload() -> None:
    bare = parse_entry(BASE.envelope)
    assert bare.payload is None
    assert bare.with_payload(b"{}") == BASE
    with pytest.raises(EntryRejected):
        bare.with_payload(b"[]")


def test_parse_entry_fields_and_slim_fields_agree_with_the_entry_methods() -> None:
    from ledger.entries import entry_fields, parse_entry_fields, restore_entry, slim_fields

    fields = parse_entry_fields(BASE.envelope, BASE.payload)
    assert fields == entry_fields(BASE) and restore_entry(fields) == BASE
    shared: dict[object, object] = {}
    slim = restore_entry(slim_fields(fields, shared))
    assert slim == BASE.slim() == BASE.slim(shared)
    assert slim.author in shared and slim.signatures in shared


def test_an_entry_survives_pickling_whole() -> None:
    for entry in (BASE, BASE.slim()):
        assert pickle.loads(pickle.dumps(entry)) == entry
    assert BASE.canonical_size == len(BASE.envelope) + 2


def test_bytes_that_are_not_json_are_refused_as_the_entry() -> None:
    with pytest.raises(EncodingError) as caught:
        parse_entry(b"{not json")
    assert caught.value.detail.startswith("the entry is not valid JSON: ")
