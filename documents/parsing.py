"""Reading a document from bytes, XML or JSON, defensively, into its model.

Structural validation happens here, in this order, stopping at the first stage that fails:

1. size (refused before any parsing), UTF-8 (the only encoding accepted);
2. syntax: for XML a hardened lxml pull parser — no DTD (a ``<!DOCTYPE`` is refused outright,
   which disposes of external entities and billion-laughs payloads), no entity expansion, no
   network, and the nesting depth counted while parsing so that a deeply nested file is refused
   at the first element past the limit; for JSON, duplicate keys and NaN are refused;
3. the document type: XML by root element and namespace, JSON by ``document_type``;
4. XSD (XML only), then the pydantic model (both).

Business rules come afterwards, in :mod:`documents.rules`.
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree
from pydantic import BaseModel, ValidationError

from documents.findings import Finding, fail, invalid
from documents.models import MODELS, Document
from documents.schemas import xml_schema
from documents.xmlform import (
    BY_ROOT,
    PREFIXES,
    ROOTS,
    element_data,
    pointer_to_xpath,
    shape,
)

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 32
MAX_ELEMENTS = 50_000
_CHUNK = 64 * 1024

JSON = "application/json"
XML = "application/xml"


def media_type(content_type: str) -> str:
    """``application/json`` or ``application/xml`` for a content type (or ``json``/``xml``)."""
    base = content_type.split(";")[0].strip().lower()
    if base in ("json", JSON) or base.endswith("+json"):
        return JSON
    if base in ("xml", XML, "text/xml") or base.endswith("+xml"):
        return XML
    raise fail("/", "unsupported-media-type", f"a document is JSON or XML, not {base!r}.")


def sniff(data: bytes) -> str:
    """Guess JSON or XML from the first significant byte (for files without a type)."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return XML if head == b"<" else JSON


def _check_bytes(data: bytes) -> None:
    if len(data) > MAX_BYTES:
        raise fail(
            "/",
            "too-large",
            f"the document is {len(data)} bytes; at most {MAX_BYTES} bytes are accepted.",
        )
    if not data.strip():
        raise fail("/", "empty", "the document is empty.")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(
            f"byte {exc.start}", "not-utf8", f"the document is not valid UTF-8 at byte {exc.start}."
        ) from None


# --- XML -------------------------------------------------------------------------------------


def _pull_parser() -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes) -> etree._Element:
    """Parse XML with the limits above; raise DocumentInvalid naming line and column."""
    _check_bytes(data)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise fail(
            "/",
            "xml-doctype-forbidden",
            "the XML contains a document type declaration; DTDs and entities are not accepted.",
        )
    parser = _pull_parser()
    depth = elements = 0
    try:
        for start in range(0, len(data), _CHUNK):
            parser.feed(data[start : start + _CHUNK])
            for event, element in parser.read_events():
                if event == "start":
                    depth += 1
                    elements += 1
                    if depth > MAX_DEPTH:
                        line = element.sourceline
                        raise fail(
                            f"line {line}",
                            "xml-too-deep",
                            f"the XML is nested more than {MAX_DEPTH} levels deep.",
                        )
                    if elements > MAX_ELEMENTS:
                        raise fail(
                            f"line {element.sourceline}",
                            "xml-too-many-elements",
                            f"the XML has more than {MAX_ELEMENTS} elements.",
                        )
                else:
                    depth -= 1
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (0, 0)
        if "depth" in str(exc.msg).lower():  # libxml2's own limit (256) met inside one chunk
            raise fail(
                f"line {line}",
                "xml-too-deep",
                f"the XML is nested more than {MAX_DEPTH} levels deep.",
            ) from None
        message = str(exc.msg).split(", line ")[0].rstrip(".")
        raise fail(
            f"line {line}, column {column}", "xml-malformed", f"the XML is malformed: {message}."
        ) from None
    if root is None:
        raise fail("/", "empty", "the XML document has no root element.")
    info = root.getroottree().docinfo
    if info.doctype:
        raise fail("/", "xml-doctype-forbidden", "DTDs and entities are not accepted.")
    if info.encoding and info.encoding.upper().replace("_", "-") not in ("UTF-8", "UTF8"):
        raise fail("/", "not-utf8", f"the XML declares encoding {info.encoding}; use UTF-8.")
    return root


def _xml_document_type(root: etree._Element) -> str:
    q = etree.QName(root)
    found = BY_ROOT.get((q.namespace or "", q.localname))
    if found is not None:
        return found
    for document_type, (ns, name) in ROOTS.items():
        if name == q.localname:
            raise fail(
                f"/{q.localname}",
                "xml-wrong-namespace",
                f"the root element {q.localname} is in namespace {q.namespace or 'none'!r}; "
                f"a {document_type} uses {ns!r}.",
            )
    known = ", ".join(f"{name} ({ns})" for ns, name in ROOTS.values())
    raise fail(
        f"/{q.localname}",
        "unknown-document-type",
        f"the root element {q.localname} is not a known document; expected one of {known}.",
    )


def _xsd_message(message: str, ns: str) -> str:
    text = message.replace(f"{{{ns}}}", "").strip()
    return text if text.endswith(".") else text + "."


def _xsd_code(type_name: str) -> str:
    name = type_name.removeprefix("SCHEMAV_").lower().replace("_", "-")
    return f"xsd-{name}"


def from_xml(data: bytes) -> Document:
    root = parse_xml(data)
    document_type = _xml_document_type(root)
    schema = xml_schema(document_type)
    if not schema.validate(root):
        ns = ROOTS[document_type][0]
        prefix_path = _xsd_path_fixer(root, document_type)
        findings = [
            Finding(
                prefix_path(e.path) or f"line {e.line}",
                _xsd_code(e.type_name),
                _xsd_message(e.message, ns),
            )
            for e in schema.error_log
        ]
        raise invalid(findings)
    model = MODELS[document_type]
    data_dict = element_data(root, model, ROOTS[document_type][0])
    data_dict["document_type"] = document_type
    return _validate_model(model, data_dict, document_type, xml=True)


def _xsd_path_fixer(root: etree._Element, document_type: str) -> Any:
    """Turn libxml2's error paths (``/*/*[12]/*[5]`` for a default namespace) into named
    XPaths with the type's prefix (``/co:CertificateOfOrigin/co:IncludedItem[10]/co:…``)."""
    prefix = PREFIXES[document_type]
    tree = root.getroottree()
    namespaces = {k: v for k, v in (root.nsmap or {}).items() if k}

    def named(element: etree._Element) -> str:
        steps = []
        node: etree._Element | None = element
        while node is not None:
            name = etree.QName(node).localname
            parent = node.getparent()
            step = f"{prefix}:{name}"
            if parent is not None:
                same = [c for c in parent if isinstance(c.tag, str) and c.tag == node.tag]
                if len(same) > 1:
                    step += f"[{same.index(node) + 1}]"
            steps.append(step)
            node = parent
        return "/" + "/".join(reversed(steps))

    def fix(path: str | None) -> str | None:
        if not path:
            return None
        try:
            found = tree.xpath(path, namespaces=namespaces)
        except etree.XPathError:
            return path
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            return named(found[0])
        return path

    return fix


# --- JSON ------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(data: bytes) -> Any:
    _check_bytes(data)
    try:
        return json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        raise fail(
            f"line {exc.lineno}, column {exc.colno}",
            "json-malformed",
            f"the JSON is malformed: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
        ) from None
    except RecursionError:
        raise fail("/", "json-too-deep", "the JSON is nested too deeply.") from None
    except ValueError as exc:
        raise fail("/", "json-malformed", f"the JSON is not accepted: {exc}.") from None


def from_json(data: bytes) -> Document:
    value = parse_json(data)
    if not isinstance(value, dict):
        raise fail("/", "not-an-object", "a document is a JSON object.")
    document_type = value.get("document_type")
    if document_type is None:
        raise fail(
            "/document_type",
            "missing-document-type",
            f"document_type is required; one of {', '.join(MODELS)}.",
        )
    model = MODELS.get(document_type) if isinstance(document_type, str) else None
    if model is None:
        raise fail(
            "/document_type",
            "unknown-document-type",
            f"{document_type!r} is not a known document type; one of {', '.join(MODELS)}.",
        )
    return _validate_model(model, value, document_type, xml=False)


# --- pydantic errors as findings --------------------------------------------------------------

_CODES = {
    "missing": "missing-field",
    "extra_forbidden": "unknown-field",
    "string_pattern_mismatch": "bad-format",
    "string_too_short": "bad-length",
    "string_too_long": "bad-length",
    "string_type": "not-text",
    "literal_error": "not-allowed-value",
    "date_parsing": "bad-date",
    "date_from_datetime_parsing": "bad-date",
    "date_from_datetime_inexact": "bad-date",
    "date_type": "bad-date",
    "bool_parsing": "bad-boolean",
    "bool_type": "bad-boolean",
    "int_parsing": "bad-number",
    "int_type": "bad-number",
    "int_from_float": "bad-number",
    "greater_than_equal": "out-of-range",
    "less_than_equal": "out-of-range",
    "too_short": "too-few",
    "too_long": "too-many",
    "list_type": "wrong-type",
    "model_type": "wrong-type",
    "model_attributes_type": "wrong-type",
    "dict_type": "wrong-type",
}


def _leaf_description(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        f = next((s for s in shape(current) if s.name == part), None)
        if f is None:
            return None
        if f.model is None:
            return f.xsd.description if f.xsd is not None else None
        current = f.model
    return None


def _message(model: type[BaseModel], err: Any, label: str) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "missing":
        return f"{label} is required."
    if kind == "extra_forbidden":
        return f"{label} is not a field of this document."
    if kind in ("string_pattern_mismatch", "string_too_short", "string_too_long"):
        what = _leaf_description(model, err["loc"]) or "in the expected format"
        shown = repr(value) if isinstance(value, str) and len(value) < 80 else "the value"
        return f"{label}: {shown} is not {what}."
    if kind == "string_type":
        return f"{label} must be a string (amounts and quantities are written as decimal strings)."
    if kind in ("date_parsing", "date_type", "date_from_datetime_parsing"):
        return f"{label}: {value!r} is not a date written YYYY-MM-DD."
    return f"{label}: {err['msg']}."


def _validate_model(
    model: type[BaseModel], data: dict[str, Any], document_type: str, *, xml: bool
) -> Document:
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        findings = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            pointer = "/" + "/".join(str(p) for p in loc) if loc else ""
            label = ".".join(str(p) for p in loc) or "the document"
            where = pointer_to_xpath(document_type, pointer) if xml else pointer
            findings.append(
                Finding(
                    where, _CODES.get(err["type"], "schema-invalid"), _message(model, err, label)
                )
            )
        raise invalid(findings) from None
    except RecursionError:
        raise fail("/", "json-too-deep", "the document is nested too deeply.") from None


def parse_document(data: bytes, content_type: str) -> Document:
    """Bytes (JSON or XML, per ``content_type``) to a validated document model."""
    media = media_type(content_type)
    return from_json(data) if media == JSON else from_xml(data)
