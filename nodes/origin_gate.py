"""The origin gate: a certificate of origin submitted with its origin evidence is re-determined
by the node before it reaches the ledger.

A ``co.issued`` or ``co.amended`` JSON submission may carry a top-level ``origin_evidence`` list,
``[{"item_number": 1, "bom": {…}}]`` (the BOM of docs/origin-formats.md). For each evidenced
item the node determines origin under the certificate's agreement (``documents.origin.claims``)
and

* refuses the whole submission (:class:`~ledger.errors.OriginNotSupported`, 422, nothing
  appended) when an item's claimed ``origin_criterion`` is not supported, naming per item the
  reasons, the failing materials, the criterion the evidence does support, or the rule
  coverage when there is no rule data;
* otherwise records the certificate without ``origin_evidence`` but with
  ``origin_determinations`` (``item_number``, ``digest``, ``criterion``, ``table_version``) —
  every reader of the certificate sees that the good was checked and against which rule table,
  not the bill of materials — and, in the same journal transaction, an ``origin.evidence``
  entry (subject: the certificate's id; refs: the certificate's entry) holding the BOMs and
  the full determinations, readable only by the issuer, the customs of the importing country
  and auditors (:func:`may_read_evidence`).

``digest`` is :func:`documents.origin.evaluate.determination_digest`: SHA-256 over the tag
``tradeledger/v1/origin-determination`` and the RFC 8785 bytes of the determination JSON.
XML submissions carry no evidence (send the certificate as JSON to have it gated).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from documents.origin.bom import Bom, parse_bom
from documents.origin.claims import check_claim
from documents.origin.evaluate import determination_digest
from ledger.consortium import Membership
from ledger.errors import (
    InvalidInput,
    NoRuleData,
    OriginInputError,
    OriginNotSupported,
    TradeLedgerError,
)
from nodes import documents_bridge
from nodes.access import AUDITOR, CUSTOMS
from nodes.tokens import Caller

EVIDENCE_TYPE = "origin.evidence"
EVIDENCE_FIELD = "origin_evidence"
DETERMINATIONS_FIELD = "origin_determinations"
GATED_EVENTS = frozenset({"co.issued", "co.amended"})
MAX_EVIDENCED_ITEMS = 999


def take_evidence(body: bytes, media: str, event: str) -> tuple[bytes, list[Any] | None]:
    """Split a submission into the document bytes and its ``origin_evidence`` (None if it has
    none). Without evidence the body is returned unchanged, byte for byte."""
    if media != "application/json" or (EVIDENCE_FIELD.encode() not in body and b"\\u" not in body):
        return body, None  # cannot hold the key (unless written with \u escapes): no parse
    try:
        # a key twice would be quietly resolved by re-serialising below, where the document
        # checks refuse it: refuse it here too
        doc = json.loads(body, object_pairs_hook=_refuse_duplicate_keys)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        if isinstance(exc, _DuplicateKey):
            raise InvalidInput(f"the JSON is not accepted: {exc}", location="/") from None
        return body, None  # malformed: the document checks report it, with line and column
    if not isinstance(doc, dict) or EVIDENCE_FIELD not in doc:
        return body, None
    if event not in GATED_EVENTS:
        raise InvalidInput(
            f"origin_evidence goes with a certificate of origin (co.issued or co.amended), "
            f"not {event}",
            location=f"/{EVIDENCE_FIELD}",
        )
    evidence = doc.pop(EVIDENCE_FIELD)
    if not isinstance(evidence, list) or not evidence:
        raise OriginInputError(
            'origin_evidence is a non-empty list of {"item_number": N, "bom": {…}}',
            location=f"/{EVIDENCE_FIELD}",
        )
    if len(evidence) > MAX_EVIDENCED_ITEMS:
        raise OriginInputError(
            f"origin_evidence has more than {MAX_EVIDENCED_ITEMS} items",
            location=f"/{EVIDENCE_FIELD}",
        )
    return _dump(doc), evidence


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class EvidencedItem:
    item_number: int
    claimed: str
    product_hs: str
    bom: dict[str, Any]  # as submitted (what the evidence entry records)
    determination: dict[str, Any]
    digest: str

    def summary(self) -> dict[str, Any]:
        """What the certificate itself records about this item."""
        return {
            "item_number": self.item_number,
            "digest": self.digest,
            "criterion": self.determination["criterion"],
            "table_version": self.determination["rules_version"],
        }

    def evidence(self) -> dict[str, Any]:
        return {
            "item_number": self.item_number,
            "claimed_criterion": self.claimed,
            "product_hs": self.product_hs,
            "bom": self.bom,
            "determination": self.determination,
            "digest": self.digest,
        }


@dataclass(frozen=True)
class GatedCertificate:
    """A certificate whose evidence supports every evidenced item's claim."""

    agreement: str
    items: list[EvidencedItem]

    def certificate_bytes(self, certificate: dict[str, Any]) -> bytes:
        """The certificate as recorded: the submitted one (its fields as admission read them,
        not parsed again) plus ``origin_determinations``."""
        doc = {**certificate, DETERMINATIONS_FIELD: [i.summary() for i in self.items]}
        return _dump(doc)

    def evidence_bytes(self, document_id: str, certificate_entry: str) -> bytes:
        return _dump(
            {
                "document_type": "origin_evidence",
                "certificate": document_id,
                "certificate_entry": certificate_entry,
                "agreement": self.agreement,
                "items": [i.evidence() for i in self.items],
            }
        )


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _country(doc: dict[str, Any], field: str, party: str) -> str | None:
    block = doc.get(party)
    return _text(doc.get(field)) or (
        _text(block.get("country")) if isinstance(block, dict) else None
    )


def _hs6(code: Any) -> str | None:
    digits = "".join(ch for ch in str(code) if ch.isdigit()) if code is not None else ""
    return digits[:6] if len(digits) >= 6 else None


def gate(doc: dict[str, Any], evidence: list[Any], *, home: Path | None) -> GatedCertificate:
    """Re-determine each evidenced item of the certificate ``doc``; raise
    :class:`OriginNotSupported` listing every item whose claim the evidence does not support,
    :class:`OriginInputError` for evidence that cannot be used at all."""
    agreement = _text(doc.get("agreement"))
    if agreement is None:
        raise InvalidInput(
            "a certificate with origin evidence needs its agreement", location="/agreement"
        )
    exporting = _country(doc, "exporting_country", "exporter")
    importing = _country(doc, "importing_country", "importer")
    items = doc.get("items")
    by_number: dict[int, tuple[int, dict[str, Any]]] = {}  # item number -> (index, item)
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("item_number"), int):
                by_number[item["item_number"]] = (index, item)
    checked: list[EvidencedItem] = []
    refused: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, ev in enumerate(evidence):
        where = f"/{EVIDENCE_FIELD}/{i}"
        if not isinstance(ev, dict) or set(ev) != {"item_number", "bom"}:
            raise OriginInputError(
                'each origin_evidence element is {"item_number", "bom"}', location=where
            )
        number = ev["item_number"]
        if not isinstance(number, int) or isinstance(number, bool) or number not in by_number:
            raise OriginInputError(
                f"item_number {number!r} is not an item of the certificate",
                location=f"{where}/item_number",
            )
        if number in seen:
            raise OriginInputError(
                f"item {number} has evidence twice", location=f"{where}/item_number"
            )
        seen.add(number)
        index, item = by_number[number]
        claimed = _text(item.get("origin_criterion"))
        product = _hs6(item.get("hs_code"))
        if claimed is None or product is None:
            raise InvalidInput(
                f"item {number} needs hs_code and origin_criterion to be gated",
                location=f"/items/{index}",  # a JSON pointer: the position, not the number
            )
        bom = _bom(ev["bom"], item, exporting, importing, f"{where}/bom")
        try:
            result = check_claim(agreement, product, bom, claimed, home=home)
        except NoRuleData as exc:
            refused.append(
                {
                    "item_number": number,
                    "claimed": claimed,
                    "outcome": "no-rule-data",
                    "reasons": [exc.detail],
                    "coverage": exc.extra.get("coverage"),
                    "rules_version": exc.extra.get("rules_version"),
                }
            )
            continue
        except OriginInputError as exc:
            # the rule engine's complaint about this item's codes or claim, located in it
            raise OriginInputError(
                f"item {number}: {exc.detail}", location=f"{where}{exc.location or ''}"
            ) from exc
        except (ValueError, TypeError, KeyError) as exc:  # as POST /v1/origin/determinations
            raise OriginInputError(
                f"item {number}: the evidence is not usable: {exc}", location=where
            ) from exc
        det = result.determination
        reasons = list(result.reasons)
        outcome = result.outcome
        if outcome != "supported":
            refused.append(
                {
                    "item_number": number,
                    "claimed": claimed,
                    "outcome": outcome,
                    "reasons": reasons,
                    "supported": result.supported_criterion,
                    "failing_materials": result.failing_materials,
                    "rules_version": det.rules_version,
                }
            )
            continue
        body = det.to_json()
        checked.append(
            EvidencedItem(number, claimed, product, ev["bom"], body, determination_digest(body))
        )
    if refused:
        detail = "; ".join(
            f"item {r['item_number']} ({r['claimed']}): {r['reasons'][0]}" for r in refused
        )
        raise OriginNotSupported(
            f"the origin evidence does not support the certificate: {detail}", items=refused
        )
    return GatedCertificate(agreement, checked)


def _bom(
    raw: Any, item: dict[str, Any], exporting: str | None, importing: str | None, where: str
) -> Bom:
    if not isinstance(raw, dict):
        raise OriginInputError("the bill of materials is a JSON object", location=where)
    edition = _text(item.get("hs_edition"))
    given = raw.get("hs_edition")
    data = dict(raw)
    if given is None and edition is not None:
        data["hs_edition"] = edition  # the item's HS code is in the item's edition
    elif edition is not None and given != edition:
        raise OriginInputError(
            f"the bill of materials is in {given} but the item's HS code is in {edition}",
            location=f"{where}/hs_edition",
        )
    try:
        bom = parse_bom(data)
    except OriginInputError as exc:
        raise OriginInputError(
            exc.detail, location=f"{where}{exc.location or ''}", **exc.extra
        ) from exc
    for name, wanted in (("exporting_country", exporting), ("importing_country", importing)):
        if wanted is not None and getattr(bom, name) != wanted:
            raise OriginInputError(
                f"the bill of materials' {name} is {getattr(bom, name)}, the certificate's "
                f"is {wanted}",
                location=f"{where}/{name}",
            )
    return bom


# -- reading the evidence -----------------------------------------------------------------------


def may_read_evidence(
    caller: Caller, issuer: str | None, importing_country: str | None, membership: Membership
) -> bool:
    """The evidence of a certificate: its issuer, the customs of its importing country and
    auditors — not the exporting country's customs, the exporter, importer or banks."""
    if caller.role == AUDITOR:
        return True
    if issuer is not None and caller.org_id == issuer:
        return True
    if caller.role == CUSTOMS and importing_country:
        org = membership.organisations.get(caller.org_id)
        return org is not None and org.country == importing_country
    return False


def check_recorded(certificate: dict[str, Any], evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """Per evidenced item: the digest the certificate records, the digest recomputed from the
    recorded determination, and whether they match."""
    recorded = {
        d.get("item_number"): d
        for d in certificate.get(DETERMINATIONS_FIELD) or []
        if isinstance(d, dict)
    }
    out = []
    for item in evidence.get("items") or []:
        number = item.get("item_number")
        try:
            recomputed = determination_digest(item.get("determination") or {})
        except TradeLedgerError:
            recomputed = None
        on_certificate = (recorded.get(number) or {}).get("digest")
        out.append(
            {
                "item_number": number,
                "certificate_digest": on_certificate,
                "recomputed_digest": recomputed,
                "matches": recomputed is not None and recomputed == on_certificate,
            }
        )
    return out


_NODE_ONLY = {"origindeterminations", "origindetermination", "originevidence"}


def refuse_node_fields(fields: dict[str, Any], where: str = "") -> None:
    """Refuse a document that carries what only the gate writes (``origin_determinations``,
    in JSON or as an XML element) or evidence outside a JSON submission."""
    for key in fields:
        if isinstance(key, str) and key.lower().replace("_", "").replace("-", "") in _NODE_ONLY:
            raise InvalidInput(
                f"{key} is not accepted here: origin_determinations are written by the node "
                "once it has re-determined the origin_evidence of a certificate sent as JSON "
                "for it to sign (?event=co.issued or co.amended)",
                location=f"{where}/{key}",
            )


def refuse_presigned(entry_type: str, payload: bytes, content_type: str) -> None:
    """A pre-signed entry cannot claim a determination the node did not make: refuse a signed
    ``origin.evidence`` entry, and a signed document carrying ``origin_determinations``."""
    if entry_type == EVIDENCE_TYPE:
        raise InvalidInput(
            "origin.evidence entries are made by the node's origin gate; submit the "
            "certificate as JSON with origin_evidence (?event=co.issued)",
            location="/signed/type",
        )
    try:
        fields = documents_bridge.parse_document(payload, content_type)
    except TradeLedgerError:
        return  # not a document: nothing to refuse here
    refuse_node_fields(fields, "/payload")


def may_read_evidence_entry(
    caller: Caller, author: str, certificate: Any, membership: Membership
) -> bool:
    """Whether the payload of an ``origin.evidence`` entry is shown (blocks, entries):
    its author and :func:`may_read_evidence` of the certificate it belongs to."""
    if caller.role == AUDITOR or caller.org_id == author:
        return True
    if certificate is None:
        return False
    return may_read_evidence(caller, certificate.issuer, certificate.importing_country, membership)
