"""The printable certificate: a Form RCEP PDF from a plain dict, with a QR code that scans."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader
from typer.testing import CliRunner

from documents.printable import items_of, quantity_text, render_certificate_pdf, verify_url
from documents.profiles import RCEP_BOXES
from ledger.errors import InvalidInput
from nodes.cli.main import app

PROFILE_TITLES = {b.number: f"{b.number}. {b.title}" for b in RCEP_BOXES}


def certificate(**extra: Any) -> dict[str, Any]:
    return {
        "document_type": "certificate_of_origin",
        "agreement": "RCEP",
        "number": "JCCI-2026-0000042",
        "issuer": "jp-jcci",
        "exporter": {"name": "Tanaka Precision Machinery Co., Ltd.", "country": "JP"},
        "importer": {
            "name": "Công ty Nhập khẩu Sài Gòn",
            "address": "Hồ Chí Minh",
            "country": "VN",
        },
        "transport": {"departure_date": "2026-11-19", "vessel": "ONE HARMONY 041S"},
        "invoice": {"number": "INV-77", "date": "2026-11-18"},
        "items": [
            {
                "item_number": 1,
                "marks": "TPM 1-4",
                "packages": "4 crates",
                "description": "Numerically controlled lathes",
                "hs_code": "845811",
                "hs_edition": "HS2022",
                "origin_criterion": "RVC",
                "country_of_origin": "JP",
                "quantity": "4",
                "unit": "PCE",
                "fob_value": "86000.00",
                "currency": "USD",
            }
        ],
        "issue_date": "2026-11-20",
        "importing_country": "VN",
        **extra,
    }


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


def scanned(pdf: bytes) -> list[str]:
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=3).to_pil()
    return [r.text for r in zxingcpp.read_barcodes(image)]


def test_the_form_boxes_and_the_qr_code() -> None:
    link = verify_url("https://node.example/", "jp-jcci/JCCI-2026-0000042", "ab" * 32)
    assert link == f"https://node.example/verify?id=jp-jcci/JCCI-2026-0000042&d={'ab' * 32}"
    pdf = render_certificate_pdf(certificate(), verify_link=link, issuer_name="JCCI")
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    for expected in (
        "JCCI-2026-0000042",
        "CERTIFICATE OF ORIGIN",
        "REGIONAL COMPREHENSIVE ECONOMIC PARTNERSHIP AGREEMENT",
        "1. Goods consigned from",
        "2. Goods consigned to",
        "3. Producer's name",
        "4. Means of transport",
        "5. For official use",
        "16. Certification",
        "Tanaka Precision Machinery Co., Ltd.",
        "Công ty Nhập khẩu Sài Gòn",  # beyond Latin-1: an embedded Unicode font
        "Numerically controlled lathes",
        "845811",
        "4 PCE; FOB USD 86000.00",
        "INV-77, 2026-11-18",
        "These goods are exported to: VN",
    ):
        assert expected in text, expected
    assert "LEDGER STATUS" not in text
    assert scanned(pdf) == [link]


def test_each_party_is_printed_in_its_form_rcep_box() -> None:
    producer = {"name": "Kobe Spindle Works", "country": "JP"}
    text = text_of(render_certificate_pdf(certificate(producer=producer, back_to_back=True)))
    order = [
        text.index(PROFILE_TITLES["2"]),
        text.index("Công ty Nhập khẩu Sài Gòn"),
        text.index(PROFILE_TITLES["3"]),
        text.index("Kobe Spindle Works"),
    ]
    assert order == sorted(order)
    assert "17. ☒ Back-to-back certificate of origin" in text


def test_a_sparse_certificate_still_prints() -> None:
    sparse = {"number": "X-1", "issuer": "jp-jcci", "items": {"item": {"description": "Tea"}}}
    pdf = render_certificate_pdf(sparse, status="revoked")
    text = text_of(pdf)
    assert "LEDGER STATUS: REVOKED" in text and "X-1" in text and "Tea" in text
    assert scanned(pdf) == []  # no link, no code


def test_many_items_run_onto_more_pages_with_the_header_repeated() -> None:
    items = [dict(certificate()["items"][0], item_number=n) for n in range(1, 61)]
    pdf = render_certificate_pdf(certificate(items=items), verify_link="http://n/verify?id=a/b")
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) >= 2
    assert "9. HS code of the goods" in pages[1].extract_text().replace("\n", " ")


def test_a_box_too_big_for_a_page_is_refused() -> None:
    huge = certificate(remarks="word " * 20_000)
    with pytest.raises(InvalidInput, match="cannot be laid out"):
        render_certificate_pdf(huge)


def test_helpers_tolerate_missing_fields() -> None:
    assert items_of({}) == [] and items_of({"items": "nonsense"}) == []
    assert items_of({"items": {"item": [{"a": 1}, {"a": 2}]}}) == [{"a": 1}, {"a": 2}]
    assert quantity_text({"quantity": "3", "unit": "KGM"}) == "3 KGM"
    assert quantity_text({"fob_value": "10"}) == "FOB 10"


def test_doc_pdf_command(tmp_path: Path) -> None:
    body = json.dumps(certificate()).encode()
    source = tmp_path / "co.json"
    source.write_bytes(body)
    out = tmp_path / "printed.pdf"
    runner = CliRunner()
    result = runner.invoke(
        app, ["doc", "pdf", str(source), "--out", str(out), "--base-url", "https://n.example"]
    )
    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()
    assert "JCCI-2026-0000042" in text_of(pdf)
    digest = hashlib.sha256(body).hexdigest()
    assert scanned(pdf) == [f"https://n.example/verify?id=jp-jcci/JCCI-2026-0000042&d={digest}"]
    # the default output is beside the file
    assert runner.invoke(app, ["doc", "pdf", str(source)]).exit_code == 0
    assert (tmp_path / "co.pdf").is_file()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a document", "neither XML nor JSON"),
        (b'{"number": 1', "malformed JSON"),
        (b'{"document_type": "customs_declaration", "number": "1"}', "not a certificate"),
        (b'{"items": []}', "names no issuer and number"),
    ],
)
def test_doc_pdf_refuses_what_is_not_a_certificate(
    tmp_path: Path, content: bytes, message: str
) -> None:
    source = tmp_path / "bad.json"
    source.write_bytes(content)
    result = CliRunner().invoke(app, ["doc", "pdf", str(source)])
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "bad.pdf").exists()
