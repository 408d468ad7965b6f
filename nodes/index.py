"""The node's document index: who the parties of each document are, and its events.

Derived from committed blocks only (never a source of truth: it can be rebuilt from the ledger
at any time), kept in ``node_*`` tables beside the ledger's, and used to answer access checks,
provenance and verification quickly. Nothing here is hashed or signed.

For each entry the index records

* the documents it concerns: its ``subject``, the subjects of the entries it refers to
  (``refs``) and the documents its payload names (``co_reference``, ``supersedes``) — so a
  certificate's provenance shows the declarations and presentations that refer to it;
* what it does to them: a certificate issued or amended (content, issuer, countries, digest),
  superseded by an amendment, revoked; a declaration filed; a bank presentation (the bank
  becomes a party).

Parties are organisation ids. Exporters and importers are named in documents by legal name
(and optionally ``org_id``); they are matched to members by either.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    select,
    text,
)
from sqlalchemy.engine import Engine

from documents.rules import validity_end
from ledger.blocks import BlockHeader
from ledger.consortium import Membership
from ledger.entries import Entry, parse_entry
from ledger.errors import BlockInvalid, TradeLedgerError
from ledger.status_map import DocumentState, StagedUpdate, StatusProof, next_state
from nodes import documents_bridge, sealing
from nodes.access import DocumentAccess
from nodes.status_store import StatusStore
from nodes.store import LedgerStore

log = logging.getLogger("tradeledger.index")

metadata = MetaData()

documents_table = Table(
    "node_documents",
    metadata,
    Column("document_id", String, primary_key=True),
    Column("kind", String, nullable=True),
    Column("issuer", String, nullable=True),
    Column("exporting_country", String, nullable=True),
    Column("importing_country", String, nullable=True),
    Column("status", String, nullable=False),
    Column("issued_at", String, nullable=True),
    Column("valid_until", String, nullable=True),
    Column("defining_hash", String, nullable=True),
    Column("content_type", String, nullable=True),
    Column("payload_digest", String, nullable=True, index=True),
    Column("document_digest", String, nullable=True, index=True),
    Column("superseded_by", String, nullable=True),
    Column("parties", Text, nullable=False),
)

events_table = Table(
    "node_document_events",
    metadata,
    Column("document_id", String, primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("height", Integer, nullable=False),
    Column("entry_hash", LargeBinary, nullable=False),
    Column("type", String, nullable=False),
    Column("author", String, nullable=False),
    Column("timestamp", String, nullable=False),
    Column("payload_digest", String, nullable=False),
)

meta_table = Table(
    "node_meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)

#: Entry types that define a document's content (the document *is* their payload).
DEFINING_TYPES = frozenset(
    {
        "co.issued",
        "co.amended",
        "origin.declaration",
        "customs.export_declaration",
        "customs.import_declaration",
    }
)
CO_TYPES = frozenset({"co.issued", "co.amended"})


@dataclass(frozen=True)
class DocumentInfo:
    """One document as the index knows it."""

    document_id: str
    kind: str | None = None
    issuer: str | None = None
    exporting_country: str | None = None
    importing_country: str | None = None
    status: str = "unknown"
    issued_at: str | None = None
    valid_until: str | None = None
    defining_hash: str | None = None
    content_type: str | None = None
    payload_digest: str | None = None
    document_digest: str | None = None
    superseded_by: str | None = None
    parties: frozenset[str] = field(default_factory=frozenset)

    def access(self) -> DocumentAccess:
        countries = frozenset(c for c in (self.exporting_country, self.importing_country) if c)
        return DocumentAccess(self.document_id, self.parties, countries)

    def proves_possession(self, claimed: object) -> bool:
        """Whether ``claimed`` is this document's digest: what only a holder of the document (or
        of the QR code printed on it) knows. Never the payload digest, which every entry
        envelope and the public ``POST /v1/verify`` answer carry."""
        return (
            isinstance(claimed, str)
            and self.document_digest is not None
            and hmac.compare_digest(claimed.encode(), self.document_digest.encode())
        )

    def status_on(self, today: date) -> str:
        """The status shown to users: ``expired`` once a current certificate's year is over."""
        if self.status == "current" and self.valid_until and self.valid_until < today.isoformat():
            return "expired"
        return self.status

    def to_row(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "kind": self.kind,
            "issuer": self.issuer,
            "exporting_country": self.exporting_country,
            "importing_country": self.importing_country,
            "status": self.status,
            "issued_at": self.issued_at,
            "valid_until": self.valid_until,
            "defining_hash": self.defining_hash,
            "content_type": self.content_type,
            "payload_digest": self.payload_digest,
            "document_digest": self.document_digest,
            "superseded_by": self.superseded_by,
            "parties": " ".join(sorted(self.parties)),
        }

    @classmethod
    def from_row(cls, row: Any) -> DocumentInfo:
        m = row._mapping
        return cls(
            document_id=m["document_id"],
            kind=m["kind"],
            issuer=m["issuer"],
            exporting_country=m["exporting_country"],
            importing_country=m["importing_country"],
            status=m["status"],
            issued_at=m["issued_at"],
            valid_until=m["valid_until"],
            defining_hash=m["defining_hash"],
            content_type=m["content_type"],
            payload_digest=m["payload_digest"],
            document_digest=m["document_digest"],
            superseded_by=m["superseded_by"],
            parties=frozenset(p for p in (m["parties"] or "").split(" ") if p),
        )


@dataclass(frozen=True)
class DocumentEvent:
    """One ledger entry about a document (a row of its provenance)."""

    idx: int
    height: int
    entry_hash: bytes
    type: str
    author: str
    timestamp: str
    payload_digest: str
    envelope: bytes


@dataclass(frozen=True)
class StagedBlock:
    """What indexing one block writes, computed before it is written (``stage_block``)."""

    height: int
    hashes: tuple[bytes, ...]
    work: dict[str, DocumentInfo]
    events: list[dict[str, Any]]
    states: dict[str, DocumentState]
    update: StagedUpdate
    #: the membership the parties were read with (a block changing it is staged again when
    #: indexed, with the membership after it, as replay's index reads it)
    membership: Membership
    #: documents whose sealed payloads this node could not open (indexed from the envelope)
    blind_docs: frozenset[str] = frozenset()


class StatusRootMismatch(BlockInvalid):
    """A block header's status root is not what the index's rules give for the chain."""


@dataclass(frozen=True)
class IndexedEntry:
    """An entry of a committed block, as the index reads it."""

    idx: int
    height: int
    entry: Entry


def _json(entry: Entry) -> dict[str, Any]:
    """The payload's fields (JSON or XML documents); empty for anything else."""
    if entry.payload is None or sealing.is_sealed(entry.content_type):
        return {}
    return _fields(entry.payload, entry.content_type)


def _fields(payload: bytes, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        try:
            doc = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            return {}
        return doc if isinstance(doc, dict) else {}
    if "xml" in content_type:
        try:
            return documents_bridge.parse_document(payload, content_type)
        except TradeLedgerError:
            return {}
    return {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _country(party: Any) -> str | None:
    return _str(party.get("country")) if isinstance(party, dict) else None


class DocumentIndex:
    """Reads and writes the ``node_*`` index tables, with a small read cache.

    ``document_digest`` (optional) gives an entry's document digest a verifier may present (the
    ``documents`` package's, over the ``tradeledger/v1/document`` tag); the raw payload digest
    is always indexed too. ``payload_fields`` (optional) gives an entry's payload fields when
    the caller already has them (the node, from checking the submission); otherwise the
    payload is parsed. ``open_sealed`` (optional) opens a sealed payload with the node's keys;
    a sealed entry it cannot open (or with no ``open_sealed``) is indexed *blind*: from its
    signed envelope only (type, author, subject, refs), with the organisations it is sealed to
    (the key ids of the sealed payload) as the document's parties. ``blind_documents`` collects
    the documents whose rows hold such facts (``nodes.attest`` compares only their
    envelope-derived columns).
    """

    CACHE_SIZE = 20_000

    def __init__(
        self,
        engine: Engine,
        membership: Callable[[], Membership],
        *,
        document_digest: Callable[[Entry], str | None] | None = None,
        payload_fields: Callable[[Entry], dict[str, Any] | None] | None = None,
        open_sealed: Callable[[Entry], sealing.Opened | None] | None = None,
    ) -> None:
        self.engine = engine
        self.open_sealed = open_sealed
        self.blind_documents: set[str] = set()
        self.membership = membership
        self.document_digest = document_digest
        self.payload_fields = payload_fields
        self._names: tuple[Any, dict[str, set[str]]] | None = None
        self._lock = threading.Lock()
        self._epoch = 0
        self._docs: dict[str, DocumentInfo | None] = {}
        self._events: dict[str, list[DocumentEvent]] = {}
        # Every indexed document id, so that asking about a new id (each new certificate's
        # number is checked twice) costs a set lookup, not a query. Ids only grow.
        self._ids: set[str] = set()
        #: the status map (``ledger.status_map``), stored by height beside the index
        self.status = StatusStore(engine)
        self._staged: StagedBlock | None = None

    def create_schema(self) -> None:
        metadata.create_all(self.engine)
        self.status.create_schema()
        with self.engine.connect() as conn:
            ids = {r[0] for r in conn.execute(select(documents_table.c.document_id))}
        with self._lock:
            self._ids |= ids

    # -- progress --------------------------------------------------------------------------

    def indexed_height(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(meta_table.c.value).where(meta_table.c.key == "indexed_height")
            ).scalar()
        return int(value) if value is not None else 0

    # -- reading ---------------------------------------------------------------------------

    def document(self, document_id: str) -> DocumentInfo | None:
        with self._lock:
            if document_id not in self._ids:
                return None
            if document_id in self._docs:
                return self._docs[document_id]
            epoch = self._epoch
        with self.engine.connect() as conn:
            row = conn.execute(
                select(documents_table).where(documents_table.c.document_id == document_id)
            ).first()
        info = None if row is None else DocumentInfo.from_row(row)
        self._remember(self._docs, document_id, info, epoch)
        return info

    def documents(self, ids: Iterable[str]) -> dict[str, DocumentInfo | None]:
        return {i: self.document(i) for i in set(ids)}

    def events(self, document_id: str) -> list[DocumentEvent]:
        with self._lock:
            cached = self._events.get(document_id)
            if cached is not None:
                return cached
            epoch = self._epoch
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT ev.idx, ev.height, ev.entry_hash, ev.type, ev.author, ev.timestamp, "
                    "ev.payload_digest, le.envelope FROM node_document_events ev "
                    "JOIN ledger_entries le ON le.idx = ev.idx "
                    "WHERE ev.document_id = :d ORDER BY ev.idx"
                ),
                {"d": document_id},
            ).all()
        events = [
            DocumentEvent(int(r[0]), int(r[1]), bytes(r[2]), r[3], r[4], r[5], r[6], bytes(r[7]))
            for r in rows
        ]
        self._remember(self._events, document_id, events, epoch)
        return events

    def find_by_digest(self, digest: str) -> DocumentInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(documents_table)
                .where(
                    (documents_table.c.payload_digest == digest)
                    | (documents_table.c.document_digest == digest)
                )
                .limit(1)
            ).first()
        return None if row is None else DocumentInfo.from_row(row)

    def _remember(self, cache: dict[str, Any], key: str, value: Any, epoch: int) -> None:
        with self._lock:
            if epoch != self._epoch:
                return  # a block was indexed meanwhile: what we read may be stale
            if len(cache) >= self.CACHE_SIZE:
                cache.clear()
            cache[key] = value

    # -- writing (the sequencer's thread only) ------------------------------------------------

    def stage_block(self, height: int, entries: Sequence[IndexedEntry]) -> StagedBlock:
        """What indexing block ``height`` would write, computed by the index's rules against
        the rows indexed so far, without writing: the documents, their events and their new
        states in the status map, with the map's root after the block. A node calls this
        before it signs the block's header (the root goes into it); :meth:`index_block`
        writes it once the block is stored."""
        events: list[dict[str, Any]] = []
        membership = self.membership()
        with self.engine.connect() as conn:
            # self._ids changes only below, on this (the sequencer's) thread: no copy needed
            subjects = {e.entry.entry_hash: e.entry.subject for e in entries}
            ws = _WorkingSet(conn, subjects, self._ids, self.payload_fields, self.open_sealed)
            ws.prefetch([e.entry for e in entries])
            for item in entries:
                for doc_id in self._apply(item.entry, ws):
                    events.append(
                        {
                            "document_id": doc_id,
                            "idx": item.idx,
                            "height": item.height,
                            "entry_hash": item.entry.entry_hash,
                            "type": item.entry.type,
                            "author": item.entry.author,
                            "timestamp": item.entry.timestamp,
                            "payload_digest": item.entry.payload_digest,
                        }
                    )
            sealed = {
                e.entry.entry_hash.hex() for e in entries if sealing.is_sealed(e.entry.content_type)
            }
            states = self._next_states(conn, ws.work, events, sealed)
            update = self.status.stage(conn, states)
        return StagedBlock(
            height,
            tuple(e.entry.entry_hash for e in entries),
            ws.work,
            events,
            states,
            update,
            membership,
            frozenset(ws.blind_docs),
        )

    def _next_states(
        self,
        conn: Any,
        work: dict[str, DocumentInfo],
        events: list[dict[str, Any]],
        sealed: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> dict[str, DocumentState]:
        """The status map's new record of each document the block changed: its events
        appended (exactly the event rows the block adds: provenance lists these) and the
        status the rules above gave it. A document with no event stays out of the map."""
        new_events: dict[str, list[tuple[bytes, str]]] = {}
        for ev in events:
            new_events.setdefault(ev["document_id"], []).append((ev["entry_hash"], ev["type"]))
        ids = set(work) | set(new_events)
        prev = self.status.latest_states(conn, ids & self._ids)
        states: dict[str, DocumentState] = {}
        for doc_id in sorted(ids):
            before, added = prev.get(doc_id), new_events.get(doc_id, [])
            if before is None and not added:
                continue
            info = work.get(doc_id) or self.document(doc_id) or DocumentInfo(doc_id)
            # Every node must compute the same record, also one that cannot open a sealed
            # payload: a validity date read from the payload is recorded only when the defining
            # payload is in the clear, fixed at definition (an amendment is a new document).
            if before is not None:
                valid_until = before.valid_until
            elif info.defining_hash in sealed:
                valid_until = None
            else:
                valid_until = info.valid_until
            state = next_state(
                before,
                added,
                status=info.status,
                superseded_by=info.superseded_by,
                valid_until=valid_until,
            )
            if state != before:
                states[doc_id] = state
        return states

    def status_root(self, height: int, entries: Sequence[IndexedEntry]) -> bytes:
        """The status map's root after block ``height`` of ``entries``, staged and kept for
        :meth:`index_block` (the writer's hook: see ``LedgerWriter``)."""
        staged = self.stage_block(height, entries)
        self._staged = staged
        return staged.update.root

    def index_block(
        self,
        height: int,
        entries: Sequence[IndexedEntry],
        *,
        status_root: bytes | None = None,
    ) -> set[str]:
        """Index one committed block; return the ids of the documents it touched. With
        ``status_root`` (the block header's), :class:`StatusRootMismatch` is raised and
        nothing written unless the status map's root after the block is that."""
        staged, self._staged = self._staged, None
        hashes = tuple(e.entry.entry_hash for e in entries)
        if (
            staged is None
            or (staged.height, staged.hashes) != (height, hashes)
            or staged.membership is not self.membership()
        ):
            staged = self.stage_block(height, entries)
        if status_root is not None and staged.update.root != status_root:
            raise StatusRootMismatch(
                f"block {height}'s header commits to status root {status_root.hex()}; the "
                f"index's rules give {staged.update.root.hex()}",
                height=height,
            )
        work, events = staged.work, staged.events
        self.blind_documents |= staged.blind_docs
        with self.engine.begin() as conn:
            if work:
                conn.execute(
                    documents_table.delete().where(
                        documents_table.c.document_id.in_(bindparam("ids", expanding=True))
                    ),
                    {"ids": list(work)},
                )
                conn.execute(documents_table.insert(), [d.to_row() for d in work.values()])
            if events:
                conn.execute(events_table.insert(), events)
            self.status.write(conn, height, staged.states, staged.update)
            conn.execute(meta_table.delete().where(meta_table.c.key == "indexed_height"))
            conn.execute(meta_table.insert(), {"key": "indexed_height", "value": str(height)})
        self.status.committed(staged.update)
        with self._lock:
            self._epoch += 1
            self._ids.update(work)
            for doc_id in work:
                self._docs.pop(doc_id, None)
                self._events.pop(doc_id, None)
        return set(work)

    def prove_status(
        self, document_id: str, height: int
    ) -> tuple[DocumentState | None, StatusProof]:
        """The document's status map record as of ``height`` and its (non-)membership proof."""
        return self.status.prove(document_id, height)

    def _apply(self, entry: Entry, ws: _WorkingSet) -> list[str]:
        """Update the working documents for one entry; return the documents it concerns.

        A stored entry is on the chain for good, so indexing must never fail on one: an entry
        whose payload the rules below cannot read is logged and indexed as an event only."""
        try:
            return self._apply_entry(entry, ws)
        except Exception:  # one odd payload must not stop the index
            log.exception("entry indexed as an event only", extra={"entry": entry.hash_hex})
            return [entry.subject] if entry.subject else []

    def _apply_entry(self, entry: Entry, ws: _WorkingSet) -> list[str]:
        """What an entry does is read from its signed fields (type, author, subject, refs) and
        its payload, and takes effect on another document only where the entry's signed refs
        name that document's defining entry. Parties come from a certificate's own content and
        from events signed by those entitled to them, never from an entry's author alone."""
        payload = ws.payload(entry)
        blind = entry.entry_hash in ws.blind
        subject = entry.subject
        referred = [s for s in (ws.ref_subject(r) for r in entry.refs) if s]
        if blind:
            # what the envelope says: the documents its refs name stand for the payload's
            # supersedes / co_reference; its recipients for the parties it names
            payload = {"supersedes": next(iter(referred), None)}
            if etype_declares(entry.type):
                payload = {"co_reference": next(iter(referred), None)}
            ws.blind_docs.update(d for d in (subject, *referred) if d)
        concerned: list[str] = []
        for doc_id in (subject, *referred):
            if doc_id and doc_id not in concerned:
                concerned.append(doc_id)
        if not concerned:
            return []
        etype, author = entry.type, entry.author

        def referred_certificate(doc_id: str | None) -> DocumentInfo | None:
            """The certificate ``doc_id`` if this entry's refs name its defining entry."""
            if not doc_id:
                return None
            doc = ws.load(doc_id)
            if doc.kind != "certificate_of_origin" or doc.defining_hash not in entry.refs:
                return None
            return doc

        if etype in CO_TYPES and subject:
            doc = self._define(ws.load(subject), entry, payload, kind="certificate_of_origin")
            importer = payload.get("importer")
            doc = replace(
                doc,
                issuer=author,
                exporting_country=_country(payload.get("exporter")) or doc.exporting_country,
                importing_country=_str(payload.get("importing_country"))
                or _country(importer)
                or doc.importing_country,
                status="revoked" if doc.status == "revoked" else "current",
                valid_until=_valid_until(payload),
            )
            # a certificate's parties are what its issuer signed in it (an application for its
            # number made earlier by anyone does not make the applicant a party)
            parties = (
                {author}
                | self._members_named(payload.get("exporter"))
                | self._members_named(importer)
            )
            if blind:
                parties |= self._recipients(entry)
            if etype == "co.amended":
                old = referred_certificate(_str(payload.get("supersedes")))
                if old is not None and old.issuer == author:
                    ws.put(replace(old, status="superseded", superseded_by=subject))
                    parties |= old.parties
            ws.put(replace(doc, parties=frozenset(parties)))
        elif etype == "co.revoked":
            target = referred_certificate(subject)
            if target is not None and target.issuer == author:
                ws.put(replace(target, status="revoked"))
        elif etype == "co.application" and subject:
            doc = ws.load(subject)
            if doc.kind in (None, "co_application"):
                co = payload.get("co")
                co = co if isinstance(co, dict) else payload
                issuer = subject.partition("/")[0]
                doc = replace(
                    doc,
                    kind="co_application",
                    exporting_country=doc.exporting_country or _country(co.get("exporter")),
                    importing_country=doc.importing_country
                    or _str(co.get("importing_country"))
                    or _country(co.get("importer")),
                )
                ws.put(
                    self._add_parties(
                        doc, {author, issuer} | (self._recipients(entry) if blind else set())
                    )
                )
        elif etype in DEFINING_TYPES and subject:
            # declarations (customs, origin): parties and countries follow the certificate
            kind = "origin_declaration" if etype == "origin.declaration" else "customs_declaration"
            doc = self._define(ws.load(subject), entry, payload, kind=kind)
            own = {author} | (self._recipients(entry) if blind else set())
            doc = replace(doc, issuer=author, status="current", parties=frozenset(own))
            co = referred_certificate(_str(payload.get("co_reference")))
            if co is not None and co.document_id in ws.blind_docs and subject:
                ws.blind_docs.add(subject)
            if co is not None:
                doc = replace(
                    self._add_parties(doc, co.parties),
                    exporting_country=co.exporting_country,
                    importing_country=co.importing_country,
                )
            doc = replace(
                doc,
                exporting_country=doc.exporting_country or _country(payload.get("exporter")),
                importing_country=doc.importing_country
                or _str(payload.get("importing_country"))
                or _country(payload.get("importer")),
            )
            ws.put(doc)
        elif etype == sealing.SHARE_TYPE and subject:
            # a party shares the document's sealed content (its defining entry) with more
            # organisations: they become readers. From the signed envelope and the grant's key
            # ids only (no key), so every node derives the same parties.
            doc = ws.load(subject)
            if (
                doc.defining_hash is not None
                and entry.refs == (doc.defining_hash,)
                and author in doc.parties
                and entry.content_type == sealing.GRANT_TYPE
            ):
                ws.put(self._add_parties(doc, self._granted(entry)))
        elif etype == "bank.presentation":
            co = referred_certificate(subject)
            # the bank becomes a party only by proving it holds the certificate (its document
            # digest, which no envelope carries); presented_by never makes anyone a party
            if co is not None and co.proves_possession(payload.get("co_digest")):
                ws.put(self._add_parties(co, {author}))

        for doc_id in concerned:
            ws.load(doc_id)  # documents named but never defined still get a row (status unknown)
        return concerned

    def _define(
        self, doc: DocumentInfo, entry: Entry, payload: dict[str, Any], *, kind: str
    ) -> DocumentInfo:
        digest = None
        if self.document_digest is not None and entry.payload is not None:
            try:
                digest = self.document_digest(entry)
            except Exception:  # a digest we cannot compute is simply not indexed
                digest = None
        return replace(
            doc,
            kind=kind,
            issued_at=entry.timestamp,
            defining_hash=entry.hash_hex,
            content_type=entry.content_type,
            payload_digest=entry.payload_digest,
            document_digest=digest,
        )

    def _recipients(self, entry: Entry) -> set[str]:
        """The organisations a sealed payload is sealed to (from its key ids; no key)."""
        try:
            return sealing.recipient_orgs(entry.payload or b"", self.membership())
        except TradeLedgerError:
            return set()

    def _granted(self, entry: Entry) -> set[str]:
        """The organisations a key grant is made to (from its key ids; no key)."""
        try:
            return sealing.grant_orgs(entry.payload or b"", self.membership())
        except TradeLedgerError:
            return set()

    @staticmethod
    def _add_parties(doc: DocumentInfo, orgs: Iterable[str]) -> DocumentInfo:
        new = doc.parties | {o for o in orgs if o}
        return doc if new == doc.parties else replace(doc, parties=new)

    def members_named(self, party: Any) -> set[str]:
        """Member organisations a document's exporter/importer block names."""
        return self._members_named(party)

    def _members_named(self, party: Any) -> set[str]:
        """Member organisations a document's exporter/importer block names."""
        if not isinstance(party, dict):
            return set()
        orgs = self.membership().organisations
        found: set[str] = set()
        for key in ("org_id", "id"):
            value = party.get(key)
            if isinstance(value, str) and value in orgs:
                found.add(value)
        name = party.get("name")
        if isinstance(name, str):
            found |= self._by_legal_name(orgs).get(name.strip().casefold(), set())
        return found

    def _by_legal_name(self, orgs: Any) -> dict[str, set[str]]:
        """Member ids by folded legal name, rebuilt only when the membership changes."""
        cached = self._names
        if cached is not None and cached[0] is orgs:
            return cached[1]
        names: dict[str, set[str]] = {}
        for o in orgs.values():
            names.setdefault(o.legal_name.strip().casefold(), set()).add(o.id)
        self._names = (orgs, names)
        return names


def etype_declares(entry_type: str) -> bool:
    """Entry types whose payload names a certificate by ``co_reference``."""
    return entry_type in DEFINING_TYPES and entry_type not in CO_TYPES


def _chunks(items: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _valid_until(payload: dict[str, Any]) -> str | None:
    """The last day of a certificate's validity, by its agreement's profile (the same rule
    ``documents`` applies to declarations claiming it: RCEP Art. 3.16.6, one year)."""
    issued = payload.get("issue_date")
    if not isinstance(issued, str):
        return None
    try:
        issue_date = date.fromisoformat(issued)
        agreement = payload.get("agreement")
        end = validity_end(agreement if isinstance(agreement, str) else "", issue_date)
    except (ValueError, OverflowError):  # e.g. issued 9999-06-01: no valid-until day exists
        return None
    return end.isoformat()


class _WorkingSet:
    """The documents one block changes, loaded on first use and written back at the end."""

    def __init__(
        self,
        conn: Any,
        subjects_in_block: dict[bytes, str | None],
        known_ids: set[str],
        payload_fields: Callable[[Entry], dict[str, Any] | None] | None = None,
        open_sealed: Callable[[Entry], sealing.Opened | None] | None = None,
    ) -> None:
        self.conn = conn
        self.payload_fields = payload_fields
        self.open_sealed = open_sealed
        #: sealed entries this node cannot open, and the documents indexed from them
        self.blind: set[bytes] = set()
        self.blind_docs: set[str] = set()
        self.by_hash = subjects_in_block
        self.known_ids = known_ids  # ids with a row already: others need no query
        self.work: dict[str, DocumentInfo] = {}
        self._payloads: dict[bytes, dict[str, Any]] = {}

    def payload(self, entry: Entry) -> dict[str, Any]:
        """The entry's payload fields, parsed once per block."""
        fields = self._payloads.get(entry.entry_hash)
        if fields is None:
            known = self.payload_fields(entry) if self.payload_fields is not None else None
            if known is None and sealing.is_sealed(entry.content_type):
                known = self._sealed_fields(entry)
            fields = self._payloads[entry.entry_hash] = known if known is not None else _json(entry)
        return fields

    def _sealed_fields(self, entry: Entry) -> dict[str, Any]:
        opened = None
        if self.open_sealed is not None:
            try:
                opened = self.open_sealed(entry)
            except TradeLedgerError:  # sealed to us but does not open: index it blind
                log.warning("a sealed payload does not open", extra={"entry": entry.hash_hex})
        if opened is None:
            self.blind.add(entry.entry_hash)
            return {}
        return _fields(opened.plaintext, opened.media)

    def load(self, doc_id: str) -> DocumentInfo:
        if doc_id not in self.work:
            if doc_id not in self.known_ids:
                self.work[doc_id] = DocumentInfo(doc_id)
                return self.work[doc_id]
            row = self.conn.execute(
                select(documents_table).where(documents_table.c.document_id == doc_id)
            ).first()
            self.work[doc_id] = DocumentInfo(doc_id) if row is None else DocumentInfo.from_row(row)
        return self.work[doc_id]

    def put(self, doc: DocumentInfo) -> None:
        self.work[doc.document_id] = doc

    def prefetch(self, entries: Sequence[Entry]) -> None:
        """Load in two queries what the block's entries will ask for one by one."""
        refs = {bytes.fromhex(r) for e in entries for r in e.refs} - self.by_hash.keys()
        for chunk in _chunks(sorted(refs)):
            rows = self.conn.execute(
                text(
                    "SELECT entry_hash, subject FROM ledger_entries WHERE entry_hash IN :hs"
                ).bindparams(bindparam("hs", expanding=True)),
                {"hs": chunk},
            ).all()
            for h, subject in rows:
                self.by_hash[bytes(h)] = subject
        ids: set[str] = {s for s in self.by_hash.values() if s}
        for e in entries:
            payload = self.payload(e)
            ids.update(v for k in ("co_reference", "supersedes") if (v := _str(payload.get(k))))
        for doc_id in ids - self.known_ids - self.work.keys():
            self.work[doc_id] = DocumentInfo(doc_id)
        for chunk in _chunks(sorted(ids - self.work.keys())):
            found = {
                row._mapping["document_id"]: DocumentInfo.from_row(row)
                for row in self.conn.execute(
                    select(documents_table).where(
                        documents_table.c.document_id.in_(bindparam("ids", expanding=True))
                    ),
                    {"ids": chunk},
                )
            }
            for doc_id in chunk:
                self.work[doc_id] = found.get(doc_id) or DocumentInfo(doc_id)

    def ref_subject(self, ref: str) -> str | None:
        raw = bytes.fromhex(ref)
        if raw in self.by_hash:
            return self.by_hash[raw]
        value = self.conn.execute(
            text("SELECT subject FROM ledger_entries WHERE entry_hash = :h"), {"h": raw}
        ).scalar()
        return value if isinstance(value, str) else None


def catch_up(index: DocumentIndex, store: LedgerStore) -> None:
    """Index the stored blocks ``index`` lacks, each checked against its header's status root
    (:class:`StatusRootMismatch` if the index's rules give another)."""
    done = index.indexed_height()
    height, _ = store.head()
    for raw in store.iter_blocks(done + 1, height) if height > done else ():
        header = BlockHeader.from_bytes(raw.header)
        entries = [
            IndexedEntry(header.first_index + i, raw.height, parse_entry(env, pl))
            for i, (env, pl) in enumerate(raw.entries)
        ]
        index.index_block(raw.height, entries, status_root=bytes.fromhex(header.status_root))


def status_root_hook(
    index: DocumentIndex, store: LedgerStore
) -> Callable[[int, int, Sequence[Entry]], bytes]:
    """A ``LedgerWriter`` status-root hook over ``index``: the index first catches up with the
    store (a block whose indexing failed, or a writer whose blocks nobody indexes, as in
    ``tradeledger demo``), then stages the next block."""

    def hook(height: int, first_index: int, entries: Sequence[Entry]) -> bytes:
        if index.indexed_height() != height - 1:
            catch_up(index, store)
        return index.status_root(
            height, [IndexedEntry(first_index + i, height, e) for i, e in enumerate(entries)]
        )

    return hook
