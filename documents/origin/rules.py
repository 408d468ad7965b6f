"""Product-specific-rule tables: the CSV format, its validation, and the versioned store.

The format is specified in ``docs/origin-rules.md``. A table is a CSV file with the header
``agreement,level,code,rule,description,source`` and a manifest (JSON) beside it giving the
table's ``version``, ``hs_edition`` and per-chapter ``coverage``. Shipped tables live in
``schemas/origin/<AGR>/<version>.csv``; tables loaded with ``tradeledger origin rules load``
are installed under ``<home>/origin-rules/<AGR>/<version>.csv``. Both are parsed by
:func:`parse_table`, the same code the data build uses.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from documents import hs
from documents.origin.ast import Rule
from documents.origin.parser import parse_rule
from ledger.errors import NoRuleData, OriginInputError

HEADER = ["agreement", "level", "code", "rule", "description", "source"]
LEVELS = {"chapter": 2, "heading": 4, "subheading": 6}
COVERAGE_STATUSES = ("full", "partial", "missing")
SHIPPED_DIR = Path(__file__).resolve().parent.parent.parent / "schemas" / "origin"
DEFAULT_HOME = Path(".tradeledger")
# The version is recorded (and digested) in every determination: match it whole, in ASCII digits
# ("$" also matches before a final "\n", and \d takes any script's digits).
_VERSION = re.compile(r"[0-9]{4}\.[0-9]+")


class RuleTableInvalid(OriginInputError):
    """A rule table that does not validate; ``errors`` names each bad row."""

    code = "origin-rule-table-invalid"
    title = "The rule table is not valid"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]], **extra: Any) -> None:
        super().__init__(detail, errors=errors, **extra)
        self.errors = errors


@dataclass(frozen=True, slots=True)
class RuleRow:
    agreement: str
    level: str
    code: str
    text: str
    description: str
    source: str
    rule: Rule
    line: int


@dataclass(slots=True)
class RuleTable:
    agreement: str
    version: str
    hs_edition: str
    rows: dict[str, RuleRow]  # keyed by code (2, 4 or 6 digits)
    coverage: dict[str, dict[str, str]] = field(default_factory=dict)
    source: str = ""
    general_rule: RuleRow | None = None
    # codes the agreement's text shows as *not* listed in its product-specific annex, so that
    # the general rule applies to them (code -> citation); see general_rule_for
    general_codes: dict[str, str] = field(default_factory=dict)

    def general_rule_for(self, code6: str) -> RuleRow | None:
        """The general rule as a row for ``code6`` when the table knows the code is not listed
        in the product-specific annex (its own code, heading or chapter in ``general_codes``),
        or when the code's chapter is fully covered and has no row; else None."""
        gr = self.general_rule
        if gr is None:
            return None
        for key in (code6, code6[:4], code6[:2]):
            if key in self.general_codes:
                level = {6: "subheading", 4: "heading", 2: "chapter"}[len(key)]
                return RuleRow(
                    gr.agreement,
                    "general",
                    key,
                    gr.text,
                    f"{gr.description} ({level} {key} not listed in the product-specific annex)",
                    f"{gr.source}; not listed: {self.general_codes[key]}",
                    gr.rule,
                    0,
                )
        if self.chapter_coverage(code6[:2]).get("status") == "full":
            return gr
        return None

    def lookup(self, code6: str) -> RuleRow | None:
        """The most specific row for a subheading: its own, its heading's, its chapter's."""
        rows = self.rows
        return rows.get(code6) or rows.get(code6[:4]) or rows.get(code6[:2])

    def chapter_coverage(self, chapter: str) -> dict[str, str]:
        return self.coverage.get(chapter, {"status": "missing", "note": "no coverage recorded"})

    def no_rule_data(self, code6: str, edition_note: str = "") -> NoRuleData:
        ch = code6[:2]
        cov = self.chapter_coverage(ch)
        return NoRuleData(
            f"no {self.agreement} rule for {self.hs_edition} {code6}{edition_note} in rule "
            f"table {self.version} (chapter {ch} coverage: {cov['status']}); "
            "the table has no row for its subheading, heading or chapter",
            agreement=self.agreement,
            rules_version=self.version,
            hs_edition=self.hs_edition,
            product_hs=code6,
            coverage={"chapter": ch, **cov},
        )


def _error(line: int, column: str | None, message: str) -> dict[str, Any]:
    return {
        "row": line,
        "column": column,
        "message": message,
        "location": f"row {line}" + (f", column {column}" if column else ""),
    }


def parse_table(
    text: str,
    *,
    agreement: str,
    version: str,
    hs_edition: str,
    coverage: dict[str, dict[str, str]] | None = None,
    source: str = "",
    general_rule: dict[str, str] | None = None,
    general_rule_codes: dict[str, str] | None = None,
) -> RuleTable:
    """Parse and validate a rule table; raise :class:`RuleTableInvalid` naming every bad row.

    Row numbers count the header as row 1 (as a spreadsheet shows them).
    """
    if hs_edition not in hs.HS_EDITIONS:
        raise OriginInputError(f"unknown HS edition {hs_edition!r} for the rule table")
    if not _VERSION.fullmatch(version):
        raise OriginInputError(f"rule table version {version!r} is not YEAR.N (e.g. 2026.1)")
    errors: list[dict[str, Any]] = []
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise RuleTableInvalid(
            "the rule table is empty", errors=[_error(1, None, "no header row")]
        ) from None
    header = [h.strip() for h in header]
    if header != HEADER:
        raise RuleTableInvalid(
            f"the header must be {','.join(HEADER)} (found {','.join(header)})",
            errors=[_error(1, None, "bad header")],
            location="row 1",
        )
    rows: dict[str, RuleRow] = {}
    for line, rec in enumerate(reader, start=2):
        if not any(c.strip() for c in rec):
            continue
        if len(rec) != len(HEADER):
            errors.append(_error(line, None, f"has {len(rec)} fields, expected {len(HEADER)}"))
            continue
        agr, level, code, rule_text, description, src = (c.strip() for c in rec)
        row_errors = []
        if agr != agreement:
            row_errors.append(_error(line, "agreement", f"agreement {agr!r} is not {agreement!r}"))
        if level not in LEVELS:
            row_errors.append(
                _error(line, "level", f"level {level!r} is not chapter, heading or subheading")
            )
        elif not (code.isdigit() and len(code) == LEVELS[level]):
            row_errors.append(
                _error(
                    line, "code", f"code {code!r} is not {LEVELS[level]} digits as a {level} needs"
                )
            )
        elif not {2: hs.chapter_exists, 4: hs.heading_exists, 6: hs.subheading_exists}[len(code)](
            code, hs_edition
        ):
            row_errors.append(
                _error(line, "code", f"{level} {code} does not exist in {hs_edition}")
            )
        elif code in rows:
            row_errors.append(
                _error(
                    line,
                    "code",
                    f"duplicate row for {level} {code} (first at row {rows[code].line})",
                )
            )
        if not src:
            row_errors.append(_error(line, "source", "every row must name its source"))
        parsed: Rule | None = None
        try:
            parsed = parse_rule(" ".join(rule_text.split()))
        except OriginInputError as exc:
            row_errors.append(_error(line, "rule", exc.detail))
        if row_errors:
            errors.extend(row_errors)
            continue
        assert parsed is not None
        rows[code] = RuleRow(
            agr, level, code, " ".join(rule_text.split()), description, src, parsed, line
        )
    if errors:
        listing = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:20])
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise RuleTableInvalid(
            f"{len(errors)} bad row(s) in the {agreement} rule table: {listing}{more}",
            errors=errors,
        )
    if not rows and not general_rule:
        raise RuleTableInvalid("the rule table has no rows", errors=[])
    general = None
    if general_rule:
        try:
            general = RuleRow(
                agreement,
                "general",
                "",
                general_rule["rule"],
                general_rule.get("description", "general rule"),
                general_rule["source"],
                parse_rule(general_rule["rule"]),
                0,
            )
        except (KeyError, OriginInputError) as exc:
            raise OriginInputError(f"the manifest's general rule is not usable: {exc}") from exc
    general_codes: dict[str, str] = {}
    for code, citation in (general_rule_codes or {}).items():
        where = f"general_rule_codes {code!r}"
        if general is None:
            raise OriginInputError(f"{where}: the table has no general rule to apply")
        if not (code.isdigit() and len(code) in (2, 4, 6)) or not {
            2: hs.chapter_exists,
            4: hs.heading_exists,
            6: hs.subheading_exists,
        }[len(code)](code, hs_edition):
            raise OriginInputError(f"{where}: not a chapter, heading or subheading of {hs_edition}")
        if code in rows:
            raise OriginInputError(f"{where}: the table also has a row for {code}")
        if not str(citation).strip():
            raise OriginInputError(f"{where}: every code must name its source")
        general_codes[code] = str(citation).strip()
    return RuleTable(
        agreement,
        version,
        hs_edition,
        rows,
        coverage or derive_coverage(rows),
        source,
        general,
        general_codes,
    )


def derive_coverage(rows: dict[str, RuleRow]) -> dict[str, dict[str, str]]:
    """Coverage when a table comes without one: a chapter row covers the chapter ("full"),
    heading or subheading rows alone cover it "partial"ly, no row is "missing"."""
    cov: dict[str, dict[str, str]] = {}
    for ch in (f"{i:02d}" for i in range(1, 98)):
        if ch in rows:
            cov[ch] = {"status": "full", "note": "chapter-level rule"}
        elif any(code[:2] == ch for code in rows):
            n = sum(1 for code in rows if code[:2] == ch)
            cov[ch] = {"status": "partial", "note": f"{n} heading/subheading row(s)"}
        else:
            cov[ch] = {"status": "missing", "note": "no rows"}
    return cov


# --- the versioned store ---------------------------------------------------------------------


def _version_key(v: str) -> tuple[int, int]:
    a, b = v.split(".")
    return int(a), int(b)


def _versions(directory: Path) -> list[str]:
    # a determination looks the table up every time; listing the folder only when it changed
    # (a table installed or removed changes its mtime) keeps that to one stat
    try:
        mtime = directory.stat().st_mtime_ns
    except OSError:
        return []
    return _versions_at(str(directory), mtime)


@lru_cache(maxsize=64)
def _versions_at(path: str, mtime_ns: int) -> list[str]:
    directory = Path(path)
    if not directory.is_dir():
        return []
    return sorted(
        (
            p.stem
            for p in directory.glob("*.csv")
            if _VERSION.fullmatch(p.stem) and p.with_suffix(".json").exists()
        ),
        key=_version_key,
    )


def shipped_agreements() -> list[str]:
    return sorted(p.name for p in SHIPPED_DIR.iterdir() if p.is_dir() and _versions(p))


@lru_cache(maxsize=64)
def _load_file(path: str, mtime_ns: int) -> RuleTable:
    p = Path(path)
    manifest = json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))
    return parse_table(
        p.read_text(encoding="utf-8"),
        agreement=manifest["agreement"],
        version=manifest["version"],
        hs_edition=manifest["hs_edition"],
        coverage=manifest.get("coverage"),
        source=str(p),
        general_rule=manifest.get("general_rule"),
        general_rule_codes=manifest.get("general_rule_codes"),
    )


def load_table_file(path: Path) -> RuleTable:
    return _load_file(str(path), path.stat().st_mtime_ns)


def home_dir(home: Path | str | None) -> Path:
    return Path(home) / "origin-rules"


def load_rules(agreement: str, home: Path | str | None = None) -> RuleTable:
    """The rule table for ``agreement``: the newest installed under ``home`` if any, else the
    newest shipped one. Raises :class:`NoRuleData` when the build has no table at all."""
    candidates: list[Path] = []
    if home is not None:
        d = home_dir(home) / agreement
        vs = _versions(d)
        if vs:
            candidates.append(d / f"{vs[-1]}.csv")
    if not candidates:
        d = SHIPPED_DIR / agreement
        vs = _versions(d)
        if vs:
            candidates.append(d / f"{vs[-1]}.csv")
    if not candidates:
        raise NoRuleData(
            f"no rule table for agreement {agreement!r} in this build",
            agreement=agreement,
            coverage={"status": "missing"},
        )
    return load_table_file(candidates[0])


def install_table(
    agreement: str,
    csv_text: str,
    home: Path | str,
    *,
    hs_edition: str,
    version: str | None = None,
    coverage: dict[str, dict[str, str]] | None = None,
    general_rule: dict[str, str] | None = None,
    source: str = "",
) -> RuleTable:
    """Validate ``csv_text`` with :func:`parse_table` and install it as a new version."""
    d = home_dir(home) / agreement
    existing = set(_versions(d)) | set(_versions(SHIPPED_DIR / agreement))
    if version is None:
        year = datetime.now(UTC).year
        n = 1 + max((_version_key(v)[1] for v in existing if _version_key(v)[0] == year), default=0)
        version = f"{year}.{n}"
        newest = max(existing, key=_version_key, default=None)
        if newest is not None and _version_key(version) <= _version_key(newest):
            version = f"{_version_key(newest)[0]}.{_version_key(newest)[1] + 1}"
    elif version in existing:
        raise OriginInputError(f"{agreement} rule table version {version} already exists")
    if general_rule is None:
        # the agreement's general rule (e.g. AJCEP Art. 26.1) carries over from the shipped table
        shipped = _versions(SHIPPED_DIR / agreement)
        if shipped:
            m = json.loads((SHIPPED_DIR / agreement / f"{shipped[-1]}.json").read_text("utf-8"))
            general_rule = m.get("general_rule")
    table = parse_table(
        csv_text,
        agreement=agreement,
        version=version,
        hs_edition=hs_edition,
        coverage=coverage,
        source=source,
        general_rule=general_rule,
    )
    d.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "agreement": agreement,
        "version": version,
        "hs_edition": hs_edition,
        "source": source or "loaded with `tradeledger origin rules load`",
        "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "coverage": table.coverage,
    }
    if general_rule:
        manifest["general_rule"] = general_rule
    tmp_csv = d / f".{version}.csv.tmp"
    tmp_csv.write_text(csv_text, encoding="utf-8")
    (d / f"{version}.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    tmp_csv.replace(d / f"{version}.csv")
    return table
