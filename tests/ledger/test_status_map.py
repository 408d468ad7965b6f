"""The status map (ledger/status_map.py, docs/ledger-format.md §11).

The map is held against a naive definition (the root computed from scratch by splitting the
key set bit by bit) over random batches of inserts and updates; every proof it gives verifies,
and tampering with proof, state or root fails. Raw keys with long shared prefixes reach the
deep paths (up to 256) that SHA-256 keys never do.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import EncodingError, InvalidInput, ProofInvalid, TradeLedgerError
from ledger.status_map import (
    EMPTY,
    NO_EVENTS,
    DocumentState,
    MemoryNodeStore,
    StatusMap,
    StatusProof,
    chain_event,
    document_key,
    leaf_hash,
    next_state,
    node_hash,
    verify_events,
    verify_key_proof,
    verify_proof,
)


def naive_root(items: dict[int, bytes], depth: int = 0) -> bytes:
    """The map's root by its definition: empty, one leaf, or split on bit ``depth``."""
    if not items:
        return EMPTY
    if len(items) == 1:
        [(key, value)] = items.items()
        return leaf_hash(key.to_bytes(32, "big"), value)
    left = {k: v for k, v in items.items() if not k >> (255 - depth) & 1}
    right = {k: v for k, v in items.items() if k >> (255 - depth) & 1}
    return node_hash(naive_root(left, depth + 1), naive_root(right, depth + 1))


def h(i: int) -> bytes:
    return hashlib.sha256(i.to_bytes(8, "big")).digest()


def state(n: int, status: str = "current") -> DocumentState:
    events = [(h(n * 1000 + i), "co.issued") for i in range(1 + n % 3)]
    return next_state(None, events, status=status)


# --- hypothesis: the map against its definition ------------------------------------------------

doc_ids = st.sampled_from([f"jp-issuer/CO-{i}" for i in range(40)])
statuses = st.sampled_from(["current", "superseded", "revoked", "unknown"])
batches = st.lists(
    st.dictionaries(doc_ids, st.tuples(st.integers(0, 50), statuses), max_size=12),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(batches)
def test_batches_match_the_definition_and_every_proof_verifies(
    batches: list[dict[str, tuple[int, str]]],
) -> None:
    smt = StatusMap()
    held: dict[str, DocumentState] = {}
    for batch in batches:
        states = {d: state(n, s) for d, (n, s) in batch.items()}
        staged = smt.stage(states)
        assert smt.root == naive_root(
            {int.from_bytes(document_key(d), "big"): s.state_hash() for d, s in held.items()}
        )  # staging writes nothing
        assert smt.apply(staged) == staged.root
        held.update(states)
        assert smt.root == naive_root(
            {int.from_bytes(document_key(d), "big"): s.state_hash() for d, s in held.items()}
        )
    root = smt.root
    for i in range(40):
        doc = f"jp-issuer/CO-{i}"
        proof = smt.prove(doc)
        data = proof.to_bytes()
        assert StatusProof.from_bytes(data) == proof
        if doc in held:
            assert proof.is_membership()
            verify_proof(root, doc, data, held[doc])
            with pytest.raises(ProofInvalid):
                verify_proof(root, doc, data, None)  # membership is not absence
            other = state(99, "revoked")
            if other != held[doc]:
                with pytest.raises(ProofInvalid):
                    verify_proof(root, doc, data, other)
        else:
            assert not proof.is_membership()
            verify_proof(root, doc, data, None)
            with pytest.raises(ProofInvalid):
                verify_proof(root, doc, data, state(1))


def test_one_batch_equals_the_same_changes_one_by_one() -> None:
    states = {f"jp-issuer/CO-{i}": state(i) for i in range(200)}
    together, apart = StatusMap(), StatusMap()
    together.update(states)
    for doc, s in states.items():
        apart.update({doc: s})
    assert together.root == apart.root
    assert together.store.nodes == apart.store.nodes  # type: ignore[attr-defined]


# raw keys that share long prefixes: every depth up to 256
deep_keys = st.lists(
    st.tuples(st.integers(0, 254), st.integers(0, 3)).map(
        lambda p: (((1 << 256) - 1) & ~(3 << p[0]) | p[1] << p[0]).to_bytes(32, "big")
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(deep_keys, min_size=1, max_size=4), st.integers(0, 255))
def test_deep_paths(batches: list[list[bytes]], probe_bit: int) -> None:
    smt = StatusMap()
    held: dict[bytes, bytes] = {}
    for n, keys in enumerate(batches):
        items = {k: hashlib.sha256(k + bytes([n])).digest() for k in keys}
        smt.update_hashed(items)
        held.update(items)
    root = smt.root
    assert root == naive_root({int.from_bytes(k, "big"): v for k, v in held.items()})
    for key, value in held.items():
        proof = smt.prove_key(key)
        assert smt.get_hashed(key) == value
        verify_key_proof(root, key, StatusProof.from_bytes(proof.to_bytes()), value)
    probe = (int.from_bytes(next(iter(held)), "big") ^ (1 << probe_bit)).to_bytes(32, "big")
    if probe not in held:
        proof = smt.prove_key(probe)
        assert proof.end in ("empty", "other")
        verify_key_proof(root, probe, proof.to_bytes(), None)


def test_two_keys_that_differ_in_the_last_bit_sit_at_depth_256() -> None:
    a, b = bytes(32), bytes(31) + b"\x01"
    smt = StatusMap()
    smt.update_hashed({a: h(1), b: h(2)})
    proof = smt.prove_key(b)
    assert proof.depth == 256
    assert len(proof.to_bytes()) == 3 + 32 + 32  # one non-empty sibling: the other leaf
    verify_key_proof(smt.root, b, proof.to_bytes(), h(2))


# --- tampering ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def filled() -> tuple[StatusMap, dict[str, DocumentState]]:
    states = {f"jp-issuer/CO-{i}": state(i) for i in range(300)}
    smt = StatusMap()
    smt.update(states)
    return smt, states


def test_every_byte_of_a_proof_matters(filled: tuple[StatusMap, dict[str, DocumentState]]) -> None:
    smt, states = filled
    doc = "jp-issuer/CO-7"
    data = smt.prove(doc).to_bytes()
    for i in range(len(data)):
        for flip in (0x01, 0x80):
            bad = data[:i] + bytes([data[i] ^ flip]) + data[i + 1 :]
            with pytest.raises(ProofInvalid):
                verify_proof(smt.root, doc, bad, states[doc])


def test_a_tampered_root_or_state_fails(
    filled: tuple[StatusMap, dict[str, DocumentState]],
) -> None:
    smt, states = filled
    doc = "jp-issuer/CO-8"
    proof = smt.prove(doc)
    with pytest.raises(ProofInvalid, match="status root"):
        verify_proof(bytes([smt.root[0] ^ 1]) + smt.root[1:], doc, proof, states[doc])
    revoked = next_state(states[doc], [], status="revoked")
    with pytest.raises(ProofInvalid):
        verify_proof(smt.root, doc, proof, revoked)
    with pytest.raises(ProofInvalid):
        verify_proof(smt.root, "jp-issuer/CO-9", proof, states[doc])  # another document's


def test_absent_documents_get_non_membership_proofs(
    filled: tuple[StatusMap, dict[str, DocumentState]],
) -> None:
    smt, _ = filled
    ends = set()
    for i in range(300, 400):
        doc = f"jp-issuer/CO-{i}"
        proof = smt.prove(doc)
        ends.add(proof.end)
        verify_proof(smt.root, doc, proof.to_bytes(), None)
        with pytest.raises(ProofInvalid, match="holds nothing"):
            verify_proof(smt.root, doc, proof, state(1))
    assert ends == {"empty", "other"}


def test_a_membership_proof_cannot_pass_for_absence(
    filled: tuple[StatusMap, dict[str, DocumentState]],
) -> None:
    smt, states = filled
    doc = "jp-issuer/CO-10"
    proof = smt.prove(doc)
    key = document_key(doc)
    # the same path, claimed to end in another leaf that is the document's own
    disguised = StatusProof("other", proof.siblings, key, states[doc].state_hash())
    with pytest.raises(ProofInvalid, match="own"):
        verify_proof(smt.root, doc, disguised.to_bytes(), None)
    # or in an empty subtree
    with pytest.raises(ProofInvalid):
        verify_proof(smt.root, doc, StatusProof("empty", proof.siblings).to_bytes(), None)


def test_another_leaf_off_the_path_is_refused(
    filled: tuple[StatusMap, dict[str, DocumentState]],
) -> None:
    smt, _ = filled
    absent = next(
        f"jp-issuer/CO-{i}" for i in range(300, 400) if smt.prove(f"jp-issuer/CO-{i}").depth
    )
    proof = smt.prove(absent)
    stranger = document_key("jp-issuer/CO-1")
    while not (int.from_bytes(stranger, "big") ^ int.from_bytes(document_key(absent), "big")) >> (
        256 - proof.depth
    ):
        stranger = hashlib.sha256(stranger).digest()  # pragma: no cover - one in 2**depth
    forged = StatusProof("other", proof.siblings, stranger, h(1))
    with pytest.raises(ProofInvalid, match="path"):
        verify_proof(smt.root, absent, forged, None)


def test_an_empty_map_proves_only_absence() -> None:
    smt = StatusMap()
    assert smt.root == EMPTY
    proof = smt.prove("jp-issuer/CO-1")
    assert proof.to_bytes() == b"\x01\x00\x00"
    verify_proof(EMPTY, "jp-issuer/CO-1", proof, None)
    with pytest.raises(ProofInvalid):
        verify_proof(EMPTY, "jp-issuer/CO-1", proof, state(1))


def test_a_map_of_one_is_its_leaf() -> None:
    smt = StatusMap()
    s = state(1)
    smt.update({"jp-issuer/CO-1": s})
    assert smt.root == leaf_hash(document_key("jp-issuer/CO-1"), s.state_hash())
    assert smt.prove("jp-issuer/CO-1").to_bytes() == b"\x00\x00\x00"


# --- strict parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "at least 3"),
        (b"\x00\x00", "at least 3"),
        (b"\x03\x00\x00", "kind 3"),
        (b"\x00\x01\x01", "at most 256"),
        (b"\x00\x00\x01", "ends inside its bitmap"),
        (b"\x00\x00\x01\x40" + bytes(32), "past depth"),
        (b"\x00\x00\x01\x80", "header says"),
        (b"\x00\x00\x01\x80" + bytes(33), "header says"),
        (b"\x00\x00\x00" + b"\x00", "header says"),
        (b"\x02\x00\x00" + bytes(63), "header says"),
        (b"\x00\x00\x02\x80" + bytes(32), "deepest sibling is empty"),
        (b"\x01\x00\x02\x00", "deepest sibling is empty"),
    ],
)
def test_malformed_proofs_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ProofInvalid, match=message) as caught:
        StatusProof.from_bytes(data)
    assert caught.value.code == "proof-invalid"
    assert isinstance(caught.value, TradeLedgerError)


def test_proofs_round_trip_at_every_depth() -> None:
    for depth in (1, 7, 8, 9, 255, 256):
        siblings = tuple(h(i) if i % 3 == 0 or i == depth - 1 else None for i in range(depth))
        proof = StatusProof("empty", siblings)
        assert StatusProof.from_bytes(proof.to_bytes()) == proof


# --- the state record and its events -----------------------------------------------------------


def test_state_record_round_trips_and_is_strict() -> None:
    s = next_state(
        None,
        [(h(1), "co.issued"), (h(2), "co.amended")],
        status="superseded",
        superseded_by="jp-issuer/CO-2",
        valid_until="2027-01-14",
    )
    assert s.events == 2
    assert s.events_hash == chain_event(chain_event(NO_EVENTS, h(1)), h(2))
    assert s.latest_event == h(2) and s.latest_type == "co.amended"
    assert DocumentState.from_bytes(s.to_bytes()) == s
    assert DocumentState.from_json(s.to_json()) == s
    for bad in (
        s.to_bytes().replace(b'"v":1', b'"v":2'),
        s.to_bytes().replace(b'"events":2', b'"events":0'),
        s.to_bytes().replace(b'"superseded"', b'"expired"'),
        s.to_bytes().replace(b'"2027-01-14"', b'"2027-1-14"'),
        s.to_bytes().replace(b'"2027-01-14"', b'"2027-02-30"'),
        s.to_bytes().replace(b'"co.amended"', b'"amended"'),
        s.to_bytes().replace(b'{"events"', b'{"x":1,"events"'),
        s.to_bytes().replace(b',"v":1', b',"v":true'),
        s.to_bytes().replace(b'"events":2', b'"events": 2'),  # not canonical
    ):
        with pytest.raises(EncodingError):
            DocumentState.from_bytes(bad)


def test_next_state_appends_events_and_takes_the_index_status() -> None:
    first = next_state(None, [(h(1), "co.issued")], status="current", valid_until="2027-01-14")
    later = next_state(first, [(h(2), "co.revoked")], status="revoked")
    assert later.events == 2 and later.status == "revoked" and later.latest_type == "co.revoked"
    assert later == next_state(None, [(h(1), "co.issued"), (h(2), "co.revoked")], status="revoked")
    with pytest.raises(InvalidInput):
        next_state(None, [], status="current")
    with pytest.raises(InvalidInput):
        next_state(None, [(h(1), "co.issued")], status="expired")


def test_expired_is_computed_not_stored() -> None:
    from datetime import date

    s = next_state(None, [(h(1), "co.issued")], status="current", valid_until="2027-01-14")
    assert not s.is_expired(date(2027, 1, 14))
    assert s.is_expired(date(2027, 1, 15))


def test_verify_events_finds_a_withheld_event() -> None:
    events = [(h(i), "co.issued" if i == 0 else "customs.import_declaration") for i in range(4)]
    s = next_state(None, events, status="current")
    hashes = [e for e, _ in events]
    verify_events(s, hashes)
    with pytest.raises(ProofInvalid, match="records 4 event"):
        verify_events(s, hashes[:-1])  # the latest withheld
    with pytest.raises(ProofInvalid, match="records 4 event"):
        verify_events(s, hashes[:1] + hashes[2:])  # one in the middle withheld
    with pytest.raises(ProofInvalid, match="running hash"):
        verify_events(s, [hashes[1], hashes[0], *hashes[2:]])  # reordered
    with pytest.raises(ProofInvalid, match="latest event"):
        verify_events(s, [*hashes[:-1], h(99)])  # replaced


def test_keys_are_domain_separated() -> None:
    assert document_key("a/1") == hashlib.sha256(b'tradeledger/v1/status-key\n"a/1"').digest()
    with pytest.raises(InvalidInput):
        document_key("")


def test_the_store_is_pluggable() -> None:
    class Counting(MemoryNodeStore):
        reads = 0

        def get(self, position: int) -> bytes | None:
            Counting.reads += 1
            return super().get(position)

    store = Counting()
    StatusMap(store).update({f"jp-issuer/CO-{i}": state(i) for i in range(50)})
    again = StatusMap(store)  # a new map over the same nodes
    assert again.root == naive_root(
        {
            int.from_bytes(document_key(f"jp-issuer/CO-{i}"), "big"): state(i).state_hash()
            for i in range(50)
        }
    )
    assert Counting.reads > 0


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(["unknown", "current", "superseded", "revoked"])),
    st.integers(1, 2**53 - 1),
    st.binary(min_size=32, max_size=32),
    st.sampled_from(["co.issued", "co.amended", "customs.import_declaration"]),
    st.none() | st.text(min_size=1, max_size=200),
    st.none() | st.dates().map(lambda d: d.isoformat()).filter(lambda t: len(t) == 10),
)
def test_state_bytes_are_the_canonical_encoding(
    status: str, events: int, digest: bytes, etype: str, by: str | None, until: str | None
) -> None:
    from ledger.encoding import canonical_bytes

    try:
        s = DocumentState(status, events, digest, digest[::-1], etype, by, until)
    except InvalidInput:
        return  # a superseded_by with a lone surrogate (not text) is refused
    expected = canonical_bytes(s.to_json())
    assert s.to_bytes() == expected
    assert DocumentState.from_bytes(expected) == s
