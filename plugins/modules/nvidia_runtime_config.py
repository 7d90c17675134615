#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_runtime_config
short_description: Register the NVIDIA container runtime with containerd or CRI-O
version_added: 0.1.0
description:
  - Adds the NVIDIA container runtime to containerd's C(config.toml) (config versions 2 and 3), or writes
    a CRI-O drop-in, and optionally makes it the default runtime.
  - The file is edited as a TOML document, never by line patches; comments, order and every other
    setting are kept. For containerd the runtime takes runc's C(SystemdCgroup) setting, so both use
    the same cgroup driver.
  - A file that is not valid TOML, or a containerd config of version 1, fails with the reason and is
    left as it is.
  - Restarting the container runtime is left to the caller (a handler).
author:
  - inferops.kubernetes maintainers (@inferops)
options:
  runtime:
    description: The container runtime to configure.
    type: str
    choices: [containerd, crio]
    required: true
  path:
    description:
      - The file to edit. Defaults to C(/etc/containerd/config.toml) for containerd and to the drop-in
        C(/etc/crio/crio.conf.d/99-nvidia.toml) for CRI-O.
      - A containerd config that does not exist yet is created with config version 2.
    type: path
  runtime_name:
    description: Name of the runtime, as RuntimeClass handlers refer to it.
    type: str
    default: nvidia
  binary_path:
    description: Path of the NVIDIA container runtime binary.
    type: path
    default: /usr/bin/nvidia-container-runtime
  set_as_default:
    description:
      - Make it the default runtime, so pods without O(runtime_name) as RuntimeClass use it too.
      - When false and it is the default, the default goes back to runc (containerd) or to CRI-O's own default.
    type: bool
    default: false
  backup:
    description: Keep a timestamped copy of the file before changing it.
    type: bool
    default: false
extends_documentation_fragment:
  - inferops.kubernetes.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The file before and after.
  idempotent:
    support: full
requirements:
  - tomlkit (Python package; C(python3-tomlkit) on Debian and Ubuntu) on the host
"""

EXAMPLES = r"""
- name: Register the NVIDIA runtime with containerd
  inferops.kubernetes.nvidia_runtime_config:
    runtime: containerd
  notify: Restart containerd

- name: Make it CRI-O's default runtime
  inferops.kubernetes.nvidia_runtime_config:
    runtime: crio
    set_as_default: true
"""

RETURN = r"""
path:
  description: The file edited.
  returned: always
  type: str
config_version:
  description: containerd's config version (2 or 3); null for CRI-O.
  returned: always
  type: int
backup_file:
  description: The copy made with O(backup=true) when the file changed.
  returned: when changed and backup
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.inferops.kubernetes.plugins.module_utils.common.runner import run_module
from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.runtime_config import (
    CONFIGURE,
    DEFAULT_PATHS,
    HAS_TOMLKIT,
    RuntimeConfigError,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            runtime=dict(type="str", choices=["containerd", "crio"], required=True),
            path=dict(type="path"),
            runtime_name=dict(type="str", default="nvidia"),
            binary_path=dict(type="path", default="/usr/bin/nvidia-container-runtime"),
            set_as_default=dict(type="bool", default=False),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    if not HAS_TOMLKIT:
        module.fail_json(msg=missing_required_lib("tomlkit"))
    params = module.params
    path = params["path"] or DEFAULT_PATHS[params["runtime"]]

    def configure():
        before = ""
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                before = handle.read()
        try:
            after, version = CONFIGURE[params["runtime"]](before, path, params["runtime_name"], params["binary_path"],
                                                          params["set_as_default"])
        except RuntimeConfigError as exc:
            exc.result.setdefault("path", path)
            raise
        result = dict(changed=after != before, path=path, config_version=version)
        if module._diff:  # pylint: disable=protected-access
            result["diff"] = {"before": before, "after": after, "before_header": path, "after_header": path}
        if result["changed"] and not module.check_mode:
            if params["backup"] and before:
                result["backup_file"] = module.backup_local(path)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = "%s.inferops.tmp" % path
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(after)
            module.atomic_move(tmp, path)
        return result

    run_module(module, configure)


if __name__ == "__main__":
    main()
