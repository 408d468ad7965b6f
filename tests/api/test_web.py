"""The public /verify page and the printable certificate, over HTTP against a live node.

What a stranger learns by number (status, issuer, dates, timeline, checkpoint) and what only a
holder of the document learns (goods and parties); every mistake a visitor can make answered
in the page with a 4xx; the PDF for parties and for digest holders, whose QR code leads back
to the page.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from html import unescape
from typing import Any

import httpx
import pytest

import documents
from documents.rules import validity_end
from tests.api.conftest import LiveNode
from tests.api.test_api import TODAY
from tests.documents.test_printable import scanned, text_of

JCCI = "The Japan Chamber of Commerce and Industry"
# dates follow today's, so that the certificates stay valid whenever the tests run
ISSUED = TODAY - timedelta(days=2)
VALID_UNTIL = validity_end("RCEP", ISSUED)


def full_certificate(number: str, **extra: Any) -> dict[str, Any]:
    """A certificate with every box of the form filled, and goods no page shows by number."""
    tag = number[-6:]
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
        "producer": {"name": f"Okayama Gearworks {tag}", "address": "Okayama", "country": "JP"},
        "importer": {
            "name": f"Saigon Importer {tag} JSC",
            "address": "Lot B2, Tan Thuan EPZ, Ho Chi Minh City",
            "country": "VN",
        },
        "transport": {
            "departure_date": (ISSUED - timedelta(days=1)).isoformat(),
            "vessel": "ONE HARMONY 041S",
            "port_of_loading": "JPTYO",
            "port_of_discharge": "VNSGN",
        },
        "invoice": {"number": f"INV-{tag}", "date": (ISSUED - timedelta(days=2)).isoformat()},
        "items": [
            {
                "item_number": 1,
                "marks": "TPM/HCM 1-4",
                "packages": "4 wooden crates",
                "description": f"Numerically controlled lathes model {tag}",
                "hs_code": "845811",
                "hs_edition": "HS2022",
                "origin_criterion": "RVC",
                "country_of_origin": "JP",
                "quantity": "4",
                "unit": "PCE",
                "fob_value": "86000.00",
                "currency": "USD",
            },
            {
                "item_number": 2,
                "description": f"Brake assemblies batch {tag}",
                "hs_code": "870830",
                "hs_edition": "HS2022",
                "origin_criterion": "CTC",
                "country_of_origin": "JP",
                "quantity": "120",
                "unit": "PCE",
            },
        ],
        "issue_date": ISSUED.isoformat(),
        "importing_country": "VN",
        **extra,
    }


def new_number() -> str:
    return f"W-{uuid.uuid4().hex[:10].upper()}"


def submit(live: LiveNode, user: str, body: bytes, event: str, media: str) -> dict[str, Any]:
    with live.http(user) as h:
        r = h.post(
            "/v1/documents", params={"event": event}, content=body, headers={"content-type": media}
        )
    assert r.status_code == 201, r.text
    receipt: dict[str, Any] = r.json()
    live.wait_for_block(receipt["entry_hash"])
    return receipt


def revoke(live: LiveNode, doc_id: str) -> dict[str, Any]:
    body = json.dumps(
        {"document_type": "co_revocation", "co_reference": doc_id, "reason": "in error"}
    ).encode()
    return submit(live, "issuer", body, "co.revoked", "application/json")


def issue(live: LiveNode, **extra: Any) -> tuple[str, bytes]:
    """Issue a full certificate; return its id and the exact bytes on the ledger."""
    body = json.dumps(full_certificate(new_number(), **extra)).encode()
    receipt = submit(live, "issuer", body, "co.issued", "application/json")
    return receipt["document_id"], body


def page(response: httpx.Response) -> str:
    """The visible text of an HTML page (tags dropped, whitespace folded)."""
    assert response.headers["content-type"].startswith("text/html"), response.text[:300]
    html = re.sub(r"<(style|script)\b.*?</\1>", "", response.text, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def status_of(response: httpx.Response) -> str:
    found = re.search(r'data-status="([a-z]+)"', response.text)
    assert found, response.text[:500]
    return found.group(1)


def timeline(response: httpx.Response) -> list[tuple[str, ...]]:
    """(event type, label, time, actor, block height) of each row of the page's timeline."""
    rows = []
    for event, row in re.findall(r'<tr data-event="([^"]+)">(.*?)</tr>', response.text, re.S):
        cells = [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split())
            for c in re.findall(r"<td>(.*?)</td>", row, re.S)
        ]
        rows.append((event, *cells))
    return rows


def digest(body: bytes) -> str:
    """The document digest (the same for a document's XML and JSON), which the QR code carries."""
    media = "application/xml" if body.lstrip().startswith(b"<") else "application/json"
    return documents.document_digest(documents.parse_document(body, media))


@pytest.fixture
def web(live: LiveNode) -> httpx.Client:
    return live.http()  # no token: the page is for anyone


def test_the_form_is_light_accessible_and_self_contained(web: httpx.Client) -> None:
    r = web.get("/verify")
    assert r.status_code == 200
    text = page(r)
    assert "Look up by number" in text and "Check a file" in text
    html = r.text
    # every input has a label
    for input_id in re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', html):
        assert f'<label for="{input_id}"' in html, input_id
    assert "<script" not in html
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "no external assets"
    assert 'name="viewport"' in html
    assert "default-src 'none'" in r.headers["content-security-policy"]
    # the issuing bodies of the consortium, by legal name
    assert '<option value="jp-jcci"' in html and JCCI in text


def test_lookup_by_number_shows_status_timeline_and_checkpoint_but_not_goods(
    live: LiveNode, web: httpx.Client
) -> None:
    doc_id, body = issue(live)
    issuer, number = doc_id.split("/")
    r = web.get("/verify", params={"issuer": issuer, "number": number})
    assert r.status_code == 200
    assert status_of(r) == "valid"
    text = page(r)
    assert "Valid — the certificate is current" in text
    assert number in text and JCCI in text
    assert f"Valid until {VALID_UNTIL.isoformat()}" in text
    # timeline: type, time, actor's legal name and block height
    rows = timeline(r)
    assert rows and rows[0][0] == "co.issued" and rows[0][3] == JCCI
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", rows[0][2])
    assert int(rows[0][4]) >= 1
    # the checkpoint, with who signed it and the inclusion of the issuing entry
    tree_size = int(re.search(r"Tree size (\d+) entries", text).group(1))  # type: ignore[union-attr]
    leaf = int(re.search(r"leaf (\d+)\)", text).group(1))  # type: ignore[union-attr]
    assert leaf < tree_size <= live.node.head.tree_size
    assert re.search(r"Root hash [0-9a-f]{64}", text)
    assert re.search(r"Signed by [^·]*" + re.escape(JCCI), text)
    assert "is proven to be in this tree" in text
    # and the status by the status map the block commits to, with every event shown
    assert (
        "The status is proven: the status map this block commits to records it, with 1 event"
        in text
    )
    # confidentiality: nothing of the goods or the parties' documents
    cert = json.loads(body)
    for secret in (
        cert["items"][0]["description"],
        cert["items"][1]["description"],
        cert["importer"]["name"],
        cert["producer"]["name"],
        cert["invoice"]["number"],
        "845811",
    ):
        assert secret not in r.text
    assert 'id="goods-hidden"' in r.text and "/verify/pdf" not in r.text


def test_the_qr_digest_proves_possession_and_shows_goods(live: LiveNode, web: httpx.Client) -> None:
    doc_id, body = issue(live)
    cert = json.loads(body)
    r = web.get("/verify", params={"id": doc_id, "d": digest(body)})
    assert r.status_code == 200 and status_of(r) == "valid"
    text = page(r)
    for shown in (
        cert["items"][0]["description"],
        cert["items"][1]["description"],
        "845811",
        "RVC",
        "CTC",
        "FOB USD 86000.00",
        cert["importer"]["name"],
        cert["producer"]["name"],
        cert["invoice"]["number"],
    ):
        assert shown in text, shown
    assert f"Issue date {ISSUED.isoformat()}" in text
    assert re.search(r'<a href="/verify/pdf\?id=[^"]+" id="pdf-link">', r.text)

    # the digest in upper case is the same digest; a wrong one warns and shows nothing
    assert status_of(web.get("/verify", params={"id": doc_id, "d": digest(body).upper()})) == (
        "valid"
    )
    wrong = web.get("/verify", params={"id": doc_id, "d": "0" * 64})
    assert wrong.status_code == 200 and 'id="warning"' in wrong.text
    assert cert["items"][0]["description"] not in wrong.text


def test_an_uploaded_file_shows_goods_and_an_altered_one_is_flagged(
    live: LiveNode, web: httpx.Client
) -> None:
    doc_id, body = issue(live)
    cert = json.loads(body)
    r = web.post("/verify", files={"file": ("co.json", body, "application/octet-stream")})
    assert r.status_code == 200 and status_of(r) == "valid"
    assert cert["items"][0]["description"] in page(r)
    assert doc_id.split("/")[1] in page(r)

    forged = dict(cert, items=[dict(cert["items"][0], quantity="400")])
    r = web.post("/verify", files={"file": ("co.json", json.dumps(forged).encode(), "x/y")})
    assert r.status_code == 200
    assert status_of(r) == "valid"  # the ledger's certificate is fine ...
    assert "does not match the certificate on the ledger" in page(r)  # ... the file is not
    assert cert["items"][0]["description"] not in r.text

    unknown = dict(cert, number=new_number())
    r = web.post("/verify", files={"file": ("co.json", json.dumps(unknown).encode(), "x/y")})
    assert r.status_code == 404 and status_of(r) == "unknown"


def test_an_uploaded_xml_certificate(live: LiveNode, web: httpx.Client) -> None:
    number = new_number()
    doc = full_certificate(number)
    doc["items"][0]["description"] = "Spindle motors in XML"
    doc["items"][0]["hs_code"] = "850152"
    xml = documents.to_xml(documents.parse_document(json.dumps(doc).encode(), "application/json"))
    submit(live, "issuer", xml, "co.issued", "application/xml")
    r = web.post("/verify", files={"file": ("co.xml", xml, "text/xml")})
    assert r.status_code == 200 and status_of(r) == "valid"
    text = page(r)
    assert "Spindle motors in XML" in text and "850152" in text and number in text


def test_revoked_and_superseded_certificates(live: LiveNode, web: httpx.Client) -> None:
    revoked_id, _ = issue(live)
    revoke(live, revoked_id)
    r = web.get("/verify", params={"id": revoked_id})
    assert r.status_code == 200 and status_of(r) == "revoked"
    assert "Revoked by the issuing body" in page(r)
    assert re.findall(r'data-event="([^"]+)"', r.text)[-1] == "co.revoked"
    assert "The status is proven: the status map this block commits to records it, with 2" in (
        page(r)
    )

    old_id, _ = issue(live)
    new_body = json.dumps(full_certificate(new_number(), supersedes=old_id)).encode()
    new_id = submit(live, "issuer", new_body, "co.amended", "application/json")["document_id"]
    r = web.get("/verify", params={"id": old_id})
    assert status_of(r) == "superseded"
    assert f'href="/verify?id={new_id}"' in r.text.replace("%2F", "/")
    assert status_of(web.get("/verify", params={"id": new_id})) == "valid"


def test_unknown_numbers_and_documents_that_are_not_certificates(
    live: LiveNode, web: httpx.Client
) -> None:
    r = web.get("/verify", params={"issuer": "jp-jcci", "number": "NO-SUCH-NUMBER"})
    assert r.status_code == 404 and status_of(r) == "unknown"
    assert "no certificate with this number" in page(r)
    # a customs declaration exists on the ledger, but it is not public: the page says unknown
    with live.node.store.engine.connect() as conn:
        from sqlalchemy import text

        declaration = conn.execute(
            text("SELECT document_id FROM node_documents WHERE kind = 'customs_declaration'")
        ).scalar()
    assert declaration
    r = web.get("/verify", params={"id": declaration})
    assert r.status_code == 404 and status_of(r) == "unknown"
    assert 'data-event="' not in r.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"issuer": "jp-jcci", "number": ""}, "Enter the certificate number"),
        ({"issuer": "jp-jcci", "number": "A/B"}, "without '/'"),
        ({"issuer": "jp-jcci", "number": "X" * 200}, "at most 128"),
        ({"issuer": "Not An Org!", "number": "X"}, "organisation id"),
        ({"number": "X"}, "choose the issuing body"),
        ({"id": "no-slash"}, "id is <issuer>/<certificate number>"),
        ({"id": "jp-jcci/X", "d": "abc"}, "64 hexadecimal digits"),
        ({"d": "0" * 64}, "choose the issuing body"),
    ],
)
def test_bad_lookups_are_explained_in_the_page(
    web: httpx.Client, params: dict[str, str], message: str
) -> None:
    r = web.get("/verify", params=params)
    assert r.status_code == 422
    assert 'role="alert"' in r.text and message.lower() in page(r).lower()
    assert "Look up by number" in page(r)  # the form is there to try again


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"file": ("a.txt", b"hello", "text/plain")}, "neither XML nor JSON"),
        ({"file": ("a.json", b"", "application/json")}, "the file is empty"),
        ({"file": ("a.json", b'{"number": ', "application/json")}, "malformed JSON"),
        ({"file": ("a.xml", b"<co><number>1</co>", "text/xml")}, "malformed XML"),
        ({"file": ("a.json", b'{"hello": "world"}', "application/json")}, "names no issuer"),
        ({"file": ("a.json", b"[1, 2]", "application/json")}, "a JSON object"),
        ({"other": ("a.json", b"{}", "application/json")}, "choose a certificate file"),
    ],
)
def test_bad_uploads_are_explained_in_the_page(
    web: httpx.Client, files: dict[str, Any], message: str
) -> None:
    r = web.post("/verify", files=files)
    assert r.status_code == 422, r.text[:300]
    assert message.lower() in page(r).lower()


def test_a_request_that_is_not_a_form(web: httpx.Client) -> None:
    for headers, content in (
        ({"content-type": "multipart/form-data; boundary=zz"}, b"garbage"),
        ({"content-type": "application/json"}, b'{"file": 1}'),
    ):
        r = web.post("/verify", headers=headers, content=content)
        assert r.status_code == 422 and 'role="alert"' in r.text


def test_pdf_for_parties_only(live: LiveNode) -> None:
    doc_id, body = issue(live)
    for user in ("issuer", "exporter", "vn_customs", "auditor"):
        with live.http(user) as h:
            r = h.get(f"/v1/documents/{doc_id}/pdf")
        assert r.status_code == 200, (user, r.text)
        assert r.headers["content-type"] == "application/pdf"
    text = text_of(r.content)
    assert doc_id.split("/")[1] in text and "CERTIFICATE OF ORIGIN" in text
    assert json.loads(body)["items"][0]["description"] in text
    (payload,) = scanned(r.content)
    assert payload == f"{live.base_url}/verify?id={doc_id}&d={digest(body)}"
    for user in ("bank", "th_customs"):  # not parties (yet): as if it did not exist
        with live.http(user) as h:
            r = h.get(f"/v1/documents/{doc_id}/pdf")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    with live.http() as h:
        assert h.get(f"/v1/documents/{doc_id}/pdf").status_code == 401


def test_the_printed_qr_code_leads_back_to_the_goods(live: LiveNode, web: httpx.Client) -> None:
    doc_id, body = issue(live)
    r = web.get("/verify", params={"id": doc_id, "d": digest(body)})
    link = unescape(re.search(r'href="(/verify/pdf\?[^"]+)"', r.text).group(1))  # type: ignore[union-attr]
    pdf = web.get(link)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    (url,) = scanned(pdf.content)
    assert url.startswith(live.base_url + "/verify?")
    after_scan = web.get(url)
    assert status_of(after_scan) == "valid"
    assert json.loads(body)["items"][1]["description"] in page(after_scan)
    # without the right digest there is no PDF, whatever the reason
    for params in ({"id": doc_id, "d": "1" * 64}, {"id": "jp-jcci/NOPE", "d": digest(body)}):
        r = web.get("/verify/pdf", params=params)
        assert r.status_code == 404


def test_a_revoked_certificate_prints_its_status(live: LiveNode) -> None:
    doc_id, _ = issue(live)
    revoke(live, doc_id)
    with live.http("issuer") as h:
        r = h.get(f"/v1/documents/{doc_id}/pdf")
    assert "LEDGER STATUS: REVOKED" in text_of(r.content)


def test_only_certificates_print(live: LiveNode) -> None:
    doc_id, _ = issue(live)
    receipt = submit(
        live,
        "jp_customs",
        json.dumps(
            {
                "document_type": "customs_declaration",
                "declaration_type": "export",
                "number": new_number(),
                "declaration_date": ISSUED.isoformat(),
                "exporting_country": "JP",
                "destination_country": "VN",
                "co_reference": doc_id,
                "items": [
                    {
                        "item_number": 1,
                        "tariff_code": "84581100",
                        "hs_edition": "HS2022",
                        "description": "Lathes",
                        "quantity": "4",
                        "unit": "PCE",
                        "customs_value": "86000.00",
                        "currency": "USD",
                    }
                ],
            }
        ).encode(),
        "customs.export_declaration",
        "application/json",
    )
    with live.http("auditor") as h:
        r = h.get(f"/v1/documents/{receipt['document_id']}/pdf")
    assert r.status_code == 422 and "only certificates print" in r.json()["detail"]
