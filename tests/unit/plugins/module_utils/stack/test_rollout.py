"""wait_for_rollout and rollback against a stand-in client, with an injected clock: nothing sleeps for real.

The Deployment and InferenceService readiness rules they use are k8s/waiter.py's, tested here on the
stack's own objects."""

from __future__ import annotations

import copy

import pytest
from fake_clock import Clock

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s import diagnose
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import FIELD_MANAGER
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.waiter import deployment_state, inference_service_state
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.rollout import applied_config, rollback, wait_for_rollout

NS = "serving"
UID = "0c6f0a8e-5d0e-4f57-9d0b-3a1f0e6b2c11"


class FakeClient:
    """Stands in for K8sClient. get() answers each (kind, name) from a list of states, one per call, the last repeating."""

    def __init__(self, states=None, replicasets=(), pods=()):
        self.states = {key: list(value) for key, value in (states or {}).items()}
        self.replicasets = list(replicasets)
        self.pods = list(pods)
        self.gets = []
        self.writes = []

    def get(self, api_version, kind, name, namespace=None):
        self.gets.append((kind, name))
        queue = self.states.get((kind, name))
        if not queue:
            return None
        return copy.deepcopy(queue.pop(0) if len(queue) > 1 else queue[0])

    def list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        if kind == "ReplicaSet":
            return copy.deepcopy(self.replicasets)
        if kind == "Pod":
            return copy.deepcopy(self.pods)
        if kind == "Event":
            return []
        raise AssertionError("unexpected list of %s" % kind)

    def namespaced(self, api_version, kind):
        return True

    def apply(self, obj, namespace=None, field_manager=None, force_conflicts=False, dry_run=False):
        self.writes.append(dict(verb="apply", kind=obj["kind"], body=obj, namespace=namespace, field_manager=field_manager,
                                force_conflicts=force_conflicts, dry_run=dry_run))
        return copy.deepcopy(obj)

    def patch(self, api_version, kind, name, body, namespace=None, content_type=None, field_manager=None, dry_run=False):
        self.writes.append(dict(verb="patch", kind=kind, name=name, body=body, namespace=namespace,
                                content_type=content_type, field_manager=field_manager, dry_run=dry_run))
        return {}


def deployment(generation=2, observed=2, replicas=2, updated=2, total=2, available=2, revision=2, conditions=None, paused=False):
    dep = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "resnet", "namespace": NS, "uid": UID, "generation": generation,
                     "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "resnet"}}, "paused": paused,
                 "template": {"metadata": {"labels": {"app": "resnet"}}, "spec": {"containers": [{"name": "model"}]}}},
        "status": {"observedGeneration": observed, "replicas": total, "updatedReplicas": updated,
                   "availableReplicas": available, "readyReplicas": available,
                   "conditions": conditions or [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]},
    }
    if not paused:
        del dep["spec"]["paused"]
    return dep


def isvc(generation=1, observed=1, ready="True", conditions=None):
    status = {"observedGeneration": observed, "conditions": conditions or [
        {"type": "IngressReady", "status": ready},
        {"type": "PredictorReady", "status": ready, "message": None if ready == "True" else "Revision \"m-predictor-00001\" failed"},
        {"type": "Ready", "status": ready, "reason": None if ready == "True" else "RevisionMissing"},
    ]}
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "m", "namespace": NS, "generation": generation}, "status": status}


MANIFESTS = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "resnet-config", "namespace": NS}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "resnet", "namespace": NS}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "resnet", "namespace": NS}},
]


# --- readiness of one object ---------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, ready, failed, reason", [
    (dict(), True, False, "2 of 2 replicas updated and available"),
    (dict(generation=3, observed=2), False, False, "the controller has not observed generation 3 yet (observed 2)"),
    (dict(updated=1, total=3, available=2), False, False, "1 of 2 replicas updated to the new revision"),
    (dict(total=3, available=2), False, False, "1 old replicas still running"),
    (dict(available=1), False, False, "1 of 2 updated replicas available"),
    (dict(replicas=0, updated=0, total=0, available=0), True, False, "0 of 0 replicas updated and available"),
    (dict(paused=True, updated=0), False, True, "it is paused: resume it (kubectl rollout resume) so the new revision rolls out"),
])
def test_deployment_state(kwargs, ready, failed, reason):
    assert deployment_state(deployment(**kwargs)) == (ready, failed, reason)


def test_deployment_state_progress_deadline_and_replica_failure():
    deadline = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": 'ReplicaSet "resnet-5f7c" has timed out progressing.'}]
    ready, failed, reason = deployment_state(deployment(updated=1, total=3, available=2, conditions=deadline))
    assert (ready, failed) == (False, True) and 'ReplicaSet "resnet-5f7c" has timed out progressing.' in reason
    quota = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
              "message": 'pods "resnet-5f7c-x" is forbidden: exceeded quota: gpu, requested: requests.nvidia.com/gpu=8'}]
    ready, failed, reason = deployment_state(deployment(updated=1, conditions=quota))
    assert (ready, failed) == (False, False) and "exceeded quota: gpu" in reason


def test_inference_service_state():
    assert inference_service_state(isvc()) == (True, False, "Ready")
    assert inference_service_state(isvc(generation=2, observed=1))[0] is False
    ready, _failed, reason = inference_service_state(isvc(ready="False"))
    assert not ready and "RevisionMissing" in reason and 'Revision "m-predictor-00001" failed' in reason
    no_status = isvc()
    no_status["status"] = {}
    assert "KServe controller" in inference_service_state(no_status)[2]


# --- the wait ------------------------------------------------------------------------------------

def test_waits_until_the_deployment_is_available_and_ignores_other_kinds(monkeypatch):
    monkeypatch.setattr(diagnose, "diagnose_workload", lambda *a: pytest.fail("diagnosed a ready rollout"))
    clock = Clock()
    client = FakeClient({("Deployment", "resnet"): [
        deployment(generation=3, observed=2), deployment(generation=3, observed=3, updated=0, total=2, available=2),
        deployment(generation=3, observed=3, updated=2, total=3, available=1), deployment(generation=3, observed=3)]})
    result = wait_for_rollout(client, MANIFESTS, timeout=60, interval=2, sleep=clock.sleep, clock=clock)
    assert result["ready"] is True and result["diagnosis"] == []
    assert result["objects"] == [{"kind": "Deployment", "name": "resnet", "namespace": NS, "ready": True,
                                  "reason": "2 of 2 replicas updated and available"}]
    assert clock.sleeps == [2, 2, 2] and result["elapsed_s"] == 6
    assert set(client.gets) == {("Deployment", "resnet")}


def test_timeout_reports_each_object_and_diagnoses_the_new_revision_pods_only(monkeypatch):
    seen = []
    finding = {"cause": "insufficient_gpu", "pod": "resnet-5f7c-abc", "message": "Pod resnet-5f7c-abc requests 64.", "details": {}}
    monkeypatch.setattr(diagnose, "diagnose_workload", lambda client, ns, sel: seen.append((ns, sel)) or [dict(finding)])
    clock = Clock()
    stuck = deployment(updated=1, total=3, available=2, revision=2)
    replicasets = [
        {"metadata": {"name": "resnet-6d4b", "labels": {"app": "resnet", "pod-template-hash": "6d4b"},
                      "annotations": {"deployment.kubernetes.io/revision": "1"},
                      "ownerReferences": [{"kind": "Deployment", "name": "resnet", "uid": UID, "controller": True}]}},
        {"metadata": {"name": "resnet-5f7c", "labels": {"app": "resnet", "pod-template-hash": "5f7c"},
                      "annotations": {"deployment.kubernetes.io/revision": "2"},
                      "ownerReferences": [{"kind": "Deployment", "name": "resnet", "uid": UID, "controller": True}]}},
    ]
    client = FakeClient({("Deployment", "resnet"): [stuck]}, replicasets=replicasets)
    result = wait_for_rollout(client, MANIFESTS, timeout=2.5, interval=1, sleep=clock.sleep, clock=clock)
    assert result["ready"] is False
    assert clock.sleeps == [1, 1, 0.5]
    assert result["objects"][0]["reason"] == "1 of 2 replicas updated to the new revision"
    assert seen == [(NS, "app=resnet,pod-template-hash=5f7c")]
    assert result["diagnosis"] == [dict(finding, object="Deployment serving/resnet")]


def test_a_deployment_past_its_progress_deadline_ends_the_wait_at_once(monkeypatch):
    monkeypatch.setattr(diagnose, "diagnose_workload", lambda *a: [])
    clock = Clock()
    deadline = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "timed out"}]
    client = FakeClient({("Deployment", "resnet"): [deployment(updated=1, total=3, conditions=deadline)]})
    result = wait_for_rollout(client, MANIFESTS, timeout=600, sleep=clock.sleep, clock=clock)
    assert result["ready"] is False and clock.sleeps == []
    # no pod to blame: the object's own reason becomes the finding
    assert result["diagnosis"][0]["cause"] == "pending_other"
    assert "exceeded its progress deadline" in result["diagnosis"][0]["message"]


def test_inference_service_waits_for_ready_of_the_current_generation(monkeypatch):
    monkeypatch.setattr(diagnose, "diagnose_workload", lambda *a: pytest.fail("diagnosed a ready rollout"))
    clock = Clock()
    client = FakeClient({("InferenceService", "m"): [isvc(generation=2, observed=1), isvc(generation=2, observed=2)]})
    result = wait_for_rollout(client, [isvc()], timeout=30, sleep=clock.sleep, clock=clock)
    assert result["ready"] is True and clock.sleeps == [1.0]


def test_inference_service_without_controller_is_explained(monkeypatch):
    seen = []
    no_pods = [{"cause": "pending_other", "pod": None, "message": "No pod in namespace serving matches x.", "details": {}}]
    monkeypatch.setattr(diagnose, "diagnose_workload", lambda client, ns, sel: seen.append(sel) or no_pods)
    clock = Clock()
    bare = isvc()
    bare["status"] = {}
    result = wait_for_rollout(FakeClient({("InferenceService", "m"): [bare]}), [isvc()], timeout=3, sleep=clock.sleep, clock=clock)
    assert result["ready"] is False
    assert seen == ["serving.kserve.io/inferenceservice=m"]
    assert len(result["diagnosis"]) == 1
    message = result["diagnosis"][0]["message"]
    assert "is the KServe controller running?" in message and "no pod matches serving.kserve.io/inferenceservice=m" in message


def test_nothing_to_wait_for_is_ready_at_once():
    clock = Clock()
    result = wait_for_rollout(FakeClient(), [MANIFESTS[0], MANIFESTS[2]], timeout=30, sleep=clock.sleep, clock=clock)
    assert result == {"ready": True, "elapsed_s": 0, "objects": [], "diagnosis": []}


def test_a_deployment_that_never_appears_times_out(monkeypatch):
    monkeypatch.setattr(diagnose, "diagnose_workload", lambda *a: pytest.fail("no object, no pods to diagnose"))
    clock = Clock()
    result = wait_for_rollout(FakeClient(), MANIFESTS, timeout=2, sleep=clock.sleep, clock=clock)
    assert result["ready"] is False and result["objects"][0]["reason"] == "it does not exist"
    assert result["diagnosis"][0]["message"] == "Deployment serving/resnet is not ready: it does not exist."


# --- rollback ------------------------------------------------------------------------------------

def _template(image, gpus, template_hash=None):
    labels = {"app": "resnet"}
    if template_hash:
        labels["pod-template-hash"] = template_hash
    return {"metadata": {"labels": labels, "creationTimestamp": None}, "spec": {
        "containers": [{"name": "model", "image": image, "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                        "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent"}],
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}}


# managedFields as the API server records a server-side apply of the Deployment by this collection,
# plus the controller's status updates
APPLY_FIELDS = {
    "f:metadata": {"f:labels": {"f:app.kubernetes.io/managed-by": {}}},
    "f:spec": {
        "f:replicas": {}, "f:selector": {}, "f:strategy": {"f:rollingUpdate": {"f:maxUnavailable": {}}},
        "f:template": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:containers": {
            'k:{"name":"model"}': {".": {}, "f:image": {}, "f:name": {}, "f:ports": {
                'k:{"containerPort":8000,"protocol":"TCP"}': {".": {}, "f:containerPort": {}, "f:name": {}}},
                "f:resources": {"f:limits": {"f:nvidia.com/gpu": {}}}}}}},
    },
}


def live_deployment(revision=2, manager=FIELD_MANAGER, paused=False):
    template = _template("tritonserver:25.02", 64)
    template["metadata"].pop("creationTimestamp")
    template["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "resnet", "namespace": NS, "uid": UID, "generation": 2, "resourceVersion": "4711",
            "labels": {"app.kubernetes.io/managed-by": "inferops.kubernetes", "team": "vision"},
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "managedFields": [
                {"manager": manager, "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                 "fieldsV1": APPLY_FIELDS},
                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1", "subresource": "status",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:replicas": {}}}},
            ],
        },
        "spec": {"replicas": 1, "paused": paused, "selector": {"matchLabels": {"app": "resnet"}}, "progressDeadlineSeconds": 600,
                 "revisionHistoryLimit": 10,
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
                 "template": template},
        "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1},
    }


def replicaset(name, revision, template, owner=UID):
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
        "name": name, "namespace": NS, "labels": template["metadata"]["labels"],
        "annotations": {"deployment.kubernetes.io/revision": str(revision)},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "resnet", "uid": owner, "controller": True}]},
        "spec": {"replicas": 1, "template": template}}


HISTORY = [
    replicaset("resnet-aaaa", 1, _template("tritonserver:25.01", 1, "aaaa")),
    replicaset("resnet-bbbb", 2, _template("tritonserver:25.02", 64, "bbbb")),
    # same labels, another owner: never a candidate
    replicaset("resnet-zzzz", 1, _template("tritonserver:0.1", 1, "zzzz"), owner="someone-else"),
]


def test_applied_config_rebuilds_what_the_manager_applied():
    config = applied_config(live_deployment())
    assert config == {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "resnet", "namespace": NS, "labels": {"app.kubernetes.io/managed-by": "inferops.kubernetes"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "resnet"}}, "strategy": {"rollingUpdate": {"maxUnavailable": 0}},
                 "template": {"metadata": {"labels": {"app": "resnet"}}, "spec": {"containers": [{
                     "name": "model", "image": "tritonserver:25.02",
                     "ports": [{"containerPort": 8000, "name": "http", "protocol": "TCP"}],
                     "resources": {"limits": {"nvidia.com/gpu": "64"}}}]}}},
    }
    assert applied_config(live_deployment(manager="kubectl")) is None


def test_rollback_applies_the_previous_template_over_the_rest_of_the_applied_config():
    client = FakeClient({("Deployment", "resnet"): [live_deployment()]}, replicasets=HISTORY)
    result = rollback(client, NS, "resnet")
    assert result["rolled_back"] is True and (result["from_revision"], result["to_revision"]) == (2, 1)
    assert "revision 3" in result["reason"]
    (write,) = client.writes
    assert write["verb"] == "apply" and write["field_manager"] == FIELD_MANAGER and write["force_conflicts"] is True
    body = write["body"]
    assert body["spec"]["replicas"] == 1 and body["spec"]["selector"] == {"matchLabels": {"app": "resnet"}}
    assert body["spec"]["strategy"] == {"rollingUpdate": {"maxUnavailable": 0}}
    assert body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "inferops.kubernetes"}
    expected = _template("tritonserver:25.01", 1)
    expected["metadata"].pop("creationTimestamp")
    assert body["spec"]["template"] == expected


def test_rollback_of_a_deployment_applied_by_someone_else_patches_the_template():
    client = FakeClient({("Deployment", "resnet"): [live_deployment(manager="kubectl")]}, replicasets=HISTORY)
    result = rollback(client, NS, "resnet")
    assert result["rolled_back"] is True and "was not applied by inferops.kubernetes" in result["reason"]
    (write,) = client.writes
    assert write["verb"] == "patch" and write["content_type"] == "application/json-patch+json"
    assert write["body"][0]["path"] == "/spec/template"
    assert write["body"][0]["value"]["spec"]["containers"][0]["image"] == "tritonserver:25.01"


@pytest.mark.parametrize("states, replicasets, reason", [
    ({}, HISTORY, "Deployment serving/resnet does not exist."),
    ({("Deployment", "resnet"): [live_deployment(revision=1)]}, HISTORY[:1],
     "Deployment serving/resnet has no revision before 1 to roll back to."),
    ({("Deployment", "resnet"): [live_deployment(paused=True)]}, HISTORY, "Deployment serving/resnet is paused; resume it before rolling back."),
])
def test_rollback_refuses_with_a_reason(states, replicasets, reason):
    client = FakeClient(states, replicasets=replicasets)
    result = rollback(client, NS, "resnet")
    assert result["rolled_back"] is False and result["reason"] == reason
    assert client.writes == []
