# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the inference_monitoring module does, start to end: validate every option (the rules' PromQL parsed),
build the objects, check that the cluster serves prometheus-operator's kinds, take back this module's object
of the other monitor kind, then apply. Nothing is written before all of that passed.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import applied_and_removed, apply_objects, remove_objects
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import monitoring as builders
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.monitoring.spec import SpecError, validate

FIELD_MANAGER = "inferops.kubernetes.monitoring"
SPEC_OPTIONS = ("name", "namespace", "runtime", "model_name", "prometheus_labels", "scrape_interval", "scrape_timeout", "metrics_port",
                "metrics_path", "rules", "gpu", "latency_slo_ms", "error_ratio", "gpu_memory_full_ratio", "alert_for", "pending_for",
                "dcgm_label_prefix", "extra_rules", "labels", "state")


def plan(params: Dict[str, Any]) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """The validated spec and its objects, from the module's options; raises SpecError before anything else."""
    spec = validate({name: params.get(name) for name in SPEC_OPTIONS})
    return spec, builders.objects(spec) if (params.get("state") or "present") == "present" else []


def run(client, spec: Dict[str, Any], objects: List[Dict[str, Any]], check_mode: bool = False, force_conflicts: bool = False) -> Dict[str, Any]:
    """Apply (state present) or take back (objects empty: state absent); the module's result keys."""
    served = [r for r in builders.all_kinds(spec) if client.served(r["apiVersion"], r["kind"])]
    if not objects:
        outcome = remove_objects(client, served, check_mode=check_mode, field_manager=FIELD_MANAGER)
        return {"changed": outcome["changed"], "objects": outcome["results"], "kept": outcome["kept"], "diff": outcome["diff"]}
    missing = sorted({o["kind"] for o in objects} - {r["kind"] for r in served})
    if missing:
        raise SpecError("prometheus_labels: the cluster does not serve %s %s, so there is nothing to select them. Install "
                        "prometheus-operator (or kube-prometheus-stack) first, whose CRDs define them." % (builders.API_VERSION, ", ".join(missing)))
    wanted = {o["kind"] for o in objects}
    removed = remove_objects(client, [r for r in served if r["kind"] not in wanted], check_mode=check_mode, field_manager=FIELD_MANAGER)
    outcome = apply_objects(client, objects, check_mode=check_mode, force_conflicts=force_conflicts, field_manager=FIELD_MANAGER)
    return applied_and_removed(outcome, removed)


def run_inference_monitoring(client, module) -> Dict[str, Any]:
    """The module's result (run through k8s.runner.run_api_module)."""
    spec, objects = plan(module.params)
    result = run(client, spec, objects, module.check_mode, module.params["force_conflicts"])
    result["alerts"] = sorted({r["alert"] for r in spec.get("alerting_rules") or []})
    result["records"] = [r["record"] for r in spec.get("recording_rules") or []]
    if not module._diff:
        del result["diff"]
    return result
