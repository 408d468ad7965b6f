"""The Harmonized System: nomenclature per edition and correlations between editions.

Reads the project's own data files in ``schemas/hs/`` (built by ``scripts/build_data.py`` from
UN Comtrade nomenclatures and the UNSD correlation tables; provenance in
``schemas/hs/SOURCE.md``). Each file is loaded once, on first use, and cached.

Codes are digits only (no dots): 2 digits a chapter, 4 a heading, 6 a subheading.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from ledger.errors import InvalidInput

HS_EDITIONS: tuple[str, ...] = ("HS2012", "HS2017", "HS2022")

DATA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "hs"

# correlation files shipped, keyed (from, to); the reverse direction is derived by inversion
_CORRELATION_FILES = {
    ("HS2017", "HS2012"): "HS2017-HS2012.csv",
    ("HS2022", "HS2012"): "HS2022-HS2012.csv",
    ("HS2022", "HS2017"): "HS2022-HS2017.csv",
}
_INVERSE_RELATIONSHIP = {"1:1": "1:1", "1:n": "n:1", "n:1": "1:n", "n:n": "n:n"}


@dataclass(frozen=True, slots=True)
class Correlation:
    """Where a 6-digit code of one edition goes in another.

    ``targets`` are the codes of the target edition (sorted); ``relationship`` is the UNSD
    relationship type of the group the code belongs to (``1:1``, ``n:1``, ``1:n`` or ``n:n``);
    ``ambiguous`` is true when the code maps to more than one target, so that choosing one
    needs a decision (a classification ruling), not a guess.
    """

    source: str
    from_edition: str
    to_edition: str
    targets: tuple[str, ...]
    relationship: str
    ambiguous: bool


def _check_edition(edition: str) -> None:
    if edition not in HS_EDITIONS:
        raise InvalidInput(
            f"unknown HS edition {edition!r}; expected one of {', '.join(HS_EDITIONS)}"
        )


@cache
def _nomenclature(edition: str) -> dict[str, str]:
    _check_edition(edition)
    with (DATA_DIR / f"{edition}.csv").open(encoding="utf-8", newline="") as fh:
        return {row["code"]: row["description"] for row in csv.DictReader(fh)}


@cache
def _correlation_table(
    from_edition: str, to_edition: str
) -> dict[str, tuple[tuple[str, ...], str]]:
    key = (from_edition, to_edition)
    inverse = False
    if key not in _CORRELATION_FILES:
        key = (to_edition, from_edition)
        inverse = True
    pairs: dict[str, set[str]] = {}
    rels: dict[str, set[str]] = {}
    with (DATA_DIR / _CORRELATION_FILES[key]).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            a, b, rel = row["from"], row["to"], row["relationship"]
            if inverse:
                a, b, rel = b, a, _INVERSE_RELATIONSHIP[rel]
            pairs.setdefault(a, set()).add(b)
            rels.setdefault(a, set()).add(rel)
    table: dict[str, tuple[tuple[str, ...], str]] = {}
    for code, targets in pairs.items():
        kinds = rels[code]
        # one code normally carries one relationship type; if the table mixes them, the most
        # general one describes the code
        rel = next(r for r in ("n:n", "1:n", "n:1", "1:1") if r in kinds)
        table[code] = (tuple(sorted(targets)), rel)
    return table


def _valid_code(code: str, digits: int) -> bool:
    return isinstance(code, str) and len(code) == digits and code.isdigit()


def subheading_exists(code: str, edition: str) -> bool:
    """Whether ``code`` (6 digits) is a subheading of ``edition``."""
    return _valid_code(code, 6) and code in _nomenclature(edition)


def heading_exists(code: str, edition: str) -> bool:
    """Whether ``code`` (4 digits) is a heading of ``edition``."""
    return _valid_code(code, 4) and code in _nomenclature(edition)


def chapter_exists(code: str, edition: str) -> bool:
    return _valid_code(code, 2) and code in _nomenclature(edition)


def describe(code: str, edition: str) -> str | None:
    """The description of a chapter, heading or subheading (2, 4 or 6 digits), or None."""
    return _nomenclature(edition).get(code) if isinstance(code, str) else None


@lru_cache(maxsize=65536)
def correlate(code6: str, from_edition: str, to_edition: str) -> Correlation:
    """Map a 6-digit code of ``from_edition`` to ``to_edition`` through the UNSD tables.

    Raises :class:`InvalidInput` for an unknown edition or a code that is not a subheading of
    ``from_edition``.
    """
    _check_edition(from_edition)
    _check_edition(to_edition)
    if not subheading_exists(code6, from_edition):
        raise InvalidInput(f"{code6!r} is not a subheading of {from_edition}")
    if from_edition == to_edition:
        return Correlation(code6, from_edition, to_edition, (code6,), "1:1", False)
    found = _correlation_table(from_edition, to_edition).get(code6)
    if found is None:
        # not in the table: the subheading did not change between the editions
        if subheading_exists(code6, to_edition):
            return Correlation(code6, from_edition, to_edition, (code6,), "1:1", False)
        raise InvalidInput(f"no correlation for {from_edition} {code6} to {to_edition}")
    targets, rel = found
    return Correlation(code6, from_edition, to_edition, targets, rel, len(targets) > 1)
