# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for a rollout to become available, diagnose it when it does not, and roll a Deployment back.

Readiness follows the controllers' own status: a Deployment is rolled out when its controller has
observed the current generation and every desired replica is updated and available with no old
replica left (what `kubectl rollout status` waits for); an InferenceService when its Ready condition
is True for the current generation.
"""

from __future__ import annotations

import copy
import json
import time
from functools import partial

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import (
    FIELD_MANAGER,
    apply_object,
    with_retries,
)
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.diagnose import (
    diagnose_workload,
    label_selector,
)

REVISION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH = "pod-template-hash"
KSERVE_GROUP = "serving.kserve.io"
KSERVE_POD_LABEL = "serving.kserve.io/inferenceservice"


def _is_deployment(obj):
    return obj.get("kind") == "Deployment" and obj.get("apiVersion") == "apps/v1"


def _is_inference_service(obj):
    return obj.get("kind") == "InferenceService" and (obj.get("apiVersion") or "").split("/")[0] == KSERVE_GROUP


def _condition(obj, condition_type):
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == condition_type:
            return condition
    return None


def deployment_state(dep):
    """(ready, failed, reason) of a Deployment object as the API server returned it."""
    if dep is None:
        return False, False, "it does not exist"
    metadata = dep.get("metadata") or {}
    spec = dep.get("spec") or {}
    status = dep.get("status") or {}
    generation = metadata.get("generation") or 0
    observed = status.get("observedGeneration") or 0
    if observed < generation:
        return False, False, "the controller has not observed generation %s yet (observed %s)" % (generation, observed)
    progressing = _condition(dep, "Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return False, True, "it exceeded its progress deadline (%ss): %s" % (
            spec.get("progressDeadlineSeconds", 600), progressing.get("message") or "")
    desired = spec.get("replicas", 1)
    updated = status.get("updatedReplicas") or 0
    total = status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    failure = _condition(dep, "ReplicaFailure") or {}
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


def inference_service_state(isvc):
    """(ready, failed, reason) of an InferenceService: its Ready condition, for the current generation."""
    if isvc is None:
        return False, False, "it does not exist"
    generation = (isvc.get("metadata") or {}).get("generation") or 0
    status = isvc.get("status") or {}
    if not status:
        return False, False, "it has no status yet: is the KServe controller running?"
    observed = status.get("observedGeneration")
    if observed is not None and observed < generation:
        return False, False, "the KServe controller has not observed generation %s yet (observed %s)" % (generation, observed)
    ready = _condition(isvc, "Ready")
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


def _revision(obj):
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION) or 0)
    except ValueError:
        return 0


def _owned_replicasets(client, dep):
    metadata = dep.get("metadata") or {}
    selector = label_selector((dep.get("spec") or {}).get("selector") or {})
    replicasets = client.list("apps/v1", "ReplicaSet", metadata.get("namespace"), label_selector=selector or None)
    return [
        rs for rs in replicasets
        if any(ref.get("uid") == metadata.get("uid") and ref.get("controller") for ref in (rs.get("metadata") or {}).get("ownerReferences") or [])
    ]


def _new_pods_selector(client, dep):
    """The Deployment's selector narrowed to the pods of its current revision (old, healthy pods are no evidence)."""
    selector = label_selector((dep.get("spec") or {}).get("selector") or {})
    current = _revision(dep)
    for rs in _owned_replicasets(client, dep):
        template_hash = ((rs.get("metadata") or {}).get("labels") or {}).get(TEMPLATE_HASH)
        if current and _revision(rs) == current and template_hash:
            return "%s,%s=%s" % (selector, TEMPLATE_HASH, template_hash) if selector else "%s=%s" % (TEMPLATE_HASH, template_hash)
    return selector


def _object_ref(kind, namespace, name):
    return "%s %s/%s" % (kind, namespace, name) if namespace else "%s %s" % (kind, name)


def wait_for_rollout(client, objects, timeout, interval=1.0, sleep=time.sleep, clock=time.monotonic):
    """Wait until every Deployment and InferenceService in objects is rolled out, at most timeout seconds.

    Returns {"ready", "elapsed_s", "objects": [{"kind", "name", "namespace", "ready", "reason"}], "diagnosis"};
    diagnosis lists findings of diagnose_workload (each with "object" added) and is filled only when not ready.
    A Deployment past its progress deadline, or paused, ends the wait early: it will not become ready by waiting.
    """
    targets = []
    for obj in objects:
        if _is_deployment(obj) or _is_inference_service(obj):
            metadata = obj.get("metadata") or {}
            targets.append((obj["apiVersion"], obj["kind"], metadata.get("name"), metadata.get("namespace")))
    start = clock()
    deadline = start + timeout
    while True:
        states = []
        for api_version, kind, name, namespace in targets:
            live = with_retries(partial(client.get, api_version, kind, name, namespace), sleep=sleep)
            ready, failed, reason = deployment_state(live) if kind == "Deployment" else inference_service_state(live)
            states.append(dict(kind=kind, name=name, namespace=namespace, live=live, ready=ready, failed=failed, reason=reason))
        pending = [state for state in states if not state["ready"]]
        now = clock()
        if not pending or now >= deadline or all(state["failed"] for state in pending):
            break
        sleep(max(min(interval, deadline - now), 0))
    result = {
        "ready": not pending,
        "elapsed_s": round(clock() - start, 3),
        "objects": [{key: state[key] for key in ("kind", "name", "namespace", "ready", "reason")} for state in states],
        "diagnosis": [],
    }
    for state in pending:
        kind, name, namespace, live = state["kind"], state["name"], state["namespace"], state["live"]
        ref = _object_ref(kind, namespace, name)
        found, selector = [], None
        if live is not None:
            selector = _new_pods_selector(client, live) if kind == "Deployment" else "%s=%s" % (KSERVE_POD_LABEL, name)
            found = diagnose_workload(client, namespace, selector)
        findings = [f for f in found if f["pod"]]
        if not findings:
            # no pod to blame: the object's own status is the evidence
            no_pods = "; no pod matches %s" % selector if found else ""
            findings = [{"cause": "pending_other", "pod": None, "details": {"selector": selector},
                         "message": "%s is not ready: %s%s." % (ref, state["reason"], no_pods)}]
        for finding in findings:
            finding["object"] = ref
        result["diagnosis"].extend(findings)
    return result


def _extract(value, fields):
    """The part of value that a managedFields fieldsV1 set covers."""
    if not fields:
        return copy.deepcopy(value)
    if isinstance(value, dict):
        return {key[2:]: _extract(value[key[2:]], sub) for key, sub in fields.items() if key.startswith("f:") and key[2:] in value}
    if isinstance(value, list):
        keyed = [(json.loads(key[2:]), sub) for key, sub in fields.items() if key.startswith("k:")]
        sets = [json.loads(key[2:]) for key in fields if key.startswith("v:")]
        out = []
        for item in value:
            for ident, sub in keyed:
                if isinstance(item, dict) and all(item.get(k) == v for k, v in ident.items()):
                    part = _extract(item, sub) if set(sub) - {"."} else copy.deepcopy(item)
                    part.update(ident)
                    out.append(part)
                    break
            else:
                if item in sets:
                    out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(value)


def applied_config(obj, manager=FIELD_MANAGER):
    """What `manager` last applied to obj (server-side apply), rebuilt from managedFields; None if it never applied."""
    metadata = obj.get("metadata") or {}
    entries = [m for m in metadata.get("managedFields") or [] if m.get("manager") == manager and m.get("operation") == "Apply"]
    if not entries:
        return None
    config = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind")}
    for entry in entries:
        config.update(_extract({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}, entry.get("fieldsV1") or {}))
    config.setdefault("metadata", {})
    config["metadata"]["name"] = metadata.get("name")
    if metadata.get("namespace"):
        config["metadata"]["namespace"] = metadata["namespace"]
    config.pop("status", None)
    return config


def _clean_template(template):
    template = copy.deepcopy(template or {})
    meta = template.setdefault("metadata", {})
    (meta.get("labels") or {}).pop(TEMPLATE_HASH, None)
    meta.pop("creationTimestamp", None)
    return template


def rollback(client, namespace, name):
    """Put a Deployment's pod template back to that of its previous revision (like `kubectl rollout undo`).

    The template is written by server-side apply under this collection's field manager, over the rest of
    what that manager last applied, so a later apply of the new spec takes effect again without a conflict.
    Returns {"rolled_back", "from_revision", "to_revision", "reason"}.
    """
    dep = client.get("apps/v1", "Deployment", name, namespace)
    ref = _object_ref("Deployment", namespace, name)
    if dep is None:
        return {"rolled_back": False, "from_revision": 0, "to_revision": 0, "reason": "%s does not exist." % ref}
    current = _revision(dep)
    if (dep.get("spec") or {}).get("paused"):
        return {"rolled_back": False, "from_revision": current, "to_revision": current,
                "reason": "%s is paused; resume it before rolling back." % ref}
    older = [rs for rs in _owned_replicasets(client, dep) if 0 < _revision(rs) < current]
    if not older:
        return {"rolled_back": False, "from_revision": current, "to_revision": current,
                "reason": "%s has no revision before %s to roll back to." % (ref, current)}
    previous = max(older, key=_revision)
    target = _revision(previous)
    template = _clean_template((previous.get("spec") or {}).get("template"))
    config = applied_config(dep)
    if config is not None:
        config.setdefault("spec", {})["template"] = template
        # force: a rollback is an explicit decision to own the template again, whoever edited it since
        apply_object(client, config, force_conflicts=True)
        how = "server-side apply of the revision %s template" % target
    else:
        resource = client.resource("apps/v1", "Deployment")
        with_retries(lambda: client.call(
            "patch", "Deployment", resource.patch, name=name, namespace=namespace,
            body=[{"op": "replace", "path": "/spec/template", "value": template}],
            content_type="application/json-patch+json", field_manager=FIELD_MANAGER,
        ))
        how = "patch of the revision %s template (the Deployment was not applied by %s)" % (target, FIELD_MANAGER)
    return {
        "rolled_back": True, "from_revision": current, "to_revision": target,
        "reason": "%s rolled back from revision %s to revision %s by %s; the controller records it as revision %s."
                  % (ref, current, target, how, current + 1),
    }
