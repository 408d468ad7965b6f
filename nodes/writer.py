"""The append path: check entries against the chain, cut blocks, store them durably.

:class:`LedgerWriter` is what a node's sequencer, ``tradeledger demo`` and the append benchmark
all go through. It keeps a :class:`ChainState` at the stored head; an entry is checked once
(signatures included) when it is offered, and the block built from checked entries goes through
:meth:`ChainState.apply_block` — the very fold replay uses — before it is written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from ledger.blocks import BlockHeader, Checkpoint, checkpoint_body, checkpoint_origin
from ledger.chain import (
    ADMISSION_MARGIN,
    MAX_BACKDATING,
    BlockSummary,
    ChainState,
    CheckedEntry,
    config_changes,
)
from ledger.consortium import CONFIG_TYPE, Consortium, Membership
from ledger.entries import Entry, parse_entry
from ledger.errors import (
    BlockInvalid,
    CheckpointInvalid,
    ConfigurationError,
    DuplicateEntry,
    EncodingError,
    StorageError,
    StoreInconsistent,
    TradeLedgerError,
)
from ledger.keys import SigningKey
from ledger.merkle import CompactRange
from ledger.status_map import EMPTY as EMPTY_STATUS_ROOT
from ledger.timefmt import format_time, now, parse_time
from nodes.store import LedgerStore, StoreKnownEntries

#: ``(height, first_index, entries) -> status map root after the block`` (see LedgerWriter).
StatusRootHook = Callable[[int, int, Sequence[Entry]], bytes]


def load_state(store: LedgerStore, consortium: Consortium) -> ChainState:
    """The chain state at the store's head, without replaying signatures (auditors replay).

    The node does not take its head on trust, though: before it signs anything on top of it,
    the Merkle frontier read from the stored subtree hashes must give the root its last signed
    header commits to, and that header's checkpoint must carry a member's valid signature
    (:func:`check_head`). Membership is rebuilt from the stored config entries."""
    state = ChainState.genesis(consortium, known=StoreKnownEntries(store))
    height, size = store.head()
    if height == 0:
        return state
    raw = store.block(height)
    last = BlockHeader.from_bytes(raw.header)
    peaks = []
    index_base = 0
    for level in reversed(range(size.bit_length())):
        if size & (1 << level):
            peaks.append(store.subtree_hash(level, index_base >> level))
            index_base += 1 << level
    state.tree = CompactRange.from_state(size, peaks)
    check_head(
        raw.checkpoint,
        last,
        size,
        state.tree.root(),
        stored_membership(store, consortium, before=height),
        checkpoint_origin(consortium.consortium_id),
    )
    state.height = height
    state.head_hash = last.block_hash
    state.head_time = last.time
    state.membership = stored_membership(store, consortium)
    return state


def check_head(
    checkpoint_text: str,
    header: BlockHeader,
    size: int,
    root: bytes,
    membership: Membership,
    origin: str,
) -> None:
    """Raise :class:`StoreInconsistent` unless the stored head is what was signed: the header
    counts ``size`` entries, ``root`` (from the stored leaves or subtree hashes) is its tree
    root, and its checkpoint describes it with a member's valid signature."""
    where = f"at height {header.height}"
    if header.tree_size != size:
        raise StoreInconsistent(
            f"the store holds {size} entries {where}, its signed header says {header.tree_size}; "
            "refusing to sign on top of it",
            height=header.height,
        )
    if root.hex() != header.tree_root:
        raise StoreInconsistent(
            f"the stored Merkle tree {where} has root {root.hex()}, the signed header says "
            f"{header.tree_root} (ledger_tree_nodes or ledger_entries.entry_hash was changed); "
            "refusing to sign on top of it",
            height=header.height,
        )
    try:
        checkpoint = Checkpoint.from_text(checkpoint_text)
        if checkpoint.body != checkpoint_body(origin, header):
            raise CheckpointInvalid("it does not describe the stored header")
        checkpoint.verify(membership, quorum=1)
    except (CheckpointInvalid, EncodingError, ValueError) as exc:
        detail = exc.detail if isinstance(exc, TradeLedgerError) else str(exc)
        raise StoreInconsistent(
            f"the stored checkpoint {where} does not verify ({detail}); refusing to sign on "
            "top of it",
            height=header.height,
        ) from exc


def stored_membership(
    store: LedgerStore, consortium: Consortium, *, before: int | None = None
) -> Membership:
    """The membership in force after the stored blocks (or, with ``before``, in force for the
    block at that height): genesis with the stored ``config.update`` entries applied in order
    (a change in a block takes effect after it)."""
    from ledger.entries import parse_entry

    membership: Membership = consortium.membership
    for stored in store.entries_of_type(CONFIG_TYPE):
        if before is not None and stored.height >= before:
            break
        membership = membership.apply(config_changes(parse_entry(stored.envelope, stored.payload)))
    return membership


class LedgerWriter:
    """Single writer of one ledger. Thread-safe: callers may offer entries from many threads."""

    def __init__(
        self,
        store: LedgerStore,
        consortium: Consortium,
        proposer: str,
        key: SigningKey,
        *,
        key_for: Callable[[Membership], SigningKey | None] | None = None,
        status_root: StatusRootHook | None = None,
    ) -> None:
        """``key`` signs the blocks' checkpoints; ``key_for``, if given, chooses the key for
        each block from the membership in force instead, so that a rotated proposer key is
        not used after its revocation (which would make every later block invalid).

        ``status_root(height, first_index, entries)`` gives the status map's root after a
        block of ``entries`` (``ledger.status_map``): the document rules decide it, so a node
        passes its index's :meth:`~nodes.index.DocumentIndex.status_root`, which stages the
        block's index rows and map nodes for when it is stored. It is called before the
        header is signed, by both the sequencer's and a consortium's block builder, and on a
        block fetched from a peer, which is refused if its header commits to another root.
        Without it (a bare writer: tests, tools) headers commit to the empty map."""
        owner = consortium.membership.key_owner(key.key_id)
        # None: an organisation that joined after genesis (its key comes with the chain's
        # config.update entries; key_for picks it once the membership in force has it)
        if owner is not None and owner != proposer:
            raise ConfigurationError(f"the proposer key is not a key of {proposer}")
        self.store = store
        self.consortium = consortium
        self.proposer = proposer
        self.key = key
        self.key_for = key_for
        self.status_root = status_root
        self.state = load_state(store, consortium)
        self._lock = threading.RLock()
        self._pending: list[CheckedEntry] = []
        self._pending_hashes: set[bytes] = set()
        self._pending_membership: Membership | None = None
        self._commit_lock = threading.Lock()
        self._failed: StorageError | None = None

    @property
    def height(self) -> int:
        return self.state.height

    def check(
        self,
        entry: Entry | CheckedEntry,
        *,
        at: datetime | None = None,
        margin: timedelta = ADMISSION_MARGIN,
        pending: Callable[[bytes], bool] | None = None,
    ) -> CheckedEntry:
        """Check one entry against the head and the entries waiting for the next block. A
        :class:`CheckedEntry` names signatures already known good (the node's own, made a
        moment ago), which are then not verified again; everything else is checked. The
        timestamp may be backdated ``margin`` less than the chain allows, so that the entry
        still passes if it reaches only a later block (see ``ledger.chain.ADMISSION_MARGIN``)."""
        with self._lock:
            self._raise_if_failed()
            base = self._pending_membership or self.state.membership
            signers = self.state.check_entry(
                entry,
                reference_time=at or now(),
                pending=pending or self._pending_hashes.__contains__,
                config_base=base,
                backdating=MAX_BACKDATING - margin,
            )
            if isinstance(entry, CheckedEntry):
                entry = entry.entry
            good = frozenset(k for k, _ in entry.signatures)
            del signers
            return CheckedEntry(entry, good, frozenset())

    def offer(
        self, entry: Entry | CheckedEntry, *, margin: timedelta = ADMISSION_MARGIN
    ) -> CheckedEntry:
        """Check ``entry`` and queue it for the next block."""
        with self._lock:
            checked = self.check(entry, margin=margin)
            entry = checked.entry
            if entry.type == CONFIG_TYPE:
                base = self._pending_membership or self.state.membership
                self._pending_membership = base.apply(config_changes(entry))
            self._pending.append(checked)
            self._pending_hashes.add(entry.entry_hash)
            return checked

    def offer_all(self, entries: Sequence[Entry | CheckedEntry]) -> list[CheckedEntry]:
        """Check ``entries`` and queue them together: all or none (a later one may refer to an
        earlier one). Configuration entries are not offered this way."""
        with self._lock:
            if any(entry_of(e).type == CONFIG_TYPE for e in entries):
                raise ConfigurationError("configuration entries are offered one at a time")
            checked: list[CheckedEntry] = []
            try:
                for e in entries:
                    checked.append(self.offer(e))
            except BaseException:
                if checked:
                    del self._pending[-len(checked) :]
                    for c in checked:
                        self._pending_hashes.discard(c.entry.entry_hash)
                raise
            return checked

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    def cut_block(
        self, max_entries: int = 500, *, time: datetime | None = None
    ) -> BlockSummary | None:
        """Make a block of up to ``max_entries`` queued entries and store it durably.

        The chain state advances under the state lock (a few milliseconds); the durable write
        happens outside it, so submissions are not held up by the fsync. Blocks are still
        written one at a time and in order.
        """
        with self._commit_lock:
            with self._lock:
                self._raise_if_failed()
                if not self._pending:
                    return None
                batch = self._pending[:max_entries]
                header, checkpoint, summary = self._advance(batch, time)
                del self._pending[: len(batch)]
                for c in batch:
                    self._pending_hashes.discard(c.entry.entry_hash)
                if not any(c.entry.type == CONFIG_TYPE for c in self._pending):
                    self._pending_membership = None
            self._write(summary, header, checkpoint)
            return summary

    def append(self, entries: Sequence[Entry], *, time: datetime | None = None) -> BlockSummary:
        """Check ``entries`` and store them as one block (membership changes take effect after)."""
        with self._commit_lock:
            with self._lock:
                if self._pending:
                    raise DuplicateEntry("entries are waiting for a block; cut it first")
                checked: list[CheckedEntry] = []
                try:
                    for e in entries:
                        checked.append(self.offer(e))
                finally:
                    self._pending.clear()
                    self._pending_hashes.clear()
                    self._pending_membership = None
                header, checkpoint, summary = self._advance(checked, time)
            self._write(summary, header, checkpoint)
            return summary

    def build_ordered(
        self,
        items: Sequence[Entry | CheckedEntry],
        *,
        time: datetime,
        proposer: str,
        proposer_key_id: str,
        sign: Callable[[Checkpoint], Checkpoint],
        order_revision: int | None = None,
    ) -> tuple[BlockSummary | None, list[tuple[Entry, TradeLedgerError]]]:
        """The consortium's block: ``items`` in the order the ordering service gave them, cut
        by ``proposer`` at ``time``. Every entry is checked against the chain exactly as
        replay will (reference time: the block's own time, no admission margin); one that
        fails is left out and returned with the reason — every honest node leaves out the same
        ones, since they all check the same entries against the same chain. The checkpoint is
        signed by ``sign`` (this node's cosignature). Returns (None, skipped) when no entry
        passes: no block."""
        with self._commit_lock:
            with self._lock:
                self._raise_if_failed()
                block_time = max(format_time(time), self.state.head_time or "")
                reference = parse_time(block_time)
                pending: set[bytes] = set()
                base = self.state.membership
                accepted: list[CheckedEntry] = []
                skipped: list[tuple[Entry, TradeLedgerError]] = []
                for item in items:
                    entry = entry_of(item)
                    try:
                        self.state.check_entry(
                            item,
                            reference_time=reference,
                            pending=pending.__contains__,
                            config_base=base,
                        )
                        if entry.type == CONFIG_TYPE:
                            base = base.apply(config_changes(entry))
                    except TradeLedgerError as exc:
                        skipped.append((entry, exc))
                        continue
                    pending.add(entry.entry_hash)
                    accepted.append(
                        CheckedEntry(entry, frozenset(k for k, _ in entry.signatures), frozenset())
                    )
                if not accepted:
                    return None, skipped
                header = self.state.next_header(
                    [c.entry for c in accepted],
                    proposer,
                    proposer_key_id,
                    reference,
                    self._status_root([c.entry for c in accepted]),
                )
                checkpoint = sign(Checkpoint(checkpoint_body(self.state.origin, header))).to_text()
                header_bytes = header.to_bytes()
                summary = self.state.apply_block(header_bytes, checkpoint, checked=accepted)
            self._write(summary, header_bytes, checkpoint, order_revision)
            return summary, skipped

    def apply_fetched(
        self,
        header: bytes,
        checkpoint: str,
        entries: Sequence[tuple[bytes, bytes | None]],
        *,
        order_revision: int | None = None,
    ) -> BlockSummary:
        """A block fetched from a peer (catch-up): verified by the same fold as replay, every
        signature included, and stored only if all of it holds."""
        with self._commit_lock:
            with self._lock:
                self._raise_if_failed()
                if self._pending:
                    raise DuplicateEntry("entries are waiting for a block; cut it first")
                self._check_status_root(header, entries)
                summary = self.state.apply_block(header, checkpoint, list(entries))
            self._write(summary, header, checkpoint, order_revision)
            return summary

    def _advance(
        self, batch: Sequence[CheckedEntry], time: datetime | None
    ) -> tuple[bytes, str, BlockSummary]:
        entries = [c.entry for c in batch]
        header, checkpoint = self.state.propose_block(
            entries,
            self.proposer,
            self._proposer_key(),
            time or now(),
            self._status_root(entries),
        )
        return header, checkpoint, self.state.apply_block(header, checkpoint, checked=list(batch))

    def _status_root(self, entries: Sequence[Entry]) -> bytes:
        if self.status_root is None:
            return EMPTY_STATUS_ROOT
        return self.status_root(self.state.height + 1, self.state.tree.size, entries)

    def _check_status_root(
        self, header: bytes, entries: Sequence[tuple[bytes, bytes | None]]
    ) -> None:
        """A fetched block's status root must be what this node's rules give (before it is
        verified and stored: a block this node would not have built is not taken)."""
        if self.status_root is None:
            return
        height = self.state.height + 1
        try:
            claimed = BlockHeader.from_bytes(header).status_root
            parsed = [parse_entry(env, pl) for env, pl in entries]
        except TradeLedgerError:
            return  # apply_block names what is wrong with it
        mine = self.status_root(height, self.state.tree.size, parsed)
        if mine.hex() != claimed:
            raise BlockInvalid(
                f"the header commits to status root {claimed}; this node's index gives "
                f"{mine.hex()} for the block",
                height=height,
                reason="status-root-mismatch",
            )

    def _proposer_key(self) -> SigningKey:
        if self.key_for is None:
            return self.key
        key = self.key_for(self.state.membership)
        if key is None:
            raise ConfigurationError(
                f"this node holds no active key of {self.proposer} to sign blocks with"
            )
        return key

    def _write(
        self,
        summary: BlockSummary,
        header: bytes,
        checkpoint: str,
        order_revision: int | None = None,
    ) -> None:
        try:
            self.store.append_block(summary, header, checkpoint, order_revision=order_revision)
        except Exception as exc:
            # Fail-stop: the state already counts this block and later entries may build on
            # it, so nothing more is accepted until a restart reloads the state from the store
            # (submissions acknowledged from the node's journal are offered again then).
            with self._lock:
                self._failed = StorageError(
                    f"writing block {summary.header.height} failed ({exc}); "
                    "the node accepts nothing more until it is restarted"
                )
            raise self._failed from exc

    def _raise_if_failed(self) -> None:
        if self._failed is not None:
            raise self._failed


def entry_of(item: Entry | CheckedEntry) -> Entry:
    return item.entry if isinstance(item, CheckedEntry) else item
