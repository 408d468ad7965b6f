from decimal import Decimal

import pytest

from documents.origin.ast import (
    AllOf,
    AnyOf,
    ChangeOfChapter,
    ChangeOfHeading,
    ChangeOfSubheading,
    ChemicalReaction,
    CodeRange,
    Except,
    RegionalValueContent,
    SpecificProcess,
    WhollyObtained,
)
from documents.origin.parser import RuleSyntaxError, parse_rule
from documents.origin.rules import SHIPPED_DIR, load_table_file
from ledger.errors import OriginInputError

CASES = {
    "WO": WhollyObtained(),
    "CC": ChangeOfChapter(),
    "CTH": ChangeOfHeading(),
    "CTSH": ChangeOfSubheading(),
    "CR": ChemicalReaction(),
    "RVC40": RegionalValueContent(Decimal(40)),
    "RVC(35)": RegionalValueContent(Decimal(35)),
    "QVC 40%": RegionalValueContent(Decimal(40), "QVC"),
    # JVEPA calls it local value content (Japan Customs' HS2007 schedule: "LVC四十パーセント")
    "LVC40": RegionalValueContent(Decimal(40), "LVC"),
    "CTH or LVC 40%": AnyOf((ChangeOfHeading(), RegionalValueContent(Decimal(40), "LVC"))),
    # JVEPA 2001.10 as printed: "CC except from Chapter 7 or 8."
    "CC except from Chapter 7 or 8": Except(
        ChangeOfChapter(), (CodeRange("07", "07"), CodeRange("08", "08"))
    ),
    "CTH or RVC40": AnyOf((ChangeOfHeading(), RegionalValueContent(Decimal(40)))),
    "CC except from Chapter 01": Except(ChangeOfChapter(), (CodeRange("01", "01"),)),
    "CC except from subheading 1211.20": Except(
        ChangeOfChapter(), (CodeRange("121120", "121120"),)
    ),
    "CTH except from heading 40.01": Except(ChangeOfHeading(), (CodeRange("4001", "4001"),)),
    "CTH except from Chapter 72": Except(ChangeOfHeading(), (CodeRange("72", "72"),)),
    "CC except from Chapter 01 or RVC40": AnyOf(
        (Except(ChangeOfChapter(), (CodeRange("01", "01"),)), RegionalValueContent(Decimal(40)))
    ),
    "CTH except from headings 40.01 through 40.03 or 40.05 and RVC40": AllOf(
        (
            Except(ChangeOfHeading(), (CodeRange("4001", "4003"), CodeRange("4005", "4005"))),
            RegionalValueContent(Decimal(40)),
        )
    ),
    "CTSH with RVC40": AllOf((ChangeOfSubheading(), RegionalValueContent(Decimal(40)))),
    "(CC or CTH) and RVC40": AllOf(
        (AnyOf((ChangeOfChapter(), ChangeOfHeading())), RegionalValueContent(Decimal(40)))
    ),
    "SP(dyeing and printing) or CC": AnyOf(
        (SpecificProcess("dyeing and printing"), ChangeOfChapter())
    ),
    "CR; or CTSH": AnyOf((ChemicalReaction(), ChangeOfSubheading())),
}


@pytest.mark.parametrize("text", sorted(CASES))
def test_parses_to_expected_ast(text):
    assert parse_rule(text) == CASES[text]


@pytest.mark.parametrize("text", sorted(CASES))
def test_round_trip(text):
    node = parse_rule(text)
    assert parse_rule(str(node)) == node


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "CTH or",
        "RVC",
        "CTH except",
        "foo",
        "RVC40 except from Chapter 01",
        "CTH or RVC140",
        "CTH ?",
        "(CTH or RVC40",
        "CTH except from heading 4001.10",
        "LVC",
        "CTH except from headings 40.05 through 40.01",
        "SP()",
    ],
)
def test_bad_rule_text_fails(bad):
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(bad)
    assert isinstance(info.value, OriginInputError)


def test_except_list_vs_alternative():
    # "or" followed by a code continues the exception; followed by a rule it is an alternative
    node = parse_rule("CTH except from heading 40.01 or 40.02")
    assert isinstance(node, Except) and len(node.excluded) == 2
    node = parse_rule("CTH except from heading 40.01 or CTSH")
    assert isinstance(node, AnyOf) and node.options[1] == ChangeOfSubheading()


def test_every_shipped_rule_parses():
    tables = list(SHIPPED_DIR.glob("*/*.csv"))
    assert tables, "no shipped rule tables"
    seen = 0
    for path in tables:
        table = load_table_file(path)
        for row in table.rows.values():
            assert parse_rule(row.text) == row.rule
            seen += 1
    assert seen >= 80
