"""What an auditor has verified, kept between runs of ``tradeledger audit replay --state FILE``.

A replay folds every block through :class:`ledger.chain.ChainState`; the state after the last
block is all the next run needs to go on from there: the head (height, hash, time), the Merkle
frontier (:class:`ledger.merkle.CompactRange`), the membership in force, the last verified
checkpoint, and the set of entry hashes seen (duplicates and references are checked against
it). The first five are a few kilobytes of JSON; the set is not: a million entries make a
32 MB :class:`~ledger.chain.TruncatedHashSet`. It goes into a binary sidecar, the table exactly
as it is in memory, so that resuming costs one read and no re-hashing (rebuilding it from a list
of hashes takes seconds at a million entries, reading it milliseconds). The sidecar's name
carries its digest and the JSON records that digest, so a new state never pairs with an old
set; the JSON records a digest of its own content too, so that a corrupted or hand-edited file
is refused rather than trusted (this catches accidents and careless edits, not someone who can
also recompute the digest: the state file is a trust anchor like the genesis file, to be kept
where only the auditor writes).

Before folding new blocks, :func:`check_source` makes sure the source still has the block the
state ends with (same hash, same checkpoint body): a chain rewritten anywhere at or below the
saved height changes that hash. After folding, :func:`check_consistency` asks the source for
an RFC 9162 consistency proof from the saved tree to the new head and verifies it against the
roots the fold computed. Files are written only after a valid run, each to a temporary file
renamed over the old one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ledger.blocks import BlockHeader, Checkpoint
from ledger.chain import ChainState, TruncatedHashSet
from ledger.consortium import Consortium, Membership
from ledger.encoding import canonical_bytes
from ledger.errors import (
    AuditStateInvalid,
    ChainBroken,
    ConfigurationError,
    EncodingError,
    NotFound,
    TradeLedgerError,
)
from ledger.merkle import CompactRange, verify_consistency
from nodes.store import RawBlock

FORMAT = "tradeledger-audit-state"
VERSION = 1
_FIELDS = {
    "format",
    "version",
    "consortium_id",
    "genesis_hash",
    "height",
    "head_hash",
    "head_time",
    "tree_size",
    "tree_peaks",
    "membership",
    "checkpoint",
    "known",
    "digest",
}


class BlockSource(Protocol):
    """What an incremental replay reads: a store (``LedgerStore``) or a node (``RemoteLedger``)."""

    def block(self, height: int) -> RawBlock: ...

    def consistency_proof(self, first: int, second: int) -> list[bytes]: ...


@dataclass
class SavedAudit:
    """A loaded state: the fold's state to go on from and the checkpoint it ended with."""

    state: ChainState
    checkpoint: str | None  # None only for a chain that had no block yet


def load(path: Path, consortium: Consortium) -> SavedAudit | None:
    """The state saved in ``path``, or None when there is no such file (a first run).

    :class:`AuditStateInvalid` for a file that is not a state, was edited or corrupted, or
    belongs to another consortium; :class:`ConfigurationError` for one that cannot be read.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(f"cannot read the audit state {path}: {exc}") from exc
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise AuditStateInvalid(f"{path} is not an audit state (not JSON: {exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise AuditStateInvalid(f"{path} is not an audit state (no format {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise AuditStateInvalid(
            f"{path} is an audit state of version {doc.get('version')!r}; "
            f"this tradeledger reads version {VERSION}"
        )
    if set(doc) != _FIELDS:
        raise AuditStateInvalid(f"{path} does not have the members of an audit state")
    if doc["digest"] != _digest(doc):
        raise AuditStateInvalid(
            f"{path} was edited or corrupted (its content does not match its digest)"
        )
    if doc["consortium_id"] != consortium.consortium_id or doc["genesis_hash"] != (
        consortium.hash.hex()
    ):
        raise AuditStateInvalid(
            f"{path} is the state of consortium {doc['consortium_id']!r} (genesis "
            f"{doc['genesis_hash']}), not of {consortium.consortium_id!r} "
            f"(genesis {consortium.hash.hex()})"
        )
    try:
        state = _state(doc, consortium, path)
    except AuditStateInvalid:
        raise
    except (TradeLedgerError, ValueError, TypeError, KeyError, AttributeError) as exc:
        detail = getattr(exc, "detail", None) or str(exc)
        raise AuditStateInvalid(f"{path} is not a usable audit state: {detail}") from exc
    return SavedAudit(state, doc["checkpoint"])


def _state(doc: dict[str, Any], consortium: Consortium, path: Path) -> ChainState:
    height = _int(doc["height"], "height")
    tree = CompactRange.from_state(
        _int(doc["tree_size"], "tree_size"), [bytes.fromhex(p) for p in doc["tree_peaks"]]
    )
    membership = Membership.from_dict(consortium.consortium_id, doc["membership"], "/membership")
    known = _load_known(path, doc["known"], tree.size)
    head_hash = bytes.fromhex(doc["head_hash"])
    if height == 0:
        if tree.size or doc["checkpoint"] is not None or head_hash != consortium.hash:
            raise ValueError("a state at height 0 has no entries, checkpoint or head block")
    else:
        checkpoint = Checkpoint.from_text(doc["checkpoint"])
        if (checkpoint.height, checkpoint.block_hash, checkpoint.tree_size) != (
            height,
            head_hash,
            tree.size,
        ) or checkpoint.root_hash != tree.root():
            raise ValueError("the saved checkpoint does not describe the saved head and tree")
    return ChainState(
        consortium=consortium,
        membership=membership,
        height=height,
        head_hash=head_hash,
        head_time=doc["head_time"],
        tree=tree,
        known=known,
    )


def _load_known(path: Path, spec: Any, tree_size: int) -> TruncatedHashSet:
    if not isinstance(spec, dict) or set(spec) != {"file", "count", "sha256"}:
        raise ValueError("'known' must be {file, count, sha256}")
    name = spec["file"]
    if not isinstance(name, str) or name != _sidecar(path, spec["sha256"]).name:
        raise ValueError("'known' names a file that is not this state's sidecar")
    if spec["count"] != tree_size:
        raise ValueError(f"the state has {tree_size} entries but {spec['count']} entry hashes")
    try:
        table = (path.parent / name).read_bytes()
    except OSError as exc:
        raise AuditStateInvalid(
            f"the entry hashes of {path} ({path.parent / name}) cannot be read: {exc}"
        ) from exc
    if hashlib.sha256(table).hexdigest() != spec["sha256"]:
        raise AuditStateInvalid(f"{path.parent / name} was edited or corrupted")
    return TruncatedHashSet.from_bytes(table, spec["count"])


def save(path: Path, state: ChainState, checkpoint: str | None) -> None:
    """Write ``state`` (after a valid run): the entry-hash sidecar first, then the JSON that
    names it, each atomically; then remove the sidecars no state names any more."""
    if not isinstance(state.known, TruncatedHashSet):
        raise TypeError("only a TruncatedHashSet of known entries can be saved")
    table = state.known.to_bytes()
    table_digest = hashlib.sha256(table).hexdigest()
    sidecar = _sidecar(path, table_digest)
    try:
        if not sidecar.exists():
            _atomic_write(sidecar, table)
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "consortium_id": state.consortium.consortium_id,
            "genesis_hash": state.consortium.hash.hex(),
            "height": state.height,
            "head_hash": state.head_hash.hex(),
            "head_time": state.head_time,
            "tree_size": state.tree.size,
            "tree_peaks": [p.hex() for p in state.tree.peaks],
            "membership": state.membership.to_dict(),
            "checkpoint": checkpoint,
            "known": {"file": sidecar.name, "count": len(state.known), "sha256": table_digest},
        }
        doc["digest"] = _digest(doc)
        _atomic_write(path, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())
    except OSError as exc:
        raise ConfigurationError(f"cannot write the audit state {path}: {exc}") from exc
    for old in path.parent.glob(f"{path.name}.known-*"):
        if old != sidecar:
            with contextlib.suppress(OSError):
                old.unlink()


def check_source(saved: SavedAudit, source: BlockSource, source_height: int) -> str | None:
    """Check that the source still has the block the saved state ends with; return that
    block's checkpoint as the source has it now (with any cosignatures added since)."""
    state = saved.state
    if state.height == 0:
        return None
    if source_height < state.height:
        raise ChainBroken(
            f"the source has {source_height} blocks, fewer than the {state.height} verified "
            "before (a rollback, or another chain)",
            height=source_height + 1,
        )
    try:
        raw = source.block(state.height)
    except NotFound as exc:
        raise ChainBroken(
            f"the source no longer has block {state.height}, verified before",
            height=state.height,
        ) from exc
    try:
        header = BlockHeader.from_bytes(raw.header)
        now = Checkpoint.from_text(raw.checkpoint)
        same_body = now.body == Checkpoint.from_text(saved.checkpoint or "").body
    except (EncodingError, ValueError) as exc:
        raise ChainBroken(
            f"block {state.height}, verified before, is now unreadable: {exc}",
            height=state.height,
        ) from exc
    if header.block_hash != state.head_hash:
        raise ChainBroken(
            f"block {state.height} now has hash {header.block_hash.hex()}, not "
            f"{state.head_hash.hex()} as verified before: the chain was rewritten at or below "
            f"height {state.height}",
            height=state.height,
        )
    if not same_body:
        raise ChainBroken(
            f"block {state.height}'s checkpoint is not the one verified before",
            height=state.height,
        )
    return raw.checkpoint


def check_consistency(
    source: BlockSource, first: int, first_root: bytes, second: int, second_root: bytes
) -> None:
    """Verify the source's RFC 9162 consistency proof between the saved tree and the new head
    (both roots computed by the fold, not taken from the source); ProofInvalid if it fails."""
    if first == 0 or first == second:
        return
    proof: Sequence[bytes] = source.consistency_proof(first, second)
    verify_consistency(first, second, first_root, second_root, proof)


def _sidecar(path: Path, digest: Any) -> Path:
    if not isinstance(digest, str) or len(digest) != 64:
        raise ValueError("the entry-hash digest must be 64 hex digits")
    return path.with_name(f"{path.name}.known-{digest[:16]}")


def _digest(doc: dict[str, Any]) -> str:
    return hashlib.sha256(
        canonical_bytes({k: v for k, v in doc.items() if k != "digest"})
    ).hexdigest()


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer")
    return value


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
