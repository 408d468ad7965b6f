"""Located validation findings and the one exception that carries them.

Every problem found in a document is a :class:`Finding`: where (a JSON pointer into the
document's JSON form, or an XPath / line and column for XML), a stable code, and one plain
sentence. Validation collects all findings of a stage and raises them together as
:class:`ledger.errors.DocumentInvalid`, whose ``errors`` list the API puts into the problem
details and the CLI prints one per line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ledger.errors import DocumentInvalid


@dataclass(frozen=True, slots=True)
class Finding:
    location: str
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "location": self.location, "message": self.message}


def invalid(findings: list[Finding], xpath: Callable[[str], str] | None = None) -> DocumentInvalid:
    """The exception for a non-empty list of findings (the first one is the headline).

    ``xpath`` maps a finding's JSON pointer to the XPath of the same place in the XML form; when
    given, each error also carries ``xpath`` (business rules locate by JSON pointer, which is
    the same for both forms).
    """
    first = findings[0]
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    errors = [f.to_json() for f in findings]
    if xpath is not None:
        for error in errors:
            if error["location"].startswith("/"):
                error["xpath"] = xpath(error["location"])
    return DocumentInvalid(f"{first.message}{more}", location=first.location, errors=errors)


def fail(location: str, code: str, message: str) -> DocumentInvalid:
    return invalid([Finding(location, code, message)])
