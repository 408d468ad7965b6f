"""``tradeledger audit replay``: verify the whole chain from genesis."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from ledger.blocks import Checkpoint
from ledger.consortium import Consortium
from ledger.errors import ConfigurationError, TradeLedgerError, WitnessQuorumNotMet
from ledger.witnessing import check_witness_quorum, parse_witness_policy
from nodes.home import NodeHome

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from nodes.attest import StoreAttestation
    from nodes.audit import ReplayReport
    from nodes.store import RawBlock

app = typer.Typer(no_args_is_help=True)


@app.command("replay")
def replay_command(
    home: Path | None = typer.Option(None, "--home", help="A node home to read."),
    db: str | None = typer.Option(None, "--db", help="Database URL (with --genesis)."),
    genesis: Path | None = typer.Option(None, "--genesis", help="The consortium file to trust."),
    node: str | None = typer.Option(None, "--node", help="A node's URL to fetch blocks from."),
    token: str | None = typer.Option(
        None, "--token", envvar="TRADELEDGER_TOKEN", help="Bearer token for --node."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Write a JSON report here."),
    workers: int = typer.Option(0, "--workers", min=0, help="Processes (default: all cores)."),
    witness: list[str] = typer.Option(
        [], "--witness", help="A witness you trust (its vkey); repeat for more."
    ),
    witness_quorum: int | None = typer.Option(
        None,
        "--witness-quorum",
        min=0,
        help="How many --witness keys must have cosigned the head block's checkpoint (default 1).",
    ),
) -> None:
    """Verify every block link, signature, Merkle root and checkpoint from genesis."""
    # imported here so that the CLI's other commands start without SQLAlchemy
    from nodes.attest import StoreAttestation
    from nodes.audit import default_workers, replay
    from nodes.store import LedgerStore

    sources = [s for s in (home, db, node) if s is not None]
    if len(sources) != 1:
        raise typer.BadParameter("give exactly one of --home, --db (with --genesis) or --node")
    if db is not None and genesis is None:
        raise typer.BadParameter("--db needs --genesis FILE, the consortium file you trust")
    witnesses, needed = parse_witness_policy(witness, witness_quorum)
    workers = workers or default_workers()
    err = Console(stderr=True)
    close = None
    attest = None
    if home is not None:
        from nodes.witness_client import parse_witnesses

        node_home = NodeHome(home)
        consortium = node_home.consortium()
        store = LedgerStore(node_home.database_url())
        total, _ = store.head()
        blocks = store.iter_blocks()
        close = store.dispose
        # every stored row is checked too; witness lines by the node's own witnesses verify
        configured = parse_witnesses(
            node_home.settings().get("witnesses"), str(node_home.settings_file)
        )
        attest = StoreAttestation(
            store,
            consortium,
            node_home.consortium_file.read_bytes(),
            witnesses=[*witnesses, *(w.cosigner for w in configured)],
        )
    elif db is not None:
        assert genesis is not None
        consortium = _read_genesis(genesis)
        store = LedgerStore(db)
        total, _ = store.head()
        blocks = store.iter_blocks()
        close = store.dispose
        attest = StoreAttestation(store, consortium, genesis.read_bytes(), witnesses=witnesses)
    else:
        from nodes.remote import RemoteLedger

        assert node is not None
        remote = RemoteLedger(node, token)
        consortium = _read_genesis(genesis) if genesis else remote.consortium()
        if genesis is None:
            err.print(
                f"note: trusting the consortium file served by {node} "
                f"(hash {consortium.hash.hex()}); pass --genesis to check it against your own copy"
            )
        total = remote.height()
        blocks = remote.iter_blocks()
        close = remote.close
    # the witness policy applies to the head block's checkpoint, the last one replay reads
    head_checkpoint: list[str] = []

    def remembering(source: Iterable[RawBlock]) -> Iterator[RawBlock]:
        for raw in source:
            head_checkpoint[:] = [raw.checkpoint]
            yield raw

    blocks = remembering(blocks)
    try:
        if sys.stderr.isatty():
            report = _with_progress(consortium, blocks, workers, total, attest)
        else:
            report = replay(consortium, blocks, workers=workers, attest=attest)
    finally:
        close()
    if report.valid and needed:
        try:
            if not head_checkpoint:
                raise WitnessQuorumNotMet("the chain has no block, so no checkpoint was witnessed")
            check_witness_quorum(Checkpoint.from_text(head_checkpoint[0]), witnesses, needed)
        except TradeLedgerError as exc:
            report.valid = False
            report.failure = {"height": report.height, "reason": exc.code, "detail": exc.detail}
    if json_out is not None:
        try:
            json_out.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        except OSError as exc:
            raise ConfigurationError(f"cannot write the report to {json_out}: {exc}") from exc
    if report.valid:
        print(
            f"valid: {report.entries} entries in {report.blocks} blocks; height {report.height}, "
            f"tree size {report.tree_size}\nroot {report.root}\nhead {report.head_hash}\n"
            f"{report.entries_per_second:,.0f} entries/s with {report.workers} worker(s)"
        )
        raise typer.Exit(0)
    f = report.failure or {}
    where = f"block {f.get('height')}"
    if f.get("table"):
        where += f", {f['table']}"
    if f.get("entry_index") is not None:
        where += f", entry {f['entry_index']}"
    if f.get("entry_hash"):
        where += f" ({f['entry_hash']})"
    print(f"invalid: {where}: [{f.get('reason')}] {f.get('detail')}", file=sys.stderr)
    raise typer.Exit(1)


def _read_genesis(path: Path) -> Consortium:
    try:
        return Consortium.from_bytes(path.read_bytes())
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc


def _with_progress(
    consortium: Consortium,
    blocks: object,
    workers: int,
    total: int,
    attest: StoreAttestation | None,
) -> ReplayReport:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from nodes.audit import replay

    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task("replay", total=total or None, rate="")

        def on_block(r: ReplayReport) -> None:
            progress.update(task, completed=r.blocks, rate=f"{r.entries:,} entries")

        return replay(consortium, blocks, workers=workers, on_block=on_block, attest=attest)  # type: ignore[arg-type]
