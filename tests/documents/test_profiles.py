"""The per-agreement certificate profiles are consistent data: every box names real fields,
criterion codes are well formed, and the Parties agree with the origin engine's."""

from __future__ import annotations

import re

import pytest

from documents.models import CertificateOfOrigin
from documents.origin.agreements import PROFILES as ORIGIN_PROFILES
from documents.profiles import PROFILES, CertificateProfile
from documents.xmlform import shape


def _resolves(pointer: str) -> bool:
    model: type | None = CertificateOfOrigin
    for part in pointer.strip("/").split("/"):
        if part == "*":
            continue
        if model is None:
            return False
        f = next((s for s in shape(model) if s.name == part), None)
        if f is None:
            return False
        model = f.model
    return True


@pytest.mark.parametrize("p", PROFILES.values(), ids=lambda p: p.agreement)
def test_boxes_name_fields_of_the_certificate(p: CertificateProfile) -> None:
    numbers = [b.number for b in p.boxes]
    assert len(numbers) == len(set(numbers))
    for box in p.boxes:
        for pointer in box.fields:
            assert _resolves(pointer), f"{p.agreement} box {box.number}: {pointer}"


@pytest.mark.parametrize("p", PROFILES.values(), ids=lambda p: p.agreement)
def test_criteria_and_validity(p: CertificateProfile) -> None:
    assert p.criteria and all(re.fullmatch(r"[A-Z]{2,5}", c) for c in p.criteria)
    assert p.value_criteria <= p.criteria
    assert p.validity_years == 1 and p.validity_source
    assert {"JP"} <= p.parties


def test_rcep_form_has_seventeen_boxes_and_every_origin_engine_code() -> None:
    rcep = PROFILES["RCEP"]
    assert [b.number for b in rcep.boxes] == [str(n) for n in range(1, 18)]
    # as printed on Form RCEP: importer in box 2, producer in box 3 (Form E has them swapped)
    fields = {b.number: b.fields for b in rcep.boxes}
    assert fields["2"] == ("/importer",) and fields["3"] == ("/producer",)
    for code in ("RCEP", "AJCEP", "JTEPA"):
        printed = {c for c in ORIGIN_PROFILES[code].criterion_codes.values() if c}
        assert printed <= PROFILES[code].criteria, code
        assert PROFILES[code].parties == frozenset(ORIGIN_PROFILES[code].parties)
