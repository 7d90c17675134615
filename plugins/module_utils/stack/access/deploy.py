# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the inference_access module does, start to end: validate every option, build the objects, then
apply them (server-side apply, check mode as a dry run), write them as YAML files, or remove them.

With state=present, an object the options no longer ask for (the Role once the rules are gone, the
NetworkPolicy once it is disabled) is taken back too, if this collection wrote it.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.errors import InputError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import apply_objects, object_ref, remove_objects
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sAuthError
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.runner import connect
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.access.spec import DEFAULTS, validate
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import access as builder
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.render import render_result

SPEC_OPTIONS = tuple(DEFAULTS)
# What the API server says when RBAC's escalation prevention refuses a Role or RoleBinding.
ESCALATION = "attempting to grant RBAC permissions not currently held"


def plan(params):
    """The validated spec and its objects, from the module's options; raises SpecError before anything else."""
    spec = validate({name: params.get(name) for name in SPEC_OPTIONS})
    return spec, builder.build_objects(spec, runtimes.get(spec["runtime"]))


def _stub(api_version, kind, name, namespace):
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}}


def escalation_error(exc: K8sAuthError, spec) -> K8sAuthError:
    """The API's refusal to let the deployer grant what it does not hold, with the two ways out."""
    return K8sAuthError(
        "The API server refused the Role or RoleBinding %s/%s: the identity running the module does not itself hold every "
        "permission the Role grants, and RBAC's escalation prevention lets nobody grant more than they have. Either grant "
        "the deployer those permissions in %s, or let it grant them without holding them: the verbs escalate on roles and "
        "bind on roles (apiGroups rbac.authorization.k8s.io) in that namespace. The API server said: %s"
        % (spec["namespace"], spec["name"], spec["namespace"], _api_words(exc.msg)), status=exc.details.get("status"))


def _api_words(message):
    """What the API server itself said, out of the general 403 message (whose RBAC advice this one replaces)."""
    said = message.split("The API server said: ", 1)[-1]
    return said.split(". Grant that verb", 1)[0].rstrip(".") + "."


def _summary(outcome):
    return [{"ref": r["ref"], "changed": r["changed"], "created": r["created"]} for r in outcome["results"]]


def _present(client, module, spec, objects) -> Dict[str, Any]:
    check_mode = module.check_mode
    try:
        applied = apply_objects(client, objects, check_mode=check_mode, force_conflicts=module.params["force_conflicts"])
    except K8sAuthError as exc:
        if ESCALATION in exc.msg:
            raise escalation_error(exc, spec)
        raise
    wanted = {object_ref(o) for o in objects}
    stale = [_stub(api_version, kind, name, spec["namespace"]) for api_version, kind, name in builder.all_kinds(spec)]
    stale = [o for o in stale if object_ref(o) not in wanted]
    removed = remove_objects(client, stale, check_mode=check_mode)
    result = {"changed": applied["changed"] or removed["changed"], "objects": _summary(applied),
              "removed": [r["ref"] for r in removed["results"]]}
    if module._diff:
        result["diff"] = applied["diff"] + removed["diff"]
    return result


def _absent(client, module, spec) -> Dict[str, Any]:
    objects = [_stub(api_version, kind, name, spec["namespace"]) for api_version, kind, name in builder.all_kinds(spec)]
    # the account may be shared with workloads other than this service: it is kept when others also write it
    outcome = remove_objects(client, objects, check_mode=module.check_mode)
    result = {"changed": outcome["changed"], "objects": outcome["results"], "kept": outcome["kept"]}
    if module._diff:
        result["diff"] = outcome["diff"]
    return result


def run_inference_access(module: Any) -> Dict[str, Any]:
    """The module's result (run through common.runner): render, remove, or apply."""
    params = module.params
    if params["state"] == "absent" and params["mode"] == "render":
        raise InputError("state: absent has nothing to render. Use mode=apply to remove the objects, or state=present to write their files.")
    spec, objects = plan(params)
    if params["mode"] == "render":
        return render_result(objects, params["render_dir"], check_mode=module.check_mode, diff=module._diff)
    client = connect(params, warn=module.warn)
    if params["state"] == "absent":
        return _absent(client, module, spec)
    return _present(client, module, spec, objects)
