"""Trade documents: certificates of origin, declarations and their lifecycle events.

The module-level API the node uses (``nodes/documents_bridge.py``):

* :func:`parse_document` — bytes (JSON or XML) to a validated model, or
  :class:`~ledger.errors.DocumentInvalid` with every structural error located;
* :func:`validate` — the business rules (with a :class:`DocumentRegistry` for the rules that
  depend on the ledger), raising :class:`~ledger.errors.DocumentInvalid` with all findings;
* :func:`document_digest` — SHA-256 over the ``tradeledger/v1/document`` tag and the RFC 8785
  canonical JSON of the document's JSON form: the same for the XML and the JSON of a document;
* :func:`document_id` — ``issuer/number``;
* :func:`load_reference_data` — read the nomenclatures, code lists and schemas now rather than
  on first use (a long-running node calls it at start).

The rules-of-origin engine is the subpackage :mod:`documents.origin`.
"""

from __future__ import annotations

from datetime import date
from functools import cache, partial
from typing import Any

from documents.findings import Finding, invalid
from documents.models import (
    MODELS,
    BankPresentation,
    CertificateApplication,
    CertificateOfOrigin,
    CertificateRevocation,
    CustomsDeclaration,
    DeclarationOfOrigin,
    Document,
    VerificationRequest,
    VerificationResult,
)
from documents.parsing import JSON, XML, parse_document, sniff
from documents.rules import (
    DocumentRegistry,
    RegisteredCertificate,
    certificate_valid_until,
    check,
)
from documents.xmlform import pointer_to_xpath, to_xml
from ledger.encoding import Tag, fast_canonical_bytes, tagged_hash

__all__ = [
    "JSON",
    "MODELS",
    "XML",
    "BankPresentation",
    "CertificateApplication",
    "CertificateOfOrigin",
    "CertificateRevocation",
    "CustomsDeclaration",
    "DeclarationOfOrigin",
    "Document",
    "DocumentRegistry",
    "Finding",
    "RegisteredCertificate",
    "VerificationRequest",
    "VerificationResult",
    "canonical_form",
    "certificate_valid_until",
    "document_digest",
    "document_id",
    "load_reference_data",
    "parse_document",
    "sniff",
    "to_json",
    "to_xml",
    "validate",
]


def canonical_form(doc: Document) -> dict[str, Any]:
    """The document's JSON form: what is hashed (absent optional fields are left out)."""
    return doc.model_dump(mode="json", exclude_none=True)


def to_json(doc: Document) -> bytes:
    """The document as RFC 8785 canonical JSON.

    A model's JSON form holds only strings, booleans, small integers, lists and objects with
    ASCII keys, where RFC 8785 equals sorted compact ``json.dumps`` (``ledger.encoding``), so
    the fast encoder is used; ``tests/documents`` checks it against ``canonical_bytes``.
    """
    return fast_canonical_bytes(canonical_form(doc))


def document_digest(doc: Document) -> str:
    """Hex SHA-256 of the ``tradeledger/v1/document`` tag and the canonical JSON form."""
    return tagged_hash(Tag.DOCUMENT, to_json(doc)).hex()


def document_id(doc: Document) -> str | None:
    """``issuer/number`` of a document (for lifecycle events: the certificate they concern)."""
    return doc.document_id


@cache
def _is_registry(kind: type) -> bool:
    # isinstance against a runtime-checkable Protocol inspects its members on every call;
    # a node asks once per submission with the same class
    return all(callable(getattr(kind, name, None)) for name in _REGISTRY_METHODS)


_REGISTRY_METHODS = ("has_document", "registered_certificate")


def load_reference_data() -> None:
    """Load what the rules and parsers read lazily (HS nomenclatures, ISO code lists, compiled
    XSDs), so that the first documents a node receives are not the ones that pay for it."""
    from documents import hs, schemas
    from documents.rules import _country_exists, _currency_exists

    for edition in hs.HS_EDITIONS:
        hs.subheading_exists("010121", edition)
    _country_exists("JP")
    _currency_exists("JPY")
    for document_type in MODELS:
        schemas.xml_schema(document_type)


def validate(doc: Document, registry: Any = None, *, today: date | None = None) -> None:
    """Apply the business rules; raise DocumentInvalid with every finding.

    ``registry`` is used only when it implements :class:`DocumentRegistry`; the rules that need
    the ledger are skipped otherwise.
    """
    usable = (
        registry
        if registry is not None
        and (_is_registry(type(registry)) or isinstance(registry, DocumentRegistry))
        else None
    )
    findings = check(doc, usable, today=today)
    if findings:
        raise invalid(findings, partial(pointer_to_xpath, doc.document_type))
