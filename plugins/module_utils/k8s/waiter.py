# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one waiter: readiness as a table keyed by kind, and waits that end in a message saying what was seen.

Each readiness function takes the object as the API server returned it (None when it does not exist)
and answers (ready, failed, reason): failed means waiting longer cannot help (a Deployment past its
progress deadline, or paused). Readiness follows the controllers' own status, as `kubectl rollout
status` does. Why a workload's pods are not ready is k8s/diagnose.py's job.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.conditions import condition, condition_status
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError, with_retries

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.client import K8sClient

Obj = Dict[str, Any]
State = Tuple[bool, bool, str]

KSERVE_GROUP = "serving.kserve.io"


class K8sTimeoutError(K8sError):
    """The awaited state was not reached in time."""


def pod_ready(pod: Obj) -> bool:
    return condition_status(pod, "Ready") == "True"


def _generation(obj: Obj) -> Tuple[int, int]:
    return (obj.get("metadata") or {}).get("generation") or 0, (obj.get("status") or {}).get("observedGeneration") or 0


def deployment_state(dep: Optional[Obj]) -> State:
    """Rolled out: the current generation observed, every desired replica updated and available, no old one left."""
    if dep is None:
        return False, False, "it does not exist"
    spec = dep.get("spec") or {}
    status = dep.get("status") or {}
    generation, observed = _generation(dep)
    if observed < generation:
        return False, False, "the controller has not observed generation %s yet (observed %s)" % (generation, observed)
    progressing = condition(dep, "Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return False, True, "it exceeded its progress deadline (%ss): %s" % (
            spec.get("progressDeadlineSeconds", 600), progressing.get("message") or "")
    desired = spec.get("replicas", 1)
    updated = status.get("updatedReplicas") or 0
    total = status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    failure = condition(dep, "ReplicaFailure") or {}
    extra = "; %s" % failure.get("message") if failure.get("status") == "True" else ""
    if spec.get("paused"):
        return False, True, "it is paused: resume it (kubectl rollout resume) so the new revision rolls out"
    if updated < desired:
        return False, False, "%s of %s replicas updated to the new revision%s" % (updated, desired, extra)
    if total > updated:
        return False, False, "%s old replicas still running" % (total - updated)
    if available < updated:
        return False, False, "%s of %s updated replicas available%s" % (available, updated, extra)
    return True, False, "%s of %s replicas updated and available" % (available, desired)


def daemonset_counts(daemonset: Optional[Obj]) -> Dict[str, Any]:
    """A DaemonSet's rollout counters: desired, updated, ready, available, and whether status is current."""
    status = (daemonset or {}).get("status") or {}
    generation, observed = _generation(daemonset or {})
    return {
        "current": observed >= generation > 0,
        "desired": status.get("desiredNumberScheduled") or 0,
        "updated": status.get("updatedNumberScheduled") or 0,
        "ready": status.get("numberReady") or 0,
        "available": status.get("numberAvailable") or 0,
    }


def daemonset_state(daemonset: Optional[Obj]) -> State:
    """Rolled out: every node the DaemonSet targets runs an available pod of its current template."""
    if daemonset is None:
        return False, False, "the DaemonSet does not exist"
    counts = daemonset_counts(daemonset)
    reason = "%(desired)d node(s) targeted, %(updated)d updated, %(ready)d ready, %(available)d available" % counts
    if not counts["current"]:
        reason += "; the DaemonSet controller has not processed the latest spec yet"
    return counts["current"] and counts["updated"] == counts["desired"] == counts["available"], False, reason


def inference_service_state(isvc: Optional[Obj]) -> State:
    """Ready: its Ready condition is True for the current generation."""
    if isvc is None:
        return False, False, "it does not exist"
    generation = (isvc.get("metadata") or {}).get("generation") or 0
    status = isvc.get("status") or {}
    if not status:
        return False, False, "it has no status yet: is the KServe controller running?"
    observed = status.get("observedGeneration")
    if observed is not None and observed < generation:
        return False, False, "the KServe controller has not observed generation %s yet (observed %s)" % (generation, observed)
    ready = condition(isvc, "Ready")
    if ready is None:
        return False, False, "it has no Ready condition yet"
    if ready.get("status") == "True":
        return True, False, "Ready"
    not_ready = [
        "%s: %s" % (c.get("type"), c.get("message") or c.get("reason") or c.get("status"))
        for c in status.get("conditions") or [] if c.get("status") != "True" and c.get("type") != "Ready"
    ]
    return False, False, "Ready is %s (%s)%s" % (
        ready.get("status"), ready.get("reason") or ready.get("message") or "no reason",
        "; " + "; ".join(not_ready) if not_ready else "")


def crd_state(crd: Optional[Obj]) -> State:
    """Established: the API server serves the kinds it defines."""
    if crd is None:
        return False, False, "the CustomResourceDefinition does not exist"
    if condition_status(crd, "Established") == "True":
        return True, False, "Established"
    for entry in (crd.get("status") or {}).get("conditions") or []:
        if entry.get("type") in ("Established", "NamesAccepted") and entry.get("status") != "True":
            return False, False, "%s is %s: %s" % (entry["type"], entry.get("status"), entry.get("message", ""))
    return False, False, "it is not Established yet"


# Readiness by kind (and API group, where two groups share a kind name).
READINESS: Dict[Tuple[str, str], Callable[[Optional[Obj]], State]] = {
    ("apps", "Deployment"): deployment_state,
    ("apps", "DaemonSet"): daemonset_state,
    (KSERVE_GROUP, "InferenceService"): inference_service_state,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd_state,
}


def _group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def has_readiness(api_version: str, kind: str) -> bool:
    return (_group(api_version), kind) in READINESS


def readiness(api_version: str, kind: str, obj: Optional[Obj]) -> State:
    """(ready, failed, reason) of an object of a kind in the table."""
    try:
        check = READINESS[(_group(api_version), kind)]
    except KeyError:
        raise K8sError("No readiness rule for %s %s: the collection waits only for %s."
                       % (api_version, kind, ", ".join(sorted(k for _g, k in READINESS))))
    return check(obj)


def wait_for(client: K8sClient, api_version: str, kind: str, name: str, namespace: Optional[str],
             predicate: Callable[[Obj], bool], timeout: float, describe: Callable[[Optional[Obj]], str],
             interval: float = 1.0, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> Obj:
    """Poll until predicate(obj) is true; return obj. On timeout raise with describe(obj)."""
    deadline = clock() + timeout
    obj: Optional[Obj] = None
    while True:
        obj = client.get(api_version, kind, name, namespace)
        if obj is not None and predicate(obj):
            return obj
        if clock() >= deadline:
            where = "%s/%s" % (namespace, name) if namespace else name
            raise K8sTimeoutError(
                "Timed out after %ss waiting for %s %s: %s" % (timeout, kind, where, describe(obj)),
                last_seen=obj,
            )
        sleep(interval)


def wait_until_ready(client: K8sClient, targets: List[Tuple[str, str, str, Optional[str]]], timeout: float,
                     interval: float = 1.0, sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> Tuple[List[Dict[str, Any]], float]:
    """Poll (api_version, kind, name, namespace) targets until each is ready by READINESS, at most timeout seconds.

    Ends early when every target still pending has failed (waiting cannot help). Returns the last state of each
    target ({kind, name, namespace, live, ready, failed, reason}) and the seconds waited. A read that meets an
    API server restart or throttling is retried.
    """
    start = clock()
    deadline = start + timeout
    while True:
        states: List[Dict[str, Any]] = []
        for api_version, kind, name, namespace in targets:
            # partial rather than a lambda with defaults: it binds this target the same way, and mypy can type it
            live = with_retries(partial(client.get, api_version, kind, name, namespace), sleep=sleep)
            ready, failed, reason = readiness(api_version, kind, live)
            states.append(dict(kind=kind, name=name, namespace=namespace, live=live, ready=ready, failed=failed, reason=reason))
        pending = [state for state in states if not state["ready"]]
        now = clock()
        if not pending or now >= deadline or all(state["failed"] for state in pending):
            return states, round(clock() - start, 3)
        sleep(max(min(interval, deadline - now), 0))


def wait_for_crd_established(client: K8sClient, name: str, timeout: float = 60) -> Obj:
    return wait_for(
        client, "apiextensions.k8s.io/v1", "CustomResourceDefinition", name, None,
        lambda obj: crd_state(obj)[0], timeout, lambda obj: crd_state(obj)[2], interval=0.5,
    )
