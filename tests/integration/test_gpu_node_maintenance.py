"""gpu_node_maintenance on the local control plane: a node of its own, real evictions, real PDBs."""

from __future__ import annotations

import uuid

import pytest

from k8s_helpers import fleet_tool, gpu_pod, node_settled, pod_phase, run_module, wait_until

pytestmark = pytest.mark.integration

AUTH = {}


@pytest.fixture
def gpu_node(k8s, kubeconfig):
    """One kwok node with two A100s, removed afterwards (other tests' nodes are left alone)."""
    fleet = fleet_tool()
    group = "maint-%s" % uuid.uuid4().hex[:6]
    nodes = fleet.build_nodes({
        "defaults": {"cpu": "16", "memory": "64Gi", "pods": "110", "driver": "580.95.05", "cuda": "13.0"},
        "groups": [{"name": group, "count": 1, "resources": {"nvidia.com/gpu": 2},
                    "gpu": {"product": "NVIDIA-A100-SXM4-80GB", "memory_mib": 81920, "count": 2, "family": "ampere",
                            "compute": "8.0", "mig_capable": True, "mig_strategy": "mixed"}}],
    })
    fleet.apply_nodes(kubeconfig, nodes)
    name = nodes[0]["metadata"]["name"]
    wait_until(lambda: node_settled(k8s.get("v1", "Node", name)), 60, "node %s Ready" % name)
    AUTH["kubeconfig"] = kubeconfig
    yield name
    fleet.delete_nodes(kubeconfig, group)


def _on(node, pod):
    pod["spec"]["nodeSelector"] = {"kubernetes.io/hostname": node}
    return pod


def _start(k8s, namespace, pods):
    for pod in pods:
        k8s.resource("v1", "Pod").create(body=pod, namespace=namespace)
    for pod in pods:
        wait_until(lambda p=pod: pod_phase(k8s, p["metadata"]["name"], namespace) == "Running", 60,
                   "pod %s Running" % pod["metadata"]["name"])


def _set_gpus(k8s, node, resources):
    status = {"capacity": dict(resources), "allocatable": dict(resources)}
    k8s.resource("v1", "Node").status.patch(name=node, body={"status": status},
                                            content_type="application/merge-patch+json")


def test_drain_moves_gpu_pods_only_and_ready_brings_the_node_back(k8s, namespace, gpu_node):
    _start(k8s, namespace, [_on(gpu_node, gpu_pod("trainer", namespace, {"nvidia.com/gpu": 1})),
                            _on(gpu_node, gpu_pod("cpu-only", namespace, {"cpu": "1"}))])

    plan = run_module("gpu_node_maintenance", dict(AUTH, name=gpu_node, state="drained"), check_mode=True)
    assert plan["rc"] == 0 and plan["changed"], plan
    assert plan["evicted"] == ["%s/trainer" % namespace]
    assert not k8s.get("v1", "Node", gpu_node)["spec"].get("unschedulable")
    assert pod_phase(k8s, "trainer", namespace) == "Running"

    drained = run_module("gpu_node_maintenance", dict(AUTH, name=gpu_node, state="drained", reason="MIG layout all-1g"))
    assert drained["rc"] == 0 and drained["changed"] and drained["cordoned"], drained
    node = k8s.get("v1", "Node", gpu_node)
    assert node["spec"]["unschedulable"] is True
    assert node["metadata"]["annotations"]["inferops.kubernetes/cordoned-for"] == "MIG layout all-1g"
    assert k8s.get("v1", "Pod", "trainer", namespace) is None
    assert pod_phase(k8s, "cpu-only", namespace) == "Running"

    again = run_module("gpu_node_maintenance", dict(AUTH, name=gpu_node, state="drained"))
    assert again["rc"] == 0 and not again["changed"], again

    # the plugin has not registered the new devices: ready waits, then fails and keeps the cordon
    want = {"nvidia.com/mig-1g.10gb": 14}
    early = run_module("gpu_node_maintenance", dict(AUTH, name=gpu_node, state="ready", expected_resources=want,
                                                    restart_selector="", timeout=2))
    assert early["rc"] != 0 and "expected {'nvidia.com/mig-1g.10gb': 14}" in early["msg"], early
    assert "stays cordoned" in early["msg"]
    assert k8s.get("v1", "Node", gpu_node)["spec"]["unschedulable"] is True

    _set_gpus(k8s, gpu_node, {"nvidia.com/gpu": "0", "nvidia.com/mig-1g.10gb": "14"})
    # a later run that finds the cordon of a run that stopped half-way finishes the job
    back = run_module("gpu_node_maintenance", dict(AUTH, name=gpu_node, state="ready", expected_resources=want,
                                                   restart_selector="", timeout=30, only_if_cordoned=True))
    assert back["rc"] == 0 and back["changed"] and back["uncordoned"], back
    assert back["resources"] == want
    node = k8s.get("v1", "Node", gpu_node)
    assert not node["spec"].get("unschedulable")
    assert "inferops.kubernetes/cordoned-for" not in (node["metadata"].get("annotations") or {})
    # and with no such cordon it does nothing at all, restarts included
    idle = run_module("gpu_node_maintenance", dict(AUTH, name=gpu_node, state="ready", expected_resources={"nvidia.com/gpu": 9},
                                                   only_if_cordoned=True, timeout=1))
    assert idle["rc"] == 0 and not idle["changed"] and idle["restarted"] == [], idle


def test_an_administrators_cordon_stays(k8s, gpu_node):
    k8s.resource("v1", "Node").patch(name=gpu_node, body={"spec": {"unschedulable": True}},
                                     content_type="application/merge-patch+json")
    drained = run_module("gpu_node_maintenance", dict(AUTH, name=gpu_node, state="drained"))
    assert drained["rc"] == 0 and not drained["cordoned"], drained
    back = run_module("gpu_node_maintenance", dict(AUTH, name=gpu_node, state="ready", restart_selector="",
                                                   expected_resources={"nvidia.com/gpu": 2}, timeout=10))
    assert back["rc"] == 0 and not back["uncordoned"], back
    assert k8s.get("v1", "Node", gpu_node)["spec"]["unschedulable"] is True


def test_a_disruption_budget_blocks_the_drain_with_its_reason(k8s, namespace, gpu_node):
    pod = _on(gpu_node, gpu_pod("serving", namespace, {"nvidia.com/gpu": 1}))
    pod["metadata"]["labels"] = {"app": "serving"}
    _start(k8s, namespace, [pod])
    k8s.resource("policy/v1", "PodDisruptionBudget").create(namespace=namespace, body={
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "serving"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "serving"}}}})
    wait_until(lambda: (k8s.get("policy/v1", "PodDisruptionBudget", "serving", namespace).get("status") or {})
               .get("currentHealthy") == 1, 30, "the PDB to count the pod")
    blocked = run_module("gpu_node_maintenance", dict(AUTH, name=gpu_node, state="drained", timeout=3))
    assert blocked["rc"] != 0, blocked
    assert "%s/serving" % namespace in blocked["msg"] and "eviction refused" in blocked["msg"], blocked["msg"]
    assert pod_phase(k8s, "serving", namespace) == "Running"


def test_unknown_node_and_bad_counts_are_refused(gpu_node):
    missing = run_module("gpu_node_maintenance", dict(AUTH, name="no-such-node", state="drained"))
    assert missing["rc"] != 0 and "no node named no-such-node" in missing["msg"]
    bad = run_module("gpu_node_maintenance", dict(AUTH, name=gpu_node, state="ready",
                                                  expected_resources={"nvidia.com/gpu": "0.5"}))
    assert bad["rc"] != 0 and "expected_resources.nvidia.com/gpu" in bad["msg"]


def test_ready_restarts_the_device_plugin_pod_on_that_node_only(k8s, namespace, gpu_node):
    plugin = _on(gpu_node, gpu_pod("plugin", namespace, {"cpu": "100m"}))
    plugin["metadata"]["labels"] = {"app.kubernetes.io/name": "fake-plugin"}
    _start(k8s, namespace, [plugin])
    args = dict(AUTH, name=gpu_node, state="ready", restart_namespace=namespace, expected_resources={"nvidia.com/gpu": 2},
                restart_selector="app.kubernetes.io/name=fake-plugin", timeout=10)
    dry = run_module("gpu_node_maintenance", args, check_mode=True)
    assert dry["rc"] == 0 and dry["restarted"] == ["%s/plugin" % namespace], dry
    assert pod_phase(k8s, "plugin", namespace) == "Running"
    done = run_module("gpu_node_maintenance", args)
    assert done["rc"] == 0 and done["restarted"] == ["%s/plugin" % namespace], done
    wait_until(lambda: k8s.get("v1", "Pod", "plugin", namespace) is None, 30, "the plugin pod to be deleted")
    none_there = run_module("gpu_node_maintenance", args)
    assert none_there["rc"] != 0 and "restart_selector" in none_there["msg"], none_there
