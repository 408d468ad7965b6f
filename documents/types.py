"""Constrained value types shared by the document models, the XSDs and the JSON Schemas.

Each type is an ``Annotated`` alias carrying both the pydantic constraint and an
:class:`XsdType` marker, so that the XSD generator (``documents.schemas``) and the models cannot
drift apart: a pattern is written once, without anchors, in the subset common to XML Schema and
pydantic's regular expressions (character classes spelled out as ``[0-9]``, since ``\\d`` means
any Unicode digit in both).

Amounts and quantities are decimal strings, never floats: the canonical JSON the ledger hashes
has no floating-point numbers (``ledger.encoding``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import Field, StringConstraints

from documents.hs import HS_EDITIONS


@dataclass(frozen=True)
class XsdType:
    """How a constrained value appears in the XSD (a named simple type) and in messages."""

    name: str
    base: str  # xs:string, xs:date, xs:boolean, xs:positiveInteger, ...
    description: str  # what a valid value is, as used in "… is not <description>"
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_inclusive: int | None = None
    max_inclusive: int | None = None
    enumeration: tuple[str, ...] = ()


def _string(
    name: str,
    description: str,
    pattern: str | None = None,
    *,
    min_length: int | None = None,
    max_length: int | None = None,
) -> XsdType:
    return XsdType(name, "xs:string", description, pattern, min_length, max_length)


def _checks(t: XsdType, python_pattern: str | None = None) -> StringConstraints:
    """The pydantic constraints of a string type (``python_pattern`` adds a Python-only one)."""
    py = python_pattern or t.pattern
    return StringConstraints(
        pattern=f"^(?:{py})$" if py else None, min_length=t.min_length, max_length=t.max_length
    )


def xsd_type_of(annotation: Any) -> XsdType | None:
    """The :class:`XsdType` marker of an annotation (looking inside ``X | None``)."""
    if get_origin(annotation) is Annotated:
        for extra in get_args(annotation)[1:]:
            if isinstance(extra, XsdType):
                return extra
        return xsd_type_of(get_args(annotation)[0])
    for arg in get_args(annotation):
        found = xsd_type_of(arg)
        if found is not None:
            return found
    return None


# XML 1.0 cannot carry C0 controls other than tab, newline and carriage return, nor U+FFFE/FFFF;
# refusing them in JSON too keeps every valid document representable in both forms.
_XML_SAFE = "[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ufffe\\uffff]+"

_TEXT = _string(
    "TextType",
    "a non-empty text of at most 512 characters",
    None,
    min_length=1,
    max_length=512,
)
Text = Annotated[str, _checks(_TEXT, _XML_SAFE), _TEXT]
_LONG_TEXT = _string(
    "LongTextType",
    "a non-empty text of at most 2000 characters",
    None,
    min_length=1,
    max_length=2000,
)
LongText = Annotated[str, _checks(_LONG_TEXT, _XML_SAFE), _LONG_TEXT]
_COUNTRY_CODE = _string("CountryCodeType", "an ISO 3166-1 alpha-2 country code", "[A-Z]{2}")
CountryCode = Annotated[str, _checks(_COUNTRY_CODE), _COUNTRY_CODE]
_CURRENCY_CODE = _string("CurrencyCodeType", "an ISO 4217 currency code", "[A-Z]{3}")
CurrencyCode = Annotated[str, _checks(_CURRENCY_CODE), _CURRENCY_CODE]
_HS_CODE = _string("HSCodeType", "a 6-digit HS subheading code", "[0-9]{6}")
HSCode = Annotated[str, _checks(_HS_CODE), _HS_CODE]
_TARIFF_CODE = _string("TariffCodeType", "a national tariff code of 8 to 10 digits", "[0-9]{8,10}")
TariffCode = Annotated[str, _checks(_TARIFF_CODE), _TARIFF_CODE]
HSEdition = Annotated[
    str,
    Field(pattern=f"^(?:{'|'.join(HS_EDITIONS)})$"),
    XsdType(
        "HSEditionType",
        "xs:string",
        "an HS edition (HS2012, HS2017 or HS2022)",
        enumeration=HS_EDITIONS,
    ),
]
_AGREEMENT_CODE = _string(
    "AgreementCodeType",
    "an agreement code such as RCEP, AJCEP, JTEPA or JVEPA",
    "[A-Z][A-Z0-9]{1,15}",
)
AgreementCode = Annotated[str, _checks(_AGREEMENT_CODE), _AGREEMENT_CODE]
_CRITERION_CODE = _string(
    "CriterionCodeType", "an origin criterion code such as WO, PE, CTC or RVC", "[A-Z]{2,5}"
)
CriterionCode = Annotated[str, _checks(_CRITERION_CODE), _CRITERION_CODE]
# one part of a document id: an issuer's organisation id, or a document number
_ID_PART = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_DOCUMENT_NUMBER = _string(
    "DocumentNumberType",
    "a document number of letters, digits, '.', '_' or '-' (at most 64, no '/')",
    _ID_PART,
)
DocumentNumber = Annotated[str, _checks(_DOCUMENT_NUMBER), _DOCUMENT_NUMBER]
_ORG_ID = _string(
    "OrganisationIdType",
    "an organisation id of letters, digits, '.', '_' or '-' (at most 64)",
    _ID_PART,
)
OrgId = Annotated[str, _checks(_ORG_ID), _ORG_ID]
_DOCUMENT_ID = _string(
    "DocumentIdType",
    "a document id of the form issuer/number",
    f"{_ID_PART}/{_ID_PART}",
)
DocumentId = Annotated[str, _checks(_DOCUMENT_ID), _DOCUMENT_ID]
# Signed, so that a negative quantity reaches the business rules and gets their message there.
_DECIMAL_TEXT = _string(
    "DecimalType",
    "a decimal number written as digits with an optional sign and at most 6 decimals",
    "-?[0-9]{1,15}(\\.[0-9]{1,6})?",
)
DecimalText = Annotated[str, _checks(_DECIMAL_TEXT), _DECIMAL_TEXT]
_UNIT_CODE = _string(
    "UnitCodeType", "a UN/ECE Recommendation 20 unit code such as PCE, KGM or SET", "[A-Z0-9]{1,3}"
)
UnitCode = Annotated[str, _checks(_UNIT_CODE), _UNIT_CODE]
_LOCATION_CODE = _string(
    "LocationCodeType", "a UN/LOCODE (country and three letters or digits)", "[A-Z]{2}[A-Z2-9]{3}"
)
LocationCode = Annotated[str, _checks(_LOCATION_CODE), _LOCATION_CODE]
_DIGEST = _string("DigestType", "a SHA-256 digest in lowercase hex", "[0-9a-f]{64}")
Digest = Annotated[str, _checks(_DIGEST), _DIGEST]
ItemNumber = Annotated[
    int,
    Field(ge=1, le=9999),
    XsdType(
        "ItemNumberType",
        "xs:positiveInteger",
        "an item number from 1 to 9999",
        min_inclusive=1,
        max_inclusive=9999,
    ),
]
