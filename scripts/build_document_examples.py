"""Write the XML form of every JSON example in ``examples/documents/``.

The JSON files are the authored examples; their XML twins are generated so that both forms
stay the same document (``tests/documents/test_examples.py`` checks they parse to the same
model and digest).

Usage: ``python scripts/build_document_examples.py``
"""

from __future__ import annotations

from pathlib import Path

from documents import parse_document, to_xml

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "documents"


def main() -> None:
    for path in sorted(EXAMPLES.glob("*.json")):
        doc = parse_document(path.read_bytes(), "application/json")
        path.with_suffix(".xml").write_bytes(to_xml(doc))
        print(f"wrote {path.with_suffix('.xml').name}")


if __name__ == "__main__":
    main()
