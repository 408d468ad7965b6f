"""Write the XSD and JSON Schema of every document type to ``schemas/documents/``.

Both are generated from ``documents.models`` (the XSD through ``documents.xmlform``'s element
names), so that the schemas partners use cannot drift from what the node applies.
``tests/documents/test_schemas.py`` checks the committed files equal this script's output.

Usage: ``python scripts/build_document_schemas.py``
"""

from __future__ import annotations

from documents.schemas import SCHEMA_DIR, json_schema_path, json_schema_text, xsd_path, xsd_text
from documents.xmlform import ROOTS


def main() -> None:
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    for document_type in ROOTS:
        xsd_path(document_type).write_text(xsd_text(document_type), encoding="utf-8")
        json_schema_path(document_type).write_text(
            json_schema_text(document_type), encoding="utf-8"
        )
        print(f"wrote {document_type}.xsd and {document_type}.schema.json")


if __name__ == "__main__":
    main()
