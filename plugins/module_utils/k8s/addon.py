# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the GPU node add-ons (the device plugin, the DCGM exporter) do alike once their objects are built: apply
them, wait for the DaemonSet's rollout through the shared waiter, diagnose it when it does not finish, and warn
when no node is a GPU node."""

from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.apply import apply_objects
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.diagnose import diagnose_unready
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.waiter import K8sTimeoutError, daemonset_counts, wait_until_ready


def wait_for_daemonset_rollout(client: Any, name: str, namespace: str, selector: Dict[str, str], timeout: float) -> Dict[str, Any]:
    """Wait until the DaemonSet has an available pod of its current template on every targeted node.

    Returns its counters (desired, updated, ready, available) and the nodes that run its pods (selected by the
    selector labels); raises K8sTimeoutError with the counters and each unready pod's cause.
    """
    states, _elapsed = wait_until_ready(client, [("apps/v1", "DaemonSet", name, namespace)], timeout)
    state = states[0]
    if not state["ready"]:
        causes = " ".join(finding["message"] for finding in diagnose_unready(client, states))
        raise K8sTimeoutError("Timed out after %ss waiting for DaemonSet %s/%s: %s. %s"
                              % (timeout, namespace, name, state["reason"], causes), last_seen=state["live"])
    counts = daemonset_counts(state["live"])
    del counts["current"]
    pods = client.list("v1", "Pod", namespace=namespace, label_selector=",".join("%s=%s" % item for item in selector.items()))
    counts["nodes"] = sorted({p["spec"].get("nodeName") for p in pods if p["spec"].get("nodeName")})
    return counts


def apply_gpu_addon(client: Any, module: Any, objects: List[Dict[str, Any]], selector: Dict[str, str], what: str) -> Dict[str, Any]:
    """Apply the add-on's objects (the last DaemonSet among them is the one waited for) and return the module's
    result: changed, objects, diff in diff mode, and with the module's wait (not in check mode) the rollout."""
    daemonset = [o for o in objects if o["kind"] == "DaemonSet"][-1]["metadata"]
    outcome = apply_objects(client, objects, check_mode=module.check_mode, force_conflicts=module.params["force_conflicts"])
    result: Dict[str, Any] = dict(
        changed=outcome["changed"],
        objects=[{"ref": r["ref"], "changed": r["changed"], "created": r["created"]} for r in outcome["results"]],
    )
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = outcome["diff"]
    if module.params["wait"] and not module.check_mode:
        result["rollout"] = wait_for_daemonset_rollout(client, daemonset["name"], daemonset["namespace"], selector, module.params["wait_timeout"])
        if result["rollout"]["desired"] == 0:
            module.warn(
                "No node is a GPU node, so %s runs nowhere. Label GPU nodes nvidia.com/gpu.present=true "
                "(or run Node Feature Discovery), and check node_selector." % what
            )
    return result
