"""The submission pipeline of a node: the one admission path of every document, node-signed
or pre-signed, from the body to the orderer.

A document submission (:meth:`SubmissionPipeline.prepare_document`) or a pre-signed entry
(:meth:`SubmissionPipeline.prepare_entry`) goes through :meth:`SubmissionPipeline.admit`:
parse, schema and business rules (``nodes.documents_bridge``, the ledger-dependent rules
through ``nodes.registry``), then what the entry does (subject, refs, the documents it
changes) derived from the validated document with the rules the chain cannot check (who may
amend or revoke which certificate, customs' own country, what a bank must hold); a certificate
with origin evidence then passes the origin gate (``nodes.origin_gate``); the node signs.
:meth:`SubmissionPipeline.enqueue_all` then claims the documents the entries define or change
and hands them to the node's orderer (``nodes.ordering``), which checks them against the chain
and acknowledges them once durable. The rules each step implements, and the tests that pin
them, are in docs/threat-model.md.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.chain import CheckedEntry, config_changes
from ledger.consortium import CONFIG_TYPE, Membership
from ledger.entries import Entry, build_entry, parse_entry
from ledger.errors import (
    Conflict,
    DuplicateEntry,
    Forbidden,
    InvalidInput,
    NotARecipient,
    NotFound,
    SealedPayloadInvalid,
    TradeLedgerError,
)
from ledger.keys import SigningKey
from ledger.sealed_payload import (
    PayloadBinding,
    grant_payload_key,
    parse_key_grant,
    payload_digest,
    seal_payload,
)
from nodes import documents_bridge as bridge
from nodes import origin_gate, sealing
from nodes.access import may_read, require_own_country, require_role_for
from nodes.index import DEFINING_TYPES, DocumentIndex, DocumentInfo
from nodes.ordering import Orderer
from nodes.registry import LedgerRegistry
from nodes.store import StoredEntry
from nodes.tokens import Caller

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
    waits until :meth:`SubmissionPipeline.pending_documents` clears and prepares the submission
    again, so that a declaration sent right after its certificate's 201 is judged as the ledger will
    be, not refused as naming a certificate that is not on it."""

    def __init__(self, document_ids: list[str]) -> None:
        super().__init__(", ".join(document_ids))
        self.document_ids = document_ids


class PreparedEntries:
    """What admission knows of each entry it passed (:class:`_Prepared`), by entry hash, from
    the moment it is prepared until its block is indexed or the submission is refused. The
    index reads a document's digest and fields from here instead of parsing and validating it
    again on the block thread, and the orderer takes an entry the node signed with its
    signature marked good."""

    def __init__(self, opener: sealing.PayloadOpener | None = None) -> None:
        self._records: dict[bytes, _Prepared] = {}
        #: opens sealed payloads with the node's keys (None: the node holds none)
        self.opener = opener

    def __contains__(self, entry_hash: object) -> bool:
        return entry_hash in self._records

    def get(self, entry_hash: bytes) -> _Prepared | None:
        return self._records.get(entry_hash)

    def remember(self, entries: list[Entry], prepared: _Prepared) -> list[Entry]:
        if len(self._records) >= 50_000:  # a safety net: enqueue_all forgets refusals
            self._records.clear()
        for e in entries:
            self._records[e.entry_hash] = prepared
        return entries

    def forget(self, entries: Iterable[Entry]) -> None:
        """Drop the records of entries indexed, or that will never reach a block."""
        for e in entries:
            self._records.pop(e.entry_hash, None)

    def document_digest(self, entry: Entry) -> str | None:
        """For the index: the digest admission computed, else the payload's own."""
        prepared = self._records.get(entry.entry_hash)
        if prepared is not None and prepared.digest is not None:
            return prepared.digest
        if sealing.is_sealed(entry.content_type):
            opened = self.opener.open(entry) if self.opener is not None else None
            if opened is None:
                return None  # a node that cannot read the document cannot know its digest
            return bridge.document_digest(opened.plaintext, opened.media)
        return bridge.document_digest(entry.payload or b"", entry.content_type)

    def payload_fields(self, entry: Entry) -> dict[str, Any] | None:
        prepared = self._records.get(entry.entry_hash)
        return None if prepared is None else prepared.fields

    def open_sealed(self, entry: Entry) -> sealing.Opened | None:
        """For the index: a sealed entry's plaintext, if this node holds a recipient key."""
        return self.opener.open(entry) if self.opener is not None else None

    def offer_form(self, entry: Entry) -> Entry | CheckedEntry:
        """An entry this node signed a moment ago (prepare_document) goes to the writer with
        its own signature marked good: verifying it again was a tenth of a submission's time
        on the event loop. Every other check (key active, duplicates, refs, clock) still runs;
        a pre-signed entry, even one under the same key, is verified."""
        prepared = self._records.get(entry.entry_hash)
        if prepared is None or not prepared.signed_here:
            return entry
        return CheckedEntry(entry, frozenset({entry.key_id}), frozenset())


class SubmissionPipeline:
    """Admission, signing, claims and hand-over to the orderer, for one node."""

    def __init__(
        self,
        *,
        consortium_id: str,
        origin_home: Path,
        membership: Callable[[], Membership],
        index: DocumentIndex,
        registry: LedgerRegistry,
        entry_by_hash: Callable[[bytes], StoredEntry | None],
        signing_key_for: Callable[[str], SigningKey],
        orderer: Orderer,
        prepared: PreparedEntries,
    ) -> None:
        self.consortium_id = consortium_id
        #: where the origin gate looks for rule tables loaded into the home
        self.origin_home = origin_home
        #: the membership in force at the head (the writer's), asked afresh per submission
        self._membership = membership
        self.index = index
        self.registry = registry
        self._entry_by_hash = entry_by_hash
        self._signing_key_for = signing_key_for
        self.orderer = orderer
        self.prepared = prepared
        self._claims: dict[str, bytes] = {}  # document id -> the pending entry defining it
        self._claims_lock = threading.Lock()

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
                        self.prepared.forget(entries)
                    on_done(error)

                offers = [self.prepared.offer_form(e) for e in entries]
                if len(offers) == 1:
                    self.orderer.enqueue(offers[0], done)
                else:
                    self.orderer.enqueue_all(offers, done)
        except BaseException:
            self.prepared.forget(entries)
            raise
        return receipt(entries[0], entries[1:])

    # A document is checked against the index when a submission is prepared, but the index
    # learns of the submission only once its block is stored: until then the node holds a claim
    # on every document the entry defines or changes, so that two submissions of the same number,
    # or two amendments or revocations of one certificate, a moment apart cannot both be
    # accepted. A change waits for an earlier change of the same document (DocumentsPending) and
    # is then judged against it: concurrent changes of one certificate serialise.

    @contextmanager
    def _claimed(self, entries: list[Entry]) -> Iterator[list[tuple[str, bytes]]]:
        """Claim the document ids ``entries`` define or change; the claims are dropped if the
        body raises, and otherwise kept until their block is indexed (:meth:`release_indexed`,
        called by the node's chain applier)."""
        made: list[tuple[str, bytes]] = []
        with self._claims_lock:
            for e in entries:
                prepared = self.prepared.get(e.entry_hash)
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

    def release_indexed(self, entries: tuple[Entry, ...]) -> None:
        """Entries now indexed: drop what admission kept of them, and their claims (on their
        subjects and on what they change); the index answers for them from now on."""
        self.prepared.forget(entries)
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
        through :meth:`admit`, the same checks as a pre-signed entry's."""
        if event not in DOCUMENT_EVENTS:
            raise InvalidInput(
                f"event must be one of {', '.join(DOCUMENT_EVENTS)}", location="/query/event"
            )
        membership = self._membership()
        require_role_for(caller, event, membership)
        key = self._signing_key_for(caller.org_id)
        media = bridge.media_type(content_type)
        body, evidence = origin_gate.take_evidence(body, media, event)
        admitted = self.admit(caller, event, body, media)
        subject, refs = admitted.subject, admitted.refs
        sealed = sealing.sealing_on(membership)
        readers = (
            self.readers(caller.org_id, event, subject, admitted.fields, membership)
            if sealed
            else None
        )

        def entry_for(etype: str, plaintext: bytes, ctype: str, to: set[str] | None) -> Entry:
            """Build and sign; with ``to``, the payload sealed to those organisations first
            (the plaintext stays in this process: admission's record and the index's)."""
            payload, nonce = plaintext, None
            if to is not None:
                nonce = secrets.token_hex(16)
                payload = seal_payload(
                    plaintext,
                    membership.recipient_keys(sorted(to)),
                    PayloadBinding(self.consortium_id, caller.org_id, nonce),
                )
                ctype = sealing.sealed_content_type(ctype)
            return build_entry(
                etype,
                caller.org_id,
                key,
                payload,
                ctype,
                consortium_id=self.consortium_id,
                subject=subject,
                refs=refs if etype == event else [co_hash],
                nonce=nonce,
            )

        co_hash = ""
        if evidence is None:
            entry = entry_for(event, body, media, readers)
            return self.prepared.remember([entry], admitted.prepared(signed_here=True))
        require_role_for(caller, origin_gate.EVIDENCE_TYPE, membership)
        gated = origin_gate.gate(admitted.fields, evidence, home=self.origin_home)
        co_bytes = gated.certificate_bytes(admitted.fields)
        co = entry_for(event, co_bytes, media, readers)
        co_hash = co.hash_hex
        evidence_to = (
            sealing.evidence_readers(
                membership, caller.org_id, self._importing_country(admitted.fields)
            )
            if sealed
            else None
        )
        proof = entry_for(
            origin_gate.EVIDENCE_TYPE,
            gated.evidence_bytes(subject, co_hash),
            "application/json",
            evidence_to,
        )
        # the certificate's bytes now carry origin_determinations: the index digests them
        # itself (a sealed certificate: from the plaintext, which this node can open)
        co_fields = None
        if sealed:
            co_fields, _ = bridge.read_document(co_bytes, media)
        self.prepared.remember(
            [co],
            _Prepared(
                bridge.document_digest(co_bytes, media) if sealed else None,
                co_fields,
                changes=admitted.changes,
            ),
        )
        self.prepared.remember([proof], _Prepared())
        return [co, proof]

    @staticmethod
    def _importing_country(fields: dict[str, Any]) -> str | None:
        value = fields.get("importing_country")
        if isinstance(value, str) and value:
            return value
        importer = fields.get("importer")
        country = importer.get("country") if isinstance(importer, dict) else None
        return country if isinstance(country, str) and country else None

    def readers(
        self,
        author: str,
        event: str,
        subject: str,
        fields: dict[str, Any],
        membership: Membership,
    ) -> set[str]:
        """The organisations a document is sealed to: those the access policy will let read
        it once it is indexed (its parties, the customs of its countries, the auditors), as
        :class:`nodes.index.DocumentIndex` will derive its parties and countries."""
        parties = {author}
        countries: set[str | None] = set()

        def country(party: Any) -> str | None:
            value = party.get("country") if isinstance(party, dict) else None
            return value if isinstance(value, str) else None

        def from_certificate(doc_id: Any) -> None:
            info = self.index.document(doc_id) if isinstance(doc_id, str) else None
            if info is not None and info.kind == "certificate_of_origin":
                parties.update(info.parties)
                countries.update((info.exporting_country, info.importing_country))

        doc = fields
        if event == "co.application":
            draft = fields.get("co")
            doc = draft if isinstance(draft, dict) else fields
            parties.add(subject.partition("/")[0])
        for name in ("exporter", "importer"):
            parties |= self.index.members_named(doc.get(name))
            countries.add(country(doc.get(name)))
        countries.add(self._importing_country(doc))
        from_certificate(fields.get("co_reference"))
        from_certificate(fields.get("supersedes"))
        if event in _REFERS_TO_CO:
            from_certificate(subject)
        return sealing.document_readers(membership, parties, countries)

    def prepare_entry(self, caller: Caller, envelope: bytes, payload: bytes | None) -> Entry:
        """A pre-signed entry (``application/vnd.tradeledger.entry+json``): its document goes
        through :meth:`admit`, exactly as a document the node signs, and the entry must say
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
        if entry.type == CONFIG_TYPE:
            return self._prepare_membership_change(entry)
        require_role_for(caller, entry.type, self._membership())
        origin_gate.refuse_presigned(entry.type, payload, entry.content_type)
        if self._entry_by_hash(entry.entry_hash) is not None:
            # a replay: say so before any document rule (e.g. "already issued") could
            raise DuplicateEntry(f"entry {entry.hash_hex} is already on the ledger")
        if entry.type == sealing.SHARE_TYPE:
            self._check_share(caller, entry)
            self.prepared.remember([entry], _Prepared(signed_here=False))
            return entry
        if entry.type not in DOCUMENT_EVENTS:
            raise InvalidInput(
                f"{entry.type} is not a document event; a node admits only documents it can "
                f"check ({', '.join(DOCUMENT_EVENTS)})",
                location="/signed/type",
            )
        membership = self._membership()
        document = payload
        media_of = entry.content_type
        if sealing.is_sealed(entry.content_type):
            # every check below needs the plaintext: a node admits a sealed document only if it
            # can read it (it runs one of its recipients); open_payload checks the commitment
            opened = self.prepared.open_sealed(entry)
            if opened is None:
                raise NotARecipient(
                    "this node holds no key the payload is sealed to, so it cannot check the "
                    "document; submit it through a node of one of its recipients"
                )
            document, media_of = opened.plaintext, opened.media
        elif sealing.sealing_on(membership):
            raise InvalidInput(
                "this consortium seals document payloads: seal the payload to the document's "
                f"readers ({sealing.SEALED_TYPE})",
                location="/signed/payload/content_type",
            )
        admitted = self.admit(caller, entry.type, document, bridge.media_type(media_of))
        if document is not payload:
            readers = self.readers(
                entry.author, entry.type, admitted.subject, admitted.fields, membership
            )
            wanted = {k.key_id for k in membership.recipient_keys(sorted(readers))}
            got = set(sealing.sealed_key_ids(payload))
            if got != wanted:
                missing = sorted(wanted - got)
                extra = sorted(got - wanted)
                raise InvalidInput(
                    "the payload is sealed to the wrong recipients: it must be sealed to the "
                    f"active encryption keys of {', '.join(sorted(readers))}"
                    + (f"; missing {', '.join(missing)}" if missing else "")
                    + (f"; not readers' keys {', '.join(extra)}" if extra else ""),
                    location="/payload",
                )
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
        self.prepared.remember([entry], admitted.prepared(signed_here=False))
        return entry

    # -- sharing a sealed document later (issue 16) ------------------------------------------

    def _shared_source(self, caller: Caller, document_id: str) -> tuple[DocumentInfo, Entry]:
        """The document a caller shares and its sealed defining entry: the caller must be able
        to read the document and its organisation be a party of it."""
        membership = self._membership()
        require_role_for(caller, sealing.SHARE_TYPE, membership)
        info = self.index.document(document_id)
        if info is None or not may_read(caller, info.access(), membership):
            raise NotFound(f"no document {document_id!r} that you may read")
        if caller.org_id not in info.parties:
            raise Forbidden(
                f"{caller.org_id} may read {document_id} but is not a party of it; only its "
                "parties share it"
            )
        stored = (
            self._entry_by_hash(bytes.fromhex(info.defining_hash)) if info.defining_hash else None
        )
        if stored is None or stored.payload is None:
            raise NotFound(f"document {document_id!r} has no content on this node")
        source = parse_entry(stored.envelope, stored.payload)
        if not sealing.is_sealed(source.content_type):
            raise InvalidInput(
                f"{document_id} is not sealed: its parties and auditors read it as it is; "
                "sharing grants the key of a sealed document",
                location="/path/document_id",
            )
        return info, source

    def _open_for(self, caller: Caller, source: Entry) -> bytes:
        """The payload secret of ``source``, opened with a key of the caller's organisation
        (sealed to it, or granted to it later)."""
        opener = self.prepared.opener
        org = self._membership().organisations.get(caller.org_id)
        own = set(org.encryption_keys) if org is not None else set()
        opened = opener.open_as(source, own) if opener is not None else None
        if opened is None and opener is not None and source.subject:
            for ev in self.index.events(source.subject):
                if ev.type != sealing.SHARE_TYPE:
                    continue
                stored = self._entry_by_hash(ev.entry_hash)
                if stored is None:
                    continue
                share = parse_entry(stored.envelope, stored.payload)
                if share.refs != (source.hash_hex,):
                    continue
                try:
                    opened = opener.open_granted(source, share, own)
                except TradeLedgerError:
                    continue
                if opened is not None:
                    break
        if opened is None:
            raise NotARecipient(
                f"this node holds no decryption key of {caller.org_id} that opens "
                f"{source.subject}; share it through a node that runs {caller.org_id}"
            )
        return opened.opened.payload_secret

    def prepare_share(self, caller: Caller, document_id: str, org_id: Any) -> list[Entry]:
        """``POST /v1/documents/{id}/share``: a ``payload.shared`` entry, signed as the
        caller's organisation, granting the key of the document's sealed content (its defining
        entry: what ``GET /v1/documents/{id}`` serves) to ``org_id``'s active encryption
        keys. The target becomes a reader of the document once the entry is indexed."""
        if not isinstance(org_id, str) or not org_id:
            raise InvalidInput("org_id must name an organisation", location="/org_id")
        membership = self._membership()
        info, source = self._shared_source(caller, document_id)
        target = membership.organisations.get(org_id)
        if target is None:
            raise InvalidInput(f"{org_id!r} is not a member organisation", location="/org_id")
        if org_id in info.parties or org_id in sealing.recipient_orgs(
            source.payload or b"", membership
        ):
            raise Conflict(f"{org_id} already reads {document_id}")
        keys = target.active_encryption_keys()
        if not keys:
            raise InvalidInput(
                f"{org_id} has no active encryption key to share with", location="/org_id"
            )
        secret = self._open_for(caller, source)
        assert source.payload is not None
        grant = grant_payload_key(source.payload, secret, keys, sealing.binding(source))
        entry = build_entry(
            sealing.SHARE_TYPE,
            caller.org_id,
            self._signing_key_for(caller.org_id),
            grant,
            sealing.GRANT_TYPE,
            consortium_id=self.consortium_id,
            subject=document_id,
            refs=[source.hash_hex],
        )
        return self.prepared.remember([entry], _Prepared())

    def _check_share(self, caller: Caller, entry: Entry) -> None:
        """A pre-signed ``payload.shared`` entry: the same rules as one the node makes, and its
        grant must open the entry it names. The node checks that with the target's key, so it
        admits only grants to organisations it runs (as it admits a sealed document only if it
        can read it)."""
        if entry.subject is None:
            raise InvalidInput("a share names the document it shares", location="/signed/subject")
        _, source = self._shared_source(caller, entry.subject)
        if entry.refs != (source.hash_hex,):
            raise InvalidInput(
                f"a share's refs must be exactly the document's sealed entry ({source.hash_hex})",
                location="/signed/refs",
            )
        if entry.content_type != sealing.GRANT_TYPE:
            raise InvalidInput(
                f"a share's payload is a key grant ({sealing.GRANT_TYPE})",
                location="/signed/payload/content_type",
            )
        assert entry.payload is not None and source.payload is not None
        grant = parse_key_grant(entry.payload)
        if grant.payload_digest != payload_digest(source.payload):
            raise SealedPayloadInvalid(
                f"the key grant is for another sealed payload than {source.hash_hex}'s",
                location="/payload",
            )
        membership = self._membership()
        opener = self.prepared.opener
        keys = opener.held_key_ids() if opener is not None else set()
        for slot in grant.slots:
            owner = membership.encryption_key_owner(slot.key_id)
            org = membership.organisations.get(owner) if owner else None
            if org is None or org.encryption_keys[slot.key_id].status != "active":
                raise InvalidInput(
                    f"key {slot.key_id} of the grant is no active encryption key of a member",
                    location="/payload",
                )
            if slot.key_id not in keys:
                raise NotARecipient(
                    f"this node holds no key of {owner}, so it cannot check that the grant "
                    f"opens for it; submit the share through a node that runs {owner}"
                )
        for slot in grant.slots:  # raises SealedPayloadInvalid for a key that does not open
            assert opener is not None
            opener.open_granted(source, entry, {slot.key_id})

    def _prepare_membership_change(self, entry: Entry) -> Entry:
        """A ``config.update`` the consortium's members signed (how an organisation joins, a
        key is rotated, a quorum changes), handed in by a user of its author (the rule above,
        as for every pre-signed entry); the chain's rules then require the configuration quorum
        of valid signatures and changes that apply (``LedgerWriter.check``, the same rule replay
        uses) before anything is ordered."""
        if self._entry_by_hash(entry.entry_hash) is not None:
            raise DuplicateEntry(f"entry {entry.hash_hex} is already on the ledger")
        if entry.subject is not None or entry.refs:
            raise InvalidInput(
                "a membership change has no subject and no refs", location="/signed/subject"
            )
        config_changes(entry)  # its payload reads as {"changes": [...]}
        self.prepared.remember([entry], _Prepared(signed_here=False))
        return entry

    def admit(self, caller: Caller, event: str, body: bytes, media: str) -> _Admitted:
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

    def _derive(
        self, caller: Caller, event: str, fields: dict[str, Any]
    ) -> tuple[str, list[str], list[str]]:
        """The subject (document id), the refs and the documents it changes (supersedes or
        revokes) of a lifecycle event whose document is valid, with the rules the chain cannot
        check: who may amend or revoke which certificate, customs' own country, what a bank
        must hold to record a presentation."""
        org = caller.org_id
        membership = self._membership()

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
        if may_read(caller, info.access(), self._membership()):
            return True
        return info.proves_possession(fields.get("co_digest"))


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
    """A document that passed admission (:meth:`SubmissionPipeline.admit`) and what it does."""

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
