# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mig_resources
short_description: The GPU resources the NVIDIA device plugin advertises for a host's GPUs
version_added: 0.1.0
description:
  - From the C(gpus) of P(inferops.kubernetes.gpu_facts#module), the extended resources a node gets under a MIG
    strategy. V(none) counts every GPU as C(nvidia.com/gpu); V(single) counts MIG devices as C(nvidia.com/gpu) and
    needs one profile on every GPU; V(mixed) counts C(nvidia.com/mig-<profile>) and the GPUs without MIG.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  _input:
    description: The C(gpus) list of gpu_facts.
    type: list
    elements: dict
    required: true
  strategy:
    description: The device plugin's MIG strategy.
    type: str
    choices: [none, single, mixed]
    default: mixed
"""

EXAMPLES = r"""
- name: What the node will advertise
  ansible.builtin.set_fact:
    expected: "{{ facts.gpus | inferops.kubernetes.mig_resources('mixed') }}"
"""

RETURN = r"""
_value:
  description: "Resource name to count, such as C(nvidia.com/mig-1g.10gb: 7) and C(nvidia.com/gpu: 1)."
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig import LayoutError, advertised_resources


def mig_resources(gpus, strategy="mixed"):
    try:
        return advertised_resources(gpus, strategy)
    except LayoutError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {"mig_resources": mig_resources}
