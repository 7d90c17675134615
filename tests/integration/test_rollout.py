"""Rollout wait, diagnosis and rollback on the local control plane (real scheduler, kwok nodes of tests/cluster/fleet.yaml).

kwok plays the kubelet: a pod bound to a kwok node goes Running and Ready at once, and no image is
pulled and no container runs. The scheduling causes below are therefore the real scheduler's. The
kubelet-side causes (image pull, crash loop, failing probe) are made by writing the pod status through
the status subresource, in the exact shape the kubelet writes, plus the events the kubelet records.
Why not kwok Stage resources: this cluster's kwok (tests/cluster/cluster.sh, kwokctl v0.8.0 defaults)
loads its stages from its configuration file only and does not watch Stage objects (no Stage CRD is
installed, and `enableCRDs` is not set), so custom stages cannot be added to the running cluster.
Why a pod stays as written: kwok's pod-ready stage selects only pods in phase Pending whose Ready
condition is not True; a Running pod with a crashing or unready container is left alone. An image pull
failure keeps the phase Pending, which kwok would overwrite, so that pod is bound to a node name kwok
does not manage (no such node exists); the pod garbage collector removes such pods only after 40 s.
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import apply_object
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.diagnose import diagnose_workload
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.rollout import rollback, wait_for_rollout

from k8s_helpers import wait_until

pytestmark = pytest.mark.integration

IMAGE_V1 = "registry.invalid/inferops/resnet:1.0"
IMAGE_V2 = "registry.invalid/inferops/resnet:2.0"
TOLERATE_GPU_TAINT = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def deployment(namespace, name="resnet", gpus=1, image=IMAGE_V1, node_selector=None, tolerations=None):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 0,
                    "nodeSelector": node_selector or {},
                    "tolerations": tolerations or [],
                    "containers": [{"name": "model", "image": image,
                                    "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}],
                },
            },
        },
    }


def unscheduled_pod(k8s, namespace, selector):
    """Wait for the scheduler's verdict on a pod, so the diagnosis below reads it rather than racing it."""
    def verdict():
        for pod in k8s.list("v1", "Pod", namespace, label_selector=selector):
            for condition in pod["status"].get("conditions") or []:
                if condition["type"] == "PodScheduled" and condition["status"] == "False" and condition.get("message"):
                    return pod
        return None
    return wait_until(verdict, 60, "a FailedScheduling verdict on %s in %s" % (selector, namespace))


def failed_rollout(k8s, namespace, manifest):
    apply_object(k8s, manifest)
    unscheduled_pod(k8s, namespace, "app=%s" % manifest["metadata"]["name"])
    result = wait_for_rollout(k8s, [manifest], timeout=2, interval=0.5)
    assert result["ready"] is False
    assert len(result["diagnosis"]) == 1, result["diagnosis"]
    return result, result["diagnosis"][0]


def test_a_good_deployment_becomes_ready(k8s, namespace):
    manifest = deployment(namespace, tolerations=TOLERATE_GPU_TAINT)
    apply_object(k8s, manifest)
    result = wait_for_rollout(k8s, [manifest, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}],
                              timeout=60, interval=0.5)
    assert result["ready"] is True, result
    assert result["objects"] == [{"kind": "Deployment", "name": "resnet", "namespace": namespace, "ready": True,
                                  "reason": "1 of 1 replicas updated and available"}]
    assert result["diagnosis"] == []


def test_more_gpus_than_any_node_has(k8s, namespace):
    result, finding = failed_rollout(k8s, namespace, deployment(namespace, gpus=64))
    assert result["objects"][0]["ready"] is False
    assert finding["cause"] == "insufficient_gpu" and finding["object"] == "Deployment %s/resnet" % namespace
    details = finding["details"]
    assert details["resource"] == "nvidia.com/gpu" and details["requested"] == 64
    h100 = sorted((n["node"], n["allocatable"]) for n in details["nodes"] if n["product"] == "NVIDIA-H100-80GB-HBM3")
    assert h100 == [("gpu-h100-0", 8), ("gpu-h100-1", 8)]
    assert details["largest_allocatable"] == 8
    assert details["scheduler"]["reasons"].get("Insufficient nvidia.com/gpu", 0) >= 1
    assert "64 nvidia.com/gpu" in finding["message"] and "gpu-h100-0 (NVIDIA-H100-80GB-HBM3: 8 allocatable" in finding["message"]


def test_a_product_no_node_has(k8s, namespace):
    manifest = deployment(namespace, node_selector={"nvidia.com/gpu.product": "NVIDIA-B200"})
    _result, finding = failed_rollout(k8s, namespace, manifest)
    assert finding["cause"] == "node_selector_mismatch"
    assert "NVIDIA-H100-80GB-HBM3" in finding["details"]["label_values"]["nvidia.com/gpu.product"]
    assert "didn't match Pod's node affinity/selector" in finding["details"]["scheduler"]["message"]


def test_the_tainted_t4_without_a_toleration(k8s, namespace):
    manifest = deployment(namespace, node_selector={"nvidia.com/gpu.product": "Tesla-T4"})
    _result, finding = failed_rollout(k8s, namespace, manifest)
    assert finding["cause"] == "untolerated_taint"
    assert finding["details"]["taints"] == {"nvidia.com/gpu=present:NoSchedule": ["gpu-t4-0"]}
    assert "untolerated taint" in finding["details"]["scheduler"]["message"]


def test_rollback_restores_the_previous_revision(k8s, namespace):
    good = deployment(namespace, gpus=1, image=IMAGE_V1)
    apply_object(k8s, good)
    assert wait_for_rollout(k8s, [good], timeout=60, interval=0.5)["ready"] is True
    bad = deployment(namespace, gpus=64, image=IMAGE_V2)
    apply_object(k8s, bad)
    wait_until(lambda: k8s.get("apps/v1", "Deployment", "resnet", namespace)["metadata"]["annotations"].get(
        "deployment.kubernetes.io/revision") == "2", 30, "revision 2")
    unscheduled_pod(k8s, namespace, "app=resnet")
    failed = wait_for_rollout(k8s, [bad], timeout=2, interval=0.5)
    assert failed["ready"] is False
    # the revision 1 pod is Ready and still serving: only the new revision's pod is diagnosed
    assert [f["cause"] for f in failed["diagnosis"]] == ["insufficient_gpu"]

    result = rollback(k8s, namespace, "resnet")
    assert result["rolled_back"] is True, result
    assert (result["from_revision"], result["to_revision"]) == (2, 1)

    live = k8s.get("apps/v1", "Deployment", "resnet", namespace)
    container = live["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == IMAGE_V1 and container["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert "pod-template-hash" not in live["spec"]["template"]["metadata"]["labels"]
    done = wait_for_rollout(k8s, [good], timeout=60, interval=0.5)
    assert done["ready"] is True, done
    live = k8s.get("apps/v1", "Deployment", "resnet", namespace)
    assert live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert live["spec"]["replicas"] == 1 and live["spec"]["selector"] == {"matchLabels": {"app": "resnet"}}

    # The rollback was written as this collection's own apply: applying the new spec again is no conflict,
    # it rolls the new spec out again.
    again = apply_object(k8s, bad)
    assert again["changed"] is True
    assert again["result"]["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE_V2


def test_rollback_of_a_first_revision_does_nothing(k8s, namespace):
    manifest = deployment(namespace, tolerations=TOLERATE_GPU_TAINT)
    apply_object(k8s, manifest)
    wait_until(lambda: (k8s.get("apps/v1", "Deployment", "resnet", namespace)["metadata"].get("annotations") or {}).get(
        "deployment.kubernetes.io/revision") == "1", 30, "revision 1")
    result = rollback(k8s, namespace, "resnet")
    assert result == {"rolled_back": False, "from_revision": 1, "to_revision": 1,
                      "reason": "Deployment %s/resnet has no revision before 1 to roll back to." % namespace}


def test_inference_service_without_a_kserve_controller(k8s, namespace, upstream_crds):
    isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "sklearn", "namespace": namespace},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "pvc://models/sklearn"}}}}
    apply_object(k8s, isvc)
    result = wait_for_rollout(k8s, [isvc], timeout=1, interval=0.5)
    assert result["ready"] is False
    assert result["objects"][0]["reason"] == "it has no status yet: is the KServe controller running?"
    assert result["diagnosis"][0]["cause"] == "pending_other"


# --- kubelet-side causes, written as the kubelet writes them -------------------------------------

def _pod(namespace, name, node):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": "kubelet-causes", "case": name}},
            "spec": {"nodeName": node, "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                     "tolerations": TOLERATE_GPU_TAINT,
                     "containers": [{"name": "model", "image": IMAGE_V1, "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}


def _create_running(k8s, namespace, name, node="gpu-h100-0"):
    k8s.resource("v1", "Pod").create(body=_pod(namespace, name, node), namespace=namespace)

    def running():
        pod = k8s.get("v1", "Pod", name, namespace)
        return pod if pod and pod["status"].get("phase") == "Running" else None
    return wait_until(running, 30, "kwok to start %s" % name)


def _write_status(k8s, pod, status):
    k8s.resource("v1", "Pod").status.patch(
        body={"status": status}, name=pod["metadata"]["name"], namespace=pod["metadata"]["namespace"],
        content_type="application/merge-patch+json")


def _kubelet_event(k8s, pod, reason, message, kind="Warning", count=1):
    metadata = pod["metadata"]
    k8s.resource("v1", "Event").create(namespace=metadata["namespace"], body={
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": "%s." % metadata["name"], "namespace": metadata["namespace"]},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": metadata["name"], "namespace": metadata["namespace"],
                           "uid": metadata["uid"], "fieldPath": "spec.containers{model}"},
        "reason": reason, "message": message, "type": kind, "count": count,
        "source": {"component": "kubelet", "host": pod["spec"]["nodeName"]},
        "firstTimestamp": "2026-11-26T07:20:00Z", "lastTimestamp": "2026-11-26T07:21:00Z",
    })


def _conditions(pod, ready):
    conditions = copy.deepcopy(pod["status"].get("conditions") or [])
    for condition in conditions:
        if condition["type"] in ("Ready", "ContainersReady"):
            condition.update(status="True" if ready else "False", reason=None if ready else "ContainersNotReady",
                             message=None if ready else "containers with unready status: [model]")
    return conditions


def test_image_pull_failure(k8s, namespace):
    image = "registry.invalid/inferops/resnet:1.0-typo"
    body = _pod(namespace, "pull", "node-not-managed-by-kwok")
    body["spec"]["containers"][0]["image"] = image
    pod = k8s.resource("v1", "Pod").create(body=body, namespace=namespace).to_dict()
    _write_status(k8s, pod, {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Initialized", "status": "True"},
                       {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                        "message": "containers with unready status: [model]"},
                       {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
                        "message": "containers with unready status: [model]"}],
        "containerStatuses": [{"name": "model", "image": image, "imageID": "", "ready": False, "started": False,
                               "restartCount": 0, "lastState": {},
                               "state": {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "%s"' % image}}}],
    })
    _kubelet_event(k8s, pod, "Failed", 'Failed to pull image "%s": rpc error: code = NotFound desc = failed to pull and unpack '
                   'image "%s": failed to resolve reference "%s": %s: not found' % (image, image, image, image))
    _kubelet_event(k8s, pod, "BackOff", 'Back-off pulling image "%s"' % image, count=4)
    finding = diagnose_workload(k8s, namespace, "case=pull")[0]
    assert finding["cause"] == "image_pull" and finding["pod"] == "pull"
    assert finding["details"]["image"] == image
    assert "correct the image name or tag" in finding["message"]


def test_crash_loop_with_logs_unavailable(k8s, namespace):
    pod = _create_running(k8s, namespace, "crash")
    _write_status(k8s, pod, {
        "conditions": _conditions(pod, ready=False),
        "containerStatuses": [{
            "name": "model", "image": IMAGE_V1, "imageID": "", "ready": False, "started": False, "restartCount": 5,
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": "back-off 2m40s restarting failed container=model pod=crash_%s(%s)"
                                  % (namespace, pod["metadata"]["uid"])}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2026-11-26T07:20:30Z",
                                         "finishedAt": "2026-11-26T07:20:31Z"}}}],
    })
    finding = diagnose_workload(k8s, namespace, "case=crash")[0]
    assert finding["cause"] == "crash_loop"
    assert finding["details"]["restarts"] == 5 and finding["details"]["logs_previous"] is True
    # kwok runs no container, so the API server has no log to give: said plainly, with its answer
    assert finding["details"]["log_lines"] == [] and finding["details"]["logs_error"]
    assert "the logs of its previous instance are unavailable" in finding["message"]


def test_failing_readiness_probe(k8s, namespace):
    pod = _create_running(k8s, namespace, "probe")
    status = {"conditions": _conditions(pod, ready=False), "containerStatuses": copy.deepcopy(pod["status"]["containerStatuses"])}
    status["containerStatuses"][0]["ready"] = False
    _write_status(k8s, pod, status)
    _kubelet_event(k8s, pod, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=9)
    finding = diagnose_workload(k8s, namespace, "case=probe")[0]
    assert finding["cause"] == "probe_failure"
    assert finding["details"]["probe"] == "readiness" and finding["details"]["failures"] == 9
