"""The read side of a node: blocks, entries, documents, provenance, origin evidence, public
verification and proofs, each with the access policy applied (``nodes.access``; origin evidence
by ``nodes.origin_gate``).

:class:`LedgerReads` reads the store, the document index and the node's :class:`~nodes.log_view.
LogView`, and writes nothing: a document a caller may not read is answered exactly as one that
does not exist (404). Answers are plain dicts in the API's response formats.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from ledger.consortium import Membership
from ledger.entries import Entry, parse_entry
from ledger.errors import EntryLeftOut, InvalidInput, NotFound, TradeLedgerError
from ledger.merkle import consistency_proof
from ledger.sealed_payload import verify_commitment
from nodes import documents_bridge as bridge
from nodes import origin_gate, sealing
from nodes.access import AUDITOR, NODE, may_read, may_read_entry
from nodes.index import DocumentIndex, DocumentInfo
from nodes.log_view import LogView
from nodes.sealing import PayloadOpener
from nodes.store import LedgerStore, StoredEntry
from nodes.tokens import Caller


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


class LedgerReads:
    """Every query a node answers, over its store, index and log view."""

    def __init__(
        self,
        store: LedgerStore,
        index: DocumentIndex,
        log: LogView,
        membership: Callable[[], Membership],
        *,
        opener: PayloadOpener | None = None,
    ) -> None:
        self.store = store
        #: opens sealed payloads with the node's keys (None: it holds none)
        self.opener = opener
        self.index = index
        self.log = log
        #: the membership in force at the head (the writer's), asked afresh on every read
        self._membership = membership

    def entry_by_hash(self, entry_hash: bytes) -> StoredEntry | None:
        """``LedgerStore.entry_by_hash``, read directly: the store's version trips over the
        row shape SQLAlchemy 2.1 returns for ``select(EntryRow)`` on a Core connection."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT idx, height, entry_hash, envelope, payload, type, subject "
                    "FROM ledger_entries WHERE entry_hash = :h"
                ),
                {"h": entry_hash},
            ).first()
        if row is None:
            return None
        return StoredEntry(
            int(row[0]),
            int(row[1]),
            bytes(row[2]),
            bytes(row[3]),
            None if row[4] is None else bytes(row[4]),
            row[5],
            row[6],
        )

    # -- proofs ------------------------------------------------------------------------------------

    def inclusion_proof(self, entry_hash: str, tree_size: int | None) -> dict[str, Any]:
        raw = _entry_hash(entry_hash)
        head = self.log.head
        size = head.tree_size if tree_size is None else tree_size
        height = self.log.height_of_size(size)
        stored = self.entry_by_hash(raw)
        if stored is None:
            raise NotFound(f"entry {entry_hash} is not in a block on this node")
        if stored.idx >= size:
            raise InvalidInput(
                f"entry {entry_hash} is leaf {stored.idx}, not in the tree of {size} leaves",
                location="/query/tree_size",
            )
        proof = self.log.inclusion(stored.idx, size)
        return {
            "entry_hash": entry_hash,
            "leaf_index": stored.idx,
            "tree_size": size,
            "hashes": proof["hashes"],
            "envelope": b64(stored.envelope),
            "checkpoint": self.log.checkpoint_text(height),
        }

    def consistency_proof(self, first: int, second: int) -> dict[str, Any]:
        if first > second:
            raise InvalidInput(
                f"first ({first}) is larger than second ({second})", location="/query/first"
            )
        h1 = self.log.height_of_size(first, "first")
        h2 = self.log.height_of_size(second, "second")
        return {
            "first": first,
            "second": second,
            "hashes": [h.hex() for h in consistency_proof(self.log.tree, first, second)],
            "first_checkpoint": self.log.checkpoint_text(h1),
            "second_checkpoint": self.log.checkpoint_text(h2),
        }

    # -- blocks and entries -------------------------------------------------------------------

    def block(self, height: int, caller: Caller) -> dict[str, Any]:
        if height < 1 or height > self.log.head.height:
            raise NotFound(f"there is no block at height {height}")
        raw = self.store.block(height)
        entries = [parse_entry(env, pl) for env, pl in raw.entries]
        readable = self._readable_entries(caller, entries)
        result = {
            "height": raw.height,
            "header": b64(raw.header),
            "header_json": json.loads(raw.header),
            # with the cosignatures gathered since the block was stored
            "checkpoint": self.log.checkpoint_text(height),
            "entries": [
                {
                    "entry_hash": e.hash_hex,
                    "envelope": b64(e.envelope),
                    "payload": b64(e.payload) if ok else None,
                }
                for e, ok in zip(entries, readable, strict=True)
            ],
        }
        revision = self.store.order_revision(height)
        if revision is not None:
            result["order_revision"] = revision
        return result

    def _readable_entries(self, caller: Caller, entries: list[Entry]) -> list[bool]:
        if caller.role == NODE:  # a peer holds its own copy of every (sealed) byte
            return [True] * len(entries)
        membership = self._membership()
        if caller.role == AUDITOR:
            return [self._recipient(caller, e, membership) for e in entries]
        docs = self.index.documents(e.subject for e in entries if e.subject)
        return [
            origin_gate.may_read_evidence_entry(caller, e.author, docs.get(e.subject), membership)
            if e.type == origin_gate.EVIDENCE_TYPE
            else may_read_entry(
                caller,
                e.author,
                [docs.get(e.subject) and docs[e.subject].access()] if e.subject else [],  # type: ignore[union-attr]
                membership,
            )
            and self._recipient(caller, e, membership)
            for e in entries
        ]

    def _recipient(self, caller: Caller, entry: Entry, membership: Membership) -> bool:
        """A sealed payload only to an organisation it is sealed to, or granted to later by a
        ``payload.shared`` entry (issue 16): the access policy at the time of reading does not
        widen who was given the key."""
        if not sealing.is_sealed(entry.content_type) or entry.payload is None:
            return True
        try:
            if caller.org_id in sealing.recipient_orgs(entry.payload, membership):
                return True
        except TradeLedgerError:
            return False
        return any(caller.org_id in orgs for _, orgs in self._grants(entry, membership))

    def _grants(self, entry: Entry, membership: Membership) -> list[tuple[Entry, set[str]]]:
        """The key grants recorded for a sealed entry (``payload.shared`` entries about its
        subject naming it), with the organisations each is made to (from key ids)."""
        if not entry.subject:
            return []
        found: list[tuple[Entry, set[str]]] = []
        for ev in self.index.events(entry.subject):
            if ev.type != sealing.SHARE_TYPE:
                continue
            stored = self.entry_by_hash(ev.entry_hash)
            if stored is None or stored.payload is None:
                continue
            share = parse_entry(stored.envelope, stored.payload)
            if share.refs != (entry.hash_hex,) or share.content_type != sealing.GRANT_TYPE:
                continue
            try:
                found.append((share, sealing.grant_orgs(stored.payload, membership)))
            except TradeLedgerError:
                continue
        return found

    def entry(self, entry_hash: str, caller: Caller) -> dict[str, Any]:
        raw_hash = _entry_hash(entry_hash)
        stored = self.entry_by_hash(raw_hash)
        if stored is None:
            left_out = self.store.skipped(raw_hash)
            if left_out is not None:
                raise EntryLeftOut(
                    f"entry {entry_hash} was acknowledged but left out of the ledger when its "
                    f"block was cut: [{left_out[0]}] {left_out[1]}"
                )
            raise NotFound(f"entry {entry_hash} is not in a block on this node")
        entry = parse_entry(stored.envelope, stored.payload)
        (ok,) = self._readable_entries(caller, [entry])
        return {
            "entry_hash": entry.hash_hex,
            "leaf_index": stored.idx,
            "height": stored.height,
            "type": entry.type,
            "author": entry.author,
            "subject": entry.subject,
            "timestamp": entry.timestamp,
            "envelope": b64(entry.envelope),
            "payload": b64(entry.payload) if ok else None,
        }

    # -- documents ------------------------------------------------------------------------------

    def _readable_document(self, document_id: str, caller: Caller) -> DocumentInfo:
        info = self.index.document(document_id)
        if info is None or not may_read(caller, info.access(), self._membership()):
            # the same answer whether it does not exist or is someone else's
            raise NotFound(f"no document {document_id!r} that you may read")
        return info

    def document(self, document_id: str, caller: Caller) -> tuple[bytes, str, DocumentInfo]:
        """The document's current content (payload bytes and media type)."""
        info = self._readable_document(document_id, caller)
        payload, content_type = self.content_of(info, caller)
        return payload, content_type, info

    def content_of(self, info: DocumentInfo, caller: Caller | None = None) -> tuple[bytes, str]:
        """The content of a document (payload bytes and media type); the caller has already
        decided that whoever asks may see it. A sealed payload is opened with the node's keys;
        with ``caller``, only for an organisation it is sealed to (else: not found)."""
        events = self.index.events(info.document_id)
        source = info.defining_hash or next((e.entry_hash.hex() for e in reversed(events)), None)
        stored = self.entry_by_hash(bytes.fromhex(source)) if source else None
        if stored is None or stored.payload is None:
            raise NotFound(f"document {info.document_id!r} has no content on this node")
        entry = parse_entry(stored.envelope, stored.payload)
        if not sealing.is_sealed(entry.content_type):
            return stored.payload, entry.content_type
        opened = self._open(entry, caller)
        if opened is None:
            raise NotFound(f"no document {info.document_id!r} that you may read")
        return opened.plaintext, opened.media

    def _open(self, entry: Entry, caller: Caller | None) -> sealing.Opened | None:
        """A sealed entry's plaintext for ``caller`` (None: not a recipient, or this node holds
        none of the keys it is sealed to)."""
        membership = self._membership()
        if self.opener is None:
            return None
        direct = caller is None
        if caller is not None:
            try:
                direct = caller.org_id in sealing.recipient_orgs(entry.payload or b"", membership)
            except TradeLedgerError:
                return None
        if direct:
            try:
                opened = self.opener.open(entry)
            except TradeLedgerError:
                opened = None
            if opened is not None:
                return opened
        # shared later: through a key grant made to the caller's organisation (any, without one)
        for share, orgs in self._grants(entry, membership):
            key_ids = None
            if caller is not None:
                if caller.org_id not in orgs:
                    continue
                org = membership.organisations.get(caller.org_id)
                key_ids = set(org.encryption_keys) if org is not None else set()
            try:
                opened = self.opener.open_granted(entry, share, key_ids)
            except TradeLedgerError:
                continue  # a grant that does not open grants nothing
            if opened is not None:
                return opened
        return None

    def provenance(self, document_id: str, caller: Caller) -> dict[str, Any]:

        if caller.role == AUDITOR and self.index.document(document_id) is None:
            self._absent(document_id)
        info = self._readable_document(document_id, caller)
        head, indexed = self.log.head, self.index.events(document_id)
        # The index learns of a block a moment before the head moves on to it: a status read
        # then may already count an event the head's tree does not hold yet, an answer a
        # verifier rightly refuses (status revoked, no revocation listed). Wait for the head.
        for _ in range(200):
            if all(ev.idx < head.tree_size for ev in indexed):
                break
            time.sleep(0.005)
            info = self._readable_document(document_id, caller)
            head, indexed = self.log.head, self.index.events(document_id)
        size = head.tree_size
        events = []
        for ev in indexed:
            if ev.idx >= size:
                continue  # still not under the head after a second: show what it proves
            events.append(
                {
                    "event": ev.type,
                    "entry_hash": ev.entry_hash.hex(),
                    "leaf_index": ev.idx,
                    "height": ev.height,
                    "timestamp": ev.timestamp,
                    "actor": ev.author,
                    "envelope": b64(ev.envelope),
                    "payload_digest": ev.payload_digest,
                    "inclusion_proof": self.log.inclusion(ev.idx, size),
                }
            )
        status_proof = self.status_proof(document_id, head.height)
        if status_proof is not None:
            # the status as of the head, which the proof is at (the index may be a block ahead)
            record = status_proof["record"]
            info = replace(
                info,
                status=record["status"] if record else "unknown",
                superseded_by=record["superseded_by"] if record else None,
                valid_until=record["valid_until"] if record else None,
            )
        return {
            "document_id": document_id,
            "status": info.status_on(datetime.now(UTC).date()),
            "kind": info.kind,
            "issuer": info.issuer,
            "superseded_by": info.superseded_by,
            "tree_size": size,
            "height": head.height,
            "checkpoint": head.checkpoint,
            "events": events,
            "status_proof": status_proof,
        }

    def _absent(self, document_id: str) -> None:
        """An auditor may read every document, so telling it that one does not exist discloses
        nothing: its 404 carries the status map's proof that the map holds nothing for the id,
        as a provenance with no events (anyone else gets a plain 404, as for a document it may
        not read). The problem's ``status`` stays the HTTP status."""
        head = self.log.head
        raise NotFound(
            f"no document {document_id!r} that you may read",
            document_id=document_id,
            tree_size=head.tree_size,
            height=head.height,
            checkpoint=head.checkpoint,
            events=[],
            status_proof=self.status_proof(document_id, head.height),
        )

    def status_proof(self, document_id: str, height: int) -> dict[str, Any] | None:
        """The status map's record of ``document_id`` at block ``height`` (null if the map
        holds none) with its proof, and the block's header (whose hash the checkpoint at
        ``height`` signs, and whose ``status_root`` the proof leads to). None before the
        first block."""
        if height < 1:
            return None
        record, proof = self.index.prove_status(document_id, height)
        with self.store.engine.connect() as conn:
            header = conn.execute(
                text("SELECT header FROM ledger_blocks WHERE height = :h"), {"h": height}
            ).scalar()
        if header is None:
            return None
        return {
            "record": None if record is None else record.to_json(),
            "proof": b64(proof.to_bytes()),
            "height": height,
            "header": b64(bytes(header)),
        }

    def origin_evidence(self, document_id: str, caller: Caller) -> dict[str, Any]:
        """``GET /v1/documents/{id}/origin-evidence``: the bills of materials and full
        determinations behind a certificate's ``origin_determinations``, with a check that
        each digest the certificate records matches the recorded determination. The issuer,
        the importing country's customs and auditors only; 404 for anyone else."""
        info = self.index.document(document_id)
        if (
            info is None
            or info.kind != "certificate_of_origin"
            or not origin_gate.may_read_evidence(
                caller, info.issuer, info.importing_country, self._membership()
            )
        ):
            raise NotFound(f"no origin evidence for {document_id!r} that you may read")
        certificate = (
            self.entry_by_hash(bytes.fromhex(info.defining_hash)) if info.defining_hash else None
        )
        evidence = None
        head = self.log.head
        for ev in reversed(self.index.events(document_id)):
            if ev.type == origin_gate.EVIDENCE_TYPE and ev.idx < head.tree_size:
                evidence = self.entry_by_hash(ev.entry_hash)
                break
        if certificate is None or certificate.payload is None:
            raise NotFound(f"no origin evidence for {document_id!r} that you may read")
        cert_entry = parse_entry(certificate.envelope, certificate.payload)
        cert_bytes, cert_type = certificate.payload, cert_entry.content_type
        if sealing.is_sealed(cert_type):
            cert_opened = self._open(cert_entry, None)
            cert_bytes, cert_type = (
                (cert_opened.plaintext, cert_opened.media) if cert_opened else (b"{}", "json")
            )
        cert = json.loads(cert_bytes) if "json" in cert_type else {}
        if evidence is None or evidence.payload is None:
            raise NotFound(f"{document_id} was recorded without origin evidence")
        entry = parse_entry(evidence.envelope, evidence.payload)
        if info.defining_hash not in entry.refs:
            raise NotFound(f"{document_id} was recorded without origin evidence")
        evidence_bytes = evidence.payload
        if sealing.is_sealed(entry.content_type):
            opened = self._open(entry, caller)
            if opened is None:  # sealed to the issuer and the importing customs only
                raise NotFound(f"no origin evidence for {document_id!r} that you may read")
            evidence_bytes = opened.plaintext
        body = json.loads(evidence_bytes)
        checks = origin_gate.check_recorded(cert, body)
        return {
            "document_id": document_id,
            "certificate_entry_hash": info.defining_hash,
            "evidence_entry_hash": entry.hash_hex,
            "leaf_index": evidence.idx,
            "agreement": body.get("agreement"),
            "items": body.get("items", []),
            "digests": checks,
            "digests_match": bool(checks) and all(c["matches"] for c in checks),
        }

    # -- public verification --------------------------------------------------------------------

    def find_file(
        self, body: bytes, content_type: str, kind: str | None = None
    ) -> DocumentInfo | None:
        """The document a presented file is (of ``kind``, if given), by the digests the index
        may know it under (``bridge.file_digests``)."""
        for digest in bridge.file_digests(body, content_type):
            info = self.index.find_by_digest(digest)
            if info is not None and kind in (None, info.kind):
                return info
        return None

    def verify(self, body: bytes, content_type: str) -> dict[str, Any]:
        """``POST /v1/verify``: is this document (or digest, or id) on the ledger?"""
        query: dict[str, Any] | None = None
        if "json" in content_type:
            parsed = bridge.parse_json(body)
            if isinstance(parsed, dict) and parsed.keys() in ({"digest"}, {"document_id"}):
                query = parsed
        info: DocumentInfo | None = None
        match: str | None = None
        presented: DocumentInfo | None = None
        blind: DocumentInfo | None = None
        if query is not None and "digest" in query:
            digest = query["digest"]
            if not isinstance(digest, str) or len(digest) != 64:
                raise InvalidInput("digest must be 64 hex digits (SHA-256)", location="/digest")
            info = self.index.find_by_digest(digest.lower())
            match = "digest"
        elif query is not None:
            doc_id = query["document_id"]
            if not isinstance(doc_id, str) or not doc_id:
                raise InvalidInput("document_id must be a string", location="/document_id")
            info = self.index.document(doc_id)
            if info is not None and info.kind != "certificate_of_origin":
                info = None
            match = "document_id"
        else:
            fields = bridge.parse_document(body, content_type)
            info = self.find_file(body, content_type)
            if info is not None:
                match = "digest"
            else:
                issuer, number = fields.get("issuer"), fields.get("number")
                if isinstance(issuer, str) and isinstance(number, str):
                    presented = self.index.document(f"{issuer}/{number}")
                    sealed = self._sealed_match(presented, body)
                    if sealed is True:
                        info, match, presented = presented, "commitment", None
                    elif sealed is None:
                        blind = presented
        head = self.log.head
        result: dict[str, Any] = {
            "found": info is not None,
            "match": match if info is not None else None,
            "document_id": None,
            "status": None,
            "kind": None,
            "issuer": None,
            "issued_at": None,
            "valid_until": None,
            "superseded_by": None,
            "entry_hash": None,
            "leaf_index": None,
            "envelope": None,
            "inclusion_proof": None,
            "checkpoint": head.to_json(),
            "reason": None,
            "status_proof": None,
        }
        if info is None:
            if blind is not None and blind.kind == "certificate_of_origin":
                result.update(
                    document_id=blind.document_id,
                    status=blind.status_on(datetime.now(UTC).date()),
                    issuer=blind.issuer,
                    reason="a certificate with this number is on the ledger, sealed to "
                    "organisations this node does not run: verify the file at a node of one "
                    "of them",
                )
            elif presented is not None and presented.kind == "certificate_of_origin":
                result.update(
                    document_id=presented.document_id,
                    status=presented.status_on(datetime.now(UTC).date()),
                    issuer=presented.issuer,
                    reason="a certificate with this number is on the ledger, but this file "
                    "does not match it (altered or not the issued version)",
                )
            else:
                result["reason"] = "no document matching this on the ledger"
            return result
        status_proof = self.status_proof(info.document_id, head.height)
        record = status_proof["record"] if status_proof is not None else None
        if record is not None:  # the status as of the head, which the proof is at
            info = replace(
                info,
                status=record["status"],
                superseded_by=record["superseded_by"],
                valid_until=record["valid_until"],
            )
        result.update(
            document_id=info.document_id,
            status=info.status_on(datetime.now(UTC).date()),
            kind=info.kind,
            issuer=info.issuer,
            issued_at=info.issued_at,
            valid_until=info.valid_until,
            superseded_by=info.superseded_by,
            entry_hash=info.defining_hash,
            status_proof=status_proof,
        )
        if info.defining_hash:
            stored = self.entry_by_hash(bytes.fromhex(info.defining_hash))
            if stored is not None and stored.idx < head.tree_size:
                result.update(
                    leaf_index=stored.idx,
                    envelope=b64(stored.envelope),
                    inclusion_proof=self.log.inclusion(stored.idx, head.tree_size),
                )
        return result

    def _sealed_match(self, info: DocumentInfo | None, body: bytes) -> bool | None:
        """For a document whose payload is sealed: whether ``body`` is exactly the plaintext
        its commitment names (the salt comes from opening it with the node's key); None when
        this node cannot open it; False when it is not sealed or does not match."""
        if info is None or not info.defining_hash:
            return False
        stored = self.entry_by_hash(bytes.fromhex(info.defining_hash))
        if stored is None or stored.payload is None:
            return False
        entry = parse_entry(stored.envelope, stored.payload)
        if not sealing.is_sealed(entry.content_type):
            return False
        opened = self._open(entry, None)
        if opened is None:
            return None
        return verify_commitment(opened.opened.commitment, opened.opened.salt, body)


def _entry_hash(value: str) -> bytes:
    if len(value) != 64 or value != value.lower():
        raise InvalidInput("an entry hash is 64 lowercase hex digits", location="/path/entry_hash")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise InvalidInput("an entry hash is 64 lowercase hex digits") from exc
