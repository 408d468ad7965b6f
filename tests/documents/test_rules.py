"""Business rules: RCEP certificate rules, declarations, lifecycle events, and the rules that
ask the ledger (through an in-memory DocumentRegistry)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

import documents
from documents import CertificateOfOrigin, CustomsDeclaration, DocumentRegistry
from documents.profiles import PROFILES
from documents.rules import certificate_valid_until, valid_until
from ledger.errors import DocumentInvalid
from tests.documents.helpers import (
    RCEP_CO,
    MemoryRegistry,
    codes,
    example_bytes,
    example_json,
    parse_json,
)


def rejected(doc: dict[str, Any], registry: Any = None) -> list[str]:
    with pytest.raises(DocumentInvalid) as caught:
        documents.validate(parse_json(doc), registry=registry)
    return codes(caught)


def certificate() -> CertificateOfOrigin:
    co = documents.parse_document(example_bytes(RCEP_CO), "application/json")
    assert isinstance(co, CertificateOfOrigin)
    return co


def import_declaration(**changes: Any) -> dict[str, Any]:
    doc = example_json("vn-import-declaration")
    doc.update(changes)
    return doc


# -- certificate -------------------------------------------------------------------------------


def test_validity_is_one_year_from_issue() -> None:
    assert PROFILES["RCEP"].validity_source == "RCEP Art. 3.16.6"
    assert certificate_valid_until(certificate()) == date(2027, 10, 9)
    assert valid_until(date(2028, 2, 29)) == date(2029, 2, 28)


def test_retroactive_only_when_issued_after_shipment() -> None:
    doc = example_json(RCEP_CO)
    doc["issued_retroactively"] = True  # issued 9 Oct, shipped 14 Oct: not retroactive
    assert rejected(doc) == ["retroactive-not-after-shipment"]
    doc["issue_date"] = "2026-10-20"
    doc["certification"]["date"] = "2026-10-20"
    documents.validate(parse_json(doc))


def test_back_to_back_carries_the_original_reference() -> None:
    doc = example_json("rcep-sg-back-to-back-to-vn.co")
    documents.validate(parse_json(doc))
    original = doc.pop("original_certificate")
    assert rejected(doc) == ["back-to-back-without-original"]
    doc["back_to_back"] = False
    doc["original_certificate"] = original
    assert rejected(doc) == ["original-without-back-to-back"]
    doc["back_to_back"] = True
    doc["original_certificate"]["issue_date"] = "2026-12-01"
    assert rejected(doc) == ["original-after-back-to-back"]


def test_fob_rule_follows_the_agreement_profile() -> None:
    # JTEPA's certificate has no value-based criterion box, AJCEP's RVC needs FOB like RCEP's
    jtepa = example_json("jtepa-th-auto-parts-to-jp.co")
    documents.validate(parse_json(jtepa))
    jtepa["items"][0]["origin_criterion"] = "RVC"
    assert rejected(jtepa) == ["unknown-criterion"]
    ajcep = example_json("ajcep-jp-switchboards-to-th.co")
    del ajcep["items"][1]["fob_value"], ajcep["items"][1]["currency"]
    assert rejected(ajcep) == ["fob-missing"]


def test_third_party_operator_needs_the_flag() -> None:
    doc = example_json(RCEP_CO)
    doc["invoicing_operator"] = {"name": "X Pte Ltd", "address": "Singapore", "country": "SG"}
    assert rejected(doc) == ["operator-without-third-party-invoicing"]
    doc["third_party_invoicing"] = True
    documents.validate(parse_json(doc))


def test_origin_determinations_must_match_the_items() -> None:
    doc = example_json(RCEP_CO)
    det = {"item_number": 1, "digest": "ab" * 32, "criterion": "RVC", "table_version": "2026.1"}
    doc["origin_determinations"] = [det]
    documents.validate(parse_json(doc))
    doc["origin_determinations"] = [{**det, "criterion": "CTC"}, {**det, "item_number": 77}]
    assert rejected(doc) == ["determination-mismatch", "determination-unknown-item"]


def test_amendment_cannot_supersede_itself() -> None:
    doc = example_json(RCEP_CO)
    doc["supersedes"] = "jp-jcci/JCCI-2026-0004512"
    assert rejected(doc) == ["supersedes-itself"]


def test_application_checks_the_certificate_inside() -> None:
    doc = example_json("co-application")
    doc["co"]["items"][0]["hs_code"] = "845898"
    with pytest.raises(DocumentInvalid) as caught:
        documents.validate(parse_json(doc))
    assert caught.value.errors[0]["location"] == "/co/items/0/hs_code"


def test_declaration_of_origin_rules() -> None:
    doc = example_json("rcep-vn-garments-to-jp.declaration")
    del doc["approved_exporter_number"]
    assert rejected(doc) == ["approved-exporter-number-missing"]
    doc["declarant_kind"] = "exporter"
    doc["agreement"] = "AJCEP"
    doc["items"][1]["origin_criterion"] = "RVC"
    assert rejected(doc) == ["declaration-not-allowed"]


def test_rejected_verification_needs_a_reason() -> None:
    doc = example_json("verification-result")
    doc["result"] = "rejected"
    del doc["reason"]
    assert rejected(doc) == ["reason-missing"]


def test_customs_declaration_rules_without_ledger() -> None:
    doc = import_declaration(co_reference=None)
    assert rejected(doc) == ["preference-without-certificate"]
    doc = example_json("jp-export-declaration")
    doc["preference_claimed"] = True
    doc["items"][0]["tariff_code"] = "99999900"
    doc["items"][1]["customs_value"] = "0"
    assert rejected(doc) == ["unknown-hs-code", "value-not-positive", "preference-on-export"]


# -- the ledger: an in-memory registry -----------------------------------------------------------


@pytest.fixture
def registry() -> MemoryRegistry:
    r = MemoryRegistry()
    r.add(certificate())
    return r


def test_the_fake_is_a_document_registry(registry: MemoryRegistry) -> None:
    assert isinstance(registry, DocumentRegistry)
    assert not isinstance(object(), DocumentRegistry)


def test_certificate_number_is_unique_per_issuer(registry: MemoryRegistry) -> None:
    co = example_json(RCEP_CO)
    assert rejected(co, registry) == ["number-taken"]
    co["issuer"] = "jp-osaka-cci"  # the same number from another issuer is another document
    documents.validate(parse_json(co), registry=registry)


def test_amendment_must_supersede_a_current_certificate(registry: MemoryRegistry) -> None:
    co = example_json(RCEP_CO)
    co["number"] = "JCCI-2026-0004512-A1"
    co["supersedes"] = "jp-jcci/JCCI-2026-0004512"
    documents.validate(parse_json(co), registry=registry)
    co["supersedes"] = "jp-jcci/NOT-ISSUED"
    assert rejected(co, registry) == ["certificate-not-on-ledger"]
    registry.add(certificate(), status="revoked")
    co["supersedes"] = "jp-jcci/JCCI-2026-0004512"
    assert rejected(co, registry) == ["certificate-revoked"]


def test_import_claiming_a_current_certificate_is_valid(registry: MemoryRegistry) -> None:
    documents.validate(parse_json(import_declaration()), registry=registry)


def test_import_claiming_a_certificate_not_on_the_ledger() -> None:
    assert rejected(import_declaration(), MemoryRegistry()) == ["certificate-not-on-ledger"]


def test_import_claiming_a_revoked_certificate(registry: MemoryRegistry) -> None:
    registry.add(certificate(), status="revoked")
    with pytest.raises(DocumentInvalid) as caught:
        documents.validate(parse_json(import_declaration()), registry=registry)
    assert codes(caught) == ["certificate-revoked"]
    assert caught.value.errors[0]["location"] == "/co_reference"
    assert "revoked" in caught.value.detail


def test_import_claiming_a_superseded_certificate(registry: MemoryRegistry) -> None:
    registry.add(certificate(), status="superseded")
    assert rejected(import_declaration(), registry) == ["certificate-superseded"]


def test_import_claiming_an_expired_certificate(registry: MemoryRegistry) -> None:
    # issued 9 Oct 2026: valid through 9 Oct 2027 (RCEP Art. 3.16.6)
    documents.validate(
        parse_json(import_declaration(declaration_date="2027-10-09")),
        registry=registry,
        today=date(2027, 10, 9),
    )
    with pytest.raises(DocumentInvalid) as caught:
        documents.validate(
            parse_json(import_declaration(declaration_date="2027-10-10")),
            registry=registry,
            today=date(2027, 10, 10),
        )
    assert codes(caught) == ["certificate-expired"]
    assert "2027-10-09" in caught.value.errors[0]["message"]


def test_import_into_another_country_or_other_goods(registry: MemoryRegistry) -> None:
    doc = import_declaration(destination_country="TH")
    assert rejected(doc, registry) == ["certificate-country-mismatch"]
    doc = import_declaration()
    doc["items"][2]["tariff_code"] = "87083010"  # brakes: not on the certificate
    with pytest.raises(DocumentInvalid) as caught:
        documents.validate(parse_json(doc), registry=registry)
    assert codes(caught) == ["certificate-hs-mismatch"]
    assert caught.value.errors[0]["location"] == "/items/2/tariff_code"


def test_hs_subheadings_are_compared_across_editions(registry: MemoryRegistry) -> None:
    # the declaration is in HS2022 and the certificate in HS2012: 8458.11 is the same in both
    doc = import_declaration()
    assert doc["items"][0]["hs_edition"] == "HS2022"
    documents.validate(parse_json(doc), registry=registry)


def test_lifecycle_events_refer_to_a_certificate_on_the_ledger(registry: MemoryRegistry) -> None:
    for name in ("verification-request", "verification-result", "bank-presentation"):
        documents.validate(parse_json(example_json(name)), registry=registry)
    # the revocation example concerns the AJCEP certificate, which this registry lacks
    assert rejected(example_json("co-revocation"), registry) == ["certificate-not-on-ledger"]


def test_a_registry_that_is_not_one_is_ignored() -> None:
    class NodeIndexBeforeItImplementsTheProtocol:
        def document(self, document_id: str) -> None:
            return None

    doc = parse_json(import_declaration())
    documents.validate(doc, registry=NodeIndexBeforeItImplementsTheProtocol())
    assert isinstance(doc, CustomsDeclaration)
