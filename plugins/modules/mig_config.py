#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mig_config
short_description: Apply a declarative MIG layout to a host's NVIDIA GPUs
version_added: 0.1.0
description:
  - "Applies one named layout of an nvidia-mig-parted style document (C(version: v1), C(mig-configs),
    C(devices), C(device-filter), C(mig-enabled), C(mig-devices)), from a file or given inline."
  - The layout is checked against each selected GPU's real MIG profiles, counts and placements, read
    from NVML, before anything is touched. An unknown profile, a count over the device's limit, a set
    of instances that cannot be placed together, an index out of range or a layout whose filters select
    no GPU of the host fails with the reason and changes nothing.
  - Instances that already match are kept; only what differs is destroyed and created, so a second
    run changes nothing.
  - MIG mode is switched through NVML. When the switch needs a GPU reset or reboot, the GPU is
    listed in RV(reset_required) and its instances are created on the next run.
  - Refuses to change a GPU with running compute processes unless O(allow_busy=true).
  - Only MIG mode survives a reboot; GPU instances must be created again after each boot, by running this module again.
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  layout:
    description: Name of the layout under C(mig-configs).
    type: str
    required: true
  config_file:
    description: Path on the GPU host of the layout document. Duplicate names or profiles in it are an error.
    type: path
  config:
    description: The layout document itself, as a dictionary.
    type: dict
  allow_busy:
    description: Change GPUs even when compute processes run on them (they will fail).
    type: bool
    default: false
extends_documentation_fragment:
  - inferops.kubernetes.attributes
attributes:
  check_mode:
    support: full
    details: The plan is computed from the real device and nothing is changed.
  diff_mode:
    support: full
    details: Per changed GPU, MIG mode and the instances (profile@placement) before and after.
  idempotent:
    support: full
requirements:
  - nvidia-ml-py (Python module C(pynvml)) and the NVIDIA driver on the GPU host
  - root
"""

EXAMPLES = r"""
- name: Seven 1g.10gb instances on every A100 80GB of the host
  inferops.kubernetes.mig_config:
    layout: all-1g.10gb
    config:
      version: v1
      mig-configs:
        all-1g.10gb:
          - devices: all
            device-filter: ["0x20B210DE"]
            mig-enabled: true
            mig-devices:
              "1g.10gb": 7

- name: Plan a layout from the host's mig-parted file, changing nothing
  inferops.kubernetes.mig_config:
    layout: balanced
    config_file: /etc/nvidia-mig-manager/config.yaml
  check_mode: true
  diff: true
  register: mig_plan
"""

RETURN = r"""
plan:
  description:
    - One entry per selected GPU with C(index), C(changed), C(mig_mode) (C(current), C(desired)), and the
      instances to C(destroy), to C(create) (profile and placement) and to C(keep).
  returned: always
  type: list
  elements: dict
reset_required:
  description: GPUs whose MIG mode change waits for a GPU reset or reboot; run again afterwards.
  returned: always
  type: list
  elements: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.runner import run_module
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig import LayoutError, load_layout_file, select_layout
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.mig_apply import run
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.nvml import import_pynvml


def main():
    module = AnsibleModule(
        argument_spec=dict(
            layout=dict(type="str", required=True),
            config_file=dict(type="path"),
            config=dict(type="dict"),
            allow_busy=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("config_file", "config")],
        required_one_of=[("config_file", "config")],
        supports_check_mode=True,
    )
    params = module.params

    def apply_layout():
        if params["config_file"]:
            try:
                with open(params["config_file"], encoding="utf-8") as handle:
                    document = load_layout_file(handle.read())
            except OSError as exc:
                raise LayoutError("config_file: %s cannot be read: %s" % (params["config_file"], exc.strerror))
        else:
            document = params["config"]
        entries = select_layout(document, params["layout"])
        result = run(import_pynvml(), entries, module.check_mode, params["allow_busy"])
        if result["reset_required"]:
            module.warn("MIG mode is pending on GPU %s: reset the GPU (no processes may use it) or reboot, then run again "
                        "to create the instances." % ", ".join(map(str, result["reset_required"])))
        diff = result.pop("diff")
        if module._diff:  # pylint: disable=protected-access
            result["diff"] = diff
        return result

    run_module(module, apply_layout)


if __name__ == "__main__":
    main()
