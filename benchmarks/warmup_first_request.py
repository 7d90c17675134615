"""First-request latency after a server reports ready, with and without warmup, on real servers (CPU).

    .venv/bin/python benchmarks/warmup_first_request.py [--rounds 5]

Needs the runtimes venv (tests/runtimes/setup.sh, or `make runtimes-venv`). For each server, in this one
run, alternating the two sides round by round, each round on a freshly started server process:

- without warmup: the server's own readiness (KServe ``/v1/models/<m>`` ready, TorchServe's management API
  showing a READY worker, Triton ``/v2/health/ready`` with a model configuration without ``model_warmup``);
- with warmup: KServe and TorchServe gated on the warmup agent's ``/ready`` (plugins/module_utils/stack/
  warmup_agent.py, 10 requests, as the sidecar gates the pod), Triton with native ``model_warmup`` (count 10).

Then one inference request over a new connection, as a client's first request after the pod turned
Ready, and ten more for the warm latency. The TF Serving stand-in is left out: it is not TF Serving and has
no cold path to measure. Results: stdout as a Markdown table, and benchmarks/results/warmup_first_request.json.
No assertions: the numbers are reported as measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "runtimes"))

import servers  # noqa: E402
from servers import IRIS_ROWS, LINEAR_ROW, http  # noqa: E402

AGENT = ROOT / "plugins" / "module_utils" / "stack" / "warmup_agent.py"
WARMUP_COUNT = 10


def request_for(server):
    if server.name == "kserve":
        return server.http + "/v1/models/iris:predict", {"instances": IRIS_ROWS}
    if server.name == "torchserve":
        return server.http + "/predictions/tiny", {"data": LINEAR_ROW}
    return server.http + "/v2/models/linear/infer", {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [LINEAR_ROW]}]}


def timed(url, body):
    start = time.perf_counter()
    status = http("POST", url, body)[0]
    elapsed = (time.perf_counter() - start) * 1000.0
    if status != 200:
        raise RuntimeError("%s answered %s" % (url, status))
    return elapsed


def agent_gate(server, workdir):
    """Start the warmup agent for ``server`` and return (process, ready URL)."""
    url, body = request_for(server)
    port = servers.free_port()
    config = {"listen_host": "127.0.0.1", "listen_port": port, "health_url": server.health_url, "count": WARMUP_COUNT,
              "poll_interval_s": 0.2, "request": {"method": "POST", "url": url, "headers": {"Content-Type": "application/json"},
                                                  "body": json.dumps(body)}}
    path = Path(workdir) / ("warmup-%d.json" % port)
    path.write_text(json.dumps(config))
    process = subprocess.Popen([sys.executable, str(AGENT), "--config", str(path)], stderr=subprocess.DEVNULL)
    return process, "http://127.0.0.1:%d/ready" % port


def wait(predicate, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError("timed out")


def one_round(kind, warmed, workdir):
    """Start a fresh server, gate it, and return (first request ms, warm median ms, seconds until Ready)."""
    if kind == "triton":
        server = servers.triton_server(workdir, native_warmup=warmed)
    else:
        server = servers.kserve_server(workdir) if kind == "kserve" else servers.torchserve_server(workdir)
    agent = None
    started = time.monotonic()
    try:
        if warmed and kind != "triton":
            agent, ready_url = agent_gate(server, workdir)
            server.start()
            wait(lambda: http("GET", ready_url, timeout=2)[0] == 200)
        else:
            server.start()
        until_ready = time.monotonic() - started
        url, body = request_for(server)
        first = timed(url, body)
        warm = statistics.median(timed(url, body) for request in range(10))
        return first, warm, until_ready
    finally:
        if agent:
            agent.terminate()
            agent.wait()
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    reason = servers.venv_ready()
    if reason:
        sys.exit(reason)
    gates = {"kserve": "warmup agent (10 requests)", "torchserve": "warmup agent (10 requests)", "triton": "native model_warmup (count 10)"}
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        servers.make_models(workdir)
        for kind in ("kserve", "triton", "torchserve"):
            sides = {False: [], True: []}
            for round_number in range(args.rounds):
                for warmed in (False, True):
                    sides[warmed].append(one_round(kind, warmed, workdir))
            row = {}
            for warmed, rounds in sides.items():
                key = "with_warmup" if warmed else "without_warmup"
                row[key] = {"first_request_ms": round(statistics.median(r[0] for r in rounds), 2),
                            "warm_median_ms": round(statistics.median(r[1] for r in rounds), 2),
                            "ready_after_s": round(statistics.median(r[2] for r in rounds), 2),
                            "first_request_ms_each": [round(r[0], 2) for r in rounds]}
            row["first_request_ratio"] = round(row["without_warmup"]["first_request_ms"] / row["with_warmup"]["first_request_ms"], 1)
            row["gate"] = gates[kind]
            results[kind] = row

    print("| server | warmup | first request, no warmup (ms) | first request, warmed (ms) | ratio | warm request (ms) "
          "| ready after, no warmup / warmed (s) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for kind, row in results.items():
        cold, warm = row["without_warmup"], row["with_warmup"]
        print("| %s | %s | %.1f | %.1f | %.1fx | %.1f | %.1f / %.1f |" % (
            kind, row["gate"], cold["first_request_ms"], warm["first_request_ms"], row["first_request_ratio"],
            warm["warm_median_ms"], cold["ready_after_s"], warm["ready_after_s"]))
    out = ROOT / "benchmarks" / "results" / "warmup_first_request.json"
    out.parent.mkdir(exist_ok=True)
    report = {
        "rounds": args.rounds,
        "machine": {"cpus": len(os.sched_getaffinity(0)), "python": platform.python_version()},
        "command": ".venv/bin/python benchmarks/warmup_first_request.py --rounds %d" % args.rounds,
        "results": results,
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("\nmedian of %d rounds each; results in %s" % (args.rounds, out.relative_to(ROOT)))


if __name__ == "__main__":
    main()
