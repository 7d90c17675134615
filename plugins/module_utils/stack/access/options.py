# -*- coding: utf-8 -*-
# Copyright: inferops.kubernetes contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inference_access module's options: the one place their names, types, choices and defaults are written.

spec.DEFAULTS and the nested defaults spec.py fills in come from here; the module's DOCUMENTATION and the
access role's meta/argument_specs.yml are checked against it by tests/unit/test_argument_specs.py.
"""

from __future__ import annotations

from typing import Any, Dict

from ansible_collections.inferops.kubernetes.plugins.module_utils.k8s.options import APPLY_ARG_SPEC, STATE_ARG_SPEC
from ansible_collections.inferops.kubernetes.plugins.module_utils.stack import runtimes

# Named sets of rules for what a workload commonly needs; spec.PRESETS holds their rules.
PRESET_CHOICES = ["read_pods_and_services"]

RULE_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    api_groups=dict(type="list", elements="str"),
    resources=dict(type="list", elements="str"),
    verbs=dict(type="list", elements="str"),
    resource_names=dict(type="list", elements="str"),
)

STORAGE_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    cidr=dict(type="str"),
    exclude=dict(type="list", elements="str", default=[]),
    ports=dict(type="list", elements="int", default=[443]),
    protocol=dict(type="str", choices=["TCP", "UDP", "SCTP"], default="TCP"),
)

ACCESS_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    name=dict(type="str", required=True),
    namespace=dict(type="str", default="default"),
    runtime=dict(type="str", required=True, choices=list(runtimes.RUNTIMES)),
    ports=dict(type="dict"),
    service_account=dict(type="str"),
    service_account_token=dict(type="bool", default=False),
    rbac=dict(
        type="dict",
        options=dict(
            presets=dict(type="list", elements="str", choices=PRESET_CHOICES, default=[]),
            rules=dict(type="list", elements="dict", options=RULE_OPTIONS, default=[]),
            allow_wildcards=dict(type="bool", default=False),
        ),
    ),
    network_policy=dict(
        type="dict",
        options=dict(
            enabled=dict(type="bool", default=True),
            ingress_namespaces=dict(type="list", elements="str", default=["ingress-nginx"]),
            prometheus_namespace=dict(type="str", default="monitoring"),
            prometheus_pod_labels=dict(type="dict", default={"app.kubernetes.io/name": "prometheus"}),
            dns_namespace=dict(type="str", default="kube-system"),
            dns_pod_labels=dict(type="dict", default={"k8s-app": "kube-dns"}),
            egress=dict(type="list", elements="dict", options=STORAGE_OPTIONS, default=[]),
        ),
    ),
)

RUN_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    mode=dict(type="str", choices=["apply", "render"], default="apply"),
    render_dir=dict(type="path"),
    **STATE_ARG_SPEC,
    **APPLY_ARG_SPEC,
)

ARGUMENT_SPEC = dict(ACCESS_OPTIONS, **RUN_OPTIONS)
REQUIRED_IF = [("mode", "render", ["render_dir"])]
