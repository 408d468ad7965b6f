"""Business rules: what a structurally valid document must also satisfy.

Each rule adds :class:`~documents.findings.Finding` s (JSON pointer, stable code, one sentence);
:func:`check` returns them all, so a user sees every problem at once. Agreement-specific facts
(criterion codes, value-based criteria, validity, flags) come from :mod:`documents.profiles`.

Rules that depend on what the ledger already holds (a certificate number used twice, a
declaration claiming a revoked or expired certificate) ask a :class:`DocumentRegistry`, a small
protocol the node implements over its document index; without one they are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Literal, Protocol, runtime_checkable

import pycountry

from documents import hs
from documents.findings import Finding
from documents.models import (
    BankPresentation,
    CertificateApplication,
    CertificateItem,
    CertificateOfOrigin,
    CertificateRevocation,
    CustomsDeclaration,
    DeclarationOfOrigin,
    Document,
    Party,
    VerificationRequest,
    VerificationResult,
)
from documents.profiles import CertificateProfile, profile
from ledger.errors import InvalidInput

CertificateStatus = Literal["current", "revoked", "superseded"]


@dataclass(frozen=True)
class RegisteredCertificate:
    """What the rules need to know about a certificate already on the ledger."""

    document_id: str
    agreement: str
    issue_date: date
    importing_country: str
    subheadings: frozenset[tuple[str, str]]  # (HS edition, 6-digit code) of its items
    status: CertificateStatus = "current"

    @classmethod
    def of(
        cls, co: CertificateOfOrigin, status: CertificateStatus = "current"
    ) -> RegisteredCertificate:
        return cls(
            document_id=co.document_id,
            agreement=co.agreement,
            issue_date=co.issue_date,
            importing_country=co.importing_country,
            subheadings=frozenset((i.hs_edition, i.hs_code) for i in co.items),
            status=status,
        )


@runtime_checkable
class DocumentRegistry(Protocol):
    """The ledger's view the rules need (the node implements it over its document index)."""

    def has_document(self, document_id: str) -> bool:
        """Whether a document with this id (issuer/number) is already on the ledger."""
        ...

    def registered_certificate(self, document_id: str) -> RegisteredCertificate | None:
        """The certificate of origin with this id, with its current status, or None."""
        ...


def valid_until(issue_date: date, years: int = 1) -> date:
    """The last day a certificate issued on ``issue_date`` is valid (the anniversary)."""
    try:
        return issue_date.replace(year=issue_date.year + years)
    except ValueError:  # 29 February
        return issue_date.replace(year=issue_date.year + years, day=28)


def certificate_valid_until(co: CertificateOfOrigin | RegisteredCertificate) -> date:
    return validity_end(co.agreement, co.issue_date)


def validity_end(agreement: str, issue_date: date) -> date:
    """The last day a certificate under ``agreement`` issued on ``issue_date`` is valid."""
    p = profile(agreement)
    return valid_until(issue_date, p.validity_years if p else 1)


@cache
def _country_exists(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


@cache
def _currency_exists(code: str) -> bool:
    return pycountry.currencies.get(alpha_3=code) is not None


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


class _Checker:
    def __init__(self, registry: DocumentRegistry | None, today: date) -> None:
        self.findings: list[Finding] = []
        self.registry = registry
        self.today = today

    def add(self, location: str, code: str, message: str) -> None:
        self.findings.append(Finding(location, code, message))

    # -- values ---------------------------------------------------------------------------

    def country(self, code: str | None, at: str) -> bool:
        if code is None:
            return False
        if not _country_exists(code):
            self.add(at, "unknown-country", f"{code} is not an ISO 3166-1 country code.")
            return False
        return True

    def currency(self, code: str | None, at: str) -> None:
        if code is not None and not _currency_exists(code):
            self.add(at, "unknown-currency", f"{code} is not an ISO 4217 currency code.")

    def positive(self, text: str | None, at: str, what: str) -> None:
        if text is None:
            return
        value = _decimal(text)
        if value is not None and value <= 0:
            code = "quantity-not-positive" if what == "quantity" else "value-not-positive"
            self.add(at, code, f"the {what} must be greater than zero, not {text}.")

    def party(self, party: Party | None, at: str) -> None:
        if party is not None:
            self.country(party.country, f"{at}/country")

    def subheading(self, code: str, edition: str, at: str, shown: str | None = None) -> bool:
        if hs.subheading_exists(code, edition):
            return True
        what = f"the first six digits {code} of tariff code {shown}" if shown else code
        self.add(at, "unknown-hs-code", f"{what} is not a subheading of {edition}.")
        return False

    def not_future(self, day: date, at: str, what: str) -> None:
        # a day's grace for time zones ahead of UTC
        if day > self.today + timedelta(days=1):
            self.add(at, "date-in-future", f"the {what} {day.isoformat()} is in the future.")

    # -- certificate items -----------------------------------------------------------------

    def items(
        self,
        items: Sequence[CertificateItem],
        p: CertificateProfile | None,
        agreement: str,
        base: str,
    ) -> None:
        seen: set[int] = set()
        for i, item in enumerate(items):
            at = f"{base}/items/{i}"
            if item.item_number in seen:
                self.add(
                    f"{at}/item_number",
                    "duplicate-item-number",
                    f"item number {item.item_number} is used twice.",
                )
            seen.add(item.item_number)
            self.subheading(item.hs_code, item.hs_edition, f"{at}/hs_code")
            known = self.country(item.country_of_origin, f"{at}/country_of_origin")
            if known and p is not None and item.country_of_origin not in p.parties:
                self.add(
                    f"{at}/country_of_origin",
                    "origin-not-a-party",
                    f"{item.country_of_origin} is not a Party to {agreement}, so it cannot "
                    f"be the country of origin under it.",
                )
            self.positive(item.quantity, f"{at}/quantity", "quantity")
            self.positive(item.fob_value, f"{at}/fob_value", "FOB value")
            self.currency(item.currency, f"{at}/currency")
            if item.fob_value is not None and item.currency is None:
                self.add(
                    f"{at}/currency",
                    "currency-missing",
                    f"item {item.item_number} shows an FOB value without its currency.",
                )
            if p is None:
                continue
            if item.origin_criterion not in p.criteria:
                self.add(
                    f"{at}/origin_criterion",
                    "unknown-criterion",
                    f"{item.origin_criterion} is not an origin criterion of the {p.form}; "
                    f"expected one of {', '.join(sorted(p.criteria))}.",
                )
            elif item.origin_criterion in p.value_criteria and item.fob_value is None:
                self.add(
                    f"{at}/fob_value",
                    "fob-missing",
                    f"item {item.item_number} claims {item.origin_criterion}, a value-based "
                    f"criterion, so its FOB value is required.",
                )

    def agreement(self, agreement: str, at: str) -> CertificateProfile | None:
        p = profile(agreement)
        if p is None:
            from documents.profiles import PROFILES

            self.add(
                at,
                "unknown-agreement",
                f"{agreement} is not a known agreement; one of {', '.join(sorted(PROFILES))}.",
            )
        return p

    def lane(
        self,
        p: CertificateProfile | None,
        exporting: str,
        importing: str,
        base: str,
        exporting_at: str,
    ) -> None:
        ok_exp = self.country(exporting, exporting_at)
        ok_imp = self.country(importing, f"{base}/importing_country")
        if ok_exp and ok_imp and exporting == importing:
            self.add(
                f"{base}/importing_country",
                "same-country",
                f"the importing country {importing} is the exporting country.",
            )
        if p is None:
            return
        for code, ok, at in (
            (exporting, ok_exp, exporting_at),
            (importing, ok_imp, f"{base}/importing_country"),
        ):
            if ok and code not in p.parties:
                self.add(at, "not-a-party", f"{code} is not a Party to {p.agreement}.")

    # -- documents -------------------------------------------------------------------------

    def certificate(self, co: CertificateOfOrigin, base: str = "") -> None:
        p = self.agreement(co.agreement, f"{base}/agreement")
        for name in ("exporter", "producer", "importer", "invoicing_operator"):
            self.party(getattr(co, name), f"{base}/{name}")
        exporting = co.exporting_country or co.exporter.country
        exporting_at = (
            f"{base}/exporting_country" if co.exporting_country else (f"{base}/exporter/country")
        )
        self.lane(p, exporting, co.importing_country, base, exporting_at)
        self.items(co.items, p, co.agreement, base)
        self.not_future(co.issue_date, f"{base}/issue_date", "issue date")
        shipped = co.transport.departure_date
        if co.issued_retroactively and co.issue_date <= shipped:
            self.add(
                f"{base}/issued_retroactively",
                "retroactive-not-after-shipment",
                f"the certificate is marked issued retroactively but was issued on "
                f"{co.issue_date.isoformat()}, not after shipment on {shipped.isoformat()}.",
            )
        if co.issued_retroactively and p is not None and not p.issued_retroactively:
            self.add(
                f"{base}/issued_retroactively",
                "flag-not-allowed",
                f"the {p.form} has no 'issued retroactively' box.",
            )
        self.back_to_back(co, p, base)
        if co.third_party_invoicing and p is not None and not p.third_party_invoicing:
            self.add(
                f"{base}/third_party_invoicing",
                "flag-not-allowed",
                f"the {p.form} has no third-party invoicing box.",
            )
        if co.invoicing_operator is not None and not co.third_party_invoicing:
            self.add(
                f"{base}/invoicing_operator",
                "operator-without-third-party-invoicing",
                "an invoicing operator is named but third-party invoicing is not marked.",
            )
        if co.certification is not None and co.certification.date > co.issue_date:
            self.add(
                f"{base}/certification/date",
                "certification-after-issue",
                "the certification is dated after the certificate's issue date.",
            )
        if co.supersedes == co.document_id:
            self.add(
                f"{base}/supersedes", "supersedes-itself", "a certificate cannot amend itself."
            )
        numbers = {i.item_number: i for i in co.items}
        for k, det in enumerate(co.origin_determinations or ()):
            at = f"{base}/origin_determinations/{k}"
            item = numbers.get(det.item_number)
            if item is None:
                self.add(
                    f"{at}/item_number",
                    "determination-unknown-item",
                    f"the determination refers to item {det.item_number}, which is not on the "
                    f"certificate.",
                )
            elif det.criterion != item.origin_criterion:
                self.add(
                    f"{at}/criterion",
                    "determination-mismatch",
                    f"the determination found {det.criterion} for item {det.item_number}, but "
                    f"the certificate claims {item.origin_criterion}.",
                )
        self.ledger_certificate(co, base)

    def back_to_back(
        self, co: CertificateOfOrigin, p: CertificateProfile | None, base: str
    ) -> None:
        original = co.original_certificate
        if co.back_to_back and p is not None and not p.back_to_back:
            self.add(
                f"{base}/back_to_back",
                "flag-not-allowed",
                f"{p.agreement} has no back-to-back certificate.",
            )
        if co.back_to_back and original is None:
            source = f" ({p.back_to_back_source})" if p and p.back_to_back_source else ""
            self.add(
                f"{base}/original_certificate",
                "back-to-back-without-original",
                f"a back-to-back certificate must give the original certificate's number, date "
                f"and first exporting country{source}.",
            )
        if original is not None:
            if not co.back_to_back:
                self.add(
                    f"{base}/back_to_back",
                    "original-without-back-to-back",
                    "an original certificate is given but the certificate is not marked "
                    "back-to-back.",
                )
            if original.issue_date > co.issue_date:
                self.add(
                    f"{base}/original_certificate/issue_date",
                    "original-after-back-to-back",
                    "the original certificate is dated after the back-to-back certificate.",
                )
            at = f"{base}/original_certificate/first_exporting_country"
            ok = self.country(original.first_exporting_country, at)
            if ok and p is not None and original.first_exporting_country not in p.parties:
                self.add(
                    at,
                    "not-a-party",
                    f"{original.first_exporting_country} is not a Party to {p.agreement}.",
                )

    def ledger_certificate(self, co: CertificateOfOrigin, base: str) -> None:
        if self.registry is None:
            return
        if self.registry.has_document(co.document_id):
            self.add(
                f"{base}/number",
                "number-taken",
                f"{co.issuer} has already issued a document numbered {co.number}.",
            )
        if co.supersedes is not None:
            old = self.ledger_copy(co.supersedes, f"{base}/supersedes")
            if old is not None and old.status != "current":
                self.add(
                    f"{base}/supersedes",
                    f"certificate-{old.status}",
                    f"{co.supersedes} is {old.status} and cannot be amended.",
                )

    def declaration_of_origin(self, doc: DeclarationOfOrigin) -> None:
        p = self.agreement(doc.agreement, "/agreement")
        if p is not None and not p.declaration_of_origin:
            self.add(
                "/agreement",
                "declaration-not-allowed",
                f"{p.agreement} does not accept a declaration of origin as proof of origin.",
            )
        if doc.declarant_kind == "approved_exporter" and doc.approved_exporter_number is None:
            self.add(
                "/approved_exporter_number",
                "approved-exporter-number-missing",
                "a declaration by an approved exporter must give the approved exporter number.",
            )
        for name in ("exporter", "producer", "importer"):
            self.party(getattr(doc, name), f"/{name}")
        exporting = doc.exporting_country or doc.exporter.country
        at = "/exporting_country" if doc.exporting_country else "/exporter/country"
        self.lane(p, exporting, doc.importing_country, "", at)
        self.items(doc.items, p, doc.agreement, "")
        self.not_future(doc.issue_date, "/issue_date", "declaration date")
        if self.registry is not None and self.registry.has_document(doc.document_id):
            self.add(
                "/number",
                "number-taken",
                f"{doc.issuer} has already made a document numbered {doc.number}.",
            )

    def customs(self, doc: CustomsDeclaration) -> None:
        for name in ("declarant", "exporter", "importer"):
            self.party(getattr(doc, name), f"/{name}")
        self.country(doc.exporting_country, "/exporting_country")
        self.country(doc.destination_country, "/destination_country")
        if doc.agreement is not None:
            self.agreement(doc.agreement, "/agreement")
        self.not_future(doc.declaration_date, "/declaration_date", "declaration date")
        for i, item in enumerate(doc.items):
            at = f"/items/{i}"
            self.subheading(
                item.tariff_code[:6], item.hs_edition, f"{at}/tariff_code", item.tariff_code
            )
            self.positive(item.quantity, f"{at}/quantity", "quantity")
            self.positive(item.customs_value, f"{at}/customs_value", "customs value")
            self.currency(item.currency, f"{at}/currency")
        if doc.preference_claimed and doc.declaration_type == "export":
            self.add(
                "/preference_claimed",
                "preference-on-export",
                "preference is claimed on import, not on an export declaration.",
            )
        if doc.preference_claimed and doc.co_reference is None:
            self.add(
                "/co_reference",
                "preference-without-certificate",
                "a declaration claiming preference must name the certificate of origin.",
            )
        if self.registry is None:
            return
        if doc.document_id is not None and self.registry.has_document(doc.document_id):
            self.add(
                "/number",
                "number-taken",
                f"{doc.issuer} has already recorded a document numbered {doc.number}.",
            )
        if doc.co_reference is None:
            return
        co = self.ledger_copy(doc.co_reference, "/co_reference")
        if co is None:
            return
        if doc.preference_claimed:
            self.claimed_certificate(doc, co)

    def claimed_certificate(self, doc: CustomsDeclaration, co: RegisteredCertificate) -> None:
        """A preference claim needs a current certificate for this lane and these goods."""
        if co.status != "current":
            self.add(
                "/co_reference",
                f"certificate-{co.status}",
                f"{co.document_id} is {co.status}; it cannot support a preference claim.",
            )
        expiry = certificate_valid_until(co)
        if doc.declaration_date > expiry:
            p = profile(co.agreement)
            source = f" ({p.validity_source})" if p else ""
            self.add(
                "/co_reference",
                "certificate-expired",
                f"{co.document_id} was valid until {expiry.isoformat()}{source}, before the "
                f"declaration date {doc.declaration_date.isoformat()}.",
            )
        if co.importing_country != doc.destination_country:
            self.add(
                "/destination_country",
                "certificate-country-mismatch",
                f"{co.document_id} is for imports into {co.importing_country}, not "
                f"{doc.destination_country}.",
            )
        if doc.agreement is not None and doc.agreement != co.agreement:
            self.add(
                "/agreement",
                "certificate-agreement-mismatch",
                f"{co.document_id} was issued under {co.agreement}, not {doc.agreement}.",
            )
        for i, item in enumerate(doc.items):
            code = item.tariff_code[:6]
            if not _on_certificate(code, item.hs_edition, co.subheadings):
                self.add(
                    f"/items/{i}/tariff_code",
                    "certificate-hs-mismatch",
                    f"subheading {code} ({item.hs_edition}) is not on {co.document_id}.",
                )

    def refers_to_certificate(self, reference: str) -> None:
        if self.registry is not None:
            self.ledger_copy(reference, "/co_reference")

    def ledger_copy(self, reference: str, at: str) -> RegisteredCertificate | None:
        """The certificate ``reference`` names, as the ledger has it; a finding at ``at`` if
        the ledger has none (only called with a registry)."""
        assert self.registry is not None
        co = self.registry.registered_certificate(reference)
        if co is None:
            self.add(
                at,
                "certificate-not-on-ledger",
                f"{reference} is not a certificate of origin on the ledger.",
            )
        return co


def _on_certificate(code: str, edition: str, subheadings: frozenset[tuple[str, str]]) -> bool:
    if (edition, code) in subheadings:
        return True
    for co_edition, co_code in subheadings:
        if co_edition == edition:
            continue
        try:
            targets = hs.correlate(code, edition, co_edition).targets
        except InvalidInput:
            continue
        if co_code in targets:
            return True
    return False


def check(
    doc: Document, registry: DocumentRegistry | None = None, *, today: date | None = None
) -> list[Finding]:
    """Every business-rule finding for ``doc`` (empty when it satisfies them all)."""
    c = _Checker(registry, today or date.today())
    match doc:
        case CertificateOfOrigin():
            c.certificate(doc)
        case CertificateApplication():
            c.certificate(doc.co, "/co")
        case DeclarationOfOrigin():
            c.declaration_of_origin(doc)
        case CustomsDeclaration():
            c.customs(doc)
        case VerificationResult():
            if doc.result == "rejected" and doc.reason is None:
                c.add("/reason", "reason-missing", "a rejected verification must give its reason.")
            c.refers_to_certificate(doc.co_reference)
        case CertificateRevocation() | VerificationRequest() | BankPresentation():
            c.refers_to_certificate(doc.co_reference)
    return c.findings
