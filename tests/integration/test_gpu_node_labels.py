"""gpu_node_labels against the real API server, on a fleet of 50 extra simulated nodes.

Writes are counted from the API server's audit log (tests/cluster/audit-policy.yaml): the
successful, not dry-run writes to these nodes sent by the collection's client, not what
the module says of itself. Other writers (the node controller, kwok) are not counted.
"""

from __future__ import annotations

import copy
import json
import time
import uuid

import pytest

from k8s_helpers import ROOT, audit_log_or_fail, fleet_tool, node_settled, node_writes, run_module, wait_until

pytestmark = pytest.mark.integration

FACTS = json.loads((ROOT / "tests/fixtures/nvml/h200-gpu-facts.json").read_text())
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
FLEET_SIZE = 50


def _bare_nodes(kubeconfig, k8s, count):
    """`count` simulated nodes without any GPU label; yields their names, deletes them afterwards."""
    fleet = fleet_tool()
    group = "it-lbl-%s" % uuid.uuid4().hex[:6]
    fleet_doc = {"defaults": {"cpu": "32", "memory": "256Gi", "pods": "110", "driver": "580.159.04", "cuda": "13.0"},
                 "groups": [{"name": group, "count": count}]}
    fleet.apply_nodes(kubeconfig, fleet.build_nodes(fleet_doc))
    names = ["%s-%d" % (group, i) for i in range(count)]
    wait_until(lambda: all(node_settled(k8s.get("v1", "Node", n)) for n in names), 60, "the new nodes Ready, without not-ready taints")
    yield names
    fleet.delete_nodes(kubeconfig, group)


@pytest.fixture(scope="module")
def bare_nodes(kubeconfig, k8s):
    """50 nodes, shared by the tests below in order: the four steps, then ownership."""
    yield from _bare_nodes(kubeconfig, k8s, FLEET_SIZE)


@pytest.fixture(scope="module")
def untouched_pair(kubeconfig, k8s):
    """Two nodes that no test labels successfully: the bad-input cases must leave them bare."""
    yield from _bare_nodes(kubeconfig, k8s, 2)


def labels_of(k8s, name):
    return k8s.get("v1", "Node", name)["metadata"].get("labels") or {}


def entry(name, facts=FACTS, **extra):
    return dict({"name": name, "gpu_facts": facts, "taints": [GPU_TAINT]}, **extra)


@pytest.fixture(scope="module")
def writes(kubeconfig):
    log = audit_log_or_fail(kubeconfig, "counting writes")

    def count(names):
        # ResponseComplete events are written as the responses go out: read until the count holds still
        seen = node_writes(log, names)
        for _attempt in range(10):
            time.sleep(0.3)
            again = node_writes(log, names)
            if again == seen:
                return seen
            seen = again
        return seen

    return count


def test_four_steps_on_fifty_nodes(kubeconfig, k8s, bare_nodes, writes):
    args = {"kubeconfig": kubeconfig, "nodes": [entry(n) for n in bare_nodes]}
    before = writes(bare_nodes)

    planned = run_module("gpu_node_labels", args, check_mode=True)
    assert planned["rc"] == 0, planned.get("msg")
    assert planned["changed"] is True and planned["api_writes"] == 0
    assert "nvidia.com/gpu.product" not in labels_of(k8s, bare_nodes[0])
    assert writes(bare_nodes) == before

    applied = run_module("gpu_node_labels", args)
    assert applied["changed"] is True and applied["api_writes"] == FLEET_SIZE
    assert writes(bare_nodes) == before + FLEET_SIZE
    labels = labels_of(k8s, bare_nodes[7])
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-H200" and labels["nvidia.com/gpu.memory"] == "143771"
    assert labels["nvidia.com/mig.capable"] == "true" and labels["nvidia.com/cuda.driver.major"] == "580"
    assert all(isinstance(v, str) for v in labels.values())
    assert k8s.get("v1", "Node", bare_nodes[7])["spec"]["taints"] == [GPU_TAINT]

    assert run_module("gpu_node_labels", args, check_mode=True)["changed"] is False
    again = run_module("gpu_node_labels", args)
    assert again["changed"] is False and again["api_writes"] == 0
    assert writes(bare_nodes) == before + FLEET_SIZE  # the no-op run wrote nothing

    # three nodes change: three writes, none for the other 47
    changed = copy.deepcopy(FACTS)
    changed["driver_version"] = "580.200.01"
    args["nodes"][:3] = [entry(n, changed) for n in bare_nodes[:3]]
    third = run_module("gpu_node_labels", args)
    assert third["api_writes"] == 3 and [n["name"] for n in third["nodes"] if n["changed"]] == bare_nodes[:3]
    assert writes(bare_nodes) == before + FLEET_SIZE + 3


def test_owned_labels_and_taints_go_others_stay(kubeconfig, k8s, bare_nodes):
    name = bare_nodes[0]
    foreign_taint = {"key": "dedicated", "value": "inference", "effect": "NoSchedule"}
    k8s.resource("v1", "Node").patch(
        body={"metadata": {"labels": {"team.example.com/pool": "ml"}}, "spec": {"taints": [foreign_taint]}},
        name=name, content_type="application/merge-patch+json")
    mig = copy.deepcopy(FACTS)
    gpu = mig["gpus"][0]
    gpu["mig_mode"] = {"current": True, "pending": True}
    gpu["mig_devices"] = [{"gpu_instance_id": i, "profile": "1g.18gb", "placement": {"start": i, "size": 1}, "uuids": []} for i in range(7)]
    result = run_module("gpu_node_labels", {"kubeconfig": kubeconfig, "nodes": [entry(name, mig, mig_strategy="mixed")]})
    assert result["rc"] == 0, result.get("msg")
    labels = labels_of(k8s, name)
    assert labels["nvidia.com/mig-1g.18gb.count"] == "7" and labels["nvidia.com/mig-1g.18gb.product"] == "NVIDIA-H200-MIG-1g.18gb"

    # MIG off, no taint wanted any more: what the module set goes, what others set stays
    result = run_module("gpu_node_labels", {"kubeconfig": kubeconfig, "nodes": [{"name": name, "gpu_facts": FACTS}]}, check_mode=False)
    assert result["changed"] is True
    step = result["nodes"][0]
    assert "nvidia.com/mig-1g.18gb.count" in step["labels_removed"]
    labels = labels_of(k8s, name)
    assert not any(k.startswith("nvidia.com/mig-1g") for k in labels)
    assert labels["team.example.com/pool"] == "ml" and labels["nvidia.com/mig.strategy"] == "none"
    assert k8s.get("v1", "Node", name)["spec"]["taints"] == [foreign_taint]


@pytest.mark.parametrize("node, message", [
    ({"labels": {"nvidia.com/gpu.present": True}},
     "nodes[0].labels.nvidia.com/gpu.present: label values are strings, got bool True. Quote it in YAML, for example 'true'."),
    ({"labels": {"nvidia.com/gpu.product": "NVIDIA H100 80GB"}}, "is not a valid label value"),
    ({"labels": {"x" * 64: "a"}}, "is not a valid label or taint key"),
    ({"taints": [{"key": "nvidia.com/gpu", "effect": "NoScheduleAtAll"}]}, "nodes[0].taints[0].effect: 'NoScheduleAtAll' is not one of NoSchedule"),
    ({"name": "no-such-node-xyz"}, "no such node in the cluster: nodes[0].name: no-such-node-xyz"),
    ({"gpu_facts": {**FACTS, "gpus": FACTS["gpus"] + [dict(FACTS["gpus"][0], index=1, name="NVIDIA H100 80GB HBM3")]}},
     "different GPU models (NVIDIA H100 80GB HBM3, NVIDIA H200)"),
])
def test_bad_input_is_named_and_nothing_is_written(kubeconfig, k8s, untouched_pair, writes, node, message):
    before = writes(untouched_pair)
    nodes = [dict({"name": untouched_pair[0]}, **node), {"name": untouched_pair[1], "gpu_facts": FACTS}]
    result = run_module("gpu_node_labels", {"kubeconfig": kubeconfig, "nodes": nodes})
    assert result["rc"] == 1 and message in result["msg"], result.get("msg")
    assert writes(untouched_pair) == before
    assert "nvidia.com/gpu.present" not in labels_of(k8s, untouched_pair[1])  # the valid entry was not applied either  # the valid entry was not applied either
