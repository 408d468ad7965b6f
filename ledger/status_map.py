"""The status map: an authenticated map from document id to the document's current state.

Pure Python, no I/O (``docs/ledger-format.md`` §12). Provenance and ``/v1/verify`` prove that
each event they show is on the ledger; the status map proves that none was left out. A block
header commits to the map's root; a proof for one document shows its state record (status,
number of events, a running hash over their entry hashes, the latest one) at that block, or
that the map holds no such document.

The map is a sparse Merkle tree over 256-bit keys in its *compact* form (leaves collapsed to
the highest node where they are alone, as in Diem's Jellyfish tree):

* key ``SHA-256(tradeledger/v1/status-key\\n || canonical(doc_id))``, its bits read from the
  most significant one (bit 0 chooses the root's child: 0 left, 1 right);
* state hash ``SHA-256(tradeledger/v1/status-state\\n || canonical(record))``;
* leaf hash ``SHA-256(tradeledger/v1/status-leaf\\n || key || state hash)``;
* node hash ``SHA-256(tradeledger/v1/status-node\\n || left || right)``;
* the empty subtree hashes to :data:`EMPTY` (32 zero bytes), at every height, and a subtree
  holding one leaf hashes to that leaf's hash, wherever it sits.

So the tree over a set of keys has one shape, and updating a key hashes about log2(n) nodes
(20 at a million documents), where a tree of full depth would hash 256. A proof is the path's
depth, a bitmap of its non-empty siblings, those siblings, and what the path ends in: the
document's own leaf, an empty subtree, or another document's leaf (key and state hash), whose
key shares the path (:class:`StatusProof`, a strict binary encoding).

Nodes live in a :class:`NodeStore` (a dict, :class:`MemoryNodeStore`, or a node's database)
under their position ``2**depth + prefix`` (the root is 1, the children of ``p`` are ``2p`` and
``2p + 1``). A stored node is 32 bytes (an inner node's hash) or 64 (a leaf: key, state hash).
:meth:`StatusMap.stage` computes a block's new root and changed nodes without writing, so the
root can go into a header before the block is committed with the nodes in one transaction.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from ledger.encoding import Tag, canonical_bytes, fast_canonical_bytes, parse_canonical
from ledger.entries import ENTRY_TYPE, HEX64, MAX_SUBJECT
from ledger.errors import EncodingError, InvalidInput, ProofInvalid

__all__ = [
    "EMPTY",
    "KEY_BITS",
    "NO_EVENTS",
    "STATUSES",
    "DocumentState",
    "MemoryNodeStore",
    "NodeStore",
    "StagedUpdate",
    "StatusMap",
    "StatusProof",
    "chain_event",
    "document_key",
    "leaf_hash",
    "next_state",
    "node_hash",
    "verify_events",
    "verify_key_proof",
    "verify_proof",
]

KEY_BITS = 256
HASH_SIZE = 32
EMPTY = bytes(HASH_SIZE)
"""The hash of an empty subtree, at every height (and the root of the empty map)."""
NO_EVENTS = bytes(HASH_SIZE)
"""The running event hash of a document with no events (the chain's start)."""
STATE_VERSION = 1
#: What the index says of a document (``nodes/index.py``); ``expired`` is computed from
#: ``valid_until`` by whoever reads the state, never stored.
STATUSES = frozenset({"unknown", "current", "superseded", "revoked"})

_sha256 = hashlib.sha256
_KEY_TAG = Tag.STATUS_KEY.value
_STATE_TAG = Tag.STATUS_STATE.value
_LEAF_TAG = Tag.STATUS_LEAF.value
_NODE_TAG = Tag.STATUS_NODE.value
_EVENTS_TAG = Tag.STATUS_EVENTS.value
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_STATE_FIELDS = frozenset(
    {
        "v",
        "status",
        "events",
        "events_hash",
        "latest_event",
        "latest_type",
        "superseded_by",
        "valid_until",
    }
)


# --- hashing --------------------------------------------------------------------------------


def document_key(doc_id: str) -> bytes:
    """The map key of a document id: ``SHA-256(status-key tag || canonical(doc_id))``."""
    if not isinstance(doc_id, str) or not doc_id or len(doc_id) > MAX_SUBJECT:
        raise InvalidInput(f"{doc_id!r} is not a document id")
    return _sha256(_KEY_TAG + canonical_bytes(doc_id)).digest()


def leaf_hash(key: bytes, state_hash: bytes) -> bytes:
    """``SHA-256(status-leaf tag || key || state hash)``."""
    return _sha256(_LEAF_TAG + key + state_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(status-node tag || left || right)``."""
    return _sha256(_NODE_TAG + left + right).digest()


def chain_event(events_hash: bytes, entry_hash: bytes) -> bytes:
    """The running event hash after one more event: ``SHA-256(status-events tag || previous
    running hash || entry hash)``, starting from :data:`NO_EVENTS`."""
    return _sha256(_EVENTS_TAG + events_hash + entry_hash).digest()


def _stored_hash(node: bytes | None) -> bytes:
    """The hash of a stored node: an inner node's is stored, a leaf's is computed."""
    if node is None:
        return EMPTY
    if len(node) == HASH_SIZE:
        return node
    return _sha256(_LEAF_TAG + node).digest()


def _check_hash(what: str, value: object) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise InvalidInput(f"the {what} must be a {HASH_SIZE}-byte hash")
    return value


# --- the state record -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocumentState:
    """What the map says of one document at a block.

    ``events`` counts the entries that concern the document (its provenance: entries with it as
    ``subject`` and entries whose ``refs`` name one of its entries), ``events_hash`` chains their
    entry hashes in ledger order (:func:`chain_event`), ``latest_event``/``latest_type`` are the
    last of them. ``status``, ``superseded_by`` and ``valid_until`` are the index's.
    """

    status: str
    events: int
    events_hash: bytes
    latest_event: bytes
    latest_type: str
    superseded_by: str | None = None
    valid_until: str | None = None

    def __post_init__(self) -> None:
        _check_state(self)

    def to_json(self) -> dict[str, Any]:
        """The record as JSON (what answers carry and what is hashed, canonically)."""
        return {
            "v": STATE_VERSION,
            "status": self.status,
            "events": self.events,
            "events_hash": self.events_hash.hex(),
            "latest_event": self.latest_event.hex(),
            "latest_type": self.latest_type,
            "superseded_by": self.superseded_by,
            "valid_until": self.valid_until,
        }

    def to_bytes(self) -> bytes:
        """Canonical bytes of :meth:`to_json`, written directly: the keys are fixed ASCII in
        RFC 8785 order, every value but ``superseded_by`` is checked ASCII needing no escape,
        and that one is encoded on its own (tests hold this equal to ``canonical_bytes``)."""
        by = b"null" if self.superseded_by is None else fast_canonical_bytes(self.superseded_by)
        until = b"null" if self.valid_until is None else b'"%s"' % self.valid_until.encode()
        return (
            b'{"events":%d,"events_hash":"%s","latest_event":"%s","latest_type":"%s",'
            b'"status":"%s","superseded_by":%s,"v":%d,"valid_until":%s}'
            % (
                self.events,
                self.events_hash.hex().encode(),
                self.latest_event.hex().encode(),
                self.latest_type.encode(),
                self.status.encode(),
                by,
                STATE_VERSION,
                until,
            )
        )

    def state_hash(self) -> bytes:
        """``SHA-256(status-state tag || canonical(record))``: what the map's leaf commits to."""
        return _sha256(_STATE_TAG + self.to_bytes()).digest()

    @classmethod
    def from_json(cls, value: Any) -> DocumentState:
        """Read a record from parsed JSON, refusing anything but exactly the fields above."""
        if not isinstance(value, dict) or value.keys() != _STATE_FIELDS:
            raise EncodingError(f"a status record has exactly {', '.join(sorted(_STATE_FIELDS))}")
        if value["v"] != STATE_VERSION or isinstance(value["v"], bool):
            raise EncodingError("unsupported status record version", location="/v")
        for name in ("events_hash", "latest_event"):
            if not isinstance(value[name], str) or not HEX64.fullmatch(value[name]):
                raise EncodingError(f"{name} must be 64 lowercase hex digits", location=f"/{name}")
        try:
            return cls(
                status=value["status"],
                events=value["events"],
                events_hash=bytes.fromhex(value["events_hash"]),
                latest_event=bytes.fromhex(value["latest_event"]),
                latest_type=value["latest_type"],
                superseded_by=value["superseded_by"],
                valid_until=value["valid_until"],
            )
        except InvalidInput as exc:
            raise EncodingError(f"a status record: {exc.detail}", location=exc.location) from exc

    @classmethod
    def from_bytes(cls, data: bytes) -> DocumentState:
        """Read a record from its canonical bytes (any other spelling is refused)."""
        return cls.from_json(parse_canonical(data, "the status record"))

    def is_expired(self, on: date) -> bool:
        """Whether a current document's validity ended before ``on`` (never stored)."""
        return (
            self.status == "current"
            and self.valid_until is not None
            and (self.valid_until < on.isoformat())
        )


def _is_text(value: str) -> bool:
    """Whether ``value`` is Unicode text (no lone surrogate: it has a UTF-8 form)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _check_state(state: DocumentState) -> None:
    if not isinstance(state.status, str) or state.status not in STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(sorted(STATUSES))}", location="/status"
        )
    events = state.events
    if isinstance(events, bool) or not isinstance(events, int) or not 1 <= events < 2**53:
        raise InvalidInput("events must be a positive integer", location="/events")
    _check_hash("events_hash", state.events_hash)
    _check_hash("latest_event", state.latest_event)
    if not isinstance(state.latest_type, str) or not ENTRY_TYPE.fullmatch(state.latest_type):
        raise InvalidInput("latest_type must be an entry type", location="/latest_type")
    by = state.superseded_by
    if by is not None and (
        not isinstance(by, str) or not by or len(by) > MAX_SUBJECT or not _is_text(by)
    ):
        raise InvalidInput("superseded_by must be a document id or null", location="/superseded_by")
    until = state.valid_until
    if until is not None:
        try:
            if not isinstance(until, str) or not _DATE.fullmatch(until):
                raise ValueError(until)
            date.fromisoformat(until)
        except ValueError:
            raise InvalidInput(
                "valid_until must be a date (YYYY-MM-DD) or null", location="/valid_until"
            ) from None


def next_state(
    prev: DocumentState | None,
    events: Sequence[tuple[bytes, str]],
    *,
    status: str,
    superseded_by: str | None = None,
    valid_until: str | None = None,
) -> DocumentState:
    """A document's state after a block: ``prev`` (None for a document new to the map) with
    ``events`` appended, as ``(entry hash, entry type)`` in ledger order, and the status the
    index gives the document once the block is applied.

    The status is an argument, not derived here: the index decides it from payloads (an
    amendment's ``supersedes``) and from other documents (a revocation takes effect only through
    the certificate's defining entry, by its issuer), which a pure fold over one document's
    entries cannot see. What this fixes is the event bookkeeping every node must agree on.
    """
    if prev is None and not events:
        raise InvalidInput("a document enters the map with its first event")
    count = prev.events if prev is not None else 0
    chained = prev.events_hash if prev is not None else NO_EVENTS
    latest = prev.latest_event if prev is not None else EMPTY
    latest_type = prev.latest_type if prev is not None else ""
    for entry_hash, entry_type in events:
        chained = chain_event(chained, _check_hash("event's entry hash", entry_hash))
        latest, latest_type = entry_hash, entry_type
        count += 1
    return DocumentState(
        status=status,
        events=count,
        events_hash=chained,
        latest_event=latest,
        latest_type=latest_type,
        superseded_by=superseded_by,
        valid_until=valid_until,
    )


def verify_events(state: DocumentState, entry_hashes: Sequence[bytes]) -> None:
    """Check that ``entry_hashes`` (a provenance's events, in ledger order) are exactly the
    events the map committed to; :class:`ProofInvalid` names what is missing or extra."""
    if len(entry_hashes) != state.events:
        raise ProofInvalid(
            f"the status map records {state.events} event(s) for the document; "
            f"the answer lists {len(entry_hashes)}"
        )
    chained = NO_EVENTS
    for h in entry_hashes:
        chained = chain_event(chained, _check_hash("event's entry hash", h))
    if entry_hashes[-1] != state.latest_event:
        raise ProofInvalid(
            f"the status map's latest event is {state.latest_event.hex()}; "
            f"the answer's last is {entry_hashes[-1].hex()}"
        )
    if chained != state.events_hash:
        raise ProofInvalid(
            "the answer's events are not the ones the status map records "
            "(their running hash differs)"
        )


# --- proofs ---------------------------------------------------------------------------------

_OWN_LEAF = 0
_EMPTY_END = 1
_OTHER_LEAF = 2
_END_NAMES = {_OWN_LEAF: "the document's leaf", _EMPTY_END: "empty", _OTHER_LEAF: "another leaf"}


@dataclass(frozen=True, slots=True)
class StatusProof:
    """A path from the root to where a key's leaf is or would be.

    ``siblings`` has one entry per depth ``0 … depth-1`` (the root's children first), ``None``
    for an empty sibling. ``end`` is ``"leaf"`` (the key's own leaf: a membership proof),
    ``"empty"`` or ``"other"`` (another key's leaf sits where the key's would: ``other_key``
    and ``other_state_hash``), the last two non-membership proofs.

    Binary form (:meth:`to_bytes`, all integers big-endian)::

        end (1 byte: 0 leaf, 1 empty, 2 other) || depth (2 bytes, 0…256)
        || bitmap (ceil(depth/8) bytes; bit i, most significant first, set if the sibling
           at depth i is not empty; the bits past depth are zero)
        || the non-empty siblings, 32 bytes each, root side first
        || other key (32) || other state hash (32)        only when end is 2
    """

    end: str
    siblings: tuple[bytes | None, ...]
    other_key: bytes | None = None
    other_state_hash: bytes | None = None

    def __post_init__(self) -> None:
        if self.end not in ("leaf", "empty", "other"):
            raise ProofInvalid(f"a status proof ends in leaf, empty or other, not {self.end!r}")
        if not isinstance(self.siblings, tuple) or len(self.siblings) > KEY_BITS:
            raise ProofInvalid(f"a status proof has a tuple of at most {KEY_BITS} siblings")
        for i, sibling in enumerate(self.siblings):
            if sibling is not None and (not isinstance(sibling, bytes) or len(sibling) != 32):
                raise ProofInvalid(f"the status proof's sibling at depth {i} is not a hash")
        if self.siblings and self.siblings[-1] is None:
            raise ProofInvalid("the status proof's deepest sibling is empty (not canonical)")
        other = (self.other_key, self.other_state_hash)
        if self.end == "other":
            if not all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in other):
                raise ProofInvalid("a status proof ending in another leaf needs its key and hash")
        elif other != (None, None):
            raise ProofInvalid("only a status proof ending in another leaf names one")

    @property
    def depth(self) -> int:
        return len(self.siblings)

    def is_membership(self) -> bool:
        return self.end == "leaf"

    def to_bytes(self) -> bytes:
        end = {"leaf": _OWN_LEAF, "empty": _EMPTY_END, "other": _OTHER_LEAF}[self.end]
        depth = self.depth
        bits = 0
        for i, sibling in enumerate(self.siblings):
            if sibling is not None:
                bits |= 1 << (8 * ((depth + 7) // 8) - 1 - i)
        parts = [
            bytes([end]),
            depth.to_bytes(2, "big"),
            bits.to_bytes((depth + 7) // 8, "big"),
            *(s for s in self.siblings if s is not None),
        ]
        if self.other_key is not None and self.other_state_hash is not None:
            parts += [self.other_key, self.other_state_hash]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> StatusProof:
        """Parse the binary form strictly: :class:`ProofInvalid` for an unknown end, a depth
        over 256, bitmap bits past the depth, a length that is not exactly what the header
        says, or a path that cannot be canonical (a non-empty path whose deepest sibling is
        empty: such a node would have been collapsed)."""
        if not isinstance(data, bytes):
            raise ProofInvalid(f"a status proof is bytes, not {type(data).__name__}")
        if len(data) < 3:
            raise ProofInvalid(f"a status proof is at least 3 bytes, not {len(data)}")
        end_byte = data[0]
        if end_byte not in _END_NAMES:
            raise ProofInvalid(f"a status proof cannot end in kind {end_byte}")
        depth = int.from_bytes(data[1:3], "big")
        if depth > KEY_BITS:
            raise ProofInvalid(f"a status proof's depth is at most {KEY_BITS}, not {depth}")
        width = (depth + 7) // 8
        if len(data) < 3 + width:
            raise ProofInvalid("the status proof ends inside its bitmap")
        bits = int.from_bytes(data[3 : 3 + width], "big")
        spare = 8 * width - depth
        if bits & ((1 << spare) - 1):
            raise ProofInvalid(f"the status proof's bitmap has bits past depth {depth}")
        present = [bool(bits >> (8 * width - 1 - i) & 1) for i in range(depth)]
        tail = 2 * HASH_SIZE if end_byte == _OTHER_LEAF else 0
        expected = 3 + width + HASH_SIZE * sum(present) + tail
        if len(data) != expected:
            raise ProofInvalid(f"the status proof is {len(data)} bytes; its header says {expected}")
        at = 3 + width
        siblings: list[bytes | None] = []
        for here in present:
            if here:
                siblings.append(data[at : at + HASH_SIZE])
                at += HASH_SIZE
            else:
                siblings.append(None)
        if end_byte == _OTHER_LEAF:
            return cls("other", tuple(siblings), data[at : at + 32], data[at + 32 : at + 64])
        return cls("leaf" if end_byte == _OWN_LEAF else "empty", tuple(siblings))


def _bit(key_int: int, depth: int) -> int:
    return (key_int >> (KEY_BITS - 1 - depth)) & 1


def verify_proof(
    root: bytes, doc_id: str, proof: StatusProof | bytes, expected: DocumentState | None
) -> None:
    """Check that the map with root ``root`` holds ``expected`` for ``doc_id`` (or, with
    ``expected=None``, holds nothing for it). Raises :class:`ProofInvalid` otherwise: a
    membership proof is never taken as non-membership, nor the reverse."""
    state_hash = None if expected is None else expected.state_hash()
    verify_key_proof(root, document_key(doc_id), proof, state_hash, what=repr(doc_id))


def verify_key_proof(
    root: bytes,
    key: bytes,
    proof: StatusProof | bytes,
    state_hash: bytes | None,
    *,
    what: str = "the key",
) -> None:
    """:func:`verify_proof` for a raw key and state hash (None: the key is absent)."""
    _check_hash("status map root", root)
    _check_hash("key", key)
    if isinstance(proof, bytes):
        proof = StatusProof.from_bytes(proof)
    key_int = int.from_bytes(key, "big")
    depth = proof.depth
    if state_hash is not None:
        if proof.end != "leaf":
            raise ProofInvalid(
                f"the status proof says the map holds nothing for {what} "
                f"(its path ends in {proof.end}); a state was expected"
            )
        h = leaf_hash(key, _check_hash("state hash", state_hash))
    elif proof.end == "leaf":
        raise ProofInvalid(f"the status proof is a membership proof: the map holds {what}")
    elif proof.end == "empty":
        h = EMPTY
    else:
        other = proof.other_key
        assert other is not None and proof.other_state_hash is not None
        if other == key:
            raise ProofInvalid(f"the status proof's other leaf is {what}'s own")
        other_int = int.from_bytes(other, "big")
        if depth and (other_int ^ key_int) >> (KEY_BITS - depth):
            raise ProofInvalid(f"the status proof's other leaf is not on {what}'s path")
        h = leaf_hash(other, proof.other_state_hash)
    for level in range(depth - 1, -1, -1):
        sibling = proof.siblings[level]
        sibling = EMPTY if sibling is None else sibling
        h = node_hash(sibling, h) if _bit(key_int, level) else node_hash(h, sibling)
    if h != root:
        held = "state" if state_hash is not None else "absence"
        raise ProofInvalid(
            f"the status proof of {what}'s {held} leads to root {h.hex()}, "
            f"not the checkpoint's status root {root.hex()}"
        )


# --- storage --------------------------------------------------------------------------------


class NodeStore(Protocol):
    """Where a map keeps its nodes, by position (see the module's docstring)."""

    def get(self, position: int) -> bytes | None:
        """The node at ``position`` (32 bytes: inner node hash; 64: key || state hash), or
        None where the subtree is empty."""
        ...

    def put_many(self, nodes: Mapping[int, bytes]) -> None:
        """Store (or overwrite) nodes. A map never removes a node: documents stay."""
        ...


class MemoryNodeStore:
    """A dict of nodes by position."""

    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes: dict[int, bytes] = {}

    def get(self, position: int) -> bytes | None:
        return self.nodes.get(position)

    def put_many(self, nodes: Mapping[int, bytes]) -> None:
        self.nodes.update(nodes)

    def __len__(self) -> int:
        return len(self.nodes)


@dataclass(frozen=True, slots=True)
class StagedUpdate:
    """A batch of changes computed but not written: the root they lead to and the nodes
    (by position) to store with :meth:`StatusMap.apply`."""

    root: bytes
    nodes: Mapping[int, bytes]


class StatusMap:
    """The status map over a :class:`NodeStore` (in memory unless one is given)."""

    __slots__ = ("store",)

    def __init__(self, store: NodeStore | None = None) -> None:
        self.store: NodeStore = store if store is not None else MemoryNodeStore()

    @property
    def root(self) -> bytes:
        return _stored_hash(self.store.get(1))

    def get_hashed(self, key: bytes) -> bytes | None:
        """The state hash the map holds for ``key``, or None."""
        end, _, node = self._walk(_check_hash("key", key))
        return node[HASH_SIZE:] if end == "leaf" and node is not None else None

    # -- updates ---------------------------------------------------------------------------

    def stage(self, states: Mapping[str, DocumentState]) -> StagedUpdate:
        """The root and nodes after setting each document's state (nothing is written)."""
        return self.stage_hashed({document_key(d): s.state_hash() for d, s in states.items()})

    def stage_hashed(
        self, items: Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]]
    ) -> StagedUpdate:
        """As :meth:`stage`, from ``(key, state hash)`` pairs (the bulk path: the
        later of two pairs with one key wins)."""
        pairs = items.items() if isinstance(items, Mapping) else items
        merged: dict[int, bytes] = {}
        for key, state_hash in pairs:
            merged[int.from_bytes(_check_hash("key", key), "big")] = _check_hash(
                "state hash", state_hash
            )
        keys = sorted(merged)
        values = [merged[k] for k in keys]
        changes: dict[int, bytes] = {}
        root = _Updater(self.store.get, keys, values, changes).update(1, 0, 0, len(keys))
        return StagedUpdate(root, changes)

    def apply(self, staged: StagedUpdate) -> bytes:
        """Write a staged batch; return the new root."""
        self.store.put_many(staged.nodes)
        return staged.root

    def update(self, states: Mapping[str, DocumentState]) -> bytes:
        """Set each document's state in one batch (each touched path hashed once)."""
        return self.apply(self.stage(states))

    def update_hashed(self, items: Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]]) -> bytes:
        return self.apply(self.stage_hashed(items))

    # -- proofs ----------------------------------------------------------------------------

    def prove(self, doc_id: str) -> StatusProof:
        """A membership proof if the map holds ``doc_id``, else a non-membership proof."""
        return self.prove_key(document_key(doc_id))

    def prove_key(self, key: bytes) -> StatusProof:
        end, siblings, node = self._walk(_check_hash("key", key))
        if end == "other":
            assert node is not None
            return StatusProof("other", siblings, node[:HASH_SIZE], node[HASH_SIZE:])
        return StatusProof(end, siblings)

    def _walk(self, key: bytes) -> tuple[str, tuple[bytes | None, ...], bytes | None]:
        get = self.store.get
        key_int = int.from_bytes(key, "big")
        siblings: list[bytes | None] = []
        position = 1
        for depth in range(KEY_BITS + 1):
            node = get(position)
            if node is None:
                return "empty", tuple(siblings), None
            if len(node) != HASH_SIZE:
                return ("leaf" if node[:HASH_SIZE] == key else "other"), tuple(siblings), node
            child = 2 * position + _bit(key_int, depth)
            sibling = get(child ^ 1)
            siblings.append(None if sibling is None else _stored_hash(sibling))
            position = child
        raise AssertionError("a path is at most 256 deep")  # pragma: no cover


class _Updater:
    """One batch: sorted keys (ints) and their state hashes, merged into the stored tree."""

    __slots__ = ("changes", "get", "keys", "values")

    def __init__(
        self, get: Any, keys: list[int], values: list[bytes], changes: dict[int, bytes]
    ) -> None:
        self.get = get
        self.keys = keys
        self.values = values
        self.changes = changes

    def update(self, position: int, depth: int, lo: int, hi: int) -> bytes:
        """New hash of the subtree at ``position`` (``depth``) with keys[lo:hi] set in it."""
        node = self.get(position)
        if lo == hi:
            return _stored_hash(node)
        if node is None:
            return self.build(position, depth, lo, hi, None)
        if len(node) != HASH_SIZE:
            return self.build(position, depth, lo, hi, node)
        mid = bisect_left(self.keys, self._split(position, depth), lo, hi)
        left = self.update(2 * position, depth + 1, lo, mid)
        right = self.update(2 * position + 1, depth + 1, mid, hi)
        h = _sha256(_NODE_TAG + left + right).digest()
        self.changes[position] = h
        return h

    @staticmethod
    def _split(position: int, depth: int) -> int:
        """The smallest key whose bit ``depth`` is 1 under ``position``'s prefix."""
        prefix = position ^ (1 << depth)
        return ((2 * prefix + 1) << (KEY_BITS - 1 - depth)) if depth < KEY_BITS else 0

    def build(self, position: int, depth: int, lo: int, hi: int, leaf: bytes | None) -> bytes:
        """A fresh subtree for keys[lo:hi] plus ``leaf`` (a stored leaf already here, unless
        the batch sets its key), none of it read from the store."""
        keys, values = self.keys, self.values
        if leaf is not None:
            leaf_key = int.from_bytes(leaf[:HASH_SIZE], "big")
            at = bisect_left(keys, leaf_key, lo, hi)
            if at < hi and keys[at] == leaf_key:
                leaf = None  # the batch overwrites it
        if leaf is None and hi - lo == 1:
            stored = keys[lo].to_bytes(HASH_SIZE, "big") + values[lo]
            self.changes[position] = stored
            return _sha256(_LEAF_TAG + stored).digest()
        if leaf is None:
            return self._build_many(position, depth, lo, hi)
        # the old leaf and the batch's keys share this subtree: split until they part
        mid = bisect_left(keys, self._split(position, depth), lo, hi)
        goes_right = _bit(int.from_bytes(leaf[:HASH_SIZE], "big"), depth)
        if goes_right:
            left = self._fresh(2 * position, depth + 1, lo, mid, None)
            right = self._fresh(2 * position + 1, depth + 1, mid, hi, leaf)
        else:
            left = self._fresh(2 * position, depth + 1, lo, mid, leaf)
            right = self._fresh(2 * position + 1, depth + 1, mid, hi, None)
        h = _sha256(_NODE_TAG + left + right).digest()
        self.changes[position] = h
        return h

    def _fresh(self, position: int, depth: int, lo: int, hi: int, leaf: bytes | None) -> bytes:
        if lo == hi:
            if leaf is None:
                return EMPTY
            self.changes[position] = leaf
            return _sha256(_LEAF_TAG + leaf).digest()
        return self.build(position, depth, lo, hi, leaf)

    def _build_many(self, position: int, depth: int, lo: int, hi: int) -> bytes:
        """The subtree of two or more new keys (the bulk-build path)."""
        keys, values, changes = self.keys, self.values, self.changes
        mid = bisect_left(keys, self._split(position, depth), lo, hi)
        if mid - lo == 1:
            stored = keys[lo].to_bytes(HASH_SIZE, "big") + values[lo]
            changes[2 * position] = stored
            left = _sha256(_LEAF_TAG + stored).digest()
        elif mid == lo:
            left = EMPTY
        else:
            left = self._build_many(2 * position, depth + 1, lo, mid)
        if hi - mid == 1:
            stored = keys[mid].to_bytes(HASH_SIZE, "big") + values[mid]
            changes[2 * position + 1] = stored
            right = _sha256(_LEAF_TAG + stored).digest()
        elif mid == hi:
            right = EMPTY
        else:
            right = self._build_many(2 * position + 1, depth + 1, mid, hi)
        h = _sha256(_NODE_TAG + left + right).digest()
        changes[position] = h
        return h
