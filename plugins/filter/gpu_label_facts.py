# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: gpu_label_facts
short_description: Only the part of a gpu_facts result that gpu_node_labels reads
version_added: 0.1.0
description:
  - Cuts a P(inferops.kubernetes.gpu_facts#module) result down to what P(inferops.kubernetes.gpu_node_labels#module)
    derives its labels from (C(gpu_present), the driver and CUDA versions, and per GPU its name, memory, MIG
    capability, MIG devices and the MIG profiles they use). The labels are the same; the arguments are about a
    tenth of the size, which is what the module's argument handling costs in proportion to on a large fleet.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  _input:
    description: A gpu_facts result (C(ansible_facts.inferops_gpu) of the host).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: One node entry for gpu_node_labels
  ansible.builtin.set_fact:
    entry:
      name: "{{ inventory_hostname }}"
      gpu_facts: "{{ ansible_facts.inferops_gpu | inferops.kubernetes.gpu_label_facts }}"
"""

RETURN = r"""
_value:
  description: The gpu_facts keys the labels are derived from; the same shape as gpu_facts, fewer keys.
  type: dict
"""

from ansible_collections.inferops.kubernetes.plugins.module_utils.nodes.labels import label_facts


def gpu_label_facts(facts):
    return label_facts(facts)


class FilterModule:
    def filters(self):
        return {"gpu_label_facts": gpu_label_facts}
