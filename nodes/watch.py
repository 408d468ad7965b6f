"""``tradeledger audit watch``: follow a node's checkpoints and catch a split view.

Each poll reads ``GET /v1/checkpoint``, verifies its signatures and quorum against the
consortium the auditor trusts, and checks it against the last checkpoint seen (kept in a small
JSON state file): the same tree size must have the same root and block, a larger one must come
with an RFC 9162 consistency proof (``GET /v1/consistency-proof``) from the old root to the new
one, and a smaller one is a rollback. Two properly signed checkpoints that fail this are a split
view: no single append-only log could have produced both. Both are then written, with the
proof the node gave, to an evidence file next to the state, which is left at the old checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.client import TradeLedgerClient
from ledger.blocks import Checkpoint
from ledger.consortium import Consortium
from ledger.encoding import canonical_bytes
from ledger.errors import (
    AuditStateInvalid,
    CheckpointInvalid,
    ConfigurationError,
    InvalidInput,
    NotFound,
    ProofInvalid,
    SplitView,
)
from ledger.merkle import verify_consistency
from ledger.proofs import parse_checkpoint, verify_checkpoint

FORMAT = "tradeledger-watch-state"
VERSION = 1


@dataclass
class Observation:
    """What one poll found: ``status`` is ``first``, ``same`` or ``consistent``."""

    status: str
    checkpoint: Checkpoint
    previous: Checkpoint | None


def poll(client: TradeLedgerClient, consortium: Consortium, state_path: Path) -> Observation:
    """One round: fetch, verify, compare, save. Raises :class:`SplitView` (after writing the
    evidence), :class:`CheckpointInvalid` for a checkpoint that does not verify, and the
    client's errors for a node that cannot be reached."""
    previous_text = load(state_path, consortium)
    text = client.checkpoint().checkpoint
    checkpoint = parse_checkpoint(text)
    verify_checkpoint(checkpoint, consortium.membership, "the node's checkpoint")
    if previous_text is None:
        save(state_path, consortium, text)
        return Observation("first", checkpoint, None)
    previous = parse_checkpoint(previous_text)
    old, new = previous.tree_size, checkpoint.tree_size
    proof: list[str] | None = None
    reason: str | None = None
    if new < old:
        reason = f"the tree shrank from {old} to {new} entries (a rollback)"
    elif new == old:
        if (checkpoint.root_hash, checkpoint.block_hash) != (
            previous.root_hash,
            previous.block_hash,
        ):
            reason = f"two different trees (or head blocks) of {new} entries"
    else:
        try:
            answer = client.consistency_proof(old, new)
            proof = answer.hashes
            verify_consistency(
                old,
                new,
                previous.root_hash,
                checkpoint.root_hash,
                [bytes.fromhex(h) for h in proof],
            )
        except ProofInvalid as exc:
            reason = f"the node's consistency proof from {old} to {new} fails: {exc.detail}"
        except (NotFound, InvalidInput) as exc:
            reason = (
                f"the node cannot prove its tree of {new} entries extends the one of {old} it "
                f"signed before: {exc.detail}"
            )
        except ValueError as exc:  # a hash that is not hex
            reason = f"the node's consistency proof from {old} to {new} is malformed: {exc}"
    if reason is not None:
        evidence = write_evidence(state_path, previous_text, text, proof, reason)
        raise SplitView(f"{reason}; evidence in {evidence}", evidence=str(evidence))
    if new != old or text != previous_text:
        save(state_path, consortium, text)
    return Observation("same" if new == old else "consistent", checkpoint, previous)


def write_evidence(
    state_path: Path, first: str, second: str, proof: list[str] | None, reason: str
) -> Path:
    """Both checkpoints, the node's proof and why they conflict, in a new file next to the
    state (never overwriting earlier evidence)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = state_path.with_name(f"{state_path.name}.split-view-{stamp}.json")
    doc = {
        "kind": "split-view",
        "detected_at": stamp,
        "reason": reason,
        "first_checkpoint": first,
        "second_checkpoint": second,
        "consistency_proof": proof,
    }
    try:
        with open(path, "x", encoding="utf-8") as f:
            f.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise ConfigurationError(f"cannot write the split-view evidence {path}: {exc}") from exc
    return path


def load(path: Path, consortium: Consortium) -> str | None:
    """The last checkpoint text seen, or None before the first poll."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(f"cannot read the watch state {path}: {exc}") from exc
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise AuditStateInvalid(f"{path} is not a watch state (not JSON: {exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise AuditStateInvalid(f"{path} is not a watch state of version {VERSION}")
    if set(doc) != {"format", "version", "consortium_id", "genesis_hash", "checkpoint", "digest"}:
        raise AuditStateInvalid(f"{path} does not have the members of a watch state")
    if doc["digest"] != _digest(doc):
        raise AuditStateInvalid(
            f"{path} was edited or corrupted (its content does not match its digest)"
        )
    if (doc["consortium_id"], doc["genesis_hash"]) != (
        consortium.consortium_id,
        consortium.hash.hex(),
    ):
        raise AuditStateInvalid(
            f"{path} watches consortium {doc['consortium_id']!r} (genesis {doc['genesis_hash']}),"
            f" not {consortium.consortium_id!r} (genesis {consortium.hash.hex()})"
        )
    text = doc["checkpoint"]
    try:
        verify_checkpoint(parse_checkpoint(text), consortium.membership, "the saved checkpoint")
    except (CheckpointInvalid, InvalidInput, TypeError) as exc:
        raise AuditStateInvalid(f"{path}: {getattr(exc, 'detail', exc)}") from exc
    return str(text)


def save(path: Path, consortium: Consortium, checkpoint: str) -> None:
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "consortium_id": consortium.consortium_id,
        "genesis_hash": consortium.hash.hex(),
        "checkpoint": checkpoint,
    }
    doc["digest"] = _digest(doc)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigurationError(f"cannot write the watch state {path}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _digest(doc: dict[str, Any]) -> str:
    return hashlib.sha256(
        canonical_bytes({k: v for k, v in doc.items() if k != "digest"})
    ).hexdigest()
