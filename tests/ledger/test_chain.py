"""The acceptance rules of docs/ledger-format.md §4.4 and the block checks of §5–6."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.blocks import BlockHeader, Checkpoint
from ledger.chain import ADMISSION_MARGIN, MAX_BACKDATING, ChainState, preverify
from ledger.consortium import FoundingMember, create_genesis
from ledger.errors import (
    BlockInvalid,
    ChainBroken,
    CheckpointInvalid,
    ConfigurationError,
    DuplicateEntry,
    EntryRejected,
    KeyRevoked,
    MerkleRootMismatch,
    QuorumNotMet,
    RoleNotAllowed,
    SignatureInvalid,
    TimestampInFuture,
    TimestampTooOld,
    UnknownKey,
    UnknownReference,
    WrongConsortium,
)
from ledger.keys import SigningKey
from ledger.timefmt import parse_time
from tests.chainbuilder import config_payload, make_chain, seeded_key


def test_a_valid_chain_replays_to_the_same_head() -> None:
    chain = make_chain()
    first = chain.entry()
    chain.block([first, chain.entry("co.application", "jp-exporter")])
    chain.block([chain.entry("customs.import_declaration", "vn-customs", refs=[first.hash_hex])])
    replayed = ChainState.genesis(chain.consortium)
    for header, checkpoint, raw in chain.blocks:
        replayed.apply_block(header, checkpoint, raw)
    assert replayed.head_hash == chain.state.head_hash
    assert replayed.tree.root() == chain.state.tree.root()
    assert replayed.height == 2 and replayed.tree_size == 3


def check(chain, entry, **kw):  # type: ignore[no-untyped-def]
    return chain.state.check_entry(entry, reference_time=chain.clock, **kw)


def test_unknown_key_is_refused() -> None:
    chain = make_chain()
    with pytest.raises(UnknownKey):
        check(chain, chain.entry(key=SigningKey(b"\x99" * 32)))


def test_key_of_another_organisation_is_refused() -> None:
    chain = make_chain()
    with pytest.raises(UnknownKey):
        check(chain, chain.entry("co.issued", "jp-jcci", key=chain.keys["jp-bank"]))


def test_role_not_allowed_for_the_type() -> None:
    chain = make_chain()
    with pytest.raises(RoleNotAllowed):
        check(chain, chain.entry("co.issued", "jp-exporter"))


def test_bad_signature_is_refused() -> None:
    chain = make_chain()
    entry = chain.entry()
    forged = entry.envelope.replace(entry.payload_digest.encode(), b"0" * 64)
    from ledger.entries import parse_entry

    with pytest.raises(SignatureInvalid):
        check(chain, parse_entry(forged))


def test_duplicate_is_refused_in_the_same_block_and_later() -> None:
    chain = make_chain()
    entry = chain.entry()
    with pytest.raises(DuplicateEntry):
        check(chain, entry, pending={entry.entry_hash})
    chain.block([entry])
    with pytest.raises(DuplicateEntry):
        check(chain, entry)


def test_reference_to_unknown_entry_is_refused() -> None:
    chain = make_chain()
    with pytest.raises(UnknownReference):
        check(chain, chain.entry(refs=["ab" * 32]))


def test_timestamp_too_far_in_the_future_is_refused() -> None:
    chain = make_chain()
    with pytest.raises(TimestampInFuture):
        check(chain, chain.entry(timestamp=chain.clock + timedelta(seconds=400)))
    check(chain, chain.entry(timestamp=chain.clock + timedelta(seconds=200)))


def test_timestamp_more_than_the_window_before_the_previous_block_is_refused() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    head = parse_time(chain.state.head_time or "")
    check(chain, chain.entry(timestamp=head - MAX_BACKDATING))  # the bound itself is allowed
    with pytest.raises(TimestampTooOld) as caught:
        check(chain, chain.entry(timestamp=head - MAX_BACKDATING - timedelta(microseconds=1)))
    assert caught.value.code == "timestamp-too-old" and "previous block" in caught.value.detail


def test_block_1_counts_the_window_from_the_genesis_creation() -> None:
    chain = make_chain()  # created at T0; nothing before it but the window
    created = parse_time(chain.consortium.created)
    check(chain, chain.entry(timestamp=created - MAX_BACKDATING))
    with pytest.raises(TimestampTooOld) as caught:
        check(chain, chain.entry(timestamp=created - MAX_BACKDATING - timedelta(seconds=1)))
    assert "genesis" in caught.value.detail


def test_a_stricter_window_for_admission_keeps_admitted_entries_valid_in_later_blocks() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    head = parse_time(chain.state.head_time or "")
    admission = MAX_BACKDATING - ADMISSION_MARGIN
    late = chain.entry(timestamp=head - admission)
    check(chain, late, backdating=admission)  # admitted at the edge of the stricter window
    with pytest.raises(TimestampTooOld):
        check(
            chain,
            chain.entry(timestamp=head - admission - timedelta(seconds=1)),
            backdating=admission,
        )
    # a block cut later (within the margin) comes first; the admitted entry still applies after it
    chain.clock = head + ADMISSION_MARGIN - timedelta(seconds=2)
    chain.block([chain.entry()])
    chain.block([late])
    assert chain.state.tree_size == 3


def test_an_entry_for_another_consortium_is_refused() -> None:
    chain = make_chain()
    keys = chain.keys
    other = create_genesis(
        "other-consortium",
        "Same members, same keys",
        [FoundingMember(o, o, "JP", ["issuing_authority"], keys[o]) for o in ("jp-jcci",)],
        created=chain.clock,
    )
    entry = chain.entry()
    with pytest.raises(WrongConsortium) as caught:
        ChainState.genesis(other).check_entry(entry, reference_time=chain.clock)
    assert "'test-consortium', not 'other-consortium'" in caught.value.detail
    check(chain, entry)  # its own consortium takes it


@pytest.mark.parametrize(
    ("consortium_id", "org_id", "country"),
    [("test-consortium\n", "jp-jcci", "JP"), ("c1", "jp-jcci\n", "JP"), ("c1", "jp-jcci", "JP\n")],
)
def test_a_genesis_id_or_country_with_a_trailing_newline_is_refused(
    consortium_id: str, org_id: str, country: str
) -> None:
    founder = FoundingMember(org_id, "JCCI", country, ["issuing_authority"], seeded_key(1))
    with pytest.raises(ConfigurationError):
        create_genesis(consortium_id, "Newline test", [founder])


def test_revoked_key_is_refused_from_the_next_block() -> None:
    chain = make_chain()
    old = chain.keys["jp-jcci"]
    new = seeded_key(50)
    rotate = chain.entry(
        "config.update",
        "jp-jcci",
        payload=config_payload(
            {
                "op": "add_key",
                "org": "jp-jcci",
                "key": {
                    "key_id": new.key_id,
                    "public_key": new.public_key.to_b64(),
                    "status": "active",
                },
            },
            {"op": "revoke_key", "org": "jp-jcci", "key_id": old.key_id},
        ),
    )
    # In the same block the old key is still in force.
    chain.block([rotate, chain.entry()])
    with pytest.raises(KeyRevoked):
        check(chain, chain.entry(key=old))
    chain.keys["jp-jcci"] = new
    check(chain, chain.entry())
    chain.block([chain.entry()])


def test_membership_change_needs_quorum() -> None:
    chain = make_chain(config_quorum=2)
    change = config_payload({"op": "set_roles", "org": "jp-bank", "roles": ["bank", "auditor"]})
    with pytest.raises(QuorumNotMet):
        check(chain, chain.entry("config.update", "jp-jcci", payload=change))
    ok = chain.entry("config.update", "jp-jcci", payload=change, cosigners=[chain.keys["jp-bank"]])
    check(chain, ok)
    chain.block([ok])
    assert chain.state.membership.organisations["jp-bank"].roles == {"bank", "auditor"}


@pytest.mark.parametrize(
    "payload",
    [
        b'{"changes":[{"op":"set_endpoints","org":"jp-bank","endpoints":["\\udc00"]}]}',
        b'{"changes":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    ],
    ids=["lone-surrogate", "deep"],
)
def test_a_membership_change_that_is_not_unicode_or_nests_too_deep_is_refused(
    payload: bytes,
) -> None:
    chain = make_chain()
    change = chain.entry("config.update", "jp-jcci", payload=payload)
    with pytest.raises(EntryRejected) as caught:
        check(chain, change)
    assert "surrogate" in caught.value.detail or "deep" in caught.value.detail


def _tampered_block(chain, mutate):  # type: ignore[no-untyped-def]
    """Build one valid block on top of ``chain``, then hand its parts to ``mutate``."""
    entries = [chain.entry(), chain.entry()]
    header, checkpoint = chain.state.propose_block(
        entries, "jp-jcci", chain.keys["jp-jcci"], chain.clock
    )
    raw = [(e.envelope, e.payload) for e in entries]
    return mutate(header, checkpoint, raw)


def test_block_with_wrong_root_is_refused() -> None:
    chain = make_chain()

    def wrong_root(header: bytes, checkpoint: str, raw: list) -> tuple:
        # Swap the entries: same set, different order, so the root no longer matches.
        return header, checkpoint, [raw[1], raw[0]]

    header, checkpoint, raw = _tampered_block(chain, wrong_root)
    with pytest.raises(MerkleRootMismatch):
        chain.state.apply_block(header, checkpoint, raw)
    assert chain.state.height == 0  # nothing changed


def test_block_with_wrong_prev_hash_is_refused() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    header, checkpoint, raw = _tampered_block(chain, lambda h, c, r: (h, c, r))
    bad = header.replace(chain.state.head_hash.hex().encode(), b"00" * 32)
    with pytest.raises(ChainBroken):
        chain.state.apply_block(bad, checkpoint, raw)


def test_block_with_forged_checkpoint_signature_is_refused() -> None:
    chain = make_chain()
    header, checkpoint, raw = _tampered_block(chain, lambda h, c, r: (h, c, r))
    cp = Checkpoint.from_text(checkpoint)
    forged = Checkpoint(cp.body).signed_by("jp-jcci", chain.keys["jp-bank"])  # wrong key
    with pytest.raises(CheckpointInvalid):
        chain.state.apply_block(header, forged.to_text(), raw)
    # A cosignature by a key the verifier does not know is ignored, not an error.
    extra = cp.signed_by("someone-else", SigningKey(b"\x42" * 32))
    chain.state.apply_block(header, extra.to_text(), raw)


def test_invalid_entry_in_block_names_height_and_index() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    bad = chain.entry("co.issued", "jp-exporter")  # role not allowed
    chain.clock += timedelta(seconds=1)
    header = BlockHeader(
        consortium=chain.consortium.hash.hex(),
        height=2,
        prev_hash=chain.state.head_hash.hex(),
        time="2026-11-01T09:10:00.000000Z",
        proposer="jp-jcci",
        key_id=chain.keys["jp-jcci"].key_id,
        first_index=1,
        entry_count=1,
        tree_size=2,
        tree_root="00" * 32,
    )
    with pytest.raises(BlockInvalid) as err:
        chain.state.apply_block(header.to_bytes(), "x\n1\nAA==\n\n", [(bad.envelope, bad.payload)])
    assert err.value.extra["height"] == 2
    assert err.value.extra["entry_index"] == 1
    assert err.value.extra["reason"] == "role-not-allowed"


def test_preverify_flags_bad_signatures_without_raising() -> None:
    chain = make_chain()
    entry = chain.entry()
    raw_keys = chain.state.membership.raw_keys()
    good = preverify(entry.envelope, entry.payload, raw_keys)
    assert good.good_keys == {entry.key_id}  # type: ignore[union-attr]
    other = {entry.key_id: chain.keys["jp-bank"].public_key.raw}
    bad = preverify(entry.envelope, entry.payload, other)
    assert bad.bad_keys == {entry.key_id}  # type: ignore[union-attr]
    broken = preverify(b"{not json", None, raw_keys)
    assert broken.code == "non-canonical-encoding"  # type: ignore[union-attr]


def test_signature_base64_must_be_canonical() -> None:
    """Changing unused trailing bits of the base64 would give a second envelope (and hash)
    for the same signed entry; only the canonical encoding is accepted."""
    from ledger.encoding import b64encode
    from ledger.entries import parse_entry
    from ledger.errors import EncodingError

    chain = make_chain()
    entry = chain.entry()
    sig = b64encode(entry.signatures[0][1])
    assert sig.endswith("==")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = sig[-3]
    twin = sig[:-3] + alphabet[alphabet.index(last) ^ 1] + "=="
    forged = entry.envelope.replace(sig.encode(), twin.encode())
    with pytest.raises(EncodingError, match="canonical base64"):
        parse_entry(forged, entry.payload)
