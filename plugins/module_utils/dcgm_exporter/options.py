# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dcgm_exporter module's options: the one place their names, types, choices and defaults are written.

The module passes ARGUMENT_SPEC to AnsibleModule; manifests.DEFAULTS comes from EXPORTER_OPTIONS. The
module's DOCUMENTATION is checked against this by tests/unit/test_argument_specs.py.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import (
    APPLY_ARG_SPEC,
    GPU_ADDON_PLACEMENT_ARG_SPEC,
    GPU_ADDON_WAIT_ARG_SPEC,
    STATE_ARG_SPEC,
)

COUNTER_TYPES = ("gauge", "counter", "label")

# What the exporter is: the options manifests.validate() reads.
EXPORTER_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    namespace=dict(type="str", default="nvidia-dcgm-exporter"),
    image=dict(type="str", default="nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless"),
    # None: dcgm-exporter's own default counters of the pinned image (counters.DEFAULT_COUNTERS)
    counters=dict(
        type="list", elements="dict",
        options=dict(
            field=dict(type="str", required=True),
            type=dict(type="str", required=True, choices=list(COUNTER_TYPES)),
            help=dict(type="str", required=True),
        ),
    ),
    collect_interval_ms=dict(type="int", default=30000),
    pod_resources_dir=dict(type="path", default="/var/lib/kubelet/pod-resources"),
    runtime_class_name=dict(type="str", default="nvidia"),
    service_monitor=dict(type="bool", default=True),
    # Raw dict: values must be strings, as for node_selector; the builder refuses an unquoted true.
    service_monitor_labels=dict(type="dict", default={}),
    scrape_interval=dict(type="str", default="30s"),
    **GPU_ADDON_PLACEMENT_ARG_SPEC,
)

# How the module runs.
RUN_OPTIONS = dict(
    **GPU_ADDON_WAIT_ARG_SPEC,
    **STATE_ARG_SPEC,
    **APPLY_ARG_SPEC,
)

ARGUMENT_SPEC = dict(EXPORTER_OPTIONS, **RUN_OPTIONS)
