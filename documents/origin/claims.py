"""Does a bill of materials support the origin criterion a certificate claims for a good?

The certificate's box holds a code of the agreement (``documents.origin.agreements``:
``criterion_codes``), optionally followed by the add-on indications ``ACU`` (accumulation) and
``DMI`` (de minimis), e.g. ``"RVC"``, ``"CTC ACU"``, ``"PS"``. A claim is *supported* when the
engine, on this evidence, reaches a determination whose criterion codes include the claimed
code (and each claimed add-on):

* ``WO`` and ``PE`` are supported only by a wholly-obtained, resp. all-originating, good;
* a tariff-change code (``CTC``, or a level ``CC``/``CTH``/``CTSH``) by a passing tariff-change
  test of the product's rule, whatever level the rule sets;
* ``RVC`` (``QVC`` where the agreement calls it so) by a passing value test;
* ``SP`` by a passing specific-process or chemical-reaction test;
* an agreement-wide code such as JTEPA's ``PS`` by any product-specific test it stands for.

The engine, given a rule with alternatives (``CTH or RVC40``), reports one alternative that
passes. When that is not the claimed one, the rule is restricted to the claimed test's
alternatives and determined again: a good that meets the claimed test as well is supported by
that determination; one that meets only another test is refused, saying which criterion the
evidence does support.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from documents.origin.agreements import AgreementProfile, get_profile
from documents.origin.ast import (
    AnyOf,
    ChemicalReaction,
    Except,
    RegionalValueContent,
    Rule,
    SpecificProcess,
    TariffChange,
)
from documents.origin.bom import Bom
from documents.origin.evaluate import Determination, determine
from documents.origin.parser import parse_rule
from documents.origin.rules import RuleRow, RuleTable, load_rules
from ledger.errors import OriginInputError

ADD_ONS = frozenset({"ACU", "DMI"})
TARIFF_CHANGE_CODES = frozenset({"CTC", "CC", "CTH", "CTSH"})
#: rule nodes that make up each kind of test (engine bases -> AST node types)
_TEST_NODES: dict[str, tuple[type[Rule], ...]] = {
    "CTC": (TariffChange, Except),
    "GENERAL_CTC": (TariffChange, Except),
    "RVC": (RegionalValueContent,),
    "GENERAL_RVC": (RegionalValueContent,),
    "SP": (SpecificProcess,),
    "CR": (ChemicalReaction,),
}
_SPLIT = re.compile(r"[\s,;+/]+")


@dataclass
class ClaimCheck:
    """The answer for one good: supported or not, the determination behind the answer, why."""

    claimed: str
    supported: bool
    outcome: str  # "supported", "not-originating", "criterion-not-supported", "needs-decision"
    determination: Determination
    reasons: list[str]
    supported_criterion: str | None = None  # what the evidence supports, when originating
    failing_materials: list[dict[str, Any]] = field(default_factory=list)


def parse_claim(claimed: str, profile: AgreementProfile) -> tuple[list[str], list[str]]:
    """The primary codes and the add-ons of a certificate's criterion box."""
    tokens = [t for t in _SPLIT.split(claimed.strip().upper()) if t]
    primary = [t for t in tokens if t not in ADD_ONS]
    add_ons = [t for t in tokens if t in ADD_ONS]
    if len(primary) != 1:
        raise OriginInputError(
            f"the origin criterion {claimed!r} must name exactly one criterion "
            f"(optionally with ACU or DMI); {profile.code} uses "
            + ", ".join(sorted(known_codes(profile)))
        )
    if primary[0] not in known_codes(profile) or not bases_for(primary[0], profile):
        raise OriginInputError(
            f"{primary[0]!r} is not an origin criterion of {profile.code}; it uses "
            + ", ".join(sorted(known_codes(profile)))
        )
    return primary, add_ons


def known_codes(profile: AgreementProfile) -> set[str]:
    codes = {c for b, c in profile.criterion_codes.items() if c and b not in ADD_ONS}
    if codes & {"CTC", "CTH"}:
        codes |= TARIFF_CHANGE_CODES
    return codes


def bases_for(code: str, profile: AgreementProfile) -> set[str]:
    """The engine bases (``WO``, ``PE``, ``CTC``, ``RVC``, ``SP``, ``CR``, …) a code stands for."""
    bases = {b for b, c in profile.criterion_codes.items() if c == code and b not in ADD_ONS}
    if code in TARIFF_CHANGE_CODES:
        bases |= {"CTC", "GENERAL_CTC"}
    if code in ("RVC", profile.rvc_label):
        bases |= {"RVC", "GENERAL_RVC"}
    return {b for b in bases if b in profile.criterion_codes}


def _codes_for(code: str, profile: AgreementProfile) -> set[str]:
    """The criterion codes a determination may carry that support a claim of ``code``."""
    return {code} | {c for b in bases_for(code, profile) if (c := profile.criterion(b))}


def _supports(
    det: Determination, primary: str, add_ons: list[str], profile: AgreementProfile
) -> bool:
    if not det.originating:
        return False
    codes = set(det.criteria)
    return bool(_codes_for(primary, profile) & codes) and all(a in codes for a in add_ons)


def restrict_rule(rule: Rule, kinds: tuple[type[Rule], ...]) -> Rule | None:
    """The alternatives of ``rule`` that contain a test of ``kinds`` (None: there are none)."""
    options = rule.options if isinstance(rule, AnyOf) else (rule,)
    kept = tuple(o for o in options if any(isinstance(n, kinds) for n in o.walk()))
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else AnyOf(kept)


def _restricted_table(table: RuleTable, kinds: tuple[type[Rule], ...]) -> RuleTable:
    """The same table (same version) with every rule cut down to the claimed test; a rule
    without such a test becomes one that nothing meets (``AnyOf(())``), never a coarser row."""

    def cut(row: RuleRow) -> RuleRow:
        return replace(row, rule=restrict_rule(row.rule, kinds) or AnyOf(()))

    return replace(
        table,
        rows={code: cut(row) for code, row in table.rows.items()},
        general_rule=None if table.general_rule is None else cut(table.general_rule),
    )


def check_claim(
    agreement: str,
    product_hs: str,
    bom: Bom,
    claimed: str,
    *,
    home: Path | str | None = None,
    rules: RuleTable | None = None,
) -> ClaimCheck:
    """Determine ``product_hs`` from ``bom`` under ``agreement`` and say whether the result
    supports the criterion ``claimed``. Raises :class:`~ledger.errors.NoRuleData` when the
    table has no rule for the product and :class:`OriginInputError` for unusable input."""
    profile = get_profile(agreement)
    primary, add_ons = parse_claim(claimed, profile)
    code = primary[0]
    table = rules if rules is not None else load_rules(profile.code, home)
    det = determine(profile.code, product_hs, bom, rules=table)
    if det.verdict == "needs-decision":
        return ClaimCheck(
            claimed,
            False,
            "needs-decision",
            det,
            [
                "the evidence leaves the HS classification open: "
                + "; ".join(str(n.get("question", n)) for n in det.needs_decision)
            ],
            failing_materials=det.failing_materials,
        )
    if not det.originating:
        failing = "; ".join(
            f"material {m['index'] + 1} (HS {m['hs']}): {m['reason']}"
            for m in det.failing_materials
        )
        return ClaimCheck(
            claimed,
            False,
            "not-originating",
            det,
            [
                f"the good is not originating under {profile.code}"
                + (f": {failing}" if failing else "")
            ],
            failing_materials=det.failing_materials,
        )
    if _supports(det, code, add_ons, profile):
        return ClaimCheck(
            claimed,
            True,
            "supported",
            det,
            [f"the evidence supports {claimed} ({', '.join(det.criteria)})"],
            supported_criterion=det.criterion,
        )
    found = " ".join(det.criteria)
    kinds = tuple(k for b in bases_for(code, profile) for k in _TEST_NODES.get(b, ()))
    rule = parse_rule(det.rule) if det.rule else None
    if (
        kinds
        and det.criterion not in ("WO", "PE")
        and rule is not None
        and restrict_rule(rule, kinds) is not None
    ):
        alt = determine(profile.code, product_hs, bom, rules=_restricted_table(table, kinds))
        alt.reasons.insert(
            0, f"Claim: the certificate claims {claimed}; only the rule's {code} test was applied."
        )
        if _supports(alt, code, add_ons, profile):
            return ClaimCheck(
                claimed,
                True,
                "supported",
                alt,
                [f"the evidence supports {claimed} ({', '.join(alt.criteria)})"],
                supported_criterion=alt.criterion,
            )
        why = [r for r in alt.reasons if "fail" in r or "does not apply" in r]
        reasons = [
            f"the certificate claims {claimed}, but the evidence does not meet that test of "
            f"the rule '{det.rule}'",
            *why,
        ]
        if alt.originating:  # met the test, but not a claimed add-on (ACU, DMI)
            reasons = [
                f"the certificate claims {claimed}, but the evidence supports "
                f"{' '.join(alt.criteria)}: claim that instead"
            ]
        else:
            reasons.append(f"the evidence supports {found}: claim that instead")
        return ClaimCheck(
            claimed,
            False,
            "criterion-not-supported",
            det,
            reasons,
            supported_criterion=det.criterion,
            failing_materials=alt.failing_materials,
        )
    nonorig = [m for m in bom.materials if not m.originating or m.origin == "unknown"]
    if det.criterion in ("WO", "PE"):
        why = f"the good qualifies as {det.criterion}, which is the criterion to claim"
    elif code == "WO":
        why = "the bill of materials does not declare the good wholly obtained" + (
            f" and lists {len(nonorig)} non-originating material(s)" if nonorig else ""
        )
    elif code == "PE":
        why = f"{len(nonorig)} material(s) are not originating: " + ", ".join(
            m.label for m in nonorig
        )
    elif rule is not None and kinds:
        why = f"the rule '{det.rule}' has no {code} test"
    else:
        why = f"{claimed} is not what the evidence shows"
    return ClaimCheck(
        claimed,
        False,
        "criterion-not-supported",
        det,
        [f"the certificate claims {claimed}, but {why}; the evidence supports {found}"],
        supported_criterion=det.criterion,
    )
