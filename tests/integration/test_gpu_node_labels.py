"""gpu_node_labels against the real API server, on a fleet of 50 extra simulated nodes.

Writes are counted by the API server itself (apiserver_request_total for PATCH on nodes,
not dry runs, not the status subresource kwok uses), not by what the module says.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import time
import uuid

import pytest

from k8s_helpers import ROOT, run_module, wait_until

pytestmark = pytest.mark.integration

FACTS = json.loads((ROOT / "tests/fixtures/nvml/h200-gpu-facts.json").read_text())
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
FLEET_SIZE = 50
PATCH_LINE = re.compile(r'^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$')


def node_patches(k8s):
    """Real (not dry-run) PATCH requests on nodes so far, as the API server counts them."""
    api = k8s.api_client
    method, url, headers, _body, _post = api.param_serialize("GET", "/metrics", auth_settings=["BearerToken"])
    response = api.call_api(method, url, header_params=headers)
    response.read()
    text = response.data.decode()
    total = 0
    for line in text.splitlines():
        match = PATCH_LINE.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group("labels")))
        if (labels.get("verb"), labels.get("resource"), labels.get("subresource"), labels.get("dry_run")) == ("PATCH", "nodes", "", ""):
            total += int(float(match.group("value")))
    return total


def _bare_nodes(kubeconfig, k8s, count):
    """`count` simulated nodes without any GPU label; yields their names, deletes them afterwards."""
    spec = importlib.util.spec_from_file_location("fleet", ROOT / "tests/cluster/fleet.py")
    fleet = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fleet)
    group = "it-lbl-%s" % uuid.uuid4().hex[:6]
    fleet_doc = {"defaults": {"cpu": "32", "memory": "256Gi", "pods": "110", "driver": "580.159.04", "cuda": "13.0"},
                 "groups": [{"name": group, "count": count}]}
    fleet.apply_nodes(kubeconfig, fleet.build_nodes(fleet_doc))
    names = ["%s-%d" % (group, i) for i in range(count)]
    wait_until(lambda: all(_settled(k8s.get("v1", "Node", n)) for n in names), 60, "the new nodes Ready, without not-ready taints")
    # The node lifecycle controller and kwok patch new nodes too; count only once they are done.
    wait_until(lambda: _quiet(k8s), 60, "no more node patches from the controllers")
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


def _settled(node):
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions") or [])
    return ready and not any(t["key"].startswith("node.kubernetes.io/") for t in node["spec"].get("taints") or [])


def _quiet(k8s, seconds=2.0):
    first = node_patches(k8s)
    time.sleep(seconds)
    return node_patches(k8s) == first


def labels_of(k8s, name):
    return k8s.get("v1", "Node", name)["metadata"].get("labels") or {}


def entry(name, facts=FACTS, **extra):
    return dict({"name": name, "gpu_facts": facts, "taints": [GPU_TAINT]}, **extra)


def test_four_steps_on_fifty_nodes(kubeconfig, k8s, bare_nodes):
    args = {"kubeconfig": kubeconfig, "nodes": [entry(n) for n in bare_nodes]}
    before = node_patches(k8s)

    planned = run_module("gpu_node_labels", args, check_mode=True)
    assert planned["rc"] == 0, planned.get("msg")
    assert planned["changed"] is True and planned["api_writes"] == 0
    assert "nvidia.com/gpu.product" not in labels_of(k8s, bare_nodes[0])
    assert node_patches(k8s) == before

    applied = run_module("gpu_node_labels", args)
    assert applied["changed"] is True and applied["api_writes"] == FLEET_SIZE
    assert node_patches(k8s) == before + FLEET_SIZE
    labels = labels_of(k8s, bare_nodes[7])
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-H200" and labels["nvidia.com/gpu.memory"] == "143771"
    assert labels["nvidia.com/mig.capable"] == "true" and labels["nvidia.com/cuda.driver.major"] == "580"
    assert all(isinstance(v, str) for v in labels.values())
    assert k8s.get("v1", "Node", bare_nodes[7])["spec"]["taints"] == [GPU_TAINT]

    assert run_module("gpu_node_labels", args, check_mode=True)["changed"] is False
    again = run_module("gpu_node_labels", args)
    assert again["changed"] is False and again["api_writes"] == 0
    assert node_patches(k8s) == before + FLEET_SIZE  # the no-op run wrote nothing

    # three nodes change: three writes, none for the other 47
    changed = copy.deepcopy(FACTS)
    changed["driver_version"] = "580.200.01"
    args["nodes"][:3] = [entry(n, changed) for n in bare_nodes[:3]]
    third = run_module("gpu_node_labels", args)
    assert third["api_writes"] == 3 and [n["name"] for n in third["nodes"] if n["changed"]] == bare_nodes[:3]
    assert node_patches(k8s) == before + FLEET_SIZE + 3


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
    ({"labels": {"nvidia.com/gpu.present": True}}, 'nodes[0].labels.nvidia.com/gpu.present: got the boolean true; label values are strings. Quote it: "true"'),
    ({"labels": {"nvidia.com/gpu.product": "NVIDIA H100 80GB"}}, "is not a valid label value"),
    ({"labels": {"x" * 64: "a"}}, "is not a valid label or taint key"),
    ({"taints": [{"key": "nvidia.com/gpu", "effect": "NoScheduleAtAll"}]}, "nodes[0].taints[0].effect: 'NoScheduleAtAll' is not one of NoSchedule"),
    ({"name": "no-such-node-xyz"}, "no such node in the cluster: nodes[0].name: no-such-node-xyz"),
    ({"gpu_facts": {**FACTS, "gpus": FACTS["gpus"] + [dict(FACTS["gpus"][0], index=1, name="NVIDIA H100 80GB HBM3")]}},
     "different GPU models (NVIDIA H100 80GB HBM3, NVIDIA H200)"),
])
def test_bad_input_is_named_and_nothing_is_written(kubeconfig, k8s, untouched_pair, node, message):
    before = node_patches(k8s)
    nodes = [dict({"name": untouched_pair[0]}, **node), {"name": untouched_pair[1], "gpu_facts": FACTS}]
    result = run_module("gpu_node_labels", {"kubeconfig": kubeconfig, "nodes": nodes})
    assert result["rc"] == 1 and message in result["msg"], result.get("msg")
    assert node_patches(k8s) == before
    assert "nvidia.com/gpu.present" not in labels_of(k8s, untouched_pair[1])  # the valid entry was not applied either  # the valid entry was not applied either
