"""`tradeledger consortium keys`: the consortium's keys as C2SP verifier keys (vkeys)."""

from __future__ import annotations

from pathlib import Path

import typer

from ledger.blocks import consortium_verifier_keys
from ledger.notes import ALG_COSIGNATURE_V1, ALG_ED25519
from nodes.cli.trusted import CONSORTIUM_OPTION, HOME_OPTION, trusted_consortium

app = typer.Typer(no_args_is_help=True)


@app.command("keys")
def keys_command(
    consortium: Path | None = CONSORTIUM_OPTION,
    home: Path | None = HOME_OPTION,
    cosigner: bool = typer.Option(
        False,
        "--cosigner",
        help="Print the tlog-cosignature/v1 (type 0x04) vkeys that check members' "
        "cosignatures, instead of the type-0x01 vkeys that check the proposer's signature.",
    ),
) -> None:
    """Print one verifier key (name+hex(key hash)+base64(type || public key)) per line for
    every key in the genesis, so that other signed-note software (Go's note.NewVerifier,
    witnesses) can check tradeledger checkpoints."""
    genesis = trusted_consortium(consortium, home)
    alg = ALG_COSIGNATURE_V1 if cosigner else ALG_ED25519
    for vkey in consortium_verifier_keys(genesis.membership, alg):
        typer.echo(vkey)
