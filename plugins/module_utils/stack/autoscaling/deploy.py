# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the inference_autoscaling module does, start to end: validate every option, build the objects, check
the cluster (no other autoscaler on the workload, the InferenceService there for KServe), take back this
module's object of the other autoscaler kind, then apply. Nothing is written before all of that passed.

Everything is written under this module's own field manager: the InferenceService annotation is a partial
object, and a server-side apply of it under the stack's manager would give up the stack's fields.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import applied_and_removed, apply_objects, object_ref, remove_objects
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling.spec import SpecError, validate
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import autoscaling as builders

FIELD_MANAGER = "inferops.kubernetes.autoscaling"
SPEC_OPTIONS = ("name", "namespace", "runtime", "model_name", "target", "min_replicas", "max_replicas", "allow_scale_to_zero",
                "startup_timeout", "hpa", "keda", "labels", "state")


def plan(params: Dict[str, Any]) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """The validated spec and its objects, from the module's options; raises SpecError before anything else."""
    spec = validate({name: params.get(name) for name in SPEC_OPTIONS})
    return spec, builders.objects(spec) if spec["autoscaler"] else []


def _writes(obj: Dict[str, Any]) -> bool:
    return any(e.get("manager") == FIELD_MANAGER and not e.get("subresource") for e in obj["metadata"].get("managedFields") or [])


def _targets(obj: Dict[str, Any], target: Dict[str, str]) -> bool:
    ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
    return ref.get("name") == target["name"] and (ref.get("kind") or "Deployment") == target["kind"]


def autoscalers_of(client, namespace: str, target: Dict[str, str]) -> List[Dict[str, Any]]:
    """Every HPA, and where KEDA's CRDs are served every ScaledObject, in the namespace that scales target
    ({kind, name}), each with its kind set (a list's items come without one)."""
    found = [dict(hpa, kind="HorizontalPodAutoscaler")
             for hpa in client.list(builders.HPA_API_VERSION, "HorizontalPodAutoscaler", namespace=namespace) if _targets(hpa, target)]
    if client.served(builders.KEDA_API_VERSION, "ScaledObject"):
        found.extend(dict(scaled, kind="ScaledObject")
                     for scaled in client.list(builders.KEDA_API_VERSION, "ScaledObject", namespace=namespace) if _targets(scaled, target))
    return found


def other_autoscalers(client, spec: Dict[str, Any]) -> List[str]:
    """HPAs and ScaledObjects that scale the workload and are not this module's, nor made for this module's
    ScaledObject (KEDA's keda-hpa-<name>), nor KServe's own (it goes once the annotation is applied)."""
    ours_by_keda = "keda-hpa-%s" % spec["name"]
    found = []
    for scaler in autoscalers_of(client, spec["namespace"], spec["target"]):
        name = scaler["metadata"]["name"]
        if name == spec["name"] and _writes(scaler):
            continue
        owners = scaler["metadata"].get("ownerReferences") or []
        if scaler["kind"] == "HorizontalPodAutoscaler":
            if name == ours_by_keda and any(o.get("kind") == "ScaledObject" and o.get("name") == spec["name"] for o in owners):
                continue
            if runtimes.get(spec["runtime"]).own_autoscaler and any(o.get("kind") == "InferenceService" and o.get("name") == spec["name"] for o in owners):
                continue
        found.append("%s %s" % (scaler["kind"], name))
    return found


def _removable(client, refs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The refs of kinds the server serves (with no KEDA CRDs there is no ScaledObject to take back)."""
    return [r for r in refs if client.served(r["apiVersion"], r["kind"])]


def _stale(spec: Dict[str, Any], objects: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """This module's objects of the service that the spec no longer has (the other autoscaler kind, an unused
    TriggerAuthentication)."""
    wanted = {(o["kind"], o["metadata"]["name"]) for o in objects}
    return [r for r in builders.all_kinds(spec) if (r["kind"], r["metadata"]["name"]) not in wanted]


def run(client, spec: Dict[str, Any], objects: List[Dict[str, Any]], check_mode: bool = False, force_conflicts: bool = False,
        warn: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Apply (state present) or take back (objects empty: state absent); the module's result keys."""
    warn = warn or (lambda message: None)
    own_autoscaler = runtimes.get(spec["runtime"]).own_autoscaler
    annotation = builders.kserve_annotation(spec)
    if not objects:
        refs = ([annotation] if own_autoscaler else []) + builders.all_kinds(spec)
        outcome = remove_objects(client, _removable(client, refs), check_mode=check_mode, field_manager=FIELD_MANAGER)
        return {"changed": outcome["changed"], "objects": outcome["results"], "kept": outcome["kept"], "diff": outcome["diff"]}
    others = other_autoscalers(client, spec)
    if others:
        raise SpecError("target: %s %s is already scaled by %s; two autoscalers on one workload fight over its replicas. "
                        "Remove %s first, or point this module at another workload." % (
                            spec["target"]["kind"], spec["target"]["name"], ", ".join(others), "it" if len(others) == 1 else "them"))
    if own_autoscaler and client.get(builders.KSERVE_API_VERSION, "InferenceService", spec["name"], spec["namespace"]) is None:
        raise SpecError("name: InferenceService %s/%s does not exist, so KServe's own autoscaler cannot be turned off. "
                        "Deploy it first (inference_stack with runtime kserve)." % (spec["namespace"], spec["name"]))
    if client.get(spec["target"]["apiVersion"], spec["target"]["kind"], spec["target"]["name"], spec["namespace"]) is None:
        warn("target: %s %s/%s does not exist yet; the autoscaler reports it until it does." % (
            spec["target"]["kind"], spec["namespace"], spec["target"]["name"]))
    removed = remove_objects(client, _removable(client, _stale(spec, objects)), check_mode=check_mode, field_manager=FIELD_MANAGER)
    # KServe's HPA goes before this module's autoscaler comes, so the two never scale the predictor together
    outcome = apply_objects(client, ([annotation] if own_autoscaler else []) + objects, check_mode=check_mode,
                            force_conflicts=force_conflicts, field_manager=FIELD_MANAGER)
    return applied_and_removed(outcome, removed)


def run_inference_autoscaling(client, module) -> Dict[str, Any]:
    """The module's result (run through k8s.runner.run_api_module)."""
    spec, objects = plan(module.params)
    for message in spec["warnings"]:
        module.warn(message)
    result = run(client, spec, objects, module.check_mode, module.params["force_conflicts"], warn=module.warn)
    result["autoscaler"] = spec["autoscaler"]
    result["target"] = object_ref(dict(spec["target"], metadata={"name": spec["target"]["name"], "namespace": spec["namespace"]}))
    if not module._diff:
        del result["diff"]
    return result
