"""The node's view of its stored log in memory: every leaf hash as a Merkle tree, the tree size
after each block, the blocks' checkpoint texts, and the head.

The chain applier (``LedgerNode._on_block``) advances it after each block is stored and
indexed; the read side (:mod:`nodes.reads`) and the witness submitter read it. Holding the tree
in memory is what makes a provenance read's inclusion proofs pure computation.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import text

from ledger.blocks import Checkpoint
from ledger.chain import BlockSummary
from ledger.errors import InvalidInput, NotFound, StoreInconsistent
from ledger.merkle import inclusion_proof, node_hash, range_hash
from nodes.store import LedgerStore


class MemoryTree:
    """Every complete-subtree hash of the log, in memory (``ledger.merkle.SubtreeHashes``).

    Two hashes per entry (64 bytes): proofs for provenance are then pure computation, which
    is what lets one node answer a thousand provenance reads a second.
    """

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        levels = self.levels
        levels[0].append(leaf)
        level = 0
        while len(levels[level]) % 2 == 0:
            row = levels[level]
            parent = node_hash(row[-2], row[-1])
            if len(levels) == level + 1:
                levels.append([])
            levels[level + 1].append(parent)
            level += 1

    def subtree_hash(self, level: int, index: int) -> bytes:
        try:
            return self.levels[level][index]
        except IndexError:
            raise KeyError((level, index)) from None

    def root(self) -> bytes:
        """The RFC 9162 root of the whole tree, from its complete-subtree peaks."""
        return range_hash(self, 0, self.size)


class MemoryKnownEntries:
    """``ledger.chain.KnownEntries`` over a set in memory (seeded from the stored log)."""

    def __init__(self, hashes: list[bytes]) -> None:
        self._set = set(hashes)

    def __contains__(self, entry_hash: object) -> bool:
        return entry_hash in self._set

    def add(self, entry_hash: bytes) -> None:
        self._set.add(entry_hash)


@dataclass(frozen=True)
class Head:
    height: int
    tree_size: int
    root_hash: bytes
    block_hash: bytes
    time: str
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        """The body of ``GET /v1/checkpoint``."""
        signatures = []
        if self.checkpoint:
            for sig in Checkpoint.from_text(self.checkpoint).signatures:
                org_id, member, key_id = sig.name.partition(":")
                if not member:  # a witness's cosignature: in the text, not a member's
                    continue
                signatures.append({"name": sig.name, "org_id": org_id, "key_id": key_id})
        return {
            "height": self.height,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "block_hash": self.block_hash.hex(),
            "time": self.time,
            "checkpoint": self.checkpoint,
            "signatures": signatures,
        }


class LogView:
    """The tree, block sizes, checkpoint texts and head of one node's stored log."""

    def __init__(self, store: LedgerStore, genesis_hash: bytes) -> None:
        self.store = store
        self.tree = MemoryTree()
        self._sizes: list[int] = []  # tree size after each block, by height - 1
        self._checkpoints: dict[int, str] = {}
        self._head_lock = threading.Lock()
        self._genesis_hash = genesis_hash
        #: consortium nodes serve only final blocks: the head is the last final one
        self.head_is_final_block = False
        #: replaced whole (never mutated), so a reader that took it sees one consistent head
        self.head = Head(0, 0, hashlib.sha256(b"").digest(), genesis_hash, "", "")

    def load(self) -> None:
        """Read every stored leaf and block size, and check them against the last signed block."""
        with self.store.engine.connect() as conn:
            for (h,) in conn.execute(text("SELECT entry_hash FROM ledger_entries ORDER BY idx")):
                self.tree.append(bytes(h))
            rows = conn.execute(
                text("SELECT height, first_index + entry_count FROM ledger_blocks ORDER BY height")
            ).all()
        self._sizes = [int(r[1]) for r in rows]
        if rows:
            self._publish_head(int(rows[-1][0]))
        head = self.head
        # The proofs this node serves come from these leaves: they must give the root the
        # last block's header, which the writer has checked against its signed checkpoint.
        if self.tree.size != head.tree_size or (rows and self.tree.root() != head.root_hash):
            raise StoreInconsistent(
                f"the {self.tree.size} stored entry hashes do not give the tree the signed "
                f"header at height {head.height} commits to (ledger_entries was changed); "
                "refusing to serve proofs from them",
                height=head.height,
            )

    def apply(self, summary: BlockSummary) -> None:
        """Take in a block the writer has durably stored: its leaves, size and checkpoint, and
        move the head on to it."""
        h = summary.header
        for e in summary.entries:
            self.tree.append(e.entry_hash)
        self._sizes.append(h.tree_size)
        text_ = summary.checkpoint.to_text()
        self._checkpoints[h.height] = text_
        if self.head_is_final_block:
            return  # the head moves when the block becomes final (publish_final)
        # the writer has just verified this checkpoint: no need to parse its text again
        self._set_head(h.height, summary.checkpoint, text_)

    def publish_final(self, height: int) -> None:
        """Consortium nodes: make block ``height`` (final: cosigned by the checkpoint quorum)
        the head that reads and proofs are served against."""
        if height == 0:
            with self._head_lock:
                self.head = Head(0, 0, hashlib.sha256(b"").digest(), self._genesis_hash, "", "")
            return
        self._checkpoints.pop(height, None)  # read the cosignatures gathered so far
        self._publish_head(height)

    def _publish_head(self, height: int) -> None:
        text_ = self.checkpoint_text(height)
        self._set_head(height, Checkpoint.from_text(text_), text_)

    def _set_head(self, height: int, cp: Checkpoint, text_: str) -> None:
        head = Head(
            height=height,
            tree_size=cp.tree_size,
            root_hash=cp.root_hash,
            block_hash=cp.block_hash,
            time=cp.extension("time") or "",
            checkpoint=text_,
        )
        with self._head_lock:
            self.head = head

    def add_cosignature(self, height: int, name: str, line: str) -> None:
        """Keep a witness's cosignature beside the members' and serve it from now on."""
        self.store.add_cosignature(height, name, line)
        self._checkpoints.pop(height, None)
        full = self.checkpoint_text(height)
        with self._head_lock:
            # only the head of this height is updated: a newer block's head is never replaced
            if self.head.height == height:
                self.head = replace(self.head, checkpoint=full)

    @property
    def built_height(self) -> int:
        """The last block stored (the head, or above it while blocks await finality)."""
        return len(self._sizes)

    def checkpoint_text(self, height: int) -> str:
        cached = self._checkpoints.get(height)
        if cached is not None:
            return cached
        with self.store.engine.connect() as conn:
            body = conn.execute(
                text("SELECT checkpoint FROM ledger_blocks WHERE height = :h"), {"h": height}
            ).scalar()
            if body is None:
                raise NotFound(f"there is no block at height {height}")
            cosigs = conn.execute(
                text(
                    "SELECT line FROM ledger_checkpoint_signatures WHERE height = :h ORDER BY name"
                ),
                {"h": height},
            ).all()
        full = str(body) + "".join(r[0] for r in cosigs)
        if len(self._checkpoints) > 4096:
            self._checkpoints.clear()
        self._checkpoints[height] = full
        return full

    def block_sizes(self) -> list[int]:
        """The tree size after each block, by height - 1."""
        return self._sizes

    def height_of_size(self, tree_size: int, what: str = "tree_size") -> int:
        """The height of the block whose tree size is ``tree_size`` (422 if none is)."""
        sizes = self._sizes
        i = bisect.bisect_left(sizes, tree_size)
        if i >= len(sizes) or sizes[i] != tree_size:
            raise InvalidInput(
                f"{what} {tree_size} is not the tree size of a block on this node "
                f"(the current tree size is {self.head.tree_size})",
                location=f"/query/{what}",
            )
        return i + 1

    def height_of_size_or_none(self, tree_size: int) -> int | None:
        try:
            return self.height_of_size(tree_size)
        except InvalidInput:
            return None

    def inclusion(self, leaf_index: int, tree_size: int) -> dict[str, Any]:
        return {
            "leaf_index": leaf_index,
            "tree_size": tree_size,
            "hashes": [h.hex() for h in inclusion_proof(self.tree, leaf_index, tree_size)],
        }
