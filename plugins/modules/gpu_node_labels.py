#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_node_labels
short_description: Set the GPU feature discovery labels and GPU taints on Kubernetes nodes
version_added: 0.1.0
description:
  - For each node, derives from its P(inferops.kubernetes.gpu_facts#module) result the labels NVIDIA
    GPU feature discovery sets (C(nvidia.com/gpu.present), C(gpu.product), C(gpu.memory), C(gpu.count),
    C(mig.capable), C(mig.strategy), C(mig-<profile>.count/.memory/.product), driver and CUDA versions),
    adds labels given directly, and sets taints such as C(nvidia.com/gpu=present:NoSchedule).
  - Label values are always strings; a boolean (YAML's unquoted C(true)) is refused with the fix.
  - The labels and taints the module set are remembered in the node annotations
    C(inferops.kubernetes/owned-labels) and C(inferops.kubernetes/owned-taints). Those no longer desired
    are removed; labels and taints set by anyone else are never touched.
  - Every entry is validated, and the nodes read with one list request, before anything is written.
    Then each node that differs gets one write (up to 8 at a time; a merge patch guarded by its resourceVersion, re-read
    and retried on conflict); a node already right gets none.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  nodes:
    description: The nodes to label.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Node name.
        type: str
        required: true
      gpu_facts:
        description:
          - The result of P(inferops.kubernetes.gpu_facts#module) on that node's host, whole or cut down with the
            P(inferops.kubernetes.gpu_label_facts#filter) filter to what the labels are derived from (the same labels;
            about a tenth of the arguments, which is what argument handling costs in proportion to on a large fleet).
          - The result's C(invocation) shows it as C(gpu_present), C(gpu_count) and C(products) only.
        type: dict
      mig_strategy:
        description: The device plugin's MIG strategy, which decides the MIG labels.
        type: str
        choices: [none, single, mixed]
        default: none
      labels:
        description: More labels, or overrides of derived ones. Values must be strings (or whole numbers).
        type: dict
      taints:
        description: Taints, each with C(key), C(effect) and optionally C(value).
        type: list
        elements: dict
extends_documentation_fragment:
  - inferops.kubernetes.k8s_auth
  - inferops.kubernetes.attributes
  - inferops.kubernetes.attributes.ACTION_GROUP
attributes:
  check_mode:
    support: full
    details: Each write that would happen is sent as a server-side dry run.
  diff_mode:
    support: full
    details: Per changed node, the labels and taints before and after.
  idempotent:
    support: full
notes:
  - Needs C(list) and C(patch) on C(nodes).
"""

EXAMPLES = r"""
# On the GPU hosts (inventory group gpu_nodes, host names equal to node names):
- name: Read the GPUs of each GPU host
  inferops.kubernetes.gpu_facts:

# Then on the controller:
- name: Collect one entry per GPU host from the facts it reported
  ansible.builtin.set_fact:
    gpu_label_nodes: >-
      {{ gpu_label_nodes | default([]) + [{
           'name': item,
           'gpu_facts': hostvars[item].ansible_facts.inferops_gpu | inferops.kubernetes.gpu_label_facts,
           'mig_strategy': 'mixed',
           'taints': [{'key': 'nvidia.com/gpu', 'value': 'present', 'effect': 'NoSchedule'}]}] }}
  loop: "{{ groups['gpu_nodes'] }}"

- name: Label and taint the GPU nodes
  inferops.kubernetes.gpu_node_labels:
    nodes: "{{ gpu_label_nodes }}"

- name: Label one node by hand (quoted values stay strings)
  inferops.kubernetes.gpu_node_labels:
    nodes:
      - name: gpu-t4-01
        labels:
          nvidia.com/gpu.present: "true"
          team.example.com/pool: inference
"""

RETURN = r"""
invocation:
  description: The module arguments, each node's C(gpu_facts) shown as C(gpu_present), C(gpu_count) and C(products).
  returned: always
  type: dict
nodes:
  description:
    - Per node, C(name), C(changed), and when changed C(labels_set), C(labels_removed), C(labels_before),
      C(labels_after), C(taints_before) and C(taints_after).
  returned: always
  type: list
  elements: dict
api_writes:
  description: Number of writes sent (0 in check mode, where they are dry runs).
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.runner import api_argument_spec, run_api_module
from ansible_collections.inferops.kubernetes.plugins.module_utils.nodes.labels import apply_node_labels, invocation


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            nodes=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                gpu_facts=dict(type="dict"),
                mig_strategy=dict(type="str", choices=["none", "single", "mixed"], default="none"),
                labels=dict(type="dict"),
                taints=dict(type="list", elements="dict"),
            )),
        ),
        supports_check_mode=True,
    )

    def label(client):
        result = apply_node_labels(client, module.params["nodes"], module.check_mode)
        if module._diff:  # pylint: disable=protected-access
            result["diff"] = [
                {"before_header": "Node/%s" % n["name"], "after_header": "Node/%s" % n["name"],
                 "before": {"labels": n["labels_before"], "taints": n["taints_before"]},
                 "after": {"labels": n["labels_after"], "taints": n["taints_after"]}}
                for n in result["nodes"] if n["changed"]
            ]
        return result

    # The result echoes the arguments with each gpu_facts cut to a summary, not megabytes of facts.
    run_api_module(module, label, invocation=invocation(module.params))


if __name__ == "__main__":
    main()
