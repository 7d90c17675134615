#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_facts
short_description: Read a host's NVIDIA GPUs through NVML
version_added: 0.1.0
description:
  - Reads the driver and CUDA driver versions and, for each GPU, its index, UUID, product name,
    memory, PCI ids, compute mode, MIG mode (current and pending), the MIG devices present
    (profile, placement, UUIDs) and the MIG profiles the device supports, with their counts,
    memory and placements as NVML reports them (no built-in table).
  - A host without a usable NVIDIA driver returns RV(gpu_present=false) and the RV(reason)
    (driver not installed, kernel module not loaded, nvidia-ml-py missing), not a failure.
  - Only reads; never changes a GPU setting.
author:
  - inferops.kubernetes maintainers (@inferops)
options: {}
extends_documentation_fragment:
  - inferops.kubernetes.attributes
  - inferops.kubernetes.attributes.INFO_MODULE
requirements:
  - nvidia-ml-py (Python module C(pynvml)) on the GPU host
  - the NVIDIA driver (C(libnvidia-ml.so.1)) for RV(gpu_present=true)
notes:
  - The same data is set as the fact C(inferops_gpu).
"""

EXAMPLES = r"""
- name: Read the GPUs of the host
  inferops.kubernetes.gpu_facts:
  register: gpu

- name: Stop on hosts without a working driver
  ansible.builtin.fail:
    msg: "No usable GPU: {{ gpu.reason }}"
  when: not gpu.gpu_present

- name: Show MIG profiles of GPU 0
  ansible.builtin.debug:
    msg: "{{ gpu.gpus[0].mig_profiles | map(attribute='name') | list }}"
"""

RETURN = r"""
gpu_present:
  description: Whether NVML answered and reported at least one GPU.
  returned: always
  type: bool
reason:
  description: Why RV(gpu_present) is false; null otherwise.
  returned: always
  type: str
  sample: the NVIDIA driver is installed but its kernel module is not loaded (no GPU, or a reboot is pending)
driver_version:
  description: NVIDIA driver version.
  returned: always
  type: str
  sample: "580.95.05"
cuda_driver_version:
  description: Highest CUDA version the driver supports.
  returned: always
  type: str
  sample: "13.0"
gpus:
  description: One entry per GPU, by NVML index.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: NVML index.
      type: int
    uuid:
      description: GPU UUID.
      type: str
    name:
      description: Product name as NVML reports it.
      type: str
      sample: NVIDIA H100 80GB HBM3
    memory_total_mib:
      description: Memory in MiB.
      type: int
    memory_used_mib:
      description: Memory in use, MiB.
      type: int
    pci_bus_id:
      description: PCI bus id.
      type: str
    pci_device_id:
      description: PCI device and vendor id as in nvidia-mig-parted's C(device-filter).
      type: str
      sample: "0x233010DE"
    compute_mode:
      description: Default, Exclusive_Thread, Prohibited or Exclusive_Process.
      type: str
    mig_capable:
      description: Whether the GPU supports MIG.
      type: bool
    mig_mode:
      description: C(current) and C(pending) MIG mode (null when not MIG capable). They differ until the GPU is reset.
      type: dict
    mig_devices:
      description: The GPU instances present, each with C(gpu_instance_id), C(profile), C(placement) and the MIG device C(uuids).
      type: list
      elements: dict
    mig_profiles:
      description:
        - The GPU instance profiles the device supports, as NVML reports them, each with C(name) (for example V(1g.10gb)),
          C(id), C(profile_index), C(slices), C(max_count), C(memory_mib), C(multiprocessors) and C(placements).
      type: list
      elements: dict
    processes:
      description: Number of compute processes running on the GPU.
      type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.runner import run_module
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.nvml import read_facts


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)

    def facts():
        found = read_facts()
        return dict(changed=False, ansible_facts={"inferops_gpu": found}, **found)

    run_module(module, facts)


if __name__ == "__main__":
    main()
