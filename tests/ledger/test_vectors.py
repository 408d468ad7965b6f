"""Fixed vectors for every signed or hashed object (docs/ledger-format.md).

``tests/vectors/ledger.json`` holds the exact bytes and hashes of a consortium, an entry, a
block header and its checkpoint made from fixed seeds, times and nonces (Ed25519 signatures are
deterministic). Any change to the format changes these bytes and fails here; a reader
implementing the format elsewhere can check itself against the same file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from ledger.blocks import BlockHeader, Checkpoint, consortium_verifier_keys
from ledger.chain import ChainState
from ledger.consortium import Consortium, FoundingMember, create_genesis
from ledger.entries import build_entry, parse_entry
from ledger.keys import SigningKey
from ledger.notes import ALG_COSIGNATURE_V1, open_note, parse_note, parse_verifier_key
from ledger.status_map import StatusMap, next_state

VECTORS = Path(__file__).parent.parent / "vectors" / "ledger.json"
T0 = datetime(2026, 1, 15, 9, 30, 0, tzinfo=UTC)
#: The policy the vectors were made with, fixed here so that the vectors pin the format and not
#: the default policy of new consortia (which grows as entry types are added).
VECTOR_POLICY: dict[str, tuple[str, ...]] = {
    "co.application": ("exporter",),
    "co.issued": ("issuing_authority",),
    "co.amended": ("issuing_authority",),
    "co.revoked": ("issuing_authority",),
    "origin.declaration": ("exporter",),
    "customs.export_declaration": ("customs",),
    "customs.import_declaration": ("customs",),
    "customs.verification_requested": ("customs",),
    "customs.verification_result": ("customs",),
    "bank.presentation": ("bank",),
}


def make() -> dict[str, str]:
    issuer = SigningKey(bytes(range(32)))
    customs = SigningKey(bytes(range(32, 64)))
    consortium = create_genesis(
        "vector-consortium",
        "Vector consortium",
        [
            FoundingMember("jp-issuer", "Issuer", "JP", ["issuing_authority"], issuer),
            FoundingMember("vn-customs", "Customs", "VN", ["customs"], customs),
        ],
        created=T0,
        policy=VECTOR_POLICY,
    )
    entry = build_entry(
        "co.issued",
        "jp-issuer",
        issuer,
        b'{"number":"CO-1"}',
        "application/json",
        consortium_id="vector-consortium",
        subject="jp-issuer/CO-1",
        timestamp=T0,
        nonce="00112233445566778899aabbccddeeff",
    )
    state = ChainState.genesis(consortium)
    # the status map after the block: the certificate, current, with its one event (§12)
    record = next_state(None, [(entry.entry_hash, entry.type)], status="current")
    status_root = StatusMap().update({"jp-issuer/CO-1": record})
    header, checkpoint = state.propose_block([entry], "jp-issuer", issuer, T0, status_root)
    # a member's tlog-cosignature/v1 line, at a fixed POSIX time (T0 + 1 s)
    cosigned = Checkpoint.from_text(checkpoint).cosigned_by(
        "vn-customs", customs, int(T0.timestamp()) + 1
    )
    return {
        "issuer_public_key": issuer.public_key.to_b64(),
        "issuer_key_id": issuer.key_id,
        "consortium_hex": consortium.to_bytes().hex(),
        "consortium_hash": consortium.hash.hex(),
        "entry_envelope_hex": entry.envelope.hex(),
        "entry_payload_hex": entry.payload.hex() if entry.payload else "",
        "entry_hash": entry.hash_hex,
        "block_header_hex": header.hex(),
        "status_record_hex": record.to_bytes().hex(),
        "status_root": status_root.hex(),
        "block_hash": BlockHeader.from_bytes(header).block_hash.hex(),
        "checkpoint": checkpoint,
        "checkpoint_cosigned": cosigned.to_text(),
        "verifier_keys": "\n".join(consortium_verifier_keys(consortium.membership)),
        "cosigner_keys": "\n".join(
            consortium_verifier_keys(consortium.membership, ALG_COSIGNATURE_V1)
        ),
    }


def test_objects_match_the_vectors() -> None:
    expected = json.loads(VECTORS.read_text())
    assert make() == expected


def test_vectors_verify_from_bytes_alone() -> None:
    v = json.loads(VECTORS.read_text())
    consortium = Consortium.from_bytes(bytes.fromhex(v["consortium_hex"]))
    assert consortium.hash.hex() == v["consortium_hash"]
    entry = parse_entry(
        bytes.fromhex(v["entry_envelope_hex"]), bytes.fromhex(v["entry_payload_hex"])
    )
    assert entry.hash_hex == v["entry_hash"]
    state = ChainState.genesis(consortium)
    summary = state.apply_block(
        bytes.fromhex(v["block_header_hex"]), v["checkpoint"], [(entry.envelope, entry.payload)]
    )
    assert summary.block_hash.hex() == v["block_hash"]
    assert Checkpoint.from_text(v["checkpoint"]).tree_size == 1


def test_the_cosigned_vector_meets_a_quorum_of_two_by_vkeys_alone() -> None:
    """The vkeys and the cosigned checkpoint are all another signed-note verifier needs: the
    proposer's line checks with its type-0x01 vkey, the member's with its type-0x04 vkey."""
    v = json.loads(VECTORS.read_text())
    consortium = Consortium.from_bytes(bytes.fromhex(v["consortium_hex"]))
    cosigned = Checkpoint.from_text(v["checkpoint_cosigned"])
    assert cosigned.body == Checkpoint.from_text(v["checkpoint"]).body
    signers = cosigned.verify(
        consortium.membership, quorum=2, required={"jp-issuer": v["issuer_key_id"]}
    )
    assert sorted(signers) == ["jp-issuer", "vn-customs"]
    vkeys = v["verifier_keys"].split("\n") + v["cosigner_keys"].split("\n")
    opened = open_note(parse_note(v["checkpoint_cosigned"]), map(parse_verifier_key, vkeys))
    assert [s.name.split(":")[0] for _, s in opened.verified] == ["jp-issuer", "vn-customs"]
    assert opened.unverified == ()
