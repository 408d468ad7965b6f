"""Per-agreement profiles: Parties and entry into force, HS edition, thresholds, de minimis,
minimal operations, and the codes printed in the certificate's origin-criterion box.

Everything that differs between agreements lives here as data, so the evaluator has no
per-agreement ``if`` chains. Sources are cited per field; see ``docs/origin-rules.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ledger.errors import OriginInputError

# RCEP Art. 3.6 (a)-(j) as codes a BOM's "operations" may use.
RCEP_MINIMAL_OPERATIONS: dict[str, str] = {
    "preserving": "preserving operations to keep the good in good condition for transport or "
    "storage (Art. 3.6(a))",
    "packaging": "packaging or presenting goods for transportation or sale (Art. 3.6(b))",
    "sifting": "simple sifting (Art. 3.6(c))",
    "screening": "simple screening (Art. 3.6(c))",
    "sorting": "simple sorting (Art. 3.6(c))",
    "classifying": "simple classifying (Art. 3.6(c))",
    "sharpening": "simple sharpening (Art. 3.6(c))",
    "cutting": "simple cutting (Art. 3.6(c))",
    "slitting": "simple slitting (Art. 3.6(c))",
    "grinding": "simple grinding (Art. 3.6(c))",
    "bending": "simple bending (Art. 3.6(c))",
    "coiling": "simple coiling (Art. 3.6(c))",
    "uncoiling": "simple uncoiling (Art. 3.6(c))",
    "marking": "affixing or printing marks, labels, logos (Art. 3.6(d))",
    "labelling": "affixing or printing marks, labels, logos (Art. 3.6(d))",
    "dilution": "mere dilution with water or another substance (Art. 3.6(e))",
    "disassembly": "disassembly of products into parts (Art. 3.6(f))",
    "slaughtering": "slaughtering of animals (Art. 3.6(g))",
    "painting": "simple painting (Art. 3.6(h))",
    "polishing": "simple polishing (Art. 3.6(h))",
    "peeling": "simple peeling (Art. 3.6(i))",
    "stoning": "simple stoning (Art. 3.6(i))",
    "shelling": "simple shelling (Art. 3.6(i))",
    "simple-mixing": "simple mixing of goods (Art. 3.6(j))",
}


@dataclass(frozen=True)
class AgreementProfile:
    code: str
    name: str
    parties: dict[str, date]  # ISO 3166 alpha-2 -> date the agreement entered into force there
    hs_edition: str  # edition of its product-specific rules (the shipped table's edition)
    rvc_label: str  # what the agreement calls the value test: RVC, QVC
    rvc_article: str
    build_up_allowed: bool  # whether a direct (build-up) formula exists
    de_minimis_value_pct: Decimal | None
    de_minimis_weight_pct: Decimal | None  # for textiles (Chapters 50-63), None if no weight rule
    de_minimis_article: str
    accumulation_article: str
    wholly_obtained_article: str
    pe_article: str
    minimal_operations: dict[str, str]
    minimal_operations_article: str
    # basis -> code printed in the certificate's criterion box (None: nothing printed)
    criterion_codes: dict[str, str | None]
    certificate: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    # chapters (as ints) where de minimis by value applies; None: every chapter
    de_minimis_value_chapters: frozenset[int] | None = None
    # why de minimis is not evaluated in this build (its article was not read): a good failing
    # a tariff change then needs a decision instead of being refused on a guess
    de_minimis_unknown: str | None = None

    def de_minimis_value_applies(self, chapter: int) -> bool:
        return self.de_minimis_value_chapters is None or chapter in self.de_minimis_value_chapters

    def in_force(self, country: str, on: date | None = None) -> bool:
        start = self.parties.get(country)
        return start is not None and start <= (on or date.today())

    def in_force_between(self, a: str, b: str, on: date | None = None) -> bool:
        return a != b and self.in_force(a, on) and self.in_force(b, on)

    def criterion(self, basis: str) -> str | None:
        return self.criterion_codes.get(basis)


_RCEP_2022 = date(2022, 1, 1)
RCEP = AgreementProfile(
    code="RCEP",
    name="Regional Comprehensive Economic Partnership Agreement",
    parties={
        # entry into force per Party (RCEP Art. 20.6; ASEAN Secretariat notices)
        "AU": _RCEP_2022,
        "BN": _RCEP_2022,
        "KH": _RCEP_2022,
        "CN": _RCEP_2022,
        "JP": _RCEP_2022,
        "LA": _RCEP_2022,
        "NZ": _RCEP_2022,
        "SG": _RCEP_2022,
        "TH": _RCEP_2022,
        "VN": _RCEP_2022,
        "KR": date(2022, 2, 1),
        "MY": date(2022, 3, 18),
        "MM": date(2022, 5, 1),
        "ID": date(2023, 1, 2),
        "PH": date(2023, 6, 2),
    },
    hs_edition="HS2012",  # Annex 3A headnote 9
    rvc_label="RVC",
    rvc_article="RCEP Art. 3.5",
    build_up_allowed=True,  # Art. 3.5.1(a) direct / (b) indirect formula
    de_minimis_value_pct=Decimal(10),  # Art. 3.7.1(a)
    de_minimis_weight_pct=Decimal(10),  # Art. 3.7.1(b), Chapters 50-63
    de_minimis_article="RCEP Art. 3.7",
    accumulation_article="RCEP Art. 3.4",
    wholly_obtained_article="RCEP Art. 3.2(a), 3.3",
    pe_article="RCEP Art. 3.2(b)",
    minimal_operations=RCEP_MINIMAL_OPERATIONS,
    minimal_operations_article="RCEP Art. 3.6",
    criterion_codes={
        "WO": "WO",
        "PE": "PE",
        "CTC": "CTC",
        "RVC": "RVC",
        "SP": "SP",
        "CR": "SP",
        "ACU": "ACU",
        "DMI": "DMI",
    },
    certificate="RCEP Certificate of Origin (Annex 3B), origin conferring criterion",
    notes=(
        "Myanmar: RCEP entered into force for Myanmar on 1 May 2022, but some Parties do not "
        "apply it to Myanmar; check the importing Party's position.",
    ),
)

_AJCEP_2008 = date(2008, 12, 1)
AJCEP = AgreementProfile(
    code="AJCEP",
    name="Agreement on Comprehensive Economic Partnership among Japan and Member States of "
    "the Association of Southeast Asian Nations",
    parties={
        # entry into force per Party (Japan Customs, AJCEP FAQ 4022; ASEAN Secretariat)
        "JP": _AJCEP_2008,
        "SG": _AJCEP_2008,
        "LA": _AJCEP_2008,
        "VN": _AJCEP_2008,
        "MM": _AJCEP_2008,
        "BN": date(2009, 1, 1),
        "MY": date(2009, 2, 1),
        "TH": date(2009, 6, 1),
        "KH": date(2009, 12, 1),
        "PH": date(2010, 7, 1),
        "ID": date(2018, 3, 1),
    },
    # Annex 2 as signed is based on the HS as amended on 1 January 2002; the general rule
    # (Art. 26.1) is applied here on HS2012 headings (see schemas/origin/AJCEP manifest)
    hs_edition="HS2012",
    rvc_label="RVC",
    rvc_article="AJCEP Art. 27",
    build_up_allowed=False,  # Art. 27 gives the build-down formula only
    de_minimis_value_pct=Decimal(10),  # Art. 28
    de_minimis_weight_pct=Decimal(10),  # Art. 28, Chapters 50-63
    de_minimis_article="AJCEP Art. 28",
    accumulation_article="AJCEP Art. 29",
    wholly_obtained_article="AJCEP Art. 25",
    pe_article="AJCEP Art. 24(c)",
    minimal_operations=RCEP_MINIMAL_OPERATIONS,
    minimal_operations_article="AJCEP Art. 30 (non-qualifying operations)",
    # Form AJ overleaf notes, paragraph 3 (Singapore Customs Regulations, Twelfth Schedule)
    criterion_codes={
        "WO": "WO",
        "PE": "PE",
        "CTC": "CTC",
        "RVC": "RVC",
        "SP": "SP",
        "CR": "SP",
        "GENERAL_CTC": "CTH",
        "GENERAL_RVC": "RVC",
        "ACU": "ACU",
        "DMI": "DMI",
    },
    certificate="Form AJ, box 8 (origin criteria)",
    notes=(
        "Minimal operations use the RCEP Art. 3.6 codes; AJCEP Art. 30's own list was not "
        "checked line by line.",
    ),
)

_JTEPA_2007 = date(2007, 11, 1)
JTEPA = AgreementProfile(
    code="JTEPA",
    name="Agreement between Japan and the Kingdom of Thailand for an Economic Partnership",
    parties={"JP": _JTEPA_2007, "TH": _JTEPA_2007},
    hs_edition="HS2012",
    rvc_label="QVC",
    rvc_article="JTEPA Art. 28 (qualifying value content)",
    build_up_allowed=False,
    # Annex 2, Section 1, note (e): 10 % in value for Chapters 28-49 and 64-97, 7 % by weight
    # for Chapters 50-63 (the goods of other chapters have product-specific percentages that
    # are not in this build)
    de_minimis_value_pct=Decimal(10),
    de_minimis_weight_pct=Decimal(7),
    de_minimis_value_chapters=frozenset([*range(28, 50), *range(64, 98)]),
    de_minimis_article="JTEPA Art. 30 and Annex 2 Section 1 note (e)",
    accumulation_article="JTEPA Art. 29",
    wholly_obtained_article="JTEPA Art. 28(1)(a)",
    pe_article="JTEPA Art. 28(1)(b)",
    minimal_operations=RCEP_MINIMAL_OPERATIONS,
    minimal_operations_article="JTEPA Art. 31 (non-qualifying operations)",
    # Japan's certificate (Operational Procedures, Appendix 1-B): WO, PE, PS
    criterion_codes={
        "WO": "WO",
        "PE": "PE",
        "CTC": "PS",
        "RVC": "PS",
        "SP": "PS",
        "CR": "PS",
        "ACU": None,
        "DMI": None,
    },
    certificate="JTEPA certificate of origin, field 'Preference criterion'",
    notes=(
        "Annex 2 is based on the HS as amended on 1 January 2002 (Section 1 note (d)); the "
        "rows in this build are recorded in HS2012 where the UNSD HS2012-HS2002 correlation "
        "shows the code unchanged (schemas/origin/SOURCE.md).",
        "Minimal operations use the RCEP Art. 3.6 codes; JTEPA Art. 31's own list was not "
        "checked line by line.",
    ),
)

_JVEPA_2009 = date(2009, 10, 1)
JVEPA = AgreementProfile(
    code="JVEPA",
    name="Agreement between Japan and the Socialist Republic of Viet Nam for an Economic "
    "Partnership",
    # entry into force 1 October 2009 (METI, Japan-Viet Nam EPA page)
    parties={"JP": _JVEPA_2009, "VN": _JVEPA_2009},
    # Annex 2 is based on HS2007 (Japan Customs, "HS version of each EPA"); the rows of this
    # build are recorded in HS2012 through the UNSD HS2012-HS2007 correlation
    hs_edition="HS2012",
    rvc_label="LVC",
    rvc_article="JVEPA Art. 27 (calculation of local value content)",
    build_up_allowed=False,
    de_minimis_value_pct=None,
    de_minimis_weight_pct=None,
    de_minimis_article="JVEPA Art. 28",
    de_minimis_unknown="the percentages of JVEPA Art. 28 were not read for this build, so "
    "de minimis is not evaluated",
    accumulation_article="JVEPA Art. 29",
    wholly_obtained_article="JVEPA Art. 25",
    pe_article="JVEPA Art. 24",
    minimal_operations=RCEP_MINIMAL_OPERATIONS,
    minimal_operations_article="JVEPA Art. 30 (non-qualifying operations)",
    # the certificate's (Form VJ) origin-criterion codes were not confirmed: print none
    criterion_codes={},
    certificate="JVEPA certificate of origin (Form VJ); criterion codes not confirmed",
    notes=(
        "Article numbers are from the Agreement's table of contents (Chapter 3, Arts. 23-37); "
        "the LVC formula is taken as build-down (FOB - VNM) / FOB like AJCEP Art. 27 and "
        "was not read line by line.",
        "De minimis (Art. 28) is not evaluated: a good that fails a tariff change gets "
        "'needs-decision', not a refusal.",
        "Minimal operations use the RCEP Art. 3.6 codes; JVEPA Art. 30's own list was not "
        "checked line by line.",
        "Form VJ criterion codes are not confirmed, so determinations print no criterion.",
    ),
)

PROFILES: dict[str, AgreementProfile] = {p.code: p for p in (RCEP, AJCEP, JTEPA, JVEPA)}


def get_profile(code: str) -> AgreementProfile:
    try:
        return PROFILES[code.upper()]
    except KeyError:
        raise OriginInputError(
            f"unknown agreement {code!r}; known: {', '.join(sorted(PROFILES))}"
        ) from None


def agreements_between(a: str, b: str, on: date | None = None) -> list[AgreementProfile]:
    return [p for p in PROFILES.values() if p.in_force_between(a, b, on)]
