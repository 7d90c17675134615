"""The device plugin on a fleet of 50 more simulated GPU nodes: one pod on each GPU node, none elsewhere."""

from __future__ import annotations

import uuid

import pytest

from k8s_helpers import fleet_tool, run_module

pytestmark = pytest.mark.integration

EXTRA_GPU_NODES = 50


@pytest.fixture
def fifty_gpu_nodes(kubeconfig):
    fleet = fleet_tool()
    group = "it-dp-%s" % uuid.uuid4().hex[:6]
    h100 = {"product": "NVIDIA-H100-80GB-HBM3", "memory_mib": 81559, "count": 8, "family": "hopper",
            "compute": "9.0", "mig_capable": True, "mig_strategy": "none"}
    groups = [
        {"name": group, "count": EXTRA_GPU_NODES, "resources": {"nvidia.com/gpu": 8}, "gpu": h100},
        {"name": group + "-cpu", "count": 3},
    ]
    doc = {"defaults": {"cpu": "64", "memory": "512Gi", "pods": "110", "driver": "580.159.04", "cuda": "13.0"}, "groups": groups}
    fleet.apply_nodes(kubeconfig, fleet.build_nodes(doc))
    yield {"gpu": {"%s-%d" % (group, i) for i in range(EXTRA_GPU_NODES)}, "cpu": {"%s-cpu-%d" % (group, i) for i in range(3)}}
    fleet.delete_nodes(kubeconfig, group)
    fleet.delete_nodes(kubeconfig, group + "-cpu")


def test_one_plugin_pod_per_gpu_node_on_a_large_fleet(kubeconfig, k8s, fifty_gpu_nodes):
    namespace = "dp-scale-%s" % uuid.uuid4().hex[:6]
    # The local cluster's real node (127.0.0.1) has GPUs too, from its stand-in device plugin; its taint
    # (inferops.io/real-node) keeps every pod that does not ask for it off it, the NVIDIA plugin's included.
    gpu_nodes = {n["name"] for n in run_module("gpu_inventory", {"kubeconfig": kubeconfig})["nodes"]
                 if not any(t["key"] == "inferops.io/real-node" for t in k8s.get("v1", "Node", n["name"])["spec"].get("taints") or [])}
    assert fifty_gpu_nodes["gpu"] <= gpu_nodes and not fifty_gpu_nodes["cpu"] & gpu_nodes
    try:
        result = run_module("device_plugin", {"kubeconfig": kubeconfig, "namespace": namespace, "runtime_class": False,
                                              "wait": True, "wait_timeout": 240})
        assert result["rc"] == 0, result.get("msg")
        assert set(result["rollout"]["nodes"]) == gpu_nodes
        assert result["rollout"]["available"] == len(gpu_nodes) >= EXTRA_GPU_NODES
        again = run_module("device_plugin", {"kubeconfig": kubeconfig, "namespace": namespace, "runtime_class": False})
        assert again["rc"] == 0 and again["changed"] is False
    finally:
        run_module("device_plugin", {"kubeconfig": kubeconfig, "namespace": namespace, "runtime_class": False,
                                     "state": "absent"})
        if k8s.get("v1", "Namespace", namespace) is not None:
            k8s.resource("v1", "Namespace").delete(name=namespace)
