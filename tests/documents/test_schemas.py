"""The committed XSDs and JSON Schemas are exactly what the models generate, and they accept
the examples."""

from __future__ import annotations

import json

import jsonschema
import pytest
from lxml import etree

from documents.schemas import json_schema_path, json_schema_text, xml_schema, xsd_path, xsd_text
from documents.xmlform import ROOTS
from tests.documents.helpers import EXAMPLES


@pytest.mark.parametrize("document_type", sorted(ROOTS))
def test_committed_schemas_equal_generated(document_type: str) -> None:
    assert xsd_path(document_type).read_text(encoding="utf-8") == xsd_text(document_type), (
        "run scripts/build_document_schemas.py"
    )
    assert json_schema_path(document_type).read_text(encoding="utf-8") == json_schema_text(
        document_type
    ), "run scripts/build_document_schemas.py"


@pytest.mark.parametrize("document_type", sorted(ROOTS))
def test_xsd_has_versioned_namespace_and_root(document_type: str) -> None:
    tree = etree.parse(str(xsd_path(document_type)))
    ns, root = ROOTS[document_type]
    assert ns.startswith("urn:tradeledger:") and ns.endswith(":1")
    assert tree.getroot().get("targetNamespace") == ns
    assert tree.getroot().find("{http://www.w3.org/2001/XMLSchema}element").get("name") == root


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_examples_satisfy_both_schemas(path: object) -> None:
    value = json.loads(path.read_bytes())  # type: ignore[attr-defined]
    schema = json.loads(json_schema_path(value["document_type"]).read_text())
    jsonschema.Draft202012Validator(schema).validate(value)
    xml = etree.fromstring(path.with_suffix(".xml").read_bytes())  # type: ignore[attr-defined]
    xml_schema(value["document_type"]).assertValid(xml)
