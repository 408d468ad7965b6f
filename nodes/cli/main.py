"""The ``tradeledger`` command line: one Typer app assembling each command group.

Commands raise :class:`ledger.errors.TradeLedgerError` for expected failures; the root group
prints the error's one line to stderr and exits with its exit code, so users never see a
traceback for a bad input (and tests driving the app see the same exit codes).
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from ledger.errors import TradeLedgerError
from nodes.cli import audit, consortium, doc, network, node, origin, pdf, proof, witness


class TradeLedgerGroup(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except TradeLedgerError as exc:
            typer.echo(exc.one_line(), err=True)
            raise typer.Exit(exc.exit_code) from exc


app = typer.Typer(
    name="tradeledger",
    cls=TradeLedgerGroup,
    help="A verifiable ledger for certificates of origin and customs declarations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
node.register(app)
app.add_typer(audit.app, name="audit", help="Verify the chain as an auditor.")
app.add_typer(doc.app, name="doc", help="Validate trade documents.")
pdf.register(doc.app)
app.add_typer(origin.app, name="origin", help="Rules-of-origin determinations.")
app.add_typer(proof.app, name="proof", help="Check proofs offline.")
app.add_typer(consortium.app, name="consortium", help="What the consortium file says.")
app.add_typer(network.app, name="network", help="Run a local multi-node consortium.")
app.add_typer(
    witness.app, name="witness", help="Witness other consortia's logs (C2SP tlog-witness)."
)


def main() -> None:
    try:
        app()
    except TradeLedgerError as exc:  # raised outside a command (e.g. while parsing options)
        print(exc.one_line(), file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
