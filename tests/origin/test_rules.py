import json

import pytest

from documents.origin import rules as rules_mod
from documents.origin.rules import (
    HEADER,
    RuleTableInvalid,
    install_table,
    load_rules,
    parse_table,
)
from ledger.errors import NoRuleData, OriginInputError

GOOD = (
    ",".join(HEADER)
    + "\n"
    + "\n".join(
        [
            "RCEP,chapter,94,CTH or RVC40,Furniture,Annex 3A p.212",
            "RCEP,heading,8538,CTH or RVC40,Parts,Annex 3A p.197",
            "RCEP,subheading,853890,CTSH,Parts other,test row",
        ]
    )
)


def parse(text, **kw):
    return parse_table(text, agreement="RCEP", version="2099.1", hs_edition="HS2012", **kw)


def test_lookup_takes_the_most_specific_row():
    t = parse(GOOD)
    assert t.lookup("853890").text == "CTSH"
    assert t.lookup("853810").text == "CTH or RVC40"  # heading row
    assert t.lookup("940360").level == "chapter"
    assert t.lookup("870899") is None


@pytest.mark.parametrize("version", ["2099.1\n", "\u0662\u0660\u0669\u0669.1"])
def test_a_version_is_year_dot_n_in_ascii_and_nothing_more(version):
    with pytest.raises(OriginInputError):
        parse_table(GOOD, agreement="RCEP", version=version, hs_edition="HS2012")


def test_broken_table_names_each_bad_row():
    bad = (
        GOOD
        + "\n"
        + "\n".join(
            [
                "RCEP,heading,85381,CTH,bad code length,src",  # row 5
                "RCEP,subheading,853890,CTH,duplicate,src",  # row 6
                "RCEP,heading,8539,CTH or RVC 4O,bad rule,src",  # row 7
                "AJCEP,heading,8540,CTH,wrong agreement,src",  # row 8
                "RCEP,heading,8540,CTH,no source,",  # row 9
                "RCEP,heading,7777,CTH,no such heading,src",  # row 10
                "RCEP,section,85,CTH,bad level,src",  # row 11
            ]
        )
    )
    with pytest.raises(RuleTableInvalid) as info:
        parse(bad)
    rows = sorted({e["row"] for e in info.value.errors})
    assert rows == [5, 6, 7, 8, 9, 10, 11]
    assert "row 7" in info.value.detail and "rule" in info.value.detail
    assert info.value.exit_code == 1


def test_bad_header():
    with pytest.raises(RuleTableInvalid):
        parse("level,code,rule\nchapter,94,CTH\n")


def test_shipped_rcep_table_and_coverage():
    t = load_rules("RCEP")
    assert t.hs_edition == "HS2012"
    assert len(t.rows) == 80
    assert all(row.source for row in t.rows.values())
    assert t.chapter_coverage("94")["status"] == "full"
    assert t.chapter_coverage("87")["status"] == "missing"
    assert t.chapter_coverage("85")["status"] == "partial"


def test_no_rule_data_names_coverage():
    t = load_rules("RCEP")
    err = t.no_rule_data("870899")
    assert isinstance(err, NoRuleData) and err.exit_code == 3 and err.status == 422
    assert err.extra["coverage"]["chapter"] == "87"
    assert err.extra["coverage"]["status"] == "missing"


def test_install_new_version_and_load_newest(tmp_path):
    shipped = load_rules("RCEP")
    t = install_table("RCEP", GOOD, tmp_path, hs_edition="HS2012")
    assert rules_mod._version_key(t.version) > rules_mod._version_key(shipped.version)
    loaded = load_rules("RCEP", tmp_path)
    assert loaded.version == t.version
    assert loaded.lookup("853890").text == "CTSH"
    manifest = json.loads((tmp_path / "origin-rules" / "RCEP" / f"{t.version}.json").read_text())
    assert manifest["hs_edition"] == "HS2012"
    assert manifest["coverage"]["94"]["status"] == "full"
    t2 = install_table("RCEP", GOOD, tmp_path, hs_edition="HS2012")
    assert rules_mod._version_key(t2.version) > rules_mod._version_key(t.version)
    assert load_rules("RCEP", tmp_path).version == t2.version
    # a home without tables for the agreement falls back to the shipped table
    assert load_rules("RCEP", tmp_path / "empty").version == shipped.version


def test_install_refuses_bad_table_and_writes_nothing(tmp_path):
    with pytest.raises(RuleTableInvalid):
        install_table(
            "RCEP", GOOD + "\nRCEP,heading,8539,XYZ,bad,src", tmp_path, hs_edition="HS2012"
        )
    assert list(tmp_path.glob("**/*.csv")) == []


def test_data_build_fails_on_a_rule_that_does_not_parse(tmp_path):
    import scripts.build_data as build

    rows = [["RCEP", "heading", "8538", "CTH or maybe RVC40", "Parts", "src"]]
    with pytest.raises(RuleTableInvalid) as info:
        build._install_table(
            tmp_path / "RCEP",
            "2099.1",
            rows,
            {"agreement": "RCEP", "hs_edition": "HS2012", "coverage": {}},
        )
    assert info.value.errors[0]["row"] == 2
    assert info.value.errors[0]["column"] == "rule"
