"""A node asking its witnesses to cosign each new checkpoint (C2SP ``tlog-witness``, client side).

node.json lists the witnesses: ``"witnesses": [{"url": "http://…", "vkey": "name+id+key"}]``
(``url`` is the witness's submission prefix; ``name``, if given, must be the vkey's). After each
block the sequencer hands the height to :meth:`WitnessSubmitter.offer`, which only records it: a
background thread posts the newest checkpoint to every witness, with a consistency proof from
the size that witness last cosigned (learnt from its 409 answer when unknown), checks each
returned line against the witness's vkey and stores the valid ones beside the members'
signatures. A witness that is down or refuses costs a log line, never a submission.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ledger.blocks import Checkpoint, parse_decimal
from ledger.cosignature import CosignerKey, verify_cosignature_line
from ledger.errors import CheckpointInvalid, ConfigurationError, TradeLedgerError
from ledger.witnessing import format_add_checkpoint
from nodes.home import check_public_url

log = logging.getLogger("tradeledger.witness")

#: Long enough for a witness's fsync, short enough that a dead one does not hold up the next.
REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class ConfiguredWitness:
    url: str
    cosigner: CosignerKey


def parse_witnesses(value: object, source: str) -> list[ConfiguredWitness]:
    """node.json's ``witnesses`` list (absent: none)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigurationError(f"witnesses in {source} is not a list")
    witnesses: list[ConfiguredWitness] = []
    for n, item in enumerate(value):
        where = f"witnesses[{n}] in {source}"
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise ConfigurationError(f"{where} needs a url and a vkey")
        if not isinstance(item.get("vkey"), str):
            raise ConfigurationError(f"{where} needs a url and a vkey")
        try:
            cosigner = CosignerKey.from_vkey(item["vkey"])
        except TradeLedgerError as exc:
            raise ConfigurationError(f"{where}: {exc.detail}") from exc
        if item.get("name") not in (None, cosigner.name):
            raise ConfigurationError(f"{where}: name is not the name in its vkey")
        witnesses.append(ConfiguredWitness(check_public_url(item["url"], where), cosigner))
    return witnesses


class WitnessSubmitter:
    """The background thread sending checkpoints to witnesses and keeping their cosignatures."""

    def __init__(
        self,
        witnesses: Sequence[ConfiguredWitness],
        *,
        checkpoint_text: Callable[[int], str],
        height_of_size: Callable[[int], int | None],
        consistency: Callable[[int, int], list[bytes]],
        store_cosignature: Callable[[int, str, str], None],
    ) -> None:
        self.witnesses = list(witnesses)
        self._checkpoint_text = checkpoint_text
        self._height_of_size = height_of_size
        self._consistency = consistency
        self._store_cosignature = store_cosignature
        # the size each witness last cosigned, as far as this node knows (None: ask it)
        self._cosigned_size: dict[str, int | None] = {w.cosigner.vkey(): None for w in witnesses}
        self._wanted = 0
        self._done = 0
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="witness-submitter", daemon=True)
        self._client = httpx.Client(timeout=REQUEST_TIMEOUT)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout=2 * REQUEST_TIMEOUT)
        self._client.close()

    def offer(self, height: int) -> None:
        """A new block is stored: witness its checkpoint soon (only the newest one matters)."""
        with self._wake:
            self._wanted = max(self._wanted, height)
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and self._wanted <= self._done:
                    self._wake.wait()
                if self._stopping:
                    return
                height = self._wanted
            for witness in self.witnesses:
                try:
                    self._submit(witness, height)
                except Exception:  # a witness's failure must never stop the node's thread
                    log.warning(
                        "witness submission failed",
                        exc_info=True,
                        extra={"witness": witness.url, "height": height},
                    )
            self._done = height

    def _submit(self, witness: ConfiguredWitness, height: int) -> None:
        note = self._checkpoint_text(height)
        checkpoint = Checkpoint.from_text(note)
        vkey = witness.cosigner.vkey()
        old = self._cosigned_size.get(vkey)
        # Unknown state: ask with size 0; a witness that cosigned before answers 409 with its size.
        for _ in range(2):
            answer = self._post(witness, old or 0, checkpoint.tree_size, note)
            if answer.status_code == 409:
                old = _size_of(answer.text)
                if old is None or old > checkpoint.tree_size or self._height_of_size(old) is None:
                    log.warning(
                        "witness holds a size this node cannot prove from",
                        extra={"witness": witness.url, "size": answer.text[:40]},
                    )
                    return
                continue
            if answer.status_code != 200:
                log.warning(
                    "witness refused the checkpoint",
                    extra={"witness": witness.url, "status": answer.status_code, "height": height},
                )
                return
            self._keep(witness, height, checkpoint.body, answer.text)
            self._cosigned_size[vkey] = checkpoint.tree_size
            return

    def _post(self, witness: ConfiguredWitness, old: int, size: int, note: str) -> Any:
        proof = self._consistency(old, size) if 0 < old < size else []
        body = format_add_checkpoint(old, proof, note)
        return self._client.post(witness.url + "/add-checkpoint", content=body)

    def _keep(self, witness: ConfiguredWitness, height: int, body: str, text: str) -> None:
        cosigner = witness.cosigner
        for line in text.splitlines(keepends=True):
            # only a valid cosignature by the key configured for this witness is kept
            if verify_cosignature_line(body, line, cosigner.name, cosigner.public_key) is not None:
                self._store_cosignature(
                    height, cosigner.name, line if line.endswith("\n") else line + "\n"
                )


def _size_of(text: str) -> int | None:
    """The tree size a witness's 409 answer names, spelled as a checkpoint's size line must be
    (``str.isdigit`` also takes fullwidth and Arabic-Indic digits); None if it is not one."""
    try:
        return parse_decimal(text.strip(), "size")
    except CheckpointInvalid:
        return None
