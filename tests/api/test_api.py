"""The HTTP API against a live node: formats, policy, bad input, proofs."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

import documents
from api.client import NodeUnreachable, TradeLedgerClient
from api.schemas import (
    BlockResponse,
    CheckpointResponse,
    ConsistencyProofResponse,
    Health,
    InclusionProofResponse,
    ProvenanceResponse,
    VerifyResponse,
)
from ledger.blocks import BlockHeader, Checkpoint
from ledger.entries import Entry, build_entry
from ledger.errors import (
    DuplicateEntry,
    EntryRejected,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from ledger.merkle import verify_consistency, verify_inclusion
from nodes import documents_bridge as bridge
from tests.api.conftest import LiveNode, free_port

PROBLEM = "application/problem+json"


TODAY = date.today()


def certificate(number: str, country: str = "VN", **extra: Any) -> dict[str, Any]:
    """A valid RCEP certificate (documents.validate applies its schema and rules)."""
    return {
        "document_type": "certificate_of_origin",
        "agreement": "RCEP",
        "number": number,
        "issuer": "jp-jcci",
        "exporter": {
            "name": "Tanaka Precision Machinery Co., Ltd.",
            "address": "2-1-1 Marunouchi, Chiyoda-ku, Tokyo",
            "country": "JP",
        },
        "importer": {"name": "Importer Co.", "address": "Somewhere", "country": country},
        "transport": {"departure_date": (TODAY - timedelta(days=1)).isoformat()},
        "invoice": {"number": f"INV-{number}", "date": (TODAY - timedelta(days=2)).isoformat()},
        "importing_country": country,
        "issue_date": TODAY.isoformat(),
        "items": [
            {
                "item_number": 1,
                "hs_code": "870830",
                "hs_edition": "HS2012",
                "description": "Brakes",
                "origin_criterion": "CTC",
                "country_of_origin": "JP",
                "quantity": "10",
                "unit": "PCE",
            }
        ],
        **extra,
    }


def declaration(kind: str, co_id: str, country: str = "VN", **extra: Any) -> dict[str, Any]:
    """A valid export or import declaration for the certificate ``co_id``."""
    return {
        "document_type": "customs_declaration",
        "declaration_type": kind,
        "number": new_number(),
        "declaration_date": TODAY.isoformat(),
        "exporting_country": "JP",
        "destination_country": country,
        "preference_claimed": kind == "import",
        "co_reference": co_id,
        "items": [
            {
                "item_number": 1,
                "tariff_code": "87083000",
                "hs_edition": "HS2012",
                "description": "Brakes",
                "quantity": "10",
                "unit": "PCE",
                "customs_value": "1200.00",
                "currency": "USD",
            }
        ],
        **extra,
    }


def revocation(co_id: str) -> dict[str, Any]:
    return {"document_type": "co_revocation", "co_reference": co_id, "reason": "Issued in error"}


def new_number() -> str:
    return f"T-{uuid.uuid4().hex[:12].upper()}"


def issue(live: LiveNode, country: str = "VN") -> tuple[str, str]:
    """Issue a fresh certificate; return (document id, entry hash) once it is in a block."""
    with live.client("issuer") as c:
        receipt = c.submit_document(certificate(new_number(), country), event="co.issued")
    live.wait_for_block(receipt.entry_hash)
    assert receipt.document_id is not None
    return receipt.document_id, receipt.entry_hash


def held_digest(live: LiveNode, co_id: str) -> str:
    """The document digest of a certificate, as whoever holds its file (or the QR code printed
    on it) knows it: what a bank shows to record a presentation of it."""
    with live.client("issuer") as c:
        digest = bridge.document_digest(c.document(co_id), "application/json")
    assert digest is not None
    return digest


def check_proofs(live: LiveNode, prov: ProvenanceResponse) -> None:
    """Every event's inclusion proof leads to the signed checkpoint's root."""
    cp = Checkpoint.from_text(prov.checkpoint)
    cp.verify(live.node.membership)
    assert cp.tree_size == prov.tree_size
    for ev in prov.events:
        envelope = base64.b64decode(ev.envelope)
        leaf = hashlib.sha256(b"\x00tradeledger/v1/entry\n" + envelope).digest()
        assert leaf.hex() == ev.entry_hash
        proof = [bytes.fromhex(h) for h in ev.inclusion_proof.hashes]
        assert ev.inclusion_proof.tree_size == prov.tree_size
        verify_inclusion(leaf, ev.leaf_index, prov.tree_size, proof, cp.root_hash)


# -- public endpoints ---------------------------------------------------------------------


def test_health_and_checkpoint_formats(live: LiveNode) -> None:
    with live.http() as h:
        health = h.get("/v1/health")
        cp = h.get("/v1/checkpoint")
    assert health.status_code == 200
    Health.model_validate(health.json())
    assert health.json()["height"] >= 2
    body = cp.json()
    CheckpointResponse.model_validate(body)
    assert set(body) >= {
        "height",
        "tree_size",
        "root_hash",
        "block_hash",
        "time",
        "checkpoint",
        "signatures",
    }
    note = Checkpoint.from_text(body["checkpoint"])
    assert note.verify(live.node.membership) == {"jp-jcci": body["signatures"][0]["key_id"]}
    assert note.tree_size == body["tree_size"] and note.height == body["height"]
    assert note.root_hash.hex() == body["root_hash"]
    assert note.block_hash.hex() == body["block_hash"]
    assert body["signatures"][0]["name"] == f"jp-jcci:{body['signatures'][0]['key_id']}"


def test_consortium_file_is_served_byte_for_byte(live: LiveNode) -> None:
    with live.http() as h:
        r = h.get("/v1/consortium")
    assert r.status_code == 200
    assert r.content == live.home.consortium_file.read_bytes()


def test_openapi_describes_every_endpoint_with_problems(live: LiveNode) -> None:
    with live.http() as h:
        spec = h.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/v1/health",
        "/v1/checkpoint",
        "/v1/blocks/{height}",
        "/v1/documents",
        "/v1/documents/{document_id}",
        "/v1/documents/{document_id}/provenance",
        "/v1/entries/{entry_hash}/inclusion-proof",
        "/v1/consistency-proof",
        "/v1/verify",
        "/v1/origin/determinations",
    ):
        assert path in paths, path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    post = paths["/v1/documents"]["post"]
    assert set(post["requestBody"]["content"]) == {
        "application/json",
        "application/xml",
        "application/vnd.tradeledger.entry+json",
    }
    for status in ("401", "403", "409", "413", "422"):
        assert PROBLEM in post["responses"][status]["content"]
    prov = paths["/v1/documents/{document_id}/provenance"]["get"]["responses"]["200"]
    schema = prov["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "examples" in json.dumps(spec["components"]["schemas"][schema])


# -- authentication and authorisation ---------------------------------------------------------


@pytest.mark.parametrize("token", [None, "tl_not-a-real-token", "garbage"])
def test_no_or_bad_token_is_401_problem(live: LiveNode, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with live.http() as h:
        r = h.get("/v1/blocks/1", headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM
    assert r.headers["www-authenticate"].startswith("Bearer")
    body = r.json()
    assert body["code"] == "unauthenticated" and body["status"] == 401
    assert body["instance"] == "/v1/blocks/1"


@pytest.mark.parametrize(
    ("user", "event"),
    [
        ("exporter", "co.issued"),
        ("auditor", "co.issued"),
        ("bank", "customs.import_declaration"),
        ("vn_customs", "co.revoked"),
        ("issuer", "bank.presentation"),
    ],
)
def test_wrong_role_is_403(live: LiveNode, user: str, event: str) -> None:
    with live.http(user) as h:
        r = h.post(f"/v1/documents?event={event}", json=certificate(new_number()))
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "forbidden"
    with live.client(user) as c, pytest.raises(Forbidden):
        c.submit_document(certificate(new_number()), event=event)


def test_customs_act_only_for_their_own_country(live: LiveNode) -> None:
    co_id, _ = issue(live, "VN")
    declaration_doc = declaration("import", co_id)
    with live.client("th_customs") as c, pytest.raises(InvalidInput):
        # Thai customs cannot even see a certificate for Viet Nam
        c.submit_document(declaration_doc, event="customs.import_declaration")
    with live.client("jp_customs") as c, pytest.raises(Forbidden):
        c.submit_document(declaration_doc, event="customs.import_declaration")
    with live.client("vn_customs") as c:
        receipt = c.submit_document(declaration_doc, event="customs.import_declaration")
    assert receipt.document_id == f"vn-customs/{declaration_doc['number']}"


def test_another_partys_document_is_404_like_a_missing_one(live: LiveNode) -> None:
    co_id, _ = issue(live, "VN")
    with live.http("th_customs") as h:
        theirs = h.get(f"/v1/documents/{co_id}/provenance")
        missing = h.get("/v1/documents/jp-jcci/NO-SUCH-NUMBER/provenance")
        doc = h.get(f"/v1/documents/{co_id}")
    assert theirs.status_code == missing.status_code == doc.status_code == 404
    assert theirs.json()["code"] == missing.json()["code"] == "not-found"
    assert theirs.json()["title"] == missing.json()["title"]
    with live.http("bank") as h:
        assert h.get(f"/v1/documents/{co_id}/provenance").status_code == 404
    for user in ("issuer", "exporter", "jp_customs", "vn_customs", "auditor"):
        with live.http(user) as h:
            assert h.get(f"/v1/documents/{co_id}/provenance").status_code == 200, user


# -- bad input ------------------------------------------------------------------------------------


def test_oversized_body_is_413(live: LiveNode) -> None:
    with live.http("issuer") as h:
        r = h.post(
            "/v1/documents?event=co.issued",
            content=b"{" + b" " * (6 * 1024 * 1024) + b"}",
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "payload-too-large"


def test_oversized_chunked_body_is_413(live: LiveNode) -> None:
    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(7):
            yield b" " * (1024 * 1024)

    with live.http("issuer") as h:
        r = h.post(
            "/v1/documents?event=co.issued",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("body", "ctype", "where"),
    [
        (b'{"number": "X-1",\n "issuer": }', "application/json", "line 2, column 12"),
        (b"<certificate><number>X</certificate>", "application/xml", "line 1, column"),
        (b"\xff\xfe{}", "application/json", "byte 0"),
    ],
)
def test_malformed_body_is_422_with_location(
    live: LiveNode, body: bytes, ctype: str, where: str
) -> None:
    with live.http("issuer") as h:
        r = h.post("/v1/documents?event=co.issued", content=body, headers={"Content-Type": ctype})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"] == PROBLEM
    assert problem["code"] == "invalid-input"
    assert problem["location"].startswith(where)


def test_missing_field_and_bad_parameters_are_422_with_pointer(live: LiveNode) -> None:
    with live.http("issuer") as h:
        no_number = h.post(
            "/v1/documents?event=co.issued",
            json={"document_type": "certificate_of_origin", "issuer": "jp-jcci"},
        )
        bad_event = h.post("/v1/documents?event=co.stolen", json=certificate("X"))
        bad_size = h.get("/v1/consistency-proof?first=abc&second=2")
        not_boundary = h.get("/v1/consistency-proof?first=3&second=7")
    assert no_number.status_code == 422
    assert no_number.json()["code"] == "document-invalid"
    assert "/number" in [e["location"] for e in no_number.json()["errors"]]
    assert bad_event.status_code == 422 and bad_event.json()["location"] == "/query/event"
    assert bad_size.status_code == 422 and bad_size.json()["location"] == "/query/first"
    assert not_boundary.status_code == 422 and not_boundary.json()["location"] == "/query/first"


def test_unsupported_media_type_is_415(live: LiveNode) -> None:
    with live.http("issuer") as h:
        r = h.post(
            "/v1/documents?event=co.issued",
            content=b"hello",
            headers={"Content-Type": "text/plain"},
        )
    assert r.status_code == 415 and r.json()["code"] == "unsupported-media-type"


# -- submissions ---------------------------------------------------------------------------------


def presigned_certificate(live: LiveNode) -> tuple[Entry, bytes]:
    """A new certificate signed by the issuer with its own key (as a client holding it would)."""
    number = new_number()
    payload = json.dumps(certificate(number)).encode()
    key = live.home.signing_key("jp-jcci")
    entry = build_entry(
        "co.issued",
        "jp-jcci",
        key,
        payload,
        "application/json",
        consortium_id=live.node.consortium.consortium_id,
        subject=f"jp-jcci/{number}",
    )
    return entry, payload


def test_presigned_entry_accepted_once_then_409(live: LiveNode) -> None:
    entry, payload = presigned_certificate(live)
    with live.client("issuer") as c:
        receipt = c.submit_entry(entry)
        assert receipt.entry_hash == entry.hash_hex and receipt.status == "accepted"
        with pytest.raises(DuplicateEntry):  # while still waiting for its block
            c.submit_entry(entry)
        live.wait_for_block(entry.hash_hex)
        with pytest.raises(DuplicateEntry) as caught:  # and once it is in one
            c.submit_entry(entry)
    assert caught.value.status == 409
    with live.http("issuer") as h:
        body = {
            "envelope": base64.b64encode(entry.envelope).decode(),
            "payload": base64.b64encode(payload).decode(),
        }
        r = h.post(
            "/v1/documents",
            json=body,
            headers={"Content-Type": "application/vnd.tradeledger.entry+json"},
        )
    assert r.status_code == 409 and r.json()["code"] == "duplicate-entry"


def test_presigned_entry_must_be_the_callers_own(live: LiveNode) -> None:
    entry, _ = presigned_certificate(live)
    with live.client("exporter") as c, pytest.raises(Forbidden):
        c.submit_entry(entry)
    # a tampered payload does not match the envelope's digest
    with live.client("issuer") as c, pytest.raises(EntryRejected) as caught:
        c.submit_entry(entry.envelope, b'{"number": "forged"}')
    assert caught.value.status == 422


def test_a_presigned_entry_under_the_nodes_own_key_is_still_verified(live: LiveNode) -> None:
    # the node skips verifying only signatures it made itself a moment before; an entry that
    # merely carries its key id (here: another entry's signature) is refused
    entry, payload = presigned_certificate(live)
    key = live.home.signing_key("jp-jcci")
    other = build_entry(
        "co.issued",
        "jp-jcci",
        key,
        payload,
        "application/json",
        consortium_id=live.node.consortium.consortium_id,
    )
    forged = entry.envelope.replace(
        base64.b64encode(entry.signatures[0][1]), base64.b64encode(other.signatures[0][1])
    )
    assert forged != entry.envelope
    with live.client("issuer") as c, pytest.raises(EntryRejected) as caught:
        c.submit_entry(forged, payload)
    assert caught.value.code == "bad-signature"
    with live.client("issuer") as c:  # the genuine one is accepted
        assert c.submit_entry(entry).status == "accepted"


def test_lifecycle_and_provenance_with_proofs(live: LiveNode) -> None:
    co_id, issued = issue(live, "VN")
    number = co_id.split("/", 1)[1]
    with live.client("jp_customs") as c:
        c.submit_document(declaration("export", co_id), event="customs.export_declaration")
    with live.client("vn_customs") as c:
        c.submit_document(declaration("import", co_id), event="customs.import_declaration")
        c.submit_document(
            {"document_type": "verification_request", "co_reference": co_id, "reason": "spot"},
            event="customs.verification_requested",
        )
        result = c.submit_document(
            {"document_type": "verification_result", "co_reference": co_id, "result": "accepted"},
            event="customs.verification_result",
        )
    with live.client("bank") as c:
        presented = c.submit_document(
            {
                "document_type": "bank_presentation",
                "co_reference": co_id,
                "letter_of_credit": "LC-1",
                "presented_by": "jp-tanaka-machinery",
                "co_digest": held_digest(live, co_id),
            },
            event="bank.presentation",
        )
    with live.client("issuer") as c:
        revoked = c.submit_document(revocation(co_id), event="co.revoked")
    live.wait_for_block(revoked.entry_hash)

    with live.client("bank") as c:  # the bank became a party by presenting it
        prov = c.provenance(co_id)
    assert prov.document_id == co_id and prov.status == "revoked"
    assert [e.event for e in prov.events] == [
        "co.issued",
        "customs.export_declaration",
        "customs.import_declaration",
        "customs.verification_requested",
        "customs.verification_result",
        "bank.presentation",
        "co.revoked",
    ]
    assert prov.events[0].entry_hash == issued and prov.events[0].actor == "jp-jcci"
    assert prov.events[-1].entry_hash == revoked.entry_hash
    assert [e.actor for e in prov.events][1:3] == ["jp-customs", "vn-customs"]
    assert all(e.height >= 1 for e in prov.events)
    check_proofs(live, prov)
    assert presented.document_id == co_id
    # the verification result refers to the request, not to the certificate directly
    with live.client("auditor") as c:
        entry = c.entry(result.entry_hash)
    assert entry.subject == co_id
    with live.client("issuer") as c, pytest.raises(Exception) as caught:
        c.submit_document(revocation(co_id), event="co.revoked")
    assert getattr(caught.value, "status", None) == 409
    with live.client() as public:
        answer = public.verify(document_id=co_id)
    assert answer.found and answer.status == "revoked" and answer.issuer == "jp-jcci"
    assert number in co_id


def test_amendment_supersedes(live: LiveNode) -> None:
    old_id, _ = issue(live)
    with live.client("issuer") as c:
        amended = c.submit_document(
            certificate(new_number(), supersedes=old_id), event="co.amended"
        )
        live.wait_for_block(amended.entry_hash)
        old = c.provenance(old_id)
        new = c.provenance(amended.document_id or "")
        with pytest.raises(Exception) as caught:
            c.submit_document(certificate(new_number(), supersedes=old_id), event="co.amended")
    assert old.status == "superseded" and new.status == "current"
    assert [e.event for e in old.events] == ["co.issued", "co.amended"]
    assert getattr(caught.value, "status", None) == 409


def test_xml_document_roundtrip(live: LiveNode) -> None:
    number = new_number()
    doc = certificate(number, "TH")
    xml = documents.to_xml(documents.parse_document(json.dumps(doc).encode(), "json"))
    assert b'xmlns="urn:tradeledger:co:1"' in xml
    with live.client("issuer") as c:
        receipt = c.submit_document(xml, event="co.issued", content_type="application/xml")
    live.wait_for_block(receipt.entry_hash)
    with live.http("th_customs") as h:
        r = h.get(f"/v1/documents/jp-jcci/{number}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    assert r.content == xml
    assert r.headers["tradeledger-entry-hash"] == receipt.entry_hash
    with live.http("vn_customs") as h:
        assert h.get(f"/v1/documents/jp-jcci/{number}").status_code == 404


def test_demo_certificate_provenance_includes_declarations(live: LiveNode) -> None:
    with live.client("auditor") as c:
        block = c.block(1)
    refs_co = None
    for e in block.entries:
        signed = json.loads(base64.b64decode(e.envelope))["signed"]
        if signed["type"] == "customs.export_declaration":
            refs_co = json.loads(base64.b64decode(e.payload or ""))["co_reference"]
            break
    assert refs_co is not None
    with live.client("jp_customs") as c:
        prov = c.provenance(refs_co)
    assert "customs.export_declaration" in [e.event for e in prov.events]
    check_proofs(live, prov)


# -- blocks and proofs ------------------------------------------------------------------------


def test_block_payloads_only_where_readable(live: LiveNode) -> None:
    with live.client("auditor") as c:
        full = c.block(1)
    with live.client("th_customs") as c:
        partial = c.block(1)
    BlockResponse.model_validate(full.model_dump())
    assert all(e.payload is not None for e in full.entries)
    assert [e.entry_hash for e in full.entries] == [e.entry_hash for e in partial.entries]
    hidden = [e for e in partial.entries if e.payload is None]
    shown = [e for e in partial.entries if e.payload is not None]
    assert hidden and shown
    header = BlockHeader.from_bytes(base64.b64decode(full.header))
    assert header.to_dict() == full.header_json
    assert Checkpoint.from_text(full.checkpoint).block_hash == header.block_hash
    with live.http("auditor") as h:
        assert h.get("/v1/blocks/999999").status_code == 404
        assert h.get("/v1/blocks/0").status_code == 422


def test_inclusion_and_consistency_proofs(live: LiveNode) -> None:
    co_id, entry_hash = issue(live)
    with live.client("auditor") as c:
        latest = c.inclusion_proof(entry_hash)
        cp = Checkpoint.from_text(latest.checkpoint)
        leaf = hashlib.sha256(b"\x00tradeledger/v1/entry\n" + base64.b64decode(latest.envelope))
        assert leaf.hexdigest() == entry_hash
        verify_inclusion(
            leaf.digest(),
            latest.leaf_index,
            latest.tree_size,
            [bytes.fromhex(x) for x in latest.hashes],
            cp.root_hash,
        )
        InclusionProofResponse.model_validate(latest.model_dump())
        first_size = c.block(1).header_json["tree_size"]
        cons = c.consistency_proof(first_size, latest.tree_size)
        ConsistencyProofResponse.model_validate(cons.model_dump())
        a = Checkpoint.from_text(cons.first_checkpoint)
        b = Checkpoint.from_text(cons.second_checkpoint)
        verify_consistency(
            a.tree_size,
            b.tree_size,
            a.root_hash,
            b.root_hash,
            [bytes.fromhex(x) for x in cons.hashes],
        )
        # the entry is not in the first block's tree
        with pytest.raises(InvalidInput) as caught:
            c.inclusion_proof(entry_hash, tree_size=first_size)
        assert caught.value.location == "/query/tree_size"
        with pytest.raises(InvalidInput):
            c.inclusion_proof(entry_hash, tree_size=latest.tree_size + 12345)
        with pytest.raises(NotFound):
            c.inclusion_proof("ab" * 32)
    assert co_id


# -- verification ------------------------------------------------------------------------------


def test_verify_by_file_digest_and_tampered_file(live: LiveNode) -> None:
    doc = certificate(new_number(), "TH")
    body = json.dumps(doc).encode()
    with live.client("issuer") as c:
        receipt = c.submit_document(body, event="co.issued")
    live.wait_for_block(receipt.entry_hash)
    with live.client() as public:  # no token
        by_file = public.verify(document=body)
        by_digest = public.verify(digest=hashlib.sha256(body).hexdigest())
        tampered = public.verify(document=body.replace(b"Brakes", b"Bricks"))
        unknown = public.verify(document_id="jp-jcci/NOPE")
    VerifyResponse.model_validate(by_file.model_dump())
    for answer in (by_file, by_digest):
        assert answer.found and answer.status == "current"
        assert answer.document_id == receipt.document_id and answer.issuer == "jp-jcci"
        assert answer.entry_hash == receipt.entry_hash
        assert answer.checkpoint.tree_size >= (answer.leaf_index or 0) + 1
        cp = Checkpoint.from_text(answer.checkpoint.checkpoint)
        assert answer.inclusion_proof is not None
        verify_inclusion(
            bytes.fromhex(receipt.entry_hash),
            answer.inclusion_proof.leaf_index,
            answer.inclusion_proof.tree_size,
            [bytes.fromhex(x) for x in answer.inclusion_proof.hashes],
            cp.root_hash,
        )
    assert not tampered.found and tampered.document_id == receipt.document_id
    assert tampered.reason and "does not match" in tampered.reason
    assert not unknown.found


# -- origin ------------------------------------------------------------------------------------


def test_origin_determination(live: LiveNode) -> None:
    bom = {
        "fob": "1000.00",
        "currency": "USD",
        "exporting_country": "JP",
        "importing_country": "VN",
        "materials": [
            {"hs": "030389", "origin": "CN", "value": "300.00", "originating": False},
        ],
    }
    with live.client("exporter") as c:
        det = c.determine_origin(bom, agreement="RCEP", product="030492")
        with pytest.raises(InvalidInput) as caught:
            c.determine_origin(bom, agreement="", product="030492")
    assert det.agreement == "RCEP" and det.product_hs == "030492"
    assert isinstance(det.originating, bool) and det.reasons
    assert caught.value.location == "/agreement"
    with live.http() as h:  # members only
        assert h.post("/v1/origin/determinations", json=bom).status_code == 401


# -- the client ---------------------------------------------------------------------------------


def test_client_maps_problems_to_typed_errors(live: LiveNode) -> None:
    with live.client("issuer") as c, pytest.raises(NotFound) as caught:
        c.provenance("jp-jcci/NOT-THERE")
    assert caught.value.status == 404 and caught.value.code == "not-found"
    with TradeLedgerClient(live.base_url, "tl_nope") as c, pytest.raises(Unauthenticated):
        c.block(1)
    with (
        TradeLedgerClient(f"http://127.0.0.1:{free_port()}", None) as c,
        pytest.raises(NodeUnreachable),
    ):
        c.health()


def test_a_membership_change_is_admitted_only_from_a_user_of_its_author(
    live: LiveNode,
) -> None:
    """A config.update (how an organisation joins, a key rotates) goes through the same door
    as documents: only a user of its author hands it in; anyone else is refused before anything
    is ordered, whatever its role (an auditor too)."""
    import httpx

    from ledger.consortium import CONFIG_TYPE

    changes = {"changes": [{"op": "set_endpoints", "org": "jp-sakura-bank", "endpoints": []}]}
    entry = build_entry(
        CONFIG_TYPE,
        "jp-sakura-bank",
        live.home.signing_key("jp-sakura-bank"),
        json.dumps(changes).encode(),
        "application/json",
        consortium_id=live.node.consortium.consortium_id,
    )
    body = {
        "envelope": base64.b64encode(entry.envelope).decode(),
        "payload": base64.b64encode(entry.payload or b"").decode(),
    }

    def submit(user: str) -> httpx.Response:
        return httpx.post(
            f"{live.base_url}/v1/documents",
            json=body,
            headers={
                "Authorization": f"Bearer {live.tokens[user]}",
                "Content-Type": "application/vnd.tradeledger.entry+json",
            },
            timeout=30,
        )

    for outsider in ("issuer", "auditor"):
        refused = submit(outsider)
        assert refused.status_code == 403, refused.text
        assert "only its own organisation's entries" in refused.json()["detail"]
    assert live.node.store.entry_by_hash(entry.entry_hash) is None
    accepted = submit("bank")
    assert accepted.status_code == 201, accepted.text
    live.wait_for_block(accepted.json()["entry_hash"])
