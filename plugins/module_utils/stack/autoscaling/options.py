# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inference_autoscaling module's options: the one place their names, types, choices and defaults are written.

The module passes ARGUMENT_SPEC to AnsibleModule; spec.validate() reads AUTOSCALING_OPTIONS. The module's
DOCUMENTATION and the autoscaling role's meta/argument_specs.yml are checked against this by
tests/unit/test_argument_specs.py.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import APPLY_ARG_SPEC, STATE_ARG_SPEC
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes

# The signals a user can name; spec.py turns each into PromQL for the runtime.
SIGNALS = ("queue_time_ms", "requests_per_second", "gpu_utilization", "gpu_memory_used_mib")
METRIC_TYPES = ("AverageValue", "Value")
FALLBACK_BEHAVIORS = ("static", "currentReplicas", "currentReplicasIfHigher", "currentReplicasIfLower")

AUTOSCALING_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    name=dict(type="str", required=True),
    namespace=dict(type="str", default="default"),
    runtime=dict(type="str", required=True, choices=list(runtimes.RUNTIMES)),
    model_name=dict(type="str"),
    target=dict(
        type="dict",
        options=dict(
            api_version=dict(type="str", default="apps/v1"),
            kind=dict(type="str", default="Deployment"),
            name=dict(type="str", required=True),
        ),
    ),
    min_replicas=dict(type="int", default=1),
    max_replicas=dict(type="int"),
    allow_scale_to_zero=dict(type="bool", default=False),
    startup_timeout=dict(type="int", default=600),
    # Raw autoscaling/v2 shapes: users copy them from the Kubernetes documentation; the spec checks them.
    hpa=dict(
        type="dict",
        options=dict(
            metrics=dict(type="list", elements="dict", required=True),
            behavior=dict(type="dict"),
        ),
    ),
    keda=dict(
        type="dict",
        options=dict(
            polling_interval=dict(type="int", default=30),
            cooldown_period=dict(type="int"),
            prometheus_address=dict(type="str"),
            signals=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    name=dict(type="str", required=True, choices=list(SIGNALS)),
                    target=dict(type="float", required=True),
                    activation_target=dict(type="float"),
                ),
            ),
            queries=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    name=dict(type="str", required=True),
                    query=dict(type="str", required=True),
                    threshold=dict(type="float", required=True),
                    activation_threshold=dict(type="float"),
                    metric_type=dict(type="str", choices=list(METRIC_TYPES), default="AverageValue"),
                ),
            ),
            redis=dict(
                type="dict",
                options=dict(
                    address=dict(type="str", required=True),
                    list_name=dict(type="str", required=True),
                    list_length=dict(type="int", default=5),
                    activation_list_length=dict(type="int"),
                    database_index=dict(type="int"),
                    enable_tls=dict(type="bool", default=False),
                    # Names of a Secret and its key, not secrets: no_log would hide them from the result for nothing.
                    password_secret=dict(
                        type="dict",
                        no_log=False,
                        options=dict(name=dict(type="str", required=True), key=dict(type="str", default="password", no_log=False)),
                    ),
                    # Only here to be refused with the way to do it: a password goes through a Secret.
                    password=dict(type="str", no_log=True),
                ),
            ),
            scaling_modifiers=dict(
                type="dict",
                options=dict(
                    formula=dict(type="str", required=True),
                    target=dict(type="float", required=True),
                    activation_target=dict(type="float"),
                    metric_type=dict(type="str", choices=list(METRIC_TYPES), default="AverageValue"),
                ),
            ),
            fallback=dict(
                type="dict",
                options=dict(
                    failure_threshold=dict(type="int", default=3),
                    replicas=dict(type="int"),
                    behavior=dict(type="str", choices=list(FALLBACK_BEHAVIORS), default="currentReplicasIfHigher"),
                ),
            ),
            behavior=dict(type="dict"),
            dcgm_label_prefix=dict(type="str", default=""),
        ),
    ),
    labels=dict(type="dict", default={}),
)

ARGUMENT_SPEC = dict(AUTOSCALING_OPTIONS, **STATE_ARG_SPEC, **APPLY_ARG_SPEC)
