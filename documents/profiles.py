"""What a certificate of origin looks like under each agreement, as data.

A :class:`CertificateProfile` says which origin-criterion codes the agreement's certificate
accepts, which of them are value-based (so that the item must show its FOB value), how long a
certificate stays valid, which of the flags the form has, and the box layout of the form (box
number, title and the JSON pointers of the fields printed there). The business rules in
:mod:`documents.rules` read these tables; adding an agreement is adding a profile.

Parties come from the rules-of-origin profiles (``documents.origin.agreements``) where the
agreement has one, so the two stay in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from documents.origin.agreements import PROFILES as ORIGIN_PROFILES


@dataclass(frozen=True)
class Box:
    number: str
    title: str
    fields: tuple[str, ...]  # JSON pointers; "*" stands for every item


@dataclass(frozen=True)
class CertificateProfile:
    agreement: str
    form: str
    parties: frozenset[str]
    criteria: frozenset[str]
    value_criteria: frozenset[str]  # criteria under which the FOB value must be shown
    criteria_source: str
    validity_years: int
    validity_source: str
    back_to_back: bool  # whether the form has a back-to-back certificate
    back_to_back_source: str
    third_party_invoicing: bool
    issued_retroactively: bool
    declaration_of_origin: bool  # whether a declaration of origin is a proof of origin
    boxes: tuple[Box, ...]
    notes: tuple[str, ...] = ()


def _parties(code: str) -> frozenset[str]:
    return frozenset(ORIGIN_PROFILES[code].parties)


# The boxes of the RCEP certificate (the form agreed under RCEP Art. 3.17.3(a), carrying the
# minimum information of Annex 3B), numbered and titled as printed on Form RCEP: the importer
# is box 2 and the producer box 3, unlike Form E, and the back-to-back, third-party invoicing
# and retroactive issue marks are box 17. documents.printable prints these titles.
RCEP_BOXES: tuple[Box, ...] = (
    Box("1", "Goods consigned from (exporter's name, address and country)", ("/exporter",)),
    Box(
        "2", "Goods consigned to (importer's / consignee's name, address, country)", ("/importer",)
    ),
    Box("3", "Producer's name, address and country (if known)", ("/producer",)),
    Box("4", "Means of transport and route (if known)", ("/transport",)),
    Box("5", "For official use", ()),
    Box("6", "Item number", ("/items/*/item_number",)),
    Box("7", "Marks and numbers on packages", ("/items/*/marks",)),
    Box(
        "8",
        "Number and kind of packages; and description of goods",
        ("/items/*/packages", "/items/*/description"),
    ),
    Box("9", "HS code of the goods (6-digit level)", ("/items/*/hs_code", "/items/*/hs_edition")),
    Box("10", "Origin conferring criterion", ("/items/*/origin_criterion",)),
    Box("11", "RCEP country of origin", ("/items/*/country_of_origin",)),
    Box(
        "12",
        "Quantity (gross weight or other measurement), and value (FOB) where RVC is applied",
        ("/items/*/quantity", "/items/*/unit", "/items/*/fob_value", "/items/*/currency"),
    ),
    Box("13", "Invoice number(s) and date of invoice(s)", ("/invoice",)),
    Box("14", "Remarks", ("/remarks", "/supersedes")),
    Box("15", "Declaration by the exporter or producer", ("/exporter_declaration",)),
    Box("16", "Certification", ("/certification", "/issuer", "/number", "/issue_date")),
    Box(
        "17",
        "Back-to-back certificate of origin / third-party invoicing / issued retroactively",
        (
            "/back_to_back",
            "/original_certificate",
            "/third_party_invoicing",
            "/invoicing_operator",
            "/issued_retroactively",
        ),
    ),
)

# Form AJ (AJCEP Annex 4, Operational Certification Procedures): the ASEAN-style layout.
FORM_AJ_BOXES: tuple[Box, ...] = (
    Box("1", "Goods consigned from (exporter's name, address, country)", ("/exporter",)),
    Box(
        "2", "Goods consigned to (importer's or consignee's name, address, country)", ("/importer",)
    ),
    Box("3", "Means of transport and route", ("/transport",)),
    Box("4", "For official use", ()),
    Box("5", "Item number", ("/items/*/item_number",)),
    Box("6", "Marks and numbers on packages", ("/items/*/marks",)),
    Box(
        "7",
        "Number and type of packages, description of goods, HS code",
        ("/items/*/packages", "/items/*/description", "/items/*/hs_code"),
    ),
    Box("8", "Origin criterion", ("/items/*/origin_criterion",)),
    Box("9", "Quantity and FOB value", ("/items/*/quantity", "/items/*/fob_value")),
    Box("10", "Number and date of invoices", ("/invoice",)),
    Box("11", "Declaration by the exporter", ("/exporter_declaration",)),
    Box("12", "Certification", ("/certification",)),
    Box(
        "13",
        "Issued retroactively / back-to-back / third-country invoicing",
        ("/issued_retroactively", "/back_to_back", "/third_party_invoicing"),
    ),
)

# Japan's bilateral EPA certificates (JTEPA, JVEPA): one field per item, no FOB box.
BILATERAL_BOXES: tuple[Box, ...] = (
    Box("1", "Exporter", ("/exporter",)),
    Box("2", "Importer or consignee", ("/importer",)),
    Box("3", "Means of transport and route", ("/transport",)),
    Box(
        "4",
        "Item number, marks, packages, description, HS code",
        ("/items/*/item_number", "/items/*/marks", "/items/*/description", "/items/*/hs_code"),
    ),
    Box("5", "Preference criterion", ("/items/*/origin_criterion",)),
    Box("6", "Quantity", ("/items/*/quantity",)),
    Box("7", "Invoice number and date", ("/invoice",)),
    Box("8", "Remarks", ("/remarks",)),
    Box("9", "Certification", ("/certification",)),
)

PROFILES: dict[str, CertificateProfile] = {
    p.agreement: p
    for p in (
        CertificateProfile(
            agreement="RCEP",
            form="RCEP Certificate of Origin",
            parties=_parties("RCEP"),
            # Annex 3B notes: WO, PE, CTC, RVC, CR (printed as SP in this project's engine),
            # plus ACU (accumulation) and DMI (de minimis)
            criteria=frozenset({"WO", "PE", "CTC", "RVC", "SP", "CR", "ACU", "DMI"}),
            value_criteria=frozenset({"RVC"}),
            criteria_source="RCEP Annex 3B (minimum information), origin conferring criterion",
            validity_years=1,
            validity_source="RCEP Art. 3.16.6",
            back_to_back=True,
            back_to_back_source="RCEP Art. 3.19 (Back-to-Back Proof of Origin)",
            third_party_invoicing=True,
            issued_retroactively=True,
            declaration_of_origin=True,
            boxes=RCEP_BOXES,
            notes=(
                "Art. 3.16 (proof of origin, one-year validity in paragraph 6), 3.17 (certificate)"
                " and 3.18 (declaration) were checked against the treaty text; the number of the"
                " back-to-back article (3.19) was not.",
            ),
        ),
        CertificateProfile(
            agreement="AJCEP",
            form="Form AJ",
            parties=_parties("AJCEP"),
            # Form AJ overleaf notes: WO, PE, CTH, RVC (LVC), SP; CTC and DMI as printed by
            # the origin engine (documents.origin.agreements)
            criteria=frozenset({"WO", "PE", "CTH", "CTC", "CTSH", "RVC", "SP", "ACU", "DMI"}),
            value_criteria=frozenset({"RVC"}),
            criteria_source="Form AJ overleaf notes, box 8",
            validity_years=1,
            validity_source="AJCEP Annex 4 (Operational Certification Procedures), rule 7",
            back_to_back=True,
            back_to_back_source="AJCEP Annex 4 (Operational Certification Procedures)",
            third_party_invoicing=True,
            issued_retroactively=True,
            declaration_of_origin=False,
            boxes=FORM_AJ_BOXES,
        ),
        CertificateProfile(
            agreement="JTEPA",
            form="JTEPA Certificate of Origin",
            parties=_parties("JTEPA"),
            criteria=frozenset({"WO", "PE", "PS"}),
            value_criteria=frozenset(),
            criteria_source="JTEPA Operational Procedures, certificate's preference criterion",
            validity_years=1,
            validity_source="JTEPA Operational Procedures (twelve months from issue)",
            back_to_back=False,
            back_to_back_source="",
            third_party_invoicing=True,
            issued_retroactively=True,
            declaration_of_origin=False,
            boxes=BILATERAL_BOXES,
            notes=("The JTEPA article numbers were not checked against the treaty text.",),
        ),
        CertificateProfile(
            agreement="JVEPA",
            form="JVEPA Certificate of Origin (Form VJ)",
            parties=_parties("JVEPA"),
            criteria=frozenset({"WO", "PE", "CTH", "CTC", "LVC", "SP", "DMI"}),
            value_criteria=frozenset({"LVC"}),
            criteria_source="JVEPA Implementing Agreement, Form VJ overleaf notes",
            validity_years=1,
            validity_source="JVEPA Implementing Agreement, Operational Procedures",
            back_to_back=False,
            back_to_back_source="",
            third_party_invoicing=True,
            issued_retroactively=True,
            declaration_of_origin=False,
            boxes=BILATERAL_BOXES,
            notes=("The JVEPA criterion codes and articles were not checked against the text.",),
        ),
    )
}


def profile(agreement: str) -> CertificateProfile | None:
    return PROFILES.get(agreement)
