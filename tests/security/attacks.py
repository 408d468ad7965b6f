"""What the attackers of tests/security hold: members' keys (a member signs its own entries),
valid documents to start from, and the small HTTP steps every attack takes."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import httpx

from ledger.entries import Entry, build_entry
from nodes import documents_bridge as bridge
from nodes.service import ENTRY_MEDIA_TYPE
from tests.api.conftest import LiveNode
from tests.api.test_api import certificate, new_number

#: An exporter that is no member: a certificate naming it has no exporter party on the ledger.
OUTSIDE_EXPORTER = {
    "name": "Osaka Outside Trading KK",
    "address": "1-1 Umeda, Osaka",
    "country": "JP",
}


def presign(
    live: LiveNode,
    event: str,
    org: str,
    document: dict[str, Any] | bytes,
    *,
    subject: str | None,
    refs: Sequence[str] = (),
) -> Entry:
    """An entry ``org`` signed itself with its own key (the demo home holds every member's)."""
    payload = document if isinstance(document, bytes) else json.dumps(document).encode()
    return build_entry(
        event,
        org,
        live.home.signing_key(org),
        payload,
        "application/json",
        consortium_id=live.node.consortium.consortium_id,
        subject=subject,
        refs=refs,
    )


def submit_entry(live: LiveNode, user: str, entry: Entry) -> httpx.Response:
    body = {
        "envelope": base64.b64encode(entry.envelope).decode(),
        "payload": base64.b64encode(entry.payload or b"").decode(),
    }
    with live.http(user) as http:
        return http.post(
            "/v1/documents",
            content=json.dumps(body),
            headers={"Content-Type": ENTRY_MEDIA_TYPE},
        )


def submit(live: LiveNode, user: str, event: str, document: dict[str, Any]) -> httpx.Response:
    with live.http(user) as http:
        return http.post(
            "/v1/documents",
            params={"event": event},
            content=json.dumps(document),
            headers={"Content-Type": "application/json"},
        )


def issued(live: LiveNode, country: str = "VN", **extra: Any) -> tuple[str, str, dict[str, Any]]:
    """A certificate the issuer recorded: (id, defining entry hash, the document), in a block."""
    document = certificate(new_number(), country, **extra)
    response = submit(live, "issuer", "co.issued", document)
    assert response.status_code == 201, response.text
    receipt = response.json()
    live.wait_for_block(receipt["entry_hash"])
    return receipt["document_id"], receipt["entry_hash"], document


def document_digest(document: dict[str, Any]) -> str:
    """The digest a holder of the document (or of its printed QR code) knows."""
    digest = bridge.document_digest(json.dumps(document).encode(), "application/json")
    assert digest is not None
    return digest


def status(live: LiveNode, co_id: str) -> str:
    with live.http("auditor") as http:
        response = http.get(f"/v1/documents/{co_id}/provenance")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def readable(live: LiveNode, user: str, document_id: str) -> bool:
    """Whether ``user`` gets the document (200) rather than the 404 of a stranger."""
    with live.http(user) as http:
        code = http.get(f"/v1/documents/{document_id}").status_code
    assert code in (200, 404), code
    return code == 200
