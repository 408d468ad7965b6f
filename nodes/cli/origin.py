"""`tradeledger origin …` commands: check, advise, rules load (docs/origin-formats.md).

Exit codes: ``check`` 0 when a determination was made (either verdict), 1 invalid input, 3 no
rule data for the product; ``advise`` 0/1; ``rules load`` 0 loaded, 1 invalid table (each bad
row named on stderr). Errors are :class:`ledger.errors.TradeLedgerError`s, printed and mapped
to exit codes by the root group in :mod:`nodes.cli.main`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ledger.errors import OriginInputError, TradeLedgerError
from nodes.home import DEFAULT_HOME

# The engine (pydantic models, HS tables) is imported by the commands that use it, so that the
# CLI's other commands start quickly.
if TYPE_CHECKING:
    from documents.origin.advisor import Advice
    from documents.origin.bom import Bom
    from documents.origin.evaluate import Determination

F = TypeVar("F", bound=Callable[..., Any])


def _exits(func: F) -> F:
    """Print a TradeLedgerError as its one line and exit with its code, from the command itself
    (the same contract as the root group's handler, independent of the click flavour)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TradeLedgerError as exc:
            typer.echo(exc.one_line(), err=True)
            raise typer.Exit(exc.exit_code) from exc

    return wrapper  # type: ignore[return-value]


app = typer.Typer(no_args_is_help=True, help="Rules-of-origin determinations.")
rules_app = typer.Typer(no_args_is_help=True, help="Product-specific-rule tables.")
app.add_typer(rules_app, name="rules")


def _read_bom(path: Path) -> Bom:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OriginInputError(
            f"cannot read the bill of materials {path}: {exc.strerror or exc}"
        ) from exc
    from documents.origin.bom import parse_bom

    return parse_bom(data)


def _print_json(body: Any) -> None:
    typer.echo(json.dumps(body, indent=2, ensure_ascii=False))


def _show_determination(det: Determination, console: Console) -> None:
    j = det.to_json()
    verdict = {
        "originating": "[bold green]ORIGINATING[/]",
        "not-originating": "[bold red]NOT ORIGINATING[/]",
        "needs-decision": "[bold yellow]NEEDS A DECISION[/]",
    }[det.verdict]
    console.print(
        f"{det.agreement} — {det.product_hs_edition} {det.product_hs}"
        + (
            f" → {det.hs_edition} {det.mapped_product_hs}"
            if det.mapped_product_hs and det.mapped_product_hs != det.product_hs
            else ""
        )
        + f": {verdict}"
    )
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row(
        "rule",
        f"{det.rule or '—'}" + (f"  ({det.rule_level} {det.rule_code})" if det.rule_code else ""),
    )
    table.add_row("criterion", ", ".join(det.criteria) or "—")
    table.add_row(
        "RVC",
        (f"{j['rvc_percent']} % build-down" if j["rvc_percent"] else "—")
        + (f", {j['rvc_build_up_percent']} % build-up" if j["rvc_build_up_percent"] else "")
        + (f" (threshold {j['rvc_threshold']} %)" if j["rvc_threshold"] else ""),
    )
    table.add_row("rule table", f"{det.agreement} {det.rules_version}")
    from documents.origin.evaluate import determination_digest

    table.add_row("digest", determination_digest(det))
    console.print(table)
    console.print("Reasons:")
    for r in det.reasons:
        console.print(f"  • {r}", highlight=False, markup=False)


@app.command("check")
@_exits
def check(
    agreement: str = typer.Option(..., "--agreement", help="RCEP, AJCEP, JTEPA, JVEPA."),
    product: str = typer.Option(..., "--product", help="The good's 6-digit HS code."),
    bom: Path = typer.Option(..., "--bom", help="The bill of materials (JSON)."),
    json_out: bool = typer.Option(False, "--json", help="Print the determination JSON."),
    home: Path = typer.Option(
        DEFAULT_HOME, "--home", help="Node home whose installed rule tables take precedence."
    ),
) -> None:
    """Decide whether a good originates under AGREEMENT from its bill of materials."""
    from documents.origin.agreements import get_profile
    from documents.origin.evaluate import determine

    profile = get_profile(agreement)
    det = determine(profile.code, product, _read_bom(bom), home=home)
    if json_out:
        _print_json(det.to_json())
    else:
        _show_determination(det, Console())


def _show_advice(advice: Advice, console: Console) -> None:
    console.print(
        f"Product {advice.product_hs}, {advice.exporting_country} → "
        f"{advice.importing_country}, on {advice.on}"
    )
    table = Table("agreement", "qualifies", "why", show_lines=False)
    for r in advice.results:
        mark = ("[green]yes[/]" if r.qualifies else "[red]no[/]") if r.in_force else "n/a"
        table.add_row(r.agreement, mark, r.summary)
    console.print(table)
    if advice.qualifies_under:
        console.print("Qualifies under: " + ", ".join(advice.qualifies_under))
    else:
        console.print("Qualifies under no agreement in force between these countries.")


@app.command("advise")
@_exits
def advise_command(
    product: str = typer.Option(..., "--product", help="The good's 6-digit HS code."),
    bom: Path = typer.Option(..., "--bom", help="The bill of materials (JSON)."),
    json_out: bool = typer.Option(False, "--json", help="Print the advice as JSON."),
    home: Path = typer.Option(
        DEFAULT_HOME, "--home", help="Node home whose installed rule tables take precedence."
    ),
) -> None:
    """List, per agreement in force between the BOM's countries, whether the good qualifies."""
    from documents.origin.advisor import advise

    advice = advise(product, _read_bom(bom), home=home)
    if json_out:
        _print_json(advice.to_json())
    else:
        _show_advice(advice, Console())


@rules_app.command("load")
@_exits
def rules_load(
    file: Path = typer.Argument(..., help="The rule table (CSV, see docs/origin-rules.md)."),
    agreement: str = typer.Option(..., "--agreement", help="RCEP, AJCEP, JTEPA, JVEPA."),
    home: Path = typer.Option(DEFAULT_HOME, "--home", help="Node home to install into."),
    hs_edition: str | None = typer.Option(
        None, "--hs-edition", help="HS edition of the table's codes (default: the agreement's)."
    ),
    version: str | None = typer.Option(
        None, "--version", help="Version to install as (YEAR.N; default: the next one)."
    ),
) -> None:
    """Validate a product-specific-rules table and install it as a new version."""
    from documents.origin.agreements import get_profile
    from documents.origin.rules import RuleTableInvalid, install_table

    profile = get_profile(agreement)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OriginInputError(f"cannot read the rule table {file}: {exc}") from exc
    try:
        table = install_table(
            profile.code,
            text,
            home,
            hs_edition=hs_edition or profile.hs_edition,
            version=version,
            source=str(file),
        )
    except RuleTableInvalid as exc:
        for e in exc.errors:
            typer.echo(f"{file}: {e['location']}: {e['message']}", err=True)
        raise
    covered = {
        s: sum(1 for c in table.coverage.values() if c["status"] == s) for s in ("full", "partial")
    }
    typer.echo(
        f"installed {profile.code} rule table {table.version} ({len(table.rows)} rows, "
        f"{table.hs_edition}; chapters full {covered['full']}, partial "
        f"{covered['partial']}) in {home / 'origin-rules' / profile.code}"
    )
