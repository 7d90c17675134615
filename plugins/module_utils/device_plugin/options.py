# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The device_plugin module's options: the one place their names, types, choices and defaults are written.

The module passes ARGUMENT_SPEC to AnsibleModule; manifests.DEFAULTS (and the pinned image and MIG
strategies the builder names in its messages) come from PLUGIN_OPTIONS. The module's DOCUMENTATION
and the device_plugin role's meta/argument_specs.yml are checked against this by
tests/unit/test_argument_specs.py.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu.resources import MIG_STRATEGIES
from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import (
    APPLY_ARG_SPEC,
    GPU_ADDON_PLACEMENT_ARG_SPEC,
    GPU_ADDON_WAIT_ARG_SPEC,
    STATE_ARG_SPEC,
)

# What the plugin is: the options manifests.validate() reads.
PLUGIN_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    namespace=dict(type="str", default="nvidia-device-plugin"),
    image=dict(type="str", default="nvcr.io/nvidia/k8s-device-plugin:v0.20.1"),
    mig_strategy=dict(type="str", choices=list(MIG_STRATEGIES), default="none"),
    time_slicing=dict(
        type="dict",
        options=dict(
            replicas=dict(type="int", required=True),
            rename_by_default=dict(type="bool", default=False),
            fail_requests_greater_than_one=dict(type="bool", default=False),
            resources=dict(type="list", elements="str"),
        ),
    ),
    runtime_class=dict(type="bool", default=True),
    priority_class_name=dict(type="str", default="system-node-critical"),
    **GPU_ADDON_PLACEMENT_ARG_SPEC,
)

# How the module runs. wait and wait_timeout are the GPU node add-ons' (k8s/options.py); the inference
# stack waits for a model rollout, with other defaults.
RUN_OPTIONS = dict(
    **GPU_ADDON_WAIT_ARG_SPEC,
    **STATE_ARG_SPEC,
    **APPLY_ARG_SPEC,
)

ARGUMENT_SPEC = dict(PLUGIN_OPTIONS, **RUN_OPTIONS)
