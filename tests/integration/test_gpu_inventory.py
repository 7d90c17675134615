"""gpu_inventory against the real control plane: kwok nodes of tests/cluster/fleet.yaml, real scheduler."""

from __future__ import annotations

import pytest

from k8s_helpers import gpu_pod, pod_phase, run_module, wait_until

pytestmark = pytest.mark.integration


def inventory(kubeconfig, **args):
    result = run_module("gpu_inventory", dict(kubeconfig=kubeconfig, **args))
    assert result["rc"] == 0, result.get("msg")
    assert result["changed"] is False
    return result


def node(result, name):
    return next(n for n in result["nodes"] if n["name"] == name)


def test_reports_the_simulated_fleet(kubeconfig):
    result = inventory(kubeconfig)
    names = {n["name"] for n in result["nodes"]}
    assert {"gpu-h100-0", "gpu-h100-1", "gpu-a100-mig-0", "gpu-t4-0", "gpu-l4-shared-0"} <= names
    assert "cpu-0" not in names
    h100 = node(result, "gpu-h100-0")
    assert h100["ready"] is True and h100["schedulable"] is True
    assert h100["product"] == "NVIDIA-H100-80GB-HBM3" and h100["memory_mib"] == 81559
    assert h100["resources"]["nvidia.com/gpu"]["allocatable"] == 8
    a100 = node(result, "gpu-a100-mig-0")
    assert a100["mig_strategy"] == "mixed"
    assert {k: v["allocatable"] for k, v in a100["resources"].items()} == {
        "nvidia.com/gpu": 2, "nvidia.com/mig-1g.10gb": 16, "nvidia.com/mig-2g.20gb": 6, "nvidia.com/mig-3g.40gb": 4,
    }
    assert node(result, "gpu-t4-0")["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert node(result, "gpu-l4-shared-0")["resources"]["nvidia.com/gpu.shared"]["kind"] == "shared"
    products = result["summary"]["products"]
    assert products["NVIDIA-H100-80GB-HBM3"]["nodes"] == 2
    assert products["NVIDIA-H100-80GB-HBM3"]["resources"]["nvidia.com/gpu"]["allocatable"] == 16
    assert result["summary"]["nodes"] >= 6


def test_label_selector_and_cpu_nodes(kubeconfig):
    result = inventory(kubeconfig, label_selector="nvidia.com/mig.strategy=mixed")
    assert [n["name"] for n in result["nodes"]] == ["gpu-a100-mig-0"]
    result = inventory(kubeconfig, label_selector="node.kubernetes.io/instance-type=m7i.4xlarge", include_cpu_nodes=True)
    assert [(n["name"], n["gpu_present"]) for n in result["nodes"]] == [("cpu-0", False)]


def test_check_mode_reads_the_same(kubeconfig):
    normal = inventory(kubeconfig)
    checked = run_module("gpu_inventory", {"kubeconfig": kubeconfig}, check_mode=True)
    assert checked["rc"] == 0 and checked["changed"] is False
    assert checked["summary"] == normal["summary"]


def test_pods_requesting_gpus_change_in_use(kubeconfig, k8s, namespace):
    before = inventory(kubeconfig)
    pods = k8s.resource("v1", "Pod")
    pods.create(body=gpu_pod("llm", namespace, {"nvidia.com/gpu": 3}, {"kubernetes.io/hostname": "gpu-h100-0"}))
    pods.create(body=gpu_pod("small", namespace, {"nvidia.com/mig-1g.10gb": 2}))
    pods.create(body=gpu_pod("shared", namespace, {"nvidia.com/gpu.shared": 1}))
    for name in ("llm", "small", "shared"):
        wait_until(lambda n=name: pod_phase(k8s, n, namespace) == "Running", 60, "pod %s Running" % name)
    assert k8s.get("v1", "Pod", "small", namespace)["spec"]["nodeName"] == "gpu-a100-mig-0"
    assert k8s.get("v1", "Pod", "shared", namespace)["spec"]["nodeName"] == "gpu-l4-shared-0"

    during = inventory(kubeconfig)

    def used(result, node_name, resource):
        return node(result, node_name)["resources"][resource]["in_use"]

    assert used(during, "gpu-h100-0", "nvidia.com/gpu") == used(before, "gpu-h100-0", "nvidia.com/gpu") + 3
    assert used(during, "gpu-a100-mig-0", "nvidia.com/mig-1g.10gb") == used(before, "gpu-a100-mig-0", "nvidia.com/mig-1g.10gb") + 2
    assert used(during, "gpu-l4-shared-0", "nvidia.com/gpu.shared") == used(before, "gpu-l4-shared-0", "nvidia.com/gpu.shared") + 1
    h100 = node(during, "gpu-h100-0")
    assert {"namespace": namespace, "name": "llm", "phase": "Running", "requests": {"nvidia.com/gpu": 3}} in h100["pods"]
    h100_free = during["summary"]["products"]["NVIDIA-H100-80GB-HBM3"]["free_gpus"]
    assert h100_free == before["summary"]["products"]["NVIDIA-H100-80GB-HBM3"]["free_gpus"] - 3

    for name in ("llm", "small", "shared"):
        pods.delete(name=name, namespace=namespace)
    wait_until(lambda: all(k8s.get("v1", "Pod", n, namespace) is None for n in ("llm", "small", "shared")), 60, "pods gone")
    after = inventory(kubeconfig)
    assert used(after, "gpu-h100-0", "nvidia.com/gpu") == used(before, "gpu-h100-0", "nvidia.com/gpu")
    assert after["summary"]["resources"] == before["summary"]["resources"]


def _scheduling_message(k8s, name, namespace):
    pod = k8s.get("v1", "Pod", name, namespace) or {}
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            return condition.get("message")
    return None


def test_too_many_gpus_stay_pending_with_the_schedulers_reason(kubeconfig, k8s, namespace):
    before = inventory(kubeconfig)
    k8s.resource("v1", "Pod").create(body=gpu_pod("huge", namespace, {"nvidia.com/gpu": 9}))
    message = wait_until(lambda: _scheduling_message(k8s, "huge", namespace), 60, "the scheduler's verdict")
    assert "Insufficient nvidia.com/gpu" in message
    assert pod_phase(k8s, "huge", namespace) == "Pending"
    # an unbound pod holds nothing
    assert inventory(kubeconfig)["summary"]["resources"] == before["summary"]["resources"]


def test_taints_keep_pods_off_until_tolerated(k8s, namespace):
    t4 = {"nvidia.com/gpu.product": "Tesla-T4"}
    pods = k8s.resource("v1", "Pod")
    pods.create(body=gpu_pod("intolerant", namespace, {"nvidia.com/gpu": 1}, t4))
    message = wait_until(lambda: _scheduling_message(k8s, "intolerant", namespace), 60, "the scheduler's verdict")
    assert "untolerated taint" in message
    toleration = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    pods.create(body=gpu_pod("tolerant", namespace, {"nvidia.com/gpu": 1}, t4, toleration))
    wait_until(lambda: pod_phase(k8s, "tolerant", namespace) == "Running", 60, "tolerant pod Running")
    assert k8s.get("v1", "Pod", "tolerant", namespace)["spec"]["nodeName"] == "gpu-t4-0"
