"""Playing an attacker with write access to a node's database (tests only)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from ledger.chain import ChainState
from ledger.consortium import Consortium
from ledger.entries import Entry
from ledger.keys import SigningKey
from nodes.store import BlockRow, EntryRow, LedgerStore


def rewrite_entries(store: LedgerStore, transform: Callable[[list[dict]], list[dict]]) -> None:
    """Read every entry row, let ``transform`` change the list, write it back (renumbered)."""
    store.drop_append_only_triggers()
    with store.engine.begin() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    "SELECT idx, height, entry_hash, envelope, payload, type, subject "
                    "FROM ledger_entries ORDER BY idx"
                )
            )
        ]
        rows = transform(rows)
        conn.execute(text("DELETE FROM ledger_entries"))
        for i, row in enumerate(rows):
            row["idx"] = i
        conn.execute(EntryRow.__table__.insert(), rows)


def flip_byte(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def update_column(
    store: LedgerStore, table: str, key: str, key_value: int, column: str, value: object
) -> None:
    store.drop_append_only_triggers()
    with store.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k"), {"v": value, "k": key_value}
        )


def read_column(store: LedgerStore, table: str, key: str, key_value: int, column: str) -> object:
    with store.engine.connect() as conn:
        return conn.execute(
            text(f"SELECT {column} FROM {table} WHERE {key} = :k"), {"k": key_value}
        ).scalar()


def replayed_state(store: LedgerStore, consortium: Consortium) -> ChainState:
    state = ChainState.genesis(consortium)
    for raw in store.iter_blocks():
        state.apply_block(raw.header, raw.checkpoint, raw.entries)
    return state


def strip_entry_constraints(store: LedgerStore) -> None:
    """Rebuild ledger_entries without its unique index, as an attacker with the file could."""
    store.drop_append_only_triggers()
    with store.engine.begin() as conn:
        conn.execute(text("CREATE TABLE forged AS SELECT * FROM ledger_entries"))
        conn.execute(text("DROP TABLE ledger_entries"))
        conn.execute(text("ALTER TABLE forged RENAME TO ledger_entries"))


def append_forged_block(
    store: LedgerStore, consortium: Consortium, entries: list[Entry], proposer: str, key: SigningKey
) -> int:
    """Append a block that a malicious proposer built without checking its entries."""
    state = replayed_state(store, consortium)
    header, checkpoint = state.propose_block(entries, proposer, key, _later(state))
    from ledger.blocks import BlockHeader

    h = BlockHeader.from_bytes(header)
    with store.engine.begin() as conn:
        conn.execute(
            BlockRow.__table__.insert(),
            {
                "height": h.height,
                "block_hash": h.block_hash,
                "header": header,
                "checkpoint": checkpoint,
                "first_index": h.first_index,
                "entry_count": h.entry_count,
            },
        )
        conn.execute(
            EntryRow.__table__.insert(),
            [
                {
                    "idx": h.first_index + i,
                    "height": h.height,
                    "entry_hash": e.entry_hash,
                    "envelope": e.envelope,
                    "payload": e.payload,
                    "type": e.type,
                    "subject": e.subject,
                }
                for i, e in enumerate(entries)
            ],
        )
    return h.height


def _later(state: ChainState):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from ledger.timefmt import parse_time

    return parse_time(state.head_time) + timedelta(seconds=1)
