# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inference_monitoring module's options: the one place their names, types, choices and defaults are written.

The module passes ARGUMENT_SPEC to AnsibleModule; spec.validate() reads MONITORING_OPTIONS. The module's
DOCUMENTATION and the monitoring role's meta/argument_specs.yml are checked against this by
tests/unit/test_argument_specs.py.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import APPLY_ARG_SPEC, STATE_ARG_SPEC
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes

MONITORING_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    name=dict(type="str", required=True),
    namespace=dict(type="str", default="default"),
    runtime=dict(type="str", required=True, choices=list(runtimes.RUNTIMES)),
    model_name=dict(type="str"),
    # No default: which labels the user's Prometheus selects by is the user's to say.
    prometheus_labels=dict(type="dict", default={}),
    scrape_interval=dict(type="str", default="30s"),
    scrape_timeout=dict(type="str", default="10s"),
    metrics_port=dict(type="str"),
    metrics_path=dict(type="str"),
    rules=dict(type="bool", default=True),
    gpu=dict(type="bool", default=True),
    latency_slo_ms=dict(type="float", default=500.0),
    error_ratio=dict(type="float", default=0.05),
    gpu_memory_full_ratio=dict(type="float", default=0.95),
    alert_for=dict(type="str", default="5m"),
    pending_for=dict(type="str", default="10m"),
    dcgm_label_prefix=dict(type="str", default=""),
    extra_rules=dict(type="list", elements="dict", default=[]),
    labels=dict(type="dict", default={}),
)

ARGUMENT_SPEC = dict(MONITORING_OPTIONS, **STATE_ARG_SPEC, **APPLY_ARG_SPEC)
