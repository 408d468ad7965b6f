"""Bad input: every case is refused with a located, coded, plain error — never a crash or a
hang (each case's work is bounded by the size and depth limits checked before or while
parsing)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

import documents
from documents.parsing import MAX_BYTES, MAX_DEPTH
from documents.xmlform import to_xml
from ledger.errors import DocumentInvalid, InvalidInput
from tests.documents.helpers import RCEP_CO, codes, example_bytes, example_json, parse_json

CO_NS = b'xmlns="urn:tradeledger:co:1"'


def refuse(data: bytes, media: str = "application/xml") -> DocumentInvalid:
    with pytest.raises(DocumentInvalid) as caught:
        documents.validate(documents.parse_document(data, media))
    exc = caught.value
    assert isinstance(exc, InvalidInput) and exc.status == 422
    assert exc.errors, "every refusal lists its errors"
    for error in exc.errors:
        assert error["code"] and error["location"] and error["message"].endswith(".")
    return exc


def first_code(data: bytes, media: str = "application/xml") -> str:
    return refuse(data, media).errors[0]["code"]


def test_malformed_xml_names_line_and_column() -> None:
    exc = refuse(example_bytes(RCEP_CO, ".xml")[:700])
    assert exc.errors[0]["code"] == "xml-malformed"
    assert exc.errors[0]["location"].startswith("line ")


def test_xxe_payload_is_refused_without_reading_the_file() -> None:
    payload = (
        b'<?xml version="1.0"?><!DOCTYPE co [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<CertificateOfOrigin " + CO_NS + b"><AgreementID>&xxe;</AgreementID>"
        b"</CertificateOfOrigin>"
    )
    exc = refuse(payload)
    assert exc.errors[0]["code"] == "xml-doctype-forbidden"
    assert "root:" not in json.dumps(exc.errors)


def test_billion_laughs_is_refused() -> None:
    entities = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10)
        for i in range(1, 10)
    )
    payload = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [' + entities + b"]>"
        b"<CertificateOfOrigin " + CO_NS + b"><AgreementID>&lol9;</AgreementID>"
        b"</CertificateOfOrigin>"
    )
    assert first_code(payload) == "xml-doctype-forbidden"


def test_xxe_hidden_from_the_prescan_is_still_not_expanded() -> None:
    # an external entity reference with no DTD at all: the parser must not resolve it
    payload = (
        b"<CertificateOfOrigin "
        + CO_NS
        + b"><AgreementID>&xxe;</AgreementID></CertificateOfOrigin>"
    )
    assert first_code(payload) == "xml-malformed"


def test_200_levels_of_nesting_are_refused_while_parsing() -> None:
    deep = b"<CertificateOfOrigin " + CO_NS + b">" + b"<a>" * 200 + b"</a>" * 200
    deep += b"</CertificateOfOrigin>"
    exc = refuse(deep)
    assert exc.errors[0]["code"] == "xml-too-deep"
    assert str(MAX_DEPTH) in exc.errors[0]["message"]
    # unterminated: refused at the depth limit, before the parser sees the missing end tags
    assert first_code(b"<CertificateOfOrigin " + CO_NS + b">" + b"<a>" * 100_000) == "xml-too-deep"


def test_deeply_nested_json_is_refused() -> None:
    assert first_code(b"[" * 100_000 + b"]" * 100_000, "application/json") == "json-too-deep"


@pytest.mark.parametrize("media", ["application/xml", "application/json"])
def test_20_mb_file_is_refused_before_parsing(media: str) -> None:
    data = b"<a>" + b" " * (20 * 1024 * 1024) + b"</a>"
    exc = refuse(data, media)
    assert exc.errors[0]["code"] == "too-large"
    assert str(MAX_BYTES) in exc.errors[0]["message"]


def test_wrong_namespace() -> None:
    data = example_bytes(RCEP_CO, ".xml").replace(b"urn:tradeledger:co:1", b"urn:example:co")
    exc = refuse(data)
    assert exc.errors[0]["code"] == "xml-wrong-namespace"
    assert "urn:tradeledger:co:1" in exc.errors[0]["message"]


def test_unknown_root_element() -> None:
    assert first_code(b'<Invoice xmlns="urn:tradeledger:co:1"/>') == "unknown-document-type"


@pytest.mark.parametrize(
    "suffix,media", [(".xml", "application/xml"), (".json", "application/json")]
)
def test_invalid_utf8(suffix: str, media: str) -> None:
    data = example_bytes(RCEP_CO, suffix).replace(b"Saigon", b"Sa\xc3\x28gon")
    bad_at = data.index(b"\xc3\x28")
    exc = refuse(data, media)
    assert exc.errors[0]["code"] == "not-utf8"
    assert exc.errors[0]["location"] == f"byte {bad_at}"


def test_non_utf8_declared_encoding_is_refused() -> None:
    data = example_bytes(RCEP_CO, ".xml").replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'")
    assert first_code(data) == "not-utf8"


@pytest.mark.parametrize(
    "suffix,media", [(".xml", "application/xml"), (".json", "application/json")]
)
def test_hs_code_that_does_not_exist(suffix: str, media: str) -> None:
    data = example_bytes(RCEP_CO, suffix).replace(b"845811", b"845898")
    exc = refuse(data, media)
    assert exc.errors == [
        {
            "code": "unknown-hs-code",
            "location": "/items/0/hs_code",
            "message": "845898 is not a subheading of HS2012.",
            "xpath": "/co:CertificateOfOrigin/co:IncludedItem[1]/co:HSSubheadingCode",
        }
    ]


def test_hs_code_that_exists_only_in_a_later_edition() -> None:
    doc = example_json(RCEP_CO)
    doc["items"][0]["hs_code"] = "852411"  # flat panel display modules: new in HS2022
    with pytest.raises(DocumentInvalid) as caught:
        documents.validate(parse_json(doc))
    assert codes(caught) == ["unknown-hs-code"]
    doc["items"][0]["hs_edition"] = "HS2022"
    documents.validate(parse_json(doc))


@pytest.mark.parametrize(
    "suffix,media", [(".xml", "application/xml"), (".json", "application/json")]
)
def test_negative_quantity(suffix: str, media: str) -> None:
    marker = b"<Quantity>120</Quantity>" if suffix == ".xml" else b'"quantity": "120"'
    data = example_bytes(RCEP_CO, suffix).replace(marker, marker.replace(b"120", b"-120"))
    exc = refuse(data, media)
    assert [(e["code"], e["location"]) for e in exc.errors] == [
        ("quantity-not-positive", "/items/4/quantity")
    ]


def both_forms(doc: dict) -> list[tuple[bytes, str]]:
    """A (possibly rule-breaking) document as JSON and as XML."""
    return [
        (json.dumps(doc).encode(), "application/json"),
        (to_xml(parse_json(doc)), "application/xml"),
    ]


def test_missing_fob_under_rvc() -> None:
    doc = example_json(RCEP_CO)
    del doc["items"][0]["fob_value"], doc["items"][0]["currency"]
    for data, media in both_forms(doc):
        exc = refuse(data, media)
        assert [(e["code"], e["location"]) for e in exc.errors] == [
            ("fob-missing", "/items/0/fob_value")
        ]
        assert "RVC" in exc.errors[0]["message"]


def test_structural_errors_are_all_reported_with_pointers() -> None:
    doc = example_json(RCEP_CO)
    del doc["number"]
    doc["items"][1]["quantity"] = 1.5
    doc["items"][2]["surprise"] = True
    doc["importing_country"] = "Viet Nam"
    exc = refuse(json.dumps(doc).encode(), "application/json")
    found = {(e["location"], e["code"]) for e in exc.errors}
    assert found == {
        ("/number", "missing-field"),
        ("/items/1/quantity", "not-text"),
        ("/items/2/surprise", "unknown-field"),
        ("/importing_country", "bad-format"),
    }
    message = next(e["message"] for e in exc.errors if e["location"] == "/importing_country")
    assert message == "importing_country: 'Viet Nam' is not an ISO 3166-1 alpha-2 country code."


def test_xsd_errors_are_located_by_xpath() -> None:
    data = example_bytes(RCEP_CO, ".xml").replace(b">845811<", b">84581<")
    exc = refuse(data)
    assert exc.errors[0]["code"] == "xsd-cvc-pattern-valid"
    assert exc.errors[0]["location"] == (
        "/co:CertificateOfOrigin/co:IncludedItem[1]/co:HSSubheadingCode"
    )


@pytest.mark.parametrize(
    "mutate,code",
    [
        (lambda d: d.update(importing_country="XX"), "unknown-country"),
        (lambda d: d["items"][0].update(currency="XXY"), "unknown-currency"),
        (lambda d: d.update(agreement="NAFTA"), "unknown-agreement"),
        (lambda d: d["items"][3].update(origin_criterion="LVC"), "unknown-criterion"),
        (
            lambda d: d["importer"].update(country="US") or d.update(importing_country="US"),
            "not-a-party",
        ),
        (lambda d: d["items"][1].update(item_number=1), "duplicate-item-number"),
        (lambda d: d.update(issue_date="2099-01-01"), "date-in-future"),
    ],
)
def test_codes_and_countries(mutate: Callable[[dict], object], code: str) -> None:
    doc = example_json(RCEP_CO)
    mutate(doc)
    exc = refuse(json.dumps(doc).encode(), "application/json")
    assert code in [e["code"] for e in exc.errors]


@pytest.mark.parametrize(
    "data,media,code",
    [
        (b"", "application/json", "empty"),
        (b"[1, 2]", "application/json", "not-an-object"),
        (b'{"number": "X"}', "application/json", "missing-document-type"),
        (b'{"document_type": "invoice"}', "application/json", "unknown-document-type"),
        (
            b'{"document_type": "co_revocation", "document_type": "x"}',
            "application/json",
            "json-malformed",
        ),
        (b'{"a": NaN}', "application/json", "json-malformed"),
        (b"<?xml version='1.0'?>", "application/xml", "xml-malformed"),
    ],
)
def test_other_malformed_inputs(data: bytes, media: str, code: str) -> None:
    assert first_code(data, media) == code


def test_unsupported_media_type() -> None:
    with pytest.raises(DocumentInvalid) as caught:
        documents.parse_document(b"{}", "text/plain")
    assert codes(caught) == ["unsupported-media-type"]


@pytest.mark.parametrize(
    "old,new",
    [
        (b"<Remarks>", b"<Surprise>x</Surprise><Remarks>"),  # an element the XSD does not know
        (b"<ExporterParty>", b'<ExporterParty role="x">'),  # an attribute
        (b"<ExporterParty>", b"<ExporterParty>text between elements"),  # mixed content
        (b"<ID>JCCI", b'<ID xmlns="urn:other">JCCI'),  # a child in another namespace
    ],
)
def test_xsd_refuses_what_the_model_does_not_describe(old: bytes, new: bytes) -> None:
    data = example_bytes("ajcep-jp-switchboards-to-th.co", ".xml").replace(old, new, 1)
    assert data != example_bytes("ajcep-jp-switchboards-to-th.co", ".xml")
    assert first_code(data).startswith("xsd-")
