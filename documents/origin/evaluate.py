"""Origin determination: a pure function from (agreement, product, BOM, rule table) to a
:class:`Determination` that explains itself.

Order of the tests (RCEP numbering; each profile names its own articles):

1. HS editions: the product and every material are mapped to the rule table's edition through
   the UNSD correlation tables; a code that maps to several codes is "needs decision" unless
   every candidate gives the same answer for the test at hand.
2. Material status: a material is originating only if the supplier declares it so *and* its
   origin is a Party (accumulation, Art. 3.4: materials of any Party count); a material of
   unknown origin is non-originating (Art. 3.5.4).
3. Minimal operations (Art. 3.6): if the BOM declares only minimal operations and there are
   non-originating materials, the good is not originating.
4. WO (Art. 3.2(a)) and PE (Art. 3.2(b)) — available for every tariff line (Annex 3A hn. 2).
5. The product-specific rule (or the agreement's general rule where the table has one and the
   product's chapter is fully covered), evaluated node by node: tariff change per
   non-originating material with exceptions, de minimis (Art. 3.7) when a tariff change fails,
   RVC build-down and build-up (Art. 3.5) compared unrounded with the threshold.

Percentages are rounded to 2 decimals only for display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from documents import hs
from documents.origin.agreements import AgreementProfile, get_profile
from documents.origin.ast import (
    AllOf,
    AnyOf,
    ChemicalReaction,
    Except,
    RegionalValueContent,
    Rule,
    SpecificProcess,
    TariffChange,
    WhollyObtained,
)
from documents.origin.bom import UNKNOWN, Bom, Material, normalise_operation, parse_bom
from documents.origin.parser import parse_rule
from documents.origin.rules import RuleRow, RuleTable, load_rules
from ledger.encoding import Tag, canonical_bytes, tagged_hash
from ledger.errors import NoRuleData, OriginInputError

HUNDRED = Decimal(100)
CENT = Decimal("0.01")
TEXTILE_CHAPTERS = range(50, 64)


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _dotted(code: str) -> str:
    return {2: code, 4: f"{code[:2]}.{code[2:]}", 6: f"{code[:4]}.{code[4:]}"}[len(code)]


# --- the result ----------------------------------------------------------------------------


@dataclass
class Determination:
    agreement: str
    product_hs: str
    product_hs_edition: str
    hs_edition: str
    mapped_product_hs: str | None
    rules_version: str
    rule: str | None
    rule_level: str | None
    rule_code: str | None
    rule_source: str | None
    originating: bool
    criterion: str | None
    criteria: list[str]
    rvc_percent: Decimal | None
    rvc_build_up_percent: Decimal | None
    rvc_threshold: Decimal | None
    reasons: list[str]
    failing_materials: list[dict[str, Any]] = field(default_factory=list)
    needs_decision: list[dict[str, Any]] = field(default_factory=list)
    exporting_country: str = ""
    importing_country: str = ""
    currency: str = ""

    @property
    def verdict(self) -> str:
        if self.needs_decision and not self.originating:
            return "needs-decision"
        return "originating" if self.originating else "not-originating"

    def to_json(self) -> dict[str, Any]:
        """The Determination JSON (docs/origin-formats.md): no floats; percentages as
        2-decimal strings."""
        return {
            "agreement": self.agreement,
            "product_hs": self.product_hs,
            "product_hs_edition": self.product_hs_edition,
            "hs_edition": self.hs_edition,
            "mapped_product_hs": self.mapped_product_hs,
            "rules_version": self.rules_version,
            "rule": self.rule,
            "rule_level": self.rule_level,
            "rule_code": self.rule_code,
            "rule_source": self.rule_source,
            "originating": self.originating,
            "verdict": self.verdict,
            "criterion": self.criterion,
            "criteria": list(self.criteria),
            "rvc_percent": _pct(self.rvc_percent),
            "rvc_build_up_percent": _pct(self.rvc_build_up_percent),
            "rvc_threshold": None
            if self.rvc_threshold is None
            else f"{self.rvc_threshold.normalize():f}",
            "reasons": list(self.reasons),
            "failing_materials": [dict(m) for m in self.failing_materials],
            "needs_decision": [dict(n) for n in self.needs_decision],
            "exporting_country": self.exporting_country,
            "importing_country": self.importing_country,
            "currency": self.currency,
        }


def determination_digest(det: Determination | dict[str, Any]) -> str:
    """Hex SHA-256 of the canonical Determination JSON under ``Tag.DETERMINATION``."""
    body = det.to_json() if isinstance(det, Determination) else det
    return tagged_hash(Tag.DETERMINATION, canonical_bytes(body)).hex()


# --- evaluation context ----------------------------------------------------------------------


@dataclass(slots=True)
class _Mat:
    index: int
    material: Material
    codes: tuple[str, ...]  # candidate codes in the table's edition
    originating: bool
    accumulated: bool
    why_not: str | None  # why a declared-originating material does not count

    def name(self) -> str:
        m = self.material
        desc = f" '{m.description}'" if m.description else ""
        return f"material {self.index + 1}{desc} (HS {m.hs}, origin {m.origin})"

    def failure(self, reason: str) -> dict[str, Any]:
        m = self.material
        return {
            "index": self.index,
            "location": f"/materials/{self.index}",
            "hs": m.hs,
            "description": m.description,
            "value": str(m.value),
            "reason": reason,
        }


@dataclass(slots=True)
class _Outcome:
    passed: bool | None  # None: needs a decision (ambiguous HS mapping)
    bases: list[str]  # e.g. ["CTC"], ["CTC", "DMI"], ["RVC"]
    reasons: list[str]
    failing: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _Ctx:
    profile: AgreementProfile
    bom: Bom
    product: str  # 6 digits, table edition
    mats: list[_Mat]
    nonorig: list[_Mat]
    vnm: Decimal
    rvc_down: Decimal
    rvc_up: Decimal | None
    operations: frozenset[str]


# --- the rule evaluator ----------------------------------------------------------------------


def _eval(node: Rule, ctx: _Ctx) -> _Outcome:
    if isinstance(node, (TariffChange, Except)):
        return _eval_ctc(node, ctx)
    if isinstance(node, RegionalValueContent):
        return _eval_rvc(node, ctx)
    if isinstance(node, AnyOf):
        outs = [_eval(o, ctx) for o in node.options]
        reasons = [r for o in outs for r in o.reasons]
        passing = [o for o in outs if o.passed]
        if passing:
            # the exporter may rely on any alternative (RCEP Annex 3A headnote 8); prefer one
            # that does not lean on de minimis
            best = next((o for o in passing if "DMI" not in o.bases), passing[0])
            return _Outcome(True, best.bases, reasons)
        undecided = [o for o in outs if o.passed is None]
        if undecided:
            return _Outcome(
                None,
                [],
                reasons,
                [f for o in outs for f in o.failing],
                [d for o in undecided for d in o.decisions],
            )
        return _Outcome(False, [], reasons, [f for o in outs for f in o.failing])
    if isinstance(node, AllOf):
        outs = [_eval(p, ctx) for p in node.parts]
        reasons = [r for o in outs for r in o.reasons]
        failing = [f for o in outs for f in o.failing]
        if all(o.passed for o in outs):
            bases: list[str] = []
            for o in outs:
                bases.extend(b for b in o.bases if b not in bases)
            return _Outcome(True, bases, reasons)
        if any(o.passed is False for o in outs):
            return _Outcome(False, [], reasons, failing)
        return _Outcome(None, [], reasons, failing, [d for o in outs for d in o.decisions])
    if isinstance(node, WhollyObtained):
        if ctx.bom.wholly_obtained and not ctx.nonorig:
            return _Outcome(
                True,
                ["WO"],
                [
                    f"WO: the good is declared wholly obtained or "
                    f"produced in {ctx.bom.exporting_country} "
                    f"({ctx.profile.wholly_obtained_article}): passes."
                ],
            )
        why = (
            "the BOM does not declare the good wholly obtained"
            if not ctx.bom.wholly_obtained
            else f"{len(ctx.nonorig)} non-originating material(s) were used"
        )
        return _Outcome(
            False,
            [],
            [f"WO: {why}: fails."],
            [m.failure("non-originating material in a WO good") for m in ctx.nonorig],
        )
    if isinstance(node, ChemicalReaction):
        ok = "chemical-reaction" in ctx.operations
        return _Outcome(
            ok,
            ["CR"] if ok else [],
            [
                "CR: a chemical reaction in the exporting Party is "
                + (
                    "declared in the BOM's operations: passes."
                    if ok
                    else "not declared in the BOM's operations: fails."
                )
            ],
        )
    if isinstance(node, SpecificProcess):
        proc = normalise_operation(node.process)
        ok = proc in ctx.operations
        return _Outcome(
            ok,
            ["SP"] if ok else [],
            [
                f"SP: the process '{node.process}' is "
                + (
                    "declared in the BOM's operations: passes."
                    if ok
                    else "not declared in the BOM's operations: fails."
                )
            ],
        )
    raise OriginInputError(f"rule node {type(node).__name__} cannot be evaluated")


def _eval_ctc(node: TariffChange | Except, ctx: _Ctx) -> _Outcome:
    change = node.change if isinstance(node, Except) else node
    d = change.digits
    target = ctx.product[:d]
    label = str(node)
    failing: list[tuple[_Mat, str]] = []
    undecided: list[_Mat] = []
    for m in ctx.nonorig:
        verdicts = set()
        why = ""
        for code in m.codes:
            if code[:d] == target:
                verdicts.add(False)
                why = f"same {change.level_name} {_dotted(target)} as the product"
            elif isinstance(node, Except) and (r := node.excludes(code)) is not None:
                verdicts.add(False)
                why = f"from {r}, which the rule excludes"
            else:
                verdicts.add(True)
        if verdicts == {False}:
            failing.append((m, why))
        elif len(verdicts) > 1:
            undecided.append(m)
    head = (
        f"{label}: every non-originating material must be classified outside "
        f"{change.level_name} {_dotted(target)}"
        + (" and not come from the excluded codes" if isinstance(node, Except) else "")
    )
    if not ctx.nonorig:
        return _Outcome(True, ["CTC"], [f"{head}; there are no non-originating materials: passes."])
    if not failing and not undecided:
        return _Outcome(
            True,
            ["CTC"],
            [f"{head}; all {len(ctx.nonorig)} non-originating material(s) do: passes."],
        )
    reasons = []
    if failing:
        reasons.append(
            f"{head}; fails for " + "; ".join(f"{m.name()}: {why}" for m, why in failing) + "."
        )
    # de minimis (Art. 3.7): the failing materials are small enough
    dmi_ok, dmi_reason = _de_minimis([m for m, _ in failing] + undecided, ctx)
    if failing or undecided:
        reasons.append(dmi_reason)
    if dmi_ok:
        return _Outcome(True, ["CTC", "DMI"], reasons)
    decisions = []
    if undecided:
        for m in undecided:
            decisions.append(
                {
                    "location": f"/materials/{m.index}/hs",
                    "hs": m.material.hs,
                    "candidates": list(m.codes),
                    "question": f"which {ctx.profile.hs_edition} subheading material "
                    f"{m.index + 1} falls in decides whether it changes "
                    f"{change.level_name} (the correlation is many-to-many)",
                }
            )
        reasons.append(
            f"{label}: the {ctx.profile.hs_edition} classification of "
            + ", ".join(m.name() for m in undecided)
            + " is ambiguous (several correlated subheadings, some inside and some "
            "outside the product's " + change.level_name + "): needs a decision."
        )
    if failing and ctx.profile.de_minimis_unknown:
        # the failing materials might be within a de minimis allowance this build cannot apply
        decisions.append(
            {
                "location": "/materials",
                "hs": None,
                "candidates": [m.material.hs for m, _ in failing],
                "question": f"whether the materials failing {label} are within the de minimis "
                f"allowance of {ctx.profile.de_minimis_article} (not in this build)",
            }
        )
        return _Outcome(
            None, [], reasons, [m.failure(f"{label}: {why}") for m, why in failing], decisions
        )
    if failing:
        return _Outcome(
            False, [], reasons, [m.failure(f"{label}: {why}") for m, why in failing], decisions
        )
    return _Outcome(None, [], reasons, [], decisions)


def _de_minimis(failing: list[_Mat], ctx: _Ctx) -> tuple[bool, str]:
    p = ctx.profile
    fob = ctx.bom.fob
    art = p.de_minimis_article
    if p.de_minimis_unknown:
        return False, f"De minimis ({art}): not evaluated: {p.de_minimis_unknown}."
    if p.de_minimis_value_pct is None and p.de_minimis_weight_pct is None:
        return False, f"De minimis: {p.code} has none."
    parts = []
    chapter = int(ctx.product[:2])
    if p.de_minimis_value_pct is not None and not p.de_minimis_value_applies(chapter):
        parts.append(f"by value, not available for goods of chapter {chapter:02d} under {p.code}")
    elif p.de_minimis_value_pct is not None:
        value = sum((m.material.value for m in failing), Decimal(0))
        share = value / fob * HUNDRED
        ok = share <= p.de_minimis_value_pct
        parts.append(
            f"by value, the non-originating materials failing the tariff change are "
            f"worth {value} {ctx.bom.currency} = {_pct(share)} % of FOB "
            f"({'within' if ok else 'over'} {p.de_minimis_value_pct} %)"
        )
        if ok:
            return True, f"De minimis ({art}): {parts[0]}: passes."
    if p.de_minimis_weight_pct is not None and chapter in TEXTILE_CHAPTERS:
        weights = [m.material.weight_kg for m in failing]
        if ctx.bom.weight_kg is None or any(w is None for w in weights):
            parts.append(
                "by weight (Chapters 50-63), not computable: the BOM lacks the good's "
                "weight_kg or a failing material's weight_kg"
            )
        elif ctx.bom.weight_kg > 0:
            wsum = sum((w for w in weights if w is not None), Decimal(0))
            share = wsum / ctx.bom.weight_kg * HUNDRED
            ok = share <= p.de_minimis_weight_pct
            parts.append(
                f"by weight (Chapters 50-63), {wsum} kg = {_pct(share)} % of the good's "
                f"{ctx.bom.weight_kg} kg ({'within' if ok else 'over'} "
                f"{p.de_minimis_weight_pct} %)"
            )
            if ok:
                return True, f"De minimis ({art}): {parts[-1]}: passes."
    return False, f"De minimis ({art}): " + "; ".join(parts) + ": does not apply."


def _eval_rvc(node: RegionalValueContent, ctx: _Ctx) -> _Outcome:
    p = ctx.profile
    t = node.threshold
    b = ctx.bom
    down_ok = ctx.rvc_down >= t
    reasons = [
        f"{node}: build-down {p.rvc_label} ({p.rvc_article}) = (FOB {b.fob} − VNM "
        f"{ctx.vnm}) / FOB {b.fob} × 100 = {_pct(ctx.rvc_down)} %, "
        + ("not less than" if down_ok else "less than")
        + f" {t} %"
        + (": passes." if down_ok else "")
    ]
    if down_ok:
        return _Outcome(True, ["RVC"], reasons)
    if ctx.rvc_up is not None:
        up_ok = ctx.rvc_up >= t
        vom = sum((m.material.value for m in ctx.mats if m.originating), Decimal(0))
        reasons[0] += "; "
        reasons[0] += (
            f"build-up = (VOM {vom} + costs {b.costs.total if b.costs else 0}) / FOB "
            f"{b.fob} × 100 = {_pct(ctx.rvc_up)} %, "
            + ("not less than" if up_ok else "less than")
            + f" {t} %"
            + (": passes." if up_ok else ": fails.")
        )
        if up_ok:
            return _Outcome(True, ["RVC"], reasons)
    else:
        reasons[0] += ": fails."
    failing = [
        m.failure(f"non-originating material counted in VNM ({m.material.value})")
        for m in sorted(ctx.nonorig, key=lambda m: -m.material.value)
    ]
    return _Outcome(False, [], reasons, failing)


# --- the entry point -------------------------------------------------------------------------


def _map(code: str, frm: str, to: str, location: str) -> hs.Correlation:
    if not hs.subheading_exists(code, frm):
        raise OriginInputError(f"{code} is not a subheading of {frm}", location=location)
    return hs.correlate(code, frm, to)


def determine(
    agreement: str,
    product_hs: str,
    bom: Bom | dict[str, Any] | str | bytes,
    *,
    rules: RuleTable | None = None,
    home: Path | str | None = None,
) -> Determination:
    """Decide whether the good ``product_hs`` made from ``bom`` originates under ``agreement``.

    ``rules`` overrides the rule table (default: the newest installed under ``home`` if given,
    else the shipped table). Raises :class:`OriginInputError` for unusable input and
    :class:`NoRuleData` when the table has no rule for the product.
    """
    profile = get_profile(agreement)
    bom = parse_bom(bom)
    table = rules if rules is not None else load_rules(profile.code, home)
    if table.agreement != profile.code:
        raise OriginInputError(f"the rule table is for {table.agreement}, not {profile.code}")
    if not (isinstance(product_hs, str) and len(product_hs) == 6 and product_hs.isdigit()):
        raise OriginInputError(
            f"the product code {product_hs!r} is not a 6-digit HS subheading", location="product_hs"
        )
    edition = table.hs_edition
    in_edition = bom.hs_edition or edition
    corr = _map(product_hs, in_edition, edition, "product_hs")

    mats: list[_Mat] = []
    for i, m in enumerate(bom.materials):
        mc = _map(m.hs, in_edition, edition, f"/materials/{i}/hs")
        why_not = None
        originating = m.originating
        if originating and m.origin == UNKNOWN:
            originating, why_not = False, "its origin is unknown"
        elif originating and m.origin not in profile.parties:
            originating, why_not = False, f"{m.origin} is not a Party to {profile.code}"
        accumulated = originating and m.origin != bom.exporting_country
        mats.append(_Mat(i, m, mc.targets, originating, accumulated, why_not))
    nonorig = [m for m in mats if not m.originating]
    vnm = sum((m.material.value for m in nonorig), Decimal(0))
    rvc_down = (bom.fob - vnm) / bom.fob * HUNDRED
    rvc_up = None
    if profile.build_up_allowed and bom.costs is not None:
        vom = sum((m.material.value for m in mats if m.originating), Decimal(0))
        rvc_up = (vom + bom.costs.total) / bom.fob * HUNDRED
    ops = frozenset(bom.operations or ())
    products = corr.targets
    results = []
    for code in products:
        ctx = _Ctx(profile, bom, code, mats, nonorig, vnm, rvc_down, rvc_up, ops)
        results.append(
            _determine_one(
                profile, table, bom, product_hs, in_edition, code, ctx, mapping_note=corr
            )
        )
    missing = [r for r in results if isinstance(r, NoRuleData)]
    if len(missing) == len(results):
        raise missing[0]
    dets = [r for r in results if isinstance(r, Determination)]
    if len(dets) == 1 and not missing:
        return dets[0]
    # the product maps to several subheadings of the table's edition
    same = not missing and len({(d.originating, d.criterion) for d in dets}) == 1
    first = dets[0]
    note = (
        f"HS: {in_edition} {product_hs} corresponds to {len(products)} {edition} "
        f"subheadings ({', '.join(products)}; {corr.relationship})"
    )
    if same:
        first.reasons.insert(0, note + "; every one of them gives the same determination.")
        first.mapped_product_hs = ",".join(products)
        return first
    reasons = [
        note + "; they give different determinations, so the classification needs a decision:"
    ]
    for code, r in zip(products, results, strict=True):
        if isinstance(r, NoRuleData):
            reasons.append(f"{edition} {code}: no rule data.")
        else:
            reasons.append(
                f"{edition} {code}: rule '{r.rule}', "
                + ("originating" if r.originating else "not originating")
                + (f" ({r.criterion})" if r.criterion else "")
                + "."
            )
    return Determination(
        agreement=profile.code,
        product_hs=product_hs,
        product_hs_edition=in_edition,
        hs_edition=edition,
        mapped_product_hs=None,
        rules_version=table.version,
        rule=None,
        rule_level=None,
        rule_code=None,
        rule_source=None,
        originating=False,
        criterion=None,
        criteria=[],
        rvc_percent=rvc_down,
        rvc_build_up_percent=rvc_up,
        rvc_threshold=None,
        reasons=reasons,
        needs_decision=[
            {
                "location": "product_hs",
                "hs": product_hs,
                "candidates": list(products),
                "question": f"which {edition} subheading the product falls in",
            }
        ],
        exporting_country=bom.exporting_country,
        importing_country=bom.importing_country,
        currency=bom.currency,
    )


def _merge_failures(failing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[int, dict[str, Any]] = {}
    for f in failing:
        if f["index"] in merged:
            if f["reason"] not in merged[f["index"]]["reason"]:
                merged[f["index"]]["reason"] += "; " + f["reason"]
        else:
            merged[f["index"]] = dict(f)
    return [merged[i] for i in sorted(merged)]


def _find_rule(table: RuleTable, code: str) -> RuleRow | None:
    row = table.lookup(code)
    # the general rule applies only where the table knows the product has no PSR: the code is
    # shown as not listed, or the table lists every PSR of the chapter
    if row is None:
        return table.general_rule_for(code)
    return row


def _determine_one(
    profile: AgreementProfile,
    table: RuleTable,
    bom: Bom,
    product_hs: str,
    in_edition: str,
    code: str,
    ctx: _Ctx,
    mapping_note: hs.Correlation,
) -> Determination | NoRuleData:
    row = _find_rule(table, code)
    if row is None:
        # WO and PE (Art. 3.2(a), (b)) apply to every tariff line: decidable without a row
        basis = (
            "WO"
            if bom.wholly_obtained and not ctx.nonorig
            else "PE"
            if ctx.mats and not ctx.nonorig
            else None
        )
        if basis is None or bom.exporting_country not in profile.parties:
            note = "" if code == product_hs else f" (mapped from {in_edition} {product_hs})"
            return table.no_rule_data(code, note)
        article = profile.wholly_obtained_article if basis == "WO" else profile.pe_article
        row = RuleRow(
            profile.code,
            "article",
            "",
            basis,
            "origin criterion open to every tariff line",
            article,
            parse_rule("WO") if basis == "WO" else AllOf(()),
            0,
        )
    reasons: list[str] = []
    if in_edition != table.hs_edition:
        reasons.append(
            f"HS: {in_edition} {product_hs} is {table.hs_edition} {code} "
            f"({mapping_note.relationship})."
        )
    where = {"general": "general rule", "article": "no product-specific rule needed"}.get(
        row.level
    ) or f"{row.level} {_dotted(row.code)}"
    reasons.append(
        f"Rule: {profile.code} {where}: '{row.text}' (source: {row.source}; rule "
        f"table {table.version})."
    )
    for m in ctx.mats:
        if m.why_not:
            reasons.append(
                f"{m.name()} is declared originating but counts as non-originating: {m.why_not}."
            )
    accumulated = [m for m in ctx.mats if m.accumulated]
    if accumulated:
        reasons.append(
            f"Accumulation ({profile.accumulation_article}): "
            + ", ".join(m.name() for m in accumulated)
            + (
                " originates in another Party and counts"
                if len(accumulated) == 1
                else " originate in other Parties and count"
            )
            + " as originating."
        )
    unknown = [m for m in ctx.nonorig if m.material.origin == UNKNOWN]
    if unknown:
        reasons.append(
            "Materials of unknown origin count as non-originating: "
            + ", ".join(m.name() for m in unknown)
            + "."
        )

    def result(
        originating: bool,
        bases: list[str],
        failing: list[dict[str, Any]] | None = None,
        decisions: list[dict[str, Any]] | None = None,
    ) -> Determination:
        codes: list[str] = []
        if originating:
            extra = ["ACU"] if accumulated and bases and bases[0] not in ("WO",) else []
            for b in bases + extra:
                c = profile.criterion(b)
                if row.level == "general" and b in ("CTC", "RVC"):
                    c = profile.criterion("GENERAL_" + b) or c
                if c and c not in codes:
                    codes.append(c)
        threshold = next(
            (n.threshold for n in row.rule.walk() if isinstance(n, RegionalValueContent)), None
        )
        return Determination(
            agreement=profile.code,
            product_hs=product_hs,
            product_hs_edition=in_edition,
            hs_edition=table.hs_edition,
            mapped_product_hs=code,
            rules_version=table.version,
            rule=row.text,
            rule_level=row.level,
            rule_code=row.code or None,
            rule_source=row.source,
            originating=originating,
            criterion=codes[0] if codes else None,
            criteria=codes,
            rvc_percent=ctx.rvc_down,
            rvc_build_up_percent=ctx.rvc_up,
            rvc_threshold=threshold,
            reasons=reasons,
            failing_materials=_merge_failures(failing or []),
            needs_decision=decisions or [],
            exporting_country=bom.exporting_country,
            importing_country=bom.importing_country,
            currency=bom.currency,
        )

    if bom.exporting_country not in profile.parties:
        reasons.append(
            f"The exporting country {bom.exporting_country} is not a Party to "
            f"{profile.code}: not originating."
        )
        return result(False, [])
    if bom.importing_country not in profile.parties:
        reasons.append(
            f"The importing country {bom.importing_country} is not a Party to "
            f"{profile.code}; no preference can be claimed there."
        )
        return result(False, [])
    # minimal operations
    if bom.operations is not None and ctx.nonorig:
        ops = list(bom.operations)
        if ops and all(op in profile.minimal_operations for op in ops):
            reasons.append(
                f"Minimal operations ({profile.minimal_operations_article}): the "
                "only operations declared are "
                + ", ".join(ops)
                + f", which do not confer origin on the {len(ctx.nonorig)} "
                "non-originating material(s): not originating."
            )
            return result(
                False,
                [],
                [m.failure("only minimal operations were performed on it") for m in ctx.nonorig],
            )
    # WO and PE are open to every tariff line
    if bom.wholly_obtained and not ctx.nonorig:
        reasons.append(
            f"WO ({profile.wholly_obtained_article}): declared wholly obtained or "
            f"produced in {bom.exporting_country}: originating."
        )
        return result(True, ["WO"])
    if ctx.mats and not ctx.nonorig:
        reasons.append(
            f"PE ({profile.pe_article}): every one of the {len(ctx.mats)} materials "
            "is originating: originating."
        )
        return result(True, ["PE"])
    if bom.wholly_obtained:
        reasons.append(
            f"WO: the BOM declares the good wholly obtained but lists "
            f"{len(ctx.nonorig)} non-originating material(s); WO does not apply."
        )
    out = _eval(row.rule, ctx)
    reasons.extend(out.reasons)
    if out.passed:
        reasons.append(f"Verdict: originating under {profile.code} (" + ", ".join(out.bases) + ").")
        return result(True, out.bases)
    if out.passed is None:
        reasons.append(
            "Verdict: needs a decision ("
            + "; ".join(d["question"] for d in out.decisions)
            + ") before origin can be determined; not originating until then."
        )
        return result(False, [], out.failing, out.decisions)
    reasons.append(
        f"Verdict: not originating under {profile.code}: the rule '{row.text}' is not met."
    )
    return result(False, [], out.failing)
