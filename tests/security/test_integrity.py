"""Integrity: what a submission may do to the ledger's documents and their status.

Node-signed and pre-signed submissions go through one admission path; what an entry affects is
decided from its validated payload and checked against its signed refs; claims cover every
document an entry changes. Each test is an attack (or a race) that must fail.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import date
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.entries import build_entry
from ledger.errors import TradeLedgerError
from nodes.demo import run_demo
from nodes.home import NodeHome
from nodes.service import LedgerNode
from nodes.tokens import Caller
from tests.api.conftest import LiveNode
from tests.api.test_api import certificate, new_number, revocation
from tests.security.attacks import (
    OUTSIDE_EXPORTER,
    issued,
    presign,
    status,
    submit,
    submit_entry,
)

ISSUER = Caller("jp-jcci", "issuing_authority")


def amendment(co_id: str, **extra: object) -> dict[str, object]:
    return certificate(new_number(), supersedes=co_id, **extra)


# -- 5. pre-signed entries get the same document rules -----------------------------------------


def test_a_presigned_certificate_that_fails_the_schema_is_refused(node: LiveNode) -> None:
    number = new_number()
    document = certificate(number, items=[])  # a certificate lists at least one item
    assert submit(node, "issuer", "co.issued", document).status_code == 422
    entry = presign(node, "co.issued", "jp-jcci", document, subject=f"jp-jcci/{number}")
    refused = submit_entry(node, "issuer", entry)
    assert refused.status_code == 422 and refused.json()["code"] == "document-invalid"
    with node.http("auditor") as http:
        assert http.get(f"/v1/entries/{entry.hash_hex}").status_code == 404


# -- 6. an amendment supersedes only the certificate it names, through its refs ---------------


def test_an_amendment_cannot_supersede_a_certificate_through_extra_refs(node: LiveNode) -> None:
    target_id, target_hash, _ = issued(node)
    victim_id, victim_hash, _ = issued(node)
    document = amendment(target_id)
    number = str(document["number"])
    entry = presign(
        node,
        "co.amended",
        "jp-jcci",
        document,
        subject=f"jp-jcci/{number}",
        refs=[target_hash, victim_hash],
    )
    refused = submit_entry(node, "issuer", entry)
    assert refused.status_code == 422 and refused.json()["location"] == "/signed/refs"
    assert status(node, victim_id) == "current"


def test_an_amendment_cannot_supersede_through_an_extra_reference_field(node: LiveNode) -> None:
    target_id, target_hash, _ = issued(node)
    victim_id, _, _ = issued(node)
    document = amendment(target_id, co_reference=victim_id)
    entry = presign(
        node,
        "co.amended",
        "jp-jcci",
        document,
        subject=f"jp-jcci/{document['number']}",
        refs=[target_hash],
    )
    assert submit_entry(node, "issuer", entry).status_code == 422
    assert submit(node, "issuer", "co.amended", document).status_code == 422
    assert status(node, victim_id) == "current" and status(node, target_id) == "current"


# -- 7. a revocation is never recorded without status following it -----------------------------


def test_a_revocation_with_a_padded_reference_is_refused_not_ignored(node: LiveNode) -> None:
    co_id, co_hash, _ = issued(node)
    padded = revocation(" " + co_id)
    entry = presign(node, "co.revoked", "jp-jcci", padded, subject=co_id, refs=[co_hash])
    assert submit_entry(node, "issuer", entry).status_code == 422
    assert submit(node, "issuer", "co.revoked", padded).status_code == 422
    assert status(node, co_id) == "current"
    revoked = submit(node, "issuer", "co.revoked", revocation(co_id))
    assert revoked.status_code == 201
    node.wait_for_block(revoked.json()["entry_hash"])
    assert status(node, co_id) == "revoked"
    assert submit(node, "issuer", "co.revoked", revocation(co_id)).status_code == 409


# -- 8. concurrent changes of one certificate serialise -----------------------------------------


def _race(node: LiveNode, event: str, documents: list[dict[str, object]]) -> list[int]:
    """Send the documents at once, one thread each; return the status codes."""
    codes: list[int] = []
    start = threading.Barrier(len(documents))

    def send(document: dict[str, object]) -> None:
        with httpx.Client(
            base_url=node.base_url,
            headers={"Authorization": f"Bearer {node.tokens['issuer']}"},
            timeout=30,
        ) as http:
            start.wait()
            response = http.post(
                "/v1/documents",
                params={"event": event},
                content=json.dumps(document),
                headers={"Content-Type": "application/json"},
            )
            codes.append(response.status_code)

    threads = [threading.Thread(target=send, args=(d,)) for d in documents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(codes)


def test_concurrent_amendments_of_one_certificate_accept_one(node: LiveNode) -> None:
    co_id, _, _ = issued(node)
    codes = _race(node, "co.amended", [amendment(co_id) for _ in range(8)])
    assert codes == [201] + [409] * 7, codes
    node.settled()
    assert status(node, co_id) == "superseded"


def test_concurrent_revocations_of_one_certificate_accept_one(node: LiveNode) -> None:
    co_id, _, _ = issued(node)
    codes = _race(node, "co.revoked", [revocation(co_id) for _ in range(8)])
    assert codes == [201] + [409] * 7, codes
    node.settled()
    with node.http("auditor") as http:
        events = http.get(f"/v1/documents/{co_id}/provenance").json()["events"]
    assert [e["event"] for e in events].count("co.revoked") == 1


# -- 9. an exporter's application neither blocks nor squats the issuer's number ---------------


def test_an_application_does_not_block_the_issue_of_its_number(node: LiveNode) -> None:
    document = certificate(new_number())
    application = {"document_type": "co_application", "co": document}
    applied = submit(node, "exporter", "co.application", application)
    assert applied.status_code == 201, applied.text
    node.wait_for_block(applied.json()["entry_hash"])
    assert submit(node, "issuer", "co.issued", document).status_code == 201


def test_an_exporter_cannot_squat_a_number_for_another_exporter(node: LiveNode) -> None:
    document = certificate(new_number(), exporter=OUTSIDE_EXPORTER)
    squat = {"document_type": "co_application", "co": document}
    assert submit(node, "exporter", "co.application", squat).status_code == 201
    node.settled()
    issued_ = submit(node, "issuer", "co.issued", document)
    assert issued_.status_code == 201, issued_.text


# -- 10. one entry cannot break the index --------------------------------------------------------


def test_a_certificate_dated_9999_is_refused_and_cannot_break_the_index(node: LiveNode) -> None:
    number = new_number()
    document = certificate(number, issue_date="9999-06-01")
    entry = presign(node, "co.issued", "jp-jcci", document, subject=f"jp-jcci/{number}")
    refused = submit_entry(node, "issuer", entry)
    assert refused.status_code == 422 and refused.json()["code"] == "document-invalid"


def test_a_stored_certificate_dated_9999_does_not_break_the_index(tmp_path: Path) -> None:
    """Had such an entry reached a block (from a peer, or under an older rule), the node must
    still index it, serve proofs and accept its revocation."""
    home = NodeHome(tmp_path)
    writer = run_demo(home, 5)
    number = new_number()
    document = json.dumps(certificate(number, issue_date="9999-06-01")).encode()
    entry = build_entry(
        "co.issued",
        "jp-jcci",
        home.signing_key("jp-jcci"),
        document,
        "application/json",
        consortium_id=home.consortium().consortium_id,
        subject=f"jp-jcci/{number}",
    )
    writer.append([entry])
    writer.store.dispose()
    ledger_node = LedgerNode.open(home, block_interval=0.02)
    try:
        co_id = f"jp-jcci/{number}"
        info = ledger_node.index.document(co_id)
        assert info is not None and info.status == "current" and info.valid_until is None
        auditor = Caller("jp-kanto-audit", "auditor")
        assert ledger_node.provenance(co_id, auditor)["events"][0]["entry_hash"] == entry.hash_hex
        done = threading.Event()
        body = json.dumps(revocation(co_id)).encode()
        revoke = ledger_node.prepare_document(ISSUER, "co.revoked", body, "application/json")
        ledger_node.enqueue_all(revoke, lambda error: done.set())
        assert done.wait(10)
        deadline = time.monotonic() + 10
        while ledger_node.index.document(co_id).status != "revoked":  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the revocation was not indexed"
            time.sleep(0.02)
    finally:
        ledger_node.close()


# -- one set of rules: the two paths accept and refuse the same documents ----------------------

_MUTATIONS = st.fixed_dictionaries(
    {},
    optional={
        "issue_date": st.sampled_from(["9999-06-01", "2020-01-01", date.today().isoformat(), "x"]),
        "importing_country": st.sampled_from(["VN", "TH", "JP", "ZZ", "vn", ""]),
        "agreement": st.sampled_from(["RCEP", "AJCEP", "NOPE"]),
        "number": st.sampled_from([" padded", "a/b", "", "OK-1"]),
        "items": st.sampled_from([[], "none"]),
        "supersedes": st.sampled_from(["jp-jcci/NOPE-1", " jp-jcci/x"]),
        "co_reference": st.just("jp-jcci/NOPE-2"),
        "extra_field": st.just(1),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutation=_MUTATIONS, event=st.sampled_from(["co.issued", "co.amended"]))
def test_presigned_and_node_signed_paths_judge_documents_alike(
    node: LiveNode, mutation: dict[str, object], event: str
) -> None:
    document = {**certificate(new_number()), **mutation}
    body = json.dumps(document).encode()
    outcomes = []
    try:
        (signed,) = node.node.prepare_document(ISSUER, event, body, "application/json")
        outcomes.append("accepted")
        subject, refs = signed.subject, list(signed.refs)
    except TradeLedgerError as exc:
        outcomes.append(exc.code)
        number = document.get("number")
        subject, refs = f"jp-jcci/{number}", []
    entry = presign(node, event, "jp-jcci", body, subject=subject, refs=refs)
    try:
        node.node.prepare_entry(ISSUER, entry.envelope, entry.payload)
        outcomes.append("accepted")
    except TradeLedgerError as exc:
        outcomes.append(exc.code)
    node.node.prepared.forget([entry])  # prepared, never queued
    assert outcomes[0] == outcomes[1], (mutation, outcomes)


@pytest.fixture(autouse=True)
def _no_leftover_claims(node: LiveNode) -> None:
    """Each attack starts with nothing waiting for a block."""
    node.settled()
