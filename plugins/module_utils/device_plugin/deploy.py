# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the device_plugin module does, start to end: validate, then apply and wait for the DaemonSet's
rollout (through the shared waiter and diagnosis), or remove what this install put there."""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.device_plugin import manifests as builder
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.addon import apply_gpu_addon
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import remove_objects
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sError

SPEC_OPTIONS = tuple(builder.DEFAULTS)


def _check_priority_class(client, name):
    # The API accepts a DaemonSet naming a missing PriorityClass and then refuses every pod:
    # say so before writing, not after a rollout that never starts.
    if name and client.get("scheduling.k8s.io/v1", "PriorityClass", name) is None:
        raise K8sError(
            "priority_class_name: the PriorityClass %s does not exist. Create it first, use system-node-critical, "
            "or set priority_class_name to an empty string." % name
        )


def _present(client, module, spec):
    objects = builder.build_manifests(spec)
    _check_priority_class(client, spec["priority_class_name"])
    result = apply_gpu_addon(client, module, objects, builder.SELECTOR_LABELS, "the device plugin")
    result["config"] = builder.render_config(spec)
    return result


def _absent(client, module, spec):
    """Delete what this collection alone manages; from objects shared with others, withdraw only its own fields
    (for example the Pod Security labels this module put on kube-system)."""
    objects = builder.build_manifests(spec)
    kept = []
    if spec["runtime_class"]:
        users = builder.runtime_class_users(client.list("apps/v1", "DaemonSet"), spec["namespace"])
        if users:
            objects = [o for o in objects if o["kind"] != "RuntimeClass"]
            kept.append("RuntimeClass/%s: still used by DaemonSet %s" % (builder.RUNTIME_CLASS_NAME, ", ".join(users)))
    outcome = remove_objects(client, objects, check_mode=module.check_mode)
    result = dict(changed=outcome["changed"], objects=outcome["results"], kept=kept + outcome["kept"])
    if module._diff:
        result["diff"] = outcome["diff"]
    return result


def run_device_plugin(client: Any, module: Any) -> Dict[str, Any]:
    """The module's result (run through k8s.runner.run_api_module)."""
    spec = builder.validate({name: module.params[name] for name in SPEC_OPTIONS})
    if module.params["state"] == "absent":
        return _absent(client, module, spec)
    return _present(client, module, spec)
