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
import re
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


#: How deeply JSON containers may nest (``[[1]]`` is 2 deep). Trade documents, bills of
#: materials and entry envelopes nest at most about 5 deep; the limit is far above that and far
#: below the depth at which parsing or encoding the value would exhaust Python's stack.
MAX_JSON_DEPTH = 64

# a string (the unrolled form scans long strings without backtracking) or a bracket
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
# the \u escape of a UTF-16 surrogate: only where one is can a parsed string hold a lone one
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(body: bytes) -> Any:
    """Parse JSON; every refusal is an :class:`InvalidInput` (422) with a location: a syntax
    error and containers nested deeper than :data:`MAX_JSON_DEPTH` by line and column, a lone
    UTF-16 surrogate (``"\\ud800"``, not Unicode text: it could be neither encoded nor
    signed) by the JSON pointer of its string."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"the body is not UTF-8 (byte {exc.start})", location=f"byte {exc.start}"
        ) from exc
    _refuse_deep(text)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            location=f"line {exc.lineno}, column {exc.colno}",
            line=exc.lineno,
            column=exc.colno,
        ) from exc
    _refuse_lone_surrogates(text, value)
    return value


def check_json(body: bytes) -> None:
    """Refuse what :func:`parse_json` refuses for nesting and lone surrogates, in JSON that
    another parser reads first (an entry's envelope; a document with origin evidence), which
    such input would break. Bytes that cannot hold either cost two scans and are not parsed;
    anything else wrong is left to that parser to report."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH and not _SURROGATE_ESCAPE_BYTES.search(
        body
    ):
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return
    _refuse_deep(text)
    if _SURROGATE_ESCAPE.search(text):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return
        _refuse_lone_surrogates(text, value)


def _refuse_deep(text: str) -> None:
    too_deep = _too_deep_at(text)
    if too_deep is not None:
        raise InvalidInput(
            f"the JSON is nested too deeply (more than {MAX_JSON_DEPTH} levels of arrays and "
            "objects)",
            location=_line_and_column(text, too_deep),
        )


def _refuse_lone_surrogates(text: str, value: Any) -> None:
    if _SURROGATE_ESCAPE.search(text):  # only an escape can put a surrogate in decoded text
        where = _lone_surrogate_at(value)
        if where is not None:
            raise InvalidInput(
                "the text holds a lone UTF-16 surrogate, which is not a character; send the "
                "character itself, or both halves of its surrogate pair",
                location=where,
            )


def _too_deep_at(text: str) -> int | None:
    """The offset of the first bracket that opens more than :data:`MAX_JSON_DEPTH` levels."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return None  # cannot nest deeper than it has brackets: the common case costs two scans
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        char = text[match.start()]
        if char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return match.start()
        elif char in "]}":
            depth -= 1
    return None


def _line_and_column(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)  # rfind is -1 on the first line: 1-based
    return f"line {line}, column {column}"


def _lone_surrogate_at(value: Any) -> str | None:
    """The JSON pointer of the first string or key holding a lone surrogate, or None."""
    pending: list[tuple[str, Any]] = [("", value)]  # a stack, not recursion: depth is bounded
    while pending:
        pointer, item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return pointer or "/"
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                key_pointer = f"{pointer}/{_pointer_part(key)}"
                if _SURROGATE.search(key):
                    return key_pointer
                children.append((key_pointer, child))
            pending.extend(reversed(children))
        elif isinstance(item, list):
            pending.extend(reversed([(f"{pointer}/{i}", c) for i, c in enumerate(item)]))
    return None


def _pointer_part(key: str) -> str:
    """A key as a JSON pointer token; a surrogate in it written as its ``\\u`` escape, so that
    the pointer itself can be sent back."""
    token = key.replace("~", "~0").replace("/", "~1")
    return token.encode("utf-8", "backslashreplace").decode("utf-8")


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
