"""`tradeledger proof verify`: check a node's answer offline (``ledger.proofs``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ledger.errors import TradeLedgerError
from ledger.proofs import ProofReport, parse_checkpoint, verify_response_bytes
from ledger.witnessing import check_witness_quorum, parse_witness_policy
from nodes.cli.trusted import CONSORTIUM_OPTION, HOME_OPTION, read_file, trusted_consortium

app = typer.Typer(no_args_is_help=True)


@app.command("verify")
def verify_command(
    response: Path = typer.Argument(
        ...,
        help="A saved provenance, inclusion-proof or POST /v1/verify response (JSON).",
    ),
    checkpoint: Path = typer.Option(
        ...,
        "--checkpoint",
        help="The checkpoint you trust: its signed-note text or the JSON of GET /v1/checkpoint.",
    ),
    consortium: Path | None = CONSORTIUM_OPTION,
    home: Path | None = HOME_OPTION,
    consistency: Path | None = typer.Option(
        None,
        "--consistency",
        help="A GET /v1/consistency-proof response, when the response's proofs are to another "
        "tree size than the checkpoint's.",
    ),
    witness: list[str] = typer.Option(
        [],
        "--witness",
        help="A witness you trust, as its vkey (name+keyid+base64); repeat for more.",
    ),
    witness_quorum: int | None = typer.Option(
        None,
        "--witness-quorum",
        min=0,
        help="How many of the --witness keys must have cosigned the checkpoint (default 1).",
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print the report as JSON: what was verified, what was proven and what was not "
        '(on failure {"verified": false, "error": {...}}).',
    ),
) -> None:
    """Check a node's response offline: checkpoint signatures, entry hashes and signatures,
    every inclusion proof, and that the entries are the document's. Says what it did not
    prove. Exit 0 verified, 1 not verified, 2 unreadable input."""
    genesis = trusted_consortium(consortium, home)
    witnesses, needed = parse_witness_policy(witness, witness_quorum)
    try:
        checkpoint_bytes = read_file(checkpoint, "checkpoint")
        report = verify_response_bytes(
            read_file(response, "response"),
            checkpoint_bytes,
            genesis.membership,
            None if consistency is None else read_file(consistency, "consistency proof"),
            require_status_proof=True,
        )
        # after the member quorum (checked above): the witnesses' cosignatures on the same
        # trusted checkpoint
        witnessed = check_witness_quorum(parse_checkpoint(checkpoint_bytes), witnesses, needed)
    except TradeLedgerError as exc:
        if as_json:  # a script reading stdout gets a verdict either way; stderr has the line
            error = {"code": exc.code, "detail": exc.detail}
            typer.echo(json.dumps({"verified": False, "error": error}, indent=2))
        raise
    if as_json:
        typer.echo(json.dumps({**report.to_json(), "witnessed_by": witnessed}, indent=2))
    else:
        typer.echo(_summary(report))
        if witnesses:
            typer.echo(f"witnessed: cosigned by {len(witnessed)} of {len(witnesses)} witnesses")


def _summary(report: ProofReport) -> str:
    about = f" of {report.document_id}" if report.document_id else ""
    via = (
        f" (proofs to tree size {report.proof_tree_size}, linked by a consistency proof)"
        if report.via_consistency
        else ""
    )
    lines = [
        f"verified: {report.kind}{about}: {len(report.entries)} entr"
        f"{'y' if len(report.entries) == 1 else 'ies'} in the log under checkpoint height "
        f"{report.height}, tree size {report.tree_size}, signed by {', '.join(report.signers)}"
        f"{via}"
    ]
    lines += [
        f"  leaf {e.leaf_index}  {e.timestamp}  {e.type:<32} {e.author:<24} {e.entry_hash}"
        for e in report.entries
    ]
    lines += [f"proven: {sentence}" for sentence in report.proven]
    lines += [f"not proven: {sentence}" for sentence in report.not_proven]
    return "\n".join(lines)
