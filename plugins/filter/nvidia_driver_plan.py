# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: nvidia_driver_plan
short_description: The repositories and packages of an NVIDIA driver branch for a host's OS
version_added: 0.1.0
description:
  - Ubuntu 22.04 and 24.04 take the server driver branches of Ubuntu's archive, RHEL 9 and its rebuilds
    NVIDIA's CUDA repository and the C(nvidia-driver) module stream, Debian 12 non-free's C(nvidia-driver).
  - An unsupported OS or a malformed branch fails with the reason.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  _input:
    description: The host's facts (C(ansible_facts)), with C(distribution), C(distribution_version) and C(kernel).
    type: dict
    required: true
  branch:
    description: Driver branch such as V(580); null takes the OS's default (580; on Debian what Debian ships).
    type: str
  open_modules:
    description: The open GPU kernel modules instead of the proprietary ones (Ubuntu, RHEL).
    type: bool
    default: false
  kernel_headers:
    description: Include the headers of the running kernel, which DKMS needs to build the module.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Plan the driver for this host
  ansible.builtin.set_fact:
    driver_plan: "{{ ansible_facts | inferops.kubernetes.nvidia_driver_plan(branch='580') }}"
"""

RETURN = r"""
_value:
  description: C(family) (apt or dnf), C(branch), C(repositories), C(module_stream), C(packages) and C(check_package).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.driver_plan import DriverPlanError, driver_plan


def nvidia_driver_plan(facts, branch=None, open_modules=False, kernel_headers=True):
    try:
        return driver_plan(facts.get("distribution"), facts.get("distribution_version"), facts.get("kernel"),
                           branch or None, open_modules, kernel_headers)
    except DriverPlanError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {"nvidia_driver_plan": nvidia_driver_plan}
