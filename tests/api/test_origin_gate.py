"""The origin gate on a live node: a certificate sent with its bill of materials is re-determined,
refused with reasons when the evidence does not support its claim, and recorded with the
determination's digest (the evidence itself readable only by the issuer, the importing
country's customs and auditors)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

import documents
from documents.origin.evaluate import determination_digest
from ledger.entries import build_entry
from ledger.errors import InvalidInput, NotFound, OriginInputError, OriginNotSupported
from nodes.audit import replay
from nodes.origin_gate import gate
from tests.api.conftest import LiveNode
from tests.api.test_api import certificate as api_certificate

#: RCEP rule for heading 85.38 (parts for switchgear): "CTH or RVC40" (Annex 3A p.197).
PARTS_HS = "853890"


def certificate(number: str, criterion: str, hs: str = PARTS_HS, **item: Any) -> dict[str, Any]:
    """The API tests' RCEP certificate to Viet Nam, with one item of ``hs`` claiming
    ``criterion`` (FOB 1,000, the BOM's)."""
    return api_certificate(
        number,
        items=[
            {
                "item_number": 1,
                "description": "Contact sub-assemblies for switchgear",
                "hs_code": hs,
                "hs_edition": "HS2012",
                "origin_criterion": criterion,
                "country_of_origin": "JP",
                "quantity": "10",
                "unit": "PCE",
                "fob_value": "1000.00",
                "currency": "USD",
                **item,
            }
        ],
    )


def bom(same_heading_value: str = "300.00", **extra: Any) -> dict[str, Any]:
    """FOB 1,000: a non-originating part of the product's own heading (fails CTH, and at 30 %
    of FOB is over the de minimis) and a non-originating copper strip (changes heading); RVC
    = (1000 - 300 - 100) / 1000 = 60 %."""
    return {
        "fob": "1000.00",
        "currency": "USD",
        "exporting_country": "JP",
        "importing_country": "VN",
        "materials": [
            {
                "hs": "853890",
                "description": "contact springs",
                "origin": "CN",
                "value": same_heading_value,
                "originating": False,
            },
            {
                "hs": "740921",
                "description": "brass strip",
                "origin": "CN",
                "value": "100.00",
                "originating": False,
            },
            {
                "hs": "392690",
                "description": "housings",
                "origin": "TH",
                "value": "150.00",
                "originating": True,
            },
        ],
        **extra,
    }


def with_evidence(doc: dict[str, Any], evidence_bom: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "origin_evidence": [{"item_number": 1, "bom": evidence_bom}]}


def number() -> str:
    return f"G-{uuid.uuid4().hex[:12].upper()}"


def post(live: LiveNode, doc: dict[str, Any], event: str = "co.issued") -> httpx.Response:
    with live.http("issuer") as h:
        return h.post(
            "/v1/documents",
            params={"event": event},
            content=json.dumps(doc).encode(),
            headers={"Content-Type": "application/json"},
        )


@pytest.fixture(scope="module")
def gated(live: LiveNode) -> dict[str, Any]:
    """A certificate claiming RVC, submitted with evidence that supports it."""
    doc = certificate(number(), "RVC")
    with live.client("issuer") as c:
        receipt = c.submit_document(with_evidence(doc, bom()), event="co.issued")
    assert receipt.origin_evidence_entry_hash is not None
    live.wait_for_block(receipt.entry_hash)
    live.wait_for_block(receipt.origin_evidence_entry_hash)
    return {"id": receipt.document_id, "receipt": receipt, "submitted": doc}


def test_supported_rvc_claim_is_recorded_with_the_digest(live: LiveNode, gated: dict) -> None:
    with live.client("exporter") as c:
        recorded = json.loads(c.document(gated["id"]))
    assert "origin_evidence" not in recorded  # the BOM is not in the certificate
    assert recorded["items"] == gated["submitted"]["items"]
    (det,) = recorded["origin_determinations"]
    assert det["item_number"] == 1
    assert det["criterion"] == "RVC"
    assert det["table_version"] == "2026.1"
    assert len(det["digest"]) == 64
    assert "bom" not in json.dumps(recorded)


def test_recorded_digest_equals_the_digest_of_the_evidence(live: LiveNode, gated: dict) -> None:
    with live.client("issuer") as c:
        recorded = json.loads(c.document(gated["id"]))
        evidence = c.origin_evidence(gated["id"])
    (item,) = evidence.items
    assert item["bom"] == bom()
    assert item["determination"]["originating"] is True
    assert item["determination"]["rvc_percent"] == "60.00"
    assert "RVC" in item["determination"]["criteria"]
    recomputed = determination_digest(item["determination"])
    assert recomputed == recorded["origin_determinations"][0]["digest"] == item["digest"]
    assert evidence.digests_match is True
    assert evidence.evidence_entry_hash == gated["receipt"].origin_evidence_entry_hash
    assert evidence.certificate_entry_hash == gated["receipt"].entry_hash


@pytest.mark.parametrize("user", ["issuer", "vn_customs", "auditor"])
def test_issuer_importing_customs_and_auditors_read_the_evidence(
    live: LiveNode, gated: dict, user: str
) -> None:
    with live.client(user) as c:
        assert c.origin_evidence(gated["id"]).digests_match


@pytest.mark.parametrize("user", ["jp_customs", "th_customs", "bank", "exporter"])
def test_everyone_else_gets_404_on_the_evidence(live: LiveNode, gated: dict, user: str) -> None:
    with live.client(user) as c, pytest.raises(NotFound):
        c.origin_evidence(gated["id"])


def test_the_evidence_payload_is_withheld_from_blocks_and_entries(
    live: LiveNode, gated: dict
) -> None:
    evidence_hash = gated["receipt"].origin_evidence_entry_hash
    # the exporter and the exporting country's customs read the certificate, not the evidence
    for user, readable in (
        ("exporter", False),
        ("jp_customs", False),
        ("vn_customs", True),
        ("issuer", True),
        ("auditor", True),
    ):
        with live.client(user) as c:
            entry = c.entry(evidence_hash)
            assert (entry.payload is not None) is readable, user
            block = c.block(entry.height)
            (row,) = [e for e in block.entries if e.entry_hash == evidence_hash]
            assert (row.payload is not None) is readable, user
            if readable:
                assert json.loads(base64.b64decode(row.payload))["items"][0]["bom"] == bom()
    with live.client("jp_customs") as c:
        # while the certificate itself stays readable to the exporting country's customs, and
        # its provenance shows that evidence was recorded (not what it says)
        assert json.loads(c.document(gated["id"]))["origin_determinations"]
        events = [e.event for e in c.provenance(gated["id"]).events]
        assert events == ["co.issued", "origin.evidence"]


def test_ctc_claim_failing_the_tariff_shift_is_refused_and_nothing_appended(
    live: LiveNode,
) -> None:
    doc = with_evidence(certificate(number(), "CTC"), bom())
    before = live.settled()
    response = post(live, doc)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "origin-not-supported"
    (item,) = problem["items"]
    assert item["item_number"] == 1
    assert item["outcome"] == "criterion-not-supported"
    assert item["supported"] == "RVC"  # what the evidence does support
    text = " ".join(item["reasons"])
    assert "CTH" in text and "contact springs" in text and "853890" in text
    assert [m["hs"] for m in item["failing_materials"]] == ["853890"]
    assert live.settled() == before
    with live.client("issuer") as c, pytest.raises(NotFound):
        c.document(f"jp-jcci/{doc['number']}")


def test_the_same_ctc_claim_passes_within_de_minimis(live: LiveNode) -> None:
    # the same-heading part at 10 % of FOB: CTH fails for it, de minimis (Art. 3.7) saves it
    doc = with_evidence(certificate(number(), "CTC"), bom("100.00"))
    with live.client("issuer") as c:
        receipt = c.submit_document(doc, event="co.issued")
    live.wait_for_block(receipt.entry_hash)
    with live.client("issuer") as c:
        evidence = c.origin_evidence(receipt.document_id)
    # the Thai housings count as originating by accumulation (ACU)
    assert evidence.items[0]["determination"]["criteria"] == ["CTC", "DMI", "ACU"]


def test_no_rule_data_is_refused_naming_the_coverage(live: LiveNode) -> None:
    doc = with_evidence(certificate(number(), "RVC", hs="845811"), bom())
    before = live.settled()
    response = post(live, doc)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "origin-not-supported"
    (item,) = problem["items"]
    assert item["outcome"] == "no-rule-data"
    assert item["coverage"]["chapter"] == "84"
    assert item["coverage"]["status"] in ("missing", "partial")
    assert "chapter 84 coverage" in problem["detail"]
    assert live.settled() == before


def test_not_originating_is_refused_naming_the_materials(live: LiveNode) -> None:
    doc = with_evidence(certificate(number(), "RVC"), bom("700.00"))
    with live.client("issuer") as c, pytest.raises(OriginNotSupported) as caught:
        c.submit_document(doc, event="co.issued")
    (item,) = caught.value.extra["items"]
    assert item["outcome"] == "not-originating"
    assert "853890" in item["reasons"][0]


def test_evidence_for_another_lane_is_unusable(live: LiveNode) -> None:
    doc = with_evidence(certificate(number(), "RVC"), bom(importing_country="TH"))
    response = post(live, doc)
    assert response.status_code == 422
    assert response.json()["code"] == OriginInputError.code
    assert response.json()["location"] == "/origin_evidence/0/bom/importing_country"


def test_the_node_alone_writes_determinations(live: LiveNode, gated: dict) -> None:
    forged = {
        **certificate(number(), "RVC"),
        "origin_determinations": [
            {"item_number": 1, "digest": "0" * 64, "criterion": "RVC", "table_version": "2026.1"}
        ],
    }
    with live.client("issuer") as c, pytest.raises(InvalidInput):
        c.submit_document(forged, event="co.issued")
    # nor may an origin.evidence entry, or a certificate with determinations, be pre-signed
    key = live.node.signing_key_for("jp-jcci")
    payload = json.dumps({"items": []}).encode()
    signed = build_entry(
        "origin.evidence",
        "jp-jcci",
        key,
        payload,
        "application/json",
        consortium_id=live.node.consortium.consortium_id,
        subject=gated["id"],
    )
    forged_co = build_entry(
        "co.issued",
        "jp-jcci",
        key,
        json.dumps(forged).encode(),
        "application/json",
        consortium_id=live.node.consortium.consortium_id,
        subject=f"jp-jcci/{forged['number']}",
    )
    with live.client("issuer") as c:
        for entry in (signed, forged_co):
            with pytest.raises(InvalidInput):
                c.submit_entry(entry)


def test_determinations_cannot_be_smuggled_in(live: LiveNode) -> None:
    escaped = (
        json.dumps(certificate(number(), "RVC"))[:-1]
        + ', "\\u006frigin_determinations": [{"item_number": 1, "digest": "'
        + "0" * 64
        + '"}]}'
    ).encode()
    assert b"origin_determinations" not in escaped
    forged = {
        **certificate(number(), "RVC"),
        "origin_determinations": [
            {"item_number": 1, "digest": "0" * 64, "criterion": "RVC", "table_version": "2026.1"}
        ],
    }
    xml = documents.to_xml(
        documents.parse_document(json.dumps(forged).encode(), "application/json")
    )
    before = live.settled()
    with live.client("issuer") as c:
        for body, media in ((escaped, "application/json"), (xml, "application/xml")):
            with pytest.raises(InvalidInput, match="written by the node"):
                c.submit_document(body, event="co.issued", content_type=media)
    assert live.settled() == before


def test_evidence_only_goes_with_a_certificate(live: LiveNode) -> None:
    declaration = {
        "document_type": "origin_declaration",
        "number": number(),
        "origin_evidence": [{"item_number": 1, "bom": bom()}],
    }
    with live.client("exporter") as c, pytest.raises(InvalidInput):
        c.submit_document(declaration, event="origin.declaration")


def test_amendment_is_gated_too(live: LiveNode, gated: dict) -> None:
    doc = with_evidence(certificate(number(), "CTC"), bom())
    doc["supersedes"] = gated["id"]
    response = post(live, doc, event="co.amended")
    assert response.status_code == 422
    assert response.json()["items"][0]["supported"] == "RVC"


def test_audit_replay_of_the_gated_chain_passes(live: LiveNode, gated: dict) -> None:
    live.settled()
    store = live.node.store
    height, _ = store.head()
    report = replay(live.node.consortium, store.iter_blocks(1, height))
    assert report.valid, report.failure
    assert report.height == height


def test_only_evidenced_items_are_gated(live: LiveNode) -> None:
    doc = certificate(number(), "RVC")
    second = {**doc["items"][0], "item_number": 2, "hs_code": "845811", "origin_criterion": "CTC"}
    doc["items"].append(second)  # no rule data for 845811, but it carries no evidence
    with live.client("issuer") as c:
        receipt = c.submit_document(
            {**doc, "origin_evidence": [{"item_number": 1, "bom": bom()}]}, event="co.issued"
        )
        live.wait_for_block(receipt.entry_hash)
        recorded = json.loads(c.document(receipt.document_id))
    assert [d["item_number"] for d in recorded["origin_determinations"]] == [1]


def test_a_certificate_without_evidence_has_none_to_show(live: LiveNode) -> None:
    with live.client("issuer") as c:
        receipt = c.submit_document(certificate(number(), "RVC"), event="co.issued")
        live.wait_for_block(receipt.entry_hash)
        assert receipt.origin_evidence_entry_hash is None
        assert "origin_determinations" not in json.loads(c.document(receipt.document_id))
        with pytest.raises(NotFound, match="without origin evidence"):
            c.origin_evidence(receipt.document_id)


def test_an_item_the_gate_cannot_read_is_located_by_its_position() -> None:
    # the document checks run first and require both fields, so only a direct caller of the
    # gate meets this; its location is still a JSON pointer (position 1 holds item 7)
    doc = certificate(number(), "RVC")
    doc["items"].append({**doc["items"][0], "item_number": 7, "origin_criterion": " "})
    evidence = [{"item_number": 7, "bom": bom()}]
    with pytest.raises(InvalidInput) as refused:
        gate(doc, evidence, home=None)
    assert refused.value.location == "/items/1"


def test_a_gated_certificate_with_a_key_twice_is_refused_as_any_document_is(
    live: LiveNode,
) -> None:
    # re-serialising the certificate without its evidence would keep only the last "remarks"
    doc = with_evidence({**certificate(number(), "RVC"), "remarks": "first"}, bom())
    body = json.dumps(doc)[:-1] + ', "remarks": "second"}'
    before = live.settled()
    with live.http("issuer") as h:
        gated = h.post(
            "/v1/documents",
            params={"event": "co.issued"},
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        plain = h.post(
            "/v1/documents",
            params={"event": "co.issued"},
            content=(json.dumps(certificate(number(), "RVC"))[:-1] + ', "issuer": "x"}').encode(),
            headers={"Content-Type": "application/json"},
        )
    for answer in (gated, plain):
        assert answer.status_code == 422
        assert "appears twice" in answer.json()["detail"]
    assert live.settled() == before
