"""``tradeledger audit replay``: verify the whole chain from genesis (or from a saved state);
``tradeledger audit watch``: follow a node's checkpoints and keep evidence of a split view."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from ledger.blocks import Checkpoint
from ledger.chain import ChainState, describe_failure
from ledger.consortium import Consortium
from ledger.errors import (
    ConfigurationError,
    IntegrityError,
    TradeLedgerError,
    WitnessQuorumNotMet,
)
from ledger.witnessing import check_witness_quorum, parse_witness_policy
from nodes.cli.trusted import CONSORTIUM_OPTION, HOME_OPTION, trusted_consortium
from nodes.home import NodeHome

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from nodes.attest import StoreAttestation
    from nodes.audit import ReplayReport
    from nodes.remote import RemoteLedger
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
    state_file: Path | None = typer.Option(
        None,
        "--state",
        help="Resume from the verified state in FILE (created on first use); verify only the "
        "new blocks and update FILE after a valid run.",
    ),
) -> None:
    """Verify every block link, signature, Merkle root and checkpoint from genesis."""
    # imported here so that the CLI's other commands start without SQLAlchemy
    from nodes import audit_state
    from nodes.attest import StoreAttestation
    from nodes.audit import ReplayReport, default_workers, replay
    from nodes.store import LedgerStore

    sources = [s for s in (home, db, node) if s is not None]
    if len(sources) != 1:
        raise typer.BadParameter("give exactly one of --home, --db (with --genesis) or --node")
    if db is not None and genesis is None:
        raise typer.BadParameter("--db needs --genesis FILE, the consortium file you trust")
    witnesses, needed = parse_witness_policy(witness, witness_quorum)
    workers = workers or default_workers()
    err = Console(stderr=True)
    source: LedgerStore | RemoteLedger
    attest: StoreAttestation | None = None
    if home is not None:
        from nodes.witness_client import parse_witnesses

        node_home = NodeHome(home)
        consortium = node_home.consortium()
        source = LedgerStore(node_home.database_url())
        total, _ = source.head()
        # every stored row is checked too; witness lines by the node's own witnesses verify
        configured = parse_witnesses(
            node_home.settings().get("witnesses"), str(node_home.settings_file)
        )
        attest = StoreAttestation(
            source,
            consortium,
            node_home.consortium_file.read_bytes(),
            witnesses=[*witnesses, *(w.cosigner for w in configured)],
        )
    elif db is not None:
        assert genesis is not None
        consortium = _read_genesis(genesis)
        source = LedgerStore(db)
        total, _ = source.head()
        attest = StoreAttestation(source, consortium, genesis.read_bytes(), witnesses=witnesses)
    else:
        from nodes.remote import RemoteLedger

        assert node is not None
        source = RemoteLedger(node, token)
        consortium = _read_genesis(genesis) if genesis else source.consortium()
        if genesis is None:
            err.print(
                f"note: trusting the consortium file served by {node} "
                f"(hash {consortium.hash.hex()}); pass --genesis to check it against your own copy"
            )
        total = source.height()
    # the witness policy applies to the head block's checkpoint, the last one replay reads
    head_checkpoint: list[str] = []

    def remembering(source: Iterable[RawBlock]) -> Iterator[RawBlock]:
        for raw in source:
            head_checkpoint[:] = [raw.checkpoint]
            yield raw

    state = None
    evidence_rows: list[dict[str, Any]] = []
    try:
        saved = None if state_file is None else audit_state.load(state_file, consortium)
        if saved is not None:
            state = saved.state
            err.print(f"resuming from height {state.height} (tree size {state.tree.size})")
            # A resumed audit verifies the new blocks and a consistency proof; the stored rows
            # beside them (index, derived columns) are attested by a full run from genesis.
            attest = None
        elif state_file is not None:
            state = ChainState.genesis(consortium)
        first_height = 0 if state is None else state.height
        first_size = 0 if state is None else state.tree.size
        first_root = None if state is None else state.tree.root()
        try:
            if saved is not None:
                resumed = audit_state.check_source(saved, source, total)
                if resumed is not None:
                    head_checkpoint[:] = [resumed]
        except IntegrityError as exc:
            report = ReplayReport(workers=workers, consortium_id=consortium.consortium_id)
            report.valid, report.failure = False, describe_failure(exc)
            report.height, report.tree_size = first_height, first_size
        else:
            blocks = remembering(source.iter_blocks(first_height + 1))
            todo = total - first_height
            if sys.stderr.isatty():
                report = _with_progress(consortium, blocks, workers, todo, state, attest)
            else:
                report = replay(consortium, blocks, workers=workers, state=state, attest=attest)
            if report.valid and state is not None and first_root is not None:
                try:
                    audit_state.check_consistency(
                        source, first_size, first_root, state.tree.size, state.tree.root()
                    )
                except IntegrityError as exc:
                    report.valid, report.failure = False, describe_failure(exc)
                    report.failure["height"] = state.height
    finally:
        if isinstance(source, LedgerStore):
            evidence_rows = source.evidence()
            source.dispose()
        else:
            source.close()
    if report.valid and needed:
        try:
            if not head_checkpoint:
                raise WitnessQuorumNotMet("the chain has no block, so no checkpoint was witnessed")
            check_witness_quorum(Checkpoint.from_text(head_checkpoint[0]), witnesses, needed)
        except TradeLedgerError as exc:
            report.valid = False
            report.failure = {"height": report.height, "reason": exc.code, "detail": exc.detail}
    if evidence_rows:
        from nodes.audit import verified_evidence

        report.evidence = verified_evidence(evidence_rows, consortium)
    if json_out is not None:
        data = report.to_dict()
        if state_file is not None:
            data["resumed_from"] = (
                None if saved is None else {"height": first_height, "tree_size": first_size}
            )
        try:
            json_out.write_text(json.dumps(data, indent=2) + "\n")
        except OSError as exc:
            raise ConfigurationError(f"cannot write the report to {json_out}: {exc}") from exc
    if report.valid:
        if state_file is not None:
            if state is None:
                raise AssertionError("a valid replay has a state")
            audit_state.save(state_file, state, head_checkpoint[0] if head_checkpoint else None)
        print(
            f"valid: {report.entries} entries in {report.blocks} blocks; height {report.height}, "
            f"tree size {report.tree_size}\nroot {report.root}\nhead {report.head_hash}\n"
            f"{report.entries_per_second:,.0f} entries/s with {report.workers} worker(s)"
        )
        if report.final_height < report.height:
            print(
                f"final through height {report.final_height}: blocks above it carry fewer than "
                f"the checkpoint quorum's cosignatures"
            )
        for e in report.evidence:
            print(
                f"evidence: {e['signer']} signed a different header for height {e['height']} "
                "(kept in node_evidence; see the JSON report)"
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


@app.command("watch")
def watch_command(
    node: str = typer.Option(..., "--node", help="The node's URL."),
    state_file: Path = typer.Option(
        ..., "--state", help="Where the last checkpoint seen is kept (created on first use)."
    ),
    consortium: Path | None = CONSORTIUM_OPTION,
    home: Path | None = HOME_OPTION,
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="TRADELEDGER_TOKEN",
        help="Bearer token of a member (the consistency proof is for members).",
    ),
    interval: float = typer.Option(
        60.0, "--interval", min=0.1, help="Seconds between polls (without --once)."
    ),
    once: bool = typer.Option(False, "--once", help="Poll once and exit."),
) -> None:
    """Poll a node's checkpoint, check each one for consistency with the last one seen, and
    keep any inconsistent pair as evidence. Exit 0 consistent (--once), 1 split view or
    invalid checkpoint, 2 usage or I/O error."""
    import time

    from api.client import NodeUnreachable, TradeLedgerClient
    from nodes.watch import poll

    trusted = trusted_consortium(consortium, home)
    with TradeLedgerClient(node, token) as client:
        while True:
            try:
                seen = poll(client, trusted, state_file)
            except NodeUnreachable as exc:
                if once:
                    raise
                print(f"{exc.one_line()} (retrying in {interval:g} s)", file=sys.stderr)
            else:
                cp = seen.checkpoint
                print(
                    f"{seen.status}: height {cp.height}, tree size {cp.tree_size}, "
                    f"root {cp.root_hash.hex()}",
                    flush=True,
                )
            if once:
                raise typer.Exit(0)
            time.sleep(interval)


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
    state: ChainState | None,
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

        return replay(  # type: ignore[arg-type]
            consortium, blocks, workers=workers, on_block=on_block, state=state, attest=attest
        )
