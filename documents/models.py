"""The trade documents the ledger records, as pydantic v2 models.

A certificate of origin (:class:`CertificateOfOrigin`) carries the minimum information of RCEP
Annex 3B and the seventeen boxes of the RCEP certificate form; what differs between agreements
(criterion codes, which criteria need an FOB value, the box layout) is data in
:mod:`documents.profiles`. Declarations (:class:`DeclarationOfOrigin`,
:class:`CustomsDeclaration`) and the lifecycle events that refer to a certificate (application,
revocation, verification request and result, presentation to a bank) complete the set.

The JSON field names are the public form: the node and the demo use them. Each model's JSON
form (``model_dump(mode="json", exclude_none=True)``) is what the document digest is taken over,
so the same document read from XML or from JSON has the same digest. The XML element names are
in :mod:`documents.xmlform`.

Models check structure only (types, formats, required fields); the business rules — codes that
exist, dates that agree, what the ledger already holds — are in :mod:`documents.rules`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from documents.types import (
    AgreementCode,
    CountryCode,
    CriterionCode,
    CurrencyCode,
    DecimalText,
    Digest,
    DocumentId,
    DocumentNumber,
    HSCode,
    HSEdition,
    ItemNumber,
    LocationCode,
    LongText,
    OrgId,
    TariffCode,
    Text,
    UnitCode,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, validate_default=False)


# --- parts -------------------------------------------------------------------------------------


class Party(_Model):
    """An exporter, producer, importer or consignee, declarant or operator (boxes 1–3)."""

    name: Text
    address: Text
    country: CountryCode
    org_id: OrgId | None = Field(
        default=None, description="The party's organisation id on the ledger, when a member."
    )


class Transport(_Model):
    """Means of transport and route, as far as known (box 4)."""

    departure_date: date
    vessel: Text | None = Field(default=None, description="Vessel name and voyage, or flight.")
    transport_mode: Literal["sea", "air", "road", "rail", "multimodal"] | None = None
    port_of_loading: LocationCode | None = None
    port_of_discharge: LocationCode | None = None


class Invoice(_Model):
    """The commercial invoice (box 13)."""

    number: Text
    date: date


class CertificateItem(_Model):
    """One good on a certificate or declaration of origin (boxes 6–12)."""

    item_number: ItemNumber
    marks: Text | None = Field(default=None, description="Marks and numbers on packages.")
    packages: Text | None = Field(default=None, description="Number and kind of packages.")
    description: LongText
    hs_code: HSCode
    hs_edition: HSEdition
    origin_criterion: CriterionCode
    country_of_origin: CountryCode
    quantity: DecimalText
    unit: UnitCode
    fob_value: DecimalText | None = Field(
        default=None, description="FOB value; required where the criterion is value-based."
    )
    currency: CurrencyCode | None = None


class OriginalCertificate(_Model):
    """The first certificate behind a back-to-back certificate."""

    number: DocumentNumber
    issue_date: date
    first_exporting_country: CountryCode
    issuer: OrgId | None = None


class Signature(_Model):
    """The exporter's declaration (box 15) or the issuing body's certification (box 16)."""

    place: Text
    date: date
    signatory: Text


class OriginDetermination(_Model):
    """A node's re-determination of an item's origin from evidence (its digest, not the BOM)."""

    item_number: ItemNumber
    digest: Digest
    criterion: CriterionCode
    table_version: Text


class DeclarationItem(_Model):
    """One line of a customs declaration."""

    item_number: ItemNumber
    tariff_code: TariffCode
    hs_edition: HSEdition
    description: LongText
    quantity: DecimalText
    unit: UnitCode
    customs_value: DecimalText
    currency: CurrencyCode


# --- documents ---------------------------------------------------------------------------------


class CertificateOfOrigin(_Model):
    """A certificate of origin issued by an issuing authority (RCEP Art. 3.17, Annex 3B)."""

    document_type: Literal["certificate_of_origin"] = "certificate_of_origin"
    agreement: AgreementCode
    number: DocumentNumber
    issuer: OrgId = Field(description="The issuing authority's organisation id.")
    issue_date: date
    exporting_country: CountryCode | None = None
    importing_country: CountryCode
    exporter: Party
    producer: Party | None = None
    importer: Party = Field(description="The importer or consignee.")
    transport: Transport
    invoice: Invoice
    items: Annotated[list[CertificateItem], Field(min_length=1, max_length=999)]
    remarks: LongText | None = None
    issued_retroactively: bool = False
    back_to_back: bool = False
    original_certificate: OriginalCertificate | None = None
    third_party_invoicing: bool = False
    invoicing_operator: Party | None = None
    exporter_declaration: Signature | None = None
    certification: Signature | None = None
    supersedes: DocumentId | None = Field(
        default=None, description="The document id of the certificate this one amends."
    )
    origin_determinations: list[OriginDetermination] | None = None

    @property
    def document_id(self) -> str:
        return f"{self.issuer}/{self.number}"


class DeclarationOfOrigin(_Model):
    """A declaration of origin by an approved exporter or by the exporter or producer
    (RCEP Art. 3.16.1(b)-(c) and Art. 3.18)."""

    document_type: Literal["declaration_of_origin"] = "declaration_of_origin"
    agreement: AgreementCode
    number: DocumentNumber
    issuer: OrgId = Field(description="The declaring organisation's id.")
    declarant_kind: Literal["approved_exporter", "exporter", "producer"]
    approved_exporter_number: Text | None = None
    issue_date: date
    exporting_country: CountryCode | None = None
    importing_country: CountryCode
    exporter: Party
    producer: Party | None = None
    importer: Party
    transport: Transport | None = None
    invoice: Invoice
    items: Annotated[list[CertificateItem], Field(min_length=1, max_length=999)]
    remarks: LongText | None = None
    declaration: Signature

    @property
    def document_id(self) -> str:
        return f"{self.issuer}/{self.number}"


class CustomsDeclaration(_Model):
    """An export or import declaration; an import claiming preference names its certificate."""

    document_type: Literal["customs_declaration"] = "customs_declaration"
    declaration_type: Literal["export", "import"]
    number: DocumentNumber
    issuer: OrgId | None = Field(
        default=None, description="The customs administration recording the declaration."
    )
    declaration_date: date
    declarant: Party | None = None
    exporter: Party | None = None
    importer: Party | None = None
    exporting_country: CountryCode
    destination_country: CountryCode
    customs_office: Text | None = None
    transport_document: Text | None = Field(
        default=None, description="Bill of lading or air waybill number."
    )
    agreement: AgreementCode | None = None
    preference_claimed: bool = False
    co_reference: DocumentId | None = None
    items: Annotated[list[DeclarationItem], Field(min_length=1, max_length=999)]

    @property
    def document_id(self) -> str | None:
        return f"{self.issuer}/{self.number}" if self.issuer else None


class CertificateApplication(_Model):
    """An exporter's application for a certificate (RCEP Art. 3.17.2)."""

    document_type: Literal["co_application"] = "co_application"
    applicant: OrgId | None = None
    application_date: date | None = None
    co: CertificateOfOrigin

    @property
    def document_id(self) -> str:
        return self.co.document_id


class CertificateRevocation(_Model):
    """The issuing body withdraws a certificate, with its reason."""

    document_type: Literal["co_revocation"] = "co_revocation"
    co_reference: DocumentId
    revocation_date: date | None = None
    reason_code: Literal["issued_in_error", "not_originating", "replaced", "fraud", "other"] | (
        None
    ) = None
    reason: LongText

    @property
    def document_id(self) -> str:
        return self.co_reference


class VerificationRequest(_Model):
    """Importing customs ask the exporting Party to verify a certificate."""

    document_type: Literal["verification_request"] = "verification_request"
    co_reference: DocumentId
    request_date: date | None = None
    reason: LongText

    @property
    def document_id(self) -> str:
        return self.co_reference


class VerificationResult(_Model):
    """The outcome of a verification: preference accepted or rejected (with the reason)."""

    document_type: Literal["verification_result"] = "verification_result"
    co_reference: DocumentId
    result_date: date | None = None
    result: Literal["accepted", "rejected"]
    reason: LongText | None = None

    @property
    def document_id(self) -> str:
        return self.co_reference


class BankPresentation(_Model):
    """The certificate presented to a bank under a documentary credit."""

    document_type: Literal["bank_presentation"] = "bank_presentation"
    co_reference: DocumentId
    letter_of_credit: Text
    presented_by: OrgId | None = Field(
        default=None,
        description="The member that presented the certificate (a party of the certificate).",
    )
    presentation_date: date | None = None
    co_digest: Digest | None = Field(
        default=None,
        description="The presented certificate's document digest (the d= of its QR code): the "
        "bank's proof that it holds the certificate, needed unless the bank is already a party.",
    )

    @property
    def document_id(self) -> str:
        return self.co_reference


Document = (
    CertificateOfOrigin
    | DeclarationOfOrigin
    | CustomsDeclaration
    | CertificateApplication
    | CertificateRevocation
    | VerificationRequest
    | VerificationResult
    | BankPresentation
)

MODELS: dict[str, type[_Model]] = {
    m.model_fields["document_type"].default: m
    for m in (
        CertificateOfOrigin,
        DeclarationOfOrigin,
        CustomsDeclaration,
        CertificateApplication,
        CertificateRevocation,
        VerificationRequest,
        VerificationResult,
        BankPresentation,
    )
}
