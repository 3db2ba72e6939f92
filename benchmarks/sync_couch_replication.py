"""CouchDB-style replication (PouchDB ↔ PouchDB server) on the sync benchmark's records.

Usage: python -m benchmarks.sync_couch_replication --scenario day|first50k --link loopback|slow
       [--appends entry|whole] [--records 50000] [--compression on|off] [--batch-size 100]
       [--node PATH] [--json]

- ``day``: the médicobus day of ``benchmarks.sync_dataset`` (~4 000 writes, 60 consultations).
  The laptop-side PouchDB applies every write as a new revision of the whole document, then
  pushes to the server; then a fresh PouchDB pulls everything back.
- ``first50k``: the server is loaded directly (in-process, no HTTP) with ``--records`` complete
  records, then a fresh PouchDB pulls them all: a laptop's first sync.

All HTTP between laptop and server goes through ``benchmarks.couch_proxy`` on 127.0.0.1, which
counts round trips and bytes per phase and, with ``--link slow``, delays each answer as
``benchmarks.sync_link.SLOW`` says (1 Mbit/s, 300 ms round trip). With ``--link loopback`` the
run is repeated without the proxy, so the times of both are shown (the proxy's own cost).

The Node packages are installed on first use (``npm ci --prefix benchmarks/couch``, from the npm
registry only; pure JavaScript, no binary download). Never run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.couch_proxy import CountingProxy
from benchmarks.machine import describe
from benchmarks.sync_dataset import first_sync_records, medicobus_day, summary
from benchmarks.sync_link import SLOW

COUCH_DIR = Path(__file__).resolve().parent / "couch"
SCRIPT = COUCH_DIR / "replicate.js"
NODE_TIMEOUT_S = 3600


def ensure_node_modules(npm: str) -> None:
    if (COUCH_DIR / "node_modules" / "express-pouchdb").is_dir():
        return
    print(f"Installing the PouchDB packages (npm ci --prefix {COUCH_DIR}) ...", file=sys.stderr)
    subprocess.run(
        [npm, "ci", "--prefix", str(COUCH_DIR), "--no-audit", "--no-fund", "--ignore-scripts"],
        check=True,
        timeout=600,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_node(node: str, dataset: Path, scenario: str, remote_url: str | None, control_url: str | None,
             port: int, batch_size: int) -> dict[str, Any]:  # fmt: skip
    command = [node, str(SCRIPT), "--dataset", str(dataset), "--scenario", scenario, "--port", str(port)]
    command += ["--batch-size", str(batch_size)]
    if remote_url:
        command += ["--remote-url", remote_url]
    if control_url:
        command += ["--control-url", control_url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=NODE_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise SystemExit(f"replicate.js failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("push", "pull"):
        outcome = result.get(name)
        if outcome and (not outcome["ok"] or outcome["doc_write_failures"] or outcome["errors"]):
            raise SystemExit(f"{name} did not complete: {outcome}")
    if result["pulled_doc_count"] != result["server_doc_count"]:
        raise SystemExit(f"pull incomplete: {result}")
    return result


def build_dataset(args: argparse.Namespace) -> tuple[str, list]:
    if args.scenario == "day":
        return "day", medicobus_day(seed=args.seed, appends=args.appends)
    return "first", first_sync_records(args.records, seed=args.seed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=["day", "first50k"], default="day")
    parser.add_argument("--link", choices=["loopback", "slow"], default="loopback")
    parser.add_argument("--appends", choices=["entry", "whole"], default="entry")
    parser.add_argument("--records", type=int, default=50_000, help="first50k: records on the server")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--compression", choices=["on", "off"], default="on",
                        help="off: the proxy drops Accept-Encoding, so the server never gzips")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=100, help="PouchDB's batch_size (its default: 100)")
    parser.add_argument("--node", default=shutil.which("node") or "/usr/bin/node")
    parser.add_argument("--npm", default=shutil.which("npm") or "npm")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = 2025 if args.scenario == "day" else 50

    ensure_node_modules(args.npm)
    node_version = subprocess.run([args.node, "--version"], capture_output=True, text=True, check=True).stdout
    mode, changes = build_dataset(args)
    stats = summary(changes)
    model = SLOW if args.link == "slow" else None

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="couch-bench-") as folder:
        dataset = Path(folder) / "dataset.json"
        dataset.write_text(json.dumps({"changes": [c.as_json() for c in changes]}), encoding="utf-8")

        port = free_port()
        with CountingProxy(port, model, strip_accept_encoding=args.compression == "off") as proxy:
            started = time.monotonic()
            result = run_node(args.node, dataset, mode, f"{proxy.url}/medicobus", f"{proxy.url}/__bench",
                              port, args.batch_size)  # fmt: skip
            phases = proxy.phases()
        rows.append(_row(args, args.link, result, phases, time.monotonic() - started))

        if args.link == "loopback":
            started = time.monotonic()
            direct = run_node(args.node, dataset, mode, None, None, free_port(), args.batch_size)
            rows.append(_row(args, "loopback-direct", direct, None, time.monotonic() - started))

    print(
        f"Machine: {describe()}, {platform.platform()}, cpu_count={os.cpu_count()}, "
        f"node {node_version.strip()}"
    )
    print(f"Dataset: {json.dumps(stats)}")
    link_text = (
        "no delay"
        if model is None
        else f"{model.bandwidth_bps / 1e6:g} Mbit/s, RTT {model.rtt_s * 1000:g} ms"
    )
    print(
        f"PouchDB 9 (memory adapter) <-> express-pouchdb 4.2 (memory), batch_size {args.batch_size}, "
        f"compression {args.compression}, link: {link_text}"
    )
    header = (
        "| scenario | link | local writes s | push s | pull s | push up B | push down B | push RT "
        "| pull up B | pull down B | pull RT |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in rows:
        print(
            f"| {row['scenario']} | {row['link']} | {_f(row['local_write_s'])} | {_f(row['push_s'])} "
            f"| {_f(row['pull_s'])} | {_n(row['push_up'])} | {_n(row['push_down'])} | {_n(row['push_rt'])} "
            f"| {_n(row['pull_up'])} | {_n(row['pull_down'])} | {_n(row['pull_rt'])} |"
        )
    if args.json:
        print(
            json.dumps({"rows": rows, "dataset": stats, "node": node_version.strip(), "machine": describe()})
        )


def _row(
    args: argparse.Namespace, link: str, result: dict[str, Any], phases: dict | None, wall: float
) -> dict:
    push = (phases or {}).get("push", {})
    pull = (phases or {}).get("pull", {})
    scenario = args.scenario if args.scenario == "day" else f"first{args.records // 1000}k"
    if args.scenario == "day" and args.appends != "entry":
        scenario += f" ({args.appends})"
    return {
        "scenario": scenario,
        "link": link if args.compression == "on" else f"{link}, no gzip",
        "local_write_s": result.get("local_write_s"),
        "server_load_s": result.get("server_load_s"),
        "push_s": result.get("push_s"),
        "pull_s": result.get("pull_s"),
        "push_up": push.get("bytes_up"),
        "push_down": push.get("bytes_down"),
        "push_rt": push.get("round_trips"),
        "pull_up": pull.get("bytes_up"),
        "pull_down": pull.get("bytes_down"),
        "pull_rt": pull.get("round_trips"),
        "documents": result.get("documents"),
        "server_doc_count": result.get("server_doc_count"),
        "wall_s": wall,
    }


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _n(value: float | None) -> str:
    return "-" if value is None else f"{int(value):,}".replace(",", " ")


if __name__ == "__main__":
    main()
