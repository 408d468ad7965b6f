"""Where the node meets the ``documents`` package (trade-document schemas, business rules,
digests and the rules-of-origin engine), kept in one place.

The node reads a few fields of a submitted document (``number``, ``issuer``, ``co_reference``,
``supersedes``, countries) to derive the entry's subject and refs and to apply the access
policy; ``documents`` parses and validates the whole document (schema, then business rules, the
ledger-dependent ones through :class:`nodes.registry.LedgerRegistry`) and gives its digest;
``documents.origin`` makes origin determinations.
"""

from __future__ import annotations

import json
from hashlib import sha256
from pathlib import Path
from typing import Any

from lxml import etree

import documents
from documents.origin.evaluate import determine
from ledger.errors import (
    Conflict,
    DocumentInvalid,
    InvalidInput,
    OriginInputError,
    TradeLedgerError,
)

JSON_TYPES = ("application/json",)
XML_TYPES = ("application/xml", "text/xml")


class UnsupportedMediaType(InvalidInput):
    code = "unsupported-media-type"
    title = "Unsupported media type"
    status = 415


def media_type(content_type: str | None) -> str:
    """``application/json`` or ``application/xml`` for a request's Content-Type."""
    base = (content_type or "").split(";")[0].strip().lower()
    if base in JSON_TYPES or (base.startswith("application/") and base.endswith("+json")):
        return "application/json"
    if base in XML_TYPES or base.endswith("+xml"):
        return "application/xml"
    raise UnsupportedMediaType(
        f"a document is sent as application/json or application/xml, not {base or 'nothing'}"
    )


def parse_json(body: bytes) -> Any:
    """Parse JSON; a syntax error names its line and column."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"the body is not UTF-8 (byte {exc.start})", location=f"byte {exc.start}"
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            location=f"line {exc.lineno}, column {exc.colno}",
            line=exc.lineno,
            column=exc.colno,
        ) from exc


_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, remove_comments=True
)


def parse_xml(body: bytes) -> etree._Element:
    """Parse XML safely (no entities, no DTD, no network); errors name line and column."""
    try:
        root = etree.fromstring(body, parser=_XML_PARSER)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (0, 0)
        raise InvalidInput(
            f"malformed XML: {exc.msg}",
            location=f"line {line}, column {column}",
            line=line,
            column=column,
        ) from exc
    if root is None:
        raise InvalidInput("the XML document is empty", location="/")
    return root


def parse_document(body: bytes, content_type: str) -> dict[str, Any]:
    """The document's fields as a dict (for subject, refs and access policy)."""
    return read_document(body, content_type)[0]


def read_document(body: bytes, content_type: str) -> tuple[dict[str, Any], Any | None]:
    """The document's fields as a dict, and for XML the parsed document they were read from,
    for :func:`validate` to take instead of parsing the XML again (that was a third of an XML
    submission's time). JSON fields are the plain decoded object: no parsed document."""
    media = media_type(content_type)
    if media == "application/json":
        doc = parse_json(body)
        if not isinstance(doc, dict):
            raise InvalidInput("a document is a JSON object", location="/")
        return doc, None
    parse_xml(body)  # a malformed file is named as such, with its line and column
    # the documents package knows the XML element names: read the JSON field names from it
    parsed = documents.parse_document(body, media)
    return documents.canonical_form(parsed), parsed


#: The document type each lifecycle event carries (a revocation sent as ``co.issued`` is refused).
EVENT_DOCUMENT_TYPES: dict[str, str] = {
    "co.application": "co_application",
    "co.issued": "certificate_of_origin",
    "co.amended": "certificate_of_origin",
    "co.revoked": "co_revocation",
    "origin.declaration": "declaration_of_origin",
    "customs.export_declaration": "customs_declaration",
    "customs.import_declaration": "customs_declaration",
    "customs.verification_requested": "verification_request",
    "customs.verification_result": "verification_result",
    "bank.presentation": "bank_presentation",
}


def validate(
    body: bytes, content_type: str, event: str, registry: Any, parsed: Any | None = None
) -> str:
    """Schema and business-rule validation (``documents``), with the ledger-dependent rules
    asked of ``registry`` (a :class:`documents.DocumentRegistry`, :class:`nodes.registry.
    LedgerRegistry` on a node). ``parsed`` is ``body`` already parsed by :func:`read_document`.

    A document whose number its author has already used, or an amendment of a certificate that is
    no longer current, is a :class:`Conflict` (409); every other finding is
    :class:`DocumentInvalid` (422). Returns the document digest of the valid document.
    """
    doc = parsed if parsed is not None else documents.parse_document(body, content_type)
    expected = EVENT_DOCUMENT_TYPES.get(event)
    if expected is not None and doc.document_type != expected:
        raise InvalidInput(
            f"a {event} event carries a {expected} document, not a {doc.document_type}",
            location="/document_type",
        )
    if event in ("customs.export_declaration", "customs.import_declaration"):
        kind = event.removeprefix("customs.").removesuffix("_declaration")
        if getattr(doc, "declaration_type", kind) != kind:
            raise InvalidInput(
                f"a {event} event carries an {kind} declaration",
                location="/declaration_type",
            )
    try:
        documents.validate(doc, registry=registry)
    except DocumentInvalid as exc:
        if exc.errors and all(_conflicts_with_ledger(e) for e in exc.errors):
            first = exc.errors[0]
            raise Conflict(first["message"], location=first.get("location")) from exc
        raise
    return documents.document_digest(doc)


def _conflicts_with_ledger(error: dict[str, str]) -> bool:
    """A finding about the ledger's state rather than the document: a number already used, or
    amending a certificate that is no longer current."""
    code, location = error.get("code"), error.get("location") or ""
    return code == "number-taken" or (
        code in ("certificate-revoked", "certificate-superseded")
        and location.endswith("/supersedes")
    )


def load_reference_data() -> None:
    documents.load_reference_data()


def file_digests(body: bytes, content_type: str) -> list[str]:
    """The digests under which the index may know a presented file: its document digest (the
    same for its XML and its JSON), then the SHA-256 of its exact bytes."""
    return [d for d in (document_digest(body, content_type), sha256(body).hexdigest()) if d]


def document_digest(body: bytes, content_type: str) -> str | None:
    """The ``tradeledger/v1/document`` digest of a document, or None when the bytes are not a
    document the schemas know (an older or foreign payload)."""
    try:
        return documents.document_digest(documents.parse_document(body, content_type))
    except TradeLedgerError:
        return None


def determine_origin(body: bytes, home: Path | None) -> dict[str, Any]:
    """``POST /v1/origin/determinations``: the BOM with ``agreement`` and ``product``."""
    data = parse_json(body)
    if not isinstance(data, dict):
        raise OriginInputError("the body is a bill of materials (a JSON object)", location="/")
    agreement = data.pop("agreement", None)
    product = data.pop("product", data.pop("product_hs", None))
    if not isinstance(agreement, str) or not agreement:
        raise OriginInputError("agreement is required (e.g. RCEP)", location="/agreement")
    if not isinstance(product, str) or not product:
        raise OriginInputError("product is required (a 6-digit HS code)", location="/product")
    try:
        result = determine(agreement, product, data, home=home)
    except TradeLedgerError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise OriginInputError(f"the bill of materials is not usable: {exc}") from exc
    to_json = getattr(result, "to_json", None)
    return to_json() if callable(to_json) else dict(result)
