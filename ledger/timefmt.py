"""The ledger's one time format: RFC 3339 UTC with six fractional digits and ``Z``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ledger.errors import EncodingError

# ASCII digits (\d would take any Unicode digit) and fullmatch ("$" allows a final "\n")
_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise EncodingError("times must be timezone-aware")
    # isoformat is C and several times faster than strftime; in UTC it always ends "+00:00"
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_time(text: str, what: str = "time") -> datetime:
    if not isinstance(text, str) or not _PATTERN.fullmatch(text):
        raise EncodingError(f"{what} must look like 2026-11-22T10:00:00.000000Z")
    try:
        # The pattern above fixes the shape; fromisoformat (C, Python 3.11+) checks the values.
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise EncodingError(f"{what} is not a valid date and time") from exc


def now() -> datetime:
    return datetime.now(UTC)
