#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_inventory
short_description: List the GPU capacity, allocation and use of a cluster's nodes
version_added: 0.1.0
description:
  - Reads Nodes and the Pods bound to them and reports, for each node with GPU resources, the capacity,
    allocatable, in-use and free count of every NVIDIA resource it advertises (V(nvidia.com/gpu), each
    V(nvidia.com/mig-<profile>), and the time-sliced C(.shared) variants).
  - Adds what GPU feature discovery labels say about the node (product, memory, MIG strategy, driver
    and CUDA versions), whether it is Ready and schedulable, and its taints.
  - Ends with a fleet summary per resource and per GPU product, including the GPUs free for new pods.
  - In-use counts follow the scheduler's accounting of a pod's request (app containers, sidecars,
    init containers and pod overhead) for pods that are not Succeeded or Failed.
  - Only reads; makes no change and runs the same in check mode.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  label_selector:
    description:
      - Only nodes matching this label selector, for example V(nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3).
    type: str
  include_cpu_nodes:
    description:
      - Also list nodes without any GPU resource in RV(nodes). The summary always counts them in RV(summary.nodes).
    type: bool
    default: false
extends_documentation_fragment:
  - inferops.kubernetes.k8s_auth
  - inferops.kubernetes.attributes
  - inferops.kubernetes.attributes.INFO_MODULE
  - inferops.kubernetes.attributes.ACTION_GROUP
notes:
  - Needs C(list) on C(nodes) and C(pods) at cluster scope.
  - O(label_selector) uses the API server's label selector syntax; an invalid one fails with the server's message.
"""

EXAMPLES = r"""
- name: Read the GPU inventory of the cluster
  inferops.kubernetes.gpu_inventory:
    kubeconfig: "{{ inferops_kubeconfig }}"
  register: gpus

- name: Require two free H100 GPUs before deploying
  ansible.builtin.assert:
    that:
      - gpus.summary.products['NVIDIA-H100-80GB-HBM3'].free_gpus | default(0) >= 2
    fail_msg: "Only {{ gpus.summary.products['NVIDIA-H100-80GB-HBM3'].free_gpus | default(0) }} H100 GPUs are free"

- name: Only the nodes in MIG mixed mode
  inferops.kubernetes.gpu_inventory:
    label_selector: nvidia.com/mig.strategy=mixed
  register: mig_nodes
"""

RETURN = r"""
nodes:
  description: One entry per node with GPU resources (or every node with O(include_cpu_nodes)), sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Node name.
      type: str
    ready:
      description: Whether the node's Ready condition is True.
      type: bool
    schedulable:
      description: False when the node is cordoned.
      type: bool
    taints:
      description: The node's taints (key, value, effect).
      type: list
      elements: dict
    gpu_present:
      description: Whether the node advertises a GPU resource or carries V(nvidia.com/gpu.present=true).
      type: bool
    product:
      description: Label V(nvidia.com/gpu.product).
      type: str
      sample: NVIDIA-H100-80GB-HBM3
    memory_mib:
      description: Label V(nvidia.com/gpu.memory), memory per GPU in MiB.
      type: int
      sample: 81559
    gpu_count:
      description: Label V(nvidia.com/gpu.count), physical GPUs on the node.
      type: int
    family:
      description: Label V(nvidia.com/gpu.family).
      type: str
    mig_capable:
      description: Label V(nvidia.com/mig.capable), null when absent.
      type: bool
    mig_strategy:
      description: Label V(nvidia.com/mig.strategy) (V(none), V(single) or V(mixed)).
      type: str
    sharing_strategy:
      description: Label V(nvidia.com/gpu.sharing-strategy) (V(none), V(time-slicing), V(mps)).
      type: str
    replicas:
      description: Label V(nvidia.com/gpu.replicas), the time-slicing replicas per GPU.
      type: int
    driver_version:
      description: NVIDIA driver version from the C(nvidia.com/cuda.driver*) labels.
      type: str
    cuda_version:
      description: CUDA version from the C(nvidia.com/cuda.runtime*) labels.
      type: str
    labels:
      description: All C(nvidia.com/*) labels of the node.
      type: dict
    resources:
      description:
        - Per GPU resource name, its C(kind) (V(gpu), V(mig) or V(shared)), C(mig_profile), C(capacity),
          C(allocatable), C(in_use) and C(free) (allocatable minus in use).
      type: dict
      sample: {"nvidia.com/gpu": {"kind": "gpu", "mig_profile": null, "capacity": 8, "allocatable": 8, "in_use": 2, "free": 6}}
    pods:
      description: The pods on the node that request GPU resources, with their requests.
      type: list
      elements: dict
summary:
  description: Fleet totals.
  returned: always
  type: dict
  contains:
    nodes:
      description: Nodes read (all of them, with or without GPUs).
      type: int
    gpu_nodes:
      description: Nodes with at least one GPU resource.
      type: int
    schedulable_gpu_nodes:
      description: GPU nodes that are Ready and not cordoned.
      type: int
    resources:
      description:
        - Per resource name, C(capacity), C(allocatable), C(in_use), C(free) and C(unavailable).
        - C(free) counts only Ready, schedulable nodes; the allocatable of the other nodes is C(unavailable).
      type: dict
    products:
      description:
        - Per product label, C(nodes), C(memory_mib), C(resources) (as in RV(summary.resources)) and
          C(free_gpus), the free V(nvidia.com/gpu) on Ready, schedulable nodes.
      type: dict
      sample: {"NVIDIA-H100-80GB-HBM3": {"nodes": 2, "memory_mib": 81559, "free_gpus": 14, "resources": {}}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.inventory import build_inventory
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.runner import api_argument_spec, run_api_module

# Terminal pods hold no resources; asking the server to leave them out keeps the list small on big clusters.
ACTIVE_BOUND_PODS = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            label_selector=dict(type="str"),
            include_cpu_nodes=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )

    def inventory(client):
        nodes = client.list("v1", "Node", label_selector=module.params["label_selector"])
        pods = client.list("v1", "Pod", field_selector=ACTIVE_BOUND_PODS)
        result = build_inventory(nodes, pods, include_cpu_nodes=module.params["include_cpu_nodes"])
        return dict(changed=False, **result)

    run_api_module(module, inventory)


if __name__ == "__main__":
    main()
