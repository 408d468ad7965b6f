"""Build tradeledger's own data files from the shared source data (run at build time only).

    python scripts/build_data.py [SOURCE_DIR] [--out REPO_DIR]

SOURCE_DIR defaults to ``../shared/data`` relative to the repository. It must hold
``insongkim-concordance/`` (UN Comtrade HS nomenclatures as JSON and the UNSD HS correlation
tables as .xlsx) and ``rcep-psr/`` (RCEP Annex 3A product-specific rules, HS2012).

It writes:

* ``schemas/hs/HS2012.csv``, ``HS2017.csv``, ``HS2022.csv`` — ``code,level,description``;
* ``schemas/hs/HS2017-HS2012.csv``, ``HS2022-HS2012.csv``, ``HS2022-HS2017.csv`` —
  ``from,to,relationship`` (one row per correlation pair, relationship as UNSD prints it);
* ``schemas/origin/RCEP/<version>.csv`` and ``<version>.json`` — the RCEP rule table in the
  format of ``docs/origin-rules.md`` and its manifest (version, HS edition, coverage per chapter);
* ``schemas/origin/AJCEP/…``, ``schemas/origin/JTEPA/…`` and ``schemas/origin/JVEPA/…`` — from
  the hand-cited tables in ``scripts/rule_sources/`` (rows transcribed from the agreements'
  annexes as Japan Customs reproduces them, each with its citation, the row as printed in the
  annex's HS edition and its HS2012 correlation).

Every rule row is parsed with the runtime parser (:mod:`documents.origin.parser`); a row that
does not parse, or a table that does not validate, fails the build with the bad rows named.
The runtime never reads SOURCE_DIR.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

EDITIONS = {
    "HS2012": "classificationH4.json",
    "HS2017": "classificationH5.json",
    "HS2022": "classificationH6.json",
}
CORRELATIONS = {
    ("HS2017", "HS2012"): "HS2017toHS2012ConversionAndCorrelationTables.xlsx",
    ("HS2022", "HS2012"): "HS2022toHS2012ConversionAndCorrelationTables.xlsx",
    ("HS2022", "HS2017"): "HS2022toHS2017ConversionAndCorrelationTables.xlsx",
}
RELATIONSHIPS = {"1:1", "1:n", "n:1", "n:n"}
RCEP_VERSION = "2026.1"


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


# --- HS nomenclature and correlations -----------------------------------------------------


def build_hs(src: Path, out: Path) -> None:
    conc = src / "insongkim-concordance"
    for edition, name in EDITIONS.items():
        data = json.loads((conc / name).read_text(encoding="utf-8"))
        rows = []
        for item in data["results"]:
            code = item["id"]
            if not (code.isdigit() and len(code) in (2, 4, 6)):
                continue  # aggregates: ALL, TOTAL, AG2, AG4, AG6
            if code.startswith("99"):
                continue  # UN Comtrade's "commodities not specified", not part of the HS
            text = item["text"]
            prefix = f"{code} - "
            if text.startswith(prefix):
                text = text[len(prefix) :]
            rows.append([code, str(len(code)), text.strip()])
        rows.sort()
        _write_csv(
            out / "schemas" / "hs" / f"{edition}.csv", ["code", "level", "description"], rows
        )
        print(f"{edition}: {len(rows)} codes")

    import openpyxl  # the `data` extra; only this script needs it

    for (frm, to), name in CORRELATIONS.items():
        wb = openpyxl.load_workbook(conc / name, read_only=True)
        sheet = next(ws for ws in wb.worksheets if "correlation" in ws.title.lower())
        pairs: set[tuple[str, str, str]] = set()
        for row in sheet.iter_rows(values_only=True):
            cells = [str(c).strip() for c in row if c is not None and str(c).strip()]
            # HS2017->HS2012 has a marker column "ex" (only part of the code moves): n:n anyway
            cells = [c for c in cells if c.lower() != "ex"]
            if len(cells) != 3 or not cells[0].isdigit():
                continue  # title and header rows
            a, b, rel = cells
            if len(a) != 6 or len(b) != 6 or not b.isdigit() or rel not in RELATIONSHIPS:
                raise SystemExit(f"{name}: unexpected correlation row {row!r}")
            pairs.add((a, b, rel))
        rows = [list(p) for p in sorted(pairs)]
        _write_csv(out / "schemas" / "hs" / f"{frm}-{to}.csv", ["from", "to", "relationship"], rows)
        print(f"{frm}->{to}: {len(rows)} correlation pairs")


# --- rule tables --------------------------------------------------------------------------

_STATUS_ROW = re.compile(r"^\|\s*(\d{2})(?:\s*[–-]\s*(\d{2}))?\b[^|]*\|\s*([^|]+?)\s*\|")


def _status_word(text: str) -> str:
    t = text.lower()
    if t.startswith("full"):
        return "full"
    if t.startswith("missing"):
        return "missing"
    return "partial"


def rcep_coverage(src: Path) -> dict[str, dict[str, str]]:
    """Per-chapter coverage from the source's coverage reports (their per-chapter tables)."""
    coverage: dict[str, dict[str, str]] = {}
    for name in ("coverage-a.md", "coverage-b.md"):
        in_table = False
        for line in (src / "rcep-psr" / name).read_text(encoding="utf-8").splitlines():
            if line.startswith("## Per chapter"):
                in_table = True
                continue
            if in_table and line.startswith("## "):
                in_table = False
            if not in_table:
                continue
            m = _STATUS_ROW.match(line)
            if not m:
                continue
            first, last, status = m.group(1), m.group(2) or m.group(1), m.group(3)
            detail = line.strip().strip("|").split("|")[-1].strip()
            for ch in range(int(first), int(last) + 1):
                coverage[f"{ch:02d}"] = {
                    "status": _status_word(status),
                    "note": f"{status}: {detail}",
                }
    for ch in range(1, 98):
        coverage.setdefault(
            f"{ch:02d}",
            {"status": "missing", "note": "not covered by the source's coverage report"},
        )
    return dict(sorted(coverage.items()))


def build_rcep(src: Path, out: Path) -> None:
    rows = []
    with (src / "rcep-psr" / "psr.csv").open(encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            rows.append(
                [
                    "RCEP",
                    rec["level"],
                    rec["code"],
                    " ".join(rec["rule"].split()),
                    rec["description"],
                    rec["source"],
                ]
            )
    coverage = rcep_coverage(src)
    # a chapter that has rows cannot be "missing" (the reports list chapters read later as such)
    for r in rows:
        ch = coverage[r[2][:2]]
        if ch["status"] == "missing":
            ch["status"] = "partial"
    manifest = {
        "agreement": "RCEP",
        "version": RCEP_VERSION,
        "hs_edition": "HS2012",
        "source": "RCEP Annex 3A (Product-Specific Rules), transcribed in "
        "../shared/data/rcep-psr/psr.csv; see schemas/origin/SOURCE.md",
        "coverage": coverage,
    }
    _install_table(out / "schemas" / "origin" / "RCEP", RCEP_VERSION, rows, manifest)


# extra columns of a hand-transcribed source table: the row as the annex prints it, in the
# annex's own HS edition, and how its code was carried to the table's edition
ANNOTATION = ["annex_hs", "annex_code", "printed_rule", "hs2012_mapping"]


def _cited_source(r: dict[str, str]) -> str:
    if not r.get("annex_code"):
        return r["source"]
    codes = "+".join(f"{c[:4]}.{c[4:]}" for c in r["annex_code"].split("+"))
    return (
        f'{r["source"]}; as printed ({r["annex_hs"]} {codes}): "{r["printed_rule"]}"; '
        f"to HS2012: {r['hs2012_mapping']}"
    )


def build_cited(out: Path) -> None:
    """AJCEP / JTEPA / JVEPA tables from scripts/rule_sources/<AGR>[-<version>].csv (+ .json
    manifest). A source table may carry the ANNOTATION columns; they are folded into each row's
    ``source`` so that the shipped table keeps the documented six columns."""
    srcdir = Path(__file__).resolve().parent / "rule_sources"
    for table in sorted(srcdir.glob("*.csv")):
        manifest = json.loads(table.with_suffix(".json").read_text(encoding="utf-8"))
        with table.open(encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            extra = set(reader.fieldnames or []) - {
                "agreement",
                "level",
                "code",
                "rule",
                "description",
                "source",
            }
            if extra and extra != set(ANNOTATION):
                raise SystemExit(f"{table.name}: unexpected columns {sorted(extra)}")
            rows = [
                [
                    r["agreement"],
                    r["level"],
                    r["code"],
                    " ".join(r["rule"].split()),
                    r["description"],
                    _cited_source(r),
                ]
                for r in reader
            ]
        _install_table(
            out / "schemas" / "origin" / manifest["agreement"], manifest["version"], rows, manifest
        )


def _install_table(directory: Path, version: str, rows: list[list[str]], manifest: dict) -> None:
    from documents.origin.rules import HEADER, parse_table

    path = directory / f"{version}.csv"
    _write_csv(path, HEADER, rows)
    # validate exactly as the runtime will (raises OriginInputError naming each bad row)
    table = parse_table(
        path.read_text(encoding="utf-8"),
        agreement=manifest["agreement"],
        version=version,
        hs_edition=manifest["hs_edition"],
        coverage=manifest["coverage"],
        source=str(path),
        general_rule=manifest.get("general_rule"),
        general_rule_codes=manifest.get("general_rule_codes"),
    )
    (directory / f"{version}.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"{manifest['agreement']} {version}: {len(table.rows)} rules")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", nargs="?", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(REPO))
    ap.add_argument("--only", choices=["hs", "rules"], default=None)
    args = ap.parse_args(argv)
    src, out = Path(args.source), Path(args.out)
    if args.only in (None, "hs"):
        build_hs(src, out)
    if args.only in (None, "rules"):
        build_rcep(src, out)
        build_cited(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
