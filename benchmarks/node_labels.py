"""Labels and taints for a fleet of simulated GPU nodes: gpu_node_labels against a per-node loop.

    .venv/bin/python benchmarks/node_labels.py [--nodes 1000] [--kubeconfig PATH]

Both sides run in this one process against the same cluster (default: the local control
plane, started with `make cluster-up`), on two separate sets of fresh nodes of the same
size, for a first run (every node needs labels and a taint) and a re-run (nothing to do):

- gpu_node_labels, run as Ansible runs a module (its own Python process, arguments in a file);
- the per-node loop a hand-written playbook does (read each node, patch each node, every
  run), with the same Python client, in this process, so it pays no Ansible overhead.

API writes are counted from the API server's audit log (tests/cluster/audit-policy.yaml):
successful, not dry-run writes to each side's nodes, by each side's client (user agent), so
neither side counts itself and the controllers' own node updates are left out. Results:
stdout as a Markdown table, and benchmarks/results/node_labels.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".tmp" / "collections"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import K8sClient  # noqa: E402
from ansible_collections.inferops.kubernetes.plugins.module_utils.nodes.labels import (  # noqa: E402
    OWNED_LABELS,
    label_facts,
    labels_from_facts,
)
from k8s_helpers import audit_log, fleet_tool, node_settled, node_writes  # noqa: E402

FACTS = json.loads((ROOT / "tests/fixtures/nvml/h200-gpu-facts.json").read_text())
TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
LOOP_AGENT = "per-node-loop"


def settle(client, names, timeout=300):
    """Wait until every new node is Ready and without the not-ready taints, as a fresh node gets them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = {n["metadata"]["name"]: n for n in client.list("v1", "Node")}
        if all(node_settled(nodes.get(name)) for name in names):
            return
        time.sleep(1)
    raise SystemExit("the new nodes did not become Ready within %ss" % timeout)


def run_module(kubeconfig, names, facts=FACTS):
    args = {"kubeconfig": kubeconfig, "nodes": [{"name": n, "gpu_facts": facts, "taints": [TAINT]} for n in names]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    env = dict(os.environ, PYTHONPATH=str(ROOT / ".tmp" / "collections"))
    try:
        proc = subprocess.run([sys.executable, "-m", "ansible_collections.inferops.kubernetes.plugins.modules.gpu_node_labels",
                               handle.name], capture_output=True, text=True, env=env, check=False, timeout=1800)
    finally:
        os.unlink(handle.name)
    result = json.loads(proc.stdout)
    if proc.returncode:
        raise SystemExit("gpu_node_labels failed: %s" % result.get("msg"))
    return result


def run_loop(client, names):
    """What a task loop over the nodes does: read the node, patch labels and taint, for every node, every run."""
    labels = labels_from_facts(FACTS, "none", "bench")
    resource = client.resource("v1", "Node")
    for name in names:
        node = client.get("v1", "Node", name)
        taints = [t for t in node["spec"].get("taints") or [] if t["key"] != TAINT["key"]] + [TAINT]
        resource.patch(body={"metadata": {"labels": labels}, "spec": {"taints": taints}}, name=name,
                       content_type="application/merge-patch+json")


def measure(log, label, names, agent, func):
    writes = node_writes(log, names, agent)
    start = time.perf_counter()
    func()
    seconds = time.perf_counter() - start
    time.sleep(1)  # the last audit events are written as the responses go out
    return {"side": label, "seconds": round(seconds, 2), "api_writes": node_writes(log, names, agent) - writes}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--kubeconfig", default=str(ROOT / ".cluster" / "kubeconfig"))
    parser.add_argument("--facts", choices=["whole", "trimmed"], default="whole",
                        help="what the module gets per node: the whole gpu_facts result, or it through the gpu_label_facts filter")
    args = parser.parse_args(argv)
    fleet = fleet_tool()
    log, why = audit_log(args.kubeconfig)
    if log is None:
        raise SystemExit("this benchmark counts writes in the local control plane's audit log (%s): run `make cluster-up` first"
                         " (or set INFEROPS_CLUSTER_DIR and INFEROPS_CLUSTER_NAME to the cluster behind --kubeconfig)" % why)
    client = K8sClient({"kubeconfig": args.kubeconfig})
    loop_client = K8sClient({"kubeconfig": args.kubeconfig})
    loop_client.api_client.user_agent = LOOP_AGENT
    facts = FACTS if args.facts == "whole" else label_facts(FACTS)
    run_id = uuid.uuid4().hex[:5]
    groups = {side: "bench-%s-%s" % (side, run_id) for side in ("module", "loop")}
    doc = {"defaults": {"cpu": "32", "memory": "256Gi", "pods": "110", "driver": "580.159.04", "cuda": "13.0"},
           "groups": [{"name": g, "count": args.nodes} for g in groups.values()]}
    names = {side: ["%s-%d" % (g, i) for i in range(args.nodes)] for side, g in groups.items()}
    print("creating 2 x %d simulated nodes ..." % args.nodes, file=sys.stderr)
    fleet.apply_nodes(args.kubeconfig, fleet.build_nodes(doc), workers=16)
    try:
        settle(client, names["module"] + names["loop"])
        rows = []
        for run in ("first run", "re-run (no change)"):
            rows.append(dict(measure(log, "gpu_node_labels", names["module"], "inferops-kubernetes",
                                     lambda: run_module(args.kubeconfig, names["module"], facts)), run=run))
            rows.append(dict(measure(log, "per-node loop", names["loop"], LOOP_AGENT,
                                     lambda: run_loop(loop_client, names["loop"])), run=run))
        sample = client.get("v1", "Node", names["module"][0])["metadata"]
        assert OWNED_LABELS in sample["annotations"] and sample["labels"]["nvidia.com/gpu.product"] == "NVIDIA-H200"
    finally:
        for group in groups.values():
            fleet.delete_nodes(args.kubeconfig, group)

    report = {"nodes": args.nodes, "facts": args.facts, "machine": "%s, %d CPUs" % (platform.platform(), os.cpu_count()), "rows": rows}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "node_labels.json").write_text(json.dumps(report, indent=1))
    print("| run | side | wall time (s) | API writes |")
    print("|---|---|---|---|")
    for row in rows:
        print("| %s | %s | %.2f | %d |" % (row["run"], row["side"], row["seconds"], row["api_writes"]))
    for run in ("first run", "re-run (no change)"):
        mod, loop = [r for r in rows if r["run"] == run]
        print("%s: time loop/module = %.2f, writes loop - module = %d" % (run, loop["seconds"] / mod["seconds"], loop["api_writes"] - mod["api_writes"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
