# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the dcgm_exporter module does, start to end: validate, then apply and wait for the DaemonSet's
rollout (through the shared waiter and diagnosis), or remove what this install put there."""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.dcgm_exporter import manifests as builder
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.addon import apply_gpu_addon
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import remove_objects
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.errors import K8sCrdMissingError, K8sError

SPEC_OPTIONS = tuple(builder.DEFAULTS)


def _check_targets(client, spec):
    # The API accepts a DaemonSet naming a missing RuntimeClass and then refuses every pod, and a missing
    # ServiceMonitor kind would fail after the rest is written: say so before writing anything.
    name = spec["runtime_class_name"]
    if name and client.get("node.k8s.io/v1", "RuntimeClass", name) is None:
        raise K8sError(
            "runtime_class_name: the RuntimeClass %s does not exist. Deploy the device plugin first (inferops.kubernetes.device_plugin "
            "writes the RuntimeClass nvidia), name the RuntimeClass of the NVIDIA runtime, or set runtime_class_name to an empty "
            "string where nvidia is the GPU nodes' default runtime." % name
        )
    if spec["service_monitor"]:
        try:
            client.namespaced(builder.SERVICE_MONITOR_API, "ServiceMonitor")
        except K8sCrdMissingError as exc:
            raise K8sError("service_monitor: %s Or set service_monitor=false and scrape the Service %s/%s (port %s) yourself."
                           % (exc, spec["namespace"], builder.NAME, builder.PORT_NAME)) from exc


def _present(client, module, spec):
    objects = builder.build_manifests(spec)
    _check_targets(client, spec)
    result = apply_gpu_addon(client, module, objects, builder.SELECTOR_LABELS, "the DCGM exporter")
    result["counters"] = [c["field"] for c in spec["counters"]]
    return result


def _absent(client, module, spec):
    """Delete what this collection alone manages; from objects shared with others, withdraw only its own fields."""
    objects = builder.build_manifests(dict(spec, service_monitor=True))
    if not client.served(builder.SERVICE_MONITOR_API, "ServiceMonitor"):  # none can exist where the kind is not served
        objects = [o for o in objects if o["kind"] != "ServiceMonitor"]
    outcome = remove_objects(client, objects, check_mode=module.check_mode)
    result = dict(changed=outcome["changed"], objects=outcome["results"], kept=outcome["kept"])
    if module._diff:
        result["diff"] = outcome["diff"]
    return result


def run_dcgm_exporter(client: Any, module: Any) -> Dict[str, Any]:
    """The module's result (run through k8s.runner.run_api_module)."""
    params = {name: module.params[name] for name in SPEC_OPTIONS}
    if module.params["state"] == "absent":
        # removal goes by name: no Prometheus needs to select what is being deleted
        return _absent(client, module, builder.validate(dict(params, service_monitor=False)))
    spec = builder.validate(params)
    return _present(client, module, spec)
