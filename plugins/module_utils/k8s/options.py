# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument-spec pieces that several API modules share, each the twin of one doc fragment.

A module's DOCUMENTATION takes the fragment and its argument_spec takes the dict beside it here,
so the two are written once. Options whose default differs between modules (``wait`` and
``wait_timeout``: a GPU node add-on's rollout and a model rollout have different sensible bounds) stay
in each module, or in a fragment of the modules that agree (the GPU node add-ons); a fragment shared by
all would have to lie about one of them.
"""

from __future__ import annotations

import copy
from typing import Any, Dict

# doc fragment inferops.kubernetes.k8s_apply.STATE
STATE_ARG_SPEC: Dict[str, Dict[str, Any]] = dict(
    state=dict(type="str", choices=["present", "absent"], default="present"),
)

# doc fragment inferops.kubernetes.k8s_apply (DOCUMENTATION)
APPLY_ARG_SPEC: Dict[str, Dict[str, Any]] = dict(
    force_conflicts=dict(type="bool", default=False),
)


# doc fragment inferops.kubernetes.k8s_apply.GPU_ADDON: the GPU node add-ons' (device plugin, DCGM exporter)
# placement on top of their GPU-node affinity and tolerations, and the wait for their DaemonSet.
# Raw dicts: Ansible's str conversion would turn an unquoted true into "True"; the builders refuse it instead.
GPU_ADDON_PLACEMENT_ARG_SPEC: Dict[str, Dict[str, Any]] = dict(
    tolerations=dict(type="list", elements="dict", default=[]),
    node_selector=dict(type="dict", default={}),
)
GPU_ADDON_WAIT_ARG_SPEC: Dict[str, Dict[str, Any]] = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=300),
)


def option_defaults(argument_spec: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """Each top-level option's default (None where it has none), copied so that nobody shares a mutable one.

    This is what a plain dict of options needs to look like a module's params, for the validators that
    also run outside a module (unit tests, render-only tools).
    """
    return {name: copy.deepcopy(option.get("default")) for name, option in argument_spec.items()}
