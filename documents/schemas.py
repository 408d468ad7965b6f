"""XSDs and JSON Schemas of the documents, generated from the models.

The committed files in ``schemas/documents/`` are written by
``scripts/build_document_schemas.py`` from :func:`xsd_text` and :func:`json_schema_text`; a test
checks that the committed files equal what the models generate, so the schemas a partner
downloads are the ones the node applies. At run time the XSDs are read from those files.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import annotated_types
from lxml import etree
from pydantic import BaseModel

from documents.models import MODELS
from documents.types import XsdType
from documents.xmlform import ROOTS, FieldShape, shape

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "documents"
XS = "http://www.w3.org/2001/XMLSchema"

# simple types for values without an XsdType marker
_BOOLEAN = XsdType("IndicatorType", "xs:boolean", "true or false", pattern="true|false")
_DATE = XsdType(
    "DateType", "xs:date", "a date written YYYY-MM-DD", pattern="[0-9]{4}-[0-9]{2}-[0-9]{2}"
)


def xsd_path(document_type: str) -> Path:
    return SCHEMA_DIR / f"{document_type}.xsd"


def json_schema_path(document_type: str) -> Path:
    return SCHEMA_DIR / f"{document_type}.schema.json"


def _simple(f: FieldShape) -> XsdType | None:
    if f.xsd is not None:
        return f.xsd
    if f.scalar is bool:
        return _BOOLEAN
    if f.scalar is not None and f.scalar.__name__ == "date":
        return _DATE
    return None


def _occurs(model: type[BaseModel], f: FieldShape) -> dict[str, str]:
    attrs: dict[str, str] = {}
    low, high = (1 if f.required else 0), 1
    if f.repeated:
        high = 0  # unbounded unless a maximum is declared
        for m in model.model_fields[f.name].metadata:
            if isinstance(m, annotated_types.MinLen):
                low = m.min_length
            if isinstance(m, annotated_types.MaxLen):
                high = m.max_length
    if low != 1:
        attrs["minOccurs"] = str(low)
    if high != 1:
        attrs["maxOccurs"] = str(high) if high else "unbounded"
    return attrs


def _simple_type(parent: etree._Element, t: XsdType) -> None:
    st = etree.SubElement(parent, f"{{{XS}}}simpleType", name=t.name)
    etree.SubElement(st, f"{{{XS}}}annotation").append(_doc(t.description))
    r = etree.SubElement(st, f"{{{XS}}}restriction", base=t.base)
    for facet, value in (
        ("minLength", t.min_length),
        ("maxLength", t.max_length),
        ("minInclusive", t.min_inclusive),
        ("maxInclusive", t.max_inclusive),
        ("pattern", t.pattern),
    ):
        if value is not None:
            etree.SubElement(r, f"{{{XS}}}{facet}", value=str(value))
    for choice in t.enumeration:
        etree.SubElement(r, f"{{{XS}}}enumeration", value=choice)


def _doc(text: str) -> etree._Element:
    d = etree.Element(f"{{{XS}}}documentation")
    d.text = text
    return d


def xsd_text(document_type: str) -> str:
    """The XSD of one document type, generated from its model."""
    ns, root_name = ROOTS[document_type]
    model = MODELS[document_type]
    schema = etree.Element(
        f"{{{XS}}}schema",
        nsmap={"xs": XS, None: ns},
        targetNamespace=ns,
        elementFormDefault="qualified",
        version="1",
    )
    note = etree.SubElement(schema, f"{{{XS}}}annotation")
    note.append(
        _doc(
            f"tradeledger {document_type} (version 1). Generated from documents.models by "
            "scripts/build_document_schemas.py; do not edit by hand."
        )
    )
    etree.SubElement(schema, f"{{{XS}}}element", name=root_name, type=f"{model.__name__}Type")
    simple: dict[str, XsdType] = {}
    complex_done: list[str] = []
    todo: list[type[BaseModel]] = [model]
    while todo:
        m = todo.pop(0)
        if m.__name__ in complex_done:
            continue
        complex_done.append(m.__name__)
        ct = etree.SubElement(schema, f"{{{XS}}}complexType", name=f"{m.__name__}Type")
        if m.__doc__:
            etree.SubElement(ct, f"{{{XS}}}annotation").append(_doc(" ".join(m.__doc__.split())))
        seq = etree.SubElement(ct, f"{{{XS}}}sequence")
        for f in shape(m):
            attrs = {"name": f.xml}
            if f.model is not None:
                todo.append(f.model)
                attrs["type"] = f"{f.model.__name__}Type"
                etree.SubElement(seq, f"{{{XS}}}element", **attrs, **_occurs(m, f))
                continue
            t = _simple(f)
            if f.choices:
                el = etree.SubElement(seq, f"{{{XS}}}element", **attrs, **_occurs(m, f))
                st = etree.SubElement(el, f"{{{XS}}}simpleType")
                r = etree.SubElement(st, f"{{{XS}}}restriction", base="xs:string")
                for choice in f.choices:
                    etree.SubElement(r, f"{{{XS}}}enumeration", value=choice)
                continue
            if t is None:
                raise TypeError(f"{m.__name__}.{f.name} has no XSD type")
            simple[t.name] = t
            etree.SubElement(seq, f"{{{XS}}}element", **attrs, type=t.name, **_occurs(m, f))
    for name in sorted(simple):
        _simple_type(schema, simple[name])
    text: bytes = etree.tostring(schema, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return text.decode()


def json_schema(document_type: str) -> dict[str, Any]:
    ns, _root = ROOTS[document_type]
    body = MODELS[document_type].model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{ns}:json",
        **body,
    }


def json_schema_text(document_type: str) -> str:
    return (
        json.dumps(json_schema(document_type), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


@cache
def xml_schema(document_type: str) -> etree.XMLSchema:
    """The compiled XSD of a document type, read from the committed file."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    tree = etree.parse(str(xsd_path(document_type)), parser)
    return etree.XMLSchema(tree)
