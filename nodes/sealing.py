"""Confidential payloads in the node (issue 16): who a payload is sealed to, and opening it.

``ledger.sealed_payload`` is the format (docs/ledger-format.md §11); this module is the node's
use of it:

* **When.** A consortium seals once any organisation has an active encryption key
  (:func:`sealing_on`); from then on every reader of a document must have one, or the
  submission is refused (a readable copy in every node's database is what sealing prevents).
  A consortium without encryption keys works as before, in the clear.
* **To whom.** A document is sealed to the organisations the access policy lets read it
  (:func:`document_readers`: its parties, the customs of its exporting and importing
  countries, the auditors); origin evidence (the bills of materials) to the issuing authority
  and the importing country's customs only (:func:`evidence_readers`).
* **Content type.** A sealed payload's entry says
  ``application/vnd.tradeledger.sealed-payload;content=<media type of the plaintext>``: the
  signed envelope tells every node that the payload is sealed and what it holds once opened.
* **Opening.** :class:`PayloadOpener` opens a sealed entry with the decryption keys the node's
  home holds (:meth:`nodes.home.NodeHome.decryption_keys`), for the organisations it runs;
  anything it cannot open it treats as an envelope only.
* **Sharing later.** A party of a document appends a :data:`SHARE_TYPE` entry: subject the
  document id, refs the sealed entry it shares, payload a key grant
  (:func:`ledger.sealed_payload.grant_payload_key`) to the target organisation's active
  encryption keys. :meth:`PayloadOpener.open_granted` opens the shared entry through it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ledger import sealed_payload as sp
from ledger.consortium import Membership
from ledger.entries import Entry
from ledger.errors import NotARecipient, SealedPayloadInvalid
from ledger.keys import DecryptionKey

SEALED_TYPE = sp.CONTENT_TYPE
#: The entry type of a key grant: a party shares a sealed document with another organisation.
SHARE_TYPE = "payload.shared"
GRANT_TYPE = sp.GRANT_CONTENT_TYPE
_PARAM = ";content="


def sealed_content_type(media: str) -> str:
    """The entry content type of ``media`` (``application/json``…) sealed."""
    return f"{SEALED_TYPE}{_PARAM}{media}"


def is_sealed(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip() == SEALED_TYPE


def inner_media(content_type: str) -> str:
    """The media type of a sealed payload's plaintext (``application/json`` if unsaid)."""
    _, sep, rest = content_type.partition(_PARAM)
    return rest.split(";", 1)[0].strip() if sep and rest else "application/json"


def binding(entry: Entry) -> sp.PayloadBinding:
    return sp.PayloadBinding(entry.consortium_id, entry.author, entry.nonce)


def sealing_on(membership: Membership) -> bool:
    """Whether payloads are sealed: once any organisation has an active encryption key."""
    return any(o.active_encryption_keys() for o in membership.organisations.values())


def document_readers(
    membership: Membership, parties: Iterable[str], countries: Iterable[str | None]
) -> set[str]:
    """Who may read a document (as :func:`nodes.access.may_read` answers): its parties, the
    customs of its countries and the auditors."""
    wanted = {c for c in countries if c}
    orgs = membership.organisations
    readers = {p for p in parties if p in orgs}
    for org in orgs.values():
        if "auditor" in org.roles or ("customs" in org.roles and org.country in wanted):
            readers.add(org.id)
    return readers


def evidence_readers(
    membership: Membership, issuer: str, importing_country: str | None
) -> set[str]:
    """Origin evidence (issue 16 item 4): the issuing authority and the importing customs."""
    readers = {issuer}
    for org in membership.organisations.values():
        if "customs" in org.roles and importing_country and org.country == importing_country:
            readers.add(org.id)
    return readers


def recipient_orgs(payload: bytes, membership: Membership) -> set[str]:
    """The organisations a sealed payload is sealed to, read from its key ids (no key)."""
    parsed = sp.parse_sealed_payload(payload)
    return {o for k in parsed.recipients if (o := membership.encryption_key_owner(k))}


def grant_orgs(grant: bytes, membership: Membership) -> set[str]:
    """The organisations a key grant is made to, read from its key ids (no key)."""
    parsed = sp.parse_key_grant(grant)
    return {o for s in parsed.slots if (o := membership.encryption_key_owner(s.key_id))}


def sealed_key_ids(payload: bytes) -> tuple[str, ...]:
    return sp.parse_sealed_payload(payload).recipients


@dataclass(frozen=True)
class Opened:
    plaintext: bytes
    media: str
    opened: sp.OpenedPayload


class PayloadOpener:
    """Opens sealed entries with the keys a node holds; remembers the last few it opened."""

    CACHE = 256

    def __init__(self, keys: Callable[[], Mapping[str, DecryptionKey]]) -> None:
        self._keys = keys
        self._cache: OrderedDict[bytes, Opened | None] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, entry: Entry) -> Opened | None:
        """The plaintext of a sealed entry if this node holds a recipient key; None if the entry
        is not sealed or the node holds none of its keys. A sealed payload that does not open
        with a key it is sealed to raises :class:`SealedPayloadInvalid`."""
        if entry.payload is None or not is_sealed(entry.content_type):
            return None
        with self._lock:
            if entry.entry_hash in self._cache:
                self._cache.move_to_end(entry.entry_hash)
                return self._cache[entry.entry_hash]
        result = self._open(entry)
        with self._lock:
            self._cache[entry.entry_hash] = result
            while len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        return result

    def _open(self, entry: Entry) -> Opened | None:
        assert entry.payload is not None
        parsed = sp.parse_sealed_payload(entry.payload)
        keys = self._keys()
        for key_id in parsed.recipients:
            key = keys.get(key_id)
            if key is None:
                continue
            opened = sp.open_payload(entry.payload, key, binding(entry))
            return Opened(opened.plaintext, inner_media(entry.content_type), opened)
        return None

    def held_key_ids(self) -> set[str]:
        """The key ids of the decryption keys this node holds."""
        return set(self._keys())

    def open_as(self, entry: Entry, key_ids: Iterable[str]) -> Opened | None:
        """A sealed entry opened with one of ``key_ids`` (an organisation's keys) that this
        node holds; None if it holds none of them or the payload is not sealed to them."""
        if entry.payload is None or not is_sealed(entry.content_type):
            return None
        keys = self._keys()
        recipients = set(sp.parse_sealed_payload(entry.payload).recipients)
        for key_id in sorted(set(key_ids) & recipients):
            key = keys.get(key_id)
            if key is not None:
                opened = sp.open_payload(entry.payload, key, binding(entry))
                return Opened(opened.plaintext, inner_media(entry.content_type), opened)
        return None

    def open_granted(
        self, entry: Entry, grant: Entry, key_ids: Iterable[str] | None = None
    ) -> Opened | None:
        """A sealed entry opened through a key grant (``grant``'s payload) with a key this node
        holds (of ``key_ids`` only, if given); None if the grant is for none of them. A grant
        that is for one of them but does not open (altered, made for another entry, or for
        another sealed payload) raises :class:`SealedPayloadInvalid`."""
        if entry.payload is None or grant.payload is None or not is_sealed(entry.content_type):
            return None
        parsed = sp.parse_key_grant(grant.payload)
        keys = self._keys()
        wanted = None if key_ids is None else set(key_ids)
        for slot in parsed.slots:
            key = keys.get(slot.key_id)
            if key is None or (wanted is not None and slot.key_id not in wanted):
                continue
            opened = sp.open_granted_payload(entry.payload, grant.payload, key, binding(entry))
            return Opened(opened.plaintext, inner_media(entry.content_type), opened)
        return None

    def can_open(self, entry: Entry) -> bool:
        try:
            return self.open(entry) is not None
        except (SealedPayloadInvalid, NotARecipient):
            return False
