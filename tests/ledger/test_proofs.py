"""``ledger.proofs`` on hand-made answers: a log built in memory, responses shaped as a node's,
and one thing wrong in each (a signature, a root, a stated field, a field's type).

The log here is only leaves and signed checkpoints, not a chain: a member that signs
checkpoints can put any leaf in its tree, and the offline verifier must still refuse an entry
whose signature is not its author's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledger.blocks import BlockHeader, Checkpoint, checkpoint_body, checkpoint_origin
from ledger.encoding import b64encode
from ledger.entries import Entry, parse_entry
from ledger.errors import CheckpointInvalid, ProofInvalid, UnreadableInput
from ledger.merkle import (
    InMemorySubtreeHashes,
    consistency_proof,
    inclusion_proof,
    root_from_leaf_hashes,
)
from ledger.proofs import parse_checkpoint, response_kind, verify_response, verify_response_bytes
from nodes.cli.main import app
from tests import chainbuilder
from tests.chainbuilder import make_chain, seeded_key

CO = "jp-jcci/CO-1"
OTHER_CO = "jp-jcci/CO-2"


@dataclass
class Log:
    """Leaves in order and checkpoints over any prefix of them."""

    chain: chainbuilder.TestChain  # not imported by name: pytest would try to collect it
    leaves: list[Entry] = field(default_factory=list)

    def add(self, *entries: Entry) -> None:
        self.leaves.extend(entries)

    @property
    def size(self) -> int:
        return len(self.leaves)

    def tree(self) -> InMemorySubtreeHashes:
        return InMemorySubtreeHashes.from_leaf_hashes(e.entry_hash for e in self.leaves)

    def root(self, size: int) -> bytes:
        return root_from_leaf_hashes([e.entry_hash for e in self.leaves[:size]])

    def checkpoint(
        self, size: int | None = None, *, signers: Sequence[str] = ("jp-jcci",), root: bytes = b""
    ) -> Checkpoint:
        size = self.size if size is None else size
        header = BlockHeader(
            consortium=self.chain.consortium.hash.hex(),
            height=size,
            prev_hash="00" * 32,
            time="2026-11-01T09:00:00.000000Z",
            proposer=signers[0] if signers else "jp-jcci",
            key_id=self.chain.keys["jp-jcci"].key_id,
            first_index=0,
            entry_count=size,
            tree_size=size,
            tree_root=(root or self.root(size)).hex(),
            status_root="00" * 32,
        )
        checkpoint = Checkpoint(
            checkpoint_body(checkpoint_origin(self.chain.consortium.consortium_id), header)
        )
        for org in signers:
            checkpoint = checkpoint.signed_by(org, self.chain.keys.get(org) or seeded_key(99))
        return checkpoint

    def proof(self, entry: Entry, size: int | None = None) -> dict[str, Any]:
        size = self.size if size is None else size
        index = self.leaves.index(entry)
        hashes = inclusion_proof(self.tree(), index, size)
        return {"leaf_index": index, "tree_size": size, "hashes": [h.hex() for h in hashes]}

    def event(self, entry: Entry, size: int | None = None) -> dict[str, Any]:
        """One event of a provenance, as ``LedgerNode.provenance`` gives it."""
        return {
            "event": entry.type,
            "entry_hash": entry.hash_hex,
            "leaf_index": self.leaves.index(entry),
            "timestamp": entry.timestamp,
            "actor": entry.author,
            "envelope": b64encode(entry.envelope),
            "payload_digest": entry.payload_digest,
            "inclusion_proof": self.proof(entry, size),
        }

    def provenance(
        self, document_id: str, entries: Sequence[Entry], size: int | None = None, **stated: Any
    ) -> dict[str, Any]:
        size = self.size if size is None else size
        return {
            "document_id": document_id,
            "status": "current",
            "kind": "certificate_of_origin",
            "issuer": "jp-jcci",
            "superseded_by": None,
            "tree_size": size,
            "height": size,
            "checkpoint": self.checkpoint(size).to_text(),
            "events": [self.event(e, size) for e in entries],
            **stated,
        }

    def inclusion(self, entry: Entry, size: int | None = None) -> dict[str, Any]:
        size = self.size if size is None else size
        return {
            "entry_hash": entry.hash_hex,
            **self.proof(entry, size),
            "envelope": b64encode(entry.envelope),
            "checkpoint": self.checkpoint(size).to_text(),
        }

    def verify_answer(self, entry: Entry, size: int | None = None) -> dict[str, Any]:
        size = self.size if size is None else size
        return {
            "found": True,
            "match": "document_id",
            "document_id": entry.subject,
            "status": "current",
            "kind": "certificate_of_origin",
            "issuer": entry.author,
            "issued_at": entry.timestamp,
            "valid_until": None,
            "superseded_by": None,
            "entry_hash": entry.hash_hex,
            "leaf_index": self.leaves.index(entry),
            "envelope": b64encode(entry.envelope),
            "inclusion_proof": self.proof(entry, size),
            "checkpoint": {"checkpoint": self.checkpoint(size).to_text(), "tree_size": size},
            "reason": None,
        }

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        hashes = consistency_proof(self.tree(), first, second)
        return {"first": first, "second": second, "hashes": [h.hex() for h in hashes]}


@pytest.fixture
def log() -> Log:
    """CO-1 issued, declared, revoked; CO-2 issued; with a few unrelated leaves between."""
    chain = make_chain()
    log = Log(chain)
    issued = chain.entry("co.issued", subject=CO)
    log.add(chain.entry("co.issued", subject=OTHER_CO), issued)
    log.add(chain.entry("customs.import_declaration", "vn-customs", refs=[issued.hash_hex]))
    log.add(*(chain.entry() for _ in range(3)))
    log.add(chain.entry("co.revoked", subject=CO, refs=[issued.hash_hex]))
    return log


def of(log: Log, document_id: str) -> list[Entry]:
    issued = [e for e in log.leaves if e.subject == document_id]
    return [e for e in log.leaves if e in issued or set(e.refs) & {i.hash_hex for i in issued}]


def verify(log: Log, response: dict[str, Any], **kwargs: Any) -> Any:
    return verify_response(response, log.checkpoint(), log.chain.consortium.membership, **kwargs)


def test_a_genuine_provenance_verifies(log: Log) -> None:
    report = verify(log, log.provenance(CO, of(log, CO), status="revoked"))
    assert [e.type for e in report.entries] == [
        "co.issued",
        "customs.import_declaration",
        "co.revoked",
    ]
    assert report.signers == ("jp-jcci",) and not report.via_consistency


# --- 1. entry signatures ----------------------------------------------------------------------


def with_signature(entry: Entry, key_id: str, signature: bytes) -> Entry:
    """``entry`` with the signature by ``key_id`` replaced (a new envelope, a new hash)."""
    old = dict(entry.signatures)[key_id]
    envelope = entry.envelope.replace(b64encode(old).encode(), b64encode(signature).encode())
    assert envelope != entry.envelope
    return parse_entry(envelope)


def test_an_author_signature_that_does_not_verify_fails(log: Log) -> None:
    """The author's own key, the author's own signature, over another entry."""
    genuine = log.chain.entry("co.issued", subject="jp-jcci/CO-9")
    other = log.chain.entry("co.issued", subject="jp-jcci/CO-10")
    key_id = genuine.key_id
    forged = with_signature(genuine, key_id, dict(other.signatures)[key_id])
    log.add(forged)
    with pytest.raises(ProofInvalid) as caught:
        verify(log, log.inclusion(forged))
    assert caught.value.detail == (
        f"entry {forged.hash_hex}: the signature by jp-jcci (key {key_id}) does not verify"
    )


@pytest.mark.parametrize("signer", ["jp-exporter", "nobody"])
def test_an_entry_signed_with_a_key_not_its_authors_fails(log: Log, signer: str) -> None:
    """Signed by another member's key, or by a key the consortium does not know at all."""
    key = log.chain.keys.get(signer) or seeded_key(99)
    forged = log.chain.entry("co.issued", "jp-jcci", key=key, subject="jp-jcci/CO-9")
    log.add(forged)
    with pytest.raises(ProofInvalid) as caught:
        verify(log, log.inclusion(forged))
    assert caught.value.detail == (
        f"entry {forged.hash_hex}: key {key.key_id} is not a key of the author jp-jcci in the "
        "consortium file (a key added by a later membership change cannot be checked offline)"
    )


def test_a_cosignature_by_a_known_key_must_verify_and_an_unknown_one_is_ignored(
    log: Log,
) -> None:
    customs, stranger = log.chain.keys["vn-customs"], seeded_key(98)
    cosigned = log.chain.entry("co.issued", subject="jp-jcci/CO-9", cosigners=[customs, stranger])
    other = log.chain.entry("co.issued", subject="jp-jcci/CO-10", cosigners=[customs, stranger])
    bad_known = with_signature(cosigned, customs.key_id, dict(other.signatures)[customs.key_id])
    bad_stranger = with_signature(
        cosigned, stranger.key_id, dict(other.signatures)[stranger.key_id]
    )
    log.add(bad_known, bad_stranger)
    with pytest.raises(ProofInvalid) as caught:
        verify(log, log.inclusion(bad_known))
    assert f"the signature by vn-customs (key {customs.key_id}) does not verify" in (
        caught.value.detail
    )
    assert verify(log, log.inclusion(bad_stranger)).entries[0].entry_hash == bad_stranger.hash_hex


# --- 2. forks and the consistency path ---------------------------------------------------------


def forked(log: Log, size: int) -> Checkpoint:
    """A checkpoint signed by the same member for another tree of ``size`` leaves."""
    return log.checkpoint(size, root=bytes(32))


def test_a_response_checkpoint_with_another_root_at_the_trusted_size_is_a_fork(log: Log) -> None:
    response = log.provenance(CO, of(log, CO), status="revoked")
    response["checkpoint"] = forked(log, log.size).to_text()
    with pytest.raises(ProofInvalid, match="a fork, or a forged response"):
        verify(log, response)


def test_a_forked_response_checkpoint_is_refused_whatever_size_the_proofs_are_to(
    log: Log,
) -> None:
    """Proofs to an older tree, linked by a genuine consistency proof; the response's own
    checkpoint is of the trusted size with another root: signed evidence of a fork."""
    old = log.size
    response = log.inclusion(of(log, CO)[0])
    log.add(log.chain.entry())
    consistency = {
        **log.consistency(old, log.size),
        "first_checkpoint": log.checkpoint(old).to_text(),
    }
    assert verify(log, {**response, "checkpoint": None}, consistency=consistency)
    # the trusted checkpoint itself as the response's: no fork, and not the older tree's root
    genuine = {**response, "checkpoint": log.checkpoint().to_text()}
    assert verify(log, genuine, consistency=consistency).proof_tree_size == old
    response["checkpoint"] = forked(log, log.size).to_text()
    with pytest.raises(ProofInvalid, match="a fork, or a forged response"):
        verify(log, response, consistency=consistency)


def test_proofs_to_an_older_tree_verify_through_the_responses_own_checkpoint(log: Log) -> None:
    """The trusted checkpoint is newer than the response; the response's own signed checkpoint
    gives the older root, which the consistency proof links to the trusted one."""
    old = log.size
    issued = of(log, CO)[0]
    response = log.inclusion(issued)
    log.add(log.chain.entry(), log.chain.entry())
    consistency = log.consistency(old, log.size)
    report = verify(log, response, consistency=consistency)
    assert report.via_consistency and report.proof_tree_size == old
    assert report.tree_size == log.size
    # as files, through verify_response_bytes
    raw = verify_response_bytes(
        json.dumps(response).encode(),
        log.checkpoint().to_text(),
        log.chain.consortium.membership,
        json.dumps(consistency).encode(),
    )
    assert raw.via_consistency
    # carried in the response itself, it serves as well
    assert verify(log, {**response, "consistency_proof": consistency}).via_consistency
    # without a checkpoint of the older tree there is no root to check the proofs against
    with pytest.raises(ProofInvalid, match=f"no checkpoint of the tree of {old} leaves"):
        verify(log, {**response, "checkpoint": None}, consistency=consistency)
    # a checkpoint of the older tree that the consortium did not sign is not one
    unsigned = log.checkpoint(old, signers=("nobody",)).to_text()
    with pytest.raises(CheckpointInvalid, match=f"the checkpoint of the tree of {old} leaves"):
        verify(log, {**response, "checkpoint": unsigned}, consistency=consistency)
    # a signed checkpoint of another older tree is not consistent with the trusted one
    fork = log.checkpoint(old, root=log.root(old - 1)).to_text()
    with pytest.raises(ProofInvalid, match=f"the tree of {old} leaves is not consistent"):
        verify(log, {**response, "checkpoint": fork}, consistency=consistency)


def test_proofs_to_a_newer_tree_verify_through_the_checkpoint_the_proof_carries(
    log: Log,
) -> None:
    old = log.size
    trusted = log.checkpoint()
    log.add(log.chain.entry())
    response = log.inclusion(of(log, CO)[0])
    response["checkpoint"] = None
    consistency = log.consistency(old, log.size)
    membership = log.chain.consortium.membership
    with pytest.raises(ProofInvalid, match=f"no checkpoint of the tree of {log.size}"):
        verify_response(response, trusted, membership, consistency)
    consistency["second_checkpoint"] = log.checkpoint().to_text()
    report = verify_response(response, trusted, membership, consistency)
    assert report.proof_tree_size == log.size and report.tree_size == old


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"first": 2}, "the consistency proof is from 2 to 8 leaves; 7 to 8 is needed"),
        ({"second": 10}, "the consistency proof is from 7 to 10 leaves; 7 to 8 is needed"),
        ({"first": "7"}, "the consistency proof: first is missing or not a int"),
        ({"hashes": ["zz" * 32]}, "consistency proof hash 0 is not 64 hex digits"),
        ({"hashes": [7]}, "consistency proof hash 0 is not 64 hex digits"),
        ({"hashes": None}, "the consistency proof: hashes is missing or not a list"),
    ],
)
def test_a_consistency_proof_for_other_sizes_or_of_bad_hashes_fails(
    log: Log, change: dict[str, Any], message: str
) -> None:
    old = log.size
    assert old == 7
    response = log.inclusion(of(log, CO)[0])
    log.add(log.chain.entry())
    consistency = {**log.consistency(old, log.size), **change}
    with pytest.raises(ProofInvalid) as caught:
        verify(log, response, consistency=consistency)
    assert caught.value.detail == message


def test_a_consistency_proof_that_is_not_an_object_fails(log: Log) -> None:
    response = log.inclusion(of(log, CO)[0])
    log.add(log.chain.entry())
    with pytest.raises(ProofInvalid, match="the consistency proof is not an object"):
        verify(log, response, consistency=["not", "an", "object"])  # type: ignore[arg-type]


# --- 3. what the response says beside the envelope ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("event", "co.amended"),
        ("type", "co.amended"),
        ("actor", "jp-exporter"),
        ("author", "jp-exporter"),
        ("timestamp", "2026-11-01T09:00:00Z"),
        ("payload_digest", "00" * 32),
    ],
)
def test_a_stated_field_that_is_not_the_envelopes_fails(log: Log, name: str, value: str) -> None:
    response = log.provenance(CO, of(log, CO), status="revoked")
    signed = {
        "event": "co.issued",
        "type": "co.issued",
        "actor": "jp-jcci",
        "author": "jp-jcci",
        "timestamp": of(log, CO)[0].timestamp,
        "payload_digest": of(log, CO)[0].payload_digest,
    }[name]
    response["events"][0][name] = value
    with pytest.raises(ProofInvalid) as caught:
        verify(log, response)
    assert caught.value.detail.endswith(
        f": the response says {name} {value!r}, the signed entry says {signed!r}"
    )
    assert caught.value.detail.startswith("event 1 (")


# --- 4. field types, found: false, the leaf-index cross-check ----------------------------------


@pytest.mark.parametrize(
    ("where", "name", "value", "message"),
    [
        ("proof", "tree_size", "9", "tree_size is missing or not a int"),
        ("proof", "leaf_index", True, "leaf_index is missing or not a int"),
        ("proof", "hashes", "ab", "hashes is missing or not a list"),
        ("proof", "hashes", ["ab"], "proof hash 0 is not 64 hex digits"),
        ("proof", "hashes", ["zz" * 32], "proof hash 0 is not hex"),
        ("event", "envelope", 5, "envelope is missing or not a str"),
        ("event", "envelope", "***", "the envelope is not valid base64"),
        ("event", "entry_hash", None, "entry_hash is missing or not a str"),
        ("event", "inclusion_proof", [], "inclusion_proof is missing or not a dict"),
        ("response", "tree_size", "8", "the response: tree_size is missing or not a int"),
        ("proof", "leaf_index", 0, "its leaf index differs from its proof's"),
        ("response", "document_id", 1, "the response: document_id is missing or not a str"),
        ("response", "events", {}, "the response: events is missing or not a list"),
    ],
)
def test_a_field_of_the_wrong_type_fails_cleanly(
    log: Log, tmp_path: Path, where: str, name: str, value: Any, message: str
) -> None:
    response = log.provenance(CO, of(log, CO), status="revoked")
    target = {
        "proof": response["events"][0]["inclusion_proof"],
        "event": response["events"][0],
        "response": response,
    }[where]
    target[name] = value
    with pytest.raises(ProofInvalid) as caught:
        verify_response_bytes(
            json.dumps(response).encode(),
            log.checkpoint().to_text(),
            log.chain.consortium.membership,
        )
    prefix = "" if where == "response" else "event 1 (co.issued at leaf 1): "
    assert caught.value.detail == prefix + message
    r = cli(log, tmp_path, response)
    assert r.exit_code == 1, r.output
    assert r.output.startswith("error[proof-invalid]: ")


def test_events_of_different_tree_sizes_or_another_stated_size_fail(log: Log) -> None:
    response = log.provenance(CO, of(log, CO), status="revoked")
    response["events"][1]["inclusion_proof"] = log.proof(of(log, CO)[1], log.size - 1)
    with pytest.raises(ProofInvalid, match="its proof is to a tree of 6 leaves, the others to 7"):
        verify(log, response)
    response = log.provenance(CO, of(log, CO), status="revoked", tree_size=6)
    with pytest.raises(ProofInvalid, match="says its proofs are to 6 leaves, but they are to 7"):
        verify(log, response)


def test_an_event_whose_leaf_index_is_not_its_proofs_fails(log: Log) -> None:
    response = log.provenance(CO, of(log, CO), status="revoked")
    response["events"][1]["leaf_index"] += 1
    with pytest.raises(ProofInvalid, match="its leaf index differs from its proof's"):
        verify(log, response)


def test_a_verify_answer_that_found_nothing_proves_nothing_even_with_a_proof(log: Log) -> None:
    answer = log.verify_answer(of(log, CO)[0])
    assert verify(log, answer).entries[0].subject == CO
    with pytest.raises(ProofInvalid, match="the response proves nothing: no document matching"):
        verify(log, {**answer, "found": False, "reason": "no document matching this"})
    with pytest.raises(ProofInvalid, match="proves nothing: no inclusion proof in the response"):
        verify(log, {**answer, "inclusion_proof": None})


def test_a_provenance_with_no_events_proves_nothing(log: Log) -> None:
    with pytest.raises(ProofInvalid, match=f"the provenance of {CO} lists no events to verify"):
        verify(log, log.provenance(CO, []))


# --- the document: kind, issuer, status ---------------------------------------------------------


@pytest.mark.parametrize(
    ("stated", "message"),
    [
        ({"kind": "customs_declaration"}, 'is of kind "customs_declaration", but event 1'),
        ({"issuer": "jp-exporter"}, "was issued by 'jp-exporter', but event 1 (co.issued"),
        ({"status": "superseded"}, 'is "superseded", but event 3 (co.revoked at leaf 6)'),
        ({"status": "unknown"}, 'is "unknown", but event 3 (co.revoked at leaf 6) revokes it'),
    ],
)
def test_stated_facts_the_events_contradict_fail(
    log: Log, stated: dict[str, Any], message: str
) -> None:
    response = log.provenance(CO, of(log, CO), **{"status": "revoked", **stated})
    with pytest.raises(ProofInvalid, match=re.escape(message)):
        verify(log, response)


def test_a_current_certificate_with_events_that_neither_revoke_nor_amend_it_verifies(
    log: Log,
) -> None:
    """Declarations (another subject, a ref) and requests (its subject, a ref) leave it current."""
    issued = of(log, OTHER_CO)[0]
    log.add(
        log.chain.entry("customs.import_declaration", "vn-customs", refs=[issued.hash_hex]),
        log.chain.entry(
            "customs.verification_requested", "vn-customs", subject=OTHER_CO, refs=[issued.hash_hex]
        ),
    )
    report = verify(log, log.provenance(OTHER_CO, of(log, OTHER_CO)))
    assert [e.type for e in report.entries] == [
        "co.issued",
        "customs.import_declaration",
        "customs.verification_requested",
    ]
    assert report.proven[0].startswith(f"the checkpoint (height {log.size}, tree size")
    assert report.proven[-1] == 'the status "current" is consistent with these events'
    assert report.not_proven == (
        f'that these are all the events of {OTHER_CO}; the status "current" is the node\'s word',
    )
    with pytest.raises(ProofInvalid, match="neither revoke nor amend it"):
        verify(log, log.provenance(OTHER_CO, of(log, OTHER_CO), status="superseded"))


def test_a_document_stated_as_a_certificate_needs_its_defining_event(log: Log) -> None:
    revoked = of(log, CO)[-1]
    response = log.provenance(CO, [revoked], status="revoked")
    with pytest.raises(
        ProofInvalid, match=re.escape("none of its events is a co.amended or co.issued of " + CO)
    ):
        verify(log, response)


def test_a_verify_answer_must_name_a_document(log: Log) -> None:
    answer = log.verify_answer(of(log, CO)[0])
    with pytest.raises(ProofInvalid, match="names no document_id"):
        verify(log, {**answer, "document_id": None})


# --- through the command line ------------------------------------------------------------------


def cli(log: Log, tmp_path: Path, response: dict[str, Any]) -> Any:
    (tmp_path / "genesis.json").write_bytes(log.chain.consortium.to_bytes())
    (tmp_path / "response.json").write_text(json.dumps(response))
    (tmp_path / "checkpoint.txt").write_text(log.checkpoint().to_text())
    return CliRunner().invoke(
        app,
        [
            "proof",
            "verify",
            str(tmp_path / "response.json"),
            "--checkpoint",
            str(tmp_path / "checkpoint.txt"),
            "--consortium",
            str(tmp_path / "genesis.json"),
        ],
    )


def test_proof_verify_refuses_a_forged_signature(log: Log, tmp_path: Path) -> None:
    forged = log.chain.entry("co.issued", "jp-jcci", key=seeded_key(99), subject="jp-jcci/X")
    log.add(forged)
    assert cli(log, tmp_path, log.inclusion(of(log, CO)[0])).exit_code == 0
    r = cli(log, tmp_path, log.inclusion(forged))
    assert r.exit_code == 1, r.output
    assert "is not a key of the author jp-jcci" in r.output


# --- second round of mutation testing: status folding, verify answers, reports, checkpoints ----


def test_an_amended_certificate_is_superseded_by_the_amendments_subject(log: Log) -> None:
    issued = of(log, OTHER_CO)[0]
    amended = log.chain.entry("co.amended", subject="jp-jcci/CO-2A", refs=[issued.hash_hex])
    log.add(amended)
    events = of(log, OTHER_CO)
    where = f"event 2 (co.amended at leaf {log.leaves.index(amended)})"
    stated = {"status": "superseded", "superseded_by": "jp-jcci/CO-2A"}
    report = verify(log, log.provenance(OTHER_CO, events, **stated))
    assert report.status == "superseded"
    for wrong, message in (
        (
            {**stated, "superseded_by": "jp-jcci/CO-9"},
            f"the response says {OTHER_CO} is superseded by 'jp-jcci/CO-9', but {where} "
            "amends it as 'jp-jcci/CO-2A'",
        ),
        (
            {**stated, "status": "current"},
            f'the response says {OTHER_CO} is "current", but {where} amends it',
        ),
    ):
        with pytest.raises(ProofInvalid) as caught:
            verify(log, log.provenance(OTHER_CO, events, **wrong))
        assert caught.value.detail == message


def test_a_revoked_certificate_stays_revoked_after_a_later_defining_event(log: Log) -> None:
    issued = of(log, CO)[0]
    log.add(log.chain.entry("co.amended", subject=CO, refs=[issued.hash_hex]))
    events = of(log, CO)
    assert verify(log, log.provenance(CO, events, status="revoked")).status == "revoked"
    with pytest.raises(ProofInvalid, match="revokes it"):
        verify(log, log.provenance(CO, events, status="current"))


def test_an_expired_certificate_is_consistent_with_its_issue(log: Log) -> None:
    report = verify(log, log.provenance(OTHER_CO, of(log, OTHER_CO), status="expired"))
    assert report.proven[-1] == 'the status "expired" is consistent with these events'


def test_a_document_no_event_defines_may_have_no_status_from_the_events(log: Log) -> None:
    request = log.chain.entry("customs.verification_requested", "vn-customs", subject="vn/REQ-1")
    log.add(request)
    plain = {"kind": "request", "issuer": None}
    report = verify(log, log.provenance("vn/REQ-1", [request], status="open", **plain))
    assert report.status == "open"
    with pytest.raises(ProofInvalid) as caught:
        verify(log, log.provenance("vn/REQ-1", [request], status="current", **plain))
    assert caught.value.detail == (
        'the response says vn/REQ-1 is "current", but none of its events defines it'
    )


def test_events_listed_twice_or_out_of_order_are_named(log: Log) -> None:
    issued, declared, revoked = of(log, CO)
    first = f"event 1 (co.issued at leaf {log.leaves.index(issued)})"
    response = log.provenance(CO, [issued, issued, revoked], status="revoked")
    with pytest.raises(ProofInvalid) as caught:
        verify(log, response)
    assert caught.value.detail == (
        f"event 2 (co.issued at leaf {log.leaves.index(issued)}) is {first} again: "
        "an event may be listed once"
    )
    response = log.provenance(CO, [issued, revoked, declared], status="revoked")
    with pytest.raises(ProofInvalid) as caught:
        verify(log, response)
    assert caught.value.detail == (
        f"event 3 (customs.import_declaration at leaf {log.leaves.index(declared)}) comes after "
        f"leaf {log.leaves.index(revoked)}: the events are not in log order"
    )


def test_a_report_says_what_it_proved_in_json(log: Log) -> None:
    events = of(log, CO)
    report = verify(log, log.provenance(CO, events, status="revoked"))
    assert report.to_json() == {
        "verified": True,
        "kind": "provenance",
        "document_id": CO,
        "status": "revoked",
        "tree_size": log.size,
        "height": log.size,
        "signers": ["jp-jcci"],
        "proof_tree_size": log.size,
        "via_consistency": False,
        "entries": [
            {
                "entry_hash": e.hash_hex,
                "leaf_index": log.leaves.index(e),
                "type": e.type,
                "author": e.author,
                "timestamp": e.timestamp,
                "subject": e.subject,
                "refs": list(e.refs),
            }
            for e in events
        ],
        "proven": [
            f"the checkpoint (height {log.size}, tree size {log.size}) is signed by jp-jcci, "
            "a quorum of the consortium",
            "3 entries are in the log under it, each signed by its author with a key the "
            "consortium file gives the author, and each as the response describes it",
            f"every event is bound to {CO} (its signed subject, or a signed ref to an earlier "
            "event of it), in log order, none twice",
            f"{CO} is a certificate_of_origin by jp-jcci, defined by event 1 (co.issued at "
            f"leaf {log.leaves.index(events[0])})",
            'the status "revoked" is consistent with these events',
        ],
        "not_proven": [
            f'that these are all the events of {CO}; the status "revoked" is the node\'s word'
        ],
    }
    single = verify(log, log.inclusion(events[0]))
    assert single.status is None and single.kind == "inclusion-proof"
    assert single.proven[1].startswith("1 entry is in the log under it")


def test_a_verify_answer_is_checked_against_its_defining_entry(log: Log) -> None:
    issued = of(log, OTHER_CO)[0]
    answer = log.verify_answer(issued)
    report = verify(log, answer)
    assert (report.kind, report.document_id, report.status) == ("verify", OTHER_CO, "current")
    assert report.proven[-1] == (
        f"{OTHER_CO} is a certificate_of_origin by jp-jcci, defined by entry {issued.hash_hex}"
    )
    assert report.not_proven == (
        f"that {OTHER_CO} has no event but its defining entry (a revocation or amendment may "
        'be left out); the status "current" is the node\'s word',
    )
    assert verify(log, {**answer, "issued_at": None}).entries  # not stated: not checked
    for wrong, message in (
        (
            {"issued_at": "2026-01-01T00:00:00.000000Z"},
            f"the response says {OTHER_CO} was issued at '2026-01-01T00:00:00.000000Z', but its "
            f"entry is signed at {issued.timestamp}",
        ),
        (
            {"kind": "nonsense"},
            f'the response says {OTHER_CO} is of kind "nonsense", but its entry is a co.issued',
        ),
        (
            {"kind": "customs_declaration"},
            f'the response says {OTHER_CO} is of kind "customs_declaration", but its entry is a '
            "co.issued, not a customs.export_declaration or customs.import_declaration",
        ),
        (
            {"document_id": CO},
            f"the response says its entry defines '{CO}', but the entry's signed subject is "
            f"'{OTHER_CO}'",
        ),
        (
            {"issuer": "jp-bank"},
            f"the response says {OTHER_CO} was issued by 'jp-bank', but the defining entry of "
            f"{OTHER_CO} is signed by jp-jcci",
        ),
        (
            {"entry_hash": "ab" * 32},
            f"the defining entry of {OTHER_CO}: the envelope hashes to {issued.hash_hex}, not "
            "the stated entry hash",
        ),
    ):
        with pytest.raises(ProofInvalid) as caught:
            verify(log, {**answer, **wrong})
        assert caught.value.detail == message
    forked_answer = {**answer, "checkpoint": {"checkpoint": forked(log, log.size).to_text()}}
    with pytest.raises(ProofInvalid, match="a fork, or a forged response"):
        verify(log, forked_answer)


def test_an_empty_response_checkpoint_is_no_checkpoint(log: Log) -> None:
    response = {**log.inclusion(of(log, CO)[0]), "checkpoint": ""}
    assert verify(log, response).entries


def test_proofs_to_another_size_without_a_consistency_proof_say_what_to_fetch(log: Log) -> None:
    old = log.size
    response = log.inclusion(of(log, CO)[0])
    log.add(log.chain.entry())
    with pytest.raises(ProofInvalid) as caught:
        verify(log, {**response, "checkpoint": None})
    assert caught.value.detail == (
        f"the response's proofs are to a tree of {old} leaves, smaller than the checkpoint's "
        f"{old + 1}, and no consistency proof links the two (fetch GET "
        f"/v1/consistency-proof?first={old}&second={old + 1} and pass it with --consistency)"
    )
    with pytest.raises(ProofInvalid) as caught:
        verify_response(
            log.inclusion(of(log, CO)[0]),
            log.checkpoint(old),
            log.chain.consortium.membership,
        )
    assert caught.value.detail.startswith(
        f"the response's proofs are to a tree of {old + 1} leaves, larger than the checkpoint's "
        f"{old}, and no consistency proof links the two (fetch GET "
        f"/v1/consistency-proof?first={old}&second={old + 1} "
    )


@pytest.mark.parametrize(
    ("data", "error", "detail"),
    [
        ("", CheckpointInvalid, "the checkpoint is empty (the node had no block yet)"),
        (
            b'{"checkpoint": ""}',
            CheckpointInvalid,
            "the checkpoint is empty (the node had no block yet)",
        ),
        ("{not json", UnreadableInput, None),
        (
            '{"tree_size": 3}',
            UnreadableInput,
            "the checkpoint JSON has no 'checkpoint' text member",
        ),
        (
            '{"checkpoint": 5}',
            UnreadableInput,
            "the checkpoint JSON has no 'checkpoint' text member",
        ),
        (
            b"\xff\n\n",
            CheckpointInvalid,
            "the checkpoint is malformed: malformed signed note: no signature lines",
        ),
    ],
)
def test_parse_checkpoint_refuses_what_is_not_a_checkpoint(
    data: bytes | str, error: type[Exception], detail: str | None
) -> None:
    with pytest.raises(error) as caught:
        parse_checkpoint(data)
    if detail is not None:
        assert caught.value.detail == detail  # type: ignore[attr-defined]
    else:
        assert caught.value.detail.startswith("the checkpoint file is not valid JSON: ")  # type: ignore[attr-defined]


def test_parse_checkpoint_reads_text_bytes_and_both_json_forms(log: Log) -> None:
    text = log.checkpoint().to_text()
    expected = Checkpoint.from_text(text)
    for data in (
        text,
        text.encode(),
        json.dumps({"checkpoint": text}),
        "  \n" + json.dumps({"checkpoint": text}).encode().decode(),
        json.dumps({"found": True, "checkpoint": {"checkpoint": text}}).encode(),
    ):
        assert parse_checkpoint(data) == expected
    no_height = text.replace(f"\nheight {log.size}\n", "\n")
    with pytest.raises(CheckpointInvalid) as caught:
        parse_checkpoint(no_height)
    assert caught.value.detail == (
        "the checkpoint is malformed: a checkpoint body is origin, tree size, root hash, "
        "height, block and time lines"
    )
    bad_height = text.replace(f"\nheight {log.size}\n", "\nheight x\n")
    with pytest.raises(CheckpointInvalid) as caught:
        parse_checkpoint(bad_height)
    assert caught.value.detail == (
        "the checkpoint is malformed: the checkpoint height is not ASCII decimal without "
        "leading zeros: 'x'"
    )


def test_what_a_response_is_made_of_is_named_in_each_refusal(log: Log) -> None:
    def refused(response: Any, **kwargs: Any) -> str:
        with pytest.raises((ProofInvalid, CheckpointInvalid, UnreadableInput)) as caught:
            verify(log, response, **kwargs)
        return caught.value.detail  # type: ignore[no-any-return]

    response = log.provenance(CO, of(log, CO), status="revoked")
    assert refused({**response, "events": ["x"]}) == "event 1 (?) is not an object"
    one = log.provenance(CO, of(log, CO)[:1], status="current", tree_size=3)
    assert refused(one) == (
        f"the response says its proofs are to 3 leaves, but they are to {log.size}"
    )
    broken = json.loads(json.dumps(response))
    broken["events"][0]["envelope"] = b64encode(b"{}")
    assert refused(broken).startswith(
        "event 1 (co.issued at leaf 1): the envelope is not a valid entry: an entry is an object"
    )
    broken = json.loads(json.dumps(response))
    broken["events"][0]["inclusion_proof"]["hashes"][0] = "00" * 32
    assert refused(broken).startswith("event 1 (co.issued at leaf 1): the ")
    assert refused({**response, "checkpoint": "nonsense"}) == (
        "the response's checkpoint is malformed: malformed signed note: no blank line before "
        "the signature lines"
    )
    answer = log.verify_answer(of(log, CO)[0])
    assert refused({**answer, "inclusion_proof": 5}) == (
        f"the defining entry of {CO}: inclusion_proof is missing or not a dict"
    )
    assert refused({**answer, "document_id": None}) == (
        "the response carries an entry but names no document_id"
    )
    inclusion = log.inclusion(of(log, CO)[0])
    old = log.size
    log.add(log.chain.entry())
    assert refused({**inclusion, "checkpoint": None}, consistency=[]) == (
        "the consistency proof is not an object"
    )
    assert refused({**inclusion, "checkpoint": None}, consistency={"first": old}) == (
        "the consistency proof: second is missing or not a int"
    )
    with pytest.raises(UnreadableInput) as caught:
        verify_response_bytes(b"{", log.checkpoint().to_text(), log.chain.consortium.membership)
    assert caught.value.detail.startswith("the response is not valid JSON: ")
    with pytest.raises(UnreadableInput) as caught:
        verify_response_bytes(
            json.dumps(inclusion).encode(),
            log.checkpoint().to_text(),
            log.chain.consortium.membership,
            b"{",
        )
    assert caught.value.detail.startswith("the consistency proof is not valid JSON: ")


def test_response_kind_reads_only_the_three_answers() -> None:
    inclusion = {"leaf_index": 0, "tree_size": 1, "hashes": [], "envelope": ""}
    assert response_kind(inclusion) == "inclusion-proof"
    assert response_kind({"found": False, "checkpoint": {}}) == "verify"
    for other in ({"found": True, "checkpoint": "text"}, {"checkpoint": {}}, [inclusion]):
        with pytest.raises(UnreadableInput) as caught:
            response_kind(other)
        assert caught.value.detail == (
            "the file is not a provenance, inclusion-proof or verify response of a tradeledger node"
        )


def test_a_report_keeps_only_a_stated_status_and_all_it_proved(log: Log) -> None:
    issued = of(log, OTHER_CO)[0]
    answer = log.verify_answer(issued)
    report = verify(log, {**answer, "status": 5})
    assert report.status is None and len(report.proven) == 3
    assert report.proven[0].startswith("the checkpoint (height")
    inclusion = verify(log, {**log.inclusion(issued), "status": "current"})
    assert inclusion.status is None
    with pytest.raises(ProofInvalid) as caught:
        verify(log, {**answer, "kind": ["certificate_of_origin"]})
    assert caught.value.detail == (
        f'the response says {OTHER_CO} is of kind ["certificate_of_origin"], but its entry is '
        "a co.issued"
    )
    two = verify_response(
        answer, log.checkpoint(signers=("jp-jcci", "jp-bank")), log.chain.consortium.membership
    )
    assert two.proven[0].endswith("is signed by jp-bank, jp-jcci, a quorum of the consortium")


def test_a_checkpoint_of_another_consortium_is_refused_by_name(log: Log) -> None:
    cp = log.checkpoint()
    foreign = Checkpoint(cp.body.replace("tradeledger/test-consortium", "tradeledger/other", 1))
    with pytest.raises(CheckpointInvalid) as caught:
        verify_response(log.inclusion(of(log, CO)[0]), foreign, log.chain.consortium.membership)
    assert caught.value.detail == (
        "the checkpoint is for 'tradeledger/other', not this consortium "
        "('tradeledger/test-consortium')"
    )
    issuer = f"the response says {CO} was issued by 'jp-bank', but event 1"
    with pytest.raises(ProofInvalid, match=re.escape(issuer)):
        verify(log, log.provenance(CO, of(log, CO), status="revoked", issuer="jp-bank"))


def test_an_unbound_event_and_an_unfounded_status_are_refused_in_full(log: Log) -> None:
    issued = of(log, OTHER_CO)[0]
    stray = log.leaves[3]  # an unrelated co.issued of another subject
    where = f"event 2 ({stray.type} at leaf 3)"
    with pytest.raises(ProofInvalid) as caught:
        verify(log, log.provenance(OTHER_CO, [issued, stray]))
    assert caught.value.detail == (
        f"{where} is not an event of {OTHER_CO}: its signed subject is {stray.subject!r} and "
        f"none of its signed refs is an earlier event of {OTHER_CO}"
    )
    with pytest.raises(ProofInvalid) as caught:
        verify(log, log.provenance(OTHER_CO, [issued], status="revoked"))
    assert caught.value.detail == (
        f'the response says {OTHER_CO} is "revoked", but its events define it and neither '
        "revoke nor amend it"
    )
