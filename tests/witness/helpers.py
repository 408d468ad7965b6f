"""Logs to witness: a consortium's chain of checkpoints, its forks, and an independent
tlog-cosignature verifier written from the C2SP spec (it does not use ledger/cosignature.py)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.blocks import Checkpoint
from ledger.merkle import InMemorySubtreeHashes, consistency_proof
from ledger.witnessing import format_add_checkpoint
from tests.chainbuilder import TestChain, make_chain


@dataclass
class Log:
    """A chain plus every leaf hash, to cut checkpoints and prove consistency between them."""

    chain: TestChain
    leaves: list[bytes]
    notes: list[str]  # the fully signed checkpoint after each block

    def grow(self, entries: int = 2) -> str:
        batch = [self.chain.entry() for _ in range(entries)]
        self.chain.block(batch)
        self.leaves += [e.entry_hash for e in batch]
        checkpoint = Checkpoint.from_text(self.chain.blocks[-1][1])
        # every member signs, so any checkpoint quorum is met
        for org_id, key in self.chain.keys.items():
            checkpoint = checkpoint.signed_by(org_id, key)
        self.notes.append(checkpoint.to_text())
        return self.notes[-1]

    def size(self, note: str) -> int:
        return Checkpoint.from_text(note).tree_size

    def request(self, old_size: int, note: str) -> bytes:
        new_size = self.size(note)
        proof: list[bytes] = []
        if 0 < old_size < new_size:
            source = InMemorySubtreeHashes.from_leaf_hashes(self.leaves[:new_size])
            proof = consistency_proof(source, old_size, new_size)
        return format_add_checkpoint(old_size, proof, note)


def new_log() -> Log:
    return Log(make_chain(), [], [])


def forked(log: Log) -> Log:
    """Another chain of the same consortium (same origin, same keys), diverging from block 1."""
    fork = Log(make_chain(), [], [])
    fork.chain.counter = 1000  # other payloads, so other entries and other roots
    return fork


def independent_cosignature_check(body: str, line: str, vkey: str) -> int:
    """Verify a cosignature line from the spec alone; the timestamp, or AssertionError.

    tlog-cosignature: vkey = name+hex(keyid)+base64(0x04||key); keyid =
    SHA-256(name||0x0A||0x04||key)[:4]; line = "— name base64(keyid||u64be(t)||sig)";
    sig = Ed25519 over "cosignature/v1\\ntime <t>\\n" || body.
    """
    name, keyid_hex, material_b64 = vkey.split("+", 2)
    material = base64.b64decode(material_b64)
    assert material[0] == 0x04
    key = material[1:]
    assert hashlib.sha256(name.encode() + b"\n" + material).digest()[:4].hex() == keyid_hex
    assert line.endswith("\n")
    prefix = "\u2014 " + name + " "
    assert line.startswith(prefix)
    raw = base64.b64decode(line[len(prefix) : -1])
    assert len(raw) == 4 + 8 + 64
    assert raw[:4].hex() == keyid_hex
    timestamp = int.from_bytes(raw[4:12], "big")
    message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + body.encode()
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(raw[12:], message)
    except InvalidSignature as exc:
        raise AssertionError("the cosignature does not verify") from exc
    return timestamp
