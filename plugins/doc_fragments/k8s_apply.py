# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options and attributes of the API modules that write objects by server-side apply.

Each block has its argument-spec twin in plugins/module_utils/k8s/options.py (DOCUMENTATION:
APPLY_ARG_SPEC, STATE: STATE_ARG_SPEC, GPU_ADDON: GPU_ADDON_PLACEMENT_ARG_SPEC and GPU_ADDON_WAIT_ARG_SPEC); a module that takes the block takes the dict too.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  force_conflicts:
    description:
      - Take ownership of fields that another field manager owns (for example a Helm release or C(kubectl apply)).
      - Without it, such a conflict fails the task with a message that names the fields and this option.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: A server-side dry run, so the API server's defaulting and admission decide what would change; nothing is written.
  diff_mode:
    support: full
    details: Before and after of each changed object, without the server's bookkeeping (C(resourceVersion), C(managedFields), C(generation)).
"""

    STATE = r"""
options:
  state:
    description:
      - V(present) applies the objects with server-side apply.
      - V(absent) removes what the same options built, in reverse order. An object only this collection writes is
        deleted; from an object another field manager also writes, only this collection's fields are withdrawn and
        the object stays (listed in RV(kept)); an object this collection never wrote is left alone.
    type: str
    choices: [present, absent]
    default: present
"""

    GPU_ADDON = r"""
options:
  tolerations:
    description:
      - Tolerations added to the default ones (V(nvidia.com/gpu) Exists NoSchedule, V(CriticalAddonsOnly) Exists),
        with the pod spec's field names C(key), C(operator), C(value), C(effect), C(tolerationSeconds).
      - Values are strings; an unquoted YAML V(true) is refused, not converted.
    type: list
    elements: dict
    default: []
  node_selector:
    description:
      - Node labels the add-on's nodes must also carry, on top of being GPU nodes; for example one node pool.
      - Values are strings; an unquoted YAML V(true) is refused, not converted.
    type: dict
    default: {}
  wait:
    description:
      - With O(state=present), wait until the DaemonSet's rollout is complete. Ignored in check mode.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the rollout.
    type: int
    default: 300
"""
