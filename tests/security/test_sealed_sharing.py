"""Sharing a sealed document later, and encryption key rotation (issue 16, item 3).

Node A runs every organisation of the demo consortium (it holds all their decryption keys);
a node that runs only the bank (``jp-sakura-bank``) or only ``vn-customs`` is a copy of A's
database with the index rebuilt from the ledger by that node itself (as in
``test_sealed_payloads``). A Japan→Viet Nam certificate is sealed to its parties, both customs
and the auditor: not to the bank, until a party shares it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger import errors
from ledger import sealed_payload as sp
from ledger.entries import Entry, build_entry, parse_entry
from ledger.keys import DecryptionKey
from nodes import sealing
from nodes.service import LedgerNode
from nodes.tokens import Caller
from tests.api.conftest import LiveNode
from tests.security.test_authentication import change_membership
from tests.security.test_sealed_payloads import (
    SECRET,
    _certificate,
    _files_hold,
    _other_home,
    sealing_node,
)

BANK = "jp-sakura-bank"


@dataclass
class Shared:
    a: LiveNode
    root: Path
    co_id: str
    co_hash: str


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    root = tmp_path_factory.mktemp("shared")
    with sealing_node(root) as live:
        receipt = _issue(live, "SHARE-0001")
        yield Shared(live, root, receipt.document_id or "", receipt.entry_hash)


def _issue(live: LiveNode, number: str) -> Any:
    receipt = live.client("issuer").submit_document(_certificate(number), event="co.issued")
    live.wait_for_block(receipt.entry_hash)
    live.settled()
    return receipt


def _node_of(shared: Shared, name: str, org: str, key_ids: set[str] | None = None) -> LedgerNode:
    """A node that runs ``org`` only, on a copy of A's ledger as it is now."""
    shared.a.settled()
    return LedgerNode.open(
        _other_home(shared.a.home, shared.root / name, org, key_ids), block_interval=0.02
    )


def _entry(shared: Shared, source_hash: str, grant: bytes, author: str) -> Entry:
    """A pre-signed payload.shared entry of ``author`` naming ``source_hash``."""
    return build_entry(
        sealing.SHARE_TYPE,
        author,
        shared.a.home.signing_key(author),
        grant,
        sealing.GRANT_TYPE,
        consortium_id=shared.a.node.consortium.consortium_id,
        subject=shared.co_id,
        refs=[source_hash],
    )


def _sealed(shared: Shared, entry_hash: str) -> Entry:
    stored = shared.a.node.reads.entry_by_hash(bytes.fromhex(entry_hash))
    assert stored is not None
    return parse_entry(stored.envelope, stored.payload)


def _refused(shared: Shared, attempt: Any, error: type[errors.TradeLedgerError]) -> None:
    size = shared.a.settled()
    with pytest.raises(error):
        attempt()
    time.sleep(0.1)
    assert shared.a.settled() == size  # nothing appended


def test_a_party_shares_a_sealed_certificate_with_a_bank_which_then_reads_it(
    shared: Shared,
) -> None:
    """Before: the bank gets 404 and its node's files hold no plaintext. The exporter shares
    the certificate with the bank: the bank's node (the bank's decryption key only) opens it
    through the grant, the bank's API user reads it; still no plaintext in any file."""
    with pytest.raises(errors.NotFound):
        shared.a.client("bank").document(shared.co_id)
    before = _node_of(shared, "bank-before", BANK)
    try:
        info = before.index.document(shared.co_id)
        assert info is not None and BANK not in info.parties
        with pytest.raises(errors.NotFound):
            before.document(shared.co_id, Caller(BANK, "bank"))
    finally:
        before.close()
    assert not _files_hold(shared.root / "bank-before", SECRET.encode())

    receipt = shared.a.client("exporter").share_document(shared.co_id, BANK)
    assert receipt.event == sealing.SHARE_TYPE and receipt.document_id == shared.co_id
    shared.a.wait_for_block(receipt.entry_hash)
    shared.a.settled()
    share = _sealed(shared, receipt.entry_hash)
    assert share.author == "jp-tanaka-machinery" and share.refs == (shared.co_hash,)
    assert share.payload is not None
    assert sealing.grant_orgs(share.payload, shared.a.node.membership) == {BANK}

    assert SECRET.encode() in shared.a.client("bank").document(shared.co_id)
    events = [e.event for e in shared.a.client("bank").provenance(shared.co_id).events]
    assert events == ["co.issued", sealing.SHARE_TYPE]
    with pytest.raises(errors.NotFound):  # the share made the bank a reader, no one else
        shared.a.client("th_customs").document(shared.co_id)

    after = _node_of(shared, "bank-after", BANK)
    try:
        assert after.opener.held_key_ids() == {
            k.key_id for k in after.membership.encryption_keys(BANK)
        }
        info = after.index.document(shared.co_id)
        assert info is not None and BANK in info.parties
        content, _, _ = after.document(shared.co_id, Caller(BANK, "bank"))
        assert SECRET.encode() in content
        # the bank's node hands the bank the sealed bytes too: its own tooling opens them
        assert after.entry(shared.co_hash, Caller(BANK, "bank"))["payload"] is not None
    finally:
        after.close()
    assert not _files_hold(shared.root / "bank-after", SECRET.encode())
    assert not _files_hold(shared.a.home.path, SECRET.encode())


def test_a_share_by_an_organisation_that_may_not_read_the_document_is_refused(
    shared: Shared,
) -> None:
    """Thai customs may not read a Japan→Viet Nam certificate: 404, as for one that does not
    exist; an auditor reads it but its role may not share; a share to an organisation that
    reads it already is a conflict. Nothing is appended."""
    co = _issue(shared.a, "SHARE-0002")
    for user, error in (
        ("th_customs", errors.NotFound),
        ("auditor", errors.Forbidden),
        ("bank", errors.NotFound),
    ):
        client = shared.a.client(user)
        _refused(shared, lambda c=client: c.share_document(co.document_id, BANK), error)
    exporter = shared.a.client("exporter")
    _refused(shared, lambda: exporter.share_document(co.document_id, "vn-customs"), errors.Conflict)
    _refused(
        shared,
        lambda: exporter.share_document(co.document_id, "no-such-org"),
        errors.InvalidInput,
    )
    with pytest.raises(errors.NotFound):
        shared.a.client("bank").document(co.document_id)


def test_a_grant_that_does_not_open_for_the_target_or_names_another_entry_is_refused(
    shared: Shared,
) -> None:
    """Pre-signed shares by the exporter: a grant whose wrapped key was altered (it does not
    open with the bank's key); a grant of another certificate's payload under this one's ref;
    a grant of this payload naming another entry. Each is refused before anything is
    appended, and the bank still reads nothing."""
    co = _issue(shared.a, "SHARE-0003")
    other = _issue(shared.a, "SHARE-0004")
    node = shared.a.node
    source, wrong = _sealed(shared, co.entry_hash), _sealed(shared, other.entry_hash)
    assert source.payload is not None and wrong.payload is not None
    exporter_key = next(
        k
        for k in node.opener.held_key_ids()
        if node.membership.encryption_key_owner(k) == "jp-tanaka-machinery"
    )
    keys = node.decryption_keys()
    secret = sp.open_payload(source.payload, keys[exporter_key], sealing.binding(source))
    bank_keys = node.membership.encryption_keys(BANK)
    good = sp.grant_payload_key(
        source.payload, secret.payload_secret, bank_keys, sealing.binding(source)
    )
    altered = bytearray(good)
    altered[-1] ^= 1  # the last byte of the bank's wrapped payload secret
    other_secret = sp.open_payload(wrong.payload, keys[exporter_key], sealing.binding(wrong))
    other_grant = sp.grant_payload_key(
        wrong.payload, other_secret.payload_secret, bank_keys, sealing.binding(wrong)
    )
    shared_co = Shared(shared.a, shared.root, co.document_id, co.entry_hash)
    attempts = (
        (
            _entry(shared_co, co.entry_hash, bytes(altered), "jp-tanaka-machinery"),
            errors.SealedPayloadInvalid,
        ),
        (
            _entry(shared_co, co.entry_hash, other_grant, "jp-tanaka-machinery"),
            errors.SealedPayloadInvalid,
        ),
        (_entry(shared_co, other.entry_hash, good, "jp-tanaka-machinery"), errors.InvalidInput),
    )
    client = shared.a.client("exporter")
    for entry, error in attempts:
        _refused(shared, lambda e=entry: client.submit_entry(e), error)
    with pytest.raises(errors.NotFound):
        shared.a.client("bank").document(co.document_id)
    # the same grant, unaltered, is admitted: the refusals were for what was wrong
    ok = client.submit_entry(_entry(shared_co, co.entry_hash, good, "jp-tanaka-machinery"))
    shared.a.wait_for_block(ok.entry_hash)
    shared.a.settled()
    assert SECRET.encode() in shared.a.client("bank").document(co.document_id)


def test_a_retired_encryption_key_opens_nothing_recorded_after_the_rotation(
    shared: Shared,
) -> None:
    """vn-customs' encryption key is retired and a new one added by a config.update: a
    certificate recorded afterwards is sealed to the new key only; a node holding only the
    retired key still opens the certificate recorded before, and none recorded after."""
    node = shared.a.node
    (old_key,) = node.membership.encryption_keys("vn-customs")
    new = DecryptionKey.generate()
    shared.a.home.save_decryption_key("vn-customs", new)
    change_membership(
        shared.a,
        {"op": "retire_encryption_key", "org": "vn-customs", "key_id": old_key.key_id},
        {
            "op": "add_encryption_key",
            "org": "vn-customs",
            "key": {
                "key_id": new.public_key.key_id,
                "public_key": new.public_key.to_b64(),
                "status": "active",
            },
        },
    )
    shared.a.settled()
    assert node.membership.encryption_keys("vn-customs") == (new.public_key,)
    after = _issue(shared.a, "SHARE-ROT-1")
    payload = _sealed(shared, after.entry_hash).payload or b""
    recipients = sealing.sealed_key_ids(payload)
    assert new.public_key.key_id in recipients and old_key.key_id not in recipients
    assert SECRET.encode() in shared.a.client("vn_customs").document(after.document_id)

    retired_only = _node_of(shared, "vn-retired", "vn-customs", {old_key.key_id})
    try:
        assert retired_only.opener.held_key_ids() == {old_key.key_id}
        vn = Caller("vn-customs", "customs")
        content, _, _ = retired_only.document(shared.co_id, vn)
        assert SECRET.encode() in content
        with pytest.raises(errors.NotFound):
            retired_only.document(after.document_id, vn)
        sealed_after = retired_only.reads.entry_by_hash(bytes.fromhex(after.entry_hash))
        assert sealed_after is not None
        assert retired_only.opener.open(parse_entry(sealed_after.envelope, payload)) is None
    finally:
        retired_only.close()
    assert not _files_hold(shared.root / "vn-retired", SECRET.encode())
