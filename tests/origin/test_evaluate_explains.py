"""Each determination explains itself: the whole list of reasons, the criteria and the failing
materials, for hand-made BOMs and small hand-written rule tables (one per branch of the
evaluator), so that a changed sentence, bound or branch of ``documents/origin/evaluate.py`` is
seen (docs/testing.md, mutation testing)."""

from dataclasses import replace
from decimal import Decimal

import pytest

from documents.origin.evaluate import determine
from documents.origin.rules import RuleTable, parse_table
from ledger.errors import NoRuleData, OriginInputError
from tests.origin.helpers import bom, mat

HEADER = "agreement,level,code,rule,description,source\n"


def table(rows: str, agreement: str = "RCEP", **extra) -> RuleTable:
    return parse_table(
        HEADER + rows, agreement=agreement, version="2099.1", hs_edition="HS2012", **extra
    )


def rule(level: str, code: str, text: str) -> RuleTable:
    return table(f"RCEP,{level},{code},{text},test row,t\n")


def failure(index: int, hs: str, value: str, reason: str, description=None) -> dict:
    return {
        "index": index,
        "location": f"/materials/{index}",
        "hs": hs,
        "description": description,
        "value": value,
        "reason": reason,
    }


def test_every_alternative_failing_is_explained_and_failures_merge_per_material():
    t = rule("heading", "8538", "CTH or (CC and CR) or SP(moulding) or RVC40.5")
    d = determine(
        "RCEP",
        "853890",
        bom(
            mat("853890", "600.00", description="housing"),
            mat("854140", "100.00"),
            operations=["chemical-reaction"],
        ),
        rules=t,
    )
    j = d.to_json()
    assert (j["agreement"], j["product_hs"], j["product_hs_edition"], j["hs_edition"]) == (
        "RCEP",
        "853890",
        "HS2012",
        "HS2012",
    )
    assert (j["exporting_country"], j["importing_country"], j["currency"]) == ("JP", "VN", "USD")
    assert (j["originating"], j["verdict"], j["criterion"], j["criteria"]) == (
        False,
        "not-originating",
        None,
        [],
    )
    assert (j["rvc_percent"], j["rvc_build_up_percent"], j["rvc_threshold"]) == (
        "30.00",
        None,
        "40.5",
    )
    assert (j["rule_level"], j["rule_code"], j["rule_source"], j["mapped_product_hs"]) == (
        "heading",
        "8538",
        "t",
        "853890",
    )
    assert d.reasons == [
        "Rule: RCEP heading 85.38: 'CTH or (CC and CR) or SP(moulding) or RVC40.5' "
        "(source: t; rule table 2099.1).",
        "CTH: every non-originating material must be classified outside heading 85.38; fails "
        "for material 1 'housing' (HS 853890, origin CN): same heading 85.38 as the product.",
        "De minimis (RCEP Art. 3.7): by value, the non-originating materials failing the "
        "tariff change are worth 600.00 USD = 60.00 % of FOB (over 10 %): does not apply.",
        "CC: every non-originating material must be classified outside chapter 85; fails for "
        "material 1 'housing' (HS 853890, origin CN): same chapter 85 as the product; "
        "material 2 (HS 854140, origin CN): same chapter 85 as the product.",
        "De minimis (RCEP Art. 3.7): by value, the non-originating materials failing the "
        "tariff change are worth 700.00 USD = 70.00 % of FOB (over 10 %): does not apply.",
        "CR: a chemical reaction in the exporting Party is declared in the BOM's operations: "
        "passes.",
        "SP: the process 'moulding' is not declared in the BOM's operations: fails.",
        "RVC40.5: build-down RVC (RCEP Art. 3.5) = (FOB 1000.00 − VNM 700.00) / FOB 1000.00 "
        "× 100 = 30.00 %, less than 40.5 %: fails.",
        "Verdict: not originating under RCEP: the rule "
        "'CTH or (CC and CR) or SP(moulding) or RVC40.5' is not met.",
    ]
    assert j["failing_materials"] == [
        failure(
            0,
            "853890",
            "600.00",
            "CTH: same heading 85.38 as the product; CC: same chapter 85 as the product; "
            "non-originating material counted in VNM (600.00)",
            "housing",
        ),
        failure(
            1,
            "854140",
            "100.00",
            "CC: same chapter 85 as the product; non-originating material counted in VNM (100.00)",
        ),
    ]
    assert j["needs_decision"] == []


def test_an_alternative_without_de_minimis_is_preferred():
    # CTH passes only by de minimis (5 % of FOB); the RVC passes on its own: the RVC is the basis
    d = determine(
        "RCEP",
        "853890",
        bom(mat("853890", "50.00"), mat("854140", "100.00")),
        rules=rule("heading", "8538", "CTH or RVC40"),
    )
    assert d.originating and d.criteria == ["RVC"] and d.verdict == "originating"
    assert d.reasons == [
        "Rule: RCEP heading 85.38: 'CTH or RVC40' (source: t; rule table 2099.1).",
        "CTH: every non-originating material must be classified outside heading 85.38; fails "
        "for material 1 (HS 853890, origin CN): same heading 85.38 as the product.",
        "De minimis (RCEP Art. 3.7): by value, the non-originating materials failing the "
        "tariff change are worth 50.00 USD = 5.00 % of FOB (within 10 %): passes.",
        "RVC40: build-down RVC (RCEP Art. 3.5) = (FOB 1000.00 − VNM 150.00) / FOB 1000.00 × "
        "100 = 85.00 %, not less than 40 %: passes.",
        "Verdict: originating under RCEP (RVC).",
    ]
    assert d.failing_materials == []
    # with the RVC out of reach, de minimis is what remains
    dmi = determine(
        "RCEP",
        "853890",
        bom(mat("853890", "50.00"), mat("854140", "100.00")),
        rules=rule("heading", "8538", "RVC90 or CTH"),
    )
    assert dmi.originating and dmi.criteria == ["CTC", "DMI"]
    assert dmi.reasons[-1] == "Verdict: originating under RCEP (CTC, DMI)."


def test_all_parts_passing_give_each_criterion_once_and_accumulation():
    t = rule("heading", "8538", "CTH and CR and SP(Moulding)")
    d = determine(
        "RCEP",
        "853890",
        bom(
            mat("854140", "100.00"),
            mat("392690", "50.00", origin="TH", originating=True),
            operations=["chemical-reaction", "moulding"],
        ),
        rules=t,
    )
    # RCEP writes both CR and SP as "SP"
    assert d.originating and d.criteria == ["CTC", "SP", "ACU"] and d.criterion == "CTC"
    assert d.rvc_threshold is None and d.to_json()["rvc_threshold"] is None
    assert d.reasons == [
        "Rule: RCEP heading 85.38: 'CTH and CR and SP(Moulding)' (source: t; rule table 2099.1).",
        "Accumulation (RCEP Art. 3.4): material 2 (HS 392690, origin TH) originates in "
        "another Party and counts as originating.",
        "CTH: every non-originating material must be classified outside heading 85.38; all 1 "
        "non-originating material(s) do: passes.",
        "CR: a chemical reaction in the exporting Party is declared in the BOM's operations: "
        "passes.",
        "SP: the process 'Moulding' is declared in the BOM's operations: passes.",
        "Verdict: originating under RCEP (CTC, CR, SP).",
    ]
    # the same good without the declared operations
    ko = determine("RCEP", "853890", bom(mat("854140", "100.00"), operations=["assembly"]), rules=t)
    assert ko.originating is False and ko.failing_materials == []
    assert ko.reasons[2:] == [
        "CR: a chemical reaction in the exporting Party is not declared in the BOM's "
        "operations: fails.",
        "SP: the process 'Moulding' is not declared in the BOM's operations: fails.",
        "Verdict: not originating under RCEP: the rule 'CTH and CR and SP(Moulding)' is not met.",
    ]


def test_build_up_is_tried_when_build_down_fails():
    t = rule("subheading", "853890", "RVC40")
    ok = determine(
        "RCEP",
        "853890",
        bom(
            mat("853890", "700.00"),
            mat("392690", "300.00", origin="JP", originating=True),
            costs={"direct_labour": "100.00", "direct_overhead": "0", "profit": "0"},
        ),
        rules=t,
    )
    assert ok.originating and ok.criteria == ["RVC"]
    assert ok.rvc_build_up_percent == Decimal(40) and ok.rvc_percent == Decimal(30)
    assert ok.reasons == [
        "Rule: RCEP subheading 8538.90: 'RVC40' (source: t; rule table 2099.1).",
        "RVC40: build-down RVC (RCEP Art. 3.5) = (FOB 1000.00 − VNM 700.00) / FOB 1000.00 × "
        "100 = 30.00 %, less than 40 %; build-up = (VOM 300.00 + costs 100.00) / FOB 1000.00 "
        "× 100 = 40.00 %, not less than 40 %: passes.",
        "Verdict: originating under RCEP (RVC).",
    ]
    ko = determine(
        "RCEP",
        "853890",
        bom(
            mat("853890", "700.00"),
            mat("392690", "200.00", origin="JP", originating=True),
            mat("392690", "800.00"),
            costs={"direct_labour": "100.00", "direct_overhead": "50.00", "profit": "0"},
            fob="2000.00",
        ),
        rules=t,
    )
    assert ko.originating is False and ko.to_json()["rvc_build_up_percent"] == "17.50"
    assert ko.reasons[1] == (
        "RVC40: build-down RVC (RCEP Art. 3.5) = (FOB 2000.00 − VNM 1500.00) / FOB 2000.00 × "
        "100 = 25.00 %, less than 40 %; build-up = (VOM 200.00 + costs 150.00) / FOB 2000.00 "
        "× 100 = 17.50 %, less than 40 %: fails."
    )
    # the materials counted in VNM, in BOM order
    assert ko.failing_materials == [
        failure(0, "853890", "700.00", "non-originating material counted in VNM (700.00)"),
        failure(2, "392690", "800.00", "non-originating material counted in VNM (800.00)"),
    ]


def test_an_ambiguous_material_leaves_either_kind_of_rule_undecided():
    # HS2022 8529.90 correlates to many HS2012 subheadings, 8538.90 among them; 700 of 1000 is
    # too much for de minimis and for an RVC of 90
    material = mat("852990", "700.00", description="parts")
    anyof = determine(
        "RCEP",
        "853890",
        bom(material, hs_edition="HS2022"),
        rules=rule("heading", "8538", "CTH or RVC90"),
    )
    question = (
        "which HS2012 subheading material 1 falls in decides whether it changes heading (the "
        "correlation is many-to-many)"
    )
    assert anyof.originating is False and anyof.verdict == "needs-decision" and anyof.criteria == []
    [decision] = anyof.needs_decision
    assert (decision["location"], decision["hs"], decision["question"]) == (
        "/materials/0/hs",
        "852990",
        question,
    )
    assert "853890" in decision["candidates"] and "847330" in decision["candidates"]
    assert anyof.reasons == [
        "HS: HS2022 853890 is HS2012 853890 (n:1).",
        "Rule: RCEP heading 85.38: 'CTH or RVC90' (source: t; rule table 2099.1).",
        "De minimis (RCEP Art. 3.7): by value, the non-originating materials failing the "
        "tariff change are worth 700.00 USD = 70.00 % of FOB (over 10 %): does not apply.",
        "CTH: the HS2012 classification of material 1 'parts' (HS 852990, origin CN) is "
        "ambiguous (several correlated subheadings, some inside and some outside the "
        "product's heading): needs a decision.",
        "RVC90: build-down RVC (RCEP Art. 3.5) = (FOB 1000.00 − VNM 700.00) / FOB 1000.00 × "
        "100 = 30.00 %, less than 90 %: fails.",
        f"Verdict: needs a decision ({question}) before origin can be determined; not "
        "originating until then.",
    ]
    assert anyof.failing_materials == [
        failure(0, "852990", "700.00", "non-originating material counted in VNM (700.00)", "parts")
    ]
    allof = determine(
        "RCEP",
        "853890",
        bom(material, hs_edition="HS2022", operations=["chemical-reaction"]),
        rules=rule("heading", "8538", "CTH and CR"),
    )
    assert allof.originating is False and allof.verdict == "needs-decision"
    assert [d["question"] for d in allof.needs_decision] == [question]
    assert allof.failing_materials == []
    assert allof.reasons[-2:] == [
        "CR: a chemical reaction in the exporting Party is declared in the BOM's operations: "
        "passes.",
        f"Verdict: needs a decision ({question}) before origin can be determined; not "
        "originating until then.",
    ]
    # a part that fails outright decides an AllOf whatever the undecided one would give
    no_cr = determine(
        "RCEP",
        "853890",
        bom(material, hs_edition="HS2022"),
        rules=rule("heading", "8538", "CTH and CR"),
    )
    assert no_cr.verdict == "not-originating" and no_cr.needs_decision == []


def test_countries_that_are_not_parties_end_the_determination():
    materials = [mat("854140", "100.00")]
    source = (
        "source: RCEP Annex 3A p.197 "
        "http://ebookservicepro.com/showcase/DTN/02/files/basic-html/page197.html; rule table "
        "2026.1"
    )
    exporting = determine("RCEP", "853890", bom(*materials, exporting="US"))
    assert exporting.reasons == [
        f"Rule: RCEP heading 85.38: 'CTH or RVC40' ({source}).",
        "The exporting country US is not a Party to RCEP: not originating.",
    ]
    assert exporting.originating is False and exporting.criteria == []
    importing = determine("RCEP", "853890", bom(*materials, importing="US"))
    assert importing.reasons == [
        f"Rule: RCEP heading 85.38: 'CTH or RVC40' ({source}).",
        "The importing country US is not a Party to RCEP; no preference can be claimed there.",
    ]
    assert importing.originating is False and importing.verdict == "not-originating"
    j = importing.to_json()
    assert (j["exporting_country"], j["importing_country"], j["currency"]) == ("JP", "US", "USD")


def test_only_minimal_operations_fail_every_non_originating_material():
    materials = [mat("854140", "100.00"), mat("392690", "50.00", description="screws")]
    d = determine("RCEP", "853890", bom(*materials, operations=["packaging", "labelling"]))
    assert d.originating is False
    assert d.reasons[1:] == [
        "Minimal operations (RCEP Art. 3.6): the only operations declared are packaging, "
        "labelling, which do not confer origin on the 2 non-originating material(s): not "
        "originating."
    ]
    reason = "only minimal operations were performed on it"
    assert d.failing_materials == [
        failure(0, "854140", "100.00", reason),
        failure(1, "392690", "50.00", reason, "screws"),
    ]
    # no operations declared at all is not "only minimal operations"
    assert determine("RCEP", "853890", bom(*materials, operations=[])).originating
    # nor are minimal operations on originating materials only
    pe = determine(
        "RCEP",
        "853890",
        bom(mat("854140", "100.00", origin="JP", originating=True), operations=["packaging"]),
    )
    assert pe.originating and pe.criteria == ["PE"]
    assert pe.reasons[1:] == [
        "PE (RCEP Art. 3.2(b)): every one of the 1 materials is originating: originating."
    ]


def test_a_wo_rule_names_what_defeats_it():
    t = rule("chapter", "01", "WO")
    d = determine(
        "RCEP",
        "010121",
        bom(mat("010121", "100.00"), mat("010121", "50.00"), wholly_obtained=True),
        rules=t,
    )
    assert d.originating is False and d.rule_code == "01" and d.rule_level == "chapter"
    assert d.reasons == [
        "Rule: RCEP chapter 01: 'WO' (source: t; rule table 2099.1).",
        "WO: the BOM declares the good wholly obtained but lists 2 non-originating "
        "material(s); WO does not apply.",
        "WO: 2 non-originating material(s) were used: fails.",
        "Verdict: not originating under RCEP: the rule 'WO' is not met.",
    ]
    reason = "non-originating material in a WO good"
    assert d.failing_materials == [
        failure(0, "010121", "100.00", reason),
        failure(1, "010121", "50.00", reason),
    ]
    undeclared = determine("RCEP", "010121", bom(mat("010121", "100.00")), rules=t)
    assert undeclared.reasons[1:] == [
        "WO: the BOM does not declare the good wholly obtained: fails.",
        "Verdict: not originating under RCEP: the rule 'WO' is not met.",
    ]
    wo = determine("RCEP", "010121", bom(wholly_obtained=True), rules=t)
    assert wo.originating and wo.criteria == ["WO"]
    assert wo.reasons[1:] == [
        "WO (RCEP Art. 3.2(a), 3.3): declared wholly obtained or produced in JP: originating."
    ]
    # a WO good with originating materials from another Party takes no ACU
    acu = determine(
        "RCEP",
        "010121",
        bom(mat("010121", "100.00", origin="TH", originating=True), wholly_obtained=True),
        rules=t,
    )
    assert acu.originating and acu.criteria == ["WO"]


def test_the_general_rule_takes_the_agreements_general_criteria():
    t = table(
        "",
        agreement="AJCEP",
        coverage={"94": {"status": "full", "note": "no Annex 2 row"}},
        general_rule={"rule": "CTH or RVC40", "source": "AJCEP Art. 26.1"},
    )
    d = determine(
        "AJCEP", "940360", bom(mat("940390", "500.00"), exporting="TH", importing="JP"), rules=t
    )
    assert d.originating and d.criteria == ["RVC"] and d.rule_code is None
    assert d.to_json()["rule_code"] is None and d.rule_level == "general"
    assert d.reasons == [
        "Rule: AJCEP general rule: 'CTH or RVC40' (source: AJCEP Art. 26.1; rule table 2099.1).",
        "CTH: every non-originating material must be classified outside heading 94.03; fails "
        "for material 1 (HS 940390, origin CN): same heading 94.03 as the product.",
        "De minimis (AJCEP Art. 28): by value, the non-originating materials failing the "
        "tariff change are worth 500.00 USD = 50.00 % of FOB (over 10 %): does not apply.",
        "RVC40: build-down RVC (AJCEP Art. 27) = (FOB 1000.00 − VNM 500.00) / FOB 1000.00 × "
        "100 = 50.00 %, not less than 40 %: passes.",
        "Verdict: originating under AJCEP (RVC).",
    ]
    # AJCEP has no build-up formula: costs are not used
    no_up = determine(
        "AJCEP",
        "940360",
        bom(
            mat("940390", "700.00"),
            exporting="TH",
            importing="JP",
            costs={"direct_labour": "500.00", "direct_overhead": "0", "profit": "0"},
        ),
        rules=t,
    )
    assert no_up.originating is False and no_up.rvc_build_up_percent is None
    assert no_up.reasons[3] == (
        "RVC40: build-down RVC (AJCEP Art. 27) = (FOB 1000.00 − VNM 700.00) / FOB 1000.00 × "
        "100 = 30.00 %, less than 40 %: fails."
    )


def test_unusable_input_is_refused_with_its_reason():
    ajcep = table("AJCEP,heading,9403,CTH,x,t\n", agreement="AJCEP")
    with pytest.raises(OriginInputError) as info:
        determine("RCEP", "853890", bom(), rules=ajcep)
    assert info.value.detail == "the rule table is for AJCEP, not RCEP"
    for code in ("85389", "8538900", "85389a", 853890):
        with pytest.raises(OriginInputError) as info:
            determine("RCEP", code, bom())
        assert info.value.detail == f"the product code {code!r} is not a 6-digit HS subheading"
        assert info.value.location == "product_hs"
    with pytest.raises(OriginInputError) as info:
        determine("RCEP", "851713", bom())
    assert (info.value.detail, info.value.location) == (
        "851713 is not a subheading of HS2012",
        "product_hs",
    )
    with pytest.raises(OriginInputError) as info:
        determine("RCEP", "853890", bom(mat("853890", "1.00"), mat("851713", "1.00")))
    assert (info.value.detail, info.value.location) == (
        "851713 is not a subheading of HS2012",
        "/materials/1/hs",
    )


def test_a_product_of_several_subheadings_with_one_answer_gives_it():
    d = determine(
        "RCEP",
        "841933",
        bom(mat("732690", "100.00"), hs_edition="HS2022"),
        rules=rule("heading", "8419", "CTH"),
    )
    assert d.originating and d.criteria == ["CTC"]
    assert d.mapped_product_hs == "841931,841932,841939"
    assert d.reasons == [
        "HS: HS2022 841933 corresponds to 3 HS2012 subheadings (841931, 841932, 841939; n:n); "
        "every one of them gives the same determination.",
        "HS: HS2022 841933 is HS2012 841931 (n:n).",
        "Rule: RCEP heading 84.19: 'CTH' (source: t; rule table 2099.1).",
        "CTH: every non-originating material must be classified outside heading 84.19; all 1 "
        "non-originating material(s) do: passes.",
        "Verdict: originating under RCEP (CTC).",
    ]


def test_a_product_of_several_subheadings_with_different_answers_needs_a_decision():
    t = table("RCEP,subheading,841931,CTH,x,t\nRCEP,subheading,841932,CTSH,x,t\n")
    # two subheadings give the same answer, the third has no rule: still a decision
    costs = {"direct_labour": "50.00", "direct_overhead": "0", "profit": "0"}
    d = determine(
        "RCEP",
        "841933",
        bom(mat("732690", "100.00"), hs_edition="HS2022", costs=costs),
        rules=t,
    )
    assert d.originating is False and d.verdict == "needs-decision"
    j = d.to_json()
    assert (j["agreement"], j["originating"], j["rvc_build_up_percent"]) == ("RCEP", False, "5.00")
    assert (j["mapped_product_hs"], j["rule"], j["rule_level"], j["rule_code"]) == (
        None,
        None,
        None,
        None,
    )
    assert (j["criterion"], j["criteria"], j["rvc_percent"], j["rvc_threshold"]) == (
        None,
        [],
        "90.00",
        None,
    )
    assert (j["product_hs"], j["product_hs_edition"], j["hs_edition"], j["rules_version"]) == (
        "841933",
        "HS2022",
        "HS2012",
        "2099.1",
    )
    assert j["needs_decision"] == [
        {
            "location": "product_hs",
            "hs": "841933",
            "candidates": ["841931", "841932", "841939"],
            "question": "which HS2012 subheading the product falls in",
        }
    ]
    assert d.reasons == [
        "HS: HS2022 841933 corresponds to 3 HS2012 subheadings (841931, 841932, 841939; n:n); "
        "they give different determinations, so the classification needs a decision:",
        "HS2012 841931: rule 'CTH', originating (CTC).",
        "HS2012 841932: rule 'CTSH', originating (CTC).",
        "HS2012 841939: no rule data.",
    ]
    assert (j["exporting_country"], j["importing_country"], j["currency"]) == ("JP", "VN", "USD")
    # different answers from two rules
    t2 = table("RCEP,subheading,841931,CTH,x,t\nRCEP,heading,8419,CC,x,t\n")
    d2 = determine("RCEP", "841933", bom(mat("841810", "200.00"), hs_edition="HS2022"), rules=t2)
    assert d2.verdict == "needs-decision"
    assert d2.reasons[1:] == [
        "HS2012 841931: rule 'CTH', originating (CTC).",
        "HS2012 841932: rule 'CC', not originating.",
        "HS2012 841939: rule 'CC', not originating.",
    ]
    # no rule for any of them: no rule data, naming the first
    with pytest.raises(NoRuleData) as info:
        determine("RCEP", "841933", bom(mat("732690", "100.00"), hs_edition="HS2022"))
    assert info.value.detail.startswith(
        "no RCEP rule for HS2012 841931 (mapped from HS2022 841933) in rule table 2026.1"
    )


def test_a_de_minimis_this_build_cannot_apply_is_a_decision():
    t = table("JVEPA,heading,2001,CC,x,t\n", agreement="JVEPA")
    d = determine(
        "JVEPA",
        "200110",
        bom(mat("200190", "400.00", description="cucumbers"), mat("070200", "10.00")),
        rules=t,
    )
    question = (
        "whether the materials failing CC are within the de minimis allowance of JVEPA Art. 28 "
        "(not in this build)"
    )
    assert d.originating is False and d.verdict == "needs-decision"
    assert d.needs_decision == [
        {"location": "/materials", "hs": None, "candidates": ["200190"], "question": question}
    ]
    assert d.failing_materials == [
        failure(0, "200190", "400.00", "CC: same chapter 20 as the product", "cucumbers")
    ]
    assert d.reasons == [
        "Rule: JVEPA heading 20.01: 'CC' (source: t; rule table 2099.1).",
        "CC: every non-originating material must be classified outside chapter 20; fails for "
        "material 1 'cucumbers' (HS 200190, origin CN): same chapter 20 as the product.",
        "De minimis (JVEPA Art. 28): not evaluated: the percentages of JVEPA Art. 28 were not "
        "read for this build, so de minimis is not evaluated.",
        f"Verdict: needs a decision ({question}) before origin can be determined; not "
        "originating until then.",
    ]


def test_materials_that_do_not_count_as_originating_are_named():
    d = determine(
        "RCEP",
        "853890",
        bom(
            mat("853890", "100.00"),
            mat("854140", "300.00", origin="TH", originating=True),
            mat("392690", "300.00", origin="VN", originating=True),
            mat("392690", "10.00", origin="unknown", originating=True),
            mat("392690", "10.00", origin="unknown"),
            mat("392690", "10.00", origin="US", originating=True),
        ),
    )
    assert d.originating and d.criteria == ["RVC", "ACU"] and d.rvc_percent == Decimal(87)
    assert d.reasons[1:] == [
        "material 4 (HS 392690, origin unknown) is declared originating but counts as "
        "non-originating: its origin is unknown.",
        "material 6 (HS 392690, origin US) is declared originating but counts as "
        "non-originating: US is not a Party to RCEP.",
        "Accumulation (RCEP Art. 3.4): material 2 (HS 854140, origin TH), material 3 (HS "
        "392690, origin VN) originate in other Parties and count as originating.",
        "Materials of unknown origin count as non-originating: material 4 (HS 392690, origin "
        "unknown), material 5 (HS 392690, origin unknown).",
        "CTH: every non-originating material must be classified outside heading 85.38; fails "
        "for material 1 (HS 853890, origin CN): same heading 85.38 as the product.",
        "De minimis (RCEP Art. 3.7): by value, the non-originating materials failing the "
        "tariff change are worth 100.00 USD = 10.00 % of FOB (within 10 %): passes.",
        "RVC40: build-down RVC (RCEP Art. 3.5) = (FOB 1000.00 − VNM 130.00) / FOB 1000.00 × "
        "100 = 87.00 %, not less than 40 %: passes.",
        "Verdict: originating under RCEP (RVC).",
    ]


def test_without_a_rule_row_only_wo_and_pe_are_decided():
    # HS2022 8701.21 is HS2012 8701.20; the shipped RCEP table has no chapter 87 rows
    pe = determine(
        "RCEP",
        "870121",
        bom(mat("870899", "1.00", origin="JP", originating=True), hs_edition="HS2022"),
    )
    assert pe.originating and pe.criteria == ["PE"] and pe.mapped_product_hs == "870120"
    assert (pe.rule, pe.rule_level, pe.rule_code, pe.rule_source) == (
        "PE",
        "article",
        None,
        "RCEP Art. 3.2(b)",
    )
    assert pe.reasons == [
        "HS: HS2022 870121 is HS2012 870120 (n:1).",
        "Rule: RCEP no product-specific rule needed: 'PE' (source: RCEP Art. 3.2(b); rule "
        "table 2026.1).",
        "PE (RCEP Art. 3.2(b)): every one of the 1 materials is originating: originating.",
    ]
    wo = determine("RCEP", "870120", bom(wholly_obtained=True))
    assert wo.originating and wo.criteria == ["WO"] and wo.rule == "WO"
    assert wo.rule_source == "RCEP Art. 3.2(a), 3.3"
    with pytest.raises(NoRuleData) as info:
        determine("RCEP", "870121", bom(mat("870899", "1.00"), hs_edition="HS2022"))
    assert info.value.detail.startswith(
        "no RCEP rule for HS2012 870120 (mapped from HS2022 870121) in rule table 2026.1 "
    )
    # a PE good from a country that is not a Party has no rule to be refused under
    with pytest.raises(NoRuleData) as info:
        determine(
            "RCEP",
            "870899",
            bom(mat("870899", "1.00", origin="JP", originating=True), exporting="US"),
        )
    assert info.value.detail.startswith("no RCEP rule for HS2012 870899 in rule table 2026.1 ")
    # no materials and not wholly obtained: nothing to decide PE on
    with pytest.raises(NoRuleData):
        determine("RCEP", "870899", bom())


def test_de_minimis_by_weight_at_and_over_its_bound():
    t = rule("chapter", "53", "CTH")
    materials = [mat("530919", "300.00", weight_kg="1.0"), mat("530610", "100.00", weight_kg="9.0")]
    at = determine("RCEP", "530911", bom(*materials, weight_kg="10.0"), rules=t)
    assert at.originating and at.criteria == ["CTC", "DMI"]
    assert at.reasons[1:] == [
        "CTH: every non-originating material must be classified outside heading 53.09; fails "
        "for material 1 (HS 530919, origin CN): same heading 53.09 as the product.",
        "De minimis (RCEP Art. 3.7): by weight (Chapters 50-63), 1.0 kg = 10.00 % of the "
        "good's 10.0 kg (within 10 %): passes.",
        "Verdict: originating under RCEP (CTC, DMI).",
    ]
    over = determine("RCEP", "530911", bom(*materials, weight_kg="9.99"), rules=t)
    assert over.originating is False
    assert over.reasons[2] == (
        "De minimis (RCEP Art. 3.7): by value, the non-originating materials failing the "
        "tariff change are worth 300.00 USD = 30.00 % of FOB (over 10 %); by weight (Chapters "
        "50-63), 1.0 kg = 10.01 % of the good's 9.99 kg (over 10 %): does not apply."
    )
    assert over.failing_materials == [
        failure(0, "530919", "300.00", "CTH: same heading 53.09 as the product")
    ]
    # a good of no weight: only the value test is stated
    zero = determine("RCEP", "530911", bom(*materials, weight_kg="0"), rules=t)
    assert zero.originating is False
    assert zero.reasons[2] == (
        "De minimis (RCEP Art. 3.7): by value, the non-originating materials failing the "
        "tariff change are worth 300.00 USD = 30.00 % of FOB (over 10 %): does not apply."
    )
    unknown = determine("RCEP", "530911", bom(*materials), rules=t)
    assert unknown.reasons[2].endswith(
        "(over 10 %); by weight (Chapters 50-63), not computable: the BOM lacks the good's "
        "weight_kg or a failing material's weight_kg: does not apply."
    )
    # outside Chapters 50-63 there is no weight test
    t85 = rule("heading", "8538", "CTH")
    heavy = [mat("853890", "300.00", weight_kg="0.1")]
    other = determine("RCEP", "853890", bom(*heavy, weight_kg="10.0"), rules=t85)
    assert other.originating is False and "by weight" not in other.reasons[2]


def test_jtepa_de_minimis_by_value_is_for_listed_chapters_only():
    t = table("JTEPA,chapter,14,CC,Vegetable products,test\n", agreement="JTEPA")
    d = determine(
        "JTEPA", "140490", bom(mat("140110", "50.00"), exporting="TH", importing="JP"), rules=t
    )
    assert d.originating is False
    assert d.reasons[2] == (
        "De minimis (JTEPA Art. 30 and Annex 2 Section 1 note (e)): by value, not available for "
        "goods of chapter 14 under "
        "JTEPA: does not apply."
    )


def test_an_exception_names_the_excluded_code_a_material_comes_from():
    d = determine(
        "RCEP",
        "050400",
        bom(mat("010290", "300.00", description="cattle"), mat("050400", "100.00")),
    )
    assert d.originating is False
    assert d.reasons[1:] == [
        "CC except from Chapter 01: every non-originating material must be classified outside "
        "chapter 05 and not come from the excluded codes; fails for material 1 'cattle' (HS "
        "010290, origin CN): from Chapter 01, which the rule excludes; material 2 (HS 050400, "
        "origin CN): same chapter 05 as the product.",
        "De minimis (RCEP Art. 3.7): by value, the non-originating materials failing the "
        "tariff change are worth 400.00 USD = 40.00 % of FOB (over 10 %): does not apply.",
        "Verdict: not originating under RCEP: the rule 'CC except from Chapter 01' is not met.",
    ]
    assert [f["reason"] for f in d.failing_materials] == [
        "CC except from Chapter 01: from Chapter 01, which the rule excludes",
        "CC except from Chapter 01: same chapter 05 as the product",
    ]


def test_a_tariff_change_with_no_materials_at_all_passes():
    d = determine("RCEP", "853890", bom(), rules=rule("heading", "8538", "CTH"))
    assert d.originating and d.criteria == ["CTC"] and d.rvc_percent == Decimal(100)
    assert d.reasons[1:] == [
        "CTH: every non-originating material must be classified outside heading 85.38; there "
        "are no non-originating materials: passes.",
        "Verdict: originating under RCEP (CTC).",
    ]


def test_percentages_are_shown_rounded_half_up():
    # (20000 - 17531) / 20000 = 12.345 %: 12.35 rounded half up (12.34 half to even)
    d = determine(
        "RCEP",
        "853890",
        bom(mat("853890", "17531.00"), fob="20000.00"),
        rules=rule("heading", "8538", "RVC12.34"),
    )
    assert d.originating and d.rvc_percent == Decimal("12.345")
    assert d.to_json()["rvc_percent"] == "12.35" and d.to_json()["rvc_threshold"] == "12.34"
    assert d.reasons[1] == (
        "RVC12.34: build-down RVC (RCEP Art. 3.5) = (FOB 20000.00 − VNM 17531.00) / FOB "
        "20000.00 × 100 = 12.35 %, not less than 12.34 %: passes."
    )


TEXTILES = [mat("530919", "300.00", weight_kg="0.05"), mat("530610", "100.00", weight_kg="0.45")]


def test_de_minimis_by_weight_of_a_good_lighter_than_a_kilogram():
    d = determine(
        "RCEP", "530911", bom(*TEXTILES, weight_kg="0.5"), rules=rule("chapter", "53", "CTH")
    )
    assert d.originating and d.criteria == ["CTC", "DMI"]
    assert d.reasons[2] == (
        "De minimis (RCEP Art. 3.7): by weight (Chapters 50-63), 0.05 kg = 10.00 % of the "
        "good's 0.5 kg (within 10 %): passes."
    )


@pytest.mark.parametrize(
    "value_pct, weight_pct, originating, sentence",
    [
        (None, None, False, "De minimis: RCEP has none."),
        (
            None,
            Decimal(10),
            True,
            "De minimis (RCEP Art. 3.7): by weight (Chapters 50-63), 0.05 kg = 10.00 % of the "
            "good's 0.5 kg (within 10 %): passes.",
        ),
    ],
)
def test_an_agreement_without_de_minimis_by_value_or_at_all(
    monkeypatch, value_pct, weight_pct, originating, sentence
):
    # no shipped agreement lacks de minimis by value: RCEP with its percentages replaced
    import documents.origin.evaluate as evaluate
    from documents.origin.agreements import RCEP

    profile = replace(RCEP, de_minimis_value_pct=value_pct, de_minimis_weight_pct=weight_pct)
    monkeypatch.setattr(evaluate, "get_profile", lambda code: profile)
    d = determine(
        "RCEP", "530911", bom(*TEXTILES, weight_kg="0.5"), rules=rule("chapter", "53", "CTH")
    )
    assert d.originating is originating
    assert d.reasons[2] == sentence


def test_an_undecided_part_keeps_the_failures_that_made_it_undecided():
    # JVEPA cannot apply its de minimis: CC failing leaves "CC and SP(...)" undecided, with the
    # failing material kept
    t = table("JVEPA,heading,2001,CC and SP(pickling),x,t\n", agreement="JVEPA")
    d = determine("JVEPA", "200110", bom(mat("200190", "400.00"), operations=["pickling"]), rules=t)
    assert d.verdict == "needs-decision" and len(d.needs_decision) == 1
    assert d.failing_materials == [
        failure(0, "200190", "400.00", "CC: same chapter 20 as the product")
    ]
    assert (
        d.reasons[-2] == "SP: the process 'pickling' is declared in the BOM's operations: passes."
    )


def test_a_material_failing_the_same_way_twice_is_listed_with_that_reason_once():
    d = determine(
        "RCEP",
        "853890",
        bom(mat("853890", "400.00")),
        rules=rule("heading", "8538", "CTH or (CTH and SP(moulding))"),
    )
    assert d.originating is False
    assert d.failing_materials == [
        failure(0, "853890", "400.00", "CTH: same heading 85.38 as the product")
    ]


def test_the_general_rule_takes_its_own_rvc_criterion_code(monkeypatch):
    # AJCEP writes "RVC" for the general and the product-specific value test alike; with its own
    # code for the general one, that code is what the Determination gives
    import documents.origin.evaluate as evaluate
    from documents.origin.agreements import AJCEP

    codes = {**AJCEP.criterion_codes, "GENERAL_RVC": "RVC (Art. 26.1)"}
    monkeypatch.setattr(evaluate, "get_profile", lambda code: replace(AJCEP, criterion_codes=codes))
    t = table(
        "",
        agreement="AJCEP",
        coverage={"94": {"status": "full", "note": "no Annex 2 row"}},
        general_rule={"rule": "CTH or RVC40", "source": "AJCEP Art. 26.1"},
    )
    d = determine(
        "AJCEP", "940360", bom(mat("940390", "500.00"), exporting="TH", importing="JP"), rules=t
    )
    assert d.criteria == ["RVC (Art. 26.1)"]


def test_each_ambiguous_material_is_its_own_question():
    d = determine(
        "RCEP",
        "853890",
        bom(mat("852990", "300.00"), mat("852990", "400.00"), hs_edition="HS2022"),
        rules=rule("heading", "8538", "CTH"),
    )
    questions = [
        f"which HS2012 subheading material {n} falls in decides whether it changes heading (the "
        "correlation is many-to-many)"
        for n in (1, 2)
    ]
    assert d.originating is False and [q["question"] for q in d.needs_decision] == questions
    assert d.reasons[-2:] == [
        "CTH: the HS2012 classification of material 1 (HS 852990, origin CN), material 2 (HS "
        "852990, origin CN) is ambiguous (several correlated subheadings, some inside and some "
        "outside the product's heading): needs a decision.",
        f"Verdict: needs a decision ({questions[0]}; {questions[1]}) before origin can be "
        "determined; not originating until then.",
    ]
