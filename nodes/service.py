"""One node: the ledger store, its writer and sequencer, the document index, and every query
the HTTP API answers, with the access policy applied.

:class:`LedgerNode` knows nothing about HTTP: it takes a :class:`~nodes.tokens.Caller` and plain
values, returns plain dicts in the response formats of the API (``api/schemas.py`` describes
them) and raises :class:`~ledger.errors.TradeLedgerError` for everything a user can get wrong.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.chain import BlockSummary, CheckedEntry
from ledger.consortium import Membership
from ledger.entries import Entry, build_entry, parse_entry
from ledger.errors import (
    Conflict,
    DuplicateEntry,
    EncodingError,
    Forbidden,
    InvalidInput,
    TradeLedgerError,
)
from ledger.keys import SigningKey
from ledger.merkle import consistency_proof
from nodes import documents_bridge as bridge
from nodes import origin_gate
from nodes.access import (
    may_read,
    require_own_country,
    require_role_for,
)
from nodes.home import NodeHome, current_key
from nodes.index import DEFINING_TYPES, DocumentIndex, DocumentInfo, IndexedEntry
from nodes.log_view import Head, LogView, MemoryKnownEntries, MemoryTree
from nodes.ordering import Orderer
from nodes.reads import LedgerReads
from nodes.registry import LedgerRegistry
from nodes.sequencer import Journal, Sequencer
from nodes.store import LedgerStore, StoredEntry
from nodes.tokens import Caller, TokenLookup, create_token_schema, require_in_force
from nodes.witness_client import WitnessSubmitter, parse_witnesses
from nodes.writer import LedgerWriter

log = logging.getLogger("tradeledger.node")

ENTRY_MEDIA_TYPE = "application/vnd.tradeledger.entry+json"
#: Lifecycle events a document submission can be, and what each needs from the document.
DOCUMENT_EVENTS = (
    "co.application",
    "co.issued",
    "co.amended",
    "co.revoked",
    "origin.declaration",
    "customs.export_declaration",
    "customs.import_declaration",
    "customs.verification_requested",
    "customs.verification_result",
    "bank.presentation",
)
_REFERS_TO_CO = frozenset(
    {
        "co.revoked",
        "customs.verification_requested",
        "customs.verification_result",
        "bank.presentation",
    }
)

#: The fields by which a document names another one on the ledger.
_REFERENCE_FIELDS = ("co_reference", "supersedes")


class DocumentsPending(Exception):
    """A submission names documents whose defining entries were acknowledged a moment ago but
    are not indexed yet, so the rules cannot see them. Not a user-facing error: the HTTP layer
    waits until :meth:`LedgerNode.pending_documents` clears and prepares the submission again,
    so that a declaration sent right after its certificate's 201 is judged as the ledger will
    be, not refused as naming a certificate that is not on it."""

    def __init__(self, document_ids: list[str]) -> None:
        super().__init__(", ".join(document_ids))
        self.document_ids = document_ids


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
        )
        # the private keys in the home, read again when the membership changes (a rotation)
        self._held_keys: dict[str, list[SigningKey]] = {}
        self._held_keys_for: tuple[Membership, int] | None = None
        self._held_keys_lock = threading.Lock()
        self.index = DocumentIndex(
            self.store.engine,
            lambda: self.writer.state.membership,
            document_digest=self._document_digest,
            payload_fields=self._payload_fields,
        )
        self.index.create_schema()
        # entry hash -> what prepare_document knows of an entry it made, until its block is
        # indexed or the submission is refused
        self._prepared: dict[bytes, _Prepared] = {}
        self.log = LogView(self.store, self.consortium.hash)
        self.reads = LedgerReads(
            self.store, self.index, self.log, lambda: self.writer.state.membership
        )
        self.registry = LedgerRegistry(self.index, self.reads.entry_by_hash)
        self.journal = Journal.beside(self.store.url, self.store.engine)
        self.journal.create_schema()
        create_token_schema(self.store.engine)
        self.token_lookup = TokenLookup(self.store)
        self._claims: dict[str, bytes] = {}  # document id -> the pending entry defining it
        self._claims_lock = threading.Lock()
        # the embedded in-process sequencer; an etcd orderer is to go beside it (nodes.ordering)
        self.orderer: Orderer = Sequencer(
            self.writer,
            self.journal,
            self._on_block,
            interval=block_interval,
            max_entries=block_max_entries,
            max_backlog=block_max_backlog,
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

    # -- lifecycle ----------------------------------------------------------------------------

    @classmethod
    def open(cls, home: NodeHome | Path | str, **kwargs: Any) -> LedgerNode:
        node = cls(home if isinstance(home, NodeHome) else NodeHome(Path(home)), **kwargs)
        node.start()
        return node

    def start(self) -> None:
        bridge.load_reference_data()
        self._catch_up_index()
        self.log.load()
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
        done = self.index.indexed_height()
        height, _ = self.store.head()
        for raw in self.store.iter_blocks(done + 1, height) if height > done else ():
            first = _first_index(raw.header)
            entries = [
                IndexedEntry(first + i, raw.height, parse_entry(env, pl))
                for i, (env, pl) in enumerate(raw.entries)
            ]
            self.index.index_block(raw.height, entries)

    def _on_block(self, summary: BlockSummary) -> None:
        """The chain applier: called on the orderer's thread once a block is durably stored.
        The index first (it reads what admission kept of each entry), then the log view and
        its head, then the submission records and claims of the entries now indexed: a
        document's claim ends only once a read of the head can see it."""
        h = summary.header
        self.index.index_block(
            h.height,
            [IndexedEntry(h.first_index + i, h.height, e) for i, e in enumerate(summary.entries)],
        )
        self.log.apply(summary)
        for e in summary.entries:
            self._prepared.pop(e.entry_hash, None)
        self._release_entries(summary.entries)
        if self.witnesses.witnesses:
            self.witnesses.offer(h.height)

    @property
    def head(self) -> Head:
        """The last block this node has stored, indexed and can prove against."""
        return self.log.head

    @property
    def tree(self) -> MemoryTree:
        return self.log.tree

    def _document_digest(self, entry: Entry) -> str | None:
        prepared = self._prepared.get(entry.entry_hash)
        if prepared is not None and prepared.digest is not None:
            return prepared.digest
        return bridge.document_digest(entry.payload or b"", entry.content_type)

    def _payload_fields(self, entry: Entry) -> dict[str, Any] | None:
        prepared = self._prepared.get(entry.entry_hash)
        return None if prepared is None else prepared.fields

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

    def _entry_by_hash(self, entry_hash: bytes) -> StoredEntry | None:
        return self.reads.entry_by_hash(entry_hash)

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

    # -- submissions ----------------------------------------------------------------------------

    def enqueue_all(
        self, entries: list[Entry], on_done: Callable[[TradeLedgerError | None], None]
    ) -> dict[str, Any]:
        """Check and queue a document's entries as one unit (all or none); ``on_done`` is
        called once they are durable (or not). The receipt is the first entry's."""
        try:
            with self._claimed(entries) as made:

                def done(error: TradeLedgerError | None) -> None:
                    if error is not None:
                        self._release(made)
                        self._forget_prepared(entries)
                    on_done(error)

                offers = [self._signed_here(e) for e in entries]
                if len(offers) == 1:
                    self.orderer.enqueue(offers[0], done)
                else:
                    self.orderer.enqueue_all(offers, done)
        except BaseException:
            self._forget_prepared(entries)
            raise
        return receipt(entries[0], entries[1:])

    def _forget_prepared(self, entries: list[Entry]) -> None:
        """Drop what prepare_document kept for entries that will never reach a block."""
        for e in entries:
            self._prepared.pop(e.entry_hash, None)

    def _signed_here(self, entry: Entry) -> Entry | CheckedEntry:
        """An entry this node signed a moment ago (prepare_document) goes to the writer with
        its own signature marked good: verifying it again was a tenth of a submission's time
        on the event loop. Every other check (key active, duplicates, refs, clock) still runs;
        a pre-signed entry, even one under the same key, is verified."""
        prepared = self._prepared.get(entry.entry_hash)
        if prepared is None or not prepared.signed_here:
            return entry
        return CheckedEntry(entry, frozenset({entry.key_id}), frozenset())

    # A document is checked against the index when a submission is prepared, but the index
    # learns of the submission only once its block is stored: until then the node holds a claim
    # on every document the entry defines or changes, so that two submissions of the same number,
    # or two amendments or revocations of one certificate, a moment apart cannot both be
    # accepted. A change waits for an earlier change of the same document (DocumentsPending) and
    # is then judged against it: concurrent changes of one certificate serialise.

    @contextmanager
    def _claimed(self, entries: list[Entry]) -> Iterator[list[tuple[str, bytes]]]:
        """Claim the document ids ``entries`` define or change; the claims are dropped if the
        body raises, and otherwise kept until their block is indexed (:meth:`_on_block`)."""
        made: list[tuple[str, bytes]] = []
        with self._claims_lock:
            for e in entries:
                prepared = self._prepared.get(e.entry_hash)
                for doc_id in prepared.changes if prepared is not None else ():
                    holder = self._claims.get(doc_id)
                    if holder is not None and holder != e.entry_hash:
                        raise DocumentsPending([doc_id])
                    made.append((doc_id, e.entry_hash))
                if e.type not in DEFINING_TYPES or not e.subject:
                    continue
                holder = self._claims.get(e.subject)
                if holder == e.entry_hash:
                    continue  # the same entry again: the sequencer names it a duplicate
                info = self.index.document(e.subject)
                if info is not None and info.defining_hash == e.entry_hash.hex():
                    continue
                if holder is not None:
                    raise Conflict(
                        f"{e.subject} is already being recorded by another submission",
                        location="/number",
                    )
                if info is not None and info.kind not in (None, "co_application"):
                    raise Conflict(f"{e.subject} is already on the ledger", location="/number")
                made.append((e.subject, e.entry_hash))
            for doc_id, entry_hash in made:
                self._claims[doc_id] = entry_hash
        try:
            yield made
        except BaseException:
            self._release(made)
            raise

    def _release(self, claims: list[tuple[str, bytes]]) -> None:
        with self._claims_lock:
            for doc_id, entry_hash in claims:
                if self._claims.get(doc_id) == entry_hash:
                    del self._claims[doc_id]

    def _release_entries(self, entries: tuple[Entry, ...]) -> None:
        """Drop the claims of entries now indexed: on their subjects and on what they change."""
        hashes = {e.entry_hash for e in entries}
        with self._claims_lock:
            for doc_id in [d for d, h in self._claims.items() if h in hashes]:
                del self._claims[doc_id]

    def prepare_document(
        self, caller: Caller, event: str, body: bytes, content_type: str
    ) -> list[Entry]:
        """The entries for a document submission, signed with the caller organisation's key:
        the document's, then (a certificate sent with ``origin_evidence``, once the gate of
        :mod:`nodes.origin_gate` passes it) the ``origin.evidence`` entry. The document goes
        through :meth:`_admit`, the same checks as a pre-signed entry's."""
        if event not in DOCUMENT_EVENTS:
            raise InvalidInput(
                f"event must be one of {', '.join(DOCUMENT_EVENTS)}", location="/query/event"
            )
        membership = self.membership
        require_role_for(caller, event, membership)
        key = self.signing_key_for(caller.org_id)
        media = bridge.media_type(content_type)
        body, evidence = origin_gate.take_evidence(body, media, event)
        admitted = self._admit(caller, event, body, media)
        subject, refs = admitted.subject, admitted.refs
        if evidence is None:
            entry = build_entry(
                event,
                caller.org_id,
                key,
                body,
                media,
                consortium_id=self.consortium.consortium_id,
                subject=subject,
                refs=refs,
            )
            return self._remember_prepared([entry], admitted.prepared(signed_here=True))
        require_role_for(caller, origin_gate.EVIDENCE_TYPE, membership)
        gated = origin_gate.gate(admitted.fields, evidence, home=self.home.path)
        co = build_entry(
            event,
            caller.org_id,
            key,
            gated.certificate_bytes(body),
            media,
            consortium_id=self.consortium.consortium_id,
            subject=subject,
            refs=refs,
        )
        proof = build_entry(
            origin_gate.EVIDENCE_TYPE,
            caller.org_id,
            key,
            gated.evidence_bytes(subject, co.hash_hex),
            "application/json",
            consortium_id=self.consortium.consortium_id,
            subject=subject,
            refs=[co.hash_hex],
        )
        # the certificate's bytes now carry origin_determinations: the index digests them itself
        self._remember_prepared([co], _Prepared(changes=admitted.changes))
        self._remember_prepared([proof], _Prepared())
        return [co, proof]

    def prepare_entry(self, caller: Caller, envelope: bytes, payload: bytes | None) -> Entry:
        """A pre-signed entry (``application/vnd.tradeledger.entry+json``): its document goes
        through :meth:`_admit`, exactly as a document the node signs, and the entry must say
        what the admitted document means: its subject and refs are the ones derived from the
        validated payload, never taken on the entry's word."""
        entry = parse_entry(envelope, payload)
        if payload is None:
            raise InvalidInput("a submitted entry needs its payload", location="/payload")
        if entry.author != caller.org_id:
            raise Forbidden(
                f"the entry's author is {entry.author}; a user of {caller.org_id} may submit "
                f"only its own organisation's entries"
            )
        require_role_for(caller, entry.type, self.membership)
        origin_gate.refuse_presigned(entry.type, payload, entry.content_type)
        if self._entry_by_hash(entry.entry_hash) is not None:
            # a replay: say so before any document rule (e.g. "already issued") could
            raise DuplicateEntry(f"entry {entry.hash_hex} is already on the ledger")
        if entry.type not in DOCUMENT_EVENTS:
            raise InvalidInput(
                f"{entry.type} is not a document event; a node admits only documents it can "
                f"check ({', '.join(DOCUMENT_EVENTS)})",
                location="/signed/type",
            )
        admitted = self._admit(caller, entry.type, payload, bridge.media_type(entry.content_type))
        if entry.subject != admitted.subject:
            raise InvalidInput(
                f"the entry's subject must be {admitted.subject!r} for this document",
                location="/signed/subject",
            )
        if sorted(entry.refs) != sorted(admitted.refs):
            expected = ", ".join(admitted.refs) or "none"
            raise InvalidInput(
                f"the entry's refs must be exactly the entries this document names ({expected})",
                location="/signed/refs",
            )
        self._remember_prepared([entry], admitted.prepared(signed_here=False))
        return entry

    def _admit(self, caller: Caller, event: str, body: bytes, media: str) -> _Admitted:
        """The one admission path of every document, node-signed or pre-signed: parse once,
        the document's schema and business rules, then what it does on the ledger (subject,
        refs, the documents it changes) derived from its validated content."""
        fields, parsed = bridge.read_document(body, media)
        origin_gate.refuse_node_fields(fields)
        self._require_named_indexed(fields)
        digest = bridge.validate(body, media, event, self.registry, parsed)
        subject, refs, changes = self._derive(caller, event, fields)
        return _Admitted(subject, tuple(refs), tuple(changes), digest, fields)

    def pending_documents(self, document_ids: list[str]) -> list[str]:
        """Those of ``document_ids`` defined or changed by entries acknowledged but not indexed."""
        with self._claims_lock:
            return [d for d in document_ids if d in self._claims]

    def _require_named_indexed(self, fields: dict[str, Any]) -> None:
        """Raise :class:`DocumentsPending` if the document names one not indexed yet."""
        named = [v for k in _REFERENCE_FIELDS if isinstance(v := fields.get(k), str)]
        pending = self.pending_documents(named) if named else []
        if pending:
            raise DocumentsPending(pending)

    def _remember_prepared(self, entries: list[Entry], prepared: _Prepared) -> list[Entry]:
        if len(self._prepared) >= 50_000:  # a safety net: enqueue_all forgets refusals
            self._prepared.clear()
        for e in entries:
            self._prepared[e.entry_hash] = prepared
        return entries

    def _derive(
        self, caller: Caller, event: str, fields: dict[str, Any]
    ) -> tuple[str, list[str], list[str]]:
        """The subject (document id), the refs and the documents it changes (supersedes or
        revokes) of a lifecycle event whose document is valid, with the rules the chain cannot
        check: who may amend or revoke which certificate, customs' own country, what a bank
        must hold to record a presentation."""
        org = caller.org_id
        membership = self.membership

        def text_field(name: str, source: dict[str, Any] | None = None) -> str:
            value = (source if source is not None else fields).get(name)
            if not isinstance(value, str) or not value or value != value.strip():
                raise InvalidInput(f"the document needs a {name}", location=f"/{name}")
            if "/" in value and name == "number":
                raise InvalidInput("a document number may not contain '/'", location="/number")
            return value

        def certificate(doc_id: str, *, readable: bool | None = None) -> DocumentInfo:
            info = self.index.document(doc_id)
            visible = info is not None and (
                may_read(caller, info.access(), membership) if readable is None else readable
            )
            if not visible or info is None or info.kind != "certificate_of_origin":
                raise InvalidInput(
                    f"{doc_id!r} is not a certificate of origin on the ledger that you may see",
                    location="/co_reference",
                )
            if not info.defining_hash:
                raise InvalidInput(f"{doc_id!r} has no defining entry on this node")
            return info

        if event in ("co.issued", "co.amended"):
            number = text_field("number")
            issuer = fields.get("issuer")
            if issuer is not None and issuer != org:
                raise Forbidden(f"{org} may not issue a certificate for issuer {issuer!r}")
            subject = f"{org}/{number}"
            existing = self.index.document(subject)
            if existing is not None and existing.kind == "certificate_of_origin":
                raise Conflict(
                    f"{subject} is already on the ledger; amend it under a new number",
                    location="/number",
                )
            if event == "co.issued":
                return subject, [], []
            old = certificate(text_field("supersedes"))
            if old.issuer != org:
                raise Forbidden(f"only {old.issuer} may amend {old.document_id}")
            if old.status != "current":
                raise Conflict(f"{old.document_id} is {old.status}; it cannot be amended")
            return subject, [old.defining_hash or ""], [old.document_id]
        if event == "co.application":
            draft = fields.get("co")
            applied = draft if isinstance(draft, dict) else fields
            issuer = text_field("issuer", applied)
            number = text_field("number", applied)
            issuing = membership.organisations.get(issuer)
            if issuing is None or "issuing_authority" not in issuing.roles:
                raise InvalidInput(f"{issuer!r} is not an issuing authority", location="/co/issuer")
            applicant = fields.get("applicant")
            if applicant is not None and applicant != org:
                raise Forbidden(f"{org} may not apply in the name of {applicant!r}")
            subject = f"{issuer}/{number}"
            existing = self.index.document(subject)
            if existing is not None and existing.kind == "certificate_of_origin":
                raise Conflict(f"{subject} is already issued", location="/co/number")
            return subject, [], []
        if event in (
            "origin.declaration",
            "customs.export_declaration",
            "customs.import_declaration",
        ):
            subject = f"{org}/{text_field('number')}"
            refs: list[str] = []
            countries: tuple[str | None, ...] = ()
            if fields.get("co_reference") is not None:
                co = certificate(text_field("co_reference"))
                refs = [co.defining_hash or ""]
                countries = (
                    (co.exporting_country,)
                    if event == "customs.export_declaration"
                    else (co.importing_country,)
                )
            if event.startswith("customs.") and countries:
                require_own_country(caller, countries, membership, f"this {event}")
            return subject, refs, []
        if event in _REFERS_TO_CO:
            co_id = text_field("co_reference")
            changes: list[str] = []
            if event == "bank.presentation":
                co = certificate(co_id, readable=self._may_present(caller, co_id, fields))
                presenter = fields.get("presented_by")
                if presenter is not None and presenter not in co.parties:
                    raise InvalidInput(
                        f"presented_by must name a party of {co_id}",
                        location="/presented_by",
                    )
            else:
                co = certificate(co_id)
            if event == "co.revoked":
                if co.issuer != org:
                    raise Forbidden(f"only {co.issuer} may revoke {co_id}")
                if co.status == "revoked":
                    raise Conflict(f"{co_id} is already revoked")
                changes = [co_id]
            if event.startswith("customs."):
                require_own_country(
                    caller,
                    (co.exporting_country, co.importing_country),
                    membership,
                    f"verifying {co_id}",
                )
            refs = [co.defining_hash or ""]
            if event == "customs.verification_result":
                request = next(
                    (
                        ev
                        for ev in reversed(self.index.events(co_id))
                        if ev.type == "customs.verification_requested" and ev.author == org
                    ),
                    None,
                )
                if request is not None:
                    refs = [request.entry_hash.hex()]
            return co_id, refs, changes
        raise InvalidInput(f"unsupported event {event!r}", location="/query/event")

    def _may_present(self, caller: Caller, co_id: str, fields: dict[str, Any]) -> bool:
        """A bank records a presentation of a certificate it may already read, or one it proves
        it holds: the presentation's ``co_digest`` is the certificate's document digest (the
        ``d`` of its QR code), which no envelope or public answer carries."""
        info = self.index.document(co_id)
        if info is None:
            return False
        if may_read(caller, info.access(), self.membership):
            return True
        claimed = fields.get("co_digest")
        return (
            isinstance(claimed, str)
            and info.document_digest is not None
            and hmac.compare_digest(claimed, info.document_digest)
        )

    # -- origin ---------------------------------------------------------------------------------

    def determine_origin(self, body: bytes) -> dict[str, Any]:
        return bridge.determine_origin(body, self.home.path)

    # -- health -----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        head = self.log.head
        return {
            "status": "ok",
            "height": head.height,
            "tree_size": head.tree_size,
            "pending": self.orderer.pending_count(),
            "consortium_id": self.consortium.consortium_id,
            "org_id": self.org_id,
            "root_hash": head.root_hash.hex(),
            "uptime_seconds": round(time.time() - self.started, 1),
        }


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What admission knows of an entry it passed: whether this node signed it (see
    _signed_here), the documents it changes (claimed until its block is indexed), and for a
    document entry its digest and fields, so that indexing its block need not parse and
    validate the document again."""

    digest: str | None = None
    fields: dict[str, Any] | None = None
    signed_here: bool = True
    changes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A document that passed admission (:meth:`LedgerNode._admit`) and what it does."""

    subject: str
    refs: tuple[str, ...]
    changes: tuple[str, ...]
    digest: str
    fields: dict[str, Any]

    def prepared(self, *, signed_here: bool) -> _Prepared:
        return _Prepared(self.digest, self.fields, signed_here, self.changes)


def receipt(entry: Entry, companions: list[Entry] | None = None) -> dict[str, Any]:
    """The 201 body of a submission (with the origin evidence entry's hash, if one went too)."""
    body = {
        "document_id": entry.subject,
        "entry_hash": entry.hash_hex,
        "status": "accepted",
        "event": entry.type,
        "author": entry.author,
        "timestamp": entry.timestamp,
        "payload_digest": entry.payload_digest,
    }
    for extra in companions or ():
        if extra.type == origin_gate.EVIDENCE_TYPE:
            body["origin_evidence_entry_hash"] = extra.hash_hex
    return body


def _first_index(header: bytes) -> int:
    try:
        return int(json.loads(header)["first_index"])
    except (ValueError, KeyError) as exc:
        raise EncodingError("a stored block header is unreadable") from exc


__all__ = [
    "DOCUMENT_EVENTS",
    "ENTRY_MEDIA_TYPE",
    "Head",
    "LedgerNode",
    "MemoryTree",
]
