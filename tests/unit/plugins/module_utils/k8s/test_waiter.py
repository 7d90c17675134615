"""The one waiter: readiness by kind, the multi-object wait, and the diagnosis of what did not get ready.

Deployment and InferenceService readiness is exercised on the stack's objects in
tests/unit/plugins/module_utils/stack/test_rollout.py; this file covers the table itself, DaemonSets
(the device plugin) and CustomResourceDefinitions.
"""

from __future__ import annotations

import copy

import pytest
from fake_clock import Clock

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s import waiter
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.diagnose import diagnose_unready
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sApiError, K8sError

NS = "nvidia-device-plugin"


def daemonset(generation=2, observed=2, desired=5, updated=5, available=5, ready=5):
    status = {"desiredNumberScheduled": desired, "updatedNumberScheduled": updated,
              "numberAvailable": available, "numberReady": ready}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "nvidia-device-plugin", "namespace": NS, "generation": generation},
            "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "nvidia-device-plugin"}}},
            "status": status}


@pytest.mark.parametrize("obj, ready", [
    (daemonset(), True),
    (daemonset(desired=0, updated=0, available=0, ready=0), True),
    (daemonset(observed=1), False),
    (daemonset(observed=None), False),
    (daemonset(updated=4), False),
    (daemonset(available=4), False),
    ({"metadata": {"name": "x", "generation": 1}}, False),
    (None, False),
])
def test_daemonset_readiness(obj, ready):
    assert waiter.readiness("apps/v1", "DaemonSet", obj)[0] is ready
    assert waiter.readiness("apps/v1", "DaemonSet", obj)[1] is False  # waiting may always help a DaemonSet


def test_daemonset_reason_names_the_counters_and_a_stale_status():
    assert waiter.daemonset_state(daemonset(available=1, ready=1))[2] == "5 node(s) targeted, 5 updated, 1 ready, 1 available"
    assert "has not processed the latest spec" in waiter.daemonset_state(daemonset(observed=1))[2]
    assert waiter.daemonset_state(None)[2] == "the DaemonSet does not exist"


def test_crd_readiness():
    established = {"status": {"conditions": [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]}}
    clash = {"status": {"conditions": [{"type": "NamesAccepted", "status": "False", "message": "plural taken"}]}}
    assert waiter.readiness("apiextensions.k8s.io/v1", "CustomResourceDefinition", established) == (True, False, "Established")
    assert waiter.crd_state(clash) == (False, False, "NamesAccepted is False: plural taken")
    assert waiter.crd_state(None)[2] == "the CustomResourceDefinition does not exist"


def test_the_table_is_keyed_by_group_and_kind():
    assert waiter.has_readiness("serving.kserve.io/v1beta1", "InferenceService")
    assert waiter.has_readiness("apps/v1", "Deployment") and not waiter.has_readiness("extensions/v1beta1", "Deployment")
    with pytest.raises(K8sError, match="No readiness rule for v1 Service"):
        waiter.readiness("v1", "Service", {})


def test_condition_helpers():
    pod = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]}}
    assert waiter.condition(pod, "Ready")["reason"] == "ContainersNotReady"
    assert waiter.condition_status(pod, "PodScheduled") is None
    assert waiter.pod_ready(pod) is False and waiter.condition(None, "Ready") is None


class Cluster:
    """get() answers from a queue of states per name (the last repeats); list() from pods and events."""

    def __init__(self, states, pods=(), events=(), failures=0):
        self.states = {name: list(queue) for name, queue in states.items()}
        self.pods, self.events = list(pods), list(events)
        self.failures = failures

    def get(self, api_version, kind, name, namespace=None):
        if self.failures:
            self.failures -= 1
            raise K8sApiError("503 while trying to get", status=503)
        queue = self.states.get(name) or [None]
        return copy.deepcopy(queue.pop(0) if len(queue) > 1 else queue[0])

    def list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        if kind == "Pod":
            return copy.deepcopy(self.pods)
        if kind == "Event" and field_selector == "involvedObject.kind=DaemonSet,involvedObject.name=nvidia-device-plugin":
            return copy.deepcopy(self.events)
        return []


TARGET = [("apps/v1", "DaemonSet", "nvidia-device-plugin", NS)]


def test_wait_until_ready_polls_until_ready_and_rides_out_an_api_restart():
    clock = Clock()
    cluster = Cluster({"nvidia-device-plugin": [daemonset(observed=1), daemonset(available=3), daemonset()]}, failures=1)
    states, elapsed = waiter.wait_until_ready(cluster, TARGET, timeout=60, interval=2, sleep=clock.sleep, clock=clock)
    assert states[0]["ready"] is True and states[0]["live"]["status"]["numberAvailable"] == 5
    assert elapsed == 4.5  # two polls of 2 s, plus the 0.5 s retry after the 503
    assert clock.sleeps == [0.5, 2, 2]


def test_a_daemonset_whose_pods_the_controller_cannot_create_is_explained_by_its_events():
    clock = Clock()
    ready_pod = {"metadata": {"name": "p-ok", "namespace": NS}, "spec": {"nodeName": "gpu-h100-0"},
                 "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    events = [
        {"type": "Warning", "reason": "FailedCreate", "message": "old", "lastTimestamp": "2026-01-01T00:00:00Z"},
        {"type": "Warning", "reason": "FailedCreate", "message": "exceeded quota: two-pods", "lastTimestamp": "2026-01-01T00:01:00Z"},
        {"type": "Normal", "reason": "SuccessfulCreate", "message": "created pod"},
    ]
    cluster = Cluster({"nvidia-device-plugin": [daemonset(available=1, ready=1)]}, pods=[ready_pod], events=events)
    states, _elapsed = waiter.wait_until_ready(cluster, TARGET, timeout=3, sleep=clock.sleep, clock=clock)
    assert states[0]["ready"] is False and clock.sleeps == [1, 1, 1]
    (finding,) = diagnose_unready(cluster, states)
    assert finding["object"] == "DaemonSet %s/nvidia-device-plugin" % NS and finding["pod"] is None
    assert finding["message"] == ("DaemonSet %s/nvidia-device-plugin is not ready: 5 node(s) targeted, 5 updated, 1 ready, "
                                  "1 available; event FailedCreate: exceeded quota: two-pods." % NS)


def test_a_daemonset_pod_that_cannot_pull_its_image_is_named():
    clock = Clock()
    pulling = {"metadata": {"name": "p-pull", "namespace": NS}, "spec": {"nodeName": "gpu-t4-0"},
               "status": {"phase": "Pending", "containerStatuses": [
                   {"name": "nvidia-device-plugin-ctr", "image": "nvcr.io/nvidia/k8s-device-plugin:v0.99.0",
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}}]}}
    cluster = Cluster({"nvidia-device-plugin": [daemonset(available=4, ready=4)]}, pods=[pulling])
    states, _elapsed = waiter.wait_until_ready(cluster, TARGET, timeout=1, sleep=clock.sleep, clock=clock)
    (finding,) = diagnose_unready(cluster, states)
    assert finding["cause"] == "image_pull" and finding["pod"] == "p-pull"
    assert "cannot pull its image nvcr.io/nvidia/k8s-device-plugin:v0.99.0" in finding["message"]


def test_wait_for_crd_established_times_out_with_the_reason():
    clock = Clock()
    clash = {"status": {"conditions": [{"type": "NamesAccepted", "status": "False", "message": "plural taken"}]}}
    cluster = Cluster({"x.example.com": [clash]})
    with pytest.raises(waiter.K8sTimeoutError, match=r"^Timed out after 1s waiting for CustomResourceDefinition x.example.com: "
                                                     r"NamesAccepted is False: plural taken$"):
        waiter.wait_for(cluster, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "x.example.com", None,
                        lambda obj: waiter.crd_state(obj)[0], 1, lambda obj: waiter.crd_state(obj)[2],
                        interval=0.5, clock=clock, sleep=clock.sleep)
