# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PodDisruptionBudget: node drains take at most max_unavailable serving pods at a time.

maxUnavailable rather than minAvailable: with one replica, minAvailable 1 would block every drain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.builders import common

if TYPE_CHECKING:
    from ansible_collections.inferops.kubernetes.plugins.module_utils.stack.shapes import StackSpec


def pod_disruption_budget(spec: StackSpec):
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": common.metadata(spec, spec["name"]),
        "spec": {
            "maxUnavailable": spec["max_unavailable"],
            "selector": {"matchLabels": common.selector_labels(spec)},
            # A pod that never became Ready (a bad rollout) may be evicted anyway.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }
