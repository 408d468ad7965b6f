"""The document rules that depend on the ledger, applied by a live node when it is sent a
document: numbers are unique per issuer, amendments and declarations name certificates that
are on the ledger and current, declarations match the certificate's lane and goods, and each
event carries its own kind of document. A refused submission appends nothing."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.routes.documents import INLINE_BODY_LIMIT
from ledger.entries import parse_entry
from ledger.errors import Conflict
from nodes.demo import run_demo
from nodes.home import NodeHome
from nodes.service import LedgerNode
from nodes.tokens import create_token
from tests.api.conftest import USERS, LiveNode, free_port, serve_in_thread
from tests.api.test_api import TODAY, certificate, declaration, issue, new_number, revocation


def post(live: LiveNode, user: str, event: str, doc: dict[str, Any]) -> httpx.Response:
    with live.http(user) as h:
        return h.post("/v1/documents", params={"event": event}, json=doc)


def codes(response: httpx.Response) -> list[str]:
    return [e["code"] for e in response.json().get("errors", [])]


def test_a_certificate_number_is_used_once_per_issuer(live: LiveNode) -> None:
    number = new_number()
    assert post(live, "issuer", "co.issued", certificate(number)).status_code == 201
    live.settled()
    again = post(live, "issuer", "co.issued", certificate(number))
    assert again.status_code == 409
    assert again.json()["location"] == "/number"


def test_a_declaration_claiming_a_revoked_certificate_is_refused(live: LiveNode) -> None:
    co_id, _ = issue(live)
    revoked = post(live, "issuer", "co.revoked", revocation(co_id))
    assert revoked.status_code == 201
    live.wait_for_block(revoked.json()["entry_hash"])
    before = live.settled()
    refused = post(live, "vn_customs", "customs.import_declaration", declaration("import", co_id))
    assert refused.status_code == 422
    assert "certificate-revoked" in codes(refused)
    assert any(e["location"] == "/co_reference" for e in refused.json()["errors"])
    assert live.settled() == before


def test_a_declaration_claiming_an_expired_certificate_is_refused(live: LiveNode) -> None:
    # issued 13 months ago (its goods shipped the day before): valid for one year only
    issued = TODAY - timedelta(days=400)
    old = certificate(
        new_number(),
        issue_date=issued.isoformat(),
        transport={"departure_date": (issued - timedelta(days=1)).isoformat()},
        invoice={"number": "INV-OLD", "date": (issued - timedelta(days=2)).isoformat()},
    )
    accepted = post(live, "issuer", "co.issued", old)
    assert accepted.status_code == 201, accepted.json()
    live.settled()
    co_id = accepted.json()["document_id"]
    refused = post(live, "vn_customs", "customs.import_declaration", declaration("import", co_id))
    assert refused.status_code == 422
    assert "certificate-expired" in codes(refused)


def test_a_declaration_claiming_a_superseded_certificate_is_refused(live: LiveNode) -> None:
    co_id, _ = issue(live)
    amended = post(live, "issuer", "co.amended", certificate(new_number(), supersedes=co_id))
    assert amended.status_code == 201
    live.wait_for_block(amended.json()["entry_hash"])
    refused = post(live, "vn_customs", "customs.import_declaration", declaration("import", co_id))
    assert refused.status_code == 422
    assert "certificate-superseded" in codes(refused)


def test_a_declaration_for_another_importing_country_is_refused(live: LiveNode) -> None:
    co_id, _ = issue(live, "VN")
    doc = declaration("import", co_id, country="TH")  # Viet Nam's customs, goods bound for TH
    refused = post(live, "vn_customs", "customs.import_declaration", doc)
    assert refused.status_code == 422
    assert "certificate-country-mismatch" in codes(refused)


def test_a_declaration_for_another_country_or_other_goods_is_refused(live: LiveNode) -> None:
    co_id, _ = issue(live, "VN")
    doc = declaration("import", co_id)
    doc["items"][0]["tariff_code"] = "84581100"  # lathes: not on the certificate
    refused = post(live, "vn_customs", "customs.import_declaration", doc)
    assert refused.status_code == 422
    assert refused.json()["errors"], refused.json()
    assert all(
        e["location"].startswith("/items/0") or e["location"] == "/co_reference"
        for e in refused.json()["errors"]
    )


def test_a_declaration_naming_an_unknown_certificate_is_refused(live: LiveNode) -> None:
    refused = post(
        live,
        "vn_customs",
        "customs.import_declaration",
        declaration("import", f"jp-jcci/{new_number()}"),
    )
    assert refused.status_code == 422
    assert refused.json()["location"] == "/co_reference"


def test_each_event_carries_its_own_kind_of_document(live: LiveNode) -> None:
    co_id, _ = issue(live)
    wrong = post(live, "issuer", "co.issued", revocation(co_id))
    assert wrong.status_code == 422
    assert wrong.json()["location"] == "/document_type"
    export_as_import = post(
        live, "vn_customs", "customs.import_declaration", declaration("export", co_id)
    )
    assert export_as_import.status_code == 422
    assert export_as_import.json()["location"] == "/declaration_type"


@pytest.mark.parametrize("status", ["revoked", "superseded"])
def test_only_a_current_certificate_can_be_amended(live: LiveNode, status: str) -> None:
    co_id, _ = issue(live)
    if status == "revoked":
        assert post(live, "issuer", "co.revoked", revocation(co_id)).status_code == 201
    else:
        first = post(live, "issuer", "co.amended", certificate(new_number(), supersedes=co_id))
        assert first.status_code == 201
    live.settled()
    again = post(live, "issuer", "co.amended", certificate(new_number(), supersedes=co_id))
    assert again.status_code == 409
    assert status in again.json()["detail"]


def test_the_same_number_sent_twice_at_once_is_accepted_once(live: LiveNode) -> None:
    """Both requests pass the index check before either reaches a block: the node's claim on
    the id is what refuses the second."""
    from concurrent.futures import ThreadPoolExecutor

    number = new_number()
    before = live.settled()
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: post(live, "issuer", "co.issued", certificate(number)), range(8))
        )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] + [409] * 7, [r.text for r in answers]
    accepted = next(r for r in answers if r.status_code == 201)
    live.wait_for_block(accepted.json()["entry_hash"])
    assert live.settled() == before + 1
    # once in a block, the id stays taken
    assert post(live, "issuer", "co.issued", certificate(number)).status_code == 409


def test_the_demo_chain_tells_the_example_documents_story(live: LiveNode) -> None:
    """``tradeledger demo`` starts a new chain with examples/documents: the RCEP certificate
    with its declarations, verification and bank presentation, and the revoked AJCEP one."""
    with live.client("auditor") as c:
        story = c.provenance("jp-jcci/JCCI-2026-0004512")
        revoked = c.provenance("jp-jcci/JCCI-2026-0004630")
    assert [e.event for e in story.events] == [
        "co.application",
        "co.issued",
        "customs.export_declaration",
        "customs.import_declaration",
        "customs.verification_requested",
        "customs.verification_result",
        "bank.presentation",
    ]
    assert [e.event for e in revoked.events] == ["co.issued", "co.revoked"]
    assert revoked.status == "revoked"


def test_a_number_stays_taken_after_the_node_restarts(tmp_path: Path) -> None:
    # the node answers "is this id on the ledger?" from ids it loads at start, not only from
    # the ones it indexed since
    home = NodeHome(tmp_path)
    run_demo(home, 40).store.dispose()
    number = new_number()
    node = LedgerNode.open(home, block_interval=0.01)
    issuer = node.authenticate(create_token(node.store, node.consortium, *USERS["issuer"]))
    entries = node.prepare_document(
        issuer, "co.issued", json.dumps(certificate(number)).encode(), "application/json"
    )
    node.enqueue_all(entries, lambda _error: None)
    node.close()  # journals and cuts what is queued
    node = LedgerNode.open(home, block_interval=0.01)
    try:
        assert node.index.document(f"jp-jcci/{number}") is not None
        with pytest.raises(Conflict):
            node.prepare_document(
                issuer, "co.issued", json.dumps(certificate(number)).encode(), "application/json"
            )
    finally:
        node.close()


def test_a_large_certificate_is_checked_and_recorded_like_a_small_one(live: LiveNode) -> None:
    # over api.routes.documents.INLINE_BODY_LIMIT: checked on a worker thread, not the loop
    number = new_number()
    item = certificate(number)["items"][0]
    items = [dict(item, item_number=i, description=f"Brake part {i:04d}") for i in range(1, 401)]
    body = json.dumps(certificate(number, items=items)).encode()
    assert len(body) > INLINE_BODY_LIMIT
    with live.http("issuer") as h:
        accepted = h.post(
            "/v1/documents",
            params={"event": "co.issued"},
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert accepted.status_code == 201, accepted.text
        live.wait_for_block(accepted.json()["entry_hash"])
        stored = h.get(f"/v1/documents/{accepted.json()['document_id']}")
        assert len(stored.json()["items"]) == 400
        again = h.post(
            "/v1/documents",
            params={"event": "co.issued"},
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert again.status_code == 409


def test_a_submission_the_journal_cannot_commit_in_time_is_answered_503(tmp_path: Path) -> None:
    home = NodeHome(tmp_path)
    run_demo(home, 40).store.dispose()
    node = LedgerNode.open(home, block_interval=0.01)
    node.orderer.ack_timeout = 0.3
    token = create_token(node.store, node.consortium, *USERS["issuer"])
    slow_append = node.journal.append

    def stalled(*args: Any, **kwargs: Any) -> None:
        time.sleep(1.0)  # a disk that stopped answering for a while
        slow_append(*args, **kwargs)

    node.journal.append = stalled  # type: ignore[method-assign]
    port = free_port()
    server, thread = serve_in_thread(node, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            headers = {"Authorization": f"Bearer {token}"}
            answer = client.post(
                "/v1/documents",
                params={"event": "co.issued"},
                json=certificate(new_number()),
                headers=headers,
            )
            assert answer.status_code == 503
            assert answer.json()["code"] == "storage"
            assert "in time" in answer.json()["detail"]
            assert client.get("/v1/health").status_code == 200  # still serving
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        node.close()


def test_a_refused_submission_leaves_nothing_behind_in_the_node(tmp_path: Path) -> None:
    # what a check keeps for indexing (digest, fields, and that the node signed it) is dropped
    # when the submission is refused after the check, here by a concurrent one's claim
    home = NodeHome(tmp_path)
    run_demo(home, 40).store.dispose()
    node = LedgerNode.open(home, block_interval=5)
    try:
        issuer = node.authenticate(create_token(node.store, node.consortium, *USERS["issuer"]))
        number = new_number()
        first, second = (
            node.prepare_document(
                issuer,
                "co.issued",
                json.dumps(certificate(number, remarks=remark)).encode(),
                "application/json",
            )
            for remark in ("first", "second")
        )
        node.enqueue_all(first, lambda _error: None)
        with pytest.raises(Conflict):
            node.enqueue_all(second, lambda _error: None)
        assert second[0].entry_hash not in node.prepared
        assert first[0].entry_hash in node.prepared  # until its block is indexed
    finally:
        node.close()
    assert first[0].entry_hash not in node.prepared


def test_a_declaration_sent_right_after_its_certificate_is_judged_against_it(
    tmp_path: Path,
) -> None:
    # blocks every 0.6 s: the declaration arrives while its certificate is acknowledged but
    # not yet in a block (nor indexed), which once gave 422 certificate-not-on-ledger
    home = NodeHome(tmp_path)
    run_demo(home, 40).store.dispose()
    node = LedgerNode.open(home, block_interval=0.6)
    tokens = {
        user: create_token(node.store, node.consortium, *USERS[user])
        for user in ("issuer", "vn_customs", "th_customs")
    }
    port = free_port()
    server, thread = serve_in_thread(node, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            def post_as(user: str, event: str, doc: dict[str, Any]) -> httpx.Response:
                return client.post(
                    "/v1/documents",
                    params={"event": event},
                    json=doc,
                    headers={"Authorization": f"Bearer {tokens[user]}"},
                )

            issued = post_as("issuer", "co.issued", certificate(new_number()))
            assert issued.status_code == 201
            co_id = issued.json()["document_id"]
            assert node.pending_documents([co_id]) == [co_id]  # the race is on
            declared = post_as(
                "vn_customs", "customs.import_declaration", declaration("import", co_id)
            )
            assert declared.status_code == 201, declared.text
            stored = node.reads.entry_by_hash(bytes.fromhex(declared.json()["entry_hash"]))
            deadline = time.monotonic() + 10
            while stored is None:
                assert time.monotonic() < deadline
                time.sleep(0.02)
                stored = node.reads.entry_by_hash(bytes.fromhex(declared.json()["entry_hash"]))
            assert list(parse_entry(stored.envelope).refs) == [issued.json()["entry_hash"]]
            # the rules still apply once the certificate is seen: customs of another country
            # may not file against it, however soon after it they try
            again = post_as("issuer", "co.issued", certificate(new_number()))
            other = post_as(
                "th_customs",
                "customs.import_declaration",
                declaration("import", again.json()["document_id"]),
            )
            assert other.status_code in (403, 422), other.text
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        node.close()
