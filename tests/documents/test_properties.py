"""Hypothesis: any structurally valid document round-trips through XML and JSON unchanged,
with the same digest, whatever its text (tabs, newlines, carriage returns, markup characters,
non-Latin scripts, astral-plane characters)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import documents
from documents.models import MODELS
from documents.xmlform import shape, to_xml

# every character XML 1.0 can carry (no other C0 controls, no surrogates, no U+FFFE/FFFF)
TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters=[chr(c) for c in range(0x20) if c not in (0x9, 0xA, 0xD)]
        + ["\ufffe", "\uffff"],
    ),
    min_size=1,
    max_size=30,
)


def _value(model: type[BaseModel], name: str) -> st.SearchStrategy[Any]:
    f = next(s for s in shape(model) if s.name == name)
    if f.model is not None:
        one: st.SearchStrategy[Any] = _model(f.model)
    elif f.choices:
        one = st.sampled_from(f.choices)
    elif f.scalar is bool:
        one = st.booleans()
    elif f.scalar is date:
        one = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
    elif f.scalar is int:
        one = st.integers(min_value=1, max_value=9999)
    elif f.xsd is not None and f.xsd.enumeration:
        one = st.sampled_from(f.xsd.enumeration)
    elif f.xsd is not None and f.xsd.pattern:
        one = st.from_regex(f.xsd.pattern, fullmatch=True).filter(lambda s: s.isascii())
    else:
        one = TEXT
    if f.repeated:
        one = st.lists(one, min_size=1, max_size=3)
    return one if f.required else st.none() | one


def _model(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({f.name: _value(model, f.name) for f in shape(model)}).map(
        lambda d: model.model_validate({k: v for k, v in d.items() if v is not None})
    )


DOCUMENTS = st.sampled_from(sorted(MODELS)).flatmap(lambda t: _model(MODELS[t]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_round_trip_through_xml_and_json(doc: Any) -> None:
    from_xml = documents.parse_document(to_xml(doc), "application/xml")
    from_json = documents.parse_document(documents.to_json(doc), "application/json")
    assert from_xml == doc
    assert from_json == doc
    assert documents.to_json(from_xml) == documents.to_json(doc)
    assert documents.document_digest(from_xml) == documents.document_digest(from_json)


@settings(max_examples=50, deadline=None)
@given(DOCUMENTS)
def test_compact_xml_is_the_same_document(doc: Any) -> None:
    compact = documents.parse_document(to_xml(doc, pretty=False), "application/xml")
    assert compact == doc
