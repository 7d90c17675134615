from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.inventory import (
    build_inventory,
    pod_gpu_requests,
)

CLUSTER = Path(__file__).resolve().parents[4] / "cluster"


def _fleet_module():
    spec = importlib.util.spec_from_file_location("fleet", CLUSTER / "fleet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def nodes():
    """The simulated fleet's nodes, Ready as kwok makes them."""
    fleet = _fleet_module()
    built = fleet.build_nodes(yaml.safe_load((CLUSTER / "fleet.yaml").read_text()))
    for node in built:
        node["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    return built


def pod(name, node, phase="Running", containers=None, init=None, overhead=None, namespace="ml"):
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "nodeName": node,
            "containers": containers or [],
            "initContainers": init or [],
            **({"overhead": overhead} if overhead else {}),
        },
        "status": {"phase": phase},
    }


def gpu(n, resource="nvidia.com/gpu", requests=True):
    res = {"limits": {resource: str(n)}}
    if requests:
        res["requests"] = {resource: str(n)}
    return {"name": "c", "resources": res}


def test_extended_resource_request_defaults_to_limit():
    assert pod_gpu_requests(pod("p", "n", containers=[gpu(2, requests=False)])) == {"nvidia.com/gpu": 2}


def test_init_containers_count_as_max_and_sidecars_add():
    # init needs 3, app containers 1 + sidecar 1 => effective max(3 + 0, 1 + 1) = 3
    p = pod("p", "n", containers=[gpu(1)], init=[gpu(3), dict(gpu(1), restartPolicy="Always")])
    assert pod_gpu_requests(p) == {"nvidia.com/gpu": 3}
    # a sidecar started before an init container runs beside it
    p = pod("p", "n", containers=[gpu(1)], init=[dict(gpu(1), restartPolicy="Always"), gpu(3)])
    assert pod_gpu_requests(p) == {"nvidia.com/gpu": 4}


def test_pod_overhead_is_added():
    p = pod("p", "n", containers=[gpu(1)], overhead={"nvidia.com/gpu": "1", "cpu": "250m"})
    assert pod_gpu_requests(p) == {"nvidia.com/gpu": 2}


def test_fleet_capacity_and_labels(nodes):
    inv = build_inventory(nodes, [])
    names = [n["name"] for n in inv["nodes"]]
    assert "cpu-0" not in names
    assert names == sorted(names)
    h100 = next(n for n in inv["nodes"] if n["name"] == "gpu-h100-0")
    assert h100["product"] == "NVIDIA-H100-80GB-HBM3"
    assert h100["memory_mib"] == 81559
    assert h100["gpu_count"] == 8
    assert h100["mig_strategy"] == "none"
    assert h100["driver_version"] == "580.95.05"
    assert h100["cuda_version"] == "13.0"
    assert h100["resources"]["nvidia.com/gpu"] == {
        "kind": "gpu", "mig_profile": None, "capacity": 8, "allocatable": 8, "in_use": 0, "free": 8,
    }
    a100 = next(n for n in inv["nodes"] if n["name"] == "gpu-a100-mig-0")
    assert a100["mig_strategy"] == "mixed"
    assert a100["resources"]["nvidia.com/mig-1g.10gb"]["allocatable"] == 16
    assert a100["resources"]["nvidia.com/mig-3g.40gb"]["mig_profile"] == "3g.40gb"
    t4 = next(n for n in inv["nodes"] if n["name"] == "gpu-t4-0")
    assert t4["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    l4 = next(n for n in inv["nodes"] if n["name"] == "gpu-l4-shared-0")
    assert l4["resources"]["nvidia.com/gpu.shared"]["kind"] == "shared"
    assert l4["sharing_strategy"] == "time-slicing" and l4["replicas"] == 4


def test_include_cpu_nodes(nodes):
    inv = build_inventory(nodes, [], include_cpu_nodes=True)
    cpu = next(n for n in inv["nodes"] if n["name"] == "cpu-0")
    assert cpu["gpu_present"] is False and cpu["resources"] == {}
    assert inv["summary"]["nodes"] == len(nodes)


def test_in_use_counts_only_active_bound_pods(nodes):
    pods = [
        pod("a", "gpu-h100-0", containers=[gpu(2)]),
        pod("b", "gpu-h100-0", phase="Pending", containers=[gpu(1)]),  # bound, not started yet: holds GPUs
        pod("done", "gpu-h100-0", phase="Succeeded", containers=[gpu(4)]),
        pod("failed", "gpu-h100-1", phase="Failed", containers=[gpu(4)]),
        pod("unbound", None, phase="Pending", containers=[gpu(8)]),
        pod("mig", "gpu-a100-mig-0", containers=[gpu(3, "nvidia.com/mig-1g.10gb")]),
        pod("cpu-only", "cpu-0", containers=[{"name": "c", "resources": {"requests": {"cpu": "1"}}}]),
    ]
    inv = build_inventory(nodes, pods)
    h100 = next(n for n in inv["nodes"] if n["name"] == "gpu-h100-0")
    assert h100["resources"]["nvidia.com/gpu"]["in_use"] == 3
    assert h100["resources"]["nvidia.com/gpu"]["free"] == 5
    assert [p["name"] for p in h100["pods"]] == ["a", "b"]
    a100 = next(n for n in inv["nodes"] if n["name"] == "gpu-a100-mig-0")
    assert a100["resources"]["nvidia.com/mig-1g.10gb"]["in_use"] == 3
    summary = inv["summary"]
    assert summary["resources"]["nvidia.com/gpu"]["in_use"] == 3
    assert summary["products"]["NVIDIA-H100-80GB-HBM3"]["free_gpus"] == 16 - 3
    assert summary["products"]["NVIDIA-A100-SXM4-80GB"]["resources"]["nvidia.com/mig-1g.10gb"]["free"] == 13


def test_cordoned_and_not_ready_nodes_are_not_free(nodes):
    nodes = [dict(n, spec=dict(n["spec"]), status=dict(n["status"])) for n in nodes]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    by_name["gpu-h100-1"]["spec"]["unschedulable"] = True
    inv = build_inventory(nodes, [])
    slot = inv["summary"]["products"]["NVIDIA-H100-80GB-HBM3"]
    assert slot["free_gpus"] == 8
    assert slot["resources"]["nvidia.com/gpu"]["unavailable"] == 8
    assert inv["summary"]["schedulable_gpu_nodes"] == inv["summary"]["gpu_nodes"] - 1
    by_name["gpu-h100-0"]["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    inv = build_inventory(nodes, [])
    slot = inv["summary"]["products"]["NVIDIA-H100-80GB-HBM3"]
    assert slot["free_gpus"] == 0
    assert slot["resources"]["nvidia.com/gpu"]["unavailable"] == 16
    assert next(n for n in inv["nodes"] if n["name"] == "gpu-h100-0")["ready"] is False
