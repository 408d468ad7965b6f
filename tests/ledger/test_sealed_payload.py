"""Sealed payloads (``ledger/sealed_payload.py``, ``docs/ledger-format.md`` §11): every recipient
opens, nobody else does, and every alteration, move or malformed input is refused with the
project's own errors."""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import sealed_payload as sp
from ledger.errors import NotARecipient, SealedPayloadInvalid, TradeLedgerError
from ledger.keys import DecryptionKey, EncryptionKey

BINDING = sp.PayloadBinding("tradeledger-dev", "jp-jcci", "0123456789abcdef0123456789abcdef")
PLAINTEXT = b'{"document_type":"certificate_of_origin","number":"JP-2026-000123"}'


@cache
def key(i: int) -> DecryptionKey:
    return DecryptionKey(hashlib.sha256(b"test recipient %d" % i).digest())


def keys(n: int, start: int = 0) -> list[DecryptionKey]:
    return [key(i) for i in range(start, start + n)]


def public(ks: list[DecryptionKey]) -> list[EncryptionKey]:
    return [k.public_key for k in ks]


@cache
def sealed_for_three() -> bytes:
    return sp.seal_payload(PLAINTEXT, public(keys(3)), BINDING)


# --- what recipients get -------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    plaintext=st.binary(max_size=2048),
    n=st.integers(min_value=1, max_value=5),
    start=st.integers(min_value=0, max_value=20),
)
def test_every_recipient_opens_to_the_plaintext(plaintext: bytes, n: int, start: int) -> None:
    recipients = keys(n, start)
    sealed = sp.seal_payload(plaintext, public(recipients), BINDING)
    assert len(sealed) == sp.sealed_size(len(plaintext), n)
    commitments = set()
    for k in recipients:
        opened = sp.open_payload(sealed, k, BINDING)
        assert opened.plaintext == plaintext
        assert sp.verify_commitment(opened.commitment, opened.salt, plaintext)
        commitments.add((opened.commitment, opened.salt, opened.payload_secret))
    assert len(commitments) == 1  # every recipient reads the same thing
    assert sp.read_commitment(sealed) == opened.commitment
    assert sp.parse_sealed_payload(sealed).recipients == tuple(sorted(k.key_id for k in recipients))


def test_the_overhead_is_50_bytes_plus_88_per_recipient() -> None:
    for n in (1, 2, 3, 5):
        sealed = sp.seal_payload(PLAINTEXT, public(keys(n)), BINDING)
        assert len(sealed) - len(PLAINTEXT) == 50 + 88 * n


def test_sealing_twice_gives_unrelated_bytes_and_commitments() -> None:
    a = sp.seal_payload(PLAINTEXT, public(keys(2)), BINDING)
    b = sp.seal_payload(PLAINTEXT, public(keys(2)), BINDING)
    assert a != b
    assert sp.read_commitment(a) != sp.read_commitment(b)  # the salt hides the plaintext


def test_a_key_listed_twice_is_sealed_to_once() -> None:
    k = key(0).public_key
    sealed = sp.seal_payload(PLAINTEXT, [k, key(1).public_key, k], BINDING)
    assert len(sp.parse_sealed_payload(sealed).slots) == 2


# --- the commitment ------------------------------------------------------------------------


def test_the_commitment_is_sha256_over_tag_salt_plaintext() -> None:
    salt = bytes(range(32))
    expected = hashlib.sha256(b"tradeledger/v1/payload-commitment\n" + salt + b"doc").digest()
    assert sp.commitment(salt, b"doc") == expected


def test_the_commitment_names_only_its_plaintext_and_salt() -> None:
    opened = sp.open_payload(sealed_for_three(), key(0), BINDING)
    assert sp.verify_commitment(opened.commitment, opened.salt, PLAINTEXT)
    assert not sp.verify_commitment(opened.commitment, opened.salt, PLAINTEXT + b" ")
    assert not sp.verify_commitment(opened.commitment, bytes(32), PLAINTEXT)


@pytest.mark.parametrize("salt", [b"", bytes(31), bytes(33), "0" * 32])
def test_a_salt_that_is_not_32_bytes_is_refused(salt: object) -> None:
    with pytest.raises(SealedPayloadInvalid):
        sp.commitment(salt, b"doc")  # type: ignore[arg-type]


def test_a_commitment_that_is_not_32_bytes_is_refused() -> None:
    with pytest.raises(SealedPayloadInvalid):
        sp.verify_commitment(bytes(31), bytes(32), b"doc")


def test_a_sender_whose_commitment_names_another_plaintext_is_caught() -> None:
    # what a sender with its own tooling could make: content and commitment disagree
    secret = bytes(range(32))
    lie = sp.commitment(sp._salt(secret), b"another document")
    header = bytes([1, 1]) + lie
    kid = key(0).key_id
    info = sp._wrap_info(BINDING.to_bytes(), kid, lie)
    header += bytes.fromhex(kid) + sp.SUITE.encrypt(secret, key(0).public_key.x25519(), info)
    aad = sp.TAG_CONTENT + BINDING.to_bytes() + header
    content = AESGCM(sp._content_key(secret, lie)).encrypt(bytes(12), PLAINTEXT, aad)
    with pytest.raises(SealedPayloadInvalid, match="commitment does not name"):
        sp.open_payload(header + content, key(0), BINDING)


# --- who cannot open ------------------------------------------------------------------------


def test_a_key_not_sealed_to_is_told_so() -> None:
    with pytest.raises(NotARecipient) as caught:
        sp.open_payload(sealed_for_three(), key(9), BINDING)
    assert caught.value.code == "not-a-recipient"
    assert key(9).key_id in caught.value.detail


def test_a_slot_relabelled_for_another_key_does_not_open_with_it() -> None:
    sealed = bytearray(sp.seal_payload(PLAINTEXT, [key(0).public_key], BINDING))
    sealed[34:42] = bytes.fromhex(key(9).key_id)  # the one slot now names key 9
    with pytest.raises(SealedPayloadInvalid, match="does not open with this key"):
        sp.open_payload(bytes(sealed), key(9), BINDING)


@pytest.mark.parametrize(
    "other",
    [
        sp.PayloadBinding("tradeledger-test", "jp-jcci", BINDING.nonce),
        sp.PayloadBinding(BINDING.consortium_id, "th-moc", BINDING.nonce),
        sp.PayloadBinding(BINDING.consortium_id, BINDING.author, "f" * 32),
    ],
    ids=["consortium", "author", "nonce"],
)
def test_a_payload_taken_to_another_entry_does_not_open(other: sp.PayloadBinding) -> None:
    with pytest.raises(SealedPayloadInvalid) as caught:
        sp.open_payload(sealed_for_three(), key(1), other)
    assert caught.value.code == "sealed-payload-invalid"


def test_a_wrapped_key_moved_into_another_payload_does_not_open() -> None:
    a = sp.seal_payload(PLAINTEXT, public(keys(2)), BINDING)
    b = bytearray(sp.seal_payload(PLAINTEXT, public(keys(2)), BINDING))
    slot = slice(34, 34 + 88)  # key 0's or key 1's slot: same key id in both payloads
    b[slot] = a[slot]
    kid = a[34:42].hex()
    holder = next(k for k in keys(2) if k.key_id == kid)
    with pytest.raises(SealedPayloadInvalid, match="does not open with this key"):
        sp.open_payload(bytes(b), holder, BINDING)


def test_every_changed_byte_fails_for_every_recipient() -> None:
    sealed = sp.seal_payload(b"short", public(keys(2)), BINDING)
    for i in range(len(sealed)):
        altered = bytearray(sealed)
        altered[i] ^= 0x01
        for k in keys(2):
            with pytest.raises((SealedPayloadInvalid, NotARecipient)):
                sp.open_payload(bytes(altered), k, BINDING)


def test_every_truncation_and_an_appended_byte_fail() -> None:
    sealed = sp.seal_payload(b"short", [key(0).public_key], BINDING)
    for size in range(len(sealed)):
        with pytest.raises(SealedPayloadInvalid):
            sp.open_payload(sealed[:size], key(0), BINDING)
    with pytest.raises(SealedPayloadInvalid):
        sp.open_payload(sealed + b"\x00", key(0), BINDING)


# --- malformed layouts ----------------------------------------------------------------------


def test_an_unknown_version_is_refused() -> None:
    sealed = bytearray(sealed_for_three())
    sealed[0] = 2
    with pytest.raises(SealedPayloadInvalid, match="unsupported version 2"):
        sp.parse_sealed_payload(bytes(sealed))


def test_zero_recipients_is_refused() -> None:
    with pytest.raises(SealedPayloadInvalid, match="no recipients"):
        sp.parse_sealed_payload(bytes([1, 0]) + bytes(32 + 16))


def test_slots_out_of_order_or_twice_are_refused() -> None:
    sealed = sealed_for_three()
    first, second = sealed[34:122], sealed[122:210]
    swapped = sealed[:34] + second + first + sealed[210:]
    twice = sealed[:34] + first + first + sealed[210:]
    for bad in (swapped, twice):
        with pytest.raises(SealedPayloadInvalid, match="sorted by key id"):
            sp.parse_sealed_payload(bad)


@pytest.mark.parametrize("value", ["text", None, 7, [1, 2]])
def test_what_is_not_bytes_is_refused(value: object) -> None:
    with pytest.raises(SealedPayloadInvalid):
        sp.open_payload(value, key(0), BINDING)  # type: ignore[arg-type]
    with pytest.raises(SealedPayloadInvalid):
        sp.parse_key_grant(value)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_escape_the_error_hierarchy(data: bytes) -> None:
    try:
        sp.open_payload(data, key(0), BINDING)
    except TradeLedgerError:
        return
    raise AssertionError("arbitrary bytes opened")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_grants_never_escape_the_error_hierarchy(data: bytes) -> None:
    try:
        sp.open_granted_payload(sealed_for_three(), data, key(5), BINDING)
    except TradeLedgerError:
        return
    raise AssertionError("an arbitrary grant opened")


@pytest.mark.parametrize(
    ("consortium_id", "author", "nonce"),
    [
        ("Tradeledger", "jp-jcci", "0" * 32),
        ("tradeledger-dev", "j", "0" * 32),
        ("tradeledger-dev", "jp-jcci", "0" * 31),
        ("tradeledger-dev", "jp-jcci", "A" * 32),
        ("tradeledger-dev", "jp-jcci\n", "0" * 32),
    ],
)
def test_a_malformed_binding_is_refused(consortium_id: str, author: str, nonce: str) -> None:
    with pytest.raises(SealedPayloadInvalid):
        sp.PayloadBinding(consortium_id, author, nonce)


def test_sealing_needs_a_recipient_and_refuses_bad_keys() -> None:
    with pytest.raises(SealedPayloadInvalid, match="at least one recipient"):
        sp.seal_payload(PLAINTEXT, [], BINDING)
    with pytest.raises(SealedPayloadInvalid, match="EncryptionKey"):
        sp.seal_payload(PLAINTEXT, [key(0).public_key.raw], BINDING)  # type: ignore[list-item]
    with pytest.raises(SealedPayloadInvalid, match="cannot seal"):  # a low-order point
        sp.seal_payload(PLAINTEXT, [EncryptionKey(bytes(32))], BINDING)
    with pytest.raises(SealedPayloadInvalid, match="bytes"):
        sp.seal_payload("text", [key(0).public_key], BINDING)  # type: ignore[arg-type]


# --- sharing later --------------------------------------------------------------------------


def grant_to(k: DecryptionKey, sealed: bytes | None = None) -> bytes:
    sealed = sealed or sealed_for_three()
    secret = sp.open_payload(sealed, key(0), BINDING).payload_secret
    return sp.grant_payload_key(sealed, secret, [k.public_key], BINDING)


def test_a_grant_lets_a_new_organisation_open_the_payload() -> None:
    grant = grant_to(key(7))
    assert len(grant) == 34 + 88
    opened = sp.open_granted_payload(sealed_for_three(), grant, key(7), BINDING)
    assert opened.plaintext == PLAINTEXT
    assert opened.commitment == sp.read_commitment(sealed_for_three())


def test_a_grant_does_not_help_anyone_else() -> None:
    with pytest.raises(NotARecipient):
        sp.open_granted_payload(sealed_for_three(), grant_to(key(7)), key(8), BINDING)


def test_a_grant_opens_only_its_own_payload_and_entry() -> None:
    grant = grant_to(key(7))
    other = sp.seal_payload(PLAINTEXT, public(keys(3)), BINDING)
    with pytest.raises(SealedPayloadInvalid, match="another sealed payload"):
        sp.open_granted_payload(other, grant, key(7), BINDING)
    elsewhere = sp.PayloadBinding(BINDING.consortium_id, BINDING.author, "e" * 32)
    with pytest.raises(SealedPayloadInvalid):
        sp.open_granted_payload(sealed_for_three(), grant, key(7), elsewhere)


def test_a_grant_with_a_changed_byte_fails() -> None:
    grant = grant_to(key(7))
    for i in range(len(grant)):
        altered = bytearray(grant)
        altered[i] ^= 0x80
        with pytest.raises((SealedPayloadInvalid, NotARecipient)):
            sp.open_granted_payload(sealed_for_three(), bytes(altered), key(7), BINDING)


def test_a_grant_of_a_wrong_secret_is_refused_when_made() -> None:
    with pytest.raises(SealedPayloadInvalid, match="does not decrypt"):
        sp.grant_payload_key(sealed_for_three(), bytes(32), [key(7).public_key], BINDING)
    with pytest.raises(SealedPayloadInvalid, match="32 bytes"):
        sp.grant_payload_key(sealed_for_three(), bytes(16), [key(7).public_key], BINDING)
