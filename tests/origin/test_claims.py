"""Whether a bill of materials supports the criterion a certificate claims (the origin gate's
core), hand-worked on RCEP heading 85.38 ("CTH or RVC40") and test tables for AJCEP and JTEPA."""

from __future__ import annotations

import pytest

from documents.origin.ast import AnyOf, RegionalValueContent, TariffChange
from documents.origin.bom import parse_bom
from documents.origin.claims import check_claim, restrict_rule
from documents.origin.parser import parse_rule
from documents.origin.rules import parse_table
from ledger.errors import NoRuleData, OriginInputError
from tests.origin.helpers import bom, mat

HEADER = "agreement,level,code,rule,description,source\n"


def parts(*materials: dict, **extra: object):  # heading 85.38, JP -> VN, FOB 1,000
    return parse_bom(bom(*materials, **extra))


SAME_HEADING_30 = mat("853890", "300.00", description="contact springs")  # fails CTH, > 10 %
OTHER_HEADING = mat("740921", "100.00", description="brass strip")  # changes heading


def test_rvc_claim_supported_when_only_rvc_passes() -> None:
    c = check_claim("RCEP", "853890", parts(SAME_HEADING_30, OTHER_HEADING), "RVC")
    assert c.supported and c.outcome == "supported"
    assert c.determination.criterion == "RVC"
    assert c.determination.to_json()["rvc_percent"] == "60.00"


@pytest.mark.parametrize("claim", ["CTC", "CTH", "CTSH", "CC"])
def test_tariff_change_claim_refused_naming_the_material_and_what_is_supported(
    claim: str,
) -> None:
    c = check_claim("RCEP", "853890", parts(SAME_HEADING_30, OTHER_HEADING), claim)
    assert not c.supported and c.outcome == "criterion-not-supported"
    assert c.supported_criterion == "RVC"
    text = " ".join(c.reasons)
    assert "contact springs" in text and "same heading 85.38" in text
    assert "supports RVC" in text
    assert [m["hs"] for m in c.failing_materials] == ["853890"]


def test_rvc_claim_supported_when_the_engine_prefers_ctc() -> None:
    # both alternatives pass; the engine reports CTC, the claim of RVC is checked on its own
    c = check_claim("RCEP", "853890", parts(OTHER_HEADING), "RVC")
    assert c.supported
    assert c.determination.criterion == "RVC"
    assert c.determination.reasons[0].startswith("Claim: the certificate claims RVC")
    plain = check_claim("RCEP", "853890", parts(OTHER_HEADING), "CTC")
    assert plain.supported and plain.determination.criterion == "CTC"


def test_rvc_claim_refused_when_the_value_test_fails_but_ctc_passes() -> None:
    # non-originating material of another heading worth 70 %: CTH passes, RVC 30 % fails
    c = check_claim("RCEP", "853890", parts(mat("740921", "700.00")), "RVC")
    assert not c.supported
    assert c.supported_criterion == "CTC"
    assert any("30.00 %" in r and "less than 40" in r for r in c.reasons)


def test_not_originating_names_the_failing_materials() -> None:
    c = check_claim("RCEP", "853890", parts(mat("853890", "700.00", description="springs")), "RVC")
    assert c.outcome == "not-originating"
    assert "853890" in c.reasons[0]
    assert c.failing_materials


def test_pe_and_wo_claims() -> None:
    all_originating = parts(
        mat("740921", "100.00", origin="JP", originating=True),
        mat("392690", "50.00", origin="TH", originating=True),
    )
    pe = check_claim("RCEP", "853890", all_originating, "PE")
    assert pe.supported and pe.determination.criterion == "PE"
    # a PE good is claimed as PE, not by the rule's tests
    rvc = check_claim("RCEP", "853890", all_originating, "RVC")
    assert not rvc.supported and "qualifies as PE" in rvc.reasons[0]
    wo = check_claim("RCEP", "853890", all_originating, "WO")
    assert not wo.supported and "qualifies as PE" in wo.reasons[0]
    not_wo = check_claim("RCEP", "853890", parts(OTHER_HEADING), "WO")
    assert not not_wo.supported and "wholly obtained" in not_wo.reasons[0]
    not_pe = check_claim("RCEP", "853890", parts(OTHER_HEADING), "PE")
    assert not not_pe.supported and "brass strip" in not_pe.reasons[0]


def test_add_ons_must_be_in_the_determination() -> None:
    small = mat("853890", "100.00", description="springs")  # exactly 10 %: de minimis
    c = check_claim("RCEP", "853890", parts(small), "CTC DMI")
    assert c.supported and c.determination.criteria == ["CTC", "DMI"]
    c = check_claim("RCEP", "853890", parts(OTHER_HEADING), "CTC, ACU")
    assert not c.supported and "supports CTC" in c.reasons[0]
    thai = mat("392690", "50.00", origin="TH", originating=True)
    c = check_claim("RCEP", "853890", parts(OTHER_HEADING, thai), "CTC ACU")
    assert c.supported and "ACU" in c.determination.criteria


@pytest.mark.parametrize("claim", ["XYZ", "PS", "RVC CTC", ""])
def test_claims_that_are_not_criteria_of_the_agreement(claim: str) -> None:
    with pytest.raises(OriginInputError):
        check_claim("RCEP", "853890", parts(OTHER_HEADING), claim)


def test_rule_without_the_claimed_test() -> None:
    table = parse_table(
        HEADER + "RCEP,heading,8538,CTH,parts,test\n",
        agreement="RCEP",
        version="2099.1",
        hs_edition="HS2012",
    )
    c = check_claim("RCEP", "853890", parts(OTHER_HEADING), "RVC", rules=table)
    assert not c.supported and "has no RVC test" in c.reasons[0]
    assert c.supported_criterion == "CTC"


def test_no_rule_data_raises_with_coverage() -> None:
    with pytest.raises(NoRuleData) as info:
        check_claim("RCEP", "845811", parts(OTHER_HEADING), "RVC")
    assert info.value.extra["coverage"]["chapter"] == "84"


def test_ajcep_general_rule_claimed_as_cth_or_ctc() -> None:
    table = parse_table(
        HEADER,
        agreement="AJCEP",
        version="2099.1",
        hs_edition="HS2012",
        coverage={"94": {"status": "full", "note": "test"}},
        general_rule={"rule": "CTH or RVC40", "source": "AJCEP Art. 26.1"},
    )
    good = parse_bom(bom(mat("440399", "600.00"), exporting="TH", importing="JP"))
    for claim in ("CTH", "CTC"):
        c = check_claim("AJCEP", "940360", good, claim, rules=table)
        assert c.supported and c.determination.criterion == "CTH"  # Form AJ box code
    assert check_claim("AJCEP", "940360", good, "RVC", rules=table).supported  # 40 % exactly
    low = parse_bom(bom(mat("440399", "700.00"), exporting="TH", importing="JP"))  # RVC 30 %
    c = check_claim("AJCEP", "940360", low, "RVC", rules=table)
    assert not c.supported and c.supported_criterion == "CTH"
    assert any("30.00 %" in r for r in c.reasons)


def test_jtepa_claims_ps() -> None:
    table = parse_table(
        HEADER + "JTEPA,chapter,94,CTH,Furniture,test\n",
        agreement="JTEPA",
        version="2099.1",
        hs_edition="HS2012",
    )
    good = parse_bom(bom(mat("940390", "100.00"), exporting="TH", importing="JP"))
    assert check_claim("JTEPA", "940360", good, "PS", rules=table).supported
    with pytest.raises(OriginInputError):  # JTEPA's certificate has no CTC box code
        check_claim("JTEPA", "940360", good, "CTC", rules=table)


def test_restrict_rule_keeps_the_alternatives_of_a_kind() -> None:
    rule = parse_rule("CTH or RVC40")
    assert isinstance(restrict_rule(rule, (RegionalValueContent,)), RegionalValueContent)
    assert isinstance(restrict_rule(rule, (TariffChange,)), TariffChange)
    assert restrict_rule(parse_rule("CTH"), (RegionalValueContent,)) is None
    both = restrict_rule(parse_rule("CC or CTH and RVC40 or RVC50"), (RegionalValueContent,))
    assert isinstance(both, AnyOf) and len(both.options) == 2
