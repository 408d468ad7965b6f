"""The acceptance rules of docs/ledger-format.md §4.4 and the block checks of §5–6."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import timedelta

import pytest

from ledger.blocks import BlockHeader, Checkpoint
from ledger.chain import (
    ADMISSION_MARGIN,
    MAX_BACKDATING,
    ChainState,
    CheckedEntry,
    EntryFailure,
    TruncatedHashSet,
    describe_failure,
    preverify,
    preverify_batch,
)
from ledger.consortium import FoundingMember, create_genesis
from ledger.entries import parse_entry
from ledger.errors import (
    BlockInvalid,
    ChainBroken,
    CheckpointInvalid,
    ConfigurationError,
    DuplicateEntry,
    EntryRejected,
    IntegrityError,
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
from ledger.timefmt import format_time, parse_time
from tests.chainbuilder import T0, config_payload, make_chain, seeded_key


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
        status_root="00" * 32,
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


# -- every block refusal by its class, sentence and height; nothing changes on a refusal -----


def _next_block(chain, **changes):  # type: ignore[no-untyped-def]
    """A valid block of two entries on top of ``chain`` (one block already applied), with
    ``changes`` made to its header."""
    entries = [chain.entry(), chain.entry()]
    header, checkpoint = chain.state.propose_block(
        entries, "jp-jcci", chain.keys["jp-jcci"], chain.clock
    )
    header = dataclasses.replace(BlockHeader.from_bytes(header), **changes).to_bytes()
    return header, checkpoint, [(e.envelope, e.payload) for e in entries]


def _refusal(chain, header, checkpoint, raw, **kw):  # type: ignore[no-untyped-def]
    before = (chain.state.height, chain.state.head_hash, chain.state.tree_size)
    with pytest.raises(IntegrityError) as caught:
        chain.state.apply_block(header, checkpoint, raw, **kw)
    assert (chain.state.height, chain.state.head_hash, chain.state.tree_size) == before
    assert caught.value.extra["height"] == 2
    return caught.value


@pytest.mark.parametrize(
    ("changes", "error", "detail"),
    [
        ({"height": 3}, ChainBroken, "expected height 2, found 3"),
        ({"consortium": "ab" * 32}, ChainBroken, "the block belongs to another consortium"),
        (
            {"prev_hash": "ab" * 32},
            ChainBroken,
            "prev_hash does not match the previous block's hash",
        ),
        (
            {"time": "2026-11-01T09:00:00.000000Z"},
            BlockInvalid,
            "block time is earlier than the previous block's",
        ),
        (
            {"first_index": 0, "tree_size": 2},
            ChainBroken,
            "first_index 0 but the log has 1 entries",
        ),
        (
            {"entry_count": 3, "tree_size": 4},
            BlockInvalid,
            "the header counts 3 entries, the block has 2",
        ),
        (
            {"entry_count": 1, "tree_size": 2},
            BlockInvalid,
            "the header counts 1 entries, the block has 2",
        ),
        ({"tree_size": 4}, BlockInvalid, "tree_size is not first_index + entry_count"),
        (
            {"proposer": "nobody"},
            BlockInvalid,
            "proposer: organisation 'nobody' is not a member of the consortium",
        ),
    ],
)
def test_a_block_header_that_does_not_follow_is_refused_with_its_reason(
    changes: dict[str, object], error: type[Exception], detail: str
) -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    refused = _refusal(chain, *_next_block(chain, **changes))
    assert type(refused) is error
    assert refused.detail == detail


def test_a_header_that_is_not_a_header_or_a_block_without_entries_is_refused() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    header, checkpoint, raw = _next_block(chain)
    refused = _refusal(chain, b"{}", checkpoint, raw)
    assert type(refused) is BlockInvalid and refused.detail.startswith("block header: ")
    refused = _refusal(chain, header, checkpoint, None)
    assert type(refused) is BlockInvalid and refused.detail == "no entries given"
    empty, checkpoint, _ = _next_block(chain, entry_count=0, tree_size=1)
    refused = _refusal(chain, empty, checkpoint, [])
    assert refused.detail == "the header counts 0 entries, the block has 0"


def test_a_wrong_root_says_what_was_computed() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    header, checkpoint, raw = _next_block(chain, tree_root="ab" * 32)
    refused = _refusal(chain, header, checkpoint, raw)
    assert type(refused) is MerkleRootMismatch
    tree = chain.state.tree.copy()
    for envelope, _ in raw:
        tree.append(parse_entry(envelope).entry_hash)
    assert refused.detail == (
        f"tree_root {'ab' * 32} does not match the entries (computed {tree.root().hex()})"
    )


def test_a_checkpoint_must_describe_the_block_and_carry_a_members_signature() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    header, checkpoint, raw = _next_block(chain)
    cp = Checkpoint.from_text(checkpoint)
    assert "\nheight 2\n" in cp.body
    other_body = Checkpoint(cp.body.replace("\nheight 2\n", "\nheight 9\n")).signed_by(
        "jp-jcci", chain.keys["jp-jcci"]
    )
    refused = _refusal(chain, header, other_body.to_text(), raw)
    assert type(refused) is CheckpointInvalid
    assert refused.detail == "checkpoint: the checkpoint does not describe this block"
    # No member signature at all: refused. (Any member's valid signature stores the block:
    # in a consortium every node builds and cosigns the same header; quorum makes it final.)
    refused = _refusal(chain, header, Checkpoint(cp.body).to_text(), raw)
    assert type(refused) is CheckpointInvalid
    # a root line that is not even ASCII (ValueError from the base64 decoder)
    lines = checkpoint.split("\n")
    lines[2] = "é"
    refused = _refusal(chain, header, "\n".join(lines), raw)
    assert type(refused) is CheckpointInvalid
    assert refused.detail == "checkpoint: string argument should contain only ASCII characters"
    by_bank = Checkpoint(cp.body).cosigned_by("jp-bank", chain.keys["jp-bank"], 1_700_000_000)
    before = chain.state.height
    chain.state.apply_block(header, by_bank.to_text(), raw)
    assert chain.state.height == before + 1


def test_a_block_may_have_the_time_of_the_previous_block() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    head = parse_time(chain.state.head_time or "")
    entry = chain.entry(timestamp=head)
    header, checkpoint = chain.state.propose_block([entry], "jp-jcci", chain.keys["jp-jcci"], head)
    chain.state.apply_block(header, checkpoint, [(entry.envelope, entry.payload)])
    assert chain.state.height == 2 and chain.state.head_time == format_time(head)


def test_applying_a_block_reports_what_it_added() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    entries = [chain.entry(), chain.entry()]
    header, checkpoint = chain.state.propose_block(
        entries, "jp-jcci", chain.keys["jp-jcci"], chain.clock
    )
    tree = chain.state.tree.copy()
    nodes = [n for e in entries for n in tree.append(e.entry_hash)]
    summary = chain.state.apply_block(
        header, checkpoint, [(e.envelope, e.payload) for e in entries]
    )
    assert summary.header == BlockHeader.from_bytes(header)
    assert summary.block_hash == summary.header.block_hash == chain.state.head_hash
    assert summary.checkpoint == Checkpoint.from_text(checkpoint)
    assert summary.entries == tuple(entries)
    assert summary.new_nodes == tuple(nodes) and nodes
    assert summary.signers == {"jp-jcci": chain.keys["jp-jcci"].key_id}
    assert all(e.entry_hash in chain.state.known for e in entries)


def test_entry_failures_in_a_block_name_the_entry_by_its_log_index() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    good, bad = chain.entry(), chain.entry("co.issued", "jp-exporter")  # role not allowed
    header, checkpoint = chain.state.propose_block(
        [good, bad], "jp-jcci", chain.keys["jp-jcci"], chain.clock
    )
    refused = _refusal(chain, header, checkpoint, [(good.envelope, None), (bad.envelope, None)])
    assert type(refused) is BlockInvalid
    assert refused.extra == {
        "height": 2,
        "entry_index": 2,
        "entry_hash": bad.hash_hex,
        "reason": "role-not-allowed",
    }
    assert refused.detail == (
        f"entry 2 ({bad.hash_hex}): jp-exporter has roles exporter; co.issued needs one of "
        "issuing_authority"
    )
    refused = _refusal(chain, header, checkpoint, [(good.envelope, None), (b"{}", None)])
    assert refused.extra == {"height": 2, "entry_index": 2, "reason": "non-canonical-encoding"}
    assert refused.detail == "entry 2: an entry is an object with exactly signatures and signed"


def test_membership_changes_in_one_block_apply_in_order() -> None:
    chain = make_chain()
    new = seeded_key(60)
    key = {"key_id": new.key_id, "public_key": new.public_key.to_b64(), "status": "active"}
    add = chain.entry(
        "config.update", payload=config_payload({"op": "add_key", "org": "jp-bank", "key": key})
    )
    revoke = chain.entry(
        "config.update",
        payload=config_payload({"op": "revoke_key", "org": "jp-bank", "key_id": new.key_id}),
    )
    chain.block([add, revoke])  # the revocation is checked against the membership with the key
    assert chain.state.membership.organisations["jp-bank"].keys[new.key_id].status == "revoked"


def test_preverified_outcomes_are_what_apply_block_trusts() -> None:
    chain = make_chain()
    entries = [chain.entry(), chain.entry()]
    header, checkpoint = chain.state.propose_block(
        entries, "jp-jcci", chain.keys["jp-jcci"], chain.clock
    )
    raw = [(e.envelope, e.payload) for e in entries]
    kid = chain.keys["jp-jcci"].key_id
    wrong = {kid: chain.keys["jp-bank"].public_key.raw}
    with pytest.raises(BlockInvalid) as caught:
        chain.state.apply_block(header, checkpoint, checked=preverify_batch(raw, wrong))
    assert caught.value.extra["reason"] == "bad-signature"
    assert caught.value.detail.endswith(f"the signature by key {kid} of jp-jcci does not verify")
    whole = preverify_batch(raw, chain.state.membership.raw_keys())
    assert [c.entry for c in whole] == entries  # type: ignore[union-attr]
    assert all(c.entry.payload is not None for c in whole)  # type: ignore[union-attr]
    checked = preverify_batch(raw, chain.state.membership.raw_keys(), slim=True)
    assert checked == [
        preverify(e, p, chain.state.membership.raw_keys(), slim=True) for e, p in raw
    ]
    # a batch's slim entries share their repeated values, so a batch pickles them once; the
    # round trip through pickle (worker to fold) gives the same checked entries
    first, second = checked[0], checked[1]
    assert isinstance(first, CheckedEntry) and isinstance(second, CheckedEntry)
    assert first.entry.consortium_id is second.entry.consortium_id
    assert first.entry.signatures is second.entry.signatures
    assert first.good_keys is second.good_keys and first.bad_keys is second.bad_keys
    back = pickle.loads(pickle.dumps(checked))
    assert back == checked and type(back[0]) is CheckedEntry
    assert back[0].entry.consortium_id is back[1].entry.consortium_id
    chain.state.apply_block(header, checkpoint, checked=back)
    assert chain.state.height == 1


def test_preverify_checks_every_known_key_and_slims_only_when_all_were_checked() -> None:
    chain = make_chain()
    bank, jcci = chain.keys["jp-bank"], chain.keys["jp-jcci"]
    entry = chain.entry(cosigners=[bank])
    assert preverify(entry.envelope, entry.payload, {}) == CheckedEntry(
        entry, frozenset(), frozenset()
    )
    all_keys = chain.state.membership.raw_keys()
    assert preverify(entry.envelope, entry.payload, all_keys) == CheckedEntry(
        entry, frozenset({bank.key_id, jcci.key_id}), frozenset()
    )  # not slimmed unless asked
    first, second = sorted([bank.key_id, jcci.key_id])
    raw = {bank.key_id: bank.public_key.raw, jcci.key_id: jcci.public_key.raw}
    only_second = preverify(entry.envelope, entry.payload, {second: raw[second]}, slim=True)
    assert only_second == CheckedEntry(entry, frozenset({second}), frozenset())
    mixed = preverify(
        entry.envelope, entry.payload, {first: raw[first], second: raw[first]}, slim=True
    )
    assert mixed == CheckedEntry(entry.slim(), frozenset({first}), frozenset({second})), (
        "all signatures were checked, one bad: slim"
    )
    failure = preverify(b"[]", None, raw)
    assert failure == EntryFailure(
        "non-canonical-encoding", "an entry is an object with exactly signatures and signed"
    )


def test_check_entry_says_why_it_refuses() -> None:
    chain = make_chain()
    first = chain.entry()
    chain.block([first])
    with pytest.raises(DuplicateEntry) as dup:
        check(chain, first)
    assert dup.value.detail == f"entry {first.hash_hex} is already on the ledger"
    with pytest.raises(UnknownReference) as ref:
        check(chain, chain.entry(refs=["ab" * 32]))
    assert ref.value.detail == f"entry refers to {'ab' * 32}, which is not an earlier entry"
    now = chain.clock + timedelta(hours=1)
    later = chain.entry(timestamp=now + timedelta(seconds=301))
    with pytest.raises(TimestampInFuture) as future:
        chain.state.check_entry(later, reference_time=now)
    assert future.value.detail == (
        f"timestamp {later.timestamp} is more than 300 s after {format_time(now)}"
    )
    bound = chain.entry(timestamp=now + timedelta(seconds=300))
    chain.state.check_entry(bound, reference_time=now)  # the bound itself is allowed
    # an entry may refer to one earlier in the same block
    pending = chain.entry()
    check(chain, chain.entry(refs=[pending.hash_hex]), pending={pending.entry_hash})
    head = chain.state.head_time or ""
    for window, words in ((timedelta(hours=1), "1 hour"), (timedelta(hours=23), "23 hours")):
        old = chain.entry(timestamp=parse_time(head) - window - timedelta(seconds=1))
        with pytest.raises(TimestampTooOld) as caught:
            check(chain, old, backdating=window)
        assert caught.value.detail == (
            f"timestamp {old.timestamp} is more than {words} before {head}, "
            "the time of the previous block"
        )
    fresh = make_chain()
    old = fresh.entry(timestamp=T0 - MAX_BACKDATING - timedelta(seconds=1))
    with pytest.raises(TimestampTooOld) as caught:
        check(fresh, old)
    assert caught.value.detail == (
        f"timestamp {old.timestamp} is more than 24 hours before {fresh.consortium.created}, "
        "the time of the genesis"
    )


def test_cosignatures_must_be_by_active_member_keys_and_verify() -> None:
    chain = make_chain()
    stranger = SigningKey(b"\x77" * 32)
    with pytest.raises(UnknownKey) as unknown:
        check(chain, chain.entry(cosigners=[stranger]))
    assert unknown.value.detail == (
        f"signature by key {stranger.key_id}, which is not a member's key"
    )
    bank = chain.keys["jp-bank"]
    chain.block(
        [
            chain.entry(
                "config.update",
                payload=config_payload(
                    {"op": "revoke_key", "org": "jp-bank", "key_id": bank.key_id}
                ),
            )
        ]
    )
    with pytest.raises(KeyRevoked) as revoked:
        check(chain, chain.entry(cosigners=[bank]))
    assert revoked.value.detail == f"signature by key {bank.key_id} of jp-bank, revoked earlier"
    entry = chain.entry()
    forged = entry.envelope.replace(entry.payload_digest.encode(), b"0" * 64)
    with pytest.raises(SignatureInvalid) as bad:
        check(chain, parse_entry(forged))
    kid = chain.keys["jp-jcci"].key_id
    assert bad.value.detail == f"the signature by key {kid} of jp-jcci does not verify"


@pytest.mark.parametrize(
    ("payload", "detail", "location"),
    [
        (None, "a membership change must be stored with its payload", None),
        (b"[]", 'a membership change\'s payload is {"changes": [...]}', None),
        (b'{"changes":1}', 'a membership change\'s payload is {"changes": [...]}', None),
        (
            b'{"changes":' + b"[" * 200 + b"]" * 200 + b"}",
            "a membership change's payload: values nest more than 64 deep",
            "line 1, column 75",
        ),
    ],
)
def test_a_membership_change_payload_that_is_not_a_change_list_is_rejected(
    payload: bytes | None, detail: str, location: str | None
) -> None:
    chain = make_chain()
    change = chain.entry("config.update", payload=payload or b'{"changes":[]}')
    if payload is None:
        change = parse_entry(change.envelope)
    with pytest.raises(EntryRejected) as caught:
        check(chain, change)
    assert (caught.value.detail, caught.value.location) == (detail, location)


def test_a_genesis_state_keeps_the_seen_set_it_is_given() -> None:
    chain = make_chain()
    seen = TruncatedHashSet()
    state = ChainState.genesis(chain.consortium, known=seen)
    assert state.known is seen
    entry = chain.entry()
    header, checkpoint = state.propose_block([entry], "jp-jcci", chain.keys["jp-jcci"], chain.clock)
    state.apply_block(header, checkpoint, [(entry.envelope, entry.payload)])
    assert entry.entry_hash in seen and len(seen) == 1


def test_describe_failure_gives_the_audit_fields() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    bad = chain.entry("co.issued", "jp-exporter")
    header, checkpoint = chain.state.propose_block(
        [bad], "jp-jcci", chain.keys["jp-jcci"], chain.clock
    )
    refused = _refusal(chain, header, checkpoint, [(bad.envelope, None)])
    assert describe_failure(refused) == {
        "height": 2,
        "entry_index": 1,
        "entry_hash": bad.hash_hex,
        "reason": "role-not-allowed",
        "detail": refused.detail,
    }
    broken = ChainBroken("expected height 2, found 3", height=2)
    assert describe_failure(broken) == {
        "height": 2,
        "entry_index": None,
        "entry_hash": None,
        "reason": "chain-broken",
        "detail": "expected height 2, found 3",
    }


def test_an_entry_twice_in_one_block_is_refused_and_a_ref_to_an_earlier_one_is_not() -> None:
    chain = make_chain()
    chain.block([chain.entry()])
    first = chain.entry()
    header, checkpoint = chain.state.propose_block(
        [first, first], "jp-jcci", chain.keys["jp-jcci"], chain.clock
    )
    refused = _refusal(chain, header, checkpoint, [(first.envelope, first.payload)] * 2)
    assert refused.extra["reason"] == "duplicate-entry" and refused.extra["entry_index"] == 2
    chain.block([first, chain.entry(refs=[first.hash_hex])])
    assert chain.state.height == 2
