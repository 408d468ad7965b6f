"""Every payload ``tradeledger demo`` generates is a valid document, including the rules that
ask the ledger (checked against a registry that follows the generated history)."""

from __future__ import annotations

import random
from collections import Counter

import documents
from documents import CertificateOfOrigin, CustomsDeclaration, DeclarationOfOrigin
from ledger.keys import SigningKey
from nodes.demo import DEMO_ORGS, TradeScenario
from tests.documents.helpers import MemoryRegistry


def test_demo_payloads_validate_against_the_models_and_rules() -> None:
    keys = {org.id: SigningKey.generate() for org in DEMO_ORGS}
    registry = MemoryRegistry()
    seen: Counter[str] = Counter()
    for entry in TradeScenario(random.Random(7), keys).entries(1500):
        assert entry.payload is not None
        doc = documents.parse_document(entry.payload, entry.content_type)
        documents.validate(doc, registry=registry)
        assert doc.document_id == entry.subject or entry.subject == (
            f"{entry.author}/{getattr(doc, 'number', '')}"
        )
        seen[entry.type] += 1
        if isinstance(doc, CertificateOfOrigin):
            registry.add(doc)
            if doc.supersedes:
                old = registry.certificates[doc.supersedes]
                registry.certificates[doc.supersedes] = type(old)(
                    **{**old.__dict__, "status": "superseded"}
                )
        elif isinstance(doc, documents.CertificateRevocation):
            old = registry.certificates[doc.co_reference]
            registry.certificates[doc.co_reference] = type(old)(
                **{**old.__dict__, "status": "revoked"}
            )
        elif isinstance(doc, CustomsDeclaration | DeclarationOfOrigin):
            registry.ids.add(entry.subject or "")
    # the history exercises every kind of event the demo knows
    assert set(seen) >= {
        "co.issued",
        "co.amended",
        "co.revoked",
        "co.application",
        "customs.export_declaration",
        "customs.import_declaration",
        "customs.verification_requested",
        "customs.verification_result",
        "bank.presentation",
    }
