"""Fixed vectors for the status map (docs/ledger-format.md §11).

``tests/vectors/status-map/vectors.json`` holds the keys, state records, state hashes, roots
and proofs of a small fixed map built in two batches (a revocation, an amendment that
supersedes, new documents), non-membership proofs ending in an empty subtree and in another
leaf, and two raw keys that part only at their last bit (a path 256 deep). Any change to the
hashing or the encodings changes these bytes and fails here; a reader implementing the map
elsewhere can check itself against the same file.

Regenerate (only for a deliberate format change, then say so in the commit):

    .venv/bin/python -m tests.ledger.test_status_map_vectors --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from ledger.status_map import (
    EMPTY,
    DocumentState,
    StatusMap,
    StatusProof,
    document_key,
    leaf_hash,
    next_state,
    node_hash,
    verify_key_proof,
    verify_proof,
)

VECTORS = Path(__file__).parent.parent / "vectors" / "status-map" / "vectors.json"


def _entry(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def _doc(n: int) -> str:
    return f"jp-issuer/CO-{n}"


def _batches() -> list[dict[str, DocumentState]]:
    until = "2027-01-14"
    first = {
        _doc(n): next_state(
            None, [(_entry(f"issue {n}"), "co.issued")], status="current", valid_until=until
        )
        for n in (1, 2, 3, 4)
    }
    second = {
        _doc(2): next_state(
            first[_doc(2)],
            [(_entry("revoke 2"), "co.revoked")],
            status="revoked",
            valid_until=until,
        ),
        _doc(3): next_state(
            first[_doc(3)],
            [(_entry("amend 3 as 6"), "co.amended")],
            status="superseded",
            superseded_by=_doc(6),
            valid_until=until,
        ),
        _doc(6): next_state(
            None,
            [(_entry("amend 3 as 6"), "co.amended")],
            status="current",
            valid_until="2027-02-01",
        ),
        _doc(5): next_state(
            None,
            [
                (_entry("declare 5"), "customs.export_declaration"),
                (_entry("import 5"), "customs.import_declaration"),
            ],
            status="current",
        ),
    }
    return [first, second]


def make() -> dict[str, Any]:
    smt = StatusMap()
    roots = [smt.root.hex()]
    held: dict[str, DocumentState] = {}
    for batch in _batches():
        smt.update(batch)
        held.update(batch)
        roots.append(smt.root.hex())
    documents = {
        doc: {
            "key": document_key(doc).hex(),
            "state": state.to_json(),
            "state_bytes": state.to_bytes().decode(),
            "state_hash": state.state_hash().hex(),
            "leaf_hash": leaf_hash(document_key(doc), state.state_hash()).hex(),
            "proof": smt.prove(doc).to_bytes().hex(),
        }
        for doc, state in sorted(held.items())
    }
    absent: dict[str, Any] = {}
    for end in ("empty", "other"):  # the first two absent ids whose paths end each way
        ids = (_doc(n) for n in range(7, 1000) if smt.prove(_doc(n)).end == end)
        for doc in (next(ids), next(ids)):
            absent[doc] = {"key": document_key(doc).hex(), "proof": smt.prove(doc).to_bytes().hex()}
    deep = StatusMap()
    a, b = bytes(32), bytes(31) + b"\x01"
    deep.update_hashed({a: _entry("a"), b: _entry("b")})
    return {
        "empty": EMPTY.hex(),
        "roots": roots,
        "documents": documents,
        "absent": absent,
        "deep": {
            "keys": [a.hex(), b.hex()],
            "state_hashes": [_entry("a").hex(), _entry("b").hex()],
            "root": deep.root.hex(),
            "proof_of_second": deep.prove_key(b).to_bytes().hex(),
        },
    }


def test_the_map_matches_the_vectors() -> None:
    assert make() == json.loads(VECTORS.read_text())


def _root_by_definition(leaves: dict[int, bytes], depth: int = 0) -> bytes:
    if not leaves:
        return EMPTY
    if len(leaves) == 1:
        [leaf] = leaves.values()
        return leaf
    bit = 255 - depth
    left = {k: v for k, v in leaves.items() if not k >> bit & 1}
    right = {k: v for k, v in leaves.items() if k >> bit & 1}
    return node_hash(_root_by_definition(left, depth + 1), _root_by_definition(right, depth + 1))


def test_the_vectors_verify_from_the_file_alone() -> None:
    v = json.loads(VECTORS.read_text())
    root = bytes.fromhex(v["roots"][-1])
    leaves = {}
    for doc, item in v["documents"].items():
        state = DocumentState.from_bytes(item["state_bytes"].encode())
        assert state.to_json() == item["state"]
        state_hash = hashlib.sha256(
            b"tradeledger/v1/status-state\n" + item["state_bytes"].encode()
        ).digest()
        assert state_hash.hex() == item["state_hash"]
        key = hashlib.sha256(b"tradeledger/v1/status-key\n" + json.dumps(doc).encode()).digest()
        assert key.hex() == item["key"]
        leaf = hashlib.sha256(b"tradeledger/v1/status-leaf\n" + key + state_hash).digest()
        assert leaf.hex() == item["leaf_hash"]
        leaves[int.from_bytes(key, "big")] = leaf
        verify_proof(root, doc, bytes.fromhex(item["proof"]), state)
    assert _root_by_definition(leaves) == root
    ends = set()
    for doc, item in v["absent"].items():
        proof = StatusProof.from_bytes(bytes.fromhex(item["proof"]))
        ends.add(proof.end)
        verify_proof(root, doc, proof, None)
    assert ends == {"empty", "other"}
    deep = v["deep"]
    proof = StatusProof.from_bytes(bytes.fromhex(deep["proof_of_second"]))
    assert proof.depth == 256
    verify_key_proof(
        bytes.fromhex(deep["root"]),
        bytes.fromhex(deep["keys"][1]),
        proof,
        bytes.fromhex(deep["state_hashes"][1]),
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        VECTORS.parent.mkdir(parents=True, exist_ok=True)
        VECTORS.write_text(json.dumps(make(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.exit("usage: python -m tests.ledger.test_status_map_vectors --write")
