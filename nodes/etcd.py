"""A small client for etcd's v3 JSON gateway (``/v3/...``), over httpx.

etcd is the consortium's ordering engine (Raft: a write is acknowledged once a majority of its
members has it on disk). tradeledger needs a handful of its calls — put, transaction, counting
range, compaction, lease grant/keep-alive/revoke, and the watch stream — so it talks to the
gateway every etcd ≥ 3.4 serves on its client URL, with the HTTP client the project already
uses, instead of a gRPC stack. Keys and values travel base64-encoded; revisions as decimal
strings (the gateway's proto3 JSON mapping of int64).

Fail-over: every call tries the members in turn, starting with the last one that answered. A
write that timed out may still have been committed; the callers make their writes safe to
repeat (an entry written twice is recognised as a duplicate by every node alike).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from ledger.errors import StorageError

log = logging.getLogger("tradeledger.etcd")


class EtcdUnavailable(StorageError):
    """No etcd member answered, or none could commit (no Raft majority): nothing was written
    as far as this node knows."""

    code = "ordering-unavailable"
    title = "The ordering service is unavailable"


class WatchCompacted(StorageError):
    """The history a watch asked for was compacted away: catch up from peers instead."""

    code = "ordering-compacted"
    title = "The ordering history was compacted"

    def __init__(self, detail: str, *, compact_revision: int) -> None:
        super().__init__(detail)
        self.compact_revision = compact_revision


@dataclass(frozen=True)
class KeyValue:
    key: bytes
    value: bytes
    mod_revision: int
    create_revision: int
    lease: int


@dataclass(frozen=True)
class WatchEvent:
    kind: str  # "PUT" or "DELETE"
    kv: KeyValue


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes:
    return base64.b64decode(text or "")


def prefix_end(prefix: bytes) -> bytes:
    """The range end that selects every key starting with ``prefix`` (etcd's convention)."""
    end = bytearray(prefix)
    for i in reversed(range(len(end))):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"


def _kv(data: dict[str, Any]) -> KeyValue:
    return KeyValue(
        key=_unb64(data.get("key")),
        value=_unb64(data.get("value")),
        mod_revision=int(data.get("mod_revision", 0)),
        create_revision=int(data.get("create_revision", 0)),
        lease=int(data.get("lease", 0)),
    )


class EtcdClient:
    """Calls to one etcd cluster, failing over between its members' client URLs."""

    def __init__(self, endpoints: list[str], *, timeout: float = 5.0) -> None:
        if not endpoints:
            raise StorageError("no etcd endpoints configured")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout = timeout
        self._preferred = 0
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=timeout)
        self._watch_response: httpx.Response | None = None

    def close(self) -> None:
        """Close the connections, and end a watch stream another thread is reading."""
        response = self._watch_response
        if response is not None:
            # Closing the response does not wake a thread blocked reading its socket; shutting
            # the socket down does.
            with contextlib.suppress(Exception):
                stream = response.extensions["network_stream"]
                stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        self._http.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _order(self) -> list[int]:
        with self._lock:
            first = self._preferred
        n = len(self.endpoints)
        return [(first + i) % n for i in range(n)]

    def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        errors: list[str] = []
        for i in self._order():
            url = self.endpoints[i] + path
            try:
                response = self._http.post(url, json=body)
            except httpx.HTTPError as exc:
                errors.append(f"{self.endpoints[i]}: {type(exc).__name__}")
                continue
            if response.status_code == 200:
                with self._lock:
                    self._preferred = i
                data: dict[str, Any] = response.json()
                return data
            # etcd answers 5xx/503-ish JSON errors when it has no leader or times out
            # committing; a 4xx is our own mistake and no other member will say otherwise.
            message = _error_message(response)
            if response.status_code < 500 and "leader" not in message:
                raise StorageError(f"etcd refused {path}: {message}")
            errors.append(f"{self.endpoints[i]}: {message}")
        raise EtcdUnavailable("no etcd member could answer (" + "; ".join(errors) + ")")

    # -- key-value --------------------------------------------------------------------------

    def put(self, key: bytes, value: bytes, *, lease: int = 0) -> int:
        """Write ``key``; return the revision it was committed at."""
        body: dict[str, Any] = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(lease)
        return int(self._call("/v3/kv/put", body)["header"]["revision"])

    def count_changed(self, prefix: bytes, since_revision: int) -> int:
        """How many keys under ``prefix`` were written after ``since_revision``."""
        body = {
            "key": _b64(prefix),
            "range_end": _b64(prefix_end(prefix)),
            "count_only": True,
            "min_mod_revision": str(since_revision + 1),
            "serializable": True,  # the member's own view: a hint, not a decision
        }
        return int(self._call("/v3/kv/range", body).get("count", 0))

    def put_if(
        self,
        key: bytes,
        value: bytes,
        *,
        create_revision: int,
        lease: int = 0,
        compare_key: bytes | None = None,
    ) -> tuple[bool, int]:
        """Put ``key`` only if ``compare_key`` (default: ``key`` itself) has the create revision
        ``create_revision`` (0: it does not exist), in one transaction; return (succeeded, the
        revision the transaction was answered at — on success the put's own revision)."""
        put: dict[str, Any] = {"key": _b64(key), "value": _b64(value)}
        if lease:
            put["lease"] = str(lease)
        body = {
            "compare": [
                {
                    "key": _b64(key if compare_key is None else compare_key),
                    "target": "CREATE",
                    "result": "EQUAL",
                    "create_revision": str(create_revision),
                }
            ],
            "success": [{"request_put": put}],
        }
        data = self._call("/v3/kv/txn", body)
        return bool(data.get("succeeded")), int(data["header"]["revision"])

    def compact(self, revision: int) -> None:
        """Drop the history before ``revision`` (already compacted: nothing to do)."""
        try:
            self._call("/v3/kv/compaction", {"revision": str(revision)})
        except StorageError as exc:
            if "compacted" not in exc.detail:
                raise

    # -- leases -----------------------------------------------------------------------------

    def lease_grant(self, ttl: int) -> int:
        return int(self._call("/v3/lease/grant", {"TTL": str(ttl)})["ID"])

    def lease_keepalive(self, lease: int) -> int:
        """Renew ``lease``; return its remaining TTL (0 or less: it has expired)."""
        data = self._call("/v3/lease/keepalive", {"ID": str(lease)})
        return int(data.get("result", {}).get("TTL", 0))

    def lease_revoke(self, lease: int) -> None:
        with contextlib.suppress(StorageError):  # it expires by itself anyway
            self._call("/v3/lease/revoke", {"ID": str(lease)})

    # -- watching ---------------------------------------------------------------------------

    def watch(
        self, prefix: bytes, start_revision: int, *, stop: threading.Event
    ) -> Iterator[list[WatchEvent]]:
        """Every change under ``prefix`` from ``start_revision`` on, in revision order, one
        list per etcd response; reconnects to another member when a stream breaks, resuming
        after the last revision delivered. Raises :class:`WatchCompacted` when that history is
        gone, and returns once ``stop`` is set."""
        next_revision = start_revision
        failures = 0
        while not stop.is_set():
            for i in self._order():
                if stop.is_set():
                    return
                try:
                    for events in self._watch_once(self.endpoints[i], prefix, next_revision, stop):
                        failures = 0
                        if events:
                            next_revision = events[-1].kv.mod_revision + 1
                            yield events
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning(
                        "etcd watch stream broke; trying another member",
                        extra={"endpoint": self.endpoints[i], "error": type(exc).__name__},
                    )
                    continue
            failures += 1
            stop.wait(min(0.1 * failures, 1.0))

    def _watch_once(
        self, endpoint: str, prefix: bytes, start_revision: int, stop: threading.Event
    ) -> Iterator[list[WatchEvent]]:
        body = {
            "create_request": {
                "key": _b64(prefix),
                "range_end": _b64(prefix_end(prefix)),
                "start_revision": str(start_revision),
                "progress_notify": True,
            }
        }
        # A quiet stream is normal: after 15 s without a byte it is opened again from the same
        # revision; the member's death (connection reset) ends the read at once.
        timeout = httpx.Timeout(self.timeout, read=15.0)
        with (
            httpx.Client(timeout=timeout) as http,
            http.stream("POST", endpoint + "/v3/watch", json=body) as response,
        ):
            self._watch_response = response
            if stop.is_set():
                return
            if response.status_code != 200:
                raise httpx.HTTPError(f"watch answered {response.status_code}")
            with self._lock:
                self._preferred = self.endpoints.index(endpoint)
            for line in _json_lines(response, stop):
                result = line.get("result", {})
                if result.get("compact_revision") and result.get("canceled"):
                    raise WatchCompacted(
                        f"etcd has compacted its history to revision "
                        f"{result['compact_revision']}; revision {start_revision} is gone",
                        compact_revision=int(result["compact_revision"]),
                    )
                if result.get("canceled"):
                    raise httpx.HTTPError("the watch was cancelled: " + str(result))
                events = [
                    WatchEvent(ev.get("type", "PUT"), _kv(ev.get("kv", {})))
                    for ev in result.get("events", [])
                ]
                yield events


def _json_lines(response: httpx.Response, stop: threading.Event) -> Iterator[dict[str, Any]]:
    buffer = b""
    try:
        for chunk in response.iter_raw():
            if stop.is_set():
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
    except httpx.ReadTimeout:
        # quiet for the read timeout: reconnect (from the same revision) and keep watching
        raise httpx.HTTPError("the watch stream was quiet too long") from None


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
        return str(data.get("message") or data.get("error") or data)
    except ValueError:
        return f"HTTP {response.status_code}"
