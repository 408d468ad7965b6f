"""Ordering through etcd: one order for the whole consortium, blocks built by every node itself.

etcd (Raft) decides one thing: the order of what was written under the consortium's prefix.
Everything else — checking entries, building blocks, signing — every node does on its own, so
a member trusts etcd for availability and order but never for validity. Keys (prefix
``/tradeledger/<consortium id>/``)::

    order/<org id>   a batch of entries a node admitted (one put per group commit; the
                     node acknowledges its submitters once etcd has committed the put)
    cut              a cut marker: "the entries before me form the next block", with the
                     block's time, signed by the member that wrote it
    cutter           who writes cut markers: a key held with an etcd lease (leader election);
                     markers are written only while the writer's lease holds it
    cosig/<org id>   a node's cosignature (tlog-cosignature/v1 line) of the header it built

Every node watches the prefix from where its last block's cut was and folds the events in
revision order: entries accumulate; a valid marker turns them into the next block through
:meth:`LedgerWriter.build_ordered` (entries that fail the chain's rules are left out by every
honest node alike and reported); the node cosigns the header it built — never two different
headers at one height (``node_cosigned``, in the journal database) — and publishes the line; a
block is final when the consortium's checkpoint quorum of members has cosigned the same header.
Two different signed headers for one height are kept as evidence (``node_evidence``).

The lease holder also compacts etcd's history up to the cut of a block well below the final
head; a node that needs history that is gone fetches the missing final blocks from its peers
over the API and verifies each one before applying it (:meth:`EtcdOrderer.catch_up`).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import BigInteger, Column, LargeBinary, MetaData, Table, text
from sqlalchemy.engine import Engine

from ledger.blocks import Checkpoint
from ledger.chain import BlockSummary, CheckedEntry
from ledger.consortium import Membership
from ledger.encoding import canonical_bytes
from ledger.entries import Entry, parse_entry
from ledger.errors import (
    CheckpointInvalid,
    Conflict,
    EncodingError,
    StorageError,
    StoreInconsistent,
    TradeLedgerError,
)
from ledger.keys import SigningKey
from ledger.timefmt import format_time, now, parse_time
from nodes.etcd import EtcdClient, EtcdUnavailable, WatchCompacted, WatchEvent
from nodes.ordering import OnDone
from nodes.store import LedgerStore
from nodes.writer import LedgerWriter, entry_of

log = logging.getLogger("tradeledger.ordering")

CUT_DOMAIN = b"tradeledger cut marker v1\n"
#: blocks below the final head whose cuts stay in etcd's history for nodes that lag a little
COMPACTION_SLACK = 50
#: how many bytes one etcd write carries at most (etcd's request limit is 1.5 MiB)
BATCH_BYTES = 1_000_000
#: how long the batcher waits for more submissions before an etcd write (seconds), unless
#: this many are already queued
BATCH_LINGER = 0.005
BATCH_LINGER_ENTRIES = 64

cosigned_metadata = MetaData()
cosigned_table = Table(
    "node_cosigned",
    cosigned_metadata,
    Column("height", BigInteger, primary_key=True, autoincrement=False),
    Column("block_hash", LargeBinary, nullable=False),
)


class CosignedHeights:
    """The headers this node has cosigned, one per height, durable before the line leaves
    the node: it never cosigns two different headers at one height, even after its ledger
    database was restored from an old copy (with SQLite this table lives in the journal's own
    file beside the ledger)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        cosigned_metadata.create_all(engine)

    def record(self, height: int, block_hash: bytes) -> None:
        with self.engine.begin() as conn:
            stored = conn.execute(
                text("SELECT block_hash FROM node_cosigned WHERE height = :h"), {"h": height}
            ).scalar()
            if stored is None:
                conn.execute(cosigned_table.insert(), {"height": height, "block_hash": block_hash})
            elif bytes(stored) != block_hash:
                raise StoreInconsistent(
                    f"this node already cosigned a different header at height {height} "
                    f"(block {bytes(stored).hex()}, now {block_hash.hex()}); refusing to "
                    "cosign a second one",
                    height=height,
                )

    def last(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT MAX(height) FROM node_cosigned")).scalar() or 0)


class _NotAMemberYet(Exception):
    """The chain's membership at this height does not hold this node's organisation."""


@dataclass
class _Ticket:
    entries: list[Entry]
    on_done: OnDone | None
    size: int


@dataclass(frozen=True)
class CutMarker:
    time: str
    proposer: str
    key_id: str
    signature: bytes

    @staticmethod
    def message(consortium_id: str, time_: str, proposer: str, key_id: str) -> bytes:
        return CUT_DOMAIN + canonical_bytes(
            {"consortium": consortium_id, "time": time_, "proposer": proposer, "key_id": key_id}
        )

    @classmethod
    def make(cls, consortium_id: str, proposer: str, key: SigningKey) -> CutMarker:
        stamp = format_time(now())
        sig = key.sign(cls.message(consortium_id, stamp, proposer, key.key_id))
        return cls(stamp, proposer, key.key_id, sig)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "time": self.time,
                "proposer": self.proposer,
                "key_id": self.key_id,
                "sig": base64.b64encode(self.signature).decode(),
            }
        ).encode()

    @classmethod
    def parse(cls, data: bytes) -> CutMarker:
        doc = json.loads(data)
        marker = cls(
            str(doc["time"]), str(doc["proposer"]), str(doc["key_id"]), base64.b64decode(doc["sig"])
        )
        parse_time(marker.time)
        return marker

    def verify(self, consortium_id: str, membership: Membership) -> None:
        """Raise unless an active key of ``proposer`` signed this marker."""
        key = membership.active_key(self.proposer, self.key_id)
        message = self.message(consortium_id, self.time, self.proposer, self.key_id)
        if not key.public_key.verify(self.signature, message):
            raise CheckpointInvalid(f"the cut marker's signature by {self.proposer} is not valid")


@dataclass(frozen=True)
class Peer:
    url: str
    token: str | None


class EtcdOrderer:
    """:class:`nodes.ordering.Orderer` over an etcd cluster shared by the consortium."""

    def __init__(
        self,
        *,
        writer: LedgerWriter,
        store: LedgerStore,
        cosigned: CosignedHeights,
        endpoints: list[str],
        org_id: str,
        signing_key: Callable[[Membership], SigningKey | None],
        on_block: Callable[[BlockSummary], None],
        checkpoint_text: Callable[[int], str],
        add_cosignature: Callable[[int, str, str], None],
        on_final: Callable[[int], None],
        peers: list[Peer] | None = None,
        defined: Callable[[list[str]], set[str]] | None = None,
        defining_types: frozenset[str] = frozenset(),
        compaction_slack: int = COMPACTION_SLACK,
        interval: float = 0.2,
        max_entries: int = 500,
        max_backlog: int | None = None,
        ack_timeout: float = 10.0,
        admission_timeout: float = 10.0,
        lease_ttl: int = 2,
    ) -> None:
        self.writer = writer
        self.store = store
        self.cosigned = cosigned
        self.endpoints = endpoints
        self.org_id = org_id
        self.signing_key = signing_key
        self.on_block = on_block
        self.checkpoint_text = checkpoint_text
        self.add_cosignature = add_cosignature
        self.on_final = on_final
        self.peers = peers or []
        #: which of these document ids the node's index already holds (None: no such rule)
        self.defined = defined
        self.defining_types = defining_types
        self.compaction_slack = compaction_slack
        self.interval = interval
        self.max_entries = max_entries
        self.max_backlog = max(max_backlog or 4 * max_entries, max_entries)
        self.ack_timeout = ack_timeout
        self.admission_timeout = admission_timeout
        self.lease_ttl = lease_ttl
        cid = writer.consortium.consortium_id
        self.consortium_id = cid
        self.prefix = order_prefix(cid)
        self._stop = threading.Event()
        self._reader: EtcdClient | None = None
        self._publisher: EtcdClient | None = None  # the reader thread's, for cosignatures
        self._threads: list[threading.Thread] = []
        self._cut_listeners: list[Callable[[], None]] = []
        # submissions: admitted here, not yet in a block (for duplicates, backlog, skip reports)
        self._lock = threading.Lock()
        self._queue: list[_Ticket] = []
        self._queue_cv = threading.Condition(self._lock)
        self._own: dict[bytes, CheckedEntry] = {}
        # the order as read: entries since the last cut marker
        self._uncut: list[Entry | CheckedEntry] = []
        self._uncut_since: float | None = None
        self._marker_sent: float | None = None
        self._last_asked = 0.0  # when the cutter last asked etcd for new entries
        self._early_cosigs: dict[int, list[dict[str, Any]]] = {}
        self.final_height = 0
        self.read_revision = 0
        self.is_cutter = False
        self.skipped = 0
        self.evidence = 0
        self.caught_up_blocks = 0
        self.blocks_cut = 0

    # -- lifecycle --------------------------------------------------------------------------

    def recover(self) -> int:
        """Nothing to recover locally: what was acknowledged is in etcd. Find the final head
        among the stored blocks and where to resume reading the order."""
        height = self.writer.height
        self.read_revision = (self.store.order_revision(height) or 0) if height else 0
        self.final_height = 0
        for h in range(height, 0, -1):
            if self._is_final(h):
                self.final_height = h
                break
        if self.final_height:
            self.on_final(self.final_height)
        return 0

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._batch_loop, name="tl-etcd-batches", daemon=True),
            threading.Thread(target=self._read_loop, name="tl-etcd-order", daemon=True),
            threading.Thread(target=self._cutter_loop, name="tl-etcd-cutter", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        with self._queue_cv:
            self._queue_cv.notify_all()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # let the batcher write what it has queued
            with self._lock:
                if not self._queue:
                    break
            time.sleep(0.02)
        self._stop.set()
        with self._queue_cv:
            self._queue_cv.notify_all()
        if self._reader is not None:
            self._reader.close()  # ends the watch stream the reader is blocked on
        for t in self._threads:
            t.join(timeout=20)

    # -- submitting -------------------------------------------------------------------------

    def enqueue(self, entry: Entry | CheckedEntry, on_done: OnDone | None = None) -> None:
        self.enqueue_all([entry], on_done)

    def enqueue_all(
        self, entries: list[Entry | CheckedEntry], on_done: OnDone | None = None
    ) -> None:
        """Check ``entries`` against this node's chain and the entries it admitted that are
        not in a block yet, then queue them for one etcd write; ``on_done`` runs once etcd has
        committed it (or could not)."""
        if self._stop.is_set():
            raise StorageError("the node is shutting down")
        with self._lock:
            pending = set(self._own)
            checked: list[CheckedEntry] = []
            for item in entries:
                c = self.writer.check(item, pending=pending.__contains__)
                pending.add(c.entry.entry_hash)
                checked.append(c)
            for c in checked:
                self._own[c.entry.entry_hash] = c
            batch = [c.entry for c in checked]
            size = sum(len(e.envelope) + len(e.payload or b"") for e in batch)
            self._queue.append(_Ticket(batch, on_done, size))
            self._queue_cv.notify()

    def pending_count(self) -> int:
        with self._lock:
            return len(self._own)

    def room(self) -> int:
        return max(0, self.max_backlog - self.pending_count())

    def add_cut_listener(self, listener: Callable[[], None]) -> None:
        self._cut_listeners.append(listener)

    def remove_cut_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._cut_listeners:
            self._cut_listeners.remove(listener)

    # -- the batcher: admitted entries to etcd ----------------------------------------------

    def _batch_loop(self) -> None:
        client = EtcdClient(self.endpoints, timeout=self.ack_timeout / 2)
        key = self.prefix + b"order/" + self.org_id.encode()
        try:
            while True:
                with self._queue_cv:
                    while not self._queue and not self._stop.is_set():
                        self._queue_cv.wait()
                    if not self._queue:
                        return
                    # Linger a moment for more submissions: one etcd write (a Raft round and
                    # fsyncs, and one event to every node) for many entries, not one each.
                    if len(self._queue) < BATCH_LINGER_ENTRIES and not self._stop.is_set():
                        self._queue_cv.wait(BATCH_LINGER)
                    tickets: list[_Ticket] = []
                    size = 0
                    while self._queue and (not tickets or size + self._queue[0].size < BATCH_BYTES):
                        t = self._queue.pop(0)
                        tickets.append(t)
                        size += t.size
                value = json.dumps(
                    [
                        [
                            base64.b64encode(e.envelope).decode(),
                            None if e.payload is None else base64.b64encode(e.payload).decode(),
                        ]
                        for t in tickets
                        for e in t.entries
                    ],
                    separators=(",", ":"),
                ).encode()
                error: TradeLedgerError | None = None
                try:
                    client.put(key, value)
                except TradeLedgerError as exc:
                    # Not acknowledged. (It may still have been committed if the answer was
                    # lost; then it reaches a block like any other, and a retry by the client
                    # is refused as a duplicate.)
                    error = exc if isinstance(exc, EtcdUnavailable) else StorageError(exc.detail)
                    with self._lock:
                        for t in tickets:
                            for e in t.entries:
                                self._own.pop(e.entry_hash, None)
                for t in tickets:
                    if t.on_done is not None:
                        try:
                            t.on_done(error)
                        except Exception as exc:
                            log.error("acknowledgement callback failed", extra={"error": str(exc)})
        finally:
            client.close()

    # -- the reader: the one order, folded into blocks --------------------------------------

    def _read_loop(self) -> None:
        client = self._reader = EtcdClient(self.endpoints)
        try:
            while not self._stop.is_set():
                try:
                    for events in client.watch(
                        self.prefix, self.read_revision + 1, stop=self._stop
                    ):
                        for event in events:
                            self._handle(event)
                            self.read_revision = event.kv.mod_revision
                except _NotAMemberYet:
                    self._uncut, self._uncut_since = [], None
                    if not self.catch_up():
                        self._stop.wait(1.0)
                except WatchCompacted as exc:
                    log.warning(
                        "etcd no longer holds the order from our last block; catching up from "
                        "peers",
                        extra={
                            "from_revision": self.read_revision + 1,
                            "compacted": exc.compact_revision,
                        },
                    )
                    self._uncut = []
                    self._uncut_since = None
                    if not self.catch_up():
                        self._stop.wait(1.0)
                except Exception as exc:  # keep reading; the cause is in the log
                    log.exception("reading the order failed", extra={"error": str(exc)})
                    self._stop.wait(0.5)
        finally:
            client.close()
            if self._publisher is not None:
                self._publisher.close()

    def _handle(self, event: WatchEvent) -> None:
        if event.kind == "DELETE":
            return
        key = event.kv.key[len(self.prefix) :]
        if key.startswith(b"order/"):
            self._take_batch(event.kv.value, key[6:].decode(errors="replace"))
        elif key == b"cut":
            self._cut(event.kv.value, event.kv.mod_revision)
        elif key.startswith(b"cosig/"):
            self._take_cosignature(event.kv.value)

    def _take_batch(self, value: bytes, writer_org: str) -> None:
        try:
            items = json.loads(value)
            if not isinstance(items, list):
                raise ValueError("not a list")
        except ValueError:
            log.warning("unreadable batch in the order skipped", extra={"from": writer_org})
            return
        entries: list[Entry] = []
        for item in items:
            try:
                envelope = base64.b64decode(item[0], validate=True)
                payload = None if item[1] is None else base64.b64decode(item[1], validate=True)
                entries.append(parse_entry(envelope, payload))
            except (TradeLedgerError, ValueError, TypeError, IndexError) as exc:
                self.skipped += 1
                log.warning(
                    "entry in the order skipped: unreadable",
                    extra={"from": writer_org, "error": str(exc)},
                )
        with self._lock:  # (held briefly: submissions take it too)
            own = self._own
            for entry in entries:
                self._uncut.append(own.get(entry.entry_hash) or entry)
        if self._uncut and self._uncut_since is None:
            self._uncut_since = time.monotonic()

    def _cut(self, value: bytes, revision: int) -> None:
        membership = self.writer.state.membership
        try:
            marker = CutMarker.parse(value)
            marker.verify(self.consortium_id, membership)
        except (TradeLedgerError, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "invalid cut marker ignored", extra={"revision": revision, "error": str(exc)}
            )
            return
        items, self._uncut, self._uncut_since = self._uncut, [], None
        if not items:
            return
        key = self.signing_key(membership)
        if key is None:
            # Not a member yet at this height (an organisation that joined later): this node
            # cannot sign what it builds, so it takes these blocks, final, from its peers.
            self._uncut = items
            raise _NotAMemberYet(membership.consortium_id)

        def cosign(checkpoint: Checkpoint) -> Checkpoint:
            self.cosigned.record(checkpoint.height, checkpoint.block_hash)
            return checkpoint.cosigned_by(self.org_id, key, int(time.time()))

        items, conflicting = self._drop_redefinitions(items)
        started = time.monotonic()
        summary, skipped = self.writer.build_ordered(
            items,
            time=parse_time(marker.time),
            proposer=marker.proposer,
            proposer_key_id=marker.key_id,
            sign=cosign,
            order_revision=revision,
        )
        skipped = conflicting + skipped
        if skipped:
            self.store.add_skipped(
                [(e.entry_hash, reason.code, reason.detail) for e, reason in skipped],
                format_time(now()),
            )
        with self._lock:
            for entry, reason in skipped:
                self.skipped += 1
                mine = self._own.pop(entry.entry_hash, None) is not None
                log.warning(
                    "entry left out of the block: it fails the chain's rules",
                    extra={
                        "entry_hash": entry.hash_hex,
                        "reason": reason.code,
                        "detail": reason.detail,
                        "submitted_here": mine,
                    },
                )
            if summary is not None:
                for e in summary.entries:
                    self._own.pop(e.entry_hash, None)
        if summary is None:
            return
        built = time.monotonic()
        self._after_block(summary)
        log.info(
            "block",
            extra={
                "height": summary.header.height,
                "entries": summary.header.entry_count,
                "build_ms": round((built - started) * 1000, 1),
                "apply_ms": round((time.monotonic() - built) * 1000, 1),
                # how long after the cutter wrote the marker this node had the block applied
                "behind_cut_ms": round((now() - parse_time(marker.time)).total_seconds() * 1000, 1),
            },
        )

    def _drop_redefinitions(
        self, items: list[Entry | CheckedEntry]
    ) -> tuple[list[Entry | CheckedEntry], list[tuple[Entry, TradeLedgerError]]]:
        """Leave out a second entry defining a document id (a certificate issued twice through
        two nodes at once: each node's admission saw only its own). The chain's rules cannot
        tell — document ids are the documents' business — so every honest node applies this
        one at the cut, against its index (the same chain, so the same answer) and the entries
        before it in the block: the first definition in the order wins."""
        if self.defined is None:
            return items, []
        subjects = [
            e.subject for e in map(entry_of, items) if e.subject and e.type in self.defining_types
        ]
        if not subjects:
            return items, []
        known = self.defined(subjects)
        kept: list[Entry | CheckedEntry] = []
        dropped: list[tuple[Entry, TradeLedgerError]] = []
        for item in items:
            e = entry_of(item)
            if e.subject and e.type in self.defining_types:
                if e.subject in known:
                    dropped.append(
                        (e, Conflict(f"{e.subject} was defined earlier in the consortium's order"))
                    )
                    continue
                known.add(e.subject)
            kept.append(item)
        return kept, dropped

    def _after_block(self, summary: BlockSummary, *, fetched: bool = False) -> None:
        self.blocks_cut += 1
        for listener in list(self._cut_listeners):
            try:
                listener()
            except Exception as exc:
                log.error("cut listener failed", extra={"error": str(exc)})
        height = summary.header.height
        if not fetched:
            # Stored and cosigned: tell the others now, so that their finality does not wait
            # for this node's indexing. (Our own finality check comes after our indexing: the
            # cosignatures are read on this same thread, after this block is applied.)
            self._publish_cosignature(height)
        try:
            self.on_block(summary)
        except Exception as exc:  # stored; the index catches up on restart
            log.error("indexing block failed", extra={"height": height, "error": str(exc)})
        if fetched:  # verified, not built here: cosign it now (after the log view has it)
            self._cosign_fetched(summary)
            self._publish_cosignature(height)
        for cosig in self._early_cosigs.pop(height, []):
            self._apply_cosignature(cosig)
        self._check_final(height)

    def _publish_cosignature(self, height: int) -> None:
        """Send this node's cosignature of block ``height`` to the others (best effort: a node
        that misses it fetches the line with the block)."""
        text_ = self.checkpoint_text(height)
        cp = Checkpoint.from_text(text_)
        mine = [s for s in cp.signatures if s.name.startswith(self.org_id + ":")]
        if not mine:
            return
        line = _line_of(text_, cp.body, mine[0].name)
        value = json.dumps({"height": height, "body": cp.body, "line": line}).encode()
        if self._publisher is None:
            self._publisher = EtcdClient(self.endpoints)
        try:
            self._publisher.put(cosignature_key(self.consortium_id, self.org_id), value)
        except TradeLedgerError as exc:
            log.warning(
                "could not publish our cosignature", extra={"height": height, "error": exc.detail}
            )

    def _take_cosignature(self, value: bytes) -> None:
        try:
            cosig = json.loads(value)
            height = int(cosig["height"])
            str(cosig["body"]), str(cosig["line"])
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable cosignature ignored")
            return
        if height > self.writer.height:
            self._early_cosigs.setdefault(height, []).append(cosig)
            return
        self._apply_cosignature(cosig)
        self._check_final(height)

    def _apply_cosignature(self, cosig: dict[str, Any]) -> None:
        height, body, line = int(cosig["height"]), str(cosig["body"]), str(cosig["line"])
        membership = self.writer.state.membership
        try:
            theirs = Checkpoint.from_text(body + "\n" + line)
            signers = theirs.verified_signers(membership)
        except (TradeLedgerError, ValueError) as exc:
            log.warning(
                "cosignature that does not verify ignored",
                extra={"height": height, "error": str(exc)},
            )
            return
        if not signers or self.org_id in signers:
            return  # an unknown key's line (not a member's), or our own
        ours = self.checkpoint_text(height)
        our_body = Checkpoint.from_text(ours).body
        (signer,) = signers
        if body != our_body:
            # A member signed a different header for this height: equivocation, or a node whose
            # chain has diverged from ours. Either way the auditors must see it.
            self.evidence += 1
            if self.store.add_evidence(
                height, signer, ours, body + "\n" + line, format_time(now())
            ):
                log.error(
                    "conflicting signed header: a member signed a different header for a height",
                    extra={"height": height, "signer": signer},
                )
            return
        name = theirs.signatures[0].name
        self.add_cosignature(height, name, line)

    def _is_final(self, height: int) -> bool:
        membership = self.writer.state.membership
        try:
            signers = Checkpoint.from_text(self.checkpoint_text(height)).verified_signers(
                membership
            )
        except (TradeLedgerError, ValueError):
            return False
        return len(signers) >= membership.checkpoint_quorum

    def _check_final(self, height: int) -> None:
        if height <= self.final_height or not self._is_final(height):
            return
        self.final_height = height
        self.on_final(height)

    # -- the cutter: leader election, cut markers, compaction -------------------------------

    def _cutter_loop(self) -> None:
        client = EtcdClient(self.endpoints, timeout=1.0)
        cutter_key = self.prefix + b"cutter"
        lease = 0
        held_since = 0  # create revision of our cutter key
        renewed = 0.0
        compacted_to = 0
        last_compaction = time.monotonic()
        last_cut = 0  # the revision of our last cut marker
        try:
            while not self._stop.is_set():
                try:
                    if not held_since:
                        lease = client.lease_grant(self.lease_ttl)
                        ok, created = client.put_if(
                            cutter_key, self.org_id.encode(), create_revision=0, lease=lease
                        )
                        if ok:
                            held_since, renewed = created, time.monotonic()
                            self.is_cutter = True
                            log.info("this node now cuts blocks", extra={"org_id": self.org_id})
                        else:
                            client.lease_revoke(lease)
                            self._stop.wait(self.lease_ttl / 4)
                            continue
                    if time.monotonic() - renewed > self.lease_ttl / 3:
                        if client.lease_keepalive(lease) <= 0:
                            raise StorageError("our cutter lease expired")
                        renewed = time.monotonic()
                    if self._should_cut(client, last_cut):
                        key = self.signing_key(self.writer.state.membership)
                        if key is not None:
                            marker = CutMarker.make(self.consortium_id, self.org_id, key)
                            # only while our lease still holds the cutter key: a node that
                            # lost the role cannot cut
                            ok, revision = client.put_if(
                                self.prefix + b"cut",
                                marker.to_bytes(),
                                create_revision=held_since,
                                compare_key=cutter_key,
                            )
                            if not ok:
                                raise StorageError("we no longer hold the cutter key")
                            self._marker_sent = time.monotonic()
                            last_cut = revision
                    if time.monotonic() - last_compaction > 5.0:
                        last_compaction = time.monotonic()
                        compacted_to = self._compact(client, compacted_to)
                except TradeLedgerError as exc:
                    if held_since:
                        log.warning("lost the cutter role", extra={"error": exc.detail})
                    held_since = 0
                    self.is_cutter = False
                    self._stop.wait(0.2)
                    continue
                self._stop.wait(0.01)
        finally:
            if held_since and lease:
                client.lease_revoke(lease)  # let another node cut at once
            self.is_cutter = False
            client.close()

    def _should_cut(self, client: EtcdClient, last_cut: int) -> bool:
        """Cut when this node's reader holds ``max_entries`` uncut entries, or every
        ``interval`` when any node has written entries since our last marker. The second
        question goes to etcd, not to our reader: a reader that lags behind (a busy node) must
        not hold the whole consortium's blocks back."""
        now_ = time.monotonic()
        if len(self._uncut) >= self.max_entries and (
            self._marker_sent is None or now_ - self._marker_sent > self.interval
        ):
            return True
        if self._marker_sent is not None and now_ - self._marker_sent < self.interval:
            return False
        if self._uncut_since is None and last_cut == 0:
            return False  # nothing read yet since we took the role
        # ask etcd at most every quarter interval (an idle consortium costs 20 reads/s)
        if now_ - self._last_asked < self.interval / 4:
            return False
        self._last_asked = now_
        since = last_cut or self.read_revision
        return client.count_changed(self.prefix + b"order/", since) > 0

    def _compact(self, client: EtcdClient, compacted_to: int) -> int:
        """Drop etcd's history below the cut of a block ``compaction_slack`` under the final
        head: a quorum holds everything before it."""
        height = self.final_height - self.compaction_slack
        if height < 1:
            return compacted_to
        revision = self.store.order_revision(height)
        if revision is None or revision <= compacted_to:
            return compacted_to
        client.compact(revision)
        log.info("compacted the order", extra={"revision": revision, "below_height": height})
        return revision

    # -- catch-up from peers ----------------------------------------------------------------

    def catch_up(self) -> bool:
        """Fetch the final blocks this node lacks from a peer, verify and apply each one, and
        move the read position to the last one's cut. True if it got anywhere."""
        for peer in self.peers:
            try:
                got = self._catch_up_from(peer)
            except (httpx.HTTPError, TradeLedgerError, ValueError, KeyError) as exc:
                log.warning(
                    "catch-up from a peer failed", extra={"peer": peer.url, "error": str(exc)}
                )
                continue
            if got:
                return True
        return False

    def _catch_up_from(self, peer: Peer) -> bool:
        headers = {"Authorization": f"Bearer {peer.token}"} if peer.token else {}
        got = False
        with httpx.Client(base_url=peer.url.rstrip("/"), headers=headers, timeout=30) as http:
            head = http.get("/v1/checkpoint").raise_for_status().json()
            target = int(head["height"])
            while self.writer.height < target and not self._stop.is_set():
                height = self.writer.height + 1
                block = http.get(f"/v1/blocks/{height}").raise_for_status().json()
                revision = block.get("order_revision")
                summary = self.writer.apply_fetched(
                    base64.b64decode(block["header"]),
                    block["checkpoint"],
                    [
                        (
                            base64.b64decode(e["envelope"]),
                            None if e["payload"] is None else base64.b64decode(e["payload"]),
                        )
                        for e in block["entries"]
                    ],
                    order_revision=None if revision is None else int(revision),
                )
                if revision is not None:
                    self.read_revision = int(revision)
                with self._lock:
                    for e in summary.entries:
                        self._own.pop(e.entry_hash, None)
                self.caught_up_blocks += 1
                got = True
                self._after_block(summary, fetched=True)
        if got:
            log.info(
                "caught up from a peer", extra={"peer": peer.url, "height": self.writer.height}
            )
        return got

    def _cosign_fetched(self, summary: BlockSummary) -> None:
        """Add our own cosignature to a block we verified but did not build."""
        key = self.signing_key(self.writer.state.membership)
        if key is None:
            return
        height = summary.header.height
        cp = Checkpoint.from_text(self.checkpoint_text(height))
        if any(s.name.startswith(self.org_id + ":") for s in cp.signatures):
            return
        self.cosigned.record(height, cp.block_hash)
        mine = Checkpoint(cp.body).cosigned_by(self.org_id, key, int(time.time()))
        sig = mine.signatures[0]
        line = _line_of(mine.to_text(), cp.body, sig.name)
        self.add_cosignature(height, sig.name, line)


def order_prefix(consortium_id: str) -> bytes:
    """The etcd key prefix under which a consortium's order lives."""
    return f"/tradeledger/{consortium_id}/".encode()


def cosignature_key(consortium_id: str, org_id: str) -> bytes:
    """Where ``org_id``'s node publishes its cosignatures."""
    return order_prefix(consortium_id) + b"cosig/" + org_id.encode()


def _line_of(text_: str, body: str, name: str) -> str:
    """The signature line by ``name`` in a signed note's text (with its newline)."""
    for line in text_[len(body) + 1 :].splitlines(keepends=True):
        if line.startswith("\u2014 " + name + " "):
            return line
    raise EncodingError(f"no signature line by {name}")


__all__ = ["CosignedHeights", "CutMarker", "EtcdOrderer", "Peer"]
