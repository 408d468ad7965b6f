"""Hand-worked determinations, one per criterion and boundary (RCEP unless stated)."""

from decimal import Decimal

import pytest

from documents.origin.evaluate import Determination, determination_digest, determine
from documents.origin.rules import parse_table
from ledger.errors import NoRuleData, OriginInputError
from tests.origin.helpers import bom, mat

# --- RVC boundaries: heading 85.38 "CTH or RVC40"; the material of the same heading fails CTH
# and is worth more than 10 % of FOB, so only the RVC can confer origin.


def rvc_case(fob: str, same_heading_value: str) -> Determination:
    return determine(
        "RCEP", "853890", bom(mat("853890", same_heading_value, description="housing"), fob=fob)
    )


def test_rvc_exactly_40_passes():
    d = rvc_case("1000.00", "600.00")  # (1000 - 600) / 1000 = 40.00 %
    assert d.originating and d.criterion == "RVC"
    assert d.rvc_percent == Decimal(40)
    assert d.to_json()["rvc_percent"] == "40.00"


def test_rvc_39_99_fails():
    d = rvc_case("10000.00", "6001.00")  # 39.99 %
    assert not d.originating and d.criterion is None
    assert d.to_json()["rvc_percent"] == "39.99"
    assert any("housing" in r and "CTH" in r for r in d.reasons)
    assert d.failing_materials[0]["hs"] == "853890"


def test_rvc_compared_unrounded():
    d = rvc_case("20000.00", "12001.00")  # 39.995 %: displays 40.00 but is below 40
    assert d.to_json()["rvc_percent"] == "40.00"
    assert not d.originating


def test_ctc_passes_when_materials_change_heading():
    d = determine("RCEP", "853890", bom(mat("854140", "900.00"), mat("392690", "50.00")))
    assert d.originating and d.criterion == "CTC"
    assert d.rvc_percent == Decimal("5")  # computed, reported, not needed


def test_ctsh_rule():
    # 8517.12 "CTSH or RVC40": a part of 8517.70 changes subheading; another 8517.12 does not
    ok = determine("RCEP", "851712", bom(mat("851770", "700.00")))
    assert ok.originating and ok.criterion == "CTC"
    ko = determine("RCEP", "851712", bom(mat("851712", "700.00"), mat("851770", "100.00")))
    assert not ko.originating
    assert [f["hs"] for f in ko.failing_materials] == ["851712", "851770"]
    assert "same subheading 8517.12" in ko.failing_materials[0]["reason"]


def test_exception_from_chapter():
    # 05.04 "CC except from Chapter 01": a non-originating live animal (Ch. 01) is excluded
    ko = determine("RCEP", "050400", bom(mat("010290", "300.00", description="cattle")))
    assert not ko.originating
    assert "except" in ko.rule and "Chapter 01" in ko.failing_materials[0]["reason"]
    ok = determine("RCEP", "050400", bom(mat("020629", "300.00")))
    assert ok.originating and ok.criterion == "CTC"


def test_exception_from_subheading():
    # 1302.19 "CC except from subheading 1211.20" (ginseng roots)
    ko = determine("RCEP", "130219", bom(mat("121120", "500.00")))
    assert not ko.originating
    ok = determine("RCEP", "130219", bom(mat("121190", "500.00")))
    assert ok.originating


# --- de minimis (Art. 3.7): chapter 14 "CC", non-originating material of the same chapter


def test_de_minimis_exactly_10_percent_passes():
    d = determine("RCEP", "140490", bom(mat("140110", "100.00"), mat("440399", "500.00")))
    assert d.originating
    assert d.criteria == ["CTC", "DMI"]
    assert any("10.00 % of FOB" in r for r in d.reasons)


def test_de_minimis_over_10_percent_fails():
    d = determine("RCEP", "140490", bom(mat("140110", "100.01")))
    assert not d.originating
    assert d.failing_materials[0]["hs"] == "140110"


def test_de_minimis_by_weight_for_textiles():
    # 53.09 "CTH" (woven fabrics of flax): flax yarn of 53.09 itself? use 5309 fabric as material
    materials = [mat("530919", "300.00", weight_kg="0.9"), mat("530610", "100.00", weight_kg="9.1")]
    by_weight = determine("RCEP", "530911", bom(*materials, weight_kg="10.0"))
    assert by_weight.originating and "DMI" in by_weight.criteria
    assert any("by weight" in r and "9.00 %" in r for r in by_weight.reasons)
    no_weight = determine("RCEP", "530911", bom(*materials))
    assert not no_weight.originating
    assert any("not computable" in r for r in no_weight.reasons)


# --- accumulation, unknown origin, WO, PE, minimal operations


def test_accumulation_counts_party_materials_as_originating():
    # 60 % from TH (a Party, declared originating) + 40 % Chinese parts of the same heading
    d = determine(
        "RCEP",
        "853890",
        bom(mat("853890", "400.00"), mat("854140", "600.00", origin="TH", originating=True)),
    )
    assert d.originating and d.criteria == ["RVC", "ACU"]
    assert d.rvc_percent == Decimal(60)
    assert any("Accumulation" in r and "origin TH" in r for r in d.reasons)


def test_originating_claim_from_a_non_party_does_not_count():
    d = determine(
        "RCEP",
        "853890",
        bom(mat("853890", "400.00"), mat("854140", "600.00", origin="US", originating=True)),
    )
    assert not d.originating
    assert d.rvc_percent == Decimal(0)
    assert any("US is not a Party" in r for r in d.reasons)


def test_unknown_origin_is_non_originating():
    d = determine(
        "RCEP",
        "853890",
        bom(mat("853890", "300.00"), mat("854140", "400.00", origin="unknown", originating=True)),
    )
    assert not d.originating
    assert d.rvc_percent == Decimal(30)
    assert any("unknown" in r for r in d.reasons)


def test_wholly_obtained():
    d = determine("RCEP", "010121", bom(wholly_obtained=True))
    assert d.originating and d.criterion == "WO"
    ko = determine("RCEP", "010121", bom(mat("010121", "100.00"), wholly_obtained=True))
    assert not ko.originating  # chapter 01 rule is WO; a non-originating horse defeats it


def test_produced_entirely_from_originating_materials():
    d = determine(
        "RCEP",
        "870899",
        bom(
            mat("731815", "40.00", origin="JP", originating=True),
            mat("870899", "500.00", origin="TH", originating=True),
        ),
    )
    # PE is open to every tariff line (Annex 3A headnote 2), so it is decided even though this
    # build has no rule row for chapter 87
    assert d.originating and d.criteria == ["PE", "ACU"]
    assert d.rule_level == "article"


def test_minimal_operations_defeat_origin():
    materials = [mat("854140", "300.00")]
    d = determine("RCEP", "853890", bom(*materials, operations=["packaging", "labelling"]))
    assert not d.originating
    assert any("Minimal operations" in r for r in d.reasons)
    ok = determine("RCEP", "853890", bom(*materials, operations=["packaging", "assembly"]))
    assert ok.originating


def test_build_up_rvc():
    costs = {"direct_labour": "150.00", "direct_overhead": "50.00", "profit": "50.00"}
    d = determine(
        "RCEP",
        "853890",
        bom(
            mat("853890", "700.00"),
            mat("392690", "200.00", origin="JP", originating=True),
            costs=costs,
        ),
    )
    # build-down: 30 %; build-up: (200 + 250) / 1000 = 45 %
    assert d.originating and d.criterion == "RVC"
    assert d.to_json()["rvc_percent"] == "30.00"
    assert d.to_json()["rvc_build_up_percent"] == "45.00"


# --- HS editions


def test_hs2022_product_mapped_to_hs2012():
    # HS2022 8517.13 (smartphones) is HS2012 8517.12, whose rule is "CTSH or RVC40"
    d = determine("RCEP", "851713", bom(mat("392690", "700.00"), hs_edition="HS2022"))
    assert d.mapped_product_hs == "851712"
    assert d.product_hs_edition == "HS2022" and d.hs_edition == "HS2012"
    assert d.rule == "CTSH or RVC40" and d.originating
    assert any("HS2022 851713 is HS2012 851712" in r for r in d.reasons)


def test_ambiguous_material_mapping_needs_decision():
    # HS2022 8529.90 parts correlate to dozens of HS2012 subheadings, 8538.90 among them
    d = determine("RCEP", "853890", bom(mat("852990", "700.00"), hs_edition="HS2022"))
    assert not d.originating
    assert d.verdict == "needs-decision"
    assert d.needs_decision[0]["location"] == "/materials/0/hs"
    assert "853890" in d.needs_decision[0]["candidates"]


def test_ambiguous_material_immaterial_under_de_minimis():
    d = determine(
        "RCEP", "853890", bom(mat("852990", "50.00"), mat("854110", "600.00"), hs_edition="HS2022")
    )
    assert d.originating and "DMI" in d.criteria


def test_ambiguous_product_mapping_needs_decision():
    # HS2022 8539.51 (LED modules) came from several HS2012 headings with different rules
    d = determine("RCEP", "853951", bom(mat("854110", "100.00"), hs_edition="HS2022"))
    assert d.verdict == "needs-decision"
    assert d.needs_decision[0]["location"] == "product_hs"


# --- no rule data, bad input


def test_no_rule_data():
    with pytest.raises(NoRuleData) as info:
        determine("RCEP", "870899", bom(mat("870899", "100.00")))
    assert (
        info.value.extra["coverage"] == {"chapter": "87", **info.value.extra["coverage"]}
        and info.value.extra["coverage"]["status"] == "missing"
    )
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    "change, pointer",
    [
        ({"fob": "0"}, "/fob"),
        ({"exporting_country": "XX"}, "/exporting_country"),
        ({"currency": "usd"}, "/currency"),
        ({"hs_edition": "HS2007"}, "/hs_edition"),
        ({"surprise": 1}, "/surprise"),
        (
            {"materials": [{"hs": 870899, "origin": "CN", "value": "1", "originating": False}]},
            "/materials/0/hs",
        ),
        (
            {"materials": [{"hs": "8708", "origin": "CN", "value": "1", "originating": False}]},
            "/materials/0/hs",
        ),
        (
            {
                "materials": [
                    {"hs": "870899", "origin": "China", "value": "1", "originating": False}
                ]
            },
            "/materials/0/origin",
        ),
        (
            {"materials": [{"hs": "870899", "origin": "CN", "value": "-1", "originating": False}]},
            "/materials/0/value",
        ),
    ],
)
def test_invalid_bom_names_location(change, pointer):
    with pytest.raises(OriginInputError) as info:
        determine("RCEP", "853890", {**bom(), **change})
    assert info.value.location == pointer
    assert info.value.exit_code == 1


def test_material_code_not_in_edition():
    with pytest.raises(OriginInputError) as info:
        determine("RCEP", "853890", bom(mat("851713", "1.00")))  # HS2022-only code as HS2012
    assert info.value.location == "/materials/0/hs"


def test_unknown_agreement():
    with pytest.raises(OriginInputError):
        determine("NAFTA", "853890", bom())


# --- other agreement tables, table override, digest


def test_rules_override_and_version_in_determination():
    table = parse_table(
        "agreement,level,code,rule,description,source\n"
        "RCEP,chapter,87,CTH or RVC40,Vehicles,test table\n",
        agreement="RCEP",
        version="2099.7",
        hs_edition="HS2012",
    )
    d = determine("RCEP", "870899", bom(mat("870899", "200.00")), rules=table)
    assert d.rules_version == "2099.7" and d.to_json()["rules_version"] == "2099.7"
    assert d.originating and d.criterion == "RVC"


def test_digest_is_stable_and_sensitive():
    b = bom(mat("854140", "900.00"))
    d1 = determine("RCEP", "853890", b)
    d2 = determine("RCEP", "853890", b)
    assert determination_digest(d1) == determination_digest(d2)
    assert len(determination_digest(d1)) == 64
    d3 = determine("RCEP", "853890", bom(mat("854140", "900.01")))
    assert determination_digest(d3) != determination_digest(d1)
    assert determination_digest(d1.to_json()) == determination_digest(d1)


def test_json_carries_the_interface_fields():
    j = determine("RCEP", "853890", bom(mat("854140", "900.00"))).to_json()
    for key in (
        "agreement",
        "product_hs",
        "hs_edition",
        "rule",
        "originating",
        "criterion",
        "rvc_percent",
        "reasons",
        "rules_version",
    ):
        assert key in j
    assert isinstance(j["reasons"], list) and all(isinstance(r, str) for r in j["reasons"])


# --- AJCEP general rule and JTEPA de minimis scope, driven by the agreement profiles

AJCEP_GENERAL = {"rule": "CTH or RVC40", "source": "AJCEP Art. 26.1"}
HEADER = "agreement,level,code,rule,description,source\n"


def test_shipped_ajcep_table_has_no_psr_so_no_rule_data():
    with pytest.raises(NoRuleData) as info:
        determine("AJCEP", "940360", bom(mat("440399", "100.00"), exporting="TH", importing="JP"))
    assert info.value.extra["coverage"]["status"] == "missing"


def test_ajcep_general_rule_applies_where_a_chapter_is_fully_known():
    table = parse_table(
        HEADER,
        agreement="AJCEP",
        version="2099.1",
        hs_edition="HS2012",
        coverage={"94": {"status": "full", "note": "no Annex 2 row"}},
        general_rule=AJCEP_GENERAL,
    )
    d = determine(
        "AJCEP", "940360", bom(mat("440399", "600.00"), exporting="TH", importing="JP"), rules=table
    )
    assert d.originating and d.criterion == "CTH"  # Form AJ: 'CTH' for Art. 26.1
    assert d.rule_level == "general"
    # accumulation is limited to AJCEP Parties: Chinese 'originating' parts do not count
    d2 = determine(
        "AJCEP",
        "940360",
        bom(mat("940390", "700.00", origin="CN", originating=True), exporting="TH", importing="JP"),
        rules=table,
    )
    assert not d2.originating and any("CN is not a Party to AJCEP" in r for r in d2.reasons)


def test_jtepa_de_minimis_only_for_listed_chapters():
    table = parse_table(
        HEADER + "JTEPA,chapter,94,CTH,Furniture,test\n"
        "JTEPA,chapter,14,CC,Vegetable products,test\n",
        agreement="JTEPA",
        version="2099.1",
        hs_edition="HS2012",
    )
    ok = determine(
        "JTEPA", "940360", bom(mat("940390", "100.00"), exporting="TH", importing="JP"), rules=table
    )
    assert ok.originating and ok.criterion == "PS"  # JTEPA certificate: WO, PE, PS
    ko = determine(
        "JTEPA", "140490", bom(mat("140110", "50.00"), exporting="TH", importing="JP"), rules=table
    )
    assert not ko.originating
    assert any("not available for goods of chapter 14" in r for r in ko.reasons)
