"""The node's in-process sequencer: a durable journal in front of block cutting.

A submission's life, in the order that makes "nothing acknowledged is ever lost" true:

1. :meth:`Sequencer.submit` checks the entry against the chain and queues it for the next block
   (:meth:`nodes.writer.LedgerWriter.offer`: signatures, role policy, duplicates, refs,
   timestamps) — a refused entry is answered at once and never journaled;
2. the journal thread writes every queued entry to the ``node_journal`` table, many submissions
   per transaction (group commit: one fsync for all that arrived while the last one ran), and
   only then wakes the submitters — that is the acknowledgement;
3. the block thread cuts a block through the writer every ``interval`` seconds or as soon as
   ``max_entries`` are waiting, stores it durably, hands it to ``on_block`` (the node's index)
   and deletes its entries from the journal.

The journal acknowledges faster than blocks are written and indexed, so without a bound the
entries waiting for a block could grow for as long as submissions outpace the block thread
(memory, and "in a block within ``interval``" lost). :meth:`Sequencer.room` says how many more
may wait (``max_backlog``); the HTTP layer holds submissions while there is none
(``api.admission``) and is told after each cut (:meth:`Sequencer.add_cut_listener`).

On start-up, entries still in the journal (acknowledged but not in a block when the node
stopped) are offered again, in journal order, before anything new; ones that reached a block
after all are recognised as duplicates and dropped.

With SQLite the journal lives in its own database file beside the ledger's, so journal commits
never wait for a block write (SQLite has one writer per file); with PostgreSQL it is a table of
the ledger's database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import Engine

from ledger.chain import BlockSummary, CheckedEntry
from ledger.entries import Entry, parse_entry
from ledger.errors import DuplicateEntry, StorageError, TradeLedgerError
from ledger.timefmt import format_time, now
from nodes.writer import LedgerWriter, entry_of

log = logging.getLogger("tradeledger.sequencer")

journal_metadata = MetaData()
journal_table = Table(
    "node_journal",
    journal_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("entry_hash", LargeBinary, nullable=False, unique=True),
    Column("envelope", LargeBinary, nullable=False),
    Column("payload", LargeBinary, nullable=True),
    Column("received", String, nullable=False),
)


#: Hashes per DELETE statement (SQLite's default limit is 32,766 variables).
_DELETE_CHUNK = 500


class Journal:
    """Acknowledged entries that are not in a block yet (``node_journal``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"  # SQLite, psycopg
        self._insert = (
            "INSERT INTO node_journal (entry_hash, envelope, payload, received) VALUES "
            f"({', '.join([self._marker] * 4)})"
        )
        self._writer: Any = None  # the DB-API connection append() keeps (one writer thread)

    @classmethod
    def beside(cls, ledger_url: str, ledger_engine: Engine) -> Journal:
        """The journal for a ledger: its own SQLite file beside an SQLite ledger, else a table
        of the ledger's own database."""
        if ledger_url.startswith("sqlite:///"):
            path = Path(ledger_url.removeprefix("sqlite:///"))
            engine = sa_create_engine(
                f"sqlite:///{path.with_name(path.stem + '-journal.db')}",
                connect_args={"check_same_thread": False, "timeout": 30},
            )
            event.listen(engine, "connect", _sqlite_durable)
            return cls(engine)
        return cls(ledger_engine)

    def create_schema(self) -> None:
        journal_metadata.create_all(self.engine)

    def append(self, entries: list[Entry], remove: list[bytes] | None = None) -> None:
        """Write ``entries`` (and delete the ``remove`` hashes) in one durable transaction.

        This is every acknowledgement's path, so it runs on a DB-API connection it keeps, with
        one prepared INSERT for all rows: going through SQLAlchemy (pool checkout, a compiled
        statement, transaction objects) cost more interpreter time than writing the rows.
        One writer at a time: the journal thread, or recovery and stop while it is not running.
        """
        received = format_time(now())
        conn = self._writer
        if conn is None:
            conn = self._writer = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            for start in range(0, len(remove or ()), _DELETE_CHUNK):
                chunk = (remove or [])[start : start + _DELETE_CHUNK]
                cursor.execute(
                    "DELETE FROM node_journal WHERE entry_hash IN "
                    f"({', '.join([self._marker] * len(chunk))})",
                    chunk,
                )
            if entries:
                cursor.executemany(
                    self._insert,
                    [(e.entry_hash, e.envelope, e.payload, received) for e in entries],
                )
            cursor.close()
            conn.commit()
        except Exception:
            self._writer = None
            try:
                conn.rollback()
                conn.close()
            except Exception:  # the connection is already gone; the error below says why
                pass
            raise

    def remove(self, hashes: list[bytes]) -> None:
        """Delete the entries a block now holds (recovery and stop, with no journal thread)."""
        if hashes:
            self.append([], hashes)

    def pending(self) -> list[Entry]:
        """Journaled entries in the order they were acknowledged."""
        with self.engine.connect() as conn:
            rows = conn.execute(journal_table.select().order_by(journal_table.c.seq)).all()
        return [
            parse_entry(bytes(r.envelope), None if r.payload is None else bytes(r.payload))
            for r in rows
        ]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(journal_table.select()).all())

    def dispose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.engine.dispose()


def _sqlite_durable(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


@dataclass
class _Ticket:
    entry: Entry
    on_done: Callable[[TradeLedgerError | None], None] | None = None


class Sequencer:
    """Journal thread + block thread around one :class:`LedgerWriter`."""

    def __init__(
        self,
        writer: LedgerWriter,
        journal: Journal,
        on_block: Callable[[BlockSummary], None],
        *,
        interval: float = 0.2,
        max_entries: int = 500,
        max_backlog: int | None = None,
        ack_timeout: float = 30.0,
        admission_timeout: float = 10.0,
    ) -> None:
        self.writer = writer
        self.journal = journal
        self.on_block = on_block
        self.interval = interval
        self.max_entries = max_entries
        #: entries that may wait for a block (default: one full block waiting while another is
        #: written, so the block thread always has a full block ready)
        self.max_backlog = max(max_backlog or max_entries, max_entries)
        self.ack_timeout = ack_timeout
        #: how long a submission may wait for room in the backlog before it is refused
        self.admission_timeout = admission_timeout
        self._cut_listeners: list[Callable[[], None]] = []
        self._submit_lock = threading.Lock()  # offer + enqueue in one order
        self._journal_cv = threading.Condition()
        self._queue: list[_Ticket] = []
        self._done_hashes: list[bytes] = []  # in a block: to delete from the journal
        self._block_cv = threading.Condition()
        self._oldest_pending: float | None = None
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.blocks_cut = 0

    # -- lifecycle --------------------------------------------------------------------------

    def recover(self) -> int:
        """Offer again what the journal holds (before :meth:`start`); return how many."""
        entries = self.journal.pending()
        stale: list[bytes] = []
        offered = 0
        for entry in entries:
            try:
                # Without the admission margin: all of them go into the next block (below),
                # whose predecessor is the head they are checked against here.
                self.writer.offer(entry, margin=timedelta(0))
                offered += 1
            except DuplicateEntry:
                stale.append(entry.entry_hash)  # it reached a block before the stop
            except TradeLedgerError as exc:  # cannot happen for an entry once accepted
                log.error(
                    "journal entry refused on recovery",
                    extra={"entry_hash": entry.hash_hex, "reason": exc.code},
                )
                stale.append(entry.entry_hash)
        self.journal.remove(stale)
        # One block, however many: a second one's predecessor would be the first, cut now,
        # perhaps long after they were signed, and the backdating rule counts from its time.
        if self.writer.pending_count():
            self._cut(self.writer.pending_count())
        with self._journal_cv:
            done, self._done_hashes = self._done_hashes, []
        self.journal.remove(done)
        return offered

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._journal_loop, name="tl-journal", daemon=True),
            threading.Thread(target=self._block_loop, name="tl-blocks", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Acknowledge what is queued, cut the last blocks, and stop both threads."""
        self._stopping = True
        with self._journal_cv:
            self._journal_cv.notify_all()
        with self._block_cv:
            self._block_cv.notify_all()
        for t in self._threads:
            t.join(timeout=60)
        while self.writer.pending_count():
            self._cut()
        with self._journal_cv:
            done, self._done_hashes = self._done_hashes, []
        self.journal.remove(done)

    # -- submitting -------------------------------------------------------------------------

    def enqueue(
        self,
        entry: Entry | CheckedEntry,
        on_done: Callable[[TradeLedgerError | None], None] | None = None,
    ) -> None:
        """Check ``entry`` and queue it for the journal without waiting; ``on_done`` is called
        (on the journal thread) once it is durable, with the error if it could not be. (A
        :class:`CheckedEntry` names signatures known good: see ``LedgerWriter.check``.)"""
        self._check_and_queue([_Ticket(entry_of(entry), on_done)], lambda: self.writer.offer(entry))

    def enqueue_all(
        self,
        entries: list[Entry | CheckedEntry],
        on_done: Callable[[TradeLedgerError | None], None] | None = None,
    ) -> None:
        """Check ``entries`` and queue them for the journal as one unit: all are refused or
        all are queued, and they are written in the same journal transaction (the journal
        thread takes the whole queue at once), so they are acknowledged together. ``on_done`` is
        called once, for the unit."""
        tickets = [_Ticket(entry_of(e)) for e in entries]
        tickets[-1].on_done = on_done
        self._check_and_queue(tickets, lambda: self.writer.offer_all(entries))

    def _check_and_queue(self, tickets: list[_Ticket], offer: Callable[[], object]) -> None:
        """Offer to the writer (which raises DuplicateEntry, SignatureInvalid, …) and queue the
        tickets for the journal under one lock, so that the journal's order is the chain's."""
        if self._stopping:
            raise StorageError("the node is shutting down")
        with self._submit_lock:
            offer()
            with self._journal_cv:
                self._queue.extend(tickets)
                self._journal_cv.notify()
        with self._block_cv:
            if self._oldest_pending is None:
                self._oldest_pending = time.monotonic()
            if self.writer.pending_count() >= self.max_entries:
                self._block_cv.notify()

    def pending_count(self) -> int:
        return self.writer.pending_count()

    def room(self) -> int:
        """How many more entries may wait for a block now (0 when the backlog is full)."""
        return max(0, self.max_backlog - self.writer.pending_count())

    def add_cut_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the block thread) after each block is cut: there is room."""
        self._cut_listeners.append(listener)

    def remove_cut_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._cut_listeners:
            self._cut_listeners.remove(listener)

    # -- threads ------------------------------------------------------------------------------

    def _journal_loop(self) -> None:
        while True:
            # The journal thread is the journal's only writer (SQLite has one writer per file;
            # a second one would wait in SQLite's busy handler): it also deletes what reached
            # a block, in the same transaction as the next appends.
            with self._journal_cv:
                while not self._queue and not self._done_hashes and not self._stopping:
                    self._journal_cv.wait()
                batch, self._queue = self._queue, []
                done, self._done_hashes = self._done_hashes, []
            if not batch and not done:
                return  # stopping and nothing left
            error: TradeLedgerError | None = None
            try:
                self.journal.append([t.entry for t in batch], done)
            except Exception as exc:
                log.error("journal commit failed", extra={"error": str(exc)})
                error = StorageError(f"the journal commit failed: {exc}")
            for t in batch:
                if t.on_done is not None:
                    try:
                        t.on_done(error)
                    except Exception as exc:  # a caller's callback must not stop the journal
                        log.error("acknowledgement callback failed", extra={"error": str(exc)})

    def _block_loop(self) -> None:
        while True:
            with self._block_cv:
                while True:
                    if self._stopping:
                        break
                    pending = self.writer.pending_count()
                    if pending >= self.max_entries:
                        break
                    if pending and self._oldest_pending is not None:
                        wait = self._oldest_pending + self.interval - time.monotonic()
                        if wait <= 0:
                            break
                    else:
                        wait = self.interval
                    self._block_cv.wait(wait)
            if self._stopping:
                return  # stop() cuts the rest once the journal thread has drained
            try:
                self._cut()
            except Exception as exc:
                log.error("block cut failed; will retry", extra={"error": str(exc)})
                time.sleep(self.interval)

    def _cut(self, max_entries: int | None = None) -> None:
        started = time.monotonic()
        summary = self.writer.cut_block(max_entries or self.max_entries)
        with self._block_cv:
            self._oldest_pending = time.monotonic() if self.writer.pending_count() else None
        if summary is None:
            return
        self.blocks_cut += 1
        stored = time.monotonic()
        for listener in list(self._cut_listeners):
            try:
                listener()
            except Exception as exc:  # a listener must not stop blocks being cut
                log.error("cut listener failed", extra={"error": str(exc)})
        try:
            self.on_block(summary)
        except Exception as exc:  # the block is stored; the index catches up on restart
            log.error(
                "indexing block failed",
                extra={"height": summary.header.height, "error": str(exc)},
            )
        with self._journal_cv:
            self._done_hashes.extend(e.entry_hash for e in summary.entries)
            self._journal_cv.notify()
        log.info(
            "block",
            extra={
                "height": summary.header.height,
                "entries": summary.header.entry_count,
                "tree_size": summary.header.tree_size,
                "store_ms": round((stored - started) * 1000, 1),
                "total_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
