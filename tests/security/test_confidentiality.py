"""Confidentiality: who may read a certificate's goods and parties.

A document is readable by its parties and auditors. Parties come from the certificate's own
content and from events signed by those entitled to them; proof of possession is the document's
own digest, never a digest that envelopes publish. Each test is an attack that must fail.
"""

from __future__ import annotations

import base64

from ledger.entries import parse_entry
from tests.api.conftest import LiveNode
from tests.api.test_api import certificate, new_number
from tests.security.attacks import (
    OUTSIDE_EXPORTER,
    document_digest,
    issued,
    presign,
    readable,
    submit,
    submit_entry,
)

GOODS = "Brakes"  # the item description of tests.api.test_api.certificate


def presentation(co_id: str, **extra: str) -> dict[str, str]:
    return {
        "document_type": "bank_presentation",
        "co_reference": co_id,
        "letter_of_credit": "LC-ATTACK-1",
        **extra,
    }


# -- 1. an anonymous visitor with the digest every envelope publishes -------------------------


def test_the_payload_digest_of_a_public_answer_does_not_unlock_the_goods(node: LiveNode) -> None:
    co_id, _, document = issued(node)
    with node.http() as anonymous:
        answer = anonymous.post("/v1/verify", json={"document_id": co_id}).json()
        published = parse_entry(base64.b64decode(answer["envelope"])).payload_digest
        page = anonymous.get("/verify", params={"id": co_id, "d": published})
        pdf = anonymous.get("/verify/pdf", params={"id": co_id, "d": published})
        assert page.status_code == 200
        assert GOODS not in page.text and "does not match" in page.text
        assert pdf.status_code == 404
        # the holder of the document (its digest is on the printed QR code) sees the goods
        held = document_digest(document)
        assert GOODS in anonymous.get("/verify", params={"id": co_id, "d": held}).text
        assert anonymous.get("/verify/pdf", params={"id": co_id, "d": held}).status_code == 200


# -- 2. a bank that records a presentation of a certificate it was never given ----------------


def test_a_bank_cannot_make_itself_a_party_by_recording_a_presentation(node: LiveNode) -> None:
    co_id, _, document = issued(node, exporter=OUTSIDE_EXPORTER)
    refused = submit(node, "bank", "bank.presentation", presentation(co_id))
    assert refused.status_code == 422, refused.text
    wrong = submit(node, "bank", "bank.presentation", presentation(co_id, co_digest="0" * 64))
    assert wrong.status_code == 422, wrong.text
    assert not readable(node, "bank", co_id)
    # a bank that holds the certificate (its digest) records the presentation and reads it
    held = submit(
        node, "bank", "bank.presentation", presentation(co_id, co_digest=document_digest(document))
    )
    assert held.status_code == 201, held.text
    node.wait_for_block(held.json()["entry_hash"])
    assert readable(node, "bank", co_id)


def test_presented_by_cannot_make_another_member_a_party(node: LiveNode) -> None:
    co_id, _, document = issued(node, "VN")
    named = presentation(co_id, co_digest=document_digest(document), presented_by="th-customs")
    refused = submit(node, "bank", "bank.presentation", named)
    assert refused.status_code == 422 and refused.json()["location"] == "/presented_by"
    assert not readable(node, "th_customs", co_id)


def test_a_presigned_presentation_does_not_make_the_bank_a_party_either(node: LiveNode) -> None:
    co_id, co_hash, _ = issued(node, exporter=OUTSIDE_EXPORTER)
    entry = presign(
        node,
        "bank.presentation",
        "jp-sakura-bank",
        presentation(co_id, presented_by="jp-tanaka-machinery"),
        subject=co_id,
        refs=[co_hash],
    )
    assert submit_entry(node, "bank", entry).status_code == 422
    assert not readable(node, "bank", co_id)
    assert not readable(node, "exporter", co_id)


# -- 3. an exporter that applies for a certificate it is not party to --------------------------


def application(co: dict[str, object]) -> dict[str, object]:
    return {"document_type": "co_application", "applicant": "jp-tanaka-machinery", "co": co}


def test_an_exporter_cannot_read_a_certificate_by_applying_for_it(node: LiveNode) -> None:
    co_id, _, document = issued(node, exporter=OUTSIDE_EXPORTER)
    entry = presign(
        node, "co.application", "jp-tanaka-machinery", application(document), subject=co_id
    )
    assert submit_entry(node, "exporter", entry).status_code == 409
    assert submit(node, "exporter", "co.application", application(document)).status_code == 409
    assert not readable(node, "exporter", co_id)


def test_an_application_made_before_issue_does_not_make_the_applicant_a_party(
    node: LiveNode,
) -> None:
    document = certificate(new_number(), exporter=OUTSIDE_EXPORTER)
    applied = submit(node, "exporter", "co.application", application(document))
    assert applied.status_code == 201, applied.text
    node.wait_for_block(applied.json()["entry_hash"])
    issued_ = submit(node, "issuer", "co.issued", document)
    assert issued_.status_code == 201, issued_.text
    node.wait_for_block(issued_.json()["entry_hash"])
    assert not readable(node, "exporter", issued_.json()["document_id"])
    assert readable(node, "issuer", issued_.json()["document_id"])


# -- 4. the public /verify page names no one but the issuer to a visitor ---------------------


def test_the_public_timeline_names_no_party_but_the_issuer(node: LiveNode) -> None:
    co_id, _, document = issued(node, "VN")
    held = document_digest(document)
    presented = submit(node, "bank", "bank.presentation", presentation(co_id, co_digest=held))
    assert presented.status_code == 201, presented.text
    node.wait_for_block(presented.json()["entry_hash"])
    bank = "Sakura Trade Bank"
    with node.http() as anonymous:
        public = anonymous.get("/verify", params={"id": co_id}).text
        holder = anonymous.get("/verify", params={"id": co_id, "d": held}).text
    assert "Presented to a bank" in public and bank not in public
    assert "The Japan Chamber of Commerce and Industry" in public  # the issuer is public
    assert bank in holder
