"""One node, as the HTTP API sees it: :class:`LedgerNode` holds the parts and wires them.

* the home (consortium, keys, settings), the store and the writer, which applies every block
  through the same chain rules as ``audit replay``;
* authentication: tokens checked against the membership in force, and the keys the node signs
  with for its organisations (here);
* the submission pipeline (:mod:`nodes.submissions`): parse, check, derive, sign, claim, hand
  to the orderer;
* the orderer (:mod:`nodes.ordering`), today the embedded in-process sequencer
  (:mod:`nodes.sequencer`);
* the chain applier (:meth:`LedgerNode._on_block`): after each block, the document index
  (:mod:`nodes.index`), the log view with its tree and head (:mod:`nodes.log_view`), then the
  submission records and claims;
* the read side (:mod:`nodes.reads`): blocks, entries, documents, provenance, proofs, verify.

Its query and submission methods are one-line delegations to those parts, so that callers
need to know only the node. :class:`LedgerNode` knows nothing about HTTP: it takes a
:class:`~nodes.tokens.Caller` and plain values, returns plain dicts in the response formats of
the API (``api/schemas.py`` describes them) and raises :class:`~ledger.errors.TradeLedgerError`
for everything a user can get wrong.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.chain import BlockSummary
from ledger.consortium import Membership
from ledger.entries import Entry
from ledger.errors import (
    ConfigurationError,
    Forbidden,
    TradeLedgerError,
)
from ledger.keys import DecryptionKey, SigningKey
from ledger.merkle import consistency_proof
from nodes import documents_bridge as bridge
from nodes.attest import check_index_at_start
from nodes.etcd_orderer import COMPACTION_SLACK, CosignedHeights, EtcdOrderer, Peer
from nodes.home import NodeHome, current_key
from nodes.index import (
    DEFINING_TYPES,
    DocumentIndex,
    DocumentInfo,
    IndexedEntry,
    catch_up,
    status_root_hook,
)
from nodes.log_view import Head, LogView, MemoryKnownEntries, MemoryTree
from nodes.ordering import Orderer
from nodes.reads import LedgerReads
from nodes.registry import LedgerRegistry
from nodes.sealing import PayloadOpener
from nodes.sequencer import Journal, Sequencer
from nodes.store import LedgerStore
from nodes.submissions import (
    DOCUMENT_EVENTS,
    DocumentsPending,
    PreparedEntries,
    SubmissionPipeline,
)
from nodes.tokens import (
    Caller,
    TokenLookup,
    create_token_schema,
    ensure_peer_tokens,
    require_in_force,
)
from nodes.witness_client import WitnessSubmitter, parse_witnesses
from nodes.writer import LedgerWriter

log = logging.getLogger("tradeledger.node")

ENTRY_MEDIA_TYPE = "application/vnd.tradeledger.entry+json"


class LedgerNode:
    """A running node over a :class:`NodeHome`. Start with :meth:`open`, end with :meth:`close`."""

    def __init__(
        self,
        home: NodeHome,
        *,
        block_interval: float = 0.2,
        block_max_entries: int = 500,
        block_max_backlog: int | None = None,
    ) -> None:
        self.home = home
        self.consortium = home.consortium()
        self.consortium_bytes = home.consortium_file.read_bytes()
        self.org_id = home.org_id
        self.store: LedgerStore = home.open_store()
        self.writer = LedgerWriter(
            self.store,
            self.consortium,
            self.org_id,
            home.signing_key(self.org_id),
            key_for=lambda membership: self._current_key(self.org_id, membership),
            status_root=lambda *block: self._status_root(*block),
        )
        # the private keys in the home, read again when the membership changes (a rotation)
        self._held_keys: dict[str, list[SigningKey]] = {}
        self._held_keys_for: tuple[Membership, int] | None = None
        self._held_keys_lock = threading.Lock()
        # what admission knows of each entry it passed, until its block is indexed: the index
        # reads a document's digest and fields from it instead of parsing the document again
        # the decryption keys of the organisations this node runs: it opens the payloads
        # sealed to them and indexes the others from their envelopes (nodes.sealing)
        self._decryption_keys: tuple[int, dict[str, DecryptionKey]] | None = None
        self.opener = PayloadOpener(self.decryption_keys)
        self.prepared = PreparedEntries(self.opener)
        self.index = DocumentIndex(
            self.store.engine,
            lambda: self.writer.state.membership,
            document_digest=self.prepared.document_digest,
            payload_fields=self.prepared.payload_fields,
            open_sealed=self.prepared.open_sealed,
        )
        self.index.create_schema()
        self._status_root = status_root_hook(self.index, self.store)
        self.log = LogView(self.store, self.consortium.hash)
        self.reads = LedgerReads(
            self.store,
            self.index,
            self.log,
            lambda: self.writer.state.membership,
            opener=self.opener,
        )
        self.registry = LedgerRegistry(self.index, self.reads.entry_by_hash)
        self.journal = Journal.beside(self.store.url, self.store.engine)
        self.journal.create_schema()
        create_token_schema(self.store.engine)
        self.token_lookup = TokenLookup(self.store)
        ordering = consortium_ordering(home)
        self._peer_tokens: list[tuple[str, str]] = []
        self.orderer: Orderer
        if ordering is None:  # one node: the embedded in-process sequencer
            self.orderer = Sequencer(
                self.writer,
                self.journal,
                self._on_block,
                interval=block_interval,
                max_entries=block_max_entries,
                max_backlog=block_max_backlog,
            )
        else:  # a consortium: the one order in etcd, blocks built and cosigned here
            endpoints, peers, slack, self._peer_tokens = ordering
            self.log.head_is_final_block = True
            self.orderer = EtcdOrderer(
                writer=self.writer,
                store=self.store,
                cosigned=CosignedHeights(self.journal.engine),
                endpoints=endpoints,
                org_id=self.org_id,
                signing_key=lambda membership: self._current_key(self.org_id, membership),
                on_block=self._on_block,
                checkpoint_text=self.log.checkpoint_text,
                add_cosignature=self.log.add_cosignature,
                on_final=self._on_final,
                peers=peers,
                defined=self._defined_documents,
                defining_types=DEFINING_TYPES,
                compaction_slack=slack,
                interval=block_interval,
                max_entries=block_max_entries,
                max_backlog=block_max_backlog,
            )
        self.submissions = SubmissionPipeline(
            consortium_id=self.consortium.consortium_id,
            origin_home=home.path,
            membership=lambda: self.writer.state.membership,
            index=self.index,
            registry=self.registry,
            entry_by_hash=self.reads.entry_by_hash,
            signing_key_for=self.signing_key_for,
            orderer=self.orderer,
            prepared=self.prepared,
        )
        self.witnesses = WitnessSubmitter(
            parse_witnesses(home.settings().get("witnesses"), str(home.settings_file)),
            checkpoint_text=self.log.checkpoint_text,
            height_of_size=self.log.height_of_size_or_none,
            consistency=lambda first, second: consistency_proof(self.log.tree, first, second),
            store_cosignature=self.log.add_cosignature,
        )
        self.started = time.time()
        self._open = False

    def decryption_keys(self) -> dict[str, DecryptionKey]:
        """The home's decryption keys, read again when a key file is added or removed."""
        version = self.home.keys_version()
        cached = self._decryption_keys
        if cached is None or cached[0] != version:
            cached = self._decryption_keys = (version, self.home.decryption_keys())
        return cached[1]

    # -- lifecycle ----------------------------------------------------------------------------

    @classmethod
    def open(cls, home: NodeHome | Path | str, **kwargs: Any) -> LedgerNode:
        node = cls(home if isinstance(home, NodeHome) else NodeHome(Path(home)), **kwargs)
        node.start()
        return node

    def start(self) -> None:
        bridge.load_reference_data()
        if self._peer_tokens:  # the node-role tokens this node issued to its peers
            ensure_peer_tokens(self.store, self.membership, self._peer_tokens)
        self._catch_up_index()
        self.log.load()
        # the index's rows against the leaves just checked against the last signed header
        check_index_at_start(self.store.engine, self.log.tree.levels[0], self.log.block_sizes())
        # The writer's duplicate and reference checks ask "is this hash on the ledger?" for
        # every entry offered and again for every entry of every block; the store answers
        # with a query each time. The tree in memory already holds every entry hash.
        self.writer.state.known = MemoryKnownEntries(self.log.tree.levels[0])
        recovered = self.orderer.recover()
        if self.witnesses.witnesses:
            self.witnesses.start()
            if self.log.head.height:
                self.witnesses.offer(self.log.head.height)
        self.orderer.start()
        self._open = True
        log.info(
            "node started",
            extra={
                "org_id": self.org_id,
                "consortium_id": self.consortium.consortium_id,
                "height": self.log.head.height,
                "tree_size": self.log.head.tree_size,
                "recovered_from_journal": recovered,
            },
        )

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        self.orderer.stop()
        if self.witnesses.witnesses:
            self.witnesses.stop()
        log.info(
            "node stopped",
            extra={"height": self.log.head.height, "tree_size": self.log.head.tree_size},
        )
        self.journal.dispose()
        self.token_lookup.close()
        self.store.dispose()

    def _catch_up_index(self) -> None:
        catch_up(self.index, self.store)

    def _on_block(self, summary: BlockSummary) -> None:
        """The chain applier: called on the orderer's thread once a block is durably stored.
        The index first (it reads what admission kept of each entry), then the log view and
        its head, then the submission records and claims of the entries now indexed: a
        document's claim ends only once a read of the head can see it."""
        h = summary.header
        self.index.index_block(
            h.height,
            [IndexedEntry(h.first_index + i, h.height, e) for i, e in enumerate(summary.entries)],
            status_root=bytes.fromhex(h.status_root),
        )
        self.log.apply(summary)
        self.submissions.release_indexed(summary.entries)
        if self.witnesses.witnesses and not self.log.head_is_final_block:
            self.witnesses.offer(h.height)

    def _defined_documents(self, document_ids: list[str]) -> set[str]:
        """Which of these document ids the index holds a defining entry for."""
        return {
            doc_id
            for doc_id, info in self.index.documents(document_ids).items()
            if info is not None and info.defining_hash
        }

    def _on_final(self, height: int) -> None:
        """Consortium nodes: block ``height`` is final; reads and proofs move on to it."""
        self.log.publish_final(height)
        if self.witnesses.witnesses and height:
            self.witnesses.offer(height)

    @property
    def head(self) -> Head:
        """The last block this node has stored, indexed and can prove against."""
        return self.log.head

    @property
    def tree(self) -> MemoryTree:
        return self.log.tree

    # -- who is calling ---------------------------------------------------------------------

    @property
    def membership(self) -> Membership:
        return self.writer.state.membership

    def authenticate(self, token: str | None) -> Caller:
        """Who ``token`` acts as, checked afresh on every request: its row in the token store
        (not revoked, not expired, not deleted) and the membership in force at the head."""
        caller = self.token_lookup.caller(token)
        require_in_force(caller, self.membership)
        return caller

    def signing_key_for(self, org_id: str) -> SigningKey:
        """The key this node signs ``org_id``'s documents with: the one active in the membership
        in force (``nodes.home.current_key``), never a revoked one; 403 if it holds none."""
        key = self._current_key(org_id, self.membership)
        if key is None:
            raise Forbidden(
                f"this node holds no active signing key for {org_id}; submit an entry you "
                f"signed yourself ({ENTRY_MEDIA_TYPE})"
            )
        return key

    def _current_key(self, org_id: str, membership: Membership) -> SigningKey | None:
        """``nodes.home.current_key`` over the keys in the home, for submissions and for the
        writer's block proposals (whose checkpoints a revoked key may not sign either)."""
        with self._held_keys_lock:
            # Read the key files again when the membership changed (a rotation) or a file was
            # added since (the keys directory's mtime): a stat per submission, no more.
            seen = (membership, self.home.keys_version())
            if seen != self._held_keys_for:
                self._held_keys, self._held_keys_for = self.home.held_keys(), seen
            held = self._held_keys.get(org_id, [])
            return current_key(held, membership.organisations.get(org_id))

    # -- reads (nodes.reads) ----------------------------------------------------------------

    def checkpoint_text(self, height: int) -> str:
        return self.log.checkpoint_text(height)

    def height_of_size(self, tree_size: int, what: str = "tree_size") -> int:
        return self.log.height_of_size(tree_size, what)

    def inclusion(self, leaf_index: int, tree_size: int) -> dict[str, Any]:
        return self.log.inclusion(leaf_index, tree_size)

    def inclusion_proof(self, entry_hash: str, tree_size: int | None) -> dict[str, Any]:
        return self.reads.inclusion_proof(entry_hash, tree_size)

    def consistency_proof(self, first: int, second: int) -> dict[str, Any]:
        return self.reads.consistency_proof(first, second)

    def block(self, height: int, caller: Caller) -> dict[str, Any]:
        return self.reads.block(height, caller)

    def entry(self, entry_hash: str, caller: Caller) -> dict[str, Any]:
        return self.reads.entry(entry_hash, caller)

    def document(self, document_id: str, caller: Caller) -> tuple[bytes, str, DocumentInfo]:
        return self.reads.document(document_id, caller)

    def content_of(self, info: DocumentInfo) -> tuple[bytes, str]:
        return self.reads.content_of(info)

    def provenance(self, document_id: str, caller: Caller) -> dict[str, Any]:
        return self.reads.provenance(document_id, caller)

    def origin_evidence(self, document_id: str, caller: Caller) -> dict[str, Any]:
        return self.reads.origin_evidence(document_id, caller)

    def find_file(
        self, body: bytes, content_type: str, kind: str | None = None
    ) -> DocumentInfo | None:
        return self.reads.find_file(body, content_type, kind)

    def verify(self, body: bytes, content_type: str) -> dict[str, Any]:
        return self.reads.verify(body, content_type)

    # -- submissions (nodes.submissions) ------------------------------------------------------

    def prepare_document(
        self, caller: Caller, event: str, body: bytes, content_type: str
    ) -> list[Entry]:
        return self.submissions.prepare_document(caller, event, body, content_type)

    def prepare_entry(self, caller: Caller, envelope: bytes, payload: bytes | None) -> Entry:
        return self.submissions.prepare_entry(caller, envelope, payload)

    def prepare_share(self, caller: Caller, document_id: str, org_id: Any) -> list[Entry]:
        return self.submissions.prepare_share(caller, document_id, org_id)

    def enqueue_all(
        self, entries: list[Entry], on_done: Callable[[TradeLedgerError | None], None]
    ) -> dict[str, Any]:
        return self.submissions.enqueue_all(entries, on_done)

    def pending_documents(self, document_ids: list[str]) -> list[str]:
        return self.submissions.pending_documents(document_ids)

    # -- origin ---------------------------------------------------------------------------------

    def determine_origin(self, body: bytes) -> dict[str, Any]:
        return bridge.determine_origin(body, self.home.path)

    # -- health -----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        head = self.log.head
        result: dict[str, Any] = {
            "status": "ok",
            "height": head.height,
            "tree_size": head.tree_size,
            "pending": self.orderer.pending_count(),
            "consortium_id": self.consortium.consortium_id,
            "org_id": self.org_id,
            "root_hash": head.root_hash.hex(),
            "uptime_seconds": round(time.time() - self.started, 1),
        }
        if isinstance(self.orderer, EtcdOrderer):
            result.update(
                ordering="etcd",
                built_height=self.log.built_height,
                cutter=self.orderer.is_cutter,
                skipped_entries=self.orderer.skipped,
                blocks_from_peers=self.orderer.caught_up_blocks,
                conflicting_headers=[
                    {"height": e["height"], "signer": e["signer"], "seen": e["seen"]}
                    for e in self.store.evidence()
                ],
            )
        return result


def consortium_ordering(
    home: NodeHome,
) -> tuple[list[str], list[Peer], int, list[tuple[str, str]]] | None:
    """node.json's ``ordering`` (a consortium node) as (etcd endpoints, peers, compaction
    slack), or None (the embedded sequencer). Shape: ``{"etcd": [client URLs], "peers":
    [{"url", "token"}], "compaction_slack": blocks kept in etcd below the final head}``."""
    settings = home.settings()
    ordering = settings.get("ordering")
    if ordering is None:
        return None
    where = f"ordering in {home.settings_file}"
    if not isinstance(ordering, dict):
        raise ConfigurationError(f"{where} must be an object")
    endpoints = ordering.get("etcd")
    if (
        not isinstance(endpoints, list)
        or not endpoints
        or not all(isinstance(e, str) and e.startswith(("http://", "https://")) for e in endpoints)
    ):
        raise ConfigurationError(f"{where}: etcd must be a non-empty list of http(s) URLs")
    peers_raw = ordering.get("peers", [])
    if not isinstance(peers_raw, list):
        raise ConfigurationError(f"{where}: peers must be a list")
    peers = []
    for i, p in enumerate(peers_raw):
        if not isinstance(p, dict) or not isinstance(p.get("url"), str):
            raise ConfigurationError(f"{where}: peers[{i}] needs a url")
        token = p.get("token")
        if token is not None and not isinstance(token, str):
            raise ConfigurationError(f"{where}: peers[{i}].token must be a string")
        peers.append(Peer(p["url"], token))
    slack = ordering.get("compaction_slack", COMPACTION_SLACK)
    issued = ordering.get("peer_tokens", [])
    if not isinstance(issued, list) or not all(
        isinstance(t, dict)
        and isinstance(t.get("org_id"), str)
        and isinstance(t.get("token_sha256"), str)
        and re.fullmatch(r"[0-9a-f]{64}", t["token_sha256"])
        for t in issued
    ):
        raise ConfigurationError(
            f"{where}: peer_tokens must be a list of {{org_id, token_sha256 (64 hex)}}"
        )
    if not isinstance(slack, int) or isinstance(slack, bool) or slack < 1:
        raise ConfigurationError(f"{where}: compaction_slack must be a positive integer")
    return endpoints, peers, slack, [(t["org_id"], t["token_sha256"]) for t in issued]


__all__ = [
    "DOCUMENT_EVENTS",
    "ENTRY_MEDIA_TYPE",
    "DocumentsPending",
    "Head",
    "LedgerNode",
    "MemoryTree",
]
