"""diagnose_workload on pods, events and nodes shaped as the API server returns them.

The nodes are the simulated fleet of tests/cluster/fleet.yaml (2x 8x H100, A100 MIG mixed, tainted T4,
time-sliced L4, CPU node), built by tests/cluster/fleet.py and made Ready as kwok makes them. Pod
statuses and events carry the exact fields and texts the kube-scheduler and the kubelet write.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s import diagnose
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.diagnose import (
    diagnose_workload,
    label_selector,
    parse_scheduler_message,
    selector_matches,
    untolerated_taints,
)

CLUSTER = Path(__file__).resolve().parents[4] / "cluster"
NS = "serving"
SELECTOR = "app=resnet"

# Added to every pod by the DefaultTolerationSeconds admission plugin.
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]

SCHED_64 = ("0/6 nodes are available: 1 node(s) had untolerated taint(s), 5 Insufficient nvidia.com/gpu. no new claims "
            "to deallocate, preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling.")
SCHED_SELECTOR = ("0/6 nodes are available: 1 node(s) had untolerated taint(s), 5 node(s) didn't match Pod's node "
                  "affinity/selector. no new claims to deallocate, preemption: 0/6 nodes are available: 6 Preemption is "
                  "not helpful for scheduling.")


def _fleet_nodes():
    spec = importlib.util.spec_from_file_location("fleet", CLUSTER / "fleet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    nodes = module.build_nodes(yaml.safe_load((CLUSTER / "fleet.yaml").read_text()))
    for node in nodes:
        node["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
    return nodes


NODES = _fleet_nodes()


class FakeClient:
    """Stands in for K8sClient: list() answers from the objects given, with equality label selectors."""

    def __init__(self, pods=(), events=(), bound=()):
        self.pods = list(pods)
        self.events = list(events)
        self.bound = list(bound)  # pods of other workloads already running on nodes
        self.calls = []

    def list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        self.calls.append((kind, namespace, label_selector, field_selector))
        if kind == "Node":
            return copy.deepcopy(NODES)
        if kind == "Event":
            return [e for e in self.events if e["involvedObject"]["namespace"] == namespace]
        if kind == "Pod":
            pods = self.pods + self.bound
            if namespace:
                pods = [p for p in pods if p["metadata"]["namespace"] == namespace]
            wanted = dict(part.split("=", 1) for part in (label_selector or "").split(",") if part)
            return [p for p in pods if all(p["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())]
        raise AssertionError("unexpected list of %s" % kind)


def make_pod(name="resnet-7c9d-x1", gpus=1, node=None, node_selector=None, tolerations=None, resource="nvidia.com/gpu",
             status=None, namespace=NS, labels=None, cpu="2"):
    limits = {"cpu": cpu, "memory": "8Gi"}
    if gpus:
        limits[resource] = str(gpus)
    spec = {
        "containers": [{
            "name": "model", "image": "nvcr.io/nvidia/tritonserver:25.01-py3",
            "resources": {"limits": limits, "requests": dict(limits)},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
        }],
        "restartPolicy": "Always", "schedulerName": "default-scheduler", "dnsPolicy": "ClusterFirst",
        "tolerations": list(tolerations or []) + DEFAULT_TOLERATIONS,
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": "uid-" + name,
                     "labels": labels if labels is not None else {"app": "resnet", "pod-template-hash": "7c9d"}},
        "spec": spec,
        "status": status or {"phase": "Pending"},
    }


def unschedulable_status(message):
    return {"phase": "Pending", "qosClass": "Guaranteed", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
        "lastTransitionTime": "2026-11-26T07:21:04Z", "lastProbeTime": None}]}


def event(pod, reason, message, kind="Warning", field_path=None, when="2026-11-26T07:21:04Z", count=None, component="kubelet"):
    ref = {"kind": "Pod", "namespace": pod["metadata"]["namespace"], "name": pod["metadata"]["name"],
           "uid": pod["metadata"]["uid"], "apiVersion": "v1"}
    if field_path:
        ref["fieldPath"] = field_path
    return {"metadata": {"name": "%s.%s" % (pod["metadata"]["name"], reason.lower()), "namespace": ref["namespace"]},
            "involvedObject": ref, "reason": reason, "message": message, "type": kind, "count": count,
            "lastTimestamp": when if component == "kubelet" else None, "eventTime": None if component == "kubelet" else when,
            "source": {"component": component} if component == "kubelet" else {}, "reportingComponent": component}


def scheduled_status(container_status, phase="Running", ready=False):
    return {
        "phase": phase, "hostIP": "10.0.0.2", "podIP": "10.244.1.7", "startTime": "2026-11-26T07:20:00Z",
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "True" if ready else "False", "reason": None if ready else "ContainersNotReady",
             "message": None if ready else "containers with unready status: [model]"},
            {"type": "ContainersReady", "status": "True" if ready else "False"},
            {"type": "PodScheduled", "status": "True"},
        ],
        "containerStatuses": [container_status],
    }


def crash_status(restarts=4, reason="Error", exit_code=1):
    return scheduled_status({
        "name": "model", "image": "nvcr.io/nvidia/tritonserver:25.01-py3", "imageID": "", "ready": False, "started": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": "CrashLoopBackOff",
                              "message": "back-off 1m20s restarting failed container=model pod=resnet-7c9d-x1_serving(uid)"}},
        "lastState": {"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": "2026-11-26T07:20:10Z",
                                     "finishedAt": "2026-11-26T07:20:12Z", "containerID": "containerd://abc"}},
    })


def running_pod(name, node, gpus, namespace="other"):
    return make_pod(name=name, gpus=gpus, node=node, namespace=namespace, labels={"app": "other"},
                    status=scheduled_status({"name": "model", "ready": True, "restartCount": 0,
                                             "state": {"running": {"startedAt": "2026-11-26T07:00:00Z"}}}, ready=True))


def only(findings):
    assert len(findings) == 1, findings
    return findings[0]


# --- scheduler message parsing -------------------------------------------------------------------

@pytest.mark.parametrize("message, expected", [
    (SCHED_64, {"available": 0, "total": 6,
                "reasons": {"node(s) had untolerated taint(s)": 1, "Insufficient nvidia.com/gpu": 5}}),
    ("0/6 nodes are available: 2 Insufficient nvidia.com/gpu, 1 node(s) had untolerated taint {nvidia.com/gpu: present}, "
     "3 node(s) didn't match Pod's node affinity/selector. preemption: 0/6 nodes are available: 2 No preemption victims "
     "found for incoming pod, 4 Preemption is not helpful for scheduling.",
     {"available": 0, "total": 6, "reasons": {
         "Insufficient nvidia.com/gpu": 2,
         "node(s) had untolerated taint {nvidia.com/gpu: present}": 1,
         "node(s) didn't match Pod's node affinity/selector": 3}}),
    ("0/1 nodes are available: 1 Insufficient nvidia.com/mig-3g.40gb.",
     {"available": 0, "total": 1, "reasons": {"Insufficient nvidia.com/mig-3g.40gb": 1}}),
    ("0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory.",
     {"available": 0, "total": 3, "reasons": {"Insufficient cpu": 3, "Insufficient memory": 3}}),
    ("no nodes available to schedule pods", None),
    ("", None),
])
def test_parse_scheduler_message(message, expected):
    assert parse_scheduler_message(message) == expected


@pytest.mark.parametrize("selector, expected", [
    ("app=resnet", "app=resnet"),
    ({"app": "resnet", "tier": "gpu"}, "app=resnet,tier=gpu"),
    ({"matchLabels": {"app": "resnet"}, "matchExpressions": [
        {"key": "track", "operator": "In", "values": ["canary", "stable"]},
        {"key": "legacy", "operator": "DoesNotExist"}]}, "app=resnet,track in (canary,stable),!legacy"),
])
def test_label_selector(selector, expected):
    assert label_selector(selector) == expected


def test_selector_matches_node_selector_and_required_affinity():
    h100 = next(n for n in NODES if n["metadata"]["name"] == "gpu-h100-0")
    t4 = next(n for n in NODES if n["metadata"]["name"] == "gpu-t4-0")
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In", "values": ["Tesla-T4"]}]},
        {"matchExpressions": [{"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["80000"]},
                              {"key": "nvidia.com/mig.strategy", "operator": "NotIn", "values": ["mixed"]}]},
    ]}}}
    assert selector_matches({"affinity": affinity}, h100)
    assert selector_matches({"affinity": affinity}, t4)
    assert not selector_matches({"affinity": affinity, "nodeSelector": {"nvidia.com/gpu.product": "Tesla-T4"}}, h100)
    assert not selector_matches({"nodeSelector": {"nvidia.com/gpu.present": "false"}}, t4)


def test_untolerated_taints_honours_exists_equal_and_effect():
    t4 = next(n for n in NODES if n["metadata"]["name"] == "gpu-t4-0")
    assert untolerated_taints({"tolerations": DEFAULT_TOLERATIONS}, t4) == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    for toleration in ({"key": "nvidia.com/gpu", "operator": "Exists"},
                       {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"},
                       {"operator": "Exists"}):
        assert untolerated_taints({"tolerations": [toleration]}, t4) == []
    for toleration in ({"key": "nvidia.com/gpu", "value": "absent"},
                       {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}):
        assert untolerated_taints({"tolerations": [toleration]}, t4) != []


# --- scheduling causes ---------------------------------------------------------------------------

def test_insufficient_gpu_names_resource_and_the_largest_nodes():
    pod = make_pod(gpus=64, status=unschedulable_status(SCHED_64))
    client = FakeClient([pod], [event(pod, "FailedScheduling", SCHED_64, component="default-scheduler")])
    finding = only(diagnose_workload(client, NS, SELECTOR))
    assert finding["cause"] == "insufficient_gpu"
    details = finding["details"]
    assert details["resource"] == "nvidia.com/gpu" and details["requested"] == 64
    assert details["largest_allocatable"] == 8
    h100 = [n for n in details["nodes"] if n["product"] == "NVIDIA-H100-80GB-HBM3"]
    assert [(n["node"], n["allocatable"], n["free"]) for n in h100] == [("gpu-h100-0", 8, 8), ("gpu-h100-1", 8, 8)]
    assert details["fits_now"] == [] and details["fits_if_allowed"] == []
    assert details["scheduler"]["reasons"] == {"node(s) had untolerated taint(s)": 1, "Insufficient nvidia.com/gpu": 5}
    assert "64 nvidia.com/gpu" in finding["message"]
    assert "gpu-h100-0 (NVIDIA-H100-80GB-HBM3: 8 allocatable, 8 free)" in finding["message"]
    assert "at most 8" in finding["message"]


def test_insufficient_gpu_counts_gpus_in_use_and_says_where_it_would_fit_if_allowed():
    # both H100 nodes full, the A100's 2 whole GPUs taken: 4 GPUs fit only on the tainted T4
    bound = [running_pod("train-a", "gpu-h100-0", 8), running_pod("train-b", "gpu-h100-1", 6),
             running_pod("notebook", "gpu-a100-mig-0", 2)]
    message = ("0/6 nodes are available: 1 node(s) had untolerated taint(s), 5 Insufficient nvidia.com/gpu. "
               "preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling.")
    pod = make_pod(gpus=4, status=unschedulable_status(message))
    finding = only(diagnose_workload(FakeClient([pod], bound=bound), NS, SELECTOR))
    assert finding["cause"] == "insufficient_gpu"
    details = finding["details"]
    assert details["fits_if_allowed"] == [{"node": "gpu-t4-0", "blocked_by": ["taint nvidia.com/gpu=present:NoSchedule"]}]
    assert details["fits_when_freed"] == ["gpu-h100-0", "gpu-h100-1"]
    free = {n["node"]: (n["allocatable"], n["in_use"], n["free"]) for n in details["nodes"]}
    assert free["gpu-h100-0"] == (8, 8, 0) and free["gpu-h100-1"] == (8, 6, 2) and free["gpu-a100-mig-0"] == (2, 2, 0)
    assert "gpu-t4-0 if the taint nvidia.com/gpu=present:NoSchedule allowed it" in finding["message"]


def test_node_selector_mismatch_lists_the_products_present():
    pod = make_pod(gpus=1, node_selector={"nvidia.com/gpu.product": "NVIDIA-B200"}, status=unschedulable_status(SCHED_SELECTOR))
    finding = only(diagnose_workload(FakeClient([pod]), NS, SELECTOR))
    assert finding["cause"] == "node_selector_mismatch"
    assert finding["details"]["label_values"]["nvidia.com/gpu.product"] == [
        "NVIDIA-A100-SXM4-80GB", "NVIDIA-H100-80GB-HBM3", "NVIDIA-L4-SHARED", "Tesla-T4"]
    assert "nvidia.com/gpu.product=NVIDIA-B200" in finding["message"]
    assert ("it would fit on gpu-a100-mig-0, gpu-h100-0, gpu-h100-1 if the node selector/affinity allowed it, "
            "and on gpu-t4-0 if the node selector/affinity and taint nvidia.com/gpu=present:NoSchedule allowed it") in finding["message"]


def test_untolerated_taint_names_node_taint_and_toleration():
    pod = make_pod(gpus=1, node_selector={"nvidia.com/gpu.product": "Tesla-T4"}, status=unschedulable_status(SCHED_SELECTOR))
    finding = only(diagnose_workload(FakeClient([pod]), NS, SELECTOR))
    assert finding["cause"] == "untolerated_taint"
    assert finding["details"]["taints"] == {"nvidia.com/gpu=present:NoSchedule": ["gpu-t4-0"]}
    assert "{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}" in finding["message"]


def test_tolerating_the_taint_moves_the_cause_to_gpu_shortage_on_the_t4():
    bound = [running_pod("other-t4", "gpu-t4-0", 4)]
    message = "0/6 nodes are available: 1 Insufficient nvidia.com/gpu, 5 node(s) didn't match Pod's node affinity/selector."
    pod = make_pod(gpus=2, node_selector={"nvidia.com/gpu.product": "Tesla-T4"},
                   tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                   status=unschedulable_status(message))
    finding = only(diagnose_workload(FakeClient([pod], bound=bound), NS, SELECTOR))
    assert finding["cause"] == "insufficient_gpu"
    assert finding["details"]["fits_when_freed"] == ["gpu-t4-0"]
    assert {f["node"] for f in finding["details"]["fits_if_allowed"]} == {"gpu-h100-0", "gpu-h100-1", "gpu-a100-mig-0"}


def test_mig_profile_shortage_names_the_mig_resource():
    message = "0/6 nodes are available: 1 node(s) had untolerated taint(s), 5 Insufficient nvidia.com/mig-3g.40gb."
    pod = make_pod(gpus=5, resource="nvidia.com/mig-3g.40gb", status=unschedulable_status(message))
    finding = only(diagnose_workload(FakeClient([pod]), NS, SELECTOR))
    assert finding["cause"] == "insufficient_gpu"
    assert finding["details"]["resource"] == "nvidia.com/mig-3g.40gb"
    assert finding["details"]["largest_allocatable"] == 4


def test_cpu_shortage_is_unschedulable_with_the_scheduler_message():
    message = "0/6 nodes are available: 1 node(s) had untolerated taint(s), 5 Insufficient cpu."
    pod = make_pod(gpus=0, cpu="500", status=unschedulable_status(message))
    finding = only(diagnose_workload(FakeClient([pod]), NS, SELECTOR))
    assert finding["cause"] == "unschedulable"
    assert "5 Insufficient cpu" in finding["message"]
    assert finding["details"]["scheduler"]["reasons"]["Insufficient cpu"] == 5


def test_the_scheduler_event_is_preferred_to_the_condition_and_the_latest_event_wins():
    pod = make_pod(gpus=64, status=unschedulable_status("0/6 nodes are available: 6 Insufficient cpu."))
    older = event(pod, "FailedScheduling", "0/6 nodes are available: 6 Insufficient memory.", when="2026-11-26T07:00:00Z",
                  component="default-scheduler")
    newer = event(pod, "FailedScheduling", SCHED_64, when="2026-11-26T07:21:00Z", component="default-scheduler")
    finding = only(diagnose_workload(FakeClient([pod], [newer, older]), NS, SELECTOR))
    assert finding["details"]["scheduler"]["message"] == SCHED_64


# --- kubelet causes ------------------------------------------------------------------------------

def test_image_pull_backoff_quotes_the_kubelet_and_says_the_tag_is_wrong():
    image = "nvcr.io/nvidia/tritonserver:25.01-py3-typo"
    status = scheduled_status({
        "name": "model", "image": image, "imageID": "", "ready": False, "started": False, "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "%s"' % image}},
        "lastState": {},
    }, phase="Pending")
    pod = make_pod(node="gpu-h100-0", status=status)
    pull = ('Failed to pull image "%s": rpc error: code = NotFound desc = failed to pull and unpack image "%s": '
            'failed to resolve reference "%s": %s: not found' % (image, image, image, image))
    events = [event(pod, "Pulling", 'Pulling image "%s"' % image, kind="Normal", field_path="spec.containers{model}"),
              event(pod, "Failed", pull, field_path="spec.containers{model}"),
              event(pod, "Failed", "Error: ErrImagePull", field_path="spec.containers{model}"),
              event(pod, "BackOff", 'Back-off pulling image "%s"' % image, field_path="spec.containers{model}")]
    finding = only(diagnose_workload(FakeClient([pod], events), NS, SELECTOR))
    assert finding["cause"] == "image_pull"
    assert finding["details"]["image"] == image and finding["details"]["reason"] == "ImagePullBackOff"
    assert "correct the image name or tag" in finding["message"]


def test_image_pull_unauthorized_asks_for_pull_secrets():
    image = "registry.example.com/private/model:1.0"
    status = scheduled_status({
        "name": "model", "image": image, "ready": False, "restartCount": 0,
        "state": {"waiting": {"reason": "ErrImagePull", "message": 'failed to pull and unpack image "%s": failed to '
                              'authorize: failed to fetch anonymous token: 401 Unauthorized' % image}},
    }, phase="Pending")
    finding = only(diagnose_workload(FakeClient([make_pod(node="gpu-h100-0", status=status)]), NS, SELECTOR))
    assert finding["cause"] == "image_pull"
    assert "imagePullSecrets" in finding["message"]


def test_a_local_image_is_to_be_imported_not_made_reachable():
    image = "localhost/inferops/tritonserver:0.7.0"
    status = scheduled_status({
        "name": "model", "image": image, "ready": False, "restartCount": 0,
        "state": {"waiting": {"reason": "ErrImagePull", "message": 'failed to pull and unpack image "%s": failed to resolve '
                              'reference: failed to do request: Head "https://localhost/v2/inferops/tritonserver/manifests/0.7.0": '
                              'dial tcp 127.0.0.1:443: connect: connection refused' % image}},
    }, phase="Pending")
    finding = only(diagnose_workload(FakeClient([make_pod(node="gpu-h100-0", status=status)]), NS, SELECTOR))
    assert finding["cause"] == "image_pull"
    assert "import it into the node's container runtime" in finding["message"] and "make images" in finding["message"]
    assert "make the registry reachable" not in finding["message"]


@pytest.fixture
def logs(monkeypatch):
    """Replaces the log request; records what was asked for."""
    calls = []
    answer = {"lines": [], "error": None}

    def fake(client, namespace, pod, container, previous=False, tail_lines=20, timeout=10):
        assert (tail_lines, timeout) == (diagnose.LOG_TAIL_LINES, diagnose.LOG_TIMEOUT)
        calls.append({"namespace": namespace, "pod": pod, "container": container, "previous": previous})
        if answer["error"]:
            raise K8sError(answer["error"])
        return answer["lines"]

    monkeypatch.setattr(FakeClient, "read_log", fake, raising=False)
    return calls, answer


def test_crash_loop_reads_the_previous_instance_and_spots_a_missing_model_path(logs):
    calls, answer = logs
    answer["lines"] = [
        "I1126 07:20:11.000 1 server.cc:307] Waiting for in-flight requests to complete.",
        "E1126 07:20:11.500 1 model_repository_manager.cc:1234] failed to stat file /models/resnet50/1/model.onnx",
        "error: creating server: Internal - failed to stat file /models/resnet50: No such file or directory",
    ]
    pod = make_pod(node="gpu-h100-0", status=crash_status())
    finding = only(diagnose_workload(FakeClient([pod]), NS, SELECTOR))
    assert finding["cause"] == "crash_loop"
    assert calls == [{"namespace": NS, "pod": "resnet-7c9d-x1", "container": "model", "previous": True}]
    assert finding["details"]["log_lines"] == answer["lines"]
    assert finding["details"]["exit_code"] == 1 and finding["details"]["restarts"] == 4
    assert "/models/resnet50: No such file or directory" in finding["message"]
    assert "check the volume or storage URI and the model path" in finding["message"]


def test_crash_loop_says_plainly_when_logs_are_unavailable(logs):
    calls, answer = logs
    answer["error"] = 'the API server answered 400: no logs found for container "model" in pod "serving/resnet-7c9d-x1"'
    finding = only(diagnose_workload(FakeClient([make_pod(node="gpu-h100-0", status=crash_status())]), NS, SELECTOR))
    assert finding["cause"] == "crash_loop"
    assert "the logs of its previous instance are unavailable (the API server answered 400" in finding["message"]
    assert finding["details"]["logs_error"] == answer["error"]
    # the previous instance, then the newest one: both unavailable
    assert [c["previous"] for c in calls] == [True, False]


def test_crash_without_restarts_reads_the_current_instance(logs):
    calls, answer = logs
    answer["lines"] = ["Traceback (most recent call last):", "KeyError: 'MODEL_NAME'"]
    status = scheduled_status({"name": "model", "ready": False, "restartCount": 0,
                               "state": {"terminated": {"exitCode": 2, "reason": "Error"}}})
    finding = only(diagnose_workload(FakeClient([make_pod(node="gpu-h100-0", status=status)]), NS, SELECTOR))
    assert finding["cause"] == "crash_loop"
    assert calls[0]["previous"] is False
    assert "KeyError: 'MODEL_NAME'" in finding["message"]


def test_oom_killed_crash_loop_asks_for_more_memory(logs):
    pod = make_pod(node="gpu-h100-0", status=crash_status(reason="OOMKilled", exit_code=137))
    finding = only(diagnose_workload(FakeClient([pod]), NS, SELECTOR))
    assert finding["cause"] == "crash_loop"
    assert finding["details"]["reason"] == "OOMKilled"
    assert "memory limit" in finding["message"]


def test_readiness_probe_failure_from_kubelet_events():
    status = scheduled_status({"name": "model", "ready": False, "started": True, "restartCount": 0,
                               "state": {"running": {"startedAt": "2026-11-26T07:20:00Z"}}})
    pod = make_pod(node="gpu-h100-0", status=status)
    events = [event(pod, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503",
                    field_path="spec.containers{model}", count=12),
              event(pod, "Unhealthy", 'Readiness probe failed: Get "http://10.244.1.7:8000/v2/health/ready": dial tcp '
                    '10.244.1.7:8000: connect: connection refused', field_path="spec.containers{model}", count=3,
                    when="2026-11-26T07:19:00Z")]
    finding = only(diagnose_workload(FakeClient([pod], events), NS, SELECTOR))
    assert finding["cause"] == "probe_failure"
    assert finding["details"]["probe"] == "readiness" and finding["details"]["failures"] == 15
    assert finding["details"]["last_message"] == "Readiness probe failed: HTTP probe failed with statuscode: 503"


def test_startup_probe_kills_are_a_probe_failure_not_a_crash(logs):
    calls, answer = logs
    pod = make_pod(node="gpu-h100-0", status=crash_status(restarts=3, reason="Error", exit_code=137))
    events = [event(pod, "Unhealthy", "Startup probe failed: HTTP probe failed with statuscode: 503",
                    field_path="spec.containers{model}", count=30),
              event(pod, "Killing", "Container model failed startup probe, will be restarted", kind="Normal",
                    field_path="spec.containers{model}")]
    finding = only(diagnose_workload(FakeClient([pod], events), NS, SELECTOR))
    assert finding["cause"] == "probe_failure"
    assert finding["details"]["probe"] == "startup" and finding["details"]["restarts"] == 3
    assert "failureThreshold" in finding["message"]
    assert calls == []


def test_a_process_that_exits_while_its_startup_probe_fails_is_a_crash_not_a_probe_failure(logs):
    # What the real node showed: Triton fails to load the model and exits 1 while its startup probe is
    # still refused; the kubelet restarts it for the exit, not for the probe (no Killing event).
    calls, answer = logs
    answer["lines"] = ["E1204 22:05:01 1 model_lifecycle.cc:654] failed to load 'linear' version 3: [Errno 2] "
                       "No such file or directory: '/models/linear/3/linear.json'",
                       "error: creating server: Internal - failed to load all models"]
    pod = make_pod(node="gpu-h100-0", status=crash_status(restarts=2, reason="Error", exit_code=1))
    events = [event(pod, "Unhealthy", 'Startup probe failed: Get "http://10.88.0.21:8000/v2/health/ready": dial tcp '
                    '10.88.0.21:8000: connect: connection refused', field_path="spec.containers{model}", count=2)]
    finding = only(diagnose_workload(FakeClient([pod], events), NS, SELECTOR))
    assert finding["cause"] == "crash_loop"
    assert "model is not where the server looks for it" in finding["message"]
    # the line that names what is missing is quoted, not only the summary the server ends with
    assert "/models/linear/3/linear.json" in finding["message"]
    assert finding["message"].index("linear.json") < finding["message"].index("failed to load all models")
    assert calls and calls[0]["previous"] is True


def test_a_previous_instance_already_removed_is_read_from_the_newest_log(monkeypatch):
    # The kubelet keeps one dead instance; the one the status names may be gone when the next has just exited.
    asked = []

    def read_log(client, namespace, pod, container, previous=False, tail_lines=20, timeout=10):
        asked.append(previous)
        if previous:
            raise K8sError("unable to retrieve container logs for containerd://9b2683b3")
        return ["E1204 failed to load 'linear' version 3: No such file or directory: '/models/linear/3/linear.json'"]

    monkeypatch.setattr(FakeClient, "read_log", read_log, raising=False)
    pod = make_pod(node="gpu-h100-0", status=crash_status(restarts=3, reason="Error", exit_code=1))
    finding = only(diagnose_workload(FakeClient([pod]), NS, SELECTOR))
    assert asked == [True, False]
    assert finding["cause"] == "crash_loop" and finding["details"]["logs_error"] is None
    assert "/models/linear/3/linear.json" in finding["message"] and "current instance" in finding["message"]


def test_missing_config_map_is_pending_other_with_the_kubelet_message():
    status = scheduled_status({"name": "model", "ready": False, "restartCount": 0, "state": {"waiting": {
        "reason": "CreateContainerConfigError", "message": 'configmap "resnet-warmup" not found'}}}, phase="Pending")
    finding = only(diagnose_workload(FakeClient([make_pod(node="gpu-h100-0", status=status)]), NS, SELECTOR))
    assert finding["cause"] == "pending_other"
    assert 'configmap "resnet-warmup" not found' in finding["message"]


def test_ready_and_terminating_pods_are_no_finding_and_other_workloads_are_not_read():
    ready = running_pod("resnet-7c9d-ok", "gpu-h100-0", 1, namespace=NS)
    ready["metadata"]["labels"] = {"app": "resnet"}
    going = make_pod(name="resnet-old", gpus=64, status=unschedulable_status(SCHED_64))
    going["metadata"]["deletionTimestamp"] = "2026-11-26T07:21:00Z"
    elsewhere = make_pod(name="other-x", gpus=64, status=unschedulable_status(SCHED_64), labels={"app": "other"})
    client = FakeClient([ready, going, elsewhere])
    assert diagnose_workload(client, NS, {"matchLabels": {"app": "resnet"}}) == []
    assert ("Pod", NS, "app=resnet", None) in client.calls
    assert not [c for c in client.calls if c[0] in ("Node", "Event")]


def test_no_matching_pod_is_reported_not_silently_ignored():
    finding = only(diagnose_workload(FakeClient([]), NS, "app=resnet"))
    assert finding["cause"] == "pending_other" and finding["pod"] is None
    assert "No pod in namespace serving matches app=resnet" in finding["message"]


def test_every_finding_uses_a_known_cause(logs):
    pods = [make_pod(name="a", gpus=64, status=unschedulable_status(SCHED_64)),
            make_pod(name="b", node="gpu-h100-0", status=crash_status()),
            make_pod(name="c", gpus=1, node_selector={"nvidia.com/gpu.product": "Tesla-T4"},
                     status=unschedulable_status(SCHED_SELECTOR))]
    findings = diagnose_workload(FakeClient(pods), NS, SELECTOR)
    assert [f["pod"] for f in findings] == ["a", "b", "c"]
    assert [f["cause"] for f in findings] == ["insufficient_gpu", "crash_loop", "untolerated_taint"]
    assert all(f["cause"] in diagnose.CAUSES and f["message"].endswith(".") for f in findings)


class NoClusterReadClient(FakeClient):
    """A namespace-scoped user: listing nodes or all pods is forbidden."""

    def list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        if kind == "Node" or (kind == "Pod" and namespace is None):
            raise K8sError('nodes is forbidden: User "ml-team" cannot list resource "nodes" at the cluster scope', status=403)
        return super().list(api_version, kind, namespace, label_selector, field_selector)


@pytest.mark.parametrize("message, cause", [
    (SCHED_64, "insufficient_gpu"),
    (SCHED_SELECTOR, "node_selector_mismatch"),
    ("0/6 nodes are available: 6 node(s) had untolerated taint {nvidia.com/gpu: present}.", "untolerated_taint"),
    ("0/6 nodes are available: 6 Insufficient memory.", "unschedulable"),
])
def test_without_permission_to_read_nodes_the_scheduler_message_decides(message, cause):
    pod = make_pod(gpus=64, status=unschedulable_status(message))
    finding = only(diagnose_workload(NoClusterReadClient([pod]), NS, SELECTOR))
    assert finding["cause"] == cause
    assert "cannot list resource" in finding["details"]["nodes_unreadable"]
    assert message in finding["message"]
