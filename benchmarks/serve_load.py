"""Benchmark (not a test): ``seqkit serve`` throughput and latency on 127.0.0.1, without and with request batching.

Starts the server in a subprocess per configuration, sends a bounded number of one-text requests from concurrent
clients, and reports requests/s and p50/p99 latency; then stops the server with SIGTERM:

    python benchmarks/serve_load.py runs/NAME/best.ckpt [--clients 16] [--requests 400]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

TEXTS = ["not bad at all", "a boring plot but the acting was good", "truly moving", "the music felt bland"]


def _start(checkpoint: str, max_batch: int, wait_ms: float) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "seqkit.cli", "serve", checkpoint, "--port", "0"]
    command += ["--max-batch", str(max_batch), "--max-wait-ms", str(wait_ms)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    return process, line.split(" on ")[1].split()[0]


def _request(url: str, text: str) -> float:
    body = json.dumps({"texts": [text]}).encode()
    start = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url + "/predict", data=body), timeout=60) as response:
        response.read()
    return time.perf_counter() - start


def run(checkpoint: str, max_batch: int, wait_ms: float, clients: int, requests: int) -> dict:
    process, url = _start(checkpoint, max_batch, wait_ms)
    try:
        for text in TEXTS:  # warm up
            _request(url, text)
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            latencies = list(pool.map(lambda i: _request(url, TEXTS[i % len(TEXTS)]), range(requests)))
        elapsed = time.perf_counter() - start
        with urllib.request.urlopen(url + "/health", timeout=10) as response:
            health = json.loads(response.read())
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    latencies.sort()
    return {
        "max_batch": max_batch,
        "clients": clients,
        "requests_per_s": requests / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000,
        "mean_batch": (health["requests"] - len(TEXTS)) / max(1, health["batches"] - len(TEXTS)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--wait-ms", type=float, default=5.0)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print("| max batch | clients | requests/s | p50 ms | p99 ms | mean texts per batch |")
    print("|---:|---:|---:|---:|---:|---:|")
    for clients, max_batch in ((1, 1), (args.clients, 1), (args.clients, 32)):
        r = run(args.checkpoint, max_batch, args.wait_ms, clients, args.requests)
        print(
            f"| {max_batch} | {clients} | {r['requests_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['mean_batch']:.1f} |",
            flush=True,
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
