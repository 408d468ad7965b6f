"""The shipped examples: valid, identical in XML and JSON, and their XML is what the
serialiser writes."""

from __future__ import annotations

import pytest

import documents
from documents.xmlform import to_xml
from ledger.encoding import canonical_bytes
from tests.documents.helpers import EXAMPLES, example_bytes, example_names


def test_there_are_examples_of_every_document_type() -> None:
    types = {
        documents.parse_document(example_bytes(n), "application/json").document_type
        for n in example_names()
    }
    assert types == set(documents.MODELS)


@pytest.mark.parametrize("name", example_names())
def test_example_is_valid_and_the_same_in_xml_and_json(name: str) -> None:
    from_json = documents.parse_document(example_bytes(name), "application/json")
    from_xml = documents.parse_document(example_bytes(name, ".xml"), "application/xml")
    assert from_json == from_xml
    assert documents.document_digest(from_json) == documents.document_digest(from_xml)
    documents.validate(from_json)
    documents.validate(from_xml)


@pytest.mark.parametrize("name", example_names())
def test_example_xml_is_the_generated_form(name: str) -> None:
    doc = documents.parse_document(example_bytes(name), "application/json")
    assert to_xml(doc) == (EXAMPLES / f"{name}.xml").read_bytes()


@pytest.mark.parametrize("name", example_names())
def test_round_trip_is_exact(name: str) -> None:
    doc = documents.parse_document(example_bytes(name), "application/json")
    again_xml = documents.parse_document(to_xml(doc), "application/xml")
    again_json = documents.parse_document(documents.to_json(doc), "application/json")
    assert again_xml == doc == again_json
    assert documents.to_json(again_xml) == documents.to_json(doc)


@pytest.mark.parametrize("name", example_names())
def test_fast_canonical_form_is_rfc8785(name: str) -> None:
    doc = documents.parse_document(example_bytes(name), "application/json")
    assert documents.to_json(doc) == canonical_bytes(documents.canonical_form(doc))


def test_document_ids_and_digest_shape() -> None:
    co = documents.parse_document(example_bytes("rcep-jp-machinery-to-vn.co"), "application/json")
    assert documents.document_id(co) == "jp-jcci/JCCI-2026-0004512"
    assert len(documents.document_digest(co)) == 64
    revocation = documents.parse_document(example_bytes("co-revocation"), "application/json")
    assert documents.document_id(revocation) == "jp-jcci/JCCI-2026-0004630"
    application = documents.parse_document(example_bytes("co-application"), "application/json")
    assert application.document_id == co.document_id


def test_digest_ignores_presentation_but_not_content() -> None:
    data = example_bytes("rcep-jp-machinery-to-vn.co")
    doc = documents.parse_document(data, "application/json")
    compact = documents.parse_document(documents.to_json(doc), "application/json")
    assert documents.document_digest(compact) == documents.document_digest(doc)
    changed = documents.parse_document(data.replace(b"48200.00", b"48200.01"), "application/json")
    assert documents.document_digest(changed) != documents.document_digest(doc)


def test_the_example_presentation_proves_it_holds_the_example_certificate() -> None:
    presentation = documents.parse_document(example_bytes("bank-presentation"), "application/json")
    certificate = documents.parse_document(
        example_bytes("rcep-jp-machinery-to-vn.co"), "application/json"
    )
    assert presentation.co_reference == certificate.document_id  # type: ignore[union-attr]
    assert presentation.co_digest == documents.document_digest(certificate)  # type: ignore[union-attr]
