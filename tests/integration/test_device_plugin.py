"""device_plugin against the real control plane: kwok GPU nodes of tests/cluster/fleet.yaml, real
DaemonSet controller and scheduler. The module runs as Ansible runs it; the role through ansible-playbook."""

from __future__ import annotations

import uuid

import pytest
import yaml

from k8s_helpers import ROOT, run_module, wait_until
from test_playbooks import ansible_playbook

pytestmark = pytest.mark.integration

FLEET = yaml.safe_load((ROOT / "tests" / "cluster" / "fleet.yaml").read_text())
# Every node of a fleet group with GPUs, the tainted T4 included; never the CPU node.
GPU_NODES = {"%s-%d" % (g["name"], i) for g in FLEET["groups"] if g.get("gpu") for i in range(g["count"])}
CPU_NODES = {"%s-%d" % (g["name"], i) for g in FLEET["groups"] if not g.get("gpu") for i in range(g["count"])}
SELECTOR = "app.kubernetes.io/name=nvidia-device-plugin"


@pytest.fixture
def plugin_namespace(k8s):
    """A namespace name of its own, left for the module to create; deleted afterwards whatever happened."""
    name = "dp-%s" % uuid.uuid4().hex[:8]
    yield name
    if k8s.get("v1", "Namespace", name) is not None:
        k8s.resource("v1", "Namespace").delete(name=name)


@pytest.fixture
def runtime_class(k8s):
    """The cluster-wide RuntimeClass nvidia as it was before the test; removed afterwards if the test made it."""
    before = k8s.get("node.k8s.io/v1", "RuntimeClass", "nvidia")
    yield before
    after = k8s.get("node.k8s.io/v1", "RuntimeClass", "nvidia")
    if before is None and after is not None:
        k8s.resource("node.k8s.io/v1", "RuntimeClass").delete(name="nvidia")
    elif before is not None and after is None:
        # it was the collection's alone (an earlier `make run`) and the test removed it: put it back
        k8s.resource("node.k8s.io/v1", "RuntimeClass").create(body={
            "apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"}, "handler": before["handler"]})


def device_plugin(kubeconfig, check_mode=False, **args):
    return run_module("device_plugin", dict(kubeconfig=kubeconfig, _ansible_diff=True, **args), check_mode=check_mode)


def plugin_pods(k8s, namespace):
    return k8s.list("v1", "Pod", namespace=namespace, label_selector=SELECTOR)


def test_life_cycle_on_the_gpu_fleet(kubeconfig, k8s, plugin_namespace, runtime_class):
    args = dict(namespace=plugin_namespace)

    checked = device_plugin(kubeconfig, check_mode=True, **args)
    assert checked["rc"] == 0, checked.get("msg")
    assert checked["changed"] is True
    assert [o["ref"] for o in checked["objects"]] == [
        "Namespace/%s" % plugin_namespace, "ConfigMap %s/nvidia-device-plugin-config" % plugin_namespace,
        "RuntimeClass/nvidia", "DaemonSet %s/nvidia-device-plugin" % plugin_namespace,
    ]
    assert any(d["after_header"].startswith("DaemonSet") for d in checked["diff"])
    assert k8s.get("v1", "Namespace", plugin_namespace) is None, "check mode wrote the namespace"
    assert k8s.get("node.k8s.io/v1", "RuntimeClass", "nvidia") == runtime_class, "check mode wrote the RuntimeClass"

    applied = device_plugin(kubeconfig, **args)
    assert applied["rc"] == 0, applied.get("msg")
    assert applied["changed"] is True
    rollout = applied["rollout"]
    assert set(rollout["nodes"]) == GPU_NODES
    assert rollout["desired"] == rollout["updated"] == rollout["available"] == len(GPU_NODES)
    pods = plugin_pods(k8s, plugin_namespace)
    on_nodes = sorted(p["spec"]["nodeName"] for p in pods)
    assert on_nodes == sorted(GPU_NODES), "one pod per GPU node"
    assert "gpu-t4-0" in on_nodes, "the nvidia.com/gpu:NoSchedule taint is tolerated"
    assert not CPU_NODES & set(on_nodes)
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert {p["spec"].get("runtimeClassName") for p in pods} == {"nvidia"}
    assert {p["spec"].get("priorityClassName") for p in pods} == {"system-node-critical"}
    assert k8s.get("node.k8s.io/v1", "RuntimeClass", "nvidia")["handler"] == "nvidia"
    labels = k8s.get("v1", "Namespace", plugin_namespace)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"

    again = device_plugin(kubeconfig, **args)
    assert again["rc"] == 0 and again["changed"] is False
    assert not any(o["changed"] for o in again["objects"])
    assert again.get("diff") == []
    rechecked = device_plugin(kubeconfig, check_mode=True, **args)
    assert rechecked["rc"] == 0 and rechecked["changed"] is False

    removal_checked = device_plugin(kubeconfig, check_mode=True, state="absent", **args)
    assert removal_checked["rc"] == 0 and removal_checked["changed"] is True
    assert k8s.get("apps/v1", "DaemonSet", "nvidia-device-plugin", plugin_namespace) is not None, "check mode deleted"

    removed = device_plugin(kubeconfig, state="absent", **args)
    assert removed["rc"] == 0, removed.get("msg")
    assert removed["changed"] is True
    assert k8s.get("apps/v1", "DaemonSet", "nvidia-device-plugin", plugin_namespace) is None
    wait_until(lambda: k8s.get("v1", "Namespace", plugin_namespace) is None, 60, "namespace %s deleted" % plugin_namespace)
    if runtime_class is None:
        assert k8s.get("node.k8s.io/v1", "RuntimeClass", "nvidia") is None
    else:
        # made by someone else (for example the cluster's installer): kept
        assert k8s.get("node.k8s.io/v1", "RuntimeClass", "nvidia") is not None

    removed_again = device_plugin(kubeconfig, state="absent", **args)
    assert removed_again["rc"] == 0 and removed_again["changed"] is False


def _namespace_name():
    return "dp-%s" % uuid.uuid4().hex[:8]


@pytest.fixture
def earlier_install(request, k8s, kubeconfig):
    """None, or the namespace of an install made before the test, as `make run` leaves one; removed afterwards."""
    if not request.param:
        yield None
        return
    name = _namespace_name()
    made = device_plugin(kubeconfig, namespace=name, wait=False)
    assert made["rc"] == 0, made.get("msg")
    yield name
    device_plugin(kubeconfig, namespace=name, state="absent")
    if k8s.get("v1", "Namespace", name) is not None:
        k8s.resource("v1", "Namespace").delete(name=name)


@pytest.fixture
def second_namespace(k8s):
    name = _namespace_name()
    yield name
    if k8s.get("v1", "Namespace", name) is not None:
        k8s.resource("v1", "Namespace").delete(name=name)


def daemonsets_under_the_runtime_class(k8s):
    """Every DaemonSet of the cluster whose pods name the RuntimeClass nvidia, read from the API."""
    return sorted("%s/%s" % (d["metadata"]["namespace"], d["metadata"]["name"]) for d in k8s.list("apps/v1", "DaemonSet")
                  if d["spec"]["template"]["spec"].get("runtimeClassName") == "nvidia"
                  and not d["metadata"].get("deletionTimestamp"))


@pytest.mark.parametrize("earlier_install", [False, True], ids=["alone", "beside-an-earlier-install"], indirect=True)
def test_removing_one_install_keeps_the_runtime_class_that_another_install_uses(
        kubeconfig, k8s, runtime_class, earlier_install, plugin_namespace, second_namespace):
    others_before = [d for d in daemonsets_under_the_runtime_class(k8s) if not d.startswith("%s/" % earlier_install)]
    for namespace in (plugin_namespace, second_namespace):
        made = device_plugin(kubeconfig, namespace=namespace, wait=False)
        assert made["rc"] == 0, made.get("msg")
    shared = k8s.get("node.k8s.io/v1", "RuntimeClass", "nvidia")
    assert shared["handler"] == "nvidia"

    checked = device_plugin(kubeconfig, check_mode=True, state="absent", namespace=plugin_namespace)
    assert checked["rc"] == 0, checked.get("msg")
    assert "RuntimeClass/nvidia" not in [o["ref"] for o in checked["objects"]]

    removed = device_plugin(kubeconfig, state="absent", namespace=plugin_namespace)
    assert removed["rc"] == 0, removed.get("msg")
    assert "RuntimeClass/nvidia" not in [o["ref"] for o in removed["objects"]]
    assert any(k.startswith("RuntimeClass/nvidia: still used by DaemonSet") and "%s/nvidia-device-plugin" % second_namespace in k
               for k in removed["kept"]), removed["kept"]
    assert k8s.get("apps/v1", "DaemonSet", "nvidia-device-plugin", plugin_namespace) is None
    kept = k8s.get("node.k8s.io/v1", "RuntimeClass", "nvidia")
    assert kept is not None, "removing one install deleted the RuntimeClass the other install runs under"
    assert kept["metadata"]["uid"] == shared["metadata"]["uid"], "the RuntimeClass was deleted and made again"
    assert "%s/nvidia-device-plugin" % second_namespace in daemonsets_under_the_runtime_class(k8s)

    removed_last = device_plugin(kubeconfig, state="absent", namespace=second_namespace)
    assert removed_last["rc"] == 0, removed_last.get("msg")
    left = k8s.get("node.k8s.io/v1", "RuntimeClass", "nvidia")
    if earlier_install or others_before:
        # the earlier install (or another DaemonSet the cluster already had) still runs under it
        assert left is not None and left["metadata"]["uid"] == shared["metadata"]["uid"]
        assert "RuntimeClass/nvidia" not in [o["ref"] for o in removed_last["objects"]]
    elif runtime_class is None:
        assert left is None, "the last install removed left its RuntimeClass behind"
        assert "RuntimeClass/nvidia" in [o["ref"] for o in removed_last["objects"]]
    else:
        # made by someone else before the test: only the collection's fields were withdrawn
        assert left is not None


def test_mig_and_time_slicing_config_and_a_config_change_rolls_the_pods(kubeconfig, k8s, plugin_namespace):
    args = dict(namespace=plugin_namespace, runtime_class=False, mig_strategy="mixed",
                time_slicing={"replicas": 2, "fail_requests_greater_than_one": True, "resources": ["nvidia.com/mig-1g.10gb"]})
    first = device_plugin(kubeconfig, **args)
    assert first["rc"] == 0, first.get("msg")
    config = yaml.safe_load(k8s.get("v1", "ConfigMap", "nvidia-device-plugin-config", plugin_namespace)["data"]["config.yaml"])
    assert config == {
        "version": "v1",
        "flags": {"migStrategy": "mixed", "failOnInitError": True},
        "sharing": {"timeSlicing": {"renameByDefault": False, "failRequestsGreaterThanOne": True,
                                    "resources": [{"name": "nvidia.com/mig-1g.10gb", "replicas": 2}]}},
    }
    container = k8s.get("apps/v1", "DaemonSet", "nvidia-device-plugin", plugin_namespace)["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["capabilities"] == {"add": ["SYS_ADMIN"]}
    old_pods = {p["metadata"]["name"] for p in plugin_pods(k8s, plugin_namespace)}

    args["time_slicing"] = dict(args["time_slicing"], replicas=4)
    changed = device_plugin(kubeconfig, **args)
    assert changed["rc"] == 0, changed.get("msg")
    assert changed["changed"] is True
    assert [o["ref"].split()[0] for o in changed["objects"] if o["changed"]] == ["ConfigMap", "DaemonSet"]
    assert "replicas: 4" in changed["config"]
    new_pods = plugin_pods(k8s, plugin_namespace)
    assert changed["rollout"]["updated"] == len(GPU_NODES)
    assert not old_pods & {p["metadata"]["name"] for p in new_pods if not p["metadata"].get("deletionTimestamp")}


@pytest.mark.parametrize(
    "args, message",
    [
        ({"time_slicing": {"replicas": 0}}, "time_slicing.replicas: must be 1 or more, got 0"),
        ({"mig_strategy": "all"}, "value of mig_strategy must be one of: none, single, mixed, got: all"),
        ({"image": "nvcr.io/nvidia/k8s-device-plugin:latest"}, "image: nvcr.io/nvidia/k8s-device-plugin:latest uses the tag latest"),
        ({"node_selector": {"nvidia.com/gpu.present": True}}, "node_selector.nvidia.com/gpu.present: label values are strings"),
        ({"priority_class_name": "gpu-critical"}, "priority_class_name: the PriorityClass gpu-critical does not exist"),
        ({"time_slicing": {"replicas": 2, "resources": ["nvidia.com/mig-1g.10gb"]}},
         "nvidia.com/mig-1g.10gb exists only with mig_strategy=mixed"),
    ],
)
def test_bad_input_fails_with_the_field_and_writes_nothing(kubeconfig, k8s, plugin_namespace, runtime_class, args, message):
    result = device_plugin(kubeconfig, namespace=plugin_namespace, **args)
    assert result["rc"] == 1 and result["failed"] is True
    assert message in result["msg"]
    assert k8s.get("v1", "Namespace", plugin_namespace) is None
    assert k8s.get("node.k8s.io/v1", "RuntimeClass", "nvidia") == runtime_class


def test_a_rollout_that_cannot_finish_says_why_and_absent_keeps_a_namespace_made_by_others(kubeconfig, k8s, namespace):
    # A quota of 2 pods lets the DaemonSet controller create 2 of its pods and refuse the rest.
    k8s.resource("v1", "ResourceQuota").create(body={
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "two-pods", "namespace": namespace},
        "spec": {"hard": {"pods": "2"}},
    })
    result = device_plugin(kubeconfig, namespace=namespace, runtime_class=False, wait_timeout=5)
    assert result["rc"] == 1
    assert "Timed out after 5s waiting for DaemonSet %s/nvidia-device-plugin" % namespace in result["msg"]
    assert "%d node(s) targeted" % len(GPU_NODES) in result["msg"]
    assert "event FailedCreate" in result["msg"] and "exceeded quota: two-pods" in result["msg"]

    removed = device_plugin(kubeconfig, namespace=namespace, runtime_class=False, state="absent")
    assert removed["rc"] == 0, removed.get("msg")
    assert removed["changed"] is True
    assert any(k.startswith("Namespace/%s: also managed by" % namespace) for k in removed["kept"])
    assert k8s.get("apps/v1", "DaemonSet", "nvidia-device-plugin", namespace) is None
    assert k8s.get("v1", "ConfigMap", "nvidia-device-plugin-config", namespace) is None
    kept = k8s.get("v1", "Namespace", namespace)
    assert kept is not None and not kept["metadata"].get("deletionTimestamp")
    # this module's labels were withdrawn, the namespace's own stay
    assert not any(k.startswith("pod-security.kubernetes.io/") for k in kept["metadata"]["labels"])
    assert kept["metadata"]["labels"]["kubernetes.io/metadata.name"] == namespace


def test_role_converges_in_four_steps(kubeconfig, k8s, plugin_namespace):
    proc = ansible_playbook(ROOT / "tests/integration/playbooks/device_plugin_role.yml", kubeconfig,
                            "-e", "test_kubeconfig=" + kubeconfig, "-e", "test_namespace=" + plugin_namespace)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "failed=0" in proc.stdout and "rescued=1" in proc.stdout
    assert k8s.get("apps/v1", "DaemonSet", "nvidia-device-plugin", plugin_namespace) is None
