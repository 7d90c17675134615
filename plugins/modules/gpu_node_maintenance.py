#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_node_maintenance
short_description: Drain a GPU node's GPU pods for a GPU change, and return it to service once it advertises the new GPUs
version_added: 0.1.0
description:
  - O(state=drained) cordons the node and evicts the pods that use its GPUs through the Eviction API, so
    PodDisruptionBudgets are honoured, then waits until they are gone. DaemonSet pods and mirror pods stay.
    A node that is already cordoned keeps its cordon as it is.
  - O(state=ready) deletes the device plugin pod on the node (the plugin reads the GPUs only when it starts),
    waits until the node's allocatable GPU resources are exactly O(expected_resources), then uncordons the node,
    only when this module cordoned it (a node annotation records that).
  - Used by the P(inferops.kubernetes.mig#role) role around a MIG layout change.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  name:
    description: The Kubernetes node name.
    type: str
    required: true
  state:
    description: Take the node out of service (V(drained)) or bring it back (V(ready)).
    type: str
    choices: [drained, ready]
    required: true
  scope:
    description: With O(state=drained), evict only pods that request GPU resources (V(gpu)) or every pod (V(all)).
    type: str
    choices: [gpu, all]
    default: gpu
  reason:
    description: Why the node is cordoned; recorded in the node annotation C(inferops.kubernetes/cordoned-for).
    type: str
    default: gpu change
  expected_resources:
    description:
      - "With O(state=ready), the GPU resources the node must advertise, such as C(nvidia.com/mig-1g.10gb: 7).
        Resources not listed must be absent. Required with O(state=ready)."
    type: dict
  restart_namespace:
    description: Namespace of the device plugin pods.
    type: str
    default: nvidia-device-plugin
  restart_selector:
    description:
      - Label selector of the device plugin pods; the one on this node is deleted with O(state=ready) so its
        DaemonSet starts a fresh one. Empty restarts nothing.
    type: str
    default: app.kubernetes.io/name=nvidia-device-plugin
  only_if_cordoned:
    description:
      - With O(state=ready), act only when this collection's cordon is on the node (a run that stopped half-way),
        and otherwise change nothing.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for the pods to leave, or for the resources to appear.
    type: int
    default: 300
extends_documentation_fragment:
  - inferops.kubernetes.k8s_auth
  - inferops.kubernetes.attributes
  - inferops.kubernetes.attributes.ACTION_GROUP
attributes:
  check_mode:
    support: full
    details: Writes are sent as server-side dry runs; nothing is evicted and nothing is waited for.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details: >-
      V(drained) changes nothing on a drained node; V(ready) always restarts the device plugin pod, unless
      O(only_if_cordoned) finds no cordon of this collection.
"""

EXAMPLES = r"""
- name: Move the GPU pods off gpu-node-1
  inferops.kubernetes.gpu_node_maintenance:
    name: gpu-node-1
    state: drained
    reason: MIG layout all-1g.10gb

- name: Back in service once it advertises seven 1g.10gb MIG devices
  inferops.kubernetes.gpu_node_maintenance:
    name: gpu-node-1
    state: ready
    expected_resources:
      nvidia.com/mig-1g.10gb: 7
      nvidia.com/gpu: 7
"""

RETURN = r"""
cordoned:
  description: Whether this run cordoned the node (V(drained)).
  returned: state is drained
  type: bool
evicted:
  description: Pods evicted (or, in check mode, to be evicted), as namespace/name.
  returned: state is drained
  type: list
  elements: str
restarted:
  description: Device plugin pods deleted so they restart (V(ready)).
  returned: state is ready
  type: list
  elements: str
uncordoned:
  description: Whether the node was uncordoned (V(ready)).
  returned: state is ready
  type: bool
resources:
  description: The node's allocatable GPU resources at the end (V(ready)).
  returned: state is ready
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.runner import api_argument_spec, run_api_module
from ansible_collections.inferops.kubernetes.plugins.module_utils.nodes.maintenance import drain, ready


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["drained", "ready"], required=True),
            scope=dict(type="str", choices=["gpu", "all"], default="gpu"),
            reason=dict(type="str", default="gpu change"),
            expected_resources=dict(type="dict"),
            restart_namespace=dict(type="str", default="nvidia-device-plugin"),
            restart_selector=dict(type="str", default="app.kubernetes.io/name=nvidia-device-plugin"),
            only_if_cordoned=dict(type="bool", default=False),
            timeout=dict(type="int", default=300),
        ),
        required_if=[("state", "ready", ["expected_resources"])],
        supports_check_mode=True,
    )
    params = module.params
    if params["expected_resources"] is not None:
        for key, value in params["expected_resources"].items():
            if isinstance(value, bool) or not str(value).isdigit():
                module.fail_json(msg="expected_resources.%s: %r is not a whole number of devices" % (key, value))

    def run(client):
        if params["state"] == "drained":
            return drain(client, params["name"], params["reason"], params["scope"], params["timeout"], module.check_mode)
        return ready(client, params["name"], params["expected_resources"], params["restart_namespace"],
                     params["restart_selector"] or None, params["timeout"], module.check_mode, params["only_if_cordoned"])

    run_api_module(module, run)


if __name__ == "__main__":
    main()
