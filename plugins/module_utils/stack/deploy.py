# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the inference_stack module does, start to end: validate every option, build the objects,
then apply them (server-side apply, check mode as a dry run) and optionally wait and roll back,
or write them as YAML files. Nothing is written before the whole spec has passed validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import apply_objects, remove_objects
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sAuthError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.runner import connect
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.waiter import K8sTimeoutError
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import rollout, runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.autoscaling.deploy import autoscalers_of
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.manifests import build_manifests
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.render import render_result
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.spec import DEFAULTS, cluster_warnings, validate

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec

SPEC_OPTIONS = tuple(DEFAULTS)


def plan(params):
    """The validated spec and its objects, from the module's options; raises SpecError before anything else."""
    spec = validate({name: params.get(name) for name in SPEC_OPTIONS})
    return spec, build_manifests(spec)


def apply_stack(client, spec: StackSpec, objects, check_mode=False, force_conflicts=False, warn=None):
    """Apply the objects; return the module's result keys (changed, objects, diff)."""
    if warn and spec["gpu"]:
        try:
            nodes = client.list("v1", "Node")
        except K8sAuthError:
            # reading nodes is only for a warning: a namespace-scoped deployer may not list them
            nodes = None
            warn("gpu: cannot list nodes, so whether any node advertises %s was not checked." % spec["gpu"]["resource"])
        for message in cluster_warnings(spec, nodes or []) if nodes is not None else ():
            warn(message)
    for obj in objects:
        if obj["kind"] == "Deployment":
            _leave_replicas_to_autoscalers(client, spec, obj, warn or (lambda message: None))
    outcome = apply_objects(client, objects, check_mode=check_mode, force_conflicts=force_conflicts)
    return {
        "changed": outcome["changed"],
        "objects": [{"ref": r["ref"], "changed": r["changed"], "created": r["created"]} for r in outcome["results"]],
        "diff": outcome["diff"],
    }


def _leave_replicas_to_autoscalers(client, spec: StackSpec, deployment, warn):
    """Once an HPA (or KEDA's) scales the Deployment, the controller manager owns spec.replicas: applying the
    option's count would fail as a conflict, or with force_conflicts fight the autoscaler. The Deployment keeps
    the count it has; a new one starts with the option's."""
    name = deployment["metadata"]["name"]
    try:
        scalers = autoscalers_of(client, spec["namespace"], {"kind": "Deployment", "name": name})
    except K8sAuthError:
        warn("replicas: cannot list HorizontalPodAutoscalers, so whether one scales Deployment %s was not checked." % name)
        return
    live = client.get("apps/v1", "Deployment", name, spec["namespace"]) if scalers else None
    if live is None or (live.get("spec") or {}).get("replicas") is None:
        return
    current = live["spec"]["replicas"]
    deployment["spec"]["replicas"] = current
    if current != spec["replicas"]:
        scaled_by = " and ".join("%s %s" % (s["kind"], s["metadata"]["name"]) for s in scalers)
        warn("replicas: %s scales Deployment %s (now %d replicas), so replicas %d is not applied; set the range on the "
             "autoscaler." % (scaled_by, name, current, spec["replicas"]))


def wait_and_maybe_roll_back(client, spec: StackSpec, objects, timeout, rollback_on_failure):
    """Wait for the rollout; return (rollout result, rollback result or None, failure message or None)."""
    state = rollout.wait_for_rollout(client, objects, timeout)
    if state["ready"]:
        return state, None, None
    # each finding is a sentence of its own, with its full stop
    causes = " ".join(finding["message"] for finding in state.get("diagnosis") or []) or "No cause found in pod status or events."
    unready = ", ".join("%s %s (%s)" % (o["kind"], o["name"], o.get("reason") or "not ready") for o in state["objects"] if not o["ready"])
    message = "%s %s did not become ready within %ss: %s. %s" % (spec["runtime"], spec["name"], timeout, unready, causes)
    if not rollback_on_failure:
        return state, None, message
    note = runtimes.get(spec["runtime"]).rollback_note
    if note:
        return state, None, message + " " + note
    undone = rollout.rollback(client, spec["namespace"], spec["name"])
    if undone.get("rolled_back"):
        message += " Rolled back from revision %s to revision %s." % (undone.get("from_revision"), undone.get("to_revision"))
    else:
        message += " No rollback: %s" % (undone.get("reason") or "no previous revision.")
    return state, undone, message


def run_inference_stack(module):
    """The module's result (run through common.runner): render, remove, or apply and wait.

    The kubernetes library is needed only to talk to the cluster: render mode works without it.
    """
    params = module.params
    if params["state"] == "absent" and params["mode"] == "render":
        raise InputError("state=absent has nothing to render: use mode=apply to remove the stack, or state=present "
                         "to write its files.")
    spec, objects = plan(params)
    if params["mode"] == "render":
        return render_result(objects, params["render_dir"], check_mode=module.check_mode, diff=module._diff)
    client = connect(params, warn=module.warn)
    if params["state"] == "absent":
        # the namespace may hold more than this stack: it stays, even when create_namespace made it
        outcome = remove_objects(client, [o for o in objects if o["kind"] != "Namespace"], check_mode=module.check_mode)
        result = {"changed": outcome["changed"], "objects": outcome["results"], "kept": outcome["kept"]}
        if module._diff:
            result["diff"] = outcome["diff"]
        return result
    result = apply_stack(client, spec, objects, module.check_mode, params["force_conflicts"], warn=module.warn)
    if not module._diff:
        del result["diff"]
    if params["wait"] and not module.check_mode:
        state, undone, failure = wait_and_maybe_roll_back(client, spec, objects, params["wait_timeout"], params["rollback_on_failure"])
        result["rollout"] = state
        if undone is not None:
            result["rollback"] = undone
            result["changed"] = result["changed"] or bool(undone.get("rolled_back"))
        if failure:
            raise K8sTimeoutError(failure, result=result)
    return result
