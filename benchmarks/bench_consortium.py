"""Benchmark of a local consortium: entries/s acknowledged, and latency to acknowledgement and to
a final (quorum-cosigned) checkpoint, on 3 and 4 nodes, with one node's figures from the same run.

    python benchmarks/bench_consortium.py [--nodes 3 4] [--seconds 10] [--connections 16]

For each setup it starts the processes (``tradeledger network up``'s code: a 3-member etcd
cluster and N nodes; or one ``tradeledger serve`` node with the embedded sequencer), then runs
the load generator in its own process: an asyncio HTTP/1.1 client on raw keep-alive sockets that
submits certificates of origin through node 0 (as the Japanese chamber of commerce) and import
declarations through node 1 (as Viet Nam customs) — through several nodes at once — in a closed
loop (each connection sends its next submission when the last is answered). Alongside, it polls
node 0's ``GET /v1/checkpoint`` every 10 ms and records when each tree size became final there.

Figures per setup: acknowledged entries/s; acknowledgement latency p50/p99 (submission to 201);
finality latency p50/p99 (submission to the first final checkpoint covering the entry, read from
the polls, ±10 ms), over every acknowledged entry (leaf indexes fetched after the run).
Target (issue 14): 3 nodes >= 1,000 entries/s acknowledged with p99 < 1 s to a final checkpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# --- the load generator (its own process) -----------------------------------------------------


def _template(path: str, event: str, token: str, items: bool) -> tuple[bytes, bytes, bytes]:
    doc = json.loads((ROOT / "examples/documents" / path).read_text())
    if items:
        doc["items"] = doc["items"][:3]
    if "co_reference" in doc:  # a declaration on its own: no preference claimed
        doc.pop("co_reference")
        doc["preference_claimed"] = False
    marker = "NUMBER-PLACEHOLDER"
    before, after = json.dumps(dict(doc, number=marker)).encode().split(marker.encode())
    head = (
        f"POST /v1/documents?event={event} HTTP/1.1\r\nHost: bench\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    ).encode()
    return head, before, after


async def _submitter(
    port: int,
    template: tuple[bytes, bytes, bytes],
    prefix: bytes,
    counter: Any,
    end: float,
    out: list[tuple[float, float, str]],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head, before, after = template
    while time.perf_counter() < end:
        number = prefix + str(next(counter)).encode()
        body = before + number + after
        started = time.perf_counter()
        writer.write(b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body))
        raw_head = await reader.readuntil(b"\r\n\r\n")
        status = int(raw_head[9:12])
        length = 0
        for line in raw_head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        answer = await reader.readexactly(length) if length else b""
        if status == 201:
            out.append((started, time.perf_counter(), json.loads(answer)["entry_hash"]))
        else:
            errors.append(status)
    writer.close()


async def _poll_finality(port: int, end: float, seen: list[tuple[float, int]]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    last = -1
    while time.perf_counter() < end:
        writer.write(b"GET /v1/checkpoint HTTP/1.1\r\nHost: bench\r\n\r\n")
        raw_head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in raw_head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        size = int(json.loads(await reader.readexactly(length))["tree_size"])
        if size != last:
            seen.append((time.perf_counter(), size))
            last = size
        await asyncio.sleep(0.01)
    writer.close()


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    import itertools

    end = time.perf_counter() + spec["seconds"]
    acks: list[tuple[float, float, str]] = []
    errors: list[int] = []
    seen: list[tuple[float, int]] = []
    counter = itertools.count()
    prefix = f"B-{uuid.uuid4().hex[:8]}-".encode()
    tasks = [_poll_finality(spec["ports"][0], end + spec["drain"], seen)]
    for port, template in zip(spec["ports"], spec["templates"], strict=True):
        for _ in range(spec["connections"]):
            tasks.append(_submitter(port, template, prefix, counter, end, acks, errors))
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    return {
        "acks": acks,
        "errors": errors,
        "seen": seen,
        "seconds": spec["seconds"],
        "started": started,
    }


def loadgen(spec: dict[str, Any], out: Any) -> None:
    out.put(asyncio.run(_load(spec)))


def run_loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=loadgen, args=(spec, out))
    proc.start()
    result: dict[str, Any] = out.get(timeout=spec["seconds"] * 4 + 300)
    proc.join(timeout=30)
    return result


# --- figures ------------------------------------------------------------------------------------


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 1)


def figures(result: dict[str, Any], leaf_of: dict[str, int]) -> dict[str, Any]:
    acks = result["acks"]
    seen = result["seen"]
    ack_lat = [done - start for start, done, _ in acks]
    final_lat = []
    missing = 0
    for start, _done, h in acks:
        idx = leaf_of.get(h)
        when = next((t for t, size in seen if idx is not None and size > idx), None)
        if when is None:
            missing += 1
            continue
        final_lat.append(when - start)
    return {
        "acknowledged": len(acks),
        "entries_per_s": round(len(acks) / result["seconds"], 1),
        "refused": len(result["errors"]),
        "refused_by_status": {
            str(code): result["errors"].count(code) for code in sorted(set(result["errors"]))
        },
        "ack_p50_ms": _pct(ack_lat, 0.5),
        "ack_p99_ms": _pct(ack_lat, 0.99),
        "final_p50_ms": _pct(final_lat, 0.5),
        "final_p99_ms": _pct(final_lat, 0.99),
        "not_final_when_polling_ended": missing,
    }


def leaf_indexes(url: str, token: str, hashes: list[str]) -> dict[str, int]:
    import httpx

    out = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        for h in hashes:
            r = http.get(f"/v1/entries/{h}")
            if r.status_code == 200:
                out[h] = int(r.json()["leaf_index"])
    return out


# --- setups -------------------------------------------------------------------------------------


def token(home: Path, org: str, role: str) -> str:
    from nodes.home import NodeHome
    from nodes.tokens import create_token

    h = NodeHome(home)
    store = h.open_store()
    try:
        return create_token(store, h.consortium(), org, role)
    finally:
        store.dispose()


def run_network(nodes: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from nodes.network import NetworkProcesses, create_network

    layout = create_network(workdir / f"net{nodes}", nodes, args.base_port)
    processes = NetworkProcesses(layout, log_level="warning")
    processes.start(timeout=120)
    try:
        jcci = token(layout.home(0), "jp-jcci", "issuing_authority")
        vn = token(layout.home(1), "vn-customs", "customs")
        auditor = token(layout.home(0), "jp-kanto-audit", "auditor")
        time.sleep(2)
        spec = {
            "ports": [args.base_port, args.base_port + 1],
            "templates": [
                _template("rcep-jp-machinery-to-vn.co.json", "co.issued", jcci, True),
                _template("vn-import-declaration.json", "customs.import_declaration", vn, False),
            ],
            "connections": args.connections,
            "seconds": args.seconds,
            "drain": 5.0,
        }
        result = run_loadgen(spec)
        leaf_of = leaf_indexes(layout.url(0), auditor, [h for _, _, h in result["acks"]])
        return figures(result, leaf_of)
    finally:
        processes.stop()


def run_single(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    home = workdir / "single"
    port = args.base_port + 50
    cmd = [sys.executable, "-m", "nodes.cli.main"]
    proc = subprocess.Popen(
        [*cmd, "serve", "--home", str(home), "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the single node did not start")
            time.sleep(0.2)
        jcci = token(home, "jp-jcci", "issuing_authority")
        vn = token(home, "vn-customs", "customs")
        auditor = token(home, "jp-kanto-audit", "auditor")
        spec = {
            "ports": [port, port],
            "templates": [
                _template("rcep-jp-machinery-to-vn.co.json", "co.issued", jcci, True),
                _template("vn-import-declaration.json", "customs.import_declaration", vn, False),
            ],
            "connections": args.connections,
            "seconds": args.seconds,
            "drain": 3.0,
        }
        result = run_loadgen(spec)
        leaf_of = leaf_indexes(
            f"http://127.0.0.1:{port}", auditor, [h for _, _, h in result["acks"]]
        )
        return figures(result, leaf_of)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 4])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16, help="per submitting node")
    parser.add_argument("--base-port", type=int, default=18100)
    parser.add_argument("--no-single", action="store_true", help="skip the single-node run")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="tl-bench-consortium-") as tmp:
        workdir = Path(tmp)
        results: dict[str, Any] = {}
        if not args.no_single:
            results["single node (embedded sequencer)"] = run_single(args, workdir)
            print(json.dumps({"single": results["single node (embedded sequencer)"]}), flush=True)
        for n in args.nodes:
            results[f"{n} nodes (etcd)"] = run_network(n, args, workdir)
            print(json.dumps({f"{n} nodes": results[f"{n} nodes (etcd)"]}), flush=True)
    print(f"load average after: {os.getloadavg()}")
    print()
    print(
        f"{'setup':36} {'entries/s':>10} {'ack p50':>9} {'ack p99':>9} "
        f"{'final p50':>10} {'final p99':>10} {'refused':>8}"
    )
    for name, r in results.items():
        print(
            f"{name:36} {r['entries_per_s']:>10} {r['ack_p50_ms']:>7}ms {r['ack_p99_ms']:>7}ms "
            f"{r['final_p50_ms']:>8}ms {r['final_p99_ms']:>8}ms {r['refused']:>8}"
        )


if __name__ == "__main__":
    main()
