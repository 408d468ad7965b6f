"""The chain as a state machine: accept entries and blocks, or say precisely why not.

:class:`ChainState` holds what a verifier must remember while folding over blocks: the head,
the membership in force, the Merkle frontier and the set of entry hashes seen. The node's
sequencer uses :meth:`ChainState.check_entry` before acknowledging a submission and
:meth:`ChainState.apply_block` when it cuts a block; replay uses ``apply_block`` alone. Both
paths therefore apply exactly the same rules (``docs/ledger-format.md`` §4.4, §5, §6).

Signature verification is the expensive part of replay, so it can be done beforehand, in other
processes, by :func:`preverify`; ``apply_block`` then only looks at the outcome.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ledger.blocks import (
    BlockHeader,
    Checkpoint,
    checkpoint_body,
    checkpoint_origin,
)
from ledger.consortium import CONFIG_TYPE, Consortium, Membership
from ledger.encoding import Tag, parse_json
from ledger.entries import (
    Entry,
    entry_fields,
    parse_entry_fields,
    restore_entry,
    slim_fields,
)
from ledger.errors import (
    BlockInvalid,
    ChainBroken,
    CheckpointInvalid,
    DuplicateEntry,
    EncodingError,
    EntryRejected,
    IntegrityError,
    KeyRevoked,
    MerkleRootMismatch,
    SignatureInvalid,
    TimestampInFuture,
    TimestampTooOld,
    TradeLedgerError,
    UnknownKey,
    UnknownReference,
    WrongConsortium,
)
from ledger.keys import SigningKey, verify_signature
from ledger.merkle import CompactRange
from ledger.status_map import EMPTY as EMPTY_STATUS_ROOT
from ledger.timefmt import format_time, parse_time

MAX_CLOCK_SKEW = timedelta(seconds=300)
_SLOT = struct.Struct("16s")  # one slot of TruncatedHashSet's table
# positions in an entry's field values (ledger.entries.parse_entry_fields)
_SIGNED_BYTES, _SIGNATURES = 2, 3
#: How far an entry's timestamp may be before the previous block's time (block 1: the genesis's
#: ``created``). Entries are signed moments before they are sent; one signed ahead may wait up to
#: a day for submission (docs/ledger-format.md §4.4).
MAX_BACKDATING = timedelta(hours=24)
#: A node refuses entries this much sooner than :data:`MAX_BACKDATING` at submission: one it
#: accepts may wait for a later block while blocks are cut (backlog, restart), and must still be
#: within the window of that block's predecessor when it gets there.
ADMISSION_MARGIN = timedelta(hours=1)


class KnownEntries(Protocol):
    """The set of entry hashes already on the ledger (in memory for replay, a table for nodes)."""

    def __contains__(self, entry_hash: object) -> bool: ...

    def add(self, entry_hash: bytes) -> None: ...


class TruncatedHashSet:
    """The entry hashes seen so far, as their first 16 bytes in one open-addressed table.

    A Python set of a million ``bytes`` objects costs about 90 MB; this table costs 16 bytes a
    slot at a load of at most one half (32 MB per million), which is what keeps replay of a
    million-entry chain under 200 MB. Truncation is safe for what the fold asks: a reference
    wrongly taken as known would need a second preimage of 128 bits of SHA-256; a duplicate
    wrongly reported needs a 2^64 collision search and can only make an audit fail, never pass.
    """

    __slots__ = ("_count", "_mask", "_table")
    _WIDTH = 16
    _EMPTY = bytes(16)

    def __init__(self, capacity: int = 1024) -> None:
        size = 1 << max(10, (capacity * 2 - 1).bit_length())
        self._table = bytearray(size * self._WIDTH)
        self._mask = size - 1
        self._count = 0

    def _slot(self, key: bytes) -> tuple[int, bool]:
        """Byte offset of ``key``'s slot, and whether the key is there (else it is empty)."""
        table, mask, empty = self._table, self._mask, self._EMPTY
        i = int.from_bytes(key[:8], "big") & mask
        while True:
            offset = i << 4  # i * _WIDTH
            current = table[offset : offset + 16]
            if current == key:
                return offset, True
            if current == empty:
                return offset, False
            i = (i + 1) & mask

    def __contains__(self, entry_hash: object) -> bool:
        # _slot inlined: replay asks this once or twice per entry
        if not isinstance(entry_hash, bytes):
            return False
        key = entry_hash[:16]
        table, mask, empty = self._table, self._mask, self._EMPTY
        i = int.from_bytes(key[:8], "big") & mask
        while True:
            offset = i << 4
            current = table[offset : offset + 16]
            if current == key:
                return True
            if current == empty:
                return False
            i = (i + 1) & mask

    def add(self, entry_hash: bytes) -> None:
        key = entry_hash[: self._WIDTH]
        if key == self._EMPTY:
            raise ValueError("an all-zero hash prefix cannot be stored")
        offset, present = self._slot(key)
        if present:
            return
        self._table[offset : offset + 16] = key
        self._count += 1
        if self._count * 2 > self._mask + 1:
            self._grow()

    def _grow(self) -> None:
        old = self._table
        self._table = bytearray(len(old) * 2)
        self._mask = (self._mask + 1) * 2 - 1
        # the stored keys, found among the slots at C speed (most slots are empty)
        slots = itertools.chain.from_iterable(_SLOT.iter_unpack(old))
        keys = filter(self._EMPTY.__ne__, slots)
        table, mask, empty = self._table, self._mask, self._EMPTY
        for key in keys:
            i = int.from_bytes(key[:8], "big") & mask
            while table[i << 4 : (i << 4) + 16] != empty:
                i = (i + 1) & mask
            table[i << 4 : (i << 4) + 16] = key

    def __len__(self) -> int:
        return self._count

    def to_bytes(self) -> bytes:
        """The table itself (``16 × slots`` bytes), for an auditor's saved state; with
        :attr:`len` it is all :meth:`from_bytes` needs, so resuming costs one read, no re-hash."""
        return bytes(self._table)

    @classmethod
    def from_bytes(cls, table: bytes, count: int) -> TruncatedHashSet:
        """A set from :meth:`to_bytes` and its length. Only the shape is checked here (a power
        of two of at least 1,024 slots, at most half full): the caller binds the bytes to what
        it trusts, e.g. by their digest."""
        width = cls._WIDTH
        slots, rest = divmod(len(table), width)
        if rest or slots < 1024 or slots & (slots - 1):
            raise ValueError(f"{len(table)} bytes is not a hash-set table")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= slots // 2:
            raise ValueError(f"a table of {slots} slots cannot hold {count!r} hashes")
        known = cls()
        known._table = bytearray(table)
        known._mask = slots - 1
        known._count = count
        return known


@dataclass(frozen=True, slots=True)
class CheckedEntry:
    """An entry parsed, with the outcome of its signature checks done ahead of time."""

    entry: Entry
    good_keys: frozenset[str]
    bad_keys: frozenset[str]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # One call rebuilds both objects from plain values (replay's fold unpickles every
        # entry a worker checked): no dataclass __init__, no separate Entry reduce.
        return (_restore_checked, (entry_fields(self.entry), self.good_keys, self.bad_keys))


_CHECKED_SETTERS = tuple(
    getattr(CheckedEntry, name).__set__ for name in ("entry", "good_keys", "bad_keys")
)


def _restore_checked(
    fields: tuple[Any, ...], good: frozenset[str], bad: frozenset[str]
) -> CheckedEntry:
    checked = object.__new__(CheckedEntry)
    set_entry, set_good, set_bad = _CHECKED_SETTERS
    set_entry(checked, restore_entry(fields))
    set_good(checked, good)
    set_bad(checked, bad)
    return checked


@dataclass(frozen=True, slots=True)
class EntryFailure:
    """Why an entry could not even be parsed (returned by workers instead of raised)."""

    code: str
    detail: str


def preverify(
    envelope: bytes,
    payload: bytes | None,
    raw_keys: dict[str, bytes],
    *,
    slim: bool = False,
    shared: dict[Any, Any] | None = None,
) -> CheckedEntry | EntryFailure:
    """Parse an entry and check each signature whose key is in ``raw_keys``. Pure; cheap to
    run in a worker process. Signatures by keys not in ``raw_keys`` are left to the caller.

    With ``slim``, an entry whose signatures were all checked here comes back without its
    bytes (:meth:`Entry.slim`), which keeps what crosses between processes small; values
    that repeat between entries are then taken from ``shared`` (see :meth:`Entry.slim`)."""
    try:
        fields = parse_entry_fields(envelope, payload)
    except TradeLedgerError as exc:
        return EntryFailure(exc.code, exc.detail)
    message = Tag.ENTRY_SIGNATURE.value + fields[_SIGNED_BYTES]
    signatures: tuple[tuple[str, bytes], ...] = fields[_SIGNATURES]
    good: set[str] = set()
    bad: set[str] = set()
    for key_id, sig in signatures:
        raw = raw_keys.get(key_id)
        if raw is None:
            continue
        (good if verify_signature(raw, sig, message) else bad).add(key_id)
    good_keys, bad_keys = frozenset(good), frozenset(bad)
    if slim and len(good) + len(bad) == len(signatures):
        fields = slim_fields(fields, shared)
        if shared is not None:
            good_keys = shared.setdefault(good_keys, good_keys)
            bad_keys = shared.setdefault(bad_keys, bad_keys)
    return CheckedEntry(restore_entry(fields), good_keys, bad_keys)


def preverify_batch(
    items: Sequence[tuple[bytes, bytes | None]],
    raw_keys: dict[str, bytes],
    *,
    slim: bool = False,
) -> list[CheckedEntry | EntryFailure]:
    shared: dict[Any, Any] = {}  # one batch's repeated values (slim entries), pickled once
    return [preverify(env, pl, raw_keys, slim=slim, shared=shared) for env, pl in items]


@dataclass(frozen=True)
class BlockSummary:
    """What applying one block produced (for stores and progress reports)."""

    header: BlockHeader
    block_hash: bytes
    checkpoint: Checkpoint
    entries: tuple[Entry, ...]
    new_nodes: tuple[tuple[int, int, bytes], ...]
    signers: dict[str, str]


@dataclass
class ChainState:
    """Everything a verifier remembers between blocks. Start with :meth:`genesis`."""

    consortium: Consortium
    membership: Membership
    height: int
    head_hash: bytes
    head_time: str | None
    tree: CompactRange
    known: KnownEntries = field(default_factory=lambda: _empty_known())
    #: the head's time (or the genesis's) and its parsed value, which every entry of the next
    #: block is compared with: parsed once, not once per entry
    _since: tuple[str, datetime] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def genesis(cls, consortium: Consortium, known: KnownEntries | None = None) -> ChainState:
        return cls(
            consortium=consortium,
            membership=consortium.membership,
            height=0,
            head_hash=consortium.hash,
            head_time=None,
            tree=CompactRange(),
            known=_empty_known() if known is None else known,
        )

    @property
    def origin(self) -> str:
        return checkpoint_origin(self.consortium.consortium_id)

    @property
    def tree_size(self) -> int:
        return self.tree.size

    # -- entries ------------------------------------------------------------------------

    def check_entry(
        self,
        checked: CheckedEntry | Entry,
        *,
        reference_time: datetime,
        pending: Iterable[bytes] | Callable[[bytes], bool] = (),
        config_base: Membership | None = None,
        backdating: timedelta = MAX_BACKDATING,
    ) -> set[str]:
        """Apply §4.4 to one entry; return the organisations that signed it.

        ``reference_time`` is the block time (replay) or the node's clock (append);
        ``pending`` holds hashes accepted earlier in the same block; ``config_base`` is the
        membership with that block's earlier changes applied, against which a membership
        change must make sense (it still needs a quorum of the membership in force).
        ``backdating`` is how far before the head's time the timestamp may be: the rule's
        window, less :data:`ADMISSION_MARGIN` when a node admits a submission.
        """
        if isinstance(checked, Entry):
            checked = CheckedEntry(checked, frozenset(), frozenset())
        entry = checked.entry
        if entry.consortium_id != self.consortium.consortium_id:
            raise WrongConsortium(
                f"the entry was signed for consortium {entry.consortium_id!r}, "
                f"not {self.consortium.consortium_id!r}"
            )
        in_pending: Callable[[bytes], bool]
        if callable(pending):
            in_pending = pending
        else:
            pending_set = set(pending)
            in_pending = pending_set.__contains__
        membership = self.membership
        membership.check_author(entry.author, entry.key_id, entry.type)
        signers = self._signature_orgs(checked, membership)
        if entry.entry_hash in self.known or in_pending(entry.entry_hash):
            raise DuplicateEntry(f"entry {entry.hash_hex} is already on the ledger")
        for ref in entry.refs:
            raw = bytes.fromhex(ref)
            if raw not in self.known and not in_pending(raw):
                raise UnknownReference(f"entry refers to {ref}, which is not an earlier entry")
        timestamp = parse_time(entry.timestamp)
        if timestamp > reference_time + MAX_CLOCK_SKEW:
            raise TimestampInFuture(
                f"timestamp {entry.timestamp} is more than {MAX_CLOCK_SKEW.seconds} s after "
                f"{format_time(reference_time)}"
            )
        since = self.head_time or self.consortium.created
        cached = self._since
        if cached is None or cached[0] != since:
            cached = self._since = (since, parse_time(since))
        if timestamp < cached[1] - backdating:
            raise TimestampTooOld(
                f"timestamp {entry.timestamp} is more than {_hours(backdating)} before "
                f"{since}, the time of the {'previous block' if self.head_time else 'genesis'}"
            )
        if entry.type == CONFIG_TYPE:
            membership.require_config_quorum(signers)
            (config_base or membership).apply(config_changes(entry))
        return signers

    @staticmethod
    def _signature_orgs(checked: CheckedEntry, membership: Membership) -> set[str]:
        entry = checked.entry
        orgs: set[str] = set()
        message: bytes | None = None
        for key_id, sig in entry.signatures:
            owner = membership.key_owner(key_id)
            if owner is None:
                raise UnknownKey(f"signature by key {key_id}, which is not a member's key")
            key = membership.organisations[owner].keys[key_id]
            if key.status != "active":
                raise KeyRevoked(f"signature by key {key_id} of {owner}, revoked earlier")
            if key_id in checked.bad_keys:
                ok = False
            elif key_id in checked.good_keys:
                ok = True
            else:
                message = message or entry.signing_message
                ok = key.public_key.verify(sig, message)
            if not ok:
                raise SignatureInvalid(f"the signature by key {key_id} of {owner} does not verify")
            orgs.add(owner)
        return orgs

    # -- blocks -------------------------------------------------------------------------

    def apply_block(
        self,
        header_bytes: bytes,
        checkpoint_text: str,
        entries: Sequence[tuple[bytes, bytes | None]] | None = None,
        *,
        checked: Sequence[CheckedEntry | EntryFailure] | None = None,
    ) -> BlockSummary:
        """Verify one block against the state and advance it; raise an :class:`IntegrityError`
        naming the height, the entry and the reason for the first thing that is wrong.

        Give either raw ``entries`` (envelope, payload) or their ``checked`` form from
        :func:`preverify`. Nothing in the state changes unless the whole block verifies.
        """
        height = self.height + 1
        try:
            header = BlockHeader.from_bytes(header_bytes)
        except EncodingError as exc:
            raise BlockInvalid(f"block header: {exc.detail}", height=height) from exc
        if header.height != height:
            raise ChainBroken(f"expected height {height}, found {header.height}", height=height)
        if header.consortium != self.consortium.hash.hex():
            raise ChainBroken("the block belongs to another consortium", height=height)
        if header.prev_hash != self.head_hash.hex():
            raise ChainBroken("prev_hash does not match the previous block's hash", height=height)
        block_time = parse_time(header.time)
        if self.head_time is not None and block_time < parse_time(self.head_time):
            raise BlockInvalid("block time is earlier than the previous block's", height=height)
        if checked is None:
            if entries is None:
                raise BlockInvalid("no entries given", height=height)
            checked = [preverify(env, pl, {}) for env, pl in entries]
        if header.first_index != self.tree.size:
            raise ChainBroken(
                f"first_index {header.first_index} but the log has {self.tree.size} entries",
                height=height,
            )
        if header.entry_count != len(checked) or header.entry_count < 1:
            raise BlockInvalid(
                f"the header counts {header.entry_count} entries, the block has {len(checked)}",
                height=height,
            )
        if header.tree_size != header.first_index + header.entry_count:
            raise BlockInvalid("tree_size is not first_index + entry_count", height=height)
        try:
            self.membership.active_key(header.proposer, header.key_id)
        except EntryRejected as exc:
            raise BlockInvalid(f"proposer: {exc.detail}", height=height) from exc

        # Entries, in order, against the membership in force when the block began.
        tree = self.tree.copy()
        pending: set[bytes] = set()
        accepted: list[Entry] = []
        new_nodes: list[tuple[int, int, bytes]] = []
        next_membership = self.membership
        for i, item in enumerate(checked):
            index = header.first_index + i
            if isinstance(item, EntryFailure):
                raise BlockInvalid(
                    f"entry {index}: {item.detail}",
                    height=height,
                    entry_index=index,
                    reason=item.code,
                )
            entry = item.entry
            try:
                self.check_entry(
                    item,
                    reference_time=block_time,
                    pending=pending.__contains__,
                    config_base=next_membership,
                )
                if entry.type == CONFIG_TYPE:
                    next_membership = next_membership.apply(config_changes(entry))
            except TradeLedgerError as exc:
                raise BlockInvalid(
                    f"entry {index} ({entry.hash_hex}): {exc.detail}",
                    height=height,
                    entry_index=index,
                    entry_hash=entry.hash_hex,
                    reason=exc.code,
                ) from exc
            pending.add(entry.entry_hash)
            accepted.append(entry)
            new_nodes.extend(tree.append(entry.entry_hash))
        if tree.root().hex() != header.tree_root:
            raise MerkleRootMismatch(
                f"tree_root {header.tree_root} does not match the entries "
                f"(computed {tree.root().hex()})",
                height=height,
            )
        try:
            checkpoint = Checkpoint.from_text(checkpoint_text)
            if checkpoint.body != checkpoint_body(self.origin, header):
                raise CheckpointInvalid("the checkpoint does not describe this block")
            # One member's valid signature stores a block; the consortium's checkpoint quorum
            # makes it final (``finality``). Members build and cosign the same header
            # independently, so no one signature (not even the proposer's) is special.
            signers = checkpoint.verify(self.membership, quorum=1)
        except (CheckpointInvalid, EncodingError, ValueError) as exc:
            detail = exc.detail if isinstance(exc, TradeLedgerError) else str(exc)
            raise CheckpointInvalid(f"checkpoint: {detail}", height=height) from exc

        # Everything verified: advance.
        for h in pending:
            self.known.add(h)
        self.tree = tree
        self.height = height
        self.head_hash = header.block_hash
        self.head_time = header.time
        self.membership = next_membership
        return BlockSummary(
            header, self.head_hash, checkpoint, tuple(accepted), tuple(new_nodes), signers
        )

    # -- making blocks (the proposer's side) ---------------------------------------------

    def propose_block(
        self,
        entries: Sequence[Entry],
        proposer: str,
        key: SigningKey,
        time: datetime,
        status_root: bytes = EMPTY_STATUS_ROOT,
    ) -> tuple[bytes, str]:
        """Header bytes and signed checkpoint text for a block of already-checked entries.

        The caller then applies it with :meth:`apply_block`, the same path replay takes.
        ``status_root`` is the status map's root after the block, which the caller computes
        from the document rules (a node's index); :meth:`apply_block` takes it as header data.
        """
        header = self.next_header(entries, proposer, key.key_id, time, status_root)
        checkpoint = Checkpoint(checkpoint_body(self.origin, header)).signed_by(proposer, key)
        return header.to_bytes(), checkpoint.to_text()

    def next_header(
        self,
        entries: Sequence[Entry],
        proposer: str,
        key_id: str,
        time: datetime,
        status_root: bytes = EMPTY_STATUS_ROOT,
    ) -> BlockHeader:
        """The header of the next block holding ``entries`` (already checked), cut by
        ``proposer`` at ``time`` (never earlier than the head's time). Deterministic: every
        member of a consortium that cuts the same entries at the same time builds these bytes."""
        tree = self.tree.copy()
        for entry in entries:
            tree.append(entry.entry_hash)
        block_time = max(
            format_time(time), self.head_time or ""
        )  # equal-width strings compare chronologically
        return BlockHeader(
            consortium=self.consortium.hash.hex(),
            height=self.height + 1,
            prev_hash=self.head_hash.hex(),
            time=block_time,
            proposer=proposer,
            key_id=key_id,
            first_index=self.tree.size,
            entry_count=len(entries),
            tree_size=tree.size,
            tree_root=tree.root().hex(),
            status_root=status_root.hex(),
        )


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def _empty_known() -> KnownEntries:
    return TruncatedHashSet()


def config_changes(entry: Entry) -> list[Any]:
    """The change list of a ``config.update`` entry (its payload must be present)."""
    if entry.payload is None:
        raise EntryRejected("a membership change must be stored with its payload")
    try:
        # parse_json, not json.loads: a lone surrogate or deep nesting is refused here rather
        # than failing later inside the encoder or the interpreter
        doc = parse_json(entry.payload, "a membership change's payload")
    except EncodingError as exc:
        raise EntryRejected(exc.detail, location=exc.location) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("changes"), list):
        raise EntryRejected('a membership change\'s payload is {"changes": [...]}')
    changes: list[Any] = doc["changes"]
    return changes


def describe_failure(exc: IntegrityError) -> dict[str, Any]:
    """The fields an audit report gives for the first failure."""
    return {
        "height": exc.extra.get("height"),
        "entry_index": exc.extra.get("entry_index"),
        "entry_hash": exc.extra.get("entry_hash"),
        "reason": exc.extra.get("reason", exc.code),
        "detail": exc.detail,
    }
