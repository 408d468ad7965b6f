"""Encryption keys in the consortium file (``docs/ledger-format.md`` §3, §4.3, §4.5): optional
beside the signing keys, strictly parsed, added and retired by ``config.update``."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.consortium import Consortium, FoundingMember, create_genesis
from ledger.encoding import b64encode, canonical_bytes, parse_canonical
from ledger.errors import ConfigurationError, EntryRejected, UnknownKey
from ledger.keys import DecryptionKey, EncryptionKey, SigningKey
from ledger.sealed_payload import PayloadBinding, open_payload, seal_payload

T0 = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def seeded(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


SIGNING = {o: SigningKey(seeded("sign " + o)) for o in ("jp-jcci", "th-moc", "jp-audit")}
DECRYPTION = {o: DecryptionKey(seeded("decrypt " + o)) for o in ("jp-jcci", "th-moc")}


def genesis(with_encryption: bool = True) -> Consortium:
    def member(org: str, roles: list[str]) -> FoundingMember:
        dk = DECRYPTION.get(org) if with_encryption else None
        return FoundingMember(
            org,
            org.upper(),
            org[:2].upper(),
            roles,
            SIGNING[org],
            (),
            None if dk is None else dk.public_key,
        )

    return create_genesis(
        "tradeledger-test",
        "Test",
        [
            member("jp-jcci", ["issuing_authority"]),
            member("th-moc", ["customs"]),
            member("jp-audit", ["auditor"]),
        ],
        created=T0,
    )


def key_dict(key: EncryptionKey, status: str = "active") -> dict[str, str]:
    return {"key_id": key.key_id, "public_key": key.to_b64(), "status": status}


def test_a_genesis_without_encryption_keys_has_no_such_field() -> None:
    signed = genesis(with_encryption=False).signed
    assert all("encryption_keys" not in org for org in signed["organisations"])


def test_encryption_keys_are_listed_and_looked_up() -> None:
    c = genesis()
    m = c.membership
    assert m.encryption_keys("jp-jcci") == (DECRYPTION["jp-jcci"].public_key,)
    assert m.encryption_keys("jp-audit") == ()
    assert m.encryption_key_owner(DECRYPTION["th-moc"].key_id) == "th-moc"
    assert m.encryption_key_owner(SIGNING["th-moc"].key_id) is None
    # the file read back gives the same state
    again = Consortium.from_bytes(c.to_bytes())
    assert again.membership.encryption_keys("th-moc") == (DECRYPTION["th-moc"].public_key,)


def test_unknown_organisations_and_organisations_without_keys_are_refused() -> None:
    m = genesis().membership
    with pytest.raises(UnknownKey, match="not a member"):
        m.encryption_keys("vn-customs")
    with pytest.raises(UnknownKey, match="no active encryption key"):
        m.recipient_keys(["jp-jcci", "jp-audit"])


def test_recipient_keys_seal_a_payload_every_recipient_opens() -> None:
    m = genesis().membership
    recipients = m.recipient_keys(["th-moc", "jp-jcci", "th-moc"])
    assert [k.key_id for k in recipients] == sorted(d.key_id for d in DECRYPTION.values())
    binding = PayloadBinding("tradeledger-test", "jp-jcci", "a" * 32)
    sealed = seal_payload(b"certificate", recipients, binding)
    for dk in DECRYPTION.values():
        assert open_payload(sealed, dk, binding).plaintext == b"certificate"


def test_rotation_adds_a_key_and_retires_the_old_one() -> None:
    m = genesis().membership
    old, new = DECRYPTION["th-moc"].public_key, DecryptionKey(seeded("new th-moc")).public_key
    m2 = m.apply([{"op": "add_encryption_key", "org": "th-moc", "key": key_dict(new)}])
    assert set(m2.encryption_keys("th-moc")) == {old, new}  # both while the change rolls out
    m3 = m2.apply([{"op": "retire_encryption_key", "org": "th-moc", "key_id": old.key_id}])
    assert m3.encryption_keys("th-moc") == (new,)
    assert m3.organisations["th-moc"].encryption_keys[old.key_id].status == "retired"
    assert m3.encryption_key_owner(old.key_id) == "th-moc"  # still known, for old payloads
    assert m.encryption_keys("th-moc") == (old,)  # apply does not change the state it was given


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"op": "retire_encryption_key", "org": "th-moc", "key_id": "0" * 16}, "no encryption"),
        ({"op": "retire_encryption_key", "org": "nobody", "key_id": "0" * 16}, "no organisation"),
        ({"op": "add_encryption_key", "org": "th-moc", "key": {}}, "missing"),
    ],
)
def test_bad_encryption_key_changes_are_rejected(change: dict[str, Any], message: str) -> None:
    with pytest.raises(EntryRejected, match=message):
        genesis().membership.apply([change])


def test_a_retired_key_cannot_be_retired_again_or_come_back() -> None:
    m = genesis().membership
    old = DECRYPTION["th-moc"].public_key
    retire = {"op": "retire_encryption_key", "org": "th-moc", "key_id": old.key_id}
    m2 = m.apply([retire])
    with pytest.raises(EntryRejected, match="already retired"):
        m2.apply([retire])
    with pytest.raises(EntryRejected, match="cannot come back"):
        m2.apply([{"op": "add_encryption_key", "org": "th-moc", "key": key_dict(old)}])


def test_a_new_key_must_be_active_and_usable_and_belong_to_one_organisation() -> None:
    m = genesis().membership
    new = DecryptionKey(seeded("x")).public_key
    with pytest.raises(EntryRejected, match="must be active"):
        m.apply([{"op": "add_encryption_key", "org": "th-moc", "key": key_dict(new, "retired")}])
    low_order = EncryptionKey(bytes(32))
    with pytest.raises(EntryRejected, match="not a usable X25519"):
        m.apply([{"op": "add_encryption_key", "org": "th-moc", "key": key_dict(low_order)}])
    theirs = DECRYPTION["jp-jcci"].public_key
    with pytest.raises(EntryRejected, match="jp-jcci's"):
        m.apply([{"op": "add_encryption_key", "org": "th-moc", "key": key_dict(theirs)}])


# --- strict parsing of the genesis file --------------------------------------------------------


def resigned(edit: Any) -> bytes:
    """The test genesis with ``edit`` applied to its signed part, signed again by every founder."""
    c = genesis()
    signed = parse_canonical(canonical_bytes(dict(c.signed)), "test")
    edit(signed)
    message = b"tradeledger/v1/consortium\n" + canonical_bytes(signed)
    sigs = [
        {"key_id": k.key_id, "sig": b64encode(k.sign(message))}
        for k in sorted(SIGNING.values(), key=lambda k: k.key_id)
    ]
    return canonical_bytes({"signatures": sigs, "signed": signed})


def org(signed: dict[str, Any], org_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(o for o in signed["organisations"] if o["id"] == org_id)
    return found


def test_the_resigning_helper_makes_a_valid_file() -> None:
    assert Consortium.from_bytes(resigned(lambda s: None)).consortium_id == "tradeledger-test"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: org(s, "jp-audit").update(encryption_keys=[]), "non-empty list"),
        (lambda s: org(s, "jp-jcci").update(encryption_keys={}), "non-empty list"),
        (lambda s: org(s, "jp-jcci")["encryption_keys"][0].update(status="revoked"), "active or"),
        (lambda s: org(s, "jp-jcci")["encryption_keys"][0].update(key_id="0" * 16), "match"),
        (lambda s: org(s, "jp-jcci")["encryption_keys"][0].update(extra=1), "unexpected"),
        (lambda s: org(s, "jp-jcci").update(encryption_key=[]), "unexpected encryption_key"),
        (
            lambda s: org(s, "jp-jcci")["encryption_keys"].append(
                org(s, "jp-jcci")["encryption_keys"][0]
            ),
            "no key twice",
        ),
        (
            lambda s: org(s, "jp-audit").update(
                encryption_keys=org(s, "jp-jcci")["encryption_keys"]
            ),
            "two organisations",
        ),
    ],
)
def test_malformed_encryption_keys_make_the_file_invalid(edit: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Consortium.from_bytes(resigned(edit))


def test_membership_to_dict_lists_encryption_keys_only_where_there_are_some() -> None:
    d = genesis().membership.to_dict()
    by_id = {o["id"]: o for o in d["organisations"]}
    assert "encryption_keys" not in by_id["jp-audit"]
    assert by_id["jp-jcci"]["encryption_keys"] == [key_dict(DECRYPTION["jp-jcci"].public_key)]
