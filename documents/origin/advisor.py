"""Which agreements a good qualifies under, between the BOM's exporting and importing countries.

:func:`advise` runs :func:`~documents.origin.evaluate.determine` under every agreement in force
between the two countries and says, for each, whether the good qualifies and why (or why not,
including "no rule data" with the coverage of the product's chapter). Agreements that are not
in force between the two countries are listed with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from documents import hs
from documents.origin.agreements import PROFILES
from documents.origin.bom import Bom, parse_bom
from documents.origin.evaluate import Determination, determine
from ledger.errors import NoRuleData, OriginInputError


@dataclass
class AgreementAdvice:
    agreement: str
    name: str
    in_force: bool
    qualifies: bool
    summary: str
    determination: Determination | None = None
    problem: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "agreement": self.agreement,
            "name": self.name,
            "in_force": self.in_force,
            "qualifies": self.qualifies,
            "summary": self.summary,
            "determination": self.determination.to_json() if self.determination else None,
            "problem": self.problem,
        }


@dataclass
class Advice:
    product_hs: str
    exporting_country: str
    importing_country: str
    on: str
    results: list[AgreementAdvice] = field(default_factory=list)

    @property
    def qualifies_under(self) -> list[str]:
        return [r.agreement for r in self.results if r.qualifies]

    def to_json(self) -> dict[str, Any]:
        return {
            "product_hs": self.product_hs,
            "exporting_country": self.exporting_country,
            "importing_country": self.importing_country,
            "on": self.on,
            "qualifies_under": self.qualifies_under,
            "results": [r.to_json() for r in self.results],
        }


def _why_not(det: Determination) -> str:
    if det.needs_decision:
        return "needs a decision: " + "; ".join(n["question"] for n in det.needs_decision)
    failing = ", ".join(f"material {f['index'] + 1} ({f['hs']})" for f in det.failing_materials)
    rvc = f"; RVC {det.to_json()['rvc_percent']} %" if det.rvc_percent is not None else ""
    return f"rule '{det.rule}' not met" + (f" — failing: {failing}" if failing else "") + rvc


def advise(
    product_hs: str,
    bom: Bom | dict[str, Any] | str | bytes,
    *,
    home: Path | str | None = None,
    on: date | None = None,
) -> Advice:
    """Try every agreement in force between the BOM's exporting and importing countries."""
    parsed = parse_bom(bom)
    on = on or date.today()
    exp, imp = parsed.exporting_country, parsed.importing_country
    if exp == imp:
        raise OriginInputError(
            "the exporting and importing countries are the same", location="/importing_country"
        )
    if not (isinstance(product_hs, str) and len(product_hs) == 6 and product_hs.isdigit()):
        raise OriginInputError(
            f"the product code {product_hs!r} is not a 6-digit HS subheading", location="product_hs"
        )
    if parsed.hs_edition and not hs.subheading_exists(product_hs, parsed.hs_edition):
        raise OriginInputError(
            f"{product_hs} is not a subheading of {parsed.hs_edition}", location="product_hs"
        )
    advice = Advice(product_hs, exp, imp, on.isoformat())
    for code, profile in sorted(PROFILES.items()):
        if not profile.in_force_between(exp, imp, on):
            missing = [c for c in (exp, imp) if not profile.in_force(c, on)]
            advice.results.append(
                AgreementAdvice(
                    code,
                    profile.name,
                    False,
                    False,
                    f"not in force between {exp} and {imp} on {on.isoformat()} "
                    f"({', '.join(missing)} not a Party in force)",
                )
            )
            continue
        try:
            det = determine(code, product_hs, parsed, home=home)
        except NoRuleData as exc:
            advice.results.append(
                AgreementAdvice(
                    code,
                    profile.name,
                    True,
                    False,
                    f"no rule data: {exc.detail}",
                    problem=exc.problem(),
                )
            )
            continue
        except OriginInputError as exc:
            # e.g. a code that is not in this agreement's HS edition
            advice.results.append(
                AgreementAdvice(
                    code,
                    profile.name,
                    True,
                    False,
                    f"input not usable under {code}: {exc.detail}",
                    problem=exc.problem(),
                )
            )
            continue
        if det.originating:
            summary = f"qualifies ({', '.join(det.criteria)}) under rule '{det.rule}'" + (
                f", RVC {det.to_json()['rvc_percent']} %" if det.rvc_percent is not None else ""
            )
        else:
            summary = "does not qualify: " + _why_not(det)
        advice.results.append(
            AgreementAdvice(code, profile.name, True, det.originating, summary, det)
        )
    # agreements where it qualifies first, then the others in force, then those not in force
    advice.results.sort(key=lambda r: (not r.qualifies, not r.in_force, r.agreement))
    return advice
